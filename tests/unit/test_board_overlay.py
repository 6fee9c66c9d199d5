"""Board-side overlay checks on the host: verify() against synthetic pynq ip_dicts, bitstream
lookup, and the engine driver's identity check through pynq's MMIO on the emulated board.

The synthetic ip_dicts are built the way a .hwh would describe the overlay: DMA entries by the
emulated board (``EmulatedDevice.ip_description``, whose PG021 parameters come from the AXI DMA
model, not from the build generator), engine and interrupt-controller entries written out here
from overlay.toml's values.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from arm_scheduler import board_overlay
from arm_scheduler.board_overlay import (
    ENV_BITSTREAMS,
    EdgeDnnEngine,
    EdgeDnnOverlay,
    bitstream_search_path,
    find_bitstream,
    installed_overlay_dir,
    overlay_mismatches,
    verify_ip_dict,
)
from arm_scheduler.emulated.device import EmulatedDevice
from arm_scheduler.errors import BitstreamNotFoundError, Mismatch, OverlayMismatchError
from edge_dnn.errors import EdgeDnnError
from edge_dnn.overlay.build import output_dir
from edge_dnn.overlay.config import OverlayConfig, load_overlay

PRODUCTS = ("zcu104", "zcu102", "ultra96")


def _irq(index: int) -> dict[str, Any]:
    return {"controller": "axi_intc", "index": index, "fullpath": f"axi_intc/In{index}"}


def hwh_like_ip_dict(cfg: OverlayConfig, *, interrupts: bool = True) -> dict[str, dict[str, Any]]:
    """A pynq ip_dict for ``cfg`` as the .hwh of a correct build would give it."""
    dev = EmulatedDevice(ddr_bytes=1 << 20)
    dev.add_overlay_dmas(cfg)
    ip: dict[str, dict[str, Any]] = {d.name: dev.ip_description(d.name) for d in cfg.dmas}
    ip["engine"] = {
        "fullpath": "engine",
        "type": "edge-dnn.org:hls:edge_dnn_engine:1.0",
        "phys_addr": cfg.engine.base_address,
        "addr_range": cfg.engine.address_range,
        "parameters": {},
        "interrupts": {},
        "gpio": {},
    }
    ip["ps"] = {"type": "xilinx.com:ip:zynq_ultra_ps_e:3.5", "parameters": {}}
    if interrupts:
        ip["engine"]["interrupts"]["irq"] = _irq(cfg.engine.irq)
        for d in cfg.dmas:
            if d.mm2s_irq is not None:
                ip[d.name]["interrupts"]["mm2s_introut"] = _irq(d.mm2s_irq)
            if d.s2mm_irq is not None:
                ip[d.name]["interrupts"]["s2mm_introut"] = _irq(d.s2mm_irq)
        ip["axi_intc"] = {
            "type": "xilinx.com:ip:axi_intc:4.1",
            "phys_addr": cfg.interrupts.controller_base,
            "addr_range": cfg.interrupts.controller_range,
            "parameters": {"C_NUM_INTR_INPUTS": str(cfg.interrupts.controller_inputs)},
            "interrupts": {},
        }
    return ip


@pytest.mark.parametrize("name", PRODUCTS)
def test_correct_overlay_verifies(name: str) -> None:
    cfg = load_overlay(name)
    assert overlay_mismatches(hwh_like_ip_dict(cfg), cfg) == []
    verify_ip_dict(hwh_like_ip_dict(cfg, interrupts=False), cfg, interrupts=False)


def test_every_mismatch_is_listed() -> None:
    cfg = load_overlay("zcu104")
    ip = hwh_like_ip_dict(cfg)
    ip["dma_act0"]["phys_addr"] = 0xA007_0000
    ip["dma_cmd"]["parameters"]["c_sg_length_width"] = "23"
    ip["dma_weights0"]["parameters"]["c_m_axis_mm2s_tdata_width"] = "64"
    ip["engine"]["addr_range"] = 0x1000
    ip["dma_extra"] = dict(ip.pop("dma_weights1"))
    ip["dma_act1"]["interrupts"]["s2mm_introut"] = _irq(9)
    ip["axi_intc"]["parameters"]["C_NUM_INTR_INPUTS"] = "8"
    with pytest.raises(OverlayMismatchError) as e:
        verify_ip_dict(ip, cfg)
    got = {(m.ip, m.key): (m.expected, m.actual) for m in e.value.mismatches}
    assert got == {
        ("engine", "addr_range"): (0x1_0000, 0x1000),
        ("dma_weights0", "parameters.c_m_axis_mm2s_tdata_width"): (128, "64"),
        ("dma_weights1", "type"): ("xilinx.com:ip:axi_dma:*", None),
        ("dma_act0", "phys_addr"): (0xA003_0000, 0xA007_0000),
        ("dma_act1", "interrupts.s2mm_introut"): ("axi_intc[6]", "axi_intc[9]"),
        ("dma_cmd", "parameters.c_sg_length_width"): (26, "23"),
        ("dma_extra", "type"): (None, "xilinx.com:ip:axi_dma:7.1"),
        ("axi_intc", "parameters.C_NUM_INTR_INPUTS"): (32, "8"),
    }
    msg = str(e.value)
    assert "overlay 'zcu104'" in msg and "8 mismatch(es)" in msg
    assert "dma_act0.phys_addr: expected 0xa0030000, got 0xa0070000" in msg
    assert "dma_weights1.type: expected 'xilinx.com:ip:axi_dma:*', got absent" in msg
    assert isinstance(e.value, EdgeDnnError)


def test_emulated_board_has_no_interrupt_controller() -> None:
    cfg = load_overlay("ultra96")
    ip = hwh_like_ip_dict(cfg, interrupts=False)
    keys = {(m.ip, m.key) for m in overlay_mismatches(ip, cfg)}
    assert ("axi_intc", "type") in keys
    assert ("engine", "interrupts.irq") in keys
    assert ("dma_act", "interrupts.s2mm_introut") in keys
    assert overlay_mismatches(ip, cfg, interrupts=False) == []


def test_wrong_engine_and_missing_parameter() -> None:
    cfg = load_overlay("zcu102")
    ip = hwh_like_ip_dict(cfg)
    ip["engine"]["type"] = "edge-dnn.org:hls:edge_dnn_engine:2.0"
    del ip["dma_cmd"]["parameters"]["c_include_sg"]
    ip["dma_act0"]["parameters"]["c_include_sg"] = "true"  # hwh booleans may be words
    got = [(m.ip, m.key, m.actual) for m in overlay_mismatches(ip, cfg)]
    assert got == [
        ("engine", "type", "edge-dnn.org:hls:edge_dnn_engine:2.0"),
        ("dma_cmd", "parameters.c_include_sg", None),
    ]
    del ip["engine"]
    assert overlay_mismatches(ip, cfg)[0] == Mismatch(
        "engine", "type", "edge-dnn.org:hls:edge_dnn_engine:1.0", None
    )


def test_overlay_verify_uses_its_ip_dict() -> None:
    cfg = load_overlay("zcu104")
    ol = object.__new__(EdgeDnnOverlay)  # no bitstream on the host: skip pynq's loading
    ol.ip_dict = hwh_like_ip_dict(cfg)
    ol.config = cfg
    ol.verify()
    ol.ip_dict["dma_act1"]["parameters"]["c_addr_width"] = "32"
    with pytest.raises(OverlayMismatchError, match=r"dma_act1\.parameters\.c_addr_width"):
        ol.verify()
    with pytest.raises(OverlayMismatchError):
        ol.verify(load_overlay("zcu102"))


# ---------------------------------------------------------------------------- bitstream lookup
def _touch(d: Path, *names: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).write_bytes(b"\0")


def test_find_bitstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_overlay("ultra96")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_BITSTREAMS, raising=False)
    with pytest.raises(BitstreamNotFoundError) as e:
        find_bitstream(cfg)
    assert e.value.name == "edge_dnn_ultra96.bit"
    assert str(tmp_path / "edge_dnn_ultra96.bit") in e.value.searched
    assert any(p.endswith("ultra96/build/out/edge_dnn_ultra96.bit") for p in e.value.searched)

    _touch(tmp_path / "a", "edge_dnn_ultra96.bit", "edge_dnn_ultra96.hwh")
    assert find_bitstream(cfg, tmp_path / "a") == tmp_path / "a" / "edge_dnn_ultra96.bit"
    bit = tmp_path / "a" / "edge_dnn_ultra96.bit"
    assert find_bitstream(cfg, bit) == bit
    monkeypatch.setenv(ENV_BITSTREAMS, str(tmp_path / "a"))
    assert find_bitstream(cfg) == bit

    _touch(tmp_path / "b", "edge_dnn_ultra96.bit")
    with pytest.raises(BitstreamNotFoundError, match=r"edge_dnn_ultra96\.hwh"):
        find_bitstream(cfg, tmp_path / "b")


def _installed_package(tmp_path: Path, name: str) -> Path:
    """``<site-packages>/edge_dnn/overlay/_data`` of an installed edge-dnn, with the packaged
    ``overlay.toml`` of ``name`` and the files board_setup.sh places beside it."""
    data = tmp_path / "site-packages" / "edge_dnn" / "overlay" / "_data"
    (data / name).mkdir(parents=True)
    shutil.copyfile(load_overlay(name).source or "", data / name / "overlay.toml")
    _touch(data / name, f"edge_dnn_{name}.bit", f"edge_dnn_{name}.hwh", f"edge_dnn_{name}.sha256")
    return data


def test_bitstream_installed_by_board_setup_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_BITSTREAMS, raising=False)
    data = _installed_package(tmp_path, "zcu104")
    installed = data / "zcu104" / "edge_dnn_zcu104.bit"

    # The configuration of the installed package: the bitstream is beside its overlay.toml.
    cfg = load_overlay(data / "zcu104" / "overlay.toml")
    assert find_bitstream(cfg) == installed

    # Any other configuration of that overlay (a checkout's, $EDGE_DNN_OVERLAYS) finds it in the
    # package data too, after the build output and before the current folder.
    cfg = load_overlay("zcu104")
    assert cfg.source is not None
    assert bitstream_search_path(cfg, package_data=data) == [
        output_dir(cfg),
        cfg.source.parent,
        data / "zcu104",
        tmp_path,
    ]
    assert installed_overlay_dir(cfg, data) == data / "zcu104"
    assert find_bitstream(cfg, package_data=data) == installed
    monkeypatch.setattr(board_overlay, "packaged_overlays_dir", lambda: data)  # the default
    assert find_bitstream(cfg) == installed

    # $EDGE_DNN_BITSTREAMS still comes first.
    _touch(tmp_path / "env", "edge_dnn_zcu104.bit", "edge_dnn_zcu104.hwh")
    monkeypatch.setenv(ENV_BITSTREAMS, str(tmp_path / "env"))
    assert find_bitstream(cfg) == tmp_path / "env" / "edge_dnn_zcu104.bit"
    monkeypatch.delenv(ENV_BITSTREAMS)

    # A .bit without its .hwh is an error naming the missing file, not a silent fall-through.
    (data / "zcu104" / "edge_dnn_zcu104.hwh").unlink()
    with pytest.raises(BitstreamNotFoundError, match=r"edge_dnn_zcu104\.hwh"):
        find_bitstream(cfg)
    (data / "zcu104" / "edge_dnn_zcu104.bit").unlink()
    with pytest.raises(BitstreamNotFoundError) as e:
        find_bitstream(cfg)
    assert str(installed) in e.value.searched
    assert "board_setup.sh" in str(e.value)


def test_overlay_without_bitstream_fails_before_pynq(tmp_path: Path) -> None:
    with pytest.raises(BitstreamNotFoundError, match=r"edge_dnn_zcu104\.bit not found"):
        EdgeDnnOverlay("zcu104", tmp_path, download=False)


# ---------------------------------------------------------------------------- engine driver
class IdentityRegisters:
    """Register model answering the identity words of a configuration (others read 0)."""

    def __init__(self, cfg: OverlayConfig) -> None:
        self.words = {cfg.register(n).offset: v for n, v in cfg.derived.identity_words.items()}

    def read(self, offset: int) -> int:
        return self.words.get(offset, 0)

    def write(self, offset: int, value: int) -> None:
        pass


def test_engine_driver_reads_and_checks_identity() -> None:
    cfg = load_overlay("zcu104")
    assert EdgeDnnEngine.bindto == ["edge-dnn.org:hls:edge_dnn_engine:1.0"]
    dev = EmulatedDevice(ddr_bytes=1 << 20)
    regs = IdentityRegisters(cfg)
    dev.map("engine", cfg.engine.base_address, cfg.engine.address_range, regs)
    engine = EdgeDnnEngine(
        {"phys_addr": cfg.engine.base_address, "addr_range": cfg.engine.address_range,
         "device": dev}
    )  # fmt: skip
    assert engine.read_register(cfg, "ID_MAGIC") == 0x45444E4E
    assert engine.identity(cfg) == dict(cfg.derived.identity_words)
    engine.check_identity(cfg)
    # a bitstream built from another configuration (ultra96's identity block)
    other = load_overlay("ultra96")
    regs.words = {other.register(n).offset: v for n, v in other.derived.identity_words.items()}
    with pytest.raises(OverlayMismatchError) as e:
        engine.check_identity(cfg)
    keys = {m.key for m in e.value.mismatches}
    assert {"registers.ID_CONFIG_HASH0", "registers.ID_PE_DIMS"} <= keys
    assert "registers.ID_MAGIC" not in keys
