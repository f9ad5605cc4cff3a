"""Diagnosis: name the catalogued mistake that a failing submission's answers look like.

On a problem that lost points, the grader evaluates the problem's designed probe inputs
(``PROBES`` in its ``mistakes.py``) through the student's function (in the worker) and through each
catalogued mistake (in the grader: mistakes are trusted code). A mistake is named only if it
reproduces the student's answers on every probe; otherwise the report says that no known mistake
matches.

Where the reference is installed, the diagnosis also keeps one designed input on which the student's
answer differs from the reference's (``example``): Hypothesis shrinks towards simple inputs, and a
simple input can hide a mistake (sigma = 1 makes sigma and sigma^2 equal), so the report shows this
input next to the shrunk counterexample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from grader.bank import Mistake, Problem
from grader.sandbox import WorkerLost
from grader.values import ReferenceModule, StudentError, call_in_process, plain

# Answers count as the same when they agree to float32 precision (a student computing in float32
# with the mistake must still be recognised); NaN matches NaN and infinities match themselves.
MATCH_RTOL = 1e-4
MATCH_ATOL = 1e-6
NO_MATCH = "no known mistake matches your answers on the diagnostic inputs"


@dataclass
class Diagnosis:
    mistakes: list[Mistake] = field(default_factory=list)
    message: str = NO_MATCH
    probes: int = 0
    example: dict | None = None  # a designed input where the student and the reference disagree

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "probes": self.probes,
            "mistakes": [{"id": m.id, "title": m.title, "explanation": m.explanation, "hint": m.hint}
                         for m in self.mistakes],
            "example": self.example,
        }


def same_answer(a, b) -> bool:
    """Structural equality of plain answers up to float32 precision (NaN == NaN, inf == inf)."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(same_answer(x, y) for x, y in zip(a, b)))
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=MATCH_RTOL, atol=MATCH_ATOL, equal_nan=True))


def diagnose(problem: Problem, student, failed_properties=(), reference=None) -> Diagnosis | None:
    """Compare the student's answers on the probes with each catalogued mistake's; None when the
    problem has no catalogue or no probes, or the student's code cannot be evaluated on them.

    Mistakes declared ``named_by`` a property are named when that property failed and no mistake
    reproduces the student's answers on the probes. ``reference`` (the reference module, or None)
    supplies the expected answer of the designed example."""
    mistakes, probes = problem.mistakes(), problem.probes()
    flagged = [m for m in mistakes if m.named_by is not None and m.named_by in set(failed_properties)]
    mistakes = [m for m in mistakes if m.named_by is None]
    if not probes or not (mistakes or flagged):
        return None
    answers = _answers(problem, student, probes)
    if answers is None:
        return None
    diagnosis = _diagnose_by_probes(problem, mistakes, probes, answers)
    if not diagnosis.mistakes and flagged:
        titles = " or ".join(f"“{m.title}”" for m in flagged)
        diagnosis = Diagnosis(flagged, f"the property designed to detect it failed: {titles}", len(probes))
    if reference is not None:
        diagnosis.example = _designed_example(problem, probes, answers, reference)
    return diagnosis


def _answers(problem: Problem, student, probes) -> list | None:
    """The student's answer on each probe (``_RAISED`` where it raised); None if the worker died."""
    answers = []
    for probe in probes:
        try:
            if probe.scenario is not None:
                answers.append(plain(probe.scenario(student)))
            else:
                answers.append(student.call(probe.function or problem.name, *probe.args, **probe.call_kwargs()))
        except WorkerLost:
            return None
        except StudentError:
            answers.append(_RAISED)
        except Exception:  # noqa: BLE001 - a scenario choking on the student's answers (a wrong shape)
            if probe.scenario is None:
                raise
            answers.append(_RAISED)
    return answers


def _designed_example(problem: Problem, probes, answers, reference) -> dict | None:
    """The first single-call probe on which the student's answer differs from the reference's."""
    from grader.feedback import CallRecord, summarize

    for probe, answer in zip(probes, answers):
        if probe.scenario is not None:
            continue  # a script, not an input a student can retype
        name = probe.function or problem.name
        try:
            expected = reference.call(name, *probe.args, **probe.call_kwargs())
        except Exception:  # noqa: BLE001 - a probe outside the reference's domain shows nothing
            continue
        if answer is _RAISED or not same_answer(answer, expected):
            return {
                "call": CallRecord(name, tuple(probe.args), probe.call_kwargs()).text(),
                "student": "raised an exception" if answer is _RAISED else summarize(answer),
                "expected": summarize(expected),
            }
    return None


def _diagnose_by_probes(problem: Problem, mistakes, probes, answers) -> Diagnosis:
    matched = []
    for mistake in mistakes:
        if all(_mistake_matches(problem, mistake, probe, answer) for probe, answer in zip(probes, answers)):
            matched.append(mistake)
    if not matched:
        return Diagnosis([], NO_MATCH, len(probes))
    titles = " or ".join(f"“{m.title}”" for m in matched)
    return Diagnosis(matched, f"your answers on {len(probes)} diagnostic inputs match a known mistake: {titles}",
                     len(probes))


_RAISED = object()


def _mistake_matches(problem: Problem, mistake: Mistake, probe, answer) -> bool:
    try:
        expected = trusted_answer(problem, mistake.implementation, probe)
    except Exception:  # noqa: BLE001 - a mistake that raises on a probe is matched by a student that raises
        return answer is _RAISED
    return answer is not _RAISED and same_answer(answer, expected)


def trusted_answer(problem: Problem, implementation, probe):
    """The answer of trusted code on a probe: ``implementation`` stands for the problem's function (or
    class) — a catalogued mistake's, or the reference's. A scenario probe runs against an in-process
    module holding just that implementation under the problem's name."""
    if probe.scenario is not None:
        return plain(probe.scenario(ReferenceModule(SimpleNamespace(**{problem.name: implementation}))))
    return call_in_process(implementation, probe.args, probe.call_kwargs())
