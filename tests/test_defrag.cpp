/* SPDX-License-Identifier: BSD-3-Clause
 * IP defragmentation (lib/reasm/reasm_defrag.c, struct reasm_defrag_conf).
 *
 * Covers:
 * - IPv4 and IPv6 fragments in order, reversed and shuffled, 2 to 9 of them:
 *   the datagram's TCP segment delivered exactly, with the counters
 *   (defrag_fragments, defrag_datagrams, pkts_tcp) and every page back;
 * - duplicated fragments and overlapping ones with the same bytes (where DPDK's
 *   rte_ip_frag drops the datagram): reassembled, the repeats counted;
 *   overlapping fragments that disagree: the first copy kept, the differing
 *   bytes counted;
 * - every limit and its counter: a timeout (the datagram's pages freed), too
 *   many fragments, max_datagrams in progress, max_pages, inconsistent
 *   fragments (not a multiple of 8 before the last, two different ends, data
 *   past the end, an IPv6 datagram past 65,535 bytes), a 64 KiB datagram in
 *   8-byte fragments,
 *   reasm_flush_all() dropping what is incomplete;
 * - fragments inside tunnels (VXLAN, GRE, GTP-U carrying a fragmented inner
 *   datagram) and fragmented tunnels (a VXLAN datagram fragmented), keyed by
 *   the innermost IP layer;
 * - owns/handoff: a datagram whose connection is another assembler's is handed
 *   off as a frame that parses to the same segment;
 * - a TCP connection whose every segment is fragmented and reordered: the
 *   stream exact; defragmentation off: fragments only counted (as gopacket).
 * Every case ends with reasm_flush_all(), the page mempool full, no stream
 * open, and every test mbuf back in its pool.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "encap.h"
#include "frame_cases.h"

using namespace reasm_test;

namespace {

class Defrag : public FrameTest {};

RigOptions with_defrag(uint32_t datagrams = 64, uint32_t fragments = 0, uint32_t pages = 0,
		       uint64_t timeout_ns = 1000000)
{
	RigOptions o;
	o.defrag.max_datagrams = datagrams;
	o.defrag.max_fragments = fragments;
	o.defrag.max_pages = pages;
	o.defrag.timeout_ns = timeout_ns;
	return o;
}

/* Each frame in a burst of its own, at @p ts; the TCP segments counted. */
unsigned feed(Rig &rig, const std::vector<Bytes> &frames, uint64_t ts = kNow)
{
	unsigned tcp = 0;
	for (const Bytes &f : frames) {
		const uint64_t t = ts;
		struct rte_mbuf *m = exact_mbuf(f);
		tcp += reasm_assemble_burst(rig.asm_, &m, 1, &t, ts);
		rte_pktmbuf_free(m);
	}
	return tcp;
}

/* The one stream's bytes, and checks it opened once with the datagram's payload. */
void expect_stream(Rig &rig, const FrameSpec &s)
{
	const std::vector<StreamLog *> st = rig.rec.streams();
	ASSERT_EQ(st.size(), 1u);
	EXPECT_EQ(concat(st[0]->recs), s.payload);
	const struct reasm_flow want = flow_of(s);
	EXPECT_EQ(memcmp(&st[0]->flow, &want, sizeof(want)), 0);
}

uint64_t ctr(Rig &rig, unsigned c)
{
	return stats(rig)[c];
}

TEST_F(Defrag, InOrderReversedAndShuffled)
{
	std::mt19937 rng(5);
	for (int fam : {4, 6})
		for (size_t piece : {8u, 64u, 1000u})
			for (int order = 0; order < 3; order++) {
				SCOPED_TRACE("IPv" + std::to_string(fam) + " pieces of " +
					     std::to_string(piece) + " order " + std::to_string(order));
				Rig rig(with_defrag());
				const FrameSpec s = fam == 4 ? v4(2000) : v6(2000);
				std::vector<Piece> pieces = even_pieces(20 + 2000, piece);
				if (pieces.size() > 64)
					continue; /* the default max_fragments */
				if (order == 1)
					std::reverse(pieces.begin(), pieces.end());
				if (order == 2)
					std::shuffle(pieces.begin(), pieces.end(), rng);
				const auto frags = fragments_of(frame_of(s), pieces);
				EXPECT_EQ(feed(rig, frags), 1u);
				expect_stream(rig, s);
				EXPECT_EQ(ctr(rig, REASM_CTR_defrag_fragments), frags.size());
				EXPECT_EQ(ctr(rig, REASM_CTR_defrag_datagrams), 1u);
				EXPECT_EQ(ctr(rig, REASM_CTR_pkts_tcp), 1u);
				EXPECT_EQ(ctr(rig, REASM_CTR_defrag_pages), 0u);
				EXPECT_EQ(ctr(rig, REASM_CTR_drop_ipv4_fragment) +
						  ctr(rig, REASM_CTR_drop_ipv6_fragment),
					  0u);
				finish(rig);
			}
}

TEST_F(Defrag, DuplicatesAndSameByteOverlapsAreReassembled)
{
	for (int fam : {4, 6}) {
		Rig rig(with_defrag());
		const FrameSpec s = fam == 4 ? v4(100) : v6(100);
		/* 120 payload bytes: [0,48) twice, [40,96) overlapping it, [96,120) the end. */
		const auto frags = fragments_of(frame_of(s), {{0, 48}, {0, 48}, {40, 56}, {96, 24}});
		EXPECT_EQ(feed(rig, frags), 1u);
		expect_stream(rig, s);
		EXPECT_EQ(ctr(rig, REASM_CTR_defrag_overlap_bytes), 48u + 8u);
		EXPECT_EQ(ctr(rig, REASM_CTR_defrag_conflict_bytes), 0u);
		finish(rig);
	}
}

TEST_F(Defrag, ConflictingOverlapKeepsTheFirstCopy)
{
	Rig rig(with_defrag());
	FrameSpec s = v4(100);
	const Bytes first = frame_of(s);
	FrameSpec t = s;
	for (size_t i = 20; i < 40; i++)
		t.payload[i] ^= 0xff; /* the same datagram, 20 payload bytes different */
	const auto a = fragments_of(first, {{0, 64}, {64, 56}});
	const auto b = fragments_of(frame_of(t), {{0, 64}});
	EXPECT_EQ(feed(rig, {a[0], b[0], a[1]}), 1u);
	expect_stream(rig, s); /* the first copy's bytes */
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_overlap_bytes), 64u);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_conflict_bytes), 20u);
	finish(rig);
}

TEST_F(Defrag, TimeoutDropsTheDatagramAndFreesItsPages)
{
	Rig rig(with_defrag(64, 0, 0, 1000));
	const FrameSpec s = v6(3000);
	const auto frags = fragments_of(frame_of(s), even_pieces(3000 + 20, 1504));
	EXPECT_EQ(feed(rig, {frags[0]}, 10000), 0u);
	EXPECT_GT(ctr(rig, REASM_CTR_defrag_pages), 0u);
	/* Past the timeout: the first datagram goes; the rest starts a new one. */
	EXPECT_EQ(feed(rig, {frags[1]}, 10000 + 1001), 0u);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_timeouts), 1u);
	EXPECT_TRUE(rig.rec.streams().empty());
	reasm_flush_all(rig.asm_); /* drops the incomplete one too */
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_timeouts), 2u);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_pages), 0u);
	finish(rig);
}

TEST_F(Defrag, TooManyFragmentsTableFullAndNoPage)
{
	{
		Rig rig(with_defrag(64, 4));
		const auto frags = fragments_of(frame_of(v4(80)), even_pieces(100, 16));
		EXPECT_EQ(frags.size(), 7u);
		EXPECT_EQ(feed(rig, frags), 0u);
		EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_too_many), 1u);
		finish(rig);
	}
	{
		Rig rig(with_defrag(2));
		std::vector<Bytes> firsts;
		for (uint32_t id = 1; id <= 3; id++)
			firsts.push_back(fragments_of(frame_of(v4(80)), {{0, 16}}, id)[0]);
		feed(rig, firsts);
		EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_table_full), 1u);
		finish(rig);
	}
	{
		Rig rig(with_defrag(64, 0, 1));
		const auto frags = fragments_of(frame_of(v4(4000)), {{0, 2400}, {2400, 1620}});
		feed(rig, frags);
		EXPECT_GE(ctr(rig, REASM_CTR_defrag_drop_no_page), 1u);
		EXPECT_LE(ctr(rig, REASM_CTR_defrag_pages), 1u);
		finish(rig);
	}
}

TEST_F(Defrag, InconsistentFragmentsAreDropped)
{
	Rig rig(with_defrag());
	const Bytes f = frame_of(v4(200)); /* 220 payload bytes */
	/* Not a multiple of 8 before the last. */
	feed(rig, fragments_of(f, {{0, 12}}, 1));
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_bad), 1u);
	/* A last fragment ending at 112, then another ending at 220. */
	Bytes early_end = fragments_of(f, {{16, 96}}, 2)[0];
	early_end[14 + 6] &= (uint8_t)~0x20;
	feed(rig, {early_end});
	feed(rig, fragments_of(f, {{112, 108}}, 2));
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_bad), 2u);
	/* Data past the end a last fragment set: [104, 112) is inside, [96, 120) not. */
	feed(rig, fragments_of(f, {{104, 8}}, 2));
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_bad), 2u);
	Bytes past = fragments_of(f, {{96, 24}}, 2)[0];
	feed(rig, {past});
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_bad), 3u);
	/* IPv6: a datagram past 65,535 bytes (offset 65528 + 16). */
	Bytes big = fragments_of(frame_of(v6(200)), {{8, 16}}, 3)[0];
	big[14 + 40 + 2] = 0xff;
	big[14 + 40 + 3] = (uint8_t)(0xf8 | 1);
	feed(rig, {big});
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_bad), 4u);
	EXPECT_TRUE(rig.rec.streams().empty());
	finish(rig);
}

TEST_F(Defrag, BadFragmentsTakeNoTableEntry)
{
	/* A table of 8 datagrams, 8 bad fragments of distinct datagrams: a good
	 * datagram still finds room, and the bad ones never time out. */
	Rig rig(with_defrag(8));
	const Bytes f = frame_of(v4(200));
	for (uint32_t id = 100; id < 108; id++)
		feed(rig, fragments_of(f, {{0, 12}}, id)); /* MF, not a multiple of 8 */
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_bad), 8u);
	const FrameSpec s = v4(200, 9);
	EXPECT_EQ(feed(rig, fragments_of(frame_of(s), {{0, 112}, {112, 108}}, 1)), 1u);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_drop_table_full), 0u);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_datagrams), 1u);
	reasm_flush_all(rig.asm_);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_timeouts), 0u);
	rig.rec.take();
	finish(rig);
}

TEST_F(Defrag, A64KiBDatagramInEightByteFragmentsIsBounded)
{
	/* 8,192 fragments of 8 bytes: too many for max_fragments 64, memory stays bounded. */
	Rig rig(with_defrag(8, 64, 16));
	FrameSpec s = v4(0);
	s.payload = pattern(65000);
	const auto frags = fragments_of(frame_of(s), even_pieces(20 + 65000, 8));
	EXPECT_EQ(feed(rig, frags), 0u);
	EXPECT_GE(ctr(rig, REASM_CTR_defrag_drop_too_many), 1u);
	EXPECT_LE(ctr(rig, REASM_CTR_defrag_pages), 16u);
	EXPECT_TRUE(rig.rec.streams().empty());
	finish(rig);
}

TEST_F(Defrag, FragmentsInsideTunnelsAndFragmentedTunnels)
{
	Rig rig(with_defrag());
	uint16_t sport = 10;
	for (Encap k : {Encap::Vxlan, Encap::Gre, Encap::Gtpu}) {
		EncapSpec e;
		e.kind = k;
		/* The inner datagram fragmented, each fragment tunnelled. */
		const FrameSpec s = v4(1500, sport++);
		std::vector<Bytes> frags;
		for (const Bytes &fr : fragments_of(frame_of(s), {{800, 720}, {0, 800}}))
			frags.push_back(wrap(fr, e));
		EXPECT_EQ(feed(rig, frags), 1u);
		/* The tunnel's own datagram fragmented. */
		const FrameSpec t = v6(1500, sport++);
		const Bytes w = wrap(frame_of(t), e);
		const size_t payload = w.size() - 14 - (k == Encap::Gre ? 20 : 20);
		EXPECT_EQ(feed(rig, fragments_of(w, {{0, 1000}, {1000, payload - 1000}})), 1u);
	}
	const std::vector<StreamLog *> st = rig.rec.streams();
	ASSERT_EQ(st.size(), 6u);
	for (StreamLog *l : st)
		EXPECT_EQ(concat(l->recs).size(), 1500u);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_datagrams), 6u);
	EXPECT_EQ(ctr(rig, REASM_CTR_pkts_decap), 6u);
	finish(rig);
}

TEST_F(Defrag, DatagramsOfAnotherAssemblerAreHandedOff)
{
	Handed handed;
	RigOptions o = with_defrag();
	handed.steer(o.defrag);
	Rig rig(o);
	const FrameSpec s = v6(500, 77);
	EXPECT_EQ(feed(rig, fragments_of(frame_of(s), {{256, 264}, {0, 256}})), 0u);
	EXPECT_TRUE(rig.rec.streams().empty());
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_handoffs), 1u);
	ASSERT_EQ(handed.frames.size(), 1u);
	/* The frame handed off is the datagram whole: another assembler assembles it. */
	Rig other;
	check_one(other, exact_mbuf(handed.frames[0]), s, assembled(s.payload));
	finish(other);
	finish(rig);
}

TEST_F(Defrag, AFragmentedReorderedConnectionIsExact)
{
	Rig rig(with_defrag());
	std::mt19937 rng(9);
	FrameSpec s = v4(0, 555);
	s.flags = REASM_TCP_SYN;
	s.seq = 1000;
	std::vector<Bytes> frames = {frame_of(s)};
	Bytes sent;
	s.flags = 0;
	uint32_t seq = 1001;
	for (int i = 0; i < 20; i++) {
		s.seq = seq;
		s.payload = pattern(1400, (unsigned)i + 3);
		sent.insert(sent.end(), s.payload.begin(), s.payload.end());
		seq += 1400;
		auto frags = fragments_of(frame_of(s), even_pieces(20 + 1400, 488));
		std::shuffle(frags.begin(), frags.end(), rng);
		frames.insert(frames.end(), frags.begin(), frags.end());
	}
	s.seq = seq;
	s.payload = {};
	s.flags = REASM_TCP_FIN;
	frames.push_back(frame_of(s));
	feed(rig, frames);
	const std::vector<StreamLog *> st = rig.rec.streams();
	ASSERT_EQ(st.size(), 1u);
	EXPECT_EQ(concat(st[0]->recs), sent);
	EXPECT_EQ(st[0]->completes, 1);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_datagrams), 20u);
	finish(rig);
}

TEST_F(Defrag, OffByDefaultFragmentsAreOnlyCounted)
{
	Rig rig;
	const auto frags = fragments_of(frame_of(v4(100)), {{0, 64}, {64, 56}});
	EXPECT_EQ(feed(rig, frags), 0u);
	EXPECT_EQ(ctr(rig, REASM_CTR_drop_ipv4_fragment), 2u);
	EXPECT_EQ(ctr(rig, REASM_CTR_defrag_fragments), 0u);
	finish(rig);
}

} // namespace
