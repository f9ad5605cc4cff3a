"""grade() end to end on a test-only bank (tests/fixtures/bank: toy.double, toy.square) and fixture
submissions that crash, hang, flood, leak processes, or lack their module: each failure costs only
the property where it happened, unavailable problems score 0 with their reason, nothing outlives the
run, runs are reproducible, and the JSON report follows its schema."""

from __future__ import annotations

import copy
import io
import json
import shutil
import time

import jsonschema
import pytest
from rich.console import Console

from grader.bank import load_bank, select
from grader.report import MAX_REPORTED_OUTPUT, render, to_json, write_json
from grader.runner import grade
from grader.isolation import landlock_abi
from grader.sandbox import Limits, Zygote

SPAWNING = Limits(allow_subprocesses=True)

from conftest import (FIXTURE_BANK, FIXTURE_REFERENCE, FIXTURE_SUBMISSIONS, SCHEMA_PATH, assert_gone,
                      assert_no_workers, read_pids)

BANK = load_bank(FIXTURE_BANK)
SCHEMA = json.loads(SCHEMA_PATH.read_text())
ALL_PASSED = {"toy.double": {"doubles_small_values": "passed", "doubles_large_values": "passed",
                             "double_matches_reference": "passed"},
              "toy.square": {"squares_elementwise": "passed", "square_is_nonnegative": "passed"}}


def validate(report: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(report)


def statuses(result) -> dict:
    return {p.id: {q.name: q.status for q in p.properties} for p in result.problems}


def scores(result) -> dict:
    return {p.id: (p.score, p.max_score, p.status) for p in result.problems}


def problem(result, problem_id):
    [found] = [p for p in result.problems if p.id == problem_id]
    return found


def without_timings(report: dict) -> dict:
    report = copy.deepcopy(report)
    report.pop("duration_s")
    for entry in report["problems"]:
        for prop in entry["properties"]:
            prop.pop("duration_s")
    return report


@pytest.fixture(scope="module")
def graded(zygote):
    """grade() of a fixture submission with seed 0, computed once per module; also checks that the
    run left no process behind and that its report is valid."""
    cache = {}

    def run(name: str):
        if name not in cache:
            started = time.monotonic()
            result = grade(FIXTURE_SUBMISSIONS / name, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote)
            elapsed = time.monotonic() - started
            assert_no_workers(zygote)
            validate(to_json(result))
            cache[name] = (result, elapsed)
        return cache[name][0]

    run.elapsed = lambda name: cache[name][1]
    return run


def test_fixture_bank_loads():
    assert [p.id for p in BANK] == ["toy.double", "toy.square"]
    limits = BANK[0].limits(Limits())
    assert (limits.call_timeout_s, limits.output_bytes) == (1, 2048)


def test_correct_submission_scores_full_marks(graded):
    result = graded("correct")
    assert statuses(result) == ALL_PASSED
    assert scores(result) == {"toy.double": (3.0, 3.0, "passed"), "toy.square": (3.0, 3.0, "passed")}
    assert result.score == result.max_score == 6.0 and result.percent == 100.0
    assert all(p.message == "" for p in result.problems)


@pytest.mark.parametrize("name,status,fragment", [
    ("crash", "error", "exited with status 3"),
    ("segfault", "error", "killed by signal SIGSEGV"),
    ("hang", "timeout", "no answer within the 1 s CPU budget"),
    ("flood_forever", "timeout", "no answer within the 1 s CPU budget"),
])
def test_worker_loss_costs_only_its_property_and_a_fresh_worker_serves_the_next(graded, name, status, fragment):
    result = graded(name)
    double = problem(result, "toy.double")
    [small, large, reference] = double.properties
    assert (small.status, small.score) == ("passed", 1.0)
    assert (large.status, large.score) == (status, 0.0)
    assert fragment in large.message
    # the property after the loss ran in a fresh worker and passed
    assert (reference.status, reference.score) == ("passed", 1.0)
    assert (double.score, double.max_score, double.status) == (2.0, 3.0, "partial")
    assert double.message == "1 of 3 properties failed"
    # the other problem is graded normally
    assert statuses(result)["toy.square"] == ALL_PASSED["toy.square"]
    assert result.score == 5.0
    # one 1 s CPU budget at most, not the default 10 s
    assert graded.elapsed(name) < 30


def test_flood_without_end_is_capped(graded):
    output = problem(graded("flood_forever"), "toy.double").output
    kept, _, note = output.partition("\n[... ")
    assert kept.startswith("flood flood") and len(kept) <= 2048
    assert note.endswith("more bytes of output dropped]")


def test_killing_the_zygote_costs_only_its_property():
    # At the minimal level (no Landlock signal scoping) the submission can kill the process that
    # forks the workers: the next property gets a fresh zygote.
    started = time.monotonic()
    with Zygote(layers=()) as zygote:
        result = grade(FIXTURE_SUBMISSIONS / "zygote_killer", BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote)
    assert time.monotonic() - started < 60
    assert result.isolation == "minimal"
    assert statuses(result) == {**ALL_PASSED, "toy.double": {**ALL_PASSED["toy.double"],
                                                             "doubles_large_values": "error"}}
    assert result.score == 5.0
    validate(to_json(result))


@pytest.mark.skipif(landlock_abi() < 6, reason="needs Landlock signal scoping (ABI 6, Linux 6.12)")
def test_with_landlock_the_zygote_cannot_be_killed():
    result = grade(FIXTURE_SUBMISSIONS / "zygote_killer", BANK, reference_dir=FIXTURE_REFERENCE)
    double = {p.name: p for p in result.problems[0].properties}["doubles_large_values"]
    assert double.status == "failed" and "PermissionError" in double.message
    assert result.score == 5.0


def test_output_flood_is_captured_with_a_cap_and_does_not_cost_points(graded):
    result = graded("flood")
    assert statuses(result) == ALL_PASSED
    output = problem(result, "toy.double").output
    assert output.startswith("importing toy")
    assert "more bytes of output dropped]" in output
    kept = output.split("\n[... ")[0]
    assert len(kept) <= 2048  # toy.double's [limits] output_bytes
    report = to_json(result)
    assert all(len(p["output"]) <= MAX_REPORTED_OUTPUT for p in report["problems"])
    assert problem(result, "toy.square").output.startswith("importing toy")


@pytest.mark.parametrize("name,reasons", [
    ("missing", {"toy.double": "the submission has no toy.py", "toy.square": "the submission has no toy.py"}),
    ("import_error", {"toy.double": "importing toy.py raised RuntimeError: broken on purpose",
                      "toy.square": "importing toy.py raised RuntimeError: broken on purpose"}),
    ("no_square", {"toy.square": "toy.py does not define square"}),
])
def test_unavailable_module_or_function_scores_zero_with_its_reason(graded, name, reasons):
    result = graded(name)
    for entry in result.problems:
        if entry.id in reasons:
            assert (entry.score, entry.status) == (0.0, "error")
            assert entry.message == reasons[entry.id]
            assert all(q.status == "error" and q.score == 0 and q.message == reasons[entry.id]
                       for q in entry.properties)
            assert entry.max_score == 3.0
        else:  # everything else is graded
            assert (entry.score, entry.status) == (3.0, "passed")
    assert result.max_score == 6.0


def test_buggy_submission_fails_with_a_counterexample(graded):
    result = graded("buggy")
    square = problem(result, "toy.square")
    [elementwise, nonnegative] = square.properties
    assert elementwise.status == "failed" and elementwise.score == 0
    assert "but should be" in elementwise.message and "square(" in elementwise.message
    assert nonnegative.status == "passed"
    assert (square.score, square.status) == (1.0, "partial")
    assert statuses(result)["toy.double"] == ALL_PASSED["toy.double"]


def test_processes_started_by_the_student_do_not_outlive_the_run(zygote, tmp_path):
    submission = tmp_path / "spawner"
    shutil.copytree(FIXTURE_SUBMISSIONS / "spawner", submission)
    started = time.monotonic()
    result = grade(submission, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote, limits=SPAWNING)
    assert time.monotonic() - started < 30
    assert statuses(result)["toy.double"]["doubles_large_values"] == "timeout"
    assert result.score == 5.0
    pids = read_pids("".join(p.output for p in result.problems))
    assert len(pids) >= 6  # a detached process and a daemon in each of at least three workers
    assert_gone(pids)
    assert_no_workers(zygote)


def test_run_with_its_own_zygote_leaves_nothing_behind(tmp_path):
    submission = tmp_path / "spawner"
    shutil.copytree(FIXTURE_SUBMISSIONS / "spawner", submission)
    result = grade(submission, select(BANK, ["toy.square"]), reference_dir=FIXTURE_REFERENCE, limits=SPAWNING)
    assert scores(result) == {"toy.square": (3.0, 3.0, "passed")}
    pids = read_pids(result.problems[0].output)
    assert len(pids) == 2
    assert_gone(pids)


def test_reproducible_reports(graded, zygote):
    for name in ("buggy", "crash"):
        first = to_json(graded(name))
        again = to_json(grade(FIXTURE_SUBMISSIONS / name, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote,
                              seed=0))
        assert json.dumps(without_timings(first), sort_keys=True) == json.dumps(without_timings(again), sort_keys=True)
    assert_no_workers(zygote)


def test_another_seed_gives_the_same_scores_to_a_correct_submission(graded, zygote):
    other = grade(FIXTURE_SUBMISSIONS / "correct", BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote,
                  seed=123456789)
    assert other.seed == 123456789
    assert statuses(other) == statuses(graded("correct"))
    assert other.score == other.max_score == 6.0


def test_reference_free_grading_skips_properties_that_need_the_reference(zygote):
    result = grade(FIXTURE_SUBMISSIONS / "correct", BANK, reference_dir=None, zygote=zygote)
    reference = problem(result, "toy.double").properties[2]
    assert reference.status == "skipped" and reference.score == 0
    assert "reference" in reference.message
    assert statuses(result)["toy.square"] == ALL_PASSED["toy.square"]
    validate(to_json(result))


def test_on_property_reports_each_property_once(zygote):
    seen = []
    grade(FIXTURE_SUBMISSIONS / "crash", BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote,
          on_property=lambda problem, info, outcome: seen.append((problem.id, info.name, outcome.status)))
    assert seen == [("toy.double", "doubles_small_values", "passed"),
                    ("toy.double", "doubles_large_values", "error"),
                    ("toy.double", "double_matches_reference", "passed"),
                    ("toy.square", "squares_elementwise", "passed"),
                    ("toy.square", "square_is_nonnegative", "passed")]


def test_each_run_uses_the_specs_of_its_own_bank(graded, zygote, tmp_path):
    # a copy of the fixture bank has the same layout (toy/double/spec.py), hence the same module name
    # under pytest's importlib mode: the copy's specs, and later edits of them, must be the ones run
    graded("correct")  # the original bank's specs were imported in this process
    bank = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, bank)
    spec = bank / "toy" / "double" / "spec.py"
    original = spec.read_text()
    spec.write_text(original.replace('    x = np.array([1000.0, -2000.0])\n',
                                     '    raise AssertionError("edited copy")\n'))
    result = grade(FIXTURE_SUBMISSIONS / "correct", load_bank(bank), reference_dir=FIXTURE_REFERENCE, zygote=zygote)
    large = problem(result, "toy.double").properties[1]
    assert (large.status, large.message) == ("failed", "edited copy")
    spec.write_text(original.replace('    x = np.array([1000.0, -2000.0])\n',
                                     '    raise AssertionError("edited again")\n'))
    result = grade(FIXTURE_SUBMISSIONS / "correct", load_bank(bank), reference_dir=FIXTURE_REFERENCE, zygote=zygote)
    assert problem(result, "toy.double").properties[1].message == "edited again"
    # and the original bank is graded with its own specs again
    again = grade(FIXTURE_SUBMISSIONS / "correct", BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote)
    assert statuses(again) == ALL_PASSED


def test_conftest_files_around_the_bank_are_not_loaded(zygote, tmp_path):
    # the grading run is free of whatever pytest configuration surrounds the bank
    bank = tmp_path / "project" / "bank"
    shutil.copytree(FIXTURE_BANK, bank)
    hook = (
        "import pathlib\n"
        f"pathlib.Path({str(tmp_path / 'loaded')!r}).mkdir(exist_ok=True)\n"
        "import pytest\n"
        "@pytest.fixture(autouse=True)\n"
        "def sabotage():\n"
        "    raise RuntimeError('a conftest fixture ran')\n"
    )
    for folder in (tmp_path / "project", bank, bank / "toy", bank / "toy" / "double"):
        (folder / "conftest.py").write_text(hook)
    result = grade(FIXTURE_SUBMISSIONS / "correct", load_bank(bank), reference_dir=FIXTURE_REFERENCE, zygote=zygote)
    assert statuses(result) == ALL_PASSED, [q.message for p in result.problems for q in p.properties]
    assert not (tmp_path / "loaded").exists()


def test_no_problems_selected(zygote, tmp_path):
    result = grade(tmp_path, [], zygote=zygote)
    assert result.problems == [] and result.score == result.max_score == 0 and result.percent == 0
    validate(to_json(result))


# --- the JSON report and the table ---------------------------------------------------------------------


def test_json_report_fields(graded, tmp_path):
    result = graded("crash")
    path = tmp_path / "deep" / "report.json"
    write_json(result, path)
    report = json.loads(path.read_text())
    validate(report)
    assert report == json.loads(json.dumps(to_json(result)))
    assert report["schema_version"] == 1
    assert (report["score"], report["max_score"]) == (5.0, 6.0)
    assert report["percent"] == pytest.approx(100 * 5 / 6)
    assert report["seed"] == 0 and report["device"] == "cpu"
    assert report["isolation"] in ("minimal", "standard", "strong") and report["isolation_layers"]
    assert {"grader", "python", "torch", "hypothesis", "numpy"} <= set(report["versions"])
    assert report["duration_s"] >= 0
    assert report["submission"] == str((FIXTURE_SUBMISSIONS / "crash").resolve())
    assert [p["id"] for p in report["problems"]] == ["toy.double", "toy.square"]
    double = report["problems"][0]
    assert set(double) >= {"id", "title", "score", "max_score", "status", "message", "properties", "output"}
    assert (double["title"], double["score"], double["max_score"], double["status"]) == \
        ("Double a tensor", 2.0, 3.0, "partial")
    large = double["properties"][1]
    assert set(large) >= {"name", "description", "points", "score", "status", "message", "duration_s", "hidden"}
    assert (large["name"], large["description"], large["points"], large["score"], large["status"]) == \
        ("doubles_large_values", "double(x) is 2 x for large entries.", 1.0, 0.0, "error")
    assert not list(tmp_path.glob("deep/.report.json.*"))  # no temporary file left by the atomic write


def test_schema_rejects_malformed_reports(graded):
    report = to_json(graded("correct"))
    for mutate in (lambda r: r.pop("seed"), lambda r: r.update(score=-1), lambda r: r.update(device="tpu"),
                   lambda r: r["problems"][0].update(status="great"),
                   lambda r: r["problems"][0]["properties"][0].update(status="maybe"),
                   lambda r: r.update(extra=1)):
        broken = copy.deepcopy(report)
        mutate(broken)
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_table_renders_every_outcome(graded):
    for name in ("crash", "hang", "missing", "buggy"):
        console = Console(file=io.StringIO(), width=160, color_system=None)
        render(graded(name), console)
        text = console.file.getvalue()
        assert "toy.double" in text and "toy.square" in text and "Total:" in text
    console = Console(file=io.StringIO(), width=160, color_system=None)
    render(graded("missing"), console)
    assert "the submission has no toy.py" in console.file.getvalue()
