"""Seeing inside: the explain page (explain.py renders it, inspect.py fills it from a model),
the gradients through time (gradients.py), the PNG plots and their report (plots.py,
report.py) and the `rnnlab explain` / `rnnlab plot` commands (commands.py). subject.py reads
a model and its input and runs the reference forward that all of them look at.

Importing the package also gives every trained model its `explain(text)` (the hook
rnnlab.tasks.base.set_explainer), which returns a page.HtmlPage.

Names are re-exported lazily (PEP 562), so `import rnnlab` and `import rnnlab.viz` never import
matplotlib; plots import it inside their functions.
"""
import importlib

from rnnlab.tasks.base import set_explainer

_EXPORTS = {
    "explain": "page", "HtmlPage": "page",
    "render_lesson_html": "lesson", "write_lesson": "lesson",
    "render_explain_html": "explain", "write_explain_html": "explain",
    "payload_from_arrays": "explain", "read_explain_payload": "explain",
    "explain_payload": "inspect", "write_explain": "inspect", "plot_run": "report",
    "write_report": "report", "connectivity": "gradients", "grad_norms": "gradients",
    "loss_grad_norms": "gradients", "plot_loss_curves": "plots",
    "plot_gate_heatmaps": "plots", "plot_grad_norms": "plots", "plot_metric_vs_T": "plots",
    "plot_forecast": "plots", "plot_piano_roll": "plots",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"rnnlab.viz.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'rnnlab.viz' has no attribute {name!r}")


def _explain(model, inputs, **options):
    return importlib.import_module("rnnlab.viz.page").explain(model, inputs, **options)


set_explainer(_explain)          # TrainedModel.explain (rnnlab.tasks.base) draws this page
