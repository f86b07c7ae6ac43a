#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Overload probe (not a test): a capture injected at full speed into reasm on a veth.

Builds the live test bed (scripts/lib/reasmkit/netns.py), starts reasm in namespace B on
net_af_packet (vb), injects a gencap capture from namespace A (tests/live/inject.py, the
capture looped for --seconds at --rate, 0 = as fast as the socket takes frames), samples
/reasm/stats every second meanwhile, then prints where every frame went:

  frames injected (inject.py) -> frames that crossed vb (veth counters) -> reasm's port
  counters (port_rx_pkts, port_rx_missed, nombuf; the difference with the veth's count
  is what the kernel's af_packet rings dropped) -> main-lcore spreading (dist_pkts,
  dist_ring_full) -> workers (rx_pkts)

and reasm's own summary after SIGINT. Everything is removed at the end (also on Ctrl-C).

  probe_overload.py build/app/reasm [--workers 2] [--qpairs N] [--seconds 5] [--rate 0]
        [--framecnt 4096] [--rx MODE] [--seed 3 --conns 300] [-- REASM OPTIONS...]

REASM OPTIONS replace the default "--sink count --quiet --timeout 0". --qpairs defaults
to --workers. Frames of the capture repeat (same 4-tuples, same sequence numbers) on every
pass: after the first, reasm sees them as retransmissions and new streams, which is fine
for counting drops but not for comparing bytes. Exit status 0 unless the bed or reasm
could not be started.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, gencap, live, netns  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SYS_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
FRAMESZ = 4096


def main():
    argv = sys.argv[1:]
    reasm_opts = None
    if "--" in argv:
        i = argv.index("--")
        argv, reasm_opts = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--qpairs", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=0.0, help="frames/s, 0 = full speed")
    ap.add_argument("--framecnt", type=int, default=4096, help="af_packet ring frames/queue")
    ap.add_argument("--rx", help="pass --rx MODE to reasm")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--conns", type=int, default=300)
    ap.add_argument("--capture", help="a pcap to inject instead of a generated one "
                    "(its frames must fit the MTU the probe sets: up to 4000 bytes)")
    ap.add_argument("--cpu", type=int, default=None, help="pin the injector to this CPU")
    a = ap.parse_args(argv)
    ok, why = netns.available()
    if not ok:
        print("probe: no test bed: " + why)
        return 2
    work = tempfile.mkdtemp(prefix="reasm-probe-")
    try:
        return probe(a, work, reasm_opts)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def probe(a, work, reasm_opts):
    if a.capture:
        cap = a.capture
    else:
        raw = os.path.join(work, "gen.pcap")
        info = gencap.generate_files(["-o", raw, "--seed", str(a.seed), "--conns",
                                      str(a.conns), "--p-big", "0"])
        cap = os.path.join(work, "inject.pcap")
        live.remap_ipv4_capture(raw, info["expected"], cap,
                                os.path.join(work, "inject.expected.jsonl"))
    maxlen = live.max_frame_len(cap)
    opts = reasm_opts if reasm_opts is not None else ["--sink", "count", "--quiet",
                                                      "--timeout", "0"]
    if a.rx:
        opts = opts + ["--rx", a.rx]
    if "--mbuf-size" not in opts:
        opts = opts + ["--mbuf-size", str(FRAMESZ)]
    qpairs = a.qpairs or a.workers
    with netns.VethPair(tag="probe", offloads=False, mtu=max(1500, maxlen - 14)) as bed:
        r = live.NetnsReasm(os.path.abspath(a.reasm), bed, "probe")
        vdev = live.af_packet_vdev(bed.if_b, qpairs, a.framecnt, framesz=FRAMESZ)
        print("probe: reasm %s -- %s" % (vdev, " ".join(opts)), flush=True)
        bg = r.start([vdev], opts, lcores=live.lcores_for(a.workers))
        bed.procs.append(bg.proc)
        tel = bg.telemetry(timeout=30)
        if tel is None:
            print(bg.stop(timeout=10).describe())
            return 2
        before = bed.link_stats("b")
        cmd = [SYS_PYTHON, os.path.join(HERE, "inject.py"), "--iface", bed.if_a, "--pcap",
               cap, "--rate", str(a.rate), "--seconds", str(a.seconds), "--cut",
               "--no-retry", "--burst", "64"]
        if a.cpu is not None:
            cmd += ["--cpu", str(a.cpu)]
        inj = bed.popen("a", cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True)
        out = []
        reader = threading.Thread(target=lambda: out.append(inj.stdout.read()), daemon=True)
        reader.start()
        t0 = time.monotonic()
        prev = live.stats(tel)
        while inj.poll() is None and time.monotonic() - t0 < a.seconds + 30:
            time.sleep(1.0)
            s = live.stats(tel)
            d = {k: s.get(k, 0) - prev.get(k, 0) for k in ("port_rx_pkts", "rx_pkts")
                 if isinstance(s.get(k), int)}
            prev = s
            print("probe: t=%4.1fs  per second: port_rx_pkts %s, rx_pkts %s; missed %s, "
                  "ring_full %s" % (time.monotonic() - t0, d.get("port_rx_pkts"),
                                    d.get("rx_pkts"), s.get("port_rx_missed"),
                                    s.get("dist_ring_full")), flush=True)
        try:
            inj.wait(timeout=30)
        except subprocess.TimeoutExpired:
            inj.kill()
        reader.join(5)
        lines = (out[0] if out else "").strip().splitlines()
        try:
            injected = json.loads(lines[-1])
        except (ValueError, IndexError):
            injected = {"output": lines[-5:]}
        final, settled = live.wait_quiescent(tel, timeout=20)
        link = bed.link_stats("b")
        wire = live.frames_on(bed, "b", before)
        print("\nprobe: injector: %s" % json.dumps(injected, sort_keys=True))
        print("probe: vb: %d frames crossed it (received + sent) during the run; %s" % (
            wire, link))
        print("probe: /reasm/stats%s:" % ("" if settled else " (still moving after 20 s)"))
        for k in sorted(final):
            print("  %-32s %s" % (k, final[k]))
        dc = live.drop_counters(final)
        print("probe: drop-related: %s" % json.dumps(dc, sort_keys=True))
        rx = final.get("port_rx_pkts", 0)
        print("probe: frames on vb %d - reasm's port_rx_pkts %d = %d lost before reasm's "
              "port counted them (full af_packet rings), of which port_rx_missed says %s" % (
                  wire, rx, wire - rx, final.get("port_rx_missed")))
        print("probe: port_rx_pkts %d - dist_ring_full %s = %d; workers received rx_pkts %s" % (
            rx, final.get("dist_ring_full"), rx - final.get("dist_ring_full", 0),
            final.get("rx_pkts")))
        tel.close()
        res = bg.stop(signal.SIGINT, timeout=60)
        print("\nprobe: reasm exit status %s; its output:" % res.rc)
        print(res.stdout[-6000:])
        if res.stderr.strip():
            print("stderr:\n" + res.stderr[-3000:])
        summary = appliance.parse_summary(res.stdout)
        if summary is not None:
            why = appliance.conservation_problem(summary)
            print("probe: bytes conserved: %s" % ("yes" if why is None else why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
