"""Reports: the versioned JSON document and the terminal table, both from one RunResult."""

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

from grader.runner import RunResult, versions

STATUS_STYLE = {"passed": "green", "partial": "yellow", "failed": "red", "error": "red bold",
                "timeout": "magenta", "skipped": "dim"}
MAX_REPORTED_OUTPUT = 16 * 1024


def to_json(result: RunResult) -> dict:
    """The JSON report (schema in grader/schemas/report.schema.json, documented in docs/report.md)."""
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
        "device": result.device,
        "isolation": result.isolation,
        "isolation_layers": list(result.isolation_layers),
        "isolation_warnings": list(result.isolation_warnings),
        "versions": versions(),
        "duration_s": result.duration_s,
        "problems": problems,
    }


def _capped(text: str) -> str:
    if len(text) <= MAX_REPORTED_OUTPUT:
        return text
    marker = f"\n[... {len(text) - MAX_REPORTED_OUTPUT} more characters of output not stored in the report]"
    return text[:MAX_REPORTED_OUTPUT - len(marker)] + marker


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never a torn write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def write_json(result: RunResult, path: Path) -> None:
    write_atomic(path, json.dumps(to_json(result), indent=2, allow_nan=False) + "\n")


def _points(value: float) -> str:
    return f"{value:g}"


def render(result: RunResult, console: Console) -> None:
    """The per-problem table, the failures with their messages, and the total."""
    table = Table(box=box.SIMPLE_HEAVY, title=f"Grading {result.submission}", title_justify="left")
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
        if problem.status == "error":
            console.print(Text.assemble((f"{problem.id}: ", "bold"), (problem.message, "red")))
            continue
        failing = [p for p in problem.properties if p.status != "passed"]
        if not failing:
            continue
        console.print(Text(f"{problem.id}", style="bold"))
        if problem.diagnosis is not None:
            _render_diagnosis(problem.diagnosis, console)
        for prop in failing:
            console.print(Text.assemble(
                ("  ✗ " if prop.status != "skipped" else "  - ", STATUS_STYLE.get(prop.status, "")),
                (prop.name, "bold"), (f" [{prop.status}, 0/{_points(prop.points)}] ", STATUS_STYLE.get(prop.status, "")),
                prop.description))
            if prop.message and not prop.hidden:
                for line in prop.message.splitlines()[:12]:
                    console.print(Text("      " + line, style="dim"), soft_wrap=True)
    for warning in result.isolation_warnings:
        console.print(Text(f"Isolation warning: {warning}", style="yellow"))
    console.print(Text.assemble(
        ("Total: ", "bold"), f"{_points(result.score)}/{_points(result.max_score)} ({result.percent:.1f}%)",
        f"   seed {result.seed}, device {result.device}, isolation {result.isolation}, {result.duration_s:.1f} s"))


def _render_diagnosis(diagnosis: dict, console: Console) -> None:
    if not diagnosis["mistakes"]:
        console.print(Text(f"  Diagnosis: {diagnosis['message']}.", style="cyan"))
        return
    for mistake in diagnosis["mistakes"]:
        console.print(Text.assemble(("  Diagnosis: ", "cyan bold"), (f"looks like “{mistake['title']}”. ", "cyan"),
                                    mistake["explanation"]))
        console.print(Text.assemble(("  Hint: ", "cyan bold"), mistake["hint"]))
