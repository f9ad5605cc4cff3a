"""Grading inputs that no earlier run reveals (docs/inputs.md): keys, streams, selection independence,
and the memorisation attack (harvest the inputs a graded run printed, replay a table of answers)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.bank import load_bank
from grader.keys import InputKey, SecretError, fingerprint, read_secret, tree_hash
from grader.report import to_json
from grader.runner import grade

from conftest import FIXTURE_BANK, FIXTURE_REFERENCE

BANK = load_bank(FIXTURE_BANK)
SQUARE = [p for p in BANK if p.id == "toy.square"]
SECRET = b"0123456789abcdef0123456789abcdef"

# A wrong square (off by 0.5 where x > 1) that prints every input it is given, and answers from a table of
# harvested inputs where it can: the attack of issue 14.
ATTACKER = '''
import json

TABLE = {table}


def _key(x):
    return json.dumps([float(v) for v in x.reshape(-1).tolist()])


def square(x):
    print("INPUT " + _key(x))
    if _key(x) in TABLE:
        return x.new_tensor(TABLE[_key(x)]).reshape(x.shape)
    return x * x + 0.5 * (x > 1)


def double(x):
    return 2 * x
'''


def attacker(folder: Path, table: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "toy.py").write_text(ATTACKER.format(table=repr(table)))
    return folder


def harvest(result, table: dict) -> dict:
    """The correct answers to every input the run's output shows (what a student sees in a report)."""
    table = dict(table)
    for problem in result.problems:
        for line in problem.output.splitlines():
            if line.startswith("INPUT "):
                values = json.loads(line[len("INPUT "):])
                table[line[len("INPUT "):]] = [v * v for v in values]
    return table


def square_score(result) -> float:
    return next(p.score for p in result.problems if p.id == "toy.square")


def replay(tmp_path, zygote, rounds: int, **grading) -> tuple[float, float]:
    """(the score without a table, the best score of ``rounds`` rounds of harvest-and-replay)."""
    honest = square_score(grade(attacker(tmp_path / "r0", {}), SQUARE, zygote=zygote, **grading))
    table, best = {}, honest
    for number in range(rounds):
        folder = attacker(tmp_path / f"r{number + 1}", table)
        result = grade(folder, SQUARE, zygote=zygote, **grading)
        best = max(best, square_score(result))
        if best == SQUARE[0].points:
            break
        table = harvest(result, table)
    return honest, best


def test_the_attack_wins_where_the_inputs_are_fixed(tmp_path, zygote):
    """The public self-check stream depends on the seed only: replaying its harvested answers wins. This
    is what every graded run was exposed to before inputs were keyed by the submission."""
    honest, best = replay(tmp_path, zygote, rounds=40, reference_dir=None)
    assert honest < best == SQUARE[0].points


@pytest.mark.parametrize("secret", [None, SECRET], ids=["content-keyed", "with-secret"])
def test_replaying_harvested_answers_gains_nothing_in_a_graded_run(tmp_path, zygote, secret):
    honest, best = replay(tmp_path, zygote, rounds=3, reference_dir=FIXTURE_REFERENCE, secret=secret)
    assert best == honest < SQUARE[0].points


def inputs_seen(result, problem_id="toy.square") -> list[str]:
    return [line for p in result.problems if p.id == problem_id for line in p.output.splitlines()
            if line.startswith("INPUT ")]


CONSTANTS_MODULE = "\n".join(f"C{i} = {v!r}" for i, v in enumerate(
    [0.5 + i / 7 for i in range(40)] + [-(1.25 + i / 11) for i in range(40)])) + "\n"


def test_inputs_do_not_depend_on_the_selection_nor_on_what_the_process_imported(tmp_path, zygote, monkeypatch):
    spy = attacker(tmp_path / "spy", {})
    alone = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE)
    together = grade(spy, BANK, zygote=zygote, reference_dir=FIXTURE_REFERENCE)
    # Hypothesis draws literal constants from every "local" module in sys.modules: import one full of
    # floats in the problem's range, as another spec or a test suite would.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "grader_test_constants.py").write_text(CONSTANTS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    import grader_test_constants  # noqa: F401
    try:
        later = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE)
    finally:
        sys.modules.pop("grader_test_constants", None)
    assert inputs_seen(alone) and inputs_seen(alone) == inputs_seen(together) == inputs_seen(later)


def test_any_edit_changes_a_graded_runs_inputs_but_not_a_self_checks(tmp_path, zygote):
    spy = attacker(tmp_path / "spy", {})
    graded = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE)
    checked = grade(spy, SQUARE, zygote=zygote, reference_dir=None)
    with open(spy / "toy.py", "a") as stream:
        stream.write("# a comment\n")
    graded_again = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE)
    checked_again = grade(spy, SQUARE, zygote=zygote, reference_dir=None)
    assert inputs_seen(graded) != inputs_seen(graded_again)
    assert inputs_seen(checked) == inputs_seen(checked_again)
    # the self-check stream is never the graded one
    assert inputs_seen(checked) != inputs_seen(graded)
    assert graded_again.inputs["submission_sha256"] != graded.inputs["submission_sha256"]


def test_the_report_records_what_reproduces_it_and_never_the_secret(tmp_path, zygote):
    spy = attacker(tmp_path / "spy", {})
    first = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE, secret=SECRET, seed=7)
    assert first.inputs == {"stream": "graded", "seed": 7, "submission_sha256": tree_hash(spy),
                            "secret_fingerprint": fingerprint(SECRET)}
    text = json.dumps(to_json(first))
    assert SECRET.decode() not in text and SECRET.hex() not in text
    # staff with the same bytes and the same secret get the very same inputs; another secret, others
    again = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE, secret=SECRET, seed=7)
    other = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE, secret=SECRET[::-1], seed=7)
    assert inputs_seen(first) == inputs_seen(again) != inputs_seen(other)
    failed = [q for p in first.problems for q in p.properties if q.counterexample]
    assert failed and all("--seed 7 --secret-file" in q.counterexample["reproduce"] for q in failed)
    checked = grade(spy, SQUARE, zygote=zygote, reference_dir=None, seed=7)
    assert checked.inputs == {"stream": "check", "seed": 7, "submission_sha256": None, "secret_fingerprint": None}


def test_keys_are_distinct_per_part_and_stream():
    graded = InputKey("graded", 0, "a" * 64)
    assert graded.seed_for("p", "x") != graded.seed_for("p", "y") != graded.seed_for("q", "x")
    assert graded.seed_for("p", "x") != InputKey("graded", 0, "b" * 64).seed_for("p", "x")
    assert graded.seed_for("p", "x") != InputKey("graded", 0, "a" * 64, SECRET).seed_for("p", "x")
    assert graded.seed_for("p", "x") != InputKey("graded", 1, "a" * 64).seed_for("p", "x")
    assert InputKey("check", 0).seed_for("p", "x") != InputKey("graded", 0).seed_for("p", "x")
    # "p" + "x\0y" and "p\0x" + "y" must not collide... they would with a plain join; parts are ids and
    # names (no NUL), so the join is unambiguous.
    with pytest.raises(ValueError):
        InputKey("check", 0, "a" * 64)
    with pytest.raises(ValueError):
        InputKey("public", 0)


def test_reading_the_secret(tmp_path):
    path = tmp_path / "secret"
    path.write_text(SECRET.decode() + "\n")
    assert read_secret(path, environ={}) == SECRET
    assert read_secret(None, environ={"GRADE_SECRET_FILE": str(path)}) == SECRET
    assert read_secret(None, environ={"GRADE_SECRET": " " + SECRET.decode()}) == SECRET
    assert read_secret(None, environ={}) is None
    path.write_text("short")
    with pytest.raises(SecretError, match="too short"):
        read_secret(path, environ={})
    with pytest.raises(SecretError, match="cannot read"):
        read_secret(tmp_path / "missing", environ={})


def _grade_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_grade_secret_writes_an_owner_only_secret_and_never_overwrites(tmp_path):
    path = tmp_path / "course.key"
    done = _grade_cli("secret", str(path))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    value = path.read_bytes().strip()
    assert len(value) == 64 and fingerprint(value) in done.stdout and value.decode() not in done.stdout
    again = _grade_cli("secret", str(path))
    assert again.returncode == 2 and "never overwritten" in again.stderr and path.read_bytes().strip() == value


def test_a_short_secret_is_a_usage_error(tmp_path):
    (tmp_path / "key").write_text("abc")
    (tmp_path / "sub").mkdir()
    done = _grade_cli("run", str(tmp_path / "sub"), "--secret-file", str(tmp_path / "key"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "too short" in done.stderr


def _problems_without_timings(report: dict) -> list:
    problems = json.loads(json.dumps(report["problems"]))
    for problem in problems:
        for prop in problem["properties"]:
            prop.pop("duration_s")
    return problems


def test_batch_keys_by_content_and_secret_and_staff_reproduce_its_reports(tmp_path, zygote):
    from grader.batch import run_batch
    from grader.gradebook import open_gradebook

    classroom = tmp_path / "class"
    attacker(classroom / "alice", {})
    with open_gradebook(tmp_path / "gb.sqlite") as gradebook:
        run_batch(classroom, SQUARE, gradebook, reference_dir=FIXTURE_REFERENCE, bank_dir=FIXTURE_BANK,
                  secret=SECRET, jobs=1)
        [stored] = [g.report for g in gradebook.latest()]
        selection = gradebook.db.execute("SELECT selection FROM gradings").fetchone()[0]
    assert stored["inputs"] == {"stream": "graded", "seed": 0, "submission_sha256": tree_hash(classroom / "alice"),
                                "secret_fingerprint": fingerprint(SECRET)}
    assert json.loads(selection) == {"problems": ["toy.square"], "secret_fingerprint": fingerprint(SECRET)}
    again = to_json(grade(classroom / "alice", SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE,
                          secret=SECRET), show_hidden=True)
    assert _problems_without_timings(again) == _problems_without_timings(stored)


def test_grade_ci_and_grade_run_take_the_secret_from_the_environment(tmp_path, monkeypatch, zygote):
    from grader.cli import main

    spy = attacker(tmp_path / "student", {})
    monkeypatch.setenv("GRADE_BANK", str(FIXTURE_BANK))
    monkeypatch.setenv("GRADE_REFERENCE", str(FIXTURE_REFERENCE))
    monkeypatch.setenv("GRADE_SECRET", SECRET.decode())
    for key in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GRADE_SECRET_FILE"):
        monkeypatch.delenv(key, raising=False)
    assert main(["ci", str(spy), "--problem", "toy.square", "--report-dir", str(tmp_path / "ci")]) == 0
    assert main(["run", str(spy), "--problem", "toy.square", "--json", str(tmp_path / "run.json")]) == 0
    ci = json.loads((tmp_path / "ci" / "report.json").read_text())
    run = json.loads((tmp_path / "run.json").read_text())
    expected = grade(spy, SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE, secret=SECRET)
    for report in (ci, run):
        assert report["inputs"]["secret_fingerprint"] == fingerprint(SECRET)
        assert report["inputs"]["submission_sha256"] == tree_hash(spy)
        assert report["problems"][0]["output"] == expected.problems[0].output
    # a self-check ignores the secret: its inputs are public
    assert main(["check", str(spy), "--problem", "toy.square", "--json", str(tmp_path / "check.json")]) == 0
    assert json.loads((tmp_path / "check.json").read_text())["inputs"]["stream"] == "check"


def test_the_gradescope_runner_keys_by_the_bundles_secret(tmp_path, monkeypatch):
    import zipfile

    from grader.cli import main

    monkeypatch.setenv("GRADE_BANK", str(FIXTURE_BANK))
    monkeypatch.setenv("GRADE_REFERENCE", str(FIXTURE_REFERENCE))
    (tmp_path / "key").write_bytes(SECRET)
    assert main(["gradescope", "build", "--out", str(tmp_path / "bundle.zip"), "--secret-file",
                 str(tmp_path / "key")]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        archive.extractall(root / "source")
    assert (root / "source" / "grade-secret.txt").read_bytes().strip() == SECRET
    attacker(root / "submission", {})
    monkeypatch.setenv("GRADE_BANK", str(root / "source" / "bank" / "problems"))
    assert main(["gradescope", "run", "--root", str(root)]) == 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert f"course secret {fingerprint(SECRET)}" in results["output"]
    assert f"inputs keyed by submission {tree_hash(root / 'submission')[:12]}" in results["output"]


def test_the_reproduce_line_reproduces_the_counterexample_shown(zygote):
    from conftest import FIXTURE_SUBMISSIONS

    whole = grade(FIXTURE_SUBMISSIONS / "buggy", BANK, zygote=zygote, reference_dir=FIXTURE_REFERENCE)
    [shown] = [q for p in whole.problems for q in p.properties if q.counterexample]
    assert f"--problem toy.square --seed 0" in shown.counterexample["reproduce"]
    alone = grade(FIXTURE_SUBMISSIONS / "buggy", SQUARE, zygote=zygote, reference_dir=FIXTURE_REFERENCE)
    [again] = [q for p in alone.problems for q in p.properties if q.counterexample]
    assert (again.name, again.message, again.counterexample) == (shown.name, shown.message, shown.counterexample)
