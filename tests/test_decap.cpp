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
 * - plain UDP to other ports stays drop_not_tcp.
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

/* Every prefix of a tunnelled frame: exactly one outcome, and never a crash. */
TEST_F(Decap, FramesCutAtEveryByteHaveOneOutcome)
{
	Rig rig;
	uint16_t sport = 1000;
	std::vector<std::vector<EncapSpec>> shapes;
	for (Encap k : all_kinds())
		shapes.push_back({enc(k)});
	shapes.push_back({enc(Encap::Vxlan), enc(Encap::Gre), enc(Encap::Mpls)});
	for (const auto &layers : shapes) {
		const Bytes full = wrap_all(frame_of(v6(16, sport)), layers);
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
		sport++;
	}
	finish(rig);
}

} // namespace
