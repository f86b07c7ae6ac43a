/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The burst entry point: take the frames of a burst in chunks of up to
 * RTE_HASH_LOOKUP_BULK_MAX, gather chained mbufs, prefetch ahead, parse each
 * frame (reasm_parse.c), look the chunk's keys up in bulk, and assemble each
 * segment in order (reasm_assembler.c). Also reasm_flow_of_mbuf(), which
 * parses a frame the same way for callers that spread frames themselves.
 *
 * Counters: the ones every packet moves are tallied in locals (pkts,
 * pkts_tcp) or in the assembler's tally (segments, payload and delivered
 * bytes) and published once per chunk; those of rare events (drops,
 * anomalies) are stored where they happen.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_per_lcore.h>
#include <rte_prefetch.h>

#include "reasm_private.h"

/*
 * Copy up to @max bytes of a chained mbuf into @buf, trusting each segment's
 * data_len rather than the head's pkt_len (some PMDs get the latter wrong).
 * Returns the bytes copied.
 */
static uint32_t
gather(const struct rte_mbuf *m, uint8_t *buf, uint32_t max)
{
	uint32_t n = 0;

	for (; m != NULL && n < max; m = m->next) {
		uint32_t take = RTE_MIN((uint32_t)rte_pktmbuf_data_len(m), max - n);

		memcpy(buf + n, rte_pktmbuf_mtod(m, const uint8_t *), take);
		n += take;
	}
	return n;
}

/*
 * The frame's bytes: the mbuf's own for one segment, gathered otherwise.
 * *wire is the length the frame claims (pkt_len); a frame whose segments
 * hold less, or more than the gather buffer, is parsed cut and counted.
 */
static const uint8_t *
frame_bytes(struct reasm_assembler *a, const struct rte_mbuf *m, uint32_t *len, uint32_t *wire)
{
	*wire = rte_pktmbuf_pkt_len(m);
	if (m->nb_segs == 1) {
		*len = rte_pktmbuf_data_len(m);
		return rte_pktmbuf_mtod(m, const uint8_t *);
	}
	*len = gather(m, a->scratch, REASM_SCRATCH_BYTES);
	if (*len < *wire)
		reasm_ctr_add(a, REASM_CTR_frame_cut, 1);
	return a->scratch;
}

/* Count a frame's anomalies; the bytes it lacks go to its segment (@p seg->cut). */
static void
count_anomalies(struct reasm_assembler *a, uint32_t anomalies, struct reasm_segment *seg)
{
	seg->cut = anomalies >> ANOMALY_CUT_SHIFT;
	if (anomalies & ANOMALY_IP_LEN) {
		reasm_ctr_add(a, REASM_CTR_ip_len_past_frame, 1);
		reasm_ctr_add(a, REASM_CTR_ip_len_past_frame_bytes, anomalies >> ANOMALY_CUT_SHIFT);
	}
	if (anomalies & ANOMALY_TCP_OFFSET)
		reasm_ctr_add(a, REASM_CTR_tcp_bad_offset, 1);
}

#define ENCAP_TUNNELS (REASM_ENCAP_PUBLIC & ~REASM_ENCAP_VLAN)

/* What was around a frame's own layers (@p outer) added to them (@p inner). */
static void
encap_merge(struct reasm_encap *inner, const struct reasm_encap *outer)
{
	if (outer->layers & REASM_ENCAP_VLAN)
		inner->vlan = outer->vlan; /* the outermost */
	if (!(inner->layers & ENCAP_TUNNELS))
		inner->tunnel_id = outer->tunnel_id; /* the innermost */
	inner->layers = (uint16_t)((inner->layers & REASM_ENCAP_PUBLIC) |
				   (outer->layers & REASM_ENCAP_PUBLIC));
}

/*
 * A segment that came in a VLAN or a tunnel (or handed over with them): count
 * the tunnels removed here, complete the encapsulation of a handed-over
 * datagram, and with zones put the segment in its zone.
 * @return false when it is dropped (drop_zone_table_full).
 */
static bool
encap_seen(struct reasm_assembler *a, struct reasm_parsed *p)
{
	struct reasm_zones *zones = a->pool->zones;
	uint32_t zone;

	if (p->encap.layers & ENCAP_TUNNELS)
		reasm_ctr_add(a, REASM_CTR_pkts_decap, 1);
	if (p->encap.layers & REASM_ENCAP_HANDED)
		encap_merge(&p->encap, &p->handed);
	if (likely(zones == NULL))
		return true;
	zone = reasm_zone_of(zones, &p->encap);
	if (zone == 0) {
		reasm_ctr_add(a, REASM_CTR_drop_zone_table_full, 1);
		return false;
	}
	reasm_flow_zone_set(&p->flow, zone);
	return true;
}

/* Hand a datagram whose connection is another assembler's over, with what was around it. */
static void
hand_over(struct reasm_assembler *a, const struct reasm_encap *around, uint32_t len, uint64_t ts)
{
	const struct reasm_defrag_conf *conf = &a->defrag->conf;
	struct reasm_encap e = *around;
	uint8_t *frame = a->defrag->buf;

	e.layers &= REASM_ENCAP_PUBLIC;
	if (e.layers & ENCAP_TUNNELS) /* removed here: those inside it are the owner's */
		reasm_ctr_add(a, REASM_CTR_pkts_decap, 1);
	if (e.layers != 0) {
		reasm_shim_write(frame, &e);
		frame -= REASM_SHIM_LEN;
		len += REASM_SHIM_LEN;
	}
	conf->handoff(conf->steer_ctx, frame, len, ts);
	reasm_ctr_add(a, REASM_CTR_defrag_handoffs, 1);
}

/*
 * A fragment (@p p->frag) to the defragmenter; when it completes a datagram,
 * parse that (again, if it holds another fragmented layer) into @p p.
 * @return true when @p p is a TCP segment to assemble here.
 */
static __rte_noinline bool
defragment(struct reasm_assembler *a, struct reasm_parsed *p, uint64_t ts)
{
	const struct reasm_defrag_conf *conf = &a->defrag->conf;
	struct reasm_encap encap = p->encap;
	enum reasm_counter c;
	uint32_t len, anomalies;

	for (;;) {
		len = reasm_defrag_fragment(a, &p->frag, &encap, ts);
		if (len == 0)
			return false;
		c = reasm_parse_frame(a->defrag->buf, len, len, p, &anomalies);
		if (c == REASM_CTR_MAX)
			break;
		if (p->frag.p == NULL ||
		    (c != REASM_CTR_drop_ipv4_fragment && c != REASM_CTR_drop_ipv6_fragment)) {
			reasm_ctr_add(a, c, 1);
			return false;
		}
		/* A fragment inside the datagram just rebuilt (an inner one): its bytes are
		 * copied before the buffer is reused. */
		p->encap.layers |= encap.layers;
		encap = p->encap;
	}
	if (anomalies != 0)
		count_anomalies(a, anomalies, &p->seg);
	if (conf->owns != NULL && !conf->owns(conf->steer_ctx, &p->flow)) {
		hand_over(a, &encap, len, ts);
		return false;
	}
	/* What surrounded the first fragment, and what the datagram itself holds. */
	encap_merge(&p->encap, &encap);
	return p->encap.layers == 0 || encap_seen(a, p);
}

#define PREFETCH_MBUF 8
#define PREFETCH_DATA 4

/*
 * A found connection, and the first line of its callbacks' per-stream area
 * (reasm_pool_conf.stream_priv_size), which the data callback is about to
 * read: both sit in arrays indexed by the table position, so neither waits
 * for the other.
 */
static inline void
prefetch_conn(const struct reasm_pool *pool, uint32_t pos)
{
	rte_prefetch0(&pool->conns[pos]);
	rte_prefetch0((const uint8_t *)&pool->conns[pos] + RTE_CACHE_LINE_SIZE);
	if (pool->privs != NULL)
		rte_prefetch0(pool->privs + (size_t)pos * pool->stream_priv_size);
}

/*
 * With connections: the connection of the direction at @p pos (its line was
 * prefetched with the lookup), a packet ahead of its use.
 */
static inline void
prefetch_conv(const struct reasm_pool *pool, int32_t pos)
{
	uint32_t idx;

	if (pos < 0 || (uint32_t)pos >= pool->max_conns)
		return;
	idx = pool->conns[pos].conv;
	if (idx < pool->convs->max)
		rte_prefetch0(&pool->convs->convs[idx]);
}

/* The frame's first two cache lines: Ethernet, IP and TCP headers with options. */
static inline void
prefetch_frame(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

	rte_prefetch0(p);
	rte_prefetch0(p + RTE_CACHE_LINE_SIZE);
}

/* The chunk's segments with connections on: each packet's connection, then its stream. */
static __rte_noinline void
assemble_with_connections(struct reasm_assembler *a, const struct reasm_parsed *parsed,
			  const hash_sig_t *hashes, const int32_t *positions, const uint16_t *which,
			  unsigned int ntcp, uint64_t generation, const uint64_t *timestamps,
			  uint64_t now_ns)
{
	struct reasm_pool *pool = a->pool;
	unsigned int i;

	for (i = 0; i < ntcp; i++) {
		bool final = generation == pool->generation; /* single-writer: see above */
		uint64_t ts = timestamps != NULL ? timestamps[which[i]] : now_ns;

		if (i + 1 < ntcp)
			prefetch_conv(pool, positions[i + 1]);
		/* A direction it checked is final for the assembler too. */
		if (reasm_conv_step(a, &parsed[i].flow, positions[i], final, &parsed[i].seg, ts))
			final = true;
		reasm_assemble_conn(a, &parsed[i].flow, hashes[i], positions[i], final,
				    &parsed[i].seg, ts);
	}
}

/* Parse up to RTE_HASH_LOOKUP_BULK_MAX frames, look them up, assemble them. */
static unsigned int
assemble_chunk(struct reasm_assembler *a, struct rte_mbuf *const *pkts, uint16_t n,
	       const uint64_t *timestamps, uint64_t now_ns, uint16_t *consumed,
	       struct reasm_stage_clock *clk)
{
	struct reasm_parsed parsed[RTE_HASH_LOOKUP_BULK_MAX];
	const void *keys[RTE_HASH_LOOKUP_BULK_MAX];
	hash_sig_t hashes[RTE_HASH_LOOKUP_BULK_MAX];
	int32_t positions[RTE_HASH_LOOKUP_BULK_MAX];
	uint16_t which[RTE_HASH_LOOKUP_BULK_MAX];
	struct reasm_pool *pool = a->pool;
	unsigned int ntcp = 0, i;
	uint64_t generation;

	if (unlikely(pool->zones != NULL))
		pool->zones->chunk++; /* zones handed out from now on stay until it is assembled */
	/* Mbuf headers PREFETCH_MBUF ahead, their frames PREFETCH_DATA ahead. */
	for (i = 0; i < n && i < PREFETCH_MBUF; i++)
		rte_prefetch0(pkts[i]);
	for (i = 0; i < n && i < PREFETCH_DATA; i++)
		prefetch_frame(pkts[i]);
	for (i = 0; i < n; i++) {
		enum reasm_counter drop;
		uint32_t anomalies, len, wire;
		const uint8_t *frame;

		if (i + PREFETCH_MBUF < n)
			rte_prefetch0(pkts[i + PREFETCH_MBUF]);
		if (i + PREFETCH_DATA < n)
			prefetch_frame(pkts[i + PREFETCH_DATA]);
		if (pkts[i]->nb_segs > 1 && ntcp > 0)
			break; /* the scratch buffer may be in use: finish this chunk first */
		frame = frame_bytes(a, pkts[i], &len, &wire);
		drop = reasm_parse_frame(frame, len, wire, &parsed[ntcp], &anomalies);
		if (unlikely(drop != REASM_CTR_MAX)) {
			if (a->defrag == NULL || parsed[ntcp].frag.p == NULL ||
			    (drop != REASM_CTR_drop_ipv4_fragment &&
			     drop != REASM_CTR_drop_ipv6_fragment)) {
				reasm_ctr_add(a, drop, 1);
				continue;
			}
			if (!defragment(a, &parsed[ntcp],
					timestamps != NULL ? timestamps[i] : now_ns))
				continue;
			/* A datagram completed: its segment is in the defrag buffer, which the
			 * next one would overwrite: assemble this chunk first. */
			keys[ntcp] = &parsed[ntcp].flow;
			which[ntcp] = (uint16_t)i;
			ntcp++;
			i++;
			break;
		}
		if (unlikely(anomalies != 0))
			count_anomalies(a, anomalies, &parsed[ntcp].seg);
		if (unlikely(parsed[ntcp].encap.layers != 0) && !encap_seen(a, &parsed[ntcp]))
			continue;
		keys[ntcp] = &parsed[ntcp].flow;
		which[ntcp] = (uint16_t)i;
		ntcp++;
		if (pkts[i]->nb_segs > 1) {
			i++;
			break; /* assemble it before the scratch buffer is reused */
		}
	}
	*consumed = (uint16_t)i;
	reasm_ctr_add(a, REASM_CTR_pkts, i);
	reasm_ctr_add(a, REASM_CTR_pkts_tcp, ntcp);
	if (clk != NULL) {
		clk->sum.chunks++;
		clk->sum.pkts += i;
		reasm_stage_mark(clk, &clk->sum.parse_cycles);
	}

	if (pool->mode == REASM_POOL_SHARED)
		rte_rwlock_read_lock(&pool->table_lock);
	generation = pool->generation;
	for (i = 0; i < ntcp; i++) /* once per packet: the lookup, adds and deletes reuse it */
		hashes[i] = reasm_flow_hash_inline(&parsed[i].flow);
	if (ntcp > 0)
		rte_hash_lookup_with_hash_bulk(pool->table, keys, hashes, ntcp, positions);
	if (pool->mode == REASM_POOL_SHARED)
		rte_rwlock_read_unlock(&pool->table_lock);
	for (i = 0; i < ntcp; i++)
		if (positions[i] >= 0 && (uint32_t)positions[i] < pool->max_conns)
			prefetch_conn(pool, (uint32_t)positions[i]);
	if (clk != NULL)
		reasm_stage_mark(clk, &clk->sum.lookup_cycles);

	a->in_burst = true; /* open() may ask for the frames' encapsulation */
	if (likely(pool->convs == NULL)) {
		for (i = 0; i < ntcp; i++) {
			/* The lookup's answer stands while no key was added or removed since. */
			bool final = pool->mode == REASM_POOL_SINGLE_WRITER &&
				     generation == pool->generation;
			uint64_t ts = timestamps != NULL ? timestamps[which[i]] : now_ns;

			reasm_assemble_conn(a, &parsed[i].flow, hashes[i], positions[i], final,
					    &parsed[i].seg, ts);
		}
	} else {
		assemble_with_connections(a, parsed, hashes, positions, which, ntcp, generation,
					  timestamps, now_ns);
	}
	a->in_burst = false;
	reasm_tally_publish(a);
	if (clk != NULL)
		reasm_stage_mark(clk, &clk->sum.assemble_cycles);
	return ntcp;
}

/* Datagrams not complete a timeout after their first fragment, by the burst's newest time. */
static void
expire_fragments(struct reasm_assembler *a, const uint64_t *timestamps, uint16_t n, uint64_t now_ns)
{
	uint64_t newest = 0;
	uint16_t i;

	if (timestamps == NULL)
		newest = now_ns;
	for (i = 0; timestamps != NULL && i < n; i++)
		newest = RTE_MAX(newest, timestamps[i]);
	reasm_defrag_expire(a, newest);
	reasm_tally_publish(a);
}

/* Add a timed burst's stage cycles to what the assembler publishes. */
static void
stages_publish(struct reasm_assembler *a, const struct reasm_stage_clock *clk)
{
	struct reasm_stage_stats *st = &a->stages;

	__atomic_store_n(&st->bursts, st->bursts + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&st->chunks, st->chunks + clk->sum.chunks, __ATOMIC_RELAXED);
	__atomic_store_n(&st->pkts, st->pkts + clk->sum.pkts, __ATOMIC_RELAXED);
	__atomic_store_n(&st->parse_cycles, st->parse_cycles + clk->sum.parse_cycles,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&st->lookup_cycles, st->lookup_cycles + clk->sum.lookup_cycles,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&st->assemble_cycles, st->assemble_cycles + clk->sum.assemble_cycles,
			 __ATOMIC_RELAXED);
}

unsigned int
reasm_assemble_burst(struct reasm_assembler *a, struct rte_mbuf *const *pkts, uint16_t n,
		     const uint64_t *timestamps, uint64_t now_ns)
{
	struct reasm_stage_clock clock, *clk = NULL;
	unsigned int done = 0, tcp = 0;

	if (a == NULL || (pkts == NULL && n > 0))
		return 0;
	if (unlikely(__atomic_load_n(&a->time_stages, __ATOMIC_RELAXED))) {
		memset(&clock, 0, sizeof(clock));
		clock.tsc = rte_rdtsc();
		clk = &clock;
	}
	while (done < n) {
		uint16_t chunk = (uint16_t)RTE_MIN(n - done,
						   (unsigned int)RTE_HASH_LOOKUP_BULK_MAX);
		uint16_t consumed;

		tcp += assemble_chunk(a, pkts + done, chunk,
				      timestamps != NULL ? timestamps + done : NULL, now_ns,
				      &consumed, clk);
		done += consumed;
	}
	if (unlikely(a->defrag != NULL))
		expire_fragments(a, timestamps, n, now_ns);
	if (unlikely(clk != NULL)) {
		reasm_stage_mark(clk, &clk->sum.assemble_cycles);
		stages_publish(a, clk);
	}
	return tcp;
}

/*
 * A chained frame whose headers (options may run far, as gopacket reads
 * them) do not parse from its first KiB is parsed again from all of it, as
 * the burst path would: in a per-thread buffer taken once, on first need.
 */
static RTE_DEFINE_PER_LCORE(uint8_t *, flow_gather_buf);

static const uint8_t *
gather_whole(const struct rte_mbuf *m, uint32_t *len)
{
	uint8_t *buf = RTE_PER_LCORE(flow_gather_buf);

	if (buf == NULL) {
		buf = malloc(REASM_SCRATCH_BYTES);
		if (buf == NULL)
			return NULL;
		RTE_PER_LCORE(flow_gather_buf) = buf;
	}
	*len = gather(m, buf, REASM_SCRATCH_BYTES);
	return buf;
}

/* Parse @p m as the burst path would, into @p parsed; the parser's verdict. */
static int
parse_mbuf(const struct rte_mbuf *m, struct reasm_parsed *parsed, enum reasm_counter *c)
{
	uint8_t copy[1024];
	uint32_t anomalies;
	const uint8_t *frame;
	uint32_t len;

	if (m->nb_segs == 1) {
		len = rte_pktmbuf_data_len(m);
		frame = rte_pktmbuf_mtod(m, const uint8_t *);
	} else {
		/* Headers only, usually: the payload is not needed for the key. */
		len = gather(m, copy, sizeof(copy));
		frame = copy;
	}
	*c = reasm_parse_frame(frame, len, rte_pktmbuf_pkt_len(m), parsed, &anomalies);
	if (*c != REASM_CTR_MAX && frame == copy && rte_pktmbuf_pkt_len(m) > sizeof(copy)) {
		frame = gather_whole(m, &len);
		if (frame == NULL)
			return -ENOMEM;
		*c = reasm_parse_frame(frame, len, rte_pktmbuf_pkt_len(m), parsed, &anomalies);
	}
	return 0;
}

int
reasm_flow_of_mbuf(const struct rte_mbuf *m, struct reasm_flow *flow)
{
	struct reasm_parsed parsed;
	enum reasm_counter c;
	int rc;

	if (m == NULL || flow == NULL)
		return -EINVAL;
	if (likely(m->nb_segs == 1) && reasm_parse_plain_flow(rte_pktmbuf_mtod(m, const uint8_t *),
							      rte_pktmbuf_data_len(m), flow))
		return 0;
	rc = parse_mbuf(m, &parsed, &c);
	if (rc < 0)
		return rc;
	if (c != REASM_CTR_MAX)
		return -EINVAL;
	*flow = parsed.flow;
	return 0;
}

int
reasm_spread_key_of_mbuf(const struct rte_mbuf *m, struct reasm_flow *key)
{
	struct reasm_parsed parsed;
	enum reasm_counter c;
	const uint8_t *ip;
	int rc;

	if (m == NULL || key == NULL)
		return -EINVAL;
	rc = parse_mbuf(m, &parsed, &c);
	if (rc < 0)
		return rc;
	if (c == REASM_CTR_MAX) {
		*key = parsed.flow;
		return 0;
	}
	if ((c != REASM_CTR_drop_ipv4_fragment && c != REASM_CTR_drop_ipv6_fragment) ||
	    parsed.frag.p == NULL)
		return -EINVAL;
	/* A fragment: the addresses of the IP layer it fragments, no ports. */
	ip = parsed.frag.p;
	if ((ip[0] >> 4) == 4)
		reasm_flow_ipv4(key, ip + 12, ip + 16, 0, 0);
	else
		reasm_flow_ipv6(key, ip + 8, ip + 24, 0, 0);
	return 1;
}
