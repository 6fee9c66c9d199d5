"""The bit-exact emulation of the engine (and, in :mod:`edge_dnn.emulator.run`, of the board).

* :mod:`edge_dnn.emulator.engine`: :class:`Engine`, which decodes a command stream with
  :mod:`edge_dnn.isa` and executes it on emulated buffers, with stream ports a DMA model drives.
* :mod:`edge_dnn.emulator.timing`: the per-instruction cycle model and the concurrent schedule
  of the units (shared with the performance model).
* :mod:`edge_dnn.emulator.ports`: the AXI-Stream ports (byte FIFOs with TLAST).
* :mod:`edge_dnn.emulator.races`: the check that tokens order every conflicting buffer access
  of two units (:class:`BufferRaceError`).
* :mod:`edge_dnn.emulator.errors`: :class:`EngineFault` and the DMA errors.
* :mod:`edge_dnn.emulator.run`: :func:`~edge_dnn.emulator.run.run_compiled`, a compiled model
  on the emulated board (imported on demand: it needs the compiler's model format).

``docs/emulator.md`` describes the port-level API, the counters and the timing model.
"""

from __future__ import annotations

from edge_dnn.emulator.engine import Engine, EngineCounters, EngineStatus
from edge_dnn.emulator.errors import DdrHazardError, DmaError, EmulatorError, EngineFault
from edge_dnn.emulator.ports import InPort, OutPort
from edge_dnn.emulator.races import BufferRaceError
from edge_dnn.emulator.timing import Timeline, TimingModel

__all__ = [
    "BufferRaceError",
    "DdrHazardError",
    "DmaError",
    "EmulatorError",
    "Engine",
    "EngineCounters",
    "EngineFault",
    "EngineStatus",
    "InPort",
    "OutPort",
    "Timeline",
    "TimingModel",
]
