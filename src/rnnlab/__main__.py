"""`python -m rnnlab ...` is the `rnnlab` command."""

from .app.cli import entry

entry()
