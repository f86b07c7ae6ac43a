/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Who receives a port's frames (--rx auto|direct|spread).
 *
 * direct: worker i polls RX queue i itself, as on a NIC. Correct only where
 *   the port puts every frame of a connection, both directions, on one queue:
 *   - a NIC with RSS over our symmetric Toeplitz key (checked after
 *     configuration: a port that does not take the key is not direct);
 *   - net_af_packet with qpairs = workers: the kernel's fanout hash is a
 *     symmetric flow hash (__skb_get_hash_symmetric). Under overload the PMD's
 *     PACKET_FANOUT_FLAG_ROLLOVER moves frames of a full queue to another:
 *     those are counted (kernel_port.c), never silent;
 *   - net_tap with one queue per worker: tun's queue selection hashes flows
 *     symmetrically;
 *   - net_pcap with infinite_rx=1 and one rx_pcap per worker, when the user
 *     says the files are split per connection (--rx direct only).
 * spread: the main lcore polls every queue and hands each frame to the worker
 *   its symmetric hash names (distributor.c). Always correct; one more hop.
 * auto (the default): direct where it is known correct as configured, spread
 *   elsewhere; the start-up line says which and why.
 */
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "app.h"

/* What kind of port, as far as queue placement goes. */
enum port_kind {
	KIND_NIC,         /* anything with RSS offloads */
	KIND_AF_PACKET,   /* net_af_packet */
	KIND_TAP,         /* net_tap */
	KIND_PCAP_LOOP,   /* net_pcap, infinite_rx=1 */
	KIND_PCAP_REPLAY, /* net_pcap replaying files to their end */
	KIND_OTHER,       /* vdevs without per-flow queues (net_null, net_ring, ...) */
};

static enum port_kind
port_kind(const struct port_info *p, const struct rte_eth_dev_info *info)
{
	if (p->drains)
		return KIND_PCAP_REPLAY;
	if (strcmp(info->driver_name, "net_pcap") == 0)
		return KIND_PCAP_LOOP;
	if (strcmp(info->driver_name, "net_af_packet") == 0)
		return KIND_AF_PACKET;
	if (strcmp(info->driver_name, "net_tap") == 0)
		return KIND_TAP;
	if (info->flow_type_rss_offloads != 0)
		return KIND_NIC;
	return KIND_OTHER;
}

/* RSS over the symmetric key, one queue per worker. */
static void
conf_rss(struct rte_eth_conf *conf, const struct rte_eth_dev_info *info)
{
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf.rss_key = (uint8_t *)(uintptr_t)ports_rss_key();
	conf->rx_adv_conf.rss_conf.rss_key_len = PORTS_RSS_KEY_LEN;
	conf->rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP) &
					    info->flow_type_rss_offloads;
}

/* The queues a spread port keeps: all the PMD has (vdevs), one on a NIC. */
static uint16_t
spread_queues(const struct rte_eth_dev_info *info)
{
	uint16_t n = info->max_rx_queues > 0 ? info->max_rx_queues : 1;

	return n > 64 ? 1 : n; /* a real NIC without RSS: one queue is enough */
}

static int
refuse_direct(const struct port_info *p, const char *why)
{
	fprintf(stderr, "reasm: port %u (%s): --rx direct: %s\n", p->port_id, p->name, why);
	return -1;
}

/* A port whose queues are per connection as configured: direct unless --rx spread. */
static int
choose_per_flow(const struct app *app, struct port_info *p, uint16_t queues, const char *why)
{
	char msg[160];

	if (app->opt.rx_mode == RX_SPREAD) {
		p->rx_why = "--rx spread";
		return 0;
	}
	if (queues != app->n_workers) {
		if (app->opt.rx_mode == RX_DIRECT) {
			snprintf(msg, sizeof(msg),
				 "it has %u RX queues for %u workers: give it one "
				 "per worker (net_af_packet: qpairs=%u)",
				 queues, app->n_workers, app->n_workers);
			return refuse_direct(p, msg);
		}
		p->rx_why = "its queues are not one per worker";
		return 0;
	}
	p->direct = true;
	p->rx_why = why;
	return 0;
}

static const char defrag_needs_spread[] =
	"with --defrag a datagram reassembled on one worker is handed to its connection's owner, "
	"and the kernel's queue hash that picked the owner cannot be computed here: give --rx "
	"spread";

/*
 * --defrag over several workers: the fragments of a datagram meet on one
 * queue, but its connection's other frames on the queue the kernel's flow hash
 * names, which reasm cannot compute to hand the datagram over.
 */
static bool
kernel_hash_blocks_defrag(const struct app *app, struct port_info *p)
{
	if (!app->opt.defrag || app->n_workers == 1)
		return false;
	p->rx_why = "--defrag: reassembled datagrams go to their owner by reasm's own hash";
	return true;
}

int
rx_mode_choose(const struct app *app, struct port_info *p, const struct rte_eth_dev_info *info,
	       struct rte_eth_conf *conf)
{
	enum rx_mode want = app->opt.rx_mode;

	p->direct = false;
	p->n_rxq = spread_queues(info);
	p->rx_why = "its queues are not per connection";
	switch (port_kind(p, info)) {
	case KIND_PCAP_REPLAY:
		if (want == RX_DIRECT)
			return refuse_direct(p, "a capture replay that ends is spread by the main "
						"lcore, which keeps capture order for the timers "
						"(replay with infinite_rx=1 for direct)");
		p->rx_why = "capture replay: the main lcore keeps capture order";
		return 0;
	case KIND_PCAP_LOOP:
		if (want != RX_DIRECT) {
			p->rx_why = "net_pcap queues are per file, not per connection";
			return 0;
		}
		return choose_per_flow(app, p, p->n_rxq,
				       "--rx direct: the files are split per "
				       "connection");
	case KIND_AF_PACKET:
		if (kernel_hash_blocks_defrag(app, p))
			return want == RX_DIRECT ? refuse_direct(p, defrag_needs_spread) : 0;
		return choose_per_flow(app, p, p->n_rxq, "the kernel's fanout hash is symmetric");
	case KIND_TAP:
		if (kernel_hash_blocks_defrag(app, p))
			return want == RX_DIRECT ? refuse_direct(p, defrag_needs_spread) : 0;
		if (want == RX_DIRECT || (want == RX_AUTO && app->n_workers <= info->max_rx_queues))
			p->n_rxq = (uint16_t)app->n_workers;
		return choose_per_flow(app, p, p->n_rxq, "tun's queue selection is symmetric");
	case KIND_NIC:
		if (info->max_rx_queues < app->n_workers) {
			if (want == RX_DIRECT)
				return refuse_direct(p, "fewer RX queues than workers");
			p->rx_why = "fewer RX queues than workers";
			return 0;
		}
		if (want == RX_SPREAD) {
			p->rx_why = "--rx spread";
			return 0;
		}
		p->n_rxq = (uint16_t)app->n_workers;
		conf_rss(conf, info);
		p->direct = true;
		p->rx_why = "hardware RSS, symmetric key";
		return 0;
	case KIND_OTHER:
	default:
		if (want == RX_DIRECT)
			return refuse_direct(p, "its queues are not per connection");
		return 0;
	}
}

/*
 * With --defrag, the NIC's redirection table, entry i naming queue i %
 * workers, so that reasm computes which worker owns a connection exactly as
 * the NIC picks its queue (app_worker_of: APP_RETA_SIZE entries), to hand
 * reassembled datagrams over. False if the NIC's table has another size or
 * refuses the entries.
 */
static bool
reta_programmed(const struct app *app, const struct port_info *p)
{
	struct rte_eth_rss_reta_entry64 reta[APP_RETA_SIZE / RTE_ETH_RETA_GROUP_SIZE];
	struct rte_eth_dev_info info;
	unsigned int i;

	if (rte_eth_dev_info_get(p->port_id, &info) != 0 || info.reta_size != APP_RETA_SIZE)
		return false;
	memset(reta, 0, sizeof(reta));
	for (i = 0; i < APP_RETA_SIZE; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			(uint16_t)(i % app->n_workers);
	}
	return rte_eth_dev_rss_reta_update(p->port_id, reta, APP_RETA_SIZE) == 0;
}

/*
 * After configuration: a NIC given RSS must report our key, or both
 * directions of a connection may land on different workers. Returns 1 if
 * the port must be configured again as spread (auto), -1 to stop (direct).
 */
int
rx_mode_verify(const struct app *app, struct port_info *p, const struct rte_eth_conf *conf)
{
	uint8_t key[64];
	struct rte_eth_rss_conf got = {.rss_key = key, .rss_key_len = sizeof(key)};

	if (!p->direct || conf->rxmode.mq_mode != RTE_ETH_MQ_RX_RSS)
		return 0;
	if (rte_eth_dev_rss_hash_conf_get(p->port_id, &got) == 0 &&
	    got.rss_key_len >= PORTS_RSS_KEY_LEN &&
	    memcmp(key, ports_rss_key(), PORTS_RSS_KEY_LEN) == 0 &&
	    (!app->opt.defrag || app->n_workers == 1 || reta_programmed(app, p)))
		return 0;
	if (app->opt.rx_mode == RX_DIRECT)
		return refuse_direct(p, "the port does not take the symmetric RSS key (or, with "
					"--defrag, a 512-entry redirection table)");
	fprintf(stderr,
		"reasm: warning: port %u (%s) does not take the symmetric RSS key (or, with "
		"--defrag, a 512-entry redirection table): its frames are spread by the main "
		"lcore instead\n",
		p->port_id, p->name);
	p->direct = false;
	p->rx_why = "the port refused the symmetric RSS key or the redirection table";
	return 1;
}
