/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * reasm [EAL options] -- [options]: TCP stream reassembly on every port EAL
 * gives us. See docs/appliance.md.
 *
 * Exit status: 0 after a clean run (replay drained, or SIGINT/SIGTERM),
 * 2 for bad options or a port/memory set-up failure.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>

#include "app.h"

struct app g_app;
volatile bool g_force_quit;
volatile bool g_reopen;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		g_reopen = true; /* the control-plane thread reopens the outputs */
	else
		g_force_quit = true;
}

static void
clock_init(struct app *app)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	app->tsc_hz = rte_get_tsc_hz();
	app->tsc_start = rte_rdtsc();
	app->epoch_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The ethdev vdevs asked for on the command line (--vdev=net_... or --vdev net_...). */
static unsigned int
count_net_vdevs(int argc, char **argv)
{
	unsigned int n = 0;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *v = NULL;

		if (strncmp(argv[i], "--vdev=", 7) == 0)
			v = argv[i] + 7;
		else if (strcmp(argv[i], "--vdev") == 0 && i + 1 < argc)
			v = argv[++i];
		if (v != NULL && strncmp(v, "net_", 4) == 0)
			n++;
	}
	return n;
}

static int
mbufs_create(struct app *app)
{
	app->mbufs = rte_pktmbuf_pool_create("reasm_mbufs", app->opt.mbufs, 256, 0,
					     (uint16_t)(app->opt.mbuf_size + RTE_PKTMBUF_HEADROOM),
					     rte_socket_id());
	if (app->mbufs == NULL) {
		fprintf(stderr,
			"reasm: cannot create %u mbufs of %u bytes: %s (try --mbufs, "
			"--mbuf-size or -m)\n",
			app->opt.mbufs, app->opt.mbuf_size, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* What the ports and the RX lcore saw: what reached reasm, and what did not. */
static void
print_port_summary(struct app *app)
{
	struct ports_totals pt;

	ports_totals(app, &pt);
	printf("reasm: ports: %" PRIu64 " received, %" PRIu64
	       " missed (NIC or kernel drops: %" PRIu64
	       " af_packet ring or tap queue full), %" PRIu64
	       " moved to another queue (af_packet rollover), %" PRIu64
	       " cut short (af_packet framesz), %" PRIu64 " without mbuf, %" PRIu64
	       " errors; RX lcore: %" PRIu64 " spread, %" PRIu64
	       " dropped for a full worker ring\n",
	       pt.ipackets, pt.imissed, pt.kernel_drops, pt.kernel_rollovers, pt.frames_cut,
	       pt.nombuf, pt.ierrors, app->dist_pkts, app->dist_ring_full);
}

/* What --defrag did: fragments in, datagrams out, handed over, lost. */
static void
print_defrag_summary(const struct app *app, const struct reasm_stats *sum, uint64_t lost)
{
	printf("reasm: defrag: %" PRIu64 " fragments, %" PRIu64 " datagrams reassembled (%" PRIu64
	       " handed to the worker owning their connection%s, %" PRIu64 " lost), %" PRIu64
	       " dropped incomplete\n",
	       sum->v[REASM_CTR_defrag_fragments], sum->v[REASM_CTR_defrag_datagrams],
	       sum->v[REASM_CTR_defrag_handoffs],
	       app->dist_asm != NULL ? " by the RX lcore, in capture order" : "", lost,
	       sum->v[REASM_CTR_defrag_timeouts]);
}

static void
print_summary(struct app *app)
{
	struct reasm_stats sum, st;
	struct sinks_totals acc = {0};
	uint64_t skipped, drops, lost;
	unsigned int i, c;

	app_stats_sum(app, &sum, &lost);
	for (i = 0; i < app->n_workers; i++) {
		struct sinks_totals t;

		reasm_assembler_stats(app->workers[i].asm_, &st);
		sinks_worker_totals(app->sinks, i, &t);
		sinks_totals_add(&acc, &t);
		printf("reasm: worker %u (lcore %u): %" PRIu64 " packets, %" PRIu64
		       " streams, %" PRIu64 " bytes delivered\n",
		       i, app->workers[i].lcore, app->workers[i].rx_pkts, t.streams,
		       st.v[REASM_CTR_delivered_bytes]);
	}
	skipped = reasm_stats_class_sum(&sum, REASM_CLASS_SKIP);
	drops = reasm_stats_class_sum(&sum, REASM_CLASS_DROP);
	printf("reasm: total: %" PRIu64 " packets, %" PRIu64 " TCP segments, %" PRIu64
	       " streams, %" PRIu64 " bytes delivered, %" PRIu64 " bytes skipped, %" PRIu64
	       " starts unseen, %" PRIu64 " packets dropped\n",
	       sum.v[REASM_CTR_pkts], sum.v[REASM_CTR_pkts_tcp], acc.streams,
	       sum.v[REASM_CTR_delivered_bytes], skipped, sum.v[REASM_CTR_skips_start_unknown],
	       drops);
	for (c = 0; c < REASM_CTR_MAX; c++)
		if (sum.v[c] != 0 && c != REASM_CTR_pkts && c != REASM_CTR_pkts_tcp)
			printf("reasm:   %-28s %" PRIu64 "\n", reasm_counter_name(c), sum.v[c]);
	printf("reasm: per-stream accounting: %" PRIu64 " streams, received %" PRIu64
	       " = delivered %" PRIu64 " + overlap %" PRIu64 " + discarded %" PRIu64 ", %" PRIu64
	       " unbalanced\n",
	       acc.streams, acc.received, acc.bytes, acc.overlap, acc.discarded, acc.unbalanced);
	if (sinks_conf_arg(&app->opt.sinks, "pcap") != NULL)
		printf("reasm: pcap sink: pcap_pkts=%" PRIu64 " pcap_bytes=%" PRIu64
		       " pcap_files_created=%" PRIu64 " pcap_files_reopened=%" PRIu64
		       " pcap_files_closed_lru=%" PRIu64 " pcap_not_tcp=%" PRIu64
		       " pcap_dropped=%" PRIu64 " pcap_write_errors=%" PRIu64 "\n",
		       acc.pcap.pkts, acc.pcap.bytes, acc.pcap.files_created,
		       acc.pcap.files_reopened, acc.pcap.files_closed_lru, acc.pcap.not_tcp,
		       acc.pcap.dropped, acc.pcap.write_errors);
	if (sinks_conf_arg(&app->opt.sinks, "redis") != NULL)
		printf("reasm: redis sink: redis_sent=%" PRIu64 " redis_dropped=%" PRIu64
		       " redis_failed=%" PRIu64 " redis_reconnects=%" PRIu64 "\n",
		       acc.redis.sent, acc.redis.dropped, acc.redis.failed, acc.redis.reconnects);
	if (sinks_conf_arg(&app->opt.sinks, "kafka") != NULL)
		printf("reasm: kafka sink: kafka_acked=%" PRIu64 " kafka_failed=%" PRIu64
		       " kafka_dropped=%" PRIu64 " kafka_chunks_acked=%" PRIu64
		       " kafka_chunks_failed=%" PRIu64 " kafka_chunks_dropped=%" PRIu64
		       " kafka_content_bytes=%" PRIu64 " kafka_content_dropped_bytes=%" PRIu64
		       " kafka_retries=%" PRIu64 " kafka_request_errors=%" PRIu64 "\n",
		       acc.kafka.acked, acc.kafka.failed, acc.kafka.dropped, acc.kafka.chunks_acked,
		       acc.kafka.chunks_failed, acc.kafka.chunks_dropped, acc.kafka.content_bytes,
		       acc.kafka.content_dropped_bytes, acc.kafka.retries,
		       acc.kafka.request_errors);
	if (app->opt.defrag)
		print_defrag_summary(app, &sum, lost);
	print_port_summary(app);
}

/*
 * Packet capture by operators' tools (dpdk-dumpcap, dpdk-pdump): they attach
 * as secondary processes, which needs shared memory (hugepages, not
 * --no-huge) and the same --file-prefix; reasm runs the same either way.
 */
static bool pdump_on;

static void
pdump_start(void)
{
	if (rte_eal_process_type() != RTE_PROC_PRIMARY || rte_pdump_init() != 0) {
		fprintf(stderr, "reasm: warning: packet capture (dpdk-dumpcap) unavailable: %s\n",
			rte_strerror(rte_errno));
		return;
	}
	pdump_on = true;
}

static void
pdump_stop(void)
{
	if (pdump_on)
		rte_pdump_uninit();
	pdump_on = false;
}

/* Wait for a signal; the workers poll their queues meanwhile. */
static void
wait_for_signal(void)
{
	while (!g_force_quit)
		usleep(100000);
}

static int
run(struct app *app)
{
	unsigned int i;

	rt_calibrate();
	__atomic_store_n(&app->runtime_on, app->opt.runtime_stats, __ATOMIC_RELAXED);
	for (i = 0; i < app->n_workers; i++)
		rte_eal_remote_launch(worker_main, &app->workers[i], app->workers[i].lcore);
	if (app->any_sw_port)
		distributor_main(app);
	else
		wait_for_signal();
	rte_eal_mp_wait_lcore();
	return 0;
}

int
main(int argc, char **argv)
{
	struct app *app = &g_app;
	unsigned int vdevs;
	int ret, status = 0;

	/* Line by line even into a pipe, so a log keeps every line whatever happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	vdevs = count_net_vdevs(argc, argv); /* before EAL reorders argv */
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "reasm: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	argc -= ret;
	argv += ret;
	ret = options_parse(argc, argv, &app->opt);
	if (ret != 0) {
		rte_eal_cleanup();
		return ret > 0 ? 0 : 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	clock_init(app);
	app->ts_dynfield = -1;

	workers_create(app);
	if (app->n_workers == 0) {
		fprintf(stderr, "reasm: no worker lcore: give at least two lcores (-l 0,1), the "
				"main one receives and distributes, the others reassemble\n");
		rte_eal_cleanup();
		return 2;
	}
	app->opt.sinks.n_workers = app->n_workers;
	if (rte_eth_dev_count_avail() < vdevs) {
		/* EAL goes on without a vdev it could not probe; a missing input is an error. */
		fprintf(stderr,
			"reasm: %u of the %u --vdev ports could not be set up (see the EAL "
			"message above: a missing file, too many rx_pcap= per vdev?)\n",
			vdevs - rte_eth_dev_count_avail(), vdevs);
		rte_eal_cleanup();
		return 2;
	}
	if (mbufs_create(app) < 0 || ports_setup(app) < 0)
		goto fail;
	app->sinks = sinks_create(&app->opt.sinks);
	if (app->sinks == NULL || workers_setup(app) < 0 || distributor_setup(app) < 0)
		goto fail;
	options_print(&app->opt, app->n_workers);
	telemetry_register(app);
	pdump_start();
	if (ctrl_start(app) < 0)
		goto fail;

	run(app);

	telemetry_shutdown(); /* before anything it reads is freed */
	pdump_stop();
	ctrl_stop();
	if (sinks_finish(app->sinks) < 0)
		status = 1;
	print_summary(app);
	distributor_free(app);
	workers_free(app);
	sinks_free(app->sinks);
	ports_stop(app);
	rte_mempool_free(app->mbufs);
	rte_eal_cleanup();
	return status;
fail:
	telemetry_shutdown();
	pdump_stop();
	ctrl_stop();
	distributor_free(app);
	workers_free(app);
	sinks_free(app->sinks);
	ports_stop(app);
	rte_mempool_free(app->mbufs);
	rte_eal_cleanup();
	return 2;
}
