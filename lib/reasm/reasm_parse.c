/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The burst entry point: parse Ethernet frames down to TCP, look the keys up
 * in bulk, assemble each segment in order.
 *
 * The parser accepts and rejects exactly what gopacket's decoders do, so
 * that reasm and gopacket see the same segments on any capture: no IP
 * version check, IPv4 total length 0 taken as "the rest of the frame",
 * IP lengths past the frame cut to the frame, malformed IPv4 options
 * rejected, and a TCP header whose data offset is out of range still
 * carrying its flags (with an empty payload). Every byte read is checked
 * against the frame length first.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_per_lcore.h>
#include <rte_prefetch.h>

#include "reasm_private.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_TCP_ 6
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_DSTOPTS_ 60

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Where the IP layer leaves us: the transport bytes and their protocol. */
struct l4_view {
	const uint8_t *p;
	uint32_t len;
	uint8_t proto;
};

/* gopacket's IPv4 option walk; false if an option is malformed. */
static bool
ipv4_options_ok(const uint8_t *opt, uint32_t len)
{
	while (len > 0) {
		uint8_t type = opt[0], olen;

		if (type == 0)
			return true; /* end of options; the rest is padding */
		if (type == 1) {
			opt++;
			len--;
			continue;
		}
		if (len < 2)
			return false;
		olen = opt[1];
		if (olen > len || olen <= 2)
			return false;
		opt += olen;
		len -= olen;
	}
	return true;
}

/*
 * gopacket's walk of the TLV options of a hop-by-hop or destination-options
 * header of @hlen bytes: options start at byte 2 and run while their offset
 * is inside the header, but each is checked against all @avail bytes left in
 * the packet (an option may run past its header; a final Pad1 needs two
 * bytes). Sets *jumbo if a valid Jumbo Payload option is present.
 */
static bool
tlv_options_ok(const uint8_t *h, uint32_t hlen, uint32_t avail, bool *jumbo, bool *jumbo_bad)
{
	uint32_t off = 2, olen;
	bool seen_jumbo = false;

	*jumbo = *jumbo_bad = false;
	while (off < hlen) {
		if (avail - off < 2)
			return false;
		if (h[off] == 0) {
			off++;
			continue;
		}
		olen = (uint32_t)h[off + 1] + 2;
		if (olen > avail - off)
			return false;
		if (h[off] == 0xC2 && !seen_jumbo) { /* the first Jumbo Payload option counts */
			seen_jumbo = true;
			if (h[off + 1] != 4 || rd32(h + off + 2) <= 65535)
				*jumbo_bad = true;
			else
				*jumbo = true;
		}
		off += olen;
	}
	return true;
}

/* Length of a generic extension header (8-byte units + 8); false if it runs off. */
static bool
ext_header_len(const struct l4_view *v, uint32_t *hlen)
{
	if (v->len < 2)
		return false;
	*hlen = ((uint32_t)v->p[1] + 1) * 8;
	return v->len >= *hlen;
}

/*
 * Skip one IPv6 extension header (also reached from IPv4, whose protocol
 * field gopacket decodes the same way) with gopacket's checks.
 */
static enum reasm_counter
skip_ext_header(struct l4_view *v)
{
	uint32_t hlen;
	bool jumbo, jumbo_bad;

	if (v->proto == IPPROTO_AH_) {
		/* RFC 4302: at least 12 bytes, length in 4-byte words + 2. */
		if (v->len < 12)
			return REASM_CTR_drop_ipv6_ext_truncated;
		hlen = ((uint32_t)v->p[1] + 2) * 4;
		if (hlen < 12 || v->len < hlen)
			return REASM_CTR_drop_ipv6_ext_truncated;
	} else {
		if (!ext_header_len(v, &hlen))
			return REASM_CTR_drop_ipv6_ext_truncated;
		if (v->proto == IPPROTO_ROUTING_) {
			/* gopacket knows only type 0 source routing, 16-byte addresses. */
			if (v->p[2] != 0 || (hlen - 8) % 16 != 0)
				return REASM_CTR_drop_ipv6_bad_header;
		} else if (!tlv_options_ok(v->p, hlen, v->len, &jumbo, &jumbo_bad)) {
			return REASM_CTR_drop_ipv6_bad_header;
		}
	}
	v->proto = v->p[0];
	v->p += hlen;
	v->len -= hlen;
	return REASM_CTR_MAX;
}

/* Walk extension headers until something that is not one. */
static enum reasm_counter
walk_ext_headers(struct l4_view *v)
{
	for (;;) {
		enum reasm_counter c;

		switch (v->proto) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_AH_:
			c = skip_ext_header(v);
			if (c != REASM_CTR_MAX)
				return c;
			break;
		case IPPROTO_FRAGMENT_:
			return REASM_CTR_drop_ipv6_fragment;
		default:
			return REASM_CTR_MAX;
		}
	}
}

static enum reasm_counter
parse_ipv4(const uint8_t *ip, uint32_t avail, uint32_t wire, struct reasm_flow *flow,
	   struct l4_view *v, uint32_t *anomalies)
{
	uint32_t ihl, total;
	uint16_t frag;

	if (avail < 20)
		return REASM_CTR_drop_ipv4_truncated;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	total = rd16(ip + 2);
	if (total == 0)
		total = (uint16_t)wire; /* TSO: gopacket takes the frame length, as a uint16 */
	if (total < 20 || ihl < 20 || ihl > total)
		return REASM_CTR_drop_ipv4_bad_header;
	if (total > avail) {
		if (ihl > avail)
			return REASM_CTR_drop_ipv4_truncated;
		*anomalies |= ANOMALY_IP_LEN;
		total = avail;
	}
	if (!ipv4_options_ok(ip + 20, ihl - 20))
		return REASM_CTR_drop_ipv4_bad_header;
	frag = rd16(ip + 6);
	if ((frag & 0x2000) || (frag & 0x1fff))
		return REASM_CTR_drop_ipv4_fragment;
	reasm_flow_fill(flow, REASM_FAMILY_IPV4, ip + 12, ip + 16, 4);
	v->p = ip + ihl;
	v->len = total - ihl;
	v->proto = ip[9];
	return v->proto == IPPROTO_TCP_ ? REASM_CTR_MAX : walk_ext_headers(v);
}

/*
 * A leading hop-by-hop header, as gopacket decodes it inside the IPv6
 * layer: options checked against the rest of the frame, payload length 0
 * only with a valid Jumbo Payload option and vice versa, and the transport
 * then gets everything after the header up to the end of the frame (the
 * payload length is not applied).
 */
static enum reasm_counter
ipv6_hop_by_hop(struct l4_view *v, uint32_t plen)
{
	uint32_t hlen;
	bool jumbo, jumbo_bad;

	if (!ext_header_len(v, &hlen))
		return REASM_CTR_drop_ipv6_ext_truncated;
	if (!tlv_options_ok(v->p, hlen, v->len, &jumbo, &jumbo_bad) || jumbo_bad ||
	    jumbo != (plen == 0))
		return REASM_CTR_drop_ipv6_bad_header;
	v->proto = v->p[0];
	v->p += hlen;
	v->len -= hlen;
	return REASM_CTR_MAX;
}

static enum reasm_counter
parse_ipv6(const uint8_t *ip, uint32_t avail, struct reasm_flow *flow, struct l4_view *v,
	   uint32_t *anomalies)
{
	uint32_t plen;
	enum reasm_counter c;

	if (avail < 40)
		return REASM_CTR_drop_ipv6_truncated;
	plen = rd16(ip + 4);
	v->p = ip + 40;
	v->len = avail - 40;
	v->proto = ip[6];
	if (plen > v->len)
		*anomalies |= ANOMALY_IP_LEN;
	if (v->proto == IPPROTO_HOPOPTS_) {
		c = ipv6_hop_by_hop(v, plen);
		if (c != REASM_CTR_MAX)
			return c;
	} else if (plen == 0) {
		return REASM_CTR_drop_ipv6_bad_header;
	} else if (plen < v->len) {
		v->len = plen;
	}
	reasm_flow_fill(flow, REASM_FAMILY_IPV6, ip + 8, ip + 24, 16);
	return v->proto == IPPROTO_TCP_ ? REASM_CTR_MAX : walk_ext_headers(v);
}

enum reasm_counter
reasm_parse_frame(const uint8_t *frame, uint32_t len, uint32_t wire_len,
		  struct reasm_parsed *out, uint32_t *anomalies)
{
	uint32_t off = 12, doff;
	struct l4_view v;
	enum reasm_counter c;
	uint16_t type;

	*anomalies = 0;
	if (len < 14)
		return REASM_CTR_drop_l2_truncated;
	type = rd16(frame + off);
	while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) {
		off += 4;
		if (len < off + 2)
			return REASM_CTR_drop_l2_truncated;
		type = rd16(frame + off);
	}
	off += 2;
	if (type == ETHERTYPE_IPV4)
		c = parse_ipv4(frame + off, len - off, wire_len - off, &out->flow, &v, anomalies);
	else if (type == ETHERTYPE_IPV6)
		c = parse_ipv6(frame + off, len - off, &out->flow, &v, anomalies);
	else
		return REASM_CTR_drop_not_ip;
	if (c != REASM_CTR_MAX)
		return c;
	if (v.proto != IPPROTO_TCP_)
		return REASM_CTR_drop_not_tcp;
	if (v.len < 20)
		return REASM_CTR_drop_tcp_truncated;

	out->flow.src_port = rd16(v.p);
	out->flow.dst_port = rd16(v.p + 2);
	out->seg.seq = rd32(v.p + 4);
	out->seg.flags = v.p[13] & (REASM_TCP_FIN | REASM_TCP_SYN | REASM_TCP_RST);
	doff = (uint32_t)(v.p[12] >> 4) * 4;
	if (doff < 20 || doff > v.len) {
		/* gopacket keeps the header's flags but no payload. */
		*anomalies |= ANOMALY_TCP_OFFSET;
		doff = v.len;
	}
	out->seg.payload = v.p + doff;
	out->seg.len = v.len - doff;
	return REASM_CTR_MAX;
}

static inline void
bump(struct reasm_assembler *a, enum reasm_counter c)
{
	__atomic_store_n(&a->stats.v[c], a->stats.v[c] + 1, __ATOMIC_RELAXED);
}

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
		bump(a, REASM_CTR_frame_cut);
	return a->scratch;
}

#define PREFETCH_MBUF 8
#define PREFETCH_DATA 4

/* The frame's first two cache lines: Ethernet, IP and TCP headers with options. */
static inline void
prefetch_frame(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

	rte_prefetch0(p);
	rte_prefetch0(p + RTE_CACHE_LINE_SIZE);
}

/* Parse up to RTE_HASH_LOOKUP_BULK_MAX frames, look them up, assemble them. */
static unsigned int
assemble_chunk(struct reasm_assembler *a, struct rte_mbuf *const *pkts, uint16_t n,
	       const uint64_t *timestamps, uint64_t now_ns, uint16_t *consumed)
{
	struct reasm_parsed parsed[RTE_HASH_LOOKUP_BULK_MAX];
	const void *keys[RTE_HASH_LOOKUP_BULK_MAX];
	int32_t positions[RTE_HASH_LOOKUP_BULK_MAX];
	uint16_t which[RTE_HASH_LOOKUP_BULK_MAX];
	struct reasm_pool *pool = a->pool;
	unsigned int ntcp = 0, i;
	uint64_t generation;

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
		bump(a, REASM_CTR_pkts);
		frame = frame_bytes(a, pkts[i], &len, &wire);
		drop = reasm_parse_frame(frame, len, wire, &parsed[ntcp], &anomalies);
		if (drop != REASM_CTR_MAX) {
			bump(a, drop);
			continue;
		}
		if (anomalies & ANOMALY_IP_LEN)
			bump(a, REASM_CTR_ip_len_past_frame);
		if (anomalies & ANOMALY_TCP_OFFSET)
			bump(a, REASM_CTR_tcp_bad_offset);
		keys[ntcp] = &parsed[ntcp].flow;
		which[ntcp] = (uint16_t)i;
		ntcp++;
		if (pkts[i]->nb_segs > 1) {
			i++;
			break; /* assemble it before the scratch buffer is reused */
		}
	}
	*consumed = (uint16_t)i;

	if (pool->mode == REASM_POOL_SHARED)
		rte_rwlock_read_lock(&pool->table_lock);
	generation = pool->generation;
	if (ntcp > 0)
		rte_hash_lookup_bulk(pool->table, keys, ntcp, positions);
	if (pool->mode == REASM_POOL_SHARED)
		rte_rwlock_read_unlock(&pool->table_lock);
	for (i = 0; i < ntcp; i++)
		if (positions[i] >= 0 && (uint32_t)positions[i] < pool->max_conns) {
			rte_prefetch0(&pool->conns[positions[i]]);
			rte_prefetch0((const uint8_t *)&pool->conns[positions[i]] + 64);
		}

	for (i = 0; i < ntcp; i++) {
		/* The lookup's answer stands while no key was added or removed since. */
		bool final = pool->mode == REASM_POOL_SINGLE_WRITER &&
			     generation == pool->generation;
		uint64_t ts = timestamps != NULL ? timestamps[which[i]] : now_ns;

		bump(a, REASM_CTR_pkts_tcp);
		reasm_assemble_conn(a, &parsed[i].flow, positions[i], final, &parsed[i].seg, ts);
	}
	return ntcp;
}

unsigned int
reasm_assemble_burst(struct reasm_assembler *a, struct rte_mbuf *const *pkts, uint16_t n,
		     const uint64_t *timestamps, uint64_t now_ns)
{
	unsigned int done = 0, tcp = 0;

	if (a == NULL || (pkts == NULL && n > 0))
		return 0;
	while (done < n) {
		uint16_t chunk = (uint16_t)RTE_MIN(n - done, (unsigned int)RTE_HASH_LOOKUP_BULK_MAX);
		uint16_t consumed;

		tcp += assemble_chunk(a, pkts + done, chunk,
				      timestamps != NULL ? timestamps + done : NULL, now_ns,
				      &consumed);
		done += consumed;
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

int
reasm_flow_of_mbuf(const struct rte_mbuf *m, struct reasm_flow *flow)
{
	uint8_t copy[1024];
	struct reasm_parsed parsed;
	uint32_t anomalies;
	const uint8_t *frame;
	uint32_t len;
	enum reasm_counter c;

	if (m == NULL || flow == NULL)
		return -EINVAL;
	if (m->nb_segs == 1) {
		len = rte_pktmbuf_data_len(m);
		frame = rte_pktmbuf_mtod(m, const uint8_t *);
	} else {
		/* Headers only, usually: the payload is not needed for the key. */
		len = gather(m, copy, sizeof(copy));
		frame = copy;
	}
	c = reasm_parse_frame(frame, len, rte_pktmbuf_pkt_len(m), &parsed, &anomalies);
	if (c != REASM_CTR_MAX && frame == copy && rte_pktmbuf_pkt_len(m) > sizeof(copy)) {
		frame = gather_whole(m, &len);
		if (frame == NULL)
			return -ENOMEM;
		c = reasm_parse_frame(frame, len, rte_pktmbuf_pkt_len(m), &parsed, &anomalies);
	}
	if (c != REASM_CTR_MAX)
		return -EINVAL;
	*flow = parsed.flow;
	return 0;
}
