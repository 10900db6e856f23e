"""One source of truth: `rnnlab train FILE` and `rnnlab.train(FILE)` build the same run.

Both read the one table of defaults (rnnlab/defaults.py) through the one order of precedence
in training/api.py; the command only passes on what was given. For every task, the same data
and the same options must give the same config.json, byte for byte."""
import json

import pytest

import rnnlab
from rnnlab import defaults
from rnnlab.app.cli import main
from rnnlab.data.series import generate_series, write_csv
from rnnlab.data.synthetic import chorales, melodies
from rnnlab.tasks.model import ModelConfig
from rnnlab.training.api import TrainConfig


def _text(d):
    f = d / "t.txt"
    f.write_text("the quick brown fox jumps over the lazy dog. " * 80)
    return f, {}


def _series(d):
    f = d / "s.csv"
    write_csv(f, {"y": generate_series("seasonal", 120, seed=1)})
    return f, {}


def _roll(d):
    f = d / "c.json"
    f.write_text(json.dumps({"train": chorales(12, 16, seed=0), "valid": chorales(2, 16, seed=1)}))
    return f, {}


def _melody(d):
    f = d / "m.json"
    f.write_text(json.dumps({"train": melodies(20, seed=0), "valid": melodies(4, seed=1)}))
    return f, {"music_mode": "melody"}


@pytest.mark.parametrize("make", [_text, _series, _roll, _melody],
                         ids=["text", "series", "music-roll", "melody"])
def test_the_command_and_the_api_write_the_same_config(make, tmp_path):
    data, task_opts = make(tmp_path)
    flags = [a for k, v in task_opts.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    assert main(["train", str(data), "--out", str(tmp_path / "cli"), "--steps", "1",
                 *flags]) == 0
    rnnlab.train(str(data), out=str(tmp_path / "api"), steps=1, progress=False, **task_opts)
    cli = json.loads((tmp_path / "cli" / "config.json").read_text())
    api = json.loads((tmp_path / "api" / "config.json").read_text())
    assert cli == api


def test_the_configs_take_their_defaults_from_the_table():
    m, t = ModelConfig(), TrainConfig()
    assert {k: getattr(m, k) for k in defaults.MODEL} == defaults.MODEL
    assert {k: getattr(t, k) for k in defaults.TRAIN} == defaults.TRAIN
    assert m.layers == 2                # the char-rnn family's 2 x 128, as `rnnlab train`


def test_the_help_shows_the_tables_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, name in [("--layers", "layers"), ("--hidden", "hidden"), ("--clip", "clip"),
                       ("--optimizer", "optimizer"), ("--seq-len", "seq_len")]:
        assert f"default: {defaults.ALL[name]}" in text.split(flag, 2)[2][:400], flag


def test_a_flat_task_option_is_the_tasks(tmp_path):
    data, _ = _melody(tmp_path)
    with pytest.raises(rnnlab.RnnlabError, match="unknown training option 'no_such'"):
        rnnlab.train(str(data), out=str(tmp_path / "r"), steps=1, no_such=1)
    assert not (tmp_path / "r").exists()
