"""Free contiguous memory for the runtime's budget check, from the device or from the kernel.

Every buffer the DMAs touch comes from the Linux kernel's contiguous memory allocator (CMA):
on PYNQ 4.0 ``pynq.allocate`` makes XRT buffer objects, which the ``zocl`` driver takes from the
CMA pool. The emulated board reports its allocator (``memory_stats()``); pynq's board device
reports nothing, so on a board the figures come from ``/proc/meminfo``, whose ``CmaTotal`` and
``CmaFree`` lines give the pool size and the free part in kB (``board_setup.sh`` reads the same
file to warn about a small pool).

``CmaFree`` is the sum of every free CMA page, not the largest free block: a budget that fits
is necessary but, with a fragmented pool, not sufficient (pynq then fails inside the
allocation).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["MEMINFO", "CmaInfo", "FreeContiguous", "free_contiguous_memory", "read_cma"]

MEMINFO = Path("/proc/meminfo")
"""The kernel's memory report read on a board (tests point :func:`read_cma` elsewhere)."""

_log = logging.getLogger(__name__)
_UNITS = {"kB": 1024, "B": 1}


class CmaInfo(NamedTuple):
    """The CMA pool as ``/proc/meminfo`` reports it.

    Attributes:
        total: Pool size (``CmaTotal``), bytes.
        free: Free pages of the pool (``CmaFree``), bytes.
        source: The file the figures were read from.
    """

    total: int
    free: int
    source: Path


class FreeContiguous(NamedTuple):
    """Contiguous memory available for new buffers.

    Attributes:
        free: Bytes.
        source: Where the figure comes from (for error messages).
    """

    free: int
    source: str


def read_cma(meminfo: str | os.PathLike[str] | None = None) -> CmaInfo | None:
    """``CmaTotal`` and ``CmaFree`` of a ``/proc/meminfo``-format file.

    Args:
        meminfo: The file to read; default :data:`MEMINFO`.

    Returns:
        The figures in bytes, or ``None`` when the file cannot be read or lacks either line (a
        kernel built without CMA has neither).
    """
    path = Path(meminfo) if meminfo is not None else MEMINFO
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key not in ("CmaTotal", "CmaFree"):
            continue
        words = rest.split()
        # The kernel prints "<n> kB"; anything else is not a figure we can trust.
        if len(words) == 2 and words[0].isdigit() and words[1] in _UNITS:
            found[key] = int(words[0]) * _UNITS[words[1]]
    if len(found) != 2:
        return None
    return CmaInfo(found["CmaTotal"], found["CmaFree"], path)


def free_contiguous_memory(
    device: Any, *, on_board: bool, meminfo: str | os.PathLike[str] | None = None
) -> FreeContiguous | None:
    """Contiguous memory free for the runtime's buffers, or ``None`` if nobody can tell.

    Args:
        device: The pynq device buffers are allocated on. Its ``memory_stats()`` is used when it
            has one (the emulated board: ``largest_free``, else ``free``).
        on_board: The device is the real board's: without ``memory_stats()`` the kernel's
            ``CmaFree`` is read from ``meminfo``. (On a host the kernel's CMA pool has nothing
            to do with the emulated board's memory.)
        meminfo: The ``/proc/meminfo``-format file; default :data:`MEMINFO`.

    Returns:
        The free bytes and their source; ``None`` (after logging a warning) when neither the
        device nor the kernel reports them, so the budget check is skipped.
    """
    stats = getattr(device, "memory_stats", None)
    if callable(stats):
        st = stats()
        for attr in ("largest_free", "free"):
            value = getattr(st, attr, None)
            if value is not None:
                return FreeContiguous(int(value), f"device memory_stats().{attr}")
    path = Path(meminfo) if meminfo is not None else MEMINFO
    if on_board:
        cma = read_cma(path)
        if cma is not None:
            return FreeContiguous(cma.free, f"CmaFree in {cma.source}, pool {cma.total:,} bytes")
        why = f"{path} has no CmaTotal/CmaFree lines (or cannot be read)"
    else:
        why = "the device reports no memory_stats()"
    _log.warning("contiguous-memory budget not checked: %s", why)
    return None
