"""Bad input to the layers raises RnnlabError (a ValueError) whose message names the argument,
what it got and what it expected. Nothing is broadcast or cast silently."""
import numpy as np
import pytest

import rnnlab
from rnnlab import GRU, LSTM, RNN, RnnlabError
from rnnlab.nn import registry

from engine_helpers import state_shapes

T, B, D, H = 5, 2, 3, 4


def raises(fn, *substrings):
    """fn() must raise RnnlabError (and so ValueError) with every substring in its message."""
    with pytest.raises(ValueError) as info:
        fn()
    assert isinstance(info.value, RnnlabError)
    msg = str(info.value)
    for s in substrings:
        assert s in msg, f"{s!r} not in message {msg!r}"
    return msg


def x32(*shape):
    return np.random.default_rng(0).standard_normal(shape or (T, B, D)).astype(np.float32)


@pytest.fixture(params=list(registry.CELLS))
def layer(request):
    return registry.get(request.param).layer(D, H, num_layers=2, seed=0)


def zstates(layer, dtype=np.float32):
    """Zeros for every part of the layer's state, in its shape (a list)."""
    return [np.zeros(shape, dtype) for shape in state_shapes(layer, B).values()]


def as_state(parts):
    return tuple(parts) if len(parts) > 1 else parts[0]


def with_bad_part(layer, k, bad):
    """The layer's zero state with part k replaced by `bad`."""
    parts = zstates(layer)
    parts[k] = bad
    return as_state(parts)


# ------------------------------------------------------------------ x
@pytest.mark.parametrize("shape", [(D,), (T, B, D, 1), (1, T, B, D, 1)])
def test_x_wrong_rank(layer, shape):
    raises(lambda: layer(x32(*shape)), "x has shape", str(shape), f"rank {len(shape)}",
           f"(T, B, {D})", f"(T, {D})")


def test_x_wrong_last_dim(layer):
    raises(lambda: layer(x32(T, B, D + 1)), "x has shape", str((T, B, D + 1)), f"(T, B, {D})",
           f"input_size={D}")


def test_x_wrong_last_dim_batch_first():
    lay = LSTM(D, H, batch_first=True)
    raises(lambda: lay(x32(B, T, D + 2)), "x has shape", str((B, T, D + 2)), f"(B, T, {D})")


def test_x_float64_into_float32_layer(layer):
    raises(lambda: layer(x32().astype(np.float64)), "x has dtype float64", "expected float32",
           "astype(np.float32)")


def test_x_float32_into_float64_layer():
    lay = GRU(D, H, dtype=np.float64)
    raises(lambda: lay(x32()), "x has dtype float32", "expected float64")


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_x_integer_or_bool(layer, dtype):
    msg = raises(lambda: layer(np.ones((T, B, D), dtype)), "x has dtype",
                 np.dtype(dtype).name, "expected float32")
    assert "dtype=np.int" not in msg and "dtype=np.bool" not in msg   # no impossible advice


def test_x_not_an_array(layer):
    raises(lambda: layer(x32().tolist()), "x must be a numpy array", "got list", f"(T, B, {D})")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_x_nan_or_inf(layer, bad):
    x = x32()
    x[3, 1, 2] = bad
    raises(lambda: layer(x), "x contains NaN or inf", "(3, 1, 2)")


# ------------------------------------------------------------------ lengths
@pytest.mark.parametrize("lengths,words", [
    ([T + 1, 1], ["lengths", f"[0, T={T}]", f"max {T + 1}"]),
    ([-1, 2], ["lengths", f"[0, T={T}]", "min -1"]),
    ([3, 3, 3], ["lengths has shape (3,)", f"expected ({B},)"]),
    ([3], ["lengths has shape (1,)", f"expected ({B},)"]),
    ([[3, 3]], ["lengths has shape (1, 2)", f"expected ({B},)"]),
    ([3.0, 2.0], ["lengths has dtype float64", "integers"]),
    ([2.5, 1], ["lengths has dtype float64", "integers"]),
])
def test_lengths_bad(layer, lengths, words):
    raises(lambda: layer(x32(), lengths=np.array(lengths)), *words)


def test_lengths_accepts_lists_and_any_integer_dtype(layer):
    y1, _ = layer(x32(), lengths=[3, 5])
    y2, _ = layer(x32(), lengths=np.array([3, 5], np.uint8))
    np.testing.assert_array_equal(y1, y2)


# ------------------------------------------------------------------ state
def test_state_of_shape_b_h_does_not_broadcast(layer):
    """A part without its layer axis ((B, H) for the RNN, LSTM and GRU) is refused, for each
    part of the state."""
    for k, (part, full) in enumerate(state_shapes(layer, B).items()):
        bad = np.zeros(full[1:], np.float32)
        raises(lambda: layer(x32(), with_bad_part(layer, k, bad)),
               f"{part}_0 has shape {full[1:]}", f"rank {len(full) - 1}", str(full))


# each wrong shape from the right one: one layer too few, B = 1, the last axis one too wide,
# twice the layers
WRONG = {"layers-1": lambda s: (s[0] - 1,) + s[1:], "batch1": lambda s: (s[0], 1) + s[2:],
         "last+1": lambda s: s[:-1] + (s[-1] + 1,), "layers*2": lambda s: (2 * s[0],) + s[1:]}


@pytest.mark.parametrize("wrong", list(WRONG))
def test_state_wrong_shape(layer, wrong):
    for k, (part, full) in enumerate(state_shapes(layer, B).items()):
        shape = WRONG[wrong](full)
        raises(lambda: layer(x32(), with_bad_part(layer, k, np.zeros(shape, np.float32))),
               f"{part}_0 has shape {shape}", str(full))


def test_state_wrong_dtype(layer):
    st = as_state(zstates(layer, dtype=np.float64))
    raises(lambda: layer(x32(), st), f"{layer.state_names[0]}_0 has dtype float64",
           "expected float32")


@pytest.mark.parametrize("part", [0, 1])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_lstm_state_nan_or_inf(part, bad):
    lay = LSTM(D, H, num_layers=2)
    st = [np.zeros((2, B, H), np.float32), np.zeros((2, B, H), np.float32)]
    st[part][1, 0, 3] = bad
    raises(lambda: lay(x32(), tuple(st)), f"{['h_0', 'c_0'][part]} contains NaN or inf",
           "(1, 0, 3)")


@pytest.mark.parametrize("cls", [RNN, GRU])
def test_h0_nan(cls):
    lay = cls(D, H)
    h = np.zeros((1, B, H), np.float32)
    h[0, 1, 1] = np.nan
    raises(lambda: lay(x32(), h), "h_0 contains NaN or inf", "(0, 1, 1)")


def test_lstm_state_not_a_tuple():
    lay = LSTM(D, H, num_layers=2)
    h = np.zeros((2, B, H), np.float32)
    raises(lambda: lay(x32(), h), "state", "tuple (h_0, c_0)", f"got an array of shape {h.shape}")
    raises(lambda: lay(x32(), (h, h, h)), "state", "tuple (h_0, c_0)", "got tuple of length 3")
    raises(lambda: lay(x32(), (h,)), "tuple (h_0, c_0)", "got tuple of length 1")


def test_rnn_state_given_as_tuple():
    lay = RNN(D, H)
    h = np.zeros((1, B, H), np.float32)
    raises(lambda: lay(x32(), (h, h)), "h_0 must be a numpy array", "got tuple")


def test_unbatched_state_shape():
    lay = GRU(D, H, num_layers=2)
    x = x32(T, D)
    y, h = lay(x, np.zeros((2, H), np.float32))
    assert y.shape == (T, H) and h.shape == (2, H)
    raises(lambda: lay(x, np.zeros((2, 1, H), np.float32)), "h_0 has shape (2, 1, 4)",
           "(2, 4)")


# ------------------------------------------------------------------ backward
def test_backward_before_forward(layer):
    raises(lambda: layer.backward(np.zeros((T, B, H), np.float32)), "backward", "before forward")


@pytest.mark.parametrize("shape", [(T, B, H + 1), (T - 1, B, H), (B, T, H), (T, B), (T * B * H,)])
def test_dy_wrong_shape(layer, shape):
    layer(x32())
    raises(lambda: layer.backward(np.zeros(shape, np.float32)), "dy has shape", str(shape),
           str((T, B, H)))


def test_dy_wrong_dtype(layer):
    layer(x32())
    raises(lambda: layer.backward(np.zeros((T, B, H))), "dy has dtype float64", "expected float32")


def test_dy_shape_follows_batch_first_and_bidirectional():
    lay = GRU(D, H, batch_first=True, bidirectional=True)
    lay(x32(B, T, D))
    raises(lambda: lay.backward(np.zeros((T, B, 2 * H), np.float32)), "dy has shape",
           str((B, T, 2 * H)))
    dx, _ = lay.backward(np.zeros((B, T, 2 * H), np.float32))
    assert dx.shape == (B, T, D)


def test_dstate_n_wrong_shape_names_the_argument(layer):
    layer(x32())
    dy = np.zeros((T, B, H), np.float32)
    shapes = state_shapes(layer, B)
    good = [np.zeros(full, np.float32) for full in shapes.values()]
    for k, (part, full) in enumerate(shapes.items()):
        bad = (1,) + full[1:]
        parts = list(good)
        parts[k] = np.zeros(bad, np.float32)
        raises(lambda: layer.backward(dy, as_state(parts)), f"d{part}_n has shape {bad}",
               str(full))
    if len(shapes) > 1:
        names = ", ".join(f"d{p}_n" for p in shapes)
        raises(lambda: layer.backward(dy, good[0]), "dstate_n", f"tuple ({names})",
               f"got an array of shape {good[0].shape}")
    else:
        raises(lambda: layer.backward(dy, np.zeros((B, H), np.float32)), "dh_n has shape (2, 4)",
               "rank 2")


# ------------------------------------------------------------------ constructor
@pytest.mark.parametrize("cls", [spec.layer for spec in registry.CELLS.values()])
@pytest.mark.parametrize("kw,words", [
    (dict(hidden_size=0), ["hidden_size", "positive integer", "got 0"]),
    (dict(hidden_size=-3), ["hidden_size", "positive integer", "got -3"]),
    (dict(hidden_size=4.0), ["hidden_size", "positive integer", "got 4.0"]),
    (dict(hidden_size=True), ["hidden_size", "positive integer", "got True"]),
    (dict(input_size=0), ["input_size", "positive integer", "got 0"]),
    (dict(num_layers=0), ["num_layers", "positive integer", "got 0"]),
    (dict(dropout=1.5), ["dropout", "[0, 1)", "got 1.5"]),
    (dict(dropout=1.0), ["dropout", "[0, 1)", "got 1.0"]),
    (dict(dropout=-0.1), ["dropout", "[0, 1)", "got -0.1"]),
    (dict(dtype=np.float16), ["dtype", "float32 or float64", "got float16"]),
    (dict(recurrent_init="xavier"), ["recurrent_init", "'orthogonal'", "got 'xavier'"]),
])
def test_bad_constructor_args(cls, kw, words):
    raises(lambda: cls(**{"input_size": D, "hidden_size": H, **kw}), *words)


def test_unknown_variant_and_nonlinearity():
    raises(lambda: LSTM(D, H, variant="gated"), "variant", "'peephole'", "got 'gated'")
    raises(lambda: RNN(D, H, nonlinearity="sigmoid"), "nonlinearity", "'relu'", "got 'sigmoid'")


def test_unknown_backend(layer):
    raises(lambda: layer(x32(), backend="cuda"), "backend 'cuda'", "numba", "numpy")
    raises(lambda: rnnlab.set_backend("torch"), "backend 'torch'", "numba", "numpy")


def test_a_failed_call_changes_nothing(layer):
    """A rejected forward leaves the previous call's context, so backward still works."""
    y, _ = layer(x32())
    raises(lambda: layer(x32(T, B, D + 1)), "x has shape")
    dx, _ = layer.backward(np.ones_like(y))
    assert dx.shape == (T, B, D)
