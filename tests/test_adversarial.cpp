/* SPDX-License-Identifier: BSD-3-Clause
 * Adversarial traffic at library level (reasm_assemble_burst with Ethernet
 * frames, and reasm_assemble).
 *
 * Covers:
 * - SYN flood: 1,000,000 distinct SYNs (x REASM_ADV_SCALE) into a pool of
 *   max_conns 4096: table_full_pkts counts exactly the refused SYNs, the
 *   table holds exactly 4096 directions, DPDK heap use does not move during
 *   the flood, and streams established before it keep delivering exactly;
 *   SYNs with data on a full table: -ENOSPC, table_full_bytes exact;
 * - overlap storms: a range re-sent many times with the same and with
 *   different bytes, in order and out of order: the first copy wins (as in
 *   gopacket), overlap_bytes counts the rest, pages stay under
 *   max_pages_per_conn (also when the storm hits that limit); out of order,
 *   a later copy that starts lower wins the overlap (pages sort by seq);
 * - a 1-byte hole before every segment on 2,000 streams with
 *   max_pages_per_conn 4 and max_pages_total 1000: pages_in_use never above
 *   1000, every payload byte delivered, the skips add up to the holes and
 *   the skip counters explain them;
 * - page mempool exhaustion (64 pages, no limits): pages_alloc_failed and
 *   skipped_bytes_no_page count, nothing received is lost, every delivered
 *   byte sits at its stream offset, nothing waits once the holes are filled;
 *   a stream that gives up its own page delivers the segment that became
 *   in order in the same call;
 * - churn: one 4-tuple opened, fed and reset 10,000 times: one open and one
 *   complete per incarnation, every incarnation's bytes exact, heap flat;
 * - retransmission flood: every segment of 500 streams sent 10 times,
 *   interleaved: delivered bytes exact, overlap_bytes 9x the payload.
 * Every test ends with reasm_flush_all, the table empty, the page mempool
 * full and every payload byte accounted for.
 *
 * REASM_ADV_SCALE (environment, default 1) multiplies the SYN flood's count
 * (0.2 for a quick run).
 */
#include <gtest/gtest.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "frames.h"
#include "recorder.h"
#include "test_env.h"

using namespace reasm_test;

namespace {

double adv_scale()
{
	const char *s = getenv("REASM_ADV_SCALE");
	double v = s != nullptr ? atof(s) : 1.0;
	return v > 0 ? v : 1.0;
}

uint64_t ctr(const Rig &rig, unsigned c)
{
	struct reasm_stats st;
	reasm_assembler_stats(rig.asm_, &st);
	return st.v[c];
}

/* DPDK heap bytes allocated, summed over every socket. */
uint64_t heap_allocated()
{
	uint64_t sum = 0;
	for (int s = 0; s < RTE_MAX_NUMA_NODES; s++) {
		struct rte_malloc_socket_stats st;
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			sum += st.heap_allocsz_bytes;
	}
	return sum;
}

std::string key_of(const struct reasm_flow &f)
{
	return std::string(reinterpret_cast<const char *>(&f), sizeof(f));
}

/* Payload of n bytes, a function of (tag, offset). */
std::vector<uint8_t> pattern(uint32_t tag, size_t off, size_t n)
{
	std::vector<uint8_t> v(n);
	for (size_t i = 0; i < n; i++)
		v[i] = static_cast<uint8_t>((tag * 131u) ^ ((off + i) * 7u) ^ ((off + i) >> 8));
	return v;
}

/* IPv4 spec of stream number id (distinct source address and port). */
FrameSpec stream_spec(uint32_t id)
{
	FrameSpec s;
	s.src = {{10, static_cast<uint8_t>(id >> 16), static_cast<uint8_t>(id >> 8),
		  static_cast<uint8_t>(id)}};
	s.dst = {{192, 168, 0, 1}};
	s.sport = static_cast<uint16_t>(1024 + (id % 60000));
	s.dport = 80;
	return s;
}

/* Frames collected into bursts for reasm_assemble_burst. */
class Burst {
public:
	explicit Burst(Rig &r, unsigned size = 32) : rig(r), max(size) {}
	~Burst() { flush(); }

	void add(const FrameSpec &spec)
	{
		mbufs.push_back(to_mbuf(build_frame(spec)));
		if (mbufs.size() >= max)
			flush();
	}

	/* Assemble what is pending; returns the TCP segments assembled. */
	unsigned flush()
	{
		if (mbufs.empty())
			return 0;
		ts += 1000;
		unsigned n = reasm_assemble_burst(rig.asm_, mbufs.data(),
						  static_cast<uint16_t>(mbufs.size()), nullptr, ts);
		for (auto *m : mbufs)
			rte_pktmbuf_free(m);
		mbufs.clear();
		bursts++;
		return n;
	}

	Rig &rig;
	unsigned max;
	uint64_t ts = 1000000;
	uint64_t bursts = 0;
	std::vector<struct rte_mbuf *> mbufs;
};

int assemble(Rig &rig, const FrameSpec &spec, uint64_t ts)
{
	struct reasm_flow f = flow_of(spec);
	struct reasm_segment seg = segment_of(spec);
	return reasm_assemble(rig.asm_, &f, &seg, ts);
}

/* flush_all, then: table empty, pages all back, every byte accounted for. */
void finish(Rig &rig)
{
	reasm_flush_all(rig.asm_);
	EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
	EXPECT_EQ(reasm_assembler_pages_in_use(rig.asm_), 0u);
	EXPECT_TRUE(rig.pages_all_free()) << rig.pages_free() << " of " << rig.opt.n_pages;
	std::string why;
	EXPECT_TRUE(rig.bytes_conserved(&why)) << why;
	EXPECT_EQ(rig.rec.opened(), rig.rec.completed());
}

/* Logs by flow. */
std::map<std::string, StreamLog *> logs_by_flow(Rig &rig)
{
	std::map<std::string, StreamLog *> m;
	for (auto *l : rig.rec.streams())
		m[key_of(l->flow)] = l;
	return m;
}

/* Sum of positive skips of a log's records. */
int64_t skipped(const StreamLog *l)
{
	int64_t s = 0;
	for (auto &r : l->recs)
		if (r.skip > 0)
			s += r.skip;
	return s;
}

/*
 * Walk a stream's records from stream offset 0 (the byte after the SYN):
 * every record's bytes must be pattern(tag, pos, len) where pos advances by
 * the skips and lengths. Returns the offset reached (covered + skipped).
 */
uint64_t check_positions(const StreamLog *l, uint32_t tag, uint64_t *covered = nullptr)
{
	uint64_t pos = 0, cov = 0;
	for (auto &r : l->recs) {
		EXPECT_GE(r.skip, 0);
		if (r.skip > 0)
			pos += r.skip;
		if (!r.bytes.empty()) {
			EXPECT_EQ(r.bytes, pattern(tag, pos, r.bytes.size())) << "at offset " << pos;
			if (r.bytes != pattern(tag, pos, r.bytes.size()))
				return pos;
		}
		pos += r.bytes.size();
		cov += r.bytes.size();
	}
	if (covered != nullptr)
		*covered = cov;
	return pos;
}

} // namespace

/* ---------------- SYN flood ---------------- */

TEST(Adversarial, SynFloodTableFullHeapFlatEstablishedIntact)
{
	const uint32_t kMaxConns = 4096;
	const uint32_t kEstablished = 16;
	const uint64_t kSyns = static_cast<uint64_t>(1000000 * adv_scale());
	RigOptions o;
	o.max_conns = kMaxConns;
	Rig rig(o);
	Burst b(rig);

	/* Established streams: SYN and a first chunk, before the flood. */
	std::vector<std::vector<uint8_t>> sent(kEstablished);
	std::vector<uint32_t> next(kEstablished);
	for (uint32_t i = 0; i < kEstablished; i++) {
		FrameSpec s = stream_spec(0xF00000 + i);
		s.seq = 1000 * i;
		s.flags = REASM_TCP_SYN;
		b.add(s);
		s.flags = 0;
		s.seq = 1000 * i + 1;
		s.payload = pattern(i, 0, 100);
		sent[i] = s.payload;
		next[i] = s.seq + 100;
		b.add(s);
	}
	b.flush();
	ASSERT_EQ(reasm_pool_count(rig.pool), kEstablished);
	rig.rec.take();

	uint64_t heap_before = heap_allocated();
	uint64_t refused_before = ctr(rig, REASM_CTR_table_full_pkts);
	for (uint64_t n = 0; n < kSyns; n++) {
		FrameSpec s = stream_spec(static_cast<uint32_t>(n));
		s.seq = static_cast<uint32_t>(n * 7919);
		s.flags = REASM_TCP_SYN;
		b.add(s);
		/* The established streams keep talking during the flood. */
		if (n % 20000 == 0) {
			b.flush();
			for (uint32_t i = 0; i < kEstablished; i++) {
				FrameSpec d = stream_spec(0xF00000 + i);
				d.seq = next[i];
				d.payload = pattern(i, sent[i].size(), 50);
				sent[i].insert(sent[i].end(), d.payload.begin(), d.payload.end());
				next[i] += 50;
				b.add(d);
			}
			b.flush();
			rig.rec.take(); /* keep the recorder small */
		}
	}
	b.flush();
	uint64_t heap_after = heap_allocated();

	EXPECT_EQ(reasm_pool_count(rig.pool), kMaxConns);
	EXPECT_EQ(ctr(rig, REASM_CTR_table_full_pkts) - refused_before,
		  kSyns - (kMaxConns - kEstablished));
	EXPECT_EQ(ctr(rig, REASM_CTR_table_full_bytes), 0u);
	EXPECT_EQ(ctr(rig, REASM_CTR_conns_opened), kMaxConns);
	EXPECT_EQ(heap_after, heap_before) << "DPDK heap grew during the SYN flood";
	printf("syns %llu: refused %llu, table %u, heap %llu -> %llu bytes\n",
	       (unsigned long long)kSyns,
	       (unsigned long long)(ctr(rig, REASM_CTR_table_full_pkts) - refused_before),
	       reasm_pool_count(rig.pool), (unsigned long long)heap_before,
	       (unsigned long long)heap_after);

	/* After the flood the established streams still deliver exactly. */
	for (uint32_t i = 0; i < kEstablished; i++) {
		FrameSpec d = stream_spec(0xF00000 + i);
		d.seq = next[i];
		d.payload = pattern(i, sent[i].size(), 300);
		sent[i].insert(sent[i].end(), d.payload.begin(), d.payload.end());
		d.flags = REASM_TCP_FIN;
		b.add(d);
	}
	b.flush();
	auto logs = logs_by_flow(rig);
	for (uint32_t i = 0; i < kEstablished; i++) {
		StreamLog *l = logs[key_of(flow_of(stream_spec(0xF00000 + i)))];
		ASSERT_NE(l, nullptr) << "established stream " << i;
		EXPECT_EQ(concat(l->recs), sent[i]) << "established stream " << i;
		EXPECT_EQ(l->completes, 1);
		EXPECT_EQ(skipped(l), 0);
	}
	EXPECT_EQ(reasm_pool_count(rig.pool), kMaxConns - kEstablished);

	/* Fill the table again, then SYNs with data through reasm_assemble():
	 * refused with -ENOSPC, their bytes counted as table_full_bytes. */
	for (uint32_t i = 0; i < kEstablished; i++) {
		FrameSpec s = stream_spec(0xE00000 + i);
		s.flags = REASM_TCP_SYN;
		ASSERT_EQ(assemble(rig, s, 10), 0);
	}
	uint64_t full_bytes = ctr(rig, REASM_CTR_table_full_bytes);
	for (uint32_t i = 0; i < 1000; i++) {
		FrameSpec s = stream_spec(0xD00000 + i);
		s.flags = REASM_TCP_SYN;
		s.payload = pattern(i, 0, 1 + i % 64);
		ASSERT_EQ(assemble(rig, s, 11), -ENOSPC);
		full_bytes += s.payload.size();
	}
	EXPECT_EQ(ctr(rig, REASM_CTR_table_full_bytes), full_bytes);
	EXPECT_EQ(reasm_pool_count(rig.pool), kMaxConns);
	EXPECT_EQ(heap_allocated(), heap_before);
	finish(rig);

	/* Once flushed, the table takes new streams again. */
	FrameSpec s = stream_spec(0xD00000);
	s.flags = REASM_TCP_SYN;
	EXPECT_EQ(assemble(rig, s, 12), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 1u);
	finish(rig);
}

/* ---------------- overlap storms ---------------- */

/* In order: the range is delivered, then re-sent with the same and with
 * different bytes; every copy is old, trimmed, counted as overlap. */
TEST(Adversarial, OverlapStormInOrderFirstCopyWins)
{
	const int kCopies = 500;
	RigOptions o;
	o.max_pages_per_conn = 8;
	Rig rig(o);
	FrameSpec s = stream_spec(1);
	s.seq = 5000;
	s.flags = REASM_TCP_SYN;
	ASSERT_EQ(assemble(rig, s, 1), 0);
	s.flags = 0;
	s.seq = 5001;
	std::vector<uint8_t> first = pattern(1, 0, 1000);
	s.payload = first;
	ASSERT_EQ(assemble(rig, s, 2), 0);
	uint64_t resent = 0;
	Burst b(rig);
	for (int k = 0; k < kCopies; k++) {
		FrameSpec r = s;
		/* Same bytes on even copies, different on odd ones; some copies
		 * cover only part of the range. */
		r.payload = (k % 2 == 0) ? first : pattern(1000 + k, 0, 1000);
		if (k % 5 == 4) {
			r.seq = 5001 + 100;
			r.payload.resize(500);
		}
		resent += r.payload.size();
		b.add(r);
		if (k % 2)
			b.flush();
		ASSERT_LT(reasm_assembler_pages_in_use(rig.asm_), o.max_pages_per_conn);
	}
	b.flush();
	/* Then new data after the range is still accepted. */
	FrameSpec tail = s;
	tail.seq = 5001 + 1000;
	tail.payload = pattern(2, 1000, 200);
	tail.flags = REASM_TCP_FIN;
	b.add(tail);
	b.flush();
	std::vector<uint8_t> want = first;
	want.insert(want.end(), tail.payload.begin(), tail.payload.end());
	auto streams = rig.rec.streams();
	ASSERT_EQ(streams.size(), 1u);
	EXPECT_EQ(concat(streams[0]->recs), want);
	EXPECT_EQ(ctr(rig, REASM_CTR_overlap_bytes), resent);
	EXPECT_EQ(ctr(rig, REASM_CTR_delivered_bytes), want.size());
	EXPECT_EQ(streams[0]->completes, 1);
	finish(rig);
}

/* Out of order, under the page limit: every copy is buffered (one page
 * each, as in gopacket), the first copy sorts first and wins when the hole
 * is filled, the others are trimmed as overlap. */
TEST(Adversarial, OverlapStormOutOfOrderFirstCopyWins)
{
	const uint32_t kLimit = 16;
	const int kCopies = 12; /* + the first: 13 pages < kLimit */
	RigOptions o;
	o.max_pages_per_conn = kLimit;
	Rig rig(o);
	FrameSpec s = stream_spec(2);
	s.seq = 100;
	s.flags = REASM_TCP_SYN;
	ASSERT_EQ(assemble(rig, s, 1), 0);
	s.flags = 0;
	std::vector<uint8_t> hole = pattern(3, 0, 300);
	std::vector<uint8_t> first = pattern(4, 300, 700);
	FrameSpec r = s;
	r.seq = 101 + 300;
	r.payload = first;
	ASSERT_EQ(assemble(rig, r, 2), 0);
	uint64_t resent = 0;
	for (int k = 0; k < kCopies; k++) {
		r.payload = (k % 2 == 0) ? first : pattern(2000 + k, 300, 700);
		resent += r.payload.size();
		ASSERT_EQ(assemble(rig, r, 3 + k), 0);
		EXPECT_LT(reasm_assembler_pages_in_use(rig.asm_), kLimit);
	}
	EXPECT_EQ(rig.rec.take().size(), 1u); /* only the SYN's record */
	FrameSpec h = s;
	h.seq = 101;
	h.payload = hole;
	ASSERT_EQ(assemble(rig, h, 100), 0);
	std::vector<uint8_t> want = hole;
	want.insert(want.end(), first.begin(), first.end());
	auto streams = rig.rec.streams();
	ASSERT_EQ(streams.size(), 1u);
	EXPECT_EQ(concat(streams[0]->recs), want);
	EXPECT_EQ(skipped(streams[0]), 0);
	EXPECT_EQ(ctr(rig, REASM_CTR_overlap_bytes), resent);
	EXPECT_EQ(reasm_assembler_pages_in_use(rig.asm_), 0u);
	finish(rig);
}

/* Out of order and partly overlapping: buffered pages are ordered by
 * sequence number (ties by arrival), so a later copy that starts lower wins
 * the overlap; the earlier one is trimmed (gopacket's traverseConn). */
TEST(Adversarial, OverlapOutOfOrderLowerStartWins)
{
	Rig rig;
	FrameSpec s = stream_spec(4);
	s.seq = 0;
	s.flags = REASM_TCP_SYN;
	ASSERT_EQ(assemble(rig, s, 1), 0);
	s.flags = 0;
	FrameSpec a = s, b = s, h = s;
	a.seq = 201;
	a.payload = pattern(10, 200, 100);
	b.seq = 151;
	b.payload = pattern(11, 150, 100);
	h.seq = 1;
	h.payload = pattern(12, 0, 150);
	ASSERT_EQ(assemble(rig, a, 2), 0);
	ASSERT_EQ(assemble(rig, b, 3), 0);
	ASSERT_EQ(assemble(rig, h, 4), 0);
	std::vector<uint8_t> want = h.payload;
	want.insert(want.end(), b.payload.begin(), b.payload.end());
	want.insert(want.end(), a.payload.begin() + 50, a.payload.end());
	auto streams = rig.rec.streams();
	ASSERT_EQ(streams.size(), 1u);
	EXPECT_EQ(concat(streams[0]->recs), want) << describe(streams[0]->recs);
	EXPECT_EQ(ctr(rig, REASM_CTR_overlap_bytes), 50u);
	finish(rig);
}

/* Out of order, past the page limit: the limit releases the first copy
 * (skipping the hole) and the later copies are trimmed; pages never reach
 * the limit. */
TEST(Adversarial, OverlapStormOutOfOrderAtPageLimit)
{
	const uint32_t kLimit = 4;
	const int kCopies = 1000;
	RigOptions o;
	o.max_pages_per_conn = kLimit;
	Rig rig(o);
	FrameSpec s = stream_spec(3);
	s.seq = 0xFFFFFF00u; /* wraps during the stream */
	s.flags = REASM_TCP_SYN;
	ASSERT_EQ(assemble(rig, s, 1), 0);
	s.flags = 0;
	std::vector<uint8_t> first = pattern(5, 0, 1000);
	FrameSpec r = s;
	r.seq = reasm_seq_add(s.seq, 1 + 50);
	Burst b(rig, 16);
	for (int k = 0; k < kCopies; k++) {
		r.payload = (k % 3 == 0) ? first : pattern(3000 + k, 0, 1000);
		if (k == 0)
			r.payload = first;
		b.add(r);
		if (k % 4 == 3) {
			b.flush();
			ASSERT_LT(reasm_assembler_pages_in_use(rig.asm_), kLimit);
		}
	}
	b.flush();
	auto streams = rig.rec.streams();
	ASSERT_EQ(streams.size(), 1u);
	EXPECT_EQ(concat(streams[0]->recs), first);
	EXPECT_EQ(skipped(streams[0]), 50);
	EXPECT_EQ(ctr(rig, REASM_CTR_skipped_bytes_page_limit), 50u);
	EXPECT_EQ(ctr(rig, REASM_CTR_overlap_bytes), 1000u * (kCopies - 1));
	finish(rig);
}

/* ---------------- holes under page limits ---------------- */

TEST(Adversarial, OneByteHolesPageLimitsHold)
{
	const uint32_t kConns = 2000;
	const uint32_t kSegs = 8;
	const uint32_t kLen = 10;
	RigOptions o;
	o.max_conns = 4096;
	o.max_pages_per_conn = 4;
	o.max_pages_total = 1000;
	o.n_pages = 4096;
	Rig rig(o);
	Burst b(rig);
	for (uint32_t c = 0; c < kConns; c++) {
		FrameSpec s = stream_spec(c);
		s.seq = c * 100003u;
		s.flags = REASM_TCP_SYN;
		b.add(s);
	}
	b.flush();
	uint32_t max_seen = 0;
	/* Streams one after the other: the first ones reach max_pages_per_conn,
	 * then the assembler reaches max_pages_total. */
	for (uint32_t c = 0; c < kConns; c++) {
		for (uint32_t k = 0; k < kSegs; k++) {
			FrameSpec s = stream_spec(c);
			/* hole of 1 byte before every segment */
			s.seq = c * 100003u + 1 + (k + 1) + k * kLen;
			s.payload = pattern(c, k * kLen, kLen);
			b.add(s);
			if (b.mbufs.empty()) {
				uint32_t used = reasm_assembler_pages_in_use(rig.asm_);
				max_seen = std::max(max_seen, used);
				ASSERT_LE(used, o.max_pages_total);
			}
		}
	}
	b.flush();
	ASSERT_LE(reasm_assembler_pages_in_use(rig.asm_), o.max_pages_total);
	uint64_t limit_skips = ctr(rig, REASM_CTR_skipped_bytes_page_limit) +
			       ctr(rig, REASM_CTR_skipped_bytes_total_limit);
	EXPECT_GT(ctr(rig, REASM_CTR_skipped_bytes_page_limit), 0u);
	EXPECT_GT(ctr(rig, REASM_CTR_skipped_bytes_total_limit), 0u);
	reasm_flush_all(rig.asm_);
	const uint64_t holes = uint64_t(kConns) * kSegs;
	EXPECT_EQ(limit_skips + ctr(rig, REASM_CTR_skipped_bytes_flush_all), holes);
	EXPECT_EQ(ctr(rig, REASM_CTR_delivered_bytes), uint64_t(kConns) * kSegs * kLen);
	EXPECT_EQ(ctr(rig, REASM_CTR_pages_alloc_failed), 0u);
	auto logs = logs_by_flow(rig);
	ASSERT_EQ(logs.size(), kConns);
	for (uint32_t c = 0; c < kConns; c++) {
		StreamLog *l = logs[key_of(flow_of(stream_spec(c)))];
		ASSERT_NE(l, nullptr);
		ASSERT_EQ(concat(l->recs), pattern(c, 0, kSegs * kLen)) << "stream " << c;
		ASSERT_EQ(skipped(l), kSegs) << "stream " << c;
		/* stream offsets: segment k starts at k * (kLen + 1) + 1 */
		uint64_t pos = 0;
		for (auto &r : l->recs) {
			pos += r.skip > 0 ? r.skip : 0;
			if (!r.bytes.empty()) {
				ASSERT_EQ((pos - 1) % (kLen + 1), 0u) << "stream " << c << " at " << pos;
			}
			pos += r.bytes.size();
		}
		ASSERT_EQ(pos, uint64_t(kSegs) * (kLen + 1));
		ASSERT_EQ(l->completes, 1);
	}
	RecordProperty("max_pages_in_use", std::to_string(max_seen));
	printf("holes %llu: page_limit %llu total_limit %llu flush_all %llu, max pages %u\n",
	       (unsigned long long)holes,
	       (unsigned long long)ctr(rig, REASM_CTR_skipped_bytes_page_limit),
	       (unsigned long long)ctr(rig, REASM_CTR_skipped_bytes_total_limit),
	       (unsigned long long)ctr(rig, REASM_CTR_skipped_bytes_flush_all), max_seen);
	finish(rig);
}

/* ---------------- page mempool exhaustion ---------------- */

TEST(Adversarial, PageMempoolExhaustion)
{
	const uint32_t kConns = 200;
	const uint32_t kSegs = 6;
	const uint32_t kLen = 100;
	RigOptions o;
	o.n_pages = 64;
	Rig rig(o);
	Burst b(rig);
	for (uint32_t c = 0; c < kConns; c++) {
		FrameSpec s = stream_spec(c);
		s.seq = c * 7777u;
		s.flags = REASM_TCP_SYN;
		b.add(s);
	}
	b.flush();
	/* Each stream misses its first segment: all the rest is out of order. */
	for (uint32_t k = 1; k < kSegs; k++)
		for (uint32_t c = 0; c < kConns; c++) {
			FrameSpec s = stream_spec(c);
			s.seq = c * 7777u + 1 + k * kLen;
			s.payload = pattern(c, k * kLen, kLen);
			b.add(s);
		}
	b.flush();
	EXPECT_LE(reasm_assembler_pages_in_use(rig.asm_), 64u);
	EXPECT_GT(ctr(rig, REASM_CTR_pages_alloc_failed), 0u);
	EXPECT_GT(ctr(rig, REASM_CTR_skipped_bytes_no_page), 0u);
	printf("pages_alloc_failed %llu, skipped_bytes_no_page %llu, pages in use %u\n",
	       (unsigned long long)ctr(rig, REASM_CTR_pages_alloc_failed),
	       (unsigned long long)ctr(rig, REASM_CTR_skipped_bytes_no_page),
	       reasm_assembler_pages_in_use(rig.asm_));
	std::string why;
	EXPECT_TRUE(rig.bytes_conserved(&why)) << why;
	/* The holes get filled: everything still works. */
	for (uint32_t c = 0; c < kConns; c++) {
		FrameSpec s = stream_spec(c);
		s.seq = c * 7777u + 1;
		s.payload = pattern(c, 0, kLen);
		b.add(s);
	}
	b.flush();
	EXPECT_EQ(ctr(rig, REASM_CTR_payload_bytes), uint64_t(kConns) * kSegs * kLen);
	/* Every stream is now complete up to its last byte: nothing may wait. */
	EXPECT_EQ(ctr(rig, REASM_CTR_buffered_bytes), 0u);
	EXPECT_EQ(reasm_assembler_pages_in_use(rig.asm_), 0u);
	auto logs = logs_by_flow(rig);
	unsigned short_streams = 0;
	for (uint32_t c = 0; c < kConns; c++) {
		StreamLog *l = logs[key_of(flow_of(stream_spec(c)))];
		ASSERT_NE(l, nullptr);
		if (check_positions(l, c) != kSegs * kLen)
			short_streams++;
	}
	EXPECT_EQ(short_streams, 0u) << "streams not delivered up to their last byte before flush";
	finish(rig);
	for (uint32_t c = 0; c < kConns; c++)
		EXPECT_EQ(check_positions(logs[key_of(flow_of(stream_spec(c)))], c), kSegs * kLen);
	EXPECT_EQ(rig.rec.opened(), kConns);
}

/* The mempool is empty and a stream holding a page gets another
 * out-of-order segment: it gives up its hole, delivers its own page, and the
 * segment (now next in order) is delivered in the same call, not buffered. */
TEST(Adversarial, PageMempoolEmptySegmentBecomesInOrder)
{
	RigOptions o;
	o.n_pages = 2;
	Rig rig(o);
	for (uint32_t c = 0; c < 2; c++) {
		FrameSpec s = stream_spec(c);
		s.seq = 1000;
		s.flags = REASM_TCP_SYN;
		ASSERT_EQ(assemble(rig, s, 1), 0);
		s.flags = 0;
		s.seq = 1001 + 100;
		s.payload = pattern(c, 100, 100);
		ASSERT_EQ(assemble(rig, s, 2), 0);
	}
	ASSERT_EQ(reasm_assembler_pages_in_use(rig.asm_), 2u);
	rig.rec.take();
	FrameSpec s = stream_spec(0);
	s.seq = 1001 + 200;
	s.payload = pattern(0, 200, 100);
	ASSERT_EQ(assemble(rig, s, 3), 0);
	std::vector<Rec> got = rig.rec.take();
	EXPECT_EQ(concat(got), pattern(0, 100, 200)) << describe(got);
	ASSERT_FALSE(got.empty());
	EXPECT_EQ(got[0].skip, 100);
	EXPECT_EQ(got[0].cause, REASM_SKIP_NO_PAGE);
	EXPECT_EQ(reasm_assembler_pages_in_use(rig.asm_), 1u);
	EXPECT_EQ(ctr(rig, REASM_CTR_buffered_bytes), 100u);
	EXPECT_EQ(ctr(rig, REASM_CTR_skipped_bytes_no_page), 100u);
	EXPECT_GE(ctr(rig, REASM_CTR_pages_alloc_failed), 1u);
	finish(rig);
}

/* ---------------- churn ---------------- */

TEST(Adversarial, ChurnSameFourTuple)
{
	const uint32_t kRounds = 10000;
	Rig rig;
	FrameSpec base = stream_spec(77);
	uint64_t ts = 1;
	uint64_t heap_before = 0;
	for (uint32_t i = 0; i < kRounds; i++) {
		if (i == 1)
			heap_before = heap_allocated();
		FrameSpec s = base;
		s.seq = i * 2654435761u;
		s.flags = REASM_TCP_SYN;
		ASSERT_EQ(assemble(rig, s, ts++), 0);
		s.flags = 0;
		s.seq += 1;
		s.payload = pattern(i, 0, 20 + i % 50);
		uint32_t len = static_cast<uint32_t>(s.payload.size());
		ASSERT_EQ(assemble(rig, s, ts++), 0);
		s.seq += len;
		s.payload.clear();
		s.flags = REASM_TCP_RST;
		ASSERT_EQ(assemble(rig, s, ts++), 0);
		ASSERT_EQ(reasm_pool_count(rig.pool), 0u) << "round " << i;
		rig.rec.take();
	}
	EXPECT_EQ(heap_allocated(), heap_before) << "DPDK heap grew during churn";
	auto streams = rig.rec.streams();
	ASSERT_EQ(streams.size(), kRounds);
	for (uint32_t i = 0; i < kRounds; i++) {
		ASSERT_EQ(streams[i]->completes, 1) << "round " << i;
		ASSERT_EQ(concat(streams[i]->recs), pattern(i, 0, 20 + i % 50)) << "round " << i;
		ASSERT_TRUE(streams[i]->recs.front().start);
		ASSERT_TRUE(streams[i]->recs.back().end);
	}
	EXPECT_EQ(ctr(rig, REASM_CTR_conns_opened), kRounds);
	EXPECT_EQ(ctr(rig, REASM_CTR_conns_closed_fin), kRounds);
	finish(rig);
}

/* ---------------- retransmission flood ---------------- */

TEST(Adversarial, RetransmissionFlood)
{
	const uint32_t kConns = 500;
	const uint32_t kSegs = 8;
	const uint32_t kLen = 100;
	const int kCopies = 10;
	RigOptions o;
	o.max_pages_per_conn = 4;
	Rig rig(o);
	Burst b(rig);
	for (uint32_t c = 0; c < kConns; c++) {
		FrameSpec s = stream_spec(c);
		s.seq = c * 31337u;
		s.flags = REASM_TCP_SYN;
		b.add(s);
	}
	for (uint32_t k = 0; k < kSegs; k++)
		for (int r = 0; r < kCopies; r++)
			for (uint32_t c = 0; c < kConns; c++) {
				FrameSpec s = stream_spec(c);
				s.seq = c * 31337u + 1 + k * kLen;
				s.payload = pattern(c, k * kLen, kLen);
				b.add(s);
			}
	b.flush();
	const uint64_t payload = uint64_t(kConns) * kSegs * kLen;
	EXPECT_EQ(ctr(rig, REASM_CTR_payload_bytes), payload * kCopies);
	EXPECT_EQ(ctr(rig, REASM_CTR_delivered_bytes), payload);
	EXPECT_EQ(ctr(rig, REASM_CTR_overlap_bytes), payload * (kCopies - 1));
	EXPECT_EQ(ctr(rig, REASM_CTR_pages_in_use), 0u);
	auto logs = logs_by_flow(rig);
	ASSERT_EQ(logs.size(), kConns);
	for (uint32_t c = 0; c < kConns; c++) {
		StreamLog *l = logs[key_of(flow_of(stream_spec(c)))];
		ASSERT_NE(l, nullptr);
		ASSERT_EQ(concat(l->recs), pattern(c, 0, kSegs * kLen)) << "stream " << c;
		ASSERT_EQ(skipped(l), 0);
	}
	finish(rig);
}
