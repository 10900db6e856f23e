"""The real text of the char-LM benchmark: Python's standard library source, concatenated.

    python benchmarks/make_stdlib_text.py [OUT]       # -> benchmarks/data/stdlib.txt

Every top-level ``*.py`` file of the running interpreter's standard library (sysconfig's
"stdlib" path; 168 files, 4.7 MB for CPython 3.11.7), in sorted name order, each followed by
one newline. The same interpreter always gives the same bytes.
"""
import glob
import os
import sys
import sysconfig


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else os.path.join(os.path.dirname(__file__), "data", "stdlib.txt")
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    text = "".join(open(f, encoding="utf-8").read() + "\n" for f in files)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    print(f"wrote {len(text)} characters ({len(set(text))} distinct) from {len(files)} files "
          f"to {out}")


if __name__ == "__main__":
    main()
