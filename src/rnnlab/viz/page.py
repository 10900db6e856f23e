"""A self-contained page for notebooks and files: what `rnnlab.lesson(...)` and
`model.explain(text)` return.

    page = model.explain("pizza sushi waffles pizza")
    page                      # in Jupyter: shown inline (an iframe holding the whole page)
    page.save("explain.html") # the same page as one file that opens from disk

The page is shown in an iframe (`srcdoc`) so that its styles and scripts stay inside it: the
notebook's own look is untouched and two pages in one notebook do not see each other.
"""
from __future__ import annotations

import html as _html

from rnnlab.fileio import atomic_write_bytes


class HtmlPage:
    """One complete HTML document. `html` is its text; `save(path)` writes it atomically;
    Jupyter calls `_repr_html_` to show it inline. `data`: the numbers the page was drawn
    from (the lesson's payload), when the page keeps them, else None."""

    def __init__(self, html: str, title: str = "rnnlab", height: int = 900, data=None):
        self.html, self.title, self.height, self.data = html, title, int(height), data

    def save(self, path) -> str:
        """Write the page to `path` (atomically, following the umask). Returns the path."""
        atomic_write_bytes(path, self.html.encode("utf-8"))
        return str(path)

    def _repr_html_(self) -> str:
        return (f'<iframe title="{_html.escape(self.title)}" srcdoc="{_html.escape(self.html)}" '
                f'style="width:100%;height:{self.height}px;border:1px solid #d9dde5;'
                f'border-radius:6px" sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return f"<HtmlPage {self.title!r}: {len(self.html):,} characters; .save(path) writes it>"


def explain(model, inputs, *, lang=None, title=None, bits=8, **kw) -> HtmlPage:
    """The explain page of `model` on `inputs` as an HtmlPage (see rnnlab.viz.inspect's
    explain_payload for what `model` and `inputs` may be). lang: a catalogue's language
    (rnnlab.viz.i18n.languages(); default English) for the page's labels and legend."""
    from rnnlab.viz.explain import render_explain_html
    from rnnlab.viz.inspect import explain_payload
    payload = explain_payload(model, inputs, title=title, **kw)
    if lang:
        payload["lang"] = lang
    return HtmlPage(render_explain_html(payload, bits=bits), title=payload["title"])
