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
from grader.sandbox import Limits, Zygote
from grader.spec import property_info

SCHEMA_VERSION = 1
ISOLATION_LEVEL = "minimal"
ISOLATION_LAYERS = ("process", "session", "rlimits", "threads-pinned", "tree-kill", "clean-environment")
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


@dataclass
class RunResult:
    submission: str
    seed: int
    device: str
    problems: list[ProblemResult]
    duration_s: float
    schema_version: int = SCHEMA_VERSION
    isolation: str = ISOLATION_LEVEL

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


def grade(submission: Path, problems: list[Problem], *, device: str = "cpu", seed: int = 0,
          reference_dir: Path | None = None, limits: Limits | None = None, zygote: Zygote | None = None,
          on_property=None) -> RunResult:
    """Grade ``submission`` (a directory of modules) on ``problems``; never raises for student faults."""
    started = time.perf_counter()
    submission = Path(submission).resolve()
    limits = limits or Limits()
    own_zygote = zygote is None
    if own_zygote:
        zygote = Zygote().launch()  # it imports torch while we import the specs and the reference
    try:
        infos = {p.id: collect_properties(p) for p in problems}
        if reference_dir is not None and problems:
            import torch  # noqa: F401  (the reference needs it; import it in parallel with the zygote)
        zygote.wait_ready()
    except BaseException:
        if own_zygote:
            zygote.close()
        raise
    scratch = tempfile.TemporaryDirectory(prefix="grade-scratch-")
    plugin = GradingPlugin(zygote=zygote, submission=str(submission), problems=problems, device=device,
                           seed=seed, base_limits=limits, reference_dir=reference_dir, scratch=scratch.name,
                           on_property=on_property)
    try:
        if problems:
            bank_root = problems[0].folder.parent.parent
            args = [str(p.spec_path) for p in problems] + [
                "-c", str(_INI), "--rootdir", str(bank_root), "--import-mode=importlib", "--noconftest",
                "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:logging", "-p", "no:warnings",
                "--capture=sys",
            ]
            # pytest's importlib mode reuses any module already imported under a spec's dotted name
            # (toy/double/spec.py -> "toy.double.spec"): a spec of another bank graded earlier in this
            # process, or an older version of this file, must not stand in for this one.
            for problem in problems:
                sys.modules.pop(module_name_from_path(problem.spec_path, bank_root), None)
            with _pytest_environment():
                code = pytest.main(args, plugins=[plugin, grader.plugin])
            if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                raise RuntimeError(f"the grader's pytest run ended with {code!r}")
    finally:
        for module in plugin.students.values():
            module.close()
        if own_zygote:
            zygote.close()
        scratch.cleanup()
    results = [_score(p, infos[p.id], plugin) for p in problems]
    return RunResult(submission=str(submission), seed=seed, device=device, problems=results,
                     duration_s=round(time.perf_counter() - started, 3))


def _score(problem: Problem, infos: list, plugin: GradingPlugin) -> ProblemResult:
    properties = []
    for info in infos:
        outcome = plugin.outcomes.get((problem.id, info.name)) or Outcome("error", "the property did not run")
        score = info.points if outcome.status == "passed" else 0.0
        properties.append(PropertyResult(
            name=info.name, description=info.description, points=info.points, score=score,
            status=outcome.status, message=outcome.message, duration_s=outcome.duration_s, hidden=info.hidden))
    max_score = sum(p.points for p in properties)
    score = sum(p.score for p in properties)
    module = plugin.students.get(problem.id)
    output = "\n".join(module.outputs) if module is not None else ""
    if problem.id in plugin.unavailable:
        status, message = "error", plugin.unavailable[problem.id]
    elif score == max_score:
        status, message = "passed", ""
    elif score == 0:
        status, message = "failed", f"{sum(p.status != 'passed' for p in properties)} of {len(properties)} properties failed"
    else:
        status, message = "partial", f"{sum(p.status != 'passed' for p in properties)} of {len(properties)} properties failed"
    diagnosis = plugin.diagnoses.get(problem.id)
    return ProblemResult(id=problem.id, title=problem.title, score=round(score, 6), max_score=round(max_score, 6),
                         status=status, message=message, properties=properties, output=output,
                         diagnosis=None if diagnosis is None else diagnosis.to_dict())


