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
 *   and the user's stream callbacks (gopacket tcpassembly's StreamPool and
 *   StreamFactory);
 * - an assembler (struct reasm_assembler): takes segments or mbuf bursts,
 *   buffers out-of-order payload in pages from an rte_mempool, and calls the
 *   stream callbacks (gopacket tcpassembly's Assembler);
 * - a reader (struct reasm_reader): a bounded byte buffer fed by a stream and
 *   read from another thread (gopacket's tcpreader.ReaderStream).
 *
 * Errors: constructors return NULL and set rte_errno; other functions
 * return a negative errno value. Nothing here calls exit or panics.
 *
 * Data lifetime: a struct reasm_record's bytes are borrowed. They point
 * into the caller's buffer or mbuf (in-order data, zero copy) or into a
 * page of the assembler (out-of-order data), and are valid only until the
 * reassembled callback returns. Mbufs passed to reasm_assemble_burst()
 * stay owned by the caller, who frees them after the call returns.
 *
 * Thread safety: a pool works in one of two modes (enum reasm_pool_mode).
 * Per-worker (REASM_POOL_SINGLE_WRITER): one assembler, run by one thread,
 * owns the pool and nothing is locked; other threads may only make, on that
 * pool and assembler, the calls documented as safe from any thread (counter
 * snapshots, counts). Shared (REASM_POOL_SHARED, like gopacket tcpassembly's
 * StreamPool): several assemblers on several threads use one pool; a
 * reader-writer lock guards the connection table, a spinlock each
 * connection (so one stream's callbacks never overlap) and a spinlock the
 * pool's idle and paged lists. In both modes each assembler is fed and
 * flushed by one thread at a time, the stream callbacks run on the thread
 * that called the assembler, and creating or freeing a pool or an assembler
 * is not thread safe with respect to other users of that object. Each
 * function states its own rule in a "Thread safety" sentence.
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
 * Thread safety: safe from any thread (pure arithmetic on its arguments).
 *
 * @param s
 *   The sequence to measure from.
 * @param t
 *   The sequence to measure to.
 * @return
 *   > 0 if t comes after s, < 0 if t comes before s, 0 if equal;
 *   the magnitude is the number of sequence numbers between them, e.g.
 *   reasm_seq_diff(4, 8) == 4 and reasm_seq_diff(2^32 - 10, 10) == 20.
 *   There is no error value.
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

/**
 * Advance a sequence (gopacket's Sequence.Add).
 *
 * Thread safety: safe from any thread (pure arithmetic on its arguments).
 *
 * @param s
 *   The sequence to advance.
 * @param n
 *   How far to advance it; may be negative.
 * @return
 *   Sequence @p s advanced by @p n, mod 2^32. There is no error value.
 */
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
 * One direction of a TCP connection: gopacket's (netFlow, tcpFlow) pair,
 * as given to StreamFactory.New.
 *
 * Used as the rte_hash key, so every byte counts: build it with
 * reasm_flow_ipv4() or reasm_flow_ipv6(), which zero the padding and
 * the unused address bytes. Ports are in host byte order; addresses in
 * network byte order (as on the wire). VLAN tags are not part of the key,
 * as in gopacket.
 */
struct reasm_flow {
	uint8_t family; /**< enum reasm_family */
	/**
	 * 0, or with reasm_pool_conf.max_zones the zone the burst path put the
	 * direction in (VLAN and tunnel ids: reasm_pool_open_encap() says
	 * which), 24 bits little-endian; zero it in keys you build.
	 */
	uint8_t zone[3];
	uint16_t src_port;    /**< host byte order */
	uint16_t dst_port;    /**< host byte order */
	uint8_t src_addr[16]; /**< IPv4 uses the first 4 bytes */
	uint8_t dst_addr[16]; /**< IPv4 uses the first 4 bytes */
};

/**
 * Fill @p flow for an IPv4 direction; addresses are 4 bytes, network order.
 *
 * Thread safety: safe from any thread (writes only @p flow).
 *
 * @param[out] flow
 *   The key to fill; every byte of it is written.
 * @param src_addr
 *   Source IPv4 address, 4 bytes in network byte order.
 * @param dst_addr
 *   Destination IPv4 address, 4 bytes in network byte order.
 * @param src_port
 *   Source TCP port, host byte order.
 * @param dst_port
 *   Destination TCP port, host byte order.
 */
void reasm_flow_ipv4(struct reasm_flow *flow, const void *src_addr, const void *dst_addr,
		     uint16_t src_port, uint16_t dst_port);

/**
 * Fill @p flow for an IPv6 direction; addresses are 16 bytes, network order.
 *
 * Thread safety: safe from any thread (writes only @p flow).
 *
 * @param[out] flow
 *   The key to fill; every byte of it is written.
 * @param src_addr
 *   Source IPv6 address, 16 bytes in network byte order.
 * @param dst_addr
 *   Destination IPv6 address, 16 bytes in network byte order.
 * @param src_port
 *   Source TCP port, host byte order.
 * @param dst_port
 *   Destination TCP port, host byte order.
 */
void reasm_flow_ipv6(struct reasm_flow *flow, const void *src_addr, const void *dst_addr,
		     uint16_t src_port, uint16_t dst_port);

/**
 * The hash reasm's connection table files @p flow under: CRC32-C over the
 * bytes that tell keys apart: for IPv4 the family, zone, ports and the two
 * 4-byte addresses (two CRC steps), for IPv6 the whole key. The same for
 * both directions of a connection only by chance. For your own rte_hash
 * tables of struct reasm_flow keys (give rte_hash_parameters.hash_func a
 * wrapper of it and use the *_with_hash calls).
 *
 * Thread safety: safe from any thread (reads only @p flow).
 *
 * @param flow
 *   The key; not NULL. Bytes an IPv4 key does not use (addresses past their
 *   first 4) are not read.
 * @return
 *   The hash.
 */
uint32_t reasm_flow_hash(const struct reasm_flow *flow);

/**
 * Write "src:port -> dst:port" (IPv6 in brackets) into @p buf.
 *
 * Thread safety: safe from any thread (reads only @p flow, writes only
 * @p buf).
 *
 * @param flow
 *   The key to format; not NULL.
 * @param[out] buf
 *   Where the NUL-terminated text goes (truncated to @p size - 1
 *   characters); may be NULL when @p size is 0.
 * @param size
 *   Size of @p buf in bytes.
 * @return
 *   The length snprintf would have written (the text's full length, not
 *   counting the NUL, even if it was truncated); negative only if snprintf
 *   fails.
 */
int reasm_flow_format(const struct reasm_flow *flow, char *buf, size_t size);

/** Bytes reasm_community_id() writes: "1:", 28 base64 characters and a NUL. */
#define REASM_COMMUNITY_ID_SIZE 31

/**
 * The Community ID (version 1) of the TCP connection @p flow is a direction
 * of: "1:" and the base64 of a SHA-1 over the seed, the two endpoints in a
 * fixed order and the protocol (https://github.com/corelight/community-id-spec).
 * Both directions of a connection get the same identifier, and so does the
 * same connection in Zeek's, Suricata's or Arkime's logs when the seed
 * agrees. The zone (VLAN and tunnel ids) is not part of it, as in the
 * specification.
 *
 * Thread safety: safe from any thread (reads only @p flow, writes only
 * @p buf).
 *
 * @param flow
 *   A direction of the connection; not NULL.
 * @param seed
 *   The specification's seed (0 unless sites agree on another).
 * @param[out] buf
 *   Where the NUL-terminated identifier goes; at least
 *   REASM_COMMUNITY_ID_SIZE bytes.
 * @param size
 *   Size of @p buf in bytes.
 * @return
 *   The identifier's length (REASM_COMMUNITY_ID_SIZE - 1); -EINVAL if
 *   @p flow's family is neither IPv4 nor IPv6; -ENOSPC if @p buf is NULL or
 *   @p size is less than REASM_COMMUNITY_ID_SIZE (nothing is written).
 */
int reasm_community_id(const struct reasm_flow *flow, uint16_t seed, char *buf, size_t size);

/** TCP flags the assembler looks at (bits of struct reasm_segment.flags): FIN. */
#define REASM_TCP_FIN 0x01
/** SYN: these bytes start the stream. */
#define REASM_TCP_SYN 0x02
/** RST: like FIN, these bytes end the stream. */
#define REASM_TCP_RST 0x04
/**
 * ACK: the burst parser sets it as the header has it. The assembler ignores
 * it (gopacket's tcpassembly does); the connection layer reads it (a SYN
 * with ACK is the server's, a segment with ACK alone is a pure ACK).
 */
#define REASM_TCP_ACK 0x10

/**
 * One TCP segment for reasm_assemble(): the part of gopacket's layers.TCP
 * that tcpassembly reads, and what the capture cut from it. Initialise the
 * whole struct (`= {0}` or designated initialisers): a field left out is 0.
 */
struct reasm_segment {
	uint32_t seq;           /**< sequence number, host byte order */
	uint8_t flags;          /**< REASM_TCP_* bits */
	const uint8_t *payload; /**< borrowed for the duration of the call */
	uint32_t len;           /**< payload length in bytes */
	/**
	 * Payload bytes the packet's IP length claims past what was captured
	 * (a snaplen, a port that cut the frame); 0 normally. Added to the
	 * stream's reasm_stream_totals.cut_bytes; the segment is assembled with
	 * its @p len bytes all the same.
	 */
	uint32_t cut;
};

/** Why bytes were skipped; carried in struct reasm_record. */
enum reasm_skip_cause {
	REASM_SKIP_NONE = 0,      /**< skip == 0 */
	REASM_SKIP_START_UNKNOWN, /**< first data of a stream whose SYN was not seen (skip -1) */
	REASM_SKIP_PAGE_LIMIT,    /**< max_pages_per_conn reached */
	REASM_SKIP_TOTAL_LIMIT,   /**< max_pages_total reached */
	REASM_SKIP_NO_PAGE,       /**< the page mempool was empty */
	REASM_SKIP_FLUSH,         /**< reasm_flush_older_than() gave up waiting */
	REASM_SKIP_FLUSH_ALL,     /**< reasm_flush_all() gave up waiting */
	/** Number of causes (not a cause). */
	REASM_SKIP_CAUSE_MAX,
};

/**
 * Name a skip cause.
 *
 * Thread safety: safe from any thread (reads a constant table).
 *
 * @param cause
 *   The cause, as in struct reasm_record.skip_cause.
 * @return
 *   A short stable name for @p cause ("page_limit", ...), in static storage;
 *   "unknown" if @p cause is out of range (never NULL).
 */
const char *reasm_skip_cause_name(enum reasm_skip_cause cause);

/**
 * One piece of reassembled stream (gopacket tcpassembly's Reassembly).
 *
 * @c bytes is borrowed: valid only until the reassembled callback returns;
 * copy what you need to keep. Records of one call are in stream order and
 * follow those of earlier calls.
 */
struct reasm_record {
	const uint8_t *bytes; /**< next bytes of the stream; may be empty */
	uint32_t len;         /**< number of bytes at @c bytes */
	/**
	 * 0 if these bytes follow the previous record's directly; -1 if this
	 * is the first data of a stream whose start was not seen; otherwise
	 * the number of bytes skipped before these.
	 */
	int64_t skip;
	uint8_t skip_cause; /**< enum reasm_skip_cause; NONE when skip == 0 */
	bool start;         /**< these bytes came with a SYN */
	bool end;           /**< these bytes came with a FIN or RST */
	uint64_t seen;      /**< timestamp (ns) of the packet that carried them */
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
	uint64_t overlap_bytes; /**< received bytes trimmed: their sequence was already delivered */
	uint64_t buffered_bytes; /**< out-of-order bytes held in pages now */
	/**
	 * Buffered bytes freed undelivered: pages still held past a FIN/RST when
	 * the stream completed, or pages of an assembler freed while the
	 * (shared) pool kept the stream open.
	 */
	uint64_t discarded_bytes;
	uint64_t skipped_bytes; /**< sum of the positive skips of its records */
	/**
	 * Payload bytes its segments' IP lengths claimed past their frames
	 * (ip_len_past_frame_bytes): a capture or a port that cut frames
	 * (snaplen, af_packet framesz). They were never received, so they are
	 * outside received = delivered + overlap + buffered + discarded, and
	 * no record's skip shows them when the cut is at the stream's tail.
	 */
	uint64_t cut_bytes;
	/**
	 * Overlaps whose copies differed (struct reasm_conflict): the number of
	 * reasm_stream_ops.conflict calls it had, callback or not.
	 */
	uint64_t conflicts;
	uint64_t conflict_bytes; /**< the sum of their reasm_conflict.differing */
};

/** Which copy of overlapping, not yet delivered bytes is delivered (reasm_assembler_conf). */
enum reasm_overlap_policy {
	/**
	 * gopacket's: out-of-order segments wait in a list, each inserted after
	 * the last page starting at or before it (a segment's pages as one
	 * block), and are delivered in list order as they become contiguous,
	 * each trimmed against what was delivered. So of two buffered copies the
	 * one starting lower wins, at the same start the one received first,
	 * except where a segment longer than a page reaches past pages after
	 * it; in-order data is delivered at once and wins over any copy
	 * buffered beyond it.
	 */
	REASM_OVERLAP_FIRST = 0,
	/**
	 * The copy received last wins wherever it overlaps bytes still
	 * buffered (they are overwritten when it arrives), as Suricata's "last"
	 * and the BSD stacks keep retransmitted data. Bytes already delivered
	 * cannot change under either policy.
	 */
	REASM_OVERLAP_LAST,
};

/**
 * Overlapping bytes whose copies differ: an evasion attempt (a
 * retransmission carrying other bytes than the first time) or corruption.
 * Reported under either policy, with both versions' SHA-256.
 *
 * Each arriving segment is compared with what the stream would deliver at
 * its positions without it: bytes still buffered (the first buffered copy
 * in delivery order), and bytes delivered already while the retention
 * window (reasm_pool_conf.retain_bytes) holds them. Contiguous positions
 * compared with the same outcome (same copy kept, delivered or not) make
 * one overlap; it is a conflict when any of its bytes differ, and then
 * @c len covers the whole overlap, identical bytes included.
 */
struct reasm_conflict {
	uint32_t seq; /**< sequence number of the overlap's first byte */
	/**
	 * Its position in the stream: bytes of the stream before it (skipped
	 * holes included) counted from the first byte after the SYN, or from the
	 * first byte delivered when the start was not seen; modulo 2^32 (exact
	 * for the first 4 GiB of a stream).
	 */
	uint32_t offset;
	bool offset_known; /**< false: the stream had no start yet (offset 0) */
	/** The copy kept was delivered already (its bytes from the retention window). */
	bool delivered;
	/** The copy kept is the one that arrived now (else the one held before). */
	bool kept_arrived;
	uint32_t len;             /**< bytes of the overlap */
	uint32_t differing;       /**< of those, bytes that differ (conflict_bytes) */
	uint8_t kept_sha256[32];  /**< SHA-256 of the overlap as the stream delivers it */
	uint8_t other_sha256[32]; /**< of the other copy */
	uint64_t seen;            /**< timestamp of the segment that arrived */
};

/**
 * User callbacks (gopacket tcpassembly's StreamFactory and Stream).
 *
 * For every stream, in order: one open(), zero or more reassembled(),
 * exactly one complete(), after which the stream is forgotten. All
 * callbacks of one stream run serially (in shared pool mode under the
 * connection's lock), on the thread that called the assembler. Callbacks
 * must not call back into the assembler or pool that invoked them.
 */
struct reasm_stream_ops {
	/**
	 * A new stream direction was seen (gopacket's StreamFactory.New).
	 *
	 * Thread safety: runs on the thread of the assembler given the segment
	 * that opens the direction; in shared mode that may be any assembler
	 * of the pool, and open() runs with the pool's table write-locked, so
	 * calls of open() never overlap but every assembler's lookups wait for
	 * it: keep it short.
	 *
	 * @param factory_ctx
	 *   reasm_pool_conf.factory_ctx
	 * @param flow
	 *   The direction's key; valid during the call only.
	 * @param priv
	 *   A zeroed per-stream area of stream_priv_size bytes (NULL if 0),
	 *   valid until complete() returns.
	 * @return
	 *   The stream context given to the two other callbacks
	 *   (any value, NULL included); there is no error value.
	 */
	void *(*open)(void *factory_ctx, const struct reasm_flow *flow, void *priv);
	/**
	 * Data in stream order (gopacket's Stream.Reassembled). One assembler
	 * call delivers its records in one call, or in several consecutive calls
	 * of at most REASM_MAX_RECORDS_PER_CALL records each.
	 *
	 * Thread safety: calls for one stream never overlap (in shared mode
	 * they run under the connection's lock); in shared mode, calls for
	 * different streams may run at the same time on different assemblers'
	 * threads.
	 *
	 * @param stream
	 *   What open() returned for this stream.
	 * @param records
	 *   @p n records in stream order; they and their bytes are valid during
	 *   the call only.
	 * @param n
	 *   Number of records, 1 to REASM_MAX_RECORDS_PER_CALL.
	 */
	void (*reassembled)(void *stream, const struct reasm_record *records, unsigned int n);
	/**
	 * No more data will come (FIN/RST seen, flushed, or table torn down)
	 * (gopacket's Stream.ReassemblyComplete).
	 *
	 * Thread safety: as reassembled(): never concurrent with another
	 * callback of the same stream; in shared mode, complete() calls of
	 * different streams may run at the same time on different threads.
	 *
	 * @param stream
	 *   What open() returned for this stream; not used by reasm afterwards.
	 * @param totals
	 *   The stream's accounting (buffered_bytes is 0): its
	 *   delivered_bytes equals the sum of the lengths of every record given
	 *   to reassembled(). Valid during the call only.
	 */
	void (*complete)(void *stream, const struct reasm_stream_totals *totals);
	/**
	 * Optional (may be NULL): overlapping bytes arrived whose copies differ
	 * (struct reasm_conflict), reported whatever the overlap policy: the
	 * stream's count of them is the number of calls, its conflicting bytes
	 * the sum of their @c differing. Runs on the assembler's thread,
	 * between the stream's open() and its complete(), like reassembled();
	 * reassembled() may not have delivered the kept copy yet.
	 *
	 * @param stream   What open() returned.
	 * @param conflict Valid during the call only.
	 */
	void (*conflict)(void *stream, const struct reasm_conflict *conflict);
};

/** The largest reasm_pool_conf.retain_bytes: 1 MiB. */
#define REASM_RETAIN_MAX (1u << 20)

/** Most records passed to one reassembled() call. */
#define REASM_MAX_RECORDS_PER_CALL 64

/** How a pool is shared. */
enum reasm_pool_mode {
	/** One assembler, one thread: no locks at all (the fast default). */
	REASM_POOL_SINGLE_WRITER = 0,
	/**
	 * Several assemblers on several threads (gopacket tcpassembly's
	 * StreamPool, which is safe for concurrency): a reader-writer lock on
	 * the table, a lock per connection, a lock on the idle list.
	 */
	REASM_POOL_SHARED,
};

struct reasm_connection_ops;

/** Parameters of reasm_pool_create(). */
struct reasm_pool_conf {
	const char *name;   /**< unique among rte_hash tables; required */
	int socket_id;      /**< NUMA socket, or SOCKET_ID_ANY */
	uint32_t max_conns; /**< hard cap on stream directions (>= 8) */
	/** REASM_POOL_SINGLE_WRITER (per-worker) or REASM_POOL_SHARED */
	enum reasm_pool_mode mode;
	const struct reasm_stream_ops *ops; /**< required, with all three callbacks */
	void *factory_ctx;                  /**< passed to ops->open */
	uint32_t stream_priv_size;          /**< bytes of per-stream user area (may be 0) */
	/**
	 * 0: a key is the innermost IP addresses and TCP ports, whatever the
	 * VLAN or tunnel (gopacket's key). Otherwise the burst path also keys
	 * frames by their VLAN id and tunnel id (struct reasm_encap: layers,
	 * outermost VLAN id, innermost tunnel id), for overlapping address
	 * spaces: up to max_zones distinct {layers, VLAN, tunnel id} at once
	 * (8 .. 2^24 - 1), each an index in struct reasm_flow.zone, freed for
	 * another once no connection of it is open. A frame of a new zone when
	 * all are held is dropped (drop_zone_table_full). Single-writer pools only.
	 */
	uint32_t max_zones;
	/**
	 * Connections (see struct reasm_connection): 0 leaves the layer off
	 * (nothing of it runs: one predictable branch per packet). Otherwise up
	 * to this many connections tracked at once (>= 8); when all are in use,
	 * the least recently seen one without an open stream direction is
	 * completed early (end REASM_END_TABLE_FULL). Single-writer pools only.
	 */
	uint32_t max_connections;
	/** Required with max_connections: the connection callbacks. */
	const struct reasm_connection_ops *conn_ops;
	void *conn_ctx;          /**< passed to conn_ops->open */
	uint32_t conn_priv_size; /**< bytes of per-connection user area (may be 0) */
	/**
	 * Delivered bytes each stream direction keeps (0: none; else a power
	 * of two, at most REASM_RETAIN_MAX), so that a later segment repeating
	 * them is compared with them (struct reasm_conflict with delivered
	 * set). Without it, only overlaps of bytes still buffered are compared:
	 * in-order bytes are delivered without a copy. With it, each delivered
	 * byte is copied once into its direction's window (the cost is in
	 * docs/performance.md), and max_conns x retain_bytes are allocated at
	 * creation. A skip empties the window.
	 */
	uint32_t retain_bytes;
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
 * Thread safety: may be called from any thread once the EAL is initialised
 * (rte_hash and rte_malloc lock what they share); the new pool may be used
 * by other threads, in either mode, only once this call has returned.
 *
 * @param conf
 *   The pool's parameters, read during the call; the pool keeps the @c ops
 *   pointer (the callbacks must stay valid until the pool is freed) and
 *   @c factory_ctx.
 * @return
 *   The pool, or NULL with rte_errno set: EINVAL (bad parameter),
 *   EEXIST (name in use), ENOMEM.
 */
struct reasm_pool *reasm_pool_create(const struct reasm_pool_conf *conf);

/**
 * Free the pool. Connections still open are dropped without callbacks:
 * call reasm_flush_all() on its assemblers first. Assemblers using the
 * pool must be freed first. NULL is a no-op.
 *
 * Thread safety: not thread safe with respect to any other use of @p pool:
 * in both modes, no thread may use the pool (or one of its assemblers)
 * during or after the call.
 *
 * @param pool
 *   The pool to free, or NULL.
 */
void reasm_pool_free(struct reasm_pool *pool);

/**
 * Count the open stream directions.
 *
 * Thread safety: safe from any thread in both modes (one relaxed atomic
 * load; the count may change right after).
 *
 * @param pool
 *   The pool; not NULL.
 * @return
 *   The number of open stream directions. There is no error value.
 */
uint32_t reasm_pool_count(const struct reasm_pool *pool);

/**
 * The accounting of the open stream direction @p flow (see struct
 * reasm_stream_totals). O(pages it holds).
 *
 * Thread safety: it reads state the assembler writes: call it on the
 * thread of the pool's assembler (single-writer mode), or from any thread
 * in shared mode (the table is read-locked for the lookup and the
 * connection is locked while read). Not from a callback of @p pool.
 *
 * @param pool
 *   The pool holding the direction.
 * @param flow
 *   The direction's key.
 * @param[out] out
 *   Filled with the direction's accounting on success.
 * @return
 *   - 0 with @p out filled;
 *   - -ENOENT if no such direction is open;
 *   - -EINVAL if an argument is NULL.
 */
int reasm_pool_stream_totals(struct reasm_pool *pool, const struct reasm_flow *flow,
			     struct reasm_stream_totals *out);

/* ------------------------------------------------------------------ */
/* Encapsulation                                                        */
/* ------------------------------------------------------------------ */

/** Layers a segment came in (bits of struct reasm_encap.layers). */
#define REASM_ENCAP_VLAN 0x001   /**< 802.1Q / 802.1ad tags */
#define REASM_ENCAP_MPLS 0x002   /**< an MPLS label stack */
#define REASM_ENCAP_PPPOE 0x004  /**< a PPPoE session (PPP) */
#define REASM_ENCAP_IPIP 0x008   /**< IPv4 or IPv6 directly in IPv4 or IPv6 */
#define REASM_ENCAP_GRE 0x010    /**< GRE (transparent Ethernet bridging and PPTP included) */
#define REASM_ENCAP_ERSPAN 0x020 /**< ERSPAN type II or III (in GRE) */
#define REASM_ENCAP_VXLAN 0x040  /**< VXLAN (UDP 4789) */
#define REASM_ENCAP_GENEVE 0x080 /**< Geneve (UDP 6081) */
#define REASM_ENCAP_GTPU 0x100   /**< GTP-U (UDP 2152) */
/** One past the highest REASM_ENCAP_* bit. */
#define REASM_ENCAP_END 0x200

/** What the burst parser saw around a segment (reasm_pool_open_encap()). */
struct reasm_encap {
	uint16_t layers; /**< REASM_ENCAP_* bits: every layer met, outermost to innermost */
	uint16_t vlan;   /**< the outermost VLAN id (12 bits), if layers has VLAN */
	/**
	 * The id of the innermost tunnel that has one, 0 if none has: the
	 * bottom MPLS label, the PPPoE session id, the GRE key, the VXLAN or
	 * Geneve VNI, the GTP-U TEID, the ERSPAN session id (IP in IP and GRE
	 * without a key have none).
	 */
	uint32_t tunnel_id;
};

/**
 * The name of one REASM_ENCAP_* bit ("vlan", "mpls", "pppoe", "ipip", "gre",
 * "erspan", "vxlan", "geneve", "gtpu"), or "unknown".
 *
 * Thread safety: safe from any thread. @return a static string.
 */
const char *reasm_encap_name(unsigned int bit);

/**
 * Inside a reasm_stream_ops.open() callback: the encapsulation of the frame
 * whose segment opened the stream, e.g. to write it next to the stream's
 * records. Only the burst entry point knows frames: a stream opened by
 * reasm_assemble() has none. A datagram reassembled by another assembler
 * and handed over (struct reasm_defrag_conf.handoff) arrives as a plain
 * frame: a stream it opens shows no encapsulation either.
 *
 * Also inside a reasm_connection_ops.open() callback: the frame of the
 * connection's first packet.
 *
 * Thread safety: call it from open(), on the thread that runs it (in shared
 * mode open() runs with the pool's table write-locked: one at a time).
 *
 * @param pool
 *   The pool whose open() is running.
 * @param[out] out
 *   Filled on success.
 * @return
 *   - 0 with @p out filled (layers 0: the frame had no encapsulation);
 *   - -ENOENT outside open(), or when the segment came without its frame;
 *   - -EINVAL if an argument is NULL.
 */
int reasm_pool_open_encap(const struct reasm_pool *pool, struct reasm_encap *out);

/**
 * Zones in use (reasm_pool_conf.max_zones): distinct {layers, VLAN id,
 * tunnel id} in the pool's table; 0 without zones or for NULL.
 *
 * Thread safety: on the thread of the pool's assembler (a relaxed snapshot
 * from any other thread).
 */
uint32_t reasm_pool_zones_in_use(const struct reasm_pool *pool);

/* ------------------------------------------------------------------ */
/* Connections: both directions paired (opt-in)                         */
/* ------------------------------------------------------------------ */

/*
 * Above the stream directions, which stay exactly gopacket tcpassembly's,
 * a pool with reasm_pool_conf.max_connections pairs the two directions of a
 * 4-tuple (and zone) into one connection: who the client is, what each side
 * sent, a Zeek-style history and how it ended. Every TCP packet counts,
 * pure ACKs included (the stream layer ignores those).
 *
 * A connection starts at its first packet and lives until it has been idle
 * past a reasm_flush_older_than() time, or reasm_flush_all(), or until a
 * new SYN (without ACK) arrives after it ended (both FINs or a RST) with no
 * stream direction of it open: that SYN starts the next connection of the
 * 4-tuple. After both FINs or a RST it lingers, so trailing ACKs and
 * retransmitted FINs stay in it. Its stream directions always complete
 * before it does.
 */

/** How the client was told from the server (struct reasm_connection.roles). */
enum reasm_roles {
	REASM_ROLES_GUESSED = 0, /**< no SYN or SYN-ACK seen: the first packet's sender */
	REASM_ROLES_SYN,         /**< the client sent a SYN without ACK */
	REASM_ROLES_SYN_ACK,     /**< no SYN seen: the server sent a SYN-ACK */
	/** Number of values (not one). */
	REASM_ROLES_MAX,
};

/** How a connection ended (struct reasm_connection.end). */
enum reasm_conn_end {
	REASM_END_NONE = 0,   /**< not ended yet (seen only while it is open) */
	REASM_END_FIN,        /**< both sides sent a FIN, before any RST */
	REASM_END_RST_CLIENT, /**< the client sent a RST before both FINs */
	REASM_END_RST_SERVER, /**< the server sent a RST before both FINs */
	REASM_END_IDLE,       /**< neither: idle past a reasm_flush_older_than() time */
	REASM_END_FLUSH_ALL,  /**< neither: open at reasm_flush_all() */
	/**
	 * Neither: completed early to make room for another (max_connections
	 * reached; or, with zones, its zone's index went to another zone while
	 * no stream of it was open)
	 */
	REASM_END_TABLE_FULL,
	/** Number of values (not one). */
	REASM_END_MAX,
};

/**
 * Name a value of enum reasm_roles ("guessed", "syn", "syn_ack") or of
 * enum reasm_conn_end ("none", "fin", "rst_client", "rst_server", "idle",
 * "flush_all", "table_full"); "unknown" out of range.
 *
 * Thread safety: safe from any thread. @return a static string.
 */
const char *reasm_roles_name(unsigned int roles);
/** @copydoc reasm_roles_name */
const char *reasm_conn_end_name(unsigned int end);

/** Characters of struct reasm_connection.history at most (without its NUL). */
#define REASM_HISTORY_MAX 31

/** One side of a connection: what it sent. */
struct reasm_half {
	struct reasm_flow flow; /**< its direction's key: src is this side */
	uint64_t packets;       /**< TCP packets it sent (pure ACKs, retransmissions included) */
	uint64_t payload_bytes; /**< their TCP payload bytes, as on the wire */
	/**
	 * Stream directions opened for it: usually 1; 0 if it sent only pure
	 * ACKs, or FINs or RSTs without data; more when data followed its FIN
	 * (gopacket then opens another direction, start unknown).
	 */
	uint32_t streams;
	/** Those streams' struct reasm_stream_totals, summed (complete() only). */
	struct reasm_stream_totals totals;
};

/** A connection: both directions of a 4-tuple, and what is known of them. */
struct reasm_connection {
	uint64_t id;         /**< from 1, in the order the pool opened them */
	uint64_t first_seen; /**< time of its first packet (ns) */
	uint64_t last_seen;  /**< time of its newest packet */
	/** [0]: the side whose packet opened it; [1]: the other. Fixed for its life. */
	struct reasm_half half[2];
	/**
	 * Index in half[] of the client. It may change once: a guess corrected
	 * by a SYN or a SYN-ACK; a SYN-ACK's verdict is never reversed (a SYN
	 * from the client then only makes roles REASM_ROLES_SYN). A SYN-ACK
	 * with FIN or RST counts as a SYN-ACK here.
	 */
	uint8_t client;
	uint8_t roles; /**< enum reasm_roles */
	uint8_t end;   /**< enum reasm_conn_end */
	/**
	 * Zeek's conn.log history, NUL-terminated: S (SYN without ACK), H
	 * (SYN-ACK), A (pure ACK), D (payload), F (FIN), R (RST), Q (SYN with FIN
	 * or RST), I (FIN with RST, SYN or not), upper case for the client, lower case for
	 * the server. A, D, Q and I at most once per side; S, H and R again when
	 * the sequence number differs from the last of that kind, F when the
	 * sequence number plus the payload length does. '^' when a later SYN or
	 * SYN-ACK corrected a guess after letters were written: those letters
	 * change case. Letters past REASM_HISTORY_MAX are dropped.
	 */
	char history[REASM_HISTORY_MAX + 1];
};

/**
 * Connection callbacks (reasm_pool_conf.conn_ops). Per connection: one
 * open(), then one complete(), after the complete() of each of its stream
 * directions. They run on the assembler's thread, within the assembler call
 * that opens or completes the connection. They must not call back into the
 * assembler or pool.
 */
struct reasm_connection_ops {
	/**
	 * A connection's first packet was seen (and counted, its roles and
	 * history taken from it), before any of its stream directions opens.
	 * @param conn_ctx reasm_pool_conf.conn_ctx
	 * @param c        the connection so far; valid during the call only
	 * @param priv     a zeroed area of conn_priv_size bytes (NULL if 0),
	 *                 valid until complete() returns
	 * @return the connection context given to complete() and to its stream
	 *   directions' open() through reasm_pool_open_connection()
	 */
	void *(*open)(void *conn_ctx, const struct reasm_connection *c, void *priv);
	/**
	 * The connection is over: its stream directions have all completed.
	 * @param conn what open() returned
	 * @param c    the whole connection (end set, half[].totals summed);
	 *             valid during the call only
	 */
	void (*complete)(void *conn, const struct reasm_connection *c);
};

/** What a stream direction's open() learns of its connection. */
struct reasm_half_ref {
	void *conn;   /**< what reasm_connection_ops.open returned */
	void *priv;   /**< the connection's user area (NULL without conn_priv_size) */
	uint64_t id;  /**< struct reasm_connection.id */
	uint8_t half; /**< the stream's side: its index in struct reasm_connection.half[] */
};

/**
 * Inside a reasm_stream_ops.open() callback: the connection of the stream
 * direction being opened. The connection outlives the stream: conn and priv
 * stay valid until the stream's complete() has returned.
 *
 * Thread safety: call it from open(), on the thread that runs it.
 *
 * @return
 *   - 0 with @p out filled;
 *   - -ENOENT outside open(), with the layer off, or for a connection not
 *     tracked (every tracked connection had an open stream direction:
 *     counted in connections_untracked_pkts); such a stream stays outside
 *     any connection for its life, even when later packets of its 4-tuple
 *     are tracked;
 *   - -EINVAL if an argument is NULL.
 */
int reasm_pool_open_connection(const struct reasm_pool *pool, struct reasm_half_ref *out);

/**
 * Connections open now (0 with the layer off).
 *
 * Thread safety: safe from any thread (a relaxed load).
 */
uint32_t reasm_pool_connection_count(const struct reasm_pool *pool);

/* ------------------------------------------------------------------ */
/* Counters                                                              */
/* ------------------------------------------------------------------ */

/**
 * What a counter counts; counters of one class add up (e.g. every DROP
 * counter together is the number of frames dropped before the assembler).
 * See reasm_counter_class() and reasm_stats_class_sum().
 */
enum reasm_counter_class {
	REASM_CLASS_TRAFFIC = 0,   /**< volume: packets, segments, bytes in and out */
	REASM_CLASS_DROP,          /**< frames not assembled, one counter per reason */
	REASM_CLASS_ANOMALY,       /**< malformed frames still assembled (as gopacket does) */
	REASM_CLASS_IGNORED,       /**< segments gopacket's rules ignore */
	REASM_CLASS_TABLE_FULL,    /**< segments refused because the table was full */
	REASM_CLASS_CONN,          /**< stream directions opened and closed */
	REASM_CLASS_NOT_DELIVERED, /**< received bytes never delivered: overlaps, discards */
	REASM_CLASS_SKIP,          /**< bytes skipped (holes given up), one counter per cause */
	REASM_CLASS_EVENT,         /**< other events: unseen starts, page shortages */
	REASM_CLASS_DEFRAG, /**< IP defragmentation: fragments, datagrams, what was dropped */
	REASM_CLASS_GAUGE,  /**< current levels, not totals: they go down too */
	/** Number of classes (not a class). */
	REASM_CLASS_MAX,
};

/**
 * Every counter of an assembler, as an X-macro: X(name, class, description).
 *
 * - name: the counter's enum value is REASM_CTR_ followed by it, and
 *   reasm_counter_name() gives it as a string (also the telemetry key);
 * - class: its enum reasm_counter_class, without the REASM_CLASS_ prefix
 *   (reasm_counter_class());
 * - description: one line of text (reasm_counter_desc()).
 *
 * One line adds a counter, its name, its class and its telemetry key. The
 * list's order is the order of enum reasm_counter and of struct reasm_stats.v.
 */
/* One counter per line, however long its description: */
/* clang-format off */
#define REASM_COUNTERS(X) \
	X(pkts, TRAFFIC, "mbufs given to reasm_assemble_burst") \
	X(pkts_tcp, TRAFFIC, "packets that parsed as TCP and reached the assembler") \
	X(pkts_decap, TRAFFIC, "TCP segments found inside an encapsulation (MPLS, PPPoE, IP in IP, GRE, ERSPAN, VXLAN, Geneve, GTP-U), keyed by the innermost IP layer; counted once, by whichever assembler decapsulated it (with --defrag handoffs, not always the one that assembles it)") \
	X(drop_not_ip, DROP, "frames whose ethertype is not IPv4, IPv6, VLAN, MPLS or PPPoE session") \
	X(drop_l2_truncated, DROP, "frames shorter than their Ethernet/VLAN header") \
	X(drop_ipv4_truncated, DROP, "IPv4 header cut by the end of the frame") \
	X(drop_ipv4_bad_header, DROP, "IPv4 IHL < 5, total length < 20 or < IHL*4, or malformed options") \
	X(drop_ipv4_fragment, DROP, "IPv4 fragments (not reassembled, as in gopacket)") \
	X(drop_ipv6_truncated, DROP, "IPv6 header cut by the end of the frame") \
	X(drop_ipv6_bad_header, DROP, "IPv6 length 0 without a jumbo option, malformed hop-by-hop/destination options, routing type other than 0") \
	X(drop_ipv6_ext_truncated, DROP, "extension header (IPv6, or after IPv4) runs off the frame, or AH under 12 bytes") \
	X(drop_ipv6_fragment, DROP, "IPv6 fragments (not reassembled, as in gopacket)") \
	X(drop_vlan_too_deep, DROP, "more than 16 VLAN tags in a row") \
	X(drop_mpls_bad, DROP, "MPLS label stack cut or over 16 labels (gopacket follows any depth), or its payload neither IPv4 nor IPv6 (by its first byte, as gopacket guesses)") \
	X(drop_pppoe_bad, DROP, "PPPoE session or PPP header cut, a PPPoE code other than 0 (a session's) or length past the bytes there are, or PPP carrying neither IPv4 nor IPv6") \
	X(drop_gre_bad, DROP, "GRE header cut (acknowledgment included, in any version), routing present, or a payload other than IPv4, IPv6, Ethernet, MPLS, PPPoE, ERSPAN or PPP carrying IPv4 or IPv6") \
	X(drop_erspan_bad, DROP, "ERSPAN type II or III header cut") \
	X(drop_vxlan_bad, DROP, "VXLAN header cut (UDP port 4789)") \
	X(drop_geneve_bad, DROP, "Geneve header or options cut, or a payload other than Ethernet, IPv4, IPv6, MPLS, PPPoE or PPP carrying IPv4 or IPv6 (UDP port 6081)") \
	X(drop_gtpu_bad, DROP, "GTP-U header or extension headers cut, a message length past the datagram, or a T-PDU empty or PPP carrying neither IPv4 nor IPv6 (UDP port 2152)") \
	X(drop_tunnel_too_deep, DROP, "more than 8 tunnels over IP nested (IP in IP, GRE, VXLAN, Geneve, GTP-U)") \
	X(drop_not_tcp, DROP, "IP packets whose transport is not TCP, nor a tunnel reasm decodes") \
	X(drop_tcp_truncated, DROP, "TCP header shorter than 20 bytes") \
	X(drop_zone_table_full, DROP, "with reasm_pool_conf.max_zones: a frame of a new VLAN or tunnel id while every zone is held by open connections") \
	X(tcp_bad_offset, ANOMALY, "TCP data offset < 5 or past the packet: flags kept, payload ignored (as gopacket)") \
	X(frame_cut, ANOMALY, "chained frames whose segments hold less than pkt_len, or over 256 KiB: parsed cut") \
	X(ip_len_past_frame, ANOMALY, "IP length claims more than the frame holds (payload cut, still assembled)") \
	X(ip_len_past_frame_bytes, ANOMALY, "payload bytes those IP lengths claim past their frames: never received (cut_bytes of their streams)") \
	X(segs, TRAFFIC, "segments given to the assembler") \
	X(segs_ignored_empty, IGNORED, "segments without payload, SYN, FIN or RST (ignored)") \
	X(segs_no_conn, IGNORED, "FIN/RST without payload for an unknown stream (ignored)") \
	X(table_full_pkts, TABLE_FULL, "segments dropped because the connection table was full") \
	X(table_full_bytes, TABLE_FULL, "payload bytes of those segments") \
	X(conns_opened, CONN, "stream directions opened") \
	X(conns_closed_fin, CONN, "streams completed by FIN or RST") \
	X(conns_closed_flush, CONN, "streams completed by a flush") \
	X(connections_opened, CONN, "connections (both directions paired, with reasm_pool_conf.max_connections) opened") \
	X(connections_completed, CONN, "connections completed (their complete callback ran)") \
	X(connections_evicted, CONN, "of those, completed early to make room (end table_full, or ended and lingering): max_connections reached") \
	X(connections_untracked_pkts, TABLE_FULL, "packets of connections that could not be tracked: max_connections in use, every one with an open stream direction") \
	X(payload_bytes, TRAFFIC, "TCP payload bytes received") \
	X(delivered_bytes, TRAFFIC, "bytes handed to reassembled callbacks") \
	X(delivered_records, TRAFFIC, "records handed to reassembled callbacks") \
	X(overlap_bytes, NOT_DELIVERED, "received bytes trimmed because already delivered") \
	X(overlap_conflicts, EVENT, "overlaps whose two copies differ (reasm_stream_ops.conflict): compared with bytes still buffered, and with delivered bytes within reasm_pool_conf.retain_bytes") \
	X(overlap_conflict_bytes, EVENT, "the bytes that differ in those overlaps") \
	X(discarded_on_close_bytes, NOT_DELIVERED, "buffered bytes freed when a stream completed before them") \
	X(skips_start_unknown, EVENT, "records with skip -1 (stream start not seen)") \
	X(skipped_bytes_page_limit, SKIP, "bytes skipped because max_pages_per_conn was reached") \
	X(skipped_bytes_total_limit, SKIP, "bytes skipped because max_pages_total was reached") \
	X(skipped_bytes_no_page, SKIP, "bytes skipped because the page mempool was empty") \
	X(skipped_bytes_flush, SKIP, "bytes skipped by reasm_flush_older_than") \
	X(skipped_bytes_flush_all, SKIP, "bytes skipped by reasm_flush_all") \
	X(pages_alloc_failed, EVENT, "page requests the mempool could not serve") \
	X(defrag_fragments, DEFRAG, "IP fragments given to the defragmenter (with defragmentation on; else counted in drop_ipv4_fragment / drop_ipv6_fragment)") \
	X(defrag_datagrams, DEFRAG, "datagrams reassembled from them, each then parsed on as one packet") \
	X(defrag_overlap_bytes, DEFRAG, "fragment bytes already held (duplicated or overlapping fragments): the first copy is kept") \
	X(defrag_conflict_bytes, DEFRAG, "of those, bytes that differ from the copy kept (overlapping fragments that disagree: an evasion attempt, or corruption)") \
	X(defrag_handoffs, DEFRAG, "of those, datagrams handed to the assembler that owns their connection (struct reasm_defrag_conf.handoff)") \
	X(defrag_timeouts, DEFRAG, "datagrams dropped incomplete: not complete a timeout after their first fragment, or at reasm_flush_all()") \
	X(defrag_drop_too_many, DEFRAG, "datagrams dropped: more fragments than max_fragments") \
	X(defrag_drop_bad, DEFRAG, "fragments dropped as inconsistent: a length not a multiple of 8 before the last, a datagram past 65,535 bytes, data past the last fragment's end, or a second last fragment with another end") \
	X(defrag_drop_table_full, DEFRAG, "fragments dropped because max_datagrams datagrams were being reassembled") \
	X(defrag_drop_no_page, DEFRAG, "fragments dropped for want of a page (max_pages reached or the page mempool empty)") \
	X(defrag_pages, GAUGE, "pages holding fragments now (gauge)") \
	X(pages_in_use, GAUGE, "pages holding out-of-order data now (gauge)") \
	X(buffered_bytes, GAUGE, "out-of-order bytes held in pages now (gauge)")
/* clang-format on */

/** Index of each counter in struct reasm_stats.v. */
enum reasm_counter {
/** Expands one REASM_COUNTERS() entry to its enumerator (undefined right after). */
#define REASM_COUNTER_ENUM(name, cls, desc) REASM_CTR_##name,
	REASM_COUNTERS(REASM_COUNTER_ENUM)
#undef REASM_COUNTER_ENUM
	/** Number of counters (not a counter). */
	REASM_CTR_MAX
};

/** A snapshot of an assembler's counters. */
struct reasm_stats {
	uint64_t v[REASM_CTR_MAX]; /**< indexed by enum reasm_counter */
};

/**
 * Name a counter.
 *
 * Thread safety: safe from any thread (reads a constant table).
 *
 * @param counter
 *   An enum reasm_counter value.
 * @return
 *   The counter's name ("pkts", ...), in static storage, or NULL if out of
 *   range.
 */
const char *reasm_counter_name(unsigned int counter);

/**
 * Describe a counter.
 *
 * Thread safety: safe from any thread (reads a constant table).
 *
 * @param counter
 *   An enum reasm_counter value.
 * @return
 *   The counter's one-line description, in static storage, or NULL if out
 *   of range.
 */
const char *reasm_counter_desc(unsigned int counter);

/**
 * The class of a counter.
 *
 * Thread safety: safe from any thread (reads a constant table).
 *
 * @param counter
 *   An enum reasm_counter value.
 * @return
 *   The counter's class, or REASM_CLASS_MAX if out of range.
 */
enum reasm_counter_class reasm_counter_class(unsigned int counter);

/**
 * Name a counter class.
 *
 * Thread safety: safe from any thread (reads a constant table).
 *
 * @param cls
 *   The class.
 * @return
 *   The class's name ("drop", ...), in static storage, or NULL if out of
 *   range.
 */
const char *reasm_counter_class_name(enum reasm_counter_class cls);

/**
 * Add up the counters of one class in a snapshot.
 *
 * Thread safety: safe from any thread (reads @p stats and constant tables);
 * take the snapshot first with reasm_assembler_stats().
 *
 * @param stats
 *   A snapshot from reasm_assembler_stats().
 * @param cls
 *   The class whose counters to add up.
 * @return
 *   The sum of the counters of class @p cls in @p stats (0 if out of range,
 *   or if @p stats is NULL).
 */
uint64_t reasm_stats_class_sum(const struct reasm_stats *stats, enum reasm_counter_class cls);

/* ------------------------------------------------------------------ */
/* Pages                                                                 */
/* ------------------------------------------------------------------ */

/** Out-of-order bytes held by one page, as in gopacket. */
#define REASM_PAGE_BYTES 1900

/**
 * The mempool element size a page needs.
 *
 * Thread safety: safe from any thread (a constant).
 *
 * @return
 *   The mempool element size a page needs, in bytes.
 */
size_t reasm_page_size(void);

/**
 * Create a mempool of @p n_pages pages for one or more assemblers
 * (rte_mempool_create with a per-lcore cache of @p cache_size). Pages are
 * never given to a device, so they need no IOVA-contiguous memory
 * (RTE_MEMPOOL_F_NO_IOVA_CONTIG): without hugepages, 4 KiB system pages
 * then hold two of them, not one (about 2.1 KB of memory per page).
 *
 * Thread safety: may be called from any thread once the EAL is initialised
 * (as rte_mempool_create); the mempool it makes is multi-producer and
 * multi-consumer, so assemblers on several threads, in either pool mode,
 * may share it.
 *
 * @param name
 *   Name of the mempool, unique among memzones.
 * @param n_pages
 *   Number of pages in the mempool.
 * @param cache_size
 *   Pages in each lcore's cache (0 for none; see rte_mempool_create).
 * @param socket_id
 *   NUMA socket to allocate on, or SOCKET_ID_ANY.
 * @return
 *   The mempool, or NULL with rte_errno set (see rte_mempool_create):
 *   e.g. EINVAL (cache_size too large), ENOSPC (no memzone left), EEXIST
 *   (name in use), ENOMEM.
 */
struct rte_mempool *reasm_page_pool_create(const char *name, unsigned int n_pages,
					   unsigned int cache_size, int socket_id);

/* ------------------------------------------------------------------ */
/* The assembler                                                        */
/* ------------------------------------------------------------------ */

/**
 * IP defragmentation before TCP, per assembler (struct
 * reasm_assembler_conf.defrag). All zero: off, and fragments are dropped and
 * counted (drop_ipv4_fragment, drop_ipv6_fragment), as gopacket tcpassembly
 * users see them.
 *
 * On: IPv4 and IPv6 fragments, at any depth of encapsulation (an inner
 * datagram inside a tunnel, or the tunnel's outer datagram), are reassembled
 * and the datagram is parsed on as one packet. Fragment bytes are copied into
 * pages of the assembler's page mempool (at most @c max_pages of them); the
 * first copy of each byte is kept, later duplicated or overlapping bytes are
 * counted (defrag_overlap_bytes) and compared with it (defrag_conflict_bytes).
 * Every outcome has a counter of class REASM_CLASS_DEFRAG. Memory is bounded by
 * @c max_datagrams and @c max_pages whatever arrives.
 *
 * Several assemblers that split connections among themselves (one per worker)
 * may give @c owns and @c handoff: a datagram whose fragments reached this
 * assembler but whose connection is another's is handed off instead of
 * assembled here.
 */
struct reasm_defrag_conf {
	uint32_t max_datagrams; /**< datagrams being reassembled at once; 0: defragmentation off */
	uint32_t max_fragments; /**< fragments of one datagram before it is dropped (0: 64) */
	uint32_t max_pages;     /**< pages all datagrams together hold (0: 4 per datagram) */
	uint64_t timeout_ns;    /**< a datagram not complete this long is dropped (0: 30 s) */
	/**
	 * Optional, with @c handoff: whether @p flow (a reassembled TCP segment's
	 * key) is this assembler's to assemble.
	 * @param ctx  @c steer_ctx
	 * @param flow the segment's key
	 * @return true to assemble it here.
	 */
	bool (*owns)(void *ctx, const struct reasm_flow *flow);
	/**
	 * Optional, with @c owns: take a reassembled datagram that is not this
	 * assembler's, as an Ethernet frame (addresses zero, no VLAN tag, the
	 * innermost fragmented IP layer's datagram whole). Called on the
	 * assembler's thread, during reasm_assemble_burst().
	 * @param ctx   @c steer_ctx
	 * @param frame the frame; borrowed: valid during the call only
	 * @param len   its length
	 * @param ts_ns the timestamp of the fragment that completed it
	 */
	void (*handoff)(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts_ns);
	void *steer_ctx; /**< given to @c owns and @c handoff */
};

/** Parameters of reasm_assembler_create() (gopacket's AssemblerOptions, and more). */
struct reasm_assembler_conf {
	struct reasm_pool *pool;       /**< required; shared mode if several assemblers use it */
	struct rte_mempool *page_pool; /**< required; from reasm_page_pool_create() */
	/**
	 * Upper limit on pages this assembler holds (gopacket's
	 * AssemblerOptions.MaxBufferedPagesTotal). Once reached, every
	 * connection that gets an out-of-order segment skips ahead by one page.
	 * 0 = unlimited (bounded by the mempool).
	 */
	uint32_t max_pages_total;
	/**
	 * Upper limit on pages one stream direction holds (gopacket's
	 * AssemblerOptions.MaxBufferedPagesPerConnection). When reached, the
	 * stream skips ahead to its lowest buffered page plus whatever is
	 * contiguous with it. 0 = unlimited.
	 */
	uint32_t max_pages_per_conn;
	int socket_id; /**< NUMA socket for the assembler itself */
	/** IP defragmentation (all zero: off; see struct reasm_defrag_conf). */
	struct reasm_defrag_conf defrag;
	/** Which copy of overlapping buffered bytes is delivered (default: gopacket's). */
	enum reasm_overlap_policy overlap_policy;
};

struct reasm_assembler;

/**
 * Create an assembler. If the pool is shared (REASM_POOL_SHARED), any
 * number of assemblers may use it from different threads; otherwise at most
 * one assembler may use it.
 *
 * Thread safety: may be called from any thread once the EAL is initialised;
 * in shared mode, other assemblers of the pool may keep running meanwhile.
 * Not thread safe against reasm_pool_free() of the pool, nor against another
 * reasm_assembler_create() on the same single-writer pool (the
 * one-assembler check is not atomic). The new assembler may be used by
 * other threads only once this call has returned.
 *
 * @param conf
 *   The assembler's parameters; read during the call only.
 * @return
 *   The assembler, or NULL with rte_errno set: EINVAL (NULL @p conf, pool or
 *   page_pool, page_pool elements too small, or a second assembler on a
 *   single-writer pool), ENOMEM.
 */
struct reasm_assembler *reasm_assembler_create(const struct reasm_assembler_conf *conf);

/**
 * Free an assembler. Call reasm_flush_all() first to deliver what it holds;
 * pages still buffered by connections of its pool are returned to their
 * mempool without callbacks. NULL is a no-op.
 *
 * Thread safety: not thread safe with respect to any other use of @p a
 * (its own thread, or reasm_assembler_stats() from another one): stop them
 * first. In shared mode, the other assemblers of the pool may keep running
 * meanwhile (it locks each connection whose pages it takes back).
 *
 * @param a
 *   The assembler to free, or NULL.
 */
void reasm_assembler_free(struct reasm_assembler *a);

/**
 * Assemble one TCP segment of direction @p flow seen at @p ts_ns (gopacket's
 * Assembler.AssembleWithTimestamp). Runs, in order: zero or one open(), zero
 * or more reassembled() (records of this call), zero or one complete().
 *
 * The payload is borrowed for the call: in-order bytes are passed to the
 * callback without copying; out-of-order bytes are copied into pages.
 *
 * Thread safety: not thread safe for one assembler: call it on the
 * assembler's own thread; in shared mode, several assemblers sharing the
 * REASM_POOL_SHARED pool may run it concurrently (the table is read-locked
 * for lookups and write-locked only to open or close a stream; the
 * connection is locked while it is updated and its callbacks run).
 *
 * @param a
 *   The assembler.
 * @param flow
 *   The segment's direction, built with reasm_flow_ipv4() or
 *   reasm_flow_ipv6().
 * @param seg
 *   The segment; its payload may be NULL only if its len is 0.
 * @param ts_ns
 *   When the segment was seen, in ns (any clock, as long as the same one is
 *   given to reasm_flush_older_than()).
 * @return
 *   - 0 on success, also for a segment ignored as gopacket ignores it
 *     (counted in segs_ignored_empty or segs_no_conn);
 *   - -ENOSPC if the segment would open a stream while the table is full
 *     (counted, segment dropped);
 *   - -EINVAL on NULL arguments (a, flow, seg, or a payload with len > 0).
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
 * Thread safety: as reasm_assemble(): call it on the assembler's own thread
 * (it also uses the assembler's scratch buffer); in shared mode, several
 * assemblers sharing the pool may run it concurrently.
 *
 * @param a
 *   The assembler.
 * @param pkts
 *   @p n mbufs, each holding one Ethernet frame.
 * @param n
 *   Number of mbufs in @p pkts.
 * @param timestamps
 *   Per-packet timestamps in ns, or NULL to use @p now_ns for every packet.
 * @param now_ns
 *   Timestamp in ns of every packet when @p timestamps is NULL.
 * @return
 *   The number of packets that reached the assembler as TCP segments
 *   (including any then refused because the table was full, which are
 *   counted in table_full_pkts). Errors are counted, not returned: 0 also
 *   when @p a is NULL, or @p pkts is NULL with @p n > 0.
 */
unsigned int reasm_assemble_burst(struct reasm_assembler *a, struct rte_mbuf *const *pkts,
				  uint16_t n, const uint64_t *timestamps, uint64_t now_ns);

/**
 * Flush streams waiting for data older than @p t_ns (gopacket's
 * Assembler.FlushOlderThan): for every stream of the pool whose lowest
 * buffered page was seen before @p t_ns, skip to it and deliver it with
 * everything contiguous, repeatedly; then close streams with nothing
 * buffered that have seen no packet since @p t_ns.
 *
 * Visits only streams idle since @p t_ns and streams holding pages, not the
 * whole table.
 *
 * Thread safety: call it on the assembler's own thread (it uses the
 * assembler's snapshot buffer); in shared mode, other assemblers of the pool
 * may run (and flush) concurrently: it covers every stream of the pool, not
 * only those @p a was fed, locking the pool's lists for the snapshot and
 * each connection while it acts on it.
 *
 * @param a
 *   The assembler whose pool to flush; not NULL.
 * @param t_ns
 *   The cut-off time, in ns, on the clock of the segments' timestamps.
 * @param[out] closed
 *   If not NULL, the number of streams closed.
 * @return
 *   The number of streams flushed or closed. There is no error value.
 */
unsigned int reasm_flush_older_than(struct reasm_assembler *a, uint64_t t_ns, unsigned int *closed);

/**
 * Deliver everything buffered, skipping the holes, and close every stream
 * of the pool (gopacket's Assembler.FlushAll).
 *
 * Thread safety: call it on the assembler's own thread (it uses the
 * assembler's snapshot buffer); in shared mode, other assemblers of the pool
 * may run concurrently, and it closes their streams too (a segment they get
 * afterwards for such a direction opens a new stream).
 *
 * @param a
 *   The assembler whose pool to flush; not NULL.
 * @return
 *   The number of streams closed. There is no error value.
 */
unsigned int reasm_flush_all(struct reasm_assembler *a);

/**
 * Copy the assembler's counters into @p stats.
 *
 * Thread safety: safe from any thread, in both modes, while the assembler
 * runs: each counter is read with a relaxed atomic load, the snapshot as a
 * whole is not atomic (a call still running may show in part, or not yet).
 *
 * @param a
 *   The assembler; not NULL.
 * @param[out] stats
 *   Filled with every counter, indexed by enum reasm_counter.
 */
void reasm_assembler_stats(const struct reasm_assembler *a, struct reasm_stats *stats);

/**
 * Count the pages this assembler holds.
 *
 * Thread safety: safe from any thread, in both modes (one relaxed atomic
 * load; in shared mode other assemblers also lower it when they free its
 * pages).
 *
 * @param a
 *   The assembler; not NULL.
 * @return
 *   Pages this assembler holds now. There is no error value.
 */
uint32_t reasm_assembler_pages_in_use(const struct reasm_assembler *a);

/**
 * Where reasm_assemble_burst() spends its time: TSC cycles per stage, summed
 * over the bursts timed while stage timing was on
 * (reasm_assembler_stage_timing()). The stages follow the data flow of a
 * burst; each chunk of up to RTE_HASH_LOOKUP_BULK_MAX frames goes through
 * all three, and the three cover the whole call (a chunk's cycles are cut at
 * its stage boundaries, nothing is left out between them).
 */
struct reasm_stage_stats {
	uint64_t bursts; /**< reasm_assemble_burst() calls timed */
	uint64_t chunks; /**< chunks timed (a burst has one per 64 frames, or more) */
	uint64_t pkts;   /**< frames those chunks took */
	/** prefetching, gathering chained mbufs, parsing frames, defragmenting */
	uint64_t parse_cycles;
	/** the bulk hash lookup of the chunk's keys and the prefetch of their connections */
	uint64_t lookup_cycles;
	/**
	 * sequence work, pages, counters, expiring fragments, and the stream
	 * callbacks (struct reasm_stream_ops): what they cost is the caller's to
	 * measure and subtract
	 */
	uint64_t assemble_cycles;
};

/**
 * Turn stage timing on or off (it starts off). While on, each chunk of a
 * burst reads the TSC (rte_rdtsc()) three times, and each burst twice more:
 * a few cycles per frame.
 *
 * Thread safety: safe from any thread while the assembler runs (one relaxed
 * atomic store; the assembler sees it from its next burst).
 *
 * @param a
 *   The assembler; not NULL.
 * @param on
 *   true to time the stages of the bursts to come.
 */
void reasm_assembler_stage_timing(struct reasm_assembler *a, bool on);

/**
 * Copy the assembler's stage cycles into @p st.
 *
 * Thread safety: safe from any thread while the assembler runs: each field
 * is read with a relaxed atomic load (published once per burst); the
 * snapshot as a whole is not atomic.
 *
 * @param a
 *   The assembler; not NULL.
 * @param[out] st
 *   Filled with the totals since the assembler was created.
 */
void reasm_assembler_stages(const struct reasm_assembler *a, struct reasm_stage_stats *st);

/** One stream direction holding out-of-order pages (reasm_assembler_top_conns()). */
struct reasm_conn_info {
	/** the stream direction */
	struct reasm_flow flow;
	uint32_t pages;     /**< pages it holds */
	uint64_t last_seen; /**< ns, last packet */
	/**
	 * Its accounting, as reasm_pool_stream_totals(): totals.buffered_bytes
	 * is in those pages.
	 */
	struct reasm_stream_totals totals;
};

/**
 * The stream directions of @p a's pool holding the most pages, most first.
 * Visits only directions that hold pages.
 *
 * Thread safety: call it on the assembler's thread (it uses the assembler's
 * snapshot buffer and reads connection state the assembler writes); in shared
 * mode it locks each connection it reads, so other assemblers of the pool may
 * run meanwhile.
 *
 * @param a
 *   The assembler whose pool to look at.
 * @param[out] out
 *   Array of @p max entries, filled from index 0.
 * @param max
 *   Number of entries in @p out.
 * @return
 *   The number of entries written to @p out (at most @p max); 0 also if
 *   @p a or @p out is NULL or @p max is 0.
 */
unsigned int reasm_assembler_top_conns(struct reasm_assembler *a, struct reasm_conn_info *out,
				       unsigned int max);

/**
 * Parse an Ethernet frame exactly as reasm_assemble_burst() does and give
 * its direction's key, e.g. to spread frames over workers in software.
 * Counts nothing. A chained mbuf whose headers reach past its first KiB is
 * gathered into a per-thread 256 KiB buffer allocated on the first such frame
 * (and kept for the thread's life).
 *
 * Thread safety: safe from any thread, concurrently with anything else
 * (it touches no pool or assembler and uses only the stack and that
 * per-lcore, thread-local buffer).
 *
 * @param m
 *   The frame; not modified.
 * @param[out] flow
 *   Filled with the frame's direction on success.
 * @return
 *   - 0 with @p flow filled if the frame is a TCP segment the burst entry
 *     point would assemble;
 *   - -EINVAL otherwise (or if an argument is NULL), IP fragments included:
 *     with defragmentation on (struct reasm_defrag_conf), the fragment that
 *     completes a TCP datagram is assembled by the burst entry point but has
 *     no key of its own here (reasm_spread_key_of_mbuf() gives one);
 *   - -ENOMEM if that buffer could not be allocated.
 */
int reasm_flow_of_mbuf(const struct rte_mbuf *m, struct reasm_flow *flow);

/**
 * The key to spread a frame over workers by, such that every frame of a
 * connection and every fragment of a datagram reach one worker: for a TCP
 * segment its direction's key, as reasm_flow_of_mbuf(); for an IP fragment
 * (at any depth of encapsulation) the addresses of the IP layer it
 * fragments, ports 0, since only the first fragment has them. The worker
 * that reassembles such a datagram hands it to the connection's owner
 * (struct reasm_defrag_conf.owns and handoff).
 *
 * Thread safety: as reasm_flow_of_mbuf().
 *
 * @param m
 *   The frame; not modified.
 * @param[out] key
 *   Filled on success.
 * @return
 *   - 0 with @p key the TCP segment's direction;
 *   - 1 with @p key the fragmented IP layer's addresses, ports 0;
 *   - -EINVAL if the frame is neither (or an argument is NULL);
 *   - -ENOMEM as reasm_flow_of_mbuf().
 */
int reasm_spread_key_of_mbuf(const struct rte_mbuf *m, struct reasm_flow *key);

/* ------------------------------------------------------------------ */
/* Reader adapter (gopacket's tcpreader.ReaderStream)                  */
/* ------------------------------------------------------------------ */

/** What reasm_reader_feed() does when the buffer is full. */
enum reasm_reader_full_policy {
	/** Wait for the consumer to make room (as tcpreader.ReaderStream does). */
	REASM_READER_BLOCK = 0,
	/** Drop what does not fit and report it to the consumer as data lost. */
	REASM_READER_DROP,
};

/** Parameters of reasm_reader_create(). */
struct reasm_reader_conf {
	uint32_t capacity; /**< buffer size in bytes, > 0 */
	/**
	 * Report skipped data as -REASM_EDATALOST once per gap (tcpreader's
	 * ReaderStreamOptions.LossErrors).
	 */
	bool loss_errors;
	/** what reasm_reader_feed() does when the buffer is full */
	enum reasm_reader_full_policy full_policy;
};

/** Error returned once by reasm_reader_read() for a gap (tcpreader.DataLost). */
#define REASM_EDATALOST 1001

struct reasm_reader;

/**
 * Create a reader.
 *
 * Thread safety: safe from any thread; hand the reader to the producer and
 * consumer sides only once this call has returned.
 *
 * @param conf
 *   The reader's parameters; read during the call only.
 * @return
 *   A reader, or NULL with rte_errno = EINVAL (NULL @p conf, capacity 0 or
 *   unknown full_policy) or ENOMEM.
 */
struct reasm_reader *reasm_reader_create(const struct reasm_reader_conf *conf);

/**
 * Free a reader; neither side may use it any more. NULL is a no-op.
 *
 * Thread safety: not thread safe with respect to any other use of @p r:
 * both sides must be done with it (no feed, read or other call running, or
 * coming).
 *
 * @param r
 *   The reader to free, or NULL.
 */
void reasm_reader_free(struct reasm_reader *r);

/**
 * Producer side: append @p n records (call from a reassembled callback).
 * May block under REASM_READER_BLOCK until the consumer reads or closes.
 *
 * Thread safety: thread safe against the consumer side (the reader's mutex
 * guards its state); while it blocks, the calling assembler waits too, and
 * in shared mode it holds the connection's lock.
 *
 * @param r
 *   The reader; NULL is a no-op.
 * @param records
 *   Records as given to reassembled(); their bytes are copied. NULL is a
 *   no-op.
 * @param n
 *   Number of records.
 */
void reasm_reader_feed(struct reasm_reader *r, const struct reasm_record *records, unsigned int n);

/**
 * Producer side: end of stream (call from the complete callback).
 *
 * Thread safety: thread safe against the consumer side (the reader's mutex
 * guards its state); never blocks.
 *
 * @param r
 *   The reader; NULL is a no-op.
 */
void reasm_reader_finish(struct reasm_reader *r);

/**
 * Consumer side: read up to @p size bytes, waiting for data. Empty records
 * are invisible; a read never returns bytes from both sides of a gap.
 *
 * Thread safety: thread safe against the producer side (the reader's mutex
 * guards its state); meant for one consumer thread.
 *
 * @param r
 *   The reader.
 * @param[out] buf
 *   Where the bytes go.
 * @param size
 *   Size of @p buf, > 0.
 * @return
 *   - bytes read (> 0);
 *   - 0 at end of stream (finished and drained), or once the reader is closed;
 *   - -REASM_EDATALOST once for each record with skip != 0 and bytes, when
 *     loss_errors is on;
 *   - -EINVAL on bad arguments (NULL @p r or @p buf, @p size 0).
 */
long reasm_reader_read(struct reasm_reader *r, void *buf, size_t size);

/**
 * Consumer side: stop reading (tcpreader's ReaderStream.Close). Pending and
 * future data is discarded so the producer never blocks again.
 *
 * Thread safety: thread safe against the producer side (the reader's mutex
 * guards its state); it wakes a blocked reasm_reader_feed() and a blocked
 * reasm_reader_read().
 *
 * @param r
 *   The reader; NULL is a no-op.
 */
void reasm_reader_close(struct reasm_reader *r);

/**
 * Bytes the reader dropped under REASM_READER_DROP.
 *
 * Thread safety: safe from any thread (it takes the reader's mutex).
 *
 * @param r
 *   The reader.
 * @return
 *   Bytes the reader dropped under REASM_READER_DROP; 0 if @p r is NULL.
 */
uint64_t reasm_reader_dropped(const struct reasm_reader *r);

#ifdef __cplusplus
}
#endif

#endif /* REASM_H */
