"""The task model's non-recurrent dropout (input_dropout on x, output_dropout on the top
layer's h): hand-written backward against centred finite differences in float64, with the
masks held fixed; evaluation mode and p = 0 leave the model untouched."""
import numpy as np
import pytest

from rnnlab.nn.backend import get_backend, set_backend
from rnnlab.tasks.model import ModelConfig, SequenceModel

EPS, TOL = 1e-6, 1e-6


@pytest.fixture(autouse=True)
def reference_backend():
    before = get_backend()
    set_backend("numpy")
    yield
    set_backend(before)


def _model(task, **kw):
    V = 5
    cfg = ModelConfig(task=task, cell="lstm", input_size=V, output_size=V, hidden=4, layers=2,
                      dropout=0.2, input_dropout=0.3, output_dropout=0.4, dtype="float64",
                      seed=3, **kw)
    return SequenceModel(cfg)


def _batch(task, rng, T=6, B=3, V=5):
    if task == "text":
        ids = rng.integers(0, V, (T + 1, B))
        return ids[:-1], ids[1:], None
    x = (rng.random((T, B, V)) < 0.4).astype(np.float64)
    y = (rng.random((T, B, V)) < 0.4).astype(np.float64)
    mask = np.ones((T, B))
    mask[4:, 0] = 0
    return x, y, mask


def _loss(model, rng_state, x, y, mask):
    """The loss under the masks that rng_state draws (every forward draws the same ones)."""
    model.rng.bit_generator.state = rng_state
    out, _ = model.forward(x)
    return model.loss(out, y, mask)


@pytest.mark.parametrize("task,embed", [("music", 0), ("text", 0), ("text", 3)])
def test_dropout_backward_matches_finite_differences(task, embed):
    rng = np.random.default_rng(0)
    model = _model(task, embed=embed).train()
    x, y, mask = _batch(task, rng)
    s0 = model.rng.bit_generator.state
    model.zero_grad()
    loss, dout = _loss(model, s0, x, y, mask)
    model.backward(dout)
    assert model._in_mask is not None and model._out_mask is not None
    assert (model._out_mask == 0).any()                 # something was dropped
    for name, p in model.params.items():
        flat, grad = p.reshape(-1), model.grads[name].reshape(-1)
        idx = rng.choice(flat.size, size=min(8, flat.size), replace=False)
        num = np.empty(len(idx))
        for k, i in enumerate(idx):
            keep = flat[i]
            flat[i] = keep + EPS
            up = _loss(model, s0, x, y, mask)[0]
            flat[i] = keep - EPS
            down = _loss(model, s0, x, y, mask)[0]
            flat[i] = keep
            num[k] = (up - down) / (2 * EPS)
        ana = grad[idx]
        rel = np.linalg.norm(ana - num) / max(1e-8, np.linalg.norm(ana) + np.linalg.norm(num))
        assert rel < TOL, (name, rel)


def test_masks_are_inverted_dropout_and_off_in_eval():
    model = _model("music").train()
    x, _, _ = _batch("music", np.random.default_rng(1), T=200, B=20)
    model.forward(x)
    m = model._out_mask
    assert set(np.unique(m)) == {0.0, 1 / 0.6}
    assert abs((m == 0).mean() - 0.4) < 0.02
    model.eval()
    a, _ = model.forward(x)
    b, _ = model.forward(x)
    assert model._in_mask is None and model._out_mask is None and np.array_equal(a, b)


def test_no_dropout_draws_nothing_from_the_generator():
    """p = 0: the generator is untouched, so runs saved before these options train alike."""
    cfg = ModelConfig(task="music", input_size=5, output_size=5, hidden=4, layers=1,
                      dtype="float64")
    model = SequenceModel(cfg).train()
    before = model.rng.bit_generator.state
    model.forward(np.ones((3, 2, 5)))
    assert model.rng.bit_generator.state == before and model._out_mask is None


@pytest.mark.parametrize("bad", [{"input_dropout": 1.0}, {"output_dropout": -0.1}])
def test_bad_probability_is_one_line(bad):
    from rnnlab.errors import RnnlabError
    with pytest.raises(RnnlabError, match="must be in \\[0, 1\\)"):
        ModelConfig(layers=1, task="music", input_size=5, output_size=5, **bad).validate()
