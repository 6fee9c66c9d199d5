"""Text form of the compile report (:attr:`CompiledModel.report`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["format_report", "tiling_summary"]


def tiling_summary(t: Mapping[str, Any]) -> str:
    """One short line describing a layer's tiling."""
    if not t:
        return ""
    if "chunk" in t:
        src = "+".join("chip" if r else "ddr" for r in t["resident"])
        return f"eltwise chunks of {t['chunk']} words ({src})"
    src = "resident input" if t["resident"] else f"bands of {t['n_oh_band']} rows"
    if "band_blocks" in t:
        return (
            f"{src} x {t['band_blocks']} blocks; tiles {t['tile_blocks']} blocks x "
            f"{t['n_oh_tile']} rows"
        )
    parts = [src]
    if t.get("ksplit"):
        parts.append(f"K-split {t['ksplit']} blocks")
    parts.append(f"{t['chunk_groups']} PE groups/chunk" + (" x2" if t["wt_regions"] == 2 else ""))
    parts.append(f"tiles {t['tile_groups']} groups x {t['n_oh_tile']} rows")
    if t.get("band_outer"):
        parts.append("band-outer")
    return "; ".join(parts)


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def format_report(report: Mapping[str, Any]) -> str:
    """The per-layer table and totals of a compile report."""
    rows = [("layer", "type", "place", "step", "in/out", "DDR bytes", "tiling / reason")]
    for r in report.get("layers", []):
        if r["placement"] == "input":
            continue
        io = ""
        if "input" in r:
            io = ",".join(r["input"]) + " -> " + (",".join(r["output"]) or "-")
        nbytes = sum(r.get("stream_bytes", {}).values())
        what = tiling_summary(r.get("tiling", {})) or r.get("reason", "")
        if r.get("fused_eltwise"):
            what += f"; + eltwise '{r['fused_eltwise']}' fused"
        step = "" if r.get("step") is None else str(r["step"])
        rows.append(
            (r["name"], r["type"], r["placement"], step, io, f"{nbytes:,}" if nbytes else "", what)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
        if k == 0:
            lines.append("-" * len(lines[0]))
    streams = ", ".join(f"{k} {_mb(v)}" for k, v in sorted(report.get("stream_bytes", {}).items()))
    lines.append("")
    lines.append(
        f"network '{report.get('network')}' on overlay '{report.get('overlay')}': "
        f"{report.get('engine_layers')} engine layers in {report.get('engine_runs')} engine "
        f"runs, {report.get('arm_steps')} ARM steps, {len(report.get('fused_eltwise', {}))} "
        f"eltwise fused; DDR image {_mb(report.get('ddr_bytes', 0))}"
        f" (weights {_mb(report.get('weights_bytes', 0))}); streams: {streams}; "
        f"{report.get('command_words', 0):,} command words; compiled in "
        f"{report.get('compile_seconds', 0):.2f} s"
    )
    return "\n".join(lines)
