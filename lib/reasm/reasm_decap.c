/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Decapsulation: the layers real links wrap TCP in, followed down to the
 * innermost IP layer, whose addresses (with the TCP ports) key the stream.
 *
 *   below IP:  802.1Q/802.1ad tags (reasm_parse.c), MPLS label stacks (the
 *              payload guessed from its first byte, as gopacket does), PPPoE
 *              sessions carrying PPP;
 *   over IP:   IPv4 and IPv6 in IPv4 or IPv6 (protocols 4 and 41); GRE of
 *              any version (checksum, key, sequence and acknowledgment fields;
 *              IPv4, IPv6, Ethernet, MPLS, PPPoE, PPP, ERSPAN type I/II and
 *              III); UDP to port 4789 (VXLAN), 6081 (Geneve, carrying what GRE
 *              carries but ERSPAN) and 2152 (GTP-U with extension headers,
 *              carrying IPv4, IPv6 or PPP), the port chosen as gopacket's UDP
 *              layer chooses it.
 *
 * Where gopacket's decoders are lenient (fields they do not read: versions,
 * message types, PPPoE's version and type), reasm is too, so that both find
 * the same TCP segments; where they misread a well-formed header, reasm reads
 * it as its specification says (docs/gopacket-differences.md, "Tunnels").
 *
 * Only reached when a frame is not plain Ethernet/IP/TCP: the common frame
 * never enters this file. Every layer is bounds-checked before it is read;
 * a malformed, cut or unsupported layer is counted by its own counter; the
 * nesting is bounded (REASM_MAX_ENCAP_DEPTH). Fragments are counted where
 * they are found (drop_ipv4_fragment, drop_ipv6_fragment), at any depth.
 */

#include "reasm_private.h"

#define MPLS_MAX_LABELS 16
#define UDP_PORT_VXLAN 4789
#define UDP_PORT_GENEVE 6081
#define UDP_PORT_GTPU 2152
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

/* What a tunnel header says comes next. */
enum inner {
	INNER_ETHERNET,
	INNER_IPV4,
	INNER_IPV6,
	INNER_IP_GUESS, /* IPv4 or IPv6 by the first byte (MPLS, GTP-U) */
	INNER_PPP,
	INNER_NONE, /* something reasm does not decode: the drop counter says what */
};

/* A layer's payload: the bytes and what they are. */
struct inner_view {
	const uint8_t *p;
	uint32_t len;
	enum inner kind;
};

/* ---- what a tunnel carries -------------------------------------------- */

/* gopacket's ProtocolGuessingDecoder: 0x45..0x4f is IPv4, 0x6? is IPv6. */
static enum inner
guess_ip(const uint8_t *p, uint32_t len)
{
	if (len == 0)
		return INNER_NONE;
	if (p[0] >= 0x45 && p[0] <= 0x4f)
		return INNER_IPV4;
	if ((p[0] >> 4) == 6)
		return INNER_IPV6;
	return INNER_NONE;
}

/* ---- layers below IP --------------------------------------------------- */

/*
 * An MPLS label stack: up to its bottom-of-stack entry, then the guessed IP
 * layer. gopacket follows a stack of any depth; reasm bounds the work a frame
 * costs at MPLS_MAX_LABELS, as it bounds VLAN tags.
 */
static enum reasm_counter
decap_mpls(struct inner_view *in, struct reasm_encap *encap)
{
	unsigned int labels = 0;

	encap->layers |= REASM_ENCAP_MPLS;
	for (;;) {
		uint32_t entry;

		if (in->len < 4 || ++labels > MPLS_MAX_LABELS)
			return REASM_CTR_drop_mpls_bad;
		entry = reasm_rd32(in->p);
		in->p += 4;
		in->len -= 4;
		if (entry & 0x100) {
			encap->tunnel_id = entry >> 12; /* the bottom label: the VPN's */
			break;
		}
	}
	in->kind = guess_ip(in->p, in->len);
	return in->kind == INNER_NONE ? REASM_CTR_drop_mpls_bad : REASM_CTR_MAX;
}

/*
 * A PPP header (PPPoE sessions, GRE, GTP-U): an optional 0xff 0x03 address and
 * control, then a one- or two-byte protocol, IPv4 or IPv6.
 */
static bool
decap_ppp(struct inner_view *in)
{
	uint16_t proto;

	if (in->len >= 2 && in->p[0] == 0xff && in->p[1] == 0x03) {
		in->p += 2;
		in->len -= 2;
	}
	if (in->len >= 1 && (in->p[0] & 1)) { /* compressed protocol field */
		proto = in->p[0];
		in->p += 1;
		in->len -= 1;
	} else if (in->len >= 2) {
		proto = reasm_rd16(in->p);
		in->p += 2;
		in->len -= 2;
	} else {
		return false;
	}
	in->kind = proto == PPP_IPV4 ? INNER_IPV4 : proto == PPP_IPV6 ? INNER_IPV6 : INNER_NONE;
	return in->kind != INNER_NONE;
}

/*
 * A PPPoE session header, code 0; gopacket reads neither its version nor its
 * type, so neither does reasm. Its length bounds the PPP frame (Ethernet
 * padding follows a short one) and may not run past the bytes there are:
 * gopacket's slice of them fails.
 */
static enum reasm_counter
decap_pppoe(struct inner_view *in, struct reasm_encap *encap)
{
	uint32_t plen;

	encap->layers |= REASM_ENCAP_PPPOE;
	if (in->len < 6 || in->p[1] != 0)
		return REASM_CTR_drop_pppoe_bad;
	plen = reasm_rd16(in->p + 4);
	if (plen > in->len - 6)
		return REASM_CTR_drop_pppoe_bad;
	encap->tunnel_id = reasm_rd16(in->p + 2); /* the session id */
	in->p += 6;
	in->len = plen;
	return decap_ppp(in) ? REASM_CTR_MAX : REASM_CTR_drop_pppoe_bad;
}

/* ---- tunnels over IP ---------------------------------------------------- */

/*
 * The layer an ethertype in GRE or Geneve announces, decoded as far as the
 * kind of IP layer: those of gopacket's EthernetType decoders that lead to IP,
 * but VLAN tags without an Ethernet header. @p bad: the tunnel's counter.
 */
static enum reasm_counter
decap_ethertype(struct inner_view *in, uint16_t type, struct reasm_encap *encap,
		enum reasm_counter bad)
{
	switch (type) {
	case ETHERTYPE_IPV4:
		in->kind = INNER_IPV4;
		return REASM_CTR_MAX;
	case ETHERTYPE_IPV6:
		in->kind = INNER_IPV6;
		return REASM_CTR_MAX;
	case ETHERTYPE_TEB:
		in->kind = INNER_ETHERNET;
		return REASM_CTR_MAX;
	case ETHERTYPE_MPLS:
	case ETHERTYPE_MPLS_MC:
		return decap_mpls(in, encap);
	case ETHERTYPE_PPPOE_SESSION:
		return decap_pppoe(in, encap);
	case ETHERTYPE_PPP:
		return decap_ppp(in) ? REASM_CTR_MAX : bad;
	default:
		return bad;
	}
}

/* ERSPAN type II (with GRE's sequence number; type I has no header) or III. */
static enum reasm_counter
decap_erspan(struct inner_view *in, uint16_t type, bool seq, struct reasm_encap *encap)
{
	uint32_t hlen = 0;

	encap->layers |= REASM_ENCAP_ERSPAN;
	if (type == ETHERTYPE_ERSPAN_3) {
		hlen = 12;
		if (in->len >= 12 && (in->p[11] & 1)) /* O: a platform-specific subheader */
			hlen += 8;
	} else if (seq) {
		hlen = 8;
	}
	if (in->len < hlen)
		return REASM_CTR_drop_erspan_bad;
	if (hlen > 0)
		encap->tunnel_id = reasm_rd16(in->p + 2) & 0x03ff; /* the session id */
	in->p += hlen;
	in->len -= hlen;
	in->kind = INNER_ETHERNET;
	return REASM_CTR_MAX;
}

/*
 * GRE (RFC 2784/2890; version 1 is PPTP's, RFC 2637), read as gopacket reads
 * it: the version is not checked, and the A bit adds an acknowledgment field
 * in any version. Routing (deprecated) is not followed.
 */
static enum reasm_counter
decap_gre(struct inner_view *in, struct reasm_encap *encap)
{
	uint32_t hlen = 4;
	uint16_t type;
	uint8_t f0;

	encap->layers |= REASM_ENCAP_GRE;
	if (in->len < 4 || (in->p[0] & 0x40))
		return REASM_CTR_drop_gre_bad;
	f0 = in->p[0];
	type = reasm_rd16(in->p + 2);
	hlen += (f0 & 0x80) ? 4 : 0; /* checksum and reserved */
	if (f0 & 0x20) {
		if (in->len < hlen + 4)
			return REASM_CTR_drop_gre_bad;
		encap->tunnel_id = reasm_rd32(in->p + hlen);
		hlen += 4;
	}
	hlen += (f0 & 0x10) ? 4 : 0;       /* sequence */
	hlen += (in->p[1] & 0x80) ? 4 : 0; /* acknowledgment */
	if (in->len < hlen)
		return REASM_CTR_drop_gre_bad;
	in->p += hlen;
	in->len -= hlen;
	if (type == ETHERTYPE_ERSPAN_2 || type == ETHERTYPE_ERSPAN_3)
		return decap_erspan(in, type, (f0 & 0x10) != 0, encap);
	return decap_ethertype(in, type, encap, REASM_CTR_drop_gre_bad);
}

static enum reasm_counter
decap_vxlan(struct inner_view *in, struct reasm_encap *encap)
{
	encap->layers |= REASM_ENCAP_VXLAN;
	if (in->len < 8)
		return REASM_CTR_drop_vxlan_bad;
	encap->tunnel_id = reasm_rd32(in->p + 4) >> 8; /* the VNI */
	in->p += 8;
	in->len -= 8;
	in->kind = INNER_ETHERNET;
	return REASM_CTR_MAX;
}

/*
 * Geneve (RFC 8926). The options are skipped by their total length, as
 * receivers skip them: gopacket's walk of them misreads some (see the docs).
 */
static enum reasm_counter
decap_geneve(struct inner_view *in, struct reasm_encap *encap)
{
	uint32_t hlen;
	uint16_t type;

	encap->layers |= REASM_ENCAP_GENEVE;
	if (in->len < 8)
		return REASM_CTR_drop_geneve_bad;
	hlen = 8 + (uint32_t)(in->p[0] & 0x3f) * 4;
	if (in->len < hlen)
		return REASM_CTR_drop_geneve_bad;
	encap->tunnel_id = reasm_rd32(in->p + 4) >> 8; /* the VNI */
	type = reasm_rd16(in->p + 2);
	in->p += hlen;
	in->len -= hlen;
	return decap_ethertype(in, type, encap, REASM_CTR_drop_geneve_bad);
}

/*
 * GTP-U extension headers, the first at @p *hlen (each: length in 4-byte
 * units, content, next type). With E set and a next type of 0 there are none
 * (TS 29.281); gopacket reads one there regardless (see the docs).
 */
static bool
gtpu_extensions(const struct inner_view *in, uint32_t *hlen)
{
	uint8_t next = in->p[11];

	while (next != 0) {
		uint32_t elen;

		if (in->len < *hlen + 1 || in->p[*hlen] == 0)
			return false;
		elen = (uint32_t)in->p[*hlen] * 4;
		if (in->len < *hlen + elen)
			return false;
		next = in->p[*hlen + elen - 1];
		*hlen += elen;
	}
	return true;
}

/* A GTP-U T-PDU by its version nibble, as gopacket: IPv4, IPv6, else PPP. */
static enum reasm_counter
gtpu_tpdu(struct inner_view *in)
{
	if (in->len == 0)
		return REASM_CTR_drop_gtpu_bad;
	switch (in->p[0] >> 4) {
	case 4:
		in->kind = INNER_IPV4;
		return REASM_CTR_MAX;
	case 6:
		in->kind = INNER_IPV6;
		return REASM_CTR_MAX;
	default:
		return decap_ppp(in) ? REASM_CTR_MAX : REASM_CTR_drop_gtpu_bad;
	}
}

/*
 * GTP-U (3GPP TS 29.281) read as gopacket reads it: any version and message
 * type, the optional fields whatever the message length says; the message
 * length must fit in the datagram, compared in 16 bits (a length of 0xfff8 or
 * more wraps and fits), and does not bound the T-PDU: what follows the
 * message in the datagram is the T-PDU's too.
 */
static enum reasm_counter
decap_gtpu(struct inner_view *in, struct reasm_encap *encap)
{
	uint32_t hlen = 8;

	encap->layers |= REASM_ENCAP_GTPU;
	if (in->len < 8 || (uint16_t)in->len < (uint16_t)(reasm_rd16(in->p + 2) + 8))
		return REASM_CTR_drop_gtpu_bad;
	encap->tunnel_id = reasm_rd32(in->p + 4); /* the TEID */
	if (in->p[0] & 0x07) { /* E, S or PN: sequence, N-PDU, next extension type */
		hlen = 12;
		if (in->len < 12 || ((in->p[0] & 0x04) && !gtpu_extensions(in, &hlen)))
			return REASM_CTR_drop_gtpu_bad;
	}
	in->p += hlen;
	in->len -= hlen;
	return gtpu_tpdu(in);
}

/*
 * The port whose decoder gopacket's UDP layer takes: the destination port's if
 * it has one (the tunnels', or DNS, DHCP, NTP, RMCP, DHCPv6, RADIUS, BFD, SIP
 * or sFlow, which never lead to TCP), else the source port's.
 */
static uint16_t
udp_decoder_port(uint16_t dport, uint16_t sport)
{
	switch (dport) {
	case UDP_PORT_VXLAN:
	case UDP_PORT_GENEVE:
	case UDP_PORT_GTPU:
	case 53:
	case 67:
	case 68:
	case 123:
	case 546:
	case 547:
	case 623:
	case 1812:
	case 3784:
	case 5060:
	case 6343:
		return dport;
	default:
		return sport;
	}
}

/* A UDP datagram to or from a tunnel port; else not TCP. */
static enum reasm_counter
decap_udp(struct inner_view *in, struct reasm_encap *encap)
{
	uint16_t port;
	uint32_t ulen;

	if (in->len < 8)
		return REASM_CTR_drop_not_tcp;
	port = udp_decoder_port(reasm_rd16(in->p + 2), reasm_rd16(in->p));
	ulen = reasm_rd16(in->p + 4);
	if (ulen > 0 && ulen < 8)
		return REASM_CTR_drop_not_tcp; /* gopacket refuses it; 0 is a jumbogram's */
	if (ulen > 0 && ulen < in->len)
		in->len = ulen; /* as gopacket: the UDP length bounds the payload */
	in->p += 8;
	in->len -= 8;
	switch (port) {
	case UDP_PORT_VXLAN:
		return decap_vxlan(in, encap);
	case UDP_PORT_GENEVE:
		return decap_geneve(in, encap);
	case UDP_PORT_GTPU:
		return decap_gtpu(in, encap);
	default:
		return REASM_CTR_drop_not_tcp;
	}
}

/* ---- the next IP layer ---------------------------------------------------- */

/*
 * Decode the payload @p in of a tunnel down to an IP layer and parse it into
 * @p out and @p v. Layers below IP (Ethernet, MPLS, PPP) come before it.
 */
static enum reasm_counter
inner_ip(struct inner_view *in, struct reasm_parsed *out, struct reasm_l4 *v, uint32_t *anomalies)
{
	if (in->kind == INNER_IP_GUESS)
		in->kind = guess_ip(in->p, in->len);
	switch (in->kind) {
	case INNER_ETHERNET:
		return reasm_parse_ethernet(in->p, in->len, in->len, out, v, anomalies);
	case INNER_IPV4:
		return reasm_parse_ipv4(in->p, in->len, in->len, &out->flow, v, anomalies);
	case INNER_IPV6:
		return reasm_parse_ipv6(in->p, in->len, &out->flow, v, anomalies);
	default:
		return REASM_CTR_drop_not_ip;
	}
}

enum reasm_counter
reasm_decap_ethertype(uint16_t type, const uint8_t *p, uint32_t len, struct reasm_parsed *out,
		      struct reasm_l4 *v, uint32_t *anomalies)
{
	struct inner_view in = {p, len, INNER_NONE};
	enum reasm_counter c;

	if (type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MC)
		c = decap_mpls(&in, &out->encap);
	else if (type == ETHERTYPE_PPPOE_SESSION)
		c = decap_pppoe(&in, &out->encap);
	else
		return REASM_CTR_drop_not_ip;
	return c != REASM_CTR_MAX ? c : inner_ip(&in, out, v, anomalies);
}

/* One tunnel over IP at @p v: its payload into @p in. */
static enum reasm_counter
decap_one(const struct reasm_l4 *v, struct inner_view *in, struct reasm_encap *encap)
{
	in->p = v->p;
	in->len = v->len;
	switch (v->proto) {
	case IPPROTO_IPIP_:
		encap->layers |= REASM_ENCAP_IPIP;
		in->kind = INNER_IPV4;
		return REASM_CTR_MAX;
	case IPPROTO_IPV6_:
		encap->layers |= REASM_ENCAP_IPIP;
		in->kind = INNER_IPV6;
		return REASM_CTR_MAX;
	case IPPROTO_GRE_:
		return decap_gre(in, encap);
	case IPPROTO_UDP_:
		return decap_udp(in, encap);
	default:
		return REASM_CTR_drop_not_tcp;
	}
}

enum reasm_counter
reasm_decap_l4(struct reasm_parsed *out, struct reasm_l4 *v, uint32_t *anomalies)
{
	unsigned int depth = 0;

	while (v->proto != IPPROTO_TCP_) {
		struct inner_view in;
		enum reasm_counter c;

		if (++depth > REASM_MAX_ENCAP_DEPTH)
			return REASM_CTR_drop_tunnel_too_deep;
		c = decap_one(v, &in, &out->encap);
		if (c == REASM_CTR_MAX)
			c = inner_ip(&in, out, v, anomalies);
		if (c != REASM_CTR_MAX)
			return c;
	}
	return REASM_CTR_MAX;
}
