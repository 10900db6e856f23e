"""The xLSTM cells on the explain page and in the plots: every gate the cell keeps is on the
page with its legend line, the colour ranges come from the registry's BOUNDS (the stabilised
gates in [0, 1]; the exponential input gate's log unbounded), the page runs in Chromium
without errors, and the gradient measurements take the cells' states (the mLSTM's matrix
memory is recorded by stepping the layer)."""
import numpy as np
import pytest

from rnnlab.nn import registry
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.viz.explain import read_explain_payload, render_explain_html
from rnnlab.viz.gradients import connectivity, grad_norms
from rnnlab.viz.inspect import explain_payload

from test_explain_page import _open, browser  # noqa: F401  (the Chromium fixture)

VOCAB = list("abcdefgh ")
TEXT = "abc deff gah bad cafe " * 3


def _model(cell, **cell_options):
    cfg = ModelConfig(task="text", cell=cell, input_size=len(VOCAB), output_size=len(VOCAB),
                      hidden=6, layers=2, seed=2, cell_options=cell_options)
    return SequenceModel(cfg)


@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_page_has_every_gate_with_legend_and_registry_ranges(cell):
    spec = registry.get(cell)
    payload = explain_payload(_model(cell, num_heads=2), TEXT, vocab=VOCAB)
    page = read_explain_payload(render_explain_html(payload))
    names = {k.split(".")[2] for k in page["quantities"]}
    assert names == set(spec.gates)
    assert set(page["legend"]) == set(spec.gates) and "tanh_c" not in page["legend"]
    for name, (lo, hi) in spec.bounds.items():
        values = np.concatenate([np.ravel(v) for k, v in page["quantities"].items()
                                 if k.endswith("." + name)])
        if lo <= values.min() and values.max() <= hi:          # the equations' range is used
            assert page["ranges"][name] == [lo, hi], name
    for name in ("i_s", "f_s", "o"):
        assert page["ranges"][name] == [0.0, 1.0]
    lo, hi = page["ranges"]["log_i"]                          # exponential gate: no [0, 1]
    assert lo < 0 < hi and lo == -hi and "log_i" not in spec.bounds
    assert page["order"] == list(spec.gates)


@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_page_runs_in_chromium(browser, tmp_path, cell):  # noqa: F811
    payload = explain_payload(_model(cell, num_heads=2), TEXT, vocab=VOCAB)
    page, url, errors, requests = _open(browser, payload, tmp_path)
    options = page.eval_on_selector_all("#sel-qty option", "els => els.map(e => e.value)")
    assert set(options) == set(registry.get(cell).gates) and "tanh_c" not in options
    assert page.input_value("#sel-qty") == "h"
    for name in options:
        page.select_option("#sel-qty", name)
    page.select_option("#sel-layer", "1")
    assert errors == [] and requests == [url]
    page.close()


@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_gradient_measurements_take_the_cells_state(cell):
    model = _model(cell).eval()
    norms = grad_norms((model, VOCAB), TEXT[:30])
    parts = [p for p in registry.get(cell).state if p != "m"]
    assert [k.split("\u2202")[2][0] for k in norms] == parts      # labels name the parts
    for a in norms.values():
        assert np.isfinite(a[1:]).all()
    conn = connectivity((model, VOCAB), TEXT[:30], steps=[5, 28])
    assert conn[5].shape == (6,) and conn[28].shape == (29,)
    # the batched rows (each from the state recorded before its window) give what one long
    # backward gives: d log p(target_28) / d x_s for every s
    ids = np.array([VOCAB.index(c) for c in TEXT[:30]])
    x = model.encode(ids[:, None])
    out, _ = model.forward(ids[:, None], backend="numpy")
    p = np.exp(out[28, 0] - out[28, 0].max())
    p /= p.sum()
    dout = np.zeros_like(out)
    dout[28, 0] = -p
    dout[28, 0, ids[29]] += 1
    dy = model.head.backward(dout)
    model.rnn.zero_grad()
    dx, _ = model.rnn.backward(dy)
    np.testing.assert_allclose(conn[28], np.linalg.norm(dx[:29, 0], axis=1), rtol=1e-4)
    assert x.shape[0] == 30
