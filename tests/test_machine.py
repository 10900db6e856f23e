"""The kernels' L2-derived sizes (nn/kernels/machine.py), from a sysfs cache tree as Linux
writes it, for the two CPUs rnnlab was measured on (their published per-core sizes) and for
one whose sizes cannot be read."""
import pytest

from rnnlab.nn.kernels import machine

CPUS = {  # (L1d, L1i, L2, L3) as sysfs writes them, cpu0's view
    "AMD EPYC 9004 (Zen 4)": ("32K", "32K", "1024K", "32768K"),
    "Intel Xeon 3rd gen (Ice Lake-SP)": ("48K", "32K", "1280K", "49152K"),
    "AMD EPYC 7003 (Zen 3)": ("32K", "32K", "512K", "32768K"),
}


def sysfs(tmp_path, sizes):
    for i, (level, kind, size) in enumerate(zip((1, 1, 2, 3),
                                                 ("Data", "Instruction", "Unified", "Unified"),
                                                 sizes)):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    return str(tmp_path)


@pytest.mark.parametrize("cpu, l2, units_from, k_rows", [
    ("AMD EPYC 9004 (Zen 4)", 1 << 20, 1 << 20, 512),
    ("Intel Xeon 3rd gen (Ice Lake-SP)", 1280 << 10, 1280 << 10, 512),
    ("AMD EPYC 7003 (Zen 3)", 512 << 10, 512 << 10, 256),
])
def test_sizes_follow_the_l2_of_the_cpu(tmp_path, cpu, l2, units_from, k_rows):
    sizes = machine.cache_sizes(sysfs(tmp_path, CPUS[cpu]))
    assert sizes["l2"] == l2
    assert sizes["l1d"] == {"32K": 32 << 10, "48K": 48 << 10}[CPUS[cpu][0]]
    assert machine.units_min_weight_bytes(sizes) == units_from
    assert machine.k_block_rows(sizes) == k_rows
    # the LSTM's W_hh (4 H^2 float32) first splits its units at H = 256 on Zen 4 (1 MB),
    # H = 288 on Ice Lake (1.27 MB), H = 192 on Zen 3 (576 KB)
    first = next(H for H in range(32, 2048, 32) if 4 * H * H * 4 >= units_from)
    assert first == {1 << 20: 256, 1280 << 10: 288, 512 << 10: 192}[units_from]


def test_unreadable_sysfs_falls_back_to_the_zen4_sizes(tmp_path):
    assert machine.cache_sizes(str(tmp_path / "missing")) == machine.ZEN4
    assert machine.k_block_rows(machine.ZEN4) == 512
