"""AXI DMA (Xilinx PG021 v7.1) register map and scatter-gather descriptor format.

One definition shared by the board runtime (:mod:`arm_scheduler.runtime`, which programs real or
emulated channels) and the register model of the emulated board
(:mod:`arm_scheduler.emulated.axi_dma`). Names follow PG021: channel registers ``MM2S_DMACR``
(0x00) ... ``S2MM_LENGTH`` (0x58) appear here per channel relative to the channel base
(``MM2S_OFFSET`` / ``S2MM_OFFSET``); descriptor fields are the words of PG021's "Scatter Gather
Descriptor" table (NXTDESC, BUFFER_ADDRESS, CONTROL, STATUS).
"""

from __future__ import annotations

MM2S_OFFSET = 0x00
S2MM_OFFSET = 0x30
CHANNEL_SPAN = 0x30
REG_DMACR = 0x00
REG_DMASR = 0x04
REG_CURDESC = 0x08
REG_CURDESC_MSB = 0x0C
REG_TAILDESC = 0x10
REG_TAILDESC_MSB = 0x14
REG_ADDR = 0x18
REG_ADDR_MSB = 0x1C
REG_LENGTH = 0x28
REG_SG_CTL = 0x2C
"""SG_CTL (cache/user bits of descriptor fetches), at absolute offset 0x2C: stored, no effect."""
DEFAULT_ADDRESS_RANGE = 0x1_0000

CR_RS = 1 << 0
CR_RESERVED_ONE = 1 << 1
CR_RESET = 1 << 2
CR_KEYHOLE = 1 << 3
CR_CYCLIC_BD = 1 << 4
CR_IOC_IRQ_EN = 1 << 12
CR_DLY_IRQ_EN = 1 << 13
CR_ERR_IRQ_EN = 1 << 14
CR_THRESHOLD_SHIFT = 16
CR_DELAY_SHIFT = 24

SR_HALTED = 1 << 0
SR_IDLE = 1 << 1
SR_SG_INCLD = 1 << 3
SR_DMA_INT_ERR = 1 << 4
SR_DMA_SLV_ERR = 1 << 5
SR_DMA_DEC_ERR = 1 << 6
SR_SG_INT_ERR = 1 << 8
SR_SG_SLV_ERR = 1 << 9
SR_SG_DEC_ERR = 1 << 10
SR_IOC_IRQ = 1 << 12
SR_DLY_IRQ = 1 << 13
SR_ERR_IRQ = 1 << 14
SR_ERRORS = 0x770
SR_IRQS = SR_IOC_IRQ | SR_DLY_IRQ | SR_ERR_IRQ

DESC_BYTES = 64
"""Descriptor stride and alignment (16 32-bit words)."""
DESC_NXTDESC = 0x00
DESC_NXTDESC_MSB = 0x04
DESC_BUFFER_ADDRESS = 0x08
DESC_BUFFER_ADDRESS_MSB = 0x0C
DESC_CONTROL = 0x18
DESC_STATUS = 0x1C
CTRL_EOF = 1 << 26
CTRL_SOF = 1 << 27
ST_RXEOF = 1 << 26
ST_RXSOF = 1 << 27
ST_INT_ERR = 1 << 28
ST_SLV_ERR = 1 << 29
ST_DEC_ERR = 1 << 30
ST_CMPLT = 1 << 31
ST_LENGTH_MASK = (1 << 26) - 1

MM2S = "mm2s"
S2MM = "s2mm"
CHANNELS = (MM2S, S2MM)
