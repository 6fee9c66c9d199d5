"""Typed errors of the overlay configuration layer (``edge_dnn.overlay``).

They live here rather than in :mod:`edge_dnn.errors` so that the overlay package owns its error
vocabulary; all of them derive from :class:`edge_dnn.errors.EdgeDnnError`.
"""

from __future__ import annotations

from pathlib import Path

from edge_dnn.errors import EdgeDnnError


class OverlayConfigError(EdgeDnnError):
    """An overlay configuration (``overlays/<name>/overlay.toml``) is missing or invalid.

    Attributes:
        path: The configuration file (``None`` for configurations built in memory).
        key: Dotted key inside the file the problem is about (``pe.out_channels``), or ``None``.
        reason: The message without the file/key prefix.
    """

    def __init__(self, message: str, path: str | Path | None = None, key: str | None = None):
        self.path = str(path) if path is not None else None
        self.key = key
        self.reason = message
        where = self.path or "<overlay config>"
        if key:
            where += f": key '{key}'"
        super().__init__(f"{where}: {message}")


class OverlayNotFoundError(OverlayConfigError):
    """No overlay of the requested name exists on the overlay search path."""


class OverlayResourceError(OverlayConfigError):
    """The estimated resources of an overlay exceed its part's limit (with utilization margin).

    Attributes:
        resource: ``dsp``, ``bram36``, ``uram``, ``lut`` or ``ff`` (the first one over its limit).
        estimate: Estimated use of that resource.
        limit: Allowed use (``available * max_utilization``).
        available: What the part has.
        violations: Every ``(resource, estimate, limit, available)`` over its limit.
    """

    def __init__(
        self,
        message: str,
        path: str | Path | None,
        violations: list[tuple[str, float, float, int]],
    ) -> None:
        self.violations = violations
        self.resource, self.estimate, self.limit, self.available = violations[0]
        super().__init__(message, path)


class StaleGeneratedFileError(OverlayConfigError):
    """A generated file (the C header) is missing or does not match its overlay.toml.

    Attributes:
        generated: Path of the stale or missing generated file.
    """

    def __init__(self, message: str, generated: str | Path, source: str | Path | None = None):
        self.generated = str(generated)
        super().__init__(message, source)
