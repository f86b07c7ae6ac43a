#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The appliance's telemetry commands, on a running reasm (docs/appliance.md, "Telemetry").

Two runs, each with two workers (lcores 1 and 2; lcore 0 is the main lcore), captures
generated here:

A. busy: net_pcap infinite_rx replay of 4 complete TCP connections (SYN, data both ways,
   FIN both ways), so streams open, deliver and close again on every loop.
   - /reasm/stats has every documented key and every library counter; between two reads
     the traffic counters grow and no counter but the gauges goes down;
   - /reasm/lcore,1 and /reasm/lcore,2 describe workers 0 and 1; lcore 0 (the main
     lcore), 3 (none) and a malformed id answer null;
   - /reasm/config echoes the options given; /reasm/conns is a list;
   - /reasm/flush,1000 and /reasm/flush_all are answered by every worker;
   - scripts/reasm-top -n 2 prints one row per worker plus a total, twice;
   - dpdk-telemetry.py (DPDK's own client) gets the same answers;
   - SIGTERM: exit 0 and the summary.
B. static: port 0 replays once a capture of 20 connections whose client sent its SYN and
   then i (1..20) segments of 100 bytes after a 1,000-byte hole that is never filled, so
   with --timeout 0 they stay buffered; port 1 (infinite_rx, UDP only) keeps reasm
   running without touching any stream.
   - /reasm/conns lists the 16 directions holding the most pages (20 down to 5), with
     their flow, pages, buffered bytes and last-seen time;
   - per-lcore values sum to /reasm/stats'; conns_opened = open + closed;
   - /reasm/flush,<ten years> flushes nothing; /reasm/flush_all closes the 20 streams
     (conns_closed_flush +20, streams_open 0, no page left, skipped_bytes_flush_all
     20,000), their jsonl lines appear at once, /reasm/conns is then empty;
   - SIGINT: exit 0 and the summary.

Writes a googletest-style XML report ($GTEST_OUTPUT, "xml:PATH"). Exit status 1 if any
check failed.
"""
import argparse
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, frames, gtest, pcap, source_dir  # noqa: E402

SUITE = "AppTelemetry"
WORKER_LCORES = (1, 2)
# What docs/appliance.md promises beyond the library counters (checked against the doc).
APP_KEYS = ("workers", "port_rx_pkts", "port_rx_missed", "port_kernel_drops",
            "port_kernel_rollovers", "port_frames_cut", "port_rx_nombuf", "port_rx_errors",
            "dist_pkts", "dist_ring_full", "rx_pkts", "streams_open", "connections_open",
            "streams_completed",
            "sink_bytes", "sink_write_errors", "streams_unbalanced", "pcap_pkts", "pcap_bytes",
            "pcap_files_created", "pcap_files_reopened", "pcap_files_closed_lru", "pcap_not_tcp",
            "pcap_dropped", "redis_sent", "redis_dropped", "redis_failed", "redis_reconnects",
            "kafka_acked", "kafka_failed", "kafka_dropped", "kafka_chunks_acked",
            "kafka_chunks_failed", "kafka_chunks_dropped", "kafka_content_bytes",
            "kafka_content_dropped_bytes", "kafka_retries", "kafka_request_errors", "kafka_waiting",
            "dist_handoffs", "handoffs_lost", "clock_ns")
GAUGES = ("streams_open", "connections_open", "pages_in_use", "buffered_bytes")
GROWING = ("pkts", "pkts_tcp", "segs", "rx_pkts", "port_rx_pkts", "dist_pkts", "payload_bytes",
           "delivered_bytes", "delivered_records", "conns_closed_fin", "streams_completed",
           "sink_bytes", "clock_ns")
TEN_YEARS_MS = 10 * 365 * 86400 * 1000
HOLE = 1000
SEG = 100
N_HOLED = 20


def library_counters():
    """Counter names, in order, from the X-macro list of lib/reasm/reasm.h."""
    with open(os.path.join(source_dir(), "lib", "reasm", "reasm.h"), encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^\s*X\((\w+),", text, re.M)


def documented_stats_keys():
    """The backticked names of the /reasm/stats row of docs/appliance.md's telemetry table."""
    with open(os.path.join(source_dir(), "docs", "appliance.md"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("| `/reasm/stats` |"):
                # Names in parentheses explain (NIC drops, `imissed`); they are not keys.
                return re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", line))
    return []


def busy_capture(path, now_ns):
    """4 complete connections, small frames (infinite_rx needs them under 2 KiB)."""
    recs, t = [], now_ns
    tcp = frames.tcp_frame
    SYN, ACK, PSH, FIN = frames.TCP_SYN, frames.TCP_ACK, frames.TCP_PSH, frames.TCP_FIN
    for c in range(4):
        cli, srv = "10.9.0.%d" % (c + 1), "10.9.1.1"
        sport, cisn, sisn = 50000 + c, 1000 * (c + 1), 900000 * (c + 1)
        req, resp = bytes([65 + c]) * 200, bytes([97 + c]) * 300
        for fr in (tcp(cli, sport, srv, 80, cisn, SYN),
                   tcp(srv, 80, cli, sport, sisn, SYN | ACK, ack=cisn + 1),
                   tcp(cli, sport, srv, 80, cisn + 1, ACK | PSH, req),
                   tcp(srv, 80, cli, sport, sisn + 1, ACK | PSH, resp),
                   tcp(cli, sport, srv, 80, cisn + 201, ACK | FIN),
                   tcp(srv, 80, cli, sport, sisn + 301, ACK | FIN)):
            recs.append((t, fr))
            t += 1000
    pcap.write(path, recs)


def holed_capture(path, now_ns):
    """N_HOLED clients: SYN, then i segments after a hole. Returns the expected conns."""
    recs, expect, t = [], {}, now_ns
    rng = random.Random(5)  # addresses that spread over both workers
    for i in range(1, N_HOLED + 1):
        cli = "10.8.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254))
        sport, isn = rng.randint(1024, 65535), rng.getrandbits(32)
        recs.append((t, frames.tcp_frame(cli, sport, "10.8.1.1", 80, isn, frames.TCP_SYN)))
        t += 1000
        payload = b""
        for k in range(i):
            data = bytes([(i * 7 + k) & 0xFF]) * SEG
            recs.append((t, frames.tcp_frame(cli, sport, "10.8.1.1", 80,
                                             isn + 1 + HOLE + k * SEG,
                                             frames.TCP_ACK | frames.TCP_PSH, data)))
            payload += data
            last = t
            t += 1000
        expect["%s:%d -> 10.8.1.1:80" % (cli, sport)] = {
            "pages": i, "buffered_bytes": i * SEG, "last_seen_ns": last,
            "sha256": hashlib.sha256(payload).hexdigest(), "sport": sport}
    pcap.write(path, recs)
    return expect


def udp_capture(path, now_ns):
    pcap.write(path, [(now_ns + k * 1000, frames.udp_frame("10.7.0.1", 5353, "10.7.0.2", 53,
                                                           b"x" * 60)) for k in range(8)])


def as_list(conns):
    """/reasm/conns as a list: a JSON array, or a dict keyed by rank "0", "1"..."""
    if isinstance(conns, dict) and all(k.isdigit() for k in conns):
        return [conns[k] for k in sorted(conns, key=int)]
    return conns


def wait_for(tel, cond, timeout=15.0):
    """Poll /reasm/stats until cond(stats) holds; the last stats read."""
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = tel.query("/reasm/stats")
        if st and cond(st):
            return st, True
        time.sleep(0.05)
    return st, False


def check_exit(report, name, bg, sig, jsonl):
    """Stop reasm with sig: exit 0, a summary, every byte accounted for (also per stream)."""
    res = bg.stop(sig, timeout=30)
    summary = appliance.parse_summary(res.stdout)
    report.check(name + "_exit_0", res.rc == 0 and not res.timed_out, lambda: res.describe())
    report.check(name + "_summary", summary is not None,
                 lambda: "no summary in stdout:\n" + res.stdout[-2000:])
    why = appliance.bytes_conserved_problem(summary, appliance.read_jsonl(jsonl)[0])
    report.check(name + "_bytes_conserved", why is None, lambda: why)
    return res, summary


# ---- A: busy ----------------------------------------------------------------------------

WORKER_STAGES = ("rx", "ring", "timestamps", "parse", "lookup", "assemble", "sink", "free",
                 "flush", "other", "idle")
MAIN_STAGES = ("rx", "spread", "enqueue", "defrag", "other", "idle")


def stage_cycles(rt, lcore):
    return sum(v for k, v in rt[lcore].items() if k.endswith("_cycles"))


def check_runtime(report, tel, prefix):
    """/reasm/runtime: every stage of every lcore, adding up to the lcore's time; the switch."""
    r1 = tel.query("/reasm/runtime")
    time.sleep(0.5)
    r2 = tel.query("/reasm/runtime")
    want = {"main": MAIN_STAGES, "worker0": WORKER_STAGES, "worker1": WORKER_STAGES}
    got = {k: v for k, v in r2.items() if isinstance(v, dict)}
    report.equal("runtime_lcores", sorted(got), sorted(want), "/reasm/runtime lcores")
    report.check("runtime_enabled", r2.get("enabled") == 1 and r2.get("tsc_hz", 0) > 0,
                 lambda: "answered %r" % {k: v for k, v in r2.items() if k not in got})
    for name, stages in want.items():
        keys = {"lcore"} | {"%s_%s" % (s, f) for s in stages for f in ("calls", "pkts", "cycles")}
        report.equal("runtime_%s_keys" % name, sorted(got.get(name, {})), sorted(keys))
    if sorted(got) != sorted(want):
        return
    report.equal("runtime_lcore_ids", [got[k]["lcore"] for k in ("main", "worker0", "worker1")],
                 [0] + list(WORKER_LCORES))
    # The stages of a lcore cover its loop: their cycles add up to the TSC time between
    # two reads (within one loop iteration, plus the two reads' own time). A lcore the
    # kernel descheduled across a read (3 polling lcores on 2 CPUs, other tests running)
    # has its pending stage time counted late, so a pair of reads that misses is read
    # again, up to 3 pairs: what is checked is that no part of the loop goes unmarked.
    for name in want:
        a, b, tries = r1, r2, []
        for _ in range(3):
            elapsed = b["tsc"] - a["tsc"]
            spent = stage_cycles(b, name) - stage_cycles(a, name)
            tries.append((spent, elapsed))
            if abs(spent - elapsed) < 0.1 * elapsed:
                break
            a = tel.query("/reasm/runtime")
            time.sleep(0.5)
            b = tel.query("/reasm/runtime")
        report.check("runtime_%s_adds_up" % name, abs(spent - elapsed) < 0.1 * elapsed,
                     lambda: "; ".join("stages %d cycles over %d elapsed" % t for t in tries))
    busy = [(n, s) for n, s in (("main", "rx"), ("main", "spread"), ("main", "enqueue"),
                                ("worker0", "ring"), ("worker0", "parse"),
                                ("worker0", "lookup"), ("worker0", "assemble"),
                                ("worker0", "sink"), ("worker0", "free"))
            if not r2[n][s + "_cycles"] > r1[n][s + "_cycles"]]
    report.check("runtime_busy_stages_grow", not busy, lambda: "did not grow: %s" % busy)
    # What the library parsed is what the worker took from its ring (markers aside).
    w = r2["worker0"]
    report.check("runtime_parse_pkts_le_ring", 0 < w["parse_pkts"] <= w["ring_pkts"],
                 lambda: "parse %d, ring %d" % (w["parse_pkts"], w["ring_pkts"]))
    off = tel.query("/reasm/runtime_enable,0")
    report.equal("runtime_enable_0", off, {"enabled": 0})
    time.sleep(0.2)  # every lcore past its current loop
    a = tel.query("/reasm/runtime")
    time.sleep(0.3)
    b = tel.query("/reasm/runtime")
    moved = [n for n in want if stage_cycles(b, n) != stage_cycles(a, n)]
    report.check("runtime_off_stands_still", b.get("enabled") == 0 and not moved,
                 lambda: "enabled %r, still moving: %s" % (b.get("enabled"), moved))
    on = tel.query("/reasm/runtime_enable,1")
    time.sleep(0.3)
    c = tel.query("/reasm/runtime")
    report.check("runtime_on_again", on == {"enabled": 1} and
                 stage_cycles(c, "worker0") > stage_cycles(b, "worker0"),
                 lambda: "answered %r" % on)
    for bad in ("/reasm/runtime_enable", "/reasm/runtime_enable,2",
                "/reasm/runtime_enable,on"):
        d = tel.raw(bad)
        report.check("runtime_enable_rejects_" + bad.split(",")[-1].split("/")[-1],
                     d == {"/reasm/runtime_enable": None}, lambda: "%s answered %r" % (bad, d))
    top = subprocess.run([sys.executable, os.path.join(source_dir(), "scripts", "reasm-top"),
                          "-f", prefix, "--runtime", "-n", "2", "-i", "0.3"],
                         capture_output=True, text=True, timeout=30)
    shown = {tuple(line.split()[:2]) for line in top.stdout.splitlines()
             if line.startswith(("main/", "worker"))}
    need = {("main/0", "rx"), ("worker0/%d" % WORKER_LCORES[0], "parse"),
            ("worker1/%d" % WORKER_LCORES[1], "assemble")}
    report.check("reasm_top_runtime", top.returncode == 0 and need <= shown and
                 top.stdout.count("reasm-top --runtime") == 2,
                 lambda: "exit %d:\n%s%s" % (top.returncode, top.stdout, top.stderr))


def run_busy(report, reasm, tmp, counters):
    cap = os.path.join(tmp, "busy.pcap")
    busy_capture(cap, time.time_ns() // 1000 * 1000)
    jsonl = os.path.join(tmp, "busy.jsonl")
    opts = ["--sink", "jsonl:" + jsonl, "--sha256", "--quiet", "--timeout", "0",
            "--flush-interval", "250", "--pages-total", "1000", "--pages-per-conn", "64",
            "--max-conns", "4096", "--pages", "2048", "--mbufs", "4096", "--burst", "16",
            "--ring-size", "1024", "--zones", "64", "--runtime-stats", "on",
            "--sensor-id", "tel-sensor.1", "--community-id-seed", "7",
            "--overlap-policy", "last", "--retain-bytes", "1024"]
    want_config = {"workers": 2, "ports": 1, "timeout_ms": 0, "flush_interval_ms": 250,
                   "pages_total": 1000, "pages_per_conn": 64, "max_conns": 4096,
                   "pages": 2048, "page_bytes": 1900, "mbufs": 4096, "burst": 16,
                   "ring_size": 1024, "mbuf_size": 2048, "rx": "auto", "idle_sleep_us": 0,
                   "zones": 64, "overlap_policy": "last", "retain_bytes": 1024,
                   "runtime_stats": 1,
                   "defrag": 0, "defrag_datagrams": 0, "defrag_fragments": 0,
                   "defrag_pages": 0, "defrag_timeout_ms": 0,
                   "sha256": 1, "sink_count": "no", "sink_files": "",
                   "sink_jsonl": jsonl, "sink_pcap": "", "sink_redis": "",
                   "sink_kafka": "",
                   "sensor_id": "tel-sensor.1",
                   "community_id_seed": 7}
    bg = reasm.start(["net_pcap0,rx_pcap=%s,infinite_rx=1" % cap], opts)
    try:
        tel = bg.telemetry()
        if not report.check("busy_telemetry_socket", tel is not None,
                            lambda: "no telemetry socket at %s: %s" % (
                                bg.socket_path(), bg.stop(signal.SIGKILL).describe())):
            return
        s1, ok = wait_for(tel, lambda st: st.get("delivered_bytes", 0) > 0)
        report.check("busy_traffic_flows", ok, lambda: "no byte delivered: %s" % s1)
        time.sleep(0.5)
        s2 = tel.query("/reasm/stats")

        missing = [k for k in APP_KEYS + tuple(counters) if k not in s2]
        report.check("stats_keys", not missing, lambda: "missing keys: %s" % missing)
        extra = sorted(set(s2) - set(APP_KEYS) - set(counters))
        report.check("stats_no_unknown_keys", not extra,
                     lambda: "undocumented keys: %s" % extra)
        report.equal("stats_keys_documented", sorted(documented_stats_keys()),
                     sorted(APP_KEYS), "keys listed for /reasm/stats in docs/appliance.md")
        report.equal("stats_workers", s2.get("workers"), 2)
        report.equal("stats_streams_unbalanced", s2.get("streams_unbalanced"), 0)
        not_grown = [(k, s1.get(k), s2.get(k)) for k in GROWING
                     if not (isinstance(s2.get(k), int) and s2.get(k) > s1.get(k, 0))]
        report.check("stats_counters_grow", not not_grown,
                     lambda: "did not grow between two reads 0.5 s apart: %s" % not_grown)
        shrunk = [(k, s1[k], s2[k]) for k in s1 if k in s2 and k not in GAUGES
                  and isinstance(s1[k], int) and s2[k] < s1[k]]
        report.check("stats_counters_monotonic", not shrunk,
                     lambda: "counters went down: %s" % shrunk)

        for i, lc in enumerate(WORKER_LCORES):
            d = tel.query("/reasm/lcore,%d" % lc)
            ok = isinstance(d, dict) and d.get("lcore") == lc and d.get("worker") == i
            report.check("lcore_%d_is_worker_%d" % (lc, i), ok,
                         lambda: "/reasm/lcore,%d answered %r" % (lc, d))
            if isinstance(d, dict):
                miss = [k for k in counters + ["rx_pkts", "streams_open", "exited"]
                        if k not in d]
                report.check("lcore_%d_keys" % lc, not miss, lambda: "missing: %s" % miss)
                report.check("lcore_%d_busy" % lc, d.get("pkts", 0) > 0 and
                             d.get("exited") == 0, lambda: "worker idle or exited: %r" % d)
        for arg in ("0", "3", "abc", ""):
            cmd = "/reasm/lcore" + ("," + arg if arg else "")
            d = tel.raw(cmd)
            report.check("lcore_%s_null" % (arg or "noparam"), d == {"/reasm/lcore": None},
                         lambda: "%s answered %r, expected null" % (cmd, d))

        cfg = tel.query("/reasm/config")
        report.equal("config_values", cfg, want_config, "/reasm/config")
        conns = as_list(tel.query("/reasm/conns"))
        report.check("conns_is_list", isinstance(conns, list), lambda: "got %r" % conns)

        fl = tel.query("/reasm/flush,1000")
        clock = tel.query("/reasm/stats")["clock_ns"]
        report.check("flush_ms_answered", isinstance(fl, dict) and fl.get("workers_answered") == 2
                     and {"flushed", "closed", "older_than_ns"} <= set(fl)
                     and fl["older_than_ns"] <= clock - 1000 * 1000000,
                     lambda: "/reasm/flush,1000 answered %r (clock %d)" % (fl, clock))
        for case, bad in (("noparam", "/reasm/flush"), ("negative", "/reasm/flush,-5"),
                          ("not_a_number", "/reasm/flush,12x")):
            d = tel.raw(bad)
            report.check("flush_rejects_" + case, d == {"/reasm/flush": None},
                         lambda: "%s answered %r" % (bad, d))
        fa = tel.query("/reasm/flush_all")
        report.check("flush_all_answered", isinstance(fa, dict) and
                     fa.get("workers_answered") == 2 and "closed" in fa,
                     lambda: "/reasm/flush_all answered %r" % fa)

        check_runtime(report, tel, bg.prefix)

        top = subprocess.run([sys.executable, os.path.join(source_dir(), "scripts",
                                                           "reasm-top"),
                              "-f", bg.prefix, "-n", "2", "-i", "0.3"],
                             capture_output=True, text=True, timeout=30)
        rows = [line.split()[0] + " " + line.split()[1] if line.startswith("lcore") else
                line.split()[0] for line in top.stdout.splitlines()
                if line.startswith(("lcore ", "total "))]
        report.check("reasm_top", top.returncode == 0 and
                     rows == ["lcore 1", "lcore 2", "total"] * 2 and
                     top.stdout.count("reasm-top ") == 2,
                     lambda: "reasm-top exit %d, rows %s:\n%s%s" % (
                         top.returncode, rows, top.stdout, top.stderr))

        dt = subprocess.run(["dpdk-telemetry.py", "-f", bg.prefix], input="/reasm/config\n",
                            capture_output=True, text=True, timeout=30)
        report.check("dpdk_telemetry_py", dt.returncode == 0 and
                     '"sink_jsonl": "%s"' % jsonl in dt.stdout and '"workers": 2' in dt.stdout,
                     lambda: "dpdk-telemetry.py exit %d:\n%s%s" % (
                         dt.returncode, dt.stdout[-2000:], dt.stderr[-2000:]))
        tel.close()
        res, summary = check_exit(report, "busy_sigterm", bg, signal.SIGTERM, jsonl)
        if summary:
            objs, errors = appliance.read_jsonl(jsonl)
            report.check("busy_jsonl_matches_summary", not errors and
                         len(objs) == summary["streams"] and
                         sum(o["bytes"] for o in objs) == summary["delivered_bytes"],
                         lambda: "jsonl %d lines %d bytes, errors %s; summary %s" % (
                             len(objs), sum(o.get("bytes", 0) for o in objs), errors[:5],
                             summary))
    finally:
        bg.kill()


# ---- B: static -------------------------------------------------------------------------

def run_static(report, reasm, tmp, counters):
    now = time.time_ns() // 1000 * 1000
    holed, udp = os.path.join(tmp, "holed.pcap"), os.path.join(tmp, "udp.pcap")
    expect = holed_capture(holed, now)
    udp_capture(udp, now)
    jsonl = os.path.join(tmp, "static.jsonl")
    opts = ["--sink", "jsonl:" + jsonl, "--sha256", "--quiet", "--timeout", "0",
            "--pages-total", "0", "--pages-per-conn", "0", "--max-conns", "1024",
            "--pages", "1024"]
    bg = reasm.start(["net_pcap0,rx_pcap=" + holed, "net_pcap1,rx_pcap=%s,infinite_rx=1" % udp],
                     opts)
    try:
        tel = bg.telemetry()
        if not report.check("static_telemetry_socket", tel is not None,
                            lambda: "no telemetry socket: %s" % bg.stop(
                                signal.SIGKILL).describe()):
            return
        total_pages = N_HOLED * (N_HOLED + 1) // 2
        st, ok = wait_for(tel, lambda s: s.get("pages_in_use") == total_pages and
                          s.get("streams_open") == N_HOLED and s.get("drop_not_tcp", 0) > 0)
        report.check("static_all_buffered", ok, lambda: "never reached %d pages in %d streams: "
                     "%s" % (total_pages, N_HOLED, st))
        report.equal("static_buffered_bytes", st.get("buffered_bytes"), total_pages * SEG)
        report.equal("static_no_delivery_yet", st.get("delivered_bytes"), 0)
        report.equal("static_config_ports", tel.query("/reasm/config").get("ports"), 2)

        conns = as_list(tel.query("/reasm/conns"))
        want = sorted(((f, e["pages"], e["buffered_bytes"], e["last_seen_ns"])
                       for f, e in expect.items()), key=lambda x: -x[1])[:16]
        got = [(c.get("flow"), c.get("pages"), c.get("buffered_bytes"), c.get("last_seen_ns"))
               for c in conns] if isinstance(conns, list) else conns
        report.equal("conns_top16", got, want, "/reasm/conns (flow, pages, bytes, last seen)")
        # Their accounting: all received, all buffered, nothing delivered, skipped or overlapping.
        acct = [(c.get("received_bytes"), c.get("delivered_bytes"), c.get("overlap_bytes"),
                 c.get("skipped_bytes")) for c in conns] if isinstance(conns, list) else conns
        report.equal("conns_accounting", acct, [(w[2], 0, 0, 0) for w in want],
                     "/reasm/conns (received, delivered, overlap, skipped bytes)")
        workers = {c.get("worker") for c in conns} if isinstance(conns, list) else set()
        report.check("conns_workers", workers == {0, 1},
                     lambda: "worker ids %s" % workers)

        # Per-lcore numbers add up to the totals (the state does not move: only UDP flows).
        st = tel.query("/reasm/stats")
        per = [tel.query("/reasm/lcore,%d" % lc) for lc in WORKER_LCORES]
        for key in ("streams_open", "pages_in_use", "buffered_bytes", "conns_opened",
                    "payload_bytes", "segs", "streams_completed"):
            total = sum((d or {}).get(key, 0) for d in per)
            report.equal("lcores_sum_" + key, total, st.get(key), "sum over workers vs stats")
        report.check("conns_opened_balance",
                     st.get("conns_opened") == st.get("streams_open") +
                     st.get("conns_closed_fin") + st.get("conns_closed_flush"),
                     lambda: "conns_opened %s != streams_open %s + conns_closed_fin %s + "
                     "conns_closed_flush %s (counter 'stream directions opened')" % (
                         st.get("conns_opened"), st.get("streams_open"),
                         st.get("conns_closed_fin"), st.get("conns_closed_flush")))

        fl = tel.query("/reasm/flush,%d" % TEN_YEARS_MS)
        report.check("flush_old_nothing", fl.get("workers_answered") == 2 and
                     fl.get("flushed") == 0 and fl.get("closed") == 0,
                     lambda: "/reasm/flush,%d answered %r" % (TEN_YEARS_MS, fl))
        report.equal("flush_old_kept_pages", tel.query("/reasm/stats").get("pages_in_use"),
                     total_pages)

        before = tel.query("/reasm/stats")
        fa = tel.query("/reasm/flush_all")
        after = tel.query("/reasm/stats")
        report.check("flush_all_answer", fa.get("workers_answered") == 2 and
                     fa.get("closed") == N_HOLED, lambda: "answered %r, expected 2 workers, "
                     "%d closed" % (fa, N_HOLED))
        report.equal("flush_all_conns_closed_flush",
                     after.get("conns_closed_flush", 0) - before.get("conns_closed_flush", 0),
                     N_HOLED, "conns_closed_flush increase")
        report.check("flush_all_streams_open_drops",
                     before.get("streams_open") == N_HOLED and after.get("streams_open") == 0,
                     lambda: "streams_open %s -> %s" % (before.get("streams_open"),
                                                        after.get("streams_open")))
        report.check("flush_all_pages_freed",
                     after.get("pages_in_use") == 0 and after.get("buffered_bytes") == 0,
                     lambda: "pages_in_use %s buffered_bytes %s" % (
                         after.get("pages_in_use"), after.get("buffered_bytes")))
        report.equal("flush_all_skipped", after.get("skipped_bytes_flush_all"), N_HOLED * HOLE)
        report.equal("flush_all_delivered", after.get("delivered_bytes"), total_pages * SEG)
        report.equal("flush_all_streams_completed", after.get("streams_completed"), N_HOLED)
        report.equal("conns_empty_after_flush_all", as_list(tel.query("/reasm/conns")), [])

        objs, errors = appliance.read_jsonl(jsonl)
        got = sorted((o.get("sport"), o.get("bytes"), o.get("skips"), o.get("skipped_bytes"),
                      o.get("skipped_by_cause", {}).get("flush_all"), o.get("start"),
                      o.get("sha256")) for o in objs)
        want = sorted((e["sport"], e["buffered_bytes"], 1, HOLE, HOLE, True, e["sha256"])
                      for e in expect.values())
        report.check("flush_all_jsonl_written", not errors and got == want,
                     lambda: "errors %s\nexpected %s\ngot %s" % (errors[:5], want, got))
        fl0 = tel.query("/reasm/flush,0")
        report.check("flush_0_after", fl0.get("workers_answered") == 2 and
                     fl0.get("closed") == 0, lambda: "answered %r" % fl0)
        tel.close()
        res, summary = check_exit(report, "static_sigint", bg, signal.SIGINT, jsonl)
        if summary:
            report.equal("static_summary_streams", summary["streams"], N_HOLED)
    finally:
        bg.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_telemetry.xml")
    counters = library_counters()
    if not report.check("counter_list", len(counters) > 30,
                        "could not read the counter list of lib/reasm/reasm.h"):
        return report.finish()
    reasm = appliance.Reasm(args.reasm, "tel")
    with tempfile.TemporaryDirectory(prefix="reasm_e2e_tel_") as tmp:
        run_busy(report, reasm, tmp, counters)
        run_static(report, reasm, tmp, counters)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
