/* SPDX-License-Identifier: BSD-3-Clause
 * Frames, mbufs, counter snapshots and one-frame expectations shared by the
 * parser suite (test_parse.cpp) and the burst-path suite (test_burst.cpp).
 * Header-only: every function is inline, each suite is its own binary.
 */
#ifndef REASM_TEST_FRAME_CASES_H
#define REASM_TEST_FRAME_CASES_H

#include <gtest/gtest.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "encap.h"
#include "frames.h"
#include "recorder.h"
#include "test_env.h"

#include "reasm.h"

namespace reasm_test
{

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kNow = 5000;

/* ------------------------------------------------------------------ */
/* Frames                                                              */
/* ------------------------------------------------------------------ */

/* Bytes that differ from their neighbours, so misplaced bytes show. */
inline Bytes
pattern(size_t n, unsigned seed = 1)
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + i / 251);
	return b;
}

inline void
put16(Bytes &f, size_t off, uint16_t v)
{
	f[off] = (uint8_t)(v >> 8);
	f[off + 1] = (uint8_t)v;
}

inline uint16_t
get16(const Bytes &f, size_t off)
{
	return (uint16_t)(f[off] << 8 | f[off + 1]);
}

/*
 * build_frame(s), with every IPv6 AH made valid: build_frame writes 8-byte
 * extension headers, but an AH is at least 12 bytes (gopacket's decoder
 * fails on a shorter one), so an AH absorbs the header listed after it
 * and becomes 16 bytes long: {51, X} is one AH.
 */
inline Bytes
frame_of(const FrameSpec &s)
{
	Bytes f = build_frame(s);
	const size_t l3 = frame_layout(s).l3;
	for (size_t i = 0; s.family == 6 && i < s.ipv6_ext.size(); i++) {
		if (s.ipv6_ext[i] != 51)
			continue;
		if (i + 1 == s.ipv6_ext.size()) {
			fprintf(stderr, "frame_of: an AH needs a header after it to absorb\n");
			abort();
		}
		const size_t h = l3 + 40 + 8 * i;
		f[h] = f[h + 8];
		f[h + 1] = 2; /* (2 + 2) * 4 = 16 bytes */
		std::fill(f.begin() + h + 8, f.begin() + h + 16, 0);
		i++;
	}
	return f;
}

/* A frame of spec s, edited by fn(frame, layout). */
template <typename Fn>
inline Bytes
edited(const FrameSpec &s, Fn fn)
{
	Bytes f = frame_of(s);
	fn(f, frame_layout(s));
	return f;
}

inline Bytes
truncated(Bytes f, size_t len)
{
	f.resize(len);
	return f;
}

/* A SYN with payload on a fresh IPv4 flow: opens a stream and delivers {start}[payload]. */
inline FrameSpec
v4(size_t payload_len = 10, uint16_t sport = 40000)
{
	FrameSpec s;
	s.src = {{10, 0, 0, 1}};
	s.dst = {{10, 0, 0, 2}};
	s.sport = sport;
	s.dport = 80;
	s.seq = 1000;
	s.flags = REASM_TCP_SYN;
	s.payload = pattern(payload_len, sport);
	return s;
}

/* The same over IPv6, with all 16 address bytes significant. */
inline FrameSpec
v6(size_t payload_len = 10, uint16_t sport = 40000)
{
	FrameSpec s = v4(payload_len, sport);
	s.family = 6;
	for (int i = 0; i < 16; i++) {
		s.src[i] = (uint8_t)(0x20 + i);
		s.dst[i] = (uint8_t)(0xa0 + i);
	}
	return s;
}

inline FrameSpec
with_sport(FrameSpec s, uint16_t sport)
{
	s.sport = sport;
	return s;
}

inline std::string
flow_str(const struct reasm_flow &f)
{
	char buf[128];
	reasm_flow_format(&f, buf, sizeof(buf));
	return buf;
}

/* ------------------------------------------------------------------ */
/* Mbufs                                                               */
/* ------------------------------------------------------------------ */

/* An external buffer of exactly one segment's size: ASan flags any read past it. */
struct ExactBuf {
	void *data;
	struct rte_mbuf_ext_shared_info shinfo;
};

inline void
free_exact(void *addr, void *opaque)
{
	(void)addr;
	ExactBuf *x = static_cast<ExactBuf *>(opaque);
	::operator delete(x->data);
	delete x;
}

inline struct rte_mbuf *
exact_seg(const uint8_t *p, size_t n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mbuf_pool());
	if (m == nullptr) {
		fprintf(stderr, "test mbuf pool exhausted\n");
		abort();
	}
	ExactBuf *x = new ExactBuf();
	x->data = ::operator new(n);
	if (n > 0)
		memcpy(x->data, p, n);
	x->shinfo.free_cb = free_exact;
	x->shinfo.fcb_opaque = x;
	rte_mbuf_ext_refcnt_set(&x->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, x->data, 0, (uint16_t)n, &x->shinfo);
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	return m;
}

/* A chain of exact-size external buffers with the given segment lengths. */
inline struct rte_mbuf *
exact_chain(const Bytes &bytes, const std::vector<size_t> &lens)
{
	struct rte_mbuf *head = nullptr, *tail = nullptr;
	size_t off = 0;
	for (size_t len : lens) {
		struct rte_mbuf *m = exact_seg(bytes.data() + off, len);
		off += len;
		if (head == nullptr) {
			head = m;
		} else {
			tail->next = m;
			head->nb_segs++;
			head->pkt_len += (uint32_t)len;
		}
		tail = m;
	}
	if (off != bytes.size()) {
		fprintf(stderr, "exact_chain: segments cover %zu of %zu bytes\n", off,
			bytes.size());
		abort();
	}
	return head;
}

inline struct rte_mbuf *
exact_mbuf(const Bytes &bytes)
{
	return exact_chain(bytes, {bytes.size()});
}

/* The first len bytes of full, with the rest of full left in the tailroom. */
inline struct rte_mbuf *
mbuf_with_tail(const Bytes &full, size_t len)
{
	struct rte_mbuf *m = to_mbuf(full);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

/* Segment lengths: first, then every seg bytes. */
inline std::vector<size_t>
split(size_t total, size_t first, size_t seg)
{
	std::vector<size_t> lens{std::min(first, total)};
	for (size_t off = lens[0]; off < total; off += seg)
		lens.push_back(std::min(seg, total - off));
	return lens;
}

/* One burst; frees the mbufs after the call, as the caller owns them. */
inline unsigned
burst(Rig &rig, const std::vector<struct rte_mbuf *> &ms, const uint64_t *ts = nullptr,
      uint64_t now = kNow)
{
	unsigned n = reasm_assemble_burst(rig.asm_, ms.data(), (uint16_t)ms.size(), ts, now);
	for (struct rte_mbuf *m : ms)
		rte_pktmbuf_free(m);
	return n;
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */
/* ------------------------------------------------------------------ */

struct Stats {
	struct reasm_stats s {
	};
	uint64_t operator[](unsigned c) const
	{
		return s.v[c];
	}
};

inline Stats
stats(const Rig &rig)
{
	Stats st;
	reasm_assembler_stats(rig.asm_, &st.s);
	return st;
}

inline Stats
operator-(const Stats &a, const Stats &b)
{
	Stats d;
	for (unsigned i = 0; i < REASM_CTR_MAX; i++)
		d.s.v[i] = a.s.v[i] - b.s.v[i];
	return d;
}

/* Every counter whose name starts with "drop_": one per way a frame is dropped. */
inline std::vector<unsigned>
drop_counters()
{
	std::vector<unsigned> out;
	for (unsigned c = 0; c < REASM_CTR_MAX; c++)
		if (strncmp(reasm_counter_name(c), "drop_", 5) == 0)
			out.push_back(c);
	return out;
}

inline uint64_t
drops_total(const Stats &d)
{
	uint64_t n = 0;
	for (unsigned c : drop_counters())
		n += d[c];
	return n;
}

/* ------------------------------------------------------------------ */
/* One frame, one expectation                                          */
/* ------------------------------------------------------------------ */

/*
 * With a leading hop-by-hop header gopacket ignores the IPv6 payload
 * length: it decodes what follows from the hop-by-hop layer's own payload,
 * which runs to the end of the frame. Whether reasm counts such a frame in
 * ip_len_past_frame is its own choice.
 */
constexpr int kPastAny = -1;

/* Dropped, by exactly one drop counter, whichever (several describe the frame). */
constexpr int kAnyDrop = REASM_CTR_MAX;

/* What one SYN frame of a fresh flow should do. */
struct Expect {
	int drop = -1;           /* the drop counter, kAnyDrop, or -1: assembled */
	bool bad_offset = false; /* tcp_bad_offset counted: flags kept, payload ignored */
	/* ip_len_past_frame counted (1: payload cut at the frame end) or not (0);
	 * kPastAny: either (a leading hop-by-hop header, see below). */
	int past_frame = 0;
	Bytes payload; /* delivered as {start}[payload] when assembled */
};

inline Expect
dropped(unsigned counter)
{
	Expect e;
	e.drop = (int)counter;
	return e;
}

inline Expect
assembled(const Bytes &payload, int past_frame = 0)
{
	Expect e;
	e.payload = payload;
	e.past_frame = past_frame;
	return e;
}

inline Expect
bad_offset(int past_frame = 0)
{
	Expect e;
	e.bad_offset = true;
	e.past_frame = past_frame;
	return e;
}

/*
 * Feed one mbuf (spec's flow, SYN, not seen before) and check the counters,
 * the stream opened (or not), its key and its one record.
 */
inline void
check_one(Rig &rig, struct rte_mbuf *m, const FrameSpec &spec, const Expect &want)
{
	const Stats before = stats(rig);
	const size_t opened = rig.rec.opened();
	const unsigned got = burst(rig, {m});
	const Stats d = stats(rig) - before;
	const std::vector<Rec> recs = rig.rec.take();

	EXPECT_EQ(d[REASM_CTR_pkts], 1u);
	if (want.drop == kAnyDrop) {
		EXPECT_EQ(drops_total(d), 1u);
	} else {
		for (unsigned c : drop_counters())
			EXPECT_EQ(d[c], want.drop == (int)c ? 1u : 0u) << reasm_counter_name(c);
	}
	EXPECT_EQ(d[REASM_CTR_tcp_bad_offset], want.bad_offset ? 1u : 0u);
	if (want.past_frame != kPastAny) {
		EXPECT_EQ(d[REASM_CTR_ip_len_past_frame], (uint64_t)want.past_frame);
	}
	if (want.drop >= 0) {
		EXPECT_EQ(got, 0u);
		EXPECT_EQ(d[REASM_CTR_pkts_tcp], 0u);
		EXPECT_EQ(d[REASM_CTR_segs], 0u);
		EXPECT_EQ(rig.rec.opened(), opened) << "a dropped frame opened a stream";
		EXPECT_TRUE(recs.empty()) << describe(recs);
		return;
	}
	EXPECT_EQ(got, 1u);
	EXPECT_EQ(d[REASM_CTR_pkts_tcp], 1u);
	ASSERT_EQ(rig.rec.opened(), opened + 1) << "no stream opened";
	const struct reasm_flow want_flow = flow_of(spec);
	const struct reasm_flow got_flow = rig.rec.streams().back()->flow;
	EXPECT_EQ(memcmp(&got_flow, &want_flow, sizeof(want_flow)), 0)
		<< flow_str(got_flow) << " != " << flow_str(want_flow);
	ASSERT_EQ(recs.size(), 1u) << describe(recs);
	EXPECT_TRUE(recs[0].start);
	EXPECT_FALSE(recs[0].end);
	EXPECT_EQ(recs[0].skip, 0);
	EXPECT_EQ(recs[0].seen, kNow);
	EXPECT_EQ(recs[0].bytes, want.payload);
}

/* Failures so far in this test: loops over many similar frames stop at their first. */
inline int
failures()
{
	return ::testing::UnitTest::GetInstance()
		->current_test_info()
		->result()
		->total_part_count();
}

/*
 * Steering for a defragmenter that owns no connection: every datagram it
 * completes is handed off, and kept here as the frame the owner would get.
 */
struct Handed {
	std::vector<Bytes> frames;

	static bool owns_nothing(void *, const struct reasm_flow *)
	{
		return false;
	}
	static void keep(void *ctx, const uint8_t *frame, uint32_t len, uint64_t)
	{
		static_cast<Handed *>(ctx)->frames.emplace_back(frame, frame + len);
	}
	void steer(struct reasm_defrag_conf &c)
	{
		c.owns = owns_nothing;
		c.handoff = keep;
		c.steer_ctx = this;
	}
};

/* Flush, then nothing may be held: the end of every case. */
inline void
finish(Rig &rig)
{
	reasm_flush_all(rig.asm_);
	EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
	EXPECT_EQ(rig.rec.opened(), rig.rec.completed());
	EXPECT_TRUE(rig.pages_all_free()) << rig.pages_free() << " pages free";
	std::string why;
	EXPECT_TRUE(rig.bytes_conserved(&why)) << why;
}

inline bool
same_recs(const std::vector<Rec> &x, const std::vector<Rec> &y)
{
	if (x.size() != y.size())
		return false;
	for (size_t i = 0; i < x.size(); i++)
		if (x[i].bytes != y[i].bytes || x[i].skip != y[i].skip ||
		    x[i].start != y[i].start || x[i].end != y[i].end || x[i].seen != y[i].seen ||
		    x[i].cause != y[i].cause)
			return false;
	return true;
}

/* A frame shape and whether ip_len_past_frame may count for it. */
struct Shape {
	std::string name;
	FrameSpec spec;
	int past_frame; /* kPastAny with a leading hop-by-hop header */
};

struct DropCase {
	std::string name;
	Bytes frame;
	unsigned counter;
};

/*
 * Encapsulations reasm cannot follow, one or more per counter: @p add(name,
 * frame, counter), @p a and @p b an IPv4 and an IPv6 TCP frame to wrap.
 */
template <typename Add>
inline void
add_tunnel_drop_cases(Add add, const FrameSpec &a, const FrameSpec &b)
{
	const Bytes fa = frame_of(a), fb = frame_of(b);
	/* Offsets in wrap()'s outer IPv4 frames: GRE or UDP at 34, a UDP tunnel header at 42. */
	constexpr size_t kL4 = 34, kTun = 42;
	auto wrapped = [&](const Bytes &f, EncapSpec e, auto edit) {
		Bytes w = wrap(f, e);
		edit(w);
		return w;
	};
	auto cut = [](size_t n) { return [n](Bytes &w) { w.resize(n); }; };
	EncapSpec e;

	FrameSpec s = a;
	s.vlans = std::vector<uint16_t>(17, 3);
	add("17 VLAN tags", frame_of(s), REASM_CTR_drop_vlan_too_deep);

	e.kind = Encap::Mpls;
	add("MPLS label cut", wrapped(fa, e, cut(14 + 2)), REASM_CTR_drop_mpls_bad);
	add("MPLS without bottom of stack", wrapped(fa, e, cut(14 + 8)), REASM_CTR_drop_mpls_bad);
	e.mpls_labels = 17;
	add("17 MPLS labels", wrap(fa, e), REASM_CTR_drop_mpls_bad);
	e.mpls_labels = 1;
	add("MPLS payload neither IPv4 nor IPv6 (0x44)",
	    wrapped(fa, e, [](Bytes &w) { w[18] = 0x44; }), REASM_CTR_drop_mpls_bad);

	e = EncapSpec();
	e.kind = Encap::Pppoe;
	add("PPPoE header cut", wrapped(fa, e, cut(14 + 5)), REASM_CTR_drop_pppoe_bad);
	add("PPPoE carrying LCP (0xc021)", wrapped(fa, e, [](Bytes &w) { put16(w, 20, 0xc021); }),
	    REASM_CTR_drop_pppoe_bad);
	add("PPPoE length past the frame",
	    wrapped(fa, e, [](Bytes &w) { put16(w, 18, (uint16_t)(get16(w, 18) + 1)); }),
	    REASM_CTR_drop_pppoe_bad);
	add("PPPoE discovery code (PADT) on the session ethertype",
	    wrapped(fa, e, [](Bytes &w) { w[15] = 0xa7; }), REASM_CTR_drop_pppoe_bad);

	e = EncapSpec();
	e.kind = Encap::Gre;
	add("GRE header cut", wrapped(fa, e, cut(kL4 + 3)), REASM_CTR_drop_gre_bad);
	add("GRE key cut", wrapped(fa, e, cut(kL4 + 6)), REASM_CTR_drop_gre_bad);
	add("GRE routing present", wrapped(fa, e, [](Bytes &w) { w[34] |= 0x40; }),
	    REASM_CTR_drop_gre_bad);
	add("GRE acknowledgment cut (A bit, any version)",
	    wrapped(fa, e,
		    [](Bytes &w) {
			    w[35] |= 0x80;
			    w.resize(kL4 + 10);
		    }),
	    REASM_CTR_drop_gre_bad);
	add("GRE carrying ARP (0x0806)", wrapped(fa, e, [](Bytes &w) { put16(w, 36, 0x0806); }),
	    REASM_CTR_drop_gre_bad);
	e.kind = Encap::Pptp;
	add("PPTP GRE with PPP LCP",
	    wrapped(fa, e, [](Bytes &w) { put16(w, 34 + 16 + 2, 0xc021); }),
	    REASM_CTR_drop_gre_bad);

	e = EncapSpec();
	e.kind = Encap::Erspan2;
	add("ERSPAN II header cut", wrapped(fa, e, cut(kL4 + 8 + 5)), REASM_CTR_drop_erspan_bad);
	e.kind = Encap::Erspan3;
	e.opt = true;
	add("ERSPAN III subheader cut", wrapped(fa, e, cut(kL4 + 8 + 16)),
	    REASM_CTR_drop_erspan_bad);

	e = EncapSpec();
	e.kind = Encap::Vxlan;
	add("VXLAN header cut", wrapped(fa, e, cut(kTun + 4)), REASM_CTR_drop_vxlan_bad);

	e = EncapSpec();
	e.kind = Encap::Geneve;
	e.opt = true;
	add("Geneve options cut", wrapped(fb, e, cut(14 + 40 + 8 + 12)), REASM_CTR_drop_geneve_bad);
	e.opt = false;
	add("Geneve carrying ARP (0x0806)", wrapped(fb, e, [](Bytes &w) { put16(w, 64, 0x0806); }),
	    REASM_CTR_drop_geneve_bad);

	e = EncapSpec();
	e.kind = Encap::Gtpu;
	add("GTP-U message length past the datagram",
	    wrapped(fa, e,
		    [](Bytes &w) { put16(w, kTun + 2, (uint16_t)(get16(w, kTun + 2) + 1)); }),
	    REASM_CTR_drop_gtpu_bad);
	add("GTP-U extension header of length 0",
	    wrapped(fa, e, [](Bytes &w) { w[kTun + 12] = 0; }), REASM_CTR_drop_gtpu_bad);
	add("GTP-U optional fields cut", wrapped(fa, e, cut(kTun + 10)), REASM_CTR_drop_gtpu_bad);

	e = EncapSpec();
	e.kind = Encap::IpInIp4;
	add("IP in IP nested 9 times", wrap_all(fa, std::vector<EncapSpec>(9, e)),
	    REASM_CTR_drop_tunnel_too_deep);
}

/* Malformed frames, at least one per drop counter, each with the one counter it must bump. */
inline std::vector<DropCase>
drop_cases()
{
	std::vector<DropCase> out;
	auto add = [&](const std::string &name, Bytes f, unsigned c) {
		out.push_back({name, f, c});
	};
	const FrameSpec a = v4(10), b = v6(10);
	FrameSpec s;

	/* Ethernet */
	auto ethertype = [&](uint16_t type) {
		return edited(a, [&](Bytes &f, const FrameLayout &) { put16(f, 12, type); });
	};
	add("ARP", ethertype(0x0806), REASM_CTR_drop_not_ip);
	add("LLC length field", ethertype(0x002e), REASM_CTR_drop_not_ip);
	add("ethertype 0x05ff (LLC)", ethertype(0x05ff), REASM_CTR_drop_not_ip);
	add("0x9100 tag (unknown to gopacket)", ethertype(0x9100), REASM_CTR_drop_not_ip);
	add("IPX", ethertype(0x8137), REASM_CTR_drop_not_ip);
	s = a;
	s.vlans = {5};
	add("802.1Q then ARP",
	    edited(s, [](Bytes &f, const FrameLayout &) { put16(f, 16, 0x0806); }),
	    REASM_CTR_drop_not_ip);
	add("802.1Q then LLC",
	    edited(s, [](Bytes &f, const FrameLayout &) { put16(f, 16, 0x0040); }),
	    REASM_CTR_drop_not_ip);
	add("empty frame", {}, REASM_CTR_drop_l2_truncated);
	add("13 bytes", truncated(frame_of(a), 13), REASM_CTR_drop_l2_truncated);
	add("802.1Q announced, no tag", truncated(frame_of(s), 14), REASM_CTR_drop_l2_truncated);
	add("802.1Q tag cut", truncated(frame_of(s), 17), REASM_CTR_drop_l2_truncated);
	s.vlans = {5, 6};
	s.qinq = true;
	add("QinQ inner tag cut", truncated(frame_of(s), 20), REASM_CTR_drop_l2_truncated);

	/* IPv4 */
	add("IPv4 header of 19 bytes", truncated(frame_of(a), 14 + 19),
	    REASM_CTR_drop_ipv4_truncated);
	add("ethertype IPv4, nothing after", truncated(frame_of(a), 14),
	    REASM_CTR_drop_ipv4_truncated);
	add("IHL 15 past the frame, total length past it too",
	    edited(v4(0),
		   [](Bytes &f, const FrameLayout &l) {
			   f[l.l3] = 0x4f;
			   put16(f, l.l3 + 2, 60);
		   }),
	    REASM_CTR_drop_ipv4_truncated);
	add("IHL 4", edited(a, [](Bytes &f, const FrameLayout &l) { f[l.l3] = 0x44; }),
	    REASM_CTR_drop_ipv4_bad_header);
	add("IHL 0", edited(a, [](Bytes &f, const FrameLayout &l) { f[l.l3] = 0x40; }),
	    REASM_CTR_drop_ipv4_bad_header);
	add("total length 19",
	    edited(a, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 2, 19); }),
	    REASM_CTR_drop_ipv4_bad_header);
	s = a;
	s.ipv4_options_len = 4;
	add("total length 23 < IHL*4 = 24",
	    edited(s, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 2, 23); }),
	    REASM_CTR_drop_ipv4_bad_header);
	auto bad_option = [&](const Bytes &opts) {
		FrameSpec o = a;
		o.ipv4_options_len = (unsigned)opts.size();
		return edited(o, [&](Bytes &f, const FrameLayout &l) {
			std::copy(opts.begin(), opts.end(), f.begin() + l.l3 + 20);
		});
	};
	add("IPv4 option length 2", bad_option({7, 2, 1, 1}), REASM_CTR_drop_ipv4_bad_header);
	add("IPv4 option length 1", bad_option({7, 1, 1, 1}), REASM_CTR_drop_ipv4_bad_header);
	add("IPv4 option length 0", bad_option({7, 0, 1, 1}), REASM_CTR_drop_ipv4_bad_header);
	add("IPv4 option past the header", bad_option({1, 1, 7, 9, 0, 0, 0, 0}),
	    REASM_CTR_drop_ipv4_bad_header);
	add("IPv4 option without its length byte", bad_option({1, 1, 1, 7}),
	    REASM_CTR_drop_ipv4_bad_header);
	auto frag = [&](uint16_t v) {
		return edited(a, [&](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 6, v); });
	};
	add("IPv4 MF", frag(0x2000), REASM_CTR_drop_ipv4_fragment);
	add("IPv4 MF + DF", frag(0x6000), REASM_CTR_drop_ipv4_fragment);
	add("IPv4 offset 1", frag(0x0001), REASM_CTR_drop_ipv4_fragment);
	add("IPv4 last fragment, offset 0x1fff", frag(0x1fff), REASM_CTR_drop_ipv4_fragment);
	auto proto = [&](uint8_t p) {
		return edited(a, [&](Bytes &f, const FrameLayout &l) { f[l.l3 + 9] = p; });
	};
	add("IPv4 UDP", proto(17), REASM_CTR_drop_not_tcp);
	add("IPv4 ICMP", proto(1), REASM_CTR_drop_not_tcp);
	add("IPv4 ESP", proto(50), REASM_CTR_drop_not_tcp);
	add("IPv4 TCP header 19 bytes",
	    edited(v4(0),
		   [](Bytes &f, const FrameLayout &l) {
			   f.pop_back();
			   put16(f, l.l3 + 2, (uint16_t)(get16(f, l.l3 + 2) - 1));
		   }),
	    REASM_CTR_drop_tcp_truncated);
	s = v4(0);
	s.eth_padding = 10;
	add("IPv4 TCP header 19 bytes, padding after",
	    edited(s,
		   [](Bytes &f, const FrameLayout &l) {
			   put16(f, l.l3 + 2, (uint16_t)(get16(f, l.l3 + 2) - 1));
		   }),
	    REASM_CTR_drop_tcp_truncated);
	add("IPv4 total length 20: no TCP at all",
	    edited(a, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 2, 20); }),
	    REASM_CTR_drop_tcp_truncated);

	/* IPv6 */
	add("IPv6 header of 39 bytes", truncated(frame_of(b), 14 + 39),
	    REASM_CTR_drop_ipv6_truncated);
	add("ethertype IPv6, nothing after", truncated(frame_of(b), 14),
	    REASM_CTR_drop_ipv6_truncated);
	add("IPv6 payload length 0",
	    edited(b, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 4, 0); }),
	    REASM_CTR_drop_ipv6_bad_header);
	s = b;
	s.ipv6_ext = {0};
	add("IPv6 payload length 0, hop-by-hop without jumbogram",
	    edited(s, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 4, 0); }),
	    REASM_CTR_drop_ipv6_bad_header);
	auto long_ext = [&](std::vector<uint8_t> chain, size_t which, uint8_t len_field) {
		FrameSpec e = b;
		e.ipv6_ext = chain;
		return edited(e, [&](Bytes &f, const FrameLayout &l) {
			f[l.l3 + 40 + 8 * which + 1] = len_field;
		});
	};
	add("dest options claiming 2048 bytes", long_ext({60}, 0, 255),
	    REASM_CTR_drop_ipv6_ext_truncated);
	add("routing claiming 16 bytes past the end", long_ext({43}, 0, 5),
	    REASM_CTR_drop_ipv6_ext_truncated);
	add("leading hop-by-hop claiming 2048 bytes", long_ext({0}, 0, 255),
	    REASM_CTR_drop_ipv6_ext_truncated);
	add("second header of a chain claiming 2048 bytes", long_ext({43, 60}, 1, 255),
	    REASM_CTR_drop_ipv6_ext_truncated);
	add("AH claiming 1028 bytes", long_ext({51, 60}, 0, 255),
	    REASM_CTR_drop_ipv6_ext_truncated);
	add("IPv6 next header 60 with 1 byte after",
	    edited(v6(0),
		   [](Bytes &f, const FrameLayout &l) {
			   f.resize(l.l3 + 41);
			   f[l.l3 + 6] = 60;
			   put16(f, l.l3 + 4, 1);
		   }),
	    REASM_CTR_drop_ipv6_ext_truncated);
	s = b;
	s.ipv6_ext = {44};
	add("IPv6 fragment", frame_of(s), REASM_CTR_drop_ipv6_fragment);
	s.ipv6_ext = {60, 44};
	add("IPv6 dest then fragment", frame_of(s), REASM_CTR_drop_ipv6_fragment);
	s.ipv6_ext = {0, 43, 44};
	add("IPv6 hop-by-hop, routing, fragment", frame_of(s), REASM_CTR_drop_ipv6_fragment);
	auto next = [&](uint8_t p) {
		return edited(b, [&](Bytes &f, const FrameLayout &l) { f[l.l3 + 6] = p; });
	};
	add("IPv6 UDP", next(17), REASM_CTR_drop_not_tcp);
	add("IPv6 ICMPv6", next(58), REASM_CTR_drop_not_tcp);
	add("IPv6 no next header", next(59), REASM_CTR_drop_not_tcp);
	s = b;
	s.ipv6_ext = {60, 43};
	add("IPv6 dest, routing, then no next header",
	    edited(s, [](Bytes &f, const FrameLayout &l) { f[l.l3 + 48] = 59; }),
	    REASM_CTR_drop_not_tcp);
	add("IPv6 TCP header 19 bytes",
	    edited(v6(0),
		   [](Bytes &f, const FrameLayout &l) {
			   f.pop_back();
			   put16(f, l.l3 + 4, 19);
		   }),
	    REASM_CTR_drop_tcp_truncated);
	s = v6(0);
	s.vlans = {4};
	s.ipv6_ext = {60};
	s.eth_padding = 30;
	add("IPv6 802.1Q dest, TCP header 12 bytes, padding after",
	    edited(s, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 4, 8 + 12); }),
	    REASM_CTR_drop_tcp_truncated);
	add_tunnel_drop_cases(add, a, b);
	return out;
}

/* The fixture of both suites: every test mbuf back in its pool at the end. */
class FrameTest : public ::testing::Test
{
      protected:
	void SetUp() override
	{
		mbufs_before_ = rte_mempool_avail_count(mbuf_pool());
	}
	void TearDown() override
	{
		EXPECT_EQ(rte_mempool_avail_count(mbuf_pool()), mbufs_before_) << "mbuf leak";
	}

      private:
	unsigned mbufs_before_ = 0;
};

} // namespace reasm_test

#endif
