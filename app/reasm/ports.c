/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Port set-up: mempools for large frames, queues direct or spread (the
 * choice is rx_mode.c's), start, promiscuous mode for the run only, stop,
 * and the ports' statistics summed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#include "app.h"

#define RX_DESC 1024
#define TX_DESC 512

/* 0x6d5a repeated: Toeplitz with this key is symmetric in (src, dst). */
static uint8_t symmetric_rss_key[PORTS_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

const uint8_t *
ports_rss_key(void)
{
	return symmetric_rss_key;
}

/* A capture replay ends: net_pcap reading rx_pcap= files without infinite_rx. */
static bool
port_drains(const struct rte_eth_dev_info *info)
{
	const struct rte_devargs *da = rte_dev_devargs(info->device);
	const char *args = da != NULL ? da->args : NULL;

	if (strcmp(info->driver_name, "net_pcap") != 0 || args == NULL)
		return false;
	return strstr(args, "rx_pcap=") != NULL && strstr(args, "infinite_rx=1") == NULL;
}

/* ---- infinite_rx replays of large frames ------------------------------ */

/*
 * net_pcap with infinite_rx=1 copies every frame of its rx_pcap files into
 * one mbuf at queue set-up and refuses a frame larger than one mbuf
 * ("Multiseg mbufs are not supported in infinite_rx mode"). Such a port gets
 * a mempool of its own, whose mbufs hold the files' largest frame, sized for
 * the frames it keeps plus what is in flight to the workers.
 */
struct replay_size {
	uint64_t frames;
	uint32_t max_len;
};

/* Add the frames of the capture @p path to @p size; -1 after a message. */
static int
replay_file_size(const char *path, struct replay_size *size)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc = pcap_open_offline(path, err);

	if (pc == NULL) {
		fprintf(stderr, "reasm: %s: %s\n", path, err);
		return -1;
	}
	while (pcap_next_ex(pc, &h, &data) == 1) {
		size->frames++;
		if (h->caplen > size->max_len)
			size->max_len = h->caplen;
	}
	pcap_close(pc);
	return 0;
}

/* The frames of every rx_pcap= of devargs @p args. */
static int
replay_size(const char *args, struct replay_size *size)
{
	char *copy = strdup(args), *save = NULL, *kv;
	int rc = 0;

	if (copy == NULL)
		return -1;
	memset(size, 0, sizeof(*size));
	for (kv = strtok_r(copy, ",", &save); kv != NULL && rc == 0;
	     kv = strtok_r(NULL, ",", &save))
		if (strncmp(kv, "rx_pcap=", 8) == 0)
			rc = replay_file_size(kv + 8, size);
	free(copy);
	return rc;
}

static bool
port_replays_forever(const struct rte_eth_dev_info *info, const char **args)
{
	const struct rte_devargs *da = rte_dev_devargs(info->device);

	*args = da != NULL ? da->args : NULL;
	return strcmp(info->driver_name, "net_pcap") == 0 && *args != NULL &&
	       strstr(*args, "rx_pcap=") != NULL && strstr(*args, "infinite_rx=1") != NULL;
}

/* Give @p p a mempool of its own if its infinite_rx files hold frames too large for ours. */
static int
replay_pool_setup(struct app *app, struct port_info *p, const struct rte_eth_dev_info *info)
{
	uint32_t room = rte_pktmbuf_data_room_size(app->mbufs) - RTE_PKTMBUF_HEADROOM;
	struct replay_size size;
	char name[RTE_MEMPOOL_NAMESIZE];
	const char *args;
	uint64_t n;

	if (!port_replays_forever(info, &args))
		return 0;
	if (replay_size(args, &size) < 0)
		return -1;
	if (size.max_len <= room)
		return 0;
	if (size.max_len > UINT16_MAX - RTE_PKTMBUF_HEADROOM) {
		fprintf(stderr,
			"reasm: port %u (%s): a frame of %u bytes cannot fit in one mbuf, "
			"which infinite_rx=1 needs: replay it without infinite_rx\n",
			p->port_id, p->name, size.max_len);
		return -1;
	}
	/* The PMD keeps every frame; the workers' rings hold more in flight. */
	n = size.frames + (uint64_t)app->n_workers * app->opt.ring_size + 4 * MAX_BURST + 1024;
	snprintf(name, sizeof(name), "reasm_replay%u", p->port_id);
	p->own_mbufs = rte_pktmbuf_pool_create(name, (unsigned int)n, 256, 0,
					       mbuf_buf_size(size.max_len),
					       rte_eth_dev_socket_id(p->port_id));
	if (p->own_mbufs == NULL) {
		fprintf(stderr,
			"reasm: port %u (%s): infinite_rx replay of %" PRIu64
			" frames up to %u bytes needs %" PRIu64 " mbufs of that size: %s "
			"(give more memory, -m, or replay without infinite_rx)\n",
			p->port_id, p->name, size.frames, size.max_len, n, rte_strerror(rte_errno));
		return -1;
	}
	printf("reasm: port %u (%s): infinite_rx replay of %" PRIu64 " frames up to %u bytes "
	       "(more than --mbuf-size %u): a pool of its own, %" PRIu64 " mbufs (%.1f MiB)\n",
	       p->port_id, p->name, size.frames, size.max_len, room, n,
	       n * (double)(size.max_len + RTE_PKTMBUF_HEADROOM + 192) / (1 << 20));
	return 0;
}

/* ---- configuration ----------------------------------------------------- */

/* Configure @p p's queues as @p conf says and start it. */
static int
port_start(struct app *app, struct port_info *p, const struct rte_eth_dev_info *info,
	   const struct rte_eth_conf *conf)
{
	/* Some PMDs (net_tap) want as many TX queues as RX queues; reasm sends nothing. */
	uint16_t q, n_txq = RTE_MIN(p->n_rxq, info->max_tx_queues);
	int rc;

	rc = rte_eth_dev_configure(p->port_id, p->n_rxq, n_txq, conf);
	if (rc < 0) {
		fprintf(stderr, "reasm: port %u (%s): cannot configure %u RX queues: %s\n",
			p->port_id, p->name, p->n_rxq, rte_strerror(-rc));
		return -1;
	}
	for (q = 0; q < p->n_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, RX_DESC,
					    rte_eth_dev_socket_id(p->port_id), NULL,
					    p->own_mbufs != NULL ? p->own_mbufs : app->mbufs);
		if (rc < 0) {
			fprintf(stderr, "reasm: port %u (%s): RX queue %u: %s\n", p->port_id,
				p->name, q, rte_strerror(-rc));
			return -1;
		}
	}
	for (q = 0; q < n_txq; q++) {
		rc = rte_eth_tx_queue_setup(p->port_id, q, TX_DESC,
					    rte_eth_dev_socket_id(p->port_id), NULL);
		if (rc < 0) {
			fprintf(stderr, "reasm: port %u (%s): TX queue %u: %s\n", p->port_id,
				p->name, q, rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(p->port_id);
	if (rc < 0) {
		fprintf(stderr, "reasm: port %u (%s): cannot start: %s\n", p->port_id, p->name,
			rte_strerror(-rc));
		return -1;
	}
	return 0;
}

/* Configure and start @p p, direct or spread (rx_mode.c). */
static int
port_configure(struct app *app, struct port_info *p, const struct rte_eth_dev_info *info)
{
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	if (rx_mode_choose(app, p, info, &conf) < 0 || port_start(app, p, info, &conf) < 0)
		return -1;
	rc = rx_mode_verify(app, p, &conf);
	if (rc <= 0)
		return rc;
	/* The port refused the symmetric key: start it again, spread. */
	rte_eth_dev_stop(p->port_id);
	memset(&conf, 0, sizeof(conf));
	p->n_rxq = 1;
	return port_start(app, p, info, &conf);
}

static int
port_setup(struct app *app, uint16_t port_id, struct port_info *p)
{
	struct rte_eth_dev_info info;
	int rc;

	memset(p, 0, sizeof(*p));
	p->port_id = port_id;
	rte_eth_dev_get_name_by_port(port_id, p->name);
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc < 0) {
		fprintf(stderr, "reasm: port %u: no device info: %s\n", port_id, rte_strerror(-rc));
		return -1;
	}
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name);
	p->drains = port_drains(&info);
	p->pcap_timestamps = strcmp(info.driver_name, "net_pcap") == 0;
	if (replay_pool_setup(app, p, &info) < 0 || af_packet_pool_setup(app, p, &info) < 0 ||
	    port_configure(app, p, &info) < 0)
		return -1;
	if (kernel_port_setup(p, &info) < 0)
		return -1;
	/* Promiscuous for the run only: what the port was is restored at the end. */
	p->was_promiscuous = rte_eth_promiscuous_get(port_id) == 1;
	if (!p->was_promiscuous)
		rte_eth_promiscuous_enable(port_id); /* vdevs may refuse: not an error */
	printf("reasm: port %u %s (%s): %u RX queue%s, rx %s: %s (%s)%s\n", port_id, p->name,
	       p->driver, p->n_rxq, p->n_rxq > 1 ? "s" : "", p->direct ? "direct" : "spread",
	       p->direct ? "worker i polls queue i" : "the main lcore spreads its frames",
	       p->rx_why, p->drains ? ", capture replay" : "");
	return 0;
}

int
ports_setup(struct app *app)
{
	uint16_t port_id;

	app->n_ports = 0;
	RTE_ETH_FOREACH_DEV(port_id) {
		struct port_info *p = &app->ports[app->n_ports];

		if (port_setup(app, port_id, p) < 0)
			return -1;
		app->any_sw_port |= !p->direct;
		app->n_ports++;
	}
	if (app->n_ports == 0) {
		fprintf(stderr, "reasm: no ports: give a NIC (-a PCI) or a vdev "
				"(--vdev=net_pcap0,rx_pcap=FILE)\n");
		return -1;
	}
	/* net_pcap stores capture time (µs) in the timestamp dynfield. */
	app->ts_dynfield = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	if (app->ts_dynfield >= 0) {
		int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);

		app->ts_dynflag = bit >= 0 ? RTE_BIT64(bit) : 0;
	}
	return 0;
}

void
ports_stop(struct app *app)
{
	unsigned int i;

	for (i = 0; i < app->n_ports; i++) {
		kernel_port_forget(&app->ports[i]);
		if (!app->ports[i].was_promiscuous)
			rte_eth_promiscuous_disable(app->ports[i].port_id);
		rte_eth_dev_stop(app->ports[i].port_id);
		rte_eth_dev_close(app->ports[i].port_id);
		rte_mempool_free(app->ports[i].own_mbufs);
		app->ports[i].own_mbufs = NULL;
	}
}

void
ports_totals(struct app *app, struct ports_totals *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < app->n_ports; i++) {
		struct rte_eth_stats es;
		uint64_t drops, rollovers;

		kernel_port_stats(&app->ports[i], &drops, &rollovers);
		out->kernel_drops += drops;
		out->kernel_rollovers += rollovers;
		out->imissed += drops;
		if (rte_eth_stats_get(app->ports[i].port_id, &es) != 0)
			continue;
		out->ipackets += es.ipackets;
		out->imissed += es.imissed;
		out->nombuf += es.rx_nombuf;
		out->ierrors += es.ierrors;
	}
	out->frames_cut = __atomic_load_n(&app->dist_rx_cut, __ATOMIC_RELAXED);
	for (i = 0; i < app->n_workers; i++)
		out->frames_cut += __atomic_load_n(&app->workers[i].rx_cut, __ATOMIC_RELAXED);
}
