"""Regenerate (or check) the Vivado / Vitis HLS build files: overlays/<name>/build/.

Usage (from anywhere)::

    python tools/gen_overlay_build.py               # rewrite every product overlay's build files
    python tools/gen_overlay_build.py zcu104        # only the named overlays
    python tools/gen_overlay_build.py --check       # exit 1 naming each missing or stale file

Every ``overlays/*/overlay.toml`` of this checkout is processed (not the ``$EDGE_DNN_OVERLAYS``
folders) except the mirrors of published designs (``edge_dnn.overlay.build.MIRROR_OVERLAYS``),
which are never built. What the files do: ``overlays/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's edge_dnn, whether or not it is installed

from edge_dnn.overlay.build import (  # noqa: E402
    check_build_generated,
    is_product_overlay,
    write_build_files,
)
from edge_dnn.overlay.config import CONFIG_FILE, load_overlay  # noqa: E402
from edge_dnn.overlay.errors import OverlayConfigError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("overlays", nargs="*", help="overlay names (default: every product one)")
    parser.add_argument(
        "--check", action="store_true", help="fail if a build file is missing or stale"
    )
    ns = parser.parse_args(argv)
    root = ROOT / "overlays"
    names = ns.overlays or sorted(
        p.parent.name for p in root.glob(f"*/{CONFIG_FILE}") if is_product_overlay(p.parent.name)
    )
    failures = 0
    for name in names:
        try:
            cfg = load_overlay(root / name / CONFIG_FILE)
            if ns.check:
                check_build_generated(cfg)
                print(f"{name}: build files up to date")
            else:
                for p in write_build_files(cfg):
                    print(f"wrote {p.relative_to(ROOT)}")
        except OverlayConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
