#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generate a TCP capture that knows what it sent, and what gopacket delivers from it.

The command line of reasmkit.gencap (scripts/lib/reasmkit/gencap.py), where the generator
and its model of gopacket tcpassembly live; see there for what the capture holds.
Importing this file gives the same functions (generate, run, parse_args,
generate_files, write_pcap, GopacketModel...); new code imports reasmkit.gencap.

Usage:
  gencap.py -o cap.pcap [--expected cap.expected.jsonl] [--seed N] [--conns N]
            [--encap KIND,...] [--frag P] [--frag-outer P] [--expected-no-defrag FILE]
            [--expected-conns FILE] [--p-conflict P] [--expected-last FILE]
            [--expected-conflicts FILE] [--expected-retain N[,N...]]
  (gencap.py --help lists every option)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit.gencap import *  # noqa: E402,F401,F403
from reasmkit.gencap import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
