"""Typed errors of the engine emulator (:mod:`edge_dnn.emulator`).

:class:`EngineFault` is what the emulated engine raises where the hardware would set
``STATUS.ERROR``: it carries the same :class:`~edge_dnn.isa.ErrorCode` the engine reports in
``ERROR_CODE``, plus the instruction index (the proposed ``ERROR_INDEX`` register), its opcode,
the field at fault and the instruction's ``tag`` (the compiler's layer index), so a host run and
a board run name the same failure. :class:`DmaError` covers the emulated DMA side (transfer
lists that do not fit the DDR image, or that break the DDR hazard rule of ``docs/engine.md``
section 2).
"""

from __future__ import annotations

from edge_dnn.errors import EdgeDnnError
from edge_dnn.isa.errors import ErrorCode, IsaError


class EmulatorError(EdgeDnnError):
    """Base class of the emulator's errors."""


class EngineFault(EmulatorError):  # noqa: N818 - the hardware's name for it
    """The emulated engine stopped with ``STATUS.ERROR``.

    Attributes:
        reason: The message without the location prefix.
        code: The engine error code (``STATUS.ERROR_CODE``).
        instruction_index: Index of the faulting instruction (0 = first after the header), or
            ``None`` for a header fault.
        opcode: Opcode name (``"COMPUTE_TILE"``), ``"HEADER"``, or ``None`` if unreadable.
        field: The field at fault (``"in_base"``, ``"streams"``, ``"wait"``), or ``None``.
        tag: The instruction's tag (the compiler's layer index), or ``None`` if not decoded.
        word_index: Index of the 32-bit command word at fault (decoder faults), or ``None``.
    """

    def __init__(
        self,
        reason: str,
        *,
        code: ErrorCode,
        instruction_index: int | None = None,
        opcode: str | None = None,
        field: str | None = None,
        tag: int | None = None,
        word_index: int | None = None,
    ) -> None:
        self.reason = reason
        self.code = code
        self.instruction_index = instruction_index
        self.opcode = opcode
        self.field = field
        self.tag = tag
        self.word_index = word_index
        where = []
        if instruction_index is not None:
            where.append(f"instruction {instruction_index}")
        if opcode is not None:
            where.append(opcode)
        if tag is not None:
            where.append(f"tag {tag}")
        prefix = f"engine fault {code.name}"
        if where:
            prefix += f" at {' '.join(where)}"
        if field is not None:
            prefix += f", field '{field}'"
        if word_index is not None:
            prefix += f" (command word {word_index})"
        super().__init__(f"{prefix}: {reason}")

    @classmethod
    def from_isa(cls, err: IsaError, tag: int | None = None) -> EngineFault:
        """The fault the engine's decoder raises for a command-stream error."""
        return cls(
            err.reason,
            code=err.code,
            instruction_index=err.instruction_index,
            opcode=err.opcode,
            field=err.field,
            tag=tag,
            word_index=err.word_index,
        )


class DmaError(EmulatorError):
    """An emulated DMA transfer list cannot be executed (outside the DDR image, bad lengths)."""


class DdrHazardError(DmaError):
    """Two transfers of one engine run touch the same DDR bytes (``docs/engine.md`` section 2).

    Attributes:
        first: Description of the first transfer (channel, index, address range).
        second: Description of the second transfer.
    """

    def __init__(self, message: str, first: str, second: str) -> None:
        self.first = first
        self.second = second
        super().__init__(f"DDR hazard: {message}: {first} and {second}")


__all__ = ["DdrHazardError", "DmaError", "EmulatorError", "EngineFault"]
