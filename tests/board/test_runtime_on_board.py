"""The runtime tests on a real ZCU board: ``pytest -m board tests/board`` on the board, after
``board_setup.sh`` installed the package and the overlay files (edge_dnn_<overlay>.bit/.hwh).

The host runs the same runtime through the emulated board (tests/unit/test_runtime.py,
tests/e2e/test_runtime_nets.py); here ``Runtime(model)`` attaches to the real overlay.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import edge_dnn
from arm_scheduler import pynq_api
from arm_scheduler.runtime import Runtime
from edge_dnn.compiler import compile_model
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

pytestmark = pytest.mark.board


def test_digits_on_the_board_equals_the_integer_reference() -> None:
    if not pynq_api.real_board_present():
        pytest.fail("no PYNQ board here: run this suite on the board (pytest -m board)")
    overlay = os.environ.get("EDGE_DNN_OVERLAY", "zcu104")
    g = edge_dnn.load_caffe(*model_files("digits"))
    name, shape = next(iter(g.inputs.items()))
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(g, {name: rng.standard_normal((4, *shape[1:])).astype(np.float32)},
                      method="minmax", progress=False)  # fmt: skip
    with Runtime(compile_model(qg, overlay)) as rt:
        assert not rt.emulated
        for _ in range(10):
            x = rng.standard_normal((1, *shape[1:])).astype(np.float32)
            got = rt.run(x, raw=True)
            ref = qg.run({name: x}, raw=True)
            for t in qg.outputs:
                assert np.array_equal(got[t], ref[t])
