/* SPDX-License-Identifier: BSD-3-Clause
 * Test support: build Ethernet frames carrying TCP segments, as bytes or mbufs.
 */
#ifndef REASM_TEST_FRAMES_H
#define REASM_TEST_FRAMES_H

#include <array>
#include <cstdint>
#include <vector>

#include "reasm.h"

struct rte_mbuf;

namespace reasm_test
{

struct FrameSpec {
	int family = 4; /* 4 or 6 */
	std::array<uint8_t, 16> src{{1, 2, 3, 4}};
	std::array<uint8_t, 16> dst{{5, 6, 7, 8}};
	uint16_t sport = 1;
	uint16_t dport = 2;
	uint32_t seq = 0;
	uint8_t flags = 0; /* REASM_TCP_* */
	std::vector<uint8_t> payload;
	std::vector<uint16_t> vlans;   /* tags, outermost first */
	bool qinq = false;             /* outer tag uses TPID 0x88a8 */
	unsigned ipv4_options_len = 0; /* multiple of 4, <= 40 */
	std::vector<uint8_t> ipv6_ext; /* extension header types, in order (0, 43, 60) */
	unsigned tcp_options_len = 0;  /* multiple of 4, <= 40 */
	unsigned eth_padding = 0;      /* trailing bytes after the IP packet */
};

/* The frame as bytes, with correct IP lengths (checksums are not computed). */
std::vector<uint8_t> build_frame(const FrameSpec &spec);

/* Offsets of the headers inside build_frame(spec). */
struct FrameLayout {
	size_t l3;      /* IP header */
	size_t l4;      /* TCP header */
	size_t payload; /* first payload byte */
};
FrameLayout frame_layout(const FrameSpec &spec);

/* The key reasm computes for the frame's direction. */
struct reasm_flow flow_of(const FrameSpec &spec);

/* The segment reasm_assemble() should get for the frame. */
struct reasm_segment segment_of(const FrameSpec &spec);

/* Copy bytes into a single-segment mbuf from mbuf_pool(); aborts on failure. */
struct rte_mbuf *to_mbuf(const std::vector<uint8_t> &bytes);

/* Copy bytes into a chain of mbufs, the first holding first_len bytes and the
 * others at most seg_len each. */
struct rte_mbuf *to_mbuf_chain(const std::vector<uint8_t> &bytes, size_t first_len, size_t seg_len);

} // namespace reasm_test

#endif
