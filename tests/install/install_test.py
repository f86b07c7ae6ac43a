#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The library as an outside user gets it: `meson install`, pkg-config, the README's program.

Usage: install_test.py BUILD_DIR   (meson test 'install', normal build only)

Cases:
  - installed_files: `meson install --destdir` puts the shared library (with its soname),
    the static library, the public header under include/reasm/ and libreasm.pc
    ("Requires: libdpdk") where pkg-config finds them;
  - exports_match_header: the shared library exports exactly the functions reasm.h
    declares (its version map), nothing internal;
  - header_alone_<std>: each installed public header compiles alone as C99, C11 (gcc
    -pedantic) and C++11 (g++ -pedantic), warnings as errors;
  - readme_example_shared / readme_example_static: the ```c program of README.md's "Using
    the library" section, built with `pkg-config --cflags --libs libreasm` against the
    shared library (and against libreasm.a), runs and prints the records it promises.
The prefix is a temporary folder: pkg-config reads a copy of the installed libreasm.pc
whose prefix points there (what an install with --prefix=THERE would have written).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "scripts", "lib"))
from reasmkit import gtest, source_dir  # noqa: E402

EXPECTED_OUTPUT = [
    "open 198.18.0.1:40000 -> 198.18.0.2:80",
    'record: skip 0 start ""',
    'record: skip 0 "hello, "',
    'record: skip 0 "world!"',
    'record: skip 0 end ""',
    "complete: 13 bytes received, 13 delivered",
]


def run(cmd, env=None, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def install(build, dest):
    """meson install into dest; returns (prefix folder, libdir) or raises with the output."""
    rc, out, err = run(["meson", "install", "-C", build, "--no-rebuild", "--destdir", dest,
                        "--quiet"], timeout=300)
    if rc != 0:
        raise RuntimeError("meson install failed:\n" + out + err)
    pcs = []
    for root, _, files in os.walk(dest):
        pcs += [os.path.join(root, f) for f in files if f == "libreasm.pc"]
    if len(pcs) != 1:
        raise RuntimeError("expected one libreasm.pc under %s, found %r" % (dest, pcs))
    libdir = os.path.dirname(os.path.dirname(pcs[0]))
    prefix = None
    with open(pcs[0]) as f:
        for line in f:
            if line.startswith("prefix="):
                prefix = dest + line.split("=", 1)[1].strip()
    return prefix, libdir, pcs[0]


def pkg_config_env(work, pc, prefix):
    """An environment whose pkg-config finds libreasm.pc with its prefix moved to prefix."""
    pcdir = os.path.join(work, "pkgconfig")
    os.makedirs(pcdir, exist_ok=True)
    with open(pc) as f:
        text = re.sub(r"^prefix=.*$", "prefix=" + prefix, f.read(), flags=re.M)
    with open(os.path.join(pcdir, "libreasm.pc"), "w") as f:
        f.write(text)
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = pcdir + (":" + env["PKG_CONFIG_PATH"]
                                      if env.get("PKG_CONFIG_PATH") else "")
    return env


def check_files(report, prefix, libdir, pc):
    want = [os.path.join(libdir, "libreasm.so"), os.path.join(libdir, "libreasm.so.0"),
            os.path.join(libdir, "libreasm.a"),
            os.path.join(prefix, "include", "reasm", "reasm.h")]
    missing = [p for p in want if not os.path.exists(p)]
    rc, out, _ = run(["readelf", "-d", os.path.join(libdir, "libreasm.so")])
    soname = re.search(r"SONAME.*\[(.*)\]", out)
    with open(pc) as f:
        pc_text = f.read()
    problems = ["missing " + p for p in missing]
    if not soname or soname.group(1) != "libreasm.so.0":
        problems.append("soname: %r" % (soname.group(1) if soname else None))
    if not re.search(r"^Requires:.*\blibdpdk\b", pc_text, re.M):
        problems.append("libreasm.pc does not require libdpdk:\n" + pc_text)
    report.check("installed_files", not problems, lambda: "\n".join(problems))


def header_functions(header):
    """Names of the non-inline functions a header declares."""
    text = re.sub(r"/\*.*?\*/", "", open(header).read(), flags=re.S)
    text = re.sub(r"static inline[^{]*\{.*?\n\}", "", text, flags=re.S)
    return set(re.findall(r"\b(reasm_\w+)\s*\(", text)) - set(
        re.findall(r"\(\*\s*(\w+)\)", text))


def check_exports(report, prefix, libdir):
    header = os.path.join(prefix, "include", "reasm", "reasm.h")
    declared = header_functions(header)
    rc, out, err = run(["nm", "-D", "--defined-only", os.path.join(libdir, "libreasm.so")])
    exported = {line.split()[-1].split("@")[0] for line in out.splitlines()
                if len(line.split()) == 3 and line.split()[1] == "T"}
    report.check("exports_match_header", rc == 0 and exported == declared,
                 lambda: "exported but not declared: %s\ndeclared but not exported: %s\n%s" % (
                     sorted(exported - declared), sorted(declared - exported), err))


def check_headers_alone(report, prefix, work):
    incdir = os.path.join(prefix, "include", "reasm")
    headers = sorted(f for f in os.listdir(incdir) if f.endswith(".h"))
    for name, compiler, lang, std in (("c99", "gcc", "c", "c99"), ("c11", "gcc", "c", "c11"),
                                      ("cxx11", "g++", "c++", "c++11")):
        failures = []
        for h in headers:
            src = os.path.join(work, "alone_%s.%s" % (name, "c" if lang == "c" else "cpp"))
            with open(src, "w") as f:
                f.write("#include <%s>\n" % h)
            rc, out, err = run([compiler, "-std=" + std, "-pedantic", "-Wall", "-Wextra",
                                "-Werror", "-fsyntax-only", "-I", incdir, src])
            if rc != 0:
                failures.append("%s as %s:\n%s" % (h, std, err))
        report.check("header_alone_" + name, not failures, lambda: "\n".join(failures))


def readme_example():
    """The ```c block that opens README.md's "Using the library" section."""
    text = open(os.path.join(source_dir(), "README.md")).read()
    section = text.split("## Using the library", 1)[1]
    m = re.search(r"```c\n(.*?)```", section, re.S)
    return m.group(1) if m else None


def run_example(binary, env, prefix_name):
    file_prefix = "reasm-install-%s-%d" % (prefix_name, os.getpid())
    rc, out, err = run([binary, "--no-huge", "-m", "64", "--no-pci", "-l", "0",
                        "--log-level=error", "--file-prefix=" + file_prefix], env=env)
    shutil.rmtree(os.path.join("/var/run/dpdk", file_prefix), ignore_errors=True)
    return rc, out, err


def check_example(report, work, env, libdir):
    code = readme_example()
    if code is None:
        report.add("readme_example_shared", "README.md has no ```c block under "
                   "'## Using the library'")
        return
    src = os.path.join(work, "example.c")
    with open(src, "w") as f:
        f.write(code)
    rc, cflags, err = run(["pkg-config", "--cflags", "libreasm"], env=env)
    rc2, libs, err2 = run(["pkg-config", "--libs", "libreasm"], env=env)
    rc3, dpdk_libs, _ = run(["pkg-config", "--libs", "libdpdk", "nettle"], env=env)
    if rc or rc2 or rc3:
        report.add("readme_example_shared", "pkg-config failed: " + err + err2)
        return
    builds = {
        "readme_example_shared": (libs.split(), dict(env, LD_LIBRARY_PATH=libdir)),
        "readme_example_static": ([os.path.join(libdir, "libreasm.a")] + dpdk_libs.split(),
                                  env),
    }
    for name, (link, run_env) in builds.items():
        exe = os.path.join(work, name)
        rc, out, err = run(["cc", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                            src, "-o", exe] + cflags.split() + link, env=env)
        if rc != 0:
            report.add(name, "build failed:\n" + err)
            continue
        rc, out, err = run_example(exe, run_env, name)
        lines = out.splitlines()
        report.check(name, rc == 0 and lines == EXPECTED_OUTPUT,
                     lambda: "exit %d\nstdout:\n%s\nstderr:\n%s\nexpected:\n%s" % (
                         rc, out, err, "\n".join(EXPECTED_OUTPUT)))


def main():
    build = os.path.abspath(sys.argv[1])
    report = gtest.Report("Install", os.path.join(build, "tests", "gtest-install.xml"))
    work = tempfile.mkdtemp(prefix="reasm-install-")
    try:
        try:
            prefix, libdir, pc = install(build, os.path.join(work, "dest"))
        except RuntimeError as e:
            report.add("installed_files", str(e))
            return report.finish()
        env = pkg_config_env(work, pc, prefix)
        check_files(report, prefix, libdir, pc)
        check_exports(report, prefix, libdir)
        check_headers_alone(report, prefix, work)
        check_example(report, work, env, libdir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
