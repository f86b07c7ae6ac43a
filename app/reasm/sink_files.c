/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * files:DIR -- one file per stream direction, as tcpflow writes them.
 *
 *   - names "SSS.SSS.SSS.SSS.PPPPP-DDD.DDD.DDD.DDD.QQQQQ" (IPv6: eight
 *     4-hex-digit groups joined by '.');
 *   - a direction's file is created by its first non-empty record, so a
 *     direction that delivers no byte leaves no file;
 *   - files are never overwritten: the name is taken with O_CREAT|O_EXCL
 *     and, if it exists (the 4-tuple was reused in this run, or a file of
 *     an earlier run is there), "-2", "-3", ... is appended;
 *   - bytes are appended as delivered; skipped ranges are NOT zero-filled,
 *     so a file is the concatenation of the delivered records and file
 *     offsets are not sequence offsets once a stream skipped;
 *   - each worker keeps at most SINK_FILES_MAX_OPEN files open; a stream
 *     that finds the budget spent opens its file (O_APPEND), writes and
 *     closes it on every data call;
 *   - if a file cannot be created, the error is counted once and the rest
 *     of that direction's data is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sink.h"

/** Files a worker keeps open at once. */
#define SINK_FILES_MAX_OPEN 64

/** Records gathered into one writev(). */
#define SINK_FILES_IOV_BATCH 64

/** Values of struct files_stream.suffix. */
#define SUFFIX_NONE 0u           /* no file yet */
#define SUFFIX_FAILED UINT32_MAX /* creation failed: data dropped */
#define SUFFIX_MAX 1000000u      /* gives up after "-999999" */

/** Bytes of a file name (two IPv6 ends, "-", a suffix). */
#define NAME_LEN 160

/* One worker's open-file budget, alone on its cache line. */
struct files_worker {
	unsigned int open_files;
} __attribute__((aligned(64)));

struct files_state {
	int dir_fd;
	struct files_worker *workers;
};

/* Per-stream state, after struct sink_stream. */
struct files_stream {
	uint32_t suffix; /* SUFFIX_NONE, SUFFIX_FAILED, 1 = bare name, n = "-n" */
	int32_t fd;      /* held open, or -1 */
};

/* ---- names ----------------------------------------------------------- */

/* The file name of @p st with suffix @p suffix (1 = none). */
static void
file_name(const struct sink_stream *st, uint32_t suffix, char *buf, size_t size)
{
	struct sink_line l = {buf, size, 0, false};

	sink_line_endpoint(&l, st->flow.family, st->flow.src_addr, st->flow.src_port);
	sink_line_append(&l, "-");
	sink_line_endpoint(&l, st->flow.family, st->flow.dst_addr, st->flow.dst_port);
	if (suffix > 1)
		sink_line_append(&l, "-%" PRIu32, suffix);
}

/* ---- opening a stream's file ----------------------------------------- */

/* Create the stream's file under a free name; the fd or -errno. */
static int
create_file(const struct files_state *fs, const struct sink_stream *st, struct files_stream *fst,
	    char *name)
{
	uint32_t suffix;

	for (suffix = 1; suffix < SUFFIX_MAX; suffix++) {
		int fd;

		file_name(st, suffix, name, NAME_LEN);
		fd = openat(__atomic_load_n(&fs->dir_fd, __ATOMIC_ACQUIRE), name,
			    O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			fst->suffix = suffix;
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

/* Reopen the stream's file (closed for the open-file budget); the fd or -errno. */
static int
reopen_file(const struct files_state *fs, const struct sink_stream *st,
	    const struct files_stream *fst, char *name)
{
	int fd;

	file_name(st, fst->suffix, name, NAME_LEN);
	do
		fd = openat(__atomic_load_n(&fs->dir_fd, __ATOMIC_ACQUIRE), name,
			    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

/*
 * The stream's fd for this data call: held open, or opened now (and held if
 * the worker's budget allows: *transient says it must be closed after).
 * -1 after counting an error.
 */
static int
stream_fd(struct sink *k, struct sink_stream *st, struct files_stream *fst, char *name,
	  bool *transient)
{
	struct files_state *fs = k->state;
	struct files_worker *w = &fs->workers[st->worker];
	int fd;

	*transient = false;
	if (fst->fd >= 0)
		return fst->fd;
	if (fst->suffix == SUFFIX_NONE) {
		fd = create_file(fs, st, fst, name);
		if (fd < 0)
			fst->suffix = SUFFIX_FAILED;
	} else {
		fd = reopen_file(fs, st, fst, name);
	}
	if (fd < 0) {
		sink_write_error(k, st->worker, k->arg, name, -fd);
		return -1;
	}
	if (w->open_files < SINK_FILES_MAX_OPEN) {
		w->open_files++;
		fst->fd = fd;
	} else {
		*transient = true;
	}
	return fd;
}

/* ---- operations ------------------------------------------------------- */

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

/* Write the non-empty records from @p i on, SINK_FILES_IOV_BATCH per writev. */
static int
write_records(int fd, const struct reasm_record *records, unsigned int i, unsigned int n)
{
	struct iovec iov[SINK_FILES_IOV_BATCH];
	int rc = 0;

	while (i < n && rc == 0) {
		int cnt = 0;

		for (; i < n && cnt < SINK_FILES_IOV_BATCH; i++) {
			if (records[i].len == 0)
				continue;
			iov[cnt].iov_base = (void *)(uintptr_t)records[i].bytes;
			iov[cnt].iov_len = records[i].len;
			cnt++;
		}
		rc = writev_all(fd, iov, cnt);
	}
	return rc;
}

static void
files_stream_open(struct sink *k, struct sink_stream *st, void *priv)
{
	struct files_stream *fst = priv;

	fst->fd = -1;
}

static void
files_data(struct sink *k, struct sink_stream *st, void *priv, const struct reasm_record *records,
	   unsigned int n)
{
	struct files_stream *fst = priv;
	char name[NAME_LEN];
	bool transient;
	unsigned int i = 0;
	int fd, rc;

	if (fst->suffix == SUFFIX_FAILED)
		return;
	while (i < n && records[i].len == 0)
		i++;
	if (i == n)
		return;
	name[0] = '\0';
	fd = stream_fd(k, st, fst, name, &transient);
	if (fd < 0)
		return;
	rc = write_records(fd, records, i, n);
	if (transient && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		if (name[0] == '\0')
			file_name(st, fst->suffix, name, sizeof(name));
		sink_write_error(k, st->worker, k->arg, name, -rc);
	}
}

static void
files_stream_close(struct sink *k, struct sink_stream *st, void *priv,
		   const struct sink_close_info *info)
{
	struct files_state *fs = k->state;
	struct files_stream *fst = priv;
	char name[NAME_LEN];

	if (fst->fd < 0)
		return;
	fs->workers[st->worker].open_files--;
	if (close(fst->fd) < 0 && errno != EINTR) {
		file_name(st, fst->suffix, name, sizeof(name));
		sink_write_error(k, st->worker, k->arg, name, errno);
	}
	fst->fd = -1;
}

/*
 * SIGHUP: the directory again (it may have been moved away and created anew).
 * Streams keep the files they hold open; new files go to the directory now
 * under the name.
 */
static int
files_reopen(struct sink *k, int *old)
{
	struct files_state *fs = k->state;
	int fd;

	if (mkdir(k->arg, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "reasm: files sink: reopening %s: %s (still writing the old one)\n",
			k->arg, strerror(errno));
		return -1;
	}
	fd = open(k->arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "reasm: files sink: reopening %s: %s (still writing the old one)\n",
			k->arg, strerror(errno));
		return -1;
	}
	*old = __atomic_exchange_n(&fs->dir_fd, fd, __ATOMIC_ACQ_REL);
	return 0;
}

/* Create DIR if missing (one level) and check it is a writable directory. */
static int
files_open(struct sink *k)
{
	const char *dir = k->arg;
	struct files_state *fs;
	unsigned int n = sink_n_workers(k);

	fs = calloc(1, sizeof(*fs));
	if (fs == NULL || posix_memalign((void **)&fs->workers, 64, sizeof(*fs->workers) * n)) {
		free(fs);
		fprintf(stderr, "reasm: files sink: out of memory\n");
		return -1;
	}
	memset(fs->workers, 0, sizeof(*fs->workers) * n);
	fs->dir_fd = -1;
	k->state = fs;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "reasm: files sink: cannot create directory %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	fs->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->dir_fd < 0) {
		fprintf(stderr, "reasm: files sink: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (faccessat(fs->dir_fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		fprintf(stderr, "reasm: files sink: %s is not writable: %s\n", dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void
files_free(struct sink *k)
{
	struct files_state *fs = k->state;

	if (fs == NULL)
		return;
	if (fs->dir_fd >= 0)
		close(fs->dir_fd);
	free(fs->workers);
	free(fs);
	k->state = NULL;
}

const struct sink_ops sink_files_ops = {
	.name = "files",
	.arg = SINK_ARG_REQUIRED,
	.per_stream_detail = true,
	.stream_priv_size = sizeof(struct files_stream),
	.open = files_open,
	.stream_open = files_stream_open,
	.data = files_data,
	.stream_close = files_stream_close,
	.reopen = files_reopen,
	.free = files_free,
};
