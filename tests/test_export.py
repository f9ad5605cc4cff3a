"""grade export: CSV, Gradescope and Canvas grade sheets from the gradebook (roster matching,
errored submissions left blank, spreadsheet formulas neutralised) and the per-submission report
folder, with hidden properties redacted for students."""

from __future__ import annotations

import csv
import io
import json

import pytest

from grader.cli import EXIT_OK, EXIT_USAGE, main
from grader.export import (CANVAS_COLUMNS, Roster, result_from_report, to_canvas_csv, to_csv, to_gradescope_csv,
                           write_report_folder)
from grader.gradebook import open_gradebook

from test_gradebook import key, report


def two_problem_report(name: str, double: float, square: float) -> dict:
    document = report(double, name=name)
    second = json.loads(json.dumps(document["problems"][0]))
    second.update(id="toy.square", title="Square", score=square, max_score=2.0)
    second["properties"] = [dict(second["properties"][0], score=square, points=2.0)]
    document["problems"].append(second)
    document.update(score=double + square, max_score=6.0, percent=100 * (double + square) / 6)
    return document


@pytest.fixture
def gradebook_file(tmp_path):
    path = tmp_path / "gb.sqlite"
    with open_gradebook(path) as book:
        run = book.start_run(directory="/class", executor="local", jobs=1, seed=0, device="cpu", bank_version="b1",
                             grader_version="0.1.0", selection="[]")
        book.record(run, key("alice"), "/class/alice", two_problem_report("alice", 4.0, 2.0))
        book.record(run, key("bob"), "/class/bob.zip", two_problem_report("bob", 2.0, 0.0))
        book.record(run, key("=cmd|' /C calc'!A0"), "/class/x", two_problem_report("=cmd", 0.0, 0.0))
        book.record_error(run, key("carol"), "/class/carol", "the grading process died")
    return path


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def latest(path):
    with open_gradebook(path, create=False) as book:
        return book.latest()


def test_csv_has_totals_and_a_column_per_problem(gradebook_file):
    table = rows(to_csv(latest(gradebook_file)))
    assert table[0][:7] == ["submission", "status", "score", "max_score", "percent", "toy.double", "toy.square"]
    body = {row[0]: row for row in table[1:]}
    assert body["alice"][1:7] == ["graded", "6", "6", "100.00", "4", "2"]
    assert body["bob"][1:7] == ["graded", "2", "6", "33.33", "2", "0"]
    assert body["carol"][1:7] == ["error", "", "", "", "", ""] and body["carol"][-1] == "the grading process died"
    # a name a spreadsheet would run as a formula stays text
    assert "'=cmd|' /C calc'!A0" in body


def test_gradescope_sheet_uses_the_roster(gradebook_file, tmp_path):
    (tmp_path / "roster.csv").write_text("First Name,Last Name,SID,Email\nAlice,Liddell,1001,alice@uni.edu\n")
    roster = Roster.load(tmp_path / "roster.csv")
    table = rows(to_gradescope_csv(latest(gradebook_file), roster))
    assert table[0] == ["Name", "SID", "Email", "Total Score", "Max Points", "Status", "toy.double (4 pts)",
                        "toy.square (2 pts)"]
    body = {row[0]: row for row in table[1:]}
    assert body["Alice Liddell"] == ["Alice Liddell", "1001", "alice@uni.edu", "6", "6", "Graded", "4", "2"]
    assert body["bob"][1:6] == ["", "", "2", "6", "Graded"]  # no roster row: the submission's name
    assert body["carol"][3:6] == ["", "6", "Ungraded"]


def test_canvas_sheet_matches_its_import_format(gradebook_file, tmp_path):
    (tmp_path / "canvas.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,HW1 (77)\n"
        "Points Possible,,,,,6\n"
        "\"Liddell, Alice\",501,S1001,alice,Sec A,\n"
        "\"Builder, Bob\",502,S1002,bob,Sec B,\n")
    roster = Roster.load(tmp_path / "canvas.csv")
    assert len(roster.rows) == 2  # the Points Possible row is not a student
    table = rows(to_canvas_csv(latest(gradebook_file), roster, "HW1 (77)"))
    assert table[0] == [*CANVAS_COLUMNS, "HW1 (77)"]
    assert table[1] == ["Points Possible", "", "", "", "", "6"]
    body = {row[0]: row for row in table[2:]}
    assert body["Liddell, Alice"] == ["Liddell, Alice", "501", "S1001", "alice", "Sec A", "6"]
    assert body["Builder, Bob"] == ["Builder, Bob", "502", "S1002", "bob", "Sec B", "2"]
    assert body["carol"] == ["carol", "", "", "carol", "", ""]  # unmatched: name as login, blank score


def test_export_command_writes_a_sheet_and_warns_about_unmatched_names(gradebook_file, tmp_path, capsys):
    (tmp_path / "roster.csv").write_text("Student,ID,SIS User ID,SIS Login ID,Section\nAlice,501,S1,alice,A\n")
    out = tmp_path / "canvas.csv"
    code = main(["export", "--db", str(gradebook_file), "--format", "canvas", "--roster", str(tmp_path / "roster.csv"),
                 "--output", str(out), "--assignment", "HW1"])
    err = capsys.readouterr().err
    assert code == EXIT_OK
    assert "submission 'bob' matches no student of the roster" in err and "'alice'" not in err
    assert rows(out.read_text())[0][-1] == "HW1"
    assert main(["export", "--db", str(gradebook_file), "--format", "csv"]) == EXIT_OK
    assert capsys.readouterr().out.startswith("submission,status,score")


@pytest.mark.parametrize("argv,fragment", [
    (["export", "--db", "/no/such.sqlite", "--format", "csv"], "gradebook not found: /no/such.sqlite"),
    (["export", "--format", "xls"], "invalid choice: 'xls'"),
    (["export", "--db", "DB"], "export needs --format FORMAT or --reports DIR"),
    (["export", "--db", "DB", "--format", "csv", "--output", "/no/such/dir/x.csv"], "--output: cannot write"),
    (["export", "--db", "DB", "--format", "csv", "--roster", "/no/roster.csv"], "--roster: cannot read"),
])
def test_export_usage_errors(argv, fragment, gradebook_file, capsys):
    argv = [str(gradebook_file) if a == "DB" else a for a in argv]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("grade: error: ") and fragment in err and len(err.splitlines()) == 1


def test_report_folder_per_submission_redacts_hidden_properties(gradebook_file, tmp_path):
    folder = tmp_path / "reports"
    write_report_folder(latest(gradebook_file), folder)
    alice = json.loads((folder / "alice" / "report.json").read_text())
    assert alice["score"] == 6.0 and alice["submission"] == "/class/alice"
    assert alice["versions"] == {"grader": "0.1.0"}  # the grading's versions, not the exporter's
    hidden = alice["problems"][0]["properties"][1]
    assert hidden["hidden"] and hidden["name"] != "b" and hidden["message"] != "no"
    for produced in ("results.json", "report.xml", "report.md", "report.html"):
        assert (folder / "alice" / produced).stat().st_size > 0
    assert "the grading process died" in (folder / "carol" / "error.txt").read_text()
    # names become plain folder names directly under DIR
    assert sorted(p.name for p in folder.iterdir()) == sorted(["alice", "bob", "carol", "_cmd____C_calc__A0"])


def test_a_stored_report_rebuilds_its_result(gradebook_file):
    [alice] = [g for g in latest(gradebook_file) if g.name == "alice"]
    result = result_from_report(alice.report)
    assert (result.score, result.max_score, [p.id for p in result.problems]) == (6.0, 6.0, ["toy.double", "toy.square"])
    assert result.problems[0].properties[1].hidden is True
