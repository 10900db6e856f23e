"""The run folder: config.json, safetensors weights, history.json, resume state. Atomic.

Layout of a run folder:
  config.json          the resolved config, with "format": FORMAT_VERSION and "rnnlab_version"
  model.safetensors    last weights;  best.safetensors  best weights on validation
  history.json         list of per-evaluation records (dicts)
  state.safetensors    optimizer buffers etc. for --resume, with the JSON metadata (step, RNG
                       state, stream position, ...) in its header: one file, one atomic rename
  state.json           a readable copy of that metadata

Every write is atomic (rnnlab.fileio): a crash leaves either the old or the new file.
Weights are only ever read with safetensors; nothing here unpickles.
"""
import json
import struct
import uuid
from pathlib import Path

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from .._version import __version__
from ..errors import RnnlabError
from ..fileio import json_default, atomic_write_bytes, atomic_write_json, read_json

FORMAT_VERSION = 1
WEIGHT_NAMES = ("model", "best")


# ---------------------------------------------------------------- safetensors

def save_tensors(path, tensors, metadata=None):
    """Write name -> ndarray as a safetensors file, atomically. metadata: dict[str, str]."""
    if not isinstance(tensors, dict):
        raise RnnlabError(f"tensors must be a dict name -> ndarray, got {type(tensors).__name__}")
    for k, v in tensors.items():
        if not isinstance(k, str) or not isinstance(v, np.ndarray) or v.dtype == object:
            raise RnnlabError(f"cannot save tensor {k!r} ({type(v).__name__}) to {path}; "
                              "pass numeric numpy arrays under string names")
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in metadata.items()):
        raise RnnlabError(f"safetensors metadata for {path} must map str -> str; "
                          "json.dumps non-string values first")
    data = safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in tensors.items()},
                                  metadata=metadata)
    atomic_write_bytes(path, data)


def _invalid(path, why):
    return RnnlabError(f"{path} is not a valid rnnlab weights file ({why}); re-export it or "
                       "re-train to produce a new one")


def load_tensors_with_metadata(path):
    """-> (tensors: dict[str, ndarray] (writable copies), metadata: dict[str, str])."""
    path = Path(path)
    if not path.exists():
        raise _invalid(path, "file not found")
    if not path.is_file():
        raise _invalid(path, "not a file")
    data = path.read_bytes()        # an OSError (a permission, a disk) is that, not "invalid"
    try:
        tensors = safetensors.numpy.load(data)
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        metadata = header.get("__metadata__") or {}
    except (SafetensorError, struct.error, ValueError, KeyError, TypeError, AttributeError) as e:
        # what a damaged or foreign file raises; a MemoryError is not the file's fault
        raise _invalid(path, f"{type(e).__name__}: {e}".splitlines()[0][:200]) from e
    return {k: np.array(v) for k, v in tensors.items()}, dict(metadata)


def load_tensors(path):
    """Read a safetensors file -> dict[str, ndarray]; any failure -> RnnlabError."""
    return load_tensors_with_metadata(path)[0]


# ---------------------------------------------------------------- the run folder

class RunFolder:
    """A training run's folder. All writes atomic; all reads validated."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    def exists(self):
        """True when the folder holds a config.json (i.e. is a run folder)."""
        return (self.path / "config.json").is_file()

    def create(self, exist_ok=False):
        """Make the folder; an existing non-empty one is refused unless exist_ok."""
        if self.path.exists() and not self.path.is_dir():
            raise RnnlabError(f"run folder {self.path} is an existing file; choose another --out")
        if self.path.is_dir() and any(self.path.iterdir()) and not exist_ok:
            raise RnnlabError(f"run folder {self.path} already exists; pass --resume to "
                              "continue it or choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # ---- config
    def write_config(self, cfg):
        """Write config.json, adding "format" and "rnnlab_version"."""
        if not isinstance(cfg, dict):
            raise RnnlabError(f"config must be a dict, got {type(cfg).__name__}")
        atomic_write_json(self.path / "config.json",
                          {**cfg, "format": FORMAT_VERSION, "rnnlab_version": __version__})

    def read_config(self):
        """Read and validate config.json -> dict."""
        path = self.path / "config.json"
        if not path.is_file():
            raise RnnlabError(f"{self.path} is not an rnnlab run folder (no config.json); "
                              "pass the --out folder of a training run")
        cfg = read_json(path, "config")
        if not isinstance(cfg, dict):
            raise RnnlabError(f"config {path} must hold a JSON object, got "
                              f"{type(cfg).__name__}; re-run training into a new folder")
        for key in ("format", "rnnlab_version"):
            if key not in cfg:
                raise RnnlabError(f"config {path} lacks the '{key}' key; it was not written by "
                                  "rnnlab, re-run training into a new folder")
        if cfg["format"] != FORMAT_VERSION:
            raise RnnlabError(f"config {path} has format {cfg['format']!r}, this rnnlab reads "
                              f"format {FORMAT_VERSION}; use the rnnlab version "
                              f"{cfg['rnnlab_version']} that wrote it, or re-train")
        return cfg

    # ---- weights
    def has_weights(self, name):
        """True when `<name>.safetensors` ('model' or 'best') has been written."""
        return self._weights_path(name).is_file()

    def weights_file(self, name):
        """The path of `<name>.safetensors`, for messages."""
        return self._weights_path(name)

    def _weights_path(self, name):
        if name not in WEIGHT_NAMES:
            raise RnnlabError(f"weights name must be one of {WEIGHT_NAMES}, got {name!r}")
        return self.path / f"{name}.safetensors"

    def save_weights(self, name, tensors, metadata=None):
        """Write `<name>.safetensors` (name 'model' = last, 'best' = best on validation)."""
        save_tensors(self._weights_path(name), tensors, metadata)

    def load_weights(self, name):
        return load_tensors(self._weights_path(name))

    # ---- history
    def read_history(self):
        """history.json -> list of dicts ([] when there is none yet)."""
        path = self.path / "history.json"
        if not path.exists():
            return []
        hist = read_json(path, "history")
        if not isinstance(hist, list) or not all(isinstance(r, dict) for r in hist):
            raise RnnlabError(f"history {path} must be a JSON list of objects; delete it or "
                              "re-run training into a new folder")
        return hist

    def write_history(self, records):
        """Write history.json: the list of evaluation records (rewritten whole, atomically)."""
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise RnnlabError("history must be a list of dicts, one per evaluation")
        atomic_write_json(self.path / "history.json", records)

    # ---- resume state
    def has_state(self):
        """True when a checkpoint (training state) has been saved."""
        return (self.path / "state.safetensors").is_file() or (self.path / "state.json").is_file()

    def save_state(self, arrays, meta):
        """Write state.safetensors then state.json; a shared id ties the pair together."""
        if not isinstance(meta, dict):
            raise RnnlabError(f"state meta must be a dict, got {type(meta).__name__}")
        state_id = uuid.uuid4().hex
        # the meta also goes into the tensors file, so that one atomic rename makes the whole
        # checkpoint: a crash between the two writes leaves a complete state.safetensors
        meta_json = json.dumps(meta, default=json_default)
        save_tensors(self.path / "state.safetensors", arrays,
                     {"state_id": state_id, "meta": meta_json})
        atomic_write_json(self.path / "state.json", {"state_id": state_id, "meta": meta})

    def load_state(self):
        """-> (arrays, meta) as given to save_state; RnnlabError if absent or inconsistent."""
        json_path = self.path / "state.json"
        tensors_path = self.path / "state.safetensors"
        if tensors_path.is_file():
            arrays, metadata = load_tensors_with_metadata(tensors_path)
            if "meta" in metadata:          # self-contained (state.json is a readable copy)
                try:
                    return arrays, json.loads(metadata["meta"])
                except ValueError:
                    raise _invalid(tensors_path, "its training-state metadata is not JSON") from None
        if not json_path.is_file():
            raise RnnlabError(f"{self.path} has no saved training state (state.json); it "
                              "cannot be resumed, start a new run instead")
        doc = read_json(json_path, "state")
        arrays, metadata = load_tensors_with_metadata(self.path / "state.safetensors")
        if not isinstance(doc, dict) or doc.get("state_id") != metadata.get("state_id"):
            raise RnnlabError(f"{self.path}: state.json and state.safetensors do not belong "
                              "together (interrupted save?); resume from an earlier copy or "
                              "start a new run")
        return arrays, doc["meta"]
