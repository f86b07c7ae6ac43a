#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The kafka sink against librdkafka's mock cluster (tests/tools/kafka_mock), read back
with kcat; each part gets a fresh cluster of 3 brokers, topic reasm with 6 partitions.

A. a gencap capture (loss, holes, midstream starts) replayed once, 2 workers, `--sha256
   --sink jsonl:J --sink kafka:BOOT,content=yes --sensor-id e2e-kafka`, the topic read
   with kcat (every message framed by its lengths, headers included):
     exit_ok             exit 0 and the summary's kafka line: acked == stream directions,
                         nothing failed or dropped, content bytes == the jsonl's bytes;
     every_record        one type=record message per jsonl line, each the jsonl object
                         plus "stream", "chunks", "content_lost" (as a multiset); every
                         partition read whole (offsets 0..n-1: the mock evicted nothing);
     matches_generator   the records give gencap's expected rows (MODEL_KEYS): independent
                         truth;
     keys_partitions     every message's key is the specification's Community ID
                         (reasmkit's own implementation) of its direction's 4-tuple, and
                         the record's community_id; a key lives in one partition; headers
                         type, stream and sensor=e2e-kafka on every message, offset and skip
                         on chunks only, each once;
     order               within its partition, each stream's chunks come with offsets that
                         follow on (offset == the bytes of the chunks before), its record
                         after the last of them, once;
     contents_rebuild    each direction rebuilt from its chunks (bytes placed at their
                         offsets): its SHA-256 is the record's sha256 and gencap's for that
                         direction, chunks == the chunk messages, content_lost 0;
     skip_headers        a direction's first chunk says skip -1 iff the record counts an
                         unseen start (skip_unknown), and the positive skips add up to the
                         record's skipped_bytes;
B. brokers taken down mid-run: a churning capture replayed for ever (streams complete all
   the time, records only; rdkafka.reconnect.backoff.max.ms=250 so that reasm is back
   with the brokers, its backlog well below what the mock keeps of a partition), kcat
   reading along; once records are acked the two brokers leading most partitions are set
   down (connections closed, leaders do not move) for 2 s, then up; SIGINT once acks have
   caught up:
     keeps_running       reasm's packet counter grows while they are down;
     retried_counted     at exit acked + failed + dropped == completed stream directions
                         (the summary), the telemetry's per-worker kafka counters add up to
                         /reasm/stats' (read between two of its answers); kafka_retries and
                         kafka_failed are reported;
     nothing_silent      kcat reads exactly kafka_acked records, no stream id twice, every
                         partition whole; with nothing lost, every direction the workers
                         opened is there (stream ids W.0 .. W.n of each worker W);
     exit_status         exit 1 with a "reasm: kafka sink:" message when a record was not
                         delivered, 0 otherwise;
C. an unreachable broker (a free loopback port nobody listens on), the churning capture:
     keeps_running       packets keep being received, records keep completing;
     loss_counted        SIGINT: exit 1, acked 0, failed + dropped == completed directions,
                         a "reasm: kafka sink:" message saying what was not delivered;
D. bad options (exit 2, a "reasm:" message naming kafka): no broker, a broker without a
   port, an unknown option, queue too small, content=maybe, an unknown rdkafka.property,
   a bad rdkafka.property value (librdkafka's own message);
E. brokers down across a one-shot replay: the capture of A (content=yes, topic=e2e.kafka)
   replayed while two of the three brokers are down, up again 2 s later (reasm waits for
   its messages at exit):
     delivered_late      exit 0, every record and chunk acked, none failed or dropped;
     order_kept          A's order and contents_rebuild checks on what kcat reads
                         (idempotent producer: retries neither reorder nor duplicate).
F. a queue too small for the content: A's capture, content=yes, queue=65536 (the minimum;
   on 2 cores half of the records and chunks or more do not fit):
     loss_counted        acked + failed + dropped == stream directions, content bytes acked
                         + content bytes dropped == the bytes delivered, exit 1 with a
                         "reasm: kafka sink: not delivered" message when anything was lost
                         (0 otherwise);
     partial_contents    kcat reads kafka_acked records and kafka_chunks_acked chunks; each
                         record's chunks hold its bytes less content_lost, chunks == its
                         chunk messages, each chunk the generator's bytes at its offset.
Every case is reported skipped when kcat (Debian package kcat) or the mock cluster tool is
missing. Only loopback is used.

Usage: app_kafka.py PATH/TO/reasm --mock PATH/TO/kafka_mock [--work-dir DIR] [--only PARTS]
"""
import argparse
import collections
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import appliance, community_id, frames, gencap, gtest, pcap  # noqa: E402

SUITE = "AppKafka"
CASES = ("A.exit_ok", "A.every_record", "A.matches_generator", "A.keys_partitions",
         "A.order", "A.contents_rebuild", "A.skip_headers",
         "B.keeps_running", "B.retried_counted", "B.nothing_silent", "B.exit_status",
         "C.keeps_running", "C.loss_counted",
         "D.no_broker", "D.broker_without_port", "D.unknown_option", "D.queue_too_small",
         "D.content_maybe", "D.unknown_rdkafka_property", "D.bad_rdkafka_value",
         "E.delivered_late", "E.order_kept", "F.loss_counted", "F.partial_contents")
MODEL_KEYS = ["src", "sport", "dst", "dport", "bytes", "records", "skips", "skip_unknown",
              "skipped_bytes", "start", "end", "sha256"]
EXTRA = ("stream", "chunks", "content_lost")  # the record's members beyond the jsonl's
HEADERS = {"record": sorted(["type", "stream", "sensor"]),  # of each message type, once each
           "chunk": sorted(["type", "stream", "sensor", "offset", "skip"])}
APP = ["--quiet", "--timeout", "0", "--max-conns", "4096", "--pages", "2048",
       "--mbufs", "8191"]
TOPIC, PARTITIONS = "reasm", 6
E_TOPIC = "e2e.kafka"  # E names its topic (topic=)
KAFKA_KEYS = ("kafka_acked", "kafka_failed", "kafka_dropped", "kafka_chunks_acked",
              "kafka_chunks_failed", "kafka_chunks_dropped", "kafka_content_bytes",
              "kafka_content_dropped_bytes", "kafka_retries", "kafka_request_errors")
# kcat's output format: a line "M partition offset keylen valuelen headers", then the key
# and the value, raw, then a newline: binary values are framed by their lengths.
KCAT_FORMAT = "M %p %o %K %S %h\\n%k%s\\n"
# kcat -C: an offset the mock no longer holds is an error, not a silent jump to the end
# (kcat's default); a broker back up is reconnected to at once, not after librdkafka's
# backoff (up to 10 s).
KCAT_CONSUMER = ["-C", "-X", "auto.offset.reset=error", "-X", "reconnect.backoff.max.ms=200",
                 "-q", "-f", KCAT_FORMAT]
# B and C: UDP frames (counted, dropped) after the churning connections slow each loop of
# the replay down (~60 a second on 2 cores), so that records (~1,500 a second) pile up
# far below what the mock keeps of a partition (its oldest messages go past 5 MiB) while
# brokers are down.
FILLER_FRAMES = 40000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mock:
    """tests/tools/kafka_mock: a cluster of brokers on loopback, driven over its stdin."""

    def __init__(self, exe, work, tag, topic=TOPIC):
        self.topic = topic
        self.log = open(os.path.join(work, "mock-%s.log" % tag), "w")
        self.proc = subprocess.Popen([exe, "--brokers", "3", "--topic", topic,
                                      "--partitions", str(PARTITIONS), "--replication", "3"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        line = self._line(10)
        if not line.startswith("BOOTSTRAP "):
            self.stop()
            raise RuntimeError("kafka_mock said %r, not BOOTSTRAP host:port,..." % line)
        self.bootstrap = line.split()[1]

    def _line(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError("kafka_mock did not answer in %d s" % timeout)
        return self.proc.stdout.readline().strip()

    def cmd(self, line):
        """Send one command; raise unless the answer is OK."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self._line(10)
        if answer != "OK":
            raise RuntimeError("kafka_mock: %r: %r" % (line, answer))

    def leaders(self):
        """{partition: leader broker id} of the topic, as kcat -L sees the metadata."""
        r = subprocess.run(["kcat", "-L", "-b", self.bootstrap, "-t", self.topic],
                           capture_output=True, text=True, timeout=30)
        return {int(p): int(b) for p, b in re.findall(r"partition (\d+), leader (-?\d+)",
                                                      r.stdout)}

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Msg(collections.namedtuple("Msg", "partition offset key value headers")):
    """One message as kcat read it: key (str, None if NULL), value (bytes), headers
    (a list of (name, value) in order)."""

    def header(self, name):
        for n, v in self.headers:
            if n == name:
                return v
        return None


def parse_kcat(data, cut_ok=False):
    """The messages of kcat's KCAT_FORMAT output (bytes); ValueError where it does not fit.
    cut_ok: the output of a kcat killed while writing, whose last message may be cut
    (left out)."""
    msgs, pos = [], 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0 and cut_ok:
            break
        fields = data[pos:nl].decode(errors="replace").split(" ", 5) if nl >= 0 else []
        if len(fields) < 5 or fields[0] != "M":
            raise ValueError("kcat output at byte %d: %r" % (pos, data[pos:pos + 100]))
        part, off, klen, vlen = (int(x) for x in fields[1:5])
        headers = [tuple(h.split("=", 1)) if "=" in h else (h, None)
                   for h in (fields[5].split(",") if len(fields) > 5 and fields[5] else [])]
        end = nl + 1 + max(klen, 0) + max(vlen, 0)
        if end >= len(data) and cut_ok:
            break
        key = data[nl + 1:nl + 1 + klen].decode(errors="replace") if klen >= 0 else None
        value = data[end - max(vlen, 0):end]
        if data[end:end + 1] != b"\n":
            raise ValueError("kcat output: message %d:%d does not end where its lengths say"
                             % (part, off))
        pos = end + 1
        msgs.append(Msg(part, off, key, value, headers))
    return msgs


def consume(bootstrap, partition=None, offset="beginning", topic=TOPIC, timeout=90):
    """(the messages of the topic (or of one partition) from offset to its end, by
    partition and offset; None and why when kcat failed)."""
    where = [] if partition is None else ["-p", str(partition)]
    try:
        r = subprocess.run(["kcat", "-b", bootstrap, "-t", topic] + where + KCAT_CONSUMER + [
            "-o", str(offset), "-e"], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "kcat -C did not reach the end of the topic in %d s" % timeout
    if r.returncode != 0:
        return None, "kcat -C: exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace"))
    try:
        msgs = parse_kcat(r.stdout)
    except ValueError as e:
        return None, str(e)
    return sorted(msgs, key=lambda m: (m.partition, m.offset)), None


class LiveConsumer:
    """kcat -C following the topic from its beginning while reasm runs (B), into a file,
    and at the end what it has not read yet, partition by partition.

    The mock keeps only the last 5 MiB of a partition: a run long enough (or a machine
    fast enough) outgrows that, and a consumer at the end only would find the oldest
    messages gone. The second read, from where the first stopped, gets what it had not
    read yet when reasm exited.
    """

    def __init__(self, bootstrap, path):
        self.bootstrap, self.path = bootstrap, path
        self.out = open(path, "wb")
        self.err = open(path + ".stderr", "wb")
        self.proc = subprocess.Popen(["kcat", "-b", bootstrap, "-t", TOPIC] + KCAT_CONSUMER +
                                     ["-o", "beginning", "-u"], stdout=self.out,
                                     stderr=self.err)

    def finish(self, want_records, partitions, timeout=10):
        """(every message by partition and offset, or None; why not, or how many the live
        reader had read)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.path, "rb") as f:
                if f.read().count(b" type=record,") >= want_records:
                    break
            time.sleep(0.2)
        alive = self.proc.poll() is None
        self.kill()
        if not alive:
            with open(self.path + ".stderr", "rb") as f:
                return None, "kcat -C exited %s: %s" % (self.proc.returncode,
                                                         f.read().decode(errors="replace"))
        with open(self.path, "rb") as f:
            data = f.read()
        try:
            msgs = parse_kcat(data, cut_ok=True)
        except ValueError as e:
            return None, str(e)
        live = len(msgs)
        for p in range(partitions):
            mine = [m.offset for m in msgs if m.partition == p]
            more, why = consume(self.bootstrap, p, max(mine) + 1 if mine else "beginning")
            if more is None:
                return None, "partition %d: %s" % (p, why)
            msgs += more
        return sorted(msgs, key=lambda m: (m.partition, m.offset)), "%d read along" % live

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


def partitions_whole(msgs):
    """None when each partition's offsets are 0..n-1 (nothing evicted by the mock, nothing
    missed by kcat), else which are not."""
    offs = collections.defaultdict(list)
    for m in msgs:
        offs[m.partition].append(m.offset)
    bad = ["partition %d: %d messages, offsets %d..%d" % (p, len(o), o[0], o[-1])
           for p, o in sorted(offs.items()) if o != list(range(len(o)))]
    return "; ".join(bad) or None


def serial_gaps(ids):
    """None when the stream ids W.N of each worker W are N = 0..max, else which are not."""
    serials = collections.defaultdict(set)
    for sid in ids:
        w, _, n = (sid or "").partition(".")
        serials[w].add(int(n) if n.isdigit() else -1)
    bad = []
    for w, ns in sorted(serials.items()):
        missing = sorted(set(range(max(ns) + 1)) - ns)
        if missing or -1 in ns:
            bad.append("worker %s: %d of 0..%d missing (%s)%s" % (
                w, len(missing), max(ns), missing[:5], ", ids not W.N" if -1 in ns else ""))
    return "; ".join(bad) or None


def records_of(msgs):
    """[(message, JSON object)] of the type=record messages, and [why] for those that do
    not parse."""
    out, bad = [], []
    for m in msgs:
        if m.header("type") == "record":
            try:
                out.append((m, json.loads(m.value)))
            except ValueError as e:
                bad.append("%d:%d: %s: %r" % (m.partition, m.offset, e, m.value[:200]))
    return out, bad


def summary_line(stdout):
    """The summary's "reasm: kafka sink: k=v ..." line as a dict, or None."""
    for line in stdout.splitlines():
        if line.startswith("reasm: kafka sink:"):
            return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[3:])}
    return None


def lost(line):
    return sum(line.get(k, 0) for k in ("kafka_failed", "kafka_dropped", "kafka_chunks_failed",
                                         "kafka_chunks_dropped"))


def stream_problems(msgs):
    """(the directions rebuilt: {stream id: (record object, bytes)}, [order problems]).

    Walks each partition in offset order: a stream's chunks must follow on (offset ==
    the bytes of its chunks before, or beyond when content_lost says bytes were not
    queued), its record come after them, once; a stream stays in one partition.
    """
    state = {}  # stream id -> dict(partition, data, chunks, record)
    bad = []
    for m in msgs:
        sid = m.header("stream")
        if sid is None:
            bad.append("%d:%d: no stream header" % (m.partition, m.offset))
            continue
        s = state.setdefault(sid, dict(partition=m.partition, data=bytearray(), chunks=[],
                                       record=None))
        where = "stream %s, %d:%d" % (sid, m.partition, m.offset)
        if s["partition"] != m.partition:
            bad.append("%s: in partitions %d and %d" % (where, s["partition"], m.partition))
        if s["record"] is not None:
            bad.append("%s: a %s after the record" % (where, m.header("type")))
        if m.header("type") == "chunk":
            off = int(m.header("offset") or -1)
            if off < len(s["data"]):
                bad.append("%s: chunk at offset %d, %d bytes came before" % (
                    where, off, len(s["data"])))
            else:
                s["data"] += bytes(off - len(s["data"])) + m.value  # a gap stays zeros
            s["chunks"].append(m)
        elif m.header("type") == "record":
            try:
                s["record"] = json.loads(m.value)
            except ValueError:
                s["record"] = {}
        else:
            bad.append("%s: type %r" % (where, m.header("type")))
    for sid, s in state.items():
        if s["record"] is None:
            bad.append("stream %s: %d chunks, no record" % (sid, len(s["chunks"])))
        elif s["record"].get("content_lost", 0) == 0 and any(
                int(c.header("offset")) != sum(len(x.value) for x in s["chunks"][:i])
                for i, c in enumerate(s["chunks"])):
            bad.append("stream %s: chunk offsets %s leave gaps, content_lost 0" % (
                sid, [int(c.header("offset")) for c in s["chunks"]]))
    rebuilt = {sid: (s["record"], bytes(s["data"])) for sid, s in state.items()
               if s["record"] is not None}
    return rebuilt, bad, state


def contents_problems(rebuilt, res):
    """Failure text for the directions rebuilt from their chunks, or None."""
    bad = []
    for sid, (rec, data) in sorted(rebuilt.items()):
        sha = hashlib.sha256(data).hexdigest()
        if rec.get("content_lost") != 0 or len(data) != rec.get("bytes") or sha != rec.get(
                "sha256"):
            bad.append("stream %s %s:%s > %s:%s: rebuilt %d bytes sha256 %s; the record says "
                       "bytes %s sha256 %s content_lost %s" % (
                           sid, rec.get("src"), rec.get("sport"), rec.get("dst"),
                           rec.get("dport"), len(data), sha[:16], rec.get("bytes"),
                           str(rec.get("sha256"))[:16], rec.get("content_lost")))
    keys = ("src", "sport", "dst", "dport", "sha256")
    want = appliance.multiset([st.row() for st in res.model.streams], keys)
    got = appliance.multiset([dict(rec, sha256=hashlib.sha256(data).hexdigest())
                              for rec, data in rebuilt.values()], keys)
    diff = appliance.multiset_diff(want, got, keys, "gencap", "the chunks")
    if diff:
        bad.append(diff)
    return "\n".join(bad[:20]) or None


def chunk_count_problems(state):
    bad = ["stream %s: %d chunk messages, the record says chunks %s" % (
        sid, len(s["chunks"]), s["record"].get("chunks"))
        for sid, s in sorted(state.items())
        if s["record"] is not None and s["record"].get("chunks") != len(s["chunks"])]
    return "; ".join(bad[:10]) or None


def skip_problems(state):
    bad = []
    for sid, s in sorted(state.items()):
        rec, chunks = s["record"], s["chunks"]
        if rec is None or not chunks:
            continue
        skips = [int(c.header("skip")) for c in chunks]
        unknown = skips[0] == -1
        if unknown != (rec.get("skip_unknown", 0) > 0) or -1 in skips[1:] or sum(
                x for x in skips if x > 0) != rec.get("skipped_bytes"):
            bad.append("stream %s: chunk skips %s; the record: skip_unknown %s, skipped_bytes "
                       "%s" % (sid, skips, rec.get("skip_unknown"), rec.get("skipped_bytes")))
    return "; ".join(bad[:10]) or None


def order_and_contents(msgs, res):
    """(why A's order check fails, why its contents_rebuild check fails (None when they
    pass), the streams) for the messages kcat read."""
    rebuilt, bad, state = stream_problems(msgs)
    order = "%d problems: %s" % (len(bad), "; ".join(bad[:10])) if bad else (
        None if msgs else "no messages")
    contents = contents_problems(rebuilt, res) or chunk_count_problems(state) or (
        None if rebuilt else "nothing rebuilt")
    return order, contents, state


def write_gencap(path, args):
    res = gencap.run_all(gencap.parse_args(["-o", path] + args))
    pcap.write(path, [(ts * 1000, f) for ts, f in res.frames])
    return res


def write_churn(path):
    """B's and C's capture: 12 lossless connections, then FILLER_FRAMES UDP frames."""
    res = gencap.run_all(gencap.parse_args(["-o", path, "--seed", "32", "--conns", "12",
                                            "--p-big", "0", "--p-loss", "0",
                                            "--p-midstream", "0"]))
    recs = [(ts * 1000, f) for ts, f in res.frames]
    udp = frames.udp_frame("198.51.100.1", 5353, "198.51.100.2", 5353, b"filler")
    recs += [(recs[-1][0] + 1000 * (i + 1), udp) for i in range(FILLER_FRAMES)]
    pcap.write(path, recs)
    return len(recs)


def churn_args(nframes):
    # infinite_rx holds every frame of the capture in an mbuf.
    return ["--quiet", "--timeout", "0", "--max-conns", "4096", "--pages", "2048",
            "--mbufs", str(nframes + 8192)]


def wait_stats(tel, pred, timeout):
    """/reasm/stats once pred(stats) holds, or the last one after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        stats = tel.query("/reasm/stats")
        if pred(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


def part_a(report, reasm, work, mock_exe, cap, res):
    jsonl = os.path.join(work, "a.jsonl")
    mock = Mock(mock_exe, work, "a")
    try:
        run = reasm.run(["net_pcap0,rx_pcap=" + cap], APP + [
            "--sink", "jsonl:" + jsonl, "--sha256", "--sensor-id", "e2e-kafka",
            "--sink", "kafka:%s,content=yes" % mock.bootstrap], 120)
        msgs, why = consume(mock.bootstrap)
    finally:
        mock.stop()
    lines, _ = appliance.read_jsonl(jsonl)
    line = summary_line(run.stdout)
    report.check("A.exit_ok", run.rc == 0 and line is not None and line.get(
        "kafka_acked") == len(lines) and lost(line) == 0 and line.get(
            "kafka_content_bytes") == sum(o["bytes"] for o in lines),
        lambda: "summary %r, %d jsonl lines of %d bytes\n%s" % (
            line, len(lines), sum(o["bytes"] for o in lines), run.describe()))
    if msgs is None:
        for c in CASES:
            if c.startswith("A.") and c != "A.exit_ok":
                report.add(c, why)
        return
    recs, bad = records_of(msgs)
    objs = [r for _, r in recs]
    stripped = [{k: v for k, v in r.items() if k not in EXTRA} for r in objs]
    canon = collections.Counter(json.dumps(r, sort_keys=True) for r in stripped)
    holes = partitions_whole(msgs)
    missing_extra = [r for r in objs if any(k not in r for k in EXTRA)]
    report.check("A.every_record", lines and not bad and not holes and not missing_extra and
                 canon == collections.Counter(json.dumps(r, sort_keys=True) for r in lines),
                 lambda: "%d record messages, %d jsonl lines; unparsable %s; partitions not "
                 "whole: %s; records without %s: %d" % (len(recs), len(lines), bad[:3], holes,
                                                       "/".join(EXTRA), len(missing_extra)))
    want = [st.row() for st in res.model.streams]
    diff = appliance.multiset_diff(appliance.multiset(want, MODEL_KEYS),
                                   appliance.multiset(objs, MODEL_KEYS), MODEL_KEYS, "gencap",
                                   "kafka")
    report.check("A.matches_generator", objs and not diff, lambda: diff or "no records")

    # Keys and partitions: a chunk's key is checked against its stream's record.
    cid = {m.header("stream"): community_id.community_id(r["src"], r["sport"], r["dst"],
                                                         r["dport"]) for m, r in recs}
    bad = []
    for m, r in recs:
        if r.get("community_id") != m.key:
            bad.append("%d:%d: key %r, the record's community_id %r" % (
                m.partition, m.offset, m.key, r.get("community_id")))
    part_of = {}
    for m in msgs:
        names = [n for n, _ in m.headers]
        if m.key != cid.get(m.header("stream")):
            bad.append("%d:%d (%s of stream %s): key %r, Community ID %r" % (
                m.partition, m.offset, m.header("type"), m.header("stream"), m.key,
                cid.get(m.header("stream"))))
        if m.header("sensor") != "e2e-kafka" or sorted(names) != HEADERS.get(m.header("type")):
            bad.append("%d:%d: headers %r" % (m.partition, m.offset, m.headers))
        if part_of.setdefault(m.key, m.partition) != m.partition:
            bad.append("key %r in partitions %d and %d" % (m.key, part_of[m.key], m.partition))
    report.check("A.keys_partitions", msgs and not bad, lambda: "%d problems: %s" % (
        len(bad), "; ".join(bad[:10])) if bad else "no messages",
        note="%d messages, %d keys over %d partitions" % (
            len(msgs), len(part_of), len(set(part_of.values()))))
    order, contents, state = order_and_contents(msgs, res)
    report.check("A.order", order is None, order)
    report.check("A.contents_rebuild", contents is None, contents)
    why = skip_problems(state)
    report.check("A.skip_headers", state and why is None, lambda: why or "no streams")


def telemetry_sandwich(tel, lcores=(1, 2)):
    """None when, for every KAFKA_KEYS counter, /reasm/stats before <= the workers'
    /reasm/lcore,N summed <= /reasm/stats after (counters only grow), else why not."""
    before = tel.query("/reasm/stats")
    per = [tel.query("/reasm/lcore,%d" % lc) for lc in lcores]
    after = tel.query("/reasm/stats")
    bad = []
    for k in KAFKA_KEYS:
        vals = [p.get(k) if isinstance(p, dict) else None for p in per]
        if None in vals or k not in before:
            bad.append("%s missing (stats %r, lcores %r)" % (k, before.get(k), vals))
        elif not before[k] <= sum(vals) <= after[k]:
            bad.append("%s: stats %d, workers %r, stats %d" % (k, before[k], vals, after[k]))
    return "; ".join(bad) or None


def part_b(report, reasm, work, mock_exe, cap, nframes):
    mock = Mock(mock_exe, work, "b")
    consumer = LiveConsumer(mock.bootstrap, os.path.join(work, "b.kcat"))
    bg = reasm.start(["net_pcap0,rx_pcap=%s,infinite_rx=1" % cap], churn_args(nframes) + [
        "--sink", "kafka:%s,rdkafka.reconnect.backoff.max.ms=250" % mock.bootstrap])
    try:
        tel = bg.telemetry()
        if tel is None:
            for c in CASES:
                if c.startswith("B."):
                    report.add(c, "no telemetry: %s" % bg.stop().describe())
            return
        wait_stats(tel, lambda s: s.get("kafka_acked", 0) > 0, 20)
        leaders = mock.leaders()
        by_broker = collections.Counter(leaders.values())
        down = [b for b, _ in by_broker.most_common(2)]
        for b in down:
            mock.cmd("down %d" % b)
        before = tel.query("/reasm/stats")
        time.sleep(2)
        during = tel.query("/reasm/stats")
        report.check("B.keeps_running", bg.alive() and during["pkts"] > before["pkts"] and
                     during["streams_completed"] > before["streams_completed"],
                     lambda: "pkts %d -> %d, streams %d -> %d while brokers %s were down" % (
                         before["pkts"], during["pkts"], before["streams_completed"],
                         during["streams_completed"], down))
        for b in down:
            mock.cmd("up %d" % b)
        # Caught up: everything completed so far acked (or counted lost).
        target = during["streams_completed"]
        after = wait_stats(tel, lambda s: s["kafka_acked"] + s["kafka_failed"] +
                           s["kafka_dropped"] >= target, 30)
        sandwich = telemetry_sandwich(tel)
        res_b = bg.stop(signal.SIGINT, timeout=60)
        line = summary_line(res_b.stdout) or {}
        completed = (appliance.parse_summary(res_b.stdout) or {}).get("streams")
        counted = sum(line.get(k, 0) for k in ("kafka_acked", "kafka_failed",
                                               "kafka_dropped"))
        report.check("B.retried_counted", line and completed is not None and
                     counted == completed and sandwich is None and
                     after["kafka_acked"] > during["kafka_acked"],
                     lambda: "summary %r, completed directions %r; telemetry: %s; acked %d "
                     "when the brokers came up, %d 30 s later\n%s" % (
                         line, completed, sandwich, during["kafka_acked"],
                         after["kafka_acked"], res_b.describe()),
                     note="brokers %s down (leading partitions %s), %d records waiting when "
                     "they came up (librdkafka held %s): kafka_retries %s, "
                     "kafka_request_errors %s, kafka_failed %s, kafka_dropped %s of %s "
                     "directions" % (
                         down, sorted(p for p, b in leaders.items() if b in down),
                         during["streams_completed"] - during["kafka_acked"],
                         during.get("kafka_waiting"), line.get("kafka_retries"),
                         line.get("kafka_request_errors"), line.get("kafka_failed"),
                         line.get("kafka_dropped"), completed))
        msgs, why = consumer.finish(line.get("kafka_acked", 0), PARTITIONS)
        if msgs is None:
            report.add("B.nothing_silent", why)
        else:
            recs, bad = records_of(msgs)
            ids = collections.Counter(m.header("stream") for m, _ in recs)
            dups = [s for s, n in ids.items() if n > 1]
            holes = partitions_whole(msgs)
            gaps = None if lost(line) else serial_gaps(m.header("stream") for m, _ in recs)
            report.check("B.nothing_silent", len(recs) == line.get("kafka_acked") and
                         len(msgs) == len(recs) and not bad and not dups and not holes and
                         not gaps,
                         lambda: "kcat read %d messages (%s), %d records; kafka_acked %r; "
                         "stream ids twice: %d (%s); unparsable %s; partitions not whole: %s; "
                         "stream ids missing: %s" % (
                             len(msgs), why, len(recs), line.get("kafka_acked"), len(dups),
                             dups[:5], bad[:3], holes, gaps) + (
                             " (a produce request retried after its answer was lost is "
                             "stored twice by the mock, which does not deduplicate: "
                             "tests/tools/kafka_mock.c)" if dups else ""),
                         note="%d records over partitions %s (%s)" % (
                             len(recs), sorted({m.partition for m in msgs}), why))
        want_rc = 1 if lost(line) else 0
        report.check("B.exit_status", line and res_b.rc == want_rc and (
            not lost(line) or "reasm: kafka sink:" in res_b.stderr),
            lambda: "exit %s, want %d (summary %r)\n%s" % (res_b.rc, want_rc, line,
                                                          res_b.describe()))
    finally:
        if bg.alive():
            bg.kill()
        consumer.kill()
        mock.stop()


def part_c(report, reasm, cap, nframes):
    port = free_port()
    bg = reasm.start(["net_pcap0,rx_pcap=%s,infinite_rx=1" % cap], churn_args(nframes) + [
        "--sink", "kafka:127.0.0.1:%d" % port])
    try:
        tel = bg.telemetry()
        if tel is None:
            report.add("C.keeps_running", "no telemetry: %s" % bg.stop().describe())
            report.add("C.loss_counted", "reasm did not start")
            return
        before = wait_stats(tel, lambda s: s["streams_completed"] > 0, 20)
        time.sleep(2)
        during = tel.query("/reasm/stats")
        report.check("C.keeps_running", bg.alive() and during["pkts"] > before["pkts"] and
                     during["streams_completed"] > before["streams_completed"],
                     lambda: "pkts %d -> %d, streams %d -> %d with nobody on port %d" % (
                         before["pkts"], during["pkts"], before["streams_completed"],
                         during["streams_completed"], port))
        # At exit reasm waits for librdkafka (10 s at most), then counts what is left failed.
        res = bg.stop(signal.SIGINT, timeout=60)
        line = summary_line(res.stdout) or {}
        completed = (appliance.parse_summary(res.stdout) or {}).get("streams")
        msgs = [x for x in res.stderr.splitlines() if x.startswith("reasm: kafka sink:")]
        report.check("C.loss_counted", res.rc == 1 and line.get("kafka_acked") == 0 and
                     completed and line.get("kafka_failed", 0) + line.get(
                         "kafka_dropped", 0) == completed and any(
                             "not delivered" in m for m in msgs),
                     lambda: "summary %r, %r directions completed\n%s" % (line, completed,
                                                                         res.describe()),
                     note="%r; %d directions" % (line, completed or 0))
    finally:
        if bg.alive():
            bg.kill()


def part_d(report, reasm, cap):
    port = free_port()
    for name, arg, want in (
            ("D.no_broker", "kafka:topic=t,content=yes", None),
            ("D.broker_without_port", "kafka:localhost", None),
            ("D.unknown_option", "kafka:127.0.0.1:%d,bogus=1" % port, None),
            ("D.queue_too_small", "kafka:127.0.0.1:%d,queue=1000" % port, None),
            ("D.content_maybe", "kafka:127.0.0.1:%d,content=maybe" % port, None),
            ("D.unknown_rdkafka_property", "kafka:127.0.0.1:%d,rdkafka.no.such.thing=1" % port,
             "No such configuration property"),
            ("D.bad_rdkafka_value", "kafka:127.0.0.1:%d,rdkafka.linger.ms=soon" % port,
             "Invalid value")):
        run = reasm.run(["net_pcap0,rx_pcap=" + cap], APP + ["--sink", arg], 60)
        msgs = [x for x in run.stderr.splitlines() if x.startswith("reasm:")]
        report.check(name, run.rc == 2 and any("kafka" in m and (want is None or want in m)
                                               for m in msgs),
                     lambda: "--sink %s: %s" % (arg, run.describe()))


def part_e(report, reasm, work, mock_exe, cap, res):
    mock = Mock(mock_exe, work, "e", topic=E_TOPIC)
    try:
        down = [b for b, _ in collections.Counter(mock.leaders().values()).most_common(2)]
        for b in down:
            mock.cmd("down %d" % b)
        bg = reasm.start(["net_pcap0,rx_pcap=" + cap], APP + [
            "--sha256", "--sensor-id", "e2e-kafka",
            "--sink", "kafka:%s,content=yes,topic=%s" % (mock.bootstrap, E_TOPIC)])
        try:
            time.sleep(2)
            for b in down:
                mock.cmd("up %d" % b)
            run = bg.stop(None, timeout=60)
        finally:
            if bg.alive():
                bg.kill()
        msgs, why = consume(mock.bootstrap, topic=E_TOPIC)
    finally:
        mock.stop()
    line = summary_line(run.stdout) or {}
    completed = (appliance.parse_summary(run.stdout) or {}).get("streams")
    report.check("E.delivered_late", run.rc == 0 and completed and line.get(
        "kafka_acked") == completed and lost(line) == 0 and line.get("kafka_chunks_acked"),
        lambda: "summary %r, %r directions\n%s" % (line, completed, run.describe()),
        note="brokers %s down for 2 s: kafka_retries %s" % (down, line.get("kafka_retries")))
    if msgs is None:
        report.add("E.order_kept", why)
        return
    order, contents, _ = order_and_contents(msgs, res)
    holes = partitions_whole(msgs)
    fails = [w for w in (order, contents, holes and "partitions not whole: " + holes) if w]
    report.check("E.order_kept", not fails, lambda: "\n".join(fails))


def chunk_problems(msgs, res):
    """Failure text, or None, for the messages of a run whose queue overflowed: for each
    record, its chunks' bytes + content_lost == bytes, chunks == its chunk messages, each
    chunk the generator's bytes at its offset; no stream's chunks overlap."""
    truth = {(st.key, st.row()["sha256"]): st.data() for st in res.model.streams}
    chunks = collections.defaultdict(list)
    for m in msgs:
        if m.header("type") == "chunk":
            chunks[m.header("stream")].append(m)
    bad = []
    for m, r in records_of(msgs)[0]:
        mine = chunks.get(m.header("stream"), [])
        data = truth.get(((r["src"], r["sport"], r["dst"], r["dport"]), r.get("sha256")))
        got = sum(len(c.value) for c in mine)
        offs = [int(c.header("offset")) for c in mine]
        if data is None or got + r.get("content_lost", -1) != r["bytes"] or r.get(
                "chunks") != len(mine) or any(
                    a + len(c.value) > b for a, b, c in zip(offs, offs[1:], mine)) or any(
                        data[o:o + len(c.value)] != c.value for o, c in zip(offs, mine)):
            bad.append("stream %s (%s bytes, chunks %s, content_lost %s): %d chunk messages "
                       "of %d bytes at %s%s" % (
                           m.header("stream"), r["bytes"], r.get("chunks"),
                           r.get("content_lost"), len(mine), got, offs[:8],
                           "; not a stream of the generator" if data is None else ""))
    return "; ".join(bad[:10]) or None


def part_f(report, reasm, work, mock_exe, cap, res):
    mock = Mock(mock_exe, work, "f")
    try:
        run = reasm.run(["net_pcap0,rx_pcap=" + cap], APP + [
            "--sha256", "--sink", "kafka:%s,content=yes,queue=65536" % mock.bootstrap], 120)
        msgs, why = consume(mock.bootstrap)
    finally:
        mock.stop()
    line = summary_line(run.stdout) or {}
    summ = appliance.parse_summary(run.stdout) or {}
    n_lost = lost(line)
    report.check("F.loss_counted", line and summ and line["kafka_acked"] + line[
        "kafka_failed"] + line["kafka_dropped"] == summ["streams"] and line[
            "kafka_content_bytes"] + line["kafka_content_dropped_bytes"] == summ[
                "delivered_bytes"] and run.rc == (1 if n_lost else 0) and (
                    not n_lost or "reasm: kafka sink: not delivered" in run.stderr),
        lambda: "summary %r, %r directions, %r bytes delivered\n%s" % (
            line, summ.get("streams"), summ.get("delivered_bytes"), run.describe()),
        note="queue=65536: %s of %s records, %s of %s chunks dropped" % (
            line.get("kafka_dropped"), summ.get("streams"), line.get("kafka_chunks_dropped"),
            line.get("kafka_chunks_acked", 0) + line.get("kafka_chunks_dropped", 0)))
    if msgs is None:
        report.add("F.partial_contents", why)
        return
    recs, _ = records_of(msgs)
    n_chunks = sum(1 for m in msgs if m.header("type") == "chunk")
    why = chunk_problems(msgs, res)
    report.check("F.partial_contents", why is None and len(recs) == line.get("kafka_acked")
                 and n_chunks == line.get("kafka_chunks_acked"),
                 lambda: "%d records, %d chunks read; summary %r; %s" % (
                     len(recs), n_chunks, line, why))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reasm")
    ap.add_argument("--mock", required=True, help="tests/tools/kafka_mock (built by meson)")
    ap.add_argument("--work-dir")
    ap.add_argument("--only", default="ABCDEF", help="the parts to run (the others' cases "
                    "are reported skipped), e.g. --only AD")
    args = ap.parse_args()
    report = gtest.Report(SUITE, "gtest-app_kafka.xml")
    missing = None
    if shutil.which("kcat") is None:
        missing = "kcat not installed (Debian package kcat)"
    elif not os.access(args.mock, os.X_OK):
        missing = "no kafka_mock at %s (tests/tools/kafka_mock.c, librdkafka)" % args.mock
    if missing:
        report.cases += [gtest.Case(c, skipped=missing) for c in CASES]
        return report.finish()
    keep = args.work_dir is not None
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix="reasm_e2e_kafka_")
    os.makedirs(args.work_dir, exist_ok=True)
    reasm = appliance.Reasm(args.reasm, "kafka")
    cap_a = os.path.join(args.work_dir, "a.pcap")
    res_a = write_gencap(cap_a, ["--seed", "31", "--conns", "40"])
    cap_b = os.path.join(args.work_dir, "b.pcap")
    nframes = write_churn(cap_b)
    parts = {"A": lambda: part_a(report, reasm, args.work_dir, args.mock, cap_a, res_a),
             "B": lambda: part_b(report, reasm, args.work_dir, args.mock, cap_b, nframes),
             "C": lambda: part_c(report, reasm, cap_b, nframes),
             "D": lambda: part_d(report, reasm, cap_a),
             "E": lambda: part_e(report, reasm, args.work_dir, args.mock, cap_a, res_a),
             "F": lambda: part_f(report, reasm, args.work_dir, args.mock, cap_a, res_a)}
    for name, part in parts.items():
        if name in args.only.upper():
            part()
        else:
            report.cases += [gtest.Case(c, skipped="--only %s" % args.only) for c in CASES
                             if c.startswith(name + ".")]
    return report.finish_with_work_dir(args.work_dir, keep)


if __name__ == "__main__":
    sys.exit(main())
