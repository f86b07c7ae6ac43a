#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bad input: every packet of every tcpdump capture through the appliance, accounted for.

The 829 captures of tcpdump's test suite (REASM_SOURCE_DIR/../shared/captures/tcpdump, see
its README) hold every link type and many frames written to crash dissectors. All of them
are replayed through reasm as if they were Ethernet (net_pcap takes every frame as
Ethernet, whatever the file's link type), in batches of --batch files (64): up to 16 files
per net_pcap vdev (one rx_pcap= per file, one RX queue each; 16 is net_pcap's
RTE_PMD_PCAP_MAX_QUEUES, a 17th makes the vdev fail to probe and EAL then starts WITHOUT
that port). Each batch runs in four modes, all with --sink count --quiet:

- "limits": 2 workers, --timeout 0 --pages 256 --max-conns 64; the run ends by itself when
  every file is drained (the capture replay path). The corpus does not reach these limits.
- "tight": 2 workers, --max-conns 8 --pages 64 --pages-per-conn 1 (reached: table_full_*,
  skipped_bytes_page_limit), timer flushes on the captures' own (mixed, sometimes absurd)
  clocks (--timeout 1000 --flush-interval 100), --burst 7 --ring-size 64. A net_pcap port
  without rx_pcap (tx_pcap=/dev/null: a live port whose RX queue stays empty) keeps reasm
  running after the replay, so /reasm/stats is read once every replayed frame has been
  assembled; then SIGTERM.
- "pages": 2 workers, --timeout 0 --pages 64 --max-conns 256 --pages-total 5 (reached:
  skipped_bytes_total_limit).
- "no_page": 1 worker, --timeout 0 --pages 64 --max-conns 256, no page limit: the page
  mempool runs dry (pages_alloc_failed, skipped_bytes_no_page).

Checks per run: exit status 0; no sanitizer report on stderr or stdout ("ERROR:
AddressSanitizer", "runtime error:", "LeakSanitizer", ...); every vdev was replayed to the
end; and the summary's accounting holds:
  records in the files (counted as libpcap reads them) == summary packets (pkts)
  == TCP segments + every drop_* counter (and "packets dropped" == sum of drop_*)
  == the per-worker packet counts added up; segs == TCP segments; every stream opened was
  closed (conns_opened == conns_closed_fin + conns_closed_flush == summary streams); bytes
  are conserved (payload == delivered + overlap + discarded_on_close + table_full_bytes);
  nothing stays buffered (pages_in_use == buffered_bytes == 0); no dist_ring_full.
"tight" also checks /reasm/stats before SIGTERM: port_rx_pkts == dist_pkts == pkts ==
records, pkts == pkts_tcp + sum(drop_*), port_rx_nombuf == port_rx_missed ==
dist_ring_full == 0, port_rx_errors == the number of files whose reading ends in a libpcap
error (net_pcap counts that error; none in the corpus today).
Over the whole corpus, "tight", "pages" and "no_page" must reach their limits (cases
limits_reached.*), so that the test keeps exercising them.

Records are counted with a small reader, reasmkit.pcap.libpcap_count(), that follows
libpcap 1.10's savefile rules (a record longer than the file's snap length is cut to it:
still one record; reading stops with an error at a cut-off header or record, or at a
capture length over the link type's maximum), cross-checked against libpcap itself
(ctypes) where it loads. A file libpcap cannot open never reaches reasm (its vdev would
fail to probe): it is left out of the batches and its case passes with a note giving
libpcap's error (none in the corpus today); so does a file whose reading ends in an
error, with a note.

One googletest-style <testcase> per capture file, named after it: when a batch fails, its
files are replayed one at a time in the failing mode to name the culprit(s) (a batch that
fails with no single culprit fails all its files). Past --budget seconds (a hang), what is
left is not run and fails saying so, so the report is written before meson's timeout.
Writes the report to $GTEST_OUTPUT ("xml:PATH"); exit status 1 if any case failed.

Runtime with the defaults on 2 cores: ~13 s normal, ~15 s under ASan+UBSan (13 batches x
4 modes; the corpus is only 10,183 packets, EAL start-up dominates).
"""
import argparse
import ctypes
import os
import re
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, gtest, pcap, shared_captures  # noqa: E402

SUITE = "BadInputCorpus"
PCAP_MAX_QUEUES = 16        # DPDK net_pcap's RTE_PMD_PCAP_MAX_QUEUES (22.11)
MAX_VDEVS = 31              # RTE_MAX_ETHPORTS is 32; one port is kept for the "tight" hold port

MODES = {
    "limits": ["--timeout", "0", "--sink", "count", "--quiet", "--pages", "256",
               "--max-conns", "64"],
    "tight": ["--timeout", "1000", "--flush-interval", "100", "--sink", "count", "--quiet",
              "--pages", "64", "--max-conns", "8", "--pages-per-conn", "1",
              "--burst", "7", "--ring-size", "64"],
    "pages": ["--timeout", "0", "--sink", "count", "--quiet", "--pages", "64",
              "--max-conns", "256", "--pages-total", "5"],
    "no_page": ["--timeout", "0", "--sink", "count", "--quiet", "--pages", "64",
                "--max-conns", "256"],
}
LCORES = {"no_page": "(0-1)@(0,1)"}   # one worker; the others run two
# Counters each mode must have moved over the whole corpus (its limits were reached).
MODE_REACHES = {
    "tight": ["table_full_pkts", "skipped_bytes_page_limit"],
    "pages": ["skipped_bytes_total_limit"],
    "no_page": ["pages_alloc_failed", "skipped_bytes_no_page"],
}
HELD = {"tight"}            # modes run with a hold port, telemetry, then SIGTERM

SANITIZER_RE = re.compile(r"ERROR: \w*Sanitizer|runtime error:|LeakSanitizer|"
                          r"SUMMARY: \w*Sanitizer|AddressSanitizer|UndefinedBehaviorSanitizer")


# ---- counting records as libpcap does (pcap.libpcap_count(), cross-checked here) ----

class Libpcap:
    """libpcap through ctypes: what net_pcap sees (None when it does not load)."""

    def __init__(self):
        self.lib = pcap.libpcap_cdll()
        if self.lib is None:
            return
        L = self.lib
        L.pcap_open_offline.restype = ctypes.c_void_p
        L.pcap_open_offline.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        L.pcap_next_ex.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                   ctypes.POINTER(ctypes.c_void_p)]
        L.pcap_geterr.restype = ctypes.c_char_p
        L.pcap_geterr.argtypes = [ctypes.c_void_p]
        L.pcap_close.argtypes = [ctypes.c_void_p]

    def count(self, path):
        """(records, None, end) or (None, libpcap's error when it cannot open it, None).

        end is None when reading ends at the end of the file, else libpcap's error.
        """
        err = ctypes.create_string_buffer(512)
        p = self.lib.pcap_open_offline(os.fsencode(path), err)
        if not p:
            return None, err.value.decode(errors="replace"), None
        hdr, data, n = ctypes.c_void_p(), ctypes.c_void_p(), 0
        while True:
            rc = self.lib.pcap_next_ex(p, ctypes.byref(hdr), ctypes.byref(data))
            if rc != 1:
                break
            n += 1
        end = self.lib.pcap_geterr(p).decode(errors="replace") if rc == -1 else None
        self.lib.pcap_close(p)
        return n, None, end


# ---- running a batch ----------------------------------------------------------------

def vdevs_for(paths):
    out = []
    for i in range(0, len(paths), PCAP_MAX_QUEUES):
        out.append("net_pcap%d," % (i // PCAP_MAX_QUEUES) +
                   ",".join("rx_pcap=" + p for p in paths[i:i + PCAP_MAX_QUEUES]))
    return out


def sanitizer_lines(text):
    return [ln for ln in text.splitlines() if SANITIZER_RE.search(ln)]


def check_summary(summary, records, problems):
    """The summary's accounting; appends what does not hold to problems."""
    c = summary["counters"]
    drops = sum(v for k, v in c.items() if k.startswith("drop_"))
    pkts, tcp = summary["packets"], summary["tcp_segments"]

    def expect(what, got, want):
        if got != want:
            problems.append("%s: expected %d, got %d" % (what, want, got))

    expect("summary packets vs records in the files", pkts, records)
    expect("packets vs TCP segments + drop_* (%d drops)" % drops, tcp + drops, pkts)
    expect("summary 'packets dropped' vs sum of drop_*", summary["dropped"], drops)
    expect("segs vs TCP segments", c.get("segs", 0), tcp)
    expect("conns_closed_fin + conns_closed_flush vs conns_opened",
           c.get("conns_closed_fin", 0) + c.get("conns_closed_flush", 0),
           c.get("conns_opened", 0))
    expect("summary streams vs conns_opened", summary["streams"], c.get("conns_opened", 0))
    payload, accounted = appliance.bytes_accounted(c)
    expect("payload_bytes vs delivered + overlap + buffered + discarded + table_full bytes",
           accounted, payload)
    expect("bytes accounted for, in total and per stream (None: yes)",
           appliance.conservation_problem(summary), None)
    expect("pages_in_use at the end", c.get("pages_in_use", 0), 0)
    expect("buffered_bytes at the end", c.get("buffered_bytes", 0), 0)
    expect("dist_ring_full", c.get("dist_ring_full", 0), 0)


def check_common(res, paths, records, problems):
    """Exit status, sanitizers, ports and the summary of one run."""
    if res.timed_out or res.rc != 0:
        problems.append("exit status %s%s" % (res.rc, " (timed out, killed)"
                                              if res.timed_out else ""))
    san = sanitizer_lines(res.stderr) + sanitizer_lines(res.stdout)
    if san:
        problems.append("sanitizer report:\n  " + "\n  ".join(san[:20]))
    nv = len(vdevs_for(paths))
    replayed = len(re.findall(r"^reasm: port \d+ \(net_pcap\d+\): capture replayed to the end$",
                              res.stdout, re.M))
    if replayed != nv:
        problems.append("%d of %d replay ports replayed to the end" % (replayed, nv))
    summary = appliance.parse_summary(res.stdout)
    if summary is None:
        problems.append("no summary on stdout")
        return None
    workers = [int(x) for x in re.findall(r"^reasm: worker \d+ \(lcore \d+\): (\d+) packets",
                                          res.stdout, re.M)]
    if sum(workers) != summary["packets"]:
        problems.append("per-worker packets %s add up to %d, summary says %d" % (
            workers, sum(workers), summary["packets"]))
    check_summary(summary, records, problems)
    return summary


def run_free(reasm, paths, records, args, mode):
    """Mode without hold port: the replay ends by itself."""
    res = reasm.run(vdevs_for(paths), MODES[mode], timeout=args.timeout,
                    lcores=LCORES.get(mode, appliance.Reasm.LCORES_2_WORKERS))
    problems = []
    summary = check_common(res, paths, records, problems)
    return problems, res, summary


def replay_ports(bg):
    """(replay ports set up, replay ports drained) from what bg printed so far."""
    try:
        with open(os.path.join(bg.tmp, "stdout"), errors="replace") as f:
            out = f.read()
    except OSError:
        return 0, 0
    return (len(re.findall(r"^reasm: port \d+ net_pcap\d+ .*, capture replay$", out, re.M)),
            len(re.findall(r"capture replayed to the end$", out, re.M)))


def run_held(reasm, paths, records, read_errors, args, mode):
    """Mode with a hold port: /reasm/stats once everything is assembled, then SIGTERM."""
    vdevs = vdevs_for(paths)
    hold = "net_pcap%d,tx_pcap=/dev/null" % len(vdevs)
    problems = []
    bg = reasm.start(vdevs + [hold], MODES[mode],
                     LCORES.get(mode, appliance.Reasm.LCORES_2_WORKERS))
    stats = None
    try:
        tel = bg.telemetry(timeout=args.timeout)
        if tel is None:
            problems.append("the telemetry socket did not answer")
        else:
            # Every replay vdev must report its end (reasm exits 2 if one fails to
            # probe); counting set-up lines from stdout here could race its reader.
            up = len(vdevs)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline and bg.alive():
                try:
                    st = tel.query("/reasm/stats")
                except (OSError, ValueError) as e:
                    problems.append("/reasm/stats: %s" % e)
                    break
                # Wait until every record is received and assembled (a slow, loaded
                # machine may need a while); never reaching it fails below.
                if (replay_ports(bg)[1] >= up and isinstance(st, dict) and
                        st.get("port_rx_pkts") == records and
                        st.get("pkts") == st.get("dist_pkts") == st.get("rx_pkts") ==
                        records):
                    stats = st
                    break
                time.sleep(0.01)
            tel.close()
            if stats is None and not problems:
                problems.append("the replay did not finish (or the workers did not catch "
                                "up) within %ds" % args.timeout)
        res = bg.stop(signal.SIGTERM, timeout=args.timeout)
    finally:
        bg.kill()
    if stats is not None:
        drops = sum(v for k, v in stats.items() if k.startswith("drop_"))
        for what, got, want in (
                ("port_rx_pkts vs records in the files", stats["port_rx_pkts"], records),
                ("dist_pkts vs port_rx_pkts", stats["dist_pkts"], stats["port_rx_pkts"]),
                ("pkts vs port_rx_pkts", stats["pkts"], stats["port_rx_pkts"]),
                ("pkts_tcp + drop_* vs pkts", stats["pkts_tcp"] + drops, stats["pkts"]),
                ("port_rx_nombuf", stats["port_rx_nombuf"], 0),
                ("port_rx_errors vs files whose reading ends in a libpcap error",
                 stats["port_rx_errors"], read_errors),
                ("port_rx_missed", stats["port_rx_missed"], 0),
                ("dist_ring_full", stats["dist_ring_full"], 0)):
            if got != want:
                problems.append("/reasm/stats %s: expected %d, got %d" % (what, want, got))
    summary = check_common(res, paths, records, problems)
    return problems, res, summary


def run_mode(reasm, paths, records, read_errors, args, mode):
    if mode in HELD:
        return run_held(reasm, paths, records, read_errors, args, mode)
    return run_free(reasm, paths, records, args, mode)


def describe(mode, paths, problems, res):
    return "mode %s, %d file(s) %s..%s:\n%s\n%s" % (
        mode, len(paths), os.path.basename(paths[0]), os.path.basename(paths[-1]),
        "\n".join(problems), res.describe())


def replay_all(reasm, replay, path_of, records, read_error, modes, args, failures, totals):
    """Every file in batches, every mode; failures[file] gets what failed.

    Past args.budget seconds (a hang or a wide failure), what is left is not run and its
    files fail saying so, so that the report is still written before meson's timeout.
    """
    deadline = time.monotonic() + args.budget
    late = "not run: the test's time budget (--budget %ds) was spent" % args.budget
    for start in range(0, len(replay), args.batch):
        batch = replay[start:start + args.batch]
        paths = [path_of[f] for f in batch]
        for mode in modes:
            if time.monotonic() > deadline:
                for f in batch:
                    failures[f].append("mode %s: %s" % (mode, late))
                continue
            t = time.monotonic()
            problems, res, summary = run_mode(
                reasm, paths, sum(records[f] for f in batch),
                sum(1 for f in batch if f in read_error), args, mode)
            print("batch %d-%d %s: %s (%.1fs)" % (start, start + len(batch) - 1, mode,
                                                  "ok" if not problems else "FAILED",
                                                  time.monotonic() - t), flush=True)
            if summary is not None:
                for k, v in list(summary["counters"].items()) + [
                        ("pkts", summary["packets"]), ("pkts_tcp", summary["tcp_segments"])]:
                    totals[mode][k] = totals[mode].get(k, 0) + v
            if not problems:
                continue
            batch_text = describe(mode, paths, problems, res)
            if len(batch) == 1:
                failures[batch[0]].append(batch_text)
                continue
            print("  %s\n  replaying its %d files one at a time" % (
                "\n  ".join(problems[:10]), len(batch)), flush=True)
            culprits, isolated = 0, True
            for f, p in zip(batch, paths):
                if time.monotonic() > deadline:
                    isolated = False
                    failures[f].append("in a failing batch, %s:\n%s" % (late, batch_text))
                    continue
                probs1, res1, _ = run_mode(reasm, [p], records[f], int(f in read_error),
                                           args, mode)
                if probs1:
                    culprits += 1
                    failures[f].append(describe(mode, [p], probs1, res1))
            if culprits == 0 and isolated:
                for f in batch:
                    failures[f].append("no file fails alone, but its batch does:\n" +
                                       batch_text)


# ---- main -------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm or build-san/app/reasm)")
    ap.add_argument("--captures", default=None)
    ap.add_argument("--batch", type=int, default=64, help="files per reasm run (<= %d)"
                    % (PCAP_MAX_QUEUES * MAX_VDEVS))
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated: %s" %
                    ", ".join(MODES))
    ap.add_argument("--only", default=None, help="regex on file names (debugging)")
    ap.add_argument("--timeout", type=int, default=60, help="seconds per reasm run")
    ap.add_argument("--budget", type=int, default=240, help="seconds for all the runs "
                    "(meson's timeout for the test is 300)")
    args = ap.parse_args()
    args.batch = max(1, min(args.batch, PCAP_MAX_QUEUES * MAX_VDEVS))
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error("unknown mode %r" % m)

    report = gtest.Report(SUITE, "gtest-bad_input.xml")
    captures = args.captures or shared_captures()
    if not os.path.isdir(captures):
        report.add("captures_present", "capture folder %s is missing" % captures)
        return report.finish()
    names = sorted(f for f in os.listdir(captures) if os.path.isfile(os.path.join(captures, f)))
    if args.only:
        names = [f for f in names if re.search(args.only, f)]
    if not names:
        report.add("captures_present", "no capture in %s" % captures)
        return report.finish()

    # What libpcap makes of each file.
    lp = Libpcap()
    refused, records, linktypes, count_bad, read_error = {}, {}, {}, {}, {}
    for f in names:
        path = os.path.join(captures, f)
        n, lt, why, end = pcap.libpcap_count(path)
        if lp.lib is not None:
            ln, lerr, lend = lp.count(path)
            if lerr is not None:
                refused[f] = "libpcap cannot open it (%s)%s" % (
                    lerr, "" if why else "; the record counter would have read it")
                continue
            if why is not None or n != ln or (end is None) != (lend is None):
                count_bad[f] = ("the record counter reads %s records (%s), libpcap %d (%s): "
                                "fix reasmkit.pcap.libpcap_count()" % (
                                    n, why or end or "to the end", ln, lend or "to the end"))
            n, end = ln, lend
        elif why is not None:
            refused[f] = "not a file libpcap reads (%s)" % why
            continue
        records[f] = n
        linktypes[f] = lt
        if end is not None:
            read_error[f] = "libpcap stops after %d records with an error (%s)" % (n, end)
    replay = [f for f in names if f in records]
    non_eth = sum(1 for f in replay if linktypes[f] & 0xFFFF != 1)
    print("%d files, %d records; %d refused by libpcap, %d end in a read error; %d not "
          "Ethernet (replayed as Ethernet); libpcap cross-check: %s" % (
              len(names), sum(records.values()), len(refused), len(read_error), non_eth,
              "on" if lp.lib is not None else "libpcap did not load (not checked)"),
          flush=True)

    reasm = appliance.Reasm(args.reasm, "bad")
    failures = {f: [] for f in names}
    totals = {m: {} for m in modes}
    with tempfile.TemporaryDirectory(prefix="reasm_bad_input_") as tmp:
        # net_pcap's devargs cannot hold ',' or '=' (nor blanks, safely): link such paths.
        path_of = {}
        for i, f in enumerate(replay):
            path = os.path.abspath(os.path.join(captures, f))
            if re.search(r"[,=\s]", path):
                link = os.path.join(tmp, "capture%d.pcap" % i)
                os.symlink(path, link)
                path = link
            path_of[f] = path
        replay_all(reasm, replay, path_of, records, read_error, modes, args, failures, totals)

    for f in names:
        fail = list(failures[f])
        if f in count_bad:
            fail.insert(0, count_bad[f])
        note = refused[f] + ": never input to reasm" if f in refused else read_error.get(f)
        report.add(f, "\n\n".join(fail) if fail else None, note=note)
    for m in modes:
        print("mode %s totals: %s" % (m, ", ".join("%s %d" % kv for kv in
                                                   sorted(totals[m].items()))))
        if not args.only and not args.captures and MODE_REACHES.get(m):
            missed = [c for c in MODE_REACHES[m] if totals[m].get(c, 0) == 0]
            report.check("limits_reached.%s" % m, not missed, lambda: (
                "over the whole corpus, mode %s (%s) never moved %s: the corpus or the "
                "options changed and this mode no longer reaches its limits" % (
                    m, " ".join(MODES[m]), ", ".join(missed))))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
