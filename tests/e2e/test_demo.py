"""``edge-dnn demo`` (:func:`vision_pipeline.demo.run_demo`): the main job on a short clip.

The demo runs once per module through the Python API (a short clip into a temporary folder);
the tests check what it wrote: the compiled models, an annotated video OpenCV decodes with one
frame per frame set, one JSON line per frame set, metrics in which late fusion beats the best
single sensor, and a performance report whose modeled per-layer rows and measured figures are
labeled as such. The command line is checked through ``edge_dnn.cli`` (discovery from the
entry-point table, help, argument errors, a tiny in-process run).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_dnn.cli import build_parser, main, plugin_commands
from edge_dnn.compiler import load_model
from tests.conftest import REPO
from vision_pipeline.demo import DemoResult, cmd_demo, render_digit_glyphs, run_demo

pytestmark = pytest.mark.e2e

FRAMES = 24


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, list[str], set[str]]:
    before = {t.name for t in threading.enumerate()}
    lines: list[str] = []
    result = run_demo(tmp_path_factory.mktemp("demo") / "out", frames=FRAMES, log=lines.append)
    after = {t.name for t in threading.enumerate()}
    return result, lines, after - before


def test_the_demo_writes_every_file_and_leaves_no_thread(
    demo: tuple[DemoResult, list[str], set[str]],
) -> None:
    result, lines, new_threads = demo
    assert not new_threads
    assert not result.interrupted and result.frames == FRAMES
    for key in ("video", "results", "metrics", "performance_md", "performance_json"):
        path = result.files[key]
        assert path.is_file() and path.stat().st_size > 0, key
        assert path.parent == result.out_dir
        assert any(str(path) in line for line in lines), f"{key} path not printed"
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]"):
        assert any(line.startswith(step) for line in lines)
    assert set(result.timings) >= {"compile", "clip", "write", "total"}
    for name in ("synthdet", "digits"):
        model = load_model(result.files[name])
        assert result.files[name].parent == result.out_dir / "models" and model.name == name


def test_the_video_decodes_with_one_frame_per_frame_set(
    demo: tuple[DemoResult, list[str], set[str]],
) -> None:
    video = demo[0].files["video"]
    assert video.suffix in (".mp4", ".avi")
    cap = cv2.VideoCapture(str(video))
    try:
        assert cap.isOpened()
        n = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            assert img.shape == (240, 320, 3)
            n += 1
    finally:
        cap.release()
    assert n == FRAMES


def test_results_and_metrics(demo: tuple[DemoResult, list[str], set[str]]) -> None:
    result = demo[0]
    rows = [json.loads(s) for s in result.files["results"].read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(FRAMES))
    assert all(set(r["sensors"]) == {"visible", "thermal"} for r in rows)
    m = json.loads(result.files["metrics"].read_text())
    assert m == result.metrics
    assert m["clip"]["evaluated_frame_sets"] == FRAMES
    fused, sensors = m["fused"], m["sensors"]
    assert set(sensors) == {"visible", "thermal"}
    best = max(c["f1"] for c in sensors.values())
    assert fused["f1"] > best
    assert m["best_single_sensor"] in sensors
    for c in (fused, *sensors.values()):
        assert 0 <= c["precision"] <= 1 and 0 <= c["recall"] <= 1
        assert c["tp"] + c["fn"] == fused["tp"] + fused["fn"]  # the same objects for all
    assert all(c["bit_exact"] for c in m["runtime_checks"].values())


def test_performance_report_is_labeled_and_has_per_layer_rows(
    demo: tuple[DemoResult, list[str], set[str]],
) -> None:
    result = demo[0]
    perf = json.loads(result.files["performance_json"].read_text())
    assert "MODELED" in perf["modeled"]["label"] and "MEASURED" in perf["measured"]["label"]
    for name, layers in (("synthdet", {"conv1", "conv4", "heat", "box"}), ("digits", {"ip2"})):
        prof = perf["modeled"]["models"][name]
        assert prof["modeled"] is True and prof["overlay"] == "zcu104"
        rows = {r["name"]: r for r in prof["layers"]}
        assert layers <= set(rows)
        assert all(r["seconds"] > 0 for r in rows.values())
        assert prof["totals"]["fps_batch1"] > 0
    meas = perf["measured"]
    assert meas["pipeline"]["frame_sets"] == FRAMES and meas["pipeline"]["frame_sets_per_s"] > 0
    assert meas["clip_inference"]["inferences"] == 2 * FRAMES  # both sensors on the runtime
    assert meas["clip_inference"]["mean_ms"] > 0
    md = result.files["performance_md"].read_text()
    assert "MODELED" in md and "MEASURED" in md and "conv4" in md


def test_digit_glyphs_are_seeded_and_in_range() -> None:
    x, y = render_digit_glyphs(20, seed=3)
    x2, _ = render_digit_glyphs(20, seed=3)
    assert x.shape == (20, 1, 8, 8) and x.dtype == np.float32
    assert np.array_equal(x, x2) and list(y[:10]) == list(range(10))
    assert x.min() >= 0 and x.max() <= 1 and np.all(x.reshape(20, -1).max(axis=1) > 0.5)
    assert np.array_equal(x * 16, np.round(x * 16))  # levels 0..16, as the data set


# ============================================================================ command line
def test_the_demo_command_is_discovered_and_documents_its_options() -> None:
    eps = {ep.name: ep.value for ep in plugin_commands()}
    assert eps["demo"] == "vision_pipeline.demo:register"
    args = build_parser().parse_args(["demo"])
    assert args.func is cmd_demo
    assert (args.out, args.frames, args.overlay, args.board) == (
        "edge-dnn-demo",
        300,
        "zcu104",
        "auto",
    )
    code = (
        "import sys, edge_dnn.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('cv2', 'pynq', 'vision_pipeline.app') if m in sys.modules))"
    )
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == "[]"  # registering the command imports nothing heavy
    helptext = subprocess.run(
        [sys.executable, "-m", "edge_dnn.cli", "demo", "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for opt in ("--out", "--frames", "--overlay", "--board"):
        assert opt in helptext


def test_bad_arguments_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path / "o"), "--frames", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edge-dnn: error:") and "frames must be >= 1" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["demo", "--out", str(blocker / "o"), "--frames", "1"]) == 2
    assert "cannot create" in capsys.readouterr().err


def test_the_command_runs_in_process(tmp_path: Path) -> None:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", "--out", str(tmp_path / "o"), "--frames", "2", "--board", "emulated"])
    assert rc == 0
    text = buf.getvalue()
    assert "[4/4] summary" in text and str(tmp_path / "o" / "metrics.json") in text
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["clip"]["frame_sets"] == 2
