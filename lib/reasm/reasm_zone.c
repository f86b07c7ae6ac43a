/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Zones (struct reasm_pool_conf.max_zones): the VLAN id and the tunnel id a
 * frame came in (struct reasm_encap) become part of its key, so that
 * connections of overlapping address spaces (tenants behind VXLAN, VRFs
 * behind MPLS, VLANs of a mirror port) stay apart, as Suricata's
 * vlan.use-for-tracking and Zeek's conn_key do.
 *
 * The key has 24 bits for it (struct reasm_flow.zone): a zone is an exact
 * index, not a hash of the ids. Each pool maps {layers, VLAN id, tunnel id}
 * to an index with an rte_hash of max_zones entries; the index is held by
 * the connections opened in the zone (a reference count) and freed for
 * another zone once none is open, oldest unused first. A zone handed out in
 * the burst chunk under way is never reused in that chunk, because the
 * chunk's segments are parsed before any of them is assembled. When every
 * zone is held, a frame of a new zone is dropped and counted
 * (drop_zone_table_full).
 *
 * Single-writer pools only: the table and the counts are the assembler's.
 */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "reasm_private.h"

/* What makes a zone: the layers, the VLAN id, the tunnel id. */
struct zone_key {
	uint16_t layers;
	uint16_t vlan;
	uint32_t tunnel_id;
};

/* Zone @p idx (1-based) to its slot, by rte_hash position. */
static inline struct reasm_zone *
zone_at(struct reasm_zones *z, uint32_t idx)
{
	return &z->zones[idx - 1];
}

static void
unused_unlink(struct reasm_zones *z, uint32_t idx)
{
	struct reasm_zone *s = zone_at(z, idx);

	if (s->prev != 0)
		zone_at(z, s->prev)->next = s->next;
	else
		z->unused_head = s->next;
	if (s->next != 0)
		zone_at(z, s->next)->prev = s->prev;
	else
		z->unused_tail = s->prev;
	s->prev = s->next = 0;
}

static void
unused_append(struct reasm_zones *z, uint32_t idx)
{
	struct reasm_zone *s = zone_at(z, idx);

	s->prev = z->unused_tail;
	s->next = 0;
	if (z->unused_tail != 0)
		zone_at(z, z->unused_tail)->next = idx;
	else
		z->unused_head = idx;
	z->unused_tail = idx;
}

/* Free the oldest unused zone not handed out in this chunk; false if none. */
static bool
recycle_one(struct reasm_zones *z)
{
	uint32_t idx = z->unused_head;
	const void *key;

	if (idx == 0 || zone_at(z, idx)->stamp == z->chunk)
		return false;
	unused_unlink(z, idx);
	if (rte_hash_get_key_with_position(z->table, (int32_t)(idx - 1), (void **)&key) == 0)
		rte_hash_del_key(z->table, key);
	z->count--;
	return true;
}

/* A new zone for @p key: its index, or 0 when every zone is held. */
static uint32_t
zone_add(struct reasm_zones *z, const struct zone_key *key)
{
	int32_t pos;

	if (z->count >= z->max && !recycle_one(z))
		return 0;
	pos = rte_hash_add_key(z->table, key);
	if (pos < 0 || (uint32_t)pos >= z->max) {
		if (pos >= 0)
			rte_hash_del_key(z->table, key);
		return 0;
	}
	z->count++;
	zone_at(z, (uint32_t)pos + 1)->refs = 0;
	zone_at(z, (uint32_t)pos + 1)
		->serial++; /* a connection of its last zone is not this one's */
	unused_append(z, (uint32_t)pos + 1);
	return (uint32_t)pos + 1;
}

uint32_t
reasm_zone_of(struct reasm_zones *z, const struct reasm_encap *e)
{
	struct zone_key key = {
		.layers = (uint16_t)(e->layers & REASM_ENCAP_PUBLIC),
		.vlan = (e->layers & REASM_ENCAP_VLAN) ? e->vlan : 0,
		.tunnel_id = e->tunnel_id,
	};
	int32_t pos = rte_hash_lookup(z->table, &key);
	uint32_t idx = pos >= 0 ? (uint32_t)pos + 1 : zone_add(z, &key);

	if (idx != 0)
		zone_at(z, idx)->stamp = z->chunk;
	return idx;
}

void
reasm_zone_hold(struct reasm_zones *z, uint32_t idx)
{
	struct reasm_zone *s = zone_at(z, idx);

	if (s->refs++ == 0)
		unused_unlink(z, idx);
}

void
reasm_zone_release(struct reasm_zones *z, uint32_t idx)
{
	struct reasm_zone *s = zone_at(z, idx);

	if (--s->refs == 0)
		unused_append(z, idx);
}

int
reasm_zones_create(struct reasm_pool *pool, uint32_t max, int socket_id)
{
	char name[RTE_HASH_NAMESIZE];
	struct reasm_zones *z;
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = RTE_MAX(max, 8u),
		.key_len = sizeof(struct zone_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket_id,
	};

	if (max > REASM_ZONE_MAX)
		return -EINVAL;
	z = rte_zmalloc_socket("reasm_zones", sizeof(*z), 0, socket_id);
	if (z == NULL)
		return -ENOMEM;
	z->max = max;
	z->zones = rte_zmalloc_socket("reasm_zone", sizeof(*z->zones) * max, 0, socket_id);
	snprintf(name, sizeof(name), "reasm_z%p", (void *)z); /* unique in the process */
	if (z->zones != NULL)
		z->table = rte_hash_create(&hp);
	if (z->table == NULL) {
		int rc = z->zones == NULL ? -ENOMEM : -rte_errno;

		rte_free(z->zones);
		rte_free(z);
		return rc;
	}
	pool->zones = z;
	return 0;
}

void
reasm_zones_free(struct reasm_pool *pool)
{
	struct reasm_zones *z = pool->zones;

	if (z == NULL)
		return;
	rte_hash_free(z->table);
	rte_free(z->zones);
	rte_free(z);
	pool->zones = NULL;
}

uint32_t
reasm_pool_zones_in_use(const struct reasm_pool *pool)
{
	return pool != NULL && pool->zones != NULL ? pool->zones->count : 0;
}
