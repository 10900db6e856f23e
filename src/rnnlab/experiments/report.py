"""What the experiments report: the one-line progress description, the summary table, and the
output folder (results.json first, then metric_vs_T.png and grad_norms.png)."""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np

from ..errors import install_line
from ..fileio import atomic_write_bytes
from ..nn import registry


def cell_label(r):
    """The cell of a record as the table shows it: its --cell name, then its own options
    ('lstm layer_norm', 'mingru mode=recurrent')."""
    opts = r.get("cell_options") or {}
    words = [k if v is True else f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
             for k, v in opts.items()]
    return " ".join([r["cell"], *words])


def describe(r):
    acc = f", acc {r['test_accuracy']:.3f}" if r.get("test_accuracy") is not None else ""
    met = "nan" if r["test_metric"] is None else f"{r['test_metric']:.4g}"
    how = (f"solved at step {r['steps_to_solve']}" if r["solved"]
           else ("DIVERGED" if r.get("diverged") else f"not solved in {r['steps']} steps"))
    return (f"{r['task']} T={r['T']} {cell_label(r)} seed={r['seed']}: {how} (test {r['metric']} "
            f"{met} vs baseline {r['baseline']:.4g}{acc}; {r['wall_s']:.1f} s)")


def summary_rows(records):
    """One row per (task, T, cell with its options): solved count, mean test metric, median
    steps_to_solve, mean CPU and wall seconds per run."""
    rows = {}
    for r in records:
        rows.setdefault((r["task"], r["T"], cell_label(r)), []).append(r)
    out = []
    for (task, T, cell), rs in rows.items():
        ms = [r["test_metric"] for r in rs if r["test_metric"] is not None]
        accs = [r["test_accuracy"] for r in rs if r.get("test_accuracy") is not None]
        sts = [r["steps_to_solve"] for r in rs if r["steps_to_solve"] is not None]
        out.append(dict(task=task, T=T, cell=cell, solved=sum(r["solved"] for r in rs),
                        runs=len(rs), mean_metric=float(np.mean(ms)) if ms else None,
                        mean_accuracy=float(np.mean(accs)) if accs else None,
                        baseline=rs[0]["baseline"],
                        median_steps_to_solve=float(np.median(sts)) if sts else None,
                        mean_wall_s=float(np.mean([r["wall_s"] for r in rs])),
                        mean_cpu_s=float(np.mean([r.get("cpu_s", np.nan) for r in rs]))))
    return out


def format_table(records):
    """The end-of-run table, one line per (task, T, cell)."""
    rows = summary_rows(records)
    w = max([14, *(len(r["cell"]) + 1 for r in rows)])
    head = f"{'task':<15}{'T':>5}  {'cell':<{w}}{'solved':>7}  {'test metric':>11}  " \
           f"{'baseline':>9}  {'accuracy':>8}  {'steps to solve':>14}  {'cpu s':>7}  {'wall s':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        met = "nan" if r["mean_metric"] is None else f"{r['mean_metric']:.4g}"
        acc = "-" if r["mean_accuracy"] is None else f"{r['mean_accuracy']:.3f}"
        sts = "-" if r["median_steps_to_solve"] is None else f"{r['median_steps_to_solve']:.0f}"
        lines.append(f"{r['task']:<15}{r['T']:>5}  {r['cell']:<{w}}"
                     f"{str(r['solved']) + '/' + str(r['runs']):>7}  {met:>11}  "
                     f"{r['baseline']:>9.4g}  {acc:>8}  {sts:>14}  {r['mean_cpu_s']:>7.1f}  "
                     f"{r['mean_wall_s']:>7.1f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- outputs

def write_outputs(out_dir, meta, records, grad):
    """results.json (meta, records, grad_norms), metric_vs_T.png, grad_norms.png. Returns the
    paths written. The plots are skipped (with a note in meta) when matplotlib is missing."""
    os.makedirs(out_dir, exist_ok=True)
    if importlib.util.find_spec("matplotlib") is None:       # an optional dependency
        meta = dict(meta, plots_skipped=f"matplotlib is not installed: {install_line('viz')}")
    p = os.path.join(out_dir, "results.json")                # first: the numbers are what count
    atomic_write_bytes(p, (json.dumps(dict(meta=meta, records=records, grad_norms=grad),
                                      indent=1) + "\n").encode())
    written = [p]
    if "plots_skipped" in meta:
        return written
    from ..viz import plots
    pts = [dict(cell=r["cell"], T=r["T"], metric=r["mean_metric"], baseline=r["baseline"])
           for r in summary_rows(records) if r["mean_metric"] is not None]
    if pts:
        p = os.path.join(out_dir, "metric_vs_T.png")
        plots.plot_metric_vs_T(pts, p, metric=f"test {meta['metric']} (mean over seeds)",
                               title=f"{meta['task']}: test {meta['metric']} vs T")
        written.append(p)
    curves = {}
    for cell, g in grad.items():
        # a cell whose state has no h (the mLSTM) reports its memory's gradient instead
        what = "" if "h" in registry.choices()[cell][0].state else " (\u2202L/\u2202C, n)"
        curves[f"{cell} init{what}"] = g["init"]
        curves[f"{cell} trained{what}"] = g["trained"]
    if curves:
        T = next(iter(grad.values()))["T"]
        p = os.path.join(out_dir, "grad_norms.png")
        plots.plot_grad_norms(curves, p, title=f"{meta['task']}, T={T}: "
                              "\u2016\u2202L/\u2202h_t\u2016 at init and after training")
        written.append(p)
    return written
