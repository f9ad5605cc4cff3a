"""The pytest plugin that turns a problem's spec into graded properties.

It collects functions marked with :func:`grader.spec.prop` (whatever their name), pins Hypothesis
to a reproducible configuration seeded from ``--seed``, provides the ``student``, ``reference``,
``device`` and ``rng`` fixtures, and records one outcome per property.
"""

from __future__ import annotations

import functools
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.errors import Flaky, HypothesisException

from grader.bank import Problem
from grader.keys import InputKey, pin_hypothesis
from grader.diagnosis import Diagnosis, PropertyFailure, diagnose
from grader.feedback import (CallRecord, PropertyRecorder, counterexample, reproduce_command, slice_through,
                             valid_figures)
from grader.sandbox import Limits, WorkerLost, Zygote
from grader.spec import property_info
from grader.values import ReferenceModule, StudentError, StudentModule, Unavailable

MAX_MESSAGE = 3000
DIAGNOSIS_BUDGET_S = 30.0
FEEDBACK_BUDGET_S = 20.0  # slices through counterexamples and a problem's own figures, per problem


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
    counterexample: dict | None = None


class RecordingStudent(StudentModule):
    """The student's module, noting each call of the current property's example (what was sent and
    what came back) so that a failure can show the student's answer without parsing messages."""

    recorder: PropertyRecorder | None = None

    def call(self, name, *args, **kwargs):
        return self._recorded("call", name, args, kwargs, lambda: super(RecordingStudent, self).call(name, *args, **kwargs))

    def grad(self, name, *args, wrt, output=None, cotangent=None, **kwargs):
        return self._recorded("grad", name, args, kwargs, lambda: super(RecordingStudent, self).grad(
            name, *args, wrt=wrt, output=output, cotangent=cotangent, **kwargs))

    def _recorded(self, kind, name, args, kwargs, perform):
        if self.recorder is None:
            return perform()
        record = CallRecord(name, tuple(args), dict(kwargs), kind)
        self.recorder.calls.append(record)
        try:
            record.result = perform()
        except StudentError as error:
            record.error = str(error)
            raise
        return record.result


class GradingPlugin:
    def __init__(self, *, zygote: Zygote, submission: str, problems: list[Problem], device: str, key: InputKey,
                 base_limits: Limits, reference_dir: Path | None, scratch: str | None = None,
                 on_property=None, submission_label: str | None = None):
        self.zygote, self.submission, self.device_name, self.key = zygote, submission, device, key
        pin_hypothesis()
        self.base_limits, self.reference_dir, self.scratch = base_limits, reference_dir, scratch
        self.by_spec = {str(p.spec_path.resolve()): p for p in problems}
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.students: dict[str, StudentModule] = {}
        self.unavailable: dict[str, str] = {}
        self.on_property = on_property
        self.references: dict[str, object] = {}
        self.diagnoses: dict[str, Diagnosis | None] = {}
        # what reproduces a problem's run: `grade check` where the reference is not installed
        self.command = "run" if reference_dir is not None else "check"
        self.submission_label = submission_label or submission
        self.recorders: dict[tuple[str, str], PropertyRecorder] = {}
        self.failed_calls: dict[tuple[str, str], CallRecord] = {}
        self.figures: dict[str, list[dict]] = {}
        self.figure_errors: dict[str, str] = {}
        self.hidden: set[tuple[str, str]] = set()
        # grader.tamper findings per problem: the monitor's (from its workers) and the source scan's
        self.tampering: dict[str, list] = {}
        self.scanned: dict[str, list] = {}  # module -> the scan's findings (set by grader.runner)

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
            if info.hidden:
                self.hidden.add((problem.id, info.name))
            if hasattr(function, "hypothesis"):
                # Set directly rather than through @settings/@seed: a spec module can be collected by
                # several runs in one process, and Hypothesis refuses to apply settings twice.
                function._hypothesis_internal_use_settings = grading_settings(info.max_examples)
                function._hypothesis_internal_use_seed = self.key.seed_for(problem.id, info.name)
                inner = function.hypothesis.inner_test
                inner = getattr(inner, "_grader_original", inner)
                function.hypothesis.inner_test = self._recording(inner, (problem.id, info.name))

    def _recording(self, inner, key):
        """Wrap a property's inner test so that each example's arguments are noted: after shrinking,
        Hypothesis replays the minimal failing example last, so the last noted ones are it."""
        def example(*args, **kwargs):
            recorder = self.recorders.get(key)
            if recorder is not None:
                recorder.start_example({**{f"argument {i + 1}": a for i, a in enumerate(args)}, **kwargs})
            return inner(*args, **kwargs)

        functools.update_wrapper(example, inner)
        example._grader_original = inner
        return example

    def problem_of(self, item) -> Problem | None:
        return self.by_spec.get(str(Path(item.fspath).resolve()))

    # --- running and recording ----------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        problem = self.problem_of(item)
        module = self.students.get(problem.id) if problem else None
        info = property_info(getattr(item, "obj", None))
        recorder = PropertyRecorder()
        if problem is not None and info is not None:
            self.recorders[(problem.id, info.name)] = recorder
        if module is not None:
            module.start_property(problem.property_budget_s)
            module.recorder = recorder
        try:
            return (yield)
        finally:
            if module is not None:
                module.start_property(None)
                module.recorder = None

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
        if call.when == "call" and outcome.status in ("failed", "timeout", "error") and not (
                call.excinfo is not None and isinstance(call.excinfo.value, Unavailable)):
            recorder = self.recorders.get(key)
            error = call.excinfo.value if call.excinfo is not None else None
            outcome.counterexample = counterexample(error, recorder, reproduce_command(
                self.command, self.submission_label, problem.id, self.key))
            if recorder is not None and recorder.last_call() is not None:
                self.failed_calls[key] = recorder.last_call()
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
    module = RecordingStudent(plugin.zygote, plugin.submission, problem.module, list(problem.attributes),
                              plugin.device_name, problem.limits(plugin.base_limits), plugin.scratch)
    try:
        module.load()
    except Unavailable as error:
        plugin.unavailable[problem.id] = str(error)
        plugin.tampering[problem.id] = module.tampering  # an import may tamper, then fail
        raise
    plugin.students[problem.id] = module
    plugin.tampering[problem.id] = module.tampering
    yield module
    failed = [name for (pid, name), o in plugin.outcomes.items()
              if pid == problem.id and o.status not in ("passed", "skipped")]
    if failed:
        reference_module = _reference_of(plugin, problem)
        module.start_property(DIAGNOSIS_BUDGET_S)
        # What each failure was (status, the calls of its minimal example), so that a structural one
        # (None, a wrong shape, an exception, a timeout) names no mistake.
        failures = [PropertyFailure(name, plugin.outcomes[(problem.id, name)].status,
                                    plugin.outcomes[(problem.id, name)].message,
                                    tuple(getattr(plugin.recorders.get((problem.id, name)), "calls", ())),
                                    (problem.id, name) in plugin.hidden) for name in failed]
        try:
            plugin.diagnoses[problem.id] = diagnose(problem, module, failures, reference=reference_module)
        except Exception as error:  # noqa: BLE001 - a faulty catalogue must not cost the student points
            plugin.diagnoses[problem.id] = Diagnosis([], f"diagnosis unavailable ({type(error).__name__}: {error})")
        visible = [name for name in failed if (problem.id, name) not in plugin.hidden]
        if visible:
            module.start_property(FEEDBACK_BUDGET_S)
            _feedback(plugin, problem, module, reference_module, visible, request.module)
    module.close()


def _feedback(plugin: GradingPlugin, problem: Problem, module, reference_module, failed: list[str], spec) -> None:
    """Pictures of the failures (only those of visible properties): a slice through each
    counterexample against the reference, and the figures the problem's spec draws itself."""
    if reference_module is not None:
        for name in failed:
            record, outcome = plugin.failed_calls.get((problem.id, name)), plugin.outcomes.get((problem.id, name))
            if record is None or outcome is None or outcome.counterexample is None:
                continue
            try:
                outcome.counterexample["slice"] = slice_through(record, module, reference_module)
            except WorkerLost:
                break
            except Exception:  # noqa: BLE001 - a picture is a bonus: never a reason to fail grading
                continue
    hook = getattr(spec, "feedback_figures", None)
    if callable(hook):
        try:
            plugin.figures[problem.id] = valid_figures(hook(module, reference_module))
        except (WorkerLost, StudentError):
            pass  # the student's code failed while drawing: the properties already say so
        except Exception as error:  # noqa: BLE001 - a bank bug: report it, do not cost points
            plugin.figures[problem.id] = []
            plugin.figure_errors[problem.id] = f"{type(error).__name__}: {error}"


def _reference_of(plugin: GradingPlugin, problem: Problem):
    """The problem's reference module (imported once per run), or None where it is not installed."""
    if problem.module not in plugin.references:
        path = None if plugin.reference_dir is None else plugin.reference_dir / f"{problem.module}.py"
        if path is None or not path.is_file():
            return None
        spec = importlib.util.spec_from_file_location(f"_grader_reference_{problem.module}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        plugin.references[problem.module] = ReferenceModule(module)
    return plugin.references[problem.module]


@pytest.fixture(scope="module")
def reference(request):
    plugin = _plugin(request)
    problem = plugin.by_spec[str(Path(request.module.__file__).resolve())]
    found = _reference_of(plugin, problem)
    if found is None:
        pytest.skip("needs the reference solution, which is not installed here")
    return found


@pytest.fixture(scope="module")
def device(request):
    return _plugin(request).device_name


@pytest.fixture
def rng(request):
    plugin = _plugin(request)
    problem = plugin.problem_of(request.node)
    return np.random.default_rng(plugin.key.seed_for(problem.id, request.node.name, "rng"))


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
