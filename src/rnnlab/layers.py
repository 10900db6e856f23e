"""RNN, LSTM and GRU layers with PyTorch's interface: stacking, directions, lengths, dropout.

    layer = rnnlab.LSTM(input_size=D, hidden_size=H, num_layers=L, bidirectional=True)
    y, (h_n, c_n) = layer(x)                 # x: (T, B, D) -> y: (T, B, dirs*H)
    dx, (dh0, dc0) = layer.backward(dy)      # gradients for the last forward call

Shapes (as torch): x (T, B, D), or (B, T, D) with batch_first, or unbatched (T, D).
y (T, B, dirs*H), read-only (backward reads it; copy it to change it).
h_0, h_n, c_0, c_n (L*dirs, B, H), or (L*dirs, H) unbatched.
lengths (B,): each row gets exactly what running it alone would give (y zero past its length,
h_n from its last real step, the reverse direction starting at its own end), which is what
torch's pack_padded_sequence gives, without the packing.

Parameters use torch's names, shapes and gate order, so a torch state_dict loads as it is:
``weight_ih_l{k}`` (G*H, D_k), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}``
(G*H,), with the suffix ``_reverse`` for the backward direction. G = 1 (RNN), 3 (GRU: r, z, n),
4 (LSTM: i, f, g, o), 3 (coupled LSTM: f, g, o). The peephole LSTM adds ``weight_pi_l{k}``,
``weight_pf_l{k}``, ``weight_po_l{k}`` (H,). Layers above the first read dirs*H features.

Initialisation: torch's U(-1/sqrt(H), 1/sqrt(H)) for everything; ``forget_bias=1.0`` sets the
forget gate's bias (in bias_ih; bias_hh's part is zeroed) and ``recurrent_init='orthogonal'``
makes each gate's block of weight_hh orthogonal.
"""
import numpy as np

from . import backend as _backend
from .checks import check_array, check_finite, check_lengths, check_shape
from .errors import RnnlabError
from .module import Module


def reverse_padded(x, lengths):
    """Flip each row of x (T, B, ...) in time within its own length; padding stays in place.
    Applying it twice gives x back."""
    if lengths is None:
        return x[::-1]
    T, B = x.shape[:2]
    t = np.arange(T)[:, None]
    idx = np.where(t < lengths, lengths - 1 - t, t)
    return x[idx, np.arange(B)]


class RecurrentLayer(Module):
    """The shared machinery; use RNN, LSTM or GRU."""
    cell = None          # 'rnn' | 'lstm' | 'gru'
    has_cell_state = False

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None,
                 forget_bias=None, recurrent_init="uniform"):
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise RnnlabError(f"{name} must be a positive integer, got {v!r}")
        if not 0.0 <= dropout < 1.0:
            raise RnnlabError(f"dropout must be in [0, 1), got {dropout}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise RnnlabError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        if recurrent_init not in ("uniform", "orthogonal"):
            raise RnnlabError(f"recurrent_init must be 'uniform' or 'orthogonal', got {recurrent_init!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.dtype = bidirectional, np.dtype(dtype)
        self.num_directions = 2 if bidirectional else 1
        self.forget_bias, self.recurrent_init = forget_bias, recurrent_init
        self.training = True
        self._rng = np.random.default_rng(seed)
        self.params = self._init_params()
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._ctx = None

    # ----- parameters -------------------------------------------------------------------
    def num_gates(self):
        raise NotImplementedError

    def cell_options(self):
        return {}

    def _extra_params(self):
        """Names of the variant's own per-direction parameters, each (H,)."""
        return ()

    def _suffix(self, k, d):
        return f"_l{k}" + ("_reverse" if d == 1 else "")

    def _init_params(self):
        H, G = self.hidden_size, self.num_gates()
        bound = 1.0 / np.sqrt(H)
        params = {}
        for k in range(self.num_layers):
            D = self.input_size if k == 0 else H * self.num_directions
            for d in range(self.num_directions):
                s = self._suffix(k, d)
                shapes = {"weight_ih": (G * H, D), "weight_hh": (G * H, H)}
                if self.bias:
                    shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
                shapes.update({name: (H,) for name in self._extra_params()})
                for name, shape in shapes.items():
                    params[name + s] = self._rng.uniform(-bound, bound, shape).astype(self.dtype)
                if self.recurrent_init == "orthogonal":
                    for g in range(G):
                        q, r = np.linalg.qr(self._rng.standard_normal((H, H)))
                        params["weight_hh" + s][g * H:(g + 1) * H] = q * np.sign(np.diag(r))
                if self.forget_bias is not None and self.bias:
                    self._set_forget_bias(params, s)
        return params

    def _set_forget_bias(self, params, s):
        raise RnnlabError(f"forget_bias applies to the LSTM only, not to {self.cell}")

    def _cell_params(self, k, d):
        """This direction's parameters under the cell's short names (views, no copies)."""
        s = self._suffix(k, d)
        names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        return {name: self.params[name + s] for name in names + self._extra_params()}

    # ----- forward ------------------------------------------------------------------------
    def __call__(self, x, state=None, lengths=None, backend=None):
        return self.forward(x, state, lengths, backend)

    def forward(self, x, state=None, lengths=None, backend=None):
        """x: (T, B, D) [or (B, T, D) with batch_first, or (T, D)]. Returns (y, state_n)."""
        x, unbatched = self._check_x(x)
        T, B, _ = x.shape
        lengths = check_lengths(lengths, T, B)
        h0, c0 = self._check_state(state, B, unbatched)
        fn = _backend.cell_functions(self.cell, backend)
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        h_n = np.empty((LD, B, H), self.dtype)
        c_n = np.empty((LD, B, H), self.dtype) if self.has_cell_state else None
        caches, masks, inp = [], [], x
        for k in range(self.num_layers):
            mask = None
            if k > 0 and self.training and self.dropout > 0:   # dropout between layers only
                keep = self._rng.random(inp.shape) >= self.dropout
                mask = keep.astype(self.dtype) / (1.0 - self.dropout)
                inp = inp * mask
            masks.append(mask)
            outs = []
            for d in range(self.num_directions):
                i = k * self.num_directions + d
                s0 = self._pack_state(h0, c0, i)
                xin = inp if d == 0 else reverse_padded(inp, lengths)
                y, sn, cache = fn.forward(np.ascontiguousarray(xin), s0, self._cell_params(k, d),
                                          lengths, **self.cell_options())
                outs.append(y if d == 0 else reverse_padded(y, lengths))
                if self.has_cell_state:
                    h_n[i], c_n[i] = sn
                else:
                    h_n[i] = sn
                caches.append(cache)
            inp = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)
        self._ctx = dict(fn=fn, caches=caches, masks=masks, lengths=lengths, shape=inp.shape,
                         unbatched=unbatched)
        # backward reads y (the kernels use it as h_{t-1}): hand it out read-only, as torch
        # refuses in-place changes to a tensor autograd still needs; copy it to change it
        inp.flags.writeable = False
        return self._out(inp, unbatched), self._state_out(h_n, c_n, unbatched)

    def _check_x(self, x):
        desc = f"(T, B, {self.input_size})" if not self.batch_first else f"(B, T, {self.input_size})"
        check_array("x", x, self.dtype, (2, 3), desc + f" or unbatched (T, {self.input_size})")
        if x.shape[-1] != self.input_size:
            raise RnnlabError(f"x has shape {x.shape}, expected {desc}: its last dimension must "
                              f"be input_size={self.input_size}")
        check_finite("x", x)
        if x.ndim == 2:
            return x[:, None, :], True
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        return x, False

    def _check_state(self, state, B, unbatched, what="state", names=("h_0", "c_0")):
        if state is None:
            return None, None
        if self.has_cell_state:
            if not (isinstance(state, (tuple, list)) and len(state) == 2):
                got = (f"an array of shape {state.shape}" if isinstance(state, np.ndarray) else
                       f"{type(state).__name__} of length {len(state)}"
                       if isinstance(state, (tuple, list)) else type(state).__name__)
                raise RnnlabError(f"{what} for the LSTM must be a tuple ({names[0]}, {names[1]}), "
                                  f"got {got}")
            return tuple(self._check_one_state(n, s, B, unbatched) for n, s in zip(names, state))
        return self._check_one_state(names[0], state, B, unbatched), None

    def _check_one_state(self, name, s, B, unbatched):
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        expected = (LD, H) if unbatched else (LD, B, H)
        check_array(name, s, self.dtype, (len(expected),), str(expected))
        check_shape(name, s, expected, f"{expected} = (num_layers*num_directions, B, H)")
        check_finite(name, s)
        return s[:, None, :] if unbatched else s

    def _pack_state(self, h0, c0, i):
        if h0 is None:
            return None
        return (h0[i], c0[i]) if self.has_cell_state else h0[i]

    def _out(self, y, unbatched):
        if unbatched:
            return y[:, 0, :]
        return y.transpose(1, 0, 2) if self.batch_first else y

    def _state_out(self, h, c, unbatched):
        if unbatched:
            h = h[:, 0, :]
            c = c[:, 0, :] if c is not None else None
        return (h, c) if self.has_cell_state else h

    # ----- backward -----------------------------------------------------------------------
    def backward(self, dy, dstate_n=None):
        """dy: same shape as y; dstate_n: same structure as the state (or None).
        Adds the parameter gradients into self.grads and returns (dx, dstate0)."""
        ctx = self._ctx
        if ctx is None:
            raise RnnlabError("backward() called before forward(): run the layer on an input "
                              "first; backward uses what that call kept")
        unbatched = ctx["unbatched"]
        T, B, DH = ctx["shape"]
        y_shape = (T, DH) if unbatched else ((B, T, DH) if self.batch_first else (T, B, DH))
        check_array("dy", dy, self.dtype, (len(y_shape),), str(y_shape))
        check_shape("dy", dy, y_shape, f"{y_shape}, the shape of y")
        dy = dy[:, None, :] if unbatched else (dy.transpose(1, 0, 2) if self.batch_first else dy)
        dh_n, dc_n = self._check_state(dstate_n, B, unbatched, "dstate_n", ("dh_n", "dc_n"))
        LD, H, lengths = self.num_layers * self.num_directions, self.hidden_size, ctx["lengths"]
        dh0 = np.zeros((LD, B, H), self.dtype)
        dc0 = np.zeros((LD, B, H), self.dtype) if self.has_cell_state else None
        dinp = dy
        for k in reversed(range(self.num_layers)):
            dx_total = None
            for d in range(self.num_directions):
                i = k * self.num_directions + d
                dy_d = dinp[:, :, d * H:(d + 1) * H]
                if d == 1:
                    dy_d = reverse_padded(dy_d, lengths)
                dsn = self._pack_state(dh_n, dc_n, i) if dh_n is not None else None
                dx, ds0, g = ctx["fn"].backward(np.ascontiguousarray(dy_d), dsn, ctx["caches"][i])
                if d == 1:
                    dx = reverse_padded(dx, lengths)
                s = self._suffix(k, d)
                for name, v in g.items():
                    self.grads[name + s] += v
                if self.has_cell_state:
                    dh0[i], dc0[i] = ds0
                else:
                    dh0[i] = ds0
                dx_total = dx if dx_total is None else dx_total + dx
            if ctx["masks"][k] is not None:                     # backprop through dropout
                dx_total = dx_total * ctx["masks"][k]
            dinp = dx_total
        return self._out(dinp, unbatched), self._state_out(dh0, dc0, unbatched)

    def __repr__(self):
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, num_layers="
                f"{self.num_layers}, bidirectional={self.bidirectional}, dtype={self.dtype.name})")


class RNN(RecurrentLayer):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), or relu."""
    cell = "rnn"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", **kw):
        if nonlinearity not in ("tanh", "relu"):
            raise RnnlabError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def num_gates(self):
        return 1

    def cell_options(self):
        return {"nonlinearity": self.nonlinearity}


class LSTM(RecurrentLayer):
    """LSTM with gates i, f, g, o (see rnnlab.cells.lstm for the equations) and the variants
    'peephole' and 'coupled'. Returns (y, (h_n, c_n))."""
    cell = "lstm"
    has_cell_state = True

    def __init__(self, input_size, hidden_size, num_layers=1, variant="standard", **kw):
        if variant not in ("standard", "peephole", "coupled"):
            raise RnnlabError(f"variant must be 'standard', 'peephole' or 'coupled', got {variant!r}")
        self.variant = variant
        super().__init__(input_size, hidden_size, num_layers, **kw)

    def num_gates(self):
        return 3 if self.variant == "coupled" else 4

    def cell_options(self):
        return {"variant": self.variant}

    def _extra_params(self):
        return ("weight_pi", "weight_pf", "weight_po") if self.variant == "peephole" else ()

    def _set_forget_bias(self, params, s):
        H = self.hidden_size
        f = slice(0, H) if self.variant == "coupled" else slice(H, 2 * H)
        params["bias_ih" + s][f] = self.forget_bias
        params["bias_hh" + s][f] = 0.0


class GRU(RecurrentLayer):
    """GRU in PyTorch's convention (reset gate after the hidden matmul)."""
    cell = "gru"

    def num_gates(self):
        return 3
