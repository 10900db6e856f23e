"""PNGs for a model on an input (`plot_run`) and the self-contained page that shows them
(`write_report`). The gates come from one reference forward (subject.py), the gradient norms
from gradients.py; matplotlib is imported only inside `plot_run` (through plots.py)."""
from __future__ import annotations

import base64
import html
from pathlib import Path

from rnnlab.errors import RnnlabError
from rnnlab.fileio import atomic_write_bytes
from rnnlab.nn import registry
from rnnlab.viz.gradients import grad_norms_from
from rnnlab.viz.subject import Subject, read_input, reference_forward


def plot_run(model, text, out_dir, history=None, prefix="", *, vocab=None) -> list:
    """PNGs for a model on an input: loss curves (history, ln V), gate heatmaps (one figure per
    layer and direction) and gradient norm against distance from the loss. Without `text` only
    the loss curves. Returns the written paths."""
    from rnnlab.viz import plots
    subject = Subject.of(model, vocab)
    sm, cfg = subject.model, subject.cfg
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if history is None:
        history = subject.history()
    if history:
        paths.append(plots.plot_loss_curves(
            history, out_dir / f"{prefix}loss_curves.png",
            vocab_size=cfg.output_size if cfg.task == "text" else None))
    if text is None:
        return paths
    ids, x, labels = read_input(subject, text)
    _, gates, _ = reference_forward(sm, x)
    norms = (grad_norms_from(sm, subject, ids, x, gates, None)
             if sm.rnn.num_directions == 1 else None)
    spec = registry.get(cfg.cell)
    dirs = sm.rnn.num_directions
    for k in range(cfg.layers):
        for d in range(dirs):
            chosen = {n: gates[(k, d, n)] for n in spec.plotted if (k, d, n) in gates}
            # layers count from 0, as in the parameter names (weight_ih_l0) and on the
            # explain page
            where = f"layer {k}" + (" (reverse)" if d else "")
            name = f"{prefix}gates_layer{k}" + ("_reverse" if d else "") + ".png"
            paths.append(plots.plot_gate_heatmaps(
                chosen, out_dir / name, tokens=labels, bounds=spec.bounds,
                title=f"{cfg.cell.upper()} {where}: gates over the input"))
    if norms is not None:
        paths.append(plots.plot_grad_norms(
            norms, out_dir / f"{prefix}grad_norms.png",
            title=f"{cfg.cell.upper()}: gradient of the last prediction's loss, back through time"))
    return paths


def write_report(out_dir, sections, title="rnnlab report") -> str:
    """Write `out_dir/report.html`: a self-contained page (PNGs embedded as data URIs, no
    network). sections: [{"title": str, "text": str (optional), "images": [png paths]}] or
    [(title, [png paths])]. Returns the path."""
    out_dir = Path(out_dir)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{html.escape(title)}</title><style>body{{font:15px/1.45 system-ui,"
             "sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}figure{margin:1em 0}"
             "figcaption{color:#666;font-size:13px}</style></head><body>"
             f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        parts.extend(_section_html(sec))
    parts.append("</body></html>")
    path = out_dir / "report.html"
    atomic_write_bytes(path, "\n".join(parts).encode("utf-8"))
    return str(path)


def _section_html(sec) -> list:
    """One report section: its heading, text and figures (each PNG inlined)."""
    if isinstance(sec, (tuple, list)):
        sec = {"title": sec[0], "images": sec[1]}
    if not isinstance(sec, dict):
        raise RnnlabError(f"write_report: section {sec!r}; expected {{'title', 'images'}}")
    parts = [f"<h2>{html.escape(str(sec.get('title', '')))}</h2>"]
    if sec.get("text"):
        parts.append(f"<p>{html.escape(str(sec['text']))}</p>")
    for img in sec.get("images", []):
        p = Path(img)
        if not p.is_file():
            raise RnnlabError(f"write_report: the image {str(p)!r} does not exist")
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        parts.append(f"<figure><img alt='{html.escape(p.name)}' "
                     f"src='data:image/png;base64,{data}'><figcaption>{html.escape(p.name)}"
                     "</figcaption></figure>")
    return parts
