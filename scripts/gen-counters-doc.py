#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Regenerate the counter table of docs/counters.md from REASM_COUNTERS in lib/reasm/reasm.h.

The table sits between the markers <!-- counters --> and <!-- /counters -->; the rest of
the page is hand-written. Run after adding a counter (tests check the page lists them all).
"""
import os
import re

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
header = open(os.path.join(root, "lib/reasm/reasm.h")).read()
rows = re.findall(r'X\((\w+), (\w+), "([^"]*)"\)', header)
table = ["| counter | class | meaning |", "|---|---|---|"] + [
    "| `%s` | %s | %s |" % (name, cls.lower(), desc) for name, cls, desc in rows]
path = os.path.join(root, "docs/counters.md")
doc = open(path).read()
start, end = "<!-- counters -->", "<!-- /counters -->"
before, rest = doc.split(start, 1)
_, after = rest.split(end, 1)
open(path, "w").write(before + start + "\n" + "\n".join(table) + "\n" + end + after)
