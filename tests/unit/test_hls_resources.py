"""The resource estimate against the HLS source's own array shapes and multiplier counts.

A tiny C++ program includes ``overlays/_common/hls/edge_dnn_hls.h`` for each overlay and prints
what the source instantiates: the shape and ``sizeof`` of the four buffer arrays, the memory
kind each is bound to, and the unrolled multipliers of the PE array, the requantizer and the
vector unit (constexpr values of the header). They must be the overlay configuration's buffers
and give exactly the DSP48E2 and BRAM36 / URAM / LUTRAM counts of
:func:`edge_dnn.overlay.resources.estimate_resources` (``docs/engine.md``, "From the HLS source
to the resource estimate").
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edge_dnn.emulator.csim import hls_source_dir
from edge_dnn.overlay.config import find_overlay, list_overlays, load_overlay
from edge_dnn.overlay.resources import (
    ADDRESS_DSPS,
    bram36_blocks,
    estimate_resources,
    lutram_luts,
    uram_blocks,
)

GXX = shutil.which("g++")
pytestmark = pytest.mark.skipif(
    GXX is None, reason="g++ is not on PATH: the HLS header cannot be compiled"
)

_PROGRAM = r"""
#include <cstdio>
#include "edge_dnn_hls.h"
using namespace ednn;
#define SHOW(name, value) std::printf("%s=%llu\n", name, (unsigned long long)(value))
int main() {
    input_buffer_t* in = nullptr;
    SHOW("input.banks", sizeof(*in) / sizeof((*in)[0]));
    SHOW("input.depth", sizeof((*in)[0]) / sizeof(act_word));
    SHOW("input.width_bits", 8 * sizeof(act_word));
    SHOW("input.sizeof", sizeof(input_buffer_t));
    SHOW("input.memory", EDNN_BUF_INPUT_MEMORY);
    output_buffer_t* out = nullptr;
    SHOW("output.banks", sizeof(*out) / sizeof((*out)[0]));
    SHOW("output.depth", sizeof((*out)[0]) / sizeof(act_word));
    SHOW("output.width_bits", 8 * sizeof(act_word));
    SHOW("output.sizeof", sizeof(output_buffer_t));
    SHOW("output.memory", EDNN_BUF_OUTPUT_MEMORY);
    weight_buffer_t* wt = nullptr;
    SHOW("weight.banks", sizeof(*wt) / sizeof((*wt)[0]));
    SHOW("weight.depth", sizeof((*wt)[0]) / sizeof(wt_bank_word));
    SHOW("weight.width_bits", 8 * sizeof(wt_bank_word));
    SHOW("weight.sizeof", sizeof(weight_buffer_t));
    SHOW("weight.memory", EDNN_BUF_WEIGHT_MEMORY);
    params_buffer_t* par = nullptr;
    SHOW("params.banks", sizeof(*par) / sizeof((*par)[0]));
    SHOW("params.depth", sizeof((*par)[0]) / sizeof(par_bank_word));
    SHOW("params.width_bits", 8 * sizeof(par_bank_word));
    SHOW("params.sizeof", sizeof(params_buffer_t));
    SHOW("params.memory", EDNN_BUF_PARAMS_MEMORY);
    SHOW("pe.multipliers", PE_MULTIPLIERS);
    SHOW("pe.pump", PUMP);
    SHOW("pe.dsps", PE_DSPS);
    SHOW("pe.chain_segments", CHAIN_SEGMENTS);
    SHOW("pe.accumulators", sizeof(acc_array_t) / sizeof(int64_t));
    SHOW("requant.dsps", REQUANT_DSPS);
    SHOW("vector.dsps", VECTOR_DSPS);
    return 0;
}
"""

_MEMORY = {0: "bram", 1: "uram", 2: "lutram"}
"""``EDNN_MEM_*`` of the generated configuration header."""

_SHAPES: dict[str, dict[str, int]] = {}


def hls_shapes(overlay: str, tmp: Path) -> dict[str, int]:
    """What the HLS header instantiates for ``overlay`` (compiled once per overlay)."""
    if overlay not in _SHAPES:
        src = hls_source_dir()
        prog = tmp / f"shapes_{overlay}.cpp"
        prog.write_text(_PROGRAM)
        exe = tmp / f"shapes_{overlay}"
        assert GXX is not None
        gen = find_overlay(overlay).parent / "generated"
        subprocess.run(
            [
                GXX,
                "-std=c++17",
                "-O0",
                f"-I{gen}",
                f"-I{src.parent / 'generated'}",
                f"-I{src}",
                str(prog),
                "-o",
                str(exe),
            ],
            check=True,
            capture_output=True,
        )
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
        _SHAPES[overlay] = {k: int(v) for k, v in (line.split("=") for line in out.split())}
    return _SHAPES[overlay]


def _blocks(memory: str, banks: int, depth: int, width: int) -> tuple[float, int, int]:
    if memory == "bram":
        return banks * bram36_blocks(depth, width), 0, 0
    if memory == "uram":
        return 0.0, banks * uram_blocks(depth, width), 0
    return 0.0, 0, banks * lutram_luts(depth, width)


@pytest.mark.parametrize("overlay", list_overlays())
def test_buffer_arrays_are_the_configured_buffers(overlay: str, tmp_path: Path) -> None:
    cfg = load_overlay(overlay)
    s = hls_shapes(overlay, tmp_path)
    for b in cfg.buffers:
        got = (s[f"{b.name}.banks"], s[f"{b.name}.depth"], s[f"{b.name}.width_bits"])
        assert got == (b.banks, b.depth, b.width_bits), f"{overlay} {b.name} buffer array"
        # no padding: the array is exactly the buffer's capacity
        assert s[f"{b.name}.sizeof"] == b.banks * b.depth * b.width_bits // 8
        assert _MEMORY[s[f"{b.name}.memory"]] == b.memory


@pytest.mark.parametrize("overlay", list_overlays())
def test_memory_blocks_from_array_shapes(overlay: str, tmp_path: Path) -> None:
    cfg = load_overlay(overlay)
    s = hls_shapes(overlay, tmp_path)
    est = estimate_resources(cfg)
    for b in cfg.buffers:
        line = next(x for x in est.lines if x.component.startswith(f"{b.name} buffer"))
        got = _blocks(
            _MEMORY[s[f"{b.name}.memory"]],
            s[f"{b.name}.banks"],
            s[f"{b.name}.depth"],
            s[f"{b.name}.width_bits"],
        )
        assert got == (line.bram36, line.uram, line.lut), f"{overlay} {b.name} buffer"


@pytest.mark.parametrize("overlay", list_overlays())
def test_dsp_count_from_unrolled_multipliers(overlay: str, tmp_path: Path) -> None:
    cfg = load_overlay(overlay)
    s = hls_shapes(overlay, tmp_path)
    est = estimate_resources(cfg)

    def dsp(prefix: str) -> int:
        return next(x.dsp for x in est.lines if x.component.startswith(prefix))

    pe = cfg.pe
    # one packed multiply per (output-channel pair, input channel, lane), PUMP lanes per DSP
    assert s["pe.multipliers"] == pe.out_channels // 2 * pe.in_channels * pe.pixels
    assert s["pe.pump"] == cfg.derived.pump
    assert s["pe.dsps"] == s["pe.multipliers"] // s["pe.pump"] == cfg.derived.compute_dsps
    assert s["pe.dsps"] == dsp("PE array")
    assert s["pe.accumulators"] == cfg.derived.accumulators
    assert s["requant.dsps"] == dsp("requantization")
    assert s["vector.dsps"] == dsp("vector unit")
    assert est.dsp == s["pe.dsps"] + s["requant.dsps"] + s["vector.dsps"] + ADDRESS_DSPS
