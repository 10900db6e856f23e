"""The sLSTM and mLSTM (xLSTM) cells beyond what the registry-parametrised tests check with
their defaults: every option (heads, the forget gate, the mLSTM's mode) through the
finite-difference gradient check and the layer options (stacking, bidirectional, lengths,
initial state, batch_first); the mLSTM's parallel form against its recurrent form (1e-12,
forward and backward); a long sequence in chunks; what the cache holds; the initialisation;
bad input."""
import itertools

import numpy as np
import pytest

from rnnlab import MLSTM, SLSTM, RnnlabError
from rnnlab.nn.cells import mlstm as mlstm_cell
from rnnlab.nn.cells import slstm as slstm_cell

from engine_helpers import (check_steppers_like_forward, loss_weights, random_state, rel_err,
                            state_list)
from test_gradcheck import CONFIGS, TOL, gradcheck

D, H = 3, 4
EXACT = 1e-12

OPTIONS = {
    "slstm": [dict(num_heads=h, forget_gate=f)
              for h, f in itertools.product([1, 2], ["sigmoid", "exp"])],
    "mlstm": [dict(num_heads=h, forget_gate=f, mode=m) for h, f, m in
              itertools.product([1, 2], ["sigmoid", "exp"], ["parallel", "recurrent"])],
}
CASES = [(cell, opts) for cell, all_opts in OPTIONS.items() for opts in all_opts]
IDS = [cell + "-" + "-".join(str(v) for v in opts.values()) for cell, opts in CASES]
LAYERS = {"slstm": SLSTM, "mlstm": MLSTM}


def fresh_factory(cell, opts, cfg_opts, eval_mode):
    def fresh():
        layer = LAYERS[cell](D, H, dtype=np.float64, seed=11, **opts, **cfg_opts)
        return layer.eval() if eval_mode else layer
    return fresh


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("cell,opts", CASES, ids=IDS)
def test_gradcheck_every_option(cell, opts, config):
    cfg_opts, T, B, give_state, lengths, unbatched, eval_mode = CONFIGS[config]
    rng = np.random.default_rng(5)
    fresh = fresh_factory(cell, opts, cfg_opts, eval_mode)
    layer = fresh()
    xs = (T, D) if unbatched else ((B, T, D) if layer.batch_first else (T, B, D))
    x = rng.standard_normal(xs)
    state = random_state(layer, B, rng, unbatched=unbatched) if give_state else None
    errs = gradcheck(fresh, x, state, None if lengths is None else np.array(lengths))
    assert len(errs) == 1 + (len(state_list(state)) if state is not None else 0) + len(layer.params)
    bad = {k: v for k, v in errs.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


@pytest.mark.parametrize("mode", ["parallel", "recurrent"])
def test_mlstm_gradcheck_on_both_branches_of_the_denominator(mode):
    """h~ = C q / max(|n.q|, exp(-m)): an initial m of +3 in one row and -3 in the other makes
    the read-out take each branch of the max; the gradient is right on both."""
    rng = np.random.default_rng(0)
    fresh = fresh_factory("mlstm", dict(num_heads=2, mode=mode), {}, False)
    x = rng.standard_normal((5, 2, D))
    C0, n0, m0 = random_state(fresh(), 2, rng)
    n0 *= 4
    m0[:, 0], m0[:, 1] = 3.0, -3.0
    cache = mlstm_cell.forward_recurrent(x, (C0[0], n0[0], m0[0]), fresh().cell_params(0),
                                         num_heads=2)[2]
    wins = np.abs(cache["s"]) >= np.exp(-cache["ms"])
    assert wins.any() and (~wins).any()
    errs = gradcheck(fresh, x, (C0, n0, m0), None)
    assert max(errs.values()) < TOL, errs


# ------------------------------------------------------------------ parallel == recurrent
def _run(layer, x, state, lengths, R, W):
    layer.zero_grad()
    y, sn = layer(x, state, lengths)
    dx, ds0 = layer.backward(R, W)
    grads = [layer.grads[k] for k in sorted(layer.grads)]
    return [y, *state_list(sn), dx, *state_list(ds0)] + grads


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mlstm_parallel_equals_recurrent(heads, forget_gate, batch_first):
    rng = np.random.default_rng(3)
    T, B, Hm = 9, 4, 6
    kw = dict(num_layers=2, bidirectional=True, num_heads=heads, forget_gate=forget_gate,
              dtype=np.float64, seed=2, batch_first=batch_first)
    par, rec = MLSTM(5, Hm, mode="parallel", **kw), MLSTM(5, Hm, mode="recurrent", **kw)
    rec.load_state_dict(par.state_dict())
    x = rng.standard_normal((B, T, 5) if batch_first else (T, B, 5))
    state = random_state(par, B, rng)
    lengths = np.array([9, 4, 0, 1])
    y, sn = par(x, state, lengths)
    R, W = loss_weights(y, sn, rng, np.float64)
    a, b = _run(par, x, state, lengths, R, W), _run(rec, x, state, lengths, R, W)
    for u, v in zip(a, b):
        assert rel_err(u, v) < EXACT
    # the gates the page shows agree too, at every real step
    _, _, ga = par.forward_with_gates(x, state, lengths)
    _, _, gb = rec.forward_with_gates(x, state, lengths)
    real = (np.arange(T)[:, None] < lengths)[..., None]
    for key in ga:
        assert rel_err(ga[key] * real, gb[key] * real) < EXACT, key


# ------------------------------------------------------------------ chunks
@pytest.mark.parametrize("cell,opts", [("slstm", dict(num_heads=2)),
                                       ("slstm", dict(forget_gate="exp")),
                                       ("mlstm", dict(num_heads=2)),
                                       ("mlstm", dict(mode="recurrent", forget_gate="exp"))])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_long_sequence_in_chunks_equals_the_whole(cell, opts, backend):
    """A long sequence (T = 120) fed in chunks with the returned state carried equals the
    whole sequence, forward and backward (the stabiliser m is part of the carried state)."""
    rng = np.random.default_rng(4)
    layer = LAYERS[cell](D, H, num_layers=2, dtype=np.float64, seed=1, **opts)
    x = 2 * rng.standard_normal((120, 2, D))
    y, sn = layer(x, backend=backend)
    R, W = loss_weights(y, sn, rng, np.float64)
    dx, ds0 = layer.backward(R, W)
    whole = {k: v.copy() for k, v in layer.grads.items()}
    starts, states, ys, s = [0, 7, 50, 51, 120], [], [], None
    for a, b in zip(starts[:-1], starts[1:]):
        states.append(s)
        yk, s = layer(x[a:b], s, backend=backend)
        ys.append(yk)
    assert rel_err(np.concatenate(ys), y) < EXACT
    for u, v in zip(state_list(s), state_list(sn)):
        assert rel_err(u, v) < EXACT
    layer.zero_grad()
    dxs, dstate = [], W
    for k in reversed(range(len(starts) - 1)):
        a, b = starts[k], starts[k + 1]
        layer(x[a:b], states[k], backend=backend)
        dxk, dstate = layer.backward(R[a:b], dstate)
        dxs.insert(0, dxk)
    assert rel_err(np.concatenate(dxs), dx) < EXACT
    for k, g in whole.items():
        assert rel_err(layer.grads[k], g) < EXACT, k


# ------------------------------------------------------------------ the cache
def test_slstm_cache_has_the_documented_gates():
    rng = np.random.default_rng(6)
    layer = SLSTM(D, 6, num_heads=2, dtype=np.float64, seed=3)
    p = layer.cell_params(0)
    x = rng.standard_normal((5, 2, D))
    h0, c0, m0 = (rng.standard_normal((2, 6)) for _ in range(3))
    n0 = 0.5 + np.abs(rng.standard_normal((2, 6)))
    y, (h, c, n, m), g = slstm_cell.forward(x, (h0, c0, n0, m0), p)
    prev = {k: np.concatenate([v0[None], g[k][:-1]]) for k, v0 in
            (("c", c0), ("n", n0), ("m", m0))}
    np.testing.assert_allclose(g["m"], np.maximum(g["log_f"] + prev["m"], g["log_i"]), atol=0)
    np.testing.assert_allclose(g["i_s"], np.exp(g["log_i"] - g["m"]), rtol=EXACT)
    np.testing.assert_allclose(g["f_s"], np.exp(g["log_f"] + prev["m"] - g["m"]), rtol=EXACT)
    np.testing.assert_allclose(g["c"], g["f_s"] * prev["c"] + g["i_s"] * g["z"], rtol=EXACT)
    np.testing.assert_allclose(g["n"], g["f_s"] * prev["n"] + g["i_s"], rtol=EXACT)
    np.testing.assert_allclose(g["h"], g["o"] * g["c"] / g["n"], rtol=EXACT)
    np.testing.assert_allclose(y, g["h"], rtol=EXACT)
    assert np.all(g["log_f"] < 0)                            # sigmoid forget gate: f < 1
    assert np.all((g["i_s"] > 0) & (g["i_s"] <= 1) & (g["f_s"] > 0) & (g["f_s"] <= 1))
    assert np.all(np.maximum(g["i_s"], g["f_s"]) == 1)       # one of them is the max


def test_mlstm_cache_has_the_documented_gates():
    rng = np.random.default_rng(7)
    layer = MLSTM(D, 6, num_heads=2, dtype=np.float64, seed=3)
    x = rng.standard_normal((5, 2, D))
    y, _, gates = layer.forward_with_gates(x)
    for name in mlstm_cell.GATES:
        assert gates[(0, 0, name)].shape == (5, 2, 6)
    g = {name: gates[(0, 0, name)] for name in mlstm_cell.GATES}
    np.testing.assert_allclose(g["h"], g["o"] * g["h_tilde"], rtol=EXACT)
    np.testing.assert_allclose(y, g["h"], rtol=EXACT)
    for name in ("i_s", "f_s", "log_i", "log_f"):            # one value per head
        a = g[name].reshape(5, 2, 2, 3)
        assert np.all(a == a[..., :1])
    assert np.all((g["i_s"] > 0) & (g["i_s"] <= 1) & (g["f_s"] > 0) & (g["f_s"] <= 1))


# ------------------------------------------------------------------ parameters and init
def test_parameter_names_shapes_and_state_shapes():
    s = SLSTM(D, 6, num_layers=2, bidirectional=True, num_heads=3)
    assert {k: v.shape for k, v in s.params.items()} == {
        f"{n}_l{k}{r}": shape for k in range(2) for r in ("", "_reverse")
        for n, shape in (("weight_ih", (24, D if k == 0 else 12)), ("weight_hh", (24, 2)),
                         ("bias", (24,)))}
    m = MLSTM(D, 6, num_layers=2, num_heads=3, bias=False)
    assert {k: v.shape for k, v in m.params.items()} == {"weight_ih_l0": (30, D),
                                                          "weight_ih_l1": (30, 6)}
    y, (C, n, mm) = m(np.zeros((4, 5, D), np.float32))
    assert y.shape == (4, 5, 6) and C.shape == (2, 5, 3, 2, 2) and n.shape == (2, 5, 6)
    assert mm.shape == (2, 5, 3)
    y, (C, n, mm) = m(np.zeros((4, D), np.float32))                   # unbatched
    assert C.shape == (2, 3, 2, 2) and n.shape == (2, 6) and mm.shape == (2, 3)
    zs = m.zero_state(5)
    assert [z.shape for z in zs] == [(2, 5, 3, 2, 2), (2, 5, 6), (2, 5, 3)]


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
def test_forget_bias_init(forget_gate):
    """Default: sigma(b) from sigma(3) to sigma(6) across each head's units (sLSTM) or across
    the heads (mLSTM), the same gate values for the exp gate (b = log sigma(3..6));
    forget_bias=v sets every one to v. init_overrides names exactly these entries."""
    want = np.linspace(3, 6, 4)
    s = SLSTM(D, 8, num_heads=2, forget_gate=forget_gate, dtype=np.float64, seed=0)
    b = s.params["bias_l0"][8:16]
    f = np.exp(slstm_cell.log_forget(b, forget_gate))
    np.testing.assert_allclose(f, 1 / (1 + np.exp(-np.tile(want, 2))), rtol=1e-12)
    assert s.init_overrides()["bias"][0] == slice(8, 16)
    m = MLSTM(D, 8, num_heads=4, forget_gate=forget_gate, dtype=np.float64, seed=0)
    fb = m.params["bias_l0"][36:40]
    np.testing.assert_allclose(np.exp(slstm_cell.log_forget(fb, forget_gate)),
                               1 / (1 + np.exp(-want)), rtol=1e-12)
    assert m.init_overrides()["bias"][0] == slice(36, 40)
    np.testing.assert_array_equal(SLSTM(D, 8, forget_bias=2.0).params["bias_l0"][8:16], 2.0)
    np.testing.assert_array_equal(MLSTM(D, 8, forget_bias=-1.0).params["bias_l0"][33], -1.0)
    assert SLSTM(D, 8, bias=False).init_overrides() == {}


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("cls", [SLSTM, MLSTM])
def test_bad_options(cls):
    with pytest.raises(RnnlabError, match=r"num_heads=3 does not divide hidden_size=4; pick a "
                                          r"divisor of 4"):
        cls(D, 4, num_heads=3)
    with pytest.raises(RnnlabError, match="num_heads must be a positive integer, got 0"):
        cls(D, 4, num_heads=0)
    with pytest.raises(RnnlabError, match="forget_gate must be 'sigmoid' or 'exp', got 'tanh'"):
        cls(D, 4, forget_gate="tanh")
    with pytest.raises(RnnlabError, match="forget_bias must be a finite number"):
        cls(D, 4, forget_bias=float("nan"))


def test_mlstm_bad_mode_and_orthogonal_init():
    with pytest.raises(RnnlabError, match="mode must be 'parallel' or 'recurrent', got 'scan'"):
        MLSTM(D, H, mode="scan")
    with pytest.raises(RnnlabError, match="no recurrent weights"):
        MLSTM(D, H, recurrent_init="orthogonal")


def test_slstm_negative_normaliser_is_refused():
    layer = SLSTM(D, H, num_layers=2)
    st = [np.zeros((2, 3, H), np.float32) for _ in range(4)]
    st[2][1, 2, 0] = -0.25
    with pytest.raises(RnnlabError, match=r"n_0 holds -0.25 at \(1, 2, 0\), below 0, the least "
                                          r"the slstm's n can be; pass the n_n a previous call "
                                          r"returned, or zeros"):
        layer(np.zeros((5, 3, D), np.float32), tuple(st))


def test_mlstm_state_shape_message_names_the_heads():
    layer = MLSTM(D, H, num_heads=2, num_layers=2)
    st = list(layer.zero_state(3))
    st[0] = np.zeros((2, 3, 2, 2, 3), np.float32)
    with pytest.raises(RnnlabError, match=r"C_0 has shape \(2, 3, 2, 2, 3\), expected "
                                          r"\(2, 3, 2, 2, 2\) = \(num_layers\*num_directions, B, "
                                          r"heads, H/heads, H/heads\)"):
        layer(np.zeros((5, 3, D), np.float32), tuple(st))


def test_onnx_export_names_the_torch_export(tmp_path):
    pytest.importorskip("onnx")
    from rnnlab.interop.onnx import export_onnx
    from rnnlab.tasks.model import ModelConfig, SequenceModel
    for cell in ("slstm", "mlstm"):
        model = SequenceModel(ModelConfig(layers=1, task="series", cell=cell, input_size=2, output_size=1,
                                          hidden=4))
        with pytest.raises(RnnlabError, match=f"the {cell} cell has no ONNX operator.*"
                                              r"`rnnlab export RUN --format torch`"):
            export_onnx(model, tmp_path / "m.onnx")
        assert not (tmp_path / "m.onnx").exists()


# ------------------------------------------------------------------ generation
@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
def test_slstm_steppers_stream_like_forward(forget_gate):
    layer = SLSTM(D, 6, num_layers=2, num_heads=3, forget_gate=forget_gate, dtype=np.float64,
                  seed=4)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((7, 1, D))
    y, sn = layer(x)
    check_steppers_like_forward(layer, x, y, sn, tol=EXACT)

