/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Output sinks of the reasm appliance (see sinks.h).
 *
 * Per-stream state (struct sink_stream) lives in the pool's preallocated
 * per-stream area, so the data path allocates nothing; the files sink
 * only calls open(2). Per-worker totals are written by their worker with
 * relaxed atomic stores and read from any thread with relaxed loads.
 *
 * files:DIR details:
 *   - a direction's file is created by its first non-empty record, so a
 *     direction that delivers no byte leaves no file;
 *   - files are never overwritten: the name is taken with O_CREAT|O_EXCL
 *     and, if it exists (the 4-tuple was reused in this run, or a file of
 *     an earlier run is there), "-2", "-3", ... is appended;
 *   - bytes are appended as delivered; skipped ranges are NOT zero-filled,
 *     so a file is the concatenation of the delivered records and file
 *     offsets are not sequence offsets once a stream skipped;
 *   - each worker keeps at most SINKS_FILES_MAX_OPEN files open; a stream
 *     that finds the budget spent opens its file (O_APPEND), writes and
 *     closes it on every data call;
 *   - if a file cannot be created, the error is counted once and the rest
 *     of that direction's data is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sha256.h"
#include "sinks.h"

/** Files a worker keeps open at once for the files sink. */
#define SINKS_FILES_MAX_OPEN 64

/** Records gathered into one writev() by the files sink. */
#define SINKS_IOV_BATCH 64

/** file_suffix values of struct sink_stream. */
#define SUFFIX_NONE 0u          /* no file yet */
#define SUFFIX_FAILED UINT32_MAX /* creation failed: data dropped */
#define SUFFIX_MAX 1000000u      /* gives up after "-999999" */

/* One worker's counters, alone on its cache line(s). */
struct sinks_worker {
	uint64_t streams;      /* written with relaxed atomic stores */
	uint64_t bytes;
	uint64_t write_errors;
	uint64_t unbalanced;   /* streams whose totals disagree with what the sinks got */
	uint64_t received;     /* sums of the completed streams' totals */
	uint64_t overlap;
	uint64_t discarded;
	unsigned int open_files; /* files sink fds held by this worker's streams */
	bool unbalanced_printed;
	bool files_err_printed;
	bool jsonl_err_printed;
} __attribute__((aligned(64)));

struct sinks {
	bool detail;           /* per-stream accounting needed (anything but count+quiet) */
	bool console;
	bool sha256;
	bool finished;
	int finish_rc;
	int dir_fd;            /* files:DIR, or -1 */
	int jsonl_fd;          /* jsonl:FILE (O_APPEND), or -1 */
	char *files_dir;
	char *jsonl_path;
	unsigned int n_workers;
	struct sinks_worker *workers;
};

/*
 * Per-stream state, in the pool's per-stream area (168 bytes, 272 with the
 * SHA-256 context).
 */
struct sink_stream {
	struct sinks *s;
	struct reasm_flow flow;
	uint64_t bytes;
	uint64_t records;
	uint64_t skips;          /* records with skip > 0 */
	uint64_t skip_unknown;   /* records with skip == -1 */
	/* bytes of positive skips by cause; [REASM_SKIP_NONE] collects skips with no valid cause */
	uint64_t skipped[REASM_SKIP_CAUSE_MAX];
	uint64_t first_seen;
	uint64_t last_seen;
	uint32_t worker;
	uint32_t file_suffix;    /* SUFFIX_NONE, SUFFIX_FAILED, 1 = bare name, n = "-n" */
	int32_t fd;              /* files sink fd held open, or -1 */
	bool start;
	bool end;
	struct sha256_ctx sha[]; /* present with --sha256 only */
};


/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

/* Owner-thread increment of a counter other threads read. */
static inline void
counter_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/* A bounded string builder: append() stops at the end, ok tells. */
struct line {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3)))
append(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= l->size - l->len) {
		l->overflow = true;
		return;
	}
	l->len += (size_t)n;
}

/*
 * An address as Go's net.IP.String() writes it: IPv4 and IPv4-mapped IPv6
 * in dotted decimal; other IPv6 in lowercase hex groups with the first
 * longest run of two or more zero groups written "::". @p buf has 40 bytes.
 */
void
sinks_format_addr(uint8_t family, const uint8_t *a, char *buf)
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	int z0 = -1, z1 = -1, i;
	char *p = buf;

	if (family == REASM_FAMILY_IPV6 && memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0)
		a += 12;
	else if (family == REASM_FAMILY_IPV6)
		goto v6;
	snprintf(buf, 40, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	return;
v6:
	for (i = 0; i < 16; i += 2) {
		int j = i;

		while (j < 16 && a[j] == 0 && a[j + 1] == 0)
			j += 2;
		if (j > i && j - i > z1 - z0) {
			z0 = i;
			z1 = j;
			i = j;
		}
	}
	if (z1 - z0 <= 2)
		z0 = z1 = -1;
	for (i = 0; i < 16; i += 2) {
		if (i == z0) {
			*p++ = ':';
			*p++ = ':';
			i = z1;
			if (i >= 16)
				break;
		} else if (i > 0) {
			*p++ = ':';
		}
		p += sprintf(p, "%x", (unsigned int)a[i] << 8 | a[i + 1]);
	}
	*p = '\0';
}

/* One end of a files-sink name: "SSS.SSS.SSS.SSS.PPPPP" or 8 hex groups + port. */
static void
append_file_endpoint(struct line *l, uint8_t family, const uint8_t *a, uint16_t port)
{
	int i;

	if (family == REASM_FAMILY_IPV6) {
		for (i = 0; i < 16; i += 2)
			append(l, "%04x.", (unsigned int)a[i] << 8 | a[i + 1]);
	} else {
		for (i = 0; i < 4; i++)
			append(l, "%03u.", a[i]);
	}
	append(l, "%05u", port);
}

/* The file name of @p st with suffix @p suffix (1 = none). */
static void
file_name(const struct sink_stream *st, uint32_t suffix, char *buf, size_t size)
{
	struct line l = {buf, size, 0, false};

	append_file_endpoint(&l, st->flow.family, st->flow.src_addr, st->flow.src_port);
	append(&l, "-");
	append_file_endpoint(&l, st->flow.family, st->flow.dst_addr, st->flow.dst_port);
	if (suffix > 1)
		append(&l, "-%" PRIu32, suffix);
}

/* Write all of @p iov; -errno on failure. May modify @p iov. */
static int
writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t n = writev(fd, iov, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Count a write error of worker @p w; print the first one of each output. */
static void
write_error(struct sinks_worker *w, bool *printed, const char *what, const char *dir,
	    const char *name, int err)
{
	counter_add(&w->write_errors, 1);
	if (*printed)
		return;
	*printed = true;
	fprintf(stderr, "reasm: %s sink: %s%s%s: %s (further errors of this worker only counted)\n",
		what, dir, name ? "/" : "", name ? name : "", strerror(err));
}

/* ------------------------------------------------------------------ */
/* files:DIR                                                            */
/* ------------------------------------------------------------------ */

/* Create the stream's file under a free name; the fd or -errno. */
static int
files_create(struct sinks *s, struct sink_stream *st, char *name, size_t size)
{
	uint32_t suffix;

	for (suffix = 1; suffix < SUFFIX_MAX; suffix++) {
		int fd;

		file_name(st, suffix, name, size);
		fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
			    0644);
		if (fd >= 0) {
			st->file_suffix = suffix;
			return fd;
		}
		if (errno == EINTR) {
			suffix--;
			continue;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

static void
files_write(struct sink_stream *st, const struct reasm_record *records, unsigned int n)
{
	struct sinks *s = st->s;
	struct sinks_worker *w = &s->workers[st->worker];
	struct iovec iov[SINKS_IOV_BATCH];
	char name[160];
	bool transient = false;
	unsigned int i = 0;
	int fd = st->fd;
	int rc = 0;

	if (st->file_suffix == SUFFIX_FAILED)
		return;
	while (i < n && records[i].len == 0)
		i++;
	if (i == n)
		return;
	name[0] = '\0';
	if (fd < 0) {
		if (st->file_suffix == SUFFIX_NONE) {
			fd = files_create(s, st, name, sizeof(name));
			if (fd < 0) {
				st->file_suffix = SUFFIX_FAILED;
				write_error(w, &w->files_err_printed, "files", s->files_dir,
					    name, -fd);
				return;
			}
		} else {
			file_name(st, st->file_suffix, name, sizeof(name));
			do
				fd = openat(s->dir_fd, name,
					    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			while (fd < 0 && errno == EINTR);
			if (fd < 0) {
				write_error(w, &w->files_err_printed, "files", s->files_dir,
					    name, errno);
				return;
			}
		}
		if (w->open_files < SINKS_FILES_MAX_OPEN) {
			w->open_files++;
			st->fd = fd;
		} else {
			transient = true;
		}
	}
	while (i < n && rc == 0) {
		int cnt = 0;

		for (; i < n && cnt < SINKS_IOV_BATCH; i++) {
			if (records[i].len == 0)
				continue;
			iov[cnt].iov_base = (void *)(uintptr_t)records[i].bytes;
			iov[cnt].iov_len = records[i].len;
			cnt++;
		}
		rc = writev_all(fd, iov, cnt);
	}
	if (transient && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		if (name[0] == '\0')
			file_name(st, st->file_suffix, name, sizeof(name));
		write_error(w, &w->files_err_printed, "files", s->files_dir, name, -rc);
	}
}

static void
files_close(struct sink_stream *st)
{
	struct sinks *s = st->s;
	struct sinks_worker *w = &s->workers[st->worker];
	char name[160];

	if (st->fd < 0)
		return;
	w->open_files--;
	if (close(st->fd) < 0 && errno != EINTR) {
		file_name(st, st->file_suffix, name, sizeof(name));
		write_error(w, &w->files_err_printed, "files", s->files_dir, name, errno);
	}
	st->fd = -1;
}

/* ------------------------------------------------------------------ */
/* jsonl:FILE and the console                                           */
/* ------------------------------------------------------------------ */

/* Bytes of the stream's positive skips, all causes. */
static uint64_t
skipped_total(const struct sink_stream *st)
{
	uint64_t skipped = 0;
	unsigned int c;

	for (c = 0; c < REASM_SKIP_CAUSE_MAX; c++)
		skipped += st->skipped[c];
	return skipped;
}

static void
jsonl_write(struct sink_stream *st, const struct reasm_stream_totals *t, const char *sha_hex)
{
	struct sinks *s = st->s;
	struct sinks_worker *w = &s->workers[st->worker];
	char buf[1024], src[40], dst[40];
	struct line l = {buf, sizeof(buf), 0, false};
	uint64_t skipped = skipped_total(st);
	unsigned int c;
	ssize_t n;

	sinks_format_addr(st->flow.family, st->flow.src_addr, src);
	sinks_format_addr(st->flow.family, st->flow.dst_addr, dst);
	append(&l,
	       "{\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,\"bytes\":%" PRIu64
	       ",\"records\":%" PRIu64 ",\"skips\":%" PRIu64 ",\"skip_unknown\":%" PRIu64
	       ",\"skipped_bytes\":%" PRIu64 ",\"skipped_by_cause\":{",
	       src, st->flow.src_port, dst, st->flow.dst_port, st->bytes, st->records,
	       st->skips, st->skip_unknown, skipped);
	for (c = REASM_SKIP_NONE + 1; c < REASM_SKIP_CAUSE_MAX; c++)
		append(&l, "%s\"%s\":%" PRIu64, c > REASM_SKIP_NONE + 1 ? "," : "",
		       reasm_skip_cause_name((enum reasm_skip_cause)c), st->skipped[c]);
	append(&l, "},\"start\":%s,\"end\":%s,\"first_seen\":%" PRIu64 ",\"last_seen\":%" PRIu64
	       ",\"worker\":%" PRIu32,
	       st->start ? "true" : "false", st->end ? "true" : "false", st->first_seen,
	       st->last_seen, st->worker);
	append(&l, ",\"received\":%" PRIu64 ",\"overlap\":%" PRIu64 ",\"discarded\":%" PRIu64,
	       t->received_bytes, t->overlap_bytes, t->discarded_bytes);
	if (sha_hex != NULL)
		append(&l, ",\"sha256\":\"%s\"", sha_hex);
	append(&l, "}\n");
	if (l.overflow) { /* cannot happen: the longest line is under 700 bytes */
		write_error(w, &w->jsonl_err_printed, "jsonl", s->jsonl_path, NULL, EOVERFLOW);
		return;
	}
	/* One write(2) on an O_APPEND fd: lines of different workers never interleave. */
	do
		n = write(s->jsonl_fd, buf, l.len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)l.len)
		write_error(w, &w->jsonl_err_printed, "jsonl", s->jsonl_path, NULL,
			    n < 0 ? errno : ENOSPC);
}

static void
console_write(const struct sink_stream *st, const char *sha_hex)
{
	char buf[512], src[40], dst[40];
	struct line l = {buf, sizeof(buf), 0, false};
	bool v6 = st->flow.family == REASM_FAMILY_IPV6;
	ssize_t n;

	sinks_format_addr(st->flow.family, st->flow.src_addr, src);
	sinks_format_addr(st->flow.family, st->flow.dst_addr, dst);
	append(&l, "%s%s%s:%u -> %s%s%s:%u  bytes=%" PRIu64 " records=%" PRIu64 " skips=%" PRIu64
	       "%s%s",
	       v6 ? "[" : "", src, v6 ? "]" : "", st->flow.src_port, v6 ? "[" : "", dst,
	       v6 ? "]" : "", st->flow.dst_port, st->bytes, st->records, st->skips,
	       st->start ? " start" : "", st->end ? " end" : "");
	if (sha_hex != NULL)
		append(&l, " sha256=%s", sha_hex);
	append(&l, "\n");
	if (l.overflow)
		return;
	/* One write(2): lines of different workers never interleave. */
	do
		n = write(STDOUT_FILENO, buf, l.len);
	while (n < 0 && errno == EINTR);
}

/* ------------------------------------------------------------------ */
/* Stream callbacks                                                     */
/* ------------------------------------------------------------------ */

uint32_t
sinks_stream_priv_size(const struct sinks *s)
{
	return (uint32_t)(sizeof(struct sink_stream) +
			  (s->sha256 ? sizeof(struct sha256_ctx) : 0));
}

void *
sinks_stream_open(struct sinks *s, unsigned int worker, const struct reasm_flow *flow,
		  void *priv)
{
	struct sink_stream *st = priv;

	st->s = s;
	st->worker = worker < s->n_workers ? worker : s->n_workers - 1;
	st->fd = -1;
	if (!s->detail)
		return st;
	st->flow = *flow;
	if (s->sha256)
		sha256_init(st->sha);
	return st;
}

void
sinks_stream_data(void *stream, const struct reasm_record *records, unsigned int n)
{
	struct sink_stream *st = stream;
	struct sinks *s = st->s;
	uint64_t bytes = 0;
	unsigned int i;

	if (!s->detail) {
		/* count sink only: two counters */
		for (i = 0; i < n; i++)
			bytes += records[i].len;
		st->bytes += bytes;
		counter_add(&s->workers[st->worker].bytes, bytes);
		return;
	}
	if (n == 0)
		return;
	if (st->records == 0)
		st->first_seen = records[0].seen;
	st->records += n;
	for (i = 0; i < n; i++) {
		const struct reasm_record *r = &records[i];

		/* Earliest and latest packet time: buffered data keeps its own. */
		if (r->seen < st->first_seen)
			st->first_seen = r->seen;
		if (r->seen > st->last_seen)
			st->last_seen = r->seen;

		bytes += r->len;
		if (r->skip > 0) {
			st->skips++;
			st->skipped[r->skip_cause < REASM_SKIP_CAUSE_MAX ? r->skip_cause
									 : REASM_SKIP_NONE] +=
				(uint64_t)r->skip;
		} else if (r->skip == -1) {
			st->skip_unknown++;
		}
		st->start |= r->start;
		st->end |= r->end;
		if (s->sha256 && r->len > 0)
			sha256_update(st->sha, r->bytes, r->len);
	}
	st->bytes += bytes;
	counter_add(&s->workers[st->worker].bytes, bytes);
	if (s->dir_fd >= 0)
		files_write(st, records, n);
}

/*
 * Per-stream conservation: the library's totals against what the sinks got
 * (bytes always; skipped bytes when counted). Anything else is a bug: counted
 * in streams_unbalanced and said once per worker.
 */
static void
check_totals(const struct sink_stream *st, const struct reasm_stream_totals *t)
{
	struct sinks_worker *w = &st->s->workers[st->worker];
	uint64_t skipped = skipped_total(st);

	counter_add(&w->received, t->received_bytes);
	counter_add(&w->overlap, t->overlap_bytes);
	counter_add(&w->discarded, t->discarded_bytes);
	if (t->delivered_bytes == st->bytes && (!st->s->detail || t->skipped_bytes == skipped) &&
	    t->received_bytes == t->delivered_bytes + t->overlap_bytes + t->discarded_bytes +
					 t->buffered_bytes)
		return;
	counter_add(&w->unbalanced, 1);
	if (w->unbalanced_printed)
		return;
	w->unbalanced_printed = true;
	fprintf(stderr, "reasm: BUG: stream totals disagree with what the sinks got: received %"
		PRIu64 ", delivered %" PRIu64 " (sinks got %" PRIu64 "), overlap %" PRIu64
		", discarded %" PRIu64 ", skipped %" PRIu64 " (records skip %" PRIu64
		") (further ones of this worker only counted)\n",
		t->received_bytes, t->delivered_bytes, st->bytes, t->overlap_bytes,
		t->discarded_bytes, t->skipped_bytes, skipped);
}

void
sinks_stream_close(void *stream, const struct reasm_stream_totals *totals)
{
	struct sink_stream *st = stream;
	struct sinks *s = st->s;
	char hex[SHA256_HEX_LEN + 1];
	const char *sha_hex = NULL;

	check_totals(st, totals);
	if (s->detail) {
		if (s->sha256) {
			uint8_t digest[SHA256_DIGEST_LEN];

			sha256_final(st->sha, digest);
			sha256_hex(digest, hex);
			sha_hex = hex;
		}
		files_close(st);
		if (s->jsonl_fd >= 0)
			jsonl_write(st, totals, sha_hex);
		if (s->console)
			console_write(st, sha_hex);
	}
	counter_add(&s->workers[st->worker].streams, 1);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */
/* ------------------------------------------------------------------ */

void
sinks_totals_add(struct sinks_totals *sum, const struct sinks_totals *t)
{
	sum->streams += t->streams;
	sum->bytes += t->bytes;
	sum->write_errors += t->write_errors;
	sum->unbalanced += t->unbalanced;
	sum->received += t->received;
	sum->overlap += t->overlap;
	sum->discarded += t->discarded;
}

void
sinks_worker_totals(const struct sinks *s, unsigned int worker, struct sinks_totals *out)
{
	const struct sinks_worker *w;

	memset(out, 0, sizeof(*out));
	if (worker >= s->n_workers)
		return;
	w = &s->workers[worker];
	out->streams = __atomic_load_n(&w->streams, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&w->write_errors, __ATOMIC_RELAXED);
	out->unbalanced = __atomic_load_n(&w->unbalanced, __ATOMIC_RELAXED);
	out->received = __atomic_load_n(&w->received, __ATOMIC_RELAXED);
	out->overlap = __atomic_load_n(&w->overlap, __ATOMIC_RELAXED);
	out->discarded = __atomic_load_n(&w->discarded, __ATOMIC_RELAXED);
}

static int
open_files_dir(struct sinks *s, const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "reasm: files sink: cannot create directory %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		fprintf(stderr, "reasm: files sink: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (faccessat(s->dir_fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		fprintf(stderr, "reasm: files sink: %s is not writable: %s\n", dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

struct sinks *
sinks_create(const struct sinks_conf *conf)
{
	struct sinks *s;

	if (conf == NULL || conf->n_workers == 0) {
		fprintf(stderr, "reasm: sinks: need at least one worker\n");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto nomem;
	s->dir_fd = -1;
	s->jsonl_fd = -1;
	s->n_workers = conf->n_workers;
	s->sha256 = conf->sha256;
	s->console = !conf->quiet;
	s->detail = conf->files_dir != NULL || conf->jsonl_path != NULL || conf->sha256 ||
		    s->console;
	if (posix_memalign((void **)&s->workers, 64, sizeof(*s->workers) * s->n_workers) != 0) {
		s->workers = NULL;
		goto nomem;
	}
	memset(s->workers, 0, sizeof(*s->workers) * s->n_workers);
	if (conf->files_dir != NULL) {
		s->files_dir = strdup(conf->files_dir);
		if (s->files_dir == NULL)
			goto nomem;
		if (open_files_dir(s, s->files_dir) < 0)
			goto fail;
	}
	if (conf->jsonl_path != NULL) {
		s->jsonl_path = strdup(conf->jsonl_path);
		if (s->jsonl_path == NULL)
			goto nomem;
		s->jsonl_fd = open(s->jsonl_path,
				   O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (s->jsonl_fd < 0) {
			fprintf(stderr, "reasm: jsonl sink: %s: %s\n", s->jsonl_path,
				strerror(errno));
			goto fail;
		}
	}
	return s;
nomem:
	fprintf(stderr, "reasm: sinks: out of memory\n");
	if (s == NULL)
		return NULL;
fail:
	s->finished = true; /* nothing to report at free */
	sinks_free(s);
	return NULL;
}

int
sinks_finish(struct sinks *s)
{
	uint64_t errors = 0;
	unsigned int i;
	int rc = 0;

	if (s->finished)
		return s->finish_rc;
	s->finished = true;
	for (i = 0; i < s->n_workers; i++)
		errors += __atomic_load_n(&s->workers[i].write_errors, __ATOMIC_RELAXED);
	if (errors > 0) {
		fprintf(stderr, "reasm: sinks: %" PRIu64 " failed writes\n", errors);
		rc = -1;
	}
	if (s->jsonl_fd >= 0) {
		if (close(s->jsonl_fd) < 0 && errno != EINTR) {
			fprintf(stderr, "reasm: jsonl sink: %s: %s\n", s->jsonl_path,
				strerror(errno));
			rc = -1;
		}
		s->jsonl_fd = -1;
	}
	if (s->dir_fd >= 0) {
		close(s->dir_fd);
		s->dir_fd = -1;
	}
	s->finish_rc = rc;
	return rc;
}

void
sinks_free(struct sinks *s)
{
	if (s == NULL)
		return;
	if (!s->finished)
		sinks_finish(s);
	if (s->jsonl_fd >= 0)
		close(s->jsonl_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->workers);
	free(s->files_dir);
	free(s->jsonl_path);
	free(s);
}
