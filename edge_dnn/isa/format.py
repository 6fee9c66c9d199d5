"""The engine's binary command format (ISA v2.0): field tables, encoder and decoder side by side.

A command stream is a sequence of little-endian 32-bit *command words*: an 8-word header, then
instructions of exactly 8 words (256 bits) each, the last one ``END``. Every field of every
instruction is described once, as data, in :data:`OPCODES` (and :data:`COMMON_FIELDS`,
:data:`HEADER_FIELDS`); :func:`encode`, :func:`decode`, the C header
(:mod:`edge_dnn.isa.cheader`) and the field tables of ``docs/isa.md`` are all driven by these
tables. No field crosses a 32-bit word boundary, so the HLS parser reads a field as
``(w[WORD] & MASK) >> SHIFT``. ``docs/isa.md`` gives the semantics of every instruction and
``docs/engine.md`` the architecture that executes them.

Integrity: the header carries a CRC-32 of itself and of the instruction body; every instruction
carries a CRC-16 of its other 30 bytes. The decoder reports any single flipped bit with the exact
word and field it hit, and any invalid opcode, set reserved bit, out-of-range field or broken
cross-field rule with the word and field, as an :class:`~edge_dnn.isa.errors.IsaError`.
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import functools
import operator
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from edge_dnn.isa.errors import ErrorCode, IsaError

# ---------------------------------------------------------------------------- constants
ISA_MAJOR = 2
"""Incompatible changes bump the major version; an engine runs only streams of its own major.
2.0 added the window unit VEC (pooling and LRN run concurrently with the PE array) and its six
token queues; the token masks grew to 12 bits and the opcode mode bits moved to word 6."""
ISA_MINOR = 0
"""Compatible additions (new opcodes, fields in formerly reserved bits) bump the minor version;
an engine runs streams whose minor is <= its own."""
STREAM_MAGIC = 0x434E4445
"""First word of every command stream: the bytes ``E D N C`` in memory order."""
WORD_BITS = 32
HEADER_WORDS = 8
INSTR_WORDS = 8
INSTR_BYTES = INSTR_WORDS * 4
CRC16_POLY = 0x1021
"""CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR."""
CRC16_INIT = 0xFFFF
CRC32_POLY_REFLECTED = 0xEDB88320
"""CRC-32 (IEEE 802.3, zlib): reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF."""
CRC16_COVERED_BYTES = INSTR_BYTES - 2
"""The instruction CRC covers bytes 0..29 (everything but itself, which is bytes 30..31)."""
TOKEN_CAPACITY = 8
"""Depth of each dependency-token queue: at most this many signalled, unconsumed tokens."""

ACT_ADDR_BITS = 20
"""Word addresses and word counts in the input and output buffers."""
WEIGHT_ADDR_BITS = 16
"""Word addresses and word counts in the weight buffer."""
PARAMS_ADDR_BITS = 12
"""Word addresses and word counts in the params buffer."""
BLOCK_COUNT_BITS = 12
"""Counts of channel blocks."""
DIM_BITS = 16
"""Feature-map heights, widths and row indices."""
KERNEL_BITS = 8
"""Kernel sizes, strides, pads and dilations."""
STREAM_MASK_BITS = 4
"""Stream-selection masks: up to 4 streams of one role."""
MAX_AREA_CLASSES = 16
"""Entries of an average-pooling divisor table."""
NORM_LUT_ENTRIES = 256
"""Entries (uint16) of an LRN factor table in the params buffer (``docs/arithmetic.md`` 5.1)."""
NORM_LUT_MANT_BITS = 4
"""Mantissa bits of the LRN table index: ``t = max(bitlen(v) - 5, 0)``,
``index = min((t << 4) + (v >> t), 255)``."""


class Unit(enum.IntEnum):
    """Execution unit an instruction is dispatched to (each executes its queue in order)."""

    DEC = 0
    """The command decoder itself (NOP, SYNC, END)."""
    LDW = 1
    """Weight loader: weights and params streams into the weight and params buffers."""
    LDA = 2
    """Activation loader: act_in streams into the input buffer."""
    CMP = 3
    """Compute: the PE array with its requantizer and eltwise stage (convolution, inner
    product, eltwise)."""
    ST = 4
    """Store: output buffer to the act_out streams, or back into the input buffer."""
    VEC = 5
    """Window unit (ISA 2.0): max / average pooling and LRN on the vector lanes, concurrently
    with the PE array."""


class Token(enum.IntFlag):
    """Dependency-token queues between units (bits of the ``wait`` and ``signal`` masks)."""

    LDW_CMP = 0x01
    """Weights/params loaded (RAW): LDW signals, CMP waits."""
    CMP_LDW = 0x02
    """Weight/params region free again (WAR): CMP signals, LDW waits."""
    LDA_CMP = 0x04
    """Activations loaded (RAW): LDA signals, CMP waits."""
    CMP_LDA = 0x08
    """Input-buffer region free again (WAR): CMP signals, LDA waits."""
    CMP_ST = 0x10
    """Output tile written (RAW): CMP signals, ST waits."""
    ST_CMP = 0x20
    """Output region drained / loop-back data written (WAR and RAW): ST signals, CMP waits."""
    LDW_VEC = 0x40
    """Params (divisor / LRN tables) loaded (RAW): LDW signals, VEC waits (ISA 2.0)."""
    VEC_LDW = 0x80
    """Params region free again (WAR): VEC signals, LDW waits."""
    LDA_VEC = 0x100
    """Activations loaded (RAW): LDA signals, VEC waits."""
    VEC_LDA = 0x200
    """Input-buffer region free again (WAR): VEC signals, LDA waits."""
    VEC_ST = 0x400
    """Output tile written (RAW): VEC signals, ST waits."""
    ST_VEC = 0x800
    """Output region drained / loop-back data written (WAR and RAW): ST signals, VEC waits."""


TOKEN_ENDPOINTS: Mapping[Token, tuple[Unit, Unit]] = MappingProxyType(
    {
        Token.LDW_CMP: (Unit.LDW, Unit.CMP),
        Token.CMP_LDW: (Unit.CMP, Unit.LDW),
        Token.LDA_CMP: (Unit.LDA, Unit.CMP),
        Token.CMP_LDA: (Unit.CMP, Unit.LDA),
        Token.CMP_ST: (Unit.CMP, Unit.ST),
        Token.ST_CMP: (Unit.ST, Unit.CMP),
        Token.LDW_VEC: (Unit.LDW, Unit.VEC),
        Token.VEC_LDW: (Unit.VEC, Unit.LDW),
        Token.LDA_VEC: (Unit.LDA, Unit.VEC),
        Token.VEC_LDA: (Unit.VEC, Unit.LDA),
        Token.VEC_ST: (Unit.VEC, Unit.ST),
        Token.ST_VEC: (Unit.ST, Unit.VEC),
    }
)
"""(signalling unit, waiting unit) of every token queue."""


def unit_wait_mask(unit: Unit) -> int:
    """Token queues an instruction of ``unit`` may wait on (those whose consumer it is)."""
    return sum(int(t) for t, (_, dst) in TOKEN_ENDPOINTS.items() if dst == unit)


def unit_signal_mask(unit: Unit) -> int:
    """Token queues an instruction of ``unit`` may signal (those whose producer it is)."""
    return sum(int(t) for t, (src, _) in TOKEN_ENDPOINTS.items() if src == unit)


class Opcode(enum.IntEnum):
    """Instruction opcodes (bits 7:0 of word 0). 0x00 is never valid: all-zero memory is no
    instruction."""

    NOP = 0x01
    SYNC = 0x02
    END = 0x03
    CONFIG_CONV = 0x10
    CONFIG_POOL = 0x11
    CONFIG_ELTWISE = 0x12
    CONFIG_NORM = 0x13
    LOAD_INPUT = 0x20
    LOAD_WEIGHTS = 0x21
    LOAD_PARAMS = 0x22
    COMPUTE_TILE = 0x30
    POOL_TILE = 0x31
    ELTWISE_TILE = 0x32
    NORM_TILE = 0x33
    STORE_TILE = 0x40


class Precision(enum.IntEnum):
    """Arithmetic mode of a layer (``docs/arithmetic.md`` section 1)."""

    INT8 = 0
    """8-bit activations (int8 or uint8) and int8 weights, int32 bias; two MACs per DSP."""
    INT16 = 1
    """int16 activations and weights, int48 bias; one MAC per DSP, half the output channels."""


class PoolKind(enum.IntEnum):
    """Pooling method."""

    MAX = 0
    AVE = 1


class EltwiseOp(enum.IntEnum):
    """Element-wise operation of two operands."""

    SUM = 0
    MAX = 1


# ---------------------------------------------------------------------------- field tables
@dataclasses.dataclass(frozen=True)
class Field:
    """One bit field of an instruction or of the stream header.

    Attributes:
        name: Field name (a Python identifier; the instruction dataclass attribute).
        word: Index of the 32-bit word holding it (0..7).
        lsb: Position of its least significant bit in that word.
        width: Width in bits; ``lsb + width <= 32`` (fields never cross words).
        lo: Smallest legal value (inclusive).
        hi: Largest legal value (inclusive).
        signed: Two's complement (sign-extended on decode).
        kind: ``int``, ``bool``, ``mask`` (a bit set) or ``enum``.
        enum: The enum class of an ``enum`` field.
        unit: Unit of the value (``px``, ``words``, ``blocks``, ...), for documentation.
        doc: One-line meaning.
    """

    name: str
    word: int
    lsb: int
    width: int
    lo: int
    hi: int
    signed: bool = False
    kind: str = "int"
    enum: type[enum.IntEnum] | None = None
    unit: str = ""
    doc: str = ""

    @property
    def mask(self) -> int:
        """Mask of the field in its word (in place, not shifted down)."""
        return ((1 << self.width) - 1) << self.lsb

    @property
    def msb(self) -> int:
        """Position of the most significant bit in its word."""
        return self.lsb + self.width - 1

    def extract(self, word: int) -> int:
        """The field's integer value in ``word`` (sign-extended if signed)."""
        v = (word >> self.lsb) & ((1 << self.width) - 1)
        if self.signed and v >> (self.width - 1):
            v -= 1 << self.width
        return v

    def insert(self, value: int) -> int:
        """``value`` (already range-checked) placed at the field's position."""
        return (value & ((1 << self.width) - 1)) << self.lsb


def _u(
    name: str, word: int, lsb: int, width: int, lo: int = 0, hi: int | None = None, **kw: Any
) -> Field:
    return Field(name, word, lsb, width, lo, (1 << width) - 1 if hi is None else hi, **kw)


def _s(name: str, word: int, lsb: int, width: int, lo: int, hi: int, **kw: Any) -> Field:
    return Field(name, word, lsb, width, lo, hi, signed=True, **kw)


def _b(name: str, word: int, bit: int, doc: str) -> Field:
    return Field(name, word, bit, 1, 0, 1, kind="bool", doc=doc)


def _e(name: str, word: int, lsb: int, width: int, cls: type[enum.IntEnum], doc: str) -> Field:
    values = [int(m) for m in cls]
    return Field(name, word, lsb, width, min(values), max(values), kind="enum", enum=cls, doc=doc)


def _mask(name: str, word: int, lsb: int, width: int, lo: int, doc: str) -> Field:
    return Field(name, word, lsb, width, lo, (1 << width) - 1, kind="mask", unit="mask", doc=doc)


@dataclasses.dataclass(frozen=True)
class Rule:
    """A cross-field rule of one opcode.

    Attributes:
        field: The field an error names when the rule is broken.
        ok: Predicate over the field values (bools and enums as integers).
        message: The rule, stated for the error message.
    """

    field: str
    ok: Callable[[Mapping[str, int]], bool]
    message: str


@dataclasses.dataclass(frozen=True)
class OpcodeSpec:
    """Everything the format knows about one opcode.

    Attributes:
        opcode: The opcode.
        unit: The unit that executes it.
        fields: Its own fields (the :data:`COMMON_FIELDS` are shared by every opcode).
        rules: Cross-field rules checked on encode and decode.
        doc: One-line meaning.
    """

    opcode: Opcode
    unit: Unit
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...]
    doc: str

    @property
    def name(self) -> str:
        """Opcode name, e.g. ``COMPUTE_TILE``."""
        return self.opcode.name

    @functools.cached_property
    def all_fields(self) -> tuple[Field, ...]:
        """Common and own fields, ordered by word and bit."""
        return tuple(sorted(COMMON_FIELDS + self.fields, key=lambda f: (f.word, f.lsb)))

    @functools.cached_property
    def value_fields(self) -> tuple[Field, ...]:
        """Fields an instruction object carries: all but ``opcode`` and ``crc16``."""
        return tuple(f for f in self.all_fields if f.name not in ("opcode", "crc16"))

    @functools.cached_property
    def reserved_masks(self) -> tuple[int, ...]:
        """Per word, the bits no field uses (they must be zero)."""
        used = [0] * INSTR_WORDS
        for f in self.all_fields:
            used[f.word] |= f.mask
        return tuple(~u & 0xFFFFFFFF for u in used)

    def field(self, name: str) -> Field:
        """The field ``name`` (common or own)."""
        for f in self.all_fields:
            if f.name == name:
                return f
        raise KeyError(name)


COMMON_FIELDS: tuple[Field, ...] = (
    _u("opcode", 0, 0, 8, 1, 255, doc="operation (Opcode)"),
    _mask("wait", 0, 8, 12, 0, "token queues to take one token from before executing (Token)"),
    _mask("signal", 0, 20, 12, 0, "token queues to give one token to after completing (Token)"),
    _u("tag", 7, 0, 16, doc="diagnostic tag (the compiler writes the layer index); no effect"),
    _u("crc16", 7, 16, 16, doc="CRC-16/CCITT-FALSE of bytes 0..29 of the instruction"),
)
"""Fields shared by every opcode (word 0, word 7). Opcode-specific mode bits live in word 6
(bits 20..24) since ISA 2.0, which gave word 0 to the twelve token queues."""

_PX = "px"


def _q_fields(word: int) -> tuple[Field, ...]:
    return (
        _s("qmin", word, 0, 16, -32768, 0, unit="int", doc="lower saturation bound of the output"),
        _s("qmax", word, 16, 16, 0, 32767, unit="int", doc="upper saturation bound of the output"),
    )


def _geometry(kernel: bool = True) -> tuple[Field, ...]:
    out = [
        _u("in_h", 1, 0, 16, 1, unit=_PX, doc="input map height"),
        _u("in_w", 1, 16, 16, 1, unit=_PX, doc="input map width"),
        _u("out_h", 2, 0, 16, 1, unit=_PX, doc="output map height"),
        _u("out_w", 2, 16, 16, 1, unit=_PX, doc="output map width"),
    ]
    if kernel:
        out += [
            _u("kernel_h", 3, 0, 8, 1, unit=_PX, doc="kernel height"),
            _u("kernel_w", 3, 8, 8, 1, unit=_PX, doc="kernel width"),
            _u("stride_h", 3, 16, 8, 1, unit=_PX, doc="vertical stride"),
            _u("stride_w", 3, 24, 8, 1, unit=_PX, doc="horizontal stride"),
            _u("pad_h", 4, 0, 8, unit=_PX, doc="zero rows above (and, implicitly, below)"),
            _u("pad_w", 4, 8, 8, unit=_PX, doc="zero columns left (and, implicitly, right)"),
        ]
    return tuple(out)


def _int8_q_rules() -> tuple[Rule, ...]:
    i8 = int(Precision.INT8)
    return (
        Rule(
            "qmin",
            lambda v: v["precision"] != i8 or v["qmin"] >= -128,
            "int8 output needs qmin >= -128",
        ),
        Rule(
            "qmax",
            lambda v: v["precision"] != i8 or v["qmax"] <= 255,
            "int8 output needs qmax <= 255",
        ),
        Rule(
            "qmax",
            lambda v: v["precision"] != i8 or v["qmin"] >= 0 or v["qmax"] <= 127,
            "a signed int8 output (qmin < 0) needs qmax <= 127",
        ),
    )


def _signed_in_int16(name: str) -> Rule:
    return Rule(
        name,
        lambda v: v["precision"] != int(Precision.INT16) or v[name] == 1,
        f"int16 activations are signed: {name} must be 1",
    )


def _popcount(x: int) -> int:
    return bin(x).count("1")


def _divisible(count: str) -> Rule:
    return Rule(
        count,
        lambda v: v["streams"] == 0 or v[count] % _popcount(v["streams"]) == 0,
        f"{count} must be a multiple of the number of selected streams (each carries an equal "
        "contiguous part)",
    )


_PREC_DOC = "arithmetic mode (Precision: 0 int8, 1 int16)"
_STREAMS_DOC = (
    "streams of the role carrying the data (bit k = k-th stream of the role in overlay.toml "
    "order); the data is split into equal contiguous parts, one per selected stream"
)
_A = ACT_ADDR_BITS


def _window_tile_fields(n_cb_doc: str, rows_doc: tuple[str, str], p_doc: str) -> tuple[Field, ...]:
    """Fields of the window unit's tiles (POOL_TILE, NORM_TILE): one layout, own docs."""
    return (
        _b("out_map", 6, 23, "output region holds the whole map (else just this tile)"),
        _u(
            "in_base",
            1,
            0,
            _A,
            unit="words",
            doc="input-buffer word of (first channel block, row ih0, column 0)",
        ),
        _u("n_cb", 1, 20, BLOCK_COUNT_BITS, 1, unit="blocks", doc=n_cb_doc),
        _u("ih0", 2, 0, 16, unit=_PX, doc="input row held at in_base"),
        _u("in_rows", 2, 16, 16, 1, unit=_PX, doc="input rows resident from ih0"),
        _u("oh0", 3, 0, 16, unit=_PX, doc=rows_doc[0]),
        _u("n_oh", 3, 16, 16, 1, unit=_PX, doc=rows_doc[1]),
        _u("out_base", 4, 0, _A, unit="words", doc="output-buffer word of the region"),
        _u("p_base", 5, 0, PARAMS_ADDR_BITS, unit="words", doc=p_doc),
    )


_SPECS: tuple[OpcodeSpec, ...] = (
    OpcodeSpec(Opcode.NOP, Unit.DEC, (), (), "no operation"),
    OpcodeSpec(
        Opcode.SYNC, Unit.DEC, (), (), "barrier: wait until every unit has finished its queue"
    ),
    OpcodeSpec(
        Opcode.END,
        Unit.DEC,
        (),
        (),
        "last instruction: barrier, check the body CRC and that no token is left, set DONE",
    ),
    OpcodeSpec(
        Opcode.CONFIG_CONV,
        Unit.CMP,
        (
            _e("precision", 6, 20, 1, Precision, _PREC_DOC),
            _b("in_signed", 6, 21, "input bytes are int8 (1) or uint8 (0); 1 for int16"),
            _b("depthwise", 6, 22, "output channel c reads input channel c only"),
            *_geometry(),
            _u("dilation_h", 4, 16, 8, 1, unit=_PX, doc="vertical dilation"),
            _u("dilation_w", 4, 24, 8, 1, unit=_PX, doc="horizontal dilation"),
            *_q_fields(5),
        ),
        (*_int8_q_rules(), _signed_in_int16("in_signed")),
        "set the convolution registers used by COMPUTE_TILE",
    ),
    OpcodeSpec(
        Opcode.CONFIG_POOL,
        Unit.VEC,
        (
            _e("precision", 6, 20, 1, Precision, _PREC_DOC),
            _b("in_signed", 6, 21, "input bytes are int8 (1) or uint8 (0); 1 for int16"),
            _e("kind", 6, 22, 1, PoolKind, "pooling method (PoolKind: 0 max, 1 average)"),
            *_geometry(),
            _u(
                "n_area",
                4,
                16,
                5,
                0,
                MAX_AREA_CLASSES,
                unit="entries",
                doc="average pooling: entries of the divisor table (0 for max pooling)",
            ),
            *_q_fields(5),
        ),
        (
            *_int8_q_rules(),
            _signed_in_int16("in_signed"),
            Rule(
                "n_area",
                lambda v: (v["n_area"] == 0) == (v["kind"] == int(PoolKind.MAX)),
                "n_area must be 0 for max pooling (kind 0) and 1..16 for average pooling (kind 1)",
            ),
            Rule("pad_h", lambda v: v["pad_h"] < v["kernel_h"], "pad_h must be < kernel_h"),
            Rule("pad_w", lambda v: v["pad_w"] < v["kernel_w"], "pad_w must be < kernel_w"),
        ),
        "set the pooling registers used by POOL_TILE",
    ),
    OpcodeSpec(
        Opcode.CONFIG_ELTWISE,
        Unit.CMP,
        (
            _e("precision", 6, 20, 1, Precision, _PREC_DOC),
            _b("a_signed", 6, 21, "operand a bytes are int8 (1) or uint8 (0); 1 for int16"),
            _b("b_signed", 6, 22, "operand b bytes are int8 (1) or uint8 (0); 1 for int16"),
            _e("op", 6, 23, 1, EltwiseOp, "operation (EltwiseOp: 0 sum, 1 max)"),
            _s("m_a", 1, 0, 17, -65535, 65535, unit="int", doc="sum: multiplier of operand a"),
            _s("m_b", 2, 0, 17, -65535, 65535, unit="int", doc="sum: multiplier of operand b"),
            _u("shift", 3, 0, 6, 1, 63, unit="bits", doc="sum: shared right shift S"),
            *_q_fields(4),
        ),
        (*_int8_q_rules(), _signed_in_int16("a_signed"), _signed_in_int16("b_signed")),
        "set the eltwise registers used by ELTWISE_TILE and by a fused COMPUTE_TILE",
    ),
    OpcodeSpec(
        Opcode.CONFIG_NORM,
        Unit.VEC,
        (
            _e("precision", 6, 20, 1, Precision, _PREC_DOC + "; int8 only"),
            _b("in_signed", 6, 21, "input bytes are int8 (1) or uint8 (0)"),
            _u("in_h", 1, 0, 16, 1, unit=_PX, doc="map height (the output has the same)"),
            _u("in_w", 1, 16, 16, 1, unit=_PX, doc="map width (the output has the same)"),
            _u(
                "local_size",
                2,
                0,
                8,
                1,
                unit="channels",
                doc="LRN window: local_size channels centred on the output channel",
            ),
            _u(
                "lut_shift",
                2,
                8,
                5,
                unit="bits",
                doc="right shift of the sum of squares before the table index",
            ),
            _u(
                "frac_bits",
                2,
                16,
                5,
                1,
                31,
                unit="bits",
                doc="F: fraction bits of the table factors (round-shift of x * factor)",
            ),
            *_q_fields(3),
        ),
        (
            *_int8_q_rules(),
            Rule(
                "precision",
                lambda v: v["precision"] == int(Precision.INT8),
                "precision must be INT8 (int16 LRN runs on the ARM)",
            ),
            Rule("local_size", lambda v: v["local_size"] % 2 == 1, "local_size must be odd"),
        ),
        "set the LRN (across channels) registers used by NORM_TILE",
    ),
    OpcodeSpec(
        Opcode.LOAD_INPUT,
        Unit.LDA,
        (
            _mask("streams", 6, 20, STREAM_MASK_BITS, 1, _STREAMS_DOC + " (act_in)"),
            _u("dst_base", 1, 0, _A, unit="words", doc="first input-buffer word written"),
            _u("n_words", 2, 0, _A, 1, unit="words", doc="input-buffer words written"),
        ),
        (_divisible("n_words"),),
        "copy n_words words from the act_in streams to consecutive input-buffer words",
    ),
    OpcodeSpec(
        Opcode.LOAD_WEIGHTS,
        Unit.LDW,
        (
            _mask("streams", 6, 20, STREAM_MASK_BITS, 1, _STREAMS_DOC + " (weights)"),
            _u(
                "dst_base",
                1,
                0,
                WEIGHT_ADDR_BITS,
                unit="words",
                doc="first weight-buffer word written",
            ),
            _u(
                "n_words",
                1,
                16,
                WEIGHT_ADDR_BITS,
                1,
                unit="words",
                doc="weight-buffer words written",
            ),
        ),
        (_divisible("n_words"),),
        "copy n_words words from the weights streams to consecutive weight-buffer words",
    ),
    OpcodeSpec(
        Opcode.LOAD_PARAMS,
        Unit.LDW,
        (
            _mask("streams", 6, 20, STREAM_MASK_BITS, 1, _STREAMS_DOC + " (weights)"),
            _u(
                "dst_base",
                1,
                0,
                PARAMS_ADDR_BITS,
                unit="words",
                doc="first params-buffer word written",
            ),
            _u(
                "n_words",
                1,
                16,
                PARAMS_ADDR_BITS,
                1,
                unit="words",
                doc="params-buffer words written",
            ),
        ),
        (_divisible("n_words"),),
        "copy n_words words from the weights streams to consecutive params-buffer words",
    ),
    OpcodeSpec(
        Opcode.COMPUTE_TILE,
        Unit.CMP,
        (
            _b("acc_first", 6, 20, "start the accumulators from the bias (else continue)"),
            _b("acc_last", 6, 21, "requantize and write the outputs (else keep accumulating)"),
            _b("fuse_eltwise", 6, 22, "apply the configured eltwise with operand b at res_base"),
            _b("out_map", 6, 23, "output region holds the whole map (else just this tile)"),
            _u(
                "in_base",
                1,
                0,
                _A,
                unit="words",
                doc="input-buffer word of (first channel block, row ih0, column 0)",
            ),
            _u(
                "in_cb",
                1,
                20,
                BLOCK_COUNT_BITS,
                1,
                unit="blocks",
                doc="input channel blocks reduced (depthwise: equal to out_cb)",
            ),
            _u("ih0", 2, 0, 16, unit=_PX, doc="input row held at in_base"),
            _u("in_rows", 2, 16, 16, 1, unit=_PX, doc="input rows resident from ih0"),
            _u("oh0", 3, 0, 16, unit=_PX, doc="first output row of the tile"),
            _u("n_oh", 3, 16, 16, 1, unit=_PX, doc="output rows in the tile"),
            _u("out_base", 4, 0, _A, unit="words", doc="output-buffer word of the region"),
            _u(
                "out_cb",
                4,
                20,
                BLOCK_COUNT_BITS,
                1,
                unit="blocks",
                doc="output channel blocks computed",
            ),
            _u(
                "w_base",
                5,
                0,
                WEIGHT_ADDR_BITS,
                unit="words",
                doc="weight-buffer word of the first group",
            ),
            _u(
                "p_base",
                5,
                16,
                PARAMS_ADDR_BITS,
                unit="words",
                doc="params-buffer word of the first group",
            ),
            _u(
                "res_base",
                6,
                0,
                _A,
                unit="words",
                doc="fused eltwise: input-buffer word of operand b's region (else 0)",
            ),
        ),
        (
            Rule(
                "fuse_eltwise",
                lambda v: bool(not v["fuse_eltwise"] or v["acc_last"]),
                "fuse_eltwise needs acc_last",
            ),
            Rule(
                "res_base",
                lambda v: bool(v["fuse_eltwise"] or v["res_base"] == 0),
                "res_base must be 0 without fuse_eltwise",
            ),
        ),
        "convolution / inner product of one output tile on the PE array",
    ),
    OpcodeSpec(
        Opcode.POOL_TILE,
        Unit.VEC,
        (
            *_window_tile_fields(
                n_cb_doc="channel blocks pooled",
                rows_doc=("first output row of the tile", "output rows in the tile"),
                p_doc="average pooling: params-buffer word of the divisor table",
            ),
        ),
        (),
        "max / average pooling of one output tile on the window unit (VEC)",
    ),
    OpcodeSpec(
        Opcode.ELTWISE_TILE,
        Unit.CMP,
        (
            _u("a_base", 1, 0, _A, unit="words", doc="input-buffer word of operand a"),
            _u("b_base", 2, 0, _A, unit="words", doc="input-buffer word of operand b"),
            _u("out_base", 3, 0, _A, unit="words", doc="output-buffer word of the result"),
            _u("n_words", 4, 0, _A, 1, unit="words", doc="words of each operand"),
        ),
        (),
        "element-wise sum / max of two word ranges on the eltwise stage of the requantizer",
    ),
    OpcodeSpec(
        Opcode.NORM_TILE,
        Unit.VEC,
        (
            *_window_tile_fields(
                n_cb_doc="channel blocks: all blocks of the map (the window spans blocks)",
                rows_doc=("first row of the tile", "rows in the tile"),
                p_doc="params-buffer word of the factor table (256 x uint16)",
            ),
        ),
        (),
        "LRN across channels of a band of rows x all channel blocks on the window unit (VEC)",
    ),
    OpcodeSpec(
        Opcode.STORE_TILE,
        Unit.ST,
        (
            _mask(
                "streams", 6, 20, STREAM_MASK_BITS, 0, _STREAMS_DOC + " (act_out); 0 with loopback"
            ),
            _b("loopback", 6, 24, "write into the input buffer instead of the act_out streams"),
            _u("src_base", 1, 0, _A, unit="words", doc="output-buffer word of the first block"),
            _u("n_blocks", 1, 20, BLOCK_COUNT_BITS, 1, unit="blocks", doc="blocks copied"),
            _u("block_words", 2, 0, _A, 1, unit="words", doc="words per block"),
            _u("src_pitch", 3, 0, _A, unit="words", doc="output-buffer distance of blocks"),
            _u("dst_base", 4, 0, _A, unit="words", doc="loopback: input-buffer word (else 0)"),
            _u(
                "dst_pitch",
                5,
                0,
                _A,
                unit="words",
                doc="loopback: input-buffer distance of blocks (else 0)",
            ),
        ),
        (
            Rule(
                "streams",
                lambda v: (v["streams"] == 0) == bool(v["loopback"]),
                "streams must be 0 with loopback and non-zero without",
            ),
            Rule(
                "dst_base",
                lambda v: bool(v["loopback"] or v["dst_base"] == 0),
                "dst_base must be 0 without loopback",
            ),
            Rule(
                "dst_pitch",
                lambda v: bool(v["loopback"] or v["dst_pitch"] == 0),
                "dst_pitch must be 0 without loopback",
            ),
            Rule(
                "dst_pitch",
                lambda v: (
                    not v["loopback"] or v["n_blocks"] == 1 or v["dst_pitch"] >= v["block_words"]
                ),
                "loop-back blocks must not overlap: dst_pitch >= block_words",
            ),
            Rule(
                "block_words",
                lambda v: (
                    v["streams"] == 0
                    or (v["n_blocks"] * v["block_words"]) % _popcount(v["streams"]) == 0
                ),
                "n_blocks * block_words must be a multiple of the number of selected streams",
            ),
        ),
        "copy blocks of output-buffer words to the act_out streams or into the input buffer",
    ),
)

OPCODES: Mapping[Opcode, OpcodeSpec] = MappingProxyType({s.opcode: s for s in _SPECS})
"""Every opcode's specification, in opcode order."""

HEADER_FIELDS: tuple[Field, ...] = (
    _u("magic", 0, 0, 32, STREAM_MAGIC, STREAM_MAGIC, doc="0x434E4445, bytes 'EDNC'"),
    _u("version_major", 1, 0, 8, doc="ISA major version"),
    _u("version_minor", 1, 8, 8, doc="ISA minor version"),
    _u(
        "n_instr",
        2,
        0,
        32,
        1,
        unit="instructions",
        doc="instructions after the header, END included",
    ),
    _u("config_hash0", 3, 0, 32, doc="overlay configuration hash bytes 0-3 (ID_CONFIG_HASH0)"),
    _u("config_hash1", 4, 0, 32, doc="overlay configuration hash bytes 4-7 (ID_CONFIG_HASH1)"),
    _u("body_crc32", 5, 0, 32, doc="CRC-32 of all instruction bytes"),
    _u("header_crc32", 7, 0, 32, doc="CRC-32 of header bytes 0..27"),
)
"""The stream header (8 words); word 6 and word 1 bits 31:16 are reserved (zero)."""
HEADER_RESERVED_MASKS: tuple[int, ...] = tuple(
    ~sum(f.mask for f in HEADER_FIELDS if f.word == w) & 0xFFFFFFFF for w in range(HEADER_WORDS)
)


# ---------------------------------------------------------------------------- instructions
@dataclasses.dataclass(frozen=True, kw_only=True)
class Instruction:
    """Base of the typed instructions. Field meanings, units and ranges: :data:`OPCODES`.

    Attributes:
        wait: Token queues (:class:`Token` bits) to take a token from before executing.
        signal: Token queues to give a token to after completing.
        tag: Diagnostic tag (the compiler writes the layer index); no effect on execution.
    """

    OPCODE: ClassVar[Opcode]
    wait: int = 0
    signal: int = 0
    tag: int = 0

    @property
    def spec(self) -> OpcodeSpec:
        """The opcode's specification."""
        return OPCODES[self.OPCODE]

    @property
    def unit(self) -> Unit:
        """The unit that executes the instruction."""
        return OPCODES[self.OPCODE].unit


@dataclasses.dataclass(frozen=True, kw_only=True)
class Nop(Instruction):
    """No operation."""

    OPCODE: ClassVar[Opcode] = Opcode.NOP


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sync(Instruction):
    """Barrier: the decoder waits until every unit has executed everything dispatched so far."""

    OPCODE: ClassVar[Opcode] = Opcode.SYNC


@dataclasses.dataclass(frozen=True, kw_only=True)
class End(Instruction):
    """The last instruction of a stream: barrier, body-CRC and token checks, then DONE."""

    OPCODE: ClassVar[Opcode] = Opcode.END


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfigConv(Instruction):
    """Convolution registers for the following COMPUTE_TILEs (geometry in pixels)."""

    OPCODE: ClassVar[Opcode] = Opcode.CONFIG_CONV
    precision: Precision = Precision.INT8
    in_signed: bool = True
    depthwise: bool = False
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    dilation_h: int = 1
    dilation_w: int = 1
    qmin: int
    qmax: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfigPool(Instruction):
    """Pooling registers for the following POOL_TILEs (geometry in pixels)."""

    OPCODE: ClassVar[Opcode] = Opcode.CONFIG_POOL
    precision: Precision = Precision.INT8
    in_signed: bool = True
    kind: PoolKind
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    n_area: int = 0
    qmin: int
    qmax: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfigEltwise(Instruction):
    """Eltwise registers for the following ELTWISE_TILEs and fused COMPUTE_TILEs."""

    OPCODE: ClassVar[Opcode] = Opcode.CONFIG_ELTWISE
    precision: Precision = Precision.INT8
    a_signed: bool = True
    b_signed: bool = True
    op: EltwiseOp = EltwiseOp.SUM
    m_a: int = 0
    m_b: int = 0
    shift: int = 1
    qmin: int
    qmax: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConfigNorm(Instruction):
    """LRN (across channels) registers for the following NORM_TILEs (geometry in pixels)."""

    OPCODE: ClassVar[Opcode] = Opcode.CONFIG_NORM
    precision: Precision = Precision.INT8
    in_signed: bool = False
    in_h: int
    in_w: int
    local_size: int
    lut_shift: int = 0
    frac_bits: int
    qmin: int
    qmax: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadInput(Instruction):
    """Stream ``n_words`` input-buffer words in from the act_in streams."""

    OPCODE: ClassVar[Opcode] = Opcode.LOAD_INPUT
    streams: int = 1
    dst_base: int
    n_words: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadWeights(Instruction):
    """Stream ``n_words`` weight-buffer words in from the weights streams."""

    OPCODE: ClassVar[Opcode] = Opcode.LOAD_WEIGHTS
    streams: int = 1
    dst_base: int
    n_words: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadParams(Instruction):
    """Stream ``n_words`` params-buffer words in from the weights streams."""

    OPCODE: ClassVar[Opcode] = Opcode.LOAD_PARAMS
    streams: int = 1
    dst_base: int
    n_words: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComputeTile(Instruction):
    """Convolution (or inner product) of output rows ``[oh0, oh0 + n_oh)`` x ``out_cb`` blocks."""

    OPCODE: ClassVar[Opcode] = Opcode.COMPUTE_TILE
    acc_first: bool = True
    acc_last: bool = True
    fuse_eltwise: bool = False
    out_map: bool = False
    in_base: int
    in_cb: int
    ih0: int
    in_rows: int
    oh0: int
    n_oh: int
    out_base: int
    out_cb: int
    w_base: int
    p_base: int
    res_base: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolTile(Instruction):
    """Pooling of output rows ``[oh0, oh0 + n_oh)`` x ``n_cb`` channel blocks."""

    OPCODE: ClassVar[Opcode] = Opcode.POOL_TILE
    out_map: bool = False
    in_base: int
    n_cb: int
    ih0: int
    in_rows: int
    oh0: int
    n_oh: int
    out_base: int
    p_base: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class EltwiseTile(Instruction):
    """Element-wise operation over ``n_words`` words of two input-buffer ranges."""

    OPCODE: ClassVar[Opcode] = Opcode.ELTWISE_TILE
    a_base: int
    b_base: int
    out_base: int
    n_words: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class NormTile(Instruction):
    """LRN of rows ``[oh0, oh0 + n_oh)`` x all ``n_cb`` channel blocks of the map."""

    OPCODE: ClassVar[Opcode] = Opcode.NORM_TILE
    out_map: bool = False
    in_base: int
    n_cb: int
    ih0: int
    in_rows: int
    oh0: int
    n_oh: int
    out_base: int
    p_base: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class StoreTile(Instruction):
    """Copy ``n_blocks`` x ``block_words`` output-buffer words out (or back to the input buffer)."""

    OPCODE: ClassVar[Opcode] = Opcode.STORE_TILE
    streams: int = 1
    loopback: bool = False
    src_base: int
    n_blocks: int = 1
    block_words: int
    src_pitch: int = 0
    dst_base: int = 0
    dst_pitch: int = 0


INSTRUCTION_CLASSES: Mapping[Opcode, type[Instruction]] = MappingProxyType(
    {
        c.OPCODE: c
        for c in (
            Nop,
            Sync,
            End,
            ConfigConv,
            ConfigPool,
            ConfigEltwise,
            ConfigNorm,
            LoadInput,
            LoadWeights,
            LoadParams,
            ComputeTile,
            PoolTile,
            EltwiseTile,
            NormTile,
            StoreTile,
        )
    }
)
"""The typed instruction class of every opcode."""


def _check_tables() -> None:
    """Self-consistency of the tables (a programming error if violated, so checked at import)."""
    if set(OPCODES) != set(Opcode) or set(INSTRUCTION_CLASSES) != set(Opcode):
        raise RuntimeError("every Opcode needs an OpcodeSpec and an instruction class")
    for spec in OPCODES.values():
        seen: dict[str, Field] = {}
        used = [0] * INSTR_WORDS
        for f in spec.all_fields:
            if f.name in seen:
                raise RuntimeError(f"{spec.name}: field {f.name} defined twice")
            seen[f.name] = f
            if not (0 <= f.word < INSTR_WORDS and f.lsb >= 0 and f.msb < WORD_BITS):
                raise RuntimeError(f"{spec.name}.{f.name}: outside its 32-bit word")
            if used[f.word] & f.mask:
                raise RuntimeError(f"{spec.name}.{f.name}: overlaps another field")
            used[f.word] |= f.mask
            lo_rep = -(1 << (f.width - 1)) if f.signed else 0
            hi_rep = (1 << (f.width - 1)) - 1 if f.signed else (1 << f.width) - 1
            if not lo_rep <= f.lo <= f.hi <= hi_rep:
                raise RuntimeError(f"{spec.name}.{f.name}: range does not fit its width")
        cls_fields = {f.name for f in dataclasses.fields(INSTRUCTION_CLASSES[spec.opcode])}
        if cls_fields != {f.name for f in spec.value_fields}:
            raise RuntimeError(f"{spec.name}: instruction class fields differ from the table")


_check_tables()


# ---------------------------------------------------------------------------- checksums
def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection); ``b"123456789"`` -> 0x29B1."""
    return binascii.crc_hqx(data, CRC16_INIT)


def crc32(data: bytes) -> int:
    """CRC-32 as in zlib / IEEE 802.3; ``b"123456789"`` -> 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


def _words_to_bytes(words: Sequence[int]) -> bytes:
    return b"".join(int(w).to_bytes(4, "little") for w in words)


def _single_bit_syndromes(
    nbytes: int, check_bits: int, crc: Callable[[bytes], int], check_word_lsb: int
) -> dict[int, tuple[int, int]]:
    """Syndrome (computed ^ stored check) of every single-bit error -> (word, bit).

    Both CRCs are affine in the data, so flipping data bit k changes the computed CRC by
    ``crc(e_k) ^ crc(0)`` whatever the data; flipping bit j of the stored check changes the
    syndrome by ``1 << j``. All these syndromes are distinct for the lengths used here (verified
    below and by the tests), so a single flipped bit is located exactly.
    """
    zero = crc(bytes(nbytes))
    out: dict[int, tuple[int, int]] = {}
    for k in range(nbytes * 8):
        e = bytearray(nbytes)
        e[k // 8] = 1 << (k % 8)
        out[crc(bytes(e)) ^ zero] = (k // 32, k % 32)
    check_word = nbytes // 4
    for j in range(check_bits):
        out[1 << j] = (check_word, check_word_lsb + j)
    if len(out) != nbytes * 8 + check_bits:
        raise RuntimeError("CRC syndromes of single-bit errors are not distinct")
    return out


_INSTR_SYNDROMES = _single_bit_syndromes(CRC16_COVERED_BYTES, 16, crc16, 16)
_HEADER_SYNDROMES = _single_bit_syndromes((HEADER_WORDS - 1) * 4, 32, crc32, 0)


# ---------------------------------------------------------------------------- encoding
WordArray = npt.NDArray[np.uint32]


def _int_value(v: object, f: Field, where: dict[str, Any]) -> int:
    if f.kind == "bool" and not isinstance(v, bool | int | np.integer):
        raise IsaError(f"must be a bool, got {type(v).__name__} {v!r}", field=f.name, **where)
    try:
        iv = operator.index(v)  # type: ignore[arg-type]
    except TypeError:
        raise IsaError(
            f"must be an integer, got {type(v).__name__} {v!r}", field=f.name, **where
        ) from None
    return int(iv)


def _range_error(f: Field, v: int) -> str:
    what = f"{f.enum.__name__} " if f.enum is not None else ""
    return f"{what}value {v} out of range [{f.lo}, {f.hi}]"


def _check_values(
    spec: OpcodeSpec, values: Mapping[str, int], loc: Callable[[Field], dict[str, Any]]
) -> None:
    """Ranges, unit token rules and cross-field rules; raises IsaError naming the field."""
    for f in spec.value_fields:
        v = values[f.name]
        if not f.lo <= v <= f.hi:
            raise IsaError(_range_error(f, v), field=f.name, code=ErrorCode.FIELD_RANGE, **loc(f))
    allowed = {"wait": unit_wait_mask(spec.unit), "signal": unit_signal_mask(spec.unit)}
    for name, ok in allowed.items():
        bad = values[name] & ~ok
        if bad:
            f = spec.field(name)
            names = ", ".join(t.name or "?" for t in Token if t & bad)
            raise IsaError(
                f"{spec.unit.name} instructions cannot {name} on token queue(s) {names} "
                f"(allowed mask 0x{ok:02X})",
                field=name,
                code=ErrorCode.TOKEN_MISUSE,
                **loc(f),
            )
    for r in spec.rules:
        if not r.ok(values):
            f = spec.field(r.field)
            shown = ", ".join(f"{n}={values[n]}" for n in values if n in r.message or n == r.field)
            raise IsaError(
                f"{r.message} (got {shown})", field=r.field, code=ErrorCode.FIELD_RANGE, **loc(f)
            )


def instruction_values(instr: Instruction) -> dict[str, int]:
    """The instruction's field values as integers (bools 0/1, enums by value), by field name.

    Raises:
        IsaError: a field holds something that is not an integer.
    """
    spec = OPCODES[instr.OPCODE]
    where: dict[str, Any] = {"opcode": spec.name}
    return {f.name: _int_value(getattr(instr, f.name), f, where) for f in spec.value_fields}


def encode(instr: Instruction, word_offset: int = 0, index: int | None = None) -> WordArray:
    """Encode one instruction into its 8 command words (CRC-16 included).

    Args:
        instr: The instruction.
        word_offset: Stream index of its first word, used in error messages.
        index: Its instruction index in the stream, used in error messages.

    Returns:
        ``uint32[8]``, little-endian word order (word 0 first).

    Raises:
        IsaError: a field is out of its legal range, not an integer, or breaks a cross-field
            rule (``field``, ``opcode`` and ``word_index`` name it).
    """
    if not isinstance(instr, Instruction) or type(instr) is Instruction:
        raise IsaError(f"not an instruction: {type(instr).__name__}", instruction_index=index)
    spec = OPCODES[instr.OPCODE]

    def loc(f: Field) -> dict[str, Any]:
        return {"word_index": word_offset + f.word, "opcode": spec.name, "instruction_index": index}

    where = {"opcode": spec.name, "instruction_index": index}
    values = {
        f.name: _int_value(getattr(instr, f.name), f, {**where, "word_index": word_offset + f.word})
        for f in spec.value_fields
    }
    _check_values(spec, values, loc)
    words = [0] * INSTR_WORDS
    words[0] = int(spec.opcode)
    for f in spec.value_fields:
        words[f.word] |= f.insert(values[f.name])
    words[7] |= crc16(_words_to_bytes(words)[:CRC16_COVERED_BYTES]) << 16
    return np.array(words, dtype=np.uint32)


# ---------------------------------------------------------------------------- decoding
def as_words(data: bytes | bytearray | memoryview | npt.ArrayLike) -> WordArray:
    """Command words from bytes (little-endian) or from an integer array / sequence.

    Raises:
        IsaError: a byte string whose length is not a multiple of 4, or values that are not
            32-bit unsigned integers.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        b = bytes(data)
        if len(b) % 4:
            raise IsaError(
                f"a command stream is whole 32-bit words; got {len(b)} bytes",
                word_index=len(b) // 4,
                code=ErrorCode.STREAM_STRUCTURE,
            )
        return np.frombuffer(b, dtype="<u4").astype(np.uint32)
    arr = np.asarray(data)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise IsaError(
            f"command words must be a 1-D integer array, got {arr.dtype} shape {arr.shape}",
            code=ErrorCode.STREAM_STRUCTURE,
        )
    a64 = arr.astype(np.int64) if arr.dtype != np.uint64 else arr
    bad = np.flatnonzero((a64 < 0) | (a64 > 0xFFFFFFFF))
    if bad.size:
        raise IsaError(
            f"value {int(arr[bad[0]])} is not a 32-bit word",
            word_index=int(bad[0]),
            code=ErrorCode.STREAM_STRUCTURE,
        )
    return arr.astype(np.uint32)


def _field_at(words: Sequence[int], word: int, bit: int) -> tuple[str, str | None]:
    """(field name, opcode name) of bit ``bit`` of instruction word ``word``."""
    op = words[0] & 0xFF
    if word == 0 and bit < 8:
        return "opcode", Opcode(op).name if op in Opcode._value2member_map_ else None
    if op not in Opcode._value2member_map_:
        return "reserved", None
    spec = OPCODES[Opcode(op)]
    for f in spec.all_fields:
        if f.word == word and f.lsb <= bit <= f.msb:
            return f.name, spec.name
    return "reserved", spec.name


def _decode_checked(w: Sequence[int], word_offset: int, index: int | None) -> Instruction:
    """Structural decode of 8 words whose CRC is not trusted: opcode, reserved bits, fields."""
    op = w[0] & 0xFF
    if op not in Opcode._value2member_map_:
        raise IsaError(
            f"unknown opcode 0x{op:02X}",
            word_index=word_offset,
            instruction_index=index,
            field="opcode",
            code=ErrorCode.BAD_OPCODE,
        )
    spec = OPCODES[Opcode(op)]
    for k, rmask in enumerate(spec.reserved_masks):
        bad = w[k] & rmask
        if bad:
            bits = [b for b in range(WORD_BITS) if bad >> b & 1]
            raise IsaError(
                f"reserved bit(s) {', '.join(map(str, bits))} set (word 0x{w[k]:08X}, "
                f"reserved mask 0x{rmask:08X})",
                word_index=word_offset + k,
                instruction_index=index,
                opcode=spec.name,
                field="reserved",
                code=ErrorCode.RESERVED_BITS,
            )
    values = {f.name: f.extract(w[f.word]) for f in spec.value_fields}

    def loc(f: Field) -> dict[str, Any]:
        return {"word_index": word_offset + f.word, "opcode": spec.name, "instruction_index": index}

    _check_values(spec, values, loc)
    kwargs: dict[str, Any] = {}
    for f in spec.value_fields:
        v = values[f.name]
        if f.kind == "bool":
            kwargs[f.name] = bool(v)
        elif f.enum is not None:
            kwargs[f.name] = f.enum(v)
        else:
            kwargs[f.name] = v
    return INSTRUCTION_CLASSES[spec.opcode](**kwargs)


def decode(
    words: npt.ArrayLike | bytes, word_offset: int = 0, index: int | None = None
) -> Instruction:
    """Decode and validate one instruction (8 command words).

    Checks, in order: the CRC-16 (a single flipped bit is reported with its exact word, bit
    and field; with several corrupted bits the structural checks below name the first invalid
    word if they find one), the opcode, the reserved bits, every field's range, the unit's
    token rules and the cross-field rules.

    Args:
        words: 8 words (or 32 bytes, little-endian).
        word_offset: Stream index of the first word, for error messages.
        index: Instruction index in the stream, for error messages.

    Returns:
        The typed instruction.

    Raises:
        IsaError: naming ``word_index`` (``word_offset`` + word within the instruction),
            the opcode and the field.
    """
    w = [int(x) for x in as_words(words)]
    if len(w) != INSTR_WORDS:
        raise IsaError(
            f"an instruction is {INSTR_WORDS} words, got {len(w)}",
            word_index=word_offset,
            instruction_index=index,
            code=ErrorCode.STREAM_STRUCTURE,
        )
    stored = w[7] >> 16
    syndrome = crc16(_words_to_bytes(w)[:CRC16_COVERED_BYTES]) ^ stored
    if syndrome:
        hit = _INSTR_SYNDROMES.get(syndrome)
        if hit is not None:
            k, bit = hit
            fixed = list(w)
            fixed[k] ^= 1 << bit
            field, opname = _field_at(fixed, k, bit)
            raise IsaError(
                f"bit {bit} of the word is flipped (word reads 0x{w[k]:08X}, the instruction "
                f"check says 0x{fixed[k]:08X}): instruction CRC-16 mismatch",
                word_index=word_offset + k,
                instruction_index=index,
                opcode=opname,
                field=field,
                code=ErrorCode.INSTR_CRC,
            )
        try:
            _decode_checked(w, word_offset, index)
        except IsaError as e:
            raise IsaError(
                f"{e.reason}; the instruction CRC-16 fails too (several bits corrupted)",
                word_index=e.word_index,
                instruction_index=index,
                opcode=e.opcode,
                field=e.field,
                code=e.code,
            ) from None
        op = w[0] & 0xFF
        raise IsaError(
            f"instruction CRC-16 mismatch (stored 0x{stored:04X}, computed "
            f"0x{stored ^ syndrome:04X}): several bits corrupted somewhere in words "
            f"{word_offset}..{word_offset + INSTR_WORDS - 1}",
            word_index=word_offset,
            instruction_index=index,
            opcode=Opcode(op).name if op in Opcode._value2member_map_ else None,
            field="crc16",
            code=ErrorCode.INSTR_CRC,
        )
    return _decode_checked(w, word_offset, index)


# ---------------------------------------------------------------------------- streams
def config_hash_words(config_hash: str) -> tuple[int, int]:
    """The two identity words (``ID_CONFIG_HASH0/1``) of a sha256 hex digest: bytes 0-3 and 4-7,
    big-endian, as the overlay's identity block holds them."""
    if len(config_hash) < 16:
        raise IsaError(f"configuration hash must be a sha256 hex digest, got '{config_hash}'")
    try:
        return int(config_hash[0:8], 16), int(config_hash[8:16], 16)
    except ValueError:
        raise IsaError(f"configuration hash is not hexadecimal: '{config_hash}'") from None


@dataclasses.dataclass(frozen=True)
class CommandStream:
    """A decoded command stream: one engine run from START to DONE.

    Attributes:
        instructions: The instructions, the last one :class:`End`.
        config_hash0: Overlay configuration hash bytes 0-3 (must equal ``ID_CONFIG_HASH0``).
        config_hash1: Bytes 4-7 (``ID_CONFIG_HASH1``).
        version: ISA (major, minor) of the stream.
    """

    instructions: tuple[Instruction, ...]
    config_hash0: int
    config_hash1: int
    version: tuple[int, int] = (ISA_MAJOR, ISA_MINOR)

    def to_words(self) -> WordArray:
        """The encoded stream (header + instructions)."""
        return encode_stream(self.instructions, (self.config_hash0, self.config_hash1))

    def to_bytes(self) -> bytes:
        """The encoded stream as little-endian bytes (what the command DMA reads)."""
        return self.to_words().astype("<u4").tobytes()


def instruction_word_index(index: int) -> int:
    """Stream index of the first word of instruction ``index``."""
    return HEADER_WORDS + INSTR_WORDS * index


def encode_stream(
    instructions: Iterable[Instruction], config_hash: str | tuple[int, int]
) -> WordArray:
    """Header + encoded instructions.

    Args:
        instructions: The instructions; the last must be :class:`End` and no other may be.
        config_hash: The overlay's ``cfg.config_hash`` (hex) or its two identity words.

    Returns:
        ``uint32[8 + 8 * n]``.

    Raises:
        IsaError: an invalid instruction (with its word index) or a misplaced / missing END.
    """
    instrs = list(instructions)
    h0, h1 = config_hash_words(config_hash) if isinstance(config_hash, str) else config_hash
    for name, h in (("config_hash0", h0), ("config_hash1", h1)):
        if not 0 <= h <= 0xFFFFFFFF:
            raise IsaError(f"value {h} is not a 32-bit word", opcode="HEADER", field=name)
    if not instrs:
        raise IsaError(
            "a command stream needs at least END",
            opcode="HEADER",
            field="n_instr",
            word_index=2,
            code=ErrorCode.STREAM_STRUCTURE,
        )
    body = np.empty(INSTR_WORDS * len(instrs), dtype=np.uint32)
    for i, ins in enumerate(instrs):
        is_end = isinstance(ins, End)
        last = i == len(instrs) - 1
        if is_end != last:
            raise IsaError(
                "END must be the last instruction"
                if is_end
                else "the last instruction must be END",
                word_index=instruction_word_index(i),
                instruction_index=i,
                opcode=ins.OPCODE.name if isinstance(ins, Instruction) else None,
                field="opcode",
                code=ErrorCode.STREAM_STRUCTURE,
            )
        body[INSTR_WORDS * i : INSTR_WORDS * (i + 1)] = encode(ins, instruction_word_index(i), i)
    header = [
        STREAM_MAGIC,
        ISA_MAJOR | (ISA_MINOR << 8),
        len(instrs),
        h0,
        h1,
        crc32(body.astype("<u4").tobytes()),
        0,
    ]
    header.append(crc32(_words_to_bytes(header)))
    return np.concatenate([np.array(header, dtype=np.uint32), body])


def _header_error(reason: str, word: int, field: str | None, code: ErrorCode) -> IsaError:
    return IsaError(reason, word_index=word, opcode="HEADER", field=field, code=code)


def _header_field_at(word: int, bit: int) -> str:
    for f in HEADER_FIELDS:
        if f.word == word and f.lsb <= bit <= f.msb:
            return f.name
    return "reserved"


def decode_header(words: npt.ArrayLike | bytes) -> tuple[tuple[int, int], int, int, int, int]:
    """Validate the 8 header words.

    Returns:
        ``((major, minor), n_instr, config_hash0, config_hash1, body_crc32)``.

    Raises:
        IsaError: bad magic, header CRC mismatch (a single flipped bit is located exactly),
            unsupported version, reserved bits set or zero instructions; ``opcode`` is
            ``"HEADER"``.
    """
    w = [int(x) for x in as_words(words)]
    if len(w) < HEADER_WORDS:
        raise _header_error(
            f"a command stream starts with an {HEADER_WORDS}-word header; got {len(w)} words",
            len(w),
            None,
            ErrorCode.STREAM_STRUCTURE,
        )
    w = w[:HEADER_WORDS]
    if w[0] != STREAM_MAGIC:
        hit = _HEADER_SYNDROMES.get(crc32(_words_to_bytes(w[:7])) ^ w[7])
        flip = f" (bit {hit[1]} flipped)" if hit is not None and hit[0] == 0 else ""
        raise _header_error(
            f"not an edge-dnn command stream: magic 0x{w[0]:08X}, expected "
            f"0x{STREAM_MAGIC:08X}{flip}",
            0,
            "magic",
            ErrorCode.BAD_MAGIC,
        )
    syndrome = crc32(_words_to_bytes(w[:7])) ^ w[7]
    if syndrome:
        hit = _HEADER_SYNDROMES.get(syndrome)
        if hit is not None:
            k, bit = hit
            raise _header_error(
                f"bit {bit} of the word is flipped: header CRC-32 mismatch",
                k,
                _header_field_at(k, bit),
                ErrorCode.HEADER_CRC,
            )
        raise _header_error(
            f"header CRC-32 mismatch (stored 0x{w[7]:08X}, computed 0x{w[7] ^ syndrome:08X}): "
            "several bits corrupted in words 0..7",
            7,
            "header_crc32",
            ErrorCode.HEADER_CRC,
        )
    for k, rmask in enumerate(HEADER_RESERVED_MASKS):
        if w[k] & rmask:
            raise _header_error(
                f"reserved bits set (0x{w[k] & rmask:08X})",
                k,
                "reserved",
                ErrorCode.RESERVED_BITS,
            )
    major, minor = w[1] & 0xFF, (w[1] >> 8) & 0xFF
    if major != ISA_MAJOR or minor > ISA_MINOR:
        raise _header_error(
            f"ISA version {major}.{minor} is not supported (this decoder reads "
            f"{ISA_MAJOR}.0 .. {ISA_MAJOR}.{ISA_MINOR})",
            1,
            "version_major" if major != ISA_MAJOR else "version_minor",
            ErrorCode.BAD_VERSION,
        )
    if w[2] == 0:
        raise _header_error("a stream needs at least END", 2, "n_instr", ErrorCode.STREAM_STRUCTURE)
    return (major, minor), w[2], w[3], w[4], w[5]


def decode_stream(data: npt.ArrayLike | bytes) -> CommandStream:
    """Decode and validate a whole command stream.

    Order of the checks: header (magic, header CRC, reserved bits, version), stream length
    against ``n_instr``, every instruction (:func:`decode`), the body CRC-32, END placement.

    Args:
        data: Command words (``uint32`` array or sequence) or the little-endian bytes.

    Returns:
        The decoded stream.

    Raises:
        IsaError: naming the stream index of the first invalid word, the opcode and the field.
    """
    w = as_words(data)
    version, n, h0, h1, body_crc = decode_header(w)
    expected = HEADER_WORDS + INSTR_WORDS * n
    if w.size != expected:
        raise _header_error(
            f"the header announces {n} instructions ({expected} words) but the stream has "
            f"{w.size} words",
            2,
            "n_instr",
            ErrorCode.STREAM_STRUCTURE,
        )
    instrs = []
    for i in range(n):
        base = instruction_word_index(i)
        instrs.append(decode(w[base : base + INSTR_WORDS], base, i))
    actual = crc32(w[HEADER_WORDS:].astype("<u4").tobytes())
    if actual != body_crc:
        raise _header_error(
            f"body CRC-32 mismatch (header 0x{body_crc:08X}, instructions 0x{actual:08X}): "
            "every instruction is valid on its own, so instructions were reordered, "
            "duplicated or replaced",
            5,
            "body_crc32",
            ErrorCode.BODY_CRC,
        )
    for i, ins in enumerate(instrs):
        if isinstance(ins, End) != (i == n - 1):
            raise IsaError(
                "END before the last instruction"
                if isinstance(ins, End)
                else "the last instruction is not END",
                word_index=instruction_word_index(i),
                instruction_index=i,
                opcode=ins.OPCODE.name,
                field="opcode",
                code=ErrorCode.STREAM_STRUCTURE,
            )
    return CommandStream(tuple(instrs), h0, h1, version)


__all__ = [
    "COMMON_FIELDS",
    "CRC16_INIT",
    "CRC16_POLY",
    "CRC32_POLY_REFLECTED",
    "HEADER_FIELDS",
    "HEADER_WORDS",
    "INSTRUCTION_CLASSES",
    "INSTR_BYTES",
    "INSTR_WORDS",
    "ISA_MAJOR",
    "ISA_MINOR",
    "NORM_LUT_ENTRIES",
    "NORM_LUT_MANT_BITS",
    "OPCODES",
    "STREAM_MAGIC",
    "TOKEN_CAPACITY",
    "TOKEN_ENDPOINTS",
    "CommandStream",
    "ComputeTile",
    "ConfigConv",
    "ConfigEltwise",
    "ConfigNorm",
    "ConfigPool",
    "EltwiseOp",
    "EltwiseTile",
    "End",
    "Field",
    "Instruction",
    "LoadInput",
    "LoadParams",
    "LoadWeights",
    "Nop",
    "NormTile",
    "Opcode",
    "OpcodeSpec",
    "PoolKind",
    "PoolTile",
    "Precision",
    "Rule",
    "StoreTile",
    "Sync",
    "Token",
    "Unit",
    "as_words",
    "config_hash_words",
    "crc16",
    "crc32",
    "decode",
    "decode_header",
    "decode_stream",
    "encode",
    "encode_stream",
    "instruction_values",
    "instruction_word_index",
    "unit_signal_mask",
    "unit_wait_mask",
]
