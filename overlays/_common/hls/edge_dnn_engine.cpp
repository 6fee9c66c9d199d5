/*
 * edge_dnn_engine.cpp: the edge-dnn engine in Vitis HLS C++: ISA v2.0 (LRN instructions
 * CONFIG_NORM / NORM_TILE when edge_dnn_isa.h defines them); the version the engine accepts is
 * EDNN_ISA_MAJOR.EDNN_ISA_MINOR of that header.
 *
 * One call of edge_dnn_engine() is one CONTROL.START .. DONE / ERROR run of a command stream.
 * The decoder fetches and checks each instruction (docs/isa.md 1.1) and hands it to its unit
 * (LDW, LDA, CMP, VEC, ST). Units execute in stream order: docs/isa.md section 3 makes stream
 * order a valid schedule of the concurrent units, and every result is the same in any valid
 * schedule, so this sequential form is bit-exact with edge_dnn/emulator/engine.py and with the
 * overlapped hardware. The dependency-token queues are kept as counters with the same checks.
 *
 * Arithmetic (docs/arithmetic.md): products exact in int32/int64, the accumulator is the
 * 48-bit DSP48E2 P register (wrap48), requantization (acc * M + 2^(S-1)) >> S in int64 with
 * the round bit, saturation before narrowing. The int8 PE array packs two weights sharing one
 * activation per DSP (pe_pair_chain). Errors: STATUS.ERROR with ERROR_CODE = the ErrorCode
 * values of edge_dnn/isa/errors.py (EDNN_ERR_* in edge_dnn_isa.h), at the first fault, with
 * the checks in the emulator's order (differences: overlays/_common/hls/README.md).
 */
#include "edge_dnn_hls.h"

#if !defined(__SYNTHESIS__) && defined(__GNUC__)
/* loop labels name the loops in the HLS reports; HLS pragmas are unknown to g++ */
#pragma GCC diagnostic ignored "-Wunused-label"
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#endif

#ifndef __SYNTHESIS__
#include <cstdarg>
#include <cstdio>
#endif

namespace ednn {
namespace {

/* ------------------------------------------------------------------ faults */
#ifndef __SYNTHESIS__
char g_reason[768];
uint8_t fault_(uint8_t code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(g_reason, sizeof g_reason, fmt, ap);
    va_end(ap);
    return code;
}
#define EDNN_FAULT(code, ...) ::ednn::fault_((uint8_t)(code), __VA_ARGS__)
#else
#define EDNN_FAULT(code, ...) ((uint8_t)(code))
#endif

/* Value of field F of instruction words w, sign-extended if the field is signed. */
#define EDNN_FIELD(w, F) \
    ((F##_SIGNED) ? (int64_t)EDNN_GET_S((w), F) : (int64_t)EDNN_GET_U((w), F))
#define EDNN_U(w, F) ((uint32_t)EDNN_GET_U((w), F))
#define EDNN_S(w, F) ((int32_t)EDNN_GET_S((w), F))
#define EDNN_RANGE_OK(w, F) \
    (EDNN_FIELD((w), F) >= (int64_t)(F##_MIN) && EDNN_FIELD((w), F) <= (int64_t)(F##_MAX))

/* ------------------------------------------------------------------ on-chip state */
input_buffer_t in_buf;
output_buffer_t out_buf;
weight_buffer_t wt_buf;
params_buffer_t par_buf;

struct conv_regs {
    bool valid, int16, in_signed, depthwise;
    uint32_t ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
    int32_t qmin, qmax;
};
struct pool_regs {
    bool valid, int16, in_signed, ave;
    uint32_t ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, n_area;
    int32_t qmin, qmax;
};
struct elt_regs {
    bool valid, int16, a_signed, b_signed, max_op;
    int32_t m_a, m_b;
    uint32_t shift;
    int32_t qmin, qmax;
};
struct kept_state {
    bool valid;
    uint32_t index, oh0, n_oh, out_cb;
};

#ifdef EDNN_OP_CONFIG_NORM
/* LRN across channels (CONFIG_NORM / NORM_TILE, window unit) */
#define EDNN_HLS_HAS_NORM 1
struct norm_regs {
    bool valid, int16, in_signed;
    uint32_t h, w, local_size, lut_shift, frac;
    int32_t qmin, qmax;
};
norm_regs g_norm;
#else
#define EDNN_HLS_HAS_NORM 0
#endif

conv_regs g_conv;
pool_regs g_pool;
elt_regs g_elt;
kept_state g_kept;
acc_array_t g_kept_acc;
uint8_t g_tokens[NUM_TOKENS];
uint64_t g_cnt_cycles, g_cnt_busy, g_cnt_stall_in, g_cnt_stall_out;
uint32_t g_cnt_commands;
uint32_t g_status = STATUS_IDLE;

/* ------------------------------------------------------------------ buffer access */
inline act_word& in_word(uint32_t a) { return in_buf[a % IN_BANKS][a / IN_BANKS]; }
inline act_word& out_word(uint32_t a) { return out_buf[a % OUT_BANKS][a / OUT_BANKS]; }
inline uint8_t wt_byte(uint32_t a, unsigned j) {
    return wt_buf[j / WT_BANK_BYTES][a].b[j % WT_BANK_BYTES];
}
inline uint8_t par_byte(uint32_t a, unsigned j) {
    return par_buf[j / PAR_BANK_BYTES][a].b[j % PAR_BANK_BYTES];
}
inline uint64_t par_u64(uint32_t a, unsigned byte0) {
    uint64_t v = 0;
    for (unsigned j = 0; j < 8; ++j) {
#pragma HLS UNROLL
        v |= (uint64_t)par_byte(a, byte0 + j) << (8 * j);
    }
    return v;
}

/* Element k of an activation word: int8 / uint8 byte k, or little-endian int16 k. */
inline int32_t elem(const act_word& w, unsigned k, bool int16, bool sgn) {
    if (int16) return (int32_t)(int16_t)(uint16_t)(w.b[2 * k] | (w.b[2 * k + 1] << 8));
    return sgn ? (int32_t)(int8_t)w.b[k] : (int32_t)w.b[k];
}
/* Store the low 8 e bits of a saturated value as element k. */
inline void put_elem(act_word& w, unsigned k, bool int16, int64_t y) {
    if (int16) {
        w.b[2 * k] = (uint8_t)(y & 0xFF);
        w.b[2 * k + 1] = (uint8_t)((y >> 8) & 0xFF);
    } else {
        w.b[k] = (uint8_t)(y & 0xFF);
    }
}

/* ------------------------------------------------------------------ arithmetic */
inline int64_t sign_extend(uint64_t v, unsigned bits) {
    const uint64_t m = (bits >= 64) ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1u);
    const uint64_t x = v & m;
    const uint64_t sign = (uint64_t)1 << (bits - 1);
    return (int64_t)(x ^ sign) - (int64_t)sign;
}
/* The 48-bit P register: two's complement wrap of an exact sum. */
inline int64_t wrap48(int64_t v) { return sign_extend((uint64_t)v, 48); }
/* floor(t / 2^S + 1/2) for every int64 t, 1 <= S <= 63 (docs/arithmetic.md section 4). */
inline int64_t round_shift(int64_t t, unsigned s) { return (t >> s) + ((t >> (s - 1)) & 1); }
inline int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }
/* y = clamp(rshift_round(acc * M, S), qmin, qmax); |acc| < 2^47, 0 <= M < 2^16. */
inline int64_t requantize(int64_t acc, int64_t m, unsigned s, int32_t qmin, int32_t qmax) {
    return clamp(round_shift(acc * m, s), qmin, qmax);
}
inline int64_t eltwise(const elt_regs& e, int64_t a, int64_t b) {
    if (e.max_op) return clamp(a > b ? a : b, e.qmin, e.qmax);
    return clamp(round_shift(a * e.m_a + b * e.m_b, e.shift), e.qmin, e.qmax);
}

/*
 * DSP48E2 packing of two int8 products that share one activation (docs/arithmetic.md 3.2):
 *   A = w1 * 2^18 (27-bit A port), D = w0 (sign-extended), pre-adder AD = w1 * 2^18 + w0,
 *   B = x (int8 sign- or uint8 zero-extended to 18 bits), P = AD * B = (w1 x) 2^18 + (w0 x).
 * CHAIN DSPs cascaded through PCOUT -> PCIN add CHAIN such products of the same channel pair;
 * the low field sum stays in [-2^17, 2^17) (|w| <= 128, |x| <= 255, CHAIN <= 4), so
 *   lo = P[17:0] read as signed 18-bit  = sum w0 x   (exact)
 *   hi = (P - lo) >> 18 = (P >> 18) + P[17] = sum w1 x   (exact).
 * The int32 pre-adder value and the int64 P stand for the DSP's 27- and 48-bit registers; no
 * value here exceeds them (|AD| < 2^26, |x| < 2^9, |P| < 2^36). Every operand derives from an
 * 8-bit value (sign-extended w0, w1 shifted by 18, x), so bit-width narrowing reduces each
 * product to 27 x 18 bits: one DSP48E2 with its pre-adder per product, the CHAIN-term sum on
 * the PCIN cascade, and lo / hi extraction plus the two 48-bit accumulations in fabric.
 */
inline void pe_pair_chain(const int32_t ad[], const int32_t x[], unsigned n, int64_t& acc0,
                          int64_t& acc1) {
    int64_t p = 0; /* P register of the cascade */
    for (unsigned i = 0; i < n; ++i) {
#pragma HLS UNROLL
        p += (int64_t)ad[i] * (int64_t)x[i];
    }
    const int64_t lo = ((p & 0x3FFFF) ^ 0x20000) - 0x20000;
    const int64_t hi = (p - lo) >> PACK_SHIFT;
    acc0 += lo;
    acc1 += hi;
}
static_assert(PACK_SHIFT == 18, "the packing above is written for an 18-bit low field");

/* ------------------------------------------------------------------ CRC syndromes */
/* Syndrome (computed ^ stored CRC-16) of every single-bit error of an instruction: the 240
 * data bits of bytes 0..29 and the 16 check bits. A mismatch whose syndrome is one of these is
 * a flipped bit (INSTR_CRC); any other is reported by the structural checks if they find a
 * fault (edge_dnn.isa.format.decode does the same). */
struct syndrome_table {
    uint16_t s[EDNN_ISA_CRC16_COVERED_BYTES * 8 + 16];
};
constexpr uint16_t crc16_bytes(const uint8_t* p, unsigned n) {
    uint32_t c = EDNN_ISA_CRC16_INIT;
    for (unsigned i = 0; i < n; ++i) {
        c ^= (uint32_t)p[i] << 8;
        for (unsigned b = 0; b < 8; ++b) c = (c & 0x8000u) ? ((c << 1) ^ EDNN_ISA_CRC16_POLY) : (c << 1);
        c &= 0xFFFFu;
    }
    return (uint16_t)c;
}
constexpr syndrome_table make_syndromes() {
    syndrome_table t{};
    uint8_t e[EDNN_ISA_CRC16_COVERED_BYTES] = {};
    const uint16_t zero = crc16_bytes(e, EDNN_ISA_CRC16_COVERED_BYTES);
    for (unsigned k = 0; k < EDNN_ISA_CRC16_COVERED_BYTES * 8; ++k) {
        for (unsigned j = 0; j < EDNN_ISA_CRC16_COVERED_BYTES; ++j) e[j] = 0;
        e[k / 8] = (uint8_t)(1u << (k % 8));
        t.s[k] = (uint16_t)(crc16_bytes(e, EDNN_ISA_CRC16_COVERED_BYTES) ^ zero);
    }
    for (unsigned j = 0; j < 16; ++j) t.s[EDNN_ISA_CRC16_COVERED_BYTES * 8 + j] = (uint16_t)(1u << j);
    return t;
}
constexpr syndrome_table SYNDROMES = make_syndromes();

bool single_bit_syndrome(uint16_t syn) {
    bool hit = false;
    for (unsigned k = 0; k < sizeof(SYNDROMES.s) / sizeof(SYNDROMES.s[0]); ++k) {
#pragma HLS UNROLL
        hit = hit || SYNDROMES.s[k] == syn;
    }
    return hit;
}

/* ------------------------------------------------------------------ decoder checks */
#define EDNN_RESERVED(OP)                                                         \
    {                                                                             \
        EDNN_##OP##_RESERVED_W0, EDNN_##OP##_RESERVED_W1, EDNN_##OP##_RESERVED_W2, \
            EDNN_##OP##_RESERVED_W3, EDNN_##OP##_RESERVED_W4,                     \
            EDNN_##OP##_RESERVED_W5, EDNN_##OP##_RESERVED_W6,                     \
            EDNN_##OP##_RESERVED_W7                                               \
    }

struct opcode_info {
    bool known;
    unsigned unit;
    uint32_t reserved[8];
};

opcode_info info_of(uint32_t op) {
    switch (op) {
        case EDNN_OP_NOP: return {true, EDNN_OP_NOP_UNIT, EDNN_RESERVED(NOP)};
        case EDNN_OP_SYNC: return {true, EDNN_OP_SYNC_UNIT, EDNN_RESERVED(SYNC)};
        case EDNN_OP_END: return {true, EDNN_OP_END_UNIT, EDNN_RESERVED(END)};
        case EDNN_OP_CONFIG_CONV:
            return {true, EDNN_OP_CONFIG_CONV_UNIT, EDNN_RESERVED(CONFIG_CONV)};
        case EDNN_OP_CONFIG_POOL:
            return {true, EDNN_OP_CONFIG_POOL_UNIT, EDNN_RESERVED(CONFIG_POOL)};
        case EDNN_OP_CONFIG_ELTWISE:
            return {true, EDNN_OP_CONFIG_ELTWISE_UNIT, EDNN_RESERVED(CONFIG_ELTWISE)};
        case EDNN_OP_LOAD_INPUT:
            return {true, EDNN_OP_LOAD_INPUT_UNIT, EDNN_RESERVED(LOAD_INPUT)};
        case EDNN_OP_LOAD_WEIGHTS:
            return {true, EDNN_OP_LOAD_WEIGHTS_UNIT, EDNN_RESERVED(LOAD_WEIGHTS)};
        case EDNN_OP_LOAD_PARAMS:
            return {true, EDNN_OP_LOAD_PARAMS_UNIT, EDNN_RESERVED(LOAD_PARAMS)};
        case EDNN_OP_COMPUTE_TILE:
            return {true, EDNN_OP_COMPUTE_TILE_UNIT, EDNN_RESERVED(COMPUTE_TILE)};
        case EDNN_OP_POOL_TILE: return {true, EDNN_OP_POOL_TILE_UNIT, EDNN_RESERVED(POOL_TILE)};
        case EDNN_OP_ELTWISE_TILE:
            return {true, EDNN_OP_ELTWISE_TILE_UNIT, EDNN_RESERVED(ELTWISE_TILE)};
        case EDNN_OP_STORE_TILE:
            return {true, EDNN_OP_STORE_TILE_UNIT, EDNN_RESERVED(STORE_TILE)};
#if EDNN_HLS_HAS_NORM
        case EDNN_OP_CONFIG_NORM:
            return {true, EDNN_OP_CONFIG_NORM_UNIT, EDNN_RESERVED(CONFIG_NORM)};
        case EDNN_OP_NORM_TILE: return {true, EDNN_OP_NORM_TILE_UNIT, EDNN_RESERVED(NORM_TILE)};
#endif
        default: return {false, 0, {0, 0, 0, 0, 0, 0, 0, 0}};
    }
}

uint32_t unit_wait_mask(unsigned unit) {
    switch (unit) {
        case EDNN_UNIT_LDW: return EDNN_UNIT_LDW_WAIT_MASK;
        case EDNN_UNIT_LDA: return EDNN_UNIT_LDA_WAIT_MASK;
        case EDNN_UNIT_CMP: return EDNN_UNIT_CMP_WAIT_MASK;
        case EDNN_UNIT_ST: return EDNN_UNIT_ST_WAIT_MASK;
        case EDNN_UNIT_VEC: return EDNN_UNIT_VEC_WAIT_MASK;
        default: return EDNN_UNIT_DEC_WAIT_MASK;
    }
}
uint32_t unit_signal_mask(unsigned unit) {
    switch (unit) {
        case EDNN_UNIT_LDW: return EDNN_UNIT_LDW_SIGNAL_MASK;
        case EDNN_UNIT_LDA: return EDNN_UNIT_LDA_SIGNAL_MASK;
        case EDNN_UNIT_CMP: return EDNN_UNIT_CMP_SIGNAL_MASK;
        case EDNN_UNIT_ST: return EDNN_UNIT_ST_SIGNAL_MASK;
        case EDNN_UNIT_VEC: return EDNN_UNIT_VEC_SIGNAL_MASK;
        default: return EDNN_UNIT_DEC_SIGNAL_MASK;
    }
}

inline unsigned popcount4(uint32_t m) {
    return (m & 1u) + ((m >> 1) & 1u) + ((m >> 2) & 1u) + ((m >> 3) & 1u);
}

/* Legal range of every value field (the ISA header's _MIN / _MAX). */
bool fields_in_range(uint32_t op, const uint32_t* w) {
#define R(F) EDNN_RANGE_OK(w, EDNN_##F)
    bool ok = R(INSTR_WAIT) && R(INSTR_SIGNAL) && R(INSTR_TAG);
    switch (op) {
        case EDNN_OP_CONFIG_CONV:
            ok = ok && R(CONFIG_CONV_PRECISION) && R(CONFIG_CONV_IN_SIGNED) &&
                 R(CONFIG_CONV_DEPTHWISE) && R(CONFIG_CONV_IN_H) && R(CONFIG_CONV_IN_W) &&
                 R(CONFIG_CONV_OUT_H) && R(CONFIG_CONV_OUT_W) && R(CONFIG_CONV_KERNEL_H) &&
                 R(CONFIG_CONV_KERNEL_W) && R(CONFIG_CONV_STRIDE_H) && R(CONFIG_CONV_STRIDE_W) &&
                 R(CONFIG_CONV_PAD_H) && R(CONFIG_CONV_PAD_W) && R(CONFIG_CONV_DILATION_H) &&
                 R(CONFIG_CONV_DILATION_W) && R(CONFIG_CONV_QMIN) && R(CONFIG_CONV_QMAX);
            break;
        case EDNN_OP_CONFIG_POOL:
            ok = ok && R(CONFIG_POOL_PRECISION) && R(CONFIG_POOL_IN_SIGNED) &&
                 R(CONFIG_POOL_KIND) && R(CONFIG_POOL_IN_H) && R(CONFIG_POOL_IN_W) &&
                 R(CONFIG_POOL_OUT_H) && R(CONFIG_POOL_OUT_W) && R(CONFIG_POOL_KERNEL_H) &&
                 R(CONFIG_POOL_KERNEL_W) && R(CONFIG_POOL_STRIDE_H) && R(CONFIG_POOL_STRIDE_W) &&
                 R(CONFIG_POOL_PAD_H) && R(CONFIG_POOL_PAD_W) && R(CONFIG_POOL_N_AREA) &&
                 R(CONFIG_POOL_QMIN) && R(CONFIG_POOL_QMAX);
            break;
        case EDNN_OP_CONFIG_ELTWISE:
            ok = ok && R(CONFIG_ELTWISE_PRECISION) && R(CONFIG_ELTWISE_A_SIGNED) &&
                 R(CONFIG_ELTWISE_B_SIGNED) && R(CONFIG_ELTWISE_OP) && R(CONFIG_ELTWISE_M_A) &&
                 R(CONFIG_ELTWISE_M_B) && R(CONFIG_ELTWISE_SHIFT) && R(CONFIG_ELTWISE_QMIN) &&
                 R(CONFIG_ELTWISE_QMAX);
            break;
        case EDNN_OP_LOAD_INPUT:
            ok = ok && R(LOAD_INPUT_STREAMS) && R(LOAD_INPUT_DST_BASE) && R(LOAD_INPUT_N_WORDS);
            break;
        case EDNN_OP_LOAD_WEIGHTS:
            ok = ok && R(LOAD_WEIGHTS_STREAMS) && R(LOAD_WEIGHTS_DST_BASE) &&
                 R(LOAD_WEIGHTS_N_WORDS);
            break;
        case EDNN_OP_LOAD_PARAMS:
            ok = ok && R(LOAD_PARAMS_STREAMS) && R(LOAD_PARAMS_DST_BASE) &&
                 R(LOAD_PARAMS_N_WORDS);
            break;
        case EDNN_OP_COMPUTE_TILE:
            ok = ok && R(COMPUTE_TILE_ACC_FIRST) && R(COMPUTE_TILE_ACC_LAST) &&
                 R(COMPUTE_TILE_FUSE_ELTWISE) && R(COMPUTE_TILE_OUT_MAP) &&
                 R(COMPUTE_TILE_IN_BASE) && R(COMPUTE_TILE_IN_CB) && R(COMPUTE_TILE_IH0) &&
                 R(COMPUTE_TILE_IN_ROWS) && R(COMPUTE_TILE_OH0) && R(COMPUTE_TILE_N_OH) &&
                 R(COMPUTE_TILE_OUT_BASE) && R(COMPUTE_TILE_OUT_CB) && R(COMPUTE_TILE_W_BASE) &&
                 R(COMPUTE_TILE_P_BASE) && R(COMPUTE_TILE_RES_BASE);
            break;
        case EDNN_OP_POOL_TILE:
            ok = ok && R(POOL_TILE_OUT_MAP) && R(POOL_TILE_IN_BASE) && R(POOL_TILE_N_CB) &&
                 R(POOL_TILE_IH0) && R(POOL_TILE_IN_ROWS) && R(POOL_TILE_OH0) &&
                 R(POOL_TILE_N_OH) && R(POOL_TILE_OUT_BASE) && R(POOL_TILE_P_BASE);
            break;
        case EDNN_OP_ELTWISE_TILE:
            ok = ok && R(ELTWISE_TILE_A_BASE) && R(ELTWISE_TILE_B_BASE) &&
                 R(ELTWISE_TILE_OUT_BASE) && R(ELTWISE_TILE_N_WORDS);
            break;
        case EDNN_OP_STORE_TILE:
            ok = ok && R(STORE_TILE_STREAMS) && R(STORE_TILE_LOOPBACK) && R(STORE_TILE_SRC_BASE) &&
                 R(STORE_TILE_N_BLOCKS) && R(STORE_TILE_BLOCK_WORDS) &&
                 R(STORE_TILE_SRC_PITCH) && R(STORE_TILE_DST_BASE) && R(STORE_TILE_DST_PITCH);
            break;
#if EDNN_HLS_HAS_NORM
        case EDNN_OP_CONFIG_NORM:
            ok = ok && R(CONFIG_NORM_PRECISION) && R(CONFIG_NORM_IN_SIGNED) &&
                 R(CONFIG_NORM_IN_H) && R(CONFIG_NORM_IN_W) && R(CONFIG_NORM_LOCAL_SIZE) &&
                 R(CONFIG_NORM_LUT_SHIFT) && R(CONFIG_NORM_FRAC_BITS) && R(CONFIG_NORM_QMIN) &&
                 R(CONFIG_NORM_QMAX);
            break;
        case EDNN_OP_NORM_TILE:
            ok = ok && R(NORM_TILE_OUT_MAP) && R(NORM_TILE_IN_BASE) && R(NORM_TILE_N_CB) &&
                 R(NORM_TILE_IH0) && R(NORM_TILE_IN_ROWS) && R(NORM_TILE_OH0) &&
                 R(NORM_TILE_N_OH) && R(NORM_TILE_OUT_BASE) && R(NORM_TILE_P_BASE);
            break;
#endif
        default: break;
    }
#undef R
    return ok;
}

/* int8 output bounds (every CONFIG_*): qmin >= -128, qmax <= 255, signed => qmax <= 127. */
inline bool int8_q_ok(bool int16, int32_t qmin, int32_t qmax) {
    return int16 || (qmin >= -128 && qmax <= 255 && (qmin >= 0 || qmax <= 127));
}

/* Cross-field rules of each opcode (edge_dnn/isa/format.py OpcodeSpec.rules). */
bool rules_ok(uint32_t op, const uint32_t* w) {
    switch (op) {
        case EDNN_OP_CONFIG_CONV: {
            const bool i16 = EDNN_U(w, EDNN_CONFIG_CONV_PRECISION) == EDNN_PRECISION_INT16;
            return int8_q_ok(i16, EDNN_S(w, EDNN_CONFIG_CONV_QMIN),
                             EDNN_S(w, EDNN_CONFIG_CONV_QMAX)) &&
                   (!i16 || EDNN_U(w, EDNN_CONFIG_CONV_IN_SIGNED) == 1);
        }
        case EDNN_OP_CONFIG_POOL: {
            const bool i16 = EDNN_U(w, EDNN_CONFIG_POOL_PRECISION) == EDNN_PRECISION_INT16;
            const bool is_max = EDNN_U(w, EDNN_CONFIG_POOL_KIND) == EDNN_POOL_MAX;
            return int8_q_ok(i16, EDNN_S(w, EDNN_CONFIG_POOL_QMIN),
                             EDNN_S(w, EDNN_CONFIG_POOL_QMAX)) &&
                   (!i16 || EDNN_U(w, EDNN_CONFIG_POOL_IN_SIGNED) == 1) &&
                   ((EDNN_U(w, EDNN_CONFIG_POOL_N_AREA) == 0) == is_max) &&
                   EDNN_U(w, EDNN_CONFIG_POOL_PAD_H) < EDNN_U(w, EDNN_CONFIG_POOL_KERNEL_H) &&
                   EDNN_U(w, EDNN_CONFIG_POOL_PAD_W) < EDNN_U(w, EDNN_CONFIG_POOL_KERNEL_W);
        }
        case EDNN_OP_CONFIG_ELTWISE: {
            const bool i16 = EDNN_U(w, EDNN_CONFIG_ELTWISE_PRECISION) == EDNN_PRECISION_INT16;
            return int8_q_ok(i16, EDNN_S(w, EDNN_CONFIG_ELTWISE_QMIN),
                             EDNN_S(w, EDNN_CONFIG_ELTWISE_QMAX)) &&
                   (!i16 || (EDNN_U(w, EDNN_CONFIG_ELTWISE_A_SIGNED) == 1 &&
                             EDNN_U(w, EDNN_CONFIG_ELTWISE_B_SIGNED) == 1));
        }
        case EDNN_OP_LOAD_INPUT:
            return EDNN_U(w, EDNN_LOAD_INPUT_N_WORDS) %
                       popcount4(EDNN_U(w, EDNN_LOAD_INPUT_STREAMS)) ==
                   0;
        case EDNN_OP_LOAD_WEIGHTS:
            return EDNN_U(w, EDNN_LOAD_WEIGHTS_N_WORDS) %
                       popcount4(EDNN_U(w, EDNN_LOAD_WEIGHTS_STREAMS)) ==
                   0;
        case EDNN_OP_LOAD_PARAMS:
            return EDNN_U(w, EDNN_LOAD_PARAMS_N_WORDS) %
                       popcount4(EDNN_U(w, EDNN_LOAD_PARAMS_STREAMS)) ==
                   0;
        case EDNN_OP_COMPUTE_TILE: {
            const bool fuse = EDNN_U(w, EDNN_COMPUTE_TILE_FUSE_ELTWISE) != 0;
            return (!fuse || EDNN_U(w, EDNN_COMPUTE_TILE_ACC_LAST) != 0) &&
                   (fuse || EDNN_U(w, EDNN_COMPUTE_TILE_RES_BASE) == 0);
        }
        case EDNN_OP_STORE_TILE: {
            const uint32_t streams = EDNN_U(w, EDNN_STORE_TILE_STREAMS);
            const bool loop = EDNN_U(w, EDNN_STORE_TILE_LOOPBACK) != 0;
            const uint32_t nb = EDNN_U(w, EDNN_STORE_TILE_N_BLOCKS);
            const uint32_t bw = EDNN_U(w, EDNN_STORE_TILE_BLOCK_WORDS);
            if ((streams == 0) != loop) return false;
            if (!loop && EDNN_U(w, EDNN_STORE_TILE_DST_BASE) != 0) return false;
            if (!loop && EDNN_U(w, EDNN_STORE_TILE_DST_PITCH) != 0) return false;
            if (loop && nb != 1 && EDNN_U(w, EDNN_STORE_TILE_DST_PITCH) < bw) return false;
            if (streams != 0 && ((uint64_t)nb * bw) % popcount4(streams) != 0) return false;
            return true;
        }
#if EDNN_HLS_HAS_NORM
        case EDNN_OP_CONFIG_NORM: {
            const bool i16 = EDNN_U(w, EDNN_CONFIG_NORM_PRECISION) == EDNN_PRECISION_INT16;
            return int8_q_ok(i16, EDNN_S(w, EDNN_CONFIG_NORM_QMIN),
                             EDNN_S(w, EDNN_CONFIG_NORM_QMAX)) &&
                   !i16 && EDNN_U(w, EDNN_CONFIG_NORM_LOCAL_SIZE) % 2 == 1;
        }
#endif
        default: return true;
    }
}

/* Structural checks in decoder order: opcode, reserved bits, field ranges, token masks,
 * cross-field rules. 0 if the instruction is well formed. */
uint8_t check_structure(const uint32_t* w) {
    const uint32_t op = w[0] & 0xFFu;
    const opcode_info info = info_of(op);
    if (!info.known) return EDNN_FAULT(EDNN_ERR_BAD_OPCODE, "unknown opcode 0x%02X", op);
    for (unsigned k = 0; k < 8; ++k) {
        if (w[k] & info.reserved[k])
            return EDNN_FAULT(EDNN_ERR_RESERVED_BITS, "reserved bits 0x%08X set in word %u",
                              w[k] & info.reserved[k], k);
    }
    if (!fields_in_range(op, w))
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "opcode 0x%02X: a field is out of range", op);
    const uint32_t wait = EDNN_U(w, EDNN_INSTR_WAIT);
    const uint32_t signal = EDNN_U(w, EDNN_INSTR_SIGNAL);
    if ((wait & ~unit_wait_mask(info.unit)) || (signal & ~unit_signal_mask(info.unit)))
        return EDNN_FAULT(EDNN_ERR_TOKEN_MISUSE,
                          "opcode 0x%02X: wait 0x%02X / signal 0x%02X not allowed for unit %u",
                          op, wait, signal, info.unit);
    if (!rules_ok(op, w))
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "opcode 0x%02X breaks a cross-field rule", op);
    return 0;
}

/* The decoder's check of one instruction (docs/isa.md 1.1, step 2). */
uint8_t check_instruction(const uint32_t* w) {
    const uint16_t stored = (uint16_t)(w[7] >> 16);
    const uint16_t syn = (uint16_t)(ednn_instr_crc16(w) ^ stored);
    if (syn == 0) return check_structure(w);
    if (single_bit_syndrome(syn))
        return EDNN_FAULT(EDNN_ERR_INSTR_CRC, "instruction CRC-16 mismatch (one flipped bit)");
    const uint8_t e = check_structure(w);
    return e ? e : EDNN_FAULT(EDNN_ERR_INSTR_CRC, "instruction CRC-16 mismatch");
}

/* ------------------------------------------------------------------ command stream reader */
struct cmd_reader {
    cmd_beat beat;
    unsigned pos, n;
    bool have, ended;
};

/* Next 32-bit command word; `last` is set when it ends the packet (TLAST). */
uint8_t read_cmd_word(stream<cmd_beat>& s, cmd_reader& r, uint32_t& word, bool& last) {
    if (r.ended)
        return EDNN_FAULT(EDNN_ERR_STREAM_STRUCTURE,
                          "the command stream ended (TLAST) before the announced instructions");
    if (!r.have) {
#ifndef __SYNTHESIS__
        if (s.empty())
            return EDNN_FAULT(EDNN_ERR_STREAM_STRUCTURE,
                              "the command stream ran dry without TLAST");
#endif
        r.beat = s.read();
        r.n = beat_keep_bytes(r.beat);
        r.pos = 0;
        r.have = true;
        if (r.n % 4 != 0 || r.n == 0)
            return EDNN_FAULT(EDNN_ERR_STREAM_STRUCTURE,
                              "a command beat of %u bytes is not whole command words", r.n);
    }
    word = 0;
    for (unsigned j = 0; j < 4; ++j) word |= (uint32_t)beat_byte(r.beat, r.pos + j) << (8 * j);
    r.pos += 4;
    last = false;
    if (r.pos >= r.n) {
        r.have = false;
        if (beat_last(r.beat)) {
            r.ended = true;
            last = true;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ LDA / LDW */
/* Byte sinks: where the loaders put the bytes of their buffer words. */
struct input_sink {
    static constexpr unsigned WORD_BYTES = CB;
    static void put(uint32_t a, unsigned j, uint8_t v) { in_word(a).b[j] = v; }
};
struct weight_sink {
    static constexpr unsigned WORD_BYTES = WT_WORD_BYTES;
    static void put(uint32_t a, unsigned j, uint8_t v) {
        wt_buf[j / WT_BANK_BYTES][a].b[j % WT_BANK_BYTES] = v;
    }
};
struct params_sink {
    static constexpr unsigned WORD_BYTES = PAR_WORD_BYTES;
    static void put(uint32_t a, unsigned j, uint8_t v) {
        par_buf[j / PAR_BANK_BYTES][a].b[j % PAR_BANK_BYTES] = v;
    }
};

/* One part of a load: `n_words` words from one stream into words [dst, dst + n_words). TLAST
 * must come exactly with the last byte of the part (STREAM_LENGTH otherwise). */
template <class Sink, unsigned B>
uint8_t load_part(stream<axis_word<B>>& s, unsigned k, uint32_t dst, uint32_t n_words) {
    (void)k; /* the stream's index, for C-simulation fault messages */
    const uint64_t need = (uint64_t)n_words * Sink::WORD_BYTES;
    uint64_t got = 0;
    uint32_t a = dst;
    unsigned j = 0;
load_beats:
    while (got < need) {
#pragma HLS PIPELINE II = 1
#ifndef __SYNTHESIS__
        if (s.empty())
            return EDNN_FAULT(EDNN_ERR_STREAM_LENGTH,
                              "stream %u of the role ran dry after %llu of the part's %llu "
                              "bytes (no TLAST: the DMA has no more data)",
                              k, (unsigned long long)got, (unsigned long long)need);
#endif
        const axis_word<B> beat = s.read();
        ++g_cnt_cycles;
        const unsigned n = beat_keep_bytes(beat);
        for (unsigned i = 0; i < B; ++i) {
#pragma HLS UNROLL
            if (i < n && got < need) {
                Sink::put(a, j, beat_byte(beat, i));
                ++got;
                if (++j == Sink::WORD_BYTES) {
                    j = 0;
                    ++a;
                }
            } else if (i < n) {
                return EDNN_FAULT(EDNN_ERR_STREAM_LENGTH,
                                  "stream %u: no TLAST on byte %llu of the part (the packet is "
                                  "longer)",
                                  k, (unsigned long long)need);
            }
        }
        if (beat_last(beat) && got < need)
            return EDNN_FAULT(EDNN_ERR_STREAM_LENGTH,
                              "stream %u: TLAST after %llu bytes, but the load's part is %llu",
                              k, (unsigned long long)got, (unsigned long long)need);
        if (got == need && !beat_last(beat))
            return EDNN_FAULT(EDNN_ERR_STREAM_LENGTH,
                              "stream %u: no TLAST on byte %llu of the part", k,
                              (unsigned long long)need);
    }
    return 0;
}

template <class Sink, unsigned NS, unsigned B>
uint8_t load(stream<axis_word<B>>* streams, uint32_t mask, uint32_t dst, uint32_t n_words,
             uint32_t capacity, const char* what) {
    (void)what; /* named in C-simulation fault messages only */
    for (unsigned k = 0; k < 4; ++k) {
        if (((mask >> k) & 1u) && k >= NS)
            return EDNN_FAULT(EDNN_ERR_FIELD_RANGE,
                              "stream mask 0x%X selects stream %u of the role, the overlay has %u",
                              mask, k, NS);
    }
    if ((uint64_t)dst + n_words > capacity)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "%s buffer words [%u, %llu) outside its %u words",
                          what, dst, (unsigned long long)dst + n_words, capacity);
    const uint32_t part = n_words / popcount4(mask);
    uint32_t base = dst;
    for (unsigned k = 0; k < NS; ++k) {
        if (!((mask >> k) & 1u)) continue;
        const uint8_t e = load_part<Sink>(streams[k], k, base, part);
        if (e) return e;
        base += part;
    }
    return 0;
}

/* ------------------------------------------------------------------ ST */
template <unsigned B>
void emit_bytes(stream<axis_word<B>>& s, axis_word<B>& beat, unsigned& fill, const act_word& w,
                bool final_word) {
    for (unsigned j = 0; j < CB; ++j) {
        set_beat_byte(beat, fill, w.b[j]);
        ++fill;
        const bool end = final_word && j == CB - 1;
        if (fill == B || end) {
            set_beat_keep(beat, fill);
            set_beat_last(beat, end);
            s.write(beat);
            ++g_cnt_cycles;
            fill = 0;
        }
    }
}

uint8_t exec_store(const uint32_t* w, stream<act_out_beat>* act_out) {
    const uint32_t streams = EDNN_U(w, EDNN_STORE_TILE_STREAMS);
    const bool loop = EDNN_U(w, EDNN_STORE_TILE_LOOPBACK) != 0;
    const uint32_t src = EDNN_U(w, EDNN_STORE_TILE_SRC_BASE);
    const uint32_t nb = EDNN_U(w, EDNN_STORE_TILE_N_BLOCKS);
    const uint32_t bw = EDNN_U(w, EDNN_STORE_TILE_BLOCK_WORDS);
    const uint32_t sp = EDNN_U(w, EDNN_STORE_TILE_SRC_PITCH);
    const uint32_t dst = EDNN_U(w, EDNN_STORE_TILE_DST_BASE);
    const uint32_t dp = EDNN_U(w, EDNN_STORE_TILE_DST_PITCH);
    const uint64_t src_top = (uint64_t)src + (uint64_t)(nb - 1) * sp + bw - 1;
    if (src_top >= OUT_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "output buffer word %llu outside its %u words",
                          (unsigned long long)src_top, OUT_WORDS);
    if (loop) {
        const uint64_t dst_top = (uint64_t)dst + (uint64_t)(nb - 1) * dp + bw - 1;
        if (dst_top >= IN_WORDS)
            return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "input buffer word %llu outside its %u words",
                              (unsigned long long)dst_top, IN_WORDS);
    store_loopback:
        for (uint32_t b = 0; b < nb; ++b) {
            for (uint32_t j = 0; j < bw; ++j) {
#pragma HLS PIPELINE II = 1
                in_word(dst + b * dp + j) = out_word(src + b * sp + j);
                ++g_cnt_cycles;
            }
        }
        return 0;
    }
    for (unsigned k = 0; k < 4; ++k) {
        if (((streams >> k) & 1u) && k >= NUM_ACT_OUT)
            return EDNN_FAULT(EDNN_ERR_FIELD_RANGE,
                              "stream mask 0x%X selects act_out stream %u, the overlay has %u",
                              streams, k, NUM_ACT_OUT);
    }
    const uint64_t total = (uint64_t)nb * bw;
    const uint64_t part = total / popcount4(streams);
    uint32_t b = 0, j = 0;
    for (unsigned k = 0; k < NUM_ACT_OUT; ++k) {
        if (!((streams >> k) & 1u)) continue;
        act_out_beat beat{};
        unsigned fill = 0;
    store_part:
        for (uint64_t n = 0; n < part; ++n) {
#pragma HLS PIPELINE II = 1
            emit_bytes(act_out[k], beat, fill, out_word(src + b * sp + j), n == part - 1);
            if (++j == bw) {
                j = 0;
                ++b;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ CMP: PE array */
/* Word address of output (block ob, row oh, column ow) of a tile (docs/isa.md COMPUTE_TILE). */
inline uint32_t out_addr(bool out_map, uint32_t out_base, uint32_t ob, uint32_t oh, uint32_t oh0,
                         uint32_t n_oh, uint32_t OH, uint32_t OW, uint32_t ow) {
    return out_map ? out_base + ob * OH * OW + oh * OW + ow
                   : out_base + ob * n_oh * OW + (oh - oh0) * OW + ow;
}

struct tile {
    bool acc_first, acc_last, fuse, out_map;
    uint32_t in_base, in_cb, ih0, in_rows, oh0, n_oh, out_base, out_cb, w_base, p_base, res_base;
};

/* The pixel lanes of one pass: P consecutive output pixels of the band in raster order. */
struct lanes {
    bool valid[P];
    int32_t oh[P], ow[P];
};

/* Input activation of lane l at kernel tap (kh, kw), element k of input block b (0 outside
 * the map: padding is never stored). Residency was checked for the whole tile. */
inline int32_t lane_input(const conv_regs& cv, const tile& t, const lanes& ln, unsigned l,
                          uint32_t b, uint32_t kh, uint32_t kw, unsigned k) {
    if (!ln.valid[l]) return 0;
    const int32_t ih = ln.oh[l] * (int32_t)cv.sh - (int32_t)cv.ph + (int32_t)(kh * cv.dh);
    const int32_t iw = ln.ow[l] * (int32_t)cv.sw - (int32_t)cv.pw + (int32_t)(kw * cv.dw);
    if (ih < 0 || ih >= (int32_t)cv.ih || iw < 0 || iw >= (int32_t)cv.iw) return 0;
    const uint32_t a = t.in_base + b * t.in_rows * cv.iw + (uint32_t)(ih - (int32_t)t.ih0) * cv.iw +
                       (uint32_t)iw;
    return elem(in_word(a), k, cv.int16, cv.in_signed);
}

/* Advance a dense reduction by one cycle: sub step s of the input word, then kernel column,
 * kernel row, channel block (the order of the weight words, docs/engine.md 6.2). */
inline void next_step(const conv_regs& cv, uint32_t sub, uint32_t& s, uint32_t& kw,
                      uint32_t& kh, uint32_t& b) {
    if (++s == sub) {
        s = 0;
        if (++kw == cv.kw) {
            kw = 0;
            if (++kh == cv.kh) {
                kh = 0;
                ++b;
            }
        }
    }
}

/* Dense reduction of one pass, int8: WG cycles, each one weight word (OC x IC int8) shared by
 * the P lanes, each lane IC activations of one input word shared by the OC channels. */
void pe_dense_int8(const conv_regs& cv, const tile& t, const lanes& ln, uint32_t wrow0,
                   uint32_t wg, int64_t acc[OC][P]) {
    uint32_t b = 0, kh = 0, kw = 0, s = 0;
pe_cycles:
    for (uint32_t step = 0; step < wg; ++step) {
#pragma HLS PIPELINE II = 1
        int32_t ad[PE_PAIRS][IC]; /* the DSPs' pre-adder outputs w1 * 2^18 + w0 */
#pragma HLS ARRAY_PARTITION variable = ad complete dim = 0
        for (unsigned pr = 0; pr < PE_PAIRS; ++pr) {
#pragma HLS UNROLL
            for (unsigned i = 0; i < IC; ++i) {
#pragma HLS UNROLL
                const int32_t w0 = (int8_t)wt_byte(wrow0 + step, (2 * pr) * IC + i);
                const int32_t w1 = (int8_t)wt_byte(wrow0 + step, (2 * pr + 1) * IC + i);
                ad[pr][i] = w1 * (1 << PACK_SHIFT) + w0;
            }
        }
        int32_t x[P][IC];
#pragma HLS ARRAY_PARTITION variable = x complete dim = 0
        for (unsigned l = 0; l < P; ++l) {
#pragma HLS UNROLL
            for (unsigned i = 0; i < IC; ++i) {
#pragma HLS UNROLL
                x[l][i] = lane_input(cv, t, ln, l, b, kh, kw, s * IC + i);
            }
        }
        for (unsigned l = 0; l < P; ++l) {
#pragma HLS UNROLL
            for (unsigned pr = 0; pr < PE_PAIRS; ++pr) {
#pragma HLS UNROLL
                for (unsigned seg = 0; seg < CHAIN_SEGMENTS; ++seg) {
#pragma HLS UNROLL
                    const unsigned i0 = seg * CHAIN;
                    pe_pair_chain(&ad[pr][i0], &x[l][i0], cmin(CHAIN, IC - i0), acc[2 * pr][l],
                                  acc[2 * pr + 1][l]);
                }
            }
        }
        ++g_cnt_busy;
        ++g_cnt_cycles;
        next_step(cv, SUB8, s, kw, kh, b);
    }
}

/* Dense reduction, int16: one product per DSP, G16 channels, weight word = G16 x IC int16. */
void pe_dense_int16(const conv_regs& cv, const tile& t, const lanes& ln, uint32_t wrow0,
                    uint32_t wg, int64_t acc[OC][P]) {
    uint32_t b = 0, kh = 0, kw = 0, s = 0;
    const uint32_t sub = CBC16 / IC;
pe_cycles16:
    for (uint32_t step = 0; step < wg; ++step) {
#pragma HLS PIPELINE II = 1
        int32_t wv[G16][IC];
#pragma HLS ARRAY_PARTITION variable = wv complete dim = 0
        for (unsigned o = 0; o < G16; ++o) {
#pragma HLS UNROLL
            for (unsigned i = 0; i < IC; ++i) {
#pragma HLS UNROLL
                const unsigned e = o * IC + i;
                wv[o][i] = (int16_t)(uint16_t)(wt_byte(wrow0 + step, 2 * e) |
                                               (wt_byte(wrow0 + step, 2 * e + 1) << 8));
            }
        }
        for (unsigned l = 0; l < P; ++l) {
#pragma HLS UNROLL
            int32_t x[IC];
            for (unsigned i = 0; i < IC; ++i) {
#pragma HLS UNROLL
                x[i] = lane_input(cv, t, ln, l, b, kh, kw, s * IC + i);
            }
            for (unsigned o = 0; o < G16; ++o) {
#pragma HLS UNROLL
                int64_t p = 0;
                for (unsigned i = 0; i < IC; ++i) {
#pragma HLS UNROLL
                    p += (int64_t)wv[o][i] * x[i];
                }
                acc[o][l] += p;
            }
        }
        ++g_cnt_busy;
        ++g_cnt_cycles;
        next_step(cv, sub, s, kw, kh, b);
    }
}

/* Depthwise reduction: output channel c reads input channel c only; the IC multipliers of a
 * channel reduce over IC kernel taps per cycle (weight word t holds taps t*IC .. t*IC+IC-1).
 * The activations differ per channel, so no two products share one: no packing. */
void pe_depthwise(const conv_regs& cv, const tile& t, const lanes& ln, uint32_t wrow0,
                  uint32_t wg, uint32_t c0, uint32_t n_out, unsigned G, unsigned cbc,
                  int64_t acc[OC][P]) {
    const uint32_t taps = cv.kh * cv.kw;
pe_dw_cycles:
    for (uint32_t step = 0; step < wg; ++step) {
#pragma HLS PIPELINE II = 1
        for (unsigned o = 0; o < G; ++o) {
            const uint32_t c = c0 + o;
            if (c >= n_out) continue;
            for (unsigned i = 0; i < IC; ++i) {
                const uint32_t k = step * IC + i;
                if (k >= taps) break;
                const unsigned e = o * IC + i;
                const int32_t wv =
                    cv.int16 ? (int32_t)(int16_t)(uint16_t)(wt_byte(wrow0 + step, 2 * e) |
                                                            (wt_byte(wrow0 + step, 2 * e + 1) << 8))
                             : (int32_t)(int8_t)wt_byte(wrow0 + step, e);
                const uint32_t kh = k / cv.kw, kw = k % cv.kw;
                for (unsigned l = 0; l < P; ++l) {
#pragma HLS UNROLL
                    acc[o][l] += (int64_t)wv * lane_input(cv, t, ln, l, c / cbc, kh, kw, c % cbc);
                }
            }
        }
        ++g_cnt_busy;
        ++g_cnt_cycles;
    }
}

/* Params slot of output channel o of a group: (bias, M, S) (docs/engine.md 6.3). */
struct chan_params {
    int64_t bias;
    int64_t m;
    uint32_t s;
};
inline chan_params params_of(uint32_t word, unsigned o, bool int16) {
    chan_params r;
    if (int16) {
        const uint64_t lo = par_u64(word, o * PAR_SLOT16_BYTES);
        const uint64_t hi = par_u64(word, o * PAR_SLOT16_BYTES + 8);
        r.bias = sign_extend(lo, 48);
        r.m = (int64_t)((lo >> 48) & 0xFFFFu);
        r.s = (uint32_t)(hi & 0x3Fu);
    } else {
        const uint64_t v = par_u64(word, o * PAR_SLOT8_BYTES);
        r.bias = sign_extend(v, 32);
        r.m = (int64_t)((v >> 32) & 0xFFFFu);
        r.s = (uint32_t)((v >> 48) & 0x3Fu);
    }
    return r;
}

uint8_t exec_compute(const uint32_t* w, uint32_t index) {
    tile t;
    t.acc_first = EDNN_U(w, EDNN_COMPUTE_TILE_ACC_FIRST) != 0;
    t.acc_last = EDNN_U(w, EDNN_COMPUTE_TILE_ACC_LAST) != 0;
    t.fuse = EDNN_U(w, EDNN_COMPUTE_TILE_FUSE_ELTWISE) != 0;
    t.out_map = EDNN_U(w, EDNN_COMPUTE_TILE_OUT_MAP) != 0;
    t.in_base = EDNN_U(w, EDNN_COMPUTE_TILE_IN_BASE);
    t.in_cb = EDNN_U(w, EDNN_COMPUTE_TILE_IN_CB);
    t.ih0 = EDNN_U(w, EDNN_COMPUTE_TILE_IH0);
    t.in_rows = EDNN_U(w, EDNN_COMPUTE_TILE_IN_ROWS);
    t.oh0 = EDNN_U(w, EDNN_COMPUTE_TILE_OH0);
    t.n_oh = EDNN_U(w, EDNN_COMPUTE_TILE_N_OH);
    t.out_base = EDNN_U(w, EDNN_COMPUTE_TILE_OUT_BASE);
    t.out_cb = EDNN_U(w, EDNN_COMPUTE_TILE_OUT_CB);
    t.w_base = EDNN_U(w, EDNN_COMPUTE_TILE_W_BASE);
    t.p_base = EDNN_U(w, EDNN_COMPUTE_TILE_P_BASE);
    t.res_base = EDNN_U(w, EDNN_COMPUTE_TILE_RES_BASE);
    const conv_regs& cv = g_conv;
    if (!cv.valid)
        return EDNN_FAULT(EDNN_ERR_NOT_CONFIGURED, "COMPUTE_TILE before any CONFIG_CONV");
    const bool i16 = cv.int16;
    const unsigned cbc = i16 ? CBC16 : CBC8;
    const unsigned G = i16 ? G16 : G8;
    const uint32_t OH = cv.oh, OW = cv.ow;
    if ((uint64_t)t.oh0 + t.n_oh > OH)
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "output rows [%u, %u) beyond the map's %u rows",
                          t.oh0, t.oh0 + t.n_oh, OH);
    if (cv.depthwise && t.in_cb != t.out_cb)
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "a depthwise tile needs in_cb == out_cb");
    const uint32_t n_out = t.out_cb * cbc;
    const uint64_t npix = (uint64_t)t.n_oh * OW;
    if (!t.acc_last && (n_out > G || npix > P))
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "a K-split tile (acc_last = 0) must be one pass");
    if (g_kept.valid) {
        if (t.acc_first)
            return EDNN_FAULT(EDNN_ERR_ACC_STATE,
                              "acc_first = 1 while COMPUTE_TILE %u kept accumulators",
                              g_kept.index);
        if (t.oh0 != g_kept.oh0 || t.n_oh != g_kept.n_oh || t.out_cb != g_kept.out_cb)
            return EDNN_FAULT(EDNN_ERR_ACC_STATE,
                              "K-split continuation does not match COMPUTE_TILE %u", g_kept.index);
    } else if (!t.acc_first) {
        return EDNN_FAULT(EDNN_ERR_ACC_STATE, "acc_first = 0 but no accumulators are kept");
    }
    const uint64_t in_top = (uint64_t)t.in_base + (uint64_t)t.in_cb * t.in_rows * cv.iw;
    if (in_top > IN_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "input buffer words [%u, %llu) outside its %u",
                          t.in_base, (unsigned long long)in_top, IN_WORDS);
    /* every tapped row inside the map must be resident */
check_rows:
    for (uint32_t oh = t.oh0; oh < t.oh0 + t.n_oh; ++oh) {
        for (uint32_t kh = 0; kh < cv.kh; ++kh) {
#pragma HLS PIPELINE II = 1
            const int64_t r = (int64_t)oh * cv.sh - cv.ph + (int64_t)kh * cv.dh;
            if (r >= 0 && r < cv.ih && (r < t.ih0 || r >= (int64_t)t.ih0 + t.in_rows))
                return EDNN_FAULT(EDNN_ERR_INPUT_NOT_RESIDENT,
                                  "input row %lld is tapped but only rows [%u, %u) are resident",
                                  (long long)r, t.ih0, t.ih0 + t.in_rows);
        }
    }
    const uint32_t n_groups = (n_out + G - 1) / G;
    const uint32_t sub = cbc / IC;
    const uint32_t wg = cv.depthwise ? (cv.kh * cv.kw + IC - 1) / IC : t.in_cb * cv.kh * cv.kw * sub;
    if ((uint64_t)t.w_base + (uint64_t)n_groups * wg > WT_DEPTH)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "weight buffer words [%u, %llu) outside its %u",
                          t.w_base, (unsigned long long)t.w_base + (uint64_t)n_groups * wg,
                          WT_DEPTH);
    if ((uint64_t)t.p_base + n_groups > PAR_DEPTH)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "params buffer words [%u, %u) outside its %u",
                          t.p_base, t.p_base + n_groups, PAR_DEPTH);
    if (t.acc_last) {
        for (uint32_t c = 0; c < n_out; ++c) {
            const uint32_t s = params_of(t.p_base + c / G, c % G, i16).s;
            if (s < 1 || s > 63)
                return EDNN_FAULT(EDNN_ERR_FIELD_RANGE,
                                  "params slot of output channel %u has S = %u, outside 1..63", c,
                                  s);
        }
        const uint64_t out_top =
            t.out_map ? (uint64_t)t.out_base + (uint64_t)(t.out_cb - 1) * OH * OW +
                            (uint64_t)(t.oh0 + t.n_oh - 1) * OW + OW - 1
                      : (uint64_t)t.out_base + (uint64_t)t.out_cb * t.n_oh * OW - 1;
        if (out_top >= OUT_WORDS)
            return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "output buffer word %llu outside its %u",
                              (unsigned long long)out_top, OUT_WORDS);
        if (t.fuse) {
            if (!g_elt.valid)
                return EDNN_FAULT(EDNN_ERR_NOT_CONFIGURED, "fuse_eltwise before CONFIG_ELTWISE");
            if (g_elt.int16 != i16)
                return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "fused eltwise in another precision");
            const uint64_t res_top = (uint64_t)t.res_base + (out_top - t.out_base);
            if (res_top >= IN_WORDS)
                return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "input buffer word %llu outside its %u",
                                  (unsigned long long)res_top, IN_WORDS);
        }
    }

    static int64_t acc[OC][P]; /* the PE array's accumulators of the current pass */
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
pe_groups:
    for (uint32_t g = 0; g < n_groups; ++g) {
        const uint32_t par_word = t.p_base + g;
        const uint32_t wrow0 = t.w_base + g * wg;
        const uint32_t c0 = g * G;
    pe_passes:
        for (uint64_t pix0 = 0; pix0 < npix; pix0 += P) {
            lanes ln;
            uint32_t oh = t.oh0 + (uint32_t)(pix0 / OW), ow = (uint32_t)(pix0 % OW);
            for (unsigned l = 0; l < P; ++l) {
#pragma HLS UNROLL
                ln.valid[l] = pix0 + l < npix;
                ln.oh[l] = (int32_t)oh;
                ln.ow[l] = (int32_t)ow;
                if (++ow == OW) {
                    ow = 0;
                    ++oh;
                }
            }
            /* accumulators start from the bias, or continue a K-split */
            for (unsigned o = 0; o < G; ++o) {
#pragma HLS UNROLL
                const int64_t bias = params_of(par_word, o, i16).bias;
                for (unsigned l = 0; l < P; ++l) {
#pragma HLS UNROLL
                    acc[o][l] = t.acc_first ? bias : g_kept_acc[o][l];
                }
            }
            if (cv.depthwise)
                pe_depthwise(cv, t, ln, wrow0, wg, c0, n_out, G, cbc, acc);
            else if (i16)
                pe_dense_int16(cv, t, ln, wrow0, wg, acc);
            else
                pe_dense_int8(cv, t, ln, wrow0, wg, acc);
            /* the 48-bit P registers: exact unless |acc| >= 2^47, which the accumulator bound
             * (docs/arithmetic.md 3.4) excludes; the hardware wraps, C simulation reports it */
            for (unsigned o = 0; o < G; ++o) {
#pragma HLS UNROLL
                for (unsigned l = 0; l < P; ++l) {
#pragma HLS UNROLL
#ifndef __SYNTHESIS__
                    const int64_t lim = (int64_t)1 << 47;
                    if (ln.valid[l] && c0 + o < n_out && (acc[o][l] >= lim || acc[o][l] <= -lim))
                        return EDNN_FAULT(EDNN_ERR_ACC_OVERFLOW,
                                          "|acc| >= 2^47 at channel %u (the hardware wraps at "
                                          "48 bits)",
                                          c0 + o);
#endif
                    acc[o][l] = wrap48(acc[o][l]);
                }
            }
            if (!t.acc_last) {
                for (unsigned o = 0; o < G; ++o)
                    for (unsigned l = 0; l < P; ++l) g_kept_acc[o][l] = acc[o][l];
                g_kept.valid = true;
                g_kept.index = index;
                g_kept.oh0 = t.oh0;
                g_kept.n_oh = t.n_oh;
                g_kept.out_cb = t.out_cb;
                return 0;
            }
            /* requantizer (+ fused eltwise): whole output words of the group's blocks */
        requant_words:
            for (unsigned ob = 0; ob < G / cbc; ++ob) {
                const uint32_t gob = c0 / cbc + ob;
                if (gob >= t.out_cb) break;
                for (unsigned l = 0; l < P; ++l) {
#pragma HLS PIPELINE II = 1
                    if (!ln.valid[l]) continue;
                    const uint32_t a = out_addr(t.out_map, t.out_base, gob, (uint32_t)ln.oh[l],
                                                t.oh0, t.n_oh, OH, OW, (uint32_t)ln.ow[l]);
                    act_word word;
                    act_word res;
                    if (t.fuse) res = in_word(t.res_base + (a - t.out_base));
                    for (unsigned k = 0; k < cbc; ++k) {
#pragma HLS UNROLL
                        const unsigned o = ob * cbc + k;
                        const chan_params cp = params_of(par_word, o, i16);
                        int64_t y = requantize(acc[o][l], cp.m, cp.s, cv.qmin, cv.qmax);
                        if (t.fuse) y = eltwise(g_elt, y, elem(res, k, i16, g_elt.b_signed));
                        put_elem(word, k, i16, y);
                    }
                    out_word(a) = word;
                    ++g_cnt_cycles;
                }
            }
        }
    }
    g_kept.valid = false;
    return 0;
}

/* ------------------------------------------------- VEC (window unit) and CMP's eltwise stage */
uint8_t exec_pool(const uint32_t* w) {
    const bool out_map = EDNN_U(w, EDNN_POOL_TILE_OUT_MAP) != 0;
    const uint32_t in_base = EDNN_U(w, EDNN_POOL_TILE_IN_BASE);
    const uint32_t n_cb = EDNN_U(w, EDNN_POOL_TILE_N_CB);
    const uint32_t ih0 = EDNN_U(w, EDNN_POOL_TILE_IH0);
    const uint32_t in_rows = EDNN_U(w, EDNN_POOL_TILE_IN_ROWS);
    const uint32_t oh0 = EDNN_U(w, EDNN_POOL_TILE_OH0);
    const uint32_t n_oh = EDNN_U(w, EDNN_POOL_TILE_N_OH);
    const uint32_t out_base = EDNN_U(w, EDNN_POOL_TILE_OUT_BASE);
    const uint32_t p_base = EDNN_U(w, EDNN_POOL_TILE_P_BASE);
    const pool_regs& pl = g_pool;
    if (!pl.valid) return EDNN_FAULT(EDNN_ERR_NOT_CONFIGURED, "POOL_TILE before CONFIG_POOL");
    const bool i16 = pl.int16;
    const unsigned cbc = i16 ? CBC16 : CBC8;
    const int64_t IH = pl.ih, IW = pl.iw;
    if ((uint64_t)oh0 + n_oh > pl.oh)
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "output rows [%u, %u) beyond the map's %u rows",
                          oh0, oh0 + n_oh, pl.oh);
    /* Caffe's windows: [hs, he) clipped to [-pad, H + pad) for the divisor, to [0, H) for the
     * values (docs/arithmetic.md section 5) */
    int64_t rlo_min = INT64_MAX, rhi_max = INT64_MIN;
    bool empty_row = false, empty_col = false;
    for (uint32_t oh = oh0; oh < oh0 + n_oh; ++oh) {
        const int64_t hs = (int64_t)oh * pl.sh - pl.ph;
        const int64_t he = hs + pl.kh < IH + pl.ph ? hs + pl.kh : IH + pl.ph;
        const int64_t rlo = hs > 0 ? hs : 0, rhi = he < IH ? he : IH;
        if (rlo >= rhi) empty_row = true;
        if (rlo < rlo_min) rlo_min = rlo;
        if (rhi > rhi_max) rhi_max = rhi;
    }
    for (uint32_t ow = 0; ow < pl.ow; ++ow) {
        const int64_t ws = (int64_t)ow * pl.sw - pl.pw;
        const int64_t we = ws + pl.kw < IW + pl.pw ? ws + pl.kw : IW + pl.pw;
        if ((ws > 0 ? ws : 0) >= (we < IW ? we : IW)) empty_col = true;
    }
    if (empty_row || empty_col)
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "a pooling window has no input %s inside the map",
                          empty_row ? "row" : "column");
    if (rlo_min < ih0 || rhi_max > (int64_t)ih0 + in_rows)
        return EDNN_FAULT(EDNN_ERR_INPUT_NOT_RESIDENT,
                          "input row %lld is pooled but only rows [%u, %u) are resident",
                          (long long)(rlo_min < ih0 ? rlo_min : rhi_max - 1), ih0, ih0 + in_rows);
    const uint64_t in_top = (uint64_t)in_base + (uint64_t)n_cb * in_rows * pl.iw;
    if (in_top > IN_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "input buffer words [%u, %llu) outside its %u",
                          in_base, (unsigned long long)in_top, IN_WORDS);
    /* divisor table: (area, M, S) of every window area, checked before any output */
    uint32_t keys[MAX_AREAS], ms[MAX_AREAS], ss[MAX_AREAS];
    if (pl.ave) {
        if ((uint64_t)p_base + 1 > PAR_DEPTH)
            return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "params buffer word %u outside its %u",
                              p_base, PAR_DEPTH);
        for (unsigned k = 0; k < MAX_AREAS; ++k) {
            const uint64_t v = par_u64(p_base, k * PAR_SLOT8_BYTES);
            keys[k] = (uint32_t)(v & 0xFFFFFFFFu);
            ms[k] = (uint32_t)((v >> 32) & 0xFFFFu);
            ss[k] = (uint32_t)((v >> 48) & 0x3Fu);
        }
        /* the emulator checks the distinct areas in ascending order: report the smallest
         * failing one */
        int64_t bad_area = -1;
        uint8_t bad_code = 0;
        for (uint32_t oh = oh0; oh < oh0 + n_oh; ++oh) {
            const int64_t hs = (int64_t)oh * pl.sh - pl.ph;
            const int64_t he = hs + pl.kh < IH + pl.ph ? hs + pl.kh : IH + pl.ph;
            for (uint32_t ow = 0; ow < pl.ow; ++ow) {
#pragma HLS PIPELINE II = 1
                const int64_t ws = (int64_t)ow * pl.sw - pl.pw;
                const int64_t we = ws + pl.kw < IW + pl.pw ? ws + pl.kw : IW + pl.pw;
                const int64_t area = (he - hs) * (we - ws);
                unsigned hit = MAX_AREAS;
                for (unsigned k = MAX_AREAS; k-- > 0;) {
                    if (k < pl.n_area && (int64_t)keys[k] == area) hit = k;
                }
                uint8_t code = 0;
                if (hit == MAX_AREAS)
                    code = EDNN_ERR_AREA_NOT_FOUND;
                else if (ss[hit] < 1 || ss[hit] > 63)
                    code = EDNN_ERR_FIELD_RANGE;
                if (code && (bad_area < 0 || area < bad_area)) {
                    bad_area = area;
                    bad_code = code;
                }
            }
        }
        if (bad_code)
            return EDNN_FAULT(bad_code, "window area %lld: %s in the divisor table at params "
                              "word %u", (long long)bad_area,
                              bad_code == EDNN_ERR_AREA_NOT_FOUND ? "no entry" : "S outside 1..63",
                              p_base);
    }
    const uint64_t out_top = out_map ? (uint64_t)out_base + (uint64_t)(n_cb - 1) * pl.oh * pl.ow +
                                           (uint64_t)(oh0 + n_oh - 1) * pl.ow + pl.ow - 1
                                     : (uint64_t)out_base + (uint64_t)n_cb * n_oh * pl.ow - 1;
    if (out_top >= OUT_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "output buffer word %llu outside its %u",
                          (unsigned long long)out_top, OUT_WORDS);

pool_blocks:
    for (uint32_t ob = 0; ob < n_cb; ++ob) {
        for (uint32_t oh = oh0; oh < oh0 + n_oh; ++oh) {
            const int64_t hs = (int64_t)oh * pl.sh - pl.ph;
            const int64_t he = hs + pl.kh < IH + pl.ph ? hs + pl.kh : IH + pl.ph;
            const int64_t rlo = hs > 0 ? hs : 0, rhi = he < IH ? he : IH;
            for (uint32_t ow = 0; ow < pl.ow; ++ow) {
                const int64_t ws = (int64_t)ow * pl.sw - pl.pw;
                const int64_t we = ws + pl.kw < IW + pl.pw ? ws + pl.kw : IW + pl.pw;
                const int64_t clo = ws > 0 ? ws : 0, chi = we < IW ? we : IW;
                int64_t v[CBC8];
#pragma HLS ARRAY_PARTITION variable = v complete
                for (unsigned k = 0; k < cbc; ++k) v[k] = pl.ave ? 0 : INT64_MIN;
            pool_taps:
                for (int64_t r = rlo; r < rhi; ++r) {
                    for (int64_t c = clo; c < chi; ++c) {
#pragma HLS PIPELINE II = 1
                        const act_word& x = in_word(in_base + ob * in_rows * pl.iw +
                                                    (uint32_t)(r - ih0) * pl.iw + (uint32_t)c);
                        for (unsigned k = 0; k < cbc; ++k) {
#pragma HLS UNROLL
                            const int64_t e = elem(x, k, i16, pl.in_signed);
                            v[k] = pl.ave ? v[k] + e : (e > v[k] ? e : v[k]);
                        }
                        ++g_cnt_cycles;
                    }
                }
                act_word y;
                uint32_t m = 0, s = 1;
                if (pl.ave) {
                    const int64_t area = (he - hs) * (we - ws);
                    for (unsigned k = MAX_AREAS; k-- > 0;) {
                        if (k < pl.n_area && (int64_t)keys[k] == area) {
                            m = ms[k];
                            s = ss[k];
                        }
                    }
                }
                for (unsigned k = 0; k < cbc; ++k) {
#pragma HLS UNROLL
                    const int64_t r = pl.ave ? requantize(v[k], m, s, pl.qmin, pl.qmax)
                                             : clamp(v[k], pl.qmin, pl.qmax);
                    put_elem(y, k, i16, r);
                }
                out_word(out_addr(out_map, out_base, ob, oh, oh0, n_oh, pl.oh, pl.ow, ow)) = y;
            }
        }
    }
    return 0;
}

uint8_t exec_eltwise(const uint32_t* w) {
    const uint32_t a_base = EDNN_U(w, EDNN_ELTWISE_TILE_A_BASE);
    const uint32_t b_base = EDNN_U(w, EDNN_ELTWISE_TILE_B_BASE);
    const uint32_t out_base = EDNN_U(w, EDNN_ELTWISE_TILE_OUT_BASE);
    const uint32_t n = EDNN_U(w, EDNN_ELTWISE_TILE_N_WORDS);
    const elt_regs& e = g_elt;
    if (!e.valid) return EDNN_FAULT(EDNN_ERR_NOT_CONFIGURED, "ELTWISE_TILE before CONFIG_ELTWISE");
    if ((uint64_t)a_base + n > IN_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "operand a words outside the input buffer");
    if ((uint64_t)b_base + n > IN_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "operand b words outside the input buffer");
    if ((uint64_t)out_base + n > OUT_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "result words outside the output buffer");
    const unsigned cbc = e.int16 ? CBC16 : CBC8;
eltwise_words:
    for (uint32_t j = 0; j < n; ++j) {
#pragma HLS PIPELINE II = 1
        const act_word& xa = in_word(a_base + j);
        const act_word& xb = in_word(b_base + j);
        act_word y;
        for (unsigned k = 0; k < cbc; ++k) {
#pragma HLS UNROLL
            put_elem(y, k, e.int16,
                     eltwise(e, elem(xa, k, e.int16, e.a_signed), elem(xb, k, e.int16, e.b_signed)));
        }
        out_word(out_base + j) = y;
        ++g_cnt_cycles;
    }
    return 0;
}

#if EDNN_HLS_HAS_NORM
/* LRN table index of a shifted sum of squares: a float code with a 4-bit mantissa,
 * t = max(bit_length(v) - 5, 0), index = min(16 t + (v >> t), 255) (docs/arithmetic.md 5.1). */
inline uint32_t lrn_index(uint64_t v) {
    unsigned bl = 0;
    for (unsigned b = 0; b < 64; ++b) {
#pragma HLS UNROLL
        if ((v >> b) & 1u) bl = b + 1;
    }
    const unsigned mant = EDNN_ISA_NORM_LUT_MANT_BITS;
    const unsigned t = bl > mant + 1 ? bl - (mant + 1) : 0;
    const uint64_t idx = ((uint64_t)t << mant) + (v >> t);
    return idx < EDNN_ISA_NORM_LUT_ENTRIES - 1 ? (uint32_t)idx : EDNN_ISA_NORM_LUT_ENTRIES - 1;
}

/* NORM_TILE: y = clamp(rshift_round(x * lut[index(ss >> lut_shift)], F), qmin, qmax) with ss
 * the sum of squares of the local_size channels centred on the output channel (clipped at the
 * channel ends). Per pixel the channels stream through a window: channel j enters, channel
 * j - local_size leaves, channel j - half is complete. */
uint8_t exec_norm(const uint32_t* w) {
    const bool out_map = EDNN_U(w, EDNN_NORM_TILE_OUT_MAP) != 0;
    const uint32_t in_base = EDNN_U(w, EDNN_NORM_TILE_IN_BASE);
    const uint32_t n_cb = EDNN_U(w, EDNN_NORM_TILE_N_CB);
    const uint32_t ih0 = EDNN_U(w, EDNN_NORM_TILE_IH0);
    const uint32_t in_rows = EDNN_U(w, EDNN_NORM_TILE_IN_ROWS);
    const uint32_t oh0 = EDNN_U(w, EDNN_NORM_TILE_OH0);
    const uint32_t n_oh = EDNN_U(w, EDNN_NORM_TILE_N_OH);
    const uint32_t out_base = EDNN_U(w, EDNN_NORM_TILE_OUT_BASE);
    const uint32_t p_base = EDNN_U(w, EDNN_NORM_TILE_P_BASE);
    const norm_regs& nm = g_norm;
    if (!nm.valid) return EDNN_FAULT(EDNN_ERR_NOT_CONFIGURED, "NORM_TILE before CONFIG_NORM");
    const bool i16 = nm.int16;
    const unsigned cbc = i16 ? CBC16 : CBC8;
    const uint32_t H = nm.h, W = nm.w;
    if ((uint64_t)oh0 + n_oh > H)
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "rows [%u, %u) beyond the map's %u rows", oh0,
                          oh0 + n_oh, H);
    if (oh0 < ih0 || (uint64_t)oh0 + n_oh > (uint64_t)ih0 + in_rows)
        return EDNN_FAULT(EDNN_ERR_INPUT_NOT_RESIDENT,
                          "rows [%u, %u) are normalised but only rows [%u, %u) are resident", oh0,
                          oh0 + n_oh, ih0, ih0 + in_rows);
    const uint64_t in_top = (uint64_t)in_base + (uint64_t)n_cb * in_rows * W;
    if (in_top > IN_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "input buffer words [%u, %llu) outside its %u",
                          in_base, (unsigned long long)in_top, IN_WORDS);
    constexpr unsigned LUT = EDNN_ISA_NORM_LUT_ENTRIES;
    constexpr unsigned LUT_WORDS = cdiv(2 * LUT, PAR_WORD_BYTES);
    if ((uint64_t)p_base + LUT_WORDS > PAR_DEPTH)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "params buffer words [%u, %u) outside its %u",
                          p_base, p_base + LUT_WORDS, PAR_DEPTH);
    const uint64_t out_top = out_map ? (uint64_t)out_base + (uint64_t)(n_cb - 1) * H * W +
                                           (uint64_t)(oh0 + n_oh - 1) * W + W - 1
                                     : (uint64_t)out_base + (uint64_t)n_cb * n_oh * W - 1;
    if (out_top >= OUT_WORDS)
        return EDNN_FAULT(EDNN_ERR_BUFFER_RANGE, "output buffer word %llu outside its %u",
                          (unsigned long long)out_top, OUT_WORDS);
    uint16_t lut[LUT];
    for (unsigned k = 0; k < LUT; ++k) {
        const unsigned b0 = 2 * k, b1 = 2 * k + 1;
        lut[k] = (uint16_t)(par_byte(p_base + b0 / PAR_WORD_BYTES, b0 % PAR_WORD_BYTES) |
                            (par_byte(p_base + b1 / PAR_WORD_BYTES, b1 % PAR_WORD_BYTES) << 8));
    }
    const uint32_t C = n_cb * cbc;
    const uint32_t half = (nm.local_size - 1) / 2;
norm_pixels:
    for (uint32_t oh = oh0; oh < oh0 + n_oh; ++oh) {
        for (uint32_t ow = 0; ow < W; ++ow) {
            int64_t ring[256]; /* the channels of the window (local_size <= 255) */
            int64_t ss = 0;
            act_word y;
        norm_channels:
            for (uint32_t j = 0; j < C + half; ++j) {
#pragma HLS PIPELINE II = 1
                if (j < C) {
                    const act_word& xw = in_word(in_base + (j / cbc) * in_rows * W +
                                                 (oh - ih0) * W + ow);
                    const int64_t xj = elem(xw, j % cbc, i16, nm.in_signed);
                    ring[j & 255u] = xj;
                    ss += xj * xj;
                }
                if (j >= nm.local_size) {
                    const int64_t xo = ring[(j - nm.local_size) & 255u];
                    ss -= xo * xo;
                }
                if (j >= half) {
                    const uint32_t c = j - half;
                    const int64_t f = lut[lrn_index((uint64_t)ss >> nm.lut_shift)];
                    put_elem(y, c % cbc, i16,
                             clamp(round_shift(ring[c & 255u] * f, nm.frac), nm.qmin, nm.qmax));
                    if (c % cbc == cbc - 1)
                        out_word(out_addr(out_map, out_base, c / cbc, oh, oh0, n_oh, H, W, ow)) = y;
                }
                ++g_cnt_cycles;
            }
        }
    }
    return 0;
}
#endif

/* ------------------------------------------------------------------ CONFIG_* */
uint8_t check_precision(bool int16) {
    if (int16 ? !HAS_INT16 : !HAS_INT8)
        return EDNN_FAULT(EDNN_ERR_FIELD_RANGE, "overlay '%s' does not support %s",
                          EDNN_OVERLAY_NAME, int16 ? "int16" : "int8");
    return 0;
}

uint8_t exec_config(uint32_t op, const uint32_t* w) {
    if (op == EDNN_OP_CONFIG_CONV) {
        conv_regs c;
        c.int16 = EDNN_U(w, EDNN_CONFIG_CONV_PRECISION) == EDNN_PRECISION_INT16;
        if (const uint8_t e = check_precision(c.int16)) return e;
        c.in_signed = EDNN_U(w, EDNN_CONFIG_CONV_IN_SIGNED) != 0;
        c.depthwise = EDNN_U(w, EDNN_CONFIG_CONV_DEPTHWISE) != 0;
        c.ih = EDNN_U(w, EDNN_CONFIG_CONV_IN_H);
        c.iw = EDNN_U(w, EDNN_CONFIG_CONV_IN_W);
        c.oh = EDNN_U(w, EDNN_CONFIG_CONV_OUT_H);
        c.ow = EDNN_U(w, EDNN_CONFIG_CONV_OUT_W);
        c.kh = EDNN_U(w, EDNN_CONFIG_CONV_KERNEL_H);
        c.kw = EDNN_U(w, EDNN_CONFIG_CONV_KERNEL_W);
        c.sh = EDNN_U(w, EDNN_CONFIG_CONV_STRIDE_H);
        c.sw = EDNN_U(w, EDNN_CONFIG_CONV_STRIDE_W);
        c.ph = EDNN_U(w, EDNN_CONFIG_CONV_PAD_H);
        c.pw = EDNN_U(w, EDNN_CONFIG_CONV_PAD_W);
        c.dh = EDNN_U(w, EDNN_CONFIG_CONV_DILATION_H);
        c.dw = EDNN_U(w, EDNN_CONFIG_CONV_DILATION_W);
        c.qmin = EDNN_S(w, EDNN_CONFIG_CONV_QMIN);
        c.qmax = EDNN_S(w, EDNN_CONFIG_CONV_QMAX);
        c.valid = true;
        g_conv = c;
    } else if (op == EDNN_OP_CONFIG_POOL) {
        pool_regs p;
        p.int16 = EDNN_U(w, EDNN_CONFIG_POOL_PRECISION) == EDNN_PRECISION_INT16;
        if (const uint8_t e = check_precision(p.int16)) return e;
        p.in_signed = EDNN_U(w, EDNN_CONFIG_POOL_IN_SIGNED) != 0;
        p.ave = EDNN_U(w, EDNN_CONFIG_POOL_KIND) == EDNN_POOL_AVE;
        p.ih = EDNN_U(w, EDNN_CONFIG_POOL_IN_H);
        p.iw = EDNN_U(w, EDNN_CONFIG_POOL_IN_W);
        p.oh = EDNN_U(w, EDNN_CONFIG_POOL_OUT_H);
        p.ow = EDNN_U(w, EDNN_CONFIG_POOL_OUT_W);
        p.kh = EDNN_U(w, EDNN_CONFIG_POOL_KERNEL_H);
        p.kw = EDNN_U(w, EDNN_CONFIG_POOL_KERNEL_W);
        p.sh = EDNN_U(w, EDNN_CONFIG_POOL_STRIDE_H);
        p.sw = EDNN_U(w, EDNN_CONFIG_POOL_STRIDE_W);
        p.ph = EDNN_U(w, EDNN_CONFIG_POOL_PAD_H);
        p.pw = EDNN_U(w, EDNN_CONFIG_POOL_PAD_W);
        p.n_area = EDNN_U(w, EDNN_CONFIG_POOL_N_AREA);
        p.qmin = EDNN_S(w, EDNN_CONFIG_POOL_QMIN);
        p.qmax = EDNN_S(w, EDNN_CONFIG_POOL_QMAX);
        p.valid = true;
        g_pool = p;
#if EDNN_HLS_HAS_NORM
    } else if (op == EDNN_OP_CONFIG_NORM) {
        norm_regs n;
        n.int16 = EDNN_U(w, EDNN_CONFIG_NORM_PRECISION) == EDNN_PRECISION_INT16;
        if (const uint8_t e = check_precision(n.int16)) return e;
        n.in_signed = EDNN_U(w, EDNN_CONFIG_NORM_IN_SIGNED) != 0;
        n.h = EDNN_U(w, EDNN_CONFIG_NORM_IN_H);
        n.w = EDNN_U(w, EDNN_CONFIG_NORM_IN_W);
        n.local_size = EDNN_U(w, EDNN_CONFIG_NORM_LOCAL_SIZE);
        n.lut_shift = EDNN_U(w, EDNN_CONFIG_NORM_LUT_SHIFT);
        n.frac = EDNN_U(w, EDNN_CONFIG_NORM_FRAC_BITS);
        n.qmin = EDNN_S(w, EDNN_CONFIG_NORM_QMIN);
        n.qmax = EDNN_S(w, EDNN_CONFIG_NORM_QMAX);
        n.valid = true;
        g_norm = n;
#endif
    } else {
        elt_regs e;
        e.int16 = EDNN_U(w, EDNN_CONFIG_ELTWISE_PRECISION) == EDNN_PRECISION_INT16;
        if (const uint8_t f = check_precision(e.int16)) return f;
        e.a_signed = EDNN_U(w, EDNN_CONFIG_ELTWISE_A_SIGNED) != 0;
        e.b_signed = EDNN_U(w, EDNN_CONFIG_ELTWISE_B_SIGNED) != 0;
        e.max_op = EDNN_U(w, EDNN_CONFIG_ELTWISE_OP) == EDNN_ELTWISE_MAX;
        e.m_a = EDNN_S(w, EDNN_CONFIG_ELTWISE_M_A);
        e.m_b = EDNN_S(w, EDNN_CONFIG_ELTWISE_M_B);
        e.shift = EDNN_U(w, EDNN_CONFIG_ELTWISE_SHIFT);
        e.qmin = EDNN_S(w, EDNN_CONFIG_ELTWISE_QMIN);
        e.qmax = EDNN_S(w, EDNN_CONFIG_ELTWISE_QMAX);
        e.valid = true;
        g_elt = e;
    }
    return 0;
}

/* ------------------------------------------------------------------ decoder and dispatch */
struct io {
    stream<cmd_beat>& cmd;
    stream<weights_beat>* weights;  /* NUM_WEIGHTS ports */
    stream<act_in_beat>* act_in;    /* NUM_ACT_IN ports */
    stream<act_out_beat>* act_out;  /* NUM_ACT_OUT ports */
};

/* Execute one checked instruction on its unit, with the token queues (docs/isa.md 3). */
uint8_t execute(const uint32_t* w, uint32_t index, io& p) {
    const uint32_t op = w[0] & 0xFFu;
    const uint32_t wait = EDNN_U(w, EDNN_INSTR_WAIT);
    const uint32_t signal = EDNN_U(w, EDNN_INSTR_SIGNAL);
    for (unsigned k = 0; k < NUM_TOKENS; ++k) {
        if (((wait >> k) & 1u) && g_tokens[k] == 0)
            return EDNN_FAULT(EDNN_ERR_TOKEN_UNDERFLOW,
                              "waits on token queue 0x%03X, empty in sequential order", 1u << k);
    }
    for (unsigned k = 0; k < NUM_TOKENS; ++k) {
        if ((wait >> k) & 1u) --g_tokens[k];
    }
    uint8_t e = 0;
    switch (op) {
        case EDNN_OP_LOAD_INPUT:
            e = load<input_sink, NUM_ACT_IN>(p.act_in, EDNN_U(w, EDNN_LOAD_INPUT_STREAMS),
                                 EDNN_U(w, EDNN_LOAD_INPUT_DST_BASE),
                                 EDNN_U(w, EDNN_LOAD_INPUT_N_WORDS), IN_WORDS, "input");
            break;
        case EDNN_OP_LOAD_WEIGHTS:
            e = load<weight_sink, NUM_WEIGHTS>(p.weights, EDNN_U(w, EDNN_LOAD_WEIGHTS_STREAMS),
                                  EDNN_U(w, EDNN_LOAD_WEIGHTS_DST_BASE),
                                  EDNN_U(w, EDNN_LOAD_WEIGHTS_N_WORDS), WT_DEPTH, "weight");
            break;
        case EDNN_OP_LOAD_PARAMS:
            e = load<params_sink, NUM_WEIGHTS>(p.weights, EDNN_U(w, EDNN_LOAD_PARAMS_STREAMS),
                                  EDNN_U(w, EDNN_LOAD_PARAMS_DST_BASE),
                                  EDNN_U(w, EDNN_LOAD_PARAMS_N_WORDS), PAR_DEPTH, "params");
            break;
        case EDNN_OP_CONFIG_CONV:
        case EDNN_OP_CONFIG_POOL:
        case EDNN_OP_CONFIG_ELTWISE: e = exec_config(op, w); break;
#if EDNN_HLS_HAS_NORM
        case EDNN_OP_CONFIG_NORM: e = exec_config(op, w); break;
        case EDNN_OP_NORM_TILE: e = exec_norm(w); break;
#endif
        case EDNN_OP_COMPUTE_TILE: e = exec_compute(w, index); break;
        case EDNN_OP_POOL_TILE: e = exec_pool(w); break;
        case EDNN_OP_ELTWISE_TILE: e = exec_eltwise(w); break;
        case EDNN_OP_STORE_TILE: e = exec_store(w, p.act_out); break;
        default: break; /* NOP, SYNC (units are idle between instructions), END: decoder */
    }
    if (e) return e;
    for (unsigned k = 0; k < NUM_TOKENS; ++k) {
        if ((signal >> k) & 1u) {
            if (g_tokens[k] >= TOKEN_CAPACITY)
                return EDNN_FAULT(EDNN_ERR_TOKEN_OVERFLOW,
                                  "signals token queue 0x%03X, which holds %u tokens", 1u << k,
                                  TOKEN_CAPACITY);
            ++g_tokens[k];
        }
    }
    return 0;
}

/* One run: header, then fetch / check / execute until END. Returns the error code (0 at DONE)
 * and the index of the faulting instruction (NO_INDEX for a header fault). */
uint8_t run(io& p, uint32_t& fault_index) {
    cmd_reader rd;
    rd.pos = rd.n = 0;
    rd.have = rd.ended = false;
    fault_index = NO_INDEX;
    uint32_t h[EDNN_ISA_HEADER_WORDS];
    bool last = false;
    for (unsigned k = 0; k < EDNN_ISA_HEADER_WORDS; ++k) {
        if (const uint8_t e = read_cmd_word(p.cmd, rd, h[k], last)) return e;
    }
    if (EDNN_GET_U(h, EDNN_HDR_MAGIC) != EDNN_ISA_STREAM_MAGIC)
        return EDNN_FAULT(EDNN_ERR_BAD_MAGIC, "magic 0x%08X", h[0]);
    uint8_t hb[28];
    for (unsigned i = 0; i < 28; ++i) hb[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
    if (ednn_crc32(hb, 28) != EDNN_GET_U(h, EDNN_HDR_HEADER_CRC32))
        return EDNN_FAULT(EDNN_ERR_HEADER_CRC, "header CRC-32 mismatch");
    const uint32_t hres[8] = {EDNN_HDR_RESERVED_W0, EDNN_HDR_RESERVED_W1, EDNN_HDR_RESERVED_W2,
                              EDNN_HDR_RESERVED_W3, EDNN_HDR_RESERVED_W4, EDNN_HDR_RESERVED_W5,
                              EDNN_HDR_RESERVED_W6, EDNN_HDR_RESERVED_W7};
    for (unsigned k = 0; k < 8; ++k) {
        if (h[k] & hres[k])
            return EDNN_FAULT(EDNN_ERR_RESERVED_BITS, "header word %u has reserved bits set", k);
    }
    if (EDNN_GET_U(h, EDNN_HDR_VERSION_MAJOR) != EDNN_ISA_MAJOR ||
        EDNN_GET_U(h, EDNN_HDR_VERSION_MINOR) > EDNN_ISA_MINOR)
        return EDNN_FAULT(EDNN_ERR_BAD_VERSION, "ISA version %u.%u is not supported",
                          EDNN_GET_U(h, EDNN_HDR_VERSION_MAJOR),
                          EDNN_GET_U(h, EDNN_HDR_VERSION_MINOR));
    const uint32_t n_instr = EDNN_GET_U(h, EDNN_HDR_N_INSTR);
    if (n_instr == 0) return EDNN_FAULT(EDNN_ERR_STREAM_STRUCTURE, "a stream needs at least END");
    if (EDNN_GET_U(h, EDNN_HDR_CONFIG_HASH0) != EDNN_CONFIG_HASH0 ||
        EDNN_GET_U(h, EDNN_HDR_CONFIG_HASH1) != EDNN_CONFIG_HASH1)
        return EDNN_FAULT(EDNN_ERR_CONFIG_MISMATCH,
                          "stream compiled for configuration 0x%08X%08X, this engine is '%s'",
                          h[3], h[4], EDNN_OVERLAY_NAME);
    const uint32_t body_crc = EDNN_GET_U(h, EDNN_HDR_BODY_CRC32);
    uint32_t crc = 0;
fetch:
    for (uint32_t i = 0; i < n_instr; ++i) {
        fault_index = i;
        uint32_t w[EDNN_ISA_INSTR_WORDS];
        for (unsigned k = 0; k < EDNN_ISA_INSTR_WORDS; ++k) {
            if (const uint8_t e = read_cmd_word(p.cmd, rd, w[k], last)) return e;
            if (last && (k != EDNN_ISA_INSTR_WORDS - 1 || i != n_instr - 1))
                return EDNN_FAULT(EDNN_ERR_STREAM_STRUCTURE,
                                  "TLAST in instruction %u: the stream is shorter than the %u "
                                  "instructions the header announces",
                                  i, n_instr);
        }
        if (i == n_instr - 1 && !last)
            return EDNN_FAULT(EDNN_ERR_STREAM_STRUCTURE,
                              "no TLAST after the %u announced instructions", n_instr);
        if (const uint8_t e = check_instruction(w)) return e;
        uint8_t wb[EDNN_ISA_INSTR_BYTES];
        for (unsigned j = 0; j < EDNN_ISA_INSTR_BYTES; ++j) wb[j] = (uint8_t)(w[j / 4] >> (8 * (j % 4)));
        crc = ednn_crc32_update(crc, wb, EDNN_ISA_INSTR_BYTES);
        const uint32_t op = w[0] & 0xFFu;
        if ((op == EDNN_OP_END) != (i == n_instr - 1))
            return EDNN_FAULT(EDNN_ERR_STREAM_STRUCTURE, op == EDNN_OP_END
                                                             ? "END before the last instruction"
                                                             : "the last instruction is not END");
        if (op == EDNN_OP_END) {
            for (unsigned k = 0; k < NUM_TOKENS; ++k) {
                if (g_tokens[k])
                    return EDNN_FAULT(EDNN_ERR_TOKENS_LEFT, "token queue 0x%03X holds %u at END",
                                      1u << k, g_tokens[k]);
            }
            if (g_kept.valid)
                return EDNN_FAULT(EDNN_ERR_ACC_STATE,
                                  "accumulators kept by COMPUTE_TILE %u were never finished",
                                  g_kept.index);
            if (crc != body_crc)
                return EDNN_FAULT(EDNN_ERR_BODY_CRC, "body CRC-32 mismatch (header 0x%08X, "
                                  "instructions 0x%08X)", body_crc, crc);
            ++g_cnt_commands;
            return 0;
        }
        if (const uint8_t e = execute(w, i, p)) return e;
        ++g_cnt_commands;
    }
    return 0; /* not reached: the last instruction is END */
}

}  // namespace

/* ------------------------------------------------------------------ identity block */
void identity_block(uint32_t id[ID_WORDS]) {
    for (unsigned k = 0; k < ID_WORDS; ++k) id[k] = 0;
    id[id_index(EDNN_REG_ID_MAGIC_OFFSET)] = EDNN_REG_ID_MAGIC_VALUE;
    id[id_index(EDNN_REG_ID_VERSION_OFFSET)] = EDNN_REG_ID_VERSION_VALUE;
    id[id_index(EDNN_REG_ID_SCHEMA_OFFSET)] = EDNN_REG_ID_SCHEMA_VALUE;
    id[id_index(EDNN_REG_ID_CONFIG_HASH0_OFFSET)] = EDNN_REG_ID_CONFIG_HASH0_VALUE;
    id[id_index(EDNN_REG_ID_CONFIG_HASH1_OFFSET)] = EDNN_REG_ID_CONFIG_HASH1_VALUE;
    id[id_index(EDNN_REG_ID_PE_DIMS_OFFSET)] = EDNN_REG_ID_PE_DIMS_VALUE;
    id[id_index(EDNN_REG_ID_CLOCKS_OFFSET)] = EDNN_REG_ID_CLOCKS_VALUE;
    id[id_index(EDNN_REG_ID_PRECISIONS_OFFSET)] = EDNN_REG_ID_PRECISIONS_VALUE;
    id[id_index(EDNN_REG_ID_LANES_OFFSET)] = EDNN_REG_ID_LANES_VALUE;
    id[id_index(EDNN_REG_ID_INPUT_BYTES_OFFSET)] = EDNN_REG_ID_INPUT_BYTES_VALUE;
    id[id_index(EDNN_REG_ID_WEIGHT_BYTES_OFFSET)] = EDNN_REG_ID_WEIGHT_BYTES_VALUE;
    id[id_index(EDNN_REG_ID_OUTPUT_BYTES_OFFSET)] = EDNN_REG_ID_OUTPUT_BYTES_VALUE;
    id[id_index(EDNN_REG_ID_PARAMS_BYTES_OFFSET)] = EDNN_REG_ID_PARAMS_BYTES_VALUE;
}

#ifndef __SYNTHESIS__
const char* csim_fault_reason() { return g_reason; }

size_t csim_buffer_bytes(unsigned which) {
    switch (which) {
        case 0: return (size_t)IN_WORDS * CB;
        case 1: return (size_t)OUT_WORDS * CB;
        case 2: return (size_t)WT_DEPTH * WT_WORD_BYTES;
        case 3: return (size_t)PAR_DEPTH * PAR_WORD_BYTES;
        default: return 0;
    }
}

namespace {
template <bool Write>
void buffer_io(unsigned which, uint8_t* bytes) {
    switch (which) {
        case 0:
            for (uint32_t a = 0; a < IN_WORDS; ++a)
                for (unsigned j = 0; j < CB; ++j) {
                    uint8_t& v = in_word(a).b[j];
                    if (Write) v = bytes[(size_t)a * CB + j]; else bytes[(size_t)a * CB + j] = v;
                }
            break;
        case 1:
            for (uint32_t a = 0; a < OUT_WORDS; ++a)
                for (unsigned j = 0; j < CB; ++j) {
                    uint8_t& v = out_word(a).b[j];
                    if (Write) v = bytes[(size_t)a * CB + j]; else bytes[(size_t)a * CB + j] = v;
                }
            break;
        case 2:
            for (uint32_t a = 0; a < WT_DEPTH; ++a)
                for (unsigned j = 0; j < WT_WORD_BYTES; ++j) {
                    uint8_t& v = wt_buf[j / WT_BANK_BYTES][a].b[j % WT_BANK_BYTES];
                    const size_t k = (size_t)a * WT_WORD_BYTES + j;
                    if (Write) v = bytes[k]; else bytes[k] = v;
                }
            break;
        case 3:
            for (uint32_t a = 0; a < PAR_DEPTH; ++a)
                for (unsigned j = 0; j < PAR_WORD_BYTES; ++j) {
                    uint8_t& v = par_buf[j / PAR_BANK_BYTES][a].b[j % PAR_BANK_BYTES];
                    const size_t k = (size_t)a * PAR_WORD_BYTES + j;
                    if (Write) v = bytes[k]; else bytes[k] = v;
                }
            break;
        default: break;
    }
}
}  // namespace

void csim_get_buffer(unsigned which, uint8_t* bytes) { buffer_io<false>(which, bytes); }
void csim_set_buffer(unsigned which, const uint8_t* bytes) {
    buffer_io<true>(which, const_cast<uint8_t*>(bytes));
}
#endif

}  // namespace ednn

/* ------------------------------------------------------------------ top function */
void edge_dnn_engine(ednn::stream<ednn::cmd_beat>& cmd,
                     ednn::stream<ednn::weights_beat> weights[ednn::NUM_WEIGHTS],
                     ednn::stream<ednn::act_in_beat> act_in[ednn::NUM_ACT_IN],
                     ednn::stream<ednn::act_out_beat> act_out[ednn::NUM_ACT_OUT],
                     uint32_t control, uint32_t& status, uint32_t& irq_status,
                     uint32_t& error_index, uint32_t identity[ednn::ID_WORDS],
                     uint32_t counters[ednn::CNT_WORDS], bool& irq) {
#pragma HLS INTERFACE mode = axis port = cmd
#pragma HLS INTERFACE mode = axis port = weights
#pragma HLS INTERFACE mode = axis port = act_in
#pragma HLS INTERFACE mode = axis port = act_out
    EDNN_PRAGMA(HLS INTERFACE mode = s_axilite port = control offset = EDNN_REG_CONTROL_OFFSET bundle = ctrl)
    EDNN_PRAGMA(HLS INTERFACE mode = s_axilite port = status offset = EDNN_REG_STATUS_OFFSET bundle = ctrl)
    EDNN_PRAGMA(HLS INTERFACE mode = s_axilite port = irq_status offset = EDNN_REG_IRQ_STATUS_OFFSET bundle = ctrl)
    EDNN_PRAGMA(HLS INTERFACE mode = s_axilite port = identity offset = EDNN_REG_ID_MAGIC_OFFSET bundle = ctrl)
    EDNN_PRAGMA(HLS INTERFACE mode = s_axilite port = counters offset = EDNN_REG_CNT_CYCLES_LO_OFFSET bundle = ctrl)
#pragma HLS INTERFACE mode = s_axilite port = error_index bundle = ctrl
#pragma HLS INTERFACE mode = ap_none port = irq
#pragma HLS INTERFACE mode = ap_ctrl_none port = return
    /* Buffers: banks are separate memories (one read port per pixel lane / requant lane);
     * the word of a bank is one wide memory word. */
#pragma HLS ARRAY_PARTITION variable = ednn::in_buf complete dim = 1
#pragma HLS ARRAY_PARTITION variable = ednn::out_buf complete dim = 1
#pragma HLS ARRAY_PARTITION variable = ednn::wt_buf complete dim = 1
#pragma HLS ARRAY_PARTITION variable = ednn::par_buf complete dim = 1
#pragma HLS AGGREGATE variable = ednn::in_buf
#pragma HLS AGGREGATE variable = ednn::out_buf
#pragma HLS AGGREGATE variable = ednn::wt_buf
#pragma HLS AGGREGATE variable = ednn::par_buf
#if EDNN_BUF_INPUT_MEMORY == EDNN_MEM_URAM
#pragma HLS BIND_STORAGE variable = ednn::in_buf type = ram_2p impl = uram
#elif EDNN_BUF_INPUT_MEMORY == EDNN_MEM_BRAM
#pragma HLS BIND_STORAGE variable = ednn::in_buf type = ram_2p impl = bram
#else
#pragma HLS BIND_STORAGE variable = ednn::in_buf type = ram_2p impl = lutram
#endif
#if EDNN_BUF_OUTPUT_MEMORY == EDNN_MEM_URAM
#pragma HLS BIND_STORAGE variable = ednn::out_buf type = ram_2p impl = uram
#elif EDNN_BUF_OUTPUT_MEMORY == EDNN_MEM_BRAM
#pragma HLS BIND_STORAGE variable = ednn::out_buf type = ram_2p impl = bram
#else
#pragma HLS BIND_STORAGE variable = ednn::out_buf type = ram_2p impl = lutram
#endif
#if EDNN_BUF_WEIGHT_MEMORY == EDNN_MEM_URAM
#pragma HLS BIND_STORAGE variable = ednn::wt_buf type = ram_2p impl = uram
#elif EDNN_BUF_WEIGHT_MEMORY == EDNN_MEM_BRAM
#pragma HLS BIND_STORAGE variable = ednn::wt_buf type = ram_2p impl = bram
#else
#pragma HLS BIND_STORAGE variable = ednn::wt_buf type = ram_2p impl = lutram
#endif
#if EDNN_BUF_PARAMS_MEMORY == EDNN_MEM_URAM
#pragma HLS BIND_STORAGE variable = ednn::par_buf type = ram_2p impl = uram
#elif EDNN_BUF_PARAMS_MEMORY == EDNN_MEM_BRAM
#pragma HLS BIND_STORAGE variable = ednn::par_buf type = ram_2p impl = bram
#else
#pragma HLS BIND_STORAGE variable = ednn::par_buf type = ram_2p impl = lutram
#endif
    using namespace ednn;
    identity_block(identity);
    if (control & EDNN_REG_CONTROL_CLEAR_COUNTERS_MASK) {
        g_cnt_cycles = g_cnt_busy = g_cnt_stall_in = g_cnt_stall_out = 0;
        g_cnt_commands = 0;
    }
    if (control & EDNN_REG_CONTROL_SOFT_RESET_MASK) {
        /* back to idle, every stream FIFO flushed; the buffers keep their contents */
        while (!cmd.empty()) (void)cmd.read();
        for (unsigned k = 0; k < NUM_WEIGHTS; ++k)
            while (!weights[k].empty()) (void)weights[k].read();
        for (unsigned k = 0; k < NUM_ACT_IN; ++k)
            while (!act_in[k].empty()) (void)act_in[k].read();
        g_status = STATUS_IDLE;
        error_index = NO_INDEX;
    } else if (control & EDNN_REG_CONTROL_START_MASK) {
        /* START resets the token queues, configuration registers, kept accumulators and the
         * running body CRC (buffers are kept) */
        for (unsigned k = 0; k < NUM_TOKENS; ++k) g_tokens[k] = 0;
        g_conv.valid = g_pool.valid = g_elt.valid = false;
#if EDNN_HLS_HAS_NORM
        g_norm.valid = false;
#endif
        g_kept.valid = false;
        g_cnt_cycles = g_cnt_busy = g_cnt_stall_in = g_cnt_stall_out = 0;
        g_cnt_commands = 0;
#ifndef __SYNTHESIS__
        g_reason[0] = '\0';
#endif
        g_status = STATUS_BUSY;
        io p{cmd, weights, act_in, act_out};
        uint32_t index = NO_INDEX;
        const uint8_t code = run(p, index);
        if (code) {
            g_status = STATUS_IDLE | STATUS_ERROR | ((uint32_t)code << STATUS_CODE_SHIFT);
            error_index = index;
            irq_status |= EDNN_REG_IRQ_STATUS_ERROR_MASK;
        } else {
            g_status = STATUS_IDLE | STATUS_DONE;
            error_index = NO_INDEX;
            irq_status |= EDNN_REG_IRQ_STATUS_DONE_MASK;
        }
    }
    status = g_status;
    irq = (irq_status != 0) && (control & EDNN_REG_CONTROL_IRQ_ENABLE_MASK);
    for (unsigned k = 0; k < CNT_WORDS; ++k) counters[k] = 0;
    counters[cnt_index(EDNN_REG_CNT_CYCLES_LO_OFFSET)] = (uint32_t)g_cnt_cycles;
    counters[cnt_index(EDNN_REG_CNT_CYCLES_HI_OFFSET)] = (uint32_t)(g_cnt_cycles >> 32);
    counters[cnt_index(EDNN_REG_CNT_BUSY_LO_OFFSET)] = (uint32_t)g_cnt_busy;
    counters[cnt_index(EDNN_REG_CNT_BUSY_HI_OFFSET)] = (uint32_t)(g_cnt_busy >> 32);
    counters[cnt_index(EDNN_REG_CNT_STALL_IN_LO_OFFSET)] = (uint32_t)g_cnt_stall_in;
    counters[cnt_index(EDNN_REG_CNT_STALL_IN_HI_OFFSET)] = (uint32_t)(g_cnt_stall_in >> 32);
    counters[cnt_index(EDNN_REG_CNT_STALL_OUT_LO_OFFSET)] = (uint32_t)g_cnt_stall_out;
    counters[cnt_index(EDNN_REG_CNT_STALL_OUT_HI_OFFSET)] = (uint32_t)(g_cnt_stall_out >> 32);
    counters[cnt_index(EDNN_REG_CNT_COMMANDS_OFFSET)] = g_cnt_commands;
}
