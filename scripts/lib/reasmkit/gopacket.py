# SPDX-License-Identifier: BSD-3-Clause
"""gopacket tcpassembly as the reference: tools/gopacket-ref, built and run over captures.

build_reference() builds tools/gopacket-ref with Debian's Go packages (golang-go
golang-github-google-gopacket-dev golang-golang-x-net-dev golang-golang-x-sys-dev).
run_sections() runs a program that prints, per capture given, a section "# FILE",
its lines, "# end" (gopacket-ref, tests/tools/pcap_replay), and survives its crashes.

gopacket-ref's options go before the files: run_sections([exe, "-defrag"], files, t)
puts gopacket's own IPv4 defragmenter (github.com/google/gopacket/ip4defrag, in the same
Debian package) in front of tcpassembly; without options its output is what it always was.
"""
import os
import subprocess
import time


def build_reference_if_installed(source_dir, build_dir, name):
    """build_reference() where Debian's gopacket is installed; else (None, why)."""
    if not os.path.isdir("/usr/share/gocode/src/github.com/google/gopacket/tcpassembly"):
        return None, "gopacket is not installed (golang-github-google-gopacket-dev)"
    return build_reference(source_dir, build_dir, name)


def build_reference(source_dir, build_dir, name="gopacket-ref"):
    """Build tools/gopacket-ref as build_dir/name with Debian's Go packages; returns
    (path, None) or (None, error text). Tests building at the same time share
    build_dir/go-cache (Go's cache is safe for that) but must use different names."""
    exe = os.path.join(build_dir, name)
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
               GOCACHE=os.path.join(build_dir, "go-cache"), CGO_ENABLED="0")
    env.setdefault("HOME", build_dir)
    cmd = ["go", "build", "-o", exe,
           os.path.join(source_dir, "tools", "gopacket-ref", "main.go")]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        return None, ("`go` not found: install golang-go golang-github-google-gopacket-dev "
                      "golang-golang-x-net-dev golang-golang-x-sys-dev (scripts/test does)")
    except subprocess.TimeoutExpired:
        return None, "go build timed out"
    if r.returncode != 0:
        return None, "go build failed:\n" + r.stdout + r.stderr
    return exe, None


def run_sections(cmd, files, timeout):
    """Run cmd FILE... and split its output into {file: [lines]}.

    A file gets a result only when its section is complete ("# end"). If the
    program dies, the file it was working on is reported as crashed and the
    program is started again on the files after it. Returns (results, crashed):
    crashed maps a file to why it has no result.
    """
    results, crashed = {}, {}
    todo = list(files)
    deadline = time.monotonic() + timeout
    while todo:
        left = deadline - time.monotonic()
        if left <= 0:
            for f in todo:
                crashed[f] = "not run: time limit of %ds reached" % timeout
            break
        try:
            r = subprocess.run(cmd + todo, capture_output=True, text=True, timeout=left)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err, rc = "timed out", None
        current, lines = None, []
        for line in out.splitlines():
            if line.startswith("# ") and line != "# end":
                current, lines = line[2:], []
            elif line == "# end" and current is not None:
                results[current] = lines
                current = None
            elif current is not None:
                lines.append(line)
        done = [f for f in todo if f in results]
        todo = [f for f in todo if f not in results]
        if not todo:
            if rc != 0:
                for f in done:
                    crashed.setdefault(f, "exit status %s after its output:\n%s" % (rc, err[-3000:]))
            break
        # The first file without a complete section is the one it died on.
        crashed[todo[0]] = "%s stopped (exit status %s) on this file:\n%s" % (
            os.path.basename(cmd[0]), rc, err[-3000:])
        todo = todo[1:]
        if rc is None:
            for f in todo:
                crashed[f] = "not run: time limit of %ds reached" % timeout
            break
    return results, crashed
