#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The appliance (build/app/reasm) against gopacket and tshark on real captures.

Every Ethernet capture of REASM_SOURCE_DIR/../shared/captures/tcpdump on which gopacket's
tcpassembly (tools/gopacket-ref) delivers at least one stream direction is replayed
through the appliance as a user would:

    reasm --no-huge -m 512 --no-pci --lcores (0-2)@(0,1) --vdev=net_pcap0,rx_pcap=FILE --
          --sink jsonl:OUT --sha256 --quiet --timeout 0 --pages-total 0 --pages-per-conn 0

(two workers: the main lcore spreads connections over them). Cases:

- gopacket.FILE: exit status 0, every jsonl line valid JSON, the summary's stream count
  and delivered bytes equal the jsonl's, and the jsonl's stream directions equal
  gopacket's as a multiset of (src, sport, dst, dport, bytes, sha256, skips,
  skip_unknown, skipped_bytes, start, end, records).
  DPDK 22.11's net_pcap cannot hand over a frame longer than 65,535 bytes intact (it
  copies caplen mod 65536 bytes but sets pkt_len to caplen); for a capture holding
  such a frame the output may instead equal gopacket's on that capture with those
  frames cut to caplen mod 65536 bytes, or without them: the case then passes with a
  note saying which.
- tshark.FILE, for the captures where every gopacket stream direction starts with its
  SYN and has no gap (skips == 0 and skip_unknown == 0): the bytes (count and SHA-256)
  of each direction that carried data equal what `tshark -z follow,tcp,raw,N` shows for
  it. Where tshark disagrees with reasm AND with gopacket, and tshark agrees once the
  payload dissector is turned off (--disable-protocol P, a Wireshark follow-stream
  quirk), the case passes with a note.

Writes a googletest-style XML report ($GTEST_OUTPUT, "xml:PATH"). Exit status 1 if any
case failed.
"""
import argparse
import json
from collections import Counter
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import (appliance, gopacket, gtest, pcap, shared_captures,  # noqa: E402
                      source_dir, tshark)

SUITE = "AppCaptures"
FIELDS = ("src", "sport", "dst", "dport", "bytes", "sha256", "skips", "skip_unknown",
          "skipped_bytes", "start", "end", "records")
APP_OPTS = ["--sha256", "--quiet", "--timeout", "0", "--pages-total", "0",
            "--pages-per-conn", "0"]
NET_PCAP_MAX = 65535


def project(objs, fields=FIELDS):
    return sorted(tuple(o.get(k) for k in fields) for o in objs)


def diff_text(want, got, want_name="gopacket", got_name="reasm"):
    """The multiset difference of two lists of tuples, readable."""
    cw, cg = Counter(want), Counter(got)
    only_want, only_got = sorted((cw - cg).elements()), sorted((cg - cw).elements())
    lines = ["%d directions from %s, %d from %s" % (len(want), want_name, len(got), got_name)]
    lines += ["  only %s: %s" % (want_name, x) for x in only_want[:40]]
    lines += ["  only %s: %s" % (got_name, x) for x in only_got[:40]]
    return "\n".join(lines)


def big_frame_views(path, tmpdir):
    """Copies of a capture as net_pcap may deliver its >65,535-byte frames, or None."""
    cap = pcap.read(path)
    if not any(r.caplen > NET_PCAP_MAX for r in cap.records):
        return None
    views = {}
    for kind in ("cut", "dropped"):
        out = os.path.join(tmpdir, "%s.%s.pcap" % (os.path.basename(path), kind))
        recs = []
        for r in cap.records:
            if r.caplen > NET_PCAP_MAX:
                if kind == "dropped":
                    continue
                r = r._replace(data=r.data[:r.caplen & 0xFFFF])
            recs.append(r)
        pcap.write_records(out, cap.header, cap.order, recs)
        views[kind] = out
    return views


def run_app(reasm, path, tmpdir, timeout):
    out = os.path.join(tmpdir, os.path.basename(path) + ".jsonl")
    if os.path.exists(out):
        os.unlink(out)
    res = reasm.run(["net_pcap0,rx_pcap=" + path], ["--sink", "jsonl:" + out] + APP_OPTS,
                    timeout)
    objs, errors = appliance.read_jsonl(out)
    return res, objs, errors


def check_gopacket(report, name, path, ref_lines, res, objs, errors, ref_exe, tmpdir):
    problems = []
    if res.rc != 0:
        problems.append("reasm did not exit 0: " + res.describe())
    problems += ["jsonl: " + e for e in errors]
    summary = appliance.parse_summary(res.stdout)
    if res.rc == 0:
        if summary is None:
            problems.append("no summary line in stdout:\n" + res.stdout[-2000:])
        else:
            if summary["streams"] != len(objs):
                problems.append("summary says %d streams, the jsonl has %d lines" % (
                    summary["streams"], len(objs)))
            total = sum(o.get("bytes", 0) for o in objs)
            why = appliance.bytes_conserved_problem(summary, objs)
            if why is not None:
                problems.append("bytes not conserved: " + why)
            if summary["delivered_bytes"] != total:
                problems.append("summary says %d bytes delivered, the jsonl %d" % (
                    summary["delivered_bytes"], total))
    ref = [json.loads(line) for line in ref_lines]
    want, got = project(ref), project(objs)
    if res.rc == 0 and not errors and want != got:
        views = big_frame_views(path, tmpdir)
        matched = None
        if views:
            vref, vcrash = gopacket.run_sections([ref_exe], list(views.values()), 120)
            for kind, vpath in views.items():
                if vpath in vref and project(json.loads(x) for x in vref[vpath]) == got:
                    matched = kind
                    break
        if matched:
            return report.add(name, None if not problems else "\n".join(problems), note=(
                "capture has frames over 65,535 bytes, which DPDK 22.11 net_pcap cannot "
                "deliver intact; reasm's output equals gopacket's on the capture with "
                "those frames %s" % ("cut to caplen mod 65536 bytes" if matched == "cut"
                                     else "left out")))
        problems.append("reasm and gopacket differ: " + diff_text(want, got))
    return report.add(name, "\n".join(problems) if problems else None)


def check_tshark(report, name, path, ref_lines, objs):
    """Compare directions that carried data: (src, sport, dst, dport, bytes, sha256)."""
    keys = FIELDS[:6]
    got = [x for x in project(objs, keys) if x[4] > 0]
    gop = [x for x in project([json.loads(line) for line in ref_lines], keys) if x[4] > 0]
    dirs, err = tshark.follow(path)
    if err:
        return report.add(name, err)
    ts = [x for x in project(dirs, keys) if x[4] > 0]
    if ts == got:
        return report.add(name)
    if got != gop:
        return report.add(name, "reasm differs from tshark AND from gopacket:\n%s\n%s" % (
            diff_text(ts, got, "tshark"), diff_text(gop, got, "gopacket")))
    # tshark alone disagrees: is it its payload dissector?
    for proto in tshark.payload_dissectors(path):
        dirs2, err2 = tshark.follow(path, ["--disable-protocol", proto])
        if err2 is None and [x for x in project(dirs2, keys) if x[4] > 0] == got:
            return report.add(name, None, note=(
                "tshark's follow output disagrees with gopacket and reasm (%s); with "
                "--disable-protocol %s tshark equals both: Wireshark's follow,tcp depends on "
                "that payload dissector" % (diff_text(ts, got, "tshark").replace("\n", ";"),
                                            proto)))
    return report.add(name, "tshark disagrees with reasm and gopacket (which agree), for no "
                      "known reason:\n" + diff_text(ts, got, "tshark"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    ap.add_argument("--build-dir", help="where to build gopacket-ref (default: next to the "
                    "XML report)")
    ap.add_argument("--captures", default=None)
    ap.add_argument("--timeout", type=int, default=60, help="seconds per reasm run")
    args = ap.parse_args()

    default_xml = os.path.join(args.build_dir or ".", "gtest-app_captures.xml")
    report = gtest.Report(SUITE, default_xml)
    build_dir = args.build_dir or os.path.dirname(os.path.abspath(report.path()))
    captures = args.captures or shared_captures()
    if not os.path.isdir(captures):
        report.add("captures_present", "capture folder %s is missing" % captures)
        return report.finish()
    files = sorted(os.path.join(captures, f) for f in os.listdir(captures)
                   if f.endswith(".pcap") and pcap.is_ethernet(os.path.join(captures, f)))
    ref_exe, err = gopacket.build_reference(source_dir(), build_dir, "gopacket-ref-e2e")
    if err:
        report.add("gopacket_ref_build", err)
        return report.finish()
    ref, ref_crash = gopacket.run_sections([ref_exe], files, 300)
    for f, why in sorted(ref_crash.items()):
        report.add("gopacket." + os.path.basename(f), "gopacket-ref: " + why)
    tcp = [f for f in files if ref.get(f) and not any('"error"' in x for x in ref[f])]
    if not report.check("captures_with_tcp_streams", len(tcp) >= 60,
                        "only %d Ethernet captures with TCP streams (expected about 70)"
                        % len(tcp)):
        return report.finish()
    have_tshark = tshark.available()
    report.check("tshark_present", have_tshark,
                 "tshark is not installed (scripts/test installs it: apt-get install tshark "
                 "with DEBIAN_FRONTEND=noninteractive)")

    reasm = appliance.Reasm(args.reasm, "cap")
    split, workers_seen = [], set()
    with tempfile.TemporaryDirectory(prefix="reasm_e2e_cap_") as tmpdir:
        for path in tcp:
            base = os.path.basename(path)
            res, objs, errors = run_app(reasm, path, tmpdir, args.timeout)
            by_conn = {}
            for o in objs:
                a, b = (o.get("src"), o.get("sport")), (o.get("dst"), o.get("dport"))
                by_conn.setdefault((min(a, b), max(a, b)), set()).add(o.get("worker"))
                workers_seen.add(o.get("worker"))
            split += ["%s: %s <-> %s on workers %s" % (base, k[0], k[1], sorted(v))
                      for k, v in by_conn.items() if len(v) > 1]
            check_gopacket(report, "gopacket." + base, path, ref[path], res, objs, errors,
                           ref_exe, tmpdir)
            clean = all(o["skips"] == 0 and o["skip_unknown"] == 0
                        for o in (json.loads(x) for x in ref[path]))
            if have_tshark and clean:
                if res.rc != 0 or errors:
                    report.add("tshark." + base, "no reasm output to compare (see gopacket.%s)"
                               % base)
                else:
                    check_tshark(report, "tshark." + base, path, ref[path], objs)
    report.check("both_directions_same_worker", not split,
                 lambda: "the symmetric hash sent the two directions of a connection to "
                 "different workers:\n" + "\n".join(split[:40]))
    report.equal("both_workers_used", workers_seen, {0, 1}, "workers named in the jsonl")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
