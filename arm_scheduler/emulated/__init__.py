"""The emulated board: what pynq sees on an x86 host instead of a ZCU board.

* :mod:`~arm_scheduler.emulated.ddr`: the emulated DDR and its contiguous-memory allocator.
* :mod:`~arm_scheduler.emulated.bus`: register-model protocol, address map, simulated clock.
* :mod:`~arm_scheduler.emulated.axi_dma`: the AXI DMA (PG021) register model and stream ports.
* :mod:`~arm_scheduler.emulated.device`: ``EmulatedDevice``, the ``pynq.Device`` plug-in that
  makes pynq's own ``MMIO``, ``allocate`` and ``DMA`` run against the models.

This package imports nothing on purpose: only ``device`` pulls in pynq (through
:mod:`arm_scheduler.pynq_api`), so the models can be used and tested without it.
"""
