/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * count -- no output: the per-worker totals every run keeps (streams, bytes,
 * per-stream accounting checked) are all there is. The benchmarks' sink:
 * alone and with --quiet, a stream's data costs two additions.
 */
#include "sink.h"

static int
count_open(struct sink *k)
{
	return 0;
}

const struct sink_ops sink_count_ops = {
	.name = "count",
	.arg = SINK_ARG_NONE,
	.per_stream_detail = false,
	.open = count_open,
};
