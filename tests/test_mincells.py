"""minGRU and minLSTM beyond the registry-wide tests (which gradcheck both modes, run the
kernels against the reference and the layers' contracts): the two modes are one function,
a long sequence fed in chunks equals the whole, the cache holds the paper's equations, the
outside reference (lucidrains' minGRU-pytorch, when installed) computes the same, the torch
twin matches forward and backward, and the errors name their fix."""
import numpy as np
import pytest

import rnnlab
from rnnlab.errors import RnnlabError
from rnnlab.nn.cells import mingru as mingru_cell
from rnnlab.nn.cells import minlstm as minlstm_cell

from engine_helpers import loss_weights, rel_err

LAYERS = {"mingru": rnnlab.MinGRU, "minlstm": rnnlab.MinLSTM}
BACKENDS = ["numpy", "numba"]


def run(cls, mode, backend, x, h0, lengths, R, S, **kw):
    layer = cls(x.shape[-1], 5, dtype=np.float64, seed=4, mode=mode, **kw)
    y, hn = layer(x, h0, lengths, backend=backend)
    dx, dh0 = layer.backward(R, S)
    return [y, hn, dx, dh0] + [layer.grads[k] for k in sorted(layer.grads)]


def assert_rel(a, b, tol, what=""):
    err = np.abs(np.asarray(a) - b).max() / max(np.abs(b).max(), 1e-300)
    assert err <= tol, f"{what}: relative error {err:.2e} > {tol:.0e}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cell", list(LAYERS))
def test_parallel_equals_recurrent_forward_and_backward(cell, backend):
    """The log-space scan and the step-by-step recurrence agree to 1e-12 (float64), with
    stacking, both directions, ragged lengths, an initial state and batch_first."""
    rng = np.random.default_rng(0)
    T, B, D = 9, 4, 3
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    x = rng.standard_normal((B, T, D))
    h0 = rng.standard_normal((4, B, 5))
    lengths = np.array([9, 4, 1, 0])
    R = rng.standard_normal((B, T, 10))
    S = rng.standard_normal((4, B, 5))
    par = run(LAYERS[cell], "parallel", backend, x, h0, lengths, R, S, **kw)
    rec = run(LAYERS[cell], "recurrent", backend, x, h0, lengths, R, S, **kw)
    for i, (a, b) in enumerate(zip(par, rec)):
        assert_rel(a, b, 1e-12, f"output {i}")


@pytest.mark.parametrize("mode", mingru_cell.MODES)
@pytest.mark.parametrize("cell", list(LAYERS))
def test_long_sequence_in_chunks_equals_the_whole(cell, mode):
    """T = 2000 fed in chunks of 300 with the state carried gives the whole sequence's y and
    h_n (the log-space scan's error grows with |A_T| ~ 1500 here: measured ~1.3e-13), and
    backward chunk by chunk gives the whole sequence's gradients."""
    rng = np.random.default_rng(1)
    T, B, D = 2000, 2, 3
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((1, B, 5))
    layer = LAYERS[cell](D, 5, dtype=np.float64, seed=2, mode=mode)
    y, hn = layer(x, h0, backend="numba")
    R, S = loss_weights(y, hn, rng, np.float64)
    dx, dh0 = layer.backward(R, S)
    whole = {k: v.copy() for k, v in layer.grads.items()}
    starts = list(range(0, T, 300)) + [T]
    states, ys, s = [], [], h0
    for a, b in zip(starts[:-1], starts[1:]):
        states.append(s)
        yk, s = layer(x[a:b], s, backend="numba")
        ys.append(yk)
    assert_rel(np.concatenate(ys), y, 1e-12, "y")
    assert_rel(s, hn, 1e-12, "h_n")
    layer.zero_grad()
    dxs, ds = [None] * len(states), S
    for k in reversed(range(len(states))):
        a, b = starts[k], starts[k + 1]
        layer(x[a:b], states[k], backend="numba")
        dxs[k], ds = layer.backward(R[a:b], ds)
    assert_rel(np.concatenate(dxs), dx, 1e-12, "dx")
    assert_rel(ds, dh0, 1e-12, "dh0")
    for k, v in whole.items():
        assert_rel(layer.grads[k], v, 1e-12, k)


@pytest.mark.parametrize("mode", mingru_cell.MODES)
def test_mingru_cache_holds_the_equations(mode):
    rng = np.random.default_rng(2)
    T, B, D, H = 6, 3, 4, 5
    p = {"weight_ih": rng.uniform(-1, 1, (2 * H, D)), "bias_ih": rng.uniform(-1, 1, 2 * H)}
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    y, hn, c = mingru_cell.forward(x, h0, p, mode=mode)
    a = x @ p["weight_ih"].T + p["bias_ih"]
    z = 1 / (1 + np.exp(-a[..., :H]))
    ah = a[..., H:]
    g = np.where(ah >= 0, ah + 0.5, 1 / (1 + np.exp(-ah)))
    np.testing.assert_allclose(c["z"], z, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c["h_tilde"], g, rtol=1e-13, atol=1e-15)
    assert (c["h_tilde"] > 0).all() and (ah < 0).any() and (ah >= 0).any()
    h, prev = [], h0
    for t in range(T):
        prev = (1 - z[t]) * prev + z[t] * g[t]
        h.append(prev)
    np.testing.assert_allclose(c["h"], np.array(h), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y, c["h"], rtol=0, atol=0)
    np.testing.assert_allclose(hn, c["h"][-1], rtol=0, atol=0)


@pytest.mark.parametrize("mode", mingru_cell.MODES)
def test_minlstm_cache_holds_the_equations(mode):
    rng = np.random.default_rng(3)
    T, B, D, H = 6, 3, 4, 5
    p = {"weight_ih": rng.uniform(-1, 1, (3 * H, D)), "bias_ih": rng.uniform(-1, 1, 3 * H)}
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    y, hn, c = minlstm_cell.forward(x, h0, p, mode=mode)
    a = x @ p["weight_ih"].T + p["bias_ih"]
    sig = lambda v: 1 / (1 + np.exp(-v))          # noqa: E731
    i, f, ah = sig(a[..., :H]), sig(a[..., H:2 * H]), a[..., 2 * H:]
    g = np.where(ah >= 0, ah + 0.5, sig(ah))
    for name, want in (("i", i), ("f", f), ("h_tilde", g), ("f_prime", f / (f + i)),
                       ("i_prime", i / (f + i))):
        np.testing.assert_allclose(c[name], want, rtol=1e-13, atol=1e-15, err_msg=name)
    np.testing.assert_allclose(c["f_prime"] + c["i_prime"], 1, rtol=0, atol=1e-15)
    h, prev = [], h0
    for t in range(T):
        prev = f[t] / (f[t] + i[t]) * prev + i[t] / (f[t] + i[t]) * g[t]
        h.append(prev)
    np.testing.assert_allclose(c["h"], np.array(h), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y, c["h"], rtol=0, atol=0)


# ------------------------------------------------------------------ outside reference
@pytest.mark.parametrize("cell", list(LAYERS))
def test_matches_lucidrains_mingru_pytorch(cell):
    """lucidrains/minGRU-pytorch (pip install minGRU-pytorch), the paper's log-space code,
    with its weights mapped: its Linear stacks (hidden, gate) / (hidden, f, i) without bias,
    rnnlab stacks (z, h) / (i, f, h). Its parallel path (T > 1) from a zero state, and for
    minGRU from a positive state (it takes log h_0); its minLSTM feeds log g(h_0) instead of
    log h_0 into the scan, which is not the recurrence it steps with, so that path is not
    compared."""
    torch = pytest.importorskip("torch")
    mp = pytest.importorskip("minGRU_pytorch")
    from minGRU_pytorch.minLSTM import minLSTM
    torch.manual_seed(0)
    H, T, B = 6, 11, 3
    ref = (mp.minGRU(H) if cell == "mingru" else minLSTM(H)).double()
    W = [w.detach().numpy() for w in ref.to_hidden_and_gate.weight.chunk(2)] if cell == \
        "mingru" else [w.detach().numpy() for w in ref.to_hidden_and_f_i_gate.weight.chunk(3)]
    order = [1, 0] if cell == "mingru" else [2, 1, 0]        # -> (z, h) / (i, f, h)
    for mode in mingru_cell.MODES:
        layer = LAYERS[cell](H, H, bias=False, dtype=np.float64, batch_first=True, mode=mode)
        layer.load_state_dict({"weight_ih_l0": np.concatenate([W[k] for k in order])})
        x = np.random.default_rng(5).standard_normal((B, T, H))
        with torch.no_grad():
            want = ref(torch.from_numpy(x)).numpy()
        y, _ = layer(x)
        assert_rel(y, want, 1e-12, f"{cell} {mode} from zero")
        if cell == "mingru":
            h0 = np.random.default_rng(6).uniform(0.1, 2.0, (1, B, H))
            with torch.no_grad():
                want = ref(torch.from_numpy(x), torch.from_numpy(h0.transpose(1, 0, 2))).numpy()
            y, _ = layer(x, h0)
            assert_rel(y, want, 1e-12, f"{cell} {mode} from h0")


# ------------------------------------------------------------------ the torch twin
@pytest.mark.parametrize("mode", mingru_cell.MODES)
@pytest.mark.parametrize("cell", list(LAYERS))
def test_torch_twin_matches_forward_and_backward(cell, mode):
    torch = pytest.importorskip("torch")
    from rnnlab.interop.torch_min import MinRNN
    rng = np.random.default_rng(7)
    T, B, D, H = 7, 3, 4, 5
    layer = LAYERS[cell](D, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=3,
                         mode=mode)
    twin = MinRNN(cell, D, H, num_layers=2, bidirectional=True, mode=mode, dtype=torch.float64)
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((4, B, H))
    y, hn = layer(x, h0)
    R, S = loss_weights(y, hn, rng, np.float64)
    dx, dh0 = layer.backward(R, S)
    xt = torch.tensor(x, requires_grad=True)
    ht = torch.tensor(h0, requires_grad=True)
    yt, hnt = twin(xt, ht)
    ((yt * torch.from_numpy(R)).sum() + (hnt * torch.from_numpy(S)).sum()).backward()
    for a, b, what in ((y, yt, "y"), (hn, hnt, "h_n"), (dx, xt.grad, "dx"), (dh0, ht.grad, "dh0")):
        assert rel_err(a, b.detach().numpy()) < 1e-12, what
    for k, p in twin.named_parameters():
        assert rel_err(layer.grads[k], p.grad.numpy()) < 1e-12, k


@pytest.mark.parametrize("cell", list(LAYERS))
def test_build_twin_names_and_forward(cell):
    torch = pytest.importorskip("torch")
    from rnnlab.interop.torch import build_twin, torch_state_dict
    from rnnlab.tasks.model import ModelConfig, SequenceModel
    cfg = ModelConfig(task="text", cell=cell, input_size=9, output_size=9, hidden=6, layers=2,
                      embed=4, seed=1, cell_options={"mode": "recurrent"})
    model = SequenceModel(cfg).eval()
    twin = build_twin(cfg).eval()
    twin.load_state_dict(torch_state_dict(model))            # strict: names and shapes
    assert twin.rnn.mode == "recurrent"
    ids = np.random.default_rng(0).integers(0, 9, (8, 2)).astype(np.int64)
    out, hn = model.forward(ids)
    with torch.no_grad():
        t_out, t_hn = twin(torch.from_numpy(ids))
    np.testing.assert_allclose(t_out.numpy(), out, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t_hn.numpy(), hn, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("cls", list(LAYERS.values()))
def test_bad_mode_and_recurrent_init_are_one_line_errors(cls):
    with pytest.raises(RnnlabError, match="mode must be 'parallel' or 'recurrent', got 'scan'"):
        cls(3, 4, mode="scan")
    with pytest.raises(RnnlabError, match="no recurrent weights.*leave recurrent_init at"):
        cls(3, 4, recurrent_init="orthogonal")
    with pytest.raises(RnnlabError, match="variant is not an option of the"):
        cls(3, 4, variant="peephole")


def test_onnx_export_names_the_torch_export():
    pytest.importorskip("onnx")
    from rnnlab.interop.onnx import layer_to_onnx
    with pytest.raises(RnnlabError, match=r"no ONNX operator.*rnnlab export RUN --format torch"):
        layer_to_onnx(rnnlab.MinGRU(3, 4))


def test_mode_is_an_option_of_the_min_cells_only():
    from rnnlab.tasks.model import ModelConfig
    ModelConfig(layers=1, task="series", cell="minlstm", input_size=1, output_size=1,
                cell_options={"mode": "recurrent"}).validate()
    with pytest.raises(RnnlabError, match="--mode is not an option of the gru cell"):
        ModelConfig(layers=1, task="series", cell="gru", input_size=1, output_size=1,
                    cell_options={"mode": "recurrent"}).validate()


def test_stepper_generates_what_the_parallel_layer_computes():
    layer = rnnlab.MinLSTM(3, 5, num_layers=2, seed=0, dtype=np.float64)
    x = np.random.default_rng(8).standard_normal((6, 1, 3))
    y, _ = layer(x)
    steppers = layer.steppers()
    for t in range(6):
        h = x[t, 0]
        for s in steppers:
            h = s.step(h)
        assert_rel(h, y[t, 0], 1e-12, f"step {t}")


@pytest.mark.parametrize("cell", list(LAYERS))
def test_explain_page_shows_the_gates_with_legends(cell):
    from rnnlab.nn import registry
    from rnnlab.tasks.model import ModelConfig, SequenceModel
    from rnnlab.viz.explain import read_explain_payload, render_explain_html
    from rnnlab.viz.inspect import explain_payload
    vocab = list("abc ")
    cfg = ModelConfig(task="text", cell=cell, input_size=4, output_size=4, hidden=3, layers=2,
                      seed=0)
    payload = explain_payload(SequenceModel(cfg), "ab ca", vocab=vocab)
    page = read_explain_payload(render_explain_html(payload))
    spec = registry.get(cell)
    assert page["cell"] == cell and page["variant"] == "parallel"
    shown = {name for name in spec.gates if any(name in str(k) for k in page["quantities"])}
    assert set(spec.plotted) <= shown
    for name in spec.plotted:
        assert page["legend"][name] == spec.legend[name]
