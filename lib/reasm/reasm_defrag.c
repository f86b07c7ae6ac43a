/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * IP defragmentation before TCP (struct reasm_defrag_conf), per assembler.
 *
 * A fragment's payload bytes are copied into pages of the assembler's page
 * mempool; a datagram is a list of disjoint pieces sorted by offset. The first
 * copy of every byte is kept: a duplicated or overlapping fragment adds only
 * the bytes not held yet, and the ones it repeats are compared with the copy
 * kept (defrag_overlap_bytes, defrag_conflict_bytes). When the pieces cover
 * the datagram from offset 0 to the last fragment's end, it is rebuilt in one
 * buffer as an Ethernet frame (the first fragment's IP header with the
 * fragmentation undone, then the payload) and parsed on as one packet.
 *
 * Why not DPDK's rte_ip_frag: it drops the whole datagram when a fragment is
 * duplicated or overlaps another even with identical bytes (mirror ports and
 * retransmitting links duplicate fragments), keeps at most
 * RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) fragments per datagram, says nothing about
 * why a fragment was dropped, and takes and rewrites the mbufs it is given,
 * which reasm_assemble_burst() leaves to its caller untouched.
 *
 * Bounds: conf.max_datagrams datagrams at once (an rte_hash table and an
 * array), conf.max_pages pages, conf.max_fragments fragments per datagram, and
 * conf.timeout_ns from a datagram's first fragment; each limit has a counter.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_random.h>

#include "reasm_private.h"

#define DEFAULT_MAX_FRAGMENTS 64
#define DEFAULT_PAGES_PER_DATAGRAM 4
#define DEFAULT_TIMEOUT_NS (30ull * 1000 * 1000 * 1000)

/* One fragment, as its IP header describes it. */
struct fragment {
	struct reasm_dgram_key key;
	const uint8_t *ip;       /* the fragment's IP header */
	uint32_t hdr_len;        /* IPv4: IHL; IPv6: up to the fragment header */
	uint32_t next_header_at; /* IPv6: where hdr names the fragment header */
	uint8_t next_header;     /* IPv6: what follows the fragment header */
	uint32_t offset;         /* of its payload in the datagram */
	const uint8_t *payload;
	uint32_t len;
	bool more; /* more fragments follow */
};

static inline void
ctr(struct reasm_assembler *a, enum reasm_counter c, uint64_t n)
{
	reasm_ctr_add(a, c, n);
}

/* ---- reading a fragment's header ---------------------------------------- */

static bool
read_ipv4(const struct reasm_l4 *v, struct fragment *f)
{
	const uint8_t *ip = v->p;
	uint16_t field = reasm_rd16(ip + 6);

	f->hdr_len = (uint32_t)(ip[0] & 0x0f) * 4; /* checked by the parser */
	f->key.family = 4;
	f->key.proto = ip[9];
	f->key.id = reasm_rd16(ip + 4);
	memcpy(f->key.src, ip + 12, 4);
	memcpy(f->key.dst, ip + 16, 4);
	f->offset = (uint32_t)(field & 0x1fff) * 8;
	f->more = (field & 0x2000) != 0;
	f->payload = ip + f->hdr_len;
	f->len = v->len - f->hdr_len;
	return true;
}

/* The extension headers before the fragment header (the parser checked them). */
static bool
read_ipv6(const struct reasm_l4 *v, struct fragment *f)
{
	const uint8_t *ip = v->p;
	uint32_t off = 40, at = 6;
	uint8_t nh = ip[6];

	while (nh != IPPROTO_FRAGMENT_) {
		uint32_t hlen = nh == IPPROTO_AH_ ? ((uint32_t)ip[off + 1] + 2) * 4
						  : ((uint32_t)ip[off + 1] + 1) * 8;

		if (off + hlen + 8 > v->len || off + hlen > REASM_DEFRAG_HDR_MAX)
			return false;
		at = off;
		nh = ip[off];
		off += hlen;
	}
	if (off + 8 > v->len || off > REASM_DEFRAG_HDR_MAX)
		return false;
	f->hdr_len = off;
	f->next_header_at = at;
	f->next_header = ip[off];
	f->key.family = 6;
	f->key.id = reasm_rd32(ip + off + 4);
	memcpy(f->key.src, ip + 8, 16);
	memcpy(f->key.dst, ip + 24, 16);
	f->offset = reasm_rd16(ip + off + 2) & 0xfff8;
	f->more = (ip[off + 3] & 1) != 0;
	f->payload = ip + off + 8;
	f->len = v->len - off - 8;
	return true;
}

/* ---- the table ------------------------------------------------------------ */

static struct reasm_dgram *
dgram_at(struct reasm_defrag *d, uint32_t idx)
{
	return &d->dgrams[idx];
}

static void
fifo_unlink(struct reasm_defrag *d, struct reasm_dgram *g)
{
	if (g->fifo_prev != REASM_NO_CONN)
		dgram_at(d, g->fifo_prev)->fifo_next = g->fifo_next;
	else
		d->fifo_head = g->fifo_next;
	if (g->fifo_next != REASM_NO_CONN)
		dgram_at(d, g->fifo_next)->fifo_prev = g->fifo_prev;
	else
		d->fifo_tail = g->fifo_prev;
}

static void
fifo_append(struct reasm_defrag *d, uint32_t idx)
{
	struct reasm_dgram *g = dgram_at(d, idx);

	g->fifo_next = REASM_NO_CONN;
	g->fifo_prev = d->fifo_tail;
	if (d->fifo_tail != REASM_NO_CONN)
		dgram_at(d, d->fifo_tail)->fifo_next = idx;
	else
		d->fifo_head = idx;
	d->fifo_tail = idx;
}

/* Forget @p g: its pages back to the mempool, its slot free. */
static void
dgram_drop(struct reasm_assembler *a, struct reasm_dgram *g)
{
	struct reasm_defrag *d = a->defrag;
	struct reasm_page *p, *next;
	uint32_t n = 0;

	for (p = g->first; p != NULL; p = next) {
		next = p->next;
		rte_mempool_put(a->page_pool, p);
		n++;
	}
	d->pages -= n;
	__atomic_store_n(&a->stats.v[REASM_CTR_defrag_pages],
			 a->stats.v[REASM_CTR_defrag_pages] - n, __ATOMIC_RELAXED);
	fifo_unlink(d, g);
	rte_hash_del_key(d->table, &g->key);
	g->in_use = false;
	g->first = NULL;
}

/* The datagram @p f belongs to, new if need be; NULL after counting why not. */
static struct reasm_dgram *
dgram_of(struct reasm_assembler *a, const struct fragment *f, uint64_t ts)
{
	struct reasm_defrag *d = a->defrag;
	struct reasm_dgram *g;
	int32_t pos = rte_hash_lookup(d->table, &f->key);

	if (pos >= 0) {
		g = dgram_at(d, (uint32_t)pos);
		if (g->first_seen + d->conf.timeout_ns > ts)
			return g;
		/* Expired before this fragment: a datagram that reuses the identification. */
		ctr(a, REASM_CTR_defrag_timeouts, 1);
		dgram_drop(a, g);
	}
	pos = rte_hash_add_key(d->table, &f->key);
	if (pos < 0 || (uint32_t)pos >= d->conf.max_datagrams) {
		if (pos >= 0)
			rte_hash_del_key(d->table, &f->key);
		ctr(a, REASM_CTR_defrag_drop_table_full, 1);
		return NULL;
	}
	g = dgram_at(d, (uint32_t)pos);
	memset(g, 0, offsetof(struct reasm_dgram, hdr));
	g->key = f->key;
	g->first_seen = ts;
	g->end = UINT32_MAX;
	g->in_use = true;
	fifo_append(d, (uint32_t)pos);
	return g;
}

/* ---- adding a fragment's bytes -------------------------------------------- */

/* A new piece [off, off + len) of @p data after @p prev (NULL: first), in pages. */
static bool
add_piece(struct reasm_assembler *a, struct reasm_dgram *g, struct reasm_page *prev, uint32_t off,
	  const uint8_t *data, uint32_t len)
{
	struct reasm_defrag *d = a->defrag;

	/* Contiguous with the piece before and room left in its page: no new page. */
	if (prev != NULL && prev->seq + prev->len == off && prev->len < REASM_PAGE_BYTES) {
		uint32_t take = RTE_MIN(len, (uint32_t)REASM_PAGE_BYTES - prev->len);

		memcpy(prev->data + prev->len, data, take);
		prev->len = (uint16_t)(prev->len + take);
		g->held += take;
		off += take;
		data += take;
		len -= take;
	}
	while (len > 0) {
		uint32_t take = RTE_MIN(len, (uint32_t)REASM_PAGE_BYTES);
		struct reasm_page *p;

		if (d->pages >= d->conf.max_pages || rte_mempool_get(a->page_pool, (void **)&p) < 0)
			return false;
		d->pages++;
		__atomic_store_n(&a->stats.v[REASM_CTR_defrag_pages],
				 a->stats.v[REASM_CTR_defrag_pages] + 1, __ATOMIC_RELAXED);
		p->owner = a;
		p->seq = off;
		p->len = (uint16_t)take;
		memcpy(p->data, data, take);
		p->prev = prev;
		p->next = prev != NULL ? prev->next : g->first;
		if (p->next != NULL)
			p->next->prev = p;
		if (prev != NULL)
			prev->next = p;
		else
			g->first = p;
		g->held += take;
		prev = p;
		off += take;
		data += take;
		len -= take;
	}
	return true;
}

/* Count the bytes of [off, off + len) that @p p already holds, and those that differ. */
static void
compare_overlap(struct reasm_assembler *a, const struct reasm_page *p, uint32_t off,
		const uint8_t *data, uint32_t len)
{
	uint32_t from = RTE_MAX(off, p->seq), to = RTE_MIN(off + len, p->seq + p->len);
	uint64_t differ = 0;
	uint32_t i;

	if (from >= to)
		return;
	for (i = from; i < to; i++)
		differ += p->data[i - p->seq] != data[i - off];
	ctr(a, REASM_CTR_defrag_overlap_bytes, to - from);
	if (differ > 0)
		ctr(a, REASM_CTR_defrag_conflict_bytes, differ);
}

/*
 * Add the bytes of @p f that @p g does not hold yet, in order, keeping the
 * first copy of the others. False if a page could not be had.
 */
static bool
add_bytes(struct reasm_assembler *a, struct reasm_dgram *g, const struct fragment *f)
{
	uint32_t off = f->offset, end = f->offset + f->len;
	struct reasm_page *p = g->first, *prev = NULL;

	while (off < end) {
		/* Pages wholly before off are passed; one that covers off is compared. */
		while (p != NULL && p->seq + p->len <= off) {
			prev = p;
			p = p->next;
		}
		if (p != NULL && p->seq <= off) {
			uint32_t upto = RTE_MIN(end, p->seq + p->len);

			compare_overlap(a, p, f->offset, f->payload, f->len);
			off = upto;
			continue;
		}
		/* A gap from off to the next page (or the end): new bytes. */
		uint32_t gap_end = p != NULL ? RTE_MIN(end, p->seq) : end;

		if (!add_piece(a, g, prev, off, f->payload + (off - f->offset), gap_end - off))
			return false;
		while (prev != NULL ? prev->next != p : g->first != p)
			prev = prev != NULL ? prev->next : g->first;
		off = gap_end;
	}
	return true;
}

/* Whether @p f is consistent with itself: checked before it may take a table entry. */
static bool
fragment_sane(const struct fragment *f)
{
	uint32_t end = f->offset + f->len;

	if (f->more && f->len % 8 != 0)
		return false; /* all but the last carry a multiple of 8 bytes */
	if (f->hdr_len + end > REASM_DEFRAG_DATAGRAM_MAX + (f->key.family == 6 ? 40 : 0))
		return false; /* past what a length field can say */
	return true;
}

/* Whether @p f is consistent with what @p g knows of the datagram. */
static bool
fragment_fits(const struct reasm_dgram *g, const struct fragment *f)
{
	uint32_t end = f->offset + f->len;

	if (!f->more && g->end != UINT32_MAX && g->end != end)
		return false; /* a second last fragment, with another end */
	if (g->end != UINT32_MAX && end > g->end)
		return false; /* data past the end */
	if (!f->more && g->held > 0 && g->first != NULL) {
		const struct reasm_page *p = g->first;

		while (p->next != NULL)
			p = p->next;
		if (p->seq + p->len > end)
			return false; /* bytes held past this last fragment's end */
	}
	return true;
}

/* The first fragment's IP header, kept to rebuild the datagram. */
static void
keep_header(struct reasm_dgram *g, const struct fragment *f)
{
	memcpy(g->hdr, f->ip, f->hdr_len);
	g->hdr_len = (uint16_t)f->hdr_len;
	g->next_header_at = (uint16_t)f->next_header_at;
	g->next_header = f->next_header;
	g->have_first = true;
}

/* ---- the rebuilt datagram -------------------------------------------------- */

/* Write @p g whole into d->buf as an Ethernet frame; its length. */
static uint32_t
rebuild(struct reasm_defrag *d, const struct reasm_dgram *g)
{
	uint8_t *buf = d->buf, *ip = buf + 14;
	const struct reasm_page *p;
	uint32_t len = 14 + g->hdr_len + g->end;

	memset(buf, 0, 12);
	buf[12] = g->key.family == 4 ? 0x08 : 0x86;
	buf[13] = g->key.family == 4 ? 0x00 : 0xdd;
	memcpy(ip, g->hdr, g->hdr_len);
	for (p = g->first; p != NULL; p = p->next)
		memcpy(ip + g->hdr_len + p->seq, p->data, p->len);
	if (g->key.family == 4) {
		uint32_t total = g->hdr_len + g->end;

		ip[2] = (uint8_t)(total >> 8);
		ip[3] = (uint8_t)total;
		ip[6] = 0; /* no more fragments, offset 0 */
		ip[7] = 0;
	} else {
		uint32_t plen = g->hdr_len - 40 + g->end;

		ip[4] = (uint8_t)(plen >> 8);
		ip[5] = (uint8_t)plen;
		ip[g->next_header_at] = g->next_header; /* the fragment header is gone */
	}
	return len;
}

uint32_t
reasm_defrag_fragment(struct reasm_assembler *a, const struct reasm_l4 *frag,
		      struct reasm_encap *encap, uint64_t ts)
{
	struct reasm_defrag *d = a->defrag;
	struct fragment f;
	struct reasm_dgram *g;
	uint32_t len;
	bool ok;

	memset(&f, 0, sizeof(f));
	ctr(a, REASM_CTR_defrag_fragments, 1);
	if (ts > d->clock)
		d->clock = ts;
	ok = (frag->p[0] >> 4) == 4 ? read_ipv4(frag, &f) : read_ipv6(frag, &f);
	f.ip = frag->p;
	if (!ok || !fragment_sane(&f)) {
		/* Before the table: a bad fragment must not hold an entry for good ones. */
		ctr(a, REASM_CTR_defrag_drop_bad, 1);
		return 0;
	}
	g = dgram_of(a, &f, ts);
	if (g == NULL)
		return 0;
	if (!fragment_fits(g, &f)) {
		ctr(a, REASM_CTR_defrag_drop_bad, 1);
		return 0;
	}
	if (++g->nfrags > d->conf.max_fragments) {
		ctr(a, REASM_CTR_defrag_drop_too_many, 1);
		dgram_drop(a, g);
		return 0;
	}
	if (g->nfrags == 1)
		g->encap = *encap;
	if (f.offset == 0 && !g->have_first)
		keep_header(g, &f);
	if (!f.more)
		g->end = f.offset + f.len;
	if (!add_bytes(a, g, &f)) {
		ctr(a, REASM_CTR_defrag_drop_no_page, 1);
		return 0;
	}
	if (!g->have_first || g->end == UINT32_MAX || g->held != g->end)
		return 0;
	len = rebuild(d, g);
	*encap = g->encap;
	ctr(a, REASM_CTR_defrag_datagrams, 1);
	dgram_drop(a, g);
	return len;
}

void
reasm_defrag_expire(struct reasm_assembler *a, uint64_t now)
{
	struct reasm_defrag *d = a->defrag;

	if (d == NULL)
		return;
	if (now > d->clock)
		d->clock = now;
	while (d->fifo_head != REASM_NO_CONN) {
		struct reasm_dgram *g = dgram_at(d, d->fifo_head);

		if (g->first_seen + d->conf.timeout_ns > d->clock)
			break;
		ctr(a, REASM_CTR_defrag_timeouts, 1);
		dgram_drop(a, g);
	}
}

void
reasm_defrag_drop_all(struct reasm_assembler *a)
{
	struct reasm_defrag *d = a->defrag;

	if (d == NULL)
		return;
	while (d->fifo_head != REASM_NO_CONN) {
		ctr(a, REASM_CTR_defrag_timeouts, 1);
		dgram_drop(a, dgram_at(d, d->fifo_head));
	}
}

/* ---- life cycle ------------------------------------------------------------ */

/* The cookie of this process's shims, once: random, never 0. */
static void
shim_cookie_init(void)
{
	uint64_t cookie = 0, none = 0;

	while (cookie == 0)
		cookie = rte_rand();
	__atomic_compare_exchange_n(&reasm_shim_cookie, &none, cookie, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

int
reasm_defrag_create(struct reasm_assembler *a, const struct reasm_defrag_conf *conf, int socket_id)
{
	struct rte_hash_parameters hp = {0};
	struct reasm_defrag *d;
	char name[RTE_HASH_NAMESIZE];
	static unsigned int serial;

	if (conf->max_datagrams == 0)
		return 0;
	if ((conf->owns == NULL) != (conf->handoff == NULL)) {
		REASM_LOG(ERR, "assembler: defrag owns and handoff go together");
		return -EINVAL;
	}
	d = rte_zmalloc_socket("reasm_defrag", sizeof(*d), RTE_CACHE_LINE_SIZE, socket_id);
	if (d == NULL)
		return -ENOMEM;
	a->defrag = d;
	d->conf = *conf;
	if (d->conf.max_fragments == 0)
		d->conf.max_fragments = DEFAULT_MAX_FRAGMENTS;
	d->conf.max_fragments = RTE_MIN(d->conf.max_fragments, (uint32_t)UINT16_MAX);
	if (d->conf.max_pages == 0)
		d->conf.max_pages = conf->max_datagrams * DEFAULT_PAGES_PER_DATAGRAM;
	if (d->conf.timeout_ns == 0)
		d->conf.timeout_ns = DEFAULT_TIMEOUT_NS;
	d->fifo_head = d->fifo_tail = REASM_NO_CONN;
	snprintf(name, sizeof(name), "reasm_frag_%u",
		 __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED));
	hp.name = name;
	hp.entries = RTE_MAX(conf->max_datagrams, 8u);
	hp.key_len = sizeof(struct reasm_dgram_key);
	hp.hash_func = rte_hash_crc;
	hp.socket_id = socket_id;
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
	d->table = rte_hash_create(&hp);
	d->dgrams = rte_calloc_socket("reasm_dgrams", hp.entries, sizeof(*d->dgrams),
				      RTE_CACHE_LINE_SIZE, socket_id);
	/* Room in front for the shim of a datagram handed over (reasm_shim_write()). */
	d->buf = rte_malloc_socket("reasm_defrag_buf", REASM_SHIM_LEN + REASM_DEFRAG_BUF_BYTES, 0,
				   socket_id);
	if (d->table == NULL || d->dgrams == NULL || d->buf == NULL)
		return -ENOMEM;
	d->buf += REASM_SHIM_LEN;
	if (conf->handoff != NULL)
		shim_cookie_init();
	return 0;
}

void
reasm_defrag_free(struct reasm_assembler *a)
{
	struct reasm_defrag *d = a->defrag;

	if (d == NULL)
		return;
	while (d->dgrams != NULL && d->fifo_head != REASM_NO_CONN)
		dgram_drop(a, dgram_at(d, d->fifo_head));
	rte_hash_free(d->table);
	rte_free(d->dgrams);
	rte_free(d->buf != NULL ? d->buf - REASM_SHIM_LEN : NULL);
	rte_free(d);
	a->defrag = NULL;
}
