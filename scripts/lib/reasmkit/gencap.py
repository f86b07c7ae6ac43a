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
  - retransmissions: exact duplicates and overlapping re-segmentations (identical bytes);
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

Python 3 standard library only (frames: reasmkit.frames, file: reasmkit.pcap). In Python,
`from reasmkit import gencap`; on the command line, its entry point tests/gen/gencap.py:
  gencap.py -o cap.pcap [--expected cap.expected.jsonl] [--seed N] [--conns N]
"""
import argparse
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
    __slots__ = ("data", "skip", "start", "end", "seen")

    def __init__(self, data, skip, start, end, seen):
        self.data, self.skip, self.start, self.end, self.seen = data, skip, start, end, seen


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

    def summary(self):
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
            data.update(r.data)
            meta.update(b"%d %d %d %d %d\n" % (len(r.data), r.skip, int(r.start), int(r.end),
                                               r.seen * 1000))
        s["sha256"] = data.hexdigest()
        s["meta_sha256"] = meta.hexdigest()
        return s

    def line(self):
        """The stream's line exactly as tools/gopacket-ref prints it."""
        s = self.summary()
        src, sport, dst, dport = self.key
        return ('{"src":"%s","sport":%d,"dst":"%s","dport":%d,"bytes":%d,"records":%d,'
                '"skips":%d,"skip_unknown":%d,"skipped_bytes":%d,"start":%s,"end":%s,'
                '"sha256":"%s","meta_sha256":"%s"}' % (
                    src, sport, dst, dport, s["bytes"], s["records"], s["skips"],
                    s["skip_unknown"], s["skipped_bytes"], json.dumps(s["start"]),
                    json.dumps(s["end"]), s["sha256"], s["meta_sha256"]))

    def data(self):
        return b"".join(r.data for r in self.records)

    def row(self):
        """summary() with the direction and, as reasm's jsonl sink has them, first_seen and
        last_seen: the earliest and latest capture time (ns) of the stream's records."""
        s = self.summary()
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
    """One TCP packet of a connection, before framing."""
    __slots__ = ("dir", "off", "length", "flags", "kind")

    def __init__(self, d, off, length, flags, kind):
        self.dir, self.off, self.length, self.flags, self.kind = d, off, length, flags, kind


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


def build_frame(conn, seg):
    d = seg.dir
    src, sport, dst, dport = conn.endpoint(d)
    if seg.kind == "syn":
        seq = conn.isn[d]
        payload = b""
        opts = b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + struct.pack("!II", 1, 0) + b"\x01\x03\x03\x07"
    else:
        seq = conn.seq_of(d, seg.off)
        payload = conn.data[d][seg.off:seg.off + seg.length]
        opts = conn.tcpopts_data
    ack = 0
    if seg.flags & TCP_ACK:
        ack = conn.seq_of(1 - d, conn.sent[1 - d])
    tcp = frames.tcp(sport, dport, seq, seg.flags, payload, ack=ack, options=opts,
                     csum_ips=(src, dst))
    if conn.v6:
        ip = frames.ipv6(src, dst, frames.PROTO_TCP, tcp, ext=conn.v6ext)
        et = frames.ETH_IPV6
    else:
        conn.ident = (conn.ident + 1) & 0xFFFF
        ip = frames.ipv4(src, dst, frames.PROTO_TCP, tcp, ident=conn.ident,
                         options=conn.ipopts, checksum=True)
        et = frames.ETH_IPV4
    smac, dmac = (conn.cmac, conn.smac) if d == C2S else (conn.smac, conn.cmac)
    return frames.ethernet(dmac, smac, et, ip, tags=conn.tags, pad=True), seq, payload


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


def run(opts):
    conns, sched = generate(opts)
    model = GopacketModel()
    frames = []
    for ts, c, seg in sched:
        frame, seq, payload = build_frame(c, seg)
        frames.append((ts, frame))
        model.assemble(c.key(seg.dir), seq, bool(seg.flags & TCP_SYN), bool(seg.flags & TCP_FIN),
                       bool(seg.flags & TCP_RST), payload, ts, tag=(c.cid, seg.dir))
    model.flush_all()
    checked = self_check(conns, model)
    return conns, frames, model, checked


def self_check(conns, model):
    """For a direction captured without a hole: exactly the bytes the application sent."""
    by_tag = {}
    for s in model.streams:
        by_tag.setdefault(s.tag, []).append(s)
    checked = 0
    for c in conns:
        for d in (C2S, S2C):
            syn_seen = any(x.dir == d and x.kind == "syn" for x in c.packets)
            caps = sorted(c.captured[d])
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
            got = s.data()
            assert got == want, "conn %d dir %d (%s): delivered %d bytes, sent %d" % (
                c.cid, d, sorted(c.features), len(got), len(want))
            sm = s.summary()
            assert sm["skips"] == 0, "conn %d dir %d: skips" % (c.cid, d)
            assert sm["skip_unknown"] == (0 if syn_seen else 1), "conn %d dir %d" % (c.cid, d)
            checked += 1
    return checked


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
    ap.add_argument("--features", action="store_true", help="print feature counts")
    return ap.parse_args(argv)


def generate_files(argv=None):
    """Write the pcap and the expected JSONL; returns a dict describing them."""
    opts = parse_args(argv)
    expected = opts.expected or (opts.output[:-5] if opts.output.endswith(".pcap")
                                 else opts.output) + ".expected.jsonl"
    conns, frames, model, checked = run(opts)
    write_pcap(opts.output, frames)
    lines = sorted(s.line() for s in model.streams)
    with open(expected, "w") as f:
        for line in lines:
            f.write(line + "\n")
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
    if opts.features:
        print("%d connections, %d packets, %d stream directions (%d self-checked); %s" % (
            len(conns), len(frames), len(lines), checked,
            ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    return info


def main():
    generate_files()
    return 0


if __name__ == "__main__":
    sys.exit(main())
