/* SPDX-License-Identifier: BSD-3-Clause
 *
 * pcap_replay: the reasm side of tests/captures_vs_gopacket.py.
 *
 * For each classic pcap file on the command line it feeds every frame of an
 * Ethernet capture, as mbufs in bursts of 32 with the capture's timestamps,
 * through reasm_assemble_burst() (fresh pool and assembler per file, no page
 * limits, no periodic flush), calls reasm_flush_all() at the end and prints
 *
 *   # FILE
 *   one JSON line per stream direction, sorted
 *   # end
 *
 * in exactly the format of tools/gopacket-ref (the gopacket tcpassembly
 * reference), so the two outputs compare with diff:
 *   bytes          bytes delivered
 *   records        records delivered (empty ones included)
 *   skips          records with skip > 0; skipped_bytes their sum
 *   skip_unknown   records with skip == -1
 *   start, end     whether any record had start / end
 *   sha256         of the concatenated delivered bytes
 *   meta_sha256    of one line "len skip start end seen_ns\n" per record
 * Addresses are printed like Go's net.IP.String().
 *
 * The file reader is written here rather than taken from libpcap on purpose:
 * it must see a capture exactly as gopacket's pcapgo does, which stops at the
 * first record whose capture length exceeds the file's snap length or the
 * wire length (libpcap instead silently truncates such records to the snap
 * length, and several fuzzed tcpdump captures have them), takes the link
 * type as its low 8 bits (pcapgo's layers.LinkType is a uint8) and computes
 * the sub-second part as a 32-bit product.
 *
 * Harness problems (page mempool exhausted, connection table full, pages not
 * all returned after reasm_flush_all) are printed as {"harness_error":...}
 * lines so that the comparison fails and says why.
 *
 * Options (before the files): --pages N (page mempool size, default 20000;
 * the captures need under 500),
 * --max-conns N (default 65536), --stats (print non-zero counters of each
 * file to stderr).
 */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nettle/sha2.h>

#include "addr_format.h" /* app/reasm: Go's net.IP.String() */
#include "reasm.h"

/* Nettle's SHA-256 (as the appliance's sinks use it), wrapped for this file. */
class Sha256 {
public:
	Sha256() { sha256_init(&ctx_); }
	void update(const void *p, size_t n)
	{
		sha256_update(&ctx_, n, static_cast<const uint8_t *>(p));
	}
	std::string hex()
	{
		uint8_t d[SHA256_DIGEST_SIZE];
		char h[2 * SHA256_DIGEST_SIZE + 1];
		sha256_digest(&ctx_, sizeof(d), d);
		for (size_t i = 0; i < sizeof(d); i++)
			snprintf(h + 2 * i, 3, "%02x", d[i]);
		return h;
	}

private:
	struct sha256_ctx ctx_;
};

namespace {

constexpr unsigned kBurst = 32;

struct Options {
	unsigned pages = 20000;
	uint32_t max_conns = 65536;
	bool stats = false;
};

/* ---------------------------------------------------------------- */
/* Output: one summary per stream direction                          */
/* ---------------------------------------------------------------- */

/* Addresses as gopacket-ref prints them: the app's Go-compatible formatter. */
std::string addr_string(const struct reasm_flow *flow, const uint8_t *addr)
{
	char buf[ADDR_FORMAT_GO_LEN];
	addr_format_go(flow->family, addr, buf);
	return buf;
}

struct Stream {
	std::string src, dst;
	uint16_t sport = 0, dport = 0;
	uint64_t bytes = 0, records = 0, skips = 0, skip_unknown = 0;
	int64_t skipped_bytes = 0;
	bool start = false, end = false;
	Sha256 data, meta;
	std::vector<std::string> *out = nullptr;
};

void *stream_open(void *factory_ctx, const struct reasm_flow *flow, void *priv)
{
	Stream *s = new Stream;
	s->src = addr_string(flow, flow->src_addr);
	s->dst = addr_string(flow, flow->dst_addr);
	s->sport = flow->src_port;
	s->dport = flow->dst_port;
	s->out = static_cast<std::vector<std::string> *>(factory_ctx);
	return s;
}

void stream_reassembled(void *stream, const struct reasm_record *records, unsigned int n)
{
	Stream *s = static_cast<Stream *>(stream);
	for (unsigned int i = 0; i < n; i++) {
		const struct reasm_record &r = records[i];
		s->records++;
		s->bytes += r.len;
		if (r.skip == -1) {
			s->skip_unknown++;
		} else if (r.skip > 0) {
			s->skips++;
			s->skipped_bytes += r.skip;
		}
		s->start = s->start || r.start;
		s->end = s->end || r.end;
		if (r.len > 0)
			s->data.update(r.bytes, r.len);
		char line[128];
		int len = snprintf(line, sizeof(line), "%u %" PRId64 " %d %d %" PRId64 "\n", r.len,
				   r.skip, r.start ? 1 : 0, r.end ? 1 : 0, (int64_t)r.seen);
		s->meta.update(line, (size_t)len);
	}
}

void stream_complete(void *stream, const struct reasm_stream_totals *t)
{
	Stream *s = static_cast<Stream *>(stream);
	char line[512];

	/* Per-stream conservation: a disagreement is a harness error (no gopacket line matches). */
	if (t->delivered_bytes != s->bytes || t->skipped_bytes != (uint64_t)s->skipped_bytes ||
	    t->received_bytes != t->delivered_bytes + t->overlap_bytes + t->discarded_bytes) {
		snprintf(line, sizeof(line),
			 "{\"harness_error\":\"%s:%u > %s:%u: totals received %" PRIu64
			 " delivered %" PRIu64 " overlap %" PRIu64 " discarded %" PRIu64
			 " skipped %" PRIu64 "; records hold %" PRIu64 " bytes, skip %" PRId64 "\"}",
			 s->src.c_str(), s->sport, s->dst.c_str(), s->dport, t->received_bytes,
			 t->delivered_bytes, t->overlap_bytes, t->discarded_bytes, t->skipped_bytes,
			 s->bytes, s->skipped_bytes);
		s->out->push_back(line);
	}
	snprintf(line, sizeof(line),
		 "{\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,\"bytes\":%" PRIu64
		 ",\"records\":%" PRIu64 ",\"skips\":%" PRIu64 ",\"skip_unknown\":%" PRIu64
		 ",\"skipped_bytes\":%" PRId64 ",\"start\":%s,\"end\":%s,\"sha256\":\"%s\","
		 "\"meta_sha256\":\"%s\"}",
		 s->src.c_str(), s->sport, s->dst.c_str(), s->dport, s->bytes, s->records, s->skips,
		 s->skip_unknown, s->skipped_bytes, s->start ? "true" : "false",
		 s->end ? "true" : "false", s->data.hex().c_str(), s->meta.hex().c_str());
	s->out->push_back(line);
	delete s;
}

const struct reasm_stream_ops kOps = {stream_open, stream_reassembled, stream_complete};

/* ---------------------------------------------------------------- */
/* Input: classic pcap, read the way pcapgo reads it                  */
/* ---------------------------------------------------------------- */

struct Capture {
	std::vector<uint8_t> file;
	bool big_endian = false;
	uint32_t frac_factor = 1000; /* sub-second field to ns */
	uint32_t snaplen = 0;
	uint32_t linktype = 0;
	size_t off = 24;

	uint32_t u32(size_t at) const
	{
		const uint8_t *p = &file[at];
		if (big_endian)
			return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
	}
	uint16_t u16(size_t at) const
	{
		const uint8_t *p = &file[at];
		return big_endian ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
	}

	/* Returns an error name, or nullptr if the header is one pcapgo accepts. */
	const char *open(const char *path)
	{
		FILE *f = fopen(path, "rb");
		if (f == nullptr)
			return "open";
		uint8_t buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			file.insert(file.end(), buf, buf + n);
		fclose(f);
		if (file.size() < 24)
			return "header";
		uint32_t magic = (uint32_t)file[3] << 24 | (uint32_t)file[2] << 16 |
				 (uint32_t)file[1] << 8 | file[0];
		switch (magic) {
		case 0xa1b2c3d4: big_endian = false; frac_factor = 1000; break;
		case 0xd4c3b2a1: big_endian = true; frac_factor = 1000; break;
		case 0xa1b23c4d: big_endian = false; frac_factor = 1; break;
		case 0x4d3cb2a1: big_endian = true; frac_factor = 1; break;
		default: return "header";
		}
		if (u16(4) != 2 || u16(6) != 4)
			return "header";
		snaplen = u32(16);
		linktype = u32(20);
		return nullptr;
	}

	/* pcapgo's layers.LinkType is 8 bits wide. */
	bool ethernet() const { return (uint8_t)linktype == 1; }

	/* Next record, or false where pcapgo's ReadPacketData returns an error. */
	bool next(const uint8_t **data, uint32_t *caplen, uint64_t *ts_ns)
	{
		if (file.size() - off < 16)
			return false;
		uint32_t sec = u32(off), frac = u32(off + 4);
		uint32_t cap = u32(off + 8), wire = u32(off + 12);
		if ((uint64_t)cap > snaplen || cap > wire)
			return false;
		if (file.size() - off - 16 < cap)
			return false;
		*data = &file[off + 16];
		*caplen = cap;
		*ts_ns = (uint64_t)sec * 1000000000u + (uint32_t)(frac * frac_factor);
		off += 16 + (size_t)cap;
		return true;
	}
};

/* ---------------------------------------------------------------- */
/* Replay                                                             */
/* ---------------------------------------------------------------- */

struct Replayer {
	Options opt;
	struct rte_mempool *mbufs = nullptr;
	struct rte_mempool *pages = nullptr;
	unsigned file_no = 0;

	struct reasm_assembler *asm_ = nullptr;
	struct rte_mbuf *burst[kBurst];
	uint64_t ts[kBurst];
	unsigned n = 0;

	void send_burst()
	{
		if (n == 0)
			return;
		reasm_assemble_burst(asm_, burst, (uint16_t)n, ts, 0);
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(burst[i]);
		n = 0;
	}

	/* Copy a frame into a (possibly chained) mbuf. */
	struct rte_mbuf *to_mbuf(const uint8_t *data, uint32_t len)
	{
		struct rte_mbuf *head = rte_pktmbuf_alloc(mbufs);
		if (head == nullptr)
			return nullptr;
		struct rte_mbuf *cur = head;
		uint32_t off = 0;
		for (;;) {
			uint32_t room = rte_pktmbuf_tailroom(cur);
			uint32_t take = len - off < room ? len - off : room;
			char *dst = rte_pktmbuf_append(cur, (uint16_t)take);
			if (take > 0)
				memcpy(dst, data + off, take);
			if (cur != head)
				head->pkt_len += take;
			off += take;
			if (off == len)
				return head;
			struct rte_mbuf *next = rte_pktmbuf_alloc(mbufs);
			if (next == nullptr || head->nb_segs == UINT16_MAX) {
				rte_pktmbuf_free(next);
				rte_pktmbuf_free(head);
				return nullptr;
			}
			cur->next = next;
			head->nb_segs++;
			cur = next;
		}
	}

	void print_stats(const char *path)
	{
		struct reasm_stats st;
		reasm_assembler_stats(asm_, &st);
		fprintf(stderr, "%s:", path);
		for (unsigned i = 0; i < REASM_CTR_MAX; i++)
			if (st.v[i] != 0)
				fprintf(stderr, " %s=%" PRIu64, reasm_counter_name(i), st.v[i]);
		fprintf(stderr, "\n");
	}

	std::vector<std::string> replay(const char *path)
	{
		std::vector<std::string> out;
		Capture cap;
		if (const char *err = cap.open(path))
			return {std::string("{\"error\":\"") + err + "\"}"};
		if (!cap.ethernet())
			return out;

		std::string pool_name = "replay_" + std::to_string(file_no++);
		struct reasm_pool_conf pc = {};
		pc.name = pool_name.c_str();
		pc.socket_id = SOCKET_ID_ANY;
		pc.max_conns = opt.max_conns;
		pc.mode = REASM_POOL_SINGLE_WRITER;
		pc.ops = &kOps;
		pc.factory_ctx = &out;
		struct reasm_pool *pool = reasm_pool_create(&pc);
		if (pool == nullptr)
			return {std::string("{\"harness_error\":\"reasm_pool_create: ") +
				rte_strerror(rte_errno) + "\"}"};
		struct reasm_assembler_conf ac = {};
		ac.pool = pool;
		ac.page_pool = pages;
		ac.socket_id = SOCKET_ID_ANY;
		asm_ = reasm_assembler_create(&ac);
		if (asm_ == nullptr) {
			reasm_pool_free(pool);
			return {std::string("{\"harness_error\":\"reasm_assembler_create: ") +
				rte_strerror(rte_errno) + "\"}"};
		}

		std::vector<std::string> errors;
		const uint8_t *data;
		uint32_t len;
		uint64_t t;
		while (cap.next(&data, &len, &t)) {
			struct rte_mbuf *m = to_mbuf(data, len);
			if (m == nullptr) {
				send_burst(); /* give the mbufs of the pending burst back */
				m = to_mbuf(data, len);
			}
			if (m == nullptr) {
				errors.push_back("{\"harness_error\":\"no mbufs for a frame of " +
						 std::to_string(len) + " bytes\"}");
				break;
			}
			burst[n] = m;
			ts[n] = t;
			if (++n == kBurst)
				send_burst();
		}
		send_burst();
		reasm_flush_all(asm_);

		struct reasm_stats st;
		reasm_assembler_stats(asm_, &st);
		if (st.v[REASM_CTR_pages_alloc_failed] != 0)
			errors.push_back("{\"harness_error\":\"pages_alloc_failed " +
					 std::to_string(st.v[REASM_CTR_pages_alloc_failed]) + "\"}");
		if (st.v[REASM_CTR_table_full_pkts] != 0)
			errors.push_back("{\"harness_error\":\"table_full_pkts " +
					 std::to_string(st.v[REASM_CTR_table_full_pkts]) + "\"}");
		if (reasm_pool_count(pool) != 0)
			errors.push_back("{\"harness_error\":\"streams left open after flush_all\"}");
		if (opt.stats)
			print_stats(path);
		reasm_assembler_free(asm_);
		asm_ = nullptr;
		reasm_pool_free(pool);
		if (rte_mempool_avail_count(pages) != opt.pages)
			errors.push_back("{\"harness_error\":\"pages not returned: " +
					 std::to_string(opt.pages - rte_mempool_avail_count(pages)) +
					 "\"}");
		std::sort(out.begin(), out.end());
		out.insert(out.end(), errors.begin(), errors.end());
		return out;
	}
};

int usage()
{
	fprintf(stderr, "usage: pcap_replay [--pages N] [--max-conns N] [--stats] FILE...\n");
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	Replayer r;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--stats") == 0)
			r.opt.stats = true;
		else if (strcmp(argv[i], "--pages") == 0 && i + 1 < argc)
			r.opt.pages = (unsigned)strtoul(argv[++i], nullptr, 0);
		else if (strcmp(argv[i], "--max-conns") == 0 && i + 1 < argc)
			r.opt.max_conns = (uint32_t)strtoul(argv[++i], nullptr, 0);
		else
			return usage();
	}

	std::string prefix = "--file-prefix=reasm_replay_" + std::to_string(getpid());
	std::vector<std::string> args = {"pcap_replay", "--no-huge", "-m", "512", "--no-pci",
					 prefix, "-l", "0", "--log-level=error"};
	std::vector<char *> eal_argv;
	for (auto &a : args)
		eal_argv.push_back(&a[0]);
	if (rte_eal_init((int)eal_argv.size(), eal_argv.data()) < 0) {
		fprintf(stderr, "pcap_replay: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	int rc = 0;
	r.mbufs = rte_pktmbuf_pool_create("replay_mbufs", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  SOCKET_ID_ANY);
	/* No per-lcore cache, so the free count is exact after each file. */
	r.pages = reasm_page_pool_create("replay_pages", r.opt.pages, 0, SOCKET_ID_ANY);
	if (r.mbufs == nullptr || r.pages == nullptr) {
		fprintf(stderr, "pcap_replay: mempool of %s: %s\n",
			r.mbufs == nullptr ? "mbufs" : "pages", rte_strerror(rte_errno));
		rc = 1;
	} else {
		for (; i < argc; i++) {
			printf("# %s\n", argv[i]);
			for (const std::string &line : r.replay(argv[i]))
				printf("%s\n", line.c_str());
			printf("# end\n");
			fflush(stdout); /* a crash on a later file keeps this one's result */
		}
	}
	fflush(stdout);
	const std::string runtime_dir = rte_eal_get_runtime_dir(); /* left by EAL: removed */
	rte_mempool_free(r.pages);
	rte_mempool_free(r.mbufs);
	rte_eal_cleanup();
	std::error_code ec;
	std::filesystem::remove_all(runtime_dir, ec);
	return rc;
}
