"""examples/seed_note.ipynb runs headless, top to bottom, in a kernel of this very Python (a
kernel spec written to a temporary folder, so a fresh clone or CI venv needs no `ipykernel
install`): the notebook can never rot. Its checks of the note's equations must print True."""
import json
import os
import re
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "seed_note.ipynb"


def _unavailable(why):
    if os.environ.get("CI"):
        pytest.fail(f"notebook test: {why} (CI is set, so this is a failure, not a skip)")
    pytest.skip(f"notebook test: {why}")


def _kernel(tmp_path, monkeypatch):
    """A kernel spec for sys.executable in tmp_path/kernels, found through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / "rnnlab-here"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "rnnlab (this Python)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "rnnlab-here"


def test_seed_note_notebook_runs(tmp_path, monkeypatch):
    try:
        import ipykernel  # noqa: F401
        import nbformat
        from nbclient import NotebookClient
    except ImportError as e:
        _unavailable(f"{e.name} is not installed (pip install -e '.[test]')")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "work"
    work.mkdir()
    NotebookClient(nb, timeout=600, kernel_name=_kernel(tmp_path, monkeypatch),
                   resources={"metadata": {"path": str(work)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.get("outputs", []))
    assert "the equation gives the same h_t: True" in text
    for eq in ("k = f * c_{t-1}", "j = i * g", "c = k + j", "h = o * tanh(c)"):
        assert re.search(rf"^{re.escape(eq)}:\s+True$", text, re.M), eq
    html = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert len(html) == 2 and all(h.startswith("<iframe") for h in html)     # explain, lesson
    assert any(o.get("data", {}).get("image/png") for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))                               # the gradient plot
    assert (work / "lesson.html").read_text("utf-8").startswith("<!DOCTYPE html>")
