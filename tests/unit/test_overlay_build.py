"""The generated Vivado / Vitis HLS build files (overlays/<name>/build) against overlay.toml.

The Tcl is read back with a small Tcl lexer written here (brace / bracket / quote nesting,
command and word splitting, nested command substitutions), independently of the generator, and
every address, width, clock and AXI DMA parameter found in it is compared with the values of the
overlay configuration. Where Python's tkinter works, a real Tcl interpreter also confirms that
every script is syntactically complete.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from edge_dnn.overlay.build import (
    BUILD_FILES,
    MIRROR_OVERLAYS,
    bitstream_name,
    build_dir,
    check_build_generated,
    design_name,
    generate_build_files,
    hwh_name,
    write_build_files,
)
from edge_dnn.overlay.config import OverlayConfig, list_overlays, load_overlay
from edge_dnn.overlay.errors import OverlayConfigError, StaleGeneratedFileError

REPO = Path(__file__).resolve().parents[2]
PRODUCTS = ("zcu104", "zcu102", "ultra96")
TCL_FILES = ("hls.tcl", "bd.tcl", "build.tcl")


# ---------------------------------------------------------------------------- a small Tcl lexer
class TclSyntaxError(Exception):
    """Unbalanced braces, brackets or quotes, or extra characters after a closing one."""


@dataclasses.dataclass
class Word:
    """One word of a command: ``raw`` source, ``value`` without its braces or quotes."""

    raw: str
    value: str
    kind: str  # "brace", "quote" or "bare"
    subs: list[list[Command]]  # command substitutions [...] inside the word, parsed


@dataclasses.dataclass
class Command:
    line: int
    words: list[Word]

    @property
    def name(self) -> str:
        return self.words[0].value


_SPACE = " \t"
_BSNL = re.compile(r"\\\n[ \t]*")


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0

    def line(self) -> int:
        return self.src.count("\n", 0, self.pos) + 1

    def fail(self, msg: str) -> TclSyntaxError:
        return TclSyntaxError(f"line {self.line()}: {msg}")

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def skip_blanks(self, newlines: bool) -> None:
        while self.pos < len(self.src):
            c = self.src[self.pos]
            if c in _SPACE or (newlines and c in "\n;"):
                self.pos += 1
            elif self.src.startswith("\\\n", self.pos):
                self.pos += 2
            else:
                break

    def script(self, close: str | None) -> list[Command]:
        cmds: list[Command] = []
        while True:
            self.skip_blanks(newlines=True)
            c = self.peek()
            if not c:
                if close:
                    raise self.fail("unbalanced '[': missing ']'")
                return cmds
            if close and c == close:
                self.pos += 1
                return cmds
            if c == "#":
                while self.pos < len(self.src) and self.src[self.pos] != "\n":
                    self.pos += 2 if self.src.startswith("\\\n", self.pos) else 1
                continue
            line = self.line()
            words: list[Word] = []
            while True:
                self.skip_blanks(newlines=False)
                c = self.peek()
                if not c or c in "\n;" or (close and c == close):
                    break
                words.append(self.word(close))
            cmds.append(Command(line, words))

    def _end_of_word(self, close: str | None, what: str) -> None:
        c = self.peek()
        if (
            c
            and c not in _SPACE + "\n;"
            and not (close and c == close)
            and not self.src.startswith("\\\n", self.pos)
        ):
            raise self.fail(f"extra characters after close-{what}: {c!r}")

    def word(self, close: str | None) -> Word:
        start = self.pos
        c = self.peek()
        subs: list[list[Command]] = []
        if c == "{":
            depth = 0
            while self.pos < len(self.src):
                ch = self.src[self.pos]
                if ch == "\\":
                    self.pos += 2
                    continue
                depth += ch == "{"
                depth -= ch == "}"
                self.pos += 1
                if depth == 0:
                    break
            if depth:
                raise TclSyntaxError(
                    f"line {self.src.count(chr(10), 0, start) + 1}: unbalanced '{{'"
                )
            raw = self.src[start : self.pos]
            self._end_of_word(close, "brace")
            return Word(raw, raw[1:-1], "brace", subs)
        if c == '"':
            self.pos += 1
            while True:
                ch = self.peek()
                if not ch:
                    raise TclSyntaxError(
                        f"line {self.src.count(chr(10), 0, start) + 1}: unbalanced '\"'"
                    )
                if ch == "\\":
                    self.pos += 2
                elif ch == "[":
                    self.pos += 1
                    subs.append(self.script("]"))
                elif ch == '"':
                    self.pos += 1
                    break
                else:
                    self.pos += 1
            raw = self.src[start : self.pos]
            self._end_of_word(close, "quote")
            return Word(raw, raw[1:-1], "quote", subs)
        while True:
            ch = self.peek()
            if not ch or ch in _SPACE + "\n;" or (close and ch == close):
                break
            if self.src.startswith("\\\n", self.pos):
                break
            if ch == "\\":
                self.pos += 2
            elif ch == "[":
                self.pos += 1
                subs.append(self.script("]"))
            else:
                self.pos += 1
        raw = self.src[start : self.pos]
        return Word(raw, raw, "bare", subs)


def parse_tcl(src: str) -> list[Command]:
    """Split a Tcl script into commands (raises TclSyntaxError on unbalanced delimiters)."""
    if "]" in src.replace("\\]", ""):
        # a ']' outside any substitution is an ordinary character in Tcl, but in generated code
        # it always closes a '[': count them to catch a stray one
        opened = len(re.findall(r"(?<!\\)\[", src))
        closed = len(re.findall(r"(?<!\\)\]", src))
        if opened != closed:
            raise TclSyntaxError(f"{opened} '[' but {closed} ']'")
    return _Lexer(src).script(None)


def _expr_subs(text: str) -> list[list[Command]]:
    """Command substitutions inside an expression or a quoted string."""
    lx = _Lexer(text)
    out = []
    while lx.pos < len(text):
        if text[lx.pos] == "\\":
            lx.pos += 2
        elif text[lx.pos] == "[":
            lx.pos += 1
            out.append(lx.script("]"))
        else:
            lx.pos += 1
    return out


def walk(cmds: list[Command]) -> list[Command]:
    """Every command, including those in substitutions and in proc / if / foreach bodies."""
    out: list[Command] = []
    for c in cmds:
        out.append(c)
        for w in c.words:
            for sub in w.subs:
                out += walk(sub)
        name, args = c.name, c.words[1:]
        bodies: list[Word] = []
        exprs: list[Word] = []
        if name == "proc":
            bodies = [args[2]]
        elif name == "foreach":
            bodies = [args[-1]]
        elif name == "if":
            i = 0
            while i < len(args):
                exprs.append(args[i])
                bodies.append(args[i + 1])
                i += 2
                if i < len(args) and args[i].value == "elseif":
                    i += 1
                elif i < len(args) and args[i].value == "else":
                    bodies.append(args[i + 1])
                    break
        for b in bodies:
            assert b.kind == "brace", f"line {c.line}: body of {name} is not braced"
            out += walk(parse_tcl(b.value))
        for e in exprs:
            if e.kind == "brace":
                for sub in _expr_subs(e.value):
                    out += walk(sub)
    return out


TCL_BUILTINS = {
    "append", "break", "cd", "error", "exit", "expr", "file", "foreach", "glob", "if", "info",
    "lappend", "lindex", "list", "llength", "lsort", "proc", "puts", "return", "set", "source",
    "string",
}  # fmt: skip
VIVADO = {
    "add_files", "apply_bd_automation", "assign_bd_address", "connect_bd_intf_net",
    "connect_bd_net", "create_bd_cell", "create_bd_design", "create_project", "current_fileset",
    "current_project", "generate_target", "get_bd_addr_segs", "get_bd_addr_spaces",
    "get_bd_cells", "get_bd_intf_pins", "get_bd_pins", "get_board_parts", "get_files",
    "get_ipdefs", "get_property", "get_runs", "get_timing_paths", "launch_runs", "make_wrapper",
    "open_run", "regenerate_bd_layout", "save_bd_design", "set_property", "update_ip_catalog",
    "validate_bd_design", "version", "wait_on_run",
}  # fmt: skip
VITIS_HLS = {
    "add_files", "config_export", "create_clock", "csynth_design", "export_design",
    "open_project", "open_solution", "set_part", "set_top",
}  # fmt: skip
KNOWN = {"hls.tcl": TCL_BUILTINS | VITIS_HLS, "bd.tcl": TCL_BUILTINS | VIVADO}
KNOWN["build.tcl"] = TCL_BUILTINS | VIVADO


# ---------------------------------------------------------------------------- shared artifacts
_CACHE: dict[str, tuple[OverlayConfig, dict[str, str], dict[str, list[Command]]]] = {}


def built(name: str) -> tuple[OverlayConfig, dict[str, str], dict[str, list[Command]]]:
    """(config, committed build files, parsed Tcl) of a product overlay, read once."""
    if name not in _CACHE:
        cfg = load_overlay(name)
        d = build_dir(cfg)
        texts = {f: (d / f).read_text(encoding="utf-8") for f in BUILD_FILES}
        _CACHE[name] = (cfg, texts, {f: parse_tcl(texts[f]) for f in TCL_FILES})
    return _CACHE[name]


def inner(w: Word) -> Command:
    """The single command substitution a word consists of (``[get_bd_cells x]``)."""
    assert w.kind == "bare" and len(w.subs) == 1 and len(w.subs[0]) == 1, w.raw
    return w.subs[0][0]


def cell_properties(cmds: list[Command]) -> dict[str, dict[str, str]]:
    """``set_property -dict [list CONFIG.k {v} ...] [get_bd_cells X]`` -> X -> {k: v}."""
    out: dict[str, dict[str, str]] = {}
    for c in cmds:
        if c.name == "set_property" and c.words[1].value == "-dict":
            lst, target = inner(c.words[2]), inner(c.words[3])
            assert lst.name == "list" and target.name == "get_bd_cells"
            vals = [w.value for w in lst.words[1:]]
            props = dict(zip(vals[::2], vals[1::2], strict=True))
            cell = target.words[1].value
            out.setdefault(cell, {}).update(
                {k.removeprefix("CONFIG."): v for k, v in props.items()}
            )
    return out


def cells(cmds: list[Command]) -> dict[str, str]:
    """Instance name -> VLNV of every ``create_bd_cell``."""
    out = {}
    for c in cmds:
        if c.name == "create_bd_cell":
            w = [x.value for x in c.words]
            out[w[-1]] = w[w.index("-vlnv") + 1]
    return out


def addresses(cmds: list[Command]) -> dict[str, tuple[int, int]]:
    """Cell -> (offset, range) of every explicit ``assign_bd_address``."""
    out = {}
    for c in cmds:
        if c.name == "assign_bd_address" and len(c.words) > 1:
            w = [x.value for x in c.words]
            seg = inner(c.words[-2])
            assert seg.name == "get_bd_addr_segs"
            space = inner(c.words[w.index("-target_address_space") + 1])
            assert space.words[1].value == "ps/Data"
            out[seg.words[1].value.split("/")[0]] = (
                int(w[w.index("-offset") + 1], 16),
                int(w[w.index("-range") + 1], 16),
            )
    return out


def _pins(words: list[Word]) -> list[str]:
    out = []
    for w in words:
        sub = inner(w)
        assert sub.name in ("ednn_pin", "ednn_intf"), sub.name
        out.append(sub.words[1].value)
    return out


def nets(cmds: list[Command]) -> dict[str, list[str]]:
    """Net name -> [source, sinks...] of every ``connect_bd_net -net``."""
    return {
        c.words[2].value: _pins(c.words[3:])
        for c in cmds
        if c.name == "connect_bd_net" and c.words[1].value == "-net"
    }


def intf_nets(cmds: list[Command]) -> list[tuple[str, str]]:
    return [tuple(_pins(c.words[1:])) for c in cmds if c.name == "connect_bd_intf_net"]  # type: ignore[misc]


# ---------------------------------------------------------------------------- syntax
@pytest.mark.parametrize("name", PRODUCTS)
@pytest.mark.parametrize("fname", TCL_FILES)
def test_tcl_is_well_formed_and_uses_known_commands(name: str, fname: str) -> None:
    _, _, parsed = built(name)
    every = walk(parsed[fname])
    procs = {c.words[1].value for c in every if c.name == "proc"}
    unknown = {c.name for c in every} - KNOWN[fname] - procs
    assert not unknown, f"{name}/build/{fname}: unknown commands {sorted(unknown)}"
    for c in every:
        if c.name in procs:  # our procs are called with their declared arity
            decl = next(p for p in every if p.name == "proc" and p.words[1].value == c.name)
            assert len(c.words) - 1 == len(decl.words[2].value.split()), f"line {c.line}"


def test_lexer_catches_unbalanced_delimiters() -> None:
    parse_tcl('set a {b [c] {d}}\nputs "x [list 1 {2 3}]"')
    for bad in ("set a {b", 'puts "abc', "set a [list 1", "set a {b}c", "set a b]"):
        with pytest.raises(TclSyntaxError):
            parse_tcl(bad)


@pytest.mark.parametrize("name", PRODUCTS)
def test_tcl_parses_in_a_real_tcl_interpreter(name: str) -> None:
    tkinter = pytest.importorskip("tkinter")
    try:
        interp = tkinter.Tcl()
    except tkinter.TclError as e:  # pragma: no cover - Tcl library missing
        pytest.skip(f"no Tcl library: {e}")
    _, texts, parsed = built(name)
    for fname in TCL_FILES:
        assert interp.call("info", "complete", texts[fname]) in (1, "1"), fname
        for c in walk(parsed[fname]):
            text = " ".join(w.raw for w in c.words)
            assert interp.call("info", "complete", text) in (1, "1"), f"{fname}:{c.line}"


# ---------------------------------------------------------------------------- values vs toml
@pytest.mark.parametrize("name", PRODUCTS)
def test_addresses_match_overlay_toml(name: str) -> None:
    cfg, _, parsed = built(name)
    want = {"engine": (cfg.engine.base_address, cfg.engine.address_range)}
    want |= {d.name: (d.base_address, d.address_range) for d in cfg.dmas}
    want["axi_intc"] = (cfg.interrupts.controller_base, cfg.interrupts.controller_range)
    assert addresses(parsed["bd.tcl"]) == want


@pytest.mark.parametrize("name", PRODUCTS)
def test_dma_parameters_match_overlay_toml(name: str) -> None:
    cfg, _, parsed = built(name)
    cmds = parsed["bd.tcl"]
    props, created = cell_properties(cmds), cells(cmds)
    dmas = {c for c, v in created.items() if v.startswith("xilinx.com:ip:axi_dma")}
    assert dmas == {d.name for d in cfg.dmas}
    port = cfg.memory.hp_port_bits
    for d in cfg.dmas:
        p = props[d.name]
        assert int(p["c_include_sg"]) == d.scatter_gather
        assert int(p["c_sg_length_width"]) == d.sg_length_width
        assert int(p["c_addr_width"]) == d.addr_width
        assert int(p["c_include_mm2s"]) == (d.mm2s is not None)
        assert int(p["c_include_s2mm"]) == (d.s2mm is not None)
        if d.mm2s:
            assert int(p["c_m_axi_mm2s_data_width"]) == port
            assert int(p["c_m_axis_mm2s_tdata_width"]) == cfg.stream(d.mm2s).width_bits
        else:
            assert not any(k.startswith(("c_m_axi_mm2s", "c_m_axis_mm2s")) for k in p)
        if d.s2mm:
            assert int(p["c_m_axi_s2mm_data_width"]) == port
            assert int(p["c_s_axis_s2mm_tdata_width"]) == cfg.stream(d.s2mm).width_bits
        else:
            assert not any(k.startswith(("c_m_axi_s2mm", "c_s_axis_s2mm")) for k in p)


@pytest.mark.parametrize("name", PRODUCTS)
def test_ps_ports_and_dma_masters_match_hp_ports(name: str) -> None:
    cfg, _, parsed = built(name)
    cmds = parsed["bd.tcl"]
    ps = cell_properties(cmds)["ps"]
    gp = {"HPC0": 0, "HPC1": 1, "HP0": 2, "HP1": 3, "HP2": 4, "HP3": 5}
    used = {d.hp_port for d in cfg.dmas}
    for port, n in gp.items():
        assert ps[f"PSU__USE__S_AXI_GP{n}"] == str(int(port in used)), port
        if port in used:
            assert int(ps[f"PSU__SAXIGP{n}__DATA_WIDTH"]) == cfg.memory.hp_port_bits
    links = intf_nets(cmds)
    # DMA master -> interconnect -> PS slave port named by [dma.*].hp_port
    to_ps = {a.split("/")[0]: b.split("/")[1] for a, b in links if b.startswith("ps/S_AXI")}
    for d in cfg.dmas:
        masters = [a for a, b in links if a.startswith(f"{d.name}/M_AXI_")]
        assert sorted(m.split("/")[1] for m in masters) == sorted(
            ["M_AXI_SG"] * d.scatter_gather
            + ["M_AXI_MM2S"] * (d.mm2s is not None)
            + ["M_AXI_S2MM"] * (d.s2mm is not None)
        )
        for m in masters:
            ic = next(b for a, b in links if a == m).split("/")[0]
            assert to_ps[ic] == f"S_AXI_{d.hp_port}_FPD", (d.name, m)


@pytest.mark.parametrize("name", PRODUCTS)
def test_streams_connect_their_dma_channel_to_the_engine(name: str) -> None:
    cfg, _, parsed = built(name)
    links = set(intf_nets(parsed["bd.tcl"]))
    checks = {c.words[1].value: int(c.words[2].value) for c in parsed["bd.tcl"]
              if c.name == "ednn_check_stream"}  # fmt: skip
    for role in ("cmd", "weights", "act_in", "act_out"):
        for k, s in enumerate(cfg.streams_with_role(role)):
            port = "engine/cmd" if role == "cmd" else f"engine/{role}_{k}"
            assert checks[port] == s.width_bits // 8
            dma = next(d for d in cfg.dmas if s.name in (d.mm2s, d.s2mm))
            if role == "act_out":
                assert (port, f"{dma.name}/S_AXIS_S2MM") in links
            else:
                assert (f"{dma.name}/M_AXIS_MM2S", port) in links
    assert len([1 for a, b in links if "AXIS" in a + b]) == len(cfg.streams)


@pytest.mark.parametrize("name", PRODUCTS)
def test_clocks_match_overlay_toml(name: str) -> None:
    cfg, _, parsed = built(name)
    clk = cell_properties(parsed["bd.tcl"])["clocks"]
    assert float(clk["CLKOUT1_REQUESTED_OUT_FREQ"]) == cfg.clocks.fabric_mhz
    bd_nets = nets(parsed["bd.tcl"])
    assert "engine/ap_clk" in bd_nets["fabric_clk"]
    if cfg.clocks.dsp_mhz != cfg.clocks.fabric_mhz:
        assert float(clk["CLKOUT2_REQUESTED_OUT_FREQ"]) == cfg.clocks.dsp_mhz
        assert int(clk["NUM_OUT_CLKS"]) == 2
    else:
        assert "CLKOUT2_REQUESTED_OUT_FREQ" not in clk and int(clk["NUM_OUT_CLKS"]) == 1
    checks = {c.words[1].value: float(c.words[2].value) for c in parsed["bd.tcl"]
              if c.name == "ednn_check_freq"}  # fmt: skip
    assert checks["clocks/fabric_clk"] == cfg.clocks.fabric_mhz
    assert checks.get("clocks/dsp_clk", cfg.clocks.fabric_mhz) == cfg.clocks.dsp_mhz
    # HLS schedules for the fabric clock, on the overlay's part
    hls = parsed["hls.tcl"]
    period = next(float(c.words[2].value) for c in hls if c.name == "create_clock")
    assert abs(1000.0 / period - cfg.clocks.fabric_mhz) < 0.1
    assert next(c.words[1].value for c in hls if c.name == "set_part") == cfg.part
    part = next(c for c in parsed["build.tcl"] if c.name == "set" and c.words[1].value == "part")
    assert part.words[2].value == cfg.part


@pytest.mark.parametrize("name", PRODUCTS)
def test_interrupts_match_overlay_toml(name: str) -> None:
    cfg, _, parsed = built(name)
    cmds = parsed["bd.tcl"]
    bd_nets = nets(cmds)
    n_in = cfg.interrupts.controller_inputs
    assert int(cell_properties(cmds)["irq_concat"]["NUM_PORTS"]) == n_in
    driver_of = {sink: pins[0] for pins in bd_nets.values() for sink in pins[1:]}
    want = {cfg.engine.irq: "engine/irq"}
    for d in cfg.dmas:
        if d.mm2s_irq is not None:
            want[d.mm2s_irq] = f"{d.name}/mm2s_introut"
        if d.s2mm_irq is not None:
            want[d.s2mm_irq] = f"{d.name}/s2mm_introut"
    for i in range(n_in):
        assert driver_of[f"irq_concat/In{i}"] == want.get(i, "irq_zero/dout"), i
    assert driver_of["axi_intc/intr"] == "irq_concat/dout"
    assert cfg.interrupts.ps_irq == 121  # pl_ps_irq0[0]
    assert driver_of["ps/pl_ps_irq0"] == "axi_intc/irq"


def test_ps_irq_other_than_bit_zero(tmp_path: Path) -> None:
    cfg = _copy_overlay(tmp_path, "ultra96", ("ps_irq = 121", "ps_irq = 139"))
    cmds = parse_tcl(generate_build_files(cfg)["bd.tcl"])
    driver_of = {s: p[0] for p in nets(cmds).values() for s in p[1:]}
    assert driver_of["ps_irq_concat/In3"] == "axi_intc/irq"  # 139 = pl_ps_irq1[3]
    assert all(driver_of[f"ps_irq_concat/In{i}"] == "irq_zero/dout" for i in range(3))
    assert driver_of["ps/pl_ps_irq1"] == "ps_irq_concat/dout"
    assert cell_properties(cmds)["ps"]["PSU__USE__IRQ1"] == "1"


# ---------------------------------------------------------------------------- names and files
def test_bitstream_names_are_what_the_build_writes() -> None:
    assert bitstream_name("zcu104") == "edge_dnn_zcu104.bit"
    assert hwh_name("zcu104") == "edge_dnn_zcu104.hwh"
    for name in PRODUCTS:
        cfg, texts, parsed = built(name)
        assert bitstream_name(cfg) == f"{design_name(name)}.bit"
        created = [c for c in parsed["bd.tcl"] if c.name == "create_bd_design"]
        assert [c.words[1].value for c in created] == [design_name(name)]
        build = texts["build.tcl"]
        assert f"[file join $out_dir {bitstream_name(name)}]" in build
        assert f"[file join $out_dir {hwh_name(name)}]" in build
        assert f"BIT := out/{design_name(name)}.bit" in texts["Makefile"]


def test_engine_ip_type_is_one_string_everywhere() -> None:
    parsed = built("zcu104")[2]
    vlnv = "edge-dnn.org:hls:edge_dnn_engine:1.0"
    assert cells(parsed["bd.tcl"])["engine"] == vlnv
    export = next(c for c in parsed["hls.tcl"] if c.name == "config_export")
    w = [x.value for x in export.words]
    got = ":".join(w[w.index(k) + 1] for k in ("-vendor", "-library", "-ipname", "-version"))
    assert got == vlnv
    assert next(c for c in parsed["hls.tcl"] if c.name == "set_top").words[1].value == (
        "edge_dnn_engine"
    )


def test_makefile_recipes_use_tabs() -> None:
    for name in PRODUCTS:
        text = built(name)[1]["Makefile"]
        for line in text.splitlines():
            if line.startswith(" ") and line.strip():
                pytest.fail(f"{name}/build/Makefile: space-indented line {line!r}")
        assert "\t$(HLS) hls.tcl" in text
        assert "-source build.tcl" in text


def test_committed_build_files_are_current() -> None:
    for name in PRODUCTS:
        paths = check_build_generated(name)
        assert [p.name for p in paths] == list(BUILD_FILES)


def test_mirrors_are_not_built() -> None:
    for name in MIRROR_OVERLAYS:
        assert name in list_overlays()
        assert not (REPO / "overlays" / name / "build").exists()


def _copy_overlay(tmp_path: Path, name: str, *edits: tuple[str, str]) -> OverlayConfig:
    d = tmp_path / name
    d.mkdir()
    text = (REPO / "overlays" / name / "overlay.toml").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    (d / "overlay.toml").write_text(text, encoding="utf-8")
    return load_overlay(d / "overlay.toml")


def test_stale_or_missing_file_is_named(tmp_path: Path) -> None:
    cfg = _copy_overlay(tmp_path, "zcu104")
    write_build_files(cfg)
    assert check_build_generated(cfg)[0].parent == tmp_path / "zcu104" / "build"
    bd = tmp_path / "zcu104" / "build" / "bd.tcl"
    bd.write_text(bd.read_text() + "# hand edit\n")
    with pytest.raises(StaleGeneratedFileError) as e:
        check_build_generated(cfg)
    assert e.value.generated == str(bd)
    assert f"{bd} is stale" in str(e.value)
    assert "hls.tcl" not in str(e.value) and "regenerate" in str(e.value)
    (tmp_path / "zcu104" / "build" / "hls.tcl").unlink()
    with pytest.raises(StaleGeneratedFileError, match=r"hls\.tcl is missing"):
        check_build_generated(cfg)


def test_changed_toml_makes_the_build_stale(tmp_path: Path) -> None:
    cfg = _copy_overlay(tmp_path, "zcu102")
    write_build_files(cfg)
    toml = tmp_path / "zcu102" / "overlay.toml"
    toml.write_text(toml.read_text().replace("0xA004_0000", "0xA006_0000"))
    with pytest.raises(StaleGeneratedFileError) as e:
        check_build_generated(toml)
    assert "bd.tcl is stale" in str(e.value) and str(toml) in str(e.value)


def test_generator_check_on_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", REPO / "tools" / "gen_overlay_build.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert all(f"{n}: build files up to date" in out for n in PRODUCTS)
    assert not any(m in out for m in MIRROR_OVERLAYS)


def test_unknown_board_names_the_key(tmp_path: Path) -> None:
    cfg = _copy_overlay(tmp_path, "ultra96", ('board = "Ultra96"', 'board = "KV260"'))
    with pytest.raises(OverlayConfigError, match=r"key 'overlay\.board'.*KV260"):
        generate_build_files(cfg)


def test_stream_wider_than_the_ps_port_is_rejected(tmp_path: Path) -> None:
    cfg = _copy_overlay(tmp_path, "ultra96", ("hp_port_bits = 128", "hp_port_bits = 64"))
    with pytest.raises(OverlayConfigError, match=r"streams\.weights0\.width_bits"):
        generate_build_files(cfg)


def test_output_is_deterministic_and_has_no_host_paths(tmp_path: Path) -> None:
    cfg = _copy_overlay(tmp_path, "zcu104")
    a = generate_build_files(cfg)
    assert a == generate_build_files(load_overlay(tmp_path / "zcu104"))
    assert a == built("zcu104")[1]
    assert not any(str(tmp_path) in t or str(REPO) in t for t in a.values())
    shutil.rmtree(tmp_path / "zcu104")
