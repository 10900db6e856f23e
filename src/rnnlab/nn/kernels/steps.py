"""The arguments of one cell's time loop as one structure, and the step that reads it.

Each cell's forward and backward loop take one named tuple (``RnnFwd`` ... ``LstmBwd``)
instead of a long positional list: the fields are named where the tuple is built, so two
arrays cannot trade places unnoticed, and a cell carries no filler for fields only another
cell reads. The tuples are built by ``make`` (keyword arguments only), which checks every
array's dtype and shape against the layer's (T, B, H) before the compiled code sees it.

Inside the compiled loops (``loops``, ``units``) the tuple's type picks the cell:
``step_fwd``/``step_bwd`` are overloaded per tuple class and call that cell's fused gate pass
(``gates``, ``lstm_gates``), so one loop serves every cell and numba compiles it once per
cell, as before. The backward tuples name ``dAh``, the buffer the recurrent product reads:
the gate gradients themselves for the LSTM and the RNN, the recurrent part for the GRU (whose
carried dh adds to the one from the gate pass; ``adds_carry``).
"""
from collections import namedtuple

import numpy as np
from numba.extending import overload

from . import lstm_gates, lstm_options_gates, rdrop_gates
from .gates import gru_bwd, gru_fwd, rnn_bwd, rnn_fwd
from .copies import add_into, copy_into
from .panels import gemm_rows

RnnFwd = namedtuple("RnnFwd", "A lens relu y hs")
RnnBwd = namedtuple("RnnBwd", "A dAh dy y lens relu dhs")
GruFwd = namedtuple("GruFwd", "A bhh lens hns y hs")
GruBwd = namedtuple("GruBwd", "A dAh dy lens hns y h0 dhs")
LstmFwd = namedtuple("LstmFwd", "A bias xs wip wit lens wpi wpf wpo cs tcs y hs")
# ^ xs (T, B, D), wip/wit (W_ih^T packed): the input projection, which the time loop computes
#   for its rows into A before its first step (``project``); xs (0, B, D) when A holds it
#   already (``lstm.forward``).
LstmBwd = namedtuple("LstmBwd", "A dAh dy lens wpi wpf wpo dwp cs tcs c0 dhs")


# Recurrent dropout on the RNN and GRU (``rdrop_gates``): their own tuples, taken only with a
# mask, so the plain kernels compile none of it. rmask: the mask (B, H); the state rows hold
# d * h. WHOLE_ROWS: the unit split's product reads the unmasked h from y (``units``).
class RnnMaskedFwd(namedtuple("RnnMaskedFwd", "A lens relu y hs rmask")):
    __slots__ = ()
    WHOLE_ROWS = True


class RnnMaskedBwd(namedtuple("RnnMaskedBwd", "A dAh dy y lens relu dhs rmask")):
    __slots__ = ()
    WHOLE_ROWS = True


class GruMaskedFwd(namedtuple("GruMaskedFwd", "A bhh lens hns y hs h0 rmask")):
    __slots__ = ()
    WHOLE_ROWS = True


class GruMaskedBwd(namedtuple("GruMaskedBwd", "A dAh dy lens hns y h0 dhs rmask dcarry")):
    """dcarry: the direct part dh * z of dh_{t-1} (B, H), kept apart from the product's."""
    __slots__ = ()
    WHOLE_ROWS = True


# The LSTM's variant is its tuple's class (``LSTM_FWD[code]``, code as ``lstm.VARIANTS``), not
# a field: the class is known when the loop compiles, so each variant's loop holds its own gate
# pass only, and a standard LSTM never compiles the peephole and coupled ones.
class LstmPeepholeFwd(LstmFwd):
    __slots__ = ()


class LstmCoupledFwd(LstmFwd):
    __slots__ = ()


class LstmPeepholeBwd(LstmBwd):
    __slots__ = ()


class LstmCoupledBwd(LstmBwd):
    __slots__ = ()


class LstmOptFwd(namedtuple("LstmOptFwd", "A xs wip wit bias gin vi ri lens cs tcs y hs h0 rmask "
                                          "zc zh lnp vh rh vc rc")):
    """The LSTM with layer norm, zoneout and recurrent dropout (``lstm_options_gates``; the
    fields as there). xs, wip, wit: the input projection, as ``LstmFwd``'s (xs empty when A
    holds it already); then, per row, + bias (without layer norm), or the input side's layer
    norm with gain gin and bias (its own plus the LSTM's), vhat into vi and 1/std into ri. WHOLE_ROWS: its gate pass needs every unit of a row (layer norm), so
    ``loops.plan`` never splits its units. Which options are on is the class (``lstm_opt``):
    LN, ZONED, MASKED are constants of the compiled pass, so each combination compiles its
    own straight loops (with the options read from the arrays at run time the plain rows ran
    1.4x slower at H = 32), and only when it runs."""
    __slots__ = ()
    WHOLE_ROWS = True
    LN = ZONED = MASKED = False
    COMPILE_S = 10.0       # its threaded loop's compile, 6 to 9.5 s (``background``)


class LstmOptBwd(namedtuple("LstmOptBwd", "A dAh dy lens cs tcs c0 dhs rmask zc zh zcarry lnp "
                                          "vh rh vc rc dln")):
    __slots__ = ()
    WHOLE_ROWS = True
    LN = ZONED = MASKED = False
    COMPILE_S = 10.0


def _opt_classes(base):
    """base's subclass for each (LN, ZONED, MASKED), module-level names (numba's cache pickles
    the class by name)."""
    out = {}
    for code in range(8):
        flags = (bool(code & 4), bool(code & 2), bool(code & 1))
        name = f"{base.__name__}{code}"
        cls = type(name, (base,), {"__slots__": (), "__module__": __name__, "__qualname__": name,
                                   "LN": flags[0], "ZONED": flags[1], "MASKED": flags[2]})
        globals()[name] = out[flags] = cls
    return out


_OPT_FWD, _OPT_BWD = _opt_classes(LstmOptFwd), _opt_classes(LstmOptBwd)


def lstm_opt(ln, zoned, masked):
    """(forward class, backward class) of the options LSTM with these options on."""
    key = (bool(ln), bool(zoned), bool(masked))
    return _OPT_FWD[key], _OPT_BWD[key]


LSTM_FWD = (LstmFwd, LstmPeepholeFwd, LstmCoupledFwd)
LSTM_BWD = (LstmBwd, LstmPeepholeBwd, LstmCoupledBwd)
_LSTM_GATES = {LstmFwd: lstm_gates.fwd_standard, LstmPeepholeFwd: lstm_gates.fwd_peephole,
               LstmCoupledFwd: lstm_gates.fwd_coupled, LstmBwd: lstm_gates.bwd_standard,
               LstmPeepholeBwd: lstm_gates.bwd_peephole, LstmCoupledBwd: lstm_gates.bwd_coupled}

# Each array field's shape in letters: T steps, B rows, H units, G*H gates (``A``), S state
# rows (B; 2B for the LSTM's stacked (h, c)), P peephole length (H, or 1 for a placeholder),
# N row blocks; scalars (relu) are not arrays.
_SHAPES = {"A": "TBG", "dAh": "TBG", "dy": "TBH", "y": "TBH", "hns": "TBH", "cs": "TBH",
           "tcs": "TBH", "lens": "B", "hs": "SH", "dhs": "SH", "h0": "BH", "c0": "BH",
           "bhh": "G", "bias": "G", "wpi": "P", "wpf": "P", "wpo": "P", "dwp": "N3H", "zcarry": "BH",
           "rmask": "MH", "lnp": "LK", "vh": "tbG", "rh": "tb", "vc": "tbH", "rc": "tb",
           "dln": "N2K", "dcarry": "BH", "gin": "l", "vi": "tbG", "ri": "tb"}
# The options' arrays (LstmOpt*): M rows of the recurrent-dropout mask (B, or 0 without it);
# L rows of the layer-norm gains and biases (2, or 0 without layer norm), K their length (5H:
# 4H of the product, H of c^); t, b: T and B with layer norm, else 0 (its caches are empty);
# l: the input side's gain's length (G with layer norm, else 0).
# Zoneout's zc, zh ((T, B, H) masks, (1, 1, 1) evaluation, (0, 0, 0) off) are checked where
# they are built (lstm_options).


def make(cls, **fields):
    """cls(**fields), after checking each array's dtype (that of A; int64 lens) and shape."""
    from ...errors import RnnlabError
    T, B, GH = fields["A"].shape
    H = fields["dy" if "dy" in fields else "y"].shape[2]
    sizes = {"T": T, "B": B, "G": GH, "H": H, "2": 2, "3": 3,
             "S": 2 * B if issubclass(cls, (LstmFwd, LstmBwd)) else B,
             "P": fields["wpi"].shape[0] if "wpi" in fields else 1,
             "N": fields["dwp"].shape[0] if "dwp" in fields else
             (fields["dln"].shape[0] if "dln" in fields else 1),
             "M": B if "rmask" in fields and fields["rmask"].shape[0] else 0}
    if issubclass(cls, (LstmOptFwd, LstmOptBwd)):
        ln = fields["lnp"].shape[0] > 0
        sizes.update(S=2 * B, M=B if fields["rmask"].shape[0] else 0, L=2 if ln else 0,
                     K=5 * H if ln else 0, t=T if ln else 0, b=B if ln else 0,
                     l=GH if ln else 0)
    for name, v in fields.items():
        if name not in _SHAPES:
            continue
        want = tuple(sizes[c] for c in _SHAPES[name])
        dtype = np.int64 if name == "lens" else fields["A"].dtype
        if not isinstance(v, np.ndarray) or v.shape != want or v.dtype != dtype:
            got = (type(v).__name__ if not isinstance(v, np.ndarray)
                   else f"{v.dtype}{v.shape}")
            raise RnnlabError(f"{cls.__name__}.{name}: got {got}, expected "
                              f"{np.dtype(dtype)}{want} (an internal kernel argument)")
    return cls(**fields)


def step_fwd(a, acc, t, b0, b1, j0, j1):
    """Step t of the forward, rows b0..b1-1, units j0..j1-1, given the recurrent product acc
    (compiled code only: overloaded per tuple class)."""
    raise NotImplementedError("step_fwd runs in compiled code only")


def step_bwd(a, t, b0, b1, j0, j1, blk):
    """Step t of the backward, rows b0..b1-1, units j0..j1-1; blk: the row block (its own
    peephole-gradient accumulator). Compiled code only."""
    raise NotImplementedError("step_bwd runs in compiled code only")


def project(a, b0, b1):
    """The input projection of rows b0..b1-1 for all steps into a.A, where the cell's tuple
    carries its input (the LSTM's xs); nothing for the others. Compiled code only."""
    raise NotImplementedError("project runs in compiled code only")


def adds_carry(a):
    """True when dh from step t+1's product adds to dh (GRU), False when it replaces it."""
    raise NotImplementedError("adds_carry runs in compiled code only")


def carry_in(a, b, src):
    """Row b of step t+1's product src (dL/dh_t through it) into a.dhs[b]: added (GRU),
    times the recurrent-dropout mask d (the LSTM with options and a mask: the product read
    d * h_t), or copied. Compiled code only (``loops``'s batch-split and one-thread loops)."""
    raise NotImplementedError("carry_in runs in compiled code only")


def _cls(a):
    return getattr(a, "instance_class", None)


def _is_opt(a, base):
    return isinstance(_cls(a), type) and issubclass(_cls(a), base)


@overload(step_fwd)
def _step_fwd(a, acc, t, b0, b1, j0, j1):
    if _cls(a) is RnnFwd:
        def impl(a, acc, t, b0, b1, j0, j1):
            rnn_fwd(a.A, acc, t, b0, b1, a.y.shape[2], j0, j1, a.lens, a.relu, a.y, a.hs)
        return impl
    if _cls(a) is GruFwd:
        def impl(a, acc, t, b0, b1, j0, j1):
            gru_fwd(a.A, acc, a.bhh, t, b0, b1, a.y.shape[2], j0, j1, a.lens, a.hns, a.y, a.hs)
        return impl
    if _cls(a) is RnnMaskedFwd:
        return lambda a, acc, t, b0, b1, j0, j1: rdrop_gates.rnn_fwd(a, acc, t, b0, b1)
    if _cls(a) is GruMaskedFwd:
        return lambda a, acc, t, b0, b1, j0, j1: rdrop_gates.gru_fwd(a, acc, t, b0, b1)
    if _is_opt(a, LstmOptFwd):
        ln, zoned, masked = _cls(a).LN, _cls(a).ZONED, _cls(a).MASKED

        def impl(a, acc, t, b0, b1, j0, j1):
            lstm_options_gates.fwd(a, acc, t, b0, b1, ln, zoned, masked)
        return impl
    if _cls(a) in LSTM_FWD:
        gates = _LSTM_GATES[_cls(a)]

        def impl(a, acc, t, b0, b1, j0, j1):
            gates(a.A, a.bias, acc, t, b0, b1, a.y.shape[2], j0, j1, a.lens, a.wpi, a.wpf,
                  a.wpo, a.cs, a.tcs, a.y, a.hs)
        return impl
    return None


@overload(step_bwd)
def _step_bwd(a, t, b0, b1, j0, j1, blk):
    if _cls(a) is RnnBwd:
        def impl(a, t, b0, b1, j0, j1, blk):
            rnn_bwd(a.A, a.dy, a.y, t, b0, b1, a.dhs.shape[1], j0, j1, a.lens, a.relu, a.dhs)
        return impl
    if _cls(a) is GruBwd:
        def impl(a, t, b0, b1, j0, j1, blk):
            gru_bwd(a.A, a.dAh, a.dy, t, b0, b1, a.dhs.shape[1], j0, j1, a.lens, a.hns, a.y,
                    a.h0, a.dhs)
        return impl
    if _cls(a) is RnnMaskedBwd:
        return lambda a, t, b0, b1, j0, j1, blk: rdrop_gates.rnn_bwd(a, t, b0, b1)
    if _cls(a) is GruMaskedBwd:
        return lambda a, t, b0, b1, j0, j1, blk: rdrop_gates.gru_bwd(a, t, b0, b1)
    if _is_opt(a, LstmOptBwd):
        ln, zoned = _cls(a).LN, _cls(a).ZONED

        def impl(a, t, b0, b1, j0, j1, blk):
            lstm_options_gates.bwd(a, t, b0, b1, blk, ln, zoned)
        return impl
    if _cls(a) in LSTM_BWD:
        gates = _LSTM_GATES[_cls(a)]

        def impl(a, t, b0, b1, j0, j1, blk):
            gates(a.A, a.dy, t, b0, b1, a.dhs.shape[1], j0, j1, a.lens, a.wpi, a.wpf, a.wpo,
                  a.dwp[blk], a.cs, a.tcs, a.c0, a.dhs)
        return impl
    return None


@overload(project)
def _project(a, b0, b1):
    if _cls(a) in LSTM_FWD:
        def impl(a, b0, b1):
            for t in range(a.xs.shape[0]):      # none when A holds the projection already
                gemm_rows(a.xs[t], a.wip, a.wit, a.A[t], b0, b1)
        return impl
    if _is_opt(a, LstmOptFwd):
        ln = _cls(a).LN

        def impl(a, b0, b1):
            for t in range(a.xs.shape[0]):
                gemm_rows(a.xs[t], a.wip, a.wit, a.A[t], b0, b1)
                lstm_options_gates.input_side(a, t, b0, b1, ln)
        return impl
    return lambda a, b0, b1: None


@overload(adds_carry)
def _adds_carry(a):
    if (_cls(a) in (RnnBwd, RnnMaskedBwd, GruMaskedBwd) or _cls(a) in LSTM_BWD
            or _is_opt(a, LstmOptBwd)):        # the masked GRU keeps its direct part apart
        return lambda a: False
    if _cls(a) is GruBwd:
        return lambda a: True
    return None


@overload(carry_in)
def _carry_in(a, b, src):
    if _is_opt(a, LstmOptBwd) and _cls(a).MASKED:
        def impl(a, b, src):
            d = a.rmask[b]
            dh = a.dhs[b]
            for j in range(dh.shape[0]):
                dh[j] = d[j] * src[j]
        return impl
    if _cls(a) is GruBwd:
        return lambda a, b, src: add_into(a.dhs[b], src)
    return lambda a, b, src: copy_into(a.dhs[b], src)
