"""One validator per rule (rnnlab/validate.py): every place that checks an integer or a
number reads the same rule, so NumPy's integers pass everywhere and a bool passes nowhere."""
import numpy as np
import pytest

from rnnlab.errors import RnnlabError
from rnnlab.validate import integer, number, positive_int, probability


@pytest.mark.parametrize("v", [1, 7, np.int64(3), np.int32(2)])
def test_positive_integers_pass_as_plain_ints(v):
    out = positive_int("--x", v)
    assert out == v and type(out) is int


@pytest.mark.parametrize("v", [0, -1, True, 1.0, "2", None, np.float64(2.0)])
def test_anything_else_is_one_line_naming_the_option(v):
    with pytest.raises(RnnlabError, match=r"^--x must be a positive integer, got .+; e\.g\. --x 2$"):
        positive_int("--x", v, hint="e.g. --x 2")


def test_ranges_and_their_words():
    assert integer("--t", np.int64(12), 0, 12) == 12
    with pytest.raises(RnnlabError, match=r"--t must be an integer in \[0, 12\], got 13"):
        integer("--t", 13, 0, 12)
    assert number("lr", np.float32(0.5), lo=0, lo_open=True) == 0.5
    for bad in (0, float("nan"), float("inf"), False):
        with pytest.raises(RnnlabError, match="lr must be a positive number"):
            number("lr", bad, lo=0, lo_open=True)
    assert probability("--dropout", 0) == 0.0
    with pytest.raises(RnnlabError, match=r"--dropout must be in \[0, 1\), got 1"):
        probability("--dropout", 1)


def test_the_music_task_takes_numpy_integers_like_every_other_option(tmp_path):
    """The copy in tasks/music.py refused np.int64 for --transpose; it reads the rule now."""
    import json

    from rnnlab.data.synthetic import chorales
    from rnnlab.tasks.music import MusicTask
    from rnnlab.training.api import TrainConfig
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"train": chorales(6, 16, seed=0), "valid": chorales(2, 16, seed=1)}))
    tcfg = TrainConfig(data=str(f), task="music", batch=2, seq_len=8,
                       task_options={"transpose": np.int64(2)})
    assert MusicTask.from_config(tcfg).transpose == 2
