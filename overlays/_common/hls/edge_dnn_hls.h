/*
 * edge_dnn_hls.h: the edge-dnn engine in Vitis HLS C++ -- types, sizes and the top function.
 *
 * Contract: docs/engine.md (architecture, layouts), docs/isa.md (command stream),
 * docs/arithmetic.md (integer arithmetic). Every size comes from the two generated headers:
 *   overlays/<overlay>/generated/edge_dnn_config.h   (one overlay: PE array, buffers, streams)
 *   overlays/_common/generated/edge_dnn_isa.h        (field layout of ISA v1)
 * This file only derives further constants from them (constexpr, checked by static_assert);
 * it restates no overlay number. Build with -I<overlay>/generated -I_common/generated.
 *
 * Vendor headers: with Vitis HLS (hls_stream.h, ap_axi_sdata.h present) the ports are
 * hls::stream<ap_axiu<...>>; with a plain C++17 compiler (g++ C simulation, unit tests) they
 * are the small ednn::stream / ednn::axis_word classes below. Engine code only touches beats
 * through beat_byte() / set_beat_byte() / beat_keep_bytes(), so it is the same in both builds.
 */
#ifndef EDGE_DNN_HLS_H
#define EDGE_DNN_HLS_H

#include <stddef.h>
#include <stdint.h>

#include "edge_dnn_config.h"
#include "edge_dnn_isa.h"

#if defined(__has_include)
#if __has_include(<hls_stream.h>) && __has_include(<ap_axi_sdata.h>) && \
    !defined(EDNN_NO_VENDOR_HLS)
#define EDNN_VENDOR_HLS 1
#endif
#endif
#ifndef EDNN_VENDOR_HLS
#define EDNN_VENDOR_HLS 0
#endif

#if EDNN_VENDOR_HLS
#include <ap_axi_sdata.h>
#include <ap_int.h>
#include <hls_stream.h>
#else
#include <deque>
#endif

/* Pragmas whose arguments come from macros: _Pragma stringizes after macro expansion. */
#define EDNN_PRAGMA_STR(x) _Pragma(#x)
#define EDNN_PRAGMA(x) EDNN_PRAGMA_STR(x)

/* ---- stream widths per role. The generated header names per-stream macros after the stream
 * (EDNN_STREAM_<NAME>_BYTES_PER_BEAT); an engine port array needs one width per role, so the
 * first stream of each role is found under the names the shipped overlays use (<role> or
 * <role>0) and every other stream of the role must have the same width (checked below). */
#if defined(EDNN_STREAM_CMD_BYTES_PER_BEAT)
#define EDNN_HLS_CMD_BEAT_BYTES EDNN_STREAM_CMD_BYTES_PER_BEAT
#else
#error "edge_dnn_hls.h: the overlay has no stream named 'cmd'"
#endif
#if defined(EDNN_STREAM_WEIGHTS0_BYTES_PER_BEAT)
#define EDNN_HLS_WEIGHTS_BEAT_BYTES EDNN_STREAM_WEIGHTS0_BYTES_PER_BEAT
#elif defined(EDNN_STREAM_WEIGHTS_BYTES_PER_BEAT)
#define EDNN_HLS_WEIGHTS_BEAT_BYTES EDNN_STREAM_WEIGHTS_BYTES_PER_BEAT
#else
#error "edge_dnn_hls.h: no weights stream named 'weights0' or 'weights'"
#endif
#if defined(EDNN_STREAM_ACT_IN0_BYTES_PER_BEAT)
#define EDNN_HLS_ACT_IN_BEAT_BYTES EDNN_STREAM_ACT_IN0_BYTES_PER_BEAT
#elif defined(EDNN_STREAM_ACT_IN_BYTES_PER_BEAT)
#define EDNN_HLS_ACT_IN_BEAT_BYTES EDNN_STREAM_ACT_IN_BYTES_PER_BEAT
#else
#error "edge_dnn_hls.h: no act_in stream named 'act_in0' or 'act_in'"
#endif
#if defined(EDNN_STREAM_ACT_OUT0_BYTES_PER_BEAT)
#define EDNN_HLS_ACT_OUT_BEAT_BYTES EDNN_STREAM_ACT_OUT0_BYTES_PER_BEAT
#elif defined(EDNN_STREAM_ACT_OUT_BYTES_PER_BEAT)
#define EDNN_HLS_ACT_OUT_BEAT_BYTES EDNN_STREAM_ACT_OUT_BYTES_PER_BEAT
#else
#error "edge_dnn_hls.h: no act_out stream named 'act_out0' or 'act_out'"
#endif

namespace ednn {

/* ------------------------------------------------------------------ derived constants */
constexpr unsigned cmax(unsigned a, unsigned b) { return a > b ? a : b; }
constexpr unsigned cmin(unsigned a, unsigned b) { return a < b ? a : b; }
constexpr unsigned cdiv(unsigned a, unsigned b) { return (a + b - 1) / b; }

/* PE array (docs/engine.md section 4) */
constexpr unsigned OC = EDNN_PE_OUT_CHANNELS;   /* output channels per pass (int8) */
constexpr unsigned IC = EDNN_PE_IN_CHANNELS;    /* input channels per cycle */
constexpr unsigned P = EDNN_PE_PIXELS;          /* pixel lanes */
constexpr unsigned PUMP = EDNN_DSP_PUMP;        /* DSP cycles per fabric cycle */
constexpr unsigned REQUANT_LANES = EDNN_REQUANT_LANES;
constexpr unsigned VECTOR_LANES = EDNN_VECTOR_LANES;
constexpr unsigned ACC_BITS = EDNN_ACC_BITS;
constexpr unsigned PACK_SHIFT = EDNN_DSP_PACK_SHIFT; /* distance of the two packed weights */
constexpr bool HAS_INT8 = EDNN_SUPPORTS_INT8 != 0;
constexpr bool HAS_INT16 = EDNN_SUPPORTS_INT16 != 0;

/* Buffers: banks x depth words of width bits (docs/engine.md section 5) */
constexpr unsigned IN_BANKS = EDNN_BUF_INPUT_BANKS;
constexpr unsigned IN_DEPTH = EDNN_BUF_INPUT_DEPTH;
constexpr unsigned IN_WORDS = IN_BANKS * IN_DEPTH;
constexpr unsigned OUT_BANKS = EDNN_BUF_OUTPUT_BANKS;
constexpr unsigned OUT_DEPTH = EDNN_BUF_OUTPUT_DEPTH;
constexpr unsigned OUT_WORDS = OUT_BANKS * OUT_DEPTH;
constexpr unsigned WT_BANKS = EDNN_BUF_WEIGHT_BANKS;
constexpr unsigned WT_DEPTH = EDNN_BUF_WEIGHT_DEPTH;
constexpr unsigned WT_BANK_BYTES = EDNN_BUF_WEIGHT_WIDTH_BITS / 8;
constexpr unsigned WT_WORD_BYTES = WT_BANKS * WT_BANK_BYTES;
constexpr unsigned PAR_BANKS = EDNN_BUF_PARAMS_BANKS;
constexpr unsigned PAR_DEPTH = EDNN_BUF_PARAMS_DEPTH;
constexpr unsigned PAR_BANK_BYTES = EDNN_BUF_PARAMS_WIDTH_BITS / 8;
constexpr unsigned PAR_WORD_BYTES = PAR_BANKS * PAR_BANK_BYTES;

/* Channel block: one input/output-buffer word = one pixel's CB bytes */
constexpr unsigned CB = EDNN_BUF_INPUT_WIDTH_BITS / 8;
constexpr unsigned CBC8 = CB;          /* channels per block, int8 */
constexpr unsigned CBC16 = CB / 2;     /* channels per block, int16 */
constexpr unsigned G8 = OC;            /* output channels per PE pass, int8 */
constexpr unsigned G16 = OC / 2;       /* int16: one product per DSP, half the channels */
constexpr unsigned SUB8 = CBC8 / IC;   /* cycles one input word feeds, int8 */
constexpr unsigned SUB16 = CBC16 / IC; /* int16 */
constexpr unsigned PAR_SLOT8_BYTES = 8;   /* (bias int32, M, S) slot, int8 */
constexpr unsigned PAR_SLOT16_BYTES = 16; /* (bias int48, M, S) slot, int16 */
constexpr unsigned MAX_AREAS = EDNN_ISA_MAX_AREA_CLASSES;
constexpr unsigned TOKEN_CAPACITY = EDNN_ISA_TOKEN_CAPACITY;
constexpr unsigned NUM_TOKENS = 12; /* EDNN_TOK_* bits 0..11 (ISA 2.0) */
static_assert(EDNN_TOK_ST_VEC == 1u << (NUM_TOKENS - 1), "token queues changed: update NUM_TOKENS");

/* DSP48E2 packing (docs/arithmetic.md 3.2): a cascade of at most CHAIN packed products sums
 * exactly in the 18-bit low field (4 x 128 x 255 < 2^17 for every int8 weight byte and
 * uint8 activation; int8 activations would allow 8). Longer IC reductions unpack every CHAIN
 * products (the DPU-mirror overlay, IC = 16). */
constexpr unsigned PACK_SAFE_PRODUCTS = 4;
constexpr unsigned CHAIN = cmin(IC, PACK_SAFE_PRODUCTS);
constexpr unsigned CHAIN_SEGMENTS = cdiv(IC, CHAIN);

/* Multipliers the unrolled PE loop instantiates per fabric cycle: one packed multiply per
 * (output-channel pair, input channel, pixel lane). Double pumping (PUMP = 2) time-shares a
 * DSP48E2 between two lanes, so the array needs PE_MULTIPLIERS / PUMP DSPs. */
constexpr unsigned PE_PAIRS = OC / 2;
constexpr unsigned PE_MULTIPLIERS = PE_PAIRS * IC * P;
constexpr unsigned PE_DSPS = PE_MULTIPLIERS / PUMP;
/* Requantizer: per lane one 48 x 16-bit product acc * M; a DSP48E2 multiplies 27 x 18 bits,
 * so the 48-bit accumulator is split into two 24-bit halves: two DSPs per lane. */
constexpr unsigned REQUANT_DSPS_PER_LANE = cdiv(ACC_BITS, 24);
constexpr unsigned REQUANT_DSPS = REQUANT_LANES * REQUANT_DSPS_PER_LANE;
/* Vector unit: one multiplier per lane, time-shared by the two rescale products of an eltwise
 * sum and the divisor product of average pooling (which therefore run at half rate). */
constexpr unsigned VECTOR_DSPS = VECTOR_LANES;

/* Streams */
constexpr unsigned NUM_WEIGHTS = EDNN_NUM_WEIGHTS_STREAMS;
constexpr unsigned NUM_ACT_IN = EDNN_NUM_ACT_IN_STREAMS;
constexpr unsigned NUM_ACT_OUT = EDNN_NUM_ACT_OUT_STREAMS;
constexpr unsigned CMD_BEAT_BYTES = EDNN_HLS_CMD_BEAT_BYTES;
constexpr unsigned WEIGHTS_BEAT_BYTES = EDNN_HLS_WEIGHTS_BEAT_BYTES;
constexpr unsigned ACT_IN_BEAT_BYTES = EDNN_HLS_ACT_IN_BEAT_BYTES;
constexpr unsigned ACT_OUT_BEAT_BYTES = EDNN_HLS_ACT_OUT_BEAT_BYTES;

/* AXI-Lite: identity block and counters as word arrays at their register offsets */
constexpr unsigned ID_BASE = EDNN_REG_ID_MAGIC_OFFSET;
constexpr unsigned ID_WORDS = (EDNN_REG_ID_PARAMS_BYTES_OFFSET - ID_BASE) / 4 + 1;
constexpr unsigned CNT_BASE = EDNN_REG_CNT_CYCLES_LO_OFFSET;
constexpr unsigned CNT_WORDS = (EDNN_REG_CNT_COMMANDS_OFFSET - CNT_BASE) / 4 + 1;
constexpr unsigned id_index(unsigned offset) { return (offset - ID_BASE) / 4; }
constexpr unsigned cnt_index(unsigned offset) { return (offset - CNT_BASE) / 4; }

/* ---- the assumptions ISA v1 makes about an overlay (edge_dnn.isa.layout.check_overlay) */
static_assert(EDNN_BUF_OUTPUT_WIDTH_BITS == EDNN_BUF_INPUT_WIDTH_BITS,
              "input and output buffer words must both be one channel block");
static_assert(CB % IC == 0 && SUB8 >= 1, "a channel block must hold whole PE input steps");
static_assert(!HAS_INT16 || (CBC16 % IC == 0 && SUB16 >= 1), "int16 block vs PE inputs");
static_assert(WT_WORD_BYTES == OC * IC, "a weight word is OC x IC bytes");
static_assert(PAR_WORD_BYTES == OC * PAR_SLOT8_BYTES, "a params word is OC 64-bit slots");
static_assert(OC % 2 == 0, "output channels are paired in the DSPs");
static_assert(OC >= MAX_AREAS, "a params word holds a full divisor table");
static_assert(G8 % CBC8 == 0 && (!HAS_INT16 || G16 % CBC16 == 0),
              "a PE pass covers whole channel blocks");
static_assert(IN_WORDS <= (1u << EDNN_ISA_ACT_ADDR_BITS), "input buffer vs address field");
static_assert(OUT_WORDS <= (1u << EDNN_ISA_ACT_ADDR_BITS), "output buffer vs address field");
static_assert(WT_DEPTH <= (1u << EDNN_ISA_WEIGHT_ADDR_BITS), "weight buffer vs address field");
static_assert(PAR_DEPTH <= (1u << EDNN_ISA_PARAMS_ADDR_BITS), "params buffer vs address field");
static_assert(NUM_WEIGHTS >= 1 && NUM_WEIGHTS <= 4, "1..4 weights streams");
static_assert(NUM_ACT_IN >= 1 && NUM_ACT_IN <= 4, "1..4 act_in streams");
static_assert(NUM_ACT_OUT >= 1 && NUM_ACT_OUT <= 4, "1..4 act_out streams");
static_assert(CMD_BEAT_BYTES % 4 == 0, "the cmd stream carries whole 32-bit command words");
static_assert(ACC_BITS == 48, "the accumulator is a 48-bit DSP48E2 P register");
static_assert(PE_MULTIPLIERS % PUMP == 0, "double pumping pairs whole lanes");
/* every other stream of a role has the width of the first */
#define EDNN_HLS_SAME_WIDTH(NAME, W) \
    static_assert(EDNN_STREAM_##NAME##_BYTES_PER_BEAT == (W), "streams of a role differ in width")
#ifdef EDNN_STREAM_WEIGHTS1_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(WEIGHTS1, WEIGHTS_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_WEIGHTS2_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(WEIGHTS2, WEIGHTS_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_WEIGHTS3_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(WEIGHTS3, WEIGHTS_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_ACT_IN1_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(ACT_IN1, ACT_IN_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_ACT_IN2_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(ACT_IN2, ACT_IN_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_ACT_IN3_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(ACT_IN3, ACT_IN_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_ACT_OUT1_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(ACT_OUT1, ACT_OUT_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_ACT_OUT2_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(ACT_OUT2, ACT_OUT_BEAT_BYTES);
#endif
#ifdef EDNN_STREAM_ACT_OUT3_BYTES_PER_BEAT
EDNN_HLS_SAME_WIDTH(ACT_OUT3, ACT_OUT_BEAT_BYTES);
#endif
#undef EDNN_HLS_SAME_WIDTH

/* ------------------------------------------------------------------ streams */
#if EDNN_VENDOR_HLS
template <typename T>
using stream = hls::stream<T>;
template <unsigned B>
using axis_word = ap_axiu<8 * B, 0, 0, 0>;

template <unsigned B>
inline uint8_t beat_byte(const axis_word<B>& w, unsigned i) {
    return (uint8_t)w.data.range(8 * i + 7, 8 * i);
}
template <unsigned B>
inline void set_beat_byte(axis_word<B>& w, unsigned i, uint8_t v) {
    w.data.range(8 * i + 7, 8 * i) = v;
}
template <unsigned B>
inline unsigned beat_keep_bytes(const axis_word<B>& w) {
    unsigned n = 0;
    for (unsigned i = 0; i < B; ++i) {
#pragma HLS UNROLL
        n += (unsigned)w.keep[i];
    }
    return n;
}
template <unsigned B>
inline void set_beat_keep(axis_word<B>& w, unsigned nbytes) {
    for (unsigned i = 0; i < B; ++i) {
#pragma HLS UNROLL
        w.keep[i] = i < nbytes ? 1 : 0;
        w.strb[i] = i < nbytes ? 1 : 0;
    }
}
template <unsigned B>
inline bool beat_last(const axis_word<B>& w) { return w.last != 0; }
template <unsigned B>
inline void set_beat_last(axis_word<B>& w, bool last) { w.last = last ? 1 : 0; }
#else
/* A FIFO with the hls::stream interface the engine uses (C simulation only). */
template <typename T>
class stream {
  public:
    void write(const T& v) { q_.push_back(v); }
    T read() {
        T v = q_.front();
        q_.pop_front();
        return v;
    }
    bool read_nb(T& v) {
        if (q_.empty()) return false;
        v = read();
        return true;
    }
    bool empty() const { return q_.empty(); }
    size_t size() const { return q_.size(); }

  private:
    std::deque<T> q_;
};

/* One AXI-Stream beat of B bytes: TDATA (byte i = bits [8i, 8i+8)), TKEEP, TLAST. */
template <unsigned B>
struct axis_word {
    uint8_t data[B];
    uint64_t keep; /* bit i: byte i valid; only a packet's last beat may be short */
    bool last;
};
static_assert(CMD_BEAT_BYTES <= 64 && WEIGHTS_BEAT_BYTES <= 64 && ACT_IN_BEAT_BYTES <= 64 &&
                  ACT_OUT_BEAT_BYTES <= 64,
              "TKEEP of the C-simulation beat is 64 bits");

template <unsigned B>
inline uint8_t beat_byte(const axis_word<B>& w, unsigned i) { return w.data[i]; }
template <unsigned B>
inline void set_beat_byte(axis_word<B>& w, unsigned i, uint8_t v) { w.data[i] = v; }
template <unsigned B>
inline unsigned beat_keep_bytes(const axis_word<B>& w) {
    unsigned n = 0;
    for (unsigned i = 0; i < B; ++i) n += (unsigned)((w.keep >> i) & 1u);
    return n;
}
template <unsigned B>
inline void set_beat_keep(axis_word<B>& w, unsigned nbytes) {
    w.keep = nbytes >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << nbytes) - 1u);
}
template <unsigned B>
inline bool beat_last(const axis_word<B>& w) { return w.last; }
template <unsigned B>
inline void set_beat_last(axis_word<B>& w, bool last) { w.last = last; }
#endif

typedef axis_word<CMD_BEAT_BYTES> cmd_beat;
typedef axis_word<WEIGHTS_BEAT_BYTES> weights_beat;
typedef axis_word<ACT_IN_BEAT_BYTES> act_in_beat;
typedef axis_word<ACT_OUT_BEAT_BYTES> act_out_beat;

/* ------------------------------------------------------------------ buffer words and arrays */
/* One input/output-buffer bank word (CB bytes, little-endian elements). */
struct act_word {
    uint8_t b[CB];
};
/* One bank's slice of a weight word; a weight word = WT_BANKS slices side by side. */
struct wt_bank_word {
    uint8_t b[WT_BANK_BYTES];
};
/* One bank's slice of a params word. */
struct par_bank_word {
    uint8_t b[PAR_BANK_BYTES];
};

/* The four on-chip buffers: word a of the input/output buffer is row a / banks of bank
 * a % banks (low-order interleaving); word a of the weight/params buffer is row a of every
 * bank. Array shape = [banks][depth] x width: what docs/engine.md section 5 specifies and
 * what the resource estimate maps onto BRAM36 / URAM (docs/engine.md, "From the HLS source to
 * the resource estimate"). */
typedef act_word input_buffer_t[IN_BANKS][IN_DEPTH];
typedef act_word output_buffer_t[OUT_BANKS][OUT_DEPTH];
typedef wt_bank_word weight_buffer_t[WT_BANKS][WT_DEPTH];
typedef par_bank_word params_buffer_t[PAR_BANKS][PAR_DEPTH];

/* Kept K-split accumulators (the PE array's OC x P 48-bit registers). */
typedef int64_t acc_array_t[OC][P];

/* ------------------------------------------------------------------ AXI-Lite view */
/* Values of STATUS (docs/engine.md section 3). */
constexpr uint32_t STATUS_IDLE = EDNN_REG_STATUS_IDLE_MASK;
constexpr uint32_t STATUS_BUSY = EDNN_REG_STATUS_BUSY_MASK;
constexpr uint32_t STATUS_DONE = EDNN_REG_STATUS_DONE_MASK;
constexpr uint32_t STATUS_ERROR = EDNN_REG_STATUS_ERROR_MASK;
constexpr uint32_t STATUS_CODE_SHIFT = EDNN_REG_STATUS_ERROR_CODE_SHIFT;
constexpr uint32_t NO_INDEX = 0xFFFFFFFFu; /* ERROR_INDEX of a header fault */

/* The identity block as the engine drives it (values from edge_dnn_config.h). */
void identity_block(uint32_t id[ID_WORDS]);

#ifndef __SYNTHESIS__
/* C simulation only: a human-readable reason for the last fault (empty if none). */
const char* csim_fault_reason();
/* C simulation only: the contents of buffer `which` (0 input, 1 output, 2 weight, 3 params)
 * in logical word order, word a at bytes [a * word bytes, (a + 1) * word bytes): the layout of
 * the emulator's Engine.input / output / weight / params arrays. */
constexpr unsigned CSIM_BUFFERS = 4;
size_t csim_buffer_bytes(unsigned which);
void csim_get_buffer(unsigned which, uint8_t* bytes);
void csim_set_buffer(unsigned which, const uint8_t* bytes);
#endif

}  // namespace ednn

/*
 * The engine (one AXI-Lite START .. DONE/ERROR per call; docs/engine.md sections 1-3).
 *
 *   cmd      AXI-Stream in: the command stream (one packet, TLAST on its last beat)
 *   weights  AXI-Stream in: the weights streams (weights and params), overlay.toml order
 *   act_in   AXI-Stream in: activation streams
 *   act_out  AXI-Stream out: one packet per STORE_TILE part
 *   control  AXI-Lite CONTROL (START, SOFT_RESET, IRQ_ENABLE, CLEAR_COUNTERS)
 *   status   AXI-Lite STATUS (IDLE, BUSY, DONE, ERROR, ERROR_CODE[15:8])
 *   irq_status AXI-Lite IRQ_STATUS (DONE bit 0, ERROR bit 1; the host clears them, w1c)
 *   error_index the proposed ERROR_INDEX register: the faulting instruction (NO_INDEX: header)
 *   identity AXI-Lite identity block ID_MAGIC .. ID_PARAMS_BYTES
 *   counters AXI-Lite CNT_CYCLES_LO .. CNT_COMMANDS
 *   irq      engine.irq (level: a pending cause and IRQ_ENABLE)
 */
void edge_dnn_engine(ednn::stream<ednn::cmd_beat>& cmd,
                     ednn::stream<ednn::weights_beat> weights[ednn::NUM_WEIGHTS],
                     ednn::stream<ednn::act_in_beat> act_in[ednn::NUM_ACT_IN],
                     ednn::stream<ednn::act_out_beat> act_out[ednn::NUM_ACT_OUT],
                     uint32_t control, uint32_t& status, uint32_t& irq_status,
                     uint32_t& error_index, uint32_t identity[ednn::ID_WORDS],
                     uint32_t counters[ednn::CNT_WORDS], bool& irq);

#endif /* EDGE_DNN_HLS_H */
