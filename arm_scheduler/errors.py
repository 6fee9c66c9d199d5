"""Typed errors of the board runtime (:mod:`arm_scheduler`).

They live here rather than in :mod:`edge_dnn.errors` because the runtime may import ``edge_dnn``
but never the reverse; all of them derive from :class:`edge_dnn.errors.EdgeDnnError`. The errors
of the emulated board are in :mod:`arm_scheduler.emulated.errors`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from edge_dnn.errors import EdgeDnnError


class BoardError(EdgeDnnError):
    """Base class of the errors of the board runtime."""


class BitstreamNotFoundError(BoardError):
    """An overlay's bitstream (or its ``.hwh``) is in none of the places searched.

    Attributes:
        name: The file looked for (``edge_dnn_<overlay>.bit`` or its ``.hwh``).
        searched: Every path tried, in order.
    """

    def __init__(self, name: str, searched: Sequence[str | Path], hint: str = "") -> None:
        self.name = name
        self.searched = [str(p) for p in searched]
        tried = ", ".join(self.searched) or "nowhere"
        super().__init__(f"{name} not found (searched {tried}){'; ' + hint if hint else ''}")


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """One difference between a loaded overlay and its configuration.

    Attributes:
        ip: Block-design instance (``engine``, ``dma_act0``, ``axi_intc``).
        key: What differs (``phys_addr``, ``parameters.c_sg_length_width``, ``type``, ...).
        expected: The value ``overlay.toml`` implies.
        actual: The value of the loaded overlay (``None``: absent).
    """

    ip: str
    key: str
    expected: object
    actual: object

    def __str__(self) -> str:
        def show(v: object) -> str:
            if v is None:
                return "absent"
            if isinstance(v, int) and not isinstance(v, bool) and v >= 4096:
                return f"{v:#x}"
            return repr(v)

        return f"{self.ip}.{self.key}: expected {show(self.expected)}, got {show(self.actual)}"


class OverlayMismatchError(BoardError):
    """A loaded overlay (its ``.hwh``: ``ip_dict``) does not match the overlay configuration.

    Attributes:
        overlay: Name of the overlay configuration compared against.
        mismatches: Every difference found, in a stable order.
    """

    def __init__(self, overlay: str, mismatches: Sequence[Mismatch], source: str = "") -> None:
        self.overlay = overlay
        self.mismatches = list(mismatches)
        where = f" ({source})" if source else ""
        lines = "\n".join(f"  {m}" for m in self.mismatches)
        super().__init__(
            f"loaded overlay does not match overlay '{overlay}'{where}: "
            f"{len(self.mismatches)} mismatch(es):\n{lines}"
        )
