# SPDX-License-Identifier: BSD-3-Clause
"""A client of DPDK's telemetry socket (v2), as dpdk-telemetry.py talks to it.

EAL opens RUNTIME_DIR/FILE_PREFIX/dpdk_telemetry.v2 (AF_UNIX, SOCK_SEQPACKET): on
connecting, the client gets one JSON message (version, max_output_len...); then each
command sent ("/reasm/stats", "/reasm/lcore,1") is answered by one JSON object
{"<command>": value}. RUNTIME_DIR is where EAL puts its files: /var/run/dpdk for root,
else $XDG_RUNTIME_DIR/dpdk (/tmp/dpdk without it), as eal_get_runtime_dir() does.

    tel = connect("my_prefix", wait=60)    # retries while reasm starts up
    stats = tel.query("/reasm/stats")       # the value (None for a JSON null)
    tel.close()
"""
import json
import os
import socket
import time


def runtime_dir():
    """Where EAL puts /PREFIX/ (config, telemetry socket): as eal_get_runtime_dir()."""
    if os.geteuid() == 0:
        return "/var/run/dpdk"
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")


def socket_path(prefix, rundir=None):
    """The telemetry socket of the DPDK process started with --file-prefix=prefix."""
    return os.path.join(rundir or runtime_dir(), prefix, "dpdk_telemetry.v2")


class Client:
    """Connected to one telemetry socket: send a command, get its JSON answer.

    timeout: seconds a connect or an answer may take (None: wait for ever); OSError
    (socket.timeout) past it.
    """

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
            info = json.loads(self.sock.recv(65536).decode())
        except (OSError, ValueError):
            self.sock.close()
            raise
        # Answers are at most max_output_len bytes; a bigger buffer costs nothing.
        self.max_len = max(int(info.get("max_output_len", 16384)), 65536)

    def raw(self, cmd):
        """The whole answer object, {"<command>": value}."""
        self.sock.send(cmd.encode())
        return json.loads(self.sock.recv(self.max_len).decode())

    def query(self, cmd):
        """The value under the command's name (None for a JSON null)."""
        reply = self.raw(cmd)
        return reply.get(cmd.split(",")[0], reply)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def worker_lcores(tel):
    """The lcores that answer /reasm/lcore (the workers), probing the EAL lcore list."""
    lcores = []
    workers = tel.query("/reasm/config")["workers"]
    for lc in range(0, 256):
        if len(lcores) == workers:
            break
        if tel.query("/reasm/lcore,%d" % lc):
            lcores.append(lc)
    return lcores


def connect(prefix, wait=0.0, timeout=10.0, rundir=None):
    """A Client of the process with that --file-prefix; while the socket is not there
    (yet), retries every 0.2 s for up to wait seconds, then raises the OSError."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return Client(socket_path(prefix, rundir), timeout)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
