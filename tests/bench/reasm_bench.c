/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * reasm_bench: how fast reasm reassembles, next to the floor (what any
 * flow-table program pays: parse + an rte_hash bulk lookup), on fixed
 * workloads whose packets are built in memory before anything is timed.
 *
 *   reasm_bench [--workload LIST|all] [--packets N] [--reps N] [--json]
 *               [--side reasm,floor,parse] [--idle-conns N] [--smoke]
 *               [--mem MB] [--lcore N]
 *   reasm_bench --write-pcap DIR [--workload LIST] [--packets N] [--smoke]
 *
 * Throughput workloads (fixed seeds; N = --packets, default 262144):
 *   inorder  1,000 interleaved connections with handshakes and FINs, 700 B
 *            client / 100 B server segments
 *   ooo      the same, each data segment swapped with probability 0.1 with
 *            the next segment of its direction
 *   small    100 connections, 8 B segments both ways
 *   single   gopacket BenchmarkSingleStream: one stream of 10 B segments
 *   skips    gopacket BenchmarkSingleStreamSkips as intended: 1 in 10
 *            segments one place early (see docs/performance.md)
 *   loss     gopacket BenchmarkSingleStreamLoss: a 1-byte hole per packet
 *   grow     gopacket BenchmarkMultiStreamGrow: a new connection per packet,
 *            no SYN
 *   conn     gopacket BenchmarkMultiStreamConn: 65,536 SYN connections
 *            round-robin
 * Each is timed over the same mbufs, best of --reps runs, on a fresh pool
 * and assembler per run, one worker (this lcore), bursts of 32, through
 * reasm_assemble_burst with stream ops that only count. The floor runs the
 * same bursts through reasm_flow_of_mbuf, reasm_flow_hash and
 * rte_hash_lookup_with_hash_bulk on a table built like reasm_pool.c's and
 * filled with the same keys; "parse" is
 * reasm_flow_of_mbuf alone. Runs alternate reasm / floor / parse.
 *
 * Other workloads (reasm only, packets built burst by burst):
 *   idle1m   --idle-conns connections (default 1,000,000) opened (SYN,
 *            SYN-ACK, one 64 B data segment each way) and left idle: heap
 *            bytes of the pool and assembler per direction, RSS cross-check
 *   flush    N idle directions (SYN + one in-order segment, nothing
 *            buffered) of which S stale: time reasm_flush_older_than for S in
 *            {1k,10k,100k} x N in {100k,1M}, once with directions opened in
 *            time order and once with all opened at once and the N-S fresh
 *            ones touched later (the lazy idle list re-places them); and
 *            "paged": directions opened without SYN, whose data waits in a
 *            page until a flush (N = 100k only: a page per direction)
 *
 * Every throughput workload must deliver exactly the payload bytes it sent
 * (after the untimed reasm_flush_all); the exit status is 1 otherwise.
 *
 * Instruction counts: the timed loops run inside bench_timed_region(), a
 * non-inlined function. Under callgrind (built with valgrind/callgrind.h)
 * each call is instrumented on its own and its counts dumped as
 * "SIDE:WORKLOAD", so
 *   valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
 *     --toggle-collect=bench_timed_region reasm_bench --only inorder --reps 1
 * gives one dump per side whose total Ir / packets is instructions/packet.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "reasm.h"

#ifdef HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#define CG_BEGIN() CALLGRIND_START_INSTRUMENTATION
#define CG_END(tag)                             \
	do {                                    \
		CALLGRIND_DUMP_STATS_AT(tag);   \
		CALLGRIND_STOP_INSTRUMENTATION; \
	} while (0)
#else
#define CG_BEGIN() \
	do {       \
	} while (0)
#define CG_END(tag)          \
	do {                 \
		(void)(tag); \
	} while (0)
#endif

#define BURST 32
#define T0_SEC UINT64_C(1700000000)
#define T0_NS (T0_SEC * UINT64_C(1000000000))
#define NS_PER_PKT_STEP 1000 /* packets are 1 us apart (pcap timestamps are us) */

/* TCP header flag bits, as on the wire. */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

static struct {
	char workloads[512];
	uint32_t packets;
	unsigned int reps;
	bool json;
	bool smoke;
	const char *pcap_dir;
	bool side_reasm, side_floor, side_parse;
	bool connections; /* --connections: the reasm side pairs directions (max_connections) */
	uint32_t retain_bytes; /* --retain-bytes: reasm_pool_conf.retain_bytes */
	bool overlap_last;     /* --overlap-last: REASM_OVERLAP_LAST */
	uint32_t idle_conns;
	unsigned int mem_mb;
	unsigned int lcore;
} opt = {
	.workloads = "all",
	.packets = 1u << 18,
	.reps = 5,
	.side_reasm = true,
	.side_floor = true,
	.side_parse = true,
	.idle_conns = 1000000,
	.mem_mb = 3072,
	.lcore = 0,
};

static int failures;

/* ------------------------------------------------------------------ */
/* Packets: descriptors, then frames                                    */
/* ------------------------------------------------------------------ */

/* One packet of a workload. dir 0 = client to server. */
struct desc {
	uint32_t conn;
	uint32_t seq;
	uint32_t ack;
	uint16_t len;
	uint8_t dir;
	uint8_t flags;
};

static uint8_t pattern[4096];

static void
conn_addrs(uint32_t conn, uint32_t *cip, uint16_t *cport, uint32_t *sip, uint16_t *sport)
{
	*cip = 0x0a000000u | ((conn + 1) & 0x00ffffffu); /* 10.x.y.z */
	*cport = (uint16_t)(1024 + (conn * 7919u) % 60000u);
	*sip = 0xc0a80101u; /* 192.168.1.1 */
	*sport = 80;
}

/* Build the Ethernet/IPv4/TCP frame of @d into @buf; @return its length. */
static uint16_t
build_frame(uint8_t *buf, const struct desc *d)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)(ip + 1);
	static const struct rte_ether_addr mac_c = {{0x02, 0, 0, 0, 0, 0x01}};
	static const struct rte_ether_addr mac_s = {{0x02, 0, 0, 0, 0, 0x02}};
	uint32_t cip, sip;
	uint16_t cport, sport;

	conn_addrs(d->conn, &cip, &cport, &sip, &sport);
	eth->src_addr = d->dir == 0 ? mac_c : mac_s;
	eth->dst_addr = d->dir == 0 ? mac_s : mac_c;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*tcp) + d->len));
	ip->packet_id = rte_cpu_to_be_16((uint16_t)(d->seq ^ d->conn));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(d->dir == 0 ? cip : sip);
	ip->dst_addr = rte_cpu_to_be_32(d->dir == 0 ? sip : cip);
	memset(tcp, 0, sizeof(*tcp));
	tcp->src_port = rte_cpu_to_be_16(d->dir == 0 ? cport : sport);
	tcp->dst_port = rte_cpu_to_be_16(d->dir == 0 ? sport : cport);
	tcp->sent_seq = rte_cpu_to_be_32(d->seq);
	tcp->recv_ack = rte_cpu_to_be_32(d->ack);
	tcp->data_off = 0x50;
	tcp->tcp_flags = d->flags;
	tcp->rx_win = rte_cpu_to_be_16(65535);
	/* Stream byte at sequence s is s & 0xff (SYN occupies its own number). */
	memcpy(tcp + 1, pattern + ((d->seq + ((d->flags & F_SYN) ? 1 : 0)) & 0xff), d->len);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
	return (uint16_t)(sizeof(*eth) + sizeof(*ip) + sizeof(*tcp) + d->len);
}

/* xorshift64*: fixed seeds, same packets on every machine. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(2685821657736338717);
}

/* A workload's packets, in arrival order. */
struct wl_data {
	struct desc *d;
	uint64_t *ts; /* ns */
	uint32_t n;
	uint32_t cap;
	uint64_t bytes_sent; /* payload */
	uint32_t max_conns;  /* directions the pool must hold */
	uint32_t pages;      /* page mempool size */
	uint16_t max_len;    /* largest payload */
	uint32_t early;      /* segments sent before their predecessor */
	uint32_t conns;
};

static void
wl_reserve(struct wl_data *w, uint32_t n)
{
	w->cap = n;
	w->d = calloc(n, sizeof(*w->d));
	w->ts = calloc(n, sizeof(*w->ts));
	if (w->d == NULL || w->ts == NULL) {
		fprintf(stderr, "reasm_bench: out of memory for %u packets\n", n);
		exit(2);
	}
}

static void
wl_push(struct wl_data *w, uint32_t conn, uint8_t dir, uint8_t flags, uint32_t seq, uint32_t ack,
	uint16_t len)
{
	struct desc *d = &w->d[w->n];

	d->conn = conn;
	d->dir = dir;
	d->flags = flags;
	d->seq = seq;
	d->ack = ack;
	d->len = len;
	w->ts[w->n] = T0_NS + (uint64_t)w->n * NS_PER_PKT_STEP;
	w->bytes_sent += len;
	if (len > w->max_len)
		w->max_len = len;
	w->n++;
}

static void
wl_release(struct wl_data *w)
{
	free(w->d);
	free(w->ts);
	memset(w, 0, sizeof(*w));
}

static uint32_t
pow2_at_least(uint32_t n)
{
	uint32_t p = 8;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * Conversations: @nconns connections, each SYN, SYN-ACK, ACK, pairs of
 * client/server data segments, FIN, FIN-ACK, ACK; the connections
 * interleaved at random. @ooo: probability that a data segment is swapped
 * with the next one of its direction.
 */
static void
gen_conversation(struct wl_data *w, uint32_t nconns, uint16_t cli_len, uint16_t srv_len,
		 uint32_t total, double ooo, uint64_t seed)
{
	uint32_t per = RTE_MAX(total / nconns, 20u), pairs = (per - 6) / 2, c, k, nactive;
	struct desc *script;
	uint32_t *cursor, *active;
	uint64_t rng = seed;

	per = 6 + 2 * pairs;
	script = calloc((size_t)nconns * per, sizeof(*script));
	cursor = calloc(nconns, sizeof(*cursor));
	active = calloc(nconns, sizeof(*active));
	if (script == NULL || cursor == NULL || active == NULL)
		exit(2);
	for (c = 0; c < nconns; c++) {
		struct desc *s = script + (size_t)c * per;
		uint32_t cisn = (uint32_t)rng_next(&rng), sisn = (uint32_t)rng_next(&rng);
		uint32_t cseq = cisn + 1, sseq = sisn + 1, p, j = 0;
		int dir;

#define PUT(DIR, FL, SEQ, ACK, LEN)           \
	s[j++] = (struct desc){.conn = c,     \
			       .dir = (DIR),  \
			       .flags = (FL), \
			       .seq = (SEQ),  \
			       .ack = (ACK),  \
			       .len = (LEN)}
		PUT(0, F_SYN, cisn, 0, 0);
		PUT(1, F_SYN | F_ACK, sisn, cseq, 0);
		PUT(0, F_ACK, cseq, sseq, 0);
		for (p = 0; p < pairs; p++) {
			PUT(0, F_PSH | F_ACK, cseq, sseq, cli_len);
			cseq += cli_len;
			PUT(1, F_PSH | F_ACK, sseq, cseq, srv_len);
			sseq += srv_len;
		}
		PUT(0, F_FIN | F_ACK, cseq, sseq, 0);
		cseq++;
		PUT(1, F_FIN | F_ACK, sseq, cseq, 0);
		sseq++;
		PUT(0, F_ACK, cseq, sseq, 0);
#undef PUT
		/* Swap data segments of one direction with the next one. */
		for (dir = 0; dir < 2 && ooo > 0; dir++) {
			for (p = 0; p + 1 < pairs;) {
				if ((double)(rng_next(&rng) >> 11) * 0x1.0p-53 < ooo) {
					struct desc t = s[3 + 2 * p + dir];

					s[3 + 2 * p + dir] = s[3 + 2 * (p + 1) + dir];
					s[3 + 2 * (p + 1) + dir] = t;
					w->early++;
					p += 2;
				} else {
					p++;
				}
			}
		}
	}
	wl_reserve(w, nconns * per);
	for (c = 0; c < nconns; c++)
		active[c] = c;
	nactive = nconns;
	while (nactive > 0) {
		k = (uint32_t)(rng_next(&rng) % nactive);
		c = active[k];
		{
			const struct desc *d = &script[(size_t)c * per + cursor[c]];

			wl_push(w, d->conn, d->dir, d->flags, d->seq, d->ack, d->len);
		}
		if (++cursor[c] == per)
			active[k] = active[--nactive];
	}
	w->conns = nconns;
	w->max_conns = pow2_at_least(4 * nconns);
	w->pages = 8192;
	free(script);
	free(cursor);
	free(active);
}

/* gopacket's single-stream shapes: 10 B segments, the first with SYN at 1000. */
enum single_shape { SINGLE_INORDER, SINGLE_EARLY, SINGLE_LOSS };

static void
gen_single(struct wl_data *w, uint32_t total, enum single_shape shape)
{
	uint32_t seq = 1000, i;

	wl_reserve(w, total);
	for (i = 0; i < total; i++) {
		bool syn = i == 0;

		wl_push(w, 0, 0, syn ? F_SYN : F_ACK, seq, 0, 10);
		seq += (syn ? 1 : 0) + (shape == SINGLE_LOSS ? 11 : 10);
	}
	if (shape == SINGLE_EARLY) {
		/* Segment 10k+9 arrives before 10k+8 ... i.e. one place early. */
		for (i = 9; i + 1 < total; i += 10) {
			struct desc t = w->d[i];

			w->d[i] = w->d[i + 1];
			w->d[i + 1] = t;
			w->early++;
		}
	}
	w->conns = 1;
	w->max_conns = 8;
	w->pages = shape == SINGLE_LOSS ? total + 64 : 1024;
}

/* BenchmarkMultiStreamGrow: every packet a new direction, no SYN. */
static void
gen_grow(struct wl_data *w, uint32_t total)
{
	uint32_t i;

	wl_reserve(w, total);
	for (i = 0; i < total; i++)
		wl_push(w, i, 0, F_ACK, 10 * i, 0, 10);
	w->conns = total;
	w->max_conns = pow2_at_least(2 * total); /* the table at most half full */
	w->pages = 1024;
}

/* BenchmarkMultiStreamConn: @nconns SYN connections, round-robin. */
static void
gen_conn(struct wl_data *w, uint32_t total, uint32_t nconns)
{
	uint32_t i;

	wl_reserve(w, total);
	for (i = 0; i < total; i++) {
		uint32_t round = i / nconns;

		wl_push(w, i % nconns, 0, round == 0 ? F_SYN : F_ACK,
			round == 0 ? 0 : 1 + 10 * round, 0, 10);
	}
	w->conns = nconns;
	w->max_conns = pow2_at_least(2 * nconns);
	w->pages = 1024;
}

/* ------------------------------------------------------------------ */
/* Workload table                                                       */
/* ------------------------------------------------------------------ */

enum wl_kind { WL_THROUGHPUT, WL_IDLE, WL_FLUSH };

struct workload {
	const char *name;
	enum wl_kind kind;
	const char *what;
};

static const struct workload workloads[] = {
	{"inorder", WL_THROUGHPUT, "1000 interleaved conns, handshakes, 700 B / 100 B segments"},
	{"ooo", WL_THROUGHPUT, "inorder with 10% of data segments swapped with the next"},
	{"small", WL_THROUGHPUT, "100 conns, 8 B segments both ways"},
	{"single", WL_THROUGHPUT, "gopacket SingleStream: one stream, 10 B segments"},
	{"skips", WL_THROUGHPUT, "gopacket SingleStreamSkips: 1 in 10 segments one place early"},
	{"loss", WL_THROUGHPUT, "gopacket SingleStreamLoss: a 1-byte hole before every segment"},
	{"grow", WL_THROUGHPUT, "gopacket MultiStreamGrow: a new direction per packet, no SYN"},
	{"conn", WL_THROUGHPUT, "gopacket MultiStreamConn: 65536 SYN conns round-robin"},
	{"idle1m", WL_IDLE, "1M conns opened (SYN, SYN-ACK, 64 B each way), left idle"},
	{"flush", WL_FLUSH, "reasm_flush_older_than with S stale of N idle directions"},
};

static void
generate(const char *name, struct wl_data *w)
{
	uint32_t n = opt.packets;

	memset(w, 0, sizeof(*w));
	if (strcmp(name, "inorder") == 0)
		gen_conversation(w, 1000, 700, 100, n, 0.0, 1);
	else if (strcmp(name, "ooo") == 0)
		gen_conversation(w, 1000, 700, 100, n, 0.1, 1);
	else if (strcmp(name, "small") == 0)
		gen_conversation(w, 100, 8, 8, n, 0.0, 2);
	else if (strcmp(name, "single") == 0)
		gen_single(w, n, SINGLE_INORDER);
	else if (strcmp(name, "skips") == 0)
		gen_single(w, n, SINGLE_EARLY);
	else if (strcmp(name, "loss") == 0)
		gen_single(w, n, SINGLE_LOSS);
	else if (strcmp(name, "grow") == 0)
		gen_grow(w, n);
	else if (strcmp(name, "conn") == 0)
		gen_conn(w, n, RTE_MIN(65536u, RTE_MAX(n / 4, 8u)));
	else
		abort();
}

static bool
selected(const char *name)
{
	char buf[sizeof(opt.workloads)], *tok, *save = NULL;

	if (strcmp(opt.workloads, "all") == 0)
		return true;
	snprintf(buf, sizeof(buf), "%s", opt.workloads);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, name) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* pcap output, for the peers                                           */
/* ------------------------------------------------------------------ */

static int
write_pcap(const char *dir, const char *name, const struct wl_data *w)
{
	char path[4096];
	uint8_t frame[2048];
	FILE *f;
	uint32_t i;
	const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};

	snprintf(path, sizeof(path), "%s/%s.pcap", dir, name);
	f = fopen(path, "wb");
	if (f == NULL) {
		fprintf(stderr, "reasm_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fwrite(hdr, sizeof(hdr), 1, f);
	for (i = 0; i < w->n; i++) {
		uint16_t len = build_frame(frame, &w->d[i]);
		uint64_t us = w->ts[i] / 1000;
		uint32_t rec[4] = {(uint32_t)(us / 1000000), (uint32_t)(us % 1000000), len, len};

		fwrite(rec, sizeof(rec), 1, f);
		fwrite(frame, len, 1, f);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "reasm_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!opt.json)
		printf("wrote %s (%u packets, %" PRIu64 " payload bytes)\n", path, w->n,
		       w->bytes_sent);
	else
		printf("{\"workload\":\"%s\",\"pcap\":\"%s\",\"packets\":%u,\"bytes_sent\":%" PRIu64
		       ",\"max_conns\":%u}\n",
		       name, path, w->n, w->bytes_sent, w->max_conns);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Count-only stream ops                                                */
/* ------------------------------------------------------------------ */

struct counts {
	uint64_t bytes;
	uint64_t records;
	uint64_t opens;
	uint64_t completes;
	uint64_t skips;
	uint64_t conn_opens; /* with --connections */
	uint64_t conn_completes;
};

static void *
count_open(void *ctx, const struct reasm_flow *flow, void *priv)
{
	struct counts *c = ctx;

	(void)flow;
	(void)priv;
	c->opens++;
	return c;
}

static void
count_reassembled(void *stream, const struct reasm_record *rec, unsigned int n)
{
	struct counts *c = stream;
	unsigned int i;

	for (i = 0; i < n; i++) {
		c->bytes += rec[i].len;
		c->skips += rec[i].skip != 0;
	}
	c->records += n;
}

static void
count_complete(void *stream, const struct reasm_stream_totals *totals)
{
	RTE_SET_USED(totals);
	((struct counts *)stream)->completes++;
}

static void *
count_conn_open(void *ctx, const struct reasm_connection *c, void *priv)
{
	struct counts *k = ctx;

	k->conn_opens++;
	return k;
}

static void
count_conn_complete(void *conn, const struct reasm_connection *c)
{
	struct counts *k = conn;

	k->conn_completes++;
}

static const struct reasm_connection_ops count_conn_ops = {
	.open = count_conn_open,
	.complete = count_conn_complete,
};

static const struct reasm_stream_ops count_ops = {
	.open = count_open,
	.reassembled = count_reassembled,
	.complete = count_complete,
};

/* ------------------------------------------------------------------ */
/* Helpers: clocks, memory                                              */
/* ------------------------------------------------------------------ */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
heap_allocated(void)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats st;

		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0)
			sum += st.heap_allocsz_bytes;
	}
	return sum;
}

static uint64_t
rss_bytes(void)
{
	char line[256];
	uint64_t kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
median(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* ------------------------------------------------------------------ */
/* The timed region                                                     */
/* ------------------------------------------------------------------ */

enum side { SIDE_REASM, SIDE_FLOOR, SIDE_PARSE };
static const char *const side_names[] = {"reasm", "floor", "parse"};

struct run {
	enum side side;
	struct rte_mbuf **pkts;
	const uint64_t *ts;
	uint32_t n;
	struct reasm_assembler *a;    /* reasm */
	const struct rte_hash *table; /* floor */
	uint64_t sink;                /* keeps the floor's work alive */
	uint32_t tcp;                 /* packets that parsed as TCP */
};

static __attribute__((noinline)) void
timed_reasm(struct run *r)
{
	uint32_t i, tcp = 0;

	for (i = 0; i < r->n; i += BURST) {
		uint16_t n = (uint16_t)RTE_MIN((uint32_t)BURST, r->n - i);

		tcp += reasm_assemble_burst(r->a, r->pkts + i, n, r->ts + i, 0);
	}
	r->tcp = tcp;
}

static __attribute__((noinline)) void
timed_floor(struct run *r, bool lookup)
{
	struct reasm_flow keys[BURST];
	const void *kp[BURST];
	hash_sig_t sig[BURST];
	int32_t pos[BURST];
	uint64_t sink = 0;
	uint32_t i, j, tcp = 0;

	for (i = 0; i < r->n; i += BURST) {
		uint32_t n = RTE_MIN((uint32_t)BURST, r->n - i), nk = 0;

		for (j = 0; j < n; j++) {
			/* The prefetch of reasm_assemble_burst's parse loop. */
			if (j + 4 < n)
				rte_prefetch0(rte_pktmbuf_mtod(r->pkts[i + j + 4], void *));
			if (reasm_flow_of_mbuf(r->pkts[i + j], &keys[nk]) == 0) {
				kp[nk] = &keys[nk];
				nk++;
			}
		}
		tcp += nk;
		if (lookup) {
			for (j = 0; j < nk; j++)
				sig[j] = reasm_flow_hash(&keys[j]);
			if (nk > 0)
				rte_hash_lookup_with_hash_bulk(r->table, kp, sig, nk, pos);
			for (j = 0; j < nk; j++)
				sink += (uint64_t)pos[j];
		} else {
			for (j = 0; j < nk; j++)
				sink += keys[j].src_port;
		}
	}
	r->sink += sink;
	r->tcp = tcp;
}

/* The only code callgrind counts (--toggle-collect=bench_timed_region). */
__attribute__((noinline)) void bench_timed_region(struct run *r);

__attribute__((noinline)) void
bench_timed_region(struct run *r)
{
	switch (r->side) {
	case SIDE_REASM:
		timed_reasm(r);
		break;
	case SIDE_FLOOR:
		timed_floor(r, true);
		break;
	case SIDE_PARSE:
		timed_floor(r, false);
		break;
	}
}

/* Run @r once; @return elapsed ns. */
static uint64_t
time_region(struct run *r, const char *workload)
{
	char tag[128];
	uint64_t t0, t1;

	snprintf(tag, sizeof(tag), "%s:%s", side_names[r->side], workload);
	CG_BEGIN();
	t0 = now_ns();
	bench_timed_region(r);
	t1 = now_ns();
	CG_END(tag);
	return t1 - t0;
}

/* ------------------------------------------------------------------ */
/* Pools                                                                */
/* ------------------------------------------------------------------ */

static unsigned int name_seq;

static struct rte_mempool *
pages_create(uint32_t n)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	struct rte_mempool *mp;

	snprintf(name, sizeof(name), "bp%u", name_seq++);
	mp = reasm_page_pool_create(name, n, RTE_MIN(256u, n / 8), (int)rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "reasm_bench: cannot create %u pages: %s (more --mem?)\n", n,
			rte_strerror(rte_errno));
		exit(2);
	}
	return mp;
}

struct rig {
	struct reasm_pool *pool;
	struct reasm_assembler *a;
	struct counts c;
};

static void
rig_create(struct rig *g, uint32_t max_conns, struct rte_mempool *pages)
{
	char name[32];
	struct reasm_pool_conf pc = {0};
	struct reasm_assembler_conf ac = {0};

	memset(&g->c, 0, sizeof(g->c));
	snprintf(name, sizeof(name), "b%u", name_seq++);
	pc.name = name;
	pc.socket_id = (int)rte_socket_id();
	pc.max_conns = max_conns;
	pc.mode = REASM_POOL_SINGLE_WRITER;
	pc.ops = &count_ops;
	pc.factory_ctx = &g->c;
	if (opt.connections) {
		pc.max_connections = max_conns;
		pc.conn_ops = &count_conn_ops;
		pc.conn_ctx = &g->c;
	}
	pc.retain_bytes = opt.retain_bytes;
	g->pool = reasm_pool_create(&pc);
	if (g->pool == NULL) {
		fprintf(stderr, "reasm_bench: reasm_pool_create(%u conns): %s (more --mem?)\n",
			max_conns, rte_strerror(rte_errno));
		exit(2);
	}
	ac.pool = g->pool;
	ac.page_pool = pages;
	ac.socket_id = (int)rte_socket_id();
	ac.overlap_policy = opt.overlap_last ? REASM_OVERLAP_LAST : REASM_OVERLAP_FIRST;
	g->a = reasm_assembler_create(&ac);
	if (g->a == NULL) {
		fprintf(stderr, "reasm_bench: reasm_assembler_create: %s\n",
			rte_strerror(rte_errno));
		exit(2);
	}
}

static void
rig_free(struct rig *g)
{
	reasm_assembler_free(g->a);
	reasm_pool_free(g->pool);
	g->a = NULL;
	g->pool = NULL;
}

static uint32_t
floor_hash(const void *key, uint32_t key_len, uint32_t init_val)
{
	return reasm_flow_hash(key);
}

/* The floor's table: the parameters of lib/reasm/reasm_pool.c's table_create(). */
static struct rte_hash *
floor_table_create(uint32_t entries)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters params = {
		.name = name,
		.entries = entries,
		.key_len = sizeof(struct reasm_flow),
		.hash_func = floor_hash,
		.hash_func_init_val = 0,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct rte_hash *h;

	snprintf(name, sizeof(name), "floor%u", name_seq++);
	h = rte_hash_create(&params);
	if (h == NULL) {
		fprintf(stderr, "reasm_bench: rte_hash_create(%u): %s\n", entries,
			rte_strerror(rte_errno));
		exit(2);
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* Throughput workloads                                                 */
/* ------------------------------------------------------------------ */

static struct rte_mempool *
mbufs_build(const struct wl_data *w, struct rte_mbuf ***out)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	uint16_t room = (uint16_t)RTE_ALIGN_CEIL(RTE_PKTMBUF_HEADROOM + 54 + w->max_len, 64);
	struct rte_mempool *mp;
	struct rte_mbuf **pkts;
	uint32_t i;

	snprintf(name, sizeof(name), "bm%u", name_seq++);
	mp = rte_pktmbuf_pool_create(name, w->n, 0, 0, room, (int)rte_socket_id());
	pkts = calloc(w->n, sizeof(*pkts));
	if (mp == NULL || pkts == NULL) {
		fprintf(stderr,
			"reasm_bench: cannot create %u mbufs of %u bytes: %s (more --mem?)\n", w->n,
			room, rte_strerror(rte_errno));
		exit(2);
	}
	if (rte_pktmbuf_alloc_bulk(mp, pkts, w->n) != 0) {
		fprintf(stderr, "reasm_bench: rte_pktmbuf_alloc_bulk(%u) failed\n", w->n);
		exit(2);
	}
	for (i = 0; i < w->n; i++) {
		uint16_t len = build_frame(rte_pktmbuf_mtod(pkts[i], uint8_t *), &w->d[i]);

		pkts[i]->data_len = len;
		pkts[i]->pkt_len = len;
	}
	*out = pkts;
	return mp;
}

struct tp_result {
	uint64_t best[3], med[3];
	uint64_t flush_ns;
	struct counts c;
	struct reasm_stats st;
	uint32_t tcp;
	bool ran[3];
};

static void
print_throughput(const char *name, const struct wl_data *w, const struct tp_result *r)
{
	double pk = w->n;
	double reasm_ns = r->ran[SIDE_REASM] ? r->best[SIDE_REASM] / pk : 0;
	double floor_ns = r->ran[SIDE_FLOOR] ? r->best[SIDE_FLOOR] / pk : 0;
	double parse_ns = r->ran[SIDE_PARSE] ? r->best[SIDE_PARSE] / pk : 0;
	double secs = r->best[SIDE_REASM] / 1e9;
	uint64_t skipped = reasm_stats_class_sum(&r->st, REASM_CLASS_SKIP);
	bool ok = !r->ran[SIDE_REASM] || r->c.bytes == w->bytes_sent;
	/* The library's own counters must agree with what the callbacks saw. */
	bool counters_ok = !r->ran[SIDE_REASM] ||
			   (r->st.v[REASM_CTR_delivered_bytes] == r->c.bytes &&
			    r->st.v[REASM_CTR_conns_opened] == r->c.opens &&
			    r->st.v[REASM_CTR_payload_bytes] == w->bytes_sent &&
			    r->st.v[REASM_CTR_pkts] == w->n);

	if (opt.json) {
		printf("{\"workload\":\"%s\",\"kind\":\"throughput\",\"packets\":%u,"
		       "\"tcp_packets\":%u,\"conns\":%u,\"max_conns\":%u,\"reps\":%u",
		       name, w->n, r->tcp, w->conns, w->max_conns, opt.reps);
		if (r->ran[SIDE_REASM])
			printf(",\"reasm_ns_per_pkt\":%.2f,\"reasm_median_ns_per_pkt\":%.2f,"
			       "\"reasm_mpps\":%.3f,\"reasm_gbps\":%.3f,\"flush_ms\":%.3f",
			       reasm_ns, r->med[SIDE_REASM] / pk, pk / secs / 1e6,
			       w->bytes_sent * 8.0 / secs / 1e9, r->flush_ns / 1e6);
		if (r->ran[SIDE_FLOOR])
			printf(",\"floor_ns_per_pkt\":%.2f,\"floor_median_ns_per_pkt\":%.2f",
			       floor_ns, r->med[SIDE_FLOOR] / pk);
		if (r->ran[SIDE_PARSE])
			printf(",\"parse_ns_per_pkt\":%.2f", parse_ns);
		if (r->ran[SIDE_REASM] && r->ran[SIDE_FLOOR])
			printf(",\"reasm_over_floor\":%.3f", reasm_ns / floor_ns);
		printf(",\"bytes_sent\":%" PRIu64, w->bytes_sent);
		if (r->ran[SIDE_REASM])
			printf(",\"bytes_delivered\":%" PRIu64
			       ",\"bytes_ok\":%s,\"records\":%" PRIu64
			       ",\"streams_opened\":%" PRIu64 ",\"streams_completed\":%" PRIu64
			       ",\"skips\":%" PRIu64 ",\"skipped_bytes\":%" PRIu64
			       ",\"overlap_bytes\":%" PRIu64 ",\"pages_alloc_failed\":%" PRIu64,
			       r->c.bytes, ok ? "true" : "false", r->c.records, r->c.opens,
			       r->c.completes, r->c.skips, skipped,
			       r->st.v[REASM_CTR_overlap_bytes],
			       r->st.v[REASM_CTR_pages_alloc_failed]);
		if (r->ran[SIDE_REASM])
			printf(",\"counters_ok\":%s,\"ctr_delivered_bytes\":%" PRIu64
			       ",\"ctr_conns_opened\":%" PRIu64 ",\"ctr_payload_bytes\":%" PRIu64
			       ",\"ctr_pkts\":%" PRIu64,
			       counters_ok ? "true" : "false", r->st.v[REASM_CTR_delivered_bytes],
			       r->st.v[REASM_CTR_conns_opened], r->st.v[REASM_CTR_payload_bytes],
			       r->st.v[REASM_CTR_pkts]);
		printf(",\"early_segments\":%u}\n", w->early);
	} else {
		printf("%-8s %8u pkts  reasm %8.1f ns/pkt %7.3f Mpps %7.3f Gbit/s  floor %7.1f  "
		       "parse %7.1f  reasm/floor %5.2f  flush %8.3f ms  bytes %" PRIu64 "/%" PRIu64
		       " %s\n",
		       name, w->n, reasm_ns, r->ran[SIDE_REASM] ? pk / secs / 1e6 : 0,
		       r->ran[SIDE_REASM] ? w->bytes_sent * 8.0 / secs / 1e9 : 0, floor_ns,
		       parse_ns, floor_ns > 0 ? reasm_ns / floor_ns : 0, r->flush_ns / 1e6,
		       r->c.bytes, w->bytes_sent, ok ? "ok" : "MISMATCH");
	}
	if (!ok) {
		fprintf(stderr, "reasm_bench: %s: delivered %" PRIu64 " bytes, sent %" PRIu64 "\n",
			name, r->c.bytes, w->bytes_sent);
		failures++;
	}
	if (!counters_ok) {
		fprintf(stderr,
			"reasm_bench: %s: counters disagree with the callbacks: "
			"delivered_bytes %" PRIu64 " (callbacks %" PRIu64 "), conns_opened %" PRIu64
			" (callbacks %" PRIu64 "), payload_bytes %" PRIu64 " (sent %" PRIu64
			"), pkts %" PRIu64 " (%u)\n",
			name, r->st.v[REASM_CTR_delivered_bytes], r->c.bytes,
			r->st.v[REASM_CTR_conns_opened], r->c.opens,
			r->st.v[REASM_CTR_payload_bytes], w->bytes_sent, r->st.v[REASM_CTR_pkts],
			w->n);
		failures++;
	}
	fflush(stdout);
}

static void
run_throughput(const char *name)
{
	struct wl_data w;
	struct rte_mempool *mbufs, *pages = NULL;
	struct rte_mbuf **pkts;
	struct rte_hash *table = NULL;
	struct tp_result res;
	uint64_t *times[3];
	unsigned int rep, s;
	uint32_t i;

	memset(&res, 0, sizeof(res));
	generate(name, &w);
	mbufs = mbufs_build(&w, &pkts);
	for (s = 0; s < 3; s++)
		times[s] = calloc(opt.reps, sizeof(uint64_t));
	if (opt.side_reasm)
		pages = pages_create(w.pages);
	if (opt.side_floor) {
		table = floor_table_create(w.max_conns);
		for (i = 0; i < w.n; i++) {
			struct reasm_flow f;

			if (reasm_flow_of_mbuf(pkts[i], &f) == 0 &&
			    rte_hash_add_key(table, &f) < 0) {
				fprintf(stderr, "reasm_bench: floor table full\n");
				exit(2);
			}
		}
	}
	for (rep = 0; rep < opt.reps; rep++) {
		if (opt.side_reasm) {
			struct rig g;
			struct run r = {.side = SIDE_REASM, .pkts = pkts, .ts = w.ts, .n = w.n};
			uint64_t t0;

			rig_create(&g, w.max_conns, pages);
			r.a = g.a;
			times[SIDE_REASM][rep] = time_region(&r, name);
			t0 = now_ns();
			reasm_flush_all(g.a);
			res.flush_ns = rep == 0 ? now_ns() - t0
						: RTE_MIN(res.flush_ns, now_ns() - t0);
			reasm_assembler_stats(g.a, &res.st);
			if (rep > 0 && g.c.bytes != res.c.bytes) {
				fprintf(stderr,
					"reasm_bench: %s: run %u delivered %" PRIu64
					" bytes, run 0 %" PRIu64 "\n",
					name, rep, g.c.bytes, res.c.bytes);
				failures++;
			}
			res.c = g.c;
			res.tcp = r.tcp;
			if (rte_mempool_avail_count(pages) != w.pages) {
				fprintf(stderr, "reasm_bench: %s: %u pages not returned\n", name,
					w.pages - rte_mempool_avail_count(pages));
				failures++;
			}
			rig_free(&g);
			res.ran[SIDE_REASM] = true;
		}
		for (s = SIDE_FLOOR; s <= SIDE_PARSE; s++) {
			struct run r = {.side = (enum side)s,
					.pkts = pkts,
					.ts = w.ts,
					.n = w.n,
					.table = table};

			if ((s == SIDE_FLOOR && !opt.side_floor) ||
			    (s == SIDE_PARSE && !opt.side_parse))
				continue;
			times[s][rep] = time_region(&r, name);
			if (!res.ran[SIDE_REASM])
				res.tcp = r.tcp;
			res.ran[s] = true;
		}
	}
	for (s = 0; s < 3; s++) {
		if (res.ran[s]) {
			res.med[s] = median(times[s], opt.reps);
			res.best[s] = times[s][0]; /* sorted by median() */
		}
		free(times[s]);
	}
	print_throughput(name, &w, &res);
	rte_hash_free(table);
	rte_mempool_free(pages);
	rte_pktmbuf_free_bulk(pkts, w.n);
	rte_mempool_free(mbufs);
	free(pkts);
	wl_release(&w);
}

/* ------------------------------------------------------------------ */
/* Streamed workloads: packets built burst by burst                     */
/* ------------------------------------------------------------------ */

struct feeder {
	struct rte_mempool *mp;
	struct rte_mbuf *pkts[BURST];
	struct desc d[BURST];
	uint64_t ts[BURST];
	unsigned int n;
	uint64_t cycles; /* inside reasm_assemble_burst */
	uint64_t packets;
	uint64_t bytes;
	struct reasm_assembler *a;
};

static void
feeder_init(struct feeder *f, struct reasm_assembler *a)
{
	char name[RTE_MEMPOOL_NAMESIZE];

	memset(f, 0, sizeof(*f));
	snprintf(name, sizeof(name), "bf%u", name_seq++);
	f->mp = rte_pktmbuf_pool_create(name, 2 * BURST, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					(int)rte_socket_id());
	if (f->mp == NULL || rte_pktmbuf_alloc_bulk(f->mp, f->pkts, BURST) != 0) {
		fprintf(stderr, "reasm_bench: feeder mbufs: %s\n", rte_strerror(rte_errno));
		exit(2);
	}
	f->a = a;
}

static void
feeder_flush(struct feeder *f)
{
	unsigned int i;
	uint64_t t0;

	for (i = 0; i < f->n; i++) {
		uint16_t len = build_frame(rte_pktmbuf_mtod(f->pkts[i], uint8_t *), &f->d[i]);

		f->pkts[i]->data_len = len;
		f->pkts[i]->pkt_len = len;
	}
	t0 = rte_rdtsc_precise();
	reasm_assemble_burst(f->a, f->pkts, (uint16_t)f->n, f->ts, 0);
	f->cycles += rte_rdtsc_precise() - t0;
	f->packets += f->n;
	f->n = 0;
}

static void
feed(struct feeder *f, uint32_t conn, uint8_t dir, uint8_t flags, uint32_t seq, uint32_t ack,
     uint16_t len, uint64_t ts)
{
	f->d[f->n] = (struct desc){.conn = conn,
				   .dir = dir,
				   .flags = flags,
				   .seq = seq,
				   .ack = ack,
				   .len = len};
	f->ts[f->n] = ts;
	f->bytes += len;
	if (++f->n == BURST)
		feeder_flush(f);
}

static void
feeder_free(struct feeder *f)
{
	if (f->n > 0)
		feeder_flush(f);
	rte_pktmbuf_free_bulk(f->pkts, BURST);
	rte_mempool_free(f->mp);
}

static double
cycles_to_ns(uint64_t cycles)
{
	return cycles * 1e9 / (double)rte_get_tsc_hz();
}

static void
run_idle(void)
{
	uint32_t nconns = opt.idle_conns, dirs = 2 * nconns, k;
	uint32_t max_conns = pow2_at_least(dirs);
	uint64_t heap0, heap_pool, heap_asm, heap_end, rss0, rss_created, rss_end, t0, flush_ns;
	struct rte_mempool *pages = pages_create(1024);
	struct feeder f;
	struct rig g;
	bool ok;
	uint32_t open_dirs;
	char name[32];
	struct reasm_pool_conf pc = {0};
	struct reasm_assembler_conf ac = {0};

	memset(&g, 0, sizeof(g));
	feeder_init(&f, NULL);
	heap0 = heap_allocated();
	rss0 = rss_bytes();
	snprintf(name, sizeof(name), "idle%u", name_seq++);
	pc.name = name;
	pc.socket_id = (int)rte_socket_id();
	pc.max_conns = max_conns;
	pc.ops = &count_ops;
	pc.factory_ctx = &g.c;
	g.pool = reasm_pool_create(&pc);
	if (g.pool == NULL) {
		fprintf(stderr, "reasm_bench: idle1m: reasm_pool_create(%u): %s (more --mem?)\n",
			max_conns, rte_strerror(rte_errno));
		exit(2);
	}
	heap_pool = heap_allocated();
	ac.pool = g.pool;
	ac.page_pool = pages;
	ac.socket_id = (int)rte_socket_id();
	g.a = reasm_assembler_create(&ac);
	if (g.a == NULL) {
		fprintf(stderr, "reasm_bench: idle1m: reasm_assembler_create: %s\n",
			rte_strerror(rte_errno));
		exit(2);
	}
	heap_asm = heap_allocated();
	rss_created = rss_bytes();

	f.a = g.a;
	for (k = 0; k < nconns; k++) {
		uint32_t cisn = k * 2654435761u, sisn = ~cisn;
		uint64_t ts = T0_NS + (uint64_t)k * 4 * NS_PER_PKT_STEP;

		feed(&f, k, 0, F_SYN, cisn, 0, 0, ts);
		feed(&f, k, 1, F_SYN | F_ACK, sisn, cisn + 1, 0, ts + 1000);
		feed(&f, k, 0, F_PSH | F_ACK, cisn + 1, sisn + 1, 64, ts + 2000);
		feed(&f, k, 1, F_PSH | F_ACK, sisn + 1, cisn + 65, 64, ts + 3000);
	}
	if (f.n > 0)
		feeder_flush(&f);
	open_dirs = reasm_pool_count(g.pool);
	heap_end = heap_allocated();
	rss_end = rss_bytes();
	t0 = now_ns();
	reasm_flush_all(g.a);
	flush_ns = now_ns() - t0;
	ok = g.c.bytes == f.bytes && open_dirs == dirs;
	if (opt.json) {
		printf("{\"workload\":\"idle1m\",\"kind\":\"idle\",\"conns\":%u,\"directions\":%u,"
		       "\"open_directions\":%u,\"max_conns\":%u,\"packets\":%" PRIu64
		       ",\"open_ns_per_pkt\":%.2f,\"pool_heap_bytes\":%" PRIu64
		       ",\"assembler_heap_bytes\":%" PRIu64 ",\"heap_growth_while_open\":%" PRId64
		       ",\"bytes_per_direction\":%.1f,\"bytes_per_direction_capacity\":%.1f"
		       ",\"bytes_per_direction_with_assembler\":%.1f"
		       ",\"rss_after_create\":%" PRId64 ",\"rss_after_open\":%" PRId64
		       ",\"rss_bytes_per_direction\":%.1f,\"flush_all_ms\":%.3f"
		       ",\"flush_all_ns_per_direction\":%.1f,\"bytes_sent\":%" PRIu64
		       ",\"bytes_delivered\":%" PRIu64 ",\"bytes_ok\":%s}\n",
		       nconns, dirs, open_dirs, max_conns, f.packets,
		       cycles_to_ns(f.cycles) / (double)f.packets, heap_pool - heap0,
		       heap_asm - heap_pool, (int64_t)(heap_end - heap_asm),
		       (double)(heap_pool - heap0) / dirs, (double)(heap_pool - heap0) / max_conns,
		       (double)(heap_asm - heap0) / dirs, (int64_t)(rss_created - rss0),
		       (int64_t)(rss_end - rss0), (double)((int64_t)(rss_end - rss0)) / dirs,
		       flush_ns / 1e6, (double)flush_ns / dirs, f.bytes, g.c.bytes,
		       ok ? "true" : "false");
	} else {
		printf("idle1m   %u conns, %u directions open (max_conns %u), opening %.1f ns/pkt\n"
		       "         pool heap %.1f MiB = %.1f B/direction (%.1f B per max_conns slot), "
		       "assembler %.1f MiB, heap growth while open %" PRId64 " B\n"
		       "         RSS +%.1f MiB after create, +%.1f MiB after open = %.1f B/direction\n"
		       "         flush_all %.1f ms (%.1f ns/direction), bytes %" PRIu64 "/%" PRIu64
		       " %s\n",
		       nconns, open_dirs, max_conns, cycles_to_ns(f.cycles) / (double)f.packets,
		       (heap_pool - heap0) / 1048576.0, (double)(heap_pool - heap0) / dirs,
		       (double)(heap_pool - heap0) / max_conns, (heap_asm - heap_pool) / 1048576.0,
		       (int64_t)(heap_end - heap_asm), (int64_t)(rss_created - rss0) / 1048576.0,
		       (int64_t)(rss_end - rss0) / 1048576.0,
		       (double)((int64_t)(rss_end - rss0)) / dirs, flush_ns / 1e6,
		       (double)flush_ns / dirs, g.c.bytes, f.bytes, ok ? "ok" : "MISMATCH");
	}
	if (!ok) {
		fprintf(stderr,
			"reasm_bench: idle1m: %u directions open of %u, delivered %" PRIu64
			" of %" PRIu64 " bytes\n",
			open_dirs, dirs, g.c.bytes, f.bytes);
		failures++;
	}
	fflush(stdout);
	feeder_free(&f);
	rig_free(&g);
	rte_mempool_free(pages);
}

/*
 * @touched = false: S stale directions opened at T0, then N-S fresh ones at
 * T0 + 1000 s (time order). @touched = true: all N opened at T0, then the
 * N-S fresh ones get a second segment at T0 + 1000 s.
 */
struct flush_result {
	uint64_t ns, again_ns;
	unsigned int flushed, closed;
	uint64_t open_cycles, open_pkts;
	bool ok;
};

enum flush_order { ORDER_TIME, ORDER_TOUCHED, ORDER_PAGED };
static const char *const order_names[] = {"time", "touched", "paged"};

static struct flush_result
flush_case(uint32_t stale, uint32_t total, enum flush_order order)
{
	const uint64_t t_fresh = T0_NS + UINT64_C(1000) * 1000000000u;
	const uint64_t t_cut = T0_NS + UINT64_C(500) * 1000000000u;
	struct rte_mempool *pages = pages_create(order == ORDER_PAGED ? total + 64 : 1024);
	struct flush_result res = {0};
	struct feeder f;
	struct rig g;
	uint32_t k;
	uint64_t t0;
	unsigned int closed;

	rig_create(&g, total, pages);
	feeder_init(&f, g.a);
	for (k = 0; k < total; k++) {
		bool fresh = k >= stale && order != ORDER_TOUCHED;
		uint64_t ts = (fresh ? t_fresh : T0_NS) + 2 * (uint64_t)k;

		/*
		 * SYN then in-order data: nothing buffered, the direction is just
		 * idle. Paged: data without SYN, which gopacket (and reasm) buffer
		 * until a flush skips to it.
		 */
		if (order != ORDER_PAGED)
			feed(&f, k, 0, F_SYN, k * 64u, 0, 0, ts);
		feed(&f, k, 0, F_PSH | F_ACK, k * 64u + 1, 1, 64, ts + 1);
	}
	if (order == ORDER_TOUCHED)
		for (k = stale; k < total; k++)
			feed(&f, k, 0, F_PSH | F_ACK, k * 64u + 65, 1, 64, t_fresh + k);
	if (f.n > 0)
		feeder_flush(&f);
	t0 = now_ns();
	res.flushed = reasm_flush_older_than(g.a, t_cut, &closed);
	res.ns = now_ns() - t0;
	res.closed = closed;
	t0 = now_ns();
	reasm_flush_older_than(g.a, t_cut, NULL);
	res.again_ns = now_ns() - t0;
	res.ok = closed == stale && reasm_pool_count(g.pool) == total - stale;
	res.open_cycles = f.cycles;
	res.open_pkts = f.packets;
	reasm_flush_all(g.a);
	if (g.c.bytes != f.bytes)
		res.ok = false;
	feeder_free(&f);
	rig_free(&g);
	rte_mempool_free(pages);
	return res;
}

static void
run_flush(void)
{
	static const uint32_t full_s[] = {1000, 10000, 100000}, full_n[] = {100000, 1000000};
	static const uint32_t smoke_s[] = {10, 100}, smoke_n[] = {1000, 10000};
	const uint32_t *ss = opt.smoke ? smoke_s : full_s, *ns = opt.smoke ? smoke_n : full_n;
	unsigned int nss = opt.smoke ? 2 : 3, i, j, t;
	bool first = true;

	if (opt.json)
		printf("{\"workload\":\"flush\",\"kind\":\"flush\",\"cases\":[");
	for (t = ORDER_TIME; t <= ORDER_PAGED; t++) {
		for (j = 0; j < 2; j++) {
			for (i = 0; i < nss; i++) {
				struct flush_result r;

				/* Paged: one page per direction; 1M pages would need 2 GB. */
				if (ss[i] > ns[j] || (t == ORDER_PAGED && j > 0))
					continue;
				r = flush_case(ss[i], ns[j], (enum flush_order)t);
				if (opt.json)
					printf("%s{\"order\":\"%s\",\"stale\":%u,\"total\":%u,"
					       "\"flush_us\":%.1f,\"ns_per_stale\":%.1f,"
					       "\"again_us\":%.1f,\"closed\":%u,\"open_ns_per_pkt\":%.1f,"
					       "\"ok\":%s}",
					       first ? "" : ",", order_names[t], ss[i], ns[j],
					       r.ns / 1e3, (double)r.ns / ss[i], r.again_ns / 1e3,
					       r.closed,
					       cycles_to_ns(r.open_cycles) / (double)r.open_pkts,
					       r.ok ? "true" : "false");
				else
					printf("flush    %-7s S %7u of N %8u: %9.1f us = %7.1f ns per stale"
					       " direction; again %7.1f us; closed %u %s\n",
					       order_names[t], ss[i], ns[j], r.ns / 1e3,
					       (double)r.ns / ss[i], r.again_ns / 1e3, r.closed,
					       r.ok ? "ok" : "WRONG");
				fflush(stdout);
				first = false;
				if (!r.ok) {
					fprintf(stderr, "reasm_bench: flush S %u N %u: closed %u\n",
						ss[i], ns[j], r.closed);
					failures++;
				}
			}
		}
	}
	if (opt.json)
		printf("]}\n");
}

/* ------------------------------------------------------------------ */
/* main                                                                 */
/* ------------------------------------------------------------------ */

static void
usage(FILE *f)
{
	fprintf(f, "usage: reasm_bench [options]\n"
		   "  --workload LIST   comma-separated workloads, or all (default all):\n");
	for (size_t i = 0; i < RTE_DIM(workloads); i++)
		fprintf(f, "                      %-8s %s\n", workloads[i].name, workloads[i].what);
	fprintf(f,
		"  --only LIST       same as --workload\n"
		"  --packets N       packets per throughput workload (default %u)\n"
		"  --reps N          timed runs, best reported (default %u)\n"
		"  --side LIST       reasm,floor,parse (default all three)\n"
		"  --connections     the reasm side also pairs directions into connections\n"
		"                    (reasm_pool_conf.max_connections = the workload's max_conns)\n"
		"  --retain-bytes N  the reasm side keeps N delivered bytes per direction\n"
		"                    (reasm_pool_conf.retain_bytes: a power of 2, 0 = off)\n"
		"  --overlap-last    the reasm side's overlap policy is REASM_OVERLAP_LAST\n"
		"  --idle-conns N    connections of idle1m (default %u)\n"
		"  --json            one JSON line per workload\n"
		"  --write-pcap DIR  write DIR/WORKLOAD.pcap for the throughput workloads and exit\n"
		"  --smoke           tiny sizes (seconds)\n"
		"  --mem MB          EAL memory, no hugepages (default %u)\n"
		"  --lcore N         the CPU to run on (default %u)\n",
		opt.packets, opt.reps, opt.idle_conns, opt.mem_mb, opt.lcore);
}

static unsigned long
num_arg(const char *name, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "reasm_bench: --%s: '%s' is not a number in [%lu, %lu]\n", name, s,
			min, max);
		exit(2);
	}
	return v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"workload", required_argument, NULL, 'w'},
		{"only", required_argument, NULL, 'w'},
		{"packets", required_argument, NULL, 'n'},
		{"reps", required_argument, NULL, 'r'},
		{"side", required_argument, NULL, 's'},
		{"connections", no_argument, NULL, 'C'},
		{"retain-bytes", required_argument, NULL, 'R'},
		{"overlap-last", no_argument, NULL, 'L'},
		{"idle-conns", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"write-pcap", required_argument, NULL, 'p'},
		{"smoke", no_argument, NULL, 'S'},
		{"mem", required_argument, NULL, 'm'},
		{"lcore", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool packets_set = false, idle_set = false, reps_set = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			snprintf(opt.workloads, sizeof(opt.workloads), "%s", optarg);
			break;
		case 'n':
			opt.packets = (uint32_t)num_arg("packets", optarg, 64, 1ul << 26);
			packets_set = true;
			break;
		case 'r':
			opt.reps = (unsigned int)num_arg("reps", optarg, 1, 1000);
			reps_set = true;
			break;
		case 's':
			opt.side_reasm = strstr(optarg, "reasm") != NULL;
			opt.side_floor = strstr(optarg, "floor") != NULL;
			opt.side_parse = strstr(optarg, "parse") != NULL;
			break;
		case 'i':
			opt.idle_conns = (uint32_t)num_arg("idle-conns", optarg, 4, 1ul << 25);
			idle_set = true;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'C':
			opt.connections = true;
			break;
		case 'R':
			opt.retain_bytes = (uint32_t)num_arg("retain-bytes", optarg, 0,
							     REASM_RETAIN_MAX);
			break;
		case 'L':
			opt.overlap_last = true;
			break;
		case 'p':
			opt.pcap_dir = optarg;
			break;
		case 'S':
			opt.smoke = true;
			break;
		case 'm':
			opt.mem_mb = (unsigned int)num_arg("mem", optarg, 64, 1u << 20);
			break;
		case 'l':
			opt.lcore = (unsigned int)num_arg("lcore", optarg, 0, RTE_MAX_LCORE - 1);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	if (opt.smoke) {
		if (!packets_set)
			opt.packets = 4096;
		if (!idle_set)
			opt.idle_conns = 10000;
		if (!reps_set)
			opt.reps = 2;
	}
	for (const char *p = opt.workloads; strcmp(opt.workloads, "all") != 0 && *p;) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < RTE_DIM(workloads); i++)
			if (strlen(workloads[i].name) == len &&
			    strncmp(workloads[i].name, p, len) == 0)
				break;
		if (i == RTE_DIM(workloads)) {
			fprintf(stderr, "reasm_bench: unknown workload '%.*s'\n", (int)len, p);
			usage(stderr);
			exit(2);
		}
		p += len + (p[len] == ',');
	}
}

static void
eal_init(const char *argv0)
{
	char mem[16], prefix[64], lcore[16];
	char *eal_argv[] = {
		(char *)argv0,
		"--no-huge",
		"-m",
		mem,
		"--no-pci",
		"--no-shconf",
		"--no-telemetry",
		"--file-prefix",
		prefix,
		"-l",
		lcore,
		"--log-level",
		"*:error",
		NULL,
	};

	snprintf(mem, sizeof(mem), "%u", opt.mem_mb);
	snprintf(prefix, sizeof(prefix), "reasm-bench-%d", (int)getpid());
	snprintf(lcore, sizeof(lcore), "%u", opt.lcore);
	if (rte_eal_init((int)RTE_DIM(eal_argv) - 1, eal_argv) < 0) {
		fprintf(stderr, "reasm_bench: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	size_t i;

	parse_args(argc, argv);
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)i;

	if (opt.pcap_dir != NULL) {
		mkdir(opt.pcap_dir, 0755);
		for (i = 0; i < RTE_DIM(workloads); i++) {
			struct wl_data w;

			if (workloads[i].kind != WL_THROUGHPUT || !selected(workloads[i].name))
				continue;
			generate(workloads[i].name, &w);
			if (write_pcap(opt.pcap_dir, workloads[i].name, &w) < 0)
				failures++;
			wl_release(&w);
		}
		return failures ? 1 : 0;
	}

	eal_init(argv[0]);
	if (!opt.json)
		printf("reasm_bench: %u packets per workload, best of %u, one lcore (%u), TSC %.3f GHz\n",
		       opt.packets, opt.reps, rte_lcore_id(), rte_get_tsc_hz() / 1e9);
	/*
	 * idle1m first, on a heap nothing has touched yet, so that its RSS growth
	 * shows what opening connections touches; then the others, in table order.
	 */
	for (i = 0; i < RTE_DIM(workloads); i++)
		if (workloads[i].kind == WL_IDLE && selected(workloads[i].name) && opt.side_reasm)
			run_idle();
	for (i = 0; i < RTE_DIM(workloads); i++) {
		if (!selected(workloads[i].name))
			continue;
		switch (workloads[i].kind) {
		case WL_THROUGHPUT:
			run_throughput(workloads[i].name);
			break;
		case WL_IDLE:
			break;
		case WL_FLUSH:
			if (opt.side_reasm)
				run_flush();
			break;
		}
	}
	if (!opt.json)
		printf("reasm_bench: %s\n", failures ? "FAILED" : "ok");
	rte_eal_cleanup();
	return failures ? 1 : 0;
}
