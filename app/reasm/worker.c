/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Workers: set-up, and the loop each worker lcore runs.
 *
 * A worker takes frames from its own RX queues (direct ports, rx_mode.c)
 * and from its ring (ports the main lcore distributes), assembles them in
 * bursts and frees them. Markers on the ring, put there by the distributor
 * at exact points of the capture's timeline, run timer flushes and end the
 * run, so what a stream receives never depends on how many workers there
 * are or how fast they go.
 */
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_per_lcore.h>
#include <rte_ring.h>

#include "app.h"

#define MAILBOX_SIZE 16

/* ---- stream callbacks: straight to the sinks, timed with the stages --- */

/* The worker running on this lcore: whose stage the sinks' time is. */
static RTE_DEFINE_PER_LCORE(struct worker *, this_worker);

/* A callback's time, for its stage and, in a flush, to take from the flush's. */
static void
sink_time(struct rt_lcore *rt, unsigned int records, uint64_t since)
{
	uint64_t spent = rte_rdtsc() - since;
	uint64_t cycles = spent > rt_tsc_overhead ? spent - rt_tsc_overhead : 0;

	rt_add(rt, RT_SINK, records, cycles);
	if (rt->in_flush)
		__atomic_store_n(&rt->sink_in_flush_cycles, rt->sink_in_flush_cycles + cycles,
				 __ATOMIC_RELAXED);
}

static void *
stream_open(void *factory_ctx, const struct reasm_flow *flow, void *priv)
{
	struct worker *w = factory_ctx;
	struct reasm_encap encap;
	struct reasm_half_ref conn;
	bool timed = w->rt.timing;
	uint64_t t = timed ? rte_rdtsc() : 0;
	void *stream = sinks_stream_open(g_app.sinks, w->id, flow, priv,
					 reasm_pool_open_encap(w->pool, &encap) == 0 ? &encap
										     : NULL,
					 reasm_pool_open_connection(w->pool, &conn) == 0 ? &conn
											 : NULL);

	if (timed)
		sink_time(&w->rt, 0, t);
	return stream;
}

static void
stream_data(void *stream, const struct reasm_record *records, unsigned int n)
{
	struct rt_lcore *rt = &RTE_PER_LCORE(this_worker)->rt;
	uint64_t t;

	if (likely(!rt->timing)) {
		sinks_stream_data(stream, records, n);
		return;
	}
	t = rte_rdtsc();
	sinks_stream_data(stream, records, n);
	sink_time(rt, n, t);
}

static void
stream_close(void *stream, const struct reasm_stream_totals *totals)
{
	struct rt_lcore *rt = &RTE_PER_LCORE(this_worker)->rt;
	bool timed = rt->timing;
	uint64_t t = timed ? rte_rdtsc() : 0;

	sinks_stream_close(stream, totals);
	if (timed)
		sink_time(rt, 0, t);
}

static void
stream_conflict(void *stream, const struct reasm_conflict *c)
{
	struct rt_lcore *rt = &RTE_PER_LCORE(this_worker)->rt;
	bool timed = rt->timing;
	uint64_t t = timed ? rte_rdtsc() : 0;

	sinks_stream_conflict(stream, c);
	if (timed)
		sink_time(rt, 0, t);
}

static const struct reasm_stream_ops worker_stream_ops = {
	.open = stream_open,
	.reassembled = stream_data,
	.complete = stream_close,
	.conflict = stream_conflict,
};

/* Connections (with a conn sink): their time is the sinks' too. */
static void *
connection_open(void *conn_ctx, const struct reasm_connection *c, void *priv)
{
	struct worker *w = conn_ctx;
	struct reasm_encap encap;
	bool timed = w->rt.timing;
	uint64_t t = timed ? rte_rdtsc() : 0;
	void *conn = sinks_conn_open(g_app.sinks, w->id, priv,
				     reasm_pool_open_encap(w->pool, &encap) == 0 ? &encap : NULL);

	RTE_SET_USED(c);
	if (timed)
		sink_time(&w->rt, 0, t);
	return conn;
}

static void
connection_close(void *conn, const struct reasm_connection *c)
{
	struct rt_lcore *rt = &RTE_PER_LCORE(this_worker)->rt;
	bool timed = rt->timing;
	uint64_t t = timed ? rte_rdtsc() : 0;

	sinks_conn_close(conn, c);
	if (timed)
		sink_time(rt, 0, t);
}

static const struct reasm_connection_ops worker_connection_ops = {
	.open = connection_open,
	.complete = connection_close,
};

/* Flush, with the sinks' time in it known as a flush's. */
static unsigned int
timed_flush_older_than(struct worker *w, uint64_t t_ns, unsigned int *closed)
{
	unsigned int n;

	w->rt.in_flush = true;
	n = reasm_flush_older_than(w->asm_, t_ns, closed);
	w->rt.in_flush = false;
	return n;
}

/* ---- reassembled datagrams that are another worker's ----------------- */

/* Workers hand reassembled datagrams to each other. */
static bool
worker_handoffs(const struct app *app)
{
	return app->opt.defrag && app->n_workers > 1;
}

/* The fragments of a datagram met here; its connection may be another worker's. */
static bool
worker_owns(void *ctx, const struct reasm_flow *flow)
{
	const struct worker *w = ctx;

	return app_worker_of(flow, g_app.n_workers) == w->id;
}

/* Hand a reassembled datagram to its owner's ring; never waits: a full ring drops it. */
static void
worker_handoff(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
	struct worker *w = ctx;
	unsigned int owner;
	struct rte_mbuf *m = handoff_mbuf(frame, len, ts_ns, &owner);

	if (m == NULL || rte_ring_enqueue(g_app.workers[owner].ring, m) != 0) {
		rte_pktmbuf_free(m);
		__atomic_store_n(&w->handoffs_lost, w->handoffs_lost + 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&w->handoffs_out, w->handoffs_out + 1, __ATOMIC_RELAXED);
}

/* ---- set-up --------------------------------------------------------- */

static int
worker_create(struct app *app, struct worker *w)
{
	struct reasm_pool_conf pc = {0};
	struct reasm_assembler_conf ac = {0};
	int socket = (int)rte_lcore_to_socket_id(w->lcore);
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned int cache = RTE_MIN(256u, app->opt.pages / 8);

	w->packet_sinks = sinks_want_packets(app->sinks);
	snprintf(name, sizeof(name), "w%u", w->id);
	pc.name = name;
	pc.socket_id = socket;
	pc.max_conns = app->opt.max_conns;
	pc.ops = &worker_stream_ops;
	pc.factory_ctx = w;
	pc.stream_priv_size = sinks_stream_priv_size(app->sinks);
	pc.max_zones = app->opt.zones;
	pc.retain_bytes = app->opt.retain_bytes;
	if (sinks_want_connections(app->sinks)) {
		pc.max_connections = app->opt.max_connections != 0 ? app->opt.max_connections
								   : app->opt.max_conns;
		pc.conn_ops = &worker_connection_ops;
		pc.conn_ctx = w;
		pc.conn_priv_size = sinks_conn_priv_size(app->sinks);
	}
	w->pool = reasm_pool_create(&pc);
	if (w->pool == NULL)
		goto fail;
	snprintf(name, sizeof(name), "w%u_pages", w->id);
	w->pages = reasm_page_pool_create(name, app->opt.pages, cache, socket);
	if (w->pages == NULL)
		goto fail;
	ac.pool = w->pool;
	ac.page_pool = w->pages;
	ac.max_pages_total = app->opt.pages_total;
	ac.max_pages_per_conn = app->opt.pages_per_conn;
	ac.overlap_policy = app->opt.overlap_policy;
	ac.socket_id = socket;
	if (app->opt.defrag) {
		ac.defrag = app->opt.defrag_conf;
		if (app->n_workers > 1) {
			ac.defrag.owns = worker_owns;
			ac.defrag.handoff = worker_handoff;
			ac.defrag.steer_ctx = w;
		}
	}
	w->asm_ = reasm_assembler_create(&ac);
	if (w->asm_ == NULL)
		goto fail;
	snprintf(name, sizeof(name), "w%u_mbox", w->id);
	w->mailbox = rte_ring_create(name, MAILBOX_SIZE, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->mailbox == NULL)
		goto fail;
	if (app->any_sw_port || worker_handoffs(app)) {
		/* Other workers hand datagrams over too: several producers then. */
		snprintf(name, sizeof(name), "w%u_rx", w->id);
		w->ring = rte_ring_create(name, app->opt.ring_size, socket,
					  worker_handoffs(app) ? RING_F_SC_DEQ
							       : RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->ring == NULL)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr,
		"reasm: worker %u on lcore %u: %s (max-conns %u, pages %u; try "
		"smaller values or more memory, -m)\n",
		w->id, w->lcore, rte_strerror(rte_errno), app->opt.max_conns, app->opt.pages);
	return -1;
}

int
workers_create(struct app *app)
{
	unsigned int lcore;

	app->n_workers = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct worker *w = &app->workers[app->n_workers];

		memset(w, 0, sizeof(*w));
		w->id = app->n_workers++;
		w->lcore = lcore;
	}
	return 0;
}

int
workers_setup(struct app *app)
{
	unsigned int i;

	for (i = 0; i < app->n_workers; i++)
		if (worker_create(app, &app->workers[i]) < 0)
			return -1;
	return 0;
}

void
workers_free(struct app *app)
{
	unsigned int i;

	for (i = 0; i < app->n_workers; i++) {
		struct worker *w = &app->workers[i];

		reasm_assembler_free(w->asm_);
		reasm_pool_free(w->pool);
		rte_mempool_free(w->pages);
		rte_ring_free(w->ring);
		rte_ring_free(w->mailbox);
	}
}

/* ---- the worker loop ------------------------------------------------ */

static void
assemble_and_free(struct worker *w, struct rte_mbuf **pkts, unsigned int n)
{
	uint64_t ts[MAX_BURST];
	uint64_t now;
	unsigned int i;

	if (n == 0)
		return;
	now = app_now_ns();
	for (i = 0; i < n; i++) {
		ts[i] = app_frame_time(&g_app, pkts[i], now);
		if (ts[i] > w->clock_ns)
			w->clock_ns = ts[i];
	}
	rt_mark(&w->rt, RT_TIMESTAMPS, n);
	if (unlikely(w->packet_sinks)) {
		sinks_packets(g_app.sinks, w->id, pkts, ts, n);
		rt_mark_frame_sinks(&w->rt, n);
	}
	reasm_assemble_burst(w->asm_, pkts, (uint16_t)n, ts, now);
	rt_mark(&w->rt, RT_BURST, n);
	rte_pktmbuf_free_bulk(pkts, n);
	rt_mark(&w->rt, RT_FREE, n);
	__atomic_store_n(&w->rx_pkts, w->rx_pkts + n, __ATOMIC_RELAXED);
}

static void
serve_mailbox(struct worker *w)
{
	struct ctrl_slot *req;

	if (rte_ring_sc_dequeue(w->mailbox, (void **)&req) != 0)
		return;
	req->flushed = req->closed = 0;
	w->rt.in_flush = true;
	switch (req->type) {
	case CTRL_REQ_FLUSH:
		req->flushed = reasm_flush_older_than(w->asm_, req->arg, &req->closed);
		break;
	case CTRL_REQ_FLUSH_ALL:
		req->closed = reasm_flush_all(w->asm_);
		break;
	case CTRL_REQ_TOP_CONNS:
		req->n_top = reasm_assembler_top_conns(w->asm_, req->top, APP_TOP_CONNS);
		break;
	default:
		break;
	}
	w->rt.in_flush = false;
	rt_mark(&w->rt, RT_FLUSH, 0);
	__atomic_store_n(&req->seq_done, req->seq_posted, __ATOMIC_RELEASE);
}

/* Follow --runtime-stats / /reasm/runtime_enable, the library's stage timing too. */
static void
worker_follow_timing(struct worker *w)
{
	bool on = __atomic_load_n(&g_app.runtime_on, __ATOMIC_RELAXED);

	if (unlikely(w->rt.timing != on)) {
		rt_follow(&w->rt, on);
		reasm_assembler_stage_timing(w->asm_, on);
	}
}

/* Take what the distributor queued; returns false after the end marker. */
static bool
drain_ring(struct worker *w, unsigned int burst)
{
	void *items[MAX_BURST];
	struct rte_mbuf *pkts[MAX_BURST];
	unsigned int n, i, np = 0;
	bool more = true;

	n = rte_ring_sc_dequeue_burst(w->ring, items, burst, NULL);
	if (n > 0)
		rt_mark(&w->rt, RT_RING, n);
	for (i = 0; i < n; i++) {
		uintptr_t v = (uintptr_t)items[i];

		if (!(v & MARKER_BIT)) {
			pkts[np++] = items[i];
			continue;
		}
		assemble_and_free(w, pkts, np);
		np = 0;
		if (v & MARKER_END) {
			more = false;
		} else {
			timed_flush_older_than(w, v >> 2, NULL);
			w->n_flushes++;
			rt_mark(&w->rt, RT_FLUSH, 0);
		}
	}
	assemble_and_free(w, pkts, np);
	return more;
}

static unsigned int
poll_direct_queues(struct worker *w, unsigned int burst)
{
	struct rte_mbuf *pkts[MAX_BURST];
	unsigned int i, total = 0;

	for (i = 0; i < g_app.n_ports; i++) {
		const struct port_info *p = &g_app.ports[i];
		uint16_t n;

		if (!p->direct)
			continue;
		n = rte_eth_rx_burst(p->port_id, (uint16_t)w->id, pkts, (uint16_t)burst);
		if (n == 0)
			continue;
		rt_mark(&w->rt, RT_RX, n);
		if (unlikely(p->cut_at != UINT32_MAX))
			__atomic_store_n(&w->rx_cut, w->rx_cut + port_frames_cut(p, pkts, n),
					 __ATOMIC_RELAXED);
		assemble_and_free(w, pkts, n);
		total += n;
	}
	return total;
}

/*
 * Past the receive loop: other workers may still hand datagrams over until
 * they are past theirs too. Take them all before the final flush.
 */
static void
finish_handoffs(struct worker *w, unsigned int burst)
{
	__atomic_fetch_add(&g_app.workers_done, 1, __ATOMIC_ACQ_REL);
	if (w->ring == NULL || !worker_handoffs(&g_app))
		return;
	while (__atomic_load_n(&g_app.workers_done, __ATOMIC_ACQUIRE) < g_app.n_workers ||
	       !rte_ring_empty(w->ring)) {
		drain_ring(w, burst);
		serve_mailbox(w);
		rte_pause();
		rt_mark(&w->rt, RT_IDLE, 0);
	}
}

int
worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int burst = g_app.opt.burst;
	/* The distributor ends the ring with a marker; handoffs alone do not. */
	bool ring_open = w->ring != NULL && g_app.any_sw_port;
	bool direct = false;
	unsigned int i, idle = 0;

	RTE_PER_LCORE(this_worker) = w;
	for (i = 0; i < g_app.n_ports; i++)
		direct |= g_app.ports[i].direct;
	while ((direct && !g_force_quit) || ring_open) {
		unsigned int got = 0;

		worker_follow_timing(w);
		if (direct && !g_force_quit)
			got += poll_direct_queues(w, burst);
		if (w->ring != NULL) {
			unsigned int before = rte_ring_count(w->ring);

			ring_open &= drain_ring(w, burst);
			got += before;
		}
		serve_mailbox(w);
		app_idle(&g_app, got > 0, &idle);
		rt_mark(&w->rt, got > 0 ? RT_OTHER : RT_IDLE, 0);
	}
	finish_handoffs(w, burst);
	w->rt.in_flush = true;
	reasm_flush_all(w->asm_);
	w->rt.in_flush = false;
	rt_mark(&w->rt, RT_FLUSH, 0);
	__atomic_store_n(&w->exited, true, __ATOMIC_RELEASE);
	/* Answer what the control plane posted meanwhile, so it never waits on us. */
	while (!rte_ring_empty(w->mailbox))
		serve_mailbox(w);
	return 0;
}
