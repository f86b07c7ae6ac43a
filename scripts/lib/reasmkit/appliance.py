# SPDX-License-Identifier: BSD-3-Clause
"""Running the reasm appliance (app/reasm) in tests and reading what it prints.

- Reasm: runs it with the sandbox's EAL options (--no-huge -m 512 --no-pci, a unique
  --file-prefix per run, --log-level=error, a timeout on every run) and removes the
  run's RUNTIME_DIR/PREFIX afterwards; run() waits for it, start() gives a Background
  whose telemetry() is a telemetry.Client once reasm's commands answer.
- parse_summary(): the totals, counters and per-stream accounting line it prints at
  exit; read_jsonl(): the jsonl sink's lines.
- conservation_problem(), jsonl_accounting_problem(), bytes_conserved_problem(): None
  when every payload byte is accounted for (docs/counters.md), else why not.
"""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from . import telemetry


class RunResult:
    """How a run ended: rc (None when killed on a timeout), stdout, stderr, prefix."""

    def __init__(self, rc, stdout, stderr, prefix, timed_out=False):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.prefix, self.timed_out = prefix, timed_out

    def describe(self):
        return "exit status %s%s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            self.rc, " (timed out, killed)" if self.timed_out else "",
            self.stdout[-3000:], self.stderr[-3000:])


class Reasm:
    """Runs the appliance with the sandbox's EAL options."""

    LCORES_2_WORKERS = "(0-2)@(0,1)"  # main lcore 0 + workers on lcores 1 and 2

    def __init__(self, exe, tag, mem=512):
        self.exe = os.path.abspath(exe)
        self.tag = tag
        self.mem = mem  # EAL -m, MiB (no hugepages)
        self.n = 0

    def new_prefix(self):
        self.n += 1
        return "reasm_e2e_%s_%d_%d" % (self.tag, os.getpid(), self.n)

    def command(self, prefix, vdevs, app_args, lcores=LCORES_2_WORKERS):
        cmd = [self.exe, "--no-huge", "-m", str(self.mem), "--no-pci", "--file-prefix=" + prefix,
               "--lcores", lcores, "--log-level=error"]
        cmd += ["--vdev=" + v for v in vdevs]
        return cmd + ["--"] + list(app_args)

    @staticmethod
    def cleanup(prefix):
        shutil.rmtree(os.path.join(telemetry.runtime_dir(), prefix), ignore_errors=True)

    def run(self, vdevs, app_args, timeout, lcores=LCORES_2_WORKERS):
        prefix = self.new_prefix()
        cmd = self.command(prefix, vdevs, app_args, lcores)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               errors="replace")
            res = RunResult(r.returncode, r.stdout, r.stderr, prefix)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (
                e.stdout or "")
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (
                e.stderr or "")
            res = RunResult(None, out, err, prefix, timed_out=True)
        finally:
            self.cleanup(prefix)
        return res

    def start(self, vdevs, app_args, lcores=LCORES_2_WORKERS):
        """Start it in the background; stdout/stderr go to files (no pipe to fill)."""
        return Background(self, vdevs, app_args, lcores)


class Background:
    """A reasm running in the background. stop() signals it and collects the result."""

    def __init__(self, reasm, vdevs, app_args, lcores):
        self.prefix = reasm.new_prefix()
        self.tmp = tempfile.mkdtemp(prefix="reasm_e2e_out_")
        self.out = open(os.path.join(self.tmp, "stdout"), "w+")
        self.err = open(os.path.join(self.tmp, "stderr"), "w+")
        self.cmd = reasm.command(self.prefix, vdevs, app_args, lcores)
        self.proc = subprocess.Popen(self.cmd, stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        self.result = None

    def socket_path(self):
        return telemetry.socket_path(self.prefix)

    def alive(self):
        return self.proc.poll() is None

    def telemetry(self, timeout=20.0):
        """A telemetry client once the /reasm/ commands answer (None if it died first).

        EAL opens the socket before reasm registers its commands: until then they
        answer null, so wait for /reasm/config.
        """
        deadline = time.monotonic() + timeout
        tel = None
        while time.monotonic() < deadline:
            if not self.alive():
                break
            try:
                if tel is None and os.path.exists(self.socket_path()):
                    tel = telemetry.Client(self.socket_path())
                if tel is not None and isinstance(tel.query("/reasm/config"), dict):
                    return tel
            except (OSError, ValueError):
                if tel is not None:
                    tel.close()
                tel = None
            time.sleep(0.02)
        if tel is not None:
            tel.close()
        return None

    def stop(self, sig=signal.SIGINT, timeout=30.0):
        """Send sig (if still running), wait up to timeout, then SIGKILL."""
        if self.result is not None:
            return self.result
        timed_out = False
        if self.alive() and sig is not None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.proc.kill()
            self.proc.wait()
        self.out.seek(0)
        self.err.seek(0)
        self.result = RunResult(self.proc.returncode, self.out.read(), self.err.read(),
                                self.prefix, timed_out)
        self.out.close()
        self.err.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        Reasm.cleanup(self.prefix)
        return self.result

    def kill(self):
        if self.result is None:
            if self.alive():
                self.proc.kill()
            self.stop(None, timeout=10)


# ---- what it prints -------------------------------------------------------------

SUMMARY_RE = re.compile(
    r"^reasm: total: (\d+) packets, (\d+) TCP segments, (\d+) streams, (\d+) bytes delivered, "
    r"(\d+) bytes skipped, (\d+) starts unseen, (\d+) packets dropped$", re.M)
COUNTER_RE = re.compile(r"^reasm:   (\w+) +(\d+)$", re.M)
STREAMS_RE = re.compile(
    r"^reasm: per-stream accounting: (\d+) streams, received (\d+) = delivered (\d+) \+ "
    r"overlap (\d+) \+ discarded (\d+), (\d+) unbalanced$", re.M)


def parse_summary(stdout):
    """The summary's totals as a dict, or None when there is none.

    Keys: packets, tcp_segments, streams, delivered_bytes, skipped_bytes,
    starts_unseen, dropped; "counters": every "reasm:   counter value" line;
    "per_stream": the per-stream accounting line as a dict (streams, received,
    delivered, overlap, discarded, unbalanced), or None if missing.
    """
    m = None
    for m in SUMMARY_RE.finditer(stdout):
        pass
    if m is None:
        return None
    keys = ("packets", "tcp_segments", "streams", "delivered_bytes", "skipped_bytes",
            "starts_unseen", "dropped")
    d = dict(zip(keys, (int(x) for x in m.groups())))
    d["counters"] = {k: int(v) for k, v in COUNTER_RE.findall(stdout[m.end():])}
    s = STREAMS_RE.search(stdout, m.end())
    d["per_stream"] = None if s is None else dict(zip(
        ("streams", "received", "delivered", "overlap", "discarded", "unbalanced"),
        (int(x) for x in s.groups())))
    return d


def read_jsonl(path):
    """(objects, errors): every line parsed; errors lists the lines that are not JSON."""
    objs, errors = [], []
    if not os.path.exists(path):
        return objs, ["%s does not exist" % path]
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        errors.append("the file does not end with a newline (last line cut)")
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            objs.append(json.loads(raw.decode()))
        except (ValueError, UnicodeDecodeError) as e:
            errors.append("line %d: %s: %r" % (n, e, raw[:200]))
    return objs, errors


# ---- every byte accounted for ---------------------------------------------------

# Where every payload byte given to the assembler ends up (docs/counters.md).
BYTE_SINKS = ("delivered_bytes", "overlap_bytes", "buffered_bytes", "discarded_on_close_bytes",
              "table_full_bytes")


def bytes_accounted(counters):
    """(payload_bytes, the sum of BYTE_SINKS) from a summary's counters; equal when conserved."""
    return counters.get("payload_bytes", 0), sum(counters.get(k, 0) for k in BYTE_SINKS)


def conservation_problem(summary):
    """None when every payload byte is accounted for, in total and per stream.

    In total: payload_bytes == delivered + overlap + buffered + discarded +
    table_full (the assemblers' counters). Per stream (the summary's
    per-stream accounting line, checked by the sinks on every stream as it
    completed): no stream unbalanced, and the streams' received bytes add up
    to payload_bytes - table_full_bytes, their delivered bytes to
    delivered_bytes (every stream has completed when reasm prints it).
    """
    counters = summary["counters"]
    payload, out = bytes_accounted(counters)
    if payload != out:
        return "payload_bytes %d != %s = %d" % (payload, " + ".join(BYTE_SINKS), out)
    ps = summary.get("per_stream")
    if ps is None:
        return "no per-stream accounting line in the summary"
    if ps["unbalanced"] != 0:
        return "%d streams unbalanced (their totals disagree with what the sinks got)" % (
            ps["unbalanced"])
    if ps["received"] != ps["delivered"] + ps["overlap"] + ps["discarded"]:
        return "per stream: received %d != delivered %d + overlap %d + discarded %d" % (
            ps["received"], ps["delivered"], ps["overlap"], ps["discarded"])
    want = payload - counters.get("table_full_bytes", 0)
    if ps["received"] != want:
        return "the streams received %d bytes, payload_bytes - table_full_bytes is %d" % (
            ps["received"], want)
    if ps["delivered"] != counters.get("delivered_bytes", 0):
        return "the streams got %d bytes, delivered_bytes is %d" % (
            ps["delivered"], counters.get("delivered_bytes", 0))
    if ps["streams"] != summary["streams"]:
        return "%d streams accounted, %d completed" % (ps["streams"], summary["streams"])
    return None


def jsonl_accounting_problem(objs):
    """None when every jsonl line balances: received == bytes + overlap + discarded.

    "bytes" is what the sinks got; the other three are the library's totals
    for that stream direction, given at complete().
    """
    bad = []
    for o in objs:
        try:
            if o["received"] != o["bytes"] + o["overlap"] + o["discarded"]:
                bad.append("%s:%s > %s:%s received %d != bytes %d + overlap %d + discarded %d" % (
                    o["src"], o["sport"], o["dst"], o["dport"], o["received"], o["bytes"],
                    o["overlap"], o["discarded"]))
        except KeyError as e:
            bad.append("a line without %s: %r" % (e, o))
    if not bad:
        return None
    return "%d of %d streams unbalanced: %s" % (len(bad), len(objs), "; ".join(bad[:5]))


def bytes_conserved_problem(summary, objs=None):
    """conservation_problem(summary), then jsonl_accounting_problem(objs) if given."""
    if summary is None:
        return "no summary"
    why = conservation_problem(summary)
    if why is None and objs is not None:
        why = jsonl_accounting_problem(objs)
    return why


# ---- comparing stream directions as multisets ----------------------------------

def multiset(rows, keys):
    """jsonl objects (or expected rows) as a Counter of their @keys tuples."""
    return collections.Counter(tuple(r.get(k) for k in keys) for r in rows)


def multiset_diff(want, got, keys, what_want, what_got, limit=8):
    """Failure text for two Counters of key tuples (keys[:4]: the direction), or None."""
    if want == got:
        return None
    missing = list((want - got).elements())
    extra = list((got - want).elements())
    text = ["%d stream directions from %s, %d from %s: %d missing, %d unexpected" % (
        sum(want.values()), what_want, sum(got.values()), what_got, len(missing), len(extra))]
    by_dir = collections.defaultdict(lambda: ([], []))
    for t in missing:
        by_dir[t[:4]][0].append(t)
    for t in extra:
        by_dir[t[:4]][1].append(t)
    for i, (d, (m, e)) in enumerate(sorted(by_dir.items(), key=str)):
        if i == limit:
            text.append("... (%d more directions)" % (len(by_dir) - limit))
            break
        text.append("%s %s -> %s %s:" % d)
        for t in m:
            text.append("  %s: %s" % (what_want, dict(zip(keys[4:], t[4:]))))
        for t in e:
            text.append("  %s: %s" % (what_got, dict(zip(keys[4:], t[4:]))))
    return "\n".join(text)
