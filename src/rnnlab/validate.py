"""The one check per rule for a user's value: an integer, a number, a probability.

Every option, keyword and file field that must be a (positive) integer or a finite number is
checked here, so the rules cannot drift apart (they had: one copy refused NumPy's int64).
A bool is never a number here (True would pass as 1), NumPy's integers and floats are.

Each check returns the value as a plain int or float, or raises RnnlabError with one line:
"<name> must be <expected>, got <value>[; <hint>]". A leaf module (floor 0).
"""
import math
import numbers

from .errors import RnnlabError


def is_integer(v):
    """An int or a NumPy integer, not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def is_number(v):
    """A finite real number (int, float, or NumPy's), not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def integer(name, v, lo=1, hi=None, expected=None, hint=None):
    """v as an int when it is an integer in [lo, hi] (hi None: no upper end)."""
    if not is_integer(v) or v < lo or (hi is not None and v > hi):
        _fail(name, v, expected or _integer_range(lo, hi), hint)
    return int(v)


def positive_int(name, v, hint=None):
    """v as an int when it is an integer >= 1."""
    return integer(name, v, 1, None, None, hint)


def number(name, v, lo=None, hi=None, lo_open=False, hi_open=False, expected=None, hint=None):
    """v as a float when it is a finite number in the range (each end open or closed)."""
    ok = is_number(v) and (lo is None or (v > lo if lo_open else v >= lo)) \
        and (hi is None or (v < hi if hi_open else v <= hi))
    if not ok:
        _fail(name, v, expected or _number_range(lo, hi, lo_open, hi_open), hint)
    return float(v)


def probability(name, v, hint=None):
    """v as a float in [0, 1): a dropout or zoneout probability (1 would drop everything)."""
    return number(name, v, 0.0, 1.0, hi_open=True, expected="in [0, 1)", hint=hint)


def _integer_range(lo, hi):
    if hi is None:
        return "a positive integer" if lo == 1 else f"an integer >= {lo}"
    return f"an integer in [{lo}, {hi}]"


def _number_range(lo, hi, lo_open, hi_open):
    if lo == 0 and lo_open and hi is None:
        return "a positive number"
    if lo is None and hi is None:
        return "a finite number"
    if hi is None:
        return f"a number {'>' if lo_open else '>='} {lo}"
    if lo is None:
        return f"a number {'<' if hi_open else '<='} {hi}"
    return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def _fail(name, v, expected, hint):
    raise RnnlabError(f"{name} must be {expected}, got {v!r}" + (f"; {hint}" if hint else ""))
