"""Option checks for the experiments (each bad value raises a one-line RnnlabError naming the
flag and an example), and the defaults shared by the API and the CLI."""
from __future__ import annotations

import math

import numpy as np

from ..errors import RnnlabError
from .model import CELLS

DEFAULTS = dict(Ts="50,100,200,400", cells="rnn,lstm", hidden=64, seeds=3, lr=0.01, clip=1.0,
                batch=64, optimizer="adam", steps=1000, forget_bias=1.0, eval_every=100,
                test_size=1000)


def _positive_int(name, v, flag):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise RnnlabError(f"{name} must be a positive integer, got {v!r}; pass e.g. {flag}")
    return int(v)


def _positive_float(name, v, flag):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
            or not math.isfinite(v) or v <= 0:
        raise RnnlabError(f"{name} must be a positive number, got {v!r}; pass e.g. {flag}")
    return float(v)


def parse_int_list(name, text, flag):
    """'50,100,200' -> [50, 100, 200]; each a positive integer, no duplicates."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        items = [s.strip() for s in str(text).split(",")]
    out = []
    for s in items:
        try:
            v = int(s) if not isinstance(s, (int, np.integer)) or isinstance(s, bool) else s
        except (TypeError, ValueError):
            raise RnnlabError(f"{name} must be a comma-separated list of positive integers, got "
                              f"{text!r}; pass e.g. {flag}") from None
        if isinstance(v, bool) or v < 1:
            raise RnnlabError(f"{name} must be a comma-separated list of positive integers, got "
                              f"{text!r}; pass e.g. {flag}")
        out.append(int(v))
    if not out or len(set(out)) != len(out):
        raise RnnlabError(f"{name} must list distinct positive integers, got {text!r}; "
                          f"pass e.g. {flag}")
    return out


def _check_cells(cells):
    items = cells.split(",") if isinstance(cells, str) else list(cells)
    items = [str(c).strip().lower() for c in items]
    bad = [c for c in items if c not in CELLS]
    if bad or not items:
        raise RnnlabError(f"unknown cell {bad[0] if bad else cells!r} in --cell; choose from "
                          f"{', '.join(CELLS)} (e.g. --cell rnn,lstm)")
    if len(set(items)) != len(items):
        raise RnnlabError(f"--cell lists a cell twice: {cells!r}")
    return items


def _check_seeds(seeds):
    """An int n means seeds 0..n-1; a list (or '0,5,7') lists them."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return list(range(_positive_int("seeds", seeds, "--seeds 3")))
    if isinstance(seeds, str) and "," not in seeds:
        try:
            return list(range(_positive_int("seeds", int(seeds), "--seeds 3")))
        except ValueError:
            raise RnnlabError(f"--seeds must be a count (3) or a list (0,1,2), got {seeds!r}") \
                from None
    items = seeds.split(",") if isinstance(seeds, str) else list(seeds)
    try:
        out = [int(s) for s in items]
    except (TypeError, ValueError):
        raise RnnlabError(f"--seeds must be a count (3) or a list (0,1,2), got {seeds!r}") \
            from None
    if not out or min(out) < 0 or len(set(out)) != len(out):
        raise RnnlabError(f"--seeds must be a count (3) or distinct seeds >= 0, got {seeds!r}")
    return out
