"""The objects a spec calls: the student's module (through a worker) and the reference (in-process).

Both expose the same interface: ``module.some_function(*args)`` returns plain numpy data (float64,
int64 or bool arrays, tuples of them, or None), whatever the implementation returned. Specs never
see a tensor, a student object, or anything that could override ``==``.
"""

from __future__ import annotations

import time

import numpy as np

from grader.sandbox import Limits, Worker, WorkerLost, Zygote, cpu_text, idle_or_starved


class StudentError(Exception):
    """The student's code raised, or returned something that cannot be graded."""


class Unavailable(Exception):
    """The problem's module or function could not be loaded from the submission."""


def plain(value):
    """Convert a decoded reply to the grader's canonical form: float64/int64/bool arrays."""
    if isinstance(value, np.ndarray):
        if value.dtype == np.bool_:
            return value.astype(np.bool_)
        if value.dtype.kind in "iu":
            if value.dtype == np.uint64 and value.size and value.max() > np.iinfo(np.int64).max:
                raise StudentError("returned unsigned integers too large for int64")
            return value.astype(np.int64)
        return value.astype(np.float64)
    if isinstance(value, bool):
        return np.asarray(value)
    if isinstance(value, (int, float)):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if value is None:
        return None
    raise StudentError(f"returned a value of type {type(value).__name__}, expected a tensor, array or number")


def _to_wire(value):
    """Spec-side arguments: torch tensors become numpy arrays; everything else is already plain."""
    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    if isinstance(value, np.generic):
        # numpy scalars (what arithmetic on 0-d arrays returns) are array data: they arrive as 0-d
        # tensors. Only Python numbers arrive as Python numbers (hyper-parameters such as sigma).
        return np.asarray(value)
    if isinstance(value, (list, tuple)):
        return tuple(_to_wire(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


class Budget:
    """A property's or a problem's time: CPU seconds summed over the calls the worker served in it
    (the grader's own work between calls is not the student's), and a wall-clock backstop
    ``factor`` times longer, counted from its start, for calls that sleep instead of computing."""

    def __init__(self, what: str, cpu_s: float, factor: float):
        self.what, self.cpu_s, self.backstop_s = what, cpu_s, cpu_s * factor
        self.wall_deadline = time.monotonic() + self.backstop_s
        self.used_s = 0.0

    def left(self) -> tuple[float, float]:
        """(CPU seconds, wall-clock seconds) left for the next call; WorkerLost if either is spent."""
        wall_left = self.wall_deadline - time.monotonic()
        if self.used_s >= self.cpu_s:
            raise WorkerLost("timeout", f"the {self.what} used up its CPU budget of {self.cpu_s:g} s "
                                        f"(its calls used {cpu_text(self.used_s)} s of CPU)")
        if wall_left <= 0:
            raise WorkerLost("timeout", f"the {self.what} ran past its wall-clock backstop of {self.backstop_s:g} s "
                                        f"({self._idle_or_starved()})")
        return self.cpu_s - self.used_s, wall_left

    def ended_call(self, why: str) -> str:
        """The report's words for a call this budget cut short (``why``: "cpu" or "wall")."""
        if why == "cpu":
            return (f"the {self.what}'s CPU budget of {self.cpu_s:g} s ran out during the call (its calls used "
                    f"{cpu_text(self.used_s)} s of CPU); the worker was killed")
        return (f"the {self.what}'s wall-clock backstop of {self.backstop_s:g} s ended the call "
                f"({self._idle_or_starved()}); the worker was killed")

    def _idle_or_starved(self) -> str:
        return idle_or_starved(self.used_s, self.backstop_s, who="its calls", was="were they")


class StudentModule:
    """The submission's module, living in a worker. Attribute access gives a remote function."""

    # What runs the module: a forked, confined worker. grader.inprocess swaps in an in-process stand-in
    # for trusted code only (the protocol-overhead benchmark); grading never does.
    worker_class = Worker

    def __init__(self, zygote: Zygote, submission: str, module: str, attributes: list[str],
                 device: str, limits: Limits, scratch: str | None = None):
        self._zygote, self._submission, self._module = zygote, submission, module
        self._attributes, self._device, self._limits, self._scratch = attributes, device, limits, scratch
        self._worker: Worker | None = None
        self._property_budget: Budget | None = None
        self._problem_budget: Budget | None = None
        self.outputs: list[str] = []
        self.last_meta: dict = {}
        self.tampering: list = []  # grader.tamper.Finding, from every worker this module had

    def __repr__(self) -> str:  # shown in Hypothesis' failing test case: stable across runs
        return f"<student's {self._module}.py>"

    # --- worker lifecycle -------------------------------------------------------------------

    def load(self) -> None:
        """Fork a worker and import the module; raise :class:`Unavailable` with the reason."""
        self.close()
        if self._problem_budget is None:
            self._problem_budget = Budget("problem", self._limits.problem_budget_s, self._limits.wall_backstop_factor)
        self._worker = self.worker_class(self._zygote, self._submission, self._device, self._limits,
                                         self._scratch)
        try:
            # The load has its own CPU budget and backstop; what it uses still counts in the problem's.
            reply = self._worker.request("load", {"module": self._module, "attributes": self._attributes},
                                         timeout=self._limits.load_timeout_s)
        except WorkerLost as lost:
            self._charge(self._worker)
            self.close()
            raise Unavailable(f"importing {self._module}.py failed: {lost.detail}") from None
        self._charge(self._worker)
        if not reply.meta.get("ok"):
            self.close()
            meta = reply.meta
            if meta.get("kind") == "import_error":
                raise Unavailable(f"importing {self._module}.py raised {meta.get('type')}: {meta.get('message')}")
            raise Unavailable(str(meta.get("message")))

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            output = self._worker.captured_output()
            if output:
                self.outputs.append(output)
            # The in-process stand-in (grader.inprocess, trusted code only) has no monitor.
            findings = self._worker.tampering() if hasattr(self._worker, "tampering") else []
            self.tampering += [found for found in findings if found not in self.tampering]
            self._worker = None

    def start_property(self, budget_s: float | None) -> None:
        """Give the next calls a property's budget of ``budget_s`` CPU seconds (None: no property's)."""
        self._property_budget = None if budget_s is None else Budget("property", budget_s,
                                                                     self._limits.wall_backstop_factor)

    def _budgets(self) -> list["Budget"]:
        return [b for b in (self._property_budget, self._problem_budget) if b is not None]

    def _charge(self, worker) -> None:
        spent = getattr(worker, "call_cpu_s", 0.0)  # an in-process stand-in (trusted code) measures nothing
        for budget in self._budgets():
            budget.used_s += spent

    def _live_worker(self) -> Worker:
        if self._worker is None or not self._worker.alive:
            try:
                self.load()
            except Unavailable as error:
                raise WorkerLost("crash", f"a fresh worker could not load the module: {error}") from None
        return self._worker

    def _request(self, op: str, request: dict):
        limits = self._limits
        # The call gets the tightest of its own limits and what its property and problem have left
        # (a spent budget raises before a fresh worker is forked); whichever binds is the one a
        # cut-short call is reported against.
        cpu_s, cpu_owner = limits.call_timeout_s, None
        wall_s, wall_owner = limits.call_timeout_s * limits.wall_backstop_factor, None
        for budget in self._budgets():
            cpu_left, wall_left = budget.left()
            if cpu_left < cpu_s:
                cpu_s, cpu_owner = cpu_left, budget
            if wall_left < wall_s:
                wall_s, wall_owner = wall_left, budget
        worker = self._live_worker()
        try:
            reply = worker.request(op, request, timeout=cpu_s, backstop=wall_s)
        except WorkerLost:
            self._charge(worker)
            owner = {"cpu": cpu_owner, "wall": wall_owner}.get(getattr(worker, "call_ended_by", None))
            if owner is None:
                raise
            raise WorkerLost("timeout", owner.ended_call(worker.call_ended_by)) from None
        self._charge(worker)
        self.last_meta = reply.meta
        if not reply.meta.get("ok"):
            raise StudentError(_describe_failure(request.get("name", op), reply.meta))
        return reply

    # --- calls ------------------------------------------------------------------------------

    def call(self, name: str, *args, **kwargs):
        reply = self._request("call", {"name": name, "args": _to_wire(args), "kwargs": _to_wire(kwargs)})
        return _plain_result(name, reply.value)

    def grad(self, name: str, *args, wrt, output=None, cotangent=None, **kwargs):
        """Call ``name`` and differentiate it in the worker: returns ``(value, grads)``.

        ``wrt`` lists positional indices or keyword names; the output (or ``output``-th element of a
        tuple output) is contracted with ``cotangent`` (ones by default). A gradient the student's
        graph does not provide comes back as None.
        """
        grad = {"wrt": list(wrt), "output": output,
                "cotangent": None if cotangent is None else _to_wire(cotangent)}
        reply = self._request("call", {"name": name, "args": _to_wire(args), "kwargs": _to_wire(kwargs),
                                       "grad": grad})
        value, grads = reply.value
        return _plain_result(name, value), tuple(None if g is None else plain(g) for g in grads)

    def construct(self, name: str, *args, **kwargs) -> "ObjectHandle":
        reply = self._request("construct", {"name": name, "args": _to_wire(args), "kwargs": _to_wire(kwargs)})
        return ObjectHandle(self, int(reply.meta["handle"]), name)

    def callable_calls(self) -> list[int]:
        """How many times each harness callable of the last call was evaluated by the student."""
        return list(self.last_meta.get("callable_calls", []))

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)


class ObjectHandle:
    """An object (e.g. an ``nn.Module``) that lives in the worker; methods are called remotely."""

    def __init__(self, module: StudentModule, handle: int, name: str):
        self._module, self._handle, self._name = module, handle, name

    def call(self, method: str, *args, **kwargs):
        reply = self._module._request("call", {"handle": self._handle, "name": method,
                                               "args": _to_wire(args), "kwargs": _to_wire(kwargs)})
        return _plain_result(f"{self._name}.{method}", reply.value)

    def redraw_parameters(self, seed: int, std: float = 0.5) -> int:
        reply = self._module._request("redraw", {"handle": self._handle, "seed": int(seed), "std": float(std)})
        return int(reply.meta["count"])

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)


class ReferenceModule:
    """The reference solution, imported in the grader process; same interface as the student's."""

    def __init__(self, module):
        self._module = module

    def __repr__(self) -> str:
        name = getattr(self._module, "__name__", "module")
        return f"<reference {name.removeprefix('_grader_reference_')}.py>"

    def call(self, name: str, *args, **kwargs):
        return call_in_process(getattr(self._module, name), args, kwargs)

    def construct(self, name: str, *args, **kwargs) -> "InProcessHandle":
        """Instantiate a class as a worker does (an ``nn.Module`` moved to float64, here on the CPU)."""
        import torch

        from grader.harness import Harness

        harness = Harness("cpu")
        obj = getattr(self._module, name)(*harness.to_student(_to_wire(tuple(args))),
                                          **harness.to_student(_to_wire(dict(kwargs))))
        if isinstance(obj, torch.nn.Module):
            obj = obj.to(harness.device, torch.float64)
        return InProcessHandle(harness, harness.store(obj), name)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)


class InProcessHandle:
    """An object of trusted code (the reference, a catalogued mistake) with :class:`ObjectHandle`'s
    interface: the same conversions, and the same parameter re-draw, as in a worker."""

    def __init__(self, harness, handle: int, name: str):
        self._harness, self._handle, self._name = harness, handle, name

    def call(self, method: str, *args, **kwargs):
        return call_in_process(getattr(self._harness.handles[self._handle], method), args, kwargs)

    def redraw_parameters(self, seed: int, std: float = 0.5) -> int:
        return self._harness.redraw_parameters(self._handle, int(seed), float(std))

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)


def call_in_process(function, args, kwargs):
    """Call trusted code (the reference, a catalogued mistake) in the grader the way a worker calls
    a student's: the same conversions and harness values, on the CPU, plain answers back."""
    from grader.harness import Harness

    harness = Harness("cpu")
    result = function(*harness.to_student(_to_wire(tuple(args))), **harness.to_student(_to_wire(dict(kwargs))))
    return plain(_map_plain(harness.to_plain, result))


def _map_plain(convert, value):
    value = convert(value)
    if isinstance(value, (tuple, list)):
        return tuple(_map_plain(convert, v) for v in value)
    return value


def _plain_result(name: str, value):
    try:
        return plain(value)
    except StudentError as error:
        raise StudentError(f"{name} {error}") from None


def _describe_failure(name: str, meta: dict) -> str:
    kind = meta.get("kind")
    if kind == "exception":
        text = f"{name} raised {meta.get('type')}: {meta.get('message')}"
        if meta.get("traceback"):
            text += "\n" + meta["traceback"].rstrip()
        return text
    if kind == "bad_value":
        return f"{name} returned a value that cannot be graded: {meta.get('message')}"
    if kind == "not_differentiable":
        return f"{name}: {meta.get('message')}"
    return f"{name}: {meta.get('message')}"
