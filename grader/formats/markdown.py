"""Markdown for a pull-request comment or a GitHub step summary: a table, then each failure's
details in a collapsed section. GitHub refuses step summaries over 1 MiB: past ``limit`` bytes the
details are cut, with a note saying so (the table always stays)."""

from __future__ import annotations

from grader.formats.common import fence, inline, inputs_text, points, property_markdown, tampering_lines, visible
from grader.runner import RunResult

STEP_SUMMARY_LIMIT = 1024 * 1024
_MARGIN = 4096  # room for the truncation note and the footer


def to_markdown(result: RunResult, *, show_hidden: bool = False, limit: int = STEP_SUMMARY_LIMIT) -> str:
    shown = visible(result, show_hidden)
    head = [f"## Grade: {points(shown.score)}/{points(shown.max_score)} ({shown.percent:.1f}%)", ""]
    if shown.mode == "check":
        head += [f"Self-check without the reference solution: {points(shown.unchecked_points)} points not checked.", ""]
    head += ["| Problem | Score | Status | Properties |", "| --- | ---: | --- | ---: |"]
    for problem in shown.problems:
        passed = sum(p.status == "passed" for p in problem.properties)
        head.append(f"| {inline(problem.id)} | {points(problem.score)}/{points(problem.max_score)} | "
                    f"{_icon(problem.status)} {problem.status} | {passed}/{len(problem.properties)} |")
    footer = ["", f"<sub>{inputs_text(shown.inputs, shown.seed)}, device {shown.device}, isolation {shown.isolation}, "
                  f"{shown.duration_s:.1f} s</sub>", ""]
    for warning in shown.isolation_warnings:
        footer.insert(-1, f"> Isolation warning: {inline(warning)}")
    text = "\n".join(head) + "\n"
    budget = limit - _MARGIN - len(text.encode()) - len("\n".join(footer).encode())
    cut = 0
    for section in _details(shown):
        size = len(section.encode())
        if size > budget:
            cut += 1
            continue
        text += section
        budget -= size
    if cut:
        text += (f"\n> {cut} problem section(s) left out: the report exceeds GitHub's 1 MiB step-summary limit. "
                 "The JSON report has everything.\n")
    return text + "\n".join(footer)


def _details(result: RunResult):
    for problem in result.problems:
        failing = [p for p in problem.properties if p.status != "passed"]
        if not failing and not problem.output and not problem.tampering:
            continue
        body = []
        if problem.tampering:
            body.append(fence("\n".join(tampering_lines(problem))))
        if problem.status == "error":
            body.append(fence(problem.message))
        first = True
        for prop in failing:
            body.append(property_markdown(prop, problem.diagnosis if first else None))
            first = False
        if problem.output:
            body.append("What your code printed:\n\n" + fence(problem.output))
        yield (f"\n<details><summary>{inline(problem.id)}: {points(problem.score)}/{points(problem.max_score)} "
               f"({problem.status})</summary>\n\n" + "\n\n".join(body) + "\n\n</details>\n")


def _icon(status: str) -> str:
    return {"passed": "✅", "partial": "⚠️", "failed": "❌", "error": "💥", "review": "🔍"}.get(status, "")
