"""``grade export``: the gradebook as files an LMS imports, and a report folder per submission.

    csv         one row per submission: status, total, maximum, percent, one column per problem,
                and the content hash, bank version, seed and time of the grading
    gradescope  Gradescope's score-sheet shape: Name, SID, Email, Total Score, Max Points, Status,
                then one "<problem> (<points> pts)" column per problem
    canvas      Canvas' gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one
                assignment column holding the total, and a "Points Possible" row

A submission with problems under review (tampering suspected: those problems score 0 in the
report, their scores withheld for the staff) is marked so: ``review`` in the CSV lists them,
Gradescope's sheet says ``Review`` and leaves its total and their cells empty, and Canvas' sheet
leaves its total empty (an import then leaves the grade untouched until the staff decide).

Students are matched to submissions by name: a submission (the folder or zip name) belongs to the
roster row (``--roster``, a CSV such as Canvas' or Gradescope's own export) whose SIS Login ID, SIS
User ID, ID, SID, Email or the part of Email before the @ equals it (ignoring case). Without a
roster, or for a submission no row matches, the submission's name fills the Student/Name column
and Canvas' SIS Login ID; an unmatched submission is reported on stderr. A submission the grader
could not grade has an empty score (LMS imports leave empty cells untouched).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import sys
from pathlib import Path

from grader.gradebook import Grading

FORMATS = ("csv", "gradescope", "canvas")
DEFAULT_ASSIGNMENT = "Autograder"
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
_ROSTER_KEYS = ("sis login id", "sis user id", "id", "sid", "email", "login", "username")


def problem_columns(gradings: list[Grading]) -> list[tuple[str, float]]:
    """Every problem graded in ``gradings`` (id, points), in the order first seen (bank order)."""
    columns: dict[str, float] = {}
    for grading in gradings:
        for problem in (grading.report or {}).get("problems", []):
            columns.setdefault(problem["id"], float(problem["max_score"]))
    return list(columns.items())


def _per_problem(grading: Grading) -> dict[str, float]:
    return {p["id"]: float(p["score"]) for p in (grading.report or {}).get("problems", [])}


def _number(value) -> str:
    return "" if value is None else f"{float(value):g}"


def _write(rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([[_safe_cell(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def _safe_cell(cell) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: a submission named
    ``=HYPERLINK(...)`` must stay text."""
    text = str(cell)
    if text and text[0] in "=+-@\t\r" and not re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", text):
        return "'" + text
    return text


# --- rosters ---------------------------------------------------------------------------------------


class RosterError(Exception):
    """The roster file cannot be read."""


class Roster:
    """Students of the course (rows of a CSV), found by any of their identifiers."""

    def __init__(self, rows: list[dict[str, str]]):
        self.rows = rows
        self.index: dict[str, dict[str, str]] = {}
        for row in rows:
            for column, value in row.items():
                key = (column or "").strip().lower()
                value = (value or "").strip()
                if key in _ROSTER_KEYS and value:
                    self.index.setdefault(value.lower(), row)
                    if key == "email" and "@" in value:
                        self.index.setdefault(value.split("@", 1)[0].lower(), row)

    @classmethod
    def load(cls, path: Path) -> "Roster":
        try:
            with open(path, newline="", encoding="utf-8-sig") as stream:
                rows = list(csv.DictReader(stream))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise RosterError(f"--roster: cannot read {path}: {error}") from None
        # Canvas exports put a "Points Possible" row under the header: it is not a student.
        rows = [r for r in rows if not any((v or "").strip() == "Points Possible" for v in r.values())]
        return cls(rows)

    def find(self, name: str) -> dict[str, str] | None:
        return self.index.get(name.strip().lower())

    @staticmethod
    def field(row: dict[str, str] | None, *names: str) -> str:
        if row is None:
            return ""
        lowered = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        for name in names:
            if lowered.get(name.lower()):
                return lowered[name.lower()]
        return ""


# --- formats ---------------------------------------------------------------------------------------


def to_csv(gradings: list[Grading]) -> str:
    columns = problem_columns(gradings)
    rows = [["submission", "status", "score", "max_score", "percent", *[c for c, _ in columns],
             "content_hash", "bank_version", "seed", "graded_at", "review", "error"]]
    for g in gradings:
        scores = _per_problem(g)
        rows.append([g.name, g.status, _number(g.score), _number(g.max_score),
                     "" if g.percent is None else f"{g.percent:.2f}",
                     *[_number(scores.get(c)) for c, _ in columns],
                     g.content_hash, g.bank_version, g.seed, g.graded_at, " ".join(g.under_review), g.error])
    return _write(rows)


def to_gradescope_csv(gradings: list[Grading], roster: Roster | None = None) -> str:
    columns = problem_columns(gradings)
    rows = [["Name", "SID", "Email", "Total Score", "Max Points", "Status",
             *[f"{c} ({points:g} pts)" for c, points in columns]]]
    for g in gradings:
        student = roster.find(g.name) if roster else None
        name = Roster.field(student, "Name", "Student") or " ".join(
            x for x in (Roster.field(student, "First Name"), Roster.field(student, "Last Name")) if x) or g.name
        scores, reviewed = _per_problem(g), g.under_review
        status = "Ungraded" if g.status != "graded" else "Review" if reviewed else "Graded"
        rows.append([name, Roster.field(student, "SID", "SIS User ID"), Roster.field(student, "Email"),
                     "" if reviewed else _number(g.score), _number(g.max_score) or _number(_max_of(columns)), status,
                     *["" if c in reviewed else _number(scores.get(c)) for c, _ in columns]])
    return _write(rows)


def _max_of(columns) -> float:
    return sum(points for _, points in columns)


def to_canvas_csv(gradings: list[Grading], roster: Roster | None = None, assignment: str = DEFAULT_ASSIGNMENT) -> str:
    columns = problem_columns(gradings)
    max_total = max([g.max_score for g in gradings if g.max_score is not None] or [_max_of(columns)])
    rows = [[*CANVAS_COLUMNS, assignment], ["Points Possible", "", "", "", "", _number(max_total)]]
    for g in gradings:
        student = roster.find(g.name) if roster else None
        rows.append([Roster.field(student, "Student", "Name") or g.name, Roster.field(student, "ID"),
                     Roster.field(student, "SIS User ID", "SID"),
                     Roster.field(student, "SIS Login ID") or (g.name if student is None else ""),
                     Roster.field(student, "Section"), "" if g.under_review else _number(g.score)])
    return _write(rows)


def render_export(gradings: list[Grading], fmt: str, *, roster: Roster | None = None,
                  assignment: str = DEFAULT_ASSIGNMENT) -> str:
    if fmt == "csv":
        return to_csv(gradings)
    if fmt == "gradescope":
        return to_gradescope_csv(gradings, roster)
    if fmt == "canvas":
        return to_canvas_csv(gradings, roster, assignment)
    raise ValueError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")


def unmatched(gradings: list[Grading], roster: Roster) -> list[str]:
    return [g.name for g in gradings if roster.find(g.name) is None]


def write_export(gradebook, fmt: str, path: Path, *, names: list[str] | None = None, gradings=None, **options) -> None:
    from grader.report import write_atomic

    gradings = gradebook.latest() if gradings is None else gradings
    if names is not None:
        wanted = set(names)
        gradings = [g for g in gradings if g.name in wanted]
    write_atomic(path, render_export(gradings, fmt, **options))


# --- per-submission reports ------------------------------------------------------------------------


def result_from_report(report: dict):
    """The :class:`grader.runner.RunResult` a stored JSON report was made from (for the formats
    rendered from a RunResult)."""
    from grader.runner import ProblemResult, PropertyResult, RunResult

    def build(cls, data: dict, **extra):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names}, **extra)

    problems = []
    for problem in report["problems"]:
        properties = [build(PropertyResult, p) for p in problem["properties"]]
        problems.append(build(ProblemResult, {k: v for k, v in problem.items() if k != "properties"},
                              properties=properties))
    return build(RunResult, {k: v for k, v in report.items() if k != "problems"}, problems=problems)


def safe_folder_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._@+-]", "_", name).lstrip(".")
    return cleaned or "_"


def write_report_folder(gradings: list[Grading], directory: Path) -> list[Path]:
    """DIR/<submission>/: report.json, and where the report formats exist, results.json
    (Gradescope), report.xml (JUnit), report.md and report.html; error.txt for a submission the
    grader could not grade. Hidden properties are redacted as students see them."""
    from grader import report as reports

    written = []
    for g in gradings:
        folder = Path(directory) / safe_folder_name(g.name)
        if g.report is None:
            reports.write_atomic(folder / "error.txt", f"{g.name}: not graded: {g.error}\n")
            written.append(folder)
            continue
        result = result_from_report(g.report)
        student_json = _student_json(reports, result, g.report)
        reports.write_atomic(folder / "report.json", json.dumps(student_json, indent=2, allow_nan=False) + "\n")
        if hasattr(reports, "write_reports"):
            reports.write_reports(result, gradescope=folder / "results.json", junit=folder / "report.xml",
                                  markdown=folder / "report.md", html=folder / "report.html")
        written.append(folder)
    return written


def _student_json(reports, result, stored: dict) -> dict:
    """The JSON report as a student may see it, with the versions of the grading (not the export)."""
    document = reports.to_json(result)
    document["versions"] = stored.get("versions", document.get("versions"))
    document["submission"] = stored.get("submission", document.get("submission"))
    return document


# --- the command -----------------------------------------------------------------------------------


def command(args) -> int:
    from grader.cli import EXIT_OK, UsageError
    from grader.gradebook import GradebookError, open_gradebook

    if args.format is None and args.reports is None:
        raise UsageError("export needs --format FORMAT or --reports DIR")
    if args.output is not None and (args.output.is_dir() or not args.output.resolve().parent.is_dir()):
        raise UsageError(f"--output: cannot write to {args.output}")
    try:
        roster = Roster.load(args.roster) if args.roster is not None else None
        gradebook = open_gradebook(args.db, create=False)
    except (RosterError, GradebookError) as error:
        raise UsageError(str(error)) from None
    try:
        gradings = gradebook.latest()
    finally:
        gradebook.close()
    if roster is not None:
        for name in unmatched(gradings, roster):
            print(f"grade: warning: submission {name!r} matches no student of the roster", file=sys.stderr)
    for g in gradings:
        if g.under_review:
            print(f"grade: warning: submission {g.name!r}: tampering suspected in {', '.join(g.under_review)}; "
                  "those problems score 0 until reviewed (the staff report in the gradebook has the findings)",
                  file=sys.stderr)
    if args.format is not None:
        text = render_export(gradings, args.format, roster=roster, assignment=args.assignment)
        if args.output is None:
            sys.stdout.write(text)
        else:
            from grader.report import write_atomic

            write_atomic(args.output, text)
    if args.reports is not None:
        write_report_folder(gradings, args.reports)
    return EXIT_OK
