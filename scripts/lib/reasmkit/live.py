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

    def __init__(self, exe, bed, tag, side="b", mem_mb=1024):
        super().__init__(exe, tag)
        self.bed, self.side, self.mem_mb = bed, side, mem_mb

    def new_prefix(self):
        self.n += 1
        prefix = "reasm_live_%s_%d_%d" % (self.tag, os.getpid(), self.n)
        self.bed.on_cleanup(os.path.join(telemetry.runtime_dir(), prefix))
        return prefix

    def command(self, prefix, vdevs, app_args, lcores=appliance.Reasm.LCORES_2_WORKERS):
        cmd = [self.exe, "--no-huge", "-m", str(self.mem_mb), "--no-pci",
               "--file-prefix=" + prefix, "--lcores", lcores, "--log-level=error"]
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


def compare_truth(truth, objs, payload_of=None, limit=12):
    """(problems, info): every stream direction of truth against reasm's jsonl objects.

    A direction passes when reasm has one line for its 4-tuple with start true and the
    same bytes and sha256 as the truth, no skip of any kind (skips, skip_unknown,
    skipped_bytes all 0), and end true for FIN endings and for the direction that sent the
    RST. More lines for the same 4-tuple are allowed only as gopacket makes them: a
    segment retransmitted after the direction closed opens a new stream (start false,
    skip_unknown 1); their bytes must be a piece of the payload (payload_of(truth row)
    gives it; without it such lines are problems), or, when the retransmission itself had
    holes (skipped_bytes > 0: a retransmission timeout resends a window piecemeal), no
    more than the payload with the holes. problems: one text per failing
    direction, the first `limit` of them. info: directions, mismatched (how many failed),
    bytes, lines outside the truth, late retransmission streams, end flags per ending and
    direction.
    """
    idx = collections.defaultdict(list)
    for o in objs:
        idx[key_of(o)].append(o)
    problems = []
    ends = collections.Counter()
    late = 0
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
        if t["dir"] in END_TRUE.get(t["ending"], ()) and o.get("end") is not True:
            bad.append("end %s" % o.get("end"))
        for r in rest:
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
            "late_retransmissions": late,
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
    want = collections.Counter(tuple(r.get(k) for k in keys) for r in expected)
    got = collections.Counter(tuple(r.get(k) for k in keys) for r in objs)
    if want == got:
        return None
    missing = list((want - got).elements())
    extra = list((got - want).elements())
    text = ["%d stream directions expected (gopacket), %d from reasm: %d missing, "
            "%d unexpected" % (sum(want.values()), sum(got.values()), len(missing),
                               len(extra))]
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
            text.append("  gopacket: %s" % dict(zip(keys[4:], t[4:])))
        for t in e:
            text.append("  reasm:    %s" % dict(zip(keys[4:], t[4:])))
    return "\n".join(text)
