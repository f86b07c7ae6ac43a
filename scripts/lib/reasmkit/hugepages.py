# SPDX-License-Identifier: BSD-3-Clause
"""Hugepages for a test that needs DPDK shared memory (secondary processes), given back.

    from reasmkit import hugepages

    try:
        res = hugepages.Reservation(pages=400)     # 2 MiB pages added to the pool
        res.open()                                 # raises hugepages.Unavailable(why)
    except hugepages.Unavailable as e:
        ... skip the case with str(e)
    try:
        ... reasm --huge-dir res.mount_dir -m 512 ...
    finally:
        problems = res.close()                     # [] when everything was restored

open(): takes LOCK_PATH (flock, waiting up to lock_wait seconds: two reservations at
once would restore each other's sizes), saves the pool's size
(/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages), asks for saved + pages, checks
the kernel gave them all (free pages >= pages), makes a temporary folder of its own and
mounts a hugetlbfs (pagesize=2M) there; on any failure it undoes what it did and raises
Unavailable. close(): unmounts (bounded retries while busy, then a lazy unmount), removes
the folder, writes the saved size back and waits (bounded) until the pool and
/proc/meminfo's HugePages_Total are back to it; returns the problems left, as texts, and
releases the lock. Also registered with atexit, so an interrupted run gives the pages
back. Needs root; standard library only.
"""
import atexit
import fcntl
import os
import subprocess
import tempfile
import time

PAGE_KB = 2048
SYSFS = "/sys/kernel/mm/hugepages/hugepages-%dkB" % PAGE_KB
LOCK_PATH = SYSFS          # flock on the pool's own sysfs folder: no file of ours left


class Unavailable(RuntimeError):
    pass


def meminfo():
    """/proc/meminfo's HugePages_* and Hugepagesize as ints ({} if unreadable)."""
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.startswith("HugePages_") or k == "Hugepagesize":
                    out[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def _read(name):
    with open(os.path.join(SYSFS, name)) as f:
        return int(f.read().split()[0])


def _write(name, value):
    with open(os.path.join(SYSFS, name), "w") as f:
        f.write("%d\n" % value)


def _umount(path, lazy=False):
    cmd = ["umount"] + (["-l"] if lazy else []) + [path]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20)


def _is_mounted(path):
    path = os.path.realpath(path)
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == path for line in f if len(line.split()) > 1)
    except OSError:
        return False


class Reservation:
    """pages 2 MiB hugepages added to the kernel's pool and a hugetlbfs mount of our own."""

    def __init__(self, pages, tag="reasm-huge-", lock_wait=120.0):
        self.pages, self.tag, self.lock_wait = pages, tag, lock_wait
        self.lock_fd = None
        self.saved = None
        self.saved_total = None
        self.mount_dir = None
        self.mounted = False
        self.closed = False

    def open(self):
        if os.geteuid() != 0:
            raise Unavailable("not root (reserving hugepages needs it)")
        if not os.path.isdir(SYSFS):
            raise Unavailable("no %d kB hugepages on this kernel (%s)" % (PAGE_KB, SYSFS))
        atexit.register(self.close)
        try:
            self.lock_fd = os.open(LOCK_PATH, os.O_RDONLY)
            deadline = time.monotonic() + self.lock_wait
            while True:
                try:
                    fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Unavailable("another run holds %s (a hugepage reservation) "
                                          "after %.0f s" % (LOCK_PATH, self.lock_wait))
                    time.sleep(0.2)
        except OSError as e:
            self.close()
            raise Unavailable("cannot lock %s: %s" % (LOCK_PATH, e))
        except BaseException:
            self.close()
            raise
        try:
            self.saved = _read("nr_hugepages")
        except (OSError, ValueError) as e:
            self.close()
            raise Unavailable("cannot read %s/nr_hugepages: %s" % (SYSFS, e))
        info = meminfo()
        if info.get("Hugepagesize") == PAGE_KB:
            self.saved_total = info.get("HugePages_Total")
        try:
            free_before = _read("free_hugepages")
            try:
                _write("nr_hugepages", self.saved + self.pages)
            except OSError as e:
                raise Unavailable("cannot write %s/nr_hugepages: %s" % (SYSFS, e))
            got = _read("nr_hugepages") - self.saved
            free = _read("free_hugepages")
            if got < self.pages or free < free_before + self.pages:
                raise Unavailable("asked the kernel for %d more 2 MiB hugepages, got %d "
                                  "(%d free; memory too fragmented or too small)" % (
                                      self.pages, got, free))
            self.mount_dir = tempfile.mkdtemp(prefix=self.tag)
            r = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev",
                                self.mount_dir], capture_output=True, text=True, timeout=20)
            if r.returncode != 0:
                raise Unavailable("cannot mount a hugetlbfs: %s" % (
                    r.stderr or r.stdout).strip())
            self.mounted = True
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        """Undo open(); returns the problems left (texts), [] when all is restored."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        if self.mount_dir is not None:
            if self.mounted:
                for attempt in range(20):
                    r = _umount(self.mount_dir)
                    if r.returncode == 0 or not _is_mounted(self.mount_dir):
                        break
                    time.sleep(0.25)
                else:
                    _umount(self.mount_dir, lazy=True)
                    problems.append("%s was busy: unmounted lazily" % self.mount_dir)
            try:
                os.rmdir(self.mount_dir)
            except OSError as e:
                problems.append("cannot remove %s: %s" % (self.mount_dir, e))
        if self.saved is not None:
            # Pages still in use stay as surplus until freed: write again until they are.
            deadline = time.monotonic() + 10
            while True:
                try:
                    _write("nr_hugepages", self.saved)
                    now = _read("nr_hugepages")
                except (OSError, ValueError) as e:
                    problems.append("cannot restore nr_hugepages=%d: %s" % (self.saved, e))
                    break
                total = meminfo().get("HugePages_Total")
                if now == self.saved and (self.saved_total is None or
                                          total == self.saved_total):
                    break
                if time.monotonic() > deadline:
                    problems.append("nr_hugepages is %d, HugePages_Total %s: not back to %d"
                                    " after 10 s (pages still in use?)" % (
                                        now, total, self.saved))
                    break
                time.sleep(0.2)
        if self.lock_fd is not None:
            os.close(self.lock_fd)       # releases the flock
            self.lock_fd = None
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001
            pass
        return problems

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
