/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The assembler: gopacket tcpassembly's algorithm, step for step, on
 * rte_mempool pages. Function names follow the seed's where they do the
 * same thing (insert_into_conn = insertIntoConn, add_next_from_conn =
 * addNextFromConn, ...) so the two can be read side by side.
 */

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mempool.h>

#include "reasm_private.h"

#define PAGE_HDR_BYTES offsetof(struct reasm_page, data)

/* ---- counters ------------------------------------------------------- */

static inline void
ctr_sub(struct reasm_assembler *a, enum reasm_counter c, uint64_t n)
{
	__atomic_store_n(&a->stats.v[c], a->stats.v[c] - n, __ATOMIC_RELAXED);
}

/* Page gauges may be lowered by another assembler in shared mode. */
static inline void
gauge_add(struct reasm_assembler *a, enum reasm_counter c, uint64_t n)
{
	if (a->shared)
		__atomic_fetch_add(&a->stats.v[c], n, __ATOMIC_RELAXED);
	else
		reasm_ctr_add(a, c, n);
}

static const enum reasm_counter skip_counter[REASM_SKIP_CAUSE_MAX] = {
	[REASM_SKIP_NONE] = REASM_CTR_MAX,
	[REASM_SKIP_START_UNKNOWN] = REASM_CTR_MAX,
	[REASM_SKIP_PAGE_LIMIT] = REASM_CTR_skipped_bytes_page_limit,
	[REASM_SKIP_TOTAL_LIMIT] = REASM_CTR_skipped_bytes_total_limit,
	[REASM_SKIP_NO_PAGE] = REASM_CTR_skipped_bytes_no_page,
	[REASM_SKIP_FLUSH] = REASM_CTR_skipped_bytes_flush,
	[REASM_SKIP_FLUSH_ALL] = REASM_CTR_skipped_bytes_flush_all,
};

/* ---- pages ---------------------------------------------------------- */

/*
 * Page counts follow the page's owner (the assembler that took it from the
 * mempool), so max_pages_total means "pages this assembler holds".
 */
static void
owner_pages_sub(struct reasm_page *page)
{
	struct reasm_assembler *owner = page->owner;

	if (owner->shared) {
		__atomic_fetch_sub(&owner->pages_used, 1, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&owner->stats.v[REASM_CTR_pages_in_use], 1, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&owner->stats.v[REASM_CTR_buffered_bytes], page->len,
				   __ATOMIC_RELAXED);
	} else {
		owner->pages_used--;
		ctr_sub(owner, REASM_CTR_pages_in_use, 1);
		ctr_sub(owner, REASM_CTR_buffered_bytes, page->len);
	}
}

static void
page_put(struct reasm_page *page)
{
	rte_mempool_put(page->owner->page_pool, page);
}

/* ---- delivery ------------------------------------------------------- */

/* Hand the batch to the stream, then free the pages its records pointed into. */
static void
deliver_batch(struct reasm_assembler *a, struct reasm_conn *conn)
{
	struct reasm_batch *b = &a->batch;
	unsigned int i;

	if (b->n > 0)
		a->pool->ops->reassembled(conn->stream, b->rec, b->n);
	for (i = 0; i < b->ndead; i++)
		page_put(b->dead[i]);
	b->n = 0;
	b->ndead = 0;
}

static void
push_record(struct reasm_assembler *a, struct reasm_conn *conn, const struct reasm_record *rec,
	    struct reasm_page *dead)
{
	struct reasm_batch *b = &a->batch;

	if (unlikely(b->n >= b->slow_at)) {
		if (b->n == REASM_MAX_RECORDS_PER_CALL)
			deliver_batch(a, conn);
		if (a->retain)
			reasm_retain_record(a->pool, conn, rec);
	}
	b->rec[b->n++] = *rec;
	if (dead != NULL)
		b->dead[b->ndead++] = dead;
	b->pushed++;
	b->last_end = rec->end;
	a->tally.delivered_records++;
	a->tally.delivered_bytes += rec->len;
}

/*
 * The seed's byteSpan: trim from @bytes what precedes @expected.
 * Returns the offset of the first new byte; *len becomes the new length.
 */
static uint32_t
byte_span(const struct reasm_conn *conn, uint32_t received, uint32_t *len, uint32_t *next)
{
	int64_t span;

	if (!conn->next_seq_valid) {
		*next = reasm_seq_add(received, *len);
		return 0;
	}
	span = reasm_seq_diff(received, conn->next_seq);
	if (span <= 0) {
		*next = reasm_seq_add(received, *len);
		return 0;
	}
	if ((int64_t)*len < span) {
		*next = conn->next_seq;
		*len = 0;
		return 0;
	}
	*len -= (uint32_t)span;
	*next = reasm_seq_add(conn->next_seq, *len);
	return (uint32_t)span;
}

/*
 * The skip of data starting at @seq, as the seed's addNextFromConn sets it:
 * -1 if the stream's start is unknown, the gap to next_seq if any, else 0.
 * Counts skipped bytes under @cause.
 */
static void
set_skip(struct reasm_assembler *a, const struct reasm_conn *conn, uint32_t seq,
	 enum reasm_skip_cause cause, struct reasm_record *rec)
{
	int64_t diff;

	if (!conn->next_seq_valid) {
		rec->skip = -1;
		rec->skip_cause = REASM_SKIP_START_UNKNOWN;
		reasm_ctr_add(a, REASM_CTR_skips_start_unknown, 1);
		reasm_conn_acct(a->pool, conn)->base_seq = seq; /* offsets count from here */
	} else if ((diff = reasm_seq_diff(conn->next_seq, seq)) > 0) {
		rec->skip = diff;
		rec->skip_cause = (uint8_t)cause;
		reasm_conn_acct(a->pool, conn)->skipped_bytes += (uint64_t)diff;
		if (skip_counter[cause] != REASM_CTR_MAX)
			reasm_ctr_add(a, skip_counter[cause], (uint64_t)diff);
	}
}

/* Received bytes trimmed because their sequence was already delivered. */
static inline void
count_overlap(struct reasm_assembler *a, const struct reasm_conn *conn, uint32_t bytes)
{
	if (likely(bytes == 0))
		return;
	reasm_ctr_add(a, REASM_CTR_overlap_bytes, bytes);
	reasm_conn_acct(a->pool, conn)->overlap_bytes += bytes;
}

/* Buffered bytes freed undelivered. */
static void
count_discarded(struct reasm_assembler *a, const struct reasm_conn *conn, uint64_t bytes)
{
	reasm_ctr_add(a, REASM_CTR_discarded_on_close_bytes, bytes);
	reasm_conn_acct(a->pool, conn)->discarded_bytes += bytes;
}

/*
 * Queue a segment straight from the caller's buffer, trimmed against
 * next_seq; @rec carries the skip already set.
 */
static void
push_segment(struct reasm_assembler *a, struct reasm_conn *conn, const struct reasm_segment *seg,
	     uint64_t ts, struct reasm_record *rec)
{
	uint32_t len = seg->len, next;
	uint32_t off = byte_span(conn, seg->seq, &len, &next);

	count_overlap(a, conn, seg->len - len);
	conn->next_seq = next;
	conn->next_seq_valid = true;
	rec->bytes = seg->payload + off;
	rec->len = len;
	rec->end = (seg->flags & (REASM_TCP_FIN | REASM_TCP_RST)) != 0;
	rec->seen = ts;
	push_record(a, conn, rec, NULL);
}

/* The seed's addNextFromConn: deliver the first page, skipping up to it. */
static void
add_next_from_conn(struct reasm_assembler *a, struct reasm_conn *conn, enum reasm_skip_cause cause)
{
	struct reasm_page *page = conn->first;
	struct reasm_record rec = {0};
	uint32_t len = page->len, next, off;

	set_skip(a, conn, page->seq, cause, &rec);
	off = byte_span(conn, page->seq, &len, &next);
	count_overlap(a, conn, page->len - len);
	conn->next_seq = next;
	conn->next_seq_valid = true;
	rec.bytes = page->data + off;
	rec.len = len;
	rec.end = page->end;
	rec.seen = page->seen;

	conn->first = page->next;
	if (conn->first == NULL) {
		conn->last = NULL;
		conn->pages_unsorted = 0;
	} else
		conn->first->prev = NULL;
	conn->npages--;
	owner_pages_sub(page);
	push_record(a, conn, &rec, page);
}

static void
add_contiguous(struct reasm_assembler *a, struct reasm_conn *conn)
{
	while (conn->first != NULL && conn->next_seq_valid &&
	       reasm_seq_diff(conn->next_seq, conn->first->seq) <= 0)
		add_next_from_conn(a, conn, REASM_SKIP_NONE);
}

/* The seed's closeConnection. */
static void
close_connection(struct reasm_assembler *a, struct reasm_conn *conn, enum reasm_counter why)
{
	struct reasm_stream_totals totals;
	struct reasm_page *page, *next;
	uint64_t discarded = 0;

	/* Pages still held past the FIN/RST are discarded first, so the totals show it. */
	for (page = conn->first; page != NULL; page = next) {
		next = page->next;
		discarded += page->len;
		owner_pages_sub(page);
		page_put(page);
	}
	conn->first = conn->last = NULL;
	conn->npages = 0;
	if (discarded > 0)
		count_discarded(a, conn, discarded);
	reasm_conn_totals(a->pool, conn, &totals);
	a->pool->ops->complete(conn->stream, &totals);
	if (unlikely(a->pool->convs != NULL))
		reasm_conv_unlink(a->pool, conn, &totals);
	reasm_ctr_add(a, why, 1);
	reasm_pool_remove(a->pool, conn);
}

/* The seed's sendToConnection. */
static void
send_to_connection(struct reasm_assembler *a, struct reasm_conn *conn, enum reasm_counter why)
{
	add_contiguous(a, conn);
	deliver_batch(a, conn);
	if (a->batch.last_end)
		close_connection(a, conn, why);
	else
		reasm_pool_paged_update(a->pool, conn);
}

/* ---- buffering out-of-order data ------------------------------------ */

static unsigned int
pages_for(uint32_t len)
{
	return len == 0 ? 1 : (len + REASM_PAGE_BYTES - 1) / REASM_PAGE_BYTES;
}

/* Take @n pages and fill them with the segment; false if the mempool is short. */
static bool
pages_from_segment(struct reasm_assembler *a, const struct reasm_segment *seg, uint64_t ts,
		   unsigned int n, struct reasm_page **first, struct reasm_page **last)
{
	struct reasm_page *pages[64];
	unsigned int i, chunk;
	uint32_t off = 0;
	struct reasm_page *prev = NULL;

	*first = NULL;
	for (i = 0; i < n; i += chunk) {
		chunk = RTE_MIN(n - i, RTE_DIM(pages));
		if (rte_mempool_get_bulk(a->page_pool, (void **)pages, chunk) < 0) {
			/* Give back what this segment already took. */
			for (struct reasm_page *p = *first; p != NULL;) {
				struct reasm_page *nx = p->next;
				rte_mempool_put(a->page_pool, p);
				p = nx;
			}
			return false;
		}
		for (unsigned int j = 0; j < chunk; j++) {
			struct reasm_page *p = pages[j];
			uint32_t len = RTE_MIN(seg->len - off, (uint32_t)REASM_PAGE_BYTES);

			p->prev = prev;
			p->next = NULL;
			p->owner = a;
			p->seen = ts;
			p->seq = reasm_seq_add(seg->seq, off);
			p->len = (uint16_t)len;
			p->end = false;
			if (len > 0)
				memcpy(p->data, seg->payload + off, len);
			off += len;
			if (prev != NULL)
				prev->next = p;
			else
				*first = p;
			prev = p;
		}
	}
	prev->end = (seg->flags & (REASM_TCP_FIN | REASM_TCP_RST)) != 0;
	*last = prev;
	return true;
}

/*
 * The seed's pushBetween after traverseConn: insert after the last page with
 * seq <= @seq. A segment's pages go in as one block, so a block longer than
 * a page can reach past pages after it: the list is then out of sequence
 * order (delivery follows the list, as gopacket's does).
 */
static void
link_pages(struct reasm_conn *conn, uint32_t seq, struct reasm_page *first, struct reasm_page *last)
{
	struct reasm_page *prev = conn->last, *next = NULL;

	while (prev != NULL && reasm_seq_diff(prev->seq, seq) < 0) {
		next = prev;
		prev = prev->prev;
	}
	if (next == NULL || conn->last == NULL) {
		conn->last = last;
	} else {
		last->next = next;
		next->prev = last;
		if (reasm_seq_diff(next->seq, last->seq) > 0) /* the block reaches past it */
			conn->pages_unsorted = 1;
	}
	if (prev == NULL || conn->first == NULL) {
		conn->first = first;
	} else {
		first->prev = prev;
		prev->next = first;
	}
}

/*
 * The page mempool is empty and this connection holds no page: give up on
 * its hole and deliver the segment straight from the caller's buffer.
 * Nothing received is dropped; only the hole is skipped.
 */
static void
deliver_without_pages(struct reasm_assembler *a, struct reasm_conn *conn,
		      const struct reasm_segment *seg, uint64_t ts)
{
	struct reasm_record rec = {0};

	set_skip(a, conn, seg->seq, REASM_SKIP_NO_PAGE, &rec);
	push_segment(a, conn, seg, ts, &rec);
}

/* The seed's insertIntoConn. */
static void
insert_into_conn(struct reasm_assembler *a, struct reasm_conn *conn,
		 const struct reasm_segment *seg, uint64_t ts)
{
	unsigned int n = pages_for(seg->len);
	struct reasm_page *first, *last;

	while (!pages_from_segment(a, seg, ts, n, &first, &last)) {
		reasm_ctr_add(a, REASM_CTR_pages_alloc_failed, 1);
		if (conn->first == NULL) {
			deliver_without_pages(a, conn, seg, ts);
			return;
		}
		/*
		 * Skip to this connection's own first page and deliver now, so
		 * its pages go back to the mempool, then try again.
		 */
		add_next_from_conn(a, conn, REASM_SKIP_NO_PAGE);
		add_contiguous(a, conn);
		deliver_batch(a, conn);
	}
	link_pages(conn, seg->seq, first, last);
	if (unlikely(first->prev != NULL || last->next != NULL) && seg->len > 0)
		reasm_overlap_held(a, conn, seg, first, last, ts);
	conn->npages += n;
	if (a->shared)
		__atomic_fetch_add(&a->pages_used, n, __ATOMIC_RELAXED);
	else
		a->pages_used += n;
	gauge_add(a, REASM_CTR_pages_in_use, n);
	gauge_add(a, REASM_CTR_buffered_bytes, seg->len);

	if (a->max_pages_per_conn > 0 && conn->npages >= a->max_pages_per_conn)
		add_next_from_conn(a, conn, REASM_SKIP_PAGE_LIMIT);
	else if (a->max_pages_total > 0 &&
		 __atomic_load_n(&a->pages_used, __ATOMIC_RELAXED) >= a->max_pages_total)
		add_next_from_conn(a, conn, REASM_SKIP_TOTAL_LIMIT);
}

/* ---- the entry points ----------------------------------------------- */

static void
conn_unlock(struct reasm_assembler *a, struct reasm_conn *conn)
{
	if (a->shared)
		rte_spinlock_unlock(&conn->lock);
}

/*
 * In-order @p seg while the stream holds pages or keeps delivered bytes:
 * compare what it repeats of the delivered bytes, and what it overlaps of
 * the pages.
 */
static __rte_noinline void
overlap_in_order(struct reasm_assembler *a, struct reasm_conn *conn,
		 const struct reasm_segment *seg, uint64_t ts)
{
	if (a->retain && reasm_seq_diff(seg->seq, conn->next_seq) > 0)
		reasm_overlap_delivered(a, conn, seg, ts);
	if (conn->first != NULL)
		reasm_overlap_in_order(a, conn, seg, ts);
}

/* The seed's AssembleWithTimestamp, once the connection is known. */
static void
assemble_into(struct reasm_assembler *a, struct reasm_conn *conn, const struct reasm_segment *seg,
	      uint64_t ts)
{
	a->batch.pushed = 0;
	a->batch.last_end = false;
	conn->received_bytes += seg->len;
	reasm_pool_touch(a->pool, conn, ts);
	if (!conn->next_seq_valid) {
		if (seg->flags & REASM_TCP_SYN) {
			struct reasm_record rec = {0};

			rec.bytes = seg->payload;
			rec.len = seg->len;
			rec.start = true;
			rec.seen = ts;
			conn->next_seq = reasm_seq_add(seg->seq, (int64_t)seg->len + 1);
			conn->next_seq_valid = true;
			reasm_conn_acct(a->pool, conn)->base_seq = reasm_seq_add(seg->seq, 1);
			push_record(a, conn, &rec, NULL);
			if (unlikely(conn->first != NULL)) /* its data over pages held before */
				reasm_overlap_in_order(a, conn, seg, ts);
		} else {
			insert_into_conn(a, conn, seg, ts);
		}
	} else if (reasm_seq_diff(conn->next_seq, seg->seq) > 0) {
		insert_into_conn(a, conn, seg, ts);
	} else {
		struct reasm_record rec = {0};

		if (unlikely(((uintptr_t)conn->first | a->retain) != 0)) /* one branch */
			overlap_in_order(a, conn, seg, ts);
		push_segment(a, conn, seg, ts, &rec);
	}
	if (a->batch.pushed > 0)
		send_to_connection(a, conn, REASM_CTR_conns_closed_fin);
	else
		reasm_pool_paged_update(a->pool, conn);
}

/* The encapsulation of the frame @p seg came in, if the burst path parsed it. */
static const struct reasm_encap *
frame_encap(const struct reasm_assembler *a, const struct reasm_segment *seg)
{
	if (!a->in_burst)
		return NULL;
	return &((const struct reasm_parsed *)((const uint8_t *)seg -
					       offsetof(struct reasm_parsed, seg)))
			->encap;
}

/* A packet reasm_conv_fast() leaves: reasm_conv_packet() with its frame's encapsulation. */
static __rte_noinline void
conv_packet(struct reasm_assembler *a, const struct reasm_flow *flow, const struct reasm_conn *dir,
	    const struct reasm_segment *seg, uint64_t ts)
{
	struct reasm_convs *cs = a->pool->convs;

	cs->open_conv = reasm_conv_packet(a, flow, dir, seg, ts, frame_encap(a, seg),
					  &cs->open_half);
}

/* Whether two keys are equal: five 8-byte words (no call, unlike memcmp). */
static inline bool
flow_equal(const struct reasm_flow *x, const struct reasm_flow *y)
{
	uint64_t a[5], b[5];

	memcpy(a, x, sizeof(a));
	memcpy(b, y, sizeof(b));
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
}

const struct reasm_conn *
reasm_conv_step(struct reasm_assembler *a, const struct reasm_flow *flow, int32_t pos,
		bool pos_final, const struct reasm_segment *seg, uint64_t ts)
{
	const struct reasm_pool *pool = a->pool;
	const struct reasm_conn *dir = NULL;

	if (pos >= 0 && (uint32_t)pos < pool->max_conns &&
	    (pos_final || (pool->conns[pos].in_use && flow_equal(&pool->conns[pos].key, flow))))
		dir = &pool->conns[pos];
	if (!reasm_conv_fast(pool->convs, dir, seg, ts))
		conv_packet(a, flow, dir, seg, ts);
	return dir;
}

int
reasm_assemble_conn(struct reasm_assembler *a, const struct reasm_flow *flow, uint32_t hash,
		    int32_t pos, bool pos_final, const struct reasm_segment *seg, uint64_t ts)
{
	bool create = (seg->flags & REASM_TCP_SYN) || seg->len > 0;
	struct reasm_conn *conn = NULL;
	int err = 0;

	a->tally.segs++;
	a->tally.payload_bytes += seg->len;
	if (!(seg->flags & (REASM_TCP_SYN | REASM_TCP_FIN | REASM_TCP_RST)) && seg->len == 0) {
		reasm_ctr_add(a, REASM_CTR_segs_ignored_empty, 1);
		return 0;
	}
	if (pos_final) {
		/* The bulk lookup's answer still stands: no check, no second lookup. */
		if (pos >= 0)
			conn = &a->pool->conns[pos];
		else if (create)
			conn = reasm_pool_add(a->pool, flow, hash, ts, &err, frame_encap(a, seg));
	} else {
		if (pos >= 0)
			conn = reasm_pool_conn_at(a->pool, pos, flow);
		if (conn == NULL)
			conn = reasm_pool_get(a->pool, flow, hash, create, ts, &err,
					      create ? frame_encap(a, seg) : NULL);
	}
	if (err == 1)
		reasm_ctr_add(a, REASM_CTR_conns_opened, 1);
	if (conn == NULL) {
		if (err == -ENOSPC) {
			reasm_ctr_add(a, REASM_CTR_table_full_pkts, 1);
			reasm_ctr_add(a, REASM_CTR_table_full_bytes, seg->len);
			return -ENOSPC;
		}
		reasm_ctr_add(a, REASM_CTR_segs_no_conn, 1);
		return 0;
	}
	if (unlikely(seg->cut != 0))
		reasm_conn_acct(a->pool, conn)->cut_bytes += seg->cut;
	assemble_into(a, conn, seg, ts);
	conn_unlock(a, conn);
	return 0;
}

int
reasm_assemble(struct reasm_assembler *a, const struct reasm_flow *flow,
	       const struct reasm_segment *seg, uint64_t ts_ns)
{
	int rc;

	if (a == NULL || flow == NULL || seg == NULL || (seg->len > 0 && seg->payload == NULL))
		return -EINVAL;
	if (unlikely(a->pool->convs != NULL))
		(void)reasm_conv_step(a, flow, -1, false, seg, ts_ns);
	rc = reasm_assemble_conn(a, flow, reasm_flow_hash_inline(flow), -1, false, seg, ts_ns);
	reasm_tally_publish(a);
	return rc;
}

/* ---- flushing ------------------------------------------------------- */

/* The seed's skipFlush. */
static void
skip_flush(struct reasm_assembler *a, struct reasm_conn *conn, enum reasm_skip_cause cause)
{
	if (conn->first == NULL) {
		close_connection(a, conn, REASM_CTR_conns_closed_flush);
		return;
	}
	a->batch.pushed = 0;
	a->batch.last_end = false;
	add_next_from_conn(a, conn, cause);
	send_to_connection(a, conn, REASM_CTR_conns_closed_flush);
}

/* Lock the connection at @idx if it is still open. */
static struct reasm_conn *
conn_lock_open(struct reasm_assembler *a, uint32_t idx)
{
	struct reasm_conn *conn = &a->pool->conns[idx];

	if (a->shared)
		rte_spinlock_lock(&conn->lock);
	if (conn->in_use)
		return conn;
	conn_unlock(a, conn);
	return NULL;
}

/* One connection of FlushOlderThan; returns 1 if it was flushed or closed. */
static unsigned int
flush_conn_older_than(struct reasm_assembler *a, struct reasm_conn *conn, uint64_t t,
		      unsigned int *closes)
{
	bool flushed = false;

	while (conn->first != NULL && conn->first->seen < t) {
		skip_flush(a, conn, REASM_SKIP_FLUSH);
		flushed = true;
		if (!conn->in_use) {
			(*closes)++;
			return 1;
		}
	}
	if (conn->first == NULL && __atomic_load_n(&conn->last_seen, __ATOMIC_RELAXED) < t) {
		close_connection(a, conn, REASM_CTR_conns_closed_flush);
		(*closes)++;
		flushed = true;
	}
	return flushed ? 1 : 0;
}

unsigned int
reasm_flush_older_than(struct reasm_assembler *a, uint64_t t_ns, unsigned int *closed)
{
	unsigned int flushes = 0, closes = 0, n, i;
	struct reasm_conn *conn;

	n = reasm_pool_snapshot(a->pool, true, t_ns, a->snapshot, a->pool->max_conns);
	for (i = 0; i < n; i++) {
		conn = conn_lock_open(a, a->snapshot[i]);
		if (conn == NULL)
			continue;
		flushes += flush_conn_older_than(a, conn, t_ns, &closes);
		conn_unlock(a, conn);
	}
	if (unlikely(a->pool->convs != NULL)) /* after their directions, which close first */
		reasm_convs_flush(a, false, t_ns);
	reasm_tally_publish(a);
	if (closed != NULL)
		*closed = closes;
	return flushes;
}

unsigned int
reasm_flush_all(struct reasm_assembler *a)
{
	unsigned int n, i, closes = 0;
	struct reasm_conn *conn;

	n = reasm_pool_snapshot(a->pool, false, 0, a->snapshot, a->pool->max_conns);
	for (i = 0; i < n; i++) {
		conn = conn_lock_open(a, a->snapshot[i]);
		if (conn == NULL)
			continue;
		while (conn->in_use)
			skip_flush(a, conn, REASM_SKIP_FLUSH_ALL);
		closes++;
		conn_unlock(a, conn);
	}
	if (unlikely(a->pool->convs != NULL))
		reasm_convs_flush(a, true, 0);
	reasm_defrag_drop_all(a); /* datagrams still incomplete will not complete now */
	reasm_tally_publish(a);
	return closes;
}

/* ---- create / free / stats ------------------------------------------ */

size_t
reasm_page_size(void)
{
	return sizeof(struct reasm_page);
}

struct rte_mempool *
reasm_page_pool_create(const char *name, unsigned int n_pages, unsigned int cache_size,
		       int socket_id)
{
	return rte_mempool_create(name, n_pages, sizeof(struct reasm_page), cache_size, 0, NULL,
				  NULL, NULL, NULL, socket_id, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
}

struct reasm_assembler *
reasm_assembler_create(const struct reasm_assembler_conf *conf)
{
	struct reasm_assembler *a;
	struct reasm_pool *pool;
	int rc;

	if (conf == NULL || conf->pool == NULL || conf->page_pool == NULL) {
		REASM_LOG(ERR, "assembler: pool and page_pool are required");
		rte_errno = EINVAL;
		return NULL;
	}
	pool = conf->pool;
	if (conf->overlap_policy != REASM_OVERLAP_FIRST &&
	    conf->overlap_policy != REASM_OVERLAP_LAST) {
		REASM_LOG(ERR, "assembler: unknown overlap policy %d", (int)conf->overlap_policy);
		rte_errno = EINVAL;
		return NULL;
	}
	if (conf->page_pool->elt_size < sizeof(struct reasm_page)) {
		REASM_LOG(ERR, "assembler: page_pool elements of %u bytes, %zu needed",
			  conf->page_pool->elt_size, sizeof(struct reasm_page));
		rte_errno = EINVAL;
		return NULL;
	}
	if (pool->mode == REASM_POOL_SINGLE_WRITER &&
	    __atomic_load_n(&pool->assemblers, __ATOMIC_RELAXED) > 0) {
		REASM_LOG(ERR, "assembler: pool %s is single-writer and already has an assembler",
			  pool->name);
		rte_errno = EINVAL;
		return NULL;
	}
	a = rte_zmalloc_socket("reasm_assembler", sizeof(*a), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (a == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	a->snapshot = rte_malloc_socket("reasm_snapshot", sizeof(uint32_t) * pool->max_conns, 0,
					conf->socket_id);
	a->scratch = rte_malloc_socket("reasm_scratch", REASM_SCRATCH_BYTES, 0, conf->socket_id);
	a->overlap_claimed = rte_malloc_socket("reasm_overlap", REASM_OVERLAP_WINDOW / 8, 0,
					       conf->socket_id);
	if (a->snapshot == NULL || a->scratch == NULL || a->overlap_claimed == NULL) {
		rte_free(a->snapshot);
		rte_free(a->scratch);
		rte_free(a->overlap_claimed);
		rte_free(a);
		rte_errno = ENOMEM;
		return NULL;
	}
	a->pool = pool;
	a->page_pool = conf->page_pool;
	rc = reasm_defrag_create(a, &conf->defrag, conf->socket_id);
	if (rc < 0) {
		reasm_defrag_free(a);
		rte_free(a->snapshot);
		rte_free(a->scratch);
		rte_free(a->overlap_claimed);
		rte_free(a);
		rte_errno = -rc;
		return NULL;
	}
	a->overlap_last = conf->overlap_policy == REASM_OVERLAP_LAST;
	a->retain = pool->retain != NULL;
	a->batch.slow_at = a->retain ? 0 : REASM_MAX_RECORDS_PER_CALL;
	a->max_pages_total = conf->max_pages_total;
	a->max_pages_per_conn = conf->max_pages_per_conn;
	a->shared = pool->mode == REASM_POOL_SHARED;
	__atomic_fetch_add(&pool->assemblers, 1, __ATOMIC_RELAXED);
	return a;
}

/* Return the pages @a took that connections of its pool still hold. */
static void
drop_owned_pages(struct reasm_assembler *a)
{
	struct reasm_pool *pool = a->pool;
	unsigned int n, i;

	n = reasm_pool_snapshot_paged(pool, a->snapshot, pool->max_conns);
	for (i = 0; i < n; i++) {
		struct reasm_conn *conn = conn_lock_open(a, a->snapshot[i]);
		struct reasm_page *page, *next;

		if (conn == NULL)
			continue;
		for (page = conn->first; page != NULL; page = next) {
			next = page->next;
			if (page->owner != a)
				continue;
			if (page->prev != NULL)
				page->prev->next = page->next;
			else
				conn->first = page->next;
			if (page->next != NULL)
				page->next->prev = page->prev;
			else
				conn->last = page->prev;
			conn->npages--;
			count_discarded(a, conn, page->len);
			owner_pages_sub(page);
			page_put(page);
		}
		reasm_pool_paged_update(pool, conn);
		conn_unlock(a, conn);
	}
}

void
reasm_assembler_free(struct reasm_assembler *a)
{
	if (a == NULL)
		return;
	drop_owned_pages(a);
	reasm_defrag_free(a);
	__atomic_fetch_sub(&a->pool->assemblers, 1, __ATOMIC_RELAXED);
	rte_free(a->snapshot);
	rte_free(a->scratch);
	rte_free(a->overlap_claimed);
	rte_free(a);
}

void
reasm_assembler_stage_timing(struct reasm_assembler *a, bool on)
{
	__atomic_store_n(&a->time_stages, on, __ATOMIC_RELAXED);
}

void
reasm_assembler_stages(const struct reasm_assembler *a, struct reasm_stage_stats *st)
{
	const struct reasm_stage_stats *s = &a->stages;

	st->bursts = __atomic_load_n(&s->bursts, __ATOMIC_RELAXED);
	st->chunks = __atomic_load_n(&s->chunks, __ATOMIC_RELAXED);
	st->pkts = __atomic_load_n(&s->pkts, __ATOMIC_RELAXED);
	st->parse_cycles = __atomic_load_n(&s->parse_cycles, __ATOMIC_RELAXED);
	st->lookup_cycles = __atomic_load_n(&s->lookup_cycles, __ATOMIC_RELAXED);
	st->assemble_cycles = __atomic_load_n(&s->assemble_cycles, __ATOMIC_RELAXED);
}

void
reasm_assembler_stats(const struct reasm_assembler *a, struct reasm_stats *stats)
{
	unsigned int i;

	for (i = 0; i < REASM_CTR_MAX; i++)
		stats->v[i] = __atomic_load_n(&a->stats.v[i], __ATOMIC_RELAXED);
}

uint32_t
reasm_assembler_pages_in_use(const struct reasm_assembler *a)
{
	return __atomic_load_n(&a->pages_used, __ATOMIC_RELAXED);
}

/* ---- introspection -------------------------------------------------- */

static void
top_insert(struct reasm_conn_info *out, unsigned int *n, unsigned int max,
	   const struct reasm_conn_info *info)
{
	unsigned int i;

	if (*n == max && out[max - 1].pages >= info->pages)
		return;
	i = *n < max ? (*n)++ : max - 1;
	while (i > 0 && out[i - 1].pages < info->pages) {
		out[i] = out[i - 1];
		i--;
	}
	out[i] = *info;
}

unsigned int
reasm_assembler_top_conns(struct reasm_assembler *a, struct reasm_conn_info *out, unsigned int max)
{
	unsigned int n = 0, i, count;

	if (a == NULL || out == NULL || max == 0)
		return 0;
	count = reasm_pool_snapshot_paged(a->pool, a->snapshot, a->pool->max_conns);
	for (i = 0; i < count; i++) {
		struct reasm_conn *conn = conn_lock_open(a, a->snapshot[i]);
		struct reasm_conn_info info = {0};

		if (conn == NULL)
			continue;
		info.flow = conn->key;
		info.pages = conn->npages;
		info.last_seen = conn->last_seen;
		reasm_conn_totals(a->pool, conn, &info.totals);
		conn_unlock(a, conn);
		top_insert(out, &n, max, &info);
	}
	return n;
}
