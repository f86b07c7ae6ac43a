# SPDX-License-Identifier: BSD-3-Clause
"""The appliance's connection-to-worker mapping, in Python, and captures split by it.

app/reasm hashes each connection with a symmetric Toeplitz key (ports.c
symmetric_rss_key: 0x6d5a repeated, 40 bytes) as DPDK's rte_softrss() does, over the
tuple distributor.c app_worker_of() builds: the source address, the destination
address (IPv4: one 32-bit word each, IPv6: four), then (src_port << 16 | dst_port), all
words in host order (the address bytes read big endian); then a redirection table of
APP_RETA_SIZE (512) entries, entry i naming worker i % n:

    worker = (toeplitz(tuple) % 512) % n

Both directions of a connection hash alike (the key repeats every 16 bits), so a
capture split by worker_of() puts each connection, both directions, in one file: what
`--rx direct` with one rx_pcap= per worker needs (net_pcap has no RSS).

    h = softrss(words, KEY)                       # rte_softrss()
    w = worker_of(flow, n)                        # app_worker_of(); flow from flow_of()
    counts = split_pcap(src, [out0, out1], 2)     # frames per file

flow_of() parses Ethernet (VLAN / QinQ tags), IPv4 and IPv6 (no extension headers)
and TCP; a frame it cannot take (not TCP, an IP fragment, a tunnel) goes to worker 0,
as app_worker_of()'s callers send what reasm_flow_of_mbuf() refuses (tunnels the
appliance would hash by their inner connection: this module does not follow them).
"""
import os
import struct
import time

from . import pcap

# app/reasm/ports.c symmetric_rss_key
KEY = bytes([0x6D, 0x5A] * 20)
# app/reasm/app.h APP_RETA_SIZE
RETA_SIZE = 512

ETH_P_IPV4 = 0x0800
ETH_P_IPV6 = 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
IPPROTO_TCP = 6


def softrss(words, key=KEY):
    """rte_softrss(): the Toeplitz hash of 32-bit words (host order) under key.

    For every bit set in the input, counting from the first word's most significant
    bit (position p), XOR in the 32 key bits that start at bit p of the key.
    """
    nbits = len(key) * 8
    k = int.from_bytes(key, "big")
    ret = 0
    for j, word in enumerate(words):
        for i in range(32):
            if word & (1 << (31 - i)):
                p = 32 * j + i
                ret ^= (k >> (nbits - 32 - p)) & 0xFFFFFFFF
    return ret


def tuple_words(flow):
    """app_worker_of()'s input: [src words, dst words, src_port << 16 | dst_port].

    flow: (family 4|6, src_addr bytes, dst_addr bytes, src_port, dst_port)."""
    family, src, dst, sport, dport = flow
    n = 1 if family == 4 else 4
    s = struct.unpack(">%dI" % n, src[:4 * n])
    d = struct.unpack(">%dI" % n, dst[:4 * n])
    return list(s) + list(d) + [(sport << 16 | dport) & 0xFFFFFFFF]


def worker_of(flow, n_workers, key=KEY):
    """app_worker_of(): the worker of a connection direction (both give the same)."""
    if n_workers == 1:
        return 0
    return (softrss(tuple_words(flow), key) % RETA_SIZE) % n_workers


def flow_of(frame):
    """(family, src, dst, sport, dport) of an Ethernet TCP frame, or None."""
    if len(frame) < 14:
        return None
    off = 12
    etype = struct.unpack_from(">H", frame, off)[0]
    while etype in VLAN_TPIDS and len(frame) >= off + 6:
        off += 4
        etype = struct.unpack_from(">H", frame, off)[0]
    off += 2
    if etype == ETH_P_IPV4:
        if len(frame) < off + 20:
            return None
        ihl = (frame[off] & 0x0F) * 4
        frag = struct.unpack_from(">H", frame, off + 6)[0]
        if frame[off] >> 4 != 4 or ihl < 20 or frag & 0x3FFF or frame[off + 9] != IPPROTO_TCP:
            return None  # an IP fragment (MF or offset) is no TCP segment by itself
        src, dst = bytes(frame[off + 12:off + 16]), bytes(frame[off + 16:off + 20])
        off += ihl
        family = 4
    elif etype == ETH_P_IPV6:
        if len(frame) < off + 40 or frame[off] >> 4 != 6 or frame[off + 6] != IPPROTO_TCP:
            return None
        src, dst = bytes(frame[off + 8:off + 24]), bytes(frame[off + 24:off + 40])
        off += 40
        family = 6
    else:
        return None
    if len(frame) < off + 4:
        return None
    sport, dport = struct.unpack_from(">HH", frame, off)
    return (family, src, dst, sport, dport)


def frame_worker(frame, n_workers, cache=None):
    """The worker of a frame (0 for what flow_of() cannot take); cache: a dict of
    flow -> worker, so each connection direction is hashed once."""
    flow = flow_of(frame)
    if flow is None or n_workers == 1:
        return 0
    if cache is None:
        return worker_of(flow, n_workers)
    w = cache.get(flow)
    if w is None:
        w = cache[flow] = worker_of(flow, n_workers)
    return w


def split_pcap(src, outs, n_workers=None):
    """Write the records of capture src to outs[worker_of(frame)], in capture order,
    each file with src's header. Returns the record count per file."""
    n = n_workers or len(outs)
    if len(outs) != n:
        raise ValueError("%d output files for %d workers" % (len(outs), n))
    cap = pcap.read(src)
    parts = [[] for _ in range(n)]
    cache = {}
    for rec in cap.records:
        parts[frame_worker(rec.data, n, cache)].append(rec)
    for path, recs in zip(outs, parts):
        pcap.write_records(path, cap.header, cap.order, recs)
    return [len(p) for p in parts]


# ---- checking a split against the appliance ----------------------------------------

STREAM_KEYS = ("src", "sport", "dst", "dport", "bytes", "start", "end", "skips",
               "skipped_bytes")


def _conn(o):
    """A jsonl line's connection, the same for both directions."""
    a, b = (o["src"], o["sport"]), (o["dst"], o["dport"])
    return (a, b) if a <= b else (b, a)


def _line_worker(o, n_workers):
    """worker_of() of a jsonl line's direction."""
    import ipaddress
    src, dst = ipaddress.ip_address(o["src"]), ipaddress.ip_address(o["dst"])
    return worker_of((src.version, src.packed, dst.packed, o["sport"], o["dport"]), n_workers)


def check_split(exe, src, tmp, n_workers=2, mem=1024, mbufs=None, lcores=None, timeout=120):
    """Split capture src for n_workers and check it against the appliance (app/reasm).

    1. reference: src replayed to its end by 1 worker, jsonl sink;
    2. the appliance's own hash: src replayed, spread by the main lcore over
       n_workers: every stream's jsonl "worker" is worker_of() of its direction, and the
       streams and their bytes are the reference's;
    3. direct: src split by split_pcap() into n_workers files, one rx_pcap= each,
       infinite_rx=1, --rx direct, until every file has looped at least twice: every
       line's "worker" is its file's (so no connection is split across workers), each
       direction's lines are the reference's line (the last one may be cut short by
       the stop), and every reference stream is there.
    Returns a dict: ok, error (when not ok), frames (per file), streams, lines (of the
    direct run), conns, commands.
    """
    from . import appliance
    lcores = lcores or "(0-%d)@(0,1)" % n_workers
    r = appliance.Reasm(exe, "rss%d" % n_workers, mem=mem)
    cap_frames = len(pcap.read(src).records)
    mbufs = mbufs or cap_frames + 65536
    res = {"ok": False, "workers": n_workers, "commands": []}
    base = ["--quiet", "--mbufs", str(mbufs)]

    def replay(workers, tag):
        out = os.path.join(tmp, "split-%s.jsonl" % tag)
        lc = "(0-%d)@(0,1)" % workers
        vdev = "net_pcap0,rx_pcap=" + src
        res["commands"].append(" ".join(r.command("PREFIX", [vdev], base + [
            "--sink", "jsonl:" + out], lc)))
        run = r.run([vdev], base + ["--sink", "jsonl:" + out], timeout, lc)
        if run.rc != 0:
            raise RuntimeError("%s replay: %s" % (tag, run.describe()))
        objs, errors = appliance.read_jsonl(out)
        os.unlink(out)
        if errors or not objs:
            raise RuntimeError("%s replay: jsonl: %s" % (tag, errors or "no line"))
        return objs

    try:
        ref = replay(1, "ref")
        want = appliance.multiset(ref, STREAM_KEYS)
        spread = replay(n_workers, "spread")
        bad = [o for o in spread if o.get("worker") != _line_worker(o, n_workers)]
        if bad:
            raise RuntimeError("%d of %d streams spread by the appliance are not on the "
                               "worker worker_of() names, e.g. %s" % (len(bad), len(spread),
                                                                      bad[0]))
        why = appliance.multiset_diff(want, appliance.multiset(spread, STREAM_KEYS),
                                      STREAM_KEYS, "1 worker", "%d workers" % n_workers)
        if why:
            raise RuntimeError("spread over %d workers: %s" % (n_workers, why))

        parts = [os.path.join(tmp, "split-%d-of-%d.pcap" % (i, n_workers))
                 for i in range(n_workers)]
        res["frames"] = split_pcap(src, parts, n_workers)
        out = os.path.join(tmp, "split-direct.jsonl")
        vdev = "net_pcap0," + ",".join("rx_pcap=" + p for p in parts) + ",infinite_rx=1"
        args = base + ["--rx", "direct", "--sink", "jsonl:" + out]
        res["commands"].append(" ".join(r.command("PREFIX", [vdev], args, lcores)))
        bg = r.start([vdev], args, lcores)
        try:
            tel = bg.telemetry(timeout=60)
            if tel is None:
                raise RuntimeError("direct: no telemetry: %s" % bg.stop().describe())
            deadline = time.monotonic() + timeout
            rt = tel.query("/reasm/runtime") or {}
            lcore_of = [rt.get("worker%d" % i, {}).get("lcore") for i in range(n_workers)]
            # Every file at least twice: worker i polls queue i, which reads file i.
            while True:
                got = [(tel.query("/reasm/lcore,%s" % lc) or {}).get("rx_pkts", 0)
                       for lc in lcore_of]
                if all(g >= 2 * f for g, f in zip(got, res["frames"])):
                    break
                if time.monotonic() > deadline or not bg.alive():
                    raise RuntimeError("direct: the files did not loop twice within %d s "
                                       "(packets per worker %s)" % (timeout, got))
                time.sleep(0.1)
            tel.close()
        finally:
            run = bg.stop()
        if run.rc != 0:
            raise RuntimeError("direct: %s" % run.describe())
        objs, errors = appliance.read_jsonl(out)
        os.unlink(out)
        for p in parts:
            os.unlink(p)
        if errors:
            raise RuntimeError("direct: jsonl: %s" % errors)
        res["lines"] = len(objs)
        res["streams"] = sum(want.values())
        res["conns"] = len({_conn(o) for o in ref})
        bad = [o for o in objs if o.get("worker") != _line_worker(o, n_workers)]
        if bad:
            raise RuntimeError("direct: %d of %d lines from a worker other than their "
                               "file's, e.g. %s" % (len(bad), len(objs), bad[0]))
        by_conn = {}
        for o in objs:
            by_conn.setdefault(_conn(o), set()).add(o["worker"])
        split = [c for c, ws in by_conn.items() if len(ws) > 1]
        if split:
            raise RuntimeError("direct: %d connections on several workers, e.g. %s"
                               % (len(split), split[0]))
        last = {}
        for i, o in enumerate(objs):
            last[tuple(o[k] for k in STREAM_KEYS[:4])] = i
        wanted = set(want)
        seen = set()
        for i, o in enumerate(objs):
            t = tuple(o.get(k) for k in STREAM_KEYS)
            if t in wanted:
                seen.add(t)
            elif last[t[:4]] != i:
                raise RuntimeError("direct: a stream not in the reference (and not the "
                                   "last of its direction, cut by the stop): %s" % o)
        if seen != wanted:
            raise RuntimeError("direct: %d of the reference's %d streams never complete, "
                               "e.g. %s" % (len(wanted - seen), len(wanted),
                                            next(iter(wanted - seen))))
        res["ok"] = True
    except (OSError, RuntimeError, ValueError) as e:
        res["error"] = str(e)
    return res
