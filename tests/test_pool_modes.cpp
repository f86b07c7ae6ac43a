/* SPDX-License-Identifier: BSD-3-Clause
 * Connection pool modes and configuration.
 *
 * Covers:
 * - single-writer pools: a second assembler is refused (EINVAL) while the
 *   first exists, and accepted once it is freed;
 * - reasm_pool_count() follows opens (SYN, data), closes (FIN, RST,
 *   flush_older_than, flush_all) and re-opens; segments that cannot open a
 *   stream (empty ACK, FIN/RST alone) do not count;
 * - table-full policy: with max_conns directions open, a segment that would
 *   open another is dropped with -ENOSPC and counted (table_full_pkts,
 *   table_full_bytes), on both entry points; open streams keep working;
 *   after closes new streams open again;
 * - bad pool and assembler configurations are refused with rte_errno
 *   (EINVAL, EEXIST for a name in use), bad assemble arguments with -EINVAL;
 * - shared pools (REASM_POOL_SHARED), two std::threads each with its own
 *   assembler: disjoint connections per thread deliver every byte exactly;
 *   the same streams fed by both threads deliver every byte exactly, with
 *   one open() and one complete() per stream and never two callbacks of a
 *   stream at once;
 * - every test ends with the page mempool full and the table empty.
 */
#include <gtest/gtest.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "frames.h"
#include "recorder.h"
#include "test_env.h"

using namespace reasm_test;

namespace {

/* Direction @i: 10.0.x.y:(1000+i) -> 10.1.x.y:80, or the reverse when @reverse. */
FrameSpec endpoint(unsigned i, bool reverse = false)
{
	FrameSpec s;
	s.src = {{10, 0, (uint8_t)(i >> 8), (uint8_t)i}};
	s.dst = {{10, 1, (uint8_t)(i >> 8), (uint8_t)i}};
	s.sport = (uint16_t)(1000 + i);
	s.dport = 80;
	if (reverse) {
		std::swap(s.src, s.dst);
		std::swap(s.sport, s.dport);
	}
	return s;
}

int put_seg(struct reasm_assembler *a, const FrameSpec &spec, uint32_t seq, uint8_t flags,
	 const std::vector<uint8_t> &payload, uint64_t ts)
{
	FrameSpec s = spec;
	s.seq = seq;
	s.flags = flags;
	s.payload = payload;
	struct reasm_flow flow = flow_of(s);
	struct reasm_segment seg = segment_of(s);
	return reasm_assemble(a, &flow, &seg, ts);
}

uint64_t counter(struct reasm_assembler *a, enum reasm_counter c)
{
	struct reasm_stats st;
	reasm_assembler_stats(a, &st);
	return st.v[c];
}

std::vector<uint8_t> bytes(size_t n, uint8_t first)
{
	std::vector<uint8_t> v(n);
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(first + i);
	return v;
}

void *nop_open(void *, const struct reasm_flow *, void *)
{
	return nullptr;
}
void nop_reassembled(void *, const struct reasm_record *, unsigned int) {}
void nop_complete(void *, const struct reasm_stream_totals *) {}
const struct reasm_stream_ops nop_ops = {nop_open, nop_reassembled, nop_complete};

} // namespace

/* ------------------------------------------------------------------ */
/* Single-writer pools                                                  */
/* ------------------------------------------------------------------ */

TEST(PoolSingleWriter, SecondAssemblerIsRefused)
{
	Rig rig;
	struct reasm_assembler_conf ac = {};
	ac.pool = rig.pool;
	ac.page_pool = rig.pages;
	ac.socket_id = SOCKET_ID_ANY;

	rte_errno = 0;
	EXPECT_EQ(reasm_assembler_create(&ac), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	/* Once the first is gone, the pool takes a new one. */
	reasm_assembler_free(rig.asm_);
	rig.asm_ = reasm_assembler_create(&ac);
	ASSERT_NE(rig.asm_, nullptr);
	EXPECT_EQ(put_seg(rig.asm_, endpoint(0), 100, REASM_TCP_SYN, {}, 1), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 1u);
	EXPECT_EQ(reasm_flush_all(rig.asm_), 1u);
	EXPECT_TRUE(rig.pages_all_free());
}

TEST(PoolSingleWriter, CountTracksOpensAndCloses)
{
	Rig rig;
	struct reasm_assembler *a = rig.asm_;
	EXPECT_EQ(reasm_pool_count(rig.pool), 0u);

	for (unsigned i = 0; i < 10; i++) {
		ASSERT_EQ(put_seg(a, endpoint(i), 1000, REASM_TCP_SYN, {}, 10), 0);
		EXPECT_EQ(reasm_pool_count(rig.pool), i + 1);
	}
	/* Each direction is a stream of its own. */
	ASSERT_EQ(put_seg(a, endpoint(0, true), 5000, REASM_TCP_SYN, {}, 10), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 11u);
	/* Data without a SYN opens a stream too. */
	ASSERT_EQ(put_seg(a, endpoint(20), 7, 0, bytes(10, 1), 10), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 12u);
	/* An empty ACK, a FIN and an RST alone open nothing. */
	ASSERT_EQ(put_seg(a, endpoint(21), 7, 0, {}, 10), 0);
	ASSERT_EQ(put_seg(a, endpoint(22), 7, REASM_TCP_FIN, {}, 10), 0);
	ASSERT_EQ(put_seg(a, endpoint(23), 7, REASM_TCP_RST, {}, 10), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 12u);
	EXPECT_EQ(rig.rec.opened(), 12u);

	/* FIN and RST at the next expected sequence close their stream. */
	ASSERT_EQ(put_seg(a, endpoint(0), 1001, REASM_TCP_FIN, {}, 20), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 11u);
	ASSERT_EQ(put_seg(a, endpoint(1), 1001, REASM_TCP_RST, {}, 20), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 10u);
	EXPECT_EQ(rig.rec.completed(), 2u);

	/* A closed direction opens again as a new stream. */
	ASSERT_EQ(put_seg(a, endpoint(0), 9000, REASM_TCP_SYN, {}, 30), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 11u);
	EXPECT_EQ(rig.rec.opened(), 13u);

	/* Streams idle since before 25 close; the one seen at 30 stays. */
	unsigned closed = 0;
	reasm_flush_older_than(a, 25, &closed);
	EXPECT_EQ(closed, 10u);
	EXPECT_EQ(reasm_pool_count(rig.pool), 1u);

	EXPECT_EQ(reasm_flush_all(a), 1u);
	EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
	EXPECT_EQ(rig.rec.completed(), 13u);
	EXPECT_TRUE(rig.pages_all_free());
}

TEST(PoolSingleWriter, TableFullDropsNewStreamsAndCounts)
{
	RigOptions o;
	o.max_conns = 8;
	Rig rig(o);
	struct reasm_assembler *a = rig.asm_;

	for (unsigned i = 0; i < 8; i++)
		ASSERT_EQ(put_seg(a, endpoint(i), 100, REASM_TCP_SYN, bytes(10, 0), 1), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 8u);
	rig.rec.take();

	/* The ninth direction is dropped and counted, data or SYN alike. */
	EXPECT_EQ(put_seg(a, endpoint(8), 100, 0, bytes(100, 0), 2), -ENOSPC);
	EXPECT_EQ(put_seg(a, endpoint(9), 100, REASM_TCP_SYN, {}, 2), -ENOSPC);
	EXPECT_EQ(counter(a, REASM_CTR_table_full_pkts), 2u);
	EXPECT_EQ(counter(a, REASM_CTR_table_full_bytes), 100u);
	EXPECT_EQ(reasm_pool_count(rig.pool), 8u);
	EXPECT_EQ(rig.rec.opened(), 8u);
	EXPECT_TRUE(rig.rec.take().empty());

	/* A FIN alone would not open a stream: not a table-full drop. */
	uint64_t no_conn = counter(a, REASM_CTR_segs_no_conn);
	EXPECT_EQ(put_seg(a, endpoint(10), 100, REASM_TCP_FIN, {}, 2), 0);
	EXPECT_EQ(counter(a, REASM_CTR_table_full_pkts), 2u);
	EXPECT_EQ(counter(a, REASM_CTR_segs_no_conn), no_conn + 1);

	/* The burst entry point applies the same policy. */
	std::vector<struct rte_mbuf *> burst;
	for (unsigned i = 0; i < 3; i++) {
		FrameSpec s = endpoint(11 + i);
		s.seq = 5;
		s.payload = bytes(50, 0);
		burst.push_back(to_mbuf(build_frame(s)));
	}
	reasm_assemble_burst(a, burst.data(), (uint16_t)burst.size(), nullptr, 3);
	for (auto *m : burst)
		rte_pktmbuf_free(m);
	EXPECT_EQ(counter(a, REASM_CTR_table_full_pkts), 5u);
	EXPECT_EQ(counter(a, REASM_CTR_table_full_bytes), 250u);
	EXPECT_EQ(reasm_pool_count(rig.pool), 8u);

	/* Open streams keep working: in order, and out of order then filled. */
	ASSERT_EQ(put_seg(a, endpoint(3), 111, 0, bytes(5, 50), 4), 0);
	std::vector<Rec> got = rig.rec.take();
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(got[0].bytes, bytes(5, 50));
	ASSERT_EQ(put_seg(a, endpoint(4), 116, 0, bytes(5, 60), 4), 0);
	EXPECT_TRUE(rig.rec.take().empty());
	ASSERT_EQ(put_seg(a, endpoint(4), 111, 0, bytes(5, 55), 4), 0);
	EXPECT_EQ(concat(rig.rec.take()), bytes(10, 55));

	/* A close makes room: the refused direction now opens. */
	ASSERT_EQ(put_seg(a, endpoint(0), 111, REASM_TCP_FIN, {}, 5), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 7u);
	EXPECT_EQ(put_seg(a, endpoint(8), 100, 0, bytes(100, 0), 6), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 8u);
	EXPECT_EQ(rig.rec.opened(), 9u);
	EXPECT_EQ(counter(a, REASM_CTR_table_full_pkts), 5u);

	/* flush_all empties the table; every direction opens again. */
	EXPECT_EQ(reasm_flush_all(a), 8u);
	EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
	for (unsigned i = 10; i < 18; i++)
		EXPECT_EQ(put_seg(a, endpoint(i), 1, REASM_TCP_SYN, {}, 7), 0);
	EXPECT_EQ(reasm_pool_count(rig.pool), 8u);
	EXPECT_EQ(reasm_flush_all(a), 8u);
	EXPECT_EQ(rig.rec.completed(), rig.rec.opened());
	EXPECT_TRUE(rig.pages_all_free());
}

/* ------------------------------------------------------------------ */
/* Configuration errors                                                 */
/* ------------------------------------------------------------------ */

namespace {

struct reasm_pool *try_pool(const struct reasm_pool_conf &conf, int *err)
{
	rte_errno = 0;
	struct reasm_pool *p = reasm_pool_create(&conf);
	*err = rte_errno;
	return p;
}

struct reasm_pool_conf good_conf(const std::string &name)
{
	struct reasm_pool_conf c = {};
	c.name = name.c_str();
	c.socket_id = SOCKET_ID_ANY;
	c.max_conns = 64;
	c.mode = REASM_POOL_SINGLE_WRITER;
	c.ops = &nop_ops;
	return c;
}

} // namespace

TEST(PoolConfig, BadPoolConfigsAreRefused)
{
	std::string name = unique_name("cfg");
	int err = 0;

	rte_errno = 0;
	EXPECT_EQ(reasm_pool_create(nullptr), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	struct reasm_pool_conf c = good_conf(name);
	c.ops = nullptr;
	EXPECT_EQ(try_pool(c, &err), nullptr);
	EXPECT_EQ(err, EINVAL);

	/* Every callback is required. */
	struct reasm_stream_ops partial[3] = {nop_ops, nop_ops, nop_ops};
	partial[0].open = nullptr;
	partial[1].reassembled = nullptr;
	partial[2].complete = nullptr;
	for (auto &ops : partial) {
		c = good_conf(name);
		c.ops = &ops;
		EXPECT_EQ(try_pool(c, &err), nullptr);
		EXPECT_EQ(err, EINVAL);
	}

	for (uint32_t n : {0u, 1u, 7u}) {
		c = good_conf(name);
		c.max_conns = n;
		EXPECT_EQ(try_pool(c, &err), nullptr) << "max_conns " << n;
		EXPECT_EQ(err, EINVAL) << "max_conns " << n;
	}

	c = good_conf(name);
	c.name = nullptr;
	EXPECT_EQ(try_pool(c, &err), nullptr);
	EXPECT_EQ(err, EINVAL);
	c.name = "";
	EXPECT_EQ(try_pool(c, &err), nullptr);
	EXPECT_EQ(err, EINVAL);

	c = good_conf(name);
	c.mode = (enum reasm_pool_mode)7;
	EXPECT_EQ(try_pool(c, &err), nullptr);
	EXPECT_EQ(err, EINVAL);

	/* The smallest table is 8 directions; a name is taken until freed. */
	c = good_conf(name);
	c.max_conns = 8;
	struct reasm_pool *first = try_pool(c, &err);
	ASSERT_NE(first, nullptr) << rte_strerror(err);
	EXPECT_EQ(try_pool(c, &err), nullptr);
	EXPECT_EQ(err, EEXIST);
	reasm_pool_free(first);
	struct reasm_pool *again = try_pool(c, &err);
	EXPECT_NE(again, nullptr) << rte_strerror(err);
	reasm_pool_free(again);
	reasm_pool_free(nullptr);
}

TEST(PoolConfig, BadAssemblerConfigsAreRefused)
{
	Rig rig;
	struct reasm_assembler_conf ac = {};
	ac.socket_id = SOCKET_ID_ANY;

	rte_errno = 0;
	EXPECT_EQ(reasm_assembler_create(nullptr), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	ac.pool = nullptr;
	ac.page_pool = rig.pages;
	rte_errno = 0;
	EXPECT_EQ(reasm_assembler_create(&ac), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	/* Page pools are checked before the single-writer rule: free the rig's first. */
	reasm_assembler_free(rig.asm_);
	rig.asm_ = nullptr;
	ac.pool = rig.pool;
	ac.page_pool = nullptr;
	rte_errno = 0;
	EXPECT_EQ(reasm_assembler_create(&ac), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	std::string small_name = unique_name("small_pages");
	struct rte_mempool *small = rte_mempool_create(small_name.c_str(), 63, 64, 0, 0, nullptr,
						       nullptr, nullptr, nullptr, SOCKET_ID_ANY, 0);
	ASSERT_NE(small, nullptr);
	ac.page_pool = small;
	rte_errno = 0;
	EXPECT_EQ(reasm_assembler_create(&ac), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	rte_mempool_free(small);

	/* A refused create leaves the pool free for a good one. */
	ac.page_pool = rig.pages;
	rig.asm_ = reasm_assembler_create(&ac);
	ASSERT_NE(rig.asm_, nullptr);
	EXPECT_GE(reasm_page_size(), (size_t)REASM_PAGE_BYTES);

	/* Bad assemble arguments. */
	struct reasm_flow flow = flow_of(endpoint(0));
	struct reasm_segment seg = {1, REASM_TCP_SYN, nullptr, 0};
	EXPECT_EQ(reasm_assemble(nullptr, &flow, &seg, 1), -EINVAL);
	EXPECT_EQ(reasm_assemble(rig.asm_, nullptr, &seg, 1), -EINVAL);
	EXPECT_EQ(reasm_assemble(rig.asm_, &flow, nullptr, 1), -EINVAL);
	seg.len = 10; /* a length without bytes */
	EXPECT_EQ(reasm_assemble(rig.asm_, &flow, &seg, 1), -EINVAL);
	EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
	EXPECT_TRUE(rig.pages_all_free());
}

/* ------------------------------------------------------------------ */
/* Shared pools: two threads, two assemblers                            */
/* ------------------------------------------------------------------ */

namespace {

struct Seg {
	unsigned stream;
	uint32_t seq;
	uint8_t flags;
	std::vector<uint8_t> payload;
};

struct Plan {
	std::vector<FrameSpec> specs;          /* one per stream direction */
	std::vector<std::vector<uint8_t>> data;
	std::vector<std::vector<Seg>> segs;    /* per stream, in sending order */
};

/*
 * @conns connections, both directions of each: SYN, data cut in 1..max_seg
 * bytes, a FIN on most, segments jittered out of order. Every byte is sent
 * exactly once.
 */
Plan make_plan(std::mt19937_64 &rng, unsigned conns, size_t max_len, size_t max_seg)
{
	Plan p;
	for (unsigned c = 0; c < conns; c++)
		for (bool rev : {false, true})
			p.specs.push_back(endpoint(c, rev));
	for (unsigned s = 0; s < p.specs.size(); s++) {
		std::vector<uint8_t> d(rng() % max_len + 1);
		for (auto &b : d)
			b = (uint8_t)rng();
		uint32_t isn = (uint32_t)rng();
		std::vector<std::pair<uint64_t, Seg>> keyed;
		uint64_t k = 0;
		keyed.push_back({k++ * 8, Seg{s, isn, REASM_TCP_SYN, {}}});
		for (size_t off = 0; off < d.size();) {
			size_t n = std::min(d.size() - off, (size_t)(rng() % max_seg + 1));
			std::vector<uint8_t> piece(d.begin() + off, d.begin() + off + n);
			keyed.push_back({k++ * 8 + rng() % 40,
					 Seg{s, isn + 1 + (uint32_t)off, 0, std::move(piece)}});
			off += n;
		}
		if (rng() % 4 != 0)
			keyed.push_back({k++ * 8 + rng() % 40,
					 Seg{s, isn + 1 + (uint32_t)d.size(), REASM_TCP_FIN, {}}});
		std::stable_sort(keyed.begin(), keyed.end(),
				 [](const auto &x, const auto &y) { return x.first < y.first; });
		std::vector<Seg> segs;
		for (auto &kv : keyed)
			segs.push_back(std::move(kv.second));
		p.segs.push_back(std::move(segs));
		p.data.push_back(std::move(d));
	}
	return p;
}

/* Interleave the streams, each keeping its own order. */
std::vector<Seg> interleave(std::mt19937_64 &rng, const std::vector<std::vector<Seg>> &per)
{
	std::vector<size_t> next(per.size(), 0);
	std::vector<Seg> out;
	size_t left = 0;
	for (auto &v : per)
		left += v.size();
	while (left > 0) {
		size_t i = rng() % per.size();
		if (next[i] < per[i].size()) {
			out.push_back(per[i][next[i]++]);
			left--;
		}
	}
	return out;
}

/* Feed @segs to @a: one reasm_assemble() each, or bursts of up to 32 frames. */
void feed(struct reasm_assembler *a, const Plan &plan, const std::vector<Seg> &segs, bool burst,
	  std::atomic<int> &errors)
{
	uint64_t ts = 1000;
	if (!burst) {
		for (auto &s : segs) {
			FrameSpec spec = plan.specs[s.stream];
			if (put_seg(a, spec, s.seq, s.flags, s.payload, ++ts) != 0)
				errors++;
		}
		return;
	}
	for (size_t i = 0; i < segs.size();) {
		size_t n = std::min<size_t>(32, segs.size() - i);
		std::vector<struct rte_mbuf *> mbufs;
		for (size_t k = i; k < i + n; k++) {
			FrameSpec spec = plan.specs[segs[k].stream];
			spec.seq = segs[k].seq;
			spec.flags = segs[k].flags;
			spec.payload = segs[k].payload;
			mbufs.push_back(to_mbuf(build_frame(spec)));
		}
		if (reasm_assemble_burst(a, mbufs.data(), (uint16_t)n, nullptr, ++ts) != n)
			errors++;
		for (auto *m : mbufs)
			rte_pktmbuf_free(m);
		i += n;
	}
}

/* Run two threads, each feeding its list to its assembler, started together. */
void run_two(struct reasm_assembler *a0, struct reasm_assembler *a1, const Plan &plan,
	     const std::vector<Seg> &s0, const std::vector<Seg> &s1, std::atomic<int> &errors)
{
	std::atomic<int> ready{0};
	auto body = [&](struct reasm_assembler *a, const std::vector<Seg> *segs, bool burst) {
		ready++;
		while (ready.load() < 2)
			std::this_thread::yield();
		feed(a, plan, *segs, burst, errors);
	};
	std::thread t0(body, a0, &s0, false);
	std::thread t1(body, a1, &s1, true);
	t0.join();
	t1.join();
}

uint64_t delivered(struct reasm_assembler *a)
{
	return counter(a, REASM_CTR_delivered_bytes);
}

/* Stream callbacks that notice two callbacks of one stream running at once. */
struct Watched {
	struct reasm_flow flow;
	std::atomic<int> inside{0};
	std::atomic<int> overlaps{0};
	std::vector<uint8_t> bytes;
	bool first_has_start = false;
	size_t records = 0;
	int completes = 0;
	struct reasm_stream_totals totals = {};
	std::thread::id last_thread;
	unsigned handoffs = 0; /* callbacks on another thread than the previous one */
};

struct Watcher {
	std::mutex mu;
	std::vector<std::unique_ptr<Watched>> streams;

	static void enter(Watched *w)
	{
		if (w->inside.fetch_add(1) != 0)
			w->overlaps++;
		if (w->last_thread != std::this_thread::get_id()) {
			w->handoffs += w->last_thread != std::thread::id();
			w->last_thread = std::this_thread::get_id();
		}
		/* Widen the window a concurrent callback would fall into. */
		for (volatile int i = 0; i < 300; i = i + 1)
			;
	}
	static void leave(Watched *w) { w->inside.fetch_sub(1); }

	static void *open(void *ctx, const struct reasm_flow *flow, void *)
	{
		Watcher *me = static_cast<Watcher *>(ctx);
		std::lock_guard<std::mutex> g(me->mu);
		me->streams.emplace_back(new Watched());
		me->streams.back()->flow = *flow;
		return me->streams.back().get();
	}
	static void reassembled(void *stream, const struct reasm_record *r, unsigned int n)
	{
		Watched *w = static_cast<Watched *>(stream);
		enter(w);
		for (unsigned i = 0; i < n; i++) {
			if (w->records++ == 0)
				w->first_has_start = r[i].start;
			w->bytes.insert(w->bytes.end(), r[i].bytes, r[i].bytes + r[i].len);
		}
		leave(w);
	}
	static void complete(void *stream, const struct reasm_stream_totals *totals)
	{
		Watched *w = static_cast<Watched *>(stream);
		enter(w);
		w->completes++;
		w->totals = *totals;
		leave(w);
	}
};

const struct reasm_stream_ops watcher_ops = {Watcher::open, Watcher::reassembled,
					      Watcher::complete};

} // namespace

TEST(PoolShared, DisjointStreamsPerThread)
{
	RigOptions o;
	o.mode = REASM_POOL_SHARED;
	o.n_pages = 8192;
	Rig rig(o);
	struct reasm_assembler *a1 = rig.add_assembler();
	ASSERT_NE(a1, nullptr);
	std::mt19937_64 rng(12345);

	for (int round = 0; round < 16; round++) {
		Plan plan = make_plan(rng, 24, 12000, 1460);
		/* Connection c (both directions) goes to thread c % 2. */
		std::vector<std::vector<Seg>> mine[2];
		for (unsigned s = 0; s < plan.segs.size(); s++)
			mine[(s / 2) % 2].push_back(plan.segs[s]);
		std::vector<Seg> s0 = interleave(rng, mine[0]);
		std::vector<Seg> s1 = interleave(rng, mine[1]);
		uint64_t before = delivered(rig.asm_) + delivered(a1);
		std::atomic<int> errors{0};
		run_two(rig.asm_, a1, plan, s0, s1, errors);
		EXPECT_EQ(errors.load(), 0);
		reasm_flush_all(rig.asm_);

		/* One stream per direction, with exactly its bytes, completed once. */
		std::vector<StreamLog *> logs = rig.rec.streams();
		ASSERT_EQ(logs.size(), plan.specs.size()) << "round " << round;
		size_t total = 0;
		for (unsigned s = 0; s < plan.specs.size(); s++) {
			struct reasm_flow flow = flow_of(plan.specs[s]);
			auto it = std::find_if(logs.begin(), logs.end(), [&](StreamLog *l) {
				return memcmp(&l->flow, &flow, sizeof(flow)) == 0;
			});
			ASSERT_NE(it, logs.end()) << "round " << round << " stream " << s;
			EXPECT_EQ(concat((*it)->recs), plan.data[s])
				<< "round " << round << " stream " << s;
			EXPECT_TRUE((*it)->recs.front().start);
			EXPECT_EQ((*it)->completes, 1);
			total += plan.data[s].size();
		}
		std::string why;
		EXPECT_TRUE(rig.bytes_conserved(&why)) << "round " << round << ": " << why;
		EXPECT_EQ(delivered(rig.asm_) + delivered(a1) - before, total);
		EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
		EXPECT_EQ(reasm_assembler_pages_in_use(rig.asm_), 0u);
		EXPECT_EQ(reasm_assembler_pages_in_use(a1), 0u);
		EXPECT_TRUE(rig.pages_all_free());
		rig.rec.forget();
	}
}

TEST(PoolShared, SameStreamsFedByBothThreads)
{
	Watcher watcher;
	std::string pool_name = unique_name("shared_same");
	struct reasm_pool_conf pc = {};
	pc.name = pool_name.c_str();
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = 256;
	pc.mode = REASM_POOL_SHARED;
	pc.ops = &watcher_ops;
	pc.factory_ctx = &watcher;
	struct reasm_pool *pool = reasm_pool_create(&pc);
	ASSERT_NE(pool, nullptr) << rte_strerror(rte_errno);
	std::string pages_name = unique_name("shared_same_pages");
	struct rte_mempool *pages =
		reasm_page_pool_create(pages_name.c_str(), 8192, 0, SOCKET_ID_ANY);
	ASSERT_NE(pages, nullptr) << rte_strerror(rte_errno);
	struct reasm_assembler_conf ac = {};
	ac.pool = pool;
	ac.page_pool = pages;
	ac.socket_id = SOCKET_ID_ANY;
	struct reasm_assembler *a[2] = {reasm_assembler_create(&ac), reasm_assembler_create(&ac)};
	ASSERT_NE(a[0], nullptr);
	ASSERT_NE(a[1], nullptr);
	EXPECT_EQ(reasm_pool_count(pool), 0u);

	std::mt19937_64 rng(777);
	unsigned handoffs = 0;
	for (int round = 0; round < 32; round++) {
		Plan plan = make_plan(rng, 16, 16000, 700);
		/* Every segment goes to one thread, chosen at random. */
		std::vector<Seg> all = interleave(rng, plan.segs), s[2];
		for (auto &seg : all)
			s[rng() % 2].push_back(seg);
		uint64_t before = delivered(a[0]) + delivered(a[1]);
		std::atomic<int> errors{0};
		run_two(a[0], a[1], plan, s[0], s[1], errors);
		EXPECT_EQ(errors.load(), 0);
		reasm_flush_all(a[round % 2]);

		std::lock_guard<std::mutex> g(watcher.mu);
		ASSERT_EQ(watcher.streams.size(), plan.specs.size())
			<< "round " << round << ": one open() per direction";
		size_t total = 0;
		for (unsigned i = 0; i < plan.specs.size(); i++) {
			struct reasm_flow flow = flow_of(plan.specs[i]);
			const Watched *found = nullptr;
			for (auto &w : watcher.streams)
				if (memcmp(&w->flow, &flow, sizeof(flow)) == 0)
					found = w.get();
			ASSERT_NE(found, nullptr) << "round " << round << " stream " << i;
			const Watched &w = *found;
			EXPECT_EQ(w.bytes, plan.data[i]) << "round " << round << " stream " << i;
			EXPECT_TRUE(w.first_has_start) << "round " << round << " stream " << i;
			EXPECT_EQ(w.completes, 1) << "round " << round << " stream " << i;
			/* Per-stream accounting holds with two threads on the stream. */
			EXPECT_EQ(w.totals.delivered_bytes, w.bytes.size())
				<< "round " << round << " stream " << i;
			EXPECT_EQ(w.totals.received_bytes, w.totals.delivered_bytes +
								   w.totals.overlap_bytes +
								   w.totals.discarded_bytes)
				<< "round " << round << " stream " << i;
			EXPECT_EQ(w.overlaps.load(), 0)
				<< "round " << round << " stream " << i << ": concurrent callbacks";
			total += plan.data[i].size();
			handoffs += w.handoffs;
		}
		EXPECT_EQ(delivered(a[0]) + delivered(a[1]) - before, total);
		EXPECT_EQ(reasm_pool_count(pool), 0u);
		EXPECT_EQ(reasm_assembler_pages_in_use(a[0]), 0u);
		EXPECT_EQ(reasm_assembler_pages_in_use(a[1]), 0u);
		EXPECT_NE(rte_mempool_full(pages), 0);
		watcher.streams.clear();
	}
	/* The streams really moved between the threads. */
	EXPECT_GT(handoffs, 0u);
	reasm_assembler_free(a[0]);
	reasm_assembler_free(a[1]);
	reasm_pool_free(pool);
	rte_mempool_free(pages);
}
