# SPDX-License-Identifier: BSD-3-Clause
"""reasmkit: the Python toolkit shared by reasm's tests and scripts (standard library only).

Modules:
  pcap       classic pcap files: write (header, records, Writer), read (both byte orders,
             microsecond and nanosecond magic), is_ethernet(), libpcap_count()
  frames     Ethernet (VLAN tags), IPv4, IPv6, TCP, UDP frame builders with optional
             checksums; tcp_frame()/udp_frame() for quick test frames; decode()
  telemetry  DPDK telemetry v2 client (AF_UNIX SOCK_SEQPACKET to
             RUNTIME_DIR/PREFIX/dpdk_telemetry.v2)
  gtest      googletest-style XML reports (Case, write) and Report, a check collector
  appliance  run app/reasm with the sandbox's EAL options (Reasm, Background), read what
             it prints (parse_summary, read_jsonl) and check that every byte is accounted
             for (conservation_problem, bytes_conserved_problem)
  gopacket   build tools/gopacket-ref; run_sections() runs a program over many captures
  tshark     what `tshark -z follow,tcp,raw` shows per stream direction
  gencap     the capture generator with its gopacket tcpassembly model (entry point:
             tests/gen/gencap.py)
  netns      the live test bed: two network namespaces and a veth pair (VethPair),
             available(), cleanup on exit and on signals
  live       reasm on a veth through net_af_packet (NetnsReasm), rx_option(), drop
             reports, truth and gencap comparisons, remap_ipv4_capture() (tests/live/)
  hugepages  2 MiB hugepages reserved and mounted for a test that needs DPDK shared
             memory (secondary processes), the kernel's pool restored afterwards

Every Python file of the project that needs it imports it the same way, with the path
from that file to the repository root ("..", ".." for tests/e2e/x.py):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "scripts", "lib"))
    from reasmkit import pcap, telemetry  # noqa: E402

No other sys.path manipulation is needed: what tests share lives here.
"""
import os

# The repository this package belongs to (scripts/lib/reasmkit -> ../../..).
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def source_dir():
    """The source tree under test: $REASM_SOURCE_DIR (meson sets it), else ROOT."""
    return os.environ.get("REASM_SOURCE_DIR", ROOT)


def shared_captures():
    """tcpdump's test captures: SOURCE_DIR/../shared/captures/tcpdump."""
    return os.path.normpath(os.path.join(source_dir(), "..", "shared", "captures", "tcpdump"))
