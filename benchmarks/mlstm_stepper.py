"""mLSTM generation, one token at a time (B = 1): the compiled stepper (nn/kernels/mlstm.py)
against the NumPy path it replaces, in one process.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 10 \\
        python benchmarks/mlstm_stepper.py [--D 128] [--H 128] [--heads 1,4] [--tokens 2000]

Rows per head count, float32, CPU ms per token (time.process_time: every thread's work, the
fair number on a shared machine), the mean of --tokens tokens after 50 untimed ones:
- stack: a 2-layer MLSTM(D, H) stepped with x (D,) fixed: the layer's forward on (1, 1, D)
  with the state carried (the NumPy path; default mode, which runs the recurrent form for
  one step) against ``layer.steppers()`` (one compiled call per layer).
- text model: a 2-layer char model (one-hot input, V = D, H) fed its own argmax token, as
  `rnnlab sample` does: ``model.forward`` per token (the path sampling took before) against
  ``StreamingModel.step`` (the path it takes now: the steppers and the head's product).
The load average is printed before and after.
"""
import argparse
import os
import time

import numpy as np

from rnnlab import MLSTM
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.tasks.stream import StreamingModel

WARM = 50


def per_token_ms(step, tokens):
    """CPU ms per call of step() (no arguments), mean of `tokens` after WARM untimed calls."""
    for _ in range(WARM):
        step()
    c0 = time.process_time()
    for _ in range(tokens):
        step()
    return (time.process_time() - c0) / tokens * 1000


def stack_steps(D, H, heads, seed=0):
    """(NumPy step, stepper step) of a 2-layer stack on a fixed input."""
    layer = MLSTM(D, H, num_layers=2, num_heads=heads, seed=seed).eval()
    x = np.random.default_rng(seed).standard_normal((1, 1, D)).astype(np.float32)
    carried = [None]

    def numpy_step():
        _, carried[0] = layer(x, carried[0])

    steppers = layer.steppers()
    for s in steppers:
        s.reset()
    x_t = x[0, 0]

    def stepper_step():
        h = x_t
        for s in steppers:
            h = s.step(h)
    return numpy_step, stepper_step


def model_steps(V, H, heads, seed=0):
    """(model.forward step, StreamingModel step) of a 2-layer char model, greedy."""
    cfg = ModelConfig(task="text", cell="mlstm", input_size=V, output_size=V, hidden=H,
                      layers=2, seed=seed, cell_options={"num_heads": heads})
    model = SequenceModel(cfg).eval()
    last = {"tok": 1, "state": None}

    def forward_step():
        logits, last["state"] = model.forward(np.array([[last["tok"]]], np.int64), last["state"])
        last["tok"] = int(np.argmax(logits[0, 0]))

    stream = StreamingModel(model)
    stream.reset()
    tok = [1]

    def stream_step():
        tok[0] = int(np.argmax(stream.step(tok[0])))
    return forward_step, stream_step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--D", type=int, default=128, help="input width, and V of the text "
                    "model (default 128)")
    ap.add_argument("--H", type=int, default=128, help="hidden units (default 128)")
    ap.add_argument("--heads", default="1,4", help="head counts (default 1,4)")
    ap.add_argument("--tokens", type=int, default=2000, help="timed tokens per row "
                    "(default 2000)")
    a = ap.parse_args()
    print(f"load average {os.getloadavg()}, NUMBA_NUM_THREADS="
          f"{os.environ.get('NUMBA_NUM_THREADS', 'unset')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"2 x MLSTM({a.D}, {a.H}), float32, B = 1, CPU ms per token, mean of {a.tokens}")
    for heads in (int(h) for h in a.heads.split(",")):
        for what, steps in (("stack", stack_steps(a.D, a.H, heads)),
                            (f"text model V={a.D}", model_steps(a.D, a.H, heads))):
            old, new = (per_token_ms(s, a.tokens) for s in steps)
            print(f"  {heads} head(s) {what:18s} NumPy {old:7.4f}  stepper {new:7.4f}  "
                  f"NumPy / stepper {old / new:6.1f}", flush=True)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
