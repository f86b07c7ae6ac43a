/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * conn:FILE -- one JSON object per connection when it completes (after the
 * lines of its stream directions): its id and Community ID, client and
 * server, how the roles were told, times, a Zeek-style history, how it
 * ended, and per side what it sent (packets, payload bytes) and what its
 * stream directions delivered, summed (the jsonl lines with the same
 * conn_id). The file is written as jsonl's (sink_line_file_*()).
 */
#include <inttypes.h>
#include <stdio.h>

#include "addr_format.h"
#include "sink.h"

/* One side's object: what it sent, and its streams' sums. */
static void
conn_half_json(struct sink_line *l, const char *name, const struct reasm_half *h,
	       const struct sink_conn_half *sums)
{
	const struct reasm_stream_totals *t = &h->totals;
	unsigned int c;

	sink_line_append(l,
			 ",\"%s\":{\"packets\":%" PRIu64 ",\"payload_bytes\":%" PRIu64
			 ",\"streams\":%" PRIu32 ",\"bytes\":%" PRIu64 ",\"records\":%" PRIu64
			 ",\"skips\":%" PRIu64 ",\"skip_unknown\":%" PRIu64
			 ",\"skipped_bytes\":%" PRIu64 ",\"skipped_by_cause\":{",
			 name, h->packets, h->payload_bytes, h->streams, sums->bytes, sums->records,
			 sums->skips, sums->skip_unknown, t->skipped_bytes);
	for (c = REASM_SKIP_NONE + 1; c < REASM_SKIP_CAUSE_MAX; c++)
		sink_line_append(l, "%s\"%s\":%" PRIu64, c > REASM_SKIP_NONE + 1 ? "," : "",
				 reasm_skip_cause_name((enum reasm_skip_cause)c), sums->skipped[c]);
	sink_line_append(l,
			 "},\"received\":%" PRIu64 ",\"overlap\":%" PRIu64 ",\"discarded\":%" PRIu64
			 ",\"cut\":%" PRIu64 ",\"conflicts\":%" PRIu64
			 ",\"conflict_bytes\":%" PRIu64,
			 t->received_bytes, t->overlap_bytes, t->discarded_bytes, t->cut_bytes,
			 t->conflicts, t->conflict_bytes);
	if (sums->conflicted)
		sink_line_conflict(l, &sums->conflict);
	sink_line_append(l, "}");
}

static void
conn_record(struct sink_line *l, const struct sink *k, const struct sink_conn *conn,
	    const struct reasm_connection *c)
{
	unsigned int client = c->client & 1, server = client ^ 1;
	const struct reasm_flow *f = &c->half[client].flow;
	char cli[ADDR_FORMAT_GO_LEN], srv[ADDR_FORMAT_GO_LEN];
	char cid[REASM_COMMUNITY_ID_SIZE];

	addr_format_go(f->family, f->src_addr, cli);
	addr_format_go(f->family, f->dst_addr, srv);
	if (sink_flow_community_id(k, f, cid) < 0)
		cid[0] = '\0'; /* not IPv4 or IPv6: cannot happen for TCP */
	sink_line_append(l, "{\"conn_id\":");
	sink_line_conn_id(l, conn->worker, c->id);
	sink_line_append(l,
			 ",\"community_id\":\"%s\",\"client\":\"%s\",\"client_port\":%u"
			 ",\"server\":\"%s\",\"server_port\":%u,\"roles\":\"%s\""
			 ",\"first_seen\":%" PRIu64 ",\"last_seen\":%" PRIu64
			 ",\"duration\":%" PRIu64 ",\"history\":\"%s\",\"end\":\"%s\"",
			 cid, cli, f->src_port, srv, f->dst_port, reasm_roles_name(c->roles),
			 c->first_seen, c->last_seen, c->last_seen - c->first_seen, c->history,
			 reasm_conn_end_name(c->end));
	conn_half_json(l, "client_to_server", &c->half[client], &conn->half[client]);
	conn_half_json(l, "server_to_client", &c->half[server], &conn->half[server]);
	sink_line_append(l, ",\"worker\":%" PRIu32, conn->worker);
	sink_line_encap(l, &conn->encap, SINK_ENCAP_JSON);
	if (sink_sensor_id(k) != NULL) /* checked at start-up: nothing to escape */
		sink_line_append(l, ",\"sensor\":\"%s\"", sink_sensor_id(k));
	sink_line_append(l, "}");
}

static void
conn_close(struct sink *k, const struct sink_conn *conn, const struct reasm_connection *c)
{
	char buf[3072];
	struct sink_line l = {buf, sizeof(buf), 0, false};

	conn_record(&l, k, conn, c); /* under 2,100 bytes */
	sink_line_file_write(k, conn->worker, &l);
}

const struct sink_ops sink_conn_ops = {
	.name = "conn",
	.arg = SINK_ARG_REQUIRED,
	.per_stream_detail = true, /* its sides sum the streams' records, skips and conflicts */
	.open = sink_line_file_open,
	.conn_close = conn_close,
	.reopen = sink_line_file_reopen,
	.finish = sink_line_file_finish,
	.free = sink_line_file_free,
};
