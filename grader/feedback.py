"""Counterexamples and figures: what a failing property's minimal example looked like, as small,
plain data that every report format can show.

The grading plugin records, for each property, the arguments Hypothesis passed to the last example
it ran (after shrinking, the final replay is the minimal failing example) and the student's calls
during that example. When the property fails, :func:`counterexample` turns them, together with the
structured facts an assertion helper attached to its error (:class:`grader.spec.PropertyViolation`),
into a dict: inputs, the call, the student's answer, the expected value or relation, the tolerance
and a command that reproduces the run. Values are summarised (:func:`summarize`): a report shows
small arrays in full and large ones by shape and range.

A problem's ``spec.py`` may also define ``feedback_figures(student, reference)``, returning figures
built with :func:`figure`, :func:`line` and :func:`scatter`: it is called (in the grader, while the
student's worker is alive) when a visible property of the problem failed, and the HTML report draws
them. ``reference`` is None where the reference solution is not installed.
"""

from __future__ import annotations

import inspect
import math
import shlex
from collections import deque
from dataclasses import dataclass, field

import numpy as np

MAX_SHOWN = 16          # array entries shown in full
MAX_TEXT = 400          # characters of one summarised value
SLICE_POINTS = 41       # evaluations along the slice through a counterexample
MAX_FIGURES = 4         # figures a problem's hook may add
MAX_SERIES = 8
MAX_SERIES_POINTS = 4000
FIXTURE_NAMES = ("student", "reference", "device", "rng")


# --- summaries -----------------------------------------------------------------------------------


def summarize(value) -> str:
    """A short, stable rendering of an argument or an answer for a report."""
    if isinstance(value, dict) and "__harness__" in value:
        if value["__harness__"] == "generator":
            return f"<torch.Generator seeded {value.get('seed')}>"
        return f"<harness {value['__harness__']} {value.get('name', '')}>".replace(" >", ">")
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return _cap("(" + ", ".join(summarize(v) for v in value) + ("," if len(value) == 1 else "") + ")")
    if isinstance(value, dict):
        return _cap("{" + ", ".join(f"{k}: {summarize(v)}" for k, v in value.items()) + "}")
    if isinstance(value, (bool, int, float, np.generic, np.ndarray)):
        return _cap(_array_text(np.asarray(value)))
    if type(value).__module__.startswith("torch"):
        try:
            return summarize(value.detach().cpu().numpy())
        except Exception:  # noqa: BLE001 - a summary must never fail
            pass
    return _cap(repr(value))


def _array_text(array: np.ndarray) -> str:
    if array.dtype.kind not in "biuf":
        return f"<{array.dtype} array of shape {array.shape}>"
    if array.ndim == 0:
        item = array.item()
        return f"{item:.6g}" if isinstance(item, float) else repr(item)
    if array.size <= MAX_SHOWN:
        return np.array2string(array, precision=6, separator=", ", threshold=MAX_SHOWN, max_line_width=10_000)
    flat = array.astype(np.float64).ravel()
    finite = flat[np.isfinite(flat)]
    stats = (f"min {finite.min():.4g}, max {finite.max():.4g}, mean {finite.mean():.4g}" if finite.size
             else "no finite entry")
    bad = flat.size - finite.size
    head = ", ".join(f"{x:.4g}" for x in flat[:4])
    return (f"array of shape {array.shape} ({stats}{f', {bad} NaN/inf' if bad else ''}; "
            f"first entries [{head}, ...])")


def _cap(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 5] + " ...)"


# --- what the plugin records while a property runs -----------------------------------------------


@dataclass
class CallRecord:
    """One call into the student's code: what was sent and what came back (or what it raised)."""

    name: str
    args: tuple
    kwargs: dict
    kind: str = "call"  # call | grad
    result: object = None
    error: str | None = None

    def text(self) -> str:
        parts = [summarize(a) for a in self.args] + [f"{k}={summarize(v)}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


@dataclass
class PropertyRecorder:
    """The inputs of the example being run and the student's calls in it (the last few only)."""

    inputs: dict | None = None
    calls: deque = field(default_factory=lambda: deque(maxlen=8))

    def start_example(self, inputs: dict) -> None:
        self.inputs = {k: v for k, v in inputs.items() if k not in FIXTURE_NAMES}
        self.calls.clear()

    def last_call(self) -> CallRecord | None:
        return self.calls[-1] if self.calls else None


def reproduce_command(command: str, submission: str, problem_id: str, key) -> str:
    """The command line that regrades just this problem with the same inputs (``key``: the run's
    :class:`grader.keys.InputKey`). A property's inputs depend on the key and the problem only, and a
    graded key on the submission's bytes: the same unchanged folder gets the same inputs."""
    line = f"grade {command} {shlex.quote(submission)} --problem {problem_id} --seed {key.seed}"
    if key.secret is not None:
        line += f" --secret-file COURSE_SECRET  # staff only: the secret with fingerprint {key.fingerprint}"
    return line


def _failure_text(record: CallRecord) -> str:
    """What the student's call did instead of answering, as one clause: "raised ValueError: ...",
    "returned a value that cannot be graded: ..." (the worker's text starts with the function's name)."""
    first = record.error.splitlines()[0] if record.error else ""
    for prefix in (f"{record.name} ", f"{record.name}: "):
        if first.startswith(prefix):
            rest = first[len(prefix):]
            return rest if rest.startswith(("raised ", "returned ")) else f"failed: {rest}"
    return f"failed: {first}"


def counterexample(error: BaseException | None, recorder: PropertyRecorder | None, reproduce: str) -> dict:
    """The report's counterexample of a failed property, from recorded data (never from message text)."""
    inputs = dict(recorder.inputs or {}) if recorder is not None else {}
    last = recorder.last_call() if recorder is not None else None
    violation = error if _is_violation(error) else None
    student = None
    if violation is not None and violation.actual is not None:
        student = summarize(violation.actual)
    elif last is not None:
        student = _failure_text(last) if last.error else summarize(last.result)
    return {
        "inputs": {name: summarize(value) for name, value in inputs.items()},
        "call": last.text() if last is not None else (violation.call if violation is not None else None),
        "student": student,
        "expected": None if violation is None or violation.expected is None else summarize(violation.expected),
        "relation": None if violation is None else violation.relation,
        "tolerance": None if violation is None else violation.tolerance,
        "observed": {} if violation is None else {k: summarize(v) for k, v in violation.observed.items()},
        "reproduce": reproduce,
        "slice": None,
    }


def _is_violation(error) -> bool:
    from grader.spec import PropertyViolation

    return isinstance(error, PropertyViolation)


# --- a 1-D slice through the counterexample: the student's function against the reference --------


def slice_through(record: CallRecord, student, reference) -> dict | None:
    """Evaluate the student (through its worker) and the reference along one coordinate of the
    counterexample's first floating-point array argument; None when there is nothing to plot.

    The slice keeps the coordinate's sign (positive parameters such as a scale stay positive), spans
    [x/2, 2x] around it (or [-1, 1] at 0), and plots the output entry where the two disagree most."""
    from grader.sandbox import WorkerLost
    from grader.values import StudentError

    if record.kind != "call" or record.error is not None:
        return None
    position = next((i for i, a in enumerate(record.args)
                     if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size and np.isfinite(a.flat[0])), None)
    if position is None:
        return None
    try:
        expected = reference.call(record.name, *record.args, **record.kwargs)
    except Exception:  # noqa: BLE001 - the reference refuses this input: nothing to compare with
        return None
    answer, expected = _first(record.result), _first(expected)
    if answer is None or expected is None or np.shape(answer) != np.shape(expected):
        return None
    answer, expected = np.asarray(answer, np.float64), np.asarray(expected, np.float64)
    gap = np.abs(answer - expected)
    gap = np.where(np.isnan(gap), np.inf, gap)
    output_index = int(np.argmax(gap)) if gap.size else 0
    base = record.args[position]
    x0 = float(base.flat[0])
    low, high = (min(x0 / 2, 2 * x0), max(x0 / 2, 2 * x0)) if x0 != 0 else (-1.0, 1.0)
    xs = np.union1d(np.linspace(low, high, SLICE_POINTS), [x0])
    ys_student, ys_reference = [], []
    for x in xs:
        moved = base.copy()
        moved.flat[0] = x
        args = record.args[:position] + (moved,) + record.args[position + 1:]
        try:
            ys_student.append(_entry(student.call(record.name, *args, **record.kwargs), output_index))
        except StudentError:
            ys_student.append(math.nan)
        except WorkerLost:
            return None
        try:
            ys_reference.append(_entry(reference.call(record.name, *args, **record.kwargs), output_index))
        except Exception:  # noqa: BLE001 - outside the reference's domain: a gap in the curve
            ys_reference.append(math.nan)
    names = _parameter_names(reference, record.name)
    argument = names[position] if position < len(names) else f"argument {position + 1}"
    where = f"[{', '.join(map(str, np.unravel_index(0, base.shape)))}]" if base.ndim else ""
    output = f"[{', '.join(map(str, np.unravel_index(output_index, answer.shape)))}]" if answer.ndim else ""
    return {
        "function": record.name,
        "x_label": f"{argument}{where}",
        "y_label": f"{record.name}(...){output}",
        "x0": x0,
        "x": [_number(x) for x in xs],
        "student": [_number(y) for y in ys_student],
        "reference": [_number(y) for y in ys_reference],
    }


def _first(value):
    while isinstance(value, tuple):
        if not value:
            return None
        value = value[0]
    return value


def _entry(value, index: int) -> float:
    value = _first(value)
    array = np.asarray(value, dtype=np.float64).ravel()
    return float(array[index]) if index < array.size else math.nan


def _number(value: float) -> float | None:
    """JSON has no NaN: a missing point is null (a gap in the plot)."""
    return float(f"{value:.7g}") if math.isfinite(value) else None


def _parameter_names(reference, name: str) -> list[str]:
    try:
        return list(inspect.signature(getattr(reference._module, name)).parameters)
    except (AttributeError, TypeError, ValueError):
        return []


# --- figures a problem's spec may add ------------------------------------------------------------


def line(x, y, label: str = "") -> dict:
    """A polyline for :func:`figure`."""
    return _series("line", x, y, label)


def scatter(x, y, label: str = "") -> dict:
    """Points for :func:`figure`."""
    return _series("scatter", x, y, label)


def figure(title: str, *series: dict, xlabel: str = "", ylabel: str = "", caption: str = "") -> dict:
    """A figure for the HTML report, returned by a spec's ``feedback_figures(student, reference)``."""
    if not series or len(series) > MAX_SERIES:
        raise ValueError(f"a figure has 1 to {MAX_SERIES} series")
    return {"title": str(title), "xlabel": str(xlabel), "ylabel": str(ylabel), "caption": str(caption),
            "series": list(series)}


def _series(kind: str, x, y, label: str) -> dict:
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length ({x.size} and {y.size})")
    if x.size > MAX_SERIES_POINTS:
        keep = np.linspace(0, x.size - 1, MAX_SERIES_POINTS).astype(int)
        x, y = x[keep], y[keep]
    return {"kind": kind, "label": str(label), "x": [_number(v) for v in x], "y": [_number(v) for v in y]}


def valid_figures(figures) -> list[dict]:
    """The hook's figures, checked: a malformed one is a bank bug, reported by raising."""
    if not isinstance(figures, (list, tuple)):
        raise TypeError("feedback_figures must return a list of grader.feedback.figure(...) values")
    figures = list(figures)[:MAX_FIGURES]
    for entry in figures:
        if not (isinstance(entry, dict) and {"title", "series"} <= set(entry)):
            raise TypeError("feedback_figures must return grader.feedback.figure(...) values")
    return figures
