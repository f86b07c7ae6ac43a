/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Shared by the libFuzzer harnesses (fuzz_burst.c, fuzz_segments.c): EAL set-up,
 * an input reader, the per-input rig (pool, one or two assemblers, page
 * mempools, all chosen by the input's first bytes), stream callbacks that check
 * what they get, and the invariants checked after every operation. Any
 * violation calls abort(), which libFuzzer reports as a crash.
 *
 * In this build the library's rte_malloc/rte_free calls land on the C heap
 * (fuzz_alloc.c), so ASan guards its own structures as well as the payloads,
 * frames and record bytes the harnesses hand it or read from it.
 *
 * Input header (FUZZ_CONF_BYTES bytes, read by fuzz_rig_setup):
 *   c0  max_conns = 8 + c0 % 57                    (8..64)
 *   c1  pages in each page mempool = 16 + c1 % 241 (16..256)
 *   c2  max_pages_per_conn = c2 % 32               (0 = unlimited); bit 5 overlap
 *       policy REASM_OVERLAP_LAST; bit 6 retain_bytes 64 (delivered bytes compared)
 *   c3  max_pages_total = c3 < 128 ? 0 : c3 % 128  (0 = unlimited)
 *   c4  bit 0 shared pool; bit 1 two assemblers on it (shared only);
 *       bit 2 the second assembler has its own page mempool;
 *       bit 3 end the input by freeing without reasm_flush_all;
 *       bits 4-5 mempool cache size {0, 0, 2, 8}; bit 6 per-stream area;
 *       bit 7 burst timestamps: NULL (now_ns for all) instead of an array
 *   c5  stream_priv_size = 1 + c5 % 64 (with c4 bit 6); bit 7 IP defragmentation on
 *       (4 datagrams, 8 fragments each, a quarter of the pages, 1 µs timeout)
 * The harness-specific operations follow.
 */
#ifndef REASM_FUZZ_COMMON_H
#define REASM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_mempool.h>

#include "reasm.h"

#define FUZZ_CHECK(cond, ...)                                                                    \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "\n*** invariant violated at %s:%d: %s\n    ", __FILE__, \
				__LINE__, #cond);                                                \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/*
 * Byte loops of the harnesses (reading every delivered byte, generating and
 * checking payloads) are not coverage-instrumented: their comparisons say
 * nothing about the library and would take most of the time. ASan still
 * checks their reads.
 */
#if defined(__clang__) && __clang_major__ >= 13
#define FUZZ_NOCOV __attribute__((no_sanitize("coverage"), noinline))
#else
#define FUZZ_NOCOV
#endif

/* Read the @n bytes at @p (memcpy: ASan checks the whole range at once). */
static FUZZ_NOCOV uint64_t
fuzz_read_all(const uint8_t *p, uint32_t n)
{
	static uint8_t sink[4096];
	uint64_t sum = 0;
	uint32_t off, c;

	for (off = 0; off < n; off += c) {
		c = RTE_MIN(n - off, (uint32_t)sizeof(sink));
		memcpy(sink, p + off, c);
		sum += sink[0] + sink[c - 1];
	}
	return sum;
}

/*
 * Checks a run may skip, to keep fuzzing past a known and reported bug:
 * REASM_FUZZ_ALLOW=name[,name...] with the names the harnesses give
 * fuzz_allowed(). Never set by scripts/fuzz.
 */
static inline bool
fuzz_allowed(const char *name)
{
	static const char *allow;
	static bool read;

	if (!read) {
		allow = getenv("REASM_FUZZ_ALLOW");
		read = true;
	}
	return allow != NULL && strstr(allow, name) != NULL;
}

/* ---- EAL ------------------------------------------------------------ */

/* The drop_* counters: pkts == pkts_tcp + their sum. */
static bool is_drop[REASM_CTR_MAX];

/* Once per process (LLVMFuzzerInitialize). */
static void
fuzz_eal_init(const char *argv0)
{
	char prefix[64];
	char *args[] = {(char *)argv0,       "--no-huge",      "-m",          "512",
			"--no-pci",          prefix,           "-l",          "0",
			"--log-level=error", "--no-telemetry", "--no-shconf", NULL};

	snprintf(prefix, sizeof(prefix), "--file-prefix=fuzz%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(args) - 1, args) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		abort();
	}
	for (unsigned int j = 0; j < REASM_CTR_MAX; j++)
		is_drop[j] = strncmp(reasm_counter_name(j), "drop_", 5) == 0;
	/*
	 * With --no-shconf nothing is written to the runtime folder: remove it
	 * now, so that not even a crash leaves it behind.
	 */
	rmdir(rte_eal_get_runtime_dir());
}

/* ---- the input ------------------------------------------------------ */

struct fin {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t
fin_u8(struct fin *f)
{
	if (f->n == 0)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t
fin_u16(struct fin *f)
{
	uint16_t lo = fin_u8(f);

	return (uint16_t)(lo | (uint16_t)fin_u8(f) << 8);
}

static inline uint32_t
fin_u32(struct fin *f)
{
	uint32_t lo = fin_u16(f);

	return lo | (uint32_t)fin_u16(f) << 16;
}

/* Up to @want bytes in place; *got says how many. */
static inline const uint8_t *
fin_bytes(struct fin *f, size_t want, size_t *got)
{
	const uint8_t *p = f->p;

	*got = want < f->n ? want : f->n;
	f->p += *got;
	f->n -= *got;
	return p;
}

/* ---- streams: what the callbacks saw --------------------------------- */

struct fstream {
	struct fstream *next; /* every stream of this input, for freeing */
	struct reasm_flow flow;
	uint32_t id;
	bool open;
	bool last_end; /* the last record it got had end set */
	uint64_t nrec;
	uint8_t *priv;
	int key;        /* harness key index, or -1 */
	bool pos_known; /* reference check: position of the next byte known */
	uint32_t next_pos;
	uint64_t bytes;                     /* record bytes it got */
	uint64_t skipped;                   /* sum of its positive skips */
	uint64_t conflicts, conflict_bytes; /* what its conflict() calls said */
};

#define FUZZ_MAX_OPEN 256

struct fuzz_state {
	struct fstream *all;
	struct fstream *open[FUZZ_MAX_OPEN];
	unsigned int n_open;
	uint32_t next_id;
	uint32_t priv_size;
	uint64_t opens, completes, records, bytes, skip_unknown;
	uint64_t received_closed; /* received_bytes of every complete()'s totals */
	uint64_t skipped[REASM_SKIP_CAUSE_MAX];
	uint64_t ts_min, ts_max; /* timestamps given to the library so far */
	uint64_t checksum;       /* every delivered byte is read into it */
	/* Harness hooks (may be NULL). */
	int (*key_of)(const struct reasm_flow *flow);
	void (*on_record)(struct fstream *s, const struct reasm_record *r);
};

static struct fuzz_state S;

static void
priv_check(const struct fstream *s)
{
	uint32_t i;

	if (s->priv == NULL)
		return;
	for (i = 0; i < S.priv_size; i++)
		FUZZ_CHECK(s->priv[i] == (uint8_t)(s->id + i),
			   "stream %u: per-stream area byte %u "
			   "overwritten (shared with another stream?)",
			   s->id, i);
}

static void *
cb_open(void *factory_ctx, const struct reasm_flow *flow, void *priv)
{
	struct fstream *s;
	unsigned int i;

	FUZZ_CHECK(factory_ctx == &S, "factory_ctx %p", factory_ctx);
	for (i = 0; i < S.n_open; i++)
		FUZZ_CHECK(memcmp(&S.open[i]->flow, flow, sizeof(*flow)) != 0,
			   "open() for a direction already open (stream %u)", S.open[i]->id);
	FUZZ_CHECK(S.n_open < FUZZ_MAX_OPEN, "more than %d streams open", FUZZ_MAX_OPEN);
	FUZZ_CHECK((priv != NULL) == (S.priv_size > 0), "priv %p with priv_size %u", priv,
		   S.priv_size);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		abort();
	s->flow = *flow;
	s->id = S.next_id++;
	s->open = true;
	s->priv = priv;
	s->key = S.key_of != NULL ? S.key_of(flow) : -1;
	for (i = 0; i < S.priv_size; i++) {
		FUZZ_CHECK(s->priv[i] == 0, "per-stream area not zeroed at byte %u", i);
		s->priv[i] = (uint8_t)(s->id + i);
	}
	s->next = S.all;
	S.all = s;
	S.open[S.n_open++] = s;
	S.opens++;
	return s;
}

static void
cb_reassembled(void *stream, const struct reasm_record *recs, unsigned int n)
{
	struct fstream *s = stream;
	unsigned int i;

	FUZZ_CHECK(s != NULL && s->open, "reassembled() on a stream not open");
	FUZZ_CHECK(n >= 1 && n <= REASM_MAX_RECORDS_PER_CALL, "reassembled() with %u records", n);
	priv_check(s);
	for (i = 0; i < n; i++) {
		const struct reasm_record *r = &recs[i];

		FUZZ_CHECK(r->len == 0 || r->bytes != NULL, "record of %u bytes at NULL", r->len);
		S.checksum += fuzz_read_all(r->bytes, r->len); /* ASan checks every byte */
		if (s->nrec == 0)
			FUZZ_CHECK(r->start != (r->skip == -1),
				   "stream %u first record: start %d "
				   "skip %lld (exactly one of start / skip -1 expected)",
				   s->id, r->start, (long long)r->skip);
		else
			FUZZ_CHECK(!r->start && r->skip != -1,
				   "stream %u record %llu: start %d "
				   "skip %lld after the first record",
				   s->id, (unsigned long long)s->nrec, r->start,
				   (long long)r->skip);
		FUZZ_CHECK(r->skip >= -1, "skip %lld", (long long)r->skip);
		if (r->skip == 0)
			FUZZ_CHECK(r->skip_cause == REASM_SKIP_NONE, "skip 0 with cause %u",
				   r->skip_cause);
		else if (r->skip == -1)
			FUZZ_CHECK(r->skip_cause == REASM_SKIP_START_UNKNOWN,
				   "skip -1 with cause %u", r->skip_cause);
		else
			FUZZ_CHECK(r->skip_cause > REASM_SKIP_START_UNKNOWN &&
					   r->skip_cause < REASM_SKIP_CAUSE_MAX,
				   "skip %lld with cause %u", (long long)r->skip, r->skip_cause);
		FUZZ_CHECK(r->seen >= S.ts_min && r->seen <= S.ts_max,
			   "seen %llu outside the timestamps given [%llu, %llu]",
			   (unsigned long long)r->seen, (unsigned long long)S.ts_min,
			   (unsigned long long)S.ts_max);
		if (r->skip == -1)
			S.skip_unknown++;
		else if (r->skip > 0)
			S.skipped[r->skip_cause] += (uint64_t)r->skip;
		S.records++;
		S.bytes += r->len;
		s->bytes += r->len;
		if (r->skip > 0)
			s->skipped += (uint64_t)r->skip;
		if (S.on_record != NULL)
			S.on_record(s, r);
		s->nrec++;
		s->last_end = r->end;
	}
}

/* One stream's totals against what its callbacks got. */
static void
fuzz_check_totals(const struct fstream *s, const struct reasm_stream_totals *t, const char *when)
{
	FUZZ_CHECK(t->delivered_bytes == s->bytes && t->skipped_bytes == s->skipped,
		   "%s: stream %u: totals say %llu delivered, %llu skipped; its records hold "
		   "%llu bytes and skip %llu",
		   when, s->id, (unsigned long long)t->delivered_bytes,
		   (unsigned long long)t->skipped_bytes, (unsigned long long)s->bytes,
		   (unsigned long long)s->skipped);
	FUZZ_CHECK(t->conflicts == s->conflicts && t->conflict_bytes == s->conflict_bytes,
		   "%s: stream %u: totals say %llu conflicts of %llu bytes; its callback got %llu "
		   "of %llu",
		   when, s->id, (unsigned long long)t->conflicts,
		   (unsigned long long)t->conflict_bytes, (unsigned long long)s->conflicts,
		   (unsigned long long)s->conflict_bytes);
	FUZZ_CHECK(t->received_bytes == t->delivered_bytes + t->overlap_bytes + t->buffered_bytes +
						t->discarded_bytes &&
			   t->received_bytes >= t->delivered_bytes,
		   "%s: stream %u: received %llu != delivered %llu + overlap %llu + buffered %llu "
		   "+ discarded %llu",
		   when, s->id, (unsigned long long)t->received_bytes,
		   (unsigned long long)t->delivered_bytes, (unsigned long long)t->overlap_bytes,
		   (unsigned long long)t->buffered_bytes, (unsigned long long)t->discarded_bytes);
}

static void
cb_complete(void *stream, const struct reasm_stream_totals *totals)
{
	struct fstream *s = stream;
	unsigned int i;

	FUZZ_CHECK(s != NULL && s->open, "complete() on a stream not open");
	FUZZ_CHECK(totals != NULL && totals->buffered_bytes == 0,
		   "complete(): no totals, or bytes still buffered");
	fuzz_check_totals(s, totals, "complete()");
	S.received_closed += totals->received_bytes;
	priv_check(s);
	s->open = false;
	for (i = 0; i < S.n_open; i++)
		if (S.open[i] == s) {
			S.open[i] = S.open[--S.n_open];
			break;
		}
	S.completes++;
}

static void
cb_conflict(void *stream, const struct reasm_conflict *c)
{
	struct fstream *s = stream;

	FUZZ_CHECK(s != NULL && s->open, "conflict() on a stream not open");
	FUZZ_CHECK(c->len > 0 && c->differing > 0 && c->differing <= c->len,
		   "conflict of %u bytes, %u differing", c->len, c->differing);
	FUZZ_CHECK(!c->delivered || !c->kept_arrived, "a delivered copy is the one kept");
	FUZZ_CHECK(c->offset_known || c->offset == 0, "offset %u not known", c->offset);
	FUZZ_CHECK(memcmp(c->kept_sha256, c->other_sha256, sizeof(c->kept_sha256)) != 0,
		   "conflicting copies with the same SHA-256");
	s->conflicts++;
	s->conflict_bytes += c->differing;
}

static const struct reasm_stream_ops fuzz_ops = {
	.open = cb_open,
	.reassembled = cb_reassembled,
	.complete = cb_complete,
	.conflict = cb_conflict,
};

/* Forget every stream of the last input (they are freed here) and start afresh. */
static void
fuzz_state_reset(void)
{
	struct fstream *s, *next;

	for (s = S.all; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
	memset(&S, 0, sizeof(S));
	S.ts_min = UINT64_MAX;
}

/* ---- DPDK memory: nothing may stay allocated after an input ------------ */

struct dpdk_mem {
	uint64_t heap_bytes; /* rte_malloc'd, all sockets */
	uint64_t heap_allocs;
	unsigned int memzones;
};

static void
count_memzone(const struct rte_memzone *mz, void *arg)
{
	(void)mz;
	(*(unsigned int *)arg)++;
}

static struct dpdk_mem
dpdk_mem_now(void)
{
	struct dpdk_mem m = {0};
	unsigned int i;

	for (i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats st;

		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0) {
			m.heap_bytes += st.heap_allocsz_bytes;
			m.heap_allocs += st.alloc_count;
		}
	}
	rte_memzone_walk(count_memzone, &m.memzones);
	return m;
}

/* ---- the rig -------------------------------------------------------- */

#define FUZZ_CONF_BYTES 6

struct fuzz_rig {
	struct reasm_pool *pool;
	struct reasm_assembler *a[2];  /* the live assemblers, a[0..na) */
	unsigned int mp[2];            /* index in pages[] of a[i]'s page mempool */
	struct rte_mempool *pages[2];  /* pages[1] NULL: both use pages[0] */
	unsigned int na;               /* live assemblers */
	unsigned int cur;              /* the one operations go to */
	bool retired;                  /* one of two assemblers was freed mid-input */
	struct reasm_stats retired_st; /* its counters just before it was freed */
	uint32_t max_conns;
	uint32_t n_pages;
	bool free_without_flush;
	bool ts_null;
	uint64_t ops;               /* operations run (for messages) */
	struct dpdk_mem mem_before; /* DPDK memory in use before the rig */
};

static void
fuzz_rig_setup(struct fuzz_rig *rig, struct fin *in)
{
	uint8_t c[FUZZ_CONF_BYTES];
	static const unsigned int caches[4] = {0, 0, 2, 8};
	struct reasm_pool_conf pc = {0};
	struct reasm_assembler_conf ac = {0};
	unsigned int i, cache;
	bool shared, two, own_pages;

	fuzz_state_reset();
	for (i = 0; i < FUZZ_CONF_BYTES; i++)
		c[i] = fin_u8(in);
	memset(rig, 0, sizeof(*rig));
	rig->mem_before = dpdk_mem_now();
	rig->max_conns = 8 + c[0] % 57;
	rig->n_pages = 16 + c[1] % 241;
	shared = c[4] & 1;
	two = shared && (c[4] & 2);
	own_pages = two && (c[4] & 4);
	rig->free_without_flush = c[4] & 8;
	cache = caches[(c[4] >> 4) & 3];
	S.priv_size = (c[4] & 0x40) ? 1 + c[5] % 64 : 0;
	rig->ts_null = c[4] & 0x80;

	pc.name = "fuzz";
	pc.socket_id = SOCKET_ID_ANY;
	pc.max_conns = rig->max_conns;
	pc.mode = shared ? REASM_POOL_SHARED : REASM_POOL_SINGLE_WRITER;
	pc.ops = &fuzz_ops;
	pc.factory_ctx = &S;
	pc.stream_priv_size = S.priv_size;
	pc.retain_bytes = (c[2] & 0x40) ? 64 : 0;
	rig->pool = reasm_pool_create(&pc);
	FUZZ_CHECK(rig->pool != NULL, "reasm_pool_create: %s", rte_strerror(rte_errno));
	rig->na = two ? 2 : 1;
	for (i = 0; i < (own_pages ? 2u : 1u); i++) {
		char name[32];

		snprintf(name, sizeof(name), "fuzz_pages%u", i);
		rig->pages[i] = reasm_page_pool_create(name, rig->n_pages, cache, SOCKET_ID_ANY);
		FUZZ_CHECK(rig->pages[i] != NULL, "reasm_page_pool_create: %s",
			   rte_strerror(rte_errno));
	}
	ac.pool = rig->pool;
	ac.max_pages_per_conn = c[2] % 32;
	ac.overlap_policy = (c[2] & 0x20) ? REASM_OVERLAP_LAST : REASM_OVERLAP_FIRST;
	ac.max_pages_total = c[3] < 128 ? 0 : c[3] % 128;
	ac.socket_id = SOCKET_ID_ANY;
	if (c[5] & 0x80) {
		ac.defrag.max_datagrams = 4;
		ac.defrag.max_fragments = 8;
		ac.defrag.max_pages = rig->n_pages / 4 + 1;
		ac.defrag.timeout_ns = 1000;
	}
	for (i = 0; i < rig->na; i++) {
		rig->mp[i] = own_pages ? i : 0;
		ac.page_pool = rig->pages[rig->mp[i]];
		rig->a[i] = reasm_assembler_create(&ac);
		FUZZ_CHECK(rig->a[i] != NULL, "reasm_assembler_create: %s",
			   rte_strerror(rte_errno));
	}
}

static struct reasm_assembler *
fuzz_cur(struct fuzz_rig *rig)
{
	return rig->a[rig->cur];
}

static void
fuzz_switch(struct fuzz_rig *rig)
{
	rig->cur = (rig->cur + 1) % rig->na;
}

/* Pages the assembler(s) using mempool @i took from it. */
static uint64_t
fuzz_pages_taken(const struct fuzz_rig *rig, unsigned int i)
{
	return rig->n_pages - rte_mempool_avail_count(rig->pages[i]);
}

#define CTR(st, name) ((st).v[REASM_CTR_##name])

static void fuzz_check(struct fuzz_rig *rig, const char *after);

/*
 * Free the current one of two assemblers while its pool stays in use (the API
 * allows it: its pages still held by connections go back to its mempool
 * without callbacks); the other one carries on.
 */
static void
fuzz_retire(struct fuzz_rig *rig)
{
	unsigned int gone = rig->cur, i;

	if (rig->na < 2)
		return;
	reasm_assembler_stats(rig->a[gone], &rig->retired_st);
	reasm_assembler_free(rig->a[gone]);
	rig->retired = true;
	rig->a[0] = rig->a[1 - gone];
	rig->mp[0] = rig->mp[1 - gone];
	rig->na = 1;
	rig->cur = 0;
	for (i = 0; i < 2; i++)
		if (rig->pages[i] != NULL && i != rig->mp[0])
			FUZZ_CHECK(rte_mempool_full(rig->pages[i]),
				   "retired assembler: its page mempool is not full (%u of %u)",
				   rte_mempool_avail_count(rig->pages[i]), rig->n_pages);
	fuzz_check(rig, "retire");
}

/* Every invariant that holds between two operations. */
/*
 * Per-connection accounting: every open stream's totals against its records,
 * and the payload counter split exactly over the streams (open and closed)
 * and the segments the full table refused.
 */
static void
fuzz_check_streams(struct fuzz_rig *rig, const struct reasm_stats *sum, const char *after)
{
	uint64_t received = S.received_closed;
	unsigned int i;

	for (i = 0; i < S.n_open; i++) {
		const struct fstream *s = S.open[i];
		struct reasm_stream_totals t;

		FUZZ_CHECK(reasm_pool_stream_totals(rig->pool, &s->flow, &t) == 0,
			   "after %s: stream %u open but reasm_pool_stream_totals finds no stream",
			   after, s->id);
		fuzz_check_totals(s, &t, after);
		received += t.received_bytes;
	}
	FUZZ_CHECK(received + CTR(*sum, table_full_bytes) == CTR(*sum, payload_bytes),
		   "after %s: streams received %llu + table_full %llu != payload_bytes %llu", after,
		   (unsigned long long)received, (unsigned long long)CTR(*sum, table_full_bytes),
		   (unsigned long long)CTR(*sum, payload_bytes));
}

static void
fuzz_check(struct fuzz_rig *rig, const char *after)
{
	struct reasm_stats st[2], sum = rig->retired_st; /* counters of all, the freed one too */
	uint64_t open_conns = reasm_pool_count(rig->pool), live_pages = 0;
	unsigned int i, j;

	for (i = 0; i < rig->na; i++) {
		uint64_t drops = 0;

		reasm_assembler_stats(rig->a[i], &st[i]);
		for (j = 0; j < REASM_CTR_MAX; j++) {
			sum.v[j] += st[i].v[j];
			if (is_drop[j])
				drops += st[i].v[j];
		}
		/* Every frame is a TCP segment, a drop or a fragment; a datagram is one more frame. */
		FUZZ_CHECK(CTR(st[i], pkts) + CTR(st[i], defrag_datagrams) ==
				   CTR(st[i], pkts_tcp) + drops + CTR(st[i], defrag_fragments),
			   "after %s: assembler %u: pkts %llu + datagrams %llu != pkts_tcp %llu + "
			   "drops %llu + fragments %llu",
			   after, i, (unsigned long long)CTR(st[i], pkts),
			   (unsigned long long)CTR(st[i], defrag_datagrams),
			   (unsigned long long)CTR(st[i], pkts_tcp), (unsigned long long)drops,
			   (unsigned long long)CTR(st[i], defrag_fragments));
		FUZZ_CHECK(CTR(st[i], pages_in_use) == reasm_assembler_pages_in_use(rig->a[i]),
			   "after %s: assembler %u: pages_in_use counter %llu, function %u", after,
			   i, (unsigned long long)CTR(st[i], pages_in_use),
			   reasm_assembler_pages_in_use(rig->a[i]));
		FUZZ_CHECK(CTR(st[i], buffered_bytes) <=
				   CTR(st[i], pages_in_use) * (uint64_t)REASM_PAGE_BYTES,
			   "after %s: assembler %u: %llu bytes buffered in %llu pages", after, i,
			   (unsigned long long)CTR(st[i], buffered_bytes),
			   (unsigned long long)CTR(st[i], pages_in_use));
		if (rig->pages[1] != NULL)
			FUZZ_CHECK(fuzz_pages_taken(rig, rig->mp[i]) ==
					   CTR(st[i], pages_in_use) + CTR(st[i], defrag_pages),
				   "after %s: assembler %u: %llu pages out of its mempool, "
				   "pages_in_use %llu, defrag_pages %llu",
				   after, i, (unsigned long long)fuzz_pages_taken(rig, rig->mp[i]),
				   (unsigned long long)CTR(st[i], pages_in_use),
				   (unsigned long long)CTR(st[i], defrag_pages));
		live_pages += CTR(st[i], pages_in_use) + CTR(st[i], defrag_pages);
	}
	if (rig->pages[1] == NULL)
		FUZZ_CHECK(fuzz_pages_taken(rig, 0) == live_pages,
			   "after %s: %llu pages out of the mempool, in use + defrag %llu", after,
			   (unsigned long long)fuzz_pages_taken(rig, 0),
			   (unsigned long long)live_pages);
	FUZZ_CHECK(CTR(sum, payload_bytes) == CTR(sum, delivered_bytes) + CTR(sum, overlap_bytes) +
						      CTR(sum, buffered_bytes) +
						      CTR(sum, discarded_on_close_bytes) +
						      CTR(sum, table_full_bytes),
		   "after %s: payload %llu != delivered %llu + overlap %llu + buffered %llu + "
		   "discarded %llu + table_full %llu",
		   after, (unsigned long long)CTR(sum, payload_bytes),
		   (unsigned long long)CTR(sum, delivered_bytes),
		   (unsigned long long)CTR(sum, overlap_bytes),
		   (unsigned long long)CTR(sum, buffered_bytes),
		   (unsigned long long)CTR(sum, discarded_on_close_bytes),
		   (unsigned long long)CTR(sum, table_full_bytes));
	FUZZ_CHECK(open_conns <= rig->max_conns, "after %s: %llu streams open, max_conns %u", after,
		   (unsigned long long)open_conns, rig->max_conns);
	FUZZ_CHECK(open_conns == S.n_open, "after %s: pool count %llu, streams open %u", after,
		   (unsigned long long)open_conns, S.n_open);
	FUZZ_CHECK(CTR(sum, conns_opened) == S.opens, "after %s: conns_opened %llu, open() %llu",
		   after, (unsigned long long)CTR(sum, conns_opened), (unsigned long long)S.opens);
	FUZZ_CHECK(CTR(sum, conns_closed_fin) + CTR(sum, conns_closed_flush) == S.completes,
		   "after %s: closed fin %llu + flush %llu, complete() %llu", after,
		   (unsigned long long)CTR(sum, conns_closed_fin),
		   (unsigned long long)CTR(sum, conns_closed_flush),
		   (unsigned long long)S.completes);
	FUZZ_CHECK(CTR(sum, delivered_records) == S.records && CTR(sum, delivered_bytes) == S.bytes,
		   "after %s: delivered %llu records %llu bytes, callbacks got %llu / %llu", after,
		   (unsigned long long)CTR(sum, delivered_records),
		   (unsigned long long)CTR(sum, delivered_bytes), (unsigned long long)S.records,
		   (unsigned long long)S.bytes);
	FUZZ_CHECK(CTR(sum, skips_start_unknown) == S.skip_unknown,
		   "after %s: skips_start_unknown %llu, records with skip -1: %llu", after,
		   (unsigned long long)CTR(sum, skips_start_unknown),
		   (unsigned long long)S.skip_unknown);
	FUZZ_CHECK(CTR(sum, skipped_bytes_page_limit) == S.skipped[REASM_SKIP_PAGE_LIMIT] &&
			   CTR(sum, skipped_bytes_total_limit) ==
				   S.skipped[REASM_SKIP_TOTAL_LIMIT] &&
			   CTR(sum, skipped_bytes_no_page) == S.skipped[REASM_SKIP_NO_PAGE] &&
			   CTR(sum, skipped_bytes_flush) == S.skipped[REASM_SKIP_FLUSH] &&
			   CTR(sum, skipped_bytes_flush_all) == S.skipped[REASM_SKIP_FLUSH_ALL],
		   "after %s: skipped bytes by cause: counters %llu %llu %llu %llu %llu, records "
		   "%llu %llu %llu %llu %llu",
		   after, (unsigned long long)CTR(sum, skipped_bytes_page_limit),
		   (unsigned long long)CTR(sum, skipped_bytes_total_limit),
		   (unsigned long long)CTR(sum, skipped_bytes_no_page),
		   (unsigned long long)CTR(sum, skipped_bytes_flush),
		   (unsigned long long)CTR(sum, skipped_bytes_flush_all),
		   (unsigned long long)S.skipped[REASM_SKIP_PAGE_LIMIT],
		   (unsigned long long)S.skipped[REASM_SKIP_TOTAL_LIMIT],
		   (unsigned long long)S.skipped[REASM_SKIP_NO_PAGE],
		   (unsigned long long)S.skipped[REASM_SKIP_FLUSH],
		   (unsigned long long)S.skipped[REASM_SKIP_FLUSH_ALL]);
	/* End on the last record of a call closes the stream. */
	for (i = 0; i < S.n_open; i++)
		FUZZ_CHECK(!S.open[i]->last_end,
			   "after %s: stream %u still open after a call ended on an end record",
			   after, S.open[i]->id);
	fuzz_check_streams(rig, &sum, after);
}

/* reasm_assembler_top_conns against the counters. */
static void
fuzz_check_top(struct fuzz_rig *rig)
{
	struct reasm_conn_info info[FUZZ_MAX_OPEN];
	struct reasm_stats st;
	uint64_t pages = 0, bytes = 0, want_pages = 0, want_bytes = 0;
	unsigned int n, i;

	n = reasm_assembler_top_conns(fuzz_cur(rig), info, RTE_DIM(info));
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(info[i].pages > 0, "top_conns entry %u with 0 pages", i);
		FUZZ_CHECK(i == 0 || info[i - 1].pages >= info[i].pages,
			   "top_conns not sorted at %u", i);
		FUZZ_CHECK(info[i].totals.buffered_bytes <=
				   info[i].pages * (uint64_t)REASM_PAGE_BYTES,
			   "top_conns entry %u: %llu bytes in %u pages", i,
			   (unsigned long long)info[i].totals.buffered_bytes, info[i].pages);
		FUZZ_CHECK(info[i].totals.received_bytes ==
					   info[i].totals.delivered_bytes +
						   info[i].totals.overlap_bytes +
						   info[i].totals.buffered_bytes +
						   info[i].totals.discarded_bytes &&
				   info[i].totals.received_bytes >= info[i].totals.delivered_bytes,
			   "top_conns entry %u: totals do not add up", i);
		pages += info[i].pages;
		bytes += info[i].totals.buffered_bytes;
	}
	for (i = 0; i < rig->na; i++) {
		reasm_assembler_stats(rig->a[i], &st);
		want_pages += CTR(st, pages_in_use);
		want_bytes += CTR(st, buffered_bytes);
	}
	FUZZ_CHECK(pages == want_pages && bytes == want_bytes,
		   "top_conns: %llu pages %llu bytes, counters %llu / %llu",
		   (unsigned long long)pages, (unsigned long long)bytes,
		   (unsigned long long)want_pages, (unsigned long long)want_bytes);
	/* A small max keeps the largest ones. */
	if (n > 1) {
		struct reasm_conn_info one;

		FUZZ_CHECK(reasm_assembler_top_conns(fuzz_cur(rig), &one, 1) == 1 &&
				   one.pages == info[0].pages,
			   "top_conns(max 1) gave not the largest");
	}
}

/* reasm_flush_older_than(t): counts, then no stream idle or waiting since before t. */
static void
fuzz_flush_older(struct fuzz_rig *rig, uint64_t t)
{
	struct reasm_conn_info info[FUZZ_MAX_OPEN];
	uint64_t completes = S.completes;
	unsigned int closed = 12345, flushed, n, i;

	flushed = reasm_flush_older_than(fuzz_cur(rig), t, &closed);
	FUZZ_CHECK(closed == S.completes - completes,
		   "flush_older_than: says %u closed, complete() called %llu times", closed,
		   (unsigned long long)(S.completes - completes));
	FUZZ_CHECK(flushed >= closed, "flush_older_than: %u flushed < %u closed", flushed, closed);
	n = reasm_assembler_top_conns(fuzz_cur(rig), info, RTE_DIM(info));
	for (i = 0; i < n; i++)
		FUZZ_CHECK(info[i].last_seen >= t,
			   "flush_older_than(%llu) left a stream holding pages, last seen %llu",
			   (unsigned long long)t, (unsigned long long)info[i].last_seen);
	fuzz_check(rig, "flush_older_than");
}

static void
fuzz_flush_all(struct fuzz_rig *rig)
{
	uint64_t completes = S.completes, open = S.n_open;
	unsigned int closed, i;

	closed = reasm_flush_all(fuzz_cur(rig));
	FUZZ_CHECK(closed == S.completes - completes && closed == open,
		   "flush_all: says %u closed, complete() %llu times, %llu were open", closed,
		   (unsigned long long)(S.completes - completes), (unsigned long long)open);
	fuzz_check(rig, "flush_all");
	FUZZ_CHECK(reasm_pool_count(rig->pool) == 0, "flush_all left %u streams",
		   reasm_pool_count(rig->pool));
	for (i = 0; i < rig->na; i++) {
		struct reasm_stats st;

		reasm_assembler_stats(rig->a[i], &st);
		FUZZ_CHECK(CTR(st, pages_in_use) == 0 && CTR(st, buffered_bytes) == 0,
			   "flush_all: assembler %u still has %llu pages, %llu bytes", i,
			   (unsigned long long)CTR(st, pages_in_use),
			   (unsigned long long)CTR(st, buffered_bytes));
	}
	for (i = 0; i < 2; i++)
		if (rig->pages[i] != NULL)
			FUZZ_CHECK(rte_mempool_full(rig->pages[i]),
				   "flush_all: page mempool %u not full (%u of %u)", i,
				   rte_mempool_avail_count(rig->pages[i]), rig->n_pages);
}

/* End of an input: flush (or not), free everything, check nothing is left. */
static void
fuzz_rig_teardown(struct fuzz_rig *rig)
{
	struct dpdk_mem after;
	unsigned int i, j;

	if (getenv("REASM_FUZZ_VERBOSE") != NULL) { /* what an input did, for debugging */
		for (i = 0; i < rig->na; i++) {
			struct reasm_stats st;

			reasm_assembler_stats(rig->a[i], &st);
			fprintf(stderr, "assembler %u (%llu ops%s):", i,
				(unsigned long long)rig->ops,
				rig->retired ? ", the other one freed" : "");
			for (j = 0; j < REASM_CTR_MAX; j++)
				if (st.v[j] != 0)
					fprintf(stderr, " %s=%llu", reasm_counter_name(j),
						(unsigned long long)st.v[j]);
			fputc('\n', stderr);
		}
	}
	if (!rig->free_without_flush)
		fuzz_flush_all(rig);
	for (i = 0; i < rig->na; i++)
		reasm_assembler_free(rig->a[i]);
	for (i = 0; i < 2; i++)
		if (rig->pages[i] != NULL) {
			FUZZ_CHECK(rte_mempool_full(rig->pages[i]),
				   "assemblers freed: page mempool %u not full (%u of %u)", i,
				   rte_mempool_avail_count(rig->pages[i]), rig->n_pages);
			rte_mempool_free(rig->pages[i]);
		}
	reasm_pool_free(rig->pool);
	fuzz_state_reset();
	after = dpdk_mem_now();
	FUZZ_CHECK(after.heap_bytes == rig->mem_before.heap_bytes &&
			   after.heap_allocs == rig->mem_before.heap_allocs &&
			   after.memzones == rig->mem_before.memzones,
		   "DPDK memory left after freeing everything: rte_malloc %llu bytes in %llu "
		   "blocks (before: %llu in %llu), %u memzones (before: %u)",
		   (unsigned long long)after.heap_bytes, (unsigned long long)after.heap_allocs,
		   (unsigned long long)rig->mem_before.heap_bytes,
		   (unsigned long long)rig->mem_before.heap_allocs, after.memzones,
		   rig->mem_before.memzones);
}

/* Move the clock by @step units of @unit ns (not below 0); @return the new time. */
static uint64_t
fuzz_clock_step(uint64_t *now, int64_t step, uint64_t unit)
{
	int64_t d = step * (int64_t)unit;

	if (d < 0 && (uint64_t)-d > *now)
		*now = 0;
	else
		*now += (uint64_t)d;
	return *now;
}

static void
fuzz_note_ts(uint64_t ts)
{
	if (ts < S.ts_min)
		S.ts_min = ts;
	if (ts > S.ts_max)
		S.ts_max = ts;
}

#endif /* REASM_FUZZ_COMMON_H */
