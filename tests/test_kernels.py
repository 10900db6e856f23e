"""The numba kernels (rnnlab.nn.kernels) against the NumPy reference cells (rnnlab.nn.cells):
forward outputs, final states, dx, dstate0 and every gradient agree within 1e-6 (float32)
and 1e-12 (float64), relative to the largest entry, for every cell, variant and option.
Shapes are small so compilation (cached on disk after the first run) and runs stay quick."""
import numpy as np
import pytest

from rnnlab.nn import registry
from rnnlab.nn.kernels import panels, policy, tiles

TOL = {np.float32: 1e-6, np.float64: 1e-12}
T, B, D, H = 6, 4, 5, 7

# (cell, opts): every registered choice whose cell has a kernel, and each other value of a
# cell option with fixed choices (minGRU's mode)
CASES = [(spec.name, dict(opts)) for spec, opts in registry.choices().values() if spec.kernel]
CASES += [(spec.name, {**opts, o.name: v}) for spec, opts in registry.choices().values()
          if spec.kernel for o in spec.options if o.choices for v in o.choices if v != o.default]
CASES += [("slstm", {"num_heads": 7})]          # block-diagonal recurrent weights, 7 heads
LENGTHS = {"none": None, "full": np.full(B, T), "ragged": np.array([T, 0, 3, 1])}


def split_dtypes(opts):
    """The dtypes a threaded path is checked in: both, except for the LSTM's peephole and
    coupled variants, float64 alone. A variant changes only the gate pass, which the
    single-thread tests check in both dtypes; the row and unit splits around it are the
    standard LSTM's, checked here in both. Each variant's threaded loops compile on their own
    (tens of seconds of CI a dtype), so float32 adds no case the others do not cover."""
    return (np.float64,) if opts.get("variant", "standard") != "standard" else (np.float32,
                                                                                 np.float64)


def _ids(case):
    cell, opts = case
    return cell + "".join(f"-{v}" for v in opts.values())


def rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), np.finfo(b.dtype).tiny))


def make(cell, opts, dtype, bias, seed=0, H=H):
    """Random parameters of one direction under the cell's own names and shapes (the layer's
    param_shapes: torch's G-gate layout, the peephole extras, minGRU's weight_ih only, the
    sLSTM's block-diagonal weight_hh...), weights in U(-0.6, 0.6), everything else in
    U(-0.5, 0.5); x, dy, a state (a part with a least value, the cell's STATE_MIN, drawn above
    it), a dstate, and the forward's keyword options (the layer's cell_options)."""
    layer = registry.get(cell).layer(D, H, bias=bias, **opts)
    rng = np.random.default_rng(seed)
    p = {k: rng.uniform(-0.6, 0.6, s) if k.startswith("weight_") and len(s) == 2 else
         rng.uniform(-0.5, 0.5, s) for k, s in layer.param_shapes(D).items()}
    p = {k: v.astype(dtype) for k, v in p.items()}
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    lows = getattr(layer.reference, "STATE_MIN", {})
    st = [(lows[n] + 0.5 + np.abs(rng.standard_normal((B, H))) if n in lows else
           rng.standard_normal((B, H))).astype(dtype) for n in layer.state_names]
    dst = [rng.standard_normal((B, H)).astype(dtype) for _ in layer.state_names]
    return p, x, dy, st, dst, layer.cell_options()


def pack(cell, parts):
    """State parts in the cell's form: one array, or a tuple in STATE's order."""
    return tuple(parts) if len(registry.get(cell).state) > 1 else parts[0]


def flat(s):
    return list(s) if isinstance(s, tuple) else [s]


def run_both(cell, opts, dtype, bias, lengths, with_state, with_dstate, H=H):
    ref = registry.get(cell).reference
    ker = registry.get(cell).kernel()
    p, x, dy, st, dst, opts = make(cell, opts, dtype, bias, H=H)
    state = pack(cell, st) if with_state else None
    dstate = pack(cell, dst) if with_dstate else None
    out = []
    for mod in (ref, ker):
        y, sn, cache = mod.forward(x, state, p, lengths, **opts)
        dx, ds0, g = mod.backward(dy, dstate, cache)
        out.append((y, flat(sn), dx, flat(ds0), g))
    if dtype == np.float32:     # the same float32 inputs through the float64 reference
        c = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
        cs = lambda s: tuple(map(c, s)) if isinstance(s, tuple) else c(s)  # noqa: E731
        y, sn, cache = ref.forward(c(x), cs(state), {k: c(v) for k, v in p.items()}, lengths,
                                   **opts)
        dx, ds0, g = ref.backward(c(dy), cs(dstate), cache)
        d32 = lambda a: a.astype(np.float32)  # noqa: E731
        out.append((d32(y), [d32(v) for v in flat(sn)], d32(dx), [d32(v) for v in flat(ds0)],
                    {k: d32(v) for k, v in g.items()}))
    return out


def errors(ref, ker):
    (y1, s1, dx1, d1, g1), (y2, s2, dx2, d2, g2) = ref, ker
    assert sorted(g1) == sorted(g2)
    errs = {"y": rel(y2, y1), "dx": rel(dx2, dx1)}
    for k, (a, b) in enumerate(zip(s2, s1)):
        errs[f"state{k}"] = rel(a, b)
    for k, (a, b) in enumerate(zip(d2, d1)):
        errs[f"dstate{k}"] = rel(a, b)
    for k in g1:
        errs[k] = rel(g2[k], g1[k])
    return errs


def check(out, dtype):
    """Every output within TOL of the reference. In float32 a sum over T*B terms with
    cancellation (the peephole gradients) can leave both sides ~6e-7 from the exact value in
    opposite directions; such an entry passes when the kernel is within TOL of the float64
    reference run on the same float32 inputs, i.e. at least as accurate as the reference."""
    tol = TOL[dtype]
    errs = errors(out[0], out[1])
    bad = {k: v for k, v in errs.items() if not v <= tol}
    if bad and dtype == np.float32:
        exact = errors(out[2], out[1])
        bad = {k: (v, exact[k]) for k, v in bad.items() if not exact[k] <= tol}
    for k in _zero_state_grads(out[2] if dtype == np.float32 else out[0]):
        bad.pop(f"dstate{k}", None)
        scale = max(np.abs(d).max() for d in out[1][3])
        noise = max(np.abs(out[j][3][k]).max() for j in (0, 1))
        assert noise <= tol * scale, (f"dstate{k}", noise, scale)
    assert not bad, bad


def _zero_state_grads(exact):
    """State-gradient parts whose exact value is zero (up to float64 rounding, 1e-10 of the
    largest state gradient): the sLSTM's dm_0 from a zero state (c_0 = n_0 = 0, so m_0 scales
    nothing). Both sides are rounding noise there, so each must be within TOL of the largest
    state gradient instead of within TOL of each other. Random states and gradients (the
    RNN, LSTM and GRU cases) never have such a part."""
    ds = exact[3]
    scale = max(np.abs(d).max() for d in ds)
    return [k for k, d in enumerate(ds) if np.abs(d).max() <= 1e-10 * scale]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("lengths", list(LENGTHS), ids=list(LENGTHS))
def test_matches_reference(case, dtype, lengths):
    cell, opts = case
    check(run_both(cell, opts, dtype, True, LENGTHS[lengths], True, True), dtype)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("bias,with_state,with_dstate", [(False, True, True),
                                                          (True, False, False),
                                                          (False, False, True)])
def test_options(case, bias, with_state, with_dstate):
    cell, opts = case
    for dtype in (np.float32, np.float64):
        check(run_both(cell, opts, dtype, bias, LENGTHS["ragged"], with_state, with_dstate),
              dtype)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_batch_split_and_threaded_gemms(case, monkeypatch):
    """The batch split over threads (each thread runs the whole time loop for its rows) and
    the GEMMs with their rows split over the threads give the same answers."""
    monkeypatch.setattr(policy, "SPLIT_MIN_ROWS", 1)
    monkeypatch.setattr(policy, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(policy, "SPLIT_COLD_MAX_MACS", 0)
    monkeypatch.setattr(policy, "SCAN_SPLIT_MIN_ELEMS", 0)
    monkeypatch.setattr(policy, "PAR_GEMM_MIN_MACS", 0)
    monkeypatch.setattr(policy, "PAR_GEMM_COLD_MAX_MACS", 0)
    cell, opts = case
    for dtype in split_dtypes(opts):
        check(run_both(cell, opts, dtype, True, LENGTHS["ragged"], True, True), dtype)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("rnn", "gru", "lstm")], ids=_ids)
def test_unit_split(case, monkeypatch):
    """The time loops with the hidden units split over the threads (``units``) match the
    reference, with ragged lengths, a state in and out, both dtypes (``split_dtypes``)."""
    monkeypatch.setattr(policy, "UNITS_MIN_WEIGHT_BYTES", 0)
    monkeypatch.setattr(policy, "UNITS_ALIGN", 1)
    cell, opts = case
    for dtype in split_dtypes(opts):
        check(run_both(cell, opts, dtype, True, LENGTHS["ragged"], True, True, H=8), dtype)


def test_a_threaded_gemm_without_machine_code_waits_for_a_size_that_pays(monkeypatch):
    """Below PAR_GEMM_COLD_MAX_MACS a GEMM takes the threaded kernel only once it is compiled
    (in this process or in numba's cache folder): a cold run does not pay its compile for a
    product it would not earn back. Same bits either way (test_fused)."""
    import numba
    from rnnlab.nn.kernels import gemms, panels

    class Cold:                                  # a dispatcher with no machine code anywhere
        signatures = []
        py_func = staticmethod(lambda: None)
    monkeypatch.setattr(policy, "_ON_DISK", {})
    monkeypatch.setattr(policy, "_in_cache_folder", lambda fn: False)
    threads = min(numba.get_num_threads(), 64 // 4)
    mid = 4 * policy.PAR_GEMM_MIN_MACS
    assert policy.gemm_threads(64, mid, Cold) == 1
    assert policy.gemm_threads(64, policy.PAR_GEMM_COLD_MAX_MACS, Cold) == threads
    Cold.signatures = [("compiled",)]
    assert policy.gemm_threads(64, mid, Cold) == threads
    Cold.signatures = []
    monkeypatch.setattr(policy, "_ON_DISK", {})
    monkeypatch.setattr(policy, "_in_cache_folder", lambda fn: True)     # cached by a past run
    assert policy.gemm_threads(64, mid, Cold) == threads
    # the cache folder is read as numba writes it: a kernel run once has its index there
    a = np.ones((8, 8), np.float32)
    gemms.gemm(a, panels.pack(a), np.empty((8, 8), np.float32))
    monkeypatch.undo()
    assert policy._in_cache_folder(panels.gemm_rows.py_func)
    assert not policy._in_cache_folder(Cold.py_func)


def test_unit_split_on_one_thread_completes():
    """With one numba thread the parts of every step are done by that thread alone (the
    claiming never waits for a particular thread): no hang, the same numbers."""
    import numba
    from rnnlab.nn.kernels import gemms, lstm, steps, units
    p, x, dy, st, dst, _ = make("lstm", {}, np.float64, True, H=8)
    y_ref, _, _ = lstm.forward(x, None, p)
    A = gemms.input_projection(x, p["weight_ih"], None)
    cs, tcs, y = (np.empty((T, B, 8)) for _ in range(3))
    z = np.zeros(1)
    a = steps.make(steps.LstmFwd, A=A, bias=p["bias_ih"] + p["bias_hh"],
                   xs=np.empty((0, B, x.shape[2])), wip=np.empty((0, 0, 0)), wit=np.empty((0, 0)),
                   lens=np.full(B, T), wpi=z, wpf=z, wpo=z,
                   cs=cs, tcs=tcs, y=y, hs=np.zeros((2 * B, 8)))
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        units.fwd_units(a, *units.pack_parts(p["weight_hh"], 4, 2, True), np.zeros((B, 8)),
                        np.empty((2, B, 16)), 2, 2000)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(y, y_ref)


_PORTABLE_RUN = """
import os, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import test_kernels as tk
from rnnlab.nn.kernels import policy, sync
assert not sync.POLITE, "RNNLAB_PORTABLE_SYNC=1 did not select the portable wait"
assert "OMP_WAIT_POLICY" not in os.environ, "importing the kernels wrote OMP_WAIT_POLICY"
policy.UNITS_MIN_WEIGHT_BYTES, policy.UNITS_ALIGN = 0, 1
for cell in ("rnn", "gru", "lstm"):
    tk.check(tk.run_both(cell, {}, np.float64, True, tk.LENGTHS["ragged"], True, True, H=8),
             np.float64)
print("ok")
"""


def test_unit_split_portable_sync_and_clean_environment():
    """RNNLAB_PORTABLE_SYNC=1 (read at import, so in a fresh process) makes the unit-split
    loops wait with a plain spin (no x86 pause, no sched_yield): the RNN, GRU and LSTM still
    match the reference in float64. The same process checks that importing the kernels left
    OMP_WAIT_POLICY out of os.environ (it is set only while numba's pool starts)."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["RNNLAB_PORTABLE_SYNC"] = "1"
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, "-c", _PORTABLE_RUN, here], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]


def test_kernel_arguments_are_named_and_checked():
    """A cell's loop arguments are one named tuple built by keyword: positional building is
    refused, and an array of the wrong shape or dtype is named before compiled code runs."""
    from rnnlab.errors import RnnlabError
    from rnnlab.nn.kernels import steps
    A, y, hs, lens = np.zeros((T, B, H)), np.zeros((T, B, H)), np.zeros((B, H)), np.full(B, T)
    a = steps.make(steps.RnnFwd, A=A, lens=lens, relu=False, y=y, hs=hs)
    assert a.y is y and a.hs is hs
    with pytest.raises(TypeError):
        steps.make(steps.RnnFwd, A, lens, False, y, hs)
    with pytest.raises(RnnlabError, match="RnnFwd.hs"):
        steps.make(steps.RnnFwd, A=A, lens=lens, relu=False, y=y, hs=np.zeros((T, B, H)))
    with pytest.raises(RnnlabError, match="RnnFwd.y"):
        steps.make(steps.RnnFwd, A=A, lens=lens, relu=False, y=y.astype(np.float32), hs=hs)


def test_packed_products_edges():
    """gemm_rows / gemm_tn on shapes with every kind of edge (row, panel and register
    remainders, K = 0, K over one block, a row block in the middle), wide and narrow panels,
    and the same bits for every split of the rows over threads."""
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        for M, K, N in [(1, 1, 1), (5, 3, 17), (9, 70, 130), (4, 0, 64), (13, 33, 80),
                        (7, 600, 65), (9, 1100, 200), (3, 300, 64)]:
            a = rng.standard_normal((M, K)).astype(dtype)
            w = rng.standard_normal((K, N)).astype(dtype)
            ref = a.astype(np.float64) @ w.astype(np.float64)
            wp = panels.pack(w)
            at = np.ascontiguousarray(a.T)
            for b0, b1 in [(0, M), (M // 3, M - M // 3)]:
                for f, arg in ((panels.gemm_rows, a), (panels.gemm_tn, at)):
                    for packed in (wp, panels.pack(w, narrow=True)):
                        out = np.full((M, N), np.nan, dtype)
                        f(arg, *packed, out, b0, b1)
                        assert np.allclose(out[b0:b1], ref[b0:b1], rtol=1e-5, atol=1e-4)
                        assert np.isnan(out[:b0]).all() and np.isnan(out[b1:]).all()
            one = np.empty((M, N), dtype)
            panels.gemm_rows(a, *wp, one, 0, M)
            one_t = np.empty((M, N), dtype)
            panels.gemm_tn(at, *wp, one_t, 0, M)
            for n in (2, 3):
                out = np.full((M, N), np.nan, dtype)
                panels.gemm_rows_par(a, *wp, out, n)
                assert np.array_equal(out, one)
                panels.gemm_tn_par(at, *wp, out, n)
                assert np.array_equal(out, one_t)

def test_unpacked_matmul_rows_edges():
    """tiles.matmul_rows (the sLSTM's per-head product) on shapes with every kind of edge
    (row and column remainders, K = 0, a row block in the middle)."""
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        for M, K, N in [(1, 1, 1), (5, 3, 17), (9, 70, 130), (4, 0, 64), (13, 33, 80)]:
            a = rng.standard_normal((M, K)).astype(dtype)
            w = rng.standard_normal((K, N)).astype(dtype)
            ref = a.astype(np.float64) @ w.astype(np.float64)
            for b0, b1 in [(0, M), (M // 3, M - M // 3)]:
                out = np.full((M, N), np.nan, dtype)
                tiles.matmul_rows(a, w, out, b0, b1)
                assert np.allclose(out[b0:b1], ref[b0:b1], rtol=1e-5, atol=1e-5)
                assert np.isnan(out[:b0]).all() and np.isnan(out[b1:]).all()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_cache_is_single_use(case):
    from rnnlab.errors import RnnlabError
    cell, opts = case
    ker = registry.get(cell).kernel()
    p, x, dy, st, dst, opts = make(cell, opts, np.float32, True)
    y, s, cache = ker.forward(x, None, p, **opts)
    if "used" not in cache:
        pytest.skip(f"the {cell} kernel's backward leaves its cache intact")
    ker.backward(dy, None, cache)
    with pytest.raises(RnnlabError):
        ker.backward(dy, None, cache)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_stepper_matches_forward(case, dtype):
    """Stepping one input at a time (B=1) equals the full forward, step by step."""
    cell, opts = case
    ker = registry.get(cell).kernel()
    p, x, dy, st, dst, opts = make(cell, opts, dtype, True)
    x1 = np.ascontiguousarray(x[:, :1])
    state = pack(cell, [s[:1] for s in st])
    y, sn, _ = ker.forward(x1, state, p, **opts)
    stepper = ker.Stepper(p, dtype=dtype, **opts)
    stepper.reset(*[s[0] for s in flat(state)])
    for t in range(T):
        h = stepper.step(x1[t, 0])
        assert rel(h, y[t, 0]) <= TOL[dtype]
    for a, b in zip(stepper.state(), flat(sn)):
        assert rel(a, b[0]) <= TOL[dtype]
    # reset() with no state starts from zeros, like forward(state=None)
    y0, _, _ = ker.forward(x1, None, p, **opts)
    stepper.reset()
    assert rel(stepper.step(x1[0, 0]), y0[0, 0]) <= TOL[dtype]


def test_packing_a_transposed_weight_equals_packing_its_copy():
    """panels.pack reads a transposed weight (W^T of a C-contiguous W, as the layers pass
    W_ih^T and W_hh^T) through its own rows (``_fill_t``): the same panels and tail, padding
    included, as packing the contiguous copy, for every kind of edge."""
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        for K, N in [(1, 1), (7, 5), (33, 130), (128, 512), (70, 64)]:
            v = rng.standard_normal((N, K)).astype(dtype)
            for narrow in (False, True):
                want = panels.pack(np.ascontiguousarray(v.T), narrow=narrow)
                got = panels.pack(v.T, narrow=narrow)
                assert all(np.array_equal(a, b) for a, b in zip(got, want)), (K, N, narrow)
