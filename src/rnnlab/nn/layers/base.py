"""The machinery every recurrent layer shares: stacking, directions, lengths, dropout between
layers, the state's checks and shapes, and the torch-style parameter names. A layer class
(rnn.py, lstm.py, gru.py) adds only what its cell needs: which reference cell and kernel run
it, its gate count, its options and its extra parameters.

    layer = rnnlab.LSTM(input_size=D, hidden_size=H, num_layers=L, bidirectional=True)
    y, (h_n, c_n) = layer(x)                 # x: (T, B, D) -> y: (T, B, dirs*H)
    dx, (dh0, dc0) = layer.backward(dy)      # gradients for the last forward call

Shapes (as torch): x (T, B, D), or (B, T, D) with batch_first, or unbatched (T, D).
y (T, B, dirs*H), read-only (backward reads it; copy it to change it).
Each part of the state (h_0, c_0, ...) is (L*dirs, B, H), or (L*dirs, H) unbatched; a cell
with one state part takes and returns an array, a cell with several a tuple in its order.
A layer whose state parts are not (H,) per row says so in ``state_shapes()``: each part is
then (L*dirs, B) + its shape (the projected LSTM's h is (P,), so y is (T, B,
``output_size``); the mLSTM's matrix memory C is (heads, H/heads, H/heads)).
lengths (B,): each row gets exactly what running it alone would give (y zero past its length,
h_n from its last real step, the reverse direction starting at its own end), which is what
torch's pack_padded_sequence gives, without the packing.

Parameters use torch's names, shapes and gate order, so a torch state_dict loads as it is:
``weight_ih_l{k}`` (G*H, D_k), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}``
(G*H,), with the suffix ``_reverse`` for the backward direction. Layers above the first read
``output_size`` = dirs*H features. Initialisation: torch's U(-1/sqrt(H), 1/sqrt(H)) for everything;
``recurrent_init='orthogonal'`` makes each gate's block of weight_hh orthogonal.

Public hooks for the rooms above (training, streaming, inspection) so that none of them
reaches into a layer's private fields:
  ``rng``                   the dropout generator (seeded, or passed in; saved by --resume)
  ``forward_with_gates``    a forward that also returns every gate the reference cell keeps
  ``steppers()``            one B=1 stepper per layer, for token-at-a-time generation
  ``zero_state(B)``, ``cell_params(k, d)``, ``param_key(name, k, d)``
  ``state_shapes()``, ``output_size``   the state parts' shapes and y's last dimension
  ``init_overrides()``      the parameter entries the layer's own initialisation sets
And hooks for a layer class whose options the plain cell lacks: ``cell_module()`` (the
reference cell that computes the layer as configured), ``call_options(k, d, T, B)`` (one
call's keyword options, with the random masks a regulariser draws from ``rng``),
``kernel_fits()``, ``kernel_loader()`` (which kernel), ``stepper_fits()``,
``stepper_loader()`` (which Stepper) and ``recurrent_block()`` (the orthogonal init's block of weight_hh).
"""
import numpy as np

from ...errors import RnnlabError
from ...validate import positive_int
from .. import backend as _backend
from .. import compiling
from ..checks import check_array, check_finite, check_lengths, check_shape
from ..functional import TokenInput, check_dropout, dropout_mask
from ..module import Module
from . import inputs
from .inputs import reverse_padded
from .state import LayerState


class RecurrentLayer(LayerState, Module):
    """The shared machinery; use RNN, LSTM or GRU (or any layer of the cell registry)."""
    reference = None     # the reference cell module (rnnlab.nn.cells.<name>): the equations
    kernel = None        # a function returning the fused kernel module, or None
    # the module whose GATES, LEGEND and BOUNDS name every quantity the layer can cache, when
    # its options add some to the reference's (the LSTM's layer norm and projection); None:
    # the reference's (the cell registry reads it)
    catalogue = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None, rng=None,
                 recurrent_init="uniform", **unknown):
        if unknown:
            name = sorted(unknown)[0]
            raise RnnlabError(f"{name} is not an option of the {type(self).__name__} layer; "
                              f"remove it (see help(rnnlab.{type(self).__name__}))")
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("num_layers", num_layers)
        self.dropout = check_dropout(dropout, "dropout")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise RnnlabError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        if recurrent_init not in ("uniform", "orthogonal"):
            raise RnnlabError(f"recurrent_init must be 'uniform' or 'orthogonal', got {recurrent_init!r}")
        self.bias, self.batch_first = bias, batch_first
        self.bidirectional, self.dtype = bidirectional, np.dtype(dtype)
        self.num_directions = 2 if bidirectional else 1
        self.recurrent_init = recurrent_init
        self.training = True
        # one generator for the dropout masks; a task model passes its own so that a resumed
        # run continues the same stream of masks
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.params = self._init_params()
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._ctx = None
        self._workspace = None       # the kernel's scratch buffers, kept between calls

    def __getstate__(self):
        """Copies (clone, pickle) leave out the last forward's context and the scratch
        buffers: they belong to this object's calls."""
        return {**self.__dict__, "_ctx": None, "_workspace": None}

    # ----- what the cell is ---------------------------------------------------------------
    @property
    def cell(self):
        """The cell's name in the registry: the reference module's short name ('lstm')."""
        return self.reference.__name__.rsplit(".", 1)[-1]

    def num_gates(self):
        raise NotImplementedError

    def cell_options(self):
        """Keyword options the cell's forward takes (e.g. the LSTM's variant)."""
        return {}

    def _extra_params(self):
        """Names of the variant's own per-direction parameters, each (H,)."""
        return ()

    def recurrent_block(self, shape):
        """(rows, columns) of one block of weight_hh (of `shape`) that recurrent_init=
        'orthogonal' makes orthonormal: one per gate, H rows by default (its columns: H, or P
        when projected); a cell with block-diagonal recurrent weights overrides it."""
        return self.hidden_size, shape[1]

    def init_overrides(self):
        """{parameter short name: (index, what)}: the entries that the layer's own
        initialisation sets instead of torch's U(-1/sqrt(H), 1/sqrt(H)) (e.g. a forget-gate
        bias), with a few words on what they are set to. Empty by default."""
        return {}

    def _check_state_values(self, name, part, s):
        """A given initial state part must respect the cell's STATE_MIN (the sLSTM's
        normaliser n >= 0: a sum of positive weights); parts without one take any finite
        value. name: 'n_0', part: 'n'."""
        low = getattr(self.reference, "STATE_MIN", {}).get(part)
        if low is not None and s.size and s.min() < low:
            bad = tuple(int(i) for i in np.argwhere(s < low)[0])
            raise RnnlabError(f"{name} holds {s[bad]:.4g} at {bad}, below {low:g}, the least "
                              f"the {self.cell}'s {part} can be; pass the {part}_n a previous "
                              "call returned, or zeros")

    # ----- parameters -------------------------------------------------------------------
    def param_key(self, name, k, d=0):
        """The state_dict key of a cell parameter of layer k, direction d (torch's naming)."""
        return f"{name}_l{k}" + ("_reverse" if d == 1 else "")

    def param_shapes(self, D):
        """{short name: shape} of one direction's parameters, for input width D. The default
        is torch's layout for a cell of G gates: weight_ih (G*H, D), weight_hh (G*H, H), the
        two biases (G*H,), plus the variant's extras (H,). A cell with other parameters
        overrides this (and, if it needs, _init_direction)."""
        H, G = self.hidden_size, self.num_gates()
        shapes = {"weight_ih": (G * H, D), "weight_hh": (G * H, H)}
        if self.bias:
            shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        shapes.update({name: (H,) for name in self._extra_params()})
        return shapes

    @classmethod
    def parameter_shapes(cls, input_size, hidden_size, num_layers=1, bias=True,
                         bidirectional=False, **options):
        """{state_dict key: shape} of the layer these arguments would build, without building
        it (nothing is allocated: for a memory estimate before a big model is made). The
        options are the layer's keyword options (variant, ...), read by param_shapes under
        the same names as the layer's attributes."""
        shell = cls.__new__(cls)
        shell.input_size, shell.hidden_size, shell.num_layers = input_size, hidden_size, num_layers
        shell.bias, shell.num_directions = bias, 2 if bidirectional else 1
        for name, value in options.items():
            setattr(shell, name, value)
        return {shell.param_key(name, k, d): shape
                for k in range(num_layers) for d in range(shell.num_directions)
                for name, shape in shell.param_shapes(shell.layer_input_size(k)).items()}

    def layer_input_size(self, k):
        """The input width of layer k: the input for the first, the outputs of the one below."""
        return self.input_size if k == 0 else self.output_size

    def _init_params(self):
        """torch's initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every parameter, then the
        orthogonal recurrent blocks when asked, then the cell's own touches."""
        H = self.hidden_size
        bound = 1.0 / np.sqrt(H)
        params = {}
        for k in range(self.num_layers):
            for d in range(self.num_directions):
                for name, shape in self.param_shapes(self.layer_input_size(k)).items():
                    params[self.param_key(name, k, d)] = \
                        self.rng.uniform(-bound, bound, shape).astype(self.dtype)
                if self.recurrent_init == "orthogonal":
                    # one block per gate (H rows; its columns orthonormal: R = H, or P
                    # projected), or per gate and head for block-diagonal recurrent weights
                    w = params[self.param_key("weight_hh", k, d)]
                    rows, cols = self.recurrent_block(w.shape)
                    for g in range(w.shape[0] // rows):
                        q, r = np.linalg.qr(self.rng.standard_normal((rows, cols)))
                        w[g * rows:(g + 1) * rows] = q * np.sign(np.diag(r))
                self._init_direction(params, k, d)
        return params

    def _init_direction(self, params, k, d):
        """A layer's own initialisation of one direction (the LSTM's forget bias)."""

    def cell_params(self, k, d=0):
        """Layer k, direction d's parameters under the cell's short names (views, no copies)."""
        return {name: self.params[self.param_key(name, k, d)]
                for name in self.param_shapes(self.layer_input_size(k))}

    def kernel_fits(self):
        """Whether a fused kernel computes this layer as configured (``kernel_loader()`` names
        which). A layer whose options no kernel has (say, a projected LSTM) returns False and
        runs the reference cell on every backend."""
        return self.kernel is not None

    def kernel_loader(self):
        """The function returning the kernel module that computes this layer as configured
        (when ``kernel_fits()``): `kernel`, or the kernel a layer's options need (the LSTM's
        layer norm and zoneout run kernels.lstm_options)."""
        return self.kernel

    def stepper_fits(self):
        """Whether the kernel's B=1 ``Stepper`` computes this layer as configured (for
        ``steppers()``); a layer whose options the stepper lacks returns False."""
        return self.kernel_fits()

    def stepper_loader(self):
        """The function returning the module whose ``Stepper`` steps this layer (when
        ``stepper_fits()``): `kernel`, or a module with a Stepper only (the mLSTM trains on
        its NumPy forms and steps on kernels.mlstm)."""
        return self.kernel

    def cell_module(self):
        """The reference cell that computes this layer as configured: `reference`, or the
        cell module a layer's options need (the LSTM with layer norm: cells.lstm_options)."""
        return self.reference

    def call_options(self, k, d, T, B):
        """The keyword options of one call of the cell's forward, for layer k, direction d on
        T steps of B sequences: cell_options(), plus the masks a regulariser draws for this
        call from `rng` in training (recurrent dropout, zoneout)."""
        return self.cell_options()

    def implementation(self, backend=None):
        """The module whose forward/backward runs this layer: the kernel or the reference."""
        return _backend.implementation(self.cell_module(),
                                       self.kernel_loader() if self.kernel_fits() else None,
                                       backend)

    # ----- forward ------------------------------------------------------------------------
    def __call__(self, x, state=None, lengths=None, backend=None):
        return self.forward(x, state, lengths, backend)

    def forward(self, x, state=None, lengths=None, backend=None):
        """x: (T, B, D) [or (B, T, D) with batch_first, or (T, D)], or a ``TokenInput`` (token
        ids, one-hot or into an embedding table). Returns (y, state_n)."""
        x, unbatched = self._check_x(x)
        T, B, _ = x.shape
        lengths = check_lengths(lengths, T, B)
        state0 = self._check_state(state, B, unbatched)
        for part, s in zip(self.state_names, state0 or ()):
            self._check_state_values(f"{part}_0", part, s)
        fn = self.implementation(backend)
        inputs.release(self._ctx)                 # the last forward's buffers, never backpropagated
        self._ctx = None
        state_n = self._state_arrays(B, np.empty)
        caches, masks, inp = [], [], x
        for k in range(self.num_layers):
            mask = None
            if k > 0 and self.training and self.dropout > 0:   # dropout between layers only
                mask = dropout_mask(inp.shape, self.dropout, self.rng, self.dtype)
                inp = inp * mask
            masks.append(mask)
            outs = []
            for d in range(self.num_directions):
                i = k * self.num_directions + d
                y, sn, cache = fn.forward(inputs.direction_input(fn, inp, d, lengths),
                                          self._pick(state0, i), self.cell_params(k, d),
                                          lengths, **inputs.kernel_options(self, fn, k, d, T, B))
                outs.append(y if d == 0 else reverse_padded(y, lengths))
                for part, value in zip(state_n, self.state_parts(sn)):
                    part[i] = value
                caches.append(cache)
            inp = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)
        self._ctx = dict(fn=fn, caches=caches, masks=masks, lengths=lengths, shape=inp.shape,
                         unbatched=unbatched, tokens=x if isinstance(x, TokenInput) else None)
        # backward reads y (the kernels use it as h_{t-1}): hand it out read-only, as torch
        # refuses in-place changes to a tensor autograd still needs; copy it to change it. A
        # read-only view, not the array itself: the kernels keep reading a writeable y, so
        # numba does not compile a second, read-only signature of each product (2 s cold)
        out = inp.view()
        out.flags.writeable = False
        return self._out(out, unbatched), self._state_out(state_n, unbatched)

    def forward_with_gates(self, x, state=None, lengths=None, backend="numpy"):
        """A forward that also returns what every gate did: (y, state_n, gates) with gates
        {(layer k, direction d, name): (T, B, H)} for each name the cell keeps (those of its
        module's GATES that its options compute), the reverse direction put back in natural
        time order (row t = step t). backward() works after it, as after forward().
        backend: "numpy" (the reference cells, every gate) by default; None or "numba" runs
        the kernel where it fits, whose cache keeps the gates it needs for backward (the
        LSTM's all but j, k), as views that the layer's next forward may reuse: copy them."""
        y, state_n = self.forward(x, state, lengths, backend=backend)
        lengths, gates = self._ctx["lengths"], {}
        for i, cache in enumerate(self._ctx["caches"]):
            k, d = divmod(i, self.num_directions)
            for name in (n for n in self.cell_module().GATES if n in cache):
                a = cache[name]
                gates[(k, d, name)] = reverse_padded(a, lengths) if d == 1 else a
        return y, state_n, gates

    def _check_x(self, x):
        if isinstance(x, TokenInput):
            return inputs.check_tokens(x, self.input_size, self.dtype, self.batch_first)
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

    # ----- backward -----------------------------------------------------------------------
    def backward(self, dy, dstate_n=None):
        """dy: same shape as y; dstate_n: same structure as the state (or None).
        Adds the parameter gradients into self.grads and returns (dx, dstate0); for a
        TokenInput dx is the table's gradient (V, D), or None for one-hot."""
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
        dstate_n = self._check_state(dstate_n, B, unbatched, "dstate_n", "_n", "d")
        lengths, W = ctx["lengths"], DH // self.num_directions      # W: one direction's width
        compiling.wait_for(f"{self.cell}:backward")   # its loop compiling in a second process
        dstate0 = self._state_arrays(B, np.zeros)
        dinp = dy
        for k in reversed(range(self.num_layers)):
            dx_total = None
            for d in range(self.num_directions):
                i = k * self.num_directions + d
                dy_d = dinp[:, :, d * W:(d + 1) * W]
                if d == 1:
                    dy_d = reverse_padded(dy_d, lengths)
                dx, ds0, g = ctx["fn"].backward(np.ascontiguousarray(dy_d),
                                                self._pick(dstate_n, i), ctx["caches"][i])
                dx = inputs.input_grad(ctx["tokens"] if k == 0 else None, dx, d, lengths)
                for name, v in g.items():
                    self.grads[self.param_key(name, k, d)] += v
                for part, value in zip(dstate0, self.state_parts(ds0)):
                    part[i] = value
                dx_total = dx if dx_total is None else (dx_total if dx is None else dx_total + dx)
            if ctx["masks"][k] is not None:                     # backprop through dropout
                dx_total = dx_total * ctx["masks"][k]
            dinp = dx_total
        if ctx["tokens"] is not None:
            return dinp, self._state_out(dstate0, unbatched)
        return self._out(dinp, unbatched), self._state_out(dstate0, unbatched)

    # ----- generation ---------------------------------------------------------------------
    def steppers(self):
        """One B=1 stepper per layer (the kernel's Stepper: the weights packed once, one
        compiled call per token). Forward direction only: a bidirectional layer sees the
        future, so it cannot generate."""
        if self.bidirectional:
            raise RnnlabError("a bidirectional layer cannot step one token at a time")
        if not self.stepper_fits():
            raise RnnlabError(f"the {self.cell} layer as configured has no fused kernel to step "
                              "with; generate with forward() one step at a time")
        kernel = self.stepper_loader()()
        return [kernel.Stepper(self.cell_params(k), self.dtype, **self.cell_options())
                for k in range(self.num_layers)]

    def __repr__(self):
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, num_layers="
                f"{self.num_layers}, bidirectional={self.bidirectional}, dtype={self.dtype.name})")
