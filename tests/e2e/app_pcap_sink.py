#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The appliance's pcap sink (--sink pcap:DIR[,max-open=N]): one capture file per TCP
connection, checked against the generator and an independent frame reader.

Truth is never reasm's own output: it is tests/gen/gencap.py (reasmkit.gencap: the frames
it sent, the connection each belongs to, and what gopacket tcpassembly delivers per stream
direction) and a small Ethernet / VLAN / IPv4 / IPv6 / TCP reader written here
(tcp_of()), which decides which frames of a capture are TCP segments, fragments or
neither, and of which connection.

Captures (made here):
- plain: gencap seed 11, 40 connections (IPv4 and IPv6, plain Ethernet, 802.1Q and QinQ,
  IP options and IPv6 extension headers, reordering, retransmissions, loss, mid-stream
  starts, 4-tuple reuse, pure ACKs: gencap's defaults), plus frames that are not TCP
  segments put in between: ARP, LLDP, UDP over IPv4 / IPv6 / VLAN, ICMP, ICMPv6, and
  IPv4 / IPv6 fragments of TCP (first and later);
- tunnels: gencap --encap all (every tunnel kind, nested ones too), 16 connections, seed
  12: which connection a frame belongs to is what gencap says (its frame list).

Cases (suite AppPcapSink):
- plain.generator, tunnels.generator: gencap ran (its self-check passed); for plain the
  frame reader agrees with gencap on every frame's connection.
- plain.w1.*: 1 worker, `--sink pcap:DIR,max-open=4 --sink jsonl:J --sha256`:
    exit_ok                  exit 0, a summary and a "reasm: pcap sink:" line with
                             every pcap_* counter;
    jsonl_matches_expected   the jsonl sink still gives gencap's expected rows;
    file_names               DIR holds exactly one LO-HI.pcap per connection (canonical
                             4-tuple: LO sorts first by address bytes then port) with at
                             least one TCP frame, named in tcpflow style, nothing else;
    file_headers             every file: nanosecond magic, little endian, version 2.4,
                             snaplen 262144, link type 1, records filling it exactly,
                             each with captured length == wire length;
    frames_conserved         the multiset of (time ns, frame bytes) over all files is the
                             multiset of the capture's TCP frames (whole frames: VLAN tags
                             included; fragments and non-TCP frames left out);
    per_file_capture_order   each file holds exactly its connection's frames, in capture
                             order (a reused 4-tuple: both connections, one file);
    max_open_bound           pcap_files_closed_lru > 0, pcap_files_reopened > 0 (40
                             connections interleaved, 4 files open), pcap_files_created ==
                             the number of files, and reasm was never seen holding more
                             than 4 files of DIR open (/proc/PID/fd sampled while it runs);
    lru_model                created / reopened / closed_lru are what an LRU cache of
                             max-open files gives over the frames in order (1 worker);
    counters                 pcap_pkts == frames in the files == TCP frames of the
                             capture, pcap_bytes their byte sum, pcap_not_tcp == the
                             frames that are not TCP segments (fragments included);
    files_replay_library     every file through tests/pcap_replay (the library, as
                             tests/captures_vs_gopacket.py runs it) gives gencap's
                             expected lines of its connection's directions (MODEL_KEYS
                             and meta_sha256: record lengths, skips, flags, times);
    files_replay_appliance   every file through the appliance (several files per run, one
                             net_pcap port each) gives gencap's expected rows (MODEL_KEYS).
- plain.w2.*: 2 workers (lcores (0-2)@(0,1)), same options: exit_ok; same_files_as_w1
  (same names, per file the same multiset of records); per_file_capture_order;
  open_files_bound (never more than 4 files of DIR seen open: one writer thread keeps
  max-open files for all workers); lru_bound_shared (created + reopened == closed_lru +
  max-open whatever the interleaving of the workers' frames; both workers used); counters.
- tunnels.w1.*: 1 worker, max-open=1 (the lowest bound): exit_ok; files_match_generator
  (one file per connection, named by the innermost addresses and ports, holding its
  frames whole, tunnel headers included, in capture order); counters; open_files_bound
  (never more than 1 file of DIR seen open); files_replay_library.
- bad_config.*: missing_dir_created: DIR absent, its parent there: created (one level, as
  the files sink does), exit 0, every file in it. The others exit status 2 with a "reasm:"
  message on stderr: missing_parent (DIR's parent absent too) and dir_is_file (the
  message names DIR), empty_dir, max_open_0, max_open_abc, max_open_65537,
  max_open_70000, unknown_key (the message says "pcap"); nothing written.
- existing.*: DIR already holds, for three connections of plain, a text file, a
  microsecond pcap (another format) and a file of this format with records (plain.w1's);
  1 worker, default max-open; a second port replaying UDP for ever keeps reasm running
  until telemetry is read, then SIGINT:
    write_errors_counted     /reasm/stats: sink_write_errors >= 2 (/reasm/lcore,1 the
                             same), pcap_pkts the TCP frames of the other connections, no
                             LRU close (64 > files);
    exit_ok                  exit 1 (failed writes, as for every sink), a summary, its
                             pcap sink line and a "reasm:" message naming the problem;
    bad_files_untouched      the two files of other formats are byte for byte as before;
    good_file_appended       the file of this format is its old bytes followed by its
                             connection's frames of this run;
    other_files_fine         every other connection's file holds exactly its frames.
- telemetry.*: 2 workers, max-open=4, kept running the same way:
    counters                 /reasm/stats, /reasm/lcore,1 and /reasm/lcore,2 carry every
                             pcap_* counter and sink_write_errors, the lcores add up to
                             the stats; pcap_pkts, pcap_bytes, pcap_files_created as the
                             capture has them, sink_write_errors 0;
    per_worker_frames        each lcore's pcap_pkts, pcap_bytes, pcap_files_created are
                             those of its connections (the worker plain.w2's jsonl names);
    exit_ok                  SIGINT: exit 0 and the pcap sink line.

When `reasm -- --help` does not mention the pcap sink, every case is reported skipped
with that reason.

Usage: app_pcap_sink.py PATH/TO/reasm [--work-dir DIR] [--replay PATH/TO/pcap_replay]
(default pcap_replay: BUILD/tests/pcap_replay for BUILD/app/reasm; files_replay_library
is skipped without it). Writes the report to $GTEST_OUTPUT
("xml:PATH"). Exit status 1 if any case failed.
"""
import argparse
import collections
import ipaddress
import json
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, frames, gencap, gopacket, gtest, pcap, rss  # noqa: E402

SUITE = "AppPcapSink"
RUN_TIMEOUT = 60
LC1, LC2 = "(0-1)@(0,1)", "(0-2)@(0,1)"
APP_ARGS = ["--sha256", "--quiet", "--timeout", "0", "--pages-total", "0",
            "--pages-per-conn", "0"]
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
PCAP_COUNTERS = ("pcap_pkts", "pcap_bytes", "pcap_files_created", "pcap_files_reopened",
                 "pcap_files_closed_lru", "pcap_not_tcp")
MAX_OPEN = 4
SNAPLEN = 262144
GEN_PLAIN = ["--seed", "11", "--conns", "40"]
GEN_TUNNELS = ["--seed", "12", "--conns", "16", "--concurrency", "8", "--encap", "all",
               "--p-encap", "0.85"]
PORTS_PER_RUN = 20          # files replayed per appliance run (one net_pcap port each)
TCP, FRAG, OTHER = "tcp", "fragment", "other"

CASES = (
    ["plain.generator"] +
    ["plain.w1." + c for c in (
        "exit_ok", "jsonl_matches_expected", "file_names", "file_headers",
        "frames_conserved", "per_file_capture_order", "max_open_bound", "lru_model",
        "counters", "files_replay_library", "files_replay_appliance")] +
    ["plain.w2." + c for c in (
        "exit_ok", "same_files_as_w1", "per_file_capture_order", "open_files_bound",
        "lru_bound_shared", "counters")] +
    ["tunnels.generator"] +
    ["tunnels.w1." + c for c in (
        "exit_ok", "files_match_generator", "counters", "open_files_bound",
        "files_replay_library")] +
    ["bad_config." + c for c in (
        "missing_dir_created", "missing_parent", "dir_is_file", "empty_dir", "max_open_0",
        "max_open_abc", "max_open_65537", "max_open_70000", "unknown_key")] +
    ["existing." + c for c in (
        "write_errors_counted", "exit_ok", "bad_files_untouched", "good_file_appended",
        "other_files_fine")] +
    ["telemetry." + c for c in ("counters", "per_worker_frames",
                                "exit_ok")])


# ---- the truth: which frames are TCP segments, of which connection -------------------

def _u16(b, off):
    return b[off] << 8 | b[off + 1]


def tcp_of(frame):
    """(TCP, ((addr, port), (addr, port)) source then destination) for a TCP segment
    (Ethernet, any number of 802.1Q / 802.1ad / 0x9100 tags, IPv4 with options or IPv6
    with hop-by-hop / routing / destination-options headers, a whole TCP header);
    (FRAG, None) for an IPv4 or IPv6 fragment; (OTHER, None) for anything else."""
    if len(frame) < 14:
        return OTHER, None
    et, off = _u16(frame, 12), 14
    while et in (0x8100, 0x88A8, 0x9100):
        if len(frame) < off + 4:
            return OTHER, None
        et, off = _u16(frame, off + 2), off + 4
    ip = frame[off:]
    if et == 0x0800:
        if len(ip) < 20 or ip[0] >> 4 != 4:
            return OTHER, None
        hl, total = (ip[0] & 15) * 4, _u16(ip, 2)
        if hl < 20 or total < hl or total > len(ip):
            return OTHER, None
        if _u16(ip, 6) & 0x3FFF:
            return FRAG, None
        if ip[9] != 6:
            return OTHER, None
        src, dst, l4 = bytes(ip[12:16]), bytes(ip[16:20]), ip[hl:total]
    elif et == 0x86DD:
        if len(ip) < 40 or ip[0] >> 4 != 6:
            return OTHER, None
        end = 40 + _u16(ip, 4)
        if end > len(ip):
            return OTHER, None
        nh, p = ip[6], 40
        while nh in (0, 43, 60):
            if p + 8 > end:
                return OTHER, None
            nh, p = ip[p], p + (ip[p + 1] + 1) * 8
        if nh == 44:
            return FRAG, None
        if nh != 6 or p > end:
            return OTHER, None
        src, dst, l4 = bytes(ip[8:24]), bytes(ip[24:40]), ip[p:end]
    else:
        return OTHER, None
    if len(l4) < 20 or (l4[12] >> 4) * 4 < 20 or (l4[12] >> 4) * 4 > len(l4):
        return OTHER, None
    return TCP, ((src, _u16(l4, 0)), (dst, _u16(l4, 2)))


def canonical(ends):
    """The connection of a direction: its two endpoints, the one that sorts first by
    (address bytes, port) first (the Community ID's order)."""
    a, b = ends
    return (a, b) if a <= b else (b, a)


def endpoint_name(ep):
    addr, port = ep
    if len(addr) == 4:
        return "%s.%05d" % (".".join("%03d" % x for x in addr), port)
    return "%s.%05d" % (".".join("%04x" % g for g in struct.unpack("!8H", addr)), port)


def file_name(conn):
    return "%s-%s.pcap" % (endpoint_name(conn[0]), endpoint_name(conn[1]))


def row_conn(row):
    """The connection of an expected / jsonl row."""
    return canonical(((ipaddress.ip_address(row["src"]).packed, row["sport"]),
                      (ipaddress.ip_address(row["dst"]).packed, row["dport"])))


def conn_text(conn):
    return "%s:%d <-> %s:%d" % (ipaddress.ip_address(conn[0][0]), conn[0][1],
                                ipaddress.ip_address(conn[1][0]), conn[1][1])


# ---- reading what reasm wrote ----------------------------------------------------------

class OutFile:
    """One file of DIR read strictly: header fields, records (ts_ns, data), problems."""

    HEADER = struct.Struct("<IHHiIII")
    RECORD = struct.Struct("<IIII")

    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        self.problems, self.records = [], []
        if len(self.raw) < 24:
            self.problems.append("%d bytes: no pcap header" % len(self.raw))
            return
        magic, major, minor, _, _, snap, link = self.HEADER.unpack_from(self.raw)
        want = (0xA1B23C4D, 2, 4, SNAPLEN, 1)
        got = (magic, major, minor, snap, link)
        if got != want:
            self.problems.append("header (magic, major, minor, snaplen, linktype) %s, want %s"
                                 % (tuple(hex(x) if i == 0 else x for i, x in enumerate(got)),
                                    (hex(want[0]),) + want[1:]))
            if magic != 0xA1B23C4D:
                return
        off = 24
        while off < len(self.raw):
            if off + 16 > len(self.raw):
                self.problems.append("a record header cut short at byte %d" % off)
                break
            sec, nsec, cap, wire = self.RECORD.unpack_from(self.raw, off)
            if off + 16 + cap > len(self.raw):
                self.problems.append("a record of %d bytes cut short at byte %d" % (cap, off))
                break
            if cap != wire:
                self.problems.append("record at byte %d: captured %d != wire %d" % (
                    off, cap, wire))
            if nsec >= 1000000000:
                self.problems.append("record at byte %d: %d ns" % (off, nsec))
            self.records.append((sec * 1000000000 + nsec, self.raw[off + 16:off + 16 + cap]))
            off += 16 + cap


def read_dir(path):
    """{name: OutFile} of every entry of path (directories and others as problems)."""
    out = {}
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        if os.path.isfile(p):
            out[name] = OutFile(p)
        else:
            out[name] = None
    return out


def pcap_line(stdout):
    """{counter: value} of the summary's "reasm: pcap sink: a=1 b=2" line, or None."""
    m = None
    for m in re.finditer(r"^reasm: pcap sink:(.*)$", stdout, re.M):
        pass
    if m is None:
        return None
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def lru_model(sequences, max_open):
    """What a per-worker LRU cache of max_open files gives: sequences is one list of file
    names per worker, in the order the worker writes frames. Files start absent."""
    c = collections.Counter()
    for seq in sequences:
        cache, seen = collections.OrderedDict(), set()
        for k in seq:
            if k in cache:
                cache.move_to_end(k)
                continue
            if len(cache) >= max_open:
                cache.popitem(last=False)
                c["pcap_files_closed_lru"] += 1
            if k in seen:
                c["pcap_files_reopened"] += 1
            else:
                seen.add(k)
                c["pcap_files_created"] += 1
            cache[k] = True
    return {k: c[k] for k in ("pcap_files_created", "pcap_files_reopened",
                              "pcap_files_closed_lru")}


# ---- captures ------------------------------------------------------------------------

class Capture:
    """A capture made here: frames [(ts_ns, bytes)], per frame its kind and connection,
    gencap's expected rows and lines per connection."""

    def __init__(self, name, path, frames_, kinds, conns, streams):
        self.name, self.path, self.frames = name, path, frames_
        self.kinds = kinds          # per frame: TCP, FRAG or OTHER
        self.conns = conns          # per frame: its connection (TCP) or None
        self.rows = collections.defaultdict(list)    # conn -> expected rows
        self.lines = collections.defaultdict(list)   # conn -> expected lines
        for s in streams:
            row, line = s.row(), s.line()
            self.rows[row_conn(row)].append(row)
            self.lines[row_conn(row)].append(line)
        self.by_conn = collections.defaultdict(list)  # conn -> [(ts, frame)] in order
        for fr, k in zip(frames_, conns):
            if k is not None:
                self.by_conn[k].append(fr)
        self.names = {file_name(k): k for k in self.by_conn}

    def tcp_frames(self):
        return [fr for fr, k in zip(self.frames, self.conns) if k is not None]

    def not_tcp(self):
        return sum(1 for k in self.conns if k is None)

    def all_rows(self):
        return [r for rows in self.rows.values() for r in rows]


def extra_frames():
    """Frames that are not TCP segments (each with its kind), for the plain capture;
    addresses no gencap connection uses."""
    mac_a, mac_b = frames.MAC_A, frames.MAC_B
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac_a, frames.ip4("192.0.2.1"),
                      b"\0" * 6, frames.ip4("192.0.2.2"))
    tcp_hdr = frames.tcp(40000, 80, 1000, frames.TCP_ACK | frames.TCP_PSH, b"f" * 40)
    v6a, v6b = "2001:db8:5::1", "2001:db8:5::2"
    out = [
        (OTHER, frames.ethernet(b"\xff" * 6, mac_a, 0x0806, arp, pad=True)),
        (OTHER, frames.udp_frame("192.0.2.1", 5353, "192.0.2.2", 53, b"q" * 30)),
        (OTHER, frames.ethernet(mac_b, mac_a, frames.ETH_IPV6, frames.ipv6(
            v6a, v6b, frames.PROTO_UDP, frames.udp(5353, 53, b"r" * 20)))),
        (OTHER, frames.ethernet(mac_b, mac_a, frames.ETH_IPV4, frames.ipv4(
            "192.0.2.3", "192.0.2.4", frames.PROTO_UDP, frames.udp(1, 2, b"v" * 26)),
            tags=[(0x8100, 77)])),
        (OTHER, frames.ethernet(mac_b, mac_a, frames.ETH_IPV4, frames.ipv4(
            "192.0.2.5", "192.0.2.6", 1, b"\x08\x00\x00\x00\x00\x01\x00\x01" + b"p" * 32))),
        (OTHER, frames.ethernet(mac_b, mac_a, frames.ETH_IPV6, frames.ipv6(
            v6a, v6b, 58, b"\x80\x00\x00\x00\x00\x01\x00\x01" + b"p" * 16))),
        (OTHER, frames.ethernet(b"\x01\x80\xc2\x00\x00\x0e", mac_a, 0x88CC,
                                b"\x02\x07\x04" + mac_a + b"\x00\x00", pad=True)),
        # The first fragment of a TCP segment (its whole header inside, MF set) and a
        # later one: fragments, never written without --defrag.
        (FRAG, frames.ethernet(mac_b, mac_a, frames.ETH_IPV4, frames.ipv4_fragment(
            "192.0.2.7", "192.0.2.8", frames.PROTO_TCP, tcp_hdr[:48], 0x1234, 0, True))),
        (FRAG, frames.ethernet(mac_b, mac_a, frames.ETH_IPV4, frames.ipv4_fragment(
            "192.0.2.7", "192.0.2.8", frames.PROTO_TCP, tcp_hdr[48:], 0x1234, 48, False))),
        (FRAG, frames.ethernet(mac_b, mac_a, frames.ETH_IPV6, frames.ipv6_raw(
            v6a, v6b, 44, frames.ipv6_fragment_header(frames.PROTO_TCP, 0, True, 77) +
            tcp_hdr[:40]))),
    ]
    return out


def run_gencap(work, name, gen_args, report):
    """gencap to WORK/NAME.pcap: (its result, path, frames with ns times, each frame's
    connection), or None after reporting NAME.generator failed."""
    path = os.path.join(work, name + ".pcap")
    try:
        res = gencap.run_all(gencap.parse_args(["-o", path] + gen_args))
    except Exception as e:  # the generator's self-check, or a bug in it
        report.add(name + ".generator", "gencap %s: %s: %s" % (" ".join(gen_args),
                                                               type(e).__name__, e))
        return None
    frs = [(ts * 1000, f) for ts, f in res.frames]
    conns = [canonical(((c.client.packed, c.cport), (c.server.packed, c.sport)))
             for c, _, _ in res.meta]
    return res, path, frs, conns


def make_plain(work, report):
    """gencap's plain capture with extra_frames() spread through it; None on failure."""
    got = run_gencap(work, "plain", GEN_PLAIN, report)
    if got is None:
        return None
    res, path, frs, meta_conns = got
    extras = extra_frames()
    step = len(frs) // (len(extras) + 1)
    out, want_kinds = [], []
    for i, fr in enumerate(frs):
        if i and i % step == 0 and i // step <= len(extras):
            kind, f = extras[i // step - 1]
            out.append((fr[0], f))      # the time of the frame it goes before
            want_kinds.append((kind, None))
        out.append(fr)
        want_kinds.append((TCP, meta_conns[i]))
    pcap.write(path, out, snaplen=SNAPLEN)
    kinds, conns, disagree = [], [], []
    for (ts, f), (wk, wc) in zip(out, want_kinds):
        kind, ends = tcp_of(f)
        conn = canonical(ends) if kind == TCP else None
        kinds.append(kind)
        conns.append(conn)
        if (kind, conn) != (wk, wc):
            disagree.append("frame at %d ns: the reader says %s %s, gencap %s %s" % (
                ts, kind, conn and conn_text(conn), wk, wc and conn_text(wc)))
    cap = Capture("plain", path, out, kinds, conns, res.model.streams)
    report.check("plain.generator", not disagree, lambda: "%d frames:\n%s" % (
        len(disagree), "\n".join(disagree[:10])),
        note="%d connections (%d files), %d frames: %d TCP, %d not (%d fragments)" % (
            len(res.conns), len(cap.by_conn), len(out), len(out) - cap.not_tcp(),
            cap.not_tcp(), kinds.count(FRAG)))
    return cap if not disagree else None


def make_tunnels(work, report):
    """gencap --encap all: every frame a tunnelled (or plain) TCP segment of the
    connection gencap says."""
    got = run_gencap(work, "tunnels", GEN_TUNNELS, report)
    if got is None:
        return None
    res, path, frs, conns = got
    pcap.write(path, frs, snaplen=SNAPLEN)
    hows = collections.Counter(h for _, h, _ in res.meta)
    kinds = collections.Counter(c.tunnel.kind if c.tunnel is not None else "none"
                                for c in res.conns if c.follows is None)
    cap = Capture("tunnels", path, frs, [TCP] * len(frs), conns, res.model.streams)
    report.check("tunnels.generator", set(hows) == {"plain"},
                 "gencap made fragments: %s" % dict(hows),
                 note="%d connections (%s), %d frames, largest %d bytes" % (
                     len(res.conns), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
                     len(frs), max(len(f) for _, f in frs)))
    return cap


# ---- the test ------------------------------------------------------------------------

def open_files_in(pid, folder):
    """How many of process pid's file descriptors are files in folder (None if gone)."""
    prefix = folder.rstrip("/") + "/"
    n = 0
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(prefix):
                n += 1
        except OSError:
            pass
    return n


class FdWatch:
    """The most files of folder a process held open at once, sampled every millisecond or
    so while it runs (a lower bound of the true peak)."""

    def __init__(self, pid, folder):
        self.pid, self.folder = pid, folder
        self.peak, self.samples = 0, 0

    def sample(self):
        n = open_files_in(self.pid, self.folder)
        if n is not None:
            self.peak = max(self.peak, n)
            self.samples += 1
        return n

    def until_exit(self, bg, timeout):
        """Sample until bg exits or timeout; True if it exited."""
        deadline = time.monotonic() + timeout
        while bg.alive():
            if time.monotonic() > deadline:
                return False
            self.sample()
            time.sleep(0.001)
        return True

    def text(self, bound):
        return "at most %d files of DIR open at once in %d samples of /proc/PID/fd (bound %d)" \
            % (self.peak, self.samples, bound)


class Run:
    """One replay with the pcap sink: result, summary, pcap line, jsonl, DIR's files, and
    the most files of DIR it was seen holding open (fds)."""

    def __init__(self, reasm, vdevs, outdir, jsonl, lcores, sink_opts="", extra=()):
        if os.path.exists(jsonl):
            os.unlink(jsonl)
        self.outdir = outdir
        t0 = time.monotonic()
        bg = reasm.start(vdevs, ["--sink", "pcap:" + outdir + sink_opts,
                                 "--sink", "jsonl:" + jsonl] + APP_ARGS + list(extra),
                         lcores=lcores)
        self.fds = FdWatch(bg.proc.pid, outdir)
        self.killed = not self.fds.until_exit(bg, RUN_TIMEOUT)
        self.res = bg.stop(signal.SIGKILL if self.killed else None)
        self.secs = time.monotonic() - t0
        self.summary = appliance.parse_summary(self.res.stdout)
        self.pcap = pcap_line(self.res.stdout)
        self.objs, self.errors = appliance.read_jsonl(jsonl)
        self.files = read_dir(outdir) if os.path.isdir(outdir) else {}

    def problem(self):
        probs = []
        if self.killed:
            probs.append("still running after %ds: killed" % RUN_TIMEOUT)
        if self.res.rc != 0:
            probs.append("exit status %s" % self.res.rc)
        if self.summary is None:
            probs.append("no summary")
        if self.pcap is None:
            probs.append("no 'reasm: pcap sink:' line in the summary")
        else:
            miss = [c for c in PCAP_COUNTERS if c not in self.pcap]
            if miss:
                probs.append("the pcap sink line lacks %s" % ", ".join(miss))
        if self.errors:
            probs.append("jsonl: " + "; ".join(self.errors[:3]))
        if probs:
            return "; ".join(probs) + "\n" + self.res.describe()
        return None

    def ok(self):
        return self.problem() is None

    def ran(self):
        """Exit 0 with a summary: its files are worth checking."""
        return self.res.rc == 0 and self.summary is not None

    def ctr(self, name):
        return (self.pcap or {}).get(name)


def records_diff(want, got, limit=5):
    """Text on two lists of (ts_ns, frame) compared as multisets, or None."""
    a, b = collections.Counter(want), collections.Counter(got)
    if a == b:
        return None
    miss, extra = list((a - b).elements()), list((b - a).elements())
    text = ["%d frames wanted, %d written: %d missing, %d unexpected" % (
        len(want), len(got), len(miss), len(extra))]
    for what, lst in (("missing", miss), ("unexpected", extra)):
        for ts, f in sorted(lst)[:limit]:
            text.append("  %s: %d ns, %d bytes %s..." % (what, ts, len(f), f[:34].hex()))
    return "\n".join(text)


class PcapSinkTest:
    def __init__(self, args, report):
        self.report = report
        self.reasm = appliance.Reasm(args.reasm, "pcapsink")
        self.work = args.work_dir
        self.replay = args.replay
        self.times = {}

    def support(self):
        """None when reasm's help mentions the pcap sink, else why the cases are skipped."""
        res = self.reasm.run([], ["--help"], 30, lcores=LC1)
        text = res.stdout + res.stderr
        if re.search(r"pcap:", text):
            return None
        return ("`reasm -- --help` does not mention a pcap: sink: this reasm has no pcap "
                "sink yet")

    def outdir(self, name):
        d = os.path.join(self.work, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def run(self, tag, cap, lcores, sink_opts):
        d = self.outdir(tag + ".out")
        r = Run(self.reasm, ["net_pcap0,rx_pcap=" + cap.path], d,
                os.path.join(self.work, tag + ".jsonl"), lcores, sink_opts)
        self.times[tag] = r.secs
        return r

    # ---- checks on one run's files --------------------------------------------------

    def check_exit(self, pre, run):
        why = run.problem()
        note = None
        if run.pcap is not None:
            note = "pcap sink: %s" % " ".join("%s=%d" % (k, run.pcap[k]) for k in PCAP_COUNTERS
                                              if k in run.pcap)
        return self.report.add(pre + "exit_ok", why, note=note)

    def check_names(self, case, cap, run):
        want, got = set(cap.names), set(run.files)
        miss, extra = sorted(want - got), sorted(got - want)
        not_files = sorted(n for n, f in run.files.items() if f is None)
        self.report.check(case, not miss and not extra and not not_files,
                          lambda: "%d connections with TCP frames, %d entries in DIR; "
                          "missing: %s; unexpected: %s; not regular files: %s" % (
                              len(want), len(got), miss[:10] or "none", extra[:10] or "none",
                              not_files or "none"),
                          note="%d files" % len(got))

    def check_headers(self, case, run):
        bad = ["%s: %s" % (n, "; ".join(f.problems[:3])) for n, f in sorted(run.files.items())
               if f is not None and f.problems]
        self.report.check(case, not bad and run.files,
                          lambda: "no file" if not run.files else
                          "%d of %d files:\n%s" % (len(bad), len(run.files), "\n".join(bad[:10])))

    def check_order(self, case, cap, run):
        bad = []
        for name, conn in sorted(cap.names.items()):
            f = run.files.get(name)
            if f is None:
                continue   # file_names says so
            want = cap.by_conn[conn]
            if f.records != want:
                diff = records_diff(want, f.records)
                bad.append("%s (%s): %s" % (name, conn_text(conn), diff or
                                            "the right frames in another order"))
        stray = [n for n in run.files if n not in cap.names]
        self.report.check(case, not bad, lambda: "%d files:\n%s" % (len(bad), "\n".join(
            bad[:6])), note=("%d files not of any connection (see file_names)" % len(stray))
            if stray else None)

    def all_records(self, run):
        return [r for f in run.files.values() if f is not None for r in f.records]

    def check_counters(self, case, cap, run):
        recs = self.all_records(run)
        want = {"pcap_pkts": len(cap.tcp_frames()),
                "pcap_bytes": sum(len(f) for _, f in cap.tcp_frames()),
                "pcap_not_tcp": cap.not_tcp(),
                "pcap_files_created": len(cap.names)}
        probs = ["%s %s, want %d" % (k, run.ctr(k), v) for k, v in want.items()
                 if run.ctr(k) != v]
        if run.ctr("pcap_pkts") != len(recs):
            probs.append("pcap_pkts %s, the files hold %d records" % (run.ctr("pcap_pkts"),
                                                                      len(recs)))
        nbytes = sum(len(f) for _, f in recs)
        if run.ctr("pcap_bytes") != nbytes:
            probs.append("pcap_bytes %s, the files hold %d frame bytes" % (
                run.ctr("pcap_bytes"), nbytes))
        self.report.check(case, not probs, lambda: "; ".join(probs) + "; pcap sink line: %s"
                          % run.pcap)

    def check_lru(self, case, seqs, run, max_open, note=None):
        want = lru_model(seqs, max_open)
        got = {k: run.ctr(k) for k in want}
        self.report.check(case, got == want, lambda: "max-open=%d per worker: the LRU model "
                          "gives %s, reasm counted %s" % (max_open, want, got),
                          note=note or "%s" % want)

    def replay_library(self, case, cap, run):
        """Every file through tests/pcap_replay: gencap's lines of its connection."""
        if not self.replay or not os.access(self.replay, os.X_OK):
            self.report.cases.append(gtest.Case(case, skipped="no pcap_replay (%s)" %
                                                self.replay))
            return
        paths = {}
        for name, conn in cap.names.items():
            if name in run.files:
                paths[os.path.join(run.outdir, name)] = conn
        t0 = time.monotonic()
        got, crashed = gopacket.run_sections([self.replay], sorted(paths), 120)
        self.times[case] = time.monotonic() - t0
        keys = MODEL_KEYS + ["meta_sha256"]
        bad = []
        for p, conn in sorted(paths.items()):
            if p in crashed or p not in got:
                bad.append("%s: pcap_replay: %s" % (os.path.basename(p),
                                                    crashed.get(p, "no output")))
                continue
            want = appliance.multiset([json.loads(x) for x in cap.lines[conn]], keys)
            have = appliance.multiset([json.loads(x) for x in got[p]], keys)
            diff = appliance.multiset_diff(want, have, keys, "gencap", "pcap_replay of the file")
            if diff:
                bad.append("%s: %s" % (os.path.basename(p), diff))
        missing = len(cap.names) - len(paths)
        self.report.check(case, not bad and paths, lambda: "%d of %d files:\n%s" % (
            len(bad), len(paths), "\n".join(bad[:5])) if paths else "no file to replay",
            note="%d files, %d stream directions%s" % (
                len(paths), sum(len(cap.lines[c]) for c in paths.values()),
                "; %d connections have no file (see file_names)" % missing if missing else ""))

    def replay_appliance(self, case, cap, run):
        """Every file through the appliance, PORTS_PER_RUN files (ports) per run: gencap's
        rows of those connections (MODEL_KEYS)."""
        items = [(os.path.join(run.outdir, n), c) for n, c in sorted(cap.names.items())
                 if n in run.files]
        bad, t0, runs = [], time.monotonic(), 0
        for i in range(0, len(items), PORTS_PER_RUN):
            batch = items[i:i + PORTS_PER_RUN]
            jsonl = os.path.join(self.work, "%s.replay%d.jsonl" % (cap.name, i))
            if os.path.exists(jsonl):
                os.unlink(jsonl)
            vdevs = ["net_pcap%d,rx_pcap=%s" % (j, p) for j, (p, _) in enumerate(batch)]
            res = self.reasm.run(vdevs, ["--sink", "jsonl:" + jsonl] + APP_ARGS, RUN_TIMEOUT,
                                 lcores=LC1)
            runs += 1
            objs, errs = appliance.read_jsonl(jsonl)
            if res.rc != 0 or errs:
                bad.append("replay of %d files: %s\n%s" % (len(batch), "; ".join(errs[:3]),
                                                           res.describe()))
                continue
            want = [r for _, c in batch for r in cap.rows[c]]
            diff = appliance.multiset_diff(appliance.multiset(want, MODEL_KEYS),
                                           appliance.multiset(objs, MODEL_KEYS), MODEL_KEYS,
                                           "gencap", "reasm on the files")
            if diff:
                bad.append(diff)
        self.times[case] = time.monotonic() - t0
        self.report.check(case, not bad and items, lambda: "\n".join(bad[:3]) if items else
                          "no file to replay", note="%d files in %d runs" % (len(items), runs))

    # ---- plain ----------------------------------------------------------------------

    def plain(self, cap):
        w1 = self.run("plain.w1", cap, LC1, ",max-open=%d" % MAX_OPEN)
        self.check_exit("plain.w1.", w1)
        if not w1.ran():
            for c in CASES:
                if c.startswith("plain.w1.") and c != "plain.w1.exit_ok":
                    self.report.add(c, "the run failed (see plain.w1.exit_ok)")
        else:
            self.report.add("plain.w1.jsonl_matches_expected", appliance.multiset_diff(
                appliance.multiset(cap.all_rows(), MODEL_KEYS),
                appliance.multiset(w1.objs, MODEL_KEYS), MODEL_KEYS, "gencap", "reasm"))
            self.check_names("plain.w1.file_names", cap, w1)
            self.check_headers("plain.w1.file_headers", w1)
            self.report.add("plain.w1.frames_conserved", records_diff(
                cap.tcp_frames(), self.all_records(w1)), note="%d TCP frames of %d" % (
                    len(cap.tcp_frames()), len(cap.frames)))
            self.check_order("plain.w1.per_file_capture_order", cap, w1)
            lru, reo, cre = (w1.ctr(k) for k in ("pcap_files_closed_lru", "pcap_files_reopened",
                                                  "pcap_files_created"))
            probs = []
            if not lru:
                probs.append("pcap_files_closed_lru %s, want > 0" % lru)
            if not reo:
                probs.append("pcap_files_reopened %s, want > 0" % reo)
            if cre != len(w1.files):
                probs.append("pcap_files_created %s, DIR holds %d files" % (cre, len(w1.files)))
            if w1.fds.peak > MAX_OPEN:
                probs.append("reasm held %d files of DIR open at once" % w1.fds.peak)
            self.report.check("plain.w1.max_open_bound", not probs, lambda: "; ".join(probs) +
                              " (max-open=%d, %d connections; %s)" % (
                                  MAX_OPEN, len(cap.names), w1.fds.text(MAX_OPEN)),
                              note=w1.fds.text(MAX_OPEN))
            self.check_lru("plain.w1.lru_model", [[file_name(k) for k in cap.conns if k]], w1,
                           MAX_OPEN)
            self.check_counters("plain.w1.counters", cap, w1)
            self.replay_library("plain.w1.files_replay_library", cap, w1)
            self.replay_appliance("plain.w1.files_replay_appliance", cap, w1)

        w2 = self.run("plain.w2", cap, LC2, ",max-open=%d" % MAX_OPEN)
        self.check_exit("plain.w2.", w2)
        if not w2.ran():
            for c in CASES:
                if c.startswith("plain.w2.") and c != "plain.w2.exit_ok":
                    self.report.add(c, "the run failed (see plain.w2.exit_ok)")
            return w1, {}
        if w1.ran():
            a = {n: collections.Counter(f.records) for n, f in w1.files.items() if f}
            b = {n: collections.Counter(f.records) for n, f in w2.files.items() if f}
            diff = [n for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
            self.report.check("plain.w2.same_files_as_w1", not diff, lambda: "%d files differ "
                              "(names or records): %s" % (len(diff), diff[:10]),
                              note="%d files" % len(b))
        else:
            self.report.add("plain.w2.same_files_as_w1", "no 1-worker files to compare (see "
                            "plain.w1.exit_ok)")
        self.check_order("plain.w2.per_file_capture_order", cap, w2)
        self.report.check("plain.w2.open_files_bound", w2.fds.peak <= MAX_OPEN,
                          lambda: "2 workers, max-open=%d (one writer thread): %s" % (
                              MAX_OPEN, w2.fds.text(MAX_OPEN)), note=w2.fds.text(MAX_OPEN))
        # The worker of each connection: the jsonl says; one without a line (no stream)
        # takes the symmetric RSS hash's (reasmkit.rss).
        worker, guessed_conns = {}, set()
        for o in w2.objs:
            worker[row_conn(o)] = o.get("worker")
        used = set()
        for (ts, f), k in zip(cap.frames, cap.conns):
            if k is None:
                continue
            if k not in worker:
                worker[k] = rss.frame_worker(f, 2)
                guessed_conns.add(k)
            used.add(worker[k])
        # One writer keeps max-open files for all workers; how the workers' frames
        # interleave in it varies from run to run, so the LRU counts do too. What holds
        # whatever the order: every close at the bound is followed by an open, so
        # created + reopened == closed_lru + the files open at the end (max-open here).
        got = {k: w2.ctr(k) for k in ("pcap_files_created", "pcap_files_reopened",
                                       "pcap_files_closed_lru")}
        probs = []
        if None in got.values():
            probs.append("counters missing: %s" % got)
        elif got["pcap_files_created"] + got["pcap_files_reopened"] != \
                got["pcap_files_closed_lru"] + min(MAX_OPEN, len(cap.names)):
            probs.append("created + reopened != closed_lru + %d: %s" % (
                min(MAX_OPEN, len(cap.names)), got))
        elif got["pcap_files_closed_lru"] == 0:
            probs.append("the bound was never hit: %s" % got)
        if sorted(used) != [0, 1]:
            probs.append("workers given connections: %s, want [0, 1]" % sorted(used))
        self.report.check("plain.w2.lru_bound_shared", not probs, lambda: "; ".join(probs),
                          note="%s" % got)
        self.check_counters("plain.w2.counters", cap, w2)
        return w1, {k: w for k, w in worker.items() if k not in guessed_conns}

    # ---- tunnels --------------------------------------------------------------------

    def tunnels(self, cap):
        r = self.run("tunnels.w1", cap, LC1, ",max-open=1")
        self.check_exit("tunnels.w1.", r)
        if not r.ran():
            for c in ("files_match_generator", "counters", "open_files_bound",
                      "files_replay_library"):
                self.report.add("tunnels.w1." + c, "the run failed (see tunnels.w1.exit_ok)")
            return
        want, got = set(cap.names), set(r.files)
        probs = []
        if want != got:
            probs.append("file names: missing %s; unexpected %s" % (
                sorted(want - got)[:10] or "none", sorted(got - want)[:10] or "none"))
        for name, conn in sorted(cap.names.items()):
            f = r.files.get(name)
            if f is None:
                continue
            if f.problems:
                probs.append("%s: %s" % (name, "; ".join(f.problems[:3])))
            if f.records != cap.by_conn[conn]:
                probs.append("%s (%s): %s" % (name, conn_text(conn), records_diff(
                    cap.by_conn[conn], f.records) or "the right frames in another order"))
        self.report.check("tunnels.w1.files_match_generator", not probs,
                          lambda: "\n".join(probs[:8]), note="%d files" % len(got))
        self.check_counters("tunnels.w1.counters", cap, r)
        self.report.check("tunnels.w1.open_files_bound", r.fds.peak <= 1,
                          lambda: "max-open=1: " + r.fds.text(1), note=r.fds.text(1))
        self.replay_library("tunnels.w1.files_replay_library", cap, r)

    # ---- bad configuration ----------------------------------------------------------

    def bad_config(self, cap):
        vdev = "net_pcap0,rx_pcap=" + cap.path
        jsonl = os.path.join(self.work, "bad.jsonl")
        missing = os.path.join(self.work, "no-such-dir")
        a_file = os.path.join(self.work, "a-file")
        with open(a_file, "w") as f:
            f.write("not a directory\n")
        ok_dir = self.outdir("bad.out")
        cases = [
            ("missing_parent", "pcap:" + os.path.join(missing + "2", "sub"),
             [os.path.join(missing + "2", "sub")]),
            ("dir_is_file", "pcap:" + a_file, [a_file]),
            ("empty_dir", "pcap:", []),
            ("max_open_0", "pcap:%s,max-open=0" % ok_dir, ["pcap"]),
            ("max_open_abc", "pcap:%s,max-open=abc" % ok_dir, ["pcap"]),
            ("max_open_65537", "pcap:%s,max-open=65537" % ok_dir, ["pcap"]),
            ("max_open_70000", "pcap:%s,max-open=70000" % ok_dir, ["pcap"]),
            ("unknown_key", "pcap:%s,bogus=1" % ok_dir, ["pcap"]),
        ]
        # DIR missing, its parent there: created (one level, as the files sink does).
        res = self.reasm.run([vdev], ["--sink", "pcap:" + missing, "--sink", "jsonl:" + jsonl] +
                             APP_ARGS, RUN_TIMEOUT, lcores=LC1)
        made = sorted(os.listdir(missing)) if os.path.isdir(missing) else None
        self.report.check("bad_config.missing_dir_created", res.rc == 0 and made == sorted(
            cap.names), lambda: "exit %s, %s holds %s, want the %d files\n%s" % (
                res.rc, missing, None if made is None else made[:5], len(cap.names),
                res.describe()))
        for name, sink, words in cases:
            res = self.reasm.run([vdev], ["--sink", sink, "--sink", "jsonl:" + jsonl] +
                                 APP_ARGS, RUN_TIMEOUT, lcores=LC1)
            msgs = [x for x in res.stderr.splitlines() if x.startswith("reasm:")]
            probs = []
            if res.rc != 2:
                probs.append("exit status %s, want 2" % res.rc)
            if not msgs:
                probs.append("no 'reasm: ...' message on stderr")
            else:
                for w in words:
                    if not any(w in m for m in msgs):
                        probs.append("no 'reasm:' message names %r" % w)
            if os.listdir(ok_dir):
                probs.append("files written to %s: %s" % (ok_dir, os.listdir(ok_dir)[:5]))
            self.report.check("bad_config." + name, not probs, lambda: "--sink %s: %s\n%s" % (
                sink, "; ".join(probs), res.describe()))

    # ---- a directory that already holds files ---------------------------------------

    def keepalive(self, tag, cap, outdir, sink_opts, lcores, workers, want_pkts):
        """cap on port 0 and UDP for ever on port 1 (so reasm does not end by itself):
        /reasm/stats and /reasm/lcore,W+1 of each worker W once pcap_pkts reached
        want_pkts and stays there (0.5 s; 3 s if it stops short), then SIGINT.
        Returns (stats, {worker: lcore answer}, RunResult, why there is no stats or None)."""
        udp = os.path.join(self.work, "udp-forever.pcap")
        pcap.write(udp, [(1700000000 * 10**9 + k * 1000, frames.udp_frame(
            "198.51.100.1", 5353, "198.51.100.2", 53, b"u" * 60)) for k in range(8)])
        bg = self.reasm.start(["net_pcap0,rx_pcap=" + cap.path,
                               "net_pcap1,rx_pcap=%s,infinite_rx=1" % udp],
                              ["--sink", "pcap:" + outdir + sink_opts, "--sink",
                               "jsonl:" + os.path.join(self.work, tag + ".jsonl")] + APP_ARGS,
                              lcores=lcores)
        t0 = time.monotonic()
        st, per, why = None, {}, None
        try:
            tel = bg.telemetry()
            if tel is None:
                why = "no telemetry (reasm died?)"
            else:
                deadline, last, since = time.monotonic() + 20, None, time.monotonic()
                while time.monotonic() < deadline:
                    cur = (tel.query("/reasm/stats") or {}).get("pcap_pkts")
                    still = time.monotonic() - since
                    if cur != last:
                        last, since = cur, time.monotonic()
                    elif still > 3 or (cur is not None and cur >= want_pkts and still > 0.5):
                        break
                    time.sleep(0.05)
                st = tel.query("/reasm/stats")
                per = {w: tel.query("/reasm/lcore,%d" % (w + 1)) for w in range(workers)}
                tel.close()
        except (OSError, ValueError) as e:
            why = "telemetry: %s: %s" % (type(e).__name__, e)
        res = bg.stop(signal.SIGINT, timeout=30)
        self.times[tag] = time.monotonic() - t0
        if why is None and not isinstance(st, dict):
            why = "/reasm/stats answered %r" % (st,)
        return st, per, res, why

    def check_stop(self, case, res, want_rc=0, want_msg=None):
        """SIGINT: exit @want_rc, a summary and the pcap sink line (and a "reasm:" message
        on stderr with @want_msg in it)."""
        probs = []
        if res.rc != want_rc or res.timed_out:
            probs.append("exit status %s%s, want %d" % (
                res.rc, " (killed)" if res.timed_out else "", want_rc))
        if appliance.parse_summary(res.stdout) is None:
            probs.append("no summary")
        line = pcap_line(res.stdout)
        if line is None:
            probs.append("no 'reasm: pcap sink:' line")
        msgs = [x for x in res.stderr.splitlines() if x.startswith("reasm:")]
        if want_msg and not any(want_msg in m for m in msgs):
            probs.append("no 'reasm:' message on stderr says %r" % want_msg)
        self.report.check(case, not probs, lambda: "; ".join(probs) + "\n" + res.describe(),
                          note="pcap sink: %s%s" % (
                              " ".join("%s=%d" % kv for kv in (line or {}).items()),
                              "; stderr: " + " | ".join(msgs[:3]) if msgs else ""))

    # ---- a directory that already holds files ---------------------------------------

    def existing(self, cap, w1):
        """Bad headers: counted in sink_write_errors, files left alone, reasm exits 1;
        a file of this format: appended to; every other file as usual. Default max-open."""
        d = self.outdir("existing.out")
        simple = sorted((len(fr), file_name(k), k) for k, fr in cap.by_conn.items()
                        if len(cap.rows[k]) <= 2)
        # Three connections with few frames, none reused: two bad files, one good one.
        (_, bad_text, _), (_, bad_us, _), (_, good, good_conn) = simple[:3]
        with open(os.path.join(d, bad_text), "wb") as f:
            f.write(b"this is not a capture file\n" * 3)
        pcap.write(os.path.join(d, bad_us), cap.by_conn[simple[1][2]][:1], snaplen=SNAPLEN)
        src = os.path.join(self.work, "plain.w1.out", good)
        if w1 is not None and w1.ran() and w1.files.get(good) and not w1.files[good].problems:
            shutil.copyfile(src, os.path.join(d, good))
            good_from = "plain.w1's file, %d records" % len(w1.files[good].records)
        else:  # no usable 1-worker file: a header of this format, no record
            with open(os.path.join(d, good), "wb") as f:
                f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, SNAPLEN, 1))
            good_from = "a header only (plain.w1 gave no file)"
        before = {}
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                before[n] = f.read()
        bad_conns = {simple[0][2], simple[1][2]}
        want_pkts = sum(len(fr) for k, fr in cap.by_conn.items() if k not in bad_conns)

        st, per, res, why = self.keepalive("existing", cap, d, "", LC1, 1, want_pkts)
        if why is not None:
            self.report.add("existing.write_errors_counted", why + "\n" + res.describe())
        else:
            lc = per.get(0) if isinstance(per.get(0), dict) else {}
            probs = []
            if not (st.get("sink_write_errors") or 0) >= 2:
                probs.append("/reasm/stats sink_write_errors %s, want >= 2 (two files of "
                             "another format)" % st.get("sink_write_errors"))
            if lc.get("sink_write_errors") != st.get("sink_write_errors"):
                probs.append("/reasm/lcore,1 sink_write_errors %s, /reasm/stats %s" % (
                    lc.get("sink_write_errors"), st.get("sink_write_errors")))
            if st.get("pcap_pkts") != want_pkts:
                probs.append("pcap_pkts %s, want %d (the TCP frames of the other connections)"
                             % (st.get("pcap_pkts"), want_pkts))
            if st.get("pcap_files_closed_lru") != 0:
                probs.append("pcap_files_closed_lru %s, want 0 (default max-open 64, %d "
                             "files)" % (st.get("pcap_files_closed_lru"), len(cap.names)))
            shown = {k: v for k, v in st.items() if k.startswith(("pcap_", "sink_write"))}
            self.report.check("existing.write_errors_counted", not probs,
                              lambda: "; ".join(probs) + "; /reasm/stats: %s" % shown,
                              note="/reasm/stats: %s" % shown)
        # Frames that could not be written are failed writes: exit status 1, as for every
        # sink (docs/appliance.md), with the file named once on stderr.
        self.check_stop("existing.exit_ok", res, want_rc=1, want_msg="not a pcap file")

        files = read_dir(d)
        probs = []
        for n in (bad_text, bad_us):
            p = os.path.join(d, n)
            now = None
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    now = f.read()
            if now != before[n]:
                probs.append("%s: %s" % (n, "removed" if now is None else
                                         "%d bytes before, %d after" % (len(before[n]),
                                                                        len(now))))
        self.report.check("existing.bad_files_untouched", not probs, lambda: "; ".join(probs))

        gpath = os.path.join(d, good)
        now = b""
        if os.path.isfile(gpath):
            with open(gpath, "rb") as f:
                now = f.read()
        old = before[good]
        probs = []
        if not now.startswith(old):
            probs.append("the file's first %d bytes (what it held) were not kept: now %d bytes"
                         % (len(old), len(now)))
        else:
            tmp = os.path.join(self.work, "appended-part.pcap")
            with open(tmp, "wb") as f:
                f.write(old[:24] + now[len(old):])
            part = OutFile(tmp)
            if part.problems:
                probs.append("what was appended: " + "; ".join(part.problems[:3]))
            if part.records != cap.by_conn[good_conn]:
                probs.append("appended: %s" % (records_diff(cap.by_conn[good_conn],
                                                            part.records) or "another order"))
        self.report.check("existing.good_file_appended", not probs,
                          lambda: "%s (%s, held %s): %s" % (good, conn_text(good_conn),
                                                            good_from, "; ".join(probs)),
                          note="held %s" % good_from)

        probs = []
        want_names = set(cap.names)
        if set(files) != want_names:
            probs.append("names: missing %s; unexpected %s" % (
                sorted(want_names - set(files))[:5] or "none",
                sorted(set(files) - want_names)[:5] or "none"))
        for name, conn in sorted(cap.names.items()):
            if name in (bad_text, bad_us, good) or files.get(name) is None:
                continue
            f = files[name]
            if f.problems or f.records != cap.by_conn[conn]:
                probs.append("%s: %s" % (name, "; ".join(f.problems[:3]) or records_diff(
                    cap.by_conn[conn], f.records) or "another order"))
        self.report.check("existing.other_files_fine", not probs,
                          lambda: "\n".join(probs[:8]),
                          note="%d other files" % (len(cap.names) - 3))

    # ---- telemetry --------------------------------------------------------------------

    def telemetry(self, cap, worker_of):
        """2 workers, max-open=4: /reasm/stats and /reasm/lcore,1 / ,2 once the capture is
        written, against the capture and the per-worker LRU model."""
        d = self.outdir("telemetry.out")
        seqs = collections.defaultdict(list)
        for (_, f), k in zip(cap.frames, cap.conns):
            if k is not None:
                seqs[worker_of[k] if k in worker_of else rss.frame_worker(f, 2)].append(k)
        model = {w: dict(lru_model([[file_name(k) for k in s]], MAX_OPEN),
                         pcap_pkts=len(s), pcap_bytes=sum(
                             len(f) for k in set(s) for _, f in cap.by_conn[k]))
                 for w, s in seqs.items()}
        want_pkts = len(cap.tcp_frames())
        st, per, res, why = self.keepalive("telemetry", cap, d, ",max-open=%d" % MAX_OPEN,
                                           LC2, 2, want_pkts)
        keys = PCAP_COUNTERS + ("sink_write_errors",)
        if why is not None:
            for c in ("counters", "per_worker_frames"):
                self.report.add("telemetry." + c, why + "\n" + res.describe())
        else:
            probs = ["/reasm/stats lacks " + k for k in keys if k not in st]
            for w, lc in per.items():
                if not isinstance(lc, dict):
                    probs.append("/reasm/lcore,%d answered %r" % (w + 1, lc))
                else:
                    probs += ["/reasm/lcore,%d lacks %s" % (w + 1, k) for k in keys
                              if k not in lc]
            if not probs:
                # pcap_not_tcp moves between the reads (UDP for ever): left out.
                for k in keys:
                    total = sum(lc[k] for lc in per.values())
                    if k != "pcap_not_tcp" and total != st[k]:
                        probs.append("%s: lcores 1 + 2 give %d, /reasm/stats %d" % (
                            k, total, st[k]))
                want = {"pcap_pkts": want_pkts, "pcap_bytes": sum(
                    len(f) for _, f in cap.tcp_frames()), "pcap_files_created": len(
                        cap.names), "sink_write_errors": 0}
                probs += ["/reasm/stats %s %d, want %d" % (k, st[k], v)
                          for k, v in want.items() if st[k] != v]
                if st["pcap_not_tcp"] < cap.not_tcp():
                    probs.append("/reasm/stats pcap_not_tcp %d, want >= %d" % (
                        st["pcap_not_tcp"], cap.not_tcp()))
            self.report.check("telemetry.counters", not probs, lambda: "; ".join(probs) +
                              "\n/reasm/stats: %s" % {k: st.get(k) for k in keys})
            for case, names in (("per_worker_frames", ("pcap_pkts", "pcap_bytes",
                                                       "pcap_files_created")),):
                probs, notes = [], []
                for w in (0, 1):
                    lc = per.get(w) if isinstance(per.get(w), dict) else {}
                    want = {k: model.get(w, {}).get(k, 0) for k in names}
                    got = {k: lc.get(k) for k in names}
                    notes.append("lcore %d: %s" % (w + 1, want))
                    if got != want:
                        probs.append("worker %d (lcore %d): the model (its connections, an LRU "
                                     "of %d files per worker) gives %s, telemetry %s" % (
                                         w, w + 1, MAX_OPEN, want, got))
                if sorted(model) != [0, 1]:
                    probs.append("connections on workers %s only" % sorted(model))
                self.report.check("telemetry." + case, not probs, lambda: "\n".join(probs),
                                  note="; ".join(notes))
        self.check_stop("telemetry.exit_ok", res)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    ap.add_argument("--work-dir", help="where captures and outputs go (default: a new "
                    "temporary folder, removed when every case passed)")
    ap.add_argument("--replay", help="tests/pcap_replay of the same build (default: "
                    "the folder above reasm's, tests/pcap_replay)")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_pcap_sink.xml")
    if args.replay is None:
        args.replay = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
            args.reasm)), "..", "tests", "pcap_replay"))
    keep = args.work_dir is not None
    args.work_dir = os.path.abspath(args.work_dir or tempfile.mkdtemp(prefix="reasm_e2e_pcap_"))
    os.makedirs(args.work_dir, exist_ok=True)
    if not os.access(args.reasm, os.X_OK):
        report.add("reasm_present", "%s is not an executable" % args.reasm)
        return report.finish()
    t = PcapSinkTest(args, report)
    why = t.support()
    if why is not None:
        for c in CASES:
            report.cases.append(gtest.Case(c, skipped=why))
        print("skip   every case: %s" % why)
        rc = report.finish()
        if not keep:
            shutil.rmtree(args.work_dir, ignore_errors=True)
        return rc
    plain = make_plain(args.work_dir, report)
    w1, worker_of = None, {}
    if plain is None:
        for c in CASES:
            if c.startswith(("plain.w", "bad_config.", "existing.", "telemetry.")):
                report.add(c, "no capture (see plain.generator)")
    else:
        w1, worker_of = t.plain(plain)
    tun = make_tunnels(args.work_dir, report)
    if tun is None:
        for c in CASES:
            if c.startswith("tunnels.w1."):
                report.add(c, "no capture (see tunnels.generator)")
    else:
        t.tunnels(tun)
    if plain is not None:
        t.bad_config(plain)
        t.existing(plain, w1)
        t.telemetry(plain, worker_of)
    print("run times: %s" % ", ".join("%s %.1fs" % kv for kv in t.times.items()))
    return report.finish_with_work_dir(args.work_dir, keep)


if __name__ == "__main__":
    sys.exit(main())
