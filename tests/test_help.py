"""Help that helps: every option of every command has a help line that shows its default, the
stopping rule is written down, and usage errors are one line."""
import argparse
import re
from pathlib import Path

import pytest

from rnnlab.app.cli import HelpFormatter, build_parser, main
from rnnlab.tasks import registry

ROOT = Path(__file__).resolve().parents[1]


def subparsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def rendered_help(parser, action):
    """The help line of one action as `--help` prints it (with %(default)s expanded)."""
    formatter = HelpFormatter(parser.prog)
    return formatter._expand_help(action) if action.help else ""


def every_action():
    for name, parser in subparsers().items():
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                yield name, parser, action


def test_every_command_is_walked():
    assert set(subparsers()) == {"demo", "train", "sample", "forecast", "evaluate", "export",
                                 "import", "explain", "plot", "bench", "experiment", "backtest",
                                 "serve", "warmup"}
    assert sum(1 for _ in every_action()) > 60


@pytest.mark.parametrize("command", sorted(subparsers()))
def test_every_option_has_a_help_line_with_its_default(command):
    parser = subparsers()[command]
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = rendered_help(parser, action)
        name = "/".join(action.option_strings) or action.dest
        if len(text.split()) < 2:
            missing.append(f"{name}: no help line")
        elif action.option_strings and "default" not in text:
            missing.append(f"{name}: the help line does not give the default: {text!r}")
    assert missing == []


def test_the_defaults_shown_are_the_real_defaults():
    train = subparsers()["train"]
    shown = {a.dest: rendered_help(train, a) for a in train._actions}
    assert "(default: 128;" in shown["hidden"] and "series: chosen from the data" in shown["hidden"]
    assert "(default: 0.002;" in shown["lr"]
    assert shown["resume"].endswith("(default: off)")
    assert "chosen from the data" in shown["lookback"]
    explain = subparsers()["explain"]
    shown = {a.dest: rendered_help(explain, a) for a in explain._actions}
    assert shown["output"].endswith("(default: explain.html)")
    assert "16 keeps 5 significant digits" in shown["bits"] and "(default: 8)" in shown["bits"]
    assert "title" in shown["title"] and "default:" in shown["title"]


def test_train_help_states_the_stopping_rule_of_every_task(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "When no --steps, --epochs or --time-budget is given" in out
    for entry in registry.TASKS.values():
        assert " ".join(entry.task.STOP_RULE.split()) in out
    assert "at most 20 million tokens" in out and "400 to 3,000 steps" in out


def test_music_mode_offers_roll_and_melody_and_refuses_others_in_one_line(capsys):
    train = subparsers()["train"]
    mode = next(a for a in train._actions if a.dest == "music_mode")
    assert list(mode.choices) == ["roll", "melody"] and "melody" in rendered_help(train, mode)
    with pytest.raises(SystemExit) as e:
        main(["train", "x.json", "--out", "r", "--music-mode", "chords"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "invalid choice: 'chords'" in err and "rnnlab train --help" in err


@pytest.mark.parametrize("argv, words", [
    (["train", "x.txt", "--out", "r", "--hidden", "big"], "invalid int value: 'big'"),
    (["train", "x.txt"], "the following arguments are required: --out"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_usage_errors_are_one_line(capsys, argv, words):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err and "--help" in err


def test_readme_and_docs_point_only_at_files_that_exist():
    """Every repository path the README and docs name in backticks exists (the README used to
    point at a seed folder that is not in the repository)."""
    generated = [line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines()
                 if line.strip().endswith("/") and "/" in line.strip().strip("/")]
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in re.findall(r"`((?:docs|src|tests|benchmarks|examples|shared)/[\w./-]+)`",
                               doc.read_text("utf-8")):
            path = path.split("::")[0]
            if not (ROOT / path).exists() and not any(path.startswith(g) for g in generated):
                missing.append(f"{doc.name}: {path}")
    assert generated == ["benchmarks/data"]          # written by benchmarks/make_corpus.py
    assert missing == []
