/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The distributor: the main lcore's software spreading, for ports whose
 * queues are not per connection (net_pcap, net_null, NICs without RSS).
 *
 * It polls every such queue, hashes each frame's connection with the
 * symmetric Toeplitz key a NIC would use (both directions alike, so both
 * land on one worker), and enqueues it on that worker's ring. In capture
 * replays it also places the timer flushes and the end of the run as
 * markers on every ring, at exact points of the capture's timeline, so what
 * a stream receives never depends on how many workers there are or how fast
 * they go. A replay waits for room on a full ring; a live port drops and
 * counts (dist_ring_full).
 *
 * With --defrag and several workers it also reassembles IP fragments itself
 * (an assembler of its own that assembles nothing) and stages each datagram
 * for its connection's worker at the point of the capture where it completed,
 * so a connection's datagrams and its other segments reach their worker in
 * capture order, whatever the number of workers.
 */
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_errno.h>
#include <rte_thash.h>

#include "app.h"

/*
 * The worker that owns a key: a symmetric Toeplitz hash over its addresses
 * and ports (both directions hash alike), then a redirection table of
 * APP_RETA_SIZE entries, entry i naming worker i % n, as a NIC's RSS does
 * with the table ports.c programs. On direct ports fragments are hashed by
 * their addresses only (reasm_spread_key_of_mbuf), so all fragments of a
 * datagram meet on one worker, which hands the datagram to its connection's
 * owner (handoff.c).
 */
unsigned int
app_worker_of(const struct reasm_flow *key, unsigned int n_workers)
{
	uint32_t tuple[9];
	unsigned int words, i;

	if (n_workers == 1)
		return 0;
	words = key->family == REASM_FAMILY_IPV4 ? 1 : 4;
	for (i = 0; i < words; i++) {
		uint32_t s, d;

		memcpy(&s, key->src_addr + 4 * i, 4);
		memcpy(&d, key->dst_addr + 4 * i, 4);
		tuple[i] = rte_be_to_cpu_32(s);
		tuple[words + i] = rte_be_to_cpu_32(d);
	}
	tuple[2 * words] = (uint32_t)key->src_port << 16 | key->dst_port;
	return (rte_softrss(tuple, 2 * words + 1, ports_rss_key()) % APP_RETA_SIZE) % n_workers;
}

/* The worker for frame @p m; *@p fragment true for an IP fragment (--defrag). */
static unsigned int
pick_worker(const struct app *app, const struct rte_mbuf *m, bool *fragment)
{
	struct reasm_flow key;
	int rc;

	*fragment = false;
	if (app->n_workers == 1)
		return 0;
	rc = app->opt.defrag ? reasm_spread_key_of_mbuf(m, &key) : reasm_flow_of_mbuf(m, &key);
	*fragment = rc == 1;
	return rc < 0 ? 0 : app_worker_of(&key, app->n_workers);
}

struct staging {
	void *items[MAX_BURST + 2];
	unsigned int n;
};

/* Hand staged items to a worker; a replay waits for room, a live port drops. */
static void
stage_flush(struct app *app, struct worker *w, struct staging *st, bool wait)
{
	unsigned int done = 0;

	while (done < st->n) {
		done += rte_ring_enqueue_burst(w->ring, st->items + done, st->n - done, NULL);
		if (done == st->n)
			break;
		if (!wait) {
			for (unsigned int i = done; i < st->n; i++)
				if (!((uintptr_t)st->items[i] & MARKER_BIT))
					rte_pktmbuf_free(st->items[i]);
			app->dist_ring_full += st->n - done;
			break;
		}
		rte_pause();
	}
	st->n = 0;
}

static void
stage_marker_all(struct app *app, struct staging *st, uintptr_t marker, bool wait)
{
	unsigned int i;

	for (i = 0; i < app->n_workers; i++) {
		st[i].items[st[i].n++] = (void *)marker;
		stage_flush(app, &app->workers[i], &st[i], wait);
	}
}

/*
 * Timer flushes: on the capture's own clock for replays (at the same frames
 * every run), on the wall clock for live ports.
 */
static void
maybe_flush_marker(struct app *app, struct staging *st, uint64_t ts, uint64_t *next_flush,
		   bool wait)
{
	uint64_t timeout = app->opt.timeout_ms * 1000000ULL;

	if (timeout == 0)
		return;
	if (*next_flush == 0) {
		*next_flush = ts + app->opt.flush_interval_ms * 1000000ULL;
		return;
	}
	if (ts < *next_flush)
		return;
	*next_flush = ts + app->opt.flush_interval_ms * 1000000ULL;
	if (ts > timeout)
		stage_marker_all(app, st, ((ts - timeout) << 2) | MARKER_FLUSH | MARKER_BIT, wait);
}

/* ---- the distributor's defragmenter (--defrag, several workers) ------- */

/* Where a datagram the defragmenter completes goes: the poll under way. */
struct defrag_ctx {
	struct app *app;
	struct staging *st;
	bool wait; /* a replay: wait for room on a full ring */
};

static struct defrag_ctx g_defrag_ctx;

/* Nothing is assembled here: every datagram goes to its connection's worker. */
static bool
defrag_owns(void *ctx, const struct reasm_flow *flow)
{
	RTE_SET_USED(ctx);
	RTE_SET_USED(flow);
	return false;
}

/* Stage a reassembled datagram for its worker, where its last fragment was. */
static void
defrag_handoff(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts_ns)
{
	struct defrag_ctx *c = ctx;
	unsigned int wi;
	struct rte_mbuf *m = handoff_mbuf(frame, len, ts_ns, &wi);

	if (m == NULL) {
		__atomic_store_n(&c->app->dist_handoffs_lost, c->app->dist_handoffs_lost + 1,
				 __ATOMIC_RELAXED);
		return;
	}
	c->st[wi].items[c->st[wi].n++] = m;
	if (c->st[wi].n == MAX_BURST)
		stage_flush(c->app, &c->app->workers[wi], &c->st[wi], c->wait);
	__atomic_store_n(&c->app->dist_handoffs, c->app->dist_handoffs + 1, __ATOMIC_RELAXED);
}

/* The defragmenter's pool never opens a stream (defrag_owns() is false). */
static void *
defrag_stream_open(void *factory_ctx, const struct reasm_flow *flow, void *priv)
{
	RTE_SET_USED(factory_ctx);
	RTE_SET_USED(flow);
	return priv;
}

static void
defrag_stream_data(void *stream, const struct reasm_record *records, unsigned int n)
{
	RTE_SET_USED(stream);
	RTE_SET_USED(records);
	RTE_SET_USED(n);
}

static void
defrag_stream_close(void *stream, const struct reasm_stream_totals *totals)
{
	RTE_SET_USED(stream);
	RTE_SET_USED(totals);
}

static const struct reasm_stream_ops defrag_stream_ops = {
	.open = defrag_stream_open,
	.reassembled = defrag_stream_data,
	.complete = defrag_stream_close,
};

int
distributor_setup(struct app *app)
{
	struct reasm_pool_conf pc = {0};
	struct reasm_assembler_conf ac = {0};
	int socket = (int)rte_socket_id();

	if (!app->opt.defrag || !app->any_sw_port || app->n_workers < 2)
		return 0;
	pc.name = "dist_defrag";
	pc.socket_id = socket;
	pc.max_conns = 64;
	pc.ops = &defrag_stream_ops;
	app->dist_pool = reasm_pool_create(&pc);
	if (app->dist_pool != NULL)
		app->dist_pages = reasm_page_pool_create("dist_defrag_pages",
							 app->opt.defrag_conf.max_pages, 0, socket);
	ac.pool = app->dist_pool;
	ac.page_pool = app->dist_pages;
	ac.socket_id = socket;
	ac.defrag = app->opt.defrag_conf;
	ac.defrag.owns = defrag_owns;
	ac.defrag.handoff = defrag_handoff;
	ac.defrag.steer_ctx = &g_defrag_ctx;
	g_defrag_ctx.app = app;
	if (app->dist_pages != NULL)
		app->dist_asm = reasm_assembler_create(&ac);
	if (app->dist_asm == NULL) {
		fprintf(stderr,
			"reasm: the distributor's defragmenter (%u datagrams, %u pages): %s "
			"(try smaller --defrag-datagrams or --defrag-pages, or more memory, -m)\n",
			app->opt.defrag_conf.max_datagrams, app->opt.defrag_conf.max_pages,
			rte_strerror(rte_errno));
		distributor_free(app);
		return -1;
	}
	return 0;
}

void
distributor_free(struct app *app)
{
	reasm_assembler_free(app->dist_asm);
	reasm_pool_free(app->dist_pool);
	rte_mempool_free(app->dist_pages);
	app->dist_asm = NULL;
	app->dist_pool = NULL;
	app->dist_pages = NULL;
}

/* A fragment to the defragmenter: a datagram it completes is staged at once. */
static void
defragment(struct app *app, struct rte_mbuf *m, uint64_t ts, uint64_t now)
{
	reasm_assemble_burst(app->dist_asm, &m, 1, &ts, now);
	rte_pktmbuf_free(m);
}

static void
stats_add(struct reasm_stats *sum, const struct reasm_assembler *a)
{
	struct reasm_stats st;
	unsigned int c;

	reasm_assembler_stats(a, &st);
	for (c = 0; c < REASM_CTR_MAX; c++)
		sum->v[c] += st.v[c];
}

void
app_stats_sum(const struct app *app, struct reasm_stats *sum, uint64_t *handoffs_lost)
{
	uint64_t lost = __atomic_load_n(&app->dist_handoffs_lost, __ATOMIC_RELAXED);
	unsigned int i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < app->n_workers; i++) {
		stats_add(sum, app->workers[i].asm_);
		lost += __atomic_load_n(&app->workers[i].handoffs_lost, __ATOMIC_RELAXED);
	}
	if (app->dist_asm != NULL)
		stats_add(sum, app->dist_asm);
	if (handoffs_lost != NULL)
		*handoffs_lost = lost;
}

/* One poll of one queue; false when a replay queue is exhausted. */
static bool
distribute_queue(struct app *app, struct port_info *p, uint16_t q, struct staging *st,
		 uint64_t *next_flush)
{
	struct rte_mbuf *pkts[MAX_BURST];
	uint16_t n, i;
	uint64_t now;

	n = rte_eth_rx_burst(p->port_id, q, pkts, (uint16_t)app->opt.burst);
	if (n == 0)
		return false;
	rt_mark(&app->main_rt, RT_RX, n);
	now = app_now_ns();
	if (unlikely(p->cut_at != UINT32_MAX))
		__atomic_store_n(&app->dist_rx_cut, app->dist_rx_cut + port_frames_cut(p, pkts, n),
				 __ATOMIC_RELAXED);
	g_defrag_ctx.st = st;
	g_defrag_ctx.wait = p->drains;
	for (i = 0; i < n; i++) {
		uint64_t ts = app_frame_time(app, pkts[i], now);
		bool fragment;
		unsigned int wi = pick_worker(app, pkts[i], &fragment);

		if (ts > app->clock_ns)
			__atomic_store_n(&app->clock_ns, ts, __ATOMIC_RELAXED);
		maybe_flush_marker(app, st, ts, next_flush, p->drains);
		if (unlikely(fragment) && app->dist_asm != NULL) {
			rt_mark(&app->main_rt, RT_SPREAD, 0);
			defragment(app, pkts[i], ts, now);
			rt_mark(&app->main_rt, RT_DEFRAG, 1);
			continue;
		}
		st[wi].items[st[wi].n++] = pkts[i];
		if (st[wi].n == MAX_BURST)
			stage_flush(app, &app->workers[wi], &st[wi], p->drains);
	}
	rt_mark(&app->main_rt, RT_SPREAD, n);
	for (i = 0; i < app->n_workers; i++)
		if (st[i].n > 0)
			stage_flush(app, &app->workers[i], &st[i], p->drains);
	rt_mark(&app->main_rt, RT_ENQUEUE, n);
	__atomic_store_n(&app->dist_pkts, app->dist_pkts + n, __ATOMIC_RELAXED);
	return true;
}

/* An empty poll means end of file unless the PMD ran out of mbufs. */
static bool
replay_exhausted(struct port_info *p, uint64_t *last_nombuf)
{
	struct rte_eth_stats stats;

	if (rte_eth_stats_get(p->port_id, &stats) == 0 && stats.rx_nombuf != *last_nombuf) {
		*last_nombuf = stats.rx_nombuf;
		return false;
	}
	return true;
}

int
distributor_main(struct app *app)
{
	static struct staging st[APP_MAX_WORKERS];
	uint64_t next_flush = 0, last_nombuf[APP_MAX_PORTS] = {0};
	uint64_t exhausted_queues[APP_MAX_PORTS] = {0};
	unsigned int i, idle = 0;
	bool any_replay = false;

	for (i = 0; i < app->n_ports; i++)
		any_replay |= app->ports[i].drains;
	for (;;) {
		bool live = false, busy = false;

		if (g_force_quit)
			break;
		rt_follow(&app->main_rt, __atomic_load_n(&app->runtime_on, __ATOMIC_RELAXED));
		/*
		 * Live traffic only: timers run on the wall clock, whether frames
		 * come or not (a replay's run on the capture's clock, per frame).
		 */
		if (!any_replay)
			maybe_flush_marker(app, st, app_now_ns(), &next_flush, false);
		for (i = 0; i < app->n_ports; i++) {
			struct port_info *p = &app->ports[i];

			if (p->direct || p->drained)
				continue;
			live |= !p->drains;
			for (uint16_t q = 0; q < p->n_rxq; q++) {
				if (exhausted_queues[i] & RTE_BIT64(q))
					continue;
				if (distribute_queue(app, p, q, st, &next_flush))
					busy = true;
				else if (p->drains && replay_exhausted(p, &last_nombuf[i]))
					exhausted_queues[i] |= RTE_BIT64(q);
			}
			if (p->drains && exhausted_queues[i] == RTE_BIT64(p->n_rxq) - 1) {
				p->drained = true;
				printf("reasm: port %u (%s): capture replayed to the end\n",
				       p->port_id, p->name);
			}
			busy |= !p->drained && p->drains;
		}
		if (!live && !busy)
			break; /* every replay drained and nothing live to wait for */
		app_idle(app, busy, &idle);
		rt_mark(&app->main_rt, busy ? RT_OTHER : RT_IDLE, 0);
	}
	if (app->dist_asm != NULL)
		reasm_flush_all(app->dist_asm); /* datagrams still incomplete: dropped, counted */
	stage_marker_all(app, st, MARKER_END | MARKER_BIT, true);
	return 0;
}
