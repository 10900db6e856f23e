"""optim.py against torch.optim in float64."""
import json

import numpy as np
import pytest
import torch

from rnnlab.errors import RnnlabError
from rnnlab.nn.optim import (LRSchedule, clip_grad_norm, grads_finite, lr_schedule,
                          make_optimizer)

SHAPES = {"w": (3, 4), "b": (4,)}

CASES = [
    ("sgd", dict(), torch.optim.SGD, dict()),
    ("sgd", dict(weight_decay=0.1), torch.optim.SGD, dict(weight_decay=0.1)),
    ("momentum", dict(momentum=0.8), torch.optim.SGD, dict(momentum=0.8)),
    ("momentum", dict(momentum=0.9, nesterov=True, weight_decay=0.01), torch.optim.SGD,
     dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adagrad", dict(), torch.optim.Adagrad, dict()),
    ("adagrad", dict(eps=1e-6, weight_decay=0.05), torch.optim.Adagrad,
     dict(eps=1e-6, weight_decay=0.05)),
    ("rmsprop", dict(), torch.optim.RMSprop, dict()),
    ("rmsprop", dict(alpha=0.9, eps=1e-6, weight_decay=0.02), torch.optim.RMSprop,
     dict(alpha=0.9, eps=1e-6, weight_decay=0.02)),
    ("adam", dict(), torch.optim.Adam, dict()),
    ("adam", dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), torch.optim.Adam,
     dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
]


def random_params(seed):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def grad_sequence(n, seed):
    rng = np.random.default_rng(seed)
    return [{k: rng.standard_normal(s) for k, s in SHAPES.items()} for _ in range(n)]


def torch_run(params, grads_seq, tcls, tkw, lr):
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = tcls(list(tp.values()), lr=lr, **tkw)
    for grads in grads_seq:
        for k, t in tp.items():
            t.grad = torch.tensor(grads[k])
        opt.step()
    return {k: t.detach().numpy() for k, t in tp.items()}


@pytest.mark.parametrize("name,kw,tcls,tkw", CASES)
def test_five_steps_match_torch(name, kw, tcls, tkw):
    params = random_params(0)
    grads_seq = grad_sequence(5, 1)
    expected = torch_run(params, grads_seq, tcls, tkw, lr=0.05)
    ours = {k: v.copy() for k, v in params.items()}
    refs = dict(ours)
    opt = make_optimizer(name, ours, 0.05, **kw)
    for grads in grads_seq:
        opt.step(grads)
    for k in SHAPES:
        assert ours[k] is refs[k]  # updated in place
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-12, atol=1e-12)
        assert not np.allclose(ours[k], params[k])


@pytest.mark.parametrize("name,kw,tcls,tkw", CASES)
def test_state_dict_round_trip_continues_identically(name, kw, tcls, tkw):
    grads_seq = grad_sequence(6, 2)
    a = random_params(3)
    opt_a = make_optimizer(name, a, 0.03, **kw)
    for g in grads_seq[:3]:
        opt_a.step(g)
    arrays, meta = opt_a.state_dict()
    meta = json.loads(json.dumps(meta))  # must survive JSON
    b = {k: v.copy() for k, v in a.items()}
    opt_b = make_optimizer(name, b, 0.03, **kw)
    opt_b.load_state_dict(arrays, meta)
    assert opt_b.step_count == 3
    for g in grads_seq[3:]:
        opt_a.step(g)
        opt_b.step(g)
    for k in SHAPES:
        np.testing.assert_array_equal(a[k], b[k])


def test_load_state_dict_errors():
    p = random_params(0)
    adam = make_optimizer("adam", p, 0.1)
    arrays, meta = adam.state_dict()
    with pytest.raises(RnnlabError, match="'adam'.*'rmsprop'"):
        make_optimizer("rmsprop", p, 0.1).load_state_dict(arrays, meta)
    with pytest.raises(RnnlabError, match="lacks 'exp_avg/w'"):
        adam.load_state_dict({k: v for k, v in arrays.items() if k != "exp_avg/w"}, meta)
    bad = dict(arrays, **{"exp_avg/w": np.zeros((2, 2))})
    with pytest.raises(RnnlabError, match=r"shape \(2, 2\), expected \(3, 4\)"):
        adam.load_state_dict(bad, meta)


def test_lr_attribute_is_used_by_step():
    p = {"w": np.ones(2)}
    opt = make_optimizer("sgd", p, 1.0)
    opt.lr = 0.5
    opt.step({"w": np.ones(2)})
    np.testing.assert_array_equal(p["w"], [0.5, 0.5])


def test_factory_and_step_errors():
    p = random_params(0)
    with pytest.raises(RnnlabError, match="unknown optimizer 'adamw'"):
        make_optimizer("adamw", p, 0.1)
    for lr in (0, -1.0, float("nan")):
        with pytest.raises(RnnlabError, match="lr must be a positive number"):
            make_optimizer("adam", p, lr)
    opt = make_optimizer("sgd", p, 0.1)
    with pytest.raises(RnnlabError, match="grads lack 'b'"):
        opt.step({"w": np.zeros((3, 4))})
    with pytest.raises(RnnlabError, match=r"grad 'b' has shape \(5,\), expected \(4,\)"):
        opt.step({"w": np.zeros((3, 4)), "b": np.zeros(5)})


def test_lr_schedules():
    assert lr_schedule("constant", 0.1, 1000) == 0.1
    assert lr_schedule("step", 1.0, 9, decay_rate=0.5, decay_every=10) == 1.0
    assert lr_schedule("step", 1.0, 25, decay_rate=0.5, decay_every=10) == 0.25
    assert abs(lr_schedule("exponential", 1.0, 15, 0.5, 10) - 0.5 ** 1.5) < 1e-15
    assert lr_schedule("step", 1.0, 0, 0.5, 10, warmup=4) == 0.25
    assert lr_schedule("step", 1.0, 3, 0.5, 10, warmup=4) == 1.0
    assert lr_schedule("step", 1.0, 14, 0.5, 10, warmup=4) == 0.5
    p = {"w": np.ones(1)}
    opt = make_optimizer("sgd", p, 1.0)
    sched = LRSchedule("exponential", 2.0, decay_rate=0.5, decay_every=1)
    opt.step({"w": np.zeros(1)})
    assert sched.apply(opt) == 1.0 and opt.lr == 1.0
    with pytest.raises(RnnlabError, match="unknown lr schedule"):
        lr_schedule("cosine", 1.0, 0)
    with pytest.raises(RnnlabError, match="decay_rate"):
        LRSchedule("step", 1.0, decay_rate=2.0)


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_vs_torch(max_norm):
    grads = grad_sequence(1, 4)[0]
    tg = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES.values()]
    for t, k in zip(tg, SHAPES):
        t.grad = torch.tensor(grads[k])
    tnorm = torch.nn.utils.clip_grad_norm_(tg, max_norm)
    norm = clip_grad_norm(grads, max_norm)
    assert abs(norm - tnorm.item()) < 1e-12
    for t, k in zip(tg, SHAPES):
        np.testing.assert_allclose(grads[k], t.grad.numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(RnnlabError, match="max_norm"):
        clip_grad_norm(grads, 0)


def test_grads_finite():
    grads = {"a": np.ones(3), "b": np.ones(2), "c": np.ones(1)}
    assert grads_finite(grads) is None
    grads["c"][0] = np.inf
    grads["b"][1] = np.nan
    assert grads_finite(grads) == "b"
