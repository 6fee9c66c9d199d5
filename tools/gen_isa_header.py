"""Regenerate (or check) the ISA's generated files from the field tables of edge_dnn/isa/format.py.

Usage (from anywhere)::

    python tools/gen_isa_header.py            # rewrite overlays/_common/generated/edge_dnn_isa.h
                                              # and the field tables in docs/isa.md
    python tools/gen_isa_header.py --check    # exit 1 if either is stale (CI)

``--header PATH`` / ``--doc PATH`` point at other copies (used by the tests).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's edge_dnn, whether or not it is installed

from edge_dnn.isa.cheader import (  # noqa: E402
    check_isa_doc,
    check_isa_header,
    isa_doc_path,
    isa_header_path,
    write_isa_doc,
    write_isa_header,
)
from edge_dnn.isa.errors import IsaError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    parser.add_argument("--header", type=Path, default=None, help="header path")
    parser.add_argument("--doc", type=Path, default=None, help="docs/isa.md path")
    ns = parser.parse_args(argv)
    header = ns.header or isa_header_path(ROOT)
    doc = ns.doc or isa_doc_path(ROOT)
    failures = 0
    for what, check, write, path in (
        ("header", check_isa_header, write_isa_header, header),
        ("field tables", check_isa_doc, write_isa_doc, doc),
    ):
        try:
            if ns.check:
                check(path)
                print(f"{path}: {what} up to date")
            else:
                write(path)
                print(f"wrote {path}")
        except IsaError as e:
            print(f"error: {e}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
