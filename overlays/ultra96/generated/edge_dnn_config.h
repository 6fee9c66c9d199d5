/*
 * edge_dnn_config.h: GENERATED FILE, DO NOT EDIT.
 * Source: ultra96/overlay.toml (overlay 'ultra96' v2.0.0, xczu3eg-sbva484-1-e)
 * Configuration hash (sha256): 6c615c5cd7bf3de8738b0bc7ef6a466eb374c91375ce4154d1f3cb052735f81c
 * Regenerate with `python tools/gen_overlay_headers.py`; CI runs it with --check.
 */
#ifndef EDGE_DNN_CONFIG_H
#define EDGE_DNN_CONFIG_H

/* ---- overlay identity */
#define EDNN_OVERLAY_NAME                     "ultra96"
#define EDNN_OVERLAY_VERSION                  "2.0.0"
#define EDNN_OVERLAY_VERSION_WORD             0x00020000U  /* major<<16|minor<<8|patch */
#define EDNN_PART                             "xczu3eg-sbva484-1-e"
#define EDNN_SCHEMA_VERSION                   1U  /* overlay.toml schema */
#define EDNN_CONFIG_HASH                      "6c615c5cd7bf3de8738b0bc7ef6a466eb374c91375ce4154d1f3cb052735f81c"  /* sha256 of the semantic configuration */
#define EDNN_CONFIG_HASH0                     0x6C615C5CU  /* hash bytes 0-3 */
#define EDNN_CONFIG_HASH1                     0xD7BF3DE8U  /* hash bytes 4-7 */

/* ---- clocks */
#define EDNN_FABRIC_KHZ                       250000U  /* engine clock, kHz */
#define EDNN_DSP_KHZ                          250000U  /* DSP48E2 clock, kHz */
#define EDNN_DSP_PUMP                         1U  /* DSP cycles per engine cycle */

/* ---- PE array */
#define EDNN_PE_OUT_CHANNELS                  16U  /* output channels in parallel (int8) */
#define EDNN_PE_IN_CHANNELS                   4U  /* input channels reduced per cycle */
#define EDNN_PE_PIXELS                        8U  /* output pixels in parallel */
#define EDNN_REQUANT_LANES                    8U  /* accumulators requantized per cycle */
#define EDNN_VECTOR_LANES                     8U  /* vector-unit elements per cycle */
#define EDNN_LINE_BUFFER_WORDS                512U  /* window-unit line buffer, 64-bit words (partial rows of pooling windows) */
#define EDNN_ACC_BITS                         48U  /* accumulator width, bits */
#define EDNN_DSP_PACK_SHIFT                   18U  /* distance of the two packed int8 weights, bits */
#define EDNN_MACS_PER_DSP_INT8                2U  /* int8 MACs per DSP cycle */
#define EDNN_MACS_PER_CYCLE                   512U  /* int8 MACs per engine cycle */
#define EDNN_MACS_PER_CYCLE_INT16             256U  /* int16 MACs per engine cycle */
#define EDNN_COMPUTE_DSPS                     256U  /* DSP48E2 of the PE array */
#define EDNN_ACCUMULATORS                     128U  /* out_channels x pixels */
#define EDNN_PARAM_BITS_PER_CHANNEL           64U  /* bias, M, S slot (int8 mode) */
#define EDNN_SUPPORTS_INT8                    1U  /* int8 mode available */
#define EDNN_SUPPORTS_INT16                   1U  /* int16 mode available */

/* ---- memory kinds, stream roles */
#define EDNN_MEM_BRAM                         0U
#define EDNN_MEM_URAM                         1U
#define EDNN_MEM_LUTRAM                       2U
#define EDNN_ROLE_CMD                         0U
#define EDNN_ROLE_WEIGHTS                     1U
#define EDNN_ROLE_ACT_IN                      2U
#define EDNN_ROLE_ACT_OUT                     3U

/* ---- on-chip buffers (banks x depth words x width bits) */
#define EDNN_BUF_INPUT_MEMORY                 0U  /* EDNN_MEM_BRAM */
#define EDNN_BUF_INPUT_BANKS                  8U
#define EDNN_BUF_INPUT_DEPTH                  4096U  /* words per bank */
#define EDNN_BUF_INPUT_WIDTH_BITS             64U  /* bits per word */
#define EDNN_BUF_INPUT_ADDR_BITS              12U  /* word-address bits */
#define EDNN_BUF_INPUT_BYTES                  262144U  /* capacity */
#define EDNN_BUF_WEIGHT_MEMORY                0U  /* EDNN_MEM_BRAM */
#define EDNN_BUF_WEIGHT_BANKS                 1U
#define EDNN_BUF_WEIGHT_DEPTH                 4096U  /* words per bank */
#define EDNN_BUF_WEIGHT_WIDTH_BITS            512U  /* bits per word */
#define EDNN_BUF_WEIGHT_ADDR_BITS             12U  /* word-address bits */
#define EDNN_BUF_WEIGHT_BYTES                 262144U  /* capacity */
#define EDNN_BUF_OUTPUT_MEMORY                0U  /* EDNN_MEM_BRAM */
#define EDNN_BUF_OUTPUT_BANKS                 1U
#define EDNN_BUF_OUTPUT_DEPTH                 4096U  /* words per bank */
#define EDNN_BUF_OUTPUT_WIDTH_BITS            64U  /* bits per word */
#define EDNN_BUF_OUTPUT_ADDR_BITS             12U  /* word-address bits */
#define EDNN_BUF_OUTPUT_BYTES                 32768U  /* capacity */
#define EDNN_BUF_PARAMS_MEMORY                2U  /* EDNN_MEM_LUTRAM */
#define EDNN_BUF_PARAMS_BANKS                 1U
#define EDNN_BUF_PARAMS_DEPTH                 64U  /* words per bank */
#define EDNN_BUF_PARAMS_WIDTH_BITS            1024U  /* bits per word */
#define EDNN_BUF_PARAMS_ADDR_BITS             6U  /* word-address bits */
#define EDNN_BUF_PARAMS_BYTES                 8192U  /* capacity */

/* ---- AXI-Stream interfaces */
#define EDNN_NUM_STREAMS                      4U
#define EDNN_NUM_CMD_STREAMS                  1U
#define EDNN_NUM_WEIGHTS_STREAMS              1U
#define EDNN_NUM_ACT_IN_STREAMS               1U
#define EDNN_NUM_ACT_OUT_STREAMS              1U
#define EDNN_STREAM_CMD_ROLE                  0U  /* EDNN_ROLE_CMD */
#define EDNN_STREAM_CMD_WIDTH_BITS            64U  /* TDATA bits */
#define EDNN_STREAM_CMD_BYTES_PER_BEAT        8U
#define EDNN_STREAM_WEIGHTS0_ROLE             1U  /* EDNN_ROLE_WEIGHTS */
#define EDNN_STREAM_WEIGHTS0_WIDTH_BITS       128U  /* TDATA bits */
#define EDNN_STREAM_WEIGHTS0_BYTES_PER_BEAT   16U
#define EDNN_STREAM_ACT_IN_ROLE               2U  /* EDNN_ROLE_ACT_IN */
#define EDNN_STREAM_ACT_IN_WIDTH_BITS         128U  /* TDATA bits */
#define EDNN_STREAM_ACT_IN_BYTES_PER_BEAT     16U
#define EDNN_STREAM_ACT_OUT_ROLE              3U  /* EDNN_ROLE_ACT_OUT */
#define EDNN_STREAM_ACT_OUT_WIDTH_BITS        128U  /* TDATA bits */
#define EDNN_STREAM_ACT_OUT_BYTES_PER_BEAT    16U

/* ---- external memory */
#define EDNN_DDR_BUS_BITS                     32U
#define EDNN_DDR_MTS                          2133U  /* MT/s */
#define EDNN_DDR_SIZE_MIB                     2048U
#define EDNN_HP_PORT_BITS                     128U

/* ---- PS address map and interrupts */
#define EDNN_ENGINE_BASE_ADDR                 0xA0000000ULL  /* AXI-Lite base */
#define EDNN_ENGINE_ADDR_RANGE                0x10000U
#define EDNN_ENGINE_IRQ                       0U  /* interrupt-controller input */
#define EDNN_INTC_BASE_ADDR                   0xA0080000ULL
#define EDNN_INTC_ADDR_RANGE                  0x10000U
#define EDNN_INTC_INPUTS                      32U
#define EDNN_PS_IRQ                           121U  /* GIC ID of the PL-to-PS line */
#define EDNN_NUM_DMAS                         3U
#define EDNN_DMA_WEIGHTS0_BASE_ADDR           0xA0010000ULL  /* HP0 */
#define EDNN_DMA_WEIGHTS0_ADDR_RANGE          0x10000U
#define EDNN_DMA_WEIGHTS0_SG_LENGTH_WIDTH     26U
#define EDNN_DMA_WEIGHTS0_MM2S_IRQ            1U  /* MM2S -> stream weights0 */
#define EDNN_DMA_ACT_BASE_ADDR                0xA0030000ULL  /* HP1 */
#define EDNN_DMA_ACT_ADDR_RANGE               0x10000U
#define EDNN_DMA_ACT_SG_LENGTH_WIDTH          26U
#define EDNN_DMA_ACT_MM2S_IRQ                 2U  /* MM2S -> stream act_in */
#define EDNN_DMA_ACT_S2MM_IRQ                 3U  /* S2MM <- stream act_out */
#define EDNN_DMA_CMD_BASE_ADDR                0xA0050000ULL  /* HPC0 */
#define EDNN_DMA_CMD_ADDR_RANGE               0x10000U
#define EDNN_DMA_CMD_SG_LENGTH_WIDTH          26U
#define EDNN_DMA_CMD_MM2S_IRQ                 4U  /* MM2S -> stream cmd */

/* ---- AXI-Lite registers (byte offsets from EDNN_ENGINE_BASE_ADDR) */
#define EDNN_REG_CONTROL_OFFSET               0x0U  /* rw control: START (self-clearing) runs the command stream; SOFT_RESET returns to idle and flushes the stream FIFOs */
#define EDNN_REG_CONTROL_START_SHIFT          0U
#define EDNN_REG_CONTROL_START_WIDTH          1U
#define EDNN_REG_CONTROL_START_MASK           0x1U
#define EDNN_REG_CONTROL_SOFT_RESET_SHIFT     1U
#define EDNN_REG_CONTROL_SOFT_RESET_WIDTH     1U
#define EDNN_REG_CONTROL_SOFT_RESET_MASK      0x2U
#define EDNN_REG_CONTROL_IRQ_ENABLE_SHIFT     2U
#define EDNN_REG_CONTROL_IRQ_ENABLE_WIDTH     1U
#define EDNN_REG_CONTROL_IRQ_ENABLE_MASK      0x4U
#define EDNN_REG_CONTROL_CLEAR_COUNTERS_SHIFT 3U
#define EDNN_REG_CONTROL_CLEAR_COUNTERS_WIDTH 1U
#define EDNN_REG_CONTROL_CLEAR_COUNTERS_MASK  0x8U
#define EDNN_REG_STATUS_OFFSET                0x4U  /* ro control: DONE and ERROR stay set until the next START or SOFT_RESET */
#define EDNN_REG_STATUS_IDLE_SHIFT            0U
#define EDNN_REG_STATUS_IDLE_WIDTH            1U
#define EDNN_REG_STATUS_IDLE_MASK             0x1U
#define EDNN_REG_STATUS_BUSY_SHIFT            1U
#define EDNN_REG_STATUS_BUSY_WIDTH            1U
#define EDNN_REG_STATUS_BUSY_MASK             0x2U
#define EDNN_REG_STATUS_DONE_SHIFT            2U
#define EDNN_REG_STATUS_DONE_WIDTH            1U
#define EDNN_REG_STATUS_DONE_MASK             0x4U
#define EDNN_REG_STATUS_ERROR_SHIFT           3U
#define EDNN_REG_STATUS_ERROR_WIDTH           1U
#define EDNN_REG_STATUS_ERROR_MASK            0x8U
#define EDNN_REG_STATUS_ERROR_CODE_SHIFT      8U
#define EDNN_REG_STATUS_ERROR_CODE_WIDTH      8U
#define EDNN_REG_STATUS_ERROR_CODE_MASK       0xFF00U
#define EDNN_REG_IRQ_STATUS_OFFSET            0x8U  /* w1c control: pending interrupt causes; write 1 to clear */
#define EDNN_REG_IRQ_STATUS_DONE_SHIFT        0U
#define EDNN_REG_IRQ_STATUS_DONE_WIDTH        1U
#define EDNN_REG_IRQ_STATUS_DONE_MASK         0x1U
#define EDNN_REG_IRQ_STATUS_ERROR_SHIFT       1U
#define EDNN_REG_IRQ_STATUS_ERROR_WIDTH       1U
#define EDNN_REG_IRQ_STATUS_ERROR_MASK        0x2U
#define EDNN_REG_SCRATCH_OFFSET               0xCU  /* rw control: free read/write word for bus tests */
#define EDNN_REG_ID_MAGIC_OFFSET              0x100U  /* ro identity: 0x45444E4E, ASCII EDNN */
#define EDNN_REG_ID_MAGIC_VALUE               0x45444E4EU  /* identity: magic */
#define EDNN_REG_ID_VERSION_OFFSET            0x104U  /* ro identity: major<<16 | minor<<8 | patch */
#define EDNN_REG_ID_VERSION_VALUE             0x00020000U  /* identity: version */
#define EDNN_REG_ID_SCHEMA_OFFSET             0x108U  /* ro identity: overlay.toml schema version */
#define EDNN_REG_ID_SCHEMA_VALUE              0x00000001U  /* identity: schema */
#define EDNN_REG_ID_CONFIG_HASH0_OFFSET       0x10CU  /* ro identity: configuration hash bytes 0-3, big-endian */
#define EDNN_REG_ID_CONFIG_HASH0_VALUE        0x6C615C5CU  /* identity: config_hash0 */
#define EDNN_REG_ID_CONFIG_HASH1_OFFSET       0x110U  /* ro identity: configuration hash bytes 4-7, big-endian */
#define EDNN_REG_ID_CONFIG_HASH1_VALUE        0xD7BF3DE8U  /* identity: config_hash1 */
#define EDNN_REG_ID_PE_DIMS_OFFSET            0x114U  /* ro identity: out | in<<8 | pixels<<16 | pump<<24 */
#define EDNN_REG_ID_PE_DIMS_VALUE             0x01080410U  /* identity: pe_dims */
#define EDNN_REG_ID_CLOCKS_OFFSET             0x118U  /* ro identity: fabric MHz | DSP MHz<<16 */
#define EDNN_REG_ID_CLOCKS_VALUE              0x00FA00FAU  /* identity: clocks_mhz */
#define EDNN_REG_ID_PRECISIONS_OFFSET         0x11CU  /* ro identity: bit 0 int8, bit 1 int16 */
#define EDNN_REG_ID_PRECISIONS_VALUE          0x00000003U  /* identity: precisions */
#define EDNN_REG_ID_LANES_OFFSET              0x120U  /* ro identity: requant lanes | vector lanes<<16 */
#define EDNN_REG_ID_LANES_VALUE               0x00080008U  /* identity: lanes */
#define EDNN_REG_ID_INPUT_BYTES_OFFSET        0x124U  /* ro identity: input buffer capacity, bytes */
#define EDNN_REG_ID_INPUT_BYTES_VALUE         0x00040000U  /* identity: input_bytes */
#define EDNN_REG_ID_WEIGHT_BYTES_OFFSET       0x128U  /* ro identity: weight buffer capacity, bytes */
#define EDNN_REG_ID_WEIGHT_BYTES_VALUE        0x00040000U  /* identity: weight_bytes */
#define EDNN_REG_ID_OUTPUT_BYTES_OFFSET       0x12CU  /* ro identity: output buffer capacity, bytes */
#define EDNN_REG_ID_OUTPUT_BYTES_VALUE        0x00008000U  /* identity: output_bytes */
#define EDNN_REG_ID_PARAMS_BYTES_OFFSET       0x130U  /* ro identity: per-channel parameter buffer capacity, bytes */
#define EDNN_REG_ID_PARAMS_BYTES_VALUE        0x00002000U  /* identity: params_bytes */
#define EDNN_REG_CNT_CYCLES_LO_OFFSET         0x200U  /* ro counter: fabric cycles since START, low word */
#define EDNN_REG_CNT_CYCLES_HI_OFFSET         0x204U  /* ro counter: fabric cycles since START, high word */
#define EDNN_REG_CNT_BUSY_LO_OFFSET           0x208U  /* ro counter: cycles the PE array computed, low word */
#define EDNN_REG_CNT_BUSY_HI_OFFSET           0x20CU  /* ro counter: cycles the PE array computed, high word */
#define EDNN_REG_CNT_STALL_IN_LO_OFFSET       0x210U  /* ro counter: cycles waiting for an input stream, low word */
#define EDNN_REG_CNT_STALL_IN_HI_OFFSET       0x214U  /* ro counter: cycles waiting for an input stream, high word */
#define EDNN_REG_CNT_STALL_OUT_LO_OFFSET      0x218U  /* ro counter: cycles waiting for the output stream, low word */
#define EDNN_REG_CNT_STALL_OUT_HI_OFFSET      0x21CU  /* ro counter: cycles waiting for the output stream, high word */
#define EDNN_REG_CNT_COMMANDS_OFFSET          0x220U  /* ro counter: commands completed since START */

#ifdef __cplusplus
namespace edge_dnn_config {
constexpr const char OVERLAY_NAME[] = EDNN_OVERLAY_NAME;
constexpr const char OVERLAY_VERSION[] = EDNN_OVERLAY_VERSION;
constexpr unsigned int OVERLAY_VERSION_WORD = EDNN_OVERLAY_VERSION_WORD;
constexpr const char PART[] = EDNN_PART;
constexpr unsigned int SCHEMA_VERSION = EDNN_SCHEMA_VERSION;
constexpr const char CONFIG_HASH[] = EDNN_CONFIG_HASH;
constexpr unsigned int CONFIG_HASH0 = EDNN_CONFIG_HASH0;
constexpr unsigned int CONFIG_HASH1 = EDNN_CONFIG_HASH1;
constexpr unsigned int FABRIC_KHZ = EDNN_FABRIC_KHZ;
constexpr unsigned int DSP_KHZ = EDNN_DSP_KHZ;
constexpr unsigned int DSP_PUMP = EDNN_DSP_PUMP;
constexpr unsigned int PE_OUT_CHANNELS = EDNN_PE_OUT_CHANNELS;
constexpr unsigned int PE_IN_CHANNELS = EDNN_PE_IN_CHANNELS;
constexpr unsigned int PE_PIXELS = EDNN_PE_PIXELS;
constexpr unsigned int REQUANT_LANES = EDNN_REQUANT_LANES;
constexpr unsigned int VECTOR_LANES = EDNN_VECTOR_LANES;
constexpr unsigned int LINE_BUFFER_WORDS = EDNN_LINE_BUFFER_WORDS;
constexpr unsigned int ACC_BITS = EDNN_ACC_BITS;
constexpr unsigned int DSP_PACK_SHIFT = EDNN_DSP_PACK_SHIFT;
constexpr unsigned int MACS_PER_DSP_INT8 = EDNN_MACS_PER_DSP_INT8;
constexpr unsigned int MACS_PER_CYCLE = EDNN_MACS_PER_CYCLE;
constexpr unsigned int MACS_PER_CYCLE_INT16 = EDNN_MACS_PER_CYCLE_INT16;
constexpr unsigned int COMPUTE_DSPS = EDNN_COMPUTE_DSPS;
constexpr unsigned int ACCUMULATORS = EDNN_ACCUMULATORS;
constexpr unsigned int PARAM_BITS_PER_CHANNEL = EDNN_PARAM_BITS_PER_CHANNEL;
constexpr unsigned int SUPPORTS_INT8 = EDNN_SUPPORTS_INT8;
constexpr unsigned int SUPPORTS_INT16 = EDNN_SUPPORTS_INT16;
constexpr unsigned int MEM_BRAM = EDNN_MEM_BRAM;
constexpr unsigned int MEM_URAM = EDNN_MEM_URAM;
constexpr unsigned int MEM_LUTRAM = EDNN_MEM_LUTRAM;
constexpr unsigned int ROLE_CMD = EDNN_ROLE_CMD;
constexpr unsigned int ROLE_WEIGHTS = EDNN_ROLE_WEIGHTS;
constexpr unsigned int ROLE_ACT_IN = EDNN_ROLE_ACT_IN;
constexpr unsigned int ROLE_ACT_OUT = EDNN_ROLE_ACT_OUT;
constexpr unsigned int BUF_INPUT_MEMORY = EDNN_BUF_INPUT_MEMORY;
constexpr unsigned int BUF_INPUT_BANKS = EDNN_BUF_INPUT_BANKS;
constexpr unsigned int BUF_INPUT_DEPTH = EDNN_BUF_INPUT_DEPTH;
constexpr unsigned int BUF_INPUT_WIDTH_BITS = EDNN_BUF_INPUT_WIDTH_BITS;
constexpr unsigned int BUF_INPUT_ADDR_BITS = EDNN_BUF_INPUT_ADDR_BITS;
constexpr unsigned int BUF_INPUT_BYTES = EDNN_BUF_INPUT_BYTES;
constexpr unsigned int BUF_WEIGHT_MEMORY = EDNN_BUF_WEIGHT_MEMORY;
constexpr unsigned int BUF_WEIGHT_BANKS = EDNN_BUF_WEIGHT_BANKS;
constexpr unsigned int BUF_WEIGHT_DEPTH = EDNN_BUF_WEIGHT_DEPTH;
constexpr unsigned int BUF_WEIGHT_WIDTH_BITS = EDNN_BUF_WEIGHT_WIDTH_BITS;
constexpr unsigned int BUF_WEIGHT_ADDR_BITS = EDNN_BUF_WEIGHT_ADDR_BITS;
constexpr unsigned int BUF_WEIGHT_BYTES = EDNN_BUF_WEIGHT_BYTES;
constexpr unsigned int BUF_OUTPUT_MEMORY = EDNN_BUF_OUTPUT_MEMORY;
constexpr unsigned int BUF_OUTPUT_BANKS = EDNN_BUF_OUTPUT_BANKS;
constexpr unsigned int BUF_OUTPUT_DEPTH = EDNN_BUF_OUTPUT_DEPTH;
constexpr unsigned int BUF_OUTPUT_WIDTH_BITS = EDNN_BUF_OUTPUT_WIDTH_BITS;
constexpr unsigned int BUF_OUTPUT_ADDR_BITS = EDNN_BUF_OUTPUT_ADDR_BITS;
constexpr unsigned int BUF_OUTPUT_BYTES = EDNN_BUF_OUTPUT_BYTES;
constexpr unsigned int BUF_PARAMS_MEMORY = EDNN_BUF_PARAMS_MEMORY;
constexpr unsigned int BUF_PARAMS_BANKS = EDNN_BUF_PARAMS_BANKS;
constexpr unsigned int BUF_PARAMS_DEPTH = EDNN_BUF_PARAMS_DEPTH;
constexpr unsigned int BUF_PARAMS_WIDTH_BITS = EDNN_BUF_PARAMS_WIDTH_BITS;
constexpr unsigned int BUF_PARAMS_ADDR_BITS = EDNN_BUF_PARAMS_ADDR_BITS;
constexpr unsigned int BUF_PARAMS_BYTES = EDNN_BUF_PARAMS_BYTES;
constexpr unsigned int NUM_STREAMS = EDNN_NUM_STREAMS;
constexpr unsigned int NUM_CMD_STREAMS = EDNN_NUM_CMD_STREAMS;
constexpr unsigned int NUM_WEIGHTS_STREAMS = EDNN_NUM_WEIGHTS_STREAMS;
constexpr unsigned int NUM_ACT_IN_STREAMS = EDNN_NUM_ACT_IN_STREAMS;
constexpr unsigned int NUM_ACT_OUT_STREAMS = EDNN_NUM_ACT_OUT_STREAMS;
constexpr unsigned int STREAM_CMD_ROLE = EDNN_STREAM_CMD_ROLE;
constexpr unsigned int STREAM_CMD_WIDTH_BITS = EDNN_STREAM_CMD_WIDTH_BITS;
constexpr unsigned int STREAM_CMD_BYTES_PER_BEAT = EDNN_STREAM_CMD_BYTES_PER_BEAT;
constexpr unsigned int STREAM_WEIGHTS0_ROLE = EDNN_STREAM_WEIGHTS0_ROLE;
constexpr unsigned int STREAM_WEIGHTS0_WIDTH_BITS = EDNN_STREAM_WEIGHTS0_WIDTH_BITS;
constexpr unsigned int STREAM_WEIGHTS0_BYTES_PER_BEAT = EDNN_STREAM_WEIGHTS0_BYTES_PER_BEAT;
constexpr unsigned int STREAM_ACT_IN_ROLE = EDNN_STREAM_ACT_IN_ROLE;
constexpr unsigned int STREAM_ACT_IN_WIDTH_BITS = EDNN_STREAM_ACT_IN_WIDTH_BITS;
constexpr unsigned int STREAM_ACT_IN_BYTES_PER_BEAT = EDNN_STREAM_ACT_IN_BYTES_PER_BEAT;
constexpr unsigned int STREAM_ACT_OUT_ROLE = EDNN_STREAM_ACT_OUT_ROLE;
constexpr unsigned int STREAM_ACT_OUT_WIDTH_BITS = EDNN_STREAM_ACT_OUT_WIDTH_BITS;
constexpr unsigned int STREAM_ACT_OUT_BYTES_PER_BEAT = EDNN_STREAM_ACT_OUT_BYTES_PER_BEAT;
constexpr unsigned int DDR_BUS_BITS = EDNN_DDR_BUS_BITS;
constexpr unsigned int DDR_MTS = EDNN_DDR_MTS;
constexpr unsigned int DDR_SIZE_MIB = EDNN_DDR_SIZE_MIB;
constexpr unsigned int HP_PORT_BITS = EDNN_HP_PORT_BITS;
constexpr unsigned long long ENGINE_BASE_ADDR = EDNN_ENGINE_BASE_ADDR;
constexpr unsigned int ENGINE_ADDR_RANGE = EDNN_ENGINE_ADDR_RANGE;
constexpr unsigned int ENGINE_IRQ = EDNN_ENGINE_IRQ;
constexpr unsigned long long INTC_BASE_ADDR = EDNN_INTC_BASE_ADDR;
constexpr unsigned int INTC_ADDR_RANGE = EDNN_INTC_ADDR_RANGE;
constexpr unsigned int INTC_INPUTS = EDNN_INTC_INPUTS;
constexpr unsigned int PS_IRQ = EDNN_PS_IRQ;
constexpr unsigned int NUM_DMAS = EDNN_NUM_DMAS;
constexpr unsigned long long DMA_WEIGHTS0_BASE_ADDR = EDNN_DMA_WEIGHTS0_BASE_ADDR;
constexpr unsigned int DMA_WEIGHTS0_ADDR_RANGE = EDNN_DMA_WEIGHTS0_ADDR_RANGE;
constexpr unsigned int DMA_WEIGHTS0_SG_LENGTH_WIDTH = EDNN_DMA_WEIGHTS0_SG_LENGTH_WIDTH;
constexpr unsigned int DMA_WEIGHTS0_MM2S_IRQ = EDNN_DMA_WEIGHTS0_MM2S_IRQ;
constexpr unsigned long long DMA_ACT_BASE_ADDR = EDNN_DMA_ACT_BASE_ADDR;
constexpr unsigned int DMA_ACT_ADDR_RANGE = EDNN_DMA_ACT_ADDR_RANGE;
constexpr unsigned int DMA_ACT_SG_LENGTH_WIDTH = EDNN_DMA_ACT_SG_LENGTH_WIDTH;
constexpr unsigned int DMA_ACT_MM2S_IRQ = EDNN_DMA_ACT_MM2S_IRQ;
constexpr unsigned int DMA_ACT_S2MM_IRQ = EDNN_DMA_ACT_S2MM_IRQ;
constexpr unsigned long long DMA_CMD_BASE_ADDR = EDNN_DMA_CMD_BASE_ADDR;
constexpr unsigned int DMA_CMD_ADDR_RANGE = EDNN_DMA_CMD_ADDR_RANGE;
constexpr unsigned int DMA_CMD_SG_LENGTH_WIDTH = EDNN_DMA_CMD_SG_LENGTH_WIDTH;
constexpr unsigned int DMA_CMD_MM2S_IRQ = EDNN_DMA_CMD_MM2S_IRQ;
constexpr unsigned int REG_CONTROL_OFFSET = EDNN_REG_CONTROL_OFFSET;
constexpr unsigned int REG_CONTROL_START_SHIFT = EDNN_REG_CONTROL_START_SHIFT;
constexpr unsigned int REG_CONTROL_START_WIDTH = EDNN_REG_CONTROL_START_WIDTH;
constexpr unsigned int REG_CONTROL_START_MASK = EDNN_REG_CONTROL_START_MASK;
constexpr unsigned int REG_CONTROL_SOFT_RESET_SHIFT = EDNN_REG_CONTROL_SOFT_RESET_SHIFT;
constexpr unsigned int REG_CONTROL_SOFT_RESET_WIDTH = EDNN_REG_CONTROL_SOFT_RESET_WIDTH;
constexpr unsigned int REG_CONTROL_SOFT_RESET_MASK = EDNN_REG_CONTROL_SOFT_RESET_MASK;
constexpr unsigned int REG_CONTROL_IRQ_ENABLE_SHIFT = EDNN_REG_CONTROL_IRQ_ENABLE_SHIFT;
constexpr unsigned int REG_CONTROL_IRQ_ENABLE_WIDTH = EDNN_REG_CONTROL_IRQ_ENABLE_WIDTH;
constexpr unsigned int REG_CONTROL_IRQ_ENABLE_MASK = EDNN_REG_CONTROL_IRQ_ENABLE_MASK;
constexpr unsigned int REG_CONTROL_CLEAR_COUNTERS_SHIFT = EDNN_REG_CONTROL_CLEAR_COUNTERS_SHIFT;
constexpr unsigned int REG_CONTROL_CLEAR_COUNTERS_WIDTH = EDNN_REG_CONTROL_CLEAR_COUNTERS_WIDTH;
constexpr unsigned int REG_CONTROL_CLEAR_COUNTERS_MASK = EDNN_REG_CONTROL_CLEAR_COUNTERS_MASK;
constexpr unsigned int REG_STATUS_OFFSET = EDNN_REG_STATUS_OFFSET;
constexpr unsigned int REG_STATUS_IDLE_SHIFT = EDNN_REG_STATUS_IDLE_SHIFT;
constexpr unsigned int REG_STATUS_IDLE_WIDTH = EDNN_REG_STATUS_IDLE_WIDTH;
constexpr unsigned int REG_STATUS_IDLE_MASK = EDNN_REG_STATUS_IDLE_MASK;
constexpr unsigned int REG_STATUS_BUSY_SHIFT = EDNN_REG_STATUS_BUSY_SHIFT;
constexpr unsigned int REG_STATUS_BUSY_WIDTH = EDNN_REG_STATUS_BUSY_WIDTH;
constexpr unsigned int REG_STATUS_BUSY_MASK = EDNN_REG_STATUS_BUSY_MASK;
constexpr unsigned int REG_STATUS_DONE_SHIFT = EDNN_REG_STATUS_DONE_SHIFT;
constexpr unsigned int REG_STATUS_DONE_WIDTH = EDNN_REG_STATUS_DONE_WIDTH;
constexpr unsigned int REG_STATUS_DONE_MASK = EDNN_REG_STATUS_DONE_MASK;
constexpr unsigned int REG_STATUS_ERROR_SHIFT = EDNN_REG_STATUS_ERROR_SHIFT;
constexpr unsigned int REG_STATUS_ERROR_WIDTH = EDNN_REG_STATUS_ERROR_WIDTH;
constexpr unsigned int REG_STATUS_ERROR_MASK = EDNN_REG_STATUS_ERROR_MASK;
constexpr unsigned int REG_STATUS_ERROR_CODE_SHIFT = EDNN_REG_STATUS_ERROR_CODE_SHIFT;
constexpr unsigned int REG_STATUS_ERROR_CODE_WIDTH = EDNN_REG_STATUS_ERROR_CODE_WIDTH;
constexpr unsigned int REG_STATUS_ERROR_CODE_MASK = EDNN_REG_STATUS_ERROR_CODE_MASK;
constexpr unsigned int REG_IRQ_STATUS_OFFSET = EDNN_REG_IRQ_STATUS_OFFSET;
constexpr unsigned int REG_IRQ_STATUS_DONE_SHIFT = EDNN_REG_IRQ_STATUS_DONE_SHIFT;
constexpr unsigned int REG_IRQ_STATUS_DONE_WIDTH = EDNN_REG_IRQ_STATUS_DONE_WIDTH;
constexpr unsigned int REG_IRQ_STATUS_DONE_MASK = EDNN_REG_IRQ_STATUS_DONE_MASK;
constexpr unsigned int REG_IRQ_STATUS_ERROR_SHIFT = EDNN_REG_IRQ_STATUS_ERROR_SHIFT;
constexpr unsigned int REG_IRQ_STATUS_ERROR_WIDTH = EDNN_REG_IRQ_STATUS_ERROR_WIDTH;
constexpr unsigned int REG_IRQ_STATUS_ERROR_MASK = EDNN_REG_IRQ_STATUS_ERROR_MASK;
constexpr unsigned int REG_SCRATCH_OFFSET = EDNN_REG_SCRATCH_OFFSET;
constexpr unsigned int REG_ID_MAGIC_OFFSET = EDNN_REG_ID_MAGIC_OFFSET;
constexpr unsigned int REG_ID_MAGIC_VALUE = EDNN_REG_ID_MAGIC_VALUE;
constexpr unsigned int REG_ID_VERSION_OFFSET = EDNN_REG_ID_VERSION_OFFSET;
constexpr unsigned int REG_ID_VERSION_VALUE = EDNN_REG_ID_VERSION_VALUE;
constexpr unsigned int REG_ID_SCHEMA_OFFSET = EDNN_REG_ID_SCHEMA_OFFSET;
constexpr unsigned int REG_ID_SCHEMA_VALUE = EDNN_REG_ID_SCHEMA_VALUE;
constexpr unsigned int REG_ID_CONFIG_HASH0_OFFSET = EDNN_REG_ID_CONFIG_HASH0_OFFSET;
constexpr unsigned int REG_ID_CONFIG_HASH0_VALUE = EDNN_REG_ID_CONFIG_HASH0_VALUE;
constexpr unsigned int REG_ID_CONFIG_HASH1_OFFSET = EDNN_REG_ID_CONFIG_HASH1_OFFSET;
constexpr unsigned int REG_ID_CONFIG_HASH1_VALUE = EDNN_REG_ID_CONFIG_HASH1_VALUE;
constexpr unsigned int REG_ID_PE_DIMS_OFFSET = EDNN_REG_ID_PE_DIMS_OFFSET;
constexpr unsigned int REG_ID_PE_DIMS_VALUE = EDNN_REG_ID_PE_DIMS_VALUE;
constexpr unsigned int REG_ID_CLOCKS_OFFSET = EDNN_REG_ID_CLOCKS_OFFSET;
constexpr unsigned int REG_ID_CLOCKS_VALUE = EDNN_REG_ID_CLOCKS_VALUE;
constexpr unsigned int REG_ID_PRECISIONS_OFFSET = EDNN_REG_ID_PRECISIONS_OFFSET;
constexpr unsigned int REG_ID_PRECISIONS_VALUE = EDNN_REG_ID_PRECISIONS_VALUE;
constexpr unsigned int REG_ID_LANES_OFFSET = EDNN_REG_ID_LANES_OFFSET;
constexpr unsigned int REG_ID_LANES_VALUE = EDNN_REG_ID_LANES_VALUE;
constexpr unsigned int REG_ID_INPUT_BYTES_OFFSET = EDNN_REG_ID_INPUT_BYTES_OFFSET;
constexpr unsigned int REG_ID_INPUT_BYTES_VALUE = EDNN_REG_ID_INPUT_BYTES_VALUE;
constexpr unsigned int REG_ID_WEIGHT_BYTES_OFFSET = EDNN_REG_ID_WEIGHT_BYTES_OFFSET;
constexpr unsigned int REG_ID_WEIGHT_BYTES_VALUE = EDNN_REG_ID_WEIGHT_BYTES_VALUE;
constexpr unsigned int REG_ID_OUTPUT_BYTES_OFFSET = EDNN_REG_ID_OUTPUT_BYTES_OFFSET;
constexpr unsigned int REG_ID_OUTPUT_BYTES_VALUE = EDNN_REG_ID_OUTPUT_BYTES_VALUE;
constexpr unsigned int REG_ID_PARAMS_BYTES_OFFSET = EDNN_REG_ID_PARAMS_BYTES_OFFSET;
constexpr unsigned int REG_ID_PARAMS_BYTES_VALUE = EDNN_REG_ID_PARAMS_BYTES_VALUE;
constexpr unsigned int REG_CNT_CYCLES_LO_OFFSET = EDNN_REG_CNT_CYCLES_LO_OFFSET;
constexpr unsigned int REG_CNT_CYCLES_HI_OFFSET = EDNN_REG_CNT_CYCLES_HI_OFFSET;
constexpr unsigned int REG_CNT_BUSY_LO_OFFSET = EDNN_REG_CNT_BUSY_LO_OFFSET;
constexpr unsigned int REG_CNT_BUSY_HI_OFFSET = EDNN_REG_CNT_BUSY_HI_OFFSET;
constexpr unsigned int REG_CNT_STALL_IN_LO_OFFSET = EDNN_REG_CNT_STALL_IN_LO_OFFSET;
constexpr unsigned int REG_CNT_STALL_IN_HI_OFFSET = EDNN_REG_CNT_STALL_IN_HI_OFFSET;
constexpr unsigned int REG_CNT_STALL_OUT_LO_OFFSET = EDNN_REG_CNT_STALL_OUT_LO_OFFSET;
constexpr unsigned int REG_CNT_STALL_OUT_HI_OFFSET = EDNN_REG_CNT_STALL_OUT_HI_OFFSET;
constexpr unsigned int REG_CNT_COMMANDS_OFFSET = EDNN_REG_CNT_COMMANDS_OFFSET;
}  // namespace edge_dnn_config
#endif

#endif  /* EDGE_DNN_CONFIG_H */
