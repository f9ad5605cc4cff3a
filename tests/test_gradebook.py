"""The SQLite gradebook: one transaction per grading, the skip key, errors that do not block a retry,
latest-per-student selection, and refusal of files that are not (or are newer) gradebooks."""

from __future__ import annotations

import copy
import json
import sqlite3

import pytest

from grader.gradebook import SCHEMA_VERSION, GradebookError, GradingKey, open_gradebook


def report(score: float, *, name: str = "alice", mistakes=()) -> dict:
    """A small JSON report of one problem with two properties."""
    return {
        "schema_version": 1, "submission": f"/class/{name}", "score": score, "max_score": 4.0,
        "percent": 25.0 * score, "seed": 0, "device": "cpu", "isolation": "standard", "isolation_layers": [],
        "isolation_warnings": [], "versions": {"grader": "0.1.0"}, "duration_s": 1.5,
        "problems": [{
            "id": "toy.double", "title": "Double", "score": score, "max_score": 4.0,
            "status": "passed" if score == 4 else "partial", "message": "", "output": "",
            "diagnosis": {"message": "m", "probes": 1, "mistakes": [{"id": m, "title": m.title(), "explanation": "",
                                                                      "hint": ""} for m in mistakes]}
            if mistakes else None,
            "properties": [
                {"name": "a", "description": "A", "points": 2.0, "score": min(score, 2.0), "status": "passed",
                 "message": "", "duration_s": 0.1, "hidden": False},
                {"name": "b", "description": "B", "points": 2.0, "score": max(score - 2.0, 0.0),
                 "status": "passed" if score == 4 else "failed", "message": "no", "duration_s": 0.1, "hidden": True},
            ]}],
    }


def key(name="alice", content="h1", bank="b1", seed=0) -> GradingKey:
    return GradingKey(name, content, bank, seed, "0.1.0", json.dumps(["toy.double"]))


@pytest.fixture
def book(tmp_path):
    with open_gradebook(tmp_path / "gb.sqlite") as gradebook:
        gradebook.run = gradebook.start_run(directory="/class", executor="local", jobs=2, seed=0, device="cpu",
                                            bank_version="b1", grader_version="0.1.0", selection="[]")
        yield gradebook


def test_a_grading_is_stored_with_its_problems_and_properties(book):
    grading_id = book.record(book.run, key(), "/class/alice", report(2.0, mistakes=("swapped",)))
    assert book.graded_keys() == {key().as_tuple()}
    [grading] = book.latest()
    assert (grading.id, grading.name, grading.score, grading.max_score, grading.status) == (grading_id, "alice",
                                                                                           2.0, 4.0, "graded")
    assert grading.report == report(2.0, mistakes=("swapped",))
    assert book.db.execute("SELECT problem_id, score, status, mistakes FROM problem_results").fetchall() == [
        ("toy.double", 2.0, "partial", '["swapped"]')]
    assert book.db.execute("SELECT name, score, status, hidden FROM property_results ORDER BY name").fetchall() == [
        ("a", 2.0, "passed", 0), ("b", 0.0, "failed", 1)]
    assert book.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_same_key_is_never_stored_twice(book):
    first = book.record(book.run, key(), "/class/alice", report(2.0))
    assert book.record(book.run, key(), "/class/alice", report(2.0)) == first
    assert book.count() == 1
    # any part of the key that differs is a new grading
    for other in (key(content="h2"), key(bank="b2"), key(seed=1), key(name="bob")):
        book.record(book.run, other, "/class/x", report(4.0))
    assert book.count() == 5 and len(book.graded_keys()) == 5


def test_a_failing_write_leaves_nothing_behind(book):
    broken = report(2.0)
    broken["problems"][0]["properties"][1]["score"] = None  # float(None) fails after the first rows
    with pytest.raises(TypeError):
        book.record(book.run, key(), "/class/alice", broken)
    for table in ("gradings", "problem_results", "property_results"):
        assert book.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)
    assert book.graded_keys() == set()


def test_errors_do_not_count_as_graded_and_the_latest_grading_wins(book):
    book.record_error(book.run, key(), "/class/alice", "the grading process died (killed by signal SIGKILL)")
    assert book.graded_keys() == set()
    [only_error] = book.latest()
    assert (only_error.status, only_error.score, only_error.report) == ("error", None, None)
    assert "SIGKILL" in only_error.error
    book.record(book.run, key(), "/class/alice", report(2.0))
    book.record(book.run, key(content="h2"), "/class/alice", report(4.0))  # resubmitted
    book.record_error(book.run, key(content="h3"), "/class/alice", "later failure")
    [latest] = book.latest()
    assert (latest.status, latest.score, latest.content_hash) == ("graded", 4.0, "h2")
    assert book.grading_for(key()).score == 2.0
    assert book.grading_for(key(content="h3")).status == "error"
    assert book.grading_for(key(content="nothing")) is None


def test_runs_record_their_counts(book):
    book.finish_run(book.run, submissions=3, graded=2, skipped=1, errored=0)
    row = book.db.execute("SELECT executor, jobs, submissions, graded, skipped, errored, finished_at IS NOT NULL"
                          " FROM runs").fetchone()
    assert row == ("local", 2, 3, 2, 1, 0, 1)


def test_files_that_are_not_gradebooks_are_refused(tmp_path):
    (tmp_path / "text.sqlite").write_text("hello " * 200)
    with pytest.raises(GradebookError, match="not a usable gradebook"):
        open_gradebook(tmp_path / "text.sqlite")
    with sqlite3.connect(tmp_path / "other.sqlite") as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(GradebookError, match="is not a gradebook"):
        open_gradebook(tmp_path / "other.sqlite", create=False)
    with pytest.raises(GradebookError, match="gradebook not found"):
        open_gradebook(tmp_path / "missing.sqlite", create=False)
    open_gradebook(tmp_path / "newer.sqlite").close()
    with sqlite3.connect(tmp_path / "newer.sqlite") as connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(GradebookError, match="is newer than this grader's"):
        open_gradebook(tmp_path / "newer.sqlite")


def test_a_reader_sees_whole_gradings_while_a_writer_works(tmp_path):
    with open_gradebook(tmp_path / "gb.sqlite") as writer, open_gradebook(tmp_path / "gb.sqlite") as reader:
        run = writer.start_run(directory="/c", executor="local", jobs=1, seed=0, device="cpu", bank_version="b1",
                               grader_version="0.1.0", selection="[]")
        writer.db.execute("BEGIN IMMEDIATE")
        writer.db.execute("INSERT INTO gradings (run_id, name, source, content_hash, seed, bank_version,"
                          " grader_version, selection, status, graded_at) VALUES (?, 'x', 's', 'h', 0, 'b', 'g',"
                          " '[]', 'graded', 'now')", (run,))
        assert reader.count() == 0  # WAL: the uncommitted row is invisible, and reading does not block
        writer.db.rollback()
        assert reader.count() == 0
        writer.record(run, key(), "/class/alice", copy.deepcopy(report(4.0)))
        assert reader.count() == 1
