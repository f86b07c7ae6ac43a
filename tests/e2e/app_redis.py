#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The redis sink against a real redis-server (Debian's), started here on loopback.

A. a gencap capture replayed once, 2 workers, `--sink jsonl:J --sha256 --sink
   redis:127.0.0.1:PORT,stream=S --sensor-id e2e-redis`:
     exit_ok             exit 0 and the summary's redis line: sent == stream directions,
                         dropped 0, failed 0;
     every_record        XLEN S == the jsonl's lines, and the entries' "record" fields are
                         the jsonl objects (as a multiset);
     matches_generator   the records give gencap's expected rows (MODEL_KEYS: bytes,
                         sha256, records, skips, start, end): independent truth;
     fields              every entry's community_id is the specification's (reasmkit's own
                         implementation) for its 4-tuple, its sensor e2e-redis;
B. the server killed mid-run: a churning capture replayed for ever (streams complete all
   the time), the server SIGKILLed once records flow, started again 2 s later on the same
   port:
     keeps_running       reasm's packet counter grows while the server is away;
     loss_counted        redis_failed + redis_dropped > 0 (or records waited in the queue:
                         sent catches up) and nothing is silently lost: at exit, sent +
                         dropped + failed == completed stream directions;
     reconnects          redis_reconnects >= 1 and the new server receives entries;
     exit_status         SIGINT: exit 1 when records were lost (as for a failed write),
                         0 otherwise, with a "reasm: redis sink:" message for the loss;
C. bad options (exit 2, "reasm:" message): no port, port 0, unknown option, queue too small.
Every case is reported skipped when redis-server is missing (Debian package redis-server).
Only loopback is used.

Usage: app_redis.py PATH/TO/reasm [--work-dir DIR]
"""
import argparse
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, community_id, gencap, gtest, pcap  # noqa: E402

SUITE = "AppRedis"
CASES = ("A.exit_ok", "A.every_record", "A.matches_generator", "A.fields",
         "B.keeps_running", "B.loss_counted", "B.reconnects", "B.exit_status",
         "C.no_port", "C.port_0", "C.unknown_option", "C.queue_too_small")
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
APP = ["--quiet", "--timeout", "0", "--max-conns", "4096", "--pages", "2048",
       "--mbufs", "8191"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    """A minimal RESP2 client (the test's own, independent of hiredis)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("unexpected RESP %r" % line)

    def entries(self, stream):
        """Every entry of @stream as a dict of its fields (str)."""
        out = []
        for _, fields in self.call("XRANGE", stream, "-", "+"):
            it = iter(fields)
            out.append({k.decode(): v.decode() for k, v in zip(it, it)})
        return out

    def close(self):
        self.sock.close()


class Server:
    def __init__(self, work, port):
        self.port, self.work = port, work
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.work],
            stdout=open(os.path.join(self.work, "redis-%d.log" % self.port), "a"),
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                c = Resp(self.port)
                c.call("PING")
                return c
            except (OSError, RuntimeError):
                time.sleep(0.1)
        raise RuntimeError("redis-server did not answer on port %d" % self.port)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def summary_line(stdout):
    for line in stdout.splitlines():
        if line.startswith("reasm: redis sink:"):
            return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[3:])}
    return None


def part_a(report, reasm, work, port):
    cap = os.path.join(work, "a.pcap")
    res = gencap.run_all(gencap.parse_args(["-o", cap, "--seed", "31", "--conns", "40"]))
    pcap.write(cap, [(ts * 1000, f) for ts, f in res.frames])
    jsonl = os.path.join(work, "a.jsonl")
    run = reasm.run(["net_pcap0,rx_pcap=" + cap], APP + [
        "--sink", "jsonl:" + jsonl, "--sha256", "--sensor-id", "e2e-redis",
        "--sink", "redis:127.0.0.1:%d,stream=a" % port], 120)
    lines, _ = appliance.read_jsonl(jsonl)
    line = summary_line(run.stdout)
    report.check("A.exit_ok", run.rc == 0 and line is not None and line == {
        "redis_sent": len(lines), "redis_dropped": 0, "redis_failed": 0,
        "redis_reconnects": 0}, lambda: "summary %r, %d jsonl lines\n%s" % (
            line, len(lines), run.describe()))
    c = Resp(port)
    entries = c.entries("a")
    c.close()
    recs = [json.loads(e.get("record", "{}")) for e in entries]
    canon = collections.Counter(json.dumps(r, sort_keys=True) for r in recs)
    report.check("A.every_record", lines and canon == collections.Counter(
        json.dumps(r, sort_keys=True) for r in lines), lambda: "%d entries, %d jsonl lines" % (
            len(entries), len(lines)))
    want = [st.row() for st in res.model.streams]
    diff = appliance.multiset_diff(appliance.multiset(want, MODEL_KEYS),
                                   appliance.multiset(recs, MODEL_KEYS), MODEL_KEYS, "gencap",
                                   "redis")
    report.check("A.matches_generator", recs and not diff, lambda: diff or "no records")
    bad = [e for e, r in zip(entries, recs)
           if e.get("sensor") != "e2e-redis" or e.get("community_id") !=
           community_id.community_id(r["src"], r["sport"], r["dst"], r["dport"]) or
           r.get("community_id") != e.get("community_id")]
    report.check("A.fields", entries and not bad, lambda: "%d of %d entries, e.g. %r" % (
        len(bad), len(entries), bad[:1]))


def part_b(report, reasm, work, server):
    cap = os.path.join(work, "b.pcap")
    res = gencap.run_all(gencap.parse_args(["-o", cap, "--seed", "32", "--conns", "30",
                                            "--p-big", "0", "--p-loss", "0",
                                            "--p-midstream", "0"]))
    pcap.write(cap, [(ts * 1000, f) for ts, f in res.frames])
    bg = reasm.start(["net_pcap0,rx_pcap=%s,infinite_rx=1" % cap], APP + [
        "--sink", "redis:127.0.0.1:%d,stream=b,queue=65536" % server.port])
    try:
        tel = bg.telemetry()
        if tel is None:
            for c in CASES:
                if c.startswith("B."):
                    report.add(c, "no telemetry: %s" % bg.stop().describe())
            return
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and tel.query("/reasm/stats").get("redis_sent", 0) == 0:
            time.sleep(0.1)
        server.kill()
        before = tel.query("/reasm/stats")
        time.sleep(2)
        during = tel.query("/reasm/stats")
        report.check("B.keeps_running", bg.alive() and during["pkts"] > before["pkts"],
                     lambda: "pkts %d -> %d while redis was away" % (before["pkts"],
                                                                    during["pkts"]))
        c = server.start()
        deadline = time.monotonic() + 15
        after = during
        while time.monotonic() < deadline:
            after = tel.query("/reasm/stats")
            if after["redis_reconnects"] >= 1 and after["redis_sent"] > during["redis_sent"]:
                break
            time.sleep(0.2)
        xlen = c.call("XLEN", "b")
        c.close()
        report.check("B.reconnects", after["redis_reconnects"] >= 1 and xlen > 0,
                     lambda: "redis_reconnects %d, sent %d -> %d, XLEN on the new server %d" % (
                         after["redis_reconnects"], during["redis_sent"], after["redis_sent"],
                         xlen))
        res_b = bg.stop(signal.SIGINT)
        line = summary_line(res_b.stdout) or {}
        completed = (appliance.parse_summary(res_b.stdout) or {}).get("streams")
        lost = line.get("redis_dropped", 0) + line.get("redis_failed", 0)
        report.check("B.loss_counted", line and completed is not None and
                     line["redis_sent"] + lost == completed and
                     (lost > 0 or line["redis_sent"] == completed),
                     lambda: "summary %r, completed directions %r" % (line, completed),
                     note="%r, %r directions completed" % (line, completed))
        want_rc = 1 if lost else 0
        report.check("B.exit_status", res_b.rc == want_rc and (
            not lost or "reasm: redis sink:" in res_b.stderr),
            lambda: "exit %s, want %d (lost %d)\n%s" % (res_b.rc, want_rc, lost,
                                                        res_b.describe()))
    finally:
        if bg.alive():
            bg.kill()


def part_c(report, reasm, work):
    cap = os.path.join(work, "a.pcap")
    for name, arg in (("C.no_port", "redis:127.0.0.1"), ("C.port_0", "redis:127.0.0.1:0"),
                      ("C.unknown_option", "redis:127.0.0.1:6379,bogus=1"),
                      ("C.queue_too_small", "redis:127.0.0.1:6379,queue=10")):
        run = reasm.run(["net_pcap0,rx_pcap=" + cap], APP + ["--sink", arg], 60)
        msgs = [x for x in run.stderr.splitlines() if x.startswith("reasm:")]
        report.check(name, run.rc == 2 and any("redis" in m for m in msgs),
                     lambda: "--sink %s: %s" % (arg, run.describe()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm")
    ap.add_argument("--work-dir")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_redis.xml")
    if shutil.which("redis-server") is None:
        report.cases += [gtest.Case(c, skipped="redis-server not installed (Debian package "
                                    "redis-server)") for c in CASES]
        return report.finish()
    keep = args.work_dir is not None
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix="reasm_e2e_redis_")
    os.makedirs(args.work_dir, exist_ok=True)
    reasm = appliance.Reasm(args.reasm, "redis")
    server = Server(args.work_dir, free_port())
    try:
        server.start().close()
        part_a(report, reasm, args.work_dir, server.port)
        part_b(report, reasm, args.work_dir, server)
        part_c(report, reasm, args.work_dir)
    finally:
        server.kill()
    return report.finish_with_work_dir(args.work_dir, keep)


if __name__ == "__main__":
    sys.exit(main())
