/* SPDX-License-Identifier: BSD-3-Clause
 * The API's small contracts:
 * - counters: names unique and non-empty, every one documented in docs/counters.md;
 * - skip causes have names;
 * - flow keys: padding and unused address bytes are zero (they are hash keys), formatting;
 * - Community ID: the specification's TCP baseline, both directions, seeds 0 and 1;
 * - constructors validate every parameter (NULL / rte_errno = EINVAL, EEXIST);
 * - pages: the mempool element size fits a 1900-byte page.
 */
#include <gtest/gtest.h>

#include <rte_errno.h>
#include <rte_mempool.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "recorder.h"
#include "reasm.h"
#include "test_env.h"

using namespace reasm_test;

TEST(Counters, NamesAreUniqueAndDescribed)
{
	std::set<std::string> names;
	for (unsigned i = 0; i < REASM_CTR_MAX; i++) {
		ASSERT_NE(reasm_counter_name(i), nullptr);
		ASSERT_NE(reasm_counter_desc(i), nullptr);
		EXPECT_GT(strlen(reasm_counter_desc(i)), 10u) << reasm_counter_name(i);
		EXPECT_TRUE(names.insert(reasm_counter_name(i)).second) << reasm_counter_name(i);
	}
	EXPECT_EQ(reasm_counter_name(REASM_CTR_MAX), nullptr);
	EXPECT_EQ(reasm_counter_desc(REASM_CTR_MAX), nullptr);
}

TEST(Counters, DocumentedInDocs)
{
	const char *src = getenv("REASM_SOURCE_DIR");
	ASSERT_NE(src, nullptr) << "run through meson test (REASM_SOURCE_DIR)";
	std::ifstream f(std::string(src) + "/docs/counters.md");
	ASSERT_TRUE(f.good());
	std::stringstream ss;
	ss << f.rdbuf();
	for (unsigned i = 0; i < REASM_CTR_MAX; i++)
		EXPECT_NE(ss.str().find(std::string("`") + reasm_counter_name(i) + "`"),
			  std::string::npos)
			<< reasm_counter_name(i) << " is missing from docs/counters.md";
}

TEST(SkipCauses, EveryCauseHasAName)
{
	std::set<std::string> names;
	for (int c = 0; c < REASM_SKIP_CAUSE_MAX; c++) {
		std::string n = reasm_skip_cause_name((enum reasm_skip_cause)c);
		EXPECT_NE(n, "unknown");
		EXPECT_TRUE(names.insert(n).second);
	}
	EXPECT_STREQ(reasm_skip_cause_name(REASM_SKIP_CAUSE_MAX), "unknown");
}

TEST(Flow, Ipv4KeyHasZeroPadding)
{
	struct reasm_flow f;
	memset(&f, 0xAA, sizeof(f));
	const uint8_t s[4] = {10, 0, 0, 1}, d[4] = {10, 0, 0, 2};
	reasm_flow_ipv4(&f, s, d, 1234, 80);
	EXPECT_EQ(f.family, REASM_FAMILY_IPV4);
	EXPECT_EQ(f.src_port, 1234);
	EXPECT_EQ(f.dst_port, 80);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(f.zone[i], 0);
	for (int i = 4; i < 16; i++) {
		EXPECT_EQ(f.src_addr[i], 0);
		EXPECT_EQ(f.dst_addr[i], 0);
	}
	char buf[128];
	reasm_flow_format(&f, buf, sizeof(buf));
	EXPECT_STREQ(buf, "10.0.0.1:1234 -> 10.0.0.2:80");
}

TEST(Flow, Ipv6Format)
{
	struct reasm_flow f;
	uint8_t s[16] = {0x20, 0x01, 0x0d, 0xb8}, d[16] = {0x20, 0x01, 0x0d, 0xb8};
	s[15] = 1;
	d[15] = 2;
	reasm_flow_ipv6(&f, s, d, 443, 5555);
	char buf[128];
	reasm_flow_format(&f, buf, sizeof(buf));
	EXPECT_STREQ(buf, "[2001:db8::1]:443 -> [2001:db8::2]:5555");
}

/*
 * The Community ID specification's baseline for TCP
 * (github.com/corelight/community-id-spec, baseline/baseline_deflt.json and
 * baseline_seed1.json): both directions of each connection, seeds 0 and 1.
 */
TEST(CommunityId, SpecificationBaselineTcp)
{
	struct Case {
		int family;
		const char *a, *b;
		uint16_t pa, pb, seed;
		const char *id;
	};
	const Case cases[] = {
		{AF_INET, "128.232.110.120", "66.35.250.204", 34855, 80, 0,
		 "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{AF_INET, "128.232.110.120", "66.35.250.204", 34855, 80, 1,
		 "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
		{AF_INET6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943,
		 25, 0, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
		{AF_INET6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943,
		 25, 1, "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	};
	for (const Case &c : cases) {
		uint8_t a[16] = {}, b[16] = {};
		ASSERT_EQ(inet_pton(c.family, c.a, a), 1);
		ASSERT_EQ(inet_pton(c.family, c.b, b), 1);
		struct reasm_flow fwd, rev;
		if (c.family == AF_INET) {
			reasm_flow_ipv4(&fwd, a, b, c.pa, c.pb);
			reasm_flow_ipv4(&rev, b, a, c.pb, c.pa);
		} else {
			reasm_flow_ipv6(&fwd, a, b, c.pa, c.pb);
			reasm_flow_ipv6(&rev, b, a, c.pb, c.pa);
		}
		rev.zone[0] = 7; /* zones are not part of the identifier */
		char id[REASM_COMMUNITY_ID_SIZE];
		ASSERT_EQ(reasm_community_id(&fwd, c.seed, id, sizeof(id)),
			  REASM_COMMUNITY_ID_SIZE - 1);
		EXPECT_STREQ(id, c.id) << c.a << " seed " << c.seed;
		ASSERT_EQ(reasm_community_id(&rev, c.seed, id, sizeof(id)),
			  REASM_COMMUNITY_ID_SIZE - 1);
		EXPECT_STREQ(id, c.id) << c.b << " seed " << c.seed;
	}
}

/* Same address both ways: the ports order the endpoints. */
TEST(CommunityId, SameAddressOrdersByPort)
{
	const uint8_t a[4] = {198, 18, 0, 1};
	struct reasm_flow fwd, rev;
	reasm_flow_ipv4(&fwd, a, a, 40000, 80);
	reasm_flow_ipv4(&rev, a, a, 80, 40000);
	char x[REASM_COMMUNITY_ID_SIZE], y[REASM_COMMUNITY_ID_SIZE];
	ASSERT_GT(reasm_community_id(&fwd, 0, x, sizeof(x)), 0);
	ASSERT_GT(reasm_community_id(&rev, 0, y, sizeof(y)), 0);
	EXPECT_STREQ(x, y);
	reasm_flow_ipv4(&rev, a, a, 81, 40000);
	ASSERT_GT(reasm_community_id(&rev, 0, y, sizeof(y)), 0);
	EXPECT_STRNE(x, y);
}

TEST(CommunityId, RefusesSmallBufferAndBadFamily)
{
	const uint8_t a[4] = {198, 18, 0, 1}, b[4] = {198, 18, 0, 2};
	struct reasm_flow f;
	reasm_flow_ipv4(&f, a, b, 1, 2);
	char id[REASM_COMMUNITY_ID_SIZE];
	memset(id, 'x', sizeof(id));
	EXPECT_EQ(reasm_community_id(&f, 0, id, sizeof(id) - 1), -ENOSPC);
	EXPECT_EQ(id[0], 'x');
	EXPECT_EQ(reasm_community_id(&f, 0, nullptr, 0), -ENOSPC);
	f.family = 5;
	EXPECT_EQ(reasm_community_id(&f, 0, id, sizeof(id)), -EINVAL);
	EXPECT_EQ(id[0], 'x');
}

TEST(Pages, ElementFitsAPage)
{
	EXPECT_GE(reasm_page_size(), (size_t)REASM_PAGE_BYTES);
	EXPECT_LE(reasm_page_size(), (size_t)REASM_PAGE_BYTES + 64);
}

TEST(Config, AssemblerRefusesMissingOrSmallPools)
{
	Rig rig;
	struct reasm_assembler_conf ac = {};
	EXPECT_EQ(reasm_assembler_create(nullptr), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	ac.page_pool = rig.pages;
	EXPECT_EQ(reasm_assembler_create(&ac), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	/* A mempool whose elements cannot hold a page. */
	std::string n = unique_name("small");
	struct rte_mempool *small = rte_mempool_create(n.c_str(), 63, 64, 0, 0, nullptr, nullptr,
						       nullptr, nullptr, SOCKET_ID_ANY, 0);
	ASSERT_NE(small, nullptr);
	std::string pn = unique_name("cfgpool");
	struct reasm_pool_conf pc = {};
	pc.name = pn.c_str();
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = 64;
	pc.ops = &Recorder::ops;
	pc.factory_ctx = &rig.rec;
	struct reasm_pool *pool = reasm_pool_create(&pc);
	ASSERT_NE(pool, nullptr);
	ac.pool = pool;
	ac.page_pool = small;
	EXPECT_EQ(reasm_assembler_create(&ac), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	reasm_pool_free(pool);
	rte_mempool_free(small);
}

TEST(Config, PoolRefusesBadParameters)
{
	Recorder rec;
	std::string n = unique_name("badpool");
	struct reasm_pool_conf pc = {};
	pc.name = n.c_str();
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = 64;
	pc.ops = &Recorder::ops;
	pc.factory_ctx = &rec;

	struct reasm_pool_conf bad = pc;
	bad.name = nullptr;
	EXPECT_EQ(reasm_pool_create(&bad), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	bad = pc;
	bad.max_conns = 0;
	EXPECT_EQ(reasm_pool_create(&bad), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	bad = pc;
	bad.ops = nullptr;
	EXPECT_EQ(reasm_pool_create(&bad), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	struct reasm_stream_ops half = {Recorder::ops.open, nullptr, Recorder::ops.complete};
	bad = pc;
	bad.ops = &half;
	EXPECT_EQ(reasm_pool_create(&bad), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	bad = pc;
	bad.mode = (enum reasm_pool_mode)7;
	EXPECT_EQ(reasm_pool_create(&bad), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	struct reasm_pool *p = reasm_pool_create(&pc);
	ASSERT_NE(p, nullptr);
	EXPECT_EQ(reasm_pool_create(&pc), nullptr);
	EXPECT_EQ(rte_errno, EEXIST);
	reasm_pool_free(p);
	/* The name is free again. */
	p = reasm_pool_create(&pc);
	EXPECT_NE(p, nullptr);
	reasm_pool_free(p);
}

TEST(Config, AssembleRejectsNullArguments)
{
	Rig rig;
	struct reasm_flow f = {};
	struct reasm_segment s = {};
	EXPECT_EQ(reasm_assemble(nullptr, &f, &s, 0), -EINVAL);
	EXPECT_EQ(reasm_assemble(rig.asm_, nullptr, &s, 0), -EINVAL);
	EXPECT_EQ(reasm_assemble(rig.asm_, &f, nullptr, 0), -EINVAL);
	s.len = 5; /* payload NULL with a length */
	EXPECT_EQ(reasm_assemble(rig.asm_, &f, &s, 0), -EINVAL);
	EXPECT_EQ(reasm_assemble_burst(nullptr, nullptr, 0, nullptr, 0), 0u);
}

/* One IPv4 stream direction on a fresh Rig, fed with bytes of a fixed buffer. */
class OneStream {
public:
	OneStream()
	{
		const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
		reasm_flow_ipv4(&flow, src, dst, 1000, 80);
	}
	int send(uint32_t seq, uint32_t len, uint8_t flags, uint64_t ts = 1)
	{
		struct reasm_segment s = {};
		s.seq = seq;
		s.flags = flags;
		s.payload = data.data();
		s.len = len;
		return reasm_assemble(rig.asm_, &flow, &s, ts);
	}
	/* What complete() was given (the first stream's). */
	const struct reasm_stream_totals &completed() { return rig.rec.streams().at(0)->totals; }

	Rig rig;
	struct reasm_flow flow;
	std::vector<uint8_t> data = std::vector<uint8_t>(4000, 'x');
};

/*
 * Per-stream accounting (struct reasm_stream_totals): every place a received
 * byte can be, on one stream, while open and at complete().
 */
TEST(StreamTotals, EveryReceivedByteHasOnePlace)
{
	OneStream st;
	struct reasm_stream_totals t;
	EXPECT_EQ(reasm_pool_stream_totals(st.rig.pool, &st.flow, &t), -ENOENT);
	EXPECT_EQ(reasm_pool_stream_totals(nullptr, &st.flow, &t), -EINVAL);
	EXPECT_EQ(reasm_pool_stream_totals(st.rig.pool, nullptr, &t), -EINVAL);
	EXPECT_EQ(reasm_pool_stream_totals(st.rig.pool, &st.flow, nullptr), -EINVAL);

	ASSERT_EQ(st.send(100, 0, REASM_TCP_SYN), 0); /* next byte: 101 */
	ASSERT_EQ(st.send(101, 300, 0), 0);           /* delivered 300 */
	ASSERT_EQ(st.send(301, 200, 0), 0);           /* 100 overlap, 100 delivered */
	ASSERT_EQ(st.send(1001, 500, 0), 0);          /* buffered past a hole */
	ASSERT_EQ(reasm_pool_stream_totals(st.rig.pool, &st.flow, &t), 0);
	EXPECT_EQ(t.received_bytes, 1000u);
	EXPECT_EQ(t.delivered_bytes, 400u);
	EXPECT_EQ(t.overlap_bytes, 100u);
	EXPECT_EQ(t.buffered_bytes, 500u);
	EXPECT_EQ(t.discarded_bytes, 0u);
	EXPECT_EQ(t.skipped_bytes, 0u);

	/* FIN after 99 more bytes, with the buffered ones still past a hole:
	 * the stream ends, its pages are discarded. */
	ASSERT_EQ(st.send(501, 99, REASM_TCP_FIN), 0);
	ASSERT_EQ(st.rig.rec.completed(), 1u);
	const struct reasm_stream_totals &done = st.completed();
	EXPECT_EQ(done.received_bytes, 1099u);
	EXPECT_EQ(done.delivered_bytes, 499u);
	EXPECT_EQ(done.overlap_bytes, 100u);
	EXPECT_EQ(done.buffered_bytes, 0u);
	EXPECT_EQ(done.discarded_bytes, 500u);
	EXPECT_EQ(reasm_pool_stream_totals(st.rig.pool, &st.flow, &t), -ENOENT);
	std::string why;
	EXPECT_TRUE(st.rig.bytes_conserved(&why)) << why;
}

/* Skipped bytes are holes: in the totals' skipped_bytes, never in received. */
TEST(StreamTotals, SkipsAreCountedApartFromReceived)
{
	OneStream st;
	ASSERT_EQ(st.send(0, 0, REASM_TCP_SYN), 0);
	ASSERT_EQ(st.send(1001, 100, 0, 2), 0); /* 1000 bytes never seen */
	reasm_flush_all(st.rig.asm_);
	ASSERT_EQ(st.rig.rec.completed(), 1u);
	const struct reasm_stream_totals &done = st.completed();
	EXPECT_EQ(done.received_bytes, 100u);
	EXPECT_EQ(done.delivered_bytes, 100u);
	EXPECT_EQ(done.skipped_bytes, 1000u);
	std::string why;
	EXPECT_TRUE(st.rig.bytes_conserved(&why)) << why;
}
