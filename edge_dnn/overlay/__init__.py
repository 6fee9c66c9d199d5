"""Overlay configurations: hardware description as data (``overlays/<name>/overlay.toml``).

* :func:`load_overlay` / :func:`list_overlays`: typed, validated, frozen :class:`OverlayConfig`.
* :mod:`edge_dnn.overlay.resources`: DSP/BRAM/URAM/LUT/FF estimate and :func:`check_fits`.
* :mod:`edge_dnn.overlay.header`: the generated C header the HLS source includes.
"""

from __future__ import annotations

from edge_dnn.overlay.config import (
    Buffer,
    Clocks,
    Derived,
    Dma,
    Engine,
    Interrupts,
    Memory,
    OverlayConfig,
    PEArray,
    Register,
    Stream,
    list_overlays,
    load_overlay,
    overlay_search_path,
)
from edge_dnn.overlay.errors import (
    OverlayConfigError,
    OverlayNotFoundError,
    OverlayResourceError,
    StaleGeneratedFileError,
)
from edge_dnn.overlay.header import (
    RegisterConstants,
    check_generated,
    generate_header,
    header_path,
    register_constants,
    write_header,
)
from edge_dnn.overlay.resources import (
    ResourceEstimate,
    check_fits,
    estimate_resources,
    format_estimate,
)

__all__ = [
    "Buffer",
    "Clocks",
    "Derived",
    "Dma",
    "Engine",
    "Interrupts",
    "Memory",
    "OverlayConfig",
    "OverlayConfigError",
    "OverlayNotFoundError",
    "OverlayResourceError",
    "PEArray",
    "Register",
    "RegisterConstants",
    "ResourceEstimate",
    "StaleGeneratedFileError",
    "Stream",
    "check_fits",
    "check_generated",
    "estimate_resources",
    "format_estimate",
    "generate_header",
    "header_path",
    "list_overlays",
    "load_overlay",
    "overlay_search_path",
    "register_constants",
    "write_header",
]
