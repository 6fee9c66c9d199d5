"""Caffe ``Dropout`` at inference."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from edge_dnn.layers._int_ops import float_path, passthrough
from edge_dnn.layers._util import Elementwise, f32_inputs
from edge_dnn.layers.base import Array

if TYPE_CHECKING:
    from edge_dnn.quant.qgraph import NodeQuant


@dataclasses.dataclass(frozen=True)
class Dropout(Elementwise):
    """Identity at inference (Caffe scales by ``1/(1-ratio)`` while training instead).

    The OpenCV fork's ``scale_train: false`` moves the scaling to test time:
    ``y = x * (1 - dropout_ratio)``; it is honoured.

    Attributes:
        dropout_ratio: Drop probability (only used with ``scale_train=False``).
        scale_train: False: scale at inference (OpenCV fork); True (Caffe): identity.
    """

    TYPE: ClassVar[str] = "Dropout"

    dropout_ratio: float = 0.5
    scale_train: bool = True

    @classmethod
    def from_proto(cls, lp: Any) -> Dropout:
        """Read ``dropout_param``."""
        p = lp.dropout_param
        return cls(
            name=lp.name, dropout_ratio=float(p.dropout_ratio), scale_train=bool(p.scale_train)
        )

    def forward(self, inputs: Sequence[Array], params: Sequence[Array]) -> list[Array]:
        """Identity (a copy), or the test-time scaling of ``scale_train=False``."""
        (x,) = f32_inputs(self, inputs)
        if self.scale_train:
            return [x.copy()]
        return [x * np.float32(1.0 - self.dropout_ratio)]

    def forward_int(self, inputs: Sequence[Array], q: NodeQuant) -> list[Array]:
        """Integer reference: identity, scale unchanged (``scale_train=False``: ARM float path)."""
        if q.float_path or not self.scale_train:
            return float_path(self, inputs, q)
        return [passthrough(self, inputs)]
