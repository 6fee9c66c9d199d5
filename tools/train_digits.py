#!/usr/bin/env python3
"""Train the bundled ``digits`` CNN in numpy and export it as a Caffe model.

Usage::

    PYTHONPATH=. python tools/train_digits.py --out edge_dnn/zoo/digits [--seed 0] [--epochs 40]

Writes ``digits.prototxt``, ``digits.caffemodel``, ``metrics.json`` and ``split.json`` into
``--out`` (see :mod:`edge_dnn.train.digits`). Needs scikit-learn (for the data set).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_dnn.errors import EdgeDnnError
from edge_dnn.train import digits


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    ap.add_argument("--epochs", type=int, default=digits.DEFAULT_EPOCHS)
    ap.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    args = ap.parse_args(argv)
    try:
        log = None if args.quiet else print
        params, metrics = digits.train_digits(seed=args.seed, epochs=args.epochs, log=log)
        digits.export_model(args.out, params, metrics)
    except EdgeDnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n = metrics["split"]["num_test"]
    print(
        f"float held-out accuracy {metrics['float_test_accuracy']:.4f} "
        f"({metrics['float_test_correct']}/{n}); train accuracy {metrics['train_accuracy']:.4f}; "
        f"{metrics['train_seconds']:.1f} s; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
