"""One module per `rnnlab` command: `add_parser(sub)` declares its options and `run(args)`
makes its one call into the Python API. cli.py lists them in this order."""
from . import (backtest, bench, demo, evaluate, experiment, explain, export, forecast,
               import_weights, plot, sample, serve, train, warmup)

COMMANDS = (demo, train, sample, forecast, evaluate, backtest, export, import_weights, explain,
            plot, serve, bench, experiment, warmup)
