/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * libFuzzer harness for the single-segment entry point, reasm_assemble().
 *
 * Covers: the assembler on 12 flows (IPv4 and IPv6) with sequence numbers,
 * flags (SYN/FIN/RST), payloads and timestamps from the input: in-order,
 * out-of-order, overlapping and wholly old data, sequence wrap, page limits per
 * connection and in total, page mempool exhaustion, a full connection table,
 * streams closed and reopened, flushes between segments, one or two assemblers
 * on a shared pool. Invariants of fuzz_common.h after every operation, plus
 * reasm_assemble's return value against the counters.
 *
 * Reference check (header byte c6 bit 0, "consistent" mode): every payload byte
 * at sequence number s of flow k is g(k, s), the same whichever segment carries
 * it, and SYNs carry no payload. The harness then knows the sequence number of
 * every delivered byte of a stream whose start it can place (a SYN; skip -1
 * data from the segment being assembled, or from a page, found among the
 * segments sent) from the records alone (skip > 0 moves forward by skip), and
 * checks each byte is g(k, s): no byte delivered twice, out of order, from the
 * wrong page or the wrong offset, whatever the limits and flushes did.
 *
 * Input: the header of fuzz_common.h; c6 (bit 0 consistent mode); base u32 LE
 * (flow k starts its sequence cursor at base + k * 0x13579bdf); then
 * operations until the input ends, each an op byte (op % 8):
 *   0-4  segment: [k u8][fl u8][d i16 LE][len u16 LE][dt i8], then
 *        [seq u32 LE] if fl bits 4-5 == 1, then len payload bytes (raw mode
 *        only; consistent mode generates them)
 *   5    reasm_flush_older_than(now - (i8) u8 ms)
 *   6    reasm_flush_all
 *   7    u8 % 8: 1 the other assembler takes the next operations, 2 clock +=
 *        (i8) u8 s, 7 the current one of two assemblers is freed mid-input (the
 *        other carries on), else reasm_assembler_top_conns
 * k % 12: the flow. fl: bits 0-2 FIN, SYN, RST when bit 3 is set (no flags
 * otherwise); bits 4-5 sequence: 0 cursor + d, 1 the u32 given, 2 cursor +
 * d * 1900, 3 base of the flow + d; bit 6 leaves the cursor where it is
 * (otherwise it moves past the segment). len: & 0x3fff if bit 15 is set, else & 0x7ff.
 */
#include "fuzz_common.h"

#define NKEYS 12
#define HIST 64
#define MS 1000000ull

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	fuzz_eal_init((*argv)[0]);
	return 0;
}

static struct reasm_flow keys[NKEYS];
static bool consistent;

/* The segment being assembled, for the callbacks. */
static struct {
	bool valid;
	int key;
	uint32_t seq;
	uint8_t flags;
	const uint8_t *payload;
	uint32_t len;
} cur;

/* Segments sent per flow (the newest HIST): where a page's bytes may come from. */
static struct {
	uint32_t seq[HIST];
	uint32_t len[HIST];
	unsigned int n;
} hist[NKEYS];

static void
make_keys(void)
{
	int k;

	for (k = 0; k < NKEYS; k++) {
		uint8_t src[16] = {0}, dst[16] = {0};
		uint16_t sport = (uint16_t)(40000 + k), dport = (uint16_t)(80 + k % 2);

		if (k % 3 == 2) {
			src[0] = dst[0] = 0x20;
			src[15] = (uint8_t)(1 + k);
			dst[15] = 200;
			reasm_flow_ipv6(&keys[k], src, dst, sport, dport);
		} else {
			src[0] = dst[0] = 10;
			src[3] = (uint8_t)(1 + k);
			dst[3] = 200;
			reasm_flow_ipv4(&keys[k], src, dst, sport, dport);
		}
	}
}

static int
key_of(const struct reasm_flow *flow)
{
	int k;

	for (k = 0; k < NKEYS; k++)
		if (memcmp(&keys[k], flow, sizeof(*flow)) == 0)
			return k;
	FUZZ_CHECK(0, "open() for a flow never sent");
	return -1;
}

/* 64 Ki random bytes (fixed) twice over, for g(). */
static uint8_t noise[2 << 16];

static void
make_noise(void)
{
	uint32_t x = 0x12345678, i;

	for (i = 0; i < 1u << 16; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		noise[i] = noise[i + (1u << 16)] = (uint8_t)(x >> 11);
	}
}

/*
 * The byte at sequence @s of flow @k in consistent mode: a byte of the noise
 * table, chosen by the low 16 bits of s and by k, xor a byte made of the high
 * 16 bits. Two positions less than 2^16 apart, or of two flows, or 2^16 apart,
 * differ with probability 255/256 per byte.
 */
static inline uint32_t
g_index(int k, uint32_t s)
{
	return (s + (uint32_t)k * 7919u) & 0xffff;
}

static inline uint8_t
g_high(uint32_t s)
{
	uint32_t hi = s >> 16;

	return (uint8_t)(hi * 0x9du + (hi >> 8) * 0x3bu);
}

static inline uint8_t
g(int k, uint32_t s)
{
	return noise[g_index(k, s)] ^ g_high(s);
}

/*
 * The byte loops below run over every payload byte: they are neither
 * coverage-instrumented nor checked by ASan (cb_reassembled has already read
 * every delivered byte through fuzz_read_all, which ASan checks).
 */
#if defined(__clang__) && __clang_major__ >= 13
#define BYTE_LOOP __attribute__((no_sanitize("coverage", "address", "undefined"), noinline))
#else
#define BYTE_LOOP
#endif

/* Bytes from @pos to the end of its 2^16 block, at most @n. */
static inline uint32_t
block_left(uint32_t pos, uint32_t n)
{
	uint32_t left = 0x10000 - (pos & 0xffff);

	return n < left ? n : left;
}

/* The first byte of @n at @p that is not the flow's, or @n. */
static BYTE_LOOP uint32_t
mismatch(int k, uint32_t pos, const uint8_t *p, uint32_t n)
{
	uint32_t done = 0;

	while (done < n) {
		uint32_t c = block_left(pos + done, n - done), i;
		const uint8_t *t = noise + g_index(k, pos + done);
		uint8_t x = g_high(pos + done), diff = 0;

		for (i = 0; i < c; i++) /* vectorized: no early exit */
			diff |= p[done + i] ^ t[i] ^ x;
		if (diff != 0)
			for (i = 0; i < c; i++)
				if ((p[done + i] ^ t[i] ^ x) != 0)
					return done + i;
		done += c;
	}
	return n;
}

static BYTE_LOOP void
generate(int k, uint32_t pos, uint8_t *p, uint32_t n)
{
	uint32_t done = 0;

	while (done < n) {
		uint32_t c = block_left(pos + done, n - done), i;
		const uint8_t *t = noise + g_index(k, pos + done);
		uint8_t x = g_high(pos + done);

		for (i = 0; i < c; i++)
			p[done + i] = t[i] ^ x;
		done += c;
	}
}

static bool
matches(int k, uint32_t pos, const struct reasm_record *r, uint32_t n)
{
	return mismatch(k, pos, r->bytes, n) == n;
}

/* Where the first record of a stream (skip -1) starts; false if unknown. */
static bool
locate(int k, const struct reasm_record *r, uint32_t *pos)
{
	uintptr_t b = (uintptr_t)r->bytes, p = (uintptr_t)cur.payload;
	uint32_t n = RTE_MIN(r->len, 32u), found = 0;
	unsigned int i, m;

	if (cur.valid && cur.key == k && b >= p && b <= p + cur.len) {
		*pos = cur.seq + (uint32_t)(b - p);
		return true;
	}
	if (r->len < 4)
		return false;
	for (i = 0; i < hist[k].n && i < HIST; i++)
		for (m = 0; m * REASM_PAGE_BYTES < RTE_MAX(hist[k].len[i], 1u); m++) {
			uint32_t c = hist[k].seq[i] + m * REASM_PAGE_BYTES;

			if (matches(k, c, r, n)) {
				if (found > 0 && c != *pos)
					return false; /* ambiguous */
				*pos = c;
				found++;
			}
		}
	return found > 0;
}

static void
on_record(struct fstream *s, const struct reasm_record *r)
{
	uint32_t pos, i;

	if (!consistent)
		return;
	if (s->nrec == 0) {
		if (r->start) {
			FUZZ_CHECK(cur.valid && cur.key == s->key && (cur.flags & REASM_TCP_SYN),
				   "stream %u: start record while assembling no SYN of its flow",
				   s->id);
			FUZZ_CHECK(r->len == 0,
				   "stream %u: start record of %u bytes from an "
				   "empty SYN",
				   s->id, r->len);
			s->pos_known = true;
			s->next_pos = cur.seq + 1;
			return;
		}
		s->pos_known = locate(s->key, r, &pos);
		if (!s->pos_known)
			return;
	} else {
		if (!s->pos_known)
			return;
		pos = s->next_pos + (r->skip > 0 ? (uint32_t)r->skip : 0);
	}
	i = mismatch(s->key, pos, r->bytes, r->len);
	FUZZ_CHECK(i == r->len,
		   "stream %u (flow %d) record %llu: byte %u (seq %u) is %#x, the flow has %#x "
		   "there (skip %lld, len %u)",
		   s->id, s->key, (unsigned long long)s->nrec, i, pos + i, r->bytes[i],
		   g(s->key, pos + i), (long long)r->skip, r->len);
	s->next_pos = pos + r->len;
}

static void
op_segment(struct fuzz_rig *rig, struct fin *in, uint64_t *now, const uint32_t *base,
	   uint32_t *cursor)
{
	int k = fin_u8(in) % NKEYS;
	uint8_t fl = fin_u8(in);
	int16_t d = (int16_t)fin_u16(in);
	uint32_t len = fin_u16(in);
	int8_t dt = (int8_t)fin_u8(in);
	struct reasm_segment seg = {0};
	struct reasm_stats before, after;
	struct reasm_assembler *a = fuzz_cur(rig);
	uint8_t *payload;
	uint64_t ts;
	int rc;

	len = (len & 0x8000) ? len & 0x3fff : len & 0x7ff; /* half of them under 2 KiB */
	seg.flags = (fl & 8) ? fl & 7 : 0;
	switch ((fl >> 4) & 3) {
	case 0:
		seg.seq = cursor[k] + (uint32_t)(int32_t)d;
		break;
	case 1:
		seg.seq = fin_u32(in);
		break;
	case 2:
		seg.seq = cursor[k] + (uint32_t)((int32_t)d * REASM_PAGE_BYTES);
		break;
	default:
		seg.seq = base[k] + (uint32_t)(int32_t)d;
		break;
	}
	if (consistent && (seg.flags & REASM_TCP_SYN))
		len = 0;
	if (!consistent) {
		size_t got;
		const uint8_t *p = fin_bytes(in, len, &got);

		len = (uint32_t)got;
		payload = malloc(len); /* exact size: ASan sees a read past the end */
		FUZZ_CHECK(payload != NULL, "malloc");
		memcpy(payload, p, len);
	} else {
		payload = malloc(len);
		FUZZ_CHECK(payload != NULL, "malloc");
		generate(k, seg.seq, payload, len);
	}
	seg.payload = payload;
	seg.len = len;
	if (!(fl & 0x40))
		cursor[k] = seg.seq + len + ((seg.flags & REASM_TCP_SYN) ? 1 : 0);
	hist[k].seq[hist[k].n % HIST] = seg.seq;
	hist[k].len[hist[k].n % HIST] = len;
	hist[k].n++;

	ts = fuzz_clock_step(now, dt, MS);
	fuzz_note_ts(ts);
	cur.valid = true;
	cur.key = k;
	cur.seq = seg.seq;
	cur.flags = seg.flags;
	cur.payload = payload;
	cur.len = len;
	reasm_assembler_stats(a, &before);
	rc = reasm_assemble(a, &keys[k], &seg, ts);
	reasm_assembler_stats(a, &after);
	cur.valid = false;
	free(payload);

	FUZZ_CHECK(CTR(after, segs) - CTR(before, segs) == 1, "one segment, segs +%llu",
		   (unsigned long long)(CTR(after, segs) - CTR(before, segs)));
	FUZZ_CHECK(CTR(after, payload_bytes) - CTR(before, payload_bytes) == len,
		   "payload_bytes +%llu for %u bytes",
		   (unsigned long long)(CTR(after, payload_bytes) - CTR(before, payload_bytes)),
		   len);
	if (rc == -ENOSPC)
		FUZZ_CHECK(CTR(after, table_full_pkts) - CTR(before, table_full_pkts) == 1 &&
				   reasm_pool_count(rig->pool) == rig->max_conns,
			   "-ENOSPC but table_full_pkts +%llu, %u of %u streams open",
			   (unsigned long long)(CTR(after, table_full_pkts) -
						CTR(before, table_full_pkts)),
			   reasm_pool_count(rig->pool), rig->max_conns);
	else
		FUZZ_CHECK(rc == 0 && CTR(after, table_full_pkts) == CTR(before, table_full_pkts),
			   "reasm_assemble returned %d", rc);
	fuzz_check(rig, "segment");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = {data, size};
	struct fuzz_rig rig;
	uint64_t now = UINT64_C(1) << 40;
	uint32_t base[NKEYS], cursor[NKEYS], b;
	int k;

	if (keys[0].family == 0) {
		make_keys();
		make_noise();
	}
	fuzz_rig_setup(&rig, &in);
	S.key_of = key_of;
	S.on_record = on_record;
	consistent = fin_u8(&in) & 1;
	b = fin_u32(&in);
	memset(hist, 0, sizeof(hist));
	for (k = 0; k < NKEYS; k++)
		base[k] = cursor[k] = b + (uint32_t)k * 0x13579bdfu;
	fuzz_check(&rig, "setup");
	while (in.n > 0) {
		uint8_t op = fin_u8(&in) % 8, sub;

		if (op < 5) {
			op_segment(&rig, &in, &now, base, cursor);
		} else if (op == 5) {
			uint64_t t = now;

			fuzz_flush_older(&rig,
					 fuzz_clock_step(&t, -(int64_t)(int8_t)fin_u8(&in), MS));
		} else if (op == 6) {
			fuzz_flush_all(&rig);
		} else {
			sub = fin_u8(&in) % 8;
			if (sub == 1)
				fuzz_switch(&rig);
			else if (sub == 2)
				fuzz_clock_step(&now, (int8_t)fin_u8(&in), 1000 * MS);
			else if (sub == 7)
				fuzz_retire(&rig);
			else
				fuzz_check_top(&rig);
		}
		rig.ops++;
	}
	fuzz_rig_teardown(&rig);
	return 0;
}
