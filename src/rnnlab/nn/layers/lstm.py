"""The LSTM layer: gates i, f, g, o in torch's order, colah's peephole and coupled variants,
and the options torch's fused LSTM lacks (but proj_size, which it has). The equations, in the
seed note's names, and their backward pass: rnnlab/nn/cells/lstm.py (the plain cell, also run
by the fused kernel) and rnnlab/nn/cells/lstm_options.py (projection, layer norm, zoneout)."""
import numpy as np

from ...errors import RnnlabError
from ...validate import integer
from ..cells import lstm as lstm_cell
from ..cells import lstm_options
from ..functional import keep_mask
from ...validate import positive_int
from .base import RecurrentLayer
from .recurrent_dropout import RecurrentDropout


def _kernel():
    """The fused numba LSTM, imported on first use (importing numba takes about half a second)."""
    from ..kernels import lstm
    return lstm


def _options_kernel():
    """The numba LSTM with layer norm, zoneout and recurrent dropout (kernels/lstm_options)."""
    from ..kernels import lstm_options as kernel
    return kernel


class LSTM(RecurrentDropout, RecurrentLayer):
    """LSTM with gates i, f, g, o, the variants 'peephole' and 'coupled', and the options
    proj_size, layer_norm, zoneout and recurrent_dropout. Returns (y, (h_n, c_n)).

    LSTM(input_size, hidden_size, num_layers=1, variant='standard', forget_bias=None,
         proj_size=0, layer_norm=False, zoneout=0.0, recurrent_dropout=0.0,
         bias=True, batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32,
         seed=None, recurrent_init='uniform')

    G = 4 (i, f, g, o), or 3 for the coupled variant (f, g, o). The peephole variant adds
    ``weight_pi_l{k}``, ``weight_pf_l{k}``, ``weight_po_l{k}`` (H,). ``forget_bias=1.0`` sets
    the forget gate's bias (in bias_ih; bias_hh's part is zeroed), as Keras'
    unit_forget_bias does.

    Options (equations in rnnlab/nn/cells/lstm_options.py; all but recurrent_dropout need
    variant='standard'). layer_norm, zoneout and recurrent_dropout run on the numba kernel
    (rnnlab/nn/kernels/lstm_options.py; recurrent dropout of a peephole or coupled LSTM in
    training on the NumPy reference); proj_size runs the NumPy reference on every backend, and
    so does generation one token at a time (``steppers()``) with any option but
    recurrent_dropout, which is off there:

    - ``proj_size=P`` (0 < P < H), as torch: h_t = W_hr (o_t * tanh c_t). h, h_n and y are
      P wide per direction (c stays H); ``weight_hh_l{k}`` is (4H, P) and ``weight_hr_l{k}``
      (P, H) is added; layers above the first read dirs*P features.
    - ``layer_norm=True`` (Ba et al. 2016): LN(W_ih x) + LN(W_hh h) + b, and
      h = o * tanh(LN(c)). Adds ``ln_ih_weight_l{k}``, ``ln_hh_weight_l{k}`` (4H,),
      ``ln_c_weight_l{k}`` (H,) (gains, 1 at the start) and, with bias=True, ``ln_ih_bias``,
      ``ln_hh_bias``, ``ln_c_bias`` (0 at the start).
    - ``zoneout=z`` or ``(z_c, z_h)`` (Krueger et al. 2016), each in [0, 1): in training each
      unit of c and h keeps its previous value with probability z (masks from `rng`); in
      evaluation the expectation, h_t = z h_{t-1} + (1 - z) h^_t.
    - ``recurrent_dropout=p`` (Gal & Ghahramani 2016): one dropout mask on h_{t-1} for the
      whole sequence, in training (rnnlab/nn/layers/recurrent_dropout.py); any variant.
    """
    reference = lstm_cell
    catalogue = lstm_options
    kernel = staticmethod(_kernel)
    # the defaults of what param_shapes reads, for parameter_shapes' unbuilt layer
    variant, proj_size, layer_norm = "standard", 0, False

    def __init__(self, input_size, hidden_size, num_layers=1, variant="standard",
                 forget_bias=None, proj_size=0, layer_norm=False, zoneout=0.0,
                 recurrent_dropout=0.0, **kw):
        if variant not in lstm_cell.VARIANTS:
            raise RnnlabError(f"variant must be 'standard', 'peephole' or 'coupled', got {variant!r}")
        self.variant, self.forget_bias = variant, forget_bias
        self.proj_size = _check_proj_size(proj_size, positive_int("hidden_size", hidden_size))
        if not isinstance(layer_norm, (bool, np.bool_)):
            raise RnnlabError(f"layer_norm must be True or False, got {layer_norm!r}; use "
                              "--layer-norm to switch it on")
        self.layer_norm = bool(layer_norm)
        self.zoneout = _check_zoneout(zoneout)
        self._set_recurrent_dropout(recurrent_dropout)
        if variant != "standard" and self.uses_options_cell():
            name = next(n for n in self.options_on() if n != "recurrent_dropout")
            raise RnnlabError(f"{name} works with the standard LSTM only, got variant="
                              f"{variant!r}; use --cell lstm (or drop --{name.replace('_', '-')})")
        super().__init__(input_size, hidden_size, num_layers, **kw)

    # ----- what the options change --------------------------------------------------------
    def options_on(self):
        """{option: value} of the options that are on (an empty dict for the plain LSTM)."""
        on = {"proj_size": self.proj_size, "layer_norm": self.layer_norm,
              "zoneout": self.zoneout if any(self.zoneout) else 0,
              "recurrent_dropout": self.recurrent_dropout}
        return {k: v for k, v in on.items() if v}

    def uses_options_cell(self):
        """Whether an option needs cells/lstm_options.py (projection, layer norm, zoneout)."""
        return bool(self.proj_size or self.layer_norm or any(self.zoneout))

    def cell_module(self):
        return lstm_options if self.uses_options_cell() else lstm_cell

    def options_kernel_runs(self):
        """Whether this call's options need the options kernel (kernels/lstm_options.py): layer
        norm, zoneout, or recurrent dropout in training."""
        return bool(self.layer_norm or any(self.zoneout) or self.recurrent_mask_on())

    def kernel_fits(self):
        return super().kernel_fits() and not self.proj_size

    def recurrent_mask_fits(self):
        """The options kernel applies recurrent dropout to the standard LSTM."""
        return self.variant == "standard" and not self.proj_size

    def kernel_loader(self):
        return _options_kernel if self.options_kernel_runs() else _kernel

    def stepper_fits(self):
        """The B=1 Stepper computes the plain LSTM only (in evaluation recurrent dropout is
        off, so it steps a layer whose only option that is)."""
        return self.kernel_fits() and not self.uses_options_cell()

    def num_gates(self):
        return lstm_cell.num_gates(self.variant)

    def cell_options(self):
        if self.uses_options_cell():
            return {"zoneout": self.zoneout}       # evaluation: the expectation
        return {"variant": self.variant}

    def call_options(self, k, d, T, B):
        opts = super().call_options(k, d, T, B)    # + the recurrent dropout mask
        if self.training and any(self.zoneout):
            (z_c, z_h), H, R = self.zoneout, self.hidden_size, self.state_shapes()["h"][0]
            keep_c = keep_mask((T, B, H), z_c, self.rng, self.dtype)
            keep_h = keep_mask((T, B, R), z_h, self.rng, self.dtype)
            opts["zoneout"] = (0.0 if keep_c is None else keep_c, 0.0 if keep_h is None else keep_h)
        return opts

    def state_shapes(self):
        return {"h": (self.proj_size or self.hidden_size,), "c": (self.hidden_size,)}

    def state_shape_text(self, part):
        return "proj_size" if part == "h" and self.proj_size else "H"

    # ----- parameters -----------------------------------------------------------------------
    def _extra_params(self):
        return ("weight_pi", "weight_pf", "weight_po") if self.variant == "peephole" else ()

    def param_shapes(self, D):
        shapes = super().param_shapes(D)
        H, P, GH = self.hidden_size, self.proj_size, self.num_gates() * self.hidden_size
        if P:                                      # torch's names and order
            shapes["weight_hh"] = (GH, P)
            shapes["weight_hr"] = (P, H)
        if self.layer_norm:
            for name, n in (("ln_ih", GH), ("ln_hh", GH), ("ln_c", H)):
                shapes[name + "_weight"] = (n,)
                if self.bias:
                    shapes[name + "_bias"] = (n,)
        return shapes

    def _init_direction(self, params, k, d):
        for name in ("ln_ih", "ln_hh", "ln_c") if self.layer_norm else ():
            params[self.param_key(name + "_weight", k, d)][:] = 1.0     # LN starts as the
            if self.bias:                                               # plain normalisation
                params[self.param_key(name + "_bias", k, d)][:] = 0.0
        if self.forget_bias is None or not self.bias:
            return
        H = self.hidden_size
        f = slice(0, H) if self.variant == "coupled" else slice(H, 2 * H)
        params[self.param_key("bias_ih", k, d)][f] = self.forget_bias
        params[self.param_key("bias_hh", k, d)][f] = 0.0

    def __repr__(self):
        extra = "".join(f", {k}={v}" for k, v in self.options_on().items())
        return super().__repr__()[:-1] + extra + ")"


def _check_proj_size(P, H):
    return integer("proj_size", P, 0, H - 1,
                   expected=f"an integer in [0, hidden_size={H}) (0 = no projection)",
                   hint=f"use e.g. --proj-size {max(1, H // 2)}")


def _check_zoneout(z):
    """zoneout: a probability z (for c and h) or a pair (z_c, z_h), each in [0, 1)."""
    pair = tuple(z) if isinstance(z, (tuple, list)) else (z, z)
    ok = len(pair) == 2 and all(not isinstance(v, bool) and isinstance(v, (int, float, np.floating))
                                and 0.0 <= v < 1.0 for v in pair)
    if not ok:
        raise RnnlabError(f"zoneout must be a probability z or a pair (z_c, z_h), each in [0, 1),"
                          f" got {z!r}; use e.g. --zoneout 0.1,0.05")
    return tuple(float(v) for v in pair)
