"""PyTorch interop: state dict export, the nn.Module twin, import back; both directions 1e-5."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab.app.cli import main  # noqa: E402
from rnnlab.errors import RnnlabError  # noqa: E402
from rnnlab.training.load import load  # noqa: E402
from rnnlab.interop.torch import (build_twin, export_torch, import_torch,  # noqa: E402
                                  load_torch_weights, torch_state_dict)
from rnnlab.tasks.model import ModelConfig, SequenceModel  # noqa: E402
from rnnlab.training.run_folder import RunFolder  # noqa: E402

CASES = [("text", "lstm", 0, {}), ("text", "gru", 5, {}), ("text", "rnn", 4, {"nonlinearity": "relu"}),
         ("series", "lstm", 0, {}), ("series", "rnn", 0, {}), ("music", "gru", 0, {}),
         ("text", "lstm", 3, {"dtype": "float64"})]


def make_model(task, cell, embed, kw, layers=2):
    sizes = {"text": (9, 9), "series": (3, 1), "music": (5, 5)}[task]
    cfg = ModelConfig(task=task, cell=cell, input_size=sizes[0], output_size=sizes[1], hidden=7,
                      layers=layers, embed=embed, seed=1, **kw)
    return SequenceModel(cfg).eval()


def inputs(model, T=8, B=3):
    rng = np.random.default_rng(0)
    if model.cfg.task == "text":
        return rng.integers(0, model.cfg.input_size, (T, B)).astype(np.int64)
    return rng.standard_normal((T, B, model.cfg.input_size)).astype(model.dtype)


def as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


def assert_same(rn_out, rn_state, tw_out, tw_state):
    np.testing.assert_allclose(tw_out.detach().numpy(), rn_out, atol=1e-5, rtol=1e-5)
    for a, b in zip(as_list(rn_state), as_list(tw_state)):
        np.testing.assert_allclose(b.detach().numpy(), a, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("task,cell,embed,kw", CASES)
def test_rnnlab_to_torch_twin(task, cell, embed, kw):
    model = make_model(task, cell, embed, kw)
    twin = build_twin(model.cfg)
    twin.load_state_dict(torch_state_dict(model))       # strict: names and shapes match
    twin.eval()
    x = inputs(model)
    out, state = model.forward(x)
    with torch.no_grad():
        t_out, t_state = twin(torch.from_numpy(x))
    assert_same(out, state, t_out, t_state)


@pytest.mark.parametrize("task,cell,embed,kw", CASES)
def test_torch_to_rnnlab_import(tmp_path, task, cell, embed, kw):
    model = make_model(task, cell, embed, kw)
    run = RunFolder(tmp_path / "src").create()
    run.write_config({"model": model.cfg.to_json(), "train": {}, "data": {"kind": task}})
    twin = build_twin(run.path)
    torch.manual_seed(0)
    for p in twin.parameters():                            # torch's own weights, not ours
        torch.nn.init.uniform_(p, -0.5, 0.5)
    torch.save(twin.state_dict(), tmp_path / "w.pt")
    new = import_torch(tmp_path / "w.pt", run.path, tmp_path / "new")
    imported = SequenceModel(model.cfg)
    imported.load_state_dict(new.load_weights("model"))
    imported.eval()
    x = inputs(model)
    out, state = imported.forward(x)
    with torch.no_grad():
        t_out, t_state = twin.eval()(torch.from_numpy(x))
    assert_same(out, state, t_out, t_state)


def test_variants_without_torch_layer_are_refused():
    for variant in ("peephole", "coupled"):
        cfg = ModelConfig(layers=1, task="text", cell="lstm", variant=variant, input_size=4, output_size=4,
                          hidden=3)
        with pytest.raises(RnnlabError, match="no PyTorch layer"):
            build_twin(cfg)


def _train(tmp_path):
    from rnnlab.training.api import train
    data = tmp_path / "t.txt"
    data.write_text("hello world, hello torch. " * 60)
    run = tmp_path / "run"
    train(str(data), out=str(run), hidden=8, layers=2, steps=4, eval_every=2, batch=4, seq_len=8,
          cell="gru", embed=4, progress=False, log=lambda m: None)
    return data, run


def test_cli_export_import_round_trip(tmp_path):
    data, run = _train(tmp_path)
    pt = tmp_path / "m.pt"
    assert main(["export", str(run), "--format", "torch", "-o", str(pt)]) == 0
    sd = torch.load(pt, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    assert set(sd) == set(load(str(run)).model.params)
    twin = build_twin(str(run), weights=True)
    twin.load_state_dict(sd)
    # change the weights in torch, bring them back, evaluate with rnnlab
    with torch.no_grad():
        twin.head.bias.add_(0.25)
    torch.save({f"module.{k}": v for k, v in twin.state_dict().items()}, pt)   # as from DDP
    assert main(["import", str(pt), "--config", str(run / "config.json"),
                 "--out", str(tmp_path / "back")]) == 0
    back = load(str(tmp_path / "back"))
    np.testing.assert_allclose(back.model.params["head.bias"],
                               twin.head.bias.detach().numpy(), atol=0)
    ids = back.vocab.encode(data.read_text()[:50]).astype(np.int64)[:, None]
    out, _ = back.model.forward(ids)
    with torch.no_grad():
        t_out, _ = twin.eval()(torch.from_numpy(ids))
    np.testing.assert_allclose(t_out.numpy(), out, atol=1e-5, rtol=1e-5)
    # an existing folder is not overwritten
    assert main(["import", str(pt), "--config", str(run), "--out", str(tmp_path / "back")]) == 2


def test_import_refuses_bad_weights(tmp_path):
    data, run = _train(tmp_path)
    good = torch_state_dict(load(str(run)))
    cases = {
        "missing": {k: v for k, v in list(good.items())[1:]},
        "shape": {**good, "head.bias": torch.zeros(3)},
        "nan": {**good, "head.bias": torch.full_like(good["head.bias"], float("nan"))},
        "ints": {**good, "head.bias": torch.zeros_like(good["head.bias"], dtype=torch.int64)},
        "list": [1, 2, 3],
    }
    for name, obj in cases.items():
        torch.save(obj, tmp_path / f"{name}.pt")
        with pytest.raises(RnnlabError):
            import_torch(tmp_path / f"{name}.pt", run, tmp_path / f"out-{name}")
        assert not (tmp_path / f"out-{name}").exists()
    (tmp_path / "junk.pt").write_bytes(b"\x00junk" * 10)
    with pytest.raises(RnnlabError, match="not a plain PyTorch state dict"):
        load_torch_weights(tmp_path / "junk.pt")


def test_export_torch_api_float64(tmp_path):
    model = make_model("series", "lstm", 0, {"dtype": "float64"})
    export_torch(model, tmp_path / "m.pt")
    sd = torch.load(tmp_path / "m.pt", weights_only=True)
    assert sd["rnn.weight_ih_l0"].dtype == torch.float64
    assert np.array_equal(sd["head.weight"].numpy(), model.params["head.weight"])
