"""M4's scores of a panel forecast: sMAPE, MASE (scaled by each series' in-sample seasonal
naive error), and for the interval its coverage and MSIS (Gneiting and Raftery's interval
score, scaled as MASE is; M4 scored 95% intervals)."""
import numpy as np


def smape(a, f):
    den = np.abs(a) + np.abs(f)
    return np.where(den > 0, 200 * np.abs(a - f) / np.where(den > 0, den, 1), 0.0)


def msis(a, lo, hi, level, scale):
    alpha = 1 - level
    pen = (hi - lo) + 2 / alpha * ((lo - a) * (a < lo) + (a - hi) * (a > hi))
    return float(np.mean(pen)) / scale


def score_panel(actuals, forecasts, baseline, scales, lowers, uppers, level, season):
    """Mean per-series scores of the forecast and of seasonal naive ('baseline', (S, h)):
    {"model": {...}, "seasonal_naive": {...}, "series", "horizon", "beats_baseline"}."""
    rows = {"model": [], "seasonal_naive": []}
    cover, interval = [], []
    for k, a in enumerate(actuals):
        n = len(a)
        for name, f in (("model", forecasts[k][:n]), ("seasonal_naive", baseline[k][:n])):
            rows[name].append((float(np.mean(smape(a, f))),
                               float(np.mean(np.abs(a - f))) / scales[k]))
        lo, hi = lowers[k][:n], uppers[k][:n]
        cover.append(float(np.mean((a >= lo) & (a <= hi))))
        interval.append(msis(a, lo, hi, level, scales[k]))
    out = {}
    for name, r in rows.items():
        r = np.asarray(r)
        out[name] = {"smape": float(r[:, 0].mean()), "mase": float(r[:, 1].mean())}
    model, base = np.asarray(rows["model"]), np.asarray(rows["seasonal_naive"])
    out["model"].update(coverage=float(np.mean(cover)), msis=float(np.mean(interval)),
                        level=level)
    out.update(series=len(actuals), horizon=max(len(a) for a in actuals), season=int(season),
               beats_baseline=int(np.sum(model[:, 1] <= base[:, 1])))
    return out


def score_lines(res):
    m, b = res["model"], res["seasonal_naive"]
    return [f"holdout: {res['series']} series, up to {res['horizon']} steps (MASE at lag "
            f"{res['season']})",
            f"model           sMAPE {m['smape']:.3f}  MASE {m['mase']:.3f}  "
            f"{m['level']:.0%} interval: coverage {m['coverage']:.3f}, MSIS {m['msis']:.3f}",
            f"seasonal naive  sMAPE {b['smape']:.3f}  MASE {b['mase']:.3f}",
            f"the model's MASE is at or below seasonal naive's on {res['beats_baseline']} of "
            f"{res['series']} series"]
