"""Token-at-a-time generation (B = 1) on the fused kernels' Steppers.

`sample` feeds each generated token back in, so it runs the model one step at a time. Going
through the layers for every step would pay their checks, dispatch and allocations each time;
a StreamingModel packs each layer's weights once and then does one compiled call per layer and
one matrix-vector product for the head per token, writing into buffers it owns.

    stream = StreamingModel(model)           # model: a SequenceModel in eval mode
    stream.reset(state)                      # state as the layers return it, or None
    logits = stream.step(token_id)           # (V,), a buffer reused by the next step
"""
import numpy as np

from ..nn.backend import get_backend, numba_available


class StreamingModel:
    """The B=1 fast path of a unidirectional SequenceModel (text task)."""

    def __init__(self, model):
        cfg = model.cfg
        self.dtype = model.dtype
        self.layers = model.rnn.steppers()       # one B=1 stepper per layer, weights packed once
        self.embed = model.embed.params["weight"] if model.embed is not None else None
        self.x = np.zeros(cfg.input_size if self.embed is None else cfg.embed, self.dtype)
        self.W_out = model.head.params["weight"]
        self.b_out = model.head.params.get("bias")
        self.logits = np.empty(cfg.output_size, self.dtype)

    def reset(self, state=None):
        """Start from a state shaped as the layers return it ((L, 1, H) arrays), or zeros."""
        parts = () if state is None else (state if isinstance(state, tuple) else (state,))
        for k, s in enumerate(self.layers):
            s.reset(*(p[k, 0] for p in parts))

    def step(self, token):
        """Feed one token id; returns the next-token logits (V,)."""
        if self.embed is None:
            self.x[:] = 0
            self.x[token] = 1                    # one-hot input
            h = self.x
        else:
            h = self.embed[token]
        for s in self.layers:
            h = s.step(h)
        np.dot(self.W_out, h, out=self.logits)
        if self.b_out is not None:
            self.logits += self.b_out
        return self.logits


def streaming_model(model, backend=None):
    """A StreamingModel when the numba kernels can run, else None (callers then step the
    layers themselves)."""
    if (backend or get_backend()) != "numba" or not numba_available() \
            or model.rnn.bidirectional or not model.rnn.kernel_fits():
        return None
    return StreamingModel(model)
