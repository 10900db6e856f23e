"""`rnnlab sample`: generate from a trained text or music model."""
import json
import sys

from ...errors import RnnlabError


def add_parser(sub):
    s = sub.add_parser("sample", help="generate from a trained model",
                       description="Text models print the sampled text as it is generated; "
                       "music models write MIDI (-o) and/or notes JSON (--json-out).")
    s.add_argument("run", help="the run folder of a trained text or music model")
    s.add_argument("--length", type=int, default=500, help="tokens (text) or steps (music)")
    s.add_argument("--temperature", type=float, default=1.0,
                   help="sampling temperature; 0 = always the most likely")
    s.add_argument("--top-k", type=int, default=0,
                   help="sample among the k most likely tokens only; 0 = off")
    s.add_argument("--prime", default="", help="text to start from (text models; characters "
                   "the model has not seen are read as <unk>, with a warning)")
    s.add_argument("--seed", type=int, default=None,
                   help="random seed (default: a fresh one each time)")
    s.add_argument("-o", "--output", default=None, help="music: write a MIDI file (default: none; without -o or --json-out the notes are printed as JSON)")
    s.add_argument("--json-out", default=None, help="music: write the notes as JSON "
                   "(default: none)")
    s.set_defaults(func=run)


def run(a):
    from ...inference import load
    model = load(a.run)
    if model.cfg.task == "music":
        steps = model.sample(a.length, a.temperature, a.top_k, a.prime, a.seed,
                             output=a.output, json_out=a.json_out)
        if a.output is None and a.json_out is None:
            print(json.dumps([steps]))
        else:
            print(f"wrote {len(steps)} steps to " +
                  " and ".join(f for f in (a.output, a.json_out) if f), file=sys.stderr)
        return 0
    if a.output is not None or a.json_out is not None:
        raise RnnlabError("-o/--output and --json-out are for music models (MIDI / notes JSON)")
    model.sample(a.length, a.temperature, a.top_k, a.prime, a.seed, stream=sys.stdout)
    sys.stdout.write("\n")
    return 0
