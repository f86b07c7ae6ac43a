#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Overlap policies and conflicting overlaps (--overlap-policy, --retain-bytes), end to end.

Captures written by tests/gen/gencap.py with --p-conflict (retransmissions and overlapping
copies carrying other bytes: already delivered data repeated, copies buffered behind a hole
at the same, a lower or a higher sequence number, partial overlaps; plan_conflicts()), whose
model (gencap.OverlapModel) knows what each policy delivers and every conflict reasm should
report, for each retention window (--expected-retain 0,256,4096), replayed with

    reasm --no-huge -m 512 --no-pci --lcores (0-N)@(0,1) --vdev=net_pcap0,rx_pcap=CAP --
          --sink jsonl:J --sink conn:C --sha256 --quiet --timeout 0 --pages-total 0
          --pages-per-conn 0 --pages 4096 --max-conns 4096 --overlap-policy P --retain-bytes R

Cases, per capture NAME (CAPTURES: segments of one page at most, so that gopacket's page
list is in sequence order) and run (policy P, window R, N workers; both policies and the
three windows over the two captures, 1 and 2 workers each):
- NAME.generator: gencap wrote it, its self-checks passed (self_check() per policy,
  conflict_self_check());
- NAME.P.rR.wN.run: exit 0, both files JSON lines, bytes conserved;
- NAME.P.rR.wN.delivered: every stream direction (src, sport, dst, dport, bytes, records,
  skips, ..., sha256) as gencap expects under P: --expected (gopacket's) for first,
  --expected-last for last;
- NAME.P.rR.wN.conflicts: per stream direction (joined on its 4-tuple and first_seen) its
  "conflicts", "conflict_bytes" and first "conflict" object as the model has them for P and
  R (with R 0 only buffered bytes are compared; with 256 some retransmissions fall out of
  the window that 4096 holds);
- NAME.P.rR.wN.counters: overlap_conflicts and overlap_conflict_bytes in the exit summary
  are the model's sums;
- NAME.P.rR.wN.conn_sides: each conn record's side has conflicts / conflict_bytes equal to
  the sums of its jsonl lines from that side (joined on conn_id), and that side's first
  conflict (its first stream with one);
- NAME.gopacket_agrees: tools/gopacket-ref prints gencap's --expected (gopacket's policy
  is first), skipped without Go and gopacket.
no_conflicts: the first capture's seed without --p-conflict, under both policies (2
workers, R 4096): identical jsonl, as expected, no conflict anywhere (.policies_identical).
multipage: a capture with segments of up to 4200 bytes (--p-big 0.5), so that out-of-order
segments of several pages make gopacket's page list leave sequence order (a segment's pages
go where its first page goes); run, delivered, conflicts, counters as above, first and last.
telemetry: a capture replayed once on port 0 while port 1 (UDP, infinite_rx) keeps reasm
running (2 workers, R 4096): /reasm/config has overlap_policy and retain_bytes;
/reasm/stats' overlap_conflicts and overlap_conflict_bytes are the model's sums;
/reasm/conflicts lists per worker its min(16, n) latest conflicts, newest first, each with
its worker's number (n - 1 down), the 4-tuple, community_id and conn_id of its jsonl line,
seq, offset (absent when unknown), len, differing, kept, kept_sha256, other_sha256 and
seen_ns as the model has the last conflicts of that worker's directions.
bad_option.*: --overlap-policy middle, --retain-bytes 100 (not a power of 2), --retain-bytes
2097152 (over 1 MiB): exit status 2 with a "reasm:" message naming the option.

Without --overlap-policy in `reasm -- --help` every case is reported skipped, saying so.
Run time: about 50 s on 2 cores.

Usage: app_overlap.py PATH/TO/reasm [--work-dir DIR] [--build-dir DIR]
Writes the report to $GTEST_OUTPUT ("xml:PATH"). Exit status 1 if any case failed.
"""
import collections
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import (appliance, frames, gencap, gopacket, gtest, pcap,  # noqa: E402
                      source_dir)

SUITE = "AppOverlap"
RUN_TIMEOUT = 60
LCORES = {1: "(0-1)@(0,1)", 2: "(0-2)@(0,1)"}
APP_ARGS = ["--sha256", "--quiet", "--timeout", "0", "--pages-total", "0",
            "--pages-per-conn", "0", "--pages", "4096", "--max-conns", "4096"]
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
RETAINS = (0, 256, 4096)
DIRS = ("client_to_server", "server_to_client")
# Segments of one page at most (1460 bytes): gopacket's page list stays in sequence order.
GEN = ["--conns", "60", "--concurrency", "16", "--p-big", "0", "--mss", "1460",
       "--expected-retain", ",".join(str(r) for r in RETAINS)]
CONFLICT = ["--p-conflict", "0.3"]
# (name, seed, gencap options, runs: (policy, retain, workers))
CAPTURES = [
    ("mixed_a", 301, [], [("first", 0, 1), ("last", 256, 2), ("first", 4096, 2)]),
    ("mixed_b", 302, ["--p-reorder", "0.7", "--p-retrans", "0.6", "--p-wrap", "0.4"],
     [("last", 0, 2), ("first", 256, 1), ("last", 4096, 1)]),
]
MULTIPAGE = ("multipage", 310, ["--conns", "40", "--p-big", "0.5", "--mss", "0",
                                "--p-reorder", "0.9", "--p-retrans", "0.9", "--p-loss", "0"],
             [("first", 4096, 2), ("last", 0, 1)])
TELEMETRY = ("telemetry", 304, ["--conns", "30", "--p-conflict", "0.4"], "first", 4096)
RECENT = 16     # conflicts each worker keeps for /reasm/conflicts
BAD_OPTIONS = [("overlap_policy_middle", ["--overlap-policy", "middle"], "overlap-policy"),
               ("retain_bytes_not_power_of_2", ["--retain-bytes", "100"], "retain-bytes"),
               ("retain_bytes_over_1MiB", ["--retain-bytes", "2097152"], "retain-bytes")]


def support(reasm):
    """None when reasm has --overlap-policy, else why the cases are skipped."""
    res = reasm.run([], ["--help"], 30, lcores=LCORES[1])
    if "--overlap-policy" in res.stdout + res.stderr:
        return None
    return "`reasm -- --help` does not mention --overlap-policy: this reasm has no overlap " \
           "policies nor conflicts yet"


def load_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def stream_key(o):
    """A stream direction: its 4-tuple and first_seen (jsonl line or gencap row)."""
    return (o["src"], o["sport"], o["dst"], o["dport"], o["first_seen"])


def label(k):
    return "%s:%s > %s:%s first_seen %s" % k


class Gen:
    """One generated capture: gencap's info, expected files per policy, the model's rows."""

    def __init__(self, work, name, seed, args):
        self.name = name
        self.pcap = os.path.join(work, name + ".pcap")
        self.last = os.path.join(work, name + ".last.jsonl")
        self.argv = ["-o", self.pcap, "--seed", str(seed), "--expected-last", self.last,
                     "--expected-conflicts", os.path.join(work, name + ".conflicts.jsonl")] + \
            GEN + list(args)
        self.info = gencap.generate_files(self.argv)
        self.expected = {"first": load_lines(self.info["expected"]),
                         "last": load_lines(self.last)}
        self.rows = collections.defaultdict(dict)  # (policy, retain) -> stream key -> row
        for r in self.info["conflict_rows"]:
            self.rows[(r["policy"], r["retain"])][stream_key(r)] = r

    def conflicts_in_order(self, policy, retain):
        """The model's conflicts (conflict_lines()) in the order reasm reports them: by
        the arrival of the segment, then within it."""
        lines = [x for x in self.info["conflict_lines"]
                 if x["policy"] == policy and x["retain"] == retain]
        return sorted(lines, key=lambda x: (x["seen"], x["number"]))

    def note(self):
        per = collections.Counter((x["policy"], x["kept"]) for x in self.info["conflict_lines"]
                                  if x["retain"] == RETAINS[-1])
        feats = self.info["features"]
        differ = sum(1 for r in self.info["conflict_rows"]
                     if r["policy"] == "last" and r["retain"] == 0 and
                     r["sha256"] != self.rows[("first", 0)][stream_key(r)]["sha256"])
        return ("%d connections, %d packets, %d directions (%d self-checked), %d directions "
                "deliver other bytes under last; conflict-dup %d, conflict-held %d, "
                "conflict-late %d; conflicts (window %d): %s" % (
                    self.info["connections"], self.info["packets"], self.info["streams"],
                    self.info["self_checked"], differ, feats.get("conflict-dup", 0),
                    feats.get("conflict-held", 0), feats.get("conflict-late", 0), RETAINS[-1],
                    ", ".join("%s kept %s %d" % (k + (v,)) for k, v in sorted(per.items()))))


class Run:
    """One replay: result, summary, jsonl objects, conn records, their errors."""

    def __init__(self, reasm, cap, out_base, policy, retain, workers):
        self.jsonl, self.conn = out_base + ".jsonl", out_base + ".conn.jsonl"
        for p in (self.jsonl, self.conn):
            if os.path.exists(p):
                os.unlink(p)
        t0 = time.monotonic()
        self.res = reasm.run(["net_pcap0,rx_pcap=" + cap],
                             ["--sink", "jsonl:" + self.jsonl, "--sink", "conn:" + self.conn,
                              "--overlap-policy", policy, "--retain-bytes", str(retain)] +
                             APP_ARGS, RUN_TIMEOUT, lcores=LCORES[workers])
        self.secs = time.monotonic() - t0
        self.summary = appliance.parse_summary(self.res.stdout)
        self.objs, errs = appliance.read_jsonl(self.jsonl)
        self.recs, errs2 = appliance.read_jsonl(self.conn)
        self.errors = ["jsonl: " + e for e in errs] + ["conn: " + e for e in errs2]

    def ok(self):
        return self.res.rc == 0 and self.summary is not None and not self.errors

    def why_not(self):
        return "%s\n%s" % ("\n".join(self.errors[:5]), self.res.describe())


def conflict_problems(rows, objs):
    """Per stream direction, jsonl's conflicts / conflict_bytes / conflict against the
    model's rows (a list)."""
    probs, seen = [], set()
    for o in objs:
        k = stream_key(o)
        seen.add(k)
        r = rows.get(k)
        if r is None:
            probs.append("%s: a stream direction the model does not have" % label(k))
            continue
        got = (o.get("conflicts"), o.get("conflict_bytes"), o.get("conflict"))
        want = (r["conflicts"], r["conflict_bytes"], r["conflict"])
        if got != want:
            probs.append("%s:\n    reasm conflicts %r, conflict_bytes %r, first %s\n    "
                         "model conflicts %r, conflict_bytes %r, first %s" % (
                             label(k), got[0], got[1], json.dumps(got[2]), want[0], want[1],
                             json.dumps(want[2])))
    for k in sorted(set(rows) - seen, key=str):
        probs.append("%s: no jsonl line (the model has %d conflicts)" % (
            label(k), rows[k]["conflicts"]))
    return probs


def conn_side_problems(recs, objs):
    """Per conn record and side: conflicts / conflict_bytes the sums of its jsonl lines from
    that side, conflict the first of them (the earliest stream with one)."""
    by_id = collections.defaultdict(list)
    for o in objs:
        by_id[o.get("conn_id")].append(o)
    probs = []
    for r in recs:
        lines = by_id.get(r.get("conn_id"), [])
        for d, src in (("client_to_server", (r.get("client"), r.get("client_port"))),
                       ("server_to_client", (r.get("server"), r.get("server_port")))):
            mine = sorted((o for o in lines if (o["src"], o["sport"]) == src),
                          key=lambda o: o["first_seen"])
            side = r.get(d) or {}
            want = (sum(o.get("conflicts", 0) for o in mine),
                    sum(o.get("conflict_bytes", 0) for o in mine),
                    next((o["conflict"] for o in mine if o.get("conflicts")), None))
            got = (side.get("conflicts"), side.get("conflict_bytes"), side.get("conflict"))
            if got != want:
                probs.append("%s %s: conflicts %r, conflict_bytes %r, conflict %s; its %d "
                             "jsonl lines: %r, %r, first %s" % (
                                 r.get("conn_id"), d, got[0], got[1], json.dumps(got[2]),
                                 len(mine), want[0], want[1], json.dumps(want[2])))
    return probs


class Overlap:
    def __init__(self, args, report):
        self.report = report
        self.reasm = appliance.Reasm(args.reasm, "ovl")
        self.work = args.work_dir
        self.build_dir = args.build_dir
        self.ref = None
        self.durations = collections.Counter()

    def generate(self, name, seed, args):
        try:
            g = Gen(self.work, name, seed, args)
        except Exception as e:  # a self-check, or a bug in the generator
            self.report.add(name + ".generator", "gencap: %s: %s" % (type(e).__name__, e))
            return None
        self.report.add(name + ".generator", None, note=g.note())
        return g

    def replay(self, g, policy, retain, workers):
        """One run and its cases; the Run, or None when it failed."""
        pre = "%s.%s.r%d.w%d." % (g.name, policy, retain, workers)
        run = Run(self.reasm, g.pcap, os.path.join(self.work, pre[:-1]), policy, retain,
                  workers)
        self.durations[g.name] += run.secs
        if not run.ok():
            self.report.add(pre + "run", "the run failed: " + run.why_not())
            return None
        self.report.add(pre + "run", appliance.bytes_conserved_problem(run.summary, run.objs),
                        note="%d jsonl lines, %d conn records, %.1fs" % (
                            len(run.objs), len(run.recs), run.secs))
        self.report.add(pre + "delivered", appliance.multiset_diff(
            appliance.multiset(g.expected[policy], MODEL_KEYS),
            appliance.multiset(run.objs, MODEL_KEYS), MODEL_KEYS,
            "gencap (%s policy)" % policy, "reasm"))
        rows = g.rows[(policy, retain)]
        probs = conflict_problems(rows, run.objs)
        n = sum(r["conflicts"] for r in rows.values())
        self.report.add(pre + "conflicts", ("%d of %d stream directions differ:\n" % (
            len(probs), len(rows)) + "\n".join(probs[:12])) if probs else None,
            note="%d conflicts in %d of %d directions" % (
                n, sum(1 for r in rows.values() if r["conflicts"]), len(rows)))
        c = run.summary["counters"]
        got = (c.get("overlap_conflicts", 0), c.get("overlap_conflict_bytes", 0))
        want = (n, sum(r["conflict_bytes"] for r in rows.values()))
        self.report.check(pre + "counters", got == want,
                          "overlap_conflicts, overlap_conflict_bytes in the summary: %r, the "
                          "model's sums %r" % (got, want))
        probs = conn_side_problems(run.recs, run.objs)
        self.report.add(pre + "conn_sides", "\n".join(probs[:20]) or None)
        return run

    def capture(self, name, seed, args, runs):
        g = self.generate(name, seed, args)
        if g is None:
            return None
        for policy, retain, workers in runs:
            self.replay(g, policy, retain, workers)
        self.check_gopacket(g)
        return g

    # ---- conflicts off --------------------------------------------------------------

    def no_conflicts(self, name, seed):
        """The seed of the first capture without --p-conflict: both policies alike."""
        g = self.generate(name, seed, [])
        if g is None:
            return
        out = {}
        for policy in ("first", "last"):
            run = self.replay(g, policy, RETAINS[-1], 2)
            if run is not None:
                out[policy] = run
        if len(out) < 2:
            self.report.add(name + ".policies_identical", "a run failed")
            return
        a, b = (sorted(json.dumps(o, sort_keys=True) for o in out[p].objs)
                for p in ("first", "last"))
        fails = []
        if a != b:
            fails.append("the jsonl lines differ between the policies: %d only under first, "
                         "%d only under last" % (len(set(a) - set(b)), len(set(b) - set(a))))
        if g.expected["first"] != g.expected["last"]:
            fails.append("gencap's expected files differ between the policies")
        busy = [label(stream_key(o)) for p in out for o in out[p].objs if o.get("conflicts")]
        if busy or g.info["conflict_lines"]:
            fails.append("conflicts without any copy of other bytes: reasm %s, gencap %d" % (
                busy[:5], len(g.info["conflict_lines"])))
        self.report.add(name + ".policies_identical", "\n".join(fails) or None)

    # ---- gopacket -------------------------------------------------------------------

    def gopacket_ref(self):
        if self.ref is None:
            self.ref = gopacket.build_reference_if_installed(source_dir(), self.build_dir,
                                                             "gopacket-ref-overlap")
        return self.ref

    def check_gopacket(self, g):
        """gopacket-ref prints gencap's --expected lines: the first policy is gopacket's."""
        case = g.name + ".gopacket_agrees"
        exe, why = self.gopacket_ref()
        if exe is None:
            self.report.cases.append(gtest.Case(case, skipped=why))
            print("skip   %s: %s" % (case, why))
            return
        try:
            r = subprocess.run([exe, g.pcap], capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            self.report.add(case, "gopacket-ref timed out")
            return
        ref = collections.Counter(x for x in r.stdout.splitlines() if not x.startswith("# "))
        with open(g.info["expected"], encoding="utf-8") as f:
            want = collections.Counter(f.read().splitlines())
        fail = None
        if r.returncode != 0 or ref != want:
            fail = "gopacket-ref (exit %d) and gencap's --expected differ: %d lines only in " \
                   "gencap, %d only in gopacket, e.g.\ngencap:   %s\ngopacket: %s" % (
                       r.returncode, sum((want - ref).values()), sum((ref - want).values()),
                       "\n          ".join(list((want - ref).elements())[:3]),
                       "\n          ".join(list((ref - want).elements())[:3]))
        self.report.add(case, fail, note=None if fail else "%d lines" % sum(want.values()))

    # ---- telemetry ------------------------------------------------------------------

    def telemetry(self):
        name, seed, args, policy, retain = TELEMETRY
        g = self.generate(name, seed, args)
        if g is None:
            return
        udp = os.path.join(self.work, "udp.pcap")
        pcap.write(udp, [(gencap.BASE_TIME_US * 1000 + k * 1000,
                          frames.udp_frame("10.7.0.1", 5353, "10.7.0.2", 53, b"x" * 60))
                         for k in range(8)])
        jsonl, conn = (os.path.join(self.work, name + x) for x in (".jsonl", ".conn.jsonl"))
        bg = self.reasm.start(["net_pcap0,rx_pcap=" + g.pcap,
                               "net_pcap1,rx_pcap=%s,infinite_rx=1" % udp],
                              ["--sink", "jsonl:" + jsonl, "--sink", "conn:" + conn,
                               "--overlap-policy", policy, "--retain-bytes", str(retain)] +
                              APP_ARGS, lcores=LCORES[2])
        t0 = time.monotonic()
        try:
            tel = bg.telemetry()
            if tel is None:
                self.report.add(name + ".run", "no telemetry: %s" % bg.stop(
                    signal.SIGKILL).describe())
                return
            deadline, st = time.monotonic() + 30, None
            while time.monotonic() < deadline:
                st = tel.query("/reasm/stats")
                if isinstance(st, dict) and st.get("segs") == g.info["packets"]:
                    break
                time.sleep(0.05)
            if not self.report.check(name + ".run", isinstance(st, dict) and
                                     st.get("segs") == g.info["packets"],
                                     "the capture's %d TCP segments never all counted: %s" % (
                                         g.info["packets"], st)):
                return
            cfg = tel.query("/reasm/config") or {}
            recent = tel.query("/reasm/conflicts")
            st = tel.query("/reasm/stats")
        finally:
            res = bg.stop(signal.SIGINT)
        self.durations[name] += time.monotonic() - t0
        objs, errs = appliance.read_jsonl(jsonl)
        if res.rc != 0 or errs:
            self.report.add(name + ".exit", "exit %s, jsonl %s\n%s" % (res.rc, errs[:3],
                                                                       res.describe()))
            return
        self.report.equal(name + ".config", (cfg.get("overlap_policy"), cfg.get("retain_bytes")),
                          (policy, retain), "/reasm/config overlap_policy, retain_bytes")
        want = g.conflicts_in_order(policy, retain)
        sums = (len(want), sum(x["differing"] for x in want))
        self.report.equal(name + ".stats", (st.get("overlap_conflicts"),
                                            st.get("overlap_conflict_bytes")), sums,
                          "/reasm/stats overlap_conflicts, overlap_conflict_bytes")
        self.check_recent(name, recent, want, objs)

    def check_recent(self, name, recent, want, objs):
        """/reasm/conflicts against the model's conflicts and the jsonl lines (for each
        direction its worker, community_id and, per stream, conn_id)."""
        if not isinstance(recent, dict) or not all(k.isdigit() for k in recent):
            self.report.add(name + ".conflicts", "/reasm/conflicts is not a dict keyed "
                            "\"0\", \"1\"...: %r" % (recent,))
            return
        entries = [recent[k] for k in sorted(recent, key=int)]
        worker_of = {stream_key(o)[:4]: o.get("worker") for o in objs}
        by_stream = {stream_key(o): o for o in objs}
        probs, per = [], collections.defaultdict(list)
        for e in entries:
            per[e.get("worker")].append(e)
        noted = []
        for w in sorted(set(worker_of.values()) | set(per), key=str):
            mine = [x for x in want if worker_of.get(stream_key(x)[:4]) == w]
            got = per.get(w, [])
            exp = list(reversed(mine[-RECENT:]))
            noted.append("worker %s: %d of %d" % (w, len(got), len(mine)))
            if len(got) != len(exp):
                probs.append("worker %s: %d entries, the model has %d conflicts on it (the "
                             "last %d expected)" % (w, len(got), len(mine), len(exp)))
            for i, (e, x) in enumerate(zip(got, exp)):
                line = by_stream.get(stream_key(x), {})
                want_e = dict(worker=w, number=len(mine) - 1 - i, src=x["src"],
                              sport=x["sport"], dst=x["dst"], dport=x["dport"],
                              community_id=line.get("community_id"),
                              conn_id=line.get("conn_id"), seq=x["seq"], len=x["len"],
                              differing=x["differing"], kept=x["kept"],
                              kept_sha256=x["kept_sha256"], other_sha256=x["other_sha256"],
                              seen_ns=x["seen"])
                if x["offset"] is not None:
                    want_e["offset"] = x["offset"]
                if e != want_e:
                    diff = {f: (e.get(f), want_e.get(f)) for f in set(e) | set(want_e)
                            if e.get(f) != want_e.get(f)}
                    probs.append("worker %s, entry %d (newest first): (reasm, model) %s" % (
                        w, i, diff))
        self.report.add(name + ".conflicts", "\n".join(probs[:20]) or None,
                        note="; ".join(noted))

    # ---- bad options ----------------------------------------------------------------

    def bad_options(self, cap):
        for name, opts, word in BAD_OPTIONS:
            res = self.reasm.run(["net_pcap0,rx_pcap=" + cap], opts, 30, lcores=LCORES[1])
            msgs = [x for x in res.stderr.splitlines() if x.startswith("reasm:")]
            self.report.check("bad_option." + name, res.rc == 2 and
                              any(word in m for m in msgs),
                              lambda: "expected exit status 2 and a 'reasm:' message naming "
                              "%s\n%s" % (word, res.describe()), note="; ".join(msgs))


def main():
    args, report, keep = gtest.appliance_e2e_start(__doc__, SUITE, "gtest-app_overlap.xml",
                                                   "reasm_e2e_ovl_")
    if report.failed_to_start:
        return report.finish()
    o = Overlap(args, report)
    why = support(o.reasm)
    if why is not None:
        report.cases.append(gtest.Case("overlap_policy", skipped=why))
        print("skip   overlap_policy: %s" % why)
        return report.finish_with_work_dir(args.work_dir, keep)
    first = None
    for name, seed, gen_args, runs in CAPTURES:
        g = o.capture(name, seed, CONFLICT + gen_args, runs)
        first = first or g
    o.no_conflicts("no_conflicts", CAPTURES[0][1])
    name, seed, gen_args, runs = MULTIPAGE
    o.capture(name, seed, CONFLICT + gen_args, runs)
    o.telemetry()
    if first is not None:
        o.bad_options(first.pcap)
    print("reasm run time per capture: %s" % ", ".join(
        "%s %.1fs" % kv for kv in o.durations.items()))
    return report.finish_with_work_dir(args.work_dir, keep)


if __name__ == "__main__":
    sys.exit(main())
