"""The LSTM's layer norm, zoneout and recurrent dropout on the numba kernel
(rnnlab/nn/kernels/lstm_options.py) against the NumPy reference (rnnlab/nn/cells/lstm_options.py):
forward y and state, and every gradient (inputs, states, weights, biases, layer-norm gains and
biases), float64 to 1e-12, with ragged lengths (one row empty), a state in and a state gradient
out. Tiny sizes, and few option combinations: each compiles its own loops (about 10 s of CPU on
a fresh machine), so the cases below are chosen to run every option both on and off with
three float64 combinations (layer norm alone, zoneout with dropout, all three) and one
float32 one."""
import numpy as np
import pytest

import rnnlab
from rnnlab.nn.cells import lstm_options as reference
from rnnlab.nn.kernels import lstm_options as kernel
from rnnlab.nn.kernels import loops, policy

T, B, D, H = 5, 4, 3, 6
LENGTHS = np.array([5, 2, 0, 4])


def _params(ln, bias, dtype):
    rng = np.random.default_rng(1)
    p = {"weight_ih": rng.standard_normal((4 * H, D)) * 0.5,
         "weight_hh": rng.standard_normal((4 * H, H)) * 0.5}
    if bias:
        p["bias_ih"], p["bias_hh"] = rng.standard_normal((2, 4 * H)) * 0.2
    for name, n in (("ln_ih", 4 * H), ("ln_hh", 4 * H), ("ln_c", H)) if ln else ():
        p[name + "_weight"] = 1 + 0.2 * rng.standard_normal(n)     # not the initial 1, 0:
        if bias:                                                    # every term counts
            p[name + "_bias"] = 0.2 * rng.standard_normal(n)
    return {k: v.astype(dtype) for k, v in p.items()}


def _options(zoneout, masked, dtype):
    rng = np.random.default_rng(2)
    kw = {}
    if zoneout == "train":
        kw["zoneout"] = tuple((rng.random((T, B, H)) < z).astype(dtype) for z in (0.3, 0.2))
    elif zoneout == "eval":
        kw["zoneout"] = (0.3, 0.2)
    if masked:
        kw["recurrent_mask"] = ((rng.random((B, H)) >= 0.3) / 0.7).astype(dtype)
    return kw


def _run(mod, ln, zoneout, masked, dtype=np.float64, bias=True):
    """(y, h_n, c_n, dx, dh0, dc0, grads) of one forward and backward."""
    rng = np.random.default_rng(3)
    x, h0, c0, dh, dc = (rng.standard_normal(s).astype(dtype) for s in
                         ((T, B, D), (B, H), (B, H), (B, H), (B, H)))
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    dy *= np.arange(T)[:, None, None] < LENGTHS[:, None]          # y is 0 past a row's end
    y, (h_n, c_n), cache = mod.forward(x, (h0, c0), _params(ln, bias, dtype), LENGTHS,
                                       **_options(zoneout, masked, dtype))
    out = [np.array(a) for a in (y, h_n, c_n)]                    # copies: backward may reuse
    dx, (dh0, dc0), grads = mod.backward(dy, (dh, dc), cache)
    return out + [dx, dh0, dc0, grads]


def _check(got, want, rtol, atol):
    for a, b in zip(got[:6], want[:6]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    assert got[6].keys() == want[6].keys()
    for k in want[6]:
        np.testing.assert_allclose(got[6][k], want[6][k], rtol=rtol, atol=atol, err_msg=k)


CASES = {"layer_norm": (True, None, False), "zoneout_and_dropout": (False, "train", True),
         "zoneout_eval_and_dropout": (False, "eval", True), "all_three": (True, "train", True)}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_reference_float64(case):
    ln, zoneout, masked = CASES[case]
    _check(_run(kernel, ln, zoneout, masked), _run(reference, ln, zoneout, masked), 1e-12, 1e-12)


def test_all_three_without_biases_and_in_evaluation():
    """bias=False (no LN biases either), and evaluation's zoneout with layer norm."""
    for args, bias in (((True, "train", True), False), ((True, "eval", True), True)):
        _check(_run(kernel, *args, bias=bias), _run(reference, *args, bias=bias), 1e-12, 1e-12)


def test_batch_split_changes_no_bit(monkeypatch):
    """The rows split over the threads (each block its own LN gain sums, added after): the
    same numbers as one thread. Layer norm never takes the unit split."""
    one = _run(kernel, True, "train", True)
    with policy.forced("batch"):
        monkeypatch.setattr(policy, "SPLIT_MIN_ROWS", 1)
        assert loops.plan(B, H, 4, np.float64, whole_rows=True)[1] > 1 or \
            policy.batch_split(B, H, 4 * H) == 1              # a one-thread machine
        split = _run(kernel, True, "train", True)
    monkeypatch.setattr(policy, "UNITS_MIN_WEIGHT_BYTES", 0)
    assert loops.plan(B, H, 4, np.float64, whole_rows=True)[0] == 1
    _check(split, one, 0, 1e-15)


def test_float32_close_to_reference():
    got = _run(kernel, True, "train", True, np.float32)
    assert got[0].dtype == np.float32 and got[6]["ln_hh_weight"].dtype == np.float32
    _check(got, _run(reference, True, "train", True, np.float32), 2e-4, 2e-4)


def test_layer_takes_the_kernel_and_trains():
    layer = rnnlab.LSTM(D, H, layer_norm=True, zoneout=0.1, recurrent_dropout=0.2, seed=0)
    assert layer.implementation("numba") is kernel
    rng = np.random.default_rng(4)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    target = np.tanh(np.cumsum(x, axis=0)[:, :, :1]).astype(np.float32)
    losses = []
    for _ in range(30):
        y, _ = layer(x, lengths=LENGTHS, backend="numba")
        err = (y[:, :, :1] - target) * (np.arange(T)[:, None, None] < LENGTHS[:, None])
        losses.append(float((err ** 2).mean()))
        dy = np.zeros_like(y)
        dy[:, :, :1] = 2 * err / err.size
        for g in layer.grads.values():
            g[...] = 0
        layer.backward(dy)
        for k, p in layer.params.items():
            p -= 0.5 * layer.grads[k]
    assert losses[-1] < 0.7 * losses[0]
