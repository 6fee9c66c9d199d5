"""``edge-dnn pipeline`` (found through the ``edge_dnn.commands`` entry-point group) and the
Python API behind it (:func:`vision_pipeline.app.build_pipeline`)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import edge_dnn.cli
from arm_scheduler.runtime import Runtime
from edge_dnn.cli import COMMAND_GROUP, build_parser, main, plugin_commands
from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.compiler.model import TensorInfo, TensorLayout
from edge_dnn.quant.qgraph import TensorQuant
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from tests.conftest import REPO
from vision_pipeline.app import build_pipeline, open_sink_spec, open_sources, resolve_rig
from vision_pipeline.backends import CompiledBackend
from vision_pipeline.detector import INPUT_SHAPE, PREPROCESS, load_synthdet
from vision_pipeline.errors import PipelineError, SinkError, SourceError
from vision_pipeline.sinks import FrameResult, JsonLinesSink, MjpegServerSink
from vision_pipeline.sources import SyntheticSource

SRC = ["synthetic:seed=4,frames=4", "synthetic-thermal:seed=4,frames=4"]


@pytest.fixture(scope="module")
def edm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled detector quantized (minmax, random frames) and compiled for zcu104."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (2, *INPUT_SHAPE[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        qg = quantize(load_synthdet(), {"data": x}, method="minmax", progress=False)
    path = tmp_path_factory.mktemp("edm") / "synthdet.edm"
    compile_model(qg, "zcu104", preprocess=PREPROCESS).save(path)
    return path


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) <= before, threading.enumerate()


def _lines(path: Path) -> list[dict]:
    return [json.loads(s) for s in path.read_text().splitlines()]


# ============================================================================ discovery
def test_pipeline_command_is_discovered_through_the_entry_point_group() -> None:
    from vision_pipeline.cli import cmd_pipeline

    eps = {ep.name: ep.value for ep in plugin_commands()}
    assert eps["pipeline"] == "vision_pipeline.cli:register"
    args = build_parser().parse_args(["pipeline", "--model", "m.edm", "--source", "0"])
    assert args.func is cmd_pipeline and args.source == ["0"] and args.sink == []


def test_discovery_imports_neither_opencv_nor_the_pipeline() -> None:
    code = (
        "import sys, edge_dnn.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('cv2', 'vision_pipeline.app', 'vision_pipeline.cli') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == "['vision_pipeline.cli']"


def test_a_plugin_that_cannot_load_becomes_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = EntryPoint("frobnicate", "no_such_module_for_edge_dnn:register", COMMAND_GROUP)
    monkeypatch.setattr(edge_dnn.cli, "plugin_commands", lambda: [broken])
    assert main(["frobnicate", "--anything", "x"]) == 2
    err = capsys.readouterr().err
    assert "frobnicate" in err and "unavailable" in err and "no_such_module_for_edge_dnn" in err


# ============================================================================ running
def test_cli_runs_two_sensors_into_jsonl_and_video(
    edm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jl, video, st = tmp_path / "out.jsonl", tmp_path / "out.avi", tmp_path / "stats.json"
    rc = main(
        [
            *("pipeline", "--model", str(edm), "--source", SRC[0], "--source", SRC[1]),
            *("--fusion", "wbf", "--sink", f"jsonl:{jl}", "--sink", f"video:{video}"),
            *("--frames", "3", "--track", "--stats-json", str(st)),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "3 frame set(s)" in out and "precision" in out
    lines = _lines(jl)
    assert len(lines) == 3 and all(set(r["sensors"]) == {"visible", "thermal"} for r in lines)
    assert all(d["sensor"] == "visible" for r in lines for d in r["detections"])
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 3
    doc = json.loads(st.read_text())
    assert doc["frames_out"] == 3 and set(doc["metrics"]) == {"final", "visible", "thermal"}


def test_python_api_gives_what_the_cli_gives(edm: Path, tmp_path: Path) -> None:
    jl = tmp_path / "cli.jsonl"
    args = ["pipeline", "--model", str(edm), "--source", SRC[0], "--source", SRC[1]]
    assert main([*args, "--fusion", "nms", "--sink", f"jsonl:{jl}", "--runner", "emulator"]) == 0
    buf = io.StringIO()  # the API's default runner is the board runtime: the same results
    stats = build_pipeline(edm, SRC, sinks=[JsonLinesSink(buf)], fusion="nms").run()
    assert stats.frames_out == 4

    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("latency_ms", "fps")} for r in rows]

    api = [json.loads(s) for s in buf.getvalue().splitlines()]
    assert strip(api) == strip(_lines(jl))


@pytest.mark.parametrize("mode", ["confirm", "none"])
def test_confirmation_and_single_sensor_modes(edm: Path, mode: str) -> None:
    got: list[FrameResult] = []
    build_pipeline(edm, SRC, fusion=mode, frames=2, on_result=got.append, min_score=0.1).run()
    assert len(got) == 2
    assert all(list(r.per_sensor) == ["visible"] for r in got)  # the model runs on one sensor
    dets = [d for r in got for d in r.detections]
    assert dets
    if mode == "confirm":
        assert all(d.confirmed is not None or d.sources == () for d in dets)
        assert any(d.confirmed is not None for d in dets)
    else:
        assert all(d.confirmed is None for d in dets)


def test_rig_of_synthetic_sensors_follows_the_primary() -> None:
    srcs = open_sources(["synthetic-thermal:seed=2,name=ir", "synthetic:seed=2,name=rgb"])
    rig = resolve_rig(srcs)
    assert rig is not None and rig.reference == "ir"
    scene = srcs[0].scene if isinstance(srcs[0], SyntheticSource) else None
    assert scene is not None and srcs[1].scene is scene  # type: ignore[attr-defined]
    H = rig.homography("rgb", "ir")
    np.testing.assert_allclose(H / H[2, 2], scene.homography / scene.homography[2, 2], atol=1e-9)
    other = open_sources(["synthetic:seed=2", "synthetic-thermal:seed=3"])
    assert resolve_rig(other) is None


# ============================================================================ errors
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "synthetic:seed=1,colour=red"], "bad option 'colour=red'"),
        (["--source", "synthetic:seed=x"], "seed='x' is not a valid number"),
        (["--source", SRC[0], "--sink", "printer:1"], "unknown sink 'printer:1'"),
        (["--source", SRC[0], "--sink", "mjpeg:http"], "mjpeg:PORT"),
        (["--source", SRC[0], "--sink", "video:x.mov"], ".avi (MJPG) or .mp4"),
        (["--source", SRC[0], "--fusion", "confirm"], "needs at least two sources"),
        (["--source", SRC[0], "--source", "synthetic-thermal:seed=9"], "rig calibration"),
        (["--source", SRC[0], "--frames", "-1"], "--frames must be >= 0"),
    ],
)
def test_bad_options_are_one_line_errors(
    edm: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pipeline", "--model", str(edm), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edge-dnn: error:") and message in err and err.count("\n") == 1


def test_missing_model_and_bad_fusion_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pipeline", "--model", str(tmp_path / "no.edm"), "--source", SRC[0]]) == 2
    assert "no.edm" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pipeline", "--model", "m.edm", "--source", SRC[0], "--fusion", "max"])
    with pytest.raises(PipelineError, match="fusion must be one of"):
        build_pipeline("m.edm", SRC, fusion="max")
    with pytest.raises(SourceError):
        open_sources(["synthetic:frames=-2"])


def test_sink_specs() -> None:
    s = open_sink_spec("mjpeg:0")
    try:
        assert isinstance(s, MjpegServerSink) and s.host == "127.0.0.1" and s.port > 0
    finally:
        s.close()
    with pytest.raises(SinkError):
        open_sink_spec("jsonl:")


def test_runner_factory_injects_the_board_runner(edm: Path) -> None:
    from edge_dnn.emulator.run import ModelRunner

    calls: list[str] = []

    class Counting:
        def __init__(self, model: object) -> None:
            self.inner = ModelRunner(model)  # type: ignore[arg-type]

        def run(self, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
            calls.append(next(iter(feeds)))
            return self.inner.run(feeds, raw=raw)

    stats = build_pipeline(edm, SRC, runner_factory=Counting, frames=2).run()
    assert stats.frames_out == 2 and calls == ["data"] * 4  # two sensors, two frame sets


# ============================================================================ zero-copy input
INPUT_SIZE = int(np.prod(INPUT_SHAPE))


class _InputCopies:
    """Counts calls, on arrays of network-input size, of what copies an input on its way to
    the engine: dequantizing it, quantizing it, packing it into the DDR layout."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        for cls, name in (
            (TensorQuant, "quantize"),
            (TensorQuant, "dequantize"),
            (TensorLayout, "pack"),
            (TensorInfo, "write"),
        ):
            monkeypatch.setattr(cls, name, self._spy(f"{cls.__name__}.{name}", getattr(cls, name)))

    def _spy(self, label: str, fn: Any) -> Any:
        def spy(obj: object, x: Any, *args: Any, **kwargs: Any) -> Any:
            a = args[0] if label == "TensorInfo.write" else x  # write(image, q)
            if np.size(a) == INPUT_SIZE:
                self.calls.append(label)
            return fn(obj, x, *args, **kwargs)

        return spy


def test_the_pipeline_preprocesses_straight_into_the_runtime_dma_buffers(
    edm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = build_pipeline(edm, SRC, frames=3)  # the default runner: arm_scheduler.Runtime
    runtimes = set()
    for m in p.models.values():
        be = m.backend
        assert isinstance(be, CompiledBackend) and isinstance(be.runner, Runtime)
        assert be.zero_copy and be.runner.input_mode("data") == "ddr"
        slot = be.runner._slots[be._slot]  # type: ignore[index]
        # the preprocessor's destination is the slot's DMA buffer itself
        assert m.preprocessor.buffer is be.input_buffer("data")
        assert np.shares_memory(m.preprocessor.buffer, slot.acts)
        runtimes.add(be.runner)
    assert len(runtimes) == 1  # one runtime (weights once), one slot per sensor
    copies = _InputCopies(monkeypatch)
    stats = p.run()
    assert stats.frames_out == 3
    assert copies.calls == []  # no dequantize / quantize / pack of the input on the hot path
    (rt,) = runtimes
    assert rt.input_copies == 0 and rt._closed  # closed at the end of the run
    for m in p.models.values():
        assert m.preprocessor.copies == 0 and m.backend.copies == 0  # type: ignore[attr-defined]
        assert m.preprocessor.frames == 3


def test_the_emulator_runner_copies_the_input_three_times(
    edm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = build_pipeline(edm, SRC, frames=2, runner="emulator")
    copies = _InputCopies(monkeypatch)
    p.run()
    # per frame and sensor: dequantized by the backend, re-quantized by the runner and packed
    # into its DDR image (write -> pack)
    assert sorted(copies.calls) == sorted(
        ["TensorQuant.dequantize", "TensorQuant.quantize", "TensorInfo.write", "TensorLayout.pack"]
        * 4
    )
    with pytest.raises(PipelineError, match="runner must be one of"):
        build_pipeline(edm, SRC, runner="fpga")


class _IntegerReference:
    """The compiled model's integer reference as a runner (QuantizedGraph.run)."""

    def __init__(self, model: CompiledModel) -> None:
        assert model.reference is not None
        self.model = model
        self.qg = model.reference

    def run(self, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
        return self.qg.run(feeds, outputs=list(self.model.outputs), raw=raw)


def test_runtime_detections_equal_the_integer_reference(edm: Path) -> None:
    def results(**kw: Any) -> list[dict]:
        got: list[FrameResult] = []
        build_pipeline(edm, SRC, fusion="wbf", min_score=0.05, on_result=got.append, **kw).run()
        rows = [r.to_dict() for r in got]
        return [{k: v for k, v in r.items() if k not in ("latency_ms", "fps")} for r in rows]

    board = results()
    assert any(r["per_sensor"]["visible"] for r in board)
    assert board == results(runner_factory=_IntegerReference)


def test_cli_runs_the_board_in_child_processes(edm: Path, tmp_path: Path) -> None:
    jl = tmp_path / "p.jsonl"
    args = ["pipeline", "--model", str(edm), "--source", SRC[0], "--source", SRC[1]]
    assert main([*args, "--runner", "process", "--frames", "2", "--sink", f"jsonl:{jl}"]) == 0
    ref = tmp_path / "e.jsonl"
    assert main([*args, "--frames", "2", "--sink", f"jsonl:{ref}"]) == 0
    strip = [{k: v for k, v in r.items() if k not in ("latency_ms", "fps")} for r in _lines(jl)]
    assert strip == [
        {k: v for k, v in r.items() if k not in ("latency_ms", "fps")} for r in _lines(ref)
    ]
