/* SPDX-License-Identifier: BSD-3-Clause
 * Connections (reasm_pool_conf.max_connections, lib/reasm/reasm_connection.c):
 * both stream directions of a 4-tuple (and zone) paired, above the stream
 * layer, which must not change.
 *
 * Covers:
 * - roles: SYN, SYN-ACK, guessed, a guess corrected (client flips once, '^',
 *   earlier letters change case, half[] indices fixed);
 * - Zeek's history letters, their repetition rules, Q, I, the 31-letter cap;
 * - end states: fin, rst_client, rst_server, idle, flush_all, table_full, and
 *   what happens when every tracked connection has an open stream;
 * - linger after the end (trailing ACKs, retransmitted FINs), a new SYN
 *   starting the 4-tuple's next connection, a SYN kept while a stream is open;
 * - lifetime: stream complete() before connection complete(), half[] totals
 *   and stream counts, packets and bytes, first/last seen,
 *   reasm_pool_open_connection() in and out of open(), the per-connection area;
 * - the stream contract untouched: random traffic through a pool with and one
 *   without connections gives identical stream callbacks and counters;
 * - configuration errors; the layer off runs nothing;
 * - the burst path (IPv4, IPv6, the ACK bit from the wire), IPv6 and zones.
 *
 * Every test ends with ConnRig::finish(): reasm_flush_all(), then each stream
 * and each connection completed exactly once, in order, with matching sums.
 */
#include <gtest/gtest.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "frames.h"
#include "recorder.h"
#include "test_env.h"

using namespace reasm_test;

namespace
{

using Bytes = std::vector<uint8_t>;

/* TCP flags as on the wire (REASM_TCP_* are the header's bits). */
constexpr uint8_t SYN = REASM_TCP_SYN;
constexpr uint8_t ACK = REASM_TCP_ACK;
constexpr uint8_t FIN = REASM_TCP_FIN;
constexpr uint8_t RST = REASM_TCP_RST;
constexpr uint8_t SYNACK = SYN | ACK;
constexpr uint8_t FINACK = FIN | ACK;

Bytes
data(size_t n, uint8_t first = 'a')
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(first + i);
	return b;
}

bool
same_flow(const struct reasm_flow &a, const struct reasm_flow &b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ------------------------------------------------------------------ */
/* Endpoints                                                            */
/* ------------------------------------------------------------------ */

/* The two directions of one 4-tuple: client -> server and back. */
struct Tuple {
	FrameSpec c; /* the client's direction */
	FrameSpec s; /* the server's */
};

FrameSpec
reversed(FrameSpec d)
{
	std::swap(d.src, d.dst);
	std::swap(d.sport, d.dport);
	return d;
}

/*
 * 4-tuple @p i. The client has the HIGHER address (10.0.9.x > 10.0.0.2), so
 * the connection table's canonical key (lower endpoint first) is the
 * server's direction: half[] must not follow it.
 */
Tuple
tuple(unsigned i, int family = 4)
{
	FrameSpec c;
	c.family = family;
	c.src = {{10, 0, 9, (uint8_t)i}};
	c.dst = {{10, 0, 0, 2}};
	if (family == 6) {
		for (int k = 0; k < 16; k++) {
			c.src[k] = (uint8_t)(0x20 + k);
			c.dst[k] = (uint8_t)(0x20 + k);
		}
		c.src[14] = 0xff;
		c.src[15] = (uint8_t)i;
	}
	c.sport = (uint16_t)(40000 + i);
	c.dport = 80;
	return {c, reversed(c)};
}

struct reasm_flow
reversed_flow(const struct reasm_flow &f)
{
	struct reasm_flow r = f;
	memcpy(r.src_addr, f.dst_addr, sizeof(r.src_addr));
	memcpy(r.dst_addr, f.src_addr, sizeof(r.dst_addr));
	r.src_port = f.dst_port;
	r.dst_port = f.src_port;
	return r;
}

FrameSpec
with(FrameSpec d, uint32_t seq, uint8_t flags, const Bytes &payload = {})
{
	d.seq = seq;
	d.flags = flags;
	d.payload = payload;
	return d;
}

/* The frame of @p d with exactly its flags (build_frame() always sets ACK). */
Bytes
frame(const FrameSpec &d)
{
	Bytes f = build_frame(d);
	f[frame_layout(d).l4 + 13] = d.flags;
	return f;
}

/* ------------------------------------------------------------------ */
/* What the callbacks saw                                               */
/* ------------------------------------------------------------------ */

class Tracker;

struct StreamSeen {
	Tracker *t = nullptr;
	struct reasm_flow flow {
	};
	std::vector<Rec> recs;
	struct reasm_stream_totals totals {
	};
	int completes = 0;
	int index = -1; /* in open order, among streams */
	int open_tick = -1, complete_tick = -1;
	int ref_rc = 1; /* reasm_pool_open_connection() in open() */
	struct reasm_half_ref ref {
	};
	int rc_in_data = -ENOENT, rc_in_complete = -ENOENT; /* the same call elsewhere */
};

struct ConnSeen {
	Tracker *t = nullptr;
	struct reasm_connection at_open {
	};
	struct reasm_connection at_complete {
	};
	int completes = 0;
	int open_tick = -1, complete_tick = -1;
	void *priv = nullptr;
	bool priv_zeroed = true;
	int rc_in_open = 1;     /* reasm_pool_open_connection() in the connection's open() */
	int encap_rc = -ENOENT; /* reasm_pool_open_encap() there */
	struct reasm_encap encap {
	};
};

/*
 * Stream and connection callbacks that log everything, with one tick per
 * callback so orders can be compared, and a transcript of the stream
 * callbacks alone (what a user of the stream layer sees).
 */
class Tracker
{
      public:
	struct reasm_pool *pool = nullptr;
	uint32_t conn_priv_size = 0;
	int tick = 0;
	std::vector<std::unique_ptr<StreamSeen>> streams;
	std::vector<std::unique_ptr<ConnSeen>> conns; /* in open order: conns[id - 1] */
	/* The stream callbacks, one line each, bytes included: what a stream user sees. */
	std::vector<std::string> transcript;

	ConnSeen &conn(uint64_t id)
	{
		return *conns.at(id - 1);
	}
	/* The streams whose open() found connection @p id, side @p half. */
	std::vector<StreamSeen *> streams_of(uint64_t id, unsigned half)
	{
		std::vector<StreamSeen *> v;
		for (auto &s : streams)
			if (s->ref_rc == 0 && s->ref.id == id && s->ref.half == half)
				v.push_back(s.get());
		return v;
	}

	static const struct reasm_stream_ops stream_ops;
	static const struct reasm_connection_ops conn_ops;
};

/* @p n bytes at @p p as hex. */
std::string
hex(const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = static_cast<const uint8_t *>(p)[i];
		out += digits[b >> 4];
		out += digits[b & 15];
	}
	return out;
}

void *
s_open(void *ctx, const struct reasm_flow *flow, void *)
{
	Tracker *t = static_cast<Tracker *>(ctx);
	t->streams.emplace_back(new StreamSeen());
	StreamSeen *s = t->streams.back().get();
	s->t = t;
	s->flow = *flow;
	s->index = (int)t->streams.size() - 1;
	s->open_tick = t->tick++;
	s->ref_rc = reasm_pool_open_connection(t->pool, &s->ref);
	t->transcript.push_back("open " + hex(flow, sizeof(*flow)));
	return s;
}

void
s_data(void *stream, const struct reasm_record *r, unsigned n)
{
	StreamSeen *s = static_cast<StreamSeen *>(stream);
	struct reasm_half_ref ref;
	s->t->tick++;
	s->rc_in_data = reasm_pool_open_connection(s->t->pool, &ref);
	for (unsigned i = 0; i < n; i++) {
		Rec rec;
		rec.bytes.assign(r[i].bytes, r[i].bytes + r[i].len);
		rec.skip = r[i].skip;
		rec.start = r[i].start;
		rec.end = r[i].end;
		rec.seen = r[i].seen;
		rec.cause = r[i].skip_cause;
		s->recs.push_back(rec);
		char head[128];
		snprintf(head, sizeof(head),
			 "data %d: len %u skip %" PRId64 " cause %u start %d end %d seen %" PRIu64
			 " ",
			 s->index, r[i].len, r[i].skip, r[i].skip_cause, r[i].start, r[i].end,
			 r[i].seen);
		s->t->transcript.push_back(head + hex(r[i].bytes, r[i].len));
	}
}

void
s_complete(void *stream, const struct reasm_stream_totals *t)
{
	StreamSeen *s = static_cast<StreamSeen *>(stream);
	struct reasm_half_ref ref;
	s->completes++;
	s->totals = *t;
	s->complete_tick = s->t->tick++;
	s->rc_in_complete = reasm_pool_open_connection(s->t->pool, &ref);
	s->t->transcript.push_back("complete " + std::to_string(s->index) + " " +
				   hex(t, sizeof(*t)));
}

void *
c_open(void *ctx, const struct reasm_connection *c, void *priv)
{
	Tracker *t = static_cast<Tracker *>(ctx);
	struct reasm_half_ref ref;
	t->conns.emplace_back(new ConnSeen());
	ConnSeen *cs = t->conns.back().get();
	cs->t = t;
	cs->at_open = *c;
	cs->open_tick = t->tick++;
	cs->priv = priv;
	cs->rc_in_open = reasm_pool_open_connection(t->pool, &ref);
	cs->encap_rc = reasm_pool_open_encap(t->pool, &cs->encap);
	/* The area is zeroed; mark it, so a stream can tell it gets the same one. */
	for (uint32_t i = 0; priv != nullptr && i < t->conn_priv_size; i++)
		if (static_cast<uint8_t *>(priv)[i] != 0)
			cs->priv_zeroed = false;
	if (priv != nullptr)
		memset(priv, (int)(0x80 | (c->id & 0x7f)), t->conn_priv_size);
	return cs;
}

void
c_complete(void *conn, const struct reasm_connection *c)
{
	ConnSeen *cs = static_cast<ConnSeen *>(conn);
	cs->completes++;
	cs->at_complete = *c;
	cs->complete_tick = cs->t->tick++;
}

const struct reasm_stream_ops Tracker::stream_ops = {s_open, s_data, s_complete};
const struct reasm_connection_ops Tracker::conn_ops = {c_open, c_complete};

/* ------------------------------------------------------------------ */
/* A pool with connections, its page mempool and its assembler          */
/* ------------------------------------------------------------------ */

struct Opts {
	uint32_t max_connections = 64; /* 0: the layer off */
	uint32_t max_conns = 1024;     /* stream directions */
	uint32_t conn_priv_size = 24;
	uint32_t max_zones = 0;
	uint32_t max_pages_per_conn = 0;
	uint32_t max_pages_total = 0;
};

class ConnRig
{
      public:
	explicit ConnRig(const Opts &o = Opts()) : opt(o)
	{
		std::string pname = unique_name("conn_pool");
		struct reasm_pool_conf pc = {};
		pc.name = pname.c_str();
		pc.socket_id = SOCKET_ID_ANY;
		pc.max_conns = o.max_conns;
		pc.ops = &Tracker::stream_ops;
		pc.factory_ctx = &t;
		pc.max_zones = o.max_zones;
		pc.max_connections = o.max_connections;
		pc.conn_ops = &Tracker::conn_ops;
		pc.conn_ctx = &t;
		pc.conn_priv_size = o.conn_priv_size;
		pool = reasm_pool_create(&pc);
		EXPECT_NE(pool, nullptr) << rte_strerror(rte_errno);
		t.pool = pool;
		t.conn_priv_size = o.conn_priv_size;
		std::string gname = unique_name("conn_pages");
		pages = reasm_page_pool_create(gname.c_str(), 4096, 0, SOCKET_ID_ANY);
		EXPECT_NE(pages, nullptr);
		struct reasm_assembler_conf ac = {};
		ac.pool = pool;
		ac.page_pool = pages;
		ac.socket_id = SOCKET_ID_ANY;
		ac.max_pages_per_conn = o.max_pages_per_conn;
		ac.max_pages_total = o.max_pages_total;
		a = reasm_assembler_create(&ac);
		EXPECT_NE(a, nullptr);
	}
	~ConnRig()
	{
		reasm_assembler_free(a);
		reasm_pool_free(pool);
		rte_mempool_free(pages);
	}
	ConnRig(const ConnRig &) = delete;
	ConnRig &operator=(const ConnRig &) = delete;

	/* One segment through reasm_assemble(). */
	int send(const FrameSpec &d, uint32_t seq, uint8_t flags, const Bytes &payload, uint64_t ts,
		 uint32_t cut = 0)
	{
		FrameSpec s = with(d, seq, flags, payload);
		struct reasm_flow flow = flow_of(s);
		struct reasm_segment seg = segment_of(s);
		seg.cut = cut;
		return reasm_assemble(a, &flow, &seg, ts);
	}
	int send(const FrameSpec &d, uint32_t seq, uint8_t flags, uint64_t ts)
	{
		return send(d, seq, flags, {}, ts);
	}

	/* Frames through reasm_assemble_burst(), one timestamp each. */
	unsigned burst(const std::vector<Bytes> &frames, const std::vector<uint64_t> &ts)
	{
		std::vector<struct rte_mbuf *> ms;
		for (const Bytes &f : frames)
			ms.push_back(f.size() <= 2048 ? to_mbuf(f) : to_mbuf_chain(f, 2048, 2048));
		unsigned n = reasm_assemble_burst(a, ms.data(), (uint16_t)ms.size(), ts.data(), 0);
		for (struct rte_mbuf *m : ms)
			rte_pktmbuf_free(m);
		return n;
	}

	unsigned flush_older_than(uint64_t t_ns)
	{
		return reasm_flush_older_than(a, t_ns, nullptr);
	}
	unsigned flush_all()
	{
		return reasm_flush_all(a);
	}

	uint64_t ctr(enum reasm_counter c) const
	{
		struct reasm_stats st;
		reasm_assembler_stats(a, &st);
		return st.v[c];
	}
	uint32_t open_conns() const
	{
		return reasm_pool_connection_count(pool);
	}

	/* reasm_flush_all(), then every invariant of the layer (see check()). */
	void finish()
	{
		flush_all();
		check();
	}
	void check();

	Opts opt;
	Tracker t;
	struct reasm_pool *pool = nullptr;
	struct rte_mempool *pages = nullptr;
	struct reasm_assembler *a = nullptr;
};

void
add_totals(struct reasm_stream_totals &sum, const struct reasm_stream_totals &t)
{
	sum.received_bytes += t.received_bytes;
	sum.delivered_bytes += t.delivered_bytes;
	sum.overlap_bytes += t.overlap_bytes;
	sum.discarded_bytes += t.discarded_bytes;
	sum.skipped_bytes += t.skipped_bytes;
	sum.cut_bytes += t.cut_bytes;
}

void
expect_totals_eq(const struct reasm_stream_totals &got, const struct reasm_stream_totals &want)
{
	EXPECT_EQ(got.received_bytes, want.received_bytes);
	EXPECT_EQ(got.delivered_bytes, want.delivered_bytes);
	EXPECT_EQ(got.overlap_bytes, want.overlap_bytes);
	EXPECT_EQ(got.buffered_bytes, 0u);
	EXPECT_EQ(got.discarded_bytes, want.discarded_bytes);
	EXPECT_EQ(got.skipped_bytes, want.skipped_bytes);
	EXPECT_EQ(got.cut_bytes, want.cut_bytes);
}

/*
 * After the last flush: nothing open; each stream and each connection
 * completed once; a stream opens after and completes before its connection,
 * on the side whose flow it has; half[].streams and half[].totals are those
 * of the streams that found the connection; ids count from 1; counters agree;
 * reasm_pool_open_connection() answered -ENOENT outside stream open().
 */
void
ConnRig::check()
{
	EXPECT_EQ(reasm_pool_count(pool), 0u);
	EXPECT_EQ(open_conns(), 0u);
	EXPECT_EQ(rte_mempool_avail_count(pages), 4096u) << "pages leaked";
	struct reasm_half_ref ref;
	EXPECT_EQ(reasm_pool_open_connection(pool, &ref), -ENOENT);

	for (size_t i = 0; i < t.streams.size(); i++) {
		const StreamSeen &s = *t.streams[i];
		SCOPED_TRACE("stream " + std::to_string(i));
		EXPECT_EQ(s.completes, 1);
		EXPECT_EQ(s.rc_in_data, -ENOENT);
		EXPECT_EQ(s.rc_in_complete, -ENOENT);
		if (opt.max_connections == 0) {
			EXPECT_EQ(s.ref_rc, -ENOENT);
			continue;
		}
		if (s.ref_rc != 0)
			continue; /* untracked: counted in connections_untracked_pkts */
		ASSERT_GE(s.ref.id, 1u);
		ASSERT_LE(s.ref.id, t.conns.size());
		ConnSeen &c = t.conn(s.ref.id);
		EXPECT_EQ(s.ref.conn, &c);
		EXPECT_EQ(s.ref.priv, c.priv);
		ASSERT_LT(s.ref.half, 2u);
		EXPECT_TRUE(same_flow(s.flow, c.at_complete.half[s.ref.half].flow));
		EXPECT_LT(c.open_tick, s.open_tick) << "stream opened before its connection";
		EXPECT_LT(s.complete_tick, c.complete_tick)
			<< "connection completed before its stream";
	}
	for (size_t i = 0; i < t.conns.size(); i++) {
		ConnSeen &c = *t.conns[i];
		const struct reasm_connection &p = c.at_complete;
		SCOPED_TRACE("connection " + std::to_string(i + 1) + " history " + p.history);
		EXPECT_EQ(c.completes, 1);
		EXPECT_EQ(c.at_open.id, i + 1);
		EXPECT_EQ(p.id, i + 1);
		EXPECT_NE(p.end, REASM_END_NONE);
		EXPECT_LT(p.client, 2u);
		EXPECT_LT(p.roles, (uint8_t)REASM_ROLES_MAX);
		EXPECT_LE(strlen(p.history), (size_t)REASM_HISTORY_MAX);
		EXPECT_LE(p.first_seen, p.last_seen);
		EXPECT_EQ(c.rc_in_open, -ENOENT);
		EXPECT_TRUE(c.priv_zeroed);
		EXPECT_EQ(c.priv == nullptr, opt.conn_priv_size == 0);
		/* half[] never moves; half[1] is half[0] reversed. */
		EXPECT_TRUE(same_flow(p.half[0].flow, c.at_open.half[0].flow));
		EXPECT_TRUE(same_flow(p.half[1].flow, reversed_flow(p.half[0].flow)));
		for (unsigned h = 0; h < 2; h++) {
			struct reasm_stream_totals sum = {};
			std::vector<StreamSeen *> ss = t.streams_of(p.id, h);
			for (StreamSeen *s : ss)
				add_totals(sum, s->totals);
			SCOPED_TRACE("half " + std::to_string(h));
			EXPECT_EQ(p.half[h].streams, ss.size());
			expect_totals_eq(p.half[h].totals, sum);
		}
	}
	EXPECT_EQ(ctr(REASM_CTR_connections_opened), t.conns.size());
	EXPECT_EQ(ctr(REASM_CTR_connections_completed), t.conns.size());
}

/* ------------------------------------------------------------------ */
/* 1. Roles                                                             */
/* ------------------------------------------------------------------ */

/* A SYN first: its sender is the client, roles syn, half[0] is its side. */
TEST(ConnRoles, SynFirst)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 1);
	r.send(k.s, 500, SYNACK, 2);
	r.send(k.c, 101, ACK, 3);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 1u);
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.roles, REASM_ROLES_SYN);
	EXPECT_EQ(c.client, 0u);
	EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(k.c)));
	EXPECT_STREQ(c.history, "ShA");
	EXPECT_STREQ(reasm_roles_name(c.roles), "syn");
	EXPECT_EQ(r.t.conn(1).encap_rc, -ENOENT); /* reasm_assemble() has no frame */
}

/* A SYN-ACK first (the SYN missed): its receiver is the client; no '^'. */
TEST(ConnRoles, SynAckFirst)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.s, 500, SYNACK, 1);
	r.send(k.c, 101, ACK, 2);
	r.send(k.s, 501, ACK, data(3), 3);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 1u);
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.roles, REASM_ROLES_SYN_ACK);
	EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(k.s))) << "half[0] is the first sender";
	EXPECT_EQ(c.client, 1u);
	EXPECT_STREQ(c.history, "hAd");
}

/* Data first: guessed, the first sender is the client. */
TEST(ConnRoles, DataFirstIsGuessed)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.s, 500, ACK, data(4), 1); /* the "server" talks first: it is guessed client */
	r.send(k.c, 100, ACK, data(2), 2);
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.roles, REASM_ROLES_GUESSED);
	EXPECT_EQ(c.client, 0u);
	EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(k.s)));
	EXPECT_STREQ(c.history, "Dd");
}

/*
 * A guess corrected by a SYN from the other side: the client flips, '^' is
 * written, the earlier letters change case; half[] stays; and once roles are
 * syn they never change again (a SYN-ACK or another SYN does not flip).
 */
TEST(ConnRoles, GuessCorrectedBySynFromOtherSide)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.s, 500, ACK, data(4), 1); /* guessed: k.s is client (half 0) */
	r.send(k.s, 504, ACK, 2);
	r.send(k.c, 100, SYN, 3);    /* k.c sent a SYN: it is the client */
	r.send(k.c, 100, SYNACK, 4); /* S and H share "seen": same sequence, no letter */
	r.send(k.s, 600, SYN, 5);    /* a SYN from the server: roles are syn already */
	r.finish();
	const ConnSeen &cs = r.t.conn(1);
	const struct reasm_connection &c = cs.at_complete;
	EXPECT_EQ(cs.at_open.client, 0u);
	EXPECT_EQ(c.roles, REASM_ROLES_SYN);
	EXPECT_EQ(c.client, 1u);
	EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(k.s)));
	EXPECT_TRUE(same_flow(c.half[1].flow, flow_of(k.c)));
	/* "DA" were the guessed client's; after '^' they are the server's. */
	EXPECT_STREQ(c.history, "da^Ss");
	/* Streams keep their side: k.s's data stream is half 0, k.c's SYN stream half 1. */
	ASSERT_EQ(r.t.streams.size(), 2u);
	EXPECT_EQ(r.t.streams[0]->ref.half, 0u);
	EXPECT_EQ(r.t.streams[1]->ref.half, 1u);
}

/* A guess corrected by a SYN-ACK from the guessed client. */
TEST(ConnRoles, GuessCorrectedBySynAckFromGuessedClient)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, ACK, data(4), 1); /* guessed: k.c is client */
	r.send(k.c, 99, SYNACK, 2);        /* but k.c answers a SYN: it is the server */
	r.send(k.s, 500, SYN, 3);          /* the real client's SYN: no second flip */
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.roles, REASM_ROLES_SYN);
	EXPECT_EQ(c.client, 1u);
	EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(k.c)));
	EXPECT_STREQ(c.history, "d^hS");
}

/*
 * A RST under a guess, then the guess corrected (a SYN while the other
 * direction's stream is open keeps the connection): the end follows the
 * roles, rst_server becomes rst_client, and the letters change case.
 */
TEST(ConnRoles, EndFollowsCorrectedRoles)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.s, 500, ACK, data(4), 1); /* guessed: k.s is client; its stream stays open */
	r.send(k.c, 100, RST, 2);          /* the "server" resets */
	r.send(k.c, 100, SYN, 3);          /* k.c is the client after all */
	EXPECT_EQ(r.ctr(REASM_CTR_connections_opened), 1u);
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.client, 1u);
	EXPECT_EQ(c.end, REASM_END_RST_CLIENT);
	EXPECT_STREQ(c.history, "dR^S");
}

/* Both sides send a SYN (simultaneous open): the first SYN's sender stays client. */
TEST(ConnRoles, SimultaneousOpenKeepsFirstSyn)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 1);
	r.send(k.s, 500, SYN, 2);
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.roles, REASM_ROLES_SYN);
	EXPECT_EQ(c.client, 0u);
	EXPECT_STREQ(c.history, "Ss");
}

/* ------------------------------------------------------------------ */
/* 2. History                                                           */
/* ------------------------------------------------------------------ */

/*
 * A whole connection: handshake, a pure ACK from each side, data from each,
 * FINs, a last ACK: "ShADadFf". A, D once per side; the last ACK adds nothing.
 */
TEST(ConnHistory, FullConnection)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 1);                /* S */
	r.send(k.s, 500, SYNACK, 2);             /* h */
	r.send(k.c, 101, ACK, 3);                /* A */
	r.send(k.c, 101, ACK, data(5), 4);       /* D */
	r.send(k.s, 501, ACK, 5);                /* a */
	r.send(k.s, 501, ACK, data(10, 'A'), 6); /* d */
	r.send(k.c, 106, ACK, 7);                /* A again: nothing */
	r.send(k.c, 106, ACK, data(1, 'z'), 8);  /* D again: nothing */
	r.send(k.c, 107, FINACK, 9);             /* F */
	r.send(k.s, 511, FINACK, 10);            /* f */
	r.send(k.c, 108, ACK, 11);               /* nothing */
	EXPECT_EQ(r.open_conns(), 1u);           /* it lingers */
	EXPECT_EQ(reasm_pool_count(r.pool), 0u); /* both streams closed by their FINs */
	EXPECT_EQ(r.ctr(REASM_CTR_connections_completed), 0u);
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_STREQ(c.history, "ShADadFf");
	EXPECT_EQ(c.end, REASM_END_FIN);
	EXPECT_EQ(c.half[0].packets, 7u);
	EXPECT_EQ(c.half[0].payload_bytes, 6u);
	EXPECT_EQ(c.half[1].packets, 4u);
	EXPECT_EQ(c.half[1].payload_bytes, 10u);
	EXPECT_EQ(c.first_seen, 1u);
	EXPECT_EQ(c.last_seen, 11u);
	EXPECT_EQ(c.half[0].totals.delivered_bytes, 6u);
	EXPECT_EQ(c.half[1].totals.delivered_bytes, 10u);
}

/*
 * S and H again only with another sequence; F again only when sequence plus
 * length differs; R again only with another sequence. A retransmitted SYN
 * (same sequence) adds nothing.
 */
TEST(ConnHistory, RepeatsOnlyWithNewSequence)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 1);    /* S */
	r.send(k.c, 100, SYN, 2);    /* retransmitted: nothing */
	r.send(k.s, 500, SYNACK, 3); /* h */
	r.send(k.s, 500, SYNACK, 4); /* nothing */
	r.send(k.c, 200, SYN, 5);    /* S: another sequence */
	r.send(k.s, 600, SYNACK, 6); /* h */
	r.send(k.c, 200, SYN, 7);    /* same as the last: nothing */
	r.send(k.c, 100, SYN, 8);    /* differs from the last (200): S */
	r.finish();
	EXPECT_STREQ(r.t.conn(1).at_complete.history, "ShShS");

	/* FINs (no SYN: guessed roles; k.c is client) and RSTs. */
	ConnRig f;
	k = tuple(2);
	f.send(k.c, 300, FINACK, 1);          /* F (ends at 300) */
	f.send(k.c, 300, FINACK, 2);          /* nothing */
	f.send(k.c, 295, FINACK, data(5), 3); /* 295 + 5 = 300: nothing */
	f.send(k.c, 300, FINACK, data(5), 4); /* 305: F */
	f.send(k.c, 305, FINACK, 5);          /* 305: nothing */
	f.send(k.s, 700, RST, 6);             /* r */
	f.send(k.s, 700, RST, 7);             /* nothing */
	f.send(k.s, 701, RST | ACK, 8);       /* r */
	f.finish();
	const struct reasm_connection &c = f.t.conn(1).at_complete;
	EXPECT_STREQ(c.history, "FFrr");
	EXPECT_EQ(c.end, REASM_END_RST_SERVER);
}

/* RSTs: from the client, from the server, after both FINs (end stays fin). */
TEST(ConnHistory, Resets)
{
	ConnRig r;
	auto handshake = [&](const Tuple &k, uint64_t ts) {
		r.send(k.c, 100, SYN, ts);
		r.send(k.s, 500, SYNACK, ts + 1);
		r.send(k.c, 101, ACK, ts + 2);
	};
	Tuple a = tuple(1), b = tuple(2), c = tuple(3);
	handshake(a, 10);
	r.send(a.c, 101, RST | ACK, 20);
	handshake(b, 10);
	r.send(b.s, 501, RST, 20);
	handshake(c, 10);
	r.send(c.c, 101, FINACK, 20);
	r.send(c.s, 501, FINACK, 21);
	r.send(c.s, 502, RST, 22);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 3u);
	EXPECT_STREQ(r.t.conn(1).at_complete.history, "ShAR");
	EXPECT_EQ(r.t.conn(1).at_complete.end, REASM_END_RST_CLIENT);
	EXPECT_STREQ(r.t.conn(2).at_complete.history, "ShAr");
	EXPECT_EQ(r.t.conn(2).at_complete.end, REASM_END_RST_SERVER);
	EXPECT_STREQ(r.t.conn(3).at_complete.history, "ShAFfr");
	EXPECT_EQ(r.t.conn(3).at_complete.end, REASM_END_FIN);
	EXPECT_STREQ(reasm_conn_end_name(REASM_END_RST_CLIENT), "rst_client");
	EXPECT_STREQ(reasm_conn_end_name(REASM_END_MAX), "unknown");
}

/* SYN with FIN or RST: Q, once per side. FIN with RST: I, once per side. */
TEST(ConnHistory, MultiFlagPackets)
{
	ConnRig r;
	Tuple k = tuple(1), m = tuple(2);
	r.send(k.c, 100, SYN | FIN, 1);       /* Q */
	r.send(k.c, 100, SYN | RST, 2);       /* Q again: nothing */
	r.send(m.c, 100, ACK, data(3), 1);    /* D */
	r.send(m.c, 103, FIN | RST, 2);       /* I */
	r.send(m.c, 104, FIN | RST, 3);       /* nothing */
	r.send(m.s, 500, FIN | RST | ACK, 4); /* i */
	r.finish();
	const struct reasm_connection &q = r.t.conn(1).at_complete;
	EXPECT_STREQ(q.history, "Q");
	EXPECT_EQ(q.roles, REASM_ROLES_SYN); /* a SYN without ACK all the same */
	const struct reasm_connection &i = r.t.conn(2).at_complete;
	EXPECT_STREQ(i.history, "DIi");
	EXPECT_EQ(i.end, REASM_END_RST_CLIENT);
}

/* The history stops at 31 characters; a flip then swaps case without room for '^'. */
TEST(ConnHistory, TruncatedAt31)
{
	ConnRig r;
	Tuple k = tuple(1);
	for (uint32_t i = 0; i < 40; i++) /* 40 FINs, each ending elsewhere: F each */
		r.send(k.c, 1000 + i, FINACK, 1 + i);
	r.send(k.s, 500, SYN, 100); /* corrects the guess */
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(strlen(c.history), (size_t)REASM_HISTORY_MAX);
	EXPECT_EQ(std::string(c.history), std::string(REASM_HISTORY_MAX, 'f'));
	EXPECT_EQ(c.client, 1u);
	EXPECT_EQ(c.half[0].packets, 40u);
}

/* Packets with no flag and no payload write nothing (but count). */
TEST(ConnHistory, BarePacketWritesNothing)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, 0, 1);
	r.send(k.c, 100, ACK, 2);
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_STREQ(c.history, "A");
	EXPECT_EQ(c.half[0].packets, 2u);
	EXPECT_EQ(c.half[0].streams, 0u);
}

/* ------------------------------------------------------------------ */
/* 3. End states                                                        */
/* ------------------------------------------------------------------ */

/* Idle: completed by the first reasm_flush_older_than() past its last packet, not before. */
TEST(ConnEnd, IdleAfterLastSeen)
{
	ConnRig r;
	Tuple k = tuple(1), m = tuple(2);
	r.send(k.c, 100, SYN, 100);
	r.send(k.s, 500, SYNACK, 150);
	r.send(m.c, 100, ACK, 120); /* pure ACKs only: no stream at all */
	r.flush_older_than(120);
	EXPECT_EQ(r.open_conns(), 2u);
	r.flush_older_than(121); /* m's last packet was at 120 */
	EXPECT_EQ(r.open_conns(), 1u);
	ASSERT_EQ(r.t.conns.size(), 2u);
	EXPECT_EQ(r.t.conn(2).completes, 1);
	EXPECT_EQ(r.t.conn(2).at_complete.end, REASM_END_IDLE);
	r.flush_older_than(150);
	EXPECT_EQ(r.t.conn(1).completes, 0); /* its last packet is at 150 */
	r.flush_older_than(151);
	EXPECT_EQ(r.t.conn(1).completes, 1);
	EXPECT_EQ(r.t.conn(1).at_complete.end, REASM_END_IDLE);
	EXPECT_EQ(reasm_pool_count(r.pool), 0u); /* its streams closed in the same flush */
	r.finish();
}

/* A stream holding out-of-order pages: the flush delivers and closes it, then the connection. */
TEST(ConnEnd, IdleWithBufferedPages)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 10);
	r.send(k.c, 110, ACK, data(5), 11); /* a hole 101..109 */
	r.flush_older_than(12);
	EXPECT_EQ(r.t.conn(1).completes, 1);
	EXPECT_EQ(r.t.conn(1).at_complete.end, REASM_END_IDLE);
	EXPECT_EQ(r.t.conn(1).at_complete.half[0].totals.skipped_bytes, 9u);
	r.finish();
}

/* Open at reasm_flush_all(): end flush_all; ended ones keep their end. */
TEST(ConnEnd, FlushAll)
{
	ConnRig r;
	Tuple k = tuple(1), m = tuple(2);
	r.send(k.c, 100, SYN, 1);
	r.send(k.c, 101, ACK, data(3), 2);
	r.send(m.c, 100, ACK, data(3), 1);
	r.send(m.c, 103, FINACK, 2);
	r.send(m.s, 500, FINACK, 3);
	r.finish();
	EXPECT_EQ(r.t.conn(1).at_complete.end, REASM_END_FLUSH_ALL);
	EXPECT_EQ(r.t.conn(2).at_complete.end, REASM_END_FIN);
	EXPECT_STREQ(reasm_conn_end_name(r.t.conn(1).at_complete.end), "flush_all");
}

/*
 * Sends a SYN and a FIN from the client of tuple @p i at @p ts: one stream
 * opened and closed, one FIN only, so the connection has not ended.
 */
void
closed_stream_conn(ConnRig &r, unsigned i, uint64_t ts)
{
	Tuple k = tuple(i);
	r.send(k.c, 100, SYN, ts);
	r.send(k.c, 101, FINACK, ts);
}

/*
 * Table full: with max_connections connections, each without an open stream,
 * the next one completes the least recently seen early (end table_full,
 * connections_evicted).
 */
TEST(ConnEnd, TableFullEvictsOldest)
{
	Opts o;
	o.max_connections = 8;
	ConnRig r(o);
	for (unsigned i = 0; i < 8; i++)
		closed_stream_conn(r, i, 10 + i);
	EXPECT_EQ(r.open_conns(), 8u);
	EXPECT_EQ(reasm_pool_count(r.pool), 0u);
	closed_stream_conn(r, 8, 100);
	EXPECT_EQ(r.open_conns(), 8u);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_evicted), 1u);
	EXPECT_EQ(r.t.conn(1).completes, 1);
	EXPECT_EQ(r.t.conn(1).at_complete.end, REASM_END_TABLE_FULL);
	EXPECT_LT(r.t.conn(1).complete_tick, r.t.conn(9).open_tick) << "room made first";
	closed_stream_conn(r, 9, 101);
	EXPECT_EQ(r.t.conn(2).at_complete.end, REASM_END_TABLE_FULL);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_evicted), 2u);
	r.finish();
	EXPECT_EQ(r.ctr(REASM_CTR_connections_evicted), 2u);
	EXPECT_EQ(r.t.conn(9).at_complete.end, REASM_END_FLUSH_ALL);
}

/*
 * "The least recently seen" is by last packet, not by first: a connection
 * opened first but seen since is kept, the one not seen longest goes.
 */
TEST(ConnEnd, TableFullEvictsLeastRecentlySeen)
{
	Opts o;
	o.max_connections = 8;
	ConnRig r(o);
	for (unsigned i = 0; i < 8; i++)
		closed_stream_conn(r, i, 10 + i);
	r.send(tuple(0).s, 500, ACK, 50); /* connection 1 seen again, last of all */
	closed_stream_conn(r, 8, 100);
	EXPECT_EQ(r.t.conn(1).completes, 0) << "connection 1 was seen at 50, connection 2 at 11";
	EXPECT_EQ(r.t.conn(2).completes, 1);
	r.finish();
}

/*
 * Room is made whenever some connection has no open stream, wherever it is
 * in the table: here the 70 least recently seen all have an open stream,
 * the next 10 none; the 81st connection must evict one of those 10, not go
 * untracked (connections_untracked_pkts promises every one had a stream).
 */
TEST(ConnEnd, TableFullFindsRoomPastManyOpenStreams)
{
	Opts o;
	o.max_connections = 80;
	ConnRig r(o);
	for (unsigned i = 0; i < 70; i++)
		r.send(tuple(i).c, 100, SYN, 10 + i); /* stream left open */
	for (unsigned i = 70; i < 80; i++)
		closed_stream_conn(r, i, 10 + i);
	EXPECT_EQ(r.open_conns(), 80u);
	closed_stream_conn(r, 80, 200);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_untracked_pkts), 0u);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_evicted), 1u);
	EXPECT_EQ(r.t.conn(71).completes, 1); /* the least recently seen without a stream */
	r.finish();
}

/* An ended connection lingering is evicted too, keeping its end, and counted. */
TEST(ConnEnd, TableFullEvictsLingering)
{
	Opts o;
	o.max_connections = 8;
	ConnRig r(o);
	Tuple k = tuple(0);
	r.send(k.c, 100, SYN, 1);
	r.send(k.c, 101, FINACK, 2);
	r.send(k.s, 500, FINACK, 3); /* ended: fin */
	for (unsigned i = 1; i < 9; i++)
		closed_stream_conn(r, i, 10 + i);
	EXPECT_EQ(r.t.conn(1).completes, 1);
	EXPECT_EQ(r.t.conn(1).at_complete.end, REASM_END_FIN);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_evicted), 1u);
	r.finish();
}

/*
 * Table full and every connection with an open stream: the next
 * connection's packets are not tracked (connections_untracked_pkts), its
 * streams still work, reasm_pool_open_connection() says -ENOENT.
 */
TEST(ConnEnd, TableFullOfOpenStreamsLeavesNewOnesUntracked)
{
	Opts o;
	o.max_connections = 8;
	ConnRig r(o);
	for (unsigned i = 0; i < 8; i++)
		r.send(tuple(i).c, 100, SYN, 10 + i);
	Tuple k = tuple(8);
	r.send(k.c, 100, SYN, data(3), 20);
	r.send(k.s, 500, SYNACK, data(2), 21);
	r.send(k.c, 104, ACK, 22);
	r.send(k.c, 104, FINACK, 23);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_untracked_pkts), 4u);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_opened), 8u);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_evicted), 0u);
	EXPECT_EQ(r.open_conns(), 8u);
	ASSERT_EQ(r.t.streams.size(), 10u);
	EXPECT_EQ(r.t.streams[8]->ref_rc, -ENOENT);
	EXPECT_EQ(r.t.streams[9]->ref_rc, -ENOENT);
	ASSERT_EQ(r.t.streams[8]->recs.size(), 2u); /* data, then the FIN's end */
	EXPECT_EQ(r.t.streams[8]->recs[0].bytes, data(3));
	EXPECT_TRUE(r.t.streams[8]->recs[1].end);
	EXPECT_EQ(r.t.streams[9]->recs.at(0).bytes, data(2));
	r.finish();
	EXPECT_EQ(r.t.conns.size(), 8u);
}

/* ------------------------------------------------------------------ */
/* 4. Linger and reuse                                                  */
/* ------------------------------------------------------------------ */

/* Handshake, a byte each way, FINs: an ended connection, no stream open. */
void
ended_conn(ConnRig &r, const Tuple &k, uint64_t ts)
{
	r.send(k.c, 100, SYN, ts);
	r.send(k.s, 500, SYNACK, ts + 1);
	r.send(k.c, 101, ACK, data(1), ts + 2);
	r.send(k.s, 501, ACK, data(1), ts + 3);
	r.send(k.c, 102, FINACK, ts + 4);
	r.send(k.s, 502, FINACK, ts + 5);
}

/* After both FINs, a trailing ACK, a retransmitted FIN and a SYN-ACK stay in it. */
TEST(ConnLinger, TrailingPacketsStay)
{
	ConnRig r;
	Tuple k = tuple(1);
	ended_conn(r, k, 10);
	EXPECT_EQ(reasm_pool_count(r.pool), 0u);
	r.send(k.c, 103, ACK, 20);
	r.send(k.s, 502, FINACK, 21);
	r.send(k.s, 900, SYNACK, 22); /* a SYN with ACK is no new connection */
	EXPECT_EQ(r.open_conns(), 1u);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_opened), 1u);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 1u);
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.half[0].packets, 4u);
	EXPECT_EQ(c.half[1].packets, 5u);
	EXPECT_EQ(c.last_seen, 22u);
	EXPECT_STREQ(c.history, "ShDdFfAh");
	EXPECT_EQ(c.end, REASM_END_FIN);
}

/*
 * A new SYN (no ACK) after the end with no stream open: the old connection
 * completes first, then the next connection of the 4-tuple opens, id 2.
 */
TEST(ConnLinger, NewSynStartsNextConnection)
{
	ConnRig r;
	Tuple k = tuple(1);
	ended_conn(r, k, 10);
	r.send(k.c, 5000, SYN, 30);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_opened), 2u);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_completed), 1u);
	EXPECT_EQ(r.open_conns(), 1u);
	ASSERT_EQ(r.t.conns.size(), 2u);
	EXPECT_EQ(r.t.conn(1).completes, 1);
	EXPECT_EQ(r.t.conn(1).at_complete.end, REASM_END_FIN);
	EXPECT_LT(r.t.conn(1).complete_tick, r.t.conn(2).open_tick);
	ASSERT_EQ(r.t.streams.size(), 3u);
	EXPECT_EQ(r.t.streams[2]->ref.id, 2u);
	EXPECT_EQ(r.t.streams[2]->ref.half, 0u);
	/* The SYN-ACK of the new connection joins it. */
	r.send(k.s, 8000, SYNACK, 31);
	r.finish();
	const struct reasm_connection &c2 = r.t.conn(2).at_complete;
	EXPECT_EQ(c2.first_seen, 30u);
	EXPECT_STREQ(c2.history, "Sh");
	EXPECT_EQ(c2.roles, REASM_ROLES_SYN);
	EXPECT_EQ(c2.half[0].packets, 1u);
	EXPECT_EQ(r.t.conn(1).at_complete.half[0].packets, 3u); /* none of the new ones */
}

/* The server's SYN (no ACK) after the end starts the next one too, its sender the client. */
TEST(ConnLinger, NewSynFromOtherSide)
{
	ConnRig r;
	Tuple k = tuple(1);
	ended_conn(r, k, 10);
	r.send(k.s, 7000, SYN, 30);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 2u);
	EXPECT_TRUE(same_flow(r.t.conn(2).at_complete.half[0].flow, flow_of(k.s)));
	EXPECT_EQ(r.t.conn(2).at_complete.client, 0u);
}

/* A SYN while a stream of the ended connection is still open stays in it. */
TEST(ConnLinger, SynWhileStreamOpenStays)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 1);
	r.send(k.s, 500, SYNACK, 2);
	r.send(k.c, 101, ACK, data(3), 3);
	r.send(k.s, 501, RST, 4); /* ended (rst_server); k.c's stream still open */
	EXPECT_EQ(reasm_pool_count(r.pool), 1u);
	r.send(k.c, 6000, SYN, 5);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_opened), 1u);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 1u);
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_STREQ(c.history, "ShDrS");
	EXPECT_EQ(c.end, REASM_END_RST_SERVER);
	EXPECT_EQ(c.half[0].packets, 3u);
}

/* ------------------------------------------------------------------ */
/* 5. Lifetime                                                          */
/* ------------------------------------------------------------------ */

/*
 * Data after a FIN reopens the direction (gopacket does): half[].streams is
 * 2, and half[].totals add both streams; the other side's pure ACKs open none.
 */
TEST(ConnLifetime, DataAfterFinOpensSecondStream)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 1);
	r.send(k.c, 101, ACK, data(2), 2);
	r.send(k.c, 103, FINACK, 3);
	r.send(k.s, 500, ACK, 4);
	r.send(k.c, 104, ACK, data(4), 5);
	EXPECT_EQ(reasm_pool_count(r.pool), 1u);
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.half[0].streams, 2u);
	EXPECT_EQ(c.half[1].streams, 0u);
	EXPECT_EQ(c.half[0].totals.received_bytes, 6u);
	EXPECT_EQ(c.half[0].totals.delivered_bytes, 6u);
	EXPECT_EQ(c.half[1].packets, 1u);
	EXPECT_EQ(c.half[1].payload_bytes, 0u);
}

/*
 * Packets and bytes per side as on the wire: retransmissions and pure ACKs
 * count, cut bytes too; the stream totals show the overlap and the cut;
 * last_seen is the newest timestamp even when packets come out of order.
 */
TEST(ConnLifetime, PacketsBytesAndTimes)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.c, 100, SYN, 1000);
	r.send(k.c, 101, ACK, data(10), 1010);
	r.send(k.c, 101, ACK, data(10), 1020);     /* retransmitted */
	r.send(k.c, 111, ACK, data(5), 1030, 100); /* 100 more bytes cut by the capture */
	r.send(k.s, 500, ACK, 1040);
	r.send(k.s, 500, ACK, 990); /* an older timestamp */
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_EQ(c.half[0].packets, 4u);
	EXPECT_EQ(c.half[0].payload_bytes, 10u + 10u + 5u + 100u);
	EXPECT_EQ(c.half[0].totals.received_bytes, 25u);
	EXPECT_EQ(c.half[0].totals.overlap_bytes, 10u);
	EXPECT_EQ(c.half[0].totals.cut_bytes, 100u);
	EXPECT_EQ(c.half[1].packets, 2u);
	EXPECT_EQ(c.first_seen, 1000u);
	EXPECT_EQ(c.last_seen, 1040u);
	EXPECT_EQ(r.t.conn(1).at_open.first_seen, 1000u);
}

/*
 * The connection's open() gets "the connection so far" once its first packet
 * was seen: that packet counted, its roles and history letter written.
 */
TEST(ConnLifetime, OpenSeesFirstPacket)
{
	ConnRig r;
	Tuple k = tuple(1);
	r.send(k.s, 500, SYNACK, 7);
	r.finish();
	const struct reasm_connection &c = r.t.conn(1).at_open;
	EXPECT_EQ(c.first_seen, 7u);
	EXPECT_EQ(c.last_seen, 7u);
	EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(k.s)));
	EXPECT_EQ(c.half[0].packets, 1u);
	EXPECT_EQ(c.roles, REASM_ROLES_SYN_ACK);
	EXPECT_EQ(c.client, 1u);
	EXPECT_STREQ(c.history, "h");
}

/*
 * Inside a stream's open(), reasm_pool_open_connection() gives what the
 * connection's open() returned, its area (the one it zeroed and wrote), its
 * id and the stream's side; outside open() and with bad arguments it fails.
 */
TEST(ConnLifetime, OpenConnectionInStreamOpen)
{
	ConnRig r;
	Tuple k = tuple(1);
	struct reasm_half_ref ref;
	EXPECT_EQ(reasm_pool_open_connection(r.pool, &ref), -ENOENT);
	EXPECT_EQ(reasm_pool_open_connection(r.pool, nullptr), -EINVAL);
	EXPECT_EQ(reasm_pool_open_connection(nullptr, &ref), -EINVAL);
	r.send(k.s, 500, ACK, 1); /* a pure ACK opens the connection, no stream */
	r.send(k.c, 100, SYN, 2);
	r.send(k.s, 500, SYNACK, 3);
	EXPECT_EQ(reasm_pool_open_connection(r.pool, &ref), -ENOENT);
	EXPECT_EQ(reasm_pool_connection_count(r.pool), 1u);
	EXPECT_EQ(reasm_pool_connection_count(nullptr), 0u);
	ASSERT_EQ(r.t.streams.size(), 2u);
	ConnSeen &c = r.t.conn(1);
	for (unsigned i = 0; i < 2; i++) {
		const StreamSeen &s = *r.t.streams[i];
		ASSERT_EQ(s.ref_rc, 0);
		EXPECT_EQ(s.ref.conn, &c);
		EXPECT_EQ(s.ref.id, 1u);
		ASSERT_NE(s.ref.priv, nullptr);
		EXPECT_EQ(s.ref.priv, c.priv);
		EXPECT_EQ(static_cast<uint8_t *>(s.ref.priv)[0], 0x81) << "what open() wrote";
		EXPECT_EQ(static_cast<uint8_t *>(s.ref.priv)[23], 0x81);
	}
	EXPECT_EQ(r.t.streams[0]->ref.half, 1u); /* k.c: the pure ACK's sender is half 0 */
	EXPECT_EQ(r.t.streams[1]->ref.half, 0u);
	r.finish();
}

/* Without conn_priv_size the area is NULL, in both open()s. */
TEST(ConnLifetime, NoPrivArea)
{
	Opts o;
	o.conn_priv_size = 0;
	ConnRig r(o);
	r.send(tuple(1).c, 100, SYN, 1);
	ASSERT_EQ(r.t.streams.size(), 1u);
	EXPECT_EQ(r.t.streams[0]->ref_rc, 0);
	EXPECT_EQ(r.t.streams[0]->ref.priv, nullptr);
	EXPECT_EQ(r.t.conn(1).priv, nullptr);
	r.finish();
}

/*
 * Slots are reused: with max_connections 8 and 40 connections one after the
 * other, each area comes zeroed (check() asserts it) and the count follows.
 */
TEST(ConnLifetime, AreaZeroedOnReuseAndCountFollows)
{
	Opts o;
	o.max_connections = 8;
	ConnRig r(o);
	for (unsigned i = 0; i < 40; i++) {
		ended_conn(r, tuple(i), 100 * i);
		EXPECT_EQ(r.open_conns(), std::min(i + 1, 8u));
	}
	r.flush_older_than(100 * 39);
	EXPECT_EQ(r.open_conns(), 1u);
	r.finish();
	EXPECT_EQ(r.t.conns.size(), 40u);
	EXPECT_EQ(r.ctr(REASM_CTR_connections_evicted), 32u);
}

/* ------------------------------------------------------------------ */
/* 6. The stream contract is untouched                                  */
/* ------------------------------------------------------------------ */

/* One step of a workload: a packet, a flush older than ts, or a flush of all. */
struct Op {
	enum Kind { Packet, Flush, FlushAll } kind;
	FrameSpec pkt;
	uint64_t ts;
};

struct Rng {
	std::mt19937_64 g;
	explicit Rng(uint64_t seed) : g(seed)
	{
	}
	uint64_t operator()(uint64_t lo, uint64_t hi) /* in [lo, hi] */
	{
		return std::uniform_int_distribution<uint64_t>(lo, hi)(g);
	}
	bool chance(unsigned percent)
	{
		return (*this)(1, 100) <= percent;
	}
};

/*
 * The packets of one connection: a handshake (whole, SYN-ACK only, or none),
 * data both ways with pure ACKs, an ending (FINs, a RST, FIN+RST, SYN+FIN or
 * none), trailing packets (ACKs, a retransmitted FIN, data after a FIN); then
 * duplicated, lost and swapped packets.
 */
std::vector<FrameSpec>
random_connection(Rng &rng, const Tuple &k)
{
	std::vector<FrameSpec> p;
	uint32_t cs = (uint32_t)(rng.chance(20) ? 0xFFFFFFFFu - rng(0, 3000) : rng(0, UINT32_MAX));
	uint32_t ss = (uint32_t)rng(0, UINT32_MAX);
	uint32_t cn = cs + 1, sn = ss + 1;
	unsigned hs = (unsigned)rng(0, 2);
	if (hs == 0)
		p.push_back(with(k.c, cs, SYN));
	if (hs <= 1) {
		p.push_back(with(k.s, ss, SYNACK));
		p.push_back(with(k.c, cn, ACK));
	}
	for (unsigned i = 0, n = (unsigned)rng(0, 8); i < n; i++) {
		bool client = rng.chance(50);
		uint32_t &seq = client ? cn : sn;
		size_t len = rng.chance(25) ? 0 : (size_t)rng(1, 3000);
		Bytes b(len);
		for (auto &x : b)
			x = (uint8_t)rng(0, 255);
		p.push_back(with(client ? k.c : k.s, seq, ACK, b));
		seq += (uint32_t)len;
	}
	switch (rng(0, 6)) {
	case 0:
	case 1:
		p.push_back(with(k.c, cn, FINACK));
		p.push_back(with(k.s, sn, FINACK));
		break;
	case 2:
		p.push_back(with(k.c, cn, RST));
		break;
	case 3:
		p.push_back(with(k.s, sn, RST | ACK));
		break;
	case 4:
		p.push_back(with(k.c, cn, FIN | RST));
		break;
	case 5:
		p.push_back(with(k.s, sn, SYN | FIN));
		break;
	default:
		break;
	}
	if (rng.chance(30))
		p.push_back(with(k.c, cn + 1, ACK));
	if (rng.chance(20))
		p.push_back(with(k.s, sn, FINACK));
	if (rng.chance(15))
		p.push_back(with(k.c, cn + 1, ACK, Bytes(rng(1, 100), 7)));
	std::vector<FrameSpec> out;
	for (size_t i = 0; i < p.size(); i++) {
		if (rng.chance(5))
			continue; /* lost */
		out.push_back(p[i]);
		if (rng.chance(10))
			out.push_back(p[i]); /* retransmitted */
	}
	for (size_t i = 0; i + 1 < out.size(); i++)
		if (rng.chance(15))
			std::swap(out[i], out[i + 1]);
	return out;
}

/*
 * A workload: connections over a few 4-tuples (so 4-tuples are reused),
 * IPv4 and IPv6, some in VLANs (zones with up to 8 at once: recycled), interleaved
 * at random, timestamps rising with idle gaps,
 * flushes now and then, a flush of everything at the end.
 */
std::vector<Op>
random_workload(uint64_t seed)
{
	Rng rng(seed);
	unsigned ntuples = (unsigned)rng(2, 12);
	std::vector<std::vector<FrameSpec>> conns;
	for (unsigned i = 0, n = (unsigned)rng(ntuples, 3 * ntuples); i < n; i++) {
		unsigned t = (unsigned)rng(0, ntuples - 1);
		Tuple k = tuple(t, t % 3 == 2 ? 6 : 4);
		if (rng.chance(50)) /* a VLAN: another zone when the pool has zones */
			k.c.vlans = k.s.vlans = {(uint16_t)rng(1, 12)};
		conns.push_back(random_connection(rng, k));
	}
	std::vector<size_t> next(conns.size(), 0);
	std::vector<Op> ops;
	uint64_t ts = 1000000;
	for (;;) {
		std::vector<size_t> live;
		for (size_t c = 0; c < conns.size(); c++)
			if (next[c] < conns[c].size())
				live.push_back(c);
		if (live.empty())
			break;
		size_t c = live[rng(0, live.size() - 1)];
		ts += rng.chance(3) ? rng(100000, 1000000) : rng(0, 1000);
		ops.push_back({Op::Packet, conns[c][next[c]++], ts});
		if (rng.chance(4))
			ops.push_back({Op::Flush, FrameSpec(), ts - rng(0, 200000)});
	}
	ops.push_back({Op::FlushAll, FrameSpec(), 0});
	return ops;
}

/* Runs @p ops through @p r: one segment per call, or frames in bursts of 1..70. */
void
run_ops(ConnRig &r, const std::vector<Op> &ops, bool burst, uint64_t seed)
{
	Rng rng(seed ^ 0x5eed);
	std::vector<Bytes> frames;
	std::vector<uint64_t> ts;
	size_t want = 1;
	auto drain = [&]() {
		if (!frames.empty())
			r.burst(frames, ts);
		frames.clear();
		ts.clear();
		want = (size_t)rng(1, 70);
	};
	for (const Op &op : ops) {
		if (op.kind == Op::Packet && !burst) {
			struct reasm_flow flow = flow_of(op.pkt);
			struct reasm_segment seg = segment_of(op.pkt);
			reasm_assemble(r.a, &flow, &seg, op.ts);
		} else if (op.kind == Op::Packet) {
			frames.push_back(frame(op.pkt));
			ts.push_back(op.ts);
			if (frames.size() >= want)
				drain();
		} else {
			drain();
			if (op.kind == Op::Flush)
				r.flush_older_than(op.ts);
			else
				r.flush_all();
		}
	}
}

/* "" if @p a and @p b are equal, else where they first differ. */
std::string
first_difference(const std::vector<std::string> &a, const std::vector<std::string> &b)
{
	for (size_t i = 0; i < std::max(a.size(), b.size()); i++) {
		std::string x = i < a.size() ? a[i] : "(nothing)";
		std::string y = i < b.size() ? b[i] : "(nothing)";
		if (x != y)
			return "callback " + std::to_string(i) +
			       ":\n  with:    " + x.substr(0, 200) +
			       "\n  without: " + y.substr(0, 200);
	}
	return "";
}

bool
is_connection_counter(unsigned c)
{
	return strncmp(reasm_counter_name(c), "connections_", 12) == 0;
}

/*
 * Random traffic through a pool without connections and pools with them
 * (room for all, and max_connections 8: evictions and untracked packets):
 * the same stream callbacks, byte for byte, in the same order, with the same
 * totals, and the same counters but the connections_* ones. Through both
 * entry points. Reproduce one seed with REASM_CONN_SEED.
 */
TEST(ConnContract, StreamsIdenticalWithAndWithoutConnections)
{
	const char *env = getenv("REASM_CONN_SEED");
	std::vector<uint64_t> seeds;
	if (env != nullptr && *env != '\0')
		seeds.push_back(strtoull(env, nullptr, 0));
	else
		for (uint64_t s = 1; s <= 40; s++)
			seeds.push_back(s * 0x9E3779B97F4A7C15ull);
	uint64_t evicted = 0, untracked = 0, streams = 0;
	for (uint64_t seed : seeds) {
		for (bool burst : {false, true}) {
			std::vector<Op> ops = random_workload(seed);
			Rng lim(seed);
			Opts base;
			base.max_conns = lim.chance(30) ? 16 : 1024;
			base.max_pages_per_conn = (uint32_t)lim(0, 4);
			base.max_pages_total = lim.chance(30) ? 6 : 0;
			base.max_zones = lim.chance(50) ? 8 : 0;
			Opts off = base, wide = base, narrow = base;
			off.max_connections = 0;
			wide.max_connections = 4096;
			narrow.max_connections = 8;
			ConnRig a(off), b(wide), c(narrow);
			SCOPED_TRACE("REASM_CONN_SEED=" + std::to_string(seed) +
				     (burst ? " (burst)" : " (segments)"));
			run_ops(a, ops, burst, seed);
			run_ops(b, ops, burst, seed);
			run_ops(c, ops, burst, seed);
			for (ConnRig *x : {&b, &c}) {
				SCOPED_TRACE(x == &b ? "max_connections 4096"
						     : "max_connections 8");
				ASSERT_EQ(first_difference(x->t.transcript, a.t.transcript), "");
				for (unsigned k = 0; k < REASM_CTR_MAX; k++) {
					if (is_connection_counter(k))
						continue;
					EXPECT_EQ(x->ctr((enum reasm_counter)k),
						  a.ctr((enum reasm_counter)k))
						<< reasm_counter_name(k);
				}
				x->check();
			}
			a.check();
			EXPECT_EQ(b.ctr(REASM_CTR_connections_untracked_pkts), 0u);
			EXPECT_EQ(b.ctr(REASM_CTR_connections_evicted), 0u);
			evicted += c.ctr(REASM_CTR_connections_evicted);
			untracked += c.ctr(REASM_CTR_connections_untracked_pkts);
			streams += a.t.streams.size();
			if (HasFatalFailure())
				return;
		}
	}
	if (env == nullptr || *env == '\0') {
		/* The workloads reach what they are meant to. */
		EXPECT_GT(evicted, 0u);
		EXPECT_GT(untracked, 0u);
		EXPECT_GT(streams, 1000u);
	}
}

/* ------------------------------------------------------------------ */
/* 7. Configuration                                                     */
/* ------------------------------------------------------------------ */

void
nop_complete(void *, const struct reasm_connection *)
{
}
void *
nop_open(void *, const struct reasm_connection *, void *)
{
	return nullptr;
}

const struct reasm_connection_ops no_open = {nullptr, nop_complete};
const struct reasm_connection_ops no_complete = {nop_open, nullptr};

/* A pool conf with the connection layer; @p name must outlive the call. */
struct reasm_pool_conf
conf_with(const std::string &name, Tracker &t)
{
	struct reasm_pool_conf pc = {};
	pc.name = name.c_str();
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = 64;
	pc.ops = &Tracker::stream_ops;
	pc.factory_ctx = &t;
	pc.max_connections = 8;
	pc.conn_ops = &Tracker::conn_ops;
	pc.conn_ctx = &t;
	return pc;
}

/* What reasm_pool_create() refuses; the name stays free for the next try. */
TEST(ConnConfig, RefusedConfigurations)
{
	Tracker t;
	const std::string name = unique_name("conn_cfg");
	struct Case {
		const char *what;
		void (*edit)(struct reasm_pool_conf &);
	};
	const Case cases[] = {
		{"shared pool", [](struct reasm_pool_conf &c) { c.mode = REASM_POOL_SHARED; }},
		{"max_connections 7", [](struct reasm_pool_conf &c) { c.max_connections = 7; }},
		{"max_connections 1", [](struct reasm_pool_conf &c) { c.max_connections = 1; }},
		{"no conn_ops", [](struct reasm_pool_conf &c) { c.conn_ops = nullptr; }},
		{"no open", [](struct reasm_pool_conf &c) { c.conn_ops = &no_open; }},
		{"no complete", [](struct reasm_pool_conf &c) { c.conn_ops = &no_complete; }},
	};
	for (const Case &c : cases) {
		SCOPED_TRACE(c.what);
		struct reasm_pool_conf pc = conf_with(name, t);
		c.edit(pc);
		rte_errno = 0;
		EXPECT_EQ(reasm_pool_create(&pc), nullptr);
		EXPECT_EQ(rte_errno, EINVAL);
	}
	/* The smallest table, and the name after all those failures. */
	struct reasm_pool_conf pc = conf_with(name, t);
	struct reasm_pool *p = reasm_pool_create(&pc);
	ASSERT_NE(p, nullptr) << rte_strerror(rte_errno);
	/* The same name again: in use. */
	rte_errno = 0;
	EXPECT_EQ(reasm_pool_create(&pc), nullptr);
	EXPECT_EQ(rte_errno, EEXIST);
	reasm_pool_free(p);
	p = reasm_pool_create(&pc); /* freed: the name is free again */
	EXPECT_NE(p, nullptr);
	reasm_pool_free(p);
	EXPECT_STREQ(reasm_roles_name(REASM_ROLES_SYN_ACK), "syn_ack");
	EXPECT_STREQ(reasm_roles_name(REASM_ROLES_MAX), "unknown");
}

/*
 * Two pools whose 15-character names differ in the last one: fine without
 * connections (rte_hash's own ring names cut longer ones), so fine with them.
 */
TEST(ConnConfig, LongPoolNames)
{
	Tracker t;
	const std::string n1 = "conn_pool_n_001";
	const std::string n2 = "conn_pool_n_002";
	struct reasm_pool_conf c1 = conf_with(n1, t), c2 = conf_with(n2, t);
	c1.max_connections = c2.max_connections = 0;
	struct reasm_pool *p1 = reasm_pool_create(&c1), *p2 = reasm_pool_create(&c2);
	EXPECT_NE(p1, nullptr); /* without connections: both fine */
	EXPECT_NE(p2, nullptr);
	reasm_pool_free(p1);
	reasm_pool_free(p2);
	c1.max_connections = c2.max_connections = 8;
	p1 = reasm_pool_create(&c1);
	p2 = reasm_pool_create(&c2);
	EXPECT_NE(p1, nullptr) << rte_strerror(rte_errno);
	EXPECT_NE(p2, nullptr) << rte_strerror(rte_errno);
	reasm_pool_free(p1);
	reasm_pool_free(p2);
}

/* max_connections 0: conn_ops given, yet no connection callback runs and the counters stay 0. */
TEST(ConnConfig, LayerOffRunsNothing)
{
	Opts o;
	o.max_connections = 0;
	ConnRig r(o);
	Tuple k = tuple(1);
	ended_conn(r, k, 10);
	r.send(k.c, 103, ACK, 20);
	r.send(k.c, 5000, SYN, 30);
	r.burst({frame(with(k.s, 9000, SYNACK)), frame(with(k.c, 5001, ACK))}, {31, 32});
	EXPECT_EQ(r.open_conns(), 0u);
	r.finish();
	EXPECT_TRUE(r.t.conns.empty());
	EXPECT_EQ(r.t.streams.size(), 4u);
	for (unsigned c = 0; c < REASM_CTR_MAX; c++) {
		if (is_connection_counter(c)) {
			EXPECT_EQ(r.ctr((enum reasm_counter)c), 0u) << reasm_counter_name(c);
		}
	}
}

/* ------------------------------------------------------------------ */
/* 8. The burst path, IPv6, zones                                       */
/* ------------------------------------------------------------------ */

/* A whole connection as frames: the ACK bit comes from the header. */
std::vector<Bytes>
conversation(const Tuple &k, std::vector<uint16_t> vlans = {})
{
	FrameSpec c = k.c, s = k.s;
	c.vlans = s.vlans = vlans;
	return {
		frame(with(c, 100, SYN)),    frame(with(s, 500, SYNACK)),
		frame(with(c, 101, ACK)),    frame(with(c, 101, ACK, data(5))),
		frame(with(s, 501, ACK)),    frame(with(s, 501, ACK, data(10, 'A'))),
		frame(with(c, 106, FINACK)), frame(with(s, 511, FINACK)),
		frame(with(c, 107, ACK)),
	};
}

std::vector<uint64_t>
times(size_t n, uint64_t first)
{
	std::vector<uint64_t> v;
	for (size_t i = 0; i < n; i++)
		v.push_back(first + i);
	return v;
}

/*
 * IPv4 and IPv6 frames through reasm_assemble_burst(), interleaved in one
 * burst: the parser passes the ACK bit, so the SYN-ACK is 'h', pure ACKs
 * count and write 'A'; each family pairs its two directions.
 */
TEST(ConnBurst, Ipv4AndIpv6Frames)
{
	ConnRig r;
	Tuple k4 = tuple(1, 4), k6 = tuple(2, 6);
	std::vector<Bytes> f4 = conversation(k4), f6 = conversation(k6), all;
	for (size_t i = 0; i < f4.size(); i++) {
		all.push_back(f4[i]);
		all.push_back(f6[i]);
	}
	EXPECT_EQ(r.burst(all, times(all.size(), 100)), all.size());
	EXPECT_EQ(r.ctr(REASM_CTR_segs_ignored_empty), 6u); /* the pure ACKs, 3 per connection */
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 2u);
	for (uint64_t id : {1u, 2u}) {
		const struct reasm_connection &c = r.t.conn(id).at_complete;
		SCOPED_TRACE("connection " + std::to_string(id));
		EXPECT_EQ(c.half[0].flow.family, id == 1 ? REASM_FAMILY_IPV4 : REASM_FAMILY_IPV6);
		EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(id == 1 ? k4.c : k6.c)));
		EXPECT_STREQ(c.history, "ShADadFf");
		EXPECT_EQ(c.roles, REASM_ROLES_SYN);
		EXPECT_EQ(c.end, REASM_END_FIN);
		EXPECT_EQ(c.half[0].packets, 5u);
		EXPECT_EQ(c.half[1].packets, 4u);
		EXPECT_EQ(c.half[0].totals.delivered_bytes, 5u);
		EXPECT_EQ(c.half[1].totals.delivered_bytes, 10u);
		EXPECT_EQ(c.half[0].streams, 1u);
		EXPECT_EQ(c.half[1].streams, 1u);
		EXPECT_EQ(r.t.conn(id).encap_rc, 0); /* the connection's open() sees its frame */
		EXPECT_EQ(r.t.conn(id).encap.layers, 0u);
	}
}

/* One burst per packet (no bulk lookup carried over): the same connection. */
TEST(ConnBurst, OneFramePerBurst)
{
	ConnRig r;
	Tuple k = tuple(1, 6);
	std::vector<Bytes> f = conversation(k);
	for (size_t i = 0; i < f.size(); i++)
		r.burst({f[i]}, {100 + i});
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 1u);
	EXPECT_STREQ(r.t.conn(1).at_complete.history, "ShADadFf");
}

/* IPv6 through reasm_assemble(): the two directions pair, the reverse first too. */
TEST(ConnFamilies, Ipv6Pairs)
{
	ConnRig r;
	Tuple k = tuple(7, 6);
	r.send(k.s, 500, ACK, data(3), 1);
	r.send(k.c, 100, ACK, data(3), 2);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 1u);
	const struct reasm_connection &c = r.t.conn(1).at_complete;
	EXPECT_TRUE(same_flow(c.half[0].flow, flow_of(k.s)));
	EXPECT_TRUE(same_flow(c.half[1].flow, flow_of(k.c)));
	EXPECT_EQ(c.half[0].streams, 1u);
	EXPECT_EQ(c.half[1].streams, 1u);
}

/* One 4-tuple in two VLANs with zones: two connections, each in its zone. */
TEST(ConnZones, SameTupleTwoVlansTwoConnections)
{
	Opts o;
	o.max_zones = 8;
	ConnRig r(o);
	Tuple k = tuple(1);
	std::vector<Bytes> a = conversation(k, {10}), b = conversation(k, {20}), all;
	for (size_t i = 0; i < a.size(); i++) {
		all.push_back(a[i]);
		all.push_back(b[i]);
	}
	r.burst(all, times(all.size(), 100));
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 2u);
	const struct reasm_connection &c1 = r.t.conn(1).at_complete, &c2 = r.t.conn(2).at_complete;
	EXPECT_NE(memcmp(c1.half[0].flow.zone, c2.half[0].flow.zone, 3), 0);
	EXPECT_EQ(memcmp(c1.half[0].flow.zone, c1.half[1].flow.zone, 3), 0);
	for (uint64_t id : {1u, 2u}) {
		EXPECT_STREQ(r.t.conn(id).at_complete.history, "ShADadFf");
		EXPECT_EQ(r.t.conn(id).encap.layers, REASM_ENCAP_VLAN);
	}
	EXPECT_EQ(r.t.conn(1).encap.vlan, 10u);
	EXPECT_EQ(r.t.conn(2).encap.vlan, 20u);
}

/*
 * A zone index freed for another VLAN while a connection of the old VLAN
 * lingers: the new VLAN's packets must not join the old VLAN's connection.
 * Zones are held by open streams; here VLAN 10's stream closes (its
 * connection lives on), seven other VLANs take the other zones with pure
 * ACKs, and VLAN 18 gets VLAN 10's old index.
 */
TEST(ConnZones, RecycledZoneDoesNotJoinOldConnection)
{
	Opts o;
	o.max_zones = 8;
	ConnRig r(o);
	Tuple k = tuple(1);
	FrameSpec c10 = k.c, s10 = k.s;
	c10.vlans = s10.vlans = {10};
	r.burst({frame(with(c10, 100, SYN)), frame(with(c10, 101, FINACK))}, {1, 2});
	EXPECT_EQ(reasm_pool_count(r.pool), 0u);
	for (uint16_t vlan = 11; vlan <= 17; vlan++) {
		FrameSpec other = tuple(vlan).c;
		other.vlans = {vlan};
		r.burst({frame(with(other, 1, ACK))}, {vlan});
	}
	EXPECT_EQ(reasm_pool_zones_in_use(r.pool), 8u);
	FrameSpec c18 = k.c;
	c18.vlans = {18};
	r.burst({frame(with(c18, 100, SYN))}, {30});
	EXPECT_EQ(r.ctr(REASM_CTR_drop_zone_table_full), 0u);
	r.finish();
	ASSERT_EQ(r.t.conns.size(), 9u) << "VLAN 18's SYN joined VLAN 10's connection";
	EXPECT_EQ(r.t.conn(9).encap.vlan, 18u);
	EXPECT_EQ(r.t.conn(1).at_complete.half[0].packets, 2u);
}

} // namespace
