"""Gradescope's ``results.json`` (the autograder results contract), one test per property.

Schema: grader/schemas/gradescope.schema.json, written from Gradescope's documentation of the
format. Every test is visible; a hidden property appears redacted ("a hidden check failed"), since
Gradescope's own hidden visibility would hide its score as well.
"""

from __future__ import annotations

from grader.formats.common import (diagnosis_lines, fence, inline, inputs_text, points, property_markdown,
                                   tampering_lines, visible)
from grader.runner import RunResult


def to_gradescope(result: RunResult, *, show_hidden: bool = False) -> dict:
    shown = visible(result, show_hidden)
    tests = []
    for number, problem in enumerate(shown.problems, 1):
        first_failure = True
        for index, prop in enumerate(problem.properties, 1):
            failing = prop.status != "passed"
            text = property_markdown(prop, problem.diagnosis if failing and first_failure else None) if failing \
                else f"**{inline(prop.name)}**: {inline(prop.description)}"
            if failing and problem.status == "error":
                text = f"{problem.message}\n\n" + text if prop.message != problem.message else text
            if problem.tampering:
                # Withheld, not failed: every test of the problem says so, with what was found.
                text = fence("\n".join(tampering_lines(problem))) + "\n\n" + text
            first_failure = first_failure and not failing
            tests.append({
                "name": f"{problem.id}: {prop.name}",
                "number": f"{number}.{index}",
                "score": prop.score,
                "max_score": prop.points,
                "status": "passed" if prop.status == "passed" and not problem.tampering else "failed",
                "output": text,
                "output_format": "md",
                "tags": [problem.id.split(".")[0], problem.id] + (["hidden"] if prop.hidden else []),
                "visibility": "visible",
            })
    return {
        "score": shown.score,
        "execution_time": max(0, round(shown.duration_s)),
        "output": _summary(shown),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _summary(result: RunResult) -> str:
    lines = [f"**Total: {points(result.score)}/{points(result.max_score)} ({result.percent:.1f}%)**, "
             f"{inputs_text(result.inputs, result.seed)}, isolation {result.isolation}.", ""]
    for problem in result.problems:
        lines.append(f"- {inline(problem.id)}: {points(problem.score)}/{points(problem.max_score)} ({problem.status})")
        for line in tampering_lines(problem):
            lines.append(f"  - {inline(line)}")
        for line in diagnosis_lines(problem.diagnosis):
            lines.append(f"  - {inline(line)}")
    if result.unchecked_points:
        lines += ["", f"{points(result.unchecked_points)} points not checked (they need the reference solution)."]
    if any(p.output for p in result.problems):
        outputs = "\n".join(f"--- {p.id}\n{p.output}" for p in result.problems if p.output)
        lines += ["", "What your code printed:", "", fence(outputs[:20000])]
    return "\n".join(lines)
