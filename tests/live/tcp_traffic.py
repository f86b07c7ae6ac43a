#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Real Linux TCP traffic with known payloads, and the truth of what was sent.

Run inside the test bed's namespaces with the system Python (standard library only):

  tcp_traffic.py server --seed S --conns N --port P --port-base B \\
        --addr4 198.18.0.2 --addr6 2001:db8::2 --out server.jsonl [--ready FILE]
  tcp_traffic.py client --seed S --conns N --port P --port-base B \\
        --server4 198.18.0.2 --server6 2001:db8::2 --client4 198.18.0.1 \\
        --client6 2001:db8::1 --concurrency 8 --out truth.jsonl

Connection i (0 <= i < N) is planned from (seed, i) alone, so both ends know it and a
run is reproducible: the family (IPv4 or IPv6), the bytes each direction sends (0 to
300 KB, deterministic random bytes) and the ending:

  fin         both ends write everything, shut down writing (FIN), read to EOF, close;
  half_close  the client writes everything and shuts down writing; the server reads to
              EOF, then sends its bytes, then closes; the client reads to EOF;
  rst_client  both write everything and read the other's bytes; the client waits until
              the server has acknowledged all it sent (SIOCOUTQ == 0), then closes with
              SO_LINGER 0 (RST); the server waits for that reset, then closes;
  rst_server  the same with the roles swapped;
  hold        (only with --ending hold) both ends write everything and read the other's
              bytes; once all is acknowledged the connection stays open and idle for
              --hold seconds (no FIN, no packet at all), then ends as fin does.

Options that shape a run (both ends must be given the same): --ending NAME gives every
connection that ending (the sizes stay those of the plan); --max-bytes N caps each
direction's size; --chunk N --chunk-delay S make each end write N bytes at a time with S
seconds between writes (a transfer that lasts); the client's --start-gap S starts
connection i no earlier than i * S seconds after the first.

The client binds port B + i, so the server knows i from the peer's port, and every
stream direction has a 4-tuple known in advance.

Output, one JSON object a line (the client's file is the truth the test compares with):
  client: per connection and direction {"conn", "dir" ("c2s"|"s2c"), "src", "sport",
    "dst", "dport", "bytes", "sha256", "ending", "family", "ok", "error", "started_at",
    "idle_at", "done_at"}: bytes and sha256 of exactly what the application wrote; ok is
    false (with error) when the connection failed or the bytes read back differ from the
    plan; the times are the wall clock (time.time()) when the client began connecting,
    when a hold connection went idle (everything exchanged and acknowledged; null for
    other endings) and when the client was done with the connection (closed).
  server: per connection {"conn", "ok", "error", "c2s_bytes", "c2s_sha256"} (what it read).
Addresses are written as Python's ipaddress writes them (RFC 5952: "2001:db8::1"), as
reasm's jsonl does. Exit status 0 when every connection was ok, 1 otherwise, 2 on a
usage error. Every wait is bounded (--io-timeout per socket operation, --deadline in all).
"""
import argparse
import concurrent.futures
import fcntl
import hashlib
import ipaddress
import json
import os
import random
import selectors
import socket
import struct
import sys
import termios
import threading
import time

ENDINGS = ("fin", "half_close", "rst_client", "rst_server")
FORCED_ENDINGS = ENDINGS + ("hold",)
MAX_BYTES = 300 * 1024


# ---- the plan --------------------------------------------------------------------

class Plan:
    __slots__ = ("conn", "v6", "c2s", "s2c", "ending")

    def __init__(self, conn, v6, c2s, s2c, ending):
        self.conn, self.v6, self.c2s, self.s2c, self.ending = conn, v6, c2s, s2c, ending


def _size(rng):
    r = rng.random()
    if r < 0.12:
        return 0
    if r < 0.50:
        return rng.randrange(1, 4096)
    if r < 0.80:
        return rng.randrange(4096, 65536)
    if r < 0.95:
        return rng.randrange(65536, 200 * 1024)
    return rng.randrange(200 * 1024, MAX_BYTES + 1)


def plan(seed, i, p_v6=0.4, ending=None, max_bytes=MAX_BYTES):
    """Connection i of seed: family, sizes, ending (without the payload bytes).

    ending: every connection's ending instead of the drawn one; max_bytes: a cap on each
    direction's size. Neither changes what else is drawn."""
    rng = random.Random("tcp_traffic:%d:%d" % (seed, i))
    v6 = rng.random() < p_v6
    drawn = rng.choices(ENDINGS, (0.5, 0.2, 0.15, 0.15))[0]
    c2s, s2c = _size(rng), _size(rng)
    if i % 97 == 0:        # a few edge cases for sure: both empty, one maximal
        c2s, s2c = (0, 0) if i % 2 == 0 else (MAX_BYTES, MAX_BYTES)
    if ending is not None and ending not in FORCED_ENDINGS:
        raise ValueError("unknown ending %r" % ending)
    return Plan(i, v6, min(c2s, max_bytes), min(s2c, max_bytes), ending or drawn)


def payload(seed, i, direction, n):
    """The bytes direction ("c2s"/"s2c") of connection i sends."""
    return random.Random("payload:%d:%d:%s" % (seed, i, direction)).randbytes(n)


# ---- socket helpers --------------------------------------------------------------

class Deadline:
    def __init__(self, seconds):
        self.t = time.monotonic() + seconds

    def left(self):
        return self.t - time.monotonic()

    def check(self, what):
        if self.left() <= 0:
            raise TimeoutError("deadline passed (%s)" % what)


def read_exact(sock, n, deadline):
    """Read exactly n bytes (hashing them); returns (count, sha256 hex)."""
    h = hashlib.sha256()
    got = 0
    while got < n:
        deadline.check("reading %d of %d bytes" % (got, n))
        chunk = sock.recv(min(65536, n - got))
        if not chunk:
            raise ConnectionError("EOF after %d of %d bytes" % (got, n))
        h.update(chunk)
        got += len(chunk)
    return got, h.hexdigest()


def read_to_eof(sock, deadline, limit=MAX_BYTES + 1):
    """Read until EOF; returns (count, sha256 hex). More than limit bytes is an error."""
    h = hashlib.sha256()
    got = 0
    while True:
        deadline.check("reading to EOF after %d bytes" % got)
        chunk = sock.recv(65536)
        if not chunk:
            return got, h.hexdigest()
        h.update(chunk)
        got += len(chunk)
        if got > limit:
            raise ConnectionError("more than %d bytes" % limit)


def wait_reset_or_eof(sock, deadline):
    """Wait for the peer's RST (or FIN); any data then is an error."""
    while True:
        deadline.check("waiting for the peer's reset")
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return "rst"
        if not chunk:
            return "eof"
        raise ConnectionError("%d unexpected bytes while waiting for the reset" % len(chunk))


def wait_acked(sock, deadline):
    """Until everything written is acknowledged by the peer (SIOCOUTQ == 0)."""
    buf = bytearray(4)
    while True:
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)
        left = struct.unpack("i", buf)[0]
        if left == 0:
            return
        deadline.check("%d bytes still unacknowledged" % left)
        time.sleep(0.002)


def reset_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# Pacing of the writes (--chunk, --chunk-delay): 0 = one sendall.
PACE = {"chunk": 0, "delay": 0.0}


class Writer(threading.Thread):
    """Writes data in the background (both ends write at once without deadlock)."""

    def __init__(self, sock, data, shut_after=False):
        super().__init__(daemon=True)
        self.sock, self.data, self.shut_after = sock, data, shut_after
        self.error = None

    def run(self):
        try:
            chunk = PACE["chunk"]
            if self.data and chunk > 0:
                mv = memoryview(self.data)
                for off in range(0, len(self.data), chunk):
                    if off:
                        time.sleep(PACE["delay"])
                    self.sock.sendall(mv[off:off + chunk])
            elif self.data:
                self.sock.sendall(self.data)
            if self.shut_after:
                self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.error = e

    def finish(self, deadline):
        self.join(max(0.1, deadline.left()))
        if self.is_alive():
            raise TimeoutError("writer still blocked")
        if self.error is not None:
            raise self.error


def sha(data):
    return hashlib.sha256(data).hexdigest()


# ---- one connection, either end --------------------------------------------------

def converse(sock, role, p, mine, theirs_len, io_deadline, hold=0.0, marks=None):
    """Run connection p's conversation on sock as role ("client"/"server").

    mine: the bytes this end writes; theirs_len: how many the other end writes.
    hold: the idle time of the "hold" ending; marks (a dict) gets "idle_at" there.
    Returns (count, sha256) of what was read.
    """
    ending = p.ending
    if ending == "hold":
        w = Writer(sock, mine)
        w.start()
        got = read_exact(sock, theirs_len, io_deadline)
        w.finish(io_deadline)
        wait_acked(sock, io_deadline)
        if role == "client":
            if marks is not None:
                marks["idle_at"] = time.time()
            time.sleep(hold)                         # open and idle: no packet at all
            sock.shutdown(socket.SHUT_WR)
            if read_to_eof(sock, io_deadline)[0] != 0:
                raise ConnectionError("bytes after the hold")
        else:
            if read_to_eof(sock, io_deadline)[0] != 0:   # the client's FIN, after the hold
                raise ConnectionError("bytes after the hold")
            sock.shutdown(socket.SHUT_WR)
        sock.close()
        return got
    if ending == "fin":
        w = Writer(sock, mine, shut_after=True)
        w.start()
        got = read_to_eof(sock, io_deadline)
        w.finish(io_deadline)
        sock.close()
        return got
    if ending == "half_close":
        if role == "client":
            w = Writer(sock, mine, shut_after=True)     # write all, then FIN
            w.run()
            if w.error is not None:
                raise w.error
            got = read_to_eof(sock, io_deadline)
        else:
            got = read_to_eof(sock, io_deadline)         # the client's FIN first
            w = Writer(sock, mine)
            w.run()
            if w.error is not None:
                raise w.error
        sock.close()
        return got
    # rst_client / rst_server
    resetter = ending == "rst_" + role
    w = Writer(sock, mine)
    w.start()
    got = read_exact(sock, theirs_len, io_deadline)
    w.finish(io_deadline)
    if resetter:
        wait_acked(sock, io_deadline)
        if role == "server" and p.c2s == 0:
            # The client's connect() may not have returned yet: a reset now would make
            # it fail on an established connection. Give it time (it reads nothing).
            time.sleep(0.2)
        reset_close(sock)
    else:
        wait_reset_or_eof(sock, io_deadline)
        sock.close()
    return got


# ---- server ----------------------------------------------------------------------

def server_main(a):
    listeners = []
    for addr, fam in ((a.addr4, socket.AF_INET), (a.addr6, socket.AF_INET6)):
        if not addr:
            continue
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, a.port))
        s.listen(512)
        s.setblocking(False)
        listeners.append(s)
    sel = selectors.DefaultSelector()
    for s in listeners:
        sel.register(s, selectors.EVENT_READ)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    results = {}
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(a.max_threads)
    threads = []
    deadline = Deadline(a.deadline)

    def handle(sock, i):
        try:
            sock.settimeout(a.io_timeout)
            p = plan(a.seed, i, a.p_v6, a.ending, a.max_bytes)
            io_deadline = Deadline(min(a.io_timeout * 4 + a.hold, max(1.0, deadline.left())))
            got = converse(sock, "server", p, payload(a.seed, i, "s2c", p.s2c), p.c2s,
                           io_deadline, a.hold)
            want = (p.c2s, sha(payload(a.seed, i, "c2s", p.c2s)))
            err = None if got == want else "read %d bytes %s, planned %d %s" % (
                got[0], got[1][:12], want[0], want[1][:12])
            res = dict(conn=i, ok=err is None, error=err, c2s_bytes=got[0],
                       c2s_sha256=got[1])
        except Exception as e:  # noqa: BLE001 - every failure is reported
            res = dict(conn=i, ok=False, error="%s: %s" % (type(e).__name__, e))
            try:
                sock.close()
            except OSError:
                pass
        finally:
            slots.release()
        with lock:
            results[i] = res

    accepted = set()
    while len(accepted) < a.conns and deadline.left() > 0:
        for key, _ in sel.select(timeout=0.2):
            try:
                sock, peer = key.fileobj.accept()
            except BlockingIOError:
                continue
            sock.setblocking(True)
            i = peer[1] - a.port_base
            if not 0 <= i < a.conns or i in accepted:
                sock.close()     # not ours (or a duplicate): ignore
                continue
            if not slots.acquire(timeout=max(0.1, deadline.left())):
                sock.close()
                continue
            accepted.add(i)
            t = threading.Thread(target=handle, args=(sock, i), daemon=True)
            t.start()
            threads.append(t)
    for s in listeners:
        s.close()
    for t in threads:
        t.join(max(0.1, deadline.left()))
    with lock:
        for i in range(a.conns):
            results.setdefault(i, dict(conn=i, ok=False,
                                       error="no connection accepted before the deadline"))
        out = [results[i] for i in range(a.conns)]
    write_lines(a.out, out)
    bad = [r for r in out if not r["ok"]]
    print("server: %d connections, %d failed" % (len(out), len(bad)), flush=True)
    for r in bad[:10]:
        print("server: conn %d: %s" % (r["conn"], r["error"]), flush=True)
    return 1 if bad else 0


# ---- client ----------------------------------------------------------------------

def text(addr):
    return str(ipaddress.ip_address(addr))


def client_one(a, i, deadline, t0):
    if a.start_gap > 0:
        time.sleep(max(0.0, t0 + i * a.start_gap - time.monotonic()))
    started_at = time.time()
    marks = {}
    p = plan(a.seed, i, a.p_v6, a.ending, a.max_bytes)
    fam = socket.AF_INET6 if p.v6 else socket.AF_INET
    caddr = a.client6 if p.v6 else a.client4
    saddr = a.server6 if p.v6 else a.server4
    cport = a.port_base + i
    mine = payload(a.seed, i, "c2s", p.c2s)
    want = (p.s2c, sha(payload(a.seed, i, "s2c", p.s2c)))
    err = None
    # One attempt: a retried connect would reuse the 4-tuple (a second stream for reasm).
    sock = socket.socket(fam, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(a.io_timeout)
        sock.bind((caddr, cport))
        sock.connect((saddr, a.port))
    except ConnectionResetError as e:
        # Established, then reset by the server before connect() returned: possible only
        # when the server resets without waiting for client bytes. The bytes it wrote were
        # acknowledged (so crossed the veth) but cannot be read back here.
        sock.close()
        sock = None
        if not (p.ending == "rst_server" and p.c2s == 0):
            err = "connect: %s" % e
    except OSError as e:
        sock.close()
        sock = None
        err = "connect: %s" % e
    got = None
    if sock is not None:
        try:
            io_deadline = Deadline(min(a.io_timeout * 4 + a.hold, max(1.0, deadline.left())))
            got = converse(sock, "client", p, mine, p.s2c, io_deadline, a.hold, marks)
            if got != want:
                err = "read %d bytes %s, planned %d %s" % (got[0], got[1][:12], want[0],
                                                           want[1][:12])
        except Exception as e:  # noqa: BLE001
            err = "%s: %s" % (type(e).__name__, e)
            try:
                sock.close()
            except OSError:
                pass
    c, s = text(caddr), text(saddr)
    common = dict(conn=i, ending=p.ending, family=6 if p.v6 else 4, ok=err is None,
                  error=err, started_at=started_at, idle_at=marks.get("idle_at"),
                  done_at=time.time())
    return [dict(common, dir="c2s", src=c, sport=cport, dst=s, dport=a.port,
                 bytes=p.c2s, sha256=sha(mine)),
            dict(common, dir="s2c", src=s, sport=a.port, dst=c, dport=cport,
                 bytes=p.s2c, sha256=want[1])]


def client_main(a):
    deadline = Deadline(a.deadline)
    t0 = time.monotonic()
    rows = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.concurrency) as ex:
        futs = {ex.submit(client_one, a, i, deadline, t0): i for i in range(a.conns)}
        for f in concurrent.futures.as_completed(futs, timeout=max(1.0, a.deadline + 30)):
            rows[futs[f]] = f.result()
    out = [r for i in range(a.conns) for r in rows[i]]
    write_lines(a.out, out)
    bad = [r for r in out if not r["ok"] and r["dir"] == "c2s"]
    total = sum(r["bytes"] for r in out)
    print("client: %d connections, %d bytes, %d failed, %.2fs" % (
        a.conns, total, len(bad), time.monotonic() - t0), flush=True)
    for r in bad[:10]:
        print("client: conn %d: %s" % (r["conn"], r["error"]), flush=True)
    return 1 if bad else 0


def write_lines(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="role", required=True)
    for role in ("server", "client"):
        p = sub.add_parser(role)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--conns", type=int, default=200)
        p.add_argument("--port", type=int, default=5001, help="the server's port")
        p.add_argument("--port-base", type=int, default=20000,
                       help="connection i's client port is PORT_BASE + i")
        p.add_argument("--p-v6", type=float, default=0.4, help="share of IPv6 connections")
        p.add_argument("--io-timeout", type=float, default=20.0)
        p.add_argument("--deadline", type=float, default=120.0, help="seconds in all")
        p.add_argument("--out", required=True, help="JSON lines written at the end")
        p.add_argument("--ending", choices=FORCED_ENDINGS,
                       help="every connection ends this way (hold: idle --hold seconds)")
        p.add_argument("--hold", type=float, default=3.0,
                       help="seconds a hold connection stays idle")
        p.add_argument("--max-bytes", type=int, default=MAX_BYTES,
                       help="cap on each direction's bytes")
        p.add_argument("--chunk", type=int, default=0,
                       help="write N bytes at a time (0: all at once)")
        p.add_argument("--chunk-delay", type=float, default=0.0,
                       help="seconds between two writes of --chunk bytes")
    s = sub.choices["server"]
    s.add_argument("--addr4", default="198.18.0.2")
    s.add_argument("--addr6", default="2001:db8::2")
    s.add_argument("--ready", help="file written once listening")
    s.add_argument("--max-threads", type=int, default=64)
    c = sub.choices["client"]
    c.add_argument("--server4", default="198.18.0.2")
    c.add_argument("--server6", default="2001:db8::2")
    c.add_argument("--client4", default="198.18.0.1")
    c.add_argument("--client6", default="2001:db8::1")
    c.add_argument("--concurrency", type=int, default=8)
    c.add_argument("--start-gap", type=float, default=0.0,
                   help="connection i starts no earlier than i * S seconds in")
    a = ap.parse_args(argv)
    PACE["chunk"], PACE["delay"] = max(0, a.chunk), max(0.0, a.chunk_delay)
    if a.port_base + a.conns > 65535 or a.conns < 1:
        print("bad --port-base/--conns", file=sys.stderr)
        return 2
    return server_main(a) if a.role == "server" else client_main(a)


if __name__ == "__main__":
    sys.exit(main())
