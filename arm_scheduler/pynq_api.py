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
* ``pynq.lib.video`` (imported on first use by :func:`video_api`) defines ``DisplayPort`` only on
  Zynq UltraScale+ CPUs; it opens the DRM card ``/dev/dri/card0``. Its drivers block without a
  deadline (HDMI frontends until a signal or monitor is found, VDMA reads and DRM page flips until
  an interrupt) and run the calling thread's asyncio event loop; :mod:`vision_pipeline.pynq_video`
  deals with both. :func:`loaded_overlay` and :func:`open_display_port` raise
  :class:`~arm_scheduler.errors.BoardError` at once when there is no board.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator, Mapping
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

from arm_scheduler.errors import BoardError

__all__ = [
    "DMA",
    "MMIO",
    "PYNQ_VERSION",
    "DefaultIP",
    "Device",
    "Overlay",
    "PynqBuffer",
    "VideoApi",
    "allocate",
    "forget_probed_devices",
    "loaded_overlay",
    "open_display_port",
    "real_board_present",
    "saved_device_state",
    "video_api",
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


# ---------------------------------------------------------------------------- video
DISPLAYPORT_CARD = Path("/dev/dri/card0")
"""The DRM card pynq's ``DisplayPort`` driver opens (the PS DisplayPort of Zynq UltraScale+)."""


@dataclasses.dataclass(frozen=True)
class VideoApi:
    """The parts of ``pynq.lib.video`` edge-dnn uses (see :func:`video_api`).

    Attributes:
        VideoMode: ``VideoMode(width, height, bits_per_pixel, fps=60, stride=None)``; instances
            have ``width``, ``height``, ``fps``, ``bits_per_pixel`` and ``shape`` (HxWxC).
        pixel_formats: ``"bgr"``, ``"rgb"``, ``"rgba"``, ``"gray"`` -> pynq's ``PIXEL_*``.
        DisplayPort: ``pynq.lib.video.DisplayPort`` (Zynq UltraScale+ only), else None.
    """

    VideoMode: Any
    pixel_formats: Mapping[str, Any]
    DisplayPort: Any | None


def video_api() -> VideoApi:
    """Import ``pynq.lib.video`` (on first use: it loads cffi and, on a board, native libraries).

    Raises:
        BoardError: the module cannot be imported here.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ResourceWarning, module=r"pynq\..*")
            import pynq.lib.video as video
    except (ImportError, OSError) as exc:
        raise BoardError(
            f"pynq.lib.video cannot be imported ({type(exc).__name__}: {exc})"
        ) from None
    return VideoApi(
        VideoMode=video.VideoMode,
        pixel_formats={
            "bgr": video.PIXEL_BGR,
            "rgb": video.PIXEL_RGB,
            "rgba": video.PIXEL_RGBA,
            "gray": video.PIXEL_GRAY,
        },
        DisplayPort=getattr(video, "DisplayPort", None),
    )


def _require_board(what: str) -> None:
    if not real_board_present():
        raise BoardError(
            f"{what} needs a PYNQ board, and pynq finds none here (no "
            "/proc/device-tree/chosen/pynq_board, no FPGA manager, no $PYNQ_REMOTE_DEVICES)"
        )


def loaded_overlay(
    bitfile: str | os.PathLike[str] | None = None, download: bool = False
) -> Overlay:
    """A ``pynq.Overlay`` of the design in the programmable logic, or of ``bitfile``.

    Args:
        bitfile: Bitstream (with its ``.hwh`` next to it); None: the one loaded now
            (``pynq.PL.bitfile_name``).
        download: Program ``bitfile`` into the PL (replaces the loaded design, e.g. the DNN
            overlay); False only parses its ``.hwh``.

    Raises:
        BoardError: no board, no loaded bitstream, or pynq cannot open the overlay.
    """
    _require_board("a PYNQ overlay")
    try:
        path = os.fspath(bitfile) if bitfile is not None else pynq.PL.bitfile_name
    except (RuntimeError, OSError, AttributeError) as exc:
        raise BoardError(f"pynq cannot tell the loaded bitstream: {exc}") from None
    if not path:
        raise BoardError("no bitstream is loaded in the programmable logic")
    try:
        return Overlay(str(path), download=download)
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise BoardError(f"overlay {path}: {type(exc).__name__}: {exc}") from None


def open_display_port(event_loop: Any = None) -> Any:
    """Open the PS DisplayPort: ``pynq.lib.video.DisplayPort(event_loop)``.

    Args:
        event_loop: asyncio loop the driver waits for page flips on (None: the calling thread's).

    Raises:
        BoardError: no board, a CPU without the PS DisplayPort, no DRM card, or pynq fails.
    """
    _require_board("DisplayPort output")
    dp = video_api().DisplayPort
    if dp is None:
        raise BoardError(
            "pynq.lib.video has no DisplayPort on this CPU: the PS DisplayPort exists on "
            "Zynq UltraScale+ boards only (ZCU104, ZCU102, Ultra96)"
        )
    if not DISPLAYPORT_CARD.exists():
        raise BoardError(
            f"{DISPLAYPORT_CARD} does not exist: the kernel has no DisplayPort DRM device"
        )
    try:
        return dp(event_loop=event_loop)
    except (OSError, RuntimeError) as exc:
        raise BoardError(f"DisplayPort: {type(exc).__name__}: {exc}") from None
