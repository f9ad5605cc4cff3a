"""What every format shares: redaction of hidden properties and the Markdown pieces of a failure.

Redaction happens once, here, on a copy of the result, before any format sees it: a hidden
property keeps its status and points, and loses its name, description, message and counterexample;
a problem with a hidden property loses its captured output (the student's prints could echo the
hidden inputs). Staff reports opt in with ``show_hidden=True`` (``grade run --show-hidden``).
"""

from __future__ import annotations

import copy
import re

from grader.runner import RunResult

HIDDEN_DESCRIPTION = "A hidden check: it counts in the score, but its inputs and expected values are not shown."
HIDDEN_MESSAGES = {
    "failed": "a hidden check failed",
    "error": "a hidden check failed (your code crashed or could not be loaded)",
    "timeout": "a hidden check failed (your code ran out of time)",
    "skipped": "a hidden check was not run here (it needs the reference solution)",
    "passed": "",
}
HIDDEN_OUTPUT = ("[output not shown: this problem has hidden checks, and what your code printed could "
                 "reveal their inputs]")


def visible(result: RunResult, show_hidden: bool = False) -> RunResult:
    """The result as a student may see it (a copy); ``show_hidden`` returns it whole, for staff."""
    shown = copy.deepcopy(result)
    if show_hidden:
        shown.hidden_shown = True
        return shown
    shown.hidden_shown = False
    for problem in shown.problems:
        hidden = [p for p in problem.properties if p.hidden]
        for number, prop in enumerate(hidden, 1):
            prop.name = f"hidden_check_{number}"
            prop.description = HIDDEN_DESCRIPTION
            prop.message = HIDDEN_MESSAGES.get(prop.status, "a hidden check failed")
            prop.counterexample = None
        if hidden and problem.output:
            problem.output = HIDDEN_OUTPUT
    return shown


def points(value: float) -> str:
    return f"{value:g}"


def fence(text: str, language: str = "") -> str:
    """A Markdown code block that no backtick run in ``text`` can close early (student text
    cannot inject Markdown or HTML through it)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{language}\n{text}\n{marks}"


def inline(text: str) -> str:
    """Text for a Markdown table cell or an inline span: no pipes, newlines or HTML tags."""
    text = " ".join(str(text).split())
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("`", "'"))


def counterexample_lines(cx: dict) -> list[str]:
    """The counterexample as ``label: value`` lines (plain text)."""
    lines = []
    if cx.get("inputs"):
        lines.append("Input: " + ", ".join(f"{k} = {v}" for k, v in cx["inputs"].items()))
    if cx.get("call"):
        lines.append(f"Call: {cx['call']}")
    if cx.get("student") is not None:
        lines.append(f"Yours: {cx['student']}")
    if cx.get("expected") is not None:
        lines.append(f"Expected: {cx['expected']}")
    if cx.get("relation"):
        lines.append(f"Should hold: {cx['relation']}")
    if cx.get("observed"):
        lines.append("Observed: " + ", ".join(f"{k} = {v}" for k, v in cx["observed"].items()))
    if cx.get("tolerance"):
        lines.append(f"Tolerance: {cx['tolerance']}")
    if cx.get("reproduce"):
        lines.append(f"Reproduce: {cx['reproduce']}")
    return lines


def diagnosis_lines(diagnosis: dict | None) -> list[str]:
    if diagnosis is None:
        return []
    lines = []
    if not diagnosis["mistakes"]:
        lines.append(f"Diagnosis: {diagnosis['message']}.")
    for mistake in diagnosis["mistakes"]:
        lines.append(f"Diagnosis: looks like “{mistake['title']}”. {mistake['explanation']}")
        lines.append(f"Hint: {mistake['hint']}")
    example = diagnosis.get("example")
    if example:
        lines.append(f"On a designed input: {example['call']} gives {example['student']}, "
                     f"expected {example['expected']}")
    return lines


def property_markdown(prop, diagnosis: dict | None = None) -> str:
    """One property's failure in Markdown: its statement, message, counterexample and diagnosis."""
    parts = [f"**{inline(prop.name)}** ({prop.status}, {points(prop.score)}/{points(prop.points)}): "
             f"{inline(prop.description)}"]
    if prop.message:
        parts.append(fence(prop.message))
    if prop.counterexample:
        parts.append("Counterexample:\n\n" + fence("\n".join(counterexample_lines(prop.counterexample))))
    lines = diagnosis_lines(diagnosis)
    if lines:
        parts.append(fence("\n".join(lines)))
    return "\n\n".join(parts)


def inputs_text(inputs: dict, seed: int) -> str:
    """E.g. "seed 0, inputs keyed by submission 1a2b3c4d5e6f, course secret 9f8e7d6c5b4a3921" (docs/inputs.md)."""
    if not inputs or inputs.get("stream") == "check":
        return f"seed {seed} (public self-check inputs)" if inputs else f"seed {seed}"
    parts = [f"seed {seed}"]
    if inputs.get("submission_sha256"):
        parts.append(f"inputs keyed by submission {inputs['submission_sha256'][:12]}")
    if inputs.get("secret_fingerprint"):
        parts.append(f"course secret {inputs['secret_fingerprint']}")
    return ", ".join(parts)
