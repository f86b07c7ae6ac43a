/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Connections: the two stream directions of a 4-tuple paired, above the
 * unidirectional layer, which does not change (reasm_pool_conf.
 * max_connections; single-writer pools).
 *
 * One table entry per connection, keyed by the canonical key (the lower
 * address and port as src), in a second rte_hash. A packet whose stream
 * direction is open finds its connection through the direction (conn->conv,
 * which shares the spinlock's word: single-writer pools lock nothing), so
 * the second lookup is made only by packets without an open direction: pure
 * ACKs of a side that never sent data, FINs and RSTs after a direction
 * closed, a connection's first packet.
 *
 * A connection lives until it is idle past a flush time (or the last flush)
 * with none of its directions open; the directions close first in every
 * flush, so a connection's complete() always follows theirs. Only
 * connections without an open direction are on the idle list (the only ones
 * a flush or an eviction may complete); it is kept lazily, as the pool's: by
 * idle_key, never above last_seen, re-placed when a walk meets it stale.
 */

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>

#include "reasm_private.h"

#define MIN_CONNECTIONS 8

static const char *const roles_names[REASM_ROLES_MAX] = {
	[REASM_ROLES_GUESSED] = "guessed",
	[REASM_ROLES_SYN] = "syn",
	[REASM_ROLES_SYN_ACK] = "syn_ack",
};

static const char *const end_names[REASM_END_MAX] = {
	[REASM_END_NONE] = "none",
	[REASM_END_FIN] = "fin",
	[REASM_END_RST_CLIENT] = "rst_client",
	[REASM_END_RST_SERVER] = "rst_server",
	[REASM_END_IDLE] = "idle",
	[REASM_END_FLUSH_ALL] = "flush_all",
	[REASM_END_TABLE_FULL] = "table_full",
};

const char *
reasm_roles_name(unsigned int roles)
{
	return roles < REASM_ROLES_MAX ? roles_names[roles] : "unknown";
}

const char *
reasm_conn_end_name(unsigned int end)
{
	return end < REASM_END_MAX ? end_names[end] : "unknown";
}

/* ---- the idle list ----------------------------------------------------- */

static void
idle_unlink(struct reasm_convs *cs, uint32_t idx)
{
	struct reasm_conn_link *l = &cs->convs[idx].idle;

	if (l->prev != REASM_NO_CONN)
		cs->convs[l->prev].idle.next = l->next;
	else
		cs->idle.head = l->next;
	if (l->next != REASM_NO_CONN)
		cs->convs[l->next].idle.prev = l->prev;
	else
		cs->idle.tail = l->prev;
	l->prev = l->next = REASM_NO_CONN;
	cs->idle.count--;
}

/* Place @p idx by its idle_key: normally the newest, an append at the tail. */
static void
idle_place(struct reasm_convs *cs, uint32_t idx)
{
	struct reasm_conn_link *l = &cs->convs[idx].idle;
	uint64_t key = cs->convs[idx].idle_key;
	uint32_t after = cs->idle.tail;

	while (after != REASM_NO_CONN && cs->convs[after].idle_key > key)
		after = cs->convs[after].idle.prev;
	l->prev = after;
	l->next = after == REASM_NO_CONN ? cs->idle.head : cs->convs[after].idle.next;
	if (after == REASM_NO_CONN)
		cs->idle.head = idx;
	else
		cs->convs[after].idle.next = idx;
	if (l->next != REASM_NO_CONN)
		cs->convs[l->next].idle.prev = idx;
	else
		cs->idle.tail = idx;
	cs->idle.count++;
}

/* ---- opening and completing -------------------------------------------- */

/* The canonical key of @p flow: its lower endpoint (address, then port) as src. */
static void
canonical_key(const struct reasm_flow *flow, struct reasm_flow *key, bool *swapped)
{
	int cmp = memcmp(flow->src_addr, flow->dst_addr, sizeof(flow->src_addr));

	*key = *flow;
	*swapped = cmp > 0 || (cmp == 0 && flow->src_port > flow->dst_port);
	if (*swapped) {
		memcpy(key->src_addr, flow->dst_addr, sizeof(key->src_addr));
		memcpy(key->dst_addr, flow->src_addr, sizeof(key->dst_addr));
		key->src_port = flow->dst_port;
		key->dst_port = flow->src_port;
	}
}

/* What the callbacks see of @p cv. */
static void
conv_publish(const struct reasm_conv *cv, struct reasm_connection *c)
{
	unsigned int h;

	c->id = cv->id;
	c->first_seen = cv->first_seen;
	c->last_seen = cv->last_seen;
	c->half[0].flow = cv->flow;
	c->half[1].flow = cv->flow; /* the family and zone; the endpoints reversed: */
	memcpy(c->half[1].flow.src_addr, cv->flow.dst_addr, sizeof(cv->flow.src_addr));
	memcpy(c->half[1].flow.dst_addr, cv->flow.src_addr, sizeof(cv->flow.dst_addr));
	c->half[1].flow.src_port = cv->flow.dst_port;
	c->half[1].flow.dst_port = cv->flow.src_port;
	for (h = 0; h < 2; h++) {
		c->half[h].packets = cv->packets[h];
		c->half[h].payload_bytes = cv->payload_bytes[h];
		c->half[h].streams = cv->streams[h];
		c->half[h].totals = cv->totals[h];
	}
	c->client = cv->client;
	c->roles = cv->roles;
	c->end = cv->end;
	memcpy(c->history, cv->history, sizeof(c->history));
}

static void
complete_conv(struct reasm_assembler *a, uint32_t idx, enum reasm_conn_end why)
{
	struct reasm_convs *cs = a->pool->convs;
	struct reasm_conv *cv = &cs->convs[idx];
	struct reasm_connection c;

	if (cv->end == REASM_END_NONE)
		cv->end = (uint8_t)why;
	conv_publish(cv, &c);
	cs->ops->complete(cv->ctx, &c);
	reasm_ctr_add(a, REASM_CTR_connections_completed, 1);
	if (why == REASM_END_TABLE_FULL)
		reasm_ctr_add(a, REASM_CTR_connections_evicted, 1);
	cv->in_use = false;
	idle_unlink(cs, idx); /* complete only those on it: no open stream */
	rte_hash_del_key_with_hash(cs->table, &cv->key, reasm_flow_hash_inline(&cv->key));
	__atomic_store_n(&cs->count, cs->count - 1, __ATOMIC_RELAXED);
}

/*
 * The head of the idle list once it is not stale: the least recently seen
 * connection without an open stream, or REASM_NO_CONN. Each one re-placed
 * had a packet since it was placed.
 */
static uint32_t
idle_oldest(struct reasm_convs *cs)
{
	uint32_t idx;

	while ((idx = cs->idle.head) != REASM_NO_CONN &&
	       cs->convs[idx].last_seen > cs->convs[idx].idle_key) {
		idle_unlink(cs, idx);
		cs->convs[idx].idle_key = cs->convs[idx].last_seen;
		idle_place(cs, idx);
	}
	return idx;
}

/* Make room: complete the least recently seen connection with no open stream. */
static bool
evict_one(struct reasm_assembler *a)
{
	uint32_t idx = idle_oldest(a->pool->convs);

	if (idx == REASM_NO_CONN)
		return false; /* every connection has a stream open */
	complete_conv(a, idx, REASM_END_TABLE_FULL);
	return true;
}

/* A new connection for @p flow's packet at @p ts; its open() runs once the packet is applied. */
static uint32_t
open_conv(struct reasm_assembler *a, const struct reasm_flow *flow, const struct reasm_flow *key,
	  uint32_t hash, uint64_t ts)
{
	struct reasm_convs *cs = a->pool->convs;
	struct reasm_conv *cv;
	int32_t pos;

	if (cs->count >= cs->max && !evict_one(a))
		return REASM_NO_CONN;
	pos = rte_hash_add_key_with_hash(cs->table, key, hash);
	if (pos < 0 || (uint32_t)pos >= cs->max) {
		if (pos >= 0)
			rte_hash_del_key_with_hash(cs->table, key, hash);
		return REASM_NO_CONN;
	}
	__atomic_store_n(&cs->count, cs->count + 1, __ATOMIC_RELAXED); /* read lock-free */
	cv = &cs->convs[pos];
	memset(cv, 0, sizeof(*cv));
	cv->key = *key;
	cv->flow = *flow;
	cv->in_use = true;
	cv->id = ++cs->next_id;
	cv->first_seen = cv->last_seen = ts;
	cv->idle_key = ts;
	idle_place(cs, (uint32_t)pos); /* no stream open yet */
	if (unlikely(a->pool->zones != NULL) && reasm_flow_zone_get(key) != 0)
		cv->zone_serial = reasm_zone_serial(a->pool->zones, reasm_flow_zone_get(key));
	return (uint32_t)pos;
}

/* The connection's open(), once its first packet is applied. */
static void
call_open(struct reasm_assembler *a, uint32_t idx, const struct reasm_encap *encap)
{
	struct reasm_convs *cs = a->pool->convs;
	struct reasm_conv *cv = &cs->convs[idx];
	struct reasm_connection c;
	void *priv = NULL;

	if (cs->priv_size > 0) {
		priv = cs->privs + (size_t)idx * cs->priv_size;
		memset(priv, 0, cs->priv_size);
	}
	conv_publish(cv, &c);
	a->pool->open_encap = encap; /* reasm_pool_open_encap() works in open() too */
	cv->ctx = cs->ops->open(cs->ctx, &c, priv);
	a->pool->open_encap = NULL;
	reasm_ctr_add(a, REASM_CTR_connections_opened, 1);
}

/* ---- what one packet tells ------------------------------------------------ */

static void
history_add(struct reasm_conv *cv, uint8_t half, char code)
{
	if (cv->hist_len >= REASM_HISTORY_MAX)
		return;
	/* Zeek's letters are the originator's; the responder's are lower case. */
	cv->history[cv->hist_len++] = half == cv->client ? code : (char)(code | 0x20);
	cv->history[cv->hist_len] = '\0';
}

/* Zeek's CheckHistory: the first time @p bit is seen on this side, write @p code. */
static bool
history_check(struct reasm_conv *cv, uint8_t half, uint8_t bit, char code)
{
	if (cv->hist_seen[half] & bit)
		return true;
	cv->hist_seen[half] |= bit;
	history_add(cv, half, code);
	return false;
}

void
reasm_conv_history_first(struct reasm_conv *cv, uint8_t half, uint8_t bit)
{
	history_check(cv, half, bit, bit == HIST_DATA ? 'D' : 'A');
}

/* Zeek's update_history (TCPSessionAdapter). */
static void
history_update(struct reasm_conv *cv, uint8_t half, const struct reasm_segment *seg)
{
	uint8_t f = seg->flags;
	unsigned int bits = !!(f & REASM_TCP_SYN) + !!(f & REASM_TCP_FIN) + !!(f & REASM_TCP_RST);

	if (bits > 1) {
		if ((f & REASM_TCP_FIN) && (f & REASM_TCP_RST))
			history_check(cv, half, HIST_FIN_RST, 'I');
		else
			history_check(cv, half, HIST_MULTI, 'Q');
	} else if (f & REASM_TCP_SYN) {
		char code = (f & REASM_TCP_ACK) ? 'H' : 'S';

		if (history_check(cv, half, HIST_SYN, code) && seg->seq != cv->last_syn[half])
			history_add(cv, half, code);
		cv->last_syn[half] = seg->seq;
	} else if (f & REASM_TCP_FIN) {
		uint32_t end = seg->seq + seg->len + seg->cut; /* FIN's sequence: after the data */

		if (history_check(cv, half, HIST_FIN, 'F') && end != cv->last_fin[half])
			history_add(cv, half, 'F');
		cv->last_fin[half] = end;
	} else if (f & REASM_TCP_RST) {
		if (history_check(cv, half, HIST_RST, 'R') && seg->seq != cv->last_rst[half])
			history_add(cv, half, 'R');
		cv->last_rst[half] = seg->seq;
	} else if (seg->len + seg->cut > 0) {
		history_check(cv, half, HIST_DATA, 'D');
	} else if (f & REASM_TCP_ACK) {
		history_check(cv, half, HIST_ACK, 'A');
	}
}

/* A guess proven wrong: the other side is the client. */
static void
flip_roles(struct reasm_conv *cv)
{
	uint8_t i;

	cv->client ^= 1;
	if (cv->end == REASM_END_RST_CLIENT)
		cv->end = REASM_END_RST_SERVER;
	else if (cv->end == REASM_END_RST_SERVER)
		cv->end = REASM_END_RST_CLIENT;
	if (cv->hist_len == 0)
		return;
	for (i = 0; i < cv->hist_len; i++)
		if (cv->history[i] != '^')
			cv->history[i] ^= 0x20; /* ASCII letters: swap case */
	if (cv->hist_len < REASM_HISTORY_MAX) {
		cv->history[cv->hist_len++] = '^';
		cv->history[cv->hist_len] = '\0';
	}
}

/*
 * Who the client is, from a SYN (its sender) or a SYN-ACK (its receiver):
 * a guess is corrected (once); a SYN-ACK's verdict is confirmed by the
 * client's SYN, never reversed.
 */
static void
roles_update(struct reasm_conv *cv, uint8_t half, uint8_t flags)
{
	if (!(flags & REASM_TCP_SYN) || cv->roles == REASM_ROLES_SYN)
		return;
	if (cv->roles == REASM_ROLES_SYN_ACK) {
		if (!(flags & REASM_TCP_ACK) && half == cv->client)
			cv->roles = REASM_ROLES_SYN;
		return;
	}
	if ((cv->client != half) == !(flags & REASM_TCP_ACK))
		flip_roles(cv); /* a SYN from the server side, or a SYN-ACK from the client's */
	cv->roles = (flags & REASM_TCP_ACK) ? REASM_ROLES_SYN_ACK : REASM_ROLES_SYN;
}

static void
end_update(struct reasm_conv *cv, uint8_t half, uint8_t flags)
{
	if (flags & REASM_TCP_FIN)
		cv->fin[half] = true;
	if (cv->end != REASM_END_NONE)
		return;
	if (flags & REASM_TCP_RST)
		cv->end = half == cv->client ? REASM_END_RST_CLIENT : REASM_END_RST_SERVER;
	else if (cv->fin[0] && cv->fin[1])
		cv->end = REASM_END_FIN;
}

static void
conv_apply(struct reasm_conv *cv, uint8_t half, const struct reasm_segment *seg, uint64_t ts)
{
	cv->packets[half]++;
	cv->payload_bytes[half] += seg->len + seg->cut;
	if (ts > cv->last_seen)
		cv->last_seen = ts;
	roles_update(cv, half, seg->flags);
	history_update(cv, half, seg);
	end_update(cv, half, seg->flags);
}

/*
 * Zones are held by open stream directions only (the stream layer's zones must
 * not depend on connections): a connection without one may outlive its
 * zone's index, which then names another {layers, VLAN, tunnel id}.
 */
static bool
zone_recycled(const struct reasm_pool *pool, const struct reasm_conv *cv)
{
	uint32_t zone = reasm_flow_zone_get(&cv->key);

	return pool->zones != NULL && zone != 0 &&
	       reasm_zone_serial(pool->zones, zone) != cv->zone_serial;
}

/* The connection of a packet whose direction is not open: by the canonical key. */
static uint32_t
find_conv(struct reasm_assembler *a, const struct reasm_flow *flow, const struct reasm_segment *seg,
	  uint64_t ts, bool *created)
{
	struct reasm_convs *cs = a->pool->convs;
	struct reasm_flow key;
	bool swapped;
	uint32_t hash;
	int32_t pos;

	canonical_key(flow, &key, &swapped);
	hash = reasm_flow_hash_inline(&key);
	pos = rte_hash_lookup_with_hash(cs->table, &key, hash);
	if (pos >= 0) {
		struct reasm_conv *cv = &cs->convs[pos];
		bool new_syn = (seg->flags & (REASM_TCP_SYN | REASM_TCP_ACK)) == REASM_TCP_SYN;

		if (unlikely(zone_recycled(a->pool, cv))) {
			/* Its zone index now names another VLAN or tunnel: no stream of it is
			 * open (they hold the zone), and it had no packet since. */
			complete_conv(a, (uint32_t)pos, REASM_END_TABLE_FULL);
		} else if (!new_syn || cv->end == REASM_END_NONE || cv->streams_open > 0) {
			return (uint32_t)pos;
		} else {
			/* A new SYN after the connection ended: the 4-tuple's next one starts. */
			complete_conv(a, (uint32_t)pos, REASM_END_NONE);
		}
	}
	*created = true;
	return open_conv(a, flow, &key, hash, ts);
}

uint32_t
reasm_conv_packet(struct reasm_assembler *a, const struct reasm_flow *flow,
		  const struct reasm_conn *dir, const struct reasm_segment *seg, uint64_t ts,
		  const struct reasm_encap *encap, uint8_t *half)
{
	struct reasm_convs *cs = a->pool->convs;
	bool created = false;
	uint32_t idx;

	if (dir != NULL && dir->conv != REASM_NO_CONN) {
		idx = dir->conv;
		*half = dir->conv_half;
	} else {
		idx = find_conv(a, flow, seg, ts, &created);
		if (idx == REASM_NO_CONN) {
			reasm_ctr_add(a, REASM_CTR_connections_untracked_pkts, 1);
			return REASM_NO_CONN;
		}
		*half = memcmp(flow, &cs->convs[idx].flow, sizeof(*flow)) == 0 ? 0 : 1;
	}
	conv_apply(&cs->convs[idx], *half, seg, ts);
	if (created)
		call_open(a, idx, encap);
	return idx;
}

void
reasm_conv_link(struct reasm_pool *pool, struct reasm_conn *conn, uint32_t cv, uint8_t half)
{
	struct reasm_convs *cs = pool->convs;

	conn->conv = cv;
	conn->conv_half = half;
	if (cv == REASM_NO_CONN)
		return;
	if (cs->convs[cv].streams_open++ == 0)
		idle_unlink(cs, cv); /* neither flushed nor evicted while a stream is open */
	cs->convs[cv].streams[half]++;
}

void
reasm_conv_unlink(struct reasm_pool *pool, struct reasm_conn *conn,
		  const struct reasm_stream_totals *t)
{
	struct reasm_conv *cv;
	struct reasm_stream_totals *sum;

	if (conn->conv == REASM_NO_CONN)
		return;
	cv = &pool->convs->convs[conn->conv];
	sum = &cv->totals[conn->conv_half];
	sum->received_bytes += t->received_bytes;
	sum->delivered_bytes += t->delivered_bytes;
	sum->overlap_bytes += t->overlap_bytes;
	sum->discarded_bytes += t->discarded_bytes;
	sum->skipped_bytes += t->skipped_bytes;
	sum->cut_bytes += t->cut_bytes;
	sum->conflicts += t->conflicts;
	sum->conflict_bytes += t->conflict_bytes;
	conn->conv = REASM_NO_CONN;
	if (--cv->streams_open == 0) {
		struct reasm_convs *cs = pool->convs;

		cv->idle_key = cv->last_seen;
		idle_place(cs, (uint32_t)(cv - cs->convs));
	}
}

unsigned int
reasm_convs_flush(struct reasm_assembler *a, bool all, uint64_t t)
{
	struct reasm_convs *cs = a->pool->convs;
	unsigned int n = 0;
	uint32_t idx, next;

	if (cs == NULL)
		return 0;
	for (idx = cs->idle.head; idx != REASM_NO_CONN; idx = next) {
		struct reasm_conv *cv = &cs->convs[idx];

		next = cv->idle.next;
		if (!all && cv->idle_key >= t)
			break;
		if (!all && cv->last_seen >= t) {
			idle_unlink(cs, idx);
			cv->idle_key = cv->last_seen; /* >= t: lands after the prefix */
			idle_place(cs, idx);
			continue;
		}
		complete_conv(a, idx, all ? REASM_END_FLUSH_ALL : REASM_END_IDLE);
		n++;
	}
	return n;
}

int
reasm_pool_open_connection(const struct reasm_pool *pool, struct reasm_half_ref *out)
{
	const struct reasm_convs *cs;
	const struct reasm_conv *cv;

	if (pool == NULL || out == NULL)
		return -EINVAL;
	cs = pool->convs;
	if (cs == NULL || !cs->in_open || cs->open_conv == REASM_NO_CONN)
		return -ENOENT;
	cv = &cs->convs[cs->open_conv];
	out->conn = cv->ctx;
	out->priv = cs->priv_size > 0 ? cs->privs + (size_t)cs->open_conv * cs->priv_size : NULL;
	out->id = cv->id;
	out->half = cs->open_half;
	return 0;
}

uint32_t
reasm_pool_connection_count(const struct reasm_pool *pool)
{
	if (pool == NULL || pool->convs == NULL)
		return 0;
	return __atomic_load_n(&pool->convs->count, __ATOMIC_RELAXED);
}

/* ---- create / free ---------------------------------------------------------- */

static uint32_t
conv_hash_func(const void *key, uint32_t key_len, uint32_t init_val)
{
	RTE_SET_USED(key_len);
	RTE_SET_USED(init_val);
	return reasm_flow_hash_inline(key);
}

int
reasm_convs_create(struct reasm_pool *pool, const struct reasm_pool_conf *conf)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters params = {
		.name = name,
		.entries = conf->max_connections,
		.key_len = sizeof(struct reasm_flow),
		.hash_func = conv_hash_func,
		.socket_id = conf->socket_id,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct reasm_convs *cs;

	if (conf->max_connections < MIN_CONNECTIONS || conf->max_connections > (UINT32_MAX >> 2) ||
	    conf->mode != REASM_POOL_SINGLE_WRITER || conf->conn_ops == NULL ||
	    conf->conn_ops->open == NULL || conf->conn_ops->complete == NULL) {
		REASM_LOG(ERR,
			  "pool %s: max_connections %u: %u to %u, in a single-writer pool, with "
			  "conn_ops open and complete",
			  conf->name, conf->max_connections, MIN_CONNECTIONS, UINT32_MAX >> 2);
		return -EINVAL;
	}
	cs = rte_zmalloc_socket("reasm_convs", sizeof(*cs), RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (cs == NULL)
		return -ENOMEM;
	pool->convs = cs;
	cs->max = conf->max_connections;
	cs->priv_size = conf->conn_priv_size;
	cs->ops = conf->conn_ops;
	cs->ctx = conf->conn_ctx;
	cs->idle.head = cs->idle.tail = REASM_NO_CONN;
	cs->open_conv = REASM_NO_CONN;
	snprintf(name, sizeof(name), "reasm_c%p", (void *)cs); /* unique in the process */
	cs->table = rte_hash_create(&params);
	cs->convs = rte_zmalloc_socket("reasm_conv", sizeof(struct reasm_conv) * cs->max,
				       RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (cs->priv_size > 0)
		cs->privs = rte_zmalloc_socket("reasm_conv_privs", (size_t)cs->priv_size * cs->max,
					       RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (cs->table == NULL || cs->convs == NULL || (cs->priv_size > 0 && cs->privs == NULL))
		return -ENOMEM;
	return 0;
}

void
reasm_convs_free(struct reasm_pool *pool)
{
	struct reasm_convs *cs = pool->convs;

	if (cs == NULL)
		return;
	rte_hash_free(cs->table);
	rte_free(cs->convs);
	rte_free(cs->privs);
	rte_free(cs);
	pool->convs = NULL;
}
