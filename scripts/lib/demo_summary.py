#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The one-screen summary that ends scripts/run-demo.

Reads the jsonl sink reasm wrote (one object per stream direction) and prints: stream
directions, bytes delivered, stream directions with skips and the skipped bytes by cause,
starts unseen, and where the outputs are. When the capture has a sibling expected file
(CAPTURE without .pcap, plus .expected.jsonl, as tests/gen/gencap.py writes one), it also
compares reasm's jsonl with it per stream direction (unless reasm's console output, --log,
shows the replay was stopped early), as tests/e2e/run_e2e.py does: the
direction's 4-tuple, then bytes, records, skips, skip_unknown, skipped_bytes, start, end
and sha256; a reused 4-tuple gives several directions, matched as a multiset.

Usage: demo_summary.py STREAMS_JSONL [--capture PCAP] [--files DIR] [--log FILE]
Exit status: 0, 1 if the comparison found a mismatch, 2 if the jsonl cannot be read.
Python 3 standard library only.
"""
import argparse
import collections
import json
import os
import sys

FLOW = ("src", "sport", "dst", "dport")
COMPARED = ("bytes", "records", "skips", "skip_unknown", "skipped_bytes", "start", "end",
            "sha256")
CAUSES = [  # (jsonl key in skipped_by_cause, what it means)
    ("flush_all", "holes (lost or uncaptured segments) skipped at the final flush"),
    ("flush", "holes skipped when a stream went idle (--timeout)"),
    ("page_limit", "--pages-per-conn reached"),
    ("total_limit", "--pages-total reached"),
    ("no_page", "page mempool empty"),
]


def load_jsonl(path):
    """The objects of a JSON-lines file, in file order."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def num(n):
    return "{:,}".format(n)


def endpoint(addr, port):
    return "[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port)


def flow_name(row):
    return "%s -> %s" % (endpoint(row["src"], row["sport"]), endpoint(row["dst"], row["dport"]))


def expected_path(capture):
    """CAPTURE's sibling expected file, or None."""
    if not capture:
        return None
    stem = capture[:-5] if capture.endswith(".pcap") else capture
    path = stem + ".expected.jsonl"
    return path if os.path.isfile(path) else None


def direction_lines(rows):
    """Stream directions and how they ended; bytes split by which side has the lower port."""
    started = sum(1 for r in rows if r.get("start"))
    ended = sum(1 for r in rows if r.get("end"))
    total = sum(r["bytes"] for r in rows)
    down = [r for r in rows if r["sport"] < r["dport"]]
    up = [r for r in rows if r["sport"] >= r["dport"]]
    largest = max(rows, key=lambda r: r["bytes"])
    return [
        ("stream directions", "%d: %d with their start (SYN seen), %d with their end "
         "(FIN or RST seen)" % (len(rows), started, ended)),
        ("bytes delivered", "%s in all; largest: %s bytes, %s" % (
            num(total), num(largest["bytes"]), flow_name(largest))),
        ("", "%s from servers (lower port) to clients in %d directions, %s the other way" % (
            num(sum(r["bytes"] for r in down)), len(down), num(sum(r["bytes"] for r in up)))),
    ]


def skip_lines(rows):
    """Stream directions with skips, skipped bytes by cause, starts unseen."""
    skipped = [r for r in rows if r.get("skips", 0) > 0]
    by_cause = collections.Counter()
    for r in rows:
        by_cause.update(r.get("skipped_by_cause", {}))
    lines = [("with skips", "%d stream directions, %s bytes skipped (%d skips)" % (
        len(skipped), num(sum(r["skipped_bytes"] for r in rows)),
        sum(r.get("skips", 0) for r in rows)))]
    for key, meaning in CAUSES:
        if by_cause.get(key):
            lines.append(("", "%10s  %s: %s" % (num(by_cause[key]), key, meaning)))
    unseen = sum(r.get("skip_unknown", 0) for r in rows)
    lines.append(("starts unseen", "%d (directions caught mid-stream: first record has skip -1)"
                  % unseen))
    return lines


def output_lines(jsonl, files, log):
    lines = [("jsonl", "%s (one object per stream direction, with SHA-256)" % jsonl)]
    if files and os.path.isdir(files):
        names = os.listdir(files)
        big = max(names, key=lambda n: os.path.getsize(os.path.join(files, n)), default=None)
        lines.append(("files", "%s/ (%d files, one per stream direction with bytes)" % (
            files, len(names))))
        if big:
            lines.append(("", "the largest: %s" % os.path.join(files, big)))
    if log:
        lines.append(("console", "%s (reasm's full output)" % log))
    return lines


def compare(rows, expected):
    """(directions that match, problems): reasm's rows against the expected ones."""
    want, got = collections.defaultdict(list), collections.defaultdict(list)
    for r in expected:
        want[tuple(r[k] for k in FLOW)].append(r)
    for r in rows:
        got[tuple(r[k] for k in FLOW)].append(r)
    matched, problems = 0, []
    for flow in sorted(set(want) | set(got), key=str):
        left = [tuple(r.get(k) for k in COMPARED) for r in got[flow]]
        unmatched = []
        for r in want[flow]:
            t = tuple(r.get(k) for k in COMPARED)
            if t in left:
                left.remove(t)
                matched += 1
            else:
                unmatched.append(t)
        problems += describe_mismatch(flow, unmatched, left)
    return matched, problems


def describe_mismatch(flow, wanted, extra):
    """One line per expected direction reasm did not deliver the same way, and per extra one."""
    name = flow_name(dict(zip(FLOW, flow)))
    out = []
    for i, w in enumerate(wanted):
        if i < len(extra):
            diffs = ["%s %s (expected %s)" % (k, g, e) if k != "sha256" else "sha256 differs"
                     for k, g, e in zip(COMPARED, extra[i], w) if g != e]
            out.append("%s: %s" % (name, ", ".join(diffs)))
        else:
            out.append("%s: expected (%s bytes), not in reasm's jsonl" % (name, num(w[0])))
    for g in extra[len(wanted):]:
        out.append("%s: in reasm's jsonl (%s bytes), not expected" % (name, num(g[0])))
    return out


def replayed_to_the_end(log):
    """False if reasm's console output (log) shows the replay was stopped (Ctrl-C)."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            return "capture replayed to the end" in f.read()
    except (OSError, TypeError):
        return True     # no log to tell: compare anyway


def comparison_lines(rows, path):
    """(lines, mismatch?) for the comparison with the expected file at path."""
    expected = load_jsonl(path)
    matched, problems = compare(rows, expected)
    text = "%d of %d stream directions byte-exact against what gopacket tcpassembly " \
           "delivers (%s)" % (matched, len(expected), path)
    lines = [("comparison", text)]
    if len(rows) != len(expected):
        lines.append(("", "reasm wrote %d stream directions, the expected file has %d" % (
            len(rows), len(expected))))
    for p in problems[:8]:
        lines.append(("", "MISMATCH " + p))
    if len(problems) > 8:
        lines.append(("", "... and %d more mismatches" % (len(problems) - 8)))
    return lines, bool(problems) or len(rows) != len(expected)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl", help="the jsonl sink's file")
    ap.add_argument("--capture", help="the replayed capture (for its .expected.jsonl)")
    ap.add_argument("--files", help="the files sink's folder")
    ap.add_argument("--log", help="where reasm's console output was saved")
    args = ap.parse_args()
    try:
        rows = load_jsonl(args.jsonl)
    except (OSError, ValueError) as e:
        print("demo_summary: cannot read %s: %s" % (args.jsonl, e), file=sys.stderr)
        return 2
    lines = [("capture", args.capture or "?")]
    if rows:
        lines += direction_lines(rows) + skip_lines(rows)
    else:
        lines.append(("stream directions", "none: the capture has no TCP payload reasm saw"))
    mismatch = False
    exp = expected_path(args.capture)
    if exp and not replayed_to_the_end(args.log):
        lines.append(("comparison", "skipped: the replay stopped before the end of the capture"))
    elif exp:
        more, mismatch = comparison_lines(rows, exp)
        lines += more
    elif args.capture:
        lines.append(("comparison", "none: no expected file beside the capture (%s)" % (
            os.path.basename(args.capture).rsplit(".", 1)[0] + ".expected.jsonl")))
    lines += output_lines(args.jsonl, args.files, args.log)
    print("\n== run-demo summary " + "=" * 60)
    for label, text in lines:
        print("%-18s %s" % (label, text))
    return 1 if mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
