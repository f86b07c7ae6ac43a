/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Output sinks of the reasm appliance. Every stream direction the library
 * reports goes to every configured sink (--sink NAME[:ARG], repeatable):
 *   count        counters only (benchmarks);                   sink_count.c
 *   files:DIR    one file per stream direction, tcpflow-style;  sink_files.c
 *   jsonl:FILE   one JSON object per stream direction when it
 *                completes, with its accounting;                sink_jsonl.c
 * and, unless --quiet, the console: one line per completed stream
 * (sink_console.c). Whatever the sinks, per-worker totals are kept and every
 * completed stream's accounting is checked against what the sinks got
 * (sinks_worker_totals()). Each sink is a struct sink_ops (sink.h); this
 * file is the dispatch's interface to the rest of the appliance.
 *
 * Threads: sinks_stream_* are called from worker lcores, each stream always
 * from the same worker; nothing is shared between workers but the output
 * files, written with whole-line O_APPEND writes. sinks_create/finish run on
 * the main lcore before workers start and after they stop.
 */
#ifndef REASM_APP_SINKS_H
#define REASM_APP_SINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <reasm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most --sink options. */
#define SINKS_MAX 8

/** Sink configuration, from the command line. */
struct sinks_conf {
	/** --sink values in order ("count", "files:DIR", "jsonl:FILE"); not copied */
	const char *specs[SINKS_MAX];
	unsigned int n_specs;
	bool sha256; /**< --sha256: hash delivered bytes per stream */
	bool quiet;  /**< --quiet: no per-stream console line */
	/** --community-id-seed: the Community ID's seed (reasm_community_id()) */
	uint16_t community_id_seed;
	/** --sensor-id: names this reasm in every record (NULL: no "sensor" member); not copied */
	const char *sensor_id;
	unsigned int n_workers;
};

/**
 * Add the --sink value @p spec to @p conf after checking it names a sink and
 * has the argument that sink needs.
 * @return 0, or -1 after printing why to stderr (the caller exits with 2).
 */
int sinks_conf_add(struct sinks_conf *conf, const char *spec);

/**
 * The argument of the first --sink named @p name in @p conf: what follows
 * "NAME:", "" for a sink given without one, NULL if there is no such sink.
 */
const char *sinks_conf_arg(const struct sinks_conf *conf, const char *name);

/** What the pcap sink (pcap:DIR) did, per worker; all 0 without it. */
struct sink_pcap_counters {
	uint64_t pkts;             /**< frames written */
	uint64_t bytes;            /**< frame bytes written (without pcap headers) */
	uint64_t files_created;    /**< connection files created */
	uint64_t files_reopened;   /**< files that existed, opened for appending */
	uint64_t files_closed_lru; /**< files closed because max-open were open */
	uint64_t not_tcp;          /**< frames not written: not a TCP segment, or a fragment */
	uint64_t dropped;          /**< frames not written: the queue to the writer was full */
	uint64_t write_errors; /**< frames not written: their file failed (also in write_errors) */
};

/** What the redis sink (redis:HOST:PORT) did with the records of a worker; 0 without it. */
struct sink_redis_counters {
	uint64_t sent;       /**< records Redis answered XADD for */
	uint64_t dropped;    /**< records not queued: the worker's queue was full */
	uint64_t failed;     /**< records refused by Redis, or lost with a connection */
	uint64_t reconnects; /**< connections made again after one was lost (worker 0) */
};

/**
 * What the kafka sink (kafka:BROKERS) did with the records and chunks of a
 * worker; 0 without it. Every record is acked, failed or dropped once the
 * run is over, and so is every chunk.
 */
struct sink_kafka_counters {
	uint64_t acked;          /**< records the brokers acknowledged */
	uint64_t failed;         /**< records whose delivery failed (or were purged at exit) */
	uint64_t dropped;        /**< records not queued: the worker's queue was full */
	uint64_t chunks_acked;   /**< content chunks acknowledged (content=yes) */
	uint64_t chunks_failed;  /**< content chunks whose delivery failed */
	uint64_t chunks_dropped; /**< content chunks not queued: the queue was full */
	uint64_t content_bytes;  /**< bytes of the chunks acknowledged */
	uint64_t content_dropped_bytes; /**< bytes of the chunks not queued */
	/* librdkafka's own, from its statistics every second; on worker 0, 0 on the others: */
	uint64_t retries; /**< produce requests sent again (its brokers' txretries) */
	uint64_t
		request_errors; /**< requests failed in transit or timed out (txerrs + req_timeouts) */
	uint64_t waiting; /**< gauge: messages librdkafka holds, not yet acknowledged (msg_cnt) */
};

/** Totals of what the sinks saw, per worker (summed by the caller). */
struct sinks_totals {
	uint64_t streams;      /**< stream directions completed */
	uint64_t bytes;        /**< bytes delivered to sinks */
	uint64_t write_errors; /**< failed writes (files, jsonl) */
	/**
	 * Completed streams whose totals (struct reasm_stream_totals) disagree
	 * with what the sinks got: delivered bytes, skipped bytes (when counted),
	 * or received != delivered + overlap + discarded. Always 0 unless a bug.
	 */
	uint64_t unbalanced;
	uint64_t received;  /**< sum of the completed streams' received_bytes */
	uint64_t overlap;   /**< ... overlap_bytes */
	uint64_t discarded; /**< ... discarded_bytes */
	struct sink_pcap_counters pcap;
	struct sink_redis_counters redis;
	struct sink_kafka_counters kafka;
};

struct sinks;

/**
 * Open the sinks in --sink order: create/truncate a jsonl file, check a files
 * directory exists and is writable (created if missing).
 * @return the sinks, or NULL after printing why to stderr (bad path...).
 */
struct sinks *sinks_create(const struct sinks_conf *conf);

/** Bytes of per-stream state the sinks need (the pool's stream_priv_size). */
uint32_t sinks_stream_priv_size(const struct sinks *s);

/**
 * Stream callbacks. sinks_stream_open() is called from the worker's
 * reasm_stream_ops.open with the preallocated @p priv area (zeroed, of
 * sinks_stream_priv_size bytes, 8-byte aligned) and returns the stream
 * context; @p worker < n_workers; @p encap (NULL: none known) is the
 * opening frame's encapsulation (reasm_pool_open_encap()), written with the
 * stream's line. Every stream must be closed before sinks_finish() (files
 * held open are closed by sinks_stream_close()).
 */
void *sinks_stream_open(struct sinks *s, unsigned int worker, const struct reasm_flow *flow,
			void *priv, const struct reasm_encap *encap,
			const struct reasm_half_ref *conn);
void sinks_stream_data(void *stream, const struct reasm_record *records, unsigned int n);
/**
 * A conflicting overlap in a stream (reasm_stream_ops.conflict): kept as the
 * stream's first for its records, and in its worker's ring of recent ones
 * (sinks_recent_conflicts()).
 */
void sinks_stream_conflict(void *stream, const struct reasm_conflict *c);

/** A conflict as telemetry shows it: where, and the library's evidence. */
struct sinks_conflict_seen {
	uint64_t number;        /**< the worker's conflicts before it */
	struct reasm_flow flow; /**< the stream direction it was in */
	uint64_t conn_id;       /**< its connection's id (with a conn sink), else 0 */
	bool has_conn;
	struct reasm_conflict c;
};

/** @p n bytes in lower-case hex into @p hex (2 n + 1 bytes, NUL-terminated). */
void sink_hex(const uint8_t *bytes, size_t n, char *hex);

/** Which copy the stream has: "delivered", "arrived" or "buffered" (struct reasm_conflict). */
const char *sink_conflict_kept_name(const struct reasm_conflict *c);

/** Conflicts each worker remembers for telemetry, the most recent ones. */
#define SINKS_RECENT_CONFLICTS 16

/**
 * Copy worker @p worker's most recent conflicts, newest first, into @p out
 * (at most @p max). Any thread, while the worker runs: an entry being
 * written is read again, or left out.
 * @return how many were copied.
 */
unsigned int sinks_recent_conflicts(const struct sinks *s, unsigned int worker,
				    struct sinks_conflict_seen *out, unsigned int max);

/**
 * Close a stream: check the library's @p totals against what the sinks got
 * (struct sinks_totals.unbalanced), write its jsonl line and console line.
 */
void sinks_stream_close(void *stream, const struct reasm_stream_totals *totals);

/** Whether a sink wants connections (conn:FILE): then the pools pair directions. */
bool sinks_want_connections(const struct sinks *s);

/** Bytes of per-connection state the sinks need (the pool's conn_priv_size). */
uint32_t sinks_conn_priv_size(const struct sinks *s);

/**
 * Connection callbacks (reasm_connection_ops), when sinks_want_connections():
 * sinks_conn_open() from the worker's open with the pool's zeroed
 * per-connection @p priv (sinks_conn_priv_size bytes) and the connection's
 * first frame's @p encap (NULL: none known), returning the connection
 * context; sinks_conn_close() from complete, after the connection's streams
 * closed. A stream learns its connection at open: pass sinks_stream_open()
 * the struct reasm_half_ref from reasm_pool_open_connection() (else NULL).
 */
void *sinks_conn_open(struct sinks *s, unsigned int worker, void *priv,
		      const struct reasm_encap *encap);
void sinks_conn_close(void *conn, const struct reasm_connection *c);

struct rte_mbuf;

/** Whether a sink wants every frame (pcap:DIR): then call sinks_packets(). */
bool sinks_want_packets(const struct sinks *s);

/**
 * Give the frames a worker is about to assemble, with their times (ns), to
 * the sinks that want them. Worker @p worker's thread only; @p pkts are
 * borrowed for the call (not freed, not modified).
 */
void sinks_packets(struct sinks *s, unsigned int worker, struct rte_mbuf *const *pkts,
		   const uint64_t *ts, unsigned int n);

/** Add @p t to @p sum, field by field. */
void sinks_totals_add(struct sinks_totals *sum, const struct sinks_totals *t);

/** This worker's totals so far (read by telemetry: relaxed loads). */
void sinks_worker_totals(const struct sinks *s, unsigned int worker, struct sinks_totals *out);

/**
 * Close every output (call after all streams are closed).
 * @return 0, or -1 if an output failed: a write counted in write_errors or
 *   the final close (each printed to stderr with its path and strerror).
 *   Later calls return the same value.
 */
int sinks_finish(struct sinks *s);

/**
 * Reopen the outputs under their names (SIGHUP, after logrotate): the jsonl
 * file for appending, the files directory. @p quiesce (may be NULL) must
 * return only when no worker is inside a stream callback that started
 * before the call; then the old descriptors are closed.
 * @return 0, or -1 if an output could not be reopened (it keeps the old one;
 *   the reason is on stderr).
 */
int sinks_reopen(struct sinks *s, void (*quiesce)(void *ctx), void *ctx);

/** Free everything. NULL is a no-op. */
void sinks_free(struct sinks *s);

#ifdef __cplusplus
}
#endif

#endif
