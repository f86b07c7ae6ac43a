# SPDX-License-Identifier: BSD-3-Clause
"""Shared helpers of the appliance's end-to-end tests (tests/e2e/app_*.py).

- Report: collects checks for a googletest-style XML report (one <testcase> per
  check, <failure> on a mismatch, notes as <properties>), written by
  tests/gtest_report.py to the path in $GTEST_OUTPUT ("xml:PATH") so
  scripts/count-tests.py counts every check.
- Reasm: runs build/app/reasm with the sandbox's EAL options (--no-huge -m 512
  --no-pci, a unique --file-prefix per run, a timeout on every run) and removes the
  run's /var/run/dpdk/PREFIX afterwards; parse_summary() reads the summary it prints.
- Telemetry: a client of DPDK's telemetry socket (AF_UNIX SOCK_SEQPACKET, as
  scripts/reasm-top and dpdk-telemetry.py do).
- gopacket reference (tools/gopacket-ref) and tshark follow helpers.
- Capture writing: classic pcap files and Ethernet/IPv4/TCP|UDP frames.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = os.path.dirname(HERE)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

# One source of truth for what pcapgo calls an Ethernet capture and for running a
# program over many captures: the library-level comparison's own code.
from captures_vs_gopacket import build_reference, is_ethernet_pcap, run_sections  # noqa: E402,F401
import gtest_report  # noqa: E402


def source_dir():
    return os.environ.get("REASM_SOURCE_DIR", os.path.dirname(TESTS_DIR))


def shared_captures():
    return os.path.normpath(os.path.join(source_dir(), "..", "shared", "captures", "tcpdump"))


# ---- XML report -------------------------------------------------------------

class Report:
    """Collects checks (gtest_report.Case objects, timed) for one googletest <testsuite>."""

    def __init__(self, suite, default_xml):
        self.suite = suite
        self.default_xml = default_xml
        self.cases = []
        self.start = time.monotonic()
        self._t = time.monotonic()

    def add(self, name, failure=None, note=None):
        now = time.monotonic()
        notes = [note] if isinstance(note, str) else list(note or [])
        self.cases.append(gtest_report.Case(name, failure, notes=notes, time=now - self._t))
        self._t = now
        if failure is not None:
            print("FAILED %s.%s\n%s\n" % (self.suite, name, failure), flush=True)
        return failure is None

    def check(self, name, ok, failure_text, note=None):
        """Add a case that passes when ok is true; failure_text may be a callable."""
        if ok:
            return self.add(name, None, note)
        return self.add(name, failure_text() if callable(failure_text) else failure_text)

    def equal(self, name, got, want, what=""):
        return self.check(name, got == want, lambda: "%s%sexpected %r, got %r" % (
            what, ": " if what else "", want, got))

    def failed(self):
        return [c for c in self.cases if c.failure is not None]

    def path(self):
        return gtest_report.output_path(self.default_xml)

    def write(self):
        """Write the report; a failure text is cut to 20,000 characters there."""
        cut = [c._replace(failure=c.failure[:20000] + "\n... (cut)")
               if c.failure is not None and len(c.failure) >= 20000 else c for c in self.cases]
        gtest_report.write(self.path(), self.suite, cut, time.monotonic() - self.start)

    def finish(self):
        """Write the report, print a one-line result, return the exit status."""
        self.write()
        nfail = len(self.failed())
        noted = sum(1 for c in self.cases if c.failure is None and c.notes)
        print("%s: %d checks, %d failed, %d passed with a note (%.1fs)" % (
            self.suite, len(self.cases), nfail, noted, time.monotonic() - self.start))
        for c in self.cases:
            if c.failure is None and c.notes:
                print("  note %s: %s" % (c.name, "; ".join(c.notes)))
        return 1 if nfail else 0


# ---- the appliance ----------------------------------------------------------

def dpdk_runtime_dir():
    """Where EAL puts /PREFIX/ (config, telemetry socket): as eal_get_runtime_dir()."""
    if os.geteuid() == 0:
        return "/var/run/dpdk"
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")


class RunResult:
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

    def __init__(self, exe, tag):
        self.exe = os.path.abspath(exe)
        self.tag = tag
        self.n = 0

    def new_prefix(self):
        self.n += 1
        return "reasm_e2e_%s_%d_%d" % (self.tag, os.getpid(), self.n)

    def command(self, prefix, vdevs, app_args, lcores=LCORES_2_WORKERS):
        cmd = [self.exe, "--no-huge", "-m", "512", "--no-pci", "--file-prefix=" + prefix,
               "--lcores", lcores, "--log-level=error"]
        cmd += ["--vdev=" + v for v in vdevs]
        return cmd + ["--"] + list(app_args)

    @staticmethod
    def cleanup(prefix):
        shutil.rmtree(os.path.join(dpdk_runtime_dir(), prefix), ignore_errors=True)

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
        return os.path.join(dpdk_runtime_dir(), self.prefix, "dpdk_telemetry.v2")

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
                    tel = Telemetry(self.socket_path())
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


# ---- telemetry ----------------------------------------------------------------

class Telemetry:
    """DPDK telemetry v2 client: send a command, get its JSON answer."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(10)
        self.sock.connect(path)
        info = json.loads(self.sock.recv(65536).decode())
        self.max_len = max(int(info.get("max_output_len", 16384)), 65536)

    def query(self, cmd):
        """The value under the command's name (None for a JSON null)."""
        self.sock.send(cmd.encode())
        reply = json.loads(self.sock.recv(self.max_len).decode())
        return reply.get(cmd.split(",")[0], reply)

    def raw(self, cmd):
        self.sock.send(cmd.encode())
        return json.loads(self.sock.recv(self.max_len).decode())

    def close(self):
        self.sock.close()


# ---- gopacket reference -------------------------------------------------------

def build_gopacket_ref(build_dir, name="gopacket-ref-e2e"):
    """Build tools/gopacket-ref as build_dir/name; (path, None) or (None, error)."""
    return build_reference(source_dir(), build_dir, name)


# ---- tshark -------------------------------------------------------------------

def tshark_available():
    return shutil.which("tshark") is not None


def _tshark(args, timeout):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True, timeout=timeout,
                       errors="replace")
    return r.returncode, r.stdout, r.stderr


FOLLOW_SEP = "=" * 67 + "\n"


def tshark_follow(path, extra=(), timeout=60):
    """Per stream direction what `tshark -z follow,tcp,raw,N` shows, for every stream N.

    Returns (dirs, error): dirs is a list of dicts src, sport, dst, dport, bytes,
    sha256, stream (both directions of each stream, empty ones included).
    """
    extra = list(extra)
    rc, out, err = _tshark(extra + ["-r", path, "-T", "fields", "-e", "tcp.stream"], timeout)
    if rc != 0:
        return None, "tshark -T fields failed (%d): %s" % (rc, err[-2000:])
    ids = sorted({int(x) for x in out.split() if x.strip().isdigit()})
    if not ids:
        return [], None
    cmd = extra + ["-r", path, "-q"]
    for i in ids:
        cmd += ["-z", "follow,tcp,raw,%d" % i]
    rc, out, err = _tshark(cmd, timeout)
    if rc != 0:
        return None, "tshark follow failed (%d): %s" % (rc, err[-2000:])
    dirs = []
    for sec in out.split(FOLLOW_SEP + "Follow: tcp,raw\n")[1:]:
        lines = sec.splitlines()
        m = re.match(r"Filter: tcp.stream eq (\d+)$", lines[0])
        if not m or not lines[1].startswith("Node 0: ") or not lines[2].startswith("Node 1: "):
            return None, "unexpected tshark follow output:\n" + sec[:1000]

        def endpoint(line):
            addr, port = line.split(": ", 1)[1].rsplit(":", 1)
            return addr.strip("[]"), int(port)

        (a0, p0), (a1, p1) = endpoint(lines[1]), endpoint(lines[2])
        d0, d1 = bytearray(), bytearray()
        for line in lines[3:]:
            if line.startswith("====="):
                break
            if line.startswith("\t"):
                d1 += bytes.fromhex(line[1:])
            elif line:
                d0 += bytes.fromhex(line)
        sid = int(m.group(1))
        for (sa, sp, da, dp, data) in ((a0, p0, a1, p1, d0), (a1, p1, a0, p0, d1)):
            dirs.append({"src": sa, "sport": sp, "dst": da, "dport": dp, "bytes": len(data),
                         "sha256": hashlib.sha256(bytes(data)).hexdigest(), "stream": sid})
    if len({d["stream"] for d in dirs}) != len(ids):
        return None, "tshark follow answered %d of %d streams" % (
            len({d["stream"] for d in dirs}), len(ids))
    return dirs, None


def tshark_payload_dissectors(path, timeout=60):
    """Protocols tshark puts right above TCP in this capture (the payload dissectors)."""
    rc, out, err = _tshark(["-r", path, "-Y", "tcp.len > 0", "-T", "fields", "-e",
                            "frame.protocols"], timeout)
    found = set()
    for line in out.splitlines():
        parts = line.strip().split(":")
        if "tcp" in parts:
            i = parts.index("tcp")
            if i + 1 < len(parts):
                found.add(parts[i + 1])
    return sorted(found)


# ---- writing captures -----------------------------------------------------------

def pcap_header(snaplen=65535, linktype=1):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(ts_ns, frame, wire_len=None):
    sec, usec = divmod(ts_ns // 1000, 1000000)
    return struct.pack("<IIII", sec, usec, len(frame),
                       len(frame) if wire_len is None else wire_len) + frame


def write_pcap(path, frames, snaplen=65535):
    """frames: iterable of (ts_ns, bytes)."""
    with open(path, "wb") as f:
        f.write(pcap_header(snaplen))
        for ts, frame in frames:
            f.write(pcap_record(ts, frame))


def read_pcap_records(path):
    """[(header bytes, data bytes)] of a classic pcap, little or big endian; (hdr, recs)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    recs, off = [], 24
    while off + 16 <= len(data):
        ts, frac, caplen, wire = struct.unpack(order + "IIII", data[off:off + 16])
        if off + 16 + caplen > len(data):
            break
        recs.append((ts, frac, caplen, wire, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return data[:24], order, recs


TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def ip4(s):
    return socket.inet_aton(s)


def ipv4_frame(src, dst, proto, l4):
    """Ethernet + IPv4 (no checksum: reasm and gopacket do not check it)."""
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
                      ip4(src), ip4(dst))
    return MAC_B + MAC_A + b"\x08\x00" + iph + l4


def tcp_frame(src, sport, dst, dport, seq, flags, payload=b"", ack=0):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    return ipv4_frame(src, dst, 6, tcp + payload)


def udp_frame(src, sport, dst, dport, payload=b""):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    return ipv4_frame(src, dst, 17, udp + payload)
