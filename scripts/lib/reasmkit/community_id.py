# SPDX-License-Identifier: BSD-3-Clause
"""Community ID version 1 of a TCP connection, written from the specification
(https://github.com/corelight/community-id-spec) with Python's hashlib, independently of
reasm's C code (lib/reasm/reasm_community_id.c), so that tests can check one against the
other.

    "1:" + base64(SHA-1(seed (2 bytes, big-endian) | addr_lo | addr_hi | proto (1 byte)
                        | 0 (1 byte) | port_lo (2 bytes) | port_hi (2 bytes)))

where (addr_lo, port_lo) is the smaller endpoint: addresses compared as bytes first, then
ports. Both directions of a connection get the same identifier.
"""
import base64
import hashlib
import ipaddress
import struct

TCP = 6


def community_id(src, sport, dst, dport, seed=0, proto=TCP):
    """The identifier of (src, sport) <-> (dst, dport); addresses as text (v4 or v6)."""
    a, b = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    if len(a) != len(b):
        raise ValueError("mixed address families: %s, %s" % (src, dst))
    if (b, dport) < (a, sport):
        a, b, sport, dport = b, a, dport, sport
    data = struct.pack("!H", seed) + a + b + struct.pack("!BBHH", proto, 0, sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


# The specification's own baseline (baseline/baseline_deflt.json and baseline_seed1.json),
# TCP rows: (src, sport, dst, dport, seed, identifier).
SPEC_TCP_BASELINE = [
    ("128.232.110.120", 34855, "66.35.250.204", 80, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    ("128.232.110.120", 34855, "66.35.250.204", 80, 1, "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
    ("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 0,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
    ("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 1,
     "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
]


def self_check():
    """None if this module reproduces the specification's baseline, else what differs."""
    bad = []
    for src, sport, dst, dport, seed, want in SPEC_TCP_BASELINE:
        for got in (community_id(src, sport, dst, dport, seed),
                    community_id(dst, dport, src, sport, seed)):
            if got != want:
                bad.append("%s:%d %s:%d seed %d: %s, the specification says %s" % (
                    src, sport, dst, dport, seed, got, want))
    return "; ".join(bad) or None
