"""Typed errors of the compiler and of the compiled-model (``.edm``) file format.

They live here rather than in :mod:`edge_dnn.errors` so that the compiler package owns its error
vocabulary; all of them derive from :class:`edge_dnn.errors.EdgeDnnError`.
"""

from __future__ import annotations

from pathlib import Path

from edge_dnn.errors import EdgeDnnError, ModelFormatError


class CompileError(EdgeDnnError):
    """A network cannot be compiled for an overlay.

    Attributes:
        layer: The layer at fault, or ``None`` for whole-network problems.
        reason: The message without the layer prefix.
    """

    def __init__(self, message: str, layer: str | None = None) -> None:
        self.layer = layer
        self.reason = message
        super().__init__(f"layer '{layer}': {message}" if layer else message)


class EdmError(ModelFormatError):
    """A compiled-model file (``.edm``) cannot be used."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message, str(path) if path is not None else None)


class EdmCorruptError(EdmError):
    """An ``.edm`` file is truncated, corrupted (checksum mismatch) or malformed."""


class EdmVersionError(EdmError):
    """An ``.edm`` file was written in a container format version this edge-dnn cannot read."""


class OverlayMismatchError(EdmError):
    """An ``.edm`` file was compiled for another overlay configuration than the one in use.

    Attributes:
        compiled_for: ``(overlay name, configuration hash)`` recorded in the file.
        expected: ``(overlay name, configuration hash)`` of the configuration in use.
    """

    def __init__(
        self,
        compiled_for: tuple[str, str],
        expected: tuple[str, str],
        path: str | Path | None = None,
    ) -> None:
        self.compiled_for = compiled_for
        self.expected = expected
        super().__init__(
            f"compiled for overlay '{compiled_for[0]}' (configuration {compiled_for[1][:16]}), "
            f"but the overlay in use is '{expected[0]}' (configuration {expected[1][:16]}); "
            "recompile the network for this overlay",
            path,
        )


__all__ = [
    "CompileError",
    "EdmCorruptError",
    "EdmError",
    "EdmVersionError",
    "OverlayMismatchError",
]
