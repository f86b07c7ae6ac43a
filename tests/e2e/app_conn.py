#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Connections (--sink conn:FILE): both directions of a TCP connection paired, end to end.

Generated captures (tests/gen/gencap.py with --expected-conns: the generator's own account
of every connection, reasmkit.gencap.conn_truth()) are replayed through the appliance with
1 and 2 workers:

    reasm --no-huge -m 512 --no-pci --lcores (0-N)@(0,1) --vdev=net_pcap0,rx_pcap=CAP --
          --sink jsonl:J --sink conn:C --sha256 --quiet --timeout 0 --pages-total 0
          --pages-per-conn 0 --pages 4096 --max-conns 4096

Captures (CAPTURES): IPv4 and IPv6 with handshakes; most connections caught mid-stream (no
handshake: roles guessed); RST endings and 4-tuple reuse; loss; everything at once; every
tunnel kind (--encap all); IP fragments of the inner and outer packets, replayed with
--defrag (FRAGMENTS; where `reasm -- --help` has it). Cases, per capture NAME and worker
count N:

- NAME.generator: gencap wrote it (its self-checks passed, the per-connection sums equal to
  the expected lines' among them);
- NAME.wN.run: exit 0, both files JSON lines, the jsonl equal to gencap's expected file
  (MODEL_KEYS) and bytes conserved (the conn sink leaves the streams alone);
- NAME.wN.matches_truth: as many conn records as gencap has connections, each (paired by
  its two endpoints and first_seen) with the generator's client / server (ports included),
  roles, end, first_seen, last_seen (the times of its first and last packets), duration,
  and per direction packets, payload_bytes, streams, bytes, records, skips, skip_unknown,
  skipped_bytes; encap, vlan, tunnel_id as the connection's first frame has them;
- NAME.wN.history: consistent with the truth (history_consistent(): S when roles is syn,
  starting with S when the connection's first packet is the client's SYN, F and f when end
  is fin, R / r for rst_client / rst_server, A D Q I once per side, at most 31 letters),
  and exactly the history the spec's rules give for the generator's packets;
- NAME.wN.sums_equal_jsonl: per conn record and direction its sums are those of the jsonl
  lines carrying its conn_id from that side (streams = their number; bytes, records, skips,
  skip_unknown, skipped_bytes, skipped_by_cause, received, overlap, discarded, cut,
  conflicts, conflict_bytes), and payload_bytes >= received;
- NAME.conn_sink_alone: with the conn sink alone (no jsonl, --quiet) the conn records are
  those of the run with jsonl (its sides sum the same records and skips);
- NAME.wN.ids: the fields in the spec's order; conn_id "W.N" unique, W the record's worker,
  per worker N = 1..n; duration = last_seen - first_seen; every jsonl line has conn_id
  right after community_id, a conn_id of the conn file, its record's community_id, worker
  and sensor; every record's community_id is reasmkit.community_id's for its endpoints (the
  specification, independently of reasm's C code);
- NAME.same_1_2_workers: the records are the same with 1 and 2 workers once conn_id and
  worker are dropped.
community_id_seed: a capture with --community-id-seed 7: records and lines carry the
seeded identifier (ids).
corner_cases: CORNERS, hand-made packets for what generated traffic never does (a SYN-ACK
with no SYN, a guess corrected with '^', a RST after one FIN or after both, Q and I, a
packet with SYN, ACK, FIN and RST,
letters repeated at new sequence numbers, the 31-letter bound, a SYN after a RST with a
stream direction still open or with none), 1 worker: records as the spec says.

tcpdump.*: every capture of tcpdump's test suite (REASM_SOURCE_DIR/../shared/captures/
tcpdump) through reasm with --sink jsonl --sink conn against tshark's TCP conversations
(distinct tcp.stream values: `-z conv,tcp` has as many rows, but for malformed packets it
leaves out): see TcpdumpCorpus for how, and for what may differ (EXCUSES). tcpdump.conversations is skipped without tshark,
mergecap and capinfos (Debian: tshark).

Without --sink conn in `reasm -- --help` every case is reported skipped, saying so.
Run time: about 35 s on 2 cores (generated captures ~18 s, tcpdump corpus ~13 s).

Usage: app_conn.py PATH/TO/reasm [--work-dir DIR] [--only generated|tcpdump]
Writes the report to $GTEST_OUTPUT ("xml:PATH"). Exit status 1 if any case failed.
"""
import argparse
import collections
import concurrent.futures
import ctypes
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
from reasmkit import (appliance, community_id, frames, gencap, gtest, pcap,  # noqa: E402
                      shared_captures)

SUITE = "AppConn"
RUN_TIMEOUT = 60
WORKERS = [(1, "(0-1)@(0,1)"), (2, "(0-2)@(0,1)")]
APP_ARGS = ["--sha256", "--quiet", "--timeout", "0", "--pages-total", "0",
            "--pages-per-conn", "0", "--pages", "4096", "--max-conns", "4096"]
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
DIRS = ("client_to_server", "server_to_client")
# Per direction: compared with gencap's truth, and summed from the jsonl lines.
TRUTH_DIR_KEYS = ("packets", "payload_bytes", "streams", "bytes", "records", "skips",
                  "skip_unknown", "skipped_bytes")
JSONL_SUMS = ("bytes", "records", "skips", "skip_unknown", "skipped_bytes", "received",
              "overlap", "discarded", "cut", "conflicts", "conflict_bytes")
TRUTH_KEYS = ("client", "client_port", "server", "server_port", "roles", "end", "first_seen",
              "last_seen", "duration")
ENCAP_KEYS = ("encap", "vlan", "tunnel_id")
CONN_ID_RE = re.compile(r"^(\d+)\.(\d+)$")
# The spec's field order of a conn record (encap, vlan, tunnel_id only when it came in a
# VLAN or tunnel) and of its two direction objects.
RECORD_ORDER = ("conn_id", "community_id", "client", "client_port", "server", "server_port",
                "roles", "first_seen", "last_seen", "duration", "history", "end",
                "client_to_server", "server_to_client", "worker", "encap", "vlan",
                "tunnel_id", "sensor")
DIR_ORDER = ("packets", "payload_bytes", "streams", "bytes", "records", "skips",
             "skip_unknown", "skipped_bytes", "skipped_by_cause", "received", "overlap",
             "discarded", "cut", "conflicts", "conflict_bytes")  # then "conflict" if any
OPTIONAL = ("encap", "vlan", "tunnel_id")
GEN = ["--conns", "120", "--concurrency", "16"]
# (name, gencap options, seed, extra reasm options)
CAPTURES = [
    ("handshakes", ["--p-midstream", "0", "--p-loss", "0", "--p-reuse", "0",
                    "--ipv6", "0.5"], 101, []),
    ("midstream", ["--p-midstream", "0.8"], 102, []),
    ("rst_reuse", ["--p-reuse", "30", "--p-midstream", "0.2"], 103, []),
    ("loss", ["--p-loss", "0.6", "--p-reorder", "0.6"], 104, []),
    ("stress", ["--p-reorder", "0.8", "--p-retrans", "0.8", "--p-loss", "0.3",
                "--p-midstream", "0.3", "--p-wrap", "0.5", "--p-reuse", "15",
                "--p-jumbo", "0.02"], 105, []),
    ("tunnels", ["--encap", "all", "--conns", "60", "--p-big", "0.05"], 106, []),
]
FRAGMENTS = ("fragments_defrag", ["--encap", "all", "--p-encap", "0.6", "--conns", "40",
                                  "--frag", "0.2", "--frag-outer", "0.2"], 107, ["--defrag"])


def sink_conn_support(reasm):
    """None when reasm has --sink conn, else why the cases are skipped."""
    res = reasm.run([], ["--help"], 30, lcores="(0-1)@(0,1)")
    if "conn:" in res.stdout + res.stderr:
        return None
    return "`reasm -- --help` does not mention --sink conn:FILE: this reasm does not pair " \
           "connections yet"


def defrag_support(reasm):
    res = reasm.run([], ["--help"], 30, lcores="(0-1)@(0,1)")
    return None if "--defrag" in res.stdout + res.stderr else \
        "`reasm -- --help` does not mention --defrag"


def read_objs(path):
    return appliance.read_jsonl(path)


def ends_of(o):
    """The unordered endpoints of a conn record or a jsonl line."""
    if "client" in o:
        a, b = (o["client"], o["client_port"]), (o["server"], o["server_port"])
    else:
        a, b = (o["src"], o["sport"]), (o["dst"], o["dport"])
    return tuple(sorted((a, b)))


def conn_label(o):
    return "%s %s:%s <-> %s:%s first_seen %s" % (
        o.get("conn_id", "truth"), o.get("client"), o.get("client_port"), o.get("server"),
        o.get("server_port"), o.get("first_seen"))


def pair_records(truth, recs):
    """[(truth row, record)], [truth rows unmatched], [records unmatched]: per pair of
    endpoints, in first_seen order (a reused 4-tuple's connections in turn); a record
    whose first_seen equals no truth row's is paired by order when the counts agree."""
    t_by, r_by = collections.defaultdict(list), collections.defaultdict(list)
    for t in truth:
        t_by[ends_of(t)].append(t)
    for r in recs:
        r_by[ends_of(r)].append(r)
    pairs, t_left, r_left = [], [], []
    for k in set(t_by) | set(r_by):
        ts = sorted(t_by.get(k, []), key=lambda x: x["first_seen"])
        rs = sorted(r_by.get(k, []), key=lambda x: x.get("first_seen", 0))
        if len(ts) == len(rs):
            pairs += list(zip(ts, rs))
            continue
        by_seen = {r.get("first_seen"): r for r in rs}
        for t in ts:
            r = by_seen.pop(t["first_seen"], None)
            if r is None:
                t_left.append(t)
            else:
                pairs.append((t, r))
        r_left += list(by_seen.values())
    return pairs, t_left, r_left


def compare_truth(t, r):
    """What differs between a truth row and a conn record (a list of strings)."""
    diffs = []
    for k in TRUTH_KEYS:
        if r.get(k) != t[k]:
            diffs.append("%s: reasm %r, gencap %r" % (k, r.get(k), t[k]))
    for k in ENCAP_KEYS:
        if r.get(k) != t.get(k):
            diffs.append("%s: reasm %r, gencap %r" % (k, r.get(k), t.get(k)))
    for d in DIRS:
        rd = r.get(d)
        if not isinstance(rd, dict):
            diffs.append("%s missing" % d)
            continue
        for k in TRUTH_DIR_KEYS:
            if rd.get(k) != t[d][k]:
                diffs.append("%s.%s: reasm %r, gencap %r" % (d, k, rd.get(k), t[d][k]))
    return diffs


def truth_note(t):
    extra = "" if t["client"] == t["true_client"] and t["client_port"] == \
        t["true_client_port"] else " (true client %s:%d)" % (t["true_client"],
                                                             t["true_client_port"])
    return "gencap connection(s) %s, tunnel %r, roles %s%s, history %s" % (
        t["cids"], t["tunnel"], t["roles"], extra, t["history"])


def history_consistent(t, r):
    """Why the record's history does not fit its roles, end and the truth (rules any
    implementation of the spec must follow), or None. A SYN, FIN or RST may come with
    another of them (then its letter is Q or I); a full history (31 letters) may lack
    later ones."""
    h = r.get("history")
    if not isinstance(h, str):
        return "no history"
    if len(h) > gencap.HISTORY_MAX:
        return "history %r longer than %d" % (h, gencap.HISTORY_MAX)
    if not re.fullmatch(r"[SsHhAaDdFfRrQqIi^]*", h):
        return "history %r has letters the spec does not have" % h
    full = len(h) == gencap.HISTORY_MAX

    def has(letters):
        return full or any(x in h for x in letters)
    probs = []
    if r.get("roles") == "syn" and not has("SQI"):
        probs.append("roles syn without S")
    if r.get("roles") == "syn_ack" and not has("hqi"):
        probs.append("roles syn_ack without h")
    if t["history"].startswith("S") and not h.startswith("S"):
        probs.append("the connection's first packet is the client's SYN, history does not "
                     "start with S")
    if r.get("end") == "fin" and not (has("FQI") and has("fqi")):
        probs.append("end fin without F and f")
    if r.get("end") == "rst_client" and not has("RQI"):
        probs.append("end rst_client without R")
    if r.get("end") == "rst_server" and not has("rqi"):
        probs.append("end rst_server without r")
    if "^" in h and r.get("roles") == "guessed":
        probs.append("^ with roles guessed")
    for x in "ADQIadqi":
        if h.count(x) > 1:
            probs.append("%s more than once" % x)
    if probs:
        return "history %r: %s" % (h, "; ".join(probs))
    return None


class Run:
    """One replay: result, summary, jsonl objects, conn records, their errors."""

    def __init__(self, reasm, cap, out_base, lcores, extra=(), with_jsonl=True):
        self.jsonl, self.conn = out_base + ".jsonl", out_base + ".conn.jsonl"
        for p in (self.jsonl, self.conn):
            if os.path.exists(p):
                os.unlink(p)
        sinks = ["--sink", "conn:" + self.conn]
        if with_jsonl:
            sinks = ["--sink", "jsonl:" + self.jsonl] + sinks
        else:
            open(self.jsonl, "w").close()
        t0 = time.monotonic()
        self.res = reasm.run(["net_pcap0,rx_pcap=" + cap], sinks + APP_ARGS + list(extra),
                             RUN_TIMEOUT, lcores=lcores)
        self.secs = time.monotonic() - t0
        self.summary = appliance.parse_summary(self.res.stdout)
        self.objs, errs = read_objs(self.jsonl)
        self.recs, errs2 = read_objs(self.conn)
        self.errors = ["jsonl: " + e for e in errs] + ["conn: " + e for e in errs2]

    def ok(self):
        return self.res.rc == 0 and self.summary is not None and not self.errors

    def why_not(self):
        return "%s\n%s" % ("\n".join(self.errors[:5]), self.res.describe())


def sums_problems(recs, objs, label=conn_label):
    """Per conn record and direction: its sums against its jsonl lines' (a list)."""
    by_id = collections.defaultdict(list)
    for o in objs:
        by_id[o.get("conn_id")].append(o)
    probs = []
    for r in recs:
        lines = by_id.get(r.get("conn_id"), [])
        client = (r.get("client"), r.get("client_port"))
        server = (r.get("server"), r.get("server_port"))
        for d, src in (("client_to_server", client), ("server_to_client", server)):
            mine = [o for o in lines if (o["src"], o["sport"]) == src]
            rd = r.get(d) or {}
            if rd.get("streams") != len(mine):
                probs.append("%s %s: streams %r, %d jsonl lines" % (
                    label(r), d, rd.get("streams"), len(mine)))
            for k in JSONL_SUMS:
                want = sum(o.get(k, 0) for o in mine)
                if rd.get(k) != want:
                    probs.append("%s %s: %s %r, its jsonl lines sum to %d" % (
                        label(r), d, k, rd.get(k), want))
            cause = collections.Counter()
            for o in mine:
                cause.update(o.get("skipped_by_cause", {}))
            got = rd.get("skipped_by_cause")
            if not isinstance(got, dict) or collections.Counter(got) != cause:
                if not (isinstance(got, dict) and +collections.Counter(got) == +cause):
                    probs.append("%s %s: skipped_by_cause %r, its jsonl lines sum to %r" % (
                        label(r), d, got, dict(cause)))
            if rd.get("payload_bytes", 0) < sum(o.get("received", 0) for o in mine):
                probs.append("%s %s: payload_bytes %r < received %d" % (
                    label(r), d, rd.get("payload_bytes"),
                    sum(o.get("received", 0) for o in mine)))
        stray = [o for o in lines if (o["src"], o["sport"]) not in (client, server)]
        if stray:
            probs.append("%s: %d jsonl lines of its conn_id are of neither side" % (
                label(r), len(stray)))
    return probs


def ids_problems(recs, objs, seed=0):
    """conn_id / community_id consistency of a run (a list)."""
    probs = []
    ids = collections.Counter(r.get("conn_id") for r in recs)
    dup = [k for k, n in ids.items() if n > 1]
    if dup:
        probs.append("conn_id not unique: %s" % dup[:5])
    per_worker = collections.defaultdict(list)
    by_id = {}
    for r in recs:
        m = CONN_ID_RE.match(str(r.get("conn_id")))
        if m is None:
            probs.append("conn_id %r is not W.N" % r.get("conn_id"))
            continue
        w, n = int(m.group(1)), int(m.group(2))
        if w != r.get("worker"):
            probs.append("%s: worker %r" % (r.get("conn_id"), r.get("worker")))
        per_worker[w].append(n)
        by_id[r["conn_id"]] = r
        fs, ls = r.get("first_seen"), r.get("last_seen")
        if not (isinstance(fs, int) and isinstance(ls, int) and fs <= ls and
                r.get("duration") == ls - fs):
            probs.append("%s: first_seen %r, last_seen %r, duration %r" % (
                r["conn_id"], fs, ls, r.get("duration")))
        want = community_id.community_id(r["client"], r["client_port"], r["server"],
                                         r["server_port"], seed)
        if r.get("community_id") != want:
            probs.append("%s: community_id %r, the specification gives %s (seed %d)" % (
                conn_label(r), r.get("community_id"), want, seed))
    for w, ns in per_worker.items():
        if sorted(ns) != list(range(1, len(ns) + 1)):
            probs.append("worker %d: conn serials are not 1..%d: %s" % (
                w, len(ns), sorted(ns)[:20]))
    for r in recs:
        keys = [k for k in RECORD_ORDER if k in r or k not in OPTIONAL]
        if list(r) != keys:
            probs.append("%s: fields %s, the spec's order %s" % (
                r.get("conn_id"), list(r), keys))
        for d in DIRS:
            if isinstance(r.get(d), dict) and [k for k in r[d] if k != "conflict"] != list(
                    DIR_ORDER):
                probs.append("%s %s: fields %s, the spec's %s" % (
                    r.get("conn_id"), d, list(r[d]), list(DIR_ORDER)))
    for o in objs:
        keys = list(o)
        if "conn_id" not in keys or "community_id" not in keys or \
                keys.index("conn_id") != keys.index("community_id") + 1:
            probs.append("jsonl %s: conn_id is not next to community_id" % keys)
        r = by_id.get(o.get("conn_id"))
        d = "%s:%s > %s:%s" % (o.get("src"), o.get("sport"), o.get("dst"), o.get("dport"))
        if r is None:
            probs.append("jsonl %s: conn_id %r is in no conn record" % (d, o.get("conn_id")))
            continue
        if o.get("community_id") != r.get("community_id"):
            probs.append("jsonl %s: community_id %r, its conn record's %r" % (
                d, o.get("community_id"), r.get("community_id")))
        if o.get("sensor") != r.get("sensor"):
            probs.append("jsonl %s: sensor %r, its conn record's %r" % (
                d, o.get("sensor"), r.get("sensor")))
        if o.get("worker") != r.get("worker"):
            probs.append("jsonl %s: worker %r, its conn record's %r" % (
                d, o.get("worker"), r.get("worker")))
        if ends_of(o) != ends_of(r):
            probs.append("jsonl %s: in conn %s of other endpoints" % (d, r["conn_id"]))
    return probs


def strip_run(recs):
    return sorted(json.dumps({k: v for k, v in r.items() if k not in ("conn_id", "worker")},
                             sort_keys=True) for r in recs)


# ---- the spec's corner cases, by hand --------------------------------------------------

FLAGS = {"S": frames.TCP_SYN, "SA": frames.TCP_SYN | frames.TCP_ACK, "A": frames.TCP_ACK,
         "PA": frames.TCP_PSH | frames.TCP_ACK, "FA": frames.TCP_FIN | frames.TCP_ACK,
         "RA": frames.TCP_RST | frames.TCP_ACK, "R": frames.TCP_RST,
         "SF": frames.TCP_SYN | frames.TCP_FIN, "FR": frames.TCP_FIN | frames.TCP_RST,
         "SAFR": frames.TCP_SYN | frames.TCP_ACK | frames.TCP_FIN | frames.TCP_RST}
# name: (packets: (sender "a" or "b", flags, seq, payload), expected records in order:
# (roles, client "a"/"b", history, end or None: not compared, packets a sent, b sent)).
# Each scenario on its own 4-tuple (a: 10.77.0.1:4000N, b: 10.77.1.1:80); what the spec
# says of each is in its comment.
CORNERS = {
    # No SYN, the server's SYN-ACK first: roles syn_ack, its receiver the client.
    "syn_ack_only": ([("b", "SA", 7000, b""), ("a", "A", 101, b""), ("a", "PA", 101, b"abc"),
                      ("b", "PA", 7001, b"xy"), ("a", "FA", 104, b""), ("b", "FA", 7003, b""),
                      ("a", "A", 105, b"")],
                     [("syn_ack", "a", "hADdFf", "fin", 4, 3)]),
    # b's data first (b guessed the client), then a's SYN: a guess corrected, the letters
    # written so far change case, then '^'.
    "guess_corrected": ([("b", "PA", 5000, b"hi"), ("a", "S", 100, b""),
                         ("b", "SA", 4999, b""), ("a", "A", 101, b"")],
                        [("syn", "a", "d^ShA", "flush_all", 2, 2)]),
    # One FIN, then the other side's RST: rst_server.
    "fin_then_rst": ([("a", "S", 1, b""), ("b", "SA", 900, b""), ("a", "A", 2, b""),
                      ("a", "FA", 2, b""), ("b", "RA", 901, b"")],
                     [("syn", "a", "ShAFr", "rst_server", 3, 2)]),
    # Both FINs, then a RST: still fin; R written.
    "fins_then_rst": ([("a", "S", 1, b""), ("b", "SA", 900, b""), ("a", "A", 2, b""),
                       ("a", "FA", 2, b""), ("b", "FA", 901, b""), ("a", "RA", 3, b"")],
                      [("syn", "a", "ShAFfR", "fin", 4, 2)]),
    # Q (SYN with FIN) and I (FIN with RST), history only.
    "q_and_i": ([("a", "S", 1, b""), ("b", "SA", 900, b""), ("a", "A", 2, b""),
                 ("a", "SF", 1, b""), ("b", "FR", 901, b"")],
                [("syn", "a", "ShAQi", None, 3, 2)]),
    # D once; F again only at a new sequence number + length, R again at a new sequence
    # number.
    "repeats": ([("a", "S", 1, b""), ("b", "SA", 900, b""), ("a", "A", 2, b""),
                 ("a", "PA", 2, b"abc"), ("a", "PA", 5, b"de"), ("a", "FA", 7, b""),
                 ("a", "FA", 7, b""), ("a", "FA", 12, b""), ("b", "RA", 901, b""),
                 ("b", "RA", 901, b""), ("b", "RA", 902, b"")],
                [("syn", "a", "ShADFFrr", "rst_server", 7, 4)]),
    # SYN, ACK, FIN and RST at once, alone (tcpdump's tcp_eight_lowest_weight_flags_set
    # has one): as Zeek's history, FIN with RST is I; its SYN-ACK names its sender the
    # server; its RST ends the connection.
    "christmas": ([("b", "SAFR", 3000, b"")],
                  [("syn_ack", "a", "i", "rst_server", 0, 1)]),
    # At most 31 letters.
    "bounded": ([("a", "S", 1, b""), ("b", "SA", 900, b"")] +
                [("a", "FA", 2 + 10 * i, b"") for i in range(40)],
                [("syn", "a", "Sh" + "F" * 29, None, 41, 1)]),
    # a's RST ended it, but b's stream direction (opened by its SYN-ACK) is still open: a
    # new SYN stays in the connection (S again: a new sequence number).
    "syn_after_rst_open": ([("a", "S", 100, b""), ("b", "SA", 900, b""), ("a", "A", 101, b""),
                            ("a", "RA", 101, b""), ("a", "S", 5000, b""),
                            ("b", "SA", 7000, b"")],
                           [("syn", "a", "ShARSh", "rst_client", 4, 2)]),
    # Both directions closed by RSTs: a new SYN starts the 4-tuple's next connection.
    "syn_after_rst_closed": ([("a", "S", 100, b""), ("b", "SA", 900, b""),
                              ("a", "A", 101, b""), ("a", "RA", 101, b""),
                              ("b", "RA", 901, b""), ("a", "S", 5000, b""),
                              ("b", "SA", 7000, b""), ("a", "A", 5001, b"")],
                             [("syn", "a", "ShARr", "rst_client", 3, 2),
                              ("syn", "a", "ShA", "flush_all", 2, 1)]),
}
CORNER_A, CORNER_B, CORNER_BPORT = "10.77.0.1", "10.77.1.1", 80


def corner_capture(path):
    """The CORNERS scenarios one after the other in one capture (1 ms apart); returns
    {(a port): name}."""
    out, t, ports = [], 1_750_000_000 * 10 ** 9, {}
    for i, (name, (pkts, _)) in enumerate(sorted(CORNERS.items())):
        aport = 40000 + i
        ports[aport] = name
        for who, fl, seq, payload in pkts:
            t += 1_000_000
            if who == "a":
                f = frames.tcp_frame(CORNER_A, aport, CORNER_B, CORNER_BPORT, seq, FLAGS[fl],
                                     payload, ack=1 if FLAGS[fl] & frames.TCP_ACK else 0)
            else:
                f = frames.tcp_frame(CORNER_B, CORNER_BPORT, CORNER_A, aport, seq, FLAGS[fl],
                                     payload, ack=1 if FLAGS[fl] & frames.TCP_ACK else 0)
            out.append((t, f + b"\0" * max(0, 60 - len(f))))
    pcap.write(path, out)
    return ports


def corner_problems(ports, recs):
    """What differs from CORNERS (a list)."""
    probs = []
    by_port = collections.defaultdict(list)
    for r in recs:
        a = r["client_port"] if r.get("client") == CORNER_A else r.get("server_port")
        by_port[a].append(r)
    for aport, name in sorted(ports.items()):
        want = CORNERS[name][1]
        got = sorted(by_port.get(aport, []), key=lambda r: r.get("first_seen", 0))
        if len(got) != len(want):
            probs.append("%s: %d records, the spec says %d: %s" % (
                name, len(got), len(want), [r.get("history") for r in got]))
            continue
        for (roles, client, hist, end, pa, pb), r in zip(want, got):
            a_is_client = r.get("client") == CORNER_A
            a_side = "client_to_server" if a_is_client else "server_to_client"
            b_side = "server_to_client" if a_is_client else "client_to_server"
            g = (r.get("roles"), "a" if a_is_client else "b", r.get("history"),
                 r.get("end") if end is not None else None, r[a_side]["packets"],
                 r[b_side]["packets"])
            w = (roles, client, hist, end, pa, pb)
            if g != w:
                probs.append("%s (%s): reasm (roles, client, history, end, packets a, "
                             "packets b) = %r, the spec says %r" % (name, r.get("conn_id"),
                                                                     g, w))
    return probs


class Generated:
    def __init__(self, args, report):
        self.report = report
        self.reasm = appliance.Reasm(args.reasm, "conn")
        self.work = args.work_dir
        self.durations = {}

    def generate(self, name, gen_args, seed):
        cap = os.path.join(self.work, name + ".pcap")
        conns = os.path.join(self.work, name + ".conns.jsonl")
        argv = ["-o", cap, "--seed", str(seed), "--expected-conns", conns] + GEN + gen_args
        try:
            info = gencap.generate_files(argv)
        except Exception as e:  # a self-check, or a bug in the generator
            self.report.add(name + ".generator", "gencap %s: %s: %s" % (
                " ".join(argv), type(e).__name__, e))
            return None
        truth = info["conn_rows"]
        roles = collections.Counter(t["roles"] for t in truth)
        ends = collections.Counter(t["end"] for t in truth)
        merged = sum(1 for t in truth if len(t["cids"]) > 1)
        self.report.add(name + ".generator", None, note=(
            "%d connections of gencap make %d conn records (%d reused 4-tuples continuing "
            "their predecessor); roles %s; end %s; %d packets" % (
                info["connections"], len(truth), merged, dict(roles), dict(ends),
                info["packets"])))
        return info

    def capture(self, name, gen_args, seed, extra, workers=WORKERS):
        info = self.generate(name, gen_args, seed)
        if info is None:
            return
        truth = info["conn_rows"]
        with open(info["expected"], encoding="utf-8") as f:
            expected = [json.loads(x) for x in f if x.strip()]
        by_n = {}
        for n, lcores in workers:
            pre = "%s.w%d." % (name, n)
            run = Run(self.reasm, info["pcap"], os.path.join(self.work, "%s.w%d" % (name, n)),
                      lcores, extra)
            self.durations[name] = self.durations.get(name, 0.0) + run.secs
            if not run.ok():
                self.report.add(pre + "run", "the run failed: " + run.why_not())
                continue
            fails = []
            diff = appliance.multiset_diff(appliance.multiset(expected, MODEL_KEYS),
                                           appliance.multiset(run.objs, MODEL_KEYS),
                                           MODEL_KEYS, "gencap", "reasm")
            if diff:
                fails.append(diff)
            why = appliance.bytes_conserved_problem(run.summary, run.objs)
            if why:
                fails.append(why)
            self.report.add(pre + "run", "\n".join(fails) or None,
                            note="%d conn records, %d jsonl lines" % (len(run.recs),
                                                                   len(run.objs)))
            by_n[n] = run.recs
            self.check_truth(pre, truth, run)
            self.report.add(pre + "sums_equal_jsonl",
                            "\n".join(sums_problems(run.recs, run.objs)[:30]) or None)
            self.report.add(pre + "ids", "\n".join(ids_problems(run.recs, run.objs)[:30])
                            or None)
        if workers[0][0] in by_n:
            # The conn sink alone (no jsonl, --quiet) sums its sides the same way.
            n, lcores = workers[0]
            alone = Run(self.reasm, info["pcap"], os.path.join(self.work, "%s.alone" % name),
                        lcores, extra, with_jsonl=False)
            self.report.add("%s.conn_sink_alone" % name,
                            ("the run failed: " + alone.why_not()) if not alone.ok() else
                            None if strip_run(alone.recs) == strip_run(by_n[n]) else
                            "the conn records differ without a jsonl sink")
        if len(by_n) == len(workers) and len(workers) > 1:
            base = strip_run(by_n[workers[0][0]])
            bad = [n for n, recs in by_n.items() if strip_run(recs) != base]
            self.report.add("%s.same_%s_workers" % (name, "_".join(str(n) for n, _ in workers)),
                            None if not bad else "the conn records differ with %s workers "
                            "(conn_id and worker left out)" % bad)

    def check_truth(self, pre, truth, run):
        pairs, t_left, r_left = pair_records(truth, run.recs)
        fails, hist_fails, hist_exact = [], [], []
        if len(run.recs) != len(truth):
            fails.append("%d conn records, gencap has %d connections" % (len(run.recs),
                                                                       len(truth)))
        for t in t_left[:10]:
            fails.append("only in gencap: %s; %s" % (conn_label(t), truth_note(t)))
        for r in r_left[:10]:
            fails.append("only in reasm: %s" % json.dumps(r))
        for t, r in pairs:
            d = compare_truth(t, r)
            if d:
                fails.append("%s (%s):\n    %s" % (conn_label(r), truth_note(t),
                                                   "\n    ".join(d)))
            why = history_consistent(t, r)
            if why:
                hist_fails.append("%s: %s (%s)" % (conn_label(r), why, truth_note(t)))
            elif r.get("history") != t["history"]:
                hist_exact.append("%s: history %r, the spec's rules on gencap's packets "
                                  "give %r (%s)" % (conn_label(r), r.get("history"),
                                                    t["history"], truth_note(t)))
        self.report.add(pre + "matches_truth", "\n".join(fails[:40]) or None,
                        note="%d records compared" % len(pairs))
        self.report.add(pre + "history", "\n".join((hist_fails + hist_exact)[:30]) or None)

    def corners(self):
        """corner_cases: CORNERS through reasm (1 worker): each scenario's records as the
        spec says; sums and ids as everywhere."""
        cap = os.path.join(self.work, "corners.pcap")
        ports = corner_capture(cap)
        run = Run(self.reasm, cap, os.path.join(self.work, "corners"), WORKERS[0][1])
        if not run.ok():
            self.report.add("corner_cases", "the run failed: " + run.why_not())
            return
        probs = corner_problems(ports, run.recs) + sums_problems(run.recs, run.objs) + \
            ids_problems(run.recs, run.objs)
        self.report.add("corner_cases", "\n".join(probs) or None,
                        note="%d scenarios, %d records" % (len(CORNERS), len(run.recs)))

    def community_seed(self, name, gen_args, seed):
        case = "community_id_seed"
        info = self.generate(name, gen_args, seed)
        if info is None:
            return
        run = Run(self.reasm, info["pcap"], os.path.join(self.work, name), WORKERS[1][1],
                  ["--community-id-seed", "7"])
        if not run.ok():
            self.report.add(case, "the run failed: " + run.why_not())
            return
        self.report.add(case, "\n".join(ids_problems(run.recs, run.objs, seed=7)[:30]) or None,
                        note="%d conn records" % len(run.recs))


# ---- tcpdump's captures ------------------------------------------------------------------

CORPUS_LCORES = WORKERS[1][1]
CORPUS_ARGS = ["--quiet", "--timeout", "0", "--pages-total", "0", "--pages-per-conn", "0",
               "--pages", "2048", "--max-conns", "4096", "--mbufs", "16383"]
CORPUS_MEM = 256
# None of these may move: the corpus must fit the limits of CORPUS_ARGS.
LIMIT_COUNTERS = ("table_full_pkts", "pages_alloc_failed", "connections_evicted",
                  "connections_untracked_pkts", "dist_ring_full")
CORPUS_BASE_NS = 1_800_000_000 * 10 ** 9
FILE_SPAN_NS = 10 ** 9          # capture k's records at CORPUS_BASE_NS + k s + j us
RECORD_STEP_NS = 1000
DLT_EN10MB = 1
# What reasm decodes on the way to TCP, in tshark's frame.protocols names: TCP under any
# other layer (an sFlow sample, ...) is not reasm's to see.
REASM_LAYERS = {"eth", "ethertype", "vlan", "mpls", "pppoes", "ppp", "ip", "ipv6",
                "ipv6.hopopts", "ipv6.dstopts", "ipv6.routing", "ipv6.fraghdr", "ah", "udp",
                "gre", "erspan", "vxlan", "geneve", "gtp", "data"}
# The GRE protocol types reasm follows (IPv4, IPv6, transparent Ethernet bridging, MPLS,
# PPPoE session, PPP, ERSPAN II and III): WCCP's redirect header (0x883e) is not one.
REASM_GRE_PROTOS = {0x0800, 0x86DD, 0x6558, 0x8847, 0x8848, 0x8864, 0x880B, 0x88BE, 0x22EB}
TSHARK_FIELDS = ["frame.interface_id", "tcp.stream", "frame.protocols", "ip.src", "ip.dst",
                 "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.flags.syn",
                 "tcp.flags.ack", "ip.flags.mf", "ip.frag_offset", "ipv6.fraghdr.offset",
                 "gre.proto", "_ws.expert.message"]
# Why the number of conn records of an Ethernet capture may differ from tshark's TCP
# conversations (each category is tested for, conversation by conversation; anything
# else fails): EXCUSES[category] = what it means.
EXCUSES = {
    "fragment": "tshark dissects the TCP header in an IP fragment whose datagram never "
                "completes (its first fragment); reasm without --defrag drops fragments",
    "undecoded": "TCP under a layer reasm does not decode (tshark's path: %s)",
    "tshark_stops": "reasm reads TCP in a frame tshark does not dissect down to TCP because "
                    "a length field is 0 (BIG TCP / GSO: IPv4 total length or UDP length 0; "
                    "reasm takes the frame's length)",
    "tshark_splits": "tshark splits a 4-tuple into more conversations than reasm (it starts "
                     "one at a SYN whose sequence number is new, or at data after both "
                     "FINs; reasm's next connection starts only at a SYN after the "
                     "connection ended with no stream direction open)",
}


class Libpcap:
    """libpcap through ctypes: each capture's records as net_pcap reads them."""

    class Hdr(ctypes.Structure):
        _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long),
                    ("caplen", ctypes.c_uint32), ("len", ctypes.c_uint32)]

    def __init__(self):
        self.lib = pcap.libpcap_cdll()
        if self.lib is None:
            return
        L, H = self.lib, ctypes.POINTER(self.Hdr)
        L.pcap_open_offline.restype = ctypes.c_void_p
        L.pcap_open_offline.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        L.pcap_next_ex.argtypes = [ctypes.c_void_p, ctypes.POINTER(H),
                                   ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))]
        L.pcap_geterr.restype = ctypes.c_char_p
        L.pcap_geterr.argtypes = [ctypes.c_void_p]
        L.pcap_datalink.argtypes = [ctypes.c_void_p]
        L.pcap_close.argtypes = [ctypes.c_void_p]

    def read(self, path):
        """(records [(captured bytes, wire length)], DLT, None) or (None, None, libpcap's
        error when it cannot open the file)."""
        err = ctypes.create_string_buffer(512)
        p = self.lib.pcap_open_offline(os.fsencode(path), err)
        if not p:
            return None, None, err.value.decode(errors="replace")
        dlt = self.lib.pcap_datalink(p)
        hdr, data, recs = ctypes.POINTER(self.Hdr)(), ctypes.POINTER(ctypes.c_ubyte)(), []
        while self.lib.pcap_next_ex(p, ctypes.byref(hdr), ctypes.byref(data)) == 1:
            recs.append((ctypes.string_at(data, hdr.contents.caplen), hdr.contents.len))
        self.lib.pcap_close(p)
        return recs, dlt, None


class TsharkConv:
    """One tshark TCP conversation (tcp.stream) of one capture."""

    def __init__(self, ends):
        self.ends = ends            # unordered endpoints, as ends_of() makes them
        self.frames = []            # frame numbers in the capture (from 1)
        self.paths = set()          # frame.protocols up to TCP
        self.all_fragments = True
        self.undecoded = None       # a layer on the way reasm does not decode


def _split(v):
    return [x for x in v.split(",") if x != ""] if v else []


def tshark_frames(path, timeout=120):
    """tshark's fields (TSHARK_FIELDS) of every frame of path: ([dict], error)."""
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
    if r.returncode != 0:
        return None, "tshark exit %d: %s" % (r.returncode, r.stderr.strip()[-500:])
    out = []
    for line in r.stdout.splitlines():
        parts = line.split("\t", len(TSHARK_FIELDS) - 1)
        parts += [""] * (len(TSHARK_FIELDS) - len(parts))
        out.append(dict(zip(TSHARK_FIELDS, parts)))
    return out, None


def tshark_conversations(rows):
    """{tcp.stream: TsharkConv} of one capture's frames (tshark_frames() rows, in order)."""
    convs = {}
    for n, f in enumerate(rows, 1):
        streams = _split(f["tcp.stream"])
        if not streams:
            continue
        protos = f["frame.protocols"].split(":")
        if "tcp" not in protos:
            continue
        path = protos[:len(protos) - 1 - protos[::-1].index("tcp")]
        ips = [p for p in path if p in ("ip", "ipv6")]
        if not ips:
            continue
        # The innermost IP layer: its occurrence among the layers of its version.
        fam = ips[-1]
        idx = sum(1 for p in ips if p == fam) - 1
        src, dst = _split(f[fam + ".src"]), _split(f[fam + ".dst"])
        sp, dp = _split(f["tcp.srcport"]), _split(f["tcp.dstport"])
        if idx >= len(src) or idx >= len(dst) or not sp or not dp:
            continue
        ends = tuple(sorted(((src[idx], int(sp[-1])), (dst[idx], int(dp[-1])))))
        c = convs.setdefault(int(streams[-1]), TsharkConv(ends))
        c.frames.append(n)
        c.paths.add(":".join(path))
        frag = "1" in _split(f["ip.flags.mf"]) or any(x not in ("0", "") for x in _split(
            f["ip.frag_offset"])) or "ipv6.fraghdr" in path
        c.all_fragments = c.all_fragments and frag
        bad = [p for p in path if p not in REASM_LAYERS]
        if not bad and "gre" in path:
            bad = ["gre protocol %s" % g for g in _split(f["gre.proto"])
                   if int(g, 0) not in REASM_GRE_PROTOS]
        if bad and c.undecoded is None:
            c.undecoded = "%s (%s)" % (":".join(path), ", ".join(bad))
    return convs


class TcpdumpCorpus:
    """tcpdump.*: every capture of tcpdump's test suite through reasm (--sink jsonl --sink
    conn, 2 workers, --timeout 0) against tshark's TCP conversations.

    The captures are read as libpcap reads them (what net_pcap hands over: every record
    as an Ethernet frame, whatever the file's link type) and replayed many to one capture,
    one after the other, capture k's record j timed CORPUS_BASE_NS + k s + j us, so that a
    conn record's first_seen / last_seen say which capture and which frames it is of
    (with --timeout 0 times only label). tshark reads them (those wiretap reads: capinfos
    names the others) in one file made by `mergecap -a -I none` (one interface per
    capture: frame.interface_id says which). Captures holding the same endpoints would
    share connections in one run: they are split into groups of which no two share
    endpoints (tshark's, greedy: nearly all in the first group); reasm replays each group
    (about 6 runs), and tshark reads again, per group, the captures that shared endpoints.
    A record that still spans captures (endpoints tshark did not see) makes its first and
    last captures run again alone.

    Cases:
    - tcpdump.run: the run exits 0, both files are JSON lines, every record is of one
      capture;
    - tcpdump.sums_equal_jsonl, tcpdump.ids: as for the generated captures, over all;
    - tcpdump.history: every record's history fits its roles and end
      (history_consistent());
    - tcpdump.conversations: per Ethernet capture (libpcap DLT_EN10MB), reasm's conn
      records and tshark's TCP conversations (distinct tcp.stream values), 4-tuple by
      4-tuple, agree in number, or differ for a reason of EXCUSES, found in the frames
      (the note counts captures per reason). Captures of other link types are not
      compared: tshark decodes their link layer, reasm takes them as Ethernet (the note
      counts them and the TCP conversations tshark sees in them).
    """

    def __init__(self, args, report):
        self.report = report
        self.reasm = appliance.Reasm(args.reasm, "conntcpdump", mem=CORPUS_MEM)
        self.work = os.path.join(args.work_dir, "tcpdump")
        os.makedirs(self.work, exist_ok=True)
        self.folder = shared_captures()
        self.files, self.records, self.dlt, self.unreadable = [], {}, {}, {}
        self.secs = {}
        self.tshark_expert = {}     # {file: {frame: expert info}} of frames without TCP
        self.tangled, self.partition = [], []

    def skip_all(self, why):
        for case in ("run", "sums_equal_jsonl", "ids", "history", "conversations"):
            self.report.cases.append(gtest.Case("tcpdump." + case, skipped=why))
        print("skip   tcpdump.*: %s" % why)

    def run(self):
        if not os.path.isdir(self.folder):
            return self.skip_all("capture folder %s is missing" % self.folder)
        lib = Libpcap()
        if lib.lib is None:
            return self.skip_all("libpcap does not load (ctypes)")
        for f in sorted(os.listdir(self.folder)):
            if not f.endswith((".pcap", ".pcapng", ".cap")):
                continue
            recs, dlt, err = lib.read(os.path.join(self.folder, f))
            if err is not None:
                self.unreadable[f] = err          # net_pcap would not open it either
                continue
            self.files.append(f)
            self.records[f], self.dlt[f] = recs, dlt
        t0 = time.monotonic()
        missing = [t for t in ("tshark", "mergecap", "capinfos") if shutil.which(t) is None]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            ts = self.tshark_all(pool) if not missing else None
            recs, objs = self.reasm_all(self.partition if ts is not None else [self.files],
                                        pool)
            if ts is not None:
                ts = ts()
        self.secs["total"] = time.monotonic() - t0
        if recs is None:
            return
        if ts is None:
            why = "%s not installed (Debian: tshark)" % " and ".join(missing)
            self.report.cases.append(gtest.Case("tcpdump.conversations", skipped=why))
            print("skip   tcpdump.conversations: %s" % why)
            return
        self.compare(recs, ts)

    # ---- reasm ---------------------------------------------------------------------

    def concat(self, path, files):
        """The records of files one after the other in one Ethernet capture (times as the
        class says; k: the index of the file in self.files)."""
        with pcap.Writer(path, snaplen=262144) as w:
            for f in files:
                k = self.files.index(f)
                for j, (data, wire) in enumerate(self.records[f]):
                    w.add(CORPUS_BASE_NS + k * FILE_SPAN_NS + j * RECORD_STEP_NS, data, wire)

    def file_of(self, t):
        k = (t - CORPUS_BASE_NS) // FILE_SPAN_NS if isinstance(t, int) else -1
        return self.files[k] if 0 <= k < len(self.files) else None

    def frame_of(self, t):
        return (t - CORPUS_BASE_NS) % FILE_SPAN_NS // RECORD_STEP_NS + 1

    def replay(self, name, files):
        cap = os.path.join(self.work, name + ".pcap")
        self.concat(cap, files)
        t0 = time.monotonic()
        run = Run(self.reasm, cap, os.path.join(self.work, name), CORPUS_LCORES,
                  CORPUS_ARGS)
        self.secs["reasm"] = self.secs.get("reasm", 0.0) + time.monotonic() - t0
        return run

    def reasm_all(self, partition, pool):
        """({file: [conn records]}, [jsonl lines]) of every readable capture, or (None,
        None) when a run failed (reported). partition: groups of captures run together
        (no two sharing endpoints, as far as tshark knows)."""
        big = [f for f in self.files if any(len(d) > 262144 for d, _ in self.records[f])]
        if big:
            self.report.add("tcpdump.run", "records over 262144 bytes in %s: they cannot go "
                            "into one Ethernet capture" % big)
            return None, None
        fails, ids, alone = [], [], set()
        recs, objs = [], []

        def take(name, run, drop=()):
            """Keep the run's records (those of no capture in drop), ids made unique."""
            if not run.ok():
                fails.append("%s: %s" % (name, run.why_not()))
                return
            ids.extend("%s: %s" % (name, x) for x in ids_problems(run.recs, run.objs))
            c = run.summary["counters"]
            hit = {k: c[k] for k in LIMIT_COUNTERS if c.get(k)}
            m = re.search(r"^reasm: ports: .* (\d+) without mbuf", run.res.stdout, re.M)
            if m is None or int(m.group(1)):
                hit["without mbuf"] = m.group(1) if m else "no ports line"
            if hit:
                fails.append("%s: limits reached (raise CORPUS_ARGS): %s" % (name, hit))
            gone = {r["conn_id"] for r in run.recs if self.file_of(r["first_seen"]) in drop
                    or self.file_of(r["last_seen"]) in drop}
            for r in run.recs:
                if r["conn_id"] not in gone:
                    recs.append(dict(r, conn_id="%s@%s" % (r["conn_id"], name)))
            for o in run.objs:
                if o.get("conn_id") not in gone:
                    objs.append(dict(o, conn_id="%s@%s" % (o.get("conn_id"), name)))

        runs = list(pool.map(lambda ig: ("group%d" % ig[0], self.replay(
            "group%d" % ig[0], ig[1])), enumerate(partition)))
        for name, run in runs:
            # A record whose frames span captures (a 4-tuple in both that tshark did not
            # see): its first and last captures run again alone.
            span = set()
            for r in run.recs:
                a, b = self.file_of(r.get("first_seen")), self.file_of(r.get("last_seen"))
                if a is None or b is None:
                    fails.append("%s: a conn record of no capture: %s" % (name, r))
                elif a != b:
                    span.update((a, b))
            take(name, run, span)
            alone |= span
        for f in sorted(alone):
            take("alone-" + f, self.replay("alone-" + f, [f]))
        by_file = collections.defaultdict(list)
        for r in recs:
            by_file[self.file_of(r["first_seen"])].append(r)
        notes = ["%d captures (%d records) in %d runs, %d conn records, %d jsonl lines" % (
            len(self.files), sum(len(v) for v in self.records.values()),
            len(partition) + len(alone), len(recs), len(objs))]
        if alone:
            notes.append("run again alone (a connection carried over from another "
                         "capture): %s" % ", ".join(sorted(alone)))
        if self.unreadable:
            notes.append("%d captures libpcap cannot open: %s" % (
                len(self.unreadable), sorted(self.unreadable)))
        self.report.add("tcpdump.run", "\n".join(fails) or None, note="; ".join(notes))
        self.report.add("tcpdump.sums_equal_jsonl",
                        "\n".join(sums_problems(recs, objs)[:30]) or None)
        self.report.add("tcpdump.ids", "\n".join(ids[:30]) or None)
        hist = ["%s: %s" % (conn_label(r), why) for r in recs
                for why in [history_consistent({"history": ""}, r)] if why]
        self.report.add("tcpdump.history", "\n".join(hist[:30]) or None)
        return (None if fails else by_file), objs

    # ---- tshark --------------------------------------------------------------------

    def mergeable(self, files):
        """files without those mergecap (wiretap) cannot read: (readable, {file: why})."""
        out, bad = list(files), {}
        # capinfos reads them all in one go and names each one it cannot read.
        r = subprocess.run(["capinfos", "-c", "-M"] + [os.path.join(self.folder, f)
                                                       for f in out],
                           capture_output=True, text=True, errors="replace")
        for m in re.finditer(r'The file "([^"]+)"[^\n]*\n(\(.*\))?', r.stderr):
            name = os.path.basename(m.group(1))
            if name in out:
                bad[name] = (m.group(2) or "").strip("()")
                out.remove(name)
        while out:
            dst = os.path.join(self.work, "probe.pcapng")
            r = subprocess.run(["mergecap", "-a", "-I", "none", "-w", dst] +
                               [os.path.join(self.folder, f) for f in out],
                               capture_output=True, text=True, errors="replace")
            if r.returncode == 0:
                return out, bad, dst
            m = re.search(r'The file "([^"]+)"', r.stderr)
            name = os.path.basename(m.group(1)) if m else None
            if name not in out:
                raise RuntimeError("mergecap failed: %s" % r.stderr[-500:])
            bad[name] = " ".join(r.stderr.split("\n", 1)[-1].split())
            out.remove(name)
        return out, bad, None

    def tshark_group(self, files, merged):
        """{file: {stream: TsharkConv}} for the captures merged (in that order) in merged."""
        rows, err = tshark_frames(merged)
        if err:
            raise RuntimeError(err)
        per = collections.defaultdict(list)
        for row in rows:
            per[int(row["frame.interface_id"] or 0)].append(row)
        for i, f in enumerate(files):
            self.tshark_expert[f] = {n: row["_ws.expert.message"]
                                     for n, row in enumerate(per.get(i, []), 1)
                                     if "tcp" not in row["frame.protocols"].split(":")}
        return {f: tshark_conversations(per.get(i, [])) for i, f in enumerate(files)}, \
            {f: len(per.get(i, [])) for i, f in enumerate(files)}

    def tshark_all(self, pool):
        """A function returning ({file: {stream: TsharkConv}}, {file: frames tshark read},
        {file: why tshark cannot read it}) once the reads given to pool are done; sets
        self.partition: the captures in groups of which no two
        share endpoints (greedy, in order: nearly all in the first), and self.tangled: the
        captures that share endpoints with another one, which tshark reads again with
        their group."""
        t0 = time.monotonic()
        files, bad, merged = self.mergeable(self.files)
        convs, nframes = self.tshark_group(files, merged)
        owner = collections.defaultdict(set)
        for f, cs in convs.items():
            for c in cs.values():
                owner[c.ends].add(f)
        self.tangled = sorted({f for fs in owner.values() if len(fs) > 1 for f in fs})
        groups = []
        for f in self.files:
            mine = {c.ends for c in convs.get(f, {}).values()}
            for g in groups:
                if not mine & g[1]:
                    g[0].append(f)
                    g[1].update(mine)
                    break
            else:
                groups.append(([f], set(mine)))
        self.partition = [g for g, _ in groups]
        again = [[f for f in g if f in self.tangled] for g in self.partition]

        def read_again(i, gf):
            dst = os.path.join(self.work, "tangled%d.pcapng" % i)
            subprocess.run(["mergecap", "-a", "-I", "none", "-w", dst] +
                           [os.path.join(self.folder, f) for f in gf], check=True)
            return self.tshark_group(gf, dst)
        futs = [pool.submit(read_again, i, g) for i, g in enumerate(again) if g]

        def done():
            for fut in futs:
                c2, n2 = fut.result()
                convs.update(c2)
                nframes.update(n2)
            self.secs["tshark"] = time.monotonic() - t0
            return convs, nframes, bad
        return done

    # ---- comparing -----------------------------------------------------------------

    def compare(self, recs, ts):
        convs, nframes, tshark_bad = ts
        fails, excused, tally = [], collections.defaultdict(list), collections.Counter()
        other_links = collections.Counter()
        for f in self.files:
            mine = recs.get(f, [])
            theirs = convs.get(f, {})
            if self.dlt[f] != DLT_EN10MB:
                other_links["captures"] += 1
                other_links["tshark_convs"] += len(theirs)
                other_links["reasm_conns"] += len(mine)
                if f in tshark_bad:
                    other_links["tshark_cannot_read"] += 1
                tally["other_link_type"] += 1
                continue
            if f in tshark_bad:
                fails.append("%s: Ethernet, but tshark cannot read it: %s" % (f, tshark_bad[f]))
                continue
            if nframes.get(f) != len(self.records[f]):
                fails.append("%s: tshark read %s frames, libpcap %d records" % (
                    f, nframes.get(f), len(self.records[f])))
                continue
            r_by, t_by = collections.defaultdict(list), collections.defaultdict(list)
            for r in mine:
                r_by[ends_of(r)].append(r)
            for c in theirs.values():
                t_by[c.ends].append(c)
            why_file, bad = set(), []
            for ends in set(r_by) | set(t_by):
                rs, tc = r_by.get(ends, []), t_by.get(ends, [])
                if len(rs) == len(tc):
                    continue
                if not rs and tc and all(c.all_fragments for c in tc):
                    why_file.add("fragment")
                elif not rs and tc and all(c.undecoded for c in tc):
                    why_file.add("undecoded")
                    excused["undecoded_paths"].append(tc[0].undecoded)
                elif rs and not tc and all(self.tshark_stops(f, r) for r in rs):
                    why_file.add("tshark_stops")
                elif rs and len(tc) > len(rs):
                    why_file.add("tshark_splits")
                else:
                    bad.append("%s <-> %s: %d conn records (%s), %d tshark conversations "
                               "(frames %s)" % (
                                   "%s:%d" % ends[0], "%s:%d" % ends[1], len(rs),
                                   ", ".join("%s history %s frames %d-%d" % (
                                       r["conn_id"], r.get("history"),
                                       self.frame_of(r["first_seen"]),
                                       self.frame_of(r["last_seen"])) for r in rs),
                                   len(tc), ["%d-%d %s" % (c.frames[0], c.frames[-1],
                                                           sorted(c.paths)) for c in tc]))
            if bad:
                fails.append("%s: %d conn records, tshark %d conversations:\n    %s" % (
                    f, len(mine), len(theirs), "\n    ".join(bad)))
                tally["differ_unexplained"] += 1
            elif why_file:
                for w in why_file:
                    excused[w].append(f)
                tally["differ_excused"] += 1
            else:
                tally["agree_with_tcp" if theirs else "agree_no_tcp"] += 1
        note = ["Ethernet captures agreeing: %d with TCP, %d without" % (
            tally["agree_with_tcp"], tally["agree_no_tcp"])]
        for w in ("fragment", "undecoded", "tshark_stops", "tshark_splits"):
            if excused.get(w):
                note.append("differ, %s (%s): %s" % (
                    w, EXCUSES[w] % ("; ".join(sorted(set(excused["undecoded_paths"]))))
                    if w == "undecoded" else EXCUSES[w], ", ".join(sorted(excused[w]))))
        note.append("other link types, not compared: %d captures (tshark: %d TCP "
                    "conversations in them, %d it cannot read; reasm, taking them as "
                    "Ethernet: %d conn records)" % (
                        other_links["captures"], other_links["tshark_convs"],
                        other_links["tshark_cannot_read"], other_links["reasm_conns"]))
        if self.tangled:
            note.append("read apart by tshark (a conversation shared with another "
                        "capture): %d captures" % len(self.tangled))
        note.append("time: %s" % ", ".join("%s %.1fs" % kv for kv in self.secs.items()))
        self.tally = tally
        self.excused = excused
        self.report.add("tcpdump.conversations", "\n".join(fails[:40]) or None,
                        note="; ".join(note))
        print("tcpdump.conversations: " + "\n  ".join(note))

    def tshark_stops(self, f, r):
        """True when tshark does not dissect down to TCP in the first frame of record r,
        and its expert info says a length is 0."""
        info = self.tshark_expert.get(f, {}).get(self.frame_of(r["first_seen"]))
        return info is not None and re.search(r"Bad length value 0 |payload length equals 0",
                                              info) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    ap.add_argument("--work-dir", help="where captures and outputs go (default: a new "
                    "temporary folder, removed when every case passed)")
    ap.add_argument("--only", choices=("generated", "tcpdump"),
                    help="run only these cases")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_conn.xml")
    keep = args.work_dir is not None
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix="reasm_e2e_conn_")
    os.makedirs(args.work_dir, exist_ok=True)
    if not os.access(args.reasm, os.X_OK):
        report.add("reasm_present", "%s is not an executable" % args.reasm)
        return report.finish()
    g = Generated(args, report)
    why = sink_conn_support(g.reasm)
    if why is not None:
        report.cases.append(gtest.Case("sink_conn", skipped=why))
        print("skip   sink_conn: %s" % why)
        return report.finish_with_work_dir(args.work_dir, keep)
    t0 = time.monotonic()
    if args.only in (None, "generated"):
        for name, gen_args, seed, extra in CAPTURES:
            g.capture(name, gen_args, seed, extra)
        name, gen_args, seed, extra = FRAGMENTS
        why = defrag_support(g.reasm)
        if why is None:
            g.capture(name, gen_args, seed, extra)
        else:
            report.cases.append(gtest.Case(name, skipped=why))
            print("skip   %s: %s" % (name, why))
        g.community_seed("community_id_seed", ["--conns", "40"], 108)
        g.corners()
    t1 = time.monotonic()
    if args.only in (None, "tcpdump"):
        TcpdumpCorpus(args, report).run()
    print("generated captures %.1fs (reasm: %s); tcpdump corpus %.1fs" % (
        t1 - t0, ", ".join("%s %.1fs" % kv for kv in g.durations.items()),
        time.monotonic() - t1))
    return report.finish_with_work_dir(args.work_dir, keep)


if __name__ == "__main__":
    sys.exit(main())
