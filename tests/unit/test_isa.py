"""Engine instruction set: tables, encode/decode round trips, corruption detection, C header."""

from __future__ import annotations

import binascii
import dataclasses
import importlib.util
import shutil
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_dnn.errors import EdgeDnnError
from edge_dnn.isa import (
    HEADER_WORDS,
    INSTR_WORDS,
    ISA_MAJOR,
    ISA_MINOR,
    OPCODES,
    STREAM_MAGIC,
    ComputeTile,
    ConfigConv,
    ConfigEltwise,
    ConfigNorm,
    ConfigPool,
    EltwiseTile,
    End,
    ErrorCode,
    Instruction,
    IsaError,
    LoadInput,
    LoadParams,
    LoadWeights,
    Nop,
    NormTile,
    Opcode,
    PoolKind,
    PoolTile,
    Precision,
    StaleIsaHeaderError,
    StoreTile,
    Sync,
    Token,
    decode,
    decode_stream,
    encode,
    encode_stream,
)
from edge_dnn.isa.cheader import (
    DOC_BEGIN,
    DOC_END,
    check_isa_doc,
    check_isa_header,
    generate_field_tables_md,
    generate_isa_header,
    isa_doc_path,
    isa_header_path,
)
from edge_dnn.isa.format import (
    COMMON_FIELDS,
    HEADER_FIELDS,
    INSTRUCTION_CLASSES,
    Field,
    OpcodeSpec,
    Unit,
    config_hash_words,
    crc16,
    crc32,
    unit_signal_mask,
    unit_wait_mask,
)
from edge_dnn.isa.layout import (
    block_bytes,
    block_channels,
    check_overlay,
    conv_groups,
    conv_weight_words,
    group_channels,
    sub_steps,
)
from edge_dnn.overlay import OverlayConfigError, list_overlays, load_overlay

REPO = Path(__file__).resolve().parents[2]
HASH = "0123456789abcdef" + "0" * 48

# One valid instance of every opcode (hand-written: independent of the strategies below).
EXAMPLES: dict[Opcode, Instruction] = {
    Opcode.NOP: Nop(tag=3),
    Opcode.SYNC: Sync(),
    Opcode.END: End(),
    Opcode.CONFIG_CONV: ConfigConv(
        in_signed=False,
        in_h=56,
        in_w=56,
        out_h=28,
        out_w=28,
        kernel_h=3,
        kernel_w=3,
        stride_h=2,
        stride_w=2,
        pad_h=1,
        pad_w=1,
        qmin=0,
        qmax=255,
        tag=7,
    ),
    Opcode.CONFIG_POOL: ConfigPool(
        kind=PoolKind.AVE,
        in_h=7,
        in_w=7,
        out_h=1,
        out_w=1,
        kernel_h=7,
        kernel_w=7,
        n_area=1,
        qmin=-128,
        qmax=127,
    ),
    Opcode.CONFIG_ELTWISE: ConfigEltwise(m_a=8192, m_b=-32768, shift=14, qmin=0, qmax=255),
    Opcode.CONFIG_NORM: ConfigNorm(
        in_h=56, in_w=56, local_size=5, lut_shift=1, frac_bits=15, qmin=0, qmax=255, tag=2
    ),
    Opcode.LOAD_INPUT: LoadInput(
        streams=0b11, dst_base=4096, n_words=3136, signal=int(Token.LDA_CMP)
    ),
    Opcode.LOAD_WEIGHTS: LoadWeights(dst_base=0, n_words=288, signal=int(Token.LDW_CMP)),
    Opcode.LOAD_PARAMS: LoadParams(dst_base=2, n_words=1, wait=int(Token.CMP_LDW)),
    Opcode.COMPUTE_TILE: ComputeTile(
        in_base=0,
        in_cb=8,
        ih0=0,
        in_rows=56,
        oh0=0,
        n_oh=28,
        out_base=100,
        out_cb=8,
        w_base=0,
        p_base=0,
        wait=int(Token.LDA_CMP | Token.LDW_CMP),
        signal=int(Token.CMP_ST | Token.CMP_LDA),
        tag=65535,
    ),
    Opcode.POOL_TILE: PoolTile(
        in_base=5, n_cb=4, ih0=0, in_rows=7, oh0=0, n_oh=1, out_base=0, out_map=True
    ),
    Opcode.ELTWISE_TILE: EltwiseTile(a_base=0, b_base=1000, out_base=0, n_words=1000),
    Opcode.NORM_TILE: NormTile(
        in_base=8, n_cb=24, ih0=0, in_rows=56, oh0=7, n_oh=7, out_base=0, p_base=32, out_map=True
    ),
    Opcode.STORE_TILE: StoreTile(
        streams=0b01,
        src_base=100,
        n_blocks=8,
        block_words=784,
        src_pitch=784,
        wait=int(Token.CMP_ST),
    ),
}


def _ex(op: Opcode) -> Any:
    """EXAMPLES[op] typed loosely, for dataclasses.replace with opcode-specific fields."""
    return EXAMPLES[op]


def _header_words(
    n_instr: int, body: np.ndarray, major: int = 2, minor: int = 0, magic: int = STREAM_MAGIC
) -> list[int]:
    """Header built here from the documented layout with zlib (independent of encode_stream)."""
    h = [
        magic,
        major | minor << 8,
        n_instr,
        0x01234567,
        0x89ABCDEF,
        zlib.crc32(body.astype("<u4").tobytes()),
        0,
    ]
    h.append(zlib.crc32(b"".join(x.to_bytes(4, "little") for x in h)))
    return h


def _reseal(words: np.ndarray) -> np.ndarray:
    """Recompute the CRC-16 of an 8-word instruction after a deliberate edit."""
    w = words.astype(np.uint32).copy()
    data = w.astype("<u4").tobytes()[:30]
    w[7] = (int(w[7]) & 0xFFFF) | binascii.crc_hqx(data, 0xFFFF) << 16
    return w


def _stream(instrs: list[Instruction]) -> np.ndarray:
    return encode_stream([*instrs, End()], HASH)


# ---------------------------------------------------------------------------- tables
def test_every_opcode_has_spec_class_and_example() -> None:
    assert set(OPCODES) == set(Opcode) == set(INSTRUCTION_CLASSES) == set(EXAMPLES)
    for op, spec in OPCODES.items():
        cls_fields = {f.name for f in dataclasses.fields(INSTRUCTION_CLASSES[op])}
        assert cls_fields == {f.name for f in spec.value_fields}
        assert op == INSTRUCTION_CLASSES[op].OPCODE
        assert isinstance(EXAMPLES[op], INSTRUCTION_CLASSES[op])


@pytest.mark.parametrize("spec", list(OPCODES.values()), ids=lambda s: s.name)
def test_fields_disjoint_within_words(spec: OpcodeSpec) -> None:
    used = [0] * INSTR_WORDS
    for f in spec.all_fields:
        assert f.lsb >= 0 and f.lsb + f.width <= 32, f.name
        assert used[f.word] & f.mask == 0, f.name
        used[f.word] |= f.mask
    assert [~u & 0xFFFFFFFF for u in used] == list(spec.reserved_masks)
    assert spec.field("opcode").mask == 0xFF and spec.field("crc16").word == 7


def test_crc_check_values() -> None:
    assert crc16(b"123456789") == 0x29B1
    assert crc32(b"123456789") == 0xCBF43926


def test_config_hash_words_match_identity_block() -> None:
    cfg = load_overlay("zcu104")
    w = encode_stream([End()], cfg.config_hash)
    ident = cfg.derived.identity_words
    assert int(w[3]) == ident["ID_CONFIG_HASH0"] and int(w[4]) == ident["ID_CONFIG_HASH1"]
    assert config_hash_words(cfg.config_hash) == (int(w[3]), int(w[4]))
    with pytest.raises(IsaError, match="hex"):
        config_hash_words("z" * 64)


# ---------------------------------------------------------------------------- round trips
def _field_strategy(f: Field) -> st.SearchStrategy[Any]:
    if f.kind == "bool":
        return st.booleans()
    if f.enum is not None:
        return st.sampled_from(list(f.enum))
    return st.integers(f.lo, f.hi)


def _draw_valid(data: st.DataObject, spec: OpcodeSpec) -> Instruction:
    """A valid instruction: every field over its full legal range, then the documented
    cross-field rules imposed explicitly (the test restates them rather than calling the
    implementation's rule functions)."""
    v: dict[str, Any] = {f.name: data.draw(_field_strategy(f), f.name) for f in spec.value_fields}
    v["wait"] &= unit_wait_mask(spec.unit)
    v["signal"] &= unit_signal_mask(spec.unit)
    names = {f.name for f in spec.value_fields}
    if "qmin" in names:
        if v["precision"] == Precision.INT8:
            v["qmin"] = data.draw(st.integers(-128, 0), "qmin8")
            v["qmax"] = data.draw(st.integers(0, 127 if v["qmin"] < 0 else 255), "qmax8")
        else:
            for s in ("in_signed", "a_signed", "b_signed"):
                if s in names:
                    v[s] = True
    if spec.opcode == Opcode.CONFIG_NORM:  # 8-bit only in ISA 1.1, odd windows
        v["precision"] = Precision.INT8
        v["qmin"] = data.draw(st.integers(-128, 0), "qmin8n")
        v["qmax"] = data.draw(st.integers(0, 127 if v["qmin"] < 0 else 255), "qmax8n")
        v["local_size"] = 2 * data.draw(st.integers(0, 127), "ls") + 1
    if spec.opcode == Opcode.CONFIG_POOL:
        v["n_area"] = 0 if v["kind"] == PoolKind.MAX else data.draw(st.integers(1, 16), "na")
        v["pad_h"] = data.draw(st.integers(0, v["kernel_h"] - 1), "ph")
        v["pad_w"] = data.draw(st.integers(0, v["kernel_w"] - 1), "pw")
    if spec.opcode in (Opcode.LOAD_INPUT, Opcode.LOAD_WEIGHTS, Opcode.LOAD_PARAMS):
        n = bin(v["streams"]).count("1")
        hi = spec.field("n_words").hi
        v["n_words"] = n * data.draw(st.integers(1, hi // n), "nw")
    if spec.opcode == Opcode.COMPUTE_TILE:
        if v["fuse_eltwise"]:
            v["acc_last"] = True
        else:
            v["res_base"] = 0
    if spec.opcode == Opcode.STORE_TILE:
        if v["loopback"]:
            v["streams"] = 0
            if v["n_blocks"] > 1:
                v["dst_pitch"] = data.draw(st.integers(v["block_words"], (1 << 20) - 1), "dp")
        else:
            v["streams"] = data.draw(st.integers(1, 15), "st")
            v["dst_base"] = v["dst_pitch"] = 0
            n = bin(v["streams"]).count("1")
            v["block_words"] = n * data.draw(st.integers(1, ((1 << 20) - 1) // n), "bw")
    return INSTRUCTION_CLASSES[spec.opcode](**v)


def _raw(value: Any) -> int:
    return int(value)


@pytest.mark.parametrize("spec", list(OPCODES.values()), ids=lambda s: s.name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_every_opcode(spec: OpcodeSpec, data: st.DataObject) -> None:
    instr = _draw_valid(data, spec)
    words = encode(instr)
    assert words.dtype == np.uint32 and words.shape == (INSTR_WORDS,)
    # Placement checked against the table directly, not through decode.
    assert int(words[0]) & 0xFF == int(spec.opcode)
    for f in spec.value_fields:
        raw = (int(words[f.word]) >> f.lsb) & ((1 << f.width) - 1)
        assert raw == _raw(getattr(instr, f.name)) & ((1 << f.width) - 1), f.name
    for k, m in enumerate(spec.reserved_masks):
        assert int(words[k]) & m == 0
    assert int(words[7]) >> 16 == binascii.crc_hqx(words.astype("<u4").tobytes()[:30], 0xFFFF)
    back = decode(words)
    assert back == instr and type(back) is type(instr)
    assert decode(words.astype("<u4").tobytes()) == instr


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_stream_round_trip(data: st.DataObject) -> None:
    specs = [s for s in OPCODES.values() if s.opcode != Opcode.END]
    picked = data.draw(st.lists(st.sampled_from(specs), min_size=0, max_size=6), "ops")
    instrs = [_draw_valid(data, s) for s in picked]
    words = _stream(instrs)
    assert words.size == HEADER_WORDS + INSTR_WORDS * (len(instrs) + 1)
    body = words[HEADER_WORDS:]
    version = ISA_MAJOR | ISA_MINOR << 8
    assert [int(x) for x in words[:HEADER_WORDS]][:3] == [STREAM_MAGIC, version, len(instrs) + 1]
    assert int(words[5]) == zlib.crc32(body.astype("<u4").tobytes())
    assert int(words[7]) == zlib.crc32(words[:7].astype("<u4").tobytes())
    cs = decode_stream(words)
    assert cs.instructions == (*instrs, End())
    assert (cs.config_hash0, cs.config_hash1) == (0x01234567, 0x89ABCDEF)
    assert np.array_equal(cs.to_words(), words)
    assert decode_stream(cs.to_bytes()) == cs


# ---------------------------------------------------------------------------- encode errors
def _cases_out_of_range() -> list[tuple[Opcode, str, int]]:
    out = []
    for op, spec in OPCODES.items():
        for f in spec.value_fields:
            out += [(op, f.name, f.lo - 1), (op, f.name, f.hi + 1)]
    return out


@pytest.mark.parametrize(("op", "name", "bad"), _cases_out_of_range())
def test_encode_rejects_out_of_range(op: Opcode, name: str, bad: int) -> None:
    spec = OPCODES[op]
    instr = dataclasses.replace(EXAMPLES[op], **{name: bad})
    with pytest.raises(IsaError) as ei:
        encode(instr, word_offset=80, index=9)
    e = ei.value
    assert isinstance(e, EdgeDnnError)
    assert (e.field, e.opcode, e.instruction_index) == (name, op.name, 9)
    assert e.word_index == 80 + spec.field(name).word
    assert e.code == ErrorCode.FIELD_RANGE
    assert f"command word {e.word_index}" in str(e) and f"field '{name}'" in str(e)


RULE_CASES: list[tuple[Instruction, dict[str, Any], str]] = [
    (EXAMPLES[Opcode.CONFIG_CONV], {"qmin": -129}, "qmin"),
    (EXAMPLES[Opcode.CONFIG_CONV], {"qmax": 256}, "qmax"),
    (EXAMPLES[Opcode.CONFIG_CONV], {"qmin": -1, "qmax": 200}, "qmax"),
    (EXAMPLES[Opcode.CONFIG_CONV], {"precision": Precision.INT16}, "in_signed"),
    (EXAMPLES[Opcode.CONFIG_POOL], {"n_area": 0}, "n_area"),
    (EXAMPLES[Opcode.CONFIG_POOL], {"kind": PoolKind.MAX}, "n_area"),
    (EXAMPLES[Opcode.CONFIG_POOL], {"pad_h": 7}, "pad_h"),
    (
        EXAMPLES[Opcode.CONFIG_ELTWISE],
        {"precision": Precision.INT16, "b_signed": False},
        "b_signed",
    ),
    (EXAMPLES[Opcode.CONFIG_NORM], {"local_size": 4}, "local_size"),
    (EXAMPLES[Opcode.CONFIG_NORM], {"precision": Precision.INT16}, "precision"),
    (EXAMPLES[Opcode.CONFIG_NORM], {"qmin": -1, "qmax": 255}, "qmax"),
    (EXAMPLES[Opcode.LOAD_INPUT], {"n_words": 3135}, "n_words"),
    (EXAMPLES[Opcode.LOAD_WEIGHTS], {"streams": 0b111, "n_words": 100}, "n_words"),
    (EXAMPLES[Opcode.COMPUTE_TILE], {"fuse_eltwise": True, "acc_last": False}, "fuse_eltwise"),
    (EXAMPLES[Opcode.COMPUTE_TILE], {"res_base": 5}, "res_base"),
    (EXAMPLES[Opcode.STORE_TILE], {"loopback": True}, "streams"),
    (EXAMPLES[Opcode.STORE_TILE], {"streams": 0}, "streams"),
    (EXAMPLES[Opcode.STORE_TILE], {"dst_base": 1}, "dst_base"),
    (EXAMPLES[Opcode.STORE_TILE], {"streams": 0, "loopback": True, "dst_pitch": 10}, "dst_pitch"),
    (EXAMPLES[Opcode.STORE_TILE], {"streams": 0b111}, "block_words"),
]


@pytest.mark.parametrize(("base", "change", "field"), RULE_CASES)
def test_encode_rejects_broken_rules(base: Instruction, change: dict[str, Any], field: str) -> None:
    bad = dataclasses.replace(base, **change)
    with pytest.raises(IsaError) as ei:
        encode(bad)
    assert ei.value.field == field and ei.value.opcode == base.OPCODE.name


@pytest.mark.parametrize("op", list(Opcode), ids=lambda o: o.name)
def test_encode_rejects_foreign_tokens(op: Opcode) -> None:
    spec = OPCODES[op]
    for name, allowed in (
        ("wait", unit_wait_mask(spec.unit)),
        ("signal", unit_signal_mask(spec.unit)),
    ):
        foreign = 0x3F & ~allowed
        bad = dataclasses.replace(EXAMPLES[op], **{name: foreign})
        with pytest.raises(IsaError) as ei:
            encode(bad)
        assert ei.value.field == name and ei.value.code == ErrorCode.TOKEN_MISUSE


def test_token_masks_follow_the_queue_table() -> None:
    assert unit_wait_mask(Unit.CMP) == Token.LDW_CMP | Token.LDA_CMP | Token.ST_CMP
    assert unit_signal_mask(Unit.CMP) == Token.CMP_LDW | Token.CMP_LDA | Token.CMP_ST
    assert unit_wait_mask(Unit.VEC) == Token.LDW_VEC | Token.LDA_VEC | Token.ST_VEC
    assert unit_signal_mask(Unit.VEC) == Token.VEC_LDW | Token.VEC_LDA | Token.VEC_ST
    assert unit_wait_mask(Unit.ST) == Token.CMP_ST | Token.VEC_ST
    assert unit_signal_mask(Unit.LDA) == Token.LDA_CMP | Token.LDA_VEC
    assert unit_wait_mask(Unit.LDW) == Token.CMP_LDW | Token.VEC_LDW
    assert unit_wait_mask(Unit.DEC) == 0 == unit_signal_mask(Unit.DEC)
    # every queue has exactly one bit, and the masks of the 12 queues fill the 12-bit fields
    assert sorted(int(t) for t in Token) == [1 << k for k in range(12)]


def test_encode_rejects_non_integers_and_bad_streams() -> None:
    with pytest.raises(IsaError, match="must be an integer") as ei:
        encode(dataclasses.replace(_ex(Opcode.LOAD_INPUT), n_words=1.5))
    assert ei.value.field == "n_words"
    with pytest.raises(IsaError, match="last instruction must be END"):
        encode_stream([Nop()], HASH)
    with pytest.raises(IsaError, match="END must be the last") as ei:
        encode_stream([End(), End()], HASH)
    assert ei.value.word_index == HEADER_WORDS and ei.value.instruction_index == 0
    with pytest.raises(IsaError, match="at least END"):
        encode_stream([], HASH)
    with pytest.raises(IsaError) as ei:
        encode_stream(
            [
                Nop(),
                EXAMPLES[Opcode.LOAD_INPUT],
                dataclasses.replace(_ex(Opcode.COMPUTE_TILE), in_cb=0),
                End(),
            ],
            HASH,
        )
    assert (ei.value.instruction_index, ei.value.word_index, ei.value.field) == (
        2,
        8 + 16 + 1,
        "in_cb",
    )


# ---------------------------------------------------------------------------- corruption
def _expected_field(words: np.ndarray, k: int, bit: int) -> str:
    """Field of bit ``bit`` of stream word ``k``, from the tables (header or instruction)."""
    if k < HEADER_WORDS:
        fields: tuple[Field, ...] = HEADER_FIELDS
        w = k
    else:
        base = HEADER_WORDS + (k - HEADER_WORDS) // INSTR_WORDS * INSTR_WORDS
        spec = OPCODES[Opcode(int(words[base]) & 0xFF)]
        fields, w = spec.all_fields, k - base
    for f in fields:
        if f.word == w and f.lsb <= bit < f.lsb + f.width:
            return f.name
    return "reserved"


def test_every_single_bit_flip_is_located() -> None:
    words = _stream(
        [
            EXAMPLES[Opcode.CONFIG_CONV],
            EXAMPLES[Opcode.COMPUTE_TILE],
            EXAMPLES[Opcode.STORE_TILE],
            EXAMPLES[Opcode.CONFIG_ELTWISE],
        ]
    )
    for k in range(words.size):
        for bit in range(32):
            bad = words.copy()
            bad[k] ^= np.uint32(1 << bit)
            with pytest.raises(IsaError) as ei:
                decode_stream(bad)
            e = ei.value
            assert e.word_index == k, (k, bit, str(e))
            assert e.field == _expected_field(words, k, bit), (k, bit, str(e))
            if k >= HEADER_WORDS:
                assert e.instruction_index == (k - HEADER_WORDS) // INSTR_WORDS
                assert e.code == ErrorCode.INSTR_CRC
            else:
                assert e.opcode == "HEADER"
                assert e.code in (ErrorCode.BAD_MAGIC, ErrorCode.HEADER_CRC)


@pytest.mark.parametrize("op", list(Opcode), ids=lambda o: o.name)
def test_single_bit_flip_in_each_opcode(op: Opcode) -> None:
    words = encode(EXAMPLES[op])
    for k in range(INSTR_WORDS):
        for bit in range(32):
            bad = words.copy()
            bad[k] ^= np.uint32(1 << bit)
            with pytest.raises(IsaError) as ei:
                decode(bad, word_offset=40, index=4)
            assert ei.value.word_index == 40 + k and ei.value.instruction_index == 4
            assert f"bit {bit} of the word is flipped" in str(ei.value)


def test_unknown_opcode() -> None:
    words = _stream([EXAMPLES[Opcode.LOAD_INPUT]])
    for opbyte, reseal in ((0xEE, False), (0xEE, True), (0x00, True), (0x1F, True)):
        bad = words.copy()
        first = HEADER_WORDS
        bad[first] = (int(bad[first]) & ~0xFF) | opbyte
        if reseal:
            bad[first : first + 8] = _reseal(bad[first : first + 8])
        with pytest.raises(IsaError) as ei:
            decode_stream(bad)
        e = ei.value
        assert (e.word_index, e.field, e.code) == (first, "opcode", ErrorCode.BAD_OPCODE)
        assert f"unknown opcode 0x{opbyte:02X}" in str(e)
        assert ("CRC-16 fails too" in str(e)) == (not reseal)


@pytest.mark.parametrize("op", list(Opcode), ids=lambda o: o.name)
def test_reserved_bits(op: Opcode) -> None:
    spec = OPCODES[op]
    words = encode(EXAMPLES[op])
    for k, mask in enumerate(spec.reserved_masks):
        if not mask:
            continue
        bit = mask & -mask
        for reseal in (True, False):
            bad = words.copy()
            bad[k] |= np.uint32(bit | (mask & 0x80000000))
            if reseal:
                bad = _reseal(bad)
            with pytest.raises(IsaError) as ei:
                decode(bad, word_offset=16)
            e = ei.value
            assert (e.word_index, e.field, e.opcode) == (16 + k, "reserved", op.name)
            assert e.code == ErrorCode.RESERVED_BITS or (
                not reseal and bit | (mask & 0x80000000) == bit and e.code == ErrorCode.INSTR_CRC
            )


def test_resealed_bad_fields_name_the_field() -> None:
    ct = encode(EXAMPLES[Opcode.COMPUTE_TILE])
    bad = ct.copy()
    bad[1] &= np.uint32(0x000FFFFF)  # in_cb = 0
    with pytest.raises(IsaError) as ei:
        decode(_reseal(bad), word_offset=24, index=2)
    assert (ei.value.field, ei.value.word_index, ei.value.code) == (
        "in_cb",
        25,
        ErrorCode.FIELD_RANGE,
    )
    bad = ct.copy()
    bad[0] |= np.uint32(int(Token.ST_CMP) << 20)  # CMP may not signal ST_CMP
    with pytest.raises(IsaError) as ei:
        decode(_reseal(bad))
    assert (ei.value.field, ei.value.code) == ("signal", ErrorCode.TOKEN_MISUSE)
    pool = encode(EXAMPLES[Opcode.CONFIG_POOL])
    bad = pool.copy()
    bad[4] &= np.uint32(~(0x1F << 16) & 0xFFFFFFFF)  # n_area = 0 with AVE
    with pytest.raises(IsaError, match="n_area must be 0 for max pooling") as ei:
        decode(_reseal(bad))
    assert ei.value.field == "n_area"


def test_whole_word_overwrite_is_detected() -> None:
    rng = np.random.default_rng(7)
    words = _stream([EXAMPLES[op] for op in OPCODES if op != Opcode.END])
    for _ in range(300):
        k = int(rng.integers(0, words.size))
        bad = words.copy()
        bad[k] = np.uint32(rng.integers(0, 1 << 32))
        if bad[k] == words[k]:
            continue
        with pytest.raises(IsaError) as ei:
            decode_stream(bad)
        idx = ei.value.word_index
        assert idx is not None
        if k < HEADER_WORDS:
            assert idx < HEADER_WORDS
        else:
            first = HEADER_WORDS + (k - HEADER_WORDS) // INSTR_WORDS * INSTR_WORDS
            assert first <= idx < first + INSTR_WORDS


def test_header_errors() -> None:
    ins = [EXAMPLES[Opcode.LOAD_INPUT], End()]
    body = np.concatenate([encode(i) for i in ins])
    ok = np.array(_header_words(2, body) + [int(x) for x in body], dtype=np.uint32)
    assert len(decode_stream(ok).instructions) == 2  # the independent header is accepted
    cases: list[tuple[dict[str, int], int, str, ErrorCode]] = [
        ({"magic": 0x12345678}, 0, "magic", ErrorCode.BAD_MAGIC),
        ({"major": 1}, 1, "version_major", ErrorCode.BAD_VERSION),
        ({"minor": ISA_MINOR + 1}, 1, "version_minor", ErrorCode.BAD_VERSION),
        ({"n_instr": 3}, 2, "n_instr", ErrorCode.STREAM_STRUCTURE),
        ({"n_instr": 0}, 2, "n_instr", ErrorCode.STREAM_STRUCTURE),
    ]
    for kw, word, field, code in cases:
        n = kw.pop("n_instr", 2)
        bad = np.array(_header_words(n, body, **kw) + [int(x) for x in body], dtype=np.uint32)
        with pytest.raises(IsaError) as ei:
            decode_stream(bad)
        e = ei.value
        assert (e.word_index, e.field, e.code, e.opcode) == (word, field, code, "HEADER"), str(e)
    bad = ok.copy()
    bad[6] = 5  # reserved header word, CRC left alone: located as a flipped... multi-bit
    with pytest.raises(IsaError) as ei:
        decode_stream(bad)
    assert ei.value.code == ErrorCode.HEADER_CRC
    hdr = _header_words(2, body)
    hdr[6] = 5
    hdr[7] = zlib.crc32(b"".join(x.to_bytes(4, "little") for x in hdr[:7]))
    with pytest.raises(IsaError) as ei:
        decode_stream(np.array(hdr + [int(x) for x in body], dtype=np.uint32))
    assert (ei.value.word_index, ei.value.field, ei.value.code) == (
        6,
        "reserved",
        ErrorCode.RESERVED_BITS,
    )


def test_stream_structure_errors() -> None:
    a, b = EXAMPLES[Opcode.LOAD_INPUT], EXAMPLES[Opcode.STORE_TILE]
    words = _stream([a, b])
    swapped = words.copy()
    swapped[8:16], swapped[16:24] = words[16:24], words[8:16]
    with pytest.raises(IsaError) as ei:
        decode_stream(swapped)
    assert (ei.value.word_index, ei.value.field, ei.value.code) == (
        5,
        "body_crc32",
        ErrorCode.BODY_CRC,
    )
    with pytest.raises(IsaError) as ei:
        decode_stream(words[:-8])
    assert (ei.value.word_index, ei.value.field) == (2, "n_instr")
    # END in the middle, consistent CRCs: only the placement rule catches it.
    body = np.concatenate([encode(i) for i in (a, End(), b)])
    crafted = np.array(_header_words(3, body) + [int(x) for x in body], dtype=np.uint32)
    with pytest.raises(IsaError, match="END before the last") as ei:
        decode_stream(crafted)
    assert (ei.value.instruction_index, ei.value.word_index) == (1, 16)
    body = np.concatenate([encode(i) for i in (a, b)])
    crafted = np.array(_header_words(2, body) + [int(x) for x in body], dtype=np.uint32)
    with pytest.raises(IsaError, match="last instruction is not END"):
        decode_stream(crafted)
    with pytest.raises(IsaError, match="whole 32-bit words") as ei:
        decode_stream(words.astype("<u4").tobytes()[:-1])
    with pytest.raises(IsaError, match="8-word header"):
        decode_stream(words[:5])
    with pytest.raises(IsaError, match="not a 32-bit word") as ei:
        decode_stream([*map(int, words[:9]), 1 << 32])
    assert ei.value.word_index == 9
    with pytest.raises(IsaError, match="instruction is 8 words"):
        decode(words[8:15])


# ---------------------------------------------------------------------------- C header, docs
def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_isa_header", REPO / "tools" / "gen_isa_header.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_header_generation_deterministic_and_committed() -> None:
    text = generate_isa_header()
    assert text == generate_isa_header()
    assert "GENERATED FILE" in text and str(REPO) not in text
    assert check_isa_header() == isa_header_path()
    assert isa_header_path().read_text() == text
    assert check_isa_doc() == isa_doc_path()
    assert generate_field_tables_md() in isa_doc_path().read_text()


def test_header_defines_match_tables() -> None:
    text = generate_isa_header()
    f = OPCODES[Opcode.COMPUTE_TILE].field("in_cb")
    assert "#define EDNN_COMPUTE_TILE_IN_CB_WORD" in text
    for line, want in (
        ("EDNN_COMPUTE_TILE_IN_CB_SHIFT", f"{f.lsb}U"),
        ("EDNN_COMPUTE_TILE_IN_CB_MASK", f"0x{f.mask:08X}U"),
        ("EDNN_CONFIG_ELTWISE_M_A_MIN", "(-65535)"),
        ("EDNN_OP_STORE_TILE", "0x40U"),
        ("EDNN_ERR_INSTR_CRC", f"{int(ErrorCode.INSTR_CRC)}U"),
        ("EDNN_ISA_STREAM_MAGIC", f"0x{STREAM_MAGIC:08X}U"),
    ):
        assert any(
            ln.split()[1:3] == [line, want] for ln in text.splitlines() if ln.startswith("#define")
        ), line


def test_check_detects_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = _tool()
    assert tool.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out
    header = tmp_path / "edge_dnn_isa.h"
    doc = tmp_path / "isa.md"
    header.write_text(generate_isa_header().replace("0x30U", "0x31U", 1))
    doc.write_text(isa_doc_path().read_text().replace("| `in_cb` |", "| `in_cbx` |"))
    with pytest.raises(StaleIsaHeaderError) as ei:
        check_isa_header(header)
    assert ei.value.generated == str(header) and "stale" in str(ei.value)
    with pytest.raises(StaleIsaHeaderError, match="stale"):
        check_isa_doc(doc)
    assert tool.main(["--check", "--header", str(header), "--doc", str(doc)]) == 1
    err = capsys.readouterr().err
    assert str(header) in err and str(doc) in err
    with pytest.raises(StaleIsaHeaderError, match="missing"):
        check_isa_header(tmp_path / "nope.h")
    doc.write_text("# no markers\n")
    with pytest.raises(StaleIsaHeaderError, match="no '"):
        check_isa_doc(doc)
    # Regeneration repairs both.
    doc.write_text(f"intro\n{DOC_BEGIN}\nold\n{DOC_END}\noutro\n")
    assert tool.main(["--header", str(header), "--doc", str(doc)]) == 0
    assert tool.main(["--check", "--header", str(header), "--doc", str(doc)]) == 0
    assert doc.read_text().startswith("intro\n") and doc.read_text().endswith("outro\n")


def _c_program() -> str:
    """Prints every field of every instruction of a stream read as hex words from stdin."""
    lines = [
        "#include <stdio.h>",
        '#include "edge_dnn_isa.h"',
        "int main(void) {",
        "  uint32_t s[4096]; unsigned n = 0, x;",
        '  while (n < 4096 && scanf("%x", &x) == 1) s[n++] = x;',
        "  { uint8_t b[28];",
        "    for (unsigned i = 0; i < 28; ++i) b[i] = (uint8_t)(s[i/4] >> (8*(i%4)));",
        '    printf("hdr %u %u %u\\n",',
        "      (unsigned)(ednn_crc32(b, 28) == s[EDNN_HDR_HEADER_CRC32_WORD]),",
        "      (unsigned)EDNN_GET_U(s, EDNN_HDR_N_INSTR),",
        "      (unsigned)EDNN_GET_U(s, EDNN_HDR_MAGIC)); }",
        "  for (unsigned i = EDNN_ISA_HEADER_WORDS; i + EDNN_ISA_INSTR_WORDS <= n;",
        "       i += EDNN_ISA_INSTR_WORDS) {",
        "    const uint32_t *w = s + i;",
        '    printf("%u crc=%u", (unsigned)EDNN_GET_U(w, EDNN_INSTR_OPCODE),',
        "      (unsigned)(ednn_instr_crc16(w) == EDNN_GET_U(w, EDNN_INSTR_CRC16)));",
    ]
    for f in COMMON_FIELDS:
        if f.name not in ("opcode", "crc16"):
            lines.append(
                f'    printf(" {f.name}=%ld", (long)EDNN_GET_U(w, EDNN_INSTR_{f.name.upper()}));'
            )
    lines.append("    switch (EDNN_GET_U(w, EDNN_INSTR_OPCODE)) {")
    for spec in OPCODES.values():
        lines.append(f"    case EDNN_OP_{spec.name}:")
        for f in spec.fields:
            get = "EDNN_GET_S" if f.signed else "EDNN_GET_U"
            lines.append(
                f'      printf(" {f.name}=%ld", (long){get}(w, EDNN_{spec.name}_{f.name.upper()}));'
            )
        lines.append("      break;")
    lines += ["    default: break;", "    }", '    printf("\\n");', "  }", "  return 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a C compiler")
def test_c_header_parses_python_encoded_stream(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    instrs = [i for i in EXAMPLES.values() if not isinstance(i, End)]
    instrs.append(dataclasses.replace(_ex(Opcode.CONFIG_ELTWISE), m_a=-65535, m_b=65535))
    instrs.append(
        dataclasses.replace(
            _ex(Opcode.CONFIG_CONV),
            qmin=-128,
            qmax=127,
            in_signed=True,
            tag=int(rng.integers(0, 65536)),
        )
    )
    words = _stream(instrs)
    (tmp_path / "edge_dnn_isa.h").write_text(generate_isa_header())
    (tmp_path / "t.c").write_text(_c_program())
    for compiler, std, src in (("gcc", "-std=c99", "t.c"), ("g++", "-std=c++11", "t.cpp")):
        if shutil.which(compiler) is None:
            continue
        if src == "t.cpp":
            (tmp_path / "t.cpp").write_text(_c_program())
        exe = tmp_path / f"t_{compiler.replace('+', 'p')}"
        r = subprocess.run(
            [compiler, std, "-Wall", "-Wextra", "-Werror", "-o", str(exe), src],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        run = subprocess.run(
            [str(exe)],
            input=" ".join(f"{int(x):x}" for x in words),
            capture_output=True,
            text=True,
            timeout=30,
        )
        out = run.stdout.splitlines()
        assert out[0] == f"hdr 1 {len(instrs) + 1} {STREAM_MAGIC}"
        for line, ins in zip(out[1:], [*instrs, End()], strict=True):
            spec = OPCODES[ins.OPCODE]
            want = [f"{int(spec.opcode)}", "crc=1"] + [
                f"{f.name}={int(getattr(ins, f.name))}"
                for f in (
                    *[c for c in COMMON_FIELDS if c.name in ("wait", "signal", "tag")],
                    *spec.fields,
                )
            ]
            assert line.split() == want, (line, want)


# ---------------------------------------------------------------------------- layout
@pytest.mark.parametrize("name", list_overlays())
def test_shipped_overlays_fit_isa(name: str) -> None:
    check_overlay(load_overlay(name))


def test_layout_quantities_zcu104() -> None:
    cfg = load_overlay("zcu104")
    i8, i16 = Precision.INT8, Precision.INT16
    assert block_bytes(cfg) == 8 and block_channels(cfg, i8) == 8 and block_channels(cfg, i16) == 4
    assert group_channels(cfg, i8) == 64 and group_channels(cfg, i16) == 32
    assert sub_steps(cfg, i8) == 2 and sub_steps(cfg, i16) == 1
    assert conv_weight_words(cfg, i8, in_cb=8, kernel_h=3, kernel_w=3) == 8 * 9 * 2
    assert conv_weight_words(cfg, i8, in_cb=8, kernel_h=3, kernel_w=3, depthwise=True) == 3
    assert conv_groups(cfg, i8, out_cb=24) == 3 and conv_groups(cfg, i16, out_cb=24) == 3
    assert conv_groups(cfg, i8, out_cb=2) == 1


def test_check_overlay_rejects_incompatible(tmp_path: Path) -> None:
    cfg = load_overlay("zcu104")
    edits: list[tuple[Callable[[Any], Any], str]] = [
        (
            lambda b: dataclasses.replace(b, width_bits=128) if b.name == "output" else b,
            "buffers.output.width_bits",
        ),
        (
            lambda b: dataclasses.replace(b, width_bits=4096) if b.name == "weight" else b,
            "buffers.weight.width_bits",
        ),
        (
            lambda b: dataclasses.replace(b, depth=1 << 20) if b.name == "input" else b,
            "buffers.input.depth",
        ),
    ]
    for edit, key in edits:
        bad = dataclasses.replace(cfg, buffers=tuple(edit(b) for b in cfg.buffers))
        with pytest.raises(OverlayConfigError) as ei:
            check_overlay(bad)
        assert ei.value.key == key, str(ei.value)
