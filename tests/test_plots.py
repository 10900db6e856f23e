"""Each plot writes a real PNG, and its figure has the panels we promise."""
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from rnnlab.errors import RnnlabError  # noqa: E402
from rnnlab.viz import plots  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
rng = np.random.default_rng(0)


def _png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 2000
    return data


def test_import_rnnlab_does_not_import_matplotlib():
    code = "import sys, rnnlab, rnnlab.viz.explain; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loss_curves(tmp_path):
    hist = [{"step": s, "train_loss": 3 / (1 + s), "val_loss": None if s % 2 else 3.1 / (1 + s)}
            for s in range(10)]
    fig = plots.loss_curves_figure(hist, vocab_size=27)
    ax, = fig.axes
    assert len(ax.lines) == 3                      # train, val, ln V
    assert ax.lines[2].get_ydata()[0] == pytest.approx(np.log(27))
    out = plots.plot_loss_curves(hist, tmp_path / "loss.png")
    _png(tmp_path / "loss.png")
    assert out.endswith("loss.png")
    with pytest.raises(RnnlabError):
        plots.plot_loss_curves([], tmp_path / "x.png")


def test_gate_heatmaps_share_limits(tmp_path):
    T, H = 30, 6
    sig = 1 / (1 + np.exp(-rng.normal(size=(4, T, H))))
    gates = {"i": sig[0] * 0.5, "f": sig[1], "o": sig[2], "g": np.tanh(rng.normal(size=(T, H))),
             "c": rng.normal(size=(T, 1, H)) * 3}
    fig = plots.gate_heatmaps_figure(gates, tokens=list("abcdefghij" * 3), title="gates")
    # five panels + one colour bar per kind ([0,1] gates, [-1,1] g, wide c)
    assert len(fig.axes) == 5 + 3
    lims = [ax.images[0].get_clim() for ax in fig.axes[:5]]
    assert lims[0] == lims[1] == lims[2] == (0.0, 1.0)   # i reaches only 0.5 yet shares [0, 1]
    assert lims[3] == (-1.0, 1.0)
    assert lims[4][0] == -lims[4][1] and lims[4][1] >= np.abs(gates["c"]).max()
    plots.plot_gate_heatmaps(gates, tmp_path / "gates.png")
    _png(tmp_path / "gates.png")
    with pytest.raises(RnnlabError):
        plots.plot_gate_heatmaps({"f": np.zeros((3, 2)), "i": np.zeros((4, 2))}, tmp_path / "y.png")


def test_grad_norms_log_axis(tmp_path):
    curves = {"RNN init": 0.5 ** np.arange(40), "LSTM trained": np.r_[np.ones(39), 0.0]}
    fig = plots.grad_norms_figure(curves)
    ax, = fig.axes
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    plots.plot_grad_norms(curves, tmp_path / "g.png", title="vanishing")
    _png(tmp_path / "g.png")


def test_metric_vs_T(tmp_path):
    recs = [{"cell": c, "T": T, "metric": m, "baseline": 0.5}
            for c, m0 in (("rnn", 0.6), ("lstm", 0.99)) for T, m in ((10, m0), (50, m0 - 0.1))]
    fig = plots.metric_vs_T_figure(recs, metric="accuracy")
    ax, = fig.axes
    assert len(ax.lines) == 3                      # rnn, lstm, baseline
    plots.plot_metric_vs_T(recs, tmp_path / "m.png")
    _png(tmp_path / "m.png")
    with pytest.raises(RnnlabError):
        plots.plot_metric_vs_T([{"cell": "rnn"}], tmp_path / "m2.png")


def test_forecast(tmp_path):
    hist = np.sin(np.arange(100) / 5)
    fc = np.sin(np.arange(100, 120) / 5)
    fig = plots.forecast_figure(hist, fc, fc - 0.2, fc + 0.2, actual=fc)
    ax, = fig.axes
    assert len(ax.collections) == 1                # the interval band
    plots.plot_forecast(hist, fc, None, None, tmp_path / "f.png")
    _png(tmp_path / "f.png")
    with pytest.raises(RnnlabError):
        plots.plot_forecast(hist, fc, fc[:3], fc[:3], tmp_path / "f2.png")
    with pytest.raises(RnnlabError):
        plots.plot_forecast(hist, fc, None, None, tmp_path / "f.svg")


def test_piano_roll(tmp_path):
    steps = [[60, 64], [60, 64], [], [62], [62], [67, 72]]
    fig = plots.piano_roll_figure(steps, steps_per_beat=2)
    ax, = fig.axes
    bars = [b for c in ax.collections for b in c.get_paths()]
    assert len(bars) == 5                          # 60, 64 (held 2 steps), 62, 67, 72
    assert ax.get_xlim() == (0, 3) and "C4" in [t.get_text() for t in ax.get_yticklabels()]
    # notes: a pitch struck twice stays two bars
    fig = plots.piano_roll_figure(None, notes=[(60, 0, 2), (60, 2, 4)])
    assert sum(len(c.get_paths()) for c in fig.axes[0].collections) == 2
    assert "silent" in plots.piano_roll_figure([[], []]).axes[0].get_title()
    plots.plot_piano_roll(steps, tmp_path / "roll.png")
    _png(tmp_path / "roll.png")
    assert plots.note_name(60) == "C4" and plots.note_name(69) == "A4"
