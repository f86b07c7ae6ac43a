/* SPDX-License-Identifier: BSD-3-Clause
 *
 * nids_bench: the libnids peer of tests/bench/reasm_bench.c.
 *
 * Loads a classic pcap (Ethernet) into memory before any timing, then times
 * nids_pcap_handler() (libnids' per-packet entry point, the one nids_run()
 * hands to pcap_loop) over every packet; best of --repeat runs, each on a
 * fresh nids_init(). libnids is fed through nids_params.pcap_desc, a
 * pcap_open_dead() handle, so it opens no device and reads no file.
 *
 * Settings, all reported in "notes":
 *  - checksums off (nids_register_chksum_ctl, 0.0.0.0/0, NIDS_DONT_CHKSUM):
 *    libnids then skips both the IPv4 header and the TCP checksum.
 *  - port-scan detection off (scan_num_hosts = 0), warnings to a counter
 *    instead of syslog(3).
 *  - n_tcp_streams (the hash size; libnids follows at most 3/4 of it) is
 *    sized from the number of SYNs in the capture, or --streams N.
 *  - the tcp callback asks for both directions (collect++) and counts
 *    count_new on every NIDS_DATA; libnids copies the bytes into its own
 *    per-direction buffer (add2buf), which is its only delivery mode.
 *  - libnids drops data beyond the receiver's advertised window
 *    (ack_seq + window * wscale), and captures without the receiver's ACKs
 *    never move ack_seq: by default the callback sets wscale to 2^14 on both
 *    halves at NIDS_JUST_EST so such one-way captures are still reassembled
 *    (--strict-window keeps libnids' own check).
 *
 * libnids only follows IPv4 connections whose SYN, SYN+ACK and ACK it saw;
 * it never skips a hole (data behind a lost segment waits forever) and it
 * discards a direction's whole out-of-order queue beyond 64 KiB
 * (NIDS_WARN_TCP_BIGQUEUE). The warnings are counted in the output.
 *
 * nids_exit() (NIDS_EXITING for every live connection, then freeing them)
 * is timed separately: ns_per_pkt excludes it, ns_per_pkt_with_flush
 * includes it.
 *
 * Build: cc -O2 -o nids_bench nids_bench.c -lnids -lpcap
 * Output: one JSON line on stdout.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nids.h>
#include <pcap.h>

struct pkt {
	struct pcap_pkthdr hdr;
	u_char *data;
};

struct counters {
	uint64_t bytes;
	uint64_t data_calls;
	uint64_t established;
	uint64_t closed;
	uint64_t reset;
	uint64_t timed_out;
	uint64_t exiting;
	uint64_t warn[16];
	uint64_t warn_other;
};

static struct counters cnt;
static int strict_window;

static void
on_warning(int type, int errnum, struct ip *iph, void *data)
{
	(void)iph;
	(void)data;
	if (type >= NIDS_WARN_IP && type <= NIDS_WARN_SCAN && errnum >= 0 && errnum < 16)
		cnt.warn[errnum]++;
	else
		cnt.warn_other++;
}

static void
on_no_mem(char *where)
{
	fprintf(stderr, "nids_bench: libnids out of memory in %s\n", where);
	exit(1);
}

static void
on_tcp(struct tcp_stream *s, void **param)
{
	(void)param;
	switch (s->nids_state) {
	case NIDS_JUST_EST:
		s->client.collect++;
		s->server.collect++;
		if (!strict_window) {
			s->client.wscale = 1u << 14;
			s->server.wscale = 1u << 14;
		}
		cnt.established++;
		break;
	case NIDS_DATA:
		cnt.data_calls++;
		cnt.bytes += (uint64_t)s->client.count_new + (uint64_t)s->server.count_new;
		break;
	case NIDS_CLOSE:
		cnt.closed++;
		break;
	case NIDS_RESET:
		cnt.reset++;
		break;
	case NIDS_TIMED_OUT:
		cnt.timed_out++;
		break;
	case NIDS_EXITING:
		cnt.exiting++;
		break;
	}
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Loads every packet into one buffer; each frame starts 2 bytes past an
 * 8-byte boundary so the IPv4 header is 4-byte aligned, as libpcap arranges. */
static struct pkt *
load(const char *path, size_t *n_out, uint64_t *syns, uint64_t *not_ipv4)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const u_char *d;
	struct pkt *pkts = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (p == NULL) {
		fprintf(stderr, "nids_bench: %s\n", err);
		return NULL;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "nids_bench: %s: link type %d, want Ethernet\n", path,
			pcap_datalink(p));
		pcap_close(p);
		return NULL;
	}
	*syns = 0;
	*not_ipv4 = 0;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			pkts = realloc(pkts, cap * sizeof(*pkts));
			if (pkts == NULL) {
				fprintf(stderr, "nids_bench: out of memory\n");
				exit(1);
			}
		}
		pkts[n].hdr = *h;
		pkts[n].data = malloc(h->caplen + 16);
		if (pkts[n].data == NULL) {
			fprintf(stderr, "nids_bench: out of memory\n");
			exit(1);
		}
		pkts[n].data += 2;
		memcpy(pkts[n].data, d, h->caplen);
		/* what libnids reads: Ethernet + IPv4, or one 802.1Q tag + IPv4 */
		if (h->caplen < 14 || !((d[12] == 0x08 && d[13] == 0x00) ||
					(h->caplen >= 18 && d[12] == 0x81 && d[13] == 0x00 &&
					 d[16] == 0x08 && d[17] == 0x00)))
			(*not_ipv4)++;
		/* a SYN without ACK over IPv4 (untagged) opens a libnids stream */
		if (h->caplen >= 14 + 20 + 14 && d[12] == 0x08 && d[13] == 0x00 && d[23] == 6) {
			unsigned ihl = (d[14] & 0x0f) * 4u;

			if (h->caplen >= 14 + ihl + 14 && (d[14 + ihl + 13] & 0x12) == 0x02)
				(*syns)++;
		}
		n++;
	}
	if (rc == -1) {
		fprintf(stderr, "nids_bench: %s: %s\n", path, pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	pcap_close(p);
	*n_out = n;
	return pkts;
}

static void
usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--repeat N] [--workload W] [--streams N] [--strict-window] FILE.pcap\n"
		"  --streams N      libnids n_tcp_streams (hash size; follows 3/4 of it);\n"
		"                   default: sized from the SYNs in the capture\n"
		"  --strict-window  keep libnids' receive-window check as is\n",
		argv0);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"repeat", required_argument, NULL, 'r'},
		{"workload", required_argument, NULL, 'w'},
		{"streams", required_argument, NULL, 's'},
		{"strict-window", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct nids_chksum_ctl nochk = {
		.netaddr = 0,
		.mask = 0,
		.action = NIDS_DONT_CHKSUM,
	};
	int repeat = 5, c;
	long streams = 0;
	const char *workload = NULL, *path;
	struct pkt *pkts;
	size_t n, i;
	uint64_t syns, not_ipv4, best = UINT64_MAX, best_total = UINT64_MAX, best_flush = 0;
	struct counters first = {0};
	pcap_t *dead;
	char name[256], notes[1024];
	size_t off;

	while ((c = getopt_long(argc, argv, "r:w:s:Sh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'w':
			workload = optarg;
			break;
		case 's':
			streams = strtol(optarg, NULL, 0);
			break;
		case 'S':
			strict_window = 1;
			break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind + 1 != argc || repeat < 1) {
		usage(argv[0]);
		return 2;
	}
	path = argv[optind];
	if (workload == NULL) {
		const char *b = strrchr(path, '/');
		size_t len;

		b = b ? b + 1 : path;
		len = strlen(b);
		if (len > 5 && strcmp(b + len - 5, ".pcap") == 0)
			len -= 5;
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, b, len);
		name[len] = '\0';
		workload = name;
	}

	pkts = load(path, &n, &syns, &not_ipv4);
	if (pkts == NULL)
		return 1;
	if (streams <= 0) {
		/* libnids follows at most 3/4 of n_tcp_streams at once */
		uint64_t want = syns + syns / 3 + 1024;

		streams = want > 0x7fffffff ? 0x7fffffff : (long)want;
		if (streams < 1040)
			streams = 1040;
	}

	dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (dead == NULL) {
		fprintf(stderr, "nids_bench: pcap_open_dead failed\n");
		return 1;
	}
	nids_params.pcap_desc = dead;
	nids_params.filename = NULL;
	nids_params.device = NULL;
	nids_params.n_tcp_streams = (int)streams;
	nids_params.scan_num_hosts = 0;
	nids_params.syslog = on_warning;
	nids_params.no_mem = on_no_mem;
	nids_params.multiproc = 0;
	nids_params.tcp_workarounds = 0;
	nids_params.pcap_filter = NULL;
	nids_register_chksum_ctl(&nochk, 1);

	for (int r = 0; r < repeat; r++) {
		uint64_t t0, t1, t2;

		if (!nids_init()) {
			fprintf(stderr, "nids_bench: nids_init: %s\n", nids_errbuf);
			return 1;
		}
		nids_register_tcp(on_tcp);
		memset(&cnt, 0, sizeof(cnt));
		t0 = now_ns();
		for (i = 0; i < n; i++)
			nids_pcap_handler(NULL, &pkts[i].hdr, pkts[i].data);
		t1 = now_ns();
		nids_exit();
		t2 = now_ns();
		if (t1 - t0 < best)
			best = t1 - t0;
		if (t2 - t0 < best_total) {
			best_total = t2 - t0;
			best_flush = t2 - t1;
		}
		if (r == 0)
			first = cnt;
		else if (cnt.bytes != first.bytes) {
			fprintf(stderr,
				"nids_bench: run %d delivered %" PRIu64 " bytes, run 0 %" PRIu64
				"\n",
				r, cnt.bytes, first.bytes);
			return 1;
		}
	}

	off = (size_t)
		snprintf(notes, sizeof(notes),
			 "IPv4 only; follows only connections with a full handshake; "
			 "checksums off; scan detection off; n_tcp_streams=%ld (follows %ld)%s",
			 streams, 3 * streams / 4,
			 strict_window
				 ? "; strict receive-window check"
				 : "; window check relaxed (wscale 2^14 set at establishment)");
	if (first.warn[NIDS_WARN_TCP_BIGQUEUE] && off < sizeof(notes))
		off += (size_t)snprintf(notes + off, sizeof(notes) - off,
					"; out-of-order queue over 64 KiB discarded %" PRIu64
					" times",
					first.warn[NIDS_WARN_TCP_BIGQUEUE]);
	if (first.warn[NIDS_WARN_TCP_TOOMUCH] && off < sizeof(notes))
		off += (size_t)snprintf(notes + off, sizeof(notes) - off,
					"; stream table full, %" PRIu64 " oldest evicted",
					first.warn[NIDS_WARN_TCP_TOOMUCH]);
	if (first.warn[NIDS_WARN_IP_HDR] && off < sizeof(notes))
		off += (size_t)snprintf(notes + off, sizeof(notes) - off,
					"; %" PRIu64 " packets refused for their IPv4 header",
					first.warn[NIDS_WARN_IP_HDR]);
	if (not_ipv4 && off < sizeof(notes))
		off += (size_t)snprintf(notes + off, sizeof(notes) - off,
					"; %" PRIu64 " frames not IPv4 (IPv6, QinQ...) ignored",
					not_ipv4);
	if (first.established == 0 && off < sizeof(notes))
		off += (size_t)snprintf(
			notes + off, sizeof(notes) - off, "%s",
			syns ? "; no handshake completed (SYN+ACK missing, or its ack is not ISN+1)"
			     : "; no SYN in the capture: nothing followed");
	(void)off;

	printf("{\"peer\":\"libnids\",\"workload\":\"%s\",\"packets\":%zu,"
	       "\"ns_per_pkt\":%.2f,\"bytes_delivered\":%" PRIu64 ","
	       "\"ns_per_pkt_with_flush\":%.2f,\"flush_ms\":%.2f,"
	       "\"established\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"reset\":%" PRIu64
	       ",\"evicted\":%" PRIu64 ",\"exiting\":%" PRIu64 ",\"data_calls\":%" PRIu64
	       ",\"warn_ip_hdr\":%" PRIu64 ",\"warn_tcp_hdr\":%" PRIu64
	       ",\"warn_tcp_bigqueue\":%" PRIu64 ",\"warn_tcp_toomuch\":%" PRIu64
	       ",\"syns\":%" PRIu64 ",\"not_ipv4\":%" PRIu64
	       ",\"n_tcp_streams\":%ld,\"repeat\":%d,\"notes\":\"%s\"}\n",
	       workload, n, n ? (double)best / (double)n : 0.0, first.bytes,
	       n ? (double)best_total / (double)n : 0.0, (double)best_flush / 1e6,
	       first.established, first.closed, first.reset, first.timed_out, first.exiting,
	       first.data_calls, first.warn[NIDS_WARN_IP_HDR], first.warn[NIDS_WARN_TCP_HDR],
	       first.warn[NIDS_WARN_TCP_BIGQUEUE], first.warn[NIDS_WARN_TCP_TOOMUCH], syns,
	       not_ipv4, streams, repeat, notes);
	return 0;
}
