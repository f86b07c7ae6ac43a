/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * jsonl:FILE -- one JSON object per stream direction when it completes: its
 * 4-tuple (addresses as Go writes them), its connection's Community ID, bytes, records, skips by cause,
 * start/end, first/last seen, worker, the library's accounting (received,
 * overlap, discarded, cut), the encapsulation it came in (when it has one) and, with --sha256, the SHA-256 of the delivered
 * bytes. The file is truncated at start, and reopened for appending on
 * SIGHUP (logrotate); each line is one write(2) on an O_APPEND descriptor,
 * so lines of different workers never interleave. The conn sink
 * (sink_conn.c) writes its file the same way: sink_line_file_*().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr_format.h"
#include "sink.h"

struct line_file {
	int fd;
};

void
sink_json_record(struct sink_line *l, const struct sink *k, const struct sink_stream *st,
		 const struct sink_close_info *info)
{
	const struct reasm_stream_totals *t = info->totals;
	char src[ADDR_FORMAT_GO_LEN], dst[ADDR_FORMAT_GO_LEN];
	char cid[REASM_COMMUNITY_ID_SIZE];
	unsigned int c;

	addr_format_go(st->flow.family, st->flow.src_addr, src);
	addr_format_go(st->flow.family, st->flow.dst_addr, dst);
	if (sink_community_id(k, st, cid) < 0)
		cid[0] = '\0'; /* not IPv4 or IPv6: cannot happen for a TCP direction */
	sink_line_append(l,
			 "{\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,"
			 "\"community_id\":\"%s\"",
			 src, st->flow.src_port, dst, st->flow.dst_port, cid);
	if (st->conn != NULL) {
		sink_line_append(l, ",\"conn_id\":");
		sink_line_conn_id(l, st->worker, st->conn_id);
	}
	sink_line_append(l,
			 ",\"bytes\":%" PRIu64 ",\"records\":%" PRIu64 ",\"skips\":%" PRIu64
			 ",\"skip_unknown\":%" PRIu64 ",\"skipped_bytes\":%" PRIu64
			 ",\"skipped_by_cause\":{",
			 st->bytes, st->records, st->skips, st->skip_unknown, info->skipped);
	for (c = REASM_SKIP_NONE + 1; c < REASM_SKIP_CAUSE_MAX; c++)
		sink_line_append(l, "%s\"%s\":%" PRIu64, c > REASM_SKIP_NONE + 1 ? "," : "",
				 reasm_skip_cause_name((enum reasm_skip_cause)c), st->skipped[c]);
	sink_line_append(l,
			 "},\"start\":%s,\"end\":%s,\"first_seen\":%" PRIu64
			 ",\"last_seen\":%" PRIu64 ",\"worker\":%" PRIu32,
			 st->start ? "true" : "false", st->end ? "true" : "false", st->first_seen,
			 st->last_seen, st->worker);
	sink_line_append(l,
			 ",\"received\":%" PRIu64 ",\"overlap\":%" PRIu64 ",\"discarded\":%" PRIu64
			 ",\"cut\":%" PRIu64,
			 t->received_bytes, t->overlap_bytes, t->discarded_bytes, t->cut_bytes);
	sink_line_append(l, ",\"conflicts\":%" PRIu64 ",\"conflict_bytes\":%" PRIu64, t->conflicts,
			 t->conflict_bytes);
	if (st->conflicted)
		sink_line_conflict(l, st->conflict);
	sink_line_encap(l, &st->encap, SINK_ENCAP_JSON);
	if (sink_sensor_id(k) != NULL) /* checked at start-up: nothing to escape */
		sink_line_append(l, ",\"sensor\":\"%s\"", sink_sensor_id(k));
	if (info->sha_hex != NULL)
		sink_line_append(l, ",\"sha256\":\"%s\"", info->sha_hex);
	sink_line_append(l, "}");
}

void
sink_line_file_write(struct sink *k, unsigned int worker, struct sink_line *l)
{
	struct line_file *f = k->state;
	int rc;

	sink_line_append(l, "\n");
	if (l->overflow) { /* cannot happen: lines are bounded well below their buffers */
		sink_write_error(k, worker, k->arg, NULL, EOVERFLOW);
		return;
	}
	rc = sink_write_all(__atomic_load_n(&f->fd, __ATOMIC_ACQUIRE), l->buf, l->len);
	if (rc < 0)
		sink_write_error(k, worker, k->arg, NULL, -rc);
}

static void
jsonl_stream_close(struct sink *k, struct sink_stream *st, void *priv,
		   const struct sink_close_info *info)
{
	char buf[SINK_JSON_RECORD_MAX];
	struct sink_line l = {buf, sizeof(buf), 0, false};

	sink_json_record(&l, k, st, info);
	sink_line_file_write(k, st->worker, &l);
}

int
sink_line_file_open(struct sink *k)
{
	struct line_file *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		fprintf(stderr, "reasm: %s sink: out of memory\n", k->ops->name);
		return -1;
	}
	k->state = f;
	f->fd = open(k->arg, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		fprintf(stderr, "reasm: %s sink: %s: %s\n", k->ops->name, k->arg, strerror(errno));
		return -1;
	}
	return 0;
}

int
sink_line_file_reopen(struct sink *k, int *old)
{
	struct line_file *f = k->state;
	int fd = open(k->arg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0) {
		fprintf(stderr, "reasm: %s sink: reopening %s: %s (still writing the old file)\n",
			k->ops->name, k->arg, strerror(errno));
		return -1;
	}
	*old = __atomic_exchange_n(&f->fd, fd, __ATOMIC_ACQ_REL);
	return 0;
}

int
sink_line_file_finish(struct sink *k)
{
	struct line_file *f = k->state;
	int rc = 0;

	if (f->fd >= 0 && close(f->fd) < 0 && errno != EINTR) {
		fprintf(stderr, "reasm: %s sink: %s: %s\n", k->ops->name, k->arg, strerror(errno));
		rc = -1;
	}
	f->fd = -1;
	return rc;
}

void
sink_line_file_free(struct sink *k)
{
	struct line_file *f = k->state;

	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	k->state = NULL;
}

const struct sink_ops sink_jsonl_ops = {
	.name = "jsonl",
	.arg = SINK_ARG_REQUIRED,
	.per_stream_detail = true,
	.open = sink_line_file_open,
	.stream_close = jsonl_stream_close,
	.reopen = sink_line_file_reopen,
	.finish = sink_line_file_finish,
	.free = sink_line_file_free,
};
