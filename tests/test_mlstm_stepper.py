"""The mLSTM's compiled B = 1 stepper (nn/kernels/mlstm.py) against the NumPy recurrent form
(cells/mlstm.py): h at every step and the final (C, n, m), float64 to 1e-12, for 1 and 3
heads, both forget gates, a nonzero initial state, with both branches of the stabiliser's max
and of the read-out's denominator taken; float32 close; a 2-layer layer's steppers against its
forward; generation (TextModel.sample_ids) through the stepper against the layers' path.
Two compiles (float64, float32) of one small function."""
import numpy as np
import pytest

import rnnlab
from rnnlab import MLSTM, RnnlabError
from rnnlab.nn.cells import mlstm as mlstm_cell
from rnnlab.nn.kernels.mlstm import Stepper

from engine_helpers import check_steppers_like_forward, rel_err

D, H, T = 5, 6, 9
EXACT = 1e-12


def problem(heads, forget_gate, dtype, seed=1):
    """Parameters, x (T, 1, D) and a nonzero initial state (C0, n0, m0) for one row. seed 1
    takes both branches of both maxima for every case here (checked in the test)."""
    rng = np.random.default_rng(seed)
    params = MLSTM(D, H, num_heads=heads, forget_gate=forget_gate, dtype=dtype,
                   seed=seed).cell_params(0)
    d = H // heads
    state = tuple(a.astype(dtype) for a in (rng.standard_normal((1, heads, d, d)),
                                            rng.standard_normal((1, H)),
                                            rng.standard_normal((1, heads))))
    return params, (2 * rng.standard_normal((T, 1, D))).astype(dtype), state


def stepped(params, x, state, heads, forget_gate, dtype):
    """The stepper's h at every step (T, H) and its final (C, n, m)."""
    s = Stepper(params, dtype, num_heads=heads, forget_gate=forget_gate, mode="parallel")
    s.reset(*(p[0] for p in state))
    hs = np.stack([s.step(x[t, 0]).copy() for t in range(x.shape[0])])
    return hs, s.state()


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
def test_stepper_equals_the_recurrent_form_float64(heads, forget_gate):
    params, x, state = problem(heads, forget_gate, np.float64)
    y, final, cache = mlstm_cell.forward_recurrent(x, state, params, None, heads, forget_gate)
    m_prev = np.concatenate([state[2][None], cache["ms"][:-1]])
    forget_wins = cache["g"]["log_f"] + m_prev >= cache["g"]["log_i"]
    abs_wins = np.abs(cache["s"]) >= np.exp(-cache["ms"])
    assert 0 < forget_wins.mean() < 1 and 0 < abs_wins.mean() < 1     # both branches of each
    hs, mine = stepped(params, x, state, heads, forget_gate, np.float64)
    for t in range(T):
        assert rel_err(hs[t], y[t, 0]) < EXACT, t
    for part, a, b in zip(mlstm_cell.STATE, mine, final):
        assert a.shape == b[0].shape and rel_err(a, b[0]) < EXACT, part


def test_stepper_float32_is_close_to_the_float64_form():
    params, x, state = problem(2, "exp", np.float32)
    y, final, _ = mlstm_cell.forward_recurrent(
        x.astype(np.float64), tuple(p.astype(np.float64) for p in state),
        {k: v.astype(np.float64) for k, v in params.items()}, None, 2, "exp")
    hs, mine = stepped(params, x, state, 2, "exp", np.float32)
    assert hs.dtype == np.float32
    assert rel_err(hs, y[:, 0]) < 1e-5
    for a, b in zip(mine, final):
        assert rel_err(a, b[0]) < 1e-5


def test_layer_steppers_stream_like_forward():
    """Two layers, two heads, no bias, parallel mode (its forward runs the chunkwise/parallel
    form; the steppers the recurrent one): the same outputs and final states."""
    layer = MLSTM(D, H, num_layers=2, num_heads=2, forget_gate="exp", bias=False,
                  dtype=np.float64, seed=3).eval()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((T, 1, D))
    state0 = (rng.standard_normal((2, 1, 2, 3, 3)), rng.standard_normal((2, 1, H)),
              rng.standard_normal((2, 1, 2)))
    y, sn = layer(x, state0)
    check_steppers_like_forward(layer, x, y, sn, state0, EXACT)
    assert rnnlab.nn.registry.get("mlstm").kernel is None    # training stays on NumPy
    with pytest.raises(RnnlabError, match="bidirectional"):
        MLSTM(D, H, bidirectional=True).steppers()


def test_sampling_steps_the_stepper_and_draws_the_same_tokens(monkeypatch):
    """TextModel.sample_ids through the StreamingModel (the stepper) and through the layers'
    forward one token at a time (streaming off): the same tokens."""
    from rnnlab.data.text import Vocab
    from rnnlab.tasks import text
    from rnnlab.tasks.model import ModelConfig, SequenceModel
    from rnnlab.tasks.stream import StreamingModel, streaming_model
    vocab = Vocab(list("abcdefg"), level="char")
    cfg = ModelConfig(task="text", cell="mlstm", input_size=vocab.size,
                      output_size=vocab.size, hidden=H, layers=2, dtype="float64", seed=2,
                      cell_options={"num_heads": 3})
    tm = text.TextModel(SequenceModel(cfg).eval(), {"kind": "text", "vocab": vocab.to_json()})
    made = []
    monkeypatch.setattr(text, "streaming_model",
                        lambda model: made.append(streaming_model(model, "numba")) or made[-1])
    fast = list(tm.sample_ids(40, temperature=1.0, prime_ids=[1, 2], seed=5))
    assert isinstance(made[0], StreamingModel)          # the sampling stepped the stepper
    monkeypatch.setattr(text, "streaming_model", lambda model: None)
    slow = list(tm.sample_ids(40, temperature=1.0, prime_ids=[1, 2], seed=5))
    assert fast == slow and len(set(fast)) > 1
