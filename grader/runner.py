"""Grade one submission: start a zygote, run the selected problems' specs through pytest, score."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.pathlib import module_name_from_path

import grader
import grader.plugin
from grader.bank import Problem
from grader.plugin import GradingPlugin, Outcome
from grader.isolation import LEVELS, read_paths_exposing
from grader.sandbox import PACKAGE_ROOT, Limits, Zygote
from grader.keys import InputKey, tree_hash
from grader.scratch import ScratchDirectory
from grader.submission import SubmissionRefused, stage
from grader.spec import property_info
from grader.tamper import scan_submission

SCHEMA_VERSION = 1
_INI = Path(__file__).with_name("pytest-grading.ini")


@dataclass
class PropertyResult:
    name: str
    description: str
    points: float
    score: float
    status: str
    message: str
    duration_s: float
    hidden: bool = False
    counterexample: dict | None = None  # see grader.feedback.counterexample


@dataclass
class ProblemResult:
    id: str
    title: str
    score: float
    max_score: float
    status: str
    message: str
    properties: list[PropertyResult] = field(default_factory=list)
    output: str = ""
    diagnosis: dict | None = None
    figures: list[dict] = field(default_factory=list)  # drawn by the spec's feedback_figures hook
    # Tampering suspected (grader.tamper): what was found, and the score withheld for the staff's
    # review (the problem then scores 0 and its status is "review").
    tampering: list[dict] = field(default_factory=list)
    withheld_score: float | None = None


@dataclass
class RunResult:
    submission: str
    seed: int
    device: str
    problems: list[ProblemResult]
    duration_s: float
    schema_version: int = SCHEMA_VERSION
    isolation: str = "minimal"
    isolation_layers: list[str] = field(default_factory=list)
    isolation_warnings: list[str] = field(default_factory=list)
    # "check" where the reference is not installed: properties that need it are skipped, unscored
    mode: str = "run"
    # where the inputs came from (grader.keys.InputKey.describe): stream, seed, submission hash, secret fingerprint
    inputs: dict = field(default_factory=dict)
    hidden_shown: bool = False  # set on the copy a staff report made with show_hidden=True

    @property
    def unchecked_points(self) -> float:
        """Points of the properties skipped because they need the reference (a self-check's gap)."""
        return round(sum(q.points for p in self.problems for q in p.properties if q.status == "skipped"), 6)

    @property
    def score(self) -> float:
        return round(sum(p.score for p in self.problems), 6)

    @property
    def max_score(self) -> float:
        return round(sum(p.max_score for p in self.problems), 6)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


def versions() -> dict[str, str]:
    import hypothesis
    import numpy
    import torch

    return {"grader": grader.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "hypothesis": hypothesis.__version__, "numpy": numpy.__version__, "pytest": pytest.__version__}


def collect_properties(problem: Problem) -> list:
    """The properties of a problem's spec, in definition order (imports the spec, in the grader)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_grader_spec_{problem.module}_{problem.name}", problem.spec_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [info for info in (property_info(v) for v in vars(module).values()) if info is not None]


@contextmanager
def _pytest_environment():
    """Keep the grader's pytest run free of the user's plugins, config and working directory."""
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved


class IsolationTooWeak(Exception):
    """``--require-isolation`` asked for more than this machine provides."""


def hidden_paths(submission: Path, problems: list[Problem], reference_dir: Path | None) -> list[str]:
    """What workers must not see (the specs, the reference, the original submission and its siblings'
    folder), less anything the zygote itself needs (the grader, Python, the temporary directory)."""
    candidates = {str(p.folder.parent.parent.resolve()) for p in problems}
    candidates.add(str(Path(submission).resolve()))
    if reference_dir is not None:
        candidates.add(str(Path(reference_dir).resolve()))
    needed = [PACKAGE_ROOT, sys.prefix, sys.base_prefix, sys.exec_prefix, tempfile.gettempdir()]
    needed = [os.path.realpath(p) for p in needed]

    def covers(path: str, other: str) -> bool:
        return other == path or other.startswith(path.rstrip("/") + "/")

    return sorted(p for p in candidates if os.path.isdir(p) and not any(covers(p, n) for n in needed))


def grade(submission: Path, problems: list[Problem], *, device: str = "cpu", seed: int = 0,
          reference_dir: Path | None = None, limits: Limits | None = None, zygote: Zygote | None = None,
          on_property=None, require_isolation: str | None = None, secret: bytes | None = None) -> RunResult:
    """Grade ``submission`` (a directory of modules) on ``problems``; never raises for student faults.

    With the reference (a graded run) the inputs are keyed by ``seed``, the staged submission's sha256 and
    ``secret`` (the course's, or None); without it (a self-check) by ``seed`` alone, in a public stream
    that is never the graded one. See grader.keys.
    """
    started = time.perf_counter()
    submission = Path(submission).resolve()
    limits = limits or Limits()
    own_zygote = zygote is None
    if own_zygote:
        # It imports torch while we import the specs and the reference.
        zygote = Zygote(hide=hidden_paths(submission, problems, reference_dir)).launch()
    try:
        infos = {p.id: collect_properties(p) for p in problems}
        if reference_dir is not None and problems:
            import torch  # noqa: F401  (the reference needs it; import it in parallel with the zygote)
        zygote.wait_ready()
        if require_isolation and LEVELS.index(zygote.level) < LEVELS.index(require_isolation):
            raise IsolationTooWeak(f"isolation level {zygote.level!r} reached, {require_isolation!r} required "
                                   f"({'; '.join(zygote.warnings) or 'see docs/isolation.md'})")
    except BaseException:
        if own_zygote:
            zygote.close()
        raise
    warnings = zygote.warnings + _exposure_warnings(zygote, problems, reference_dir)
    scratch = ScratchDirectory("grade-scratch-")
    try:
        staged = stage(submission, Path(scratch.name) / "submission")
    except SubmissionRefused as refusal:
        scratch.cleanup()
        if own_zygote:
            zygote.close()
        return _refused(submission, problems, infos, str(refusal), seed, device, zygote, warnings, started,
                        reference_dir)
    if reference_dir is not None:
        key = InputKey("graded", seed, tree_hash(staged), secret)
    else:
        key = InputKey("check", seed)
    workdir = Path(scratch.name) / "work"
    workdir.mkdir()
    plugin = GradingPlugin(zygote=zygote, submission=str(staged), problems=problems, device=device,
                           key=key, base_limits=limits, reference_dir=reference_dir, scratch=str(workdir),
                           on_property=on_property, submission_label=str(submission))
    # The submission's source, read (never run) in this process: the tamper monitor's second line.
    plugin.scanned = scan_submission(staged, sorted({p.module for p in problems}))
    try:
        if problems:
            bank_root = problems[0].folder.parent.parent
            args = [str(p.spec_path) for p in problems] + [
                "-c", str(_INI), "--rootdir", str(bank_root), "--import-mode=importlib", "--noconftest",
                "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:logging", "-p", "no:warnings",
                # Its clean-up runs gc.collect() five times per pytest run (a quarter of a second with
                # torch loaded) to turn exceptions in __del__ into warnings, which are off anyway.
                "-p", "no:unraisableexception",
                "--capture=sys",
            ]
            # pytest's importlib mode reuses any module already imported under a spec's dotted name
            # (toy/double/spec.py -> "toy.double.spec"): a spec of another bank graded earlier in this
            # process, or an older version of this file, must not stand in for this one.
            for problem in problems:
                sys.modules.pop(module_name_from_path(problem.spec_path, bank_root), None)
            with _pytest_environment():
                code = pytest.main(args, plugins=[plugin, grader.plugin])
            if code == pytest.ExitCode.INTERRUPTED:
                # pytest swallowed a Ctrl-C (or the CLI's SIGTERM): pass it on, after the clean-up below
                raise KeyboardInterrupt
            if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                raise RuntimeError(f"the grader's pytest run ended with {code!r}")
    finally:
        for module in plugin.students.values():
            module.close()
        if own_zygote:
            zygote.close()
        scratch.cleanup()
    results = [_score(p, infos[p.id], plugin) for p in problems]
    warnings += [f"{pid}: its feedback_figures hook failed ({error})" for pid, error in plugin.figure_errors.items()]
    return RunResult(submission=str(submission), seed=seed, device=device, problems=results,
                     duration_s=round(time.perf_counter() - started, 3), isolation=zygote.level,
                     isolation_layers=zygote.applied_layers, isolation_warnings=warnings,
                     mode="run" if reference_dir is not None else "check", inputs=key.describe())


def _exposure_warnings(zygote: Zygote, problems: list[Problem], reference_dir: Path | None) -> list[str]:
    """Where the specs or the reference sit inside what Landlock lets workers read, and no private
    namespace hides them, say so: the report must not claim more than it has."""
    if zygote.isolation.get("namespaces") or not zygote.isolation.get("landlock"):
        return []
    targets = [str(p.folder) for p in problems] + ([str(reference_dir)] if reference_dir else [])
    return [f"{path} is readable by workers (it lies inside a directory they may read)"
            for path in read_paths_exposing(targets, zygote.isolation.get("read_paths", []))]


def _refused(submission, problems, infos, reason, seed, device, zygote, warnings, started,
             reference_dir=None) -> RunResult:
    results = []
    for problem in problems:
        properties = [PropertyResult(name=i.name, description=i.description, points=i.points, score=0.0,
                                     status="error", message=f"submission refused: {reason}", duration_s=0.0,
                                     hidden=i.hidden) for i in infos[problem.id]]
        results.append(ProblemResult(id=problem.id, title=problem.title, score=0.0,
                                     max_score=round(sum(i.points for i in infos[problem.id]), 6), status="error",
                                     message=f"submission refused: {reason}", properties=properties))
    return RunResult(submission=str(submission), seed=seed, device=device, problems=results,
                     duration_s=round(time.perf_counter() - started, 3), isolation=zygote.level,
                     isolation_layers=zygote.applied_layers, isolation_warnings=warnings,
                     mode="run" if reference_dir is not None else "check",
                     inputs=InputKey("graded" if reference_dir is not None else "check", seed).describe())


def _score(problem: Problem, infos: list, plugin: GradingPlugin) -> ProblemResult:
    properties = []
    for info in infos:
        outcome = plugin.outcomes.get((problem.id, info.name)) or Outcome("error", "the property did not run")
        score = info.points if outcome.status == "passed" else 0.0
        properties.append(PropertyResult(
            name=info.name, description=info.description, points=info.points, score=score,
            status=outcome.status, message=outcome.message, duration_s=outcome.duration_s, hidden=info.hidden,
            counterexample=outcome.counterexample))
    max_score = sum(p.points for p in properties)
    score = sum(p.score for p in properties)
    module = plugin.students.get(problem.id)
    output = "\n".join(module.outputs) if module is not None else ""
    if problem.id in plugin.unavailable:
        status, message = "error", plugin.unavailable[problem.id]
    elif score == max_score:
        status, message = "passed", ""
    else:
        status, message = ("failed" if score == 0 else "partial"), _shortfall(properties)
    findings = list(plugin.tampering.get(problem.id, []))
    findings += [f for f in plugin.scanned.get(problem.module, []) if f not in findings]
    withheld = None
    if findings:
        withheld, score, status, message = round(score, 6), 0.0, "review", withheld_message(len(findings))
        for prop in properties:
            prop.score = 0.0
    diagnosis = plugin.diagnoses.get(problem.id)
    return ProblemResult(id=problem.id, title=problem.title, score=round(score, 6), max_score=round(max_score, 6),
                         status=status, message=message, properties=properties, output=output,
                         diagnosis=None if diagnosis is None else diagnosis.to_dict(),
                         figures=plugin.figures.get(problem.id, []),
                         tampering=[f.to_dict() for f in findings], withheld_score=withheld)


def withheld_message(count: int) -> str:
    """A problem's message when tampering is suspected: what the student and the staff read."""
    return (f"tampering suspected: the score is withheld for review by the course staff "
            f"({count} finding{'s' * (count != 1)} below)")


def _shortfall(properties: list[PropertyResult]) -> str:
    """Why a problem lost points: failures, and properties a self-check could not run."""
    failed = sum(p.status not in ("passed", "skipped") for p in properties)
    skipped = sum(p.status == "skipped" for p in properties)
    parts = [f"{failed} of {len(properties)} properties failed"] if failed else []
    if skipped:
        parts.append(f"{skipped} not checked here (they need the reference solution)")
    return "; ".join(parts)
