"""``grade audit`` on copies of the engine's toy bank: a sound bank passes; a surviving mistake, a
correct submission that loses points, an example losing points elsewhere, an unnamed mistake and
declared false-failure probabilities over the budget each fail it (exit 1)."""

from __future__ import annotations

import json
import shutil

import pytest

from grader.audit import FALSE_FAILURE_BUDGET, audit, summarise
from grader.cli import EXIT_USAGE, main

from conftest import FIXTURE_BANK, FIXTURE_REFERENCE, FIXTURE_SUBMISSIONS

DOUBLE_MISTAKES = '''
import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("plus_one", title="Adds one", explanation="2 x + 1 is not 2 x.", hint="Drop the + 1.")
def double(x):
    return 2 * x + 1


@mistake("times_three", title="Triples", explanation="3 x is not 2 x.", hint="Multiply by 2.")
def double(x):
    return 3 * x


PROBES = [probe(np.array([0.5, -1.5, 2.0]))]
'''

# Wrong only beyond 1e4: no property of toy.double ever draws such an input.
SURVIVOR = '''

@mistake("wrong_beyond_1e4", title="Wrong for huge x", explanation="3 x beyond 1e4.", hint="Always 2 x.")
def double(x):
    return torch.where(x.abs() > 1e4, 3 * x, 2 * x)
'''

SQUARE_MISTAKES = '''
import numpy as np

from grader.bank import mistake, probe


@mistake("cube", title="Cubes", explanation="x * x * x is not x * x.", hint="Multiply x by itself once.")
def square(x):
    return x * x * x


PROBES = [probe(np.array([2.0, -1.0, 0.5, 3.0]))]
'''


@pytest.fixture
def bank(tmp_path, monkeypatch):
    """A copy of the toy bank with mistake catalogues, example submissions, and the CLI pointed at it."""
    bank = tmp_path / "bank"
    shutil.copytree(FIXTURE_BANK, bank, ignore=shutil.ignore_patterns("__pycache__"))
    (bank / "toy" / "double" / "mistakes.py").write_text(DOUBLE_MISTAKES)
    (bank / "toy" / "square" / "mistakes.py").write_text(SQUARE_MISTAKES)
    submissions = tmp_path / "submissions"
    reference = (FIXTURE_REFERENCE / "toy.py").read_text()
    examples = {"correct_toy": (FIXTURE_SUBMISSIONS / "correct" / "toy.py").read_text(),
                "double-plus_one": reference + "\n\ndef double(x):\n    return 2 * x + 1\n",
                "double-times_three": reference + "\n\ndef double(x):\n    return 3 * x\n",
                "square-cube": reference + "\n\ndef square(x):\n    return x * x * x\n"}
    for name, source in examples.items():
        (submissions / name).mkdir(parents=True)
        (submissions / name / "toy.py").write_text(source)
    monkeypatch.setenv("GRADE_BANK", str(bank))
    monkeypatch.setenv("GRADE_REFERENCE", str(FIXTURE_REFERENCE))
    return bank


def _audit(bank, zygote, seeds=2, **options):
    return summarise(audit(options.pop("problems", None), bank_dir=bank, reference_dir=FIXTURE_REFERENCE,
                           submissions_dir=bank.parent / "submissions", seeds=seeds, zygote=zygote, **options))


def test_a_sound_bank_passes_with_its_rates(bank, zygote):
    summary = _audit(bank, zygote)
    assert summary["ok"], summary
    double = summary["problems"]["toy.double"]
    # two seeds of the reference and two of correct_toy
    assert (double["correct_runs"], double["false_failures"]) == (4, 0)
    assert (double["mistakes"], double["mistakes_caught"], double["mutation_score"]) == (2, 2, 1.0)
    plus_one = double["mistake_results"]["plus_one"]
    assert plus_one["detection_rate"] == 1.0 and plus_one["named"] == 1
    # the reference-free checks catch it as well as the comparison with the reference
    assert set(plus_one["caught_by"]) == {"doubles_small_values", "doubles_large_values", "double_matches_reference"}
    assert double["examples"]["double-plus_one"]["ok"] and double["examples"]["double-plus_one"]["losing"] == [
        "toy.double"]
    assert all(p["mean_s"] is not None and p["mean_s"] >= 0 for p in double["properties"].values())
    # cubing agrees with squaring on {0, 1}, is negative below 0: both square properties catch it somewhere
    square = summary["problems"]["toy.square"]
    assert square["mutation_score"] == 1.0 and square["never_catching"] == []
    assert summary["budget"] == {"false_failure_budget": FALSE_FAILURE_BUDGET, "declared_total": 0.0, "within": True}
    assert summary["gradings"] == 2 * 2 + 3 + 3  # reference and correct_toy x 2 seeds, 3 mistakes, 3 examples


def test_a_surviving_mistake_fails_the_audit(bank, tmp_path, capsys):
    mistakes = bank / "toy" / "double" / "mistakes.py"
    mistakes.write_text(mistakes.read_text() + SURVIVOR)
    report = tmp_path / "audit.json"
    code = main(["audit", "--problem", "toy.double", "--seeds", "1", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 1
    assert "mistake survives" in out and "wrong_beyond_1e4" in out and "Audit failed" in out
    summary = json.loads(report.read_text())
    assert summary["ok"] is False
    assert summary["surviving_mistakes"] == [{"problem": "toy.double", "mistake": "wrong_beyond_1e4",
                                              "caught": 0, "runs": 1}]
    assert summary["problems"]["toy.double"]["mutation_score"] == pytest.approx(2 / 3)
    assert summary["false_failures"] == [] and summary["misbehaving_examples"] == []


def test_a_correct_submission_losing_points_is_a_false_failure(bank, zygote):
    (bank.parent / "submissions" / "correct_toy" / "toy.py").write_text(
        "def double(x):\n    return 2 * x\n\n\ndef square(x):\n    return x * x + 0.5 * (x > 1)\n")
    summary = _audit(bank, zygote, seeds=1, problems=["toy.square"])
    assert not summary["ok"]
    failures = summary["false_failures"]
    assert failures and {f["submission"] for f in failures} == {"correct_toy"}
    assert {f["property"] for f in failures} == {"squares_elementwise"}
    assert summary["problems"]["toy.square"]["false_failures"] == 1  # one of two runs (reference, correct_toy)


def test_an_example_losing_points_elsewhere_or_unnamed_fails(bank, zygote):
    # double-plus_one also breaks square: graded on its whole module, it loses points on both problems
    example = bank.parent / "submissions" / "double-plus_one" / "toy.py"
    example.write_text("def double(x):\n    return 2 * x + 1\n\n\ndef square(x):\n    return -x * x\n")
    # at 1 the probe no longer tells the two mistakes apart (2 x + 1 = 3 x): caught, but never named alone
    mistakes = bank / "toy" / "double" / "mistakes.py"
    mistakes.write_text(mistakes.read_text().replace("np.array([0.5, -1.5, 2.0])", "np.array([1.0])"))
    summary = _audit(bank, zygote, seeds=1)
    assert not summary["ok"]
    bad = {e["submission"]: e for e in summary["misbehaving_examples"]}
    assert set(bad) == {"double-plus_one", "double-times_three"}
    assert bad["double-plus_one"]["losing"] == ["toy.double", "toy.square"]
    assert bad["double-times_three"]["losing"] == ["toy.double"]
    assert bad["double-times_three"]["named"] == ["plus_one", "times_three"]
    assert [(u["mistake"], u["named"]) for u in summary["unnamed_mistakes"]] == [("plus_one", 0), ("times_three", 0)]
    assert summary["surviving_mistakes"] == [] and summary["false_failures"] == []


def test_declared_false_failures_are_summed_against_the_budget(bank, zygote):
    spec = bank / "toy" / "double" / "spec.py"
    spec.write_text(spec.read_text().replace("@prop(points=1, max_examples=10)\n@given(x=arrays((3,)",
                                             "@prop(points=1, max_examples=10, false_failure=6e-4)\n"
                                             "@given(x=arrays((3,)")
                    .replace("@prop(points=1)\n", "@prop(points=1, false_failure=5e-4)\n"))
    summary = _audit(bank, zygote, seeds=1, problems=["toy.double"])
    assert summary["problems"]["toy.double"]["declared_false_failure"] == pytest.approx(1.1e-3)
    assert summary["budget"]["declared_total"] == pytest.approx(1.1e-3)
    assert summary["budget"]["within"] is False and summary["ok"] is False
    assert summary["false_failures"] == [] and summary["surviving_mistakes"] == []


def test_parallel_audit_agrees_with_a_serial_one(bank, zygote):
    def findings(summary):
        return {pid: (row["correct_runs"], row["false_failures"], row["mutation_score"],
                      {m: r["caught_by"] for m, r in row["mistake_results"].items()}, row["never_catching"])
                for pid, row in summary["problems"].items()}

    serial = _audit(bank, zygote, seeds=2)
    parallel = summarise(audit(None, bank_dir=bank, reference_dir=FIXTURE_REFERENCE,
                               submissions_dir=bank.parent / "submissions", seeds=2, jobs=2))
    assert parallel["jobs"] == 2 and parallel["ok"] and findings(parallel) == findings(serial)


def test_a_problem_without_a_catalogue_fails(bank, zygote):
    (bank / "toy" / "square" / "mistakes.py").unlink()
    shutil.rmtree(bank.parent / "submissions" / "square-cube")
    summary = _audit(bank, zygote, seeds=1, problems=["toy.square"])
    assert summary["uncatalogued"] == ["toy.square"] and not summary["ok"]


@pytest.mark.parametrize("argv,needle", [
    (["audit", "--seeds", "0"], "--seeds"),
    (["audit", "-j", "0"], "-j"),
    (["audit", "--problem", "toy.nothing"], "unknown problem"),
    (["audit", "--submissions", "/nonexistent/dir"], "--submissions"),
])
def test_usage_errors_exit_2_in_one_line(bank, capsys, argv, needle):
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("grade: error: ") and needle in err and err.count("\n") == 1


def test_examples_naming_nothing_in_the_bank_fail(bank, zygote):
    (bank.parent / "submissions" / "double-not_a_mistake").mkdir()
    summary = _audit(bank, zygote, seeds=1, problems=["toy.double"])
    assert summary["orphan_examples"] == ["double-not_a_mistake"] and not summary["ok"]


def test_audit_help_lists_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    out = capsys.readouterr().out
    for option in ("--seeds", "--mistake-seeds", "--json", "--submissions", "-j"):
        assert option in out
