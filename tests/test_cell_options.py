"""The cells' own options through the engine's contracts, on the NumPy reference in float64:
the LSTM's proj_size, layer_norm and zoneout (rnnlab/nn/cells/lstm_options.py) and recurrent
dropout for the RNN, LSTM and GRU (each alone and together: engine_helpers.OPTION_CELLS).

- gradients: centred finite differences, rel < 1e-6, in training (the masks a seeded layer
  draws: every rebuilt layer draws the same ones, so the differences see the same function)
  and in evaluation; stacked, bidirectional, lengths, initial state, batch_first, unbatched,
  no bias, dropout between layers. The step is 1e-6, not 1e-5: with layer norm's gains away
  from 1 the curvature is larger, and at 1e-5 the differences' own truncation error (which
  shrinks 100-fold per 10-fold smaller step, measured) reaches 1.3e-6 on one tensor;
- chunks: a long sequence fed in chunks, the state carried, equals the whole sequence forward
  and backward: at the layer in evaluation (no random masks), and at the cell in training with
  the masks fixed (the cell takes them as arguments: each chunk gets its slice of the zoneout
  masks and the same recurrent-dropout mask; each row its own slice, for lengths);
- evaluation: recurrent dropout is then the same layer without it; zoneout is its expectation;
  the options cell with every option off is the plain LSTM cell;
- the equations of the first step by hand; names, shapes, initialisation; masks reproducible;
- fuzzing (hypothesis): any shapes and options give finite outputs and gradients, and the
  numba backend (the kernel where it fits, the reference elsewhere) gives the reference's.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnlab
from rnnlab.nn import registry
from rnnlab.nn.cells import gru as gru_cell
from rnnlab.nn.cells import lstm as lstm_cell
from rnnlab.nn.cells import lstm_options
from rnnlab.nn.cells import rnn as rnn_cell

from engine_helpers import (OPTION_CELLS, OPTION_IDS, TOL, gradcheck, loss_weights,
                            make_layer, random_state)

D, H = 3, 3
EXACT = dict(rtol=0, atol=1e-12)
RANDOM = ("zoneout", "recurrent_dropout")       # the options that draw masks in training

# name -> (layer options, T, B, give state, lengths, unbatched, eval mode)
CONFIGS = {
    "single": (dict(), 5, 2, False, None, False, False),
    "stacked_bidir_lengths_state": (dict(num_layers=2, bidirectional=True), 4, 3, True,
                                    [4, 1, 0], False, False),
    "batch_first_lengths_state": (dict(batch_first=True), 5, 2, True, [3, 5], False, False),
    "no_bias_stacked_state": (dict(bias=False, num_layers=2), 4, 2, True, None, False, False),
    "unbatched_bidir_state": (dict(num_layers=2, bidirectional=True), 4, None, True, None,
                              True, False),
    "dropout_between_layers": (dict(num_layers=2, dropout=0.4), 4, 2, True, None, False, False),
    "eval_stacked_bidir_lengths_state": (dict(num_layers=2, bidirectional=True), 4, 3, True,
                                         [4, 1, 0], False, True),
}


def spread_ln(layer):
    """Move the layer-norm gains and biases away from 1 and 0 (the same way on every build),
    so that their gradients are checked at general values."""
    rng = np.random.default_rng(11)
    for k, v in layer.params.items():
        if k.startswith("ln_"):
            v += (0.5 * rng.standard_normal(v.shape)).astype(v.dtype)
    return layer


def build(kind, opts, cfg_opts=None, eval_mode=False, H=H, seed=7):
    def fresh():
        layer = spread_ln(make_layer(kind, D, H, dtype=np.float64, seed=seed, **opts,
                                     **(cfg_opts or {})))
        return layer.eval() if eval_mode else layer
    return fresh


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind,opts,_id", OPTION_CELLS, ids=OPTION_IDS)
def test_gradcheck(kind, opts, _id, config):
    cfg_opts, T, B, give_state, lengths, unbatched, eval_mode = CONFIGS[config]
    rng = np.random.default_rng(1)
    fresh = build(kind, opts, cfg_opts, eval_mode)
    layer = fresh()
    xs = (T, D) if unbatched else ((B, T, D) if layer.batch_first else (T, B, D))
    x = rng.standard_normal(xs)
    state = random_state(layer, B, rng, unbatched=unbatched) if give_state else None
    errs = gradcheck(fresh, x, state, None if lengths is None else np.array(lengths), eps=1e-6)
    assert len(errs) == 1 + (0 if state is None else len(layer.state_names)) + len(layer.params)
    bad = {k: v for k, v in errs.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


@pytest.mark.parametrize("kind,opts,_id", [c for c in OPTION_CELLS
                                             if any(o in c[1] for o in RANDOM)],
                         ids=[c[2] for c in OPTION_CELLS if any(o in c[1] for o in RANDOM)])
def test_training_masks_are_real_and_drawn_again_by_a_rebuilt_layer(kind, opts, _id):
    """The training-mode gradchecks mean something only if the masks change the output and a
    layer rebuilt with the same seed draws the same ones (as a resumed run does)."""
    x = np.random.default_rng(2).standard_normal((6, 3, D))
    y1, _ = build(kind, opts)()(x)
    y2, _ = build(kind, opts)()(x)
    y3, _ = build(kind, opts, eval_mode=True)()(x)
    np.testing.assert_array_equal(y1, y2)
    assert np.abs(y1 - y3).max() > 1e-3
    layer = build(kind, opts)()
    saved = layer.rng.bit_generator.state
    ya, _ = layer(x)
    yb, _ = layer(x)
    assert np.abs(ya - yb).max() > 1e-3           # fresh masks on every call
    layer.rng.bit_generator.state = saved          # what --resume restores
    np.testing.assert_array_equal(layer(x)[0], ya)


# ------------------------------------------------------------------ chunks and lengths
@pytest.mark.parametrize("kind,opts,_id", OPTION_CELLS, ids=OPTION_IDS)
def test_chunked_sequence_equals_whole_in_eval(kind, opts, _id):
    T, B, chunks = 7, 3, [3, 1, 3]
    rng = np.random.default_rng(3)
    layer = build(kind, opts, dict(num_layers=2), eval_mode=True, H=4)()
    x = rng.standard_normal((T, B, D))
    s0 = random_state(layer, B, rng)
    y, sn = layer(x, s0)
    R, W = loss_weights(y, sn, rng, np.float64)
    dx, ds0 = layer.backward(R, W)
    whole = {k: v.copy() for k, v in layer.grads.items()}
    layer.zero_grad()
    starts = np.cumsum([0] + chunks)
    states, ys, s = [], [], s0
    for a, b in zip(starts[:-1], starts[1:]):
        states.append(s)
        yk, s = layer(x[a:b], s)
        ys.append(yk)
    np.testing.assert_allclose(np.concatenate(ys), y, **EXACT)
    _close(s, sn)
    dxs, dstate = [None] * len(chunks), W
    for k in reversed(range(len(chunks))):
        a, b = starts[k], starts[k + 1]
        layer(x[a:b], states[k])
        dxs[k], dstate = layer.backward(R[a:b], dstate)
    np.testing.assert_allclose(np.concatenate(dxs), dx, **EXACT)
    _close(dstate, ds0)
    for k, g in whole.items():
        np.testing.assert_allclose(layer.grads[k], g, err_msg=k, **EXACT)


def _close(a, b, tol=EXACT):
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_allclose(u, v, **tol)


def _masks(rng, T, B, H, R, z=(0.3, 0.4), p=0.3):
    """Training masks as a layer draws them: zoneout keep masks and a recurrent mask."""
    keep = ((rng.random((T, B, H)) < z[0]).astype(float), (rng.random((T, B, R)) < z[1]) * 1.0)
    return keep, (rng.random((B, R)) >= p) / (1 - p)


CELL_CASES = {  # id -> (cell module, layer options, uses zoneout)
    "lstm_options": (lstm_options, dict(proj_size=2, layer_norm=True, zoneout=0.1), True),
    "lstm": (lstm_cell, dict(), False),
    "rnn": (rnn_cell, dict(), False),
    "gru": (gru_cell, dict(), False),
}


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_cell_with_fixed_masks_chunks_and_rows_equal_the_whole(case):
    """Training mode, with the masks passed to the pure forward/backward: chunks (state and
    dstate carried, zoneout masks sliced in time) and rows alone (masks sliced by row) give
    what the whole batch gives."""
    mod, opts, zone = CELL_CASES[case]
    kind = {"lstm_options": "LSTM", "lstm": "LSTM", "rnn": "RNN", "gru": "GRU"}[case]
    layer = spread_ln(make_layer(kind, D, 4, dtype=np.float64, seed=5, **opts))
    params = layer.cell_params(0)
    T, B, Hh = 7, 3, 4
    R = layer.state_shapes()["h"][0]
    rng = np.random.default_rng(4)
    keep, rmask = _masks(rng, T, B, Hh, R)
    x = rng.standard_normal((T, B, D))
    s0 = random_state(layer, B, rng)
    s0 = tuple(s[0] for s in s0) if isinstance(s0, tuple) else s0[0]
    lengths = np.array([7, 4, 2])

    def run(xs, s, ks, rm, lens=None, dy=None, ds=None):
        kw = dict(zoneout=ks) if zone else {}
        y, sn, cache = mod.forward(xs, s, params, lens, recurrent_mask=rm, **kw)
        return y, sn, (mod.backward(dy, ds, cache) if dy is not None else None)

    y, sn, _ = run(x, s0, keep, rmask, lengths)
    dy = rng.standard_normal(y.shape)
    dsn = tuple(rng.standard_normal(s.shape) for s in sn) if isinstance(sn, tuple) \
        else rng.standard_normal(sn.shape)
    _, _, (dx, ds0, grads) = run(x, s0, keep, rmask, lengths, dy, dsn)
    # chunks: forward carrying the state, then backward from the end carrying dstate
    cuts, states, s = [(0, 3), (3, 4), (4, 7)], [], s0
    for a, b in cuts:
        states.append(s)
        ya, s, _ = run(x[a:b], s, tuple(k[a:b] for k in keep), rmask, np.clip(lengths - a, 0, b - a))
        np.testing.assert_allclose(ya, y[a:b], **EXACT)
    _close(s, sn)
    total, ds = {k: 0 for k in grads}, dsn
    for (a, b), s in reversed(list(zip(cuts, states))):
        _, _, (dxa, ds, g) = run(x[a:b], s, tuple(k[a:b] for k in keep), rmask,
                                 np.clip(lengths - a, 0, b - a), dy[a:b], ds)
        np.testing.assert_allclose(dxa, dx[a:b], **EXACT)
        total = {k: total[k] + g[k] for k in g}
    _close(ds, ds0)
    for k in grads:
        np.testing.assert_allclose(total[k], grads[k], err_msg=k, **EXACT)
    # each row alone, with its own row of every mask
    for b in range(B):
        row = (lambda s: tuple(p[b:b + 1] for p in s)) if isinstance(s0, tuple) \
            else (lambda s: s[b:b + 1])
        n = lengths[b]
        yb, snb, _ = run(x[:n, b:b + 1], row(s0), tuple(k[:n, b:b + 1] for k in keep),
                         rmask[b:b + 1])
        np.testing.assert_allclose(yb[:, 0], y[:n, b], **EXACT)
        _close(snb, row(sn))


# ------------------------------------------------------------------ evaluation
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("kind,opts", [("RNN", {}), ("GRU", {}), ("LSTM", {}),
                                       ("LSTM", {"variant": "peephole"}),
                                       ("LSTM", {"proj_size": 2, "layer_norm": True})])
def test_recurrent_dropout_in_eval_is_the_layer_without_it(kind, opts, backend):
    rng = np.random.default_rng(6)
    kw = dict(num_layers=2, bidirectional=True, dtype=np.float64, seed=3, **opts)
    with_rd = make_layer(kind, D, 4, recurrent_dropout=0.5, **kw)
    without = make_layer(kind, D, 4, **kw)
    assert with_rd.state_dict().keys() == without.state_dict().keys()
    without.load_state_dict(with_rd.state_dict())
    x = rng.standard_normal((5, 2, D))
    s0 = random_state(without, 2, rng)
    outs = []
    for layer in (with_rd.eval(), without.eval()):
        y, sn = layer(x, s0, [5, 3], backend=backend)
        R, W = loss_weights(y, sn, np.random.default_rng(0), np.float64)
        outs.append((y, sn, *layer.backward(R, W), dict(layer.grads)))
    for a, b in zip(outs[0][:4], outs[1][:4]):
        _close(a, b)
    for k in outs[1][4]:
        np.testing.assert_array_equal(outs[0][4][k], outs[1][4][k])
    # the kernel runs it again in evaluation (not the LSTM's proj_size); in training the RNN's
    # and GRU's kernels and the standard LSTM's options kernel apply the mask
    plain = not opts.get("proj_size")
    assert with_rd.kernel_fits() is plain
    assert with_rd.train().kernel_fits() is (kind != "LSTM" or not opts)
    assert np.abs(with_rd(x, s0)[0] - outs[0][0]).max() > 1e-3


def test_zoneout_in_eval_is_the_expectation():
    """One step: zoneout keeps h_0 (mask 1) or takes the candidate (mask 0); evaluation gives
    z_h h_0 + (1 - z_h) h^ and z_c c_0 + (1 - z_c) c^, the mean over the masks."""
    layer = spread_ln(rnnlab.LSTM(D, 4, proj_size=3, layer_norm=True, dtype=np.float64, seed=2))
    p = layer.cell_params(0)
    rng = np.random.default_rng(7)
    x, h0, c0 = rng.standard_normal((1, 5, D)), rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    ones = (np.ones((1, 5, 4)), np.ones((1, 5, 3)))
    zeros = (np.zeros((1, 5, 4)), np.zeros((1, 5, 3)))
    _, (h_keep, c_keep), _ = lstm_options.forward(x, (h0, c0), p, zoneout=ones)
    _, (h_new, c_new), _ = lstm_options.forward(x, (h0, c0), p, zoneout=zeros)
    np.testing.assert_array_equal(h_keep, h0)
    np.testing.assert_array_equal(c_keep, c0)
    z = (0.3, 0.6)
    _, (h, c), _ = lstm_options.forward(x, (h0, c0), p, zoneout=z)
    np.testing.assert_allclose(h, z[1] * h0 + (1 - z[1]) * h_new, **EXACT)
    np.testing.assert_allclose(c, z[0] * c0 + (1 - z[0]) * c_new, **EXACT)
    # the layer in eval mode passes (z_c, z_h); in training it draws 0/1 masks with those means
    big = rnnlab.LSTM(D, 8, zoneout=z, seed=0)
    zc, zh = big.call_options(0, 0, 300, 40)["zoneout"]
    assert set(np.unique(zc)) == {0, 1} and abs(zc.mean() - z[0]) < 0.01
    assert abs(zh.mean() - z[1]) < 0.01
    assert big.eval().call_options(0, 0, 300, 40)["zoneout"] == z


@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_options_cell_with_every_option_off_is_the_plain_cell(lengths):
    layer = rnnlab.LSTM(D, 4, dtype=np.float64, seed=1)
    p = layer.cell_params(0)
    rng = np.random.default_rng(8)
    x, s0 = rng.standard_normal((4, 3, D)), (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))
    mask = (rng.random((3, 4)) > 0.3) / 0.7
    lens = None if lengths is None else np.array(lengths)
    y1, s1, c1 = lstm_cell.forward(x, s0, p, lens, recurrent_mask=mask)
    y2, s2, c2 = lstm_options.forward(x, s0, p, lens, recurrent_mask=mask)
    np.testing.assert_allclose(y2, y1, **EXACT)
    _close(s2, s1)
    dy, ds = rng.standard_normal(y1.shape), (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))
    b1, b2 = lstm_cell.backward(dy, ds, c1), lstm_options.backward(dy, ds, c2)
    np.testing.assert_allclose(b2[0], b1[0], **EXACT)
    _close(b2[1], b1[1])
    for k in b1[2]:
        np.testing.assert_allclose(b2[2][k], b1[2][k], err_msg=k, **EXACT)
    for name in lstm_cell.GATES:
        np.testing.assert_allclose(c2[name], c1[name], err_msg=name, **EXACT)


# ------------------------------------------------------------------ the equations, by hand
def test_first_step_of_the_layer_normalised_projected_lstm_by_hand():
    layer = spread_ln(rnnlab.LSTM(D, 4, proj_size=2, layer_norm=True, dtype=np.float64, seed=4))
    p = layer.cell_params(0)
    rng = np.random.default_rng(9)
    x, h0, c0 = rng.standard_normal((3, 2, D)), rng.standard_normal((2, 2)), rng.standard_normal((2, 4))

    def ln(v, g, b):                              # written out, independent of functional.py
        mu, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
        return g * (v - mu) / np.sqrt(var + 1e-5) + b

    sig = lambda v: 1 / (1 + np.exp(-v))          # noqa: E731
    a = (ln(x[0] @ p["weight_ih"].T, p["ln_ih_weight"], p["ln_ih_bias"])
         + ln(h0 @ p["weight_hh"].T, p["ln_hh_weight"], p["ln_hh_bias"]) + p["bias_ih"] + p["bias_hh"])
    i, f, g, o = sig(a[:, :4]), sig(a[:, 4:8]), np.tanh(a[:, 8:12]), sig(a[:, 12:])
    c1 = f * c0 + i * g
    m = o * np.tanh(ln(c1, p["ln_c_weight"], p["ln_c_bias"]))
    h1 = m @ p["weight_hr"].T
    y, _, gates = layer.eval().forward_with_gates(x, (h0[None], c0[None]))
    for name, want in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c1), ("m", m), ("h", h1),
                       ("c_norm", ln(c1, p["ln_c_weight"], p["ln_c_bias"]))):
        np.testing.assert_allclose(gates[(0, 0, name)][0], want, err_msg=name, **EXACT)
    np.testing.assert_allclose(y[0], h1, **EXACT)
    assert y.shape == (3, 2, 2) and gates[(0, 0, "c")].shape == (3, 2, 4)


def test_gates_are_named_in_the_registry_with_a_legend():
    spec = registry.get("lstm")
    layer = rnnlab.LSTM(D, 4, proj_size=2, layer_norm=True, zoneout=0.1)
    _, _, gates = layer.forward_with_gates(np.ones((3, 2, D), np.float32))
    names = {n for (_, _, n) in gates}
    assert {"i", "f", "g", "o", "c", "h", "tanh_c", "j", "k", "c_norm", "m"} == names
    assert names <= set(spec.gates) and names <= set(spec.legend)
    assert {"c_norm", "m"} <= set(spec.legend)
    plain = rnnlab.LSTM(D, 4).forward_with_gates(np.ones((3, 2, D), np.float32))[2]
    assert {n for (_, _, n) in plain} == set(lstm_cell.GATES)


# ------------------------------------------------------------------ names, shapes, init
def test_parameter_names_shapes_and_initialisation():
    P, Hh = 2, 4
    layer = rnnlab.LSTM(D, Hh, num_layers=2, bidirectional=True, proj_size=P, layer_norm=True,
                        seed=0)
    expected = {}
    for k in range(2):
        for s in (f"_l{k}", f"_l{k}_reverse"):
            expected.update({"weight_ih" + s: (4 * Hh, D if k == 0 else 2 * P),
                             "weight_hh" + s: (4 * Hh, P), "bias_ih" + s: (4 * Hh,),
                             "bias_hh" + s: (4 * Hh,), "weight_hr" + s: (P, Hh),
                             "ln_ih_weight" + s: (4 * Hh,), "ln_ih_bias" + s: (4 * Hh,),
                             "ln_hh_weight" + s: (4 * Hh,), "ln_hh_bias" + s: (4 * Hh,),
                             "ln_c_weight" + s: (Hh,), "ln_c_bias" + s: (Hh,)})
    assert {k: v.shape for k, v in layer.params.items()} == expected
    assert list(layer.params)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                      "bias_hh_l0", "weight_hr_l0"]        # torch's order
    for k, v in layer.params.items():
        if k.startswith("ln_"):
            np.testing.assert_array_equal(v, 1.0 if "_weight" in k else 0.0)
        else:
            assert np.abs(v).max() <= 1 / np.sqrt(Hh) and np.abs(v).max() > 0
    nob = rnnlab.LSTM(D, Hh, layer_norm=True, bias=False)
    assert sorted(nob.params) == ["ln_c_weight_l0", "ln_hh_weight_l0", "ln_ih_weight_l0",
                                  "weight_hh_l0", "weight_ih_l0"]
    y, (h, c) = layer(np.zeros((5, 3, D), np.float32))
    assert y.shape == (5, 3, 2 * P) and h.shape == (4, 3, P) and c.shape == (4, 3, Hh)
    assert layer.output_size == 2 * P and layer.zero_state(3)[0].shape == (4, 3, P)


def test_orthogonal_recurrent_init_with_a_projection():
    layer = rnnlab.LSTM(D, 5, proj_size=3, recurrent_init="orthogonal", dtype=np.float64,
                        seed=0)
    W = layer.params["weight_hh_l0"]
    for g in range(4):
        block = W[g * 5:(g + 1) * 5]                # (H, P): orthonormal columns
        np.testing.assert_allclose(block.T @ block, np.eye(3), atol=1e-12)


def test_what_runs_each_configuration():
    from rnnlab.nn.kernels import lstm as plain_kernel
    from rnnlab.nn.kernels import lstm_options as options_kernel
    assert rnnlab.LSTM(D, 4).implementation("numba") is plain_kernel
    for opts in (dict(proj_size=2), dict(layer_norm=True), dict(zoneout=0.1)):
        layer = rnnlab.LSTM(D, 4, **opts)
        assert layer.cell_module() is lstm_options
        runs = lstm_options if "proj_size" in opts else options_kernel
        assert layer.implementation("numba") is runs is layer.eval().implementation("numba")
        with pytest.raises(rnnlab.RnnlabError, match="no fused kernel to step with"):
            layer.steppers()
    layer = rnnlab.LSTM(D, 4, recurrent_dropout=0.2)     # the mask in training only
    assert layer.implementation("numba") is options_kernel
    assert layer.eval().implementation("numba") is plain_kernel and layer.steppers()
    assert rnnlab.LSTM(D, 4, recurrent_dropout=0.2, variant="coupled").implementation(
        "numba") is lstm_cell
    assert rnnlab.LSTM(D, 4, recurrent_dropout=0.2).cell_module() is lstm_cell
    assert "proj_size=2, layer_norm=True" in repr(rnnlab.LSTM(D, 4, proj_size=2, layer_norm=True))


# ------------------------------------------------------------------ fuzzing
@st.composite
def option_cases(draw):
    Hh = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["LSTM", "LSTM", "RNN", "GRU"]))
    opts = {"recurrent_dropout": draw(st.sampled_from([0.0, 0.3]))}
    if kind == "LSTM":
        opts.update(proj_size=draw(st.integers(0, Hh - 1)), layer_norm=draw(st.booleans()),
                    zoneout=(draw(st.sampled_from([0.0, 0.2])), draw(st.sampled_from([0.0, 0.5]))))
    T, Bb = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    lengths = draw(st.none() | st.lists(st.integers(0, T), min_size=Bb, max_size=Bb))
    layout = dict(num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
                  bias=draw(st.booleans()), dtype=draw(st.sampled_from([np.float32, np.float64])))
    return (kind, Hh, opts, layout, T, Bb, lengths, draw(st.booleans()), draw(st.booleans()),
            draw(st.integers(0, 2 ** 16)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(option_cases())
def test_fuzz_options_finite_shapes_and_backends(case):
    """Any shapes and options: outputs and gradients finite, in the layer's dtype and shapes;
    the numba backend gives what the reference gives (it runs the kernel where it fits)."""
    kind, Hh, opts, layout, T, Bb, lengths, with_state, training, seed = case
    layer = make_layer(kind, D, Hh, seed=seed, **opts, **layout)
    layer.train(training)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, Bb, D)).astype(layer.dtype)
    state = random_state(layer, Bb, rng) if with_state else None
    saved = layer.rng.bit_generator.state
    results = []
    for backend in ("numpy", "numba"):
        layer.rng.bit_generator.state = saved                    # the same masks
        layer.zero_grad()
        y, sn = layer(x, state, lengths, backend=backend)
        assert y.shape == (T, Bb, layer.output_size) and y.dtype == layer.dtype
        R, W = loss_weights(y, sn, np.random.default_rng(0), layer.dtype)
        dx, ds0 = layer.backward(R, W)
        flat = [y, dx, *(sn if isinstance(sn, tuple) else (sn,)),
                *(ds0 if isinstance(ds0, tuple) else (ds0,)), *layer.grads.values()]
        assert all(a.dtype == layer.dtype and np.isfinite(a).all() for a in flat)
        results.append([a.copy() for a in flat])
    tol = dict(rtol=1e-4, atol=1e-5) if layer.dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, **tol)
