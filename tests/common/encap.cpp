/* SPDX-License-Identifier: BSD-3-Clause */
#include "encap.h"

#include <cstdio>
#include <algorithm>
#include <cstdlib>

namespace reasm_test {

using Bytes = std::vector<uint8_t>;

static void add16(Bytes &b, uint16_t v)
{
	b.push_back((uint8_t)(v >> 8));
	b.push_back((uint8_t)v);
}

static void add32(Bytes &b, uint32_t v)
{
	add16(b, (uint16_t)(v >> 16));
	add16(b, (uint16_t)v);
}

static Bytes cat(Bytes a, const Bytes &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

Bytes ip_of(const Bytes &frame)
{
	size_t off = 12;
	while (off + 2 <= frame.size() && (frame[off] << 8 | frame[off + 1]) != 0x0800 &&
	       (frame[off] << 8 | frame[off + 1]) != 0x86dd)
		off += 4;
	if (off + 2 > frame.size()) {
		fprintf(stderr, "ip_of: no IP ethertype in the frame\n");
		abort();
	}
	return Bytes(frame.begin() + (long)off + 2, frame.end());
}

static uint16_t ethertype_of_ip(const Bytes &ip)
{
	return (ip[0] >> 4) == 6 ? 0x86dd : 0x0800;
}

static Bytes ethernet(uint16_t type, const Bytes &payload, const std::vector<uint16_t> &vlans)
{
	Bytes b;
	for (int i = 0; i < 6; i++)
		b.push_back(0x0a);
	for (int i = 0; i < 6; i++)
		b.push_back(0x0c);
	for (uint16_t v : vlans) {
		add16(b, 0x8100);
		add16(b, v);
	}
	add16(b, type);
	return cat(b, payload);
}

static Bytes ipv4(uint8_t proto, const Bytes &payload)
{
	Bytes b = {0x45, 0};
	add16(b, (uint16_t)(20 + payload.size()));
	add32(b, 0);
	b.push_back(64);
	b.push_back(proto);
	add16(b, 0);
	for (uint8_t x : {10, 99, 0, 1, 10, 99, 0, 2})
		b.push_back(x);
	return cat(b, payload);
}

static Bytes ipv6(uint8_t next, const Bytes &payload)
{
	Bytes b = {0x60, 0, 0, 0};
	add16(b, (uint16_t)payload.size());
	b.push_back(next);
	b.push_back(64);
	for (int end = 1; end <= 2; end++) {
		for (uint8_t x : {0x20, 0x01, 0x0d, 0xb8, 0x00, 0xff})
			b.push_back(x);
		for (int i = 0; i < 9; i++)
			b.push_back(0);
		b.push_back((uint8_t)end);
	}
	return cat(b, payload);
}

static Bytes udp(uint16_t port, bool as_source, const Bytes &payload)
{
	Bytes b;
	add16(b, as_source ? port : 40000);
	add16(b, as_source ? 40000 : port);
	add16(b, (uint16_t)(8 + payload.size()));
	add16(b, 0);
	return cat(b, payload);
}

static Bytes gre(const EncapSpec &e, uint16_t type, const Bytes &payload)
{
	Bytes b;
	uint8_t f0 = (uint8_t)((e.gre_csum ? 0x80 : 0) | (e.gre_key ? 0x20 : 0) |
			       (e.gre_seq ? 0x10 : 0));
	b.push_back(f0);
	b.push_back(0);
	add16(b, type);
	if (e.gre_csum)
		add32(b, 0);
	if (e.gre_key)
		add32(b, e.id);
	if (e.gre_seq)
		add32(b, 7);
	return cat(b, payload);
}

static Bytes mpls(const EncapSpec &e, const Bytes &ip)
{
	Bytes b;
	for (unsigned i = 0; i < e.mpls_labels; i++) {
		bool bottom = i + 1 == e.mpls_labels;
		uint32_t label = bottom ? e.id : 1000 + i;
		add32(b, label << 12 | (bottom ? 0x100u : 0) | 64);
	}
	return cat(b, ip);
}

static Bytes pppoe(const EncapSpec &e, const Bytes &ip)
{
	Bytes b = {0x11, 0};
	add16(b, (uint16_t)e.id);
	add16(b, (uint16_t)(2 + ip.size()));
	add16(b, ethertype_of_ip(ip) == 0x0800 ? 0x0021 : 0x0057);
	return cat(b, ip);
}

static Bytes erspan3(const EncapSpec &e, const Bytes &frame)
{
	Bytes b = {0x20, 0};
	add16(b, (uint16_t)(e.id & 0x3ff));
	add32(b, 0); /* timestamp */
	add16(b, 0); /* SGT */
	b.push_back(0);
	b.push_back(e.opt ? 1 : 0); /* O: platform subheader follows */
	if (e.opt)
		add32(b, 0), add32(b, 0);
	return cat(b, frame);
}

static Bytes pptp(const EncapSpec &e, const Bytes &ip)
{
	Bytes b = {0x30, 0x81}; /* key and sequence present; version 1 with acknowledgment */
	add16(b, 0x880b);
	add16(b, (uint16_t)(4 + ip.size()));
	add16(b, (uint16_t)e.id); /* call id */
	add32(b, 1);              /* sequence */
	add32(b, 0);              /* acknowledgment */
	b.push_back(0xff);        /* PPP address and control */
	b.push_back(0x03);
	add16(b, ethertype_of_ip(ip) == 0x0800 ? 0x0021 : 0x0057);
	return cat(b, ip);
}

static Bytes geneve(const EncapSpec &e, const Bytes &frame)
{
	const Bytes inner = e.geneve_ether ? frame : ip_of(frame);
	Bytes b = {(uint8_t)(e.opt ? 2 : 0), 0};
	add16(b, e.geneve_ether ? 0x6558 : ethertype_of_ip(inner));
	add32(b, e.id << 8);
	if (e.opt)
		add32(b, 0x01020300 | 1), add32(b, 0xdeadbeef); /* one 8-byte option */
	return cat(b, inner);
}

static Bytes gtpu(const EncapSpec &e, const Bytes &ip)
{
	Bytes b, body;
	const bool opt = e.gtpu_ext > 0;

	b.push_back((uint8_t)(0x30 | (opt ? 0x04 : 0))); /* version 1, GTP, E */
	b.push_back(0xff);                                 /* G-PDU */
	if (opt) {
		add16(body, 0);    /* sequence number */
		body.push_back(0); /* N-PDU number */
		body.push_back(0x85);
		for (unsigned i = 0; i < e.gtpu_ext; i++) {
			body.push_back(1); /* 4 bytes: length, 2 of content, next type */
			body.push_back(0);
			body.push_back(0);
			body.push_back(i + 1 < e.gtpu_ext ? 0x85 : 0);
		}
	}
	body = cat(body, ip);
	add16(b, (uint16_t)body.size());
	add32(b, e.id);
	return cat(b, body);
}

Bytes wrap(const Bytes &frame, const EncapSpec &e)
{
	const std::vector<uint16_t> &v = e.vlans;
	switch (e.kind) {
	case Encap::Mpls:
		return ethernet(0x8847, mpls(e, ip_of(frame)), v);
	case Encap::Pppoe:
		return ethernet(0x8864, pppoe(e, ip_of(frame)), v);
	case Encap::IpInIp4: {
		Bytes ip = ip_of(frame);
		return ethernet(0x0800, ipv4(ethertype_of_ip(ip) == 0x0800 ? 4 : 41, ip), v);
	}
	case Encap::IpInIp6: {
		Bytes ip = ip_of(frame);
		return ethernet(0x86dd, ipv6(ethertype_of_ip(ip) == 0x0800 ? 4 : 41, ip), v);
	}
	case Encap::Gre: {
		Bytes ip = ip_of(frame);
		return ethernet(0x0800, ipv4(47, gre(e, ethertype_of_ip(ip), ip)), v);
	}
	case Encap::GreTeb:
		return ethernet(0x0800, ipv4(47, gre(e, 0x6558, frame)), v);
	case Encap::Erspan2: {
		EncapSpec g = e;
		g.gre_seq = true;
		g.gre_key = false;
		Bytes hdr = {0x10, 0};
		add16(hdr, (uint16_t)(e.id & 0x3ff));
		add32(hdr, 0);
		return ethernet(0x0800, ipv4(47, gre(g, 0x88be, cat(hdr, frame))), v);
	}
	case Encap::Erspan3: {
		EncapSpec g = e;
		g.gre_seq = true;
		g.gre_key = false;
		return ethernet(0x0800, ipv4(47, gre(g, 0x22eb, erspan3(e, frame))), v);
	}
	case Encap::Pptp:
		return ethernet(0x0800, ipv4(47, pptp(e, ip_of(frame))), v);
	case Encap::Vxlan: {
		Bytes hdr = {0x08, 0, 0, 0};
		add32(hdr, e.id << 8);
		return ethernet(0x0800, ipv4(17, udp(4789, e.udp_src_port, cat(hdr, frame))), v);
	}
	case Encap::Geneve:
		return ethernet(0x86dd, ipv6(17, udp(6081, e.udp_src_port, geneve(e, frame))), v);
	case Encap::Gtpu:
		return ethernet(0x0800, ipv4(17, udp(2152, e.udp_src_port, gtpu(e, ip_of(frame)))),
				v);
	}
	abort();
}

/* The offset of the first IP header of an Ethernet frame (after its tags). */
static size_t ip_offset(const Bytes &frame)
{
	return frame.size() - ip_of(frame).size();
}

std::vector<Bytes> fragments_of(const Bytes &frame, const std::vector<Piece> &pieces, uint32_t id)
{
	const size_t l3 = ip_offset(frame);
	const bool v6 = (frame[l3] >> 4) == 6;
	const size_t hlen = v6 ? 40 : (size_t)(frame[l3] & 0x0f) * 4;
	const size_t total = frame.size() - l3 - hlen;
	std::vector<Bytes> out;

	for (const Piece &p : pieces) {
		const bool more = p.off + p.len < total;
		Bytes f(frame.begin(), frame.begin() + (long)(l3 + hlen));
		if (v6) {
			const uint8_t next = f[l3 + 6];
			f[l3 + 6] = 44;
			Bytes fh = {next, 0, (uint8_t)(p.off >> 8), (uint8_t)((p.off & 0xf8) | (more ? 1 : 0))};
			add32(fh, id);
			f = cat(f, fh);
			const size_t plen = 8 + p.len;
			f[l3 + 4] = (uint8_t)(plen >> 8);
			f[l3 + 5] = (uint8_t)plen;
		} else {
			const size_t tot = hlen + p.len;
			f[l3 + 2] = (uint8_t)(tot >> 8);
			f[l3 + 3] = (uint8_t)tot;
			f[l3 + 4] = (uint8_t)(id >> 8);
			f[l3 + 5] = (uint8_t)id;
			const uint16_t field = (uint16_t)((p.off / 8) | (more ? 0x2000 : 0));
			f[l3 + 6] = (uint8_t)(field >> 8);
			f[l3 + 7] = (uint8_t)field;
		}
		f.insert(f.end(), frame.begin() + (long)(l3 + hlen + p.off),
			 frame.begin() + (long)(l3 + hlen + p.off + p.len));
		out.push_back(f);
	}
	return out;
}

std::vector<Piece> even_pieces(size_t total, size_t size)
{
	std::vector<Piece> out;
	for (size_t off = 0; off < total; off += size)
		out.push_back({off, std::min(size, total - off)});
	return out;
}

Bytes wrap_all(Bytes frame, const std::vector<EncapSpec> &layers)
{
	for (const EncapSpec &e : layers)
		frame = wrap(frame, e);
	return frame;
}

Bytes over_ethernet(uint16_t type, const Bytes &payload)
{
	return ethernet(type, payload, {});
}

Bytes over_ipv4(uint8_t proto, const Bytes &payload)
{
	return ethernet(0x0800, ipv4(proto, payload), {});
}

Bytes over_udp(uint16_t dport, const Bytes &payload, uint16_t sport)
{
	Bytes b;
	add16(b, sport);
	add16(b, dport);
	add16(b, (uint16_t)(8 + payload.size()));
	add16(b, 0);
	return over_ipv4(17, cat(b, payload));
}

} // namespace reasm_test
