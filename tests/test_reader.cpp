/* SPDX-License-Identifier: BSD-3-Clause
 * The reader adapter (reasm_reader, the seed's tcpreader.ReaderStream).
 *
 * Covers:
 * - the reader vectors of shared/reference/conformance-vectors.md (read
 *   size 10, read size 2, loss reporting) and a few more, table-driven: the
 *   stream callbacks feed a reasm_reader (open returns it, reassembled
 *   feeds it, complete finishes it), a consumer std::thread reads with a
 *   fixed read size, under REASM_READER_BLOCK, with a 4-byte buffer that
 *   makes the producer wait and with a 4 KiB one that does not;
 * - -REASM_EDATALOST exactly once per gap (a skip of -1 counts, as in the
 *   seed), never with loss_errors off, never for an empty record with skip;
 * - a read never returns bytes from both sides of a gap;
 * - REASM_READER_BLOCK: the producer waits for the consumer, a consumer
 *   waits for the producer, a long stream goes through a 4-byte buffer;
 * - reasm_reader_close(): later reads return 0, the producer never blocks
 *   again, a producer already blocked is released;
 * - REASM_READER_DROP: the producer never waits, dropped bytes are counted
 *   and reported to the consumer as data lost;
 * - bad arguments: NULL with rte_errno = EINVAL, or -EINVAL.
 *
 * Every case that uses an assembler ends with reasm_flush_all() and the page
 * mempool full again. Each test runs under a 30 s alarm so that a producer
 * or consumer blocked by a bug fails the binary instead of hanging it.
 */
#include <gtest/gtest.h>

#include <rte_errno.h>
#include <rte_mempool.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "steps.h"
#include "frames.h"
#include "test_env.h"

using namespace reasm_test;

namespace {

using namespace std::chrono_literals;

/* ------------------------------------------------------------------ */
/* Stream callbacks whose stream context is a reasm_reader              */
/* ------------------------------------------------------------------ */

void *reader_open(void *factory_ctx, const struct reasm_flow *flow, void *priv)
{
	(void)flow;
	(void)priv;
	return factory_ctx; /* the one reader of the test, like the seed's test */
}

void reader_reassembled(void *stream, const struct reasm_record *records, unsigned int n)
{
	reasm_reader_feed(static_cast<struct reasm_reader *>(stream), records, n);
}

void reader_complete(void *stream, const struct reasm_stream_totals *)
{
	reasm_reader_finish(static_cast<struct reasm_reader *>(stream));
}

const struct reasm_stream_ops reader_ops = {reader_open, reader_reassembled, reader_complete};

struct reasm_reader_conf reader_conf(uint32_t capacity, bool loss_errors,
				     enum reasm_reader_full_policy policy = REASM_READER_BLOCK)
{
	struct reasm_reader_conf c = {};
	c.capacity = capacity;
	c.loss_errors = loss_errors;
	c.full_policy = policy;
	return c;
}


/* A reader, and an assembler whose one stream feeds it. */
class ReaderRig {
public:
	explicit ReaderRig(const struct reasm_reader_conf &rc)
	{
		reader = reasm_reader_create(&rc);
		if (reader == nullptr)
			abort();
		std::string pool_name = unique_name("reader_pool");
		struct reasm_pool_conf pc = {};
		pc.name = pool_name.c_str();
		pc.socket_id = SOCKET_ID_ANY;
		pc.max_conns = 8;
		pc.ops = &reader_ops;
		pc.factory_ctx = reader;
		pool = reasm_pool_create(&pc);
		std::string pages_name = unique_name("reader_pages");
		pages = reasm_page_pool_create(pages_name.c_str(), 64, 0, SOCKET_ID_ANY);
		struct reasm_assembler_conf ac = {};
		ac.pool = pool;
		ac.page_pool = pages;
		ac.max_pages_per_conn = 4;
		ac.socket_id = SOCKET_ID_ANY;
		a = pool && pages ? reasm_assembler_create(&ac) : nullptr;
		if (a == nullptr)
			abort();
	}

	~ReaderRig()
	{
		reasm_assembler_free(a);
		reasm_pool_free(pool);
		rte_mempool_free(pages);
		reasm_reader_free(reader);
	}

	void send(const In &in, uint64_t ts = 1)
	{
		FrameSpec spec;
		spec.seq = in.seq;
		spec.flags = in.flags;
		spec.payload = in.payload;
		struct reasm_flow flow = flow_of(spec);
		struct reasm_segment sg = segment_of(spec);
		EXPECT_EQ(reasm_assemble(a, &flow, &sg, ts), 0);
	}

	/* Flush (which completes the stream) and check every page is back. */
	void finish()
	{
		reasm_flush_all(a);
		EXPECT_EQ(reasm_pool_count(pool), 0u);
		EXPECT_NE(rte_mempool_full(pages), 0) << "pages leaked";
	}

	struct reasm_reader *reader = nullptr;
	struct reasm_pool *pool = nullptr;
	struct rte_mempool *pages = nullptr;
	struct reasm_assembler *a = nullptr;
};

/* ------------------------------------------------------------------ */
/* The consumer                                                          */
/* ------------------------------------------------------------------ */

/* What one reasm_reader_read() returned. */
struct Read {
	long rc;
	Bytes data;
};

Read D(Bytes b)
{
	long n = (long)b.size();
	return {n, std::move(b)};
}
const Read LOST{-REASM_EDATALOST, {}};
const Read EOS{0, {}};

std::string describe(const std::vector<Read> &reads)
{
	std::string s;
	for (const Read &r : reads) {
		if (r.rc == 0) {
			s += "EOS ";
		} else if (r.rc == -REASM_EDATALOST) {
			s += "LOST ";
		} else if (r.rc < 0) {
			s += "err" + std::to_string(r.rc) + " ";
		} else {
			s += "[";
			for (size_t i = 0; i < r.data.size(); i++)
				s += (i ? "," : "") + std::to_string(r.data[i]);
			s += "] ";
		}
	}
	return s;
}

/* Reads until end of stream (or an unexpected error) in its own thread. */
class Consumer {
public:
	Consumer(struct reasm_reader *r, size_t read_size)
		: thread_([this, r, read_size] { loop(r, read_size); })
	{
	}
	~Consumer()
	{
		if (thread_.joinable())
			thread_.join();
	}

	std::vector<Read> join()
	{
		thread_.join();
		return reads_;
	}

private:
	void loop(struct reasm_reader *r, size_t read_size)
	{
		Bytes buf(read_size);
		for (;;) {
			long rc = reasm_reader_read(r, buf.data(), buf.size());
			Read rd{rc, {}};
			if (rc > 0)
				rd.data.assign(buf.begin(), buf.begin() + rc);
			reads_.push_back(rd);
			if (rc == 0 || (rc < 0 && rc != -REASM_EDATALOST))
				return;
		}
	}

	std::vector<Read> reads_;
	std::thread thread_;
};

/* Adjacent data reads joined: how many reads carry the bytes is timing. */
std::vector<Read> joined(const std::vector<Read> &reads)
{
	std::vector<Read> out;
	for (const Read &r : reads) {
		if (r.rc > 0 && !out.empty() && out.back().rc > 0) {
			out.back().data.insert(out.back().data.end(), r.data.begin(), r.data.end());
			out.back().rc = (long)out.back().data.size();
		} else {
			out.push_back(r);
		}
	}
	return out;
}

void expect_reads(const std::vector<Read> &got, const std::vector<Read> &want)
{
	ASSERT_EQ(got.size(), want.size())
		<< "want: " << describe(want) << "\n got: " << describe(got);
	for (size_t i = 0; i < want.size(); i++) {
		EXPECT_EQ(got[i].rc, want[i].rc) << "read " << i << "; got " << describe(got);
		EXPECT_EQ(got[i].data, want[i].data) << "read " << i << "; got " << describe(got);
	}
}

/* Fails the binary rather than hanging it if a thread blocks for good. */
class ReaderTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		alarm(30);
	}
	void TearDown() override
	{
		alarm(0);
	}
};

/* ------------------------------------------------------------------ */
/* The vectors                                                           */
/* ------------------------------------------------------------------ */

struct Vector {
	const char *id;
	bool loss_errors;
	size_t read_size;
	std::vector<In> in; /* then reasm_flush_all() ends the stream */
	std::vector<Read> want;
	/*
	 * Exact: every read as listed. Otherwise adjacent data reads are
	 * joined first, because a 4-byte buffer may hand a record over in
	 * pieces.
	 */
	bool exact;
};

const std::vector<Vector> vectors = {
	/* The seed's TestRead. */
	{"ReadSize10", false, 10,
	 {syn(1000, {1, 2, 3}), fin(1004)},
	 {D({1, 2, 3}), EOS}, true},
	/* The seed's TestReadSmallChunks. */
	{"ReadSize2", false, 2,
	 {syn(1000, {1, 2, 3}), fin(1004)},
	 {D({1, 2}), D({3}), EOS}, true},
	/* Loss reporting: the record after the hole has skip 6. */
	{"LossReported", true, 10,
	 {syn(1000, {1, 2, 3}), seg(1010, {7, 8})},
	 {D({1, 2, 3}), LOST, D({7, 8}), EOS}, false},
	{"LossNotReportedWhenOff", false, 10,
	 {syn(1000, {1, 2, 3}), seg(1010, {7, 8})},
	 {D({1, 2, 3}), D({7, 8}), EOS}, false},
	/* Once per gap, however many reads the record after it takes. */
	{"LossOncePerGap", true, 1,
	 {syn(1000, {1, 2, 3}), seg(1010, {7, 8}), seg(1020, {9})},
	 {D({1}), D({2}), D({3}), LOST, D({7}), D({8}), LOST, D({9}), EOS}, true},
	/* No SYN: the first record has skip -1, which the seed reports too. */
	{"UnknownStartIsLoss", true, 10,
	 {seg(1000, {1, 2})},
	 {LOST, D({1, 2}), EOS}, true},
	/* The flush skips to an empty FIN page: {skip:6,end}[] is not a loss. */
	{"EmptyRecordWithSkipNotReported", true, 10,
	 {syn(1000, {1, 2, 3}), fin(1010)},
	 {D({1, 2, 3}), EOS}, true},
	/* Contiguous records: no loss, bytes in order. */
	{"InOrderRecords", true, 4,
	 {syn(1000, {1, 2, 3}), seg(1004, {4, 5, 6}), seg(1007, {7}), fin(1008)},
	 {D({1, 2, 3, 4, 5, 6, 7}), EOS}, false},
};

using VectorParam = std::tuple<size_t, uint32_t>;

class ReaderVector : public ReaderTest, public ::testing::WithParamInterface<VectorParam> {};

TEST_P(ReaderVector, Reads)
{
	const Vector &v = vectors[std::get<0>(GetParam())];
	ReaderRig rig(reader_conf(std::get<1>(GetParam()), v.loss_errors));
	Consumer consumer(rig.reader, v.read_size);
	for (const In &in : v.in)
		rig.send(in);
	rig.finish();
	std::vector<Read> got = consumer.join();
	if (v.exact)
		expect_reads(got, v.want);
	else
		expect_reads(joined(got), joined(v.want));
}

INSTANTIATE_TEST_SUITE_P(Reader, ReaderVector,
			 ::testing::Combine(::testing::Range<size_t>(0, vectors.size()),
					    ::testing::Values(4u, 4096u)),
			 [](const ::testing::TestParamInfo<VectorParam> &i) {
				 const Vector &v = vectors[std::get<0>(i.param)];
				 return std::string(v.id) + "_Capacity" +
					std::to_string(std::get<1>(i.param));
			 });

/* ------------------------------------------------------------------ */
/* Gaps split reads                                                      */
/* ------------------------------------------------------------------ */

/* Both sides of a gap are buffered; still two reads, even without loss errors. */
TEST_F(ReaderTest, ReadNeverSpansAGap)
{
	ReaderRig rig(reader_conf(64, false));
	rig.send(syn(1000, {1, 2, 3}));
	rig.send(seg(1010, {7, 8}));
	rig.finish(); /* everything is in the reader before the first read */
	Consumer consumer(rig.reader, 64);
	expect_reads(consumer.join(), {D({1, 2, 3}), D({7, 8}), EOS});
}

/* Fed directly: an empty record's skip is forgotten (the seed strips it). */
TEST_F(ReaderTest, DirectFeedEmptySkipRecordForgotten)
{
	struct reasm_reader_conf c = reader_conf(16, true);
	struct reasm_reader *r = reasm_reader_create(&c);
	ASSERT_NE(r, nullptr);
	const uint8_t data[] = {1, 2};
	struct reasm_record recs[2] = {};
	recs[0].skip = 5;
	recs[0].skip_cause = REASM_SKIP_FLUSH;
	recs[1].bytes = data;
	recs[1].len = 2;
	reasm_reader_feed(r, recs, 2);
	reasm_reader_finish(r);
	Consumer consumer(r, 16);
	expect_reads(consumer.join(), {D({1, 2}), EOS});
	reasm_reader_free(r);
}

/* Fed directly: end of stream is sticky, and comes after all the data. */
TEST_F(ReaderTest, DirectFeedEndOfStreamAfterData)
{
	struct reasm_reader_conf c = reader_conf(16, true);
	struct reasm_reader *r = reasm_reader_create(&c);
	ASSERT_NE(r, nullptr);
	const uint8_t data[] = {1, 2, 3};
	struct reasm_record rec = {};
	rec.bytes = data;
	rec.len = 3;
	reasm_reader_feed(r, &rec, 1);
	reasm_reader_finish(r);
	uint8_t buf[8];
	EXPECT_EQ(reasm_reader_read(r, buf, sizeof(buf)), 3);
	EXPECT_EQ(reasm_reader_read(r, buf, sizeof(buf)), 0);
	EXPECT_EQ(reasm_reader_read(r, buf, sizeof(buf)), 0);
	reasm_reader_free(r);
}

/* ------------------------------------------------------------------ */
/* REASM_READER_BLOCK                                                    */
/* ------------------------------------------------------------------ */

/* The producer waits for the consumer to make room. */
TEST_F(ReaderTest, BlockingProducerWaitsForConsumer)
{
	ReaderRig rig(reader_conf(4, false));
	std::atomic<bool> fed{false};
	std::thread producer([&] {
		rig.send(syn(1000, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
		fed = true;
		rig.send(fin(1011));
	});
	std::this_thread::sleep_for(100ms);
	EXPECT_FALSE(fed) << "10 bytes went into a 4-byte reader with nobody reading";
	Consumer consumer(rig.reader, 3);
	std::vector<Read> got = consumer.join();
	producer.join();
	EXPECT_TRUE(fed);
	expect_reads(joined(got), {D({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), EOS});
	rig.finish();
}

/* A consumer waits for data rather than reporting the end of the stream. */
TEST_F(ReaderTest, ConsumerWaitsForProducer)
{
	ReaderRig rig(reader_conf(16, false));
	Consumer consumer(rig.reader, 16);
	std::this_thread::sleep_for(50ms);
	rig.send(syn(1000, {1, 2}));
	std::this_thread::sleep_for(50ms);
	rig.send(fin(1003));
	expect_reads(joined(consumer.join()), {D({1, 2}), EOS});
	rig.finish();
}

/* A long stream, partly out of order, through a 4-byte buffer. */
TEST_F(ReaderTest, LongStreamThroughSmallBuffer)
{
	ReaderRig rig(reader_conf(4, true));
	const size_t n_segs = 500, seg_len = 10;
	Bytes all(n_segs * seg_len);
	for (size_t i = 0; i < all.size(); i++)
		all[i] = (uint8_t)(i * 13 + i / 256);
	auto piece = [&](size_t k) {
		return seg(1001 + (uint32_t)(k * seg_len),
			   Bytes(all.begin() + k * seg_len, all.begin() + (k + 1) * seg_len));
	};
	Consumer consumer(rig.reader, 3);
	rig.send(syn(1000));
	/* Every 10th segment one place early, as in the seed's benchmark. */
	for (size_t k = 0; k < n_segs; k++) {
		if (k % 10 == 0 && k + 1 < n_segs) {
			rig.send(piece(k + 1));
			rig.send(piece(k));
			k++;
		} else {
			rig.send(piece(k));
		}
	}
	rig.send(fin(1001 + (uint32_t)all.size()));
	expect_reads(joined(consumer.join()), {D(all), EOS});
	rig.finish();
}

/* ------------------------------------------------------------------ */
/* reasm_reader_close                                                    */
/* ------------------------------------------------------------------ */

/*
 * Runs f in a thread and waits for it. A thread still blocked after 5 s
 * cannot be cleaned up, so that ends the binary with a message.
 */
template <typename F> void expect_returns(F f, const char *what)
{
	auto done = std::make_shared<std::promise<void>>();
	std::future<void> fut = done->get_future();
	std::thread t([f, done] {
		f();
		done->set_value();
	});
	if (fut.wait_for(5s) != std::future_status::ready) {
		fprintf(stderr, "FATAL: %s\n", what);
		abort();
	}
	t.join();
}

/* After close, reads return 0 and feeding never blocks. */
TEST_F(ReaderTest, ReadAfterCloseReturnsZeroAndProducerNeverBlocks)
{
	ReaderRig rig(reader_conf(4, true));
	rig.send(syn(1000, {1, 2, 3}));
	uint8_t buf[8];
	ASSERT_EQ(reasm_reader_read(rig.reader, buf, 1), 1);
	EXPECT_EQ(buf[0], 1);
	reasm_reader_close(rig.reader);
	EXPECT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 0);

	expect_returns([&rig] {
		rig.send(seg(1004, Bytes(100, 4)));
		rig.send(seg(1104, Bytes(100, 5)));
		rig.send(fin(1204));
	}, "the producer blocked on a closed reader");
	EXPECT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 0);
	rig.finish();
}

/* A producer blocked on a full buffer is released by close. */
TEST_F(ReaderTest, CloseReleasesBlockedProducer)
{
	ReaderRig rig(reader_conf(4, false));
	std::atomic<bool> fed{false};
	expect_returns([&rig, &fed] {
		std::thread producer([&rig, &fed] {
			rig.send(syn(1000, Bytes(100, 1)));
			fed = true;
		});
		std::this_thread::sleep_for(100ms);
		EXPECT_FALSE(fed) << "100 bytes went into a 4-byte reader with nobody reading";
		reasm_reader_close(rig.reader);
		producer.join();
	}, "close did not release the blocked producer");
	EXPECT_TRUE(fed);
	uint8_t buf[8];
	EXPECT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 0);
	rig.finish();
}

/* ------------------------------------------------------------------ */
/* REASM_READER_DROP                                                     */
/* ------------------------------------------------------------------ */

/* What does not fit is dropped, counted, and reported as a gap. */
TEST_F(ReaderTest, DropPolicyCountsAndReportsLoss)
{
	ReaderRig rig(reader_conf(4, true, REASM_READER_DROP));
	/* Nobody reads: the producer must not wait. */
	expect_returns([&rig] { rig.send(syn(1000, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9})); },
		       "the producer blocked under REASM_READER_DROP");
	EXPECT_EQ(reasm_reader_dropped(rig.reader), 6u);

	uint8_t buf[16];
	ASSERT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 4);
	EXPECT_EQ(Bytes(buf, buf + 4), (Bytes{0, 1, 2, 3}));

	rig.send(seg(1011, {10, 11}));
	EXPECT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), -REASM_EDATALOST);
	ASSERT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 2);
	EXPECT_EQ(Bytes(buf, buf + 2), (Bytes{10, 11}));
	rig.send(fin(1013));
	EXPECT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 0);
	EXPECT_EQ(reasm_reader_dropped(rig.reader), 6u);
	rig.finish();
}

/* Without loss errors the drop is silent, but a read still stops at it. */
TEST_F(ReaderTest, DropPolicyWithoutLossErrors)
{
	ReaderRig rig(reader_conf(4, false, REASM_READER_DROP));
	rig.send(syn(1000, {0, 1, 2, 3, 4, 5})); /* 4 and 5 dropped */
	EXPECT_EQ(reasm_reader_dropped(rig.reader), 2u);
	uint8_t buf[16];
	ASSERT_EQ(reasm_reader_read(rig.reader, buf, 2), 2);
	rig.send(seg(1007, {6, 7})); /* fits, after the gap */
	EXPECT_EQ(reasm_reader_dropped(rig.reader), 2u);

	/* [2,3] and [6,7] are both buffered: two reads, no error. */
	ASSERT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 2);
	EXPECT_EQ(Bytes(buf, buf + 2), (Bytes{2, 3}));
	ASSERT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 2);
	EXPECT_EQ(Bytes(buf, buf + 2), (Bytes{6, 7}));
	rig.send(fin(1009));
	EXPECT_EQ(reasm_reader_read(rig.reader, buf, sizeof(buf)), 0);
	rig.finish();
}

/* BLOCK never drops. */
TEST_F(ReaderTest, BlockPolicyDropsNothing)
{
	ReaderRig rig(reader_conf(4, false));
	Consumer consumer(rig.reader, 1);
	rig.send(syn(1000, Bytes(50, 9)));
	rig.send(fin(1051));
	expect_reads(joined(consumer.join()), {D(Bytes(50, 9)), EOS});
	EXPECT_EQ(reasm_reader_dropped(rig.reader), 0u);
	rig.finish();
}

/* ------------------------------------------------------------------ */
/* Bad arguments                                                         */
/* ------------------------------------------------------------------ */

TEST_F(ReaderTest, CreateRejectsBadConf)
{
	rte_errno = 0;
	EXPECT_EQ(reasm_reader_create(nullptr), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	struct reasm_reader_conf c = reader_conf(0, false);
	rte_errno = 0;
	EXPECT_EQ(reasm_reader_create(&c), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);

	c = reader_conf(16, false, (enum reasm_reader_full_policy)7);
	rte_errno = 0;
	EXPECT_EQ(reasm_reader_create(&c), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
}

TEST_F(ReaderTest, ReadRejectsBadArguments)
{
	struct reasm_reader_conf c = reader_conf(16, false);
	struct reasm_reader *r = reasm_reader_create(&c);
	ASSERT_NE(r, nullptr);
	uint8_t buf[4];
	EXPECT_EQ(reasm_reader_read(nullptr, buf, sizeof(buf)), -EINVAL);
	EXPECT_EQ(reasm_reader_read(r, nullptr, sizeof(buf)), -EINVAL);
	/* 0 would read as end of stream: a zero size is an error instead. */
	EXPECT_EQ(reasm_reader_read(r, buf, 0), -EINVAL);
	reasm_reader_free(r);
}

/* The void functions accept NULL, as free() does. */
TEST_F(ReaderTest, NullReaderIsANoOp)
{
	struct reasm_record rec = {};
	reasm_reader_feed(nullptr, &rec, 1);
	reasm_reader_finish(nullptr);
	reasm_reader_close(nullptr);
	reasm_reader_free(nullptr);
	SUCCEED();
}

} // namespace
