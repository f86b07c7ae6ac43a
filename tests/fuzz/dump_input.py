#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Print what a fuzz_burst or fuzz_segments input does, operation by operation.

Usage: tests/fuzz/dump_input.py {burst|segments} FILE [--hex]
Decodes the formats described at the top of fuzz_burst.c, fuzz_segments.c and
fuzz_common.h, reading past the end as zeros exactly as the harnesses do.
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import frames  # noqa: E402


class Reader:
    def __init__(self, data):
        self.d, self.i = data, 0

    def left(self):
        return len(self.d) - self.i

    def u8(self):
        if self.i >= len(self.d):
            return 0
        self.i += 1
        return self.d[self.i - 1]

    def u16(self):
        return self.u8() | self.u8() << 8

    def u32(self):
        return self.u16() | self.u16() << 16

    def take(self, n):
        b = self.d[self.i:self.i + n]
        self.i += len(b)
        return b


def i8(v):
    return v - 256 if v >= 128 else v


def conf(r):
    c = [r.u8() for _ in range(6)]
    shared, two = bool(c[4] & 1), bool(c[4] & 1 and c[4] & 2)
    print("conf: max_conns %d, pages %d, per_conn %d, total %d, %s%s%s%s cache %d, priv %d, "
          "ts %s" % (8 + c[0] % 57, 16 + c[1] % 241, c[2] % 32, 0 if c[3] < 128 else c[3] % 128,
                     "shared" if shared else "single-writer",
                     ", two assemblers" if two else "",
                     ", own mempools" if two and c[4] & 4 else "",
                     ", no flush at end" if c[4] & 8 else "",
                     [0, 0, 2, 8][(c[4] >> 4) & 3], 1 + c[5] % 64 if c[4] & 0x40 else 0,
                     "NULL" if c[4] & 0x80 else "array"))


def describe_frame(fr):
    """A one-line parse of an Ethernet frame (informative, not the library's parser)."""
    d = frames.decode(fr)
    if d is None:
        return "%d bytes (short)" % len(fr)
    s = "%d bytes, %d tags, type %#06x" % (len(fr), d.tags, d.ethertype)
    if d.ip == 4:
        s += ", IPv4 ihl %d total %d proto %d frag %#x" % (d.ihl, d.length, d.proto, d.frag)
    elif d.ip == 6:
        s += ", IPv6 plen %d next %d" % (d.length, d.proto)
    else:
        return s
    if d.tcp is not None:
        s += ", (if TCP here) %d->%d seq %d doff %d flags %#x" % d.tcp
    return s


def burst(r, hexdump):
    conf(r)
    while r.left() > 0:
        op = r.u8() % 16
        if op < 10:
            synth = op >= 8
            n = 1 + r.u8() % 64
            print("burst of %d %s frames" % (n, "synthesized" if synth else "raw"))
            for j in range(n):
                if r.left() == 0:
                    break
                if synth:
                    k, flags, dt, seq = r.u8(), r.u8(), r.u8(), r.u32()
                    p = r.take(min(r.u16(), 65000))
                    print("  [%d] k %#04x (flow %d%s%s, storage %d) flags %#04x dt %+d ms seq %d "
                          "payload %d" % (j, k, (k & 15) % 12, " vlan" if k & 0x10 else "",
                                          " ext" if k & 0x20 else "", k >> 6, flags, i8(dt),
                                          seq, len(p)))
                else:
                    fl, dt = r.u8(), r.u8()
                    fr = r.take(r.u16())
                    print("  [%d] fl %#04x (storage %d, segs %d, first %d%s) dt %+d ms: %s" % (
                        j, fl, fl & 3, 2 + ((fl >> 2) & 3), 6 + 10 * ((fl >> 4) & 7),
                        ", pkt_len +64" if fl & 0x80 else "", i8(dt), describe_frame(fr)))
                    if hexdump:
                        print("      " + fr.hex())
        elif op < 12:
            print("flush_older_than(now - %d ms)" % i8(r.u8()))
        elif op == 12:
            print("flush_all")
        elif op == 13:
            print("top_conns")
        elif op == 14:
            print("free the current assembler" if r.u8() % 8 == 7 else "switch assembler")
        else:
            print("clock %+d s" % i8(r.u8()))


def segments(r, hexdump):
    conf(r)
    mode = r.u8() & 1
    base = r.u32()
    print("%s mode, base %d" % ("consistent" if mode else "raw", base))
    while r.left() > 0:
        op = r.u8() % 8
        if op < 5:
            k, fl, d, ln, dt = r.u8() % 12, r.u8(), struct.unpack("<h", struct.pack("<H", r.u16()))[0], r.u16(), r.u8()
            ln = ln & 0x3fff if ln & 0x8000 else ln & 0x7ff
            flags = fl & 7 if fl & 8 else 0
            sm = (fl >> 4) & 3
            seq = r.u32() if sm == 1 else None
            if mode and flags & 2:
                ln = 0
            if not mode:
                ln = len(r.take(ln))
            print("segment flow %d flags %s seq %s len %d dt %+d ms%s" % (
                k, "".join(c for b, c in ((2, "S"), (1, "F"), (4, "R")) if flags & b) or "-",
                {0: "cursor%+d" % d, 1: str(seq), 2: "cursor%+d*1900" % d, 3: "base%+d" % d}[sm],
                ln, i8(dt), " (cursor stays)" if fl & 0x40 else ""))
        elif op == 5:
            print("flush_older_than(now - %d ms)" % i8(r.u8()))
        elif op == 6:
            print("flush_all")
        else:
            sub = r.u8() % 8
            if sub == 1:
                print("switch assembler")
            elif sub == 2:
                print("clock %+d s" % i8(r.u8()))
            elif sub == 7:
                print("free the current assembler")
            else:
                print("top_conns")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("harness", choices=["burst", "segments"])
    ap.add_argument("file")
    ap.add_argument("--hex", action="store_true", help="also print raw frames in hex")
    a = ap.parse_args()
    r = Reader(open(a.file, "rb").read())
    (burst if a.harness == "burst" else segments)(r, a.hex)


if __name__ == "__main__":
    sys.exit(main())
