"""The small package helpers the notebooks call (the notebooks only call package code).

* ``edge_dnn.perf.schedule``: the units' schedule of an engine run (checked against the engine
  emulator's own counters, and its overlap arithmetic against a per-cycle boolean count written
  here) and the roofline points (against the profile's rows);
* ``edge_dnn.overlay.custom``: editing, validating and installing an overlay given as text;
* ``edge_dnn.quant.evaluation``: the confusion matrix (against a naive loop);
* ``arm_scheduler.target``: board or emulated, and the board's overlay.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

import edge_dnn
from arm_scheduler import pynq_api, target
from arm_scheduler.errors import BoardError
from edge_dnn.compiler import CompiledModel
from edge_dnn.emulator.run import ModelRunner
from edge_dnn.errors import InputError
from edge_dnn.overlay.config import ENV_OVERLAY_PATH, find_overlay, load_overlay
from edge_dnn.overlay.custom import (
    edit_overlay_text,
    install_overlay,
    overlay_from_text,
    toml_value,
)
from edge_dnn.overlay.errors import OverlayConfigError
from edge_dnn.perf import profile_model
from edge_dnn.perf.schedule import roofline, run_schedule
from edge_dnn.quant.evaluation import confusion_matrix, per_class_recall
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

_MODELS: dict[str, CompiledModel] = {}


def digits_model(overlay: str = "zcu104") -> CompiledModel:
    if overlay not in _MODELS:
        g = edge_dnn.load_caffe(*model_files("digits"))
        x = np.random.default_rng(0).uniform(0, 1, (8, 1, 8, 8)).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qg = quantize(g, x, method="minmax", progress=False)
        _MODELS[overlay] = edge_dnn.compile_model(qg, overlay)
    return _MODELS[overlay]


# ---------------------------------------------------------------------------- schedule
@pytest.mark.parametrize("overlay", ["zcu104", "ultra96"])
def test_schedule_matches_the_emulators_counters(overlay: str) -> None:
    model = digits_model(overlay)
    runner = ModelRunner(model)
    runner.run({"data": np.zeros((1, 1, 8, 8), np.float32)})
    (stats,) = runner.stats
    sched = run_schedule(model)
    assert sched.step == stats.index
    assert sched.total_cycles == stats.counters.cycles
    assert sched.serial_cycles == stats.counters.serial_cycles
    for unit, busy in stats.counters.unit_busy.items():
        assert sched.busy_cycles(unit) == busy, unit
    assert len(sched.intervals) == stats.counters.instructions
    assert {iv.layer for iv in sched.intervals if iv.unit == "CMP"} <= set(stats.layers)


def test_overlap_arithmetic_against_a_cycle_count() -> None:
    sched = run_schedule(digits_model())
    busy = {u: np.zeros(sched.total_cycles, bool) for u in ("LDW", "LDA", "CMP", "VEC", "ST")}
    for iv in sched.intervals:
        if iv.unit in busy:
            busy[iv.unit][iv.start : iv.end] = True
    dma = busy["LDW"] | busy["LDA"] | busy["ST"]
    compute = busy["CMP"] | busy["VEC"]
    assert sched.compute_cycles == int(compute.sum())
    assert sched.transfer_cycles == int(dma.sum())
    assert sched.overlap_cycles == int((dma & compute).sum())
    assert 0.0 <= sched.overlap_fraction <= 1.0
    assert sched.microseconds(300) == pytest.approx(300 / sched.fabric_mhz)


def test_schedule_rejects_a_step_that_is_not_an_engine_run() -> None:
    model = digits_model()
    arm = next(i for i, s in enumerate(model.steps) if s not in model.engine_steps)
    with pytest.raises(InputError, match="not an engine run"):
        run_schedule(model, step=arm)
    with pytest.raises(InputError, match="not an engine run"):
        run_schedule(model, step=99)


def test_roofline_points_come_from_the_profile() -> None:
    model = digits_model()
    prof = profile_model(model)
    cfg = load_overlay("zcu104")
    roof = roofline(prof, cfg)
    assert roof.peak_gops == cfg.derived.peak_gops
    assert roof.ridge == pytest.approx(cfg.derived.peak_gops / cfg.derived.ddr_sustained_gbps)
    rows = {r.name: r for r in prof.layers}
    assert {p.name for p in roof.points} == {
        r.name for r in prof.layers if r.macs > 0 and sum(r.bytes.values()) > 0
    }
    for p in roof.points:
        r = rows[p.name]
        assert p.intensity == pytest.approx(2 * r.macs / sum(r.bytes.values()))
        assert p.gops == pytest.approx(2 * r.macs / r.seconds / 1e9)
        assert p.gops <= roof.peak_gops
    assert roof.attainable(1e9) == roof.peak_gops
    assert roof.attainable(1.0) == pytest.approx(roof.ddr_gbps)
    with pytest.raises(InputError):
        roofline(prof, load_overlay("ultra96"))


# ---------------------------------------------------------------------------- custom overlays
def test_edit_keeps_everything_but_the_changed_values() -> None:
    base = find_overlay("ultra96").read_text()
    text = edit_overlay_text(
        base, {"overlay.name": "u96_fast", "clocks.fabric_mhz": 300.0, "clocks.dsp_mhz": 300.0}
    )
    changed = [(a, b) for a, b in zip(base.splitlines(), text.splitlines()) if a != b]
    assert len(base.splitlines()) == len(text.splitlines()) and len(changed) == 3
    assert ('name = "ultra96"', 'name = "u96_fast"') in changed
    cfg = overlay_from_text(text)
    assert (cfg.name, cfg.clocks.fabric_mhz) == ("u96_fast", 300.0)
    assert cfg.pe == load_overlay("ultra96").pe
    # comments after a value stay
    text = edit_overlay_text(base, {"memory.ddr_mts": 2400.0})
    assert "ddr_mts = 2400.0  # estimate" in text


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"pe.no_such_key": 1}, "not a one-line entry"),
        ({"registers.CONTROL": 1}, "inline table"),
        ({"overlay.name": "a", "pe.precisions": ["int8"], "pe.acc_bits": [1, 2, 3]}, None),
        ({"pe.pixels": {"a": 1}}, "cannot write a dict"),
    ],
)
def test_edit_errors(changes: dict[str, object], match: str | None) -> None:
    text = find_overlay("ultra96").read_text()
    if match is None:  # list values on one line are fine
        assert 'precisions = ["int8"]' in edit_overlay_text(text, changes)
        return
    with pytest.raises(OverlayConfigError, match=match):
        edit_overlay_text(text, changes)


def test_toml_values() -> None:
    assert toml_value(True) == "true"
    assert toml_value(3) == "3"
    assert toml_value(2.5) == "2.5"
    assert toml_value('a"b') == '"a\\"b"'
    assert toml_value(["int8", "int16"]) == '["int8", "int16"]'


def test_invalid_text_names_the_key() -> None:
    with pytest.raises(OverlayConfigError, match="invalid TOML"):
        overlay_from_text("schema = ")
    bad = edit_overlay_text(find_overlay("ultra96").read_text(), {"pe.pixels": 0})
    with pytest.raises(OverlayConfigError, match=r"pe\.pixels"):
        overlay_from_text(bad, source="mine.toml")


def test_install_makes_the_overlay_findable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_OVERLAY_PATH, "")
    base = find_overlay("ultra96").read_text()
    text = edit_overlay_text(base, {"overlay.name": "u96_test", "clocks.fabric_mhz": 200.0,
                                    "clocks.dsp_mhz": 200.0})  # fmt: skip
    cfg = install_overlay(text, tmp_path)
    assert cfg.source == tmp_path / "u96_test" / "overlay.toml"
    assert os.environ[ENV_OVERLAY_PATH].split(os.pathsep)[0] == str(tmp_path)
    assert load_overlay("u96_test").config_hash == overlay_from_text(text).config_hash
    install_overlay(text, tmp_path)  # again: same place, no duplicate search-path entry
    assert os.environ[ENV_OVERLAY_PATH].split(os.pathsep).count(str(tmp_path)) == 1
    with pytest.raises(OverlayConfigError, match="already exists"):
        install_overlay(base, tmp_path)  # would shadow the bundled ultra96


# ---------------------------------------------------------------------------- evaluation
def test_confusion_matrix_against_a_loop() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 300)
    p = np.where(rng.random(300) < 0.8, y, rng.integers(0, 7, 300))
    want = np.zeros((7, 7), np.int64)
    for a, b in zip(y, p):
        want[a, b] += 1
    got = confusion_matrix(y, p, num_classes=7)
    assert got.dtype == np.int64 and np.array_equal(got, want)
    assert np.array_equal(confusion_matrix(y, p), want[: max(y.max(), p.max()) + 1][:, :7])
    recall = per_class_recall(got)
    assert np.allclose(recall, [want[k, k] / want[k].sum() for k in range(7)])
    assert np.isnan(per_class_recall(np.zeros((2, 2))))[0]


@pytest.mark.parametrize(
    ("y", "p", "n"),
    [([0, 1], [0], None), ([0, 5], [0, 1], 3), ([0, -1], [0, 1], None), ([0.5], [0], None)],
)
def test_confusion_matrix_rejects_bad_input(y: list[float], p: list[int], n: int | None) -> None:
    with pytest.raises(InputError):
        confusion_matrix(y, p, num_classes=n)


# ---------------------------------------------------------------------------- target
@pytest.mark.parametrize(
    ("name", "overlay"),
    [("ZCU104", "zcu104"), ("zcu102", "zcu102"), ("Ultra96-V2", "ultra96"), ("Pynq-Z2", None)],
)
def test_overlay_for_board(name: str, overlay: str | None) -> None:
    assert target.overlay_for_board(name) == overlay


def test_current_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pynq_api, "real_board_present", lambda: False)
    t = target.current_target("ultra96")
    assert (t.on_board, t.overlay) == (False, "ultra96")
    assert "emulated board" in t.describe()
    monkeypatch.setattr(pynq_api, "real_board_present", lambda: True)
    monkeypatch.setattr(target, "DT_BOARD_NODE", tmp_path / "pynq_board")
    monkeypatch.setenv("BOARD", "ZCU102")
    t = target.current_target()
    assert (t.on_board, t.board, t.overlay) == (True, "ZCU102", "zcu102")
    assert "real 'zcu102' overlay" in t.describe()
    monkeypatch.setenv("BOARD", "Unknown")
    (tmp_path / "pynq_board").write_bytes(b"Ultra96\0")
    assert target.current_target().overlay == "ultra96"
    (tmp_path / "pynq_board").write_bytes(b"Pynq-Z2\0")
    with pytest.raises(BoardError, match="Pynq-Z2"):
        target.current_target()
