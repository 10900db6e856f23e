"""`rnnlab demo`: the seed note's examples, run end to end, and taught.

1. Dinner (demo_dinner.py). The roommate cooks pizza, sushi and waffles in a fixed rotation;
   dinners are one-hot vectors. A plain RNN and an LSTM learn to predict today's dinner from
   yesterday's; when yesterday is unknown, from the day before; and, fed their own
   predictions, two weeks ahead.
2. The children's book (demo_book.py). Vocabulary {Doug, Jane, Spot, saw, .}, sentences like
   "Doug saw Jane.". A model with no memory (the next word from this word alone), an RNN and
   an LSTM learn it; 1,000 sampled sentences from each are judged for every kind of mistake.
3. Long memory, short version: the adding problem at one T, RNN against LSTM, with the
   gradient norm through time of both.

Everything lands in the output folder: lesson.html (the page that teaches the note with these
models' own numbers) and lesson.json (its data), summary.json, plots, explain pages and
report.html. What is printed and the pages' words follow --lang (rnnlab.viz.i18n).
"""
import json
import os
import time

from ..data.synthetic import dinner_days
from ..fileio import atomic_write_json
from ..viz.i18n import strings
from .demo_book import MODELS, compare_grammar, run_book, two_proportion_p, wilson  # noqa: F401
from .demo_dinner import run_dinner, train_in_memory  # noqa: F401  (the demo's API)
from .demo_text import say_book, say_dinner, say_long_memory, say_two_step

BOOK_TEXT = "Doug saw Jane . Jane saw Spot . Spot saw Doug . Jane saw Doug ."


def run_parts(seed, say, tr, long_memory_dir=None, n_sentences=1000):
    """Train and measure every model of the demo, saying each result as it comes. Returns
    (models, summary): models {"dinner_rnn", "dinner_lstm", "book_rnn", "book_lstm": TextModel,
    "book_memoryless": Memoryless}, summary the numbers (see summary.json)."""
    from ..experiments import run_quick_demo
    from ..nn.kernel_cache import compile_note
    summary = {"seed": seed, "dinner": {}, "book": {}}
    models = {}
    compile_note(["rnn", "lstm"], say)     # with the kernel cache cold, say why it waits
    say(tr("demo.dinner_intro"))
    for cell in ("rnn", "lstm"):
        models[f"dinner_{cell}"], summary["dinner"][cell] = run_dinner(cell, seed)
        say_dinner(cell, summary["dinner"][cell], tr, say)
    say(tr("demo.two_step_intro"))
    say_two_step(summary["dinner"]["rnn"], tr, say)
    say("\n" + tr("demo.book_intro", n=f"{n_sentences:,}"))
    for cell in MODELS:
        models[f"book_{cell}"], _, summary["book"][cell] = run_book(cell, seed, n_sentences)
        say_book(cell, summary["book"][cell], tr, say)
    summary["book"]["comparison"] = compare_grammar(summary["book"], say, tr)
    summary["book"]["comparison_memory"] = compare_grammar(summary["book"], say, tr,
                                                           pair=("rnn", "memoryless"))
    say("\n" + tr("demo.long_intro"))
    quick = run_quick_demo(long_memory_dir, progress=lambda msg: None)
    say_long_memory(quick["records"], tr, say)
    summary["long_memory"] = [{k: r[k] for k in ("task", "T", "cell", "seed", "test_metric",
                                                 "baseline", "solved", "steps_to_solve",
                                                 "steps")}
                              for r in quick["records"]]
    summary["grad_norms"] = quick["grad_norms"]
    return models, summary


def run_demo(out="rnnlab-demo", seed=0, say=print, lang="en"):
    """Run the whole demo; returns the summary dict (also written to OUT/summary.json). lang:
    the language of what is printed and of the pages (rnnlab.viz.i18n.languages())."""
    tr = strings(lang)                      # an unknown language fails before any work
    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    models, summary = run_parts(seed, say, tr, os.path.join(out, "long-memory"))
    summary["lang"] = lang
    have_plots = _have_matplotlib()
    links = {"book_explain": "book_lstm.html", "dinner_explain": "dinner_lstm.html"}
    lesson = write_lesson_files(models, summary, out, lang, links)
    say("\n" + tr("demo.wrote_lesson", path=lesson))
    if have_plots:
        summary["report"] = write_pages(models, out, tr)
        say(tr("demo.wrote_report", path=summary["report"]))
    else:
        write_pages(models, out, tr, plots=False)
        say(tr("demo.no_matplotlib"))
    summary["elapsed_s"] = round(time.time() - t0, 2)
    atomic_write_json(os.path.join(out, "summary.json"), summary)
    say(tr("demo.wrote_summary", path=f"{out}/summary.json", seconds=f"{summary['elapsed_s']:.1f}"))
    return summary


def lesson_payload(models, summary, links=None):
    """The lesson page's data (rnnlab.viz.lesson's schema) from the demo's models and numbers."""
    from ..viz.lesson import lesson_payload as build
    return build(models["dinner_rnn"], models["dinner_lstm"], summary, links=links)


def write_lesson_files(models, summary, out, lang, links):
    """OUT/lesson.json (the numbers, any language) and OUT/lesson.html (in `lang`)."""
    from ..viz.lesson import write_lesson
    payload = lesson_payload(models, summary, links)
    atomic_write_json(os.path.join(out, "lesson.json"), payload)
    return write_lesson(payload, os.path.join(out, "lesson.html"), lang=lang)


def write_pages(models, out, tr, plots=True):
    """The explain page of every neural model (in the language of `tr`) and, with plots, the
    PNGs and report.html. Returns the report's path (None without plots)."""
    from ..viz.inspect import write_explain
    sections = []
    inputs = {"dinner": dinner_days(9, start=0), "book": BOOK_TEXT}   # nine days; four sentences
    for part in ("dinner", "book"):
        for cell in ("rnn", "lstm"):
            name = f"{part}_{cell}"
            title = tr(f"demo.title_{part}", model=tr(f"demo.model_{cell}"))
            write_explain(models[name], inputs[part], os.path.join(out, f"{name}.html"),
                          title=title, lang=tr.lang)
            if plots:
                from ..viz.report import plot_run
                paths = plot_run(models[name], inputs[part], out, prefix=f"{name}_")
                sections.append({"title": title, "images": paths,
                                 "text": tr("demo.report_section", page=f"{name}.html")})
    if not plots:
        return None
    from ..viz.report import write_report
    lm = os.path.join(out, "long-memory")
    sections.append({"title": tr("demo.report_long"),
                     "images": [os.path.join(lm, f) for f in sorted(os.listdir(lm))
                                if f.endswith(".png")]})
    return write_report(out, sections, title=tr("demo.report_title"))


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401  (plots are optional: pip install rnnlab[viz])
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    print(json.dumps(run_demo(), indent=1)[:2000])
