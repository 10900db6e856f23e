"""Atomic file writes and JSON reads: the one place that writes a user's files.

Every write goes to a temporary file in the target's folder, is flushed, fsynced and renamed
over the target (then the folder is fsynced), so a crash, a full disk or a signal leaves
either the old file or the whole new one, never half of one. The new file gets the mode any
other tool would give it: 0666 minus the user's umask (mkstemp alone would leave 0600).
"""
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import RnnlabError


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask_from_proc():
    """The umask as the kernel reports it (Linux 4.7+), or None where it does not."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


# Where /proc does not say (macOS, Windows), the only way to read the umask is to set it and
# put it back; that is done once, here at import, before any thread of ours can write, and
# never again (a thread writing while the umask is swapped would get a wrong mode).
_UMASK_AT_IMPORT = None if _umask_from_proc() is not None else os.umask(0o022)
if _UMASK_AT_IMPORT is not None:
    os.umask(_UMASK_AT_IMPORT)


def umask():
    """The process umask, read without changing it: from /proc on Linux (so a umask the user
    sets later is followed), else the one read once at import."""
    mask = _umask_from_proc()
    return _UMASK_AT_IMPORT if mask is None else mask


def atomic_write_bytes(path, data):
    """Write `data` to `path` via a temp file in the same folder + fsync + os.replace. On any
    failure (a full disk, a permission, a signal) the temp file is removed and `path` is left
    as it was; an OSError names `path` (its .filename), so the one line the command line
    prints says which file could not be written."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise RnnlabError(f"cannot write {path}: the folder {folder} does not exist; create it "
                          "or choose another path")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(e, OSError):
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    _fsync_dir(folder)


def json_default(obj):
    """json.dumps(default=...) for what rnnlab stores: numpy scalars and arrays, paths."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")


def to_json(obj, indent=2):
    """JSON text of `obj`; numpy scalars and arrays become numbers and lists."""
    return json.dumps(obj, indent=indent, default=json_default)


def atomic_write_json(path, obj):
    """Atomically write `obj` as indented JSON (numpy scalars/arrays become numbers/lists)."""
    atomic_write_bytes(path, (to_json(obj) + "\n").encode("utf-8"))


def read_json(path, what):
    """Parse a JSON file; a missing or malformed file -> RnnlabError naming it."""
    path = Path(path)
    if not path.is_file():
        raise RnnlabError(f"{what} {path} not found; check the run folder path")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise RnnlabError(f"{what} {path} is not valid JSON ({e}); restore it or re-run "
                          "training into a new folder") from None
