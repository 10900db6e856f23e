"""The explain page in the learner's language (`rnnlab explain --lang`, `model.explain`), and
two fixes: word tokens keep their spaces, and a small model's heatmaps are scaled up."""
import re
from pathlib import Path

import pytest

import rnnlab
from rnnlab.app.cli import main
from rnnlab.app.demo_dinner import dinner_model
from rnnlab.viz.explain import read_explain_payload
from rnnlab.viz.i18n import catalogue
from rnnlab.viz.page import HtmlPage
from test_explain_model import TEXT, text_run  # noqa: F401  (a small trained LSTM run)
from test_explain_page import browser  # noqa: F401  (the Chromium fixture)


def test_cli_explain_in_traditional_chinese(text_run, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "zh.html"
    assert main(["explain", text_run, "--text", TEXT, "-o", str(out), "--lang", "zh-TW"]) == 0
    data = read_explain_payload(out.read_text("utf-8"))
    zh = catalogue("zh-TW")
    assert data["lang"] == "zh-TW" and data["strings"] == zh["explain"]
    assert data["legend"]["f"] == zh["legend"]["lstm"]["f"] and "忘記閘" in data["legend"]["f"]
    assert data["legend"]["c"].startswith("記憶單元")
    en = read_explain_payload(Path(_explain_en(text_run, tmp_path)).read_text("utf-8"))
    assert en["lang"] == "en" and "how much old memory to keep" in en["legend"]["f"]
    assert data["quantities"] == en["quantities"]           # the same numbers, other words


def _explain_en(run, tmp_path):
    out = tmp_path / "en.html"
    assert main(["explain", run, "--text", TEXT, "-o", str(out)]) == 0
    return out


def test_cli_refuses_an_unknown_language(text_run, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as e:
        main(["explain", text_run, "--text", TEXT, "--lang", "xx"])
    assert e.value.code == 2 and "invalid choice: 'xx'" in capsys.readouterr().err


def test_model_explain_is_the_same_file_as_the_command(text_run, tmp_path):  # noqa: F811
    trained = rnnlab.load(text_run)
    page = trained.explain(TEXT)
    assert isinstance(page, HtmlPage)
    assert page.html == _explain_en(text_run, tmp_path).read_text("utf-8")
    zh = trained.explain(TEXT, lang="zh-TW")
    assert zh.save(tmp_path / "p.html") == str(tmp_path / "p.html")
    assert read_explain_payload((tmp_path / "p.html").read_text("utf-8"))["lang"] == "zh-TW"
    assert 'srcdoc="&lt;!DOCTYPE html&gt;' in zh._repr_html_()


def test_hand_made_words_keep_their_spaces():
    model = dinner_model("rnn", 0)                # the demo's: vocabulary pizza, sushi, waffles
    assert model.vocab.separator == " "
    assert model.vocab.decode(model.vocab.encode("pizza  sushi\nwaffles")) == "pizza sushi waffles"
    data = read_explain_payload(model.explain("pizza sushi waffles pizza").html)
    assert data["join"] == " " and data["tokens"] == ["pizza", "sushi", "waffles", "pizza"]
    assert model.sample(5, seed=0, prime="pizza").startswith("pizza sushi waffles pizza")


def test_word_pages_and_small_heatmaps_in_chromium(browser, tmp_path, text_run):  # noqa: F811
    path = dinner_model("lstm", 0).explain("pizza sushi waffles pizza sushi").save(
        tmp_path / "d.html")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(Path(path).as_uri())
    page.wait_for_selector("#strip .tok")
    assert page.inner_text("#strip").strip() == "pizza sushi waffles pizza sushi"
    box = page.locator("#heatmaps canvas").first.bounding_box()
    assert box["height"] >= 4 * 24 and box["width"] >= 5 * 40     # 4 units x 5 steps, scaled up

    zh = tmp_path / "zh.html"
    assert main(["explain", text_run, "--text", TEXT, "-o", str(zh), "--lang", "zh-TW"]) == 0
    page.goto(zh.as_uri())
    page.wait_for_selector("#strip .tok")
    words = catalogue("zh-TW")["explain"]
    assert page.inner_text("#legend h2") == words["legend_title"]
    assert page.inner_text("#heat-sec h2") == words["heat_title"]
    assert page.evaluate("document.documentElement.lang") == "zh-TW"
    assert re.search("[\u4e00-\u9fff]", page.inner_text("#strip-title"))
    assert words["layer"] in page.inner_text("#controls-sec")
    assert "忘記閘" in page.inner_text("#legend")
    page.hover("#strip .tok[data-t='3']")
    assert "下一個詞元的最高預測" in page.inner_text("#tip")
    assert errors == []
    page.close()
