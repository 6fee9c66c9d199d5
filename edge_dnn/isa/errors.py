"""Typed errors of the engine instruction set (``edge_dnn.isa``) and the engine's error codes.

:class:`ErrorCode` is the vocabulary of ``STATUS.ERROR_CODE`` (bits 15:8 of the engine's STATUS
register): the HLS engine sets it when it stops on a bad command stream or a run-time fault, and
the emulator raises :class:`IsaError` (or an error of its own carrying the same code) in the same
situations, so a host run and a board run report the same failure.
"""

from __future__ import annotations

import enum
from pathlib import Path

from edge_dnn.errors import EdgeDnnError


class ErrorCode(enum.IntEnum):
    """Values of ``STATUS.ERROR_CODE`` (8 bits). 0 means no error.

    Stream-format errors (1-11) are detected by the command decoder before an instruction runs;
    run-time errors (12 and up) by the unit executing it. ``docs/isa.md`` lists them with the
    check that raises each one.
    """

    NONE = 0
    BAD_MAGIC = 1
    BAD_VERSION = 2
    HEADER_CRC = 3
    CONFIG_MISMATCH = 4
    INSTR_CRC = 5
    BAD_OPCODE = 6
    RESERVED_BITS = 7
    FIELD_RANGE = 8
    TOKEN_MISUSE = 9
    STREAM_STRUCTURE = 10
    BODY_CRC = 11
    STREAM_LENGTH = 12
    TOKEN_UNDERFLOW = 13
    TOKEN_OVERFLOW = 14
    TOKENS_LEFT = 15
    BUFFER_RANGE = 16
    NOT_CONFIGURED = 17
    INPUT_NOT_RESIDENT = 18
    AREA_NOT_FOUND = 19
    ACC_STATE = 20
    ACC_OVERFLOW = 21


class IsaError(EdgeDnnError):
    """An invalid command stream, instruction word or instruction field.

    Raised by the decoder on invalid words (with the index of the offending 32-bit command word
    in the stream) and by the encoder on out-of-range fields.

    Attributes:
        reason: The message without the location prefix.
        word_index: Index of the 32-bit command word at fault, counted from the first word of the
            stream (the header's magic word); when a lone instruction is encoded or decoded, the
            index within the instruction plus the caller's ``word_offset``. ``None`` if unknown.
        instruction_index: Index of the instruction (0 = the first instruction after the
            header), or ``None`` for the header or a lone instruction.
        opcode: Name of the instruction's opcode (``"COMPUTE_TILE"``), ``"HEADER"`` for the
            stream header, or ``None`` if the opcode itself is unreadable.
        field: Name of the field at fault (``"in_cb"``, ``"reserved"``, ``"crc16"``), or ``None``.
        code: The engine error code the hardware reports for the same fault.
    """

    def __init__(
        self,
        reason: str,
        *,
        word_index: int | None = None,
        instruction_index: int | None = None,
        opcode: str | None = None,
        field: str | None = None,
        code: ErrorCode = ErrorCode.FIELD_RANGE,
    ) -> None:
        self.reason = reason
        self.word_index = word_index
        self.instruction_index = instruction_index
        self.opcode = opcode
        self.field = field
        self.code = code
        where: list[str] = []
        if word_index is not None:
            where.append(f"command word {word_index}")
        ctx = [
            c
            for c in (
                f"instruction {instruction_index}" if instruction_index is not None else None,
                opcode,
            )
            if c
        ]
        if ctx:
            where.append(f"({', '.join(ctx)})")
        prefix = " ".join(where)
        if field is not None:
            prefix = f"{prefix}, field '{field}'" if prefix else f"field '{field}'"
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class StaleIsaHeaderError(IsaError):
    """A generated ISA file (the C header or the tables in ``docs/isa.md``) is missing or stale.

    Attributes:
        generated: Path of the stale or missing file.
    """

    def __init__(self, reason: str, generated: str | Path) -> None:
        self.generated = str(generated)
        super().__init__(reason, code=ErrorCode.NONE)


__all__ = ["ErrorCode", "IsaError", "StaleIsaHeaderError"]
