"""Hand-written BPTT against centred finite differences, float64, on the NumPy reference.

For every cell and variant (RNN tanh/relu, LSTM standard/peephole/coupled, GRU) and the layer
options (stacking, bidirectional, lengths incl. rows of length 1 and 0, initial state,
batch_first, bias=False, unbatched input, dropout in train and eval mode) the gradient of

    L = sum(y * R) + sum(h_n * S) (+ sum(c_n * U))

w.r.t. x, the initial state (h0, c0) and every parameter tensor is compared with centred
differences. Every entry of x and of the state is checked; for each parameter tensor a random
subset of entries. The error measure is norm-based, per tensor:

    rel = ||analytic - numeric|| / max(1e-8, ||analytic|| + ||numeric||)  <  1e-6
"""
import numpy as np
import pytest

from engine_helpers import CELL_IDS, CELLS, TOL, gradcheck, make_layer, random_state, state_list

D, H = 3, 3

# name -> (constructor options, T, B, give state, lengths, unbatched, eval mode)
CONFIGS = {
    "single": (dict(), 5, 2, False, None, False, False),
    "stacked_bidir_lengths_state": (dict(num_layers=2, bidirectional=True), 4, 3, True,
                                    [4, 1, 0], False, False),
    "batch_first_lengths_state": (dict(batch_first=True), 5, 2, True, [3, 5], False, False),
    "no_bias_stacked_state": (dict(bias=False, num_layers=2), 4, 2, True, None, False, False),
    "unbatched_bidir_state": (dict(num_layers=2, bidirectional=True), 4, None, True, None,
                              True, False),
    "dropout_train": (dict(num_layers=2, dropout=0.4), 4, 2, True, None, False, False),
    "dropout_eval": (dict(num_layers=2, dropout=0.4), 4, 2, True, None, False, True),
}


def build(kind, opts, cfg_opts, seed, eval_mode):
    def fresh():
        layer = make_layer(kind, D, H, dtype=np.float64, seed=seed, **opts, **cfg_opts)
        return layer.eval() if eval_mode else layer
    return fresh


def inputs_for(fresh, T, B, give_state, unbatched, rng):
    layer = fresh()
    xs = (T, D) if unbatched else ((B, T, D) if layer.batch_first else (T, B, D))
    x = rng.standard_normal(xs)
    state = random_state(layer, B, rng, unbatched=unbatched) if give_state else None
    return x, state


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind,opts,_id", CELLS, ids=CELL_IDS)
def test_gradcheck(kind, opts, _id, config):
    cfg_opts, T, B, give_state, lengths, unbatched, eval_mode = CONFIGS[config]
    rng = np.random.default_rng(1)
    fresh = build(kind, opts, cfg_opts, seed=7, eval_mode=eval_mode)
    x, state = inputs_for(fresh, T, B, give_state, unbatched, rng)
    lengths = None if lengths is None else np.array(lengths)
    errs = gradcheck(fresh, x, state, lengths)
    n_params = len(fresh().params)
    assert len(errs) == 1 + (0 if state is None else len(state_list(state))) + n_params
    bad = {k: v for k, v in errs.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


@pytest.mark.parametrize("kind,opts,_id", CELLS, ids=CELL_IDS)
def test_dropout_gradcheck_uses_a_real_mask(kind, opts, _id):
    """The train-mode gradcheck above is only meaningful if the mask changes the output and the
    re-seeded layer draws the same mask every time."""
    cfg_opts, T, B, *_ = CONFIGS["dropout_train"]
    rng = np.random.default_rng(2)
    train = build(kind, opts, cfg_opts, seed=7, eval_mode=False)
    ev = build(kind, opts, cfg_opts, seed=7, eval_mode=True)
    x, state = inputs_for(train, T, B, True, False, rng)
    y1, _ = train()(x, state)
    y2, _ = train()(x, state)
    y3, _ = ev()(x, state)
    np.testing.assert_array_equal(y1, y2)
    assert np.abs(y1 - y3).max() > 1e-3


def test_gradcheck_catches_a_wrong_gradient():
    """The checker itself fails when backward is off (guards against a vacuous gradcheck)."""
    rng = np.random.default_rng(3)
    fresh = build("GRU", {}, {}, seed=7, eval_mode=False)
    x, state = inputs_for(fresh, 4, 2, True, False, rng)

    def broken():
        layer = fresh()
        orig = layer.backward

        def backward(dy, dstate_n=None):
            dx, ds0 = orig(dy, dstate_n)
            layer.grads["weight_hh_l0"][0, 0] += 1e-3
            return dx, ds0
        layer.backward = backward
        return layer

    errs = gradcheck(broken, x, state, None, n_param_entries=10**6)
    assert errs["param:weight_hh_l0"] > TOL
    assert errs["x"] < TOL
