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
        self.state_parts = model.rnn.state_parts
        self.embed = model.embed.params["weight"] if model.embed is not None else None
        self.x = np.zeros(cfg.input_size if self.embed is None else cfg.embed, self.dtype)
        self.W_out = model.head.params["weight"]
        self.b_out = model.head.params.get("bias")
        self.logits = np.empty(cfg.output_size, self.dtype)

    def reset(self, state=None):
        """Start from a state shaped as the layers return it ((L, 1, H) arrays), or zeros."""
        parts = self.state_parts(state)
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
            or model.rnn.bidirectional or not model.rnn.stepper_fits():
        return None
    return StreamingModel(model)


def pipelined_stream_loss(model, ids, chunk=8192, threads=None):
    """Mean next-token cross-entropy (nats) over ids (N,) as ONE stream, the state carried
    through the whole sequence: the same numbers as running it chunk by chunk on one thread
    (``text.run_stream_loss(batch=1)``), with the stages overlapped. Stage k runs layer k on
    chunk c - k, the last stage the head and the loss on the chunk before, so on two cores
    layer 0 of one chunk and layer 1 (and the head) of the previous one run at once; each
    stage keeps its own state, so every chunk sees exactly the state a single pass would give.
    Returns (mean_loss, n_predictions), or None when the model has no kernel to run this way
    (the caller then takes the plain loop). The compiled loops release the GIL; each stage runs
    on one numba thread (numba.set_num_threads is per thread) so the cores are not
    oversubscribed.

    Why the threads never race (the rule any change here must keep): the jobs of one tick
    are waited for before the next tick is submitted, and within a tick each job owns what it
    writes. Layer k alone writes states[k] and spaces[k] (one job per layer per tick), and it
    reads only outs[(k-1, c)], which the previous tick wrote; the head alone writes `total`.
    `outs` is shared, but each job touches its own keys, and a dict's single put or pop is
    atomic under the GIL."""
    from concurrent.futures import ThreadPoolExecutor
    from ..nn.functional import TokenInput
    rnn = model.rnn
    if (model.cfg.task != "text" or rnn.bidirectional or not rnn.kernel_fits()
            or (model.backend or get_backend()) != "numba" or not numba_available()):
        return None
    fn = rnn.implementation("numba")
    if not (getattr(fn, "TOKEN_INPUT", False) and getattr(fn, "WORKSPACE", False)):
        return None
    import numba
    from ..nn.kernels import Workspace
    threads = threads or min(2, numba.get_num_threads())
    ids = np.asarray(ids).astype(np.int64)
    model.eval()
    opts = rnn.cell_options()
    L, n_chunks = rnn.num_layers, -(-(len(ids) - 1) // chunk)
    table = None if model.embed is None else model.embed.params["weight"]
    states, outs, spaces = [None] * L, {}, [Workspace() for _ in range(L)]
    total = [0.0, 0]

    def layer(k, c):
        numba.set_num_threads(1)
        if k == 0:
            x = TokenInput(ids[c * chunk:min((c + 1) * chunk, len(ids) - 1), None],
                           model.cfg.input_size, table, model.dtype)
        else:
            x = outs.pop((k - 1, c))
        y, states[k], cache = fn.forward(x, states[k], rnn.cell_params(k), None,
                                         workspace=spaces[k], **opts)
        fn.release(cache)                     # no backward: the buffers serve the next chunk
        outs[(k, c)] = y

    def head(c):
        numba.set_num_threads(1)
        y = outs.pop((L - 1, c))
        targets = ids[c * chunk + 1:c * chunk + 1 + y.shape[0], None]
        loss, _ = model.loss(model.head.forward(y), targets)
        total[0] += loss * targets.size
        total[1] += targets.size

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for tick in range(n_chunks + L):
            jobs = [pool.submit(layer, k, tick - k) for k in range(L) if 0 <= tick - k < n_chunks]
            if 0 <= tick - L < n_chunks:
                jobs.append(pool.submit(head, tick - L))
            for j in jobs:
                j.result()
    return total[0] / total[1], total[1]
