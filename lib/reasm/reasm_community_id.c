/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Community ID (version 1) of a TCP connection: the flow identifier Zeek,
 * Suricata, Arkime and others log, so that records of different tools join
 * on one string. Specification: https://github.com/corelight/community-id-spec
 *
 *   "1:" base64(SHA-1(seed, addr_a, addr_b, proto, 0, port_a, port_b))
 *
 * with the seed and ports in network byte order and (addr_a, port_a) the
 * smaller endpoint (address first, then port), so that both directions of a
 * connection get the same identifier.
 */

#include <errno.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "reasm_private.h"

#define IPPROTO_TCP_NUMBER 6

/* Whether (a, pa) sorts before or equal to (b, pb), addresses compared as bytes. */
static bool
endpoint_first(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb, size_t alen)
{
	int c = memcmp(a, b, alen);

	return c < 0 || (c == 0 && pa <= pb);
}

static void
sha1_put_be16(struct sha1_ctx *ctx, uint16_t v)
{
	uint8_t be[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	sha1_update(ctx, sizeof(be), be);
}

int
reasm_community_id(const struct reasm_flow *flow, uint16_t seed, char *buf, size_t size)
{
	const uint8_t *a = flow->src_addr, *b = flow->dst_addr;
	uint16_t pa = flow->src_port, pb = flow->dst_port;
	uint8_t proto_pad[2] = {IPPROTO_TCP_NUMBER, 0};
	uint8_t digest[SHA1_DIGEST_SIZE];
	struct sha1_ctx ctx;
	size_t alen;

	if (flow->family == REASM_FAMILY_IPV4)
		alen = 4;
	else if (flow->family == REASM_FAMILY_IPV6)
		alen = 16;
	else
		return -EINVAL;
	if (buf == NULL || size < REASM_COMMUNITY_ID_SIZE)
		return -ENOSPC;
	if (!endpoint_first(a, pa, b, pb, alen)) {
		a = flow->dst_addr;
		b = flow->src_addr;
		pa = flow->dst_port;
		pb = flow->src_port;
	}
	sha1_init(&ctx);
	sha1_put_be16(&ctx, seed);
	sha1_update(&ctx, alen, a);
	sha1_update(&ctx, alen, b);
	sha1_update(&ctx, sizeof(proto_pad), proto_pad);
	sha1_put_be16(&ctx, pa);
	sha1_put_be16(&ctx, pb);
	sha1_digest(&ctx, sizeof(digest), digest);

	buf[0] = '1';
	buf[1] = ':';
	base64_encode_raw(buf + 2, sizeof(digest), digest);
	buf[REASM_COMMUNITY_ID_SIZE - 1] = '\0';
	return REASM_COMMUNITY_ID_SIZE - 1;
}
