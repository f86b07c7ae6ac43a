/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The console (on unless --quiet): one line per completed stream direction on
 * stdout, "src:port -> dst:port  bytes=N records=N skips=N [start] [end]
 * [encap=LAYERS [vlan=N] [tunnel_id=N]] [sha256=HEX]", IPv6 addresses in brackets. Each line is one write(2), so
 * lines of different workers never interleave; a failed write is not counted
 * (the console is for people, the other sinks are the record).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <unistd.h>

#include "addr_format.h"
#include "sink.h"

static void
console_stream_close(struct sink *k, struct sink_stream *st, void *priv,
		     const struct sink_close_info *info)
{
	char buf[512], src[ADDR_FORMAT_GO_LEN], dst[ADDR_FORMAT_GO_LEN];
	struct sink_line l = {buf, sizeof(buf), 0, false};
	bool v6 = st->flow.family == REASM_FAMILY_IPV6;

	addr_format_go(st->flow.family, st->flow.src_addr, src);
	addr_format_go(st->flow.family, st->flow.dst_addr, dst);
	sink_line_append(&l,
			 "%s%s%s:%u -> %s%s%s:%u  bytes=%" PRIu64 " records=%" PRIu64
			 " skips=%" PRIu64 "%s%s",
			 v6 ? "[" : "", src, v6 ? "]" : "", st->flow.src_port, v6 ? "[" : "", dst,
			 v6 ? "]" : "", st->flow.dst_port, st->bytes, st->records, st->skips,
			 st->start ? " start" : "", st->end ? " end" : "");
	sink_line_encap(&l, &st->encap, SINK_ENCAP_TEXT);
	if (info->sha_hex != NULL)
		sink_line_append(&l, " sha256=%s", info->sha_hex);
	sink_line_append(&l, "\n");
	if (!l.overflow)
		(void)sink_write_all(STDOUT_FILENO, buf, l.len);
}

static int
console_open(struct sink *k)
{
	return 0;
}

const struct sink_ops sink_console_ops = {
	.name = "console",
	.arg = SINK_ARG_NONE,
	.per_stream_detail = true,
	.open = console_open,
	.stream_close = console_stream_close,
};
