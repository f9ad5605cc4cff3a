"""JUnit XML: one ``testsuite`` per problem, one ``testcase`` per property, as CI systems display it.

A property that failed is a ``failure``; one whose code crashed or hung is an ``error``; one that
needs the absent reference is ``skipped``; one that passed in a problem under review for tampering
is an ``error`` of type ``review`` (its points are withheld). Points are carried as ``properties``.
Text from the student's code is stripped of characters XML 1.0 cannot hold.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.formats.common import counterexample_lines, diagnosis_lines, points, tampering_lines, visible
from grader.runner import RunResult

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def to_junit(result: RunResult, *, show_hidden: bool = False) -> str:
    shown = visible(result, show_hidden)
    root = ET.Element("testsuites", name="grade", time=f"{shown.duration_s:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for problem in shown.problems:
        suite = ET.SubElement(root, "testsuite", name=_clean(problem.id))
        meta = ET.SubElement(suite, "properties")
        for name, value in (("title", problem.title), ("score", points(problem.score)),
                            ("max_score", points(problem.max_score)), ("seed", shown.seed),
                            ("isolation", shown.isolation)):
            ET.SubElement(meta, "property", name=name, value=_clean(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        elapsed = 0.0
        diagnosis = "\n".join(diagnosis_lines(problem.diagnosis))
        tampering = "\n".join(tampering_lines(problem))
        if tampering:
            ET.SubElement(meta, "property", name="tampering", value=_clean(tampering))
        for prop in problem.properties:
            counts["tests"] += 1
            elapsed += prop.duration_s
            case = ET.SubElement(suite, "testcase", classname=_clean(problem.id), name=_clean(prop.name),
                                 time=f"{prop.duration_s:.3f}")
            if prop.status == "passed" and tampering:
                counts["errors"] += 1
                ET.SubElement(case, "error", message="score withheld for review: tampering suspected",
                              type="review").text = _clean(tampering)
                continue
            if prop.status == "passed":
                continue
            summary = prop.message.splitlines()[0] if prop.message else prop.status
            body = "\n".join([prop.description, "", prop.message]
                             + ([""] + counterexample_lines(prop.counterexample) if prop.counterexample else [])
                             + (["", diagnosis] if diagnosis else []))
            if prop.status == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_clean(summary))
            elif prop.status == "failed":
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=_clean(summary), type="failed").text = _clean(body)
            else:
                counts["errors"] += 1
                ET.SubElement(case, "error", message=_clean(summary), type=prop.status).text = _clean(body)
        if problem.output:
            ET.SubElement(suite, "system-out").text = _clean(problem.output)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{elapsed:.3f}")
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
