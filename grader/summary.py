"""The end-of-batch summary: score distribution per problem, the most common diagnosed mistakes,
the submissions under review for tampering and those the grader could not grade; in the terminal
and as a self-contained HTML page."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

from grader.gradebook import Grading, under_review

BINS = ("0-19%", "20-39%", "40-59%", "60-79%", "80-99%", "100%")
BAR_WIDTH = 30
TOP_MISTAKES = 3


def bin_of(score: float, max_score: float) -> int:
    """The histogram bin of a score: fifths of the maximum, full marks on their own."""
    if max_score <= 0 or score >= max_score:
        return len(BINS) - 1
    return min(int(5 * score / max_score), 4)


@dataclass
class ProblemSummary:
    id: str
    title: str
    max_score: float
    scores: list[float] = field(default_factory=list)
    mistakes: Counter = field(default_factory=Counter)  # (mistake id, title) -> submissions
    unavailable: int = 0  # module or function missing, import failed, submission refused
    review: int = 0  # tampering suspected: scored 0, withheld for the staff's review

    @property
    def histogram(self) -> list[int]:
        counts = [0] * len(BINS)
        for score in self.scores:
            counts[bin_of(score, self.max_score)] += 1
        return counts

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


@dataclass
class BatchSummary:
    problems: list[ProblemSummary]
    totals: list[float]
    max_total: float
    errored: list[tuple[str, str]]  # (submission, why the grader could not grade it)
    refused: list[tuple[str, str]]  # (submission, why it was refused)
    review: list[tuple[str, list[str]]] = field(default_factory=list)  # (submission, problems withheld)

    @property
    def total_histogram(self) -> list[int]:
        counts = [0] * len(BINS)
        for total in self.totals:
            counts[bin_of(total, self.max_total)] += 1
        return counts


def summarize(gradings: list[Grading]) -> BatchSummary:
    problems: dict[str, ProblemSummary] = {}
    totals, errored, refused, review, max_total = [], [], [], [], 0.0
    for grading in gradings:
        if grading.status != "graded" or grading.report is None:
            errored.append((grading.name, grading.error))
            continue
        report = grading.report
        totals.append(float(report["score"]))
        max_total = max(max_total, float(report["max_score"]))
        refusal = next((p["message"] for p in report["problems"]
                        if p["status"] == "error" and p["message"].startswith("submission refused")), None)
        if refusal is not None:
            refused.append((grading.name, refusal))
        if under_review(report):
            review.append((grading.name, under_review(report)))
        for problem in report["problems"]:
            entry = problems.setdefault(problem["id"], ProblemSummary(problem["id"], problem["title"],
                                                                      float(problem["max_score"])))
            entry.scores.append(float(problem["score"]))
            if problem["status"] == "error":
                entry.unavailable += 1
            if problem["status"] == "review":
                entry.review += 1
            for mistake in (problem.get("diagnosis") or {}).get("mistakes", []):
                entry.mistakes[(mistake["id"], mistake["title"])] += 1
    return BatchSummary(list(problems.values()), totals, max_total, errored, refused, review)


def _bar(count: int, most: int) -> str:
    return "█" * (round(BAR_WIDTH * count / most) if most else 0)


def render_summary(summary: BatchSummary, console: Console) -> None:
    graded = len(summary.totals)
    console.print(Text(f"Score distribution ({graded} graded submission{'s' * (graded != 1)})", style="bold"))
    sections = [("Total", "", summary.max_total, summary.total_histogram,
                 sum(summary.totals) / graded if graded else 0.0, [], 0, 0)]
    sections += [(p.id, p.title, p.max_score, p.histogram, p.mean, p.mistakes.most_common(TOP_MISTAKES),
                  p.unavailable, p.review) for p in summary.problems]
    for name, title, max_score, histogram, mean, mistakes, unavailable, review in sections:
        line = Text.assemble((name, "bold"), f"  {title}  " if title else "  ",
                             f"({max_score:g} points, mean {mean:.2f})")
        if unavailable:
            line.append(f", {unavailable} could not be loaded", style="red")
        if review:
            line.append(f", {review} under review (tampering suspected)", style="magenta")
        console.print(line, soft_wrap=True)
        most = max(histogram)
        for label, count in zip(BINS, histogram):
            console.print(Text.assemble(f"  {label:>7} ", (f"{_bar(count, most):<{BAR_WIDTH}}", "cyan"), f" {count}"))
        if mistakes:
            console.print("  Most common mistakes: " + "; ".join(
                f"{title} ({mistake_id}) × {count}" for (mistake_id, title), count in mistakes),
                markup=False, highlight=False, soft_wrap=True)
    if summary.review:
        console.print(Text("Tampering suspected (those problems scored 0, their scores withheld for review; "
                           "the staff report has what was found):", style="bold magenta"))
        for name, problems in summary.review:
            console.print(Text(f"  {name}: {', '.join(problems)}", style="magenta"), soft_wrap=True)
    if summary.refused:
        console.print(Text("Refused submissions (scored 0):", style="bold yellow"))
        for name, reason in summary.refused:
            console.print(Text(f"  {name}: {reason}", style="yellow"), soft_wrap=True)
    if summary.errored:
        console.print(Text("Submissions the grader could not grade (the next batch retries them):", style="bold red"))
        for name, reason in summary.errored:
            console.print(Text(f"  {name}: {reason}", style="red"), soft_wrap=True)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table.hist td { padding: 1px 6px; } td.label { text-align: right; color: #555; white-space: nowrap; }
div.bar { background: #3b7dd8; height: 1em; } td.count { color: #555; }
.muted { color: #666; } .error { color: #b00020; }
"""


def summary_html(summary: BatchSummary, title: str = "Batch summary") -> str:
    """A self-contained page (no scripts, no external resources); every name is escaped."""
    escape = html.escape
    graded = len(summary.totals)
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1><p class=\"muted\">{graded} graded submission{'s' * (graded != 1)}, "
             f"{len(summary.errored)} not graded, {len(summary.refused)} refused, "
             f"{len(summary.review)} under review for tampering.</p>"]

    def histogram(counts: list[int]) -> str:
        most = max(counts) or 1
        rows = "".join(f"<tr><td class=\"label\">{label}</td><td style=\"width:20em\"><div class=\"bar\" "
                       f"style=\"width:{100 * count / most:.1f}%\"></div></td><td class=\"count\">{count}</td></tr>"
                       for label, count in zip(BINS, counts))
        return f"<table class=\"hist\">{rows}</table>"

    mean = sum(summary.totals) / graded if graded else 0.0
    parts.append(f"<h2>Total</h2><p class=\"muted\">{summary.max_total:g} points, mean {mean:.2f}</p>")
    parts.append(histogram(summary.total_histogram))
    for problem in summary.problems:
        parts.append(f"<h2>{escape(problem.id)}: {escape(problem.title)}</h2>"
                     f"<p class=\"muted\">{problem.max_score:g} points, mean {problem.mean:.2f}"
                     + (f", <span class=\"error\">{problem.unavailable} could not be loaded</span>"
                        if problem.unavailable else "")
                     + (f", <span class=\"error\">{problem.review} under review (tampering suspected)</span>"
                        if problem.review else "") + "</p>")
        parts.append(histogram(problem.histogram))
        if problem.mistakes:
            items = "".join(f"<li>{escape(title)} (<code>{escape(mistake_id)}</code>): {count}</li>"
                            for (mistake_id, title), count in problem.mistakes.most_common(TOP_MISTAKES))
            parts.append(f"<p>Most common mistakes:</p><ul>{items}</ul>")
    review = [(name, ", ".join(problems)) for name, problems in summary.review]
    for heading, rows, css in (("Tampering suspected: scores withheld for review", review, "error"),
                               ("Refused submissions (scored 0)", summary.refused, ""),
                               ("Submissions the grader could not grade", summary.errored, "error")):
        if rows:
            items = "".join(f"<li><strong>{escape(name)}</strong>: {escape(reason)}</li>" for name, reason in rows)
            parts.append(f"<h2 class=\"{css}\">{heading}</h2><ul>{items}</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)
