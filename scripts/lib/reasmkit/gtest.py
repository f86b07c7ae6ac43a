# SPDX-License-Identifier: BSD-3-Clause
"""googletest-style XML reports for the Python tests and scripts.

meson runs every test with GTEST_OUTPUT=xml:PATH; scripts/count-tests.py reads the
<testcase> elements of that file. The Python tests write the same format through this
module, one <testsuite> per script:

    from reasmkit import gtest

    cases = [gtest.Case("first"),                                  # passed
             gtest.Case("second", failure="what went wrong\\ndetails"),
             gtest.Case("third", skipped="why it did not run"),
             gtest.Case("fourth", notes=["passed, but worth knowing"], time=0.25)]
    gtest.write(gtest.output_path("gtest-mysuite.xml"), "MySuite", cases, elapsed)

or collect checks as they run with Report (timed, failures printed at once):

    report = gtest.Report("MySuite", "gtest-mysuite.xml")
    report.check("name", ok, "failure text or a callable giving it", note=None)
    report.equal("name", got, want)
    return report.finish()          # writes the XML, prints a summary, exit status

API:
  Case(name, failure=None, skipped=None, notes=(), time=0.0, classname=None)
      One <testcase>. failure: None when it passed, else the failure text (its
      first line becomes the message; "" still counts as a failure). skipped: None
      or False when it ran, else the reason (a string; True for none given).
      notes: strings written as <property name="note" value=...>. time: seconds.
      classname: the case's classname attribute (default: the suite's name).
  output_path(default) -> str
      PATH from $GTEST_OUTPUT ("xml:PATH"), else default.
  render(suite, cases, elapsed) -> str
      The XML document. cases: Case objects, or tuples taken as Case's leading
      fields (e.g. (name, failure)). elapsed: the suite's seconds.
  write(path, suite, cases, elapsed)
      render() into path, creating its folder if needed.
"""
import collections
import os
import shutil as _shutil
import time as _time
import xml.sax.saxutils as su

Case = collections.namedtuple("Case", "name failure skipped notes time classname",
                              defaults=(None, None, (), 0.0, None))


def output_path(default):
    """The report's path: PATH of $GTEST_OUTPUT="xml:PATH", else default."""
    spec = os.environ.get("GTEST_OUTPUT", "")
    if spec.startswith("xml:") and len(spec) > 4:
        return spec[4:]
    return default


def _case(c):
    return c if isinstance(c, Case) else Case(*c)


def _cdata(text):
    return "<![CDATA[%s]]>" % text.replace("]]>", "]]]]><![CDATA[>")


def render(suite, cases, elapsed):
    """The googletest XML document (one <testsuite> named suite) as a string."""
    cases = [_case(c) for c in cases]
    nfail = sum(1 for c in cases if c.failure is not None)
    nskip = sum(1 for c in cases if c.skipped not in (None, False))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites tests="%d" failures="%d" disabled="0" errors="0" time="%.3f" '
           'name="AllTests">' % (len(cases), nfail, elapsed),
           '  <testsuite name=%s tests="%d" failures="%d" disabled="0" skipped="%d" '
           'errors="0" time="%.3f">' % (su.quoteattr(suite), len(cases), nfail, nskip, elapsed)]
    for c in cases:
        skipped = c.skipped not in (None, False)
        notes = [c.notes] if isinstance(c.notes, str) else list(c.notes or ())
        attrs = 'name=%s status="run" result="%s" time="%.3f" classname=%s' % (
            su.quoteattr(c.name), "skipped" if skipped else "completed", c.time,
            su.quoteattr(c.classname or suite))
        if c.failure is None and not skipped and not notes:
            out.append('    <testcase %s />' % attrs)
            continue
        out.append('    <testcase %s>' % attrs)
        if notes:
            out.append('      <properties>')
            for n in notes:
                out.append('        <property name="note" value=%s />' % su.quoteattr(n))
            out.append('      </properties>')
        if skipped:
            why = c.skipped if isinstance(c.skipped, str) else ""
            out.append('      <skipped message=%s />' % su.quoteattr(why))
        if c.failure is not None:
            first = c.failure.splitlines()[0] if c.failure else "failed"
            out.append('      <failure message=%s type="">%s</failure>' % (
                su.quoteattr(first), _cdata(c.failure)))
        out.append('    </testcase>')
    out.append('  </testsuite>')
    out.append('</testsuites>')
    return "\n".join(out) + "\n"


def write(path, suite, cases, elapsed):
    """Write render(suite, cases, elapsed) to path (its folder is created if missing)."""
    text = render(suite, cases, elapsed)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class Report:
    """Collects checks (Case objects, timed) for one googletest <testsuite>.

    Each case's time is the time since the previous one; a failure is printed as it is
    added. default_xml: where the report goes without $GTEST_OUTPUT.
    """

    def __init__(self, suite, default_xml):
        self.suite = suite
        self.default_xml = default_xml
        self.cases = []
        self.start = _time.monotonic()
        self._t = _time.monotonic()

    def add(self, name, failure=None, note=None):
        now = _time.monotonic()
        notes = [note] if isinstance(note, str) else list(note or [])
        self.cases.append(Case(name, failure, notes=notes, time=now - self._t))
        self._t = now
        if failure is not None:
            print("FAILED %s.%s\n%s\n" % (self.suite, name, failure), flush=True)
        return failure is None

    def check(self, name, ok, failure_text, note=None):
        """Add a case that passes when ok is true; failure_text may be a callable."""
        if ok:
            return self.add(name, None, note)
        return self.add(name, failure_text() if callable(failure_text) else failure_text)

    def equal(self, name, got, want, what=""):
        return self.check(name, got == want, lambda: "%s%sexpected %r, got %r" % (
            what, ": " if what else "", want, got))

    def failed(self):
        return [c for c in self.cases if c.failure is not None]

    def path(self):
        return output_path(self.default_xml)

    def write(self):
        """Write the report; a failure text is cut to 20,000 characters there."""
        cut = [c._replace(failure=c.failure[:20000] + "\n... (cut)")
               if c.failure is not None and len(c.failure) >= 20000 else c for c in self.cases]
        write(self.path(), self.suite, cut, _time.monotonic() - self.start)

    def finish(self):
        """Write the report, print a one-line result, return the exit status."""
        self.write()
        nfail = len(self.failed())
        noted = sum(1 for c in self.cases if c.failure is None and c.notes)
        print("%s: %d checks, %d failed, %d passed with a note (%.1fs)" % (
            self.suite, len(self.cases), nfail, noted, _time.monotonic() - self.start))
        for c in self.cases:
            if c.failure is None and c.notes:
                print("  note %s: %s" % (c.name, "; ".join(c.notes)))
        return 1 if nfail else 0

    def finish_with_work_dir(self, work_dir, keep):
        """finish(), then remove @work_dir if everything passed and it was not asked for
        (@keep), or say where it is kept."""
        rc = self.finish()
        if rc == 0 and not keep:
            _shutil.rmtree(work_dir, ignore_errors=True)
        elif rc:
            print("work folder kept: %s" % work_dir)
        return rc


def appliance_e2e_start(doc, suite, xml_name, tmp_prefix):
    """The start of an end-to-end script that runs the appliance on captures of its own:
    its arguments (the reasm binary, --work-dir, --build-dir for gopacket-ref), its
    Report, its work folder. Returns (args, report, keep), keep saying the work folder
    was asked for (Report.finish_with_work_dir()); report.failed_to_start is set when
    the binary is missing (the case is already in the report: return report.finish())."""
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("reasm", help="the appliance (build/app/reasm)")
    ap.add_argument("--work-dir", help="where captures and outputs go (default: a new "
                    "temporary folder, removed when every case passed)")
    ap.add_argument("--build-dir", help="where to build gopacket-ref (default: next to the "
                    "XML report)")
    args = ap.parse_args()
    report = Report(suite, xml_name)
    args.build_dir = args.build_dir or os.path.dirname(os.path.abspath(report.path()))
    keep = args.work_dir is not None
    args.work_dir = args.work_dir or tempfile.mkdtemp(prefix=tmp_prefix)
    os.makedirs(args.work_dir, exist_ok=True)
    report.failed_to_start = not os.access(args.reasm, os.X_OK)
    if report.failed_to_start:
        report.add("reasm_present", "%s is not an executable" % args.reasm)
    return args, report, keep
