/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The runtime table: each lcore's stages as /reasm/runtime and reasm-top show
 * them. A worker's reasm_assemble_burst() time is split by the library's own
 * stage clock (parse, lookup, assemble), and the sinks' time is taken out of
 * the stage it ran in (assembly or flush; frame sinks such as pcap run before
 * the burst, in neither), so every row is exclusive and the
 * rows of a lcore add up to its time since timing started.
 */
#include "app.h"

static const char *const stage_names[RT_STAGES] = {
	[RT_RX] = "rx",         [RT_RING] = "ring",     [RT_TIMESTAMPS] = "timestamps",
	[RT_BURST] = "burst",   [RT_SINK] = "sink",     [RT_FREE] = "free",
	[RT_FLUSH] = "flush",   [RT_SPREAD] = "spread", [RT_ENQUEUE] = "enqueue",
	[RT_DEFRAG] = "defrag", [RT_OTHER] = "other",   [RT_IDLE] = "idle",
};

uint64_t rt_tsc_overhead;

void
rt_calibrate(void)
{
	uint64_t best = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < 10000; i++) {
		uint64_t t0 = rte_rdtsc();
		uint64_t t1 = rte_rdtsc();

		best = RTE_MIN(best, t1 - t0);
	}
	rt_tsc_overhead = best;
}

const char *
rt_stage_name(enum rt_stage s)
{
	return (unsigned int)s < RT_STAGES ? stage_names[s] : "?";
}

static uint64_t
minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0; /* the fields are read one by one: never below 0 */
}

static struct rt_row *
row(struct rt_row *r, const char *name, uint64_t calls, uint64_t pkts, uint64_t cycles)
{
	r->name = name;
	r->t.calls = calls;
	r->t.pkts = pkts;
	r->t.cycles = cycles;
	return r + 1;
}

static struct rt_row *
row_of(struct rt_row *r, const struct rt_lcore *rt, enum rt_stage s)
{
	r->name = stage_names[s];
	rt_read(rt, s, &r->t);
	return r + 1;
}

unsigned int
rt_worker_rows(const struct worker *w, struct rt_row *rows)
{
	const struct rt_lcore *rt = &w->rt;
	struct rt_stage_totals burst, sink, flush;
	struct reasm_stage_stats lib;
	uint64_t sink_in_flush = __atomic_load_n(&rt->sink_in_flush_cycles, __ATOMIC_RELAXED);
	uint64_t sink_frames = __atomic_load_n(&rt->sink_frames_cycles, __ATOMIC_RELAXED);
	struct rt_row *r = rows;

	reasm_assembler_stages(w->asm_, &lib);
	rt_read(rt, RT_BURST, &burst);
	rt_read(rt, RT_SINK, &sink);
	rt_read(rt, RT_FLUSH, &flush);
	r = row_of(r, rt, RT_RX);
	r = row_of(r, rt, RT_RING);
	r = row_of(r, rt, RT_TIMESTAMPS);
	r = row(r, "parse", lib.chunks, lib.pkts, lib.parse_cycles);
	r = row(r, "lookup", lib.chunks, lib.pkts, lib.lookup_cycles);
	r = row(r, "assemble", burst.calls, burst.pkts,
		minus(burst.cycles, lib.parse_cycles + lib.lookup_cycles +
					    minus(sink.cycles, sink_in_flush + sink_frames)));
	r = row_of(r, rt, RT_SINK);
	r = row_of(r, rt, RT_FREE);
	r = row(r, "flush", flush.calls, flush.pkts, minus(flush.cycles, sink_in_flush));
	r = row_of(r, rt, RT_OTHER);
	r = row_of(r, rt, RT_IDLE);
	return (unsigned int)(r - rows);
}

unsigned int
rt_main_rows(const struct app *app, struct rt_row *rows)
{
	static const enum rt_stage main_stages[] = {RT_RX,     RT_SPREAD, RT_ENQUEUE,
						    RT_DEFRAG, RT_OTHER,  RT_IDLE};
	struct rt_row *r = rows;
	unsigned int i;

	for (i = 0; i < RTE_DIM(main_stages); i++)
		r = row_of(r, &app->main_rt, main_stages[i]);
	return (unsigned int)(r - rows);
}
