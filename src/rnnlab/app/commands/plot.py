"""`rnnlab plot`: PNG plots of a run: loss curves, gate heatmaps, gradient norms."""


def add_parser(sub):
    pl = sub.add_parser("plot", help="PNG plots: loss curves, gate heatmaps, gradient norms")
    pl.add_argument("run", help="the run folder of a trained model")
    pl.add_argument("--text", default=None, help="the text to run the model on (text models) "
                    "(default: none: the loss curves only)")
    pl.add_argument("--input", default=None, metavar="FILE",
                    help="a text file, a CSV (series) or notes JSON / MIDI (music) "
                    "(default: none: the loss curves only)")
    pl.add_argument("-o", "--output", default=None, metavar="DIR",
                    help="folder for the PNGs and report.html (default: RUN/plots)")
    pl.set_defaults(func=run)


def run(a):
    from ...viz.commands import plot_command
    for path in plot_command(a.run, a.text, a.input, a.output):
        print(path)
    return 0
