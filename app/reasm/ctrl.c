/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * The control plane: a thread that runs flush timeouts for ports workers
 * poll directly (rx_mode.c), and the one path by which telemetry actions
 * reach workers. It never touches worker state: it posts a request into a
 * worker's mailbox (an rte_ring) and waits for the worker to answer between
 * two bursts. Replayed captures get their timer flushes from the main
 * lcore instead, in-band at exact points of the capture's clock
 * (distributor.c). It also reopens the sinks' outputs on SIGHUP.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ring.h>

#include "app.h"

#define REPLY_TIMEOUT_MS 2000

static pthread_t ctrl_thread;
static pthread_mutex_t ctrl_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile bool ctrl_stopping;
static bool ctrl_running;

static bool
worker_gone(const struct worker *w)
{
	return __atomic_load_n(&w->exited, __ATOMIC_ACQUIRE);
}

unsigned int
ctrl_request(enum ctrl_req_type type, uint64_t arg, ctrl_collect_fn collect, void *ctx)
{
	struct app *app = &g_app;
	unsigned int i, answered = 0;
	uint64_t deadline;

	pthread_mutex_lock(&ctrl_mu);
	for (i = 0; i < app->n_workers; i++) {
		struct worker *w = &app->workers[i];

		if (worker_gone(w))
			continue;
		w->slot.type = type;
		w->slot.arg = arg;
		w->slot.seq_posted++;
		if (rte_ring_sp_enqueue(w->mailbox, &w->slot) != 0)
			w->slot.seq_posted--; /* cannot happen: one request at a time */
	}
	deadline = rte_get_timer_cycles() + rte_get_timer_hz() * REPLY_TIMEOUT_MS / 1000;
	for (i = 0; i < app->n_workers; i++) {
		struct worker *w = &app->workers[i];

		while (__atomic_load_n(&w->slot.seq_done, __ATOMIC_ACQUIRE) != w->slot.seq_posted &&
		       !worker_gone(w) && rte_get_timer_cycles() < deadline)
			usleep(100);
		if (__atomic_load_n(&w->slot.seq_done, __ATOMIC_ACQUIRE) != w->slot.seq_posted)
			continue;
		answered++;
		if (collect != NULL)
			collect(w, &w->slot, ctx);
	}
	pthread_mutex_unlock(&ctrl_mu);
	return answered;
}

/* A round trip through every worker's mailbox: each has been between two bursts. */
static void
quiesce_workers(void *arg)
{
	ctrl_request(CTRL_REQ_NONE, 0, NULL, arg);
}

/* SIGHUP: the sinks reopen their outputs (logrotate has moved them). */
static void
reopen_outputs(struct app *app)
{
	g_reopen = false;
	if (sinks_reopen(app->sinks, quiesce_workers, NULL) == 0)
		printf("reasm: SIGHUP: outputs reopened\n");
}

/* Timer flushes, on the wall clock, for workers that poll their queues directly. */
static void *
ctrl_main(void *arg)
{
	struct app *app = arg;
	uint64_t interval_us = app->opt.flush_interval_ms * 1000;
	uint64_t timeout_ns = app->opt.timeout_ms * 1000000ULL;
	bool any_direct = false;
	unsigned int i;

	for (i = 0; i < app->n_ports; i++)
		any_direct |= app->ports[i].direct;
	while (!ctrl_stopping) {
		uint64_t slept = 0;

		/* Sleep in short steps so stopping and SIGHUP are prompt. */
		while (slept < interval_us && !ctrl_stopping) {
			usleep(10000);
			slept += 10000;
			if (g_reopen)
				reopen_outputs(app);
		}
		if (ctrl_stopping || !any_direct || timeout_ns == 0)
			continue;
		ctrl_request(CTRL_REQ_FLUSH, app_now_ns() - timeout_ns, NULL, NULL);
	}
	return NULL;
}

int
ctrl_start(struct app *app)
{
	int rc = pthread_create(&ctrl_thread, NULL, ctrl_main, app);

	if (rc != 0) {
		fprintf(stderr, "reasm: cannot start the control-plane thread: %s\n", strerror(rc));
		return -1;
	}
	pthread_setname_np(ctrl_thread, "reasm-ctrl");
	ctrl_running = true;
	return 0;
}

void
ctrl_stop(void)
{
	if (!ctrl_running)
		return;
	ctrl_stopping = true;
	pthread_join(ctrl_thread, NULL);
	ctrl_running = false;
}
