#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end tests of the reasm appliance on generated captures.

Covers, one googletest-style <testcase> per check:
  a. generated captures (tests/gen/gencap.py: IPv4/IPv6, VLAN/QinQ, IP options and
     extension headers, reordering, retransmissions, sequence wrap, loss, mid-stream
     starts, 4-tuple reuse, TSO-sized segments) replayed through net_pcap: the jsonl sink gives, per stream
     direction, what gopacket tcpassembly delivers (bytes, SHA-256, records, skips,
     start/end), compared as multisets (a reused 4-tuple appears twice);
     every jsonl line is well formed and self-consistent (skipped_by_cause sums to
     skipped_bytes, all of it at the final flush when --timeout 0); first_seen and
     last_seen are the earliest and latest capture times of the stream's records;
  b. the same capture with 1, 2 and 3 workers gives identical output once "worker",
     "first_seen" and "last_seen" are dropped; with 3 workers every worker gets streams
     and both directions of a connection land on the same worker (symmetric RSS);
  c. bad options exit 2 with a "reasm: ..." message on stderr: unknown option,
     --timeout -1, --timeout abc, --sink bogus, --sink jsonl: (empty), --pages 0, a jsonl
     file that cannot be created, a --vdev for a missing pcap file, no port at all;
  d. when the replay drains, reasm exits 0 by itself and prints its summary, whose
     packet, stream and byte totals match the capture;
  e. every jsonl line's community_id is what an independent implementation of the
     Community ID specification (reasmkit.community_id, itself checked against the
     specification's baseline) gives for its 4-tuple, with seed 0 and --community-id-seed 1.

Where Go and gopacket are installed (Debian: golang-go golang-github-google-gopacket-dev
golang-golang-x-net-dev golang-golang-x-sys-dev), each generated capture is also run
through the real gopacket (tools/gopacket-ref): the generator's expectation must be what
gopacket prints, line for line (otherwise that check is reported as skipped).

Usage: run_e2e.py PATH/TO/reasm [--work-dir DIR]
Writes the report to the path in $GTEST_OUTPUT ("xml:PATH"), so scripts/count-tests.py
counts each check. Exit status 1 if any check failed.
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, community_id, gencap, gopacket, gtest, pcap, source_dir  # noqa: E402,E501

SUITE = "E2E"

RUN_TIMEOUT = 60
EAL = ["--no-huge", "-m", "512", "--no-pci"]
# Keys compared with gopacket's expectation.
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
JSONL_KEYS = MODEL_KEYS + ["skipped_by_cause", "first_seen", "last_seen", "worker",
                          "community_id", "sensor"]
PER_RUN_KEYS = ("worker", "first_seen", "last_seen")
CAPTURES = [
    ("seed1", ["--seed", "1"]),
    ("seed2_300conns", ["--seed", "2", "--conns", "300"]),
    ("seed3_stress", ["--seed", "3", "--p-reorder", "0.8", "--p-retrans", "0.8",
                      "--p-loss", "0.3", "--p-midstream", "0.3", "--p-wrap", "0.5",
                      "--p-reuse", "15", "--p-jumbo", "0.02"]),
]
WORKERS = [(1, "(0-1)@(0,1)"), (2, "(0-2)@(0,1)"), (3, "(0-3)@(0,1)")]


class Checks:
    """The checks run so far, as gtest.Case objects."""

    def __init__(self):
        self.cases = []

    def add(self, name, failure):
        self.cases.append(gtest.Case(name, failure))
        print("%s %s" % ("FAILED" if failure else "ok    ", name))
        if failure:
            print("  " + failure.replace("\n", "\n  ")[:4000])

    def skip(self, name, why):
        self.cases.append(gtest.Case(name, skipped=why))
        print("skip   %s: %s" % (name, why))

    def write(self, path, elapsed):
        gtest.write(path, SUITE, self.cases, elapsed)


class Reasm:
    """Runs the appliance with a unique --file-prefix each time."""

    def __init__(self, exe, work):
        self.exe = exe
        self.work = work
        self.n = 0

    def run(self, eal_extra, app_args):
        self.n += 1
        prefix = "reasm_e2e_%d_%d" % (os.getpid(), self.n)
        cmd = [self.exe] + EAL + ["--file-prefix=" + prefix] + eal_extra + ["--"] + app_args
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
            res = dict(rc=r.returncode, out=r.stdout, err=r.stderr)
        except subprocess.TimeoutExpired as e:
            res = dict(rc=None, out=_text(e.stdout), err=_text(e.stderr))
        res["cmd"] = " ".join(cmd)
        res["time"] = time.monotonic() - t0
        for base in ("/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"),
                                                   "dpdk")):
            shutil.rmtree(os.path.join(base, prefix), ignore_errors=True)
        return res

    def replay(self, cap, jsonl, lcores=None, extra=()):
        eal = ["--lcores", lcores] if lcores else ["-l", "0,1"]
        eal.append("--vdev=net_pcap0,rx_pcap=" + cap)
        if os.path.exists(jsonl):
            os.unlink(jsonl)
        return self.run(eal, ["--sink", "jsonl:" + jsonl, "--sha256", "--quiet",
                              "--timeout", "0", "--pages-total", "0", "--pages-per-conn", "0"]
                        + list(extra))


def _text(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def describe(res):
    rc = "timed out after %ds" % RUN_TIMEOUT if res["rc"] is None else "exit %s" % res["rc"]
    return "%s: %s\nstdout (end):\n%s\nstderr (end):\n%s" % (
        res["cmd"], rc, res["out"][-1500:], res["err"][-1500:])


def load_jsonl(path):
    """(list of dicts, error text or None)."""
    if not os.path.exists(path):
        return None, "%s was not written" % path
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                return None, "%s:%d: not JSON (%s): %r" % (path, n, e, line[:200])
    return rows, None


def check_consistency(rows, nworkers, ts_range, seed=0):
    """Every line has the documented keys and agrees with itself; its Community ID is
    what an independent implementation of the specification computes from its 4-tuple."""
    bad = []
    for r in rows:
        miss = [k for k in JSONL_KEYS if k not in r]
        if miss:
            bad.append("missing %s in %s" % (miss, r))
            continue
        cid = community_id.community_id(r["src"], r["sport"], r["dst"], r["dport"], seed)
        if r["community_id"] != cid:
            bad.append("community_id %r, the specification gives %r (seed %d)" % (
                r["community_id"], cid, seed))
        causes = r["skipped_by_cause"]
        if sum(causes.values()) != r["skipped_bytes"]:
            bad.append("skipped_by_cause %s does not sum to skipped_bytes %d" % (
                causes, r["skipped_bytes"]))
        if causes.get("flush_all", 0) != r["skipped_bytes"]:
            bad.append("with --timeout 0 and no page limit every skip is at the final flush: %s"
                       % causes)
        if r["skipped_bytes"] < r["skips"] or (r["skips"] == 0) != (r["skipped_bytes"] == 0):
            bad.append("skips %d vs skipped_bytes %d" % (r["skips"], r["skipped_bytes"]))
        if not re.fullmatch(r"[0-9a-f]{64}", str(r["sha256"])):
            bad.append("sha256 %r" % r["sha256"])
        # first_seen / last_seen are the earliest and latest record times (data buffered
        # before the SYN keeps its own time). The seen_times check pins them exactly.
        if not all(ts_range[0] <= r[k] <= ts_range[1] for k in ("first_seen", "last_seen")):
            bad.append("first_seen %d / last_seen %d outside the capture [%d, %d]" % (
                r["first_seen"], r["last_seen"], ts_range[0], ts_range[1]))
        if not (0 <= r["worker"] < nworkers):
            bad.append("worker %r with %d workers" % (r["worker"], nworkers))
        if bad and len(bad) >= 10:
            break
    if bad:
        return "%d inconsistent lines, e.g.:\n%s" % (len(bad), "\n".join(bad[:10]))
    return None


def check_summary(res, info, expected_rows):
    """reasm's closing summary matches the capture."""
    out = res["out"] + res["err"]
    m = re.search(r"total: (\d+) packets, .*?(\d+) streams, (\d+) bytes delivered", out)
    problems = []
    if "capture replayed to the end" not in out:
        problems.append("no 'capture replayed to the end' line")
    if not m:
        problems.append("no 'total: N packets, ... N streams, N bytes delivered' line")
    else:
        pk, st, by = (int(x) for x in m.groups())
        want_bytes = sum(r["bytes"] for r in expected_rows)
        if pk != info["packets"]:
            problems.append("total packets %d, the capture has %d" % (pk, info["packets"]))
        if st != len(expected_rows):
            problems.append("total streams %d, gopacket delivers %d" % (st, len(expected_rows)))
        if by != want_bytes:
            problems.append("total bytes delivered %d, gopacket delivers %d" % (by, want_bytes))
        summary = appliance.parse_summary(out)
        why = appliance.conservation_problem(summary) if summary else "no summary"
        if why is not None:
            problems.append("bytes not conserved: " + why)
    if problems:
        return "; ".join(problems) + "\n" + describe(res)
    return None


def pcap_time_range_ns(path):
    """(earliest, latest) capture time of the records, in ns."""
    cap = pcap.read(path)
    times = [cap.ts_ns(r) for r in cap.records]
    return (min(times), max(times)) if times else (None, None)


def strip(rows):
    return sorted(json.dumps({k: v for k, v in r.items() if k not in PER_RUN_KEYS},
                             sort_keys=True) for r in rows)


def build_gopacket_ref(build_dir):
    """tools/gopacket-ref built with Debian's Go packages: (path, None), or (None, why)."""
    return gopacket.build_reference_if_installed(source_dir(), build_dir, "gopacket-ref-gencap")


def model_vs_gopacket(checks, name, info, gopacket_ref):
    """The generator's expectation is what the real gopacket delivers, line for line
    (including the records' lengths, skips, flags and timestamps: meta_sha256)."""
    case = name + "_expectation_is_gopacket"
    exe, why = gopacket_ref
    if exe is None:
        checks.skip(case, why)
        return
    try:
        r = subprocess.run([exe, info["pcap"]], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        checks.add(case, "gopacket-ref timed out")
        return
    ref = [line for line in r.stdout.splitlines() if not line.startswith("# ")]
    with open(info["expected"], encoding="utf-8") as f:
        want = f.read().splitlines()
    if r.returncode != 0 or ref != want:
        a, b = collections.Counter(want), collections.Counter(ref)
        checks.add(case, "gencap.py's model and gopacket differ (exit %d): %d lines only in "
                   "the model, %d only in gopacket, e.g.\nmodel:    %s\ngopacket: %s" % (
                       r.returncode, sum((a - b).values()), sum((b - a).values()),
                       "\n          ".join(list((a - b).elements())[:4]),
                       "\n          ".join(list((b - a).elements())[:4])))
        return
    checks.add(case, None)


def capture_checks(checks, reasm, work, name, gen_args, gopacket_ref):
    cap = os.path.join(work, name + ".pcap")
    try:
        info = gencap.generate_files(["-o", cap] + gen_args)
    except Exception as e:  # the generator's self-check or a bug in it
        checks.add(name + "_generator", "gencap.py %s: %s: %s" % (
            " ".join(gen_args), type(e).__name__, e))
        return
    checks.add(name + "_generator", None)
    model_vs_gopacket(checks, name, info, gopacket_ref)
    expected, err = load_jsonl(info["expected"])
    if err:
        checks.add(name + "_matches_gopacket", err)
        return
    ts_range = pcap_time_range_ns(cap)

    # a + d: one worker, the command line.
    jsonl = os.path.join(work, name + ".w1.jsonl")
    res = reasm.replay(cap, jsonl)
    if res["rc"] != 0:
        checks.add(name + "_drain_exit0_summary", describe(res))
        checks.add(name + "_matches_gopacket", "reasm did not exit 0, see %s_drain_exit0_summary"
                   % name)
        return
    checks.add(name + "_drain_exit0_summary", check_summary(res, info, expected))
    rows, err = load_jsonl(jsonl)
    if err:
        checks.add(name + "_matches_gopacket", err)
        return
    checks.add(name + "_matches_gopacket", appliance.multiset_diff(
        appliance.multiset(expected, MODEL_KEYS), appliance.multiset(rows, MODEL_KEYS), MODEL_KEYS,
        "gopacket", "reasm"))
    checks.add(name + "_jsonl_consistent", check_consistency(rows, 1, ts_range))
    seen_keys = MODEL_KEYS + ["first_seen", "last_seen"]
    checks.add(name + "_seen_times", appliance.multiset_diff(
        appliance.multiset(info["rows"], seen_keys), appliance.multiset(rows, seen_keys), seen_keys,
        "gopacket", "reasm"))

    # b: 1, 2, 3 workers.
    base = strip(rows)
    for nw, lcores in WORKERS:
        case = "%s_workers%d_same_output" % (name, nw)
        jl = os.path.join(work, "%s.lc%d.jsonl" % (name, nw))
        r = reasm.replay(cap, jl, lcores)
        if r["rc"] != 0:
            checks.add(case, describe(r))
            continue
        got, err = load_jsonl(jl)
        if err:
            checks.add(case, err)
            continue
        fail = None
        if strip(got) != base:
            fail = appliance.multiset_diff(appliance.multiset(rows, MODEL_KEYS), appliance.multiset(got, MODEL_KEYS),
                                 MODEL_KEYS, "1 worker (-l 0,1)", "%d workers" % nw)
            fail = fail or "same streams, other keys differ (skipped_by_cause?)"
        checks.add(case, fail)
        if nw == 3:
            checks.add("%s_workers3_spread_symmetric" % name, check_spread(got, nw))


def check_spread(rows, nw):
    used = collections.Counter(r.get("worker") for r in rows)
    problems = []
    if sorted(used) != list(range(nw)):
        problems.append("streams per worker %s, expected all of 0..%d used" % (
            dict(used), nw - 1))
    conn_worker = {}
    for r in rows:
        a, b = (r["src"], r["sport"]), (r["dst"], r["dport"])
        k = (min(a, b), max(a, b))
        if conn_worker.setdefault(k, r["worker"]) != r["worker"]:
            problems.append("%s:%s <-> %s:%s on workers %s and %s" % (
                k[0][0], k[0][1], k[1][0], k[1][1], conn_worker[k], r["worker"]))
            if len(problems) > 10:
                break
    return "\n".join(problems) or None


def option_checks(checks, reasm, work, cap):
    vdev = "--vdev=net_pcap0,rx_pcap=" + cap
    jsonl = os.path.join(work, "opt.jsonl")
    cases = [
        ("unknown_option", [vdev], ["--bogus-option"], "bogus-option"),
        ("timeout_negative", [vdev], ["--timeout", "-1"], "timeout"),
        ("timeout_not_a_number", [vdev], ["--timeout", "abc"], "timeout"),
        ("sink_bogus", [vdev], ["--sink", "bogus"], "sink"),
        ("sink_jsonl_empty_path", [vdev], ["--sink", "jsonl:"], "sink"),
        ("pages_zero", [vdev], ["--pages", "0"], "pages"),
        ("community_id_seed_too_big", [vdev], ["--community-id-seed", "65536"],
         "community-id-seed"),
        ("sensor_id_with_space", [vdev], ["--sensor-id", "two words"], "sensor-id"),
        ("sensor_id_too_long", [vdev], ["--sensor-id", "s" * 65], "sensor-id"),
        ("jsonl_not_writable", [vdev],
         ["--sink", "jsonl:" + os.path.join(work, "no-such-dir", "x.jsonl")], "x.jsonl"),
        ("vdev_missing_pcap", ["--vdev=net_pcap0,rx_pcap=" +
                               os.path.join(work, "no-such-capture.pcap")], [], None),
        ("one_of_two_vdevs_missing", [vdev, "--vdev=net_pcap1,rx_pcap=" +
                                      os.path.join(work, "no-such-capture.pcap")], [],
         "could not be set up"),
        ("no_ports", [], [], None),
    ]
    for name, eal, app, word in cases:
        if "--sink" not in app:
            app = app + ["--sink", "jsonl:" + jsonl]
        res = reasm.run(["-l", "0,1"] + eal, app)
        msgs = [line for line in res["err"].splitlines() if line.startswith("reasm:")]
        problems = []
        if res["rc"] != 2:
            problems.append("expected exit status 2")
        if not msgs:
            problems.append("no 'reasm: ...' message on stderr")
        elif word and not any(word in m for m in msgs):
            problems.append("the message does not name %r" % word)
        checks.add("bad_option_" + name,
                   ("; ".join(problems) + "\n" + describe(res)) if problems else None)


def community_id_checks(checks, reasm, work, cap):
    """The test's own Community ID reproduces the specification's baseline, and reasm's
    --community-id-seed changes every identifier to the seeded one."""
    checks.add("community_id_reference_matches_specification", community_id.self_check())
    jsonl = os.path.join(work, "seed1.jsonl")
    res = reasm.replay(cap, jsonl, extra=["--community-id-seed", "1", "--sensor-id", "e2e-7"])
    if res["rc"] != 0:
        checks.add("community_id_seed1", describe(res))
        return
    rows, err = load_jsonl(jsonl)
    if err:
        checks.add("community_id_seed1", err)
        return
    bad = [r for r in rows if r.get("community_id") != community_id.community_id(
        r["src"], r["sport"], r["dst"], r["dport"], 1) or r.get("sensor") != "e2e-7"]
    if not rows:
        checks.add("community_id_seed1", "%s has no lines" % jsonl)
        return
    checks.add("community_id_seed1", "%d of %d lines without the seed-1 identifier or "
               "sensor e2e-7, e.g. %s" % (
        len(bad), len(rows), bad[0]) if bad else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the reasm executable")
    ap.add_argument("--work-dir", help="where captures and outputs go (default: a new "
                    "temporary folder, removed when every check passed)")
    args = ap.parse_args()
    start = time.monotonic()
    report = gtest.output_path("gtest-e2e.xml")
    work = args.work_dir or tempfile.mkdtemp(prefix="reasm-e2e-")
    os.makedirs(work, exist_ok=True)
    checks = Checks()
    reasm = Reasm(os.path.abspath(args.reasm), work)
    if not os.access(reasm.exe, os.X_OK):
        checks.add("reasm_present", "%s is not an executable" % reasm.exe)
    else:
        gopacket_ref = build_gopacket_ref(os.path.dirname(os.path.abspath(report)))
        for name, gen_args in CAPTURES:
            capture_checks(checks, reasm, work, name, gen_args, gopacket_ref)
        option_checks(checks, reasm, work, os.path.join(work, CAPTURES[0][0] + ".pcap"))
        community_id_checks(checks, reasm, work, os.path.join(work, CAPTURES[0][0] + ".pcap"))
    elapsed = time.monotonic() - start
    checks.write(report, elapsed)
    failed = sum(1 for c in checks.cases if c.failure)
    print("%d checks, %d failed (%.1fs); work folder %s" % (
        len(checks.cases), failed, elapsed, work))
    if not failed and not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
