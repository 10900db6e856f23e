"""rnnlab's layers against torch.nn.RNN / LSTM / GRU with the same weights.

Outputs, final states, dx, the gradient of the initial state and every parameter gradient must
agree: float32 within rtol = atol = 1e-5, float64 within rtol = atol = 1e-9. Lengths are fed to
torch through pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence(total_length=T).
Both backends are held to the same bar (without the numba kernels, 'numba' falls back to NumPy;
the projected LSTM runs the NumPy reference on both, as the kernel lacks the projection).
"""
import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab

from engine_helpers import loss_weights, random_state

# torch says once that its oneDNN path lacks projections and it takes its own: that is expected
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

# The tensors here are tiny: torch's intra-op threads only spin against each other (and
# against the other test processes on a 2-core CI box), which made this file 2x slower.
torch.set_num_threads(1)

TOLS = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-9)}
BACKENDS = ["numpy", "numba"]
D, H = 4, 5

KINDS = {  # id -> (torch class, rnnlab class, options)
    "rnn_tanh": (torch.nn.RNN, rnnlab.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNN, rnnlab.RNN, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTM, rnnlab.LSTM, {}),
    "lstm_proj": (torch.nn.LSTM, rnnlab.LSTM, {"proj_size": 3}),   # h_t = W_hr (o_t * tanh c_t)
    "gru": (torch.nn.GRU, rnnlab.GRU, {}),
}

# id -> (layer options, T, B, give state, lengths, unbatched)
CONFIGS = {
    "single": (dict(), 5, 3, False, None, False),
    "stacked3": (dict(num_layers=3), 5, 3, False, None, False),
    "bidir": (dict(bidirectional=True), 5, 3, False, None, False),
    "batch_first": (dict(batch_first=True), 5, 3, False, None, False),
    "lengths": (dict(), 5, 3, False, [5, 2, 4], False),
    "state": (dict(), 5, 3, True, None, False),
    "unbatched": (dict(num_layers=2), 5, None, True, None, True),
    "no_bias": (dict(bias=False, num_layers=2), 5, 3, True, None, False),
    "everything": (dict(num_layers=3, bidirectional=True, batch_first=True), 5, 3, True,
                   [3, 5, 1], False),
}

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def torch_run(tm, x, state, lengths, R, W, batch_first, dtype):
    """Forward + backward of L = sum(y R) + sum(h_n S) (+ sum(c_n U)) in torch.
    Returns y, state_n, dx, dstate0 as numpy arrays. A missing state is given as zeros so
    that its gradient exists on both sides."""
    tm.zero_grad()
    xt = torch.tensor(x, requires_grad=True)
    is_lstm = isinstance(tm, torch.nn.LSTM)
    LD = tm.num_layers * (2 if tm.bidirectional else 1)
    if state is None:
        lead = (LD,) if x.ndim == 2 else (LD, x.shape[0 if batch_first else 1])
        zeros = [np.zeros(lead + (n,), dtype)               # h is proj_size wide, if set
                 for n in (tm.proj_size or tm.hidden_size, tm.hidden_size)]
        state = tuple(zeros) if is_lstm else zeros[0]
    st = tuple(torch.tensor(s, requires_grad=True) for s in (state if is_lstm else (state,)))
    if lengths is not None:
        T = x.shape[1 if batch_first else 0]
        packed = pack_padded_sequence(xt, torch.tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=False)
        out, sn = tm(packed, st if is_lstm else st[0])
        y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    else:
        y, sn = tm(xt, st if is_lstm else st[0])
    sn = sn if is_lstm else (sn,)
    Wt = W if is_lstm else (W,)
    loss = (y * torch.tensor(R)).sum() + sum((s * torch.tensor(w)).sum() for s, w in zip(sn, Wt))
    loss.backward()
    out_state = tuple(s.detach().numpy() for s in sn)
    dstate0 = tuple(s.grad.numpy() for s in st)
    if not is_lstm:
        out_state, dstate0 = out_state[0], dstate0[0]
    return y.detach().numpy(), out_state, xt.grad.numpy(), dstate0


def rnnlab_run(layer, x, state, lengths, R, W, backend):
    layer.zero_grad()
    y, sn = layer(x, state, lengths, backend=backend)
    dx, ds0 = layer.backward(R, W)
    return y, sn, dx, ds0


def assert_close(a, b, tol, what):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), what
        for i, (u, v) in enumerate(zip(a, b)):
            assert_close(u, v, tol, f"{what}[{i}]")
        return
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **tol)


def compare(tm, layer, x, state, lengths, dtype, backend, seed=0):
    rng = np.random.default_rng(seed)
    y, sn, dx, ds0 = rnnlab_run(layer, x, state, lengths, *_weights(layer, x, state, lengths,
                                                                    rng, dtype), backend)
    rng = np.random.default_rng(seed)
    R, W = _weights(layer, x, state, lengths, rng, dtype)
    ty, tsn, tdx, tds0 = torch_run(tm, x, state, lengths, R, W, layer.batch_first, dtype)
    tol = TOLS[dtype]
    assert_close(y, ty, tol, "y")
    assert_close(sn, tsn, tol, "state_n")
    assert_close(dx, tdx, tol, "dx")
    assert_close(ds0, tds0, tol, "dstate0")
    tgrads = {k: p.grad.numpy() for k, p in tm.named_parameters()}
    assert set(tgrads) == set(layer.grads)
    for k, g in tgrads.items():
        assert np.abs(g).max() > 0, k
        assert_close(layer.grads[k], g, tol, f"grad {k}")


def _weights(layer, x, state, lengths, rng, dtype):
    """R, W with the shapes of y and the final state (computed from a dry forward)."""
    y, sn = layer(x, state, lengths, backend="numpy")
    return loss_weights(y, sn, rng, dtype)


def build_pair(kind, cfg_opts, dtype, seed=0):
    tcls, rcls, opts = KINDS[kind]
    torch.manual_seed(seed)
    tm = tcls(D, H, **opts, **cfg_opts, dtype=TORCH_DTYPE[dtype])
    layer = rcls(D, H, **opts, **cfg_opts, dtype=dtype, seed=seed + 100)
    return tm, layer


def make_inputs(layer, T, B, give_state, unbatched, dtype, seed=1):
    rng = np.random.default_rng(seed)
    xs = (T, D) if unbatched else ((B, T, D) if layer.batch_first else (T, B, D))
    x = rng.standard_normal(xs).astype(dtype)
    state = random_state(layer, B, rng, unbatched=unbatched) if give_state else None
    return x, state


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_torch_weights_into_rnnlab(kind, config, dtype, backend):
    cfg_opts, T, B, give_state, lengths, unbatched = CONFIGS[config]
    tm, layer = build_pair(kind, cfg_opts, dtype)
    layer.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x, state = make_inputs(layer, T, B, give_state, unbatched, dtype)
    compare(tm, layer, x, state, None if lengths is None else np.array(lengths), dtype, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("config", ["stacked3", "everything"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_rnnlab_weights_into_torch(kind, config, dtype, backend):
    cfg_opts, T, B, give_state, lengths, unbatched = CONFIGS[config]
    tm, layer = build_pair(kind, cfg_opts, dtype)
    before = {k: v.detach().clone() for k, v in tm.state_dict().items()}
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()},
                       strict=True)
    assert any(not torch.equal(before[k], v) for k, v in tm.state_dict().items())
    x, state = make_inputs(layer, T, B, give_state, unbatched, dtype)
    compare(tm, layer, x, state, None if lengths is None else np.array(lengths), dtype, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_trained_torch_lstm_loads_into_rnnlab(backend):
    """The 'done when' item: a torch nn.LSTM trained for a few SGD steps on random data loads
    into rnnlab.LSTM and gives the same outputs and gradients."""
    T, B, L = 6, 3, 2
    torch.manual_seed(0)
    tm = torch.nn.LSTM(D, H, num_layers=L)
    init = {k: v.detach().clone() for k, v in tm.state_dict().items()}
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        xb = torch.randn(T, B, D, generator=gen)
        target = torch.randn(T, B, H, generator=gen)
        tm.zero_grad()
        y, _ = tm(xb)
        torch.nn.functional.mse_loss(y, target).backward()
        with torch.no_grad():                       # plain SGD, lr 0.5
            for p in tm.parameters():
                p -= 0.5 * p.grad
    trained = tm.state_dict()
    assert all(not torch.equal(init[k], trained[k]) for k in init)

    layer = rnnlab.LSTM(D, H, num_layers=L)
    layer.load_state_dict({k: v.detach().numpy() for k, v in trained.items()})
    for k, v in trained.items():
        np.testing.assert_array_equal(layer.params[k], v.numpy())
    x, state = make_inputs(layer, T, B, True, False, np.float32, seed=5)
    compare(tm, layer, x, state, None, np.float32, backend)
