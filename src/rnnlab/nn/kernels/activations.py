"""Activations the kernels inline: ``sigm(x)``, ``tanh_(x)`` and ``exp_(x)``, typed by overload.

float32 uses a branch-free Cody-Waite exp/expm1 with a degree-7 polynomial (error about 1-2
ulp) that LLVM vectorises into AVX-512/AVX2 code inside the gate loops (numba has no SVML here,
so ``math.exp`` would be a scalar libm call per element); float64 uses libm (``math.exp`` /
``math.tanh``), exact to the last bit with the reference cells.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# ----------------------------------------------------------------------------- bit casts


@intrinsic
def _i32_as_f32(typingctx, x):
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return sig, codegen


# ------------------------------------------------------------------ float32 exp / expm1

_F = np.float32
_LOG2E = _F(1.4426950408889634)
_LN2_HI = _F(0.693359375)          # exact in float32 (few mantissa bits)
_LN2_LO = _F(-2.12194440e-4)
_HALF = _F(0.5)
_ONE = _F(1.0)
_TWO = _F(2.0)
_C2, _C3, _C4, _C5, _C6, _C7 = (_F(1 / 2), _F(1 / 6), _F(1 / 24), _F(1 / 120), _F(1 / 720),
                                _F(1 / 5040))
_EXP_HI = _F(88.0)
_EXP_LO = _F(-87.0)
_TANH_CLAMP = _F(9.5)               # tanh(9.5) == 1 in float32


@njit(fastmath={"contract"}, inline="always", error_model="numpy")
def _expm1_parts32(x):
    """x clamped to [-87, 88]; returns (s, q) with exp(x) = s * (1 + q), expm1 = s*q + (s-1)."""
    n = np.floor(x * _LOG2E + _HALF)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    q = r * (_ONE + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7))))))
    s = _i32_as_f32((np.int32(n) + np.int32(127)) << np.int32(23))
    return s, q


@njit(fastmath={"contract"}, inline="always", error_model="numpy")
def _sigmoid32(x):
    x = min(max(-x, _EXP_LO), _EXP_HI)       # exp(-x)
    s, q = _expm1_parts32(x)
    return _ONE / (_ONE + (s + s * q))


@njit(fastmath={"contract"}, inline="always", error_model="numpy")
def _tanh32(x):
    x = min(max(x + x, -_TANH_CLAMP - _TANH_CLAMP), _TANH_CLAMP + _TANH_CLAMP)
    s, q = _expm1_parts32(x)
    e = s * q + (s - _ONE)                   # expm1(2x), accurate near 0
    return e / (e + _TWO)


@njit(fastmath={"contract"}, inline="always", error_model="numpy")
def _exp32(x):
    x = min(max(x, _EXP_LO), _EXP_HI)
    s, q = _expm1_parts32(x)
    return s + s * q


@njit(inline="always", error_model="numpy")
def _sigmoid64(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(inline="always", error_model="numpy")
def _tanh64(x):
    return math.tanh(x)


def sigm(x):
    """Logistic function of a float32/float64 scalar (nopython only)."""
    raise NotImplementedError


def tanh_(x):
    """tanh of a float32/float64 scalar (nopython only)."""
    raise NotImplementedError


def exp_(x):
    """exp of a float32/float64 scalar (nopython only); float32: the polynomial above, so
    exp(x) for x < -87 is exp(-87), not 0."""
    raise NotImplementedError


def one(a):
    """1 in the dtype of array a (nopython only): keeps float32 arithmetic in float32."""
    raise NotImplementedError


@overload(sigm)
def _sigm_ov(x):
    if x == types.float32:
        return lambda x: _sigmoid32(x)
    return lambda x: _sigmoid64(x)


@overload(tanh_)
def _tanh_ov(x):
    if x == types.float32:
        return lambda x: _tanh32(x)
    return lambda x: _tanh64(x)


@overload(exp_)
def _exp_ov(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    return lambda x: math.exp(x)


@overload(one)
def _one_ov(a):
    if a.dtype == types.float32:
        return lambda a: np.float32(1.0)
    return lambda a: np.float64(1.0)
