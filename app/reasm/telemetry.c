/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The /reasm/ telemetry commands (DPDK's socket; dpdk-telemetry.py). Reads of
 * counters are lock-free (relaxed loads of per-worker counters); actions
 * (flush, flush_all) and the connection list go through the control plane.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_telemetry.h>
#include <rte_version.h>

#include "addr_format.h"
#include "app.h"

#if RTE_VERSION >= RTE_VERSION_NUM(23, 3, 0, 0)
#define tel_add_u64 rte_tel_data_add_dict_uint
#else
#define tel_add_u64 rte_tel_data_add_dict_u64
#endif

static void
add_counters(struct rte_tel_data *d, const struct reasm_stats *st)
{
	unsigned int i;

	for (i = 0; i < REASM_CTR_MAX; i++)
		tel_add_u64(d, reasm_counter_name(i), st->v[i]);
}

static void
worker_stats(const struct worker *w, struct reasm_stats *st)
{
	reasm_assembler_stats(w->asm_, st);
}

/* The pcap sink's counters (all 0 without it). */
static void
add_pcap_counters(struct rte_tel_data *d, const struct sink_pcap_counters *c)
{
	tel_add_u64(d, "pcap_pkts", c->pkts);
	tel_add_u64(d, "pcap_bytes", c->bytes);
	tel_add_u64(d, "pcap_files_created", c->files_created);
	tel_add_u64(d, "pcap_files_reopened", c->files_reopened);
	tel_add_u64(d, "pcap_files_closed_lru", c->files_closed_lru);
	tel_add_u64(d, "pcap_not_tcp", c->not_tcp);
	tel_add_u64(d, "pcap_dropped", c->dropped);
}

/* The redis sink's counters (all 0 without it). */
static void
add_redis_counters(struct rte_tel_data *d, const struct sink_redis_counters *c)
{
	tel_add_u64(d, "redis_sent", c->sent);
	tel_add_u64(d, "redis_dropped", c->dropped);
	tel_add_u64(d, "redis_failed", c->failed);
	tel_add_u64(d, "redis_reconnects", c->reconnects);
}

/* The kafka sink's counters (all 0 without it). */
static void
add_kafka_counters(struct rte_tel_data *d, const struct sink_kafka_counters *c)
{
	tel_add_u64(d, "kafka_acked", c->acked);
	tel_add_u64(d, "kafka_failed", c->failed);
	tel_add_u64(d, "kafka_dropped", c->dropped);
	tel_add_u64(d, "kafka_chunks_acked", c->chunks_acked);
	tel_add_u64(d, "kafka_chunks_failed", c->chunks_failed);
	tel_add_u64(d, "kafka_chunks_dropped", c->chunks_dropped);
	tel_add_u64(d, "kafka_content_bytes", c->content_bytes);
	tel_add_u64(d, "kafka_content_dropped_bytes", c->content_dropped_bytes);
	tel_add_u64(d, "kafka_retries", c->retries);
	tel_add_u64(d, "kafka_request_errors", c->request_errors);
	tel_add_u64(d, "kafka_waiting", c->waiting);
}

static void
add_worker_extras(struct rte_tel_data *d, const struct worker *w)
{
	struct sinks_totals t;

	sinks_worker_totals(g_app.sinks, w->id, &t);
	tel_add_u64(d, "rx_pkts", __atomic_load_n(&w->rx_pkts, __ATOMIC_RELAXED));
	tel_add_u64(d, "streams_open", reasm_pool_count(w->pool));
	tel_add_u64(d, "connections_open", reasm_pool_connection_count(w->pool));
	tel_add_u64(d, "zones_in_use", reasm_pool_zones_in_use(w->pool));
	tel_add_u64(d, "streams_completed", t.streams);
	tel_add_u64(d, "sink_bytes", t.bytes);
	tel_add_u64(d, "sink_write_errors", t.write_errors);
	tel_add_u64(d, "streams_unbalanced", t.unbalanced);
	add_pcap_counters(d, &t.pcap);
	add_redis_counters(d, &t.redis);
	add_kafka_counters(d, &t.kafka);
}

static int
do_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct reasm_stats sum;
	struct sinks_totals t, tsum = {0};
	struct ports_totals pt;
	uint64_t rx_pkts = 0, open = 0, conns_open = 0, lost;
	unsigned int i;

	app_stats_sum(&g_app, &sum, &lost);
	for (i = 0; i < g_app.n_workers; i++) {
		const struct worker *w = &g_app.workers[i];

		sinks_worker_totals(g_app.sinks, w->id, &t);
		sinks_totals_add(&tsum, &t);
		rx_pkts += __atomic_load_n(&w->rx_pkts, __ATOMIC_RELAXED);
		open += reasm_pool_count(w->pool);
		conns_open += reasm_pool_connection_count(w->pool);
	}
	ports_totals(&g_app, &pt);
	rte_tel_data_start_dict(d);
	tel_add_u64(d, "workers", g_app.n_workers);
	tel_add_u64(d, "port_rx_pkts", pt.ipackets);
	tel_add_u64(d, "port_rx_missed", pt.imissed);
	tel_add_u64(d, "port_rx_nombuf", pt.nombuf);
	tel_add_u64(d, "port_rx_errors", pt.ierrors);
	tel_add_u64(d, "port_kernel_drops", pt.kernel_drops);
	tel_add_u64(d, "port_kernel_rollovers", pt.kernel_rollovers);
	tel_add_u64(d, "port_frames_cut", pt.frames_cut);
	tel_add_u64(d, "dist_pkts", __atomic_load_n(&g_app.dist_pkts, __ATOMIC_RELAXED));
	tel_add_u64(d, "dist_ring_full", __atomic_load_n(&g_app.dist_ring_full, __ATOMIC_RELAXED));
	tel_add_u64(d, "rx_pkts", rx_pkts);
	tel_add_u64(d, "streams_open", open);
	tel_add_u64(d, "connections_open", conns_open);
	tel_add_u64(d, "streams_completed", tsum.streams);
	tel_add_u64(d, "sink_bytes", tsum.bytes);
	tel_add_u64(d, "sink_write_errors", tsum.write_errors);
	tel_add_u64(d, "streams_unbalanced", tsum.unbalanced);
	add_pcap_counters(d, &tsum.pcap);
	add_redis_counters(d, &tsum.redis);
	add_kafka_counters(d, &tsum.kafka);
	tel_add_u64(d, "dist_handoffs", __atomic_load_n(&g_app.dist_handoffs, __ATOMIC_RELAXED));
	tel_add_u64(d, "handoffs_lost", lost);
	tel_add_u64(d, "clock_ns", __atomic_load_n(&g_app.clock_ns, __ATOMIC_RELAXED));
	add_counters(d, &sum);
	return 0;
}

static int
do_lcore(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct reasm_stats st;
	unsigned long lcore;
	char *end;
	unsigned int i;

	if (params == NULL || *params == '\0')
		return -EINVAL;
	lcore = strtoul(params, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	for (i = 0; i < g_app.n_workers; i++) {
		const struct worker *w = &g_app.workers[i];

		if (w->lcore != lcore)
			continue;
		worker_stats(w, &st);
		rte_tel_data_start_dict(d);
		tel_add_u64(d, "lcore", w->lcore);
		tel_add_u64(d, "worker", w->id);
		tel_add_u64(d, "exited", w->exited);
		add_worker_extras(d, w);
		add_counters(d, &st);
		return 0;
	}
	return -EINVAL;
}

/*
 * Keys of /reasm/stats and /reasm/lcore that are levels, not totals: they go
 * down too (Prometheus gauges; every other number there only grows).
 */
static const char *const app_gauges[] = {"workers",      "streams_open", "connections_open",
					 "zones_in_use", "clock_ns",     "exited",
					 "kafka_waiting"};

static int
do_gauges(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned int i;

	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (i = 0; i < RTE_DIM(app_gauges); i++)
		rte_tel_data_add_array_string(d, app_gauges[i]);
	for (i = 0; i < REASM_CTR_MAX; i++)
		if (reasm_counter_class(i) == REASM_CLASS_GAUGE)
			rte_tel_data_add_array_string(d, reasm_counter_name(i));
	return 0;
}

/* A sink's argument for /reasm/config: "" if the sink is not configured. */
static const char *
config_sink_arg(const struct app_options *o, const char *name)
{
	const char *arg = sinks_conf_arg(&o->sinks, name);

	return arg != NULL ? arg : "";
}

static int
do_config(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct app_options *o = &g_app.opt;

	rte_tel_data_start_dict(d);
	tel_add_u64(d, "workers", g_app.n_workers);
	tel_add_u64(d, "ports", g_app.n_ports);
	tel_add_u64(d, "timeout_ms", o->timeout_ms);
	tel_add_u64(d, "flush_interval_ms", o->flush_interval_ms);
	tel_add_u64(d, "pages_total", o->pages_total);
	tel_add_u64(d, "pages_per_conn", o->pages_per_conn);
	tel_add_u64(d, "max_conns", o->max_conns);
	tel_add_u64(d, "pages", o->pages);
	tel_add_u64(d, "page_bytes", REASM_PAGE_BYTES);
	tel_add_u64(d, "mbufs", o->mbufs);
	tel_add_u64(d, "burst", o->burst);
	tel_add_u64(d, "ring_size", o->ring_size);
	tel_add_u64(d, "mbuf_size", o->mbuf_size);
	rte_tel_data_add_dict_string(d, "rx", rx_mode_name(o->rx_mode));
	tel_add_u64(d, "idle_sleep_us", o->idle_sleep_us);
	tel_add_u64(d, "zones", o->zones);
	rte_tel_data_add_dict_string(d, "overlap_policy", overlap_policy_name(o->overlap_policy));
	tel_add_u64(d, "retain_bytes", o->retain_bytes);
	tel_add_u64(d, "runtime_stats", o->runtime_stats);
	tel_add_u64(d, "defrag", o->defrag);
	tel_add_u64(d, "defrag_datagrams", o->defrag ? o->defrag_conf.max_datagrams : 0);
	tel_add_u64(d, "defrag_fragments", o->defrag ? o->defrag_conf.max_fragments : 0);
	tel_add_u64(d, "defrag_pages", o->defrag ? o->defrag_conf.max_pages : 0);
	tel_add_u64(d, "defrag_timeout_ms", o->defrag ? o->defrag_conf.timeout_ns / 1000000 : 0);
	tel_add_u64(d, "sha256", o->sinks.sha256);
	rte_tel_data_add_dict_string(d, "sink_count",
				     sinks_conf_arg(&o->sinks, "count") ? "yes" : "no");
	rte_tel_data_add_dict_string(d, "sink_files", config_sink_arg(o, "files"));
	rte_tel_data_add_dict_string(d, "sink_jsonl", config_sink_arg(o, "jsonl"));
	rte_tel_data_add_dict_string(d, "sink_pcap", config_sink_arg(o, "pcap"));
	rte_tel_data_add_dict_string(d, "sink_redis", config_sink_arg(o, "redis"));
	rte_tel_data_add_dict_string(d, "sink_kafka", config_sink_arg(o, "kafka"));
	rte_tel_data_add_dict_string(d, "sensor_id", o->sensor_id);
	tel_add_u64(d, "community_id_seed", o->sinks.community_id_seed);
	return 0;
}

/* ---- connections: the biggest buffers, through the control plane ---- */

/* Every worker's answer (its APP_TOP_CONNS biggest), merged once all are in. */
struct top_entry {
	struct reasm_conn_info info;
	unsigned int worker;
};

struct top_ctx {
	unsigned int n, max;
	struct top_entry all[]; /* max = APP_TOP_CONNS per worker */
};

static void
collect_top(const struct worker *w, const struct ctrl_slot *reply, void *arg)
{
	struct top_ctx *ctx = arg;
	unsigned int i;

	for (i = 0; i < reply->n_top && ctx->n < ctx->max; i++) {
		ctx->all[ctx->n].info = reply->top[i];
		ctx->all[ctx->n].worker = w->id;
		ctx->n++;
	}
}

/* Most pages first; ties by worker, for a stable answer. */
static int
top_cmp(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	if (x->info.pages != y->info.pages)
		return x->info.pages < y->info.pages ? 1 : -1;
	return x->worker < y->worker ? -1 : x->worker > y->worker;
}

/* Put dict @p c under @p key in @p d; @p c is freed if it cannot be. */
static int
tel_add_container(struct rte_tel_data *d, const char *key, struct rte_tel_data *c)
{
	if (rte_tel_data_add_dict_container(d, key, c, 0) != 0) {
		rte_tel_data_free(c);
		return -ENOMEM;
	}
	return 0;
}

/* Entry @p rank of /reasm/conns: one stream direction, as a dict. */
static int
add_conn(struct rte_tel_data *d, unsigned int rank, const struct top_entry *e)
{
	const struct reasm_conn_info *info = &e->info;
	struct rte_tel_data *c = rte_tel_data_alloc();
	char flow[128], key[16];

	if (c == NULL)
		return -ENOMEM;
	reasm_flow_format(&info->flow, flow, sizeof(flow));
	rte_tel_data_start_dict(c);
	rte_tel_data_add_dict_string(c, "flow", flow);
	tel_add_u64(c, "pages", info->pages);
	tel_add_u64(c, "buffered_bytes", info->totals.buffered_bytes);
	tel_add_u64(c, "last_seen_ns", info->last_seen);
	tel_add_u64(c, "received_bytes", info->totals.received_bytes);
	tel_add_u64(c, "delivered_bytes", info->totals.delivered_bytes);
	tel_add_u64(c, "overlap_bytes", info->totals.overlap_bytes);
	tel_add_u64(c, "skipped_bytes", info->totals.skipped_bytes);
	tel_add_u64(c, "worker", e->worker);
	snprintf(key, sizeof(key), "%u", rank);
	return tel_add_container(d, key, c);
}

/* A dict keyed by rank ("0" = most pages): telemetry arrays hold only scalars. */
static int
do_conns(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned int max = g_app.n_workers * APP_TOP_CONNS, i;
	struct top_ctx *ctx = calloc(1, sizeof(*ctx) + max * sizeof(ctx->all[0]));
	int rc = 0;

	if (ctx == NULL)
		return -ENOMEM;
	ctx->max = max;
	ctrl_request(CTRL_REQ_TOP_CONNS, 0, collect_top, ctx);
	qsort(ctx->all, ctx->n, sizeof(ctx->all[0]), top_cmp);
	rte_tel_data_start_dict(d);
	for (i = 0; i < ctx->n && i < APP_TOP_CONNS && rc == 0; i++)
		rc = add_conn(d, i, &ctx->all[i]);
	free(ctx);
	return rc;
}

/* ---- conflicts: the last overlaps whose copies differed ----------------- */

/* One conflict as a dict: where (worker, 4-tuple, Community ID, conn_id) and the evidence. */
static int
add_conflict(struct rte_tel_data *d, unsigned int rank, unsigned int worker,
	     const struct sinks_conflict_seen *e)
{
	struct rte_tel_data *c = rte_tel_data_alloc();
	char addr[ADDR_FORMAT_GO_LEN], key[96];
	char hex[2 * sizeof(e->c.kept_sha256) + 1];

	if (c == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(c);
	tel_add_u64(c, "worker", worker);
	tel_add_u64(c, "number", e->number);
	addr_format_go(e->flow.family, e->flow.src_addr, addr);
	rte_tel_data_add_dict_string(c, "src", addr);
	tel_add_u64(c, "sport", e->flow.src_port);
	addr_format_go(e->flow.family, e->flow.dst_addr, addr);
	rte_tel_data_add_dict_string(c, "dst", addr);
	tel_add_u64(c, "dport", e->flow.dst_port);
	if (reasm_community_id(&e->flow, g_app.opt.sinks.community_id_seed, key, sizeof(key)) > 0)
		rte_tel_data_add_dict_string(c, "community_id", key);
	if (e->has_conn) {
		snprintf(key, sizeof(key), "%u.%" PRIu64, worker, e->conn_id);
		rte_tel_data_add_dict_string(c, "conn_id", key);
	}
	tel_add_u64(c, "seq", e->c.seq);
	if (e->c.offset_known)
		tel_add_u64(c, "offset", e->c.offset);
	tel_add_u64(c, "len", e->c.len);
	tel_add_u64(c, "differing", e->c.differing);
	rte_tel_data_add_dict_string(c, "kept", sink_conflict_kept_name(&e->c));
	sink_hex(e->c.kept_sha256, sizeof(e->c.kept_sha256), hex);
	rte_tel_data_add_dict_string(c, "kept_sha256", hex);
	sink_hex(e->c.other_sha256, sizeof(e->c.other_sha256), hex);
	rte_tel_data_add_dict_string(c, "other_sha256", hex);
	tel_add_u64(c, "seen_ns", e->c.seen);
	snprintf(key, sizeof(key), "%u", rank);
	return tel_add_container(d, key, c);
}

/* Each worker's most recent conflicts, newest first, keyed "0", "1", ... worker by worker. */
static int
do_conflicts(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct sinks_conflict_seen seen[SINKS_RECENT_CONFLICTS];
	unsigned int w, i, n, rank = 0;
	int rc = 0;

	rte_tel_data_start_dict(d);
	for (w = 0; w < g_app.n_workers && rc == 0; w++) {
		n = sinks_recent_conflicts(g_app.sinks, w, seen, RTE_DIM(seen));
		for (i = 0; i < n && rc == 0; i++)
			rc = add_conflict(d, rank++, w, &seen[i]);
	}
	return rc;
}

/* ---- runtime: where each lcore's time goes ----------------------------- */

/* One lcore's table as a flat dict: STAGE_calls, STAGE_pkts, STAGE_cycles per row. */
static int
add_runtime(struct rte_tel_data *d, const char *key, unsigned int lcore, const struct rt_row *rows,
	    unsigned int n)
{
	struct rte_tel_data *c = rte_tel_data_alloc();
	char name[64];
	unsigned int i;

	if (c == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(c);
	tel_add_u64(c, "lcore", lcore);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s_calls", rows[i].name);
		tel_add_u64(c, name, rows[i].t.calls);
		snprintf(name, sizeof(name), "%s_pkts", rows[i].name);
		tel_add_u64(c, name, rows[i].t.pkts);
		snprintf(name, sizeof(name), "%s_cycles", rows[i].name);
		tel_add_u64(c, name, rows[i].t.cycles);
	}
	return tel_add_container(d, key, c);
}

static int
do_runtime(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rt_row rows[RT_MAX_ROWS];
	char key[32];
	unsigned int i, n;
	int rc = 0;

	rte_tel_data_start_dict(d);
	tel_add_u64(d, "enabled", __atomic_load_n(&g_app.runtime_on, __ATOMIC_RELAXED));
	tel_add_u64(d, "tsc_hz", g_app.tsc_hz);
	tel_add_u64(d, "tsc", rte_rdtsc());
	if (g_app.any_sw_port) {
		n = rt_main_rows(&g_app, rows);
		rc = add_runtime(d, "main", rte_get_main_lcore(), rows, n);
	}
	for (i = 0; i < g_app.n_workers && rc == 0; i++) {
		snprintf(key, sizeof(key), "worker%u", i);
		n = rt_worker_rows(&g_app.workers[i], rows);
		rc = add_runtime(d, key, g_app.workers[i].lcore, rows, n);
	}
	return rc;
}

static int
do_runtime_enable(const char *cmd, const char *params, struct rte_tel_data *d)
{
	if (params == NULL || (strcmp(params, "0") != 0 && strcmp(params, "1") != 0))
		return -EINVAL;
	__atomic_store_n(&g_app.runtime_on, params[0] == '1', __ATOMIC_RELAXED);
	rte_tel_data_start_dict(d);
	tel_add_u64(d, "enabled", params[0] == '1');
	return 0;
}

/* ---- actions ---------------------------------------------------------- */

struct flush_ctx {
	unsigned int flushed, closed;
};

static void
collect_flush(const struct worker *w, const struct ctrl_slot *reply, void *arg)
{
	struct flush_ctx *ctx = arg;

	ctx->flushed += reply->flushed;
	ctx->closed += reply->closed;
}

/* The clock flushes are measured against: the capture's in replay, else now. */
static uint64_t
flush_clock(void)
{
	return g_app.any_sw_port ? __atomic_load_n(&g_app.clock_ns, __ATOMIC_RELAXED)
				 : app_now_ns();
}

static int
do_flush(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct flush_ctx ctx = {0, 0};
	unsigned long long ms;
	uint64_t clock = flush_clock(), t;
	unsigned int answered;
	char *end;

	if (params == NULL || *params == '\0' || *params == '-')
		return -EINVAL;
	ms = strtoull(params, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	t = ms * 1000000ULL < clock ? clock - ms * 1000000ULL : 0;
	answered = ctrl_request(CTRL_REQ_FLUSH, t, collect_flush, &ctx);
	rte_tel_data_start_dict(d);
	tel_add_u64(d, "older_than_ns", t);
	tel_add_u64(d, "workers_answered", answered);
	tel_add_u64(d, "flushed", ctx.flushed);
	tel_add_u64(d, "closed", ctx.closed);
	return 0;
}

static int
do_flush_all(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct flush_ctx ctx = {0, 0};
	unsigned int answered = ctrl_request(CTRL_REQ_FLUSH_ALL, 0, collect_flush, &ctx);

	rte_tel_data_start_dict(d);
	tel_add_u64(d, "workers_answered", answered);
	tel_add_u64(d, "closed", ctx.closed);
	return 0;
}

/* ---- shutdown gate ---------------------------------------------------- */

/*
 * DPDK cannot unregister telemetry commands, and main() frees workers, sinks
 * and ports before rte_eal_cleanup(): every command passes this gate, which
 * telemetry_shutdown() closes and then waits for calls already inside.
 */
static bool tel_closed;
static unsigned int tel_inside;

static bool
tel_enter(void)
{
	__atomic_fetch_add(&tel_inside, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&tel_closed, __ATOMIC_SEQ_CST))
		return true;
	__atomic_fetch_sub(&tel_inside, 1, __ATOMIC_SEQ_CST);
	return false;
}

static void
tel_leave(void)
{
	__atomic_fetch_sub(&tel_inside, 1, __ATOMIC_SEQ_CST);
}

void
telemetry_shutdown(void)
{
	__atomic_store_n(&tel_closed, true, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&tel_inside, __ATOMIC_SEQ_CST) != 0)
		usleep(1000);
}

#define GATED_COMMAND(name)                                                                \
	static int cmd_##name(const char *cmd, const char *params, struct rte_tel_data *d) \
	{                                                                                  \
		int rc;                                                                    \
		if (!tel_enter())                                                          \
			return -EBUSY; /* shutting down: the answer is null */             \
		rc = do_##name(cmd, params, d);                                            \
		tel_leave();                                                               \
		return rc;                                                                 \
	}

GATED_COMMAND(stats)
GATED_COMMAND(lcore)
GATED_COMMAND(config)
GATED_COMMAND(conns)
GATED_COMMAND(flush)
GATED_COMMAND(flush_all)
GATED_COMMAND(runtime)
GATED_COMMAND(runtime_enable)
GATED_COMMAND(gauges)
GATED_COMMAND(conflicts)

int
telemetry_register(struct app *app)
{
	int rc = 0;

	rc |= rte_telemetry_register_cmd(
		"/reasm/stats", cmd_stats,
		"Totals of every reasm counter over all workers. No parameters");
	rc |= rte_telemetry_register_cmd(
		"/reasm/lcore", cmd_lcore,
		"Counters of the worker on one lcore. Parameters: int lcore_id");
	rc |= rte_telemetry_register_cmd(
		"/reasm/gauges", cmd_gauges,
		"Keys of /reasm/stats and /reasm/lcore that go down too. No parameters");
	rc |= rte_telemetry_register_cmd("/reasm/config", cmd_config,
					 "The running configuration. No parameters");
	rc |= rte_telemetry_register_cmd(
		"/reasm/conns", cmd_conns,
		"Stream directions holding the most out-of-order pages. No parameters");
	rc |= rte_telemetry_register_cmd(
		"/reasm/conflicts", cmd_conflicts,
		"Each worker's last overlaps whose copies differed, with evidence. No parameters");
	rc |= rte_telemetry_register_cmd(
		"/reasm/runtime", cmd_runtime,
		"Calls, packets and TSC cycles per stage of each lcore's loop. No parameters");
	rc |= rte_telemetry_register_cmd("/reasm/runtime_enable", cmd_runtime_enable,
					 "Time the stages (1) or not (0). Parameters: int 0|1");
	rc |= rte_telemetry_register_cmd("/reasm/flush", cmd_flush,
					 "Flush streams idle for more than ms. Parameters: int ms");
	rc |= rte_telemetry_register_cmd(
		"/reasm/flush_all", cmd_flush_all,
		"Deliver everything buffered and close every stream. No parameters");
	if (rc != 0)
		fprintf(stderr, "reasm: warning: telemetry commands could not all be registered\n");
	return rc != 0 ? -1 : 0;
}
