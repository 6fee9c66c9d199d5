#!/usr/bin/env python3
"""Train the bundled ``synthdet`` detector and export it as a Caffe model.

Usage::

    PYTHONPATH=. python tools/train_detector.py --out edge_dnn/zoo/synthdet [--seed 0]

The same as ``python -m vision_pipeline.train_detector`` (see that module for the recipe):
writes ``synthdet.prototxt``, ``synthdet.caffemodel`` and ``metrics.json`` into ``--out``.
"""

from __future__ import annotations

import sys

from vision_pipeline.train_detector import main

if __name__ == "__main__":
    sys.exit(main())
