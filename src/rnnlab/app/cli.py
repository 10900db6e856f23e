"""The `rnnlab` command: a thin layer of argparse over the Python API.

Each command lives in its own module under commands/ (its options and one call into the API);
this module assembles them and is the one place where errors become exit codes: bad input
(RnnlabError) is one line on stderr and exit code 2.
"""
import argparse
import sys

from ..errors import RnnlabError
from .commands import COMMANDS


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help line ends with its default, unless the line already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = action.default is not None and action.default is not False \
            and action.default is not argparse.SUPPRESS
        if shown and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose subcommands share the help formatter."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser():
    p = Parser(prog="rnnlab", description="Recurrent networks from first principles: train, "
               "sample, evaluate and look inside.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RnnlabError as e:
        print(f"rnnlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
