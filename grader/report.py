"""Reports, every one rendered from the same RunResult: the versioned JSON document, Gradescope's
results.json, JUnit XML, Markdown, a self-contained HTML page, and the terminal table.

Every format shows hidden properties redacted ("a hidden check failed") unless called with
``show_hidden=True`` (staff: ``grade run --show-hidden``); see grader.formats.common.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.formats.common import HIDDEN_MESSAGES, diagnosis_lines, inputs_text, tampering_lines, visible
from grader.formats.gradescope import to_gradescope
from grader.formats.html import to_html
from grader.formats.junit import to_junit
from grader.formats.markdown import to_markdown
from grader.runner import RunResult, versions

__all__ = ["to_json", "to_gradescope", "to_junit", "to_markdown", "to_html", "write_json", "write_reports",
           "write_atomic", "render", "visible", "HIDDEN_MESSAGES"]

STATUS_STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "error": "red bold",
                "timeout": "magenta", "skipped": "dim", "review": "bold magenta"}
MAX_REPORTED_OUTPUT = 16 * 1024


def to_json(result: RunResult, *, show_hidden: bool = False) -> dict:
    """The JSON report (schema in grader/schemas/report.schema.json, documented in docs/report.md)."""
    result = visible(result, show_hidden)
    problems = []
    for problem in result.problems:
        entry = asdict(problem)
        entry["output"] = _capped(problem.output)
        problems.append(entry)
    return {
        "schema_version": result.schema_version,
        "submission": result.submission,
        "score": result.score,
        "max_score": result.max_score,
        "percent": round(result.percent, 4),
        "seed": result.seed,
        "inputs": dict(result.inputs),
        "device": result.device,
        "isolation": result.isolation,
        "isolation_layers": list(result.isolation_layers),
        "isolation_warnings": list(result.isolation_warnings),
        "versions": versions(),
        "duration_s": result.duration_s,
        "mode": result.mode,
        "unchecked_points": result.unchecked_points,
        "hidden_shown": result.hidden_shown,
        "problems": problems,
    }


def _capped(text: str) -> str:
    if len(text) <= MAX_REPORTED_OUTPUT:
        return text
    marker = f"\n[... {len(text) - MAX_REPORTED_OUTPUT} more characters of output not stored in the report]"
    return text[:MAX_REPORTED_OUTPUT - len(marker)] + marker


def write_atomic(path: Path, text: str | bytes, *, mode: int = 0o644) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never a torn write.
    ``mode`` replaces mkstemp's 0600 (a report or bundle is read by other users and tools)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(text.encode("utf-8") if isinstance(text, str) else text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def write_json(result: RunResult, path: Path, *, show_hidden: bool = False) -> None:
    write_atomic(path, json.dumps(to_json(result, show_hidden=show_hidden), indent=2, allow_nan=False) + "\n")


def write_reports(result: RunResult, *, json: Path | None = None, gradescope: Path | None = None,
                  junit: Path | None = None, markdown: Path | None = None, html: Path | None = None,
                  show_hidden: bool = False) -> None:
    """Write each requested format (a path, or None to skip it), each file atomically."""
    import json as json_module

    if json is not None:
        write_json(result, json, show_hidden=show_hidden)
    if gradescope is not None:
        write_atomic(gradescope, json_module.dumps(to_gradescope(result, show_hidden=show_hidden), indent=2,
                                                   allow_nan=False) + "\n")
    if junit is not None:
        write_atomic(junit, to_junit(result, show_hidden=show_hidden))
    if markdown is not None:
        write_atomic(markdown, to_markdown(result, show_hidden=show_hidden))
    if html is not None:
        write_atomic(html, to_html(result, show_hidden=show_hidden))


def _points(value: float) -> str:
    return f"{value:g}"


def render(result: RunResult, console: Console, *, show_hidden: bool = False) -> None:
    """The per-problem table, the failures with their messages and counterexamples, and the total.
    Colours only where ``console`` is a terminal; the same text otherwise (rich decides)."""
    result = visible(result, show_hidden)
    title = f"{'Self-check of' if result.mode == 'check' else 'Grading'} {result.submission}"
    table = Table(box=box.SIMPLE_HEAVY, title=title, title_justify="left")
    table.add_column("Problem")
    table.add_column("Score", justify="right")
    table.add_column("Status")
    table.add_column("Properties", justify="right")
    for problem in result.problems:
        passed = sum(p.status == "passed" for p in problem.properties)
        table.add_row(problem.id, f"{_points(problem.score)}/{_points(problem.max_score)}",
                      Text(problem.status, style=STATUS_STYLE.get(problem.status, "")),
                      f"{passed}/{len(problem.properties)}")
    console.print(table)
    for problem in result.problems:
        if problem.tampering:
            console.print(Text.assemble((f"{problem.id}: ", "bold"), (problem.message, STATUS_STYLE["review"])))
            for line in tampering_lines(problem)[1:]:
                console.print(Text("  ⚑ " + line, style="magenta"), soft_wrap=True)
        if problem.status == "error":
            console.print(Text.assemble((f"{problem.id}: ", "bold"), (problem.message, "red")))
            continue
        failing = [p for p in problem.properties if p.status not in ("passed", "skipped")]
        if not failing:
            continue
        console.print(Text(f"{problem.id}", style="bold"))
        if problem.diagnosis is not None:
            _render_diagnosis(problem.diagnosis, console)
        for prop in failing:
            console.print(Text.assemble(
                ("  ✗ ", STATUS_STYLE.get(prop.status, "")),
                (prop.name, "bold"), (f" [{prop.status}, 0/{_points(prop.points)}] ", STATUS_STYLE.get(prop.status, "")),
                prop.description))
            for line in prop.message.splitlines()[:12]:
                console.print(Text("      " + line, style="dim"), soft_wrap=True)
            if prop.counterexample and prop.counterexample.get("reproduce"):
                console.print(Text("      Reproduce: " + prop.counterexample["reproduce"], style="dim"), soft_wrap=True)
    for warning in result.isolation_warnings:
        console.print(Text(f"Isolation warning: {warning}", style="yellow"))
    if result.unchecked_points:
        console.print(Text(f"{_points(result.unchecked_points)} points not checked here: their properties need the "
                           "reference solution, which is not installed.", style="yellow"))
    reviewed = [p.id for p in result.problems if p.tampering]
    if reviewed:
        console.print(Text(f"Tampering suspected in {len(reviewed)} problem{'s' * (len(reviewed) != 1)} "
                           f"({', '.join(reviewed)}): scored 0 until the course staff review "
                           f"{'them' if len(reviewed) != 1 else 'it'}.", style=STATUS_STYLE["review"]), soft_wrap=True)
    console.print(Text.assemble(
        ("Total: ", "bold"), f"{_points(result.score)}/{_points(result.max_score)} ({result.percent:.1f}%)",
        f"   {inputs_text(result.inputs, result.seed)}, device {result.device}, isolation {result.isolation}, "
        f"{result.duration_s:.1f} s"))


def _render_diagnosis(diagnosis: dict, console: Console) -> None:
    lines = diagnosis_lines(diagnosis)
    for line in lines:
        label, _, rest = line.partition(": ")
        console.print(Text.assemble((f"  {label}: ", "cyan bold"), (rest, "cyan")), soft_wrap=False)
