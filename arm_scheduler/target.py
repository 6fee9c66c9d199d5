"""Where :class:`~arm_scheduler.runtime.Runtime` will run: a PYNQ board, or the emulated board.

The notebooks and demos start by telling the reader which of the two they are on.
:func:`current_target` answers with the board's name and the edge-dnn overlay built for it
(the mapping of ``board_setup.sh``: ZCU104 -> ``zcu104``, ZCU102 -> ``zcu102``, Ultra96 V1/V2 ->
``ultra96``); on a host the overlay is emulated bit-exactly, and any overlay can be chosen.

The board name comes from ``$BOARD`` (exported by PYNQ's ``/etc/profile.d/boardname.sh``) or,
when that is unset or ``Unknown``, from the device-tree node PYNQ reads
(``/proc/device-tree/chosen/pynq_board``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from arm_scheduler import pynq_api
from arm_scheduler.errors import BoardError

__all__ = ["BOARD_OVERLAYS", "Target", "board_name", "current_target", "overlay_for_board"]

BOARD_OVERLAYS: dict[str, str] = {
    "ZCU104": "zcu104",
    "ZCU102": "zcu102",
    "ULTRA96": "ultra96",
    "ULTRA96V1": "ultra96",
    "ULTRA96V2": "ultra96",
}
"""Board name (upper case, without spaces, ``-`` or ``_``) -> the edge-dnn overlay built for it."""

DT_BOARD_NODE = Path("/proc/device-tree/chosen/pynq_board")


def board_name() -> str | None:
    """The PYNQ board's name (``$BOARD`` or the device tree), None when there is none."""
    env = os.environ.get("BOARD", "").strip()
    if env and env != "Unknown":
        return env
    try:
        node = DT_BOARD_NODE.read_bytes().replace(b"\0", b"").decode("ascii", "replace").strip()
    except OSError:
        return None
    return node if node and node != "Unknown" else None


def overlay_for_board(name: str) -> str | None:
    """The edge-dnn overlay built for a board name (``"ZCU104"`` -> ``"zcu104"``), else None."""
    key = "".join(c for c in name.upper() if c not in " _-")
    return BOARD_OVERLAYS.get(key)


@dataclasses.dataclass(frozen=True)
class Target:
    """Where models will run.

    Attributes:
        on_board: True on a PYNQ board (the real overlay), False on a host (emulated board).
        board: The board's name, or ``"emulated"``.
        overlay: The overlay models should be compiled for.
    """

    on_board: bool
    board: str
    overlay: str

    def describe(self) -> str:
        """One line for a reader: board or emulated, and the overlay."""
        if self.on_board:
            return (
                f"running on a {self.board} board: models run on the real '{self.overlay}' overlay"
            )
        return (
            f"running on the emulated board (no PYNQ board here): the '{self.overlay}' overlay is "
            "emulated bit-exactly on this host, through the same pynq drivers"
        )


def current_target(default_overlay: str = "zcu104") -> Target:
    """The board and overlay of this machine.

    Args:
        default_overlay: The overlay to emulate on a host.

    Raises:
        BoardError: on a PYNQ board that edge-dnn has no overlay for (or whose name is unknown).
    """
    if not pynq_api.real_board_present():
        return Target(False, "emulated", default_overlay)
    name = board_name()
    overlay = overlay_for_board(name) if name else None
    if overlay is None:
        raise BoardError(
            f"PYNQ board '{name or 'Unknown'}' has no edge-dnn overlay; overlays exist for "
            "ZCU104 (zcu104), ZCU102 (zcu102) and Ultra96 V1/V2 (ultra96)"
        )
    return Target(True, name or overlay, overlay)
