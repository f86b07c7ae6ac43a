#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""CodeFormat.c_files: every C file of the tree is formatted as .clang-format says.

Runs scripts/check-format (clang-format 14, Debian's) and reports one googletest-style
case; skipped, not passed, where clang-format is not installed.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import gtest, source_dir  # noqa: E402


def main():
    build = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "."
    path = gtest.output_path(os.path.join(build, "tests", "gtest-format.xml"))
    if shutil.which("clang-format") is None:
        gtest.write(path, "CodeFormat", [gtest.Case("c_files", skipped="clang-format is not "
                                                    "installed (Debian package clang-format)")], 0)
        print("CodeFormat.c_files: skipped (no clang-format)")
        return 0
    p = subprocess.run([os.path.join(source_dir(), "scripts", "check-format")],
                       capture_output=True, text=True, timeout=300)
    failure = None if p.returncode == 0 else (p.stdout + p.stderr)
    gtest.write(path, "CodeFormat", [gtest.Case("c_files", failure)], 0)
    print("CodeFormat.c_files: %s" % ("ok" if failure is None else "FAILED\n" + failure))
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
