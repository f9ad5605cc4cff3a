"""Harness code that runs inside the worker, next to the student's code.

Some things cannot cross the boundary as data: a callable the student must receive (a velocity
field, a score function, a log-density), a ``torch.Generator``, an ``nn.Module`` the grader must
probe, or a gradient. The grader names them in a request; this module builds or evaluates them in the
worker from a fixed, public library and sends back only numbers, which the grader cross-checks.

Everything here is public: students may read it. It is imported by the zygote (before any fork), so it
imports only torch, numpy, the protocol module and the tamper monitor's.

What the harness calls on the grader's behalf (autograd, the tensor conversions, generators) is bound
below when the zygote imports this module, before any student code exists: a submission that rebinds
``torch.autograd.grad`` or ``torch.Tensor.detach`` afterwards changes nothing the harness calls, and
the monitor (:mod:`grader.tamper`) reports the rebinding.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch

from grader import tamper
from grader.protocol import ProtocolError

_audit = sys.audit
_EVENT = tamper.EVENT
_autograd_grad = torch.autograd.grad
_enable_grad, _no_grad = torch.enable_grad, torch.no_grad
# Inside it, no __torch_function__ of a tensor subclass (or mode) of the student's runs: the harness's
# own autograd call and checks cannot be intercepted.
_no_torch_function = torch._C.DisableTorchFunction
_Tensor, _Module, _Generator = torch.Tensor, torch.nn.Module, torch.Generator
_from_numpy, _ones_like, _randn, _float64_dtype = torch.from_numpy, torch.ones_like, torch.randn, torch.float64
_detach, _clone, _to, _cpu, _numpy = torch.Tensor.detach, torch.Tensor.clone, torch.Tensor.to, torch.Tensor.cpu, \
    torch.Tensor.numpy
_requires_grad_, _is_floating_point, _is_complex = torch.Tensor.requires_grad_, torch.Tensor.is_floating_point, \
    torch.Tensor.is_complex
_requires_grad = torch._C.TensorBase.requires_grad.__get__
_np_array, _ndarray = np.array, np.ndarray


class HarnessError(Exception):
    """A request the harness cannot satisfy (unknown callable, bad parameters)."""


# --- the public library of callables ------------------------------------------------------------
# Each factory takes its parameters (tensors on the grading device, or Python numbers) and returns a
# function of tensors. Factories are named, so a spec says which one the student receives and the
# grader knows its exact answers (flows of linear fields, scores of Gaussians...).
#
# Dtypes and devices: a callable accepts its point x in any dtype and on any device. It computes in
# float64 on x's device (its parameters are moved there once, in float64) and returns its answer in
# x's dtype when x is floating point (float16, bfloat16, float32, float64), in float64 otherwise. So
# a float32 student gets the float64 answer rounded once to float32, whatever the grading device,
# and autograd flows through both casts.


class _Parameters:
    """A callable's parameters in float64, copied once to each device an argument arrives on."""

    def __init__(self, **params):
        self._given = params
        self._by_device: dict[torch.device, dict[str, torch.Tensor]] = {}

    def on(self, device: torch.device) -> dict[str, torch.Tensor]:
        found = self._by_device.get(device)
        if found is None:
            found = self._by_device[device] = {
                name: _float64(value).to(device) for name, value in self._given.items()}
        return found


def _float64(value) -> torch.Tensor:
    """A tensor or a number (a Python float parses straight to float64, never through float32)."""
    if isinstance(value, torch.Tensor):
        return value.to(torch.float64)
    return torch.as_tensor(value, dtype=torch.float64)


def _point(x, params: _Parameters):
    """(x in float64, the parameters on x's device, the dtype of the answer) for an argument x."""
    if not isinstance(x, torch.Tensor):
        x = _float64(x)
    answer_dtype = x.dtype if x.is_floating_point() else torch.float64
    return x.to(torch.float64), params.on(x.device), answer_dtype


def _other(value, like: torch.Tensor):
    """A second argument (a time t: a Python number or a tensor) in float64 on ``like``'s device."""
    return _float64(value).to(like.device)


def _linear_field(A, b):
    """v(x, t) = x A^T + b: a linear velocity field whose flow is a matrix exponential."""
    params = _Parameters(A=A, b=b)

    def velocity(x, t):
        x, p, dtype = _point(x, params)
        return (x @ p["A"].transpose(-1, -2) + p["b"]).to(dtype)

    return velocity


def _time_linear_field(a, c):
    """v(x, t) = a x + c t: a time-dependent scalar-rate field with a closed-form flow."""
    params = _Parameters(a=a, c=c)

    def velocity(x, t):
        x, p, dtype = _point(x, params)
        return (p["a"] * x + p["c"] * _other(t, x)).to(dtype)

    return velocity


def _gaussian_score(mean, var):
    """s(x) = -(x - mean) / var: the score of N(mean, var I)."""
    params = _Parameters(mean=mean, var=var)

    def score(x):
        x, p, dtype = _point(x, params)
        return (-(x - p["mean"]) / p["var"]).to(dtype)

    return score


def _gaussian_log_prob(mean, var):
    """log N(x; mean, var I), summed over the last dimension: maps (..., d) to (...)."""
    params = _Parameters(mean=mean, var=var)

    def log_prob(x):
        x, p, dtype = _point(x, params)
        d = x.shape[-1]
        return (-0.5 * (((x - p["mean"]) ** 2).sum(-1) / p["var"] + d * torch.log(2 * math.pi * p["var"]))).to(dtype)

    return log_prob


def _mixture_log_components(x, weights, means, variances):
    """log w_j + log N(x; means_j, variances_j I) for each component j: (..., d) -> (..., k)."""
    d = x.shape[-1]
    squared = ((x.unsqueeze(-2) - means) ** 2).sum(-1)
    return torch.log(weights) - 0.5 * (squared / variances + d * torch.log(2 * math.pi * variances))


def _gaussian_mixture_log_prob(weights, means, variances):
    """log sum_j weights_j N(x; means_j, variances_j I) for weights (k,), means (k, d), variances (k,):
    maps (..., d) to (...), computed with a log-sum-exp (finite far from every mean)."""
    params = _Parameters(weights=weights, means=means, variances=variances)

    def log_prob(x):
        x, p, dtype = _point(x, params)
        return torch.logsumexp(_mixture_log_components(x, p["weights"], p["means"], p["variances"]), dim=-1).to(dtype)

    return log_prob


def _gaussian_mixture_score(weights, means, variances):
    """grad_x log sum_j weights_j N(x; means_j, variances_j I) = sum_j r_j(x) (means_j - x) / variances_j, with
    r(x) the posterior over components (a softmax, finite far from every mean): maps (..., d) to (..., d)."""
    params = _Parameters(weights=weights, means=means, variances=variances)

    def score(x):
        x, p, dtype = _point(x, params)
        responsibilities = torch.softmax(_mixture_log_components(x, p["weights"], p["means"], p["variances"]), dim=-1)
        pulls = (p["means"] - x.unsqueeze(-2)) / p["variances"].unsqueeze(-1)
        return (responsibilities.unsqueeze(-1) * pulls).sum(-2).to(dtype)

    return score


CALLABLES = {
    "linear_field": _linear_field,
    "time_linear_field": _time_linear_field,
    "gaussian_score": _gaussian_score,
    "gaussian_log_prob": _gaussian_log_prob,
    "gaussian_mixture_log_prob": _gaussian_mixture_log_prob,
    "gaussian_mixture_score": _gaussian_mixture_score,
}


class CountingCallable:
    """Wraps a library callable, counting its evaluations so the grader can check how often it was called.

    In a worker the count the grader gets is the monitor's (:mod:`grader.tamper`): each evaluation
    reports itself from this ``__call__``, the only code whose report the monitor accepts, and the
    monitor keeps the tally where no name reaches it. No assignment, reset or replacement of an
    attribute here lowers or raises it. The callable's own count serves where no monitor runs (the
    reference, in the grader process) and as a cross-check.
    """

    __slots__ = ("name", "function", "_calls")

    def __init__(self, name, function):
        self.name, self.function, self._calls = name, function, 0

    def __call__(self, *args, **kwargs):
        self._calls += 1
        _audit(_EVENT, "evaluated", self)
        return self.function(*args, **kwargs)

    @property
    def calls(self) -> int:
        return self._calls

    @calls.setter
    def calls(self, value):
        _audit(_EVENT, "finding", "tried to set the evaluation count of a harness callable")
        raise AttributeError("the evaluation count of a harness callable cannot be set")

    @calls.deleter
    def calls(self):
        _audit(_EVENT, "finding", "tried to delete the evaluation count of a harness callable")
        raise AttributeError("the evaluation count of a harness callable cannot be deleted")

    def __repr__(self):
        return f"<harness callable {self.name}>"


# --- converting values in the worker --------------------------------------------------------------


class Harness:
    """The worker's state: the device, constructed objects, and the callables of the current call."""

    def __init__(self, device: str):
        self.device = torch.device(device)
        self.handles: dict[int, object] = {}
        self.callables: list[CountingCallable] = []

    # grader -> student: arrays become tensors on the grading device; special nodes are resolved.
    def to_student(self, value):
        if isinstance(value, _ndarray):
            return _to(_from_numpy(_np_array(value)), self.device)
        if isinstance(value, tuple):
            return tuple(self.to_student(v) for v in value)
        if isinstance(value, dict):
            kind = value.get("__harness__")
            if kind is not None:
                return self.resolve(kind, value)
            return {k: self.to_student(v) for k, v in value.items()}
        return value

    def resolve(self, kind, spec):
        if kind == "callable":
            factory = CALLABLES.get(spec.get("name"))
            if factory is None:
                raise HarnessError(f"unknown harness callable {spec.get('name')!r}")
            params = {k: self.to_student(v) for k, v in spec.get("params", {}).items()}
            wrapped = CountingCallable(spec["name"], factory(**params))
            self.callables.append(wrapped)
            return wrapped
        if kind == "generator":
            seed = spec.get("seed")
            if type(seed) is not int:
                raise HarnessError("a generator needs an integer seed")
            generator = _Generator(device=self.device)
            generator.manual_seed(seed)
            return generator
        if kind == "handle":
            handle = spec.get("id")
            if handle not in self.handles:
                raise HarnessError(f"no object with handle {handle!r}")
            return self.handles[handle]
        raise HarnessError(f"unknown harness value {kind!r}")

    # student -> grader: tensors become numpy arrays (on the CPU) of a whitelisted dtype.
    @staticmethod
    def to_plain(value):
        if isinstance(value, _Tensor):
            tensor = _detach(value)
            if _is_complex(tensor):
                raise ProtocolError("complex tensors cannot be graded")
            if tensor.dtype == torch.bfloat16:
                tensor = _to(tensor, torch.float32)
            return _numpy(_cpu(tensor)).copy()
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            raise ProtocolError("object arrays cannot be graded")
        if isinstance(value, np.generic) and not isinstance(value, (np.bool_, np.integer, np.floating)):
            raise ProtocolError(f"values of type {type(value).__name__} cannot be graded")
        if isinstance(value, np.generic):
            return np.asarray(value)
        return value

    def callable_calls(self) -> list[int]:
        """How often each callable of the current call was evaluated: the monitor's count in a worker
        (see :class:`CountingCallable`), the callables' own where no monitor runs."""
        own = [c._calls for c in self.callables]
        kept = [None]
        _audit(_EVENT, "counts", tuple(self.callables), kept)
        if kept[0] is None:
            return own
        if kept[0] != own:
            _audit(_EVENT, "finding", "changed the evaluation count of a harness callable")
        return kept[0]

    # objects living in the worker
    def store(self, obj) -> int:
        handle = len(self.handles) + 1
        self.handles[handle] = obj
        return handle

    def redraw_parameters(self, handle: int, seed: int, std: float) -> int:
        """Re-draw every registered parameter of a module from N(0, std^2); returns how many."""
        module = self.handles.get(handle)
        if not isinstance(module, _Module):
            raise HarnessError("redraw_parameters needs a torch.nn.Module handle")
        generator = _Generator().manual_seed(seed)
        count = 0
        with _no_grad():
            for parameter in module.parameters():
                fresh = _randn(parameter.shape, generator=generator, dtype=_float64_dtype) * std
                parameter.copy_(fresh.to(parameter.device, parameter.dtype))
                count += parameter.numel()
        if count == 0:
            raise HarnessError("the module has no registered parameters to re-draw")
        return count

    def gradients(self, args, kwargs, call, wrt, output_index, cotangent):
        """Evaluate ``call`` with gradients enabled on the ``wrt`` inputs; return (output, grads).

        ``wrt`` lists positional indices (ints) or keyword names (strs); the output selected by
        ``output_index`` is contracted with ``cotangent`` (ones when None) before differentiating.
        """
        args = list(args)
        inputs = []
        for key in wrt:
            container, slot = (args, key) if isinstance(key, int) else (kwargs, key)
            try:
                tensor = container[slot]
            except (IndexError, KeyError):
                raise HarnessError(f"no argument {key!r} to differentiate with respect to") from None
            if not isinstance(tensor, _Tensor) or not _is_floating_point(tensor):
                raise HarnessError(f"argument {key!r} is not a floating-point tensor")
            tensor = _requires_grad_(_clone(_detach(tensor)), True)
            container[slot] = tensor
            inputs.append(tensor)
        with _enable_grad():
            output = call(*args, **kwargs)
            selected = output[output_index] if output_index is not None else output
            with _no_torch_function():
                if not isinstance(selected, _Tensor) or not _requires_grad(selected):
                    raise NotDifferentiable(
                        "the returned value is not connected to the inputs' autograd graph "
                        "(was it detached, converted to numpy or to a Python float?)"
                    )
                weight = _ones_like(selected) if cotangent is None else _to(cotangent, selected.dtype)
                grads = _autograd_grad(selected, inputs, grad_outputs=weight, allow_unused=True)
        return output, tuple(None if g is None else g for g in grads)


class NotDifferentiable(Exception):
    """The student's output cannot be differentiated with respect to its inputs."""
