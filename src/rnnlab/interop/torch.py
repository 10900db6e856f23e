"""PyTorch interop: a run's weights as a torch state dict, the matching nn.Module twin, and
importing torch-trained weights back into a run folder. torch is imported only here, lazily.

    from rnnlab.interop.torch import build_twin, export_torch, import_torch
    export_torch("run", "model.pt")                 # rnnlab export run --format torch -o model.pt
    twin = build_twin("run", weights=True)          # nn.Module with the run's weights
    ...train twin (DDP, GPUs, ...)...
    torch.save(twin.state_dict(), "trained.pt")
    import_torch("trained.pt", "run", "run2")        # rnnlab import trained.pt --config run --out run2

rnnlab's parameter names are torch's: ``embed.weight`` (nn.Embedding), ``rnn.weight_ih_l0`` ...
(nn.LSTM / nn.GRU / nn.RNN, same gate order), ``head.weight``, ``head.bias`` (nn.Linear), so
the state dict maps one to one. The twin's forward is the SequenceModel's:
``twin(inputs, state=None) -> (out, state_n)`` with tokens (T, B) int64 (one-hot or embedding)
or x (T, B, D), time-major. The peephole and coupled LSTM have no torch layer: building their
twin raises RnnlabError (their weights still export to ONNX).

A cell torch has no layer for (minGRU, minLSTM: interop/torch_min.py; sLSTM, mLSTM:
interop/torch_xlstm.py), and a configuration whose options
torch's layer lacks (the LSTM's layer norm, zoneout, recurrent dropout; proj_size is nn.LSTM's
own), gets its twin from the module the registry names (`CellSpec.torch_twin`, e.g.
interop/torch_lstm.py, imported on first use), whose `build(mcfg, input_size, **torch_kw)`
makes the recurrent module. Its parameters have rnnlab's names, so the state dicts map one to
one.

Import never unpickles arbitrary objects: files are read with torch.load(weights_only=True),
and must hold a flat dict of tensors whose names and shapes match the config's model.
"""
import importlib
import io
import json
from pathlib import Path

import numpy as np

from ..errors import RnnlabError, install_line
from ..nn import registry


def _torch():
    try:
        import torch
    except ImportError:
        raise RnnlabError(f"this needs PyTorch, which the 'all' extra leaves out (its CPU wheel "
                          f"is about 190 MB; PyPI's default Linux wheel pulls CUDA, several "
                          f"GB); install it with: {install_line('torch')}") from None
    return torch


# ----------------------------------------------------------------------------- configs

def read_run_config(path):
    """A run folder, or a config.json file -> the validated config dict."""
    from ..fileio import read_json
    from ..training.run_folder import FORMAT_VERSION, RunFolder
    path = Path(path)
    if path.is_dir():
        return RunFolder(path).read_config()
    if path.is_file():
        cfg = read_json(path, "config")
        if not isinstance(cfg, dict) or "model" not in cfg:
            raise RnnlabError(f"config {path} is not an rnnlab run config (no 'model' key); pass "
                              "a run folder or its config.json")
        if cfg.get("format") != FORMAT_VERSION:
            raise RnnlabError(f"config {path} has format {cfg.get('format')!r}, this rnnlab reads "
                              f"format {FORMAT_VERSION}; use the rnnlab version that wrote it")
        return cfg
    raise RnnlabError(f"config {path} not found; pass a run folder or its config.json")


def _model_config(cfg):
    from ..tasks.model import ModelConfig
    if isinstance(cfg, ModelConfig):
        return cfg
    if isinstance(cfg, dict) and "model" in cfg:
        return ModelConfig.from_json(cfg["model"])
    return ModelConfig.from_json(read_run_config(cfg)["model"])


def _check_twinnable(mcfg):
    if mcfg.head != "bernoulli":
        raise RnnlabError(f"the torch twin has no {mcfg.head} head (its pitch-by-pitch sampling "
                          f"is rnnlab's own); use this model with rnnlab, or train --head "
                          f"bernoulli for torch")
    spec = registry.get(mcfg.cell)
    if spec.torch_layer is None and spec.torch_twin is not None:
        return
    problem = spec.torch_problem(mcfg)
    if problem is not None:
        raise RnnlabError(f"{problem}; train it with rnnlab, or export it with --format onnx")


# ----------------------------------------------------------------------------- the twin

def _recurrent_module(mcfg, input_size, kw):
    """torch's own layer (the registry's torch_layer) when it computes the configuration, the
    options that are on passed as its keywords (CellOption.torch_kw: proj_size); else the
    twin module the registry names (torch_twin)."""
    spec = registry.get(mcfg.cell)
    on = spec.options_on(getattr(mcfg, "cell_options", None) or {})
    lacking = [o.name for o, _ in on if o.torch_kw is None]
    if spec.torch_layer is not None and not lacking:
        kw = dict(kw, **{o.torch_kw: value for o, value in on})
        return getattr(_torch().nn, spec.torch_layer)(input_size, mcfg.hidden, **kw)
    if spec.torch_twin is None:
        raise RnnlabError(f"torch's nn.{spec.torch_layer} has no {lacking[0]} and rnnlab has no "
                          f"twin for it; train this {mcfg.cell} with rnnlab")
    module = importlib.import_module(f"{__package__}.{spec.torch_twin}")
    return module.build(mcfg, input_size, **kw)


_TWIN = None


def _twin_class():
    global _TWIN
    if _TWIN is not None:
        return _TWIN
    torch = _torch()
    nn = torch.nn

    class SequenceModelTwin(nn.Module):
        """torch twin of rnnlab.models.SequenceModel: same names, shapes and forward."""

        def __init__(self, mcfg):
            super().__init__()
            _check_twinnable(mcfg)
            self.cfg = mcfg
            dtype = torch.float64 if mcfg.dtype == "float64" else torch.float32
            bidirectional = bool(getattr(mcfg, "bidirectional", False))
            E = mcfg.input_size
            if mcfg.task == "text" and mcfg.embed:
                self.embed = nn.Embedding(mcfg.input_size, mcfg.embed, dtype=dtype)
                E = mcfg.embed
            kw = dict(num_layers=mcfg.layers, dropout=mcfg.dropout if mcfg.layers > 1 else 0.0,
                      bidirectional=bidirectional, dtype=dtype)
            if "nonlinearity" in registry.get(mcfg.cell).config_options:
                kw["nonlinearity"] = mcfg.nonlinearity
            self.rnn = _recurrent_module(mcfg, E, kw)
            dirs = 2 if bidirectional else 1
            width = getattr(self.rnn, "proj_size", 0) or mcfg.hidden     # y's, per direction
            self.head = nn.Linear(width * dirs, mcfg.output_size, dtype=dtype)
            # rnnlab's non-recurrent dropout on x and on the top layer's h (no parameters)
            self.in_drop = nn.Dropout(getattr(mcfg, "input_dropout", 0.0))
            self.out_drop = nn.Dropout(getattr(mcfg, "output_dropout", 0.0))
            self._dtype = dtype

        def encode(self, inputs):
            if self.cfg.task != "text":
                return inputs.to(self._dtype)
            if hasattr(self, "embed"):
                return self.embed(inputs)
            return torch.nn.functional.one_hot(inputs, self.cfg.input_size).to(self._dtype)

        def forward(self, inputs, state=None):
            y, state_n = self.rnn(self.in_drop(self.encode(inputs)), state)
            return self.head(self.out_drop(y)), state_n

        def loss(self, out, targets):
            """The task's loss as rnnlab defines it (mean over every target)."""
            F = torch.nn.functional
            if self.cfg.task == "text":
                return F.cross_entropy(out.reshape(-1, out.shape[-1]), targets.reshape(-1))
            if self.cfg.task == "series":
                return F.mse_loss(out, targets)
            return F.binary_cross_entropy_with_logits(out, targets.to(out.dtype))

    _TWIN = SequenceModelTwin
    return _TWIN


def build_twin(config, weights=False, which="best"):
    """The nn.Module twin for a run folder / config.json path / config dict / ModelConfig.
    weights=True (run folder only) loads the run's weights into it."""
    mcfg = _model_config(config)
    twin = _twin_class()(mcfg)
    if weights:
        from ..training.load import load
        twin.load_state_dict(torch_state_dict(load(config, which)))
    return twin


# ----------------------------------------------------------------------------- export

def torch_state_dict(model):
    """rnnlab model (SequenceModel / TrainedModel / run path) -> dict of plain torch tensors."""
    torch = _torch()
    if isinstance(model, (str, Path)):
        from ..training.load import load
        model = load(model)
    if hasattr(model, "meta") and hasattr(model, "model"):
        model = model.model
    return {k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()}


def export_torch(model, path, which="best"):
    """Write the state dict (loadable with torch.load(path, weights_only=True)). Atomic."""
    torch = _torch()
    from ..fileio import atomic_write_bytes
    if isinstance(model, (str, Path)):
        from ..training.load import load
        model = load(model, which)
    buf = io.BytesIO()
    torch.save(torch_state_dict(model), buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


# ----------------------------------------------------------------------------- import

def load_torch_weights(path):
    """A .pt file -> dict name -> torch tensor, read with weights_only=True (never runs code).
    Accepts a flat state dict, {'state_dict': ...}, and DDP's 'module.' prefixes."""
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise RnnlabError(f"weights file {path} not found; check the path")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise                   # not the file's fault: say so as it is
    except Exception as e:  # UnpicklingError for foreign objects, RuntimeError for bad zips...
        why = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        raise RnnlabError(f"{path} is not a plain PyTorch state dict ({why}); save it with "
                          "torch.save(model.state_dict(), path)") from e
    if isinstance(obj, dict) and set(obj) == {"state_dict"}:
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise RnnlabError(f"{path} holds a {type(obj).__name__}, expected a non-empty state "
                          "dict (name -> tensor); save it with torch.save(model.state_dict(), path)")
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise RnnlabError(f"{path}: entry {k!r} is a {type(v).__name__}, expected a tensor; "
                              "save it with torch.save(model.state_dict(), path)")
    if all(k.startswith("module.") for k in obj):             # saved from DDP(model)
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def import_torch(pt_path, config, out, exist_ok=False):
    """Bring torch-trained weights into a new run folder `out`, built from `config` (a run
    folder or its config.json). Keys and shapes must match; values must be finite."""
    torch = _torch()
    from ..nn.checks import check_state_dict
    from ..training.run_folder import RunFolder
    from ..tasks.model import ModelConfig, SequenceModel
    cfg = read_run_config(config)
    mcfg = ModelConfig.from_json(cfg.get("model"))
    model = SequenceModel(mcfg)
    tensors = load_torch_weights(pt_path)
    check_state_dict(model.params, tensors, str(pt_path))
    arrays = {}
    for k, t in tensors.items():
        if t.is_sparse or t.is_complex() or not (t.is_floating_point()):
            raise RnnlabError(f"{pt_path}: '{k}' has dtype {t.dtype}, expected real floats")
        a = t.detach().to("cpu", torch.float64).numpy().astype(model.dtype)
        if not np.isfinite(a).all():
            raise RnnlabError(f"{pt_path}: '{k}' holds NaN or inf; the torch training diverged,"
                              " import an earlier checkpoint")
        arrays[k] = a
    model.load_state_dict(arrays, source=str(pt_path))
    run = RunFolder(out).create(exist_ok=exist_ok)
    new_cfg = {k: v for k, v in cfg.items() if k not in ("format", "rnnlab_version")}
    new_cfg["imported_from"] = str(pt_path)
    run.write_config(new_cfg)
    run.save_weights("model", model.state_dict(),
                     metadata={"imported_from": str(pt_path), "model": json.dumps(mcfg.to_json())})
    return run
