"""Properties of euler_sample(velocity, x0, n_steps): n_steps explicit Euler steps x <- x + h v(x, i h), h = 1 / n,
from t = 0 to t = 1, with velocity fields from the public harness library whose Euler iterates and flows are
known in closed form."""

import numpy as np
from scipy.linalg import expm

from grader.spec import (assert_all, assert_close, assert_finite, assert_shape, call_text, given, harness_callable,
                         prop, st)
from grader.strategies import arrays

BATCHES = ((), (3,), (2, 2))
# float32 implementations are right: each step rounds x by about 1e-7 relative (a few float32 ulps), and the
# fields below amplify earlier errors by at most e^||A|| <= e^3 over [0, 1].
ZERO_TOL = 1e-6
STEP_ROUNDING = 3e-7


# --- the fields and their exact answers -------------------------------------------------------------------------
# Both fields are affine in x, so one step maps the augmented state z = (x, t, 1) linearly: z <- S z. The Euler
# iterate after n steps is S^n z0 (matrix_power: exact up to float64 rounding), and the exact flow to t = 1 is
# expm(G) z0 for the generator G of the ODE dz/dt = G z.


def linear_field(A, b):
    """(field, step(h), generator) for v(x, t) = x A^T + b, on the augmented state (x, 1)."""
    d = len(b)
    generator = np.zeros((d + 1, d + 1))
    generator[:d, :d], generator[:d, d] = A, b
    return harness_callable("linear_field", A=A, b=b), lambda h: np.eye(d + 1) + h * generator, generator


def time_linear_field(a, c):
    """(field, step(h), generator) for v(x, t) = a x + c t (a, c (d,) elementwise), on the state (x, t, 1)."""
    d = len(a)
    generator = np.zeros((d + 2, d + 2))
    generator[:d, :d] = np.diag(a)
    generator[:d, d] = c
    generator[d, d + 1] = 1.0  # dt/dt = 1
    return harness_callable("time_linear_field", a=a, c=c), lambda h: np.eye(d + 2) + h * generator, generator


def propagate(matrix, x0):
    """Apply the augmented map to x0 (..., d) starting at t = 0: (x0, 0, 1) or (x0, 1)."""
    d = x0.shape[-1]
    return x0 @ matrix[:d, :d].T + matrix[:d, -1]


def euler_iterate(field, x0, n_steps):
    """(I + h G)^n applied to (x0, [0,] 1): the exact Euler iterate."""
    _, step, _ = field
    return propagate(np.linalg.matrix_power(step(1.0 / n_steps), n_steps), x0)


def exact_flow(field, x0):
    """expm(G) applied to (x0, [0,] 1): where the ODE carries x0 by t = 1."""
    return propagate(expm(field[2]), x0)


def tolerance(field, x0, n_steps):
    """What n_steps float32 steps may drift: STEP_ROUNDING per step on the size of the state, amplified by the flow."""
    generator = field[2]
    growth = np.exp(np.abs(generator).sum(1).max())
    size = np.abs(x0).max() + np.abs(generator).max() + 1
    return ZERO_TOL + STEP_ROUNDING * (n_steps + 1) * growth * size


@st.composite
def fields(draw, d, kinds=("linear", "time_linear")):
    """A linear field (A (d, d), b (d,) in [-1, 1]) or a time-dependent one (a, c (d,) in [-1, 1] and [-2, 2])."""
    if draw(st.sampled_from(kinds)) == "linear":
        return linear_field(draw(arrays((d, d), -1.0, 1.0)), draw(arrays((d,), -1.0, 1.0)))
    return time_linear_field(draw(arrays((d,), -1.0, 1.0)), draw(arrays((d,), -2.0, 2.0)))


@st.composite
def euler_arguments(draw, kinds=("linear", "time_linear"), max_steps=50):
    """(field, x0, n_steps): x0 (*batch, d) in [-2, 2], d in 1..3, 1 <= n_steps <= max_steps."""
    d = draw(st.integers(1, 3))
    field = draw(fields(d, kinds))
    x0 = draw(arrays((*draw(st.sampled_from(BATCHES)), d), -2.0, 2.0))
    return field, x0, draw(st.integers(1, max_steps))


def sample(student, field, x0, n_steps, call):
    result = student.euler_sample(field[0], x0, n_steps)
    assert_shape(result, x0.shape, call=call)
    assert_finite(result, call=call)
    return result


def describe(field, x0, n_steps):
    parameters = field[0]["params"]
    return call_text("euler_sample", x0, n_steps) + f" with {field[0]['name']}(" + ", ".join(
        f"{name}={np.array2string(np.asarray(value), precision=4, separator=', ')}"
        for name, value in parameters.items()) + ")"


@prop(points=1)
@given(args=euler_arguments())
def euler_sample_has_the_shape_of_x0(student, args):
    """The result is x at t = 1, shaped like x0 (not the whole trajectory)."""
    field, x0, n_steps = args
    assert_shape(student.euler_sample(field[0], x0, n_steps), x0.shape, call=describe(*args))


@prop(points=1)
@given(args=euler_arguments())
def euler_sample_evaluates_the_velocity_once_per_step(student, args):
    """The velocity is evaluated exactly n_steps times: once per explicit Euler step, none wasted, none skipped."""
    field, x0, n_steps = args
    call = describe(*args)
    student.euler_sample(field[0], x0, n_steps)
    calls = student.callable_calls()
    assert_all(np.asarray(calls == [n_steps]), f"the velocity must be evaluated {n_steps} times",
               evaluations=np.asarray(calls), call=call)


@prop(points=3)
@given(args=euler_arguments(kinds=("linear",)))
def euler_sample_matches_the_euler_iterate_of_a_linear_field(student, args):
    """For v(x) = A x + b the n-step Euler iterate is exactly (I + h A)^n x0 + sum_k (I + h A)^k h b."""
    field, x0, n_steps = args
    call = describe(*args)
    result = sample(student, field, x0, n_steps, call)
    assert_close(result, euler_iterate(field, x0, n_steps), rtol=0, atol=tolerance(field, x0, n_steps),
                 what="x after n_steps Euler steps", call=call)


@prop(points=2)
@given(args=euler_arguments(kinds=("time_linear",)))
def euler_sample_evaluates_the_velocity_at_times_i_h(student, args):
    """For v(x, t) = a x + c t the iterate x <- (1 + h a) x + h c t_i is matched only with t_i = i h, i = 0..n-1."""
    field, x0, n_steps = args
    call = describe(*args)
    result = sample(student, field, x0, n_steps, call)
    assert_close(result, euler_iterate(field, x0, n_steps), rtol=0, atol=tolerance(field, x0, n_steps),
                 what="x after n_steps Euler steps of a time-dependent field", call=call)


# First-order convergence: the Euler error at t = 1 is C h + O(h^2), so doubling n_steps halves it. At
# N = 40, 80, 160 steps the ratios of successive errors of the exact Euler iterates of these fields lie in
# [1.95, 2.02] (2000 random fields measured); cases whose error at 160 steps is below 1e-3 are not drawn, so the
# rounding of a float32 implementation (below 1e-4 there) moves a ratio by at most 10%.
CONVERGENCE_STEPS = (40, 80, 160)
RATIO_RANGE = (1.6, 2.4)
SMALLEST_ERROR = 1e-3


@st.composite
def convergence_cases(draw):
    """(field, x0) whose Euler error at the finest step is at least SMALLEST_ERROR."""
    d = draw(st.integers(1, 3))
    field = draw(fields(d))
    x0 = draw(arrays((3, d), -2.0, 2.0))
    finest = euler_iterate(field, x0, CONVERGENCE_STEPS[-1]) - exact_flow(field, x0)
    return draw(st.just((field, x0)).filter(lambda _: np.abs(finest).max() >= SMALLEST_ERROR))


@prop(points=1, max_examples=25)
@given(case=convergence_cases())
def euler_sample_converges_at_first_order(student, case):
    """Against the exact flow (a matrix exponential), the error at t = 1 halves each time n_steps doubles."""
    field, x0 = case
    exact = exact_flow(field, x0)
    errors = []
    for n_steps in CONVERGENCE_STEPS:
        result = sample(student, field, x0, n_steps, describe(field, x0, n_steps))
        errors.append(np.abs(result - exact).max())
    errors = np.array(errors)
    ratios = errors[:-1] / np.maximum(errors[1:], 1e-300)
    call = describe(field, x0, CONVERGENCE_STEPS[0]) + f" for n_steps = {CONVERGENCE_STEPS}"
    assert_all((ratios >= RATIO_RANGE[0]) & (ratios <= RATIO_RANGE[1]),
               f"the error against the exact flow must halve when n_steps doubles (ratios in {list(RATIO_RANGE)})",
               errors=errors, ratios=ratios, call=call)


@prop(points=2)
@given(args=euler_arguments())
def euler_sample_matches_reference(student, reference, args):
    """x at t = 1 agrees with the reference solution to float32 precision."""
    field, x0, n_steps = args
    assert_close(student.euler_sample(field[0], x0, n_steps), reference.euler_sample(field[0], x0, n_steps),
                 rtol=0, atol=tolerance(field, x0, n_steps), call=describe(*args))
