"""`rnnlab.lesson(...)`: the seed note's lesson as a page, for a notebook or a file.

    import rnnlab
    page = rnnlab.lesson("rnnlab-demo", lang="zh-TW")   # the demo's lesson.json, in no time
    page = rnnlab.lesson()                             # train the demo's models here (~4 s CPU)
    page                                               # shown inline in Jupyter
    page.save("lesson.html")                           # the same self-contained file

The lesson's numbers are the demo's (app/demo.py: run_parts); the page is rnnlab.viz.lesson's.
"""
import os

from ..errors import RnnlabError
from ..viz.i18n import strings
from ..viz.lesson import lesson_page, read_lesson


def lesson(source=None, *, lang="en", seed=0, sentences=1000, say=None):
    """The lesson page (an HtmlPage: `_repr_html_` for Jupyter, `.save(path)`).

    source: a folder written by `rnnlab demo` (or its lesson.json): the page is rebuilt from
    its numbers, in `lang`, at once. None: train and measure the demo's models here (the
    dinner models, the three book models sampling `sentences` sentences each, the short
    adding-problem run), saying each result through `say` (e.g. print; default quiet).
    lang: a language of rnnlab.viz.i18n.languages()."""
    tr = strings(lang)
    if source is not None:
        path = os.path.join(source, "lesson.json") if os.path.isdir(source) else source
        if not os.path.isfile(path):
            raise RnnlabError(f"{path} does not exist; run `rnnlab demo --out {source}` first, "
                              "or call rnnlab.lesson() to train the models here")
        return lesson_page(read_lesson(path), lang)
    from .demo import lesson_payload, run_parts
    models, summary = run_parts(seed, say or (lambda msg: None), tr, n_sentences=sentences)
    return lesson_page(lesson_payload(models, summary), lang)
