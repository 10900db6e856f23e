"""The mLSTM's chunkwise form (cells/mlstm_chunkwise.py, mlstm_chunkwise_backward.py) against
the recurrent form (cells/mlstm.py), float64, 1e-12: the output, the final state, the cached
gates and every gradient, with chunks small enough that several chunks and a partial last one
occur; ragged lengths, a nonzero initial state, T < L, several heads, both forget gates; and a
few entries by finite differences."""
import numpy as np
import pytest

from rnnlab import MLSTM
from rnnlab.nn.cells import mlstm as mlstm_cell
from rnnlab.nn.cells.mlstm_chunkwise import forward_chunkwise
from rnnlab.nn.cells.mlstm_chunkwise_backward import backward_chunkwise

from engine_helpers import rel_err

D, H, B = 5, 6, 3
EXACT = 1e-12

# (heads, forget gate, T, chunk L, lengths): a partial last chunk; T a multiple of L with a
# row of length 0 and one ending mid-chunk; T < L; three heads of two units, chunks of two
CASES = [(1, "sigmoid", 9, 4, None), (2, "exp", 9, 3, [9, 4, 0]),
         (2, "sigmoid", 3, 4, [3, 1, 2]), (3, "exp", 7, 2, [7, 6, 5])]
IDS = [f"heads{h}-{f}-T{T}-L{L}-{'ragged' if n else 'full'}" for h, f, T, L, n in CASES]


def problem(heads, forget_gate, T, seed):
    """Parameters, x (T, B, D), a nonzero initial state (C0, n0, m0), and the loss weights
    for y and the final state."""
    rng = np.random.default_rng(seed)
    params = MLSTM(D, H, num_heads=heads, forget_gate=forget_gate, dtype=np.float64,
                   seed=seed).cell_params(0)
    d = H // heads
    state = (rng.standard_normal((B, heads, d, d)), rng.standard_normal((B, H)),
             rng.standard_normal((B, heads)))
    x = 2 * rng.standard_normal((T, B, D))
    weights = (rng.standard_normal((T, B, H)), tuple(rng.standard_normal(s.shape)
                                                     for s in state))
    return params, x, state, weights


@pytest.mark.parametrize("heads,forget_gate,T,L,lengths", CASES, ids=IDS)
def test_chunkwise_equals_recurrent_forward_and_backward(heads, forget_gate, T, L, lengths):
    params, x, state, (dy, dstate) = problem(heads, forget_gate, T, seed=T + heads)
    lengths = None if lengths is None else np.array(lengths)
    y, sn, rc = mlstm_cell.forward_recurrent(x, state, params, lengths, heads, forget_gate)
    y2, sn2, cc = forward_chunkwise(x, state, params, lengths, heads, forget_gate, chunk=L)
    assert rel_err(y2, y) < EXACT
    for a, b in zip(sn2, sn):
        assert rel_err(a, b) < EXACT
    real = 1.0 if lengths is None else (np.arange(T)[:, None] < lengths)[..., None]
    for name in mlstm_cell.GATES:                    # what forward_with_gates shows
        assert rel_err(cc[name] * real, rc[name] * real) < EXACT, name
    dx, ds0, grads = mlstm_cell.backward_recurrent(dy, dstate, rc)
    dx2, ds02, grads2 = backward_chunkwise(dy, dstate, cc)
    assert rel_err(dx2, dx) < EXACT
    for a, b in zip(ds02, ds0):
        assert rel_err(a, b) < EXACT
    assert grads2.keys() == grads.keys()
    for name in grads:
        assert rel_err(grads2[name], grads[name]) < EXACT, name


def test_the_stabiliser_gradient_takes_both_winners():
    """m_e = max(g_{L-1}, max_j log D[L-1, j]): in this case the carried state's term wins at
    some chunk ends and a write at others, so both routes of dm_e are used (and held equal to
    the recurrent form's in the test above, same case)."""
    heads, forget_gate, T, L, lengths = CASES[1]
    params, x, state, _ = problem(heads, forget_gate, T, seed=T + heads)
    c = forward_chunkwise(x, state, params, np.array(lengths), heads, forget_gate, chunk=L)[2]
    g_last = c["b"][..., -1] + c["m_p"][..., :-1]
    g_wins = g_last >= c["log_D"][..., -1, :].max(axis=-1)
    assert g_wins.any() and (~g_wins).any()


def test_chunkwise_gradient_by_finite_differences():
    """A few entries of dL/dW, dL/dx, dL/dC0 and dL/dm0 by centred differences, L = sum(y R)
    + sum(state_n W), ragged lengths, chunks of 3 over T = 7."""
    heads, forget_gate, T, L = 2, "exp", 7, 3
    params, x, state, (R, W) = problem(heads, forget_gate, T, seed=1)
    lengths = np.array([7, 5, 2])

    def loss(p, xx, st):
        y, sn, _ = forward_chunkwise(xx, st, p, lengths, heads, forget_gate, chunk=L)
        return np.sum(y * R) + sum(np.sum(a * w) for a, w in zip(sn, W))

    _, _, cache = forward_chunkwise(x, state, params, lengths, heads, forget_gate, chunk=L)
    dx, (dC0, _, dm0), grads = backward_chunkwise(R, W, cache)
    eps = 1e-6
    probes = [(grads["weight_ih"], lambda d: ({**params, "weight_ih": params["weight_ih"] + d},
                                              x, state), params["weight_ih"].shape),
              (dx, lambda d: (params, x + d, state), x.shape),
              (dC0, lambda d: (params, x, (state[0] + d, *state[1:])), state[0].shape),
              (dm0, lambda d: (params, x, (*state[:2], state[2] + d)), state[2].shape)]
    rng = np.random.default_rng(2)
    for analytic, shifted, shape in probes:
        for _ in range(3):
            at = tuple(rng.integers(n) for n in shape)
            bump = np.zeros(shape)
            bump[at] = eps
            numeric = (loss(*shifted(bump)) - loss(*shifted(-bump))) / (2 * eps)
            assert abs(numeric - analytic[at]) <= 1e-6 * max(1.0, abs(numeric)), (at, numeric)
