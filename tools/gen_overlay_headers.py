"""Regenerate (or check) the C headers of the overlays: overlays/<name>/generated/edge_dnn_config.h.

Usage (from anywhere)::

    python tools/gen_overlay_headers.py               # rewrite every overlay's header
    python tools/gen_overlay_headers.py zcu104        # only the named overlays
    python tools/gen_overlay_headers.py --check       # exit 1 if a committed header is stale
    python tools/gen_overlay_headers.py --estimate    # also print the resource estimates

Every ``overlays/*/overlay.toml`` of this checkout is processed (not the ``$EDGE_DNN_OVERLAYS``
folders). ``--check`` also fails when an overlay does not fit its part (``check_fits``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's edge_dnn, whether or not it is installed

from edge_dnn.overlay.config import CONFIG_FILE, load_overlay  # noqa: E402
from edge_dnn.overlay.errors import OverlayConfigError  # noqa: E402
from edge_dnn.overlay.header import check_generated, write_header  # noqa: E402
from edge_dnn.overlay.resources import check_fits, estimate_resources, format_estimate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("overlays", nargs="*", help="overlay names (default: all)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="fail if a header is missing or stale, or an overlay does not fit",
    )
    parser.add_argument("--estimate", action="store_true", help="print resource estimates")
    ns = parser.parse_args(argv)
    root = ROOT / "overlays"
    names = ns.overlays or sorted(p.parent.name for p in root.glob(f"*/{CONFIG_FILE}"))
    failures = 0
    for name in names:
        path = root / name / CONFIG_FILE
        try:
            cfg = load_overlay(path)
            if ns.check:
                check_generated(cfg)
                check_fits(cfg)
                print(f"{name}: header up to date, fits {cfg.part}")
            else:
                out = write_header(cfg)
                print(f"wrote {out.relative_to(ROOT)}")
            if ns.estimate:
                print(format_estimate(estimate_resources(cfg)))
        except OverlayConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
