"""Kernels that another process is compiling for this one (``kernel_ahead``), and the wait
before a layer's first call of them: once that process has ended, their machine code is in
numba's cache and this process loads it instead of compiling it a second time. A floor below
the layers, so that they can wait."""

_CHILDREN = {}          # cell -> the Popen compiling its kernels


def expect(cells, proc):
    """`proc` (a subprocess.Popen) compiles the kernels of `cells`."""
    for cell in cells:
        _CHILDREN[cell] = proc


def wait_for(cell):
    """Wait until the process compiling `cell`'s kernels (if any) has ended; at once
    otherwise. If it failed, this process compiles them as it would have. Returns its exit
    code, None when there was none."""
    proc = _CHILDREN.pop(cell, None)
    return None if proc is None else proc.wait()


def pending():
    """The cells a process is compiling (or that nobody has waited for yet)."""
    return sorted(_CHILDREN)
