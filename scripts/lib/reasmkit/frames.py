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


# ---- tunnels and fragments (builders, innermost first, like the ones above) ----------
#
#   pkt = mpls([(label, tc, ttl), ...], ip)              # bottom-of-stack set on the last
#   pkt = pppoe_session(session, ip)                      # PPPoE session + PPP (IPv4/IPv6)
#   pkt = gre(ETH_IPV4, ip, checksum=True, key=7, seq=1)  # RFC 2784/2890 (checksum computed)
#   pkt = erspan2(session, frame) / erspan3(session, frame, subheader=b"8 bytes")
#   pkt = vxlan(vni, frame) / geneve(vni, ETH_TEB, frame, options=geneve_option(...))
#   pkt = gtpu(teid, ip, seq=None, ext=[(type, content), ...])   # G-PDU
#   seg = udp_csum(sport, dport, payload, src, dst)       # UDP with its checksum
#   pkt = ipv4_fragment(src, dst, proto, data, ident, offset, more)  # DF clear, checksum
#   hdr = ipv6_fragment_header(next_header, offset, more, ident)

ETH_MPLS, ETH_MPLS_MC, ETH_PPPOE_SESSION = 0x8847, 0x8848, 0x8864
ETH_TEB, ETH_ERSPAN2, ETH_ERSPAN3 = 0x6558, 0x88BE, 0x22EB
PROTO_IPIP, PROTO_IPV6, PROTO_GRE, PROTO_FRAGMENT = 4, 41, 47, 44
UDP_VXLAN, UDP_GENEVE, UDP_GTPU = 4789, 6081, 2152
PPP_IPV4, PPP_IPV6 = 0x0021, 0x0057


def ip_version(packet):
    """4 or 6: the version nibble of an IP packet."""
    return packet[0] >> 4


def ethertype_of(packet):
    """ETH_IPV4 or ETH_IPV6 for an IP packet (by its version nibble)."""
    return ETH_IPV6 if ip_version(packet) == 6 else ETH_IPV4


def mpls(labels, payload):
    """An MPLS label stack: labels are ints or (label, tc, ttl), outermost first; the
    last one gets the bottom-of-stack bit."""
    out = b""
    for i, lab in enumerate(labels):
        label, tc, ttl = (lab, 0, 64) if isinstance(lab, int) else lab
        bottom = 0x100 if i + 1 == len(labels) else 0
        out += struct.pack("!I", (label & 0xFFFFF) << 12 | (tc & 7) << 9 | bottom | ttl & 0xFF)
    return out + payload


def pppoe_session(session, packet, ppp_proto=None):
    """A PPPoE session frame's payload (version 1, type 1, code 0) carrying PPP with the
    two-byte protocol of packet (IPv4 0x0021, IPv6 0x0057 unless given)."""
    if ppp_proto is None:
        ppp_proto = PPP_IPV6 if ip_version(packet) == 6 else PPP_IPV4
    ppp = _U16.pack(ppp_proto) + packet
    return struct.pack("!BBHH", 0x11, 0, session, len(ppp)) + ppp


def gre(proto, payload, checksum=False, key=None, seq=None):
    """A GRE (version 0) packet: checksum (computed over the GRE header and payload), key
    and sequence number present when asked for."""
    f0 = (0x80 if checksum else 0) | (0x20 if key is not None else 0) | \
        (0x10 if seq is not None else 0)
    hdr = struct.pack("!BBH", f0, 0, proto)
    if checksum:
        hdr += b"\0\0\0\0"
    if key is not None:
        hdr += struct.pack("!I", key & 0xFFFFFFFF)
    if seq is not None:
        hdr += struct.pack("!I", seq & 0xFFFFFFFF)
    pkt = hdr + payload
    if checksum:
        pkt = pkt[:4] + _U16.pack(csum(pkt)) + pkt[6:]
    return pkt


def erspan2(session, frame, vlan=0, cos=0, en=0, truncated=False, index=0):
    """An ERSPAN type II header (version 1; GRE protocol 0x88be, with a GRE sequence
    number) + the mirrored Ethernet frame."""
    return struct.pack("!HHI", 1 << 12 | vlan & 0xFFF,
                       (cos & 7) << 13 | (en & 3) << 11 | (0x400 if truncated else 0) |
                       session & 0x3FF, index & 0xFFFFF) + frame


def erspan3(session, frame, vlan=0, cos=0, bso=0, truncated=False, timestamp=0, sgt=0,
            hw_id=0, direction=0, gra=0, subheader=None):
    """An ERSPAN type III header (version 2; GRE protocol 0x22eb) + the mirrored Ethernet
    frame; subheader: the 8-byte platform-specific subheader (sets the O bit)."""
    word = (hw_id & 0x3F) << 4 | (direction & 1) << 3 | (gra & 3) << 1 | \
        (1 if subheader is not None else 0)
    hdr = struct.pack("!HHIHH", 2 << 12 | vlan & 0xFFF,
                      (cos & 7) << 13 | (bso & 3) << 11 | (0x400 if truncated else 0) |
                      session & 0x3FF, timestamp & 0xFFFFFFFF, sgt & 0xFFFF, word)
    if subheader is not None:
        if len(subheader) != 8:
            raise ValueError("the ERSPAN III platform subheader has 8 bytes")
        hdr += subheader
    return hdr + frame


def vxlan(vni, frame):
    """A VXLAN header (I flag, the 24-bit VNI) + the inner Ethernet frame."""
    return struct.pack("!BxxxI", 0x08, (vni & 0xFFFFFF) << 8) + frame


def geneve_option(cls, typ, data=b""):
    """One Geneve option TLV; data is padded to 4 bytes (at most 124)."""
    data = _pad4(data)
    return struct.pack("!HBB", cls, typ, len(data) // 4) + data


def geneve(vni, protocol, payload, options=b"", oam=False, critical=False):
    """A Geneve header (version 0) with options (a multiple of 4 bytes, at most 252), the
    protocol type (ETH_TEB, ETH_IPV4, ETH_IPV6) and the 24-bit VNI + payload."""
    if len(options) % 4 or len(options) > 252:
        raise ValueError("Geneve options: a multiple of 4 bytes, at most 252")
    return struct.pack("!BBHI", len(options) // 4, (0x80 if oam else 0) |
                       (0x40 if critical else 0), protocol,
                       (vni & 0xFFFFFF) << 8) + options + payload


def gtpu(teid, payload, seq=None, npdu=None, ext=()):
    """A GTP-U version 1 G-PDU (message type 0xff) + the T-PDU. seq / npdu: the optional
    sequence and N-PDU numbers (S, PN flags); ext: (type, content) extension headers, in
    order, each content 2 bytes short of a multiple of 4 (E flag). The message length
    covers everything after the mandatory 8 bytes."""
    ext = list(ext)
    flags = 0x30 | (0x04 if ext else 0) | (0x02 if seq is not None else 0) | \
        (0x01 if npdu is not None else 0)
    body = b""
    if flags & 0x07:
        body = struct.pack("!HBB", seq or 0, npdu or 0, ext[0][0] if ext else 0)
        for i, (_typ, content) in enumerate(ext):
            if (len(content) + 2) % 4 or len(content) + 2 > 1020:
                raise ValueError("GTP-U extension header content: 4n - 2 bytes")
            nxt = ext[i + 1][0] if i + 1 < len(ext) else 0
            body += bytes([(len(content) + 2) // 4]) + content + bytes([nxt])
    body += payload
    return struct.pack("!BBHI", flags, 0xFF, len(body), teid & 0xFFFFFFFF) + body


def udp_csum(sport, dport, payload, src, dst):
    """A UDP datagram with its checksum over the pseudo-header of src, dst (0 becomes
    0xffff, as RFC 768 says)."""
    d = _UDP.pack(sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo_header(src, dst, PROTO_UDP, len(d)) + d) or 0xFFFF
    return d[:6] + _U16.pack(c) + d[8:]


def ipv4_fragment(src, dst, proto, data, ident, offset, more, options=b"", ttl=64,
                  checksum=True):
    """An IPv4 packet holding data at byte offset (a multiple of 8) of a datagram: DF
    clear, MF if more; header checksum filled in unless checksum=False. offset 0 and
    more False is an ordinary packet without DF."""
    if offset % 8:
        raise ValueError("fragment offset %d is not a multiple of 8" % offset)
    if options:
        options = _pad4(options)
    hl = 20 + len(options)
    hdr = _IPV4.pack(0x40 | hl >> 2, 0, hl + len(data), ident & 0xFFFF,
                     (0x2000 if more else 0) | offset >> 3, ttl, proto, 0, addr(src),
                     addr(dst)) + options
    if checksum:
        hdr = hdr[:10] + _U16.pack(csum(hdr)) + hdr[12:]
    return hdr + data


def ipv4_copied_options(options):
    """The IPv4 options a fragment after the first carries: those whose copied bit
    (0x80) is set (RFC 791), padded to 4 bytes."""
    out, i = b"", 0
    while i < len(options):
        t = options[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2:
            break
        n = options[i + 1]
        if t & 0x80:
            out += options[i:i + n]
        i += n
    return _pad4(out) if out else b""


def ipv6_fragment_header(next_header, offset, more, ident):
    """An IPv6 Fragment extension header (8 bytes): offset in bytes (a multiple of 8)."""
    if offset % 8:
        raise ValueError("fragment offset %d is not a multiple of 8" % offset)
    return struct.pack("!BBHI", next_header, 0, offset | (1 if more else 0),
                       ident & 0xFFFFFFFF)


def ipv6_raw(src, dst, next_header, payload, hop_limit=64):
    """An IPv6 fixed header whose next header is next_header + payload (which holds any
    extension headers already)."""
    return _IPV6.pack(6 << 28, len(payload), next_header, hop_limit, addr(src),
                      addr(dst)) + payload


def ipv6_ext_header(next_header):
    """One 8-byte hop-by-hop or destination-options header (its next header given)
    holding a 4-byte PadN option, as ipv6() writes them."""
    return struct.pack("!BBBB4s", next_header, 0, 1, 4, b"\0\0\0\0")
