"""Recurrent dropout on the fused RNN and GRU kernels (rnnlab/nn/kernels/rdrop_gates.py)
against the NumPy reference cells (rnnlab/nn/cells/rnn.py, gru.py): y, h_n and every gradient
(dx, dh0, weights, biases), float64 to 1e-12, with ragged lengths (one row empty), a state in
and a state gradient out; the batch split gives the same bits as one thread; and a layer
training with recurrent_dropout runs the kernel. Tiny sizes (each cell compiles its masked
loops once)."""
import numpy as np
import pytest

import rnnlab
from rnnlab.nn.cells import gru as gru_cell
from rnnlab.nn.cells import rnn as rnn_cell
from rnnlab.nn.kernels import gru as gru_kernel
from rnnlab.nn.kernels import loops, policy
from rnnlab.nn.kernels import rnn as rnn_kernel

T, B, D, H = 5, 4, 3, 6
LENGTHS = np.array([5, 2, 0, 4])
CELLS = {"rnn": (rnn_cell, rnn_kernel, 1), "gru": (gru_cell, gru_kernel, 3)}


def _run(mod, G, mask=True):
    """(y, h_n, dx, dh0, grads) of one float64 forward and backward."""
    rng = np.random.default_rng(3)
    x, h0, dh = (rng.standard_normal(s) for s in ((T, B, D), (B, H), (B, H)))
    dy = rng.standard_normal((T, B, H)) * (np.arange(T)[:, None, None] < LENGTHS[:, None])
    p = {"weight_ih": rng.standard_normal((G * H, D)) * 0.5,
         "weight_hh": rng.standard_normal((G * H, H)) * 0.5,
         "bias_ih": rng.standard_normal(G * H) * 0.2, "bias_hh": rng.standard_normal(G * H) * 0.2}
    rm = ((rng.random((B, H)) >= 0.3) / 0.7) if mask else None
    y, h_n, cache = mod.forward(x, h0, p, LENGTHS, recurrent_mask=rm)
    out = [np.array(y), np.array(h_n)]             # copies: backward may reuse buffers
    dx, dh0, grads = mod.backward(dy, dh, cache)
    return out + [dx, dh0, grads]


def _check(got, want, tol):
    for a, b in zip(got[:4], want[:4]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert got[4].keys() == want[4].keys()
    for k in want[4]:
        np.testing.assert_allclose(got[4][k], want[4][k], rtol=tol, atol=tol, err_msg=k)


@pytest.mark.parametrize("cell", list(CELLS))
def test_masked_kernel_matches_reference_float64(cell):
    ref, ker, G = CELLS[cell]
    got, want = _run(ker, G), _run(ref, G)
    _check(got, want, 1e-12)
    # the mask matters: not the unmasked result
    assert np.abs(want[0] - _run(ref, G, mask=False)[0]).max() > 1e-3


@pytest.mark.parametrize("cell", list(CELLS))
def test_masked_batch_split_changes_no_bit(cell, monkeypatch):
    """The rows split over the threads: the same numbers as one thread. The masked tuples
    never take the unit split (its product reads the unmasked h from y)."""
    _, ker, G = CELLS[cell]
    monkeypatch.setattr(loops, "ready", lambda dispatcher, args: True)
    one = _run(ker, G)
    with policy.forced("batch"):
        monkeypatch.setattr(policy, "SPLIT_MIN_ROWS", 1)
        assert loops.plan(B, H, G, np.float64, whole_rows=True)[1] > 1 or \
            policy.batch_split(B, H, G * H) == 1                 # a one-thread machine
        split = _run(ker, G)
    _check(split, one, 0)


@pytest.mark.parametrize("layer_cls", [rnnlab.GRU, rnnlab.RNN])
def test_training_with_recurrent_dropout_runs_the_kernel(layer_cls):
    layer = layer_cls(D, H, recurrent_dropout=0.25, seed=0, dtype=np.float64)
    kernel = gru_kernel if layer_cls is rnnlab.GRU else rnn_kernel
    assert layer.implementation("numba") is kernel
    rng = np.random.default_rng(4)
    x = rng.standard_normal((T, B, D))
    before = {k: v.copy() for k, v in layer.params.items()}
    ys = []
    for _ in range(2):
        y, _ = layer(x, lengths=LENGTHS, backend="numba")
        ys.append(np.array(y))
        for g in layer.grads.values():
            g[...] = 0
        layer.backward(np.ones_like(y))
        assert all(np.isfinite(g).all() for g in layer.grads.values())
        for k, p in layer.params.items():
            p -= 0.1 * layer.grads[k]
    assert any(np.abs(layer.params[k] - before[k]).max() > 0 for k in before)
    assert layer.eval().implementation("numba") is kernel and layer.steppers()
