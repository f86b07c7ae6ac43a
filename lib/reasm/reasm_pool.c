/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The connection pool: an rte_hash from struct reasm_flow to a position in a
 * preallocated connection array, plus two intrusive lists that let a flush
 * visit only the connections it may act on (idle ones, and those holding
 * pages).
 *
 * The idle list is kept lazily, so a packet never touches it: each
 * connection sits in it by idle_key, its last_seen when it was placed there,
 * and idle_key <= last_seen always holds. A flush older than T walks the
 * prefix with idle_key < T, which holds every connection with
 * last_seen < T; a connection in that prefix that has seen packets since
 * is re-placed by its current last_seen, at most once per flush.
 *
 * Locking (shared mode only; single-writer mode takes none):
 *   conn->lock  -> pool->table_lock (write) -> pool->list_lock
 * A connection is initialised under its own lock, taken while the table
 * lock is held; a connection being closed is marked !in_use under its lock
 * before its key leaves the table, so a stale position never yields a
 * half-built connection.
 */

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "reasm_private.h"

#define MIN_CONNS 8

static bool
is_shared(const struct reasm_pool *pool)
{
	return pool->mode == REASM_POOL_SHARED;
}

/* ---- intrusive lists, by connection index -------------------------- */

typedef struct reasm_conn_link *(*link_of_fn)(struct reasm_conn *conn);

static struct reasm_conn_link *
idle_link(struct reasm_conn *conn)
{
	return &conn->idle;
}

static struct reasm_conn_link *
paged_link(struct reasm_conn *conn)
{
	return &conn->paged;
}

static void
list_unlink(struct reasm_pool *pool, struct reasm_conn_list *list, link_of_fn link_of, uint32_t idx)
{
	struct reasm_conn_link *l = link_of(&pool->conns[idx]);

	if (l->prev != REASM_NO_CONN)
		link_of(&pool->conns[l->prev])->next = l->next;
	else
		list->head = l->next;
	if (l->next != REASM_NO_CONN)
		link_of(&pool->conns[l->next])->prev = l->prev;
	else
		list->tail = l->prev;
	l->prev = l->next = REASM_NO_CONN;
	list->count--;
}

/* Insert @idx after @after (REASM_NO_CONN = at the head). */
static void
list_insert_after(struct reasm_pool *pool, struct reasm_conn_list *list, link_of_fn link_of,
		  uint32_t after, uint32_t idx)
{
	struct reasm_conn_link *l = link_of(&pool->conns[idx]);

	l->prev = after;
	if (after == REASM_NO_CONN) {
		l->next = list->head;
		list->head = idx;
	} else {
		l->next = link_of(&pool->conns[after])->next;
		link_of(&pool->conns[after])->next = idx;
	}
	if (l->next != REASM_NO_CONN)
		link_of(&pool->conns[l->next])->prev = idx;
	else
		list->tail = idx;
	list->count++;
}

/*
 * Place @idx in a list sorted by a key (idle_key or paged_key). Keys are
 * normally the newest times, so this is an append at the tail; an older
 * key walks back.
 */
typedef uint64_t (*key_of_fn)(const struct reasm_conn *conn);

static uint64_t
idle_key_of(const struct reasm_conn *conn)
{
	return conn->idle_key;
}

static uint64_t
paged_key_of(const struct reasm_conn *conn)
{
	return conn->paged_key;
}

static void
list_place(struct reasm_pool *pool, struct reasm_conn_list *list, link_of_fn link_of,
	   key_of_fn key_of, uint32_t idx)
{
	uint64_t key = key_of(&pool->conns[idx]);
	uint32_t after = list->tail;

	while (after != REASM_NO_CONN && key_of(&pool->conns[after]) > key)
		after = link_of(&pool->conns[after])->prev;
	list_insert_after(pool, list, link_of, after, idx);
}

static void
idle_place(struct reasm_pool *pool, uint32_t idx)
{
	list_place(pool, &pool->idle, idle_link, idle_key_of, idx);
}

static void
paged_place(struct reasm_pool *pool, uint32_t idx)
{
	pool->conns[idx].paged_key = pool->conns[idx].first->seen;
	list_place(pool, &pool->paged, paged_link, paged_key_of, idx);
}

static uint64_t
conn_last_seen(const struct reasm_conn *conn)
{
	return __atomic_load_n(&conn->last_seen, __ATOMIC_RELAXED);
}

static void
list_lock(struct reasm_pool *pool)
{
	if (is_shared(pool))
		rte_spinlock_lock(&pool->list_lock);
}

static void
list_unlock(struct reasm_pool *pool)
{
	if (is_shared(pool))
		rte_spinlock_unlock(&pool->list_lock);
}

uint32_t
reasm_pool_conn_index(const struct reasm_pool *pool, const struct reasm_conn *conn)
{
	return (uint32_t)(conn - pool->conns);
}

void
reasm_pool_touch(struct reasm_pool *pool, struct reasm_conn *conn, uint64_t ts)
{
	/* Only the time: the idle list catches up lazily at the next flush. */
	if (ts > conn->last_seen)
		__atomic_store_n(&conn->last_seen, ts, __ATOMIC_RELAXED);
}

void
reasm_pool_paged_fix(struct reasm_pool *pool, struct reasm_conn *conn)
{
	bool want = conn->in_use && conn->first != NULL;
	uint32_t idx = reasm_pool_conn_index(pool, conn);

	list_lock(pool);
	if (conn->on_page_list)
		list_unlink(pool, &pool->paged, paged_link, idx);
	if (want)
		paged_place(pool, idx);
	list_unlock(pool);
	conn->on_page_list = want;
}

/*
 * The idle prefix for a flush older than @t: connections with last_seen < t,
 * re-placing those that saw packets since they were placed.
 */
static unsigned int
snapshot_idle(struct reasm_pool *pool, uint64_t t, uint32_t *out, unsigned int max)
{
	unsigned int n = 0;
	uint32_t idx = pool->idle.head, next;

	while (idx != REASM_NO_CONN && n < max && pool->conns[idx].idle_key < t) {
		struct reasm_conn *conn = &pool->conns[idx];
		uint64_t seen = conn_last_seen(conn);

		next = conn->idle.next;
		if (seen < t) {
			out[n++] = idx;
		} else {
			list_unlink(pool, &pool->idle, idle_link, idx);
			conn->idle_key = seen; /* >= t: lands after the prefix */
			idle_place(pool, idx);
		}
		idx = next;
	}
	return n;
}

/*
 * Connections not idle since @t whose lowest page was seen before @t (the
 * idle ones are in snapshot_idle's list already). The paged list is sorted
 * by paged_key, the first page's time when placed (never above it now), so
 * only its paged_key < t prefix is walked; a connection whose first page
 * has changed since is re-placed.
 */
static unsigned int
snapshot_paged(struct reasm_pool *pool, uint64_t t, uint32_t *out, unsigned int max)
{
	unsigned int n = 0;
	uint32_t idx = pool->paged.head, next;

	while (idx != REASM_NO_CONN && n < max && pool->conns[idx].paged_key < t) {
		struct reasm_conn *conn = &pool->conns[idx];

		next = conn->paged.next;
		if (conn->first->seen >= t) {
			list_unlink(pool, &pool->paged, paged_link, idx);
			paged_place(pool, idx); /* key >= t: lands after the prefix */
		} else if (conn_last_seen(conn) >= t) {
			out[n++] = idx;
		}
		idx = next;
	}
	return n;
}

unsigned int
reasm_pool_snapshot(struct reasm_pool *pool, bool idle_before, uint64_t t, uint32_t *out,
		    unsigned int max)
{
	unsigned int n = 0;
	uint32_t idx;

	list_lock(pool);
	if (idle_before) {
		n = snapshot_idle(pool, t, out, max);
		n += snapshot_paged(pool, t, out + n, max - n);
	} else {
		for (idx = pool->idle.head; idx != REASM_NO_CONN && n < max;
		     idx = pool->conns[idx].idle.next)
			out[n++] = idx;
	}
	list_unlock(pool);
	return n;
}

unsigned int
reasm_pool_snapshot_paged(struct reasm_pool *pool, uint32_t *out, unsigned int max)
{
	unsigned int n = 0;
	uint32_t idx;

	list_lock(pool);
	for (idx = pool->paged.head; idx != REASM_NO_CONN && n < max;
	     idx = pool->conns[idx].paged.next)
		out[n++] = idx;
	list_unlock(pool);
	return n;
}

/* ---- the table ------------------------------------------------------ */

static void
conn_init(struct reasm_pool *pool, struct reasm_conn *conn, const struct reasm_flow *key,
	  uint64_t ts, const struct reasm_encap *encap)
{
	uint32_t idx = reasm_pool_conn_index(pool, conn);
	void *priv = NULL;

	conn->key = *key;
	conn->next_seq = 0;
	conn->next_seq_valid = false;
	conn->in_use = true;
	conn->on_page_list = false;
	conn->npages = 0;
	conn->pages_unsorted = 0;
	conn->first = conn->last = NULL;
	conn->paged_key = 0;
	conn->last_seen = ts;
	conn->idle_key = ts;
	conn->paged.prev = conn->paged.next = REASM_NO_CONN;
	conn->received_bytes = 0;
	memset(reasm_conn_acct(pool, conn), 0, sizeof(struct reasm_conn_acct));
	if (unlikely(pool->zones != NULL) && reasm_flow_zone_get(key) != 0)
		reasm_zone_hold(pool->zones, reasm_flow_zone_get(key));
	list_lock(pool);
	idle_place(pool, idx);
	list_unlock(pool);
	if (pool->stream_priv_size > 0) {
		priv = pool->privs + (size_t)idx * pool->stream_priv_size;
		memset(priv, 0, pool->stream_priv_size);
	}
	if (pool->convs != NULL) /* the connection this packet's layer found, if any */
		reasm_conv_link(pool, conn, pool->convs->open_conv, pool->convs->open_half);
	pool->open_encap = encap; /* for reasm_pool_open_encap(), during open() only */
	if (pool->convs != NULL)
		pool->convs->in_open = true; /* for reasm_pool_open_connection() */
	conn->stream = pool->ops->open(pool->factory_ctx, key, priv);
	if (pool->convs != NULL)
		pool->convs->in_open = false;
	pool->open_encap = NULL;
}

int
reasm_pool_open_encap(const struct reasm_pool *pool, struct reasm_encap *out)
{
	if (pool == NULL || out == NULL)
		return -EINVAL;
	if (pool->open_encap == NULL)
		return -ENOENT;
	*out = *pool->open_encap;
	return 0;
}

static bool
conn_matches(const struct reasm_conn *conn, const struct reasm_flow *key)
{
	return conn->in_use && memcmp(&conn->key, key, sizeof(*key)) == 0;
}

struct reasm_conn *
reasm_pool_conn_at(struct reasm_pool *pool, int32_t pos, const struct reasm_flow *key)
{
	struct reasm_conn *conn;

	if (pos < 0 || (uint32_t)pos >= pool->max_conns)
		return NULL;
	conn = &pool->conns[pos];
	if (is_shared(pool))
		rte_spinlock_lock(&conn->lock);
	if (conn_matches(conn, key))
		return conn;
	if (is_shared(pool))
		rte_spinlock_unlock(&conn->lock);
	return NULL;
}

/* Add @key; called with the table write-locked in shared mode. */
static struct reasm_conn *
table_add(struct reasm_pool *pool, const struct reasm_flow *key, uint32_t hash, uint64_t ts,
	  int *err, const struct reasm_encap *encap)
{
	struct reasm_conn *conn;
	int32_t pos;

	if (pool->count >= pool->max_conns) {
		*err = -ENOSPC;
		return NULL;
	}
	pos = rte_hash_add_key_with_hash(pool->table, key, hash);
	if (pos < 0 || (uint32_t)pos >= pool->max_conns) {
		if (pos >= 0)
			rte_hash_del_key_with_hash(pool->table, key, hash);
		*err = -ENOSPC;
		return NULL;
	}
	conn = &pool->conns[pos];
	if (is_shared(pool))
		rte_spinlock_lock(&conn->lock);
	__atomic_store_n(&pool->count, pool->count + 1, __ATOMIC_RELAXED); /* read lock-free */
	pool->generation++;
	conn_init(pool, conn, key, ts, encap);
	return conn;
}

struct reasm_conn *
reasm_pool_get(struct reasm_pool *pool, const struct reasm_flow *key, uint32_t hash, bool create,
	       uint64_t ts, int *err, const struct reasm_encap *encap)
{
	struct reasm_conn *conn;
	int32_t pos;

	*err = 0; /* 1 once a connection was created */
	for (;;) {
		if (is_shared(pool))
			rte_rwlock_read_lock(&pool->table_lock);
		pos = rte_hash_lookup_with_hash(pool->table, key, hash);
		if (is_shared(pool))
			rte_rwlock_read_unlock(&pool->table_lock);
		if (pos >= 0) {
			conn = reasm_pool_conn_at(pool, pos, key);
			if (conn != NULL)
				return conn;
			if (!is_shared(pool))
				return NULL; /* cannot happen: table and array agree */
			continue;            /* closed under us: look again */
		}
		if (!create)
			return NULL;
		if (!is_shared(pool)) {
			conn = table_add(pool, key, hash, ts, err, encap);
			*err = conn != NULL ? 1 : *err;
			return conn;
		}
		rte_rwlock_write_lock(&pool->table_lock);
		pos = rte_hash_lookup_with_hash(pool->table, key, hash);
		conn = pos < 0 ? table_add(pool, key, hash, ts, err, encap) : NULL;
		rte_rwlock_write_unlock(&pool->table_lock);
		if (pos < 0) {
			*err = conn != NULL ? 1 : *err;
			return conn;
		}
		/* Another assembler added it first: take that one. */
	}
}

struct reasm_conn *
reasm_pool_add(struct reasm_pool *pool, const struct reasm_flow *key, uint32_t hash, uint64_t ts,
	       int *err, const struct reasm_encap *encap)
{
	struct reasm_conn *conn = table_add(pool, key, hash, ts, err, encap);

	if (conn != NULL)
		*err = 1;
	return conn;
}

void
reasm_pool_remove(struct reasm_pool *pool, struct reasm_conn *conn)
{
	uint32_t idx = reasm_pool_conn_index(pool, conn);

	conn->in_use = false;
	reasm_pool_paged_update(pool, conn);
	list_lock(pool);
	list_unlink(pool, &pool->idle, idle_link, idx);
	list_unlock(pool);
	if (is_shared(pool))
		rte_rwlock_write_lock(&pool->table_lock);
	rte_hash_del_key_with_hash(pool->table, &conn->key, reasm_flow_hash_inline(&conn->key));
	if (unlikely(pool->zones != NULL) && reasm_flow_zone_get(&conn->key) != 0)
		reasm_zone_release(pool->zones, reasm_flow_zone_get(&conn->key));
	__atomic_store_n(&pool->count, pool->count - 1, __ATOMIC_RELAXED);
	pool->generation++;
	if (is_shared(pool))
		rte_rwlock_write_unlock(&pool->table_lock);
}

/* ---- create / free -------------------------------------------------- */

static int
check_conf(const struct reasm_pool_conf *conf)
{
	if (conf == NULL || conf->name == NULL || conf->name[0] == '\0') {
		REASM_LOG(ERR, "pool: a name is required");
		return -EINVAL;
	}
	if (strlen(conf->name) >= sizeof(((struct reasm_pool *)0)->name)) {
		REASM_LOG(ERR, "pool %s: name too long", conf->name);
		return -EINVAL;
	}
	if (conf->ops == NULL || conf->ops->open == NULL || conf->ops->reassembled == NULL ||
	    conf->ops->complete == NULL) {
		REASM_LOG(ERR,
			  "pool %s: stream ops with open, reassembled and complete are required",
			  conf->name);
		return -EINVAL;
	}
	if (conf->max_conns < MIN_CONNS || conf->max_conns > (UINT32_MAX >> 2)) {
		REASM_LOG(ERR, "pool %s: max_conns %u out of range [%u, %u]", conf->name,
			  conf->max_conns, MIN_CONNS, UINT32_MAX >> 2);
		return -EINVAL;
	}
	if (conf->mode != REASM_POOL_SINGLE_WRITER && conf->mode != REASM_POOL_SHARED) {
		REASM_LOG(ERR, "pool %s: unknown mode %d", conf->name, (int)conf->mode);
		return -EINVAL;
	}
	if (conf->max_zones != 0 && (conf->max_zones < 8 || conf->max_zones > REASM_ZONE_MAX ||
				     conf->mode != REASM_POOL_SINGLE_WRITER)) {
		REASM_LOG(ERR, "pool %s: max_zones %u: 0, or %u to %u in a single-writer pool",
			  conf->name, conf->max_zones, 8u, REASM_ZONE_MAX);
		return -EINVAL;
	}
	if (conf->retain_bytes > REASM_RETAIN_MAX ||
	    (conf->retain_bytes & (conf->retain_bytes - 1)) != 0) {
		REASM_LOG(ERR, "pool %s: retain_bytes %u: 0, or a power of two up to %u",
			  conf->name, conf->retain_bytes, REASM_RETAIN_MAX);
		return -EINVAL;
	}
	return 0;
}

/* The table's own hash (rte_hash_hash() and calls without a hash): reasm_flow_hash(). */
static uint32_t
flow_hash_func(const void *key, uint32_t key_len, uint32_t init_val)
{
	RTE_SET_USED(key_len);
	RTE_SET_USED(init_val);
	return reasm_flow_hash_inline(key);
}

static struct rte_hash *
table_create(const struct reasm_pool_conf *conf)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters params = {
		.name = name,
		.entries = conf->max_conns,
		.key_len = sizeof(struct reasm_flow),
		.hash_func = flow_hash_func,
		.hash_func_init_val = 0,
		.socket_id = conf->socket_id,
		/* Every one of max_conns keys fits, whatever their hashes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};

	snprintf(name, sizeof(name), "reasm_%s", conf->name);
	if (rte_hash_find_existing(name) != NULL) {
		rte_errno = EEXIST;
		return NULL;
	}
	return rte_hash_create(&params);
}

struct reasm_pool *
reasm_pool_create(const struct reasm_pool_conf *conf)
{
	struct reasm_pool *pool;
	int rc = check_conf(conf);
	uint32_t i;

	if (rc < 0) {
		rte_errno = -rc;
		return NULL;
	}
	pool = rte_zmalloc_socket("reasm_pool", sizeof(*pool), RTE_CACHE_LINE_SIZE,
				  conf->socket_id);
	if (pool == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	snprintf(pool->name, sizeof(pool->name), "%s", conf->name);
	pool->mode = conf->mode;
	pool->max_conns = conf->max_conns;
	pool->stream_priv_size = conf->stream_priv_size;
	pool->ops = conf->ops;
	pool->factory_ctx = conf->factory_ctx;
	pool->idle.head = pool->idle.tail = REASM_NO_CONN;
	pool->paged.head = pool->paged.tail = REASM_NO_CONN;
	rte_rwlock_init(&pool->table_lock);
	rte_spinlock_init(&pool->list_lock);

	pool->table = table_create(conf);
	if (pool->table == NULL) {
		rc = rte_errno == EEXIST ? EEXIST : ENOMEM;
		REASM_LOG(ERR, "pool %s: cannot create the connection table: %s", conf->name,
			  rte_strerror(rc));
		goto fail;
	}
	pool->conns = rte_zmalloc_socket("reasm_conns", sizeof(struct reasm_conn) * conf->max_conns,
					 RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (pool->conns == NULL) {
		rc = ENOMEM;
		goto fail;
	}
	if (conf->stream_priv_size > 0) {
		pool->privs = rte_zmalloc_socket("reasm_privs",
						 (size_t)conf->stream_priv_size * conf->max_conns,
						 RTE_CACHE_LINE_SIZE, conf->socket_id);
		if (pool->privs == NULL) {
			rc = ENOMEM;
			goto fail;
		}
	}
	pool->accts = rte_zmalloc_socket("reasm_accts",
					 sizeof(struct reasm_conn_acct) * conf->max_conns,
					 RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (pool->accts == NULL) {
		rc = ENOMEM;
		goto fail;
	}
	if (conf->retain_bytes != 0) {
		pool->retain_bytes = conf->retain_bytes;
		pool->retain = rte_zmalloc_socket("reasm_retain",
						  (size_t)conf->retain_bytes * conf->max_conns,
						  RTE_CACHE_LINE_SIZE, conf->socket_id);
		pool->retained = rte_zmalloc_socket("reasm_retained",
						    sizeof(uint32_t) * conf->max_conns,
						    RTE_CACHE_LINE_SIZE, conf->socket_id);
		if (pool->retain == NULL || pool->retained == NULL) {
			REASM_LOG(ERR,
				  "pool %s: cannot allocate %u x %u bytes of retention windows",
				  conf->name, conf->max_conns, conf->retain_bytes);
			rc = ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < conf->max_conns; i++)
		rte_spinlock_init(&pool->conns[i].lock);
	if (conf->max_zones != 0) {
		rc = -reasm_zones_create(pool, conf->max_zones, conf->socket_id);
		if (rc != 0)
			goto fail;
	}
	if (conf->max_connections != 0) {
		rc = -reasm_convs_create(pool, conf);
		if (rc != 0)
			goto fail;
	}
	return pool;
fail:
	reasm_pool_free(pool);
	rte_errno = rc;
	return NULL;
}

void
reasm_pool_free(struct reasm_pool *pool)
{
	if (pool == NULL)
		return;
	rte_hash_free(pool->table);
	rte_free(pool->conns);
	rte_free(pool->privs);
	rte_free(pool->accts);
	rte_free(pool->retain);
	rte_free(pool->retained);
	reasm_zones_free(pool);
	reasm_convs_free(pool);
	rte_free(pool);
}

uint32_t
reasm_pool_count(const struct reasm_pool *pool)
{
	return __atomic_load_n(&pool->count, __ATOMIC_RELAXED);
}

/* ---- per-connection accounting --------------------------------------- */

void
reasm_conn_totals(const struct reasm_pool *pool, const struct reasm_conn *conn,
		  struct reasm_stream_totals *out)
{
	const struct reasm_conn_acct *acct = reasm_conn_acct(pool, conn);
	const struct reasm_page *page;

	out->received_bytes = conn->received_bytes;
	out->overlap_bytes = acct->overlap_bytes;
	out->discarded_bytes = acct->discarded_bytes;
	out->skipped_bytes = acct->skipped_bytes;
	out->cut_bytes = acct->cut_bytes;
	out->conflicts = acct->conflicts;
	out->conflict_bytes = acct->conflict_bytes;
	out->buffered_bytes = 0;
	for (page = conn->first; page != NULL; page = page->next)
		out->buffered_bytes += page->len;
	/* What is in no other place was delivered: the consumer can check it. */
	out->delivered_bytes = out->received_bytes - out->overlap_bytes - out->buffered_bytes -
			       out->discarded_bytes;
}

int
reasm_pool_stream_totals(struct reasm_pool *pool, const struct reasm_flow *flow,
			 struct reasm_stream_totals *out)
{
	struct reasm_conn *conn;
	int err;

	if (pool == NULL || flow == NULL || out == NULL)
		return -EINVAL;
	conn = reasm_pool_get(pool, flow, reasm_flow_hash_inline(flow), false, 0, &err, NULL);
	if (conn == NULL)
		return -ENOENT;
	reasm_conn_totals(pool, conn, out);
	if (is_shared(pool))
		rte_spinlock_unlock(&conn->lock);
	return 0;
}
