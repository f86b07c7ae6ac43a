/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * kafka:BROKERS[,topic=NAME][,content=yes|no][,queue=BYTES][,rdkafka.PROP=VALUE...]
 * -- every completed stream direction's record, and with content=yes its
 * reassembled bytes, produced to a Kafka topic with Debian's librdkafka, as
 * Zeek's and Arkime's Kafka outputs do.
 *
 * Messages (all in one topic, so a connection's stay in order in one partition):
 *   - key: the connection's Community ID (the jsonl's "community_id"), the
 *     same for both directions, so one partition holds a connection;
 *   - headers: "type" ("record" or "chunk"), "stream" (the direction's id,
 *     WORKER.SERIAL, unique in a run), "sensor" (--sensor-id, if any);
 *   - a chunk (content=yes): up to 16 KiB of the direction's delivered bytes;
 *     headers "offset" (of its first byte in the direction's delivered bytes,
 *     what the jsonl's sha256 covers) and "skip" (the library's skip before
 *     it: -1 when the stream's start was not seen, else the bytes of sequence
 *     holes since the chunk before it);
 *   - a record, after the direction's chunks: the jsonl object with
 *     "stream" and, with content=yes, "chunks" (chunks queued) and
 *     "content_lost" (delivered bytes not queued: the queue was full; they
 *     show as a gap in the chunks' offsets).
 *
 * Workers never call librdkafka: each copies records and chunks into its own
 * bounded queue (queue=BYTES; 1 MiB, 16 MiB with content=yes) and goes on;
 * what does not fit is counted (kafka_dropped, kafka_chunks_dropped and the
 * stream's content_lost); chunks leave the last quarter of the queue to
 * records, so a flood of content loses bytes before it loses records. One thread of the sink's own hands them to
 * librdkafka, whose own buffer is bounded too (queue.buffering.max.kbytes:
 * 64 MiB unless set); while that is full, entries wait in the workers'
 * queues. The producer is idempotent, so retries neither reorder nor
 * duplicate a partition's messages; a lost broker is tried again after at
 * most 1 s (reconnect.backoff.max.ms). Delivery reports are counted
 * (kafka_acked, kafka_failed, kafka_chunks_acked/_failed,
 * kafka_content_bytes); librdkafka's statistics give its request retries
 * (kafka_retries), failed or timed-out requests (kafka_request_errors) and
 * the messages it holds (kafka_waiting). At exit the thread produces what is queued (5 s at
 * most), librdkafka delivers what it holds (10 s at most) and what is left is
 * purged and counted failed: every record and chunk is then acked, failed or
 * dropped, and any loss makes the exit status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "sink.h"

#define KAFKA_DEFAULT_TOPIC "reasm"
#define KAFKA_DEFAULT_QUEUE (1u << 20)
#define KAFKA_DEFAULT_CONTENT_QUEUE (16u << 20)
#define KAFKA_MIN_QUEUE (64u << 10)
#define KAFKA_MAX_QUEUE (1u << 30)
#define KAFKA_CHUNK_MAX (16u << 10)
#define KAFKA_BATCH 256
#define KAFKA_STREAM_ID_SIZE 24
#define KAFKA_DRAIN_GRACE_NS 5000000000ull
#define KAFKA_FLUSH_GRACE_MS 10000
#define KAFKA_TOPIC_MAX 250

enum kafka_kind { KAFKA_RECORD, KAFKA_CHUNK };

/* A queued message: this header, then len bytes of value. */
struct kafka_qmsg {
	uint64_t offset; /* chunk: of its first byte in the delivered bytes */
	int64_t skip;    /* chunk: the library's skip before it */
	uint32_t len;
	uint8_t kind; /* enum kafka_kind */
	char stream[KAFKA_STREAM_ID_SIZE];
	char community_id[REASM_COMMUNITY_ID_SIZE];
};

/* The sink's per-stream state (in the pool's per-stream area). */
struct kafka_stream {
	char id[KAFKA_STREAM_ID_SIZE];
	char community_id[REASM_COMMUNITY_ID_SIZE];
	uint64_t offset; /* delivered bytes seen so far */
	int64_t skip;    /* the skip the next queued chunk carries */
	uint64_t chunks; /* chunks queued */
	uint64_t lost;   /* delivered bytes not queued */
};

struct kafka_queue {
	struct sink_queue q;
	uint64_t serial; /* the worker's: streams opened */
	struct sink_kafka_counters wctr __attribute__((aligned(64))); /* the worker's: dropped */
	struct sink_kafka_counters ctr __attribute__((aligned(64)));  /* the producer thread's */
} __attribute__((aligned(64)));

struct kafka_state {
	char *brokers;
	char topic[KAFKA_TOPIC_MAX + 1];
	bool content;
	uint64_t queue_bytes;
	unsigned int n_workers;
	struct kafka_queue *queues;
	rd_kafka_t *rk;
	struct sink_thread sender;
	bool fatal_said;
	unsigned int errors_said;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct kafka_queue *
worker_queue(struct kafka_state *ks, uint32_t worker)
{
	return &ks->queues[worker < ks->n_workers ? worker : 0];
}

/* ---- the workers' side ----------------------------------------------------- */

static void
kafka_stream_open(struct sink *k, struct sink_stream *st, void *priv)
{
	struct kafka_state *ks = k->state;
	struct kafka_queue *kq = worker_queue(ks, st->worker);
	struct kafka_stream *s = priv;

	snprintf(s->id, sizeof(s->id), "%" PRIu32 ".%" PRIu64, st->worker, kq->serial++);
	if (sink_community_id(k, st, s->community_id) < 0)
		s->community_id[0] = '\0';
}

/* The library's skip before a record, added to what the next chunk carries. */
static void
add_skip(struct kafka_stream *s, int64_t skip)
{
	if (skip < 0)
		s->skip = -1; /* the start was not seen: said by the first chunk queued */
	else if (s->skip >= 0)
		s->skip += skip;
}

/*
 * Bytes of the chunk starting at byte @p from of records[i]: as much as fits
 * in KAFKA_CHUNK_MAX of that record and of the records following it directly
 * (skip 0).
 */
static uint32_t
chunk_len(const struct reasm_record *records, unsigned int n, unsigned int i, uint32_t from)
{
	uint32_t total = 0;

	for (; i < n && total < KAFKA_CHUNK_MAX; i++, from = 0) {
		uint32_t take = records[i].len - from;

		if (total > 0 && records[i].skip != 0)
			break;
		if (take > KAFKA_CHUNK_MAX - total)
			take = KAFKA_CHUNK_MAX - total;
		total += take;
	}
	return total;
}

/* Copy @p len bytes from byte *@p from of records[*i] on to @p out, advancing *i and *from. */
static void
chunk_copy(uint8_t *out, uint32_t len, const struct reasm_record *records, unsigned int *i,
	   uint32_t *from)
{
	while (len > 0) {
		uint32_t take = records[*i].len - *from;

		if (take > len)
			take = len;
		if (out != NULL) {
			memcpy(out, records[*i].bytes + *from, take);
			out += take;
		}
		len -= take;
		*from += take;
		if (*from == records[*i].len && len > 0) {
			(*i)++;
			*from = 0;
		}
	}
}

/* Queue the next @p len bytes, from byte *@p from of records[*i], as one chunk. */
static void
queue_chunk(struct kafka_queue *kq, struct kafka_stream *s, const struct reasm_record *records,
	    unsigned int *i, uint32_t *from, uint32_t len)
{
	uint32_t need = (uint32_t)(sizeof(struct kafka_qmsg) + len);
	/* Chunks leave the last quarter of the queue to records. */
	struct kafka_qmsg *m = sink_queue_room(&kq->q) >= need + kq->q.size / 4
				       ? sink_queue_reserve(&kq->q, need)
				       : NULL;

	if (m == NULL) {
		sink_counter_add(&kq->wctr.chunks_dropped, 1);
		sink_counter_add(&kq->wctr.content_dropped_bytes, len);
		s->lost += len;
		chunk_copy(NULL, len, records, i, from);
	} else {
		m->kind = KAFKA_CHUNK;
		m->offset = s->offset;
		m->skip = s->skip;
		m->len = len;
		memcpy(m->stream, s->id, sizeof(m->stream));
		memcpy(m->community_id, s->community_id, sizeof(m->community_id));
		chunk_copy((uint8_t *)(m + 1), len, records, i, from);
		sink_queue_commit(&kq->q);
		s->skip = 0;
		s->chunks++;
	}
	s->offset += len;
}

static void
kafka_data(struct sink *k, struct sink_stream *st, void *priv, const struct reasm_record *records,
	   unsigned int n)
{
	struct kafka_state *ks = k->state;
	struct kafka_queue *kq = worker_queue(ks, st->worker);
	struct kafka_stream *s = priv;
	unsigned int i = 0;
	uint32_t from = 0;

	if (!ks->content)
		return;
	while (i < n) {
		if (from == 0)
			add_skip(s, records[i].skip);
		if (from == records[i].len) { /* done with it (or empty) */
			i++;
			from = 0;
			continue;
		}
		queue_chunk(kq, s, records, &i, &from, chunk_len(records, n, i, from));
	}
}

static void
kafka_stream_close(struct sink *k, struct sink_stream *st, void *priv,
		   const struct sink_close_info *info)
{
	struct kafka_state *ks = k->state;
	struct kafka_queue *kq = worker_queue(ks, st->worker);
	struct kafka_stream *s = priv;
	char buf[SINK_JSON_RECORD_MAX];
	struct sink_line l = {buf, sizeof(buf), 0, false};
	struct kafka_qmsg *m;

	sink_json_record(&l, k, st, info);
	if (!l.overflow)
		l.len--; /* reopen the object: more members follow */
	sink_line_append(&l, ",\"stream\":\"%s\"", s->id);
	if (ks->content)
		sink_line_append(&l, ",\"chunks\":%" PRIu64 ",\"content_lost\":%" PRIu64, s->chunks,
				 s->lost);
	sink_line_append(&l, "}");
	m = l.overflow ? NULL : sink_queue_reserve(&kq->q, (uint32_t)(sizeof(*m) + l.len));
	if (m == NULL) {
		sink_counter_add(&kq->wctr.dropped, 1);
		return;
	}
	m->kind = KAFKA_RECORD;
	m->offset = 0;
	m->skip = 0;
	m->len = (uint32_t)l.len;
	memcpy(m->stream, s->id, sizeof(m->stream));
	memcpy(m->community_id, s->community_id, sizeof(m->community_id));
	memcpy(m + 1, buf, l.len);
	sink_queue_commit(&kq->q);
}

/* ---- the producer thread ------------------------------------------------------ */

/* The delivery report tag of a message: its worker and kind. */
static void *
delivery_tag(unsigned int worker, enum kafka_kind kind)
{
	return (void *)(((uintptr_t)worker << 1) | (uintptr_t)kind);
}

/* A delivery report (on the thread calling rd_kafka_poll/flush: the producer, then finish). */
static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct kafka_state *ks = opaque;
	uintptr_t tag = (uintptr_t)msg->_private;
	struct sink_kafka_counters *c = &worker_queue(ks, (uint32_t)(tag >> 1))->ctr;
	bool chunk = (tag & 1) == KAFKA_CHUNK;

	(void)rk;
	if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		sink_counter_add(chunk ? &c->chunks_failed : &c->failed, 1);
		if (ks->errors_said++ == 0)
			fprintf(stderr, "reasm: kafka sink: %s: delivery failed: %s (counted)\n",
				ks->brokers, rd_kafka_err2str(msg->err));
	} else if (chunk) {
		sink_counter_add(&c->chunks_acked, 1);
		sink_counter_add(&c->content_bytes, msg->len);
	} else {
		sink_counter_add(&c->acked, 1);
	}
}

/* The sum of the numbers after every @p key ("\"name\":") in librdkafka's statistics. */
static uint64_t
stats_sum(const char *json, const char *key)
{
	size_t key_len = strlen(key);
	uint64_t sum = 0;

	while ((json = strstr(json, key)) != NULL) {
		json += key_len;
		sum += strtoull(json, NULL, 10);
	}
	return sum;
}

/*
 * librdkafka's statistics (JSON, every second): its brokers' request retries
 * and failed or timed-out requests, and the messages it holds (msg_cnt, at
 * the top level only).
 */
static int
on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct kafka_state *ks = opaque;
	struct sink_kafka_counters *c = &ks->queues[0].ctr;

	(void)rk;
	(void)len;
	__atomic_store_n(&c->retries, stats_sum(json, "\"txretries\":"), __ATOMIC_RELAXED);
	__atomic_store_n(&c->request_errors,
			 stats_sum(json, "\"txerrs\":") + stats_sum(json, "\"req_timeouts\":"),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&c->waiting, stats_sum(json, "\"msg_cnt\":"), __ATOMIC_RELAXED);
	return 0; /* librdkafka frees json */
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_state *ks = opaque;
	char fatal[512];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		if (!ks->fatal_said)
			fprintf(stderr,
				"reasm: kafka sink: %s: fatal: %s (what is not delivered is "
				"counted failed)\n",
				ks->brokers, fatal);
		ks->fatal_said = true;
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || ks->errors_said++ == 0)
		fprintf(stderr, "reasm: kafka sink: %s: %s (retrying; messages wait)\n",
			ks->brokers, reason);
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 2) /* critical; errors reach on_error, the rest does not matter */
		fprintf(stderr, "reasm: kafka sink: librdkafka %s: %s\n", fac, buf);
}

static void
vu_header(rd_kafka_vu_t *vu, const char *name, const char *value)
{
	vu->vtype = RD_KAFKA_VTYPE_HEADER;
	vu->u.header.name = name;
	vu->u.header.val = value;
	vu->u.header.size = -1; /* NUL-terminated */
}

static void
vu_mem(rd_kafka_vu_t *vu, rd_kafka_vtype_t type, const void *ptr, size_t size)
{
	vu->vtype = type;
	vu->u.mem.ptr = (void *)(uintptr_t)ptr;
	vu->u.mem.size = size;
}

/* Hand @p m (worker @p worker's) to librdkafka, which copies it; 0 or an error code. */
static rd_kafka_resp_err_t
produce(struct sink *k, unsigned int worker, const struct kafka_qmsg *m)
{
	struct kafka_state *ks = k->state;
	const char *sensor = sink_sensor_id(k);
	char offset[24], skip[24];
	rd_kafka_vu_t vu[10];
	rd_kafka_error_t *error;
	rd_kafka_resp_err_t err;
	size_t n = 0;

	vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
	vu[n++].u.cstr = ks->topic;
	vu_mem(&vu[n++], RD_KAFKA_VTYPE_KEY, m->community_id, strlen(m->community_id));
	vu_mem(&vu[n++], RD_KAFKA_VTYPE_VALUE, m + 1, m->len);
	vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
	vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
	vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
	vu[n++].u.ptr = delivery_tag(worker, (enum kafka_kind)m->kind);
	vu_header(&vu[n++], "type", m->kind == KAFKA_CHUNK ? "chunk" : "record");
	vu_header(&vu[n++], "stream", m->stream);
	if (sensor != NULL)
		vu_header(&vu[n++], "sensor", sensor);
	if (m->kind == KAFKA_CHUNK) {
		snprintf(offset, sizeof(offset), "%" PRIu64, m->offset);
		snprintf(skip, sizeof(skip), "%" PRId64, m->skip);
		vu_header(&vu[n++], "offset", offset);
		vu_header(&vu[n++], "skip", skip);
	}
	error = rd_kafka_produceva(ks->rk, vu, n);
	if (error == NULL)
		return RD_KAFKA_RESP_ERR_NO_ERROR;
	err = rd_kafka_error_code(error);
	rd_kafka_error_destroy(error);
	return err;
}

/*
 * Produce up to KAFKA_BATCH messages of worker @p w's queue; stops early
 * while librdkafka's buffer is full (*@p full set). Messages librdkafka
 * refuses for good count as failed. The number taken from the queue.
 */
static unsigned int
produce_batch(struct sink *k, unsigned int w, bool *full)
{
	struct kafka_state *ks = k->state;
	struct kafka_queue *kq = &ks->queues[w];
	const struct kafka_qmsg *m;
	unsigned int n = 0;
	uint32_t len;

	while (n < KAFKA_BATCH && (m = sink_queue_peek(&kq->q, &len)) != NULL) {
		rd_kafka_resp_err_t err = produce(k, w, m);

		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			*full = true;
			break;
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			sink_counter_add(m->kind == KAFKA_CHUNK ? &kq->ctr.chunks_failed
								: &kq->ctr.failed,
					 1);
			if (ks->errors_said++ == 0)
				fprintf(stderr, "reasm: kafka sink: %s: %s (counted failed)\n",
					ks->brokers, rd_kafka_err2str(err));
		}
		sink_queue_pop(&kq->q);
		n++;
	}
	return n;
}

static bool
queues_empty(struct kafka_state *ks)
{
	uint32_t len;

	for (unsigned int w = 0; w < ks->n_workers; w++)
		if (sink_queue_peek(&ks->queues[w].q, &len) != NULL)
			return false;
	return true;
}

static void *
sender_main(void *arg)
{
	struct sink *k = arg;
	struct kafka_state *ks = k->state;
	uint64_t give_up = 0;

	for (;;) {
		bool stop = sink_thread_stopping(&ks->sender), full = false;
		unsigned int n = 0;

		if (stop && give_up == 0)
			give_up = now_ns() + KAFKA_DRAIN_GRACE_NS;
		for (unsigned int w = 0; w < ks->n_workers && !full; w++)
			n += produce_batch(k, w, &full);
		rd_kafka_poll(ks->rk, 0); /* delivery reports, statistics */
		if (n > 0 && !full)
			continue;
		if (stop && (queues_empty(ks) || now_ns() > give_up))
			break;
		rd_kafka_poll(ks->rk, full ? 10 : 1);
	}
	return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

/* Set librdkafka property @p name to @p value; false after printing why. */
static bool
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char why[512];

	if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
		return true;
	fprintf(stderr, "reasm: kafka sink: rdkafka.%s=%s: %s\n", name, value, why);
	return false;
}

/*
 * One option of "kafka:..." (a comma-separated token): a broker (no '='),
 * topic=, content=, queue= or rdkafka.PROP=VALUE (set in @p conf, after the
 * defaults, so it overrides them). false after printing why.
 */
static bool
parse_option(struct kafka_state *ks, rd_kafka_conf_t *conf, char *opt, size_t *brokers_len,
	     bool *queue_set)
{
	unsigned long long v;
	char *eq = strchr(opt, '=');

	if (eq == NULL) {
		if (*opt == '\0' || strchr(opt, ':') == NULL) {
			fprintf(stderr, "reasm: kafka sink: '%s': expected a broker HOST:PORT\n",
				opt);
			return false;
		}
		*brokers_len += (size_t)sprintf(ks->brokers + *brokers_len, "%s%s",
						*brokers_len > 0 ? "," : "", opt);
		return true;
	}
	*eq = '\0';
	if (strcmp(opt, "topic") == 0 && eq[1] != '\0' && strlen(eq + 1) <= KAFKA_TOPIC_MAX) {
		snprintf(ks->topic, sizeof(ks->topic), "%s", eq + 1);
	} else if (strcmp(opt, "content") == 0 &&
		   (!strcmp(eq + 1, "yes") || !strcmp(eq + 1, "no"))) {
		ks->content = strcmp(eq + 1, "yes") == 0;
	} else if (strcmp(opt, "queue") == 0 && sink_parse_number(eq + 1, &v) &&
		   v >= KAFKA_MIN_QUEUE && v <= KAFKA_MAX_QUEUE) {
		ks->queue_bytes = v;
		*queue_set = true;
	} else if (strncmp(opt, "rdkafka.", 8) == 0 && opt[8] != '\0') {
		return conf_set(conf, opt + 8, eq + 1);
	} else {
		fprintf(stderr,
			"reasm: kafka sink: option '%s=%s': expected topic=NAME (1..%u bytes), "
			"content=yes|no, queue=BYTES (%u..%u) or rdkafka.PROPERTY=VALUE\n",
			opt, eq + 1, KAFKA_TOPIC_MAX, KAFKA_MIN_QUEUE, KAFKA_MAX_QUEUE);
		return false;
	}
	return true;
}

/* The defaults, then "BROKERS[,topic=..][,content=..][,queue=..][,rdkafka.X=Y..]" into @p conf. */
static int
configure(struct sink *k, struct kafka_state *ks, rd_kafka_conf_t *conf)
{
	char *opt = k->arg, *next;
	size_t brokers_len = 0;
	bool queue_set = false;

	snprintf(ks->topic, sizeof(ks->topic), "%s", KAFKA_DEFAULT_TOPIC);
	ks->brokers = calloc(1, strlen(k->arg) + 1);
	if (ks->brokers == NULL) {
		fprintf(stderr, "reasm: kafka sink: out of memory\n");
		return -1;
	}
	if (!conf_set(conf, "enable.idempotence", "true") ||
	    !conf_set(conf, "queue.buffering.max.kbytes", "65536") ||
	    !conf_set(conf, "linger.ms", "5") ||
	    !conf_set(conf, "statistics.interval.ms", "1000") ||
	    !conf_set(conf, "log.connection.close", "false") ||
	    !conf_set(conf, "reconnect.backoff.max.ms", "1000") ||
	    !conf_set(conf, "client.id", "reasm"))
		return -1;
	for (; opt != NULL; opt = next) {
		next = strchr(opt, ',');
		if (next != NULL)
			*next++ = '\0';
		if (!parse_option(ks, conf, opt, &brokers_len, &queue_set))
			return -1;
	}
	if (brokers_len == 0) {
		fprintf(stderr,
			"reasm: kafka sink: no broker (kafka:HOST:PORT[,HOST:PORT...][,...])\n");
		return -1;
	}
	if (!queue_set)
		ks->queue_bytes = ks->content ? KAFKA_DEFAULT_CONTENT_QUEUE : KAFKA_DEFAULT_QUEUE;
	if (!conf_set(conf, "bootstrap.servers", ks->brokers))
		return -1;
	rd_kafka_conf_set_opaque(conf, ks);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_stats_cb(conf, on_stats);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
	return 0;
}

static int
open_queues(struct kafka_state *ks)
{
	if (posix_memalign((void **)&ks->queues, 64, sizeof(*ks->queues) * ks->n_workers)) {
		ks->queues = NULL;
		fprintf(stderr, "reasm: kafka sink: out of memory\n");
		return -1;
	}
	memset(ks->queues, 0, sizeof(*ks->queues) * ks->n_workers);
	for (unsigned int w = 0; w < ks->n_workers; w++)
		if (sink_queue_init(&ks->queues[w].q, ks->queue_bytes) < 0) {
			fprintf(stderr, "reasm: kafka sink: out of memory (queue=%" PRIu64 ")\n",
				ks->queue_bytes);
			return -1;
		}
	return 0;
}

static int
kafka_open(struct sink *k)
{
	struct kafka_state *ks = calloc(1, sizeof(*ks));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[512];

	if (ks == NULL || conf == NULL) {
		free(ks);
		if (conf != NULL)
			rd_kafka_conf_destroy(conf);
		fprintf(stderr, "reasm: kafka sink: out of memory\n");
		return -1;
	}
	k->state = ks;
	ks->n_workers = sink_n_workers(k);
	if (configure(k, ks, conf) < 0 || open_queues(ks) < 0) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why)); /* owns conf if made */
	if (ks->rk == NULL) {
		rd_kafka_conf_destroy(conf);
		fprintf(stderr, "reasm: kafka sink: %s: %s\n", ks->brokers, why);
		return -1;
	}
	return sink_thread_start(&ks->sender, "kafka", sender_main, k);
}

/* Entries the producer thread could not hand over in time: counted failed. */
static void
fail_queued(struct kafka_state *ks)
{
	const struct kafka_qmsg *m;
	uint32_t len;

	for (unsigned int w = 0; w < ks->n_workers; w++) {
		struct kafka_queue *kq = &ks->queues[w];

		while ((m = sink_queue_peek(&kq->q, &len)) != NULL) {
			sink_counter_add(m->kind == KAFKA_CHUNK ? &kq->ctr.chunks_failed
								: &kq->ctr.failed,
					 1);
			sink_queue_pop(&kq->q);
		}
	}
}

/* Every worker has stopped: deliver what is queued, then count what could not be. */
static int
kafka_finish(struct sink *k)
{
	struct kafka_state *ks = k->state;
	struct sink_kafka_counters sum = {0};

	sink_thread_stop(&ks->sender);
	fail_queued(ks);
	if (rd_kafka_flush(ks->rk, KAFKA_FLUSH_GRACE_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Still undelivered: purged, their reports say failed. */
		rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(ks->rk, 1000);
	}
	rd_kafka_poll(ks->rk, 0);
	for (unsigned int w = 0; w < ks->n_workers; w++)
		sink_kafka_counters(k, w, &sum);
	if (sum.dropped + sum.failed + sum.chunks_dropped + sum.chunks_failed > 0) {
		fprintf(stderr,
			"reasm: kafka sink: not delivered to %s topic %s: %" PRIu64
			" records (%" PRIu64 " dropped, %" PRIu64 " failed), %" PRIu64
			" chunks (%" PRIu64 " dropped, %" PRIu64 " failed)\n",
			ks->brokers, ks->topic, sum.dropped + sum.failed, sum.dropped, sum.failed,
			sum.chunks_dropped + sum.chunks_failed, sum.chunks_dropped,
			sum.chunks_failed);
		return -1;
	}
	return 0;
}

static void
kafka_free(struct sink *k)
{
	struct kafka_state *ks = k->state;

	if (ks == NULL)
		return;
	sink_thread_stop(&ks->sender);
	if (ks->rk != NULL) {
		rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_destroy(ks->rk);
	}
	for (unsigned int w = 0; ks->queues != NULL && w < ks->n_workers; w++)
		sink_queue_free(&ks->queues[w].q);
	free(ks->queues);
	free(ks->brokers);
	free(ks);
	k->state = NULL;
}

void
sink_kafka_counters(const struct sink *k, unsigned int worker, struct sink_kafka_counters *out)
{
	const struct kafka_state *ks = k->state;
	const struct kafka_queue *kq;

	if (ks == NULL || worker >= ks->n_workers)
		return;
	kq = &ks->queues[worker];
#define ADD(f, c) (out->f += __atomic_load_n(&kq->c.f, __ATOMIC_RELAXED))
	ADD(acked, ctr);
	ADD(failed, ctr);
	ADD(dropped, wctr);
	ADD(chunks_acked, ctr);
	ADD(chunks_failed, ctr);
	ADD(chunks_dropped, wctr);
	ADD(content_bytes, ctr);
	ADD(content_dropped_bytes, wctr);
	ADD(retries, ctr);
	ADD(request_errors, ctr);
	ADD(waiting, ctr);
#undef ADD
}

const struct sink_ops sink_kafka_ops = {
	.name = "kafka",
	.arg = SINK_ARG_REQUIRED,
	.per_stream_detail = true,
	.stream_priv_size = sizeof(struct kafka_stream),
	.open = kafka_open,
	.stream_open = kafka_stream_open,
	.data = kafka_data,
	.stream_close = kafka_stream_close,
	.finish = kafka_finish,
	.free = kafka_free,
};
