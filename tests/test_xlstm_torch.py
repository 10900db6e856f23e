"""The sLSTM's and mLSTM's torch twins (rnnlab.interop.torch_xlstm; torch has no such layers)
against rnnlab, forward and backward in float64 (autograd through the twin against rnnlab's
hand-written backward), and through rnnlab.torch.build_twin, export and import."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnlab.interop.torch import build_twin, import_torch, torch_state_dict  # noqa: E402
from rnnlab.interop.torch_xlstm import twin_layer  # noqa: E402
from rnnlab.nn import registry  # noqa: E402
from rnnlab.training.run_folder import RunFolder  # noqa: E402
from rnnlab.tasks.model import ModelConfig, SequenceModel  # noqa: E402

from engine_helpers import loss_weights, random_state, rel_err, state_list  # noqa: E402

EXACT = 1e-12
# The exponential forget gate with a forget bias of 1.5 has f > 1: the memory grows, exp(-m_t)
# becomes tiny, and the read-out h~ = C q / max(|n.q|, exp(-m)) divides by a dot product that
# can cancel. Rounding differences between rnnlab's parallel form and the twin's then grow by
# sum|n_i q_i| / |n.q|: over 150 weight draws the worst relative error was 1.8e-11 (median
# 2.5e-14), where the sigmoid-gated cases stay below 1e-15. A wrong backward is off by O(1).
ILL_CONDITIONED = 1e-10
CASES = [("slstm", {}), ("slstm", {"num_heads": 3, "forget_gate": "exp"}),
         ("mlstm", {}), ("mlstm", {"num_heads": 2, "mode": "recurrent"}),
         ("mlstm", {"num_heads": 3, "forget_gate": "exp", "forget_bias": 1.5})]
IDS = [c + "".join(f"-{v}" for v in o.values()) for c, o in CASES]


@pytest.mark.parametrize("cell,opts", CASES, ids=IDS)
@pytest.mark.parametrize("with_state", [False, True])
def test_twin_equals_rnnlab_forward_and_backward(cell, opts, with_state):
    # a fixed seed: the weights (drawn by rnnlab's layer) are the same on every run
    twin = twin_layer(cell, 4, 6, num_layers=2, bidirectional=True, dtype=torch.float64, seed=0,
                      **opts)
    tol = ILL_CONDITIONED if opts.get("forget_gate") == "exp" and cell == "mlstm" else EXACT
    layer = registry.get(cell).layer(4, 6, num_layers=2, bidirectional=True, dtype=np.float64,
                                     **opts)
    assert set(twin.state_dict()) == set(layer.params)
    for k, v in twin.state_dict().items():        # the same init: drawn by rnnlab's layer
        assert v.shape == layer.params[k].shape
    layer.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3, 4))
    state = random_state(layer, 3, rng) if with_state else None
    y, sn = layer(x, state)
    R, W = loss_weights(y, sn, rng, np.float64)
    dx, ds0 = layer.backward(R, W)

    xt = torch.tensor(x, requires_grad=True)
    st = None if state is None else tuple(torch.tensor(s, requires_grad=True)
                                          for s in state_list(state))
    yt, snt = twin(xt, st)
    loss = (yt * torch.tensor(R)).sum() + sum((a * torch.tensor(b)).sum()
                                              for a, b in zip(snt, state_list(W)))
    loss.backward()
    assert rel_err(yt.detach().numpy(), y) < tol
    for a, b in zip(snt, state_list(sn)):
        assert rel_err(a.detach().numpy(), b) < tol
    assert rel_err(xt.grad.numpy(), dx) < tol
    if st is not None:
        for a, b in zip(st, state_list(ds0)):
            assert rel_err(a.grad.numpy(), b) < tol
    for name, p in twin.named_parameters():
        assert rel_err(p.grad.numpy(), layer.grads[name]) < tol, name


def test_twin_dropout_between_layers_follows_train_and_eval():
    twin = twin_layer("slstm", 3, 4, num_layers=2, dropout=0.5, dtype=torch.float64, seed=0)
    x = torch.randn(5, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    twin.eval()
    a, b = twin(x)[0], twin(x)[0]
    assert torch.equal(a, b)
    twin.train()
    assert not torch.allclose(twin(x)[0], a)


@pytest.mark.parametrize("cell,cell_options", [("slstm", {"num_heads": 7}),
                                               ("mlstm", {"mode": "recurrent"}),
                                               ("mlstm", {"num_heads": 7, "forget_gate": "exp"})])
def test_build_twin_export_and_import(tmp_path, cell, cell_options):
    """A task model's twin (build_twin) computes what rnnlab computes, and weights trained in
    torch come back through import_torch."""
    cfg = ModelConfig(task="text", cell=cell, input_size=9, output_size=9, hidden=7, layers=2,
                      embed=5, seed=1, dtype="float64", cell_options=cell_options)
    model = SequenceModel(cfg).eval()
    twin = build_twin(cfg)
    twin.load_state_dict(torch_state_dict(model))
    twin.eval()
    ids = np.random.default_rng(0).integers(0, 9, (6, 3)).astype(np.int64)
    out, state = model.forward(ids)
    with torch.no_grad():
        t_out, t_state = twin(torch.from_numpy(ids))
    assert rel_err(t_out.numpy(), out) < EXACT
    for a, b in zip(t_state, state_list(state)):
        assert rel_err(a.numpy(), b) < EXACT
    run = RunFolder(tmp_path / "src").create()
    run.write_config({"model": cfg.to_json(), "train": {}, "data": {"kind": "text"}})
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(0.01)
    torch.save(twin.state_dict(), tmp_path / "w.pt")
    new = import_torch(tmp_path / "w.pt", run.path, tmp_path / "new")
    back = SequenceModel(cfg)
    back.load_state_dict(new.load_weights("model"))
    out2, _ = back.eval().forward(ids)
    with torch.no_grad():
        t_out2, _ = twin(torch.from_numpy(ids))
    assert rel_err(t_out2.numpy(), out2) < EXACT
