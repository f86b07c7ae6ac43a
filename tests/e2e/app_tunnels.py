#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Tunnelled and fragmented TCP through the appliance (build/app/reasm), byte-exact.

For each encapsulation kind of tests/gen/gencap.py's --encap (mpls, pppoe, ipip, gre,
gre-teb, erspan2, erspan3, vxlan, geneve, gtpu, nested: two stacked) separately, and one
capture mixing all of them, a small generated capture (24 connections, most of them
through the tunnel, some plain) is replayed through net_pcap with 1, 2 and 3 workers:

    reasm --no-huge -m 512 --no-pci --lcores (0-N)@(0,1) --vdev=net_pcap0,rx_pcap=CAP --
          --sink jsonl:OUT --sha256 --quiet --timeout 0 --pages-total 0 --pages-per-conn 0
          --pages 4096 --mbufs 8191 --max-conns 4096

Cases, per capture NAME:
- NAME.generator: gencap wrote it (its self-check passed) and every kind asked for was
  used;
- NAME.gopacket_agrees: tools/gopacket-ref prints the expected lines of every stream
  direction whose tunnel gopacket decodes (all but ERSPAN III, which gopacket 1.1.19 does
  not decode: a note says how many lines that leaves out), and nothing else (skipped
  without Go and gopacket);
- NAME.wN.matches_expected: exit 0 and the jsonl's stream directions equal gencap's
  expected file (keyed by the innermost IP addresses and TCP ports) as a multiset of
  (src, sport, dst, dport, bytes, records, skips, skip_unknown, skipped_bytes, start,
  end, sha256);
- NAME.wN.bytes_conserved: appliance.bytes_conserved_problem (summary and jsonl);
- NAME.wN.pkts_decap: the summary's pkts_decap equals the tunnelled TCP segments gencap
  sent (info["pkts_decap"]);
- NAME.seen_times: first_seen / last_seen of every direction (1 worker) as gencap's model;
- NAME.same_output_1_2_3_workers: the jsonl is the same for 1, 2 and 3 workers once
  "worker", "first_seen", "last_seen" are dropped.

fragments_dropped_today: every kind mixed, with --frag 0.25 --frag-outer 0.25 (inner
and outer IPv4/IPv6 fragments, out of order, duplicated, overlapping), replayed WITHOUT
--defrag with 1 and 3 workers: the output is gencap's --expected-no-defrag (fragmented
segments dropped), drop_ipv4_fragment + drop_ipv6_fragment equal the fragments sent (and
each its own family), pkts_decap the tunnelled segments sent whole; gopacket agrees.

tshark (IPv4 and IPv6 defragmentation on, as by default) follows the same bytes per
direction in it as in its twin capture without fragments
(fragments_dropped_today.tshark_reassembles_same_bytes; skipped without tshark).

fragments_reassembled_{inner,outer}: with --defrag (run only if `reasm -- --help`
mentions --defrag, else reported skipped with that reason), 1, 2 and 3 workers: the
output is gencap's expected file (every datagram reassembled, its segment delivered at
the time of the fragment that completed it), pkts_decap counts the reassembled tunnelled
segments too (info["pkts_decap_defrag"]), no fragment is dropped as such, and where the
summary has them defrag_fragments, defrag_datagrams, defrag_overlap_bytes (first copy
kept), defrag_timeouts (the groups of fragments sent after their datagram was complete,
dropped at the end) equal what gencap sent, defrag_conflict_bytes 0.
fragments_ip4defrag: the same with 1 worker, on a capture made for NAME.ip4defrag_agrees
(IPv4 connections, inner and outer fragments, duplicated and out of order, none
overlapping).

NAME.ip4defrag_agrees (the three captures with --defrag): tools/gopacket-ref -defrag
(gopacket's own ip4defrag before tcpassembly) prints gencap's expected line, and reasm
--defrag's first replay has the same stream directions (MODEL_KEYS), for every direction
gopacket's ip4defrag should reassemble as reasm does: directions without fragments, and
those whose fragments are IPv4 without the cases where ip4defrag 1.1.19 differs from RFC
791 (fragment_reasons(): IPv4 options in a fragment, a fragment under 8 bytes, fragments
overlapping at different offsets, DF set on a fragment). The note counts the lines
compared and, per reason, those left out (ERSPAN III and IPv6 fragments too: gopacket
decodes neither).

tcpdump.FILE.defrag_agrees, for each Ethernet capture of tcpdump's test suite
(REASM_SOURCE_DIR/../shared/captures/tcpdump) that carries TCP inside a tunnel or in IP
fragments (TCPDUMP_CAPTURES): reasm --defrag (1 worker) has gopacket-ref -defrag's stream
directions (MODEL_KEYS); the note says what the capture carries and reasm's pkts_decap and
defrag_* counters.

Usage: app_tunnels.py PATH/TO/reasm [--work-dir DIR] [--build-dir DIR]
Writes the report to $GTEST_OUTPUT ("xml:PATH"). Exit status 1 if any case failed.
"""
import collections
import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import (appliance, frames, gencap, gopacket, gtest, shared_captures,  # noqa: E402
                      source_dir, tshark)

SUITE = "AppTunnels"
RUN_TIMEOUT = 60
WORKERS = [(1, "(0-1)@(0,1)"), (2, "(0-2)@(0,1)"), (3, "(0-3)@(0,1)")]
APP_ARGS = ["--sha256", "--quiet", "--timeout", "0", "--pages-total", "0",
            "--pages-per-conn", "0", "--pages", "4096", "--mbufs", "8191",
            "--max-conns", "4096"]
DEFRAG_ARGS = ["--defrag"]
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
PER_RUN_KEYS = ("worker", "first_seen", "last_seen")
GEN = ["--conns", "24", "--concurrency", "8", "--p-big", "0.05", "--p-encap", "0.85"]
# (name, gencap options, seed)
CAPTURES = [(k, ["--encap", k], 11 + i) for i, k in enumerate(gencap.ENCAP_KINDS)] + [
    ("mixed", ["--encap", "all", "--conns", "40"], 40)]
FRAG_TODAY = ("fragments_dropped_today",
              ["--encap", "all", "--p-encap", "0.7", "--conns", "30", "--frag", "0.25",
               "--frag-outer", "0.25"], 50)
FRAG_DEFRAG = [
    ("fragments_reassembled_inner",
     ["--encap", "all", "--p-encap", "0.6", "--conns", "30", "--frag", "0.3"], 60),
    ("fragments_reassembled_outer",
     ["--encap", "ipip,gre,gre-teb,erspan2,vxlan,geneve,gtpu,nested", "--p-encap", "0.9",
      "--conns", "30", "--frag-outer", "0.35"], 61),
]
# For NAME.ip4defrag_agrees: IPv4 connections only, inner and outer fragments, duplicates and
# reordering but no overlap (ip4defrag miscounts overlapping fragments); replayed with 1 worker.
FRAG_IP4DEFRAG = ("fragments_ip4defrag",
                  ["--encap", "all", "--ipv6", "0", "--p-encap", "0.7", "--conns", "40",
                   "--frag", "0.08", "--frag-outer", "0.08", "--frag-overlap", "0"], 62)
# Why a stream direction is left out of NAME.ip4defrag_agrees, in the order a direction is
# counted under (a direction may have several reasons): see fragment_reasons().
IP4DEFRAG_PITFALLS = (
    ("erspan3", "in ERSPAN III (gopacket does not decode it)"),
    ("ipv6", "with IPv6 fragments (gopacket has no IPv6 defragmenter)"),
    ("options", "with IPv4 options in a fragment (ip4defrag's length arithmetic takes "
     "every IPv4 header as 20 bytes: the datagram never completes)"),
    ("small", "with a fragment under 8 bytes (ip4defrag rejects it: 'fragment too small')"),
    ("overlap", "with overlapping fragments at different offsets (ip4defrag counts their "
     "bytes twice: the datagram never completes, or is built wrong)"),
    ("df", "with DF set on a fragment (ip4defrag leaves it alone)"),
)
# The Ethernet captures of tcpdump's test suite (shared_captures()) that carry TCP inside a
# tunnel or in IP fragments (found with tshark, gopacket and reasm's pkts_decap /
# defrag_fragments over all 829 captures; the PPP ones, bgp_vpn_attrset.pcap and
# lspping-fec-ldp.pcap, are not Ethernet: neither side reads them): replayed through reasm
# --defrag and gopacket-ref -defrag, for tcpdump.FILE.defrag_agrees.
TCPDUMP_CAPTURES = (
    ("geneve.pcap", "TCP in Geneve"),
    ("geneve-gcp.pcap", "one TCP segment in Geneve, no payload: no stream"),
    ("gso-ipv4-geneve-ipv4.pcap", "a GSO TCP segment in Geneve"),
    ("gso-ipv4-geneve-ipv6.pcap", "a GSO TCP segment in Geneve"),
    ("gso-ipv4-vxlan-ipv4.pcap", "a GSO TCP segment in VXLAN"),
    ("gso-ipv4-vxlan-ipv6.pcap", "a GSO TCP segment in VXLAN"),
    ("gso-ipv6-geneve-ipv4.pcap", "a GSO TCP segment in Geneve"),
    ("gso-ipv6-geneve-ipv6.pcap", "a GSO TCP segment in Geneve"),
    ("gso-ipv6-vxlan-ipv4.pcap", "a GSO TCP segment in VXLAN"),
    ("gso-ipv6-vxlan-ipv6.pcap", "a GSO TCP segment in VXLAN"),
    ("bigtcp-ipv4-geneve-ipv4.pcap", "a BIG TCP segment (80 KB frame) in Geneve"),
    ("bigtcp-ipv4-vxlan-ipv4.pcap", "a BIG TCP segment (80 KB frame) in VXLAN"),
    ("wccp_redirect_gre.pcap", "TCP in GRE behind a WCCP redirect header (0x883e): "
     "neither follows it"),
    ("sflow_expanded.pcap", "TCP in an sFlow sample: neither decodes it"),
    ("bgp_pmsi_tunnel-oobr.pcap", "a first IPv4 fragment of TCP, DF and MF set"),
    ("rpki-rtr-oobr.pcap", "a first IPv4 fragment of TCP, DF and MF set"),
    ("bgp-bgp_capabilities_print-oobr-1.pcap", "a first IPv4 fragment of TCP, DF and MF set"),
    ("bgp-bgp_capabilities_print-oobr-2.pcap", "a first IPv4 fragment of TCP, DF and MF set"),
)


def multiset_of(rows, keys=MODEL_KEYS):
    return appliance.multiset(rows, keys)


def strip(rows):
    return sorted(json.dumps({k: v for k, v in r.items() if k not in PER_RUN_KEYS},
                             sort_keys=True) for r in rows)


def load_expected(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def counters_text(summary, prefixes=("pkts", "drop_", "defrag_")):
    return " ".join("%s=%d" % kv for kv in sorted(summary["counters"].items())
                    if kv[0].startswith(prefixes))


class Run:
    """One replay: result, summary (None if none), jsonl objects and their errors."""

    def __init__(self, reasm, cap, jsonl, lcores, extra=()):
        if os.path.exists(jsonl):
            os.unlink(jsonl)
        t0 = time.monotonic()
        self.res = reasm.run(["net_pcap0,rx_pcap=" + cap],
                             ["--sink", "jsonl:" + jsonl] + APP_ARGS + list(extra),
                             RUN_TIMEOUT, lcores=lcores)
        self.secs = time.monotonic() - t0
        self.summary = appliance.parse_summary(self.res.stdout)
        self.objs, self.errors = appliance.read_jsonl(jsonl)

    def ok(self):
        return self.res.rc == 0 and self.summary is not None and not self.errors

    def why_not(self):
        return "%s\n%s" % ("\n".join(self.errors[:5]), self.res.describe())

    def ctr(self, name):
        return self.summary["counters"].get(name, 0)


class Tunnels:
    def __init__(self, args, report):
        self.report = report
        self.reasm = appliance.Reasm(args.reasm, "tun")
        self.work = args.work_dir
        self.build_dir = args.build_dir
        self.ref = None
        self.defrag = None
        self.durations = {}
        self.gen_argv = {}

    # ---- set-up ---------------------------------------------------------------

    def gopacket_ref(self):
        if self.ref is None:
            self.ref = gopacket.build_reference_if_installed(source_dir(), self.build_dir,
                                                             "gopacket-ref-tunnels")
        return self.ref

    def defrag_support(self):
        """None when reasm has --defrag, else why the defragmentation cases are skipped."""
        if self.defrag is None:
            res = self.reasm.run([], ["--help"], 30, lcores="(0-1)@(0,1)")
            text = res.stdout + res.stderr
            if "--defrag" in text:
                self.defrag = ""
            else:
                self.defrag = ("`reasm -- --help` does not mention --defrag: this reasm does "
                               "not reassemble IP fragments yet")
        return self.defrag or None

    # ---- one capture ----------------------------------------------------------

    def generate(self, name, gen_args, seed):
        cap = os.path.join(self.work, name + ".pcap")
        args = ["-o", cap, "--seed", str(seed)] + GEN + gen_args
        if "--frag" in gen_args or "--frag-outer" in gen_args:
            args += ["--expected-no-defrag", os.path.join(self.work, name + ".nd.jsonl")]
        self.gen_argv[name] = args
        try:
            info = gencap.generate_files(args)
        except Exception as e:  # the generator's self-check, or a bug in it
            self.report.add(name + ".generator", "gencap %s: %s: %s" % (
                " ".join(args), type(e).__name__, e))
            return None
        kinds = gencap.parse_encap(gen_args[gen_args.index("--encap") + 1])
        unused = [k for k in set(kinds) - {"none"} if k not in info["encap"]]
        self.report.check(name + ".generator", not unused,
                          "kinds asked for but given no connection: %s" % unused,
                          note="%d connections, %d frames (largest %d bytes), %d directions, "
                          "%d self-checked; %s" % (
                              info["connections"], info["packets"], info["max_frame"],
                              info["streams"], info["self_checked"], encap_summary(info)))
        return info

    def check_gopacket(self, name, info, expected_path, line_stacks):
        case = name + ".gopacket_agrees"
        exe, why = self.gopacket_ref()
        if exe is None:
            self.report.cases.append(gtest.Case(case, skipped=why))
            print("skip   %s: %s" % (case, why))
            return
        try:
            r = subprocess.run([exe, info["pcap"]], capture_output=True, text=True,
                               timeout=120)
        except subprocess.TimeoutExpired:
            self.report.add(case, "gopacket-ref timed out")
            return
        ref = collections.Counter(x for x in r.stdout.splitlines() if not x.startswith("# "))
        want = collections.Counter(line for line, st in line_stacks
                                   if not any(b in st for b in gencap.GOPACKET_BLIND))
        blind = sum(1 for _, st in line_stacks if any(b in st for b in gencap.GOPACKET_BLIND))
        with open(expected_path, encoding="utf-8") as f:
            in_file = collections.Counter(f.read().splitlines())
        if in_file != collections.Counter(line for line, _ in line_stacks):
            self.report.add(case, "gencap's info does not describe %s" % expected_path)
            return
        note = "%d of %d lines compared" % (sum(want.values()), sum(in_file.values()))
        if blind:
            note += " (%d of ERSPAN III tunnels left out: gopacket does not decode it)" % blind
        fail = None
        if r.returncode != 0 or ref != want:
            fail = "gopacket-ref (exit %d) and gencap's expectation differ: %d lines only in " \
                   "gencap, %d only in gopacket, e.g.\ngencap:   %s\ngopacket: %s" % (
                       r.returncode, sum((want - ref).values()), sum((ref - want).values()),
                       "\n          ".join(list((want - ref).elements())[:4]),
                       "\n          ".join(list((ref - want).elements())[:4]))
        self.report.add(case, fail, note=None if fail else note)
        return

    def replays(self, name, info, expected_path, workers, extra=(), decap_key="pkts_decap",
                frag_check=None):
        """Replays with each (n, lcores) of workers; the per-run and across-run checks
        against the expected file expected_path (info["expected"], or
        info["expected_no_defrag"])."""
        expected = load_expected(expected_path)
        rows = info["rows"] if expected_path == info["expected"] else info["rows_no_defrag"]
        rows_by_n = {}
        cap = info["pcap"]
        for n, lcores in workers:
            run = Run(self.reasm, cap, os.path.join(self.work, "%s.w%d.jsonl" % (name, n)),
                      lcores, extra)
            self.durations[name] = self.durations.get(name, 0.0) + run.secs
            pre = "%s.w%d." % (name, n)
            if not run.ok():
                self.report.add(pre + "matches_expected", "the run failed: " + run.why_not())
                continue
            rows_by_n[n] = run.objs
            self.report.add(pre + "matches_expected", appliance.multiset_diff(
                multiset_of(expected), multiset_of(run.objs), MODEL_KEYS, "gencap", "reasm"))
            why = appliance.bytes_conserved_problem(run.summary, run.objs)
            self.report.check(pre + "bytes_conserved", why is None, lambda: why)
            got, want = run.ctr("pkts_decap"), info[decap_key]
            self.report.check(pre + "pkts_decap", got == want,
                              lambda: "pkts_decap %d, gencap sent %d tunnelled TCP segments "
                              "(%s); counters: %s" % (got, want, decap_key,
                                                      counters_text(run.summary)))
            if frag_check is not None:
                frag_check(pre, run)
        if 1 in rows_by_n:
            seen_keys = MODEL_KEYS + ["first_seen", "last_seen"]
            self.report.add(name + ".seen_times", appliance.multiset_diff(
                multiset_of(rows, seen_keys), multiset_of(rows_by_n[1], seen_keys), seen_keys,
                "gencap", "reasm"))
        if len(rows_by_n) == len(workers) and len(workers) > 1:
            base_n = min(rows_by_n)
            base = strip(rows_by_n[base_n])
            fails = []
            for n, rows in sorted(rows_by_n.items()):
                if strip(rows) != base:
                    fails.append(appliance.multiset_diff(multiset_of(rows_by_n[base_n]), multiset_of(rows),
                                               MODEL_KEYS, "%d worker(s)" % base_n,
                                               "%d workers" % n) or
                                 "%d workers: same streams, other keys differ" % n)
            self.report.add("%s.same_output_%s_workers" % (
                name, "_".join(str(n) for n, _ in workers)), "\n".join(fails) or None)
        return rows_by_n

    def capture(self, name, gen_args, seed):
        info = self.generate(name, gen_args, seed)
        if info is None:
            return
        self.check_gopacket(name, info, info["expected"], info["line_stacks"])
        self.replays(name, info, info["expected"], WORKERS)

    def fragments_today(self, name, gen_args, seed):
        info = self.generate(name, gen_args, seed)
        if info is None:
            return
        fr = info["frag"]
        self.check_gopacket(name, info, info["expected_no_defrag"],
                            info["line_stacks_no_defrag"])

        def frag_check(pre, run):
            got = (run.ctr("drop_ipv4_fragment"), run.ctr("drop_ipv6_fragment"))
            want = (fr.get("fragments_ipv4", 0), fr.get("fragments_ipv6", 0))
            self.report.check(pre + "fragments_dropped", got == want and sum(want) > 0,
                              lambda: "drop_ipv4_fragment, drop_ipv6_fragment = %s, gencap "
                              "sent %s fragments (IPv4, IPv6); counters: %s" % (
                                  got, want, counters_text(run.summary)))
        self.replays(name, info, info["expected_no_defrag"], [WORKERS[0], WORKERS[2]],
                     frag_check=frag_check)
        self.tshark_same_bytes(name, info, gen_args, seed)

    def tshark_same_bytes(self, name, info, gen_args, seed):
        """tshark, which reassembles IPv4 and IPv6 fragments and decodes every tunnel kind,
        follows the same bytes per stream direction in the fragmented capture as in its
        twin without --frag / --frag-outer (same seed: same traffic, same tunnels): the
        fragments hold the right bytes at the right offsets."""
        case = name + ".tshark_reassembles_same_bytes"
        if not tshark.available():
            self.report.cases.append(gtest.Case(case, skipped="tshark is not installed"))
            print("skip   %s: tshark is not installed" % case)
            return
        twin_args, skip = [], False
        for a in gen_args:
            if skip:
                skip = False
            elif a in ("--frag", "--frag-outer"):
                skip = True
            else:
                twin_args.append(a)
        twin = os.path.join(self.work, name + ".twin.pcap")
        gencap.generate_files(["-o", twin, "--seed", str(seed)] + GEN + twin_args)
        keys = ("src", "sport", "dst", "dport", "bytes", "sha256")
        got, err = tshark.follow(info["pcap"], timeout=120)
        want, err2 = tshark.follow(twin, timeout=120)
        if err or err2:
            self.report.add(case, err or err2)
            return
        self.report.add(case, appliance.multiset_diff(multiset_of(want, keys), multiset_of(got, keys),
                                            list(keys), "tshark unfragmented",
                                            "tshark fragmented"),
                        note="%d directions" % len(got))

    def tcpdump_captures(self):
        """tcpdump.FILE.defrag_agrees for each TCPDUMP_CAPTURES FILE: reasm --defrag (1
        worker) has the stream directions (MODEL_KEYS) gopacket-ref -defrag prints; the note
        says what the capture carries, reasm's decapsulation and defragmentation counters,
        and whether gopacket-ref without -defrag differs (it should not: no fragment of TCP
        there completes a datagram)."""
        folder = shared_captures()
        exe, why = self.gopacket_ref()
        if why is None and self.defrag_support() is not None:
            why = self.defrag_support()
        if why is None and not os.path.isdir(folder):
            why = "capture folder %s is missing" % folder
        if why is not None:
            for f, _ in TCPDUMP_CAPTURES:
                self.report.cases.append(gtest.Case("tcpdump.%s.defrag_agrees" % f,
                                                    skipped=why))
            print("skip   tcpdump.*.defrag_agrees: %s" % why)
            return
        paths = [os.path.join(folder, f) for f, _ in TCPDUMP_CAPTURES]
        ref_d, crash_d = gopacket.run_sections([exe, "-defrag"], paths, 120)
        ref_p, _ = gopacket.run_sections([exe], paths, 120)
        for (f, what), path in zip(TCPDUMP_CAPTURES, paths):
            case = "tcpdump.%s.defrag_agrees" % f
            if not os.path.exists(path):
                self.report.add(case, "%s is missing" % path)
                continue
            if path in crash_d:
                self.report.add(case, "gopacket-ref -defrag: " + crash_d[path])
                continue
            run = Run(self.reasm, path, os.path.join(self.work, "tcpdump-%s.jsonl" % f),
                      WORKERS[0][1], DEFRAG_ARGS)
            self.durations["tcpdump"] = self.durations.get("tcpdump", 0.0) + run.secs
            if not run.ok():
                self.report.add(case, "the run failed: " + run.why_not())
                continue
            ref = [json.loads(x) for x in ref_d[path]]
            ctrs = " ".join("%s=%d" % kv for kv in sorted(run.summary["counters"].items())
                            if kv[1] and kv[0].startswith(("pkts_decap", "defrag_",
                                                           "drop_ipv4_fragment",
                                                           "drop_ipv6_fragment")))
            note = "%s; %d direction(s); %s" % (what, len(ref), ctrs or "reasm counted no "
                                              "decapsulated segment and no fragment")
            if path in ref_p and ref_p[path] != ref_d[path]:
                note += "; gopacket-ref without -defrag differs"
            self.report.add(case, appliance.multiset_diff(multiset_of(ref), multiset_of(run.objs), MODEL_KEYS,
                                                "gopacket -defrag", "reasm --defrag"),
                            note=note)

    def fragments_reassembled(self, name, gen_args, seed, workers=WORKERS):
        why = self.defrag_support()
        if why is not None:
            self.report.cases.append(gtest.Case(name, skipped=why))
            print("skip   %s: %s" % (name, why))
            return
        info = self.generate(name, gen_args, seed)
        if info is None:
            return
        fr = info["frag"]
        datagrams = fr.get("datagrams_inner", 0) + fr.get("datagrams_outer", 0)

        def frag_check(pre, run):
            drops = run.ctr("drop_ipv4_fragment") + run.ctr("drop_ipv6_fragment")
            c = run.summary["counters"]
            probs = []
            if drops:
                probs.append("%d fragments dropped as fragments with --defrag" % drops)
            if "defrag_fragments" in c and c["defrag_fragments"] != fr["fragments"]:
                probs.append("defrag_fragments %d, gencap sent %d fragments" % (
                    c["defrag_fragments"], fr["fragments"]))
            if "defrag_fragments" in c:
                for ctr, want, what in (
                        ("defrag_datagrams", datagrams, "datagrams in fragments"),
                        ("defrag_overlap_bytes", fr.get("overlap_bytes", 0),
                         "fragment bytes already held (duplicates, overlaps)"),
                        ("defrag_conflict_bytes", 0, "conflicting bytes"),
                        ("defrag_timeouts", fr.get("stale_datagrams", 0),
                         "datagrams left incomplete by fragments sent after their datagram "
                         "was complete")):
                    if c.get(ctr, 0) != want:
                        probs.append("%s %d, gencap sent %d %s" % (ctr, c.get(ctr, 0), want,
                                                                    what))
            self.report.check(pre + "fragments_reassembled", not probs,
                              lambda: "; ".join(probs) + "; counters: " +
                              counters_text(run.summary),
                              note="%d datagrams in %d fragments (%d sent after their "
                              "datagram was complete); %s" % (
                                  datagrams, fr["fragments"], fr.get("stale_fragments", 0),
                                  counters_text(run.summary, ("defrag_",))))
        rows_by_n = self.replays(name, info, info["expected"], workers, DEFRAG_ARGS,
                                 decap_key="pkts_decap_defrag", frag_check=frag_check)
        self.check_ip4defrag(name, info, rows_by_n.get(min(n for n, _ in workers)))

    def check_ip4defrag(self, name, info, reasm_rows):
        """NAME.ip4defrag_agrees: gopacket-ref -defrag (gopacket's ip4defrag before
        tcpassembly) prints gencap's expected line, and reasm --defrag (its first replay)
        the same stream directions (MODEL_KEYS), for every direction that carried no
        fragment or only IPv4 fragments ip4defrag reassembles as reasm does (not in ERSPAN
        III; see fragment_reasons() for the others, each counted in the note)."""
        case = name + ".ip4defrag_agrees"
        exe, why = self.gopacket_ref()
        if exe is None:
            self.report.cases.append(gtest.Case(case, skipped=why))
            print("skip   %s: %s" % (case, why))
            return
        if reasm_rows is None:
            self.report.add(case, "no reasm output to compare (see %s.w*.matches_expected)"
                            % name)
            return
        try:
            reasons = fragment_reasons(self.gen_argv[name])
        except Exception as e:  # gencap's internals changed
            self.report.add(case, "could not tell which directions carried which fragments: "
                            "%s: %s" % (type(e).__name__, e))
            return
        try:
            r = subprocess.run([exe, "-defrag", info["pcap"]], capture_output=True, text=True,
                               timeout=120)
        except subprocess.TimeoutExpired:
            self.report.add(case, "gopacket-ref -defrag timed out")
            return
        if r.returncode != 0:
            self.report.add(case, "gopacket-ref -defrag exit status %d:\n%s" % (
                r.returncode, r.stderr[-2000:]))
            return

        def key(o):
            return (o["src"], o["sport"], o["dst"], o["dport"])
        left_out = collections.Counter()
        compared, with_frags = set(), 0
        for line, stack in info["line_stacks"]:
            k = key(json.loads(line))
            why = reasons.get(k, set()) | ({"erspan3"} if any(
                b in stack for b in gencap.GOPACKET_BLIND) else set())
            bad = [p for p, _ in IP4DEFRAG_PITFALLS if p in why]
            if bad:
                left_out[bad[0]] += 1
            else:
                compared.add(k)
                with_frags += k in reasons
        want = collections.Counter(line for line, _ in info["line_stacks"]
                                   if key(json.loads(line)) in compared)
        ref_lines = [x for x in r.stdout.splitlines() if not x.startswith("# ")]
        ref = collections.Counter(x for x in ref_lines if key(json.loads(x)) in compared)
        fails = []
        if ref != want:
            fails.append("gopacket-ref -defrag and gencap's expectation differ: %d lines only "
                         "in gencap, %d only in gopacket, e.g.\ngencap:   %s\ngopacket: %s" % (
                             sum((want - ref).values()), sum((ref - want).values()),
                             "\n          ".join(list((want - ref).elements())[:4]),
                             "\n          ".join(list((ref - want).elements())[:4])))
        got = [o for o in reasm_rows if key(o) in compared]
        diff = appliance.multiset_diff(multiset_of(json.loads(x) for x in ref.elements()), multiset_of(got),
                             MODEL_KEYS, "gopacket -defrag", "reasm --defrag")
        if diff:
            fails.append(diff)
        known = {key(json.loads(line)) for line, _ in info["line_stacks"]}
        strays = sum(1 for x in ref_lines if key(json.loads(x)) not in known)
        note = "%d of %d lines compared (%d with IPv4 fragments, %d without fragments)" % (
            sum(want.values()), len(info["line_stacks"]), with_frags,
            sum(want.values()) - with_frags)
        parts = ["%d %s" % (left_out[p], text) for p, text in IP4DEFRAG_PITFALLS
                 if left_out[p]]
        if parts:
            note += "; left out: " + "; ".join(parts)
        if strays:
            note += "; gopacket -defrag also printed %d lines for directions gencap does not " \
                    "have (datagrams ip4defrag built wrong)" % strays
        self.report.add(case, "\n".join(fails) or None, note=note)


def _ipv4_fragment_at(frame, src, dst):
    """The first IPv4 header of frame from src to dst that is a fragment (MF or an offset)
    with a valid checksum, as (header length, payload length, identification, offset,
    DF set), or None."""
    pat = frames.addr(src) + frames.addr(dst)
    at = frame.find(pat)
    while at >= 0:
        p = at - 12
        if p >= 14 and frame[p] >> 4 == 4 and frame[p] & 15 >= 5:
            hl = (frame[p] & 15) * 4
            tot, ident, fl = struct.unpack_from("!HHH", frame, p + 2)
            if (fl & 0x3FFF) and hl <= tot and p + tot <= len(frame) and \
                    frames.csum(frame[p:p + hl]) == 0:
                return hl, tot - hl, ident, (fl & 0x1FFF) * 8, bool(fl & 0x4000)
        at = frame.find(pat, at + 1)
    return None


def fragment_reasons(argv):
    """What the fragments of each stream direction of the capture gencap makes with argv
    were, as {(src, sport, dst, dport): set}, directions without fragments left out:
    "ipv6" (IPv6 fragments), "ipv4" (IPv4 fragments), and for IPv4 what gopacket's ip4defrag
    (1.1.19) does not reassemble as RFC 791 (and reasm) does: "options" (IPv4 options in a
    fragment: it counts every header as 20 bytes), "small" (a fragment of under 8 bytes: it
    rejects it), "overlap" (fragments at different offsets overlapping: it counts their
    bytes twice), "df" (DF set on a fragment: it leaves it alone, and gopacket decodes it as
    a fragment). Duplicates at the same offset it ignores, as reasm keeps the first copy.
    A datagram of several fragments is judged as a whole, fragments sent after it was
    complete included. gencap makes the frames again in memory (the same seed: the same
    frames) and says per frame which connection, direction and layer ("inner", "outer")
    it fragmented; the fragment's header is found in the frame by its addresses."""
    opts = gencap.parse_args(argv)
    res = gencap.run_all(opts)
    out = collections.defaultdict(set)
    datagrams = collections.defaultdict(list)
    for (_, frame), (conn, how, seg) in zip(res.frames, res.meta):
        if how == "plain":
            continue
        key, d = conn.key(seg.dir), seg.dir
        if how == "inner":
            v6 = conn.v6
            src, _, dst, _ = conn.endpoint(d)
        else:
            layer = conn.tunnel.layers[conn.tunnel.outer]
            v6 = layer.outer_v6
            src, dst = layer.ends_of(d)[:2]
        if v6:
            out[key].add("ipv6")
            continue
        h = _ipv4_fragment_at(frame, src, dst)
        if h is None:
            raise ValueError("no IPv4 fragment from %s to %s in a frame gencap fragmented "
                             "(%s) for %s" % (src, dst, how, key))
        datagrams[(key, str(src), str(dst), h[2])].append(h)
    for (key, _, _, _), frags in datagrams.items():
        out[key].add("ipv4")
        if any(hl != 20 for hl, _, _, _, _ in frags):
            out[key].add("options")
        if any(n < 8 for _, n, _, _, _ in frags):
            out[key].add("small")
        if any(df for _, _, _, _, df in frags):
            out[key].add("df")
        spans = sorted({(off, off + n) for _, n, _, off, _ in frags})
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
            out[key].add("overlap")
    return dict(out)


def encap_summary(info):
    parts = []
    for kind, e in sorted(info.get("encap", {}).items()):
        parts.append("%s: %d connections, %d directions, %d tunnelled segments" % (
            kind, e["connections"], e["directions"], e["segments"]))
    fr = info.get("frag", {})
    if fr.get("fragments"):
        parts.append("%d fragments of %d inner + %d outer datagrams" % (
            fr["fragments"], fr.get("datagrams_inner", 0), fr.get("datagrams_outer", 0)))
    return "; ".join(parts)


def main():
    args, report, keep = gtest.appliance_e2e_start(__doc__, SUITE, "gtest-app_tunnels.xml",
                                                   "reasm_e2e_tun_")
    if report.failed_to_start:
        return report.finish()
    t = Tunnels(args, report)
    for name, gen_args, seed in CAPTURES:
        t.capture(name, gen_args, seed)
    t.fragments_today(*FRAG_TODAY)
    for name, gen_args, seed in FRAG_DEFRAG:
        t.fragments_reassembled(name, gen_args, seed)
    t.fragments_reassembled(*FRAG_IP4DEFRAG, workers=[WORKERS[0]])
    t.tcpdump_captures()
    print("reasm run time per capture: %s" % ", ".join(
        "%s %.1fs" % kv for kv in t.durations.items()))
    return report.finish_with_work_dir(args.work_dir, keep)


if __name__ == "__main__":
    sys.exit(main())
