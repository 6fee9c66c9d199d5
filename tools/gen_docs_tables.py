"""Regenerate (or check) the overlay tables in README.md and docs/overlay.md.

Usage (from anywhere)::

    python tools/gen_docs_tables.py           # rewrite the marked tables
    python tools/gen_docs_tables.py --check   # exit 1 if a committed table is stale

The tables are computed from ``overlays/*/overlay.toml`` through the typed configuration and the
resource estimator, so the documentation cannot drift from the configuration files. A table lives
between ``<!-- BEGIN generated:NAME -->`` and ``<!-- END generated:NAME -->`` markers; text
outside the markers is never touched.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's edge_dnn, whether or not it is installed

from edge_dnn.overlay.config import CONFIG_FILE, OverlayConfig, load_overlay  # noqa: E402
from edge_dnn.overlay.resources import estimate_resources  # noqa: E402

# Product overlays first, then the mirrors of published designs (docs/overlay.md "Mirrors").
MIRRORS = ("chaidnn_zu7_512", "dpu_b4096_zu7")


def _overlays() -> list[OverlayConfig]:
    names = sorted(p.parent.name for p in (ROOT / "overlays").glob(f"*/{CONFIG_FILE}"))
    names.sort(key=lambda n: (n in MIRRORS, n))
    return [load_overlay(ROOT / "overlays" / n / CONFIG_FILE) for n in names]


def _clock(cfg: OverlayConfig) -> str:
    c = cfg.clocks
    if cfg.derived.pump > 1:
        return f"{c.fabric_mhz:g} / {c.dsp_mhz:g}"
    return f"{c.fabric_mhz:g}"


def _pct(used: float, avail: int) -> str:
    return f"{used:g} / {avail} ({100 * used / avail:.0f}%)" if avail else f"{used:g} / 0"


def overlay_table_full() -> str:
    """The detailed overlay table of docs/overlay.md (every estimate against its part)."""
    rows = [
        "| overlay | device | PE out x in x pixels | clock MHz (fabric / DSP) | int8 MAC/cycle "
        "| peak GOPS | buffers KiB | DSP est. / part | BRAM36 est. / part | URAM est. / part "
        "| LUT est. | FF est. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cfg in _overlays():
        est, pe, d = estimate_resources(cfg), cfg.pe, cfg.derived
        part = est.part
        rows.append(
            f"| `{cfg.name}` | {cfg.device.upper()} | {pe.out_channels} x {pe.in_channels} x "
            f"{pe.pixels} | {_clock(cfg)} | {d.macs_per_cycle} | {d.peak_gops:.0f} "
            f"| {d.on_chip_bytes / 1024:.0f} | {_pct(est.dsp, part.dsp)} "
            f"| {_pct(est.bram36, part.bram36)} | {est.uram} / {part.uram} "
            f"| {est.lut / 1000:.0f}k ({100 * est.lut / part.lut:.0f}%) "
            f"| {est.ff / 1000:.0f}k ({100 * est.ff / part.ff:.0f}%) |"
        )
    return "\n".join(rows)


def overlay_table_short() -> str:
    """The short overlay table of the README (product overlays and mirrors, labeled)."""
    rows = [
        "| overlay | board / device | PE array (out x in x pixels) | clock MHz (fabric / DSP) "
        "| peak int8 GOPS | DSP / BRAM36 / URAM (estimated) | on-chip buffers |",
        "|---|---|---|---|---|---|---|",
    ]
    for cfg in _overlays():
        est, pe, d = estimate_resources(cfg), cfg.pe, cfg.derived
        board = "mirror of a published design" if cfg.name in MIRRORS else cfg.board
        rows.append(
            f"| `{cfg.name}` | {board} / {cfg.device.upper()} | {pe.out_channels} x "
            f"{pe.in_channels} x {pe.pixels} | {_clock(cfg)} | {d.peak_gops:.0f} "
            f"| {est.dsp} / {est.bram36:g} / {est.uram} | {d.on_chip_bytes / 1024:.0f} KiB |"
        )
    return "\n".join(rows)


TABLES: dict[str, Callable[[], str]] = {
    "overlay-table": overlay_table_full,
    "overlay-table-short": overlay_table_short,
}
FILES = ("README.md", "docs/overlay.md")
_BLOCK = re.compile(
    r"(<!-- BEGIN generated:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)"
    r"(<!-- END generated:(?P=name) -->)",
    re.S,
)


def render(text: str, path: str) -> str:
    """``text`` with every marked table regenerated.

    Raises:
        KeyError: a marker names an unknown table (the message names the file).
    """

    def sub(m: re.Match[str]) -> str:
        name = m["name"]
        if name not in TABLES:
            raise KeyError(f"{path}: unknown generated table {name!r}")
        return f"{m[1]}{TABLES[name]()}\n{m[4]}"

    return _BLOCK.sub(sub, text)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a table is stale")
    ns = parser.parse_args(argv)
    stale = 0
    for rel in FILES:
        path = ROOT / rel
        old = path.read_text(encoding="utf-8")
        new = render(old, rel)
        if new == old:
            print(f"{rel}: tables up to date")
        elif ns.check:
            print(f"{rel}: generated tables are stale (run python tools/gen_docs_tables.py)")
            stale += 1
        else:
            path.write_text(new, encoding="utf-8")
            print(f"wrote {rel}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
