/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * pcap:DIR[,max-open=N][,queue=BYTES] -- the packets of each TCP connection
 * in its own pcap file, what people ask tcpdump and tcpflow for.
 *
 *   - one file per connection (both directions), "LO-HI.pcap" with LO and HI
 *     its two endpoints as the files sink names them (tcpflow style), LO the
 *     one that sorts first by address bytes, then port (the Community ID's
 *     order); a reused 4-tuple goes on in the same file; zones are not in
 *     the name;
 *   - every frame the library parses as a TCP segment (reasm_flow_of_mbuf():
 *     pure ACKs and tunnelled frames included) is written whole, as
 *     received, with its time: classic pcap, nanosecond timestamps
 *     (magic 0xa1b23c4d), Ethernet; other frames, IP fragments among them,
 *     are counted (pcap_not_tcp) and not written;
 *   - workers never touch a file: each copies its frames into its own
 *     bounded queue (queue=BYTES, default 4 MiB) and goes on; what does not
 *     fit is counted (pcap_dropped). One writer thread drains the queues into
 *     the files, so a slow or full disk costs the workers nothing but counted
 *     loss;
 *   - the writer keeps at most max-open files open (default 64), each with a
 *     64 KiB buffer taken at start-up. A connection whose file is not open
 *     closes the least recently used one (pcap_files_closed_lru) and opens its
 *     own for appending: a file that exists is appended to
 *     (pcap_files_reopened) after its header is checked to be this format; one
 *     that is not, or cannot be opened, gets nothing and counts a write error
 *     per frame. Buffers are written when full, when their file is closed, and
 *     when the queues have been empty for a second (files are then complete
 *     up to the last frame), and at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "sink.h"

#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_SNAPLEN 262144u
#define PCAP_LINKTYPE_ETHERNET 1u
#define PCAP_FILE_BUF (64u * 1024)
#define PCAP_DEFAULT_MAX_OPEN 64u
#define PCAP_MAX_OPEN_LIMIT 65536u
#define PCAP_DEFAULT_QUEUE (4u << 20)
#define PCAP_MIN_QUEUE (256u << 10)
#define PCAP_MAX_QUEUE (1u << 30)
#define PCAP_NAME_MAX 128
#define PCAP_MAX_IOV 256
/* The writer's nap when every queue is empty, and after how many naps it writes its buffers. */
#define PCAP_IDLE_NS 1000000
#define PCAP_IDLE_FLUSH 1000

struct pcap_global_header {
	uint32_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

struct pcap_record_header {
	uint32_t ts_sec;
	uint32_t ts_nsec;
	uint32_t incl_len;
	uint32_t orig_len;
};

static const struct pcap_global_header pcap_header = {
	PCAP_MAGIC_NS, 2, 4, 0, 0, PCAP_SNAPLEN, PCAP_LINKTYPE_ETHERNET,
};

/* A frame in a worker's queue (struct sink_queue); its bytes follow. */
struct pcap_qrec {
	uint64_t ts;
	uint32_t frame_len;
	uint32_t pad;
	struct reasm_flow key; /* the connection: src = LO, dst = HI, zone 0 */
};

/* A worker's queue to the writer, and the counters of its frames. */
struct pcap_queue {
	struct sink_queue q;
	struct sink_pcap_counters wctr __attribute__((aligned(64))); /* the worker's */
	struct sink_pcap_counters ctr __attribute__((aligned(64)));  /* the writer's */
} __attribute__((aligned(64)));

/* One open file: a connection's, in the writer's table and LRU list. */
struct pcap_file {
	struct reasm_flow key;
	int fd;        /* -errno: the file could not be used; its frames are dropped */
	uint32_t used; /* bytes in buf */
	uint8_t *buf;
	struct pcap_file *hnext; /* hash chain */
	struct pcap_file *newer, *older;
};

struct pcap_state {
	int dir_fd;
	uint32_t max_open;
	uint64_t queue_bytes;
	unsigned int n_workers;
	struct pcap_queue *queues; /* one per worker */
	/* The writer thread's own. */
	struct sink_thread writer; /* stopped by finish once every worker is done */
	struct pcap_file *slots;   /* max_open */
	struct pcap_file **buckets;
	uint32_t bucket_mask;
	uint32_t n_open;
	struct pcap_file *newest, *oldest;
	uint8_t *bufs;
	bool error_printed;
};

/* ---- keys and names --------------------------------------------------- */

/* The connection of direction @p f: the endpoint that sorts first as src, zone 0. */
static void
connection_key(const struct reasm_flow *f, struct reasm_flow *key)
{
	size_t alen = f->family == REASM_FAMILY_IPV6 ? 16 : 4;
	int c = memcmp(f->src_addr, f->dst_addr, alen);

	if (c < 0 || (c == 0 && f->src_port <= f->dst_port)) {
		*key = *f;
	} else {
		key->family = f->family;
		memcpy(key->src_addr, f->dst_addr, sizeof(key->src_addr));
		memcpy(key->dst_addr, f->src_addr, sizeof(key->dst_addr));
		key->src_port = f->dst_port;
		key->dst_port = f->src_port;
	}
	memset(key->zone, 0, sizeof(key->zone));
}

static void
file_name(const struct reasm_flow *key, char *buf, size_t size)
{
	struct sink_line l = {buf, size, 0, false};

	sink_line_endpoint(&l, key->family, key->src_addr, key->src_port);
	sink_line_append(&l, "-");
	sink_line_endpoint(&l, key->family, key->dst_addr, key->dst_port);
	sink_line_append(&l, ".pcap");
}

/* ---- the writer's files ------------------------------------------------ */

/* A failed write or open of @p key's file: counted for @p q's worker; said once. */
static void
pcap_error(struct sink *k, struct pcap_queue *q, const struct reasm_flow *key, int err)
{
	struct pcap_state *ps = k->state;
	char name[PCAP_NAME_MAX];

	sink_counter_add(&q->ctr.write_errors, 1);
	if (ps->error_printed)
		return;
	ps->error_printed = true;
	file_name(key, name, sizeof(name));
	fprintf(stderr, "reasm: pcap sink: %s/%s: %s (further errors only counted)\n", k->arg, name,
		err == EEXIST ? "exists and is not a pcap file of this format" : strerror(err));
}

/* Write what @p pf buffered; false if the write failed. */
static bool
flush_file(struct pcap_file *pf, int *err)
{
	int rc;

	if (pf->used == 0 || pf->fd < 0)
		return true;
	rc = sink_write_all(pf->fd, pf->buf, pf->used);
	pf->used = 0;
	*err = -rc;
	return rc == 0;
}

/*
 * Open (or create) @p key's file for appending. A new file gets the header;
 * an existing one must start with it (EEXIST otherwise). The fd, or -errno.
 */
static int
open_file(struct pcap_state *ps, struct pcap_queue *q, const struct reasm_flow *key)
{
	char name[PCAP_NAME_MAX];
	struct pcap_global_header h;
	struct stat sb;
	int fd, err = 0;

	file_name(key, name, sizeof(name));
	fd = openat(__atomic_load_n(&ps->dir_fd, __ATOMIC_ACQUIRE), name,
		    O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		err = errno;
	} else if (sb.st_size == 0) {
		err = -sink_write_all(fd, &pcap_header, sizeof(pcap_header));
		if (err == 0)
			sink_counter_add(&q->ctr.files_created, 1);
	} else if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		   memcmp(&h, &pcap_header, sizeof(h)) != 0) {
		err = EEXIST; /* a file that is not ours: never append to it */
	} else {
		sink_counter_add(&q->ctr.files_reopened, 1);
	}
	if (err == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -err;
}

static void
lru_unlink(struct pcap_state *ps, struct pcap_file *pf)
{
	if (pf->newer != NULL)
		pf->newer->older = pf->older;
	else
		ps->newest = pf->older;
	if (pf->older != NULL)
		pf->older->newer = pf->newer;
	else
		ps->oldest = pf->newer;
	pf->newer = pf->older = NULL;
}

static void
lru_push_newest(struct pcap_state *ps, struct pcap_file *pf)
{
	pf->older = ps->newest;
	pf->newer = NULL;
	if (ps->newest != NULL)
		ps->newest->newer = pf;
	ps->newest = pf;
	if (ps->oldest == NULL)
		ps->oldest = pf;
}

static struct pcap_file **
bucket_of(struct pcap_state *ps, const struct reasm_flow *key)
{
	return &ps->buckets[reasm_flow_hash(key) & ps->bucket_mask];
}

/* Close @p pf (writing its buffer): false, with *err, if that write failed. */
static bool
close_file(struct pcap_file *pf, int *err)
{
	bool ok = flush_file(pf, err);

	if (pf->fd >= 0 && close(pf->fd) < 0 && errno != EINTR && ok) {
		*err = errno;
		ok = false;
	}
	pf->fd = -EBADF;
	return ok;
}

/* Close the least recently used file and take its slot out of the table. */
static struct pcap_file *
evict_oldest(struct sink *k, struct pcap_queue *q)
{
	struct pcap_state *ps = k->state;
	struct pcap_file *pf = ps->oldest, **pp;
	int err;

	if (!close_file(pf, &err))
		pcap_error(k, q, &pf->key, err);
	lru_unlink(ps, pf);
	for (pp = bucket_of(ps, &pf->key); *pp != pf; pp = &(*pp)->hnext)
		;
	*pp = pf->hnext;
	ps->n_open--;
	sink_counter_add(&q->ctr.files_closed_lru, 1);
	return pf;
}

/* @p key's open file, opening it (and closing the oldest at the bound) if needed. */
static struct pcap_file *
file_of(struct sink *k, struct pcap_queue *q, const struct reasm_flow *key)
{
	struct pcap_state *ps = k->state;
	struct pcap_file **head = bucket_of(ps, key), *pf;

	for (pf = *head; pf != NULL; pf = pf->hnext)
		if (memcmp(&pf->key, key, sizeof(*key)) == 0) {
			if (pf != ps->newest) {
				lru_unlink(ps, pf);
				lru_push_newest(ps, pf);
			}
			return pf;
		}
	if (ps->n_open == ps->max_open)
		pf = evict_oldest(k, q);
	else
		pf = &ps->slots[ps->n_open];
	pf->key = *key;
	pf->used = 0;
	pf->fd = open_file(ps, q, key);
	pf->hnext = *head;
	*head = pf;
	lru_push_newest(ps, pf);
	ps->n_open++;
	return pf;
}

/* Append the frame of @p r to its file (through the file's buffer). */
static void
write_record(struct sink *k, struct pcap_queue *q, const struct pcap_qrec *r)
{
	struct pcap_file *pf = file_of(k, q, &r->key);
	struct pcap_record_header rh = {(uint32_t)(r->ts / 1000000000u),
					(uint32_t)(r->ts % 1000000000u), r->frame_len,
					r->frame_len};
	const uint8_t *frame = (const uint8_t *)(r + 1);
	int err = 0;

	if (pf->fd < 0) {
		pcap_error(k, q, &r->key, -pf->fd);
		return;
	}
	if (pf->used + sizeof(rh) + r->frame_len > PCAP_FILE_BUF && !flush_file(pf, &err)) {
		pcap_error(k, q, &r->key, err);
		return;
	}
	if (sizeof(rh) + r->frame_len > PCAP_FILE_BUF) {
		/* Larger than a buffer (a chained jumbo frame): straight out. */
		struct iovec iov[2] = {{&rh, sizeof(rh)}, {(void *)(uintptr_t)frame, r->frame_len}};
		ssize_t n = writev(pf->fd, iov, 2);

		if (n != (ssize_t)(sizeof(rh) + r->frame_len)) {
			pcap_error(k, q, &r->key, n < 0 ? errno : EIO);
			return;
		}
	} else {
		memcpy(pf->buf + pf->used, &rh, sizeof(rh));
		memcpy(pf->buf + pf->used + sizeof(rh), frame, r->frame_len);
		pf->used += sizeof(rh) + r->frame_len;
	}
	sink_counter_add(&q->ctr.pkts, 1);
	sink_counter_add(&q->ctr.bytes, r->frame_len);
}

/* Write every file's buffer (the queues were empty a while, or the run ends). */
static void
flush_all_files(struct sink *k)
{
	struct pcap_state *ps = k->state;
	struct pcap_file *pf;
	int err;

	for (pf = ps->newest; pf != NULL; pf = pf->older)
		if (!flush_file(pf, &err))
			pcap_error(k, &ps->queues[0], &pf->key, err);
}

/* ---- the queues ------------------------------------------------------------ */

static uint64_t
align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* Worker side: copy @p m into @p q; false if it does not fit (the writer is behind). */
static bool
queue_put(struct pcap_queue *q, const struct reasm_flow *key, const struct rte_mbuf *m, uint64_t ts)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	struct pcap_qrec *r = sink_queue_reserve(&q->q, (uint32_t)sizeof(*r) + len);
	uint8_t *dst;

	if (r == NULL)
		return false;
	r->ts = ts;
	r->frame_len = len;
	r->key = *key;
	dst = (uint8_t *)(r + 1);
	for (; m != NULL; m = m->next) {
		memcpy(dst, rte_pktmbuf_mtod(m, const void *), m->data_len);
		dst += m->data_len;
	}
	sink_queue_commit(&q->q);
	return true;
}

/* Writer side: write out what @p q holds; the number of frames. */
static unsigned int
queue_drain(struct sink *k, struct pcap_queue *q)
{
	const struct pcap_qrec *r;
	unsigned int n = 0;
	uint32_t len;

	while ((r = sink_queue_peek(&q->q, &len)) != NULL) {
		write_record(k, q, r);
		sink_queue_pop(&q->q);
		n++;
	}
	return n;
}

static void *
writer_main(void *arg)
{
	struct sink *k = arg;
	struct pcap_state *ps = k->state;
	const struct timespec nap = {0, PCAP_IDLE_NS};
	unsigned int idle = 0;

	for (;;) {
		bool stop = sink_thread_stopping(&ps->writer);
		unsigned int n = 0, w;

		for (w = 0; w < ps->n_workers; w++)
			n += queue_drain(k, &ps->queues[w]);
		if (n > 0) {
			idle = 0;
			continue;
		}
		if (stop)
			break;
		if (++idle == PCAP_IDLE_FLUSH)
			flush_all_files(k);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* ---- the workers' side ------------------------------------------------------ */

static void
pcap_packets(struct sink *k, unsigned int worker, struct rte_mbuf *const *pkts, const uint64_t *ts,
	     unsigned int n)
{
	struct pcap_state *ps = k->state;
	struct pcap_queue *q = &ps->queues[worker < ps->n_workers ? worker : 0];
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct reasm_flow flow, key;

		if (reasm_flow_of_mbuf(pkts[i], &flow) != 0) {
			sink_counter_add(&q->wctr.not_tcp, 1);
			continue;
		}
		connection_key(&flow, &key);
		if (!queue_put(q, &key, pkts[i], ts[i]))
			sink_counter_add(&q->wctr.dropped, 1);
	}
}

/* ---- life cycle ---------------------------------------------------------- */

static int
parse_u64_option(const char *name, const char *val, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno != 0 || end == val || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "reasm: pcap sink: %s '%s': expected %" PRIu64 "..%" PRIu64 "\n",
			name, val, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* "DIR[,max-open=N][,queue=BYTES]": cut the options off k->arg, check them. */
static int
parse_options(struct sink *k, struct pcap_state *ps)
{
	char *opt = strchr(k->arg, ',');
	uint64_t v;

	ps->max_open = PCAP_DEFAULT_MAX_OPEN;
	ps->queue_bytes = PCAP_DEFAULT_QUEUE;
	if (opt == NULL)
		return 0;
	*opt++ = '\0';
	while (opt != NULL && *opt != '\0') {
		char *next = strchr(opt, ',');

		if (next != NULL)
			*next++ = '\0';
		if (strncmp(opt, "max-open=", 9) == 0) {
			if (parse_u64_option("max-open", opt + 9, 1, PCAP_MAX_OPEN_LIMIT, &v) < 0)
				return -1;
			ps->max_open = (uint32_t)v;
		} else if (strncmp(opt, "queue=", 6) == 0) {
			if (parse_u64_option("queue", opt + 6, PCAP_MIN_QUEUE, PCAP_MAX_QUEUE, &v) <
			    0)
				return -1;
			ps->queue_bytes = align8(v);
		} else {
			fprintf(stderr,
				"reasm: pcap sink: unknown option '%s' (expected max-open=N or "
				"queue=BYTES)\n",
				opt);
			return -1;
		}
		opt = next;
	}
	return 0;
}

static int
alloc_state(struct pcap_state *ps)
{
	uint32_t nb = 1, i;
	unsigned int w;

	while (nb < 2 * ps->max_open)
		nb <<= 1;
	if (posix_memalign((void **)&ps->queues, 64, sizeof(*ps->queues) * ps->n_workers))
		return -1;
	memset(ps->queues, 0, sizeof(*ps->queues) * ps->n_workers);
	for (w = 0; w < ps->n_workers; w++)
		if (sink_queue_init(&ps->queues[w].q, ps->queue_bytes) < 0)
			return -1;
	ps->bufs = malloc((size_t)ps->max_open * PCAP_FILE_BUF);
	ps->slots = calloc(ps->max_open, sizeof(*ps->slots));
	ps->buckets = calloc(nb, sizeof(*ps->buckets));
	if (ps->bufs == NULL || ps->slots == NULL || ps->buckets == NULL)
		return -1;
	ps->bucket_mask = nb - 1;
	for (i = 0; i < ps->max_open; i++)
		ps->slots[i].buf = ps->bufs + (size_t)i * PCAP_FILE_BUF;
	return 0;
}

/* Create DIR if missing (one level), check it is a writable directory, start the writer. */
static int
pcap_open(struct sink *k)
{
	struct pcap_state *ps = calloc(1, sizeof(*ps));

	if (ps == NULL) {
		fprintf(stderr, "reasm: pcap sink: out of memory\n");
		return -1;
	}
	k->state = ps;
	ps->dir_fd = -1;
	ps->n_workers = sink_n_workers(k);
	if (parse_options(k, ps) < 0)
		return -1;
	if (k->arg[0] == '\0') {
		fprintf(stderr, "reasm: pcap sink: expected pcap:DIR[,max-open=N][,queue=BYTES]\n");
		return -1;
	}
	if (alloc_state(ps) < 0) {
		fprintf(stderr,
			"reasm: pcap sink: out of memory (%u workers x queue %" PRIu64
			" B, max-open %u x 64 KiB)\n",
			ps->n_workers, ps->queue_bytes, ps->max_open);
		return -1;
	}
	if (mkdir(k->arg, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "reasm: pcap sink: cannot create directory %s: %s\n", k->arg,
			strerror(errno));
		return -1;
	}
	ps->dir_fd = open(k->arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ps->dir_fd < 0) {
		fprintf(stderr, "reasm: pcap sink: %s: %s\n", k->arg, strerror(errno));
		return -1;
	}
	if (faccessat(ps->dir_fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		fprintf(stderr, "reasm: pcap sink: %s is not writable: %s\n", k->arg,
			strerror(errno));
		return -1;
	}
	return sink_thread_start(&ps->writer, "pcap", writer_main, k);
}

/* SIGHUP: the directory may have been moved away; take it by its name again. */
static int
pcap_reopen(struct sink *k, int *old)
{
	struct pcap_state *ps = k->state;
	int fd = open(k->arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "reasm: pcap sink: reopening %s: %s (still writing the old one)\n",
			k->arg, strerror(errno));
		return -1;
	}
	*old = __atomic_exchange_n(&ps->dir_fd, fd, __ATOMIC_ACQ_REL);
	return 0;
}

/* Every worker has stopped: drain the queues, write the buffers, close every file. */
static int
pcap_finish(struct sink *k)
{
	struct pcap_state *ps = k->state;
	struct pcap_file *pf;
	uint64_t errors = 0;
	unsigned int w;
	int err;

	sink_thread_stop(&ps->writer); /* it wrote everything queued */
	for (pf = ps->newest; pf != NULL; pf = pf->older)
		if (!close_file(pf, &err))
			pcap_error(k, &ps->queues[0], &pf->key, err);
	ps->newest = ps->oldest = NULL;
	for (w = 0; w < ps->n_workers; w++)
		errors += ps->queues[w].ctr.write_errors;
	if (errors > 0) {
		fprintf(stderr, "reasm: pcap sink: %" PRIu64 " frames not written (errors)\n",
			errors);
		return -1;
	}
	return 0;
}

static void
pcap_free(struct sink *k)
{
	struct pcap_state *ps = k->state;
	unsigned int w;

	if (ps == NULL)
		return;
	sink_thread_stop(&ps->writer);
	for (w = 0; ps->queues != NULL && w < ps->n_workers; w++)
		sink_queue_free(&ps->queues[w].q);
	free(ps->queues);
	free(ps->slots);
	free(ps->buckets);
	free(ps->bufs);
	if (ps->dir_fd >= 0)
		close(ps->dir_fd);
	free(ps);
	k->state = NULL;
}

void
sink_pcap_counters(const struct sink *k, unsigned int worker, struct sink_pcap_counters *out)
{
	const struct pcap_state *ps = k->state;
	const struct pcap_queue *q;

	if (ps == NULL || worker >= ps->n_workers)
		return;
	q = &ps->queues[worker];
	out->pkts += __atomic_load_n(&q->ctr.pkts, __ATOMIC_RELAXED);
	out->bytes += __atomic_load_n(&q->ctr.bytes, __ATOMIC_RELAXED);
	out->files_created += __atomic_load_n(&q->ctr.files_created, __ATOMIC_RELAXED);
	out->files_reopened += __atomic_load_n(&q->ctr.files_reopened, __ATOMIC_RELAXED);
	out->files_closed_lru += __atomic_load_n(&q->ctr.files_closed_lru, __ATOMIC_RELAXED);
	out->write_errors += __atomic_load_n(&q->ctr.write_errors, __ATOMIC_RELAXED);
	out->not_tcp += __atomic_load_n(&q->wctr.not_tcp, __ATOMIC_RELAXED);
	out->dropped += __atomic_load_n(&q->wctr.dropped, __ATOMIC_RELAXED);
}

const struct sink_ops sink_pcap_ops = {
	.name = "pcap",
	.arg = SINK_ARG_REQUIRED,
	.open = pcap_open,
	.packets = pcap_packets,
	.reopen = pcap_reopen,
	.finish = pcap_finish,
	.free = pcap_free,
};
