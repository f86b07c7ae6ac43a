/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Ports the kernel feeds (net_af_packet, net_tap): what the kernel does to
 * their frames that the PMDs do not report (DPDK 22.11 counts none of it).
 *
 * net_af_packet: frames dropped because a queue's ring was full
 * (PACKET_STATISTICS tp_drops), and frames the fanout moved to another
 * queue because theirs was full (PACKET_ROLLOVER_STATS: the PMD joins its
 * sockets with PACKET_FANOUT_FLAG_ROLLOVER). A rolled-over frame reaches a
 * worker that does not own its connection when workers poll their queues
 * directly: the owner sees a hole, the other worker a stream whose start it
 * did not see. Also the PMD's frame size (framesz=): frames longer are cut,
 * and a mempool of its own when its frames do not fit ours.
 *
 * net_tap: frames the kernel could not queue to the tap (its queues full),
 * the interface's tx_dropped.
 *
 * The af_packet PMD's sockets are found in /proc/self/fd (AF_PACKET sockets
 * bound to the port's interface). PACKET_STATISTICS clears the kernel's
 * counters on each read, so the totals are accumulated here, under a lock:
 * the main lcore and the telemetry thread both read them.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "app.h"

/* The PMD's default ring, frames per queue (framecnt=). */
#define AF_PACKET_DEFAULT_FRAMES 512

static pthread_mutex_t kstats_mu = PTHREAD_MUTEX_INITIALIZER;

/* The interface index an AF_PACKET socket is bound to, or -1 for other sockets. */
static int
packet_socket_ifindex(int fd)
{
	struct sockaddr_ll sll;
	socklen_t len = sizeof(sll);
	int domain;
	socklen_t dlen = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 || domain != AF_PACKET)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&sll, &len) < 0 || sll.sll_family != AF_PACKET)
		return -1;
	return sll.sll_ifindex;
}

/* Record the AF_PACKET sockets of this process bound to @p ifindex in @p p. */
static void
find_sockets(struct port_info *p, int ifindex)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && p->n_ksock < PORT_MAX_KSOCK) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end != '\0' || e->d_name[0] == '\0' || fd == dirfd(d))
			continue;
		if (packet_socket_ifindex((int)fd) == ifindex)
			p->ksock[p->n_ksock++] = (int)fd;
	}
	closedir(d);
}

/* The value of @p key in devargs @p args ("iface=x,qpairs=2"), as a number; @p dflt if absent. */
static unsigned long
devarg_number(const char *args, const char *key, unsigned long dflt)
{
	size_t klen = strlen(key);
	const char *s = args;

	while (s != NULL && *s != '\0') {
		if (strncmp(s, key, klen) == 0 && s[klen] == '=')
			return strtoul(s + klen + 1, NULL, 10);
		s = strchr(s, ',');
		if (s != NULL)
			s++;
	}
	return dflt;
}

/* Bytes of a ring frame before the Ethernet header (TPACKET_V2, untagged frame). */
#define AF_PACKET_MAC_OFFSET 66
/* What the PMD subtracts from framesz= for the mbuf it copies a frame into. */
#define AF_PACKET_PMD_OVERHEAD 32
#define AF_PACKET_DEFAULT_FRAMESZ 2048
/*
 * The largest framesz= whose frames fit one mbuf, for blocksz=framesz: the
 * PMD reads frame i at i x framesz, so framesz must divide blocksz, which is
 * a multiple of the page size.
 */
#define AF_PACKET_MAX_FRAMESZ 61440

static bool
is_af_packet(const struct rte_eth_dev_info *info, const char **args)
{
	const struct rte_devargs *da = rte_dev_devargs(info->device);

	*args = da != NULL && da->args != NULL ? da->args : "";
	return strcmp(info->driver_name, "net_af_packet") == 0;
}

int
af_packet_pool_setup(struct app *app, struct port_info *p, const struct rte_eth_dev_info *info)
{
	uint32_t room = rte_pktmbuf_data_room_size(app->mbufs) - RTE_PKTMBUF_HEADROOM;
	unsigned long framesz, blocksz, need;
	char name[RTE_MEMPOOL_NAMESIZE];
	const char *args;

	p->cut_at = UINT32_MAX;
	if (!is_af_packet(info, &args))
		return 0;
	framesz = devarg_number(args, "framesz", AF_PACKET_DEFAULT_FRAMESZ);
	blocksz = devarg_number(args, "blocksz", (unsigned long)getpagesize());
	if (framesz == 0 || blocksz % framesz != 0) {
		/* The PMD would read frames at the wrong places: garbage, not an error. */
		fprintf(stderr,
			"reasm: port %u (%s): blocksz=%lu is not a multiple of framesz=%lu: "
			"net_af_packet reads frame i at i x framesz, so it would read the "
			"kernel's ring at the wrong places; give blocksz=framesz or a "
			"multiple\n",
			p->port_id, p->name, blocksz, framesz);
		return -1;
	}
	if (framesz > AF_PACKET_MAC_OFFSET)
		p->cut_at = (uint32_t)(framesz - AF_PACKET_MAC_OFFSET);
	need = framesz > AF_PACKET_PMD_OVERHEAD ? framesz - AF_PACKET_PMD_OVERHEAD : 0;
	if (need <= room)
		return 0;
	if (need > UINT16_MAX - RTE_PKTMBUF_HEADROOM) {
		fprintf(stderr,
			"reasm: port %u (%s): framesz=%lu: frames of %lu bytes cannot fit in "
			"one mbuf, and net_af_packet takes no chained mbufs: give "
			"framesz=%u,blocksz=%u at most, and keep the interface's frames below "
			"it (ip link set DEV gso_max_size N gro_max_size N, or ethtool -K DEV "
			"tso off gso off gro off)\n",
			p->port_id, p->name, framesz, need, AF_PACKET_MAX_FRAMESZ,
			AF_PACKET_MAX_FRAMESZ);
		return -1;
	}
	snprintf(name, sizeof(name), "reasm_afp%u", p->port_id);
	p->own_mbufs = rte_pktmbuf_pool_create(name, app->opt.mbufs, 256, 0, mbuf_buf_size(need),
					       rte_eth_dev_socket_id(p->port_id));
	if (p->own_mbufs == NULL) {
		fprintf(stderr,
			"reasm: port %u (%s): framesz=%lu needs %u mbufs of %lu bytes: %s "
			"(give fewer --mbufs, a smaller framesz or more memory, -m)\n",
			p->port_id, p->name, framesz, app->opt.mbufs, need,
			rte_strerror(rte_errno));
		return -1;
	}
	printf("reasm: port %u (%s): framesz=%lu: a pool of its own, %u mbufs of %lu bytes "
	       "(%.1f MiB)\n",
	       p->port_id, p->name, framesz, app->opt.mbufs, need,
	       app->opt.mbufs * (double)(need + RTE_PKTMBUF_HEADROOM + 192) / (1 << 20));
	return 0;
}

bool
af_packet_frame_cut(const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), off = 12;
	uint16_t type;

	if (len < 14)
		return false;
	type = (uint16_t)(f[off] << 8 | f[off + 1]);
	while ((type == 0x8100 || type == 0x88a8) && off + 6 <= len) {
		off += 4;
		type = (uint16_t)(f[off] << 8 | f[off + 1]);
	}
	off += 2;
	if (type == 0x0800 && off + 4 <= len)
		return off + (uint32_t)(f[off + 2] << 8 | f[off + 3]) > len;
	if (type == 0x86dd && off + 6 <= len)
		return off + 40 + (uint32_t)(f[off + 4] << 8 | f[off + 5]) > len;
	return false;
}

static int
af_packet_setup(struct port_info *p, const struct rte_eth_dev_info *info)
{
	const char *args;
	unsigned long frames;

	if (!is_af_packet(info, &args))
		return 0;
	find_sockets(p, (int)info->if_index);
	if (p->n_ksock == 0)
		fprintf(stderr,
			"reasm: warning: port %u (%s): its AF_PACKET sockets were not found: "
			"kernel drops on it cannot be counted\n",
			p->port_id, p->name);
	frames = devarg_number(args, "framecnt", AF_PACKET_DEFAULT_FRAMES);
	printf("reasm: port %u (%s): kernel ring of %lu frames per queue (framecnt=); frames "
	       "beyond it are dropped or moved to another queue by the kernel, counted in "
	       "port_kernel_drops and port_kernel_rollovers%s\n",
	       p->port_id, p->name, frames,
	       frames <= AF_PACKET_DEFAULT_FRAMES
		       ? ": this is the PMD's default, too small for bursts of live TCP; give "
			 "framecnt=32768"
		       : "");
	return 0;
}

/* Add what the kernel counted on @p p's sockets since the last read. Lock held. */
static void
read_sockets(struct port_info *p)
{
	uint64_t rollovers = 0;
	unsigned int i;

	for (i = 0; i < p->n_ksock; i++) {
		struct tpacket_stats st;
		struct tpacket_rollover_stats ro;
		socklen_t len = sizeof(st);

		if (getsockopt(p->ksock[i], SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
			p->kernel_drops += st.tp_drops; /* cleared by the read: added up */
		len = sizeof(ro);
		if (getsockopt(p->ksock[i], SOL_PACKET, PACKET_ROLLOVER_STATS, &ro, &len) == 0)
			rollovers += ro.tp_all; /* a running total per socket */
	}
	if (p->n_ksock > 0)
		p->kernel_rollovers = rollovers;
}

/* /sys/class/net/IFACE/statistics/tx_dropped of interface @p ifindex, or 0. */
static uint64_t
tap_tx_dropped(unsigned int ifindex)
{
	char name[IF_NAMESIZE], path[96];
	unsigned long long v = 0;
	FILE *f;

	if (ifindex == 0 || if_indextoname(ifindex, name) == NULL)
		return 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", name);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

int
kernel_port_setup(struct port_info *p, const struct rte_eth_dev_info *info)
{
	if (strcmp(info->driver_name, "net_tap") == 0) {
		p->tap_ifindex = info->if_index;
		p->tap_dropped_base = tap_tx_dropped(p->tap_ifindex);
		return 0;
	}
	return af_packet_setup(p, info);
}

/* Bring @p p's kernel counters up to date. Lock held. */
static void
read_kernel(struct port_info *p)
{
	if (p->tap_ifindex != 0) {
		uint64_t now = tap_tx_dropped(p->tap_ifindex);

		if (now >= p->tap_dropped_base)
			p->kernel_drops = now - p->tap_dropped_base;
		return;
	}
	read_sockets(p);
}

void
kernel_port_stats(struct port_info *p, uint64_t *drops, uint64_t *rollovers)
{
	pthread_mutex_lock(&kstats_mu);
	read_kernel(p);
	*drops = p->kernel_drops;
	*rollovers = p->kernel_rollovers;
	pthread_mutex_unlock(&kstats_mu);
}

void
kernel_port_forget(struct port_info *p)
{
	/* The PMD closes its sockets (the tap) when the port stops: a last read first. */
	pthread_mutex_lock(&kstats_mu);
	read_kernel(p);
	p->n_ksock = 0;
	p->tap_ifindex = 0;
	pthread_mutex_unlock(&kstats_mu);
}
