"""The lesson's screenshots in docs/img, in both languages, from a real `rnnlab demo` run.

    python docs/make_screenshots.py                 # runs the demo into a temporary folder
    python docs/make_screenshots.py --demo rnnlab-demo

Writes docs/img/lesson-en.png and docs/img/lesson-zh-TW.png (the LSTM cell on day 5, the
forget gate's sentence shown) and docs/img/lesson-dinner-en.png (the dinner rotation). Drives
Debian's Chromium (/usr/bin/chromium, or $RNNLAB_CHROMIUM) through Playwright, as the tests
do; it never downloads a browser. The Chinese text needs a CJK font on the machine (Debian:
apt install fonts-wqy-microhei or fonts-noto-cjk), or the zh-TW screenshot shows boxes.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

IMG = Path(__file__).resolve().parent / "img"
CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")


def lesson_files(demo):
    """The lesson in each language, rebuilt from the demo's lesson.json and written beside
    its explain pages (the English one is the demo's own lesson.html, byte for byte)."""
    import rnnlab
    files = {lang: Path(demo) / f"lesson.{lang}.html" for lang in ("en", "zh-TW")}
    for lang, path in files.items():
        rnnlab.lesson(str(demo), lang=lang).save(path)
    return files


def shoot(files):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for lang, path in files.items():
            page = browser.new_page(viewport={"width": 1120, "height": 900},
                                    device_scale_factor=1)
            page.goto(path.as_uri())
            page.wait_for_selector("#lstm-diagram svg")
            page.evaluate("window.rnnlabLesson.setLstmStep(4)")
            page.locator("#s-lstm").scroll_into_view_if_needed()
            page.hover("#lstm-diagram [data-gate='f']")
            page.locator("#s-lstm").screenshot(path=str(IMG / f"lesson-{lang}.png"))
            if lang == "en":
                page.mouse.move(0, 0)
                page.evaluate("window.rnnlabLesson.setRnnDay(3)")
                page.locator("#s-dinner").screenshot(path=str(IMG / "lesson-dinner-en.png"))
            page.close()
        browser.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", help="a folder written by rnnlab demo (default: run it now)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = a.demo or os.path.join(tmp, "demo")
        if a.demo is None:
            subprocess.run([sys.executable, "-m", "rnnlab", "demo", "--out", demo], check=True)
        shoot(lesson_files(demo))
    for p in sorted(IMG.glob("lesson-*.png")):
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
