# SPDX-License-Identifier: BSD-3-Clause
"""Classic pcap files (libpcap's savefile format), read and written.

New captures are written little endian with microsecond timestamps (what net_pcap, gopacket's
pcapgo and tshark all read); times are given in nanoseconds and cut to microseconds:

    write(path, [(ts_ns, frame), ...], snaplen=65535, linktype=1)
    with Writer(path) as w:                 # for large captures, one record at a time
        w.add(ts_ns, frame[, wire_len])

Reading takes both byte orders and both the microsecond (0xa1b2c3d4) and nanosecond
(0xa1b23c4d) magic, and stops before a record cut short by the end of the file:

    cap = read(path)        # cap.order, cap.nanos, cap.snaplen, cap.linktype, cap.records
    for rec in cap.records: # Record(sec, frac, caplen, wire_len, data)
        cap.ts_ns(rec)
    write_records(out, cap.header, cap.order, records)   # a filtered copy, same header

is_ethernet() says what gopacket's pcapgo takes for an Ethernet capture; libpcap_count()
counts records as libpcap 1.10 reads them (including its errors).
"""
import collections
import struct

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
HEADER_BYTES = 24
RECORD_HEADER_BYTES = 16

_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")

Record = collections.namedtuple("Record", "sec frac caplen wire_len data")
Record.__doc__ = """One record: seconds, fraction (us or ns, as the file says), captured
and wire lengths, the captured bytes."""


def header(snaplen=65535, linktype=LINKTYPE_ETHERNET):
    """The 24-byte file header: version 2.4, little endian, microsecond timestamps."""
    return _HEADER.pack(MAGIC_US, 2, 4, 0, 0, snaplen, linktype)


def record(ts_ns, frame, wire_len=None):
    """One record (header + frame) at ts_ns, cut to microseconds; wire_len defaults to
    the frame's length."""
    sec, usec = divmod(ts_ns // 1000, 1000000)
    return _RECORD.pack(sec, usec, len(frame), len(frame) if wire_len is None else wire_len) + frame


class Writer:
    """A pcap written record by record (header first); usable as a context manager."""

    def __init__(self, path, snaplen=65535, linktype=LINKTYPE_ETHERNET):
        self.f = open(path, "wb")
        self.f.write(header(snaplen, linktype))
        self.count = 0

    def add(self, ts_ns, frame, wire_len=None):
        self.f.write(record(ts_ns, frame, wire_len))
        self.count += 1

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write(path, frames, snaplen=65535, linktype=LINKTYPE_ETHERNET):
    """Write a capture; frames: iterable of (ts_ns, frame bytes)."""
    with Writer(path, snaplen, linktype) as w:
        for ts, frame in frames:
            w.add(ts, frame)


class Capture:
    """A classic pcap read into memory (see read())."""

    def __init__(self, hdr, order, nanos, version, snaplen, linktype, records):
        self.header = hdr           # the file's 24 header bytes, as they are
        self.order = order          # "<" or ">"
        self.nanos = nanos          # True: nanosecond timestamps
        self.version = version      # (major, minor)
        self.snaplen = snaplen
        self.linktype = linktype    # the whole 32-bit field
        self.records = records      # [Record]

    def ts_ns(self, rec):
        """A record's time in nanoseconds."""
        return rec.sec * 1000000000 + (rec.frac if self.nanos else rec.frac * 1000)

    def frames(self):
        """[(ts_ns, captured bytes)] of every record."""
        return [(self.ts_ns(r), r.data) for r in self.records]


def parse_header(hdr):
    """(order, nanos) of a classic pcap file header, or None if it is not one."""
    if len(hdr) < HEADER_BYTES:
        return None
    for order in ("<", ">"):
        magic = struct.unpack(order + "I", hdr[:4])[0]
        if magic in (MAGIC_US, MAGIC_NS):
            return order, magic == MAGIC_NS
    return None


def read(path):
    """The capture at path as a Capture; ValueError if it is not a classic pcap.

    Reading stops before a record whose header or data the file cuts short.
    """
    with open(path, "rb") as f:
        data = f.read()
    kind = parse_header(data)
    if kind is None:
        raise ValueError("%s: not a classic pcap file" % path)
    order, nanos = kind
    major, minor, _, _, snaplen, linktype = struct.unpack(order + "HHiIII", data[4:24])
    rec_hdr = struct.Struct(order + "IIII")
    records, off, end = [], HEADER_BYTES, len(data)
    while off + RECORD_HEADER_BYTES <= end:
        sec, frac, caplen, wire = rec_hdr.unpack_from(data, off)
        start = off + RECORD_HEADER_BYTES
        if start + caplen > end:
            break
        records.append(Record(sec, frac, caplen, wire, data[start:start + caplen]))
        off = start + caplen
    return Capture(data[:HEADER_BYTES], order, nanos, (major, minor), snaplen, linktype,
                   records)


def write_records(path, hdr, order, records):
    """Write records (Record, or tuples sec, frac, caplen, wire_len, data) after the file
    header hdr, in byte order order; the captured length is that of data."""
    rec_hdr = struct.Struct(order + "IIII")
    with open(path, "wb") as f:
        f.write(hdr)
        for sec, frac, _, wire, data in records:
            f.write(rec_hdr.pack(sec, frac, len(data), wire) + data)


def is_ethernet(path):
    """What pcapgo accepts as a classic pcap whose (8-bit) link type is Ethernet."""
    with open(path, "rb") as f:
        hdr = f.read(HEADER_BYTES)
    kind = parse_header(hdr)
    if kind is None:
        return False
    order = kind[0]
    major, minor = struct.unpack(order + "HH", hdr[4:8])
    linktype = struct.unpack(order + "I", hdr[20:24])[0]
    return (major, minor) == (2, 4) and linktype & 0xFF == LINKTYPE_ETHERNET


# ---- counting records as libpcap does ------------------------------------------

# libpcap's magics -> record header size (0xa1b2cd34: Alexey Kuznetzov's patched format).
LIBPCAP_MAGICS = {MAGIC_US: 16, MAGIC_NS: 16, 0xA1B2CD34: 24}


def libpcap_cdll():
    """Debian's libpcap loaded with ctypes (to read captures as net_pcap does), or None."""
    import ctypes
    import ctypes.util
    for name in (ctypes.util.find_library("pcap"), "libpcap.so.0.8", "libpcap.so.1"):
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def libpcap_max_snaplen(linktype):
    """libpcap's max_snaplen_for_dlt()."""
    return {231: 128 * 1024 * 1024, 279: 8 * 1024 * 1024, 249: 1024 * 1024}.get(
        linktype & 0xFFFF, 262144)


def libpcap_count(path):
    """(records, linktype, None, end) or (None, None, why libpcap would refuse it, None).

    Follows libpcap 1.10's savefile rules: a record longer than the file's snap length is
    cut to it (still one record); reading stops with an error at a cut-off header or
    record, or at a capture length over the link type's maximum. end is None when the
    records fill the file exactly (libpcap: end of file), else why libpcap stops reading
    with an error (net_pcap counts that in ierrors).
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER_BYTES:
        return None, None, "shorter than a pcap file header", None
    order = hdr_size = None
    for o in ("<", ">"):
        magic = struct.unpack(o + "I", data[:4])[0]
        if magic in LIBPCAP_MAGICS:
            order, hdr_size = o, LIBPCAP_MAGICS[magic]
    if order is None:
        return None, None, "not a classic pcap file (magic %s)" % data[:4].hex(), None
    major, minor, _, _, _, linktype = struct.unpack(order + "HHiIII", data[4:24])
    if major < 2:
        return None, None, "archaic pcap format %d.%d" % (major, minor), None
    maxsnap = libpcap_max_snaplen(linktype)
    n, off, end = 0, HEADER_BYTES, None
    while off < len(data):
        if off + hdr_size > len(data):
            end = "truncated record header"
            break
        _, _, caplen, wire = struct.unpack(order + "IIII", data[off:off + 16])
        if major == 2 and (minor < 3 or (minor == 3 and caplen > wire)):
            caplen, wire = wire, caplen
        if caplen > maxsnap:
            end = "capture length %d over the maximum %d" % (caplen, maxsnap)
            break
        if off + hdr_size + caplen > len(data):
            end = "truncated record"
            break
        n += 1                      # a caplen over snap is cut to snap: still one record
        off += hdr_size + caplen
    return n, linktype, None, end
