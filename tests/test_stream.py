"""The B=1 streaming path used by sampling equals the layers run one step at a time."""
import numpy as np
import pytest

from rnnlab.tasks.model import ModelConfig, SequenceModel
from rnnlab.tasks.stream import StreamingModel


@pytest.mark.parametrize("cell,extra", [("lstm", {}), ("lstm", {"variant": "peephole"}),
                                        ("lstm", {"variant": "coupled"}), ("gru", {}),
                                        ("rnn", {}), ("rnn", {"nonlinearity": "relu"}),
                                        ("lstm", {"embed": 6}), ("mlstm", {}),
                                        ("mlstm", {"cell_options": {"num_heads": 3,
                                                                    "forget_gate": "exp"}})])
def test_streaming_equals_layer_steps(cell, extra):
    cfg = ModelConfig(task="text", cell=cell, input_size=7, output_size=7, hidden=9, layers=2,
                      dtype="float64", seed=1, **extra)
    model = SequenceModel(cfg).eval()
    tokens = [3, 1, 4, 1, 5, 2, 6, 0]
    _, state = model.forward(np.array([[2]], np.int64), None, backend="numpy")
    stream = StreamingModel(model)
    stream.reset(state)
    for tok in tokens:
        logits, state = model.forward(np.array([[tok]], np.int64), state, backend="numpy")
        np.testing.assert_allclose(stream.step(tok), logits[0, 0], rtol=1e-12, atol=1e-12)
