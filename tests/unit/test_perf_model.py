"""The performance model (edge_dnn.perf) and the ``profile`` / ``run M.edm`` commands.

Independent checks: the engine emulator's own cycle counters (it schedules the instructions as
it executes them) for the per-run cycles, the graph's MAC counts for the layers' MACs, the
integer reference for ``run --backend``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import edge_dnn
from edge_dnn.cli import main
from edge_dnn.compiler import CompiledModel, OverlayMismatchError, compile_model
from edge_dnn.emulator.run import ModelRunner
from edge_dnn.graph import Graph
from edge_dnn.overlay.config import load_overlay
from edge_dnn.perf import ArmCostModel, profile_model
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

_CACHE: dict[str, tuple[Graph, QuantizedGraph, dict[str, CompiledModel]]] = {}


def _net(key: str, nets_dir: Path) -> tuple[Graph, QuantizedGraph, dict[str, CompiledModel]]:
    if key not in _CACHE:
        if key == "digits":
            g = edge_dnn.load_caffe(*model_files("digits"))
        else:
            g = edge_dnn.load_caffe(nets_dir / key)
            g.init_random_weights(0)
        name, shape = next(iter(g.inputs.items()))
        x = np.random.default_rng(3).standard_normal((2, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qg = quantize(g, {name: x}, method="minmax", progress=False)
        _CACHE[key] = (g, qg, {})
    return _CACHE[key]


def _model(key: str, overlay: str, nets_dir: Path) -> CompiledModel:
    _, qg, models = _net(key, nets_dir)
    if overlay not in models:
        models[overlay] = compile_model(qg, overlay)
    return models[overlay]


LENET = "lenet/lenet.prototxt"
GOOGLENET = "bvlc_googlenet/deploy.prototxt"


@pytest.mark.parametrize("overlay", ["zcu104", "ultra96"])
def test_run_cycles_equal_the_emulators_counters(overlay: str, nets_dir: Path) -> None:
    model = _model("digits", overlay, nets_dir)
    runner = ModelRunner(model)
    g, _, _ = _net("digits", nets_dir)
    name, shape = next(iter(g.inputs.items()))
    runner.run({name: np.zeros((1, *shape[1:]), np.float32)}, raw=True)
    prof = profile_model(model)
    assert [r["timeline_cycles"] for r in prof.runs] == [s.counters.cycles for s in runner.stats]
    assert [r["step"] for r in prof.runs] == [s.index for s in runner.stats]


def test_layer_rows_add_up_and_are_labeled(nets_dir: Path) -> None:
    model = _model(LENET, "zcu104", nets_dir)
    prof = profile_model(model)
    cfg = load_overlay("zcu104")
    hz = cfg.clocks.fabric_mhz * 1e6
    engine = [r for r in prof.layers if r.placement == "engine"]
    assert sum(r.cycles for r in engine) == sum(r["cycles"] for r in prof.runs)
    assert prof.engine_s == pytest.approx(sum(r["cycles"] for r in prof.runs) / hz)
    for r in engine:
        assert r.bound in ("compute", "memory")
        assert 0.0 <= r.utilization <= 1.0
        assert r.instructions > 0
    # MACs as executed cover at least the graph's MACs of every engine convolution.
    g, _, _ = _net(LENET, nets_dir)
    batch = next(iter(g.inputs.values()))[0]  # the prototxt's batch; the model runs batch 1
    graph_macs = {row.name: row.macs // batch for row in g.summary()}
    for r in engine:
        if r.type in ("Convolution", "InnerProduct"):
            assert r.macs >= graph_macs[r.name] > 0, r.name
    text = prof.format()
    assert text.startswith("MODELED performance of")
    assert "not a measurement" in text and "modeled totals" in text
    doc = prof.as_dict()
    assert doc["modeled"] is True
    assert doc["totals"]["fps_batch1"] == pytest.approx(1.0 / prof.latency_s)
    assert len(doc["layers"]) == len(prof.layers)
    assert prof.fps_stream >= prof.fps_batch1


def test_arm_layers_use_the_cost_model(nets_dir: Path) -> None:
    model = _model(LENET, "zcu104", nets_dir)
    arm_rows = [r for r in profile_model(model).layers if r.placement == "arm"]
    assert arm_rows, "LeNet's Softmax runs on the ARM"
    slow = ArmCostModel(step_s=1e-3)
    prof = profile_model(model, arm=slow)
    assert prof.arm_s >= len(arm_rows) * 1e-3
    assert all(r.bound == "arm" for r in prof.layers if r.placement == "arm")
    two = profile_model(model, arm=ArmCostModel(step_s=1e-3, workers=2))
    assert two.period_s <= prof.period_s


def test_ddr_bandwidth_limits_a_run(nets_dir: Path, tmp_path: Path) -> None:
    """The same overlay with a crawling DDR: every run is DDR-bound and takes bytes / bandwidth."""
    text = Path(str(load_overlay("zcu104").source)).read_text()
    slow_line = next(ln for ln in text.splitlines() if ln.startswith("ddr_mts"))
    text = text.replace(slow_line, "ddr_mts = 100.0")
    eff = next(ln for ln in text.splitlines() if ln.startswith("ddr_efficiency"))
    text = text.replace(eff, "ddr_efficiency = 0.05")
    (tmp_path / "overlay.toml").write_text(text)
    cfg = load_overlay(tmp_path / "overlay.toml")
    _, qg, _ = _net("digits", nets_dir)
    model = compile_model(qg, cfg)
    prof = profile_model(model, cfg)
    for run in prof.runs:
        assert run["cycles"] == max(run["timeline_cycles"], run["ddr_cycles"])
        assert run["ddr_cycles"] == int(np.ceil(run["bytes"] / cfg.derived.ddr_bytes_per_cycle))
    assert any(r["ddr_cycles"] > r["timeline_cycles"] for r in prof.runs)
    assert sum(r.cycles for r in prof.layers if r.placement == "engine") == pytest.approx(
        sum(r["cycles"] for r in prof.runs), abs=len(prof.layers)
    )


def test_profile_refuses_another_overlays_config(nets_dir: Path) -> None:
    model = _model("digits", "zcu104", nets_dir)
    with pytest.raises(OverlayMismatchError):
        profile_model(model, load_overlay("zcu102"))


def test_googlenet_lrn_and_totals(nets_dir: Path) -> None:
    prof = profile_model(_model(GOOGLENET, "zcu104", nets_dir))
    names = {r.name for r in prof.layers}
    assert "inception_5b/3x3" in names and "prob" in names
    assert prof.macs >= 1.5e9  # GoogLeNet is ~1.58 GMAC per image
    assert prof.latency_s == pytest.approx(prof.engine_s + prof.overhead_s + prof.arm_s)


def test_cli_profile_and_run_compiled(
    nets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model("digits", "zcu104", nets_dir)
    path = tmp_path / "digits.edm"
    model.save(path)
    assert main(["profile", str(path)]) == 0
    out = capsys.readouterr().out
    assert "MODELED" in out and "modeled totals" in out
    assert main(["profile", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["modeled"] is True and doc["overlay"] == "zcu104"

    g, qg, _ = _net("digits", nets_dir)
    name, shape = next(iter(g.inputs.items()))
    x = np.random.default_rng(9).standard_normal((1, *shape[1:])).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ref = qg.run({name: x}, raw=True)
    for backend in ("emulator", "reference"):
        out_npz = tmp_path / f"{backend}.npz"
        argv = ["run", str(path), "--input", str(tmp_path / "x.npy"), "--output", str(out_npz)]
        assert main([*argv, "--backend", backend, "--raw"]) == 0
        got = np.load(out_npz)
        for t in model.outputs:
            assert np.array_equal(got[t], ref[t]), (backend, t)
    # Dequantized outputs by default.
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--output",
                 str(tmp_path / "f.npz")]) == 0  # fmt: skip
    deq = qg.run({name: x})
    got = np.load(tmp_path / "f.npz")
    for t in model.outputs:
        assert np.array_equal(got[t], deq[t])
    capsys.readouterr()
    # A prototxt with an integer backend is a clear error.
    rc = main(["run", str(nets_dir / LENET), "--random-weights", "0", "--input",
               str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npz"), "--backend",
               "emulator"])  # fmt: skip
    assert rc == 2
    assert "compiled model" in capsys.readouterr().err
