/* SPDX-License-Identifier: BSD-3-Clause
 * Zones (struct reasm_pool_conf.max_zones, lib/reasm/reasm_zone.c): the VLAN
 * id and tunnel id in the key, for overlapping address spaces.
 *
 * Covers: one 4-tuple in two VLANs, two VNIs, two MPLS labels: two streams
 * with zones, one without (gopacket's key); the zone table full (dropped and
 * counted) and a zone freed for another once its connections closed; a
 * datagram reassembled by another assembler and handed over keeps its
 * zone and encapsulation (the shim); bad configurations refused.
 */
#include <gtest/gtest.h>

#include <rte_errno.h>

#include <string>
#include <vector>

#include "encap.h"
#include "frame_cases.h"

using namespace reasm_test;

namespace {

class Zone : public FrameTest {};

RigOptions with_zones(uint32_t max_zones = 64)
{
	RigOptions o;
	o.max_zones = max_zones;
	return o;
}

/* @p s (a SYN with payload) as a frame in VLAN @p tag. */
Bytes in_vlan(FrameSpec s, uint16_t tag)
{
	s.vlans = {tag};
	return frame_of(s);
}

EncapSpec vxlan(uint32_t vni)
{
	EncapSpec e;
	e.kind = Encap::Vxlan;
	e.id = vni;
	return e;
}

uint64_t ctr(Rig &rig, unsigned c)
{
	return stats(rig)[c];
}

TEST_F(Zone, OneTupleInTwoVlansTwoVnisTwoLabelsIsTwoStreams)
{
	FrameSpec s = v4(100, 5);
	EncapSpec m1, m2;
	m1.kind = m2.kind = Encap::Mpls;
	m1.id = 100;
	m2.id = 200;
	const std::vector<std::pair<std::string, std::pair<Bytes, Bytes>>> cases = {
		{"vlan 10 / vlan 20", {in_vlan(s, 10), in_vlan(s, 20)}},
		{"vni 1 / vni 2", {wrap(frame_of(s), vxlan(1)), wrap(frame_of(s), vxlan(2))}},
		{"label 100 / label 200", {wrap(frame_of(s), m1), wrap(frame_of(s), m2)}},
		{"plain / vlan 10", {frame_of(s), in_vlan(s, 10)}},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.first);
		{
			Rig zoned(with_zones());
			burst(zoned, {exact_mbuf(c.second.first)});
			burst(zoned, {exact_mbuf(c.second.second)});
			ASSERT_EQ(zoned.rec.streams().size(), 2u);
			EXPECT_NE(memcmp(&zoned.rec.streams()[0]->flow, &zoned.rec.streams()[1]->flow,
					 sizeof(struct reasm_flow)),
				  0);
			std::vector<Rec> recs = zoned.rec.take();
			ASSERT_EQ(recs.size(), 2u);
			EXPECT_EQ(recs[0].bytes, s.payload);
			EXPECT_EQ(recs[1].bytes, s.payload); /* not an overlap of the first */
			EXPECT_EQ(reasm_pool_zones_in_use(zoned.pool),
				  c.first.rfind("plain", 0) == 0 ? 1u : 2u);
			finish(zoned);
		}
		{
			Rig plain; /* gopacket's key: one stream, the second copy an overlap */
			burst(plain, {exact_mbuf(c.second.first)});
			burst(plain, {exact_mbuf(c.second.second)});
			EXPECT_EQ(plain.rec.streams().size(), 1u);
			EXPECT_EQ(ctr(plain, REASM_CTR_overlap_bytes), s.payload.size());
			plain.rec.take();
			finish(plain);
		}
	}
}

TEST_F(Zone, FullTableDropsNewZonesUntilOneIsFree)
{
	Rig rig(with_zones(8));
	uint16_t sport = 1;
	for (uint16_t tag = 1; tag <= 8; tag++)
		burst(rig, {exact_mbuf(in_vlan(v4(10, sport++), tag))});
	EXPECT_EQ(reasm_pool_zones_in_use(rig.pool), 8u);
	/* A ninth VLAN: no zone left while every one holds a stream. */
	EXPECT_EQ(burst(rig, {exact_mbuf(in_vlan(v4(10, sport++), 9))}), 0u);
	EXPECT_EQ(ctr(rig, REASM_CTR_drop_zone_table_full), 1u);
	EXPECT_EQ(rig.rec.streams().size(), 8u);
	/* A known zone still works. */
	EXPECT_EQ(burst(rig, {exact_mbuf(in_vlan(v4(10, sport++), 3))}), 1u);
	/* Close VLAN 1's stream (RST): its zone goes to VLAN 9. */
	FrameSpec rst = v4(0, 1);
	rst.seq = 1001 + 10;
	rst.flags = REASM_TCP_RST;
	burst(rig, {exact_mbuf(in_vlan(rst, 1))});
	EXPECT_EQ(burst(rig, {exact_mbuf(in_vlan(v4(10, 100), 9))}), 1u);
	EXPECT_EQ(ctr(rig, REASM_CTR_drop_zone_table_full), 1u);
	EXPECT_EQ(rig.rec.streams().size(), 10u);
	EXPECT_EQ(reasm_pool_zones_in_use(rig.pool), 8u);
	rig.rec.take();
	finish(rig);
}

TEST_F(Zone, HandedOverDatagramKeepsItsZoneAndEncapsulation)
{
	/* Fragments reassembled by one assembler, their connection another's: the
	 * datagram travels with what was around its fragments (VLAN 7, VNI 4242). */
	Handed handed;
	RigOptions o;
	o.defrag.max_datagrams = 16;
	handed.steer(o.defrag);
	Rig first(o);
	EncapSpec e = vxlan(4242);
	e.vlans = {7};
	FrameSpec s = v4(600, 9);
	for (const Bytes &f : fragments_of(frame_of(s), {{320, 300}, {0, 320}}))
		burst(first, {exact_mbuf(wrap(f, e))});
	ASSERT_EQ(handed.frames.size(), 1u);
	EXPECT_EQ(stats(first)[REASM_CTR_pkts_decap], 1u); /* the tunnel was removed there */

	Rig owner(with_zones());
	/* The owner sees the connection's next segment directly first, then the datagram. */
	FrameSpec next = s;
	next.flags = 0;
	next.seq = s.seq + 1 + (uint32_t)s.payload.size();
	next.payload = pattern(50, 3);
	burst(owner, {exact_mbuf(wrap(frame_of(next), e))});
	burst(owner, {exact_mbuf(handed.frames[0])});
	ASSERT_EQ(owner.rec.streams().size(), 1u) << "the handed datagram went to another zone";
	const StreamLog *log = owner.rec.streams()[0];
	EXPECT_EQ(log->encap.layers, REASM_ENCAP_VLAN | REASM_ENCAP_VXLAN);
	EXPECT_EQ(log->encap.tunnel_id, 4242u);
	EXPECT_EQ(stats(owner)[REASM_CTR_pkts_decap], 1u); /* the direct frame only */
	std::vector<Rec> recs = owner.rec.take();
	Bytes all;
	for (const Rec &r : recs)
		all.insert(all.end(), r.bytes.begin(), r.bytes.end());
	Bytes want = s.payload;
	want.insert(want.end(), next.payload.begin(), next.payload.end());
	EXPECT_EQ(all, want);
	finish(owner);

	/* Opened by the handed datagram itself: open() learns the same. */
	Rig owner2(with_zones());
	burst(owner2, {exact_mbuf(handed.frames[0])});
	ASSERT_EQ(owner2.rec.streams().size(), 1u);
	EXPECT_EQ(owner2.rec.streams()[0]->encap_rc, 0);
	EXPECT_EQ(owner2.rec.streams()[0]->encap.layers, REASM_ENCAP_VLAN | REASM_ENCAP_VXLAN);
	EXPECT_EQ(owner2.rec.streams()[0]->encap.vlan, 7u);
	EXPECT_EQ(owner2.rec.streams()[0]->encap.tunnel_id, 4242u);
	EXPECT_EQ(stats(owner2)[REASM_CTR_pkts_decap], 0u);
	owner2.rec.take();
	finish(owner2);
	first.rec.take();
	finish(first);
}

TEST_F(Zone, AFrameFromTheWireCannotPassForAHandedOverOne)
{
	/* The shim's ethertype with a wrong cookie is an unknown ethertype. */
	Rig rig(with_zones());
	Bytes f = frame_of(v4(10, 1));
	Bytes shim(18, 0);
	shim[0] = 0x88;
	shim[1] = 0xb5;
	f.insert(f.begin() + 12, shim.begin(), shim.end());
	EXPECT_EQ(burst(rig, {exact_mbuf(f)}), 0u);
	EXPECT_EQ(stats(rig)[REASM_CTR_drop_not_ip], 1u);
	finish(rig);
}

TEST_F(Zone, BadConfigurationsAreRefused)
{
	struct reasm_pool_conf pc = {};
	pc.name = "zone_bad";
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = 64;
	pc.ops = &Recorder::ops;
	for (uint32_t zones : {1u, 7u, 1u << 24}) {
		pc.max_zones = zones;
		EXPECT_EQ(reasm_pool_create(&pc), nullptr) << zones;
		EXPECT_EQ(rte_errno, EINVAL);
	}
	pc.max_zones = 8;
	pc.mode = REASM_POOL_SHARED;
	EXPECT_EQ(reasm_pool_create(&pc), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
}

} // namespace
