# SPDX-License-Identifier: BSD-3-Clause
"""Generate a TCP capture that knows what it sent, and what gopacket delivers from it.

Writes a classic pcap (microsecond timestamps, Ethernet link type) with many interleaved
connections, and alongside it an "expected" JSONL file: one line per stream direction with
what gopacket's tcpassembly delivers from that capture when used as a plain program does
(one Assembler, unlimited pages, no timeout, FlushAll at the end), in the same format as
tools/gopacket-ref prints, sorted:

  {"src":..,"sport":..,"dst":..,"dport":..,"bytes":N,"records":R,"skips":K,
   "skip_unknown":U,"skipped_bytes":B,"start":bool,"end":bool,"sha256":hex,
   "meta_sha256":hex}

(meta_sha256 hashes "len skip start end seen_ns\\n" per record, as gopacket-ref does.)

What the capture contains, chosen per connection from --seed:
  - IPv4 and IPv6; plain Ethernet, 802.1Q, QinQ (0x88a8 + 0x8100) or two 0x8100 tags;
  - IPv4 options, IPv6 hop-by-hop and destination-options headers; TCP options;
  - handshakes (SYN, SYN-ACK, ACK), sometimes a retransmitted SYN;
  - payload in both directions, segments of 1..1460 bytes and some of 1901..4200 bytes
    (larger than gopacket's 1900-byte page);
  - FIN/FIN endings, RST endings, or none (capture stops first);
  - capture started mid-stream (no handshake seen, first packets missing);
  - reordering within a small window, a FIN overtaking the last data segment, data
    overtaking the SYN;
  - retransmissions: exact duplicates and overlapping re-segmentations (identical bytes;
    other bytes with --p-conflict);
  - initial sequence numbers close to 2^32, so sequences wrap;
  - loss (segments never sent) on chosen connections only;
  - pure ACKs (ignored by gopacket), Ethernet padding of short frames;
  - 4-tuple reuse: a connection closed by FIN both ways, reopened later on the same ports;
  - increasing timestamps with microsecond resolution.

The expectation is computed by a faithful model of gopacket tcpassembly (assembly.go:
per-direction connections keyed by the IP and port flow, out-of-order pages of at most 1900
bytes sorted as traverseConn does, first copy wins, a SYN consumes one sequence number, an
empty record for wholly old data, End on the last record closes, FlushAll skipping holes)
fed with the packets in capture order. As a self-check, for every stream direction whose
captured segments cover its bytes without a hole, the model must deliver exactly the bytes
the application sent (from the first captured byte on), as one stream.

Tunnels and fragments (off by default: without these options the capture and the
expected file are byte for byte what they always were):
  --encap LIST   each connection, with probability --p-encap (0.85), goes through one
      kind of LIST (comma-separated; "all": every kind; "none" may be listed), both
      directions through the same tunnel, outer addresses mirrored (ERSPAN, a mirror
      session: the same both ways), outer addresses in 198.19.200.0-198.19.231.255 and
      2001:db8:ffff::/48, outer IPv4 checksums right, UDP checksums 0 over IPv4 and
      computed over IPv6:
        mpls     1-3 labels (0x8847, sometimes 0x8848), sometimes behind a VLAN tag
        pppoe    PPPoE session + PPP (sometimes a one-byte protocol), sometimes behind QinQ
        ipip     IPv4 or IPv6 in IPv4 or IPv6 (protocols 4, 41)
        gre      GRE with checksum / key / sequence at random, IPv4 or IPv6 inside
        gre-teb  GRE carrying the Ethernet frame (0x6558)
        erspan2  GRE (sequence) + ERSPAN type II + the mirrored frame
        erspan3  GRE (sequence) + ERSPAN type III, sometimes with the platform subheader
        vxlan    UDP to 4789 from a random port, VXLAN, the Ethernet frame
        geneve   UDP to 6081, Geneve (sometimes options), the Ethernet frame or the IP packet
        gtpu     UDP to 2152, GTP-U G-PDU with 0-3 extension headers (sequence, N-PDU)
        nested   two of them, one inside the other (e.g. gre>vxlan: VXLAN inside GRE)
      over IPv4 or IPv6 outer layers. The expected file is keyed by the innermost IP
      addresses and TCP ports, as reasm and tools/gopacket-ref (innermostTCP) key
      tunnelled TCP: the model is unchanged, only the frames are wrapped (so the
      expected file is the one of the same options without --encap). gopacket 1.1.19
      does not decode ERSPAN III. A connection reusing a 4-tuple keeps its tunnel.
  --frag P       a fraction P of the TCP segments goes out as IP fragments of the inner
      (innermost) IP packet: IPv4 (MF / offset, DF clear, options whose copied bit is
      set repeated) or IPv6 (a Fragment header after the fixed header and any hop-by-hop
      header; destination options after it); 2-6 fragments cut at multiples of 8,
      out of order (--frag-reorder), one sent twice (--frag-dup), IPv4 only: one more
      fragment overlapping others with the same bytes (--frag-overlap; RFC 8200 has IPv6
      datagrams with overlapping fragments discarded, so there is no policy-free answer);
  --frag-outer P the same for the outer IP packet of tunnels over IP (a VXLAN packet over
      IPv4 fragmented...).
      Identifications are unique per address pair, so no two datagrams of the capture
      share a reassembly key. A datagram's fragments go out back to back or with at
      most --frag-spread (4) packets of other connections in between (never after the
      connection's next packet); a duplicate or overlapping fragment may come after the
      datagram was complete: it never completes one by itself (a defragmenter holds it
      until its timeout). With fragments the capture is timed anew.
      The expected file is what gopacket delivers once the fragments are reassembled
      (gopacket behind ip4defrag, reasm with --defrag): each datagram's segment
      assembled at the time and place of the fragment that completed it.
      --expected-no-defrag FILE: what is delivered when fragments are dropped (the model
      given only the segments sent whole): reasm without --defrag, gopacket-ref.
      Both models are self-checked.
  --mss N caps data segments and re-segmented retransmissions (with --p-big 0
      --mss 1200 every frame, nested tunnels included, stays within 1514 bytes; by
      default a segment may be 4200 bytes and a tunnelled frame about 4400).
generate_files() returns, with these options, also: encap (per kind: connections,
directions, frames, segments: tunnelled TCP segments sent whole = reasm's pkts_decap
without defragmentation, segments_defrag: with it, stacks), frag (fragments,
fragments_ipv4 / _ipv6 / _inner / _outer, datagrams_inner / _outer, stale_fragments:
sent after their datagram was complete, stale_datagrams: datagrams that left such
fragments (a defragmenter drops each group at its timeout), overlap_bytes: fragment bytes
a defragmenter keeping the first copy already holds, dup, overlap, reorder),
pkts_decap, pkts_decap_defrag, rows_no_defrag, line_stacks (per expected line, its
connection's tunnel stack, "" for none), max_frame; with --expected-conns,
expected_conns and conn_rows (the lines as dicts).

Connections (--expected-conns FILE, off by default; the capture and the other files are
the same with it): one JSON line per connection as reasm's connection layer (--sink conn)
reports it, from what the generator sent (conn_truth()): both directions of a 4-tuple
from its first TCP segment; a reused 4-tuple is a connection of its own when its successor
starts with a SYN after its predecessor ended (both FINs or a RST) with no stream
direction open in the model, else (successor caught mid-stream, or its data before its
SYN) it continues its predecessor ("cids" lists the generator's connections in a line).
Fields: client, client_port, server, server_port, family, roles ("syn": the client's SYN
is in the capture; "syn_ack": only the server's SYN-ACK; "guessed": neither, the client is
the sender of the first packet, true_client / true_client_port say who opened it), end
("fin": both FINs before any RST, "rst_client" / "rst_server": the first RST before both
FINs, else "flush_all"), first_seen, last_seen, duration (ns), history (the spec's
Zeek-style letters for these packets), tunnel (the stack, "" for none), encap / vlan /
tunnel_id as reasm writes them for the connection's first frame, and per direction
(client_to_server, server_to_client): packets (every TCP segment that side sent: pure
ACKs, retransmissions, FINs), payload_bytes, streams (the model's stream directions),
bytes, records, skips, skip_unknown, skipped_bytes (their sums: per 4-tuple direction the
expected file's, self-checked), sha256 (each stream's, sorted), encap (of its first
frame). With --frag / --frag-outer the segments are counted as reasm --defrag sees them:
each datagram once, where it completes.

Overlapping copies with other bytes (off by default: without these options the capture and
every file are byte for byte what they always were):
  --p-conflict P  copies of the same sequence numbers carrying other bytes in part of their
      overlap (plan_conflicts(): planned retransmissions altered; copies buffered behind a
      hole at the same, a lower or a higher sequence number, partial or covering; in-order
      retransmissions of bytes delivered 1-127, 128-2047 or any number of bytes before).
  The models (OverlapModel, used with any of these options): --expected stays what the
  first policy (gopacket's) delivers; --expected-last FILE what the last policy (reasm
  --overlap-policy last: the latest copy of a byte not yet delivered wins) delivers, in
  the same format; --expected-conflicts FILE one JSON line per conflicting overlap as reasm
  reports it (struct reasm_conflict: each arriving segment compared with what the stream
  would deliver at its positions without it, maximal runs of the same kept side), for both
  policies ("policy") and each window of --expected-retain N[,N...] (reasm --retain-bytes,
  default 0: delivered bytes are not compared): policy, retain, src, sport, dst, dport,
  stream, first_seen (the stream direction's, as jsonl), number, seq, offset (null before
  the stream has a start), len, differing, kept ("arrived", "buffered", "delivered"),
  kept_sha256, other_sha256, seen (ns). Self-checks: per policy, a direction captured
  whole delivers the application's bytes, or where copies with other bytes were sent one
  of the copies' bytes; the pages and the buffered copies cover the same positions;
  conflict_self_check(). generate_files() returns, with them, also expected_last,
  expected_conflicts, retains, conflict_lines (the file's lines), conflict_rows (per
  stream direction, policy and window: sha256, conflicts, conflict_bytes, conflict (the
  first) as reasm's jsonl line has them), rows_last, conflicts_checked.

Python 3 standard library only (frames: reasmkit.frames, file: reasmkit.pcap). In Python,
`from reasmkit import gencap`; on the command line, its entry point tests/gen/gencap.py:
  gencap.py -o cap.pcap [--expected cap.expected.jsonl] [--seed N] [--conns N]
            [--encap KIND,...] [--frag P] [--frag-outer P] [--expected-no-defrag FILE]
            [--expected-conns FILE] [--p-conflict P] [--expected-last FILE]
            [--expected-conflicts FILE] [--expected-retain N[,N...]]
"""
import argparse
import collections
import hashlib
import ipaddress
import json
import random
import struct
import sys

from . import frames, pcap

PAGE_BYTES = 1900
SEQ_SPACE = 1 << 32
INVALID_SEQ = -1
BASE_TIME_US = 1_700_000_000 * 1_000_000


# --------------------------------------------------------------------------
# Model of gopacket tcpassembly (unlimited pages, FlushAll at the end).
# --------------------------------------------------------------------------

def seq_diff(s, t):
    """gopacket Sequence(s).Difference(t): > 0 if t comes after s."""
    if s > SEQ_SPACE - SEQ_SPACE // 4 and t < SEQ_SPACE // 4:
        t += SEQ_SPACE
    elif t > SEQ_SPACE - SEQ_SPACE // 4 and s < SEQ_SPACE // 4:
        s += SEQ_SPACE
    return t - s


def seq_add(s, n):
    return (s + n) & (SEQ_SPACE - 1)


def byte_span(expected, received, data):
    if expected == INVALID_SEQ:
        return data, seq_add(received, len(data))
    span = seq_diff(received, expected)
    if span <= 0:
        return data, seq_add(received, len(data))
    if len(data) < span:
        return b"", expected
    return data[span:], seq_add(expected, len(data) - span)


class Record:
    """One record delivered. data: its bytes under gopacket's (first) overlap policy; last:
    under the last policy (OverlapModel; None elsewhere)."""
    __slots__ = ("data", "skip", "start", "end", "seen", "last")

    def __init__(self, data, skip, start, end, seen):
        self.data, self.skip, self.start, self.end, self.seen = data, skip, start, end, seen
        self.last = None


class Page:
    __slots__ = ("seq", "data", "end", "seen")

    def __init__(self, seq, data, end, seen):
        self.seq, self.data, self.end, self.seen = seq, data, end, seen


class ModelStream:
    def __init__(self, key, tag):
        self.key = key          # (src, sport, dst, dport)
        self.tag = tag          # (connection id, direction) of the packet that created it
        self.records = []
        self.complete = False

    def summary(self, policy="first"):
        """policy "last": the bytes the last policy delivers (OverlapModel only)."""
        data = hashlib.sha256()
        meta = hashlib.sha256()
        s = dict(bytes=0, records=0, skips=0, skip_unknown=0, skipped_bytes=0,
                 start=False, end=False)
        for r in self.records:
            s["records"] += 1
            s["bytes"] += len(r.data)
            if r.skip == -1:
                s["skip_unknown"] += 1
            elif r.skip > 0:
                s["skips"] += 1
                s["skipped_bytes"] += r.skip
            s["start"] = s["start"] or r.start
            s["end"] = s["end"] or r.end
            data.update(r.last if policy == "last" else r.data)
            meta.update(b"%d %d %d %d %d\n" % (len(r.data), r.skip, int(r.start), int(r.end),
                                               r.seen * 1000))
        s["sha256"] = data.hexdigest()
        s["meta_sha256"] = meta.hexdigest()
        return s

    def line(self, policy="first"):
        """The stream's line exactly as tools/gopacket-ref prints it (policy "last": with
        the bytes of the last overlap policy, OverlapModel only)."""
        s = self.summary(policy)
        src, sport, dst, dport = self.key
        return ('{"src":"%s","sport":%d,"dst":"%s","dport":%d,"bytes":%d,"records":%d,'
                '"skips":%d,"skip_unknown":%d,"skipped_bytes":%d,"start":%s,"end":%s,'
                '"sha256":"%s","meta_sha256":"%s"}' % (
                    src, sport, dst, dport, s["bytes"], s["records"], s["skips"],
                    s["skip_unknown"], s["skipped_bytes"], json.dumps(s["start"]),
                    json.dumps(s["end"]), s["sha256"], s["meta_sha256"]))

    def data(self, policy="first"):
        return b"".join(r.last if policy == "last" else r.data for r in self.records)

    def row(self, policy="first"):
        """summary() with the direction and, as reasm's jsonl sink has them, first_seen and
        last_seen: the earliest and latest capture time (ns) of the stream's records."""
        s = self.summary(policy)
        s.update(zip(("src", "sport", "dst", "dport"), self.key))
        seen = [r.seen for r in self.records]
        s["first_seen"] = min(seen) * 1000 if seen else 0
        s["last_seen"] = max(seen) * 1000 if seen else 0
        return s


class ModelConn:
    __slots__ = ("key", "pages", "next_seq", "closed", "stream")

    def __init__(self, key, stream):
        self.key = key
        self.pages = []
        self.next_seq = INVALID_SEQ
        self.closed = False
        self.stream = stream


class GopacketModel:
    """tcpassembly.Assembler with DefaultAssemblerOptions, one StreamPool."""

    def __init__(self):
        self.conns = {}
        self.streams = []       # in creation order

    def assemble(self, key, seq, syn, fin, rst, payload, ts_us, tag=None):
        if not syn and not fin and not rst and not payload:
            return
        conn = self.conns.get(key)
        if conn is None:
            if not syn and not payload:
                return
            stream = ModelStream(key, tag)
            self.streams.append(stream)
            conn = self.conns[key] = ModelConn(key, stream)
        ret = []
        if conn.next_seq == INVALID_SEQ:
            if syn:
                ret.append(Record(payload, 0, True, False, ts_us))
                conn.next_seq = seq_add(seq, len(payload) + 1)
            else:
                self._insert(conn, seq, payload, fin or rst, ts_us)
        elif seq_diff(conn.next_seq, seq) > 0:
            self._insert(conn, seq, payload, fin or rst, ts_us)
        else:
            data, conn.next_seq = byte_span(conn.next_seq, seq, payload)
            ret.append(Record(data, 0, False, fin or rst, ts_us))
        if ret:
            self._send(conn, ret)

    def _insert(self, conn, seq, payload, end, ts_us):
        pages = []
        off = 0
        while True:
            n = min(len(payload) - off, PAGE_BYTES)
            pages.append(Page(seq_add(seq, off), payload[off:off + n], False, ts_us))
            off += n
            if off >= len(payload):
                break
        pages[-1].end = end
        # traverseConn: walk back from the last page while the new seq is before it.
        i = len(conn.pages)
        while i > 0 and seq_diff(conn.pages[i - 1].seq, seq) < 0:
            i -= 1
        conn.pages[i:i] = pages

    def _add_next(self, conn, ret):
        p = conn.pages.pop(0)
        skip = 0
        if conn.next_seq == INVALID_SEQ:
            skip = -1
        else:
            d = seq_diff(conn.next_seq, p.seq)
            if d > 0:
                skip = d
        data, conn.next_seq = byte_span(conn.next_seq, p.seq, p.data)
        ret.append(Record(data, skip, False, p.end, p.seen))

    def _add_contiguous(self, conn, ret):
        while conn.pages and seq_diff(conn.next_seq, conn.pages[0].seq) <= 0:
            self._add_next(conn, ret)

    def _send(self, conn, ret):
        self._add_contiguous(conn, ret)
        conn.stream.records.extend(ret)
        if ret[-1].end:
            self._close(conn)

    def _close(self, conn):
        conn.stream.complete = True
        conn.closed = True
        del self.conns[conn.key]
        conn.pages = []

    def flush_all(self):
        for conn in list(self.conns.values()):
            while not conn.closed:
                if not conn.pages:
                    self._close(conn)
                    break
                ret = []
                self._add_next(conn, ret)
                self._add_contiguous(conn, ret)
                self._send(conn, ret)


# --------------------------------------------------------------------------
# Overlap policies and conflicts (--p-conflict, --expected-last, --expected-conflicts).
# --------------------------------------------------------------------------

POLICIES = ("first", "last")
RETAIN_MAX = 1 << 20
CONFLICT_KEYS = ("seq", "offset", "len", "differing", "kept", "kept_sha256", "other_sha256",
                 "seen")


class OverlapConn(ModelConn):
    __slots__ = ("copies", "tails", "base")

    def __init__(self, key, stream):
        super().__init__(key, stream)
        self.copies = []        # (seq, payload) of each segment buffered, in arrival order
        self.tails = {p: b"" for p in POLICIES}     # the last bytes delivered, per policy
        self.base = None        # the sequence number of the stream's first byte


class OverlapModel(GopacketModel):
    """GopacketModel, whose records are what the first overlap policy (gopacket's) delivers,
    also computing what the last policy delivers (Record.last) and the conflicting overlaps
    (ModelStream.conflicts[(policy, retain)]: dicts of CONFLICT_KEYS, in the order they are
    reported) for each retention window of retains.

    The last policy: at each position, the copy of the latest segment that arrived while
    the position was not delivered yet (an in-order segment is delivered at once; buffered
    copies are kept per segment, in arrival order, until delivered). Record structure
    (lengths, skips, times) is the first policy's.

    Conflicts: each segment arriving on an open stream direction (not a SYN opening it) is
    compared, before it has any effect, with what the stream would deliver at each of its
    positions without it:
      - a buffered position: under the first policy the byte of the first buffered page in
        delivery order (the page list as gopacket sorts it) covering it, kept "buffered"
        when that page comes before the segment's own in that order, else "arrived" (an
        in-order segment: always "arrived"); under the last policy the latest buffered copy
        covering it, kept "arrived";
      - a delivered position (an in-order segment repeating delivered bytes): the byte that
        policy delivered there while it is among the last `retain` bytes delivered since the
        stream's start or its last skip, kept "delivered".
    (A SYN's data is compared from the sequence number after the SYN.) Maximal runs of
    contiguous compared positions of the same kept side are one overlap; an overlap is a
    conflict when any byte differs: seq (its first byte's), offset (seq - the stream's
    first byte: after the SYN, or the first delivered when the start was not seen; None
    while the stream has no start yet), len, differing, kept, kept_sha256 / other_sha256 (of
    the kept copy and the other over the overlap), seen (ns)."""

    def __init__(self, retains=(0,)):
        super().__init__()
        self.retains = tuple(sorted(set(retains)))
        self.keep = max(self.retains)

    def assemble(self, key, seq, syn, fin, rst, payload, ts_us, tag=None):
        if not syn and not fin and not rst and not payload:
            return
        conn = self.conns.get(key)
        if conn is None:
            if not syn and not payload:
                return
            stream = ModelStream(key, tag)
            stream.conflicts = {(p, n): [] for p in POLICIES for n in self.retains}
            self.streams.append(stream)
            conn = self.conns[key] = OverlapConn(key, stream)
        else:
            self._compare(conn, seq, syn, payload, ts_us)
        if conn.next_seq == INVALID_SEQ and syn:
            conn.base = seq_add(seq, 1)
        super().assemble(key, seq, syn, fin, rst, payload, ts_us, tag)

    def _insert(self, conn, seq, payload, end, ts_us):
        super()._insert(conn, seq, payload, end, ts_us)
        if payload:
            conn.copies.append((seq, payload))

    def _add_next(self, conn, ret):
        p = conn.pages.pop(0)
        skip = 0
        if conn.next_seq == INVALID_SEQ:
            skip = -1
            conn.base = p.seq
        else:
            d = seq_diff(conn.next_seq, p.seq)
            if d > 0:
                skip = d
        data, conn.next_seq = byte_span(conn.next_seq, p.seq, p.data)
        r = Record(data, skip, False, p.end, p.seen)
        r.last = self._latest(conn, seq_add(p.seq, len(p.data) - len(data)), data)
        ret.append(r)

    @staticmethod
    def _latest(conn, start, data):
        """data (delivered from start on) as the last policy has it: each position from the
        latest buffered copy covering it."""
        out = bytearray(data)
        covered = bytearray(len(out))
        for cs, cb in conn.copies:
            lo = seq_diff(start, cs)
            a, b = max(0, lo), min(len(out), lo + len(cb))
            if a < b:
                out[a:b] = cb[a - lo:b - lo]
                covered[a:b] = b"\1" * (b - a)
        assert all(covered), "a page record with bytes no buffered copy has"
        return bytes(out)

    def _send(self, conn, ret):
        for r in ret:
            if r.last is None:
                r.last = r.data
        n0 = len(conn.stream.records)
        super()._send(conn, ret)
        if self.keep:
            for r in conn.stream.records[n0:]:
                for p in POLICIES:
                    t = b"" if r.start or r.skip != 0 else conn.tails[p]
                    conn.tails[p] = (t + (r.last if p == "last" else r.data))[-self.keep:]
        if conn.next_seq != INVALID_SEQ:
            conn.copies = [c for c in conn.copies
                           if seq_diff(conn.next_seq, seq_add(c[0], len(c[1]))) > 0]

    def _close(self, conn):
        super()._close(conn)
        conn.copies = []

    def _compare(self, conn, seq, syn, payload, ts_us):
        n = len(payload)
        if n == 0:
            return
        valid = conn.next_seq != INVALID_SEQ
        if not valid and syn:
            return                  # delivered at once, compared with nothing
        in_order = valid and seq_diff(conn.next_seq, seq) <= 0
        if in_order and syn:
            seq = seq_add(seq, 1)   # a SYN's data starts after its sequence number
        behind = seq_diff(seq, conn.next_seq) if in_order else 0   # positions delivered
        if not conn.pages and (behind <= 0 or not self.keep or not conn.tails["first"]):
            return
        # Buffered positions: the first policy's byte and kept side, the last policy's.
        first, side, last = [None] * n, [None] * n, [None] * n
        ins = len(conn.pages)
        while not in_order and ins > 0 and seq_diff(conn.pages[ins - 1].seq, seq) < 0:
            ins -= 1
        for j, p in enumerate(conn.pages):
            lo = seq_diff(seq, p.seq)
            a, b = max(0, lo), min(n, lo + len(p.data))
            kept = "arrived" if in_order or j >= ins else "buffered"
            for i in range(a, b):
                if first[i] is None:
                    first[i], side[i] = p.data[i - lo], kept
        floor = max(0, behind)
        for cs, cb in reversed(conn.copies):
            lo = seq_diff(seq, cs)
            for i in range(max(0, lo, floor), min(n, lo + len(cb))):
                if last[i] is None:
                    last[i] = cb[i - lo]
        assert [x is None for x in first] == [x is None for x in last], \
            "the pages and the buffered copies cover other positions"
        for policy in POLICIES:
            had = first if policy == "first" else last
            kinds = side if policy == "first" else ["arrived" if x is not None else None
                                                     for x in last]
            tail = conn.tails[policy]
            for retain in self.retains:
                k, h = list(kinds), list(had)
                r = min(retain, len(tail))
                for i in range(max(0, behind - r), min(n, behind)):
                    k[i], h[i] = "delivered", tail[len(tail) - (behind - i)]
                self._runs(conn, policy, retain, seq, payload, k, h, ts_us, valid)

    def _runs(self, conn, policy, retain, seq, payload, kinds, had, ts_us, valid):
        out = conn.stream.conflicts[(policy, retain)]
        n, i = len(payload), 0
        while i < n:
            if kinds[i] is None:
                i += 1
                continue
            j = i
            while j < n and kinds[j] == kinds[i]:
                j += 1
            mine, theirs = payload[i:j], bytes(had[i:j])
            differing = sum(1 for x, y in zip(mine, theirs) if x != y)
            if differing:
                kept, other = (mine, theirs) if kinds[i] == "arrived" else (theirs, mine)
                s = seq_add(seq, i)
                out.append(dict(seq=s, offset=(s - conn.base) & (SEQ_SPACE - 1) if valid
                                else None, len=j - i, differing=differing, kept=kinds[i],
                                kept_sha256=hashlib.sha256(kept).hexdigest(),
                                other_sha256=hashlib.sha256(other).hexdigest(),
                                seen=ts_us * 1000))
            i = j


def conflict_lines(model):
    """OverlapModel's conflicts as the lines of --expected-conflicts (dicts): per stream
    direction (model order), policy and retention window, in the order they are reported:
    policy, retain, src, sport, dst, dport, stream (the direction's how manyth stream, from
    0), first_seen (its records', as jsonl has it: the key to its jsonl line), number (the
    how manyth conflict of the stream), then CONFLICT_KEYS."""
    out, nth = [], collections.Counter()
    for s in model.streams:
        row = s.row()
        k = nth[s.key]
        nth[s.key] += 1
        for (policy, retain), cs in sorted(s.conflicts.items()):
            for j, c in enumerate(cs):
                line = collections.OrderedDict(policy=policy, retain=retain)
                line.update(zip(("src", "sport", "dst", "dport"), s.key))
                line.update(stream=k, first_seen=row["first_seen"], number=j)
                line.update((x, c[x]) for x in CONFLICT_KEYS)
                out.append(line)
    return out


def conflict_rows(model):
    """Per stream direction of an OverlapModel, per policy and retention window: src, sport,
    dst, dport, first_seen, policy, retain, sha256 (of what that policy delivers),
    conflicts, conflict_bytes and conflict (the first, CONFLICT_KEYS; None if none): what a
    jsonl line of reasm with --overlap-policy POLICY --retain-bytes RETAIN says of it."""
    out = []
    for s in model.streams:
        row = s.row()
        for (policy, retain), cs in sorted(s.conflicts.items()):
            r = collections.OrderedDict(zip(("src", "sport", "dst", "dport"), s.key))
            r.update(first_seen=row["first_seen"], policy=policy, retain=retain,
                     sha256=row["sha256"] if policy == "first" else s.summary("last")["sha256"],
                     conflicts=len(cs), conflict_bytes=sum(c["differing"] for c in cs),
                     conflict=dict(cs[0]) if cs else None)
            out.append(r)
    return out


def conflict_self_check(conns, model):
    """The conflicts' own consistency: 1 <= differing <= len; no "delivered" one without a
    retention window; the same buffered ones whatever the window; none in a direction (4-tuple
    direction) no copy with other bytes was sent in; a stream whose two policies deliver
    other bytes has a conflict of buffered bytes under each. Returns the number of
    conflicts (all policies and windows)."""
    altered = set()
    for c in conns:
        for x in c.packets:
            if x.payload is not None:
                altered.add(c.key(x.dir))
    n = 0
    for s in model.streams:
        held = {}
        for (policy, retain), cs in s.conflicts.items():
            n += len(cs)
            for c in cs:
                assert 1 <= c["differing"] <= c["len"], (s.key, c)
                assert retain or c["kept"] != "delivered", (s.key, c)
            assert not cs or s.key in altered, \
                "%s: conflicts without any copy of other bytes: %s" % (s.key, cs[:2])
            h = [c for c in cs if c["kept"] != "delivered"]
            assert held.setdefault(policy, h) == h, \
                "%s: conflicts of buffered bytes depend on the window" % (s.key,)
        if s.summary()["sha256"] != s.summary("last")["sha256"]:
            assert held.get("first") and held.get("last"), \
                "%s: the policies deliver other bytes, with no conflict" % (s.key,)
    return n


# --------------------------------------------------------------------------
# Frames.
# --------------------------------------------------------------------------

# The frame builders are reasmkit.frames; these keep gencap's own signatures.
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = (frames.TCP_FIN, frames.TCP_SYN, frames.TCP_RST,
                                               frames.TCP_PSH, frames.TCP_ACK)
csum = frames.csum


def tcp_header(sport, dport, seq, ack, flags, options, payload, pseudo):
    """A TCP segment whose checksum covers pseudo (the IP pseudo-header) + the segment."""
    seg = frames.tcp(sport, dport, seq, flags, payload, ack=ack, options=options)
    return seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]


def ipv4_packet(src, dst, ident, options, tcp_seg):
    """IPv4 (header checksum filled in) carrying tcp_seg."""
    return frames.ipv4(src, dst, frames.PROTO_TCP, tcp_seg, ident=ident, options=options,
                       checksum=True)


def ipv6_packet(src, dst, ext_kinds, tcp_seg):
    """ext_kinds: list of extension header protocol numbers (0 hop-by-hop, 60 dest. options)."""
    return frames.ipv6(src, dst, frames.PROTO_TCP, tcp_seg, ext=ext_kinds)


def ethernet_frame(smac, dmac, tags, ethertype, payload):
    """tags: list of (tpid, vid) outermost first; padded to the minimum frame (FCS not
    captured)."""
    return frames.ethernet(dmac, smac, ethertype, payload, tags=tags, pad=True)


def write_pcap(path, packets):
    """packets: (ts_us, frame); snap length 262144, microsecond timestamps."""
    pcap.write(path, ((ts_us * 1000, frame) for ts_us, frame in packets), snaplen=262144)


# --------------------------------------------------------------------------
# Traffic.
# --------------------------------------------------------------------------

C2S, S2C = 0, 1


class Seg:
    """One TCP packet of a connection, before framing. payload: None for the application's
    bytes at off (conn.data), else other bytes of the same length (--p-conflict)."""
    __slots__ = ("dir", "off", "length", "flags", "kind", "payload")

    def __init__(self, d, off, length, flags, kind, payload=None):
        self.dir, self.off, self.length, self.flags, self.kind = d, off, length, flags, kind
        self.payload = payload


class Conn:
    def __init__(self, cid, rng, tuple_, v6, follows=None):
        self.cid = cid
        self.rng = rng
        self.v6 = v6
        self.client, self.server, self.cport, self.sport = tuple_
        self.follows = follows      # connection this one reuses the 4-tuple of
        self.features = set()
        self.isn = [0, 0]
        self.data = [b"", b""]
        self.packets = []           # Seg list in emission order
        self.captured = [[], []]    # (off, len) of data captured per direction
        self.cmac = bytes([2, 0, 0, (cid >> 8) & 0xFF, cid & 0xFF, 1])
        self.smac = bytes([2, 0, 0, (cid >> 8) & 0xFF, cid & 0xFF, 2])
        self.tags = []
        self.ipopts = b""
        self.v6ext = []
        self.tcpopts_data = b""
        self.ident = rng.randrange(65536)
        self.tunnel = None          # a Tunnel (--encap), or None

    def endpoint(self, d):
        """(src ip, sport, dst ip, dport) of direction d."""
        if d == C2S:
            return self.client, self.cport, self.server, self.sport
        return self.server, self.sport, self.client, self.cport

    def key(self, d):
        src, sp, dst, dp = self.endpoint(d)
        return (str(src), sp, str(dst), dp)

    def seq_of(self, d, off):
        return seq_add(self.isn[d], 1 + off)


def choose(rng, p):
    return rng.random() < p


def plan_connection(conn, rng, opts, must_close_clean):
    """Fill conn.data and conn.packets (abstract Seg list in emission order)."""
    f = conn.features
    # Encapsulation and header options.
    r = rng.random()
    if r < 0.15:
        conn.tags = [(0x8100, rng.randrange(1, 4095))]
        f.add("vlan")
    elif r < 0.22:
        conn.tags = [(0x88A8, rng.randrange(1, 4095)), (0x8100, rng.randrange(1, 4095))]
        f.add("qinq")
    elif r < 0.25:
        conn.tags = [(0x8100, rng.randrange(1, 4095)), (0x8100, rng.randrange(1, 4095))]
        f.add("vlan2")
    if not conn.v6 and choose(rng, 0.15):
        conn.ipopts = rng.choice([b"\x01\x01\x01\x00", b"\x94\x04\x00\x00",
                                  b"\x07\x0b\x04" + b"\0" * 8 + b"\x00"])
        f.add("ipopts")
    if conn.v6 and choose(rng, 0.3):
        conn.v6ext = rng.choice([[0], [60], [0, 60]])
        f.add("v6ext")
    if choose(rng, 0.4):
        conn.tcpopts_data = b"\x01\x01\x08\x0a" + struct.pack("!II", rng.randrange(1 << 32), 0)
        f.add("tcpopts")

    # Sequence numbers, some wrapping past 2^32 during the data.
    for d in (C2S, S2C):
        conn.isn[d] = rng.randrange(SEQ_SPACE)
    if choose(rng, opts.p_wrap):
        d = rng.choice((C2S, S2C))
        conn.isn[d] = SEQ_SPACE - rng.randrange(1, 3000)
        f.add("wrap")

    # Conversation: request/response turns.
    turns = []
    nturns = rng.randrange(1, 6)
    for i in range(nturns):
        turns.append((C2S, rng.randrange(1, 3000)))
        if choose(rng, 0.9):
            turns.append((S2C, rng.choice([rng.randrange(1, 2000), rng.randrange(1, 12000)])))
    if choose(rng, 0.05):
        turns = [t for t in turns if t[0] == C2S]    # server never sends data
        f.add("oneway")
    sizes = [0, 0]
    for d, n in turns:
        sizes[d] += n
    conn.data = [rng.randbytes(sizes[0]), rng.randbytes(sizes[1])]

    lossy = not must_close_clean and choose(rng, opts.p_loss)
    midstream = not must_close_clean and choose(rng, opts.p_midstream)
    reorder = choose(rng, opts.p_reorder)
    retrans = not lossy and choose(rng, opts.p_retrans)
    if must_close_clean:
        ending = "fin"
    else:
        ending = rng.choices(["fin", "rst", "none"], [0.7, 0.15, 0.15])[0]
    for name, on in (("loss", lossy), ("midstream", midstream), ("reorder", reorder),
                     ("retrans", retrans)):
        if on:
            f.add(name)
    f.add("end-" + ending)

    pk = []
    # Handshake.
    pk.append(Seg(C2S, -1, 0, TCP_SYN, "syn"))
    if choose(rng, 0.05):
        pk.append(Seg(C2S, -1, 0, TCP_SYN, "syn"))
        f.add("synretrans")
    pk.append(Seg(S2C, -1, 0, TCP_SYN | TCP_ACK, "syn"))
    pk.append(Seg(C2S, 0, 0, TCP_ACK, "ack"))

    # Data segments.
    sent = [0, 0]
    data_segs = []
    for d, n in turns:
        end = sent[d] + n
        while sent[d] < end:
            if choose(rng, opts.p_jumbo):
                ln = rng.randrange(8000, 40001)     # TSO-sized, many pages when buffered
                f.add("jumbo")
            elif choose(rng, opts.p_big):
                ln = rng.randrange(1901, 4201)
            else:
                ln = rng.randrange(1, 1461)
            if getattr(opts, "mss", 0):
                ln = min(ln, opts.mss)
            ln = min(ln, end - sent[d])
            flags = TCP_ACK | (TCP_PSH if sent[d] + ln == end else 0)
            s = Seg(d, sent[d], ln, flags, "data")
            pk.append(s)
            data_segs.append(s)
            sent[d] += ln
            if choose(rng, 0.3):
                pk.append(Seg(1 - d, sent[1 - d], 0, TCP_ACK, "ack"))
            # Retransmissions of something recent in this direction.
            if retrans and choose(rng, 0.12):
                recent = [x for x in data_segs[-4:] if x.dir == d]
                if recent:
                    o = rng.choice(recent)
                    if choose(rng, 0.5) or sent[d] - o.off < 2:
                        pk.append(Seg(d, o.off, o.length, o.flags, "dup"))
                    else:
                        a = rng.randrange(o.off, sent[d] - 1)
                        b = rng.randrange(a + 1, sent[d] + 1)
                        if getattr(opts, "mss", 0):
                            b = min(b, a + opts.mss)
                        pk.append(Seg(d, a, b - a, TCP_ACK, "dup"))
                    f.add("dups")
    # Loss: segments never sent (never retransmitted: retrans is off on lossy connections).
    if lossy:
        victims = [s for s in data_segs]
        rng.shuffle(victims)
        for s in victims[:rng.randrange(1, 4)]:
            pk.remove(s)

    # Reordering of the data phase: swaps within a window of 3.
    nhead = sum(1 for x in pk if x.kind == "syn") + 1
    head, body = pk[:nhead], pk[nhead:]
    if reorder:
        for i in range(len(body) - 1):
            if choose(rng, 0.15):
                j = min(len(body) - 1, i + rng.randrange(1, 4))
                body[i], body[j] = body[j], body[i]
        if choose(rng, 0.15):
            # The client's data overtakes its SYN.
            firsts = [i for i, x in enumerate(body) if x.dir == C2S and x.kind == "data"]
            if firsts:
                x = body.pop(firsts[0])
                head.insert(0, x)
                f.add("data-before-syn")
    pk = head + body
    if getattr(opts, "p_conflict", 0) > 0:
        pk = plan_conflicts(conn, opts, pk, data_segs)

    # Ending.
    tail = []
    if ending == "fin":
        first = rng.choice((C2S, S2C))
        tail.append(Seg(first, sent[first], 0, TCP_FIN | TCP_ACK, "fin"))
        tail.append(Seg(1 - first, sent[1 - first], 0, TCP_FIN | TCP_ACK, "fin"))
        tail.append(Seg(first, sent[first] + 1, 0, TCP_ACK, "ack"))
        if reorder and choose(rng, 0.4):
            # A FIN overtakes the last data segment of its direction.
            d = tail[0].dir
            idx = [i for i, x in enumerate(pk) if x.dir == d and x.kind == "data"]
            if idx and idx[-1] >= len(pk) - 3:
                m = pk.pop(idx[-1])
                tail.insert(1, m)
                # A copy of the moved bytes before the FIN would let the FIN close the
                # stream before the moved segment arrives: drop such copies.
                pk = [x for x in pk if not (x.dir == d and x.kind == "dup" and
                                            x.off < m.off + m.length and
                                            m.off < x.off + x.length)]
                f.add("fin-early")
        if not must_close_clean and choose(rng, 0.04):
            # A retransmission after both FINs: gopacket opens a new stream for it.
            late = [x for x in data_segs if x in pk]
            if late:
                x = rng.choice(late)
                tail.append(Seg(x.dir, x.off, x.length, x.flags, "dup"))
                f.add("late-dup")
    elif ending == "rst":
        d = rng.choice((C2S, S2C))
        tail.append(Seg(d, sent[d], 0, TCP_RST | TCP_ACK, "rst"))
    pk += tail

    if midstream:
        # The capture starts after the handshake and the first few packets.
        firstdata = [i for i, x in enumerate(pk) if x.kind == "data"]
        cut = min(firstdata) if firstdata else 0
        cut += rng.randrange(0, 4)
        pk = [x for x in pk[cut:] if x.kind != "syn"]
    conn.packets = pk
    conn.sent = sent
    for x in pk:
        if x.kind in ("data", "dup"):
            conn.captured[x.dir].append((x.off, x.length))


def seg_payload(conn, seg):
    """The bytes seg carries: the application's at its offset, or its own (--p-conflict)."""
    if seg.payload is not None:
        return seg.payload
    return conn.data[seg.dir][seg.off:seg.off + seg.length]


def _alter(conn, seg, rng, lo=None, hi=None):
    """Give seg other bytes than the application's in a random part of [lo, hi) (offsets in
    its direction's data; default: seg's whole range): each byte of that part XORed with a
    random non-zero byte, so that each differs from the application's."""
    if lo is None:
        lo, hi = seg.off, seg.off + seg.length
    a = rng.randrange(lo, hi)
    b = rng.randrange(a + 1, hi + 1)
    data = bytearray(seg_payload(conn, seg))
    for i in range(a - seg.off, b - seg.off):
        data[i] ^= rng.randrange(1, 256)
    seg.payload = bytes(data)


def plan_conflicts(conn, opts, pk, data_segs):
    """--p-conflict P: copies of the same sequence numbers carrying other bytes (an evasion:
    same seq, other bytes), planned in the data phase (before any FIN or RST) with a random
    stream of their own, so that without the option nothing changes. Returns the new packet
    list. With probability P each:
      - retransmission already planned ("dup": an exact copy or an overlapping
        re-segmentation of recent data) carries other bytes in part of its range;
    with probability P / 2 each:
      - pair of consecutive data segments X, Y of a direction: Y is held behind a hole (X
        sent later, after 0-2 more packets) while a copy Z overlapping Y arrives (just after
        Y, or just before it), Z other bytes in part of its overlap with Y (sometimes
        elsewhere too) and Z starting at Y's sequence number, lower (inside X: under the
        first policy the later copy wins there), higher (partial overlap, maybe past Y), or
        covering Y; sometimes a third copy of Y's range with other bytes again;
      - data segment: an in-order retransmission of already sent bytes (1-127, 128-2047
        or any number of bytes behind its end, so that some fall out of a retention window)
        with other bytes in part of it, 0-2 packets after it."""
    p = opts.p_conflict
    rng = random.Random("conflict:%d:%d" % (opts.seed, conn.cid))
    mss = getattr(opts, "mss", 0) or 4200     # the largest segment, as plan_connection()
    total = [len(conn.data[0]), len(conn.data[1])]
    f = conn.features
    pk = list(pk)
    for x in pk:
        if x.kind == "dup" and x.length > 0 and choose(rng, p):
            _alter(conn, x, rng)
            f.add("conflict-dup")
    touched = set()
    for d in (C2S, S2C):
        segs = [x for x in data_segs if x.dir == d and x in pk]
        for x, y in zip(segs, segs[1:]):
            if x.off + x.length != y.off or id(x) in touched or id(y) in touched or \
                    not choose(rng, p / 2):
                continue
            yend = y.off + y.length
            variant = rng.choice(("same", "lower", "higher", "cover"))
            if variant in ("lower", "cover") and x.length > 1:
                z0 = rng.randrange(max(x.off + 1, y.off - mss // 2), y.off)
                z1 = rng.randrange(y.off + 1, yend + 1) if variant == "lower" else \
                    min(total[d], yend + rng.randrange(1, 300))
            elif variant == "higher" and y.length > 1:
                z0 = rng.randrange(y.off + 1, yend)
                z1 = rng.randrange(z0 + 1, min(total[d], yend + 400) + 1)
            else:
                z0 = y.off
                z1 = rng.randrange(y.off + 1, min(total[d], yend + 400) + 1)
            z1 = min(z1, z0 + mss)
            z = Seg(d, z0, z1 - z0, TCP_ACK, "dup")
            _alter(conn, z, rng, max(z0, y.off), min(z1, yend))
            if choose(rng, 0.3):
                _alter(conn, z, rng)
            copies = [z]
            if choose(rng, 0.25):
                z2 = Seg(d, y.off, min(y.length, mss), TCP_ACK, "dup")
                _alter(conn, z2, rng)
                copies.append(z2)
            pk.remove(x)
            i = pk.index(y)
            if choose(rng, 0.3):
                pk[i:i] = copies             # the other copy first
            else:
                pk[i + 1:i + 1] = copies
            last = max(pk.index(c) for c in copies + [y])
            pk.insert(min(len(pk), last + 1 + rng.randrange(0, 3)), x)
            touched.update((id(x), id(y)))
            f.add("conflict-held")
    for x in list(pk):
        if x.kind != "data" or x.length == 0 or not choose(rng, p / 2):
            continue
        top = x.off + x.length
        back = rng.choice((rng.randrange(1, 128), rng.randrange(128, 2048),
                           rng.randrange(1, top + 1)))
        a = max(0, top - back)
        z = Seg(x.dir, a, rng.randrange(1, min(mss, top - a) + 1), TCP_ACK, "dup")
        _alter(conn, z, rng)
        pk.insert(min(len(pk), pk.index(x) + 1 + rng.randrange(0, 3)), z)
        f.add("conflict-late")
    return pk


def build_frame(conn, seg):
    """The Ethernet frame of seg (the connection's own tags, no tunnel): (frame, seq,
    payload)."""
    tcp, seq, payload = build_tcp(conn, seg)
    ip, et = build_ip(conn, seg.dir, tcp)
    d = seg.dir
    smac, dmac = (conn.cmac, conn.smac) if d == C2S else (conn.smac, conn.cmac)
    return frames.ethernet(dmac, smac, et, ip, tags=conn.tags, pad=True), seq, payload


def build_tcp(conn, seg):
    """seg's TCP segment (checksum filled in): (segment, seq, payload)."""
    d = seg.dir
    src, sport, dst, dport = conn.endpoint(d)
    if seg.kind == "syn":
        seq = conn.isn[d]
        payload = b""
        opts = b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + struct.pack("!II", 1, 0) + b"\x01\x03\x03\x07"
    else:
        seq = conn.seq_of(d, seg.off)
        payload = seg_payload(conn, seg)
        opts = conn.tcpopts_data
    ack = 0
    if seg.flags & TCP_ACK:
        ack = conn.seq_of(1 - d, conn.sent[1 - d])
    tcp = frames.tcp(sport, dport, seq, seg.flags, payload, ack=ack, options=opts,
                     csum_ips=(src, dst))
    return tcp, seq, payload


def build_ip(conn, d, tcp):
    """The IP packet of direction d carrying tcp (the connection's IPv4 options or IPv6
    extension headers; IPv4 takes the connection's next identification): (packet,
    ethertype)."""
    src, _, dst, _ = conn.endpoint(d)
    if conn.v6:
        return frames.ipv6(src, dst, frames.PROTO_TCP, tcp, ext=conn.v6ext), frames.ETH_IPV6
    conn.ident = (conn.ident + 1) & 0xFFFF
    return frames.ipv4(src, dst, frames.PROTO_TCP, tcp, ident=conn.ident,
                       options=conn.ipopts, checksum=True), frames.ETH_IPV4


# --------------------------------------------------------------------------
# Tunnels and fragments (--encap, --frag, --frag-outer; all off by default).
# --------------------------------------------------------------------------

ENCAP_KINDS = ("mpls", "pppoe", "ipip", "gre", "gre-teb", "erspan2", "erspan3", "vxlan",
               "geneve", "gtpu", "nested")
SINGLE_KINDS = ENCAP_KINDS[:-1]
L2_KINDS = ("mpls", "pppoe")                         # below IP: the frame's ethertype
NEEDS_ETH = ("gre-teb", "erspan2", "erspan3", "vxlan")  # carry an Ethernet frame
MIRROR_KINDS = ("erspan2", "erspan3")                # one way: the same outer addresses
GOPACKET_BLIND = ("erspan3",)                        # gopacket 1.1.19 does not decode it
GTPU_EXT_TYPES = (0x85, 0x40, 0xC0, 0x82)  # PDU session container, UDP port, PDCP PDU numbers


class Layer:
    """One tunnel around a connection's packets, the same for all its packets (both
    directions through the same kind, outer addresses mirrored, or for the mirror kinds
    the same both ways); its counters (GRE sequence numbers...) run per direction.

    needs: "ip" or "eth", what it carries; over_ip: an outer IP layer of its own (all but
    mpls and pppoe, which make an Ethernet frame). level 0 is the innermost layer."""

    def __init__(self, kind, rng, level, needs=None):
        self.kind = kind
        self.level = level
        self.mirror = kind in MIRROR_KINDS
        self.over_ip = kind not in L2_KINDS
        if needs is None:
            needs = "eth" if kind in NEEDS_ETH else "ip"
            if kind == "geneve":
                needs = rng.choice(("eth", "eth", "ip"))
        self.needs = needs
        self.outer_v6 = self.over_ip and choose(rng, 0.3)
        lo = 200 + 20 * level + (10 if self.mirror else 0)
        if self.outer_v6:
            base = 0x10 * level + (8 if self.mirror else 0)
            self.ends = [ipaddress.IPv6Address("2001:db8:ffff:%x::%x" % (base + i,
                                                                        rng.randrange(1, 65536)))
                         for i in (0, 1)]
        else:
            self.ends = [ipaddress.IPv4Address("198.19.%d.%d" % (lo + i, rng.randrange(1, 255)))
                         for i in (0, 1)]
        self.macs = [bytes([2, 0x54, level, rng.randrange(256), rng.randrange(256), 1 + i])
                     for i in (0, 1)]
        self.tags = []
        if kind == "mpls":
            if choose(rng, 0.35):
                self.tags = [(frames.ETH_VLAN, rng.randrange(1, 4095))]
            self.ethertype = frames.ETH_MPLS_MC if choose(rng, 0.1) else frames.ETH_MPLS
            self.labels = []
            for _ in (C2S, S2C):
                n = rng.randrange(1, 4)
                self.labels.append([(rng.randrange(16, 1 << 20), rng.randrange(8),
                                     rng.choice((64, 255, rng.randrange(1, 256))))
                                    for _ in range(n)])
        elif kind == "pppoe":
            if choose(rng, 0.35):
                self.tags = [(frames.ETH_QINQ, rng.randrange(1, 4095)),
                             (frames.ETH_VLAN, rng.randrange(1, 4095))]
            self.session = rng.randrange(1, 0xFFFF)
            self.pfc = choose(rng, 0.1)     # PPP protocol field compressed to one byte
        elif choose(rng, 0.15):
            self.tags = [(frames.ETH_VLAN, rng.randrange(1, 4095))]
        if kind in ("gre", "gre-teb"):
            self.gre_csum = choose(rng, 0.4)
            self.gre_key = rng.randrange(1 << 32) if choose(rng, 0.5) else None
            self.gre_seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)] \
                if choose(rng, 0.5) else None
        elif kind in MIRROR_KINDS:
            self.gre_seq = [rng.randrange(1 << 32)] * 2
            self.session = rng.randrange(1024)
            self.index = rng.randrange(1 << 20)
            self.clock = rng.randrange(1 << 32)
            self.hw_id = rng.randrange(64)
            self.subheader = (bytes([0x0C | rng.randrange(4)]) + rng.randbytes(7)) \
                if kind == "erspan3" and choose(rng, 0.5) else None
        elif kind in ("vxlan", "geneve", "gtpu"):
            self.sports = [rng.randrange(49152, 65536), rng.randrange(49152, 65536)]
            self.vni = rng.randrange(1 << 24)
            self.options = b""
            self.critical = False
            if kind == "geneve" and choose(rng, 0.5):
                for _ in range(rng.randrange(1, 3)):
                    typ = rng.randrange(0x100)
                    self.critical |= typ >= 0x80
                    self.options += frames.geneve_option(rng.randrange(0x0100, 0x0110), typ,
                                                         rng.randbytes(4 * rng.randrange(3)))
            if kind == "gtpu":
                self.teids = [rng.randrange(1, 1 << 32), rng.randrange(1, 1 << 32)]
                n = rng.randrange(4)
                self.gtp_ext = [(rng.choice(GTPU_EXT_TYPES), 4 * rng.randrange(1, 3) - 2)
                                for _ in range(n)]
                self.gtp_seq = [rng.randrange(1 << 16), rng.randrange(1 << 16)] \
                    if n or choose(rng, 0.5) else None
                self.gtp_npdu = rng.randrange(256) if choose(rng, 0.25) else None
        self.rng = rng

    def ends_of(self, d):
        """(outer source, destination, source MAC, destination MAC) of direction d."""
        if self.mirror or d == C2S:
            return self.ends[0], self.ends[1], self.macs[0], self.macs[1]
        return self.ends[1], self.ends[0], self.macs[1], self.macs[0]

    def _next_seq(self, d):
        if self.gre_seq is None:
            return None
        d = 0 if self.mirror else d     # a mirror session: one counter
        s = self.gre_seq[d]
        self.gre_seq[d] = (s + 1) & 0xFFFFFFFF
        return s

    def payload(self, kind, data, d):
        """What this layer's outer IP (or Ethernet) carries: (IP protocol or ethertype,
        bytes); kind is "eth", "ip4" or "ip6", what data is."""
        k = self.kind
        src, dst = self.ends_of(d)[:2]
        if k == "mpls":
            return self.ethertype, frames.mpls(self.labels[d], data)
        if k == "pppoe":
            if self.pfc:
                proto = frames.PPP_IPV6 if kind == "ip6" else frames.PPP_IPV4
                body = struct.pack("!BBHH", 0x11, 0, self.session, 1 + len(data))
                return frames.ETH_PPPOE_SESSION, body + bytes([proto]) + data
            return frames.ETH_PPPOE_SESSION, frames.pppoe_session(self.session, data)
        if k == "ipip":
            return (frames.PROTO_IPV6 if kind == "ip6" else frames.PROTO_IPIP), data
        if k in ("gre", "gre-teb"):
            proto = frames.ETH_TEB if k == "gre-teb" else frames.ethertype_of(data)
            return frames.PROTO_GRE, frames.gre(proto, data, checksum=self.gre_csum,
                                                key=self.gre_key, seq=self._next_seq(d))
        if k == "erspan2":
            return frames.PROTO_GRE, frames.gre(
                frames.ETH_ERSPAN2, frames.erspan2(self.session, data, index=self.index),
                seq=self._next_seq(d))
        if k == "erspan3":
            self.clock = (self.clock + self.rng.randrange(1, 5000)) & 0xFFFFFFFF
            return frames.PROTO_GRE, frames.gre(
                frames.ETH_ERSPAN3, frames.erspan3(self.session, data, timestamp=self.clock,
                                                   hw_id=self.hw_id, gra=3,
                                                   subheader=self.subheader),
                seq=self._next_seq(d))
        if k == "vxlan":
            inner, port = frames.vxlan(self.vni, data), frames.UDP_VXLAN
        elif k == "geneve":
            proto = frames.ETH_TEB if kind == "eth" else frames.ethertype_of(data)
            inner, port = frames.geneve(self.vni, proto, data, self.options,
                                        critical=self.critical), frames.UDP_GENEVE
        else:
            seq = None
            if self.gtp_seq is not None:
                seq = self.gtp_seq[d]
                self.gtp_seq[d] = (seq + 1) & 0xFFFF
            ext = [(t, self.rng.randbytes(n)) for t, n in self.gtp_ext]
            inner, port = frames.gtpu(self.teids[d], data, seq=seq, npdu=self.gtp_npdu,
                                      ext=ext), frames.UDP_GTPU
        sport = self.sports[0 if self.mirror else d]
        if self.outer_v6:
            return frames.PROTO_UDP, frames.udp_csum(sport, port, inner, src, dst)
        return frames.PROTO_UDP, frames.udp(sport, port, inner)


class Tunnel:
    """The layers around a connection's packets, innermost first (one, or two for
    "nested")."""

    def __init__(self, kind, layers):
        self.kind = kind            # the --encap kind chosen
        self.layers = layers
        self.outer = max((i for i, x in enumerate(layers) if x.over_ip), default=None)

    def stack(self):
        """"vxlan", or for nested "gre>vxlan" (outer>inner)."""
        return ">".join(x.kind for x in reversed(self.layers))

    def gopacket_decodes(self):
        return not any(x.kind in GOPACKET_BLIND for x in self.layers)


def make_tunnel(kind, rng):
    if kind != "nested":
        return Tunnel(kind, [Layer(kind, rng, 0)])
    pairs = [(o, i) for o in SINGLE_KINDS for i in SINGLE_KINDS
             if not (i in L2_KINDS and (o in L2_KINDS or o in ("ipip", "gre", "gtpu")))]
    outer, inner = rng.choice(pairs)
    lin = Layer(inner, rng, 0)
    needs = "eth" if outer == "geneve" and inner in L2_KINDS else None
    return Tunnel(kind, [lin, Layer(outer, rng, 1, needs)])


class IdAlloc:
    """Identifications for fragmented datagrams (and outer IPv4 packets): one counter per
    (source, destination) pair, so no two datagrams a defragmenter may hold at once
    share a key."""

    def __init__(self, rng):
        self.rng = rng
        self.next = {}

    def take(self, src, dst, bits):
        k = (str(src), str(dst), bits)
        v = self.next.get(k)
        if v is None:
            v = self.rng.randrange(1 << bits)
        self.next[k] = (v + 1) & ((1 << bits) - 1)
        return v


def covered(intervals, total):
    """True when the (start, end) intervals cover [0, total)."""
    at = 0
    for s, e in sorted(intervals):
        if s > at:
            return False
        at = max(at, e)
    return at >= total


def overlap_bytes(items):
    """Bytes of the (start, end) fragments, in arrival order, that earlier ones already
    brought (what a defragmenter keeping the first copy sees as duplicated)."""
    got, n = [], 0
    for s, e in items:
        held = 0
        for a, b in _merge(got):
            held += max(0, min(b, e) - max(a, s))
        n += held
        got.append((s, e))
    return n


def _merge(intervals):
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def completion(items, total):
    """Index of the fragment that completes the datagram (the last fragment came and
    every byte is covered), or None."""
    got, have_last = [], False
    for k, (s, e) in enumerate(items):
        got.append((s, e))
        have_last = have_last or e == total
        if have_last and covered(got, total):
            return k
    return None


def frag_plan(rng, total, opts, overlap_ok):
    """How a datagram of total fragmentable bytes is sent: ([(start, end)] in sending
    order, index of the completing one, set of what was done: reorder, dup, overlap).
    2..6 fragments cut at multiples of 8; sometimes out of order, with a duplicate, or
    (overlap_ok) with an overlapping fragment (same bytes; never the last one). Extra
    fragments sent after the completing one never complete a datagram by themselves."""
    cands = list(range(8, total, 8))
    n = rng.randint(2, min(6, 1 + len(cands)))
    cuts = sorted(rng.sample(cands, n - 1))
    bounds = [0] + cuts + [total]
    frs = [(bounds[i], bounds[i + 1]) for i in range(n)]
    done = set()
    items = list(frs)
    if choose(rng, opts.frag_reorder):
        while items == frs:
            rng.shuffle(items)
        done.add("reorder")
    extras = []
    if choose(rng, opts.frag_dup):
        extras.append(rng.choice(frs))
        done.add("dup")
    top = 8 * ((total - 1) // 8)     # the last offset an overlap may end at (MF set)
    inside = [c for c in cuts if c < top]
    if overlap_ok and inside and choose(rng, opts.frag_overlap):
        c = rng.choice(inside)
        a = 8 * rng.randrange(0, c // 8)
        b = 8 * rng.randrange(c // 8 + 1, (total - 1) // 8 + 1)
        extras.append((a, b))
        done.add("overlap")
    for x in extras:
        items.insert(rng.randrange(len(items) + 1), x)
    k = completion(items, total)
    if k is None or (extras and completion(items[k + 1:], total) is not None):
        return frs, n - 1, set()
    return items, k, done


class FragInfo:
    """Counts of what was fragmented (the info dict's "frag")."""

    def __init__(self):
        self.c = collections.Counter()

    def add(self, level, fam, plan_items, k, done):
        self.c["datagrams_" + level] += 1
        self.c["fragments"] += len(plan_items)
        self.c["fragments_ipv%d" % fam] += len(plan_items)
        self.c["fragments_" + level] += len(plan_items)
        stale = len(plan_items) - 1 - k
        self.c["stale_fragments"] += stale
        self.c["stale_datagrams"] += 1 if stale else 0
        self.c["overlap_bytes"] += overlap_bytes(plan_items[:k + 1]) + \
            overlap_bytes(plan_items[k + 1:])
        for x in done:
            self.c[x] += 1


def _ipv4_fragments(src, dst, proto, data, ident, options, items):
    out = []
    for s, e in items:
        opts = options if s == 0 else frames.ipv4_copied_options(options)
        out.append(frames.ipv4_fragment(src, dst, proto, data[s:e], ident, s, e < len(data),
                                        options=opts))
    return out


def _ipv6_fragments(src, dst, unfrag_ext, nh, data, ident, items):
    """unfrag_ext: extension header kinds before the Fragment header (hop-by-hop); nh:
    what follows the Fragment header; data: the fragmentable part."""
    out = []
    for s, e in items:
        hdrs = b""
        for i, _kind in enumerate(unfrag_ext):
            hdrs += frames.ipv6_ext_header(unfrag_ext[i + 1] if i + 1 < len(unfrag_ext)
                                           else frames.PROTO_FRAGMENT)
        hdrs += frames.ipv6_fragment_header(nh, s, e < len(data), ident) + data[s:e]
        out.append(frames.ipv6_raw(src, dst, unfrag_ext[0] if unfrag_ext
                                   else frames.PROTO_FRAGMENT, hdrs))
    return out


class Wrapper:
    """Frames of a connection's packets through its tunnel, fragmented as chosen."""

    def __init__(self, opts, seed):
        self.opts = opts
        self.ids = IdAlloc(random.Random("ids:%d" % seed))
        self.fragged = FragInfo()

    @staticmethod
    def _eth(kind, data, tags, macs):
        """data as an Ethernet frame from macs[0] to macs[1] (kind "eth": already one)."""
        if kind == "eth":
            return data
        smac, dmac = macs
        et = frames.ETH_IPV6 if kind == "ip6" else frames.ETH_IPV4
        return frames.ethernet(dmac, smac, et, data, tags=tags)

    def wrap(self, conn, d, ip, outer_plan=None):
        """The frames of the IP packet ip (maybe a fragment) through conn.tunnel (or the
        connection's own Ethernet): one, or one per outer fragment in outer_plan's order."""
        kind = "ip6" if frames.ip_version(ip) == 6 else "ip4"
        macs = (conn.cmac, conn.smac) if d == C2S else (conn.smac, conn.cmac)
        tags = conn.tags
        units = [(kind, ip)]
        t = conn.tunnel
        for li, layer in enumerate(t.layers if t else ()):
            new = []
            for kind, data in units:
                if layer.needs == "eth" and kind != "eth":
                    data, kind = self._eth(kind, data, tags, macs), "eth"
                proto, body = layer.payload(kind, data, d)
                src, dst, smac, dmac = layer.ends_of(d)
                if not layer.over_ip:
                    new.append(("eth", frames.ethernet(dmac, smac, proto, body,
                                                       tags=layer.tags)))
                    continue
                if layer.outer_v6:
                    if li == t.outer and outer_plan is not None:
                        items, k, done = outer_plan(len(body), False)
                        ident = self.ids.take(src, dst, 32)
                        self.fragged.add("outer", 6, items, k, done)
                        new += [("ip6", x) for x in _ipv6_fragments(src, dst, [], proto, body,
                                                                    ident, items)]
                    else:
                        new.append(("ip6", frames.ipv6_raw(src, dst, proto, body)))
                else:
                    ident = self.ids.take(src, dst, 16)
                    if li == t.outer and outer_plan is not None:
                        items, k, done = outer_plan(len(body), True)
                        self.fragged.add("outer", 4, items, k, done)
                        new += [("ip4", x) for x in _ipv4_fragments(src, dst, proto, body,
                                                                    ident, b"", items)]
                    else:
                        new.append(("ip4", frames.ipv4_fragment(src, dst, proto, body, ident,
                                                                0, False)))
            units = new
            if layer.over_ip:
                src, dst, smac, dmac = layer.ends_of(d)
                macs, tags = (smac, dmac), layer.tags
        out = [data if kind == "eth" else self._eth(kind, data, tags, macs)
               for kind, data in units]
        return [f + b"\0" * (frames.ETH_MIN_FRAME - len(f)) if len(f) < frames.ETH_MIN_FRAME
                else f for f in out]

    def packet(self, conn, seg, frng):
        """seg's frames: ([(frame, completes)], seq, payload, how), how one of "plain",
        "inner", "outer" (fragmented there); completes: the fragment that completes the
        datagram (the only frame of an unfragmented packet)."""
        o = self.opts
        tcp, seq, payload = build_tcp(conn, seg)
        d = seg.dir
        r = frng.random()
        t = conn.tunnel
        how = "plain"
        if r < o.frag:
            how = "inner"
        elif r < o.frag + o.frag_outer and t is not None and t.outer is not None:
            how = "outer"
        if how == "inner":
            src, _, dst, _ = conn.endpoint(d)
            if conn.v6:
                unfrag = [x for x in conn.v6ext if x == 0]
                after = [x for x in conn.v6ext if x != 0]
                data = b""
                for i, _kind in enumerate(after):
                    data += frames.ipv6_ext_header(after[i + 1] if i + 1 < len(after)
                                                   else frames.PROTO_TCP)
                data += tcp
                nh = after[0] if after else frames.PROTO_TCP
                items, k, done = frag_plan(frng, len(data), o, False)
                ident = self.ids.take(src, dst, 32)
                pieces = _ipv6_fragments(src, dst, unfrag, nh, data, ident, items)
                self.fragged.add("inner", 6, items, k, done)
            else:
                conn.ident = (conn.ident + 1) & 0xFFFF
                items, k, done = frag_plan(frng, len(tcp), o, True)
                ident = self.ids.take(src, dst, 16)
                pieces = _ipv4_fragments(src, dst, frames.PROTO_TCP, tcp, ident, conn.ipopts,
                                         items)
                self.fragged.add("inner", 4, items, k, done)
            out = []
            for i, p in enumerate(pieces):
                (f,) = self.wrap(conn, d, p)
                out.append((f, i == k))
            return out, seq, payload, how
        ip, _ = build_ip(conn, d, tcp)
        if how == "outer":
            plan = {}

            def outer_plan(total, overlap_ok):
                plan["p"] = frag_plan(frng, total, o, overlap_ok)
                return plan["p"]
            fs = self.wrap(conn, d, ip, outer_plan)
            k = plan["p"][1]
            return [(f, i == k) for i, f in enumerate(fs)], seq, payload, how
        (f,) = self.wrap(conn, d, ip)
        return [(f, True)], seq, payload, how


def parse_encap(text):
    """--encap's list: kinds of ENCAP_KINDS, "none", or "all" (every kind)."""
    if not text:
        return []
    out = []
    for k in text.split(","):
        k = k.strip()
        if k == "all":
            out += list(ENCAP_KINDS)
        elif k in ENCAP_KINDS or k == "none":
            out.append(k)
        elif k:
            raise ValueError("--encap: unknown kind %r (kinds: %s, none, all)" % (
                k, ", ".join(ENCAP_KINDS)))
    return out


def assign_tunnels(conns, opts, kinds):
    """conn.tunnel for each connection: with probability --p-encap, the next kind of a
    shuffled deck of kinds (so that every kind is used once there are as many tunnelled
    connections as kinds), its parameters from the connection's own random stream; a
    connection reusing a 4-tuple keeps its predecessor's tunnel."""
    deck, drng = [], random.Random("encap-deck:%d" % opts.seed)
    for c in conns:
        if c.follows is not None:
            c.tunnel = c.follows.tunnel
            continue
        if not kinds:
            continue
        crng = random.Random("encap:%d:%d" % (opts.seed, c.cid))
        if not choose(crng, opts.p_encap):
            continue
        if not deck:
            deck = list(kinds)
            drng.shuffle(deck)
        kind = deck.pop()
        if kind != "none":
            c.tunnel = make_tunnel(kind, crng)
            c.features.add("encap-" + kind)


def emit_wrapped(opts, conns, sched, wr):
    """The frames of sched through the tunnels, fragmented as --frag / --frag-outer say,
    in sending order: [(ts_us, frame, event with the datagram reassembled or None,
    event with fragments dropped or None, (conn, how, seg))]. An event is the model's
    assemble() arguments. With fragments the capture is timed anew: the fragments of a
    datagram follow each other or other traffic (at most --frag-spread packets of other
    connections in between; a connection's next packet waits for them)."""
    fragging = opts.frag > 0 or opts.frag_outer > 0
    frngs = {c.cid: random.Random("frag:%d:%d" % (opts.seed, c.cid)) for c in conns}
    erng = random.Random("emit:%d" % opts.seed)
    out, pending = [], []
    for idx, (ts, c, seg) in enumerate(sched):
        fk = (c.client, c.cport, c.server, c.sport)
        if pending:
            rest = []
            for p in pending:
                if p[0] <= idx or p[1] == fk:
                    out.append([None, p[2], p[3], None, p[4], "cont"])
                else:
                    rest.append(p)
            pending = rest
        fl, seq, payload, how = wr.packet(c, seg, frngs[c.cid])
        ev = (c.key(seg.dir), seq, bool(seg.flags & TCP_SYN), bool(seg.flags & TCP_FIN),
              bool(seg.flags & TCP_RST), payload, (c.cid, seg.dir))
        if how == "plain":
            out.append([ts, fl[0][0], ev, ev, (c, how, seg), "new"])
            continue
        spread = opts.frag_spread if choose(erng, 0.5) else 0
        g = 0
        for j, (f, completes) in enumerate(fl):
            if j > 0 and spread:
                g = min(spread, g + erng.randrange(0, 3))
            e = ev if completes else None
            if g == 0:
                out.append([ts, f, e, None, (c, how, seg), "new" if j == 0 else "cont"])
            else:
                pending.append([idx + g, fk, f, e, (c, how, seg)])
    for p in pending:
        out.append([None, p[2], p[3], None, p[4], "cont"])
    if fragging and out:
        t = sched[0][0]
        for x in out:
            t += erng.randrange(1, 2000) if x[5] == "new" else erng.randrange(1, 120)
            x[0] = t
    return [tuple(x[:5]) for x in out]


def make_tuples(rng, n, v6):
    out = set()
    res = []
    while len(res) < n:
        if v6:
            def addr(net):
                groups = [0x2001, 0xDB8, net, rng.choice([0, rng.randrange(1, 65536)])]
                groups += [rng.randrange(1, 65536) if choose(rng, 0.6) else 0 for _ in range(4)]
                return ipaddress.IPv6Address(":".join("%x" % g for g in groups))
            c, s = addr(1), addr(2)
        else:
            c = ipaddress.IPv4Address("10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256),
                                                        rng.randrange(1, 255)))
            s = ipaddress.IPv4Address("192.168.%d.%d" % (rng.randrange(256), rng.randrange(1, 255)))
        t = (c, s, rng.randrange(1024, 65536), rng.choice([80, 443, 8080, 25, 5432, 6379]))
        if (t[0], t[2], t[1], t[3]) in out:
            continue
        out.add((t[0], t[2], t[1], t[3]))
        res.append(t)
    return res


def generate(opts):
    rng = random.Random(opts.seed)
    conns = []
    n = opts.conns
    n_reuse = max(1, n * opts.p_reuse // 100) if opts.p_reuse else 0
    n_first = n - n_reuse
    v6flags = [choose(rng, opts.p_ipv6) for _ in range(n_first)]
    tuples4 = make_tuples(rng, v6flags.count(False), False)
    tuples6 = make_tuples(rng, v6flags.count(True), True)
    reuse_of = set(rng.sample(range(n_first), min(n_reuse, n_first)))
    for i in range(n_first):
        t = tuples6.pop() if v6flags[i] else tuples4.pop()
        c = Conn(len(conns), random.Random(rng.random()), t, v6flags[i])
        plan_connection(c, c.rng, opts, must_close_clean=i in reuse_of)
        conns.append(c)
    # Successors reusing a 4-tuple (created after, so cids stay dense).
    for i in sorted(reuse_of):
        prev = conns[i]
        c = Conn(len(conns), random.Random(rng.random()),
                 (prev.client, prev.server, prev.cport, prev.sport), prev.v6, follows=prev)
        plan_connection(c, c.rng, opts, must_close_clean=False)
        c.features.add("reuse")
        prev.features.add("reused")
        conns.append(c)

    # Interleave: up to opts.concurrency connections active; a successor starts only
    # after its predecessor's last packet.
    pending = [c for c in conns if c.follows is None]
    rng.shuffle(pending)
    waiting = {c.follows.cid: c for c in conns if c.follows is not None}
    active = []
    pos = {}
    ts = BASE_TIME_US + rng.randrange(1_000_000)
    out = []        # (ts, conn, seg)
    while pending or active or waiting:
        while pending and len(active) < opts.concurrency:
            c = pending.pop()
            active.append(c)
            pos[c.cid] = 0
        if not active:
            # Only successors whose predecessors are done can remain.
            c = waiting.pop(next(iter(waiting)))
            pending.append(c)
            continue
        c = rng.choice(active)
        if pos[c.cid] < len(c.packets):
            ts += rng.randrange(1, 2000)
            out.append((ts, c, c.packets[pos[c.cid]]))
            pos[c.cid] += 1
        if pos[c.cid] >= len(c.packets):
            active.remove(c)
            if c.cid in waiting:
                # Start the successor later, after some other traffic.
                pending.insert(0, waiting.pop(c.cid))
    return conns, out


class Result:
    """What run_all() made. conns; frames: [(ts_us, frame)]; model: gopacket fed the
    capture with every fragmented segment delivered whole when its datagram completes
    (the expected file); model_nd: fed only the segments not sent as fragments
    (--expected-no-defrag; the same as model without fragments); checked, checked_nd:
    directions self-checked in each; wrapper: the Wrapper (None without --encap,
    --frag, --frag-outer); meta: per frame, (conn, how, Seg) with how "plain", "inner"
    or "outer" (fragmented there)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class Event:
    """One TCP segment given to the model (the capture's packets, or with fragments
    each datagram once, where it completes): ts (us), conn, seg; open_before: a stream
    direction of its 4-tuple was open in the model just before it; streams: the indexes
    in model.streams of the stream directions it opened."""
    __slots__ = ("ts", "conn", "seg", "open_before", "streams")

    def __init__(self, ts, conn, seg, open_before, streams):
        self.ts, self.conn, self.seg = ts, conn, seg
        self.open_before, self.streams = open_before, streams


class EventLog:
    """Feeds the model and keeps an Event per segment (for conn_truth())."""

    def __init__(self):
        self.list = []

    def feed(self, model, conn, seg, ev, ts):
        """ev: assemble()'s (key, seq, syn, fin, rst, payload)."""
        d = seg.dir
        open_before = conn.key(d) in model.conns or conn.key(1 - d) in model.conns
        n = len(model.streams)
        model.assemble(*ev, ts, tag=(conn.cid, d))
        self.list.append(Event(ts, conn, seg, open_before, range(n, len(model.streams))))


def _opt(opts, name, default):
    return getattr(opts, name, default)


def overlap_wanted(opts):
    """Whether the run needs OverlapModel: conflicts in the capture, or their files."""
    return bool(_opt(opts, "p_conflict", 0) > 0 or _opt(opts, "expected_last", None) or
                _opt(opts, "expected_conflicts", None))


def new_model(opts):
    """The model of the capture: GopacketModel, or OverlapModel (overlap_wanted())."""
    if not overlap_wanted(opts):
        return GopacketModel()
    return OverlapModel(parse_retains(_opt(opts, "expected_retain", "0")))


def parse_retains(text):
    """--expected-retain: N[,N...], each 0 or a power of 2 up to RETAIN_MAX."""
    out = []
    for x in str(text).split(","):
        n = int(x)
        if n < 0 or n > RETAIN_MAX or n & (n - 1):
            raise ValueError("--expected-retain %s: 0 or a power of 2 up to %d" % (x, RETAIN_MAX))
        out.append(n)
    return out


def overlap_check(conns, model):
    """With OverlapModel: conflict_self_check(), its count kept as model.conflicts_checked."""
    if isinstance(model, OverlapModel):
        model.conflicts_checked = conflict_self_check(conns, model)


def run_all(opts):
    conns, sched = generate(opts)
    kinds = parse_encap(_opt(opts, "encap", None))
    fragging = _opt(opts, "frag", 0) > 0 or _opt(opts, "frag_outer", 0) > 0
    model = new_model(opts)
    frames_out, meta = [], []
    events = EventLog()
    if not kinds and not fragging:
        for ts, c, seg in sched:
            frame, seq, payload = build_frame(c, seg)
            frames_out.append((ts, frame))
            meta.append((c, "plain", seg))
            events.feed(model, c, seg, (c.key(seg.dir), seq, bool(seg.flags & TCP_SYN),
                                        bool(seg.flags & TCP_FIN), bool(seg.flags & TCP_RST),
                                        payload), ts)
        model.flush_all()
        checked = self_check(conns, model)
        overlap_check(conns, model)
        return Result(conns=conns, frames=frames_out, model=model, model_nd=model,
                      checked=checked, checked_nd=checked, wrapper=None, meta=meta,
                      events=events.list)
    assign_tunnels(conns, opts, kinds)
    wr = Wrapper(opts, opts.seed)
    model_nd = GopacketModel() if fragging else None
    for ts, frame, ev, ev_nd, m in emit_wrapped(opts, conns, sched, wr):
        frames_out.append((ts, frame))
        meta.append(m)
        if ev is not None:
            events.feed(model, m[0], m[2], ev[:6], ts)
        if ev_nd is not None and model_nd is not None:
            model_nd.assemble(*ev_nd[:6], ts, tag=ev_nd[6])
    model.flush_all()
    checked = self_check(conns, model)
    overlap_check(conns, model)
    if model_nd is None:
        model_nd, checked_nd = model, checked
    else:
        # A connection's packets keep their order (a datagram completes before the
        # connection's next packet): reassembled, the capture delivers what it delivers
        # unfragmented, only the times of the records differ.
        plain = GopacketModel()
        for ts, c, seg in sched:
            plain.assemble(c.key(seg.dir), *_event(c, seg), ts, tag=(c.cid, seg.dir))
        plain.flush_all()
        assert _streams(plain) == _streams(model), \
            "fragmented, the capture delivers other streams than unfragmented"
        model_nd.flush_all()
        whole = {id(m[2]) for m in meta if m[1] == "plain"}
        checked_nd = self_check(conns, model_nd, delivered=whole)
    return Result(conns=conns, frames=frames_out, model=model, model_nd=model_nd,
                  checked=checked, checked_nd=checked_nd, wrapper=wr, meta=meta,
                  events=events.list)


def _event(conn, seg):
    """(seq, syn, fin, rst, payload) of seg, as build_tcp() makes it (without building)."""
    if seg.kind == "syn":
        seq, payload = conn.isn[seg.dir], b""
    else:
        seq = conn.seq_of(seg.dir, seg.off)
        payload = seg_payload(conn, seg)
    return (seq, bool(seg.flags & TCP_SYN), bool(seg.flags & TCP_FIN),
            bool(seg.flags & TCP_RST), payload)


def _streams(model):
    """The model's stream directions, their records' times left out."""
    keep = ("bytes", "records", "skips", "skip_unknown", "skipped_bytes", "start", "end",
            "sha256")
    return collections.Counter((s.key,) + tuple(s.summary()[k] for k in keep)
                               for s in model.streams)


def run(opts):
    """(conns, frames, model, self-checked directions): run_all()'s main results."""
    r = run_all(opts)
    return r.conns, r.frames, r.model, r.checked


def self_check(conns, model, delivered=None):
    """For a direction captured without a hole: exactly the bytes the application sent.
    delivered: the ids of the Seg objects the model was given (None: all of them); a
    4-tuple used by several connections is not checked when one of its packets was not
    given (its first connection may then never close)."""
    def given(x):
        return delivered is None or id(x) in delivered

    skip = set()
    if delivered is not None:
        users = collections.Counter((c.client, c.cport, c.server, c.sport) for c in conns)
        for c in conns:
            t = (c.client, c.cport, c.server, c.sport)
            if users[t] > 1 and not all(given(x) for x in c.packets):
                skip.add(t)
    by_tag = {}
    for s in model.streams:
        by_tag.setdefault(s.tag, []).append(s)
    checked = 0
    for c in conns:
        if (c.client, c.cport, c.server, c.sport) in skip:
            continue
        for d in (C2S, S2C):
            syn_seen = any(x.dir == d and x.kind == "syn" and given(x) for x in c.packets)
            if delivered is None:
                caps = sorted(c.captured[d])
            else:
                caps = sorted((x.off, x.length) for x in c.packets
                              if x.dir == d and x.kind in ("data", "dup") and given(x))
            streams = by_tag.get((c.cid, d), [])
            if not caps:
                continue
            lo, hi = caps[0][0], caps[0][0]
            hole = False
            for off, ln in caps:
                if off > hi:
                    hole = True
                hi = max(hi, off + ln)
            if hole or hi != len(c.data[d]) or (syn_seen and lo != 0):
                continue
            want = c.data[d][lo:hi]
            # A retransmission after the FIN opens one more stream (late-dup).
            assert len(streams) == 1 or (len(streams) == 2 and "late-dup" in c.features), \
                "conn %d dir %d: %d streams" % (c.cid, d, len(streams))
            s = streams[0]
            # --p-conflict: copies with other bytes; each policy delivers, at each position,
            # the application's byte or one of theirs, the application's where none has
            # other bytes.
            alts = [(x.off, x.payload) for x in c.packets
                    if x.dir == d and x.payload is not None and given(x)]
            for policy in (POLICIES if isinstance(model, OverlapModel) else ("first",)):
                got = s.data(policy)
                if not alts:
                    assert got == want, "conn %d dir %d (%s): delivered %d bytes, sent %d%s" % (
                        c.cid, d, sorted(c.features), len(got), len(want),
                        "" if policy == "first" else " (last policy)")
                    continue
                assert len(got) == len(want), "conn %d dir %d (%s, %s policy): delivered %d " \
                    "bytes, sent %d" % (c.cid, d, sorted(c.features), policy, len(got),
                                        len(want))
                for i in range(len(want)):
                    if got[i] != want[i]:
                        at = lo + i
                        assert any(o <= at < o + len(b) and b[at - o] == got[i]
                                   for o, b in alts), \
                            "conn %d dir %d (%s policy): byte %d is no copy's" % (
                                c.cid, d, policy, at)
            sm = s.summary()
            assert sm["skips"] == 0, "conn %d dir %d: skips" % (c.cid, d)
            assert sm["skip_unknown"] == (0 if syn_seen else 1), "conn %d dir %d" % (c.cid, d)
            checked += 1
    return checked


# --------------------------------------------------------------------------
# Connections (--expected-conns): both directions of a 4-tuple paired, as reasm's
# connection layer (--sink conn) reports them.
# --------------------------------------------------------------------------

# reasm's REASM_ENCAP_* names, in its bit order (jsonl "encap" lists them so).
ENCAP_BIT_ORDER = ("vlan", "mpls", "pppoe", "ipip", "gre", "erspan", "vxlan", "geneve",
                   "gtpu")
ENCAP_LAYER_NAMES = {"mpls": ("mpls",), "pppoe": ("pppoe",), "ipip": ("ipip",),
                     "gre": ("gre",), "gre-teb": ("gre",), "erspan2": ("gre", "erspan"),
                     "erspan3": ("gre", "erspan"), "vxlan": ("vxlan",),
                     "geneve": ("geneve",), "gtpu": ("gtpu",)}
HISTORY_MAX = 31
CONN_DIR_SUMS = ("bytes", "records", "skips", "skip_unknown", "skipped_bytes")


def frame_encap(conn, d):
    """What reasm's parser reports around direction d's frames of conn (jsonl "encap",
    "vlan", "tunnel_id"): a dict with "encap" (layer names in reasm's bit order), "vlan"
    (the outermost VLAN id) and "tunnel_id" (the innermost tunnel's id that has one, 0
    if none has); {} for a plain untagged frame. Follows Wrapper.wrap(): the Ethernet
    headers a frame gets and whose tags they carry."""
    names = set()
    eth_tags = []        # the tag lists of the frame's Ethernet headers, inner to outer
    tid = None
    layers = conn.tunnel.layers if conn.tunnel is not None else ()
    tags, kind = conn.tags, "ip"
    for layer in layers:
        if layer.needs == "eth" and kind != "eth":
            eth_tags.append(tags)
            kind = "eth"
        names.update(ENCAP_LAYER_NAMES[layer.kind])
        if tid is None:
            k = layer.kind
            if k == "mpls":
                tid = layer.labels[d][-1][0]
            elif k in ("pppoe", "erspan2", "erspan3"):
                tid = layer.session
            elif k in ("gre", "gre-teb"):
                tid = layer.gre_key
            elif k in ("vxlan", "geneve"):
                tid = layer.vni
            elif k == "gtpu":
                tid = layer.teids[d]
        if not layer.over_ip:
            eth_tags.append(layer.tags)
            kind = "eth"
        else:
            tags, kind = layer.tags, "ip"
    if kind != "eth":
        eth_tags.append(tags)
    if any(eth_tags):
        names.add("vlan")
    if not names:
        return {}
    out = {"encap": [n for n in ENCAP_BIT_ORDER if n in names]}
    outer = [t for t in eth_tags if t]
    if outer:
        out["vlan"] = outer[-1][0][1]
    if names - {"vlan"}:
        out["tunnel_id"] = tid or 0
    return out


def _history_letter(flags, paylen):
    """(letter, kind) of a packet (None for none), before case, as Zeek's update_history
    writes it: a packet with two or more of SYN, FIN, RST is I (FIN and RST) or Q; else a
    SYN is S (H with ACK), a FIN F, a RST R; else D for payload, A for an ACK. kind: what
    its repetition depends on ("once": written once per side; "syn", "fin", "rst": again
    at a new sequence number, S and H sharing theirs)."""
    syn, fin, rst = bool(flags & TCP_SYN), bool(flags & TCP_FIN), bool(flags & TCP_RST)
    if syn + fin + rst > 1:
        return ("I", "once") if fin and rst else ("Q", "once")
    if syn:
        return ("H" if flags & TCP_ACK else "S"), "syn"
    if fin:
        return "F", "fin"
    if rst:
        return "R", "rst"
    if paylen:
        return "D", "once"
    if flags & TCP_ACK:
        return "A", "once"
    return None, None


def _sender(ev):
    src, sport = ev.conn.endpoint(ev.seg.dir)[:2]
    return str(src), sport


class _ConnTruth:
    """One connection as reasm's connection layer should report it (conn_truth())."""

    def __init__(self, ends):
        self.ends = ends            # the two (address, port) endpoints, sorted
        self.events = []
        self.fins = set()           # senders of a FIN
        self.end = None             # "fin", ("rst", sender) once ended
        self.roles = "guessed"
        self.client = None          # (address, port)
        self.history = ""
        self.hist_once = set()      # (sender, letter) of A, D, Q, I seen
        self.hist_last = {}         # (sender, "syn" / "fin" / "rst") -> the last one's
        #                             sequence number (FIN: + its payload length)

    def ended(self):
        return self.end is not None

    def add(self, ev):
        c, seg = ev.conn, ev.seg
        sender = _sender(ev)
        self.events.append(ev)
        flags = seg.flags
        if self.client is None:
            self.client = sender
        # Roles: a SYN (without ACK) names the client, else a SYN-ACK the server; a guess
        # (the first packet's sender) gives way to them.
        if flags & TCP_SYN and self.roles != "syn":
            new = None
            if not flags & TCP_ACK:
                new, self.roles = sender, "syn"
            elif self.roles == "guessed":
                new, self.roles = self.other(sender), "syn_ack"
            if new is not None and new != self.client:
                self.client = new
                if self.history:
                    self.history = self.history.swapcase()
                    if len(self.history) < HISTORY_MAX:
                        self.history += "^"
        # History (upper case: the client).
        seq, _syn, _fin, _rst, payload = _event(c, seg)
        letter, kind = _history_letter(flags, len(payload))
        write = letter is not None
        if kind == "once":
            write = (sender, letter) not in self.hist_once
            self.hist_once.add((sender, letter))
        elif kind is not None:
            mark = seq_add(seq, len(payload)) if kind == "fin" else seq
            write = (sender, kind) not in self.hist_last or \
                self.hist_last[(sender, kind)] != mark
            self.hist_last[(sender, kind)] = mark
        if write and len(self.history) < HISTORY_MAX:
            self.history += letter if sender == self.client else letter.lower()
        # End: both FINs, or the first RST, whichever comes first.
        if flags & TCP_FIN:
            self.fins.add(sender)
        if self.end is None:
            if flags & TCP_RST:
                self.end = ("rst", sender)
            elif len(self.fins) == 2:
                self.end = "fin"

    def other(self, ep):
        return self.ends[1] if ep == self.ends[0] else self.ends[0]

    def row(self, model):
        first = self.events[0]
        c0 = first.conn
        client, server = self.client, self.other(self.client)
        if self.end == "fin":
            end = "fin"
        elif self.end is not None:
            end = "rst_client" if self.end[1] == client else "rst_server"
        else:
            end = "flush_all"
        cids = []
        for ev in self.events:
            if ev.conn.cid not in cids:
                cids.append(ev.conn.cid)
        true = (c0.client, c0.cport)
        row = collections.OrderedDict(
            client=client[0], client_port=client[1], server=server[0],
            server_port=server[1], family="ipv6" if c0.v6 else "ipv4", roles=self.roles,
            true_client=str(true[0]), true_client_port=true[1], end=end,
            first_seen=first.ts * 1000, last_seen=self.events[-1].ts * 1000,
            duration=(self.events[-1].ts - first.ts) * 1000, history=self.history,
            cids=cids, tunnel=_stack(c0))
        row.update(frame_encap(c0, first.seg.dir))
        for name, side in (("client_to_server", client), ("server_to_client", server)):
            evs = [ev for ev in self.events if _sender(ev) == side]
            streams = [model.streams[i] for ev in evs for i in ev.streams]
            sums = collections.OrderedDict(packets=len(evs), payload_bytes=sum(
                ev.seg.length for ev in evs if ev.seg.kind in ("data", "dup")),
                streams=len(streams))
            summaries = [s.summary() for s in streams]
            for k in CONN_DIR_SUMS:
                sums[k] = sum(x[k] for x in summaries)
            sums["sha256"] = sorted(x["sha256"] for x in summaries)
            if evs:
                sums["encap"] = frame_encap(evs[0].conn, evs[0].seg.dir)
            row[name] = sums
        return row


def conn_truth(res):
    """The connections reasm's connection layer (--sink conn) makes of the capture, as
    the generator knows them, as rows (dicts, in the order of their first packet):

    A connection is both directions of a 4-tuple, from its first TCP segment (any: pure
    ACKs count) on; a SYN without ACK starts the 4-tuple's next connection when the
    current one has ended (both FINs, or a RST) and none of its stream directions is
    open in the model (so a reused 4-tuple whose successor starts with its SYN is a
    connection of its own; one whose successor comes mid-stream, or sends data before
    its SYN, continues its predecessor's: "cids" lists the generator's connections in
    it). Events are the model's (a fragmented segment once, where its datagram
    completes: reasm with --defrag).

    client/server: roles "syn" when a SYN without ACK is in it (its sender the client),
    "syn_ack" when only a SYN-ACK (its sender the server), else "guessed" (the sender of
    its first packet: true_client says who opened it). end: "fin" when both sides sent a
    FIN before any RST, "rst_client" / "rst_server" when the first RST came before, else
    "flush_all" (with --timeout 0 nothing goes idle). first_seen / last_seen: the times
    (ns) of its first and last segments; history as reasm's spec writes it (Zeek's
    letters). Per direction: packets (every TCP segment of that side: pure ACKs,
    retransmissions, FINs), payload_bytes (their TCP payload), streams (the stream
    directions the model opened for it), their bytes, records, skips, skip_unknown,
    skipped_bytes summed, sha256 (each stream's, sorted), encap (of its first frame).
    encap / vlan / tunnel_id (of the connection's first frame, as jsonl has them),
    tunnel (the generator's tunnel stack, "" for none)."""
    by_tuple, groups = {}, []
    for ev in res.events:
        c, seg = ev.conn, ev.seg
        ends = tuple(sorted(((str(c.client), c.cport), (str(c.server), c.sport))))
        g = by_tuple.get(ends)
        syn = seg.flags & TCP_SYN and not seg.flags & TCP_ACK
        if g is None or (syn and g.ended() and not ev.open_before):
            g = by_tuple[ends] = _ConnTruth(ends)
            groups.append(g)
        g.add(ev)
    return [g.row(res.model) for g in groups]


def conn_self_check(rows, model):
    """Every stream direction of the model is in exactly one connection, on the side it
    was sent by, and per 4-tuple direction the connections' sums are the expected lines'
    sums."""
    want = collections.Counter()
    for s in model.streams:
        sm = s.summary()
        for k in CONN_DIR_SUMS + ("streams",):
            want[(s.key, k)] += 1 if k == "streams" else sm[k]
    got = collections.Counter()
    for r in rows:
        for name, src, sport, dst, dport in (
                ("client_to_server", r["client"], r["client_port"], r["server"],
                 r["server_port"]),
                ("server_to_client", r["server"], r["server_port"], r["client"],
                 r["client_port"])):
            for k in CONN_DIR_SUMS + ("streams",):
                got[((src, sport, dst, dport), k)] += r[name][k]
    assert +want == +got, "connections and expected lines disagree: %s / %s" % (
        sorted((+want - +got).items())[:4], sorted((+got - +want).items())[:4])
    assert sum(r[d]["streams"] for r in rows for d in ("client_to_server",
                                                       "server_to_client")) == \
        len(model.streams)


def write_expected_conns(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def _probability(text):
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("%s is not a probability (0..1)" % text)
    return v


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True, help="pcap file to write")
    ap.add_argument("--expected", help="expected JSONL (default: OUTPUT with .expected.jsonl)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=24, help="connections open at once")
    ap.add_argument("--ipv6", dest="p_ipv6", type=float, default=0.35)
    ap.add_argument("--p-loss", type=float, default=0.12)
    ap.add_argument("--p-midstream", type=float, default=0.1)
    ap.add_argument("--p-reorder", type=float, default=0.35)
    ap.add_argument("--p-retrans", type=float, default=0.3)
    ap.add_argument("--p-wrap", type=float, default=0.15)
    ap.add_argument("--p-reuse", type=int, default=5, help="percent of connections reused")
    ap.add_argument("--p-jumbo", type=float, default=0.0,
                    help="probability of an 8000..40000-byte segment (TSO-like)")
    ap.add_argument("--p-big", type=float, default=0.08,
                    help="probability of a 1901..4200-byte segment (over gopacket's page)")
    ap.add_argument("--mss", type=int, default=0,
                    help="largest data segment payload (0: no limit); with --p-big 0 and "
                    "--mss 1200 tunnelled frames stay within 1514 bytes")
    ap.add_argument("--encap", metavar="LIST",
                    help="tunnels, each connection through one of them (or none): "
                    "comma-separated of %s, none, all" % ", ".join(ENCAP_KINDS))
    ap.add_argument("--p-encap", type=_probability, default=0.85,
                    help="with --encap: probability that a connection is tunnelled at all")
    ap.add_argument("--frag", type=_probability, default=0.0,
                    help="fraction of the TCP segments sent as fragments of their IP packet "
                    "(the innermost one)")
    ap.add_argument("--frag-outer", type=_probability, default=0.0,
                    help="fraction of the TCP segments of tunnels over IP sent as fragments "
                    "of the tunnel's outer IP packet")
    ap.add_argument("--frag-reorder", type=_probability, default=0.3,
                    help="probability that a datagram's fragments go out of order")
    ap.add_argument("--frag-dup", type=_probability, default=0.15,
                    help="probability that one fragment of a datagram is sent twice")
    ap.add_argument("--frag-overlap", type=_probability, default=0.15,
                    help="probability of one more IPv4 fragment overlapping others (same "
                    "bytes)")
    ap.add_argument("--frag-spread", type=int, default=4,
                    help="at most this many packets of other connections between the "
                    "fragments of a datagram (half the datagrams go out back to back)")
    ap.add_argument("--expected-no-defrag", metavar="FILE",
                    help="also write the expected JSONL when fragments are dropped (not "
                    "reassembled)")
    ap.add_argument("--expected-conns", metavar="FILE",
                    help="also write one JSON line per connection (both directions paired) "
                    "as reasm's --sink conn should report it (conn_truth())")
    ap.add_argument("--p-conflict", type=_probability, default=0.0,
                    help="probability that a retransmitted or overlapping copy carries other "
                    "bytes in part of its overlap (plan_conflicts(); 0: none, the capture is "
                    "what it always was)")
    ap.add_argument("--expected-last", metavar="FILE",
                    help="also write the expected JSONL under the last overlap policy (reasm "
                    "--overlap-policy last); --expected is the first policy's (gopacket's)")
    ap.add_argument("--expected-conflicts", metavar="FILE",
                    help="also write one JSON line per conflicting overlap as reasm reports "
                    "it, for both policies and each --expected-retain window "
                    "(conflict_lines())")
    ap.add_argument("--expected-retain", metavar="N[,N...]", default="0",
                    help="the retention windows (reasm --retain-bytes) of --expected-conflicts: "
                    "0 (compare buffered bytes only, the default) or powers of 2 up to %d" %
                    RETAIN_MAX)
    ap.add_argument("--features", action="store_true", help="print feature counts")
    opts = ap.parse_args(argv)
    try:
        parse_encap(opts.encap)
        parse_retains(opts.expected_retain)
    except ValueError as e:
        ap.error(str(e))
    return opts


def encap_info(res):
    """Per --encap kind: connections, directions (expected lines), frames (all frames of
    the kind's connections, fragments included), segments (tunnelled TCP segments sent
    whole: reasm's pkts_decap without defragmentation), segments_defrag (with
    defragmentation: plus one per fragmented datagram), stacks (nested: outer>inner)."""
    out = {}

    def entry(kind):
        return out.setdefault(kind, dict(connections=0, directions=0, frames=0, segments=0,
                                         segments_defrag=0, stacks={}))
    for c in res.conns:
        if c.tunnel is not None and c.follows is None:
            e = entry(c.tunnel.kind)
            e["connections"] += 1
            st = c.tunnel.stack()
            e["stacks"][st] = e["stacks"].get(st, 0) + 1
    datagrams = set()
    for c, how, seg in res.meta:
        if c.tunnel is not None:
            e = entry(c.tunnel.kind)
            e["frames"] += 1
            if how == "plain":
                e["segments"] += 1
                e["segments_defrag"] += 1
            elif id(seg) not in datagrams:
                datagrams.add(id(seg))
                e["segments_defrag"] += 1
    by_cid = {c.cid: c for c in res.conns}
    for s in res.model.streams:
        c = by_cid[s.tag[0]]
        if c.tunnel is not None:
            entry(c.tunnel.kind)["directions"] += 1
    return out


def write_expected(path, model, policy="first"):
    lines = sorted(s.line(policy) for s in model.streams)
    with open(path, "w") as f:
        for line in lines:
            f.write(line + "\n")
    return lines


def generate_files(argv=None):
    """Write the pcap and the expected JSONL; returns a dict describing them."""
    opts = parse_args(argv)
    expected = opts.expected or (opts.output[:-5] if opts.output.endswith(".pcap")
                                 else opts.output) + ".expected.jsonl"
    res = run_all(opts)
    conns, frames, model, checked = res.conns, res.frames, res.model, res.checked
    write_pcap(opts.output, frames)
    lines = write_expected(expected, model)
    if opts.expected_no_defrag:
        write_expected(opts.expected_no_defrag, res.model_nd)
    conn_rows = None
    if opts.expected_conns:
        conn_rows = conn_truth(res)
        conn_self_check(conn_rows, model)
        write_expected_conns(opts.expected_conns, conn_rows)
    counts = {}
    for c in conns:
        for x in c.features:
            counts[x] = counts.get(x, 0) + 1
    counts["ipv6"] = sum(1 for c in conns if c.v6)
    counts["wrapped"] = sum(1 for c in conns for d in (C2S, S2C)
                            if c.isn[d] + 1 + len(c.data[d]) > SEQ_SPACE)
    info = dict(pcap=opts.output, expected=expected, connections=len(conns),
                packets=len(frames), streams=len(lines), self_checked=checked,
                features=counts, rows=[s.row() for s in model.streams])
    if conn_rows is not None:
        info.update(expected_conns=opts.expected_conns, conn_rows=conn_rows)
    if isinstance(model, OverlapModel):
        if opts.expected_last:
            write_expected(opts.expected_last, model, "last")
        clines = conflict_lines(model)
        if opts.expected_conflicts:
            with open(opts.expected_conflicts, "w") as f:
                for line in clines:
                    f.write(json.dumps(line) + "\n")
        info.update(expected_last=opts.expected_last,
                    expected_conflicts=opts.expected_conflicts, retains=list(model.retains),
                    conflict_lines=clines, conflict_rows=conflict_rows(model),
                    rows_last=[s.row("last") for s in model.streams],
                    conflicts_checked=model.conflicts_checked)
    if res.wrapper is not None:
        by_cid = {c.cid: c for c in conns}
        enc = encap_info(res)
        frag = dict(res.wrapper.fragged.c)
        frag.setdefault("fragments", 0)
        info.update(
            encap=enc, frag=frag,
            pkts_decap=sum(e["segments"] for e in enc.values()),
            pkts_decap_defrag=sum(e["segments_defrag"] for e in enc.values()),
            expected_no_defrag=opts.expected_no_defrag,
            streams_no_defrag=len(res.model_nd.streams),
            self_checked_no_defrag=res.checked_nd,
            rows_no_defrag=[s.row() for s in res.model_nd.streams],
            # per expected line (both files): the tunnel stack of its connection ("" none)
            # and whether gopacket decodes that stack
            line_stacks=[(s.line(), _stack(by_cid[s.tag[0]])) for s in model.streams],
            line_stacks_no_defrag=[(s.line(), _stack(by_cid[s.tag[0]]))
                                   for s in res.model_nd.streams],
            max_frame=max((len(f) for _, f in frames), default=0))
    if opts.features:
        print("%d connections, %d packets, %d stream directions (%d self-checked); %s" % (
            len(conns), len(frames), len(lines), checked,
            ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
        if isinstance(model, OverlapModel):
            per = collections.Counter((x["policy"], x["retain"], x["kept"])
                                      for x in info["conflict_lines"])
            print("  conflicts: %s; %d directions deliver other bytes under the last policy" % (
                ", ".join("%s/%d kept %s %d" % (k + (v,)) for k, v in sorted(per.items()))
                or "none", sum(1 for s in model.streams
                               if s.summary()["sha256"] != s.summary("last")["sha256"])))
        if res.wrapper is not None:
            for kind, e in sorted(info["encap"].items()):
                print("  %-8s %3d connections, %4d directions, %5d frames, %5d tunnelled "
                      "segments (%d with defragmentation)%s" % (
                          kind, e["connections"], e["directions"], e["frames"],
                          e["segments"], e["segments_defrag"],
                          ("; " + ", ".join("%s %d" % kv for kv in sorted(e["stacks"].items()))
                           if kind == "nested" else "")))
            if info["frag"]["fragments"]:
                print("  fragments: %s; without defragmentation %d stream directions (%d "
                      "self-checked)" % (", ".join("%s %d" % kv for kv in
                                                   sorted(info["frag"].items())),
                                         info["streams_no_defrag"], res.checked_nd))
            print("  pkts_decap %d (%d with defragmentation), largest frame %d bytes" % (
                info["pkts_decap"], info["pkts_decap_defrag"], info["max_frame"]))
    return info


def _stack(conn):
    return conn.tunnel.stack() if conn.tunnel is not None else ""


def main():
    generate_files()
    return 0


if __name__ == "__main__":
    sys.exit(main())
