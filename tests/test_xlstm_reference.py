"""The xLSTM cells against outside references (docs/cells.md, "sLSTM and mLSTM").

1. An independent NumPy transcription of the paper's equations (Beck et al. 2024, eqs. 8-16
   for the sLSTM, 19-27 for the mLSTM), written here without the stabiliser, with the
   block-diagonal R written out as a full matrix and loops over heads: rnnlab's outputs equal
   it, and its stabilised states times exp(m) equal the paper's unstabilised ones (float64,
   1e-12). Always runs.
2. NX-AI/xlstm's pure-PyTorch implementation (the PyPI package ``xlstm``, its "vanilla" sLSTM
   pointwise cell and its mLSTM backends ``recurrent_step_stabilized_simple`` and
   ``parallel_stabilized_simple``), the core cell with the weights mapped, forward and
   backward (autograd through the package's forward against rnnlab's hand-written backward),
   float64, 1e-12. Skipped cleanly where torch or xlstm is not installed (CI installs neither
   xlstm).

To compare the core cells (the package's layers add a causal convolution, group norm,
projections and, for the mLSTM, gates computed from q, k, v), rnnlab's layer is given
weight_ih = I (input size = the number of pre-activations), so its input x IS the
pre-activation vector that the package's cell functions take, and dL/dx is the gradient
w.r.t. those pre-activations.
"""
import numpy as np
import pytest

from rnnlab import MLSTM, SLSTM

TOL = 1e-12
rng0 = np.random.default_rng


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def sig(a):
    return 1 / (1 + np.exp(-a))


# ----------------------------------------------------------------------------- the paper
def paper_slstm(x, p, heads, forget_gate, h, c, n):
    """The paper's sLSTM (eqs. 8-16), unstabilised: x (T, B, D); h, c, n (B, H)."""
    T, B, _ = x.shape
    H = p["weight_ih"].shape[0] // 4
    d = H // heads
    R = np.zeros((4 * H, H))                    # block-diagonal: unit j reads its own head
    for row in range(4 * H):
        j = (row % H) // d
        R[row, j * d:(j + 1) * d] = p["weight_hh"][row]
    ys, cs, ns = [], [], []
    for t in range(T):
        a = p["weight_ih"] @ x[t].T + R @ h.T + p["bias"][:, None]      # (4H, B)
        i = np.exp(a[:H])
        f = sig(a[H:2 * H]) if forget_gate == "sigmoid" else np.exp(a[H:2 * H])
        z, o = np.tanh(a[2 * H:3 * H]), sig(a[3 * H:])
        c = f * c.T + i * z
        n = f * n.T + i
        h = (o * c / n).T
        c, n = c.T, n.T
        ys.append(h)
        cs.append(c)
        ns.append(n)
    return np.array(ys), np.array(cs), np.array(ns)


def paper_mlstm(x, p, heads, forget_gate, C, n):
    """The paper's mLSTM (eqs. 19-27), unstabilised, head by head: C (B, heads, d, d),
    n (B, heads, d). Returns y (T, B, H), C_T, n_T."""
    T, B, _ = x.shape
    H = (p["weight_ih"].shape[0] - 2 * heads) // 4
    d = H // heads
    C, n = C.copy(), n.copy()
    y = np.zeros((T, B, H))
    for t in range(T):
        for b in range(B):
            a = p["weight_ih"] @ x[t, b] + p["bias"]
            for j in range(heads):
                u = slice(j * d, (j + 1) * d)
                q = a[:H][u]
                k = a[H:2 * H][u] / np.sqrt(d)
                v = a[2 * H:3 * H][u]
                o = sig(a[3 * H:4 * H][u])
                i = np.exp(a[4 * H + j])
                af = a[4 * H + heads + j]
                f = sig(af) if forget_gate == "sigmoid" else np.exp(af)
                C[b, j] = f * C[b, j] + i * np.outer(v, k)
                n[b, j] = f * n[b, j] + i * k
                y[t, b, u] = o * (C[b, j] @ q) / max(abs(n[b, j] @ q), 1.0)
    return y, C, n


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
@pytest.mark.parametrize("heads", [1, 3])
def test_slstm_equals_the_papers_equations(heads, forget_gate):
    rng = rng0(1)
    layer = SLSTM(4, 6, num_heads=heads, forget_gate=forget_gate, dtype=np.float64, seed=2)
    p = {k[:-3]: v for k, v in layer.params.items()}
    x = rng.standard_normal((12, 3, 4))
    h0 = 0.5 * rng.standard_normal((3, 6))
    c0 = 0.5 * rng.standard_normal((3, 6))
    n0 = 0.5 + np.abs(rng.standard_normal((3, 6)))
    ys, cs, ns = paper_slstm(x, p, heads, forget_gate, h0, c0, n0)
    y, (h, c, n, m) = layer(x, tuple(s[None] for s in (h0, c0, n0, np.zeros((3, 6)))))
    assert rel(y, ys) < TOL
    # rnnlab carries c and n divided by exp(m); times exp(m) they are the paper's
    assert rel(c[0] * np.exp(m[0]), cs[-1]) < TOL and rel(n[0] * np.exp(m[0]), ns[-1]) < TOL


@pytest.mark.parametrize("mode", ["parallel", "recurrent"])
@pytest.mark.parametrize("forget_gate", ["sigmoid", "exp"])
def test_mlstm_equals_the_papers_equations(mode, forget_gate):
    rng = rng0(3)
    heads, H = 2, 6
    layer = MLSTM(5, H, num_heads=heads, forget_gate=forget_gate, mode=mode, dtype=np.float64,
                  seed=4)
    p = {k[:-3]: v for k, v in layer.params.items()}
    x = rng.standard_normal((10, 3, 5))
    C0 = 0.5 * rng.standard_normal((3, heads, 3, 3))
    n0 = 0.5 * rng.standard_normal((3, heads, 3))
    ys, CT, nT = paper_mlstm(x, p, heads, forget_gate, C0, n0)
    y, (C, n, m) = layer(x, (C0[None], n0.reshape(1, 3, H), np.zeros((1, 3, heads))))
    assert rel(y, ys) < TOL
    assert rel(C[0] * np.exp(m[0])[..., None, None], CT) < TOL
    assert rel(n[0].reshape(3, heads, 3) * np.exp(m[0])[..., None], nT) < TOL


def test_the_stabiliser_keeps_huge_gates_finite():
    """Input-gate pre-activations of ~1000 overflow exp() in the paper's form; rnnlab stays
    finite and the step with the huge gate dominates the average c/n, as the equations say."""
    layer = SLSTM(1, 2, dtype=np.float64, seed=0)
    layer.params["weight_ih_l0"][:] = 0
    layer.params["weight_hh_l0"][:] = 0
    layer.params["weight_ih_l0"][0:2, 0] = 1000.0         # i's pre-activation = 1000 x
    layer.params["weight_ih_l0"][4:6, 0] = 1.0             # z = tanh(x)
    layer.params["bias_l0"][:] = 0
    x = np.array([0.1, 0.9, -0.5, 0.2])[:, None, None]
    with np.errstate(over="raise"):
        y, (h, c, n, m) = layer(x)
    assert np.isfinite(y).all() and m[0, 0, 0] > 800
    # c/n = the z of the step with the largest input gate (x = 0.9), to double precision
    np.testing.assert_allclose(c / n, np.tanh(0.9), rtol=1e-12)
    mlayer = MLSTM(1, 2, dtype=np.float64, seed=0)
    mlayer.params["weight_ih_l0"][8, 0] = 1000.0           # the head's input gate
    with np.errstate(over="raise"):
        y2, (C, n2, m2) = mlayer(x * 3)
    assert np.isfinite(y2).all() and np.isfinite(C).all() and m2[0, 0, 0] > 2000


# ----------------------------------------------------------------------------- xlstm
def _xlstm(module):
    pytest.importorskip("torch")
    return pytest.importorskip(module, reason="the optional xlstm package is not installed")


def _slstm_from_package(A, R, b, state):
    """The package's vanilla sLSTM over pre-activations A (T, B, 4H): its slstm_forward with
    the sLSTM pointwise cell. Returns (all states (4, T+1, B, H), ...)."""
    vanilla = _xlstm("xlstm.blocks.slstm.src.vanilla")
    return vanilla.slstm_forward(A, state, R, b, vanilla.slstm_pointwise_function_registry["slstm"])


@pytest.mark.parametrize("zero_state", [False, True])
@pytest.mark.parametrize("heads", [1, 2])
def test_slstm_equals_xlstm_vanilla(heads, zero_state):
    """Mapped: rnnlab's bias (4H,) is the package's b (gate-major i, f, z, o, then head, then
    unit); weight_hh row g*H + j*d + a is the package's R[j, g*d + a, :]; x (with
    weight_ih = I) is its Wx. The package starts a zero state with m_1 = log i_1 (its
    `if torch.all(n == 0)` branch) where rnnlab takes max(log f_1 + 0, log i_1): h and c/n
    are the same, c, n, m differ by that first scale, so from a zero state c/n is compared."""
    torch = pytest.importorskip("torch")
    H, d, T, B = 6, 6 // heads, 7, 3
    layer = SLSTM(4 * H, H, num_heads=heads, dtype=np.float64, seed=5)
    layer.params["weight_ih_l0"][:] = np.eye(4 * H)
    rng = rng0(6)
    x = rng.standard_normal((T, B, 4 * H))
    if zero_state:
        st = np.zeros((4, B, H))
    else:
        st = np.stack([0.5 * rng.standard_normal((B, H)), 0.5 * rng.standard_normal((B, H)),
                       0.5 + np.abs(rng.standard_normal((B, H))), rng.standard_normal((B, H))])
    y, sn = layer(x, tuple(s[None] for s in st))
    dy = rng.standard_normal(y.shape)
    dsn = [rng.standard_normal(s.shape) for s in sn]
    if zero_state:                 # the package's c, n, m differ by a scale: no loss on them
        dsn = [dsn[0]] + [np.zeros_like(s) for s in dsn[1:]]
    dx, ds0 = layer.backward(dy, tuple(dsn))

    w = layer.params["weight_hh_l0"]
    Rp = torch.tensor(w.reshape(4, heads, d, d).transpose(1, 0, 2, 3).reshape(heads, 4 * d, d),
                      requires_grad=True)
    bp = torch.tensor(layer.params["bias_l0"], requires_grad=True)
    Ap = torch.tensor(x, requires_grad=True)
    s0 = torch.tensor(st, requires_grad=True)
    states_all, last, _ = _slstm_from_package(Ap, Rp, bp, s0)
    hs = states_all[0, 1:]
    assert rel(hs.detach().numpy(), y) < TOL
    cn = (states_all[1, -1] / states_all[2, -1]).detach().numpy()
    assert rel(cn, sn[1][0] / sn[2][0]) < TOL
    loss = (hs * torch.tensor(dy)).sum() + (last[0] * torch.tensor(dsn[0][0])).sum()
    if not zero_state:
        for k in range(4):
            assert rel(last[k].detach().numpy(), sn[k][0]) < TOL
        loss = loss + sum((last[k] * torch.tensor(dsn[k][0])).sum() for k in (1, 2, 3))
    loss.backward()
    assert rel(Ap.grad.numpy(), dx) < TOL
    grad_w = Rp.grad.numpy().reshape(heads, 4, d, d).transpose(1, 0, 2, 3).reshape(4 * H, d)
    assert rel(grad_w, layer.grads["weight_hh_l0"]) < TOL
    assert rel(bp.grad.numpy(), layer.grads["bias_l0"]) < TOL
    if not zero_state:
        for k in range(4):
            assert rel(s0.grad[k].numpy(), ds0[k][0]) < TOL


def _mlstm_pre(H, heads, T, B, seed, mode):
    """An mLSTM layer whose input is its pre-activations (weight_ih = I, no bias), and x."""
    layer = MLSTM(4 * H + 2 * heads, H, num_heads=heads, mode=mode, dtype=np.float64,
                  seed=seed, bias=False)
    layer.params["weight_ih_l0"][:] = np.eye(4 * H + 2 * heads)
    return layer, rng0(seed).standard_normal((T, B, 4 * H + 2 * heads))


def _package_inputs(torch, x, H, heads):
    """The package's q, k, v (B, heads, T, d) (k unscaled: it divides by sqrt(d) itself),
    igate and fgate pre-activations (B, heads, T, 1), and the output gate's pre-activation."""
    T, B, _ = x.shape
    X = torch.tensor(x, requires_grad=True)
    per_head = lambda a: a.reshape(T, B, heads, H // heads).permute(1, 2, 0, 3)  # noqa: E731
    q, k, v = (per_head(X[..., j * H:(j + 1) * H]) for j in range(3))
    ig = X[..., 4 * H:4 * H + heads].permute(1, 2, 0)[..., None]
    fg = X[..., 4 * H + heads:].permute(1, 2, 0)[..., None]
    return X, q, k, v, ig, fg, torch.sigmoid(X[..., 3 * H:4 * H])


@pytest.mark.parametrize("mode", ["parallel", "recurrent"])
@pytest.mark.parametrize("heads", [1, 2])
def test_mlstm_equals_xlstm_backends(heads, mode):
    """Mapped: rnnlab's pre-activations q, k, v, o (H each), i, f (one per head) are the
    package's queries, keys, values, igate_preact, fgate_preact (per head); its h~ times
    sigma(o) is rnnlab's y. eps = 0 (the package adds 1e-6 to the denominator by default;
    rnnlab's denominator is max(|n.q|, exp(-m)) > 0 without it). The package's memory is
    k v^T, rnnlab's v k^T: C is compared transposed. Its parallel form takes no initial state."""
    torch = pytest.importorskip("torch")
    backends = _xlstm("xlstm.blocks.mlstm.backends")
    H, T, B = 6, 9, 2
    d = H // heads
    layer, x = _mlstm_pre(H, heads, T, B, seed=7, mode=mode)
    y, (C, n, m) = layer(x)
    rng = rng0(8)
    dy = rng.standard_normal(y.shape)
    dx, _ = layer.backward(dy)
    X, q, k, v, ig, fg, o = _package_inputs(torch, x, H, heads)
    if mode == "parallel":
        ht = backends.parallel_stabilized_simple(q, k, v, ig, fg, eps=0.0)
    else:
        c_s = torch.zeros(B, heads, d, d, dtype=torch.float64)
        n_s = torch.zeros(B, heads, d, 1, dtype=torch.float64)
        m_s = torch.zeros(B, heads, 1, 1, dtype=torch.float64)
        hs = []
        for t in range(T):
            h, (c_s, n_s, m_s) = backends.recurrent_step_stabilized_simple(
                c_s, n_s, m_s, *(a[:, :, t:t + 1].clone() for a in (q, k, v)),
                ig[:, :, t:t + 1], fg[:, :, t:t + 1], eps=0.0)
            hs.append(h[:, :, 0])
        ht = torch.stack(hs, dim=2)
        assert rel(c_s.transpose(-1, -2).detach().numpy(), C[0]) < TOL
        assert rel(n_s[..., 0].reshape(B, H).detach().numpy(), n[0]) < TOL
        assert rel(m_s[..., 0, 0].detach().numpy(), m[0]) < TOL
    y_pkg = o * ht.permute(2, 0, 1, 3).reshape(T, B, H)
    assert rel(y_pkg.detach().numpy(), y) < TOL
    (y_pkg * torch.tensor(dy)).sum().backward()
    assert rel(X.grad.numpy(), dx) < TOL
