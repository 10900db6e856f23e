"""Export to ONNX, built from ONNX's own RNN / LSTM / GRU operators (opset 14).

    from rnnlab.interop.onnx import export_onnx
    export_onnx("run", "model.onnx")                       # or: rnnlab export run --format onnx
    export_onnx("run", "model.onnx", initial_state=True)   # initial_h / initial_c as inputs

The graph, for a task model (see models.py):

    tokens int64 [T, B] --Gather--> [T, B, E]      (embedding: Gather from embed.weight;
                                                     one-hot: Gather from the transposed W_ih,
                                                     then the first op's W is a 0/1 selector)
    x float32 [T, B, D] ---------------^           (series, music)
    -> one LSTM/GRU/RNN op per layer: Y [T, dirs, B, H] -> Transpose + Reshape -> [T, B, dirs*H]
    -> MatMul + Add (the Linear head) -> `logits` (text, music) or `predictions` (series)
    plus the final states `h_n` (and `c_n`), [L*dirs, B, H] as torch orders them.

With initial_state=True the graph also takes `initial_h` (and `initial_c`), [L*dirs, B, H],
as required inputs (feed zeros for a fresh start); without it the ops start from zeros. The run's vocabulary or scaler (config.json["data"]) and model config are in the
model's metadata_props as JSON, under "rnnlab.data" and "rnnlab.model".

Parameter mapping (torch layout -> ONNX layout):
  LSTM gates i, f, g, o -> i, o, f, c;  GRU r, z, n -> z, r, h with linear_before_reset=1
  (torch's GRU); RNN: activations Tanh or Relu. B = [W_b, R_b] per direction.
  Peephole weight_pi, weight_pf, weight_po -> P = [p_i, p_o, p_f].
  The LSTM's proj_size, layer_norm and zoneout have no ONNX operator: exporting them is an
  error that names the torch export; recurrent dropout is the identity in evaluation.
  Coupled LSTM (c = f*c + (1-f)*g): ONNX's input_forget=1 couples the gates as f = 1 - i, so
  the ONNX input gate gets -W_f, -b_f (sigmoid(-a) = 1 - sigmoid(a)) and its forget-gate rows
  are zero (unused). Checked against onnxruntime in tests/test_onnx.py.
ONNX runtimes compute these operators in float32; a float64 model is exported as float32.
"""
import json

import numpy as np

from .._version import __version__
from ..errors import RnnlabError, install_line
from ..fileio import atomic_write_bytes
from ..nn import registry
from ..nn.layers import RecurrentLayer

OPSET = 14
# torch's gate blocks -> ONNX's, per ONNX operator
_TORCH_TO_ONNX = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def _onnx():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise RnnlabError(f"ONNX export needs the onnx package; install it with: "
                          f"{install_line('onnx')}") from None
    return onnx, TensorProto, helper, numpy_helper


def _blocks(a, G):
    """Split the gate axis (0) of a (G*H, ...) array into G blocks."""
    return np.split(np.asarray(a, np.float64), G, axis=0)


def _onnx_op(layer):
    """The ONNX operator of a layer's cell (the registry's), or a clear error: for a cell
    without one, and for an option the operator cannot express (the LSTM's proj_size,
    layer_norm, zoneout; recurrent dropout does nothing in evaluation, so it exports)."""
    spec = registry.get(layer.cell)
    op = spec.onnx_op
    if op is None:
        raise RnnlabError(f"the {layer.cell} cell has no ONNX operator (ONNX has RNN, LSTM and "
                          "GRU only); export the run with `rnnlab export RUN --format torch` "
                          "instead")
    values = {o.name: getattr(layer, o.name) for o in spec.options if hasattr(layer, o.name)}
    for option, value in spec.options_on(values):
        if not option.onnx:
            raise RnnlabError(f"ONNX's {op} operator cannot express the {layer.cell.upper()}'s "
                              f"{option.name}={value!r}; export the run with --format torch "
                              "instead (rnnlab export RUN --format torch -o model.pt)")
    return op


def _direction_params(layer, k, d):
    """ONNX W (G'H, D), R (G'H, H), B (2 G'H,), P (3H,) or None for one direction."""
    p, H = layer.cell_params(k, d), layer.hidden_size
    G, op = layer.num_gates(), _onnx_op(layer)
    W, R = _blocks(p["weight_ih"], G), _blocks(p["weight_hh"], G)
    if layer.bias:
        bi, bh = _blocks(p["bias_ih"], G), _blocks(p["bias_hh"], G)
    else:
        bi = bh = [np.zeros(H) for _ in range(G)]
    variant = getattr(layer, "variant", "standard")
    if op == "LSTM" and variant == "coupled":
        # torch-layout blocks f, g, o -> ONNX i (= -f, so that f_onnx = 1 - i_onnx = f), o, f, c
        def order(b):
            f, g, o = b
            return [-f, o, np.zeros_like(f), g]
    else:
        def order(b):
            return [b[j] for j in _TORCH_TO_ONNX[op]]
    W_o, R_o = np.concatenate(order(W)), np.concatenate(order(R))
    B_o = np.concatenate(order(bi) + order(bh))
    P = None
    if op == "LSTM" and variant == "peephole":
        P = np.concatenate([p["weight_pi"], p["weight_po"], p["weight_pf"]])
    return W_o, R_o, B_o, P


def _f32(a):
    return np.ascontiguousarray(a, np.float32)


class _Graph:
    def __init__(self):
        self.onnx, self.TP, self.helper, self.nh = _onnx()
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self._n = 0

    def name(self, base):
        self._n += 1
        return f"{base}_{self._n}"

    def init(self, base, array, exact_name=False):
        n = base if exact_name else self.name(base)
        self.inits.append(self.nh.from_array(np.asarray(array), n))
        return n

    def node(self, op, inputs, n_out=1, outputs=None, **attrs):
        outputs = outputs or [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=self.name(op), **attrs))
        return outputs if len(outputs) > 1 else outputs[0]


def _recurrent_stack(g, layer, x, table=None, initial_state=False):
    """Add one ONNX op per layer. x: name of [T, B, D] (or, with `table`, of int64 tokens that
    index the one-hot table). Returns (y [T, B, dirs*H], h_n, c_n or None)."""
    H, L = layer.hidden_size, layer.num_layers
    dirs = layer.num_directions
    LD = L * dirs
    variant = getattr(layer, "variant", "standard")
    op = _onnx_op(layer)
    attrs = dict(hidden_size=H, direction="bidirectional" if dirs == 2 else "forward")
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = [layer.nonlinearity.capitalize()] * dirs
    if op == "LSTM" and variant == "coupled":
        attrs["input_forget"] = 1
    has_c = op == "LSTM"
    h0 = c0 = None
    if initial_state:
        for name in ("initial_h", "initial_c") if has_c else ("initial_h",):
            g.inputs.append(g.helper.make_tensor_value_info(name, g.TP.FLOAT, [LD, "batch", H]))
        h0, c0 = "initial_h", ("initial_c" if has_c else None)
    hs, cs, inp = [], [], x
    for k in range(L):
        per_dir = [_direction_params(layer, k, d) for d in range(dirs)]
        W = np.stack([p[0] for p in per_dir])
        if k == 0 and table is not None:
            # one-hot input: W_ih x_t = W_ih[:, token], so gather the columns of every
            # direction's W (in ONNX gate order) and give the op a 0/1 selector as W
            GH = W.shape[1]
            tab = np.concatenate([w.T for w in W], axis=1)             # (V, dirs*GH)
            inp = g.node("Gather", [g.init("onehot_table", _f32(tab)), inp], axis=0)
            W = np.zeros((dirs, GH, dirs * GH))
            for d in range(dirs):
                W[d, :, d * GH:(d + 1) * GH] = np.eye(GH)
        ins = [inp, g.init(f"W_l{k}", _f32(W)),
               g.init(f"R_l{k}", _f32(np.stack([p[1] for p in per_dir]))),
               g.init(f"B_l{k}", _f32(np.stack([p[2] for p in per_dir]))), ""]
        if initial_state:
            lo = g.init("start", np.array([k * dirs], np.int64))
            hi = g.init("end", np.array([(k + 1) * dirs], np.int64))
            ins.append(g.node("Slice", [h0, lo, hi]))
            if has_c:
                ins.append(g.node("Slice", [c0, lo, hi]))
        else:
            ins += [""] * (2 if has_c else 1)
        if per_dir[0][3] is not None:
            ins.append(g.init(f"P_l{k}", _f32(np.stack([p[3] for p in per_dir]))))
        while ins and ins[-1] == "":
            ins.pop()
        outs = g.node(op, ins, n_out=3 if has_c else 2, **attrs)
        y = g.node("Transpose", [outs[0]], perm=[0, 2, 1, 3])            # [T, B, dirs, H]
        inp = g.node("Reshape", [y, g.init("shape", np.array([0, 0, -1], np.int64))])
        hs.append(outs[1])
        if has_c:
            cs.append(outs[2])
    return inp, hs, cs


def _finish_states(g, hs, cs, layer):
    LD, H = layer.num_layers * layer.num_directions, layer.hidden_size
    outs = [("h_n", hs)] + ([("c_n", cs)] if cs else [])
    for name, parts in outs:
        if len(parts) == 1:
            g.node("Identity", parts, outputs=[name])
        else:
            g.node("Concat", parts, outputs=[name], axis=0)
        g.outputs.append(g.helper.make_tensor_value_info(name, g.TP.FLOAT, [LD, "batch", H]))


def _model_proto(g, doc, metadata):
    helper, onnx = g.helper, g.onnx
    graph = helper.make_graph(g.nodes, "rnnlab", g.inputs, g.outputs, initializer=g.inits)
    proto = helper.make_model(graph, producer_name="rnnlab", doc_string=doc,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8
    for k, v in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto)
    return proto


def layer_to_onnx(layer, initial_state=False):
    """An ONNX ModelProto for a bare recurrent layer: input `x` [T, B, D] -> `y` [T, B, dirs*H],
    `h_n` (and `c_n`). batch_first layers are exported time-major like every other graph."""
    g = _Graph()
    D = layer.input_size
    g.inputs.append(g.helper.make_tensor_value_info("x", g.TP.FLOAT, ["time", "batch", D]))
    y, hs, cs = _recurrent_stack(g, layer, "x", initial_state=initial_state)
    g.node("Identity", [y], outputs=["y"])
    g.outputs.append(g.helper.make_tensor_value_info(
        "y", g.TP.FLOAT, ["time", "batch", layer.num_directions * layer.hidden_size]))
    _finish_states(g, hs, cs, layer)
    return _model_proto(g, f"rnnlab {layer!r}", {"rnnlab.layer": repr(layer)})


def model_to_onnx(model, data_meta=None, initial_state=False):
    """An ONNX ModelProto for a SequenceModel (or a TrainedModel from rnnlab.load)."""
    if hasattr(model, "model") and hasattr(model, "meta"):        # a TrainedModel
        data_meta = model.meta if data_meta is None else data_meta
        model = model.model
    cfg, layer = model.cfg, model.rnn
    if cfg.head != "bernoulli":
        raise RnnlabError(f"ONNX export has no {cfg.head} head (its chords are drawn pitch by "
                          f"pitch, a loop ONNX's graph here does not hold); use the model with "
                          f"rnnlab, or train --head bernoulli to export")
    g = _Graph()
    if cfg.task == "text":
        g.inputs.append(g.helper.make_tensor_value_info("tokens", g.TP.INT64, ["time", "batch"]))
        if model.embed is not None:
            x = g.node("Gather", [g.init("embed_weight", _f32(model.embed.params["weight"])),
                                  "tokens"], axis=0)
            y, hs, cs = _recurrent_stack(g, layer, x, initial_state=initial_state)
        else:
            y, hs, cs = _recurrent_stack(g, layer, "tokens", table=True,
                                         initial_state=initial_state)
    else:
        g.inputs.append(g.helper.make_tensor_value_info("x", g.TP.FLOAT,
                                                        ["time", "batch", layer.input_size]))
        y, hs, cs = _recurrent_stack(g, layer, "x", initial_state=initial_state)
    out_name = "predictions" if cfg.task == "series" else "logits"
    hw = g.init("head_weight_T", _f32(model.head.params["weight"].T))
    out = g.node("MatMul", [y, hw])
    if "bias" in model.head.params:
        g.node("Add", [out, g.init("head_bias", _f32(model.head.params["bias"]))],
               outputs=[out_name])
    else:
        g.node("Identity", [out], outputs=[out_name])
    g.outputs.append(g.helper.make_tensor_value_info(out_name, g.TP.FLOAT,
                                                     ["time", "batch", cfg.output_size]))
    _finish_states(g, hs, cs, layer)
    meta = {"rnnlab.model": json.dumps(cfg.to_json()), "rnnlab.version": __version__,
            "rnnlab.task": cfg.task, "rnnlab.output": out_name}
    if data_meta is not None:
        meta["rnnlab.data"] = json.dumps(data_meta)
    return _model_proto(g, f"rnnlab {cfg.task} model ({cfg.cell}, {cfg.layers} layer(s), "
                        f"hidden {cfg.hidden})", meta)


def export_onnx(model, path, initial_state=False, which="best"):
    """Write an ONNX file for a run folder path, a TrainedModel, a SequenceModel or a layer.
    Returns the path. Written atomically."""
    if isinstance(model, RecurrentLayer):
        proto = layer_to_onnx(model, initial_state)
    else:
        if not hasattr(model, "forward"):
            from ..training.load import load
            model = load(model, which)
        proto = model_to_onnx(model, initial_state=initial_state)
    atomic_write_bytes(path, proto.SerializeToString())
    return path
