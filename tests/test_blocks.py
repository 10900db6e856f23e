"""blocks.py, losses.py and functional.py against torch (float64, 1e-10) and centred finite
differences."""
import numpy as np
import pytest
import torch

from rnnlab.nn.blocks import Dropout, Embedding, Linear
from rnnlab.nn.functional import dropout_mask, log_softmax, sigmoid, softmax
from rnnlab.nn.losses import mse, sigmoid_bce, sigmoid_bce_sum_per_step, softmax_cross_entropy
from rnnlab.errors import RnnlabError

TOL = dict(rtol=1e-10, atol=1e-10)


def numeric_grad(f, x, eps=1e-6):
    """Centred finite differences of scalar f() w.r.t. array x (perturbed in place)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


# ------------------------------------------------------------------ Embedding

def test_embedding_forward_backward_vs_torch():
    rng = np.random.default_rng(0)
    emb = Embedding(7, 5, dtype=np.float64, seed=1)
    ids = rng.integers(0, 7, (4, 3))
    ids[0, 0] = ids[1, 1] = 2  # repeated ids must accumulate
    dout = rng.standard_normal((4, 3, 5))
    out = emb.forward(ids)
    emb.backward(dout)

    t = torch.nn.Embedding(7, 5, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(emb.params["weight"]))
    tout = t(torch.from_numpy(ids))
    tout.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), **TOL)
    np.testing.assert_allclose(emb.grads["weight"], t.weight.grad.numpy(), **TOL)


def test_embedding_backward_accumulates_and_zero_grad():
    emb = Embedding(3, 2, dtype=np.float64, seed=0)
    ids = np.array([[0, 2]])
    emb.forward(ids)
    emb.backward(np.ones((1, 2, 2)))
    emb.backward(np.ones((1, 2, 2)))
    assert emb.grads["weight"][0, 0] == 2 and emb.grads["weight"][1, 0] == 0
    emb.zero_grad()
    assert not emb.grads["weight"].any()


def test_embedding_init_is_standard_normal_and_seeded():
    a = Embedding(200, 50, seed=3).params["weight"]
    b = Embedding(200, 50, seed=3).params["weight"]
    assert a.dtype == np.float32 and np.array_equal(a, b)
    assert abs(a.mean()) < 0.03 and abs(a.std() - 1) < 0.03


@pytest.mark.parametrize("ids", [np.array([[0, 7]]), np.array([[-1, 0]]), np.array([[0.5]])])
def test_embedding_bad_ids(ids):
    with pytest.raises(RnnlabError, match="ids"):
        Embedding(7, 2).forward(ids)


# ------------------------------------------------------------------ Linear

@pytest.mark.parametrize("bias", [True, False])
def test_linear_vs_torch(bias):
    rng = np.random.default_rng(1)
    lin = Linear(4, 3, bias=bias, dtype=np.float64, seed=2)
    x = rng.standard_normal((5, 2, 4))
    dout = rng.standard_normal((5, 2, 3))
    y = lin.forward(x)
    dx = lin.backward(dout)

    t = torch.nn.Linear(4, 3, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(lin.params["weight"]))
        if bias:
            t.bias.copy_(torch.from_numpy(lin.params["bias"]))
    tx = torch.from_numpy(x).requires_grad_()
    ty = t(tx)
    ty.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)
    np.testing.assert_allclose(lin.grads["weight"], t.weight.grad.numpy(), **TOL)
    if bias:
        np.testing.assert_allclose(lin.grads["bias"], t.bias.grad.numpy(), **TOL)
    assert set(lin.grads) == set(lin.params) == ({"weight", "bias"} if bias else {"weight"})


def test_linear_finite_differences():
    rng = np.random.default_rng(2)
    lin = Linear(3, 2, dtype=np.float64, seed=0)
    x = rng.standard_normal((4, 3))
    c = rng.standard_normal((4, 2))

    def f():
        return float((lin.forward(x) * c).sum())

    lin.forward(x)
    dx = lin.backward(c)
    np.testing.assert_allclose(dx, numeric_grad(f, x), rtol=1e-6, atol=1e-8)
    for k in ("weight", "bias"):
        np.testing.assert_allclose(lin.grads[k], numeric_grad(f, lin.params[k]),
                                   rtol=1e-6, atol=1e-8)


def test_linear_init_bound_and_state_dict_round_trip():
    lin = Linear(16, 8, seed=0)
    assert lin.params["weight"].shape == (8, 16) and lin.params["bias"].shape == (8,)
    assert np.abs(lin.params["weight"]).max() <= 0.25
    other = Linear(16, 8, seed=1)
    w_ref = other.params["weight"]
    other.load_state_dict(lin.state_dict())
    assert other.params["weight"] is w_ref  # loaded in place: optimizers keep references
    np.testing.assert_array_equal(other.params["weight"], lin.params["weight"])


def test_state_dict_errors():
    lin = Linear(4, 3)
    sd = lin.state_dict()
    with pytest.raises(RnnlabError, match="missing 'bias'"):
        lin.load_state_dict({"weight": sd["weight"]})
    with pytest.raises(RnnlabError, match=r"'weight' has shape \(3, 5\), expected \(3, 4\)"):
        lin.load_state_dict({"weight": np.zeros((3, 5)), "bias": sd["bias"]})
    with pytest.raises(RnnlabError, match="unexpected 'extra'"):
        lin.load_state_dict({**sd, "extra": np.zeros(1)})


def test_linear_errors():
    lin = Linear(4, 3)
    with pytest.raises(RnnlabError, match=r"shape \(2, 5\), expected \(\.\.\., 4\)"):
        lin.forward(np.zeros((2, 5)))
    with pytest.raises(RnnlabError, match="before forward"):
        Linear(4, 3).backward(np.zeros((1, 3)))
    lin.forward(np.zeros((2, 4)))
    with pytest.raises(RnnlabError, match="dout"):
        lin.backward(np.zeros((2, 4)))
    with pytest.raises(RnnlabError, match="in_features"):
        Linear(0, 3)


def test_train_eval_flag():
    lin = Linear(2, 2)
    assert lin.training
    assert lin.eval() is lin and not lin.training
    assert lin.train().training


# ------------------------------------------------------------------ dropout

def test_dropout_mask():
    rng = np.random.default_rng(0)
    assert dropout_mask((3, 4), 0.0, rng) is None
    m = dropout_mask((200, 100), 0.25, rng, np.float64)
    assert set(np.unique(m)) == {0.0, 1 / 0.75}
    assert abs((m == 0).mean() - 0.25) < 0.02
    with pytest.raises(RnnlabError, match="dropout p"):
        dropout_mask((2,), 1.0, rng)


def test_dropout_module_train_and_eval():
    d = Dropout(0.5, seed=0)
    x = np.ones((50, 4))
    y = d.forward(x)
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), y)  # same mask both ways
    assert (y == 0).any() and (y == 2).any()
    d.eval()
    np.testing.assert_array_equal(d.forward(x), x)


# ------------------------------------------------------------------ softmax CE

def test_softmax_helpers_vs_torch():
    z = np.random.default_rng(0).standard_normal((3, 2, 5)) * 10
    np.testing.assert_allclose(log_softmax(z), torch.log_softmax(torch.from_numpy(z), -1), **TOL)
    np.testing.assert_allclose(softmax(z), torch.softmax(torch.from_numpy(z), -1), **TOL)
    np.testing.assert_allclose(sigmoid(z), torch.sigmoid(torch.from_numpy(z)), **TOL)


@pytest.mark.parametrize("masked", [False, True])
def test_softmax_cross_entropy_vs_torch(masked):
    rng = np.random.default_rng(3)
    T, B, V = 4, 3, 6
    z = rng.standard_normal((T, B, V))
    y = rng.integers(0, V, (T, B))
    mask = None
    if masked:
        mask = np.ones((T, B), bool)
        mask[2:, 0] = False
        mask[3, 2] = False
        y[3, 0] = 99  # out-of-range target at a masked position is ignored
    loss, dz = softmax_cross_entropy(z, y, mask)

    tz = torch.from_numpy(z).requires_grad_()
    ty = torch.from_numpy(y)
    if masked:
        ty = torch.where(torch.from_numpy(mask), ty, torch.tensor(-100))
    tloss = torch.nn.functional.cross_entropy(tz.reshape(-1, V), ty.reshape(-1))
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-10
    np.testing.assert_allclose(dz, tz.grad.numpy(), **TOL)


def test_softmax_cross_entropy_float_mask_finite_differences():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((3, 2, 4))
    y = rng.integers(0, 4, (3, 2))
    w = rng.uniform(0, 2, (3, 2))
    _, dz = softmax_cross_entropy(z, y, w)
    num = numeric_grad(lambda: softmax_cross_entropy(z, y, w)[0], z)
    np.testing.assert_allclose(dz, num, rtol=1e-6, atol=1e-9)


def test_softmax_cross_entropy_large_logits_stable():
    z = np.array([[[1e4, 0.0, -1e4]], [[0.0, 1e4, 1e4]]])
    y = np.array([[0], [0]])
    loss, dz = softmax_cross_entropy(z, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dz))
    assert abs(loss - (0.0 + (1e4 + np.log(2))) / 2) < 1e-8
    np.testing.assert_allclose(dz[1, 0], [-0.5, 0.25, 0.25])
    z32 = z.astype(np.float32)
    l32, dz32 = softmax_cross_entropy(z32, y)
    assert np.isfinite(l32) and dz32.dtype == np.float32


def test_softmax_cross_entropy_all_masked():
    loss, dz = softmax_cross_entropy(np.ones((2, 1, 3)), np.zeros((2, 1), int),
                                     np.zeros((2, 1), bool))
    assert loss == 0.0 and not dz.any()


def test_softmax_cross_entropy_errors():
    z = np.zeros((2, 3, 4))
    with pytest.raises(RnnlabError, match=r"targets has shape \(3, 2\), expected \(2, 3\)"):
        softmax_cross_entropy(z, np.zeros((3, 2), int))
    with pytest.raises(RnnlabError, match=r"targets must be in \[0, 4\).*got 4"):
        softmax_cross_entropy(z, np.full((2, 3), 4))
    with pytest.raises(RnnlabError, match="got -1"):
        softmax_cross_entropy(z, np.full((2, 3), -1))
    with pytest.raises(RnnlabError, match="integer"):
        softmax_cross_entropy(z, np.zeros((2, 3)))
    with pytest.raises(RnnlabError, match=r"mask has shape \(2,\), expected \(2, 3\)"):
        softmax_cross_entropy(z, np.zeros((2, 3), int), np.ones(2, bool))


# ------------------------------------------------------------------ MSE

def test_mse_vs_torch_and_step_mask():
    rng = np.random.default_rng(5)
    p, t = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    loss, dp = mse(p, t)
    tp = torch.from_numpy(p).requires_grad_()
    tl = torch.nn.functional.mse_loss(tp, torch.from_numpy(t))
    tl.backward()
    assert abs(loss - tl.item()) < 1e-12
    np.testing.assert_allclose(dp, tp.grad.numpy(), **TOL)

    mask = np.ones((4, 3), bool)
    mask[3:, :] = False  # the last step is padding
    loss_m, dp_m = mse(p, t, mask)
    ref, dref = mse(p[:3], t[:3])
    assert abs(loss_m - ref) < 1e-12
    np.testing.assert_allclose(dp_m[:3], dref, **TOL)
    assert not dp_m[3:].any()
    num = numeric_grad(lambda: mse(p, t, mask)[0], p)
    np.testing.assert_allclose(dp_m, num, rtol=1e-6, atol=1e-9)


def test_mse_errors():
    with pytest.raises(RnnlabError, match="target has shape"):
        mse(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(RnnlabError, match="mask has shape"):
        mse(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3))


# ------------------------------------------------------------------ sigmoid BCE

def test_sigmoid_bce_mean_vs_torch():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 2, 5)) * 3
    y = (rng.random((4, 2, 5)) < 0.3).astype(np.float64)
    loss, dx = sigmoid_bce(x, y)
    tx = torch.from_numpy(x).requires_grad_()
    tl = torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.from_numpy(y))
    tl.backward()
    assert abs(loss - tl.item()) < 1e-10
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)


def test_sigmoid_bce_sum_per_step_vs_torch_and_fd():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 2, 5))
    y = (rng.random((4, 2, 5)) < 0.3).astype(np.float64)
    mask = np.array([[1, 1], [1, 1], [1, 0], [0, 0]], bool)
    loss, dx = sigmoid_bce_sum_per_step(x, y, mask)

    tx = torch.from_numpy(x).requires_grad_()
    per = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.from_numpy(y), reduction="none").sum(-1)
    tm = torch.from_numpy(mask)
    tl = per[tm].mean()
    tl.backward()
    assert abs(loss - tl.item()) < 1e-10
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)
    num = numeric_grad(lambda: sigmoid_bce(x, y, mask, reduction="sum_per_step")[0], x)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)


def test_sigmoid_bce_masked_mean_fd_and_large_logits():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 2, 4))
    y = (rng.random((3, 2, 4)) < 0.5).astype(np.float64)
    mask = rng.random((3, 2, 4)) < 0.7
    _, dx = sigmoid_bce(x, y, mask)
    num = numeric_grad(lambda: sigmoid_bce(x, y, mask)[0], x)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)

    big = np.array([[[1e4, -1e4, 1e4, -1e4]]])
    loss, dbig = sigmoid_bce(big, np.array([[[0.0, 1.0, 1.0, 0.0]]]))
    assert abs(loss - 1e4 / 2) < 1e-8  # two elements cost 1e4 each, two cost 0
    np.testing.assert_allclose(dbig, [[[0.25, -0.25, 0.0, 0.0]]])


def test_sigmoid_bce_errors():
    x = np.zeros((2, 3, 4))
    with pytest.raises(RnnlabError, match="targets has shape"):
        sigmoid_bce(x, np.zeros((2, 3)))
    with pytest.raises(RnnlabError, match=r"targets must be in \[0, 1\]"):
        sigmoid_bce(x, np.full(x.shape, 2.0))
    with pytest.raises(RnnlabError, match="reduction"):
        sigmoid_bce(x, np.zeros(x.shape), reduction="sum")
    with pytest.raises(RnnlabError, match=r"mask has shape \(2, 3, 4\), expected \(2, 3\)"):
        sigmoid_bce(x, np.zeros(x.shape), np.ones(x.shape), reduction="sum_per_step")
