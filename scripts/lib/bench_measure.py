#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The measuring half of scripts/bench (which installs and builds, then runs this).

Runs, in order, with the binaries scripts/bench built:
  1. reasm_bench --json: reasm, the floor and parse-only per workload, idle1m, flush;
  2. reasm_bench --write-pcap: the same packets as classic pcaps, for the peers;
  3. the peers (tests/bench/peers), one run per workload pcap; a peer that
     could not be built is reported "unavailable: <reason>";
  4. the appliance (app/reasm) on net_pcap infinite_rx=1 with the same pcaps, packets/s
     read from /reasm/stats over the telemetry socket with stage timing off, then the
     stages (/reasm/runtime) and packets/s with it on: 1 worker polling its own queue
     (--rx direct) for inorder, small, ooo; the main lcore spreading to 1 worker
     (inorder); jsonl + sha256 sinks against count; N workers direct on the inorder pcap
     split per worker by the appliance's symmetric hash (reasmkit.rss), where the
     machine has N + 1 CPUs; the split checked against the appliance (2 workers);
  5. callgrind: instructions per packet of the timed region, reasm and floor;
  6. the connection layer's cost: reasm_bench --side reasm with and without
     --connections, alternated, and both under callgrind;
  7. the overlap options' cost the same way: the default, --overlap-last and
     --retain-bytes 1024 (OVERLAP_RETAIN: grow's 524,288 directions fit in memory);
then writes everything, with the settings, the machine and the date, to ONE results
JSON file (--out, default TMP/results.json). scripts/lib/bench_report.py reads it and
prints the table, writes docs/performance.md and its plot, or the --smoke XML report.

Results file (a JSON object):
  reasm: {workload: reasm_bench's line}; reasm_rc, reasm_err: its exit status, stderr;
  pcaps: {workload: reasm_bench --write-pcap's line}; peers: {"gopacket"|"libnids":
  {binary, reason, results: {workload: the peer's line or {"error"}}}}; app: run_apps()'s
  dict (direct, spread, sha256, scaling: lists of app_run() dicts; split_check);
  callgrind: {per_pkt, annotate} or null; callgrind_reason; connections: {ns: {"off"|"on":
  {workload: best ns/pkt}}, ok: {workload: bytes and counters right with --connections}, instr: {"off"|"on": {workload: instr/pkt}} or null}; overlaps: the same with modes "first", "last", "retain";
  workloads: the throughput
  workloads in table order; settings: smoke, reps, peer_repeat, app_seconds,
  app_workers, cpus, load, cmdline, machine, date.
"""
import argparse
import datetime
import glob
import hashlib
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
from reasmkit import rss, telemetry  # noqa: E402

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

WORKER_STAGES = ["rx", "ring", "timestamps", "parse", "lookup", "assemble", "sink", "free",
                 "flush", "other", "idle"]
MAIN_STAGES = ["rx", "spread", "enqueue", "defrag", "other", "idle"]
APP_WORKLOADS = ["inorder", "small", "ooo"]


def app_lcores(workers, cpus):
    """EAL's lcore option: the main lcore and the workers, one CPU each when there are
    enough, else all floating over the CPUs there are (time sharing)."""
    if workers + 1 <= cpus:
        return ["-l", "0-%d" % workers]
    return ["--lcores", "(0-%d)@(0-%d)" % (workers, cpus - 1)]


def rates(a, b, dt):
    """Per second between two /reasm/stats answers dt seconds apart."""
    def rate(k):
        return (b.get(k, 0) - a.get(k, 0)) / dt
    return {"seconds": round(dt, 3), "pps": rate("pkts"), "rx_pps": rate("port_rx_pkts"),
            "ring_full_pps": rate("dist_ring_full"), "table_full_pps": rate("table_full_pkts"),
            "delivered_gbps": rate("delivered_bytes") * 8 / 1e9,
            "payload_gbps": rate("payload_bytes") * 8 / 1e9,
            "skipped_bytes_per_s": sum(rate(k) for k in b if k.startswith("skipped_bytes_")),
            "streams_per_s": rate("streams_completed"),
            "sink_write_errors": b.get("sink_write_errors", 0) - a.get("sink_write_errors", 0),
            "pcap_pps": rate("pcap_pkts"), "pcap_mbps": rate("pcap_bytes") / 1e6,
            "pcap_dropped_pps": rate("pcap_dropped"),
            # The sinks that talk to servers (scripts/bench-sinks).
            "redis_sent_per_s": rate("redis_sent"),
            "redis_lost_per_s": rate("redis_dropped") + rate("redis_failed"),
            "kafka_acked_per_s": rate("kafka_acked"),
            "kafka_content_mbps": rate("kafka_content_bytes") / 1e6,
            "kafka_lost_per_s": rate("kafka_dropped") + rate("kafka_failed"),
            "kafka_content_lost_mbps": rate("kafka_content_dropped_bytes") / 1e6}


def runtime_delta(r1, r2):
    """What each lcore's stages took between two /reasm/runtime answers.

    {tsc_hz, tsc_cycles (the TSC between the answers), enabled, lcores: {"main"|"workerN":
    {lcore, stages: {stage: {calls, pkts, cycles}}}}}; the stages in their table order."""
    out = {"tsc_hz": r2.get("tsc_hz", 0), "tsc_cycles": r2.get("tsc", 0) - r1.get("tsc", 0),
           "enabled": r1.get("enabled", 0) and r2.get("enabled", 0), "lcores": {}}
    for name, d2 in r2.items():
        if not isinstance(d2, dict):
            continue
        d1 = r1.get(name, {})
        stages = {}
        for key in d2:
            if key.endswith("_cycles"):
                st = key[:-len("_cycles")]
                stages[st] = {f: d2.get(st + "_" + f, 0) - d1.get(st + "_" + f, 0)
                              for f in ("calls", "pkts", "cycles")}
        out["lcores"][name] = {"lcore": d2.get("lcore"), "stages": stages}
    return out


APP_RUNS = [0]


def app_run(args, name, pcaps, workers, rx, sink, max_conns, seconds, runtime=True,
            workload="inorder", label=None):
    """One appliance run on net_pcap infinite_rx=1 (one rx_pcap= per file in pcaps).

    Windows of @seconds read /reasm/stats: "off" with stage timing off (the headline
    packets/s), then, with /reasm/runtime_enable,1 (when @runtime), "on", which also reads
    /reasm/runtime at both ends ("runtime": runtime_delta()), then "off2" with timing off
    again (the report takes the headline over both off windows). @sink: the sink options.
    """
    APP_RUNS[0] += 1
    prefix = "reasm-bench-app-%d-%d" % (os.getpid(), APP_RUNS[0])
    frames = sum(p["packets"] for p in pcaps)
    lcores = app_lcores(workers, args.cpus)
    vdev = "net_pcap0,%s,infinite_rx=1" % ",".join("rx_pcap=" + p["pcap"] for p in pcaps)
    app_args = ["--rx", rx, "--max-conns", str(max_conns), "--mbufs", str(frames + 65536),
                "--quiet"] + sink
    cmd = [args.app, "--no-huge", "-m", str(args.app_mem), "--no-pci",
           "--file-prefix=" + prefix, "--log-level=error"] + lcores + [
           "--vdev=" + vdev, "--"] + app_args
    res = {"name": name, "label": label or name, "workload": workload, "workers": workers,
           "rx": rx, "sink": " ".join(sink), "max_conns": max_conns,
           "lcores": " ".join(lcores), "pcaps": [p["pcap"] for p in pcaps],
           "command": " ".join(shlex.quote(c) for c in cmd)}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tel = None
    try:
        tel = telemetry.connect(prefix, wait=60, timeout=30)
        deadline = time.monotonic() + 60
        while (tel.query("/reasm/stats") or {}).get("pkts", 0) == 0:
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("no packets assembled within 60 s")
            time.sleep(0.1)
        time.sleep(min(0.5, seconds))  # past the start
        a, ta = tel.query("/reasm/stats"), time.monotonic()
        time.sleep(seconds)
        b, tb = tel.query("/reasm/stats"), time.monotonic()
        res["off"] = rates(a, b, tb - ta)
        if runtime:
            tel.query("/reasm/runtime_enable,1")
            time.sleep(min(0.3, seconds))  # every lcore has seen the switch
            r1, a, ta = tel.query("/reasm/runtime"), tel.query("/reasm/stats"), time.monotonic()
            time.sleep(seconds)
            r2, b, tb = tel.query("/reasm/runtime"), tel.query("/reasm/stats"), time.monotonic()
            tel.query("/reasm/runtime_enable,0")
            res["on"] = rates(a, b, tb - ta)
            res["runtime"] = runtime_delta(r1 or {}, r2 or {})
            # Off again, so that a drift of the machine's speed during the run shows
            # (the overhead of timing is taken against both off windows).
            time.sleep(min(0.3, seconds))
            a, ta = tel.query("/reasm/stats"), time.monotonic()
            time.sleep(seconds)
            b, tb = tel.query("/reasm/stats"), time.monotonic()
            res["off2"] = rates(a, b, tb - ta)
        res["ok"] = True
    except (OSError, RuntimeError, ValueError, AttributeError) as e:
        res.update(ok=False, error=str(e))
    finally:
        if tel is not None:
            tel.close()
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
    if res.get("ok"):
        on = res.get("on")
        log("app %s: %.3f Mpps%s" % (name, res["off"]["pps"] / 1e6,
                                     ", timed %.3f Mpps" % (on["pps"] / 1e6) if on else ""))
    else:
        log("app %s: %s" % (name, res.get("error")))
    return res


def sha256_speed(seconds=0.5):
    """SHA-256 of this machine: ns per byte of Python's hashlib (OpenSSL), 64 KiB at a time."""
    buf = b"\x5a" * 65536
    h = hashlib.sha256()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(64):
            h.update(buf)
        n += 64 * len(buf)
    return (time.perf_counter() - t0) * 1e9 / n


def run_apps(args, pcaps):
    """Step 4: {direct, spread, sha256, scaling, split_check, cpus, app_workers}.

    direct: 1 worker polling its own queue, per workload of APP_WORKLOADS (smoke: inorder);
    split_check first (smoke too); spread: the main lcore spreading to 1 worker (inorder); sha256: jsonl + --sha256 sinks
    against count (inorder, direct); scaling: N workers direct on the inorder capture split
    per worker by reasmkit.rss, where the machine has N + 1 CPUs; split_check:
    reasmkit.rss.check_split() for 2 workers."""
    out = {"direct": [], "spread": [], "sha256": [], "scaling": [], "split_check": None,
           "cpus": args.cpus, "app_workers": args.app_workers}
    if not os.access(args.app, os.X_OK):
        out["error"] = "no app binary (%s)" % args.app
        return out
    secs = args.app_seconds
    for w in (["inorder"] if args.smoke else APP_WORKLOADS):
        if w not in pcaps:
            out["direct"].append({"name": "direct " + w, "workload": w, "ok": False,
                                  "error": "no %s pcap" % w})
            continue
        out["direct"].append(app_run(args, "direct " + w, [pcaps[w]], 1, "direct",
                                     ["--sink", "count"], pcaps[w].get("max_conns", 65536),
                                     secs, workload=w))
    if "inorder" not in pcaps:
        return out
    inorder = pcaps["inorder"]
    log("split check: 2 workers")
    out["split_check"] = rss.check_split(args.app, inorder["pcap"], args.tmp, 2,
                                         mem=args.app_mem)
    log("split check: %s" % ("ok" if out["split_check"]["ok"] else
                             out["split_check"].get("error", "?")[:300]))
    if args.smoke:
        return out
    mc = inorder.get("max_conns", 65536)
    out["spread"].append(app_run(args, "spread inorder", [inorder], 1, "spread",
                                 ["--sink", "count"], mc, secs))
    out["sha256_ns_per_byte"] = sha256_speed()
    out["payload_bytes_per_pkt"] = inorder["bytes_sent"] / inorder["packets"]
    jsonl_file = os.path.join(args.tmp, "app-sink.jsonl")
    pcap_dir = os.path.join(args.tmp, "app-sink-pcap")
    for sink, label in ((["--sink", "jsonl:/dev/null", "--sha256"], "jsonl:/dev/null + sha256"),
                        (["--sink", "jsonl:" + jsonl_file], "jsonl:FILE"),
                        (["--sink", "jsonl:" + jsonl_file, "--sha256"], "jsonl:FILE + sha256"),
                        (["--sink", "pcap:%s,max-open=2048" % pcap_dir],
                         "pcap:DIR,max-open=2048")):
        r = app_run(args, "inorder " + label, [inorder], 1, "direct", sink, mc, secs,
                    label=label)
        try:
            r["jsonl_bytes"] = os.path.getsize(jsonl_file) if "FILE" in label else None
            os.unlink(jsonl_file)
        except OSError:
            pass
        shutil.rmtree(pcap_dir, ignore_errors=True)
        out["sha256"].append(r)
    for n in args.app_workers:
        if n == 1:
            continue
        if args.cpus < n + 1:
            out["scaling"].append({"workers": n, "measured": False,
                                   "reason": "not measurable: %d vCPUs (%d workers need %d: "
                                   "one each and the main lcore)" % (args.cpus, n, n + 1)})
            continue
        parts = [os.path.join(args.tmp, "pcap", "inorder-%d-of-%d.pcap" % (i, n))
                 for i in range(n)]
        counts = rss.split_pcap(inorder["pcap"], parts, n)
        r = app_run(args, "direct inorder %d workers" % n,
                    [{"pcap": f, "packets": c} for f, c in zip(parts, counts)], n, "direct",
                    ["--sink", "count"], mc, secs, runtime=False)
        r.update(measured=True, frames_per_worker=counts)
        out["scaling"].append(r)
        for f in parts:
            os.unlink(f)
    return out


# ---------------------------------------------------------------------------
# 5. callgrind


def sanitized(binary):
    rc, out, _ = run(["ldd", binary], 30)
    return "libasan" in out or "libubsan" in out


def callgrind_dumps(out_file):
    """{tag: (total Ir, dump file)} of the dumps reasm_bench's CG_END() made."""
    dumps = {}
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
            dumps[tag] = (total, f)
    return dumps


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
    dumps = callgrind_dumps(out_file)
    totals = {tag: d[0] for tag, d in dumps.items()}
    files = {tag: d[1] for tag, d in dumps.items()}
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


def run_variants(args, tmp, name, modes):
    """One library option's cost: ns/pkt of the reasm side in each of @modes ({mode: extra
    reasm_bench arguments}, the first the baseline), alternated, and instructions/pkt."""
    ns, ok = {m: {} for m in modes}, {}
    base = [args.reasm_bench, "--json", "--side", "reasm", "--only", ",".join(THROUGHPUT),
            "--reps", str(args.reps)] + args.size_args
    for _ in range(2):  # alternated, so drift in the machine's speed hits every mode
        for mode, extra in modes.items():
            log("%s: %s" % (name, " ".join(base[1:] + extra)))
            rc, out, err = run(base + extra, 400)
            if rc != 0:
                log("reasm_bench %s exited %d: %s" % (" ".join(extra), rc, err.strip()[-500:]))
                return None
            for r in json_lines(out):
                if "reasm_ns_per_pkt" in r:
                    w = r["workload"]
                    ns[mode][w] = min(ns[mode].get(w, 1e18), r["reasm_ns_per_pkt"])
                    if extra:  # every byte delivered, counters agree with callbacks
                        ok[w] = ok.get(w, True) and bool(r.get("bytes_ok")) and bool(
                            r.get("counters_ok"))
    instr = None
    if shutil_which("valgrind") and not sanitized(args.reasm_bench) and not args.no_callgrind:
        instr = {}
        for mode, extra in modes.items():
            d = os.path.join(tmp, "callgrind-%s-%s" % (name, mode))
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            out_file = os.path.join(d, "cg.out")
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
                   "--toggle-collect=bench_timed_region", "--callgrind-out-file=" + out_file,
                   args.reasm_bench, "--json", "--side", "reasm", "--only", ",".join(THROUGHPUT),
                   "--mem", "2048"] + args.size_args + ["--reps", "1"] + extra
            rc, out, err = run(cmd, 600)
            if rc != 0:
                return {"ns": ns, "ok": ok, "instr": None}
            packets = {r["workload"]: r["packets"] for r in json_lines(out) if "packets" in r}
            instr[mode] = {tag.split(":", 1)[1]: total / packets[tag.split(":", 1)[1]]
                           for tag, (total, _) in callgrind_dumps(out_file).items()
                           if tag.split(":", 1)[1] in packets}
    return {"ns": ns, "ok": ok, "instr": instr}


def run_connections(args, tmp):
    """The connection layer's cost: off and on (--connections)."""
    return run_variants(args, tmp, "connections", {"off": [], "on": ["--connections"]})


# What overlap handling costs: the policy, and a retention window of OVERLAP_RETAIN bytes.
OVERLAP_RETAIN = 1024


def run_overlaps(args, tmp):
    """The overlap policy's and the retention window's cost against the default."""
    return run_variants(args, tmp, "overlaps", {
        "first": [], "last": ["--overlap-last"],
        "retain": ["--retain-bytes", str(OVERLAP_RETAIN)]})


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
    ap.add_argument("--app-workers", default="1,2,4,8",
                    help="worker counts of the appliance's scaling runs (each needs that "
                    "many CPUs + 1; fewer: recorded as not measurable)")
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
        args.app_seconds = min(args.app_seconds, 0.5)
        args.app_mem = 1024
    if args.packets:
        args.size_args += ["--packets", str(args.packets)]
    try:
        args.app_workers = sorted({int(x) for x in args.app_workers.split(",") if x.strip()})
    except ValueError:
        ap.error("--app-workers: a comma-separated list of worker counts")
    args.cpus = os.cpu_count() or 1
    t_start = time.monotonic()
    settings = {
        "smoke": args.smoke, "reps": args.reps, "peer_repeat": args.peer_repeat,
        "app_seconds": args.app_seconds, "app_workers": args.app_workers, "cpus": args.cpus,
        "load": "%.2f" % os.getloadavg()[0],
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

    app = run_apps(args, pcaps)
    log("app done (%.0f s)" % (time.monotonic() - t_start))

    cg, cg_reason = None, "--no-callgrind"
    if not args.no_callgrind:
        cg, cg_reason = run_callgrind(args, args.tmp)
        if cg is None:
            log("callgrind: " + cg_reason)
    log("callgrind done (%.0f s)" % (time.monotonic() - t_start))
    connections = run_connections(args, args.tmp)
    log("connections done (%.0f s)" % (time.monotonic() - t_start))
    overlaps = run_overlaps(args, args.tmp)
    log("overlaps done (%.0f s)" % (time.monotonic() - t_start))

    results = {"reasm": reasm, "reasm_rc": reasm_rc, "reasm_err": reasm_err,
               "pcaps": pcaps, "peers": peers, "app": app, "callgrind": cg,
               "connections": connections, "overlaps": overlaps,
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
