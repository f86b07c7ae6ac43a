/* SPDX-License-Identifier: BSD-3-Clause
 * reasm_assemble_burst(): the Ethernet/IP/TCP parser, its counters, and the
 * burst loop around it. The parser must find a TCP segment exactly where
 * gopacket.NewPacket(frame, LayerTypeEthernet, Default) finds a TCP
 * transport layer, with the same payload (expectations were checked against
 * gopacket 1.1.19 itself on every frame these tests build).
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
 * - multi-segment mbufs: payload spanning segments (zero-copy and buffered
 *   paths), headers split at every byte and in 1- and 3-byte segments;
 * - one case per drop counter: that counter +1, no other drop counter, no
 *   stream; tcp_bad_offset and ip_len_past_frame: counted and still
 *   assembled (flags kept, payload ignored / cut at the frame end);
 * - frames cut at every byte offset of valid frames, checked against a model
 *   of gopacket, in exact-size heap buffers (ASan sees any over-read) and in
 *   mbufs whose tailroom still holds the rest of the frame (an over-read
 *   changes the result);
 * - seeded random garbage: no crash, every mbuf counted exactly once;
 * - bursts give what reasm_assemble() gives one by one: several packets of
 *   one new connection in a burst, a FIN/RST closing a stream and the same
 *   4-tuple reopening in the same burst, a freed slot reused in a burst,
 *   table-full inside a burst, bursts larger than 64 with junk mixed in;
 * - per-packet timestamps vs NULL + now_ns; mbufs left unmodified; n == 0.
 * Every case ends with reasm_flush_all(), the page mempool full, no stream
 * open, and every test mbuf back in its pool.
 */
#include <gtest/gtest.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "frames.h"
#include "recorder.h"
#include "test_env.h"

#include "reasm.h"

using namespace reasm_test;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kNow = 5000;

/* ------------------------------------------------------------------ */
/* Frames                                                              */
/* ------------------------------------------------------------------ */

/* Bytes that differ from their neighbours, so misplaced bytes show. */
Bytes pattern(size_t n, unsigned seed = 1)
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + i / 251);
	return b;
}

void put16(Bytes &f, size_t off, uint16_t v)
{
	f[off] = (uint8_t)(v >> 8);
	f[off + 1] = (uint8_t)v;
}

uint16_t get16(const Bytes &f, size_t off)
{
	return (uint16_t)(f[off] << 8 | f[off + 1]);
}

/*
 * build_frame(s), with every IPv6 AH made valid: build_frame writes 8-byte
 * extension headers, but an AH is at least 12 bytes (gopacket's decoder
 * fails on a shorter one), so an AH absorbs the header listed after it
 * and becomes 16 bytes long: {51, X} is one AH.
 */
Bytes frame_of(const FrameSpec &s)
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
Bytes edited(const FrameSpec &s, Fn fn)
{
	Bytes f = frame_of(s);
	fn(f, frame_layout(s));
	return f;
}

Bytes truncated(Bytes f, size_t len)
{
	f.resize(len);
	return f;
}

/* A SYN with payload on a fresh IPv4 flow: opens a stream and delivers {start}[payload]. */
FrameSpec v4(size_t payload_len = 10, uint16_t sport = 40000)
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
FrameSpec v6(size_t payload_len = 10, uint16_t sport = 40000)
{
	FrameSpec s = v4(payload_len, sport);
	s.family = 6;
	for (int i = 0; i < 16; i++) {
		s.src[i] = (uint8_t)(0x20 + i);
		s.dst[i] = (uint8_t)(0xa0 + i);
	}
	return s;
}

FrameSpec with_sport(FrameSpec s, uint16_t sport)
{
	s.sport = sport;
	return s;
}

std::string flow_str(const struct reasm_flow &f)
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

void free_exact(void *addr, void *opaque)
{
	(void)addr;
	ExactBuf *x = static_cast<ExactBuf *>(opaque);
	::operator delete(x->data);
	delete x;
}

struct rte_mbuf *exact_seg(const uint8_t *p, size_t n)
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
struct rte_mbuf *exact_chain(const Bytes &bytes, const std::vector<size_t> &lens)
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
		fprintf(stderr, "exact_chain: segments cover %zu of %zu bytes\n", off, bytes.size());
		abort();
	}
	return head;
}

struct rte_mbuf *exact_mbuf(const Bytes &bytes)
{
	return exact_chain(bytes, {bytes.size()});
}

/* The first len bytes of full, with the rest of full left in the tailroom. */
struct rte_mbuf *mbuf_with_tail(const Bytes &full, size_t len)
{
	struct rte_mbuf *m = to_mbuf(full);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	return m;
}

/* Segment lengths: first, then every seg bytes. */
std::vector<size_t> split(size_t total, size_t first, size_t seg)
{
	std::vector<size_t> lens{std::min(first, total)};
	for (size_t off = lens[0]; off < total; off += seg)
		lens.push_back(std::min(seg, total - off));
	return lens;
}

/* One burst; frees the mbufs after the call, as the caller owns them. */
unsigned burst(Rig &rig, const std::vector<struct rte_mbuf *> &ms, const uint64_t *ts = nullptr,
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
	struct reasm_stats s {};
	uint64_t operator[](unsigned c) const { return s.v[c]; }
};

Stats stats(const Rig &rig)
{
	Stats st;
	reasm_assembler_stats(rig.asm_, &st.s);
	return st;
}

Stats operator-(const Stats &a, const Stats &b)
{
	Stats d;
	for (unsigned i = 0; i < REASM_CTR_MAX; i++)
		d.s.v[i] = a.s.v[i] - b.s.v[i];
	return d;
}

/* Every counter whose name starts with "drop_": one per way a frame is dropped. */
std::vector<unsigned> drop_counters()
{
	std::vector<unsigned> out;
	for (unsigned c = 0; c < REASM_CTR_MAX; c++)
		if (strncmp(reasm_counter_name(c), "drop_", 5) == 0)
			out.push_back(c);
	return out;
}

uint64_t drops_total(const Stats &d)
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
	Bytes payload;           /* delivered as {start}[payload] when assembled */
};

Expect dropped(unsigned counter)
{
	Expect e;
	e.drop = (int)counter;
	return e;
}

Expect assembled(const Bytes &payload, int past_frame = 0)
{
	Expect e;
	e.payload = payload;
	e.past_frame = past_frame;
	return e;
}

Expect bad_offset(int past_frame = 0)
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
void check_one(Rig &rig, struct rte_mbuf *m, const FrameSpec &spec, const Expect &want)
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
int failures()
{
	return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
}

/* Flush, then nothing may be held: the end of every case. */
void finish(Rig &rig)
{
	reasm_flush_all(rig.asm_);
	EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
	EXPECT_EQ(rig.rec.opened(), rig.rec.completed());
	EXPECT_TRUE(rig.pages_all_free()) << rig.pages_free() << " pages free";
	std::string why;
	EXPECT_TRUE(rig.bytes_conserved(&why)) << why;
}

bool same_recs(const std::vector<Rec> &x, const std::vector<Rec> &y)
{
	if (x.size() != y.size())
		return false;
	for (size_t i = 0; i < x.size(); i++)
		if (x[i].bytes != y[i].bytes || x[i].skip != y[i].skip || x[i].start != y[i].start ||
		    x[i].end != y[i].end || x[i].seen != y[i].seen || x[i].cause != y[i].cause)
			return false;
	return true;
}

class Parse : public ::testing::Test {
protected:
	void SetUp() override { mbufs_before_ = rte_mempool_avail_count(mbuf_pool()); }
	void TearDown() override
	{
		EXPECT_EQ(rte_mempool_avail_count(mbuf_pool()), mbufs_before_) << "mbuf leak";
	}

private:
	unsigned mbufs_before_ = 0;
};

/* ------------------------------------------------------------------ */
/* Valid frames                                                        */
/* ------------------------------------------------------------------ */

struct Shape {
	std::string name;
	FrameSpec spec;
	int past_frame; /* kPastAny with a leading hop-by-hop header */
};

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
/* Multi-segment mbufs                                                 */
/* ------------------------------------------------------------------ */

TEST_F(Parse, PayloadSpanningSegmentsIsDeliveredWhole)
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

TEST_F(Parse, ChainedOutOfOrderPayloadGoesIntoPagesLikeContiguous)
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

TEST_F(Parse, HeadersSplitAtEveryByteParseAsWhole)
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
/* One case per counter                                                */
/* ------------------------------------------------------------------ */

struct DropCase {
	std::string name;
	Bytes frame;
	unsigned counter;
};

std::vector<DropCase> drop_cases()
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
	add("802.1Q then ARP", edited(s, [](Bytes &f, const FrameLayout &) { put16(f, 16, 0x0806); }),
	    REASM_CTR_drop_not_ip);
	add("802.1Q then LLC", edited(s, [](Bytes &f, const FrameLayout &) { put16(f, 16, 0x0040); }),
	    REASM_CTR_drop_not_ip);
	add("empty frame", {}, REASM_CTR_drop_l2_truncated);
	add("13 bytes", truncated(frame_of(a), 13), REASM_CTR_drop_l2_truncated);
	add("802.1Q announced, no tag", truncated(frame_of(s), 14), REASM_CTR_drop_l2_truncated);
	add("802.1Q tag cut", truncated(frame_of(s), 17), REASM_CTR_drop_l2_truncated);
	s.vlans = {5, 6};
	s.qinq = true;
	add("QinQ inner tag cut", truncated(frame_of(s), 20), REASM_CTR_drop_l2_truncated);

	/* IPv4 */
	add("IPv4 header of 19 bytes", truncated(frame_of(a), 14 + 19), REASM_CTR_drop_ipv4_truncated);
	add("ethertype IPv4, nothing after", truncated(frame_of(a), 14),
	    REASM_CTR_drop_ipv4_truncated);
	add("IHL 15 past the frame, total length past it too",
	    edited(v4(0), [](Bytes &f, const FrameLayout &l) {
		    f[l.l3] = 0x4f;
		    put16(f, l.l3 + 2, 60);
	    }),
	    REASM_CTR_drop_ipv4_truncated);
	add("IHL 4", edited(a, [](Bytes &f, const FrameLayout &l) { f[l.l3] = 0x44; }),
	    REASM_CTR_drop_ipv4_bad_header);
	add("IHL 0", edited(a, [](Bytes &f, const FrameLayout &l) { f[l.l3] = 0x40; }),
	    REASM_CTR_drop_ipv4_bad_header);
	add("total length 19", edited(a, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 2, 19); }),
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
	    edited(v4(0), [](Bytes &f, const FrameLayout &l) {
		    f.pop_back();
		    put16(f, l.l3 + 2, (uint16_t)(get16(f, l.l3 + 2) - 1));
	    }),
	    REASM_CTR_drop_tcp_truncated);
	s = v4(0);
	s.eth_padding = 10;
	add("IPv4 TCP header 19 bytes, padding after",
	    edited(s, [](Bytes &f, const FrameLayout &l) {
		    put16(f, l.l3 + 2, (uint16_t)(get16(f, l.l3 + 2) - 1));
	    }),
	    REASM_CTR_drop_tcp_truncated);
	add("IPv4 total length 20: no TCP at all",
	    edited(a, [](Bytes &f, const FrameLayout &l) { put16(f, l.l3 + 2, 20); }),
	    REASM_CTR_drop_tcp_truncated);

	/* IPv6 */
	add("IPv6 header of 39 bytes", truncated(frame_of(b), 14 + 39), REASM_CTR_drop_ipv6_truncated);
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
	add("AH claiming 1028 bytes", long_ext({51, 60}, 0, 255), REASM_CTR_drop_ipv6_ext_truncated);
	add("IPv6 next header 60 with 1 byte after",
	    edited(v6(0), [](Bytes &f, const FrameLayout &l) {
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
	    edited(v6(0), [](Bytes &f, const FrameLayout &l) {
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
	return out;
}

TEST_F(Parse, EveryDropCounterHasACase)
{
	const std::vector<DropCase> cases = drop_cases();
	for (unsigned c : drop_counters()) {
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

TEST_F(Parse, OneNewConnectionSeveralTimesInABurst)
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

TEST_F(Parse, OneNewConnectionWithoutSynSeveralTimesInABurst)
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

TEST_F(Parse, CloseAndReopenOfOneTupleInABurst)
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

TEST_F(Parse, FreedSlotReusedInsideABurst)
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

TEST_F(Parse, BurstsOfAnySizeEqualOneByOne)
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

TEST_F(Parse, BurstsWithoutTimestampsEqualOneByOneAtNow)
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

TEST_F(Parse, TableFullInsideABurst)
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

/* ------------------------------------------------------------------ */
/* Timestamps, ownership, empty bursts                                 */
/* ------------------------------------------------------------------ */

TEST_F(Parse, RecordsCarryTheTimestampOfTheirPacket)
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

TEST_F(Parse, TimestampsDriveFlushOlderThan)
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

TEST_F(Parse, MbufsAreLeftUnmodified)
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

TEST_F(Parse, EmptyBurstDoesNothing)
{
	Rig rig;
	struct rte_mbuf *none[1] = {nullptr};
	EXPECT_EQ(reasm_assemble_burst(rig.asm_, none, 0, nullptr, kNow), 0u);
	EXPECT_EQ(stats(rig)[REASM_CTR_pkts], 0u);
	EXPECT_EQ(rig.rec.opened(), 0u);
	finish(rig);
}

TEST_F(Parse, ReturnValueCountsTcpPacketsOnly)
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

} // namespace
