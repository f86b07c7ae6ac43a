/* SPDX-License-Identifier: BSD-3-Clause
 * Decapsulation (lib/reasm/reasm_decap.c): TCP inside the encapsulations real
 * links carry is found and keyed by its innermost IP layer.
 *
 * Covers:
 * - every encapsulation alone, over IPv4 and IPv6 inner traffic: MPLS (1, 2, 16
 *   labels), PPPoE sessions (with Ethernet padding), IPv4/IPv6 in IPv4/IPv6, GRE
 *   with every combination of checksum, key and sequence, GRE carrying Ethernet,
 *   ERSPAN II and III (with and without the platform subheader), PPTP's GRE
 *   version 1, VXLAN, Geneve (options, Ethernet or IP inside), GTP-U (0, 1 and 3
 *   extension headers), UDP tunnels by source port as well as destination port;
 * - outer VLAN and QinQ tags in front of MPLS and PPPoE (the two Zeek traces
 *   reasm used to drop), nested tunnels (VXLAN in GRE in MPLS, GTP-U in VXLAN,
 *   IP in IP 8 deep: the bound), inner VLAN tags;
 * - the key is the innermost IP layer's, the payload exact, pkts_decap counts
 *   each, the other counters do not move; frames cut at every byte of each
 *   shape: one outcome each, never a crash (exact-size buffers: ASan sees any
 *   over-read); a connection through a tunnel reassembled across segments;
 * - plain UDP to other ports stays drop_not_tcp;
 * - malformed and unusual headers read as gopacket reads them (tests named
 *   "...AsGopacket..."; docs/gopacket-differences.md, "Tunnels"): a PPPoE or
 *   GTP-U length past the bytes there are is dropped; PPPoE's version and
 *   type, GRE's version, GTP-U's version, message type and short message
 *   lengths are not read; GRE's A bit adds an acknowledgment in any version;
 *   a GTP-U T-PDU runs to the end of the datagram and may be PPP; GRE and
 *   Geneve carry MPLS, PPPoE and PPP; UDP lengths under 8 are refused and a
 *   destination port gopacket decodes as another protocol wins over a
 *   tunnel source port;
 * - where reasm departs on purpose (gopacket misreads the header, or reasm
 *   bounds the depth): MPLS stacks over 16 labels dropped, Geneve options
 *   skipped by their total length, GTP-U's E flag with a next type of 0 read
 *   as no extension header.
 * Every case ends with reasm_flush_all(), the page mempool full, no stream
 * open, and every test mbuf back in its pool.
 */
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "encap.h"
#include "frame_cases.h"

using namespace reasm_test;

namespace {

class Decap : public FrameTest {};

/* A SYN with payload inside @p layers (innermost first) is assembled, keyed by @p s. */
void expect_through(Rig &rig, const FrameSpec &s, const std::vector<EncapSpec> &layers)
{
	const Stats before = stats(rig);
	const Bytes f = wrap_all(frame_of(s), layers);

	check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	EXPECT_EQ((stats(rig) - before)[REASM_CTR_pkts_decap], layers.empty() ? 0u : 1u);
}

EncapSpec enc(Encap kind)
{
	EncapSpec e;
	e.kind = kind;
	return e;
}

std::vector<Encap> all_kinds()
{
	return {Encap::Mpls,    Encap::Pppoe, Encap::IpInIp4, Encap::IpInIp6,
		Encap::Gre,     Encap::GreTeb, Encap::Erspan2, Encap::Erspan3,
		Encap::Pptp,    Encap::Vxlan, Encap::Geneve,  Encap::Gtpu};
}

TEST_F(Decap, EveryEncapsulationAloneIpv4AndIpv6Inside)
{
	Rig rig;
	uint16_t sport = 1;
	for (Encap k : all_kinds())
		for (int fam : {4, 6}) {
			SCOPED_TRACE("kind " + std::to_string((int)k) + " inner IPv" +
				     std::to_string(fam));
			FrameSpec s = fam == 4 ? v4(33, sport++) : v6(33, sport++);
			expect_through(rig, s, {enc(k)});
		}
	finish(rig);
}

TEST_F(Decap, MplsStacksOfOneTwoAndSixteenLabels)
{
	Rig rig;
	uint16_t sport = 100;
	for (unsigned n : {1u, 2u, 16u}) {
		EncapSpec e = enc(Encap::Mpls);
		e.mpls_labels = n;
		expect_through(rig, v4(20, sport++), {e});
		expect_through(rig, v6(20, sport++), {e});
	}
	finish(rig);
}

TEST_F(Decap, GreWithEveryOptionalField)
{
	Rig rig;
	uint16_t sport = 200;
	for (int bits = 0; bits < 8; bits++) {
		EncapSpec e = enc(Encap::Gre);
		e.gre_csum = bits & 1;
		e.gre_key = bits & 2;
		e.gre_seq = bits & 4;
		SCOPED_TRACE("GRE flags " + std::to_string(bits));
		expect_through(rig, v4(12, sport++), {e});
		e.kind = Encap::GreTeb;
		expect_through(rig, v6(12, sport++), {e});
	}
	finish(rig);
}

TEST_F(Decap, ErspanIIIWithPlatformSubheaderAndGeneveOptions)
{
	Rig rig;
	EncapSpec e = enc(Encap::Erspan3);
	e.opt = true;
	expect_through(rig, v4(40, 301), {e});
	e = enc(Encap::Geneve);
	e.opt = true;
	expect_through(rig, v4(40, 302), {e});
	e.geneve_ether = false;
	expect_through(rig, v6(40, 303), {e});
	e.opt = false;
	expect_through(rig, v4(40, 304), {e});
	finish(rig);
}

TEST_F(Decap, GtpuWithZeroOneAndThreeExtensionHeaders)
{
	Rig rig;
	uint16_t sport = 400;
	for (unsigned n : {0u, 1u, 3u}) {
		EncapSpec e = enc(Encap::Gtpu);
		e.gtpu_ext = n;
		expect_through(rig, v4(25, sport++), {e});
		expect_through(rig, v6(25, sport++), {e});
	}
	finish(rig);
}

TEST_F(Decap, UdpTunnelsFoundBySourcePortToo)
{
	Rig rig;
	uint16_t sport = 500;
	for (Encap k : {Encap::Vxlan, Encap::Geneve, Encap::Gtpu}) {
		EncapSpec e = enc(k);
		e.udp_src_port = true;
		expect_through(rig, v4(9, sport++), {e});
	}
	finish(rig);
}

TEST_F(Decap, VlanAndQinqInFrontOfMplsAndPppoe)
{
	/* The shapes of the two Zeek traces reasm used to drop as drop_not_ip. */
	Rig rig;
	EncapSpec e = enc(Encap::Mpls);
	e.vlans = {100};
	expect_through(rig, v4(50, 601), {e});
	e = enc(Encap::Pppoe);
	e.vlans = {200, 300};
	expect_through(rig, v4(50, 602), {e});
	expect_through(rig, v6(50, 603), {e});
	finish(rig);
}

TEST_F(Decap, NestedTunnelsAndInnerVlans)
{
	Rig rig;
	FrameSpec s = v4(61, 701);
	s.vlans = {7};
	expect_through(rig, s, {enc(Encap::Vxlan), enc(Encap::Gre), enc(Encap::Mpls)});
	expect_through(rig, v6(61, 702), {enc(Encap::Gtpu), enc(Encap::Vxlan)});
	expect_through(rig, v4(61, 703),
		       {enc(Encap::IpInIp6), enc(Encap::Geneve), enc(Encap::Erspan2)});
	expect_through(rig, v4(61, 704), std::vector<EncapSpec>(8, enc(Encap::IpInIp4)));
	finish(rig);
}

TEST_F(Decap, PlainUdpToOtherPortsIsNotTcp)
{
	Rig rig;
	EncapSpec e = enc(Encap::Vxlan);
	Bytes f = wrap(frame_of(v4(10, 801)), e);
	put16(f, 34 + 2, 4790); /* VXLAN's port, off by one */
	check_one(rig, exact_mbuf(f), v4(10, 801), dropped(REASM_CTR_drop_not_tcp));
	finish(rig);
}

TEST_F(Decap, PaddingAfterTheTunnelIsNotDelivered)
{
	/* Ethernet padding after the tunnel: the inner IP length still bounds the payload. */
	Rig rig;
	for (Encap k : {Encap::Pppoe, Encap::Vxlan, Encap::Gtpu}) {
		const FrameSpec s = v4(5, (uint16_t)(900 + (int)k));
		Bytes f = wrap(frame_of(s), enc(k));
		f.insert(f.end(), 20, 0xee);
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	}
	finish(rig);
}

TEST_F(Decap, AConnectionThroughATunnelIsReassembled)
{
	/* Out-of-order segments of one connection inside VXLAN in MPLS. */
	Rig rig;
	const std::vector<EncapSpec> layers = {enc(Encap::Vxlan), enc(Encap::Mpls)};
	FrameSpec s = v4(0, 999);
	s.flags = REASM_TCP_SYN;
	s.seq = 100;
	const Bytes a = pattern(300, 1), b = pattern(200, 2);
	std::vector<struct rte_mbuf *> ms;
	ms.push_back(to_mbuf(wrap_all(frame_of(s), layers)));
	s.flags = 0;
	s.seq = 101 + 300;
	s.payload = b;
	ms.push_back(to_mbuf(wrap_all(frame_of(s), layers)));
	s.seq = 101;
	s.payload = a;
	ms.push_back(to_mbuf(wrap_all(frame_of(s), layers)));
	s.seq = 101 + 500;
	s.payload = {};
	s.flags = REASM_TCP_FIN;
	ms.push_back(to_mbuf(wrap_all(frame_of(s), layers)));
	EXPECT_EQ(burst(rig, ms), 4u);
	const std::vector<StreamLog *> st = rig.rec.streams();
	ASSERT_EQ(st.size(), 1u);
	Bytes want = a;
	want.insert(want.end(), b.begin(), b.end());
	EXPECT_EQ(concat(st[0]->recs), want);
	EXPECT_EQ(st[0]->completes, 1);
	EXPECT_EQ(stats(rig)[REASM_CTR_pkts_decap], 4u);
	finish(rig);
}

/* ---- malformed and unusual headers, as gopacket reads them ---------------- */

/* The tester's frames: inner 10.1.0.1:40000 -> 10.2.0.2:80, "hello tunnel world". */
const char *const kPppoeLengthPastFrame =
	"020000000002020000000001886411000005004600214500003a00010000400666b80a010001"
	"0a0200029c400050000003e9000000005018ffff72ab000068656c6c6f2074756e6e656c2077"
	"6f726c64";
const char *const kGtpuLengthPastDatagram =
	"02000000000202000000000108004500005e0007000040115d5dc613c801c613c902c3500868"
	"004a000030ff0044000000094500003a00010000400666b80a0100010a0200029c4000500000"
	"03e9000000005018ffff72ab000068656c6c6f2074756e6e656c20776f726c64";

Bytes from_hex(const std::string &hex)
{
	Bytes b;
	for (size_t i = 0; i + 1 < hex.size(); i += 2)
		b.push_back((uint8_t)std::stoul(hex.substr(i, 2), nullptr, 16));
	return b;
}

Bytes join(Bytes a, const Bytes &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

/* @p s's IP packet behind an MPLS label stack, or a PPPoE session and PPP (no Ethernet). */
Bytes mpls_of(const FrameSpec &s)
{
	const Bytes f = wrap(frame_of(s), enc(Encap::Mpls));
	return Bytes(f.begin() + 14, f.end());
}

Bytes pppoe_of(const FrameSpec &s)
{
	const Bytes f = wrap(frame_of(s), enc(Encap::Pppoe));
	return Bytes(f.begin() + 14, f.end());
}

/* A GTP-U header by hand: with S, PN or E set, the 4 optional bytes (next type 0). */
Bytes gtpu_header(uint8_t flags, uint8_t type, uint16_t msg_len)
{
	const Bytes h = {flags, type, (uint8_t)(msg_len >> 8), (uint8_t)msg_len, 0, 0, 0, 9};
	return (flags & 0x07) ? join(h, Bytes{0, 1, 0, 0}) : h;
}

/* @p tpdu in GTP-U (flags, type) whose message length is right. */
Bytes gtpu_frame(uint8_t flags, uint8_t type, const Bytes &tpdu)
{
	const uint16_t len = (uint16_t)(tpdu.size() + ((flags & 0x07) ? 4 : 0));
	return over_udp(2152, join(gtpu_header(flags, type, len), tpdu));
}

/* @p s's IP packet behind a GRE header (f0, f1 and the words after the first). */
Bytes gre_frame(uint8_t f0, uint8_t f1, const FrameSpec &s, unsigned extra_words)
{
	const uint16_t type = s.family == 4 ? 0x0800 : 0x86dd;
	Bytes h = {f0, f1, (uint8_t)(type >> 8), (uint8_t)type};
	h.insert(h.end(), 4 * extra_words, 0);
	return over_ipv4(47, join(h, ip_of(frame_of(s))));
}

/* @p payload behind a plain GRE header of protocol @p type. */
Bytes gre_over(uint16_t type, const Bytes &payload)
{
	return over_ipv4(47, join({0, 0, (uint8_t)(type >> 8), (uint8_t)type}, payload));
}

/* @p payload behind a Geneve header of protocol @p type, without options. */
Bytes geneve_over(uint16_t type, const Bytes &payload)
{
	return over_udp(6081,
			join({0, 0, (uint8_t)(type >> 8), (uint8_t)type, 0, 0, 42, 0}, payload));
}

/* PPP (two-byte protocol) around @p s's IP packet. */
Bytes ppp_of(const FrameSpec &s)
{
	return join({0x00, (uint8_t)(s.family == 4 ? 0x21 : 0x57)}, ip_of(frame_of(s)));
}

/* gopacket slices a PPPoE payload by the PPPoE length: past the frame, that fails. */
TEST_F(Decap, PppoeLengthPastTheFrameIsDroppedAsGopacket)
{
	Rig rig;
	check_one(rig, exact_mbuf(from_hex(kPppoeLengthPastFrame)), v4(),
		  dropped(REASM_CTR_drop_pppoe_bad));
	const FrameSpec s = v4(20, 1101);
	Bytes f = wrap(frame_of(s), enc(Encap::Pppoe));
	put16(f, 18, (uint16_t)(get16(f, 18) + 1));
	check_one(rig, exact_mbuf(f), s, dropped(REASM_CTR_drop_pppoe_bad));
	f.push_back(0xee); /* the byte it claims, as Ethernet padding: within the frame */
	check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	finish(rig);
}

TEST_F(Decap, PppoeVersionAndTypeAreNotReadAsGopacket)
{
	Rig rig;
	uint16_t sport = 1110;
	for (uint8_t version_type : {0x00, 0x21, 0xff}) {
		const FrameSpec s = v4(12, sport++);
		Bytes f = wrap(frame_of(s), enc(Encap::Pppoe));
		f[14] = version_type;
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	}
	/* The code is read: gopacket decodes PPP after a session's code 0 only. */
	Bytes f = wrap(frame_of(v4(12, sport)), enc(Encap::Pppoe));
	f[15] = 0xa7; /* PADT */
	check_one(rig, exact_mbuf(f), v4(), dropped(REASM_CTR_drop_pppoe_bad));
	finish(rig);
}

/* gopacket refuses a GTP-U message longer than the datagram, summing 8 + length in 16 bits. */
TEST_F(Decap, GtpuMessageLengthPastTheDatagramIsDroppedAsGopacket)
{
	Rig rig;
	check_one(rig, exact_mbuf(from_hex(kGtpuLengthPastDatagram)), v4(),
		  dropped(REASM_CTR_drop_gtpu_bad));
	uint16_t sport = 1120;
	const FrameSpec probe = v4(16, sport);
	const uint16_t right = get16(wrap(frame_of(probe), enc(Encap::Gtpu)), 44);
	const std::vector<std::pair<uint16_t, bool>> lengths = {
		{(uint16_t)(right + 1), false}, {0xfff7, false}, {0xfff8, true},
		{0xffff, true}, {0, true}, {(uint16_t)(right - 1), true}};
	for (const auto &l : lengths) {
		SCOPED_TRACE("message length " + std::to_string(l.first));
		const FrameSpec s = v4(16, sport++);
		Bytes f = wrap(frame_of(s), enc(Encap::Gtpu));
		put16(f, 44, l.first);
		check_one(rig, exact_mbuf(f), s,
			  l.second ? assembled(s.payload) : dropped(REASM_CTR_drop_gtpu_bad));
	}
	finish(rig);
}

/*
 * The message length does not bound the T-PDU: bytes after the message in the
 * datagram are the inner packet's, and IPv6 with a leading hop-by-hop header
 * gives them to TCP (the tester's 18 vs 24 bytes). IPv4's length still bounds.
 */
TEST_F(Decap, GtpuTpduRunsToTheDatagramsEndAsGopacket)
{
	Rig rig;
	const Bytes tail = {'A', 'B', 'C', 'D', 'E', 'F'};
	auto grown = [&](const FrameSpec &s) {
		Bytes f = join(wrap(frame_of(s), enc(Encap::Gtpu)), tail);
		put16(f, 16, (uint16_t)(get16(f, 16) + tail.size())); /* outer IPv4 length */
		put16(f, 38, (uint16_t)(get16(f, 38) + tail.size())); /* UDP length */
		return f;
	};
	FrameSpec s = v6(18, 1130);
	s.ipv6_ext = {0};
	check_one(rig, exact_mbuf(grown(s)), s, assembled(join(s.payload, tail), kPastAny));
	const FrameSpec t = v4(18, 1131);
	check_one(rig, exact_mbuf(grown(t)), t, assembled(t.payload));
	finish(rig);
}

TEST_F(Decap, GtpuVersionTypeAndShortLengthsAreNotReadAsGopacket)
{
	Rig rig;
	uint16_t sport = 1140;
	auto through = [&](uint8_t flags, uint8_t type) {
		SCOPED_TRACE("flags " + std::to_string(flags) + " type " + std::to_string(type));
		const FrameSpec s = v4(14, sport++);
		check_one(rig, exact_mbuf(gtpu_frame(flags, type, ip_of(frame_of(s)))), s,
			  assembled(s.payload));
	};
	for (uint8_t version : {0, 2, 7})
		through((uint8_t)(version << 5 | 0x10), 0xff);
	for (uint8_t type : {1, 26, 254}) /* echo request, error indication, end marker */
		through(0x30, type);
	/* S with a message length short of the optional fields. */
	for (uint16_t len : {0, 3}) {
		const FrameSpec s = v4(14, sport++);
		Bytes f = over_udp(2152, join(gtpu_header(0x32, 0xff, len), ip_of(frame_of(s))));
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	}
	finish(rig);
}

/* gopacket decodes a T-PDU by its version nibble: 4 IPv4, 6 IPv6, anything else PPP. */
TEST_F(Decap, GtpuCarriesPppAsGopacket)
{
	Rig rig;
	const FrameSpec a = v4(11, 1150), b = v6(11, 1151);
	auto gtpu = [](const Bytes &tpdu) { return exact_mbuf(gtpu_frame(0x30, 0xff, tpdu)); };
	check_one(rig, gtpu(join({0xff, 0x03}, ppp_of(a))), a, assembled(a.payload));
	check_one(rig, gtpu(join({0x57}, ip_of(frame_of(b)))), b, assembled(b.payload));
	check_one(rig, gtpu(join({0xff, 0x03, 0xc0, 0x21}, ip_of(frame_of(a)))), a,
		  dropped(REASM_CTR_drop_gtpu_bad));
	Bytes ihl4 = ip_of(frame_of(a));
	ihl4[0] = 0x44; /* version 4: IPv4's decoder refuses it, not the guess */
	check_one(rig, gtpu(ihl4), a, dropped(REASM_CTR_drop_ipv4_bad_header));
	finish(rig);
}

/* gopacket reads no GRE version; the A bit adds an acknowledgment field in any version. */
TEST_F(Decap, GreOfAnyVersionWithAcknowledgmentAsGopacket)
{
	Rig rig;
	uint16_t sport = 1160;
	auto through = [&](uint8_t f0, uint8_t f1, int family, unsigned extra_words) {
		SCOPED_TRACE("GRE " + std::to_string(f0) + " " + std::to_string(f1));
		const FrameSpec s = family == 4 ? v4(13, sport++) : v6(13, sport++);
		check_one(rig, exact_mbuf(gre_frame(f0, f1, s, extra_words)), s,
			  assembled(s.payload));
	};
	through(0x00, 0x80, 4, 1); /* the tester's: version 0, A, the acknowledgment */
	through(0x00, 0x01, 4, 0); /* version 1 carrying IPv4 */
	through(0x00, 0x01, 6, 0);
	through(0x30, 0x81, 4, 3); /* PPTP's fields around IPv4: key, sequence, ack */
	through(0x20, 0x07, 6, 1); /* version 7 with a key */
	/* The acknowledgment is part of the header: cut inside it, the header is short. */
	Bytes f = gre_frame(0x00, 0x80, v4(13, sport), 1);
	f.resize(34 + 6);
	check_one(rig, exact_mbuf(f), v4(), dropped(REASM_CTR_drop_gre_bad));
	finish(rig);
}

/* gopacket's EthernetType decoders behind GRE and Geneve: MPLS, PPPoE and PPP lead to IP. */
TEST_F(Decap, GreAndGeneveCarryMplsPppoeAndPppAsGopacket)
{
	Rig rig;
	uint16_t sport = 1170;
	auto through = [&](const Bytes &f, const FrameSpec &s) {
		check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	};
	for (int family : {4, 6}) {
		FrameSpec s = family == 4 ? v4(9, sport++) : v6(9, sport++);
		through(gre_over(0x8847, mpls_of(s)), s);
		s = with_sport(s, sport++);
		through(gre_over(0x8864, pppoe_of(s)), s);
		s = with_sport(s, sport++);
		through(gre_over(0x880b, ppp_of(s)), s);
		s = with_sport(s, sport++);
		through(geneve_over(0x8848, mpls_of(s)), s);
		s = with_sport(s, sport++);
		through(geneve_over(0x880b, ppp_of(s)), s);
	}
	/* A malformed inner layer is counted by its own counter. */
	Bytes f = gre_over(0x8847, mpls_of(v4(9, sport)));
	f.resize(34 + 4 + 2);
	check_one(rig, exact_mbuf(f), v4(), dropped(REASM_CTR_drop_mpls_bad));
	finish(rig);
}

TEST_F(Decap, UdpLengthAndPortsAsGopacket)
{
	Rig rig;
	uint16_t sport = 1180;
	/* A UDP length under 8 is refused; 0 (a jumbogram's) means the rest of the packet. */
	for (uint16_t ulen : {1, 7, 0}) {
		const FrameSpec s = v4(8, sport++);
		Bytes f = wrap(frame_of(s), enc(Encap::Vxlan));
		put16(f, 38, ulen);
		check_one(rig, exact_mbuf(f), s,
			  ulen == 0 ? assembled(s.payload) : dropped(REASM_CTR_drop_not_tcp));
	}
	/* A destination port gopacket decodes (DNS, RADIUS) wins over a tunnel source port. */
	EncapSpec e = enc(Encap::Vxlan);
	e.udp_src_port = true;
	for (uint16_t dport : {53, 1812}) {
		Bytes f = wrap(frame_of(v4(8, sport)), e);
		put16(f, 36, dport);
		check_one(rig, exact_mbuf(f), v4(), dropped(REASM_CTR_drop_not_tcp));
	}
	/* A tunnel destination port wins over a source port gopacket decodes. */
	const FrameSpec s = v4(8, sport++);
	Bytes f = wrap(frame_of(s), enc(Encap::Vxlan));
	put16(f, 34, 53);
	check_one(rig, exact_mbuf(f), s, assembled(s.payload));
	finish(rig);
}

/* ---- where reasm keeps to the specification (docs/gopacket-differences.md) ---- */

/* gopacket follows a label stack of any depth; reasm bounds the work at 16 labels. */
TEST_F(Decap, MplsStacksOver16LabelsAreDropped)
{
	Rig rig;
	for (unsigned n : {17u, 40u}) {
		EncapSpec e = enc(Encap::Mpls);
		e.mpls_labels = n;
		check_one(rig, exact_mbuf(wrap(frame_of(v4(8, 1190)), e)), v4(),
			  dropped(REASM_CTR_drop_mpls_bad));
	}
	finish(rig);
}

/*
 * GTP-U's E flag with a next extension type of 0: no extension header follows
 * (TS 29.281). gopacket reads one there regardless, from the T-PDU's first
 * bytes, and so misplaces the T-PDU or refuses the packet.
 */
TEST_F(Decap, GtpuEFlagWithNextTypeZeroHasNoExtensionHeader)
{
	Rig rig;
	const FrameSpec s = v4(14, 1195);
	check_one(rig, exact_mbuf(gtpu_frame(0x34, 0xff, ip_of(frame_of(s)))), s,
		  assembled(s.payload));
	finish(rig);
}

/*
 * Geneve options are skipped by the header's total length, as receivers skip
 * them; gopacket walks them and starts the payload where the walk ends, which
 * misplaces it after an option longer than the total, after one of 68 bytes or
 * more (it reads 4 of the 5 length bits) and after 248 bytes of options (its
 * offset is 8 bits).
 */
TEST_F(Decap, GeneveOptionsAreSkippedByTheirTotalLength)
{
	Rig rig;
	uint16_t sport = 1200;
	auto geneve = [](const Bytes &options, const Bytes &frame) {
		Bytes h = {(uint8_t)(options.size() / 4), 0, 0x65, 0x58, 0, 0, 42, 0};
		return over_udp(6081, join(join(h, options), frame));
	};
	auto option = [](uint8_t words, uint8_t length_field) {
		Bytes o = {0x01, 0x02, 0x03, length_field};
		o.insert(o.end(), 4 * (size_t)words, 0x02);
		return o;
	};
	const std::vector<Bytes> options = {
		option(1, 3),                                 /* claims 12 bytes, 4 there */
		option(16, 16),                               /* 68 bytes */
		join(option(30, 30), join(option(30, 30), option(0, 0)))}; /* 252 bytes */
	for (const Bytes &o : options) {
		const FrameSpec s = v4(10, sport++);
		check_one(rig, exact_mbuf(geneve(o, frame_of(s))), s, assembled(s.payload));
	}
	finish(rig);
}

/* Every prefix of a tunnelled frame: exactly one outcome, and never a crash. */
TEST_F(Decap, FramesCutAtEveryByteHaveOneOutcome)
{
	Rig rig;
	uint16_t sport = 1000;
	std::vector<Bytes> shapes;
	for (Encap k : all_kinds())
		shapes.push_back(wrap(frame_of(v6(16, sport++)), enc(k)));
	shapes.push_back(wrap_all(frame_of(v6(16, sport++)),
				  {enc(Encap::Vxlan), enc(Encap::Gre), enc(Encap::Mpls)}));
	/* The shapes read as gopacket reads them. */
	const FrameSpec s = v6(16, sport++);
	shapes.push_back(gre_frame(0x30, 0x81, s, 3)); /* key, sequence, acknowledgment */
	shapes.push_back(gre_over(0x8847, mpls_of(s)));
	shapes.push_back(gre_over(0x8864, pppoe_of(s)));
	shapes.push_back(geneve_over(0x880b, ppp_of(s)));
	shapes.push_back(gtpu_frame(0x30, 0xff, join({0xff, 0x03}, ppp_of(s))));
	shapes.push_back(over_udp(2152, join(gtpu_header(0x32, 0xff, 0), ip_of(frame_of(s)))));
	for (const Bytes &full : shapes) {
		const int before_failures = failures();
		for (size_t len = 0; len < full.size() && failures() == before_failures; len++) {
			const Stats before = stats(rig);
			const Bytes cut(full.begin(), full.begin() + (long)len);
			burst(rig, {exact_mbuf(cut)});
			const Stats d = stats(rig) - before;
			EXPECT_EQ(d[REASM_CTR_pkts], 1u);
			EXPECT_EQ(d[REASM_CTR_pkts_tcp] + drops_total(d), 1u) << "cut at " << len;
		}
		reasm_flush_all(rig.asm_);
	}
	finish(rig);
}

} // namespace
