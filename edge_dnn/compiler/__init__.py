"""The compiler: quantized graph + overlay configuration -> :class:`CompiledModel` (``.edm``).

* :func:`compile_model` (:mod:`edge_dnn.compiler.build`): partition, tiling, weight packing,
  DDR memory plan, DMA transfer lists, command streams, report (``docs/compiler.md``);
* :mod:`edge_dnn.compiler.model`: the compiled-model data structure and ``.edm`` file format,
  the contract with the emulator, the performance model and the ARM runtime.
"""

from __future__ import annotations

from edge_dnn.compiler.build import compile_model
from edge_dnn.compiler.errors import (
    CompileError,
    EdmCorruptError,
    EdmError,
    EdmVersionError,
    OverlayMismatchError,
)
from edge_dnn.compiler.model import (
    FORMAT_VERSION,
    ActivationBuffer,
    ArmStep,
    CompiledModel,
    DdrRange,
    EngineStep,
    MemoryPlan,
    Step,
    TensorInfo,
    TensorLayout,
    Transfer,
    load_model,
)
from edge_dnn.compiler.report import format_report

__all__ = [
    "FORMAT_VERSION",
    "ActivationBuffer",
    "ArmStep",
    "CompileError",
    "CompiledModel",
    "DdrRange",
    "EdmCorruptError",
    "EdmError",
    "EdmVersionError",
    "EngineStep",
    "MemoryPlan",
    "OverlayMismatchError",
    "Step",
    "TensorInfo",
    "TensorLayout",
    "Transfer",
    "compile_model",
    "format_report",
    "load_model",
]
