"""The string catalogues (rnnlab.viz.i18n): every language has the English keys with the same
fields, its gate legends name real cells and gates, a gate a language lacks falls back to the
cell's English line, and an unknown language is one clear error."""
import json
import re
from importlib import resources

import pytest

from rnnlab.errors import RnnlabError
from rnnlab.nn import registry
from rnnlab.viz.i18n import catalogue, languages, strings

SEED_TERMS = ("記憶單元", "忘記閘", "更新閘", "輸入閘", "輸出閘", "隱藏狀態")


def fields(text):
    return sorted(re.findall(r"\{(\w+)\}", text, re.ASCII))


def test_the_languages_are_the_files():
    files = [f.name for f in resources.files("rnnlab.viz.i18n").iterdir()
             if f.name.endswith(".json")]
    assert sorted(languages()) == sorted(f[:-5] for f in files)
    assert {"en", "zh-TW"} <= set(languages())


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != "en"])
def test_every_catalogue_has_the_english_keys_and_fields(lang):
    en, other = catalogue("en"), catalogue(lang)
    assert set(other) - {"legend"} == set(en) - {"legend"}
    for section, texts in en.items():
        if section == "legend":
            continue
        assert set(other[section]) == set(texts), (section, set(other[section]) ^ set(texts))
        for key, text in texts.items():
            assert fields(other[section][key]) == fields(text), f"{lang}: {section}.{key}"


@pytest.mark.parametrize("lang", languages())
def test_legends_name_real_cells_and_gates(lang):
    legend = catalogue(lang).get("legend", {})
    for cell, lines in legend.items():
        assert cell in registry.CELLS, cell
        unknown = set(lines) - set(registry.get(cell).legend)
        assert not unknown, (cell, unknown)


def test_english_legends_are_the_cells_own():
    assert "legend" not in catalogue("en")        # one source: the cells' LEGEND
    tr = strings("en")
    for cell in registry.CELLS:
        assert tr.legend(cell) == dict(registry.get(cell).legend)


def test_zh_tw_translates_the_rnn_lstm_and_gru_and_falls_back_for_the_rest():
    tr = strings("zh-TW")
    for cell in ("rnn", "lstm", "gru"):
        assert set(catalogue("zh-TW")["legend"][cell]) == set(registry.get(cell).legend), cell
        assert all(re.search("[\u4e00-\u9fff]", line) for line in tr.legend(cell).values()), cell
    assert "記憶單元" in tr.legend("lstm")["c"] and "忘記閘" in tr.legend("lstm")["f"]
    assert "輸出閘" in tr.legend("lstm")["o"] and "隱藏狀態" in tr.legend("rnn")["h"]
    # the xLSTM cells have no zh-TW lines: every gate falls back to the English one
    assert tr.legend("slstm") == dict(registry.get("slstm").legend)


def test_the_lesson_uses_the_seed_notes_terms():
    lesson = json.dumps(catalogue("zh-TW")["lesson"], ensure_ascii=False)
    assert all(term in lesson for term in SEED_TERMS)


def test_strings_fill_fields_and_fall_back_to_english(monkeypatch):
    tr = strings("zh-TW")
    assert tr("demo.after", yesterday="pizza", today="sushi") == "pizza 之後 -> sushi"
    assert strings()("demo.after", yesterday="pizza", today="sushi") == "after pizza -> sushi"
    own = dict(catalogue("zh-TW"))
    own["demo"] = {k: v for k, v in own["demo"].items() if k != "after"}
    monkeypatch.setattr(tr, "_own", own)
    assert tr("demo.after", yesterday="a", today="b") == "after a -> b"
    assert tr.section("demo")["after"] == "after {yesterday} -> {today}"


def test_an_unknown_language_is_one_clear_error():
    with pytest.raises(RnnlabError, match=r"no 'fr' catalogue; choose one of en, zh-TW .*fr\.json"):
        strings("fr")
