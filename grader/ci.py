"""``grade ci``: grade a submission in continuous integration.

On GitHub Actions (``GITHUB_ACTIONS=true``) it appends the Markdown report to the step summary,
annotates the student's file at the ``def`` of each function that lost points, writes the
JSON, JUnit and Markdown reports as files for upload, and exports the score as step outputs.
Anywhere else it behaves like ``grade run`` with those report files. The exit status follows
``--fail-under``, as for ``grade run``.

Student-controlled text (failure messages quote the student's exceptions, reprs and values) must
never become a workflow command: the runner treats any line of a step's output that starts, after
leading blanks, with ``::`` as one. So the terminal report is printed between
``::stop-commands::TOKEN`` and ``::TOKEN::`` with a token drawn after the student's code has
stopped running, and the annotations escape their text as GitHub's workflow-command syntax
requires (data: ``%``, CR, LF; properties also ``:`` and ``,``), so that each is one line the
student cannot end early.
"""

from __future__ import annotations

import ast
import os
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.bank import Problem
from grader.runner import ProblemResult, RunResult

# GitHub shows at most 10 error and 10 warning annotations per step (and 50 per job).
ANNOTATIONS_PER_LEVEL = 10
MAX_ANNOTATION_CHARS = 2000
# A step summary above 1 MiB is rejected by the runner (and none is shown at all).
MAX_SUMMARY_BYTES = 1000 * 1024
# A student's file larger than this is not parsed for the line of a definition.
MAX_PARSED_BYTES = 2 << 20
REPORT_NAMES = {"json": "report.json", "junit": "junit.xml", "markdown": "summary.md"}


def in_github_actions(environ=None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get("GITHUB_ACTIONS") == "true"


def default_report_dir(environ=None) -> Path:
    """Where the report files go when no path is given: on Actions the runner's temporary
    directory, outside the checked-out student repository (which could hold a symbolic link named
    like the report directory, pointing anywhere the job can write); elsewhere ``grade-report``."""
    environ = os.environ if environ is None else environ
    if in_github_actions(environ) and environ.get("RUNNER_TEMP"):
        return Path(environ["RUNNER_TEMP"]) / "grade-report"
    return Path("grade-report")


# --- workflow commands -----------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message: ``%`` first, so that an escape already in the text stays literal."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=...``, ``title=...``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **properties) -> str:
    """One line ``::command key=value,...::message`` whatever the text holds."""
    fields = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items()
                      if value is not None)
    return f"::{command}{' ' + fields if fields else ''}::{escape_data(message)}"


# --- annotations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotation:
    level: str  # "error" or "warning"
    title: str
    message: str
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        return workflow_command(self.level, self.message, file=self.file, line=self.line, title=self.title)


def student_file(submission: Path, module: str) -> Path | None:
    """The file that defines ``module`` in the submission, if it is a plain file (never a link)."""
    for candidate in (submission / f"{module}.py", submission / module / "__init__.py"):
        try:
            if stat.S_ISREG(os.lstat(candidate).st_mode):
                return candidate
        except OSError:
            continue
    return None


def definition_line(path: Path, name: str) -> int | None:
    """The line of the module-level ``def name`` (the last one: it is the one Python keeps), or of
    a module-level assignment to ``name``. The file is parsed, never imported: the grader process
    must not run student code."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_PARSED_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as stream:
            source = stream.read(MAX_PARSED_BYTES + 1)
    finally:
        os.close(fd)
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    line = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            line = node.lineno
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                line = node.lineno
    return line


def annotation_root(submission: Path, environ=None) -> Path:
    """The directory annotation paths are relative to: the student's repository root (the nearest
    ancestor holding ``.git``), else the workspace, else the current directory. GitHub places an
    annotation on a pull request's diff only when its path is relative to the repository root."""
    environ = os.environ if environ is None else environ
    submission = submission.resolve()
    for folder in (submission, *submission.parents):
        if (folder / ".git").exists():
            return folder
    workspace = environ.get("GITHUB_WORKSPACE")
    if workspace and submission.is_relative_to(Path(workspace).resolve()):
        return Path(workspace).resolve()
    return Path.cwd().resolve()


def _first_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _message(problem: ProblemResult) -> str:
    if problem.tampering:
        parts = [problem.message] + [f"⚑ {found['what']}" + (f", {found['where']}" if found.get("where") else "")
                                     for found in problem.tampering]
        text = "\n".join(parts)
        return text if len(text) <= MAX_ANNOTATION_CHARS else text[:MAX_ANNOTATION_CHARS - 1] + "…"
    if problem.status == "error":
        return problem.message
    failing = [p for p in problem.properties if p.status != "passed"]
    parts = [f"{len(failing)} of {len(problem.properties)} properties failed."]
    diagnosis = problem.diagnosis or {}
    for mistake in diagnosis.get("mistakes", []):
        parts.append(f"Looks like “{mistake['title']}”: {mistake['hint']}")
    for prop in failing:
        detail = "" if prop.hidden else _first_line(prop.message)
        parts.append(f"✗ {prop.name} [{prop.status}]: {prop.description}" + (f" — {detail}" if detail else ""))
    text = "\n".join(parts)
    return text if len(text) <= MAX_ANNOTATION_CHARS else text[:MAX_ANNOTATION_CHARS - 1] + "…"


def annotations(result: RunResult, problems: list[Problem], submission: Path, root: Path) -> list[Annotation]:
    """One annotation per problem that lost points: an error when it scored nothing, else a
    warning; at the student's ``def`` of the function when it can be found, else on the file."""
    by_id = {p.id: p for p in problems}
    found = []
    for problem in result.problems:
        if problem.status == "passed":
            continue
        level = "error" if problem.score == 0 else "warning"  # under review (tampering): 0, an error
        title = f"{problem.id}: {problem.score:g}/{problem.max_score:g} ({problem.status})"
        file = line = None
        spec = by_id.get(problem.id)
        path = student_file(submission, spec.module) if spec is not None else None
        if path is not None:
            name = spec.name if spec.name in spec.attributes else spec.attributes[0]
            line = definition_line(path, name)
            try:
                file = path.resolve().relative_to(root).as_posix()
            except ValueError:
                file = str(path.resolve())
        found.append(Annotation(level, title, _message(problem), file, line))
    return _within_limits(found)


def _within_limits(found: list[Annotation]) -> list[Annotation]:
    """GitHub drops annotations past 10 per level and step: keep 9 and say what the rest are."""
    kept = []
    for level in ("error", "warning"):
        of_level = [a for a in found if a.level == level]
        if len(of_level) > ANNOTATIONS_PER_LEVEL:
            rest = of_level[ANNOTATIONS_PER_LEVEL - 1:]
            of_level = of_level[:ANNOTATIONS_PER_LEVEL - 1] + [Annotation(
                level, f"{len(rest)} more problems lost points",
                "See the step summary for: " + ", ".join(a.title.split(":")[0] for a in rest))]
        kept += of_level
    return kept


# --- files of the Actions runner -------------------------------------------------------------------


def append_step_summary(markdown: str, path: Path) -> None:
    """Append (as the runner expects: earlier steps' summaries stay) the report, capped to the
    size GitHub accepts."""
    data = markdown.encode()
    if len(data) > MAX_SUMMARY_BYTES:
        note = "\n\n*The report was cut here: the full report is in the uploaded files.*\n".encode()
        data = data[:MAX_SUMMARY_BYTES - len(note)].decode(errors="ignore").encode() + note
    with open(path, "ab") as stream:
        stream.write(data if data.endswith(b"\n") else data + b"\n")


def append_outputs(result: RunResult, path: Path) -> None:
    """Step outputs (``steps.<id>.outputs.percent``...) for later steps, e.g. a pull-request comment.
    Every value is a number or a fixed word: no student text reaches the file."""
    values = {"score": f"{result.score:g}", "max-score": f"{result.max_score:g}",
              "percent": f"{result.percent:.2f}", "isolation": result.isolation}
    with open(path, "a", encoding="utf-8") as stream:
        stream.writelines(f"{key}={value}\n" for key, value in values.items())


# --- the command ----------------------------------------------------------------------------------


def report_paths(args, environ=None) -> dict[str, Path]:
    from grader.cli import UsageError

    directory = Path(args.report_dir) if args.report_dir is not None else default_report_dir(environ)
    paths = {}
    for kind, name in REPORT_NAMES.items():
        path = getattr(args, kind) or directory / name
        if path.is_dir():
            raise UsageError(f"--{kind}: cannot write a report to {path} (a directory)")
        paths[kind] = path
    return paths


def command_ci(args) -> int:
    from grader.cli import UsageError, launch_grading, submission_dir

    submission = submission_dir(args.submission)
    paths = report_paths(args)
    actions = in_github_actions()
    if actions:
        for variable in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
            target = os.environ.get(variable)
            if target and Path(target).is_dir():
                raise UsageError(f"${variable} names a directory: {target}")
    from grader.cli import read_secret

    args.secret = read_secret(args)
    problems, reference, zygote = launch_grading(args, submission)
    try:
        result = _grade(args, submission, problems, reference, zygote)
    finally:
        zygote.close()  # every worker is gone before anything the student wrote is printed
    return _publish(args, result, problems, submission, paths, actions)


def _grade(args, submission, problems, reference, zygote) -> RunResult:
    from grader.cli import resolve_device
    from grader.runner import grade

    return grade(submission, problems, device=resolve_device(args.device), seed=args.seed,
                 reference_dir=reference, zygote=zygote, require_isolation=args.require_isolation,
                 secret=getattr(args, "secret", None))


def _publish(args, result, problems, submission, paths, actions: bool) -> int:
    from rich.console import Console

    from grader.cli import EXIT_BELOW_THRESHOLD, EXIT_OK
    from grader.report import render, to_markdown, write_reports

    console = Console(file=sys.stdout)
    write_reports(result, json=paths["json"], junit=paths["junit"], markdown=paths["markdown"])
    token = secrets.token_hex(16) if actions else None
    if token:
        print(f"::stop-commands::{token}", flush=True)
    render(result, console)
    console.print(f"Reports: {paths['json']}, {paths['junit']}, {paths['markdown']}", soft_wrap=True,
                  markup=False, highlight=False)
    if token:
        print(f"::{token}::", flush=True)
        root = annotation_root(submission)
        for annotation in annotations(result, problems, submission, root):
            print(annotation.command(), flush=True)
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            append_step_summary(to_markdown(result), Path(os.environ["GITHUB_STEP_SUMMARY"]))
        if os.environ.get("GITHUB_OUTPUT"):
            append_outputs(result, Path(os.environ["GITHUB_OUTPUT"]))
    if args.fail_under is not None and result.percent < args.fail_under:
        message = f"Score {result.percent:.1f}% is below --fail-under {args.fail_under:g}%."
        print(workflow_command("error", message, title="grade ci") if token else message, flush=True)
        return EXIT_BELOW_THRESHOLD
    return EXIT_OK
