"""``grade ci`` in a simulated GitHub Actions environment: the step summary, the annotations at the
student's ``def``, the report files and the exit status; and no student text ever becomes a
workflow command, checked by parsing the output the way the Actions runner does."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, strategies as st

from grader.bank import REPO_ROOT, load_bank
from grader.ci import (ANNOTATIONS_PER_LEVEL, annotation_root, annotations, append_step_summary,
                       definition_line, escape_data, escape_property, workflow_command)
from grader.cli import EXIT_BELOW_THRESHOLD, EXIT_OK, EXIT_USAGE, build_parser, main
from grader.runner import ProblemResult, PropertyResult, RunResult

from conftest import SCHEMA_PATH

HOSTILE = ("::set-output name=score::100\n::error title=forged::all good\r\n%0A::warning::x%0D"
           "\n  ::add-mask::secret\n##[set-output name=score;]100\n::stop-commands::abc, :: %25 end")


# --- the runner's side of workflow commands ---------------------------------------------------------


def _unescape(text: str, *, prop: bool) -> str:
    """The Actions runner's unescaping (ActionCommand.cs): the mapped escapes first, ``%25`` last."""
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
    for escaped, raw in pairs:
        text = text.replace(escaped, raw)
    return text.replace("%25", "%")


def parse_command(line: str):
    """A line as the runner reads it: ``(name, properties, data)`` for a workflow command, else None.
    Like the runner, leading blanks are ignored, and the legacy ``##[name ...]data`` form is found
    anywhere in the line."""
    stripped = line.lstrip()
    if stripped.startswith("::"):
        end = stripped.find("::", 2)
        if end > 2:
            name, _, props = stripped[2:end].partition(" ")
            properties = dict(p.split("=", 1) for p in props.split(",") if "=" in p)
            return name, {k: _unescape(v, prop=True) for k, v in properties.items()}, \
                _unescape(stripped[end + 2:], prop=False)
    start = line.find("##[")
    if start >= 0 and line.find("]", start) > 0:
        name = line[start + 3:line.find("]", start)].split(" ")[0].split(";")[0]
        return name, {}, line[line.find("]", start) + 1:]
    return None


def runner_lines(output: str) -> list[str]:
    """Lines as .NET's ``StreamReader.ReadLine`` splits them (only CR, LF, CRLF; Python's
    ``splitlines`` also splits on form feeds, U+2028 and others, which the runner does not)."""
    return re.split(r"\r\n|\r|\n", output)


def processed_commands(output: str) -> list[tuple[str, dict, str]]:
    """The commands the runner would act on, honouring ``::stop-commands::TOKEN`` ... ``::TOKEN::``."""
    acted, stop_token = [], None
    for line in runner_lines(output):
        command = parse_command(line)
        if command is None:
            continue
        name, _, data = command
        if stop_token is not None:
            if name == stop_token:
                stop_token = None
            continue
        if name == "stop-commands":
            stop_token = data
            continue
        acted.append(command)
    return acted


# --- escaping ----------------------------------------------------------------------------------------


@given(st.text())
def test_escaped_data_is_one_line_that_unescapes_to_the_text(text):
    escaped = escape_data(text)
    assert "\n" not in escaped and "\r" not in escaped
    assert _unescape(escaped, prop=False) == text


@given(st.text())
def test_escaped_property_cannot_end_the_property_list(text):
    escaped = escape_property(text)
    assert not set("\r\n:,") & set(escaped)
    assert _unescape(escaped, prop=True) == text


@given(title=st.text(), message=st.text(), file=st.text())
def test_a_workflow_command_is_exactly_one_command(title, message, file):
    line = workflow_command("error", message, file=file, line=3, title=title)
    assert processed_commands(line) == [("error", {"file": file, "line": "3", "title": title}, message)]


def test_escaping_of_known_sequences():
    assert escape_data("100%\r\n::x") == "100%25%0D%0A::x"
    assert escape_property("a:b,c%0A") == "a%3Ab%2Cc%250A"
    assert workflow_command("warning", "m", file=None, title="t") == "::warning title=t::m"


# --- the line of a definition ------------------------------------------------------------------------


def test_definition_line_finds_the_def_python_keeps(tmp_path):
    path = tmp_path / "divergences.py"
    path.write_text(textwrap.dedent("""\
        import torch

        def kl_normal(a, b, c, d):
            return 0

        class Helper:
            def kl_mvn(self):
                pass

        def kl_normal(a, b, c, d):  # the later definition wins in Python
            return 1
        kl_mvn = lambda *args: 0
        """))
    assert definition_line(path, "kl_normal") == 10
    assert definition_line(path, "kl_mvn") == 12  # module level only: not the method at line 7
    assert definition_line(path, "kl_categorical") is None


@pytest.mark.parametrize("source", ["def kl_normal(:\n", "x = 1\0\n", "(" * 1000 + ")" * 1000 + "\n"])
def test_definition_line_of_an_unparsable_file_is_unknown(tmp_path, source):
    path = tmp_path / "divergences.py"
    path.write_text(source)
    assert definition_line(path, "kl_normal") is None


def test_definition_line_neither_follows_links_nor_blocks_on_fifos(tmp_path):
    target = tmp_path / "elsewhere.py"
    target.write_text("def kl_normal():\n    pass\n")
    (tmp_path / "link.py").symlink_to(target)
    os.mkfifo(tmp_path / "fifo.py")
    assert definition_line(tmp_path / "link.py", "kl_normal") is None
    assert definition_line(tmp_path / "fifo.py", "kl_normal") is None  # returns at once, never blocks


def test_annotation_paths_are_relative_to_the_repository_root(tmp_path):
    repo = tmp_path / "workspace" / "student-repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "hw1").mkdir()
    assert annotation_root(repo / "hw1", {}) == repo.resolve()
    bare = tmp_path / "workspace" / "plain" / "hw1"
    bare.mkdir(parents=True)
    assert annotation_root(bare, {"GITHUB_WORKSPACE": str(tmp_path / "workspace")}) == \
        (tmp_path / "workspace").resolve()


# --- annotations from a result -----------------------------------------------------------------------


def _property(name, passed, message="", hidden=False):
    return PropertyResult(name=name, description=f"{name} holds.", points=2, score=2 if passed else 0,
                          status="passed" if passed else "failed", message=message, duration_s=0.1, hidden=hidden)


def _result(problems) -> RunResult:
    return RunResult(submission="/sub", seed=0, device="cpu", problems=problems, duration_s=1.0)


@pytest.fixture(scope="module")
def divergences():
    return [p for p in load_bank(REPO_ROOT / "problems") if p.module == "divergences"]


def test_annotations_point_at_the_def_with_level_by_score(tmp_path, divergences):
    (tmp_path / ".git").mkdir()
    submission = tmp_path / "hw"
    submission.mkdir()
    (submission / "divergences.py").write_text("import torch\n\n\ndef kl_normal(a, b, c, d):\n    return a\n")
    partial = ProblemResult(
        id="divergences.kl_normal", title="KL", score=2, max_score=4, status="partial", message="1 of 2",
        properties=[_property("kl_is_nonnegative", True),
                    _property("kl_matches_reference", False, "KL is 1, but should be 2\nFailing test case: ..."),
                    ], diagnosis={"mistakes": [{"title": "KL direction swapped", "hint": "Which weights?"}]})
    missing = ProblemResult(id="divergences.kl_mvn", title="MVN", score=0, max_score=10, status="error",
                            message="the submission does not define kl_mvn")
    passed = ProblemResult(id="divergences.kl_categorical", title="Cat", score=10, max_score=10, status="passed",
                           message="")
    hidden = ProblemResult(id="divergences.kl_diag_normal_std", title="Diag", score=0, max_score=2,
                           status="failed", message="1 of 1",
                           properties=[_property("secret_property", False, "the hidden expected value is 42",
                                                 hidden=True)])
    found = annotations(_result([partial, missing, passed, hidden]), divergences, submission, tmp_path.resolve())
    assert [(a.level, a.title, a.file, a.line) for a in found] == [
        ("error", "divergences.kl_mvn: 0/10 (error)", "hw/divergences.py", None),
        ("error", "divergences.kl_diag_normal_std: 0/2 (failed)", "hw/divergences.py", None),
        ("warning", "divergences.kl_normal: 2/4 (partial)", "hw/divergences.py", 4),
    ]
    warning = found[2].message
    assert warning.startswith("1 of 2 properties failed.")
    assert "Looks like “KL direction swapped”: Which weights?" in warning
    assert "kl_matches_reference [failed]: kl_matches_reference holds. — KL is 1, but should be 2" in warning
    assert "Failing test case" not in warning  # the first line of a message, the summary has the rest
    assert found[0].message == "the submission does not define kl_mvn"
    assert "42" not in found[1].message and "secret_property" in found[1].message  # hidden: named, not shown


def test_annotations_without_the_students_file_have_no_location(tmp_path, divergences):
    missing = ProblemResult(id="divergences.kl_normal", title="KL", score=0, max_score=10, status="error",
                            message="the submission has no divergences.py")
    (found,) = annotations(_result([missing]), divergences, tmp_path, tmp_path)
    assert (found.file, found.line) == (None, None)
    assert found.command() == "::error title=divergences.kl_normal%3A 0/10 (error)::the submission has no divergences.py"


def test_annotations_stay_within_githubs_limit_per_level(tmp_path, divergences):
    failing = [ProblemResult(id=f"divergences.p{i}", title="", score=0, max_score=1, status="failed",
                             message="") for i in range(14)]
    found = annotations(_result(failing), divergences, tmp_path, tmp_path)
    assert len(found) == ANNOTATIONS_PER_LEVEL
    assert found[-1].title == "5 more problems lost points"
    assert found[-1].message == "See the step summary for: " + ", ".join(f"divergences.p{i}" for i in range(9, 14))


def test_step_summary_is_appended_and_capped(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# an earlier step\n")
    append_step_summary("## Grade\n" + "x" * (2 << 20), summary)
    text = summary.read_text()
    assert text.startswith("# an earlier step\n## Grade\n")
    assert len(text.encode()) <= 1000 * 1024 + 100
    assert text.rstrip().endswith("*The report was cut here: the full report is in the uploaded files.*")


# --- the command in a simulated Actions job ---------------------------------------------------------


@pytest.fixture
def job(tmp_path):
    """A fake Actions job: workspace with the student's repository, runner temp, summary and output
    files, and a bank holding divergences.kl_normal only (fast; the rest is audited elsewhere)."""
    bank = tmp_path / "bank"
    shutil.copytree(REPO_ROOT / "problems" / "divergences" / "kl_normal", bank / "divergences" / "kl_normal",
                    ignore=shutil.ignore_patterns("__pycache__"))
    workspace = tmp_path / "workspace"
    (workspace / ".git").mkdir(parents=True)
    (workspace / "student").mkdir()
    (tmp_path / "runner-temp").mkdir()
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "GRADE_"))}
    env.update(GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace), RUNNER_TEMP=str(tmp_path / "runner-temp"),
               GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(tmp_path / "github_output"),
               GRADE_BANK=str(bank), GRADE_REFERENCE=str(REPO_ROOT / "reference"))
    return {"env": env, "workspace": workspace, "summary": summary, "output": tmp_path / "github_output",
            "reports": tmp_path / "runner-temp" / "grade-report", "tmp": tmp_path}


def run_ci(job, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "ci", *args], capture_output=True, text=True,
                          cwd=job["workspace"], env=job["env"], timeout=180)


def write_student(job, source: str) -> Path:
    path = job["workspace"] / "student" / "divergences.py"
    path.write_text(textwrap.dedent(source))
    return path


CALL_HOSTILE = f'''\
import torch

MESSAGE = {HOSTILE!r}
print(MESSAGE)


def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    print(MESSAGE)
    raise ValueError(MESSAGE)
'''


def test_ci_in_actions_summary_annotations_files_and_no_injection(job):
    write_student(job, CALL_HOSTILE)
    completed = run_ci(job, "student", "--problem", "divergences.kl_normal", "--fail-under", "50", "--device", "cpu")
    assert completed.returncode == EXIT_BELOW_THRESHOLD, completed.stderr
    assert "Traceback" not in completed.stderr
    out = completed.stdout + completed.stderr
    # the student's text did reach the output, at the start of lines: what the runner must not act on
    every_command = [c[0] for c in map(parse_command, runner_lines(out)) if c is not None]
    assert "set-output" in every_command and "add-mask" in every_command, every_command
    acted = processed_commands(out)
    assert [name for name, _, _ in acted] == ["error", "error"], acted
    (annotation, properties, message), threshold = acted
    assert properties == {"file": "student/divergences.py", "line": "7",
                          "title": "divergences.kl_normal: 0/10 (failed)"}
    assert message.startswith("7 of 7 properties failed.")
    assert "kl_normal raised ValueError: ::set-output name=score::100" in message
    assert threshold[1] == {"title": "grade ci"} and threshold[2] == "Score 0.0% is below --fail-under 50%."
    # the step summary: appended after the earlier step's
    summary = job["summary"].read_text()
    assert summary.startswith("earlier step\n") and "divergences.kl_normal" in summary
    # step outputs: numbers and fixed words only
    outputs = dict(line.split("=", 1) for line in job["output"].read_text().splitlines())
    assert outputs == {"score": "0", "max-score": "10", "percent": "0.00", "isolation": outputs["isolation"]}
    assert outputs["isolation"] in ("minimal", "standard", "strong")
    # report files for upload, in the runner's temp directory (outside the student's checkout)
    report = json.loads((job["reports"] / "report.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(report)
    assert (report["score"], report["max_score"]) == (0, 10)
    junit = ElementTree.parse(job["reports"] / "junit.xml").getroot()
    assert len(junit.findall(".//testcase")) == 7
    assert len(junit.findall(".//failure")) + len(junit.findall(".//error")) == 7
    assert "divergences.kl_normal" in (job["reports"] / "summary.md").read_text()
    assert not (job["workspace"] / "grade-report").exists()


IMPORT_HOSTILE = f'''\
import torch

raise RuntimeError({HOSTILE!r})


def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    return torch.zeros(())
'''


def test_ci_escapes_a_multiline_student_message_in_the_annotation(job):
    write_student(job, IMPORT_HOSTILE)
    completed = run_ci(job, "student", "--problem", "divergences.kl_normal", "--device", "cpu")
    assert completed.returncode == EXIT_OK, completed.stderr
    acted = processed_commands(completed.stdout + completed.stderr)
    assert len(acted) == 1, acted
    name, properties, message = acted[0]
    assert (name, properties["line"], properties["title"]) == ("error", "6", "divergences.kl_normal: 0/10 (error)")
    assert HOSTILE in message  # carried whole, escaped on its one line, unescaped by the runner


def test_ci_annotates_the_def_of_a_partially_wrong_function(job):
    source = (REPO_ROOT / "submissions" / "kl_normal-direction_swapped" / "divergences.py").read_text()
    write_student(job, source)
    completed = run_ci(job, "student", "--problem", "divergences.kl_normal", "--device", "cpu",
                       "--fail-under", "50")
    assert completed.returncode == EXIT_OK, completed.stderr
    acted = processed_commands(completed.stdout)
    assert [name for name, _, _ in acted] == ["warning"]
    expected_line = next(i for i, line in enumerate(source.splitlines(), 1) if line.startswith("def kl_normal"))
    assert acted[0][1]["line"] == str(expected_line)
    assert "KL direction swapped" in acted[0][2]


def test_ci_outside_actions_behaves_like_run_with_report_files(job, tmp_path):
    write_student(job, (REPO_ROOT / "reference" / "divergences.py").read_text())
    env = {k: v for k, v in job["env"].items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    out = tmp_path / "custom"
    completed = subprocess.run(
        [sys.executable, "-m", "grader", "ci", "student", "--problem", "divergences.kl_normal", "--device", "cpu",
         "--fail-under", "100", "--junit", str(out / "tests.xml")],
        capture_output=True, text=True, cwd=job["workspace"], env=env, timeout=180)
    assert completed.returncode == EXIT_OK, completed.stderr
    assert "::" not in completed.stdout  # no workflow commands off Actions
    assert "Total: 10/10 (100.0%)" in completed.stdout
    reports = job["workspace"] / "grade-report"
    assert json.loads((reports / "report.json").read_text())["percent"] == 100.0
    assert ElementTree.parse(out / "tests.xml").getroot().findall(".//testcase")
    assert not (reports / "junit.xml").exists()
    assert job["summary"].read_text() == "earlier step\n"  # untouched off Actions


def test_ci_usage_errors(job, capsys, monkeypatch):
    for key, value in job["env"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(job["workspace"])
    assert main(["ci", "nowhere"]) == EXIT_USAGE
    assert capsys.readouterr().err == "grade: error: submission not found: nowhere\n"
    (job["workspace"] / "student" / "divergences.py").write_text("")
    assert main(["ci", "student", "--json", str(job["workspace"])]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("grade: error: --json: cannot write a report to ")
    assert main(["ci", "student", "--fail-under", "101"]) == EXIT_USAGE
    assert "--fail-under expects a percentage in [0, 100], got 101" in capsys.readouterr().err


def test_ci_parser_defaults():
    args = build_parser().parse_args(["ci", "hw1"])
    assert (args.submission, args.device, args.seed, args.fail_under, args.report_dir, args.json) == \
        ("hw1", "auto", 0, None, None, None)


# --- the workflow template ---------------------------------------------------------------------------

WORKFLOW = REPO_ROOT / "examples" / "github-actions" / "autograde.yml"


@pytest.fixture(scope="module")
def workflow():
    import yaml

    return yaml.safe_load(WORKFLOW.read_text())


def _step_index(steps, predicate) -> int:
    matches = [i for i, step in enumerate(steps) if predicate(step)]
    assert len(matches) == 1, matches
    return matches[0]


def test_workflow_template_structure(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request_target"}
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["grade"]
    assert job["runs-on"] == "ubuntu-24.04"
    steps = job["steps"]
    bank = _step_index(steps, lambda s: s.get("with", {}).get("path") == "bank")
    pull_request = _step_index(steps, lambda s: s.get("with", {}).get("path") == "submission")
    install = _step_index(steps, lambda s: "pip install ./bank" in s.get("run", ""))
    save = _step_index(steps, lambda s: s.get("uses", "").startswith("actions/cache/save@"))
    grading = _step_index(steps, lambda s: "grade ci" in s.get("run", ""))
    upload = _step_index(steps, lambda s: s.get("uses", "").startswith("actions/upload-artifact@"))
    # the bank and every dependency (and the cache) before any code of the pull request is on the runner
    assert bank < install < save < pull_request < grading < upload
    assert steps[pull_request]["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert all(steps[i]["with"]["persist-credentials"] is False for i in (bank, pull_request))
    # the secret is named by the bank's checkout only: no later step has it in its environment
    assert [i for i, step in enumerate(steps) if "secrets." in json.dumps(step)] == [bank]
    assert "download.pytorch.org/whl/cpu" in steps[install]["run"]
    env = steps[grading]["env"]
    assert env["GRADE_BANK"].endswith("/bank/problems") and env["GRADE_REFERENCE"].endswith("/bank/reference")
    assert steps[upload]["with"]["path"].startswith("${{ runner.temp }}/grade-report")  # grade ci's default


def test_workflow_grade_command_parses(workflow):
    import shlex

    (step,) = [s for s in workflow["jobs"]["grade"]["steps"] if "grade ci" in s.get("run", "")]
    line = step["run"].replace('"$PASS_PERCENT"', workflow["env"]["PASS_PERCENT"])
    argv = shlex.split(line)
    assert argv[0] == "grade"
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.submission, args.require_isolation, args.fail_under, args.device) == \
        ("ci", "submission", "standard", 60.0, "cpu")
