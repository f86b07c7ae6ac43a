#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/{burst,segments}/).

Deterministic: running it again gives the same files. Sources:
  - a few Ethernet captures of ../shared/captures/tcpdump (tcpdump's test suite, BSD
    licence, The Tcpdump Group): TCP conversations, IPv6 extension headers, QinQ, TSO
    (gso-*, bigtcp-*) frames, truncated and malformed packets;
  - captures written by tests/gen/gencap.py (handshakes, reordering, retransmissions,
    loss, sequence wrap, VLAN tags, IPv4 options, IPv6 extension headers), and with
    its --encap, --frag, --frag-outer the tunnelled seeds tunnel-KIND (each kind: MPLS,
    PPPoE, IP in IP, GRE, GRE/Ethernet, ERSPAN II and III, VXLAN, Geneve, GTP-U, two
    nested) and frag-inner, frag-outer (IPv4 and IPv6 fragments of the inner or of the
    tunnel's outer packet, out of order, duplicated, overlapping);
  - hand-written scenarios in the harnesses' synthesized formats.
Frames are copied as captured; each seed also picks the rig options (fuzz_common.h's
header) and, for bursts, the mbuf layout of each frame, so that every layout and option
is in the corpus from the start. The formats are described at the top of
fuzz_burst.c and fuzz_segments.c.

Usage: tests/fuzz/make_corpus.py [--captures DIR] [--out tests/fuzz/corpus]
"""
import argparse
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import ROOT, frames, gencap, pcap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BURST_MAX = 32768     # scripts/fuzz -max_len of each harness
SEGMENTS_MAX = 8192

# Ethernet captures of tcpdump's test suite used for seeds, and how many frames of each.
CAPTURES = [
    ("accecn_handshake.pcap", 16), ("dns_tcp.pcap", 16), ("ssh.pcap", 24),
    ("bgp-4byte-asn.pcap", 20), ("kday3.pcap", 16), ("mptcp-aa-v1.pcap", 24),
    ("tcp_rst_data.pcap", 4), ("tcp_rst_data-trunc.pcap", 4), ("tfo-5c1fa7f9ae91.pcap", 16),
    ("whois.pcap", 16), ("zmtp1.pcap", 16), ("pptp.pcap", 24), ("of10_p3295.pcap", 24),
    ("print-flags.pcap", 10), ("gso-ipv4.pcap", 2), ("gso-ipv6.pcap", 2),
    ("bigtcp-ipv6-hbh.pcap", 2), ("802.1ad_QinQ.pcap", 8), ("OSPFv3_with_AH.pcap", 8),
    ("ipv6-routing-header.pcap", 8), ("ipv6-srh-ext-header.pcap", 8),
    ("ip6_frag_asan.pcap", 4), ("ipv6-bad-version.pcap", 4), ("smb_data_print-segv.pcap", 4),
]
# Tunnelled seeds of the burst harness: gencap's options, and how many frames of each.
TUNNEL_SEEDS = [("tunnel-" + k, ["--encap", k]) for k in gencap.ENCAP_KINDS] + [
    ("frag-inner", ["--encap", "all", "--frag", "0.6", "--frag-dup", "0.5",
                    "--frag-overlap", "0.5"]),
    ("frag-outer", ["--encap", "ipip,gre,vxlan,geneve,gtpu,nested", "--frag-outer", "0.6",
                    "--frag-dup", "0.5", "--frag-overlap", "0.5"]),
]
TUNNEL_FRAMES = 24
# Rig options (fuzz_common.h header) cycled over the seeds:
# max_conns, pages, per-conn limit, total limit, flags, priv size.
CONFS = [
    bytes([8, 240, 0, 0, 0x00, 0]),       # 64 conns, 256 pages, no limits
    bytes([0, 0, 4, 0, 0x01, 0]),         # 8 conns, 16 pages, 4 pages per conn, shared
    bytes([20, 40, 0, 140, 0x43, 15]),    # two assemblers, total limit 12, priv area
    bytes([3, 10, 2, 0, 0x27, 0]),        # two assemblers, own mempools, cache 2
    bytes([56, 100, 16, 0, 0x88, 0]),     # timestamps NULL, freed without flush_all
    bytes([8, 0, 0, 129, 0x30, 0]),       # 16 pages, total limit 1, cache 8
]


def read_pcap(path):
    """[(ts_ns, frame bytes)] of a classic pcap with Ethernet link type, else []."""
    try:
        cap = pcap.read(path)
    except ValueError:
        return []
    return cap.frames() if cap.linktype == pcap.LINKTYPE_ETHERNET else []


def tcp_of(frame):
    """(flow tuple, seq, flags, payload) of a well-formed TCP frame, else None."""
    d = frames.decode(frame)
    if d is None or d.ip is None:
        return None
    end = min(d.end, len(frame))
    if d.proto != frames.PROTO_TCP or end < d.l4 + 20:
        return None
    sport, dport, seq, doff, flags = d.tcp
    if doff < 20 or d.l4 + doff > end:
        return None
    return (d.src, d.dst, sport, dport), seq, flags & 7, frame[d.l4 + doff:end]


def ms_step(prev, ts):
    """The dt byte (i8 ms) that moves the harness clock from prev to ts, clamped."""
    d = 1 if prev is None else max(-128, min(127, (ts - prev) // 10**6))
    return d & 0xff


def burst_seed(conf, recs, variant, max_size=BURST_MAX):
    """fuzz_burst input: bursts of up to 8 frames, a flush_older_than every 3 bursts."""
    out = bytearray(conf)
    prev, i, nburst = None, 0, 0
    while i < len(recs):
        chunk = recs[i:i + 8]
        body = bytearray()
        for j, (ts, fr) in enumerate(chunk):
            fr = fr[:4096 if variant % 2 else 9000]
            fl = ((variant + i + j) % 4) | (((i + j) % 4) << 2) | (((i + j) % 7) << 4)
            if (i + j) % 11 == 10:
                fl |= 0x80  # pkt_len lies
            body += bytes([fl, ms_step(prev, ts)]) + struct.pack("<H", len(fr)) + fr
            prev = ts
        if len(out) + 2 + len(body) + 4 > max_size:
            break
        out += bytes([0, len(chunk) - 1]) + body
        nburst += 1
        if nburst % 3 == 0:
            out += bytes([10, 50])      # flush_older_than(now - 50 ms)
        i += len(chunk)
    out += bytes([13])                  # top_conns
    return bytes(out)


def seg_len(n):
    """fuzz_segments' len field for n <= 0x3fff bytes (bit 15 for more than 0x7ff)."""
    return n if n <= 0x7ff else 0x8000 | n


def segments_seed(conf, recs, max_size=SEGMENTS_MAX):
    """fuzz_segments input (raw mode): the TCP segments of recs ((ts_ns, frame) pairs),
    flows mapped to keys."""
    out = bytearray(conf) + bytes([0]) + struct.pack("<I", 0)
    keys, prev = {}, None
    for ts, fr in recs:
        t = tcp_of(fr)
        if t is None:
            continue
        flow, seq, flags, payload = t
        if flow not in keys:
            if len(keys) == 12:
                continue
            keys[flow] = len(keys)
        payload = payload[:0x3fff]
        fl = 0x10 | (0x08 | flags if flags else 0)  # absolute seq
        seg = bytes([0, keys[flow], fl]) + struct.pack("<hH", 0, seg_len(len(payload))) + \
            bytes([ms_step(prev, ts)]) + struct.pack("<I", seq) + payload
        if len(out) + len(seg) > max_size:
            break
        out += seg
        prev = ts
    return bytes(out)


def seg_op(k, flags=0, seq_mode=0, d=0, length=0, dt=1, seq=None, payload=b"", keep=False):
    fl = (0x08 | flags if flags else 0) | (seq_mode << 4) | (0x40 if keep else 0)
    out = bytes([0, k, fl]) + struct.pack("<hH", d, seg_len(length)) + bytes([dt & 0xff])
    if seq_mode == 1:
        out += struct.pack("<I", seq)
    return out + payload


FIN, SYN, RST = 1, 2, 4


def synthetic_segments():
    """Hand-written fuzz_segments scenarios, consistent mode (payload generated)."""
    seeds = {}
    hdr = lambda conf, base: conf + bytes([1]) + struct.pack("<I", base)  # noqa: E731
    # Handshake, in order, FIN.
    s = hdr(CONFS[0], 1000)
    s += seg_op(0, SYN, 3, 0) + seg_op(0, 0, 0, 0, 500) + seg_op(0, 0, 0, 0, 3000)
    s += seg_op(0, FIN, 0, 0, 10)
    seeds["inorder"] = s
    # Reordering and overlap around a 2^32 wrap, flushes.
    s = hdr(CONFS[1], 0xffffff00)
    s += seg_op(1, SYN, 3, 0) + seg_op(1, 0, 0, 400, 300, keep=True)
    s += seg_op(1, 0, 0, 100, 300, keep=True) + seg_op(1, 0, 0, 0, 800)
    s += seg_op(1, 0, 0, -200, 400) + bytes([5, 0]) + seg_op(1, 0, 2, 2, 5000)
    s += bytes([5, 0x80]) + seg_op(1, FIN, 0, 0, 0)
    seeds["wrap-reorder"] = s
    # No SYN seen, many flows: page limits, table full, mempool exhaustion.
    s = hdr(CONFS[2], 77)
    for k in range(12):
        s += seg_op(k, 0, 2, 1 + k % 3, 1900 * (1 + k % 3), dt=3)
    s += bytes([7, 0]) + bytes([7, 1])
    for k in range(12):
        s += seg_op(k, 0, 0, -1900, 900, dt=1)
    s += bytes([6])
    seeds["many-flows"] = s
    # Two assemblers, pages of both in one stream, then one of them is freed.
    s = hdr(CONFS[2], 4000)
    s += seg_op(3, SYN, 3, 0) + seg_op(3, 0, 0, 3000, 2500, keep=True)
    s += bytes([7, 1]) + seg_op(3, 0, 0, 9000, 4000, keep=True) + seg_op(3, 0, 0, 1000, 500, keep=True)
    s += bytes([7, 7]) + seg_op(3, 0, 0, 0, 1500) + bytes([7, 0]) + seg_op(3, FIN, 2, 8, 100)
    seeds["retire"] = s
    # RST mid-stream, reopen, FIN out of order.
    s = hdr(CONFS[3], 5)
    s += seg_op(2, SYN, 3, 0) + seg_op(2, 0, 0, 0, 100) + seg_op(2, RST, 0, 0, 0)
    s += seg_op(2, 0, 0, 0, 50) + seg_op(2, FIN, 0, 300, 0, keep=True) + seg_op(2, 0, 0, 0, 300)
    s += bytes([7, 2, 5]) + bytes([5, 0])
    seeds["rst-reopen"] = s
    # Big segments (several pages each), total limit, backwards timestamps.
    s = hdr(CONFS[5], 123456)
    s += seg_op(4, SYN, 3, 0) + seg_op(4, 0, 0, 4000, 9000, dt=-5, keep=True)
    s += seg_op(4, 0, 0, 20000, 7000, dt=-5, keep=True) + seg_op(4, 0, 0, 0, 4000)
    s += bytes([5, 1]) + seg_op(4, FIN, 0, 0, 0)
    seeds["big-pages"] = s
    # The same in raw mode (payload from the input).
    s = CONFS[4] + bytes([0]) + struct.pack("<I", 9)
    s += seg_op(5, SYN, 3, 0, 3, payload=b"syn") + seg_op(5, 0, 0, 10, 6, payload=b"later!", keep=True)
    s += seg_op(5, 0, 0, 0, 10, payload=b"0123456789") + seg_op(5, 0, 0, 0, 4, payload=b"tail")
    s += seg_op(5, FIN, 0, -4, 4, payload=b"tail")
    seeds["raw-small"] = s
    return seeds


def synth_frame(k, flags, seq, payload, dt=1):
    return bytes([k, flags, dt & 0xff]) + struct.pack("<IH", seq, len(payload)) + payload


def synthetic_bursts():
    """Hand-written fuzz_burst scenarios with synthesized frames (op 8)."""
    seeds = {}
    tcp_syn, tcp_fin, tcp_rst = 0x02, 0x11, 0x04
    f = [synth_frame(0, tcp_syn, 100, b""), synth_frame(0, 0x10, 101, b"hello"),
         synth_frame(0x10, 0x10, 106, b"vlan"), synth_frame(0x20, 0x10, 110, b"opts"),
         synth_frame(0x42, 0x10, 7, b"v6 chained"), synth_frame(0x82, 0x10, 17, b"v6 exact"),
         synth_frame(0xe5, 0x10, 9000, b"x" * 3000), synth_frame(0, tcp_fin, 114, b"bye")]
    seeds["synth-mixed"] = CONFS[0] + bytes([8, len(f) - 1]) + b"".join(f) + bytes([12])
    # Keys added and removed inside one burst: FIN closes, the next frame reopens.
    f = []
    for k in range(10):
        f += [synth_frame(k, tcp_syn, 1000 * k, b""), synth_frame(k, 0x18, 1000 * k + 1, b"a" * 40),
              synth_frame(k, tcp_rst if k % 2 else tcp_fin, 1000 * k + 41, b""),
              synth_frame(k, 0x18, 1000 * k + 41, b"again")]
    seeds["synth-churn"] = CONFS[1] + bytes([8, len(f) - 1]) + b"".join(f) + bytes([10, 0, 12])
    # Two assemblers on one pool: out-of-order data through both, then one is freed.
    f1 = [synth_frame(3, tcp_syn, 500, b""), synth_frame(3, 0x10, 2000, b"b" * 2500)]
    f2 = [synth_frame(3, 0x10, 9000, b"c" * 3000), synth_frame(0x43, 0x10, 4, b"d" * 100)]
    seeds["synth-retire"] = (CONFS[2] + bytes([8, 1]) + b"".join(f1) + bytes([14, 0])
                             + bytes([8, 1]) + b"".join(f2) + bytes([13, 14, 7, 13])
                             + bytes([8, 0]) + synth_frame(3, 0x10, 501, b"e" * 1500))
    return seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", default=os.path.join(os.path.dirname(ROOT), "shared",
                                                        "captures", "tcpdump"))
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    burst_dir = os.path.join(args.out, "burst")
    seg_dir = os.path.join(args.out, "segments")
    for d in (burst_dir, seg_dir):
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))

    def write(d, name, data):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    n = 0
    for name, count in CAPTURES:
        path = os.path.join(args.captures, name)
        if not os.path.exists(path):
            print("make_corpus: %s missing, skipped" % path, file=sys.stderr)
            continue
        recs = read_pcap(path)[:count]
        stem = os.path.splitext(name)[0]
        write(burst_dir, "cap-" + stem, burst_seed(CONFS[n % len(CONFS)], recs, n))
        if any(tcp_of(fr) for _, fr in recs):
            write(seg_dir, "cap-" + stem, segments_seed(CONFS[n % len(CONFS)], recs))
        n += 1

    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, 5):
            path = os.path.join(tmp, "g%d.pcap" % seed)
            gencap.generate_files(["-o", path, "--seed", str(seed), "--conns", "3",
                                   "--concurrency", "3", "--p-wrap", "0.5"])
            recs = read_pcap(path)
            write(burst_dir, "gencap-%d" % seed,
                  burst_seed(CONFS[seed % len(CONFS)], recs[:48], seed))
            write(seg_dir, "gencap-%d" % seed, segments_seed(CONFS[seed % len(CONFS)], recs))

        for i, (name, gen_args) in enumerate(TUNNEL_SEEDS):
            path = os.path.join(tmp, name + ".pcap")
            gencap.generate_files(["-o", path, "--seed", str(70 + i), "--conns", "2",
                                   "--concurrency", "2", "--p-encap", "1", "--p-big", "0",
                                   "--mss", "300", "--p-midstream", "0", "--p-loss", "0"]
                                  + gen_args)
            recs = read_pcap(path)
            write(burst_dir, name, burst_seed(CONFS[i % len(CONFS)], recs[:TUNNEL_FRAMES], i))

    for name, data in synthetic_bursts().items():
        write(burst_dir, name, data)
    for name, data in synthetic_segments().items():
        write(seg_dir, name, data)

    for d in (burst_dir, seg_dir):
        files = os.listdir(d)
        print("%s: %d seeds, %d bytes" % (os.path.relpath(d, ROOT), len(files),
                                          sum(os.path.getsize(os.path.join(d, f)) for f in files)))


if __name__ == "__main__":
    main()
