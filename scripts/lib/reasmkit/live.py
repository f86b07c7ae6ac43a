# SPDX-License-Identifier: BSD-3-Clause
"""reasm on live traffic in a namespace test bed (reasmkit.netns), and what to compare.

- NetnsReasm: appliance.Reasm run as `ip netns exec NS reasm ...` (the Popen's pid is
  reasm's: `ip netns exec` execs it); its RUNTIME_DIR/PREFIX is removed after each run
  and registered with the bed's cleanup. af_packet_vdev() and lcores_for() build the
  EAL arguments: net_af_packet on the bed's interface, main lcore + N workers on 2 CPUs.
- rx_option(): whether the binary has --rx (auto|direct|spread), from its --help.
- wait_quiescent(): polls /reasm/stats until the receive counters stop moving (bounded).
- drop_report(): every figure saying whether frames were lost on the way to the sinks
  (kernel ring drops per AF_PACKET socket, the veth's drops, reasm's port and ring
  counters), for failure messages.
- compare_truth(): reasm's jsonl against tests/live/tcp_traffic.py's truth (every
  direction byte-exact, no skip).
- remap_ipv4_capture(): a copy of a gencap capture and its expected jsonl with every IPv4
  address outside 198.18.0.0/15 moved inside it (checksums adjusted), so injected frames
  carry only the test bed's address ranges; max_frame_len(); compare_expected():
  gencap's expectation against reasm's jsonl, as multisets (as tests/e2e/run_e2e.py).
- JsonlWatcher: the lines a running reasm has written so far, with when each appeared
  (the wall-clock timers).
- gencap_copies(): N copies of a gencap capture, each with addresses of its own (new
  streams every copy), with gopacket's expectation and bytes per direction;
  compare_with_losses(): reasm's jsonl after frames were lost on the way against it
  (every line exact, marked by skips, or exactly the first bytes of its direction).
- NetnsReasm(huge_dir=DIR): hugepages (a hugetlbfs of reasmkit.hugepages) instead of
  --no-huge, for DPDK secondary processes (dpdk-dumpcap, dpdk-proc-info).
"""
import collections
import hashlib
import ipaddress
import json
import os
import struct
import subprocess
import time

from . import appliance, pcap, telemetry

# Keys compared with gencap's expectation (what gopacket tcpassembly delivers).
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]


def lcores_for(workers):
    """--lcores for the main lcore + `workers` workers on CPUs 0 and 1."""
    return "(0-%d)@(0,1)" % workers


def af_packet_vdev(iface, qpairs, framecnt=16384, framesz=2048, blocksz=4096,
                   name="net_af_packet0"):
    """The --vdev argument for net_af_packet on iface (one TPACKET ring per queue pair:
    framecnt frames of framesz bytes; a frame longer than framesz - 66 is cut)."""
    return "%s,iface=%s,qpairs=%d,framecnt=%d,framesz=%d,blocksz=%d" % (
        name, iface, qpairs, framecnt, framesz, blocksz)


class NetnsReasm(appliance.Reasm):
    """appliance.Reasm inside a namespace of a netns.VethPair (side "a" or "b")."""

    def __init__(self, exe, bed, tag, side="b", mem_mb=1024, huge_dir=None):
        super().__init__(exe, tag)
        self.bed, self.side, self.mem_mb = bed, side, mem_mb
        self.huge_dir = huge_dir

    def new_prefix(self):
        self.n += 1
        prefix = "reasm_live_%s_%d_%d" % (self.tag, os.getpid(), self.n)
        self.bed.on_cleanup(os.path.join(telemetry.runtime_dir(), prefix))
        return prefix

    def command(self, prefix, vdevs, app_args, lcores=appliance.Reasm.LCORES_2_WORKERS):
        # Hugepages (huge_dir: a hugetlbfs of the caller's) for secondary processes.
        # Not --huge-unlink: with it DPDK 22.11's secondaries cannot map the primary's
        # memory ("Could not map memory from primary process").
        mem = ["--no-huge"] if self.huge_dir is None else ["--huge-dir", self.huge_dir]
        cmd = [self.exe] + mem + ["-m", str(self.mem_mb), "--no-pci",
                                  "--file-prefix=" + prefix, "--lcores", lcores,
                                  "--log-level=error"]
        cmd += ["--vdev=" + v for v in vdevs]
        return self.bed.exec_cmd(self.side, cmd + ["--"] + list(app_args))


def rx_option(exe):
    """(True, "") when `reasm -- --help` lists --rx, else (False, why)."""
    prefix = "reasm_live_help_%d" % os.getpid()
    cmd = [exe, "--no-huge", "-m", "64", "--no-pci", "--file-prefix=" + prefix, "-l", "0",
           "--log-level=error", "--", "--help"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, errors="replace")
        text = r.stdout + r.stderr
    except (OSError, subprocess.SubprocessError) as e:
        return False, "cannot run %s --help: %s" % (exe, e)
    finally:
        appliance.Reasm.cleanup(prefix)
    if "--rx" in text:
        return True, ""
    return False, "this reasm has no --rx option (its -- --help does not list it)"


def stats(tel):
    try:
        s = tel.query("/reasm/stats")
        return s if isinstance(s, dict) else {}
    except (OSError, ValueError):
        return {}


def wait_quiescent(tel, keys=("port_rx_pkts", "rx_pkts"), settle=0.6, timeout=30.0,
                   minimum=None):
    """Poll /reasm/stats until the sum of keys has not moved for settle seconds (and is
    at least minimum when given) or timeout passes; returns (stats, settled)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    s = {}
    while time.monotonic() < deadline:
        s = stats(tel)
        v = tuple(s.get(k, 0) for k in keys)
        now = time.monotonic()
        if v != last:
            last, since = v, now
        elif now - since >= settle and (minimum is None or sum(v) >= minimum):
            return s, True
        time.sleep(0.1)
    return s, False


DROP_KEYS = ("port_rx_pkts", "port_rx_missed", "port_rx_nombuf", "port_rx_errors",
             "dist_pkts", "dist_ring_full", "rx_pkts", "table_full_pkts")
DROP_WORDS = ("drop", "miss", "lost", "full", "nombuf", "error", "rollover")
DROP_PREFIXES = ("port_", "dist_", "rx_", "af_packet", "queue")


def drop_counters(tel_stats):
    """The counters of /reasm/stats that say where frames went or were lost (those of
    DROP_KEYS, and any other whose name says drop/miss/lost/full/... or starts with
    port_/dist_/rx_: counters added later show up without a change here)."""
    return {k: v for k, v in (tel_stats or {}).items()
            if k in DROP_KEYS or k.startswith(DROP_PREFIXES) or
            any(w in k for w in DROP_WORDS)}


def frames_on(bed, side, before):
    """Frames that crossed that end of the veth (received + sent) since `before`
    (a bed.link_stats() taken earlier): what af_packet on it should have seen."""
    after = bed.link_stats(side)
    return (after.get("rx_packets", 0) - before.get("rx_packets", 0) +
            after.get("tx_packets", 0) - before.get("tx_packets", 0))


def drop_report(bed, side, tel_stats=None, summary_stdout=None, wire_frames=None):
    """Text: what could have lost frames between the veth and reasm's sinks.

    The kernel's TPACKET ring drops are not visible from outside reasm (sk_drops does
    not count them; PACKET_STATISTICS would reset reasm's own reading): wire_frames (the
    veth's count, frames_on()) minus reasm's port_rx_pkts shows them.
    """
    lines = []
    if tel_stats:
        dc = drop_counters(tel_stats)
        lines.append("telemetry: " + ", ".join("%s %s" % (k, dc[k]) for k in sorted(dc)))
    if wire_frames is not None and tel_stats:
        rx = tel_stats.get("port_rx_pkts", 0)
        lines.append("frames that crossed %s: %d; reasm's port received %d: %d not received "
                     "(a full af_packet ring, or not polled yet)" % (
                         bed.ifname(side), wire_frames, rx, wire_frames - rx))
    if summary_stdout:
        for line in summary_stdout.splitlines():
            if line.startswith("reasm: ports:") or "dropped" in line:
                lines.append(line)
    lines.append("%s link (rx_dropped: frames B's stack dropped after the taps, e.g. VLAN "
                 "tags without a VLAN device): %s" % (bed.ifname(side), bed.link_stats(side)))
    return "\n".join(lines)


# ---- real traffic: the truth of tests/live/tcp_traffic.py -----------------------

def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def key_of(o):
    return (o["src"], o["sport"], o["dst"], o["dport"])


def _is_slice(data, n, sha_hex):
    """Whether some n consecutive bytes of data have that SHA-256."""
    mv = memoryview(data)
    for off in range(0, len(data) - n + 1):
        if hashlib.sha256(mv[off:off + n]).hexdigest() == sha_hex:
            return True
    return False


# The direction whose end flag must be true, per ending (the reset's sender only).
END_TRUE = {"fin": ("c2s", "s2c"), "half_close": ("c2s", "s2c"), "rst_client": ("c2s",),
            "rst_server": ("s2c",)}


def compare_truth(truth, objs, payload_of=None, limit=12, check_end=True,
                  allow_empty_after=False):
    """(problems, info): every stream direction of truth against reasm's jsonl objects.

    A direction passes when reasm has one line for its 4-tuple with start true and the
    same bytes and sha256 as the truth, no skip of any kind (skips, skip_unknown,
    skipped_bytes all 0), and end true for FIN endings and for the direction that sent the
    RST. More lines for the same 4-tuple are allowed only as gopacket makes them: a
    segment retransmitted after the direction closed opens a new stream (start false,
    skip_unknown 1); their bytes must be a piece of the payload (payload_of(truth row)
    gives it; without it such lines are problems), or, when the retransmission itself had
    holes (skipped_bytes > 0: a retransmission timeout resends a window piecemeal), no
    more than the payload with the holes. check_end=False leaves the end flags
    unchecked (a run stopped before the last FINs). allow_empty_after: lines of 0 bytes
    with start false are allowed too (a FIN or ACK after the direction was flushed for
    idleness), counted in info["empty_after"]. problems: one text per failing
    direction, the first `limit` of them. info: directions, mismatched (how many failed),
    bytes, lines outside the truth, late retransmission streams, end flags per ending and
    direction.
    """
    idx = collections.defaultdict(list)
    for o in objs:
        idx[key_of(o)].append(o)
    problems = []
    ends = collections.Counter()
    late = empty_after = 0
    for t in truth:
        k = key_of(t)
        got = idx.get(k, [])
        where = "conn %d %s %s %s:%d -> %s:%d (%d bytes)" % (
            t["conn"], t["dir"], t["ending"], t["src"], t["sport"], t["dst"], t["dport"],
            t["bytes"])
        main = [o for o in got if o.get("start") is True]
        rest = [o for o in got if o.get("start") is not True]
        if len(main) != 1:
            problems.append("%s: %d jsonl lines, %d with start true%s" % (
                where, len(got), len(main), "".join(
                    "\n    got bytes %s skips %s skip_unknown %s start %s sha %s" % (
                        o.get("bytes"), o.get("skips"), o.get("skip_unknown"),
                        o.get("start"), str(o.get("sha256"))[:12]) for o in got)))
            continue
        o = main[0]
        bad = []
        if o.get("bytes") != t["bytes"]:
            bad.append("bytes %s != %d" % (o.get("bytes"), t["bytes"]))
        if o.get("sha256") != t["sha256"]:
            bad.append("sha256 differs")
        for f in ("skips", "skip_unknown", "skipped_bytes"):
            if o.get(f) != 0:
                bad.append("%s %s" % (f, o.get(f)))
        if check_end and t["dir"] in END_TRUE.get(t["ending"], ()) and \
                o.get("end") is not True:
            bad.append("end %s" % o.get("end"))
        for r in rest:
            if allow_empty_after and r.get("bytes") == 0 and r.get("skipped_bytes", 0) == 0:
                empty_after += 1
                continue
            data = payload_of(t) if payload_of else None
            n = r.get("bytes", -1)
            holes = r.get("skipped_bytes", 0)
            # With holes the line's SHA-256 is of pieces joined: only its size can be checked.
            piece_ok = data is not None and (
                n + holes <= len(data) if holes > 0 else _is_slice(data, n, r.get("sha256")))
            if data is None or not (0 < n <= len(data)) or r.get("skip_unknown") != 1 or \
                    r.get("first_seen", 0) < o.get("last_seen", 0) or not piece_ok:
                bad.append("another stream of %s bytes (start %s, skip_unknown %s) that is "
                           "not a late retransmission of this direction's bytes" % (
                               n, r.get("start"), r.get("skip_unknown")))
            else:
                late += 1
        if bad:
            problems.append("%s: %s (records %s, received %s, overlap %s)" % (
                where, ", ".join(bad), o.get("records"), o.get("received"), o.get("overlap")))
        ends[(t["ending"], t["dir"], o.get("end"))] += 1
    truth_keys = {key_of(t) for t in truth}
    extra = [o for o in objs if key_of(o) not in truth_keys]
    info = {"directions": len(truth), "mismatched": len(problems), "extra_lines": len(extra),
            "late_retransmissions": late, "empty_after": empty_after,
            "ends": {"%s/%s/end=%s" % k: v for k, v in sorted(ends.items(), key=str)},
            "bytes": sum(t["bytes"] for t in truth)}
    if len(problems) > limit:
        problems = problems[:limit] + ["... and %d more" % (len(problems) - limit)]
    return problems, info


# ---- injected captures -----------------------------------------------------------

_NET_OK = ipaddress.ip_network("198.18.0.0/15")


def _csum_adjust(cs, old, new):
    """RFC 1624: the checksum cs after the 16-bit words old are replaced by new."""
    s = ~cs & 0xFFFF
    for i in range(0, len(old), 2):
        s += ~int.from_bytes(old[i:i + 2], "big") & 0xFFFF
        s += int.from_bytes(new[i:i + 2], "big")
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ipv4_offset(frame):
    """Offset of the IPv4 header behind any VLAN tags, or None."""
    off = 12
    while off + 2 <= len(frame):
        et = struct.unpack_from("!H", frame, off)[0]
        if et in (0x8100, 0x88A8, 0x9100):
            off += 4
            continue
        return off + 2 if et == 0x0800 else None
    return None


def remap_ipv4_capture(pcap_in, expected_in, pcap_out, expected_out, pool="198.19.0.0/16"):
    """Copy a capture and its expected jsonl, every IPv4 address outside 198.18.0.0/15
    replaced by the next free one of pool (in order of first appearance), IPv4 and TCP
    checksums adjusted. Returns the mapping {old text: new text}."""
    cap = pcap.read(pcap_in)
    net = ipaddress.ip_network(pool)
    free = (a for a in net.hosts())
    mapping = {}

    def new_addr(b):
        a = ipaddress.IPv4Address(b)
        if a in _NET_OK:
            return b
        if str(a) not in mapping:
            mapping[str(a)] = str(next(free))
        return ipaddress.IPv4Address(mapping[str(a)]).packed

    records = []
    for rec in cap.records:
        frame = bytearray(rec.data)
        off = _ipv4_offset(frame)
        if off is not None and off + 20 <= len(frame):
            ihl = (frame[off] & 0x0F) * 4
            old = bytes(frame[off + 12:off + 20])
            new = new_addr(old[:4]) + new_addr(old[4:])
            if new != old:
                frame[off + 12:off + 20] = new
                cs = struct.unpack_from("!H", frame, off + 10)[0]
                struct.pack_into("!H", frame, off + 10, _csum_adjust(cs, old, new))
                frag = struct.unpack_from("!H", frame, off + 6)[0] & 0x1FFF
                t = off + ihl
                if frame[off + 9] == 6 and frag == 0 and t + 18 <= len(frame):
                    cs = struct.unpack_from("!H", frame, t + 16)[0]
                    struct.pack_into("!H", frame, t + 16, _csum_adjust(cs, old, new))
        records.append(rec._replace(data=bytes(frame)))
    pcap.write_records(pcap_out, cap.header, cap.order, records)
    with open(expected_in, encoding="utf-8") as fin, \
            open(expected_out, "w", encoding="utf-8") as fout:
        for line in fin:
            if not line.strip():
                continue
            o = json.loads(line)
            for k in ("src", "dst"):
                o[k] = mapping.get(o[k], o[k])
            fout.write(json.dumps(o, separators=(",", ":")) + "\n")
    return mapping


def max_frame_len(path):
    return max((len(r.data) for r in pcap.read(path).records), default=0)


def compare_expected(expected, objs, keys=MODEL_KEYS, limit=8):
    """None when reasm's jsonl objects give exactly the expected stream directions
    (multisets of keys), else a failure text."""
    return appliance.multiset_diff(appliance.multiset(expected, keys),
                                   appliance.multiset(objs, keys), keys, "gopacket", "reasm",
                                   limit)


# ---- a jsonl file watched while reasm writes it ------------------------------------

class JsonlWatcher:
    """Reads the complete lines a running reasm has appended to its jsonl file so far,
    noting when each was first seen (time.time()): poll() often, lines[] holds
    (object, seen_at). A line not (yet) ending in a newline is left for the next poll."""

    def __init__(self, path):
        self.path, self.pos, self.partial = path, 0, b""
        self.lines, self.errors = [], []

    def poll(self):
        now = time.time()
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return 0
        self.pos += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        n = 0
        for raw in complete:
            if not raw.strip():
                continue
            try:
                self.lines.append((json.loads(raw.decode()), now))
                n += 1
            except (ValueError, UnicodeDecodeError) as e:
                self.errors.append("%s: %r" % (e, raw[:200]))
        return n


# ---- a gencap capture copied with other addresses (overload) -----------------------

def _l3(frame):
    """(offset, 4 or 6) of the IP header behind any VLAN tags, or (None, None)."""
    off = 12
    while off + 2 <= len(frame):
        et = struct.unpack_from("!H", frame, off)[0]
        if et in (0x8100, 0x88A8, 0x9100):
            off += 4
            continue
        if et == 0x0800:
            return off + 2, 4
        return (off + 2, 6) if et == 0x86DD else (None, None)
    return None, None


def _tcp_csum_offset(frame, off, fam):
    """Offset of the TCP checksum of the IPv4/IPv6 packet at off, or None (not TCP, a
    fragment, truncated)."""
    if fam == 4:
        if off + 20 > len(frame) or frame[off + 9] != 6:
            return None
        if struct.unpack_from("!H", frame, off + 6)[0] & 0x1FFF:
            return None
        t = off + (frame[off] & 0x0F) * 4
    else:
        nh, t = frame[off + 6], off + 40
        while nh in (0, 43, 44, 60) and t + 8 <= len(frame):
            if nh == 44:
                if struct.unpack_from("!H", frame, t + 2)[0] & 0xFFF8:
                    return None
                nh, t = frame[t], t + 8
            else:
                nh, t = frame[t], t + (frame[t + 1] + 1) * 8
        if nh != 6:
            return None
    return t + 16 if t + 18 <= len(frame) else None


def _v6_moved(packed, k):
    """IPv6 address packed moved for copy k: its third group + 0x100 * (k + 1)."""
    g = (struct.unpack_from("!H", packed, 4)[0] + 0x100 * (k + 1)) & 0xFFFF
    return packed[:4] + struct.pack("!H", g) + packed[6:]


def gencap_copies(gen_args, copies, pcap_out):
    """A gencap capture (gen_args: gencap's options without -o) written `copies` times
    one after the other into pcap_out, every copy with addresses of its own so that its
    streams are new ones: IPv4 addresses (in order of first appearance) into
    198.19.(4 k).0/22 (so at most 64 copies of up to 1,022 addresses), IPv6
    2001:db8:N:... into 2001:db8:N + 0x100 (k + 1):...; IPv4 and TCP checksums adjusted.
    Returns a dict: packets (all copies), per_copy, max_len, expected: gopacket's stream
    directions for every copy (gencap's model: the keys of its jsonl lines plus "data",
    the bytes delivered), features, connections."""
    from . import gencap  # noqa: PLC0415 - only this helper needs the generator
    if not 1 <= copies <= 64:
        raise ValueError("1 to 64 copies")
    opts = gencap.parse_args(["-o", pcap_out] + list(gen_args))
    conns, frames, model, _ = gencap.run(opts)
    base = []          # (ts, frame, ip offset, family, tcp checksum offset)
    for ts, fr in frames:
        off, fam = _l3(fr)
        if off is None or off + (20 if fam == 4 else 40) > len(fr):
            base.append((ts, fr, None, None, None))
            continue
        base.append((ts, fr, off, fam, _tcp_csum_offset(fr, off, fam)))
    span = (frames[-1][0] - frames[0][0] + 1000) if frames else 0
    out, expected = [], []
    for k in range(copies):
        hosts = ipaddress.ip_network("198.19.%d.0/22" % (4 * k)).hosts()
        m4 = {}

        def v4(b, m4=m4, hosts=hosts):
            if b not in m4:
                m4[b] = next(hosts).packed
            return m4[b]

        for ts, fr, off, fam, tcs in base:
            if off is None:
                out.append((ts + k * span, fr))
                continue
            f = bytearray(fr)
            if fam == 4:
                old = bytes(f[off + 12:off + 20])
                new = v4(old[:4]) + v4(old[4:])
                f[off + 12:off + 20] = new
                cs = struct.unpack_from("!H", f, off + 10)[0]
                struct.pack_into("!H", f, off + 10, _csum_adjust(cs, old, new))
            else:
                old = bytes(f[off + 8:off + 40])
                new = _v6_moved(old[:16], k) + _v6_moved(old[16:], k)
                f[off + 8:off + 40] = new
            if tcs is not None:
                cs = struct.unpack_from("!H", f, tcs)[0]
                struct.pack_into("!H", f, tcs, _csum_adjust(cs, old, new))
            out.append((ts + k * span, bytes(f)))
        for st in model.streams:
            o = json.loads(st.line())
            for key in ("src", "dst"):
                a = ipaddress.ip_address(o[key])
                if a.version == 4:
                    o[key] = str(ipaddress.IPv4Address(m4.get(a.packed, a.packed)))
                else:
                    o[key] = str(ipaddress.IPv6Address(_v6_moved(a.packed, k)))
            o["data"] = st.data()
            expected.append(o)
    gencap.write_pcap(pcap_out, out)
    feats = {}
    for c in conns:
        for x in c.features:
            feats[x] = feats.get(x, 0) + 1
    return dict(packets=len(out), per_copy=len(frames), expected=expected,
                max_len=max((len(f) for _, f in out), default=0), features=feats,
                connections=len(conns) * copies)


def _skipped(o):
    return o.get("skips", 0) > 0 or o.get("skip_unknown", 0) > 0 or \
        o.get("skipped_bytes", 0) > 0


def compare_with_losses(expected, objs, keys=MODEL_KEYS, limit=10):
    """reasm's jsonl after frames were lost on the way (kernel drops, rollovers) against
    gencap's expectation (expected: gencap_copies()'s, with "data"). Per 4-tuple, lines
    equal to an expected one (on keys) pass; every other line must say it is incomplete
    (skips, skip_unknown or skipped_bytes > 0), or be exactly the first bytes of an
    expected direction of its 4-tuple (byte count and SHA-256: the frames after them
    never reached reasm, which nothing can tell, or only the FIN/RST was lost). Any
    other line is a direction silently short or wrong. Returns (problems, info): info
    counts directions (expected), exact, with_skips, prefix (of which full: every byte,
    flags differ), lost (expected directions of 4-tuples without any line), extra
    (lines of 4-tuples never sent)."""
    exp_by = collections.defaultdict(list)
    for e in expected:
        exp_by[key_of(e)].append(e)
    got_by = collections.defaultdict(list)
    for o in objs:
        got_by[key_of(o)].append(o)
    info = dict(directions=len(expected), exact=0, with_skips=0, prefix=0, full=0, lost=0,
                extra=0)
    problems = []
    for k in sorted(set(exp_by) | set(got_by), key=str):
        exp, got = exp_by.get(k, []), got_by.get(k, [])
        if not exp:
            info["extra"] += len(got)
            problems.append("%s:%s -> %s:%s: %d lines, none expected" % (k + (len(got),)))
            continue
        if not got:
            info["lost"] += len(exp)
            continue
        left = list(exp)
        rest = []
        for o in got:
            t = tuple(o.get(x) for x in keys)
            hit = next((e for e in left if tuple(e.get(x) for x in keys) == t), None)
            if hit is not None:
                left.remove(hit)
                info["exact"] += 1
            else:
                rest.append(o)
        for o in rest:
            if _skipped(o):
                info["with_skips"] += 1
                continue
            n = o.get("bytes", -1)
            pre = next((e for e in exp if 0 <= n <= len(e["data"]) and
                        hashlib.sha256(e["data"][:n]).hexdigest() == o.get("sha256")), None)
            if pre is not None:
                info["prefix"] += 1
                info["full"] += 1 if n == len(pre["data"]) else 0
                continue
            problems.append("%s:%s -> %s:%s: %s bytes, no skip, but not the beginning of "
                            "any expected direction (expected %s)" % (
                                k + (n, [e["bytes"] for e in exp])))
    if len(problems) > limit:
        problems = problems[:limit] + ["... and %d more" % (len(problems) - limit)]
    return problems, info


def settled_counts(bed, side, tel, timeout=5.0):
    """(link_stats, /reasm/stats) of that end and reasm read together: the link's counters
    are read before and after the telemetry answer, again until both readings agree (no
    frame crossed in between; bounded by timeout, then the last reading). Frames crossed
    between two such readings: frames_between()."""
    deadline = time.monotonic() + timeout
    while True:
        l1 = bed.link_stats(side)
        s = stats(tel)
        l2 = bed.link_stats(side)
        if l1 == l2 or time.monotonic() > deadline:
            return l2, s
        time.sleep(0.05)


def frames_between(before, after):
    """Frames (received + sent) between two link_stats() readings of one end."""
    return (after.get("rx_packets", 0) - before.get("rx_packets", 0) +
            after.get("tx_packets", 0) - before.get("tx_packets", 0))
