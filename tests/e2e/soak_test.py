#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The 60-second soak of the appliance in CI (meson test 'soak').

Runs scripts/soak --seconds 60 with the given reasm: a capture of 1,000 connections with
churn (FIN/RST/none, 4-tuple reuse, loss, reordering, retransmissions) replayed endlessly
by net_pcap infinite_rx into 2 workers with bounded limits, sampled every 2 s. One case
per check of the script (started, alive, sigterm_exit_0, rss_bounded, pages_bounded,
streams_bounded, throughput, delivering, bytes_conserved; see scripts/soak), the measured figures as
notes. Writes a googletest-style XML report ($GTEST_OUTPUT, "xml:PATH").

Usage: soak_test.py REASM_EXE [--seconds N] [--out DIR]
(without --out a temporary folder, removed when every check passed)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import gtest, source_dir  # noqa: E402

SUITE = "Soak"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reasm")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--out")
    opts = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-soak.xml")
    out = opts.out or tempfile.mkdtemp(prefix="reasm_soak_")
    script = os.path.join(source_dir(), "scripts", "soak")
    cmd = [sys.executable, script, "--seconds", str(opts.seconds), "--out", out,
           "--reasm", opts.reasm]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                       timeout=opts.seconds + 240)
    print(r.stdout[-4000:], r.stderr[-2000:], sep="\n")
    try:
        with open(os.path.join(out, "checks.json")) as f:
            checks = json.load(f)
        with open(os.path.join(out, "summary.json")) as f:
            figures = json.load(f)
    except (OSError, ValueError) as e:
        report.add("soak_ran", "scripts/soak wrote no checks.json (%s); exit %d\n%s\n%s" % (
            e, r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return report.finish()
    note = ["%s=%s" % (k, figures[k]) for k in (
        "rss_min_mib", "rss_max_mib", "rss_first_third_max_mib", "rss_last_third_max_mib",
        "pages_in_use_max", "pages_bound", "streams_open_max", "streams_bound", "mpps_mean",
        "mpps_min", "conns_opened") if k in figures]
    for c in checks:
        report.add(c["name"], c["failure"], note if c["name"] == "rss_bounded" else None)
    report.check("soak_exit_status", r.returncode == (1 if report.failed() else 0),
                 "scripts/soak exited %d with %d failed checks:\n%s" % (
                     r.returncode, len(report.failed()), r.stderr[-3000:]))
    status = report.finish()
    if opts.out is None:
        if status == 0:
            shutil.rmtree(out, ignore_errors=True)  # the capture alone is 15 MB
        else:
            print("soak output kept in %s" % out)
    return status


if __name__ == "__main__":
    sys.exit(main())
