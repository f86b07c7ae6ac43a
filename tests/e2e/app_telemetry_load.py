#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Telemetry under load changes no delivered byte.

A capture of 300 connections written by tests/gen/gencap.py without loss (no lost
segment, no mid-stream start), so gopacket's expected bytes are what was sent, is
replayed twice through reasm (2 workers on lcores 1 and 2, jsonl sink with --sha256,
--timeout 0, unlimited pages):

- quiet: nobody talks to the telemetry socket (beyond the wait for it to answer);
- loaded: a thread sends, as fast as the socket answers, /reasm/stats,
  /reasm/lcore,1, /reasm/lcore,2, /reasm/config, /reasm/conns and
  /reasm/flush,100000000. That flush asks every worker (through the control plane
  and the workers' mailboxes) to flush what is idle since clock - 27.7 hours, a time
  before the capture: it must flush and close nothing.

So that the queries overlap the replay, the capture reaches net_pcap through a FIFO
(rx_pcap=FIFO): the pcap header at once, then the records in chunks over about 2 s,
after reasm's telemetry answers. Both runs are paced the same way.

Checks (one XML case each):
- the generator's expectation has no skip (the capture really is lossless);
- each run exits 0 with its summary (the loaded one is still being queried while it
  drains, flushes and shuts down); its jsonl is well formed;
- the loaded run answered at least MIN_QUERIES queries while the capture was still
  being written (the number is a note), every answer well formed (after the last
  record a null answer is accepted: reasm may be shutting down); every flush answered
  by both workers while the replay ran, and no flush ever flushed or closed anything;
- the two runs' jsonl are identical once "worker" is dropped;
- each run's jsonl matches gopacket's expectation (bytes, records, skips, start, end,
  sha256 per stream direction);
- the summaries' delivered bytes and streams are equal, and equal the expectation's.

Writes a googletest-style XML report ($GTEST_OUTPUT, "xml:PATH"). Exit status 1 if any
check failed.
"""
import argparse
import collections
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, gencap, gtest, pcap  # noqa: E402

SUITE = "AppTelemetryLoad"
WORKER_LCORES = (1, 2)
FLUSH_MS = 100000000  # 27.7 hours: older than anything in the capture
MIN_QUERIES = 200
PACE_SECONDS = 2.0
CHUNKS = 80
GEN_ARGS = ["--seed", "11", "--conns", "300", "--p-loss", "0", "--p-midstream", "0"]
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
OPTS = ["--sha256", "--quiet", "--timeout", "0", "--pages-total", "0", "--pages-per-conn", "0"]
COMMANDS = ["/reasm/stats", "/reasm/lcore,1", "/reasm/lcore,2", "/reasm/config",
            "/reasm/conns", "/reasm/flush,%d" % FLUSH_MS]


class FifoWriter(threading.Thread):
    """Feeds a pcap to reasm through a FIFO: the header at once, the records on go."""

    def __init__(self, fifo, path):
        super().__init__(daemon=True)
        self.fifo = fifo
        cap = pcap.read(path)
        self.header = cap.header
        with open(path, "rb") as f:
            self.body = f.read()[pcap.HEADER_BYTES:]
        # Chunk boundaries on record boundaries (16-byte record header + captured bytes).
        offs, off = [], 0
        for r in cap.records:
            off += pcap.RECORD_HEADER_BYTES + r.caplen
            offs.append(off)
        step = max(1, len(offs) // CHUNKS)
        self.cuts = offs[step - 1::step]
        if self.cuts[-1] != len(self.body):
            self.cuts.append(len(self.body))
        self.go = threading.Event()
        self.stop = threading.Event()
        self.started_at = self.finished_at = None
        self.error = None

    def run(self):
        fd = None
        try:
            deadline = time.monotonic() + 30
            while fd is None:
                try:
                    fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    if time.monotonic() > deadline or self.stop.is_set():
                        self.error = "reasm never opened the FIFO"
                        return
                    time.sleep(0.01)
            os.set_blocking(fd, True)
            os.write(fd, self.header)
            while not self.go.wait(0.05):
                if self.stop.is_set():
                    return
            self.started_at = time.monotonic()
            prev = 0
            for i, cut in enumerate(self.cuts):
                view = memoryview(self.body)[prev:cut]
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                prev = cut
                target = self.started_at + PACE_SECONDS * (i + 1) / len(self.cuts)
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if self.stop.is_set():
                    return
            self.finished_at = time.monotonic()
        except OSError as e:
            self.error = "writing the FIFO: %s" % e
        finally:
            if fd is not None:
                os.close(fd)


class Hammer(threading.Thread):
    """Sends COMMANDS round-robin as fast as they are answered; records every answer."""

    def __init__(self, tel):
        super().__init__(daemon=True)
        self.tel = tel
        self.stop = threading.Event()
        self.answers = []  # (monotonic time answered, command, value)
        self.error = None

    def run(self):
        i = 0
        while not self.stop.is_set():
            cmd = COMMANDS[i % len(COMMANDS)]
            i += 1
            try:
                val = self.tel.query(cmd)
            except (OSError, ValueError) as e:
                self.error = "%s: %s" % (cmd, e)  # reasm exited: expected at the end
                return
            self.answers.append((time.monotonic(), cmd, val))


def well_formed(cmd, val):
    """None when the answer is what the command promises, else why not."""
    if cmd == "/reasm/stats":
        ok = isinstance(val, dict) and val.get("workers") == 2 and "delivered_bytes" in val
    elif cmd.startswith("/reasm/lcore,"):
        lc = int(cmd.split(",")[1])
        ok = isinstance(val, dict) and val.get("lcore") == lc and \
            val.get("worker") == WORKER_LCORES.index(lc)
    elif cmd == "/reasm/config":
        ok = isinstance(val, dict) and val.get("workers") == 2 and val.get("sha256") == 1
    elif cmd == "/reasm/conns":
        ok = isinstance(val, (list, dict))
    else:
        ok = isinstance(val, dict) and val.get("flushed") == 0 and val.get("closed") == 0
    return None if ok else "%s answered %r" % (cmd, val)


def load(path):
    objs, errors = appliance.read_jsonl(path)
    return objs, errors


def canon(objs, drop):
    return sorted(json.dumps({k: v for k, v in o.items() if k not in drop}, sort_keys=True)
                  for o in objs)


def model_rows(objs):
    return collections.Counter(tuple(json.dumps(o.get(k)) for k in MODEL_KEYS) for o in objs)


def diff_rows(want, got):
    missing, extra = want - got, got - want
    text = ["%d rows expected, %d got: %d missing, %d unexpected" % (
        sum(want.values()), sum(got.values()), sum(missing.values()), sum(extra.values()))]
    for label, rows in (("missing", missing), ("unexpected", extra)):
        for r in list(rows)[:5]:
            text.append("%s: %s" % (label, dict(zip(MODEL_KEYS, r))))
    return "\n".join(text)


def run_once(report, reasm, tmp, cap, name, loaded):
    """Replay the capture cap through a FIFO; (summary, jsonl objects, hammer or None)."""
    fifo = os.path.join(tmp, name + ".fifo")
    os.mkfifo(fifo)
    jsonl = os.path.join(tmp, name + ".jsonl")
    writer = FifoWriter(fifo, cap)
    writer.start()
    bg = reasm.start(["net_pcap0,rx_pcap=" + fifo], ["--sink", "jsonl:" + jsonl] + OPTS)
    hammer = None
    try:
        tel = bg.telemetry(timeout=30)
        if not report.check(name + "_telemetry_socket", tel is not None,
                            lambda: "no telemetry: %s" % bg.stop(None, 5).describe()):
            writer.stop.set()
            return None, None, None
        if loaded:
            hammer = Hammer(tel)
            hammer.start()
            while len(hammer.answers) < 6 and hammer.is_alive():
                time.sleep(0.001)
        writer.go.set()
        writer.join(PACE_SECONDS + 30)
        bg.proc.wait(timeout=60)
        if hammer is not None:
            hammer.stop.set()
            hammer.join(15)
        tel.close()
        res = bg.stop(None, timeout=5)
        summary = appliance.parse_summary(res.stdout)
        report.check(name + "_fifo_written", writer.error is None and
                     writer.finished_at is not None, lambda: "writer: %s" % writer.error)
        report.check(name + "_exit_0_summary", res.rc == 0 and summary is not None,
                     lambda: res.describe())
        objs, errors = load(jsonl)
        report.check(name + "_jsonl_well_formed", not errors and objs,
                     lambda: "%d lines, errors: %s" % (len(objs), errors[:5]))
        why = appliance.bytes_conserved_problem(summary, objs)
        report.check(name + "_bytes_conserved", why is None, lambda: why)
        if hammer is not None:
            check_hammer(report, name, hammer, writer)
        return summary, objs, hammer
    finally:
        writer.stop.set()
        bg.kill()


def check_hammer(report, name, hammer, writer):
    t0, t1 = writer.started_at, writer.finished_at or float("inf")
    during = [(t, c, v) for t, c, v in hammer.answers if t0 <= t < t1]
    per_cmd = collections.Counter(c.split(",")[0] for _, c, _ in during)
    note = "%d queries answered while the capture was written (%.1f s), %d in all; %s" % (
        len(during), (writer.finished_at or t0) - t0, len(hammer.answers),
        ", ".join("%s %d" % kv for kv in sorted(per_cmd.items())))
    print(name + ": " + note, flush=True)
    report.check(name + "_queries_overlap_replay", len(during) >= MIN_QUERIES and
                 len(per_cmd) == 5, lambda: "only " + note, note)
    # After the last record, reasm may be shutting down: a null answer is fine there.
    bad = [w for w in (well_formed(c, v) for t, c, v in hammer.answers
                       if t < t1 or v is not None) if w]
    report.check(name + "_answers_well_formed", not bad,
                 lambda: "%d bad answers of %d, e.g.:\n%s" % (
                     len(bad), len(hammer.answers), "\n".join(bad[:5])))
    flushes = [v for _, c, v in during if c.startswith("/reasm/flush")]
    partial = [v for v in flushes if not isinstance(v, dict) or
               v.get("workers_answered") != 2]
    report.check(name + "_flush_all_workers_answered", flushes and not partial,
                 lambda: "%d flushes during the replay, %d not answered by both workers: %s" % (
                     len(flushes), len(partial), partial[:5]),
                 "%d flushes during the replay" % len(flushes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_telemetry_load.xml")
    reasm = appliance.Reasm(args.reasm, "tload")
    with tempfile.TemporaryDirectory(prefix="reasm_e2e_tload_") as tmp:
        cap = os.path.join(tmp, "load.pcap")
        info = gencap.generate_files(["-o", cap] + GEN_ARGS)
        expected, errors = load(info["expected"])
        report.check("capture_lossless", not errors and expected and
                     all(e["skips"] == 0 and e["skipped_bytes"] == 0 for e in expected),
                     lambda: "the expectation has skips or errors: %s" % errors[:5],
                     "%d connections, %d packets, %d stream directions, %d bytes" % (
                         info["connections"], info["packets"], len(expected),
                         sum(e["bytes"] for e in expected)))
        s_quiet, quiet, _ = run_once(report, reasm, tmp, cap, "quiet", False)
        s_load, loadd, _ = run_once(report, reasm, tmp, cap, "loaded", True)
        want_bytes = sum(e["bytes"] for e in expected)
        for name, objs in (("quiet", quiet), ("loaded", loadd)):
            if objs is not None:
                want, got = model_rows(expected), model_rows(objs)
                report.check(name + "_matches_gopacket", want == got,
                             lambda: diff_rows(want, got))
        if quiet is not None and loadd is not None:
            a, b = canon(quiet, ("worker",)), canon(loadd, ("worker",))
            report.check("jsonl_identical", a == b, lambda: "quiet vs loaded:\n%s" % "\n".join(
                "%s\n  quiet:  %s\n  loaded: %s" % (i, x, y)
                for i, (x, y) in enumerate(zip(a, b)) if x != y)[:5000]
                + ("\nlengths %d vs %d" % (len(a), len(b))))
        if s_quiet and s_load:
            report.check("summary_delivered_bytes_equal",
                         s_quiet["delivered_bytes"] == s_load["delivered_bytes"] == want_bytes,
                         lambda: "quiet %d, loaded %d, gopacket %d" % (
                             s_quiet["delivered_bytes"], s_load["delivered_bytes"],
                             want_bytes), "%d bytes" % want_bytes)
            report.check("summary_streams_equal",
                         s_quiet["streams"] == s_load["streams"] == len(expected),
                         lambda: "quiet %d, loaded %d, gopacket %d" % (
                             s_quiet["streams"], s_load["streams"], len(expected)))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
