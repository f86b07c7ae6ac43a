/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The reader adapter (the seed's tcpreader.ReaderStream): a bounded byte
 * ring between a stream's callbacks (the producer) and a consumer thread.
 * Gaps are remembered as one bit per ring byte ("a gap ends here"), so a
 * read stops at a gap and reports it once as data lost. This runs beside
 * the data path, not on it, so a mutex and condition variables are fine.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>

#include "reasm_private.h"

struct reasm_reader {
	pthread_mutex_t mu;
	pthread_cond_t has_data;  /**< signalled when bytes arrive or the stream ends */
	pthread_cond_t has_space; /**< signalled when bytes are read or the reader closes */
	uint8_t *ring;
	uint8_t *gap_bits; /**< bit i: a gap precedes ring[i] */
	uint32_t capacity;
	uint64_t rpos, wpos; /**< bytes read / written since the start */
	uint64_t dropped;
	bool loss_errors;
	bool drop_when_full;
	bool gap_reported; /**< the gap at rpos was reported */
	bool pending_gap;  /**< the next byte written follows a gap */
	bool finished;     /**< producer said end of stream */
	bool closed;       /**< consumer stopped reading */
};

static bool
gap_at(const struct reasm_reader *r, uint64_t pos)
{
	uint32_t i = (uint32_t)(pos % r->capacity);

	return (r->gap_bits[i / 8] >> (i % 8)) & 1;
}

static void
gap_set(struct reasm_reader *r, uint64_t pos, bool on)
{
	uint32_t i = (uint32_t)(pos % r->capacity);

	if (on)
		r->gap_bits[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		r->gap_bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

struct reasm_reader *
reasm_reader_create(const struct reasm_reader_conf *conf)
{
	struct reasm_reader *r;

	if (conf == NULL || conf->capacity == 0 ||
	    (conf->full_policy != REASM_READER_BLOCK && conf->full_policy != REASM_READER_DROP)) {
		rte_errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	r->ring = malloc(conf->capacity);
	r->gap_bits = calloc(conf->capacity / 8 + 1, 1);
	if (r->ring == NULL || r->gap_bits == NULL) {
		free(r->ring);
		free(r->gap_bits);
		free(r);
		rte_errno = ENOMEM;
		return NULL;
	}
	r->capacity = conf->capacity;
	r->loss_errors = conf->loss_errors;
	r->drop_when_full = conf->full_policy == REASM_READER_DROP;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->has_data, NULL);
	pthread_cond_init(&r->has_space, NULL);
	return r;
}

void
reasm_reader_free(struct reasm_reader *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->has_data);
	pthread_cond_destroy(&r->has_space);
	free(r->ring);
	free(r->gap_bits);
	free(r);
}

/* Append bytes that follow a gap if @gap; called with the lock held. */
static void
feed_bytes(struct reasm_reader *r, const uint8_t *p, uint32_t len, bool gap)
{
	while (len > 0 && !r->closed) {
		uint64_t space = r->capacity - (r->wpos - r->rpos);
		uint32_t at, n;

		if (space == 0) {
			if (r->drop_when_full) {
				r->dropped += len;
				r->pending_gap = true;
				return;
			}
			pthread_cond_wait(&r->has_space, &r->mu);
			continue;
		}
		at = (uint32_t)(r->wpos % r->capacity);
		n = (uint32_t)RTE_MIN((uint64_t)len, space);
		n = RTE_MIN(n, r->capacity - at);
		memcpy(r->ring + at, p, n);
		gap_set(r, r->wpos, gap || r->pending_gap);
		for (uint32_t i = 1; i < n; i++)
			gap_set(r, r->wpos + i, false);
		r->pending_gap = false;
		gap = false;
		r->wpos += n;
		p += n;
		len -= n;
		pthread_cond_broadcast(&r->has_data);
	}
}

void
reasm_reader_feed(struct reasm_reader *r, const struct reasm_record *records, unsigned int n)
{
	unsigned int i;

	if (r == NULL || records == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	/* The seed drops empty records before it looks at their skip. */
	for (i = 0; i < n; i++)
		if (records[i].len > 0)
			feed_bytes(r, records[i].bytes, records[i].len, records[i].skip != 0);
	pthread_mutex_unlock(&r->mu);
}

void
reasm_reader_finish(struct reasm_reader *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->finished = true;
	pthread_cond_broadcast(&r->has_data);
	pthread_mutex_unlock(&r->mu);
}

/* Bytes readable from rpos without crossing a gap or the ring's end. */
static uint32_t
readable_run(const struct reasm_reader *r, size_t want)
{
	uint64_t avail = RTE_MIN(r->wpos - r->rpos, (uint64_t)want);
	uint32_t at = (uint32_t)(r->rpos % r->capacity);
	uint32_t n = (uint32_t)RTE_MIN(avail, (uint64_t)(r->capacity - at));
	uint32_t i;

	for (i = 1; i < n; i++)
		if (gap_at(r, r->rpos + i))
			return i;
	return n;
}

long
reasm_reader_read(struct reasm_reader *r, void *buf, size_t size)
{
	uint32_t n;

	if (r == NULL || buf == NULL || size == 0)
		return -EINVAL;
	pthread_mutex_lock(&r->mu);
	while (r->rpos == r->wpos && !r->finished && !r->closed)
		pthread_cond_wait(&r->has_data, &r->mu);
	if (r->rpos == r->wpos || r->closed) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	if (r->loss_errors && gap_at(r, r->rpos) && !r->gap_reported) {
		r->gap_reported = true;
		pthread_mutex_unlock(&r->mu);
		return -REASM_EDATALOST;
	}
	n = readable_run(r, size);
	memcpy(buf, r->ring + r->rpos % r->capacity, n);
	gap_set(r, r->rpos, false);
	r->rpos += n;
	r->gap_reported = false;
	pthread_cond_broadcast(&r->has_space);
	pthread_mutex_unlock(&r->mu);
	return (long)n;
}

void
reasm_reader_close(struct reasm_reader *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->closed = true;
	r->rpos = r->wpos;
	pthread_cond_broadcast(&r->has_space);
	pthread_cond_broadcast(&r->has_data);
	pthread_mutex_unlock(&r->mu);
}

uint64_t
reasm_reader_dropped(const struct reasm_reader *r)
{
	uint64_t n;

	if (r == NULL)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&r->mu);
	n = r->dropped;
	pthread_mutex_unlock((pthread_mutex_t *)&r->mu);
	return n;
}
