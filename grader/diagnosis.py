"""Diagnosis: name the catalogued mistake that a failing submission's answers look like.

On a problem that lost points, the grader evaluates the problem's designed probe inputs
(``PROBES`` in its ``mistakes.py``) through the student's function (in the worker) and through each
catalogued mistake (in the grader: mistakes are trusted code). A mistake is named only if it
reproduces the student's answers on every probe; otherwise the report says that no known mistake
matches.

A diagnosis is never confidently wrong. When the student's code gave no gradable answer, or one of
the wrong structure, the report says exactly that and names no mistake (unless a mistake reproduces
the very same answers on every probe). The facts come from recorded data, never from the wording of
a failure: each failed property's status, the calls its minimal failing example made (what was sent,
what came back or what was raised: :class:`grader.feedback.CallRecord`), and the student's answers
on the probes, their structure (None, a tuple of how many entries, which shape) compared with the
reference's answer to the same call. A mistake declared ``named_by`` a property, which no probe can
reproduce, is named only when that property failed on answers of the right structure, nothing else
failed structurally, and the student's answers on the probes have the mistake's structure.

Where the reference is installed, the diagnosis also keeps one designed input on which the student's
answer differs from the reference's (``example``): Hypothesis shrinks towards simple inputs, and a
simple input can hide a mistake (sigma = 1 makes sigma and sigma^2 equal), so the report shows this
input next to the shrunk counterexample.
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True)
class PropertyFailure:
    """What the grading plugin recorded about a property that did not pass: its status (failed, error
    or timeout), its message, the student's calls in its minimal failing example (the last example
    Hypothesis ran: :class:`grader.feedback.CallRecord`), and whether it is hidden (then nothing of
    its inputs may appear in the diagnosis)."""

    name: str
    status: str = "failed"
    message: str = ""
    calls: tuple = ()
    hidden: bool = False


@dataclass(frozen=True)
class Failed:
    """A call (or a probe scenario) that gave no gradable answer.

    ``text`` says what happened, worded to follow the call in a report: "raised ValueError: ...",
    "returned a value of type dict, ..." or "failed: ..." (it always starts with one of
    :data:`FAILURE_WORDS`); ``exception`` is the type's name where the student's code raised;
    ``lost`` is the kind of worker loss (timeout, crash) where the call never finished."""

    text: str
    exception: str | None = None
    lost: str | None = None


# How every Failed.text begins, so that a report can tell a failure from a summarised answer.
FAILURE_WORDS = ("raised ", "returned ", "failed: ")

# A structural failure's kind, and how the diagnosis' message begins for it.
STRUCTURAL_LEADS = {
    "structure": "your answer has the wrong structure",
    "raised": "your code raised an exception",
    "unusable": "your answer cannot be graded",
    "timeout": "your code ran out of time",
    "crash": "the worker running your code died",
    "error": "a property could not be completed",
}
MAX_TEXT = 300  # characters of a call or a failure in the diagnosis' message


@dataclass(frozen=True)
class Finding:
    """A structural failure: its kind (a key of :data:`STRUCTURAL_LEADS`) and what was observed, e.g.
    "sample_gmm(...) returned shape (3999, 1), but should return shape (4000, 1)"."""

    kind: str
    text: str

    def message(self) -> str:
        return f"{STRUCTURAL_LEADS[self.kind]}, so no known mistake is named: {self.text}"


def diagnose(problem: Problem, student, failed_properties=(), reference=None) -> Diagnosis | None:
    """Compare the student's answers on the probes with each catalogued mistake's; None when the
    problem has no catalogue or no probes, or when no mistake is a candidate and nothing failed
    structurally.

    ``failed_properties``: the properties that did not pass, as :class:`PropertyFailure` records (what
    the grading plugin passes) or as names (then only the probes can show a structural failure).
    Mistakes declared ``named_by`` a property are named when that property failed, no mistake
    reproduces the student's answers on the probes, nothing failed structurally (see
    :func:`structural_findings`), and the student's answers on the probes have the mistake's
    structure. ``reference`` (the reference module, or None) supplies the expected structures and the
    expected answer of the designed example."""
    failures = [f if isinstance(f, PropertyFailure) else PropertyFailure(str(f)) for f in failed_properties]
    mistakes, probes = problem.mistakes(), problem.probes()
    if not probes or not mistakes:
        return None
    failed = {f.name for f in failures}
    flagged = [m for m in mistakes if m.named_by is not None and m.named_by in failed]
    by_probes = [m for m in mistakes if m.named_by is None]
    answers = _answers(problem, student, probes)
    expected = [_reference_answer(problem, probe, reference) for probe in probes]
    diagnosis = _diagnose_by_probes(problem, by_probes, probes, answers)
    if not diagnosis.mistakes:
        finding = next(structural_findings(problem, failures, probes, answers, expected, reference), None)
        if finding is not None:
            diagnosis = Diagnosis([], finding.message(), len(probes))
        else:
            named = [m for m in flagged if _has_the_structure_of(problem, m, probes, answers)]
            if named:
                titles = " or ".join(f"“{m.title}”" for m in named)
                diagnosis = Diagnosis(named, f"the property designed to detect it failed: {titles}", len(probes))
            elif not (by_probes or flagged):
                return None  # nothing to name, nothing structural to report
    if reference is not None:
        diagnosis.example = _designed_example(problem, probes, answers, expected)
    return diagnosis


def _answers(problem: Problem, student, probes) -> list:
    """The student's answer on each probe: plain data, or :class:`Failed` where the call raised or
    returned something that cannot be graded. Once the worker is lost (a timeout, a crash) the
    remaining probes are not evaluated (``_NOT_EVALUATED``): each would cost a fresh worker, or a
    whole deadline."""
    answers = []
    for probe in probes:
        if answers and (answers[-1] is _NOT_EVALUATED or isinstance(answers[-1], Failed) and answers[-1].lost):
            answers.append(_NOT_EVALUATED)
            continue
        name = None if probe.scenario is not None else probe.function or problem.name
        try:
            if probe.scenario is not None:
                answers.append(plain(probe.scenario(student)))
            else:
                answers.append(student.call(name, *probe.args, **probe.call_kwargs()))
        except WorkerLost as lost:
            answers.append(Failed(_capped(f"failed: {lost.detail}"), lost=lost.kind))
        except StudentError as error:
            answers.append(failure_of(str(error), name))
        except Exception as error:  # noqa: BLE001 - a scenario choking on the student's answers (a wrong shape)
            if probe.scenario is None:
                raise
            answers.append(Failed(_capped(f"failed: the diagnostic scenario could not use your answers "
                                          f"({type(error).__name__}: {error})")))
    return answers


def failure_of(error_text: str, name: str | None = None) -> Failed:
    """What a :class:`grader.values.StudentError` says, as a report shows it after the call.

    StudentError carries the facts as text only, in the words grader.values writes: "NAME raised
    TYPE: MESSAGE" and the student's traceback, "NAME returned ..." for an answer that cannot be
    graded, "NAME: ..." otherwise. The first line is kept, without the name (``name``: the function
    called; None for a scenario, whose text names what it called)."""
    first = _one_line((error_text.splitlines() or [""])[0])
    match = _RAISED_BY.match(first)
    exception = match.group(2) if match and (name is None or match.group(1) == name) else None
    text = first
    if name is not None and first.startswith(f"{name} "):
        text = first[len(name) + 1:]
    elif name is not None and first.startswith(f"{name}: "):
        text = first[len(name) + 2:]
    if name is None or not text.startswith(FAILURE_WORDS[:2]):
        text = f"failed: {text}"
    return Failed(_capped(text.rstrip(": ")), exception)


_RAISED_BY = re.compile(r"^(\S+) raised ([^\s:]+)")


def structure(answer) -> str:
    """What a plain answer is, for a message: "None", "shape (3, 2)", "a single number (shape ())",
    "a tuple of 2 (shape (3,), a single number (shape ()))"."""
    if answer is None:
        return "None"
    if isinstance(answer, tuple):
        return f"a tuple of {len(answer)} ({', '.join(structure(a) for a in answer)})"
    shape = tuple(np.shape(answer))
    return "a single number (shape ())" if shape == () else f"shape {shape}"


def same_structure(a, b) -> bool:
    """Whether two plain answers have the same layout: None, tuples of the same length, arrays of the
    same shape (values and dtypes aside)."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(same_structure(x, y) for x, y in zip(a, b)))
    if a is None or b is None:
        return a is None and b is None
    return np.shape(a) == np.shape(b)


def _holds_none(answer) -> bool:
    return answer is None or isinstance(answer, tuple) and any(_holds_none(a) for a in answer)


def structural_findings(problem: Problem, failures, probes, answers, expected, reference):
    """The structural failures, most telling first: in each visible failed property (in order), then
    on the probes, then in hidden properties (without their inputs).

    Structural means: a property that timed out or ended with an error; a call that raised or
    returned something that cannot be graded; an answer whose structure differs from the reference's
    answer to the same call (where the reference is installed), or None. The bank's functions answer
    with a structure set by their inputs (n, n_iter, the shapes of the arguments), so a correct
    answer always has the reference's structure. ``expected``: the reference's answer on each probe
    (``_UNKNOWN`` where it is not installed or refuses the probe)."""
    hidden = []
    for failure in failures:
        finding = _property_finding(failure, reference)
        if finding is not None and failure.hidden:
            hidden.append(Finding(finding.kind, "it happened on a hidden check, whose inputs are not shown"))
        elif finding is not None:
            yield finding
    for probe, answer, want in zip(probes, answers, expected):
        finding = _probe_finding(problem, probe, answer, want)
        if finding is not None:
            yield finding
    yield from hidden


def _property_finding(failure: PropertyFailure, reference) -> Finding | None:
    if failure.status != "failed":  # a timeout, or an error (a worker crash): no answer to judge
        return Finding("timeout" if failure.status == "timeout" else "error",
                       f"{failure.name}: {_capped(failure.message)}")
    for record in failure.calls:
        finding = _call_finding(record, reference)
        if finding is not None:
            return finding
    return None


def _call_finding(record, reference) -> Finding | None:
    """The structural failure a recorded call shows, if any. A gradient request that could not
    differentiate the answer (it is detached) is what such a property tests: not structural."""
    call = _capped(record.text())
    if record.error is not None:
        failed = failure_of(record.error, record.name)
        if record.kind != "call" and failed.exception is None and not failed.text.startswith("returned "):
            return None
        return Finding("raised" if failed.exception else "unusable", f"{call} {failed.text}")
    answer = record.result
    if record.kind == "grad":
        if not (isinstance(answer, tuple) and len(answer) == 2):
            return None
        answer = answer[0]
    want = _UNKNOWN
    if reference is not None:
        try:
            want = reference.call(record.name, *record.args, **record.kwargs)
        except Exception:  # noqa: BLE001 - outside the reference's domain: no structure to compare with
            want = _UNKNOWN
    return _structure_finding(call, answer, want)


def _probe_finding(problem: Problem, probe, answer, want) -> Finding | None:
    if answer is _NOT_EVALUATED:
        return None
    call = (f"the diagnostic scenario {getattr(probe.scenario, '__name__', '')}".rstrip() if probe.scenario is not None
            else _capped(_probe_call(problem, probe)))
    if isinstance(answer, Failed):
        kind = ("timeout" if answer.lost == "timeout" else "crash" if answer.lost
                else "raised" if answer.exception else "unusable")
        return Finding(kind, f"{call} {answer.text}")
    return _structure_finding(call, answer, want)


def _structure_finding(call: str, answer, want) -> Finding | None:
    if want is _UNKNOWN:
        # Without the reference only None is known to be wrong: no function of the bank answers None.
        return Finding("structure", f"{call} returned {structure(answer)}") if _holds_none(answer) else None
    if same_structure(answer, want):
        return None
    return Finding("structure", f"{call} returned {structure(answer)}, but should return {structure(want)}")


def _has_the_structure_of(problem: Problem, mistake: Mistake, probes, answers) -> bool:
    """Whether the student's answers on the probes have the structure of the mistake's answers (a
    ``named_by`` mistake, whose values no probe can reproduce, must at least agree in structure)."""
    for probe, answer in zip(probes, answers):
        try:
            expected = trusted_answer(problem, mistake.implementation, probe)
        except Exception as error:  # noqa: BLE001 - a mistake that raises is matched by the same exception
            if not (isinstance(answer, Failed) and answer.exception == type(error).__name__):
                return False
            continue
        if isinstance(answer, Failed) or answer is _NOT_EVALUATED or not same_structure(answer, expected):
            return False
    return True


def _reference_answer(problem: Problem, probe, reference):
    """The reference's answer on a probe; ``_UNKNOWN`` where it is not installed or refuses the probe."""
    if reference is None:
        return _UNKNOWN
    try:
        if probe.scenario is not None:
            return plain(probe.scenario(reference))
        return reference.call(probe.function or problem.name, *probe.args, **probe.call_kwargs())
    except Exception:  # noqa: BLE001 - a probe outside the reference's domain shows nothing
        return _UNKNOWN


def _probe_call(problem: Problem, probe) -> str:
    from grader.feedback import CallRecord

    return CallRecord(probe.function or problem.name, tuple(probe.args), probe.call_kwargs()).text()


def _designed_example(problem: Problem, probes, answers, expected) -> dict | None:
    """The first single-call probe on which the student's answer differs from the reference's."""
    from grader.feedback import summarize

    for probe, answer, want in zip(probes, answers, expected):
        if probe.scenario is not None or want is _UNKNOWN or answer is _NOT_EVALUATED:
            continue  # a scenario is a script, not an input a student can retype
        if isinstance(answer, Failed) or not same_answer(answer, want):
            return {
                "call": _unwrapped(_probe_call(problem, probe)),
                "student": answer.text if isinstance(answer, Failed) else _unwrapped(summarize(answer)),
                "expected": _unwrapped(summarize(want)),
            }
    return None


def _unwrapped(text: str) -> str:
    """A summary on one line (numpy wraps the rows of a matrix), its alignment spaces kept."""
    return re.sub(r"\n\s*", " ", text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _capped(text: str, limit: int = MAX_TEXT) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[:limit - 4] + " ..."


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


_UNKNOWN = object()  # the reference's answer where it is not installed or refuses the input
_NOT_EVALUATED = object()  # a probe after the worker was lost


def _mistake_matches(problem: Problem, mistake: Mistake, probe, answer) -> bool:
    """Whether the mistake reproduces the student's answer on a probe: the same structure and values,
    or, where the mistake raises, the student's code raising the same exception."""
    try:
        expected = trusted_answer(problem, mistake.implementation, probe)
    except Exception as error:  # noqa: BLE001 - a mistake that raises on a probe is matched by a student that raises
        return isinstance(answer, Failed) and answer.exception == type(error).__name__
    return not isinstance(answer, Failed) and answer is not _NOT_EVALUATED and same_answer(answer, expected)


def trusted_answer(problem: Problem, implementation, probe):
    """The answer of trusted code on a probe: ``implementation`` stands for the problem's function (or
    class) — a catalogued mistake's, or the reference's. A scenario probe runs against an in-process
    module holding just that implementation under the problem's name."""
    if probe.scenario is not None:
        return plain(probe.scenario(ReferenceModule(SimpleNamespace(**{problem.name: implementation}))))
    return call_in_process(implementation, probe.args, probe.call_kwargs())
