#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Inject the frames of a pcap into an interface, whole Ethernet frames (AF_PACKET raw).

Run in the namespace that owns the interface (the test bed's "a" side, so that reasm's
net_af_packet on the peer sees every frame as received):

  ip netns exec NS /usr/bin/python3 inject.py --iface va --pcap cap.pcap \\
        [--rate FPS | --rate 0] [--burst N] [--seconds S | --passes N] [--cpu C]

--rate: frames per second, sent in bursts of --burst frames with sleeps between them
  (0: as fast as the socket takes them, the overload case). Frames keep the capture's
  order (one thread, pinned to --cpu when given, so the veth never reorders them).
--passes N: send the capture N times (default 1); --seconds S: repeat the capture until
  S seconds have passed (at least one whole pass unless --cut).
A send refused with ENOBUFS/EAGAIN is retried (up to --retries times, then counted as
lost) unless --no-retry; any other error (EMSGSIZE for a frame over the MTU) is
counted and the frame skipped. Prints one JSON object at the end: frames and bytes
sent, errors by errno name, passes, seconds, frames per second. Exit status 0 when
every frame was sent, 1 otherwise, 2 on a usage error.
Standard library only (the pcap reader of scripts/lib/reasmkit).
"""
import argparse
import errno
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import pcap  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--rate", type=float, default=5000.0, help="frames/s, 0 = full speed")
    ap.add_argument("--burst", type=int, default=16)
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--cut", action="store_true", help="stop mid-pass when --seconds end")
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--retries", type=int, default=2000)
    ap.add_argument("--no-retry", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="hard limit")
    a = ap.parse_args(argv)
    if a.burst < 1 or a.rate < 0 or a.passes < 1:
        print("bad --burst/--rate/--passes", file=sys.stderr)
        return 2
    if a.cpu is not None:
        try:
            os.sched_setaffinity(0, {a.cpu})
        except OSError as e:
            print("inject: cannot pin to CPU %d: %s" % (a.cpu, e), file=sys.stderr)
    frames = [r.data for r in pcap.read(a.pcap).records]
    if not frames:
        print("inject: %s has no frames" % a.pcap, file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((a.iface, 0))
    send = s.send
    errors = {}
    sent = nbytes = lost = 0
    passes = 0
    t0 = time.monotonic()
    hard = t0 + a.max_seconds
    k = 0               # frames offered so far (pacing clock)
    stop = False
    while not stop:
        for f in frames:
            if a.rate > 0 and k % a.burst == 0:
                due = t0 + k / a.rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
            k += 1
            tries = 0
            while True:
                try:
                    send(f)
                    sent += 1
                    nbytes += len(f)
                    break
                except OSError as e:
                    name = errno.errorcode.get(e.errno, str(e.errno))
                    if e.errno in (errno.ENOBUFS, errno.EAGAIN) and not a.no_retry and \
                            tries < a.retries:
                        tries += 1
                        time.sleep(0.0005)
                        continue
                    errors[name] = errors.get(name, 0) + 1
                    lost += 1
                    break
            if a.cut and a.seconds and k % 256 == 0 and time.monotonic() - t0 >= a.seconds:
                stop = True
                break
            if k % 1024 == 0 and time.monotonic() > hard:
                stop = True
                break
        else:
            passes += 1
        if stop:
            break
        elapsed = time.monotonic() - t0
        if a.seconds:
            stop = elapsed >= a.seconds or time.monotonic() > hard
        else:
            stop = passes >= a.passes
    elapsed = time.monotonic() - t0
    s.close()
    out = dict(frames_sent=sent, bytes_sent=nbytes, frames_lost=lost, errors=errors,
               passes=passes, capture_frames=len(frames), seconds=round(elapsed, 3),
               fps=round(sent / elapsed, 1) if elapsed > 0 else None)
    print(json.dumps(out, sort_keys=True), flush=True)
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
