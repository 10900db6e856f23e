"""The torch twins of the configurations torch's own layers lack (rnnlab/interop/torch_lstm.py:
the LSTM's layer_norm, zoneout, recurrent_dropout, with or without proj_size; torch_rnn.py:
the RNN's and GRU's recurrent dropout) against rnnlab's layers with the same weights.

Forward and backward (y, the final state, dx, the initial state's gradient and every parameter
gradient) agree in float64 within 1e-9: in evaluation, and in training with the same masks
(rnnlab's call_options and the twin's masks replaced by the same fixed arrays). Then the
SequenceModel twin that build_twin makes for a run with these options, and the way back.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rnnlab  # noqa: E402
from rnnlab.interop.torch import build_twin, import_torch, torch_state_dict  # noqa: E402
from rnnlab.interop.torch_lstm import LSTMTwin  # noqa: E402
from rnnlab.interop.torch_rnn import GRUTwin, RNNTwin  # noqa: E402
from rnnlab.training.run_folder import RunFolder  # noqa: E402
from rnnlab.tasks.model import ModelConfig, SequenceModel  # noqa: E402

from engine_helpers import loss_weights, random_state  # noqa: E402

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")
TOL = dict(rtol=1e-9, atol=1e-9)
D, H = 3, 5

KINDS = {  # id -> (rnnlab class, twin class, options)
    "lstm_ln": (rnnlab.LSTM, LSTMTwin, {"layer_norm": True}),
    "lstm_zoneout": (rnnlab.LSTM, LSTMTwin, {"zoneout": (0.3, 0.2)}),
    "lstm_rdrop": (rnnlab.LSTM, LSTMTwin, {"recurrent_dropout": 0.4}),
    "lstm_all": (rnnlab.LSTM, LSTMTwin, {"proj_size": 3, "layer_norm": True,
                                         "zoneout": (0.25, 0.4), "recurrent_dropout": 0.3}),
    "rnn_rdrop": (rnnlab.RNN, RNNTwin, {"recurrent_dropout": 0.4}),
    "rnn_relu_rdrop": (rnnlab.RNN, RNNTwin, {"nonlinearity": "relu", "recurrent_dropout": 0.4}),
    "gru_rdrop": (rnnlab.GRU, GRUTwin, {"recurrent_dropout": 0.4}),
}
CONFIGS = {  # id -> (layer options, T, B, give state, lengths, unbatched)
    "stacked_bidir_state": (dict(num_layers=2, bidirectional=True), 5, 3, True, None, False),
    "lengths_bidir": (dict(num_layers=2, bidirectional=True), 5, 3, False, [5, 2, 4], False),
    "batch_first_state_lengths": (dict(batch_first=True), 5, 3, True, [3, 5, 1], False),
    "no_bias": (dict(bias=False, num_layers=2), 4, 2, True, None, False),
    "unbatched": (dict(num_layers=2), 4, None, True, None, True),
}


def pair(kind, cfg_opts, seed=0):
    rcls, tcls, opts = KINDS[kind]
    layer = rcls(D, H, dtype=np.float64, seed=seed, **opts, **cfg_opts)
    rng = np.random.default_rng(seed + 1)                  # gains and biases away from 1, 0
    for k, v in layer.params.items():
        if k.startswith("ln_"):
            v += 0.5 * rng.standard_normal(v.shape)
    twin = tcls(D, H, dtype=torch.float64, **opts, **cfg_opts)
    twin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in layer.state_dict().items()})
    return layer, twin


def fix_masks(layer, twin, T, B, rng):
    """Draw one set of training masks and hand the same arrays to both sides."""
    R, drawn = layer.state_shapes()["h"][0], {}
    for k in range(layer.num_layers):
        for d in range(layer.num_directions):
            rmask = (rng.random((B, R)) >= 0.4) / 0.6
            keep = ((rng.random((T, B, H)) < 0.3) * 1.0, (rng.random((T, B, R)) < 0.5) * 1.0)
            drawn[(k, d)] = (rmask, keep)

    zoneout = any(getattr(layer, "zoneout", ()))

    def ours(k, d, T_, B_):
        rmask, keep = drawn[(k, d)]
        opts = dict(layer.cell_options(), recurrent_mask=rmask)
        if zoneout:
            opts["zoneout"] = keep
        return opts

    def theirs(k, d, T_, B_, like):
        rmask, keep = drawn[(k, d)]
        return {"recurrent": torch.from_numpy(rmask),
                "zoneout": tuple(torch.from_numpy(a) for a in keep) if zoneout else (0.0, 0.0)}
    layer.call_options, twin.masks = ours, theirs


def run_both(layer, twin, x, state, lengths, seed=0):
    y, sn = layer(x, state, lengths)
    R, W = loss_weights(y, sn, np.random.default_rng(seed), np.float64)
    layer.zero_grad()
    dx, ds0 = layer.backward(R, W)
    xt = torch.tensor(x, requires_grad=True)
    parts = state if isinstance(state, tuple) else (state,)
    st = tuple(torch.tensor(s, requires_grad=True) for s in parts) if state is not None else None
    ty, tsn = twin(xt, (st if len(parts) > 1 else st[0]) if st is not None else None,
                   None if lengths is None else torch.tensor(lengths))
    tsn = tsn if isinstance(tsn, tuple) else (tsn,)
    Ws = W if isinstance(W, tuple) else (W,)
    loss = (ty * torch.from_numpy(R)).sum() + sum((s * torch.from_numpy(w)).sum()
                                                  for s, w in zip(tsn, Ws))
    loss.backward()
    np.testing.assert_allclose(ty.detach().numpy(), y, err_msg="y", **TOL)
    for a, b in zip(sn if isinstance(sn, tuple) else (sn,), tsn):
        np.testing.assert_allclose(b.detach().numpy(), a, err_msg="state_n", **TOL)
    np.testing.assert_allclose(xt.grad.numpy(), dx, err_msg="dx", **TOL)
    if st is not None:
        for a, b in zip(ds0 if isinstance(ds0, tuple) else (ds0,), st):
            np.testing.assert_allclose(b.grad.numpy(), a, err_msg="dstate0", **TOL)
    grads = {k: p.grad for k, p in twin.named_parameters()}
    assert set(grads) == set(layer.grads)
    for k, g in grads.items():
        assert np.abs(layer.grads[k]).max() > 0, k
        np.testing.assert_allclose(g.numpy(), layer.grads[k], err_msg=k, **TOL)


@pytest.mark.parametrize("mode", ["eval", "train_same_masks"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_twin_matches_rnnlab_forward_and_backward(kind, config, mode):
    cfg_opts, T, B, give_state, lengths, unbatched = CONFIGS[config]
    layer, twin = pair(kind, cfg_opts)
    rng = np.random.default_rng(3)
    if mode == "eval":
        layer.eval(), twin.eval()
    else:
        fix_masks(layer, twin, T, 1 if unbatched else B, rng)
    xs = (T, D) if unbatched else ((B, T, D) if layer.batch_first else (T, B, D))
    x = rng.standard_normal(xs)
    state = random_state(layer, B, rng, unbatched=unbatched) if give_state else None
    run_both(layer, twin, x, state, None if lengths is None else np.array(lengths))


def test_twin_draws_its_own_masks_in_training():
    torch.manual_seed(0)         # the masks and x are drawn from torch's global generator
    twin = LSTMTwin(D, 8, zoneout=(0.3, 0.6), recurrent_dropout=0.5, dtype=torch.float64)
    masks = twin.masks(0, 0, 200, 50, torch.zeros(1, dtype=torch.float64))
    kc, kh = masks["zoneout"]
    assert abs(float(kc.mean()) - 0.3) < 0.01 and abs(float(kh.mean()) - 0.6) < 0.01
    assert set(torch.unique(masks["recurrent"]).tolist()) == {0.0, 2.0}
    x = torch.randn(6, 2, D, dtype=torch.float64)
    y1, _ = twin(x)
    y2, _ = twin(x)
    assert (y1 - y2).abs().max() > 1e-3
    twin.eval()
    torch.testing.assert_close(twin(x)[0], twin(x)[0], rtol=0, atol=0)
    assert twin.eval().masks(0, 0, 3, 2, x)["recurrent"] is None


def test_twin_initialises_as_rnnlab():
    twin = LSTMTwin(D, H, num_layers=2, bidirectional=True, proj_size=2, layer_norm=True)
    layer = rnnlab.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2, layer_norm=True)
    assert [(k, tuple(v.shape)) for k, v in twin.state_dict().items()] == \
        [(k, v.shape) for k, v in layer.params.items()]
    for k, v in twin.state_dict().items():
        if k.startswith("ln_"):
            assert torch.all(v == (1.0 if "_weight" in k else 0.0)), k
        else:
            assert float(v.abs().max()) <= 1 / np.sqrt(H)


# ------------------------------------------------------------------ build_twin for a run
RUNS = [("lstm", {"proj_size": 3}, "LSTM"),                      # torch's own nn.LSTM
        ("lstm", {"proj_size": 3, "layer_norm": True, "zoneout": [0.1, 0.05],
                  "recurrent_dropout": 0.25}, "LSTMTwin"),
        ("lstm", {"recurrent_dropout": 0.25}, "LSTMTwin"),
        ("gru", {"recurrent_dropout": 0.25}, "GRUTwin"),
        ("rnn", {}, "RNN")]


@pytest.mark.parametrize("cell,options,expected", RUNS)
def test_build_twin_for_a_run_with_options_and_import_back(tmp_path, cell, options, expected):
    cfg = ModelConfig(task="text", cell=cell, input_size=9, output_size=9, hidden=7, layers=2,
                      embed=4, seed=1, cell_options=options)
    model = SequenceModel(cfg).eval()
    run = RunFolder(tmp_path / "src").create()
    run.write_config({"model": cfg.to_json(), "train": {}, "data": {"kind": "text"}})
    twin = build_twin(run.path)
    assert type(twin.rnn).__name__ == expected
    twin.load_state_dict(torch_state_dict(model))                     # strict: names and shapes
    twin.eval()
    ids = np.random.default_rng(0).integers(0, 9, (8, 3)).astype(np.int64)
    out, state = model.forward(ids)
    with torch.no_grad():
        t_out, t_state = twin(torch.from_numpy(ids))
    np.testing.assert_allclose(t_out.numpy(), out, atol=1e-5, rtol=1e-5)
    for a, b in zip(state if isinstance(state, tuple) else (state,),
                    t_state if isinstance(t_state, tuple) else (t_state,)):
        np.testing.assert_allclose(b.numpy(), a, atol=1e-5, rtol=1e-5)
    # train in torch (a step of SGD), bring the weights back, evaluate with rnnlab
    twin.train()
    loss = twin.loss(twin(torch.from_numpy(ids))[0], torch.from_numpy(ids))
    loss.backward()
    with torch.no_grad():
        for p in twin.parameters():
            p -= 0.1 * p.grad
    torch.save(twin.state_dict(), tmp_path / "w.pt")
    back = import_torch(tmp_path / "w.pt", run.path, tmp_path / "back")
    imported = SequenceModel(cfg)
    imported.load_state_dict(back.load_weights("model"))
    with torch.no_grad():
        t_out, _ = twin.eval()(torch.from_numpy(ids))
    np.testing.assert_allclose(imported.eval().forward(ids)[0], t_out.numpy(), atol=1e-5, rtol=1e-5)
