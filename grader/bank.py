"""The problem bank: one folder per student module, one sub-folder per problem.

    problems/<module>/<name>/problem.toml   metadata (id, title, points, statement, source, ...)
    problems/<module>/<name>/spec.py        the properties (pytest + Hypothesis, see grader.spec)
    problems/<module>/<name>/mistakes.py    the catalogue of known mistakes (see :func:`mistake`)

Adding a problem is adding a folder; the engine knows nothing about any particular problem.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from grader.sandbox import Limits

REPO_ROOT = Path(__file__).resolve().parent.parent
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
_LIMIT_FIELDS = {"call_timeout_s", "load_timeout_s", "memory_bytes", "cpu_seconds", "property_budget_s",
                 "problem_budget_s", "output_bytes", "allow_subprocesses"}


class BankError(Exception):
    """The bank itself is malformed (a problem folder without metadata, a bad id...)."""


@dataclass(frozen=True)
class Mistake:
    """A known wrong implementation of a problem's function, with what to tell a student."""

    id: str
    title: str
    explanation: str
    hint: str
    implementation: object = field(repr=False, compare=False)
    named_by: str | None = None
    defined_at: tuple = field(default=(), repr=False, compare=False)  # (file, line) where it was registered

    def source(self) -> str:
        """The implementation's source without its decorator: a drop-in replacement function (or class,
        for a problem whose student defines a class)."""
        if inspect.isclass(self.implementation) and self.defined_at:
            # inspect finds a class by name: the first of several same-named mistakes. Use its own lines.
            text = _class_source(*self.defined_at)
        else:
            text = inspect.getsource(self.implementation)
        lines = textwrap.dedent(text).splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(("def ", "class ")))
        return "\n".join(lines[start:]) + "\n"


def _class_source(path: str, line: int) -> str:
    """The source of the top-level class whose definition (decorators included) spans ``line`` of ``path``."""
    import ast

    text = Path(path).read_text()
    for node in ast.parse(text).body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if isinstance(node, ast.ClassDef) and first <= line <= node.end_lineno:
            return "\n".join(text.splitlines()[first - 1:node.end_lineno]) + "\n"
    raise BankError(f"{path}: no class definition around line {line}")


_registry: list[Mistake] = []


@dataclass(frozen=True)
class Probe:
    """A designed input on which the catalogued mistakes and the reference all give different
    answers, so that the student's answer there names the mistake (diagnosis)."""

    args: tuple
    kwargs: tuple = ()
    function: str | None = None  # defaults to the problem's name
    scenario: object = field(default=None, compare=False)  # see probe_scenario

    def call_kwargs(self) -> dict:
        return dict(self.kwargs)


def probe(*args, function: str | None = None, **kwargs) -> Probe:
    """A probe input for ``mistakes.py``'s ``PROBES`` list: the arguments of one call (numpy arrays
    for array arguments, Python numbers for hyper-parameters)."""
    return Probe(args=args, kwargs=tuple(sorted(kwargs.items())), function=function)


def probe_scenario(run) -> Probe:
    """A probe that is a short script rather than one call, for answers no single call gives (a class
    to construct, parameters to re-draw, methods to call, derived quantities to compare).

    ``run(module)`` receives the student's module (calls go to the worker) or an in-process module
    whose attribute named for the problem is a catalogued mistake (or the reference); both offer
    ``module.f(...)``, ``module.construct(name, ...)`` and the handle's ``redraw_parameters(seed, std)``.
    It returns plain numbers (numpy arrays or tuples of them), compared like a call's answers. Since a
    student's network need not be the reference's, return quantities that do not depend on the
    architecture (a ratio to a finite-difference Jacobian, whether a round trip closes).
    """
    return Probe(args=(), scenario=run)


def mistake(id: str, *, title: str, explanation: str, hint: str, named_by: str | None = None):
    """Register the decorated function as a catalogued mistake of the problem being loaded.

    The function has the problem's exact name and signature, so that it can be dropped into a
    submission (the meta-tests do this) or evaluated on probe inputs (diagnosis). For a problem whose
    student defines a class, the mistake is a class of that name, probed by ``probe_scenario``s; it
    must be self-contained (only ``torch`` and ``math``), since its source alone is dropped in.

    ``named_by``: for a mistake no probe can reproduce (randomness not drawn from the generator
    given), the property designed to detect exactly it; the diagnosis names the mistake when that
    property fails for a value reason (a structural failure — None, an exception, a wrong shape, a
    timeout — names no mistake), no probe-matched mistake explains the answers, and the student's probe
    answers have the mistake's own structure.
    """

    def register(function):
        caller = sys._getframe(1)  # the mistakes module, applying the decorator
        _registry.append(Mistake(id=id, title=title, explanation=explanation, hint=hint,
                                 implementation=function, named_by=named_by,
                                 defined_at=(caller.f_code.co_filename, caller.f_lineno)))
        return function

    return register


@dataclass(frozen=True)
class Problem:
    id: str
    title: str
    points: float
    statement: str
    source: str
    folder: Path
    attributes: tuple[str, ...]
    order: int = 0
    limit_overrides: tuple = ()
    property_budget_s: float = 60.0

    @property
    def module(self) -> str:
        return self.id.split(".")[0]

    @property
    def name(self) -> str:
        return self.id.split(".")[1]

    @property
    def spec_path(self) -> Path:
        return self.folder / "spec.py"

    @property
    def mistakes_path(self) -> Path:
        return self.folder / "mistakes.py"

    def limits(self, base: Limits) -> Limits:
        overrides = dict(self.limit_overrides)
        overrides.pop("property_budget_s", None)
        return replace(base, **overrides)

    def mistakes(self) -> list[Mistake]:
        return self._catalogue()[0]

    def probes(self) -> list[Probe]:
        """The designed inputs of ``mistakes.py``'s ``PROBES`` list (empty when there is none)."""
        return self._catalogue()[1]

    def _catalogue(self) -> tuple[list[Mistake], list[Probe]]:
        if not self.mistakes_path.exists():
            return [], []
        del _registry[:]
        module_name = f"_grader_mistakes_{self.module}_{self.name}"
        spec = importlib.util.spec_from_file_location(module_name, self.mistakes_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # inspect finds a class's source through its module
        spec.loader.exec_module(module)
        found = list(_registry)
        del _registry[:]
        probes = list(getattr(module, "PROBES", []))
        if not all(isinstance(p, Probe) for p in probes):
            raise BankError(f"{self.mistakes_path}: PROBES must hold grader.bank.probe(...) values")
        return found, probes


def default_bank_dir() -> Path:
    return Path(os.environ.get("GRADE_BANK") or REPO_ROOT / "problems")


def default_reference_dir() -> Path:
    return Path(os.environ.get("GRADE_REFERENCE") or REPO_ROOT / "reference")


def load_problem(folder: Path) -> Problem:
    meta_path = folder / "problem.toml"
    try:
        meta = tomllib.loads(meta_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BankError(f"{meta_path}: {error}") from None
    missing = {"id", "title", "points", "statement", "source"} - meta.keys()
    if missing:
        raise BankError(f"{meta_path}: missing {', '.join(sorted(missing))}")
    problem_id = meta["id"]
    if not _ID.match(problem_id) or problem_id != f"{folder.parent.name}.{folder.name}":
        raise BankError(f"{meta_path}: id {problem_id!r} must be '<module>.<name>' matching the folder")
    limits = meta.get("limits", {})
    unknown = set(limits) - _LIMIT_FIELDS
    if unknown:
        raise BankError(f"{meta_path}: unknown limits {', '.join(sorted(unknown))}")
    if not (folder / "spec.py").exists():
        raise BankError(f"{folder}: no spec.py")
    name = problem_id.split(".")[1]
    return Problem(
        id=problem_id, title=meta["title"], points=float(meta["points"]), statement=meta["statement"].strip(),
        source=meta["source"], folder=folder, attributes=tuple(meta.get("attributes", [name])),
        order=int(meta.get("order", 0)), limit_overrides=tuple(sorted(limits.items())),
        property_budget_s=float(limits.get("property_budget_s", 60.0)),
    )


def load_bank(bank_dir: Path | None = None) -> list[Problem]:
    bank_dir = Path(bank_dir or default_bank_dir())
    if not bank_dir.is_dir():
        raise BankError(f"problem bank not found at {bank_dir} (set GRADE_BANK)")
    problems = [load_problem(meta.parent) for meta in sorted(bank_dir.glob("*/*/problem.toml"))]
    return sorted(problems, key=lambda p: (p.module, p.order, p.name))


def select(problems: list[Problem], ids: list[str] | None) -> list[Problem]:
    """Problems by id (``module.name``) or whole modules (``module``), in bank order."""
    if not ids:
        return problems
    known = {p.id for p in problems} | {p.module for p in problems}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BankError(f"unknown problem {unknown[0]!r} (see `grade list`)")
    wanted = set(ids)
    return [p for p in problems if p.id in wanted or p.module in wanted]
