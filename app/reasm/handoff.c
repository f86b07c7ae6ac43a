/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Reassembled datagrams on their way to the worker that owns their
 * connection (--defrag). Fragments carry no ports, so they are reassembled
 * where their addresses lead: by the distributor for spread ports (in
 * capture order, distributor.c), by the worker whose queue they reached for
 * direct ports (worker.c). Either way the datagram, rebuilt as a frame by the
 * library, travels on in an mbuf of the packet pool, with its capture time.
 */
#include <string.h>

#include <rte_mbuf.h>

#include "app.h"

/* A frame of @p len bytes in mbufs of the packet pool (chained past one mbuf), or NULL. */
static struct rte_mbuf *
frame_to_mbuf(const uint8_t *frame, uint32_t len)
{
	struct rte_mbuf *head = rte_pktmbuf_alloc(g_app.mbufs), *last = head;
	uint32_t off = 0;

	while (last != NULL && off < len) {
		uint32_t take = RTE_MIN(len - off, (uint32_t)rte_pktmbuf_tailroom(last));
		char *p = rte_pktmbuf_append(last, (uint16_t)take);

		memcpy(p, frame + off, take);
		off += take;
		if (last != head)
			head->pkt_len += take;
		if (off < len) {
			struct rte_mbuf *next = rte_pktmbuf_alloc(g_app.mbufs);

			if (next == NULL)
				break;
			last->next = next;
			head->nb_segs++;
			last = next;
		}
	}
	if (head != NULL && off < len) {
		rte_pktmbuf_free(head);
		return NULL;
	}
	return head;
}

struct rte_mbuf *
handoff_mbuf(const uint8_t *frame, uint32_t len, uint64_t ts_ns, unsigned int *owner)
{
	struct rte_mbuf *m = frame_to_mbuf(frame, len);
	struct reasm_flow flow;

	if (m == NULL || reasm_flow_of_mbuf(m, &flow) < 0) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	if (g_app.ts_dynfield >= 0) { /* replays: the capture time travels along */
		*RTE_MBUF_DYNFIELD(m, g_app.ts_dynfield, uint64_t *) = ts_ns / 1000;
		m->ol_flags |= g_app.ts_dynflag;
	}
	m->port = g_app.ports[0].port_id;
	*owner = app_worker_of(&flow, g_app.n_workers);
	return m;
}
