"""The edge-dnn overlay on a real board: a ``pynq.Overlay`` checked against its configuration.

:class:`EdgeDnnOverlay` loads ``edge_dnn_<name>.bit`` (with its ``.hwh``; names from
:func:`edge_dnn.overlay.build.bitstream_name`) and :meth:`EdgeDnnOverlay.verify` compares what
the hardware handoff describes (pynq's ``ip_dict``) with the
:class:`~edge_dnn.overlay.config.OverlayConfig` the model was compiled for: base addresses and
ranges of the engine, of every AXI DMA and of the interrupt controller, the PG021 parameters of
each DMA that software depends on (data widths, scatter-gather, length and address widths), and
the interrupt inputs. Every difference is collected into one
:class:`~arm_scheduler.errors.OverlayMismatchError`.

:class:`EdgeDnnEngine` is the pynq driver of the engine IP, bound by its IP type
(:data:`edge_dnn.overlay.build.ENGINE_VLNV`): ``overlay.engine`` is one. The AXI DMAs keep pynq's
own driver (``pynq.lib.dma.DMA``).

:func:`overlay_mismatches` / :func:`verify_ip_dict` work on any pynq-style ``ip_dict`` (the
emulated board's :meth:`~arm_scheduler.emulated.device.EmulatedDevice.ip_description` builds the
same entries), so they are testable without a bitstream.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from arm_scheduler.errors import BitstreamNotFoundError, Mismatch, OverlayMismatchError
from arm_scheduler.pynq_api import DefaultIP, Overlay
from edge_dnn.overlay.build import (
    AXI_DMA_VLNV_PREFIX,
    AXI_INTC_VLNV_PREFIX,
    ENGINE_INSTANCE,
    ENGINE_PORTS,
    ENGINE_VLNV,
    GENERATOR,
    INTC_INSTANCE,
    VERIFIED_DMA_PARAMETERS,
    bitstream_name,
    dma_parameters,
    hwh_name,
    output_dir,
)
from edge_dnn.overlay.config import OverlayConfig, load_overlay, packaged_overlays_dir

ENV_BITSTREAMS = "EDGE_DNN_BITSTREAMS"
"""Environment variable: folders (``os.pathsep``-separated) searched first for bitstreams."""

_DMA_IRQ_PINS = (("mm2s", "mm2s_introut"), ("s2mm", "s2mm_introut"))


# ---------------------------------------------------------------------------- finding files
def installed_overlay_dir(
    cfg: OverlayConfig, package_data: str | os.PathLike[str] | None = None
) -> Path:
    """Where ``board_setup.sh`` installs the overlay files: ``<package data>/<name>/``.

    Args:
        cfg: The overlay configuration.
        package_data: The installed package's overlay data folder; default
            :func:`~edge_dnn.overlay.config.packaged_overlays_dir`
            (``<site-packages>/edge_dnn/overlay/_data``, beside the packaged ``overlay.toml``).
    """
    base = Path(package_data) if package_data is not None else packaged_overlays_dir()
    return base / cfg.name


def bitstream_search_path(
    cfg: OverlayConfig, *, package_data: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Folders searched for ``edge_dnn_<name>.bit``, in order, duplicates removed.

    1. ``$EDGE_DNN_BITSTREAMS`` entries (``os.pathsep``-separated);
    2. the overlay's build output ``<overlay folder>/build/out`` (when the configuration was read
       from a file; in a checkout, where ``make -C overlays/<name>/build`` writes);
    3. the overlay folder itself (the folder of the ``overlay.toml`` that was loaded);
    4. the installed package's ``edge_dnn/overlay/_data/<name>/``
       (:func:`installed_overlay_dir`), where ``board_setup.sh`` places the checked files;
    5. the current directory.

    Args:
        cfg: The overlay configuration.
        package_data: Overrides the installed package's overlay data folder (tests).
    """
    dirs = [Path(p) for p in os.environ.get(ENV_BITSTREAMS, "").split(os.pathsep) if p]
    if cfg.source is not None:
        dirs += [output_dir(cfg), cfg.source.parent]
    dirs += [installed_overlay_dir(cfg, package_data), Path.cwd()]
    out: list[Path] = []
    seen: set[Path] = set()
    for d in dirs:
        key = d.resolve() if d.exists() else d.absolute()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def find_bitstream(
    cfg: OverlayConfig,
    bitfile: str | os.PathLike[str] | None = None,
    *,
    package_data: str | os.PathLike[str] | None = None,
) -> Path:
    """The bitstream of ``cfg``, with its ``.hwh`` beside it.

    Args:
        cfg: The overlay configuration.
        bitfile: A ``.bit`` path, or a folder holding ``edge_dnn_<name>.bit``; default: the first
            folder of :func:`bitstream_search_path` that has it.
        package_data: Overrides the installed package's overlay data folder (tests).

    Returns:
        The absolute path of the ``.bit`` file.

    Raises:
        BitstreamNotFoundError: no such bitstream, or its ``.hwh`` is missing (the message lists
            the paths tried).
    """
    name = bitstream_name(cfg)
    if bitfile is not None:
        p = Path(bitfile)
        candidates = [p / name] if p.is_dir() else [p]
    else:
        candidates = [d / name for d in bitstream_search_path(cfg, package_data=package_data)]
    for c in candidates:
        if c.is_file():
            hwh = c.with_suffix(".hwh")
            if not hwh.is_file():
                raise BitstreamNotFoundError(
                    hwh.name,
                    [hwh],
                    f"pynq needs the hardware handoff next to {c} (build output {hwh_name(cfg)})",
                )
            return c.resolve()
    raise BitstreamNotFoundError(
        name,
        candidates,
        f"build it with `make -C overlays/{cfg.name}/build` (scripts from {GENERATOR}), install "
        f"it on the board with board_setup.sh, or set ${ENV_BITSTREAMS}",
    )


# ---------------------------------------------------------------------------- verification
def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "false"):
            return int(s == "true")
        try:
            return int(s, 0)
        except ValueError:
            return None
    return None


def _window(out: list[Mismatch], ip: str, entry: Mapping[str, Any], base: int, size: int) -> None:
    for key, want in (("phys_addr", base), ("addr_range", size)):
        got = _as_int(entry.get(key))
        if got != want:
            out.append(Mismatch(ip, key, want, entry.get(key)))


def _irq(out: list[Mismatch], ip: str, entry: Mapping[str, Any], pin: str, index: int) -> None:
    want = f"{INTC_INSTANCE}[{index}]"
    got = (entry.get("interrupts") or {}).get(pin)
    actual = None if not got else f"{got.get('controller')}[{got.get('index')}]"
    if actual != want:
        out.append(Mismatch(ip, f"interrupts.{pin}", want, actual))


def overlay_mismatches(
    ip_dict: Mapping[str, Mapping[str, Any]], cfg: OverlayConfig, *, interrupts: bool = True
) -> list[Mismatch]:
    """Every difference between a pynq ``ip_dict`` and the overlay configuration.

    Args:
        ip_dict: pynq's IP dictionary (instance name -> ``phys_addr``, ``addr_range``, ``type``,
            ``parameters`` as the ``.hwh`` gives them, ``interrupts``).
        cfg: The configuration the hardware must implement.
        interrupts: Also check the interrupt controller's window and input count and which
            controller input each engine / DMA interrupt drives (an emulated board has no
            interrupt controller: pass ``False``).

    Returns:
        The mismatches (empty when the hardware matches), engine first, then DMAs in
        ``overlay.toml`` order, unexpected DMAs, the interrupt controller.
    """
    out: list[Mismatch] = []

    engine = ip_dict.get(ENGINE_INSTANCE)
    if engine is None:
        out.append(Mismatch(ENGINE_INSTANCE, "type", ENGINE_VLNV, None))
    else:
        if engine.get("type") != ENGINE_VLNV:
            out.append(Mismatch(ENGINE_INSTANCE, "type", ENGINE_VLNV, engine.get("type")))
        _window(out, ENGINE_INSTANCE, engine, cfg.engine.base_address, cfg.engine.address_range)
        if interrupts:
            _irq(out, ENGINE_INSTANCE, engine, ENGINE_PORTS.interrupt, cfg.engine.irq)

    for d in cfg.dmas:
        entry = ip_dict.get(d.name)
        if entry is None:
            out.append(Mismatch(d.name, "type", AXI_DMA_VLNV_PREFIX + "*", None))
            continue
        vlnv = str(entry.get("type", ""))
        if not vlnv.startswith(AXI_DMA_VLNV_PREFIX):
            out.append(Mismatch(d.name, "type", AXI_DMA_VLNV_PREFIX + "*", entry.get("type")))
        _window(out, d.name, entry, d.base_address, d.address_range)
        params = entry.get("parameters") or {}
        expected = dma_parameters(cfg, d)
        for key in VERIFIED_DMA_PARAMETERS:
            if key not in expected:
                continue
            if _as_int(params.get(key)) != expected[key]:
                out.append(Mismatch(d.name, f"parameters.{key}", expected[key], params.get(key)))
        if interrupts:
            for ch, pin in _DMA_IRQ_PINS:
                irq = d.mm2s_irq if ch == "mm2s" else d.s2mm_irq
                if irq is not None:
                    _irq(out, d.name, entry, pin, irq)

    known = {d.name for d in cfg.dmas}
    for name in sorted(ip_dict):
        vlnv = str(ip_dict[name].get("type", ""))
        if vlnv.startswith(AXI_DMA_VLNV_PREFIX) and name not in known:
            out.append(Mismatch(name, "type", None, vlnv))

    if interrupts:
        ic = cfg.interrupts
        intc = ip_dict.get(INTC_INSTANCE)
        if intc is None:
            out.append(Mismatch(INTC_INSTANCE, "type", AXI_INTC_VLNV_PREFIX + "*", None))
        else:
            if not str(intc.get("type", "")).startswith(AXI_INTC_VLNV_PREFIX):
                out.append(
                    Mismatch(INTC_INSTANCE, "type", AXI_INTC_VLNV_PREFIX + "*", intc.get("type"))
                )
            _window(out, INTC_INSTANCE, intc, ic.controller_base, ic.controller_range)
            n = (intc.get("parameters") or {}).get("C_NUM_INTR_INPUTS")
            if _as_int(n) != ic.controller_inputs:
                out.append(
                    Mismatch(INTC_INSTANCE, "parameters.C_NUM_INTR_INPUTS", ic.controller_inputs, n)
                )
    return out


def verify_ip_dict(
    ip_dict: Mapping[str, Mapping[str, Any]], cfg: OverlayConfig, *, interrupts: bool = True
) -> None:
    """Raise if a pynq ``ip_dict`` does not implement ``cfg`` (see :func:`overlay_mismatches`).

    Raises:
        OverlayMismatchError: one or more mismatches; the message lists each as
            ``<ip>.<key>: expected ..., got ...``.
    """
    mismatches = overlay_mismatches(ip_dict, cfg, interrupts=interrupts)
    if mismatches:
        raise OverlayMismatchError(cfg.name, mismatches, str(cfg.source or ""))


# ---------------------------------------------------------------------------- drivers
class EdgeDnnEngine(DefaultIP):
    """pynq driver of the engine IP (bound to :data:`~edge_dnn.overlay.build.ENGINE_VLNV`).

    Register offsets and identity values come from the overlay configuration passed to each
    method (the ``.hwh`` does not know the register map's meaning).

    Args:
        description: pynq's IP description of the engine (an ``ip_dict`` entry).
    """

    bindto: ClassVar[list[str]] = [ENGINE_VLNV]

    def __init__(self, description: dict[str, Any]) -> None:
        super().__init__(description)

    def read_register(self, cfg: OverlayConfig, name: str) -> int:
        """The 32-bit register ``name`` of ``cfg``'s register map.

        Raises:
            OverlayConfigError: no register of that name.
        """
        return int(self.read(cfg.register(name).offset)) & 0xFFFFFFFF

    def identity(self, cfg: OverlayConfig) -> dict[str, int]:
        """The identity block (``group = "identity"`` registers) as read from the hardware."""
        return {
            r.name: self.read_register(cfg, r.name) for r in cfg.registers if r.group == "identity"
        }

    def identity_mismatches(self, cfg: OverlayConfig) -> list[Mismatch]:
        """Identity words that differ from the values ``cfg`` implies (configuration hash, PE
        dimensions, clocks, buffer sizes, ...)."""
        got = self.identity(cfg)
        return [
            Mismatch(ENGINE_INSTANCE, f"registers.{name}", want, got[name])
            for name, want in cfg.derived.identity_words.items()
            if got.get(name) != want
        ]

    def check_identity(self, cfg: OverlayConfig) -> None:
        """Raise unless the engine's identity block is the one ``cfg`` describes.

        Raises:
            OverlayMismatchError: the bitstream was built from another configuration.
        """
        mismatches = self.identity_mismatches(cfg)
        if mismatches:
            raise OverlayMismatchError(cfg.name, mismatches, "engine identity registers")


class EdgeDnnOverlay(Overlay):
    """An edge-dnn overlay loaded on the board: ``edge_dnn_<name>.bit`` and its ``.hwh``.

    Args:
        overlay: The overlay configuration, or its name / ``overlay.toml`` path.
        bitfile: The ``.bit`` path or its folder (default: :func:`find_bitstream`'s search).
        download: Program the PL (pynq's ``download``).
        ignore_version: pynq's driver-version check switch.
        device: pynq device (default: the active one).
        verify: Run :meth:`verify` (including interrupts) right after loading.

    Raises:
        BitstreamNotFoundError: no bitstream or ``.hwh``.
        OverlayMismatchError: ``verify`` is set and the hardware does not match the config.
    """

    def __init__(
        self,
        overlay: str | os.PathLike[str] | OverlayConfig,
        bitfile: str | os.PathLike[str] | None = None,
        *,
        download: bool = True,
        ignore_version: bool = False,
        device: Any = None,
        verify: bool = True,
    ) -> None:
        cfg = overlay if isinstance(overlay, OverlayConfig) else load_overlay(overlay)
        path = find_bitstream(cfg, bitfile)
        super().__init__(str(path), download=download, ignore_version=ignore_version, device=device)
        self.config = cfg
        """The overlay configuration this bitstream must implement."""
        if verify:
            self.verify()

    def verify(self, cfg: OverlayConfig | None = None, *, interrupts: bool = True) -> None:
        """Compare the loaded ``ip_dict`` with ``cfg`` (default: the configuration loaded with).

        Raises:
            OverlayMismatchError: listing every mismatch (see :func:`overlay_mismatches`).
        """
        verify_ip_dict(self.ip_dict, cfg or self.config, interrupts=interrupts)


__all__ = [
    "ENV_BITSTREAMS",
    "EdgeDnnEngine",
    "EdgeDnnOverlay",
    "bitstream_search_path",
    "find_bitstream",
    "installed_overlay_dir",
    "overlay_mismatches",
    "verify_ip_dict",
]
