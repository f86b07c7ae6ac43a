#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Count googletest cases from the XML reports of one or more build folders.

Prints one line "N passed, N failed" (", N skipped" if any) and exits 1 if
anything failed. A test binary meson ran but that left no XML report (it
crashed before writing it) counts as one failed case.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


def meson_tests(build):
    out = subprocess.run(["meson", "introspect", "--tests", build], capture_output=True,
                         text=True, check=True).stdout
    return [t["name"] for t in json.loads(out)]


def count(build):
    passed = failed = skipped = 0
    for name in meson_tests(build):
        xml = os.path.join(build, "tests", "gtest-%s.xml" % name)
        if not os.path.exists(xml):
            print("%s: %s left no report (crashed or did not run)" % (build, name))
            failed += 1
            continue
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as e:
            print("%s: %s: unreadable report: %s" % (build, name, e))
            failed += 1
            continue
        for case in root.iter("testcase"):
            if case.find("failure") is not None:
                failed += 1
                print("%s: FAILED %s.%s" % (build, case.get("classname"), case.get("name")))
            elif case.get("result") == "skipped" or case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


def main():
    totals = [0, 0, 0]
    for build in sys.argv[1:]:
        for i, n in enumerate(count(build)):
            totals[i] += n
    line = "%d passed, %d failed" % (totals[0], totals[1])
    if totals[2]:
        line += ", %d skipped" % totals[2]
    print(line)
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main())
