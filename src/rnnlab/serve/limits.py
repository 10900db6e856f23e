"""What one request may ask of `rnnlab serve` (each limit is a command option; one table of
defaults that the command and the Python API both read)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    text_chars: int = 20_000        # --max-text: characters (or list items) of an input
    sample_length: int = 2_000      # --max-sample: tokens or steps of a sample or forecast
    seconds: float = 10.0           # --time-limit: seconds a request may take, queue included
    body_bytes: int = 1_000_000     # --max-body: bytes of a request body
    matches: int = 100              # the most matches one search returns
