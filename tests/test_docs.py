"""Every ``grade`` command in the docs works: each one in a ``bash``/``console`` code block of
README.md and docs/*.md parses with the real command line, and the cheap ones run for real, their
documented error lines, totals and messages checked against what the command prints."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.bank import REPO_ROOT
from grader.cli import UsageError, build_parser

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
SEPARATORS = {"&&", "||", ";", "|"}
_FENCE = re.compile(r"^(`{3,})([\w-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Placeholder submissions the docs use as examples of a student's folder.
PLACEHOLDERS = ("hw1/alice", "hw1/bob")
CHEAP_COMMANDS = {"run", "ci", "check", "list", "gradescope"}


@dataclass
class Command:
    document: Path
    line: int
    text: str
    argv: list[str]
    env: dict[str, str]
    output: list[str] = field(default_factory=list)  # the lines a console block shows after it

    @property
    def where(self) -> str:
        return f"{self.document.relative_to(REPO_ROOT)}:{self.line}"


def _segments(line: str) -> list[tuple[dict, list[str]]]:
    """Simple commands of a shell line: (leading VAR=value assignments, words)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    segments, current = [], []
    for token in tokens + [";"]:
        if token in SEPARATORS:
            env = {}
            while current and _ASSIGNMENT.match(current[0]):
                key, _, value = current.pop(0).partition("=")
                env[key] = value
            if current:
                segments.append((env, current))
            current = []
        else:
            current.append(token)
    return segments


def documented_commands() -> list[Command]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text()
        for block in _FENCE.finditer(text):
            language, body = block.group(2).lower(), block.group(3)
            if language not in SHELL_LANGUAGES:
                continue
            first_line = text[:block.start(3)].count("\n") + 1
            lines = body.splitlines()
            index = 0
            while index < len(lines):
                raw, number = lines[index], first_line + index
                index += 1
                if language == "console":
                    if not raw.startswith("$ "):
                        continue
                    raw = raw[2:]
                while raw.endswith("\\") and index < len(lines):  # continuation lines
                    raw, index = raw[:-1] + " " + lines[index].lstrip(), index + 1
                if raw.lstrip().startswith("#"):
                    continue
                output = []
                if language == "console":
                    while index < len(lines) and not lines[index].startswith("$ "):
                        output.append(lines[index])
                        index += 1
                for env, words in _segments(raw):
                    if words[0] == "grade":
                        found.append(Command(document, number, raw, words[1:], env, output))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_commands():
    """The extraction itself works: the pages this project documents its commands in are found."""
    pages = {c.document.name for c in COMMANDS}
    assert {"README.md", "ci.md", "gradescope.md", "authoring.md", "isolation.md"} <= pages
    assert {c.argv[0] for c in COMMANDS} >= {"run", "list", "ci", "gradescope"}


def test_segments_of_a_shell_line():
    assert _segments("pip install -e . && GRADE_BANK=b grade run x --problem y | tail -3") == [
        ({}, ["pip", "install", "-e", "."]), ({"GRADE_BANK": "b"}, ["grade", "run", "x", "--problem", "y"]),
        ({}, ["tail", "-3"])]


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.where} {' '.join(c.argv[:2])}" for c in COMMANDS])
def test_documented_command_parses(command):
    try:
        build_parser().parse_args(command.argv)
    except UsageError as error:
        pytest.fail(f"{command.where}: `grade {' '.join(command.argv)}` is documented but the command line "
                    f"rejects it: {error}. Either the docs are wrong or the command is not built (yet).", pytrace=False)
    except SystemExit as exit:  # --help
        assert exit.code == 0, command.where


# --- running the cheap ones -----------------------------------------------------------------------


def _cheap(command: Command) -> bool:
    """Fast enough to run in the suite: listings, bundles, usage errors, and grading a single
    problem (an id with a dot) of an existing or placeholder submission."""
    if not command.argv or command.argv[0] not in CHEAP_COMMANDS:
        return False
    if command.argv[0] == "gradescope":
        return command.argv[1:2] == ["build"]
    if command.argv[0] == "list":
        return True
    problems = [command.argv[i + 1] for i, word in enumerate(command.argv[:-1]) if word == "--problem"]
    if any(line.startswith("grade: error: ") for line in command.output):
        return True
    return len(problems) == 1 and "." in problems[0]


@pytest.fixture(scope="module")
def docs_cwd(tmp_path_factory):
    """A working directory where the docs' relative paths exist: the repository's folders, and the
    placeholder students (copies of a correct submission)."""
    cwd = tmp_path_factory.mktemp("docs-cwd")
    for name in ("submissions", "reference", "problems", "examples"):
        (cwd / name).symlink_to(REPO_ROOT / name)
    for placeholder in PLACEHOLDERS:
        shutil.copytree(REPO_ROOT / "submissions" / "correct_divergences", cwd / placeholder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return cwd


CHEAP = [c for c in COMMANDS if _cheap(c)]


@pytest.mark.parametrize("command", CHEAP, ids=[f"{c.where} {' '.join(c.argv[:2])}" for c in CHEAP])
def test_cheap_documented_command_runs_as_documented(command, docs_cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADE_", "GITHUB_", "RUNNER_"))}
    env.update(command.env)
    completed = subprocess.run([sys.executable, "-m", "grader", *command.argv], capture_output=True, text=True,
                               cwd=docs_cwd, env=env, timeout=300)
    shown = f"{command.where}: `{command.text}`\nstdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr}"
    errors = [line for line in command.output if line.startswith("grade: error: ")]
    if errors:
        assert completed.returncode == 2, shown
        assert completed.stderr.splitlines() == errors, shown
        return
    below = any("is below --fail-under" in line for line in command.output)
    assert completed.returncode == (1 if below else 0), shown
    assert "Traceback" not in completed.stderr, shown
    for line in command.output:
        total = re.match(r"Total: (\S+ \(\S+\))", line)
        if total:
            assert f"Total: {total.group(1)}" in completed.stdout, shown
        if line.startswith(("Wrote ", "Score ", "Reports: ")):
            assert line in completed.stdout.splitlines(), shown


def test_every_results_file_the_benchmark_and_audit_docs_quote_exists():
    # The numbers in these pages are only as good as the files they come from.
    results = REPO_ROOT / "bench" / "results"
    for page in ("benchmarks.md", "audit.md"):
        text = (REPO_ROOT / "docs" / page).read_text()
        quoted = set(re.findall(r"`(?:bench/results/)?([A-Za-z0-9_.-]+\.json)`", text))
        assert quoted, page
        missing = sorted(name for name in quoted if not (results / name).is_file())
        assert missing == [], f"{page} quotes results files that do not exist: {missing}"
