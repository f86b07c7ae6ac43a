# SPDX-License-Identifier: BSD-3-Clause
"""googletest-style XML reports for the Python test scripts (stdlib only).

meson runs every test with GTEST_OUTPUT=xml:PATH; scripts/count-tests.py reads the
<testcase> elements of that file. The Python tests (tests/captures_vs_gopacket.py,
tests/e2e/run_e2e.py, tests/e2e/reasm_testlib.py) write the same format through
this module, one <testsuite> per script:

    import gtest_report as gr

    cases = [gr.Case("first"),                                  # passed
             gr.Case("second", failure="what went wrong\\ndetails"),
             gr.Case("third", skipped="why it did not run"),
             gr.Case("fourth", notes=["passed, but worth knowing"], time=0.25)]
    gr.write(gr.output_path("gtest-mysuite.xml"), "MySuite", cases, elapsed)

API:
  Case(name, failure=None, skipped=None, notes=(), time=0.0)
      One <testcase>. failure: None when it passed, else the failure text (its
      first line becomes the message; "" still counts as a failure). skipped: None
      or False when it ran, else the reason (a string; True for none given).
      notes: strings written as <property name="note" value=...>. time: seconds.
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
import xml.sax.saxutils as su

Case = collections.namedtuple("Case", "name failure skipped notes time",
                              defaults=(None, None, (), 0.0))


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
            su.quoteattr(suite))
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
