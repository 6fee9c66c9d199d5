/*
 * C simulation harness of the edge-dnn engine: one engine step (one command stream) against a
 * DDR image, the way edge_dnn/emulator/run.py's DirectFeeder drives the Python emulator.
 *
 *   edge_dnn_csim STEP_FILE RESULT_FILE     run one step (formats: ../README.md)
 *   edge_dnn_csim --info                    print the overlay this binary was built for
 *
 * The harness gathers every MM2S packet of the step's transfer lists from the image into the
 * engine's input streams (beats of the stream width, TKEEP on a short last beat, TLAST on the
 * last beat of a packet), runs the top function once with CONTROL.START, checks that every
 * input stream was consumed (the emulator's STREAM_LENGTH at DONE), and scatters each act_out
 * packet into the image through its S2MM descriptors. Exit status 0 whenever a result file was
 * written (engine faults are reported in it), 2 for unusable arguments or input files.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "edge_dnn_hls.h"

namespace {

constexpr uint32_t STEP_MAGIC = 0x53434445u;   /* bytes 'E' 'D' 'C' 'S' */
constexpr uint32_t RESULT_MAGIC = 0x52434445u; /* bytes 'E' 'D' 'C' 'R' */
constexpr uint32_t FORMAT_VERSION = 1;
constexpr uint32_t FLAG_STATE = 1u;   /* buffer contents in (step file) and out (result) */
constexpr uint32_t FLAG_PACKETS = 2u; /* return the act_out packets instead of scattering */

struct row {
    int64_t offset, length, last;
};
struct transfer_list {
    uint32_t role, index;
    std::vector<row> rows;
};

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "edge_dnn_csim: %s\n", msg.c_str());
    std::exit(2);
}

struct reader {
    const std::vector<uint8_t>& buf;
    size_t pos;
    const char* what;
    void need(size_t n) {
        if (buf.size() - pos < n)
            die(std::string(what) + ": truncated at byte " + std::to_string(pos));
    }
    uint32_t u32() {
        need(4);
        uint32_t v = 0;
        for (unsigned i = 0; i < 4; ++i) v |= (uint32_t)buf[pos + i] << (8 * i);
        pos += 4;
        return v;
    }
    uint64_t u64() {
        need(8);
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; ++i) v |= (uint64_t)buf[pos + i] << (8 * i);
        pos += 8;
        return v;
    }
};

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) out.push_back((uint8_t)(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
    for (unsigned i = 0; i < 8; ++i) out.push_back((uint8_t)(v >> (8 * i)));
}

/* Descriptors grouped into packets (each ends with `last`; a trailing group is a packet too,
 * as EngineStep.packets() does). */
std::vector<std::vector<row>> packets_of(const std::vector<row>& rows) {
    std::vector<std::vector<row>> out;
    std::vector<row> cur;
    for (const row& r : rows) {
        cur.push_back(r);
        if (r.last) {
            out.push_back(cur);
            cur.clear();
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

/* One MM2S packet as beats of B bytes. */
template <unsigned B>
void push_packet(ednn::stream<ednn::axis_word<B>>& s, const std::vector<uint8_t>& bytes) {
    size_t pos = 0;
    while (pos < bytes.size()) {
        ednn::axis_word<B> beat{};
        const size_t n = bytes.size() - pos < B ? bytes.size() - pos : B;
        for (size_t i = 0; i < n; ++i) ednn::set_beat_byte(beat, (unsigned)i, bytes[pos + i]);
        ednn::set_beat_keep(beat, (unsigned)n);
        pos += n;
        ednn::set_beat_last(beat, pos == bytes.size());
        s.write(beat);
    }
}

std::vector<uint8_t> gather(const std::vector<uint8_t>& image, const std::vector<row>& descs) {
    std::vector<uint8_t> out;
    for (const row& r : descs) {
        if (r.offset < 0 || r.length <= 0 || (uint64_t)(r.offset + r.length) > image.size())
            die("a descriptor lies outside the DDR image");
        out.insert(out.end(), image.begin() + r.offset, image.begin() + r.offset + r.length);
    }
    return out;
}

template <unsigned B>
void feed(ednn::stream<ednn::axis_word<B>>* ports, unsigned n_ports, uint32_t role,
          const std::vector<transfer_list>& lists, const std::vector<uint8_t>& image) {
    for (const transfer_list& tl : lists) {
        if (tl.role != role) continue;
        if (tl.index >= n_ports) die("transfer list for a stream the overlay does not have");
        for (const auto& pkt : packets_of(tl.rows)) push_packet(ports[tl.index], gather(image, pkt));
    }
}

/* Every packet an output stream emitted: bytes of the kept lanes, split at TLAST. */
template <unsigned B>
std::vector<std::vector<uint8_t>> drain(ednn::stream<ednn::axis_word<B>>& s) {
    std::vector<std::vector<uint8_t>> out;
    std::vector<uint8_t> cur;
    while (!s.empty()) {
        const ednn::axis_word<B> beat = s.read();
        const unsigned n = ednn::beat_keep_bytes(beat);
        for (unsigned i = 0; i < n; ++i) cur.push_back(ednn::beat_byte(beat, i));
        if (ednn::beat_last(beat)) {
            out.push_back(cur);
            cur.clear();
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

template <unsigned B>
size_t leftover_beats(ednn::stream<ednn::axis_word<B>>* ports, unsigned n) {
    size_t total = 0;
    for (unsigned k = 0; k < n; ++k) total += ports[k].size();
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--info") == 0) {
        std::printf("overlay=%s\nconfig_hash0=0x%08X\nconfig_hash1=0x%08X\nformat=%u\n",
                    EDNN_OVERLAY_NAME, EDNN_CONFIG_HASH0, EDNN_CONFIG_HASH1, FORMAT_VERSION);
        return 0;
    }
    if (argc != 3) die("usage: edge_dnn_csim STEP_FILE RESULT_FILE | --info");
    {
        const uint32_t probe = 1;
        uint8_t b0;
        std::memcpy(&b0, &probe, 1);
        if (b0 != 1) die("the exchange files are little-endian; this host is not");
    }
    std::vector<uint8_t> in;
    {
        FILE* f = std::fopen(argv[1], "rb");
        if (!f) die(std::string("cannot open ") + argv[1]);
        std::fseek(f, 0, SEEK_END);
        const long size = std::ftell(f);
        std::fseek(f, 0, SEEK_SET);
        in.resize((size_t)size);
        if (size > 0 && std::fread(in.data(), 1, (size_t)size, f) != (size_t)size)
            die(std::string("cannot read ") + argv[1]);
        std::fclose(f);
    }
    reader rd{in, 0, argv[1]};
    if (rd.u32() != STEP_MAGIC) die("not an edge-dnn C-sim step file (magic)");
    if (rd.u32() != FORMAT_VERSION) die("unsupported step file version");
    const uint32_t flags = rd.u32();
    if (flags & ~(FLAG_STATE | FLAG_PACKETS)) die("unknown step file flags");
    const uint32_t n_cmd = rd.u32();
    std::vector<uint32_t> cmd_words(n_cmd);
    for (uint32_t i = 0; i < n_cmd; ++i) cmd_words[i] = rd.u32();
    const uint64_t image_len = rd.u64();
    rd.need(image_len);
    std::vector<uint8_t> image(in.begin() + (long)rd.pos, in.begin() + (long)(rd.pos + image_len));
    rd.pos += image_len;
    const uint32_t n_lists = rd.u32();
    std::vector<transfer_list> lists(n_lists);
    for (uint32_t k = 0; k < n_lists; ++k) {
        lists[k].role = rd.u32();
        lists[k].index = rd.u32();
        const uint32_t n_rows = rd.u32();
        lists[k].rows.resize(n_rows);
        for (uint32_t r = 0; r < n_rows; ++r) {
            lists[k].rows[r].offset = (int64_t)rd.u64();
            lists[k].rows[r].length = (int64_t)rd.u64();
            lists[k].rows[r].last = (int64_t)rd.u64();
        }
    }
    if (flags & FLAG_STATE) {
        for (unsigned b = 0; b < ednn::CSIM_BUFFERS; ++b) {
            const uint64_t n = rd.u64();
            if (n != ednn::csim_buffer_bytes(b)) die("buffer state of the wrong size");
            rd.need(n);
            ednn::csim_set_buffer(b, in.data() + rd.pos);
            rd.pos += n;
        }
    }
    if (rd.pos != in.size()) die("trailing bytes after the transfer lists");
    std::vector<uint8_t>().swap(in);

    static ednn::stream<ednn::cmd_beat> cmd;
    static ednn::stream<ednn::weights_beat> weights[ednn::NUM_WEIGHTS];
    static ednn::stream<ednn::act_in_beat> act_in[ednn::NUM_ACT_IN];
    static ednn::stream<ednn::act_out_beat> act_out[ednn::NUM_ACT_OUT];
    {
        std::vector<uint8_t> cmd_bytes;
        for (uint32_t w : cmd_words) put_u32(cmd_bytes, w);
        push_packet(cmd, cmd_bytes);
    }
    feed(weights, ednn::NUM_WEIGHTS, EDNN_ROLE_WEIGHTS, lists, image);
    feed(act_in, ednn::NUM_ACT_IN, EDNN_ROLE_ACT_IN, lists, image);

    uint32_t status = 0, irq_status = 0, error_index = ednn::NO_INDEX;
    uint32_t identity[ednn::ID_WORDS], counters[ednn::CNT_WORDS];
    bool irq = false;
    edge_dnn_engine(cmd, weights, act_in, act_out, EDNN_REG_CONTROL_START_MASK, status, irq_status,
                    error_index, identity, counters, irq);
    std::string reason = ednn::csim_fault_reason();
    const uint32_t commands = counters[ednn::cnt_index(EDNN_REG_CNT_COMMANDS_OFFSET)];

    uint32_t dma_error = 0;
    if (status & ednn::STATUS_DONE) {
        const size_t left = leftover_beats(weights, ednn::NUM_WEIGHTS) +
                            leftover_beats(act_in, ednn::NUM_ACT_IN);
        if (left) {
            /* the emulator's Engine.run: unconsumed MM2S data at DONE */
            status = ednn::STATUS_IDLE | ednn::STATUS_ERROR |
                     ((uint32_t)EDNN_ERR_STREAM_LENGTH << ednn::STATUS_CODE_SHIFT);
            error_index = commands ? commands - 1 : ednn::NO_INDEX;
            reason = "unconsumed MM2S data at DONE (" + std::to_string(left) +
                     " beats): the transfer lists do not match the command stream";
        }
    }
    std::vector<std::vector<std::vector<uint8_t>>> out_packets(ednn::NUM_ACT_OUT);
    if ((status & ednn::STATUS_DONE) && (flags & FLAG_PACKETS)) {
        for (unsigned k = 0; k < ednn::NUM_ACT_OUT; ++k) out_packets[k] = drain(act_out[k]);
    } else if (status & ednn::STATUS_DONE) {
        for (unsigned k = 0; k < ednn::NUM_ACT_OUT && !dma_error; ++k) {
            const auto pkts = drain(act_out[k]);
            std::vector<std::vector<row>> plan;
            for (const transfer_list& tl : lists) {
                if (tl.role == EDNN_ROLE_ACT_OUT && tl.index == k) plan = packets_of(tl.rows);
            }
            if (plan.size() != pkts.size()) {
                dma_error = 1;
                reason = "act_out stream " + std::to_string(k) + ": the engine sent " +
                         std::to_string(pkts.size()) + " packet(s), the S2MM transfer list has " +
                         std::to_string(plan.size());
                break;
            }
            for (size_t p = 0; p < pkts.size() && !dma_error; ++p) {
                uint64_t total = 0;
                for (const row& r : plan[p]) total += (uint64_t)r.length;
                if (total != pkts[p].size()) {
                    dma_error = 1;
                    reason = "act_out stream " + std::to_string(k) + " packet " +
                             std::to_string(p) + ": " + std::to_string(pkts[p].size()) +
                             " bytes from the engine, " + std::to_string(total) +
                             " bytes of S2MM descriptors";
                    break;
                }
                size_t pos = 0;
                for (const row& r : plan[p]) {
                    if (r.offset < 0 || (uint64_t)(r.offset + r.length) > image.size())
                        die("an S2MM descriptor lies outside the DDR image");
                    std::memcpy(image.data() + r.offset, pkts[p].data() + pos, (size_t)r.length);
                    pos += (size_t)r.length;
                }
            }
        }
    }

    const bool ok = (status & ednn::STATUS_DONE) && !dma_error;
    std::vector<uint8_t> out;
    put_u32(out, RESULT_MAGIC);
    put_u32(out, FORMAT_VERSION);
    put_u32(out, status);
    put_u32(out, error_index);
    put_u32(out, dma_error);
    put_u32(out, commands);
    put_u32(out, (uint32_t)reason.size());
    out.insert(out.end(), reason.begin(), reason.end());
    put_u64(out, ok ? image.size() : 0);
    FILE* f = std::fopen(argv[2], "wb");
    if (!f) die(std::string("cannot write ") + argv[2]);
    bool written = std::fwrite(out.data(), 1, out.size(), f) == out.size();
    if (ok) written = written && std::fwrite(image.data(), 1, image.size(), f) == image.size();
    out.clear();
    if (ok && (flags & FLAG_PACKETS)) {
        put_u32(out, ednn::NUM_ACT_OUT);
        for (const auto& pkts : out_packets) {
            put_u32(out, (uint32_t)pkts.size());
            for (const auto& p : pkts) {
                put_u64(out, p.size());
                out.insert(out.end(), p.begin(), p.end());
            }
        }
    }
    written = written && std::fwrite(out.data(), 1, out.size(), f) == out.size();
    if (ok && (flags & FLAG_STATE)) {
        for (unsigned b = 0; b < ednn::CSIM_BUFFERS; ++b) {
            std::vector<uint8_t> buf(ednn::csim_buffer_bytes(b));
            ednn::csim_get_buffer(b, buf.data());
            std::vector<uint8_t> head;
            put_u64(head, buf.size());
            written = written && std::fwrite(head.data(), 1, head.size(), f) == head.size();
            written = written && std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
        }
    }
    if (std::fclose(f) != 0 || !written) die(std::string("cannot write ") + argv[2]);
    return 0;
}
