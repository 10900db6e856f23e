import json

import numpy as np
import pytest

from rnnlab.data.series import (
    Scaler, chrono_split, detect_season, difference, generate_series, load_csv, mae,
    make_windows, mase, naive_forecast, rmse, seasonal_naive_forecast, undifference, write_csv,
)
from rnnlab.errors import RnnlabError


def _write(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_load_csv_time_target_features(tmp_path):
    p = _write(tmp_path, "date,temp,sales\n2020-01-01,1.5,10\n2020-01-02,2.5,12\n2020-01-03,0.5,9\n")
    d = load_csv(p)
    assert d.target == "temp" and d.columns == ["temp", "sales"]
    assert d.time == ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert d.values.dtype == np.float64 and d.values.shape == (3, 2)
    d = load_csv(p, target="sales")
    assert d.columns == ["sales", "temp"] and d.values[:, 0].tolist() == [10, 12, 9]
    assert load_csv(p, target="sales", features="temp").columns == ["sales", "temp"]
    d = load_csv(p, target="sales", features=[])
    assert d.values.shape == (3, 1)


def test_time_column_detected_by_parsing(tmp_path):
    p = _write(tmp_path, "when,y\n2021/03/01,1\n2021/03/02,2\n2021/03/03,4\n")
    d = load_csv(p)
    assert d.time[0] == "2021/03/01" and d.columns == ["y"]


def test_write_csv_round_trip(tmp_path):
    y = generate_series("ar", 50, seed=1)
    x = np.linspace(0, 1, 50)
    write_csv(tmp_path / "w.csv", {"y": y, "x": x}, time=[f"2020-01-{i % 28 + 1:02d}" for i in range(50)])
    d = load_csv(tmp_path / "w.csv")
    assert d.columns == ["y", "x"] and np.array_equal(d.values, np.stack([y, x], 1))


def test_missing_values_error_and_fills(tmp_path):
    p = _write(tmp_path, "y,x\n,1\n2,2\nNaN,3\n6,4\n7,\n")
    with pytest.raises(RnnlabError, match=r"line 2 column 'y' is missing.*--fill ffill\|interpolate"):
        load_csv(p)
    f = load_csv(p, fill="ffill")
    assert f.values[:, 0].tolist() == [2, 2, 2, 6, 7]   # leading gap back-filled
    assert f.values[:, 1].tolist() == [1, 2, 3, 4, 4]
    i = load_csv(p, fill="interpolate")
    assert i.values[:, 0].tolist() == [2, 2, 4, 6, 7]
    with pytest.raises(RnnlabError, match="ffill"):
        load_csv(p, fill="zero")


def test_csv_errors(tmp_path):
    with pytest.raises(RnnlabError, match="not found"):
        load_csv(tmp_path / "none.csv")
    with pytest.raises(RnnlabError, match="no numeric column"):
        load_csv(_write(tmp_path, "a,b\nx,y\nz,w\n"))
    p = _write(tmp_path, "y,x\n1,2\n2,3\n3,4\n")
    with pytest.raises(RnnlabError, match=r"no column 'z'; available columns: y, x"):
        load_csv(p, target="z")
    with pytest.raises(RnnlabError, match="available columns"):
        load_csv(p, features=["q"])
    with pytest.raises(RnnlabError, match=r"line 3 column 'y' is 'oops', expected a number"):
        load_csv(_write(tmp_path, "y\n1\noops\n3\n4\n"))
    with pytest.raises(RnnlabError, match="constant"):
        load_csv(_write(tmp_path, "y,x\n5,1\n5,2\n5,3\n"))
    with pytest.raises(RnnlabError, match="no data rows"):
        load_csv(_write(tmp_path, "y\n"))
    with pytest.raises(RnnlabError, match="line 3 has 1 cells, expected 2"):
        load_csv(_write(tmp_path, "y,x\n1,2\n3\n"))


def test_scaler_round_trip_and_errors():
    rng = np.random.default_rng(0)
    v = rng.normal(5, 3, size=(40, 3))
    s = Scaler().fit(v)
    z = s.transform(v)
    assert np.allclose(z.mean(0), 0) and np.allclose(z.std(0), 1)
    s2 = Scaler.from_json(json.loads(json.dumps(s.to_json())))
    assert np.allclose(s2.inverse_transform(s2.transform(v)), v)
    v[:, 1] = 2.0
    with pytest.raises(RnnlabError, match="'b' is constant"):
        Scaler().fit(v, ["a", "b", "c"])
    with pytest.raises(RnnlabError, match="columns"):
        s.transform(np.zeros((3, 2)))
    with pytest.raises(RnnlabError, match="not fitted"):
        Scaler().transform(v)


def test_difference_round_trip():
    v = np.array([[1.0, 10], [3, 9], [2, 12], [8, 1]])
    d, first = difference(v)
    assert d.shape == (3, 2) and d[0].tolist() == [2, -1]
    assert np.allclose(undifference(d, first), v)
    d1, f1 = difference(v[:, 0])
    assert np.allclose(undifference(d1, f1), v[:, 0])


def test_chrono_split():
    tr, va = chrono_split(np.arange(10), 0.2)
    assert tr.tolist() == list(range(8)) and va.tolist() == [8, 9]
    with pytest.raises(RnnlabError, match="val_fraction"):
        chrono_split(np.arange(10), 0.9)


def test_make_windows():
    v = np.stack([np.arange(10.0), 100 + np.arange(10.0)], 1)
    X, Y = make_windows(v, lookback=4)
    assert X.shape == (4, 6, 2) and Y.shape == (4, 6, 1)
    w = 2
    assert X[:, w, 0].tolist() == [2, 3, 4, 5] and X[:, w, 1].tolist() == [102, 103, 104, 105]
    assert Y[:, w, 0].tolist() == [3, 4, 5, 6]
    _, Y1 = make_windows(v, lookback=4, target_col=1)
    assert Y1[-1, -1, 0] == 109
    make_windows(v, lookback=9)
    with pytest.raises(RnnlabError, match="need at least 11"):
        make_windows(v, lookback=10)


def test_baselines_and_metrics():
    h = np.array([1.0, 2, 3, 4, 5, 6])
    assert naive_forecast(h, 3).tolist() == [6, 6, 6]
    assert seasonal_naive_forecast(h, 5, season=3).tolist() == [4, 5, 6, 4, 5]
    assert rmse([1, 2], [1, 4]) == pytest.approx(np.sqrt(2))
    assert mae([1, 2], [1, 4]) == 1.0
    # naive in-sample MAE of h is 1, so MASE equals the MAE
    assert mase([7, 8], [7, 10], h) == pytest.approx(1.0)
    assert mase([7, 8], [7, 10], h, season=2) == pytest.approx(0.5)
    with pytest.raises(RnnlabError, match="undefined"):
        mase([1], [2], [3, 3, 3])


def test_detect_season():
    s = generate_series("seasonal", 240, seed=0)
    assert detect_season(s) == 12
    noise = np.random.default_rng(1).normal(size=300)
    assert detect_season(noise) is None
    # the seasonal naive forecast beats the naive one on a seasonal series
    tr, te = s[:-24], s[-24:]
    assert mase(te, seasonal_naive_forecast(tr, 24, 12), tr, 12) < mase(te, naive_forecast(tr, 24), tr, 12)


def test_generate_series():
    a = generate_series("ar", 200, seed=3)
    assert a.shape == (200,) and a.dtype == np.float64
    assert np.array_equal(a, generate_series("ar", 200, seed=3))
    # AR(2) with phi1 = 0.6: lag-1 autocorrelation = 0.6 / (1 + 0.3) ~ 0.46
    r1 = np.corrcoef(a[:-1], a[1:])[0, 1]
    assert 0.25 < r1 < 0.65
    with pytest.raises(RnnlabError, match="seasonal"):
        generate_series("walk", 10, 0)
