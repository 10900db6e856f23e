"""The NADE head (rnnlab.nn.nade): float64 gradient check of the hand-written backward, the
kernel against the NumPy reference, a distribution that sums to one over all 2^P frames, and a
sampler that draws frames with the model's probabilities."""
import itertools

import numpy as np
import pytest

from rnnlab.nn.nade import NADE

BACKENDS = ["numpy", "numba"]


def _setup(P=5, Hn=4, N=6, seed=0):
    rng = np.random.default_rng(seed)
    nade = NADE(P, Hn, dtype=np.float64, seed=seed)
    nade.params["weight"][...] = rng.normal(0, 1, (P, Hn))
    nade.params["readout"][...] = rng.normal(0, 1, (P, Hn))
    bias = rng.normal(0, 1, (N, P + Hn))
    frames = (rng.random((N, P)) < 0.4).astype(np.float64)
    return nade, bias, frames, rng


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_check_float64(backend):
    nade, bias, frames, rng = _setup()
    weights = rng.random(len(bias))
    weights[1] = 0                                  # a masked-out frame

    def loss():
        return float(np.sum(weights * nade.nll(bias, frames, weights=None, backend=backend)))

    nade.zero_grad()
    _, dbias = nade.nll(bias, frames, weights, grad=True, backend=backend)
    assert not dbias[1].any()
    eps, worst = 1e-6, 0.0
    for arr, grad in [(bias, dbias), (nade.params["weight"], nade.grads["weight"]),
                      (nade.params["readout"], nade.grads["readout"])]:
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            down = loss()
            arr[idx] = old
            num = (up - down) / (2 * eps)
            worst = max(worst, abs(num - grad[idx]) / max(1.0, abs(num)))
    assert worst < 1e-7


def test_kernel_matches_numpy_reference():
    nade, bias, frames, rng = _setup(P=9, Hn=7, N=40, seed=3)
    w = rng.random(40)
    out = {}
    for backend in BACKENDS:
        nade.zero_grad()
        nll, db = nade.nll(bias, frames, w, grad=True, backend=backend)
        out[backend] = (nll, db, nade.grads["weight"].copy(), nade.grads["readout"].copy())
    for a, b in zip(out["numpy"], out["numba"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    s = {b: nade.sample(bias, rng=7, temperature=0.8, backend=b) for b in BACKENDS}
    np.testing.assert_array_equal(s["numpy"], s["numba"])
    g = {b: nade.sample(bias, temperature=0, backend=b) for b in BACKENDS}
    np.testing.assert_array_equal(g["numpy"], g["numba"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_probabilities_of_all_frames_sum_to_one(backend):
    nade, bias, _, _ = _setup(P=5, Hn=4, N=3, seed=1)
    chords = np.array(list(itertools.product([0.0, 1.0], repeat=5)))        # 32 frames
    for b in bias:
        nll = nade.nll(np.repeat(b[None], len(chords), 0), chords, backend=backend)
        assert np.exp(-nll).sum() == pytest.approx(1.0, abs=1e-12)


def test_greedy_frame_picks_each_unit_by_its_conditional():
    nade, bias, _, _ = _setup(P=5, Hn=4, N=8, seed=2)
    greedy = nade.sample(bias, temperature=0)
    for b, g in zip(bias, greedy):
        cond = _conditionals(nade, b, g)
        assert np.array_equal(g > 0, cond >= 0.5)


def _conditionals(nade, b, frame):
    """p(v_p = 1 | frame_<p) for each p, from the definition (plain Python)."""
    P = nade.P
    W, V = nade.params["weight"], nade.params["readout"]
    bv, bh = b[:P], b[P:]
    out = []
    for p in range(P):
        a = bh + frame[:p] @ W[:p]
        out.append(1 / (1 + np.exp(-(bv[p] + V[p] @ (1 / (1 + np.exp(-a)))))))
    return np.array(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampling_follows_the_model_probabilities(backend):
    nade, bias, _, _ = _setup(P=4, Hn=3, N=1, seed=4)
    chords = np.array(list(itertools.product([0.0, 1.0], repeat=4)))
    probs = np.exp(-nade.nll(np.repeat(bias, 16, 0), chords))
    n = 20000
    draws = nade.sample(np.repeat(bias, n, 0), rng=123, backend=backend)
    codes = draws @ (2.0 ** np.arange(3, -1, -1))      # the row of `chords` each draw is
    counts = np.bincount(codes.astype(int), minlength=16)
    expected = probs * n
    keep = expected >= 5                                # chi-square needs expected counts >= 5
    chi2 = float((((counts - expected) ** 2 / expected)[keep]).sum()
                 + (counts[~keep].sum() - expected[~keep].sum()) ** 2
                 / max(expected[~keep].sum(), 1e-9) * (~keep).any())
    # df <= 15; P(chi2_15 > 37.7) = 0.001: a fixed seed, far from the edge
    assert chi2 < 37.7, (chi2, counts, expected)
