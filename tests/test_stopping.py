"""The stopping rule (rnnlab.training.stopping): the rule printed from the numbers it uses, early
stopping with a min-delta (never float equality), --patience refused without a validation
part, the time budget's decisions on a fake clock (nothing here is timed), the bounded
validation sample, an exact resume with patience, and signals in ensemble members."""
import json
import os
import signal

import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.training.run_folder import RunFolder, load_tensors
from rnnlab.training.stopping import PATIENCE, Budget, improves, stop_rule
from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.tasks.text import TextTask
from rnnlab.data.text import Vocab
from rnnlab.training.api import TrainConfig, train
from rnnlab.training.hooks import train_member
from rnnlab.training.trainer import Trainer


class FakeClock:
    """Seconds that pass only when the fake task says work was done."""
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Scripted:
    """A Task whose steps and validations take scripted (fake) seconds and whose sampled
    validation losses are scripted; the full validation returns FULL."""
    kind, carries_state, batches_per_epoch, tokens_per_batch = "text", False, 10, 100
    FULL = 0.25

    def __init__(self, losses=(), clock=None, step_s=(1.0,), eval_s=0.6, full_s=6.0,
                 size=1000):
        self.losses, self.clock, self.step_s = list(losses), clock or FakeClock(), list(step_s)
        self.eval_s, self.full_s, self.validation_size = eval_s, full_s, size
        self.limits = []

    def batch(self, k):
        self.clock.now += self.step_s[min(k, len(self.step_s) - 1)]
        x = np.random.default_rng(k).integers(0, 4, (3, 2))
        return x, np.roll(x, 1, 0), None

    def validation_loss(self, model, limit=None):
        self.limits.append(limit)
        self.clock.now += self.eval_s if limit else self.full_s
        if limit is None:
            return self.FULL
        return self.losses.pop(0) if self.losses else 1.0

    def default_steps(self):
        return 100, "100 steps for this test"

    def meta(self):
        return {}


def trainer(task, **cfg):
    model = SequenceModel(ModelConfig(task="text", cell="rnn", input_size=4, output_size=4,
                                      hidden=3, layers=1))
    tcfg = TrainConfig(backend="numpy", lr=0.01, val_sample=100, **cfg).validate()
    return Trainer(model, task, tcfg, log=lambda m: None, clock=task.clock)


# ----- the rule and its sentence ------------------------------------------------------------
def test_the_rule_is_built_and_said_from_its_numbers():
    task = Scripted()
    r = stop_rule(TrainConfig(eval_every=50), task)
    assert (r.total, r.patience, r.eval_every, r.set_by) == (100, PATIENCE, 50, "default")
    assert f"for {PATIENCE} validations in a row ({PATIENCE * 50:,} steps at --eval-every 50)" \
        in r.text and "at most 100 steps: 100 steps for this test" in r.text
    r = stop_rule(TrainConfig(steps=7), task)                  # --steps overrides: no patience
    assert (r.total, r.patience, r.text) == (7, 0, "7 steps (--steps)")
    r = stop_rule(TrainConfig(steps=7, patience=3, eval_every=2), task)
    assert r.patience == 3 and r.text.startswith("7 steps (--steps), or sooner: stop when")
    assert "(6 steps at --eval-every 2) (--patience 3)" in r.text
    r = stop_rule(TrainConfig(time_budget=30), task)
    assert (r.total, r.patience, r.set_by) == (None, 0, "--time-budget")
    assert r.text.startswith("--time-budget 30 s (wall clock from the start, compilation")
    r = stop_rule(TrainConfig(patience=0), task)
    assert r.patience == 0 and r.text.startswith("a fixed 100 steps") and "--patience 0" in r.text
    task.validation_size = 0                                   # no validation part
    r = stop_rule(TrainConfig(), task)
    assert r.patience == 0 and "no validation part, so no early stopping" in r.text
    with pytest.raises(RnnlabError, match=r"^--patience 4 needs a validation part"):
        stop_rule(TrainConfig(patience=4), task)


def test_improvement_needs_more_than_the_min_delta():
    assert improves(1.0, None) and improves(0.998, 1.0)
    assert not improves(1.0, 1.0)                      # equal is not better
    assert not improves(0.9995, 1.0)                   # 0.05%: below the 0.1% min-delta
    assert improves(-1e-7, 0.0) and not improves(-1e-9, 0.0)


def test_patience_counts_validations_without_a_real_improvement():
    # e3 is a new best (its weights are kept) but not an improvement; e4 is; e5-e7 are not
    task = Scripted([1.0, 0.9, 0.8995, 0.85, 0.86, 0.85, 0.85])
    t = trainer(task, eval_every=1, patience=3)
    res = t.fit(progress=False)
    assert (res.stopped, res.steps, res.best_val_loss, t.best_step) == ("early stopping", 7,
                                                                         0.85, 4)
    assert res.full_val_loss == Scripted.FULL and task.limits == [100] * 7 + [None]
    # the same losses without a min-delta would have reset the count at e6 (equal to best)
    assert [r["val_loss"] for r in res.history] == [1.0, 0.9, 0.8995, 0.85, 0.86, 0.85, 0.85]


# ----- the time budget, on a fake clock ---------------------------------------------------
@pytest.mark.parametrize("eval_every", [5, 1000])
def test_the_budget_keeps_time_for_the_final_validation(eval_every):
    # steps 1 s for 100 model steps; validation costs 0.6 of that per model step (the guess
    # before one is measured, stopping.VALIDATION_SHARE): the sample (100) 0.6 s, the full
    # part (1,000) 6 s; with eval_every 1000 no validation is measured before the end
    task = Scripted(clock=FakeClock())
    res = trainer(task, eval_every=eval_every, time_budget=60).fit(progress=False,
                                                                     started=0.0)
    end = task.clock.now
    assert res.stopped == "time budget" and task.limits[-1] is None      # full part last
    assert 54 <= end <= 60, end                                          # within 10%, not past


def test_the_budget_counts_from_the_start_given_and_compilation():
    # the first step compiles (30 s): one slow step predicts nothing; 10 s already spent
    task = Scripted(clock=FakeClock(), step_s=(30.0, 1.0))
    task.clock.now = 10.0
    res = trainer(task, eval_every=5, time_budget=90).fit(progress=False, started=0.0)
    assert res.steps > 5 and 81 <= task.clock.now <= 90, (res.steps, task.clock.now)


def test_budget_decision():
    clock = FakeClock()
    b = Budget(10.0, clock, started=0.0)
    assert not b.must_stop(guess=9.0)                       # nothing measured: 0 + 9 < 10
    assert b.must_stop(guess=10.0)
    b.measured(step=3.0)
    b.measured(step=1.0)
    b.measured(evaluation=0.5, full_ratio=4, checkpoint=0.25)
    clock.now = 6.0            # next step 1 + sample 0.5 + full 2 + checkpoint 0.25 = 3.75
    assert not b.must_stop() and b.must_stop(next_evaluates=True)     # + 0.75 for the eval
    clock.now = 6.3
    assert b.must_stop()


# ----- the bounded validation sample ----------------------------------------------------------
def test_validation_samples_are_fixed_and_bounded():
    rng = np.random.default_rng(0)
    vocab = Vocab(list("abcd"), "char")
    task = TextTask(rng.integers(0, 4, 20_000), vocab, batch=4, seq_len=8, val_fraction=0.2)
    model = SequenceModel(ModelConfig(task="text", cell="rnn", input_size=vocab.size,
                                      output_size=vocab.size, hidden=3, layers=1))
    model.backend = "numpy"
    a, b = task.validation_loss(model, limit=500), task.validation_loss(model, limit=500)
    full = task.validation_loss(model)
    assert a == b and a != full and task.validation_size == 3999
    assert task.validation_loss(model, limit=10 ** 6) == full


# ----- resume with patience ---------------------------------------------------------------------
@pytest.fixture
def text(tmp_path):
    rng = np.random.default_rng(0)
    words = "the cat sat on a mat and then the dog ran to it".split()
    path = tmp_path / "t.txt"
    path.write_text(" ".join(rng.choice(words, 400)))
    return path


OPTS = dict(cell="gru", hidden=6, layers=1, batch=3, seq_len=6, backend="numpy",
            dtype="float64", lr=0.2, eval_every=2, patience=2, progress=False)


def test_resume_with_patience_equals_an_uninterrupted_run(text, tmp_path):
    straight = train(str(text), out=str(tmp_path / "a"), log=lambda m: None, **OPTS)
    assert straight.stopped == "early stopping" and straight.steps < straight.total
    # interrupt after the validation before the stop: it had not improved (count 1 of 2)
    at = straight.steps - OPTS["eval_every"]

    def log(msg):
        if msg.startswith(f"step {at}/"):
            os.kill(os.getpid(), signal.SIGINT)

    cut = train(str(text), out=str(tmp_path / "b"), log=log, **OPTS)
    assert cut.interrupted == "SIGINT" and cut.steps == at
    state = json.loads((tmp_path / "b" / "state.json").read_text())["meta"]
    assert state["evals_since_best"] == 1
    resumed = train(str(text), out=str(tmp_path / "b"), resume=True, progress=False,
                    log=lambda m: None)
    assert (resumed.stopped, resumed.steps) == ("early stopping", straight.steps)

    def keep(h):
        return [{k: r[k] for k in ("step", "train_loss", "val_loss", "lr")} for r in h]
    assert keep(resumed.history) == keep(straight.history)
    for name in ("model", "best"):
        wa = load_tensors(tmp_path / "a" / f"{name}.safetensors")
        wb = load_tensors(tmp_path / "b" / f"{name}.safetensors")
        assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_an_ensemble_member_stops_on_a_signal_with_a_checkpoint(text, tmp_path):
    cfg = TrainConfig(data=str(text), seq_len=6, batch=3, steps=50, eval_every=2,
                      backend="numpy").validate()
    task = TextTask.from_config(cfg)
    model = SequenceModel(ModelConfig(task="text", cell="rnn", input_size=task.input_size,
                                      output_size=task.output_size, hidden=4, layers=1))

    def log(msg):
        if msg.startswith("step 4/"):
            os.kill(os.getpid(), signal.SIGINT)

    member = Trainer(model, task, cfg, None, log)
    run = RunFolder(tmp_path / "members" / "1")
    _, res = train_member(member, run, False, False, handle_signals=True)
    assert res.interrupted == "SIGINT" and res.steps == 4 and run.has_state()
