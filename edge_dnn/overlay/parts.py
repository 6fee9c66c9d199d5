"""Resources of the Zynq UltraScale+ parts the overlays target.

Values are those of the project's board reference (``shared/reference/boards.md``); block sizes
are the architecture's (UG573: a BRAM36 is 36 Kb and splits into two 18 Kb halves; a URAM block is
288 Kb, 4096 x 72 bits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

BRAM36_BITS = 36 * 1024
"""Capacity of one BRAM36 (data plus parity bits)."""
URAM_DEPTH = 4096
URAM_WIDTH = 72
URAM_BITS = URAM_DEPTH * URAM_WIDTH
"""Capacity of one URAM288 block."""
BRAM36_SHAPES: tuple[tuple[int, int], ...] = (
    (32768, 1),
    (16384, 2),
    (8192, 4),
    (4096, 9),
    (2048, 18),
    (1024, 36),
    (512, 72),
)
"""``(depth, width)`` aspect ratios of a RAMB36E2 (512 x 72 only as a simple dual-port RAM)."""
BRAM18_SHAPES: tuple[tuple[int, int], ...] = (
    (16384, 1),
    (8192, 2),
    (4096, 4),
    (2048, 9),
    (1024, 18),
    (512, 36),
)
"""``(depth, width)`` aspect ratios of a RAMB18E2 (half a BRAM36; 512 x 36 as simple dual-port)."""


@dataclasses.dataclass(frozen=True)
class PartResources:
    """Programmable-logic resources of one device.

    Attributes:
        device: Device name, lower case (``xczu7ev``), the first field of a part string.
        board: Board that carries the device (informational).
        dsp: DSP48E2 slices.
        bram36: 36 Kb block RAMs.
        uram: 288 Kb UltraRAM blocks.
        lut: CLB LUTs.
        ff: CLB flip-flops.
    """

    device: str
    board: str
    dsp: int
    bram36: int
    uram: int
    lut: int
    ff: int

    def available(self, resource: str) -> int:
        """Amount of ``resource`` (``dsp``, ``bram36``, ``uram``, ``lut``, ``ff``)."""
        return int(getattr(self, resource))


PARTS: Mapping[str, PartResources] = MappingProxyType(
    {
        p.device: p
        for p in (
            PartResources("xczu9eg", "ZCU102", 2520, 912, 0, 274_080, 548_160),
            PartResources("xczu7ev", "ZCU104", 1728, 312, 96, 230_400, 460_800),
            PartResources("xczu5ev", "ZU5 class / Kria K26", 1248, 144, 64, 117_120, 234_240),
            PartResources("xczu3eg", "Ultra96", 360, 216, 0, 70_560, 141_120),
        )
    }
)
"""Known devices, keyed by device name."""


def device_of(part: str) -> str:
    """Device name of a Vivado part string (``xczu7ev-ffvc1156-2-e`` -> ``xczu7ev``)."""
    return part.strip().lower().split("-", 1)[0]
