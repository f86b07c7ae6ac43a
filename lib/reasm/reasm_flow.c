/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Flow keys, counter and skip-cause names, the log type.
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <rte_log.h>

#include "reasm_private.h"

RTE_LOG_REGISTER(reasm_logtype, lib.reasm, NOTICE);

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

static const char *const counter_names[] = {
#define REASM_COUNTER_NAME(name, desc) #name,
	REASM_COUNTERS(REASM_COUNTER_NAME)
#undef REASM_COUNTER_NAME
};

static const char *const counter_descs[] = {
#define REASM_COUNTER_DESC(name, desc) desc,
	REASM_COUNTERS(REASM_COUNTER_DESC)
#undef REASM_COUNTER_DESC
};

const char *
reasm_counter_name(unsigned int counter)
{
	return counter < REASM_CTR_MAX ? counter_names[counter] : NULL;
}

const char *
reasm_counter_desc(unsigned int counter)
{
	return counter < REASM_CTR_MAX ? counter_descs[counter] : NULL;
}

const char *
reasm_skip_cause_name(enum reasm_skip_cause cause)
{
	static const char *const names[REASM_SKIP_CAUSE_MAX] = {
		[REASM_SKIP_NONE] = "none",
		[REASM_SKIP_START_UNKNOWN] = "start_unknown",
		[REASM_SKIP_PAGE_LIMIT] = "page_limit",
		[REASM_SKIP_TOTAL_LIMIT] = "total_limit",
		[REASM_SKIP_NO_PAGE] = "no_page",
		[REASM_SKIP_FLUSH] = "flush",
		[REASM_SKIP_FLUSH_ALL] = "flush_all",
	};
	return (unsigned int)cause < REASM_SKIP_CAUSE_MAX ? names[cause] : "unknown";
}
