"""Input checks with messages that name the argument, what it got and what it expected.

Nothing here broadcasts or casts silently: a wrong shape or dtype is an error, as in PyTorch.
"""
import numpy as np

from ..errors import RnnlabError


def check_array(name, a, dtype, ndims, expected):
    """a must be an ndarray of `dtype` with one of `ndims` ranks. `expected` describes the shape
    in words for the message, e.g. '(T, B, D) with D=8'."""
    if not isinstance(a, np.ndarray):
        raise RnnlabError(f"{name} must be a numpy array of shape {expected}, got "
                          f"{type(a).__name__}; convert it with np.asarray(...)")
    if a.ndim not in ndims:
        raise RnnlabError(f"{name} has shape {a.shape} (rank {a.ndim}), expected {expected}")
    if a.dtype != dtype:
        other = (f" or build the layer with dtype=np.{a.dtype.name}"
                 if a.dtype in (np.float32, np.float64) else "")
        raise RnnlabError(f"{name} has dtype {a.dtype}, expected {np.dtype(dtype).name}; pass "
                          f"{name}.astype(np.{np.dtype(dtype).name}){other}")
    return a


def check_shape(name, a, shape, expected=None):
    if tuple(a.shape) != tuple(shape):
        raise RnnlabError(f"{name} has shape {tuple(a.shape)}, expected "
                          f"{expected or tuple(shape)}")


def check_finite(name, a):
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise RnnlabError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
                          f"clean the input or lower the learning rate if it came from training")


def check_lengths(lengths, T, B):
    """lengths: (B,) integers in [0, T]. Returns an int64 array, or None."""
    if lengths is None:
        return None
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.shape[0] != B:
        raise RnnlabError(f"lengths has shape {arr.shape}, expected ({B},): one length per "
                          f"sequence in the batch")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise RnnlabError(f"lengths has dtype {arr.dtype}, expected integers")
    if arr.size and (arr.min() < 0 or arr.max() > T):
        raise RnnlabError(f"lengths must lie in [0, T={T}], got min {arr.min()} and max "
                          f"{arr.max()}; a length cannot exceed the padded sequence length")
    return arr.astype(np.int64)


def check_state_dict(expected, got, source):
    """expected: name -> shape (or array); got: name -> ndarray. First problem -> RnnlabError."""
    shapes = {k: tuple(np.shape(v)) if isinstance(v, np.ndarray) else tuple(v)
              for k, v in expected.items()}
    missing = [k for k in shapes if k not in got]
    if missing:
        raise RnnlabError(f"{source}: missing '{missing[0]}' (expected shape {shapes[missing[0]]};"
                          f" {len(missing)} missing in all); it was saved from a different "
                          "model, load it with the same model options or re-train")
    extra = [k for k in got if k not in shapes]
    if extra:
        raise RnnlabError(f"{source}: unexpected '{extra[0]}' ({len(extra)} unexpected in all);"
                          " it was saved from a different model, load it with the same model"
                          " options or re-train")
    for k, shape in shapes.items():
        if tuple(np.shape(got[k])) != shape:
            raise RnnlabError(f"{source}: '{k}' has shape {tuple(np.shape(got[k]))}, expected "
                              f"{shape}; load it with the same model options or re-train")
