/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The appliance's own command line (after EAL's "--").
 */
#ifndef REASM_APP_OPTIONS_H
#define REASM_APP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <reasm.h>

#include "sinks.h"

/** --rx: who polls a port's queues (rx_mode.c). */
enum rx_mode {
	RX_AUTO = 0, /**< direct where known correct, else spread */
	RX_DIRECT,   /**< workers poll their own queues; refuse ports where it would be wrong */
	RX_SPREAD,   /**< the main lcore polls and spreads in software */
};

/** The name of @p mode ("auto", "direct", "spread"). */
const char *rx_mode_name(enum rx_mode mode);

/** Longest --sensor-id. */
#define SENSOR_ID_MAX 64

struct app_options {
	struct sinks_conf sinks;
	char sensor_id[SENSOR_ID_MAX + 1]; /**< --sensor-id, or the host name */
	uint64_t timeout_ms; /**< --timeout: flush streams idle this long; 0 = only at the end */
	uint64_t flush_interval_ms; /**< --flush-interval: how often the timeout is checked */
	uint32_t pages_total;       /**< --pages-total, per worker; 0 = bounded by --pages */
	uint32_t pages_per_conn;    /**< --pages-per-conn; 0 = unlimited */
	uint32_t max_conns;         /**< --max-conns, stream directions per worker */
	uint32_t max_connections;   /**< --max-connections (0: --max-conns), with a conn sink */
	uint32_t pages;             /**< --pages, page mempool size per worker */
	uint32_t mbufs;             /**< --mbufs, packet mempool size */
	uint32_t mbuf_size;         /**< --mbuf-size, frame bytes one mbuf holds (data room) */
	uint32_t burst;             /**< --burst, packets per rx burst */
	enum rx_mode rx_mode;       /**< --rx */
	bool defrag;                /**< --defrag: IP defragmentation on */
	struct reasm_defrag_conf
		defrag_conf;    /**< --defrag-* (the steering callbacks set per worker) */
	uint32_t idle_sleep_us; /**< --idle-sleep: sleep when idle (0 = busy-poll) */
	uint32_t ring_size;     /**< --ring-size, distributor -> worker rings */
	uint32_t zones;         /**< --zones: VLAN and tunnel ids in the key, per worker; 0 off */
	bool runtime_stats;     /**< --runtime-stats: time the stages from the start */
	enum reasm_overlap_policy overlap_policy; /**< --overlap-policy */
	uint32_t retain_bytes; /**< --retain-bytes: delivered bytes kept per direction; 0 off */
};

/**
 * Parse the application arguments into @p opt (defaults first).
 * @return 0, 1 if --help was given (usage printed), or -1 after printing
 *   a message to stderr: the caller exits with status 2.
 */
int options_parse(int argc, char **argv, struct app_options *opt);

/** The name of @p p in --overlap-policy ("first", "last"). */
const char *overlap_policy_name(enum reasm_overlap_policy p);

/** Print the configuration (one "name: value" line each) to stdout. */
void options_print(const struct app_options *opt, unsigned int n_workers);

#endif
