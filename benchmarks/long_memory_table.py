"""The markdown tables of docs/cells.md ("Long memory") from the results.json files that
`rnnlab experiment --out DIR` writes (benchmarks/long_memory_cells.sh: one folder per job).

    python benchmarks/long_memory_table.py DIR [DIR ...]

One row per (task, T, cell with its options), rows sorted by task, T and the order of CELLS;
per row: solved/runs, the test metric (mean over seeds; accuracy too for the symbol tasks), the
steps to solve per seed ('-' for a seed that did not), the step cap, and CPU and wall seconds
per run (mean). Folders without results.json (a job not run or not finished) are listed below
the tables.
"""
import glob
import json
import os
import sys

from rnnlab.experiments.report import cell_label

ORDER = ["rnn", "lstm", "gru", "mingru", "minlstm", "slstm", "mlstm", "lstm layer_norm"]


def records(dirs):
    out, missing = [], []
    for d in dirs:
        for sub in sorted(glob.glob(os.path.join(d, "*"))) + [d]:
            p = os.path.join(sub, "results.json")
            if os.path.isfile(p):
                with open(p) as f:
                    out += json.load(f)["records"]
            elif os.path.isdir(sub) and sub != d and not sub.endswith(".lock"):
                missing.append(sub)        # (a job's .lock folder is not a job of its own)
    return out, missing


def rank(label):
    base = label.replace(" mode=recurrent", "").replace(" mode=parallel", "")
    return ORDER.index(base) if base in ORDER else len(ORDER)


def table(recs):
    rows = {}
    for r in recs:
        rows.setdefault((r["task"], r["T"], cell_label(r)), []).append(r)
    lines = ["| task | T | cell | solved | test metric (mean) | accuracy (mean) | steps to solve "
             "(per seed) | step cap | CPU s / run | wall s / run |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (task, T, label), rs in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                     rank(kv[0][2]))):
        rs.sort(key=lambda r: r["seed"])
        met = [r["test_metric"] for r in rs if r["test_metric"] is not None]
        acc = [r["test_accuracy"] for r in rs if r.get("test_accuracy") is not None]
        sts = ", ".join("-" if r["steps_to_solve"] is None else str(r["steps_to_solve"])
                        for r in rs)
        solved = sum(r["solved"] for r in rs)
        cap = sorted({r.get("step_cap") or r["steps"] for r in rs})
        lines.append(
            f"| {task} | {T} | {label} | {'**' if solved == len(rs) else ''}{solved}/{len(rs)}"
            f"{'**' if solved == len(rs) else ''} | "
            f"{sum(met) / len(met):.4g} | {'%.3f' % (sum(acc) / len(acc)) if acc else '-'} | "
            f"{sts} | {'/'.join(map(str, cap))} | "
            f"{sum(r['cpu_s'] for r in rs) / len(rs):.0f} | "
            f"{sum(r['wall_s'] for r in rs) / len(rs):.0f} |")
    return "\n".join(lines)


def main(argv):
    recs, missing = records(argv or ["rnnlab-experiments"])
    print(table(recs))
    print(f"\n{len(recs)} runs, {sum(r['cpu_s'] for r in recs) / 3600:.2f} CPU-hours, "
          f"{sum(r['wall_s'] for r in recs) / 3600:.2f} wall-hours (summed over runs)")
    for m in missing:
        print(f"not finished: {m}")


if __name__ == "__main__":
    main(sys.argv[1:])
