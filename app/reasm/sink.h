/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The interface between the sinks' dispatch (sinks.c) and each sink
 * (sink_files.c, sink_jsonl.c, sink_console.c, sink_count.c): a table of
 * operations per sink, as DPDK's test-pmd has a struct fwd_engine per
 * forwarding mode. Adding a sink is one file ending in its struct sink_ops
 * and one line in sinks.c's table.
 *
 * Not part of the appliance's interface: the rest of the appliance uses
 * sinks.h only.
 */
#ifndef REASM_APP_SINK_H
#define REASM_APP_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <nettle/sha2.h>

#include <reasm.h>

#include "sinks.h"

/** Hex digits of a SHA-256 digest, without the terminating NUL. */
#define SINK_SHA256_HEX_LEN (2 * SHA256_DIGEST_SIZE)

/** Most sinks of one kind the per-worker error flags distinguish. */
#define SINK_MAX SINKS_MAX

struct rte_mbuf;

/** What the sinks gathered of one side of a connection: its streams' sums. */
struct sink_conn_half {
	uint64_t bytes;
	uint64_t records;
	uint64_t skips;
	uint64_t skip_unknown;
	uint64_t skipped[REASM_SKIP_CAUSE_MAX];
	bool conflicted; /**< conflict holds its first stream's first one */
	struct reasm_conflict conflict;
};

/**
 * What the sinks keep of a connection (with a sink that wants connections,
 * struct sink_ops.conn_close), in the pool's per-connection area: the sums
 * of its stream directions, added as each one closes.
 */
struct sink_conn {
	struct sinks *s;
	uint32_t worker;
	struct reasm_encap encap;      /**< its first frame's (layers 0: none) */
	struct sink_conn_half half[2]; /**< by struct reasm_connection.half index */
};

/**
 * What every sink sees of a stream direction, kept by sinks.c in the pool's
 * per-stream area (so the data path allocates nothing). Each sink's own
 * per-stream state (struct sink_ops.stream_priv_size bytes) follows it.
 * With only the count sink and --quiet, only s, worker and bytes are kept.
 */
struct sink_stream {
	struct sinks *s;
	struct reasm_flow flow;
	uint64_t bytes;
	uint64_t records;
	uint64_t skips;        /**< records with skip > 0 */
	uint64_t skip_unknown; /**< records with skip == -1 */
	/** bytes of positive skips by cause; [REASM_SKIP_NONE] collects skips with no valid cause */
	uint64_t skipped[REASM_SKIP_CAUSE_MAX];
	uint64_t first_seen;
	uint64_t last_seen;
	uint32_t worker;
	bool start;
	bool end;
	struct sha256_ctx *sha;   /**< in the per-stream area with --sha256, else NULL */
	struct reasm_encap encap; /**< the opening frame's encapsulation (layers 0: none) */
	struct sink_conn *conn;   /**< its connection (with conn_close sinks), else NULL */
	uint64_t conn_id;         /**< struct reasm_connection.id, with conn */
	uint8_t half;             /**< its side: an index in struct reasm_connection.half */
	bool conflicted;          /**< *conflict holds its first conflicting overlap */
	/** In the per-stream area when per-stream detail is kept, else NULL. */
	struct reasm_conflict *conflict;
};

/**
 * Append @p c as ,"conflict":{seq, offset (null when not known), len,
 * differing, kept ("arrived", "buffered" or "delivered": which copy the
 * stream has), kept_sha256, other_sha256 (hex), seen}.
 */
struct sink_line;
void sink_line_conflict(struct sink_line *l, const struct reasm_conflict *c);

/**
 * Append the stream's encapsulation to @p l when it has one: the layers' names
 * joined by @p join, then the VLAN id and the tunnel id, in @p style
 * (SINK_ENCAP_JSON: ,"encap":[...],"vlan":N,"tunnel_id":N;
 * SINK_ENCAP_TEXT:  encap=a,b vlan=N tunnel_id=N).
 */
enum sink_encap_style { SINK_ENCAP_JSON, SINK_ENCAP_TEXT };
struct sink_line;
void sink_line_encap(struct sink_line *l, const struct reasm_encap *e, enum sink_encap_style style);

/** What a completed stream leaves for the sinks' close operation. */
struct sink_close_info {
	const struct reasm_stream_totals *totals; /**< the library's accounting */
	const char *sha_hex; /**< SHA-256 of the delivered bytes (--sha256), else NULL */
	uint64_t skipped;    /**< bytes of the stream's positive skips, all causes */
};

struct sink;

/** Room for sink_json_record()'s object: the longest is under 1,100 bytes. */
#define SINK_JSON_RECORD_MAX 1536

/**
 * One kind of sink. Every operation but name and open may be NULL. Stream
 * operations run on worker lcores (each stream always on the same one);
 * open, finish and free on the main lcore, before the workers start or after
 * they stop.
 */
struct sink_ops {
	/** The name in --sink NAME[:ARG]: "files", "jsonl", "console", "count". */
	const char *name;
	/** The sink needs an argument (files:DIR) or takes none (count). */
	enum { SINK_ARG_NONE, SINK_ARG_REQUIRED } arg;
	/** It reads struct sink_stream beyond bytes (records, skips, flow, times). */
	bool per_stream_detail;
	/** Bytes of its own per-stream state, after struct sink_stream (8-byte aligned). */
	uint32_t stream_priv_size;
	/**
	 * Open the output (create a file, check a directory) and set k->state.
	 * @return 0, or -1 after printing to stderr what is wrong, with the path.
	 */
	int (*open)(struct sink *k);
	/**
	 * Frames a worker is about to assemble (NULL for stream sinks), with
	 * their times in ns; on the worker's thread, before the library sees
	 * them; @p pkts and their data are borrowed for the call.
	 */
	void (*packets)(struct sink *k, unsigned int worker, struct rte_mbuf *const *pkts,
			const uint64_t *ts, unsigned int n);
	/** A stream opened; @p priv is its zeroed per-stream state. */
	void (*stream_open)(struct sink *k, struct sink_stream *st, void *priv);
	/** Records in stream order (borrowed for the call). */
	void (*data)(struct sink *k, struct sink_stream *st, void *priv,
		     const struct reasm_record *records, unsigned int n);
	/** The stream completed: write what describes it. */
	void (*stream_close)(struct sink *k, struct sink_stream *st, void *priv,
			     const struct sink_close_info *info);
	/**
	 * A connection completed (after its streams' stream_close): write what
	 * describes it. Setting it makes the workers pair directions into
	 * connections (reasm_pool_conf.max_connections).
	 */
	void (*conn_close)(struct sink *k, const struct sink_conn *conn,
			   const struct reasm_connection *c);
	/**
	 * Reopen the output under its name (SIGHUP, after logrotate renamed it),
	 * appending: swap in the new descriptor and put the old one in *@p old,
	 * which the dispatch closes once no worker can be using it.
	 * @return 0, or -1 after printing why (the old output is kept).
	 */
	int (*reopen)(struct sink *k, int *old);
	/**
	 * Every stream is closed: flush and close the output.
	 * @return 0, or -1 after printing to stderr what failed.
	 */
	int (*finish)(struct sink *k);
	/** Free k->state (after finish, or after a failed open). */
	void (*free)(struct sink *k);
};

/** One configured sink: its operations, argument and state. */
struct sink {
	const struct sink_ops *ops;
	struct sinks *sinks;
	unsigned int index; /**< in the --sink order */
	char *arg;          /**< what follows "NAME:", or NULL */
	uint32_t priv_off;  /**< offset of its per-stream state in the per-stream area */
	void *state;        /**< the sink's own */
};

extern const struct sink_ops sink_files_ops;
extern const struct sink_ops sink_jsonl_ops;
extern const struct sink_ops sink_console_ops;
extern const struct sink_ops sink_count_ops;
extern const struct sink_ops sink_pcap_ops;
extern const struct sink_ops sink_redis_ops;
extern const struct sink_ops sink_kafka_ops;
extern const struct sink_ops sink_conn_ops;

/** The kafka sink's counters of a worker (sink_kafka.c), added to @p out. */
void sink_kafka_counters(const struct sink *k, unsigned int worker,
			 struct sink_kafka_counters *out);

/** The redis sink's counters of a worker (sink_redis.c), added to @p out. */
void sink_redis_counters(const struct sink *k, unsigned int worker,
			 struct sink_redis_counters *out);

/**
 * A bounded hand-off from one worker to a sink's own thread (sink_queue.c):
 * one producer, one consumer, variable-size records in a buffer allocated at
 * start-up. The worker never waits: sink_queue_reserve() refuses what does
 * not fit, for the sink to count.
 */
struct sink_queue {
	uint8_t *buf;
	uint64_t size;
	uint64_t next_head; /**< the producer's: where the reserved record ends */
	uint64_t head __attribute__((aligned(64))); /**< written by the producer */
	uint64_t tail __attribute__((aligned(64))); /**< written by the consumer */
} __attribute__((aligned(64)));

/** Allocate @p q's buffer of @p size bytes (rounded up to 8). 0, or -1 (out of memory). */
int sink_queue_init(struct sink_queue *q, uint64_t size);
void sink_queue_free(struct sink_queue *q);
/** Producer: room for a record of @p len bytes, or NULL if it does not fit now. */
void *sink_queue_reserve(struct sink_queue *q, uint32_t len);
/** Producer: bytes free in the queue now (at least; the consumer may free more). */
uint64_t sink_queue_room(const struct sink_queue *q);
/** Producer: publish the record last reserved. */
void sink_queue_commit(struct sink_queue *q);
/** Consumer: the oldest record and its length, or NULL if the queue is empty. */
const void *sink_queue_peek(struct sink_queue *q, uint32_t *len);
/** Consumer: done with the record sink_queue_peek() gave. */
void sink_queue_pop(struct sink_queue *q);

/**
 * The thread of a sink's own that its queues feed (the pcap sink's writer,
 * the redis and kafka senders), started by the sink's open and stopped by
 * its finish or free (sink_queue.c).
 */
struct sink_thread {
	pthread_t tid;
	bool started;
	bool stop; /**< set by sink_thread_stop(): hand over what is queued, then return */
};

/**
 * Start @p t running @p main(@p arg).
 * @return 0, or -1 after printing "reasm: SINK sink: cannot start its thread: why".
 */
int sink_thread_start(struct sink_thread *t, const char *sink, void *(*main)(void *), void *arg);
/** In the thread: whether sink_thread_stop() was called (an acquire load). */
bool sink_thread_stopping(struct sink_thread *t);
/** Ask the thread to finish and join it; a no-op when it is not running. */
void sink_thread_stop(struct sink_thread *t);

/** A whole decimal number without sign: true with *@p v set, else false. */
bool sink_parse_number(const char *s, unsigned long long *v);

/** The pcap sink's counters of a worker (sink_pcap.c), added to @p out. */
void sink_pcap_counters(const struct sink *k, unsigned int worker, struct sink_pcap_counters *out);

/* ---- helpers for sinks (sinks.c) ----------------------------------- */

/** Workers the sinks serve (struct sinks_conf.n_workers). */
unsigned int sink_n_workers(const struct sink *k);

/**
 * The Community ID of @p st's connection (--community-id-seed), into @p id.
 * @return its length, or a negative errno from reasm_community_id().
 */
/** Append one end of a files/pcap sink file name: "SSS.SSS.SSS.SSS.PPPPP" or 8 hex groups + port. */
void sink_line_endpoint(struct sink_line *l, uint8_t family, const uint8_t *addr, uint16_t port);

/** --sensor-id, or NULL. */
const char *sink_sensor_id(const struct sink *k);

/**
 * The JSON object of a completed stream direction (the jsonl sink's line,
 * without its newline; the redis sink's record) appended to @p l.
 */
void sink_json_record(struct sink_line *l, const struct sink *k, const struct sink_stream *st,
		      const struct sink_close_info *info);

int sink_community_id(const struct sink *k, const struct sink_stream *st,
		      char id[REASM_COMMUNITY_ID_SIZE]);

/** The Community ID of a connection's 4-tuple @p flow (either direction). */
int sink_flow_community_id(const struct sink *k, const struct reasm_flow *flow,
			   char id[REASM_COMMUNITY_ID_SIZE]);

/** Append a connection id as the records write it: "WORKER.ID". */
void sink_line_conn_id(struct sink_line *l, uint32_t worker, uint64_t id);

/**
 * Count a failed write of worker @p worker in its write_errors, and print the
 * first one of each sink and worker to stderr: "reasm: NAME sink: PATH[/FILE]:
 * strerror(err)". @p file may be NULL.
 */
void sink_write_error(struct sink *k, unsigned int worker, const char *path, const char *file,
		      int err);

/** Write all of @p len bytes with one write(2) call as far as possible; -errno on failure. */
int sink_write_all(int fd, const void *buf, size_t len);

/** A bounded string builder: sink_line_append() stops at the end, overflow tells. */
struct sink_line {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

/** printf into @p l after what it holds. */
void sink_line_append(struct sink_line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A file of JSON lines (the jsonl and conn sinks): k->arg truncated at open,
 * reopened for appending (SIGHUP), each line one write(2) on an O_APPEND
 * descriptor so lines of different workers never interleave. Usable as the
 * sink's open, reopen, finish and free operations.
 */
int sink_line_file_open(struct sink *k);
int sink_line_file_reopen(struct sink *k, int *old);
int sink_line_file_finish(struct sink *k);
void sink_line_file_free(struct sink *k);
/** Write @p l (a newline added) to the file of @p k; a failure goes to sink_write_error(). */
void sink_line_file_write(struct sink *k, unsigned int worker, struct sink_line *l);

/** Owner-thread increment of a counter other threads read (relaxed store). */
static inline void
sink_counter_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

#endif
