"""The words rnnlab shows a learner, one catalogue per language: `<lang>.json` in this folder
(`en.json`, `zh-TW.json`, ...). Adding a language is adding one file: `languages()` lists the
files, and `rnnlab demo --lang` / `rnnlab explain --lang` offer them.

A catalogue is a JSON object of sections ("demo": the demo's printed text, "lesson": the
lesson page, "explain": the explain page's labels, "legend": gate legends), each a flat
{key: text} map. Texts may hold `{name}` fields (a name of letters, digits and _), filled by
`Strings.__call__` or by the pages' own `tr()`, which fill them the same way; any other brace,
as in h_{t−1}, is text. Every catalogue has the keys of en.json, with the same fields in each
text (tests/test_i18n.py checks both).

"legend" is the exception: {cell: {quantity: line}}. The English lines are the cells' own
LEGEND (rnnlab.nn.cells.<cell>, read through the cell registry), so en.json has none; another
language translates the cells it covers, and a cell or gate it lacks falls back to the
English line (zh-TW.json covers the RNN, LSTM, GRU, minGRU and minLSTM, not the xLSTM cells).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from rnnlab.errors import RnnlabError
from rnnlab.nn import registry

DEFAULT = "en"
_FIELD = re.compile(r"\{(\w+)\}", re.ASCII)   # the same pattern as the pages' tr()


def languages() -> list[str]:
    """The languages that have a catalogue, e.g. ['en', 'zh-TW']."""
    files = resources.files("rnnlab.viz.i18n").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json"))


@lru_cache(maxsize=None)
def _read(lang: str) -> dict:
    if lang not in languages():
        raise RnnlabError(f"there is no {lang!r} catalogue; choose one of "
                          f"{', '.join(languages())} (a language is one file: "
                          f"rnnlab/viz/i18n/{lang}.json)")
    text = resources.files("rnnlab.viz.i18n").joinpath(f"{lang}.json").read_text("utf-8")
    return json.loads(text)


def catalogue(lang: str = DEFAULT) -> dict:
    """The whole catalogue of `lang` as {section: {key: text}} (no fallback applied)."""
    return _read(lang)


class Strings:
    """The texts of one language: `tr("demo.dinner_intro")`, `tr("demo.accuracy", cell="RNN",
    ...)`. A key the language lacks falls back to English; a key English lacks is a bug
    (KeyError)."""

    def __init__(self, lang: str = DEFAULT):
        self.lang = lang
        self._own, self._en = _read(lang), _read(DEFAULT)

    def __call__(self, key: str, **fields) -> str:
        section, _, name = key.partition(".")
        text = self._own.get(section, {}).get(name)
        if text is None:
            text = self._en[section][name]
        return _FIELD.sub(lambda m: str(fields[m[1]]) if m[1] in fields else m[0], text)

    def section(self, name: str) -> dict:
        """{key: text} of one section, English filling any key this language lacks."""
        return {**self._en.get(name, {}), **self._own.get(name, {})}

    def legend(self, cell: str) -> dict:
        """{quantity: line} for a cell: this language's line where it has one, else the
        cell's English LEGEND."""
        return {**registry.get(cell).legend, **self._own.get("legend", {}).get(cell, {})}


def strings(lang: str | None = None) -> Strings:
    """Strings of `lang` (None: English); an unknown language is an RnnlabError naming the
    languages there are."""
    return Strings(lang or DEFAULT)
