/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 */

#ifndef REASM_H
#define REASM_H

/**
 * @file
 * reasm: TCP stream reassembly for DPDK with gopacket tcpassembly semantics.
 *
 * The library reassembles each direction of each TCP connection separately
 * (uni-directional, like gopacket's tcpassembly) and hands the bytes, in
 * stream order, to user callbacks. The observable behaviour -- which bytes
 * are delivered, in which records, with which skip/start/end values, and
 * when a stream completes -- is that of gopacket tcpassembly; the places
 * where reasm goes beyond it are listed in docs/gopacket-differences.md.
 *
 * Objects:
 * - a connection pool (struct reasm_pool): the connection table
 *   (rte_hash, keyed by struct reasm_flow), a preallocated connection array,
 *   and the user's stream callbacks (the seed's StreamPool + StreamFactory);
 * - an assembler (struct reasm_assembler): takes segments or mbuf bursts,
 *   buffers out-of-order payload in pages from an rte_mempool, and calls the
 *   stream callbacks (the seed's Assembler);
 * - a reader (struct reasm_reader): a bounded byte buffer fed by a stream and
 *   read from another thread (the seed's tcpreader.ReaderStream).
 *
 * Errors: constructors return NULL and set rte_errno; other functions
 * return a negative errno value. Nothing here calls exit or panics.
 *
 * Data lifetime: a struct reasm_record's bytes are borrowed. They point
 * into the caller's buffer or mbuf (in-order data, zero copy) or into a
 * page of the assembler (out-of-order data), and are valid only until the
 * reassembled callback returns. Mbufs passed to reasm_assemble_burst()
 * stay owned by the caller, who frees them after the call returns.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mbuf;
struct rte_mempool;

/* ------------------------------------------------------------------ */
/* Sequence arithmetic                                                  */
/* ------------------------------------------------------------------ */

/** Size of the TCP sequence space. */
#define REASM_SEQ_SPACE (UINT64_C(1) << 32)

/**
 * Wrap-safe distance from sequence @p s to sequence @p t (gopacket's
 * Sequence.Difference, exactly).
 *
 * A sequence in the first quarter of the 32-bit space is taken to come
 * after any sequence in the last quarter; otherwise the result is the plain
 * difference t - s of the two values.
 *
 * @return > 0 if t comes after s, < 0 if t comes before s, 0 if equal;
 *   the magnitude is the number of sequence numbers between them, e.g.
 *   reasm_seq_diff(4, 8) == 4 and reasm_seq_diff(2^32 - 10, 10) == 20.
 */
static inline int64_t
reasm_seq_diff(uint32_t s, uint32_t t)
{
	int64_t a = s, b = t;
	const int64_t space = (int64_t)REASM_SEQ_SPACE;

	if (a > space - space / 4 && b < space / 4)
		b += space;
	else if (b > space - space / 4 && a < space / 4)
		a += space;
	return b - a;
}

/** @return sequence @p s advanced by @p n (which may be negative), mod 2^32. */
static inline uint32_t
reasm_seq_add(uint32_t s, int64_t n)
{
	return (uint32_t)((int64_t)s + n);
}

/* ------------------------------------------------------------------ */
/* Flow keys, segments and records                                      */
/* ------------------------------------------------------------------ */

/** Address family of a struct reasm_flow. */
enum reasm_family {
	REASM_FAMILY_IPV4 = 4,
	REASM_FAMILY_IPV6 = 6,
};

/**
 * One direction of a TCP connection: the seed's (netFlow, transportFlow).
 *
 * Used as the rte_hash key, so every byte counts: build it with
 * reasm_flow_ipv4() or reasm_flow_ipv6(), which zero the padding and
 * the unused address bytes. Ports are in host byte order; addresses in
 * network byte order (as on the wire). VLAN tags are not part of the key,
 * as in gopacket.
 */
struct reasm_flow {
	uint8_t family;         /**< enum reasm_family */
	uint8_t reserved[3];    /**< always zero */
	uint16_t src_port;      /**< host byte order */
	uint16_t dst_port;      /**< host byte order */
	uint8_t src_addr[16];   /**< IPv4 uses the first 4 bytes */
	uint8_t dst_addr[16];   /**< IPv4 uses the first 4 bytes */
};

/** Fill @p flow for an IPv4 direction; addresses are 4 bytes, network order. */
void reasm_flow_ipv4(struct reasm_flow *flow, const void *src_addr, const void *dst_addr,
		     uint16_t src_port, uint16_t dst_port);

/** Fill @p flow for an IPv6 direction; addresses are 16 bytes, network order. */
void reasm_flow_ipv6(struct reasm_flow *flow, const void *src_addr, const void *dst_addr,
		     uint16_t src_port, uint16_t dst_port);

/**
 * Write "src:port -> dst:port" (IPv6 in brackets) into @p buf.
 * @return the length snprintf would have written.
 */
int reasm_flow_format(const struct reasm_flow *flow, char *buf, size_t size);

/** TCP flags the assembler looks at. */
#define REASM_TCP_FIN 0x01
#define REASM_TCP_SYN 0x02
#define REASM_TCP_RST 0x04

/** One TCP segment for reasm_assemble() (the seed's layers.TCP subset). */
struct reasm_segment {
	uint32_t seq;           /**< sequence number, host byte order */
	uint8_t flags;          /**< REASM_TCP_* bits */
	const uint8_t *payload; /**< borrowed for the duration of the call */
	uint32_t len;           /**< payload length in bytes */
};

/** Why bytes were skipped; carried in struct reasm_record. */
enum reasm_skip_cause {
	REASM_SKIP_NONE = 0,        /**< skip == 0 */
	REASM_SKIP_START_UNKNOWN,   /**< first data of a stream whose SYN was not seen (skip -1) */
	REASM_SKIP_PAGE_LIMIT,      /**< max_pages_per_conn reached */
	REASM_SKIP_TOTAL_LIMIT,     /**< max_pages_total reached */
	REASM_SKIP_NO_PAGE,         /**< the page mempool was empty */
	REASM_SKIP_FLUSH,           /**< reasm_flush_older_than() gave up waiting */
	REASM_SKIP_FLUSH_ALL,       /**< reasm_flush_all() gave up waiting */
	REASM_SKIP_CAUSE_MAX,
};

/** @return a short stable name for @p cause ("page_limit", ...). */
const char *reasm_skip_cause_name(enum reasm_skip_cause cause);

/**
 * One piece of reassembled stream (the seed's Reassembly).
 *
 * @c bytes is borrowed: valid only until the reassembled callback returns;
 * copy what you need to keep. Records of one call are in stream order and
 * follow those of earlier calls.
 */
struct reasm_record {
	const uint8_t *bytes;   /**< next bytes of the stream; may be empty */
	uint32_t len;           /**< number of bytes at @c bytes */
	/**
	 * 0 if these bytes follow the previous record's directly; -1 if this
	 * is the first data of a stream whose start was not seen; otherwise
	 * the number of bytes skipped before these.
	 */
	int64_t skip;
	uint8_t skip_cause;     /**< enum reasm_skip_cause; NONE when skip == 0 */
	bool start;             /**< these bytes came with a SYN */
	bool end;               /**< these bytes came with a FIN or RST */
	uint64_t seen;          /**< timestamp (ns) of the packet that carried them */
};

/* ------------------------------------------------------------------ */
/* Streams and the connection pool                                      */
/* ------------------------------------------------------------------ */

/**
 * What one stream direction received and what became of it (per-connection
 * accounting). Every payload byte the direction received is, at any moment,
 * in exactly one place:
 *
 *   received_bytes = delivered_bytes + overlap_bytes + buffered_bytes
 *                    + discarded_bytes
 *
 * skipped_bytes is sequence space jumped over (holes): those bytes were never
 * received, so they are not on either side. Given to complete() (where
 * buffered_bytes is 0) and by reasm_pool_stream_totals() for an open stream.
 */
struct reasm_stream_totals {
	uint64_t received_bytes;  /**< payload bytes of every segment given to it */
	uint64_t delivered_bytes; /**< bytes in the records handed to reassembled() */
	uint64_t overlap_bytes;   /**< received bytes trimmed: their sequence was already delivered */
	uint64_t buffered_bytes;  /**< out-of-order bytes held in pages now */
	/**
	 * Buffered bytes freed undelivered: pages still held past a FIN/RST when
	 * the stream completed, or pages of an assembler freed while the
	 * (shared) pool kept the stream open.
	 */
	uint64_t discarded_bytes;
	uint64_t skipped_bytes;   /**< sum of the positive skips of its records */
};

/**
 * User callbacks (the seed's StreamFactory and Stream).
 *
 * For every stream, in order: one open(), zero or more reassembled(),
 * exactly one complete(), after which the stream is forgotten. All
 * callbacks of one stream run serially (in shared pool mode under the
 * connection's lock), on the thread that called the assembler. Callbacks
 * must not call back into the assembler or pool that invoked them.
 */
struct reasm_stream_ops {
	/**
	 * A new stream direction was seen (the seed's StreamFactory.New).
	 * @param factory_ctx  reasm_pool_conf.factory_ctx
	 * @param flow         the direction's key; valid during the call only
	 * @param priv         a zeroed per-stream area of stream_priv_size
	 *                     bytes (NULL if 0), valid until complete() returns
	 * @return the stream context given to the two other callbacks
	 *   (any value, NULL included).
	 */
	void *(*open)(void *factory_ctx, const struct reasm_flow *flow, void *priv);
	/**
	 * Data in stream order (the seed's Stream.Reassembled). One assembler
	 * call delivers its records in one call, or in several consecutive calls
	 * of at most REASM_MAX_RECORDS_PER_CALL records each.
	 */
	void (*reassembled)(void *stream, const struct reasm_record *records, unsigned int n);
	/**
	 * No more data will come (FIN/RST seen, flushed, or table torn down).
	 * @param totals  the stream's accounting (buffered_bytes is 0): its
	 *   delivered_bytes equals the sum of the lengths of every record given
	 *   to reassembled(). Valid during the call only.
	 */
	void (*complete)(void *stream, const struct reasm_stream_totals *totals);
};

/** Most records passed to one reassembled() call. */
#define REASM_MAX_RECORDS_PER_CALL 64

/** How a pool is shared. */
enum reasm_pool_mode {
	/** One assembler, one thread: no locks at all (the fast default). */
	REASM_POOL_SINGLE_WRITER = 0,
	/**
	 * Several assemblers on several threads (the seed's concurrency-safe
	 * StreamPool): a reader-writer lock on the table, a lock per
	 * connection, a lock on the idle list.
	 */
	REASM_POOL_SHARED,
};

/** Parameters of reasm_pool_create(). */
struct reasm_pool_conf {
	const char *name;          /**< unique among rte_hash tables; required */
	int socket_id;             /**< NUMA socket, or SOCKET_ID_ANY */
	uint32_t max_conns;        /**< hard cap on stream directions (>= 8) */
	enum reasm_pool_mode mode;
	const struct reasm_stream_ops *ops; /**< required, with all three callbacks */
	void *factory_ctx;         /**< passed to ops->open */
	uint32_t stream_priv_size; /**< bytes of per-stream user area (may be 0) */
};

struct reasm_pool;

/**
 * Create a connection pool. Everything it needs is allocated here:
 * the rte_hash table, the connection array and the per-stream areas.
 *
 * Table-full policy: when @c max_conns directions are open, a segment that
 * would open another one is dropped and counted (table_full_pkts,
 * table_full_bytes); open connections are not evicted.
 *
 * @return the pool, or NULL with rte_errno set: EINVAL (bad parameter),
 *   EEXIST (name in use), ENOMEM.
 */
struct reasm_pool *reasm_pool_create(const struct reasm_pool_conf *conf);

/**
 * Free the pool. Connections still open are dropped without callbacks:
 * call reasm_flush_all() on its assemblers first. Assemblers using the
 * pool must be freed first. NULL is a no-op.
 */
void reasm_pool_free(struct reasm_pool *pool);

/** @return the number of open stream directions. Safe from any thread. */
uint32_t reasm_pool_count(const struct reasm_pool *pool);

/**
 * The accounting of the open stream direction @p flow (see struct
 * reasm_stream_totals). Reads state the assembler writes: call it on the
 * thread of the pool's assembler (single-writer mode), or from any thread in
 * shared mode (the connection is locked while read). O(pages it holds).
 * @return 0 with @p out filled, -ENOENT if no such direction is open,
 *   -EINVAL if an argument is NULL.
 */
int reasm_pool_stream_totals(struct reasm_pool *pool, const struct reasm_flow *flow,
			     struct reasm_stream_totals *out);

/* ------------------------------------------------------------------ */
/* Counters                                                              */
/* ------------------------------------------------------------------ */

/**
 * Every counter of an assembler, as X(name, description). One line adds a
 * counter, its name and its telemetry key.
 */
#define REASM_COUNTERS(X) \
	X(pkts, "mbufs given to reasm_assemble_burst") \
	X(pkts_tcp, "packets that parsed as TCP and reached the assembler") \
	X(drop_not_ip, "frames whose ethertype is not IPv4, IPv6 or VLAN") \
	X(drop_l2_truncated, "frames shorter than their Ethernet/VLAN header") \
	X(drop_ipv4_truncated, "IPv4 header cut by the end of the frame") \
	X(drop_ipv4_bad_header, "IPv4 IHL < 5, total length < 20 or < IHL*4, or malformed options") \
	X(drop_ipv4_fragment, "IPv4 fragments (not reassembled, as in gopacket)") \
	X(drop_ipv6_truncated, "IPv6 header cut by the end of the frame") \
	X(drop_ipv6_bad_header, "IPv6 length 0 without a jumbo option, malformed hop-by-hop/destination options, routing type other than 0") \
	X(drop_ipv6_ext_truncated, "extension header (IPv6, or after IPv4) runs off the frame, or AH under 12 bytes") \
	X(drop_ipv6_fragment, "IPv6 fragments (not reassembled, as in gopacket)") \
	X(drop_not_tcp, "IP packets whose transport is not TCP") \
	X(drop_tcp_truncated, "TCP header shorter than 20 bytes") \
	X(tcp_bad_offset, "TCP data offset < 5 or past the packet: flags kept, payload ignored (as gopacket)") \
	X(frame_cut, "chained frames whose segments hold less than pkt_len, or over 256 KiB: parsed cut") \
	X(ip_len_past_frame, "IP length claims more than the frame holds (payload cut, still assembled)") \
	X(segs, "segments given to the assembler") \
	X(segs_ignored_empty, "segments without payload, SYN, FIN or RST (ignored)") \
	X(segs_no_conn, "FIN/RST without payload for an unknown stream (ignored)") \
	X(table_full_pkts, "segments dropped because the connection table was full") \
	X(table_full_bytes, "payload bytes of those segments") \
	X(conns_opened, "stream directions opened") \
	X(conns_closed_fin, "streams completed by FIN or RST") \
	X(conns_closed_flush, "streams completed by a flush") \
	X(payload_bytes, "TCP payload bytes received") \
	X(delivered_bytes, "bytes handed to reassembled callbacks") \
	X(delivered_records, "records handed to reassembled callbacks") \
	X(overlap_bytes, "received bytes trimmed because already delivered") \
	X(discarded_on_close_bytes, "buffered bytes freed when a stream completed before them") \
	X(skips_start_unknown, "records with skip -1 (stream start not seen)") \
	X(skipped_bytes_page_limit, "bytes skipped because max_pages_per_conn was reached") \
	X(skipped_bytes_total_limit, "bytes skipped because max_pages_total was reached") \
	X(skipped_bytes_no_page, "bytes skipped because the page mempool was empty") \
	X(skipped_bytes_flush, "bytes skipped by reasm_flush_older_than") \
	X(skipped_bytes_flush_all, "bytes skipped by reasm_flush_all") \
	X(pages_alloc_failed, "page requests the mempool could not serve") \
	X(pages_in_use, "pages holding out-of-order data now (gauge)") \
	X(buffered_bytes, "out-of-order bytes held in pages now (gauge)")

/** Index of each counter in struct reasm_stats.v. */
enum reasm_counter {
#define REASM_COUNTER_ENUM(name, desc) REASM_CTR_##name,
	REASM_COUNTERS(REASM_COUNTER_ENUM)
#undef REASM_COUNTER_ENUM
	REASM_CTR_MAX
};

/** A snapshot of an assembler's counters. */
struct reasm_stats {
	uint64_t v[REASM_CTR_MAX]; /**< indexed by enum reasm_counter */
};

/** @return the counter's name ("pkts", ...) or NULL if out of range. */
const char *reasm_counter_name(unsigned int counter);

/** @return the counter's one-line description, or NULL if out of range. */
const char *reasm_counter_desc(unsigned int counter);

/* ------------------------------------------------------------------ */
/* Pages                                                                 */
/* ------------------------------------------------------------------ */

/** Out-of-order bytes held by one page, as in gopacket. */
#define REASM_PAGE_BYTES 1900

/** @return the mempool element size a page needs. */
size_t reasm_page_size(void);

/**
 * Create a mempool of @p n_pages pages for one or more assemblers
 * (rte_mempool_create with a per-lcore cache of @p cache_size).
 * @return the mempool, or NULL with rte_errno set (see rte_mempool_create).
 */
struct rte_mempool *reasm_page_pool_create(const char *name, unsigned int n_pages,
					   unsigned int cache_size, int socket_id);

/* ------------------------------------------------------------------ */
/* The assembler                                                        */
/* ------------------------------------------------------------------ */

/** Parameters of reasm_assembler_create() (the seed's AssemblerOptions and more). */
struct reasm_assembler_conf {
	struct reasm_pool *pool;        /**< required; shared mode if several assemblers use it */
	struct rte_mempool *page_pool;  /**< required; from reasm_page_pool_create() */
	/**
	 * Upper limit on pages this assembler holds (the seed's
	 * MaxBufferedPagesTotal). Once reached, every connection that gets an
	 * out-of-order segment skips ahead by one page. 0 = unlimited (bounded
	 * by the mempool).
	 */
	uint32_t max_pages_total;
	/**
	 * Upper limit on pages one stream direction holds (the seed's
	 * MaxBufferedPagesPerConnection). When reached, the stream skips
	 * ahead to its lowest buffered page plus whatever is contiguous with it.
	 * 0 = unlimited.
	 */
	uint32_t max_pages_per_conn;
	int socket_id;                  /**< NUMA socket for the assembler itself */
};

struct reasm_assembler;

/**
 * Create an assembler. If the pool is shared (REASM_POOL_SHARED), any
 * number of assemblers may use it from different threads; otherwise at most
 * one assembler may use it.
 *
 * @return the assembler, or NULL with rte_errno set: EINVAL (NULL pool or
 *   page_pool, page_pool elements too small, or a second assembler on a
 *   single-writer pool), ENOMEM.
 */
struct reasm_assembler *reasm_assembler_create(const struct reasm_assembler_conf *conf);

/**
 * Free an assembler. Call reasm_flush_all() first to deliver what it holds;
 * pages still buffered by connections of its pool are returned to their
 * mempool without callbacks. NULL is a no-op.
 */
void reasm_assembler_free(struct reasm_assembler *a);

/**
 * Assemble one TCP segment of direction @p flow seen at @p ts_ns (the seed's
 * AssembleWithTimestamp). Runs, in order: zero or one open(), zero or more
 * reassembled() (records of this call), zero or one complete().
 *
 * The payload is borrowed for the call: in-order bytes are passed to the
 * callback without copying; out-of-order bytes are copied into pages.
 *
 * Not thread safe for one assembler; several assemblers sharing a
 * REASM_POOL_SHARED pool may run concurrently.
 *
 * @return 0, or -ENOSPC if the segment would open a stream while the
 *   table is full (counted, segment dropped), -EINVAL on NULL arguments.
 */
int reasm_assemble(struct reasm_assembler *a, const struct reasm_flow *flow,
		   const struct reasm_segment *seg, uint64_t ts_ns);

/**
 * Parse and assemble a burst of Ethernet frames.
 *
 * Each mbuf is parsed (Ethernet, 802.1Q and 802.1ad/QinQ tags, IPv4 with
 * options, IPv6 with its extension-header chain, TCP); frames that are not
 * TCP or are malformed are counted by reason and skipped. Keys are looked
 * up with rte_hash_lookup_bulk. In-order payload is delivered straight out
 * of the mbuf (a multi-segment payload is first gathered into a scratch
 * buffer).
 *
 * The mbufs stay owned by the caller and are not modified; free them after
 * the call.
 *
 * @param timestamps  per-packet timestamps in ns, or NULL to use @p now_ns
 *                    for every packet
 * @return the number of packets that reached the assembler as TCP segments.
 */
unsigned int reasm_assemble_burst(struct reasm_assembler *a, struct rte_mbuf *const *pkts,
				  uint16_t n, const uint64_t *timestamps, uint64_t now_ns);

/**
 * Flush streams waiting for data older than @p t_ns (the seed's
 * FlushOlderThan): for every stream of the pool whose lowest buffered page
 * was seen before @p t_ns, skip to it and deliver it with everything
 * contiguous, repeatedly; then close streams with nothing buffered that
 * have seen no packet since @p t_ns.
 *
 * Visits only streams idle since @p t_ns and streams holding pages, not the
 * whole table.
 *
 * @param[out] closed  if not NULL, the number of streams closed
 * @return the number of streams flushed or closed.
 */
unsigned int reasm_flush_older_than(struct reasm_assembler *a, uint64_t t_ns,
				    unsigned int *closed);

/**
 * Deliver everything buffered, skipping the holes, and close every stream
 * of the pool (the seed's FlushAll).
 * @return the number of streams closed.
 */
unsigned int reasm_flush_all(struct reasm_assembler *a);

/**
 * Copy the assembler's counters into @p stats. Safe to call from another
 * thread while the assembler runs: each counter is read atomically, the
 * snapshot as a whole is not.
 */
void reasm_assembler_stats(const struct reasm_assembler *a, struct reasm_stats *stats);

/** @return pages this assembler holds now. */
uint32_t reasm_assembler_pages_in_use(const struct reasm_assembler *a);

/** One stream direction holding out-of-order pages (reasm_assembler_top_conns()). */
struct reasm_conn_info {
	struct reasm_flow flow;
	uint32_t pages;          /**< pages it holds */
	uint64_t last_seen;      /**< ns, last packet */
	/** Its accounting, as reasm_pool_stream_totals(): totals.buffered_bytes is in those pages. */
	struct reasm_stream_totals totals;
};

/**
 * The stream directions of @p a's pool holding the most pages, most first.
 * Visits only directions that hold pages. Call it on the assembler's
 * thread (it reads connection state the assembler writes); in shared mode
 * it locks each connection it reads.
 * @return the number of entries written to @p out (at most @p max).
 */
unsigned int reasm_assembler_top_conns(struct reasm_assembler *a, struct reasm_conn_info *out,
				       unsigned int max);

/**
 * Parse an Ethernet frame exactly as reasm_assemble_burst() does and give
 * its direction's key, e.g. to spread frames over workers in software.
 * Counts nothing. Thread safe. A chained mbuf whose headers reach past its
 * first KiB is gathered into a per-thread 256 KiB buffer allocated on the
 * first such frame (and kept for the thread's life).
 * @return 0 with @p flow filled if the frame is a TCP segment the burst
 *   entry point would assemble, -EINVAL otherwise, -ENOMEM if that buffer
 *   could not be allocated.
 */
int reasm_flow_of_mbuf(const struct rte_mbuf *m, struct reasm_flow *flow);

/* ------------------------------------------------------------------ */
/* Reader adapter (the seed's tcpreader.ReaderStream)                  */
/* ------------------------------------------------------------------ */

/** What reasm_reader_feed() does when the buffer is full. */
enum reasm_reader_full_policy {
	/** Wait for the consumer to make room (the seed's behaviour). */
	REASM_READER_BLOCK = 0,
	/** Drop what does not fit and report it to the consumer as data lost. */
	REASM_READER_DROP,
};

/** Parameters of reasm_reader_create(). */
struct reasm_reader_conf {
	uint32_t capacity;   /**< buffer size in bytes, > 0 */
	/** Report skipped data as -REASM_EDATALOST once per gap (the seed's LossErrors). */
	bool loss_errors;
	enum reasm_reader_full_policy full_policy;
};

/** Error returned once by reasm_reader_read() for a gap (the seed's DataLost). */
#define REASM_EDATALOST 1001

struct reasm_reader;

/** @return a reader, or NULL with rte_errno = EINVAL or ENOMEM. */
struct reasm_reader *reasm_reader_create(const struct reasm_reader_conf *conf);

/** Free a reader; neither side may use it any more. NULL is a no-op. */
void reasm_reader_free(struct reasm_reader *r);

/**
 * Producer side: append @p n records (call from a reassembled callback).
 * Thread safe against the consumer. May block under REASM_READER_BLOCK
 * until the consumer reads or closes.
 */
void reasm_reader_feed(struct reasm_reader *r, const struct reasm_record *records, unsigned int n);

/** Producer side: end of stream (call from the complete callback). */
void reasm_reader_finish(struct reasm_reader *r);

/**
 * Consumer side: read up to @p size bytes, waiting for data. Empty records
 * are invisible; a read never returns bytes from both sides of a gap.
 *
 * @return bytes read (> 0); 0 at end of stream; -REASM_EDATALOST once for
 *   each record with skip != 0 and bytes, when loss_errors is on;
 *   -EINVAL on bad arguments.
 */
long reasm_reader_read(struct reasm_reader *r, void *buf, size_t size);

/**
 * Consumer side: stop reading (the seed's Close). Pending and future data
 * is discarded so the producer never blocks again.
 */
void reasm_reader_close(struct reasm_reader *r);

/** @return bytes the reader dropped under REASM_READER_DROP. */
uint64_t reasm_reader_dropped(const struct reasm_reader *r);

#ifdef __cplusplus
}
#endif

#endif /* REASM_H */
