"""`rnnlab explain`: one self-contained HTML page of what a model remembers."""
from ...viz.i18n import DEFAULT, languages


def add_parser(sub):
    ex = sub.add_parser("explain", help="a self-contained HTML page of what the model remembers")
    ex.add_argument("run", help="the run folder of a trained model")
    ex.add_argument("--text", default=None, help="the text to explain (text models) "
                    "(default: none; pass --text or --input)")
    ex.add_argument("--input", default=None, metavar="FILE",
                    help="a text file, a CSV (series) or notes JSON / MIDI (music) "
                    "(default: none; pass --text or --input)")
    ex.add_argument("-o", "--output", default="explain.html", help="the page to write")
    ex.add_argument("--title", default=None,
                    help="the page's title (default: the cell, its size and the run's name)")
    ex.add_argument("--bits", type=int, default=8, choices=[8, 16],
                    help="precision of the embedded activations: 8 bits is plenty for colour, "
                    "16 keeps 5 significant digits in a page twice the size")
    ex.add_argument("--lang", default=DEFAULT, choices=languages(),
                    help="language of the page's labels and legend")
    ex.set_defaults(func=run)


def run(a):
    from ...viz.commands import explain_command
    path = explain_command(a.run, a.text, a.input, a.output, a.title, a.bits, lang=a.lang)
    print(f"wrote {path}")
    return 0
