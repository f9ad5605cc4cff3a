"""The command line: usage errors exit 2 with one line on stderr and no traceback, a completed run
exits 0 (1 under --fail-under), a bank bug exits 3, and `grade list` lists the bank."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest
import torch

from grader.bank import REPO_ROOT
from grader.cli import EXIT_BELOW_THRESHOLD, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, main, resolve_device

from conftest import FIXTURE_BANK, FIXTURE_REFERENCE, FIXTURE_SUBMISSIONS, SCHEMA_PATH

SCHEMA = json.loads(SCHEMA_PATH.read_text())
CORRECT = str(FIXTURE_SUBMISSIONS / "correct")
BUGGY = str(FIXTURE_SUBMISSIONS / "buggy")


@pytest.fixture
def fixture_bank(monkeypatch):
    monkeypatch.setenv("GRADE_BANK", str(FIXTURE_BANK))
    monkeypatch.setenv("GRADE_REFERENCE", str(FIXTURE_REFERENCE))


@pytest.fixture
def kl_normal_bank(tmp_path, monkeypatch):
    """The real divergences.kl_normal problem alone in a bank: this test is about the command line,
    and must not depend on the rest of the bank (other problems are audited by test_bank.py)."""
    bank = tmp_path / "bank"
    shutil.copytree(REPO_ROOT / "problems" / "divergences" / "kl_normal", bank / "divergences" / "kl_normal",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("GRADE_BANK", str(bank))
    monkeypatch.setenv("GRADE_REFERENCE", str(REPO_ROOT / "reference"))
    return bank


def run_cli(*args: str, cwd=None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GRADE_DEBUG", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def assert_usage_error(code: int, err: str, *fragments: str) -> None:
    assert code == EXIT_USAGE
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("grade: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


# --- usage errors -------------------------------------------------------------------------------------


USAGE_ERRORS = [
    (["run", "/no/such/submission"], ["submission not found: /no/such/submission"]),
    (["run", str(FIXTURE_SUBMISSIONS / "correct" / "toy.py")], ["must be a directory"]),
    (["run", CORRECT, "--problem", "toy.cube"], ["unknown problem 'toy.cube'"]),
    (["run", CORRECT, "--problem", "toy.double", "--problem", "nosuchmodule"], ["unknown problem 'nosuchmodule'"]),
    (["run", CORRECT, "--fail-under", "abc"], ["--fail-under", "percentage", "'abc'"]),
    (["run", CORRECT, "--fail-under", "150"], ["--fail-under", "[0, 100]"]),
    (["run", CORRECT, "--fail-under", "-1"], ["--fail-under"]),
    (["run", CORRECT, "--fail-under", "nan"], ["--fail-under"]),
    (["run", CORRECT, "--device", "tpu"], ["--device", "invalid choice"]),
    (["run", CORRECT, "--seed", "one"], ["--seed"]),
    (["run", CORRECT, "--json", "/no/such/dir/report.json"], ["--json", "/no/such/dir/report.json"]),
    (["run", CORRECT, "--no-such-option"], ["unrecognized arguments: --no-such-option"]),
    (["run"], ["SUBMISSION"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
    (["list", "--verbose"], ["unrecognized arguments: --verbose"]),
]


@pytest.mark.parametrize("argv,fragments", USAGE_ERRORS,                          ids=[" ".join(argv).replace(CORRECT, "CORRECT").replace(str(FIXTURE_SUBMISSIONS), "SUBMISSIONS")
                              for argv, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line(fixture_bank, capsys, argv, fragments):
    code = main(argv)
    captured = capsys.readouterr()
    assert_usage_error(code, captured.err, *fragments)


def test_json_path_that_is_a_directory_is_a_usage_error(fixture_bank, capsys, tmp_path):
    code = main(["run", CORRECT, "--json", str(tmp_path)])
    assert_usage_error(code, capsys.readouterr().err, "--json")


def test_missing_bank_is_a_usage_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GRADE_BANK", str(tmp_path / "nowhere"))
    assert_usage_error(main(["list"]), capsys.readouterr().err, "problem bank not found")
    assert_usage_error(main(["run", CORRECT]), capsys.readouterr().err, "problem bank not found")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_a_usage_error(fixture_bank, capsys):
    code = main(["run", CORRECT, "--device", "cuda"])
    assert_usage_error(code, capsys.readouterr().err, "--device cuda", "CUDA is not available")


def test_device_auto_resolves_to_what_is_there():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("argv,fragment", [
    (["run", "/no/such/submission"], "submission not found"),
    (["bogus"], "invalid choice"),
])
def test_usage_errors_in_a_real_process(argv, fragment):
    completed = run_cli(*argv)
    assert_usage_error(completed.returncode, completed.stderr, fragment)
    assert completed.stdout == ""


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_in_a_real_process():
    completed = run_cli("run", CORRECT, "--device", "cuda",
                        env_extra={"GRADE_BANK": str(FIXTURE_BANK), "GRADE_REFERENCE": str(FIXTURE_REFERENCE)})
    assert_usage_error(completed.returncode, completed.stderr, "CUDA is not available")


def test_bank_bug_is_an_internal_error_with_one_line(monkeypatch, capsys, tmp_path):
    bank = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, bank)
    (bank / "toy" / "square" / "spec.py").write_text("raise ImportError('spec is broken')\n")
    monkeypatch.setenv("GRADE_BANK", str(bank))
    monkeypatch.delenv("GRADE_DEBUG", raising=False)
    code = main(["run", CORRECT, "--problem", "toy.square"])
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL
    assert err.splitlines() == [err.strip()] and err.startswith("grade: internal error: ImportError: spec is broken")
    assert "Traceback" not in err


def test_malformed_bank_is_a_usage_error(monkeypatch, capsys, tmp_path):
    bank = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, bank)
    (bank / "toy" / "square" / "problem.toml").write_text('id = "toy.wrong"\n')
    monkeypatch.setenv("GRADE_BANK", str(bank))
    assert_usage_error(main(["list"]), capsys.readouterr().err, "problem.toml")


# --- runs ---------------------------------------------------------------------------------------------


def test_reference_run_writes_a_full_marks_report(kl_normal_bank, tmp_path):
    out = tmp_path / "out.json"
    completed = run_cli("run", "reference", "--problem", "divergences.kl_normal", "--json", str(out), cwd=REPO_ROOT)
    assert completed.returncode == EXIT_OK, completed.stderr
    assert "Traceback" not in completed.stderr
    report = json.loads(out.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert report["score"] == report["max_score"] > 0
    assert report["percent"] == 100.0
    assert report["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # --device auto
    assert [p["id"] for p in report["problems"]] == ["divergences.kl_normal"]
    assert all(q["status"] == "passed" for q in report["problems"][0]["properties"])
    assert "divergences.kl_normal" in completed.stdout and "Total: 10/10" in completed.stdout


def test_fail_under_exits_1_below_the_threshold(fixture_bank, capsys, tmp_path):
    out = tmp_path / "buggy.json"
    code = main(["run", BUGGY, "--device", "cpu", "--fail-under", "100", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == EXIT_BELOW_THRESHOLD
    assert "below --fail-under 100%" in captured.out
    report = json.loads(out.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert (report["score"], report["max_score"]) == (4.0, 6.0)
    # the same run at a threshold it meets completes with 0
    assert main(["run", BUGGY, "--device", "cpu", "--fail-under", "66", "--problem", "toy"]) == EXIT_OK
    assert "Traceback" not in capsys.readouterr().err


def test_run_of_a_submission_without_the_module_completes(fixture_bank, capsys):
    # a student's missing module is a grade of 0, not an error of the command
    code = main(["run", str(FIXTURE_SUBMISSIONS / "missing"), "--device", "cpu", "--seed", "3"])
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert "the submission has no toy.py" in captured.out
    assert "Total: 0/6" in captured.out


def test_list_shows_the_bank(fixture_bank, capsys):
    assert main(["list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "toy.double" in out and "toy.square" in out and "Double a tensor" in out


def test_list_json(fixture_bank, capsys):
    assert main(["list", "--json"]) == EXIT_OK
    listing = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in listing["problems"]] == ["toy.double", "toy.square"]
    double = listing["problems"][0]
    assert (double["title"], double["points"], double["properties"], double["reference_free"]) == \
        ("Double a tensor", 3.0, 3, 2)


def test_list_json_in_a_real_process():
    completed = run_cli("list", "--json", env_extra={"GRADE_BANK": str(FIXTURE_BANK)})
    assert completed.returncode == EXIT_OK, completed.stderr
    assert [row["id"] for row in json.loads(completed.stdout)["problems"]] == ["toy.double", "toy.square"]


def test_no_command_is_a_one_line_usage_error(capsys):
    from grader.cli import main

    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["grade: error: a command is required (see grade --help)"]


def test_stored_output_says_when_it_was_cut():
    from grader.report import MAX_REPORTED_OUTPUT, _capped

    text = _capped("x" * (MAX_REPORTED_OUTPUT + 500))
    assert len(text) <= MAX_REPORTED_OUTPUT and "more characters of output not stored" in text


# --- report files, the self-check, and the terminal output when piped ----------------------------------

FEEDBACK = FIXTURE_BANK.parent / "feedback"


@pytest.fixture
def feedback_bank(monkeypatch):
    monkeypatch.setenv("GRADE_BANK", str(FEEDBACK / "bank"))
    monkeypatch.setenv("GRADE_REFERENCE", str(FEEDBACK / "reference"))


def test_run_writes_every_report_format(feedback_bank, capsys, tmp_path):
    import xml.etree.ElementTree as ET

    paths = {name: tmp_path / f"out.{name}" for name in ("json", "gradescope", "junit", "markdown", "html")}
    argv = ["run", str(FEEDBACK / "submissions" / "sigma_for_variance"), "--device", "cpu"]
    for name, path in paths.items():
        argv += [f"--{name}", str(path)]
    assert main(argv) == EXIT_OK
    report = json.loads(paths["json"].read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert report["hidden_shown"] is False and "QUOKKASECRET" not in paths["json"].read_text()
    assert json.loads(paths["gradescope"].read_text())["score"] == report["score"] == 1.0
    assert ET.fromstring(paths["junit"].read_text()).get("failures") == "2"
    assert paths["markdown"].read_text().startswith("## Grade: 1/4")
    assert "data:image/svg+xml;base64," in paths["html"].read_text()
    out = capsys.readouterr().out
    assert "Reproduce: grade run" in out and "Hint:" in out and "On a designed input" in out
    assert "QUOKKASECRET" not in out and "a hidden check failed" in out


def test_show_hidden_is_for_staff_reports(feedback_bank, capsys, tmp_path):
    out = tmp_path / "staff.json"
    assert main(["run", str(FEEDBACK / "submissions" / "sigma_for_variance"), "--device", "cpu",
                 "--show-hidden", "--json", str(out)]) == EXIT_OK
    assert json.loads(out.read_text())["hidden_shown"] is True
    assert "QUOKKASECRET" in out.read_text() and "QUOKKASECRET" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--gradescope", "--junit", "--markdown", "--html"])
def test_report_path_in_a_missing_directory_is_a_usage_error(feedback_bank, capsys, flag):
    code = main(["run", CORRECT, flag, "/no/such/dir/report"])
    assert_usage_error(code, capsys.readouterr().err, flag, "/no/such/dir/report")


def test_check_grades_without_the_reference_and_says_what_it_did_not_check(feedback_bank, capsys, tmp_path):
    out = tmp_path / "check.json"
    assert main(["check", str(FEEDBACK / "submissions" / "correct"), "--device", "cpu", "--json", str(out)]) == EXIT_OK
    report = json.loads(out.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert (report["mode"], report["unchecked_points"], report["score"]) == ("check", 2.0, 2.0)
    statuses = {q["name"]: q["status"] for q in report["problems"][0]["properties"]}
    assert statuses["scale_matches_reference"] == "skipped"
    printed = capsys.readouterr().out
    assert "Self-check of" in printed and "2 points not checked here" in printed


def test_check_does_not_take_staff_options(feedback_bank, capsys):
    for option in ("--show-hidden", "--fail-under=50"):
        code = main(["check", CORRECT, option])
        assert_usage_error(code, capsys.readouterr().err, "unrecognized arguments")


def test_piped_output_is_plain_text(tmp_path):
    completed = run_cli("run", str(FEEDBACK / "submissions" / "sigma_for_variance"), "--device", "cpu",
                        env_extra={"GRADE_BANK": str(FEEDBACK / "bank"), "GRADE_REFERENCE": str(FEEDBACK / "reference"),
                                   "TERM": "xterm-256color", "COLUMNS": "160"})
    assert completed.returncode == EXIT_OK, completed.stderr
    out = completed.stdout
    assert "\x1b[" not in out  # no colour, no spinner: stdout is a pipe
    assert "lesson.scale" in out and "1/4" in out and "partial" in out
    assert "Diagnosis: looks like “Standard deviation used where the variance belongs”" in out
    assert "Reproduce: grade run" in out and "Total: 1/4 (25.0%)" in out
