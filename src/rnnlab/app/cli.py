"""The `rnnlab` command: a thin layer of argparse over the Python API.

Each command lives in its own module under commands/ (its options and one call into the API);
this module assembles them and is the one place where errors become exit codes, each as one
line on stderr (`RNNLAB_DEBUG=1` shows the traceback as well):

    2    the user's input: a bad file, option or model file (RnnlabError, argparse)
    1    the environment: a full disk, a permission, missing memory (OSError, MemoryError),
         or a bug in rnnlab (any other exception; the line says to report it)
    130  interrupted (Ctrl-C before training started, or a second Ctrl-C)

Warnings from the library (RnnlabWarning: an unseen character read as <unk>, an all-silent
music sample) are printed as one line, `rnnlab: warning: ...`.
"""
import argparse
import errno
import os
import sys
import warnings

from ..errors import RnnlabError, RnnlabWarning
from ..nn.backend import one_thread_blas
from .commands import COMMANDS

# what to do about an OSError, by errno: the second half of its one line
FIXES = {
    errno.ENOSPC: "the disk is full: free some space or write to another disk",
    errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere",
    errno.EACCES: "you lack permission: make the folder writable or choose another path",
    errno.EPERM: "the operation is not permitted: choose another path",
    errno.EROFS: "the file system is read-only: choose a path on a writable disk",
    errno.ENOENT: "it does not exist: check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "it is a folder: pass a file",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or close other programs",
    errno.EIO: "the disk reported an I/O error: check the disk",
}


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help line ends with its default, unless the line already says it:
    "(default: X)", "(default: off)" for a switch, "(default: none)" for an empty string. A
    description or epilog is wrapped, unless it is laid out in lines already."""

    def _get_help_string(self, action):
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default is argparse.SUPPRESS:
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return text + " (default: off)" if action.default in (False, None) else text
        if action.default == "":
            return text + " (default: none)"
        if action.default is not None:
            return text + " (default: %(default)s)"
        return text

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose subcommands share the help formatter, and whose usage errors are
    one line (exit 2) that points to --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    p = Parser(prog="rnnlab", description="Recurrent networks from first principles: train, "
               "sample, evaluate and look inside.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def _say(kind, message):
    print(f"rnnlab: {kind}: {message}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, RnnlabWarning):
        _say("warning", message)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def os_error_line(e):
    """One line for an OSError: the path, what happened and what to do."""
    where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
    what = e.strerror or str(e)
    fix = FIXES.get(e.errno, "check the path and the disk")
    return f"{where + ': ' if where else ''}{what}; {fix}"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    one_thread_blas()        # NumPy's products on one thread: see nn/backend.py
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.simplefilter("always", RnnlabWarning)
        try:
            return args.func(args)
        except BrokenPipeError:                 # `rnnlab sample ... | head`
            _quiet_stdout()
            return 0
        except (Exception, KeyboardInterrupt) as e:
            code, line = classify(e)
            if os.environ.get("RNNLAB_DEBUG", "") not in ("", "0"):
                raise
    print(f"rnnlab: {' '.join(line.splitlines())}", file=sys.stderr)
    return code


def classify(e):
    """(exit code, one line) for an exception that reached the command line."""
    if isinstance(e, RnnlabError):
        return 2, f"error: {e}"
    if isinstance(e, OSError):
        return 1, f"error: {os_error_line(e)}"
    if isinstance(e, MemoryError):
        return 1, (f"error: out of memory ({e or 'an allocation failed'}); use a smaller "
                   f"model, batch or input")
    if isinstance(e, KeyboardInterrupt):
        return 130, "interrupted"
    return 1, (f"internal error: {type(e).__name__}: {e}; please report it (RNNLAB_DEBUG=1 "
               f"shows the traceback)")


def _quiet_stdout():
    """After a closed pipe, send what is left in stdout's buffer nowhere (no second error at
    exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def entry():
    """The `rnnlab` command (pyproject's script and `python -m rnnlab`): ``main``, then the
    process's end. A kernel still compiling in the background then (a --time-budget run that
    ended meanwhile) is not waited for: with the command's output flushed and its files
    written, the process ends at once (os._exit), since an interpreter exit with LLVM
    compiling in a thread aborted the process; the second process compiling ahead
    (training/ahead.py) is stopped first, as at a normal exit."""
    from ..nn import kernel_cache
    kernel_cache.detach_at_exit()
    code = main()
    if kernel_cache.compile_left_running():
        from ..training import ahead
        ahead.stop_children()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):       # a closed pipe: nothing more to say there
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
