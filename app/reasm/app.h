/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The appliance's shared state: ports, workers, their mailboxes.
 *
 * Data flow:
 *   direct port: RX queue i --> worker i (each worker polls its queue; NICs
 *                with the symmetric RSS key, af_packet fanout, tap: rx_mode.c)
 *   spread port: main lcore polls every queue, hashes each frame's
 *                connection with a symmetric Toeplitz key (rte_softrss)
 *                and enqueues it on that worker's ring (distributor.c)
 * Each worker owns its assembler, pool, page mempool and counters. The
 * control plane (ctrl.c) talks to workers only through their mailboxes.
 */
#ifndef REASM_APP_H
#define REASM_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <reasm.h>

#include "options.h"
#include "runtime.h"
#include "sinks.h"

#define APP_MAX_WORKERS RTE_MAX_LCORE
#define APP_MAX_PORTS RTE_MAX_ETHPORTS
#define APP_TOP_CONNS 16
#define MAX_BURST 512      /* most packets per receive burst (--burst) */
#define APP_RETA_SIZE 512  /* the redirection table connections map to workers by (distributor.c) */
#define PORT_MAX_KSOCK 128 /* net_af_packet sockets (queues) of one port we watch */

/* Items on a worker's ring are mbuf pointers or, with bit 0 set, markers. */
#define MARKER_BIT 1u
#define MARKER_END 2u   /* no more packets: flush all and stop */
#define MARKER_FLUSH 0u /* flush older than the time in the upper bits */

/** A request from the control plane, served by a worker between bursts. */
enum ctrl_req_type {
	CTRL_REQ_NONE = 0,
	CTRL_REQ_FLUSH,     /* flush_older_than(arg) */
	CTRL_REQ_FLUSH_ALL, /* flush_all */
	CTRL_REQ_TOP_CONNS, /* fill top[] */
};

/** One worker's mailbox slot: the control plane writes, the worker answers. */
struct __rte_cache_aligned ctrl_slot {
	volatile uint32_t seq_posted; /* bumped by the control plane */
	volatile uint32_t seq_done;   /* set to seq_posted by the worker */
	enum ctrl_req_type type;
	uint64_t arg;
	unsigned int flushed, closed;
	unsigned int n_top;
	struct reasm_conn_info top[APP_TOP_CONNS];
};

struct __rte_cache_aligned port_info {
	uint16_t port_id;
	bool direct;          /* worker i polls queue i (rx_mode.c); else the main lcore spreads */
	const char *rx_why;   /* why direct or spread, for the start-up line */
	bool was_promiscuous; /* before reasm started: restored at the end */
	/* ports the kernel feeds: what it counted (kernel_port.c) */
	unsigned int tap_ifindex;  /* net_tap: its interface, or 0 */
	uint64_t tap_dropped_base; /* net_tap: the interface's tx_dropped at start */
	int ksock[PORT_MAX_KSOCK];
	unsigned int n_ksock;
	uint64_t kernel_drops;     /* af_packet ring or tap queue full: dropped by the kernel */
	uint64_t kernel_rollovers; /* ring full: moved to another queue by the fanout */
	uint32_t cut_at; /* frames this long may have been cut by the port (af_packet framesz) */
	bool drains;     /* a capture replay that ends (net_pcap rx_pcap, no infinite_rx) */
	bool drained;
	bool pcap_timestamps; /* net_pcap: the dynfield holds capture time in µs */
	uint16_t n_rxq;
	struct rte_mempool *own_mbufs; /* infinite_rx replay of large frames, else NULL */
	char name[RTE_ETH_NAME_MAX_LEN];
	char driver[64];
};

/* Per-lcore state, each on cache lines of its own (no false sharing). */
struct __rte_cache_aligned worker {
	unsigned int id;
	unsigned int lcore;
	struct reasm_pool *pool;
	struct rte_mempool *pages;
	struct reasm_assembler *asm_;
	struct rte_ring *ring;    /* from the RX lcore and other workers' handoffs, or NULL */
	struct rte_ring *mailbox; /* control-plane requests (struct ctrl_slot *) */
	struct ctrl_slot slot;
	volatile bool exited;
	bool packet_sinks;      /* a sink takes every frame (sinks_packets(): pcap:DIR) */
	uint64_t rx_cut;        /* frames of its direct queues the port had cut */
	uint64_t handoffs_out;  /* reassembled datagrams sent to the worker that owns them */
	uint64_t handoffs_lost; /* ... dropped: that worker's ring was full */
	uint64_t rx_pkts;       /* packets this worker took in */
	uint64_t clock_ns;      /* newest packet timestamp seen */
	unsigned int n_flushes; /* timer flushes run */
	struct rt_lcore rt;     /* where its time goes (runtime.h) */
};

struct app {
	struct app_options opt;
	struct sinks *sinks;
	struct rte_mempool *mbufs;
	unsigned int n_workers;
	struct worker workers[APP_MAX_WORKERS];
	unsigned int n_ports;
	struct port_info ports[APP_MAX_PORTS];
	bool any_sw_port; /* the main lcore distributes */
	int ts_dynfield;  /* rte_mbuf timestamp dynfield offset, or -1 */
	uint64_t ts_dynflag;
	uint64_t tsc_hz;
	uint64_t epoch_ns; /* wall clock at tsc_start */
	uint64_t tsc_start;
	volatile uint64_t clock_ns; /* newest packet time the RX side saw */
	uint64_t dist_pkts;         /* frames the RX lcore distributed */
	uint64_t dist_rx_cut;       /* frames the RX lcore took that the port had cut */
	unsigned int workers_done;  /* workers past their receive loop (handoffs end) */
	uint64_t dist_ring_full;    /* frames dropped for a full worker ring (live only) */
	/* --defrag with spread ports and several workers: the distributor reassembles */
	struct reasm_pool *dist_pool;
	struct rte_mempool *dist_pages;
	struct reasm_assembler *dist_asm;
	uint64_t dist_handoffs;      /* datagrams it staged for their connection's worker */
	uint64_t dist_handoffs_lost; /* ... lost for want of an mbuf */
	bool runtime_on;             /* time the stages (--runtime-stats, /reasm/runtime_enable) */
	struct rt_lcore main_rt;     /* the main lcore's stages, when it distributes */
};

extern struct app g_app;
extern volatile bool g_force_quit;
extern volatile bool g_reopen; /* SIGHUP seen: reopen the sinks' outputs (ctrl.c) */

/** Nanoseconds of wall-clock time, from the TSC. */
static inline uint64_t
app_now_ns(void)
{
	uint64_t d = rte_rdtsc() - g_app.tsc_start;

	return g_app.epoch_ns + (uint64_t)((double)d * 1e9 / (double)g_app.tsc_hz);
}

/* Capture time (net_pcap: µs in the timestamp dynfield), else @p now. */
static inline uint64_t
app_frame_time(const struct app *app, const struct rte_mbuf *m, uint64_t now)
{
	if (app->ts_dynfield >= 0 && (m->ol_flags & app->ts_dynflag) &&
	    m->port < RTE_MAX_ETHPORTS && app->ports[0].port_id <= m->port)
		return *RTE_MBUF_DYNFIELD(m, app->ts_dynfield, const uint64_t *) * 1000;
	return now;
}

/** Polls in a row that find nothing before a poller sleeps (--idle-sleep). */
#define APP_IDLE_POLLS 256

/*
 * After a poll: nothing to do if it found work; else pause, and after
 * APP_IDLE_POLLS empty polls in a row sleep --idle-sleep µs (0: busy-poll).
 */
static inline void
app_idle(const struct app *app, bool found, unsigned int *empty)
{
	if (found) {
		*empty = 0;
		return;
	}
	if (app->opt.idle_sleep_us == 0 || ++*empty < APP_IDLE_POLLS) {
		rte_pause();
		return;
	}
	rte_delay_us_sleep(app->opt.idle_sleep_us);
}

/* ports.c */
/** The mbuf data room (headroom included) for frames of @p len bytes, at most UINT16_MAX. */
static inline uint16_t
mbuf_buf_size(uint32_t len)
{
	return (uint16_t)RTE_MIN(RTE_ALIGN_CEIL(len, 64) + RTE_PKTMBUF_HEADROOM,
				 (uint32_t)UINT16_MAX);
}
int ports_setup(struct app *app);
void ports_stop(struct app *app);
/** Bytes of the symmetric Toeplitz key. */
#define PORTS_RSS_KEY_LEN 40
const uint8_t *ports_rss_key(void);

/** What every port received and lost, summed (rte_eth_stats_get, kernel_port.c). */
struct ports_totals {
	uint64_t ipackets;         /**< frames received */
	uint64_t imissed;          /**< dropped by the NIC or the kernel before reaching reasm */
	uint64_t kernel_drops;     /**< of imissed: net_af_packet rings, net_tap queues full */
	uint64_t kernel_rollovers; /**< net_af_packet frames moved to another queue */
	uint64_t frames_cut;       /**< frames the port cut short (af_packet framesz=) */
	uint64_t nombuf;           /**< dropped for want of an mbuf */
	uint64_t ierrors;          /**< receive errors */
};
/** Sum the stats of every port of @p app into @p out. Thread safe (ethdev stats). */
void ports_totals(struct app *app, struct ports_totals *out);

/* worker.c */
int workers_create(struct app *app); /* assigns worker lcores */
int workers_setup(struct app *app);  /* pools, assemblers, rings */
void workers_free(struct app *app);
int worker_main(void *arg);

/* kernel_port.c: ports the kernel feeds (net_af_packet, net_tap) */
/** Find what the kernel counts for @p p (af_packet sockets, tap interface); say how it is sized. */
int kernel_port_setup(struct port_info *p, const struct rte_eth_dev_info *info);
/** A pool of @p p's own when its framesz= frames do not fit our mbufs; sets p->cut_at. */
int af_packet_pool_setup(struct app *app, struct port_info *p, const struct rte_eth_dev_info *info);
/** Whether frame @p m (of cut_at bytes or more) lost bytes: its IP length says more. */
bool af_packet_frame_cut(const struct rte_mbuf *m);
/** The kernel's drops and rollovers on @p p so far. Thread safe. */
void kernel_port_stats(struct port_info *p, uint64_t *drops, uint64_t *rollovers);
/** Read the kernel's counters a last time before the port stops. */
void kernel_port_forget(struct port_info *p);

/*
 * Frames of @p pkts that @p p cut (af_packet frames longer than its framesz=):
 * their bytes past the cut are lost, and counted where the port's drops are.
 */
static inline uint64_t
port_frames_cut(const struct port_info *p, struct rte_mbuf *const *pkts, unsigned int n)
{
	uint64_t cut = 0;
	unsigned int i;

	if (likely(p->cut_at == UINT32_MAX))
		return 0;
	for (i = 0; i < n; i++)
		if (unlikely(rte_pktmbuf_pkt_len(pkts[i]) >= p->cut_at) &&
		    af_packet_frame_cut(pkts[i]))
			cut++;
	return cut;
}

/* rx_mode.c */
/**
 * Decide whether workers poll @p p's queues themselves (p->direct) or the
 * main lcore spreads its frames, per --rx; set p->n_rxq and, for RSS, @p conf.
 * @return 0, or -1 after a message when --rx direct cannot be honoured.
 */
int rx_mode_choose(const struct app *app, struct port_info *p, const struct rte_eth_dev_info *info,
		   struct rte_eth_conf *conf);
/** After start: 0 if fine, 1 if the port must be spread instead, -1 to stop. */
int rx_mode_verify(const struct app *app, struct port_info *p, const struct rte_eth_conf *conf);

/* distributor.c */
/** The worker that owns @p key (a TCP direction, or a fragment's addresses). */
unsigned int app_worker_of(const struct reasm_flow *key, unsigned int n_workers);
/**
 * With --defrag, spread ports and several workers: the distributor's own
 * defragmenter (an assembler that assembles nothing: every datagram it
 * completes goes to its connection's worker). 0, or -1 after a message.
 */
int distributor_setup(struct app *app);
void distributor_free(struct app *app);
/** Spread the non-RSS ports' frames over the workers until the replays end or a signal. */
int distributor_main(struct app *app);
/**
 * Every assembler's counters summed into @p sum (workers and the
 * distributor's defragmenter), and datagrams lost on their way to their
 * connection's worker into *@p handoffs_lost (may be NULL). Thread safe.
 */
void app_stats_sum(const struct app *app, struct reasm_stats *sum, uint64_t *handoffs_lost);

/* handoff.c */
/**
 * A reassembled datagram's frame (@p len bytes, borrowed) copied into an mbuf
 * of the packet pool, with @p ts_ns as its capture time for replays, and the
 * worker owning its connection in *@p owner. NULL when the pool is empty.
 */
struct rte_mbuf *handoff_mbuf(const uint8_t *frame, uint32_t len, uint64_t ts_ns,
			      unsigned int *owner);

/* ctrl.c */
int ctrl_start(struct app *app);
void ctrl_stop(void);
/** Called for each worker that answered, with the control lock held. */
typedef void (*ctrl_collect_fn)(const struct worker *w, const struct ctrl_slot *reply, void *ctx);
/**
 * Post @p type to every live worker's mailbox and wait (up to 2 s) for the
 * answers, which @p collect (may be NULL) reads. Requests are serialised.
 * @return the number of workers that answered.
 */
unsigned int ctrl_request(enum ctrl_req_type type, uint64_t arg, ctrl_collect_fn collect,
			  void *ctx);

/* telemetry.c */
int telemetry_register(struct app *app);
/** Make every /reasm/ command answer null from now on, and wait for those running. */
void telemetry_shutdown(void);

#endif
