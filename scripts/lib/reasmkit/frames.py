# SPDX-License-Identifier: BSD-3-Clause
"""Ethernet, IPv4, IPv6, TCP and UDP frames, built and decoded (for test captures).

Builders, innermost first; each returns header + payload as bytes. Addresses are
4- or 16-byte strings, text ("10.0.0.1", "2001:db8::1") or ipaddress objects:

    seg = tcp(sport, dport, seq, flags, payload, ack=0, options=b"", csum_ips=(src, dst))
    pkt = ipv4(src, dst, PROTO_TCP, seg, ident=0, options=b"", checksum=False)
    pkt = ipv6(src, dst, PROTO_TCP, seg, ext=(0, 60))   # hop-by-hop, destination options
    frame = ethernet(dst_mac, src_mac, ETH_IPV4, pkt, tags=[(0x8100, vid)], pad=False)

Checksums are left 0 unless asked for (reasm and gopacket do not check them).
tcp_frame() and udp_frame() give a whole Ethernet/IPv4 frame from MAC_A to MAC_B with
the usual defaults (no options, DF, TTL 64, window 65535), as most tests need.
decode() reads the Ethernet and IP headers back (for tools that print or pick frames).
"""
import collections
import ipaddress
import socket
import struct

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
PROTO_TCP, PROTO_UDP = 6, 17
ETH_IPV4, ETH_IPV6, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
ETH_MIN_FRAME = 60  # without the FCS, which captures do not hold

_TCP = struct.Struct("!HHIIBBHHH")
_UDP = struct.Struct("!HHHH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_U16 = struct.Struct("!H")


def ip4(s):
    """An IPv4 address in text as 4 bytes."""
    return socket.inet_aton(s)


def addr(a):
    """An address as bytes (4 or 16): bytes as they are, text, or an ipaddress object."""
    if isinstance(a, bytes):
        return a
    if isinstance(a, str):
        return ipaddress.ip_address(a).packed
    return a.packed


def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def pseudo_header(src, dst, proto, length):
    """The IPv4 or IPv6 pseudo-header (by the addresses' size) of a TCP/UDP checksum."""
    src, dst = addr(src), addr(dst)
    if len(src) == 4:
        return src + dst + struct.pack("!xBH", proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def _pad4(options):
    return options + b"\x00" * (-len(options) % 4)


def tcp(sport, dport, seq, flags, payload=b"", ack=0, options=b"", window=65535,
        csum_ips=None):
    """A TCP segment; options are padded to 4 bytes; csum_ips=(src, dst): fill in the
    checksum (over the pseudo-header of those addresses)."""
    if options:
        options = _pad4(options)
    seg = _TCP.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    (20 + len(options)) << 2, flags, window, 0, 0) + options + payload
    if csum_ips is not None:
        c = csum(pseudo_header(csum_ips[0], csum_ips[1], PROTO_TCP, len(seg)) + seg)
        seg = seg[:16] + _U16.pack(c) + seg[18:]
    return seg


def udp(sport, dport, payload=b""):
    """A UDP datagram (checksum 0: none)."""
    return _UDP.pack(sport, dport, 8 + len(payload), 0) + payload


def ipv4(src, dst, proto, payload, ident=0, options=b"", checksum=False):
    """An IPv4 packet: DF set, TTL 64; options padded to 4 bytes; header checksum if asked."""
    if options:
        options = _pad4(options)
    hl = 20 + len(options)
    hdr = _IPV4.pack(0x40 | hl >> 2, 0, hl + len(payload), ident, 0x4000, 64, proto, 0,
                     addr(src), addr(dst)) + options
    if checksum:
        hdr = hdr[:10] + _U16.pack(csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, proto, payload, ext=()):
    """An IPv6 packet, hop limit 64. ext: extension header kinds in order (0 hop-by-hop,
    60 destination options), each 8 bytes holding one 4-byte PadN option."""
    ext = list(ext)
    hdrs = b""
    for i, kind in enumerate(ext):
        nxt = ext[i + 1] if i + 1 < len(ext) else proto
        hdrs += struct.pack("!BBBB4s", nxt, 0, 1, 4, b"\0\0\0\0")
    first = ext[0] if ext else proto
    return _IPV6.pack(6 << 28, len(hdrs) + len(payload), first, 64, addr(src),
                      addr(dst)) + hdrs + payload


def ethernet(dst_mac, src_mac, ethertype, payload, tags=(), pad=False):
    """An Ethernet frame; tags: (tpid, vid) pairs, outermost first; pad: to the 60-byte
    minimum frame (padding as a NIC adds it)."""
    frame = dst_mac + src_mac
    for tpid, vid in tags:
        frame += struct.pack("!HH", tpid, vid)
    frame += _U16.pack(ethertype) + payload
    if pad and len(frame) < ETH_MIN_FRAME:
        frame += b"\0" * (ETH_MIN_FRAME - len(frame))
    return frame


def ipv4_frame(src, dst, proto, l4):
    """Ethernet (MAC_A to MAC_B) + IPv4 without checksum (reasm and gopacket do not
    check it) + l4."""
    return ethernet(MAC_B, MAC_A, ETH_IPV4, ipv4(src, dst, proto, l4))


def tcp_frame(src, sport, dst, dport, seq, flags, payload=b"", ack=0):
    """Ethernet/IPv4/TCP, no options, no checksums."""
    return ipv4_frame(src, dst, PROTO_TCP, tcp(sport, dport, seq, flags, payload, ack))


def udp_frame(src, sport, dst, dport, payload=b""):
    """Ethernet/IPv4/UDP, no checksums."""
    return ipv4_frame(src, dst, PROTO_UDP, udp(sport, dport, payload))


# ---- decoding ---------------------------------------------------------------------

Decoded = collections.namedtuple(
    "Decoded", "tags ethertype l3 ip ihl length proto frag src dst l4 end tcp")
Decoded.__doc__ = """What decode() found. tags: VLAN tags skipped; ethertype: the one after
them; l3: its offset. For IPv4 / IPv6 (ip 4 or 6, else None and the rest None): ihl
(IPv4 header bytes), length (IPv4 total length / IPv6 payload length), proto (IPv4
protocol / IPv6 next header), frag (IPv4 flags and fragment offset), src, dst (bytes),
l4 (offset after the IPv4 header / the fixed IPv6 header), end (where the IP length
says the packet ends, maybe past the frame). tcp: (sport, dport, seq, data offset in
bytes, flags byte) read at l4 when the frame holds 20 bytes there, whatever proto says."""


def decode(frame):
    """The Ethernet and IP headers of frame as a Decoded, or None when it is shorter
    than an Ethernet header. Reads fields only where the frame holds them; checks
    nothing else (a malformed frame decodes to what its bytes say)."""
    if len(frame) < 14:
        return None
    o, tags = 12, 0
    t = _U16.unpack_from(frame, o)[0]
    while t in (ETH_VLAN, ETH_QINQ) and len(frame) >= o + 6:
        o += 4
        tags += 1
        t = _U16.unpack_from(frame, o)[0]
    o += 2
    if t == ETH_IPV4 and len(frame) >= o + 20:
        ihl, length = (frame[o] & 15) * 4, _U16.unpack_from(frame, o + 2)[0]
        ip, proto, frag = 4, frame[o + 9], _U16.unpack_from(frame, o + 6)[0]
        src, dst, l4, end = frame[o + 12:o + 16], frame[o + 16:o + 20], o + ihl, o + length
    elif t == ETH_IPV6 and len(frame) >= o + 40:
        ihl, length, frag = None, _U16.unpack_from(frame, o + 4)[0], None
        ip, proto = 6, frame[o + 6]
        src, dst, l4, end = frame[o + 8:o + 24], frame[o + 24:o + 40], o + 40, o + 40 + length
    else:
        return Decoded(tags, t, o, None, None, None, None, None, None, None, None, None, None)
    seg = None
    if len(frame) >= l4 + 20:
        sport, dport, seq = struct.unpack_from("!HHI", frame, l4)
        seg = (sport, dport, seq, (frame[l4 + 12] >> 4) * 4, frame[l4 + 13])
    return Decoded(tags, t, o, ip, ihl, length, proto, frag, src, dst, l4, end, seg)
