"""JUnit XML for CI test tabs: one failing test case per finding, one passing case when clean.

The layout follows the Jenkins/Ant JUnit format that GitLab, GitHub and Azure read:
<testsuites><testsuite><testcase classname name file line><failure type message>text.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import xml.etree.ElementTree as ET
from typing import IO

from leakwarden.models import ScanResult
from leakwarden.reporters import ReportContext
from leakwarden.reporters.rows import finding_row

# Characters XML 1.0 cannot carry at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(value: object) -> str:
    return _INVALID_XML.sub("\ufffd", "" if value is None else str(value))


def render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    n = len(result.findings)
    unread = [e for e in result.errors if e.incomplete]
    # A scan that could not read part of its target is an error case, never "no secrets found".
    errors = str(1 if unread else 0)
    tests = str(max(n, 1) if not unread else n + 1)
    seconds = f"{result.stats.seconds:.3f}"
    suites = ET.Element("testsuites", name="leakwarden", tests=tests, failures=str(n), errors=errors, time=seconds)
    suite = ET.SubElement(
        suites, "testsuite", name=f"leakwarden {ctx.source}", tests=tests, failures=str(n), errors=errors,
        skipped="0", time=seconds, timestamp=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=_x(socket.gethostname() or "localhost"),
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="tool.version", value=_x(ctx.tool_version or "0"))
    ET.SubElement(props, "property", name="files", value=str(result.stats.files))
    for f in result.findings:
        row = finding_row(f, ctx)
        where = f"{row['path'] or '<' + row['source'] + '>'}:{row['line']}"
        if row["commit"]:
            where += f" @ {str(row['commit'])[:12]}"
        case = ET.SubElement(
            suite, "testcase", classname=_x(f"leakwarden.{f.rule_id}"), name=_x(f"{f.rule_name} at {where}"),
            time="0", file=_x(row["path"]), line=str(row["line"]),
        )
        failure = ET.SubElement(case, "failure", type=_x(f.rule_id), message=_x(f"{f.severity.value} secret: {f.rule_name} ({row['secret']})"))
        lines = [
            f"rule: {f.rule_id} ({f.rule_name}, {f.provider})",
            f"severity: {f.severity.value}  confidence: {f.confidence.value}  validity: {row['validity']}",
            f"location: {where}",
            f"secret: {row['secret']}",
            f"fingerprint: {row['fingerprint']}",
            f"next step: leakwarden explain {f.rule_id}",
        ]
        if row["status"] != "open" or row["incident_id"] != "":
            lines.insert(0, f"incident: {row['incident_id']} ({row['status']})")
        failure.text = _x("\n".join(lines))
    if unread:
        case = ET.SubElement(suite, "testcase", classname="leakwarden", name="scan incomplete", time=seconds)
        error = ET.SubElement(case, "error", type="incomplete", message=_x(unread[0].text))
        error.text = _x("\n".join(e.text for e in unread))
    elif not n:
        ET.SubElement(suite, "testcase", classname="leakwarden", name="no secrets found", time=seconds)
    if result.errors:
        err = ET.SubElement(suite, "system-err")
        err.text = _x("\n".join(e.text for e in result.errors))
    ET.indent(suites)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(suites, encoding="unicode"))
    out.write("\n")
