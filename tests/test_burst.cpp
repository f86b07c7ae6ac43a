/* SPDX-License-Identifier: BSD-3-Clause
 * The burst path (lib/reasm/reasm_burst.c): reasm_assemble_burst()'s chunk
 * loop, the gathering of chained mbufs, bulk lookups, per-packet timestamps
 * and mbuf ownership. Frames come from tests/common/frame_cases.h, shared
 * with the parser's suite (test_parse.cpp).
 *
 * Covers:
 * - multi-segment mbufs: payload spanning segments (zero-copy and buffered
 *   paths), headers split at every byte and in 1- and 3-byte segments;
 * - bursts give what reasm_assemble() gives one by one: several packets of
 *   one new connection in a burst, a FIN/RST closing a stream and the same
 *   4-tuple reopening in the same burst, a freed slot reused in a burst,
 *   table-full inside a burst, bursts larger than 64 with junk mixed in;
 * - per-packet timestamps vs NULL + now_ns; mbufs left unmodified; n == 0;
 * - reasm_pool_open_encap(): open() learns the opening frame's encapsulation.
 * Every case ends with reasm_flush_all(), the page mempool full, no stream
 * open, and every test mbuf back in its pool.
 */
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "encap.h"
#include "frame_cases.h"

using namespace reasm_test;

namespace {

class Burst : public FrameTest {};

/* ------------------------------------------------------------------ */
/* Multi-segment mbufs                                                 */
/* ------------------------------------------------------------------ */

TEST_F(Burst, PayloadSpanningSegmentsIsDeliveredWhole)
{
	Rig rig;
	uint16_t sport = 1;
	for (int fam : {4, 6}) {
		FrameSpec s = fam == 4 ? v4(3000, sport++) : v6(3000, sport++);
		s.vlans = {3};
		Bytes f = frame_of(s);
		const size_t hdr = frame_layout(s).payload;
		SCOPED_TRACE("family " + std::to_string(fam));
		check_one(rig, to_mbuf_chain(f, hdr + 7, 500), s, assembled(s.payload));
		s.sport = sport++;
		f = frame_of(s);
		check_one(rig, exact_chain(f, split(f.size(), hdr, 1000)), s, assembled(s.payload));
		s.sport = sport++;
		f = frame_of(s);
		check_one(rig, exact_chain(f, split(f.size(), hdr + 1, 1)), s,
			  assembled(s.payload));
	}
	finish(rig);
}

/* A sequence of frames of one flow, as chains into a and one by one into b. */
struct Step {
	FrameSpec spec;
	size_t first, seg;
};

TEST_F(Burst, ChainedOutOfOrderPayloadGoesIntoPagesLikeContiguous)
{
	/* Out-of-order chained payload is copied into pages exactly as reasm_assemble() would. */
	Rig a, b;
	FrameSpec s = v4(0);
	s.flags = 0;
	std::vector<Step> steps;
	s.seq = 1001;
	s.payload = pattern(4000, 3);
	steps.push_back({s, 100, 333});
	s.seq = 6001;
	s.payload = pattern(2500, 4);
	steps.push_back({s, frame_layout(s).payload, 1900});
	s.seq = 5001;
	s.payload = pattern(1000, 5);
	steps.push_back({s, 30, 7});
	s.seq = 1000;
	s.flags = REASM_TCP_SYN;
	s.payload = {};
	steps.push_back({s, 54, 54});
	for (const Step &st : steps) {
		Bytes f = frame_of(st.spec);
		EXPECT_EQ(burst(a, {exact_chain(f, split(f.size(), st.first, st.seg))}), 1u);
		struct reasm_flow flow = flow_of(st.spec);
		struct reasm_segment seg = segment_of(st.spec);
		ASSERT_EQ(reasm_assemble(b.asm_, &flow, &seg, kNow), 0);
		std::vector<Rec> ra = a.rec.take(), rb = b.rec.take();
		EXPECT_TRUE(same_recs(ra, rb)) << "burst:  " << describe(ra)
					       << "\nsingle: " << describe(rb);
	}
	EXPECT_EQ(reasm_assembler_pages_in_use(a.asm_), 0u);
	finish(a);
	finish(b);
}

std::vector<Shape> split_shapes()
{
	std::vector<Shape> out;
	FrameSpec s = v4(40);
	s.vlans = {1, 2};
	s.qinq = true;
	s.ipv4_options_len = 8;
	s.tcp_options_len = 12;
	out.push_back({"ipv4 QinQ options", s, 0});
	s = v6(40);
	s.vlans = {1};
	s.ipv6_ext = {0, 43, 60, 51, 60};
	s.tcp_options_len = 8;
	out.push_back({"ipv6 802.1Q hop-by-hop routing dest AH", s, kPastAny});
	s = v6(40);
	s.ipv6_ext = {60};
	out.push_back({"ipv6 dest", s, 0});
	return out;
}

TEST_F(Burst, HeadersSplitAtEveryByteParseAsWhole)
{
	/* A NIC that scatters the headers of a frame must not change its parse. */
	Rig rig;
	uint16_t sport = 1;
	for (const Shape &sh : split_shapes()) {
		const size_t len = frame_of(sh.spec).size();
		const int before = failures();
		for (size_t first = 1; first < len && failures() == before; first++) {
			SCOPED_TRACE(sh.name + ", first segment " + std::to_string(first));
			FrameSpec s = with_sport(sh.spec, sport++);
			check_one(rig, exact_chain(frame_of(s), {first, len - first}), s,
				  assembled(s.payload, sh.past_frame));
		}
		for (size_t seg : {1, 3}) {
			SCOPED_TRACE(sh.name + ", segments of " + std::to_string(seg));
			FrameSpec s = with_sport(sh.spec, sport++);
			check_one(rig, exact_chain(frame_of(s), split(len, seg, seg)), s,
				  assembled(s.payload, sh.past_frame));
			s.sport = sport++;
			check_one(rig, to_mbuf_chain(frame_of(s), seg, seg), s,
				  assembled(s.payload, sh.past_frame));
		}
	}
	finish(rig);
}

/* ------------------------------------------------------------------ */
/* Bursts vs one segment at a time                                     */
/* ------------------------------------------------------------------ */

/* A frame for the burst side and, if it is TCP, its segment for the other. */
struct Packet {
	Bytes frame;
	bool tcp = false;
	FrameSpec spec;
	uint64_t ts = 0;
};

Packet tcp_pkt(const FrameSpec &s, uint64_t ts = kNow)
{
	Packet p;
	p.frame = frame_of(s);
	p.tcp = true;
	p.spec = s;
	p.ts = ts;
	return p;
}

Packet junk_pkt(const Bytes &f, uint64_t ts = kNow)
{
	Packet p;
	p.frame = f;
	p.ts = ts;
	return p;
}

FrameSpec seg(FrameSpec s, uint32_t seq, const Bytes &payload, uint8_t flags = 0)
{
	s.seq = seq;
	s.payload = payload;
	s.flags = flags;
	return s;
}

/* pkts into a's burst entry point, burst_size at a time; into b one by one. */
void feed_both(Rig &a, Rig &b, const std::vector<Packet> &pkts, size_t burst_size,
	       bool per_packet_ts = true)
{
	for (size_t i = 0; i < pkts.size(); i += burst_size) {
		const size_t n = std::min(burst_size, pkts.size() - i);
		std::vector<struct rte_mbuf *> ms;
		std::vector<uint64_t> ts;
		unsigned tcp = 0;
		for (size_t j = i; j < i + n; j++) {
			ms.push_back(to_mbuf(pkts[j].frame));
			ts.push_back(pkts[j].ts);
			tcp += pkts[j].tcp;
		}
		EXPECT_EQ(burst(a, ms, per_packet_ts ? ts.data() : nullptr, kNow), tcp);
		for (size_t j = i; j < i + n; j++) {
			if (!pkts[j].tcp)
				continue;
			struct reasm_flow flow = flow_of(pkts[j].spec);
			struct reasm_segment sg = segment_of(pkts[j].spec);
			reasm_assemble(b.asm_, &flow, &sg, per_packet_ts ? pkts[j].ts : kNow);
		}
	}
}

/* Same streams in the same open order, same records, same completions, same counters. */
void expect_same(Rig &a, Rig &b)
{
	const std::vector<StreamLog *> sa = a.rec.streams(), sb = b.rec.streams();
	ASSERT_EQ(sa.size(), sb.size()) << "streams opened";
	for (size_t i = 0; i < sa.size(); i++) {
		SCOPED_TRACE("stream " + std::to_string(i) + " " + flow_str(sb[i]->flow));
		EXPECT_EQ(memcmp(&sa[i]->flow, &sb[i]->flow, sizeof(sa[i]->flow)), 0)
			<< flow_str(sa[i]->flow);
		EXPECT_TRUE(same_recs(sa[i]->recs, sb[i]->recs))
			<< "burst:  " << describe(sa[i]->recs) << "\nsingle: " << describe(sb[i]->recs);
		EXPECT_EQ(sa[i]->completes, sb[i]->completes);
	}
	const Stats x = stats(a), y = stats(b);
	for (unsigned c = REASM_CTR_segs; c < REASM_CTR_MAX; c++)
		EXPECT_EQ(x[c], y[c]) << reasm_counter_name(c);
}

/* Both sides flushed: still the same, and nothing left behind. */
void finish_both(Rig &a, Rig &b)
{
	EXPECT_EQ(reasm_flush_all(a.asm_), reasm_flush_all(b.asm_));
	expect_same(a, b);
	finish(a);
	finish(b);
}

TEST_F(Burst, OneNewConnectionSeveralTimesInABurst)
{
	/* The bulk lookup misses for every packet of A: the first creates it,
	 * the others must find it rather than open it again. */
	Rig a, b;
	const FrameSpec A = v4(0, 1111), B = v6(0, 2222);
	const std::vector<Packet> pkts = {
		tcp_pkt(seg(A, 1000, {'a', 'b', 'c'}, REASM_TCP_SYN), 10),
		tcp_pkt(seg(A, 1004, {'d', 'e', 'f', 'g'}), 11),
		tcp_pkt(seg(B, 7000, {'z', 'z'}, REASM_TCP_SYN), 12),
		tcp_pkt(seg(A, 1012, {'x', 'y', 'z'}), 13),
		tcp_pkt(seg(A, 1008, {'h', 'i', 'j', 'k'}), 14),
		tcp_pkt(seg(B, 7003, {'y', 'y'}), 15),
		tcp_pkt(seg(A, 1015, {}, REASM_TCP_FIN), 16),
	};
	feed_both(a, b, pkts, pkts.size());
	expect_same(a, b);
	const std::vector<StreamLog *> st = a.rec.streams();
	ASSERT_EQ(st.size(), 2u);
	const std::string want = "abcdefghijkxyz";
	EXPECT_EQ(concat(st[0]->recs), Bytes(want.begin(), want.end()));
	EXPECT_EQ(st[0]->completes, 1);
	EXPECT_EQ(concat(st[1]->recs), Bytes({'z', 'z', 'y', 'y'}));
	finish_both(a, b);
}

TEST_F(Burst, OneNewConnectionWithoutSynSeveralTimesInABurst)
{
	Rig a, b;
	const FrameSpec C = v6(0, 3333);
	std::vector<Packet> pkts;
	for (uint32_t i = 0; i < 6; i++)
		pkts.push_back(tcp_pkt(seg(C, 2000 + 10 * (5 - i), pattern(10, i)), 100 + i));
	feed_both(a, b, pkts, pkts.size());
	expect_same(a, b);
	EXPECT_EQ(a.rec.opened(), 1u);
	EXPECT_EQ(reasm_assembler_pages_in_use(a.asm_), 6u);
	finish_both(a, b);
	ASSERT_EQ(a.rec.streams().size(), 1u);
	EXPECT_EQ(a.rec.streams()[0]->recs.at(0).skip, -1);
}

TEST_F(Burst, CloseAndReopenOfOneTupleInABurst)
{
	const FrameSpec A = v4(0, 1111);
	struct Case {
		const char *name;
		std::vector<Packet> pkts;
	};
	const Case cases[] = {
		{"FIN, then a new SYN",
		 {tcp_pkt(seg(A, 1000, {1, 2}, REASM_TCP_SYN), 1),
		  tcp_pkt(seg(A, 1003, {3, 4}, REASM_TCP_FIN), 2),
		  tcp_pkt(seg(A, 5000, {5, 6}, REASM_TCP_SYN), 3), tcp_pkt(seg(A, 5003, {7}), 4),
		  tcp_pkt(seg(A, 5004, {}, REASM_TCP_FIN), 5)}},
		{"RST, then a new SYN",
		 {tcp_pkt(seg(A, 1000, {1, 2}, REASM_TCP_SYN), 1),
		  tcp_pkt(seg(A, 1003, {}, REASM_TCP_RST), 2),
		  tcp_pkt(seg(A, 9000, {5, 6}, REASM_TCP_SYN), 3)}},
		{"FIN buffered, the hole filled, then data without SYN",
		 {tcp_pkt(seg(A, 1000, {1, 2}, REASM_TCP_SYN), 1),
		  tcp_pkt(seg(A, 1005, {5, 6}, REASM_TCP_FIN), 2), tcp_pkt(seg(A, 1003, {3, 4}), 3),
		  tcp_pkt(seg(A, 1007, {7, 8}), 4), tcp_pkt(seg(A, 1009, {9}), 5)}},
		{"FIN then a retransmitted FIN",
		 {tcp_pkt(seg(A, 1000, {1, 2}, REASM_TCP_SYN), 1),
		  tcp_pkt(seg(A, 1003, {}, REASM_TCP_FIN), 2),
		  tcp_pkt(seg(A, 1003, {}, REASM_TCP_FIN), 3)}},
	};
	for (const Case &c : cases) {
		SCOPED_TRACE(c.name);
		Rig a, b;
		feed_both(a, b, c.pkts, c.pkts.size());
		expect_same(a, b);
		EXPECT_GE(a.rec.opened(), 1u);
		EXPECT_GE(a.rec.completed(), 1u);
		finish_both(a, b);
	}
}

TEST_F(Burst, FreedSlotReusedInsideABurst)
{
	/*
	 * A is open before the burst, so its bulk lookup hits. Inside the burst
	 * A closes and C may take its table slot; A's later packet must open a
	 * new A (or be refused when the table is full), never feed C.
	 */
	for (uint32_t max_conns : {8u, 1024u}) {
		SCOPED_TRACE("max_conns " + std::to_string(max_conns));
		RigOptions opt;
		opt.max_conns = max_conns;
		Rig a(opt), b(opt);
		const FrameSpec A = v4(0, 1111), C = v4(0, 3333);
		std::vector<Packet> before;
		before.push_back(tcp_pkt(seg(A, 1000, {'x'}, REASM_TCP_SYN), 1));
		for (uint16_t i = 0; i < 7; i++) /* fill a table of 8 */
			before.push_back(tcp_pkt(seg(v6(0, (uint16_t)(100 + i)), 1, {1}, REASM_TCP_SYN), 1));
		feed_both(a, b, before, before.size());
		const std::vector<Packet> pkts = {
			tcp_pkt(seg(A, 1002, {}, REASM_TCP_FIN), 2),
			tcp_pkt(seg(C, 9000, {'c', 'c'}, REASM_TCP_SYN), 3),
			tcp_pkt(seg(A, 1002, {'l', 'a', 't', 'e'}), 4),
			tcp_pkt(seg(C, 9003, {'d', 'd'}), 5),
			tcp_pkt(seg(A, 999, {'o', 'l', 'd'}), 6),
		};
		feed_both(a, b, pkts, pkts.size());
		expect_same(a, b);
		for (StreamLog *l : a.rec.streams()) {
			struct reasm_flow cf = flow_of(C);
			if (memcmp(&l->flow, &cf, sizeof(cf)) == 0) {
				EXPECT_EQ(concat(l->recs), Bytes({'c', 'c', 'd', 'd'}));
			}
		}
		finish_both(a, b);
	}
}

/* Many flows, interleaved, with reordering, closes, reopens and junk. */
std::vector<Packet> traffic(unsigned seed, unsigned n_flows)
{
	std::mt19937 rng(seed);
	const std::vector<DropCase> junk = drop_cases();
	std::vector<std::vector<Packet>> per_flow(n_flows);
	uint64_t ts = 1;
	for (unsigned f = 0; f < n_flows; f++) {
		FrameSpec s = f % 2 ? v6(0, (uint16_t)(10000 + f)) : v4(0, (uint16_t)(10000 + f));
		s.vlans.assign(f % 3, 7);
		if (f % 5 == 0)
			s.ipv6_ext = {60};
		if (s.family == 4)
			s.ipv6_ext.clear();
		for (int conn = 0; conn < 1 + (int)(f % 4 == 0); conn++) {
			/* Some start near the wrap of the sequence space. */
			uint32_t seq = f % 7 == 0 ? 0xFFFFFFF0u - (uint32_t)(rng() % 64) : rng();
			const bool syn = f % 6 != 1;
			std::vector<Packet> c;
			if (syn)
				c.push_back(tcp_pkt(seg(s, seq, pattern(rng() % 30, f), REASM_TCP_SYN)));
			uint32_t next = seq + (syn ? 1 : 0) + (uint32_t)(c.empty() ? 0 : c[0].spec.payload.size());
			for (int i = 0; i < 6; i++) {
				Bytes p = pattern(1 + rng() % 400, f * 8 + i);
				c.push_back(tcp_pkt(seg(s, next, p)));
				next += (uint32_t)p.size();
			}
			c.push_back(tcp_pkt(seg(s, next, {}, f % 8 == 3 ? REASM_TCP_RST : REASM_TCP_FIN)));
			for (size_t i = 1; i + 1 < c.size(); i++) /* local reordering */
				if (rng() % 4 == 0)
					std::swap(c[i], c[i + 1]);
			per_flow[f].insert(per_flow[f].end(), c.begin(), c.end());
		}
	}
	std::vector<Packet> out;
	std::vector<size_t> pos(n_flows, 0);
	size_t left = 0;
	for (auto &v : per_flow)
		left += v.size();
	while (left > 0) {
		unsigned f = rng() % n_flows;
		if (pos[f] == per_flow[f].size())
			continue;
		Packet p = per_flow[f][pos[f]++];
		p.ts = ts++;
		out.push_back(p);
		left--;
		if (rng() % 20 == 0)
			out.push_back(junk_pkt(junk[rng() % junk.size()].frame, ts++));
	}
	return out;
}

TEST_F(Burst, BurstsOfAnySizeEqualOneByOne)
{
	const std::vector<Packet> pkts = traffic(7, 40);
	ASSERT_GT(pkts.size(), 300u);
	for (size_t size : {(size_t)1, (size_t)32, (size_t)64, (size_t)65, (size_t)100,
			    (size_t)255, pkts.size()}) {
		SCOPED_TRACE("bursts of " + std::to_string(size));
		Rig a, b;
		feed_both(a, b, pkts, size);
		expect_same(a, b);
		finish_both(a, b);
	}
}

TEST_F(Burst, BurstsWithoutTimestampsEqualOneByOneAtNow)
{
	const std::vector<Packet> pkts = traffic(11, 24);
	for (size_t size : {(size_t)64, (size_t)200}) {
		SCOPED_TRACE("bursts of " + std::to_string(size));
		Rig a, b;
		feed_both(a, b, pkts, size, false);
		expect_same(a, b);
		for (StreamLog *l : a.rec.streams())
			for (const Rec &r : l->recs)
				EXPECT_EQ(r.seen, kNow);
		finish_both(a, b);
	}
}

TEST_F(Burst, TableFullInsideABurst)
{
	/* A table of 8: the 9th new flow of a burst is refused and counted. */
	RigOptions opt;
	opt.max_conns = 8;
	Rig a(opt), b(opt);
	std::vector<Packet> pkts;
	for (uint16_t i = 0; i < 12; i++)
		pkts.push_back(tcp_pkt(seg(v4(0, (uint16_t)(500 + i)), 1, {1, 2}, REASM_TCP_SYN)));
	for (uint16_t i = 0; i < 12; i++)
		pkts.push_back(tcp_pkt(seg(v4(0, (uint16_t)(500 + i)), 4, {3})));
	feed_both(a, b, pkts, pkts.size());
	expect_same(a, b);
	EXPECT_EQ(a.rec.opened(), 8u);
	EXPECT_EQ(stats(a)[REASM_CTR_table_full_pkts], 8u);
	finish_both(a, b);
}

TEST_F(Burst, StageTimingCountsChunksAndPacketsAndChangesNothing)
{
	/* A user profiling the burst path: off by default; on, every chunk and packet counted,
	 * cycles in each stage; what is delivered is what an untimed assembler delivers. */
	const std::vector<Packet> pkts = traffic(5, 20);
	Rig a, b, untimed_a, untimed_b;
	struct reasm_stage_stats st;

	reasm_assembler_stages(a.asm_, &st);
	EXPECT_EQ(st.bursts + st.chunks + st.pkts + st.parse_cycles + st.lookup_cycles +
			  st.assemble_cycles,
		  0u);
	feed_both(untimed_a, untimed_b, pkts, 100);
	reasm_assembler_stages(untimed_a.asm_, &st);
	EXPECT_EQ(st.bursts, 0u) << "timing starts off";
	reasm_assembler_stage_timing(a.asm_, true);
	feed_both(a, b, pkts, 100);
	expect_same(a, untimed_a);
	reasm_assembler_stages(a.asm_, &st);
	const uint64_t bursts = (pkts.size() + 99) / 100;
	uint64_t chunks = 0;
	for (size_t i = 0; i < pkts.size(); i += 100)
		chunks += (std::min((size_t)100, pkts.size() - i) + 63) / 64;
	EXPECT_EQ(st.bursts, bursts);
	EXPECT_EQ(st.chunks, chunks);
	EXPECT_EQ(st.pkts, pkts.size());
	EXPECT_GT(st.parse_cycles, 0u);
	EXPECT_GT(st.lookup_cycles, 0u);
	EXPECT_GT(st.assemble_cycles, 0u);
	reasm_assembler_stage_timing(a.asm_, false);
	struct rte_mbuf *m[1] = {to_mbuf(pkts[0].frame)};
	burst(a, std::vector<struct rte_mbuf *>(m, m + 1));
	struct reasm_stage_stats after;
	reasm_assembler_stages(a.asm_, &after);
	EXPECT_EQ(after.bursts, st.bursts) << "off again: nothing more counted";
	EXPECT_EQ(after.parse_cycles, st.parse_cycles);
	finish_both(untimed_a, untimed_b);
	reasm_flush_all(a.asm_);
	reasm_flush_all(b.asm_);
	finish(a);
	finish(b);
}

/* ------------------------------------------------------------------ */
/* Timestamps, ownership, empty bursts                                 */
/* ------------------------------------------------------------------ */

TEST_F(Burst, RecordsCarryTheTimestampOfTheirPacket)
{
	const FrameSpec A = v4(0);
	const std::vector<FrameSpec> specs = {
		seg(A, 1000, {1, 2}, REASM_TCP_SYN),
		seg(A, 1005, {5, 6}), /* buffered */
		seg(A, 1003, {3, 4}),
	};
	auto mbufs = [&]() {
		std::vector<struct rte_mbuf *> ms;
		for (const FrameSpec &s : specs)
			ms.push_back(to_mbuf(frame_of(s)));
		return ms;
	};

	Rig rig;
	const uint64_t ts[] = {100, 200, 300};
	EXPECT_EQ(burst(rig, mbufs(), ts, 999), 3u);
	std::vector<Rec> recs = rig.rec.take();
	ASSERT_EQ(recs.size(), 3u) << describe(recs);
	EXPECT_EQ(recs[0].seen, 100u);
	EXPECT_EQ(recs[1].seen, 300u);
	EXPECT_EQ(recs[2].seen, 200u); /* buffered bytes keep their own packet's time */
	finish(rig);

	Rig rig2;
	EXPECT_EQ(burst(rig2, mbufs(), nullptr, 777), 3u);
	recs = rig2.rec.take();
	ASSERT_EQ(recs.size(), 3u) << describe(recs);
	for (const Rec &r : recs)
		EXPECT_EQ(r.seen, 777u);
	finish(rig2);
}

TEST_F(Burst, TimestampsDriveFlushOlderThan)
{
	/* Buffered data is as old as its packet's timestamp, not the burst's now. */
	Rig rig;
	const FrameSpec A = v4(0);
	const uint64_t ts[] = {1000, 5000};
	EXPECT_EQ(burst(rig, {to_mbuf(frame_of(seg(A, 1000, {1}, REASM_TCP_SYN))),
			      to_mbuf(frame_of(seg(A, 1010, {9})))},
			ts, 1000000),
		  2u);
	rig.rec.take();
	EXPECT_EQ(reasm_flush_older_than(rig.asm_, 5000, nullptr), 0u);
	EXPECT_TRUE(rig.rec.take().empty());
	EXPECT_GE(reasm_flush_older_than(rig.asm_, 5001, nullptr), 1u);
	std::vector<Rec> recs = rig.rec.take();
	ASSERT_EQ(recs.size(), 1u) << describe(recs);
	EXPECT_EQ(recs[0].skip, 8);
	EXPECT_EQ(recs[0].seen, 5000u);
	finish(rig);
}

TEST_F(Burst, MbufsAreLeftUnmodified)
{
	Rig rig;
	std::vector<Bytes> frames;
	FrameSpec s = v6(20);
	s.vlans = {1, 2};
	s.ipv6_ext = {43, 60};
	frames.push_back(frame_of(s));
	s = v4(2000);
	frames.push_back(frame_of(s));
	frames.push_back(drop_cases()[0].frame);
	std::vector<struct rte_mbuf *> ms = {to_mbuf(frames[0]), to_mbuf_chain(frames[1], 100, 300),
					     to_mbuf(frames[2])};
	EXPECT_EQ(reasm_assemble_burst(rig.asm_, ms.data(), (uint16_t)ms.size(), nullptr, kNow), 2u);
	for (size_t i = 0; i < ms.size(); i++) {
		SCOPED_TRACE("mbuf " + std::to_string(i));
		EXPECT_EQ((unsigned)rte_mbuf_refcnt_read(ms[i]), 1u);
		ASSERT_EQ(rte_pktmbuf_pkt_len(ms[i]), frames[i].size());
		Bytes now(frames[i].size());
		const void *p = rte_pktmbuf_read(ms[i], 0, (uint32_t)now.size(), now.data());
		ASSERT_NE(p, nullptr);
		if (p != now.data())
			memcpy(now.data(), p, now.size());
		EXPECT_EQ(now, frames[i]);
		rte_pktmbuf_free(ms[i]);
	}
	finish(rig);
}

TEST_F(Burst, EmptyBurstDoesNothing)
{
	Rig rig;
	struct rte_mbuf *none[1] = {nullptr};
	EXPECT_EQ(reasm_assemble_burst(rig.asm_, none, 0, nullptr, kNow), 0u);
	EXPECT_EQ(stats(rig)[REASM_CTR_pkts], 0u);
	EXPECT_EQ(rig.rec.opened(), 0u);
	finish(rig);
}

TEST_F(Burst, ReturnValueCountsTcpPacketsOnly)
{
	Rig rig;
	std::vector<struct rte_mbuf *> ms;
	unsigned tcp = 0;
	uint16_t sport = 1;
	for (const DropCase &c : drop_cases()) {
		ms.push_back(to_mbuf(c.frame));
		ms.push_back(to_mbuf(frame_of(v4(3, sport++))));
		tcp++;
	}
	const size_t n = ms.size();
	EXPECT_EQ(burst(rig, ms), tcp);
	const Stats st = stats(rig);
	EXPECT_EQ(st[REASM_CTR_pkts], n);
	EXPECT_EQ(st[REASM_CTR_pkts_tcp], tcp);
	EXPECT_EQ(drops_total(st), n - tcp);
	EXPECT_EQ(rig.rec.opened(), tcp);
	finish(rig);
}

/* ------------------------------------------------------------------ */
/* The opening frame's encapsulation                                   */
/* ------------------------------------------------------------------ */

TEST_F(Burst, OpenLearnsTheEncapsulationOfTheOpeningFrame)
{
	/* A user writes which tunnel and VLAN a stream came in next to its records. */
	Rig rig;
	struct Case {
		std::string name;
		EncapSpec e;
		unsigned layers;
		uint32_t id;
	};
	EncapSpec vx;
	vx.kind = Encap::Vxlan;
	vx.id = 4242;
	vx.vlans = {7};
	EncapSpec mpls;
	mpls.kind = Encap::Mpls;
	mpls.id = 1001;
	mpls.mpls_labels = 3;
	EncapSpec gtp;
	gtp.kind = Encap::Gtpu;
	gtp.id = 0x12345678;
	const std::vector<Case> cases = {
		{"vlan 7, vxlan 4242", vx, REASM_ENCAP_VLAN | REASM_ENCAP_VXLAN, 4242},
		{"mpls bottom label 1001", mpls, REASM_ENCAP_MPLS, 1001},
		{"gtp-u teid 0x12345678", gtp, REASM_ENCAP_GTPU, 0x12345678},
	};
	uint16_t sport = 1;
	for (const Case &c : cases) {
		SCOPED_TRACE(c.name);
		FrameSpec s = v4(10, sport++);
		ASSERT_EQ(burst(rig, {exact_mbuf(wrap(frame_of(s), c.e))}), 1u);
		const StreamLog *log = rig.rec.streams().back();
		EXPECT_EQ(log->encap_rc, 0);
		EXPECT_EQ(log->encap.layers, c.layers);
		EXPECT_EQ(log->encap.tunnel_id, c.id);
		if (c.layers & REASM_ENCAP_VLAN) {
			EXPECT_EQ(log->encap.vlan, 7u);
		}
		/* The stream's later frames do not open it again. */
		s.seq += 1 + (uint32_t)s.payload.size();
		s.flags = 0;
		burst(rig, {exact_mbuf(wrap(frame_of(s), c.e))});
		EXPECT_EQ(rig.rec.streams().back(), log);
	}
	/* A plain frame: known, no layer. */
	FrameSpec plain = v4(10, sport++);
	burst(rig, {exact_mbuf(frame_of(plain))});
	EXPECT_EQ(rig.rec.streams().back()->encap_rc, 0);
	EXPECT_EQ(rig.rec.streams().back()->encap.layers, 0u);
	/* reasm_assemble() has no frame; outside open() there is nothing either. */
	FrameSpec bare = v4(10, sport++);
	struct reasm_flow flow = flow_of(bare);
	struct reasm_segment seg = segment_of(bare);
	ASSERT_EQ(reasm_assemble(rig.asm_, &flow, &seg, kNow), 0);
	EXPECT_EQ(rig.rec.streams().back()->encap_rc, -ENOENT);
	struct reasm_encap e;
	EXPECT_EQ(reasm_pool_open_encap(rig.pool, &e), -ENOENT);
	EXPECT_EQ(reasm_pool_open_encap(nullptr, &e), -EINVAL);
	EXPECT_STREQ(reasm_encap_name(REASM_ENCAP_GENEVE), "geneve");
	EXPECT_STREQ(reasm_encap_name(REASM_ENCAP_END), "unknown");
	rig.rec.take();
	finish(rig);
}

} // namespace
