"""The LSTM with layer norm, zoneout and recurrent dropout on the numba kernel: the same
``forward``/``backward`` as ``rnnlab.nn.cells.lstm_options`` (equations there) for the
standard LSTM without a projection (proj_size stays on the reference).

Forward: ``W_ih x`` for all steps as one GEMM (``gemms.input_projection``), its layer norm over
4H for all steps at once in NumPy (``functional.layer_norm``, as the reference), plus the
biases; then the time loop of ``loops`` with the gate pass of ``lstm_options_gates`` (the
product's layer norm, c^'s, zoneout and the mask per step, whole rows: batch split or one
thread, never the unit split). Backward: the time loop back, then the input side's layer norm
backward for all steps, and the weight and input gradients as GEMMs (``gemms``).

Recurrent dropout keeps the masked h (d * h_t) in the state rows that the product reads, so
the loops run unchanged: h_n is rebuilt from y afterwards, the dh that comes back through a
product is multiplied by d as it arrives (``steps.carry_in``), and dW_hh reads d * h_{t-1}.

Activations kept for backward: the plain kernel's (gates 4H, c, tanh c, y) plus, with layer
norm, the normalised product (T, B, 4H) and c^ (T, B, H) with their 1/std, and the input
side's (T, B, 4H). Cache (private; valid until backward, which consumes it): ``i f g o``
(views of the gate buffer), ``c`` (the zoned state after each step), ``tanh_c``, ``h`` (= y,
zero past a row's length).
"""
import numpy as np

from ._common import as_dtype, bias_sum, lengths_array, state_rows, take, use_cache_once
from ._common import release as _release
from .lstm_options_gates import ln_rows, ln_rows_back
from .gemms import input_grad, loop_projection, prepare_input, weight_grads
from .loops import plan, run_backward, run_forward
from .steps import lstm_opt, make

TOKEN_INPUT = True     # forward/backward take a functional.TokenInput (gemms)
WORKSPACE = True       # forward takes workspace=; release(cache) gives its buffers back


def forward(x, state, params, lengths=None, zoneout=(0.0, 0.0), recurrent_mask=None,
            workspace=None, variant="standard"):
    """Run the LSTM with its options over x (T, B, D) (an array or a ``TokenInput``).
    zoneout: (z_c, z_h), each a number (evaluation) or a 0/1 mask (T, B, H) (training);
    recurrent_mask: (B, H) or None; variant: 'standard' only (what the plain cells take, for
    a plain LSTM with recurrent dropout). Returns (y, (h_n, c_n), cache)."""
    x, dtype = prepare_input(x)
    T, B, _ = x.shape
    w_ih, w_hh = as_dtype(params["weight_ih"], dtype), as_dtype(params["weight_hh"], dtype)
    H = w_hh.shape[1]
    _check_params(params, H, variant)
    ln = "ln_ih_weight" in params
    h0, c0 = (None, None) if state is None else state
    h0, c0 = state_rows(h0, B, H, dtype), state_rows(c0, B, H, dtype)
    mask = _mask(recurrent_mask, B, H, dtype)
    hs = np.empty((2 * B, H), dtype)
    hs[:B] = h0 * mask if mask.shape[0] else h0
    hs[B:] = c0
    lens = lengths_array(lengths, T, B)
    ws = workspace
    bias = bias_sum(params, 4 * H, dtype)
    parts = plan(B, H, 4, dtype, True)
    xs, wip, A = loop_projection(x, w_ih, parts, dtype, ws)
    gin, vhat_ih, rstd_ih = _input_side(params, ln, bias, T, B, dtype, ws)
    if xs.shape[0] == 0:                       # A projected already: the input side for all
        _input_side_all(A, bias, gin, vhat_ih, rstd_ih)  # steps at once
    lnp, vh, rh, vc, rc = _ln_buffers(params, ln, T, B, H, dtype, ws)
    zc, zh = (_zone_array(z, (T, B, H), dtype) for z in zoneout)
    cs, tcs = take(ws, (T, B, H), dtype), take(ws, (T, B, H), dtype)
    y = np.empty((T, B, H), dtype)
    fwd_cls, _ = lstm_opt(ln, zc.shape[0] or zh.shape[0], mask.shape[0])
    run_forward(make(fwd_cls, A=A, xs=xs, wip=wip[0], wit=wip[1], bias=bias, gin=gin,
                     vi=vhat_ih, ri=rstd_ih, lens=lens, cs=cs, tcs=tcs, y=y, hs=hs, h0=h0,
                     rmask=mask, zc=zc, zh=zh, lnp=lnp, vh=vh, rh=rh, vc=vc, rc=rc),
                w_hh, 4, ws, parts)
    if ws is not None and xs.shape[0] > 0:
        ws.give_unkept(*wip)
    if not ln:
        vhat_ih = rstd_ih = None
    h_n = hs[:B]
    if mask.shape[0]:                          # hs held d * h: the true h_n from y (or h0)
        last = np.maximum(lens - 1, 0)
        h_n = np.where((lens > 0)[:, None], y[last, np.arange(B)], h0)
    cache = dict(A=A, c=cs, tanh_c=tcs, h=y, x=x, h0=h0, c0=c0, lens=lens, ws=ws,
                 params=params, w_ih=w_ih, w_hh=w_hh, mask=mask, zc=zc, zh=zh, lnp=lnp,
                 vh=vh, rh=rh, vc=vc, rc=rc, vhat_ih=vhat_ih, rstd_ih=rstd_ih,
                 given_h0=state is not None and state[0] is not None, used=False)
    for k, n in enumerate("ifgo"):
        cache[n] = A[:, :, k * H:(k + 1) * H]
    return y, (h_n, hs[B:]), cache


def backward(dy, dstate_n, cache):
    """Backpropagate through time. Returns (dx, (dh0, dc0), grads) with grads keyed like
    params; consumes the cache. For a ``TokenInput`` dx is the table's gradient (V, D), or
    None for one-hot."""
    use_cache_once(cache)
    x, A, y, params, ws = cache["x"], cache["A"], cache["h"], cache["params"], cache["ws"]
    dtype = x.dtype
    T, B, _ = x.shape
    H = y.shape[2]
    ln, mask = cache["lnp"].shape[0] > 0, cache["mask"]
    dh_n, dc_n = (None, None) if dstate_n is None else dstate_n
    dhs = np.empty((2 * B, H), dtype)
    dhs[:B], dhs[B:] = state_rows(dh_n, B, H, dtype), state_rows(dc_n, B, H, dtype)
    zcarry = np.zeros((B, H), dtype)
    dln = np.zeros((plan(B, H, 4, dtype, True)[1], 2, cache["lnp"].shape[1]), dtype)
    dAh = cache["vh"] if ln else A             # dL/d(W_hh h): in vh's place with layer norm
    zoned = cache["zc"].shape[0] or cache["zh"].shape[0]
    _, bwd_cls = lstm_opt(ln, zoned, mask.shape[0])
    zc, zh = (_zone_masks(cache[k], (T, B, H), dtype) if zoned else cache[k] for k in ("zc", "zh"))
    run_backward(make(bwd_cls, A=A, dAh=dAh, dy=as_dtype(dy, dtype), lens=cache["lens"],
                      cs=cache["c"], tcs=cache["tanh_c"], c0=cache["c0"], dhs=dhs,
                      rmask=mask, zc=zc, zh=zh, zcarry=zcarry,
                      lnp=cache["lnp"], vh=cache["vh"], rh=cache["rh"], vc=cache["vc"],
                      rc=cache["rc"], dln=dln), cache["w_hh"], 4, ws)
    live = (cache["lens"] > 0)[:, None]        # dh0: through the first step's product (times
    dh0 = np.where(live, dhs[:B] + zcarry, dhs[:B])   # d already: ``steps.carry_in``)
    dAx, grads = A, {}
    if ln:
        dAx = _input_ln_backward(A, cache, grads, dtype)
        _ln_grads(dln, H, grads, params)
    h_read0 = cache["h0"] if cache["given_h0"] else None     # what W_hh read: d * h_{t-1}
    y_read = y
    if mask.shape[0]:
        y_read = np.multiply(y, mask, out=take(ws, y.shape, dtype))
        h_read0 = None if h_read0 is None else h_read0 * mask
    wgrads, S = weight_grads(params, x, h_read0, y_read, dAx, dAh, ws)
    if y_read is not y and ws is not None:
        ws.give(y_read)
    grads.update(wgrads)
    if "bias_ih" in params:                    # the biases add after the layer norms
        grads["bias_ih"] = grads["ln_ih_bias"].copy() if ln else \
            A.reshape(T * B, 4 * H).sum(axis=0)
        grads["bias_hh"] = grads["bias_ih"].copy()
    if ln and "ln_ih_bias" not in params:
        del grads["ln_ih_bias"]
    dx = input_grad(dAx, cache["w_ih"], x, S, ws)
    release(cache)
    return dx, (dh0, dhs[B:]), grads


def release(cache):
    """Give the cache's gate and cell-state buffers back to its workspace (after backward, or
    when a forward's cache will never be backpropagated)."""
    ln = cache["vhat_ih"] is not None
    _release(cache, ("A", "c", "tanh_c") + (("vhat_ih", "vh", "vc") if ln else ()))


def _check_params(params, H, variant):
    from ...errors import RnnlabError
    if variant != "standard" or "weight_hr" in params or params["weight_ih"].shape[0] != 4 * H:
        raise RnnlabError("the options kernel runs the standard LSTM without proj_size; "
                          "run rnnlab.nn.cells.lstm_options for a projected or variant LSTM")


def _mask(mask, B, H, dtype):
    """The recurrent-dropout mask as (B, H), or an empty (0, H) array without one."""
    return np.zeros((0, H), dtype) if mask is None else as_dtype(np.broadcast_to(mask, (B, H)),
                                                                  dtype)


def _zone_array(z, shape, dtype):
    """A zoneout probability or mask for the gate pass: (0, 0, 0) when off, (1, 1, 1) holding
    z in evaluation, the (T, B, H) mask in training."""
    if np.ndim(z) == 0:
        return np.zeros((0, 0, 0), dtype) if z == 0 else np.full((1, 1, 1), z, dtype)
    from ...errors import RnnlabError
    if np.shape(z) != shape:
        raise RnnlabError(f"zoneout: got a mask of shape {np.shape(z)}, expected {shape}")
    return as_dtype(z, dtype)


def _input_side(params, ln, bias, T, B, dtype, ws):
    """(gin, vhat_ih, rstd_ih): the input side's layer-norm gain and its caches (T, B, 4H)
    and (T, B), empty without layer norm; with it, bias becomes the sum of the input side's
    layer-norm bias and the LSTM's biases (in place: the norm's output is gain * vhat + it)."""
    G = bias.shape[0]
    if not ln:
        return np.zeros(0, dtype), np.zeros((0, 0, G), dtype), np.zeros((0, 0), dtype)
    bias += _ln_bias(params, "ln_ih", G, dtype)
    return (as_dtype(params["ln_ih_weight"], dtype), take(ws, (T, B, G), dtype),
            np.empty((T, B), dtype))


def _input_side_all(A, bias, gin, vhat, rstd):
    """A (projected before the loop) -> + bias, or its layer norm for all steps at once."""
    T, B, G = A.shape
    if gin.shape[0]:
        ln_rows(A.reshape(T * B, G), gin, bias, vhat.reshape(T * B, G), rstd.reshape(T * B))
    else:
        A += bias


def _zone_masks(z, shape, dtype):
    """Zoneout for the backward's gate pass: always the (T, B, H) masks, a number (evaluation,
    or a side that is off) spread over them. The backward runs in training, with masks; so
    its compiled pass has no branch on the kind: with one per row (and the row's length
    checked for the mask's d) its time loop took 944 us against 521 without (H = 32, B = 32,
    T = 100, one thread; the plain LSTM's 594)."""
    if z.shape == shape:
        return z
    return np.full(shape, z[0, 0, 0] if z.size else 0, dtype)


def _ln_bias(params, name, n, dtype):
    b = params.get(name + "_bias")
    return np.zeros(n, dtype) if b is None else as_dtype(b, dtype)


def _ln_buffers(params, ln, T, B, H, dtype, ws):
    """(lnp, vh, rh, vc, rc): the gains [g_hh; g_c] over biases [b_hh; b_c] (2, 5H), and the
    per-step layer-norm caches (the big ones from the workspace: fresh, their first touch
    cost 1.5 ms of page faults at H = 128, B = 32, T = 100); empty arrays without layer norm."""
    if not ln:
        return (np.zeros((0, 0), dtype), np.zeros((0, 0, 4 * H), dtype),
                np.zeros((0, 0), dtype), np.zeros((0, 0, H), dtype), np.zeros((0, 0), dtype))
    lnp = np.empty((2, 5 * H), dtype)
    lnp[0, :4 * H], lnp[0, 4 * H:] = params["ln_hh_weight"], params["ln_c_weight"]
    lnp[1, :4 * H] = _ln_bias(params, "ln_hh", 4 * H, dtype)
    lnp[1, 4 * H:] = _ln_bias(params, "ln_c", H, dtype)
    return (lnp, take(ws, (T, B, 4 * H), dtype), np.empty((T, B), dtype),
            take(ws, (T, B, H), dtype), np.empty((T, B), dtype))


def _input_ln_backward(dA, cache, grads, dtype):
    """dL/d(W_ih x) through the input side's layer norm, all steps at once, into the buffer
    of its vhat; its gain's and bias's gradients into grads (the bias's also when the layer
    norm has none: it is the LSTM biases' gradient)."""
    T, B, GH = dA.shape
    vhat = cache["vhat_ih"]
    dgain, dbias = np.zeros(GH, dtype), np.zeros(GH, dtype)
    ln_rows_back(dA.reshape(T * B, GH), vhat.reshape(T * B, GH), cache["rstd_ih"].reshape(-1),
                 as_dtype(cache["params"]["ln_ih_weight"], dtype), dgain, dbias)
    grads["ln_ih_weight"], grads["ln_ih_bias"] = dgain, dbias
    return vhat


def _ln_grads(dln, H, grads, params):
    """The recurrent side's and c^'s gain and bias gradients, summed over the row blocks."""
    total = dln.sum(axis=0)
    grads["ln_hh_weight"], grads["ln_c_weight"] = total[0, :4 * H], total[0, 4 * H:]
    if "ln_hh_bias" in params:
        grads["ln_hh_bias"], grads["ln_c_bias"] = total[1, :4 * H], total[1, 4 * H:]
