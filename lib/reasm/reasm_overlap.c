/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Overlaps: the overlap policy (reasm_assembler_conf.overlap_policy),
 * conflicting overlaps (struct reasm_conflict) and the window of delivered
 * bytes they are compared with (reasm_pool_conf.retain_bytes).
 *
 * Each arriving segment is compared with the bytes the stream would deliver
 * at its positions without it: for a position held in pages, the first page
 * in delivery order (the list's: sequence order, earlier arrival first at the
 * same sequence, unless a segment's block of pages reached past later pages)
 * that covers it; for a delivered position, the retained copy. Which copy is
 * kept follows the policy; contiguous positions compared with the same
 * outcome make one overlap, reported as a conflict when any of its bytes
 * differ (in a list out of order, pieces come page by page, so one overlap
 * may be reported in several parts). None of this runs unless a segment
 * overlaps held pages or, with a retention window, repeats delivered bytes.
 */

#include <string.h>

#include <nettle/sha2.h>

#include "reasm_private.h"

/* One overlap being built from contiguous compared pieces. */
struct overlap_run {
	bool in_order; /* the arriving segment is delivered now, before any held page */
	bool open;
	bool hash; /* the stream has a conflict callback: digests are wanted */
	bool delivered;
	bool kept_arrived;
	uint32_t seq;
	uint32_t len;
	uint32_t differing;
	uint64_t seen;
	struct sha256_ctx kept;
	struct sha256_ctx other;
};

/* Bytes at @p x and @p y that differ. */
static uint32_t
count_differing(const uint8_t *x, const uint8_t *y, uint32_t n)
{
	uint32_t i, d = 0;

	for (i = 0; i < n; i++)
		d += x[i] != y[i];
	return d;
}

/* The overlap is complete: a conflict if any byte differed. */
static void
run_close(struct reasm_assembler *a, struct reasm_conn *conn, struct overlap_run *run)
{
	struct reasm_conn_acct *acct = reasm_conn_acct(a->pool, conn);
	struct reasm_conflict c = {0};

	if (!run->open)
		return;
	run->open = false;
	if (run->differing == 0)
		return;
	reasm_ctr_add(a, REASM_CTR_overlap_conflicts, 1);
	reasm_ctr_add(a, REASM_CTR_overlap_conflict_bytes, run->differing);
	acct->conflicts++;
	acct->conflict_bytes += run->differing;
	if (!run->hash)
		return;
	c.seq = run->seq;
	c.offset_known = conn->next_seq_valid;
	if (c.offset_known)
		c.offset = run->seq - acct->base_seq;
	c.delivered = run->delivered;
	c.kept_arrived = run->kept_arrived;
	c.len = run->len;
	c.differing = run->differing;
	c.seen = run->seen;
	sha256_digest(&run->kept, sizeof(c.kept_sha256), c.kept_sha256);
	sha256_digest(&run->other, sizeof(c.other_sha256), c.other_sha256);
	a->pool->ops->conflict(conn->stream, &c);
}

/*
 * @p n bytes at @p seq compared: the arriving copy @p arrived and the one
 * the stream had @p had; @p kept_arrived says which the stream delivers.
 */
static void
run_add(struct reasm_assembler *a, struct reasm_conn *conn, struct overlap_run *run, uint32_t seq,
	const uint8_t *arrived, const uint8_t *had, uint32_t n, bool kept_arrived, bool delivered)
{
	if (run->open && (run->seq + run->len != seq || run->kept_arrived != kept_arrived ||
			  run->delivered != delivered))
		run_close(a, conn, run);
	if (!run->open) {
		run->open = true;
		run->seq = seq;
		run->len = 0;
		run->differing = 0;
		run->kept_arrived = kept_arrived;
		run->delivered = delivered;
		if (run->hash) {
			sha256_init(&run->kept);
			sha256_init(&run->other);
		}
	}
	run->len += n;
	run->differing += count_differing(arrived, had, n);
	if (run->hash) {
		sha256_update(&run->kept, n, kept_arrived ? arrived : had);
		sha256_update(&run->other, n, kept_arrived ? had : arrived);
	}
}

static void
run_init(const struct reasm_assembler *a, struct overlap_run *run, uint64_t ts, bool in_order)
{
	run->in_order = in_order;
	run->open = false;
	run->hash = a->pool->ops->conflict != NULL;
	run->seen = ts;
}

/*
 * Where page @p p starts relative to @p seg, in bytes (negative: before it).
 * Overlaps are computed in these offsets, modulo 2^32, so they hold for any
 * sequence numbers (gopacket's sequence order is not transitive near the
 * wrap, and only decides the order of the list).
 */
static inline int64_t
page_at(const struct reasm_segment *seg, const struct reasm_page *p)
{
	return (int32_t)(p->seq - seg->seq);
}

/*
 * Compare bytes [@p from, @p to) of @p seg (offsets in it) with held page
 * @p p starting at offset @p at, which delivery would give them: report,
 * and under the last-wins policy let the arrival's bytes win.
 * @p kept_arrived: the segment is delivered first.
 */
static void
compare_piece(struct reasm_assembler *a, struct reasm_conn *conn, const struct reasm_segment *seg,
	      const struct reasm_page *p, int64_t at, int64_t from, int64_t to, bool kept_arrived,
	      struct overlap_run *run)
{
	const uint8_t *held = p->data + (from - at);

	run_add(a, conn, run, seg->seq + (uint32_t)from, seg->payload + from, held,
		(uint32_t)(to - from), kept_arrived, false);
	if (a->overlap_last && !run->in_order)
		memcpy((uint8_t *)(uintptr_t)held, seg->payload + from, (size_t)(to - from));
}

/*
 * Compare @p seg with the held pages from @p p on in delivery order (list
 * order), leaving out the segment's own pages (@p own_first to @p own_last,
 * NULL if it holds none): each position goes to the first page that covers
 * it, as delivery would give it. For a list in sequence order (a list out of
 * order: compare_held_unsorted()).
 */
static void
compare_held(struct reasm_assembler *a, struct reasm_conn *conn, const struct reasm_segment *seg,
	     const struct reasm_page *p, const struct reasm_page *own_first,
	     const struct reasm_page *own_last, struct overlap_run *run)
{
	uint32_t seg_end = seg->seq + seg->len;
	int64_t done = 0; /* offsets before it are settled */
	bool own_passed = false;

	for (; p != NULL && reasm_seq_diff(p->seq, seg_end) > 0; p = p->next) {
		int64_t at, from, to;

		if (p == own_first) {
			own_passed = true;
			p = own_last;
			continue;
		}
		at = page_at(seg, p);
		from = RTE_MAX(at, done);
		to = RTE_MIN(at + p->len, (int64_t)seg->len);
		if (from >= to)
			continue;
		done = to;
		/* Delivered first: in-order data, or pages after the segment's own in the list. */
		compare_piece(a, conn, seg, p, at, from, to,
			      run->in_order || a->overlap_last || own_passed, run);
	}
}

static inline bool
claimed_bit(const uint64_t *claimed, uint32_t i)
{
	return (claimed[i / 64] >> (i % 64)) & 1;
}

/*
 * compare_held() for a list out of sequence order (pages_unsorted): any page
 * may be the first to cover a position, so the whole list is walked, the
 * positions already given to a page marked in the assembler's bitmap, for
 * REASM_OVERLAP_WINDOW positions of the segment at a time.
 */
static void
compare_held_unsorted(struct reasm_assembler *a, struct reasm_conn *conn,
		      const struct reasm_segment *seg, const struct reasm_page *own_first,
		      const struct reasm_page *own_last, struct overlap_run *run)
{
	uint64_t *claimed = a->overlap_claimed;
	int64_t base;

	for (base = 0; base < seg->len; base += REASM_OVERLAP_WINDOW) {
		int64_t win_end = RTE_MIN(base + REASM_OVERLAP_WINDOW, (int64_t)seg->len);
		const struct reasm_page *p;
		bool own_passed = false;

		memset(claimed, 0, REASM_OVERLAP_WINDOW / 8);
		for (p = conn->first; p != NULL; p = p->next) {
			int64_t at = page_at(seg, p);
			uint32_t i, j, n;

			if (p == own_first) {
				own_passed = true;
				p = own_last;
				continue;
			}
			if (RTE_MAX(at, base) >= RTE_MIN(at + p->len, win_end))
				continue;
			/* The runs of the page's part no earlier page took are this page's. */
			i = (uint32_t)(RTE_MAX(at, base) - base);
			n = (uint32_t)(RTE_MIN(at + p->len, win_end) - base);
			for (; i < n; i = j) {
				for (j = i; j < n && !claimed_bit(claimed, j); j++)
					claimed[j / 64] |= 1ull << (j % 64);
				if (j > i)
					compare_piece(a, conn, seg, p, at, base + i, base + j,
						      run->in_order || a->overlap_last ||
							      own_passed,
						      run);
				while (j < n && claimed_bit(claimed, j))
					j++;
			}
		}
	}
}

/* Compare @p seg with the pages held from @p p on (see compare_held()). */
static void
compare_with_pages(struct reasm_assembler *a, struct reasm_conn *conn,
		   const struct reasm_segment *seg, const struct reasm_page *p,
		   const struct reasm_page *own_first, const struct reasm_page *own_last,
		   struct overlap_run *run)
{
	if (unlikely(conn->pages_unsorted))
		compare_held_unsorted(a, conn, seg, own_first, own_last, run);
	else
		compare_held(a, conn, seg, p, own_first, own_last, run);
}

void
reasm_overlap_held(struct reasm_assembler *a, struct reasm_conn *conn,
		   const struct reasm_segment *seg, const struct reasm_page *own_first,
		   const struct reasm_page *own_last, uint64_t ts)
{
	const struct reasm_page *p = own_first->prev;
	struct overlap_run run;

	/* From the first page that can reach it: none starts a page or more before it. */
	while (p != NULL && p->prev != NULL &&
	       reasm_seq_diff(p->prev->seq, seg->seq) < REASM_PAGE_BYTES)
		p = p->prev;
	if (p == NULL)
		p = own_first;
	run_init(a, &run, ts, false);
	compare_with_pages(a, conn, seg, p, own_first, own_last, &run);
	run_close(a, conn, &run);
}

/* The part of in-order @p seg before next_seq that the retention window still holds. */
static void
compare_delivered(struct reasm_assembler *a, struct reasm_conn *conn,
		  const struct reasm_segment *seg, struct overlap_run *run)
{
	const struct reasm_pool *pool = a->pool;
	size_t slot = (size_t)(conn - pool->conns);
	const uint8_t *window = pool->retain + slot * pool->retain_bytes;
	uint32_t mask = pool->retain_bytes - 1;
	/* Offsets in the segment, as in compare_held(). */
	int64_t next = (int32_t)(conn->next_seq - seg->seq);
	int64_t from = RTE_MAX((int64_t)0, next - (int64_t)pool->retained[slot]);
	int64_t to = RTE_MIN((int64_t)seg->len, next);

	while (from < to) {
		uint32_t seq = seg->seq + (uint32_t)from, at = seq & mask;
		uint32_t n = (uint32_t)RTE_MIN(to - from, (int64_t)(pool->retain_bytes - at));

		run_add(a, conn, run, seq, seg->payload + from, window + at, n, false, true);
		from += n;
	}
}

/* A SYN's data starts after the SYN's own sequence number. */
static const struct reasm_segment *
data_of(const struct reasm_segment *seg, struct reasm_segment *syn)
{
	if (!(seg->flags & REASM_TCP_SYN))
		return seg;
	*syn = *seg;
	syn->seq++;
	return syn;
}

void
reasm_overlap_in_order(struct reasm_assembler *a, struct reasm_conn *conn,
		       const struct reasm_segment *seg, uint64_t ts)
{
	struct reasm_segment syn;
	struct overlap_run run;

	seg = data_of(seg, &syn);
	if (seg->len == 0 || reasm_seq_diff(conn->first->seq, seg->seq + seg->len) <= 0)
		return;
	run_init(a, &run, ts, true);
	compare_with_pages(a, conn, seg, conn->first, NULL, NULL, &run);
	run_close(a, conn, &run);
}

void
reasm_overlap_delivered(struct reasm_assembler *a, struct reasm_conn *conn,
			const struct reasm_segment *seg, uint64_t ts)
{
	struct reasm_segment syn;
	struct overlap_run run;

	seg = data_of(seg, &syn);
	run_init(a, &run, ts, true);
	compare_delivered(a, conn, seg, &run);
	run_close(a, conn, &run);
}

void
reasm_retain_record(struct reasm_pool *pool, const struct reasm_conn *conn,
		    const struct reasm_record *rec)
{
	size_t slot = (size_t)(conn - pool->conns);
	uint8_t *window = pool->retain + slot * pool->retain_bytes;
	uint32_t mask = pool->retain_bytes - 1, len = rec->len;
	const uint8_t *bytes = rec->bytes;
	uint32_t seq;

	/* Bytes before a skip or a start are not the ones just before these. */
	if (rec->start || rec->skip != 0)
		pool->retained[slot] = 0;
	if (len > pool->retain_bytes) {
		bytes += len - pool->retain_bytes;
		len = pool->retain_bytes;
	}
	seq = conn->next_seq - len;
	while (len > 0) {
		uint32_t at = seq & mask, n = RTE_MIN(len, pool->retain_bytes - at);

		memcpy(window + at, bytes, n);
		bytes += n;
		seq += n;
		len -= n;
	}
	pool->retained[slot] = RTE_MIN(pool->retained[slot] + rec->len, pool->retain_bytes);
}
