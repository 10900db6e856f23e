"""The data-driven choices: KPSS (checked against statsmodels when installed), the
swing-grows-with-level rule, and the transform's round trip."""
import numpy as np
import pytest

from rnnlab.data.series import generate_series
from rnnlab.data.transforms import (KPSS_CRITICAL_5, SeriesTransform, kpss,
                                    swing_grows_with_level)
from rnnlab.errors import RnnlabError


def test_kpss_separates_stable_and_wandering_levels():
    rng = np.random.default_rng(0)
    noise = rng.normal(size=300)
    walk = np.cumsum(rng.normal(size=300))
    assert kpss(noise) < KPSS_CRITICAL_5 < kpss(walk)
    assert kpss(np.diff(walk)) < KPSS_CRITICAL_5          # one difference makes it stable
    assert kpss(np.full(20, 3.0)) == 0.0
    with pytest.raises(RnnlabError, match="at least 4"):
        kpss([1.0, 2.0])


def test_kpss_matches_statsmodels():
    stattools = pytest.importorskip("statsmodels.tsa.stattools")
    import warnings
    rng = np.random.default_rng(1)
    for x in (rng.normal(size=100), np.cumsum(rng.normal(size=257)),
              generate_series("seasonal", 150, seed=2)):
        lags = int(4 * (len(x) / 100) ** 0.25)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = stattools.kpss(x, "c", nlags=lags)[0]
        assert kpss(x) == pytest.approx(want, rel=1e-12)


def test_swing_rule():
    grows, slope, r = swing_grows_with_level(generate_series("multiplicative", 240), 12)
    assert grows and slope > 0.5 and r > 0.8
    additive = generate_series("seasonal", 240) + 20       # positive, constant swing
    assert swing_grows_with_level(additive, 12)[0] is False
    assert swing_grows_with_level(generate_series("ar", 240), None) == (False, None, None)
    flat = generate_series("pure_seasonal", 120)           # the level never changes
    assert swing_grows_with_level(flat, 12) == (False, None, None)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("diff", [False, True])
@pytest.mark.parametrize("seasonal", [0, 12])
def test_transform_inverts(log, diff, seasonal):
    rows = np.stack([generate_series("multiplicative", 50, seed=3), np.arange(50.0)], 1)
    t = SeriesTransform(log, diff, seasonal)
    z = t.forward(rows)
    lost = diff + seasonal
    assert z.shape == (50 - lost, 2) and t.rows_lost == lost
    # the transformed future of rows 30.. from the levels before row 30 gives rows 30.. back
    future = z[30 - lost:, 0][None]
    past = rows[30 - max(1, lost):30, 0][None]
    assert np.allclose(t.inverse(future, past), rows[30:, 0][None], rtol=1e-12)
    assert SeriesTransform.from_json(t.to_json()).to_json() == t.to_json()
    if log:
        with pytest.raises(RnnlabError, match="--no-log"):
            t.forward(-rows)
