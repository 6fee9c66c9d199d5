"""arm_scheduler.cma: CMA figures from fake /proc/meminfo files and the device's own report."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from arm_scheduler.cma import CmaInfo, FreeContiguous, free_contiguous_memory, read_cma
from arm_scheduler.emulated.device import EmulatedDevice

# A ZCU104 PYNQ image's /proc/meminfo (shortened), CMA pool 256 MiB.
MEMINFO = """MemTotal:        2020680 kB
MemFree:         1441628 kB
MemAvailable:    1605444 kB
Buffers:           19116 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
CmaTotal:         262144 kB
CmaFree:          200704 kB
"""


def test_read_cma(tmp_path: Path) -> None:
    f = tmp_path / "meminfo"
    f.write_text(MEMINFO)
    assert read_cma(f) == CmaInfo(262144 * 1024, 200704 * 1024, f)
    f.write_text(MEMINFO.replace("CmaFree:          200704 kB\n", ""))
    assert read_cma(f) is None  # both figures or none
    f.write_text(MEMINFO.replace("200704 kB", "lots"))
    assert read_cma(f) is None
    f.write_text("".join(ln + "\n" for ln in MEMINFO.splitlines() if not ln.startswith("Cma")))
    assert read_cma(f) is None  # a kernel without CMA
    assert read_cma(tmp_path / "absent") is None


def test_device_report_wins_over_meminfo(tmp_path: Path) -> None:
    f = tmp_path / "meminfo"
    f.write_text(MEMINFO)
    dev = EmulatedDevice(ddr_bytes=1 << 20, cma_bytes=64 << 10)
    assert free_contiguous_memory(dev, on_board=True, meminfo=f) == FreeContiguous(
        64 << 10, "device memory_stats().largest_free"
    )
    only_free = SimpleNamespace(memory_stats=lambda: SimpleNamespace(free=12345))
    assert free_contiguous_memory(only_free, on_board=False) == FreeContiguous(
        12345, "device memory_stats().free"
    )


def test_board_device_reads_meminfo(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "meminfo"
    f.write_text(MEMINFO)
    board_device = object()  # pynq's board device has no memory_stats()
    got = free_contiguous_memory(board_device, on_board=True, meminfo=f)
    assert got is not None and got.free == 200704 * 1024
    assert got.source == f"CmaFree in {f}, pool {262144 * 1024:,} bytes"

    with caplog.at_level(logging.WARNING, logger="arm_scheduler.cma"):
        assert free_contiguous_memory(board_device, on_board=True, meminfo=tmp_path / "no") is None
        # Off the board the kernel's pool says nothing about the device: never read.
        assert free_contiguous_memory(board_device, on_board=False, meminfo=f) is None
    assert [r.getMessage() for r in caplog.records] == [
        "contiguous-memory budget not checked: "
        f"{tmp_path / 'no'} has no CmaTotal/CmaFree lines (or cannot be read)",
        "contiguous-memory budget not checked: the device reports no memory_stats()",
    ]
