"""C constants of the instruction set for the engine's HLS source, generated from the field tables.

``overlays/_common/generated/edge_dnn_isa.h`` (C and C++) holds, as ``#define EDNN_...``
macros, the stream constants, opcodes, units, token bits, enums, error codes and, for every
field of the header and of every opcode, its ``_WORD``, ``_SHIFT``, ``_WIDTH``, ``_MASK`` (in
place), ``_SIGNED``, ``_MIN`` and ``_MAX``, plus the reserved-bit mask of every word; then small
``static inline`` helpers (field extraction with sign extension, the two CRCs). It is the same
data :mod:`edge_dnn.isa.format` encodes and decodes with, so the HLS parser and the Python
decoder cannot drift apart. The file is generated and committed; ``tools/gen_isa_header.py``
rewrites it and ``--check`` (CI) fails when it is stale. The same tool keeps the generated field
tables of ``docs/isa.md`` in sync (:func:`generate_field_tables_md`).

The output is deterministic: no dates, no host paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from edge_dnn.isa import format as fmt
from edge_dnn.isa.errors import ErrorCode, StaleIsaHeaderError
from edge_dnn.isa.format import (
    COMMON_FIELDS,
    HEADER_FIELDS,
    HEADER_RESERVED_MASKS,
    OPCODES,
    EltwiseOp,
    Field,
    PoolKind,
    Precision,
    Unit,
    unit_signal_mask,
    unit_wait_mask,
)

HEADER_NAME = "edge_dnn_isa.h"
HEADER_REL_PATH = Path("overlays") / "_common" / "generated" / HEADER_NAME
DOC_REL_PATH = Path("docs") / "isa.md"
GENERATOR = "tools/gen_isa_header.py"
DOC_BEGIN = "<!-- BEGIN GENERATED FIELD TABLES (tools/gen_isa_header.py); do not edit -->"
DOC_END = "<!-- END GENERATED FIELD TABLES -->"


def repo_root() -> Path:
    """The source checkout this package lives in."""
    return Path(__file__).resolve().parents[2]


def isa_header_path(root: Path | None = None) -> Path:
    """``overlays/_common/generated/edge_dnn_isa.h`` of the checkout (or of ``root``)."""
    return (root or repo_root()) / HEADER_REL_PATH


def isa_doc_path(root: Path | None = None) -> Path:
    """``docs/isa.md`` of the checkout (or of ``root``)."""
    return (root or repo_root()) / DOC_REL_PATH


# ---------------------------------------------------------------------------- C header
def _u32(v: int, hexa: bool = False, digits: int = 0) -> str:
    return (f"0x{v:0{digits}X}" if hexa else str(v)) + "U"


def _int(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


def _field_defines(prefix: str, fields: Iterable[Field]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for f in fields:
        n = f"{prefix}_{f.name.upper()}"
        rng = f"{f.lo}..{f.hi}"
        note = f"w{f.word}[{f.msb}:{f.lsb}] {'signed ' if f.signed else ''}{rng}"
        if f.unit:
            note += f" {f.unit}"
        out += [
            (f"{n}_WORD", _u32(f.word), note + (f": {f.doc}" if f.doc else "")),
            (f"{n}_SHIFT", _u32(f.lsb), ""),
            (f"{n}_WIDTH", _u32(f.width), ""),
            (f"{n}_MASK", _u32(f.mask, True, 8), "in place"),
            (f"{n}_SIGNED", str(int(f.signed)), ""),
            (f"{n}_MIN", _int(f.lo) if f.signed else _u32(f.lo), ""),
            (f"{n}_MAX", _int(f.hi) if f.signed else _u32(f.hi), ""),
        ]
    return out


_HELPERS = """\
/* ---- helpers (C99 / C++; usable in Vitis HLS) */

/* Unsigned value of field F (a prefix such as EDNN_COMPUTE_TILE_IN_BASE) of words w[8]. */
#define EDNN_GET_U(w, F) ednn_field_u((w), F##_WORD, F##_MASK, F##_SHIFT)
/* Sign-extended value of a signed field. */
#define EDNN_GET_S(w, F) ednn_field_s((w), F##_WORD, F##_MASK, F##_SHIFT, F##_WIDTH)

static inline uint32_t ednn_field_u(const uint32_t *w, unsigned word, uint32_t mask,
                                    unsigned shift) {
    return (w[word] & mask) >> shift;
}

static inline int32_t ednn_field_s(const uint32_t *w, unsigned word, uint32_t mask,
                                   unsigned shift, unsigned width) {
    const uint32_t v = (w[word] & mask) >> shift;
    int64_t x = (int64_t)v;
    if ((v >> (width - 1U)) & 1U) {
        x -= (int64_t)1 << width;
    }
    return (int32_t)x;
}

/* CRC-16/CCITT-FALSE over n bytes (instruction check: bytes 0..29 of the instruction). */
static inline uint16_t ednn_crc16(const uint8_t *p, unsigned n) {
    uint32_t c = EDNN_ISA_CRC16_INIT;
    for (unsigned i = 0; i < n; ++i) {
        c ^= (uint32_t)p[i] << 8;
        for (unsigned b = 0; b < 8; ++b) {
            c = (c & 0x8000U) ? ((c << 1) ^ EDNN_ISA_CRC16_POLY) : (c << 1);
        }
        c &= 0xFFFFU;
    }
    return (uint16_t)c;
}

/* CRC-32 (IEEE 802.3 / zlib) over n bytes (header: bytes 0..27; body: all instructions). */
static inline uint32_t ednn_crc32_update(uint32_t crc, const uint8_t *p, unsigned n) {
    uint32_t c = ~crc;
    for (unsigned i = 0; i < n; ++i) {
        c ^= p[i];
        for (unsigned b = 0; b < 8; ++b) {
            c = (c & 1U) ? ((c >> 1) ^ EDNN_ISA_CRC32_POLY_REFLECTED) : (c >> 1);
        }
    }
    return ~c;
}

static inline uint32_t ednn_crc32(const uint8_t *p, unsigned n) {
    return ednn_crc32_update(0U, p, n);
}

/* The check an instruction's CRC16 field must hold, from its 8 words (host-endian safe). */
static inline uint16_t ednn_instr_crc16(const uint32_t *w) {
    uint8_t b[EDNN_ISA_CRC16_COVERED_BYTES];
    for (unsigned i = 0; i < EDNN_ISA_CRC16_COVERED_BYTES; ++i) {
        b[i] = (uint8_t)(w[i / 4U] >> (8U * (i % 4U)));
    }
    return ednn_crc16(b, EDNN_ISA_CRC16_COVERED_BYTES);
}
"""


def isa_header_items() -> list[str | tuple[str, str, str]]:
    """Every ``(macro, literal, comment)`` of the header, in order; strings are section titles."""
    items: list[str | tuple[str, str, str]] = ["stream format"]
    items += [
        ("EDNN_ISA_MAJOR", _u32(fmt.ISA_MAJOR), "incompatible changes"),
        ("EDNN_ISA_MINOR", _u32(fmt.ISA_MINOR), "compatible additions"),
        ("EDNN_ISA_STREAM_MAGIC", _u32(fmt.STREAM_MAGIC, True, 8), "header word 0, bytes 'EDNC'"),
        ("EDNN_ISA_WORD_BITS", _u32(fmt.WORD_BITS), "command word, little-endian"),
        ("EDNN_ISA_HEADER_WORDS", _u32(fmt.HEADER_WORDS), ""),
        ("EDNN_ISA_INSTR_WORDS", _u32(fmt.INSTR_WORDS), "every instruction"),
        ("EDNN_ISA_INSTR_BYTES", _u32(fmt.INSTR_BYTES), ""),
        ("EDNN_ISA_CRC16_POLY", _u32(fmt.CRC16_POLY, True, 4), "CRC-16/CCITT-FALSE"),
        ("EDNN_ISA_CRC16_INIT", _u32(fmt.CRC16_INIT, True, 4), ""),
        ("EDNN_ISA_CRC16_COVERED_BYTES", _u32(fmt.CRC16_COVERED_BYTES), "instruction bytes 0..29"),
        ("EDNN_ISA_CRC32_POLY_REFLECTED", _u32(fmt.CRC32_POLY_REFLECTED, True, 8), "zlib CRC-32"),
        ("EDNN_ISA_TOKEN_CAPACITY", _u32(fmt.TOKEN_CAPACITY), "tokens per queue"),
        ("EDNN_ISA_ACT_ADDR_BITS", _u32(fmt.ACT_ADDR_BITS), "input/output buffer addresses"),
        ("EDNN_ISA_WEIGHT_ADDR_BITS", _u32(fmt.WEIGHT_ADDR_BITS), "weight buffer addresses"),
        ("EDNN_ISA_PARAMS_ADDR_BITS", _u32(fmt.PARAMS_ADDR_BITS), "params buffer addresses"),
        ("EDNN_ISA_MAX_AREA_CLASSES", _u32(fmt.MAX_AREA_CLASSES), "average-pooling divisors"),
        ("EDNN_ISA_NORM_LUT_ENTRIES", _u32(fmt.NORM_LUT_ENTRIES), "LRN factor table, uint16"),
        ("EDNN_ISA_NORM_LUT_MANT_BITS", _u32(fmt.NORM_LUT_MANT_BITS), "LRN table index mantissa"),
    ]
    items.append("stream header fields")
    items += _field_defines("EDNN_HDR", HEADER_FIELDS)
    items += [
        (f"EDNN_HDR_RESERVED_W{k}", _u32(m, True, 8), "must be zero")
        for k, m in enumerate(HEADER_RESERVED_MASKS)
    ]
    items.append("execution units")
    for u in Unit:
        items.append((f"EDNN_UNIT_{u.name}", _u32(int(u)), ""))
        items.append(
            (f"EDNN_UNIT_{u.name}_WAIT_MASK", _u32(unit_wait_mask(u), True, 2), "allowed waits")
        )
        items.append(
            (
                f"EDNN_UNIT_{u.name}_SIGNAL_MASK",
                _u32(unit_signal_mask(u), True, 2),
                "allowed signals",
            )
        )
    items.append("dependency-token queues (bits of the wait / signal masks)")
    items += [
        (f"EDNN_TOK_{t.name}", _u32(int(t), True, 2), f"{src.name} -> {dst.name}")
        for t, (src, dst) in fmt.TOKEN_ENDPOINTS.items()
    ]
    items.append("enumerations")
    for cls, pre in ((Precision, "PRECISION"), (PoolKind, "POOL"), (EltwiseOp, "ELTWISE")):
        items += [(f"EDNN_{pre}_{m.name}", _u32(int(m)), "") for m in cls]
    items.append("engine error codes (STATUS.ERROR_CODE)")
    items += [(f"EDNN_ERR_{e.name}", _u32(int(e)), "") for e in ErrorCode]
    items.append("opcodes")
    for spec in OPCODES.values():
        items.append((f"EDNN_OP_{spec.name}", _u32(int(spec.opcode), True, 2), spec.doc))
        items.append((f"EDNN_OP_{spec.name}_UNIT", f"EDNN_UNIT_{spec.unit.name}", ""))
    items.append("fields common to every instruction")
    items += _field_defines("EDNN_INSTR", COMMON_FIELDS)
    for spec in OPCODES.values():
        items.append(f"{spec.name} (opcode 0x{int(spec.opcode):02X}, unit {spec.unit.name})")
        items += _field_defines(f"EDNN_{spec.name}", spec.fields)
        items += [
            (f"EDNN_{spec.name}_RESERVED_W{k}", _u32(m, True, 8), "must be zero")
            for k, m in enumerate(spec.reserved_masks)
        ]
    names = [it[0] for it in items if isinstance(it, tuple)]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RuntimeError(f"duplicate ISA header macros: {sorted(dup)}")
    return items


def generate_isa_header() -> str:
    """The text of ``edge_dnn_isa.h`` (deterministic)."""
    items = isa_header_items()
    width = max(len(it[0]) for it in items if isinstance(it, tuple)) + 1
    lines = [
        "/*",
        f" * {HEADER_NAME}: GENERATED FILE, DO NOT EDIT.",
        f" * edge-dnn engine instruction set v{fmt.ISA_MAJOR}.{fmt.ISA_MINOR}: command-stream "
        "format constants.",
        " * Source: the field tables of edge_dnn/isa/format.py; semantics in docs/isa.md.",
        f" * Regenerate with `python {GENERATOR}`; CI runs it with --check.",
        " *",
        " * A stream is little-endian 32-bit words: an 8-word header, then 8-word instructions.",
        " * Field F of an instruction w[8]: (w[F_WORD] & F_MASK) >> F_SHIFT (EDNN_GET_U/S).",
        " * No field crosses a 32-bit word; bits of EDNN_<OP>_RESERVED_W<k> must be zero.",
        " */",
        "#ifndef EDGE_DNN_ISA_H",
        "#define EDGE_DNN_ISA_H",
        "",
        "#include <stdint.h>",
    ]
    for it in items:
        if isinstance(it, str):
            lines += ["", f"/* ---- {it} */"]
            continue
        name, lit, comment = it
        line = f"#define {name:<{width}}{lit}"
        if comment:
            line += f"  /* {comment.replace('*/', '* /')} */"
        lines.append(line)
    lines += ["", _HELPERS.rstrip("\n"), "", "#endif  /* EDGE_DNN_ISA_H */", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- doc tables
def _md_field_rows(fields: Iterable[Field]) -> list[str]:
    rows = [
        "| word | bits | field | type | legal range | unit | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in sorted(fields, key=lambda f: (f.word, f.lsb)):
        bits = f"{f.msb}:{f.lsb}" if f.width > 1 else str(f.lsb)
        if f.kind == "enum" and f.enum is not None:
            typ = f"u{f.width} enum"
            rng = ", ".join(f"{int(m)} {m.name}" for m in f.enum)
        elif f.kind == "bool":
            typ, rng = "bool", "0, 1"
        else:
            typ = f"{'s' if f.signed else 'u'}{f.width}" + (" mask" if f.kind == "mask" else "")
            rng = f"{f.lo} .. {f.hi}" if f.lo != f.hi else f"0x{f.lo:08X}"
        rows.append(f"| {f.word} | {bits} | `{f.name}` | {typ} | {rng} | {f.unit} | {f.doc} |")
    return rows


def generate_field_tables_md() -> str:
    """The generated block of ``docs/isa.md`` (between :data:`DOC_BEGIN` and :data:`DOC_END`)."""
    out = [DOC_BEGIN, "", "#### Stream header (8 words)", ""]
    out += _md_field_rows(HEADER_FIELDS)
    out += ["", "Reserved (must be zero): word 1 bits 31:16, word 6.", ""]
    out += ["#### Fields common to every instruction", ""]
    out += _md_field_rows(COMMON_FIELDS)
    for spec in OPCODES.values():
        out += [
            "",
            f"#### `0x{int(spec.opcode):02X}` {spec.name} (unit {spec.unit.name})",
            "",
            f"{spec.doc[0].upper()}{spec.doc[1:]}.",
            "",
        ]
        if spec.fields:
            out += _md_field_rows(spec.fields)
        else:
            out.append("No fields of its own; `wait` and `signal` must be 0.")
        if spec.rules:
            out += ["", "Rules: " + "; ".join(r.message for r in spec.rules) + "."]
    out += ["", DOC_END]
    return "\n".join(out)


def splice_doc(text: str) -> str:
    """``text`` (the doc) with its generated block replaced by the current tables.

    Raises:
        StaleIsaHeaderError: the markers are missing.
    """
    b, e = text.find(DOC_BEGIN), text.find(DOC_END)
    if b < 0 or e < b:
        raise StaleIsaHeaderError(
            f"{DOC_REL_PATH} has no '{DOC_BEGIN}' ... '{DOC_END}' block", DOC_REL_PATH
        )
    return text[:b] + generate_field_tables_md() + text[e + len(DOC_END) :]


# ---------------------------------------------------------------------------- write / check
def write_isa_header(path: Path | None = None) -> Path:
    """Write the header (default location: :func:`isa_header_path`); returns its path."""
    p = path or isa_header_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(generate_isa_header(), encoding="utf-8", newline="\n")
    return p


def write_isa_doc(path: Path | None = None) -> Path:
    """Refresh the generated field tables inside ``docs/isa.md``; returns its path."""
    p = path or isa_doc_path()
    text = _read(p)
    p.write_text(splice_doc(text), encoding="utf-8", newline="\n")
    return p


def _read(p: Path) -> str:
    how = f"regenerate with `python {GENERATOR}`"
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StaleIsaHeaderError(f"{p} is missing; {how}", p) from None
    except OSError as e:
        raise StaleIsaHeaderError(f"{p} cannot be read ({e}); {how}", p) from None


def check_isa_header(path: Path | None = None) -> Path:
    """Check that the committed header matches the tables.

    Raises:
        StaleIsaHeaderError: missing or different; the message names the file.
    """
    p = path or isa_header_path()
    if _read(p) != generate_isa_header():
        raise StaleIsaHeaderError(
            f"{p} is stale: it does not match edge_dnn/isa/format.py; regenerate with "
            f"`python {GENERATOR}`",
            p,
        )
    return p


def check_isa_doc(path: Path | None = None) -> Path:
    """Check that the generated tables in ``docs/isa.md`` match the format tables.

    Raises:
        StaleIsaHeaderError: missing file, missing markers or stale tables.
    """
    p = path or isa_doc_path()
    text = _read(p)
    if splice_doc(text) != text:
        raise StaleIsaHeaderError(
            f"{p}: the generated field tables are stale; regenerate with `python {GENERATOR}`",
            p,
        )
    return p


__all__ = [
    "DOC_BEGIN",
    "DOC_END",
    "HEADER_NAME",
    "check_isa_doc",
    "check_isa_header",
    "generate_field_tables_md",
    "generate_isa_header",
    "isa_doc_path",
    "isa_header_items",
    "isa_header_path",
    "splice_doc",
    "write_isa_doc",
    "write_isa_header",
]
