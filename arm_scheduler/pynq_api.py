"""The only module of edge-dnn that imports ``pynq``.

Everything else (the runtime, the emulated board, tests) takes pynq's classes from here, so that
the dependency on one exact pynq release (4.0.0, pinned in ``pyproject.toml``) and the knowledge
of its internals stay in one place. ``edge_dnn`` never imports this module (imports flow one way:
``arm_scheduler`` -> ``edge_dnn``).

Re-exported unchanged: :class:`Device` (pynq's device base class and registry), :func:`allocate`,
:class:`MMIO`, :class:`PynqBuffer`, :class:`DMA` (``pynq.lib.dma.DMA``), :class:`Overlay` and
:class:`DefaultIP`.

pynq 4.0.0 facts this module encapsulates:

* ``Device.devices`` probes every registered device class once and caches the list in the class
  attribute ``_devices``; ``Device.active_device`` caches its choice in ``_active_device``.
  :func:`forget_probed_devices` drops both caches so that the next access probes again, and
  :func:`saved_device_state` restores them afterwards (tests use it so they leave no trace).
* Importing pynq on a non-ARM host warns once (``ResourceWarning`` from ``pynq.gpio``: CPU
  architecture not supported); that warning is expected on a host and is silenced here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # pynq.gpio warns at import time that x86 is not a PYNQ CPU: expected on a host.
    warnings.filterwarnings("ignore", category=ResourceWarning, module=r"pynq\..*")
    import pynq
    import pynq.lib.dma
    import pynq.ps
    from pynq import MMIO, DefaultIP, Device, Overlay, allocate
    from pynq.buffer import PynqBuffer
    from pynq.lib.dma import DMA
    from pynq.pl_server.embedded_device import EmbeddedDevice

__all__ = [
    "DMA",
    "MMIO",
    "PYNQ_VERSION",
    "DefaultIP",
    "Device",
    "Overlay",
    "PynqBuffer",
    "allocate",
    "forget_probed_devices",
    "real_board_present",
    "saved_device_state",
]

PYNQ_VERSION: str = pynq.__version__
"""Version string of the imported pynq package (the project pins 4.0.0)."""

_REGISTRY_CACHES = ("_devices", "_active_device")


def real_board_present() -> bool:
    """Whether pynq would find real hardware here.

    True on a PYNQ board (``/proc/device-tree/chosen/pynq_board`` exists, or the Linux FPGA
    manager that pynq's embedded device probes for exists) and when pynq is told to use remote
    boards (``$PYNQ_REMOTE_DEVICES``). False on an ordinary x86 host.
    """
    if bool(pynq.ps.ON_TARGET):
        return True
    if Path(str(EmbeddedDevice.BS_FPGA_MAN)).exists():
        return True
    return bool(os.environ.get("PYNQ_REMOTE_DEVICES"))


def forget_probed_devices() -> None:
    """Drop pynq's cached device list and active device: the next access probes again."""
    for attr in _REGISTRY_CACHES:
        if attr in Device.__dict__:
            delattr(Device, attr)


@contextmanager
def saved_device_state() -> Iterator[None]:
    """Save pynq's device caches on entry and restore them exactly on exit.

    Inside the block code may probe (``Device.devices``) or set ``Device.active_device``; on exit
    the caches are what they were before (absent caches become absent again).
    """
    saved: dict[str, Any] = {
        a: Device.__dict__[a] for a in _REGISTRY_CACHES if a in Device.__dict__
    }
    try:
        yield
    finally:
        forget_probed_devices()
        for attr, value in saved.items():
            setattr(Device, attr, value)
