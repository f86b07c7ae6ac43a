/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>

#include "options.h"

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_FLUSH_INTERVAL_MS 1000
#define DEFAULT_MAX_CONNS 65536
#define DEFAULT_PAGES 16384
#define DEFAULT_MBUFS 16383
#define DEFAULT_MBUF_SIZE 2048
#define DEFAULT_BURST 32
#define DEFAULT_RING_SIZE 4096
#define DEFAULT_DEFRAG_DATAGRAMS 4096
#define DEFAULT_DEFRAG_FRAGMENTS 64
#define DEFAULT_DEFRAG_TIMEOUT_MS 30000

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: reasm [EAL options] -- [options]\n"
		"  --sink count|files:DIR|jsonl:FILE  where reassembled streams go (repeatable;\n"
		"                               default: count)\n"
		"  --sink pcap:DIR[,max-open=N][,queue=BYTES]  each connection's frames in its own\n"
		"                               pcap file in DIR, written by a thread of its own: N\n"
		"                               files open (default 64), BYTES queued per worker\n"
		"                               (default 4194304; beyond, frames are counted dropped)\n"
		"  --sink redis:HOST:PORT[,stream=NAME][,maxlen=N][,queue=BYTES]  each stream\n"
		"                               direction's record XADDed to a Redis stream (default\n"
		"                               reasm, ~1000000 entries, 1048576 bytes queued per worker)\n"
		"  --sink kafka:HOST:PORT[,HOST:PORT...][,topic=NAME][,content=yes|no][,queue=BYTES]\n"
		"        [,rdkafka.PROPERTY=VALUE...]  each stream direction's record, and with\n"
		"                               content=yes its bytes in chunks, produced to a Kafka topic\n"
		"                               (default reasm) keyed by Community ID; BYTES queued per\n"
		"                               worker (default 1048576, 16777216 with content=yes)\n"
		"  --sink conn:FILE             one JSON line per connection (both directions paired:\n"
		"                               client and server, history, end state, per side what it\n"
		"                               sent and delivered); jsonl lines gain its conn_id\n"
		"  --max-connections N          connections tracked per worker with --sink conn\n"
		"                               (default: --max-conns); the least recently seen one\n"
		"                               without an open stream is completed early past it\n"
		"  --sha256                     add the SHA-256 of each stream direction to jsonl\n"
		"  --quiet                      no per-stream console lines\n"
		"  --sensor-id NAME             names this reasm in every record (default: the host\n"
		"                               name); 1..64 of letters, digits . _ : -\n"
		"  --community-id-seed N        seed of the Community ID in jsonl records, 0..65535\n"
		"                               (default 0; sites that join logs must agree on it)\n"
		"  --timeout MS                 flush streams idle for MS (0 = only at the end; default %d)\n"
		"  --flush-interval MS          how often idle streams are looked for (default %d)\n"
		"  --pages-total N              max out-of-order pages per worker (0 = bounded by --pages)\n"
		"  --pages-per-conn N           max pages per stream direction (0 = unlimited)\n"
		"  --max-conns N                stream directions per worker (default %d)\n"
		"  --pages N                    page mempool size per worker (default %d)\n"
		"  --mbufs N                    packet mbuf pool size (default %d)\n"
		"  --mbuf-size BYTES            frame bytes one mbuf holds, 1024..65000 (default %d)\n"
		"  --burst N                    packets per receive burst, 1..512 (default %d)\n"
		"  --ring-size N                RX lcore to worker ring size, power of 2 (default %d)\n"
		"  --defrag                     reassemble IPv4 and IPv6 fragments before TCP (at any\n"
		"                               depth of encapsulation); off: fragments are counted\n"
		"  --defrag-datagrams N         datagrams reassembled at once per worker (default %d)\n"
		"  --defrag-fragments N         fragments of one datagram at most (default %d)\n"
		"  --defrag-pages N             pages of --pages fragments may hold per worker\n"
		"                               (default 4 per datagram, at most --pages / 2)\n"
		"  --defrag-timeout MS          a datagram incomplete this long is dropped (default %d)\n"
		"  --zones N                    key connections by VLAN id and tunnel id too (MPLS\n"
		"                               label, GRE key, VNI, TEID), N distinct at once per\n"
		"                               worker, 8..16777215 (default 0: addresses and ports)\n"
		"  --overlap-policy first|last  which copy of overlapping buffered bytes is\n"
		"                               delivered: first (gopacket's: in sequence order,\n"
		"                               the default) or last (the latest arrival)\n"
		"  --retain-bytes N             delivered bytes each stream direction keeps, so\n"
		"                               retransmissions of them are compared (conflicts):\n"
		"                               0 (off, the default) or a power of 2 up to 1048576;\n"
		"                               --max-conns x N bytes per worker\n"
		"  --idle-sleep US              after 256 empty polls in a row, sleep US microseconds\n"
		"                               between polls (0 = busy-poll, the default)\n"
		"  --runtime-stats on|off       time each lcore's stages from the start (/reasm/runtime;\n"
		"                               switchable with /reasm/runtime_enable; default off)\n"
		"  --rx auto|direct|spread      workers poll their own queues (direct) or the main\n"
		"                               lcore spreads frames (spread); auto: direct where\n"
		"                               a port keeps connections on one queue (default)\n"
		"  --help                       this text\n",
		DEFAULT_TIMEOUT_MS, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MAX_CONNS, DEFAULT_PAGES,
		DEFAULT_MBUFS, DEFAULT_MBUF_SIZE, DEFAULT_BURST, DEFAULT_RING_SIZE,
		DEFAULT_DEFRAG_DATAGRAMS, DEFAULT_DEFRAG_FRAGMENTS, DEFAULT_DEFRAG_TIMEOUT_MS);
}

/* A whole non-negative decimal number within [min, max], or -1. */
static int
parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ') {
		fprintf(stderr, "reasm: --%s needs a non-negative number, got '%s'\n", opt,
			s ? s : "");
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "reasm: --%s: '%s' is not a number\n", opt, s);
		return -1;
	}
	if (v < min || v > max) {
		fprintf(stderr, "reasm: --%s: %llu is out of range [%" PRIu64 ", %" PRIu64 "]\n",
			opt, v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_u32(const char *opt, const char *s, uint64_t min, uint64_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(opt, s, min, max, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static const char *const rx_mode_names[] = {
	[RX_AUTO] = "auto",
	[RX_DIRECT] = "direct",
	[RX_SPREAD] = "spread",
};

const char *
rx_mode_name(enum rx_mode mode)
{
	return (unsigned int)mode < RTE_DIM(rx_mode_names) ? rx_mode_names[mode] : "?";
}

static int
parse_rx_mode(const char *s, enum rx_mode *out)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(rx_mode_names); i++)
		if (strcmp(s, rx_mode_names[i]) == 0) {
			*out = (enum rx_mode)i;
			return 0;
		}
	fprintf(stderr, "reasm: --rx '%s': expected auto, direct or spread\n", s);
	return -1;
}

enum {
	OPT_SINK = 256,
	OPT_SHA256,
	OPT_QUIET,
	OPT_TIMEOUT,
	OPT_FLUSH_INTERVAL,
	OPT_PAGES_TOTAL,
	OPT_PAGES_PER_CONN,
	OPT_MAX_CONNS,
	OPT_PAGES,
	OPT_MBUFS,
	OPT_MBUF_SIZE,
	OPT_BURST,
	OPT_RING_SIZE,
	OPT_RX,
	OPT_IDLE_SLEEP,
	OPT_DEFRAG,
	OPT_DEFRAG_DATAGRAMS,
	OPT_DEFRAG_FRAGMENTS,
	OPT_DEFRAG_PAGES,
	OPT_DEFRAG_TIMEOUT,
	OPT_ZONES,
	OPT_RUNTIME_STATS,
	OPT_COMMUNITY_ID_SEED,
	OPT_SENSOR_ID,
	OPT_MAX_CONNECTIONS,
	OPT_OVERLAP_POLICY,
	OPT_RETAIN_BYTES,
	OPT_HELP,
};

static const struct option long_options[] = {
	{"sink", required_argument, NULL, OPT_SINK},
	{"sha256", no_argument, NULL, OPT_SHA256},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"flush-interval", required_argument, NULL, OPT_FLUSH_INTERVAL},
	{"pages-total", required_argument, NULL, OPT_PAGES_TOTAL},
	{"pages-per-conn", required_argument, NULL, OPT_PAGES_PER_CONN},
	{"max-conns", required_argument, NULL, OPT_MAX_CONNS},
	{"pages", required_argument, NULL, OPT_PAGES},
	{"mbufs", required_argument, NULL, OPT_MBUFS},
	{"mbuf-size", required_argument, NULL, OPT_MBUF_SIZE},
	{"burst", required_argument, NULL, OPT_BURST},
	{"ring-size", required_argument, NULL, OPT_RING_SIZE},
	{"rx", required_argument, NULL, OPT_RX},
	{"idle-sleep", required_argument, NULL, OPT_IDLE_SLEEP},
	{"defrag", no_argument, NULL, OPT_DEFRAG},
	{"defrag-datagrams", required_argument, NULL, OPT_DEFRAG_DATAGRAMS},
	{"defrag-fragments", required_argument, NULL, OPT_DEFRAG_FRAGMENTS},
	{"defrag-pages", required_argument, NULL, OPT_DEFRAG_PAGES},
	{"defrag-timeout", required_argument, NULL, OPT_DEFRAG_TIMEOUT},
	{"zones", required_argument, NULL, OPT_ZONES},
	{"runtime-stats", required_argument, NULL, OPT_RUNTIME_STATS},
	{"community-id-seed", required_argument, NULL, OPT_COMMUNITY_ID_SEED},
	{"sensor-id", required_argument, NULL, OPT_SENSOR_ID},
	{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
	{"overlap-policy", required_argument, NULL, OPT_OVERLAP_POLICY},
	{"retain-bytes", required_argument, NULL, OPT_RETAIN_BYTES},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* A sensor id goes into JSON and stream keys as it is: 1..64 of these. */
static const char sensor_id_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._:-";

static bool
sensor_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= SENSOR_ID_MAX && strspn(s, sensor_id_chars) == n;
}

static int
parse_sensor_id(const char *arg, struct app_options *opt)
{
	if (!sensor_id_ok(arg)) {
		fprintf(stderr,
			"reasm: --sensor-id '%s': 1 to %d letters, digits, '.', '_', ':' or '-'\n",
			arg, SENSOR_ID_MAX);
		return -1;
	}
	snprintf(opt->sensor_id, sizeof(opt->sensor_id), "%.*s", SENSOR_ID_MAX, arg);
	return 0;
}

/* Without --sensor-id: the host name, its other characters as '_'. */
static void
default_sensor_id(struct app_options *opt)
{
	char host[256] = "reasm";
	size_t i;

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "reasm");
	host[SENSOR_ID_MAX] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (strchr(sensor_id_chars, host[i]) == NULL)
			host[i] = '_';
	snprintf(opt->sensor_id, sizeof(opt->sensor_id), "%.*s", SENSOR_ID_MAX, host);
}

static int
parse_one(int c, const char *arg, struct app_options *opt)
{
	const uint64_t day_ms = 86400000ULL * 365;

	switch (c) {
	case OPT_SINK:
		return sinks_conf_add(&opt->sinks, arg);
	case OPT_SHA256:
		opt->sinks.sha256 = true;
		return 0;
	case OPT_QUIET:
		opt->sinks.quiet = true;
		return 0;
	case OPT_SENSOR_ID:
		return parse_sensor_id(arg, opt);
	case OPT_COMMUNITY_ID_SEED: {
		uint32_t seed;

		if (parse_u32("community-id-seed", arg, 0, UINT16_MAX, &seed) < 0)
			return -1;
		opt->sinks.community_id_seed = (uint16_t)seed;
		return 0;
	}
	case OPT_TIMEOUT:
		return parse_u64("timeout", arg, 0, day_ms, &opt->timeout_ms);
	case OPT_FLUSH_INTERVAL:
		return parse_u64("flush-interval", arg, 1, day_ms, &opt->flush_interval_ms);
	case OPT_PAGES_TOTAL:
		return parse_u32("pages-total", arg, 0, UINT32_MAX, &opt->pages_total);
	case OPT_PAGES_PER_CONN:
		return parse_u32("pages-per-conn", arg, 0, UINT32_MAX, &opt->pages_per_conn);
	case OPT_MAX_CONNECTIONS:
		return parse_u32("max-connections", arg, 8, 1u << 26, &opt->max_connections);
	case OPT_MAX_CONNS:
		return parse_u32("max-conns", arg, 8, 1u << 26, &opt->max_conns);
	case OPT_PAGES:
		return parse_u32("pages", arg, 64, 1u << 26, &opt->pages);
	case OPT_MBUFS:
		return parse_u32("mbufs", arg, 1024, 1u << 24, &opt->mbufs);
	case OPT_MBUF_SIZE:
		return parse_u32("mbuf-size", arg, 1024, 65000, &opt->mbuf_size);
	case OPT_BURST:
		return parse_u32("burst", arg, 1, 512, &opt->burst);
	case OPT_RING_SIZE:
		if (parse_u32("ring-size", arg, 64, 1u << 20, &opt->ring_size) < 0)
			return -1;
		if (opt->ring_size & (opt->ring_size - 1)) {
			fprintf(stderr, "reasm: --ring-size %u is not a power of 2\n",
				opt->ring_size);
			return -1;
		}
		return 0;
	case OPT_RX:
		return parse_rx_mode(arg, &opt->rx_mode);
	case OPT_IDLE_SLEEP:
		return parse_u32("idle-sleep", arg, 0, 1000000, &opt->idle_sleep_us);
	case OPT_ZONES:
		if (parse_u32("zones", arg, 0, (1u << 24) - 1, &opt->zones) < 0)
			return -1;
		if (opt->zones != 0 && opt->zones < 8) {
			fprintf(stderr, "reasm: --zones %u: 0 (off) or 8 to 16777215\n",
				opt->zones);
			return -1;
		}
		return 0;
	case OPT_OVERLAP_POLICY:
		if (strcmp(arg, "first") != 0 && strcmp(arg, "last") != 0) {
			fprintf(stderr, "reasm: --overlap-policy: 'first' or 'last', got '%s'\n",
				arg);
			return -1;
		}
		opt->overlap_policy = arg[0] == 'l' ? REASM_OVERLAP_LAST : REASM_OVERLAP_FIRST;
		return 0;
	case OPT_RETAIN_BYTES:
		if (parse_u32("retain-bytes", arg, 0, REASM_RETAIN_MAX, &opt->retain_bytes) < 0)
			return -1;
		if (opt->retain_bytes & (opt->retain_bytes - 1)) {
			fprintf(stderr, "reasm: --retain-bytes %u is not a power of 2\n",
				opt->retain_bytes);
			return -1;
		}
		return 0;
	case OPT_RUNTIME_STATS:
		if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
			fprintf(stderr, "reasm: --runtime-stats: 'on' or 'off', got '%s'\n", arg);
			return -1;
		}
		opt->runtime_stats = strcmp(arg, "on") == 0;
		return 0;
	case OPT_DEFRAG:
		opt->defrag = true;
		return 0;
	case OPT_DEFRAG_DATAGRAMS:
		opt->defrag = true;
		return parse_u32("defrag-datagrams", arg, 8, 1u << 22,
				 &opt->defrag_conf.max_datagrams);
	case OPT_DEFRAG_FRAGMENTS:
		opt->defrag = true;
		return parse_u32("defrag-fragments", arg, 2, 8192, &opt->defrag_conf.max_fragments);
	case OPT_DEFRAG_PAGES:
		opt->defrag = true;
		return parse_u32("defrag-pages", arg, 1, 1u << 26, &opt->defrag_conf.max_pages);
	case OPT_DEFRAG_TIMEOUT: {
		uint64_t ms;

		opt->defrag = true;
		if (parse_u64("defrag-timeout", arg, 1, 3600000, &ms) < 0)
			return -1;
		opt->defrag_conf.timeout_ns = ms * 1000000ULL;
		return 0;
	}
	default:
		return -1;
	}
}

/* --defrag's defaults, and its pages checked against the page mempool. */
static int
defrag_defaults(struct app_options *opt)
{
	struct reasm_defrag_conf *d = &opt->defrag_conf;

	if (d->max_datagrams == 0)
		d->max_datagrams = DEFAULT_DEFRAG_DATAGRAMS;
	if (d->max_fragments == 0)
		d->max_fragments = DEFAULT_DEFRAG_FRAGMENTS;
	if (d->timeout_ns == 0)
		d->timeout_ns = DEFAULT_DEFRAG_TIMEOUT_MS * 1000000ULL;
	if (d->max_pages == 0)
		d->max_pages = RTE_MIN(4 * d->max_datagrams, opt->pages / 2);
	if (d->max_pages > opt->pages) {
		fprintf(stderr, "reasm: --defrag-pages %u exceeds the page mempool (--pages %u)\n",
			d->max_pages, opt->pages);
		return -1;
	}
	return 0;
}

int
options_parse(int argc, char **argv, struct app_options *opt)
{
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->timeout_ms = DEFAULT_TIMEOUT_MS;
	opt->flush_interval_ms = DEFAULT_FLUSH_INTERVAL_MS;
	opt->max_conns = DEFAULT_MAX_CONNS;
	opt->pages = DEFAULT_PAGES;
	opt->mbufs = DEFAULT_MBUFS;
	opt->mbuf_size = DEFAULT_MBUF_SIZE;
	opt->burst = DEFAULT_BURST;
	opt->ring_size = DEFAULT_RING_SIZE;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (c == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "reasm: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return -1;
		}
		if (parse_one(c, optarg, opt) < 0)
			return -1;
	}
	if (opt->sensor_id[0] == '\0')
		default_sensor_id(opt);
	opt->sinks.sensor_id = opt->sensor_id;
	if (optind < argc) {
		fprintf(stderr, "reasm: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (opt->sinks.n_specs == 0)
		sinks_conf_add(&opt->sinks, "count");
	if (opt->max_connections != 0 && sinks_conf_arg(&opt->sinks, "conn") == NULL) {
		fprintf(stderr, "reasm: --max-connections applies to --sink conn:FILE, which is "
				"not given\n");
		return -1;
	}
	if (opt->defrag && defrag_defaults(opt) < 0)
		return -1;
	if (opt->pages_total > opt->pages) {
		fprintf(stderr, "reasm: --pages-total %u exceeds the page mempool (--pages %u)\n",
			opt->pages_total, opt->pages);
		return -1;
	}
	return 0;
}

const char *
overlap_policy_name(enum reasm_overlap_policy p)
{
	return p == REASM_OVERLAP_LAST ? "last" : "first";
}

void
options_print(const struct app_options *opt, unsigned int n_workers)
{
	printf("reasm: workers %u, max-conns %u per worker, pages %u per worker "
	       "(%.1f MiB), pages-total %u%s, pages-per-conn %u%s\n",
	       n_workers, opt->max_conns, opt->pages, opt->pages * 1952.0 / (1 << 20),
	       opt->pages_total, opt->pages_total ? "" : " (mempool-bounded)", opt->pages_per_conn,
	       opt->pages_per_conn ? "" : " (unlimited)");
	printf("reasm: timeout %" PRIu64 " ms%s, flush-interval %" PRIu64 " ms, burst %u, "
	       "mbufs %u of %u bytes, ring-size %u, rx %s, idle-sleep %u us, runtime-stats %s\n",
	       opt->timeout_ms, opt->timeout_ms ? "" : " (flush only at the end)",
	       opt->flush_interval_ms, opt->burst, opt->mbufs, opt->mbuf_size, opt->ring_size,
	       rx_mode_name(opt->rx_mode), opt->idle_sleep_us, opt->runtime_stats ? "on" : "off");
	if (opt->defrag)
		printf("reasm: defrag on: %u datagrams, %u fragments each, %u pages (of --pages) per "
		       "worker, timeout %" PRIu64 " ms\n",
		       opt->defrag_conf.max_datagrams, opt->defrag_conf.max_fragments,
		       opt->defrag_conf.max_pages, opt->defrag_conf.timeout_ns / 1000000);
	else
		printf("reasm: defrag off: IP fragments are counted (drop_ipv4_fragment, "
		       "drop_ipv6_fragment), as gopacket sees them\n");
	if (opt->zones)
		printf("reasm: zones on: connections keyed by VLAN id and tunnel id too, %u zones per "
		       "worker\n",
		       opt->zones);
	printf("reasm: overlap-policy %s, retain-bytes %u%s\n",
	       overlap_policy_name(opt->overlap_policy), opt->retain_bytes,
	       opt->retain_bytes ? "" : " (conflicts compared with buffered bytes only)");
	printf("reasm: sinks:");
	for (unsigned int i = 0; i < opt->sinks.n_specs; i++)
		printf(" %s", opt->sinks.specs[i]);
	printf("%s%s\n", opt->sinks.sha256 ? " (sha256)" : "", opt->sinks.quiet ? " (quiet)" : "");
}
