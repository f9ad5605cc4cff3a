"""Properties of is_locally_stable(gamma): every eigenvalue of [[-gamma, 0, -1/2], [0, -1/2, 0], [1/2, 0, 0]] has a
strictly negative real part.

The eigenvalues are -1/2 and (-gamma +- sqrt(gamma^2 - 1)) / 2 (product 1/4, sum -gamma): the answer is gamma > 0.
At gamma = 0 they are +-i/2, on the imaginary axis: the dynamics circle the equilibrium forever, which is not
asymptotic stability. Eigenvalue solvers return real parts +-0 there, so an eigenvalue-based answer with a strict
inequality is right; gamma >= 1e-4 keeps the smallest real part (-gamma / 2, or -1 / (2 (gamma + sqrt(gamma^2 - 1))))
far above a float32 solver's rounding.
"""

import numpy as np

from grader.spec import assert_all, call_text, given, prop, st, unit_helpers

common = unit_helpers(__file__)


def answer(student, gamma):
    """The student's answer as a Python bool; a 0-d bool (or 0/1) is required."""
    call = call_text("is_locally_stable", gamma)
    value = np.asarray(student.is_locally_stable(gamma))
    assert_all(np.asarray(value.shape == () and (value.dtype == np.bool_ or value == 0 or value == 1)),
               "the result should be a single bool", result=value, call=call)
    return bool(value), call


def stable_penalties():
    """gamma > 0: critically damped (1), tiny, huge, and anything in between."""
    return st.one_of(st.sampled_from((1.0, 1e-4, 1e3)), common.log_uniform(1e-4, 1e3))


@prop(points=1, max_examples=20)
@given(gamma=st.one_of(st.just(0.0), common.log_uniform(1e-4, 1e3), common.log_uniform(1e-4, 1e3).map(lambda g: -g)))
def is_locally_stable_returns_a_bool(student, gamma):
    """The result is a single bool (True or False)."""
    answer(student, gamma)


@prop(points=3)
@given(gamma=stable_penalties())
def is_locally_stable_for_every_positive_penalty(student, gamma):
    """Any gamma > 0 makes the equilibrium stable: the eigenvalues' real parts are -1/2 and below 0."""
    stable, call = answer(student, gamma)
    eigenvalues = np.linalg.eigvals(common.jacobian(gamma))
    assert_all(stable, f"with gamma = {gamma:.6g} > 0 every eigenvalue has a negative real part, so the equilibrium "
               f"is locally stable, but the answer was {stable}", eigenvalues=eigenvalues, call=call)


@prop(points=3, max_examples=2)
@given(gamma=st.sampled_from((0.0, -0.0)))
def is_locally_stable_is_false_without_penalty(student, gamma):
    """gamma = 0 is not stable: the eigenvalues +-i/2 lie on the imaginary axis (the strict inequality matters)."""
    stable, call = answer(student, gamma)
    assert_all(not stable, "with gamma = 0 the eigenvalues are -1/2 and +-i/2: real part 0 is not strictly negative, "
               "so the equilibrium is not asymptotically stable (the dynamics circle it forever), but the answer was "
               f"{stable}", call=call)


@prop(points=1)
@given(gamma=common.log_uniform(1e-4, 1e3).map(lambda g: -g))
def is_locally_stable_is_false_for_a_negative_penalty(student, gamma):
    """gamma < 0 pushes psi0 away from 0: an eigenvalue has a positive real part, so the equilibrium is unstable."""
    stable, call = answer(student, gamma)
    assert_all(not stable, f"with gamma = {gamma:.6g} < 0 an eigenvalue has a positive real part, but the answer was "
               f"{stable}", eigenvalues=np.linalg.eigvals(common.jacobian(gamma)), call=call)


@prop(points=2)
@given(gamma=st.one_of(st.just(0.0), st.floats(-5.0, 5.0, allow_nan=False, allow_subnormal=False).filter(
    lambda g: g == 0 or abs(g) >= 1e-4)))
def is_locally_stable_matches_reference(student, reference, gamma):
    """The answer agrees with the reference solution for gamma in [-5, 5]."""
    stable, call = answer(student, gamma)
    expected = bool(reference.is_locally_stable(gamma))
    assert_all(stable == expected, f"the answer for gamma = {gamma:.6g} should be {expected}, but was {stable}",
               call=call)
