#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end check of the reasm library against gopacket tcpassembly on real captures.

Every Ethernet capture of the tcpdump test suite (REASM_SOURCE_DIR/../shared/captures/tcpdump,
see its README) is replayed twice:
  - through gopacket: tools/gopacket-ref, built here with Debian's Go packages
    (golang-go golang-github-google-gopacket-dev golang-golang-x-net-dev
    golang-golang-x-sys-dev), runs tcpassembly as a plain user would;
  - through reasm: tests/tools/pcap_replay feeds the frames as mbufs to
    reasm_assemble_burst.
Both print, per capture, one JSON line per stream direction (bytes delivered, records,
skips, start/end, SHA-256 of the bytes and of the records' len/skip/start/end/seen), sorted.
The outputs must be identical.

A capture known to differ for a reason documented in docs/gopacket-differences.md is
listed in tests/captures_gopacket_expected.txt; it passes only while it differs in exactly
the listed way.

Writes a googletest-style XML report, one <testcase> per capture, to the path in
$GTEST_OUTPUT ("xml:PATH"), so scripts/count-tests.py counts each capture as a case.
Exit status 1 if any case failed.
"""
import argparse
import difflib
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "scripts", "lib"))
from reasmkit import gopacket, gtest, pcap, shared_captures, source_dir  # noqa: E402

SUITE = "CapturesVsGopacket"
HERE = os.path.dirname(os.path.abspath(__file__))


def stream_key(line):
    """'src sport dst dport' of a JSON line."""
    try:
        d = json.loads(line)
        return "%s %s %s %s" % (d["src"], d["sport"], d["dst"], d["dport"])
    except (ValueError, KeyError):
        return None


def load_expected(path):
    """{file: {direction: reason}} from the expected-differences list."""
    expected = {}
    if not os.path.exists(path):
        return expected
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 4 or parts[2] != "absent" or not parts[3]:
                raise SystemExit("%s:%d: expected 'FILE | SRC SPORT DST DPORT | absent | REASON'"
                                 % (path, n))
            expected.setdefault(parts[0], {})[parts[1]] = parts[3]
    return expected


def compare(name, ref, got, expected):
    """Failure text, or None if the outputs agree (up to the expected differences)."""
    want = ref
    if expected:
        ref_keys = {stream_key(line) for line in ref}
        stale = [k for k in expected if k not in ref_keys]
        if stale:
            return ("expected-differences entry names stream directions gopacket does not "
                    "deliver: %s" % ", ".join(stale))
        want = [line for line in ref if stream_key(line) not in expected]
    if got == want:
        return None
    diff = list(difflib.unified_diff(want, got, "gopacket" + (" (less expected)" if expected else ""),
                                     "reasm", lineterm="", n=0))
    head = "%s: reasm and gopacket differ (%d lines from gopacket, %d from reasm)" % (
        name, len(want), len(got))
    if expected and got == ref:
        head = ("%s: now identical to gopacket: remove it from "
                "tests/captures_gopacket_expected.txt" % name)
    text = "\n".join(diff)
    if len(text) > 20000:
        text = text[:20000] + "\n... (cut)"
    return head + "\n" + text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replay", required=True, help="tests/tools/pcap_replay executable")
    ap.add_argument("--build-dir", required=True, help="where to build gopacket-ref")
    ap.add_argument("--captures", help="capture folder (default: "
                    "$REASM_SOURCE_DIR/../shared/captures/tcpdump)")
    ap.add_argument("--expected", default=os.path.join(HERE, "captures_gopacket_expected.txt"))
    ap.add_argument("--timeout", type=int, default=400, help="seconds per program")
    args = ap.parse_args()

    start = time.monotonic()
    report = gtest.output_path(os.path.join(args.build_dir, "gtest-captures_gopacket.xml"))
    captures = os.path.normpath(args.captures) if args.captures else shared_captures()

    def fail_setup(case, text):
        print("%s: %s" % (case, text), file=sys.stderr)
        gtest.write(report, SUITE, [(case, text)], time.monotonic() - start)
        return 1

    if not os.path.isdir(captures):
        return fail_setup("captures_present",
                          "capture folder %s is missing (the shared folder must sit next to "
                          "the repository, as ../shared)" % captures)
    files = sorted(os.path.join(captures, f) for f in os.listdir(captures)
                   if f.endswith(".pcap") and pcap.is_ethernet(os.path.join(captures, f)))
    if not files:
        return fail_setup("captures_present", "no Ethernet capture in %s" % captures)
    expected = load_expected(args.expected)
    for name in expected:
        if not os.path.exists(os.path.join(captures, name)):
            return fail_setup("expected_differences",
                              "%s lists %s, which is not a capture" % (args.expected, name))

    ref_exe, err = gopacket.build_reference(source_dir(), args.build_dir)
    if err:
        return fail_setup("gopacket_ref_build", err)

    ref, ref_crash = gopacket.run_sections([ref_exe], files, args.timeout)
    got, got_crash = gopacket.run_sections([os.path.abspath(args.replay)], files, args.timeout)

    cases = []
    streams = 0
    for path in files:
        name = os.path.basename(path)
        if path in ref_crash or path not in ref:
            failure = "gopacket-ref: " + ref_crash.get(path, "no output")
        elif path in got_crash or path not in got:
            failure = "pcap_replay: " + got_crash.get(path, "no output")
        else:
            failure = compare(name, ref[path], got[path], expected.get(name, {}))
            streams += len(ref[path])
        cases.append((name, failure))
    failed = [c for c in cases if c[1] is not None]
    gtest.write(report, SUITE, cases, time.monotonic() - start)
    for name, failure in failed:
        print("FAILED %s\n%s\n" % (name, failure))
    passed_expected = sum(1 for name, failure in cases if failure is None and name in expected)
    print("%d Ethernet captures, %d stream directions from gopacket: %d identical, "
          "%d with only the expected differences, %d failed (%.1fs)" % (
              len(cases), streams, len(cases) - len(failed) - passed_expected, passed_expected,
              len(failed), time.monotonic() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
