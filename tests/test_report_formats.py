"""Every report format, from one graded result of a test-only problem (tests/fixtures/feedback):
counterexamples captured as data with a reproduction command and a designed input, the diagnosis,
the slice and figure data, Gradescope's schema, JUnit's structure, Markdown's size limit, the JSON
schema, and hidden properties leaking nothing in any format students see."""

from __future__ import annotations

import ast
import io
import json
import shlex
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from grader.bank import load_bank
from grader.report import (to_gradescope, to_html, to_json, to_junit, to_markdown, render, visible,
                           write_reports)
from grader.runner import grade

from conftest import SCHEMA_PATH, TESTS

FEEDBACK = TESTS / "fixtures" / "feedback"
BANK = load_bank(FEEDBACK / "bank")
REFERENCE = FEEDBACK / "reference"
SUBMISSIONS = FEEDBACK / "submissions"
REPORT_SCHEMA = json.loads(SCHEMA_PATH.read_text())
GRADESCOPE_SCHEMA = json.loads((SCHEMA_PATH.parent / "gradescope.schema.json").read_text())
# What the hidden property's inputs, expected values, message and wording look like in a report.
HIDDEN_SENTINELS = ("9.87654", "97.47", "31.027", "QUOKKASECRET", "scale_uses_the_zebra_variance", "Zebra quokka",
                    "3.1415")


@pytest.fixture(scope="module")
def graded(zygote):
    cache = {}

    def run(name: str, reference: bool = True):
        key = (name, reference)
        if key not in cache:
            cache[key] = grade(SUBMISSIONS / name, BANK, reference_dir=REFERENCE if reference else None,
                               zygote=zygote)
        return cache[key]

    return run


def props(result) -> dict:
    return {q.name: q for q in result.problems[0].properties}


def every_format(result, show_hidden: bool = False) -> dict[str, str]:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render(result, console, show_hidden=show_hidden)
    return {
        "json": json.dumps(to_json(result, show_hidden=show_hidden)),
        "gradescope": json.dumps(to_gradescope(result, show_hidden=show_hidden)),
        "junit": to_junit(result, show_hidden=show_hidden),
        "markdown": to_markdown(result, show_hidden=show_hidden),
        "html": to_html(result, show_hidden=show_hidden),
        "terminal": console.file.getvalue(),
    }


# --- counterexamples and diagnosis ---------------------------------------------------------------------


def test_failed_property_shows_its_counterexample_as_data(graded):
    result = graded("sigma_for_variance")
    failed = props(result)["scale_matches_reference"]
    cx = failed.counterexample
    assert failed.status == "failed" and cx is not None
    assert set(cx["inputs"]) == {"x", "sigma"}  # Hypothesis' shrunk arguments, fixtures left out
    assert cx["call"].startswith("scale(")
    # the student's answer is x * sigma and the expected one x * sigma^2, on the very inputs shown
    sigma = float(cx["inputs"]["sigma"])
    assert sigma != 1.0
    student, expected, x = (ast.literal_eval(text) for text in (cx["student"], cx["expected"], cx["inputs"]["x"]))
    assert student == pytest.approx([v * sigma for v in x]) and expected == pytest.approx([v * sigma**2 for v in x])
    assert "tolerance" in cx["relation"] and "1e-06 * |expected|" in cx["tolerance"]
    command = shlex.split(cx["reproduce"])
    assert command[:2] == ["grade", "run"] and Path(command[2]) == (SUBMISSIONS / "sigma_for_variance").resolve()
    assert command[3:] == ["--problem", "lesson.scale", "--seed", "0"]


def test_diagnosis_names_the_mistake_and_shows_a_designed_input(graded):
    diagnosis = graded("sigma_for_variance").problems[0].diagnosis
    assert [m["id"] for m in diagnosis["mistakes"]] == ["sigma_for_variance"]
    # the shrunk example may sit where the mistake is nearly invisible; the probe (sigma = 2) does not
    assert diagnosis["example"] == {"call": "scale([ 1., -2.], 2)", "student": "[ 2., -4.]", "expected": "[ 4., -8.]"}


def test_unknown_mistake_gets_no_name(graded):
    result = graded("other_bug")
    assert result.problems[0].diagnosis["mistakes"] == []
    assert result.problems[0].diagnosis["message"].startswith("no known mistake matches")


def test_correct_submission_gets_no_diagnosis_and_no_counterexample(graded):
    result = graded("correct")
    assert result.score == result.max_score == 4.0
    assert result.problems[0].diagnosis is None and result.problems[0].figures == []
    assert all(q.counterexample is None for q in result.problems[0].properties)


def test_slice_through_the_counterexample_compares_with_the_reference(graded):
    data = props(graded("sigma_for_variance"))["scale_matches_reference"].counterexample["slice"]
    assert data["function"] == "scale" and data["x_label"] == "x[0]"
    assert data["x0"] in data["x"] and len(data["x"]) == len(data["student"]) == len(data["reference"]) > 10
    sigma = float(props(graded("sigma_for_variance"))["scale_matches_reference"].counterexample["inputs"]["sigma"])
    for x, yours, expected in zip(data["x"], data["student"], data["reference"]):
        assert yours == pytest.approx(x * sigma, rel=1e-6) and expected == pytest.approx(x * sigma**2, rel=1e-6)


def test_hidden_property_gets_no_slice_and_figures_come_from_the_spec_hook(graded):
    result = graded("sigma_for_variance")
    assert props(result)["scale_uses_the_zebra_variance"].counterexample["slice"] is None
    [figure] = result.problems[0].figures
    assert figure["title"] == "scale(1, sigma) against sigma^2"
    assert [s["label"] for s in figure["series"]] == ["sigma^2", "yours"]
    assert figure["series"][1]["y"] == pytest.approx(figure["series"][1]["x"])  # scale(1, sigma) = sigma


def test_self_check_states_the_points_not_checked(graded):
    result = graded("other_bug", reference=False)
    assert result.mode == "check" and result.unchecked_points == 2.0
    linear = props(result)["scale_is_linear_in_x"]
    assert linear.status == "failed" and linear.counterexample["reproduce"].startswith("grade check ")
    assert linear.counterexample["slice"] is None  # no reference to compare with
    assert "1 not checked here" in result.problems[0].message
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render(result, console)
    assert "2 points not checked here" in console.file.getvalue()
    assert "Self-check without the reference solution: 2 points not checked." in to_markdown(result)
    report = to_json(result)
    assert (report["mode"], report["unchecked_points"]) == ("check", 2.0)


# --- hidden properties -----------------------------------------------------------------------------


def test_hidden_properties_leak_nothing_in_any_format(graded):
    result = graded("sigma_for_variance")
    hidden = props(result)["scale_uses_the_zebra_variance"]
    assert hidden.hidden and hidden.status == "failed" and hidden.score == 0
    # the sentinels are in the data: a staff report shows them, so their absence below means something
    staff = every_format(result, show_hidden=True)
    for name in ("json", "junit", "markdown", "html", "gradescope"):
        assert "QUOKKASECRET" in staff[name] and "9.87654" in staff[name + ""], name
    for name, text in every_format(result).items():
        leaked = [s for s in HIDDEN_SENTINELS if s in text]
        assert leaked == [], f"{name} shows {leaked}"
        assert "a hidden check failed" in text, name
    # the hidden check still counts in the score
    assert to_json(result)["score"] == to_gradescope(result)["score"] == 1.0
    assert to_json(result)["max_score"] == 4.0


def test_redaction_keeps_status_and_points_and_hides_printed_output(graded):
    result = graded("sigma_for_variance")
    assert "9.87654" in result.problems[0].output  # the student printed the hidden inputs
    shown = visible(result)
    [redacted] = [q for q in shown.problems[0].properties if q.hidden]
    assert (redacted.name, redacted.status, redacted.points, redacted.score) == ("hidden_check_1", "failed", 1.0, 0.0)
    assert redacted.counterexample is None
    assert shown.problems[0].output.startswith("[output not shown")
    assert props(result)["scale_uses_the_zebra_variance"].counterexample is not None  # the original is untouched


# --- each format's own contract -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["correct", "sigma_for_variance", "other_bug"])
def test_json_and_gradescope_reports_validate(graded, name):
    for reference in (True, False):
        result = graded(name, reference)
        for show_hidden in (False, True):
            jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(to_json(result, show_hidden=show_hidden))
            jsonschema.Draft202012Validator(GRADESCOPE_SCHEMA).validate(to_gradescope(result, show_hidden=show_hidden))


def test_gradescope_has_one_test_per_property(graded):
    result = graded("sigma_for_variance")
    report = to_gradescope(result)
    tests = report["tests"]
    assert [t["number"] for t in tests] == ["1.1", "1.2", "1.3"]
    assert [t["status"] for t in tests] == ["failed", "passed", "failed"]
    assert sum(t["score"] for t in tests) == report["score"] == result.score == 1.0
    assert sum(t["max_score"] for t in tests) == result.max_score
    assert tests[0]["name"] == "lesson.scale: scale_matches_reference" and tests[0]["output_format"] == "md"
    assert "Standard deviation used where the variance belongs" in tests[0]["output"]
    assert "Reproduce: grade run" in tests[0]["output"]
    assert tests[2]["tags"] == ["lesson", "lesson.scale", "hidden"] and tests[2]["visibility"] == "visible"
    assert report["stdout_visibility"] == "hidden" and report["execution_time"] >= 0


def test_gradescope_schema_rejects_malformed_results(graded):
    report = to_gradescope(graded("sigma_for_variance"))
    for mutate in (lambda r: r["tests"][0].update(status="partial"), lambda r: r.update(visibility="public"),
                   lambda r: r.update(output_format="pdf"), lambda r: r["tests"][0].update(score="1"),
                   lambda r: r.update(bogus=True)):
        broken = json.loads(json.dumps(report))
        mutate(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(GRADESCOPE_SCHEMA).validate(broken)


def test_junit_structure_and_counts(graded):
    xml = to_junit(graded("sigma_for_variance"))
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("3", "2", "0", "0")
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "lesson.scale" and suite.get("tests") == "3" and suite.get("failures") == "2"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["scale_matches_reference", "scale_is_linear_in_x", "hidden_check_1"]
    failure = cases[0].find("failure")
    assert failure is not None and "but should be" in failure.get("message")
    assert "Yours:" in failure.text and "Expected:" in failure.text and "Diagnosis: looks like" in failure.text
    assert cases[1].find("failure") is None and list(cases[1]) == []
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["score"] == "1"
    skipped = ET.fromstring(to_junit(graded("other_bug", reference=False)))
    assert skipped.get("skipped") == "1" and skipped.find("testsuite/testcase/skipped") is not None


def test_junit_survives_control_characters_in_student_text(graded):
    result = graded("sigma_for_variance")
    dirty = replace(result, problems=[replace(result.problems[0], output="bell\x07 nul\x00 esc\x1b[31m")])
    root = ET.fromstring(to_junit(dirty, show_hidden=True))
    assert "bell" in root.find("testsuite/system-out").text


def test_markdown_table_details_and_escaping(graded):
    result = graded("sigma_for_variance")
    text = to_markdown(result)
    assert text.startswith("## Grade: 1/4 (25.0%)")
    assert "| lesson.scale | 1/4 | ⚠️ partial | 1/3 |" in text
    assert "<details><summary>lesson.scale: 1/4 (partial)</summary>" in text
    assert "Counterexample:" in text and "Reproduce: grade run" in text
    # student text cannot close the code block it is shown in
    evil = replace(result, problems=[replace(result.problems[0], output="```\n<script>alert(1)</script>\n````")])
    shown = to_markdown(evil, show_hidden=True)
    assert "`````\n```\n<script>" in shown


def test_markdown_stays_under_the_step_summary_limit(graded):
    result = graded("sigma_for_variance")
    huge = replace(result, problems=[replace(result.problems[0], output="x" * 200_000)] * 12)
    text = to_markdown(huge, show_hidden=True, limit=300_000)
    assert len(text.encode()) <= 300_000
    assert "left out: the report exceeds GitHub's 1 MiB step-summary limit" in text
    assert text.count("| lesson.scale |") == 12  # the table is always whole
    assert len(to_markdown(huge, show_hidden=True).encode()) <= 1024 * 1024


def test_write_reports_writes_each_requested_format_atomically(graded, tmp_path):
    result = graded("sigma_for_variance")
    paths = {name: tmp_path / "out" / f"report.{name}" for name in ("json", "gradescope", "junit", "markdown", "html")}
    write_reports(result, **paths)
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(to_json(result)))
    assert json.loads(paths["gradescope"].read_text()) == to_gradescope(result)
    ET.fromstring(paths["junit"].read_text())
    assert paths["markdown"].read_text() == to_markdown(result)
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths.values())
    write_reports(result, json=None)  # nothing requested, nothing written


def test_html_is_self_contained(graded):
    page = to_html(graded("sigma_for_variance"))
    assert page.count('src="data:image/svg+xml;base64,') == 2  # the slice and the spec's figure
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "Looks like: Standard deviation used where the variance belongs." in page
    assert "scale([ 1., -2.], 2)" in page  # the designed input


def test_a_counterexamples_failure_reads_as_one_clause():
    from grader.feedback import CallRecord, PropertyRecorder, counterexample

    cases = {
        "kl_normal raised ValueError: shapes do not match\n  File \"divergences.py\", line 3": "raised ValueError: shapes do not match",
        "kl_normal returned a value that cannot be graded: a dict": "returned a value that cannot be graded: a dict",
        "kl_normal: the returned value is not connected to the inputs' autograd graph": "failed: the returned value is not connected to the inputs' autograd graph",
        "something else entirely": "failed: something else entirely",
    }
    for error, expected in cases.items():
        recorder = PropertyRecorder()
        recorder.start_example({"mu": 0.0})
        recorder.calls.append(CallRecord("kl_normal", (0.0,), {}, error=error))
        assert counterexample(None, recorder, "grade run x")["student"] == expected
