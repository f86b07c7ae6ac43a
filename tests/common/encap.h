/* SPDX-License-Identifier: BSD-3-Clause
 * Test support: wrap a frame built by build_frame() in the encapsulations real
 * links carry (MPLS, PPPoE, IP in IP, GRE, ERSPAN, VXLAN, Geneve, GTP-U), as
 * bytes, with correct lengths (no checksums), so that the parser must find the
 * inner TCP segment, keyed by the inner IP layer.
 */
#ifndef REASM_TEST_ENCAP_H
#define REASM_TEST_ENCAP_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace reasm_test
{

enum class Encap {
	Mpls,    /* Ethernet, MPLS labels (labels), then the inner IP packet */
	Pppoe,   /* Ethernet, PPPoE session, PPP, inner IP */
	IpInIp4, /* Ethernet, outer IPv4 (protocol 4 or 41), inner IP */
	IpInIp6, /* Ethernet, outer IPv6 (next header 4 or 41), inner IP */
	Gre,     /* outer IPv4, GRE (flags below) with the inner IP's ethertype */
	GreTeb,  /* outer IPv4, GRE 0x6558, the inner Ethernet frame */
	Erspan2, /* outer IPv4, GRE with sequence, ERSPAN II header, inner Ethernet */
	Erspan3, /* outer IPv4, GRE, ERSPAN III header (+ subheader if opt), inner Ethernet */
	Pptp,    /* outer IPv4, GRE version 1 (key, seq, ack), PPP, inner IP */
	Vxlan,   /* outer IPv4, UDP 4789, VXLAN, inner Ethernet */
	Geneve,  /* outer IPv6, UDP 6081, Geneve with options, inner Ethernet or IP */
	Gtpu,    /* outer IPv4, UDP 2152, GTP-U G-PDU (extension headers), inner IP */
};

/* How to wrap: the kind and the fields that vary. */
struct EncapSpec {
	Encap kind = Encap::Vxlan;
	uint32_t id = 42; /* MPLS bottom label, PPPoE session, GRE key, VNI, TEID, ERSPAN session */
	unsigned mpls_labels = 2; /* Mpls */
	bool gre_csum = false;    /* Gre */
	bool gre_key = true;      /* Gre */
	bool gre_seq = false;     /* Gre */
	bool opt = false;         /* Erspan3: platform subheader; Geneve: 8 bytes of options */
	unsigned gtpu_ext = 1;    /* Gtpu: extension headers (0 = none, no optional fields) */
	bool geneve_ether = true; /* Geneve: carries Ethernet (else the inner IP) */
	bool udp_src_port =
		false; /* VXLAN/Geneve/GTP-U port as the source port, not the destination */
	std::vector<uint16_t> vlans; /* outer Ethernet's VLAN tags */
};

/* @p frame (an Ethernet frame from build_frame) wrapped as @p e says. */
std::vector<uint8_t> wrap(const std::vector<uint8_t> &frame, const EncapSpec &e);

/* @p frame wrapped by each of @p layers, the first innermost. */
std::vector<uint8_t> wrap_all(std::vector<uint8_t> frame, const std::vector<EncapSpec> &layers);

/* The inner IP packet of an Ethernet frame (after its tags). */
std::vector<uint8_t> ip_of(const std::vector<uint8_t> &frame);

/* A piece of an IP payload: its offset and length in bytes. */
struct Piece {
	size_t off;
	size_t len;
};

/*
 * The fragments of @p frame's IP packet (IPv4, or IPv6 without extension
 * headers; the first IP layer after the Ethernet header and tags), one frame
 * per piece, in the order given: each carries that part of the IP payload
 * (pieces may repeat or overlap), the header fields of a fragment (IPv4 offset
 * and MF, or an IPv6 fragment header) and identification @p id. MF is set
 * unless a piece reaches the payload's end.
 */
std::vector<std::vector<uint8_t>> fragments_of(const std::vector<uint8_t> &frame,
					       const std::vector<Piece> &pieces, uint32_t id = 7);

/* Pieces of @p size bytes (a multiple of 8) covering @p total bytes in order. */
std::vector<Piece> even_pieces(size_t total, size_t size);

/*
 * Hand-made tunnel frames, for headers wrap() does not write (malformed or
 * unusual ones): @p payload, its tunnel header included, in Ethernet
 * (ethertype @p type), in Ethernet and IPv4 (protocol @p proto), or in
 * Ethernet, IPv4 and UDP (ports @p sport to @p dport), lengths correct.
 */
std::vector<uint8_t> over_ethernet(uint16_t type, const std::vector<uint8_t> &payload);
std::vector<uint8_t> over_ipv4(uint8_t proto, const std::vector<uint8_t> &payload);
std::vector<uint8_t> over_udp(uint16_t dport, const std::vector<uint8_t> &payload,
			      uint16_t sport = 40000);

} // namespace reasm_test

#endif
