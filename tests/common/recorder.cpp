/* SPDX-License-Identifier: BSD-3-Clause */
#include "recorder.h"
#include "test_env.h"

#include <rte_errno.h>
#include <rte_mempool.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace reasm_test {

static void *rec_open(void *factory_ctx, const struct reasm_flow *flow, void *priv)
{
	(void)priv;
	Recorder *r = static_cast<Recorder *>(factory_ctx);
	std::lock_guard<std::mutex> g(r->mu);
	r->logs.emplace_back(new StreamLog());
	r->logs.back()->flow = *flow;
	if (r->pool != nullptr)
		r->logs.back()->encap_rc = reasm_pool_open_encap(r->pool, &r->logs.back()->encap);
	/* The stream context carries both the log and its recorder. */
	return new std::pair<Recorder *, StreamLog *>(r, r->logs.back().get());
}

static void rec_reassembled(void *stream, const struct reasm_record *records, unsigned int n)
{
	auto *ctx = static_cast<std::pair<Recorder *, StreamLog *> *>(stream);
	std::lock_guard<std::mutex> g(ctx->first->mu);
	ctx->second->reassembled_calls++;
	for (unsigned i = 0; i < n; i++) {
		Rec r;
		r.bytes.assign(records[i].bytes, records[i].bytes + records[i].len);
		r.skip = records[i].skip;
		r.start = records[i].start;
		r.end = records[i].end;
		r.seen = records[i].seen;
		r.cause = records[i].skip_cause;
		ctx->second->recs.push_back(r);
		ctx->first->pending.push_back(r);
	}
}

static void rec_complete(void *stream, const struct reasm_stream_totals *totals)
{
	auto *ctx = static_cast<std::pair<Recorder *, StreamLog *> *>(stream);
	{
		std::lock_guard<std::mutex> g(ctx->first->mu);
		ctx->second->completes++;
		ctx->second->totals = *totals;
	}
	delete ctx;
}

static void rec_conflict(void *stream, const struct reasm_conflict *conflict)
{
	auto *ctx = static_cast<std::pair<Recorder *, StreamLog *> *>(stream);
	std::lock_guard<std::mutex> g(ctx->first->mu);
	ctx->second->conflicts.push_back(*conflict);
}

const struct reasm_stream_ops Recorder::ops = {rec_open, rec_reassembled, rec_complete};
const struct reasm_stream_ops Recorder::ops_with_conflict = {rec_open, rec_reassembled,
							     rec_complete, rec_conflict};

std::vector<Rec> Recorder::take()
{
	std::lock_guard<std::mutex> g(mu);
	std::vector<Rec> out;
	out.swap(pending);
	return out;
}

std::vector<StreamLog *> Recorder::streams()
{
	std::lock_guard<std::mutex> g(mu);
	std::vector<StreamLog *> out;
	for (auto &l : logs)
		out.push_back(l.get());
	return out;
}

size_t Recorder::opened()
{
	std::lock_guard<std::mutex> g(mu);
	return logs.size();
}

size_t Recorder::completed()
{
	std::lock_guard<std::mutex> g(mu);
	size_t n = 0;
	for (auto &l : logs)
		n += l->completes;
	return n;
}

void Recorder::forget()
{
	std::lock_guard<std::mutex> g(mu);
	for (auto &l : logs)
		received_forgotten += l->totals.received_bytes;
	logs.clear();
	pending.clear();
}

void Recorder::forget_counters()
{
	std::lock_guard<std::mutex> g(mu);
	received_forgotten = 0;
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, rte_strerror(rte_errno));
	abort();
}

Rig::Rig(const RigOptions &o) : opt(o)
{
	std::string pool_name = unique_name("rig_pool");
	struct reasm_pool_conf pc = {};
	pc.name = pool_name.c_str();
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = o.max_conns;
	pc.mode = o.mode;
	pc.max_zones = o.max_zones;
	pc.ops = o.log_conflicts ? &Recorder::ops_with_conflict : &Recorder::ops;
	pc.factory_ctx = &rec;
	pc.retain_bytes = o.retain_bytes;
	pool = reasm_pool_create(&pc);
	if (pool == nullptr)
		die("reasm_pool_create");
	rec.pool = pool;
	std::string pages_name = unique_name("rig_pages");
	pages = reasm_page_pool_create(pages_name.c_str(), o.n_pages, 0, SOCKET_ID_ANY);
	if (pages == nullptr)
		die("reasm_page_pool_create");
	asm_ = add_assembler();
	extra.clear();
}

struct reasm_assembler *Rig::add_assembler()
{
	struct reasm_assembler_conf ac = {};
	ac.pool = pool;
	ac.page_pool = pages;
	ac.max_pages_total = opt.max_pages_total;
	ac.max_pages_per_conn = opt.max_pages_per_conn;
	ac.socket_id = SOCKET_ID_ANY;
	ac.defrag = opt.defrag;
	ac.overlap_policy = opt.overlap_policy;
	struct reasm_assembler *a = reasm_assembler_create(&ac);
	if (a == nullptr)
		die("reasm_assembler_create");
	extra.push_back(a);
	return a;
}

Rig::~Rig()
{
	for (auto *a : extra)
		if (a != asm_)
			reasm_assembler_free(a);
	reasm_assembler_free(asm_);
	reasm_pool_free(pool);
	rte_mempool_free(pages);
}

/* One stream's totals against its records; "" when they agree. */
static std::string stream_problem(const StreamLog &log, const struct reasm_stream_totals &t)
{
	uint64_t bytes = 0, skipped = 0;
	for (auto &r : log.recs) {
		bytes += r.bytes.size();
		if (r.skip > 0)
			skipped += (uint64_t)r.skip;
	}
	std::ostringstream os;
	if (t.delivered_bytes != bytes || t.skipped_bytes != skipped)
		os << "totals say delivered " << t.delivered_bytes << " skipped " << t.skipped_bytes
		   << ", its records hold " << bytes << " bytes and skip " << skipped << "; ";
	if (t.received_bytes != t.delivered_bytes + t.overlap_bytes + t.buffered_bytes +
					t.discarded_bytes ||
	    t.received_bytes < t.delivered_bytes)
		os << "received " << t.received_bytes << " != delivered " << t.delivered_bytes
		   << " + overlap " << t.overlap_bytes << " + buffered " << t.buffered_bytes
		   << " + discarded " << t.discarded_bytes;
	return os.str();
}

bool Rig::streams_conserved(uint64_t received_expected, std::string *why) const
{
	uint64_t received = rec.received_forgotten;
	std::ostringstream os;
	int n = 0;

	for (auto &log : rec.logs) {
		struct reasm_stream_totals t = log->totals;
		std::string problem;
		if (log->completes == 0 && reasm_pool_stream_totals(pool, &log->flow, &t) != 0)
			problem = "open, but reasm_pool_stream_totals() does not find it";
		else
			problem = stream_problem(*log, t);
		received += t.received_bytes;
		if (!problem.empty())
			os << "stream " << n << ": " << problem << "\n";
		n++;
	}
	if (received != received_expected)
		os << "the streams received " << received << " bytes, payload - table_full is "
		   << received_expected << "\n";
	if (why != nullptr)
		*why = os.str();
	return os.str().empty();
}

bool Rig::bytes_conserved(std::string *why) const
{
	struct reasm_stats st = {};
	uint64_t out = 0;

	std::vector<struct reasm_assembler *> all(extra);
	all.push_back(asm_);
	for (auto *a : all) {
		struct reasm_stats one;
		reasm_assembler_stats(a, &one);
		for (unsigned i = 0; i < REASM_CTR_MAX; i++)
			st.v[i] += one.v[i];
	}
	out = st.v[REASM_CTR_delivered_bytes] + st.v[REASM_CTR_overlap_bytes] +
	      st.v[REASM_CTR_buffered_bytes] + st.v[REASM_CTR_discarded_on_close_bytes] +
	      st.v[REASM_CTR_table_full_bytes];
	if (out == st.v[REASM_CTR_payload_bytes])
		return streams_conserved(st.v[REASM_CTR_payload_bytes] -
						 st.v[REASM_CTR_table_full_bytes],
					 why);
	if (why != nullptr) {
		std::ostringstream os;
		os << "payload " << st.v[REASM_CTR_payload_bytes] << " != delivered "
		   << st.v[REASM_CTR_delivered_bytes] << " + overlap " << st.v[REASM_CTR_overlap_bytes]
		   << " + buffered " << st.v[REASM_CTR_buffered_bytes] << " + discarded "
		   << st.v[REASM_CTR_discarded_on_close_bytes] << " + table_full "
		   << st.v[REASM_CTR_table_full_bytes];
		*why = os.str();
	}
	return false;
}

unsigned Rig::pages_free() const
{
	return rte_mempool_avail_count(pages);
}

bool Rig::pages_all_free() const
{
	return rte_mempool_full(pages) != 0;
}

std::vector<uint8_t> concat(const std::vector<Rec> &recs)
{
	std::vector<uint8_t> out;
	for (auto &r : recs)
		out.insert(out.end(), r.bytes.begin(), r.bytes.end());
	return out;
}

std::string describe(const std::vector<Rec> &recs)
{
	std::ostringstream os;
	if (recs.empty())
		return "-";
	for (auto &r : recs) {
		os << "{";
		bool comma = false;
		if (r.skip != 0) {
			os << "skip:" << r.skip;
			comma = true;
		}
		if (r.start) {
			os << (comma ? "," : "") << "start";
			comma = true;
		}
		if (r.end)
			os << (comma ? "," : "") << "end";
		os << "}[";
		for (size_t i = 0; i < r.bytes.size() && i < 16; i++)
			os << (i ? "," : "") << (int)r.bytes[i];
		if (r.bytes.size() > 16)
			os << ",... (" << r.bytes.size() << " bytes)";
		os << "] ";
	}
	return os.str();
}

} // namespace reasm_test
