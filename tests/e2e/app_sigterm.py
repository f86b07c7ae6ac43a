#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""SIGTERM and SIGINT in the middle of a capture replay: a clean stop, nothing lost.

A capture is generated here: 300 connections (clients only: a SYN each, all first),
then 200,100 small in-order segments (40..120 bytes), round-robin over the connections,
from a seeded PRNG. It is replayed through the appliance (two workers, --sink jsonl
--sha256 --timeout 0) and, once the replay is under way (about 1 s, or half of the
frames received, whichever comes first), the signal is sent. Per signal:

- stopped_mid_replay: the replay had not reached the end (no "capture replayed to the
  end" line, fewer packets than the capture holds);
- exit_0 and summary: the run ends with status 0 and prints its summary;
- jsonl_complete: every jsonl line is valid JSON, the file ends with a newline, one line
  per stream direction (no duplicate) and as many as the summary's streams: every
  connection, all of which received their SYN;
- prefix_<N>: "nothing lost that was received": each stream's bytes are exactly a prefix
  of what that connection sent (sha256 of the prefix of that length), without skip,
  with its start seen;
- delivered_total: the jsonl's bytes add up to the summary's delivered bytes.

Writes a googletest-style XML report ($GTEST_OUTPUT, "xml:PATH"). Exit status 1 if any
check failed.
"""
import argparse
import hashlib
import os
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, frames, gtest, pcap  # noqa: E402

SUITE = "AppSigterm"
CONNS = 300
SEGMENTS = 200100
SEED = 20260401


def generate(path):
    """Write the capture; returns {sport: payload bytes} and the number of frames."""
    rng = random.Random(SEED)
    sizes = [[rng.randint(40, 120) for _ in range(SEGMENTS // CONNS)] for _ in range(CONNS)]
    payloads = {}
    t = 1700000000 * 10**9
    srv = frames.ip4("10.60.0.1")
    with pcap.Writer(path) as w:
        heads, isns = [], []
        for c in range(CONNS):
            sport = 20000 + c
            cli = frames.ip4("10.50.%d.%d" % (c // 200, c % 200 + 1))
            isn = rng.getrandbits(32)
            payloads[sport] = rng.randbytes(sum(sizes[c]))
            heads.append((sport, cli))
            isns.append(isn)
            w.add(t, frames.tcp_frame(cli, sport, srv, 80, isn, frames.TCP_SYN))
            t += 1000
        offsets = [0] * CONNS
        for k in range(SEGMENTS // CONNS):
            for c in range(CONNS):
                sport, cli = heads[c]
                n = sizes[c][k]
                data = payloads[sport][offsets[c]:offsets[c] + n]
                w.add(t, frames.tcp_frame(cli, sport, srv, 80, isns[c] + 1 + offsets[c],
                                          frames.TCP_ACK | frames.TCP_PSH, data, ack=1))
                offsets[c] += n
                t += 1000
    return payloads, w.count


def one_signal(report, reasm, sig, cap, payloads, nframes, tmp):
    name = signal.Signals(sig).name.lower()
    jsonl = os.path.join(tmp, name + ".jsonl")
    bg = reasm.start(["net_pcap0,rx_pcap=" + cap],
                     ["--sink", "jsonl:" + jsonl, "--sha256", "--quiet", "--timeout", "0",
                      "--pages-total", "0", "--pages-per-conn", "0"])
    try:
        tel = bg.telemetry()
        if not report.check(name + ".telemetry_socket", tel is not None,
                            lambda: "reasm did not come up: %s" % bg.stop(None).describe()):
            return
        t0 = time.monotonic()
        seen = 0
        while time.monotonic() - t0 < 1.0 and bg.alive():
            try:
                seen = tel.query("/reasm/stats").get("port_rx_pkts", 0)
            except (OSError, ValueError):
                break
            if seen * 2 >= nframes:
                break
            time.sleep(0.02)
        tel.close()
        bg.proc.send_signal(sig)
        res = bg.stop(None, timeout=60)
    finally:
        bg.kill()

    summary = appliance.parse_summary(res.stdout)
    print("%s: sent after %.2fs with %d of %d frames received; reasm took %s packets, "
          "delivered %s bytes" % (name, time.monotonic() - t0, seen, nframes,
                                  summary and summary["packets"],
                                  summary and summary["delivered_bytes"]), flush=True)
    finished = "capture replayed to the end" in res.stdout
    report.check(name + ".stopped_mid_replay", not finished and summary is not None and
                 summary["packets"] < nframes,
                 lambda: "the replay was not interrupted (signal sent after %d of %d frames "
                 "received): %s" % (seen, nframes, res.stdout[-1500:]))
    report.check(name + ".exit_0", res.rc == 0 and not res.timed_out, lambda: res.describe())
    if not report.check(name + ".summary", summary is not None,
                        lambda: "no summary in stdout:\n" + res.stdout[-2000:]):
        return
    objs, errors = appliance.read_jsonl(jsonl)
    keys = [(o.get("src"), o.get("sport"), o.get("dst"), o.get("dport")) for o in objs]
    problems = list(errors)
    if len(set(keys)) != len(keys):
        problems.append("duplicate stream directions")
    if len(objs) != summary["streams"]:
        problems.append("%d lines, summary says %d streams" % (len(objs), summary["streams"]))
    if sorted(o.get("sport") for o in objs) != sorted(payloads):
        problems.append("the lines are not one per connection: %d lines" % len(objs))
    report.check(name + ".jsonl_complete", not problems, lambda: "\n".join(problems[:20]))

    bad = []
    for o in objs:
        p = payloads.get(o.get("sport"))
        n = o.get("bytes", -1)
        if p is None or not 0 <= n <= len(p):
            bad.append("%s: %d bytes, not a prefix of the %s bytes sent" % (
                o.get("sport"), n, len(p) if p else "no"))
        elif hashlib.sha256(p[:n]).hexdigest() != o.get("sha256"):
            bad.append("%s: the %d bytes delivered are not the first %d bytes sent" % (
                o.get("sport"), n, n))
        elif o.get("skips") or o.get("skip_unknown") or not o.get("start"):
            bad.append("%s: skips %s skip_unknown %s start %s" % (
                o.get("sport"), o.get("skips"), o.get("skip_unknown"), o.get("start")))
    report.check(name + ".prefix_of_sent", not bad and objs,
                 lambda: "%d of %d streams:\n%s" % (len(bad), len(objs), "\n".join(bad[:20])))
    total = sum(o.get("bytes", 0) for o in objs)
    report.check(name + ".delivered_total", total == summary["delivered_bytes"] and total > 0,
                 lambda: "jsonl bytes %d, summary delivered_bytes %d" % (
                     total, summary["delivered_bytes"]))
    why = appliance.bytes_conserved_problem(summary, objs)
    report.check(name + ".bytes_conserved", why is None, lambda: why)
    report.check(name + ".partial", 0 < total < sum(len(p) for p in payloads.values()),
                 lambda: "delivered %d of %d bytes" % (
                     total, sum(len(p) for p in payloads.values())))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_sigterm.xml")
    reasm = appliance.Reasm(args.reasm, "sig")
    with tempfile.TemporaryDirectory(prefix="reasm_e2e_sig_") as tmp:
        cap = os.path.join(tmp, "big.pcap")
        t = time.monotonic()
        payloads, nframes = generate(cap)
        print("generated %d frames, %d MB, in %.1fs" % (
            nframes, os.path.getsize(cap) >> 20, time.monotonic() - t), flush=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            one_signal(report, reasm, sig, cap, payloads, nframes, tmp)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
