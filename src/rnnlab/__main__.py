"""`python -m rnnlab ...` is the `rnnlab` command."""
import sys

from .app.cli import main

sys.exit(main())
