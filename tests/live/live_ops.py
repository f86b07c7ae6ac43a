# SPDX-License-Identifier: BSD-3-Clause
"""The live suite's operations cases (run by live_test.py, in the same report).

What an operator meets on a live link, each on the test bed of live_test.py (namespaces
A and B, veth va/vb, reasm in B) with real Linux TCP (tcp_traffic.py) or injected frames
(inject.py):

  timers_wall_clock, timers_wall_clock_direct_w2
      --timeout 500 --flush-interval 100 (spread: 2 workers, one af_packet queue; direct:
      qpairs = workers = 2). 20 connections exchange their bytes, then stay open and idle
      (no packet at all) for HOLD seconds before their FINs. Asserts: every direction's
      jsonl line appears while reasm runs, within TIMER_LIMIT s of the connection going
      idle (and before its FIN), byte-exact with no skip; exit 0 on SIGTERM with its
      summary, 0 unbalanced, bytes conserved.
  offloads_on_large_frames
      tso/gso/gro on at both veth ends, gso_max_size/gro_max_size 30000 (where the kernel
      takes them; a note says otherwise), net_af_packet framesz=blocksz=32768, --mbufs
      4096: real TCP. Asserts: every direction byte-exact (no skip), no frame cut, bytes
      conserved.
  offloads_on_frames_cut_counted
      the same traffic with the default framesz (2048): asserts frames were cut and
      counted (port_frames_cut > 0, telemetry and the summary's "cut short"), the jsonl
      lines' "cut" adding up to ip_len_past_frame_bytes, every direction whose bytes
      differ from the truth says so (skips, skipped_bytes, skip_unknown or cut > 0),
      bytes conserved, 0 unbalanced.
  overload_counted (1 worker, spread), overload_counted_direct_w2 (qpairs=2, --rx direct)
      OVERLOAD_COPIES copies of a gencap capture (addresses moved per copy, so every copy
      makes new streams) injected at full speed into a small af_packet ring (framecnt=256)
      with --ring-size 256. Asserts: frames that crossed vb minus those reasm's port
      received == port_kernel_drops (also in port_rx_missed); telemetry answered a dict
      every time it was asked during the injection; exit 0 on SIGTERM with the summary,
      0 unbalanced, bytes conserved; every jsonl line is gopacket's expectation, or says
      it is incomplete (skips, skipped_bytes, skip_unknown), or is exactly the first
      bytes of the expected direction (its tail never reached reasm: nothing can tell).
      Skipped when nothing at all was dropped (the machine kept up: nothing to count).
  sighup_reopens_jsonl
      during paced traffic the jsonl file is renamed (as logrotate does) and reasm gets
      SIGHUP; asserts reasm printed "SIGHUP: outputs reopened", both files have lines,
      and their union holds every direction exactly once, byte-exact.
  sigterm_mid_traffic
      SIGTERM while 50 paced connections are mid-transfer. Asserts: exit 0, summary,
      0 unbalanced, bytes conserved, every jsonl line complete JSON, the directions of
      connections done before the signal byte-exact, and every other line the exact
      beginning of what was sent (or marked with skips).
  dumpcap_round_trip, proc_info_reads_ports
      DPDK secondaries need shared memory: HUGE_PAGES 2 MiB hugepages are added to the
      kernel's pool and a hugetlbfs of the case's own is mounted (reasmkit.hugepages;
      all restored afterwards, HugePages_Total checked); reasm runs with --huge-dir DIR
      -m 512 (not --huge-unlink: DPDK 22.11's secondaries cannot map the memory then).
      dpdk-dumpcap (in B, same --file-prefix) captures while real TCP runs; dpdk-proc-info
      --stats runs meanwhile; after both left, more traffic. Asserts: reasm's directions
      byte-exact (both phases); dumpcap exited 0 and captured packets; the capture
      replayed through reasm (net_pcap, 2 workers, --timeout 0) gives the same bytes and
      SHA-256 for every direction it holds from start to end (start and end true);
      proc-info exited 0 and shows RX-packets > 0 for port 0; reasm's rx_pkts grew while
      proc-info was attached and after both secondaries had left.
      Skipped (with the reason) when hugepages cannot be reserved, the tools are missing,
      or reasm is built with AddressSanitizer (secondaries then often cannot map its
      memory). reasm's lcore ids are 1-3 here, not 0: dpdk-dumpcap 22.11 runs as lcore 0,
      and the pdump callback in reasm's receiving lcore allocates the packets' copies from
      dumpcap's mempool through the cache of its own lcore id, which dumpcap frees into
      at the same time when both are 0: the capture then holds some packets twice and
      misses others (seen once in seven runs with lcore 0; reasm's own output is fine).
  tap_mirror_direct
      reasm on net_tap (iface=tp0 in B, 2 workers: "rx direct" at start-up), every frame
      crossing vb mirrored into tp0 by tc (clsact, u32 match-all, mirred egress mirror,
      ingress and egress). Asserts: every direction of real TCP byte-exact, bytes
      conserved. Skipped without /dev/net/tun or when tc refuses the filters.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, hugepages, live, netns  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tcp_traffic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = os.path.join(HERE, "tcp_traffic.py")
INJECT = os.path.join(HERE, "inject.py")
SYS_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

BASE_OPTS = ["--sha256", "--quiet", "--pages-total", "0", "--pages-per-conn", "0"]
SIGTERM_AFTER = 12          # jsonl lines written before the SIGTERM (6 connections done)
DONE_MARGIN = 0.3           # a connection done this long before SIGTERM must be exact
TIMER_CONNS = 20
HOLD = 3.0                  # seconds the timer connections stay idle
TIMER_LIMIT = 2.0           # a line must appear within this of its connection going idle
OFFLOAD_CONNS = 40
OFFLOAD_GSO_MAX = 30000
BIG_FRAMESZ = 32768
OVERLOAD_GEN = ["--seed", "21", "--conns", "200", "--p-big", "0"]
OVERLOAD_COPIES = 20        # ~130,000 frames, about a second at full speed here
OVERLOAD_FRAMECNT = 256
OVERLOAD_FRAMESZ = 4096
HUGE_PAGES = 400            # 2 MiB pages: reasm's -m 512 plus the secondaries
SECONDARY_LCORES = "(1-3)@(0,1)"   # main lcore 1, workers 2 and 3: lcore 0 is dumpcap's
TAP_IFACE = "tp0"

# Cases of this module, in the order they run.
NAMES = ["timers_wall_clock", "timers_wall_clock_direct_w2", "offloads_on_large_frames",
         "offloads_on_frames_cut_counted", "overload_counted", "overload_counted_direct_w2",
         "sighup_reopens_jsonl", "sigterm_mid_traffic", "dumpcap_round_trip",
         "proc_info_reads_ports", "tap_mirror_direct"]


class Failure(Exception):
    pass


class Skip(Exception):
    pass


class Ctx:
    """What every case gets: the bed, reasm, a work folder, whether --rx exists, and
    server ports / client port ranges of their own (no TIME_WAIT clash between cases)."""

    def __init__(self, bed, exe, work, rx_ok):
        self.bed, self.exe, self.work, self.rx_ok = bed, exe, work, rx_ok
        self._n = 0
        self.cache = {}
        self.traffics = []

    def end_traffic(self):
        """Stop the traffic processes a case left running (it failed half-way)."""
        for tr in self.traffics:
            tr.abort()
        self.traffics = []

    def ports(self):
        self._n += 1
        return 5100 + self._n, 30000 + self._n * 600     # up to 600 connections each

    def dir(self, name):
        d = os.path.join(self.work, name)
        os.makedirs(d, exist_ok=True)
        return d


def read_tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def port_lines(stdout):
    return [line[len("reasm: "):] for line in stdout.splitlines()
            if line.startswith("reasm: port") and "received" not in line]


# ---- reasm --------------------------------------------------------------------------

def start_reasm(ctx, tag, vdevs, workers, app_args, huge_dir=None, mem_mb=1024, lcores=None):
    r = live.NetnsReasm(ctx.exe, ctx.bed, tag, mem_mb=mem_mb, huge_dir=huge_dir)
    bg = r.start(vdevs, list(app_args), lcores=lcores or live.lcores_for(workers))
    ctx.bed.procs.append(bg.proc)
    tel = bg.telemetry(timeout=30)
    if tel is None:
        res = bg.stop(timeout=10)
        raise Failure("reasm did not come up (telemetry /reasm/config never answered)\n" +
                      res.describe())
    return bg, tel


def reasm_stdout_so_far(bg):
    return read_tail(os.path.join(bg.tmp, "stdout"), 1 << 20)


def thread_stacks(pid):
    """Where every thread of a live process is (gdb backtraces, else kernel wait
    channels), for a failure message."""
    if shutil.which("gdb"):
        try:
            r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex",
                                "thread apply all bt 15"], capture_output=True, text=True,
                               timeout=60, errors="replace")
            lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("#", "Thread"))]
            if lines:
                return "\n".join(lines[:150])
        except (OSError, subprocess.SubprocessError):
            pass
    out = []
    try:
        for t in sorted(os.listdir("/proc/%d/task" % pid)):
            out.append("%s %s %s" % (t, read_tail("/proc/%d/task/%s/comm" % (pid, t)).strip(),
                                     read_tail("/proc/%d/task/%s/wchan" % (pid, t))))
    except OSError:
        pass
    return "\n".join(out)


def stop_reasm(bg, tel, sig=signal.SIGTERM, timeout=60):
    """Stop reasm with sig; (result, summary, problems): exit 0, summary, 0 unbalanced.
    Still running after timeout: its threads' stacks go into the problems, then SIGKILL."""
    try:
        tel.close()
    except OSError:
        pass
    hung = None
    if bg.alive():
        bg.proc.send_signal(sig)
        try:
            bg.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = thread_stacks(bg.proc.pid)
    res = bg.stop(None, timeout=10)
    summary = appliance.parse_summary(res.stdout)
    problems = []
    if hung is not None:
        problems.append("reasm still running %d s after %s; its threads:\n%s" % (
            timeout, signal.Signals(sig).name, hung))
    if res.rc != 0:
        problems.append("reasm exit status %s on %s" % (res.rc, signal.Signals(sig).name))
    if summary is None:
        problems.append("no summary")
    elif summary.get("per_stream") is None:
        problems.append("no per-stream accounting line")
    elif summary["per_stream"]["unbalanced"] != 0:
        problems.append("%d streams unbalanced" % summary["per_stream"]["unbalanced"])
    return res, summary, problems


def conserved(summary, objs):
    if summary is None:
        return []
    why = appliance.bytes_conserved_problem(summary, objs)
    return ["bytes not conserved: " + why] if why else []


def rx_mode_args(ctx, mode):
    return ["--rx", mode] if ctx.rx_ok else []


# ---- real traffic -------------------------------------------------------------------

class Traffic:
    """tcp_traffic.py: its server in B, its client in A, one plan (seed, conns, shape)."""

    def __init__(self, ctx, d, name, seed, conns, shape=(), concurrency=8, start_gap=0.0,
                 deadline=60):
        self.ctx, self.bed = ctx, ctx.bed
        self.seed, self.conns, self.name = seed, conns, name
        port, base = ctx.ports()
        self.common = ["--seed", str(seed), "--conns", str(conns), "--port", str(port),
                       "--port-base", str(base), "--deadline", str(deadline)] + list(shape)
        self.truth_path = os.path.join(d, name + ".truth.jsonl")
        self.server_out = os.path.join(d, name + ".server.jsonl")
        self.ready = os.path.join(d, name + ".server.ready")
        self.server_log = os.path.join(d, name + ".server.log")
        self.client_log = os.path.join(d, name + ".client.log")
        self.concurrency, self.start_gap, self.deadline = concurrency, start_gap, deadline
        self.srv = self.cl = None
        ctx.traffics.append(self)

    def abort(self):
        for p in (self.cl, self.srv):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)

    def start_server(self):
        b = self.bed
        with open(self.server_log, "w") as log:
            self.srv = b.popen("b", [SYS_PYTHON, TRAFFIC, "server"] + self.common + [
                "--addr4", b.ip4_b, "--addr6", b.ip6_b, "--out", self.server_out,
                "--ready", self.ready], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not os.path.exists(self.ready):
            if self.srv.poll() is not None or time.monotonic() > deadline:
                raise Failure("the traffic server did not start: %s" %
                              read_tail(self.server_log))
            time.sleep(0.02)

    def start_client(self):
        b = self.bed
        with open(self.client_log, "w") as log:
            self.cl = b.popen("a", [SYS_PYTHON, TRAFFIC, "client"] + self.common + [
                "--server4", b.ip4_b, "--server6", b.ip6_b, "--client4", b.ip4_a,
                "--client6", b.ip6_a, "--concurrency", str(self.concurrency),
                "--start-gap", str(self.start_gap), "--out", self.truth_path],
                stdout=log, stderr=subprocess.STDOUT)
        self.t_client = time.monotonic()

    def client_running(self):
        return self.cl is not None and self.cl.poll() is None

    def run(self):
        self.start_server()
        self.start_client()
        return self.finish()

    def finish(self):
        """Wait for both ends (bounded); the problems of the traffic itself."""
        problems = []
        for p, what, log in ((self.cl, "client", self.client_log),
                             (self.srv, "server", self.server_log)):
            if p is None:
                continue
            try:
                p.wait(timeout=self.deadline + 40)
            except subprocess.TimeoutExpired:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
            if p.returncode != 0:
                problems.append("traffic %s exit %s: %s" % (what, p.returncode,
                                                            read_tail(log)))
        return problems

    def truth(self):
        if not os.path.exists(self.truth_path):
            return []
        return live.read_lines(self.truth_path)

    def payload_of(self, t):
        return tcp_traffic.payload(self.seed, t["conn"], t["dir"], t["bytes"])

    def failed_at_tcp(self, truth):
        bad = [t for t in truth if not t["ok"] and t["dir"] == "c2s"]
        if bad:
            return ["%d connections failed at the TCP level (not reasm's doing), e.g. %s" % (
                len(bad), bad[0]["error"])]
        return []


def compare(traffic, truth, objs, what="reasm's jsonl", **kw):
    mism, info = live.compare_truth([t for t in truth if t["ok"]], objs, traffic.payload_of,
                                    **kw)
    problems = []
    if not truth:
        problems.append("no truth written by the client (%s)" % traffic.name)
    if mism:
        problems.append("%d of %d stream directions not byte-exact in %s:\n  %s" % (
            info["mismatched"], info["directions"], what, "\n  ".join(mism)))
    return problems, info


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


# ---- 1. wall-clock timers -----------------------------------------------------------

def timers_case(ctx, name, mode, workers):
    t0 = time.monotonic()
    d = ctx.dir(name)
    jsonl = os.path.join(d, "reasm.jsonl")
    qpairs = workers if mode == "direct" else 1
    tr = Traffic(ctx, d, "hold", seed=41, conns=TIMER_CONNS, concurrency=TIMER_CONNS,
                 shape=["--ending", "hold", "--hold", str(HOLD), "--max-bytes", "32768"])
    tr.start_server()
    bg, tel = start_reasm(ctx, "tim%s" % mode[0], [live.af_packet_vdev(ctx.bed.if_b, qpairs)],
                          workers, ["--sink", "jsonl:" + jsonl] + BASE_OPTS + [
                              "--timeout", "500", "--flush-interval", "100"] +
                          rx_mode_args(ctx, mode))
    watch = live.JsonlWatcher(jsonl)
    try:
        tr.start_client()
        deadline = time.monotonic() + HOLD + 40
        while tr.client_running() and time.monotonic() < deadline:
            watch.poll()
            time.sleep(0.05)
        watch.poll()
        t_stop = time.time()
        problems = tr.finish()
    finally:
        res, summary, sp = stop_reasm(bg, tel)
    problems += sp
    truth = tr.truth()
    problems += tr.failed_at_tcp(truth)
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        problems.append("jsonl: " + "; ".join(errors[:5]))
    p, info = compare(tr, truth, objs, check_end=False, allow_empty_after=True)
    problems += p
    problems += conserved(summary, objs)
    seen = {}
    for o, at in watch.lines:
        if o.get("start") is True:
            seen.setdefault(live.key_of(o), (o, at))
    lat, lat_seen, late = [], [], []
    for t in truth:
        if not t["ok"] or t.get("idle_at") is None:
            continue
        k = live.key_of(t)
        if k not in seen:
            late.append("conn %d %s: no line while reasm ran (it stopped %.1f s after the "
                        "connection went idle)" % (t["conn"], t["dir"], t_stop - t["idle_at"]))
            continue
        o, at = seen[k]
        lat.append(at - t["idle_at"])
        if o.get("last_seen"):
            lat_seen.append(at - o["last_seen"] / 1e9)
        if at - t["idle_at"] > TIMER_LIMIT:
            late.append("conn %d %s: its line appeared %.2f s after the connection went idle "
                        "(limit %.1f s, hold %.1f s)" % (t["conn"], t["dir"],
                                                         at - t["idle_at"], TIMER_LIMIT, HOLD))
    if late:
        problems.append("%d of %d directions not flushed on time:\n  %s" % (
            len(late), 2 * TIMER_CONNS, "\n  ".join(late[:12])))
    notes = ["%d connections of up to 32 KB each way held idle %.1f s before their FINs; "
             "line written %.2f/%.2f/%.2f s (min/median/max) after the connection went idle "
             "(%.2f/%.2f/%.2f s after the line's last_seen); %d lines for FINs after the "
             "flush; case %.1fs" % (
                 TIMER_CONNS, HOLD, min(lat, default=float("nan")), median(lat),
                 max(lat, default=float("nan")), min(lat_seen, default=float("nan")),
                 median(lat_seen), max(lat_seen, default=float("nan")), info["empty_after"],
                 time.monotonic() - t0)]
    notes += port_lines(res.stdout)
    if problems:
        return "\n".join(problems) + "\n--- " + res.describe(), notes
    return None, notes


# ---- 2. offloads -------------------------------------------------------------------

def _link_sizes(bed, side):
    r = subprocess.run([netns.IP, "-n", bed.ns(side), "-d", "-j", "link", "show", "dev",
                        bed.ifname(side)], capture_output=True, text=True, timeout=10)
    try:
        info = json.loads(r.stdout)[0]
    except (ValueError, IndexError):
        return {}
    return {k: info[k] for k in ("gso_max_size", "gro_max_size") if k in info}


def _set_link_sizes(bed, sizes_by_side):
    """ip link set DEV gso_max_size N gro_max_size N on both ends; (ok, why)."""
    errs = []
    for side, sizes in sizes_by_side.items():
        args = []
        for k, v in sizes.items():
            args += [k, str(v)]
        if not args:
            continue
        r = subprocess.run([netns.IP, "-n", bed.ns(side), "link", "set", "dev",
                            bed.ifname(side)] + args, capture_output=True, text=True,
                           timeout=10)
        if r.returncode != 0:
            errs.append("%s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
    return not errs, "; ".join(errs)


def offloads_case(ctx, name, framesz):
    t0 = time.monotonic()
    d = ctx.dir(name)
    bed = ctx.bed
    jsonl = os.path.join(d, "reasm.jsonl")
    notes = []
    saved = {s: _link_sizes(bed, s) for s in ("a", "b")}
    try:
        bed.set_offloads(True)
    except netns.NetnsError as e:
        try:
            bed.set_offloads(False)
        except netns.NetnsError:
            pass
        raise Skip("cannot turn the veth's offloads on: %s" % e)
    try:
        ok, why = _set_link_sizes(bed, {s: {"gso_max_size": OFFLOAD_GSO_MAX,
                                            "gro_max_size": OFFLOAD_GSO_MAX}
                                        for s in ("a", "b")})
        if not ok:
            ok2, why2 = _set_link_sizes(bed, {s: {"gso_max_size": OFFLOAD_GSO_MAX}
                                              for s in ("a", "b")})
            notes.append("the kernel refused gro_max_size (%s)%s" % (
                why, "; gso_max_size %d set" % OFFLOAD_GSO_MAX if ok2 else
                "; gso_max_size refused too: " + why2))
            if not ok2 and framesz > 2048:
                raise Skip("cannot keep frames under framesz: %s; %s" % (why, why2))
        else:
            notes.append("gso_max_size and gro_max_size %d on both ends" % OFFLOAD_GSO_MAX)
        big = framesz > 2048
        vdev = live.af_packet_vdev(bed.if_b, 1, framecnt=2048 if big else 16384,
                                   framesz=framesz, blocksz=framesz if big else 4096)
        tr = Traffic(ctx, d, "tcp", seed=51, conns=OFFLOAD_CONNS, concurrency=8)
        tr.start_server()
        before = bed.link_stats("b")
        bg, tel = start_reasm(ctx, "off%d" % big, [vdev], 2, [
            "--sink", "jsonl:" + jsonl] + BASE_OPTS + ["--timeout", "0", "--mbufs",
                                                       "4096" if big else "16383"] +
            rx_mode_args(ctx, "spread"))
        try:
            tr.start_client()
            problems = tr.finish()
            after = bed.link_stats("b")
            wire = live.frames_on(bed, "b", before)
            st, _ = live.wait_quiescent(tel, minimum=int(wire * 0.99), timeout=15)
        finally:
            res, summary, sp = stop_reasm(bg, tel)
    finally:
        try:
            bed.set_offloads(False)
        finally:
            _set_link_sizes(bed, saved)
    problems += sp
    truth = tr.truth()
    problems += tr.failed_at_tcp(truth)
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        problems.append("jsonl: " + "; ".join(errors[:5]))
    problems += conserved(summary, objs)
    nbytes = (after.get("rx_bytes", 0) - before.get("rx_bytes", 0) + after.get("tx_bytes", 0) -
              before.get("tx_bytes", 0))
    cut_tel = st.get("port_frames_cut", 0)
    m = re.search(r"(\d+) cut short", res.stdout)
    cut_sum = int(m.group(1)) if m else None
    notes.insert(0, "%d connections, %d frames on vb averaging %.0f bytes (offloads on); "
                 "framesz=%d; frames cut: telemetry %d, summary %s; case %.1fs" % (
                     len(truth) // 2, wire, nbytes / max(1, wire), framesz, cut_tel, cut_sum,
                     time.monotonic() - t0))
    if big:
        p, info = compare(tr, truth, objs)
        problems += p
        if cut_tel or cut_sum:
            problems.append("frames cut with framesz=%d: telemetry %d, summary %s" % (
                framesz, cut_tel, cut_sum))
    else:
        if not cut_tel or not cut_sum:
            problems.append("no cut frame counted (port_frames_cut %d, summary %s) with "
                            "framesz=%d and offloads on" % (cut_tel, cut_sum, framesz))
        lines_cut = sum(o.get("cut", 0) for o in objs)
        if lines_cut != st.get("ip_len_past_frame_bytes", 0) or not lines_cut:
            problems.append("bytes cut: the jsonl lines' cut add up to %d, the counter "
                            "ip_len_past_frame_bytes says %d" % (
                                lines_cut, st.get("ip_len_past_frame_bytes", 0)))
        notes.append("%d payload bytes cut from frames, every one in its line's cut" %
                     lines_cut)
        silent, differ = explain_differences(truth, objs, tr.payload_of)
        notes.append("%d of %d directions differ from the truth, every one with skips or cut bytes in its line" % (
            differ, len(truth)) if not silent else "%d directions differ" % differ)
        if silent:
            problems.append("%d directions differ from the truth without any skip (bytes "
                            "lost silently):\n  %s" % (len(silent), "\n  ".join(silent[:12])))
    notes += port_lines(res.stdout)
    if problems:
        return "\n".join(problems) + "\n--- " + res.describe(), notes
    return None, notes


def explain_differences(truth, objs, payload_of=None):
    """(silent, differ): the truth's directions whose main line (start true) differs from
    what was sent without saying so (no skip of any kind, no byte cut from a frame), and how
    many differ at all.
    payload_of(truth row): the bytes sent, to say when a silent line is their beginning."""
    by = {}
    for o in objs:
        by.setdefault(live.key_of(o), []).append(o)
    silent, differ = [], 0
    for t in truth:
        if not t["ok"]:
            continue
        lines = by.get(live.key_of(t), [])
        main = [o for o in lines if o.get("start") is True]
        if len(main) == 1 and main[0].get("bytes") == t["bytes"] and \
                main[0].get("sha256") == t["sha256"]:
            continue
        differ += 1
        if any(o.get("skips", 0) > 0 or o.get("skip_unknown", 0) > 0 or
               o.get("skipped_bytes", 0) > 0 or o.get("cut", 0) > 0 for o in lines):
            continue
        why = ""
        if payload_of is not None and len(main) == 1:
            n = main[0].get("bytes", -1)
            data = payload_of(t)
            if 0 <= n < len(data) and hashlib.sha256(data[:n]).hexdigest() == \
                    main[0].get("sha256"):
                why = (": exactly the first %d bytes, the rest of a cut frame at the tail of "
                       "the direction (%s: no later segment in it shows the hole), lost "
                       "without a skip in its line" % (n, t["ending"]))
        silent.append("conn %d %s %s:%d -> %s:%d (%d bytes sent): lines (bytes, start, end) "
                      "%s%s" % (t["conn"], t["dir"], t["src"], t["sport"], t["dst"],
                                t["dport"], t["bytes"],
                                [(o.get("bytes"), o.get("start"), o.get("end"))
                                 for o in lines], why))
    return silent, differ


# ---- 3. overload -------------------------------------------------------------------

def overload_case(ctx, name, mode, workers):
    t0 = time.monotonic()
    d = ctx.dir(name)
    bed = ctx.bed
    if "overload" not in ctx.cache:
        cap = os.path.join(ctx.dir("overload_capture"), "copies.pcap")
        ctx.cache["overload"] = (cap, live.gencap_copies(OVERLOAD_GEN, OVERLOAD_COPIES, cap))
    cap, info = ctx.cache["overload"]
    t_gen = time.monotonic() - t0
    if info["max_len"] > OVERLOAD_FRAMESZ - 128:
        raise Failure("gencap wrote a %d-byte frame" % info["max_len"])
    jsonl = os.path.join(d, "reasm.jsonl")
    old_mtu = bed.mtu
    bed.set_mtu(max(1500, info["max_len"] - 14))
    answers, kinds = 0, {}
    try:
        bg, tel = start_reasm(ctx, "ovl%s" % mode[0], [live.af_packet_vdev(
            bed.if_b, workers if mode == "direct" else 1, OVERLOAD_FRAMECNT,
            framesz=OVERLOAD_FRAMESZ)], workers, ["--sink", "jsonl:" + jsonl] + BASE_OPTS + [
                "--timeout", "0", "--ring-size", "256", "--mbuf-size", str(OVERLOAD_FRAMESZ)] +
            rx_mode_args(ctx, mode))
        problems = []
        try:
            live.wait_quiescent(tel, settle=0.3, timeout=5)
            before, st0 = live.settled_counts(bed, "b", tel)
            with open(os.path.join(d, "inject.log"), "w") as log:
                inj = bed.popen("a", [SYS_PYTHON, INJECT, "--iface", bed.if_a, "--pcap", cap,
                                      "--rate", "0", "--max-seconds", "60"],
                                stdout=subprocess.PIPE, stderr=log, text=True)
            deadline = time.monotonic() + 90
            while inj.poll() is None and time.monotonic() < deadline:
                try:
                    a = tel.query("/reasm/stats")
                except (OSError, ValueError) as e:
                    a = e
                answers += 1
                kinds[type(a).__name__] = kinds.get(type(a).__name__, 0) + 1
                time.sleep(0.15)
            try:
                out, _ = inj.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                inj.kill()
                out, _ = inj.communicate()
            try:
                injd = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                injd = {}
            if inj.returncode != 0 or injd.get("frames_sent") != info["packets"]:
                problems.append("inject.py exit %s, sent %s of %d frames: %s %s" % (
                    inj.returncode, injd.get("frames_sent"), info["packets"], out[-500:],
                    read_tail(os.path.join(d, "inject.log"), 500)))
            live.wait_quiescent(tel, timeout=15)
            after, st = live.settled_counts(bed, "b", tel)
            wire = live.frames_between(before, after)
            drops_text = live.drop_report(bed, "b", st, wire_frames=wire)
        finally:
            res, summary, sp = stop_reasm(bg, tel)
    finally:
        bed.set_mtu(old_mtu)
    problems += sp

    def delta(k):
        return st.get(k, 0) - st0.get(k, 0)

    rx, kdrops, missed = delta("port_rx_pkts"), delta("port_kernel_drops"), \
        delta("port_rx_missed")
    rollovers, ring_full = delta("port_kernel_rollovers"), delta("dist_ring_full")
    if answers < 3 or set(kinds) != {"dict"}:
        problems.append("telemetry during the overload: %d queries, answers %s (every one "
                        "should be a dict)" % (answers, kinds))
    if wire - rx != kdrops:
        problems.append("frames that crossed vb (%d) - frames reasm's port received (%d) = %d "
                        "!= port_kernel_drops %d" % (wire, rx, wire - rx, kdrops))
    if missed < kdrops:
        problems.append("port_rx_missed %d < port_kernel_drops %d" % (missed, kdrops))
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        problems.append("jsonl: " + "; ".join(errors[:5]))
    problems += conserved(summary, objs)
    p, cmp = live.compare_with_losses(info["expected"], objs)
    if p:
        problems.append("stream directions silently short or wrong:\n  " + "\n  ".join(p))
    m = re.search(r"(\d+) dropped for a full worker ring", res.stdout)
    notes = ["%d copies of a %d-connection gencap capture: %d frames (%d expected "
             "directions) injected at full speed in %.2f s (%s frames/s); %d frames crossed "
             "vb, reasm's port received %d, port_kernel_drops %d, port_rx_missed %d, "
             "rollovers %d, dist_ring_full %d (summary: %s); telemetry answered %d times "
             "during it (%s); case %.1fs (capture made in %.1fs)" % (
                 OVERLOAD_COPIES, info["connections"] // OVERLOAD_COPIES, info["packets"],
                 cmp["directions"], injd.get("seconds", 0), injd.get("fps"), wire, rx,
                 kdrops, missed, rollovers, ring_full, m.group(1) if m else None, answers,
                 ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
                 time.monotonic() - t0, t_gen),
             "jsonl against gopacket's expectation: %d exact, %d marked by skips, %d exactly "
             "the first bytes (of which %d all of them, flags differ), %d expected "
             "directions without any line, %d lines of unknown 4-tuples" % (
                 cmp["exact"], cmp["with_skips"], cmp["prefix"], cmp["full"], cmp["lost"],
                 cmp["extra"])]
    notes += port_lines(res.stdout)
    if problems:
        return "\n".join(problems) + "\n--- drop counters\n%s\n--- %s" % (
            drops_text, res.describe()), notes
    if kdrops == 0 and missed == 0 and ring_full == 0 and rollovers == 0:
        raise Skip("nothing was dropped: the machine kept up with the injector, so there "
                   "was no overload to count (%s)" % notes[0])
    return None, notes


# ---- 4. SIGHUP ---------------------------------------------------------------------

def sighup_case(ctx, name):
    t0 = time.monotonic()
    d = ctx.dir(name)
    jsonl = os.path.join(d, "reasm.jsonl")
    rotated = jsonl + ".1"
    tr = Traffic(ctx, d, "tcp", seed=61, conns=60, concurrency=8, start_gap=0.04,
                 shape=["--max-bytes", "65536"])
    tr.start_server()
    bg, tel = start_reasm(ctx, "hup", [live.af_packet_vdev(ctx.bed.if_b, 2)], 2, [
        "--sink", "jsonl:" + jsonl] + BASE_OPTS + ["--timeout", "0"] +
        rx_mode_args(ctx, "spread"))
    problems = []
    t_hup = reopened = None
    try:
        tr.start_client()
        deadline = time.monotonic() + 30
        while tr.client_running() and time.monotonic() < deadline:
            if os.path.exists(jsonl) and sum(1 for _ in open(jsonl, "rb")) >= 20:
                break
            time.sleep(0.02)
        if not tr.client_running():
            problems.append("the traffic ended before 20 lines were written: no rotation "
                            "during traffic")
        os.rename(jsonl, rotated)
        bg.proc.send_signal(signal.SIGHUP)
        t_hup = time.monotonic()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if "SIGHUP: outputs reopened" in reasm_stdout_so_far(bg):
                reopened = time.monotonic() - t_hup
                break
            time.sleep(0.02)
        during = tr.client_running()
        problems += tr.finish()
        live.wait_quiescent(tel, timeout=10)
    finally:
        res, summary, sp = stop_reasm(bg, tel)
    problems += sp
    if reopened is None and "SIGHUP: outputs reopened" not in res.stdout:
        problems.append("reasm did not print \"SIGHUP: outputs reopened\"")
    truth = tr.truth()
    problems += tr.failed_at_tcp(truth)
    old, e1 = appliance.read_jsonl(rotated)
    new, e2 = appliance.read_jsonl(jsonl)
    if e1 or e2:
        problems.append("jsonl: " + "; ".join((e1 + e2)[:5]))
    if not old or not new:
        problems.append("lines before the rotation %d, after %d: both should have some" % (
            len(old), len(new)))
    p, info = compare(tr, truth, old + new, what="the union of the two jsonl files")
    problems += p
    problems += conserved(summary, old + new)
    notes = ["%d connections (one every 40 ms); %d lines in the renamed file, %d in the new "
             "one; reopened %s after SIGHUP, traffic still running then: %s; case %.1fs" % (
                 len(truth) // 2, len(old), len(new),
                 "%.2f s" % reopened if reopened is not None else "(not seen)", during,
                 time.monotonic() - t0)]
    if problems:
        return "\n".join(problems) + "\n--- " + res.describe(), notes
    return None, notes


# ---- 5. SIGTERM mid-traffic ---------------------------------------------------------

def sigterm_case(ctx, name):
    t0 = time.monotonic()
    d = ctx.dir(name)
    jsonl = os.path.join(d, "reasm.jsonl")
    tr = Traffic(ctx, d, "tcp", seed=71, conns=50, concurrency=50, shape=[
        "--chunk", "8192", "--chunk-delay", "0.05", "--max-bytes", "200000"])
    tr.start_server()
    bg, tel = start_reasm(ctx, "term", [live.af_packet_vdev(ctx.bed.if_b, 2)], 2, [
        "--sink", "jsonl:" + jsonl] + BASE_OPTS + ["--timeout", "0"] +
        rx_mode_args(ctx, "direct" if ctx.rx_ok else "spread"))
    try:
        tr.start_client()
        # The signal once some connections are done (their lines written) and the
        # client still runs (the big ones are mid-transfer): whatever the machine's speed.
        t1 = time.monotonic()
        _wait_for(lambda: not tr.client_running() or (
            os.path.exists(jsonl) and sum(1 for _ in open(jsonl, "rb")) >= SIGTERM_AFTER),
            30)
        time.sleep(DONE_MARGIN + 0.1)     # those connections done long enough before
        running = tr.client_running()
        t_in = time.monotonic() - t1
        t_sig = time.time()
    finally:
        res, summary, problems = stop_reasm(bg, tel, signal.SIGTERM)
    problems += tr.finish()
    if not running:
        problems.append("the traffic was over before SIGTERM: nothing was mid-transfer")
    truth = tr.truth()
    problems += tr.failed_at_tcp(truth)
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        problems.append("jsonl lines not complete JSON: " + "; ".join(errors[:5]))
    problems += conserved(summary, objs)
    done = {t["conn"] for t in truth if t["ok"] and t["done_at"] < t_sig - DONE_MARGIN}
    if done:
        p, info = compare(tr, [t for t in truth if t["conn"] in done], objs,
                          what="reasm's jsonl (connections done before SIGTERM)")
        problems += p
    # The others were cut by the stop: each line the exact beginning of what was sent.
    by_key = {live.key_of(t): t for t in truth if t["conn"] not in done}
    cut = bad = 0
    for o in objs:
        t = by_key.get(live.key_of(o))
        if t is None:
            continue
        cut += 1
        if o.get("skips", 0) or o.get("skip_unknown", 0) or o.get("skipped_bytes", 0):
            continue
        data = tr.payload_of(t)
        n = o.get("bytes", -1)
        if o.get("start") is not True or not 0 <= n <= len(data) or \
                hashlib.sha256(data[:n]).hexdigest() != o.get("sha256"):
            bad += 1
            if bad <= 8:
                problems.append("conn %d %s (cut by the stop): %s bytes, not the first bytes "
                                "of the %d sent" % (t["conn"], t["dir"], n, t["bytes"]))
    notes = ["50 connections (8 KB writes every 50 ms, up to 200 KB each way); SIGTERM "
             "%.1f s in: %d connections done before it (byte-exact), %d lines of "
             "connections cut by the stop (each the exact beginning of its bytes); case "
             "%.1fs" % (t_in, len(done), cut, time.monotonic() - t0)]
    if not done or not cut:
        problems.append("SIGTERM should fall while some connections are done and others "
                        "under way (%d done, %d lines cut)" % (len(done), cut))
    notes += port_lines(res.stdout)
    if problems:
        return "\n".join(problems) + "\n--- " + res.describe(), notes
    return None, notes


# ---- 6. DPDK secondary processes: dpdk-dumpcap, dpdk-proc-info ----------------------

def sanitized(exe):
    """Why exe cannot host DPDK secondaries reliably (built with AddressSanitizer: its
    shadow memory takes addresses the secondaries must map the primary's memory at), or
    None."""
    try:
        r = subprocess.run(["ldd", exe], capture_output=True, text=True, timeout=30)
        if "libasan" in r.stdout:
            return ("reasm is built with AddressSanitizer: DPDK secondaries often cannot "
                    "map its memory at the addresses it uses (\"Cannot reserve ... bytes "
                    "at [0x7f...]\", ASan's shadow is there)")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def secondaries_case(ctx):
    """Both cases in one reasm run: {name: (failure, notes, skipped)}."""
    t0 = time.monotonic()
    names = ("dumpcap_round_trip", "proc_info_reads_ports")
    why = sanitized(ctx.exe)
    if why:
        return {n: (None, [], why) for n in names}
    tools = {t: shutil.which(t) for t in ("dpdk-dumpcap", "dpdk-proc-info")}
    if not all(tools.values()):
        why = "no %s" % ", ".join(t for t, p in tools.items() if not p)
        return {n: (None, [], why) for n in names}
    res_h = hugepages.Reservation(HUGE_PAGES)
    try:
        res_h.open()
    except hugepages.Unavailable as e:
        return {n: (None, [], "DPDK secondaries need hugepages: %s" % e) for n in names}
    d = ctx.dir("secondaries")
    out = {}
    try:
        out = _secondaries(ctx, d, res_h.mount_dir, tools, t0)
    finally:
        left = res_h.close()
    if left:
        for n in names:
            f, notes, sk = out.get(n, (None, [], None))
            out[n] = (((f + "\n") if f else "") + "hugepages not restored: " + "; ".join(left),
                      notes, None)
    return out


def _wait_for(path_or_fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path_or_fn():
            return True
        time.sleep(0.05)
    return False


def _secondaries(ctx, d, huge_dir, tools, t0):
    bed = ctx.bed
    jsonl = os.path.join(d, "reasm.jsonl")
    pcapng = os.path.join(d, "dumpcap.pcapng")
    tr1 = Traffic(ctx, d, "phase1", seed=81, conns=60, concurrency=8, start_gap=0.03,
                  shape=["--max-bytes", "100000"])
    tr2 = Traffic(ctx, d, "phase2", seed=82, conns=20, concurrency=8,
                  shape=["--max-bytes", "65536"])
    tr1.start_server()
    # Lcore ids 1-3, not 0: dpdk-dumpcap 22.11 runs as lcore 0 and frees the copies of
    # the packets into its mempool's cache for lcore 0, which the pdump callback in the
    # receiving lcore of reasm allocates from: sharing lcore 0 corrupts that cache (the
    # capture then holds packets twice and misses others).
    bg, tel = start_reasm(ctx, "sec", [live.af_packet_vdev(bed.if_b, 2)], 2, [
        "--sink", "jsonl:" + jsonl] + BASE_OPTS + ["--timeout", "0"] +
        rx_mode_args(ctx, "spread"), huge_dir=huge_dir, mem_mb=512,
        lcores=SECONDARY_LCORES)
    dump_problems, info_problems, common = [], [], []
    dump_log = os.path.join(d, "dumpcap.log")
    pi_out = ""
    rx = {}
    dump = None
    try:
        # stdbuf: its "Capturing on" line (stdout) says the capture is on.
        line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        with open(dump_log, "w") as log:
            dump = bed.popen("b", line_buffered + [
                tools["dpdk-dumpcap"], "--file-prefix=" + bg.prefix, "-i", "net_af_packet0",
                "-w", pcapng, "-q"], stdout=log, stderr=subprocess.STDOUT)
        if not _wait_for(lambda: "Capturing on" in read_tail(dump_log) or
                         dump.poll() is not None, 30 if line_buffered else 3):
            if line_buffered:
                dump_problems.append("dpdk-dumpcap did not start capturing in 30 s")
        if dump.poll() is not None:
            dump_problems.append("dpdk-dumpcap exited at once (%s): %s" % (
                dump.returncode, read_tail(dump_log)))
        rx["start"] = live.stats(tel).get("rx_pkts", 0)
        tr1.start_client()
        _wait_for(lambda: live.stats(tel).get("rx_pkts", 0) > rx["start"] + 100, 15)
        rx["before_proc_info"] = live.stats(tel).get("rx_pkts", 0)
        try:
            r = bed.run("b", [tools["dpdk-proc-info"], "--file-prefix=" + bg.prefix,
                              "--no-pci", "--log-level=error", "--", "--stats"],
                        timeout=40, capture_output=True, text=True, errors="replace")
            pi_rc, pi_out = r.returncode, r.stdout + r.stderr
        except subprocess.TimeoutExpired:
            pi_rc = "timeout (40 s)"
        rx["after_proc_info"] = live.stats(tel).get("rx_pkts", 0)
        common += tr1.finish()
        live.wait_quiescent(tel, timeout=10)
        if dump.poll() is None:
            dump.send_signal(signal.SIGINT)
        try:
            dump.wait(timeout=20)
        except subprocess.TimeoutExpired:
            dump.kill()
            dump.wait(timeout=5)
            dump_problems.append("dpdk-dumpcap did not stop on SIGINT in 20 s")
        if dump.returncode not in (0, None) and not dump_problems:
            dump_problems.append("dpdk-dumpcap exit %s: %s" % (dump.returncode,
                                                                read_tail(dump_log)))
        rx["secondaries_gone"] = live.stats(tel).get("rx_pkts", 0)
        common += tr2.run()
        live.wait_quiescent(tel, timeout=10)
        rx["end"] = live.stats(tel).get("rx_pkts", 0)
    finally:
        res, summary, sp = stop_reasm(bg, tel)
        if dump is not None and dump.poll() is None:
            dump.kill()
    common += sp
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        common.append("jsonl: " + "; ".join(errors[:5]))
    common += conserved(summary, objs)
    truth1, truth2 = tr1.truth(), tr2.truth()
    common += tr1.failed_at_tcp(truth1) + tr2.failed_at_tcp(truth2)
    p1, _ = compare(tr1, truth1, objs, what="reasm's jsonl (traffic while dumpcap captured)")
    p2, _ = compare(tr2, truth2, objs, what="reasm's jsonl (traffic after the secondaries "
                    "left)")
    common += p1 + p2
    if not rx.get("end", 0) > rx.get("secondaries_gone", 0):
        common.append("reasm's rx_pkts did not grow after the secondaries left: %s" % rx)

    # dpdk-dumpcap's capture, replayed.
    dlog = read_tail(dump_log, 20000)
    m = re.search(r"Packets received/dropped on interface '[^']*': (\d+)/(\d+)", dlog)
    dump_rx, dump_drop = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    replay_notes = []
    complete = same = 0
    if not dump_rx:
        dump_problems.append("dpdk-dumpcap captured nothing (%s): %s" % (
            "no count" if m is None else "0 packets", dlog[-1500:]))
    elif not os.path.exists(pcapng):
        dump_problems.append("dpdk-dumpcap wrote no %s" % pcapng)
    else:
        rj = os.path.join(d, "replay.jsonl")
        rr = appliance.Reasm(ctx.exe, "livereplay")
        rres = rr.run(["net_pcap0,rx_pcap=" + pcapng], ["--sink", "jsonl:" + rj] +
                      BASE_OPTS + ["--timeout", "0"], timeout=120)
        how = "pcapng read by net_pcap (libpcap) as written"
        if rres.rc != 0 and shutil.which("editcap"):
            pc = os.path.join(d, "dumpcap.pcap")
            subprocess.run(["editcap", "-F", "pcap", pcapng, pc], capture_output=True,
                           timeout=60)
            if os.path.exists(rj):
                os.unlink(rj)
            rres = rr.run(["net_pcap0,rx_pcap=" + pc], ["--sink", "jsonl:" + rj] +
                          BASE_OPTS + ["--timeout", "0"], timeout=120)
            how = "pcapng converted by editcap -F pcap"
        if rres.rc != 0:
            dump_problems.append("replaying the capture failed:\n" + rres.describe())
        else:
            robjs, rerr = appliance.read_jsonl(rj)
            if rerr:
                dump_problems.append("replay jsonl: " + "; ".join(rerr[:5]))
            live_by = {}
            for o in objs:
                if o.get("start") is True:
                    live_by.setdefault(live.key_of(o), []).append(o)
            diffs = []
            for o in robjs:
                if o.get("start") is not True or o.get("end") is not True:
                    continue
                complete += 1
                lv = live_by.get(live.key_of(o), [])
                if len(lv) == 1 and lv[0].get("bytes") == o.get("bytes") and \
                        lv[0].get("sha256") == o.get("sha256"):
                    same += 1
                else:
                    diffs.append("%s:%s -> %s:%s: replay %s bytes %s, live %s" % (
                        live.key_of(o) + (o.get("bytes"), str(o.get("sha256"))[:12],
                                          [(x.get("bytes"), str(x.get("sha256"))[:12])
                                           for x in lv])))
            if complete == 0:
                dump_problems.append("the capture holds no direction from start to end")
            if diffs:
                dump_problems.append("%d of %d directions complete in the capture differ from "
                                     "reasm's live output:\n  %s" % (
                                         len(diffs), complete, "\n  ".join(diffs[:10])))
            replay_notes.append(how)
    n1 = sum(1 for t in truth1 if t["ok"])
    dump_notes = ["dpdk-dumpcap captured %s packets (%s dropped) while %d connections ran; "
                  "replayed: %d directions held from start to end (of %d in that traffic), "
                  "%d with the same bytes and SHA-256 as live; %s; case %.1fs" % (
                      dump_rx, dump_drop, len(truth1) // 2, complete, n1, same,
                      "; ".join(replay_notes), time.monotonic() - t0)]

    # dpdk-proc-info.
    m = re.search(r"NIC statistics for port 0.*?RX-packets:\s*(\d+)", pi_out, re.S)
    pi_rx = int(m.group(1)) if m else None
    if pi_rc != 0:
        info_problems.append("dpdk-proc-info exit %s: %s" % (pi_rc, pi_out[-1500:]))
    if not pi_rx:
        info_problems.append("dpdk-proc-info shows no RX-packets for port 0: %s" % (
            pi_out[-1500:]))
    if not rx.get("after_proc_info", 0) > rx.get("before_proc_info", 0):
        info_problems.append("reasm's rx_pkts did not grow while dpdk-proc-info was attached:"
                             " %s" % rx)
    info_notes = ["dpdk-proc-info --stats: port 0 RX-packets %s; reasm's rx_pkts %s" % (
        pi_rx, ", ".join("%s %d" % kv for kv in rx.items()))]
    info_notes += port_lines(res.stdout)
    tail = "\n--- " + res.describe()
    out = {}
    for name, own, notes in (("dumpcap_round_trip", dump_problems, dump_notes),
                             ("proc_info_reads_ports", info_problems, info_notes)):
        probs = own + common
        out[name] = ("\n".join(probs) + tail if probs else None, notes, None)
    return out


# ---- 7. a tap fed by tc mirred --------------------------------------------------------

def _tc(bed, args):
    return subprocess.run(bed.exec_cmd("b", ["tc"] + args), capture_output=True, text=True,
                          timeout=10)


def tap_case(ctx, name):
    t0 = time.monotonic()
    if not os.path.exists("/dev/net/tun"):
        raise Skip("no /dev/net/tun")
    if not shutil.which("tc"):
        raise Skip("no tc (iproute2)")
    bed = ctx.bed
    d = ctx.dir(name)
    jsonl = os.path.join(d, "reasm.jsonl")
    tr = Traffic(ctx, d, "tcp", seed=91, conns=60, concurrency=8,
                 shape=["--max-bytes", "100000"])
    tr.start_server()
    bg, tel = start_reasm(ctx, "tap", ["net_tap0,iface=" + TAP_IFACE], 2, [
        "--sink", "jsonl:" + jsonl] + BASE_OPTS + ["--timeout", "0"])
    problems = []
    qdisc = False
    try:
        if not _wait_for(lambda: subprocess.run(
                bed.exec_cmd("b", [netns.IP, "link", "show", TAP_IFACE]),
                capture_output=True, timeout=10).returncode == 0, 20):
            raise Failure("%s did not appear in namespace B within 20 s" % TAP_IFACE)
        subprocess.run(bed.exec_cmd("b", [netns.IP, "link", "set", TAP_IFACE, "up"]),
                       capture_output=True, timeout=10)
        r = _tc(bed, ["qdisc", "add", "dev", bed.if_b, "clsact"])
        if r.returncode != 0:
            raise Skip("tc qdisc add clsact: %s" % r.stderr.strip())
        qdisc = True
        for hook in ("ingress", "egress"):
            r = _tc(bed, ["filter", "add", "dev", bed.if_b, hook, "protocol", "all", "u32",
                          "match", "u32", "0", "0", "action", "mirred", "egress", "mirror",
                          "dev", TAP_IFACE])
            if r.returncode != 0:
                raise Skip("tc filter (%s, u32 + mirred): %s" % (hook, r.stderr.strip()))
        before = bed.link_stats("b")
        tr.start_client()
        problems += tr.finish()
        wire = live.frames_on(bed, "b", before)
        st, settled = live.wait_quiescent(tel, minimum=wire, timeout=15)
    finally:
        if qdisc:
            _tc(bed, ["qdisc", "del", "dev", bed.if_b, "clsact"])
        res, summary, sp = stop_reasm(bg, tel)
    problems += sp
    direct = [ln for ln in port_lines(res.stdout) if "rx direct" in ln]
    if not direct:
        problems.append("reasm did not take the tap as a direct port (no \"rx direct\" in "
                        "its start-up lines)")
    truth = tr.truth()
    problems += tr.failed_at_tcp(truth)
    objs, errors = appliance.read_jsonl(jsonl)
    if errors:
        problems.append("jsonl: " + "; ".join(errors[:5]))
    p, info = compare(tr, truth, objs)
    problems += p
    problems += conserved(summary, objs)
    notes = ["%d connections mirrored from vb into %s (tc u32 + mirred, ingress and egress): "
             "%d frames crossed vb, reasm's port received %d (port_kernel_drops %d); case "
             "%.1fs" % (len(truth) // 2, TAP_IFACE, wire, st.get("port_rx_pkts", 0),
                        st.get("port_kernel_drops", 0), time.monotonic() - t0)]
    notes += port_lines(res.stdout)
    if problems:
        return "\n".join(problems) + "\n--- " + res.describe(), notes
    return None, notes


# ---- the runner ---------------------------------------------------------------------

def run(ctx, selected, add, begin=lambda name: None):
    """Run the selected cases of NAMES; add(name, failure=, skipped=, notes=) reports one,
    begin(name) is called as one starts."""
    def one(name, fn, *args):
        if name not in selected:
            return
        begin(name)
        try:
            failure, notes = fn(ctx, *args)
            add(name, failure=failure, notes=notes)
        except Skip as e:
            add(name, skipped=str(e))
        except Failure as e:
            add(name, failure=str(e))
        except netns.NetnsError:
            raise
        except Exception:  # noqa: BLE001 - a bug of the test or the bed: a failure
            import traceback
            add(name, failure=traceback.format_exc())
        finally:
            ctx.end_traffic()

    one("timers_wall_clock", timers_case, "timers_wall_clock", "spread", 2)
    if ctx.rx_ok:
        one("timers_wall_clock_direct_w2", timers_case, "timers_wall_clock_direct_w2",
            "direct", 2)
    elif "timers_wall_clock_direct_w2" in selected:
        add("timers_wall_clock_direct_w2", skipped="this reasm has no --rx option")
    one("offloads_on_large_frames", offloads_case, "offloads_on_large_frames", BIG_FRAMESZ)
    one("offloads_on_frames_cut_counted", offloads_case, "offloads_on_frames_cut_counted",
        2048)
    one("overload_counted", overload_case, "overload_counted", "spread", 1)
    if ctx.rx_ok:
        one("overload_counted_direct_w2", overload_case, "overload_counted_direct_w2",
            "direct", 2)
    elif "overload_counted_direct_w2" in selected:
        add("overload_counted_direct_w2", skipped="this reasm has no --rx option")
    one("sighup_reopens_jsonl", sighup_case, "sighup_reopens_jsonl")
    one("sigterm_mid_traffic", sigterm_case, "sigterm_mid_traffic")
    sec = [n for n in ("dumpcap_round_trip", "proc_info_reads_ports") if n in selected]
    if sec:
        begin(sec[0])
        try:
            results = secondaries_case(ctx)
        except netns.NetnsError:
            raise
        except Exception:  # noqa: BLE001
            import traceback
            tb = traceback.format_exc()
            results = {n: (tb, [], None) for n in sec}
        finally:
            ctx.end_traffic()
        for n in sec:
            failure, notes, skipped = results[n]
            add(n, failure=failure, skipped=skipped, notes=notes)
    one("tap_mirror_direct", tap_case, "tap_mirror_direct")
