/* SPDX-License-Identifier: BSD-3-Clause */
#include "frames.h"
#include "test_env.h"

#include <rte_mbuf.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace reasm_test {

static void put16(std::vector<uint8_t> &f, size_t off, uint16_t v)
{
	f[off] = (uint8_t)(v >> 8);
	f[off + 1] = (uint8_t)v;
}

static void put32(std::vector<uint8_t> &f, size_t off, uint32_t v)
{
	put16(f, off, (uint16_t)(v >> 16));
	put16(f, off + 2, (uint16_t)v);
}

static size_t l2_len(const FrameSpec &s)
{
	return 14 + 4 * s.vlans.size();
}

static size_t ip_header_len(const FrameSpec &s)
{
	if (s.family == 4)
		return 20 + s.ipv4_options_len;
	return 40 + 8 * s.ipv6_ext.size();
}

FrameLayout frame_layout(const FrameSpec &s)
{
	FrameLayout l;
	l.l3 = l2_len(s);
	l.l4 = l.l3 + ip_header_len(s);
	l.payload = l.l4 + 20 + s.tcp_options_len;
	return l;
}

std::vector<uint8_t> build_frame(const FrameSpec &s)
{
	FrameLayout l = frame_layout(s);
	std::vector<uint8_t> f(l.payload + s.payload.size() + s.eth_padding, 0);
	const uint16_t ethertype = s.family == 4 ? 0x0800 : 0x86dd;

	/* Ethernet: fixed MACs, then tags, then the ethertype. */
	for (int i = 0; i < 6; i++) {
		f[i] = 0x02;
		f[6 + i] = 0x04;
	}
	size_t off = 12;
	for (size_t i = 0; i < s.vlans.size(); i++) {
		put16(f, off, (i == 0 && s.qinq) ? 0x88a8 : 0x8100);
		put16(f, off + 2, s.vlans[i]);
		off += 4;
	}
	put16(f, off, ethertype);

	const size_t tcp_len = 20 + s.tcp_options_len + s.payload.size();
	if (s.family == 4) {
		f[l.l3] = (uint8_t)(0x40 | ((20 + s.ipv4_options_len) / 4));
		put16(f, l.l3 + 2, (uint16_t)(20 + s.ipv4_options_len + tcp_len));
		f[l.l3 + 8] = 64;
		f[l.l3 + 9] = 6;
		memcpy(&f[l.l3 + 12], s.src.data(), 4);
		memcpy(&f[l.l3 + 16], s.dst.data(), 4);
		for (unsigned i = 0; i < s.ipv4_options_len; i++)
			f[l.l3 + 20 + i] = 1; /* NOP options */
	} else {
		f[l.l3] = 0x60;
		put16(f, l.l3 + 4, (uint16_t)(8 * s.ipv6_ext.size() + tcp_len));
		f[l.l3 + 6] = s.ipv6_ext.empty() ? 6 : s.ipv6_ext[0];
		f[l.l3 + 7] = 64;
		memcpy(&f[l.l3 + 8], s.src.data(), 16);
		memcpy(&f[l.l3 + 24], s.dst.data(), 16);
		for (size_t i = 0; i < s.ipv6_ext.size(); i++) {
			size_t h = l.l3 + 40 + 8 * i;
			f[h] = i + 1 < s.ipv6_ext.size() ? s.ipv6_ext[i + 1] : 6;
			f[h + 1] = 0; /* 8 bytes long */
		}
	}
	put16(f, l.l4, s.sport);
	put16(f, l.l4 + 2, s.dport);
	put32(f, l.l4 + 4, s.seq);
	f[l.l4 + 12] = (uint8_t)(((20 + s.tcp_options_len) / 4) << 4);
	uint8_t tcp_flags = 0x10; /* ACK */
	if (s.flags & REASM_TCP_FIN)
		tcp_flags |= 0x01;
	if (s.flags & REASM_TCP_SYN)
		tcp_flags |= 0x02;
	if (s.flags & REASM_TCP_RST)
		tcp_flags |= 0x04;
	f[l.l4 + 13] = tcp_flags;
	put16(f, l.l4 + 14, 65535);
	for (unsigned i = 0; i < s.tcp_options_len; i++)
		f[l.l4 + 20 + i] = 1; /* NOP options */
	if (!s.payload.empty())
		memcpy(&f[l.payload], s.payload.data(), s.payload.size());
	return f;
}

struct reasm_flow flow_of(const FrameSpec &s)
{
	struct reasm_flow flow;
	if (s.family == 4)
		reasm_flow_ipv4(&flow, s.src.data(), s.dst.data(), s.sport, s.dport);
	else
		reasm_flow_ipv6(&flow, s.src.data(), s.dst.data(), s.sport, s.dport);
	return flow;
}

struct reasm_segment segment_of(const FrameSpec &s)
{
	struct reasm_segment seg = {};
	seg.seq = s.seq;
	seg.flags = s.flags;
	seg.payload = s.payload.empty() ? nullptr : s.payload.data();
	seg.len = (uint32_t)s.payload.size();
	return seg;
}

static struct rte_mbuf *alloc_or_die()
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mbuf_pool());
	if (m == nullptr) {
		fprintf(stderr, "test mbuf pool exhausted\n");
		abort();
	}
	return m;
}

struct rte_mbuf *to_mbuf(const std::vector<uint8_t> &bytes)
{
	return to_mbuf_chain(bytes, bytes.size(), bytes.size());
}

struct rte_mbuf *to_mbuf_chain(const std::vector<uint8_t> &bytes, size_t first_len,
			       size_t seg_len)
{
	struct rte_mbuf *head = alloc_or_die();
	size_t off = 0;
	size_t want = first_len < bytes.size() ? first_len : bytes.size();
	struct rte_mbuf *cur = head;
	for (;;) {
		if (want > rte_pktmbuf_tailroom(cur)) {
			fprintf(stderr, "frame segment of %zu bytes does not fit an mbuf\n", want);
			abort();
		}
		char *dst = rte_pktmbuf_append(cur, (uint16_t)want);
		if (want > 0)
			memcpy(dst, &bytes[off], want);
		if (cur != head) {
			head->pkt_len += (uint32_t)want;
		}
		off += want;
		if (off >= bytes.size())
			break;
		struct rte_mbuf *next = alloc_or_die();
		cur->next = next;
		head->nb_segs++;
		cur = next;
		want = bytes.size() - off < seg_len ? bytes.size() - off : seg_len;
	}
	return head;
}

} // namespace reasm_test
