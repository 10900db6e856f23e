"""The series defaults chosen from the data: what each generated series of known structure
gets, that a given option wins, and that a short series gets a small model, trained briefly."""
import numpy as np
import pytest

from rnnlab.data.series import generate_series
from rnnlab.tasks.series_defaults import plan


def values(p):
    return {k: v for k, (v, _) in p.items()}


def test_trend_plus_season():
    p = values(plan(generate_series("seasonal", 300, seed=0), {}))
    assert p["season"] == 12 and p["horizon"] == 12
    assert p["difference"] is True and p["log"] is False          # a trend, a constant swing
    assert p["lookback"] == 24                                    # two seasons
    assert p["strategy"] == "direct" and p["ensemble"] >= 1


def test_multiplicative_season_gets_logs():
    p = plan(generate_series("multiplicative", 240, seed=0), {})
    assert p["log"][0] is True and "grows with the level" in p["log"][1]


def test_ar_noise_is_left_alone():
    p = values(plan(generate_series("ar", 300, seed=0), {}))
    assert p["season"] == 1 and p["difference"] is False and p["log"] is False
    assert p["horizon"] == 12 and p["lookback"] == 24              # no season: two horizons


def test_a_short_series_gets_a_small_model_and_a_short_run():
    y = generate_series("seasonal", 130, seed=1)
    p = values(plan(y, {}))
    assert p["layers"] == 1 and p["hidden"] <= 32                  # not 2 x 128
    assert p["lookback"] <= (130 - p["horizon"]) // 3 + 1
    # how long to train is the trainer's one stopping rule (rnnlab.training.stopping), not the plan's
    assert "steps" not in p and "patience" not in p and p["eval_every"] == 20
    n_val = int((130 - p["difference"]) * p["val_fraction"])
    assert n_val >= p["horizon"]                                   # validates a horizon
    long = values(plan(generate_series("seasonal", 5000, seed=1), {}))
    assert long["hidden"] > p["hidden"]


def test_horizon_is_capped_for_a_short_series():
    p = plan(generate_series("ar", 100, seed=0), {})
    assert p["horizon"][0] == 10 and "tenth" in p["horizon"][1]


def test_given_options_win_and_are_marked():
    y = generate_series("seasonal", 300, seed=0)
    given = {"difference": False, "log": True, "season": 1, "lookback": 30, "hidden": 8,
             "strategy": "recursive", "ensemble": 1, "eval_every": 5}
    p = plan(y, given)
    for k, v in given.items():
        assert p[k] == (v, "given")
    assert p["horizon"][0] == 12                                   # no season given: 12


def test_every_choice_says_why():
    p = plan(generate_series("seasonal", 300, seed=0), {})
    assert all(isinstance(why, str) and why for _, why in p.values())
    assert np.isclose(p["lr"][0], 0.01)
