# SPDX-License-Identifier: BSD-3-Clause
"""A live test bed without a NIC: two network namespaces joined by a veth pair.

    from reasmkit import netns

    ok, why = netns.available()          # (False, "not root") etc.: skip the cases
    with netns.VethPair(offloads=False, mtu=1500) as bed:
        bed.ns_a, bed.ns_b               # namespace names (unique per process and bed)
        bed.if_a, bed.if_b               # "va" in ns_a, "vb" in ns_b
        bed.ip4_a, bed.ip4_b             # 198.18.N.1 / 198.18.N.2 (/24)
        bed.ip6_a, bed.ip6_b             # 2001:db8:N::1 / 2001:db8:N::2 (/64, nodad)
        bed.mac_a, bed.mac_b             # 0e:72:65:..:..:0a / 0b, never a gencap MAC
        bed.exec_b(["/usr/bin/python3", ...])  # ["ip", "netns", "exec", ns_b, ...]
        bed.popen("b", [...], ...)       # a process in ns_b, killed at cleanup
        bed.set_offloads(False); bed.set_mtu(1700)
        bed.link_stats("b")              # rx/tx packets, bytes, dropped of vb

Only 198.18.0.0/15 and 2001:db8::/32 addresses, no default route, no forwarding. Every
wait is bounded. Cleanup (on leaving the with block, at exit, on SIGTERM/SIGINT/SIGHUP
while a bed exists): the processes started through popen() and then every process still
in the two namespaces (by pid: only this bed's namespaces hold them) are killed, the
namespaces deleted (which removes the veth), and any extra paths registered with
bed.on_cleanup(path) (e.g. /var/run/dpdk/PREFIX) removed.

Standard library only; needs root, iproute2 (`ip`) and, for offloads, ethtool.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import threading
import time

IP = shutil.which("ip") or "/usr/sbin/ip"
ETHTOOL = shutil.which("ethtool") or "/usr/sbin/ethtool"

# Offloads that make a veth hand over frames bigger than the MTU or change them.
OFFLOADS = ("tso", "gso", "gro", "lro", "sg", "tx", "rx")
OFFLOADS_OFF = ("tso", "gso", "gro")

_live = []            # beds not yet cleaned up (atexit / signal handlers)
_lock = threading.Lock()
_handlers_installed = False
_counter = [0]


def _run(cmd, timeout=10, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise NetnsError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                               (r.stderr or r.stdout).strip()))
    return r


class NetnsError(RuntimeError):
    pass


def available():
    """(True, "") when this machine lets us build a bed, else (False, why).

    Tries it for real: a namespace and a veth pair inside it, removed at once.
    """
    if os.geteuid() != 0:
        return False, "not root (namespaces and veth need CAP_NET_ADMIN)"
    if not os.path.exists(IP):
        return False, "no `ip` command (iproute2)"
    if not os.path.exists(ETHTOOL):
        return False, "no ethtool (needed to set the veth's offloads)"
    name = "reasm-probe-%d" % os.getpid()
    try:
        r = _run([IP, "netns", "add", name], check=False)
        if r.returncode != 0:
            return False, "cannot create a network namespace: %s" % r.stderr.strip()
        r = _run([IP, "-n", name, "link", "add", "pa", "type", "veth", "peer", "name", "pb"],
                 check=False)
        if r.returncode != 0:
            return False, "cannot create a veth pair: %s" % r.stderr.strip()
        return True, ""
    except (OSError, subprocess.SubprocessError) as e:
        return False, "%s: %s" % (type(e).__name__, e)
    finally:
        subprocess.run([IP, "netns", "del", name], capture_output=True, timeout=10)


def _signal_cleanup(signum, frame):
    cleanup_all()
    # Let the caller's finally blocks run too (they find nothing left to do).
    raise SystemExit(128 + signum)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            if signal.getsignal(s) in (signal.SIG_DFL, signal.default_int_handler, None):
                signal.signal(s, _signal_cleanup)


def cleanup_all():
    """Clean up every bed still alive (atexit, signals)."""
    with _lock:
        beds = list(_live)
    for b in beds:
        b.close()


def ns_pids(ns):
    """The pids of the processes in namespace ns (`ip netns pids`)."""
    r = subprocess.run([IP, "netns", "pids", ns], capture_output=True, text=True, timeout=10)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


class VethPair:
    """Two namespaces, ns_a holding if_a and ns_b holding if_b, a veth pair between them.

    index: picks the /24 and /64 (198.18.index.0/24, 2001:db8:index::/64); addresses of
    one bed never leave its namespaces, so two beds may use the same index.
    offloads: None leaves the veth's defaults; False turns tso/gso/gro off (MTU-sized
    frames on the wire); True turns them on. mtu: the MTU of both ends.
    """

    def __init__(self, tag="live", offloads=False, mtu=1500, index=0, if_a="va", if_b="vb"):
        _counter[0] += 1
        uid = "%d-%d" % (os.getpid(), _counter[0])
        self.ns_a = "reasm-%s-%s-a" % (tag, uid)
        self.ns_b = "reasm-%s-%s-b" % (tag, uid)
        self.if_a, self.if_b = if_a, if_b
        self.ip4_a, self.ip4_b = "198.18.%d.1" % index, "198.18.%d.2" % index
        net6 = "2001:db8:%x::" % index if index else "2001:db8::"
        self.ip6_a, self.ip6_b = net6 + "1", net6 + "2"
        h = (os.getpid() * 31 + _counter[0]) & 0xFFFF
        self.mac_a = "0e:72:65:%02x:%02x:0a" % (h >> 8, h & 0xFF)
        self.mac_b = "0e:72:65:%02x:%02x:0b" % (h >> 8, h & 0xFF)
        self.offloads, self.mtu = offloads, mtu
        self.procs = []
        self.paths = []
        self.closed = False
        self.created = []

    # -- set-up -------------------------------------------------------------------
    def __enter__(self):
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        _install_handlers()
        with _lock:
            _live.append(self)
        for ns in (self.ns_a, self.ns_b):
            _run([IP, "netns", "add", ns])
            self.created.append(ns)
        # Created inside the namespaces: nothing ever appears in the caller's namespace.
        _run([IP, "-n", self.ns_a, "link", "add", self.if_a, "address", self.mac_a,
              "type", "veth", "peer", "name", self.if_b, "address", self.mac_b,
              "netns", self.ns_b])
        for ns, ifc, v4, v6 in ((self.ns_a, self.if_a, self.ip4_a, self.ip6_a),
                                (self.ns_b, self.if_b, self.ip4_b, self.ip6_b)):
            _run([IP, "-n", ns, "link", "set", "lo", "up"])
            _run([IP, "-n", ns, "addr", "add", v4 + "/24", "dev", ifc])
            _run([IP, "-n", ns, "-6", "addr", "add", v6 + "/64", "dev", ifc, "nodad"])
            _run([IP, "-n", ns, "link", "set", ifc, "mtu", str(self.mtu)])
        if self.offloads is not None:
            self.set_offloads(self.offloads)
        for ns, ifc in ((self.ns_a, self.if_a), (self.ns_b, self.if_b)):
            _run([IP, "-n", ns, "link", "set", ifc, "up"])
        self.wait_up()
        return self

    def wait_up(self, timeout=10.0):
        """Both ends up with carrier and the IPv6 addresses usable (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            ok = True
            for ns, ifc in ((self.ns_a, self.if_a), (self.ns_b, self.if_b)):
                r = _run([IP, "-n", ns, "-j", "addr", "show", "dev", ifc], check=False)
                try:
                    info = json.loads(r.stdout)[0]
                except (ValueError, IndexError):
                    ok = False
                    continue
                if "LOWER_UP" not in info.get("flags", []):
                    ok = False
                if any("tentative" in a for a in info.get("addr_info", [])
                       if a.get("family") == "inet6"):
                    ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise NetnsError("veth pair %s/%s not up after %.0fs" % (
                    self.if_a, self.if_b, timeout))
            time.sleep(0.05)

    def set_offloads(self, on):
        """tso/gso/gro on or off on both ends (ethtool -K)."""
        val = "on" if on else "off"
        args = []
        for o in OFFLOADS_OFF:
            args += [o, val]
        for ns, ifc in ((self.ns_a, self.if_a), (self.ns_b, self.if_b)):
            _run([IP, "netns", "exec", ns, ETHTOOL, "-K", ifc] + args)
        self.offloads = on

    def set_mtu(self, mtu):
        for ns, ifc in ((self.ns_a, self.if_a), (self.ns_b, self.if_b)):
            _run([IP, "-n", ns, "link", "set", ifc, "mtu", str(mtu)])
        self.mtu = mtu

    # -- running things -----------------------------------------------------------
    def ns(self, side):
        return {"a": self.ns_a, "b": self.ns_b}[side]

    def ifname(self, side):
        return {"a": self.if_a, "b": self.if_b}[side]

    def exec_cmd(self, side, cmd):
        return [IP, "netns", "exec", self.ns(side)] + list(cmd)

    def exec_a(self, cmd):
        return self.exec_cmd("a", cmd)

    def exec_b(self, cmd):
        return self.exec_cmd("b", cmd)

    def run(self, side, cmd, timeout=60, **kw):
        """subprocess.run of cmd in that namespace (bounded by timeout)."""
        return subprocess.run(self.exec_cmd(side, cmd), timeout=timeout, **kw)

    def popen(self, side, cmd, **kw):
        """subprocess.Popen of cmd in that namespace; killed at cleanup if still running.

        `ip netns exec` execs the command: the Popen's pid is the command's.
        """
        p = subprocess.Popen(self.exec_cmd(side, cmd), **kw)
        self.procs.append(p)
        return p

    def on_cleanup(self, path):
        """A file or folder to remove at cleanup (e.g. /var/run/dpdk/PREFIX)."""
        self.paths.append(path)

    # -- what the kernel saw ------------------------------------------------------
    def link_stats(self, side):
        """{rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped} of that end."""
        r = _run([IP, "-n", self.ns(side), "-s", "-j", "link", "show", "dev",
                  self.ifname(side)], check=False)
        try:
            st = json.loads(r.stdout)[0]["stats64"]
        except (ValueError, IndexError, KeyError):
            return {}
        return {"rx_packets": st["rx"]["packets"], "rx_bytes": st["rx"]["bytes"],
                "rx_dropped": st["rx"]["dropped"], "tx_packets": st["tx"]["packets"],
                "tx_bytes": st["tx"]["bytes"], "tx_dropped": st["tx"]["dropped"]}

    # -- cleanup ------------------------------------------------------------------
    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    p.kill()
                    p.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        # Anything else still in our namespaces was started from here (directly or not).
        for ns in self.created:
            for attempt in range(3):
                try:
                    pids = ns_pids(ns)
                except (OSError, subprocess.SubprocessError):
                    pids = []
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL if attempt else signal.SIGTERM)
                    except OSError:
                        pass
                time.sleep(0.3)
        for ns in self.created:
            try:
                subprocess.run([IP, "netns", "del", ns], capture_output=True, timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass
        for path in self.paths:
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        with _lock:
            if self in _live:
                _live.remove(self)

    def leftovers(self):
        """What cleanup left behind (namespaces, paths), as a list of strings."""
        left = []
        r = subprocess.run([IP, "netns", "list"], capture_output=True, text=True, timeout=10)
        names = {line.split()[0] for line in r.stdout.splitlines() if line.strip()}
        left += ["namespace " + ns for ns in (self.ns_a, self.ns_b) if ns in names]
        left += ["path " + p for p in self.paths if os.path.exists(p)]
        left += ["process %d" % p.pid for p in self.procs if p.poll() is None]
        return left
