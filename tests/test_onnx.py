"""ONNX export: the file runs in onnxruntime and matches rnnlab within 1e-5."""
import json

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

import rnnlab  # noqa: E402
from rnnlab.nn.blocks import Linear  # noqa: E402
from rnnlab.app.cli import main  # noqa: E402
from rnnlab.interop.onnx import OPSET, export_onnx, layer_to_onnx, model_to_onnx  # noqa: E402
from rnnlab.nn import registry  # noqa: E402
from rnnlab.tasks.model import ModelConfig, SequenceModel  # noqa: E402

TOL = 1e-5
# every registered cell and variant that ONNX has an operator for
CELLS = [(spec.name, dict(opts)) for spec, opts in registry.choices().values() if spec.onnx_op]


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def close(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=TOL, rtol=TOL)


def states(cell, s):
    return list(s) if cell == "lstm" else [s]


@pytest.mark.parametrize("cell,kw", CELLS, ids=lambda v: str(v))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_layer_matches_onnxruntime(cell, kw, bidirectional):
    layer = registry.get(cell).layer(3, 5, num_layers=2, bidirectional=bidirectional, seed=1, **kw).eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 2, 3)).astype(np.float32)
    y, sn = layer(x)
    outs = session(layer_to_onnx(layer)).run(None, {"x": x})
    for a, b in zip(outs, [y] + states(cell, sn)):
        close(a, b)
    # exported with initial state: initial_h (and initial_c) are inputs
    LD = 2 * (2 if bidirectional else 1)
    h0 = rng.standard_normal((LD, 2, 5)).astype(np.float32)
    c0 = rng.standard_normal((LD, 2, 5)).astype(np.float32)
    y, sn = layer(x, (h0, c0) if cell == "lstm" else h0)
    feeds = {"x": x, "initial_h": h0, **({"initial_c": c0} if cell == "lstm" else {})}
    outs = session(layer_to_onnx(layer, initial_state=True)).run(None, feeds)
    for a, b in zip(outs, [y] + states(cell, sn)):
        close(a, b)


def test_graph_uses_onnx_recurrent_ops():
    layer = rnnlab.LSTM(3, 4, num_layers=3, variant="coupled", seed=0)
    proto = layer_to_onnx(layer)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("LSTM") == 3
    assert proto.opset_import[0].version == OPSET >= 14
    lstm = next(n for n in proto.graph.node if n.op_type == "LSTM")
    assert {a.name: a.i for a in lstm.attribute}["input_forget"] == 1
    gru = layer_to_onnx(rnnlab.GRU(3, 4, seed=0))
    node = next(n for n in gru.graph.node if n.op_type == "GRU")
    assert {a.name: a.i for a in node.attribute}["linear_before_reset"] == 1


def _task_model(task, cell="lstm", embed=0, layers=2, **kw):
    sizes = {"text": (11, 11), "series": (3, 1), "music": (6, 6)}[task]
    cfg = ModelConfig(task=task, cell=cell, input_size=sizes[0], output_size=sizes[1], hidden=6,
                      layers=layers, embed=embed, seed=3, **kw)
    return SequenceModel(cfg).eval()


def _inputs(model, T=9, B=3, seed=0):
    rng = np.random.default_rng(seed)
    cfg = model.cfg
    if cfg.task == "text":
        return {"tokens": rng.integers(0, cfg.input_size, (T, B)).astype(np.int64)}
    if cfg.task == "music":
        return {"x": (rng.random((T, B, cfg.input_size)) < 0.3).astype(np.float32)}
    return {"x": rng.standard_normal((T, B, cfg.input_size)).astype(np.float32)}


@pytest.mark.parametrize("task,cell,embed,kw", [
    ("text", "lstm", 0, {}), ("text", "gru", 5, {}), ("text", "rnn", 0, {}),
    ("text", "lstm", 4, {"variant": "peephole"}), ("series", "gru", 0, {}),
    ("series", "lstm", 0, {"variant": "coupled"}), ("music", "lstm", 0, {}),
    ("music", "rnn", 0, {"nonlinearity": "relu"}),
    ("text", "lstm", 0, {"dtype": "float64"}),
])
def test_task_model_matches_onnxruntime(task, cell, embed, kw):
    model = _task_model(task, cell, embed, **kw)
    feeds = _inputs(model)
    inp = next(iter(feeds.values()))
    out, sn = model.forward(inp if task == "text" else inp.astype(model.dtype))
    proto = model_to_onnx(model, data_meta={"kind": task})
    outs = session(proto).run(None, feeds)
    names = [o.name for o in proto.graph.output]
    assert names[0] == ("predictions" if task == "series" else "logits")
    for a, b in zip(outs, [out] + states(cell, sn)):
        close(a, b.astype(np.float32))
    # with initial state, e.g. continuing a stream from a carried state
    sess = session(model_to_onnx(model, initial_state=True))
    feeds2 = _inputs(model, seed=1)
    inp2 = next(iter(feeds2.values()))
    out2, sn2 = model.forward(inp2 if task == "text" else inp2.astype(model.dtype), sn)
    feeds2["initial_h"] = states(cell, sn)[0].astype(np.float32)
    if cell == "lstm":
        feeds2["initial_c"] = sn[1].astype(np.float32)
    for a, b in zip(sess.run(None, feeds2), [out2] + states(cell, sn2)):
        close(a, b.astype(np.float32))


def test_bidirectional_multilayer_task_model():
    # ModelConfig is unidirectional; the exporter reads the structure from the layer itself
    model = _task_model("text", "gru", embed=0, layers=3)
    model.rnn = rnnlab.GRU(11, 6, num_layers=3, bidirectional=True, seed=5).eval()
    model.head = Linear(12, 11, seed=6)
    feeds = _inputs(model)
    out = model.head.forward(model.rnn(model.encode(feeds["tokens"]))[0])
    close(session(model_to_onnx(model)).run(None, feeds)[0], out)


def test_cli_export_text_run_with_vocab_metadata(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text("abcab cabba bacca " * 40)
    run = tmp_path / "run"
    rnnlab_train(data, run)
    path = tmp_path / "m.onnx"
    assert main(["export", str(run), "-o", str(path), "--initial-state"]) == 0
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    trained = rnnlab_load(run)
    assert json.loads(meta["rnnlab.data"]) == trained.meta
    assert json.loads(meta["rnnlab.model"])["cell"] == "lstm"
    ids = trained.vocab.encode("abcab cab").astype(np.int64)[:, None]
    logits, (h, c) = trained.model.forward(ids)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    zeros = np.zeros_like(h)
    got = sess.run(None, {"tokens": ids, "initial_h": zeros, "initial_c": zeros})
    for a, b in zip(got, (logits, h, c)):
        close(a, b)
    assert main(["export", str(run), "-o", str(tmp_path / "m.bin")]) == 2   # unknown format


def rnnlab_train(data, run, **kw):
    from rnnlab.training.api import train
    opts = dict(hidden=8, layers=2, steps=4, eval_every=2, batch=4, seq_len=8, progress=False,
                log=lambda m: None)
    opts.update(kw)
    return train(str(data), out=str(run), **opts)


def rnnlab_load(run):
    from rnnlab.training.load import load
    return load(str(run))


def test_export_api_accepts_run_path_and_layer(tmp_path):
    layer = rnnlab.RNN(2, 3, seed=0)
    export_onnx(layer, tmp_path / "l.onnx")
    assert onnx.load(str(tmp_path / "l.onnx")).graph.node[0].op_type == "RNN"


@pytest.mark.parametrize("kind", ["series", "music"])
def test_cli_export_series_and_music_runs(tmp_path, kind):
    if kind == "series":
        from rnnlab.data.series import generate_series, write_csv
        data = tmp_path / "s.csv"
        write_csv(data, {"load": generate_series("seasonal", 300),
                         "temp": np.sin(np.arange(300.0))})
        opts = dict(cell="gru", layers=1)
    else:
        data = tmp_path / "n.json"
        data.write_text(json.dumps({"train": [[[60, 64], [62], [], [67]] * 20,
                                              [[60], [64]] * 15]}))
        opts = dict(cell="lstm", layers=2, batch=2, head="bernoulli")   # nade: no export
    rnnlab_train(data, tmp_path / "run", **opts)
    path = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "run"), "-o", str(path)]) == 0
    trained = rnnlab_load(tmp_path / "run")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["rnnlab.data"]) == json.loads(json.dumps(trained.meta))
    x = np.random.default_rng(0).standard_normal((6, 2, trained.cfg.input_size)).astype(np.float32)
    out, state = trained.model.forward(x)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    for a, b in zip(got, [out] + states(trained.cfg.cell, state)):
        close(a, b)
