/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Private structures of lib/reasm; not installed, not part of the API.
 */

#ifndef REASM_PRIVATE_H
#define REASM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_log.h>
#include <rte_rwlock.h>
#include <rte_spinlock.h>

#include "reasm.h"

extern int reasm_logtype;
#define REASM_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, reasm_logtype, "reasm: " fmt "\n", ##__VA_ARGS__)

/** Fill a flow key (ports left 0); inline for the parser, public wrappers in reasm_flow.c. */
static inline void
reasm_flow_fill(struct reasm_flow *flow, uint8_t family, const void *src, const void *dst,
		size_t addr_len)
{
	memset(flow, 0, sizeof(*flow));
	flow->family = family;
	memcpy(flow->src_addr, src, addr_len);
	memcpy(flow->dst_addr, dst, addr_len);
}

_Static_assert(offsetof(struct reasm_flow, src_addr) == 8 &&
		       offsetof(struct reasm_flow, dst_addr) == 24 &&
		       sizeof(struct reasm_flow) == 40,
	       "reasm_flow_hash_inline() reads the key as 8 + 32 bytes");

/*
 * reasm_flow_hash(), inline for the burst path: the family, zone and ports
 * (the key's first 8 bytes), then for IPv4 the two addresses in one 8-byte
 * step, for IPv6 the rest of the key.
 */
static inline uint32_t
reasm_flow_hash_inline(const struct reasm_flow *k)
{
	uint64_t head;
	uint32_t h, src, dst;

	memcpy(&head, k, sizeof(head));
	h = rte_hash_crc_8byte(head, 0);
	if (likely(k->family == REASM_FAMILY_IPV4)) {
		memcpy(&src, k->src_addr, 4);
		memcpy(&dst, k->dst_addr, 4);
		return rte_hash_crc_8byte((uint64_t)src | (uint64_t)dst << 32, h);
	}
	return rte_hash_crc(k->src_addr, 32, h);
}

/** Index meaning "no connection" in the intrusive lists. */
#define REASM_NO_CONN UINT32_MAX

/**
 * One page of out-of-order bytes (the seed's page), a mempool element.
 * Pages of a connection form a doubly linked list sorted by sequence.
 */
struct reasm_page {
	struct reasm_page *prev;
	struct reasm_page *next;
	struct reasm_assembler *owner; /**< assembler whose page count it is in */
	uint64_t seen;                 /**< timestamp of the segment it came from */
	uint32_t seq;                  /**< sequence of data[0] */
	uint16_t len;                  /**< bytes used in data */
	bool end;                      /**< the segment's last page, with FIN/RST */
	uint8_t reserved;
	uint8_t data[REASM_PAGE_BYTES];
};

/** A doubly linked list of connections, by index into the pool's array. */
struct reasm_conn_list {
	uint32_t head;
	uint32_t tail;
	uint32_t count;
};

/** Links of one connection in one struct reasm_conn_list. */
struct reasm_conn_link {
	uint32_t prev;
	uint32_t next;
};

/**
 * One stream direction (the seed's connection). Lives in the pool's
 * preallocated array at the position rte_hash gave its key.
 */
struct reasm_conn {
	/* First cache line: what every packet reads. */
	struct reasm_flow key;
	uint32_t next_seq;
	bool next_seq_valid; /**< false until the start or first skip */
	bool in_use;         /**< open; false once closed */
	bool on_page_list;
	uint8_t conv_half; /**< with connections: its side, an index in reasm_connection.half */
	uint32_t npages : 31;
	/**
	 * Its page list is out of sequence order: a block of pages (one
	 * segment's) went in before a page starting lower than its last one.
	 * Set by link_pages(), cleared when the list empties.
	 */
	uint32_t pages_unsorted : 1;
	union {
		rte_spinlock_t lock; /**< shared mode only */
		uint32_t conv;       /**< single-writer with connections: its connection, or none */
	};
	struct reasm_page *first;
	/* Second cache line. */
	void *stream;       /**< what ops->open returned */
	uint64_t last_seen; /**< newest packet time (atomic: flushes read it) */
	struct reasm_page *last;
	uint64_t idle_key;            /**< last_seen when placed in the idle list (<= last_seen) */
	uint64_t paged_key;           /**< first->seen when placed in the paged list (<= it) */
	struct reasm_conn_link idle;  /**< pool->idle, ordered by idle_key */
	struct reasm_conn_link paged; /**< pool->paged, by paged_key */
	uint64_t received_bytes;      /**< payload bytes given to it (struct reasm_stream_totals) */
} __rte_aligned(64);

/* Two cache lines: an idle direction must stay within its memory budget. */
_Static_assert(sizeof(struct reasm_conn) == 128, "struct reasm_conn grew past two cache lines");

/**
 * The rest of a connection's accounting, in a separate array (by the same
 * index) because only overlaps, skips and discards touch it: the packet
 * path reads none of it.
 */
struct reasm_conn_acct {
	uint64_t overlap_bytes;
	uint64_t discarded_bytes;
	uint64_t skipped_bytes;
	uint64_t cut_bytes;
	uint32_t base_seq;  /**< sequence of the stream's first byte, once next_seq is valid */
	uint32_t conflicts; /**< struct reasm_stream_totals.conflicts */
	uint64_t conflict_bytes;
};

struct reasm_pool {
	char name[64];
	enum reasm_pool_mode mode;
	struct rte_hash *table;
	struct reasm_conn *conns;      /**< max_conns entries, by hash position */
	uint8_t *privs;                /**< max_conns * stream_priv_size bytes */
	struct reasm_conn_acct *accts; /**< max_conns entries, by hash position */
	/*
	 * With conf.retain_bytes (a power of two): each direction's last
	 * delivered bytes, max_conns windows of retain_bytes by hash position, a
	 * byte at (its sequence & (retain_bytes - 1)); retained[i] of them are
	 * valid, those just before the direction's next_seq. Else NULL.
	 */
	uint8_t *retain;
	uint32_t *retained;
	uint32_t retain_bytes;
	uint32_t max_conns;
	uint32_t stream_priv_size;
	const struct reasm_stream_ops *ops;
	void *factory_ctx;
	uint32_t count;               /**< open connections */
	uint32_t assemblers;          /**< assemblers using the pool */
	uint64_t generation;          /**< bumped on every add and delete */
	struct reasm_conn_list idle;  /**< every open conn, by idle_key (see reasm_pool.c) */
	struct reasm_conn_list paged; /**< open conns holding pages */
	rte_rwlock_t table_lock;      /**< shared mode: rte_hash and count */
	rte_spinlock_t list_lock;     /**< shared mode: idle and paged lists */
	/** During open() only: the opening frame's encapsulation (NULL: none known). */
	const struct reasm_encap *open_encap;
	struct reasm_zones *zones; /**< with conf.max_zones, else NULL */
	struct reasm_convs *convs; /**< with conf.max_connections, else NULL */
};

/** Records of one assemble call waiting for delivery. */
struct reasm_batch {
	struct reasm_record rec[REASM_MAX_RECORDS_PER_CALL];
	struct reasm_page *dead[REASM_MAX_RECORDS_PER_CALL]; /**< freed after delivery */
	unsigned int n;
	unsigned int ndead;
	unsigned int pushed; /**< records queued by the current call */
	bool last_end;       /**< the last record queued had end set */
	/**
	 * push_record() takes its slow path from this many records on: when
	 * the batch is full (REASM_MAX_RECORDS_PER_CALL), or always (0) when
	 * delivered bytes are retained: one test per record for both.
	 */
	unsigned int slow_at;
};

/** Bytes of the buffer that gathers multi-segment mbufs. */
#define REASM_SCRATCH_BYTES (256 * 1024)

/**
 * The counters every segment moves, tallied in plain fields by the
 * assembler's own thread and published to struct reasm_assembler.stats by
 * reasm_tally_publish() once per chunk of a burst, per reasm_assemble() call
 * and per flush (VPP's habit: one store per counter per frame, not per
 * packet).
 */
struct reasm_tally {
	uint64_t segs;
	uint64_t payload_bytes;
	uint64_t delivered_records;
	uint64_t delivered_bytes;
};

struct reasm_assembler {
	struct reasm_pool *pool;
	struct rte_mempool *page_pool;
	uint32_t max_pages_total;
	uint32_t max_pages_per_conn;
	bool shared;
	uint32_t pages_used;      /**< pages this assembler holds */
	struct reasm_tally tally; /**< not yet in stats */
	struct reasm_batch batch;
	struct reasm_stats stats;    /**< published: relaxed stores, read from any thread */
	struct reasm_defrag *defrag; /**< NULL: fragments dropped and counted */
	uint32_t *snapshot;          /**< max_conns indices, for flushes */
	uint8_t *scratch;            /**< gathers multi-segment mbufs */
	/** Segments come from the burst path: each is the seg of a struct reasm_parsed. */
	bool in_burst;
	bool overlap_last; /**< REASM_OVERLAP_LAST */
	bool retain;       /**< the pool keeps delivered bytes (retain_bytes) */
	/** Positions of a segment given to a page (reasm_overlap.c, lists out of order). */
	uint64_t *overlap_claimed;
	bool time_stages;                /**< reasm_assembler_stage_timing(): any thread writes */
	struct reasm_stage_stats stages; /**< published once per timed burst */
};

/* A timed burst's clock: the TSC at the last stage boundary, and its totals so far. */
struct reasm_stage_clock {
	uint64_t tsc;
	struct reasm_stage_stats sum;
};

/* Close a stage at now: its cycles since the last boundary go to @p cycles. */
static inline void
reasm_stage_mark(struct reasm_stage_clock *clk, uint64_t *cycles)
{
	uint64_t now = rte_rdtsc();

	*cycles += now - clk->tsc;
	clk->tsc = now;
}

/* ---- counters ------------------------------------------------------- */

/* Add to a published counter: one writer (the assembler's thread), readers anywhere. */
static inline void
reasm_ctr_add(struct reasm_assembler *a, enum reasm_counter c, uint64_t n)
{
	__atomic_store_n(&a->stats.v[c], a->stats.v[c] + n, __ATOMIC_RELAXED);
}

/* Publish the tally: its counters reach stats, and it starts again from 0. */
static inline void
reasm_tally_publish(struct reasm_assembler *a)
{
	struct reasm_tally *t = &a->tally;

	if (t->segs != 0) {
		reasm_ctr_add(a, REASM_CTR_segs, t->segs);
		reasm_ctr_add(a, REASM_CTR_payload_bytes, t->payload_bytes);
	}
	if (t->delivered_records != 0) {
		reasm_ctr_add(a, REASM_CTR_delivered_records, t->delivered_records);
		reasm_ctr_add(a, REASM_CTR_delivered_bytes, t->delivered_bytes);
	}
	memset(t, 0, sizeof(*t));
}

/* reasm_pool.c */
/*
 * Find @key's connection, creating it if @create. *err: 1 if it was created,
 * -ENOSPC if the table is full, else 0. In shared mode it comes back locked.
 */
struct reasm_conn *reasm_pool_get(struct reasm_pool *pool, const struct reasm_flow *key,
				  uint32_t hash, bool create, uint64_t ts, int *err,
				  const struct reasm_encap *encap);
struct reasm_conn *reasm_pool_conn_at(struct reasm_pool *pool, int32_t pos,
				      const struct reasm_flow *key);
void reasm_pool_remove(struct reasm_pool *pool, struct reasm_conn *conn);
void reasm_pool_touch(struct reasm_pool *pool, struct reasm_conn *conn, uint64_t ts);
void reasm_pool_paged_fix(struct reasm_pool *pool, struct reasm_conn *conn);

/*
 * Keep @conn's place in the paged list right after its pages changed: on it
 * iff it holds pages, and its paged_key no later than its first page's time.
 * The common case (nothing to do) is a few loads.
 */
static inline void
reasm_pool_paged_update(struct reasm_pool *pool, struct reasm_conn *conn)
{
	bool want = conn->in_use && conn->first != NULL;

	if (want == conn->on_page_list && (!want || conn->first->seen >= conn->paged_key))
		return;
	reasm_pool_paged_fix(pool, conn);
}

/*
 * Single-writer: add @key, known to be absent. *err: 1 if added, -ENOSPC if full.
 * @encap (NULL: none known) is what reasm_pool_open_encap() gives open().
 */
struct reasm_conn *reasm_pool_add(struct reasm_pool *pool, const struct reasm_flow *key,
				  uint32_t hash, uint64_t ts, int *err,
				  const struct reasm_encap *encap);
uint32_t reasm_pool_conn_index(const struct reasm_pool *pool, const struct reasm_conn *conn);

/** The cold half of @conn's accounting. */
static inline struct reasm_conn_acct *
reasm_conn_acct(const struct reasm_pool *pool, const struct reasm_conn *conn)
{
	return &pool->accts[conn - pool->conns];
}

/* Fill @out for @conn (caller holds it: its assembler's thread, or its lock). */
void reasm_conn_totals(const struct reasm_pool *pool, const struct reasm_conn *conn,
		       struct reasm_stream_totals *out);
unsigned int reasm_pool_snapshot(struct reasm_pool *pool, bool idle_before, uint64_t t,
				 uint32_t *out, unsigned int max);
unsigned int reasm_pool_snapshot_paged(struct reasm_pool *pool, uint32_t *out, unsigned int max);

/* reasm_assembler.c */
/*
 * Assemble @seg; @hash is reasm_flow_hash_inline(@flow), @pos the key's
 * position from a bulk lookup (or -1), and @pos_final says it is still the
 * table's answer (single-writer pool, no key added or removed since): then it
 * is used without checking.
 */
int reasm_assemble_conn(struct reasm_assembler *a, const struct reasm_flow *flow, uint32_t hash,
			int32_t pos, bool pos_final, const struct reasm_segment *seg, uint64_t ts);
/*
 * With connections (pool->convs), before reasm_assemble_conn() of the same
 * segment: the packet's connection, every packet (pure ACKs included), so
 * that a stream direction it opens is linked to it. @return the segment's
 * open direction if @p pos is it (then reasm_assemble_conn() may take @p pos
 * as final), else NULL (give it @p pos_final as it was). Completing a
 * connection removes no stream direction: @p pos still stands.
 */
const struct reasm_conn *reasm_conv_step(struct reasm_assembler *a, const struct reasm_flow *flow,
					 int32_t pos, bool pos_final,
					 const struct reasm_segment *seg, uint64_t ts);

/* ---- overlaps: reasm_overlap.c ---- */

/** Positions of a segment compared at a time with a page list out of order (a bitmap). */
#define REASM_OVERLAP_WINDOW 65536

/*
 * Segment @p seg was just buffered as pages @p own_first to @p own_last of
 * @p conn, which holds other pages it overlaps: compare it with the bytes
 * the stream would deliver there, report conflicts and, under the last-wins
 * policy, overwrite those bytes.
 */
void reasm_overlap_held(struct reasm_assembler *a, struct reasm_conn *conn,
			const struct reasm_segment *seg, const struct reasm_page *own_first,
			const struct reasm_page *own_last, uint64_t ts);
/*
 * In-order segment @p seg (seq <= next_seq) is about to be delivered while
 * @p conn holds pages: compare it with what it overlaps of them.
 */
void reasm_overlap_in_order(struct reasm_assembler *a, struct reasm_conn *conn,
			    const struct reasm_segment *seg, uint64_t ts);
/*
 * In-order segment @p seg repeats delivered bytes (seq < next_seq): compare
 * them with what the retention window still holds.
 */
void reasm_overlap_delivered(struct reasm_assembler *a, struct reasm_conn *conn,
			     const struct reasm_segment *seg, uint64_t ts);
/* A record was pushed, next_seq now its end: keep its bytes in the retention window. */
void reasm_retain_record(struct reasm_pool *pool, const struct reasm_conn *conn,
			 const struct reasm_record *rec);

/* ---- connections: reasm_connection.c ---- */

/**
 * One connection. The first cache line holds what every packet updates, the
 * second what its rarer events (SYN, FIN, RST, a first A or D) touch; the
 * rest only opening and completing read. struct reasm_connection is built
 * from it for the callbacks (conv_publish()).
 */
struct reasm_conv {
	/* Every packet. */
	uint64_t last_seen;
	uint64_t packets[2];       /**< by half */
	uint64_t payload_bytes[2]; /**< by half */
	uint8_t hist_seen[2];      /**< HIST_* bits, per half */
	bool fin[2];               /**< the half sent a FIN */
	uint8_t client;            /**< the client's half */
	uint8_t roles;             /**< enum reasm_roles */
	uint8_t end;               /**< enum reasm_conn_end */
	uint8_t hist_len;
	uint32_t streams_open; /**< stream directions linked to it (conn->conv) */
	bool in_use;
	/* Events. */
	uint32_t last_syn[2] __rte_aligned(64); /**< for repeated S/H, F, R */
	uint32_t last_fin[2];
	uint32_t last_rst[2];
	char history[REASM_HISTORY_MAX + 1];
	uint64_t idle_key; /**< convs->idle, lazily, as the pool's */
	/* Opening and completing. */
	struct reasm_flow key;  /**< canonical: the lower address and port as src */
	struct reasm_flow flow; /**< half 0's direction */
	struct reasm_conn_link idle;
	void *ctx; /**< what conn_ops->open returned */
	uint64_t id;
	uint64_t first_seen;
	uint32_t zone_serial; /**< with zones: reasm_zone_serial() of its key's zone */
	uint32_t streams[2];
	struct reasm_stream_totals totals[2]; /**< its completed streams', summed, by half */
} __rte_aligned(64);

struct reasm_convs {
	struct rte_hash *table; /**< canonical key -> position in convs */
	struct reasm_conv *convs;
	uint8_t *privs; /**< max * priv_size */
	uint32_t max;
	uint32_t priv_size;
	uint32_t count;
	uint64_t next_id;
	const struct reasm_connection_ops *ops;
	void *ctx;
	struct reasm_conn_list idle;
	/** During a stream's open(): its connection (REASM_NO_CONN: none) and side. */
	uint32_t open_conv;
	uint8_t open_half;
	bool in_open; /**< a stream's open() is running */
};

/* Zeek's hist_seen bits (reasm_conv.hist_seen), per side. */
#define HIST_SYN 0x01
#define HIST_FIN 0x02
#define HIST_RST 0x04
#define HIST_DATA 0x08
#define HIST_ACK 0x10
#define HIST_MULTI 0x20
#define HIST_FIN_RST 0x40

/* The history letter of a first A or D of a side (reasm_connection.c). */
void reasm_conv_history_first(struct reasm_conv *cv, uint8_t half, uint8_t bit);

/*
 * The common packet, inline: its direction is open and linked to its
 * connection, and it has no SYN, FIN or RST (data or an ACK). Nothing to
 * decide but the history's first D or A of the side. @return false when the
 * packet needs reasm_conv_packet().
 */
static inline bool
reasm_conv_fast(struct reasm_convs *cs, const struct reasm_conn *dir,
		const struct reasm_segment *seg, uint64_t ts)
{
	struct reasm_conv *cv;
	uint8_t half, bit;

	if (dir == NULL || dir->conv == REASM_NO_CONN ||
	    (seg->flags & (REASM_TCP_SYN | REASM_TCP_FIN | REASM_TCP_RST)))
		return false;
	half = dir->conv_half;
	cv = &cs->convs[dir->conv];
	cv->packets[half]++;
	cv->payload_bytes[half] += seg->len + seg->cut;
	if (ts > cv->last_seen)
		cv->last_seen = ts;
	bit = seg->len + seg->cut > 0 ? HIST_DATA : (seg->flags & REASM_TCP_ACK) ? HIST_ACK : 0;
	if (unlikely(bit != 0 && !(cv->hist_seen[half] & bit)))
		reasm_conv_history_first(cv, half, bit);
	cs->open_conv = dir->conv;
	cs->open_half = half;
	return true;
}

int reasm_convs_create(struct reasm_pool *pool, const struct reasm_pool_conf *conf);
void reasm_convs_free(struct reasm_pool *pool);
/*
 * A TCP packet of @p flow (any: pure ACKs included), before the stream layer
 * sees it; @p dir is its stream direction if the bulk lookup found it open
 * (else NULL); @p encap its frame's (NULL: none known), for the open()
 * of a connection it starts. @return the packet's connection (REASM_NO_CONN: not tracked)
 * and in *@p half its side.
 */
uint32_t reasm_conv_packet(struct reasm_assembler *a, const struct reasm_flow *flow,
			   const struct reasm_conn *dir, const struct reasm_segment *seg,
			   uint64_t ts, const struct reasm_encap *encap, uint8_t *half);
/* A stream direction @p conn was just opened for connection @p cv's @p half. */
void reasm_conv_link(struct reasm_pool *pool, struct reasm_conn *conn, uint32_t cv, uint8_t half);
/* Stream direction @p conn completed with @p totals: add them to its connection. */
void reasm_conv_unlink(struct reasm_pool *pool, struct reasm_conn *conn,
		       const struct reasm_stream_totals *totals);
/* Complete the connections idle since before @p t (all with @p all) that have no open stream. */
unsigned int reasm_convs_flush(struct reasm_assembler *a, bool all, uint64_t t);

/* ---- parsing: reasm_parse.c (Ethernet, IP, TCP), reasm_decap.c (tunnels) ---- */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848
#define ETHERTYPE_PPPOE_SESSION 0x8864
#define ETHERTYPE_TEB 0x6558 /* transparent Ethernet bridging: an Ethernet frame */
#define ETHERTYPE_ERSPAN_2 0x88be
#define ETHERTYPE_ERSPAN_3 0x22eb
#define ETHERTYPE_PPP 0x880b

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_IPIP_ 4
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_IPV6_ 41
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_GRE_ 47
#define IPPROTO_AH_ 51
#define IPPROTO_DSTOPTS_ 60

static inline uint16_t
reasm_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
reasm_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/**
 * Where an IP layer leaves the parser: the transport bytes and their protocol.
 * When the parser returns drop_ipv4_fragment or drop_ipv6_fragment, p is the
 * fragment's IP header instead and len the bytes of its IP packet.
 */
struct reasm_l4 {
	const uint8_t *p;
	uint32_t len;
	uint8_t proto;
};

/** What the parser found in a frame. */
struct reasm_parsed {
	struct reasm_flow flow;   /**< the innermost IP layer's addresses, the TCP ports */
	struct reasm_segment seg; /**< payload points into the frame */
	struct reasm_encap encap;
	/** For drop_ipv4_fragment / drop_ipv6_fragment: the fragment's IP packet (p NULL: none). */
	struct reasm_l4 frag;
	/** With REASM_ENCAP_HANDED in encap.layers: what the shim of a handed-over datagram said. */
	struct reasm_encap handed;
};

/** encap.layers of a frame handed over by another assembler (internal, with parsed.handed). */
#define REASM_ENCAP_HANDED 0x8000
/** The layers struct reasm_encap shows users. */
#define REASM_ENCAP_PUBLIC (REASM_ENCAP_END - 1)

/*
 * A handed-over datagram whose fragments came in a tunnel or a VLAN travels as
 * a frame with a shim between Ethernet and IP: ethertype REASM_SHIM_ETHERTYPE
 * (IEEE 802 local experimental), this process's random cookie (8 bytes), the
 * encapsulation (layers, VLAN id, tunnel id: 8 bytes, host order), the IP
 * ethertype. The cookie keeps frames from the wire from passing for one.
 */
#define REASM_SHIM_ETHERTYPE 0x88b5
#define REASM_SHIM_LEN 18 /* the shim's bytes: its ethertype, the cookie, the encapsulation */
extern uint64_t reasm_shim_cookie; /* 0 until an assembler hands datagrams over */
enum reasm_counter reasm_parse_shim(const uint8_t *p, uint32_t len, uint32_t wire_len,
				    struct reasm_parsed *out, struct reasm_l4 *v,
				    uint32_t *anomalies);
/* Write the shim for @p e in the REASM_SHIM_LEN bytes before @p frame (its Ethernet frame). */
void reasm_shim_write(uint8_t *frame, const struct reasm_encap *e);

/* ---- zones: reasm_zone.c ---- */

#define REASM_ZONE_MAX ((1u << 24) - 1)
struct reasm_zone {
	uint32_t refs;       /**< open connections keyed in the zone */
	uint32_t prev, next; /**< the unused list (refs 0), by index; 0: none */
	uint64_t stamp;      /**< the burst chunk that last handed it out */
	uint32_t serial;     /**< bumped each time the index is given to another zone */
};
struct reasm_zones {
	struct rte_hash *table;   /**< {layers, VLAN, tunnel id} -> position (index - 1) */
	struct reasm_zone *zones; /**< max entries, by position */
	uint32_t max;
	uint32_t count;       /**< zones in the table */
	uint32_t unused_head; /**< oldest zone no connection holds */
	uint32_t unused_tail;
	uint64_t chunk; /**< bumped by every burst chunk */
};
int reasm_zones_create(struct reasm_pool *pool, uint32_t max, int socket_id);
void reasm_zones_free(struct reasm_pool *pool);
/** The zone of @p e (1..max), or 0 when every zone is held by open connections. */
uint32_t reasm_zone_of(struct reasm_zones *z, const struct reasm_encap *e);
void reasm_zone_hold(struct reasm_zones *z, uint32_t idx);
/** Which use of zone index @p idx this is: it changes when the index is recycled. */
static inline uint32_t
reasm_zone_serial(const struct reasm_zones *z, uint32_t idx)
{
	return z->zones[idx - 1].serial;
}
void reasm_zone_release(struct reasm_zones *z, uint32_t idx);

static inline uint32_t
reasm_flow_zone_get(const struct reasm_flow *f)
{
	return (uint32_t)f->zone[0] | (uint32_t)f->zone[1] << 8 | (uint32_t)f->zone[2] << 16;
}

static inline void
reasm_flow_zone_set(struct reasm_flow *f, uint32_t zone)
{
	f->zone[0] = (uint8_t)zone;
	f->zone[1] = (uint8_t)(zone >> 8);
	f->zone[2] = (uint8_t)(zone >> 16);
}
/** Anomalies of a frame that is still assembled (bits of reasm_parse_frame's *anomalies). */
#define ANOMALY_IP_LEN 1u     /**< ip_len_past_frame */
#define ANOMALY_FLAGS 0xffu   /**< the bits above; those from ANOMALY_CUT_SHIFT up: */
#define ANOMALY_CUT_SHIFT 8   /**< ... with ip_len_past_frame, the bytes the frame lacks */
#define ANOMALY_TCP_OFFSET 2u /**< tcp_bad_offset */

/**
 * Parse an Ethernet frame of which @p len bytes are at @p frame and
 * @p wire_len were received (more if the frame was cut). @return REASM_CTR_MAX
 * when the frame is a TCP segment to assemble (and fill @p out), else the drop
 * counter to bump. *@p anomalies gets ANOMALY_* bits to count as well (and
 * the bytes cut, from ANOMALY_CUT_SHIFT up: the caller copies them to seg.cut).
 */
/*
 * The key of an untagged Ethernet / plain IPv4 / TCP frame, as
 * reasm_parse_frame() would give it; false for any other frame (then parse it
 * with reasm_parse_frame()). For callers that need the key alone.
 */
bool reasm_parse_plain_flow(const uint8_t *frame, uint32_t len, struct reasm_flow *flow);

enum reasm_counter reasm_parse_frame(const uint8_t *frame, uint32_t len, uint32_t wire_len,
				     struct reasm_parsed *out, uint32_t *anomalies);

/*
 * One IP layer of @p avail bytes at @p ip (@p wire: what the frame claims, for
 * IPv4's total length 0): fill @p flow's addresses and @p v with what follows.
 * @return REASM_CTR_MAX, or the drop counter.
 */
enum reasm_counter reasm_parse_ipv4(const uint8_t *ip, uint32_t avail, uint32_t wire,
				    struct reasm_flow *flow, struct reasm_l4 *v,
				    uint32_t *anomalies);
enum reasm_counter reasm_parse_ipv6(const uint8_t *ip, uint32_t avail, struct reasm_flow *flow,
				    struct reasm_l4 *v, uint32_t *anomalies);

/*
 * An Ethernet frame (VLAN tags, MPLS, PPPoE) down to its first IP layer:
 * fill @p out's addresses and encap, and @p v with what the IP layer carries.
 * @return REASM_CTR_MAX, or the drop counter.
 */
enum reasm_counter reasm_parse_ethernet(const uint8_t *frame, uint32_t len, uint32_t wire_len,
					struct reasm_parsed *out, struct reasm_l4 *v,
					uint32_t *anomalies);

/* ---- IP defragmentation (reasm_defrag.c) ---------------------------- */

/** Bytes of a first fragment's IP header (with IPv6 extension headers) kept for the rebuild. */
#define REASM_DEFRAG_HDR_MAX 512
/** Largest datagram payload: IPv4's total length and IPv6's payload length are 16 bits. */
#define REASM_DEFRAG_DATAGRAM_MAX 65535
/** Bytes of the buffer a reassembled datagram is rebuilt in: Ethernet, header, payload. */
#define REASM_DEFRAG_BUF_BYTES (14 + REASM_DEFRAG_HDR_MAX + REASM_DEFRAG_DATAGRAM_MAX)

/** What identifies a datagram (RFC 791 / RFC 8200): the rte_hash key. */
struct reasm_dgram_key {
	uint8_t family; /**< 4 or 6 */
	uint8_t proto;  /**< IPv4 protocol; 0 for IPv6 */
	uint16_t reserved;
	uint32_t id; /**< identification: 16 bits in IPv4, 32 in IPv6 */
	uint8_t src[16];
	uint8_t dst[16];
};

/** A datagram being reassembled: its pieces, disjoint, in pages sorted by offset. */
struct reasm_dgram {
	struct reasm_dgram_key key;
	uint64_t first_seen; /**< time of its first fragment: the timeout runs from it */
	uint32_t end;        /**< payload bytes, once the last fragment came; else UINT32_MAX */
	uint32_t held;       /**< payload bytes held */
	uint32_t fifo_prev;  /**< the datagrams in arrival order (timeouts) */
	uint32_t fifo_next;
	uint16_t nfrags;  /**< fragments taken */
	uint16_t hdr_len; /**< bytes of hdr: the IP header, IPv6's up to its fragment header */
	uint16_t next_header_at; /**< IPv6: the byte of hdr naming the fragment header */
	uint8_t next_header;     /**< IPv6: what the fragment header says follows it */
	bool in_use;
	bool have_first;          /**< the fragment at offset 0 came: hdr is filled */
	struct reasm_encap encap; /**< of the first fragment seen */
	struct reasm_page *first;
	uint8_t hdr[REASM_DEFRAG_HDR_MAX];
};

/** One assembler's defragmenter. */
struct reasm_defrag {
	struct reasm_defrag_conf conf;
	struct rte_hash *table;     /**< key -> index in dgrams */
	struct reasm_dgram *dgrams; /**< conf.max_datagrams */
	uint32_t fifo_head;         /**< oldest datagram, or REASM_NO_CONN */
	uint32_t fifo_tail;
	uint32_t pages; /**< pages the datagrams hold */
	uint64_t clock; /**< newest timestamp seen */
	uint8_t *buf;   /**< REASM_DEFRAG_BUF_BYTES: the rebuilt datagram */
};

/* reasm_defrag.c */
int reasm_defrag_create(struct reasm_assembler *a, const struct reasm_defrag_conf *conf,
			int socket_id);
void reasm_defrag_free(struct reasm_assembler *a);
/*
 * A fragment: @p frag is its IP packet (p: the header, len: the bytes it has),
 * found with @p encap around it. @return 0 (held, or dropped and counted), or
 * the length of the frame rebuilt in a->defrag->buf once the datagram is
 * complete (valid until the next fragment completes another); then @p encap
 * becomes what surrounded the datagram's first fragment.
 */
uint32_t reasm_defrag_fragment(struct reasm_assembler *a, const struct reasm_l4 *frag,
			       struct reasm_encap *encap, uint64_t ts);
/* Drop the datagrams not complete by @p now (or the newest time seen) minus the timeout. */
void reasm_defrag_expire(struct reasm_assembler *a, uint64_t now);
/* Drop every datagram being reassembled (reasm_flush_all). */
void reasm_defrag_drop_all(struct reasm_assembler *a);

/* reasm_decap.c */
/** Nested encapsulations the parser follows before it gives up (drop_tunnel_too_deep). */
#define REASM_MAX_ENCAP_DEPTH 8
/** VLAN tags in a row it follows (drop_vlan_too_deep). */
#define REASM_MAX_VLAN_TAGS 16

/*
 * A frame whose outer ethertype @p type (at @p p, @p len bytes on) is not IP:
 * MPLS or a PPPoE session. Decode down to the IP layer and fill @p v.
 * @return REASM_CTR_MAX, or the drop counter.
 */
enum reasm_counter reasm_decap_ethertype(uint16_t type, const uint8_t *p, uint32_t len,
					 struct reasm_parsed *out, struct reasm_l4 *v,
					 uint32_t *anomalies);
/*
 * @p v is an IP layer's payload that is not TCP: follow tunnels (IP in IP,
 * GRE, ERSPAN, VXLAN, Geneve, GTP-U, and what they carry) down to TCP.
 * @return REASM_CTR_MAX with @p v at the innermost TCP header and @p out's
 *   flow addresses the innermost IP layer's, or the drop counter.
 */
enum reasm_counter reasm_decap_l4(struct reasm_parsed *out, struct reasm_l4 *v,
				  uint32_t *anomalies);

#endif /* REASM_PRIVATE_H */
