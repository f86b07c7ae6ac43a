/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The sinks' dispatch (see sinks.h): the table of sinks, their
 * configuration, the per-stream area, the calls to every configured sink,
 * per-worker totals and the per-stream conservation check. The sinks
 * themselves are in sink_*.c (struct sink_ops, sink.h).
 *
 * Per-stream state lives in the pool's preallocated per-stream area, so the
 * data path allocates nothing:
 *   [struct sink_stream][SHA-256 context, with --sha256][each sink's own state]
 * Per-worker totals are written by their worker with relaxed atomic stores
 * and read from any thread with relaxed loads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

/* The sinks --sink may name. The console is not among them: --quiet turns it off. */
static const struct sink_ops *const sink_table[] = {
	&sink_count_ops, &sink_files_ops, &sink_jsonl_ops, &sink_pcap_ops,
	&sink_redis_ops, &sink_kafka_ops, &sink_conn_ops,
};

/* One worker's counters, alone on its cache line(s). */
struct sinks_worker {
	uint64_t streams; /* written with relaxed atomic stores */
	uint64_t bytes;
	uint64_t write_errors;
	uint64_t unbalanced; /* streams whose totals disagree with what the sinks got */
	uint64_t received;   /* sums of the completed streams' totals */
	uint64_t overlap;
	uint64_t discarded;
	bool unbalanced_printed;
	bool error_printed[SINK_MAX + 1]; /* by sink index */
	/*
	 * The last conflicts, for telemetry: written by the worker alone, read by
	 * any thread under a sequence count (odd while an entry is written).
	 */
	uint32_t recent_seq;
	uint64_t recent_n; /* conflicts so far; the next goes to recent[recent_n % N] */
	struct sinks_conflict_seen recent[SINKS_RECENT_CONFLICTS];
} __attribute__((aligned(64)));

struct sinks {
	bool detail;      /* per-stream accounting needed (anything but count + quiet) */
	bool packets;     /* a sink wants every frame (ops->packets) */
	bool connections; /* a sink wants connections (ops->conn_close) */
	bool sha256;
	uint16_t community_id_seed;
	const char *sensor_id;
	bool finished;
	int finish_rc;
	unsigned int n_workers;
	struct sinks_worker *workers;
	uint32_t sha_off;      /* offset of the SHA-256 context in the per-stream area */
	uint32_t conflict_off; /* of the first conflict's evidence (with detail) */
	uint32_t priv_size;    /* bytes of the per-stream area */
	unsigned int n;
	struct sink sink[SINK_MAX + 1]; /* --sink order, then the console */
};

/* ------------------------------------------------------------------ */
/* Configuration                                                        */
/* ------------------------------------------------------------------ */

/* The sink a --sink value names, and where its argument starts (NULL if none). */
static const struct sink_ops *
sink_lookup(const char *spec, const char **arg)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	unsigned int i;

	*arg = colon != NULL ? colon + 1 : NULL;
	for (i = 0; i < sizeof(sink_table) / sizeof(sink_table[0]); i++)
		if (strlen(sink_table[i]->name) == len &&
		    strncmp(sink_table[i]->name, spec, len) == 0)
			return sink_table[i];
	return NULL;
}

int
sinks_conf_add(struct sinks_conf *conf, const char *spec)
{
	const char *arg;
	const struct sink_ops *ops = sink_lookup(spec, &arg);
	bool has_arg = arg != NULL && *arg != '\0';

	if (ops == NULL || (ops->arg == SINK_ARG_REQUIRED) != has_arg || (arg && !has_arg)) {
		fprintf(stderr,
			"reasm: --sink '%s': expected count, files:DIR, jsonl:FILE, "
			"pcap:DIR[,...], redis:HOST:PORT[,...], kafka:BROKERS[,...] or conn:FILE\n",
			spec);
		return -1;
	}
	if (conf->n_specs == SINKS_MAX) {
		fprintf(stderr, "reasm: --sink '%s': at most %u sinks\n", spec, SINKS_MAX);
		return -1;
	}
	conf->specs[conf->n_specs++] = spec;
	return 0;
}

const char *
sinks_conf_arg(const struct sinks_conf *conf, const char *name)
{
	unsigned int i;

	for (i = 0; i < conf->n_specs; i++) {
		const char *arg;
		const struct sink_ops *ops = sink_lookup(conf->specs[i], &arg);

		if (ops != NULL && strcmp(ops->name, name) == 0)
			return arg != NULL ? arg : "";
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Helpers for the sinks (sink.h)                                       */
/* ------------------------------------------------------------------ */

unsigned int
sink_n_workers(const struct sink *k)
{
	return k->sinks->n_workers;
}

void
sink_line_endpoint(struct sink_line *l, uint8_t family, const uint8_t *a, uint16_t port)
{
	int i;

	if (family == REASM_FAMILY_IPV6) {
		for (i = 0; i < 16; i += 2)
			sink_line_append(l, "%04x.", (unsigned int)a[i] << 8 | a[i + 1]);
	} else {
		for (i = 0; i < 4; i++)
			sink_line_append(l, "%03u.", a[i]);
	}
	sink_line_append(l, "%05u", port);
}

const char *
sink_sensor_id(const struct sink *k)
{
	return k->sinks->sensor_id;
}

int
sink_community_id(const struct sink *k, const struct sink_stream *st,
		  char id[REASM_COMMUNITY_ID_SIZE])
{
	return sink_flow_community_id(k, &st->flow, id);
}

int
sink_flow_community_id(const struct sink *k, const struct reasm_flow *flow,
		       char id[REASM_COMMUNITY_ID_SIZE])
{
	return reasm_community_id(flow, k->sinks->community_id_seed, id, REASM_COMMUNITY_ID_SIZE);
}

void
sink_line_conn_id(struct sink_line *l, uint32_t worker, uint64_t id)
{
	sink_line_append(l, "\"%" PRIu32 ".%" PRIu64 "\"", worker, id);
}

void
sink_write_error(struct sink *k, unsigned int worker, const char *path, const char *file, int err)
{
	struct sinks_worker *w = &k->sinks->workers[worker];

	sink_counter_add(&w->write_errors, 1);
	if (w->error_printed[k->index])
		return;
	w->error_printed[k->index] = true;
	fprintf(stderr, "reasm: %s sink: %s%s%s: %s (further errors of this worker only counted)\n",
		k->ops->name, path, file ? "/" : "", file ? file : "", strerror(err));
}

int
sink_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
sink_line_append(struct sink_line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= l->size - l->len) {
		l->overflow = true;
		return;
	}
	l->len += (size_t)n;
}

void
sink_line_encap(struct sink_line *l, const struct reasm_encap *e, enum sink_encap_style style)
{
	bool json = style == SINK_ENCAP_JSON;
	const char *sep = "";
	unsigned int bit;

	if (e->layers == 0)
		return;
	sink_line_append(l, json ? ",\"encap\":[" : " encap=");
	for (bit = 1; bit < REASM_ENCAP_END; bit <<= 1)
		if (e->layers & bit) {
			sink_line_append(l, json ? "%s\"%s\"" : "%s%s", sep, reasm_encap_name(bit));
			sep = ",";
		}
	if (json)
		sink_line_append(l, "]");
	if (e->layers & REASM_ENCAP_VLAN)
		sink_line_append(l, json ? ",\"vlan\":%u" : " vlan=%u", e->vlan);
	if (e->layers & ~REASM_ENCAP_VLAN)
		sink_line_append(l, json ? ",\"tunnel_id\":%" PRIu32 : " tunnel_id=%" PRIu32,
				 e->tunnel_id);
}

/* ------------------------------------------------------------------ */
/* Stream callbacks                                                     */
/* ------------------------------------------------------------------ */

static inline void *
sink_priv(const struct sink *k, struct sink_stream *st)
{
	return (uint8_t *)st + k->priv_off;
}

uint32_t
sinks_stream_priv_size(const struct sinks *s)
{
	return s->priv_size;
}

void *
sinks_stream_open(struct sinks *s, unsigned int worker, const struct reasm_flow *flow, void *priv,
		  const struct reasm_encap *encap, const struct reasm_half_ref *conn)
{
	struct sink_stream *st = priv;
	unsigned int i;

	st->s = s;
	st->worker = worker < s->n_workers ? worker : s->n_workers - 1;
	st->flow = *flow;
	if (conn != NULL && conn->conn != NULL) {
		st->conn = conn->conn;
		st->conn_id = conn->id;
		st->half = conn->half;
	}
	if (!s->detail)
		return st;
	st->conflict = (struct reasm_conflict *)((uint8_t *)priv + s->conflict_off);
	if (encap != NULL)
		st->encap = *encap;
	if (s->sha256) {
		st->sha = (struct sha256_ctx *)((uint8_t *)priv + s->sha_off);
		sha256_init(st->sha);
	}
	for (i = 0; i < s->n; i++)
		if (s->sink[i].ops->stream_open != NULL)
			s->sink[i].ops->stream_open(&s->sink[i], st, sink_priv(&s->sink[i], st));
	return st;
}

/* The stream's skips, times, flags and hash, from @p n records. Returns the bytes. */
static uint64_t
account_records(struct sink_stream *st, const struct reasm_record *records, unsigned int n)
{
	uint64_t bytes = 0;
	unsigned int i;

	if (st->records == 0)
		st->first_seen = records[0].seen;
	st->records += n;
	for (i = 0; i < n; i++) {
		const struct reasm_record *r = &records[i];

		/* Earliest and latest packet time: buffered data keeps its own. */
		if (r->seen < st->first_seen)
			st->first_seen = r->seen;
		if (r->seen > st->last_seen)
			st->last_seen = r->seen;
		bytes += r->len;
		if (r->skip > 0) {
			st->skips++;
			st->skipped[r->skip_cause < REASM_SKIP_CAUSE_MAX ? r->skip_cause
									 : REASM_SKIP_NONE] +=
				(uint64_t)r->skip;
		} else if (r->skip == -1) {
			st->skip_unknown++;
		}
		st->start |= r->start;
		st->end |= r->end;
		if (st->sha != NULL && r->len > 0)
			sha256_update(st->sha, r->len, r->bytes);
	}
	return bytes;
}

void
sinks_stream_data(void *stream, const struct reasm_record *records, unsigned int n)
{
	struct sink_stream *st = stream;
	struct sinks *s = st->s;
	uint64_t bytes = 0;
	unsigned int i;

	if (!s->detail) {
		/* count sink only: two counters */
		for (i = 0; i < n; i++)
			bytes += records[i].len;
		st->bytes += bytes;
		sink_counter_add(&s->workers[st->worker].bytes, bytes);
		return;
	}
	if (n == 0)
		return;
	bytes = account_records(st, records, n);
	st->bytes += bytes;
	sink_counter_add(&s->workers[st->worker].bytes, bytes);
	for (i = 0; i < s->n; i++)
		if (s->sink[i].ops->data != NULL)
			s->sink[i].ops->data(&s->sink[i], st, sink_priv(&s->sink[i], st), records,
					     n);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

bool
sinks_want_connections(const struct sinks *s)
{
	return s->connections;
}

uint32_t
sinks_conn_priv_size(const struct sinks *s)
{
	return s->connections ? (uint32_t)sizeof(struct sink_conn) : 0;
}

void *
sinks_conn_open(struct sinks *s, unsigned int worker, void *priv, const struct reasm_encap *encap)
{
	struct sink_conn *c = priv;

	c->s = s;
	c->worker = worker < s->n_workers ? worker : s->n_workers - 1;
	if (encap != NULL)
		c->encap = *encap;
	return c;
}

void
sinks_conn_close(void *conn, const struct reasm_connection *rc)
{
	struct sink_conn *c = conn;
	struct sinks *s = c->s;
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->sink[i].ops->conn_close != NULL)
			s->sink[i].ops->conn_close(&s->sink[i], c, rc);
}

/* ------------------------------------------------------------------ */
/* Frames                                                               */
/* ------------------------------------------------------------------ */

bool
sinks_want_packets(const struct sinks *s)
{
	return s->packets;
}

void
sinks_packets(struct sinks *s, unsigned int worker, struct rte_mbuf *const *pkts,
	      const uint64_t *ts, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->sink[i].ops->packets != NULL)
			s->sink[i].ops->packets(&s->sink[i], worker, pkts, ts, n);
}

/* Bytes of the stream's positive skips, all causes. */
static uint64_t
skipped_total(const struct sink_stream *st)
{
	uint64_t skipped = 0;
	unsigned int c;

	for (c = 0; c < REASM_SKIP_CAUSE_MAX; c++)
		skipped += st->skipped[c];
	return skipped;
}

/*
 * Per-stream conservation: the library's totals against what the sinks got
 * (bytes always; skipped bytes when counted). Anything else is a bug: counted
 * in streams_unbalanced and said once per worker.
 */
static void
check_totals(const struct sink_stream *st, const struct reasm_stream_totals *t, uint64_t skipped)
{
	struct sinks_worker *w = &st->s->workers[st->worker];

	sink_counter_add(&w->received, t->received_bytes);
	sink_counter_add(&w->overlap, t->overlap_bytes);
	sink_counter_add(&w->discarded, t->discarded_bytes);
	if (t->delivered_bytes == st->bytes && (!st->s->detail || t->skipped_bytes == skipped) &&
	    t->received_bytes ==
		    t->delivered_bytes + t->overlap_bytes + t->discarded_bytes + t->buffered_bytes)
		return;
	sink_counter_add(&w->unbalanced, 1);
	if (w->unbalanced_printed)
		return;
	w->unbalanced_printed = true;
	fprintf(stderr,
		"reasm: BUG: stream totals disagree with what the sinks got: received %" PRIu64
		", delivered %" PRIu64 " (sinks got %" PRIu64 "), overlap %" PRIu64
		", discarded %" PRIu64 ", skipped %" PRIu64 " (records skip %" PRIu64
		") (further ones of this worker only counted)\n",
		t->received_bytes, t->delivered_bytes, st->bytes, t->overlap_bytes,
		t->discarded_bytes, t->skipped_bytes, skipped);
}

void
sink_hex(const uint8_t *bytes, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	hex[2 * n] = '\0';
}

const char *
sink_conflict_kept_name(const struct reasm_conflict *c)
{
	return c->delivered ? "delivered" : c->kept_arrived ? "arrived" : "buffered";
}

/* The stream's SHA-256 in hex into @p hex (SINK_SHA256_HEX_LEN + 1 bytes). */
static void
sha256_hex(struct sha256_ctx *ctx, char *hex)
{
	uint8_t digest[SHA256_DIGEST_SIZE];

	sha256_digest(ctx, sizeof(digest), digest);
	sink_hex(digest, sizeof(digest), hex);
}

void
sinks_stream_conflict(void *stream, const struct reasm_conflict *c)
{
	struct sink_stream *st = stream;
	struct sinks_worker *w = &st->s->workers[st->worker];
	struct sinks_conflict_seen *e;

	if (st->conflict != NULL && !st->conflicted) {
		*st->conflict = *c;
		st->conflicted = true;
	}
	__atomic_store_n(&w->recent_seq, w->recent_seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e = &w->recent[w->recent_n % SINKS_RECENT_CONFLICTS];
	e->number = w->recent_n;
	e->flow = st->flow;
	e->has_conn = st->conn != NULL;
	e->conn_id = st->conn_id;
	e->c = *c;
	__atomic_store_n(&w->recent_n, w->recent_n + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&w->recent_seq, w->recent_seq + 1, __ATOMIC_RELEASE);
}

unsigned int
sinks_recent_conflicts(const struct sinks *s, unsigned int worker, struct sinks_conflict_seen *out,
		       unsigned int max)
{
	struct sinks_worker *w;
	unsigned int n = 0, tries;

	if (worker >= s->n_workers)
		return 0;
	w = &s->workers[worker];
	for (tries = 0; tries < 100; tries++) {
		uint32_t before = __atomic_load_n(&w->recent_seq, __ATOMIC_ACQUIRE);
		uint64_t total;

		if (before & 1)
			continue; /* an entry is being written */
		total = __atomic_load_n(&w->recent_n, __ATOMIC_RELAXED);
		for (n = 0; n < max && n < total && n < SINKS_RECENT_CONFLICTS; n++)
			out[n] = w->recent[(total - 1 - n) % SINKS_RECENT_CONFLICTS];
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&w->recent_seq, __ATOMIC_RELAXED) == before)
			return n;
	}
	return 0; /* the worker kept writing: none this time */
}

void
sink_line_conflict(struct sink_line *l, const struct reasm_conflict *c)
{
	char kept[SINK_SHA256_HEX_LEN + 1], other[SINK_SHA256_HEX_LEN + 1];

	sink_hex(c->kept_sha256, sizeof(c->kept_sha256), kept);
	sink_hex(c->other_sha256, sizeof(c->other_sha256), other);
	sink_line_append(l, ",\"conflict\":{\"seq\":%" PRIu32 ",\"offset\":", c->seq);
	if (c->offset_known)
		sink_line_append(l, "%" PRIu32, c->offset);
	else
		sink_line_append(l, "null");
	sink_line_append(l,
			 ",\"len\":%" PRIu32 ",\"differing\":%" PRIu32 ",\"kept\":\"%s\""
			 ",\"kept_sha256\":\"%s\",\"other_sha256\":\"%s\",\"seen\":%" PRIu64 "}",
			 c->len, c->differing, sink_conflict_kept_name(c), kept, other, c->seen);
}

/* Add a closing stream's sums to its connection's side. */
static void
conn_half_add(const struct sink_stream *st)
{
	struct sink_conn_half *h = &st->conn->half[st->half];
	unsigned int c;

	h->bytes += st->bytes;
	h->records += st->records;
	h->skips += st->skips;
	h->skip_unknown += st->skip_unknown;
	for (c = 0; c < REASM_SKIP_CAUSE_MAX; c++)
		h->skipped[c] += st->skipped[c];
	if (st->conflicted && !h->conflicted) {
		h->conflict = *st->conflict;
		h->conflicted = true;
	}
}

void
sinks_stream_close(void *stream, const struct reasm_stream_totals *totals)
{
	struct sink_stream *st = stream;
	struct sinks *s = st->s;
	char hex[SINK_SHA256_HEX_LEN + 1];
	struct sink_close_info info = {totals, NULL, skipped_total(st)};
	unsigned int i;

	check_totals(st, totals, info.skipped);
	if (st->conn != NULL)
		conn_half_add(st);
	if (s->detail) {
		if (st->sha != NULL) {
			sha256_hex(st->sha, hex);
			info.sha_hex = hex;
		}
		for (i = 0; i < s->n; i++)
			if (s->sink[i].ops->stream_close != NULL)
				s->sink[i].ops->stream_close(&s->sink[i], st,
							     sink_priv(&s->sink[i], st), &info);
	}
	sink_counter_add(&s->workers[st->worker].streams, 1);
}

/* ------------------------------------------------------------------ */
/* Totals                                                               */
/* ------------------------------------------------------------------ */

void
sinks_totals_add(struct sinks_totals *sum, const struct sinks_totals *t)
{
	sum->streams += t->streams;
	sum->bytes += t->bytes;
	sum->write_errors += t->write_errors;
	sum->unbalanced += t->unbalanced;
	sum->received += t->received;
	sum->overlap += t->overlap;
	sum->discarded += t->discarded;
	sum->pcap.pkts += t->pcap.pkts;
	sum->pcap.bytes += t->pcap.bytes;
	sum->pcap.files_created += t->pcap.files_created;
	sum->pcap.files_reopened += t->pcap.files_reopened;
	sum->pcap.files_closed_lru += t->pcap.files_closed_lru;
	sum->pcap.not_tcp += t->pcap.not_tcp;
	sum->pcap.dropped += t->pcap.dropped;
	sum->pcap.write_errors += t->pcap.write_errors;
	sum->redis.sent += t->redis.sent;
	sum->redis.dropped += t->redis.dropped;
	sum->redis.failed += t->redis.failed;
	sum->redis.reconnects += t->redis.reconnects;
	sum->kafka.acked += t->kafka.acked;
	sum->kafka.failed += t->kafka.failed;
	sum->kafka.dropped += t->kafka.dropped;
	sum->kafka.chunks_acked += t->kafka.chunks_acked;
	sum->kafka.chunks_failed += t->kafka.chunks_failed;
	sum->kafka.chunks_dropped += t->kafka.chunks_dropped;
	sum->kafka.content_bytes += t->kafka.content_bytes;
	sum->kafka.content_dropped_bytes += t->kafka.content_dropped_bytes;
	sum->kafka.retries += t->kafka.retries;
	sum->kafka.request_errors += t->kafka.request_errors;
	sum->kafka.waiting += t->kafka.waiting;
}

void
sinks_worker_totals(const struct sinks *s, unsigned int worker, struct sinks_totals *out)
{
	const struct sinks_worker *w;

	memset(out, 0, sizeof(*out));
	if (worker >= s->n_workers)
		return;
	w = &s->workers[worker];
	out->streams = __atomic_load_n(&w->streams, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&w->write_errors, __ATOMIC_RELAXED);
	out->unbalanced = __atomic_load_n(&w->unbalanced, __ATOMIC_RELAXED);
	out->received = __atomic_load_n(&w->received, __ATOMIC_RELAXED);
	out->overlap = __atomic_load_n(&w->overlap, __ATOMIC_RELAXED);
	out->discarded = __atomic_load_n(&w->discarded, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < s->n; i++)
		if (s->sink[i].ops == &sink_pcap_ops)
			sink_pcap_counters(&s->sink[i], worker, &out->pcap);
		else if (s->sink[i].ops == &sink_redis_ops)
			sink_redis_counters(&s->sink[i], worker, &out->redis);
		else if (s->sink[i].ops == &sink_kafka_ops)
			sink_kafka_counters(&s->sink[i], worker, &out->kafka);
	out->write_errors += out->pcap.write_errors;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */
/* ------------------------------------------------------------------ */

static uint32_t
align8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

/* Add sink @p ops with argument @p arg (copied), and open it. */
static int
sink_add(struct sinks *s, const struct sink_ops *ops, const char *arg)
{
	struct sink *k = &s->sink[s->n];

	k->ops = ops;
	k->sinks = s;
	k->index = s->n++;
	if (arg != NULL) {
		k->arg = strdup(arg);
		if (k->arg == NULL) {
			fprintf(stderr, "reasm: sinks: out of memory\n");
			return -1;
		}
	}
	k->priv_off = s->priv_size;
	s->priv_size = align8(s->priv_size + ops->stream_priv_size);
	s->detail |= ops->per_stream_detail;
	s->packets |= ops->packets != NULL;
	s->connections |= ops->conn_close != NULL;
	return ops->open(k);
}

static int
sinks_add_all(struct sinks *s, const struct sinks_conf *conf)
{
	unsigned int i;

	for (i = 0; i < conf->n_specs; i++) {
		const char *arg;
		const struct sink_ops *ops = sink_lookup(conf->specs[i], &arg);

		if (ops == NULL) {
			fprintf(stderr, "reasm: sinks: unknown sink '%s'\n", conf->specs[i]);
			return -1;
		}
		if (sink_add(s, ops, arg) < 0)
			return -1;
	}
	if (!conf->quiet && sink_add(s, &sink_console_ops, NULL) < 0)
		return -1;
	return 0;
}

struct sinks *
sinks_create(const struct sinks_conf *conf)
{
	struct sinks *s;

	if (conf == NULL || conf->n_workers == 0) {
		fprintf(stderr, "reasm: sinks: need at least one worker\n");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL ||
	    posix_memalign((void **)&s->workers, 64, sizeof(*s->workers) * conf->n_workers)) {
		fprintf(stderr, "reasm: sinks: out of memory\n");
		free(s);
		return NULL;
	}
	memset(s->workers, 0, sizeof(*s->workers) * conf->n_workers);
	s->n_workers = conf->n_workers;
	s->sha256 = conf->sha256;
	s->community_id_seed = conf->community_id_seed;
	s->sensor_id = conf->sensor_id;
	s->detail = conf->sha256;
	s->priv_size = align8(sizeof(struct sink_stream));
	if (s->sha256) {
		s->sha_off = s->priv_size;
		s->priv_size = align8(s->priv_size + sizeof(struct sha256_ctx));
	}
	if (sinks_add_all(s, conf) < 0) {
		s->finished = true; /* nothing to report at free */
		sinks_free(s);
		return NULL;
	}
	if (s->detail) {
		s->conflict_off = s->priv_size;
		s->priv_size = align8(s->priv_size + sizeof(struct reasm_conflict));
	}
	return s;
}

int
sinks_reopen(struct sinks *s, void (*quiesce)(void *ctx), void *ctx)
{
	int old[SINK_MAX + 1];
	unsigned int i;
	int rc = 0;

	for (i = 0; i < s->n; i++) {
		old[i] = -1;
		if (s->sink[i].ops->reopen != NULL &&
		    s->sink[i].ops->reopen(&s->sink[i], &old[i]) < 0)
			rc = -1;
	}
	/* Once every worker has been between two bursts, none holds an old descriptor. */
	if (quiesce != NULL)
		quiesce(ctx);
	for (i = 0; i < s->n; i++)
		if (old[i] >= 0)
			close(old[i]);
	return rc;
}

int
sinks_finish(struct sinks *s)
{
	uint64_t errors = 0;
	unsigned int i;
	int rc = 0;

	if (s->finished)
		return s->finish_rc;
	s->finished = true;
	for (i = 0; i < s->n_workers; i++)
		errors += __atomic_load_n(&s->workers[i].write_errors, __ATOMIC_RELAXED);
	if (errors > 0) {
		fprintf(stderr, "reasm: sinks: %" PRIu64 " failed writes\n", errors);
		rc = -1;
	}
	for (i = 0; i < s->n; i++)
		if (s->sink[i].ops->finish != NULL && s->sink[i].ops->finish(&s->sink[i]) < 0)
			rc = -1;
	s->finish_rc = rc;
	return rc;
}

void
sinks_free(struct sinks *s)
{
	unsigned int i;

	if (s == NULL)
		return;
	if (!s->finished)
		sinks_finish(s);
	for (i = 0; i < s->n; i++) {
		if (s->sink[i].ops->free != NULL)
			s->sink[i].ops->free(&s->sink[i]);
		free(s->sink[i].arg);
	}
	free(s->workers);
	free(s);
}
