/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Flow keys: building and printing struct reasm_flow.
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "reasm_private.h"

void
reasm_flow_ipv4(struct reasm_flow *flow, const void *src_addr, const void *dst_addr,
		uint16_t src_port, uint16_t dst_port)
{
	reasm_flow_fill(flow, REASM_FAMILY_IPV4, src_addr, dst_addr, 4);
	flow->src_port = src_port;
	flow->dst_port = dst_port;
}

void
reasm_flow_ipv6(struct reasm_flow *flow, const void *src_addr, const void *dst_addr,
		uint16_t src_port, uint16_t dst_port)
{
	reasm_flow_fill(flow, REASM_FAMILY_IPV6, src_addr, dst_addr, 16);
	flow->src_port = src_port;
	flow->dst_port = dst_port;
}

uint32_t
reasm_flow_hash(const struct reasm_flow *flow)
{
	return reasm_flow_hash_inline(flow);
}

int
reasm_flow_format(const struct reasm_flow *flow, char *buf, size_t size)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	if (flow->family == REASM_FAMILY_IPV6) {
		inet_ntop(AF_INET6, flow->src_addr, src, sizeof(src));
		inet_ntop(AF_INET6, flow->dst_addr, dst, sizeof(dst));
		return snprintf(buf, size, "[%s]:%u -> [%s]:%u", src, flow->src_port, dst,
				flow->dst_port);
	}
	inet_ntop(AF_INET, flow->src_addr, src, sizeof(src));
	inet_ntop(AF_INET, flow->dst_addr, dst, sizeof(dst));
	return snprintf(buf, size, "%s:%u -> %s:%u", src, flow->src_port, dst, flow->dst_port);
}
