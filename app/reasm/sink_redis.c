/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * redis:HOST:PORT[,stream=NAME][,maxlen=N][,queue=BYTES] -- every completed
 * stream direction's record (the jsonl object) appended to a Redis stream
 * with XADD, as Suricata's redis output does: fields "record" (the JSON),
 * "community_id" and "sensor", so consumers (XREAD, consumer groups) can
 * route and join without parsing. Debian's hiredis speaks the protocol.
 *
 *   - workers never talk to Redis: each copies its records into its own
 *     bounded queue (queue=BYTES, default 1 MiB) and goes on; what does not
 *     fit is counted (redis_dropped). One thread of the sink's own sends
 *     them, pipelined (up to 256 per round trip), and counts each answer:
 *     redis_sent (stored), redis_failed (an error answer, or sent on a
 *     connection that broke before answering: stored or not, it is counted);
 *   - a server that is down or goes away costs the workers nothing: the
 *     thread reconnects every second (redis_reconnects), records wait in the
 *     queues meanwhile and, once those are full, are counted dropped;
 *   - maxlen=N (default 1000000, 0: none) trims the stream as XADD MAXLEN ~ N
 *     does, so Redis' memory stays bounded too;
 *   - at exit the thread sends what is queued (for up to 5 s if the server
 *     is away); every record is then sent, dropped or failed, and any loss
 *     makes the exit status 1, as a failed write does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "sink.h"

#define REDIS_DEFAULT_STREAM "reasm"
#define REDIS_DEFAULT_MAXLEN 1000000u
#define REDIS_DEFAULT_QUEUE (1u << 20)
#define REDIS_MIN_QUEUE (64u << 10)
#define REDIS_MAX_QUEUE (1u << 30)
#define REDIS_BATCH 256
#define REDIS_RECONNECT_NS 1000000000ull
#define REDIS_EXIT_GRACE_NS 5000000000ull
#define REDIS_IDLE_NS 1000000

/* A queued record: its Community ID, then the JSON object (record_len bytes). */
struct redis_qrec {
	char community_id[REASM_COMMUNITY_ID_SIZE + 1];
	uint32_t record_len;
};

struct redis_queue {
	struct sink_queue q;
	struct sink_redis_counters wctr __attribute__((aligned(64))); /* the worker's: dropped */
	struct sink_redis_counters ctr __attribute__((aligned(64)));  /* the thread's */
} __attribute__((aligned(64)));

struct redis_state {
	char host[256];
	int port;
	char stream[128];
	char maxlen[24]; /* "" for no trimming */
	uint64_t queue_bytes;
	unsigned int n_workers;
	struct redis_queue *queues;
	/* The sender thread's own. */
	struct sink_thread sender;
	redisContext *c;
	bool ever_connected;
	bool down_said;
	uint64_t next_try_ns;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the workers' side ----------------------------------------------------- */

static void
redis_stream_close(struct sink *k, struct sink_stream *st, void *priv,
		   const struct sink_close_info *info)
{
	struct redis_state *rs = k->state;
	struct redis_queue *rq = &rs->queues[st->worker < rs->n_workers ? st->worker : 0];
	char buf[SINK_JSON_RECORD_MAX];
	struct sink_line l = {buf, sizeof(buf), 0, false};
	struct redis_qrec *r;

	sink_json_record(&l, k, st, info);
	r = l.overflow ? NULL : sink_queue_reserve(&rq->q, (uint32_t)(sizeof(*r) + l.len));
	if (r == NULL) {
		sink_counter_add(&rq->wctr.dropped, 1);
		return;
	}
	if (sink_community_id(k, st, r->community_id) < 0)
		r->community_id[0] = '\0';
	r->record_len = (uint32_t)l.len;
	memcpy(r + 1, buf, l.len);
	sink_queue_commit(&rq->q);
}

/* ---- the sender thread -------------------------------------------------------- */

static void
disconnect(struct redis_state *rs)
{
	if (rs->c != NULL)
		redisFree(rs->c);
	rs->c = NULL;
	rs->next_try_ns = now_ns() + REDIS_RECONNECT_NS;
}

/* Connected, or trying once a second; false while the server is away. */
static bool
connected(struct sink *k)
{
	struct redis_state *rs = k->state;
	const struct timeval tv = {1, 0};

	if (rs->c != NULL)
		return true;
	if (now_ns() < rs->next_try_ns)
		return false;
	rs->c = redisConnectWithTimeout(rs->host, rs->port, tv);
	if (rs->c == NULL || rs->c->err || redisSetTimeout(rs->c, (struct timeval){2, 0}) != 0) {
		if (!rs->down_said)
			fprintf(stderr,
				"reasm: redis sink: %s:%d: %s (retrying every second; records wait "
				"in the queues, then are counted dropped)\n",
				rs->host, rs->port,
				rs->c != NULL ? rs->c->errstr : "out of memory");
		rs->down_said = true;
		disconnect(rs);
		return false;
	}
	if (rs->ever_connected)
		sink_counter_add(&rs->queues[0].ctr.reconnects, 1);
	if (rs->down_said)
		fprintf(stderr, "reasm: redis sink: %s:%d: connected again\n", rs->host, rs->port);
	rs->ever_connected = true;
	rs->down_said = false;
	return true;
}

/* Append XADD for @p r to the connection's output (hiredis copies the arguments). */
static void
append_xadd(struct redis_state *rs, const struct redis_qrec *r, const char *sensor)
{
	/* XADD key [MAXLEN ~ N] * record R community_id C [sensor S]: at most 12. */
	const char *argv[12];
	size_t len[12];
	int n = 0;

#define ARG(s, l) (argv[n] = (s), len[n++] = (l))
	ARG("XADD", 4);
	ARG(rs->stream, strlen(rs->stream));
	if (rs->maxlen[0] != '\0') {
		ARG("MAXLEN", 6);
		ARG("~", 1);
		ARG(rs->maxlen, strlen(rs->maxlen));
	}
	ARG("*", 1);
	ARG("record", 6);
	ARG((const char *)(r + 1), r->record_len);
	ARG("community_id", 12);
	ARG(r->community_id, strlen(r->community_id));
	if (sensor != NULL) {
		ARG("sensor", 6);
		ARG(sensor, strlen(sensor));
	}
#undef ARG
	redisAppendCommandArgv(rs->c, n, argv, len);
}

/*
 * Send up to REDIS_BATCH records of @p rq in one round trip and count the
 * answers. The number of records taken from the queue.
 */
static unsigned int
send_batch(struct sink *k, struct redis_queue *rq)
{
	struct redis_state *rs = k->state;
	const struct redis_qrec *r;
	unsigned int n = 0, i;
	uint32_t len;

	while (n < REDIS_BATCH && (r = sink_queue_peek(&rq->q, &len)) != NULL) {
		append_xadd(rs, r, sink_sensor_id(k));
		sink_queue_pop(&rq->q);
		n++;
	}
	for (i = 0; i < n; i++) {
		redisReply *reply = NULL;

		if (redisGetReply(rs->c, (void **)&reply) != REDIS_OK) {
			/* The connection broke: what it did with the rest is unknown. */
			sink_counter_add(&rq->ctr.failed, n - i);
			if (!rs->down_said)
				fprintf(stderr,
					"reasm: redis sink: %s:%d: %s (%u records counted failed; "
					"reconnecting)\n",
					rs->host, rs->port, rs->c->errstr, n - i);
			rs->down_said = true;
			disconnect(rs);
			return n;
		}
		sink_counter_add(reply->type == REDIS_REPLY_ERROR ? &rq->ctr.failed : &rq->ctr.sent,
				 1);
		freeReplyObject(reply);
	}
	return n;
}

static void *
sender_main(void *arg)
{
	struct sink *k = arg;
	struct redis_state *rs = k->state;
	const struct timespec nap = {0, REDIS_IDLE_NS};
	uint64_t give_up = 0;

	for (;;) {
		bool stop = sink_thread_stopping(&rs->sender);
		unsigned int n = 0, w;
		uint32_t len;
		bool queued = false;

		if (stop && give_up == 0)
			give_up = now_ns() + REDIS_EXIT_GRACE_NS;
		for (w = 0; w < rs->n_workers; w++)
			queued |= sink_queue_peek(&rs->queues[w].q, &len) != NULL;
		if (queued && connected(k))
			for (w = 0; w < rs->n_workers && rs->c != NULL; w++)
				n += send_batch(k, &rs->queues[w]);
		if (n > 0)
			continue;
		if (stop && (!queued || now_ns() > give_up))
			break;
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

/* "HOST:PORT[,stream=NAME][,maxlen=N][,queue=BYTES]" into @p rs. */
static int
parse_options(struct sink *k, struct redis_state *rs)
{
	char *opt = strchr(k->arg, ','), *colon;
	unsigned long long v;

	snprintf(rs->stream, sizeof(rs->stream), "%s", REDIS_DEFAULT_STREAM);
	snprintf(rs->maxlen, sizeof(rs->maxlen), "%u", REDIS_DEFAULT_MAXLEN);
	rs->queue_bytes = REDIS_DEFAULT_QUEUE;
	if (opt != NULL)
		*opt++ = '\0';
	colon = strrchr(k->arg, ':');
	if (colon == NULL || colon == k->arg || !sink_parse_number(colon + 1, &v) || v == 0 ||
	    v > 65535 || (size_t)(colon - k->arg) >= sizeof(rs->host)) {
		fprintf(stderr, "reasm: redis sink: '%s': expected HOST:PORT\n", k->arg);
		return -1;
	}
	rs->port = (int)v;
	snprintf(rs->host, sizeof(rs->host), "%.*s", (int)(colon - k->arg), k->arg);
	while (opt != NULL && *opt != '\0') {
		char *next = strchr(opt, ',');

		if (next != NULL)
			*next++ = '\0';
		if (strncmp(opt, "stream=", 7) == 0 && opt[7] != '\0' &&
		    strlen(opt + 7) < sizeof(rs->stream)) {
			snprintf(rs->stream, sizeof(rs->stream), "%s", opt + 7);
		} else if (strncmp(opt, "maxlen=", 7) == 0 && sink_parse_number(opt + 7, &v)) {
			if (v == 0)
				rs->maxlen[0] = '\0';
			else
				snprintf(rs->maxlen, sizeof(rs->maxlen), "%llu", v);
		} else if (strncmp(opt, "queue=", 6) == 0 && sink_parse_number(opt + 6, &v) &&
			   v >= REDIS_MIN_QUEUE && v <= REDIS_MAX_QUEUE) {
			rs->queue_bytes = v;
		} else {
			fprintf(stderr,
				"reasm: redis sink: option '%s': expected stream=NAME (1..127 "
				"bytes), maxlen=N or queue=BYTES (%u..%u)\n",
				opt, REDIS_MIN_QUEUE, REDIS_MAX_QUEUE);
			return -1;
		}
		opt = next;
	}
	return 0;
}

static int
redis_open(struct sink *k)
{
	struct redis_state *rs = calloc(1, sizeof(*rs));
	unsigned int w;

	if (rs == NULL) {
		fprintf(stderr, "reasm: redis sink: out of memory\n");
		return -1;
	}
	k->state = rs;
	rs->n_workers = sink_n_workers(k);
	if (parse_options(k, rs) < 0)
		return -1;
	if (posix_memalign((void **)&rs->queues, 64, sizeof(*rs->queues) * rs->n_workers)) {
		rs->queues = NULL;
		fprintf(stderr, "reasm: redis sink: out of memory\n");
		return -1;
	}
	memset(rs->queues, 0, sizeof(*rs->queues) * rs->n_workers);
	for (w = 0; w < rs->n_workers; w++)
		if (sink_queue_init(&rs->queues[w].q, rs->queue_bytes) < 0) {
			fprintf(stderr, "reasm: redis sink: out of memory (queue=%" PRIu64 ")\n",
				rs->queue_bytes);
			return -1;
		}
	return sink_thread_start(&rs->sender, "redis", sender_main, k);
}

/* Every worker has stopped: send what is queued, then count what could not be. */
static int
redis_finish(struct sink *k)
{
	struct redis_state *rs = k->state;
	uint64_t lost = 0;
	unsigned int w;
	uint32_t len;

	sink_thread_stop(&rs->sender);
	for (w = 0; w < rs->n_workers; w++) {
		struct redis_queue *rq = &rs->queues[w];

		while (sink_queue_peek(&rq->q, &len) != NULL) { /* the server stayed away */
			sink_queue_pop(&rq->q);
			sink_counter_add(&rq->ctr.failed, 1);
		}
		lost += rq->wctr.dropped + rq->ctr.failed;
	}
	disconnect(rs);
	if (lost > 0) {
		fprintf(stderr, "reasm: redis sink: %" PRIu64 " records not stored in %s:%d %s\n",
			lost, rs->host, rs->port, rs->stream);
		return -1;
	}
	return 0;
}

static void
redis_free(struct sink *k)
{
	struct redis_state *rs = k->state;
	unsigned int w;

	if (rs == NULL)
		return;
	sink_thread_stop(&rs->sender);
	disconnect(rs);
	for (w = 0; rs->queues != NULL && w < rs->n_workers; w++)
		sink_queue_free(&rs->queues[w].q);
	free(rs->queues);
	free(rs);
	k->state = NULL;
}

void
sink_redis_counters(const struct sink *k, unsigned int worker, struct sink_redis_counters *out)
{
	const struct redis_state *rs = k->state;
	const struct redis_queue *rq;

	if (rs == NULL || worker >= rs->n_workers)
		return;
	rq = &rs->queues[worker];
	out->sent += __atomic_load_n(&rq->ctr.sent, __ATOMIC_RELAXED);
	out->failed += __atomic_load_n(&rq->ctr.failed, __ATOMIC_RELAXED);
	out->reconnects += __atomic_load_n(&rq->ctr.reconnects, __ATOMIC_RELAXED);
	out->dropped += __atomic_load_n(&rq->wctr.dropped, __ATOMIC_RELAXED);
}

const struct sink_ops sink_redis_ops = {
	.name = "redis",
	.arg = SINK_ARG_REQUIRED,
	.per_stream_detail = true,
	.open = redis_open,
	.stream_close = redis_stream_close,
	.finish = redis_finish,
	.free = redis_free,
};
