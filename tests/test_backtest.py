"""rnnlab backtest on small generated series: the folds, the scores by hand, the output
forms, bad input, the optional statsforecast baselines, and the series whose right answer is
known (a season repeated exactly: seasonal naive is exact, the model must come as close)."""
import json
import sys

import numpy as np
import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.data.series import generate_series, write_csv

TINY = dict(hidden=8, steps=30, task_options={"ensemble": 1})
bt = sys.modules["rnnlab.training.backtest"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    d = tmp_path_factory.mktemp("bt")
    write_csv(d / "s.csv", {"y": generate_series("seasonal", 96, seed=5)},
              time=[f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in range(96)])
    return d / "s.csv"


@pytest.fixture(scope="module")
def result(csv):
    return rnnlab.backtest(csv, horizon=6, folds=2, baselines="naive,seasonal_naive", **TINY)


def test_folds_and_scores_by_hand(result):
    y = generate_series("seasonal", 96, seed=5)
    assert result["origins"] == [84, 90] and result["origin_dates"] == ["2007-01-01",
                                                                        "2007-07-01"]
    assert result["frequency"] == "monthly" and result["seasons"] == [12, 12]
    assert result["dates"][1][:2] == ["2007-07-01", "2007-08-01"]
    assert np.array_equal(result["actual"], [y[84:90], y[90:96]])
    naive = result["methods"]["naive"]
    assert np.allclose(naive["forecasts"], [[y[83]] * 6, [y[89]] * 6])
    e = np.array(result["actual"]) - np.array(naive["forecasts"])          # (K, H)
    scale = np.array([np.mean(np.abs(y[12:o] - y[:o - 12])) for o in (84, 90)])
    assert np.allclose(naive["per_step"]["mae"], np.abs(e).mean(0))
    assert np.allclose(naive["per_step"]["rmse"], np.sqrt((e ** 2).mean(0)))
    assert np.allclose(naive["per_step"]["mase"], (np.abs(e) / scale[:, None]).mean(0))
    assert naive["overall"]["mase"] == pytest.approx((np.abs(e) / scale[:, None]).mean())
    f = np.array(naive["forecasts"])
    a = np.array(result["actual"])
    assert naive["overall"]["smape"] == pytest.approx(np.mean(200 * np.abs(a - f) /
                                                              (np.abs(a) + np.abs(f))))
    sn = result["methods"]["seasonal_naive"]
    assert np.allclose(sn["forecasts"], [y[72:78], y[78:84]])
    rel = result["relative_to_seasonal_naive"]
    assert rel["seasonal_naive"] == 1.0
    assert rel["rnnlab"] == pytest.approx(result["methods"]["rnnlab"]["overall"]["mase"] /
                                          sn["overall"]["mase"])


def test_each_fold_is_a_model_trained_on_the_rows_before_it(csv, tmp_path, result):
    """Fold 2 by hand: train with --until 90 as rnnlab train would, forecast 6 steps."""
    rnnlab.train(csv, out=tmp_path / "r", progress=False, log=lambda m: None, seed=0,
                 hidden=8, steps=30, task_options={"ensemble": 1, "until": 90, "horizon": 6})
    f = rnnlab.load(tmp_path / "r").forecast(6)["forecast"]
    assert np.allclose(f, result["methods"]["rnnlab"]["forecasts"][1], rtol=1e-6)


def test_cli_table_json_and_plot(csv, tmp_path, capsys):
    png = tmp_path / "bt.png"
    args = ["backtest", str(csv), "--horizon", "6", "--folds", "2", "--hidden", "8",
            "--steps", "30", "--ensemble", "1", "--baselines", "naive,seasonal_naive"]
    capsys.readouterr()
    assert main([*args, "--plot", str(png)]) == 0
    out = capsys.readouterr()
    assert "fold 2/2: origin row 90" in out.err
    lines = out.out.splitlines()
    assert "2 folds of 6 steps" in lines[0] and "2007-07-01" in lines[0]
    assert lines[1].split()[:5] == ["method", "MASE", "RMSE", "MAE", "sMAPE"]
    assert [ln.split()[0] for ln in lines[2:5]] == ["rnnlab", "naive", "seasonal"]
    assert "MASE per horizon step:" in out.out and png.stat().st_size > 1000
    assert main([*args, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res["methods"]) == {"rnnlab", "naive", "seasonal_naive"}
    assert len(res["methods"]["rnnlab"]["per_step"]["smape"]) == 6


@pytest.mark.parametrize("extra, needle", [
    (["--horizon", "12", "--folds", "7"], "too short for --folds 7 of --horizon 12"),
    (["--horizon", "96"], "as long as the series (96 rows)"),
    (["--horizon", "0"], "--horizon must be a positive integer"),
    (["--folds", "0"], "--folds must be a positive integer"),
    (["--baselines", "naive,theta"], "--baselines has 'theta'"),
    (["--target", "sales"], "no column 'sales'"),
])
def test_bad_input_exits_2_with_one_line(csv, extra, needle, capsys):
    capsys.readouterr()
    assert main(["backtest", str(csv), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_the_fix_for_too_many_folds_is_named():
    with pytest.raises(rnnlab.RnnlabError, match="use at most 4 folds"):
        bt.origins(96, 12, 7)
    assert bt.origins(96, 12, 4) == [48, 60, 72, 84]


def test_without_statsforecast_the_statistics_are_skipped(csv, monkeypatch):
    monkeypatch.setattr(bt, "missing_reason", lambda name: "statsforecast is not installed: "
                        "pip install 'rnnlab[forecast]'" if name in ("ets", "arima") else None)
    res = rnnlab.backtest(csv, horizon=6, folds=1, **TINY)
    assert set(res["methods"]) == {"rnnlab", "naive", "seasonal_naive"}
    assert set(res["skipped"]) == {"ets", "arima"}
    text = "\n".join(bt.report_lines(res))
    assert "AutoETS          skipped: statsforecast is not installed" in text


def test_with_statsforecast_autoets_and_autoarima_run(csv):
    pytest.importorskip("statsforecast")
    res = rnnlab.backtest(csv, horizon=6, folds=1, **TINY)
    for m in ("ets", "arima"):
        assert np.isfinite(res["methods"][m]["forecasts"]).all()
        assert res["methods"][m]["overall"]["mase"] > 0


def test_pure_season_the_model_is_not_worse_than_seasonal_naive(tmp_path):
    """Seasonal naive forecasts a repeated pattern exactly (MAE 0). A trained network can only
    come close, so "not worse" here means: with the default options, every forecast step is
    within 2% of the pattern's range (2 to 12), and the model is not warned as a loser on its
    validation part (MAE differences under 2% of the mean one-step change are ties)."""
    y = generate_series("pure_seasonal", 120)
    write_csv(tmp_path / "p.csv", {"y": y})
    res = rnnlab.backtest(tmp_path / "p.csv", horizon=12, folds=2,
                          baselines="naive,seasonal_naive")
    err = np.abs(np.array(res["actual"]) - res["methods"]["rnnlab"]["forecasts"])
    assert res["methods"]["seasonal_naive"]["overall"]["mae"] == 0
    assert err.max() < 0.02 * np.ptp(y)
    assert res["methods"]["rnnlab"]["overall"]["mase"] < 0.02      # scaled by naive's error
    rnnlab.train(tmp_path / "p.csv", out=tmp_path / "r", progress=False, log=lambda m: None)
    assert rnnlab.load(tmp_path / "r").validation_check()["loses"] is False


def test_season_plus_noise_the_model_beats_seasonal_naive(tmp_path):
    """The same pattern with noise (sd 0.5): seasonal naive carries last season's noise into
    its forecast, a model that learned the pattern does not. Default options."""
    y = generate_series("pure_seasonal", 120) + np.random.default_rng(0).normal(0, 0.5, 120)
    write_csv(tmp_path / "n.csv", {"y": y})
    res = rnnlab.backtest(tmp_path / "n.csv", horizon=12, folds=2,
                          baselines="naive,seasonal_naive")
    assert res["relative_to_seasonal_naive"]["rnnlab"] < 0.9
