/* SPDX-License-Identifier: BSD-3-Clause
 * Overlapping data (lib/reasm/reasm_overlap.c): the overlap policy
 * (reasm_assembler_conf.overlap_policy), conflicts (struct reasm_conflict,
 * reasm_stream_ops.conflict, the overlap_conflicts counters and the stream
 * totals) and the retention window (reasm_pool_conf.retain_bytes).
 *
 * The truth is a reference model written here (class Model), independent of
 * the library: gopacket tcpassembly's page list (pages of REASM_PAGE_BYTES,
 * a segment's pages inserted as one block after the last page, searched
 * from the tail, whose sequence is at or before the segment's; delivered in
 * list order as they become contiguous, each trimmed against what was
 * delivered), the last-wins policy as "each position delivers the last copy
 * received before it was delivered", and, for every arriving segment, what
 * the stream would deliver at each of its positions without it: the first
 * page in list order that covers the position, or the retained delivered
 * byte. Conflicts are predicted from that (seq, offset, len, differing,
 * kept side, both SHA-256 computed here with nettle).
 *
 * Covers:
 * - step tables run at five ISNs (0, 1, 2^31-10, 2^32-100, 2^32-3) under both
 *   policies, each expectation written by hand and checked against the
 *   library and the model alike: the same bytes retransmitted (no conflict,
 *   overlap counted), different bytes, partial overlaps at the head and the
 *   tail, a segment inside a held one and one over several, overlaps on both
 *   sides of a hole, three copies of one range, an in-order segment over
 *   pages held beyond next_seq, SYN data over held bytes, segments larger than
 *   a page, a segment behind pages of a segment that overtook another;
 * - first-wins delivers what gopacket delivers: the conformance rows with
 *   overlaps (their records as test_conformance.cpp has them), and the random
 *   streams record for record against a rig without any of the options;
 * - last-wins: the last copy of buffered bytes delivered, delivered bytes
 *   never changed;
 * - retention: different and identical retransmissions of delivered bytes,
 *   bytes older than the window, the window after a skip, a 64-byte window
 *   wrapped by records, no delivered conflicts without retention;
 * - offsets: after a SYN, without a SYN (unknown before the first record),
 *   across a skip;
 * - counters and totals agree with the calls, with and without a callback;
 * - bad configuration: an unknown policy, retain_bytes not a power of two or
 *   above REASM_RETAIN_MAX;
 * - a randomized property test (fixed seeds, both policies, retention on and
 *   off, with and without a SYN, page limits, segments of several pages):
 *   every record and every conflict equal the model's, and the per-stream
 *   conservation of bytes holds.
 */
#include <gtest/gtest.h>

#include <nettle/sha2.h>
#include <rte_errno.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "frames.h"
#include "recorder.h"
#include "steps.h"
#include "test_env.h"

using namespace reasm_test;

namespace
{

/* ------------------------------------------------------------------ */
/* Bytes and digests                                                    */
/* ------------------------------------------------------------------ */

using Digest = std::array<uint8_t, 32>;

Digest
sha256_of(const Bytes &b)
{
	struct sha256_ctx ctx;
	Digest d;

	sha256_init(&ctx);
	sha256_update(&ctx, b.size(), b.data());
	sha256_digest(&ctx, d.size(), d.data());
	return d;
}

Digest
digest_of(const uint8_t *p)
{
	Digest d;
	memcpy(d.data(), p, d.size());
	return d;
}

std::string
hex8(const Digest &d)
{
	static const char *x = "0123456789abcdef";
	std::string s;
	for (size_t i = 0; i < 4; i++) {
		s += x[d[i] >> 4];
		s += x[d[i] & 15];
	}
	return s + "..";
}

Bytes
str(const char *s)
{
	return Bytes(s, s + strlen(s));
}

Bytes
fill(size_t n, char c)
{
	return Bytes(n, (uint8_t)c);
}

Bytes
cat(Bytes a, const Bytes &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

template <typename... More>
Bytes
cat(Bytes a, const Bytes &b, const More &...more)
{
	return cat(cat(std::move(a), b), more...);
}

Bytes
slice(const Bytes &b, size_t from, size_t to)
{
	return Bytes(b.begin() + (ptrdiff_t)from, b.begin() + (ptrdiff_t)to);
}

/* Position-dependent bytes (misplaced bytes show); @p k makes another copy. */
Bytes
pattern(size_t n, unsigned k)
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + i / 251 + k * 61);
	return b;
}

/* ------------------------------------------------------------------ */
/* The reference model                                                  */
/* ------------------------------------------------------------------ */

enum class Policy { First, Last };

const char *
policy_name(Policy p)
{
	return p == Policy::First ? "First" : "Last";
}

/* A conflict; positions count from the ISN (a position's seq is ISN + pos). */
struct MConflict {
	int64_t pos = 0;
	bool offset_known = false;
	int64_t offset = 0;
	bool delivered = false;
	bool kept_arrived = false;
	Bytes kept, other;
	uint32_t differing = 0;
	uint64_t seen = 0;
};

struct MRec {
	Bytes bytes;
	int64_t skip = 0;
	bool start = false;
	bool end = false;
	uint64_t seen = 0;
};

struct MTotals {
	uint64_t received = 0, delivered = 0, overlap = 0, discarded = 0, skipped = 0;
	uint64_t conflicts = 0, conflict_bytes = 0;
};

/*
 * One stream direction as gopacket tcpassembly reassembles it (the harness:
 * page limit per connection, none in total, pages of REASM_PAGE_BYTES), with
 * the two overlap policies and the conflicts each arrival makes. Sequence
 * numbers are positions from the ISN (In::seq), without wrap.
 */
class Model
{
      public:
	Model(Policy policy, uint32_t retain, uint32_t max_pages_per_conn)
	    : policy_(policy), retain_(retain), max_pages_(max_pages_per_conn)
	{
	}

	void arrive(const In &in, uint64_t ts);
	/* reasm_flush_all(): every page delivered in list order, then closed. */
	void flush_all();
	uint64_t buffered() const;

	std::vector<MRec> recs;
	std::vector<MConflict> conflicts;
	MTotals totals;
	bool opened = false;
	bool closed = false;

      private:
	struct Page {
		int64_t pos;
		Bytes bytes;
		bool end;
		uint64_t seen;
	};

	void compare(int64_t from, const Bytes &arrived, size_t own_first, size_t own_n,
		     bool in_order, uint64_t ts, bool offset_known, int64_t base);
	void note_latest(int64_t from, const Bytes &b);
	void insert(const In &in, uint64_t ts);
	void push(MRec r);
	void push_segment(const In &in, uint64_t ts);
	void add_next();
	void add_contiguous();
	void close();

	Policy policy_;
	uint32_t retain_;
	uint32_t max_pages_;
	std::vector<Page> pages_; /* gopacket's list: the order of delivery */
	size_t npages_ = 0;
	bool next_valid_ = false;
	int64_t next_ = 0;
	int64_t base_ = 0;                  /* the stream's first position, once next_valid_ */
	std::deque<uint8_t> window_;        /* delivered bytes [next_ - size, next_) */
	std::map<int64_t, uint8_t> latest_; /* the last copy received of each position */
	bool pushed_ = false, last_end_ = false;
};

uint64_t
Model::buffered() const
{
	uint64_t n = 0;
	for (const Page &p : pages_)
		n += p.bytes.size();
	return n;
}

/*
 * The arrival @p arrived at positions from @p from against what the stream
 * would deliver there without it: delivered bytes still in the window, else
 * the first page in list order (other than the arrival's own pages,
 * pages_[own_first, own_first + own_n)) that covers the position. Which copy
 * the stream keeps: the delivered one; for held bytes the arrival when it
 * is delivered now (@p in_order), under last-wins, or when its own page
 * comes first in the list.
 */
void
Model::compare(int64_t from, const Bytes &arrived, size_t own_first, size_t own_n, bool in_order,
	       uint64_t ts, bool offset_known, int64_t base)
{
	const size_t none = SIZE_MAX, n = arrived.size();
	std::vector<size_t> held(n, none), own(n, none);

	for (size_t j = 0; j < pages_.size(); j++) {
		const Page &p = pages_[j];
		int64_t lo = std::max(p.pos, from);
		int64_t hi = std::min(p.pos + (int64_t)p.bytes.size(), from + (int64_t)n);
		bool is_own = j >= own_first && j < own_first + own_n;
		for (int64_t x = lo; x < hi; x++) {
			size_t &slot = is_own ? own[x - from] : held[x - from];
			if (slot == none)
				slot = j;
		}
	}
	struct Outcome {
		bool compared = false, delivered = false, kept_arrived = false;
		uint8_t had = 0;
	};
	std::vector<Outcome> out(n);
	int64_t window_from = next_ - (int64_t)window_.size();
	for (size_t i = 0; i < n; i++) {
		int64_t x = from + (int64_t)i;
		Outcome &o = out[i];
		if (next_valid_ && x < next_) {
			if (x >= window_from) {
				o.compared = o.delivered = true;
				o.had = window_[(size_t)(x - window_from)];
			}
		} else if (held[i] != none) {
			const Page &p = pages_[held[i]];
			o.compared = true;
			o.had = policy_ == Policy::Last ? latest_.at(x)
							: p.bytes[(size_t)(x - p.pos)];
			o.kept_arrived = in_order || policy_ == Policy::Last || own[i] < held[i];
		}
	}
	for (size_t i = 0; i < n;) {
		if (!out[i].compared) {
			i++;
			continue;
		}
		size_t j = i;
		MConflict c;
		while (j < n && out[j].compared && out[j].delivered == out[i].delivered &&
		       out[j].kept_arrived == out[i].kept_arrived) {
			uint8_t kept = out[j].kept_arrived ? arrived[j] : out[j].had;
			uint8_t other = out[j].kept_arrived ? out[j].had : arrived[j];
			c.kept.push_back(kept);
			c.other.push_back(other);
			c.differing += kept != other;
			j++;
		}
		if (c.differing > 0) {
			c.pos = from + (int64_t)i;
			c.offset_known = offset_known;
			c.offset = offset_known ? c.pos - base : 0;
			c.delivered = out[i].delivered;
			c.kept_arrived = out[i].kept_arrived;
			c.seen = ts;
			totals.conflicts++;
			totals.conflict_bytes += c.differing;
			conflicts.push_back(c);
		}
		i = j;
	}
}

void
Model::note_latest(int64_t from, const Bytes &b)
{
	for (size_t i = 0; i < b.size(); i++)
		latest_[from + (int64_t)i] = b[i];
}

void
Model::push(MRec r)
{
	totals.delivered += r.bytes.size();
	if (r.skip > 0)
		totals.skipped += (uint64_t)r.skip;
	if (r.start || r.skip != 0)
		window_.clear();
	if (retain_ > 0) {
		window_.insert(window_.end(), r.bytes.begin(), r.bytes.end());
		while (window_.size() > retain_)
			window_.pop_front();
	}
	pushed_ = true;
	last_end_ = r.end;
	recs.push_back(std::move(r));
}

/* In order (its start at or before next_): delivered at once, trimmed. */
void
Model::push_segment(const In &in, uint64_t ts)
{
	MRec r;
	Bytes b = in.payload;
	int64_t span = next_ - (int64_t)in.seq;

	if ((int64_t)b.size() < span) {
		totals.overlap += b.size();
		b.clear();
	} else {
		totals.overlap += (uint64_t)span;
		b.erase(b.begin(), b.begin() + span);
		next_ += (int64_t)b.size();
	}
	r.bytes = std::move(b);
	r.end = (in.flags & (REASM_TCP_FIN | REASM_TCP_RST)) != 0;
	r.seen = ts;
	push(std::move(r));
}

/* Deliver the first page of the list, skipping up to it. */
void
Model::add_next()
{
	Page p = std::move(pages_.front());
	MRec r;

	pages_.erase(pages_.begin());
	npages_--;
	r.end = p.end;
	r.seen = p.seen;
	if (!next_valid_) {
		r.skip = -1;
		base_ = p.pos;
	} else if (p.pos > next_) {
		r.skip = p.pos - next_;
	}
	Bytes b = p.bytes;
	if (policy_ == Policy::Last)
		for (size_t k = 0; k < b.size(); k++)
			b[k] = latest_.at(p.pos + (int64_t)k);
	if (next_valid_ && p.pos < next_) {
		int64_t span = next_ - p.pos;
		if ((int64_t)b.size() < span) {
			totals.overlap += b.size();
			b.clear();
		} else {
			totals.overlap += (uint64_t)span;
			b.erase(b.begin(), b.begin() + span);
			next_ += (int64_t)b.size();
		}
	} else {
		next_ = p.pos + (int64_t)b.size();
	}
	next_valid_ = true;
	r.bytes = std::move(b);
	push(std::move(r));
}

void
Model::add_contiguous()
{
	while (!pages_.empty() && next_valid_ && pages_.front().pos <= next_)
		add_next();
}

void
Model::close()
{
	totals.discarded += buffered();
	pages_.clear();
	npages_ = 0;
	closed = true;
}

/* Out of order: its pages join the list as one block (gopacket's insertIntoConn). */
void
Model::insert(const In &in, uint64_t ts)
{
	const size_t len = in.payload.size();
	const size_t n = len == 0 ? 1 : (len + REASM_PAGE_BYTES - 1) / REASM_PAGE_BYTES;
	const int64_t pos = in.seq;
	std::vector<Page> block;

	for (size_t k = 0; k < n; k++) {
		size_t from = k * REASM_PAGE_BYTES, to = std::min(len, from + REASM_PAGE_BYTES);
		block.push_back({pos + (int64_t)from, slice(in.payload, from, to), false, ts});
	}
	block.back().end = (in.flags & (REASM_TCP_FIN | REASM_TCP_RST)) != 0;
	size_t at = pages_.size();
	while (at > 0 && pages_[at - 1].pos > pos)
		at--;
	pages_.insert(pages_.begin() + (ptrdiff_t)at, block.begin(), block.end());
	if (len > 0)
		compare(pos, in.payload, at, n, false, ts, next_valid_, base_);
	note_latest(pos, in.payload);
	npages_ += n;
	if (max_pages_ > 0 && npages_ >= max_pages_)
		add_next();
}

void
Model::arrive(const In &in, uint64_t ts)
{
	const bool syn = (in.flags & REASM_TCP_SYN) != 0;
	const size_t len = in.payload.size();
	const int64_t pos = in.seq;

	if (!(in.flags & (REASM_TCP_SYN | REASM_TCP_FIN | REASM_TCP_RST)) && len == 0)
		return;
	if (!opened) {
		if (!syn && len == 0)
			return;
		opened = true;
	}
	if (closed) {
		ADD_FAILURE() << "the model takes one stream: nothing after its end";
		return;
	}
	totals.received += len;
	pushed_ = last_end_ = false;
	if (!next_valid_ && syn) {
		/* The start: its data (after the SYN's own number) delivered at once. */
		MRec r;
		if (len > 0)
			compare(pos + 1, in.payload, 0, 0, true, ts, true, pos + 1);
		note_latest(pos + 1, in.payload);
		next_ = pos + 1 + (int64_t)len;
		next_valid_ = true;
		base_ = pos + 1;
		r.bytes = in.payload;
		r.start = true;
		r.seen = ts;
		push(std::move(r));
	} else if (!next_valid_ || pos > next_) {
		insert(in, ts);
	} else {
		int64_t at = syn ? pos + 1 : pos;
		if (len > 0)
			compare(at, in.payload, 0, 0, true, ts, true, base_);
		note_latest(at, in.payload);
		push_segment(in, ts);
	}
	if (pushed_) {
		add_contiguous();
		if (last_end_)
			close();
	}
}

void
Model::flush_all()
{
	if (!opened || closed)
		return;
	while (!closed) {
		if (pages_.empty()) {
			close();
			break;
		}
		pushed_ = last_end_ = false;
		add_next();
		add_contiguous();
		if (last_end_)
			close();
	}
}

/* ------------------------------------------------------------------ */
/* The library and the model side by side                              */
/* ------------------------------------------------------------------ */

struct Config {
	Policy policy = Policy::First;
	uint32_t retain = 0;
	bool log = true; /* a conflict callback */
	uint32_t max_pages_per_conn = 0;
};

RigOptions
rig_options(const Config &c)
{
	RigOptions o;
	o.max_pages_per_conn = c.max_pages_per_conn;
	o.max_conns = 64;
	o.n_pages = 2048;
	o.overlap_policy = c.policy == Policy::Last ? REASM_OVERLAP_LAST : REASM_OVERLAP_FIRST;
	o.retain_bytes = c.retain;
	o.log_conflicts = c.log;
	return o;
}

uint64_t
ts_of_step(int step)
{
	return 1000000000ull + 1000ull * (uint64_t)step;
}

std::string
describe(const MConflict &c)
{
	std::ostringstream os;
	os << "{pos " << c.pos << " offset " << (c.offset_known ? std::to_string(c.offset) : "?")
	   << (c.delivered ? " delivered" : " held")
	   << (c.kept_arrived ? " kept:arrived" : " kept:had") << " len " << c.kept.size()
	   << " differing " << c.differing << " kept " << hex8(sha256_of(c.kept)) << " other "
	   << hex8(sha256_of(c.other)) << " seen " << c.seen << "}";
	return os.str();
}

std::string
describe(const struct reasm_conflict &c, uint32_t isn)
{
	std::ostringstream os;
	os << "{pos " << (uint32_t)(c.seq - isn) << " offset "
	   << (c.offset_known ? std::to_string(c.offset) : "?")
	   << (c.delivered ? " delivered" : " held")
	   << (c.kept_arrived ? " kept:arrived" : " kept:had") << " len " << c.len << " differing "
	   << c.differing << " kept " << hex8(digest_of(c.kept_sha256)) << " other "
	   << hex8(digest_of(c.other_sha256)) << " seen " << c.seen << "}";
	return os.str();
}

/* "" when the library's conflict is @p want (positions from @p isn). */
std::string
conflict_diff(const struct reasm_conflict &got, const MConflict &want, uint32_t isn)
{
	bool same = got.seq == (uint32_t)(isn + (uint32_t)want.pos) &&
		    got.offset_known == want.offset_known &&
		    (!want.offset_known || got.offset == (uint32_t)want.offset) &&
		    got.delivered == want.delivered && got.kept_arrived == want.kept_arrived &&
		    got.len == want.kept.size() && got.differing == want.differing &&
		    digest_of(got.kept_sha256) == sha256_of(want.kept) &&
		    digest_of(got.other_sha256) == sha256_of(want.other) && got.seen == want.seen;
	return same ? "" : "got " + describe(got, isn) + " want " + describe(want);
}

/* "" when two model conflicts are the same (the hand tables against the model). */
std::string
mconflict_diff(const MConflict &got, const MConflict &want)
{
	bool same = got.pos == want.pos && got.offset_known == want.offset_known &&
		    got.offset == want.offset && got.delivered == want.delivered &&
		    got.kept_arrived == want.kept_arrived && got.kept == want.kept &&
		    got.other == want.other && got.differing == want.differing &&
		    got.seen == want.seen;
	return same ? "" : "model " + describe(got) + " want " + describe(want);
}

std::string
rec_diff(const Rec &got, const MRec &want)
{
	if (got.bytes == want.bytes && got.skip == want.skip && got.start == want.start &&
	    got.end == want.end && got.seen == want.seen)
		return "";
	Rec w;
	w.bytes = want.bytes;
	w.skip = want.skip;
	w.start = want.start;
	w.end = want.end;
	return "got " + describe(std::vector<Rec>{got}) + "seen " + std::to_string(got.seen) +
	       ", want " + describe(std::vector<Rec>{w}) + "seen " + std::to_string(want.seen);
}

/*
 * One stream direction (1.2.3.4:sport -> 5.6.7.8:2, sequences ISN + position)
 * sent to a rig and to the model together; check() compares what both
 * delivered and reported since the previous check.
 */
class Stream
{
      public:
	Stream(Rig &rig, const Config &cfg, uint32_t isn, uint16_t sport = 1)
	    : model(cfg.policy, cfg.retain, cfg.max_pages_per_conn), rig_(rig), cfg_(cfg), isn_(isn)
	{
		spec_.sport = sport;
	}

	void send(const In &in, uint64_t ts)
	{
		FrameSpec s = spec_;
		s.seq = isn_ + in.seq;
		s.flags = in.flags;
		s.payload = in.payload;
		struct reasm_flow flow = flow_of(s);
		struct reasm_segment sg = segment_of(s);
		EXPECT_EQ(reasm_assemble(rig_.asm_, &flow, &sg, ts), 0);
		model.arrive(in, ts);
	}

	/* The stream's log (nullptr before it opened). */
	StreamLog *log() const
	{
		struct reasm_flow flow = flow_of(spec_);
		std::vector<StreamLog *> all = rig_.rec.streams();
		for (auto it = all.rbegin(); it != all.rend(); ++it)
			if (memcmp(&(*it)->flow, &flow, sizeof(flow)) == 0)
				return *it;
		return nullptr;
	}

	/* The library's conflicts so far. */
	std::vector<struct reasm_conflict> conflicts() const
	{
		StreamLog *l = log();
		return l != nullptr ? l->conflicts : std::vector<struct reasm_conflict>();
	}

	/* "" when the records and conflicts since the last check are the model's. */
	std::string check()
	{
		std::ostringstream os;
		StreamLog *l = log();
		std::vector<Rec> recs = l != nullptr ? l->recs : std::vector<Rec>();
		std::vector<struct reasm_conflict> cs = conflicts();

		if (recs.size() != model.recs.size())
			os << "records: "
			   << describe(std::vector<Rec>(recs.begin() + (ptrdiff_t)recs_seen_,
							recs.end()))
			   << "but the model has " << model.recs.size() - recs_seen_ << "; ";
		for (size_t i = recs_seen_; i < std::min(recs.size(), model.recs.size()); i++) {
			std::string d = rec_diff(recs[i], model.recs[i]);
			if (!d.empty()) {
				os << "record " << i << ": " << d << "; ";
				break;
			}
		}
		if (cfg_.log && cs.size() != model.conflicts.size()) {
			os << "conflicts:";
			for (size_t i = conflicts_seen_; i < cs.size(); i++)
				os << " got " << describe(cs[i], isn_);
			for (size_t i = conflicts_seen_; i < model.conflicts.size(); i++)
				os << " want " << describe(model.conflicts[i]);
			os << "; ";
		} else if (cfg_.log) {
			for (size_t i = conflicts_seen_; i < cs.size(); i++) {
				std::string d = conflict_diff(cs[i], model.conflicts[i], isn_);
				if (!d.empty())
					os << "conflict " << i << ": " << d << "; ";
			}
		}
		recs_seen_ = model.recs.size();
		conflicts_seen_ = model.conflicts.size();
		return os.str();
	}

	/* reasm_flush_all() and the model's; "" when all agree, totals included. */
	std::string finish()
	{
		reasm_flush_all(rig_.asm_);
		model.flush_all();
		std::ostringstream os;
		os << check();
		StreamLog *l = log();
		if (l == nullptr) {
			if (model.opened)
				os << "no stream opened";
			return os.str();
		}
		if (l->completes != 1)
			os << "completed " << l->completes << " times; ";
		const struct reasm_stream_totals &t = l->totals;
		const MTotals &m = model.totals;
		if (t.received_bytes != m.received || t.delivered_bytes != m.delivered ||
		    t.overlap_bytes != m.overlap || t.discarded_bytes != m.discarded ||
		    t.skipped_bytes != m.skipped || t.buffered_bytes != 0 ||
		    t.conflicts != m.conflicts || t.conflict_bytes != m.conflict_bytes)
			os << "totals: received " << t.received_bytes << "/" << m.received
			   << " delivered " << t.delivered_bytes << "/" << m.delivered
			   << " overlap " << t.overlap_bytes << "/" << m.overlap << " discarded "
			   << t.discarded_bytes << "/" << m.discarded << " skipped "
			   << t.skipped_bytes << "/" << m.skipped << " buffered "
			   << t.buffered_bytes << "/0 conflicts " << t.conflicts << "/"
			   << m.conflicts << " conflict_bytes " << t.conflict_bytes << "/"
			   << m.conflict_bytes << " (library/model); ";
		return os.str();
	}

	uint32_t isn() const
	{
		return isn_;
	}

	Model model;

      private:
	Rig &rig_;
	Config cfg_;
	uint32_t isn_;
	FrameSpec spec_;
	size_t recs_seen_ = 0, conflicts_seen_ = 0;
};

/*
 * A rig whose streams are all complete: every page back, bytes conserved
 * per stream and overall, and the counters equal to the streams' totals
 * and (with a callback) to the calls.
 */
void
expect_rig_sound(Rig &rig)
{
	struct reasm_stats st;
	uint64_t calls = 0, differing = 0, conflicts = 0, conflict_bytes = 0;
	std::string why;

	EXPECT_TRUE(rig.pages_all_free()) << rig.pages_free() << " pages free";
	EXPECT_TRUE(rig.bytes_conserved(&why)) << why;
	reasm_assembler_stats(rig.asm_, &st);
	for (StreamLog *l : rig.rec.streams()) {
		EXPECT_EQ(l->completes, 1);
		for (const struct reasm_conflict &c : l->conflicts) {
			calls++;
			differing += c.differing;
		}
		conflicts += l->totals.conflicts;
		conflict_bytes += l->totals.conflict_bytes;
	}
	EXPECT_EQ(st.v[REASM_CTR_overlap_conflicts], conflicts);
	EXPECT_EQ(st.v[REASM_CTR_overlap_conflict_bytes], conflict_bytes);
	if (rig.opt.log_conflicts) {
		EXPECT_EQ(calls, conflicts);
		EXPECT_EQ(differing, conflict_bytes);
	}
}

/* The five ISNs: 2^32 falls inside the rows at the last two. */
const uint32_t ISNS[] = {0, 1, 0x7FFFFFF6u, 0xFFFFFF9Cu, 0xFFFFFFFDu};

std::string
isn_name(uint32_t isn)
{
	char b[16];
	snprintf(b, sizeof(b), isn <= 1 ? "%u" : "0x%X", isn);
	return b;
}

/* ------------------------------------------------------------------ */
/* Expected conflicts written by hand                                   */
/* ------------------------------------------------------------------ */

enum class Kept { Had, Arrival, Delivered };

/* A conflict reported by step @c step; offset -1: unknown. */
struct Want {
	int step;
	int64_t pos;
	Bytes kept, other;
	Kept side;
	int64_t offset;
};

/* The offset after a SYN at position 0: the first data byte is position 1. */
Want
had_kept(int step, int64_t pos, Bytes kept, Bytes other)
{
	return {step, pos, std::move(kept), std::move(other), Kept::Had, pos - 1};
}

Want
arrival_kept(int step, int64_t pos, Bytes kept, Bytes other)
{
	return {step, pos, std::move(kept), std::move(other), Kept::Arrival, pos - 1};
}

Want
delivered_kept(int step, int64_t pos, Bytes kept, Bytes other)
{
	return {step, pos, std::move(kept), std::move(other), Kept::Delivered, pos - 1};
}

Want
offset(Want w, int64_t off)
{
	w.offset = off;
	return w;
}

MConflict
as_model(const Want &w)
{
	MConflict c;
	c.pos = w.pos;
	c.offset_known = w.offset >= 0;
	c.offset = w.offset >= 0 ? w.offset : 0;
	c.delivered = w.side == Kept::Delivered;
	c.kept_arrived = w.side == Kept::Arrival;
	c.kept = w.kept;
	c.other = w.other;
	for (size_t i = 0; i < std::min(w.kept.size(), w.other.size()); i++)
		c.differing += w.kept[i] != w.other[i];
	c.seen = ts_of_step(w.step);
	return c;
}

/*
 * Send @p steps through @p s (step i at ts_of_step(i)) and check after each
 * that the conflicts reported by it are @p want's for that step, in the
 * library and in the model, and that records and conflicts agree with the
 * model's.
 */
void
run_steps(Stream &s, const std::vector<In> &steps, const std::vector<Want> &want)
{
	size_t wi = 0;

	for (size_t i = 0; i < steps.size(); i++) {
		SCOPED_TRACE("step " + std::to_string(i));
		size_t got_before = s.conflicts().size(), model_before = s.model.conflicts.size();
		std::vector<MConflict> hand;

		s.send(steps[i], ts_of_step((int)i));
		while (wi < want.size() && want[wi].step == (int)i)
			hand.push_back(as_model(want[wi++]));
		std::vector<struct reasm_conflict> got = s.conflicts();
		got.erase(got.begin(), got.begin() + (ptrdiff_t)got_before);
		std::vector<MConflict> model(s.model.conflicts.begin() + (ptrdiff_t)model_before,
					     s.model.conflicts.end());
		std::ostringstream all;
		for (auto &c : got)
			all << " library " << describe(c, s.isn());
		for (auto &c : model)
			all << " model " << describe(c);
		for (auto &c : hand)
			all << " want " << describe(c);
		EXPECT_EQ(got.size(), hand.size()) << all.str();
		EXPECT_EQ(model.size(), hand.size()) << all.str();
		for (size_t k = 0; k < std::min(got.size(), hand.size()); k++)
			EXPECT_EQ(conflict_diff(got[k], hand[k], s.isn()), "");
		for (size_t k = 0; k < std::min(model.size(), hand.size()); k++)
			EXPECT_EQ(mconflict_diff(model[k], hand[k]), "");
		EXPECT_EQ(s.check(), "");
	}
	EXPECT_EQ(wi, want.size()) << "expectations left over (steps out of order?)";
}

/* ------------------------------------------------------------------ */
/* Step tables at five ISNs, both policies                              */
/* ------------------------------------------------------------------ */

/* Rows start with a SYN at position 0 (data from 1) unless said otherwise. */
struct Row {
	const char *name;
	uint32_t retain;
	std::vector<In> steps;
	std::vector<Want> first, last;
	Bytes stream_first, stream_last; /* the whole stream delivered, after flush_all */
	uint64_t overlap;                /* its totals.overlap_bytes, either policy */
};

const Bytes A5 = fill(5, 'A'), A10 = fill(10, 'A'), B5 = fill(5, 'B'), B10 = fill(10, 'B');
const Bytes TEN = str("abcdefghij");
const Bytes X4000 = pattern(4000, 1), Y5000 = pattern(5000, 2), Y2500 = pattern(2500, 3);
const Bytes F20 = pattern(20, 4), F50 = pattern(50, 5);
const Bytes S5700 = pattern(5700, 6), T100 = pattern(100, 7), U5700 = pattern(5700, 8);
const Bytes X50 = pattern(50, 9), F2000 = pattern(2000, 10);

/* What the last-wins policy holds at [2501, 7701) of the row below after T and U. */
Bytes
s_with_t()
{
	Bytes b = slice(S5700, 500, 5700);
	std::copy(T100.begin(), T100.end(), b.begin() + 100);
	return b;
}

const std::vector<Row> rows = {
	{"SameBytesRetransmittedIsNoConflict",
	 0,
	 {syn(0), seg(11, str("klmno")), seg(11, str("klmno")), seg(1, TEN)},
	 {},
	 {},
	 str("abcdefghijklmno"),
	 str("abcdefghijklmno"),
	 5},
	{"DifferentBytesAtOneStart",
	 0,
	 {syn(0), seg(11, A5), seg(11, str("ABBAA")), seg(1, TEN)},
	 {had_kept(2, 11, A5, str("ABBAA"))},
	 {arrival_kept(2, 11, str("ABBAA"), A5)},
	 cat(TEN, A5),
	 cat(TEN, str("ABBAA")),
	 5},
	{"PartialOverlapAtTheHead",
	 0,
	 {syn(0), seg(11, A10), seg(6, B10), seg(1, str("abcde"))},
	 {arrival_kept(2, 11, B5, A5)},
	 {arrival_kept(2, 11, B5, A5)},
	 cat(str("abcde"), B10, A5),
	 cat(str("abcde"), B10, A5),
	 5},
	{"PartialOverlapAtTheTail",
	 0,
	 {syn(0), seg(11, A10), seg(16, B10), seg(1, TEN)},
	 {had_kept(2, 16, A5, B5)},
	 {arrival_kept(2, 16, B5, A5)},
	 cat(TEN, A10, B5),
	 cat(TEN, A5, B10),
	 5},
	{"SegmentInsideAHeldOne",
	 0,
	 {syn(0), seg(11, A10), seg(13, fill(4, 'B')), seg(1, TEN)},
	 {had_kept(2, 13, fill(4, 'A'), fill(4, 'B'))},
	 {arrival_kept(2, 13, fill(4, 'B'), fill(4, 'A'))},
	 cat(TEN, A10),
	 cat(TEN, str("AABBBBAAAA")),
	 4},
	{"SegmentOverSeveralHeldOnes",
	 0,
	 {syn(0), seg(11, str("AAA")), seg(16, str("BBB")), seg(21, str("CCC")),
	  seg(9, fill(17, 'D')), seg(1, str("abcdefgh"))},
	 {arrival_kept(4, 11, str("DDD"), str("AAA")), arrival_kept(4, 16, str("DDD"), str("BBB")),
	  arrival_kept(4, 21, str("DDD"), str("CCC"))},
	 {arrival_kept(4, 11, str("DDD"), str("AAA")), arrival_kept(4, 16, str("DDD"), str("BBB")),
	  arrival_kept(4, 21, str("DDD"), str("CCC"))},
	 cat(str("abcdefgh"), fill(17, 'D')),
	 cat(str("abcdefgh"), fill(17, 'D')),
	 9},
	/* First-wins: the held copy at the same start, the arrival over the later one. */
	{"SegmentOverAdjacentHeldOnesFromTheFirstsStart",
	 0,
	 {syn(0), seg(11, A5), seg(16, B5), seg(11, fill(10, 'D')), seg(1, TEN)},
	 {had_kept(3, 11, A5, fill(5, 'D')), arrival_kept(3, 16, fill(5, 'D'), B5)},
	 {arrival_kept(3, 11, fill(10, 'D'), cat(A5, B5))},
	 cat(TEN, A5, fill(5, 'D')),
	 cat(TEN, fill(10, 'D')),
	 10},
	{"OverlapsOnBothSidesOfAHole",
	 0,
	 {syn(0), seg(11, A5), seg(21, fill(5, 'C')), seg(13, B10), seg(1, TEN)},
	 {had_kept(3, 13, str("AAA"), str("BBB")), arrival_kept(3, 21, str("BB"), str("CC"))},
	 {arrival_kept(3, 13, str("BBB"), str("AAA")), arrival_kept(3, 21, str("BB"), str("CC"))},
	 cat(TEN, A5, fill(7, 'B'), str("CCC")),
	 cat(TEN, str("AA"), B10, str("CCC")),
	 5},
	/* An in-order segment whose ends overlap delivered bytes and a held page, across a hole. */
	{"InOrderSegmentOverDeliveredAndHeldAcrossAHole",
	 1024,
	 {syn(0, str("abcde")), seg(11, A5), seg(3, fill(10, 'X'))},
	 {delivered_kept(2, 3, str("cde"), str("XXX")), arrival_kept(2, 11, str("XX"), str("AA"))},
	 {delivered_kept(2, 3, str("cde"), str("XXX")), arrival_kept(2, 11, str("XX"), str("AA"))},
	 cat(str("abcde"), fill(7, 'X'), str("AAA")),
	 cat(str("abcde"), fill(7, 'X'), str("AAA")),
	 5},
	{"ThreeCopiesOfOneRange",
	 0,
	 {syn(0), seg(11, A5), seg(11, B5), seg(11, fill(5, 'C')), seg(1, TEN)},
	 {had_kept(2, 11, A5, B5), had_kept(3, 11, A5, fill(5, 'C'))},
	 {arrival_kept(2, 11, B5, A5), arrival_kept(3, 11, fill(5, 'C'), B5)},
	 cat(TEN, A5),
	 cat(TEN, fill(5, 'C')),
	 10},
	/* The third copy is compared with what would be delivered: B then A, not A. */
	{"ThreeCopiesComparedWithTheCopyDelivered",
	 0,
	 {syn(0), seg(11, A5), seg(9, B5), seg(11, fill(5, 'C')), seg(1, str("abcdefgh"))},
	 {arrival_kept(2, 11, str("BBB"), str("AAA")), had_kept(3, 11, str("BBBAA"), fill(5, 'C'))},
	 {arrival_kept(2, 11, str("BBB"), str("AAA")),
	  arrival_kept(3, 11, fill(5, 'C'), str("BBBAA"))},
	 cat(str("abcdefgh"), B5, str("AA")),
	 cat(str("abcdefgh"), str("BB"), fill(5, 'C')),
	 8},
	{"InOrderSegmentOverHeldPagesBeyondNextSeq",
	 0,
	 {syn(0), seg(11, A5), seg(1, fill(12, 'B'))},
	 {arrival_kept(2, 11, str("BB"), str("AA"))},
	 {arrival_kept(2, 11, str("BB"), str("AA"))},
	 cat(fill(12, 'B'), str("AAA")),
	 cat(fill(12, 'B'), str("AAA")),
	 2},
	/* Data held before the SYN: the SYN's data (from ISN+1) is delivered at once over it. */
	{"SynDataOverHeldBytes",
	 0,
	 {seg(8, str("XXXX")), syn(0, TEN)},
	 {arrival_kept(1, 8, str("hij"), str("XXX"))},
	 {arrival_kept(1, 8, str("hij"), str("XXX"))},
	 cat(TEN, str("X")),
	 cat(TEN, str("X")),
	 3},
	{"DeliveredBytesRetransmitted",
	 1024,
	 {syn(0, TEN), seg(5, str("XXXXXX")), seg(3, str("cdXf")), seg(1, TEN)},
	 {delivered_kept(1, 5, str("efghij"), str("XXXXXX")),
	  delivered_kept(2, 3, str("cdef"), str("cdXf"))},
	 {delivered_kept(1, 5, str("efghij"), str("XXXXXX")),
	  delivered_kept(2, 3, str("cdef"), str("cdXf"))},
	 TEN,
	 TEN,
	 20},
	/* One arrival of three pages over held pages of another, both larger than a page. */
	{"LargeSegmentOverLargeHeldOne",
	 0,
	 {syn(0), seg(51, X4000), seg(21, Y5000), seg(1, F20)},
	 {arrival_kept(2, 51, slice(Y5000, 30, 4030), X4000)},
	 {arrival_kept(2, 51, slice(Y5000, 30, 4030), X4000)},
	 cat(F20, Y5000),
	 cat(F20, Y5000),
	 4000},
	/*
	 * Y starts inside X's first page: its pages go right after that page, so
	 * under first-wins X keeps its first page's bytes and Y wins over the rest
	 * (Y starts before X's second page), as gopacket delivers.
	 */
	{"LargeSegmentInsideLargeHeldOne",
	 0,
	 {syn(0), seg(51, X4000), seg(1051, Y2500), seg(1, F50)},
	 {had_kept(2, 1051, slice(X4000, 1000, 1900), slice(Y2500, 0, 900)),
	  arrival_kept(2, 1951, slice(Y2500, 900, 2500), slice(X4000, 1900, 3500))},
	 {arrival_kept(2, 1051, Y2500, slice(X4000, 1000, 3500))},
	 cat(F50, slice(X4000, 0, 1900), slice(Y2500, 900, 2500), slice(X4000, 3500, 4000)),
	 cat(F50, slice(X4000, 0, 1000), Y2500, slice(X4000, 3500, 4000)),
	 2500},
	/*
	 * S (3 pages), T inside S's first page, then U, starting before T, whose
	 * pages go after S's first page: the list is S1 U1 U2 U3 T S2 S3, not in
	 * sequence order any more. X then lands after S2, but what is delivered
	 * at its position without it is U2's bytes, U2 being earlier in the list.
	 */
	{"SegmentBehindPagesThatOvertookAnother",
	 0,
	 {syn(0), seg(2001, S5700), seg(2601, T100), seg(2501, U5700), seg(4501, X50),
	  seg(1, F2000)},
	 {had_kept(2, 2601, slice(S5700, 600, 700), T100),
	  had_kept(3, 2501, slice(S5700, 500, 1900), slice(U5700, 0, 1400)),
	  arrival_kept(3, 3901, slice(U5700, 1400, 5200), slice(S5700, 1900, 5700)),
	  had_kept(4, 4501, slice(U5700, 2000, 2050), X50)},
	 {arrival_kept(2, 2601, T100, slice(S5700, 600, 700)),
	  arrival_kept(3, 2501, slice(U5700, 0, 5200), s_with_t()),
	  arrival_kept(4, 4501, X50, slice(U5700, 2000, 2050))},
	 cat(F2000, slice(S5700, 0, 1900), slice(U5700, 1400, 5700)),
	 cat(F2000, slice(S5700, 0, 500), slice(U5700, 0, 2000), X50, slice(U5700, 2050, 5700)),
	 5350},
};

using RowParam = std::tuple<size_t, Policy, uint32_t>;

class StepTable : public ::testing::TestWithParam<RowParam>
{
};

TEST_P(StepTable, ConflictsAndDeliveredBytesAsDocumented)
{
	const Row &row = rows[std::get<0>(GetParam())];
	const Policy policy = std::get<1>(GetParam());
	Config cfg;
	cfg.policy = policy;
	cfg.retain = row.retain;
	Rig rig(rig_options(cfg));
	Stream s(rig, cfg, std::get<2>(GetParam()));

	run_steps(s, row.steps, policy == Policy::First ? row.first : row.last);
	EXPECT_EQ(s.finish(), "");
	ASSERT_NE(s.log(), nullptr);
	EXPECT_EQ(concat(s.log()->recs),
		  policy == Policy::First ? row.stream_first : row.stream_last);
	EXPECT_EQ(s.log()->totals.overlap_bytes, row.overlap);
	expect_rig_sound(rig);
}

INSTANTIATE_TEST_SUITE_P(Overlap, StepTable,
			 ::testing::Combine(::testing::Range<size_t>(0, rows.size()),
					    ::testing::Values(Policy::First, Policy::Last),
					    ::testing::ValuesIn(ISNS)),
			 [](const ::testing::TestParamInfo<RowParam> &i) {
				 return std::string(rows[std::get<0>(i.param)].name) + "_" +
					policy_name(std::get<1>(i.param)) + "_Isn" +
					isn_name(std::get<2>(i.param));
			 });

/* ------------------------------------------------------------------ */
/* First-wins is gopacket's: the conformance rows that overlap          */
/* ------------------------------------------------------------------ */

/* A record a step delivers, with bytes step @p from carried (test_conformance.cpp's rec()). */
MRec
out(int from, Bytes bytes, int64_t skip = 0, bool start = false)
{
	MRec r;
	r.bytes = std::move(bytes);
	r.skip = skip;
	r.start = start;
	r.seen = ts_of_step(from);
	return r;
}

Bytes
run(uint8_t first, size_t n)
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(first + i);
	return b;
}

/* Positions from ISN 1000 as conformance-vectors.md writes them: 1007 is 7. */
struct DocRow {
	const char *name;
	std::vector<In> steps;
	std::vector<std::vector<MRec>> out; /* the records each step delivers */
	std::vector<Want> without_retain, with_retain;
};

const Bytes ONE_TO_ZERO = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0};

const std::vector<DocRow> doc_rows = {
	{"ReorderNoSyn",
	 {seg(1, {1, 2, 3}), seg(4, {2, 2, 3}), seg(10, {4, 2, 3}), seg(7, {3, 2, 3}),
	  seg(16, {2, 2, 3}), seg(19, {3, 2, 3}), seg(13, {1, 2, 3})},
	 {{},
	  {},
	  {},
	  {out(0, {1, 2, 3}, -1), out(1, {2, 2, 3}), out(3, {3, 2, 3}), out(2, {4, 2, 3})},
	  {},
	  {},
	  {out(6, {1, 2, 3}), out(4, {2, 2, 3}), out(5, {3, 2, 3})}},
	 {},
	 {}},
	{"OverlapWithDelivered",
	 {syn(0, ONE_TO_ZERO), seg(7, {7, 8, 9, 0, 1, 2, 3, 4, 5}),
	  seg(10, {0, 1, 2, 3, 4, 5, 6, 7})},
	 {{out(0, ONE_TO_ZERO, 0, true)}, {out(1, {1, 2, 3, 4, 5})}, {out(2, {6, 7})}},
	 {},
	 {}},
	{"OverlapAmongBuffered",
	 {seg(7, {7, 8, 9, 0, 1, 2, 3, 4, 5}), seg(10, {0, 1, 2, 3, 4, 5, 6, 7}),
	  syn(0, ONE_TO_ZERO)},
	 {{}, {}, {out(2, ONE_TO_ZERO, 0, true), out(0, {1, 2, 3, 4, 5}), out(1, {6, 7})}},
	 {},
	 {}},
	{"Rule7SameStartEarlierArrivalWins",
	 {seg(10, {0xA, 0xA, 0xA}), seg(10, {0xB, 0xB, 0xB, 0xB}), syn(0, run(1, 9))},
	 {{}, {}, {out(2, run(1, 9), 0, true), out(0, {0xA, 0xA, 0xA}), out(1, {0xB})}},
	 {offset(had_kept(1, 10, {0xA, 0xA, 0xA}, {0xB, 0xB, 0xB}), -1)},
	 {offset(had_kept(1, 10, {0xA, 0xA, 0xA}, {0xB, 0xB, 0xB}), -1)}},
	{"Rule7CoveredPageGivesEmptyRecord",
	 {seg(10, {0xA, 0xA, 0xA}), seg(10, {0xB, 0xB}), syn(0, run(1, 9))},
	 {{}, {}, {out(2, run(1, 9), 0, true), out(0, {0xA, 0xA, 0xA}), out(1, {})}},
	 {offset(had_kept(1, 10, {0xA, 0xA}, {0xB, 0xB}), -1)},
	 {offset(had_kept(1, 10, {0xA, 0xA}, {0xB, 0xB}), -1)}},
	{"Rule7RetransmissionIsEmptyRecord",
	 {syn(0, {1, 2, 3}), seg(1, {1, 2, 3}), seg(1, {1, 2}), syn(0, {1, 2, 3})},
	 {{out(0, {1, 2, 3}, 0, true)}, {out(1, {})}, {out(2, {})}, {out(3, {})}},
	 {},
	 {}},
	{"Rule9SynWithPayloadConsumesOne",
	 {syn(0, {1, 2, 3}), seg(3, {9, 4})},
	 {{out(0, {1, 2, 3}, 0, true)}, {out(1, {4})}},
	 {},
	 {delivered_kept(1, 3, {3}, {9})}},
};

/*
 * Send @p steps as run_steps() does, and check that step i delivers exactly
 * @p out[i] (bytes, skip, start, end, the packet that carried them).
 */
void
run_steps_with_records(Stream &s, const std::vector<In> &steps, const std::vector<Want> &want,
		       const std::vector<std::vector<MRec>> &out)
{
	ASSERT_EQ(steps.size(), out.size());
	for (size_t i = 0; i < steps.size(); i++) {
		SCOPED_TRACE("doc step " + std::to_string(i));
		size_t before = s.log() != nullptr ? s.log()->recs.size() : 0;
		size_t got_before = s.conflicts().size();
		s.send(steps[i], ts_of_step((int)i));
		std::vector<struct reasm_conflict> got = s.conflicts();
		got.erase(got.begin(), got.begin() + (ptrdiff_t)got_before);
		std::vector<MConflict> hand;
		for (const Want &w : want)
			if (w.step == (int)i)
				hand.push_back(as_model(w));
		ASSERT_EQ(got.size(), hand.size());
		for (size_t k = 0; k < got.size(); k++)
			EXPECT_EQ(conflict_diff(got[k], hand[k], s.isn()), "");
		std::vector<Rec> recs = s.log() != nullptr ? s.log()->recs : std::vector<Rec>();
		ASSERT_EQ(recs.size() - before, out[i].size())
			<< describe(std::vector<Rec>(recs.begin() + (ptrdiff_t)before, recs.end()));
		for (size_t k = 0; k < out[i].size(); k++)
			EXPECT_EQ(rec_diff(recs[before + k], out[i][k]), "");
		EXPECT_EQ(s.check(), "");
	}
}

using DocParam = std::tuple<size_t, bool, uint32_t>;

class FirstWinsConformance : public ::testing::TestWithParam<DocParam>
{
};

TEST_P(FirstWinsConformance, DeliversWhatGopacketDeliversAndReportsTheConflicts)
{
	const DocRow &row = doc_rows[std::get<0>(GetParam())];
	const bool retain = std::get<1>(GetParam());
	Config cfg;
	cfg.policy = Policy::First;
	cfg.retain = retain ? 1024 : 0;
	cfg.max_pages_per_conn = 4; /* the doc's harness */
	Rig rig(rig_options(cfg));
	Stream s(rig, cfg, std::get<2>(GetParam()));

	run_steps_with_records(s, row.steps, retain ? row.with_retain : row.without_retain,
			       row.out);
	EXPECT_EQ(s.finish(), "");
	expect_rig_sound(rig);
}

INSTANTIATE_TEST_SUITE_P(Overlap, FirstWinsConformance,
			 ::testing::Combine(::testing::Range<size_t>(0, doc_rows.size()),
					    ::testing::Bool(), ::testing::ValuesIn(ISNS)),
			 [](const ::testing::TestParamInfo<DocParam> &i) {
				 return std::string(doc_rows[std::get<0>(i.param)].name) +
					(std::get<1>(i.param) ? "_Retain" : "_NoRetain") + "_Isn" +
					isn_name(std::get<2>(i.param));
			 });

/* ------------------------------------------------------------------ */
/* Scenarios run at every ISN                                           */
/* ------------------------------------------------------------------ */

struct Scenario {
	Config cfg;
	std::vector<In> steps;
	std::vector<Want> want;
	Bytes stream; /* all delivered, after flush_all */
};

/* Run @p sc at the five ISNs; returns nothing, fails through gtest. */
void
run_scenario(const Scenario &sc)
{
	for (uint32_t isn : ISNS) {
		SCOPED_TRACE(std::string("ISN ") + isn_name(isn) + ", " +
			     policy_name(sc.cfg.policy));
		Rig rig(rig_options(sc.cfg));
		Stream s(rig, sc.cfg, isn);
		run_steps(s, sc.steps, sc.want);
		EXPECT_EQ(s.finish(), "");
		ASSERT_NE(s.log(), nullptr);
		EXPECT_EQ(concat(s.log()->recs), sc.stream);
		expect_rig_sound(rig);
	}
}

Config
config(Policy policy, uint32_t retain, uint32_t max_pages_per_conn = 0)
{
	Config c;
	c.policy = policy;
	c.retain = retain;
	c.max_pages_per_conn = max_pages_per_conn;
	return c;
}

/* ---- last-wins ---------------------------------------------------- */

TEST(LastWins, DeliversTheLastCopyOfBufferedBytesAndNeverChangesDeliveredOnes)
{
	const std::vector<In> steps = {
		syn(0, str("abcde")), seg(11, A10),       seg(13, str("BBBB")),
		seg(15, str("CCCC")), seg(11, str("DD")), seg(3, str("XXXXX")),
		seg(6, str("fghij")), seg(21, str("YY")), seg(19, str("ZZZZ")),
	};
	Scenario last{config(Policy::Last, 1024),
		      steps,
		      {arrival_kept(2, 13, str("BBBB"), str("AAAA")),
		       arrival_kept(3, 15, str("CCCC"), str("BBAA")),
		       arrival_kept(4, 11, str("DD"), str("AA")),
		       delivered_kept(5, 3, str("cde"), str("XXX")),
		       delivered_kept(6, 6, str("XX"), str("fg")),
		       delivered_kept(8, 19, str("AAYY"), str("ZZZZ"))},
		      str("abcdeXXhijDDBBCCCCAAYY")};
	Scenario first{config(Policy::First, 1024),
		       steps,
		       {had_kept(2, 13, str("AAAA"), str("BBBB")),
			had_kept(3, 15, str("AAAA"), str("CCCC")),
			had_kept(4, 11, str("AA"), str("DD")),
			delivered_kept(5, 3, str("cde"), str("XXX")),
			delivered_kept(6, 6, str("XX"), str("fg")),
			delivered_kept(8, 19, str("AAYY"), str("ZZZZ"))},
		       str("abcdeXXhijAAAAAAAAAAYY")};
	run_scenario(last);
	run_scenario(first);
}

/* ---- retention ----------------------------------------------------- */

TEST(Retention, DifferentRetransmissionOfDeliveredBytesIsAConflictKeepingTheDeliveredCopy)
{
	for (Policy p : {Policy::First, Policy::Last})
		run_scenario({config(p, 1024),
			      {syn(0, TEN), seg(11, str("klmnopqrst")), seg(8, str("hiXXlm"))},
			      {delivered_kept(2, 8, str("hijklm"), str("hiXXlm"))},
			      str("abcdefghijklmnopqrst")});
}

TEST(Retention, IdenticalRetransmissionOfDeliveredBytesIsNoConflict)
{
	for (Policy p : {Policy::First, Policy::Last}) {
		run_scenario({config(p, 1024),
			      {syn(0, TEN), seg(11, str("klmnopqrst")), seg(8, str("hijklm")),
			       seg(1, str("abcdefghijklmnopqrst"))},
			      {},
			      str("abcdefghijklmnopqrst")});
	}
}

TEST(Retention, BytesOlderThanTheWindowAreNotCompared)
{
	const Bytes p = pattern(100, 11), q = pattern(100, 12); /* q differs from p everywhere */
	for (Policy pol : {Policy::First, Policy::Last})
		run_scenario({config(pol, 64),
			      {syn(0), seg(1, p), seg(1, slice(q, 0, 30)), seg(1, q),
			       seg(30, slice(q, 29, 40))},
			      {delivered_kept(3, 37, slice(p, 36, 100), slice(q, 36, 100)),
			       delivered_kept(4, 37, slice(p, 36, 40), slice(q, 36, 40))},
			      p});
}

TEST(Retention, WindowStartsOverAfterASkip)
{
	/* The page limit of 2 skips to KLMNO at step 2: abcde leave the window. */
	for (Policy p : {Policy::First, Policy::Last})
		run_scenario({config(p, 1024, 2),
			      {syn(0, str("abcde")), seg(11, str("KLMNO")), seg(21, str("UVWXY")),
			       seg(1, str("aXcde")), seg(11, str("KLMNX"))},
			      {delivered_kept(4, 11, str("KLMNO"), str("KLMNX"))},
			      str("abcdeKLMNOUVWXY")});
}

TEST(Retention, WindowWrapsAroundItsEnd)
{
	/*
	 * A 64-byte window: 120 bytes delivered in 40-byte records, then 100 in
	 * one; at each ISN the window's slots (seq & 63) wrap somewhere else.
	 */
	const Bytes p = pattern(300, 13);
	Bytes q = slice(p, 49, 120), z = slice(p, 149, 220);
	q[10] ^= 0xFF; /* position 60 */
	q[60] ^= 0xFF; /* position 110 */
	z[0] ^= 0xFF;  /* position 150: outside the window */
	z[70] ^= 0xFF; /* position 220 */
	for (Policy pol : {Policy::First, Policy::Last})
		run_scenario({config(pol, 64),
			      {syn(0), seg(1, slice(p, 0, 40)), seg(41, slice(p, 40, 80)),
			       seg(81, slice(p, 80, 120)), seg(50, q), seg(121, slice(p, 120, 220)),
			       seg(150, z)},
			      {delivered_kept(4, 57, slice(p, 56, 120), slice(q, 7, 71)),
			       delivered_kept(6, 157, slice(p, 156, 220), slice(z, 7, 71))},
			      slice(p, 0, 220)});
}

TEST(Retention, WithoutRetentionDeliveredBytesAreNeverCompared)
{
	run_scenario({config(Policy::First, 0),
		      {syn(0, TEN), seg(5, str("XXXXXX")), seg(1, fill(10, 'Y')), seg(21, A5),
		       seg(21, B5), seg(11, fill(10, 'k'))},
		      {had_kept(4, 21, A5, B5)},
		      cat(TEN, fill(10, 'k'), A5)});
	run_scenario({config(Policy::Last, 0),
		      {syn(0, TEN), seg(5, str("XXXXXX")), seg(1, fill(10, 'Y')), seg(21, A5),
		       seg(21, B5), seg(11, fill(10, 'k'))},
		      {arrival_kept(4, 21, B5, A5)},
		      cat(TEN, fill(10, 'k'), B5)});
}

/* ---- offsets -------------------------------------------------------- */

TEST(ConflictOffset, CountsFromTheByteAfterTheSyn)
{
	run_scenario({config(Policy::First, 0),
		      {syn(0, str("abc")), seg(101, A5), seg(101, B5)},
		      {offset(had_kept(2, 101, A5, B5), 100)},
		      cat(str("abc"), A5)});
	run_scenario({config(Policy::Last, 0),
		      {syn(0, str("abc")), seg(101, A5), seg(101, B5)},
		      {offset(arrival_kept(2, 101, B5, A5), 100)},
		      cat(str("abc"), B5)});
}

TEST(ConflictOffset, CountsFromTheFirstDeliveredByteWithoutASynUnknownBefore)
{
	/*
	 * No SYN; a page limit of 3 delivers from position 1001 at step 2:
	 * the conflict of step 1 has no offset, those after count from 1001.
	 */
	const std::vector<In> steps = {seg(1001, A10),           seg(1001, B10),
				       seg(1011, fill(10, 'C')), seg(1031, fill(5, 'D')),
				       seg(1031, fill(5, 'E')),  seg(1005, str("XXXX"))};
	run_scenario({config(Policy::First, 1024, 3),
		      steps,
		      {offset(had_kept(1, 1001, A10, B10), -1),
		       offset(had_kept(4, 1031, fill(5, 'D'), fill(5, 'E')), 30),
		       offset(delivered_kept(5, 1005, str("AAAA"), str("XXXX")), 4)},
		      cat(A10, fill(10, 'C'), fill(5, 'D'))});
	run_scenario({config(Policy::Last, 1024, 3),
		      steps,
		      {offset(arrival_kept(1, 1001, B10, A10), -1),
		       offset(arrival_kept(4, 1031, fill(5, 'E'), fill(5, 'D')), 30),
		       offset(delivered_kept(5, 1005, str("BBBB"), str("XXXX")), 4)},
		      cat(B10, fill(10, 'C'), fill(5, 'E'))});
}

TEST(ConflictOffset, SkippedBytesCountInTheOffset)
{
	/* The page limit of 2 skips positions 4-10 at step 2: position 23 is still offset 22. */
	const std::vector<In> steps = {syn(0, str("abc")), seg(11, str("KLMNO")),
				       seg(21, str("UVWXY")), seg(23, str("VXY"))};
	run_scenario({config(Policy::First, 0, 2),
		      steps,
		      {had_kept(3, 23, str("WXY"), str("VXY"))},
		      str("abcKLMNOUVWXY")});
	run_scenario({config(Policy::Last, 0, 2),
		      steps,
		      {arrival_kept(3, 23, str("VXY"), str("WXY"))},
		      str("abcKLMNOUVVXY")});
}

/* ---- configuration -------------------------------------------------- */

struct reasm_pool *
pool_with_retain(uint32_t retain)
{
	std::string name = unique_name("overlap_pool");
	struct reasm_pool_conf pc = {};
	pc.name = name.c_str();
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = 8;
	pc.mode = REASM_POOL_SINGLE_WRITER;
	pc.ops = &Recorder::ops;
	pc.retain_bytes = retain;
	return reasm_pool_create(&pc);
}

TEST(OverlapConfig, UnknownPolicyFailsWithEinval)
{
	struct reasm_pool *pool = pool_with_retain(0);
	std::string name = unique_name("overlap_pages");
	struct rte_mempool *pages = reasm_page_pool_create(name.c_str(), 64, 0, SOCKET_ID_ANY);
	ASSERT_NE(pool, nullptr);
	ASSERT_NE(pages, nullptr);
	struct reasm_assembler_conf ac = {};
	ac.pool = pool;
	ac.page_pool = pages;
	ac.socket_id = SOCKET_ID_ANY;
	ac.overlap_policy = (enum reasm_overlap_policy)7;
	rte_errno = 0;
	EXPECT_EQ(reasm_assembler_create(&ac), nullptr);
	EXPECT_EQ(rte_errno, EINVAL);
	/* The two policies are accepted (one assembler at a time: a single-writer pool). */
	for (enum reasm_overlap_policy p : {REASM_OVERLAP_FIRST, REASM_OVERLAP_LAST}) {
		ac.overlap_policy = p;
		struct reasm_assembler *a = reasm_assembler_create(&ac);
		EXPECT_NE(a, nullptr) << rte_strerror(rte_errno);
		reasm_assembler_free(a);
	}
	reasm_pool_free(pool);
	rte_mempool_free(pages);
}

TEST(OverlapConfig, RetainBytesMustBeAPowerOfTwoUpToOneMebibyte)
{
	for (uint32_t bad : {3u, 100u, 1u << 21, (1u << 20) + 1024, 0x80000000u}) {
		SCOPED_TRACE("retain_bytes " + std::to_string(bad));
		rte_errno = 0;
		struct reasm_pool *pool = pool_with_retain(bad);
		EXPECT_EQ(pool, nullptr);
		EXPECT_EQ(rte_errno, EINVAL);
		reasm_pool_free(pool);
	}
	for (uint32_t good : {0u, 1u, 64u, REASM_RETAIN_MAX}) {
		SCOPED_TRACE("retain_bytes " + std::to_string(good));
		struct reasm_pool *pool = pool_with_retain(good);
		EXPECT_NE(pool, nullptr) << rte_strerror(rte_errno);
		reasm_pool_free(pool);
	}
	EXPECT_EQ(REASM_RETAIN_MAX, 1u << 20);
}

/* ------------------------------------------------------------------ */
/* Random streams against the model                                     */
/* ------------------------------------------------------------------ */

/*
 * 40 steps over a stream of 600 bytes (or, one seed in four, 12,000 with
 * segments of up to 4,600 bytes, several pages each): segments near the
 * highest byte sent (in order, or overlapping its tail), anywhere (holes,
 * overlaps among held pages), repeats of earlier ones; each a copy of the
 * stream's bytes or one with bytes changed. With a SYN: first, or (one run in
 * three) later with data held before it, and then no page limit (a SYN after
 * records would be a retransmitted one). Without: a page limit, one seed in
 * three, makes records (and skips) before the flush.
 */
struct RandomRun {
	std::vector<In> steps;
	uint32_t max_pages_per_conn = 0;
};

RandomRun
random_run(uint32_t seed, bool with_syn)
{
	std::mt19937 rng(seed * 2 + (with_syn ? 1 : 0));
	auto pick = [&](uint32_t n) { return n == 0 ? 0u : (uint32_t)(rng() % n); };
	const bool big = pick(4) == 0;
	const uint32_t len_max = big ? 12000 : 600, n = 40;
	Bytes truth(len_max);
	for (auto &b : truth)
		b = (uint8_t)rng();
	auto copy_of = [&](uint32_t from, uint32_t len) {
		Bytes b = slice(truth, from, from + len);
		if (len > 0 && pick(100) < 45)
			for (uint32_t k = 1 + pick(std::max(1u, len / 3)); k > 0; k--)
				b[pick(len)] = (uint8_t)rng();
		return b;
	};
	RandomRun out;
	const int syn_at = with_syn ? (pick(3) == 0 ? (int)(1 + pick(n - 1)) : 0) : -1;
	if (syn_at <= 0 && pick(3) == 0)
		out.max_pages_per_conn = 3 + pick(6);
	const uint32_t first = with_syn ? 1 : 1 + pick(50);
	uint32_t highest = first;
	std::vector<std::pair<uint32_t, uint32_t>> sent;

	for (int i = 0; i < (int)n; i++) {
		if (i == syn_at) {
			out.steps.push_back(syn(0, copy_of(1, pick(12))));
			continue;
		}
		uint32_t from, len, r = pick(100);
		if (r < 20 && !sent.empty()) {
			std::tie(from, len) = sent[pick((uint32_t)sent.size())];
		} else {
			len = big && pick(6) == 0 ? 1900 + pick(2700) : 1 + pick(40);
			if (r < 60)
				from = highest > first + 12 ? highest - pick(13) : first + pick(3);
			else
				from = first + pick((big ? len_max / 2 : len_max - 60) - first);
		}
		if (from >= len_max - 1)
			from = len_max - 2;
		len = std::min(len, len_max - from);
		sent.push_back({from, len});
		highest = std::max(highest, from + len);
		out.steps.push_back(seg(from, copy_of(from, len)));
	}
	return out;
}

/* Rigs by configuration, made when first asked for. */
class Rigs
{
      public:
	Rig &get(const Config &c)
	{
		auto key = std::make_tuple((int)c.policy, c.retain, c.log, c.max_pages_per_conn);
		auto it = rigs_.find(key);
		if (it == rigs_.end())
			it = rigs_.emplace(key, std::make_unique<Rig>(rig_options(c))).first;
		return *it->second;
	}
	void expect_all_sound()
	{
		for (auto &r : rigs_)
			expect_rig_sound(*r.second);
	}

      private:
	std::map<std::tuple<int, uint32_t, bool, uint32_t>, std::unique_ptr<Rig>> rigs_;
};

/* What the random runs went through, so that a run that tests nothing shows. */
struct Coverage {
	uint64_t conflicts = 0, held_kept = 0, arrival_kept = 0, delivered = 0, no_offset = 0;
	uint64_t skips = 0, multi_page = 0;

	void add(const Model &m, const RandomRun &run)
	{
		for (const MConflict &c : m.conflicts) {
			conflicts++;
			delivered += c.delivered;
			arrival_kept += c.kept_arrived;
			held_kept += !c.delivered && !c.kept_arrived;
			no_offset += !c.offset_known;
		}
		for (const MRec &r : m.recs)
			skips += r.skip != 0;
		for (const In &in : run.steps)
			multi_page += in.payload.size() > REASM_PAGE_BYTES;
	}
};

/*
 * Run @p run through @p rig and the model, every step even after a
 * difference (so that @p recs holds the whole stream); "" when every step
 * agrees, else the first difference.
 */
std::string
run_random(Rig &rig, const Config &cfg, const RandomRun &run, uint32_t isn, uint16_t sport,
	   std::vector<Rec> *recs = nullptr, Coverage *cov = nullptr)
{
	Stream s(rig, cfg, isn, sport);
	std::string first;
	for (size_t i = 0; i < run.steps.size(); i++) {
		s.send(run.steps[i], ts_of_step((int)i));
		std::string d = s.check();
		if (!d.empty() && first.empty())
			first = "step " + std::to_string(i) + ": " + d;
	}
	std::string d = s.finish();
	if (!d.empty() && first.empty())
		first = "finish: " + d;
	if (recs != nullptr && s.log() != nullptr)
		*recs = s.log()->recs;
	if (cov != nullptr)
		cov->add(s.model, run);
	return first;
}

std::string
describe_steps(const std::vector<In> &steps)
{
	std::ostringstream os;
	for (size_t i = 0; i < steps.size(); i++)
		os << " " << i << ":" << (steps[i].flags & REASM_TCP_SYN ? "S" : "") << steps[i].seq
		   << "+" << steps[i].payload.size();
	return os.str();
}

TEST(OverlapProperty, RandomStreamsDeliverAndReportWhatTheModelDoes)
{
	Rigs rigs;
	uint16_t sport = 1;
	int failures = 0, runs = 0;
	Coverage cov;

	/* A run that differs: the first few in full, all counted. */
	auto failed = [&](const std::string &what, const RandomRun &run, const std::string &d) {
		if (d.empty() || ++failures > 5)
			return;
		ADD_FAILURE() << what << ": " << d << "\n steps:" << describe_steps(run.steps);
	};
	for (uint32_t seed = 0; seed < 200; seed++) {
		for (bool with_syn : {true, false}) {
			const RandomRun run = random_run(seed, with_syn);
			const uint32_t isn = ISNS[seed % 5];
			std::ostringstream what;
			what << "seed " << seed << (with_syn ? " SYN" : " no SYN") << " ISN "
			     << isn_name(isn) << " page limit " << run.max_pages_per_conn;
			/* What a rig without any of the new options delivers (and counts). */
			std::vector<Rec> baseline;
			Config plain = config(Policy::First, 0, run.max_pages_per_conn);
			plain.log = false;
			runs++;
			failed(what.str() + " plain", run,
			       run_random(rigs.get(plain), plain, run, isn, sport++, &baseline));
			for (Policy policy : {Policy::First, Policy::Last}) {
				for (uint32_t retain : {0u, seed % 2 ? 64u : 1024u}) {
					Config cfg = config(policy, retain, run.max_pages_per_conn);
					std::vector<Rec> recs;
					std::string d = run_random(rigs.get(cfg), cfg, run, isn,
								   sport++, &recs, &cov);
					runs++;
					failed(what.str() + " " + policy_name(policy) + " retain " +
						       std::to_string(retain),
					       run, d);
					if (policy != Policy::First)
						continue;
					/* First-wins changes nothing of what is delivered. */
					bool same = recs.size() == baseline.size();
					for (size_t i = 0; same && i < recs.size(); i++)
						same = recs[i].bytes == baseline[i].bytes &&
						       recs[i].skip == baseline[i].skip &&
						       recs[i].seen == baseline[i].seen;
					EXPECT_TRUE(same) << what.str() << " first-wins vs plain";
				}
			}
		}
	}
	EXPECT_EQ(failures, 0) << "of " << runs
			       << " runs differ from the model (the first 5 above)";
	rigs.expect_all_sound();
	/* The seeds reach every kind of conflict, skips and multi-page arrivals. */
	EXPECT_GT(cov.conflicts, 1000u);
	EXPECT_GT(cov.held_kept, 100u);
	EXPECT_GT(cov.arrival_kept, 100u);
	EXPECT_GT(cov.delivered, 100u);
	EXPECT_GT(cov.no_offset, 100u);
	EXPECT_GT(cov.skips, 100u);
	EXPECT_GT(cov.multi_page, 100u);
	printf("[ coverage ] %lu conflicts: %lu kept held, %lu kept arrived, %lu delivered, "
	       "%lu without offset; %lu skips, %lu multi-page arrivals\n",
	       (unsigned long)cov.conflicts, (unsigned long)cov.held_kept,
	       (unsigned long)cov.arrival_kept, (unsigned long)cov.delivered,
	       (unsigned long)cov.no_offset, (unsigned long)cov.skips,
	       (unsigned long)cov.multi_page);
}

/* ---- counters ------------------------------------------------------- */

/* Send @p run to @p rig alone (no model) and flush it. */
void
feed(Rig &rig, const RandomRun &run, uint32_t isn, uint16_t sport)
{
	FrameSpec spec;
	spec.sport = sport;
	for (size_t i = 0; i < run.steps.size(); i++) {
		spec.seq = isn + run.steps[i].seq;
		spec.flags = run.steps[i].flags;
		spec.payload = run.steps[i].payload;
		struct reasm_flow flow = flow_of(spec);
		struct reasm_segment sg = segment_of(spec);
		EXPECT_EQ(reasm_assemble(rig.asm_, &flow, &sg, ts_of_step((int)i)), 0);
	}
	reasm_flush_all(rig.asm_);
}

/* Random streams for the counter tests (the property test checks their contents). */
std::vector<RandomRun>
counter_runs(uint32_t first_seed)
{
	std::vector<RandomRun> runs;
	for (uint32_t seed = first_seed; seed < first_seed + 12; seed++) {
		runs.push_back(random_run(seed, seed % 2 == 0));
		runs.back().max_pages_per_conn = 0; /* one rig for all */
	}
	return runs;
}

TEST(ConflictCounters, EqualTheCallsAndEachStreamsTotals)
{
	const std::vector<RandomRun> runs = counter_runs(1000);
	for (Policy policy : {Policy::First, Policy::Last}) {
		SCOPED_TRACE(policy_name(policy));
		Rig rig(rig_options(config(policy, 1024)));
		uint64_t calls = 0, differing = 0, delivered = 0;
		for (size_t i = 0; i < runs.size(); i++)
			feed(rig, runs[i], ISNS[i % 5], (uint16_t)(i + 1));
		for (StreamLog *l : rig.rec.streams()) {
			uint64_t c = 0, d = 0;
			for (const struct reasm_conflict &x : l->conflicts) {
				c++;
				d += x.differing;
				delivered += x.delivered;
				EXPECT_GT(x.differing, 0u);
				EXPECT_LE(x.differing, x.len);
			}
			EXPECT_EQ(l->totals.conflicts, c);
			EXPECT_EQ(l->totals.conflict_bytes, d);
			calls += c;
			differing += d;
		}
		struct reasm_stats st;
		reasm_assembler_stats(rig.asm_, &st);
		EXPECT_GT(calls, 20u);
		EXPECT_GT(delivered, 0u);
		EXPECT_EQ(st.v[REASM_CTR_overlap_conflicts], calls);
		EXPECT_EQ(st.v[REASM_CTR_overlap_conflict_bytes], differing);
		expect_rig_sound(rig);
	}
}

TEST(ConflictCounters, CountedWithoutACallback)
{
	const std::vector<RandomRun> runs = counter_runs(2000);
	for (Policy policy : {Policy::First, Policy::Last}) {
		SCOPED_TRACE(policy_name(policy));
		Config with = config(policy, 64), without = with;
		without.log = false;
		Rig rig_with(rig_options(with)), rig_without(rig_options(without));
		for (size_t i = 0; i < runs.size(); i++) {
			feed(rig_with, runs[i], ISNS[i % 5], (uint16_t)(i + 1));
			feed(rig_without, runs[i], ISNS[i % 5], (uint16_t)(i + 1));
		}
		std::vector<StreamLog *> a = rig_with.rec.streams(), b = rig_without.rec.streams();
		ASSERT_EQ(a.size(), b.size());
		uint64_t calls = 0;
		for (size_t i = 0; i < a.size(); i++) {
			calls += a[i]->conflicts.size();
			EXPECT_TRUE(b[i]->conflicts.empty());
			EXPECT_EQ(a[i]->totals.conflicts, a[i]->conflicts.size());
			EXPECT_EQ(a[i]->totals.conflicts, b[i]->totals.conflicts);
			EXPECT_EQ(a[i]->totals.conflict_bytes, b[i]->totals.conflict_bytes);
			EXPECT_EQ(concat(a[i]->recs), concat(b[i]->recs));
		}
		struct reasm_stats sa, sb;
		reasm_assembler_stats(rig_with.asm_, &sa);
		reasm_assembler_stats(rig_without.asm_, &sb);
		EXPECT_GT(calls, 20u);
		EXPECT_EQ(sb.v[REASM_CTR_overlap_conflicts], calls);
		EXPECT_EQ(sa.v[REASM_CTR_overlap_conflicts], sb.v[REASM_CTR_overlap_conflicts]);
		EXPECT_EQ(sa.v[REASM_CTR_overlap_conflict_bytes],
			  sb.v[REASM_CTR_overlap_conflict_bytes]);
		expect_rig_sound(rig_with);
		expect_rig_sound(rig_without);
	}
}

} // namespace
