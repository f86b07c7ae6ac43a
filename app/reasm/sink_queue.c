/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * A sink's bounded hand-off from one worker to the sink's own thread: a
 * single-producer single-consumer ring of variable-size records in a buffer
 * allocated once (sink.h, struct sink_queue). Positions only grow; a record
 * never wraps: one that would is preceded by a marker that sends the reader
 * back to the start. The worker never waits: a record that does not fit is
 * refused, and the sink counts it. Also the sink's thread itself (struct
 * sink_thread) and the number parser of the sinks' options.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"

/* Before each record: its size (header included, a multiple of 8) and its length. */
struct sink_queue_hdr {
	uint32_t total; /* SINK_QUEUE_WRAP: nothing more before the buffer's end */
	uint32_t len;
};
#define SINK_QUEUE_WRAP UINT32_MAX

static uint64_t
align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

int
sink_queue_init(struct sink_queue *q, uint64_t size)
{
	memset(q, 0, sizeof(*q));
	q->size = align8(size);
	if (posix_memalign((void **)&q->buf, 64, q->size) != 0) {
		q->buf = NULL;
		return -1;
	}
	return 0;
}

void
sink_queue_free(struct sink_queue *q)
{
	free(q->buf);
	q->buf = NULL;
}

void *
sink_queue_reserve(struct sink_queue *q, uint32_t len)
{
	uint64_t need = align8(sizeof(struct sink_queue_hdr) + len);
	uint64_t head = q->head, tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
	uint64_t off = head % q->size, pad = need > q->size - off ? q->size - off : 0;
	struct sink_queue_hdr *h;

	if (need > q->size / 2 || head + pad + need - tail > q->size)
		return NULL;
	if (pad > 0) {
		((struct sink_queue_hdr *)(q->buf + off))->total = SINK_QUEUE_WRAP;
		head += pad;
		off = 0;
	}
	h = (struct sink_queue_hdr *)(q->buf + off);
	h->total = (uint32_t)need;
	h->len = len;
	q->next_head = head + need;
	return h + 1;
}

uint64_t
sink_queue_room(const struct sink_queue *q)
{
	return q->size - (q->head - __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE));
}

void
sink_queue_commit(struct sink_queue *q)
{
	__atomic_store_n(&q->head, q->next_head, __ATOMIC_RELEASE);
}

const void *
sink_queue_peek(struct sink_queue *q, uint32_t *len)
{
	uint64_t head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);

	while (q->tail != head) {
		const struct sink_queue_hdr *h = (const struct sink_queue_hdr *)(q->buf +
										 q->tail % q->size);

		if (h->total == SINK_QUEUE_WRAP) {
			__atomic_store_n(&q->tail, q->tail + q->size - q->tail % q->size,
					 __ATOMIC_RELEASE);
			continue;
		}
		*len = h->len;
		return h + 1;
	}
	return NULL;
}

void
sink_queue_pop(struct sink_queue *q)
{
	const struct sink_queue_hdr *h = (const struct sink_queue_hdr *)(q->buf +
									 q->tail % q->size);

	__atomic_store_n(&q->tail, q->tail + h->total, __ATOMIC_RELEASE);
}

/* ---- the sink's own thread ---------------------------------------------------- */

int
sink_thread_start(struct sink_thread *t, const char *sink, void *(*main)(void *), void *arg)
{
	int rc = pthread_create(&t->tid, NULL, main, arg);

	if (rc != 0) {
		fprintf(stderr, "reasm: %s sink: cannot start its thread: %s\n", sink,
			strerror(rc));
		return -1;
	}
	t->started = true;
	return 0;
}

bool
sink_thread_stopping(struct sink_thread *t)
{
	return __atomic_load_n(&t->stop, __ATOMIC_ACQUIRE);
}

void
sink_thread_stop(struct sink_thread *t)
{
	if (!t->started)
		return;
	__atomic_store_n(&t->stop, true, __ATOMIC_RELEASE);
	pthread_join(t->tid, NULL);
	t->started = false;
}

bool
sink_parse_number(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *s != '-';
}
