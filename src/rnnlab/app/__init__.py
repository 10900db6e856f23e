"""The top floor: the `rnnlab` command (cli.py and one module per command in commands/), the
demo, and the benchmark against torch. Everything here calls the Python API below it."""
