#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Adversarial traffic through the appliance, with its resident memory measured.

Each scenario writes a capture in a temporary directory and replays it through
build/app/reasm (two workers, --sink jsonl --sha256 --quiet --timeout 0) under bounded
limits: --max-conns 4096 --pages 2048 --pages-per-conn 8 --pages-total 1024. While it
runs, /proc/PID/status VmRSS is sampled every 50 ms. Per scenario:

- exit_0: the run ends with status 0 and prints its summary;
- rss_bounded: peak VmRSS minus VmRSS at the first sample (taken once the process is
  reasm, i.e. after exec, before or during EAL init) stays under rss_bound() (formula
  there: the configuration's pools, EAL and libraries, slack);
- rss_over_idle: the peak is less than 16 MiB over the peak of an idle run (UDP only,
  same options): the pools are preallocated, adversarial traffic must not add;
- scenario checks on the summary's counters ("reasm:   <counter> <value>") and the jsonl:
  1 syn_flood: 1,000,000 distinct SYNs (plus 4 real streams opened first, their data
     interleaved with the flood): every SYN opened a direction or was counted in
     table_full_pkts, the real streams delivered byte-exact (sha256), started, without
     skip;
  2 overlap_storm: one stream re-sends its first 1,000 bytes 20,000 times with
     different bytes each time: the stream's bytes are the first copy (plus its tail);
  3 hole_per_packet: 2,000 connections, 20 x 100-byte segments each with a 1-byte hole
     before every segment but the first: skips by page_limit and total_limit counted,
     no page allocation failure, every stream delivers all 2,000 bytes and skips 19;
  4 tiny_mempool: 200 connections, 30 segments each after a 50-byte hole (sent last),
     with --pages 64 per worker and no page limit: the mempool runs dry
     (pages_alloc_failed, skipped_bytes_no_page), and per stream nothing received is lost:
     received = bytes + overlap, the skip is exactly the hole, the bytes exact;
  5 churn: 20,000 SYN/data/RST cycles on one 4-tuple: 20,000 jsonl lines, in order,
     each with exactly that cycle's bytes;
  6 retransmission_flood: 100 connections, every segment sent 10 times and the whole
     stream replayed once more at the end: each stream's bytes exact, payload_bytes is
     11 x the delivered bytes.
  IP fragments, with --defrag --defrag-datagrams 64 --defrag-fragments 16
  --defrag-pages 128 (small, so the bounds mean something):
  7 frag_never_completed: 80,000 first fragments (MF set, no other fragment ever) of
     distinct datagrams, 60,000 IPv4 and 20,000 IPv6 mixed, --defrag-timeout 5: every
     fragment counted (defrag_fragments), each one a datagram that timed out or refused
     for a full table (defrag_timeouts + defrag_drop_table_full = fragments sent), none
     completed, no page left held (defrag_pages 0), no stream;
  8 frag_tiny: 2,000 TCP segments in 24 fragments of 8 bytes (past --defrag-fragments
     16), --defrag-timeout 1: each dropped once (defrag_drop_too_many = 2,000), its 7
     later fragments timed out (defrag_timeouts = 2,000); a segment in exactly 16
     fragments of 8 bytes is reassembled and its stream delivered exactly;
  9 frag_conflict: SYN / data / FIN whose data segment comes in 5 fragments, 2 of them
     overlapping held bytes with other bytes, sent after them: defrag_overlap_bytes =
     defrag_conflict_bytes = 224, the stream's bytes are the first copy;
 10 frag_64k: two 65,515-byte segments (IPv4 total length 65,535) in 8,190 fragments
     of 8 bytes each, one in order, one in reverse order (a page per fragment held), with
     --defrag-fragments 8192 --defrag-pages 8200 --pages 16400: both streams exact
     (bytes, sha256); its RSS is compared with an idle run of the same options
     (frag_64k_idle), its bound grows by the bigger pools at PAGE_RSS a page.

The measured peaks are printed and recorded as notes in the XML report
($GTEST_OUTPUT, "xml:PATH"). Exit status 1 if any check failed.
"""
import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, frames, gtest, pcap  # noqa: E402

SUITE = "AppAdversarial"
SEED = 20261127
T0 = 1700000000 * 10**9

WORKERS = 2
MAX_CONNS = 4096
SYN_FLOOD = 1000000      # distinct SYNs of the flood scenario
PAGES = 2048
PAGES_PER_CONN = 8
PAGES_TOTAL = 1024
MBUFS = 16383            # the appliance's default --mbufs
MBUF_BYTES = 2176 + 256  # RTE_MBUF_DEFAULT_BUF_SIZE + struct rte_mbuf + mempool headers
CONN_BYTES = 512         # per stream-direction slot: struct reasm_conn, hash entry, priv
PAGE_BYTES = 1952        # a page (1900 bytes of data + list links), mempool header included
# What a page costs in RSS under the sandbox's --no-huge: the mempool pads an element to
# 33 cache lines (2,112 bytes, its channel spreading) and an element may not cross a 4 KiB
# page, so each takes a page of its own (measured: 4.0 KiB more RSS per --pages).
PAGE_RSS = 4096
SLACK = 32 << 20
EAL_FIXED = 48 << 20     # shared libraries (DPDK, libpcap...), EAL's memseg tables and heaps
TRAFFIC_SLACK = 16 << 20  # what traffic may add over an idle run's peak

LIMIT_ARGS = ["--max-conns", str(MAX_CONNS), "--pages", str(PAGES),
              "--pages-per-conn", str(PAGES_PER_CONN), "--pages-total", str(PAGES_TOTAL),
              "--timeout", "0"]


def is_sanitized(exe):
    """True when the binary is built with ASan (its RSS has shadow memory and quarantine)."""
    try:
        out = subprocess.run(["nm", "-D", exe], capture_output=True, text=True,
                             timeout=30).stdout
        if "__asan_init" in out:
            return True
        out = subprocess.run(["ldd", exe], capture_output=True, text=True, timeout=30).stdout
        return "libasan" in out
    except (OSError, subprocess.SubprocessError):
        return False


def rss_bound(sanitized):
    """Bound on peak RSS growth, in bytes, from the configuration:

    WORKERS x (MAX_CONNS x CONN_BYTES + PAGES x PAGE_BYTES) + MBUFS x MBUF_BYTES
    + EAL_FIXED (48 MiB) + SLACK (32 MiB),
    and under ASan that times 9/8 (shadow) plus 64 MiB (its allocator, quarantine).
    """
    b = (WORKERS * (MAX_CONNS * CONN_BYTES + PAGES * PAGE_BYTES) + MBUFS * MBUF_BYTES +
         EAL_FIXED + SLACK)
    if sanitized:
        b = b * 9 // 8 + (64 << 20)
    return b


# ---- frames -----------------------------------------------------------------

def frame(src, sport, dst, dport, seq, flags, payload=b""):
    """Ethernet/IPv4/TCP frame, ack 1; src and dst are 4-byte addresses (fast path)."""
    return frames.tcp_frame(src, sport, dst, dport, seq, flags, payload, ack=1)


class Writer:
    """A capture whose frames are 1 us apart, from T0."""

    def __init__(self, path):
        self.w = pcap.Writer(path)
        self.t = T0
        self.n = 0

    def add(self, fr):
        self.w.add(self.t, fr)
        self.t += 1000
        self.n += 1

    def close(self):
        self.w.close()


SRV = frames.ip4("10.200.0.1")
DATA = frames.TCP_ACK | frames.TCP_PSH


def cli_addr(i):
    return ((10 << 24) | (1 << 16) + i).to_bytes(4, "big")


# ---- running with RSS sampling ------------------------------------------------------

def vm_rss(pid):
    """(name, VmRSS in bytes) of the process, or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            txt = f.read()
    except OSError:
        return None
    name, rss = None, None
    for line in txt.splitlines():
        if line.startswith("Name:"):
            name = line.split(None, 1)[1].strip() if len(line.split()) > 1 else ""
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return name, rss


def run_sampled(reasm, cap, jsonl, limits, timeout=120.0):
    """Replay cap; returns (RunResult, first RSS, peak RSS, samples, seconds)."""
    t0 = time.monotonic()
    bg = reasm.start(["net_pcap0,rx_pcap=" + cap],
                     ["--sink", "jsonl:" + jsonl, "--sha256", "--quiet"] + limits)
    first, peak, samples = None, 0, 0
    exe_name = os.path.basename(reasm.exe)[:15]
    try:
        while bg.alive() and time.monotonic() - t0 < timeout:
            s = vm_rss(bg.proc.pid)
            if s is not None and s[1] is not None and s[0] == exe_name:
                if first is None:
                    first = s[1]
                peak = max(peak, s[1])
                samples += 1
            time.sleep(0.05)
        res = bg.stop(None, timeout=max(1.0, timeout - (time.monotonic() - t0)))
    finally:
        bg.kill()
    return res, first, peak, samples, time.monotonic() - t0


PEAKS = {}  # scenario -> peak VmRSS


def run_scenario(report, reasm, name, cap, jsonl, bounds, limits=None):
    """Run, check exit 0, summary and RSS; returns (summary, jsonl objects) or None.

    bounds: (RSS growth bound, peak RSS of an idle run or None); limits: reasm's
    limit options (LIMIT_ARGS unless given: smaller pools only, so the bounds hold).
    """
    bound, idle_peak = bounds
    res, first, peak, samples, secs = run_sampled(reasm, cap, jsonl, limits or LIMIT_ARGS)
    summary = appliance.parse_summary(res.stdout)
    PEAKS[name] = peak
    growth = (peak - first) if first is not None else None
    note = "%s: %.1fs, %d RSS samples, first %.1f MiB, peak %.1f MiB, growth %s MiB " \
           "(bound %.1f MiB)" % (name, secs, samples, (first or 0) / 2**20, peak / 2**20,
                                 "%.1f" % (growth / 2**20) if growth is not None else "?",
                                 bound / 2**20)
    print(note, flush=True)
    report.check(name + ".exit_0", res.rc == 0 and not res.timed_out and summary is not None,
                 lambda: res.describe())
    report.check(name + ".rss_bounded", growth is not None and samples >= 1 and growth < bound,
                 lambda: note, note=note)
    if idle_peak is not None:
        report.check(name + ".rss_over_idle", peak - idle_peak < TRAFFIC_SLACK,
                     lambda: "peak %.1f MiB, an idle run's peak %.1f MiB: more than %d MiB over"
                     % (peak / 2**20, idle_peak / 2**20, TRAFFIC_SLACK >> 20))
    if summary is None:
        return None, None
    objs, errors = appliance.read_jsonl(jsonl)
    report.check(name + ".jsonl_valid", not errors, lambda: "\n".join(errors[:20]))
    why = appliance.bytes_conserved_problem(summary, objs)
    report.check(name + ".bytes_conserved", why is None, lambda: why)
    return summary, objs


def ctr(summary, key):
    return summary["counters"].get(key, 0)


def counters_text(summary):
    return " ".join("%s=%d" % kv for kv in sorted(summary["counters"].items()))


def exact(o, data):
    return (o.get("bytes") == len(data) and o.get("sha256") == hashlib.sha256(data).hexdigest()
            and o.get("start") and not o.get("skips") and not o.get("skip_unknown"))


# ---- scenarios ----------------------------------------------------------------------

def syn_flood(report, reasm, tmp, bound, rng):
    cap, jsonl = os.path.join(tmp, "syn.pcap"), os.path.join(tmp, "syn.jsonl")
    w = Writer(cap)
    flood = SYN_FLOOD
    real = []
    for i in range(4):
        src, sport, isn = frames.ip4("10.9.0.%d" % (i + 1)), 40000 + i, rng.getrandbits(32)
        real.append((src, sport, isn, rng.randbytes(200 * 100)))
        w.add(frame(src, sport, SRV, 80, isn, frames.TCP_SYN))
    off = 0
    for k in range(flood):
        w.add(frame(cli_addr(k // 50000 * 65536 + k % 50000 // 250), 1024 + k % 250 + 250 *
                    (k // 50000), SRV, 443, k * 7919, frames.TCP_SYN))
        if k % 1000 == 999 and off < 200 * 100:
            for src, sport, isn, data in real:
                w.add(frame(src, sport, SRV, 80, isn + 1 + off, DATA, data[off:off + 100]))
            off += 100
    w.close()
    summary, objs = run_scenario(report, reasm, "syn_flood", cap, jsonl, bound)
    if summary is None:
        return
    print("syn_flood: %d SYNs sent, %d directions opened, %d refused (table_full_pkts)" % (
        flood + 4, ctr(summary, "conns_opened"), ctr(summary, "table_full_pkts")), flush=True)
    # Every SYN either opened a direction or was refused and counted: the 4 real ones
    # open first, the tables fill up, every later SYN is refused.
    report.check("syn_flood.table_full_counted",
                 ctr(summary, "table_full_pkts") > 0 and
                 ctr(summary, "conns_opened") <= WORKERS * MAX_CONNS and
                 ctr(summary, "table_full_pkts") + ctr(summary, "conns_opened") == flood + 4,
                 lambda: "%d SYNs sent: %s" % (flood + 4, counters_text(summary)))
    bad = []
    for src, sport, isn, data in real:
        lines = [o for o in objs if o.get("sport") == sport and o.get("dport") == 80]
        if len(lines) != 1 or not exact(lines[0], data):
            bad.append("%d: %r" % (sport, lines))
    report.check("syn_flood.real_streams_exact", not bad, lambda: "\n".join(bad))


def overlap_storm(report, reasm, tmp, bound, rng):
    cap, jsonl = os.path.join(tmp, "ovl.pcap"), os.path.join(tmp, "ovl.jsonl")
    w = Writer(cap)
    src, isn = frames.ip4("10.8.0.1"), rng.getrandbits(32)
    first = rng.randbytes(1000)
    tail = rng.randbytes(500)
    w.add(frame(src, 5555, SRV, 80, isn, frames.TCP_SYN))
    w.add(frame(src, 5555, SRV, 80, isn + 1, DATA, first))
    copies = 20000
    for k in range(copies):
        w.add(frame(src, 5555, SRV, 80, isn + 1, DATA, bytes([(k % 255) + 1]) * 1000))
    w.add(frame(src, 5555, SRV, 80, isn + 1001, DATA, tail))
    w.close()
    summary, objs = run_scenario(report, reasm, "overlap_storm", cap, jsonl, bound)
    if summary is None:
        return
    report.check("overlap_storm.first_copy_delivered", len(objs) == 1 and
                 exact(objs[0], first + tail),
                 lambda: "expected %d bytes sha256 %s: %r" % (
                     len(first + tail), hashlib.sha256(first + tail).hexdigest(), objs))
    report.check("overlap_storm.counters", ctr(summary, "delivered_bytes") == 1500 and
                 ctr(summary, "payload_bytes") == 1500 + copies * 1000 and
                 ctr(summary, "pages_alloc_failed") == 0,
                 lambda: counters_text(summary))


def hole_per_packet(report, reasm, tmp, bound, rng):
    cap, jsonl = os.path.join(tmp, "hole.pcap"), os.path.join(tmp, "hole.jsonl")
    w = Writer(cap)
    conns, segs = 2000, 20
    isns = [rng.getrandbits(32) for _ in range(conns)]
    for c in range(conns):
        w.add(frame(cli_addr(c // 250), 2000 + c % 250, SRV, 80, isns[c], frames.TCP_SYN))
    payload = bytes(range(100))
    for k in range(segs):
        for c in range(conns):
            w.add(frame(cli_addr(c // 250), 2000 + c % 250, SRV, 80, isns[c] + 1 + 101 * k,
                        DATA, payload))
    w.close()
    summary, objs = run_scenario(report, reasm, "hole_per_packet", cap, jsonl, bound)
    if summary is None:
        return
    # 1,000 connections per worker reach --pages-total 1024 before any reaches
    # --pages-per-conn 8: the holes are skipped by total_limit, the last ones by flush_all.
    causes = sum(ctr(summary, k) for k in (
        "skipped_bytes_page_limit", "skipped_bytes_total_limit", "skipped_bytes_no_page",
        "skipped_bytes_flush", "skipped_bytes_flush_all"))
    report.check("hole_per_packet.skips_by_cause",
                 causes == summary["skipped_bytes"] == conns * (segs - 1) and
                 ctr(summary, "skipped_bytes_total_limit") > 0 and
                 ctr(summary, "skipped_bytes_flush_all") > 0 and
                 ctr(summary, "skipped_bytes_no_page") == 0 and
                 ctr(summary, "pages_alloc_failed") == 0,
                 lambda: counters_text(summary))
    bad = [o for o in objs if o.get("bytes") != segs * 100 or o.get("skipped_bytes") != segs - 1
           or not o.get("start")]
    report.check("hole_per_packet.streams", len(objs) == conns and not bad,
                 lambda: "%d lines (want %d), %d wrong, e.g. %r" % (
                     len(objs), conns, len(bad), bad[:3]))
    report.check("hole_per_packet.totals",
                 summary["delivered_bytes"] == conns * segs * 100 and
                 summary["skipped_bytes"] == conns * (segs - 1),
                 lambda: "delivered %d skipped %d" % (summary["delivered_bytes"],
                                                      summary["skipped_bytes"]))


def tiny_mempool(report, reasm, tmp, bound, rng):
    """200 streams, each 30 segments after a 50-byte hole, into 64 pages per worker and no
    page limit: the mempool runs dry. Nothing received may be lost: a stream that cannot
    get a page skips its hole (cause no_page) and takes the data directly; the late hole
    filler is then overlap."""
    cap, jsonl = os.path.join(tmp, "tiny.pcap"), os.path.join(tmp, "tiny.jsonl")
    w = Writer(cap)
    conns, segs, hole = 200, 30, 50
    isns = [rng.getrandbits(32) for _ in range(conns)]
    datas = [rng.randbytes(hole + segs * 100) for _ in range(conns)]
    for c in range(conns):
        w.add(frame(cli_addr(c), 5000 + c, SRV, 80, isns[c], frames.TCP_SYN))
    for k in range(segs):
        for c in range(conns):
            off = hole + 100 * k
            w.add(frame(cli_addr(c), 5000 + c, SRV, 80, isns[c] + 1 + off, DATA,
                        datas[c][off:off + 100]))
    for c in range(conns):  # the holes, last
        w.add(frame(cli_addr(c), 5000 + c, SRV, 80, isns[c] + 1, DATA, datas[c][:hole]))
    w.close()
    limits = ["--max-conns", str(MAX_CONNS), "--pages", "64", "--pages-per-conn", "0",
              "--pages-total", "0", "--timeout", "0"]
    summary, objs = run_scenario(report, reasm, "tiny_mempool", cap, jsonl, bound, limits)
    if summary is None:
        return
    report.check("tiny_mempool.exhausted_and_counted",
                 ctr(summary, "pages_alloc_failed") > 0 and
                 ctr(summary, "skipped_bytes_no_page") > 0 and
                 ctr(summary, "skipped_bytes_no_page") == summary["skipped_bytes"],
                 lambda: counters_text(summary))
    # Per stream: every received byte delivered or (the hole filler after its hole was
    # skipped) overlap; what was skipped is exactly the hole; what was delivered is exact.
    by_port = {o.get("sport"): o for o in objs}
    bad = []
    for c in range(conns):
        o, data = by_port.get(5000 + c), datas[c]
        if o is None:
            bad.append("%d: no line" % (5000 + c))
            continue
        skipped = o.get("skipped_bytes")
        want = data if skipped == 0 else data[hole:]
        if not (o.get("received") == len(data) and o.get("discarded") == 0 and
                skipped in (0, hole) and o.get("overlap") == skipped and
                o.get("bytes") == len(want) and
                o.get("sha256") == hashlib.sha256(want).hexdigest()):
            bad.append("%d: %r" % (5000 + c, o))
    report.check("tiny_mempool.nothing_received_lost", len(objs) == conns and not bad,
                 lambda: "%d lines, %d wrong:\n%s" % (len(objs), len(bad), "\n".join(bad[:5])))
    print("tiny_mempool: %d page requests refused, %d streams skipped their hole, %d bytes "
          "delivered" % (ctr(summary, "pages_alloc_failed"),
                         sum(1 for o in objs if o.get("skipped_bytes")),
                         summary["delivered_bytes"]), flush=True)


def churn(report, reasm, tmp, bound, rng):
    cap, jsonl = os.path.join(tmp, "churn.pcap"), os.path.join(tmp, "churn.jsonl")
    w = Writer(cap)
    src = frames.ip4("10.7.0.1")
    cycles = 20000
    want = []
    for k in range(cycles):
        isn = rng.getrandbits(32)
        data = b"cycle %06d " % k + rng.randbytes(k % 40)
        want.append(hashlib.sha256(data).hexdigest())
        w.add(frame(src, 7777, SRV, 80, isn, frames.TCP_SYN))
        w.add(frame(src, 7777, SRV, 80, isn + 1, DATA, data))
        w.add(frame(src, 7777, SRV, 80, isn + 1 + len(data), frames.TCP_RST))
    w.close()
    summary, objs = run_scenario(report, reasm, "churn", cap, jsonl, bound)
    if summary is None:
        return
    got = [o.get("sha256") for o in objs]
    bad = [i for i in range(min(len(got), cycles)) if got[i] != want[i] or not objs[i].get("start")]
    report.check("churn.lines_exact", len(objs) == cycles and not bad,
                 lambda: "%d lines (want %d), %d differ, first at %s: %r" % (
                     len(objs), cycles, len(bad), bad[:1], objs[bad[0]] if bad else None))
    report.check("churn.counters", ctr(summary, "conns_opened") == cycles and
                 ctr(summary, "conns_closed_fin") == cycles,
                 lambda: counters_text(summary))


def retransmission_flood(report, reasm, tmp, bound, rng):
    cap, jsonl = os.path.join(tmp, "rtx.pcap"), os.path.join(tmp, "rtx.jsonl")
    w = Writer(cap)
    conns, segs, times = 100, 50, 10
    isns = [rng.getrandbits(32) for _ in range(conns)]
    datas = [rng.randbytes(segs * 80) for _ in range(conns)]
    for c in range(conns):
        w.add(frame(cli_addr(c), 3000 + c, SRV, 80, isns[c], frames.TCP_SYN))
    for k in range(segs):
        for c in range(conns):
            fr = frame(cli_addr(c), 3000 + c, SRV, 80, isns[c] + 1 + 80 * k, DATA,
                       datas[c][80 * k:80 * k + 80])
            for _ in range(times):
                w.add(fr)
    for k in range(segs):  # the whole stream once more
        for c in range(conns):
            w.add(frame(cli_addr(c), 3000 + c, SRV, 80, isns[c] + 1 + 80 * k, DATA,
                        datas[c][80 * k:80 * k + 80]))
    w.close()
    summary, objs = run_scenario(report, reasm, "retransmission_flood", cap, jsonl, bound)
    if summary is None:
        return
    by_port = {o.get("sport"): o for o in objs}
    bad = [c for c in range(conns) if not (3000 + c in by_port and
                                           exact(by_port[3000 + c], datas[c]))]
    report.check("retransmission_flood.streams_exact", len(objs) == conns and not bad,
                 lambda: "%d lines, wrong: %r" % (len(objs), bad[:10]))
    total = conns * segs * 80
    report.check("retransmission_flood.counters",
                 ctr(summary, "delivered_bytes") == total and
                 ctr(summary, "payload_bytes") == total * (times + 1),
                 lambda: counters_text(summary))


# ---- IP fragment floods (--defrag) ---------------------------------------------------

DEFRAG_DATAGRAMS, DEFRAG_FRAGMENTS, DEFRAG_PAGES = 64, 16, 128
DEFRAG_ARGS = ["--defrag", "--defrag-datagrams", str(DEFRAG_DATAGRAMS), "--defrag-fragments",
               str(DEFRAG_FRAGMENTS), "--defrag-pages", str(DEFRAG_PAGES)]


def frag4_frame(src, dst, data, ident, offset, more, proto=frames.PROTO_TCP):
    """Ethernet/IPv4 fragment (DF clear, MF if more) holding data at byte offset."""
    return frames.ethernet(frames.MAC_B, frames.MAC_A, frames.ETH_IPV4,
                           frames.ipv4_fragment(src, dst, proto, data, ident, offset, more))


def frag6_frame(src, dst, data, ident, offset, more, proto=frames.PROTO_TCP):
    """Ethernet/IPv6 with a Fragment header holding data at byte offset."""
    return frames.ethernet(frames.MAC_B, frames.MAC_A, frames.ETH_IPV6, frames.ipv6_raw(
        src, dst, frames.PROTO_FRAGMENT,
        frames.ipv6_fragment_header(proto, offset, more, ident) + data))


def tcp_datagram(src, sport, dst, dport, seq, payload):
    """The IP payload of a data segment (TCP header + payload), to be fragmented."""
    return frames.tcp(sport, dport, seq, DATA, payload, ack=1)


def defrag_counters(summary):
    return " ".join("%s=%d" % (k, v) for k, v in sorted(summary["counters"].items())
                    if k.startswith("defrag") or k in ("conns_opened",))


def frag_never_completed(report, reasm, tmp, bound, rng):
    """80,000 first fragments (MF set, no other fragment ever) of distinct datagrams,
    IPv4 and IPv6 mixed, into --defrag-datagrams 64 with a 5 ms --defrag-timeout: every
    fragment is counted, and each either started a datagram that timed out (during the
    run or at the end) or was refused for a full table; no datagram completes, no page
    stays held, memory stays flat."""
    cap, jsonl = os.path.join(tmp, "fragnc.pcap"), os.path.join(tmp, "fragnc.jsonl")
    w = Writer(cap)
    n4, n6 = 60000, 20000
    body = rng.randbytes(1000)
    for k in range(n4 + n6):
        if k % 4 == 3 and k // 4 < n6:  # one IPv6 fragment in four, until n6 are sent
            src = bytes.fromhex("20010db8000000000000000000%06x" % (k % 4096))
            w.add(frag6_frame(src, bytes.fromhex("20010db80000000000000000000000c8"),
                              body[8 * (k % 25):], k * 2654435761, 0, True))
        else:  # a multiple of 8 bytes (MF set), 800 to 1,000
            w.add(frag4_frame(cli_addr(k % 4096), SRV, body[8 * (k % 25):], k // 4096, 0,
                              True))
    w.close()
    sent = w.n
    limits = LIMIT_ARGS + DEFRAG_ARGS + ["--defrag-timeout", "5"]
    summary, objs = run_scenario(report, reasm, "frag_never_completed", cap, jsonl, bound,
                                 limits)
    if summary is None:
        return
    print("frag_never_completed: %d first fragments sent (%d IPv4, %d IPv6): %s" % (
        sent, n4, n6, defrag_counters(summary)), flush=True)
    report.check("frag_never_completed.every_fragment_counted",
                 sent == n4 + n6 and ctr(summary, "defrag_fragments") == sent,
                 lambda: "%d fragments sent: %s" % (sent, counters_text(summary)))
    report.check("frag_never_completed.timeouts_and_table_full",
                 ctr(summary, "defrag_drop_table_full") > 0 and
                 ctr(summary, "defrag_timeouts") > DEFRAG_DATAGRAMS and
                 ctr(summary, "defrag_drop_table_full") + ctr(summary, "defrag_timeouts") ==
                 sent and ctr(summary, "defrag_datagrams") == 0 and
                 ctr(summary, "defrag_drop_no_page") == 0 and
                 ctr(summary, "defrag_drop_bad") == 0 and
                 ctr(summary, "defrag_drop_too_many") == 0,
                 lambda: "%d fragments sent: %s" % (sent, counters_text(summary)))
    report.check("frag_never_completed.pages_released",
                 ctr(summary, "defrag_pages") == 0 and not objs and
                 summary["tcp_segments"] == 0,
                 lambda: "%d jsonl lines: %s" % (len(objs), counters_text(summary)))


def frag_tiny(report, reasm, tmp, bound, rng):
    """2,000 datagrams (TCP segments of 172 bytes) in 24 fragments of 8 bytes, beyond
    --defrag-fragments 16: the 17th fragment drops each (defrag_drop_too_many), the 7
    after it start a datagram that never completes (defrag_timeouts: --defrag-timeout
    1 ms, the capture's frames 1 us apart, so at most ~42 wait at once, under 64). One
    connection's segment in exactly 16 fragments of 8 bytes is reassembled and
    delivered, byte-exact."""
    cap, jsonl = os.path.join(tmp, "fragtiny.pcap"), os.path.join(tmp, "fragtiny.jsonl")
    w = Writer(cap)
    n, nfr = 2000, 24
    csrc, isn = frames.ip4("10.5.0.1"), rng.getrandbits(32)
    ok_data = rng.randbytes(DEFRAG_FRAGMENTS * 8 - 20)
    w.add(frame(csrc, 6000, SRV, 80, isn, frames.TCP_SYN))
    dg = tcp_datagram(csrc, 6000, SRV, 80, isn + 1, ok_data)
    for i in range(DEFRAG_FRAGMENTS):
        w.add(frag4_frame(csrc, SRV, dg[8 * i:8 * i + 8], 7, 8 * i, i + 1 < DEFRAG_FRAGMENTS))
    w.add(frame(csrc, 6000, SRV, 80, isn + 1 + len(ok_data), frames.TCP_FIN | frames.TCP_ACK))
    for k in range(n):
        dg = tcp_datagram(cli_addr(k), 6100, SRV, 80, k, rng.randbytes(nfr * 8 - 20))
        for i in range(nfr):
            w.add(frag4_frame(cli_addr(k), SRV, dg[8 * i:8 * i + 8], k, 8 * i, i + 1 < nfr))
    w.close()
    sent = w.n - 2
    summary, objs = run_scenario(report, reasm, "frag_tiny", cap, jsonl, bound,
                                 LIMIT_ARGS + DEFRAG_ARGS + ["--defrag-timeout", "1"])
    if summary is None:
        return
    print("frag_tiny: %d fragments of 8 bytes sent (%d datagrams of %d, 1 of %d): %s" % (
        sent, n, nfr, DEFRAG_FRAGMENTS, defrag_counters(summary)), flush=True)
    report.check("frag_tiny.too_many_dropped",
                 ctr(summary, "defrag_fragments") == sent and
                 ctr(summary, "defrag_drop_too_many") == n and
                 ctr(summary, "defrag_timeouts") == n and
                 ctr(summary, "defrag_datagrams") == 1 and
                 ctr(summary, "defrag_drop_table_full") == 0 and
                 ctr(summary, "defrag_drop_no_page") == 0 and
                 ctr(summary, "defrag_pages") == 0,
                 lambda: "%d fragments sent, %d datagrams of %d: %s" % (
                     sent, n, nfr, counters_text(summary)))
    report.check("frag_tiny.limit_datagram_delivered",
                 len(objs) == 1 and exact(objs[0], ok_data) and
                 summary["tcp_segments"] == 3,
                 lambda: "want one stream of %d bytes: %r; %s" % (
                     len(ok_data), objs, counters_text(summary)))


def frag_conflict(report, reasm, tmp, bound, rng):
    """A connection (SYN / data / FIN) whose data segment (20 + 400 bytes) comes in
    fragments, two of them overlapping what is already held with different bytes, sent
    after the copy they overlap: A [0,216) MF, X [104,216) conflicting, B [216,320) MF,
    Y [208,320) conflicting, C [320,420) last. 224 bytes overlap and all differ; the
    first copy is kept: the stream's bytes are the original's."""
    cap, jsonl = os.path.join(tmp, "fragcf.pcap"), os.path.join(tmp, "fragcf.jsonl")
    w = Writer(cap)
    src, isn = frames.ip4("10.4.0.1"), rng.getrandbits(32)
    data = rng.randbytes(400)
    dg = tcp_datagram(src, 7000, SRV, 80, isn + 1, data)
    evil = bytes(b ^ 0xA5 for b in dg)
    w.add(frame(src, 7000, SRV, 80, isn, frames.TCP_SYN))
    for lo, hi, src_bytes in ((0, 216, dg), (104, 216, evil), (216, 320, dg), (208, 320, evil),
                              (320, 420, dg)):
        w.add(frag4_frame(src, SRV, src_bytes[lo:hi], 0x4242, lo, hi < len(dg)))
    w.add(frame(src, 7000, SRV, 80, isn + 1 + len(data), frames.TCP_FIN | frames.TCP_ACK))
    w.close()
    summary, objs = run_scenario(report, reasm, "frag_conflict", cap, jsonl, bound,
                                 LIMIT_ARGS + DEFRAG_ARGS)
    if summary is None:
        return
    print("frag_conflict: 5 fragments, 224 bytes overlapping with other bytes: %s" % (
        defrag_counters(summary)), flush=True)
    report.check("frag_conflict.counted",
                 ctr(summary, "defrag_fragments") == 5 and
                 ctr(summary, "defrag_datagrams") == 1 and
                 ctr(summary, "defrag_overlap_bytes") == 224 and
                 ctr(summary, "defrag_conflict_bytes") == 224 and
                 ctr(summary, "defrag_timeouts") == 0 and
                 ctr(summary, "defrag_pages") == 0,
                 lambda: counters_text(summary))
    report.check("frag_conflict.first_copy_kept", len(objs) == 1 and exact(objs[0], data),
                 lambda: "expected %d bytes sha256 %s: %r" % (
                     len(data), hashlib.sha256(data).hexdigest(), objs))


def frag_64k(report, reasm, tmp, bound, rng):
    """Two connections, each with one 65,515-byte data segment (IPv4 total length 65,535)
    in 8,190 fragments of 8 bytes (the last 3), with --defrag-fragments 8192 and
    --defrag-pages 8200: one in order, one in reverse order (every fragment a page of its
    own until the datagram completes). Each stream is reassembled exactly."""
    cap, jsonl = os.path.join(tmp, "frag64k.pcap"), os.path.join(tmp, "frag64k.jsonl")
    w = Writer(cap)
    plen = 65535 - 20
    want = {}
    nfrags = 0
    for c, order in ((0, 1), (1, -1)):
        src, sport, isn = frames.ip4("10.3.0.%d" % (c + 1)), 8000 + c, rng.getrandbits(32)
        data = rng.randbytes(plen - 20)
        want[sport] = data
        dg = tcp_datagram(src, sport, SRV, 80, isn + 1, data)
        w.add(frame(src, sport, SRV, 80, isn, frames.TCP_SYN))
        offs = list(range(0, plen, 8))[::order]
        for off in offs:
            w.add(frag4_frame(src, SRV, dg[off:off + 8], 0x6400 + c, off, off + 8 < plen))
        nfrags += len(offs)
        w.add(frame(src, sport, SRV, 80, isn + 1 + len(data), frames.TCP_FIN | frames.TCP_ACK))
    w.close()
    # --defrag-pages is at most --pages / 2 (the workers' pools grow with it, though the
    # RX lcore's defragmenter, whose pool holds --defrag-pages, does all the work here).
    pages, dpages = 16400, 8200
    limits = ["--max-conns", str(MAX_CONNS), "--pages", str(pages), "--pages-per-conn",
              str(PAGES_PER_CONN), "--pages-total", str(PAGES_TOTAL), "--timeout", "0",
              "--defrag", "--defrag-datagrams", str(DEFRAG_DATAGRAMS), "--defrag-fragments",
              "8192", "--defrag-pages", str(dpages)]
    # Bigger page pools than the other runs: the bound grows by them at PAGE_RSS a page,
    # and an idle run with these options (the idle capture again) gives the peak that the
    # traffic must stay within TRAFFIC_SLACK of.
    big = bound[0] + (WORKERS * (pages - PAGES) + dpages) * PAGE_RSS
    run_scenario(report, reasm, "frag_64k_idle", os.path.join(tmp, "idle.pcap"),
                 os.path.join(tmp, "frag64k_idle.jsonl"), (big, None), limits)
    summary, objs = run_scenario(report, reasm, "frag_64k", cap, jsonl,
                                 (big, PEAKS.get("frag_64k_idle")), limits)
    if summary is None:
        return
    print("frag_64k: 2 datagrams of 65,535 bytes, %d fragments: %s" % (
        nfrags, defrag_counters(summary)), flush=True)
    report.check("frag_64k.counters",
                 ctr(summary, "defrag_fragments") == nfrags and nfrags == 2 * 8190 and
                 ctr(summary, "defrag_datagrams") == 2 and
                 not any(ctr(summary, k) for k in (
                     "defrag_timeouts", "defrag_drop_too_many", "defrag_drop_bad",
                     "defrag_drop_table_full", "defrag_drop_no_page", "defrag_pages",
                     "defrag_overlap_bytes")),
                 lambda: counters_text(summary))
    by_port = {o.get("sport"): o for o in objs}
    bad = ["%d: %r" % (p, by_port.get(p)) for p, d in sorted(want.items())
           if not (p in by_port and exact(by_port[p], d))]
    report.check("frag_64k.reassembled_exact", len(objs) == 2 and not bad,
                 lambda: "want 2 streams of %d bytes (sha256 %s): %s" % (
                     plen - 20, " ".join(hashlib.sha256(d).hexdigest()[:16]
                                         for d in want.values()), "\n".join(bad) or objs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_adversarial.xml")
    reasm = appliance.Reasm(args.reasm, "adv")
    bound = rss_bound(is_sanitized(reasm.exe))
    print("RSS growth bound: %.1f MiB" % (bound / 2**20), flush=True)
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="reasm_e2e_adv_") as tmp:
        # An idle run with the same options: EAL, libraries and the pools, no stream
        # (100,000 UDP frames, dropped as not TCP, keep it running long enough for the
        # 50 ms samples to see its steady state).
        cap = os.path.join(tmp, "idle.pcap")
        w = Writer(cap)
        udp = frames.udp_frame("10.6.0.1", 53, "10.200.0.1", 53, b"x" * 64)
        for _ in range(100000):
            w.add(udp)
        w.close()
        run_scenario(report, reasm, "idle", cap, os.path.join(tmp, "idle.jsonl"), (bound, None))
        bound = (bound, PEAKS.get("idle"))
        for scenario in (syn_flood, overlap_storm, hole_per_packet, tiny_mempool, churn,
                         retransmission_flood, frag_never_completed, frag_tiny,
                         frag_conflict, frag_64k):
            t = time.monotonic()
            scenario(report, reasm, tmp, bound, rng)
            print("%s: %.1fs in all" % (scenario.__name__, time.monotonic() - t), flush=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
