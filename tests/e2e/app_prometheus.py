#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A real Prometheus scrapes reasm through scripts/reasm-exporter during a replay.

reasm (2 workers) replays a gencap capture once on port 0 while port 1 replays UDP for
ever (so reasm keeps running); scripts/reasm-exporter serves its telemetry on a loopback
port; Debian's prometheus server, started here on loopback with its own empty storage,
scrapes the exporter every second. Cases (suite AppPrometheus):
  exposition_valid     promtool check metrics accepts a /metrics page (format and lint);
  scraped              Prometheus' API: up{job="reasm"} == 1 and reasm_exporter_up == 1;
  types                Prometheus' metadata API: reasm_pkts_total is a counter,
                       reasm_streams_open and reasm_pages_in_use are gauges;
  values_per_worker    once the capture is assembled (telemetry standing still), every
                       per-worker counter of /reasm/lcore,N that Prometheus holds (with
                       {worker, lcore} labels) has the value telemetry reports;
  sum_is_stats         sum by worker of reasm_delivered_bytes_total, reasm_pkts_tcp_total
                       and reasm_streams_completed_total equals /reasm/stats';
  whole_appliance      reasm_port_rx_pkts_total and reasm_workers (no labels) as
                       /reasm/stats has them;
  capture_assembled    reasm_pkts_tcp_total summed is the capture's TCP frame count (the
                       generator's, independent of reasm);
  reasm_gone           after reasm exits, the exporter still answers, with
                       reasm_exporter_up 0, and Prometheus records it.
Every case is reported skipped when prometheus or promtool is missing (Debian package
prometheus). Only loopback is used.

Usage: app_prometheus.py PATH/TO/reasm [--work-dir DIR]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, frames, gencap, gtest, pcap, source_dir  # noqa: E402

SUITE = "AppPrometheus"
CASES = ("exposition_valid", "scraped", "types", "values_per_worker", "sum_is_stats",
         "whole_appliance", "capture_assembled", "reasm_gone")
EXPORTER = os.path.join(source_dir(), "scripts", "reasm-exporter")
WORKER_LCORES = (1, 2)
# Per-worker keys compared one by one (they stand still once the capture is in).
PER_WORKER = ("pkts_tcp", "payload_bytes", "delivered_bytes", "delivered_records",
              "conns_opened", "streams_completed", "sink_bytes")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class Prom:
    """A prometheus server on loopback scraping one target every second."""

    def __init__(self, work, target):
        self.port = free_port()
        cfg = os.path.join(work, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: reasm\n    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(work, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(work, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expr):
        """The instant vector of @expr: [(labels, float value)]."""
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (self.port,
                                                             urllib.parse.quote(expr))
        d = json.loads(http_get(url))
        return [(r["metric"], float(r["value"][1])) for r in d["data"]["result"]]

    def metadata(self, metric):
        url = "http://127.0.0.1:%d/api/v1/metadata?metric=%s" % (self.port, metric)
        return json.loads(http_get(url))["data"].get(metric, [])

    def wait(self, expr, want, timeout=30.0):
        """Poll @expr until its single value is @want (or any value if want is None)."""
        deadline, got = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                got = self.query(expr)
                if got and (want is None or (len(got) == 1 and got[0][1] == want)):
                    return got
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        return got

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def make_capture(work):
    """(TCP capture path, its TCP frame count, a UDP capture to replay for ever)."""
    path = os.path.join(work, "tcp.pcap")
    res = gencap.run_all(gencap.parse_args(["-o", path, "--seed", "21", "--conns", "30"]))
    pcap.write(path, [(ts * 1000, f) for ts, f in res.frames])  # gencap's times are in us
    udp = os.path.join(work, "udp.pcap")
    pcap.write(udp, [(1700000000 * 10**9 + k * 1000, frames.udp_frame(
        "198.51.100.1", 5353, "198.51.100.2", 53, b"u" * 60)) for k in range(8)])
    return path, len(res.frames), udp


def settle(tel, want_tcp, timeout=30.0):
    """Wait until /reasm/stats' pkts_tcp is @want_tcp and stands still for 1 s."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        cur = (tel.query("/reasm/stats") or {}).get("pkts_tcp")
        if cur != last:
            last, since = cur, time.monotonic()
        elif cur == want_tcp and time.monotonic() - since > 1.0:
            return True
        time.sleep(0.1)
    return False


def run(report, args, work):
    cap, n_tcp, udp = make_capture(work)
    reasm = appliance.Reasm(args.reasm, "prom")
    bg = reasm.start(["net_pcap0,rx_pcap=" + cap, "net_pcap1,rx_pcap=%s,infinite_rx=1" % udp],
                     ["--quiet", "--timeout", "0", "--max-conns", "4096", "--pages", "2048",
                      "--mbufs", "8191", "--sink", "count"])
    exp_port = free_port()
    exporter = subprocess.Popen([sys.executable, EXPORTER, "-f", bg.prefix, "--listen",
                                 "127.0.0.1:%d" % exp_port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    prom = Prom(work, "127.0.0.1:%d" % exp_port)
    try:
        tel = bg.telemetry()
        if tel is None:
            for c in CASES:
                report.add(c, "reasm gave no telemetry: %s" % bg.stop().describe())
            return
        settled = settle(tel, n_tcp)
        stats = tel.query("/reasm/stats")
        per = {lc: tel.query("/reasm/lcore,%d" % lc) for lc in WORKER_LCORES}

        page, deadline = "", time.monotonic() + 15
        while time.monotonic() < deadline and "reasm_exporter_up 1" not in page:
            try:
                page = http_get("http://127.0.0.1:%d/metrics" % exp_port)
            except OSError:
                time.sleep(0.3)
        chk = subprocess.run(["promtool", "check", "metrics"], input=page, text=True,
                             capture_output=True)
        report.check("exposition_valid", chk.returncode == 0 and "reasm_pkts_total" in page,
                     lambda: "promtool exit %d: %s\n%s" % (chk.returncode, chk.stdout +
                                                           chk.stderr, page[:2000]))

        # A scrape after the capture settled carries the final per-worker values.
        want_sum = float(stats["pkts_tcp"])
        got = prom.wait('sum(reasm_pkts_tcp_total{job="reasm"})', want_sum)
        up = prom.query('up{job="reasm"}') if got else []
        eup = prom.query("reasm_exporter_up") if got else []
        report.check("scraped", got and up and up[0][1] == 1 and eup and eup[0][1] == 1,
                     lambda: "sum(reasm_pkts_tcp_total) %r (want %r), up %r, "
                     "reasm_exporter_up %r; prometheus log: %s" % (
                         got, want_sum, up, eup, open(prom.log.name).read()[-1500:]))
        types = {m: [x.get("type") for x in prom.metadata(m)] for m in (
            "reasm_pkts_total", "reasm_streams_open", "reasm_pages_in_use")}
        report.check("types", types == {"reasm_pkts_total": ["counter"],
                                        "reasm_streams_open": ["gauge"],
                                        "reasm_pages_in_use": ["gauge"]},
                     lambda: "metadata: %r" % types)
        bad = []
        for lc, d in per.items():
            for key in PER_WORKER:
                v = prom.query('reasm_%s_total{job="reasm",lcore="%d",worker="%d"}' % (
                    key, lc, d["worker"]))
                if not v or v[0][1] != d[key]:
                    bad.append("%s lcore %d: prometheus %r, telemetry %d" % (key, lc, v,
                                                                            d[key]))
        report.check("values_per_worker", settled and not bad, lambda: (
            "" if settled else "telemetry never settled at %d TCP frames; " % n_tcp) +
            "; ".join(bad))
        bad = []
        for key in ("delivered_bytes", "pkts_tcp", "streams_completed"):
            v = prom.query('sum(reasm_%s_total{job="reasm"})' % key)
            if not v or v[0][1] != stats[key]:
                bad.append("sum of %s: prometheus %r, /reasm/stats %d" % (key, v, stats[key]))
        report.check("sum_is_stats", not bad, lambda: "; ".join(bad))
        w = prom.query('reasm_workers{job="reasm"}')
        rx = prom.query('reasm_port_rx_pkts_total{job="reasm"}')
        report.check("whole_appliance", w and w[0][1] == 2 and rx and rx[0][1] > 0 and
                     "worker" not in rx[0][0], lambda: "reasm_workers %r, "
                     "reasm_port_rx_pkts_total %r" % (w, rx))
        report.check("capture_assembled", settled and stats["pkts_tcp"] == n_tcp,
                     lambda: "/reasm/stats pkts_tcp %s, the capture has %d TCP frames" % (
                         stats.get("pkts_tcp"), n_tcp))

        res = bg.stop(signal.SIGINT)
        gone = prom.wait("reasm_exporter_up", 0.0, timeout=20)
        page = ""
        try:
            page = http_get("http://127.0.0.1:%d/metrics" % exp_port)
        except OSError as e:
            page = "unreachable: %s" % e
        report.check("reasm_gone", res.rc == 0 and gone and gone[0][1] == 0 and
                     "reasm_exporter_up 0" in page, lambda: "reasm exit %s; prometheus "
                     "reasm_exporter_up %r; /metrics: %s" % (res.rc, gone, page[:300]))
    finally:
        if bg.alive():
            bg.kill()
        exporter.terminate()
        exporter.wait(timeout=10)
        prom.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm")
    ap.add_argument("--work-dir")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_prometheus.xml")
    missing = [p for p in ("prometheus", "promtool") if shutil.which(p) is None]
    if missing:
        report.cases += [gtest.Case(c, skipped="%s not installed (Debian package "
                                    "prometheus)" % " and ".join(missing)) for c in CASES]
        return report.finish()
    keep = args.work_dir is not None
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix="reasm_e2e_prom_")
    os.makedirs(args.work_dir, exist_ok=True)
    run(report, args, args.work_dir)
    return report.finish_with_work_dir(args.work_dir, keep)


if __name__ == "__main__":
    sys.exit(main())
