/* SPDX-License-Identifier: BSD-3-Clause
 * Differential test: reasm against a small reference model of gopacket's
 * tcpassembly written here (readable and slow), on random traffic.
 *
 * Covers, call by call (every record's bytes, skip, skip cause, start, end,
 * seen; every complete(); pages held; flush return values):
 * - random streams: ISN anywhere in the 32-bit space (and a suite centred on
 *   the wrap and the quarter boundaries), 0..~20 KB of random bytes, optional
 *   SYN, optional FIN or RST (alone or on the last data segment);
 * - segments of 1..3000 bytes (some larger than a 1900-byte page), reordered,
 *   duplicated, sub-ranges re-sent with identical bytes, some lost, and empty
 *   ACKs that must be ignored;
 * - max_pages_per_conn and max_pages_total in {unlimited, 1..8};
 * - non-decreasing timestamps, reasm_flush_older_than() interleaved,
 *   reasm_flush_all() at the end;
 * - both entry points: reasm_assemble() and reasm_assemble_burst() (frames,
 *   some VLAN-tagged, large ones as mbuf chains), per-packet timestamps or one
 *   timestamp per burst;
 * - several streams (both directions of a connection among them) interleaved
 *   in the same bursts;
 * - no stream loses bytes when nothing is lost and nothing limits buffering;
 * - every case ends with the page mempool full and the table empty.
 *
 * Reproduce a run with REASM_DIFF_SEED=<seed> (printed at start and in every
 * failure); REASM_DIFF_CASE=<n> runs only case n of each suite and
 * REASM_DIFF_CASES=<n> changes the number of cases per suite.
 */
#include <gtest/gtest.h>

#include <rte_errno.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "frames.h"
#include "recorder.h"
#include "test_env.h"

using namespace reasm_test;

namespace {

/* ------------------------------------------------------------------ */
/* Seed and random numbers                                              */
/* ------------------------------------------------------------------ */

uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	if (v == nullptr || *v == '\0')
		return dflt;
	return strtoull(v, nullptr, 0);
}

uint64_t run_seed()
{
	static const uint64_t seed = [] {
		uint64_t s = env_u64("REASM_DIFF_SEED",
				     (uint64_t)std::chrono::system_clock::now()
					     .time_since_epoch()
					     .count());
		printf("[differential] seed %" PRIu64 " (reproduce: REASM_DIFF_SEED=%" PRIu64
		       " build/tests/test_differential)\n",
		       s, s);
		fflush(stdout);
		return s;
	}();
	return seed;
}

uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

struct Rng {
	std::mt19937_64 g;
	explicit Rng(uint64_t s) : g(s) {}
	uint64_t below(uint64_t n) { return n == 0 ? 0 : g() % n; }
	/* Uniform in [lo, hi]. */
	uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }
	bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(g) < p; }
};

/* ------------------------------------------------------------------ */
/* The reference model: gopacket's assembly.go, one step at a time       */
/* ------------------------------------------------------------------ */

constexpr size_t kPageBytes = 1900;

/* Sequence.Difference, written again here so the model owes nothing to reasm.h. */
int64_t seq_diff(uint32_t s, uint32_t t)
{
	const int64_t space = int64_t(1) << 32;
	int64_t a = s, b = t;
	if (a > space - space / 4 && b < space / 4)
		b += space;
	else if (b > space - space / 4 && a < space / 4)
		a += space;
	return b - a;
}

uint32_t seq_add(uint32_t s, int64_t n)
{
	return (uint32_t)((int64_t)s + n);
}

/* What one stream instance received, as the Recorder logs it. */
struct ModelLog {
	struct reasm_flow flow;
	std::vector<Rec> recs;
	int completes = 0;
};

class Model {
public:
	Model(uint32_t max_per_conn, uint32_t max_total)
		: max_per_conn_(max_per_conn), max_total_(max_total)
	{
	}

	/* AssembleWithTimestamp. */
	void assemble(const struct reasm_flow &flow, uint32_t seq, uint8_t flags,
		      const std::vector<uint8_t> &payload, uint64_t ts)
	{
		const bool syn = flags & REASM_TCP_SYN;
		const bool fin_rst = flags & (REASM_TCP_FIN | REASM_TCP_RST);
		if (!syn && !fin_rst && payload.empty())
			return; /* useless packet */
		std::string key = key_of(flow);
		auto it = conns_.find(key);
		if (it == conns_.end()) {
			if (!syn && payload.empty())
				return; /* FIN/RST for a stream we do not know */
			Conn c;
			c.log = logs.size();
			logs.push_back(ModelLog{flow, {}, 0});
			it = conns_.emplace(key, std::move(c)).first;
		}
		Conn &c = it->second;
		if (c.last_seen < ts)
			c.last_seen = ts;
		ret_.clear();
		if (!c.have_next) {
			if (syn) {
				Rec r;
				r.bytes = payload;
				r.start = true;
				r.seen = ts;
				ret_.push_back(r);
				c.next = seq_add(seq, (int64_t)payload.size() + 1);
				c.have_next = true;
			} else {
				insert(c, seq, fin_rst, payload, ts);
			}
		} else if (seq_diff(c.next, seq) > 0) {
			insert(c, seq, fin_rst, payload, ts);
		} else {
			Rec r;
			r.bytes = byte_span(c, seq, payload);
			r.end = fin_rst;
			r.seen = ts;
			ret_.push_back(r);
		}
		if (!ret_.empty())
			send(key);
	}

	/* FlushOlderThan: returns streams flushed or closed. */
	unsigned flush_older_than(uint64_t t, unsigned *closed)
	{
		unsigned flushes = 0, closes = 0;
		for (const std::string &key : keys()) {
			bool flushed = false, gone = false;
			while (!gone && !conns_.at(key).pages.empty() &&
			       conns_.at(key).pages.front().seen < t) {
				ret_.clear();
				pop_first(conns_.at(key), REASM_SKIP_FLUSH);
				gone = send(key);
				flushed = true;
				if (gone)
					closes++;
			}
			if (!gone && conns_.at(key).pages.empty() && conns_.at(key).last_seen < t) {
				close(key);
				flushed = true;
				closes++;
			}
			if (flushed)
				flushes++;
		}
		*closed = closes;
		return flushes;
	}

	/* FlushAll: returns the number of streams closed (all of them). */
	unsigned flush_all()
	{
		std::vector<std::string> all = keys();
		for (const std::string &key : all) {
			for (;;) {
				if (conns_.at(key).pages.empty()) {
					close(key);
					break;
				}
				ret_.clear();
				pop_first(conns_.at(key), REASM_SKIP_FLUSH_ALL);
				if (send(key))
					break;
			}
		}
		return (unsigned)all.size();
	}

	size_t open_streams() const { return conns_.size(); }

	uint32_t used = 0;          /* pages held: gopacket's pc.used */
	std::vector<ModelLog> logs; /* one per stream instance, in open order */

private:
	struct Page {
		uint32_t seq;
		std::vector<uint8_t> bytes;
		bool end;
		uint64_t seen;
	};
	struct Conn {
		bool have_next = false; /* nextSeq != invalidSequence */
		uint32_t next = 0;
		std::list<Page> pages;  /* gopacket's first..last list */
		uint64_t last_seen = 0;
		size_t log = 0;
	};

	static std::string key_of(const struct reasm_flow &flow)
	{
		return std::string(reinterpret_cast<const char *>(&flow), sizeof(flow));
	}

	std::vector<std::string> keys() const
	{
		std::vector<std::string> out;
		for (auto &kv : conns_)
			out.push_back(kv.first);
		return out;
	}

	/* byteSpan: trim what was already delivered and advance nextSeq. */
	static std::vector<uint8_t> byte_span(Conn &c, uint32_t received,
					      const std::vector<uint8_t> &bytes)
	{
		if (!c.have_next) {
			c.have_next = true;
			c.next = seq_add(received, (int64_t)bytes.size());
			return bytes;
		}
		int64_t span = seq_diff(received, c.next);
		if (span <= 0) {
			c.next = seq_add(received, (int64_t)bytes.size());
			return bytes;
		}
		if ((int64_t)bytes.size() < span)
			return {};
		c.next = seq_add(c.next, (int64_t)bytes.size() - span);
		return std::vector<uint8_t>(bytes.begin() + span, bytes.end());
	}

	/* insertIntoConn + pagesFromTCP. */
	void insert(Conn &c, uint32_t seq, bool end, const std::vector<uint8_t> &payload,
		    uint64_t ts)
	{
		std::list<Page> fresh;
		size_t off = 0;
		uint32_t s = seq;
		do {
			size_t n = std::min(payload.size() - off, kPageBytes);
			fresh.push_back(Page{s, std::vector<uint8_t>(payload.begin() + off,
								     payload.begin() + off + n),
					     false, ts});
			off += n;
			s = seq_add(s, (int64_t)n);
		} while (off < payload.size());
		fresh.back().end = end;
		const size_t n = fresh.size();

		/* After the last page whose seq is not after this one (traverseConn). */
		auto pos = c.pages.end();
		while (pos != c.pages.begin() && seq_diff(std::prev(pos)->seq, seq) < 0)
			--pos;
		c.pages.splice(pos, fresh);
		used += (uint32_t)n;

		const bool conn_full = max_per_conn_ > 0 && c.pages.size() >= max_per_conn_;
		const bool all_full = max_total_ > 0 && used >= max_total_;
		if (conn_full || all_full)
			pop_first(c, conn_full ? REASM_SKIP_PAGE_LIMIT : REASM_SKIP_TOTAL_LIMIT);
	}

	/* addNextFromConn. */
	void pop_first(Conn &c, uint8_t cause)
	{
		Page &p = c.pages.front();
		Rec r;
		r.end = p.end;
		r.seen = p.seen;
		if (!c.have_next) {
			r.skip = -1;
			r.cause = REASM_SKIP_START_UNKNOWN;
		} else if (int64_t d = seq_diff(c.next, p.seq); d > 0) {
			r.skip = d;
			r.cause = cause;
		}
		r.bytes = byte_span(c, p.seq, p.bytes);
		ret_.push_back(std::move(r));
		c.pages.pop_front();
		used--;
	}

	/* sendToConnection (with addContiguous); true when the stream closed. */
	bool send(const std::string &key)
	{
		Conn &c = conns_.at(key);
		while (!c.pages.empty() && seq_diff(c.next, c.pages.front().seq) <= 0)
			pop_first(c, REASM_SKIP_NONE);
		ModelLog &log = logs[c.log];
		log.recs.insert(log.recs.end(), ret_.begin(), ret_.end());
		if (ret_.back().end) {
			close(key);
			return true;
		}
		return false;
	}

	/* closeConnection. */
	void close(const std::string &key)
	{
		Conn &c = conns_.at(key);
		logs[c.log].completes++;
		used -= (uint32_t)c.pages.size();
		conns_.erase(key);
	}

	uint32_t max_per_conn_, max_total_;
	std::map<std::string, Conn> conns_;
	std::vector<Rec> ret_; /* records of the current call (gopacket's a.ret) */
};

/* ------------------------------------------------------------------ */
/* Random traffic                                                       */
/* ------------------------------------------------------------------ */

struct Seg {
	unsigned stream;
	uint32_t seq;
	uint8_t flags;
	std::vector<uint8_t> payload;
};

struct StreamPlan {
	FrameSpec spec; /* addresses and ports of the direction */
	struct reasm_flow flow;
	std::vector<uint8_t> data;
	bool all_bytes_sent = false; /* kept segments cover every byte */
	std::vector<Seg> segs;       /* in sending order */
};

enum class IsnKind { Anywhere, Wrap };

uint32_t pick_isn(Rng &rng, IsnKind kind, size_t len)
{
	if (kind == IsnKind::Anywhere && rng.chance(0.8))
		return (uint32_t)rng.g();
	/* Streams straddling 0 (the wrap), or the quarter boundaries. */
	static const uint32_t anchors[] = {0, 0, 0, 0x40000000u, 0x80000000u, 0xC0000000u};
	uint32_t anchor = anchors[rng.below(6)];
	return anchor - (uint32_t)rng.below(len + 64) + (uint32_t)rng.below(8);
}

void random_endpoint(Rng &rng, FrameSpec &spec)
{
	spec.family = rng.chance(0.3) ? 6 : 4;
	for (auto &b : spec.src)
		b = (uint8_t)rng.g();
	for (auto &b : spec.dst)
		b = (uint8_t)rng.g();
	if (spec.family == 4) {
		std::fill(spec.src.begin() + 4, spec.src.end(), 0);
		std::fill(spec.dst.begin() + 4, spec.dst.end(), 0);
	}
	spec.sport = (uint16_t)rng.range(1, 65535);
	spec.dport = (uint16_t)rng.range(1, 65535);
}

FrameSpec reversed(const FrameSpec &s)
{
	FrameSpec r = s;
	std::swap(r.src, r.dst);
	std::swap(r.sport, r.dport);
	return r;
}

/* Pages the kept segments could ever occupy together. */
size_t page_bound(const std::vector<Seg> &segs)
{
	size_t n = 0;
	for (auto &s : segs)
		n += s.payload.empty() ? 1 : (s.payload.size() + kPageBytes - 1) / kPageBytes;
	return n;
}

/* One direction's segments: cut, re-sent, duplicated, lost, reordered. */
void plan_stream(Rng &rng, StreamPlan &p, unsigned index, IsnKind isn_kind, size_t max_len)
{
	/* Largest segment: tiny, typical, or beyond a page. */
	size_t mss;
	switch (rng.below(3)) {
	case 0: mss = rng.range(1, 40); break;
	case 1: mss = rng.range(41, 1500); break;
	default: mss = rng.range(1501, 3000); break;
	}
	size_t len = rng.chance(0.1) ? rng.below(4) : rng.below(std::min(max_len, mss * 150) + 1);
	p.data.resize(len);
	for (auto &b : p.data)
		b = (uint8_t)rng.g();

	const uint32_t isn = pick_isn(rng, isn_kind, len);
	const bool syn = rng.chance(0.6);
	const uint32_t base = syn ? isn + 1 : isn;
	std::vector<Seg> segs;
	if (syn)
		segs.push_back(Seg{index, isn, REASM_TCP_SYN, {}});
	for (size_t off = 0; off < len;) {
		size_t n = std::min(len - off, (size_t)rng.range(1, mss));
		segs.push_back(Seg{index, base + (uint32_t)off, 0,
				   std::vector<uint8_t>(p.data.begin() + off,
							p.data.begin() + off + n)});
		off += n;
	}
	/* FIN or RST, alone or on the last data segment. */
	if (rng.chance(0.6)) {
		uint8_t f = rng.chance(0.8) ? REASM_TCP_FIN : REASM_TCP_RST;
		if (len > 0 && rng.chance(0.5))
			segs.back().flags |= f;
		else
			segs.push_back(Seg{index, base + (uint32_t)len, f, {}});
	}
	/* Sub-ranges re-sent with the same bytes. */
	if (len > 0) {
		size_t resend = rng.chance(0.5) ? rng.below(segs.size() / 3 + 3) : 0;
		for (size_t i = 0; i < resend; i++) {
			size_t a = rng.below(len);
			size_t n = rng.range(1, std::min<size_t>(3000, len - a));
			segs.push_back(Seg{index, base + (uint32_t)a, 0,
					   std::vector<uint8_t>(p.data.begin() + a,
								p.data.begin() + a + n)});
		}
	}
	/* Exact duplicates. */
	double dup = rng.chance(0.5) ? rng.range(1, 25) / 100.0 : 0.0;
	size_t original = segs.size();
	for (size_t i = 0; i < original; i++)
		if (rng.chance(dup))
			segs.push_back(segs[i]);
	/* Empty ACKs, which the assembler must ignore. */
	if (rng.chance(0.2))
		for (size_t i = rng.range(1, 3); i > 0; i--)
			segs.push_back(Seg{index, (uint32_t)rng.g(), 0, {}});

	/* Loss. */
	double loss = rng.chance(0.6) ? 0.0 : rng.range(2, 30) / 100.0;
	std::vector<Seg> kept;
	std::vector<bool> covered(len, false);
	for (auto &s : segs) {
		if (rng.chance(loss))
			continue;
		if (!s.payload.empty()) {
			size_t off = (size_t)seq_diff(base, s.seq);
			for (size_t i = 0; i < s.payload.size(); i++)
				covered[off + i] = true;
		}
		kept.push_back(std::move(s));
	}
	p.all_bytes_sent = std::all_of(covered.begin(), covered.end(), [](bool b) { return b; });

	/* Order: as planned (re-sends at the end), jittered, shuffled or reversed. */
	std::vector<std::pair<uint64_t, size_t>> order;
	unsigned mode = (unsigned)rng.below(4);
	uint64_t window = rng.range(1, 12);
	for (size_t i = 0; i < kept.size(); i++) {
		uint64_t k = i * 16;
		if (mode == 1)
			k += rng.below(window * 16);
		else if (mode == 2)
			k = rng.g();
		else if (mode == 3)
			k = (kept.size() - i) * 16;
		order.emplace_back(k, i);
	}
	std::stable_sort(order.begin(), order.end(),
			 [](const auto &x, const auto &y) { return x.first < y.first; });
	p.segs.clear();
	for (auto &o : order)
		p.segs.push_back(std::move(kept[o.second]));
}

bool flow_taken(const std::vector<StreamPlan> &plans, unsigned i)
{
	for (unsigned j = 0; j < i; j++)
		if (memcmp(&plans[i].flow, &plans[j].flow, sizeof(struct reasm_flow)) == 0)
			return true;
	return false;
}

/* Interleave the streams' segments, each stream keeping its own order. */
std::vector<Seg> interleave(Rng &rng, std::vector<StreamPlan> &plans)
{
	std::vector<size_t> next(plans.size(), 0);
	size_t left = 0;
	for (auto &p : plans)
		left += p.segs.size();
	std::vector<Seg> out;
	while (left > 0) {
		size_t pick = rng.below(left);
		for (size_t i = 0; i < plans.size(); i++) {
			size_t remain = plans[i].segs.size() - next[i];
			if (pick < remain) {
				out.push_back(plans[i].segs[next[i]++]);
				break;
			}
			pick -= remain;
		}
		left--;
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* Running a case against both                                          */
/* ------------------------------------------------------------------ */

enum class Entry { Segment, Burst, Alternate };

struct SuiteSpec {
	const char *name;
	unsigned id;
	Entry entry;
	unsigned min_streams, max_streams;
	IsnKind isn;
};

constexpr unsigned kPagePool = 16384;
constexpr size_t kPageBudget = 12000; /* pages a case may need at most */

std::string show(const std::vector<Rec> &recs, size_t from)
{
	std::ostringstream os;
	if (from >= recs.size())
		return "-";
	for (size_t i = from; i < recs.size(); i++) {
		const Rec &r = recs[i];
		os << "{";
		if (r.skip != 0)
			os << "skip:" << r.skip << "("
			   << reasm_skip_cause_name((enum reasm_skip_cause)r.cause) << "),";
		else if (r.cause != REASM_SKIP_NONE)
			os << "cause:" << (int)r.cause << ",";
		if (r.start)
			os << "start,";
		if (r.end)
			os << "end,";
		os << "seen:" << r.seen << "}[" << r.bytes.size() << " bytes";
		for (size_t j = 0; j < r.bytes.size() && j < 6; j++)
			os << (j ? "," : ": ") << (int)r.bytes[j];
		os << (r.bytes.size() > 6 ? ",...] " : "] ");
	}
	return os.str();
}

bool same_rec(const Rec &a, const Rec &b)
{
	return a.bytes == b.bytes && a.skip == b.skip && a.start == b.start && a.end == b.end &&
	       a.seen == b.seen && a.cause == b.cause;
}

/* What a suite exercised, printed at its end. */
struct SuiteStats {
	uint64_t segments = 0, records = 0, bytes = 0, skips = 0, streams = 0, flushes = 0;
	uint64_t lossless_checked = 0;
};

class Differential {
public:
	explicit Differential(const SuiteSpec &suite) : suite_(suite)
	{
		RigOptions o;
		o.n_pages = kPagePool;
		o.max_conns = 1024;
		rig_.reset(new Rig(o));
	}

	~Differential()
	{
		reasm_flush_all(rig_->asm_);
		forget_streams();
	}

	/* Runs case @idx; false (with a test failure recorded) on a mismatch. */
	bool run_case(unsigned idx)
	{
		Rng rng(splitmix(run_seed() ^ splitmix(((uint64_t)suite_.id << 32) | idx)));
		CaseConfig cfg = pick_config(rng, idx);
		set_limits(cfg.per_conn, cfg.total);
		Model model(cfg.per_conn, cfg.total);
		model_ = &model;
		step_ = 0;
		error_.clear();
		flush_acted_ = false;

		std::vector<StreamPlan> plans;
		std::vector<Seg> segs;
		plan_case(rng, plans, segs);
		stats.segments += segs.size();
		uint64_t ts = rng.range(1, 1000000000);
		for (size_t i = 0; i < segs.size() && error_.empty();) {
			step_++;
			if (cfg.burst) {
				size_t n = std::min<size_t>(segs.size() - i,
							    rng.range(1, cfg.max_burst));
				run_burst(rng, cfg, plans, segs, i, n, ts);
				i += n;
			} else {
				ts += rng.below(cfg.max_step + 1);
				run_segment(plans, segs[i++], ts);
			}
			if (error_.empty() && rng.chance(cfg.p_flush))
				run_flush(ts + 1 - std::min(ts, rng.below(cfg.max_step * 8 + 2)));
		}
		if (error_.empty())
			run_flush_all();
		if (error_.empty())
			check_end_state(plans,
					cfg.per_conn == 0 && cfg.total == 0 && !flush_acted_);
		if (!error_.empty())
			report(idx, cfg, plans.size(), segs.size());
		return finish_case(idx) && error_.empty();
	}

private:
	struct CaseConfig {
		uint32_t per_conn, total; /* page limits, 0 = unlimited */
		bool burst;               /* reasm_assemble_burst, else reasm_assemble */
		uint64_t max_step;        /* largest timestamp increment */
		double p_flush;           /* chance of a flush_older_than after a step */
		unsigned max_burst;
		bool per_packet_ts;       /* timestamps array, else one now_ns per burst */
	};

	CaseConfig pick_config(Rng &rng, unsigned idx)
	{
		CaseConfig c;
		/* A third of the cases buffer without limit, so whole streams can be checked. */
		const bool unlimited = rng.chance(0.33);
		c.per_conn = unlimited || rng.chance(0.25) ? 0 : (uint32_t)rng.range(1, 8);
		c.total = unlimited || rng.chance(0.5) ? 0 : (uint32_t)rng.range(1, 8);
		c.burst = suite_.entry == Entry::Burst ||
			  (suite_.entry == Entry::Alternate && idx % 2 == 1);
		c.max_step = rng.chance(0.3) ? 0 : rng.range(1, 2000);
		c.p_flush = rng.chance(0.5) ? 0.0 : rng.range(1, 8) / 100.0;
		c.max_burst = (unsigned)(rng.chance(0.2) ? 1 : rng.range(2, 64));
		c.per_packet_ts = rng.chance(0.7);
		return c;
	}

	void run_segment(const std::vector<StreamPlan> &plans, const Seg &s, uint64_t ts)
	{
		const StreamPlan &p = plans[s.stream];
		struct reasm_segment seg = {s.seq, s.flags, s.payload.data(),
					    (uint32_t)s.payload.size()};
		int rc = reasm_assemble(rig_->asm_, &p.flow, &seg, ts);
		model_->assemble(p.flow, s.seq, s.flags, s.payload, ts);
		if (rc != 0)
			fail("reasm_assemble returned " + std::to_string(rc));
		check("reasm_assemble seq " + std::to_string(s.seq) + " flags " +
		      std::to_string(s.flags) + " len " + std::to_string(s.payload.size()));
	}

	void run_flush(uint64_t t)
	{
		step_++;
		stats.flushes++;
		unsigned lib_closed = 0, want_closed = 0;
		unsigned lib = reasm_flush_older_than(rig_->asm_, t, &lib_closed);
		unsigned want = model_->flush_older_than(t, &want_closed);
		flush_acted_ |= want > 0;
		if (lib != want || lib_closed != want_closed)
			fail("reasm_flush_older_than returned " + std::to_string(lib) + " (" +
			     std::to_string(lib_closed) + " closed), model " +
			     std::to_string(want) + " (" + std::to_string(want_closed) +
			     " closed)");
		check("reasm_flush_older_than(" + std::to_string(t) + ")");
	}

	void run_flush_all()
	{
		step_++;
		unsigned lib = reasm_flush_all(rig_->asm_);
		unsigned want = model_->flush_all();
		if (lib != want)
			fail("reasm_flush_all returned " + std::to_string(lib) + ", model " +
			     std::to_string(want));
		check("reasm_flush_all");
	}

	void report(unsigned idx, const CaseConfig &cfg, size_t streams, size_t segs)
	{
		const uint64_t seed = run_seed();
		ADD_FAILURE() << "seed " << seed << " suite " << suite_.name << " case " << idx
			      << " (REASM_DIFF_SEED=" << seed << " REASM_DIFF_CASE=" << idx
			      << "), step " << step_ << ", limits per_conn=" << cfg.per_conn
			      << " total=" << cfg.total << ", "
			      << (cfg.burst ? "burst" : "segment") << " entry, " << streams
			      << " stream(s), " << segs << " segments:\n"
			      << error_;
	}

	/* Leave nothing behind for the next case, even after a mismatch. */
	bool finish_case(unsigned idx)
	{
		reasm_flush_all(rig_->asm_);
		bool clean = rig_->pages_all_free() && reasm_pool_count(rig_->pool) == 0 &&
			     reasm_assembler_pages_in_use(rig_->asm_) == 0;
		std::string why;
		bool conserved = rig_->bytes_conserved(&why);
		forget_streams();
		model_ = nullptr;
		if (!clean && error_.empty())
			ADD_FAILURE() << "seed " << run_seed() << " suite " << suite_.name
				      << " case " << idx
				      << ": pages or streams left after flush_all";
		if (!conserved)
			ADD_FAILURE() << "seed " << run_seed() << " suite " << suite_.name
				      << " case " << idx << ": bytes not conserved: " << why;
		clean = clean && conserved;
		return clean;
	}

	void plan_case(Rng &rng, std::vector<StreamPlan> &plans, std::vector<Seg> &segs)
	{
		unsigned n = (unsigned)rng.range(suite_.min_streams, suite_.max_streams);
		size_t max_len = n == 1 ? 20000 : 8000;
		for (;;) {
			plans.assign(n, StreamPlan());
			for (unsigned i = 0; i < n; i++) {
				/* Often the reverse direction of the previous stream. */
				if (i > 0 && i % 2 == 1 && rng.chance(0.7))
					plans[i].spec = reversed(plans[i - 1].spec);
				else
					random_endpoint(rng, plans[i].spec);
				plans[i].flow = flow_of(plans[i].spec);
				while (flow_taken(plans, i)) {
					plans[i].spec.sport ^= 0x5a5a;
					plans[i].spec.dport++;
					plans[i].flow = flow_of(plans[i].spec);
				}
				plan_stream(rng, plans[i], i, suite_.isn, max_len);
			}
			segs = interleave(rng, plans);
			if (page_bound(segs) <= kPageBudget)
				return;
			max_len /= 2;
		}
	}

	void run_burst(Rng &rng, const CaseConfig &cfg, const std::vector<StreamPlan> &plans,
		       const std::vector<Seg> &segs, size_t first, size_t n, uint64_t &ts)
	{
		const bool per_packet_ts = cfg.per_packet_ts;
		const uint64_t max_step = cfg.max_step;
		std::vector<struct rte_mbuf *> mbufs;
		std::vector<uint64_t> stamps;
		uint64_t now = ts + rng.below(max_step + 1);
		for (size_t k = first; k < first + n; k++) {
			const Seg &s = segs[k];
			FrameSpec spec = plans[s.stream].spec;
			spec.seq = s.seq;
			spec.flags = s.flags;
			spec.payload = s.payload;
			if (rng.chance(0.1))
				spec.vlans.push_back((uint16_t)rng.range(1, 4094));
			std::vector<uint8_t> frame = build_frame(spec);
			const size_t room = 2048;
			if (frame.size() > room || rng.chance(0.1)) {
				size_t head = frame_layout(spec).payload;
				size_t first_len = rng.range(head, std::min(frame.size(), room));
				size_t seg_len = rng.range(256, room);
				mbufs.push_back(to_mbuf_chain(frame, first_len, seg_len));
			} else {
				mbufs.push_back(to_mbuf(frame));
			}
			if (per_packet_ts) {
				ts += rng.below(max_step + 1);
				stamps.push_back(ts);
			}
		}
		if (!per_packet_ts)
			ts = now;
		unsigned got = reasm_assemble_burst(rig_->asm_, mbufs.data(), (uint16_t)n,
						    per_packet_ts ? stamps.data() : nullptr, now);
		for (auto *m : mbufs)
			rte_pktmbuf_free(m);
		for (size_t k = first; k < first + n; k++) {
			const Seg &s = segs[k];
			model_->assemble(plans[s.stream].flow, s.seq, s.flags, s.payload,
					 per_packet_ts ? stamps[k - first] : now);
		}
		if (got != n)
			fail("reasm_assemble_burst took " + std::to_string(got) + " of " +
			     std::to_string(n) + " TCP frames");
		check("reasm_assemble_burst of " + std::to_string(n) + " frames (segments " +
		      std::to_string(first) + ".." + std::to_string(first + n - 1) + ")");
	}

	void fail(const std::string &msg)
	{
		if (error_.empty())
			error_ = msg + "\n";
	}

	/* Compare everything delivered since the previous check. */
	void check(const std::string &what)
	{
		if (!error_.empty()) {
			error_ = "after " + what + ": " + error_;
			return;
		}
		std::ostringstream os;
		auto &logs = rig_->rec.logs;
		if (logs.size() != model_->logs.size())
			os << "streams opened: reasm " << logs.size() << ", model "
			   << model_->logs.size() << "\n";
		size_t n = std::min(logs.size(), model_->logs.size());
		cursor_.resize(n, 0);
		for (size_t i = 0; i < n && os.tellp() == 0; i++) {
			const StreamLog &lib = *logs[i];
			const ModelLog &want = model_->logs[i];
			char name[128];
			reasm_flow_format(&want.flow, name, sizeof(name));
			if (memcmp(&lib.flow, &want.flow, sizeof(lib.flow)) != 0) {
				char got[128];
				reasm_flow_format(&lib.flow, got, sizeof(got));
				os << "stream #" << i << " opened for " << got << ", model opened "
				   << name << "\n";
				break;
			}
			bool same = lib.recs.size() == want.recs.size();
			for (size_t j = cursor_[i]; same && j < want.recs.size(); j++)
				same = same_rec(lib.recs[j], want.recs[j]);
			if (!same)
				os << "stream #" << i << " (" << name << ") records differ"
				   << "\n  reasm: " << show(lib.recs, cursor_[i])
				   << "\n  model: " << show(want.recs, cursor_[i]) << "\n";
			if (lib.completes != want.completes)
				os << "stream #" << i << " (" << name << ") complete() called "
				   << lib.completes << " time(s), model " << want.completes << "\n";
			cursor_[i] = want.recs.size();
		}
		uint32_t pages = reasm_assembler_pages_in_use(rig_->asm_);
		if (os.tellp() == 0 && pages != model_->used)
			os << "pages in use: reasm " << pages << ", model " << model_->used << "\n";
		if (os.tellp() == 0 && reasm_pool_count(rig_->pool) != model_->open_streams())
			os << "open streams: reasm " << reasm_pool_count(rig_->pool) << ", model "
			   << model_->open_streams() << "\n";
		if (os.tellp() != 0)
			error_ = "after " + what + ":\n" + os.str();
	}

	/* After flush_all: all complete, and whole streams when nothing could be lost. */
	void check_end_state(const std::vector<StreamPlan> &plans, bool lossless_config)
	{
		for (auto &l : rig_->rec.logs) {
			stats.streams++;
			stats.records += l->recs.size();
			for (auto &r : l->recs) {
				stats.bytes += r.bytes.size();
				stats.skips += r.skip != 0;
			}
		}
		for (auto &l : rig_->rec.logs) {
			if (l->completes == 1)
				continue;
			fail("a stream completed " + std::to_string(l->completes) + " times");
			return;
		}
		struct reasm_stats st;
		reasm_assembler_stats(rig_->asm_, &st);
		if (st.v[REASM_CTR_pages_alloc_failed] != 0)
			fail("the page mempool ran dry; the model assumes it never does");
		if (!lossless_config)
			return;
		for (auto &p : plans) {
			if (!p.all_bytes_sent)
				continue;
			stats.lossless_checked++;
			const StreamLog *first = nullptr;
			for (auto &l : rig_->rec.logs)
				if (memcmp(&l->flow, &p.flow, sizeof(p.flow)) == 0) {
					first = l.get();
					break;
				}
			std::vector<uint8_t> got;
			if (first != nullptr)
				got = concat(first->recs);
			if (got != p.data) {
				char name[128];
				reasm_flow_format(&p.flow, name, sizeof(name));
				fail(std::string("stream ") + name + " delivered " +
				     std::to_string(got.size()) + " bytes, not the " +
				     std::to_string(p.data.size()) +
				     " sent (nothing lost, no limit)");
				return;
			}
		}
	}

	void set_limits(uint32_t per_conn, uint32_t total)
	{
		if (per_conn == per_conn_ && total == total_)
			return;
		reasm_assembler_free(rig_->asm_);
		rig_->rec.forget_counters(); /* the new assembler's counters start at 0 */
		rig_->opt.max_pages_per_conn = per_conn;
		rig_->opt.max_pages_total = total;
		struct reasm_assembler_conf ac = {};
		ac.pool = rig_->pool;
		ac.page_pool = rig_->pages;
		ac.max_pages_total = total;
		ac.max_pages_per_conn = per_conn;
		ac.socket_id = SOCKET_ID_ANY;
		rig_->asm_ = reasm_assembler_create(&ac);
		if (rig_->asm_ == nullptr) {
			fprintf(stderr, "reasm_assembler_create after freeing the previous one: "
				"%s\n", rte_strerror(rte_errno));
			abort();
		}
		per_conn_ = per_conn;
		total_ = total;
	}

	/* Drop the logs of completed streams so memory stays flat. */
	void forget_streams()
	{
		rig_->rec.forget();
		cursor_.clear();
	}

public:
	SuiteStats stats;

private:
	SuiteSpec suite_;
	std::unique_ptr<Rig> rig_;
	Model *model_ = nullptr;
	std::vector<size_t> cursor_;
	uint32_t per_conn_ = 0, total_ = 0;
	unsigned step_ = 0;
	bool flush_acted_ = false; /* a flush_older_than delivered or closed something */
	std::string error_;
};

void run_suite(const SuiteSpec &suite)
{
	const uint64_t seed = run_seed();
	::testing::Test::RecordProperty("seed", std::to_string(seed));
	const unsigned cases = (unsigned)env_u64("REASM_DIFF_CASES", 2500);
	const char *only = getenv("REASM_DIFF_CASE");
	Differential d(suite);
	unsigned failures = 0, ran = 0;
	for (unsigned i = 0; i < cases; i++) {
		if (only != nullptr && *only != '\0' && strtoul(only, nullptr, 0) != i)
			continue;
		ran++;
		if (!d.run_case(i) && ++failures >= 3) {
			ADD_FAILURE() << "stopping " << suite.name
				      << " after 3 failing cases (seed " << seed << ")";
			break;
		}
	}
	const SuiteStats &st = d.stats;
	printf("[differential] %s: %u cases, seed %" PRIu64 ": %" PRIu64 " segments, %" PRIu64
	       " streams, %" PRIu64 " records (%" PRIu64 " with skip), %" PRIu64
	       " bytes, %" PRIu64 " flushes, %" PRIu64 " streams checked whole\n",
	       suite.name, ran, seed, st.segments, st.streams, st.records, st.skips, st.bytes,
	       st.flushes, st.lossless_checked);
}

} // namespace

/* One stream, reasm_assemble() per segment, ISN anywhere. */
TEST(Differential, SingleStreamSegments)
{
	run_suite({"SingleStreamSegments", 1, Entry::Segment, 1, 1, IsnKind::Anywhere});
}

/* One stream, whole bursts of frames through reasm_assemble_burst(). */
TEST(Differential, SingleStreamBurst)
{
	run_suite({"SingleStreamBurst", 2, Entry::Burst, 1, 1, IsnKind::Anywhere});
}

/* 2..6 directions (often both of a connection) interleaved in the same bursts. */
TEST(Differential, MultiStreamBurst)
{
	run_suite({"MultiStreamBurst", 3, Entry::Alternate, 2, 6, IsnKind::Anywhere});
}

/* Streams across the 2^32 wrap and the quarter boundaries, both entry points. */
TEST(Differential, WrapIsns)
{
	run_suite({"WrapIsns", 4, Entry::Alternate, 1, 2, IsnKind::Wrap});
}
