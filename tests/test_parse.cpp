/* SPDX-License-Identifier: BSD-3-Clause
 * The Ethernet/IP/TCP parser (lib/reasm/reasm_parse.c) and its counters,
 * driven through reasm_assemble_burst(). The parser must find a TCP segment
 * exactly where gopacket.NewPacket(frame, LayerTypeEthernet, Default) finds a
 * TCP transport layer, with the same payload (expectations were checked
 * against gopacket 1.1.19 itself on every frame these tests build). The burst
 * loop around the parser has its own suite, test_burst.cpp.
 *
 * Covers:
 * - every frame shape the parser accepts delivers the right bytes to the
 *   right flow (flow_of): IPv4, IPv6, one 802.1Q tag, QinQ, deeper tag
 *   stacks, IPv4 options (4..40 bytes, NOP and real ones), IPv4 AH, IPv6
 *   hop-by-hop / routing / destination / AH headers alone, long, and in
 *   chains, TCP options, Ethernet padding (never delivered);
 * - gopacket's quirks: IPv4 total length 0 (TSO) takes the frame length, a
 *   leading IPv6 hop-by-hop header makes the payload length unused (the
 *   frame's end limits what follows), malformed TCP options are ignored,
 *   no IP version check, IPv4 protocol 0/43/60 walked as IPv6 extensions;
 * - what gopacket's decoders refuse: routing headers other than type 0 of
 *   8 + 16n bytes, AH shorter than 12 bytes, TLV options running past the
 *   packet, a jumbogram option with a payload length;
 * - one case per drop counter: that counter +1, no other drop counter, no
 *   stream; tcp_bad_offset and ip_len_past_frame: counted and still
 *   assembled (flags kept, payload ignored / cut at the frame end);
 * - frames cut at every byte offset of valid frames, checked against a model
 *   of gopacket, in exact-size heap buffers (ASan sees any over-read) and in
 *   mbufs whose tailroom still holds the rest of the frame (an over-read
 *   changes the result);
 * - seeded random garbage: no crash, every mbuf counted exactly once.
 * Every case ends with reasm_flush_all(), the page mempool full, no stream
 * open, and every test mbuf back in its pool.
 */
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "frame_cases.h"

using namespace reasm_test;

namespace {

class Parse : public FrameTest {};


/* ------------------------------------------------------------------ */
/* Valid frames                                                        */
/* ------------------------------------------------------------------ */

std::vector<Shape> valid_shapes()
{
	std::vector<Shape> out;
	auto add = [&](const std::string &name, FrameSpec s, int past = 0) {
		out.push_back({name, s, past});
	};
	for (int fam : {4, 6}) {
		const std::string f = fam == 4 ? "ipv4" : "ipv6";
		auto base = [&](size_t len) { return fam == 4 ? v4(len) : v6(len); };
		FrameSpec s = base(10);
		add(f, s);
		add(f + " empty SYN", base(0));
		add(f + " 1 byte", base(1));
		add(f + " 1400 bytes", base(1400));
		s = base(10);
		s.vlans = {100};
		add(f + " 802.1Q", s);
		s.vlans = {100, 200};
		s.qinq = true;
		add(f + " QinQ", s);
		s.qinq = false;
		add(f + " two 802.1Q tags", s);
		s.vlans = {1, 2, 3, 4};
		s.qinq = true;
		add(f + " QinQ + three 802.1Q tags", s);
		for (unsigned n = 4; n <= 40; n += 4) {
			s = base(10);
			s.tcp_options_len = n;
			add(f + " TCP options " + std::to_string(n), s);
		}
	}
	for (unsigned n = 4; n <= 40; n += 4) {
		FrameSpec s = v4(10);
		s.ipv4_options_len = n;
		add("ipv4 options " + std::to_string(n), s);
	}
	FrameSpec s = v4(10);
	s.vlans = {7, 8};
	s.qinq = true;
	s.ipv4_options_len = 40;
	s.tcp_options_len = 40;
	add("ipv4 QinQ, 40 bytes of IP and TCP options", s);

	const std::vector<std::vector<uint8_t>> chains = {
		/* {51, X} is one 16-byte AH (frame_of) */
		{43}, {60}, {51, 60}, {0}, {60, 43}, {43, 60, 51, 43}, {60, 60, 60}, {0, 43, 60},
		{51, 0, 60}, {43, 0}, {60, 51, 43, 43, 60}, {0, 51, 60},
	};
	for (const auto &chain : chains) {
		std::string name = "ipv6 ext";
		for (uint8_t h : chain)
			name += " " + std::to_string(h);
		s = v6(10);
		s.ipv6_ext = chain;
		add(name, s, chain[0] == 0 ? kPastAny : 0);
		s.vlans = {5};
		s.tcp_options_len = 12;
		add(name + ", 802.1Q, TCP options", s, chain[0] == 0 ? kPastAny : 0);
	}
	return out;
}

TEST_F(Parse, ValidFramesDeliverTheirPayloadToTheirFlow)
{
	Rig rig;
	uint16_t sport = 1000;
	for (const Shape &sh : valid_shapes()) {
		SCOPED_TRACE(sh.name);
		FrameSpec s = with_sport(sh.spec, sport++);
		check_one(rig, to_mbuf(frame_of(s)), s, assembled(s.payload, sh.past_frame));
		s.sport = sport++;
		check_one(rig, exact_mbuf(frame_of(s)), s, assembled(s.payload, sh.past_frame));
	}
	finish(rig);
}

TEST_F(Parse, VlanIdsAreNotPartOfTheKey)
{
	/* Same addresses and ports under different tags: one stream, as in gopacket. */
	Rig rig;
	FrameSpec a = v4(3);
	a.vlans = {10};
	FrameSpec b = a;
	b.flags = 0;
	b.seq = 1004;
	b.payload = {7, 8, 9};
	b.vlans = {20, 30};
	b.qinq = true;
	FrameSpec c = b;
	c.seq = 1007;
	c.vlans = {};
	EXPECT_EQ(burst(rig, {to_mbuf(frame_of(a)), to_mbuf(frame_of(b)),
			      to_mbuf(frame_of(c))}),
		  3u);
	EXPECT_EQ(rig.rec.opened(), 1u);
	Bytes want = a.payload;
	want.insert(want.end(), b.payload.begin(), b.payload.end());
	want.insert(want.end(), c.payload.begin(), c.payload.end());
	EXPECT_EQ(concat(rig.rec.take()), want);
	finish(rig);
}

TEST_F(Parse, EthernetPaddingIsNotDelivered)
{
	Rig rig;
	uint16_t sport = 1;
	for (int fam : {4, 6}) {
		for (size_t vlans : {0, 1, 2}) {
			for (unsigned pad : {1u, 6u, 100u}) {
				FrameSpec s = fam == 4 ? v4(1, sport++) : v6(1, sport++);
				s.vlans.assign(vlans, 9);
				s.eth_padding = pad;
				SCOPED_TRACE("family " + std::to_string(fam) + ", " +
					     std::to_string(vlans) + " tags, padding " +
					     std::to_string(pad));
				check_one(rig, to_mbuf(frame_of(s)), s, assembled(s.payload));
			}
		}
	}
	/* The minimum Ethernet frame: 60 bytes, a 1-byte payload padded. */
	FrameSpec s = v4(1, sport++);
	s.eth_padding = 60 - frame_of(s).size();
	ASSERT_EQ(frame_of(s).size(), 60u);
	check_one(rig, exact_mbuf(frame_of(s)), s, assembled(s.payload));
	finish(rig);
}

TEST_F(Parse, Ipv4TotalLengthZeroTakesTheFrameLength)
{
	/* gopacket's TSO rule: total length 0 means "the rest of the frame",
	 * Ethernet padding included. */
	Rig rig;
	FrameSpec s = v4(5);
	Bytes f = frame_of(s);
	put16(f, frame_layout(s).l3 + 2, 0);
	check_one(rig, to_mbuf(f), s, assembled(s.payload));

	s = v4(5, 40001);
	s.eth_padding = 4;
	f = frame_of(s);
	put16(f, frame_layout(s).l3 + 2, 0);
	Bytes want = s.payload;
	want.insert(want.end(), 4, 0);
	check_one(rig, exact_mbuf(f), s, assembled(want));
	finish(rig);
}

TEST_F(Parse, Ipv6LeadingHopByHopIgnoresPayloadLength)
{
	/*
	 * gopacket decodes a leading hop-by-hop header from the whole frame and
	 * goes on from that header's payload, which runs to the frame's end: the
	 * IPv6 payload length then limits nothing (only 0 is refused), and
	 * Ethernet padding becomes TCP payload.
	 */
	Rig rig;
	uint16_t sport = 1;
	for (unsigned pad : {0u, 4u, 8u, 12u}) {
		SCOPED_TRACE("padding " + std::to_string(pad));
		FrameSpec s = v6(5, sport++);
		s.ipv6_ext = {0, 60};
		s.eth_padding = pad;
		Bytes want = s.payload;
		want.insert(want.end(), pad, 0);
		check_one(rig, exact_mbuf(frame_of(s)), s, assembled(want, kPastAny));
	}
	for (uint16_t plen : {1, 8 + 20 + 2}) {
		SCOPED_TRACE("payload length " + std::to_string(plen) + ", short of the packet");
		FrameSpec s = v6(10, sport++);
		s.ipv6_ext = {0, 60};
		Bytes f = edited(s, [&](Bytes &fr, const FrameLayout &l) { put16(fr, l.l3 + 4, plen); });
		check_one(rig, exact_mbuf(f), s, assembled(s.payload, kPastAny));
	}
	/* Not leading: the hop-by-hop header is an ordinary extension. */
	FrameSpec s = v6(5, sport++);
	s.ipv6_ext = {60, 0};
	s.eth_padding = 8;
	check_one(rig, exact_mbuf(frame_of(s)), s, assembled(s.payload));
	finish(rig);
}

TEST_F(Parse, IpVersionFieldIsNotChecked)
{
	/* gopacket decodes by ethertype and never looks at the version nibble. */
	Rig rig;
	uint16_t sport = 1;
	for (uint8_t version : {0, 6, 15}) {
		FrameSpec s = v4(4, sport++);
		Bytes f = frame_of(s);
		size_t l3 = frame_layout(s).l3;
		f[l3] = (uint8_t)(version << 4 | (f[l3] & 0x0f));
		SCOPED_TRACE("ipv4 frame with version " + std::to_string(version));
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	}
	for (uint8_t version : {0, 4, 15}) {
		FrameSpec s = v6(4, sport++);
		Bytes f = frame_of(s);
		size_t l3 = frame_layout(s).l3;
		f[l3] = (uint8_t)(version << 4 | (f[l3] & 0x0f));
		SCOPED_TRACE("ipv6 frame with version " + std::to_string(version));
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	}
	finish(rig);
}

TEST_F(Parse, Ipv4OptionsAreWalkedLikeGopacket)
{
	Rig rig;
	uint16_t sport = 1;
	struct Case {
		const char *name;
		Bytes options;
	};
	const Case cases[] = {
		{"record route + EOL", {7, 7, 4, 0, 0, 0, 0, 0}},
		{"EOL then garbage", {0, 0xff, 0x00, 0x05}},
		{"NOP NOP then a 6-byte option", {1, 1, 0x44, 6, 5, 0, 0, 0}},
		{"an option filling the header", {0x86, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"all EOL", {0, 0, 0, 0}},
	};
	for (const Case &c : cases) {
		SCOPED_TRACE(c.name);
		FrameSpec s = v4(6, sport++);
		s.ipv4_options_len = (unsigned)c.options.size();
		Bytes f = frame_of(s);
		std::copy(c.options.begin(), c.options.end(), f.begin() + frame_layout(s).l3 + 20);
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	}
	finish(rig);
}

TEST_F(Parse, MalformedTcpOptionsAreIgnored)
{
	/* gopacket sets the payload before walking the options. */
	Rig rig;
	uint16_t sport = 1;
	const Bytes cases[] = {
		{2, 1, 0, 0},          /* length 1 < 2 */
		{2, 0, 0, 0},          /* length 0 */
		{1, 1, 1, 2},          /* kind with no length byte */
		{8, 10, 0, 0, 0, 0, 0, 0}, /* length past the header */
	};
	for (const Bytes &opts : cases) {
		for (int fam : {4, 6}) {
			FrameSpec s = fam == 4 ? v4(9, sport++) : v6(9, sport++);
			s.tcp_options_len = (unsigned)opts.size();
			Bytes f = frame_of(s);
			std::copy(opts.begin(), opts.end(), f.begin() + frame_layout(s).l4 + 20);
			check_one(rig, exact_mbuf(f), s, assembled(s.payload));
		}
	}
	finish(rig);
}

TEST_F(Parse, LongExtensionHeadersAndAh)
{
	Rig rig;
	uint16_t sport = 1;

	/* IPv6 AH of 24 bytes: length field 4 -> (4 + 2) * 4. */
	FrameSpec s = v6(7, sport++);
	s.ipv6_ext = {51, 60, 60};
	Bytes f = frame_of(s);
	size_t h = frame_layout(s).l3 + 40;
	f[h] = 6;
	f[h + 1] = 4;
	check_one(rig, exact_mbuf(f), s, assembled(s.payload));

	/* Destination options of 24 bytes: length field 2 -> (2 + 1) * 8, all Pad1. */
	s = v6(7, sport++);
	s.ipv6_ext = {43, 60, 60, 60};
	f = frame_of(s);
	h = frame_layout(s).l3 + 40 + 8;
	std::fill(f.begin() + h, f.begin() + h + 24, 0);
	f[h] = 6;
	f[h + 1] = 2;
	check_one(rig, exact_mbuf(f), s, assembled(s.payload));

	/* Hop-by-hop of 16 bytes carrying a PadN option (leading: the quirk applies). */
	s = v6(7, sport++);
	s.ipv6_ext = {0, 60};
	f = frame_of(s);
	h = frame_layout(s).l3 + 40;
	std::fill(f.begin() + h, f.begin() + h + 16, 0);
	f[h] = 6;
	f[h + 1] = 1;
	f[h + 2] = 1;  /* PadN */
	f[h + 3] = 12; /* 12 bytes of padding: fills the header */
	check_one(rig, exact_mbuf(f), s, assembled(s.payload, kPastAny));

	/* IPv4 AH of 12 bytes: length field 1 -> (1 + 2) * 4, then TCP. */
	s = v4(7, sport++);
	s.ipv4_options_len = 12; /* room for the AH; IHL is reset below */
	f = frame_of(s);
	size_t l3 = frame_layout(s).l3;
	f[l3] = 0x45;
	f[l3 + 9] = 51;
	std::fill(f.begin() + l3 + 20, f.begin() + l3 + 32, 0);
	f[l3 + 20] = 6;
	f[l3 + 21] = 1;
	check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	finish(rig);
}

/* Feed one mbuf that gopacket finds no TCP layer in: one drop, no stream. */
void check_rejected(Rig &rig, struct rte_mbuf *m)
{
	const Stats before = stats(rig);
	const size_t opened = rig.rec.opened();
	EXPECT_EQ(burst(rig, {m}), 0u);
	const Stats d = stats(rig) - before;
	EXPECT_EQ(drops_total(d), 1u);
	EXPECT_EQ(d[REASM_CTR_pkts_tcp], 0u);
	EXPECT_EQ(rig.rec.opened(), opened) << "gopacket finds no TCP layer here";
	const std::vector<Rec> recs = rig.rec.take();
	EXPECT_TRUE(recs.empty()) << describe(recs);
}

TEST_F(Parse, RoutingHeadersGopacketRejects)
{
	/*
	 * gopacket's routing decoder knows type 0 only, and wants its length to
	 * be 8 + 16n: anything else ends the decode before TCP (Mobile IPv6
	 * type 2 and SRv6 type 4 included).
	 */
	Rig rig;
	uint16_t sport = 1;
	for (uint8_t type : {2, 3, 4}) {
		SCOPED_TRACE("routing type " + std::to_string(type));
		FrameSpec s = v6(8, sport++);
		s.ipv6_ext = {43, 60, 60};
		check_rejected(rig, exact_mbuf(edited(s, [&](Bytes &f, const FrameLayout &l) {
			f[l.l3 + 42] = type;
			f[l.l3 + 41] = 2; /* 24 bytes: a valid length for type 0 */
			f[l.l3 + 40] = 6;
		})));
	}
	FrameSpec s = v6(8, sport++);
	s.ipv6_ext = {43, 60};
	SCOPED_TRACE("routing type 0 of 16 bytes");
	check_rejected(rig, exact_mbuf(edited(s, [&](Bytes &f, const FrameLayout &l) {
		f[l.l3 + 41] = 1;
		f[l.l3 + 40] = 6;
	})));
	/* Type 0 with a length of 8 + 16n is walked. */
	s = v6(8, sport++);
	s.ipv6_ext = {43, 60, 60};
	Bytes f = edited(s, [&](Bytes &fr, const FrameLayout &l) {
		fr[l.l3 + 41] = 2;
		fr[l.l3 + 40] = 6;
	});
	check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	finish(rig);
}

TEST_F(Parse, OptionHeadersGopacketRejects)
{
	/*
	 * gopacket walks the TLV options of hop-by-hop and destination headers:
	 * an option running past the end of the packet, or (leading hop-by-hop)
	 * a jumbogram option in a packet with a payload length, ends the decode.
	 */
	Rig rig;
	for (uint8_t ext : {0, 60}) {
		SCOPED_TRACE("header " + std::to_string(ext) + ", PadN of 255 bytes");
		FrameSpec s = v6(8);
		s.ipv6_ext = {ext};
		check_rejected(rig, exact_mbuf(edited(s, [&](Bytes &f, const FrameLayout &l) {
			f[l.l3 + 42] = 1;   /* PadN */
			f[l.l3 + 43] = 255; /* past the end of the packet */
		})));
	}
	const Bytes jumbo = {6, 0, 0xc2, 4, 0x00, 0x01, 0x11, 0x70}; /* 70000 */
	FrameSpec s = v6(8);
	s.ipv6_ext = {0};
	SCOPED_TRACE("jumbogram option with a payload length");
	check_rejected(rig, exact_mbuf(edited(s, [&](Bytes &f, const FrameLayout &l) {
		std::copy(jumbo.begin(), jumbo.end(), f.begin() + l.l3 + 40);
	})));
	finish(rig);
}

TEST_F(Parse, ShortAhGopacketRejects)
{
	/*
	 * An AH is at least 12 bytes; gopacket's decoder fails on a length
	 * field of 0 (8 bytes: it slices the authentication data as [12:8]).
	 */
	Rig rig;
	FrameSpec s = v6(8);
	s.ipv6_ext = {51, 60};
	SCOPED_TRACE("IPv6 AH of 8 bytes");
	check_rejected(rig, exact_mbuf(edited(s, [](Bytes &f, const FrameLayout &l) {
		f[l.l3 + 40] = 60; /* AH of 8 bytes, then destination options, then TCP */
		f[l.l3 + 41] = 0;
		f[l.l3 + 48] = 6;
	})));
	s = v4(8);
	s.ipv4_options_len = 8;
	SCOPED_TRACE("IPv4 AH of 8 bytes");
	check_rejected(rig, exact_mbuf(edited(s, [](Bytes &f, const FrameLayout &l) {
		f[l.l3] = 0x45;
		f[l.l3 + 9] = 51;
		std::fill(f.begin() + l.l3 + 20, f.begin() + l.l3 + 28, 0);
		f[l.l3 + 20] = 6;
	})));
	finish(rig);
}

TEST_F(Parse, Ipv4CarryingIpv6ExtensionHeadersLikeGopacket)
{
	/*
	 * gopacket picks the decoder after IPv4 by protocol number alone, so
	 * IPv4 protocol 0, 43 or 60 is walked as an IPv6 extension header and
	 * the TCP behind it is assembled.
	 */
	Rig rig;
	uint16_t sport = 1;
	for (uint8_t proto : {0, 43, 60}) {
		SCOPED_TRACE("IPv4 protocol " + std::to_string(proto));
		FrameSpec s = v4(6, sport++);
		s.ipv4_options_len = 8; /* room for the extension; IHL is reset below */
		Bytes f = edited(s, [&](Bytes &fr, const FrameLayout &l) {
			fr[l.l3] = 0x45;
			fr[l.l3 + 9] = proto;
			std::fill(fr.begin() + l.l3 + 20, fr.begin() + l.l3 + 28, 0);
			fr[l.l3 + 20] = 6;
		});
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	}
	finish(rig);
}

/* ------------------------------------------------------------------ */
/* One case per counter                                                */
/* ------------------------------------------------------------------ */


TEST_F(Parse, EveryDropCounterHasACase)
{
	const std::vector<DropCase> cases = drop_cases();
	for (unsigned c : drop_counters()) {
		if (c == REASM_CTR_drop_zone_table_full)
			continue; /* not the frame's doing but a pool limit: test_zone.cpp */
		bool found = std::any_of(cases.begin(), cases.end(),
					 [&](const DropCase &d) { return d.counter == c; });
		EXPECT_TRUE(found) << reasm_counter_name(c) << " has no case";
	}
}

TEST_F(Parse, EachMalformedFrameBumpsExactlyItsCounter)
{
	Rig rig;
	for (const DropCase &c : drop_cases()) {
		SCOPED_TRACE(c.name + " -> " + reasm_counter_name(c.counter));
		check_one(rig, exact_mbuf(c.frame), v4(), dropped(c.counter));
		check_one(rig, to_mbuf(c.frame), v4(), dropped(c.counter));
		if (c.frame.size() > 1) /* the same, headers scattered over two segments */
			check_one(rig, exact_chain(c.frame, {c.frame.size() / 2,
							     c.frame.size() - c.frame.size() / 2}),
				  v4(), dropped(c.counter));
	}
	EXPECT_EQ(rig.rec.opened(), 0u);
	finish(rig);
}

TEST_F(Parse, BadTcpDataOffsetKeepsFlagsAndDropsPayload)
{
	Rig rig;
	uint16_t sport = 1;
	auto offset = [&](FrameSpec s, uint8_t doff) {
		return edited(s, [&](Bytes &f, const FrameLayout &l) {
			f[l.l4 + 12] = (uint8_t)(doff << 4);
		});
	};
	for (int fam : {4, 6}) {
		FrameSpec s = fam == 4 ? v4(10, sport++) : v6(10, sport++);
		SCOPED_TRACE("family " + std::to_string(fam) + ", data offset 4");
		check_one(rig, exact_mbuf(offset(s, 4)), s, bad_offset());
		s.sport = sport++;
		SCOPED_TRACE("data offset 0");
		check_one(rig, exact_mbuf(offset(s, 0)), s, bad_offset());
		s.sport = sport++;
		SCOPED_TRACE("data offset 15 past the 30-byte TCP packet");
		check_one(rig, exact_mbuf(offset(s, 15)), s, bad_offset());
		s = fam == 4 ? v4(2, sport++) : v6(2, sport++);
		s.eth_padding = 20; /* padding must not count as TCP bytes */
		SCOPED_TRACE("data offset 6 past the 22-byte TCP packet, padding after");
		check_one(rig, exact_mbuf(offset(s, 6)), s, bad_offset());
	}

	/* A FIN with a bad offset still closes its stream, at an empty record. */
	FrameSpec open = v4(3, sport++);
	EXPECT_EQ(burst(rig, {to_mbuf(frame_of(open))}), 1u);
	FrameSpec fin = open;
	fin.flags = REASM_TCP_FIN;
	fin.seq = 1004;
	fin.payload = {1, 2, 3};
	const Stats before = stats(rig);
	EXPECT_EQ(burst(rig, {exact_mbuf(offset(fin, 3))}), 1u);
	EXPECT_EQ((stats(rig) - before)[REASM_CTR_tcp_bad_offset], 1u);
	std::vector<Rec> recs = rig.rec.take();
	ASSERT_EQ(recs.size(), 2u) << describe(recs);
	EXPECT_EQ(recs[0].bytes, open.payload);
	EXPECT_TRUE(recs[1].bytes.empty());
	EXPECT_TRUE(recs[1].end);
	EXPECT_EQ(rig.rec.streams().back()->completes, 1);
	finish(rig);
}

TEST_F(Parse, IpLengthPastTheFrameCutsThePayloadAndAssembles)
{
	Rig rig;
	uint16_t sport = 1;
	for (int fam : {4, 6}) {
		for (size_t vlans : {0, 1}) {
			FrameSpec s = fam == 4 ? v4(10, sport++) : v6(10, sport++);
			s.vlans.assign(vlans, 3);
			const size_t field = fam == 4 ? 2 : 4;
			Bytes f = edited(s, [&](Bytes &fr, const FrameLayout &l) {
				put16(fr, l.l3 + field, (uint16_t)(get16(fr, l.l3 + field) + 10));
			});
			SCOPED_TRACE("family " + std::to_string(fam) + ", claims 10 more bytes");
			check_one(rig, exact_mbuf(f), s, assembled(s.payload, true));
			/* The same, cut inside the payload: what is there is delivered. */
			s.sport = sport++;
			f = truncated(frame_of(s), frame_of(s).size() - 4);
			check_one(rig, exact_mbuf(f), s,
				  assembled(Bytes(s.payload.begin(), s.payload.end() - 4), true));
		}
	}
	finish(rig);
}

TEST_F(Parse, BytesCutFromFramesAreCountedInTheirStream)
{
	/* A port that cuts frames (af_packet's framesz, a snaplen) loses bytes a
	 * user must be able to see per stream, even at the stream's tail where no
	 * later record shows a skip. */
	Rig rig;
	uint16_t sport = 1;
	for (int fam : {4, 6}) {
		for (size_t vlans : {0, 1}) {
			FrameSpec s = fam == 4 ? v4(0, sport++) : v6(0, sport++);
			s.vlans.assign(vlans, 3);
			SCOPED_TRACE("family " + std::to_string(fam) + ", vlans " +
				     std::to_string(vlans));
			const Stats before = stats(rig);
			burst(rig, {exact_mbuf(frame_of(s))}); /* the SYN */
			s.flags = 0;
			s.seq = 1001;
			s.payload = pattern(100, 1);
			burst(rig, {exact_mbuf(truncated(frame_of(s), frame_of(s).size() - 30))});
			s.seq = 1101;
			s.payload = pattern(200, 2);
			burst(rig, {exact_mbuf(truncated(frame_of(s), frame_of(s).size() - 7))});
			const Stats d = stats(rig) - before;
			EXPECT_EQ(d[REASM_CTR_ip_len_past_frame], 2u);
			EXPECT_EQ(d[REASM_CTR_ip_len_past_frame_bytes], 37u);
			reasm_flush_all(rig.asm_);
			const StreamLog *log = rig.rec.streams().back();
			EXPECT_EQ(log->totals.cut_bytes, 37u);
			EXPECT_EQ(log->totals.received_bytes, 300u - 37u);
			EXPECT_EQ(log->totals.delivered_bytes, 300u - 37u);
			rig.rec.take();
		}
	}
	finish(rig);
}

/* ------------------------------------------------------------------ */
/* Frames cut at every byte                                            */
/* ------------------------------------------------------------------ */

/* What gopacket makes of frame_of(s) cut to its first `cut` bytes. */
Expect model_cut(const FrameSpec &s, size_t cut)
{
	const FrameLayout l = frame_layout(s);
	if (cut < l.l3)
		return dropped(REASM_CTR_drop_l2_truncated);
	const size_t avail = cut - l.l3;
	const size_t tcp_len = 20 + s.tcp_options_len + s.payload.size();
	size_t rest;
	int past;
	if (s.family == 4) {
		const size_t hl = 20 + s.ipv4_options_len, total = hl + tcp_len;
		if (avail < 20 || (total > avail && hl > avail))
			return dropped(REASM_CTR_drop_ipv4_truncated);
		rest = std::min(total, avail) - hl;
		past = total > avail ? 1 : 0;
	} else {
		if (avail < 40)
			return dropped(REASM_CTR_drop_ipv6_truncated);
		size_t data = avail - 40;
		const size_t plen = 8 * s.ipv6_ext.size() + tcp_len;
		size_t i = 0;
		rest = std::min(plen, data);
		past = plen > data ? 1 : 0;
		if (!s.ipv6_ext.empty() && s.ipv6_ext[0] == 0) {
			/* Decoded from the whole frame; what follows it is its
			 * payload, to the frame's end: the payload length is unused. */
			if (data < 8)
				return dropped(REASM_CTR_drop_ipv6_ext_truncated);
			/* gopacket wants 2 bytes left at every TLV option, its last
			 * Pad1 included, so the data must go on after a hop-by-hop
			 * or destination header: truncated, a bad option or TCP
			 * missing, any one counter will do. */
			if (data == 8)
				return dropped(kAnyDrop);
			rest = data - 8;
			past = kPastAny;
			i = 1;
		}
		for (; i < s.ipv6_ext.size(); i++) {
			const size_t hlen = s.ipv6_ext[i] == 51 ? 16 : 8; /* frame_of's AH */
			if (rest < hlen)
				return dropped(REASM_CTR_drop_ipv6_ext_truncated);
			if (rest == hlen && s.ipv6_ext[i] != 43 && s.ipv6_ext[i] != 51)
				return dropped(kAnyDrop); /* the Pad1 rule again */
			rest -= hlen;
			i += s.ipv6_ext[i] == 51;
		}
	}
	if (rest < 20)
		return dropped(REASM_CTR_drop_tcp_truncated);
	if (rest < 20 + s.tcp_options_len)
		return bad_offset(past);
	const size_t n = rest - 20 - s.tcp_options_len;
	return assembled(Bytes(s.payload.begin(), s.payload.begin() + n), past);
}

std::vector<Shape> cut_shapes()
{
	std::vector<Shape> out;
	FrameSpec s = v4(6);
	out.push_back({"ipv4", s, 0});
	s.vlans = {10};
	out.push_back({"ipv4 802.1Q", s, 0});
	s.vlans = {10, 20, 30};
	s.qinq = true;
	out.push_back({"ipv4 QinQ + two tags", s, 0});
	s = v4(6);
	s.vlans = {10};
	s.ipv4_options_len = 12;
	s.tcp_options_len = 8;
	out.push_back({"ipv4 802.1Q options", s, 0});
	s = v4(6);
	s.ipv4_options_len = 40;
	s.tcp_options_len = 40;
	out.push_back({"ipv4 40+40 bytes of options", s, 0});
	s = v6(6);
	out.push_back({"ipv6", s, 0});
	s.vlans = {10, 20};
	s.qinq = true;
	out.push_back({"ipv6 QinQ", s, 0});
	s = v6(6);
	s.ipv6_ext = {0, 43, 60};
	s.tcp_options_len = 12;
	out.push_back({"ipv6 hop-by-hop routing dest", s, 0});
	s = v6(6);
	s.vlans = {10};
	s.ipv6_ext = {60, 51, 60, 43};
	out.push_back({"ipv6 802.1Q dest AH routing", s, 0});
	s = v6(6);
	s.ipv6_ext = {51, 60};
	out.push_back({"ipv6 AH", s, 0});
	return out;
}

TEST_F(Parse, FramesCutAtEveryByteFollowGopacket)
{
	Rig rig;
	uint16_t sport = 1;
	for (const Shape &sh : cut_shapes()) {
		const size_t len = frame_of(sh.spec).size();
		const int before = failures();
		for (size_t cut = 0; cut <= len && failures() == before; cut++) {
			SCOPED_TRACE(sh.name + " cut to " + std::to_string(cut) + " of " +
				     std::to_string(len));
			FrameSpec s = with_sport(sh.spec, sport++);
			Expect want = model_cut(s, cut);
			Bytes full = frame_of(s);
			check_one(rig, exact_mbuf(truncated(full, cut)), s, want);
			s.sport = sport++;
			full = frame_of(s);
			check_one(rig, mbuf_with_tail(full, cut), s, want);
		}
	}
	finish(rig);
}

/* ------------------------------------------------------------------ */
/* Random garbage                                                      */
/* ------------------------------------------------------------------ */

Bytes random_frame(std::mt19937 &rng)
{
	auto pick = [&](unsigned n) { return (unsigned)(rng() % n); };
	Bytes f;
	switch (pick(3)) {
	case 0: /* noise */
		f.resize(pick(160));
		for (auto &b : f)
			b = (uint8_t)rng();
		return f;
	case 1: { /* noise behind a plausible ethertype */
		f.resize(14 + pick(120));
		for (auto &b : f)
			b = (uint8_t)rng();
		static const uint16_t types[] = {0x0800, 0x86dd, 0x8100, 0x88a8};
		put16(f, 12, types[pick(4)]);
		if (get16(f, 12) == 0x0800 && f.size() > 14)
			f[14] = (uint8_t)(0x40 | (f[14] & 0x0f));
		return f;
	}
	default: { /* a valid frame with a few bytes changed, maybe cut */
		FrameSpec s = pick(2) ? v4(pick(40)) : v6(pick(40));
		s.sport = (uint16_t)pick(64);
		s.seq = rng();
		s.flags = (uint8_t)pick(8);
		s.vlans.assign(pick(3), 1);
		s.qinq = pick(2);
		if (s.family == 4) {
			s.ipv4_options_len = 4 * pick(11);
		} else {
			static const uint8_t ext[] = {0, 43, 60, 51, 44, 6};
			s.ipv6_ext.resize(pick(4));
			for (auto &e : s.ipv6_ext)
				e = ext[pick(5)];
		}
		s.tcp_options_len = 4 * pick(11);
		s.eth_padding = pick(3) == 0 ? pick(20) : 0;
		f = build_frame(s); /* AH of 8 bytes and all: garbage is welcome here */
		for (unsigned n = pick(4); n > 0; n--)
			f[pick((unsigned)f.size())] = (uint8_t)rng();
		if (pick(3) == 0)
			f.resize(pick((unsigned)f.size() + 1));
		return f;
	}
	}
}

TEST_F(Parse, RandomGarbageIsCountedAndNeverCrashes)
{
	RigOptions opt;
	opt.max_conns = 4096;
	opt.n_pages = 512; /* small: running out is part of the test */
	Rig rig(opt);
	std::mt19937 rng(20260127);
	unsigned frames = 0, bursts = 0;
	while (frames < 6000) {
		const unsigned n = 1 + rng() % 100;
		std::vector<struct rte_mbuf *> ms;
		std::vector<uint64_t> ts;
		for (unsigned i = 0; i < n; i++) {
			Bytes f = random_frame(rng);
			if (f.size() > 2 && rng() % 4 == 0)
				ms.push_back(exact_chain(f, split(f.size(), 1 + rng() % (f.size() - 1),
								  1 + rng() % 40)));
			else
				ms.push_back(exact_mbuf(f));
			ts.push_back(frames + i);
		}
		const Stats before = stats(rig);
		const unsigned got = burst(rig, ms, rng() % 2 ? ts.data() : nullptr, frames);
		const Stats d = stats(rig) - before;
		ASSERT_EQ(d[REASM_CTR_pkts], n);
		ASSERT_EQ(d[REASM_CTR_pkts_tcp], got);
		ASSERT_EQ(drops_total(d) + d[REASM_CTR_pkts_tcp], n) << "burst " << bursts;
		ASSERT_EQ(d[REASM_CTR_segs], got);
		frames += n;
		if (++bursts % 16 == 0)
			reasm_flush_all(rig.asm_);
	}
	const Stats total = stats(rig);
	EXPECT_EQ(total[REASM_CTR_pkts], frames);
	/* The mix reaches every stage of the parser. */
	EXPECT_GT(total[REASM_CTR_pkts_tcp], frames / 20);
	EXPECT_GT(drops_total(total), frames / 2);
	finish(rig);
}

} // namespace
