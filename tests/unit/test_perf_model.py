"""The performance model (edge_dnn.perf) and the ``profile`` / ``run M.edm`` commands.

Independent checks: the engine emulator's own cycle counters (it schedules the instructions as
it executes them) for the per-run cycles, the graph's MAC counts for the layers' MACs, the
integer reference for ``run --backend``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edge_dnn
from edge_dnn.cli import main
from edge_dnn.compiler import CompiledModel, OverlayMismatchError, compile_model
from edge_dnn.compiler.model import EngineStep
from edge_dnn.emulator.run import ModelRunner
from edge_dnn.emulator.timing import ISSUE_CYCLES, TimingModel
from edge_dnn.graph import Graph
from edge_dnn.isa import ComputeTile, ConfigConv, decode_stream
from edge_dnn.overlay import OverlayConfigError
from edge_dnn.overlay.config import OverlayConfig, PerfModel, load_overlay
from edge_dnn.perf import ArmCostModel, profile_model
from edge_dnn.perf.published import PUBLISHED, TOLERANCE, Published
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
RESNET50 = "resnet50/ResNet-50-deploy.prototxt"
PROTOTXT = {"googlenet": GOOGLENET, "resnet50": RESNET50}


def _with_perf(cfg: OverlayConfig, **kw: Any) -> OverlayConfig:
    """``cfg`` with some ``[perf]`` assumptions changed (they are not part of the hash)."""
    return dataclasses.replace(cfg, perf=dataclasses.replace(cfg.perf, **kw))


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


# ---------------------------------------------------------------------------- [perf] assumptions
def test_perf_table_is_optional_typed_and_not_hashed(tmp_path: Path) -> None:
    cfg = load_overlay("zcu104")
    assert cfg.perf == PerfModel()  # no [perf] table: edge-dnn's own engine
    text = Path(str(cfg.source)).read_text()
    (tmp_path / "overlay.toml").write_text(text + "\n[perf]\nlayer_at_a_time = true\nbatch = 2\n")
    with_perf = load_overlay(tmp_path / "overlay.toml")
    assert with_perf.perf.layer_at_a_time and with_perf.perf.batch == 2
    assert with_perf.perf.int8_macs_per_dsp == 2  # absent keys keep their neutral default
    assert with_perf.config_hash == cfg.config_hash  # a modeling assumption, not hardware
    for bad, key in (("int8_macs_per_dsp = 3", "perf.int8_macs_per_dsp"),
                     ("batch = 0", "perf.batch"),
                     ("layer_at_a_time = 1", "perf.layer_at_a_time"),
                     ("launch_us = 3.0", "perf.launch_us")):  # fmt: skip
        (tmp_path / "overlay.toml").write_text(text + f"\n[perf]\n{bad}\n")
        with pytest.raises(OverlayConfigError, match=key.replace(".", r"\.")):
            load_overlay(tmp_path / "overlay.toml")


def test_neutral_perf_defaults_leave_the_profile_unchanged(nets_dir: Path) -> None:
    model = _model("digits", "zcu104", nets_dir)
    cfg = load_overlay("zcu104")
    base = profile_model(model, cfg)
    explicit = profile_model(model, _with_perf(cfg, **dataclasses.asdict(PerfModel())))
    assert explicit.runs == base.runs
    assert [r.as_dict() for r in explicit.layers] == [r.as_dict() for r in base.layers]


def test_int8_rate_and_pass_overhead_scale_the_pe_passes(nets_dir: Path) -> None:
    """One int8 MAC per DSP cycle doubles every pass; the overhead adds per pass."""
    model = _model("digits", "zcu104", nets_dir)
    cfg = load_overlay("zcu104")
    base = {r.name: r for r in profile_model(model, cfg).layers if r.placement == "engine"}
    slow = profile_model(model, _with_perf(cfg, int8_macs_per_dsp=1, pass_overhead_cycles=5))
    assert slow.peak_gops == pytest.approx(cfg.derived.peak_gops / 2)
    # Independent sums over each layer's COMPUTE_TILE instructions: cycles and PE passes.
    tile_cycles: dict[str, int] = {}
    tiles: dict[str, int] = {}
    passes: dict[str, int] = {}
    names = [row["name"] for row in model.report["layers"]]
    tm = TimingModel(cfg)
    for step in model.steps:
        if not isinstance(step, EngineStep):
            continue
        conv: ConfigConv | None = None
        for ins in decode_stream(step.cmd).instructions:
            if isinstance(ins, ConfigConv):
                conv = ins
            if isinstance(ins, ComputeTile) and conv is not None:
                n = names[ins.tag]
                tiles[n] = tiles.get(n, 0) + 1
                passes[n] = passes.get(n, 0) + tm.compute_passes(conv, ins)
                tile_cycles[n] = tile_cycles.get(n, 0) + tm.compute_cycles(conv, ins)
    assert tiles
    for r in slow.layers:
        if r.name in tiles:
            # Each tile: ISSUE + 2 x (reduction cycles + 5 per pass).
            body = tile_cycles[r.name] - ISSUE_CYCLES * tiles[r.name] + 5 * passes[r.name]
            added = r.compute_cycles - base[r.name].compute_cycles
            assert added == 2 * body - (tile_cycles[r.name] - ISSUE_CYCLES * tiles[r.name])
        elif r.placement == "engine":
            assert r.compute_cycles == base[r.name].compute_cycles, r.name


def test_layer_at_a_time_moves_every_activation_through_ddr(nets_dir: Path) -> None:
    """Each layer call: read input, compute, write output, no overlap; launch shared by batch."""
    model = _model(LENET, "zcu104", nets_dir)
    cfg = load_overlay("zcu104")
    base = profile_model(model, cfg)
    perf = dict(layer_at_a_time=True, overlap_activations=False, batch=2, layer_launch_us=10.0)
    prof = profile_model(model, _with_perf(cfg, **perf))
    engine = [r for r in prof.layers if r.placement == "engine"]
    assert prof.engine_s == pytest.approx(sum(r.cycles for r in engine) / 300e6)
    calls = len(engine)  # no fusion requested
    assert prof.overhead_s - base.overhead_s == pytest.approx(calls * 10e-6 / 2)
    # pool1 by hand: its input (conv1, 20 x 24 x 24) and output (20 x 12 x 12), channels
    # padded to the 8-channel blocks of the engine's DDR layout, at the sustained DDR rate.
    pool = next(r for r in engine if r.name == "pool1")
    cbc = 8
    c = math.ceil(20 / cbc) * cbc
    moved = (c * 24 * 24 + c * 12 * 12) / cfg.derived.ddr_bytes_per_cycle
    assert pool.cycles == round(moved + pool.compute_cycles)
    assert pool.bound == "memory"


def test_layer_at_a_time_reloads_weights_that_are_not_resident(nets_dir: Path) -> None:
    model = _model(LENET, "zcu104", nets_dir)
    cfg = _with_perf(load_overlay("zcu104"), layer_at_a_time=True, group_pixels=4)
    once = profile_model(model, cfg)
    # At most 1 output channel keeps weights resident: every convolution re-loads them for
    # every group of 4 output pixels.
    again = profile_model(model, _with_perf(cfg, resident_max_out=1))
    extra = 0.0
    for r in once.layers:
        if r.type == "Convolution":
            oh_ow = math.prod(model.tensors[r.name].shape[2:])
            extra += r.bytes["weights"] * (math.ceil(oh_ow / 4) - 1)
    assert extra > 0
    ddr = cfg.derived.ddr_bytes_per_cycle
    grown = sum(r["ddr_cycles"] for r in again.runs) - sum(r["ddr_cycles"] for r in once.runs)
    assert grown == pytest.approx(extra / ddr, abs=len(once.runs) + 1)
    assert again.engine_s > once.engine_s


@pytest.mark.parametrize("pub", PUBLISHED, ids=lambda p: f"{p.overlay}-{p.network}")
def test_mirrors_reproduce_published_throughput(pub: Published, nets_dir: Path) -> None:
    """Issue #4: the CHaiDNN and DPU mirrors within +-35% of their published fps."""
    model = _model(PROTOTXT[pub.network], pub.overlay, nets_dir)
    got = float(getattr(profile_model(model), pub.metric))
    assert abs(got / pub.fps - 1.0) <= TOLERANCE, (got, pub)
