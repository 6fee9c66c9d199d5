"""Quantization for edge-dnn: the integer arithmetic contract and the quantizer.

:mod:`edge_dnn.quant.arith` holds the bit-exact integer primitives (requantization, rounding,
saturation, multiplier derivation, DSP48E2 two-product packing) that the emulator, the ARM
fallback kernels, the scheduler and the engine's HLS source all implement identically. The
contract they follow is written down in ``docs/arithmetic.md``.
"""
