/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The frame parser: Ethernet (with 802.1Q/802.1ad tags), IPv4 with
 * options, IPv6 with its extension-header chain, TCP. A pure function of the
 * frame's bytes: it counts nothing and touches no state (the burst path,
 * reasm_burst.c, counts what it returns).
 *
 * The parser accepts and rejects exactly what gopacket's decoders do, so
 * that reasm and gopacket see the same segments on any capture: no IP
 * version check, IPv4 total length 0 taken as "the rest of the frame",
 * IP lengths past the frame cut to the frame, malformed IPv4 options
 * rejected, and a TCP header whose data offset is out of range still
 * carrying its flags (with an empty payload). Every byte read is checked
 * against the frame length first.
 */

#include <rte_byteorder.h>

#include "reasm_private.h"

/* An IP length @p cut bytes past the frame: the innermost layer's shortfall is kept. */
static inline uint32_t
anomaly_cut(uint32_t anomalies, uint32_t cut)
{
	return (anomalies & ANOMALY_FLAGS) | ANOMALY_IP_LEN | cut << ANOMALY_CUT_SHIFT;
}

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
			if (h[off + 1] != 4 || reasm_rd32(h + off + 2) <= 65535)
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
ext_header_len(const struct reasm_l4 *v, uint32_t *hlen)
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
skip_ext_header(struct reasm_l4 *v)
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
walk_ext_headers(struct reasm_l4 *v)
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

static inline enum reasm_counter
parse_ipv4(const uint8_t *ip, uint32_t avail, uint32_t wire, struct reasm_flow *flow,
	   struct reasm_l4 *v, uint32_t *anomalies)
{
	uint32_t ihl, total;
	enum reasm_counter c;
	uint16_t frag;

	if (avail < 20)
		return REASM_CTR_drop_ipv4_truncated;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	total = reasm_rd16(ip + 2);
	if (total == 0)
		total = (uint16_t)wire; /* TSO: gopacket takes the frame length, as a uint16 */
	if (total < 20 || ihl < 20 || ihl > total)
		return REASM_CTR_drop_ipv4_bad_header;
	if (total > avail) {
		if (ihl > avail)
			return REASM_CTR_drop_ipv4_truncated;
		*anomalies = anomaly_cut(*anomalies, total - avail);
		total = avail;
	}
	if (!ipv4_options_ok(ip + 20, ihl - 20))
		return REASM_CTR_drop_ipv4_bad_header;
	frag = reasm_rd16(ip + 6);
	if ((frag & 0x2000) || (frag & 0x1fff)) {
		v->p = ip; /* for the defragmenter */
		v->len = total;
		return REASM_CTR_drop_ipv4_fragment;
	}
	reasm_flow_fill(flow, REASM_FAMILY_IPV4, ip + 12, ip + 16, 4);
	v->p = ip + ihl;
	v->len = total - ihl;
	v->proto = ip[9];
	if (v->proto == IPPROTO_TCP_)
		return REASM_CTR_MAX;
	c = walk_ext_headers(v);
	if (unlikely(c == REASM_CTR_drop_ipv6_fragment))
		v->p = NULL; /* an IPv6 fragment header after IPv4 (gopacket's walk): not reassembled */
	return c;
}

/*
 * A leading hop-by-hop header, as gopacket decodes it inside the IPv6
 * layer: options checked against the rest of the frame, payload length 0
 * only with a valid Jumbo Payload option and vice versa, and the transport
 * then gets everything after the header up to the end of the frame (the
 * payload length is not applied).
 */
static enum reasm_counter
ipv6_hop_by_hop(struct reasm_l4 *v, uint32_t plen)
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

static inline enum reasm_counter
parse_ipv6(const uint8_t *ip, uint32_t avail, struct reasm_flow *flow, struct reasm_l4 *v,
	   uint32_t *anomalies)
{
	uint32_t plen;
	enum reasm_counter c;

	if (avail < 40)
		return REASM_CTR_drop_ipv6_truncated;
	plen = reasm_rd16(ip + 4);
	v->p = ip + 40;
	v->len = avail - 40;
	v->proto = ip[6];
	if (plen > v->len)
		*anomalies = anomaly_cut(*anomalies, plen - v->len);
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
	if (v->proto == IPPROTO_TCP_)
		return REASM_CTR_MAX;
	c = walk_ext_headers(v);
	if (unlikely(c == REASM_CTR_drop_ipv6_fragment)) {
		v->p = ip; /* for the defragmenter: the packet as far as the frame has it */
		v->len = 40 + plen <= avail ? 40 + plen : avail;
	}
	return c;
}

/* The TCP header at @p v: ports, sequence, flags and payload into @p out. */
static inline enum reasm_counter
parse_tcp(const struct reasm_l4 *v, struct reasm_parsed *out, uint32_t *anomalies)
{
	uint32_t doff;

	if (v->len < 20)
		return REASM_CTR_drop_tcp_truncated;
	out->flow.src_port = reasm_rd16(v->p);
	out->flow.dst_port = reasm_rd16(v->p + 2);
	out->seg.seq = reasm_rd32(v->p + 4);
	out->seg.flags = v->p[13] & (REASM_TCP_FIN | REASM_TCP_SYN | REASM_TCP_RST | REASM_TCP_ACK);
	doff = (uint32_t)(v->p[12] >> 4) * 4;
	if (doff < 20 || doff > v->len) {
		/* gopacket keeps the header's flags but no payload. */
		*anomalies |= ANOMALY_TCP_OFFSET;
		doff = v->len;
	}
	out->seg.payload = v->p + doff;
	out->seg.len = v->len - doff;
	out->seg.cut = 0; /* the burst path sets it from the anomalies */
	return REASM_CTR_MAX;
}

/*
 * Ethernet with its VLAN tags, at most REASM_MAX_VLAN_TAGS. @return the
 * offset of what follows and *@p type its ethertype, or 0 after setting
 * *@p drop.
 */
static inline uint32_t
parse_ethernet(const uint8_t *frame, uint32_t len, uint16_t *type, struct reasm_encap *encap,
	       enum reasm_counter *drop)
{
	uint32_t off = 12, tags = 0;

	if (len < 14) {
		*drop = REASM_CTR_drop_l2_truncated;
		return 0;
	}
	*type = reasm_rd16(frame + off);
	while (*type == ETHERTYPE_VLAN || *type == ETHERTYPE_QINQ) {
		if (len < off + 6) {
			*drop = REASM_CTR_drop_l2_truncated;
			return 0;
		}
		if (tags++ == 0 && !(encap->layers & REASM_ENCAP_VLAN)) {
			encap->layers |= REASM_ENCAP_VLAN;
			encap->vlan = reasm_rd16(frame + off + 2) & 0x0fff;
		}
		if (tags > REASM_MAX_VLAN_TAGS) {
			*drop = REASM_CTR_drop_vlan_too_deep;
			return 0;
		}
		off += 4;
		*type = reasm_rd16(frame + off);
	}
	return off + 2;
}

enum reasm_counter
reasm_parse_ipv4(const uint8_t *ip, uint32_t avail, uint32_t wire, struct reasm_flow *flow,
		 struct reasm_l4 *v, uint32_t *anomalies)
{
	return parse_ipv4(ip, avail, wire, flow, v, anomalies);
}

enum reasm_counter
reasm_parse_ipv6(const uint8_t *ip, uint32_t avail, struct reasm_flow *flow, struct reasm_l4 *v,
		 uint32_t *anomalies)
{
	return parse_ipv6(ip, avail, flow, v, anomalies);
}

/* Ethernet down to the first IP layer; inlined in the common path, shared with reasm_decap.c. */
static inline enum reasm_counter
parse_ethernet_ip(const uint8_t *frame, uint32_t len, uint32_t wire_len, struct reasm_parsed *out,
		  struct reasm_l4 *v, uint32_t *anomalies)
{
	enum reasm_counter drop = REASM_CTR_MAX;
	uint32_t off;
	uint16_t type;

	off = parse_ethernet(frame, len, &type, &out->encap, &drop);
	if (off == 0)
		return drop;
	if (likely(type == ETHERTYPE_IPV4))
		return parse_ipv4(frame + off, len - off, wire_len - off, &out->flow, v, anomalies);
	if (type == ETHERTYPE_IPV6)
		return parse_ipv6(frame + off, len - off, &out->flow, v, anomalies);
	if (unlikely(type == REASM_SHIM_ETHERTYPE))
		return reasm_parse_shim(frame + off, len - off, wire_len - off, out, v, anomalies);
	return reasm_decap_ethertype(type, frame + off, len - off, out, v, anomalies);
}

/* ---- the shim of handed-over datagrams ---------------------------------- */

uint64_t reasm_shim_cookie;

/* @p p: what follows the shim's ethertype (cookie, encapsulation, IP ethertype, IP). */
enum reasm_counter
reasm_parse_shim(const uint8_t *p, uint32_t len, uint32_t wire_len, struct reasm_parsed *out,
		 struct reasm_l4 *v, uint32_t *anomalies)
{
	uint64_t cookie, expected = __atomic_load_n(&reasm_shim_cookie, __ATOMIC_RELAXED);
	uint16_t type;

	if (len < REASM_SHIM_LEN || expected == 0)
		return REASM_CTR_drop_not_ip;
	memcpy(&cookie, p, sizeof(cookie));
	if (cookie != expected)
		return REASM_CTR_drop_not_ip; /* not ours: an unknown ethertype on the wire */
	memcpy(&out->handed, p + 8, sizeof(out->handed));
	out->encap.layers |= REASM_ENCAP_HANDED;
	type = reasm_rd16(p + 16);
	p += REASM_SHIM_LEN;
	len -= REASM_SHIM_LEN;
	wire_len -= REASM_SHIM_LEN;
	if (type == ETHERTYPE_IPV4)
		return parse_ipv4(p, len, wire_len, &out->flow, v, anomalies);
	if (type == ETHERTYPE_IPV6)
		return parse_ipv6(p, len, &out->flow, v, anomalies);
	return REASM_CTR_drop_not_ip;
}

void
reasm_shim_write(uint8_t *frame, const struct reasm_encap *e)
{
	uint8_t *shim = frame - REASM_SHIM_LEN;
	uint64_t cookie = __atomic_load_n(&reasm_shim_cookie, __ATOMIC_RELAXED);

	memset(shim, 0, 12);
	shim[12] = REASM_SHIM_ETHERTYPE >> 8;
	shim[13] = REASM_SHIM_ETHERTYPE & 0xff;
	memcpy(shim + 14, &cookie, sizeof(cookie));
	memcpy(shim + 22, e, sizeof(*e));
	/* shim + 30 is the frame's own ethertype, left where it was */
}

enum reasm_counter
reasm_parse_ethernet(const uint8_t *frame, uint32_t len, uint32_t wire_len,
		     struct reasm_parsed *out, struct reasm_l4 *v, uint32_t *anomalies)
{
	return parse_ethernet_ip(frame, len, wire_len, out, v, anomalies);
}

/*
 * The frame nearly every link carries: untagged Ethernet, IPv4 without options
 * and not fragmented, its total length within the frame, TCP with a data
 * offset within the packet. Parsed straight, with the checks the general path
 * would make for it, into @p flow and (unless NULL) @p seg; @return false for
 * anything else (nothing written that the general path does not write again).
 */
static inline bool
parse_plain_ipv4_tcp(const uint8_t *frame, uint32_t len, struct reasm_flow *flow,
		     struct reasm_segment *seg)
{
	const uint8_t *ip = frame + 14, *tcp = frame + 34;
	uint32_t total, doff;

	if (len < 54 || reasm_rd16(frame + 12) != ETHERTYPE_IPV4 || ip[0] != 0x45 ||
	    ip[9] != IPPROTO_TCP_ || (reasm_rd16(ip + 6) & 0x3fff) != 0)
		return false;
	total = reasm_rd16(ip + 2);
	doff = (uint32_t)(tcp[12] >> 4) * 4;
	if (total < 40 || total > len - 14 || doff < 20 || doff > total - 20)
		return false;
	reasm_flow_fill(flow, REASM_FAMILY_IPV4, ip + 12, ip + 16, 4);
	flow->src_port = reasm_rd16(tcp);
	flow->dst_port = reasm_rd16(tcp + 2);
	if (seg == NULL)
		return true;
	seg->seq = reasm_rd32(tcp + 4);
	seg->flags = tcp[13] & (REASM_TCP_FIN | REASM_TCP_SYN | REASM_TCP_RST | REASM_TCP_ACK);
	seg->payload = tcp + doff;
	seg->len = total - 20 - doff;
	seg->cut = 0;
	return true;
}

bool
reasm_parse_plain_flow(const uint8_t *frame, uint32_t len, struct reasm_flow *flow)
{
	return parse_plain_ipv4_tcp(frame, len, flow, NULL);
}

enum reasm_counter
reasm_parse_frame(const uint8_t *frame, uint32_t len, uint32_t wire_len, struct reasm_parsed *out,
		  uint32_t *anomalies)
{
	struct reasm_l4 v;
	enum reasm_counter c;

	*anomalies = 0;
	out->encap = (struct reasm_encap){0}; /* one store: no id left from another frame */
	if (likely(parse_plain_ipv4_tcp(frame, len, &out->flow, &out->seg)))
		return REASM_CTR_MAX;
	c = parse_ethernet_ip(frame, len, wire_len, out, &v, anomalies);
	if (likely(c == REASM_CTR_MAX) && unlikely(v.proto != IPPROTO_TCP_))
		c = reasm_decap_l4(out, &v, anomalies);
	if (unlikely(c != REASM_CTR_MAX)) {
		if (c == REASM_CTR_drop_ipv4_fragment || c == REASM_CTR_drop_ipv6_fragment)
			out->frag = v; /* the fragmented IP packet, for the defragmenter */
		return c;
	}
	return parse_tcp(&v, out, anomalies);
}
