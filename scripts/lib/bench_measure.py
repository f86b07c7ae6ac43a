#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The measuring half of scripts/bench (which installs and builds, then runs this).

Runs, in order, with the binaries scripts/bench built:
  1. reasm_bench --json: reasm, the floor and parse-only per workload, idle1m, flush;
  2. reasm_bench --write-pcap: the same packets as classic pcaps, for the peers;
  3. the peers (tests/bench/peers), one run per workload pcap; a peer that
     could not be built is reported "unavailable: <reason>";
  4. the appliance (app/reasm) on net_pcap infinite_rx=1 with the inorder pcap,
     1 and 2 workers, packets/s read from /reasm/stats over the telemetry socket;
  5. callgrind: instructions per packet of the timed region, reasm and floor;
then writes everything, with the settings, the machine and the date, to ONE results
JSON file (--out, default TMP/results.json). scripts/lib/bench_report.py reads it and
prints the table, writes docs/performance.md and its plot, or the --smoke XML report.

Results file (a JSON object):
  reasm: {workload: reasm_bench's line}; reasm_rc, reasm_err: its exit status, stderr;
  pcaps: {workload: reasm_bench --write-pcap's line}; peers: {"gopacket"|"libnids":
  {binary, reason, results: {workload: the peer's line or {"error"}}}}; apps: [one
  dict per appliance run]; callgrind: {per_pkt, annotate} or null; callgrind_reason;
  workloads: the throughput workloads in table order; settings: smoke, reps,
  peer_repeat, app_seconds, load, cmdline, machine, date.
"""
import argparse
import datetime
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import telemetry  # noqa: E402

THROUGHPUT = ["inorder", "ooo", "small", "single", "skips", "loss", "grow", "conn"]


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run(cmd, timeout, **kw):
    """Run cmd; return (rc, stdout, stderr). rc 124 on timeout."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return 124, out, "timed out after %d s" % timeout
    except OSError as e:
        return 127, "", str(e)


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


# ---------------------------------------------------------------------------
# 1-2. reasm_bench


def run_reasm(args, tmp):
    cmd = [args.reasm_bench, "--json", "--reps", str(args.reps)] + args.size_args
    log("reasm_bench: " + " ".join(cmd[1:]))
    rc, out, err = run(cmd, 400)
    res = {r["workload"]: r for r in json_lines(out) if "workload" in r}
    if rc != 0:
        log("reasm_bench exited %d: %s" % (rc, err.strip()[-2000:]))
    return rc, res, err


def write_pcaps(args, tmp):
    d = os.path.join(tmp, "pcap")
    cmd = [args.reasm_bench, "--write-pcap", d, "--json"] + args.size_args
    rc, out, err = run(cmd, 300)
    pcaps = {r["workload"]: r for r in json_lines(out) if "pcap" in r}
    if rc != 0:
        log("reasm_bench --write-pcap exited %d: %s" % (rc, err.strip()))
    return rc, pcaps


# ---------------------------------------------------------------------------
# 3. peers


def peer_status(args, name):
    """(binary or None, reason)."""
    binary = os.path.join(args.peers_dir, name + "_bench")
    reason_file = os.path.join(args.peers_dir, name + ".unavailable")
    if os.path.exists(reason_file):
        with open(reason_file) as f:
            reason = " ".join(f.read().split()) or "not built"
        return None, reason
    if not os.access(binary, os.X_OK):
        return None, "not built (%s missing)" % binary
    return binary, ""


def run_peer(args, name, binary, pcaps):
    results = {}
    repeat = "1" if args.smoke else str(args.peer_repeat)
    for w in THROUGHPUT:
        if w not in pcaps:
            continue
        cmd = [binary, "--repeat", repeat, "--workload", w, pcaps[w]["pcap"]]
        rc, out, err = run(cmd, 180)
        lines = json_lines(out)
        if rc != 0 or not lines:
            results[w] = {"error": "exit %d: %s" % (rc, " ".join(err.split())[-300:])}
        else:
            results[w] = lines[-1]
        log("%s %s: %s" % (name, w, results[w].get("ns_per_pkt", results[w].get("error"))))
    return results


# ---------------------------------------------------------------------------
# 4. the appliance


def app_run(args, pcap, packets, workers, seconds):
    prefix = "reasm-bench-app-%d-%d" % (os.getpid(), workers)
    lcores = ["-l", "0,1"] if workers == 1 else ["--lcores", "(0-%d)@(0,1)" % workers]
    cmd = [args.app, "--no-huge", "-m", str(args.app_mem), "--no-pci",
           "--file-prefix=" + prefix, "--log-level=error"] + lcores + [
           "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "--",
           "--sink", "count", "--quiet", "--mbufs", str(packets + 65536)]
    res = {"workers": workers, "lcores": " ".join(lcores), "pcap": pcap, "command": " ".join(
        shlex.quote(c) for c in cmd)}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        tel = telemetry.connect(prefix, wait=60, timeout=None)
        deadline = time.monotonic() + 60
        while (tel.query("/reasm/stats") or {}).get("pkts", 0) == 0:
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("no packets assembled within 60 s")
            time.sleep(0.1)
        time.sleep(0.5)  # past the start
        a, ta = tel.query("/reasm/stats"), time.monotonic()
        time.sleep(seconds)
        b, tb = tel.query("/reasm/stats"), time.monotonic()
        dt = tb - ta

        def rate(k):
            return (b.get(k, 0) - a.get(k, 0)) / dt
        skipped = sum(rate(k) for k in b if k.startswith("skipped_bytes_"))
        res.update(seconds=round(dt, 2), pps=rate("pkts"), rx_pps=rate("port_rx_pkts"),
                   ring_full_pps=rate("dist_ring_full"),
                   delivered_gbps=rate("delivered_bytes") * 8 / 1e9,
                   payload_gbps=rate("payload_bytes") * 8 / 1e9,
                   skipped_bytes_per_s=skipped, ok=True)
    except (OSError, RuntimeError, json.JSONDecodeError) as e:
        res.update(ok=False, error=str(e))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        try:
            out, _ = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        res["exit"] = p.returncode
        res["output_tail"] = out[-1500:] if out else ""
        if p.returncode != 0:
            res["ok"] = False
            res.setdefault("error", "exit status %d" % p.returncode)
    log("app %d worker(s): %s" % (workers, "%.3f Mpps" % (res["pps"] / 1e6)
                                  if res.get("ok") else res.get("error")))
    return res


# ---------------------------------------------------------------------------
# 5. callgrind


def sanitized(binary):
    rc, out, _ = run(["ldd", binary], 30)
    return "libasan" in out or "libubsan" in out


def run_callgrind(args, tmp):
    """{"reasm:inorder": Ir, ...}, {workload: packets}, {tag: annotate text}, reason."""
    if not shutil_which("valgrind"):
        return None, "valgrind not installed (Debian package valgrind)"
    if sanitized(args.reasm_bench):
        return None, "reasm_bench is built with sanitizers"
    d = os.path.join(tmp, "callgrind")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    out_file = os.path.join(d, "cg.out")
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
           "--toggle-collect=bench_timed_region", "--callgrind-out-file=" + out_file,
           args.reasm_bench, "--json", "--side", "reasm,floor",
           "--only", ",".join(THROUGHPUT), "--mem", "2048"] + args.size_args + ["--reps", "1"]
    log("callgrind: " + " ".join(cmd[6:]))
    rc, out, err = run(cmd, 600)
    if rc != 0:
        return None, "valgrind exited %d: %s" % (rc, " ".join(err.split())[-300:])
    packets = {r["workload"]: r["packets"] for r in json_lines(out) if "packets" in r}
    totals, files = {}, {}
    for f in sorted(glob.glob(out_file + ".*")):
        if not re.fullmatch(r"\d+", f.rsplit(".", 1)[1]):
            continue
        tag, total = None, None
        with open(f, errors="replace") as fh:
            for line in fh:
                m = re.match(r"desc: Trigger: Client Request: (\S+)", line)
                if m:
                    tag = m.group(1)
                if line.startswith("totals:"):
                    total = int(line.split()[1])
        if tag and total is not None:
            totals[tag] = total
            files[tag] = f
    annotate = {}
    for tag in ("reasm:inorder", "reasm:ooo"):
        if tag in files and shutil_which("callgrind_annotate"):
            # Dumps after the first carry a wrong "summary:" line (instrumentation
            # switched on and off); give callgrind_annotate the dump's own total.
            fixed = files[tag] + ".fixed"
            with open(files[tag], errors="replace") as fi, open(fixed, "w") as fo:
                for line in fi:
                    fo.write("summary: %d\n" % totals[tag] if line.startswith("summary:")
                             else line)
            rc, text, _ = run(["callgrind_annotate", "--threshold=100", fixed], 120)
            annotate[tag] = top_functions(text, packets.get(tag.split(":")[1], 0))
    per_pkt = {tag: total / packets[tag.split(":")[1]] for tag, total in totals.items()
               if packets.get(tag.split(":")[1])}
    return {"per_pkt": per_pkt, "annotate": annotate}, ""


def top_functions(text, packets, n=15):
    """[(Ir, percent, instr/pkt, function)] from callgrind_annotate's output."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        ir = int(m.group(1).replace(",", ""))
        fn = m.group(3)
        fn = re.sub(r"^\?\?\?:", "", fn)
        fn = re.sub(r"^[^ :]*\.\./", "", fn)  # build-bench/../lib/... -> lib/...
        fn = re.sub(r" \[[^\]]*/([^/\]]+)\]$", r" (\1)", fn)
        fn = re.sub(r"^0x[0-9a-f]+ \((librte_\w+)\.so[.\d]*\)$",
                    r"\1 internal function (stripped, no symbol)", fn)
        rows.append((ir, float(m.group(2)), ir / packets if packets else 0, fn))
        if len(rows) >= n:
            break
    return rows


def shutil_which(name):
    return shutil.which(name)


def machine():
    model, cpus = "unknown", str(os.cpu_count())
    rc, out, _ = run(["lscpu"], 30)
    for line in out.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == "Model name":
            model = v.strip()
        elif k.strip() == "CPU(s)":
            cpus = v.strip()
    hyper = ""
    for line in out.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == "Hypervisor vendor":
            hyper = ", %s guest" % v.strip()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = ", %.0f GiB RAM" % (kb / 1048576)
    except (OSError, ValueError, IndexError):
        pass
    return "%s, %s CPUs%s%s" % (model, cpus, hyper, mem)


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reasm-bench", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--peers-dir", required=True)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--packets", type=int)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--peer-repeat", type=int, default=5)
    ap.add_argument("--app-seconds", type=float, default=5)
    ap.add_argument("--app-mem", type=int, default=2048)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--cmdline", default="scripts/bench")
    ap.add_argument("--out", help="the results file (default: TMP/results.json)")
    args = ap.parse_args()

    args.size_args = []
    if args.smoke:
        args.size_args = ["--smoke", "--mem", "1024"]
        args.reps = 2
        args.peer_repeat = 1
        args.app_seconds = min(args.app_seconds, 1.0)
        args.app_mem = 1024
    if args.packets:
        args.size_args += ["--packets", str(args.packets)]
    t_start = time.monotonic()
    settings = {
        "smoke": args.smoke, "reps": args.reps, "peer_repeat": args.peer_repeat,
        "app_seconds": args.app_seconds, "load": "%.2f" % os.getloadavg()[0],
        "cmdline": args.cmdline, "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}

    reasm_rc, reasm, reasm_err = run_reasm(args, args.tmp)
    log("reasm_bench done (%.0f s)" % (time.monotonic() - t_start))
    _, pcaps = write_pcaps(args, args.tmp)

    peers = {}
    for name in ("gopacket", "libnids"):
        binary, reason = peer_status(args, "nids" if name == "libnids" else name)
        peers[name] = {"binary": binary, "reason": reason, "results": {}}
        if binary:
            peers[name]["results"] = run_peer(args, name, binary, pcaps)
        else:
            log("%s unavailable: %s" % (name, reason))
    log("peers done (%.0f s)" % (time.monotonic() - t_start))

    apps = []
    if "inorder" in pcaps and os.access(args.app, os.X_OK):
        for workers in ((1,) if args.smoke else (1, 2)):
            apps.append(app_run(args, pcaps["inorder"]["pcap"], pcaps["inorder"]["packets"],
                                workers, args.app_seconds))
    else:
        apps.append({"workers": 1, "ok": False, "error": "no inorder pcap or no app binary"})
    log("app done (%.0f s)" % (time.monotonic() - t_start))

    cg, cg_reason = None, "--no-callgrind"
    if not args.no_callgrind:
        cg, cg_reason = run_callgrind(args, args.tmp)
        if cg is None:
            log("callgrind: " + cg_reason)
    log("callgrind done (%.0f s)" % (time.monotonic() - t_start))

    results = {"reasm": reasm, "reasm_rc": reasm_rc, "reasm_err": reasm_err,
               "pcaps": pcaps, "peers": peers, "apps": apps, "callgrind": cg,
               "callgrind_reason": cg_reason, "workloads": THROUGHPUT, "settings": settings}
    out = args.out or os.path.join(args.tmp, "results.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1, default=str)
    log("measured in %.0f s; results %s" % (time.monotonic() - t_start, out))
    remove_runtime_dirs()
    return 0


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_runtime_dirs():
    """EAL leaves RUNTIME_DIR/PREFIX behind: remove those of the runs that have ended.

    reasm_bench names its prefix reasm-bench-PID, the appliance runs reasm-bench-app-PID-N
    (PID: this script's)."""
    for d in glob.glob(os.path.join(telemetry.runtime_dir(), "reasm-bench-*")):
        m = re.match(r"reasm-bench-(?:app-)?(\d+)", os.path.basename(d))
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or not pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
