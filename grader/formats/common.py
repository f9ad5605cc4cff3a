"""What every format shares: redaction of hidden properties and the Markdown pieces of a failure.

Redaction happens once, here, on a copy of the result, before any format sees it: a hidden
property keeps its status and points, and loses its name, description, message and counterexample;
a problem with a hidden property loses its captured output (the student's prints could echo the
hidden inputs); a problem under review for tampering keeps its findings (they are about the
student's own code) and loses the withheld score, which is the staff's to decide on. Staff reports
opt in with ``show_hidden=True`` (``grade run --show-hidden``).
"""

from __future__ import annotations

import copy
import re

from grader.diagnosis import FAILURE_WORDS
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
        problem.withheld_score = None
    return shown


def tampering_lines(problem) -> list[str]:
    """A problem under review for tampering: the verdict, then one line per finding (plain text)."""
    if not problem.tampering:
        return []
    lines = ["Tampering suspected: the score is withheld until the course staff review it."]
    if problem.withheld_score is not None:
        lines.append(f"Score before withholding: {points(problem.withheld_score)}/{points(problem.max_score)}")
    for found in problem.tampering:
        by = "source scan" if found.get("by") == "scan" else "monitor"
        where = f", {found['where']}" if found.get("where") else ""
        lines.append(f"Found by the {by}: {found['what']}{where}")
    return lines


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
        lines.append(f"Diagnosis: {sentence(diagnosis['message'])}")
    for mistake in diagnosis["mistakes"]:
        lines.append(f"Diagnosis: looks like “{mistake['title']}”. {mistake['explanation']}")
        lines.append(f"Hint: {mistake['hint']}")
    example = diagnosis.get("example")
    if example:
        lines.append(f"On a designed input: {designed_input(example)}")
    return lines


def designed_input(example: dict) -> str:
    """The diagnosis' designed input as a clause: "kl_normal(0.5, 2, -1, 0.5) returned 3.2; expected 10.61",
    or "... raised ValueError: shapes do not match; expected 10.61" where the student's code gave no answer
    (its ``student`` text then says what happened, in grader.diagnosis.FAILURE_WORDS)."""
    return f"{example['call']} {student_outcome(example['student'])}; expected {example['expected']}"


def student_outcome(student: str) -> str:
    """"returned <answer>", or the failure as the diagnosis worded it ("raised ValueError: ...")."""
    return student if student.startswith(FAILURE_WORDS) else f"returned {student}"


def sentence(text: str) -> str:
    """``text`` ending in a full stop (once: an exception's message may bring its own)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


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
