"""Shared fixtures. `demo_run`: `rnnlab demo` run once per session (about 40 s of wall time on
a loaded 2-core machine) under umask 027, for every test that looks at what it wrote."""
import contextlib
import io
import os

import pytest


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """(out folder, printed text) of `rnnlab demo --out OUT` in English."""
    from rnnlab.app.cli import main
    out = tmp_path_factory.mktemp("demo") / "demo"
    printed, old = io.StringIO(), os.umask(0o027)
    try:
        with contextlib.redirect_stdout(printed):
            assert main(["demo", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    return out, printed.getvalue()
