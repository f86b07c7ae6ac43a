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
 */
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include "app.h"

/*
 * The worker that owns a key: a symmetric Toeplitz hash over its addresses
 * and ports (both directions hash alike), then a redirection table of
 * APP_RETA_SIZE entries, entry i naming worker i % n, as a NIC's RSS does
 * with the table ports.c programs. Fragments are keyed by their addresses
 * only (reasm_spread_key_of_mbuf), so all fragments of a datagram meet on one
 * worker, which hands the datagram to its connection's owner.
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

static unsigned int
pick_worker(const struct app *app, const struct rte_mbuf *m)
{
	struct reasm_flow key;
	int rc;

	if (app->n_workers == 1)
		return 0;
	rc = app->opt.defrag ? reasm_spread_key_of_mbuf(m, &key) : reasm_flow_of_mbuf(m, &key);
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
	now = app_now_ns();
	if (unlikely(p->cut_at != UINT32_MAX))
		__atomic_store_n(&app->dist_rx_cut, app->dist_rx_cut + port_frames_cut(p, pkts, n),
				 __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		uint64_t ts = app_frame_time(app, pkts[i], now);
		unsigned int wi = pick_worker(app, pkts[i]);

		if (ts > app->clock_ns)
			__atomic_store_n(&app->clock_ns, ts, __ATOMIC_RELAXED);
		maybe_flush_marker(app, st, ts, next_flush, p->drains);
		st[wi].items[st[wi].n++] = pkts[i];
		if (st[wi].n == MAX_BURST)
			stage_flush(app, &app->workers[wi], &st[wi], p->drains);
	}
	for (i = 0; i < app->n_workers; i++)
		if (st[i].n > 0)
			stage_flush(app, &app->workers[i], &st[i], p->drains);
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
	}
	stage_marker_all(app, st, MARKER_END | MARKER_BIT, true);
	return 0;
}
