"""The HLS engine's C simulation against the Python emulator and the integer reference.

The engine's HLS C++ source (``overlays/_common/hls``), compiled with g++ for each overlay
(once per session), executes the engine steps of compiled networks:

* digits, LeNet, SqueezeNet v1.1 and YuFaceDetectNet v1 (seeded random weights, as in
  ``test_emulator_vs_reference.py``) on zcu104, zcu102 and ultra96: after every engine step the
  C simulation's DDR image and its four on-chip buffers equal the Python emulator's, bit for
  bit, and the network outputs equal ``QuantizedGraph.run(raw=True)``;
* every port-level run of the emulator's unit tests (hand-written programs: fused eltwise,
  int16, depthwise, dilation, K-split, the DPU-mirror overlay's 16-deep cascades, and the fault
  cases) is repeated in C simulation (``csim_mirror`` plugin): same packets, same buffers, same
  ``ERROR_CODE``;
* randomly mutated command streams (one flipped bit, CRCs recomputed so the deeper checks are
  reached): the same outcome, i.e. the same image or the same error code.

Skipped only when no C++ compiler is on PATH.
"""

from __future__ import annotations

import binascii
import dataclasses
import os
import subprocess
import sys
import warnings
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import edge_dnn
from edge_dnn.compiler import CompiledModel, compile_model
from edge_dnn.compiler.model import EngineStep
from edge_dnn.emulator.csim import CsimRunner, CsimState, build_csim, csim_available, run_step_csim
from edge_dnn.emulator.engine import Engine
from edge_dnn.emulator.errors import DmaError, EngineFault
from edge_dnn.emulator.run import DirectFeeder
from edge_dnn.overlay.config import load_overlay
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

pytestmark = [
    pytest.mark.golden,
    pytest.mark.skipif(
        not csim_available(),
        reason="no C++ compiler ($CXX or g++) on PATH: the HLS C simulation cannot be built",
    ),
]

REPO = Path(__file__).resolve().parents[2]
NETS = {
    "digits": "",
    "lenet": "lenet/lenet.prototxt",
    "squeezenet_v1.1": "squeezenet_v1.1/deploy.prototxt",
    "yufacedetectnet_v1": "yufacedetectnet_v1/yufacedetectnet-open-v1.prototxt",
}
OVERLAYS = ("zcu104", "zcu102", "ultra96")


@dataclasses.dataclass
class _Net:
    qg: QuantizedGraph
    feeds: dict[str, np.ndarray]
    ref: dict[str, np.ndarray]


_NETS: dict[str, _Net] = {}
_BINARIES: dict[str, Path] = {}


def net(key: str, nets_dir: Path) -> _Net:
    """The quantized network, a batch-1 input and the reference outputs (built once)."""
    if key not in _NETS:
        if key == "digits":
            g = edge_dnn.load_caffe(*model_files("digits"))
        else:
            g = edge_dnn.load_caffe(nets_dir / NETS[key])
            g.init_random_weights(0)
        rng = np.random.default_rng(1)
        name, shape = next(iter(g.inputs.items()))
        calib = rng.standard_normal((1, *shape[1:])).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuantizationWarning)
            qg = quantize(g, {name: calib}, method="minmax", progress=False)
        feeds = {name: rng.standard_normal((1, *shape[1:])).astype(np.float32)}
        _NETS[key] = _Net(qg, feeds, qg.run(feeds, raw=True))
    return _NETS[key]


@pytest.fixture(scope="session")
def csim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of this session's C-simulation binaries (shared by the pytest-xdist workers of
    one run: builds are locked and atomic, so each overlay compiles once)."""
    base = tmp_path_factory.getbasetemp()
    d = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "hls_csim"
    d.mkdir(exist_ok=True)
    return d


def binary(overlay: str, csim_dir: Path) -> Path:
    """The harness of ``overlay``, compiled once per session."""
    if overlay not in _BINARIES:
        _BINARIES[overlay] = build_csim(overlay, csim_dir)
    return _BINARIES[overlay]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("key", list(NETS))
def test_every_engine_step_matches_the_emulator(
    key: str, overlay: str, nets_dir: Path, csim_dir: Path
) -> None:
    n = net(key, nets_dir)
    model: CompiledModel = compile_model(n.qg, overlay)
    runner = CsimRunner(model, binary(overlay, csim_dir), compare=True)
    out = runner.run(n.feeds, raw=True)
    engine_steps = [k for k, s in enumerate(model.steps) if isinstance(s, EngineStep)]
    assert engine_steps, f"{key} on {overlay} has no engine step"
    # CsimMismatchError would have named the step, byte and tensor of a difference
    assert runner.csim_feeder.compared == engine_steps
    assert set(out) == set(n.qg.outputs)
    for t in n.qg.outputs:
        got, ref = out[t], n.ref[t]
        assert got.dtype == ref.dtype and got.shape == ref.shape, f"{key} on {overlay}, '{t}'"
        assert np.array_equal(got, ref), (
            f"{key} on {overlay}, output '{t}': {int(np.count_nonzero(got != ref))} of "
            f"{ref.size} values differ from the integer reference"
        )


def test_emulator_unit_programs_mirrored(csim_dir: Path, tmp_path: Path) -> None:
    """Every Engine.run of tests/unit/test_emulator.py, repeated in C simulation."""
    for ov in ("zcu104", "ultra96", "dpu_b4096_zu7"):
        binary(ov, csim_dir)  # built here, found in the cache by the child session
    log = tmp_path / "mirror.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "EDGE_DNN_CSIM_DIR": str(csim_dir),
        "EDGE_DNN_CSIM_LOG": str(log),
    }
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-p",
            "tests.golden.csim_mirror",
            "tests/unit/test_emulator.py",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    outcomes = Counter(log.read_text().split("\n")[:-1])
    assert outcomes["ok"] >= 20, outcomes
    assert sum(v for k, v in outcomes.items() if k.startswith("fault")) >= 10, outcomes


def _fix_checksums(words: np.ndarray) -> np.ndarray:
    """Recompute every instruction CRC-16, the body CRC-32 and the header CRC-32."""
    w = words.copy()
    for base in range(8, w.size, 8):
        crc = binascii.crc_hqx(w[base : base + 8].astype("<u4").tobytes()[:30], 0xFFFF)
        w[base + 7] = (int(w[base + 7]) & 0xFFFF) | (crc << 16)
    w[5] = zlib.crc32(w[8:].astype("<u4").tobytes())
    w[7] = zlib.crc32(w[:7].astype("<u4").tobytes())
    return w


def _outcome(fn: object) -> tuple[str, np.ndarray | None]:
    try:
        return "DONE", fn()  # type: ignore[operator]
    except EngineFault as e:
        return e.code.name, None
    except DmaError:
        return "DMA", None


@pytest.mark.parametrize("overlay", ["zcu104", "ultra96"])
def test_mutated_command_streams_same_outcome(overlay: str, nets_dir: Path, csim_dir: Path) -> None:
    cfg = load_overlay(overlay)
    model = compile_model(net("digits", nets_dir).qg, overlay)
    step = next(s for s in model.steps if isinstance(s, EngineStep))
    exe = binary(overlay, csim_dir)
    image = model.memory.image()
    rng = np.random.default_rng(7)
    n_instr = (np.asarray(step.cmd).size - 8) // 8
    seen: Counter[str] = Counter()
    for _ in range(50):
        w = np.asarray(step.cmd, dtype=np.uint32).copy()
        i = int(rng.integers(0, n_instr - 1))  # any instruction but END
        k, bit = int(rng.integers(0, 7)), int(rng.integers(0, 32))
        w[8 + 8 * i + k] ^= np.uint32(1 << bit)
        if rng.random() < 0.85:  # else the CRC-16 catches it
            w = _fix_checksums(w)
        mutated = dataclasses.replace(step, cmd=w)

        def emulator(st: EngineStep = mutated) -> np.ndarray:
            img = image.copy()
            DirectFeeder(Engine(cfg, check_races=False)).run(st, img)
            return img

        def csim(st: EngineStep = mutated) -> np.ndarray:
            return run_step_csim(exe, st, image, cfg, CsimState.zeros(cfg))

        a, b = _outcome(emulator), _outcome(csim)
        where = f"instruction {i} word {k} bit {bit}"
        assert a[0] == b[0], f"{where}: emulator {a[0]}, C simulation {b[0]}"
        if a[1] is not None:
            assert b[1] is not None and np.array_equal(a[1], b[1]), f"{where}: images differ"
        seen[a[0]] += 1
    assert len(seen) >= 4, seen
