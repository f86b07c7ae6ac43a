#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The reporting half of scripts/bench: reads the results file bench_measure.py wrote.

    bench_report.py RESULTS.json [--doc docs/performance.md --png docs/performance.png]
    bench_report.py RESULTS.json --smoke [--xml PATH]

Prints one table (reassembly per workload, then idle1m, flush, the appliance and
callgrind's top functions); with --doc writes docs/performance.md (and the plot with
--png, matplotlib: Debian's python3-matplotlib); with --smoke writes a googletest-style
XML report instead (one case per workload and component, suite bench_smoke) to --xml,
else $GTEST_OUTPUT, else gtest-bench_smoke.xml next to RESULTS.json. Running it again on
a saved results file (scripts/bench --report-only FILE) regenerates the same document.
Exit status: with --smoke 1 if a case failed, else 1 if reasm_bench failed, else 0.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import ROOT, gtest  # noqa: E402


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def fmt(x, nd=1):
    return "-" if x is None else ("%.*f" % (nd, x))


def ratio(a, b):
    return a / b if a and b else None


def bytes_cell(sent, delivered):
    if delivered is None:
        return "-"
    return "=" if delivered == sent else "%s" % human(delivered)


def human(n):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return "%.1f%s" % (n / div, unit)
    return str(n)


def build_rows(workloads, reasm, peers, cg):
    rows = []
    for w in workloads:
        r = reasm.get(w, {})
        g = peers["gopacket"]["results"].get(w, {})
        n = peers["libnids"]["results"].get(w, {})
        per_pkt = (cg or {}).get("per_pkt", {})
        rows.append({
            "workload": w,
            "packets": r.get("packets"),
            "reasm": r.get("reasm_ns_per_pkt"),
            "floor": r.get("floor_ns_per_pkt"),
            "parse": r.get("parse_ns_per_pkt"),
            "gopacket": g.get("ns_per_pkt"),
            "libnids": n.get("ns_per_pkt"),
            "sent": r.get("bytes_sent"),
            "reasm_bytes": r.get("bytes_delivered"),
            "gopacket_bytes": g.get("bytes_delivered"),
            "libnids_bytes": n.get("bytes_delivered"),
            "ir_reasm": per_pkt.get("reasm:" + w),
            "ir_floor": per_pkt.get("floor:" + w),
            "gbps": r.get("reasm_gbps"),
            "mpps": r.get("reasm_mpps"),
            "flush_ms": r.get("flush_ms"),
        })
    return rows


def peer_ns_cell(peers, name, row):
    p = peers[name]
    if not p["binary"]:
        return "unavailable: " + p["reason"]
    res = p["results"].get(row["workload"], {})
    if "error" in res:
        return "failed: " + res["error"][:60]
    partial = row[name + "_bytes"] is not None and row[name + "_bytes"] != row["sent"]
    return fmt(row[name]) + (" *" if partial else "")


HEAD = ["workload", "packets", "reasm ns/pkt", "floor ns/pkt", "gopacket ns/pkt",
        "libnids ns/pkt", "gopacket/reasm", "libnids/reasm", "reasm/floor",
        "bytes sent", "delivered reasm / gopacket / libnids", "instr/pkt reasm / floor"]


def table_cells(rows, peers):
    out = []
    for r in rows:
        out.append([
            r["workload"], str(r["packets"] or "-"), fmt(r["reasm"]), fmt(r["floor"]),
            peer_ns_cell(peers, "gopacket", r), peer_ns_cell(peers, "libnids", r),
            fmt(ratio(r["gopacket"], r["reasm"]), 2), fmt(ratio(r["libnids"], r["reasm"]), 2),
            fmt(ratio(r["reasm"], r["floor"]), 2),
            human(r["sent"]) if r["sent"] is not None else "-",
            " / ".join(bytes_cell(r["sent"], r[k]) for k in
                       ("reasm_bytes", "gopacket_bytes", "libnids_bytes")),
            "%s / %s" % (fmt(r["ir_reasm"], 0), fmt(r["ir_floor"], 0)),
        ])
    return out


def text_table(head, cells):
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for c in cells:
        lines.append("  ".join(x.ljust(w) for x, w in zip(c, widths)))
    return "\n".join(lines)


def md_table(head, cells, align=None):
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join((align[i] if align else "---") for i in range(len(head))) + "|"]
    for c in cells:
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in c) + " |")
    return "\n".join(lines)


def idle_cells(idle):
    if not idle:
        return None
    return [[
        "%d" % idle["conns"], "%d" % idle["open_directions"], "%d" % idle["max_conns"],
        "%.1f MiB" % (idle["pool_heap_bytes"] / 1048576),
        "%.0f" % idle["bytes_per_direction"], "%.0f" % idle["bytes_per_direction_capacity"],
        "%.0f" % idle["bytes_per_direction_with_assembler"],
        "%.0f" % idle["rss_bytes_per_direction"], "%.1f" % idle["open_ns_per_pkt"],
        "%.1f" % idle["flush_all_ns_per_direction"],
        "ok" if idle.get("bytes_ok") else "MISMATCH"]]


IDLE_HEAD = ["conns", "directions open", "max_conns", "pool heap", "B/direction (pool)",
             "B per max_conns slot", "B/direction (pool + assembler)", "RSS B/direction",
             "opening ns/pkt", "flush_all ns/direction", "bytes"]


def flush_cells(flush):
    if not flush:
        return None
    return [[c["order"], "%d" % c["stale"], "%d" % c["total"], "%.1f" % c["flush_us"],
             "%.1f" % c["ns_per_stale"], "%.1f" % c["again_us"], "%d" % c["closed"]]
            for c in flush.get("cases", [])]


FLUSH_HEAD = ["opened", "S stale", "N total", "flush us", "ns per stale direction",
              "second flush us", "closed"]


# ---------------------------------------------------------------------------
# The appliance: bench_measure.run_apps()'s dict

WORKER_STAGES = ["rx", "ring", "timestamps", "parse", "lookup", "assemble", "sink", "free",
                 "flush", "other", "idle"]
MAIN_STAGES = ["rx", "spread", "enqueue", "defrag", "other", "idle"]


def app_all_runs(app):
    """Every appliance run of the results, in report order."""
    return [r for k in ("direct", "spread", "sha256", "scaling") for r in app.get(k, [])
            if r.get("measured", True)]


def headline_pps(run):
    """Packets/s with stage timing off: the mean of the windows before and after it."""
    pps = [run[k]["pps"] for k in ("off", "off2") if run.get(k)]
    return sum(pps) / len(pps) if pps else None


def timing_overhead(run):
    """How much slower the run was with stage timing on (fraction), or None."""
    off, on = headline_pps(run), (run.get("on") or {}).get("pps")
    return off / on - 1 if off and on else None


def lcore_pkts(stages):
    """Packets an lcore took in (received, or dequeued from its ring) in the window."""
    return max(stages.get("rx", {}).get("pkts", 0), stages.get("ring", {}).get("pkts", 0))


def stage_columns(app):
    """[(column label, lcore's stages, tsc_hz, pkts, elapsed cycles, run)] of every run
    with stage figures: worker lcores, then the main lcore where it spreads."""
    cols = []
    for run in app_all_runs(app):
        rt = run.get("runtime")
        if not run.get("ok") or not rt or not rt.get("enabled"):
            continue
        for name in sorted(rt["lcores"], key=lambda n: (n == "main", n)):
            st = rt["lcores"][name]["stages"]
            if name == "main" and run.get("rx") != "spread":
                continue
            n = lcore_pkts(st)
            if n:
                cols.append(("%s: %s" % (run["name"], name), st, rt["tsc_hz"], n,
                             rt["tsc_cycles"], run))
    return cols


def stage_cells(cols):
    """Rows of ns per packet per stage (one column per lcore of stage_columns())."""
    names = [s for s in WORKER_STAGES + MAIN_STAGES
             if any(s in c[1] for c in cols)]
    names = list(dict.fromkeys(names))
    rows = []
    for s in names:
        row = [s]
        for _, st, hz, n, _, _ in cols:
            c = st.get(s)
            row.append("%.1f" % (c["cycles"] / n / hz * 1e9) if c and hz else "-")
        rows.append(row)
    busy = ["busy (stages but idle)"]
    total = ["elapsed (TSC between the reads)"]
    for _, st, hz, n, el, _ in cols:
        b = sum(c["cycles"] for k, c in st.items() if k != "idle")
        busy.append("%.1f" % (b / n / hz * 1e9))
        total.append("%.1f" % (el / n / hz * 1e9))
    rows += [busy, total]
    return rows


def app_vs_library(app, reasm):
    """Rows: each direct and spread run beside the library on the same packets."""
    cells = []
    for run in app.get("direct", []) + app.get("spread", []):
        w = run.get("workload", "inorder")
        lib = reasm.get(w, {}).get("reasm_ns_per_pkt")
        if not run.get("ok"):
            cells.append([run["name"], "failed: " + run.get("error", "?")[:80]] + [""] * 8)
            continue
        pps = headline_pps(run)
        ns = 1e9 / pps if pps else None
        ovh = timing_overhead(run)
        off = run["off"]
        share = rx_share(run) if run in app.get("direct", []) else None
        no_rx = ns * (1 - share) if share is not None and ns else None
        cells.append([run["name"], "%.3f" % (pps / 1e6), fmt(ns), fmt(lib),
                      fmt(ratio(ns, lib), 2),
                      "-" if no_rx is None else "%s (%s)" % (fmt(no_rx), fmt(ratio(no_rx, lib), 2)),
                      "%.3f" % (off["rx_pps"] / 1e6), "%.3f" % (off["ring_full_pps"] / 1e6),
                      "%.1f" % (off["skipped_bytes_per_s"] / 1e6),
                      "-" if ovh is None else "%+.1f%%" % (100 * ovh)])
    return cells


APP_LIB_HEAD = ["run", "assembled Mpps", "ns/pkt", "library ns/pkt (same packets)",
                "appliance/library", "without the PMD's rx: ns/pkt (/library)", "received Mpps", "ring-full drops Mpps",
                "skipped MB/s", "stage timing costs"]


def rx_share(run):
    """The share of worker0's busy time (stage timing on) spent in rte_eth_rx_burst."""
    rt = run.get("runtime") or {}
    st = (rt.get("lcores") or {}).get("worker0", {}).get("stages", {})
    busy = sum(c["cycles"] for s, c in st.items() if s != "idle")
    rx = st.get("rx", {}).get("cycles")
    return rx / busy if busy and rx is not None else None


def worker_stage_ns(run, stage):
    """ns per packet of @stage on worker0 of @run, or None."""
    rt = run.get("runtime") or {}
    st = (rt.get("lcores") or {}).get("worker0", {}).get("stages", {})
    n, hz = lcore_pkts(st), rt.get("tsc_hz")
    c = st.get(stage)
    return c["cycles"] / n / hz * 1e9 if c and n and hz else None


def sha256_cells(app):
    """Rows: count (direct inorder) then each sink run, against count."""
    base = next((r for r in app.get("direct", []) if r.get("workload") == "inorder"
                 and r.get("ok")), None)
    if base is None:
        return []
    base_ns = 1e9 / headline_pps(base)
    per_pkt = app.get("payload_bytes_per_pkt") or 0
    sha_ns = app.get("sha256_ns_per_byte") or 0
    cells = [["count", "%.3f" % (headline_pps(base) / 1e6), fmt(base_ns), "1.00",
              fmt(worker_stage_ns(base, "sink")), "-", "-"]]
    for run in app.get("sha256", []):
        if not run.get("ok"):
            cells.append([run["label"], "failed: " + run.get("error", "?")[:80], "", "", "",
                          "", ""])
            continue
        ns = 1e9 / headline_pps(run)
        bound = base_ns + per_pkt * sha_ns if "sha256" in run["label"] else None
        cells.append([run["label"], "%.3f" % (headline_pps(run) / 1e6), fmt(ns),
                      fmt(ns / base_ns, 2), fmt(worker_stage_ns(run, "sink")),
                      "-" if bound is None else "%.1f (%.2f)" % (bound, bound / base_ns),
                      frames_written(run)])
    return cells


def frames_written(run):
    """The pcap sink's writer: frames and MB written per second, frames dropped (queue full)."""
    off = run.get("off") or {}
    if not off.get("pcap_pps") and not off.get("pcap_dropped_pps"):
        return "-"
    return "%.3f M/s (%.0f MB/s), %.3f M/s dropped" % (
        off["pcap_pps"] / 1e6, off.get("pcap_mbps", 0), off.get("pcap_dropped_pps", 0) / 1e6)


SHA_HEAD = ["sink (inorder, 1 worker, direct)", "assembled Mpps", "ns/pkt", "against count",
            "sink stage ns/pkt", "count + SHA-256 of the payload alone, ns/pkt (ratio)",
            "pcap frames written by its thread"]


def scaling_cells(app):
    base = next((r for r in app.get("direct", []) if r.get("workload") == "inorder"
                 and r.get("ok")), None)
    one = headline_pps(base) if base else None
    cells = [["1", "%.3f" % (one / 1e6) if one else "-", "%.3f" % (one / 1e6) if one else "-",
              "1.00" if one else "-", "measured"]]
    for r in app.get("scaling", []):
        if not r.get("measured"):
            cells.append(["%d" % r["workers"], "-", "-", "-", r["reason"]])
        elif not r.get("ok"):
            cells.append(["%d" % r["workers"], "-", "-", "-", "failed: " + r.get("error", "?")])
        else:
            pps = headline_pps(r)
            cells.append(["%d" % r["workers"], "%.3f" % (pps / 1e6),
                          "%.3f" % (pps / r["workers"] / 1e6), fmt(ratio(pps, one), 2),
                          "frames per worker " + ", ".join(map(str, r["frames_per_worker"]))])
    return cells


SCALE_HEAD = ["workers", "assembled Mpps", "per worker", "against 1 worker", "note"]


def app_text(app, reasm):
    """The appliance's tables for the terminal."""
    out = []
    if app.get("error"):
        return "appliance: " + app["error"]
    out.append(text_table(APP_LIB_HEAD, app_vs_library(app, reasm)))
    cols = stage_columns(app)
    if cols:
        out.append("\nns per packet per stage (stage timing on):")
        out.append(text_table(["stage"] + [c[0] for c in cols], stage_cells(cols)))
    sc = sha256_cells(app)
    if sc:
        out.append("")
        out.append(text_table(SHA_HEAD, sc))
    out.append("")
    out.append(text_table(SCALE_HEAD, scaling_cells(app)))
    chk = app.get("split_check")
    if chk:
        out.append("split check (%d workers): %s" % (chk["workers"], "ok" if chk["ok"] else
                                                     "FAILED: " + chk.get("error", "?")))
    return "\n".join(out)


def plot_stages(cols, reasm, path):
    """Stacked bars: ns per packet per stage of each lcore, the library's beside."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return "no plot: %s (Debian package python3-matplotlib)" % e
    stages = [s for s in dict.fromkeys(WORKER_STAGES + MAIN_STAGES) if s != "idle"]
    colors = plt.get_cmap("tab20").colors
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.55 * len(cols)))
    labels = []
    for i, (label, st, hz, n, _, run) in enumerate(cols):
        left = 0.0
        for j, s in enumerate(stages):
            c = st.get(s)
            if not c:
                continue
            v = c["cycles"] / n / hz * 1e9
            ax.barh(i, v, left=left, color=colors[j % len(colors)])
            left += v
        lib = reasm.get(run.get("workload", "inorder"), {}).get("reasm_ns_per_pkt")
        if lib and not label.endswith(": main"):
            ax.plot([lib], [i], marker="|", markersize=18, color="black")
        labels.append(label)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[j % len(colors)])
               for j, s in enumerate(stages)]
    handles.append(plt.Line2D([], [], marker="|", markersize=12, color="black", ls=""))
    ax.legend(handles, stages + ["library (reasm_bench), same packets"], fontsize=7,
              ncol=4, loc="lower right")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ns per packet (stage timing on; idle left out)")
    ax.set_title("Where an appliance lcore's time goes, per packet")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return ""


def app_doc(app, reasm, settings, stages_png, stages_note):
    """docs/performance.md's appliance section (a list of markdown paragraphs)."""
    L = ["## The appliance (`app/reasm` on net_pcap `infinite_rx=1`)\n"]
    if app.get("error"):
        return L + ["Not measured: %s.\n" % app["error"]]
    L.append("The workload's packets as a pcap (`reasm_bench --write-pcap`, the very packets "
             "the library table above times), replayed from memory by net_pcap "
             "(`infinite_rx=1`), %s s per window. **direct**: one worker polls its own "
             "queue (`--rx direct`), what a NIC deployment with RSS does. **spread**: the "
             "main lcore receives and spreads flows to the worker through a ring (`--rx "
             "spread`, for ports without RSS). Packets/s from `/reasm/stats` with stage "
             "timing off (the mean of a window before and one after the timed window); "
             "the stage table from `/reasm/runtime` in the window with "
             "`/reasm/runtime_enable,1`. net_pcap copies each frame from its memory copy "
             "of the capture into an mbuf (`rx`), which a NIC's DMA does for free: "
             "*without the PMD's rx* is the ns/pkt less the share of the worker's busy "
             "time the stage table puts in `rx` (what the worker costs on a NIC).\n"
             % settings["app_seconds"])
    L.append(md_table(APP_LIB_HEAD, app_vs_library(app, reasm)))
    L.append("")
    cols = stage_columns(app)
    if cols:
        L.append("### Where the time goes, ns per packet per stage\n")
        L.append("Each column is one lcore of one run; a stage's TSC cycles over the packets "
                 "that lcore took in. `parse`, `lookup` and `assemble` are the library's "
                 "burst call split by `reasm_assembler_stage_timing`; `assemble` excludes "
                 "the sink callbacks it makes (`sink`). `idle`: polls that found nothing. "
                 "The stages add up to the elapsed TSC (last row) within the cost of the "
                 "marks. See [appliance.md](appliance.md#where-the-time-goes).\n")
        L.append(md_table(["stage"] + ["`%s`" % c[0] for c in cols], stage_cells(cols)))
        L.append("")
        L.append("![ns per packet per stage](%s)\n" % os.path.basename(stages_png)
                 if not stages_note else "(%s)\n" % stages_note)
    sc = sha256_cells(app)
    if sc:
        L.append("### Sinks: jsonl, SHA-256 and pcap against count\n")
        L.append("The same inorder replay, one worker, direct, with other sinks. The "
                 "SHA-256 column is what SHA-256 alone of each packet's payload (%.0f B on "
                 "average) costs at this machine's SHA-256 speed (%.2f ns/B, Python hashlib, "
                 "OpenSSL), added to the count run: a bound no hashing sink can beat. The "
                 "pcap sink's worker only copies each frame into its queue; its writer "
                 "thread writes what the disk takes and counts the rest as dropped.\n"
                 % (app.get("payload_bytes_per_pkt") or 0, app.get("sha256_ns_per_byte") or 0))
        L.append(md_table(SHA_HEAD, sc))
        L.append("")
    L.append("### Scaling (direct, inorder, the capture split per worker by the symmetric "
             "hash)\n")
    L.append("`reasmkit.rss.split_pcap` writes one capture per worker with the appliance's "
             "own symmetric Toeplitz hash and redirection table, so each worker's queue gets "
             "whole connections, as a NIC's RSS would deliver them.\n")
    L.append(md_table(SCALE_HEAD, scaling_cells(app)))
    L.append("")
    chk = app.get("split_check")
    if chk:
        L.append("Split checked against the appliance (%d workers: spread by the main lcore, "
                 "every stream on the worker the Python hash names; direct on the split "
                 "files, every stream the 1-worker replay delivers): %s.\n"
                 % (chk["workers"], "ok" if chk["ok"] else "FAILED: " + chk.get("error", "?")))
    runs = app_all_runs(app)
    if runs:
        L.append("Commands (PCAP: `reasm_bench --write-pcap DIR`): " + "; ".join(
            "`%s`" % shorten_command(r) for r in runs if r.get("command")) + "\n")
    return L


def shorten_command(run):
    cmd = run["command"].replace(ROOT + "/", "")
    for p in run.get("pcaps", []):
        cmd = cmd.replace(p, "PCAP" if len(run.get("pcaps", [])) == 1 else
                          "PCAP." + os.path.basename(p))
    return cmd


def plot(rows, flush, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return "no plot: %s (Debian package python3-matplotlib)" % e
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 1.3]})
    names = [r["workload"] for r in rows]
    series = [("floor", "floor (parse + lookup)", "#999999"), ("reasm", "reasm", "#1f77b4"),
              ("gopacket", "gopacket tcpassembly", "#2ca02c"), ("libnids", "libnids", "#d62728")]
    width = 0.2
    for i, (key, label, color) in enumerate(series):
        for j, r in enumerate(rows):
            partial = key in ("gopacket", "libnids") and r[key + "_bytes"] is not None and \
                r[key + "_bytes"] != r["sent"]
            ax.bar(j + (i - 1.5) * width, r[key] or 0, width, color=color,
                   label=label if j == 0 else None, alpha=0.35 if partial else 1.0,
                   hatch="//" if partial else None, edgecolor=color)
    ax.bar(0, 0, 0, color="white", edgecolor="black", hatch="//",
           label="pale, hatched: delivered fewer bytes than sent")
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names)
    ax.set_ylabel("ns per packet (log scale, lower is better)")
    ax.set_title("Reassembly cost per packet, one core")
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    if flush and flush.get("cases"):
        for order, style in (("time", "-o"), ("touched", "--s"), ("paged", "^")):
            for total in sorted({c["total"] for c in flush["cases"]}):
                pts = sorted((c["stale"], c["flush_us"]) for c in flush["cases"]
                             if c["order"] == order and c["total"] == total)
                if pts:
                    ax2.plot([p[0] for p in pts], [p[1] for p in pts], style,
                             label="N=%s, %s" % (human(total), order))
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set_xlabel("S stale directions")
        ax2.set_ylabel("reasm_flush_older_than, us")
        ax2.set_title("Flush cost")
        ax2.legend(fontsize=7)
        ax2.grid(which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return ""


def connection_cells(conn, workloads):
    """Rows of the connection layer's cost: ns/pkt and instructions/pkt, off and on."""
    if not conn:
        return []
    ns, instr = conn.get("ns") or {}, conn.get("instr") or {}
    rows = []
    for w in workloads:
        off, on = ns.get("off", {}).get(w), ns.get("on", {}).get(w)
        ioff, ion = instr.get("off", {}).get(w), instr.get("on", {}).get(w)
        if off is None and ioff is None:
            continue
        rows.append([w, fmt(off), fmt(on), fmt(ratio(on, off), 2), fmt(ioff), fmt(ion),
                     fmt(ion - ioff) if ioff and ion else "-"])
    return rows


CONN_HEAD = ["workload", "ns/pkt off", "ns/pkt on", "on/off", "instr/pkt off",
             "instr/pkt on", "instr added"]


def connections_doc(conn, workloads):
    cells = connection_cells(conn, workloads)
    if not cells:
        return []
    return ["## Connections\n",
            "The connection layer (`reasm_pool_conf.max_connections`, the appliance's "
            "`--sink conn`) pairs the two directions of every connection, counts every packet "
            "per side and keeps Zeek's history. *off* is the library as the rows above run it; "
            "*on* the same packets with `reasm_bench --connections` (max_connections = the "
            "workload's max_conns). ns/pkt: best of the runs, the two modes alternated twice; "
            "instructions: callgrind, one run each. With the layer off nothing of it runs but "
            "one test per chunk and per stream opened and closed. A packet whose stream "
            "direction is open finds its connection through the direction (no lookup); `grow` "
            "(every packet a new direction, so a new connection too) and `conn` (65,536 "
            "connections, each packet's connection out of cache) show the worst case.\n",
            md_table(CONN_HEAD, cells), ""]


def overlap_cells(ov, workloads):
    """Rows of the overlap options' cost: ns/pkt and instructions/pkt per mode."""
    if not ov:
        return []
    ns, instr = ov.get("ns") or {}, ov.get("instr") or {}
    rows = []
    for w in workloads:
        base, ibase = ns.get("first", {}).get(w), instr.get("first", {}).get(w)
        if base is None and ibase is None:
            continue
        row = [w, fmt(base), fmt(ibase)]
        for mode in ("last", "retain"):
            v, iv = ns.get(mode, {}).get(w), instr.get(mode, {}).get(w)
            row += [fmt(v), fmt(ratio(v, base), 2), fmt(iv - ibase) if iv and ibase else "-"]
        rows.append(row)
    return rows


OVERLAP_HEAD = ["workload", "ns/pkt first", "instr/pkt first", "ns/pkt last", "last/first",
                "instr added (last)", "ns/pkt retain 1 KiB", "retain/first",
                "instr added (retain)"]


def overlaps_doc(ov, workloads):
    cells = overlap_cells(ov, workloads)
    if not cells:
        return []
    return ["## Overlaps\n",
            "The overlap policy (`reasm_assembler_conf.overlap_policy`, the appliance's "
            "`--overlap-policy`) and the retention window of delivered bytes "
            "(`reasm_pool_conf.retain_bytes`, `--retain-bytes`) that conflicting "
            "retransmissions of delivered bytes are compared with. *first* is the library as "
            "the rows above run it (gopacket's policy, no window: overlaps with buffered "
            "bytes are still compared); *last* the same packets with `reasm_bench "
            "--overlap-last`; *retain 1 KiB* with `--retain-bytes 1024`, which copies every "
            "delivered byte once into its direction's window (max_conns x 1 KiB allocated "
            "and zeroed at creation). ns/pkt: best of the runs, the modes alternated twice; "
            "instructions: callgrind, one run each. The workloads' retransmissions repeat "
            "their bytes, so no conflict is found: this is the cost of looking. The window's "
            "cost in ns is mostly its cache misses: each direction writes its own window, "
            "far more than the caches hold when many directions are active.\n",
            md_table(OVERLAP_HEAD, cells), ""]


def write_doc(settings, path, png, rows, peers, reasm, app, cg, cg_reason, cmdline,
              plot_note, stages_png, stages_note, conn=None, workloads=(), overlaps=None):
    cells = table_cells(rows, peers)
    L = []
    L.append("# Performance\n")
    L.append("Generated by `scripts/bench` (do not edit by hand; rerun it). "
             "Machine: %s. Date: %s. Load average when the run started: %s (other jobs "
             "on the machine make wall-clock times noisy: compare the ratios of one run, "
             "and the instruction counts, which do not depend on load).\n"
             % (settings["machine"], settings["date"], settings["load"]))
    L.append("Command: `%s`\n" % cmdline)
    L.append("Every target, met or not, and what bounds each miss: "
             "[performance-targets.md](performance-targets.md) (hand-written).\n")
    L.append("What is measured: the packets of each workload are built in memory first "
             "(mbufs for reasm, a pcap read into memory for the peers); only reassembly "
             "is timed, on one core, best of %d runs (gopacket and libnids: best of %d), "
             "with stream callbacks that only count bytes. "
             "**floor** is what any flow-table program pays for the same packets: "
             "`reasm_flow_of_mbuf()` (the burst path's parser) + `rte_hash_lookup_bulk` "
             "on a table built like the connection table and holding the same keys. "
             "gopacket is `tcpassembly` with the faster of its two decoders "
             "(`DecodingLayerParser` or `NewPacket`) and no buffering limits; libnids is "
             "`nids_pcap_handler` with checksums off. The end-of-capture flush "
             "(`reasm_flush_all`, `FlushAll`, `nids_exit`) is not in ns/pkt.\n"
             % (settings["reps"], settings["peer_repeat"]))
    L.append("![ns per packet](%s)\n" % os.path.basename(png) if not plot_note else
             "(%s)\n" % plot_note)
    L.append("## Reassembly, packets in memory\n")
    L.append(md_table(HEAD, cells))
    L.append("")
    L.append("Bytes: `=` means the payload bytes delivered (after the final flush) equal the "
             "payload bytes sent; `*` after a peer's time: it did not deliver every byte, so "
             "its time is not comparable. libnids follows only IPv4 connections whose three-way "
             "handshake it saw, so it delivers nothing on the gopacket shapes (no SYN-ACK); "
             "on `ooo` it throws away a direction's whole out-of-order queue past 64 KiB of "
             "its accounting (`warn_tcp_bigqueue`). Instructions per packet are callgrind's "
             "count of the timed region (valgrind's CPU model: no AVX-512 code paths).\n")
    L.append("Workloads (fixed seeds, `tests/bench/reasm_bench.c`):\n")
    L.append("- `inorder`: 1,000 interleaved connections with handshakes and FINs, 700 B "
             "client / 100 B server segments;\n"
             "- `ooo`: the same, each data segment swapped with probability 0.1 with the next "
             "one of its direction;\n"
             "- `small`: 100 connections, 8 B segments both ways;\n"
             "- `single`, `skips`, `loss`, `grow`, `conn`: the shapes of gopacket's "
             "`BenchmarkSingleStream`, `...Skips`, `...Loss`, `BenchmarkMultiStreamGrow` and "
             "`...Conn` (10 B segments). `skips` sends 1 segment in 10 one place early, as "
             "the benchmark intends (its code as written resets its flag in the same "
             "iteration, which leaves 20-byte holes instead); `loss` leaves a 1-byte hole "
             "before every segment, so everything is buffered until the final flush; `grow` "
             "opens a new direction per packet (distinct addresses, where gopacket's port "
             "counter would wrap at 65,536); `conn` cycles over 65,536 SYN connections.\n")
    idle = reasm.get("idle1m")
    ic = idle_cells(idle)
    if ic:
        L.append("## Memory per idle connection (`idle1m`)\n")
        L.append("%d connections opened (SYN, SYN-ACK, one 64 B segment each way) and left "
                 "open. The pool preallocates everything at `reasm_pool_create` (rte_hash "
                 "with an extendable table, the connection array), so the heap does not grow "
                 "while connections open; bytes are from `rte_malloc_get_socket_stats` "
                 "before and after creation, RSS from `/proc/self/status` (it grows as "
                 "entries are first touched).\n" % idle["conns"])
        L.append(md_table(IDLE_HEAD, ic))
        L.append("")
    fc = flush_cells(reasm.get("flush"))
    if fc:
        L.append("## Flush cost (`flush`)\n")
        L.append("N idle directions (SYN + one in-order segment: nothing buffered), S of "
                 "them stale; one `reasm_flush_older_than` that closes the S, then a second "
                 "one at the same time. *time*: directions opened in time order (stale "
                 "first), so the idle list's prefix is exactly the stale ones: the cost "
                 "follows S, not N. *touched*: all N opened at once, then the N-S fresh ones "
                 "get a later packet; the idle list is kept lazily (a packet only writes its "
                 "connection's time), so that flush also re-places the N-S touched ones, "
                 "once: the second flush costs nothing. *paged*: the directions start "
                 "without SYN, so (as in gopacket) their first data waits in a page until a "
                 "flush; directions holding pages sit in a list kept lazily by their first "
                 "page's time, so a flush visits only those whose first page is older than "
                 "T: the cost follows S again.\n")
        L.append(md_table(FLUSH_HEAD, fc))
        L.append("")
    L += app_doc(app, reasm, settings, stages_png, stages_note)
    L += connections_doc(conn, workloads)
    L += overlaps_doc(overlaps, workloads)
    if cg and cg.get("annotate"):
        L.append("## Where the time goes (callgrind, instructions of the timed region)\n")
        for tag, rows_ in cg["annotate"].items():
            L.append("`%s`:\n" % tag)
            L.append(md_table(["Ir", "%", "instr/pkt", "function"],
                              [["{:,}".format(r[0]), "%.1f" % r[1], "%.1f" % r[2], r[3]]
                               for r in rows_]))
            L.append("")
    elif cg_reason:
        L.append("Instruction counts unavailable: %s.\n" % cg_reason)
    for name in ("gopacket", "libnids"):
        p = peers[name]
        if not p["binary"]:
            L.append("%s: unavailable: %s\n" % (name, p["reason"]))
            continue
        per = {w: [x.strip() for x in (r.get("notes") or "").split(";") if x.strip()]
               for w, r in p["results"].items()}
        common = [x for x in next(iter(per.values()), []) if all(x in v for v in per.values())]
        extra = ["%s: %s" % (w, "; ".join(x for x in v if x not in common))
                 for w, v in per.items() if any(x not in common for x in v)]
        go = sorted({r.get("go") for r in p["results"].values() if r.get("go")})
        items = go + common + extra
        if items:
            L.append("%s: %s.\n" % (name, "; ".join(items)))
    with open(path, "w") as f:
        f.write("\n".join(L))


# ---------------------------------------------------------------------------
# Smoke: googletest-style XML


def smoke_xml(path, cases):
    """The --smoke report: suite bench_smoke, classname bench_smoke.<component>."""
    gtest.write(path, "bench_smoke", [
        gtest.Case(name, failure=msg if status == "fail" else None,
                   skipped=msg or True if status == "skip" else None,
                   classname="bench_smoke." + cls)
        for cls, name, status, msg in cases], 0.0)


def smoke_cases(workloads, reasm_rc, reasm_err, reasm, pcaps, peers, app, cg, cg_reason,
                conn=None, overlaps=None):
    """(component, workload, "ok"|"fail"|"skip", message) per case of the --smoke report."""
    cases = []
    for w in workloads:
        good = bool(conn) and (conn.get("ok") or {}).get(w)
        cases.append(("connections", w, "ok" if good else "fail",
                      "" if good else "reasm_bench --connections: no result, or bytes or "
                      "counters wrong: %s" % (conn or {}).get("ok")))
    for w in workloads:
        good = bool(overlaps) and (overlaps.get("ok") or {}).get(w)
        cases.append(("overlaps", w, "ok" if good else "fail",
                      "" if good else "reasm_bench --overlap-last / --retain-bytes: no result, "
                      "or bytes or counters wrong: %s" % (overlaps or {}).get("ok")))
    for w in workloads:
        r = reasm.get(w)
        if r is None:
            cases.append(("reasm", w, "fail", "no result (reasm_bench exit %d: %s)"
                          % (reasm_rc, reasm_err.strip()[-300:])))
        elif not r.get("bytes_ok"):
            cases.append(("reasm", w, "fail", "delivered %s bytes, sent %s"
                          % (r.get("bytes_delivered"), r.get("bytes_sent"))))
        elif not r.get("counters_ok"):
            cases.append(("reasm", w, "fail", "counters disagree with the callbacks: %s" % {
                k: v for k, v in r.items() if k.startswith("ctr_") or k in (
                    "bytes_delivered", "streams_opened", "bytes_sent", "packets")}))
        elif r.get("floor_ns_per_pkt") is None:
            cases.append(("reasm", w, "fail", "the floor did not run"))
        else:
            cases.append(("reasm", w, "ok", ""))
    r = reasm.get("idle1m")
    cases.append(("reasm", "idle1m", "ok" if r and r.get("bytes_ok") else "fail",
                  "" if r and r.get("bytes_ok") else "idle1m: %s" % r))
    r = reasm.get("flush")
    bad = [c for c in (r or {}).get("cases", []) if not c.get("ok")]
    cases.append(("reasm", "flush", "ok" if r and r.get("cases") and not bad else "fail",
                  "" if r and not bad else "flush cases failed: %s" % (bad or r)))
    cases.append(("reasm", "exit_status", "ok" if reasm_rc == 0 else "fail",
                  "reasm_bench exit %d: %s" % (reasm_rc, reasm_err.strip()[-300:])))
    for name in ("gopacket", "libnids"):
        p = peers[name]
        for w in workloads:
            if not p["binary"]:
                cases.append((name, w, "skip", "unavailable: " + p["reason"]))
                continue
            res = p["results"].get(w)
            sent = pcaps.get(w, {}).get("bytes_sent")
            if res is None or "error" in res:
                cases.append((name, w, "fail", (res or {}).get("error", "did not run")))
            elif name == "gopacket" and res.get("bytes_delivered") != sent:
                cases.append((name, w, "fail", "delivered %s bytes, sent %s"
                              % (res.get("bytes_delivered"), sent)))
            elif (name == "gopacket" and w in reasm
                  and res.get("bytes_delivered") != reasm[w].get("bytes_delivered")):
                cases.append((name, w, "fail", "gopacket delivered %s bytes, reasm %s"
                              % (res.get("bytes_delivered"), reasm[w].get("bytes_delivered"))))
            elif name == "libnids" and w in ("inorder", "small") and \
                    res.get("bytes_delivered") != sent:
                cases.append((name, w, "fail", "delivered %s bytes, sent %s"
                              % (res.get("bytes_delivered"), sent)))
            else:
                cases.append((name, w, "ok", ""))
    if app.get("error"):
        cases.append(("app", "runs", "fail", app["error"]))
    for a in app_all_runs(app):
        name = a["name"].replace(" ", "_").replace("/", "_")
        if not a.get("ok"):
            cases.append(("app", name, "fail", "%s\n%s" % (a.get("error", ""),
                                                           a.get("output_tail", ""))))
        elif not headline_pps(a):
            cases.append(("app", name, "fail", "no packets assembled: %s" % a.get("off")))
        elif a.get("runtime") and not stage_columns({"direct": [a]}):
            cases.append(("app", name, "fail", "no stage figures: %s" % a["runtime"]))
        else:
            cases.append(("app", name, "ok", ""))
    chk = app.get("split_check")
    if chk is not None:
        cases.append(("app", "rss_split", "ok" if chk["ok"] else "fail",
                      chk.get("error", "")))
    if cg is None:
        cases.append(("callgrind", "instructions", "skip", cg_reason))
    else:
        ok = cg["per_pkt"].get("reasm:inorder", 0) > 0 and cg["per_pkt"].get("floor:inorder", 0) > 0
        cases.append(("callgrind", "instructions", "ok" if ok else "fail",
                      "" if ok else "no instruction counts: %s" % cg["per_pkt"]))
    return cases


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="the results file of bench_measure.py")
    ap.add_argument("--smoke", action="store_true", help="write the XML report, no docs")
    ap.add_argument("--xml", help="where --smoke writes its report")
    ap.add_argument("--doc")
    ap.add_argument("--png")
    args = ap.parse_args()
    with open(args.results) as f:
        res = json.load(f)
    workloads, settings = res["workloads"], res["settings"]
    reasm, peers, app = res["reasm"], res["peers"], res["app"]
    cg, cg_reason = res["callgrind"], res["callgrind_reason"]

    rows = build_rows(workloads, reasm, peers, cg)
    print(text_table(HEAD, table_cells(rows, peers)))
    ic = idle_cells(reasm.get("idle1m"))
    if ic:
        print()
        print(text_table(IDLE_HEAD, ic))
    fc = flush_cells(reasm.get("flush"))
    if fc:
        print()
        print(text_table(FLUSH_HEAD, fc))
    print()
    print(app_text(app, reasm))
    cc = connection_cells(res.get("connections"), workloads)
    if cc:
        print()
        print(text_table(CONN_HEAD, cc))
    oc = overlap_cells(res.get("overlaps"), workloads)
    if oc:
        print()
        print(text_table(OVERLAP_HEAD, oc))
    if cg:
        for tag, rows_ in cg["annotate"].items():
            print("\n%s, top functions (callgrind, exclusive):" % tag)
            for r in rows_:
                print("  %14s %5.1f%% %7.1f instr/pkt  %s" % ("{:,}".format(r[0]), r[1], r[2], r[3]))

    if args.smoke:
        cases = smoke_cases(workloads, res["reasm_rc"], res["reasm_err"], reasm, res["pcaps"],
                            peers, app, cg, cg_reason, res.get("connections"),
                            res.get("overlaps"))
        path = args.xml or gtest.output_path(
            os.path.join(os.path.dirname(os.path.abspath(args.results)), "gtest-bench_smoke.xml"))
        smoke_xml(path, cases)
        fails = [c for c in cases if c[2] == "fail"]
        log("smoke: %d cases, %d failed, %d skipped; report %s" % (
            len(cases), len(fails), sum(1 for c in cases if c[2] == "skip"), path))
        for c in fails:
            log("FAILED %s.%s: %s" % (c[0], c[1], c[3][:500]))
        return 1 if fails else 0
    note = plot(rows, reasm.get("flush"), args.png) if args.png else "no plot"
    stages_png = os.path.splitext(args.png)[0] + "-stages.png" if args.png else ""
    cols = stage_columns(app)
    stages_note = plot_stages(cols, reasm, stages_png) if stages_png and cols else "no plot"
    if args.doc:
        write_doc(settings, args.doc, args.png or "", rows, peers, reasm, app, cg, cg_reason,
                  settings["cmdline"], note, stages_png, stages_note,
                  res.get("connections"), workloads, res.get("overlaps"))
        log("wrote %s%s%s" % (args.doc, "" if note else " and " + args.png,
                              "" if stages_note else " and " + stages_png))
    return 0 if res["reasm_rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
