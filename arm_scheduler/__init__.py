"""The ARM-side runtime of edge-dnn: compiled models on the overlay through pynq.

:class:`Runtime` (``arm_scheduler.runtime``) loads an ``.edm`` and runs it on the board's overlay,
or on a host on the emulated board (``arm_scheduler.emulated``), through the same pynq drivers.
``arm_scheduler.pynq_api`` is the only module that imports pynq.
"""

from __future__ import annotations

from arm_scheduler.runtime import Runtime

__all__ = ["Runtime"]
