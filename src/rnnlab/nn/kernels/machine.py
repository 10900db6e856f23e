"""The caches of the machine the kernels run on, and the sizes derived from them.

The kernels' blocking and the unit split's threshold were first tuned on an AMD EPYC (Zen 4:
32 KB L1d, 1 MB L2 per core, 32 MB L3 per 8-core CCD). Other x86 CPUs differ where it matters:
an Intel Xeon of the Ice Lake generation has 48 KB L1d and 1.25 MB L2 per core, Zen 2 and 3
have 512 KB of L2, Sapphire Rapids 2 MB. So the two sizes that depend on the L2 are derived from
the L2 of the CPU that runs them (Linux's sysfs, read once; the Zen 4 sizes where it cannot be
read):

- ``units_min_weight_bytes``: the recurrent weights W_hh from which the time loop splits the
  hidden units over the threads (``policy.unit_split``). Below a core's L2 the batch split keeps
  all of W_hh in each core's L2; from it on, W_hh streams from L3 every step unless each core
  keeps only its half (measured on Zen 4, docs/performance.md: the split gained from H = 512
  on the LSTM, 4 MB, and broke even at H = 256, 1 MB).
- ``k_block_rows``: the K block of the packed row GEMM (``panels.KC_ROWS``): one block of a
  panel (K rows x 64 float32 columns) takes an eighth of the L2, room for the rows of A passing
  over it: 512 rows (128 KB) on a 1 MB L2 ran at 222 GFLOP/s against 192 unblocked. The
  blocking changes no bit (each block adds to the partial sums in order).
"""
import os

ZEN4 = {"l1d": 32 << 10, "l2": 1 << 20, "l3": 32 << 20}
SYSFS = "/sys/devices/system/cpu/cpu0/cache"


def _parse_size(text):
    """'1024K', '32768K', '2M', '512' -> bytes."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def cache_sizes(root=SYSFS):
    """{'l1d', 'l2', 'l3'}: bytes of one core's L1 data cache and L2 and of the L3 it shares,
    from sysfs under root (cpu0's caches); the Zen 4 sizes for whatever cannot be read."""
    sizes = dict(ZEN4)
    try:
        entries = sorted(e for e in os.listdir(root) if e.startswith("index"))
    except OSError:
        return sizes
    for e in entries:
        try:
            with open(os.path.join(root, e, "level")) as fh:
                level = int(fh.read())
            with open(os.path.join(root, e, "type")) as fh:
                kind = fh.read().strip()
            with open(os.path.join(root, e, "size")) as fh:
                size = _parse_size(fh.read())
        except (OSError, ValueError):
            continue
        if level == 1 and kind == "Data":
            sizes["l1d"] = size
        elif level in (2, 3) and kind == "Unified":
            sizes[f"l{level}"] = size
    return sizes


def units_min_weight_bytes(sizes):
    """W_hh bytes from which the unit split runs: one core's L2."""
    return sizes["l2"]


def k_block_rows(sizes, panel_bytes=256):
    """Rows of a packed panel block (panel_bytes a row: 64 float32 columns): a power of two
    whose block takes at most an eighth of the L2, between 128 and 1024."""
    rows = 128
    while rows < 1024 and 2 * rows * panel_bytes <= sizes["l2"] // 8:
        rows *= 2
    return rows


SIZES = cache_sizes()
