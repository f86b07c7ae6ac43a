/* SPDX-License-Identifier: BSD-3-Clause
 * Conformance with gopacket tcpassembly: records delivered per assemble call.
 *
 * Covers:
 * - every row of shared/reference/conformance-vectors.md (except "sequence
 *   wrap", which is test_seq.cpp), step by step: after each assemble call
 *   the records it delivered (bytes, skip, start, end) equal the row's;
 * - the same rows at five initial sequence numbers and through both entry
 *   points, reasm_assemble() and reasm_assemble_burst() (one frame per call);
 * - the nine "rules these rows imply" as further rows: bare ACKs and bare
 *   FIN/RST open nothing, SYN consumes one sequence number, first copy wins
 *   (also among buffered pages with the same start), empty records for old
 *   data, FIN/RST completes exactly once and returns pages, End closes only
 *   on the last record of a call, the page limit releases exactly one page;
 * - `seen` of every record is the timestamp of the packet that carried it;
 * - reasm_flush_older_than(): the [15-20),[20-25),[30,50) example of
 *   gopacket's FlushWithOptions doc, the strict "older than" boundary,
 *   when a stream is closed, and the flushed/closed return values;
 * - reasm_flush_all(): its return value and what it delivers.
 *
 * Every case ends with reasm_flush_all(), the page mempool full again, no
 * stream left in the pool and complete() called exactly once per stream.
 * The expected records of the rows added here were checked against
 * gopacket itself (GOPATH=/usr/share/gocode).
 */
#include <gtest/gtest.h>

#include <rte_mbuf.h>

#include <cstdio>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "frames.h"
#include "recorder.h"
#include "steps.h"

using namespace reasm_test;

namespace {


/* ------------------------------------------------------------------ */
/* Table notation                                                        */
/* ------------------------------------------------------------------ */


/* The doc's record flags: non-zero skip, start, end. */
struct Mark {
	int64_t skip = 0;
	bool start = false;
	bool end = false;
};
const Mark START{0, true, false};
const Mark END{0, false, true};
Mark SKIP(int64_t n)
{
	return {n, false, false};
}

/* One expected record; `from` is the step whose packet carried its bytes. */
struct Out {
	int from;
	Bytes bytes;
	Mark mark;
};

Out rec(int from, Bytes bytes, Mark mark = Mark())
{
	return {from, std::move(bytes), mark};
}

const std::vector<Out> NOTHING;

struct Step {
	In in;
	std::vector<Out> out;
	/* Optional checks after the step (-1: not checked). */
	int want_opened = -1;
	int want_completed = -1;
	int want_pages = -1;

	Step streams(int opened, int completed) const
	{
		Step s = *this;
		s.want_opened = opened;
		s.want_completed = completed;
		return s;
	}
	Step pages(int n) const
	{
		Step s = *this;
		s.want_pages = n;
		return s;
	}
};

struct Row {
	const char *id;  /* test name */
	const char *doc; /* the doc's case name, or the rule it checks */
	std::vector<Step> steps;
};

Bytes zeros(size_t n)
{
	return Bytes(n, 0);
}

/* Bytes that expose misordered pages: value depends on the position. */
Bytes pattern(size_t n)
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + i / 251);
	return b;
}

Bytes slice(const Bytes &b, size_t from, size_t to)
{
	return Bytes(b.begin() + from, b.begin() + to);
}

/* Bytes {first, first+1, ...}: each byte names its own sequence offset. */
Bytes run(uint8_t first, size_t n)
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(first + i);
	return b;
}

const Bytes ONE_TO_ZERO = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0};

/* ------------------------------------------------------------------ */
/* The rows of conformance-vectors.md, with sequences as the doc has    */
/* them (ISN 1000).                                                      */
/* ------------------------------------------------------------------ */

const Bytes BIG = zeros(5700);

const std::vector<Row> doc_rows = {
	{"ReorderNoSyn", "reorder, no SYN", {
		{seg(1001, {1, 2, 3}), NOTHING},
		{seg(1004, {2, 2, 3}), NOTHING},
		{seg(1010, {4, 2, 3}), NOTHING},
		/* The 4th buffered page hits the limit. */
		{seg(1007, {3, 2, 3}), {rec(0, {1, 2, 3}, SKIP(-1)), rec(1, {2, 2, 3}),
					rec(3, {3, 2, 3}), rec(2, {4, 2, 3})}},
		{seg(1016, {2, 2, 3}), NOTHING},
		{seg(1019, {3, 2, 3}), NOTHING},
		{seg(1013, {1, 2, 3}), {rec(6, {1, 2, 3}), rec(4, {2, 2, 3}),
					rec(5, {3, 2, 3})}},
	}},
	{"MaxPagesThenSkip", "max pages then skip", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		{seg(1007, {3, 2, 3}), NOTHING},
		{seg(1010, {4, 2, 3}), NOTHING},
		{seg(1013, {5, 2, 3}), NOTHING},
		{seg(1016, {6, 2, 3}), {rec(1, {3, 2, 3}, SKIP(3)), rec(2, {4, 2, 3}),
					rec(3, {5, 2, 3}), rec(4, {6, 2, 3})}},
	}},
	{"ReorderFast", "reorder fast", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		{seg(1007, {3, 2, 3}), NOTHING},
		{seg(1004, {2, 2, 3}), {rec(2, {2, 2, 3}), rec(1, {3, 2, 3})}},
	}},
	{"OverlapWithDelivered", "overlap with delivered data", {
		{syn(1000, ONE_TO_ZERO), {rec(0, ONE_TO_ZERO, START)}},
		{seg(1007, {7, 8, 9, 0, 1, 2, 3, 4, 5}), {rec(1, {1, 2, 3, 4, 5})}},
		{seg(1010, {0, 1, 2, 3, 4, 5, 6, 7}), {rec(2, {6, 7})}},
	}},
	{"OverlapAmongBuffered", "overlap among buffered data", {
		{seg(1007, {7, 8, 9, 0, 1, 2, 3, 4, 5}), NOTHING},
		{seg(1010, {0, 1, 2, 3, 4, 5, 6, 7}), NOTHING},
		{syn(1000, ONE_TO_ZERO), {rec(2, ONE_TO_ZERO, START), rec(0, {1, 2, 3, 4, 5}),
					  rec(1, {6, 7})}},
	}},
	/* The two wrap rows are written at ISN 1000 with the doc's absolute
	 * sequences; see shift() for how the other ISNs move them. */
	{"WrapAfterSyn", "wrap after SYN", {
		{syn(0xFFFFFFFFu, ONE_TO_ZERO), {rec(0, ONE_TO_ZERO, START)}},
		{seg(10, {1, 2, 3, 4}), {rec(1, {1, 2, 3, 4})}},
	}},
	{"WrapDataBeforeSyn", "wrap, data before SYN", {
		{seg(10, {1, 2, 3, 4}), NOTHING},
		{syn(0xFFFFFFFFu, ONE_TO_ZERO), {rec(1, ONE_TO_ZERO, START), rec(0, {1, 2, 3, 4})}},
	}},
	{"LargePacketSplitIntoPages", "large packet split into pages", {
		{seg(1001, BIG), NOTHING},
		{syn(1000), {rec(1, {}, START), rec(0, slice(BIG, 0, 1900)),
			     rec(0, slice(BIG, 1900, 3800)), rec(0, slice(BIG, 3800, 5700))}},
	}},
};

/* ------------------------------------------------------------------ */
/* The rules the rows imply, where no row above shows them already.     */
/* ------------------------------------------------------------------ */

const Bytes PAT = pattern(4000);
const Bytes BIG4 = pattern(4 * 1900);

const std::vector<Row> rule_rows = {
	/* Rule 1: no SYN, FIN, RST or payload: ignored, no stream. */
	{"Rule1BareAckOpensNothing", "rule 1", {
		Step{seg(1000), NOTHING}.streams(0, 0).pages(0),
		Step{seg(1000), NOTHING}.streams(0, 0),
	}},
	{"Rule1BareAckOnOpenStreamIgnored", "rule 1", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		/* Not even an empty record. */
		Step{seg(1004), NOTHING}.streams(1, 0),
		{seg(1004, {4}), {rec(2, {4})}},
	}},
	/* Rule 2: no payload and no SYN on an unknown stream opens none. */
	{"Rule2FinOnUnknownStreamOpensNothing", "rule 2", {
		Step{fin(1000), NOTHING}.streams(0, 0),
		Step{rst(1000), NOTHING}.streams(0, 0),
		Step{syn(1000), {rec(2, {}, START)}}.streams(1, 0),
	}},
	/* Rule 3: data without a SYN is buffered even when alone. */
	{"Rule3DataWithoutSynWaits", "rule 3", {
		Step{seg(1000, {1, 2, 3}), NOTHING}.streams(1, 0).pages(1),
		Step{seg(1003, {4, 5, 6}), NOTHING}.pages(2),
	}},
	/* Rule 4: the limit releases exactly one page, plus what is contiguous. */
	{"Rule4PageLimitReleasesOnePage", "rule 4", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		Step{seg(1007, run(7, 3)), NOTHING}.pages(1),
		Step{seg(1011, run(11, 3)), NOTHING}.pages(2),
		Step{seg(1015, run(15, 3)), NOTHING}.pages(3),
		Step{seg(1019, run(19, 3)), {rec(1, run(7, 3), SKIP(3))}}.pages(3),
		Step{seg(1023, run(23, 3)), {rec(2, run(11, 3), SKIP(1))}}.pages(3),
	}},
	/* Rules 4+5: one out-of-order payload of 4 pages hits the limit alone. */
	{"Rule4OnePayloadOfFourPagesHitsLimit", "rules 4, 5", {
		{syn(1000, {1}), {rec(0, {1}, START)}},
		Step{seg(1010, BIG4), {rec(1, slice(BIG4, 0, 1900), SKIP(8)),
				       rec(1, slice(BIG4, 1900, 3800)),
				       rec(1, slice(BIG4, 3800, 5700)),
				       rec(1, slice(BIG4, 5700, 7600))}}.pages(0),
	}},
	/* Rule 5: pages are filled in order, the last one partly. */
	{"Rule5PayloadSplitKeepsOrder", "rule 5", {
		Step{seg(1001, PAT), NOTHING}.pages(3),
		Step{syn(1000), {rec(1, {}, START), rec(0, slice(PAT, 0, 1900)),
				 rec(0, slice(PAT, 1900, 3800)),
				 rec(0, slice(PAT, 3800, 4000))}}.pages(0),
	}},
	/* Rule 7: among buffered pages with one start, the earlier wins. */
	{"Rule7SameStartEarlierArrivalWins", "rule 7", {
		{seg(1010, {0xA, 0xA, 0xA}), NOTHING},
		{seg(1010, {0xB, 0xB, 0xB, 0xB}), NOTHING},
		{syn(1000, run(1, 9)), {rec(2, run(1, 9), START), rec(0, {0xA, 0xA, 0xA}),
					rec(1, {0xB})}},
	}},
	{"Rule7CoveredPageGivesEmptyRecord", "rule 7", {
		{seg(1010, {0xA, 0xA, 0xA}), NOTHING},
		{seg(1010, {0xB, 0xB}), NOTHING},
		{syn(1000, run(1, 9)), {rec(2, run(1, 9), START), rec(0, {0xA, 0xA, 0xA}),
					rec(1, {})}},
	}},
	/* Rule 7: wholly old data (a retransmission) is an empty record. */
	{"Rule7RetransmissionIsEmptyRecord", "rule 7", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		{seg(1001, {1, 2, 3}), {rec(1, {})}},
		{seg(1001, {1, 2}), {rec(2, {})}},
		/* A repeated SYN is old data too, and no new start. */
		Step{syn(1000, {1, 2, 3}), {rec(3, {})}}.streams(1, 0),
	}},
	/* Rule 8: FIN completes exactly once; the flow can then start again. */
	{"Rule8FinCompletesOnce", "rule 8", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		Step{fin(1004, {4}), {rec(1, {4}, END)}}.streams(1, 1).pages(0),
		/* A new stream, whose start was not seen: buffered. */
		Step{seg(1005, {5}), NOTHING}.streams(2, 1),
	}},
	{"Rule8RstCompletes", "rule 8", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		Step{rst(1004), {rec(1, {}, END)}}.streams(1, 1),
	}},
	{"Rule8FinReturnsBufferedPages", "rule 8", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		Step{seg(1010, {9}), NOTHING}.pages(1),
		Step{fin(1004), {rec(2, {}, END)}}.streams(1, 1).pages(0),
	}},
	{"Rule8BufferedFinCompletes", "rule 8", {
		Step{fin(1004, {4, 5}), NOTHING}.streams(1, 0),
		Step{syn(1000, {1, 2, 3}), {rec(1, {1, 2, 3}, START), rec(0, {4, 5}, END)}}
			.streams(1, 1).pages(0),
	}},
	/* Rule 8: an out-of-order bare FIN waits as an empty page. */
	{"Rule8OutOfOrderBareFinWaits", "rule 8", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		Step{fin(1010), NOTHING}.streams(1, 0).pages(1),
		Step{seg(1004, run(4, 6)), {rec(2, run(4, 6)), rec(1, {}, END)}}
			.streams(1, 1).pages(0),
	}},
	/* Rule 8: only End on the LAST record of a call closes the stream. */
	{"Rule8EndNotLastKeepsStreamOpen", "rule 8", {
		{fin(1004, {4}), NOTHING},
		{seg(1005, {5}), NOTHING},
		Step{syn(1000, {1, 2, 3}), {rec(2, {1, 2, 3}, START), rec(0, {4}, END),
					    rec(1, {5})}}.streams(1, 0).pages(0),
	}},
	/* Rule 9: a SYN consumes one sequence number. */
	{"Rule9EmptySynConsumesOne", "rule 9", {
		{syn(1000), {rec(0, {}, START)}},
		{seg(1001, {1, 2}), {rec(1, {1, 2})}},
	}},
	{"Rule9SynWithPayloadConsumesOne", "rule 9", {
		{syn(1000, {1, 2, 3}), {rec(0, {1, 2, 3}, START)}},
		/* The SYN took 1000 and its bytes 1001-1003: 1003 is old, 1004 new. */
		{seg(1003, {9, 4}), {rec(1, {4})}},
	}},
};

/* ------------------------------------------------------------------ */
/* Running a row                                                         */
/* ------------------------------------------------------------------ */

enum class Entry { Segment, Burst };

void PrintTo(Entry e, std::ostream *os)
{
	*os << (e == Entry::Segment ? "reasm_assemble" : "reasm_assemble_burst");
}

/*
 * Initial sequence numbers. The doc's rows are written for ISN 1000; a row
 * runs at ISN x with every sequence shifted by (x - 1000) mod 2^32, the two
 * wrap rows (written with the doc's absolute sequences 0xFFFFFFFF and 10)
 * included. A shift keeps every distance between the row's sequences, and
 * each row spans a few thousand sequence numbers, far below the quarter
 * space, so each row means the same at every ISN. What moves is where 2^32
 * falls: the wrap rows cross it only at ISN 1000 (their own); the 5700-byte
 * payload crosses it inside its pages at 0xFFFFFF00. The fifth ISN,
 * 0xFFFFFFFA, is an addition to the four of the brief: 2^32 then falls six
 * bytes into every doc and rule row (between the SYN and most of the data).
 */
const uint32_t ISNS[] = {1000, 0, 0x7FFFFFF0u, 0xFFFFFF00u, 0xFFFFFFFAu};
constexpr uint32_t DOC_ISN = 1000;

uint64_t ts_of_step(int step)
{
	return 1000000000ull + 1000ull * (uint64_t)step;
}

struct rte_mbuf *frame_mbuf(const Bytes &frame)
{
	/* Frames beyond one mbuf's 2048-byte data room go in a chain. */
	if (frame.size() <= 2048)
		return to_mbuf(frame);
	return to_mbuf_chain(frame, 2048, 2048);
}

/* A rig with the doc's harness, fed through one entry point. */
class Driver {
public:
	Driver(Entry entry, uint32_t isn) : rig(harness()), entry_(entry), offset_(isn - DOC_ISN)
	{
	}

	static RigOptions harness()
	{
		RigOptions o;
		o.max_pages_per_conn = 4;
		o.max_pages_total = 0;
		return o;
	}

	uint32_t shift(uint32_t doc_seq) const
	{
		return doc_seq + offset_;
	}

	/* One assemble call; returns the records it delivered. */
	std::vector<Rec> send(const In &in, uint64_t ts, uint16_t sport = 1)
	{
		FrameSpec spec;
		spec.sport = sport;
		spec.seq = shift(in.seq);
		spec.flags = in.flags;
		spec.payload = in.payload;
		if (entry_ == Entry::Segment) {
			struct reasm_flow flow = flow_of(spec);
			struct reasm_segment sg = segment_of(spec);
			EXPECT_EQ(reasm_assemble(rig.asm_, &flow, &sg, ts), 0);
		} else {
			struct rte_mbuf *m = frame_mbuf(build_frame(spec));
			EXPECT_EQ(reasm_assemble_burst(rig.asm_, &m, 1, &ts, 0), 1u);
			rte_pktmbuf_free(m);
		}
		return rig.rec.take();
	}

	/* Flush everything and check nothing is left behind. */
	void finish()
	{
		size_t still_open = rig.rec.opened() - rig.rec.completed();
		EXPECT_EQ(reasm_flush_all(rig.asm_), still_open);
		rig.rec.take();
		EXPECT_EQ(reasm_pool_count(rig.pool), 0u);
		EXPECT_EQ(reasm_assembler_pages_in_use(rig.asm_), 0u);
		EXPECT_TRUE(rig.pages_all_free()) << rig.pages_free() << " pages free";
		std::string why;
		EXPECT_TRUE(rig.bytes_conserved(&why)) << why;
		for (StreamLog *s : rig.rec.streams())
			EXPECT_EQ(s->completes, 1);
	}

	Rig rig;

private:
	Entry entry_;
	uint32_t offset_;
};

std::vector<Rec> as_recs(const std::vector<Out> &want)
{
	std::vector<Rec> v;
	for (const Out &o : want) {
		Rec r;
		r.bytes = o.bytes;
		r.skip = o.mark.skip;
		r.start = o.mark.start;
		r.end = o.mark.end;
		v.push_back(r);
	}
	return v;
}

void expect_records(const std::vector<Rec> &got, const std::vector<Out> &want)
{
	ASSERT_EQ(got.size(), want.size())
		<< "want: " << describe(as_recs(want)) << "\n got: " << describe(got);
	for (size_t i = 0; i < want.size(); i++) {
		SCOPED_TRACE("record " + std::to_string(i) + ": want " +
			     describe(as_recs({want[i]})) + " got " + describe({got[i]}));
		EXPECT_EQ(got[i].bytes, want[i].bytes);
		EXPECT_EQ(got[i].skip, want[i].mark.skip);
		EXPECT_EQ(got[i].start, want[i].mark.start);
		EXPECT_EQ(got[i].end, want[i].mark.end);
		EXPECT_EQ(got[i].seen, ts_of_step(want[i].from)) << "seen: wrong packet";
		/* reasm's extension: a cause exactly when bytes were skipped. */
		EXPECT_EQ(got[i].cause == REASM_SKIP_NONE, got[i].skip == 0);
	}
}

void run_row(const Row &row, uint32_t isn, Entry entry)
{
	Driver d(entry, isn);
	for (size_t i = 0; i < row.steps.size(); i++) {
		const Step &st = row.steps[i];
		char what[128];
		snprintf(what, sizeof(what), "%s, step %zu (doc seq %u, sent as %u)", row.doc, i,
			 st.in.seq, d.shift(st.in.seq));
		SCOPED_TRACE(what);
		expect_records(d.send(st.in, ts_of_step((int)i)), st.out);
		if (st.want_opened >= 0) {
			EXPECT_EQ(d.rig.rec.opened(), (size_t)st.want_opened);
		}
		if (st.want_completed >= 0) {
			EXPECT_EQ(d.rig.rec.completed(), (size_t)st.want_completed);
		}
		if (st.want_pages >= 0) {
			EXPECT_EQ(reasm_assembler_pages_in_use(d.rig.asm_),
				  (uint32_t)st.want_pages);
		}
	}
	d.finish();
}

/* ------------------------------------------------------------------ */
/* Parameterisation: row x ISN x entry point                            */
/* ------------------------------------------------------------------ */

using Param = std::tuple<size_t, uint32_t, Entry>;

std::string param_name(const std::vector<Row> &rows, const Param &p)
{
	char isn[16];
	uint32_t v = std::get<1>(p);
	snprintf(isn, sizeof(isn), v <= 1000 ? "%u" : "0x%X", v);
	return std::string(rows[std::get<0>(p)].id) + "_Isn" + isn +
	       (std::get<2>(p) == Entry::Segment ? "_Segment" : "_Burst");
}

class DocRow : public ::testing::TestWithParam<Param> {};
class RuleRow : public ::testing::TestWithParam<Param> {};

TEST_P(DocRow, RecordsPerStep)
{
	const Param &p = GetParam();
	run_row(doc_rows[std::get<0>(p)], std::get<1>(p), std::get<2>(p));
}

TEST_P(RuleRow, RecordsPerStep)
{
	const Param &p = GetParam();
	run_row(rule_rows[std::get<0>(p)], std::get<1>(p), std::get<2>(p));
}

INSTANTIATE_TEST_SUITE_P(Conformance, DocRow,
			 ::testing::Combine(::testing::Range<size_t>(0, doc_rows.size()),
					    ::testing::ValuesIn(ISNS),
					    ::testing::Values(Entry::Segment, Entry::Burst)),
			 [](const ::testing::TestParamInfo<Param> &i) {
				 return param_name(doc_rows, i.param);
			 });

INSTANTIATE_TEST_SUITE_P(Conformance, RuleRow,
			 ::testing::Combine(::testing::Range<size_t>(0, rule_rows.size()),
					    ::testing::ValuesIn(ISNS),
					    ::testing::Values(Entry::Segment, Entry::Burst)),
			 [](const ::testing::TestParamInfo<Param> &i) {
				 return param_name(rule_rows, i.param);
			 });

/* ------------------------------------------------------------------ */
/* Timestamps through the burst entry point                              */
/* ------------------------------------------------------------------ */

/* With timestamps == NULL every packet of the burst is seen at now_ns. */
TEST(BurstTimestamps, NullTimestampsUseNow)
{
	Driver d(Entry::Burst, DOC_ISN);
	FrameSpec a, b;
	a.seq = 1000;
	a.flags = REASM_TCP_SYN;
	a.payload = {1, 2};
	b.seq = 1003;
	b.payload = {3};
	struct rte_mbuf *m[2] = {frame_mbuf(build_frame(a)), frame_mbuf(build_frame(b))};
	EXPECT_EQ(reasm_assemble_burst(d.rig.asm_, m, 2, nullptr, 777), 2u);
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);
	std::vector<Rec> got = d.rig.rec.take();
	ASSERT_EQ(got.size(), 2u) << describe(got);
	EXPECT_EQ(got[0].seen, 777u);
	EXPECT_EQ(got[1].seen, 777u);
	d.finish();
}

/* Several packets in one burst: each record carries its own packet's time. */
TEST(BurstTimestamps, PerPacketTimestamps)
{
	Driver d(Entry::Burst, DOC_ISN);
	FrameSpec a, b, c;
	a.seq = 1004;
	a.payload = {4};
	b.seq = 1000;
	b.flags = REASM_TCP_SYN;
	b.payload = {1, 2, 3};
	c.seq = 1005;
	c.payload = {5};
	struct rte_mbuf *m[3] = {frame_mbuf(build_frame(a)), frame_mbuf(build_frame(b)),
				 frame_mbuf(build_frame(c))};
	const uint64_t ts[3] = {30, 10, 20};
	EXPECT_EQ(reasm_assemble_burst(d.rig.asm_, m, 3, ts, 0), 3u);
	for (auto *x : m)
		rte_pktmbuf_free(x);
	std::vector<Rec> got = d.rig.rec.take();
	ASSERT_EQ(got.size(), 3u) << describe(got);
	EXPECT_EQ(got[0].bytes, (Bytes{1, 2, 3}));
	EXPECT_EQ(got[0].seen, 10u);
	EXPECT_EQ(got[1].bytes, (Bytes{4}));
	EXPECT_EQ(got[1].seen, 30u);
	EXPECT_EQ(got[2].bytes, (Bytes{5}));
	EXPECT_EQ(got[2].seen, 20u);
	d.finish();
}

/* ------------------------------------------------------------------ */
/* FlushOlderThan and FlushAll                                           */
/* ------------------------------------------------------------------ */

/*
 * gopacket's FlushWithOptions example: the stream has delivered up to
 * sequence 10 and holds [15-20), [20-25), [30-50). Sequences are the doc's
 * own; each payload byte is its sequence number.
 */
class Flush : public ::testing::Test {
protected:
	Flush() : d(Entry::Segment, DOC_ISN) {}

	/* seq:[bytes named after their sequences] at time ts; its records. */
	std::vector<Rec> data(uint32_t seq, size_t len, uint64_t ts, uint8_t flags = 0)
	{
		return d.send({seq, flags, run((uint8_t)seq, len)}, ts);
	}
	/* The stream up to sequence 10: a SYN at 9. */
	void open_at_10(uint64_t ts)
	{
		std::vector<Rec> got = d.send(syn(9), ts);
		ASSERT_EQ(got.size(), 1u);
	}
	unsigned flush(uint64_t t, unsigned *closed)
	{
		*closed = 12345;
		return reasm_flush_older_than(d.rig.asm_, t, closed);
	}

	static void expect_rec(const Rec &r, uint8_t first, size_t len, int64_t skip, uint64_t seen)
	{
		EXPECT_EQ(r.bytes, run(first, len));
		EXPECT_EQ(r.skip, skip);
		EXPECT_EQ(r.seen, seen);
		EXPECT_FALSE(r.start);
	}

	void TearDown() override
	{
		d.finish();
	}

	Driver d;
};

/* Pushes the oldest run and what is contiguous with it, however recent. */
TEST_F(Flush, PushesOldestRunAndWhatIsContiguous)
{
	unsigned closed;
	open_at_10(100);
	data(15, 5, 200);
	data(20, 5, 400);
	data(30, 20, 500);

	EXPECT_EQ(flush(300, &closed), 1u);
	EXPECT_EQ(closed, 0u);
	std::vector<Rec> got = d.rig.rec.take();
	ASSERT_EQ(got.size(), 2u) << describe(got);
	expect_rec(got[0], 15, 5, 5, 200);
	EXPECT_EQ(got[0].cause, REASM_SKIP_FLUSH);
	expect_rec(got[1], 20, 5, 0, 400);
	EXPECT_EQ(reasm_assembler_pages_in_use(d.rig.asm_), 1u);
	EXPECT_EQ(d.rig.rec.completed(), 0u);
}

/* [30-50) waits while its page is not older than T (strictly). */
TEST_F(Flush, WaitsForPagesNotOlderThanT)
{
	unsigned closed;
	open_at_10(100);
	data(15, 5, 200);
	data(20, 5, 400);
	data(30, 20, 500);
	EXPECT_EQ(flush(300, &closed), 1u);
	d.rig.rec.take();

	EXPECT_EQ(flush(500, &closed), 0u);
	EXPECT_EQ(closed, 0u);
	EXPECT_TRUE(d.rig.rec.take().empty());

	/* Older now: pushed, and with nothing left and no packet since T, closed. */
	EXPECT_EQ(flush(501, &closed), 1u);
	EXPECT_EQ(closed, 1u);
	std::vector<Rec> got = d.rig.rec.take();
	ASSERT_EQ(got.size(), 1u) << describe(got);
	expect_rec(got[0], 30, 20, 5, 500);
	EXPECT_EQ(d.rig.rec.completed(), 1u);
	EXPECT_TRUE(d.rig.pages_all_free());

	EXPECT_EQ(flush(1000, &closed), 0u);
	EXPECT_EQ(closed, 0u);
}

/* Every old run is pushed in one call, but a stream seen since T stays open. */
TEST_F(Flush, PushesAllOldRunsButKeepsRecentStreamOpen)
{
	unsigned closed;
	open_at_10(100);
	data(30, 20, 200);
	data(15, 5, 300);
	data(20, 5, 600);

	EXPECT_EQ(flush(400, &closed), 1u);
	EXPECT_EQ(closed, 0u);
	std::vector<Rec> got = d.rig.rec.take();
	ASSERT_EQ(got.size(), 3u) << describe(got);
	expect_rec(got[0], 15, 5, 5, 300);
	expect_rec(got[1], 20, 5, 0, 600);
	expect_rec(got[2], 30, 20, 5, 200);
	EXPECT_EQ(d.rig.rec.completed(), 0u);
	EXPECT_EQ(reasm_assembler_pages_in_use(d.rig.asm_), 0u);

	EXPECT_EQ(flush(601, &closed), 1u);
	EXPECT_EQ(closed, 1u);
	EXPECT_TRUE(d.rig.rec.take().empty());
	EXPECT_EQ(d.rig.rec.completed(), 1u);
}

/* Nothing buffered: closed only when the last packet is older than T. */
TEST_F(Flush, ClosesIdleStreamOnlyWhenLastSeenBeforeT)
{
	unsigned closed;
	open_at_10(100);
	data(15, 5, 200);
	/* Fills the hole: nothing buffered. */
	ASSERT_EQ(data(10, 5, 400).size(), 2u);

	EXPECT_EQ(flush(300, &closed), 0u);
	EXPECT_EQ(closed, 0u);
	EXPECT_EQ(flush(400, &closed), 0u);
	EXPECT_EQ(closed, 0u);
	EXPECT_EQ(d.rig.rec.completed(), 0u);

	EXPECT_EQ(flush(401, &closed), 1u);
	EXPECT_EQ(closed, 1u);
	EXPECT_TRUE(d.rig.rec.take().empty());
	EXPECT_EQ(d.rig.rec.completed(), 1u);
	EXPECT_EQ(reasm_pool_count(d.rig.pool), 0u);
}

/* A flushed page carrying FIN ends the stream: counted as closed. */
TEST_F(Flush, FlushedFinClosesStream)
{
	unsigned closed;
	open_at_10(100);
	data(15, 5, 200, REASM_TCP_FIN);

	EXPECT_EQ(flush(300, &closed), 1u);
	EXPECT_EQ(closed, 1u);
	std::vector<Rec> got = d.rig.rec.take();
	ASSERT_EQ(got.size(), 1u) << describe(got);
	expect_rec(got[0], 15, 5, 5, 200);
	EXPECT_TRUE(got[0].end);
	EXPECT_EQ(d.rig.rec.completed(), 1u);
}

/* A stream whose start was never seen: flushed with skip -1, then closed. */
TEST_F(Flush, StreamWithoutSynFlushedWithUnknownSkip)
{
	unsigned closed;
	data(100, 3, 100);

	EXPECT_EQ(flush(200, &closed), 1u);
	EXPECT_EQ(closed, 1u);
	std::vector<Rec> got = d.rig.rec.take();
	ASSERT_EQ(got.size(), 1u) << describe(got);
	expect_rec(got[0], 100, 3, -1, 100);
	EXPECT_EQ(d.rig.rec.completed(), 1u);
}

/*
 * Counts streams flushed or closed (not records), and of those the closed
 * ones; streams with nothing old are left alone.
 */
TEST_F(Flush, ReturnValueCountsFlushedStreams)
{
	unsigned closed;
	d.send(syn(9), 100, 1);
	d.send({15, 0, run(15, 5)}, 100, 1); /* old page */
	d.send({40, 0, run(40, 5)}, 900, 1); /* stream 1 seen since T */
	d.send(syn(9), 100, 2);
	d.send({20, 0, run(20, 5)}, 100, 2); /* old page, then idle: closed */
	d.send(syn(9), 900, 3);              /* recent, nothing buffered */
	d.send(syn(9), 100, 4);              /* idle, nothing buffered: closed */
	d.rig.rec.take();

	EXPECT_EQ(flush(500, &closed), 3u);
	EXPECT_EQ(closed, 2u);
	EXPECT_EQ(d.rig.rec.completed(), 2u);
	EXPECT_EQ(reasm_pool_count(d.rig.pool), 2u);
	/* Streams are visited in no particular order: check each one's log. */
	std::vector<StreamLog *> s = d.rig.rec.streams();
	ASSERT_EQ(s.size(), 4u);
	ASSERT_EQ(s[0]->recs.size(), 2u) << describe(s[0]->recs);
	expect_rec(s[0]->recs[1], 15, 5, 5, 100);
	EXPECT_EQ(s[0]->recs[1].cause, REASM_SKIP_FLUSH);
	ASSERT_EQ(s[1]->recs.size(), 2u) << describe(s[1]->recs);
	expect_rec(s[1]->recs[1], 20, 5, 10, 100);
	EXPECT_EQ(s[1]->recs[1].cause, REASM_SKIP_FLUSH);
	EXPECT_EQ(s[2]->recs.size(), 1u);
	EXPECT_EQ(s[3]->recs.size(), 1u);
	EXPECT_EQ(s[0]->completes + s[2]->completes, 0);

	/* Nothing older than 50; a NULL `closed` is allowed. */
	EXPECT_EQ(reasm_flush_older_than(d.rig.asm_, 50, nullptr), 0u);
}

/* FlushAll: every stream closed and counted, every hole skipped. */
TEST_F(Flush, FlushAllDeliversEverythingAndCountsStreams)
{
	d.send(syn(9), 100, 1);              /* nothing buffered */
	d.send(syn(9), 100, 2);
	d.send({15, 0, run(15, 5)}, 200, 2); /* two holes */
	d.send({30, 0, run(30, 5)}, 300, 2);
	d.send({50, 0, run(50, 2)}, 400, 3); /* start never seen */
	d.rig.rec.take();

	EXPECT_EQ(reasm_flush_all(d.rig.asm_), 3u);
	EXPECT_EQ(d.rig.rec.completed(), 3u);
	EXPECT_EQ(reasm_pool_count(d.rig.pool), 0u);
	EXPECT_TRUE(d.rig.pages_all_free());

	std::vector<StreamLog *> s = d.rig.rec.streams();
	ASSERT_EQ(s.size(), 3u);
	ASSERT_EQ(s[1]->recs.size(), 3u) << describe(s[1]->recs);
	expect_rec(s[1]->recs[1], 15, 5, 5, 200);
	EXPECT_EQ(s[1]->recs[1].cause, REASM_SKIP_FLUSH_ALL);
	expect_rec(s[1]->recs[2], 30, 5, 10, 300);
	EXPECT_EQ(s[1]->recs[2].cause, REASM_SKIP_FLUSH_ALL);
	ASSERT_EQ(s[2]->recs.size(), 1u) << describe(s[2]->recs);
	expect_rec(s[2]->recs[0], 50, 2, -1, 400);

	EXPECT_EQ(reasm_flush_all(d.rig.asm_), 0u);
}

/* Streams completed by FIN are gone: FlushAll does not count them. */
TEST_F(Flush, FlushAllSkipsStreamsAlreadyClosed)
{
	d.send(syn(9, {1}), 100, 1);
	d.send(fin(11), 100, 1);
	d.send(syn(9, {1}), 100, 2);
	EXPECT_EQ(d.rig.rec.completed(), 1u);
	EXPECT_EQ(reasm_flush_all(d.rig.asm_), 1u);
	EXPECT_EQ(d.rig.rec.completed(), 2u);
}

} // namespace
