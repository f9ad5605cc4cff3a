"""The pytest plugin that turns a problem's spec into graded properties.

It collects functions marked with :func:`grader.spec.prop` (whatever their name), pins Hypothesis
to a reproducible configuration seeded from ``--seed``, provides the ``student``, ``reference``,
``device`` and ``rng`` fixtures, and records one outcome per property.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.errors import Flaky, HypothesisException

from grader.bank import Problem
from grader.diagnosis import Diagnosis, diagnose
from grader.sandbox import Limits, WorkerLost, Zygote
from grader.spec import property_info
from grader.values import ReferenceModule, StudentError, StudentModule, Unavailable

MAX_MESSAGE = 3000
DIAGNOSIS_BUDGET_S = 30.0


def derived_seed(seed: int, *parts: str) -> int:
    digest = hashlib.sha256("\0".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def grading_settings(max_examples: int) -> settings:
    """Reproducible: a fixed seed per property, no example database, no Hypothesis deadline (the
    worker's own deadlines apply), and no health check whose verdict depends on timing."""
    return settings(
        max_examples=max_examples, derandomize=False, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
        verbosity=Verbosity.normal, phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
    )


@dataclass
class Outcome:
    status: str  # passed | failed | error | timeout | skipped
    message: str = ""
    duration_s: float = 0.0


class GradingPlugin:
    def __init__(self, *, zygote: Zygote, submission: str, problems: list[Problem], device: str, seed: int,
                 base_limits: Limits, reference_dir: Path | None, scratch: str | None = None,
                 on_property=None):
        self.zygote, self.submission, self.device_name, self.seed = zygote, submission, device, seed
        self.base_limits, self.reference_dir, self.scratch = base_limits, reference_dir, scratch
        self.by_spec = {str(p.spec_path.resolve()): p for p in problems}
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.students: dict[str, StudentModule] = {}
        self.unavailable: dict[str, str] = {}
        self.on_property = on_property
        self.references: dict[str, object] = {}
        self.diagnoses: dict[str, Diagnosis | None] = {}

    def pytest_configure(self, config):
        config.stash[PLUGIN_KEY] = self

    # --- collection -------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makeitem(self, collector, name, obj):
        if property_info(obj) is not None:
            return list(collector._genfunctions(name, obj))
        return None

    def pytest_collection_modifyitems(self, items):
        for item in items:
            problem = self.problem_of(item)
            info = property_info(getattr(item, "obj", None))
            if problem is None or info is None:
                continue
            function = item.obj
            if hasattr(function, "hypothesis"):
                # Set directly rather than through @settings/@seed: a spec module can be collected by
                # several runs in one process, and Hypothesis refuses to apply settings twice.
                function._hypothesis_internal_use_settings = grading_settings(info.max_examples)
                function._hypothesis_internal_use_seed = derived_seed(self.seed, problem.id, info.name)

    def problem_of(self, item) -> Problem | None:
        return self.by_spec.get(str(Path(item.fspath).resolve()))

    # --- running and recording ----------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        problem = self.problem_of(item)
        module = self.students.get(problem.id) if problem else None
        if module is not None:
            module.start_property(problem.property_budget_s)
        try:
            return (yield)
        finally:
            if module is not None:
                module.start_property(None)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        problem = self.problem_of(item)
        info = property_info(getattr(item, "obj", None))
        if problem is None or info is None:
            return report
        key = (problem.id, info.name)
        previous = self.outcomes.get(key)
        outcome = self._classify(report, call)
        if call.when == "call" or previous is None or (previous.status == "passed" and outcome.status != "passed"):
            outcome.duration_s = round((previous.duration_s if previous else 0.0) + call.duration, 6)
            self.outcomes[key] = outcome
        if call.when == "teardown" and self.on_property is not None:
            self.on_property(problem, info, self.outcomes[key])
        return report

    def _classify(self, report, call) -> Outcome:
        if report.passed:
            return Outcome("passed")
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            return Outcome("skipped", reason.removeprefix("Skipped: "))
        error = call.excinfo.value if call.excinfo is not None else None
        if isinstance(error, WorkerLost):
            return Outcome("timeout" if error.kind == "timeout" else "error", error.detail)
        if isinstance(error, Unavailable):
            return Outcome("error", str(error))
        if isinstance(error, Flaky):
            return Outcome("failed", "your function gave different answers to the same input (is it "
                                     f"non-deterministic?): {_message(error)}")
        if isinstance(error, HypothesisException):
            return Outcome("error", f"internal error in the property (a bug of the grader, not yours): {_message(error)}")
        if isinstance(error, (AssertionError, StudentError)):
            return Outcome("failed", _message(error))
        if call.when != "call":
            return Outcome("error", f"internal error while preparing the property: {_message(error)}")
        return Outcome("failed", f"the property could not be evaluated on your output: "
                                 f"{type(error).__name__}: {_message(error)}")


# --- fixtures: module-level functions (pytest deprecates fixtures on plugin instances) that find the
# run's GradingPlugin in the config stash.

PLUGIN_KEY = pytest.StashKey["GradingPlugin"]()


def _plugin(request) -> GradingPlugin:
    return request.config.stash[PLUGIN_KEY]


@pytest.fixture(scope="module")
def student(request):
    plugin = _plugin(request)
    problem = plugin.by_spec[str(Path(request.module.__file__).resolve())]
    if problem.id in plugin.unavailable:
        raise Unavailable(plugin.unavailable[problem.id])
    module = StudentModule(plugin.zygote, plugin.submission, problem.module, list(problem.attributes),
                           plugin.device_name, problem.limits(plugin.base_limits), plugin.scratch)
    try:
        module.load()
    except Unavailable as error:
        plugin.unavailable[problem.id] = str(error)
        raise
    plugin.students[problem.id] = module
    yield module
    failed = [name for (pid, name), o in plugin.outcomes.items() if pid == problem.id and o.status != "passed"]
    if failed:
        module.start_property(DIAGNOSIS_BUDGET_S)
        try:
            plugin.diagnoses[problem.id] = diagnose(problem, module, failed)
        except Exception as error:  # noqa: BLE001 - a faulty catalogue must not cost the student points
            plugin.diagnoses[problem.id] = Diagnosis([], f"diagnosis unavailable ({type(error).__name__}: {error})")
    module.close()


@pytest.fixture(scope="module")
def reference(request):
    plugin = _plugin(request)
    problem = plugin.by_spec[str(Path(request.module.__file__).resolve())]
    if problem.module not in plugin.references:
        path = None if plugin.reference_dir is None else plugin.reference_dir / f"{problem.module}.py"
        if path is None or not path.is_file():
            pytest.skip("needs the reference solution, which is not installed here")
        spec = importlib.util.spec_from_file_location(f"_grader_reference_{problem.module}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        plugin.references[problem.module] = ReferenceModule(module)
    return plugin.references[problem.module]


@pytest.fixture(scope="module")
def device(request):
    return _plugin(request).device_name


@pytest.fixture
def rng(request):
    plugin = _plugin(request)
    problem = plugin.problem_of(request.node)
    return np.random.default_rng(derived_seed(plugin.seed, problem.id, request.node.name, "rng"))


def _message(error: BaseException | None) -> str:
    if error is None:
        return ""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001
        text = f"<{type(error).__name__}>"
    notes = [n for n in getattr(error, "__notes__", ()) if isinstance(n, str)]
    if notes:
        text = text.rstrip() + "\n" + "\n".join(notes)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " ...[truncated]"


def timer() -> float:
    return time.perf_counter()
