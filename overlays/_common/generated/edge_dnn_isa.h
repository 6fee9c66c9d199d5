/*
 * edge_dnn_isa.h: GENERATED FILE, DO NOT EDIT.
 * edge-dnn engine instruction set v2.0: command-stream format constants.
 * Source: the field tables of edge_dnn/isa/format.py; semantics in docs/isa.md.
 * Regenerate with `python tools/gen_isa_header.py`; CI runs it with --check.
 *
 * A stream is little-endian 32-bit words: an 8-word header, then 8-word instructions.
 * Field F of an instruction w[8]: (w[F_WORD] & F_MASK) >> F_SHIFT (EDNN_GET_U/S).
 * No field crosses a 32-bit word; bits of EDNN_<OP>_RESERVED_W<k> must be zero.
 */
#ifndef EDGE_DNN_ISA_H
#define EDGE_DNN_ISA_H

#include <stdint.h>

/* ---- stream format */
#define EDNN_ISA_MAJOR                        2U  /* incompatible changes */
#define EDNN_ISA_MINOR                        0U  /* compatible additions */
#define EDNN_ISA_STREAM_MAGIC                 0x434E4445U  /* header word 0, bytes 'EDNC' */
#define EDNN_ISA_WORD_BITS                    32U  /* command word, little-endian */
#define EDNN_ISA_HEADER_WORDS                 8U
#define EDNN_ISA_INSTR_WORDS                  8U  /* every instruction */
#define EDNN_ISA_INSTR_BYTES                  32U
#define EDNN_ISA_CRC16_POLY                   0x1021U  /* CRC-16/CCITT-FALSE */
#define EDNN_ISA_CRC16_INIT                   0xFFFFU
#define EDNN_ISA_CRC16_COVERED_BYTES          30U  /* instruction bytes 0..29 */
#define EDNN_ISA_CRC32_POLY_REFLECTED         0xEDB88320U  /* zlib CRC-32 */
#define EDNN_ISA_TOKEN_CAPACITY               8U  /* tokens per queue */
#define EDNN_ISA_ACT_ADDR_BITS                20U  /* input/output buffer addresses */
#define EDNN_ISA_WEIGHT_ADDR_BITS             16U  /* weight buffer addresses */
#define EDNN_ISA_PARAMS_ADDR_BITS             12U  /* params buffer addresses */
#define EDNN_ISA_MAX_AREA_CLASSES             16U  /* average-pooling divisors */
#define EDNN_ISA_NORM_LUT_ENTRIES             256U  /* LRN factor table, uint16 */
#define EDNN_ISA_NORM_LUT_MANT_BITS           4U  /* LRN table index mantissa */

/* ---- stream header fields */
#define EDNN_HDR_MAGIC_WORD                   0U  /* w0[31:0] 1129202757..1129202757: 0x434E4445, bytes 'EDNC' */
#define EDNN_HDR_MAGIC_SHIFT                  0U
#define EDNN_HDR_MAGIC_WIDTH                  32U
#define EDNN_HDR_MAGIC_MASK                   0xFFFFFFFFU  /* in place */
#define EDNN_HDR_MAGIC_SIGNED                 0
#define EDNN_HDR_MAGIC_MIN                    1129202757U
#define EDNN_HDR_MAGIC_MAX                    1129202757U
#define EDNN_HDR_VERSION_MAJOR_WORD           1U  /* w1[7:0] 0..255: ISA major version */
#define EDNN_HDR_VERSION_MAJOR_SHIFT          0U
#define EDNN_HDR_VERSION_MAJOR_WIDTH          8U
#define EDNN_HDR_VERSION_MAJOR_MASK           0x000000FFU  /* in place */
#define EDNN_HDR_VERSION_MAJOR_SIGNED         0
#define EDNN_HDR_VERSION_MAJOR_MIN            0U
#define EDNN_HDR_VERSION_MAJOR_MAX            255U
#define EDNN_HDR_VERSION_MINOR_WORD           1U  /* w1[15:8] 0..255: ISA minor version */
#define EDNN_HDR_VERSION_MINOR_SHIFT          8U
#define EDNN_HDR_VERSION_MINOR_WIDTH          8U
#define EDNN_HDR_VERSION_MINOR_MASK           0x0000FF00U  /* in place */
#define EDNN_HDR_VERSION_MINOR_SIGNED         0
#define EDNN_HDR_VERSION_MINOR_MIN            0U
#define EDNN_HDR_VERSION_MINOR_MAX            255U
#define EDNN_HDR_N_INSTR_WORD                 2U  /* w2[31:0] 1..4294967295 instructions: instructions after the header, END included */
#define EDNN_HDR_N_INSTR_SHIFT                0U
#define EDNN_HDR_N_INSTR_WIDTH                32U
#define EDNN_HDR_N_INSTR_MASK                 0xFFFFFFFFU  /* in place */
#define EDNN_HDR_N_INSTR_SIGNED               0
#define EDNN_HDR_N_INSTR_MIN                  1U
#define EDNN_HDR_N_INSTR_MAX                  4294967295U
#define EDNN_HDR_CONFIG_HASH0_WORD            3U  /* w3[31:0] 0..4294967295: overlay configuration hash bytes 0-3 (ID_CONFIG_HASH0) */
#define EDNN_HDR_CONFIG_HASH0_SHIFT           0U
#define EDNN_HDR_CONFIG_HASH0_WIDTH           32U
#define EDNN_HDR_CONFIG_HASH0_MASK            0xFFFFFFFFU  /* in place */
#define EDNN_HDR_CONFIG_HASH0_SIGNED          0
#define EDNN_HDR_CONFIG_HASH0_MIN             0U
#define EDNN_HDR_CONFIG_HASH0_MAX             4294967295U
#define EDNN_HDR_CONFIG_HASH1_WORD            4U  /* w4[31:0] 0..4294967295: overlay configuration hash bytes 4-7 (ID_CONFIG_HASH1) */
#define EDNN_HDR_CONFIG_HASH1_SHIFT           0U
#define EDNN_HDR_CONFIG_HASH1_WIDTH           32U
#define EDNN_HDR_CONFIG_HASH1_MASK            0xFFFFFFFFU  /* in place */
#define EDNN_HDR_CONFIG_HASH1_SIGNED          0
#define EDNN_HDR_CONFIG_HASH1_MIN             0U
#define EDNN_HDR_CONFIG_HASH1_MAX             4294967295U
#define EDNN_HDR_BODY_CRC32_WORD              5U  /* w5[31:0] 0..4294967295: CRC-32 of all instruction bytes */
#define EDNN_HDR_BODY_CRC32_SHIFT             0U
#define EDNN_HDR_BODY_CRC32_WIDTH             32U
#define EDNN_HDR_BODY_CRC32_MASK              0xFFFFFFFFU  /* in place */
#define EDNN_HDR_BODY_CRC32_SIGNED            0
#define EDNN_HDR_BODY_CRC32_MIN               0U
#define EDNN_HDR_BODY_CRC32_MAX               4294967295U
#define EDNN_HDR_HEADER_CRC32_WORD            7U  /* w7[31:0] 0..4294967295: CRC-32 of header bytes 0..27 */
#define EDNN_HDR_HEADER_CRC32_SHIFT           0U
#define EDNN_HDR_HEADER_CRC32_WIDTH           32U
#define EDNN_HDR_HEADER_CRC32_MASK            0xFFFFFFFFU  /* in place */
#define EDNN_HDR_HEADER_CRC32_SIGNED          0
#define EDNN_HDR_HEADER_CRC32_MIN             0U
#define EDNN_HDR_HEADER_CRC32_MAX             4294967295U
#define EDNN_HDR_RESERVED_W0                  0x00000000U  /* must be zero */
#define EDNN_HDR_RESERVED_W1                  0xFFFF0000U  /* must be zero */
#define EDNN_HDR_RESERVED_W2                  0x00000000U  /* must be zero */
#define EDNN_HDR_RESERVED_W3                  0x00000000U  /* must be zero */
#define EDNN_HDR_RESERVED_W4                  0x00000000U  /* must be zero */
#define EDNN_HDR_RESERVED_W5                  0x00000000U  /* must be zero */
#define EDNN_HDR_RESERVED_W6                  0xFFFFFFFFU  /* must be zero */
#define EDNN_HDR_RESERVED_W7                  0x00000000U  /* must be zero */

/* ---- execution units */
#define EDNN_UNIT_DEC                         0U
#define EDNN_UNIT_DEC_WAIT_MASK               0x00U  /* allowed waits */
#define EDNN_UNIT_DEC_SIGNAL_MASK             0x00U  /* allowed signals */
#define EDNN_UNIT_LDW                         1U
#define EDNN_UNIT_LDW_WAIT_MASK               0x82U  /* allowed waits */
#define EDNN_UNIT_LDW_SIGNAL_MASK             0x41U  /* allowed signals */
#define EDNN_UNIT_LDA                         2U
#define EDNN_UNIT_LDA_WAIT_MASK               0x208U  /* allowed waits */
#define EDNN_UNIT_LDA_SIGNAL_MASK             0x104U  /* allowed signals */
#define EDNN_UNIT_CMP                         3U
#define EDNN_UNIT_CMP_WAIT_MASK               0x25U  /* allowed waits */
#define EDNN_UNIT_CMP_SIGNAL_MASK             0x1AU  /* allowed signals */
#define EDNN_UNIT_ST                          4U
#define EDNN_UNIT_ST_WAIT_MASK                0x410U  /* allowed waits */
#define EDNN_UNIT_ST_SIGNAL_MASK              0x820U  /* allowed signals */
#define EDNN_UNIT_VEC                         5U
#define EDNN_UNIT_VEC_WAIT_MASK               0x940U  /* allowed waits */
#define EDNN_UNIT_VEC_SIGNAL_MASK             0x680U  /* allowed signals */

/* ---- dependency-token queues (bits of the wait / signal masks) */
#define EDNN_TOK_LDW_CMP                      0x01U  /* LDW -> CMP */
#define EDNN_TOK_CMP_LDW                      0x02U  /* CMP -> LDW */
#define EDNN_TOK_LDA_CMP                      0x04U  /* LDA -> CMP */
#define EDNN_TOK_CMP_LDA                      0x08U  /* CMP -> LDA */
#define EDNN_TOK_CMP_ST                       0x10U  /* CMP -> ST */
#define EDNN_TOK_ST_CMP                       0x20U  /* ST -> CMP */
#define EDNN_TOK_LDW_VEC                      0x40U  /* LDW -> VEC */
#define EDNN_TOK_VEC_LDW                      0x80U  /* VEC -> LDW */
#define EDNN_TOK_LDA_VEC                      0x100U  /* LDA -> VEC */
#define EDNN_TOK_VEC_LDA                      0x200U  /* VEC -> LDA */
#define EDNN_TOK_VEC_ST                       0x400U  /* VEC -> ST */
#define EDNN_TOK_ST_VEC                       0x800U  /* ST -> VEC */

/* ---- enumerations */
#define EDNN_PRECISION_INT8                   0U
#define EDNN_PRECISION_INT16                  1U
#define EDNN_POOL_MAX                         0U
#define EDNN_POOL_AVE                         1U
#define EDNN_ELTWISE_SUM                      0U
#define EDNN_ELTWISE_MAX                      1U

/* ---- engine error codes (STATUS.ERROR_CODE) */
#define EDNN_ERR_NONE                         0U
#define EDNN_ERR_BAD_MAGIC                    1U
#define EDNN_ERR_BAD_VERSION                  2U
#define EDNN_ERR_HEADER_CRC                   3U
#define EDNN_ERR_CONFIG_MISMATCH              4U
#define EDNN_ERR_INSTR_CRC                    5U
#define EDNN_ERR_BAD_OPCODE                   6U
#define EDNN_ERR_RESERVED_BITS                7U
#define EDNN_ERR_FIELD_RANGE                  8U
#define EDNN_ERR_TOKEN_MISUSE                 9U
#define EDNN_ERR_STREAM_STRUCTURE             10U
#define EDNN_ERR_BODY_CRC                     11U
#define EDNN_ERR_STREAM_LENGTH                12U
#define EDNN_ERR_TOKEN_UNDERFLOW              13U
#define EDNN_ERR_TOKEN_OVERFLOW               14U
#define EDNN_ERR_TOKENS_LEFT                  15U
#define EDNN_ERR_BUFFER_RANGE                 16U
#define EDNN_ERR_NOT_CONFIGURED               17U
#define EDNN_ERR_INPUT_NOT_RESIDENT           18U
#define EDNN_ERR_AREA_NOT_FOUND               19U
#define EDNN_ERR_ACC_STATE                    20U
#define EDNN_ERR_ACC_OVERFLOW                 21U

/* ---- opcodes */
#define EDNN_OP_NOP                           0x01U  /* no operation */
#define EDNN_OP_NOP_UNIT                      EDNN_UNIT_DEC
#define EDNN_OP_SYNC                          0x02U  /* barrier: wait until every unit has finished its queue */
#define EDNN_OP_SYNC_UNIT                     EDNN_UNIT_DEC
#define EDNN_OP_END                           0x03U  /* last instruction: barrier, check the body CRC and that no token is left, set DONE */
#define EDNN_OP_END_UNIT                      EDNN_UNIT_DEC
#define EDNN_OP_CONFIG_CONV                   0x10U  /* set the convolution registers used by COMPUTE_TILE */
#define EDNN_OP_CONFIG_CONV_UNIT              EDNN_UNIT_CMP
#define EDNN_OP_CONFIG_POOL                   0x11U  /* set the pooling registers used by POOL_TILE */
#define EDNN_OP_CONFIG_POOL_UNIT              EDNN_UNIT_VEC
#define EDNN_OP_CONFIG_ELTWISE                0x12U  /* set the eltwise registers used by ELTWISE_TILE and by a fused COMPUTE_TILE */
#define EDNN_OP_CONFIG_ELTWISE_UNIT           EDNN_UNIT_CMP
#define EDNN_OP_CONFIG_NORM                   0x13U  /* set the LRN (across channels) registers used by NORM_TILE */
#define EDNN_OP_CONFIG_NORM_UNIT              EDNN_UNIT_VEC
#define EDNN_OP_LOAD_INPUT                    0x20U  /* copy n_words words from the act_in streams to consecutive input-buffer words */
#define EDNN_OP_LOAD_INPUT_UNIT               EDNN_UNIT_LDA
#define EDNN_OP_LOAD_WEIGHTS                  0x21U  /* copy n_words words from the weights streams to consecutive weight-buffer words */
#define EDNN_OP_LOAD_WEIGHTS_UNIT             EDNN_UNIT_LDW
#define EDNN_OP_LOAD_PARAMS                   0x22U  /* copy n_words words from the weights streams to consecutive params-buffer words */
#define EDNN_OP_LOAD_PARAMS_UNIT              EDNN_UNIT_LDW
#define EDNN_OP_COMPUTE_TILE                  0x30U  /* convolution / inner product of one output tile on the PE array */
#define EDNN_OP_COMPUTE_TILE_UNIT             EDNN_UNIT_CMP
#define EDNN_OP_POOL_TILE                     0x31U  /* max / average pooling of one output tile on the window unit (VEC) */
#define EDNN_OP_POOL_TILE_UNIT                EDNN_UNIT_VEC
#define EDNN_OP_ELTWISE_TILE                  0x32U  /* element-wise sum / max of two word ranges on the eltwise stage of the requantizer */
#define EDNN_OP_ELTWISE_TILE_UNIT             EDNN_UNIT_CMP
#define EDNN_OP_NORM_TILE                     0x33U  /* LRN across channels of a band of rows x all channel blocks on the window unit (VEC) */
#define EDNN_OP_NORM_TILE_UNIT                EDNN_UNIT_VEC
#define EDNN_OP_STORE_TILE                    0x40U  /* copy blocks of output-buffer words to the act_out streams or into the input buffer */
#define EDNN_OP_STORE_TILE_UNIT               EDNN_UNIT_ST

/* ---- fields common to every instruction */
#define EDNN_INSTR_OPCODE_WORD                0U  /* w0[7:0] 1..255: operation (Opcode) */
#define EDNN_INSTR_OPCODE_SHIFT               0U
#define EDNN_INSTR_OPCODE_WIDTH               8U
#define EDNN_INSTR_OPCODE_MASK                0x000000FFU  /* in place */
#define EDNN_INSTR_OPCODE_SIGNED              0
#define EDNN_INSTR_OPCODE_MIN                 1U
#define EDNN_INSTR_OPCODE_MAX                 255U
#define EDNN_INSTR_WAIT_WORD                  0U  /* w0[19:8] 0..4095 mask: token queues to take one token from before executing (Token) */
#define EDNN_INSTR_WAIT_SHIFT                 8U
#define EDNN_INSTR_WAIT_WIDTH                 12U
#define EDNN_INSTR_WAIT_MASK                  0x000FFF00U  /* in place */
#define EDNN_INSTR_WAIT_SIGNED                0
#define EDNN_INSTR_WAIT_MIN                   0U
#define EDNN_INSTR_WAIT_MAX                   4095U
#define EDNN_INSTR_SIGNAL_WORD                0U  /* w0[31:20] 0..4095 mask: token queues to give one token to after completing (Token) */
#define EDNN_INSTR_SIGNAL_SHIFT               20U
#define EDNN_INSTR_SIGNAL_WIDTH               12U
#define EDNN_INSTR_SIGNAL_MASK                0xFFF00000U  /* in place */
#define EDNN_INSTR_SIGNAL_SIGNED              0
#define EDNN_INSTR_SIGNAL_MIN                 0U
#define EDNN_INSTR_SIGNAL_MAX                 4095U
#define EDNN_INSTR_TAG_WORD                   7U  /* w7[15:0] 0..65535: diagnostic tag (the compiler writes the layer index); no effect */
#define EDNN_INSTR_TAG_SHIFT                  0U
#define EDNN_INSTR_TAG_WIDTH                  16U
#define EDNN_INSTR_TAG_MASK                   0x0000FFFFU  /* in place */
#define EDNN_INSTR_TAG_SIGNED                 0
#define EDNN_INSTR_TAG_MIN                    0U
#define EDNN_INSTR_TAG_MAX                    65535U
#define EDNN_INSTR_CRC16_WORD                 7U  /* w7[31:16] 0..65535: CRC-16/CCITT-FALSE of bytes 0..29 of the instruction */
#define EDNN_INSTR_CRC16_SHIFT                16U
#define EDNN_INSTR_CRC16_WIDTH                16U
#define EDNN_INSTR_CRC16_MASK                 0xFFFF0000U  /* in place */
#define EDNN_INSTR_CRC16_SIGNED               0
#define EDNN_INSTR_CRC16_MIN                  0U
#define EDNN_INSTR_CRC16_MAX                  65535U

/* ---- NOP (opcode 0x01, unit DEC) */
#define EDNN_NOP_RESERVED_W0                  0x00000000U  /* must be zero */
#define EDNN_NOP_RESERVED_W1                  0xFFFFFFFFU  /* must be zero */
#define EDNN_NOP_RESERVED_W2                  0xFFFFFFFFU  /* must be zero */
#define EDNN_NOP_RESERVED_W3                  0xFFFFFFFFU  /* must be zero */
#define EDNN_NOP_RESERVED_W4                  0xFFFFFFFFU  /* must be zero */
#define EDNN_NOP_RESERVED_W5                  0xFFFFFFFFU  /* must be zero */
#define EDNN_NOP_RESERVED_W6                  0xFFFFFFFFU  /* must be zero */
#define EDNN_NOP_RESERVED_W7                  0x00000000U  /* must be zero */

/* ---- SYNC (opcode 0x02, unit DEC) */
#define EDNN_SYNC_RESERVED_W0                 0x00000000U  /* must be zero */
#define EDNN_SYNC_RESERVED_W1                 0xFFFFFFFFU  /* must be zero */
#define EDNN_SYNC_RESERVED_W2                 0xFFFFFFFFU  /* must be zero */
#define EDNN_SYNC_RESERVED_W3                 0xFFFFFFFFU  /* must be zero */
#define EDNN_SYNC_RESERVED_W4                 0xFFFFFFFFU  /* must be zero */
#define EDNN_SYNC_RESERVED_W5                 0xFFFFFFFFU  /* must be zero */
#define EDNN_SYNC_RESERVED_W6                 0xFFFFFFFFU  /* must be zero */
#define EDNN_SYNC_RESERVED_W7                 0x00000000U  /* must be zero */

/* ---- END (opcode 0x03, unit DEC) */
#define EDNN_END_RESERVED_W0                  0x00000000U  /* must be zero */
#define EDNN_END_RESERVED_W1                  0xFFFFFFFFU  /* must be zero */
#define EDNN_END_RESERVED_W2                  0xFFFFFFFFU  /* must be zero */
#define EDNN_END_RESERVED_W3                  0xFFFFFFFFU  /* must be zero */
#define EDNN_END_RESERVED_W4                  0xFFFFFFFFU  /* must be zero */
#define EDNN_END_RESERVED_W5                  0xFFFFFFFFU  /* must be zero */
#define EDNN_END_RESERVED_W6                  0xFFFFFFFFU  /* must be zero */
#define EDNN_END_RESERVED_W7                  0x00000000U  /* must be zero */

/* ---- CONFIG_CONV (opcode 0x10, unit CMP) */
#define EDNN_CONFIG_CONV_PRECISION_WORD       6U  /* w6[20:20] 0..1: arithmetic mode (Precision: 0 int8, 1 int16) */
#define EDNN_CONFIG_CONV_PRECISION_SHIFT      20U
#define EDNN_CONFIG_CONV_PRECISION_WIDTH      1U
#define EDNN_CONFIG_CONV_PRECISION_MASK       0x00100000U  /* in place */
#define EDNN_CONFIG_CONV_PRECISION_SIGNED     0
#define EDNN_CONFIG_CONV_PRECISION_MIN        0U
#define EDNN_CONFIG_CONV_PRECISION_MAX        1U
#define EDNN_CONFIG_CONV_IN_SIGNED_WORD       6U  /* w6[21:21] 0..1: input bytes are int8 (1) or uint8 (0); 1 for int16 */
#define EDNN_CONFIG_CONV_IN_SIGNED_SHIFT      21U
#define EDNN_CONFIG_CONV_IN_SIGNED_WIDTH      1U
#define EDNN_CONFIG_CONV_IN_SIGNED_MASK       0x00200000U  /* in place */
#define EDNN_CONFIG_CONV_IN_SIGNED_SIGNED     0
#define EDNN_CONFIG_CONV_IN_SIGNED_MIN        0U
#define EDNN_CONFIG_CONV_IN_SIGNED_MAX        1U
#define EDNN_CONFIG_CONV_DEPTHWISE_WORD       6U  /* w6[22:22] 0..1: output channel c reads input channel c only */
#define EDNN_CONFIG_CONV_DEPTHWISE_SHIFT      22U
#define EDNN_CONFIG_CONV_DEPTHWISE_WIDTH      1U
#define EDNN_CONFIG_CONV_DEPTHWISE_MASK       0x00400000U  /* in place */
#define EDNN_CONFIG_CONV_DEPTHWISE_SIGNED     0
#define EDNN_CONFIG_CONV_DEPTHWISE_MIN        0U
#define EDNN_CONFIG_CONV_DEPTHWISE_MAX        1U
#define EDNN_CONFIG_CONV_IN_H_WORD            1U  /* w1[15:0] 1..65535 px: input map height */
#define EDNN_CONFIG_CONV_IN_H_SHIFT           0U
#define EDNN_CONFIG_CONV_IN_H_WIDTH           16U
#define EDNN_CONFIG_CONV_IN_H_MASK            0x0000FFFFU  /* in place */
#define EDNN_CONFIG_CONV_IN_H_SIGNED          0
#define EDNN_CONFIG_CONV_IN_H_MIN             1U
#define EDNN_CONFIG_CONV_IN_H_MAX             65535U
#define EDNN_CONFIG_CONV_IN_W_WORD            1U  /* w1[31:16] 1..65535 px: input map width */
#define EDNN_CONFIG_CONV_IN_W_SHIFT           16U
#define EDNN_CONFIG_CONV_IN_W_WIDTH           16U
#define EDNN_CONFIG_CONV_IN_W_MASK            0xFFFF0000U  /* in place */
#define EDNN_CONFIG_CONV_IN_W_SIGNED          0
#define EDNN_CONFIG_CONV_IN_W_MIN             1U
#define EDNN_CONFIG_CONV_IN_W_MAX             65535U
#define EDNN_CONFIG_CONV_OUT_H_WORD           2U  /* w2[15:0] 1..65535 px: output map height */
#define EDNN_CONFIG_CONV_OUT_H_SHIFT          0U
#define EDNN_CONFIG_CONV_OUT_H_WIDTH          16U
#define EDNN_CONFIG_CONV_OUT_H_MASK           0x0000FFFFU  /* in place */
#define EDNN_CONFIG_CONV_OUT_H_SIGNED         0
#define EDNN_CONFIG_CONV_OUT_H_MIN            1U
#define EDNN_CONFIG_CONV_OUT_H_MAX            65535U
#define EDNN_CONFIG_CONV_OUT_W_WORD           2U  /* w2[31:16] 1..65535 px: output map width */
#define EDNN_CONFIG_CONV_OUT_W_SHIFT          16U
#define EDNN_CONFIG_CONV_OUT_W_WIDTH          16U
#define EDNN_CONFIG_CONV_OUT_W_MASK           0xFFFF0000U  /* in place */
#define EDNN_CONFIG_CONV_OUT_W_SIGNED         0
#define EDNN_CONFIG_CONV_OUT_W_MIN            1U
#define EDNN_CONFIG_CONV_OUT_W_MAX            65535U
#define EDNN_CONFIG_CONV_KERNEL_H_WORD        3U  /* w3[7:0] 1..255 px: kernel height */
#define EDNN_CONFIG_CONV_KERNEL_H_SHIFT       0U
#define EDNN_CONFIG_CONV_KERNEL_H_WIDTH       8U
#define EDNN_CONFIG_CONV_KERNEL_H_MASK        0x000000FFU  /* in place */
#define EDNN_CONFIG_CONV_KERNEL_H_SIGNED      0
#define EDNN_CONFIG_CONV_KERNEL_H_MIN         1U
#define EDNN_CONFIG_CONV_KERNEL_H_MAX         255U
#define EDNN_CONFIG_CONV_KERNEL_W_WORD        3U  /* w3[15:8] 1..255 px: kernel width */
#define EDNN_CONFIG_CONV_KERNEL_W_SHIFT       8U
#define EDNN_CONFIG_CONV_KERNEL_W_WIDTH       8U
#define EDNN_CONFIG_CONV_KERNEL_W_MASK        0x0000FF00U  /* in place */
#define EDNN_CONFIG_CONV_KERNEL_W_SIGNED      0
#define EDNN_CONFIG_CONV_KERNEL_W_MIN         1U
#define EDNN_CONFIG_CONV_KERNEL_W_MAX         255U
#define EDNN_CONFIG_CONV_STRIDE_H_WORD        3U  /* w3[23:16] 1..255 px: vertical stride */
#define EDNN_CONFIG_CONV_STRIDE_H_SHIFT       16U
#define EDNN_CONFIG_CONV_STRIDE_H_WIDTH       8U
#define EDNN_CONFIG_CONV_STRIDE_H_MASK        0x00FF0000U  /* in place */
#define EDNN_CONFIG_CONV_STRIDE_H_SIGNED      0
#define EDNN_CONFIG_CONV_STRIDE_H_MIN         1U
#define EDNN_CONFIG_CONV_STRIDE_H_MAX         255U
#define EDNN_CONFIG_CONV_STRIDE_W_WORD        3U  /* w3[31:24] 1..255 px: horizontal stride */
#define EDNN_CONFIG_CONV_STRIDE_W_SHIFT       24U
#define EDNN_CONFIG_CONV_STRIDE_W_WIDTH       8U
#define EDNN_CONFIG_CONV_STRIDE_W_MASK        0xFF000000U  /* in place */
#define EDNN_CONFIG_CONV_STRIDE_W_SIGNED      0
#define EDNN_CONFIG_CONV_STRIDE_W_MIN         1U
#define EDNN_CONFIG_CONV_STRIDE_W_MAX         255U
#define EDNN_CONFIG_CONV_PAD_H_WORD           4U  /* w4[7:0] 0..255 px: zero rows above (and, implicitly, below) */
#define EDNN_CONFIG_CONV_PAD_H_SHIFT          0U
#define EDNN_CONFIG_CONV_PAD_H_WIDTH          8U
#define EDNN_CONFIG_CONV_PAD_H_MASK           0x000000FFU  /* in place */
#define EDNN_CONFIG_CONV_PAD_H_SIGNED         0
#define EDNN_CONFIG_CONV_PAD_H_MIN            0U
#define EDNN_CONFIG_CONV_PAD_H_MAX            255U
#define EDNN_CONFIG_CONV_PAD_W_WORD           4U  /* w4[15:8] 0..255 px: zero columns left (and, implicitly, right) */
#define EDNN_CONFIG_CONV_PAD_W_SHIFT          8U
#define EDNN_CONFIG_CONV_PAD_W_WIDTH          8U
#define EDNN_CONFIG_CONV_PAD_W_MASK           0x0000FF00U  /* in place */
#define EDNN_CONFIG_CONV_PAD_W_SIGNED         0
#define EDNN_CONFIG_CONV_PAD_W_MIN            0U
#define EDNN_CONFIG_CONV_PAD_W_MAX            255U
#define EDNN_CONFIG_CONV_DILATION_H_WORD      4U  /* w4[23:16] 1..255 px: vertical dilation */
#define EDNN_CONFIG_CONV_DILATION_H_SHIFT     16U
#define EDNN_CONFIG_CONV_DILATION_H_WIDTH     8U
#define EDNN_CONFIG_CONV_DILATION_H_MASK      0x00FF0000U  /* in place */
#define EDNN_CONFIG_CONV_DILATION_H_SIGNED    0
#define EDNN_CONFIG_CONV_DILATION_H_MIN       1U
#define EDNN_CONFIG_CONV_DILATION_H_MAX       255U
#define EDNN_CONFIG_CONV_DILATION_W_WORD      4U  /* w4[31:24] 1..255 px: horizontal dilation */
#define EDNN_CONFIG_CONV_DILATION_W_SHIFT     24U
#define EDNN_CONFIG_CONV_DILATION_W_WIDTH     8U
#define EDNN_CONFIG_CONV_DILATION_W_MASK      0xFF000000U  /* in place */
#define EDNN_CONFIG_CONV_DILATION_W_SIGNED    0
#define EDNN_CONFIG_CONV_DILATION_W_MIN       1U
#define EDNN_CONFIG_CONV_DILATION_W_MAX       255U
#define EDNN_CONFIG_CONV_QMIN_WORD            5U  /* w5[15:0] signed -32768..0 int: lower saturation bound of the output */
#define EDNN_CONFIG_CONV_QMIN_SHIFT           0U
#define EDNN_CONFIG_CONV_QMIN_WIDTH           16U
#define EDNN_CONFIG_CONV_QMIN_MASK            0x0000FFFFU  /* in place */
#define EDNN_CONFIG_CONV_QMIN_SIGNED          1
#define EDNN_CONFIG_CONV_QMIN_MIN             (-32768)
#define EDNN_CONFIG_CONV_QMIN_MAX             0
#define EDNN_CONFIG_CONV_QMAX_WORD            5U  /* w5[31:16] signed 0..32767 int: upper saturation bound of the output */
#define EDNN_CONFIG_CONV_QMAX_SHIFT           16U
#define EDNN_CONFIG_CONV_QMAX_WIDTH           16U
#define EDNN_CONFIG_CONV_QMAX_MASK            0xFFFF0000U  /* in place */
#define EDNN_CONFIG_CONV_QMAX_SIGNED          1
#define EDNN_CONFIG_CONV_QMAX_MIN             0
#define EDNN_CONFIG_CONV_QMAX_MAX             32767
#define EDNN_CONFIG_CONV_RESERVED_W0          0x00000000U  /* must be zero */
#define EDNN_CONFIG_CONV_RESERVED_W1          0x00000000U  /* must be zero */
#define EDNN_CONFIG_CONV_RESERVED_W2          0x00000000U  /* must be zero */
#define EDNN_CONFIG_CONV_RESERVED_W3          0x00000000U  /* must be zero */
#define EDNN_CONFIG_CONV_RESERVED_W4          0x00000000U  /* must be zero */
#define EDNN_CONFIG_CONV_RESERVED_W5          0x00000000U  /* must be zero */
#define EDNN_CONFIG_CONV_RESERVED_W6          0xFF8FFFFFU  /* must be zero */
#define EDNN_CONFIG_CONV_RESERVED_W7          0x00000000U  /* must be zero */

/* ---- CONFIG_POOL (opcode 0x11, unit VEC) */
#define EDNN_CONFIG_POOL_PRECISION_WORD       6U  /* w6[20:20] 0..1: arithmetic mode (Precision: 0 int8, 1 int16) */
#define EDNN_CONFIG_POOL_PRECISION_SHIFT      20U
#define EDNN_CONFIG_POOL_PRECISION_WIDTH      1U
#define EDNN_CONFIG_POOL_PRECISION_MASK       0x00100000U  /* in place */
#define EDNN_CONFIG_POOL_PRECISION_SIGNED     0
#define EDNN_CONFIG_POOL_PRECISION_MIN        0U
#define EDNN_CONFIG_POOL_PRECISION_MAX        1U
#define EDNN_CONFIG_POOL_IN_SIGNED_WORD       6U  /* w6[21:21] 0..1: input bytes are int8 (1) or uint8 (0); 1 for int16 */
#define EDNN_CONFIG_POOL_IN_SIGNED_SHIFT      21U
#define EDNN_CONFIG_POOL_IN_SIGNED_WIDTH      1U
#define EDNN_CONFIG_POOL_IN_SIGNED_MASK       0x00200000U  /* in place */
#define EDNN_CONFIG_POOL_IN_SIGNED_SIGNED     0
#define EDNN_CONFIG_POOL_IN_SIGNED_MIN        0U
#define EDNN_CONFIG_POOL_IN_SIGNED_MAX        1U
#define EDNN_CONFIG_POOL_KIND_WORD            6U  /* w6[22:22] 0..1: pooling method (PoolKind: 0 max, 1 average) */
#define EDNN_CONFIG_POOL_KIND_SHIFT           22U
#define EDNN_CONFIG_POOL_KIND_WIDTH           1U
#define EDNN_CONFIG_POOL_KIND_MASK            0x00400000U  /* in place */
#define EDNN_CONFIG_POOL_KIND_SIGNED          0
#define EDNN_CONFIG_POOL_KIND_MIN             0U
#define EDNN_CONFIG_POOL_KIND_MAX             1U
#define EDNN_CONFIG_POOL_IN_H_WORD            1U  /* w1[15:0] 1..65535 px: input map height */
#define EDNN_CONFIG_POOL_IN_H_SHIFT           0U
#define EDNN_CONFIG_POOL_IN_H_WIDTH           16U
#define EDNN_CONFIG_POOL_IN_H_MASK            0x0000FFFFU  /* in place */
#define EDNN_CONFIG_POOL_IN_H_SIGNED          0
#define EDNN_CONFIG_POOL_IN_H_MIN             1U
#define EDNN_CONFIG_POOL_IN_H_MAX             65535U
#define EDNN_CONFIG_POOL_IN_W_WORD            1U  /* w1[31:16] 1..65535 px: input map width */
#define EDNN_CONFIG_POOL_IN_W_SHIFT           16U
#define EDNN_CONFIG_POOL_IN_W_WIDTH           16U
#define EDNN_CONFIG_POOL_IN_W_MASK            0xFFFF0000U  /* in place */
#define EDNN_CONFIG_POOL_IN_W_SIGNED          0
#define EDNN_CONFIG_POOL_IN_W_MIN             1U
#define EDNN_CONFIG_POOL_IN_W_MAX             65535U
#define EDNN_CONFIG_POOL_OUT_H_WORD           2U  /* w2[15:0] 1..65535 px: output map height */
#define EDNN_CONFIG_POOL_OUT_H_SHIFT          0U
#define EDNN_CONFIG_POOL_OUT_H_WIDTH          16U
#define EDNN_CONFIG_POOL_OUT_H_MASK           0x0000FFFFU  /* in place */
#define EDNN_CONFIG_POOL_OUT_H_SIGNED         0
#define EDNN_CONFIG_POOL_OUT_H_MIN            1U
#define EDNN_CONFIG_POOL_OUT_H_MAX            65535U
#define EDNN_CONFIG_POOL_OUT_W_WORD           2U  /* w2[31:16] 1..65535 px: output map width */
#define EDNN_CONFIG_POOL_OUT_W_SHIFT          16U
#define EDNN_CONFIG_POOL_OUT_W_WIDTH          16U
#define EDNN_CONFIG_POOL_OUT_W_MASK           0xFFFF0000U  /* in place */
#define EDNN_CONFIG_POOL_OUT_W_SIGNED         0
#define EDNN_CONFIG_POOL_OUT_W_MIN            1U
#define EDNN_CONFIG_POOL_OUT_W_MAX            65535U
#define EDNN_CONFIG_POOL_KERNEL_H_WORD        3U  /* w3[7:0] 1..255 px: kernel height */
#define EDNN_CONFIG_POOL_KERNEL_H_SHIFT       0U
#define EDNN_CONFIG_POOL_KERNEL_H_WIDTH       8U
#define EDNN_CONFIG_POOL_KERNEL_H_MASK        0x000000FFU  /* in place */
#define EDNN_CONFIG_POOL_KERNEL_H_SIGNED      0
#define EDNN_CONFIG_POOL_KERNEL_H_MIN         1U
#define EDNN_CONFIG_POOL_KERNEL_H_MAX         255U
#define EDNN_CONFIG_POOL_KERNEL_W_WORD        3U  /* w3[15:8] 1..255 px: kernel width */
#define EDNN_CONFIG_POOL_KERNEL_W_SHIFT       8U
#define EDNN_CONFIG_POOL_KERNEL_W_WIDTH       8U
#define EDNN_CONFIG_POOL_KERNEL_W_MASK        0x0000FF00U  /* in place */
#define EDNN_CONFIG_POOL_KERNEL_W_SIGNED      0
#define EDNN_CONFIG_POOL_KERNEL_W_MIN         1U
#define EDNN_CONFIG_POOL_KERNEL_W_MAX         255U
#define EDNN_CONFIG_POOL_STRIDE_H_WORD        3U  /* w3[23:16] 1..255 px: vertical stride */
#define EDNN_CONFIG_POOL_STRIDE_H_SHIFT       16U
#define EDNN_CONFIG_POOL_STRIDE_H_WIDTH       8U
#define EDNN_CONFIG_POOL_STRIDE_H_MASK        0x00FF0000U  /* in place */
#define EDNN_CONFIG_POOL_STRIDE_H_SIGNED      0
#define EDNN_CONFIG_POOL_STRIDE_H_MIN         1U
#define EDNN_CONFIG_POOL_STRIDE_H_MAX         255U
#define EDNN_CONFIG_POOL_STRIDE_W_WORD        3U  /* w3[31:24] 1..255 px: horizontal stride */
#define EDNN_CONFIG_POOL_STRIDE_W_SHIFT       24U
#define EDNN_CONFIG_POOL_STRIDE_W_WIDTH       8U
#define EDNN_CONFIG_POOL_STRIDE_W_MASK        0xFF000000U  /* in place */
#define EDNN_CONFIG_POOL_STRIDE_W_SIGNED      0
#define EDNN_CONFIG_POOL_STRIDE_W_MIN         1U
#define EDNN_CONFIG_POOL_STRIDE_W_MAX         255U
#define EDNN_CONFIG_POOL_PAD_H_WORD           4U  /* w4[7:0] 0..255 px: zero rows above (and, implicitly, below) */
#define EDNN_CONFIG_POOL_PAD_H_SHIFT          0U
#define EDNN_CONFIG_POOL_PAD_H_WIDTH          8U
#define EDNN_CONFIG_POOL_PAD_H_MASK           0x000000FFU  /* in place */
#define EDNN_CONFIG_POOL_PAD_H_SIGNED         0
#define EDNN_CONFIG_POOL_PAD_H_MIN            0U
#define EDNN_CONFIG_POOL_PAD_H_MAX            255U
#define EDNN_CONFIG_POOL_PAD_W_WORD           4U  /* w4[15:8] 0..255 px: zero columns left (and, implicitly, right) */
#define EDNN_CONFIG_POOL_PAD_W_SHIFT          8U
#define EDNN_CONFIG_POOL_PAD_W_WIDTH          8U
#define EDNN_CONFIG_POOL_PAD_W_MASK           0x0000FF00U  /* in place */
#define EDNN_CONFIG_POOL_PAD_W_SIGNED         0
#define EDNN_CONFIG_POOL_PAD_W_MIN            0U
#define EDNN_CONFIG_POOL_PAD_W_MAX            255U
#define EDNN_CONFIG_POOL_N_AREA_WORD          4U  /* w4[20:16] 0..16 entries: average pooling: entries of the divisor table (0 for max pooling) */
#define EDNN_CONFIG_POOL_N_AREA_SHIFT         16U
#define EDNN_CONFIG_POOL_N_AREA_WIDTH         5U
#define EDNN_CONFIG_POOL_N_AREA_MASK          0x001F0000U  /* in place */
#define EDNN_CONFIG_POOL_N_AREA_SIGNED        0
#define EDNN_CONFIG_POOL_N_AREA_MIN           0U
#define EDNN_CONFIG_POOL_N_AREA_MAX           16U
#define EDNN_CONFIG_POOL_QMIN_WORD            5U  /* w5[15:0] signed -32768..0 int: lower saturation bound of the output */
#define EDNN_CONFIG_POOL_QMIN_SHIFT           0U
#define EDNN_CONFIG_POOL_QMIN_WIDTH           16U
#define EDNN_CONFIG_POOL_QMIN_MASK            0x0000FFFFU  /* in place */
#define EDNN_CONFIG_POOL_QMIN_SIGNED          1
#define EDNN_CONFIG_POOL_QMIN_MIN             (-32768)
#define EDNN_CONFIG_POOL_QMIN_MAX             0
#define EDNN_CONFIG_POOL_QMAX_WORD            5U  /* w5[31:16] signed 0..32767 int: upper saturation bound of the output */
#define EDNN_CONFIG_POOL_QMAX_SHIFT           16U
#define EDNN_CONFIG_POOL_QMAX_WIDTH           16U
#define EDNN_CONFIG_POOL_QMAX_MASK            0xFFFF0000U  /* in place */
#define EDNN_CONFIG_POOL_QMAX_SIGNED          1
#define EDNN_CONFIG_POOL_QMAX_MIN             0
#define EDNN_CONFIG_POOL_QMAX_MAX             32767
#define EDNN_CONFIG_POOL_RESERVED_W0          0x00000000U  /* must be zero */
#define EDNN_CONFIG_POOL_RESERVED_W1          0x00000000U  /* must be zero */
#define EDNN_CONFIG_POOL_RESERVED_W2          0x00000000U  /* must be zero */
#define EDNN_CONFIG_POOL_RESERVED_W3          0x00000000U  /* must be zero */
#define EDNN_CONFIG_POOL_RESERVED_W4          0xFFE00000U  /* must be zero */
#define EDNN_CONFIG_POOL_RESERVED_W5          0x00000000U  /* must be zero */
#define EDNN_CONFIG_POOL_RESERVED_W6          0xFF8FFFFFU  /* must be zero */
#define EDNN_CONFIG_POOL_RESERVED_W7          0x00000000U  /* must be zero */

/* ---- CONFIG_ELTWISE (opcode 0x12, unit CMP) */
#define EDNN_CONFIG_ELTWISE_PRECISION_WORD    6U  /* w6[20:20] 0..1: arithmetic mode (Precision: 0 int8, 1 int16) */
#define EDNN_CONFIG_ELTWISE_PRECISION_SHIFT   20U
#define EDNN_CONFIG_ELTWISE_PRECISION_WIDTH   1U
#define EDNN_CONFIG_ELTWISE_PRECISION_MASK    0x00100000U  /* in place */
#define EDNN_CONFIG_ELTWISE_PRECISION_SIGNED  0
#define EDNN_CONFIG_ELTWISE_PRECISION_MIN     0U
#define EDNN_CONFIG_ELTWISE_PRECISION_MAX     1U
#define EDNN_CONFIG_ELTWISE_A_SIGNED_WORD     6U  /* w6[21:21] 0..1: operand a bytes are int8 (1) or uint8 (0); 1 for int16 */
#define EDNN_CONFIG_ELTWISE_A_SIGNED_SHIFT    21U
#define EDNN_CONFIG_ELTWISE_A_SIGNED_WIDTH    1U
#define EDNN_CONFIG_ELTWISE_A_SIGNED_MASK     0x00200000U  /* in place */
#define EDNN_CONFIG_ELTWISE_A_SIGNED_SIGNED   0
#define EDNN_CONFIG_ELTWISE_A_SIGNED_MIN      0U
#define EDNN_CONFIG_ELTWISE_A_SIGNED_MAX      1U
#define EDNN_CONFIG_ELTWISE_B_SIGNED_WORD     6U  /* w6[22:22] 0..1: operand b bytes are int8 (1) or uint8 (0); 1 for int16 */
#define EDNN_CONFIG_ELTWISE_B_SIGNED_SHIFT    22U
#define EDNN_CONFIG_ELTWISE_B_SIGNED_WIDTH    1U
#define EDNN_CONFIG_ELTWISE_B_SIGNED_MASK     0x00400000U  /* in place */
#define EDNN_CONFIG_ELTWISE_B_SIGNED_SIGNED   0
#define EDNN_CONFIG_ELTWISE_B_SIGNED_MIN      0U
#define EDNN_CONFIG_ELTWISE_B_SIGNED_MAX      1U
#define EDNN_CONFIG_ELTWISE_OP_WORD           6U  /* w6[23:23] 0..1: operation (EltwiseOp: 0 sum, 1 max) */
#define EDNN_CONFIG_ELTWISE_OP_SHIFT          23U
#define EDNN_CONFIG_ELTWISE_OP_WIDTH          1U
#define EDNN_CONFIG_ELTWISE_OP_MASK           0x00800000U  /* in place */
#define EDNN_CONFIG_ELTWISE_OP_SIGNED         0
#define EDNN_CONFIG_ELTWISE_OP_MIN            0U
#define EDNN_CONFIG_ELTWISE_OP_MAX            1U
#define EDNN_CONFIG_ELTWISE_M_A_WORD          1U  /* w1[16:0] signed -65535..65535 int: sum: multiplier of operand a */
#define EDNN_CONFIG_ELTWISE_M_A_SHIFT         0U
#define EDNN_CONFIG_ELTWISE_M_A_WIDTH         17U
#define EDNN_CONFIG_ELTWISE_M_A_MASK          0x0001FFFFU  /* in place */
#define EDNN_CONFIG_ELTWISE_M_A_SIGNED        1
#define EDNN_CONFIG_ELTWISE_M_A_MIN           (-65535)
#define EDNN_CONFIG_ELTWISE_M_A_MAX           65535
#define EDNN_CONFIG_ELTWISE_M_B_WORD          2U  /* w2[16:0] signed -65535..65535 int: sum: multiplier of operand b */
#define EDNN_CONFIG_ELTWISE_M_B_SHIFT         0U
#define EDNN_CONFIG_ELTWISE_M_B_WIDTH         17U
#define EDNN_CONFIG_ELTWISE_M_B_MASK          0x0001FFFFU  /* in place */
#define EDNN_CONFIG_ELTWISE_M_B_SIGNED        1
#define EDNN_CONFIG_ELTWISE_M_B_MIN           (-65535)
#define EDNN_CONFIG_ELTWISE_M_B_MAX           65535
#define EDNN_CONFIG_ELTWISE_SHIFT_WORD        3U  /* w3[5:0] 1..63 bits: sum: shared right shift S */
#define EDNN_CONFIG_ELTWISE_SHIFT_SHIFT       0U
#define EDNN_CONFIG_ELTWISE_SHIFT_WIDTH       6U
#define EDNN_CONFIG_ELTWISE_SHIFT_MASK        0x0000003FU  /* in place */
#define EDNN_CONFIG_ELTWISE_SHIFT_SIGNED      0
#define EDNN_CONFIG_ELTWISE_SHIFT_MIN         1U
#define EDNN_CONFIG_ELTWISE_SHIFT_MAX         63U
#define EDNN_CONFIG_ELTWISE_QMIN_WORD         4U  /* w4[15:0] signed -32768..0 int: lower saturation bound of the output */
#define EDNN_CONFIG_ELTWISE_QMIN_SHIFT        0U
#define EDNN_CONFIG_ELTWISE_QMIN_WIDTH        16U
#define EDNN_CONFIG_ELTWISE_QMIN_MASK         0x0000FFFFU  /* in place */
#define EDNN_CONFIG_ELTWISE_QMIN_SIGNED       1
#define EDNN_CONFIG_ELTWISE_QMIN_MIN          (-32768)
#define EDNN_CONFIG_ELTWISE_QMIN_MAX          0
#define EDNN_CONFIG_ELTWISE_QMAX_WORD         4U  /* w4[31:16] signed 0..32767 int: upper saturation bound of the output */
#define EDNN_CONFIG_ELTWISE_QMAX_SHIFT        16U
#define EDNN_CONFIG_ELTWISE_QMAX_WIDTH        16U
#define EDNN_CONFIG_ELTWISE_QMAX_MASK         0xFFFF0000U  /* in place */
#define EDNN_CONFIG_ELTWISE_QMAX_SIGNED       1
#define EDNN_CONFIG_ELTWISE_QMAX_MIN          0
#define EDNN_CONFIG_ELTWISE_QMAX_MAX          32767
#define EDNN_CONFIG_ELTWISE_RESERVED_W0       0x00000000U  /* must be zero */
#define EDNN_CONFIG_ELTWISE_RESERVED_W1       0xFFFE0000U  /* must be zero */
#define EDNN_CONFIG_ELTWISE_RESERVED_W2       0xFFFE0000U  /* must be zero */
#define EDNN_CONFIG_ELTWISE_RESERVED_W3       0xFFFFFFC0U  /* must be zero */
#define EDNN_CONFIG_ELTWISE_RESERVED_W4       0x00000000U  /* must be zero */
#define EDNN_CONFIG_ELTWISE_RESERVED_W5       0xFFFFFFFFU  /* must be zero */
#define EDNN_CONFIG_ELTWISE_RESERVED_W6       0xFF0FFFFFU  /* must be zero */
#define EDNN_CONFIG_ELTWISE_RESERVED_W7       0x00000000U  /* must be zero */

/* ---- CONFIG_NORM (opcode 0x13, unit VEC) */
#define EDNN_CONFIG_NORM_PRECISION_WORD       6U  /* w6[20:20] 0..1: arithmetic mode (Precision: 0 int8, 1 int16); int8 only */
#define EDNN_CONFIG_NORM_PRECISION_SHIFT      20U
#define EDNN_CONFIG_NORM_PRECISION_WIDTH      1U
#define EDNN_CONFIG_NORM_PRECISION_MASK       0x00100000U  /* in place */
#define EDNN_CONFIG_NORM_PRECISION_SIGNED     0
#define EDNN_CONFIG_NORM_PRECISION_MIN        0U
#define EDNN_CONFIG_NORM_PRECISION_MAX        1U
#define EDNN_CONFIG_NORM_IN_SIGNED_WORD       6U  /* w6[21:21] 0..1: input bytes are int8 (1) or uint8 (0) */
#define EDNN_CONFIG_NORM_IN_SIGNED_SHIFT      21U
#define EDNN_CONFIG_NORM_IN_SIGNED_WIDTH      1U
#define EDNN_CONFIG_NORM_IN_SIGNED_MASK       0x00200000U  /* in place */
#define EDNN_CONFIG_NORM_IN_SIGNED_SIGNED     0
#define EDNN_CONFIG_NORM_IN_SIGNED_MIN        0U
#define EDNN_CONFIG_NORM_IN_SIGNED_MAX        1U
#define EDNN_CONFIG_NORM_IN_H_WORD            1U  /* w1[15:0] 1..65535 px: map height (the output has the same) */
#define EDNN_CONFIG_NORM_IN_H_SHIFT           0U
#define EDNN_CONFIG_NORM_IN_H_WIDTH           16U
#define EDNN_CONFIG_NORM_IN_H_MASK            0x0000FFFFU  /* in place */
#define EDNN_CONFIG_NORM_IN_H_SIGNED          0
#define EDNN_CONFIG_NORM_IN_H_MIN             1U
#define EDNN_CONFIG_NORM_IN_H_MAX             65535U
#define EDNN_CONFIG_NORM_IN_W_WORD            1U  /* w1[31:16] 1..65535 px: map width (the output has the same) */
#define EDNN_CONFIG_NORM_IN_W_SHIFT           16U
#define EDNN_CONFIG_NORM_IN_W_WIDTH           16U
#define EDNN_CONFIG_NORM_IN_W_MASK            0xFFFF0000U  /* in place */
#define EDNN_CONFIG_NORM_IN_W_SIGNED          0
#define EDNN_CONFIG_NORM_IN_W_MIN             1U
#define EDNN_CONFIG_NORM_IN_W_MAX             65535U
#define EDNN_CONFIG_NORM_LOCAL_SIZE_WORD      2U  /* w2[7:0] 1..255 channels: LRN window: local_size channels centred on the output channel */
#define EDNN_CONFIG_NORM_LOCAL_SIZE_SHIFT     0U
#define EDNN_CONFIG_NORM_LOCAL_SIZE_WIDTH     8U
#define EDNN_CONFIG_NORM_LOCAL_SIZE_MASK      0x000000FFU  /* in place */
#define EDNN_CONFIG_NORM_LOCAL_SIZE_SIGNED    0
#define EDNN_CONFIG_NORM_LOCAL_SIZE_MIN       1U
#define EDNN_CONFIG_NORM_LOCAL_SIZE_MAX       255U
#define EDNN_CONFIG_NORM_LUT_SHIFT_WORD       2U  /* w2[12:8] 0..31 bits: right shift of the sum of squares before the table index */
#define EDNN_CONFIG_NORM_LUT_SHIFT_SHIFT      8U
#define EDNN_CONFIG_NORM_LUT_SHIFT_WIDTH      5U
#define EDNN_CONFIG_NORM_LUT_SHIFT_MASK       0x00001F00U  /* in place */
#define EDNN_CONFIG_NORM_LUT_SHIFT_SIGNED     0
#define EDNN_CONFIG_NORM_LUT_SHIFT_MIN        0U
#define EDNN_CONFIG_NORM_LUT_SHIFT_MAX        31U
#define EDNN_CONFIG_NORM_FRAC_BITS_WORD       2U  /* w2[20:16] 1..31 bits: F: fraction bits of the table factors (round-shift of x * factor) */
#define EDNN_CONFIG_NORM_FRAC_BITS_SHIFT      16U
#define EDNN_CONFIG_NORM_FRAC_BITS_WIDTH      5U
#define EDNN_CONFIG_NORM_FRAC_BITS_MASK       0x001F0000U  /* in place */
#define EDNN_CONFIG_NORM_FRAC_BITS_SIGNED     0
#define EDNN_CONFIG_NORM_FRAC_BITS_MIN        1U
#define EDNN_CONFIG_NORM_FRAC_BITS_MAX        31U
#define EDNN_CONFIG_NORM_QMIN_WORD            3U  /* w3[15:0] signed -32768..0 int: lower saturation bound of the output */
#define EDNN_CONFIG_NORM_QMIN_SHIFT           0U
#define EDNN_CONFIG_NORM_QMIN_WIDTH           16U
#define EDNN_CONFIG_NORM_QMIN_MASK            0x0000FFFFU  /* in place */
#define EDNN_CONFIG_NORM_QMIN_SIGNED          1
#define EDNN_CONFIG_NORM_QMIN_MIN             (-32768)
#define EDNN_CONFIG_NORM_QMIN_MAX             0
#define EDNN_CONFIG_NORM_QMAX_WORD            3U  /* w3[31:16] signed 0..32767 int: upper saturation bound of the output */
#define EDNN_CONFIG_NORM_QMAX_SHIFT           16U
#define EDNN_CONFIG_NORM_QMAX_WIDTH           16U
#define EDNN_CONFIG_NORM_QMAX_MASK            0xFFFF0000U  /* in place */
#define EDNN_CONFIG_NORM_QMAX_SIGNED          1
#define EDNN_CONFIG_NORM_QMAX_MIN             0
#define EDNN_CONFIG_NORM_QMAX_MAX             32767
#define EDNN_CONFIG_NORM_RESERVED_W0          0x00000000U  /* must be zero */
#define EDNN_CONFIG_NORM_RESERVED_W1          0x00000000U  /* must be zero */
#define EDNN_CONFIG_NORM_RESERVED_W2          0xFFE0E000U  /* must be zero */
#define EDNN_CONFIG_NORM_RESERVED_W3          0x00000000U  /* must be zero */
#define EDNN_CONFIG_NORM_RESERVED_W4          0xFFFFFFFFU  /* must be zero */
#define EDNN_CONFIG_NORM_RESERVED_W5          0xFFFFFFFFU  /* must be zero */
#define EDNN_CONFIG_NORM_RESERVED_W6          0xFFCFFFFFU  /* must be zero */
#define EDNN_CONFIG_NORM_RESERVED_W7          0x00000000U  /* must be zero */

/* ---- LOAD_INPUT (opcode 0x20, unit LDA) */
#define EDNN_LOAD_INPUT_STREAMS_WORD          6U  /* w6[23:20] 1..15 mask: streams of the role carrying the data (bit k = k-th stream of the role in overlay.toml order); the data is split into equal contiguous parts, one per selected stream (act_in) */
#define EDNN_LOAD_INPUT_STREAMS_SHIFT         20U
#define EDNN_LOAD_INPUT_STREAMS_WIDTH         4U
#define EDNN_LOAD_INPUT_STREAMS_MASK          0x00F00000U  /* in place */
#define EDNN_LOAD_INPUT_STREAMS_SIGNED        0
#define EDNN_LOAD_INPUT_STREAMS_MIN           1U
#define EDNN_LOAD_INPUT_STREAMS_MAX           15U
#define EDNN_LOAD_INPUT_DST_BASE_WORD         1U  /* w1[19:0] 0..1048575 words: first input-buffer word written */
#define EDNN_LOAD_INPUT_DST_BASE_SHIFT        0U
#define EDNN_LOAD_INPUT_DST_BASE_WIDTH        20U
#define EDNN_LOAD_INPUT_DST_BASE_MASK         0x000FFFFFU  /* in place */
#define EDNN_LOAD_INPUT_DST_BASE_SIGNED       0
#define EDNN_LOAD_INPUT_DST_BASE_MIN          0U
#define EDNN_LOAD_INPUT_DST_BASE_MAX          1048575U
#define EDNN_LOAD_INPUT_N_WORDS_WORD          2U  /* w2[19:0] 1..1048575 words: input-buffer words written */
#define EDNN_LOAD_INPUT_N_WORDS_SHIFT         0U
#define EDNN_LOAD_INPUT_N_WORDS_WIDTH         20U
#define EDNN_LOAD_INPUT_N_WORDS_MASK          0x000FFFFFU  /* in place */
#define EDNN_LOAD_INPUT_N_WORDS_SIGNED        0
#define EDNN_LOAD_INPUT_N_WORDS_MIN           1U
#define EDNN_LOAD_INPUT_N_WORDS_MAX           1048575U
#define EDNN_LOAD_INPUT_RESERVED_W0           0x00000000U  /* must be zero */
#define EDNN_LOAD_INPUT_RESERVED_W1           0xFFF00000U  /* must be zero */
#define EDNN_LOAD_INPUT_RESERVED_W2           0xFFF00000U  /* must be zero */
#define EDNN_LOAD_INPUT_RESERVED_W3           0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_INPUT_RESERVED_W4           0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_INPUT_RESERVED_W5           0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_INPUT_RESERVED_W6           0xFF0FFFFFU  /* must be zero */
#define EDNN_LOAD_INPUT_RESERVED_W7           0x00000000U  /* must be zero */

/* ---- LOAD_WEIGHTS (opcode 0x21, unit LDW) */
#define EDNN_LOAD_WEIGHTS_STREAMS_WORD        6U  /* w6[23:20] 1..15 mask: streams of the role carrying the data (bit k = k-th stream of the role in overlay.toml order); the data is split into equal contiguous parts, one per selected stream (weights) */
#define EDNN_LOAD_WEIGHTS_STREAMS_SHIFT       20U
#define EDNN_LOAD_WEIGHTS_STREAMS_WIDTH       4U
#define EDNN_LOAD_WEIGHTS_STREAMS_MASK        0x00F00000U  /* in place */
#define EDNN_LOAD_WEIGHTS_STREAMS_SIGNED      0
#define EDNN_LOAD_WEIGHTS_STREAMS_MIN         1U
#define EDNN_LOAD_WEIGHTS_STREAMS_MAX         15U
#define EDNN_LOAD_WEIGHTS_DST_BASE_WORD       1U  /* w1[15:0] 0..65535 words: first weight-buffer word written */
#define EDNN_LOAD_WEIGHTS_DST_BASE_SHIFT      0U
#define EDNN_LOAD_WEIGHTS_DST_BASE_WIDTH      16U
#define EDNN_LOAD_WEIGHTS_DST_BASE_MASK       0x0000FFFFU  /* in place */
#define EDNN_LOAD_WEIGHTS_DST_BASE_SIGNED     0
#define EDNN_LOAD_WEIGHTS_DST_BASE_MIN        0U
#define EDNN_LOAD_WEIGHTS_DST_BASE_MAX        65535U
#define EDNN_LOAD_WEIGHTS_N_WORDS_WORD        1U  /* w1[31:16] 1..65535 words: weight-buffer words written */
#define EDNN_LOAD_WEIGHTS_N_WORDS_SHIFT       16U
#define EDNN_LOAD_WEIGHTS_N_WORDS_WIDTH       16U
#define EDNN_LOAD_WEIGHTS_N_WORDS_MASK        0xFFFF0000U  /* in place */
#define EDNN_LOAD_WEIGHTS_N_WORDS_SIGNED      0
#define EDNN_LOAD_WEIGHTS_N_WORDS_MIN         1U
#define EDNN_LOAD_WEIGHTS_N_WORDS_MAX         65535U
#define EDNN_LOAD_WEIGHTS_RESERVED_W0         0x00000000U  /* must be zero */
#define EDNN_LOAD_WEIGHTS_RESERVED_W1         0x00000000U  /* must be zero */
#define EDNN_LOAD_WEIGHTS_RESERVED_W2         0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_WEIGHTS_RESERVED_W3         0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_WEIGHTS_RESERVED_W4         0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_WEIGHTS_RESERVED_W5         0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_WEIGHTS_RESERVED_W6         0xFF0FFFFFU  /* must be zero */
#define EDNN_LOAD_WEIGHTS_RESERVED_W7         0x00000000U  /* must be zero */

/* ---- LOAD_PARAMS (opcode 0x22, unit LDW) */
#define EDNN_LOAD_PARAMS_STREAMS_WORD         6U  /* w6[23:20] 1..15 mask: streams of the role carrying the data (bit k = k-th stream of the role in overlay.toml order); the data is split into equal contiguous parts, one per selected stream (weights) */
#define EDNN_LOAD_PARAMS_STREAMS_SHIFT        20U
#define EDNN_LOAD_PARAMS_STREAMS_WIDTH        4U
#define EDNN_LOAD_PARAMS_STREAMS_MASK         0x00F00000U  /* in place */
#define EDNN_LOAD_PARAMS_STREAMS_SIGNED       0
#define EDNN_LOAD_PARAMS_STREAMS_MIN          1U
#define EDNN_LOAD_PARAMS_STREAMS_MAX          15U
#define EDNN_LOAD_PARAMS_DST_BASE_WORD        1U  /* w1[11:0] 0..4095 words: first params-buffer word written */
#define EDNN_LOAD_PARAMS_DST_BASE_SHIFT       0U
#define EDNN_LOAD_PARAMS_DST_BASE_WIDTH       12U
#define EDNN_LOAD_PARAMS_DST_BASE_MASK        0x00000FFFU  /* in place */
#define EDNN_LOAD_PARAMS_DST_BASE_SIGNED      0
#define EDNN_LOAD_PARAMS_DST_BASE_MIN         0U
#define EDNN_LOAD_PARAMS_DST_BASE_MAX         4095U
#define EDNN_LOAD_PARAMS_N_WORDS_WORD         1U  /* w1[27:16] 1..4095 words: params-buffer words written */
#define EDNN_LOAD_PARAMS_N_WORDS_SHIFT        16U
#define EDNN_LOAD_PARAMS_N_WORDS_WIDTH        12U
#define EDNN_LOAD_PARAMS_N_WORDS_MASK         0x0FFF0000U  /* in place */
#define EDNN_LOAD_PARAMS_N_WORDS_SIGNED       0
#define EDNN_LOAD_PARAMS_N_WORDS_MIN          1U
#define EDNN_LOAD_PARAMS_N_WORDS_MAX          4095U
#define EDNN_LOAD_PARAMS_RESERVED_W0          0x00000000U  /* must be zero */
#define EDNN_LOAD_PARAMS_RESERVED_W1          0xF000F000U  /* must be zero */
#define EDNN_LOAD_PARAMS_RESERVED_W2          0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_PARAMS_RESERVED_W3          0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_PARAMS_RESERVED_W4          0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_PARAMS_RESERVED_W5          0xFFFFFFFFU  /* must be zero */
#define EDNN_LOAD_PARAMS_RESERVED_W6          0xFF0FFFFFU  /* must be zero */
#define EDNN_LOAD_PARAMS_RESERVED_W7          0x00000000U  /* must be zero */

/* ---- COMPUTE_TILE (opcode 0x30, unit CMP) */
#define EDNN_COMPUTE_TILE_ACC_FIRST_WORD      6U  /* w6[20:20] 0..1: start the accumulators from the bias (else continue) */
#define EDNN_COMPUTE_TILE_ACC_FIRST_SHIFT     20U
#define EDNN_COMPUTE_TILE_ACC_FIRST_WIDTH     1U
#define EDNN_COMPUTE_TILE_ACC_FIRST_MASK      0x00100000U  /* in place */
#define EDNN_COMPUTE_TILE_ACC_FIRST_SIGNED    0
#define EDNN_COMPUTE_TILE_ACC_FIRST_MIN       0U
#define EDNN_COMPUTE_TILE_ACC_FIRST_MAX       1U
#define EDNN_COMPUTE_TILE_ACC_LAST_WORD       6U  /* w6[21:21] 0..1: requantize and write the outputs (else keep accumulating) */
#define EDNN_COMPUTE_TILE_ACC_LAST_SHIFT      21U
#define EDNN_COMPUTE_TILE_ACC_LAST_WIDTH      1U
#define EDNN_COMPUTE_TILE_ACC_LAST_MASK       0x00200000U  /* in place */
#define EDNN_COMPUTE_TILE_ACC_LAST_SIGNED     0
#define EDNN_COMPUTE_TILE_ACC_LAST_MIN        0U
#define EDNN_COMPUTE_TILE_ACC_LAST_MAX        1U
#define EDNN_COMPUTE_TILE_FUSE_ELTWISE_WORD   6U  /* w6[22:22] 0..1: apply the configured eltwise with operand b at res_base */
#define EDNN_COMPUTE_TILE_FUSE_ELTWISE_SHIFT  22U
#define EDNN_COMPUTE_TILE_FUSE_ELTWISE_WIDTH  1U
#define EDNN_COMPUTE_TILE_FUSE_ELTWISE_MASK   0x00400000U  /* in place */
#define EDNN_COMPUTE_TILE_FUSE_ELTWISE_SIGNED 0
#define EDNN_COMPUTE_TILE_FUSE_ELTWISE_MIN    0U
#define EDNN_COMPUTE_TILE_FUSE_ELTWISE_MAX    1U
#define EDNN_COMPUTE_TILE_OUT_MAP_WORD        6U  /* w6[23:23] 0..1: output region holds the whole map (else just this tile) */
#define EDNN_COMPUTE_TILE_OUT_MAP_SHIFT       23U
#define EDNN_COMPUTE_TILE_OUT_MAP_WIDTH       1U
#define EDNN_COMPUTE_TILE_OUT_MAP_MASK        0x00800000U  /* in place */
#define EDNN_COMPUTE_TILE_OUT_MAP_SIGNED      0
#define EDNN_COMPUTE_TILE_OUT_MAP_MIN         0U
#define EDNN_COMPUTE_TILE_OUT_MAP_MAX         1U
#define EDNN_COMPUTE_TILE_IN_BASE_WORD        1U  /* w1[19:0] 0..1048575 words: input-buffer word of (first channel block, row ih0, column 0) */
#define EDNN_COMPUTE_TILE_IN_BASE_SHIFT       0U
#define EDNN_COMPUTE_TILE_IN_BASE_WIDTH       20U
#define EDNN_COMPUTE_TILE_IN_BASE_MASK        0x000FFFFFU  /* in place */
#define EDNN_COMPUTE_TILE_IN_BASE_SIGNED      0
#define EDNN_COMPUTE_TILE_IN_BASE_MIN         0U
#define EDNN_COMPUTE_TILE_IN_BASE_MAX         1048575U
#define EDNN_COMPUTE_TILE_IN_CB_WORD          1U  /* w1[31:20] 1..4095 blocks: input channel blocks reduced (depthwise: equal to out_cb) */
#define EDNN_COMPUTE_TILE_IN_CB_SHIFT         20U
#define EDNN_COMPUTE_TILE_IN_CB_WIDTH         12U
#define EDNN_COMPUTE_TILE_IN_CB_MASK          0xFFF00000U  /* in place */
#define EDNN_COMPUTE_TILE_IN_CB_SIGNED        0
#define EDNN_COMPUTE_TILE_IN_CB_MIN           1U
#define EDNN_COMPUTE_TILE_IN_CB_MAX           4095U
#define EDNN_COMPUTE_TILE_IH0_WORD            2U  /* w2[15:0] 0..65535 px: input row held at in_base */
#define EDNN_COMPUTE_TILE_IH0_SHIFT           0U
#define EDNN_COMPUTE_TILE_IH0_WIDTH           16U
#define EDNN_COMPUTE_TILE_IH0_MASK            0x0000FFFFU  /* in place */
#define EDNN_COMPUTE_TILE_IH0_SIGNED          0
#define EDNN_COMPUTE_TILE_IH0_MIN             0U
#define EDNN_COMPUTE_TILE_IH0_MAX             65535U
#define EDNN_COMPUTE_TILE_IN_ROWS_WORD        2U  /* w2[31:16] 1..65535 px: input rows resident from ih0 */
#define EDNN_COMPUTE_TILE_IN_ROWS_SHIFT       16U
#define EDNN_COMPUTE_TILE_IN_ROWS_WIDTH       16U
#define EDNN_COMPUTE_TILE_IN_ROWS_MASK        0xFFFF0000U  /* in place */
#define EDNN_COMPUTE_TILE_IN_ROWS_SIGNED      0
#define EDNN_COMPUTE_TILE_IN_ROWS_MIN         1U
#define EDNN_COMPUTE_TILE_IN_ROWS_MAX         65535U
#define EDNN_COMPUTE_TILE_OH0_WORD            3U  /* w3[15:0] 0..65535 px: first output row of the tile */
#define EDNN_COMPUTE_TILE_OH0_SHIFT           0U
#define EDNN_COMPUTE_TILE_OH0_WIDTH           16U
#define EDNN_COMPUTE_TILE_OH0_MASK            0x0000FFFFU  /* in place */
#define EDNN_COMPUTE_TILE_OH0_SIGNED          0
#define EDNN_COMPUTE_TILE_OH0_MIN             0U
#define EDNN_COMPUTE_TILE_OH0_MAX             65535U
#define EDNN_COMPUTE_TILE_N_OH_WORD           3U  /* w3[31:16] 1..65535 px: output rows in the tile */
#define EDNN_COMPUTE_TILE_N_OH_SHIFT          16U
#define EDNN_COMPUTE_TILE_N_OH_WIDTH          16U
#define EDNN_COMPUTE_TILE_N_OH_MASK           0xFFFF0000U  /* in place */
#define EDNN_COMPUTE_TILE_N_OH_SIGNED         0
#define EDNN_COMPUTE_TILE_N_OH_MIN            1U
#define EDNN_COMPUTE_TILE_N_OH_MAX            65535U
#define EDNN_COMPUTE_TILE_OUT_BASE_WORD       4U  /* w4[19:0] 0..1048575 words: output-buffer word of the region */
#define EDNN_COMPUTE_TILE_OUT_BASE_SHIFT      0U
#define EDNN_COMPUTE_TILE_OUT_BASE_WIDTH      20U
#define EDNN_COMPUTE_TILE_OUT_BASE_MASK       0x000FFFFFU  /* in place */
#define EDNN_COMPUTE_TILE_OUT_BASE_SIGNED     0
#define EDNN_COMPUTE_TILE_OUT_BASE_MIN        0U
#define EDNN_COMPUTE_TILE_OUT_BASE_MAX        1048575U
#define EDNN_COMPUTE_TILE_OUT_CB_WORD         4U  /* w4[31:20] 1..4095 blocks: output channel blocks computed */
#define EDNN_COMPUTE_TILE_OUT_CB_SHIFT        20U
#define EDNN_COMPUTE_TILE_OUT_CB_WIDTH        12U
#define EDNN_COMPUTE_TILE_OUT_CB_MASK         0xFFF00000U  /* in place */
#define EDNN_COMPUTE_TILE_OUT_CB_SIGNED       0
#define EDNN_COMPUTE_TILE_OUT_CB_MIN          1U
#define EDNN_COMPUTE_TILE_OUT_CB_MAX          4095U
#define EDNN_COMPUTE_TILE_W_BASE_WORD         5U  /* w5[15:0] 0..65535 words: weight-buffer word of the first group */
#define EDNN_COMPUTE_TILE_W_BASE_SHIFT        0U
#define EDNN_COMPUTE_TILE_W_BASE_WIDTH        16U
#define EDNN_COMPUTE_TILE_W_BASE_MASK         0x0000FFFFU  /* in place */
#define EDNN_COMPUTE_TILE_W_BASE_SIGNED       0
#define EDNN_COMPUTE_TILE_W_BASE_MIN          0U
#define EDNN_COMPUTE_TILE_W_BASE_MAX          65535U
#define EDNN_COMPUTE_TILE_P_BASE_WORD         5U  /* w5[27:16] 0..4095 words: params-buffer word of the first group */
#define EDNN_COMPUTE_TILE_P_BASE_SHIFT        16U
#define EDNN_COMPUTE_TILE_P_BASE_WIDTH        12U
#define EDNN_COMPUTE_TILE_P_BASE_MASK         0x0FFF0000U  /* in place */
#define EDNN_COMPUTE_TILE_P_BASE_SIGNED       0
#define EDNN_COMPUTE_TILE_P_BASE_MIN          0U
#define EDNN_COMPUTE_TILE_P_BASE_MAX          4095U
#define EDNN_COMPUTE_TILE_RES_BASE_WORD       6U  /* w6[19:0] 0..1048575 words: fused eltwise: input-buffer word of operand b's region (else 0) */
#define EDNN_COMPUTE_TILE_RES_BASE_SHIFT      0U
#define EDNN_COMPUTE_TILE_RES_BASE_WIDTH      20U
#define EDNN_COMPUTE_TILE_RES_BASE_MASK       0x000FFFFFU  /* in place */
#define EDNN_COMPUTE_TILE_RES_BASE_SIGNED     0
#define EDNN_COMPUTE_TILE_RES_BASE_MIN        0U
#define EDNN_COMPUTE_TILE_RES_BASE_MAX        1048575U
#define EDNN_COMPUTE_TILE_RESERVED_W0         0x00000000U  /* must be zero */
#define EDNN_COMPUTE_TILE_RESERVED_W1         0x00000000U  /* must be zero */
#define EDNN_COMPUTE_TILE_RESERVED_W2         0x00000000U  /* must be zero */
#define EDNN_COMPUTE_TILE_RESERVED_W3         0x00000000U  /* must be zero */
#define EDNN_COMPUTE_TILE_RESERVED_W4         0x00000000U  /* must be zero */
#define EDNN_COMPUTE_TILE_RESERVED_W5         0xF0000000U  /* must be zero */
#define EDNN_COMPUTE_TILE_RESERVED_W6         0xFF000000U  /* must be zero */
#define EDNN_COMPUTE_TILE_RESERVED_W7         0x00000000U  /* must be zero */

/* ---- POOL_TILE (opcode 0x31, unit VEC) */
#define EDNN_POOL_TILE_OUT_MAP_WORD           6U  /* w6[23:23] 0..1: output region holds the whole map (else just this tile) */
#define EDNN_POOL_TILE_OUT_MAP_SHIFT          23U
#define EDNN_POOL_TILE_OUT_MAP_WIDTH          1U
#define EDNN_POOL_TILE_OUT_MAP_MASK           0x00800000U  /* in place */
#define EDNN_POOL_TILE_OUT_MAP_SIGNED         0
#define EDNN_POOL_TILE_OUT_MAP_MIN            0U
#define EDNN_POOL_TILE_OUT_MAP_MAX            1U
#define EDNN_POOL_TILE_IN_BASE_WORD           1U  /* w1[19:0] 0..1048575 words: input-buffer word of (first channel block, row ih0, column 0) */
#define EDNN_POOL_TILE_IN_BASE_SHIFT          0U
#define EDNN_POOL_TILE_IN_BASE_WIDTH          20U
#define EDNN_POOL_TILE_IN_BASE_MASK           0x000FFFFFU  /* in place */
#define EDNN_POOL_TILE_IN_BASE_SIGNED         0
#define EDNN_POOL_TILE_IN_BASE_MIN            0U
#define EDNN_POOL_TILE_IN_BASE_MAX            1048575U
#define EDNN_POOL_TILE_N_CB_WORD              1U  /* w1[31:20] 1..4095 blocks: channel blocks pooled */
#define EDNN_POOL_TILE_N_CB_SHIFT             20U
#define EDNN_POOL_TILE_N_CB_WIDTH             12U
#define EDNN_POOL_TILE_N_CB_MASK              0xFFF00000U  /* in place */
#define EDNN_POOL_TILE_N_CB_SIGNED            0
#define EDNN_POOL_TILE_N_CB_MIN               1U
#define EDNN_POOL_TILE_N_CB_MAX               4095U
#define EDNN_POOL_TILE_IH0_WORD               2U  /* w2[15:0] 0..65535 px: input row held at in_base */
#define EDNN_POOL_TILE_IH0_SHIFT              0U
#define EDNN_POOL_TILE_IH0_WIDTH              16U
#define EDNN_POOL_TILE_IH0_MASK               0x0000FFFFU  /* in place */
#define EDNN_POOL_TILE_IH0_SIGNED             0
#define EDNN_POOL_TILE_IH0_MIN                0U
#define EDNN_POOL_TILE_IH0_MAX                65535U
#define EDNN_POOL_TILE_IN_ROWS_WORD           2U  /* w2[31:16] 1..65535 px: input rows resident from ih0 */
#define EDNN_POOL_TILE_IN_ROWS_SHIFT          16U
#define EDNN_POOL_TILE_IN_ROWS_WIDTH          16U
#define EDNN_POOL_TILE_IN_ROWS_MASK           0xFFFF0000U  /* in place */
#define EDNN_POOL_TILE_IN_ROWS_SIGNED         0
#define EDNN_POOL_TILE_IN_ROWS_MIN            1U
#define EDNN_POOL_TILE_IN_ROWS_MAX            65535U
#define EDNN_POOL_TILE_OH0_WORD               3U  /* w3[15:0] 0..65535 px: first output row of the tile */
#define EDNN_POOL_TILE_OH0_SHIFT              0U
#define EDNN_POOL_TILE_OH0_WIDTH              16U
#define EDNN_POOL_TILE_OH0_MASK               0x0000FFFFU  /* in place */
#define EDNN_POOL_TILE_OH0_SIGNED             0
#define EDNN_POOL_TILE_OH0_MIN                0U
#define EDNN_POOL_TILE_OH0_MAX                65535U
#define EDNN_POOL_TILE_N_OH_WORD              3U  /* w3[31:16] 1..65535 px: output rows in the tile */
#define EDNN_POOL_TILE_N_OH_SHIFT             16U
#define EDNN_POOL_TILE_N_OH_WIDTH             16U
#define EDNN_POOL_TILE_N_OH_MASK              0xFFFF0000U  /* in place */
#define EDNN_POOL_TILE_N_OH_SIGNED            0
#define EDNN_POOL_TILE_N_OH_MIN               1U
#define EDNN_POOL_TILE_N_OH_MAX               65535U
#define EDNN_POOL_TILE_OUT_BASE_WORD          4U  /* w4[19:0] 0..1048575 words: output-buffer word of the region */
#define EDNN_POOL_TILE_OUT_BASE_SHIFT         0U
#define EDNN_POOL_TILE_OUT_BASE_WIDTH         20U
#define EDNN_POOL_TILE_OUT_BASE_MASK          0x000FFFFFU  /* in place */
#define EDNN_POOL_TILE_OUT_BASE_SIGNED        0
#define EDNN_POOL_TILE_OUT_BASE_MIN           0U
#define EDNN_POOL_TILE_OUT_BASE_MAX           1048575U
#define EDNN_POOL_TILE_P_BASE_WORD            5U  /* w5[11:0] 0..4095 words: average pooling: params-buffer word of the divisor table */
#define EDNN_POOL_TILE_P_BASE_SHIFT           0U
#define EDNN_POOL_TILE_P_BASE_WIDTH           12U
#define EDNN_POOL_TILE_P_BASE_MASK            0x00000FFFU  /* in place */
#define EDNN_POOL_TILE_P_BASE_SIGNED          0
#define EDNN_POOL_TILE_P_BASE_MIN             0U
#define EDNN_POOL_TILE_P_BASE_MAX             4095U
#define EDNN_POOL_TILE_RESERVED_W0            0x00000000U  /* must be zero */
#define EDNN_POOL_TILE_RESERVED_W1            0x00000000U  /* must be zero */
#define EDNN_POOL_TILE_RESERVED_W2            0x00000000U  /* must be zero */
#define EDNN_POOL_TILE_RESERVED_W3            0x00000000U  /* must be zero */
#define EDNN_POOL_TILE_RESERVED_W4            0xFFF00000U  /* must be zero */
#define EDNN_POOL_TILE_RESERVED_W5            0xFFFFF000U  /* must be zero */
#define EDNN_POOL_TILE_RESERVED_W6            0xFF7FFFFFU  /* must be zero */
#define EDNN_POOL_TILE_RESERVED_W7            0x00000000U  /* must be zero */

/* ---- ELTWISE_TILE (opcode 0x32, unit CMP) */
#define EDNN_ELTWISE_TILE_A_BASE_WORD         1U  /* w1[19:0] 0..1048575 words: input-buffer word of operand a */
#define EDNN_ELTWISE_TILE_A_BASE_SHIFT        0U
#define EDNN_ELTWISE_TILE_A_BASE_WIDTH        20U
#define EDNN_ELTWISE_TILE_A_BASE_MASK         0x000FFFFFU  /* in place */
#define EDNN_ELTWISE_TILE_A_BASE_SIGNED       0
#define EDNN_ELTWISE_TILE_A_BASE_MIN          0U
#define EDNN_ELTWISE_TILE_A_BASE_MAX          1048575U
#define EDNN_ELTWISE_TILE_B_BASE_WORD         2U  /* w2[19:0] 0..1048575 words: input-buffer word of operand b */
#define EDNN_ELTWISE_TILE_B_BASE_SHIFT        0U
#define EDNN_ELTWISE_TILE_B_BASE_WIDTH        20U
#define EDNN_ELTWISE_TILE_B_BASE_MASK         0x000FFFFFU  /* in place */
#define EDNN_ELTWISE_TILE_B_BASE_SIGNED       0
#define EDNN_ELTWISE_TILE_B_BASE_MIN          0U
#define EDNN_ELTWISE_TILE_B_BASE_MAX          1048575U
#define EDNN_ELTWISE_TILE_OUT_BASE_WORD       3U  /* w3[19:0] 0..1048575 words: output-buffer word of the result */
#define EDNN_ELTWISE_TILE_OUT_BASE_SHIFT      0U
#define EDNN_ELTWISE_TILE_OUT_BASE_WIDTH      20U
#define EDNN_ELTWISE_TILE_OUT_BASE_MASK       0x000FFFFFU  /* in place */
#define EDNN_ELTWISE_TILE_OUT_BASE_SIGNED     0
#define EDNN_ELTWISE_TILE_OUT_BASE_MIN        0U
#define EDNN_ELTWISE_TILE_OUT_BASE_MAX        1048575U
#define EDNN_ELTWISE_TILE_N_WORDS_WORD        4U  /* w4[19:0] 1..1048575 words: words of each operand */
#define EDNN_ELTWISE_TILE_N_WORDS_SHIFT       0U
#define EDNN_ELTWISE_TILE_N_WORDS_WIDTH       20U
#define EDNN_ELTWISE_TILE_N_WORDS_MASK        0x000FFFFFU  /* in place */
#define EDNN_ELTWISE_TILE_N_WORDS_SIGNED      0
#define EDNN_ELTWISE_TILE_N_WORDS_MIN         1U
#define EDNN_ELTWISE_TILE_N_WORDS_MAX         1048575U
#define EDNN_ELTWISE_TILE_RESERVED_W0         0x00000000U  /* must be zero */
#define EDNN_ELTWISE_TILE_RESERVED_W1         0xFFF00000U  /* must be zero */
#define EDNN_ELTWISE_TILE_RESERVED_W2         0xFFF00000U  /* must be zero */
#define EDNN_ELTWISE_TILE_RESERVED_W3         0xFFF00000U  /* must be zero */
#define EDNN_ELTWISE_TILE_RESERVED_W4         0xFFF00000U  /* must be zero */
#define EDNN_ELTWISE_TILE_RESERVED_W5         0xFFFFFFFFU  /* must be zero */
#define EDNN_ELTWISE_TILE_RESERVED_W6         0xFFFFFFFFU  /* must be zero */
#define EDNN_ELTWISE_TILE_RESERVED_W7         0x00000000U  /* must be zero */

/* ---- NORM_TILE (opcode 0x33, unit VEC) */
#define EDNN_NORM_TILE_OUT_MAP_WORD           6U  /* w6[23:23] 0..1: output region holds the whole map (else just this tile) */
#define EDNN_NORM_TILE_OUT_MAP_SHIFT          23U
#define EDNN_NORM_TILE_OUT_MAP_WIDTH          1U
#define EDNN_NORM_TILE_OUT_MAP_MASK           0x00800000U  /* in place */
#define EDNN_NORM_TILE_OUT_MAP_SIGNED         0
#define EDNN_NORM_TILE_OUT_MAP_MIN            0U
#define EDNN_NORM_TILE_OUT_MAP_MAX            1U
#define EDNN_NORM_TILE_IN_BASE_WORD           1U  /* w1[19:0] 0..1048575 words: input-buffer word of (first channel block, row ih0, column 0) */
#define EDNN_NORM_TILE_IN_BASE_SHIFT          0U
#define EDNN_NORM_TILE_IN_BASE_WIDTH          20U
#define EDNN_NORM_TILE_IN_BASE_MASK           0x000FFFFFU  /* in place */
#define EDNN_NORM_TILE_IN_BASE_SIGNED         0
#define EDNN_NORM_TILE_IN_BASE_MIN            0U
#define EDNN_NORM_TILE_IN_BASE_MAX            1048575U
#define EDNN_NORM_TILE_N_CB_WORD              1U  /* w1[31:20] 1..4095 blocks: channel blocks: all blocks of the map (the window spans blocks) */
#define EDNN_NORM_TILE_N_CB_SHIFT             20U
#define EDNN_NORM_TILE_N_CB_WIDTH             12U
#define EDNN_NORM_TILE_N_CB_MASK              0xFFF00000U  /* in place */
#define EDNN_NORM_TILE_N_CB_SIGNED            0
#define EDNN_NORM_TILE_N_CB_MIN               1U
#define EDNN_NORM_TILE_N_CB_MAX               4095U
#define EDNN_NORM_TILE_IH0_WORD               2U  /* w2[15:0] 0..65535 px: input row held at in_base */
#define EDNN_NORM_TILE_IH0_SHIFT              0U
#define EDNN_NORM_TILE_IH0_WIDTH              16U
#define EDNN_NORM_TILE_IH0_MASK               0x0000FFFFU  /* in place */
#define EDNN_NORM_TILE_IH0_SIGNED             0
#define EDNN_NORM_TILE_IH0_MIN                0U
#define EDNN_NORM_TILE_IH0_MAX                65535U
#define EDNN_NORM_TILE_IN_ROWS_WORD           2U  /* w2[31:16] 1..65535 px: input rows resident from ih0 */
#define EDNN_NORM_TILE_IN_ROWS_SHIFT          16U
#define EDNN_NORM_TILE_IN_ROWS_WIDTH          16U
#define EDNN_NORM_TILE_IN_ROWS_MASK           0xFFFF0000U  /* in place */
#define EDNN_NORM_TILE_IN_ROWS_SIGNED         0
#define EDNN_NORM_TILE_IN_ROWS_MIN            1U
#define EDNN_NORM_TILE_IN_ROWS_MAX            65535U
#define EDNN_NORM_TILE_OH0_WORD               3U  /* w3[15:0] 0..65535 px: first row of the tile */
#define EDNN_NORM_TILE_OH0_SHIFT              0U
#define EDNN_NORM_TILE_OH0_WIDTH              16U
#define EDNN_NORM_TILE_OH0_MASK               0x0000FFFFU  /* in place */
#define EDNN_NORM_TILE_OH0_SIGNED             0
#define EDNN_NORM_TILE_OH0_MIN                0U
#define EDNN_NORM_TILE_OH0_MAX                65535U
#define EDNN_NORM_TILE_N_OH_WORD              3U  /* w3[31:16] 1..65535 px: rows in the tile */
#define EDNN_NORM_TILE_N_OH_SHIFT             16U
#define EDNN_NORM_TILE_N_OH_WIDTH             16U
#define EDNN_NORM_TILE_N_OH_MASK              0xFFFF0000U  /* in place */
#define EDNN_NORM_TILE_N_OH_SIGNED            0
#define EDNN_NORM_TILE_N_OH_MIN               1U
#define EDNN_NORM_TILE_N_OH_MAX               65535U
#define EDNN_NORM_TILE_OUT_BASE_WORD          4U  /* w4[19:0] 0..1048575 words: output-buffer word of the region */
#define EDNN_NORM_TILE_OUT_BASE_SHIFT         0U
#define EDNN_NORM_TILE_OUT_BASE_WIDTH         20U
#define EDNN_NORM_TILE_OUT_BASE_MASK          0x000FFFFFU  /* in place */
#define EDNN_NORM_TILE_OUT_BASE_SIGNED        0
#define EDNN_NORM_TILE_OUT_BASE_MIN           0U
#define EDNN_NORM_TILE_OUT_BASE_MAX           1048575U
#define EDNN_NORM_TILE_P_BASE_WORD            5U  /* w5[11:0] 0..4095 words: params-buffer word of the factor table (256 x uint16) */
#define EDNN_NORM_TILE_P_BASE_SHIFT           0U
#define EDNN_NORM_TILE_P_BASE_WIDTH           12U
#define EDNN_NORM_TILE_P_BASE_MASK            0x00000FFFU  /* in place */
#define EDNN_NORM_TILE_P_BASE_SIGNED          0
#define EDNN_NORM_TILE_P_BASE_MIN             0U
#define EDNN_NORM_TILE_P_BASE_MAX             4095U
#define EDNN_NORM_TILE_RESERVED_W0            0x00000000U  /* must be zero */
#define EDNN_NORM_TILE_RESERVED_W1            0x00000000U  /* must be zero */
#define EDNN_NORM_TILE_RESERVED_W2            0x00000000U  /* must be zero */
#define EDNN_NORM_TILE_RESERVED_W3            0x00000000U  /* must be zero */
#define EDNN_NORM_TILE_RESERVED_W4            0xFFF00000U  /* must be zero */
#define EDNN_NORM_TILE_RESERVED_W5            0xFFFFF000U  /* must be zero */
#define EDNN_NORM_TILE_RESERVED_W6            0xFF7FFFFFU  /* must be zero */
#define EDNN_NORM_TILE_RESERVED_W7            0x00000000U  /* must be zero */

/* ---- STORE_TILE (opcode 0x40, unit ST) */
#define EDNN_STORE_TILE_STREAMS_WORD          6U  /* w6[23:20] 0..15 mask: streams of the role carrying the data (bit k = k-th stream of the role in overlay.toml order); the data is split into equal contiguous parts, one per selected stream (act_out); 0 with loopback */
#define EDNN_STORE_TILE_STREAMS_SHIFT         20U
#define EDNN_STORE_TILE_STREAMS_WIDTH         4U
#define EDNN_STORE_TILE_STREAMS_MASK          0x00F00000U  /* in place */
#define EDNN_STORE_TILE_STREAMS_SIGNED        0
#define EDNN_STORE_TILE_STREAMS_MIN           0U
#define EDNN_STORE_TILE_STREAMS_MAX           15U
#define EDNN_STORE_TILE_LOOPBACK_WORD         6U  /* w6[24:24] 0..1: write into the input buffer instead of the act_out streams */
#define EDNN_STORE_TILE_LOOPBACK_SHIFT        24U
#define EDNN_STORE_TILE_LOOPBACK_WIDTH        1U
#define EDNN_STORE_TILE_LOOPBACK_MASK         0x01000000U  /* in place */
#define EDNN_STORE_TILE_LOOPBACK_SIGNED       0
#define EDNN_STORE_TILE_LOOPBACK_MIN          0U
#define EDNN_STORE_TILE_LOOPBACK_MAX          1U
#define EDNN_STORE_TILE_SRC_BASE_WORD         1U  /* w1[19:0] 0..1048575 words: output-buffer word of the first block */
#define EDNN_STORE_TILE_SRC_BASE_SHIFT        0U
#define EDNN_STORE_TILE_SRC_BASE_WIDTH        20U
#define EDNN_STORE_TILE_SRC_BASE_MASK         0x000FFFFFU  /* in place */
#define EDNN_STORE_TILE_SRC_BASE_SIGNED       0
#define EDNN_STORE_TILE_SRC_BASE_MIN          0U
#define EDNN_STORE_TILE_SRC_BASE_MAX          1048575U
#define EDNN_STORE_TILE_N_BLOCKS_WORD         1U  /* w1[31:20] 1..4095 blocks: blocks copied */
#define EDNN_STORE_TILE_N_BLOCKS_SHIFT        20U
#define EDNN_STORE_TILE_N_BLOCKS_WIDTH        12U
#define EDNN_STORE_TILE_N_BLOCKS_MASK         0xFFF00000U  /* in place */
#define EDNN_STORE_TILE_N_BLOCKS_SIGNED       0
#define EDNN_STORE_TILE_N_BLOCKS_MIN          1U
#define EDNN_STORE_TILE_N_BLOCKS_MAX          4095U
#define EDNN_STORE_TILE_BLOCK_WORDS_WORD      2U  /* w2[19:0] 1..1048575 words: words per block */
#define EDNN_STORE_TILE_BLOCK_WORDS_SHIFT     0U
#define EDNN_STORE_TILE_BLOCK_WORDS_WIDTH     20U
#define EDNN_STORE_TILE_BLOCK_WORDS_MASK      0x000FFFFFU  /* in place */
#define EDNN_STORE_TILE_BLOCK_WORDS_SIGNED    0
#define EDNN_STORE_TILE_BLOCK_WORDS_MIN       1U
#define EDNN_STORE_TILE_BLOCK_WORDS_MAX       1048575U
#define EDNN_STORE_TILE_SRC_PITCH_WORD        3U  /* w3[19:0] 0..1048575 words: output-buffer distance of blocks */
#define EDNN_STORE_TILE_SRC_PITCH_SHIFT       0U
#define EDNN_STORE_TILE_SRC_PITCH_WIDTH       20U
#define EDNN_STORE_TILE_SRC_PITCH_MASK        0x000FFFFFU  /* in place */
#define EDNN_STORE_TILE_SRC_PITCH_SIGNED      0
#define EDNN_STORE_TILE_SRC_PITCH_MIN         0U
#define EDNN_STORE_TILE_SRC_PITCH_MAX         1048575U
#define EDNN_STORE_TILE_DST_BASE_WORD         4U  /* w4[19:0] 0..1048575 words: loopback: input-buffer word (else 0) */
#define EDNN_STORE_TILE_DST_BASE_SHIFT        0U
#define EDNN_STORE_TILE_DST_BASE_WIDTH        20U
#define EDNN_STORE_TILE_DST_BASE_MASK         0x000FFFFFU  /* in place */
#define EDNN_STORE_TILE_DST_BASE_SIGNED       0
#define EDNN_STORE_TILE_DST_BASE_MIN          0U
#define EDNN_STORE_TILE_DST_BASE_MAX          1048575U
#define EDNN_STORE_TILE_DST_PITCH_WORD        5U  /* w5[19:0] 0..1048575 words: loopback: input-buffer distance of blocks (else 0) */
#define EDNN_STORE_TILE_DST_PITCH_SHIFT       0U
#define EDNN_STORE_TILE_DST_PITCH_WIDTH       20U
#define EDNN_STORE_TILE_DST_PITCH_MASK        0x000FFFFFU  /* in place */
#define EDNN_STORE_TILE_DST_PITCH_SIGNED      0
#define EDNN_STORE_TILE_DST_PITCH_MIN         0U
#define EDNN_STORE_TILE_DST_PITCH_MAX         1048575U
#define EDNN_STORE_TILE_RESERVED_W0           0x00000000U  /* must be zero */
#define EDNN_STORE_TILE_RESERVED_W1           0x00000000U  /* must be zero */
#define EDNN_STORE_TILE_RESERVED_W2           0xFFF00000U  /* must be zero */
#define EDNN_STORE_TILE_RESERVED_W3           0xFFF00000U  /* must be zero */
#define EDNN_STORE_TILE_RESERVED_W4           0xFFF00000U  /* must be zero */
#define EDNN_STORE_TILE_RESERVED_W5           0xFFF00000U  /* must be zero */
#define EDNN_STORE_TILE_RESERVED_W6           0xFE0FFFFFU  /* must be zero */
#define EDNN_STORE_TILE_RESERVED_W7           0x00000000U  /* must be zero */

/* ---- helpers (C99 / C++; usable in Vitis HLS) */

/* Unsigned value of field F (a prefix such as EDNN_COMPUTE_TILE_IN_BASE) of words w[8]. */
#define EDNN_GET_U(w, F) ednn_field_u((w), F##_WORD, F##_MASK, F##_SHIFT)
/* Sign-extended value of a signed field. */
#define EDNN_GET_S(w, F) ednn_field_s((w), F##_WORD, F##_MASK, F##_SHIFT, F##_WIDTH)

static inline uint32_t ednn_field_u(const uint32_t *w, unsigned word, uint32_t mask,
                                    unsigned shift) {
    return (w[word] & mask) >> shift;
}

static inline int32_t ednn_field_s(const uint32_t *w, unsigned word, uint32_t mask,
                                   unsigned shift, unsigned width) {
    const uint32_t v = (w[word] & mask) >> shift;
    int64_t x = (int64_t)v;
    if ((v >> (width - 1U)) & 1U) {
        x -= (int64_t)1 << width;
    }
    return (int32_t)x;
}

/* CRC-16/CCITT-FALSE over n bytes (instruction check: bytes 0..29 of the instruction). */
static inline uint16_t ednn_crc16(const uint8_t *p, unsigned n) {
    uint32_t c = EDNN_ISA_CRC16_INIT;
    for (unsigned i = 0; i < n; ++i) {
        c ^= (uint32_t)p[i] << 8;
        for (unsigned b = 0; b < 8; ++b) {
            c = (c & 0x8000U) ? ((c << 1) ^ EDNN_ISA_CRC16_POLY) : (c << 1);
        }
        c &= 0xFFFFU;
    }
    return (uint16_t)c;
}

/* CRC-32 (IEEE 802.3 / zlib) over n bytes (header: bytes 0..27; body: all instructions). */
static inline uint32_t ednn_crc32_update(uint32_t crc, const uint8_t *p, unsigned n) {
    uint32_t c = ~crc;
    for (unsigned i = 0; i < n; ++i) {
        c ^= p[i];
        for (unsigned b = 0; b < 8; ++b) {
            c = (c & 1U) ? ((c >> 1) ^ EDNN_ISA_CRC32_POLY_REFLECTED) : (c >> 1);
        }
    }
    return ~c;
}

static inline uint32_t ednn_crc32(const uint8_t *p, unsigned n) {
    return ednn_crc32_update(0U, p, n);
}

/* The check an instruction's CRC16 field must hold, from its 8 words (host-endian safe). */
static inline uint16_t ednn_instr_crc16(const uint32_t *w) {
    uint8_t b[EDNN_ISA_CRC16_COVERED_BYTES];
    for (unsigned i = 0; i < EDNN_ISA_CRC16_COVERED_BYTES; ++i) {
        b[i] = (uint8_t)(w[i / 4U] >> (8U * (i % 4U)));
    }
    return ednn_crc16(b, EDNN_ISA_CRC16_COVERED_BYTES);
}

#endif  /* EDGE_DNN_ISA_H */
