"""`rnnlab sample`: generate from a trained text or music model."""
import json
import sys

from ...errors import RnnlabError


def add_parser(sub):
    s = sub.add_parser("sample", help="generate from a trained model",
                       description="Text models print the sampled text as it is generated; "
                       "music models (piano roll or melody) write MIDI (-o), notes JSON "
                       "(--json-out) and a piano-roll picture (--plot).")
    s.add_argument("run", help="the run folder of a trained text or music model")
    s.add_argument("--length", type=int, default=500,
                   help="tokens (text, melody) or steps (piano roll)")
    s.add_argument("--temperature", type=float, default=1.0,
                   help="sampling temperature (default: 1.0); 0 = greedy, always the most "
                   "likely (piano roll: the round(sum p) most likely pitches; with the nade head, "
                   "the greedy chord, pitch by pitch), which loops: a "
                   "roll model holds one chord, a melody alternates a few notes, a text "
                   "repeats a phrase; for variety use 0.5 to 1, or --top-k")
    s.add_argument("--top-k", type=int, default=0,
                   help="sample among the k most likely tokens only; 0 = off")
    s.add_argument("--prime", default="", help="text to start from (text models; characters "
                   "the model has not seen are read as <unk>, with a warning)")
    s.add_argument("--seed", type=int, default=None,
                   help="random seed (default: a fresh one each time)")
    s.add_argument("-o", "--output", default=None, help="music: write a MIDI file (default: "
                   "none; without -o, --json-out or --plot the notes are printed as JSON)")
    s.add_argument("--json-out", default=None, help="music: write the notes as JSON "
                   "(default: none)")
    s.add_argument("--plot", default=None, metavar="PNG",
                   help="music: draw the sample's piano roll to this PNG (default: none)")
    s.set_defaults(func=run)


def run(a):
    from ...training.load import load
    model = load(a.run)
    if model.WRITES_MUSIC:
        return _music(model, a)
    if a.output is not None or a.json_out is not None or a.plot is not None:
        raise RnnlabError("-o/--output, --json-out and --plot are for music models")
    model.sample(a.length, a.temperature, a.top_k, a.prime, a.seed, stream=sys.stdout)
    sys.stdout.write("\n")
    return 0


def _music(model, a):
    """A piano-roll or melody sample: written to the files asked for, else printed as notes
    JSON; one line on stderr says what was written."""
    if a.plot is not None and not a.plot.lower().endswith(".png"):
        raise RnnlabError(f"--plot must be a .png file, got {a.plot}")
    steps, notes, what = model.draw_music(a.length, a.temperature, a.top_k, a.prime, a.seed,
                                          output=a.output, json_out=a.json_out)
    if a.plot is not None:
        from ...data.music import steps_per_beat
        from ...viz.plots import plot_piano_roll
        plot_piano_roll(steps, a.plot, title=f"rnnlab sample T={a.temperature:g}",
                        steps_per_beat=steps_per_beat(model.grid), notes=notes)
    files = [f for f in (a.output, a.json_out, a.plot) if f]
    if not files:
        print(json.dumps([steps]))
    else:
        print(f"wrote {what} to " + " and ".join(files), file=sys.stderr)
    return 0
