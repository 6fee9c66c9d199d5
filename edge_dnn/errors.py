"""The typed errors of edge-dnn.

Every error the SDK raises for bad input derives from :class:`EdgeDnnError` and names the place
(file, line, column, layer, blob or register) in its message, so that a user never has to read a
traceback from inside numpy or protobuf to find out what is wrong with their network.
"""

from __future__ import annotations

from collections.abc import Sequence


class EdgeDnnError(Exception):
    """Base class of every error edge-dnn raises on purpose."""


# ---------------------------------------------------------------------------- Caffe model files
class ModelFormatError(EdgeDnnError):
    """A model file (prototxt, caffemodel, binaryproto) cannot be read."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class PrototxtSyntaxError(ModelFormatError):
    """A text prototxt is not valid protobuf text format for the Caffe schema."""

    def __init__(self, message: str, path: str | None, line: int, column: int) -> None:
        self.line = line
        self.column = column
        where = f"{path or '<string>'}:{line}:{column}"
        self.raw_message = message
        EdgeDnnError.__init__(self, f"{where}: {message}")
        self.path = path


class CorruptModelError(ModelFormatError):
    """A binary caffemodel or binaryproto is truncated or corrupt."""


# ---------------------------------------------------------------------------- Graph construction
class GraphError(EdgeDnnError):
    """The network's structure is invalid."""


class UnknownLayerTypeError(GraphError):
    """A layer type that edge-dnn does not implement."""

    def __init__(self, layer: str, layer_type: str, supported: Sequence[str]) -> None:
        self.layer = layer
        self.layer_type = layer_type
        super().__init__(
            f"layer '{layer}': unknown layer type '{layer_type}'; supported types: "
            + ", ".join(sorted(supported))
        )


class UnknownBlobError(GraphError):
    """A layer consumes a blob that no earlier layer or net input produces."""

    def __init__(self, layer: str, blob: str) -> None:
        self.layer = layer
        self.blob = blob
        super().__init__(f"layer '{layer}': bottom blob '{blob}' is not produced by any layer")


class GraphCycleError(GraphError):
    """The graph has a cycle."""


class ShapeError(GraphError):
    """Shape inference failed for a layer (incompatible input shapes or parameters)."""

    def __init__(self, layer: str, message: str) -> None:
        self.layer = layer
        super().__init__(f"layer '{layer}': {message}")


class UnsupportedParameterError(GraphError):
    """A layer parameter value edge-dnn does not support."""

    def __init__(self, layer: str, message: str) -> None:
        self.layer = layer
        super().__init__(f"layer '{layer}': {message}")


class WeightsMismatchError(GraphError):
    """Blobs in the caffemodel do not match what the prototxt's layer needs."""

    def __init__(self, layer: str, message: str, path: str | None = None) -> None:
        self.layer = layer
        self.path = path
        prefix = f"{path}: " if path else ""
        super().__init__(f"{prefix}layer '{layer}': {message}")


# ---------------------------------------------------------------------------- Running
class InputError(EdgeDnnError):
    """Inputs given to ``Graph.run`` (or a CLI) do not match the network."""


# ---------------------------------------------------------------------------- Calibration
class CalibrationError(EdgeDnnError):
    """Calibration data or the tensor values observed during calibration are unusable.

    Attributes:
        path: The calibration file or folder at fault (None when not file-related).
        tensor: The tensor (blob) whose values are at fault (None when not tensor-related).
        message: The message without the path/tensor prefix.
    """

    def __init__(self, message: str, path: str | None = None, tensor: str | None = None) -> None:
        self.path = path
        self.tensor = tensor
        self.message = message
        where = [w for w in (path, f"tensor '{tensor}'" if tensor else None) if w]
        super().__init__(f"{': '.join(where)}: {message}" if where else message)


class ImageReadError(InputError):
    """An image file cannot be read or decoded.

    Attributes:
        path: The image file.
    """

    def __init__(self, message: str, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")
