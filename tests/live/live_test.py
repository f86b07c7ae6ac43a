#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Live capture without a NIC: reasm on a veth, real Linux TCP and injected frames.

The test bed (scripts/lib/reasmkit/netns.py): two network namespaces made for this run,
joined by a veth pair (va in A, vb in B), 198.18.0.0/24 and 2001:db8::/64 (nodad), no
default route, offloads off (tso/gso/gro: MTU-sized frames). reasm runs in B
(`ip netns exec B reasm ... --vdev=net_af_packet0,iface=vb,qpairs=N,...`) and sees both
directions of everything crossing vb. Every wait is bounded; the namespaces (and with them
the veth), every process started in them and reasm's /var/run/dpdk/PREFIX folders are
removed at the end, on an exception and on SIGTERM/SIGINT. Where the machine does not
allow namespaces or veth (not root, no iproute2...), every case is reported SKIPPED.

Cases (one googletest-style <testcase> each):
  real_tcp_ipv4_ipv6_w{1,2,3}   (spread: the main lcore receives, software RSS to workers)
  real_tcp_ipv4_ipv6_direct_w{2,3}  (--rx direct: workers poll their own af_packet queue)
      tests/live/tcp_traffic.py: REAL_CONNS connections (B runs the server, A the client,
      8 at once), IPv4 and IPv6 mixed, 0..300 KB each way, endings FIN both ways,
      half-close (client shuts writing, server sends then closes), RST from either end
      (SO_LINGER 0 after everything was acknowledged). Asserts: the traffic itself
      succeeded (both ends read back exactly what the plan says); reasm ran, exited 0 on
      SIGINT and printed its summary; every stream direction of the truth has exactly one
      jsonl line with the same byte count and SHA-256 of what the application wrote, no
      skip (skips, skip_unknown, skipped_bytes all 0) and start true; and
      appliance.bytes_conserved_problem() (payload_bytes = delivered + overlap + buffered
      + discarded + table_full; per stream and per jsonl line). A failure shows reasm's
      drop counters (telemetry, summary) and the kernel's (AF_PACKET ring drops, veth).
  injected_impaired             (spread, 2 workers)
  injected_impaired_direct_w2   (--rx direct: workers poll their own af_packet queue)
      a gencap capture (loss, reordering, duplicates, overlaps, sequence wrap, IPv6,
      VLAN/QinQ tags, mid-stream starts, RST, 4-tuple reuse; --p-big 0), its IPv4
      addresses moved into 198.19.0.0/16, injected from A through an AF_PACKET socket
      (tests/live/inject.py) at INJECT_RATE frames/s. The frames' MACs are gencap's, not
      vb's, so B's kernel drops them (PACKET_OTHERHOST: no RST answers) while af_packet
      (promiscuous) gets them. Asserts: every frame sent; reasm received them all; its
      jsonl is exactly gencap's expectation (what gopacket tcpassembly delivers) on the
      keys run_e2e.py compares (multisets); bytes conserved. Frames up to ~3 KB
      (retransmissions re-cut across segments): MTU set to the largest, 4 KiB af_packet
      frames and mbufs.
The start-up lines of reasm about its port (receive mode) are kept as notes of each case.
RX_CASES and INJECT_CASES list the (rx mode, workers) pairs: a variant is one entry.
  timers_wall_clock[_direct_w2], offloads_on_large_frames, offloads_on_frames_cut_counted,
  overload_counted[_direct_w2], sighup_reopens_jsonl, sigterm_mid_traffic,
  dumpcap_round_trip, proc_info_reads_ports, tap_mirror_direct
      what an operator meets on a live link (idle streams flushed on the wall clock,
      offloads, overload, logrotate, a stop mid-traffic, DPDK's secondary-process tools,
      a tc mirror into a tap): tests/live/live_ops.py says what each asserts.
  cleanup_nothing_left
      after the bed is taken down: no namespace, process or /var/run/dpdk folder of this
      run left behind, and HugePages_Total as it was before the suite.
The real-traffic cases keep REAL_CONNS = 200 connections: each case's time is mostly
reasm's start-up and stop (about 2 s); 100 connections saved no measurable time.

Usage: live_test.py PATH/TO/reasm [--work-dir DIR] [--only REGEX] [--conns N]
Report: $GTEST_OUTPUT ("xml:PATH"), else gtest-live.xml. Exit status 1 if a case failed.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, gencap, gtest, hugepages, live, netns, telemetry  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_ops  # noqa: E402
import tcp_traffic  # noqa: E402

SUITE = "Live"
HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = os.path.join(HERE, "tcp_traffic.py")
INJECT = os.path.join(HERE, "inject.py")
SYS_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# (rx mode, workers) of the real-traffic cases. "spread" runs on every binary (without
# --rx when the binary has none); other modes need --rx and are skipped without it.
RX_CASES = [("spread", 1), ("spread", 2), ("spread", 3), ("direct", 2), ("direct", 3)]
REAL_CONNS = 200
REAL_SEED = 1
CONCURRENCY = 8
FRAMECNT = 16384                 # af_packet ring frames per queue (32 MiB of 2 KiB frames)
REASM_OPTS = ["--sha256", "--quiet", "--timeout", "0", "--pages-total", "0",
              "--pages-per-conn", "0", "--mbufs", "32767", "--ring-size", "8192"]
INJECT_GEN = ["--seed", "11", "--conns", "200", "--p-big", "0"]
INJECT_RATE = 8000
# (rx mode, workers) of the injected cases, as RX_CASES.
INJECT_CASES = [("spread", 2), ("direct", 2)]
# Retransmissions that re-cut two segments into one make frames up to ~3 KB: 4 KiB frames
# in the af_packet ring, and mbufs that hold them (the PMD refuses smaller mbufs).
INJECT_FRAMESZ = 4096
CASE_TIMEOUT = 120               # seconds one case may take in all (client's deadline)


def real_case_name(mode, workers):
    if mode == "spread":
        return "real_tcp_ipv4_ipv6_w%d" % workers
    return "real_tcp_ipv4_ipv6_%s_w%d" % (mode, workers)


def inject_case_name(mode, workers):
    if (mode, workers) == ("spread", 2):
        return "injected_impaired"
    return "injected_impaired_%s_w%d" % (mode, workers)


def port_lines(stdout):
    """reasm's start-up lines about ports and receive modes (for the notes)."""
    return [line[len("reasm: "):] for line in stdout.splitlines()
            if line.startswith("reasm: port") and "received" not in line]


Failure = live_ops.Failure


class Suite:
    def __init__(self):
        self.cases = []
        self.start = time.monotonic()
        self._t = time.monotonic()
        self.current = None

    def add(self, name, failure=None, skipped=None, notes=()):
        now = time.monotonic()
        self.cases.append(gtest.Case(name, failure, skipped, list(notes), now - self._t))
        self._t = now
        tag = "FAILED" if failure is not None else ("skip  " if skipped else "ok    ")
        print("%s %s (%.1fs)%s" % (tag, name, self.cases[-1].time,
                                   "" if skipped is None else ": " + str(skipped)),
              flush=True)
        for n in notes:
            print("       note: " + n, flush=True)
        if failure:
            print("  " + failure.replace("\n", "\n  ")[:6000], flush=True)

    def mark(self):
        self._t = time.monotonic()


def start_reasm(bed, exe, tag, vdev, workers, jsonl, extra):
    r = live.NetnsReasm(exe, bed, tag)
    bg = r.start([vdev], ["--sink", "jsonl:" + jsonl] + REASM_OPTS + extra,
                 lcores=live.lcores_for(workers))
    bed.procs.append(bg.proc)
    tel = bg.telemetry(timeout=30)
    if tel is None:
        res = bg.stop(timeout=10)
        raise Failure("reasm did not come up (telemetry /reasm/config never answered)\n" +
                      res.describe())
    return bg, tel


def stop_reasm(bg, tel):
    try:
        tel.close()
    except OSError:
        pass
    res = bg.stop(signal.SIGINT, timeout=60)
    summary = appliance.parse_summary(res.stdout)
    problems = []
    if res.rc != 0:
        problems.append("reasm exit status %s on SIGINT" % res.rc)
    if summary is None:
        problems.append("no summary")
    return res, summary, problems


def real_traffic_case(bed, exe, work, idx, mode, workers, rx_ok, conns, framecnt):
    t0 = time.monotonic()
    name = real_case_name(mode, workers)
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    jsonl = os.path.join(d, "reasm.jsonl")
    truth_path = os.path.join(d, "truth.jsonl")
    server_out = os.path.join(d, "server.jsonl")
    ready = os.path.join(d, "server.ready")
    seed = REAL_SEED + idx
    port, port_base = 5001 + idx, 20000 + idx * 1000
    common = ["--seed", str(seed), "--conns", str(conns), "--port", str(port),
              "--port-base", str(port_base), "--deadline", str(CASE_TIMEOUT - 30)]
    before = bed.link_stats("b")
    with open(os.path.join(d, "server.log"), "w") as log:
        srv = bed.popen("b", [SYS_PYTHON, TRAFFIC, "server"] + common + [
            "--addr4", bed.ip4_b, "--addr6", bed.ip6_b, "--out", server_out, "--ready",
            ready], stdout=log, stderr=subprocess.STDOUT)
    extra = ["--rx", mode] if rx_ok else []
    try:
        bg, tel = start_reasm(bed, exe, "%s%d" % (mode, workers),
                              live.af_packet_vdev(bed.if_b, workers, framecnt), workers,
                              jsonl, extra)
    except BaseException:
        srv.terminate()
        raise
    t_up = time.monotonic() - t0
    try:
        deadline = time.monotonic() + 15
        while not os.path.exists(ready):
            if srv.poll() is not None or time.monotonic() > deadline:
                raise Failure("the traffic server did not start: %s" %
                              read_tail(os.path.join(d, "server.log")))
            time.sleep(0.02)
        t1 = time.monotonic()
        cl = bed.run("a", [SYS_PYTHON, TRAFFIC, "client"] + common + [
            "--server4", bed.ip4_b, "--server6", bed.ip6_b, "--client4", bed.ip4_a,
            "--client6", bed.ip6_a, "--concurrency", str(CONCURRENCY), "--out", truth_path],
            timeout=CASE_TIMEOUT, capture_output=True, text=True)
        t_traffic = time.monotonic() - t1
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:   # reported below ("server exit None")
            srv.terminate()
        traffic_problems = []
        if cl.returncode != 0:
            traffic_problems.append("client exit %s: %s%s" % (cl.returncode, cl.stdout[-2000:],
                                                              cl.stderr[-2000:]))
        if srv.returncode != 0:
            traffic_problems.append("server exit %s: %s" % (
                srv.returncode, read_tail(os.path.join(d, "server.log"))))
        wire = live.frames_on(bed, "b", before)
        st, settled = live.wait_quiescent(tel, minimum=int(wire * 0.999), timeout=15)
        drops = live.drop_report(bed, "b", st, wire_frames=wire)
    finally:
        res, summary, problems = stop_reasm(bg, tel)
    t_all = time.monotonic() - t0
    problems = traffic_problems + problems
    truth = live.read_lines(truth_path) if os.path.exists(truth_path) else []
    if not truth:
        problems.append("no truth written by the client")
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        problems.append("jsonl: " + "; ".join(errors[:5]))
    mism, info = live.compare_truth([t for t in truth if t["ok"]], objs,
                                    lambda t: tcp_traffic.payload(seed, t["conn"], t["dir"],
                                                                  t["bytes"]))
    notok = [t for t in truth if not t["ok"] and t["dir"] == "c2s"]
    if notok:
        problems.append("%d connections failed at the TCP level (not reasm's doing), e.g. "
                        "%s" % (len(notok), notok[0]["error"]))
    if mism:
        problems.append("%d of %d stream directions not byte-exact in reasm's jsonl:\n  %s" % (
            info["mismatched"], info["directions"], "\n  ".join(mism)))
    if summary is not None:
        why = appliance.bytes_conserved_problem(summary, objs)
        if why:
            problems.append("bytes not conserved: " + why)
    rx = st.get("port_rx_pkts", 0)
    notes = ["%d connections, %d stream directions, %d bytes; %d frames on vb, reasm "
             "received %d%s; traffic %.1fs, case %.1fs (reasm up in %.1fs)" % (
                 len(truth) // 2, info["directions"], info["bytes"], wire, rx,
                 "" if settled else " (counters still moving or short after 15 s)",
                 t_traffic, t_all, t_up)]
    if info["late_retransmissions"]:
        notes.append("%d segments retransmitted after their direction closed opened a new "
                     "stream (start false, skip_unknown 1), as gopacket does; their bytes are "
                     "the payload's" % info["late_retransmissions"])
    if info["extra_lines"]:
        notes.append("%d jsonl lines for 4-tuples not in the truth" % info["extra_lines"])
    notes.append("end flags: %s" % json.dumps(info["ends"], sort_keys=True))
    notes += port_lines(res.stdout)
    if problems:
        text = "\n".join(problems)
        text += "\n--- drop counters\n%s\n--- %s" % (drops, res.describe())
        return text, notes
    return None, notes


def injected_case(bed, exe, work, mode, workers, rx_ok, framecnt):
    t0 = time.monotonic()
    d = os.path.join(work, inject_case_name(mode, workers))
    os.makedirs(d, exist_ok=True)
    raw = os.path.join(d, "gen.pcap")
    info = gencap.generate_files(["-o", raw] + INJECT_GEN)
    cap = os.path.join(d, "inject.pcap")
    exp = os.path.join(d, "inject.expected.jsonl")
    mapping = live.remap_ipv4_capture(raw, info["expected"], cap, exp)
    maxlen = live.max_frame_len(cap)
    if maxlen > INJECT_FRAMESZ - 128:
        raise Failure("gencap wrote a %d-byte frame: over what a %d-byte af_packet frame "
                      "holds" % (maxlen, INJECT_FRAMESZ))
    old_mtu = bed.mtu
    bed.set_mtu(max(1500, maxlen - 14))
    jsonl = os.path.join(d, "reasm.jsonl")
    before = bed.link_stats("b")
    extra = ["--rx", mode] if rx_ok else []
    bg, tel = start_reasm(bed, exe, "inj%s%d" % (mode[0], workers), live.af_packet_vdev(
        bed.if_b, workers, framecnt, framesz=INJECT_FRAMESZ), workers, jsonl,
        extra + ["--mbuf-size", str(INJECT_FRAMESZ)])
    problems = []
    try:
        r = bed.run("a", [SYS_PYTHON, INJECT, "--iface", bed.if_a, "--pcap", cap,
                          "--rate", str(INJECT_RATE), "--cpu", "1"],
                    timeout=120, capture_output=True, text=True)
        try:
            inj = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            inj = {}
        if r.returncode != 0 or inj.get("frames_sent") != info["packets"]:
            problems.append("inject.py exit %d, sent %s of %d frames: %s %s" % (
                r.returncode, inj.get("frames_sent"), info["packets"], r.stdout[-1000:],
                r.stderr[-1000:]))
        wire = live.frames_on(bed, "b", before)
        st, settled = live.wait_quiescent(tel, minimum=info["packets"], timeout=15)
        drops = live.drop_report(bed, "b", st, wire_frames=wire)
    finally:
        res, summary, sp = stop_reasm(bg, tel)
        bed.set_mtu(old_mtu)
    problems += sp
    if st.get("port_rx_pkts", 0) < info["packets"]:
        problems.append("reasm received %d frames, %d injected" % (
            st.get("port_rx_pkts", 0), info["packets"]))
    expected = live.read_lines(exp)
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        problems.append("jsonl: " + "; ".join(errors[:5]))
    why = live.compare_expected(expected, objs)
    if why:
        problems.append("reasm's jsonl is not gopacket's expectation:\n" + why)
    if summary is not None:
        why = appliance.bytes_conserved_problem(summary, objs)
        if why:
            problems.append("bytes not conserved: " + why)
    feats = info["features"]
    notes = ["%d connections, %d frames (max %d bytes, MTU %d), %d expected stream "
             "directions, %d IPv4 addresses remapped; injected at %s frames/s in %.1fs; "
             "%d frames on vb, reasm received %d; case %.1fs" % (
                 info["connections"], info["packets"], maxlen, max(1500, maxlen - 14),
                 len(expected), len(mapping), INJECT_RATE, inj.get("seconds", 0), wire,
                 st.get("port_rx_pkts", 0), time.monotonic() - t0),
             "features: " + ", ".join("%s %d" % kv for kv in sorted(feats.items()))]
    notes += port_lines(res.stdout)
    if problems:
        return "\n".join(problems) + "\n--- drop counters\n%s\n--- %s" % (
            drops, res.describe()), notes
    return None, notes


def read_tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the reasm executable")
    ap.add_argument("--work-dir", help="keep captures, truths and jsonl here (default: a "
                    "temporary folder, removed unless a case failed)")
    ap.add_argument("--only", help="run only the cases whose name matches this regex")
    ap.add_argument("--conns", type=int, default=REAL_CONNS)
    ap.add_argument("--framecnt", type=int, default=FRAMECNT,
                    help="af_packet ring frames per queue (small values provoke drops)")
    args = ap.parse_args()
    suite = Suite()
    exe = os.path.abspath(args.reasm)
    names = [real_case_name(m, w) for m, w in RX_CASES] + [
        inject_case_name(m, w) for m, w in INJECT_CASES] + live_ops.NAMES + [
        "cleanup_nothing_left"]
    selected = [n for n in names if not args.only or re.search(args.only, n)]
    work = args.work_dir or tempfile.mkdtemp(prefix="reasm-live-")
    os.makedirs(work, exist_ok=True)
    interrupted = None
    try:
        run_all(suite, exe, work, selected, args)
    except (SystemExit, KeyboardInterrupt) as e:
        # SIGTERM/SIGINT (meson's timeout): reasmkit.netns has cleaned up already.
        interrupted = e
        suite.add(suite.current or "interrupted", failure="interrupted (%s) while running "
                  "this case; the test bed was removed" % type(e).__name__)
    elapsed = time.monotonic() - suite.start
    gtest.write(gtest.output_path("gtest-live.xml"), SUITE, suite.cases, elapsed)
    nfail = sum(1 for c in suite.cases if c.failure is not None)
    nskip = sum(1 for c in suite.cases if c.skipped)
    print("%s: %d cases, %d failed, %d skipped (%.1fs); work folder %s" % (
        SUITE, len(suite.cases), nfail, nskip, elapsed, work), flush=True)
    if not args.work_dir and (not nfail or interrupted is not None):
        shutil.rmtree(work, ignore_errors=True)
    if interrupted is not None:
        raise interrupted
    return 1 if nfail else 0


def run_all(suite, exe, work, selected, args):
    ok, why = netns.available()
    if not os.access(exe, os.X_OK):
        for n in selected:
            suite.add(n, failure="%s is not an executable" % exe)
        return
    if not ok:
        for n in selected:
            suite.add(n, skipped="no live test bed on this machine: " + why)
        return
    rx_ok, rx_why = live.rx_option(exe)
    huge_total = hugepages.meminfo().get("HugePages_Total")
    bed = netns.VethPair(tag="live", offloads=False, mtu=1500)
    try:
        with bed:
            suite.mark()
            for idx, (mode, workers) in enumerate(RX_CASES):
                name = real_case_name(mode, workers)
                if name not in selected:
                    continue
                if mode != "spread" and not rx_ok:
                    suite.add(name, skipped="--rx %s: %s" % (mode, rx_why))
                    continue
                run_case(suite, name, real_traffic_case, bed, exe, work, idx, mode,
                         workers, rx_ok, args.conns, args.framecnt)
            for mode, workers in INJECT_CASES:
                name = inject_case_name(mode, workers)
                if name not in selected:
                    continue
                if mode != "spread" and not rx_ok:
                    suite.add(name, skipped="--rx %s: %s" % (mode, rx_why))
                    continue
                run_case(suite, name, injected_case, bed, exe, work, mode, workers, rx_ok,
                         args.framecnt)

            def begin(name):
                suite.current = name

            live_ops.run(live_ops.Ctx(bed, exe, work, rx_ok), selected, suite.add, begin)
    except netns.NetnsError as e:
        done = {c.name for c in suite.cases}
        for n in selected:
            if n not in done and n != "cleanup_nothing_left":
                suite.add(n, skipped="the test bed could not be built: %s" % e)
    suite.current = None
    if "cleanup_nothing_left" in selected:
        left = bed.leftovers()
        rd = telemetry.runtime_dir()
        if os.path.isdir(rd):
            left += ["path " + os.path.join(rd, p) for p in os.listdir(rd)
                     if p.startswith("reasm_live_") and ("_%d_" % os.getpid()) in p]
        now = hugepages.meminfo().get("HugePages_Total")
        if now != huge_total:
            left.append("HugePages_Total %s, %s before the suite" % (now, huge_total))
        suite.add("cleanup_nothing_left",
                  failure="left behind: " + ", ".join(left) if left else None)


def run_case(suite, name, fn, *args):
    suite.current = name
    try:
        failure, notes = fn(*args)
    except Failure as e:
        failure, notes = str(e), []
    except Exception:  # noqa: BLE001 - a bug of the test or the bed: report it as a failure
        failure, notes = traceback.format_exc(), []
    suite.add(name, failure=failure, notes=notes)


if __name__ == "__main__":
    sys.exit(main())
