"""ProcessRunner: the emulated board in a child process gives the in-process board's outputs,
reports failures typed, and leaves neither process nor thread behind."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.emulator.run import ModelRunner
from edge_dnn.errors import EdgeDnnError
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from vision_pipeline.backends import CompiledBackend, ModelRunnerLike
from vision_pipeline.detector import INPUT_SHAPE, PREPROCESS, load_synthdet
from vision_pipeline.process_runner import ProcessRunner, RunnerProcessError


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    x = np.random.default_rng(0).uniform(-2, 2, (2, *INPUT_SHAPE[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(load_synthdet(), {"data": x}, method="minmax", progress=False)
    return compile_model(qg, "zcu104", preprocess=PREPROCESS)


def test_child_process_runs_the_emulated_board_bit_exactly(model: CompiledModel) -> None:
    before = set(threading.enumerate())
    x = np.random.default_rng(1).uniform(-2, 2, (1, *INPUT_SHAPE[1:])).astype(np.float32)
    want = ModelRunner(model).run({"data": x}, raw=True)
    with ProcessRunner(model) as runner:
        assert isinstance(runner, ModelRunnerLike)
        got = runner.run({"data": x}, raw=True)
        assert set(got) == set(want) and all(np.array_equal(got[k], want[k]) for k in got)
        with pytest.raises(RunnerProcessError, match=r"InputError.*expected shape") as ei:
            runner.run({"data": x[:, :2]})
        assert isinstance(ei.value, EdgeDnnError)
        be = CompiledBackend(model, runner=runner, close_runner=True)
        assert set(be.run({"data": be.input_buffer("data")})) == {"heat", "box"}
        be.close()
    assert runner._proc.exitcode == 0 and not runner._proc.is_alive()
    with pytest.raises(RunnerProcessError, match="closed"):
        runner.run({"data": x})
    assert set(threading.enumerate()) <= before


def test_a_runner_that_cannot_start_is_a_typed_error(model: CompiledModel) -> None:
    with pytest.raises(RunnerProcessError, match="failed to start: ModuleNotFoundError"):
        ProcessRunner(model, factory="no_such_module_for_edge_dnn:Runner")
