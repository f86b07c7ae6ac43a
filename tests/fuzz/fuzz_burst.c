/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * libFuzzer harness for the burst entry point, reasm_assemble_burst().
 *
 * Covers: the Ethernet/VLAN/IPv4/IPv6/TCP parser on arbitrary frames, held in
 * single mbufs, in exact-size external buffers (malloc'd, so ASan catches a
 * read past the frame's last byte), and in chains of 2..n segments split
 * anywhere (headers included), some with a pkt_len that lies; bursts of 1..64
 * frames with per-packet timestamps (going backwards too) or one now_ns;
 * connection table full, page mempool exhaustion, page limits; flushes between
 * bursts; one or two assemblers on a shared pool. After every operation the
 * invariants of fuzz_common.h are checked, and after every burst: its return
 * value, reasm_flow_of_mbuf() on each frame, and that no mbuf was modified.
 *
 * Input: the header of fuzz_common.h, then operations until the input ends,
 * each an op byte (op % 16):
 *   0-7   burst of raw frames: u8 n-1 (n = 1..64), then per frame
 *         [fl u8][dt i8][len u16 LE][len bytes]
 *   8-9   burst of synthesized frames: u8 n-1, then per frame
 *         [k u8][tcp flags u8][dt i8][seq u32 LE][plen u16 LE][plen payload bytes]
 *   10-11 reasm_flush_older_than(now - (i8) u8 ms)
 *   12    reasm_flush_all
 *   13    reasm_assembler_top_conns, checked against the counters
 *   14    u8 % 8: 7 frees the current one of two assemblers mid-input (the other
 *         carries on), else the other assembler takes the next operations
 *   15    clock += (i8) u8 seconds
 * fl: bits 0-1 storage (0 one mbuf, chained if over 2048 bytes; 1 one exact-size
 * external buffer; 2 chain of mbufs; 3 chain alternating exact buffers and
 * mbufs); bits 2-3 chain segments - 2; bits 4-6 first segment = 6 + 10 * value
 * bytes; bit 7 pkt_len claims 64 bytes more than the segments hold.
 * dt: the clock moves by dt ms before the frame (its timestamp).
 * k: bits 0-3 flow (% 12; every third IPv6), bit 4 an 802.1Q tag, bit 5 IPv4
 * options / an IPv6 destination-options header, bits 6-7 storage as fl.
 * tools: tests/fuzz/make_corpus.py writes seeds in this format.
 */
#include <rte_mbuf.h>

#include "fuzz_common.h"

#define DATA_ROOM 2048
#define MAX_BURST 64
#define MS 1000000ull

static struct rte_mempool *mbufs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	fuzz_eal_init((*argv)[0]);
	mbufs = rte_pktmbuf_pool_create("fuzz_mbufs", 8191, 0, 0, DATA_ROOM + RTE_PKTMBUF_HEADROOM,
					SOCKET_ID_ANY);
	FUZZ_CHECK(mbufs != NULL, "mbuf pool: %s", rte_strerror(rte_errno));
	return 0;
}

/* ---- mbufs ---------------------------------------------------------- */

static void
ext_free(void *addr, void *opaque)
{
	free(addr);
	free(opaque);
}

/* An mbuf whose data is exactly @len bytes of malloc'd memory. */
static struct rte_mbuf *
mbuf_exact(const uint8_t *data, uint32_t len)
{
	struct rte_mbuf_ext_shared_info *shinfo = malloc(sizeof(*shinfo));
	struct rte_mbuf *m = rte_pktmbuf_alloc(mbufs);
	uint8_t *buf = malloc(len);

	FUZZ_CHECK(m != NULL && shinfo != NULL && buf != NULL, "out of mbufs or memory");
	memcpy(buf, data, len);
	shinfo->free_cb = ext_free;
	shinfo->fcb_opaque = shinfo;
	rte_mbuf_ext_refcnt_set(shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, buf, (rte_iova_t)(uintptr_t)buf, (uint16_t)len, shinfo);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
}

/* An ordinary mbuf of the pool holding @len <= DATA_ROOM bytes. */
static struct rte_mbuf *
mbuf_room(const uint8_t *data, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mbufs);
	char *p;

	FUZZ_CHECK(m != NULL, "out of mbufs");
	p = rte_pktmbuf_append(m, (uint16_t)len);
	FUZZ_CHECK(p != NULL, "append %u", len);
	memcpy(p, data, len);
	return m;
}

/* The frame @data in an mbuf or chain, as @fl says (see the top of the file). */
static struct rte_mbuf *
build_mbuf(uint8_t fl, const uint8_t *data, uint32_t len)
{
	unsigned int storage = fl & 3, nseg, i;
	uint32_t first, rest, each, off;
	struct rte_mbuf *head = NULL, *tail = NULL;

	if (storage == 1)
		head = mbuf_exact(data, len);
	else if (storage == 0 && len <= DATA_ROOM)
		head = mbuf_room(data, len);
	if (head == NULL) {
		nseg = 2 + ((fl >> 2) & 3);
		first = RTE_MIN(len, 6u + 10u * ((fl >> 4) & 7));
		rest = len - first;
		while ((rest + nseg - 2) / (nseg - 1) > DATA_ROOM)
			nseg++;
		each = (rest + nseg - 2) / (nseg - 1);
		for (i = 0, off = 0; i < nseg; i++) {
			uint32_t n = i == 0 ? first : RTE_MIN(each, len - off);
			struct rte_mbuf *m = storage == 3 && i % 2 == 0 ? mbuf_exact(data + off, n)
									: mbuf_room(data + off, n);

			off += n;
			if (head == NULL) {
				head = m;
			} else {
				tail->next = m;
				head->nb_segs++;
				head->pkt_len += n;
			}
			tail = m;
		}
		FUZZ_CHECK(off == len && rte_pktmbuf_pkt_len(head) == len, "chain of %u for %u",
			   off, len);
	}
	if (fl & 0x80)
		head->pkt_len += 64;
	return head;
}

/* The frame's bytes equal @data: the library must not modify mbufs. */
static void
check_unmodified(const struct rte_mbuf *m, const uint8_t *data, uint32_t len)
{
	uint32_t off = 0;

	for (; m != NULL; m = m->next) {
		FUZZ_CHECK(off + m->data_len <= len && memcmp(rte_pktmbuf_mtod(m, const uint8_t *),
							      data + off, m->data_len) == 0,
			   "reasm_assemble_burst modified an mbuf's data");
		off += m->data_len;
	}
	FUZZ_CHECK(off == len, "reasm_assemble_burst changed a frame's length");
}

/* ---- synthesized frames --------------------------------------------- */

#define SYN_HDR_MAX (14 + 4 + 40 + 24 + 20)

/* Ethernet [+ 802.1Q] + IPv4 (options) or IPv6 (dest-opts) + TCP with correct lengths. */
static uint32_t
synth_headers(uint8_t k, uint8_t flags, uint32_t seq, uint32_t plen, uint8_t *h)
{
	unsigned int flow = (k & 15) % 12;
	bool v6 = flow % 3 == 2, vlan = k & 0x10, ext = k & 0x20;
	uint32_t off = 12, ip, tcp;

	memset(h, 0, SYN_HDR_MAX);
	h[5] = 1;
	h[11] = 2;
	if (vlan) {
		h[off++] = 0x81;
		h[off++] = 0x00;
		h[off++] = 0;
		h[off++] = 7;
	}
	h[off++] = v6 ? 0x86 : 0x08;
	h[off++] = v6 ? 0xdd : 0x00;
	ip = off;
	if (!v6) {
		uint32_t ihl = ext ? 24 : 20, total = ihl + 20 + plen;

		h[ip] = (uint8_t)(0x40 | ihl / 4);
		h[ip + 2] = (uint8_t)(total >> 8);
		h[ip + 3] = (uint8_t)total;
		h[ip + 8] = 64;
		h[ip + 9] = 6;
		h[ip + 12] = 10;
		h[ip + 15] = (uint8_t)(1 + flow / 2);
		h[ip + 16] = 10;
		h[ip + 19] = (uint8_t)(100 + flow % 2);
		if (ext)
			h[ip + 20] = 1; /* NOP x3, end */
		tcp = ip + ihl;
	} else {
		uint32_t plen6 = (ext ? 8 : 0) + 20 + plen;

		h[ip] = 0x60;
		h[ip + 4] = (uint8_t)(plen6 >> 8);
		h[ip + 5] = (uint8_t)plen6;
		h[ip + 6] = ext ? 60 : 6;
		h[ip + 7] = 64;
		h[ip + 8] = 0x20;
		h[ip + 23] = (uint8_t)(1 + flow / 2);
		h[ip + 24] = 0x20;
		h[ip + 39] = (uint8_t)(100 + flow % 2);
		tcp = ip + 40;
		if (ext) {
			h[tcp] = 6; /* next header TCP, length 0 = 8 bytes, PadN */
			h[tcp + 2] = 1;
			h[tcp + 3] = 4;
			tcp += 8;
		}
	}
	h[tcp] = 0x30;
	h[tcp + 1] = (uint8_t)(0x39 + flow % 2);
	h[tcp + 2] = 0x00;
	h[tcp + 3] = (uint8_t)(0x50 + flow % 2);
	h[tcp + 4] = (uint8_t)(seq >> 24);
	h[tcp + 5] = (uint8_t)(seq >> 16);
	h[tcp + 6] = (uint8_t)(seq >> 8);
	h[tcp + 7] = (uint8_t)seq;
	h[tcp + 12] = 0x50;
	h[tcp + 13] = flags;
	return tcp + 20;
}

/* ---- operations ------------------------------------------------------ */

struct frame {
	uint8_t *copy; /* the frame's bytes (for check_unmodified) */
	uint32_t len;
};

static void
op_burst(struct fuzz_rig *rig, struct fin *in, uint64_t *now, bool synth)
{
	struct rte_mbuf *pkts[MAX_BURST];
	struct frame frames[MAX_BURST];
	uint64_t ts[MAX_BURST];
	unsigned int n = 1 + fin_u8(in) % MAX_BURST, got = 0, i, flows_ok = 0, tcp;
	struct reasm_stats before, after;
	struct reasm_assembler *a = fuzz_cur(rig);
	uint64_t datagrams;

	for (i = 0; i < n && in->n > 0; i++) {
		uint8_t fl, *buf;
		uint32_t len;
		size_t plen;

		if (synth) {
			uint8_t k = fin_u8(in), flags = fin_u8(in), dt = fin_u8(in);
			uint32_t seq = fin_u32(in);
			uint8_t hdr[SYN_HDR_MAX];
			const uint8_t *payload = fin_bytes(in, RTE_MIN(fin_u16(in), 65000), &plen);
			uint32_t hlen = synth_headers(k, flags, seq, (uint32_t)plen, hdr);

			fl = (uint8_t)((k >> 6) | 0x0c);
			len = hlen + (uint32_t)plen;
			buf = malloc(len);
			FUZZ_CHECK(buf != NULL, "malloc");
			memcpy(buf, hdr, hlen);
			memcpy(buf + hlen, payload, plen);
			ts[got] = fuzz_clock_step(now, (int8_t)dt, MS);
		} else {
			uint8_t dt;
			const uint8_t *p;

			fl = fin_u8(in);
			dt = fin_u8(in);
			p = fin_bytes(in, fin_u16(in), &plen);
			len = (uint32_t)plen;
			buf = malloc(len + 1);
			FUZZ_CHECK(buf != NULL, "malloc");
			memcpy(buf, p, len);
			ts[got] = fuzz_clock_step(now, (int8_t)dt, MS);
		}
		pkts[got] = build_mbuf(fl, buf, len);
		frames[got].copy = buf;
		frames[got].len = len;
		got++;
	}
	if (got == 0)
		return;
	for (i = 0; i < got; i++) {
		struct reasm_flow f;

		if (rig->ts_null)
			ts[i] = *now;
		fuzz_note_ts(ts[i]);
		if (reasm_flow_of_mbuf(pkts[i], &f) == 0)
			flows_ok++;
	}
	reasm_assembler_stats(a, &before);
	tcp = reasm_assemble_burst(a, pkts, (uint16_t)got, rig->ts_null ? NULL : ts, *now);
	reasm_assembler_stats(a, &after);
	FUZZ_CHECK(tcp == CTR(after, pkts_tcp) - CTR(before, pkts_tcp),
		   "burst returned %u, pkts_tcp grew by %llu", tcp,
		   (unsigned long long)(CTR(after, pkts_tcp) - CTR(before, pkts_tcp)));
	FUZZ_CHECK(CTR(after, pkts) - CTR(before, pkts) == got, "burst of %u counted %llu pkts",
		   got, (unsigned long long)(CTR(after, pkts) - CTR(before, pkts)));
	FUZZ_CHECK(CTR(after, segs) - CTR(before, segs) == tcp, "%u TCP frames gave %llu segs", tcp,
		   (unsigned long long)(CTR(after, segs) - CTR(before, segs)));
	/* reasm.h: "0 ... if the frame is a TCP segment the burst entry point would assemble";
	 * a fragment completing a TCP datagram is assembled too, but has no key of its own. */
	datagrams = CTR(after, defrag_datagrams) - CTR(before, defrag_datagrams);
	FUZZ_CHECK(
		(tcp >= flows_ok && tcp - flows_ok <= datagrams) || fuzz_allowed("flow_of_mbuf"),
		"burst assembled %u frames (%llu datagrams completed), reasm_flow_of_mbuf accepts %u",
		tcp, (unsigned long long)datagrams, flows_ok);
	for (i = 0; i < got; i++) {
		check_unmodified(pkts[i], frames[i].copy, frames[i].len);
		rte_pktmbuf_free(pkts[i]);
		free(frames[i].copy);
	}
	fuzz_check(rig, "burst");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = {data, size};
	struct fuzz_rig rig;
	uint64_t now = UINT64_C(1) << 40;

	fuzz_rig_setup(&rig, &in);
	fuzz_check(&rig, "setup");
	while (in.n > 0) {
		uint8_t op = fin_u8(&in) % 16;

		if (op < 8) {
			op_burst(&rig, &in, &now, false);
		} else if (op < 10) {
			op_burst(&rig, &in, &now, true);
		} else if (op < 12) {
			uint64_t t = now;

			fuzz_flush_older(&rig,
					 fuzz_clock_step(&t, -(int64_t)(int8_t)fin_u8(&in), MS));
		} else if (op == 12) {
			fuzz_flush_all(&rig);
		} else if (op == 13) {
			fuzz_check_top(&rig);
		} else if (op == 14) {
			if (fin_u8(&in) % 8 == 7)
				fuzz_retire(&rig);
			else
				fuzz_switch(&rig);
		} else {
			fuzz_clock_step(&now, (int8_t)fin_u8(&in), 1000 * MS);
		}
		rig.ops++;
	}
	fuzz_rig_teardown(&rig);
	return 0;
}
