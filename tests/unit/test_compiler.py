"""The compiler: every shared network and the digits net compile on every overlay, and the
compiled models are structurally valid against the contract, checked here independently of the
compiler's code:

* every layer is placed and reported (tiling of engine layers, reason of ARM layers);
* every command stream decodes (``edge_dnn.isa``), carries the overlay's hash, is a valid
  sequential execution of the token queues, and every buffer access of every instruction lies
  inside the overlay's buffers;
* the transfer lists hold exactly one packet per selected stream of every load / store, of the
  right length, inside the DDR image, and obey the DDR hazard rule of one run;
* the DDR memory plan has no two overlapping buffers alive at the same step, and every transfer
  of a step touches the weights region or a buffer alive at that step;
* ``.edm`` files round-trip, and a wrong overlay or a damaged file raises a typed error.

Networks are quantized once per session (seeded random weights, two random calibration samples,
``minmax``, batch 1). When the engine emulator is present, small networks are also run on it and
compared bit for bit with the quantized graph's integer reference.
"""

from __future__ import annotations

import itertools
import re
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edge_dnn
from edge_dnn.cli import main
from edge_dnn.compiler import (
    ArmStep,
    CompiledModel,
    EdmCorruptError,
    EdmVersionError,
    EngineStep,
    OverlayMismatchError,
    compile_model,
    format_report,
)
from edge_dnn.compiler.model import FORMAT_VERSION, MAGIC
from edge_dnn.graph import Graph, Node
from edge_dnn.isa import decode_stream
from edge_dnn.isa.format import (
    TOKEN_CAPACITY,
    TOKEN_ENDPOINTS,
    ComputeTile,
    ConfigConv,
    ConfigPool,
    EltwiseTile,
    End,
    LoadInput,
    LoadParams,
    LoadWeights,
    PoolTile,
    Precision,
    StoreTile,
    config_hash_words,
)
from edge_dnn.isa.layout import block_channels, conv_weight_words, group_channels
from edge_dnn.layers.registry import LAYERS
from edge_dnn.overlay.config import OverlayConfig, list_overlays, load_overlay
from edge_dnn.quant.qgraph import QuantizedGraph
from edge_dnn.quant.quantizer import QuantizationWarning, quantize
from edge_dnn.zoo import model_files

NETS = {
    "lenet": "lenet/lenet.prototxt",
    "bvlc_alexnet": "bvlc_alexnet/deploy.prototxt",
    "caffenet": "bvlc_reference_caffenet/deploy.prototxt",
    "googlenet": "bvlc_googlenet/deploy.prototxt",
    "squeezenet_v1.1": "squeezenet_v1.1/deploy.prototxt",
    "vgg16": "vgg16/VGG_ILSVRC_16_layers_deploy.prototxt",
    "resnet50": "resnet50/ResNet-50-deploy.prototxt",
    "mobilenet_v1": "mobilenet_v1/mobilenet_deploy.prototxt",
    "mobilenet_ssd": "mobilenet_ssd/MobileNetSSD_deploy.prototxt",
    "yufacedetectnet_v1": "yufacedetectnet_v1/yufacedetectnet-open-v1.prototxt",
    "digits": "",
}
OVERLAYS = list_overlays()
METHOD = "minmax"

_QG: dict[tuple[str, str], QuantizedGraph] = {}
_MODELS: dict[tuple[str, str, str], CompiledModel] = {}


def _quantize(g: Graph, n: int, seed: int, precision: str = "int8") -> QuantizedGraph:
    rng = np.random.default_rng(seed)
    name, shape = next(iter(g.inputs.items()))
    x = rng.standard_normal((n, *shape[1:])).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuantizationWarning)
        return quantize(g, {name: x}, method=METHOD, precision=precision, progress=False)


def quantized(key: str, nets_dir: Path, precision: str = "int8") -> QuantizedGraph:
    """The quantized network ``key``, built once per session."""
    if (key, precision) not in _QG:
        if key == "digits":
            g = edge_dnn.load_caffe(*model_files("digits"))
        else:
            g = edge_dnn.load_caffe(nets_dir / NETS[key])
            g.init_random_weights(0)
        _QG[key, precision] = _quantize(g, 2, 1, precision)
    return _QG[key, precision]


def compiled(key: str, overlay: str, nets_dir: Path, precision: str = "int8") -> CompiledModel:
    """The network compiled for ``overlay``, once per session."""
    if (key, overlay, precision) not in _MODELS:
        _MODELS[key, overlay, precision] = compile_model(
            quantized(key, nets_dir, precision), overlay
        )
    return _MODELS[key, overlay, precision]


# ---------------------------------------------------------------------------- checks
def _buffers(cfg: OverlayConfig) -> dict[str, int]:
    inp, out, wt, par = (cfg.buffer(n) for n in ("input", "output", "weight", "params"))
    return {
        "input": inp.banks * inp.depth,
        "output": out.banks * out.depth,
        "weight": wt.depth,
        "params": par.depth,
        "cb": inp.width_bits // 8,
        "wb": wt.banks * wt.width_bits // 8,
        "pb": par.banks * par.width_bits // 8,
    }


def check_report(m: CompiledModel, qg: QuantizedGraph) -> None:
    """Every layer placed and reported; engine layers with a tiling, ARM layers with a reason."""
    rows = {r["name"]: r for r in m.report["layers"]}
    assert set(rows) == {n.name for n in qg.graph.nodes}
    engine = {name for s in m.engine_steps for name in s.layers}
    arm = {s.name: s for s in m.arm_steps}
    for n in qg.graph.nodes:
        r = rows[n.name]
        assert r["placement"] in ("engine", "fused", "concat", "arm", "absorbed", "input"), r
        if r["placement"] == "engine":
            assert n.name in engine
            assert r["tiling"] and r["instructions"] > 0
            assert isinstance(r["stream_bytes"], dict)
            if "fused_eltwise" in r:
                assert rows[r["fused_eltwise"]]["fused_into"] == n.name
        elif r["placement"] == "fused":
            # an Eltwise executed by the COMPUTE_TILEs of the convolution it is fused into
            conv = rows[r["fused_into"]]
            assert n.type == "Eltwise" and r["reason"] and n.name not in engine
            assert conv["fused_eltwise"] == n.name and r["step"] == conv["step"]
            assert m.report["fused_eltwise"][n.name] == conv["name"]
        elif r["placement"] == "arm":
            assert n.name in arm and arm[n.name].reason and r["reason"] == arm[n.name].reason
        elif r["placement"] in ("concat", "absorbed"):
            assert r["reason"]
    assert len(engine) == sum(len(s.layers) for s in m.engine_steps)
    assert m.report["engine_layers"] == len(engine)
    assert format_report(m.report).count("\n") >= len(qg.graph.nodes) - 1


def _packets(rows: np.ndarray) -> list[int]:
    sizes, cur = [], 0
    for _, n, last in rows.tolist():
        cur += n
        if last:
            sizes.append(cur)
            cur = 0
    assert cur == 0, "descriptors after the last packet end"
    return sizes


def check_streams(m: CompiledModel, cfg: OverlayConfig) -> None:
    """Decode every run and check tokens, buffer ranges and the transfer lists."""
    cap = _buffers(cfg)
    hash_words = config_hash_words(cfg.config_hash)
    role_streams = {r: [s.name for s in cfg.streams_with_role(r)] for r in ("weights", "act_in")}
    role_streams["act_out"] = [s.name for s in cfg.streams_with_role("act_out")]
    IC = cfg.pe.in_channels
    for step in m.engine_steps:
        cs = decode_stream(step.cmd)
        assert (cs.config_hash0, cs.config_hash1) == hash_words
        assert set(step.transfers) == {s.name for s in cfg.streams if s.role != "cmd"}
        packets: dict[str, list[int]] = {k: [] for k in step.transfers}
        tokens = dict.fromkeys(TOKEN_ENDPOINTS, 0)
        conv: ConfigConv | None = None
        pool: ConfigPool | None = None

        def inside(buf: str, lo: int, n: int, what: str) -> None:
            assert lo >= 0 and lo + n <= cap[buf], f"{what}: [{lo}, {lo + n}) outside {buf}"

        def parts(
            role: str, mask: int, n_words: int, word_bytes: int, packets: dict[str, list[int]]
        ) -> None:
            sel = [role_streams[role][k] for k in range(4) if mask >> k & 1]
            assert sel and n_words % len(sel) == 0
            for s in sel:
                packets[s].append(n_words // len(sel) * word_bytes)

        for ins in cs.instructions:
            for t in TOKEN_ENDPOINTS:
                if ins.wait & int(t):
                    assert tokens[t] > 0, f"{ins}: waits on an empty queue"
                    tokens[t] -= 1
            name = type(ins).__name__
            if isinstance(ins, ConfigConv):
                conv = ins
            elif isinstance(ins, ConfigPool):
                pool = ins
            elif isinstance(ins, LoadInput):
                inside("input", ins.dst_base, ins.n_words, name)
                parts("act_in", ins.streams, ins.n_words, cap["cb"], packets)
            elif isinstance(ins, LoadWeights):
                inside("weight", ins.dst_base, ins.n_words, name)
                parts("weights", ins.streams, ins.n_words, cap["wb"], packets)
            elif isinstance(ins, LoadParams):
                inside("params", ins.dst_base, ins.n_words, name)
                parts("weights", ins.streams, ins.n_words, cap["pb"], packets)
            elif isinstance(ins, ComputeTile):
                assert conv is not None
                prec = Precision(conv.precision)
                g = -(-ins.out_cb * block_channels(cfg, prec) // group_channels(cfg, prec))
                wg = conv_weight_words(
                    cfg, prec, ins.in_cb, conv.kernel_h, conv.kernel_w, conv.depthwise
                )
                assert ins.oh0 + ins.n_oh <= conv.out_h and not ins.out_map
                assert ins.ih0 + ins.in_rows <= conv.in_h
                inside("input", ins.in_base, ins.in_cb * ins.in_rows * conv.in_w, name)
                inside("output", ins.out_base, ins.out_cb * ins.n_oh * conv.out_w, name)
                inside("weight", ins.w_base, g * wg, name)
                inside("params", ins.p_base, g, name)
                if ins.fuse_eltwise:  # operand b in the layout of the output tile
                    assert ins.acc_last
                    inside("input", ins.res_base, ins.out_cb * ins.n_oh * conv.out_w, name)
                if not (ins.acc_first and ins.acc_last):  # K-split: single-pass tiles
                    assert ins.n_oh * conv.out_w <= cfg.pe.pixels
                    assert ins.out_cb * block_channels(cfg, prec) <= group_channels(cfg, prec)
                assert conv.depthwise or wg == ins.in_cb * conv.kernel_h * conv.kernel_w * (
                    block_channels(cfg, prec) // IC
                )
            elif isinstance(ins, PoolTile):
                assert pool is not None
                assert ins.oh0 + ins.n_oh <= pool.out_h
                inside("input", ins.in_base, ins.n_cb * ins.in_rows * pool.in_w, name)
                inside("output", ins.out_base, ins.n_cb * ins.n_oh * pool.out_w, name)
                inside("params", ins.p_base, 1, name)
            elif isinstance(ins, EltwiseTile):
                inside("input", ins.a_base, ins.n_words, name)
                inside("input", ins.b_base, ins.n_words, name)
                inside("output", ins.out_base, ins.n_words, name)
            elif isinstance(ins, StoreTile):
                span = (ins.n_blocks - 1) * ins.src_pitch + ins.block_words
                inside("output", ins.src_base, span, name)
                if ins.loopback:
                    dspan = (ins.n_blocks - 1) * ins.dst_pitch + ins.block_words
                    inside("input", ins.dst_base, dspan, name)
                else:
                    n_words = ins.n_blocks * ins.block_words
                    parts("act_out", ins.streams, n_words, cap["cb"], packets)
            elif isinstance(ins, End):
                assert all(v == 0 for v in tokens.values()), f"tokens left at END: {tokens}"
            for t in TOKEN_ENDPOINTS:
                if ins.signal & int(t):
                    tokens[t] += 1
                    assert tokens[t] <= TOKEN_CAPACITY
        for s, rows in step.transfers.items():
            assert _packets(np.asarray(rows)) == packets[s], f"stream {s}"
            assert np.all(rows[:, 1] > 0) and np.all(rows[:, 0] >= 0)
            assert np.all(rows[:, 0] + rows[:, 1] <= m.memory.size)
        # DDR hazard rule of one run: reads and writes disjoint, nothing written twice
        out_names = set(role_streams["act_out"])
        writes = sorted(
            (int(o), int(o + n))
            for s, rows in step.transfers.items()
            if s in out_names
            for o, n, _ in rows.tolist()
        )
        for (_, e), (b, _) in itertools.pairwise(writes):
            assert b >= e, "a DDR range written twice in one run"
        for r in step.reads:
            for w in step.writes:
                assert r.end <= w.offset or w.end <= r.offset


def check_memory(m: CompiledModel) -> None:
    """No two overlapping DDR buffers are alive at the same step; transfers use live buffers."""
    mem = m.memory
    w_end = mem.weights_offset + mem.weights.size
    spans = []
    for b in mem.buffers:
        assert b.offset % mem.alignment == 0 and b.offset + b.size <= mem.size
        assert b.offset >= w_end or b.offset + b.size <= mem.weights_offset
        first = min(t[1] for t in b.tensors)
        last = max(t[2] for t in b.tensors)
        spans.append((b.offset, b.offset + b.size, first, last, b.tensors[0][0]))
    for a, b in itertools.combinations(spans, 2):
        if a[0] < b[1] and b[0] < a[1]:
            assert a[3] < b[2] or b[3] < a[2], f"{a[4]} and {b[4]} overlap while both alive"
    for info in m.tensors.values():
        if info.layout is not None:
            lay = info.layout
            assert any(s[0] <= lay.offset and lay.end <= s[1] for s in spans), info.name
    for i, step in enumerate(m.steps):
        if not isinstance(step, EngineStep):
            continue
        live = [s for s in spans if s[2] <= i <= s[3]]
        for rows in step.transfers.values():
            for o, n, _ in rows.tolist():
                in_weights = mem.weights_offset <= o and o + n <= w_end
                assert in_weights or any(s[0] <= o and o + n <= s[1] for s in live), (i, o, n)


# ---------------------------------------------------------------------------- every net
@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("key", list(NETS))
def test_network_compiles_and_validates(key: str, overlay: str, nets_dir: Path) -> None:
    qg = quantized(key, nets_dir)
    m = compiled(key, overlay, nets_dir)
    cfg = load_overlay(overlay)
    assert m.overlay == overlay and m.config_hash == cfg.config_hash
    assert m.engine_steps, "nothing runs on the engine"
    check_report(m, qg)
    check_streams(m, cfg)
    check_memory(m)
    assert m.report["compile_seconds"] < 20


def test_what_the_engine_cannot_run_goes_to_the_arm(nets_dir: Path) -> None:
    m = compiled("googlenet", "zcu104", nets_dir)
    rows = {r["name"]: r for r in m.report["layers"]}
    # LRN (across channels) runs on the engine's vector unit since ISA 1.1
    assert rows["pool1/norm1"]["placement"] == "engine" and rows["pool1/norm1"]["tiling"]
    assert rows["prob"]["placement"] == "arm"
    assert rows["inception_3a/output"]["placement"] == "concat"
    assert rows["inception_3a/3x3"]["placement"] == "engine"
    # nothing but the final Softmax leaves the engine: one run
    assert m.report["engine_runs"] == 1
    ssd = compiled("mobilenet_ssd", "zcu104", nets_dir)
    place = {r["type"]: r["placement"] for r in ssd.report["layers"]}
    assert place["DetectionOutput"] == place["PriorBox"] == place["Permute"] == "arm"
    assert {s.layer.TYPE for s in ssd.arm_steps} >= {"DetectionOutput", "Softmax", "Permute"}


def test_tilings_of_large_layers(nets_dir: Path) -> None:
    vgg = {r["name"]: r for r in compiled("vgg16", "zcu104", nets_dir).report["layers"]}
    # fc6: 25088 inputs exceed the weight buffer: K-split, every weight streamed once
    assert vgg["fc6"]["tiling"]["ksplit"] > 0
    assert sum(vgg["fc6"]["stream_bytes"].values()) >= 25088 * 4096
    # conv1_2 (224x224x64) cannot stay on chip: row bands from DDR
    assert not vgg["conv1_2"]["tiling"]["resident"]
    assert vgg["conv1_2"]["tiling"]["n_oh_band"] < 224
    # small maps chain on chip
    assert vgg["conv5_2"]["input"] == ["on-chip"]
    ultra = {r["name"]: r for r in compiled("vgg16", "ultra96", nets_dir).report["layers"]}
    assert ultra["conv4_2"]["tiling"]["chunk_groups"] < 512 // 16


# ---------------------------------------------------------------------------- synthetic nets
def _synthetic() -> Graph:
    """Concat gaps and an ARM-produced concat part, dilation, misaligned groups, depthwise,
    ARM float layer between engine layers, split aliasing, eltwise MAX and SUM of one tensor
    with itself, an unfoldable Scale, ceil-mode AVE pooling, a flattening transposed IP."""
    L = LAYERS
    return Graph(
        "synthetic",
        [
            Node("data", L["Input"]("data", shape=(1, 3, 13, 11)), [], ["data"]),
            Node("a", L["Convolution"]("a", num_output=5, kernel=(3, 3), pad=(1, 1), relu=True),
                 ["data"], ["a"]),
            Node("b", L["Convolution"]("b", num_output=6, kernel=(1, 1)), ["data"], ["b"]),
            Node("pr", L["PReLU"]("pr"), ["b"], ["pr"]),
            Node("cat", L["Concat"]("cat"), ["a", "pr"], ["cat"]),
            Node("c", L["Convolution"]("c", num_output=12, kernel=(3, 3), pad=(2, 2),
                                       dilation=(2, 2)), ["cat"], ["c"]),
            Node("d", L["Convolution"]("d", num_output=12, kernel=(3, 3), stride=(2, 2), group=3,
                                       relu=True), ["c"], ["d"]),
            Node("e", L["Convolution"]("e", num_output=12, kernel=(3, 3), stride=(2, 2),
                                       pad=(1, 1), group=12), ["d"], ["e"]),
            Node("lrn", L["LRN"]("lrn", local_size=3, norm_region="WITHIN_CHANNEL"), ["e"],
                 ["lrn"]),
            Node("sp", L["Split"]("sp", num_tops=2), ["lrn"], ["s1", "s2"]),
            Node("f", L["Convolution"]("f", num_output=16, kernel=(1, 1)), ["s1"], ["f"]),
            Node("g", L["Convolution"]("g", num_output=16, kernel=(3, 3), pad=(1, 1)), ["s2"],
                 ["g"]),
            Node("mx", L["Eltwise"]("mx", operation="MAX"), ["f", "g"], ["mx"]),
            Node("sc", L["Scale"]("sc", bias_term=True), ["mx"], ["sc"]),
            Node("ave", L["Pooling"]("ave", method="AVE", kernel=(3, 3), stride=(2, 2)), ["sc"],
                 ["ave"]),
            Node("sum", L["Eltwise"]("sum", coeff=(1.0, -0.5)), ["ave", "ave"], ["sum"]),
            Node("fl", L["Flatten"]("fl"), ["sum"], ["fl"]),
            Node("ip", L["InnerProduct"]("ip", num_output=7, transpose=True), ["fl"], ["ip"]),
            Node("sm", L["Softmax"]("sm"), ["ip"], ["sm"]),
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def synthetic() -> dict[str, QuantizedGraph]:
    g = _synthetic()
    g.init_random_weights(0)
    return {p: _quantize(g, 4, 2, p) for p in ("int8", "int16")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_synthetic_network(overlay: str, synthetic: dict[str, QuantizedGraph]) -> None:
    cfg = load_overlay(overlay)
    for prec, qg in synthetic.items():
        if prec not in cfg.pe.precisions:
            continue
        m = compile_model(qg, cfg)
        check_report(m, qg)
        check_streams(m, cfg)
        check_memory(m)
        place = {r["name"]: r["placement"] for r in m.report["layers"]}
        assert place["cat"] == "concat" and place["pr"] == "arm" and place["lrn"] == "arm"
        assert place["sp"] == place["fl"] == "absorbed"
        for name in ("a", "b", "c", "d", "e", "f", "g", "sc", "ave", "sum", "ip"):
            assert place[name] == "engine", name
        # MAX of two convolutions: fused into the later one (g); SUM of a pooling: standalone
        assert place["mx"] == "fused" and m.report["fused_eltwise"] == {"mx": "g"}
        # the concat's physical layout keeps a's 5 channels in the first block (gap of 3)
        cbc = block_channels(cfg, Precision.INT16 if prec == "int16" else Precision.INT8)
        lay = m.tensors["cat"].layout
        assert lay is not None and lay.channel_map[5:cbc] == (-1,) * (cbc - 5)


def test_int16_layers_go_to_the_arm_on_int8_only_overlays(
    synthetic: dict[str, QuantizedGraph],
) -> None:
    m = compile_model(synthetic["int16"], "dpu_b4096_zu7")
    rows = {r["name"]: r for r in m.report["layers"]}
    assert rows["c"]["placement"] == "arm" and "int16" in rows["c"]["reason"]
    assert not m.engine_steps


def test_layer_without_a_tiling_runs_on_the_arm() -> None:
    L = LAYERS
    g = Graph(
        "wide",
        [
            Node("data", L["Input"]("data", shape=(1, 3, 2, 4200)), [], ["data"]),
            Node("c", L["Convolution"]("c", num_output=16, kernel=(1, 1)), ["data"], ["c"]),
            Node("p", L["Pooling"]("p", method="MAX", kernel=(2, 3), stride=(2, 3)), ["c"],
                 ["p"]),
        ],
    )  # fmt: skip
    g.init_random_weights(0)
    m = compile_model(_quantize(g, 2, 0), "ultra96")
    rows = {r["name"]: r for r in m.report["layers"]}
    assert rows["c"]["placement"] == "arm"
    assert "output buffer" in rows["c"]["reason"]
    assert rows["p"]["placement"] == "engine"


# ---------------------------------------------------------------------------- bit exactness
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_bit_exact_on_the_emulator(
    overlay: str, synthetic: dict[str, QuantizedGraph], nets_dir: Path
) -> None:
    run = pytest.importorskip("edge_dnn.emulator.run")
    cfg = load_overlay(overlay)
    cases: list[tuple[QuantizedGraph, Any]] = [
        (qg, None) for p, qg in synthetic.items() if p in cfg.pe.precisions
    ]
    cases.append((quantized("digits", nets_dir), None))
    for qg, _ in cases:
        name, shape = next(iter(qg.inputs.items()))
        x = np.random.default_rng(5).standard_normal((1, *shape[1:])).astype(np.float32)
        m = compile_model(qg, cfg)
        got = run.run_compiled(m, {name: x}, raw=True)
        want = qg.run({name: x}, raw=True)
        for t, a in want.items():
            assert np.array_equal(np.asarray(got[t]).reshape(a.shape), a), (qg.name, t)


# ---------------------------------------------------------------------------- .edm files
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_edm_round_trip(overlay: str, nets_dir: Path, tmp_path: Path) -> None:
    for key in ("digits", "squeezenet_v1.1", "mobilenet_ssd"):
        m = compiled(key, overlay, nets_dir)
        path = tmp_path / f"{key}.edm"
        m.save(path)
        back = CompiledModel.load(path, load_overlay(overlay))
        assert back == m
        assert back.tensors == m.tensors and back.report == m.report
        assert [type(s) for s in back.steps] == [type(s) for s in m.steps]
        for a, b in zip(back.steps, m.steps):
            if isinstance(a, EngineStep):
                assert isinstance(b, EngineStep)
                assert np.array_equal(a.cmd, b.cmd) and a.layers == b.layers
                assert a.transfers.keys() == b.transfers.keys()
                assert all(np.array_equal(a.transfers[k], b.transfers[k]) for k in a.transfers)
            else:
                assert isinstance(a, ArmStep) and isinstance(b, ArmStep)
                assert a.layer == b.layer and a.inputs == b.inputs and a.reason == b.reason
                for f in ("weights", "bias", "M", "S"):
                    x, y = getattr(a.node, f), getattr(b.node, f)
                    assert (x is None and y is None) or np.array_equal(x, y)
                assert repr(a.node.tables) == repr(b.node.tables)
        assert np.array_equal(back.memory.weights, m.memory.weights)


def test_edm_for_another_overlay_is_rejected(nets_dir: Path, tmp_path: Path) -> None:
    m = compiled("digits", "zcu104", nets_dir)
    path = tmp_path / "digits.edm"
    m.save(path)
    ultra = load_overlay("ultra96")
    with pytest.raises(OverlayMismatchError) as exc:
        CompiledModel.load(path, ultra)
    msg = str(exc.value)
    assert "zcu104" in msg and "ultra96" in msg and m.config_hash[:16] in msg
    assert ultra.config_hash[:16] in msg and str(path) in msg
    assert exc.value.compiled_for == ("zcu104", m.config_hash)


def test_damaged_edm_files_raise(nets_dir: Path, tmp_path: Path) -> None:
    data = compiled("digits", "zcu104", nets_dir).to_bytes()
    path = tmp_path / "bad.edm"
    cases = {
        "truncated": data[: len(data) - 100],
        "short": data[:10],
        "trailing data": data + b"\0",
        "magic": b"X" + data[1:],
    }
    flipped = bytearray(data)
    flipped[len(data) - 200] ^= 0x10  # inside the blob area
    cases["blob checksum"] = bytes(flipped)
    flipped = bytearray(data)
    flipped[40] ^= 0x01  # inside the header JSON
    cases["header checksum"] = bytes(flipped)
    for what, blob in cases.items():
        path.write_bytes(blob)
        with pytest.raises(EdmCorruptError) as exc:
            CompiledModel.load(path)
        assert str(path) in str(exc.value), what
    future = bytearray(data)
    future[len(MAGIC) : len(MAGIC) + 4] = (FORMAT_VERSION + 1).to_bytes(4, "little")
    path.write_bytes(bytes(future))
    with pytest.raises(EdmVersionError):
        CompiledModel.load(path)
    # command streams of an older ISA major (1.1, before the window unit): a clear error,
    # not a BAD_VERSION at the first run
    from edge_dnn.compiler import model as edm

    magic, ver, _, hlen, blen = edm._PREFIX.unpack_from(data, 0)
    text = data[edm._PREFIX.size : edm._PREFIX.size + hlen]
    old = re.sub(rb'("isa_version":\s*\[)2(,\s*)0\]', rb"\g<1>1\g<2>1]", text)
    assert old != text
    prefix = edm._PREFIX.pack(magic, ver, zlib.crc32(old), hlen, blen)
    path.write_bytes(prefix + old + data[edm._PREFIX.size + hlen :])
    with pytest.raises(EdmVersionError, match=r"ISA 1\.1"):
        CompiledModel.load(path)


# ---------------------------------------------------------------------------- API and CLI
def test_package_exports_and_preprocess(nets_dir: Path) -> None:
    from edge_dnn.quant.calib_data import Preprocess

    pre = Preprocess(mean_value=(1.0,), scale=0.5)
    m = edge_dnn.compile_model(quantized("digits", nets_dir), "zcu102", preprocess=pre)
    assert m.preprocess == pre.to_dict()
    assert Preprocess.from_dict(CompiledModel.from_bytes(m.to_bytes()).preprocess or {}) == pre


def test_cli_compile(nets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32))
    out = tmp_path / "lenet.edm"
    args = [
        "compile", str(nets_dir / NETS["lenet"]), "--random-weights", "3", "--overlay",
        "ultra96", "--calib", str(calib), "--method", "minmax", "-o", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "conv1" in text and "engine runs" in text and str(out) in text
    m = CompiledModel.load(out, load_overlay("ultra96"))
    assert m.name == "LeNet" and m.method == "minmax"
    assert main([*args[:-1], str(tmp_path / "missing" / "x.edm")]) == 2
