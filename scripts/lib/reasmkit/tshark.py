# SPDX-License-Identifier: BSD-3-Clause
"""tshark as a second reference: what `tshark -z follow,tcp,raw,N` shows per stream.

follow() gives, per stream direction, its bytes' count and SHA-256 as Wireshark
reassembles them; payload_dissectors() the protocols tshark decodes right above TCP
(Wireshark's follow output can depend on them: --disable-protocol P).
"""
import hashlib
import re
import shutil
import subprocess


def available():
    return shutil.which("tshark") is not None


def _tshark(args, timeout):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True, timeout=timeout,
                       errors="replace")
    return r.returncode, r.stdout, r.stderr


FOLLOW_SEP = "=" * 67 + "\n"


def follow(path, extra=(), timeout=60):
    """Per stream direction what `tshark -z follow,tcp,raw,N` shows, for every stream N.

    Returns (dirs, error): dirs is a list of dicts src, sport, dst, dport, bytes,
    sha256, stream (both directions of each stream, empty ones included).
    """
    extra = list(extra)
    rc, out, err = _tshark(extra + ["-r", path, "-T", "fields", "-e", "tcp.stream"], timeout)
    if rc != 0:
        return None, "tshark -T fields failed (%d): %s" % (rc, err[-2000:])
    ids = sorted({int(x) for x in out.split() if x.strip().isdigit()})
    if not ids:
        return [], None
    cmd = extra + ["-r", path, "-q"]
    for i in ids:
        cmd += ["-z", "follow,tcp,raw,%d" % i]
    rc, out, err = _tshark(cmd, timeout)
    if rc != 0:
        return None, "tshark follow failed (%d): %s" % (rc, err[-2000:])
    dirs = []
    for sec in out.split(FOLLOW_SEP + "Follow: tcp,raw\n")[1:]:
        lines = sec.splitlines()
        m = re.match(r"Filter: tcp.stream eq (\d+)$", lines[0])
        if not m or not lines[1].startswith("Node 0: ") or not lines[2].startswith("Node 1: "):
            return None, "unexpected tshark follow output:\n" + sec[:1000]

        def endpoint(line):
            addr, port = line.split(": ", 1)[1].rsplit(":", 1)
            return addr.strip("[]"), int(port)

        (a0, p0), (a1, p1) = endpoint(lines[1]), endpoint(lines[2])
        d0, d1 = bytearray(), bytearray()
        for line in lines[3:]:
            if line.startswith("====="):
                break
            if line.startswith("\t"):
                d1 += bytes.fromhex(line[1:])
            elif line:
                d0 += bytes.fromhex(line)
        sid = int(m.group(1))
        for (sa, sp, da, dp, data) in ((a0, p0, a1, p1, d0), (a1, p1, a0, p0, d1)):
            dirs.append({"src": sa, "sport": sp, "dst": da, "dport": dp, "bytes": len(data),
                         "sha256": hashlib.sha256(bytes(data)).hexdigest(), "stream": sid})
    if len({d["stream"] for d in dirs}) != len(ids):
        return None, "tshark follow answered %d of %d streams" % (
            len({d["stream"] for d in dirs}), len(ids))
    return dirs, None


def payload_dissectors(path, timeout=60):
    """Protocols tshark puts right above TCP in this capture (the payload dissectors)."""
    rc, out, err = _tshark(["-r", path, "-Y", "tcp.len > 0", "-T", "fields", "-e",
                            "frame.protocols"], timeout)
    found = set()
    for line in out.splitlines():
        parts = line.strip().split(":")
        if "tcp" in parts:
            i = parts.index("tcp")
            if i + 1 < len(parts):
                found.add(parts[i + 1])
    return sorted(found)
