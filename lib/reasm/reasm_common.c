/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * What every stage shares: the log type, the counters' names, descriptions
 * and classes (generated from the REASM_COUNTERS X-macro of reasm.h), and
 * the skip causes' names.
 */

#include <rte_log.h>

#include "reasm_private.h"

RTE_LOG_REGISTER(reasm_logtype, lib.reasm, NOTICE);

static const char *const counter_names[] = {
#define REASM_COUNTER_NAME(name, cls, desc) #name,
	REASM_COUNTERS(REASM_COUNTER_NAME)
#undef REASM_COUNTER_NAME
};

static const char *const counter_descs[] = {
#define REASM_COUNTER_DESC(name, cls, desc) desc,
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

static const enum reasm_counter_class counter_classes[] = {
#define REASM_COUNTER_CLASS(name, cls, desc) REASM_CLASS_##cls,
	REASM_COUNTERS(REASM_COUNTER_CLASS)
#undef REASM_COUNTER_CLASS
};

enum reasm_counter_class
reasm_counter_class(unsigned int counter)
{
	return counter < REASM_CTR_MAX ? counter_classes[counter] : REASM_CLASS_MAX;
}

const char *
reasm_counter_class_name(enum reasm_counter_class cls)
{
	static const char *const names[REASM_CLASS_MAX] = {
		[REASM_CLASS_TRAFFIC] = "traffic",
		[REASM_CLASS_DROP] = "drop",
		[REASM_CLASS_ANOMALY] = "anomaly",
		[REASM_CLASS_IGNORED] = "ignored",
		[REASM_CLASS_TABLE_FULL] = "table_full",
		[REASM_CLASS_CONN] = "conn",
		[REASM_CLASS_NOT_DELIVERED] = "not_delivered",
		[REASM_CLASS_SKIP] = "skip",
		[REASM_CLASS_EVENT] = "event",
		[REASM_CLASS_DEFRAG] = "defrag",
		[REASM_CLASS_GAUGE] = "gauge",
	};
	return (unsigned int)cls < REASM_CLASS_MAX ? names[cls] : NULL;
}

uint64_t
reasm_stats_class_sum(const struct reasm_stats *stats, enum reasm_counter_class cls)
{
	uint64_t sum = 0;
	unsigned int c;

	if (stats == NULL)
		return 0;
	for (c = 0; c < REASM_CTR_MAX; c++)
		if (counter_classes[c] == cls)
			sum += stats->v[c];
	return sum;
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

const char *
reasm_encap_name(unsigned int bit)
{
	switch (bit) {
	case REASM_ENCAP_VLAN:
		return "vlan";
	case REASM_ENCAP_MPLS:
		return "mpls";
	case REASM_ENCAP_PPPOE:
		return "pppoe";
	case REASM_ENCAP_IPIP:
		return "ipip";
	case REASM_ENCAP_GRE:
		return "gre";
	case REASM_ENCAP_ERSPAN:
		return "erspan";
	case REASM_ENCAP_VXLAN:
		return "vxlan";
	case REASM_ENCAP_GENEVE:
		return "geneve";
	case REASM_ENCAP_GTPU:
		return "gtpu";
	default:
		return "unknown";
	}
}
