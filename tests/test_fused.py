"""Every fused fast path of the training step equals the unfused code it replaces: token input
(one-hot or an embedding table) as a row gather and a scatter-add, against the dense input;
the one-pass softmax cross-entropy against the NumPy formulas; Adam and the clipping norm on
a flat buffer against the per-parameter updates (bit for bit for Adam); the kernels'
workspace against fresh buffers. float64 tight, float32 within 1e-5."""
import numpy as np
import pytest

from rnnlab.nn.functional import TokenInput
from rnnlab.nn.losses import softmax_cross_entropy
from rnnlab.nn.module import flat_of, flat_views
from rnnlab.nn.optim import clip_grad_norm, grads_finite, make_optimizer
from rnnlab.tasks.model import ModelConfig, SequenceModel

from engine_helpers import CELL_IDS, CELLS, make_layer

TOL = {np.float64: 1e-12, np.float32: 1e-5}
T, B, V = 7, 5, 11


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def run_layer(layer, x, dy_seed=1):
    """forward + backward with a fixed random dy; returns y, dx, grads."""
    layer.zero_grad()
    y, _ = layer(x)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(layer.dtype)
    dx, _ = layer.backward(dy)
    return y.copy(), dx, {k: v.copy() for k, v in layer.grads.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("table", [False, True], ids=["one-hot", "table"])
@pytest.mark.parametrize("kind,opts,_id", CELLS, ids=CELL_IDS)
def test_token_input_equals_dense_input(kind, opts, _id, table, dtype):
    """A layer fed token ids (the kernels' gather and scatter-add) gives the dense input's
    outputs and gradients; the table's gradient is dx summed by token. Two layers, both
    directions, ragged lengths."""
    rng = np.random.default_rng(0)
    D = 6 if table else V
    ids = rng.integers(0, V, (T, B))
    tab = rng.standard_normal((V, D)).astype(dtype) if table else None
    tok = TokenInput(ids, V, tab, dtype)
    lengths = np.array([T, 3, 0, 5, 1])
    out = []
    for x in (tok, tok.dense()):
        layer = make_layer(kind, D, 8, num_layers=2, bidirectional=True, dtype=dtype, seed=2,
                           **opts)
        layer.zero_grad()
        y, _ = layer(x, lengths=lengths)
        dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        dx, _ = layer.backward(dy)
        out.append((y.copy(), dx, {k: v.copy() for k, v in layer.grads.items()}))
    (y1, dt1, g1), (y2, dx2, g2) = out
    if table:
        assert rel(y1, y2) <= TOL[dtype]
        assert rel(dt1, tok.table_grad(dx2)) <= TOL[dtype]
    else:                                        # the gather adds the same numbers: exact
        assert np.array_equal(y1, y2) and dt1 is None
    for k in g2:
        assert rel(g1[k], g2[k]) <= TOL[dtype], k


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("embed", [0, 5])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_model_gather_path_equals_dense_path(cell, embed, dtype):
    """SequenceModel.forward/backward (token input) against encode() + the layers on the
    dense x + Embedding.backward: same logits, same gradients."""
    m = SequenceModel(ModelConfig(task="text", cell=cell, input_size=V, output_size=V, hidden=8,
                                  layers=2, embed=embed, dtype=dtype))
    ids = np.random.default_rng(3).integers(0, V, (T, B))
    m.zero_grad()
    logits, _ = m.forward(ids)
    _, dout = m.loss(logits, ids)
    m.backward(dout)
    fast = {k: v.copy() for k, v in m.grads.items()}
    m.zero_grad()
    y, _ = m.rnn(m.encode(ids))
    logits2 = m.head.forward(y)
    dx, _ = m.rnn.backward(m.head.backward(dout))
    if m.embed is not None:
        m.embed.backward(dx)
    assert np.array_equal(logits, logits2)
    for k, v in m.grads.items():
        assert rel(fast[k], v) <= TOL[np.dtype(dtype).type], k


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mask", [None, "bool", "float", "all-but-one"])
def test_fused_cross_entropy_equals_numpy(mask, dtype):
    rng = np.random.default_rng(5)
    z = (3 * rng.standard_normal((6, 4, 9))).astype(dtype)
    z[0, 0, 3] = 40                               # a dominant logit
    y = rng.integers(0, 9, (6, 4))
    w = {None: None, "bool": rng.random((6, 4)) > 0.4, "float": rng.uniform(0, 2, (6, 4)),
         "all-but-one": (np.arange(24) == 7).reshape(6, 4)}[mask]
    l1, d1 = softmax_cross_entropy(z, y, w)
    l2, d2 = softmax_cross_entropy(z, y, w, fused=False)
    assert d1.dtype == d2.dtype == dtype
    assert abs(l1 - l2) <= TOL[dtype] * abs(l2) and rel(d1, d2) <= TOL[dtype]


SHAPES = {"w": (6, 5), "b": (5,), "u": (3, 2, 4)}


def flat_and_separate(dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    _, views = flat_views(arrays)
    return views, {k: v.copy() for k, v in arrays.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kw", [{}, dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)])
def test_flat_adam_is_bit_identical_and_resumes(kw, dtype):
    """Adam over one flat buffer (one compiled pass) against the per-parameter NumPy update:
    the same bits after every step, the same state_dict, and a resumed flat optimizer
    continues bit for bit."""
    p_flat, p_sep = flat_and_separate(dtype)
    g_flat, _ = flat_and_separate(dtype, 1)
    a = make_optimizer("adam", p_flat, 0.01, **kw)
    b = make_optimizer("adam", p_sep, 0.01, **kw)
    assert a.flat is not None and b.flat is None
    rng = np.random.default_rng(2)
    for step in range(7):
        for k, s in SHAPES.items():
            g_flat[k][...] = rng.standard_normal(s)
        if step == 3:                              # resume the flat one from its state
            arrays, meta = a.state_dict()
            a = make_optimizer("adam", p_flat, 0.01, **kw)
            a.load_state_dict(arrays, meta)
        a.step(g_flat)
        b.step({k: v.copy() for k, v in g_flat.items()})
        for k in SHAPES:
            assert np.array_equal(p_flat[k], p_sep[k]), (step, k)
    sa, sb = a.state_dict()[0], b.state_dict()[0]
    assert all(np.array_equal(sa[k], sb[k]) for k in sb)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_flat_clip_and_finite_check(dtype):
    g_flat, g_sep = flat_and_separate(dtype, 4)
    assert flat_of(g_flat.values()) is not None and flat_of(g_sep.values()) is None
    n1, n2 = clip_grad_norm(g_flat, 0.5), clip_grad_norm(g_sep, 0.5)
    assert abs(n1 - n2) <= TOL[dtype] * n2
    for k in SHAPES:
        assert rel(g_flat[k], g_sep[k]) <= TOL[dtype]
    assert grads_finite(g_flat) is None
    g_flat["b"][2] = np.nan
    assert grads_finite(g_flat) == "b"


def test_model_parameters_share_one_flat_buffer():
    m = SequenceModel(ModelConfig(layers=1, task="text", input_size=V, output_size=V, hidden=8, embed=4))
    assert flat_of(m.params.values()) is m.flat_params
    assert flat_of(m.grads.values()) is m.flat_grads
    assert m.rnn.params["weight_hh_l0"] is m.params["rnn.weight_hh_l0"]
    assert make_optimizer("adam", m.params, 1e-3).flat is m.flat_params
    c = m.clone()                                # a copy gets its own flat buffer
    assert flat_of(c.params.values()) is c.flat_params is not m.flat_params
    assert c.rnn.params["weight_hh_l0"] is c.params["rnn.weight_hh_l0"]
    assert np.array_equal(c.flat_params, m.flat_params)


@pytest.mark.parametrize("kind,opts,_id", CELLS, ids=CELL_IDS)
def test_workspace_reuse_changes_nothing(kind, opts, _id):
    """A layer reuses its kernel buffers from call to call (after backward, and after a forward
    that was never backpropagated); every result equals a fresh layer's."""
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((T, B, 4)).astype(np.float32) for _ in range(3)]
    layer = make_layer(kind, 4, 8, num_layers=2, seed=1, **opts)
    got = [run_layer(layer, xs[0])]
    layer(xs[1])                                   # inference only: its buffers come back
    got.append(run_layer(layer, xs[2]))
    for x, (y, dx, g) in zip((xs[0], xs[2]), got):
        fresh = make_layer(kind, 4, 8, num_layers=2, seed=1, **opts)
        y2, dx2, g2 = run_layer(fresh, x)
        assert np.array_equal(y, y2) and np.array_equal(dx, dx2)
        assert all(np.array_equal(g[k], g2[k]) for k in g)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_thread_count_changes_no_bit(cell, monkeypatch):
    """Two training steps of a model on one thread and on two give the same bits: the batch
    split, the unit split and the row split of every GEMM compute each number with the same
    sums in the same order (all three forced here on small sizes). Also while a threaded
    kernel compiles in the background (kernels/background.py): its one-thread stand-in, run
    block by block as the split would, gives the same bits."""
    import numba

    from rnnlab.nn.kernels import gemms, loops, policy
    from rnnlab.training.api import TrainConfig, Trainer
    monkeypatch.setattr(policy, "SPLIT_MIN_ROWS", 1)
    monkeypatch.setattr(policy, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(policy, "SPLIT_COLD_MAX_MACS", 0)
    monkeypatch.setattr(policy, "PAR_GEMM_MIN_MACS", 0)
    monkeypatch.setattr(policy, "PAR_GEMM_COLD_MAX_MACS", 0)

    class Stream:                               # a tiny text task: random ids, state carried
        carries_state, batches_per_epoch, tokens_per_batch = True, 100, 6 * 4

        def batch(self, k):
            r = np.random.default_rng(k)
            return r.integers(0, V, (6, 4)), r.integers(0, V, (6, 4)), None

    weights = []
    for threads, units, compiling in ((1, 0, 0), (2, 0, 0), (2, 1, 0), (2, 0, 1), (2, 1, 1)):
        monkeypatch.setattr(policy, "UNITS_MIN_WEIGHT_BYTES", 0 if units else 1 << 40)
        monkeypatch.setattr(policy, "UNITS_ALIGN", 1)
        for module in (loops, gemms):           # compiling: no threaded kernel is ready yet
            monkeypatch.setattr(module, "ready", lambda dispatcher, args: not compiling)
        old = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            m = SequenceModel(ModelConfig(task="text", cell=cell, input_size=V, output_size=V,
                                          hidden=8, layers=2))
            tr = Trainer(m, Stream(), TrainConfig(clip=1.0), log=lambda s: None)
            for _ in range(2):
                tr.train_step()
        finally:
            numba.set_num_threads(old)
        weights.append(m.flat_params.copy())
    assert all(np.array_equal(weights[0], w) for w in weights[1:])


@pytest.mark.parametrize("units", [False, True], ids=["rows", "units"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_eval_mode_keeps_packed_weights_until_they_change(cell, units, monkeypatch):
    """In eval mode a layer keeps its packed W_ih and W_hh between calls (kernels/_common.py,
    ``Workspace.kept``): the second call packs nothing and gives the training-mode bits; after
    an in-place write to the weights (as an optimizer step makes) the next call packs again
    and gives the bits of a fresh layer holding the new weights."""
    from rnnlab.nn import registry
    from rnnlab.nn.kernels import gemms, loops, policy
    monkeypatch.setattr(policy, "UNITS_MIN_WEIGHT_BYTES", 0 if units else 1 << 40)
    packs = []
    for module, name in ((loops, "pack"), (loops, "pack_parts"), (gemms, "pack")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name, **k:
                            packs.append(_name) or _real(*a, **k))
    x = np.random.default_rng(0).standard_normal((5, 2, 6)).astype(np.float32)
    layer = registry.get(cell).layer(6, 32, num_layers=2, seed=0)
    y_train, _ = layer(x)
    layer.eval()
    y1, _ = layer(x)
    n = len(packs)
    y2, _ = layer(x)
    assert len(packs) == n, "the second eval-mode call packed again"
    assert ("pack_parts" in packs) == units      # the path asked for ran
    assert np.array_equal(y1, y_train) and np.array_equal(y2, y_train)
    for p in layer.params.values():          # an optimizer's in-place update
        p += np.float32(0.01)
    y3, _ = layer(x)
    assert len(packs) > n
    fresh = registry.get(cell).layer(6, 32, num_layers=2, seed=0)
    fresh.load_state_dict(layer.state_dict())
    assert np.array_equal(y3, fresh(x)[0])
    assert not np.array_equal(y3, y1)
