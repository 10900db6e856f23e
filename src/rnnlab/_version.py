"""The package version: a leaf module that anything may import (runs, interop, the CLI)."""
__version__ = "0.1.0"
