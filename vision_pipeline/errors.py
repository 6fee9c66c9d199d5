"""Typed errors of the vision pipeline.

Every error derives from :class:`VisionError`, itself an
:class:`edge_dnn.errors.EdgeDnnError`, so a caller (or the CLI) that catches the SDK's base error
also catches the pipeline's. Messages name the source, sensor, file or stage at fault.
"""

from __future__ import annotations

from edge_dnn.errors import EdgeDnnError

__all__ = [
    "CorruptFrameError",
    "DisplayUnavailableError",
    "PipelineError",
    "PreprocessError",
    "SensorCalibrationError",
    "SinkError",
    "SourceError",
    "SourceLostError",
    "SourceOpenError",
    "StageError",
    "SyncError",
    "VisionError",
]


class VisionError(EdgeDnnError):
    """Base class of the vision pipeline's errors."""


# ---------------------------------------------------------------------------- sources
class SourceError(VisionError):
    """A frame source failed.

    Attributes:
        source: The source's name or spec (file, camera index, stream URL).
    """

    def __init__(self, message: str, source: str) -> None:
        self.source = source
        super().__init__(f"source '{source}': {message}")


class SourceOpenError(SourceError):
    """A source cannot be opened (missing file, empty folder, camera not present)."""


class SourceLostError(SourceError):
    """A live source stopped delivering frames and reconnecting failed within the limits.

    Attributes:
        attempts: Reconnection attempts made.
    """

    def __init__(self, message: str, source: str, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(message, source)


class CorruptFrameError(SourceError):
    """A source delivered a frame that is not a usable image (empty, wrong shape or dtype)."""


# ---------------------------------------------------------------------------- sync, calibration
class SyncError(VisionError):
    """Sources cannot be synchronised (bad tolerance, duplicate sensor names, ...)."""


class SensorCalibrationError(VisionError):
    """A sensor calibration file or matrix is invalid.

    Attributes:
        path: The calibration file (None for in-memory data).
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


# ---------------------------------------------------------------------------- processing
class PreprocessError(VisionError):
    """A frame or a backend buffer does not fit the model's input specification."""


class SinkError(VisionError):
    """An output sink cannot be opened or written."""


class DisplayUnavailableError(SinkError):
    """A window sink was requested but there is no display (or OpenCV has no GUI)."""


class PipelineError(VisionError):
    """The pipeline was misconfigured or could not shut down cleanly."""


class StageError(PipelineError):
    """An unexpected exception inside a pipeline stage (the original is ``__cause__``).

    Attributes:
        stage: The stage's name (``capture``, ``infer``, ``post``, ``sink``).
        error: The original exception.
    """

    def __init__(self, stage: str, error: BaseException) -> None:
        self.stage = stage
        self.error = error
        super().__init__(f"stage '{stage}' failed: {type(error).__name__}: {error}")
