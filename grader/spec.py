"""What a problem's ``spec.py`` imports: the property decorator, assertion helpers, harness values.

A property is a plain pytest test driven by Hypothesis, named for what it asserts, whose docstring's
first line is what the student reads::

    @prop(points=3)
    @given(mu=finite_floats(), sigma=positive_floats())
    def kl_is_nonnegative(student, mu, sigma):
        \"\"\"KL(q || p) is never negative.\"\"\"
        kl = student.kl_normal(mu, sigma, 0.0, 1.0)
        assert_all(kl >= 0, "KL must be >= 0", kl=kl, call=f"kl_normal({mu}, {sigma}, 0, 1)")

Fixtures a property may ask for: ``student`` (the submission's module, called through the worker;
every result comes back as plain float64/int64/bool numpy arrays), ``reference`` (the reference
solution, same interface, run in the grader; skips the property where the reference is not
installed), ``device`` (``"cpu"`` or ``"cuda"``) and ``rng`` (a seeded ``numpy.random.Generator``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, note, target  # noqa: F401  (re-exported for specs)
from hypothesis import strategies as st  # noqa: F401

from grader.values import StudentError  # noqa: F401  (re-exported for specs)

_PROPERTY_ATTRIBUTE = "_grader_property"

# The relative rounding of one float32 operation (half an ulp at 1): the unit in which specs write the tolerances
# that let a correct float32 implementation pass, amplified by the conditioning of each quantity.
FLOAT32_HALF_ULP = 2.0**-24


class PropertyInfo:
    __slots__ = ("name", "description", "points", "max_examples", "hidden", "needs_reference", "false_failure")

    def __init__(self, name, description, points, max_examples, hidden, needs_reference, false_failure=0.0):
        self.false_failure = false_failure
        self.name = name
        self.description = description
        self.points = points
        self.max_examples = max_examples
        self.hidden = hidden
        self.needs_reference = needs_reference


def prop(*, points: float, max_examples: int = 50, hidden: bool = False, false_failure: float = 0.0):
    """Mark a test function as a graded property worth ``points``.

    ``max_examples`` is the Hypothesis budget; ``hidden`` properties count in the score but their
    inputs are not shown to students. Whether the property needs the reference is read from its
    signature (a ``reference`` parameter).

    ``false_failure`` declares the probability that the property fails for a correct submission in
    one grading run, over all its examples (0 for deterministic checks; for a statistical check,
    e.g. ``max_examples * 2 * norm.sf(6)`` for a two-sided 6-sigma test per example). The audit
    sums these over the bank against the budget in the design notes.
    """
    if not points > 0:
        raise ValueError("a property must be worth a positive number of points")
    if not 0.0 <= false_failure < 1.0:
        raise ValueError("false_failure is a probability in [0, 1)")

    def mark(function):
        inner = getattr(function, "hypothesis", None)
        signature_source = getattr(inner, "inner_test", function)
        doc = (function.__doc__ or signature_source.__doc__ or "").strip()
        if not doc:
            raise ValueError(f"property {function.__name__} needs a docstring: students read it")
        import inspect

        params = inspect.signature(signature_source).parameters
        info = PropertyInfo(
            name=function.__name__,
            description=doc.splitlines()[0].strip(),
            points=float(points),
            max_examples=max_examples,
            hidden=hidden,
            needs_reference="reference" in params,
            false_failure=float(false_failure),
        )
        setattr(function, _PROPERTY_ATTRIBUTE, info)
        return function

    return mark


def property_info(obj) -> PropertyInfo | None:
    info = getattr(obj, _PROPERTY_ATTRIBUTE, None)
    return info if isinstance(info, PropertyInfo) else None


def unit_helpers(spec_file: str, name: str = "common"):
    """The module ``problems/<unit>/<name>.py`` next to a problem's folder, for strategies and
    helpers shared by the problems of one unit: ``common = unit_helpers(__file__)``."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(spec_file).resolve().parent.parent / f"{name}.py"
    key = f"_grader_unit_{path.parent.name}_{name}_{abs(hash(str(path)))}"
    module = sys.modules.get(key)
    if module is None or getattr(module, "__file__", None) != str(path):
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return module


# --- harness values: things that are built inside the worker ------------------------------------


def harness_callable(name: str, **params) -> dict:
    """A callable from the public harness library (see :mod:`grader.harness`), built in the worker."""
    return {"__harness__": "callable", "name": name, "params": params}


def generator(seed: int) -> dict:
    """A ``torch.Generator`` on the grading device, seeded with ``seed``, built in the worker."""
    return {"__harness__": "generator", "seed": int(seed)}


# --- assertions whose messages say what was observed, what was expected, and the call -----------


class PropertyViolation(AssertionError):
    """What an assertion helper raises: the message students read, plus the same facts as data
    (observed value, expected value or relation, tolerance, call) for the reports' counterexamples."""

    def __init__(self, message: str, *, actual=None, expected=None, relation: str | None = None,
                 tolerance: str | None = None, call: str | None = None, observed: dict | None = None):
        super().__init__(message)
        self.actual, self.expected, self.relation = actual, expected, relation
        self.tolerance, self.call, self.observed = tolerance, call, dict(observed or {})


def _fmt(value) -> str:
    array = np.asarray(value)
    if array.size <= 8:
        return np.array2string(array, precision=6, separator=", ") if array.ndim else f"{array.item():.6g}"
    return f"array of shape {array.shape} (min {np.nanmin(array):.4g}, max {np.nanmax(array):.4g})"


def _context(call: str | None) -> str:
    return f" [{call}]" if call else ""


def assert_finite(value, *, call: str | None = None, what: str = "the result") -> None:
    """Fail explicitly on NaN or infinity: no later comparison may silently pass them."""
    array = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        kinds = sorted({"nan" if np.isnan(x) else "inf" for x in array[bad].ravel()[:16]})
        raise PropertyViolation(
            f"{what} contains {'/'.join(kinds)} ({int(bad.sum())} of {array.size} entries), "
            f"but should be finite{_context(call)}",
            actual=array, relation=f"{what} is finite (no NaN or infinity)", call=call)


def assert_shape(value, shape: tuple, *, call: str | None = None, what: str = "the result") -> None:
    actual = np.shape(value)
    if tuple(actual) != tuple(shape):
        raise PropertyViolation(f"{what} has shape {tuple(actual)}, but should have shape {tuple(shape)}{_context(call)}",
                                actual=value, relation=f"{what} has shape {tuple(shape)}", call=call)


def _bound(value) -> str:
    """A tolerance parameter in a message: a number, or the range of per-entry values (specs may pass arrays)."""
    array = np.asarray(value, dtype=np.float64)
    return f"{array.item():.3g}" if array.ndim == 0 else f"[{array.min():.3g}..{array.max():.3g} per entry]"


def assert_close(actual, expected, *, rtol: float = 1e-6, atol: float = 1e-9, call: str | None = None,
                 what: str = "the result") -> None:
    """``actual`` equals ``expected`` within ``atol + rtol * |expected|``, with matching shape.

    NaN or infinity in ``actual`` fails unless ``expected`` has the very same non-finite value.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise PropertyViolation(
            f"{what} has shape {actual.shape}, but should have shape {expected.shape}{_context(call)}",
            actual=actual, expected=expected, relation=f"{what} has shape {expected.shape}", call=call)
    actual_b, expected_b = actual, expected
    same_nonfinite = (~np.isfinite(expected_b)) & (actual_b == expected_b)
    both_nan = np.isnan(expected_b) & np.isnan(actual_b)
    tolerance = atol + rtol * np.abs(expected_b)
    with np.errstate(invalid="ignore"):
        # A non-finite expectation is met only by the very same value: an infinite tolerance must not
        # let -inf pass for +inf.
        close = np.isfinite(expected_b) & (np.abs(actual_b - expected_b) <= tolerance)
        ok = close | same_nonfinite | both_nan
    if not ok.all():
        index = np.unravel_index(np.argmax(~ok), ok.shape) if ok.ndim else ()
        got, want = actual_b[index], expected_b[index]
        where = f" at index {tuple(int(i) for i in index)}" if ok.ndim else ""
        raise PropertyViolation(
            f"{what}{where} is {got:.10g}, but should be {want:.10g} "
            f"(|difference| {abs(got - want):.3g} > tolerance {float(tolerance[index]):.3g}; "
            f"{int((~ok).sum())} of {ok.size} entries off){_context(call)}",
            actual=actual, expected=expected, relation=f"{what} equals the expected value within the tolerance",
            tolerance=f"|difference| <= {_bound(atol)} + {_bound(rtol)} * |expected| (here {float(tolerance[index]):.3g}{where})",
            call=call)


def assert_all(condition, message: str, *, call: str | None = None, **observed) -> None:
    """Fail with ``message`` unless every entry of ``condition`` holds; NaN-safe by construction
    (write conditions that are False on NaN, e.g. ``kl >= 0``, never ``not (kl < 0)``)."""
    condition = np.asarray(condition, dtype=bool)
    if not condition.all():
        shown = ", ".join(f"{name} = {_fmt(value)}" for name, value in observed.items())
        raise PropertyViolation(f"{message}; observed {shown}{_context(call)}" if shown else f"{message}{_context(call)}",
                                relation=message, call=call, observed=observed)


def call_text(function: str, *args, **kwargs) -> str:
    """A short rendering of a call for failure messages: ``kl_normal(mu=0.5, ...)``."""
    def short(value):
        array = np.asarray(value)
        if array.ndim == 0:
            return f"{array.item():.6g}" if array.dtype.kind == "f" else repr(array.item())
        if array.size <= 4:
            return np.array2string(array, precision=4, separator=", ")
        return f"<{array.dtype} array of shape {array.shape}>"

    parts = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"
