"""The gradebook: an embedded SQLite database of every grading a batch made.

Only the trusted grader process writes it (workers cannot reach it: Landlock leaves it unwritable
and unreadable, and private namespaces hide its directory). Each submission's rows are written in
one transaction, so a batch killed at any moment leaves whole gradings or nothing; the database is
in WAL mode so that exports can read it while a batch runs.

    runs               one row per `grade batch` invocation (directory, executor, seed, versions)
    gradings           one row per graded submission: name, content hash, seed, bank and grader
                       versions, problem selection, totals, isolation level, the full JSON report
    problem_results    one row per (grading, problem): score, status (``review``: tampering suspected,
                       scored 0, the withheld score and the findings in the stored report), mistakes
    property_results   one row per (grading, problem, property)

A grading is identified by its key: (name, content hash, bank version, seed, grader version,
problem selection). A batch skips submissions whose key already has a ``graded`` row; that is what
makes an interrupted batch resumable without losing or duplicating anything.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    directory TEXT NOT NULL,
    executor TEXT NOT NULL,
    jobs INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    device TEXT NOT NULL,
    bank_version TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    selection TEXT NOT NULL,
    submissions INTEGER NOT NULL DEFAULT 0,
    graded INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    errored INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gradings (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    bank_version TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    selection TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('graded', 'error')),
    error TEXT NOT NULL DEFAULT '',
    score REAL,
    max_score REAL,
    percent REAL,
    isolation TEXT,
    device TEXT,
    duration_s REAL,
    graded_at TEXT NOT NULL,
    report TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS gradings_key
    ON gradings (name, content_hash, bank_version, seed, grader_version, selection) WHERE status = 'graded';
CREATE INDEX IF NOT EXISTS gradings_name ON gradings (name, id);
CREATE TABLE IF NOT EXISTS problem_results (
    grading_id INTEGER NOT NULL REFERENCES gradings(id),
    problem_id TEXT NOT NULL,
    title TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    mistakes TEXT NOT NULL,
    PRIMARY KEY (grading_id, problem_id)
);
CREATE TABLE IF NOT EXISTS property_results (
    grading_id INTEGER NOT NULL REFERENCES gradings(id),
    problem_id TEXT NOT NULL,
    name TEXT NOT NULL,
    points REAL NOT NULL,
    score REAL NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    duration_s REAL NOT NULL,
    hidden INTEGER NOT NULL,
    PRIMARY KEY (grading_id, problem_id, name)
);
"""


class GradebookError(Exception):
    """The gradebook file cannot be used (not a database, or a newer schema)."""


@dataclass(frozen=True)
class GradingKey:
    """What makes two gradings interchangeable: same student, same bytes, same bank, same seed."""

    name: str
    content_hash: str
    bank_version: str
    seed: int
    grader_version: str
    selection: str  # JSON list of the graded problem ids, in bank order

    def as_tuple(self) -> tuple:
        return (self.name, self.content_hash, self.bank_version, self.seed, self.grader_version, self.selection)


@dataclass
class Grading:
    """One row of ``gradings`` as exports and summaries read it."""

    id: int
    run_id: int
    name: str
    source: str
    content_hash: str
    seed: int
    bank_version: str
    status: str
    error: str
    score: float | None
    max_score: float | None
    percent: float | None
    graded_at: str
    report: dict | None

    @property
    def under_review(self) -> list[str]:
        """Its problems whose score is withheld for review: the report gives them 0 until staff decide."""
        return under_review(self.report)


def under_review(report: dict | None) -> list[str]:
    """The problems of a JSON report whose score is withheld for review (tampering suspected)."""
    return [p["id"] for p in (report or {}).get("problems", []) if p.get("status") == "review"]


_COLUMNS = ("id, run_id, name, source, content_hash, seed, bank_version, status, error, score, max_score, percent,"
            " graded_at, report")


def _grading(r: tuple) -> Grading:
    return Grading(id=r[0], run_id=r[1], name=r[2], source=r[3], content_hash=r[4], seed=r[5], bank_version=r[6],
                   status=r[7], error=r[8], score=r[9], max_score=r[10], percent=r[11], graded_at=r[12],
                   report=json.loads(r[13]) if r[13] else None)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Gradebook:
    """A connection to the gradebook file; create it with :func:`open_gradebook`."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db, self.path = connection, path

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- runs ------------------------------------------------------------------------------------

    def start_run(self, *, directory: str, executor: str, jobs: int, seed: int, device: str,
                  bank_version: str, grader_version: str, selection: str) -> int:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO runs (started_at, directory, executor, jobs, seed, device, bank_version,"
                " grader_version, selection) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now(), directory, executor, jobs, seed, device, bank_version, grader_version, selection))
        return cursor.lastrowid

    def finish_run(self, run_id: int, *, submissions: int, graded: int, skipped: int, errored: int) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET finished_at = ?, submissions = ?, graded = ?, skipped = ?, errored = ?"
                            " WHERE id = ?", (now(), submissions, graded, skipped, errored, run_id))

    # --- gradings --------------------------------------------------------------------------------

    def graded_keys(self) -> set[tuple]:
        """The keys that already have a successful grading (a batch skips them)."""
        rows = self.db.execute("SELECT name, content_hash, bank_version, seed, grader_version, selection"
                               " FROM gradings WHERE status = 'graded'")
        return {tuple(row) for row in rows}

    def record(self, run_id: int, key: GradingKey, source: str, report: dict) -> int:
        """Store one graded submission (its JSON report) and its per-problem and per-property rows,
        all in one transaction. A second grading under the same key is not stored twice."""
        with self.db:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO gradings (run_id, name, source, content_hash, seed, bank_version,"
                " grader_version, selection, status, score, max_score, percent, isolation, device, duration_s,"
                " graded_at, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'graded', ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, key.name, source, key.content_hash, key.seed, key.bank_version, key.grader_version,
                 key.selection, float(report["score"]), float(report["max_score"]), float(report["percent"]),
                 report.get("isolation"), report.get("device"), float(report.get("duration_s", 0.0)), now(),
                 json.dumps(report, allow_nan=False)))
            if cursor.rowcount == 0:
                return self._graded_id(key)
            grading_id = cursor.lastrowid
            for problem in report["problems"]:
                mistakes = [m["id"] for m in (problem.get("diagnosis") or {}).get("mistakes", [])]
                self.db.execute(
                    "INSERT INTO problem_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (grading_id, problem["id"], problem["title"], float(problem["score"]),
                     float(problem["max_score"]), problem["status"], problem["message"], json.dumps(mistakes)))
                self.db.executemany(
                    "INSERT INTO property_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(grading_id, problem["id"], prop["name"], float(prop["points"]), float(prop["score"]),
                      prop["status"], prop["message"], float(prop["duration_s"]), int(bool(prop.get("hidden"))))
                     for prop in problem["properties"]])
        return grading_id

    def record_error(self, run_id: int, key: GradingKey, source: str, error: str) -> int:
        """Store that grading a submission failed on the grader's side (its grading process died or
        outlived its time). Errors are not part of the skip key: the next batch tries again."""
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO gradings (run_id, name, source, content_hash, seed, bank_version, grader_version,"
                " selection, status, error, graded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'error', ?, ?)",
                (run_id, key.name, source, key.content_hash, key.seed, key.bank_version, key.grader_version,
                 key.selection, error, now()))
        return cursor.lastrowid

    def _graded_id(self, key: GradingKey) -> int:
        row = self.db.execute(
            "SELECT id FROM gradings WHERE status = 'graded' AND name = ? AND content_hash = ? AND bank_version = ?"
            " AND seed = ? AND grader_version = ? AND selection = ?", key.as_tuple()).fetchone()
        return int(row[0])

    def grading_for(self, key: GradingKey) -> Grading | None:
        """The successful grading under ``key``, else its latest error, else None."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM gradings WHERE name = ? AND content_hash = ? AND bank_version = ? AND seed = ?"
            " AND grader_version = ? AND selection = ? ORDER BY status = 'graded' DESC, id DESC LIMIT 1",
            key.as_tuple()).fetchone()
        return None if row is None else _grading(row)

    def latest(self, run_id: int | None = None) -> list[Grading]:
        """Per submission name, its latest successful grading, or its latest error when it has never
        been graded; sorted by name. ``run_id``: only the gradings that run made."""
        where, params = "", ()
        if run_id is not None:
            where, params = " WHERE run_id = ?", (run_id,)
        rows = self.db.execute(f"SELECT {_COLUMNS} FROM gradings{where} ORDER BY name, id", params).fetchall()
        chosen: dict[str, tuple] = {}
        for row in rows:
            name, status = row[2], row[7]
            previous = chosen.get(name)
            if previous is None or status == "graded" or previous[7] == "error":
                chosen[name] = row
        return [_grading(chosen[name]) for name in sorted(chosen)]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self.db.execute("SELECT COUNT(*) FROM gradings").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM gradings WHERE status = ?", (status,)).fetchone()[0]


def open_gradebook(path: Path, *, create: bool = True, timeout_s: float = 30.0) -> Gradebook:
    """Open (and with ``create``, create) the gradebook at ``path``."""
    path = Path(path)
    if not create and not path.is_file():
        raise GradebookError(f"gradebook not found: {path}")
    try:
        connection = sqlite3.connect(str(path), timeout=timeout_s, isolation_level="DEFERRED")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        found = connection.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if found is None:
            if not create:
                connection.close()
                raise GradebookError(f"{path} is not a gradebook (no meta table)")
            with connection:
                connection.executescript(_SCHEMA)
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as error:
        raise GradebookError(f"{path}: not a usable gradebook ({error})") from None
    if version is None or int(version[0]) > SCHEMA_VERSION:
        connection.close()
        raise GradebookError(f"{path}: gradebook schema {version and version[0]} is newer than this grader's "
                             f"({SCHEMA_VERSION})")
    return Gradebook(connection, path)

