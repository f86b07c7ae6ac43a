/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Where each lcore's time goes, stage by stage, as VPP's "show runtime" tells
 * it: per stage the calls that did work, the packets they took and the TSC
 * cycles they spent (/reasm/runtime, scripts/reasm-top --runtime).
 *
 * A lcore keeps one clock: the TSC at its last stage boundary. Each stage
 * closes at its end (rt_mark), so the stages of a lcore cover its whole loop
 * and add up to its time. One writer per struct rt_lcore (its lcore); readers
 * anywhere, with relaxed loads. Timing is switched at run time
 * (--runtime-stats, /reasm/runtime_enable); off, a lcore reads the TSC
 * nowhere and each boundary costs one predictable branch.
 */
#ifndef REASM_APP_RUNTIME_H
#define REASM_APP_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>

/** The stages of a lcore's loop. Workers use rx..idle, the main lcore rx, spread, enqueue, defrag, other, idle. */
enum rt_stage {
	RT_RX,         /**< rte_eth_rx_burst() calls that returned frames */
	RT_RING,       /**< dequeuing frames and markers from the worker's ring */
	RT_TIMESTAMPS, /**< frame times (timestamp dynfield or TSC) and the worker clock */
	RT_BURST,      /**< reasm_assemble_burst(): split at read time by the library's stages */
	RT_SINK,       /**< the stream callbacks: sinks (in bursts and in flushes) */
	RT_FREE,       /**< rte_pktmbuf_free_bulk() of the assembled frames */
	RT_FLUSH,      /**< timer flushes (markers) and control-plane requests */
	RT_SPREAD,     /**< main lcore: hashing frames to workers, markers, staging */
	RT_ENQUEUE, /**< main lcore: enqueuing on worker rings (waiting on full ones in replays) */
	RT_DEFRAG,  /**< main lcore: reassembling fragments for several workers */
	RT_OTHER,   /**< the rest of a busy loop: empty polls, mailbox checks */
	RT_IDLE,    /**< loops that found nothing: polls, pauses and sleeps */
	RT_STAGES
};

/** One stage's totals. */
struct rt_stage_totals {
	uint64_t calls;
	uint64_t pkts;
	uint64_t cycles;
};

/** A lcore's stages; written by that lcore only. */
struct __rte_cache_aligned rt_lcore {
	struct rt_stage_totals s[RT_STAGES];
	uint64_t sink_in_flush_cycles; /**< the part of RT_SINK spent inside flushes */
	uint64_t sink_frames_cycles;   /**< the part of RT_SINK spent in frame sinks (pcap) */
	bool timing;                   /**< this lcore's view of g_app.runtime_on */
	bool in_flush;                 /**< sink time now is a flush's */
	uint64_t tsc;                  /**< TSC at the last stage boundary */
};

/** What two TSC reads in a row cost (cycles; rt_calibrate()), taken from each callback's time. */
extern uint64_t rt_tsc_overhead;

/** Measure rt_tsc_overhead; once, before the lcores start. */
void rt_calibrate(void);

/** The stage's name, for telemetry keys ("rx", "ring", ...). */
const char *rt_stage_name(enum rt_stage s);

/* Add to a stage: one writer, relaxed stores so readers never see torn values. */
static inline void
rt_add(struct rt_lcore *rt, enum rt_stage s, uint64_t pkts, uint64_t cycles)
{
	struct rt_stage_totals *t = &rt->s[s];

	__atomic_store_n(&t->calls, t->calls + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&t->pkts, t->pkts + pkts, __ATOMIC_RELAXED);
	__atomic_store_n(&t->cycles, t->cycles + cycles, __ATOMIC_RELAXED);
}

/* Close stage @p s now: the cycles since the last boundary are its. */
static inline void
rt_mark(struct rt_lcore *rt, enum rt_stage s, uint64_t pkts)
{
	uint64_t now;

	if (likely(!rt->timing))
		return;
	now = rte_rdtsc();
	rt_add(rt, s, pkts, now - rt->tsc);
	rt->tsc = now;
}

/* Close the frame sinks' stage (sinks_packets(), outside the library's burst): RT_SINK. */
static inline void
rt_mark_frame_sinks(struct rt_lcore *rt, uint64_t pkts)
{
	uint64_t now;

	if (likely(!rt->timing))
		return;
	now = rte_rdtsc();
	rt_add(rt, RT_SINK, pkts, now - rt->tsc);
	__atomic_store_n(&rt->sink_frames_cycles, rt->sink_frames_cycles + (now - rt->tsc),
			 __ATOMIC_RELAXED);
	rt->tsc = now;
}

/* At the top of a lcore's loop: follow the switch; the clock starts when timing does. */
static inline void
rt_follow(struct rt_lcore *rt, bool on)
{
	if (unlikely(rt->timing != on)) {
		rt->timing = on;
		rt->tsc = rte_rdtsc();
	}
}

/* Read one stage's totals from any thread. */
static inline void
rt_read(const struct rt_lcore *rt, enum rt_stage s, struct rt_stage_totals *out)
{
	out->calls = __atomic_load_n(&rt->s[s].calls, __ATOMIC_RELAXED);
	out->pkts = __atomic_load_n(&rt->s[s].pkts, __ATOMIC_RELAXED);
	out->cycles = __atomic_load_n(&rt->s[s].cycles, __ATOMIC_RELAXED);
}

/** A row of a lcore's runtime table: a stage, exclusive of the others. */
struct rt_row {
	const char *name;
	struct rt_stage_totals t;
};

/** Most rows of one lcore's table. */
#define RT_MAX_ROWS 16

struct worker;
struct app;

/**
 * A worker's table, in data-flow order: rx, ring, timestamps, parse, lookup,
 * assemble, sink, free, flush, other, idle. Safe from any thread.
 * @return the rows written to @p rows (at most RT_MAX_ROWS).
 */
unsigned int rt_worker_rows(const struct worker *w, struct rt_row *rows);

/** The main lcore's table (rx, spread, enqueue, defrag, other, idle); any thread. */
unsigned int rt_main_rows(const struct app *app, struct rt_row *rows);

#endif /* REASM_APP_RUNTIME_H */
