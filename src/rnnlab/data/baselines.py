"""The statistical forecasters a trained network is compared with in a backtest.

    naive            the last value, repeated
    seasonal_naive   the last season, repeated (the naive forecast without a season)
    ets, arima       statsforecast's AutoETS and AutoARIMA (Hyndman and Khandakar's automatic
                     model selection), when statsforecast is installed:
                     the 'forecast' extra (errors.install_line('forecast') gives the command)

statsforecast is optional and imported only here, on first use. Its AutoETS fits no seasonal
model for a season longer than 24 (it then chooses among the non-seasonal ones).
"""
from __future__ import annotations

import warnings

import numpy as np

from rnnlab.data.forecast_metrics import naive_forecast, seasonal_naive_forecast
from rnnlab.errors import RnnlabError, install_line

NAMES = ("naive", "seasonal_naive", "ets", "arima")
LABELS = {"naive": "naive", "seasonal_naive": "seasonal naive", "ets": "AutoETS",
          "arima": "AutoARIMA"}
STATISTICAL = {"ets": "AutoETS", "arima": "AutoARIMA"}


def missing_reason(name: str) -> str | None:
    """Why baseline `name` cannot run here (None: it can)."""
    if name not in STATISTICAL:
        return None
    try:
        import statsforecast.models  # noqa: F401
    except ImportError:
        return f"statsforecast is not installed: {install_line('forecast')}"
    return None


def parse_names(text) -> list:
    """'naive,ets' (or a list) -> checked baseline names, in the order given."""
    names = [n.strip() for n in text.split(",") if n.strip()] if isinstance(text, str) \
        else list(text)
    bad = [n for n in names if n not in NAMES]
    if bad:
        raise RnnlabError(f"--baselines has {bad[0]!r}; choose among {', '.join(NAMES)}")
    return names


def baseline_forecast(name: str, history, horizon: int, season: int = 1) -> np.ndarray:
    """The `horizon`-step forecast of baseline `name` from `history` (N,). season: 1 = none."""
    y = np.asarray(history, np.float64)
    if name == "naive" or (name == "seasonal_naive" and (season <= 1 or len(y) < season)):
        return naive_forecast(y, horizon)
    if name == "seasonal_naive":
        return seasonal_naive_forecast(y, horizon, season)
    why = missing_reason(name)
    if why is not None:
        raise RnnlabError(f"baseline {name}: {why}")
    from statsforecast import models
    model = getattr(models, STATISTICAL[name])(season_length=max(1, int(season)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.forecast(y=y, h=int(horizon))
    return np.asarray(out["mean"], np.float64)
