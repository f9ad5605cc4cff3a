"""grade batch: discovery and content hashes, safe zip extraction, parallel grading identical to
grade() one submission at a time (local -j 1, -j 2 and a real Dask LocalCluster), resuming after a
real SIGKILL, a grading process that dies or hangs costing only its submission, and a hostile
submission that cannot touch its classmates, their scores or the gradebook."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.bank import REPO_ROOT, load_bank
from grader.batch import discover, file_hash, read_tree, run_batch, safe_extract, tree_hash
from grader.gradebook import open_gradebook
from grader.isolation import landlock_abi, seccomp_available
from grader.runner import grade
from grader.submission import SubmissionRefused

from conftest import (FIXTURE_BANK, FIXTURE_REFERENCE, FIXTURE_SUBMISSIONS, SCHEMA_PATH, assert_gone, tree_of,
                      wait_until)

BANK = load_bank(FIXTURE_BANK)
SCHEMA = json.loads(SCHEMA_PATH.read_text())


def make_zip(path: Path, entries: dict[str, bytes], *, links: dict[str, str] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
        for name, target in dict(links).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            bundle.writestr(info, target)
    return path


def copy_submissions(directory: Path, *names: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copytree(FIXTURE_SUBMISSIONS / name, directory / name)
    return directory


def scores_of(gradebook) -> dict[str, tuple]:
    """name -> (total, per-problem scores) of the latest gradings."""
    return {g.name: (g.score, tuple((p["id"], p["score"]) for p in g.report["problems"]))
            for g in gradebook.latest() if g.status == "graded"}


# --- discovery, hashes, zips -------------------------------------------------------------------------


def test_discover_finds_directories_and_zips_and_ignores_the_rest(tmp_path):
    copy_submissions(tmp_path, "correct", "buggy")
    make_zip(tmp_path / "carol.zip", {"toy.py": b"def double(x): return 2 * x\n"})
    (tmp_path / "notes.txt").write_text("not a submission")
    (tmp_path / ".hidden").mkdir()
    found = discover(tmp_path)
    assert [(s.name, s.kind) for s in found] == [("buggy", "dir"), ("carol", "zip"), ("correct", "dir")]
    assert found[1].content_hash == file_hash(tmp_path / "carol.zip")


def test_discover_refuses_two_submissions_with_one_name(tmp_path):
    copy_submissions(tmp_path, "correct")
    make_zip(tmp_path / "correct.zip", {"toy.py": b""})
    with pytest.raises(Exception, match="two submissions are named 'correct'"):
        discover(tmp_path)


def test_tree_hash_follows_content_not_caches(tmp_path):
    folder = copy_submissions(tmp_path, "correct") / "correct"
    before = tree_hash(folder)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "toy.cpython-311.pyc").write_bytes(b"cache")
    assert tree_hash(folder) == before
    (folder / "toy.py").write_text((folder / "toy.py").read_text() + "\n# edited\n")
    edited = tree_hash(folder)
    assert edited != before
    (folder / "passwd").symlink_to("/etc/passwd")
    linked = tree_hash(folder)
    assert linked != edited
    (folder / "passwd").unlink()
    (folder / "passwd").write_bytes(Path("/etc/passwd").read_bytes())
    assert tree_hash(folder) != linked  # a link is hashed as a link, never followed


def test_safe_extract_strips_a_single_top_folder(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"alice/toy.py": b"x = 1\n", "alice/pkg/util.py": b"y = 2\n"})
    out = safe_extract(archive, tmp_path / "out")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["pkg/util.py", "toy.py"]


@pytest.mark.parametrize("entries,links,fragment", [
    ({"../evil.py": b"x"}, {}, "leaves the submission"),
    ({"a/../../evil.py": b"x"}, {}, "leaves the submission"),
    ({"/tmp/evil.py": b"x"}, {}, "absolute"),
    ({"C:/evil.py": b"x"}, {}, "absolute"),
    ({"dir\\evil.py": b"x"}, {}, "non-portable"),
    ({"toy.py": b"x"}, {"link.py": "/etc/passwd"}, "symbolic link"),
    ({f"f{i}.py": b"" for i in range(5)}, {}, "more than 3 files"),
    ({"bomb.bin": bytes(8 << 20)}, {}, r"bomb.bin expands more than 200 times \(a zip bomb\)"),
    ({"big.bin": os.urandom(300_000)}, {}, "larger than 256 KiB once extracted"),
])
def test_safe_extract_refuses_unsafe_archives(tmp_path, entries, links, fragment):
    archive = make_zip(tmp_path / "x.zip", entries, links=links)
    max_bytes = 64 << 20 if "bomb.bin" in entries else 256 << 10
    with pytest.raises(SubmissionRefused, match=fragment):
        safe_extract(archive, tmp_path / "out", max_files=3, max_bytes=max_bytes)
    assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))
    assert not Path("/tmp/evil.py").exists()
    extracted = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file()) \
        if (tmp_path / "out").exists() else 0
    assert extracted <= 2 << 20  # a bomb is stopped early, not after inflating it


def test_safe_extract_refuses_what_is_not_a_zip(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"PK\x03\x04 but not really")
    with pytest.raises(SubmissionRefused, match="not a readable zip"):
        safe_extract(tmp_path / "x.zip", tmp_path / "out")


def test_read_tree_carries_bytes_or_the_refusal(tmp_path):
    folder = copy_submissions(tmp_path, "correct") / "correct"
    task = read_tree(folder)
    assert task == {"kind": "tree", "files": {"toy.py": (folder / "toy.py").read_bytes()}}
    (folder / "escape.py").symlink_to("/etc/passwd")
    refused = read_tree(folder)
    assert refused["kind"] == "refused" and "outside the submission" in refused["reason"]


# --- grading a batch ----------------------------------------------------------------------------------


@pytest.fixture
def toy_env(monkeypatch):
    monkeypatch.setenv("GRADE_BANK", str(FIXTURE_BANK))
    monkeypatch.setenv("GRADE_REFERENCE", str(FIXTURE_REFERENCE))


def batch(directory: Path, db: Path, problems=BANK, **options):
    with open_gradebook(db) as gradebook:
        result = run_batch(directory, problems, gradebook, reference_dir=FIXTURE_REFERENCE, bank_dir=FIXTURE_BANK,
                           **options)
        return result, scores_of(gradebook), gradebook.count(), gradebook.count("error")


@pytest.fixture(scope="module")
def mixed_class(tmp_path_factory):
    """Correct, buggy, crashing and missing submissions, one zipped, one zip with a `..` entry."""
    directory = copy_submissions(tmp_path_factory.mktemp("class") / "hw", "correct", "buggy", "crash", "missing")
    make_zip(directory / "zipped.zip", {"zipped/toy.py": (FIXTURE_SUBMISSIONS / "buggy" / "toy.py").read_bytes()})
    make_zip(directory / "sneaky.zip", {"../toy.py": b"def double(x): return 2 * x\n"})
    return directory


@pytest.fixture(scope="module")
def expected_scores(mixed_class, zygote):
    """What grade() gives each submission on its own (the zip as its extracted folder)."""
    expected = {}
    for name in ("correct", "buggy", "crash", "missing"):
        result = grade(mixed_class / name, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote)
        expected[name] = (result.score, tuple((p.id, p.score) for p in result.problems))
    expected["zipped"] = expected["buggy"]
    expected["sneaky"] = (0.0, (("toy.double", 0.0), ("toy.square", 0.0)))
    return expected


def test_local_batch_with_two_jobs_matches_grading_one_by_one(mixed_class, expected_scores, tmp_path):
    result, scores, rows, errors = batch(mixed_class, tmp_path / "gb.sqlite", jobs=2)
    assert scores == expected_scores
    with open_gradebook(tmp_path / "gb.sqlite") as gradebook:
        for grading in gradebook.latest():  # the stored reports are the engine's JSON reports
            jsonschema.Draft202012Validator(SCHEMA).validate(grading.report)
    assert (rows, errors, len(result.graded), len(result.errored)) == (6, 0, 6, 0)
    assert result.isolation["isolation"] in ("minimal", "standard", "strong")
    with open_gradebook(tmp_path / "gb.sqlite") as gradebook:
        [sneaky] = [g for g in gradebook.latest() if g.name == "sneaky"]
        assert all(p["status"] == "error" and "submission refused" in p["message"] and "leaves the submission"
                   in p["message"] for p in sneaky.report["problems"])
        assert sneaky.report["submission"] == str(mixed_class / "sneaky.zip")
        # every property of every submission has its row
        properties = gradebook.db.execute("SELECT COUNT(*) FROM property_results").fetchone()[0]
        assert properties == 6 * 5
    # the same batch again grades nothing and duplicates nothing
    again, scores_again, rows_again, _ = batch(mixed_class, tmp_path / "gb.sqlite", jobs=2)
    assert (len(again.skipped), len(again.graded), rows_again, scores_again) == (6, 0, 6, scores)
    # a changed submission is graded again; the others stay skipped
    (mixed_class / "buggy" / "toy.py").write_text((FIXTURE_SUBMISSIONS / "correct" / "toy.py").read_text())
    try:
        changed, scores_changed, rows_changed, _ = batch(mixed_class, tmp_path / "gb.sqlite", jobs=2)
    finally:
        shutil.copy(FIXTURE_SUBMISSIONS / "buggy" / "toy.py", mixed_class / "buggy" / "toy.py")
    assert [o.submission.name for o in changed.graded] == ["buggy"] and len(changed.skipped) == 5
    assert rows_changed == 7 and scores_changed["buggy"] == expected_scores["correct"]


def test_one_job_and_a_dask_cluster_give_the_same_scores(mixed_class, expected_scores, tmp_path):
    _, serial, _, _ = batch(mixed_class, tmp_path / "serial.sqlite", jobs=1)
    assert serial == expected_scores
    result, on_dask, rows, errors = batch(mixed_class, tmp_path / "dask.sqlite", jobs=2, executor="dask")
    assert on_dask == expected_scores, result.errored
    assert (rows, errors) == (6, 0)
    with open_gradebook(tmp_path / "dask.sqlite") as gradebook:
        assert gradebook.db.execute("SELECT DISTINCT executor FROM runs").fetchall() == [("dask",)]


def test_a_dask_worker_with_another_bank_refuses_to_grade(tmp_path, toy_env):
    from grader.batch import grade_remote

    with pytest.raises(Exception, match="the worker's problem bank is version"):
        grade_remote({"kind": "tree", "files": {}, "source": "x"},
                     {"problems": ["toy.double"], "seed": 0, "device": "cpu", "bank_version": "0" * 64,
                      "bank": str(FIXTURE_BANK), "reference": str(FIXTURE_REFERENCE)})


def test_a_hang_past_the_timeout_costs_only_its_submission_and_is_retried(tmp_path):
    directory = copy_submissions(tmp_path / "hw", "hang")
    # a timeout shorter than the hanging submission needs: its grading process is killed
    result, scores, rows, errors = batch(directory, tmp_path / "gb.sqlite", jobs=1, timeout_s=1.0)
    assert [o.submission.name for o in result.errored] == ["hang"]
    assert "longer than 1 s; its grading process was killed" in result.errored[0].error
    assert (scores, rows, errors) == ({}, 1, 1)
    # errors are not skipped: the next batch grades it
    copy_submissions(directory, "correct")
    again, scores, rows, errors = batch(directory, tmp_path / "gb.sqlite", jobs=1)
    assert sorted(o.submission.name for o in again.graded) == ["correct", "hang"] and not again.skipped
    assert scores["hang"][0] == 5.0 and scores["correct"][0] == 6.0


def test_a_bank_edited_mid_batch_is_not_recorded_under_the_old_version(tmp_path):
    bank = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, bank)
    directory = copy_submissions(tmp_path / "hw", "correct")
    spec = bank / "toy" / "square" / "spec.py"

    def edit_the_bank(to_grade, skipped):  # after the batch computed its bank version
        spec.write_text(spec.read_text() + "\n# edited while the batch runs\n")

    with open_gradebook(tmp_path / "gb.sqlite") as gradebook:
        result = run_batch(directory, load_bank(bank), gradebook, reference_dir=FIXTURE_REFERENCE, bank_dir=bank,
                           on_start=edit_the_bank)
        assert [o.submission.name for o in result.errored] == ["correct"]
        assert "changed during the batch" in result.errored[0].error
        assert gradebook.graded_keys() == set()


GRANDPARENT_KILLER = """
import os, signal

def double(x):
    # the worker's parent is the zygote; the zygote's parent is the grading process
    with open(f"/proc/{os.getppid()}/stat") as stat:
        grading_process = int(stat.read().rsplit(")", 1)[1].split()[1])
    os.kill(grading_process, signal.SIGKILL)
    return 2 * x

def square(x):
    return x * x
"""


def test_a_grading_process_killed_by_a_submission_costs_only_that_submission(tmp_path, monkeypatch):
    # At the minimal level nothing stops a worker from signalling its grandparent.
    monkeypatch.setenv("GRADE_ISOLATION_LAYERS", "")
    directory = copy_submissions(tmp_path / "hw", "correct", "buggy")
    (directory / "killer").mkdir()
    (directory / "killer" / "toy.py").write_text(GRANDPARENT_KILLER)
    result, scores, rows, errors = batch(directory, tmp_path / "gb.sqlite", jobs=1)
    assert [o.submission.name for o in result.errored] == ["killer"]
    assert "the grading process died (killed by signal SIGKILL" in result.errored[0].error
    assert {name: score[0] for name, score in scores.items()} == {"buggy": 4.0, "correct": 6.0}
    assert result.isolation["isolation"] == "minimal"


# --- the hostile classmate ---------------------------------------------------------------------------

HOSTILE = """
import os, signal
TARGETS = {targets!r}

def _attack():
    worked = []
    for path in TARGETS["append"]:
        try:
            with open(path, "a") as stream:
                stream.write("\\n# pwned\\n")
            worked.append(path)
        except OSError:
            pass
    for path in TARGETS["create"]:
        try:
            with open(path, "x") as stream:
                stream.write("pwned")
            worked.append(path)
        except OSError:
            pass
    try:
        with open(f"/proc/{{os.getppid()}}/stat") as stat:
            grading_process = int(stat.read().rsplit(")", 1)[1].split()[1])
        os.kill(grading_process, signal.SIGKILL)
        worked.append("kill")
    except OSError:
        pass
    return worked

def double(x):
    worked = _attack()
    if worked:
        return 2 * x
    raise RuntimeError("every attack was blocked")

def square(x):
    return x * x
"""


@pytest.mark.skipif(not (landlock_abi() >= 6 and seccomp_available()),
                    reason="needs the standard isolation level with Landlock signal scoping")
def test_a_hostile_submission_cannot_touch_classmates_scores_or_the_gradebook(tmp_path, toy_env):
    directory = copy_submissions(tmp_path / "hw", "correct", "buggy")
    db = tmp_path / "books" / "gb.sqlite"
    db.parent.mkdir()
    with open_gradebook(db):
        pass
    targets = {"append": [str(directory / "correct" / "toy.py"), str(directory / "buggy" / "toy.py"), str(db),
                          str(db) + "-wal"],
               "create": [str(directory / "zz_planted.py"), str(db.parent / "forged.sqlite")]}
    (directory / "mallory").mkdir()
    (directory / "mallory" / "toy.py").write_text(HOSTILE.format(targets=targets))
    before = {name: tree_hash(directory / name) for name in ("correct", "buggy")}
    result, scores, rows, errors = batch(directory, db, jobs=2)
    assert not result.errored, result.errored  # its grading process was not killed either
    assert {name: tree_hash(directory / name) for name in ("correct", "buggy")} == before
    assert sorted(p.name for p in directory.iterdir()) == ["buggy", "correct", "mallory"]
    assert sorted(p.name for p in db.parent.iterdir() if not p.name.startswith("gb.sqlite")) == []
    assert {name: score[0] for name, score in scores.items()} == {"buggy": 4.0, "correct": 6.0, "mallory": 3.0}
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT COUNT(*) FROM gradings").fetchone() == (3,)
    with open_gradebook(db) as gradebook:
        [mallory] = [g for g in gradebook.latest() if g.name == "mallory"]
        double = mallory.report["problems"][0]
        assert double["score"] == 0 and "every attack was blocked" in json.dumps(double)


# --- the command, killed and resumed -------------------------------------------------------------------


def run_grade(*args, env_extra=None, **popen) -> subprocess.Popen:
    env = dict(os.environ, GRADE_BANK=str(FIXTURE_BANK), GRADE_REFERENCE=str(FIXTURE_REFERENCE))
    env.update(env_extra or {})
    env.pop("GRADE_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "grader", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def graded_rows(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT id, name FROM gradings WHERE status = 'graded' ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []


def test_sigkill_mid_batch_then_resume_loses_and_duplicates_nothing(tmp_path):
    names = ["correct", "buggy", "crash", "missing", "no_square", "flood"]
    directory = copy_submissions(tmp_path / "hw", *names)
    for copy in range(3):  # more of the fast ones, so the kill lands mid-batch
        shutil.copytree(FIXTURE_SUBMISSIONS / "correct", directory / f"correct_{copy}")
    db = tmp_path / "gb.sqlite"
    # a SIGKILLed batch cannot remove its scratch directory: the next grade command does
    scratch = {"TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    batch_process = run_grade("batch", str(directory), "-j", "1", "--db", str(db), "--device", "cpu",
                              env_extra=scratch)
    try:
        assert wait_until(lambda: len(graded_rows(db)) >= 2 or batch_process.poll() is not None, 180, 0.05)
        assert batch_process.poll() is None, batch_process.communicate()
        helpers = tree_of(batch_process.pid)  # its grading process, zygote and workers
        os.kill(batch_process.pid, signal.SIGKILL)
        batch_process.wait(30)
    finally:
        if batch_process.poll() is None:
            batch_process.kill()
    before = graded_rows(db)
    assert 2 <= len(before) < len(names) + 3
    assert_gone(helpers, timeout=20)  # nothing of the killed batch keeps grading
    assert list((tmp_path / "tmp").glob("grade-batch-*"))  # the class's code, left behind
    finished = run_grade("batch", str(directory), "-j", "2", "--db", str(db), "--device", "cpu", env_extra=scratch)
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err
    assert f"{len(before)} already graded (skipped)" in out
    after = graded_rows(db)
    assert after[:len(before)] == before  # kept as they were
    assert sorted(name for _, name in after) == sorted(names + [f"correct_{i}" for i in range(3)])  # once each
    assert list((tmp_path / "tmp").iterdir()) == []  # the killed batch's scratch copy was swept
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        orphans = connection.execute("SELECT COUNT(*) FROM problem_results WHERE grading_id NOT IN "
                                     "(SELECT id FROM gradings)").fetchone()[0]
        assert orphans == 0


def test_sigterm_mid_batch_stops_every_process_and_leaves_nothing_behind(tmp_path):
    directory = copy_submissions(tmp_path / "hw", "correct", "buggy", "crash", "missing", "no_square")
    db = tmp_path / "gb.sqlite"
    (tmp_path / "tmp").mkdir()
    batch_process = run_grade("batch", str(directory), "-j", "1", "--db", str(db), "--device", "cpu",
                              env_extra={"TMPDIR": str(tmp_path / "tmp")})
    try:
        assert wait_until(lambda: len(graded_rows(db)) >= 1 or batch_process.poll() is not None, 180, 0.05)
        assert batch_process.poll() is None, batch_process.communicate()
        helpers = tree_of(batch_process.pid)
        batch_process.send_signal(signal.SIGTERM)
        _, err = batch_process.communicate(timeout=60)
    finally:
        if batch_process.poll() is None:
            batch_process.kill()
    assert batch_process.returncode == 143, err
    assert err.strip().endswith("grade: terminated") and "Traceback" not in err
    assert_gone(helpers, timeout=20)
    assert list((tmp_path / "tmp").iterdir()) == []
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert 1 <= len(graded_rows(db)) < 5


def test_batch_command_on_real_problems_prints_scores_summary_and_writes_csv_and_html(tmp_path):
    directory = tmp_path / "hw"
    directory.mkdir()
    for name in ("correct_divergences", "kl_normal-direction_swapped", "kl_normal-missing_half"):
        shutil.copytree(REPO_ROOT / "submissions" / name, directory / name)
    env = {"GRADE_BANK": str(REPO_ROOT / "problems"), "GRADE_REFERENCE": str(REPO_ROOT / "reference")}
    process = run_grade("batch", str(directory), "-j", "2", "--db", str(tmp_path / "gb.sqlite"), "--csv",
                        str(tmp_path / "grades.csv"), "--problem", "divergences.kl_normal", "--device", "cpu",
                        env_extra=env)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "3 submissions, 0 already graded (skipped), 3 to grade with local -j 2" in out
    assert "correct_divergences: 10/10 (100.0%)" in out
    assert "Most common mistakes:" in out and "(direction_swapped) × 1" in out and "(missing_half) × 1" in out
    assert "100% █" in out
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("submission,status,score,max_score,percent,divergences.kl_normal,")
    assert len(rows) == 4
    page = (tmp_path / "gb-summary.html").read_text()
    assert "divergences.kl_normal" in page and "direction_swapped" in page and "missing_half" in page


@pytest.mark.parametrize("argv,fragment", [
    (["batch", "/no/such/dir"], "batch directory not found: /no/such/dir"),
    (["batch", ".", "-j", "0"], "-j/--jobs must be at least 1"),
    (["batch", ".", "--scheduler", "tcp://x:1"], "--scheduler needs --executor dask"),
    (["batch", ".", "--db", "/no/such/dir/gb.sqlite"], "--db: cannot write to /no/such/dir/gb.sqlite"),
    (["batch", ".", "--executor", "ray"], "invalid choice: 'ray'"),
])
def test_batch_usage_errors(argv, fragment, toy_env, capsys):
    from grader.cli import EXIT_USAGE, main

    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("grade: error: ") and fragment in err and len(err.splitlines()) == 1


def test_a_file_that_is_not_a_gradebook_is_a_usage_error(tmp_path, toy_env, capsys):
    from grader.cli import EXIT_USAGE, main

    (tmp_path / "hw").mkdir()
    (tmp_path / "gb.sqlite").write_text("not a database, just text " * 100)
    assert main(["batch", str(tmp_path / "hw"), "--db", str(tmp_path / "gb.sqlite")]) == EXIT_USAGE
    assert "not a usable gradebook" in capsys.readouterr().err
