"""The engine's instruction set: binary command format, encoder/decoder, C header generator.

* :mod:`edge_dnn.isa.format`: field tables (data), typed instructions, :func:`encode` /
  :func:`decode`, stream header and checksums (``docs/isa.md``).
* :mod:`edge_dnn.isa.layout`: the overlay-dependent layout quantities shared by the compiler and
  the emulator (channel block, weight-word order) and :func:`check_overlay`
  (``docs/engine.md``).
* :mod:`edge_dnn.isa.cheader`: ``overlays/_common/generated/edge_dnn_isa.h`` for the HLS source.
"""

from __future__ import annotations

from edge_dnn.isa.errors import ErrorCode, IsaError, StaleIsaHeaderError
from edge_dnn.isa.format import (
    HEADER_WORDS,
    INSTR_WORDS,
    ISA_MAJOR,
    ISA_MINOR,
    OPCODES,
    STREAM_MAGIC,
    CommandStream,
    ComputeTile,
    ConfigConv,
    ConfigEltwise,
    ConfigNorm,
    ConfigPool,
    EltwiseOp,
    EltwiseTile,
    End,
    Instruction,
    LoadInput,
    LoadParams,
    LoadWeights,
    Nop,
    NormTile,
    Opcode,
    PoolKind,
    PoolTile,
    Precision,
    StoreTile,
    Sync,
    Token,
    Unit,
    decode,
    decode_stream,
    encode,
    encode_stream,
)

__all__ = [
    "HEADER_WORDS",
    "INSTR_WORDS",
    "ISA_MAJOR",
    "ISA_MINOR",
    "OPCODES",
    "STREAM_MAGIC",
    "CommandStream",
    "ComputeTile",
    "ConfigConv",
    "ConfigEltwise",
    "ConfigNorm",
    "ConfigPool",
    "EltwiseOp",
    "EltwiseTile",
    "End",
    "ErrorCode",
    "Instruction",
    "IsaError",
    "LoadInput",
    "LoadParams",
    "LoadWeights",
    "Nop",
    "NormTile",
    "Opcode",
    "PoolKind",
    "PoolTile",
    "Precision",
    "StaleIsaHeaderError",
    "StoreTile",
    "Sync",
    "Token",
    "Unit",
    "decode",
    "decode_stream",
    "encode",
    "encode_stream",
]
