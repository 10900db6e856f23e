"""How much the inspection tools read and show, shared by the input reader (subject.py), the
gradient measurements (gradients.py) and the page renderer (explain.py)."""
MAX_TOKENS = 2000     # steps of an input that are read and shown; longer inputs keep their first
CONN_WINDOW = 512     # connectivity: earlier steps kept per target step
