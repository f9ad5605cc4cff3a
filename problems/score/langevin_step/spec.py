"""Properties of langevin_step(x, score, step_size, noise) = x + h score(x) + sqrt(2 h) noise.

For a Gaussian target N(m, tau^2 I) the step is linear, x' - m = a (x - m) + sqrt(2 h) noise with a = 1 - h / tau^2:
it maps N(m, v) to N(m, a^2 v + 2 h), whose fixed point v* = 2 h / (1 - a^2) = tau^2 / (1 - h / (2 tau^2)) is the
discretisation's stationary variance (2 / (2 - h) for N(0, 1)). The grader checks these maps exactly on samples
whose empirical moments are exact (see `exact_moment_samples`), so no statistical tolerance is needed.
"""

import math

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, note, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)

BATCHES = ((), (5,), (2, 3))
POINTS = (-5.0, 5.0)
STEP_SIZES = (1e-3, 0.5)
ZERO_TOL = 1e-6
REL_TOL = 1e-5


def expected_and_tolerance(x, mixture, step_size, noise):
    """x + h score(x) + sqrt(2h) noise in float64, and the rounding of a float32 computation of each term."""
    drift = step_size * common.score(x, mixture)
    diffusion = math.sqrt(2 * step_size) * noise
    rounding = common.FLOAT32_ROUNDING * (np.abs(x) + np.abs(drift) + np.abs(diffusion) + 1.0)
    answer = x + drift + diffusion
    return answer, ZERO_TOL + REL_TOL * np.abs(answer) + 10 * rounding


@st.composite
def step_arguments(draw):
    """(x, mixture, step_size, noise): x of shape (*batch, d), a Gaussian or Gaussian-mixture target."""
    mixture = draw(common.mixtures())
    batch = draw(st.sampled_from(BATCHES))
    shape = (*batch, mixture[1].shape[1])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return draw(arrays(shape, *POINTS)), mixture, draw(reals(*STEP_SIZES)), rng.standard_normal(shape)


def step_call(x, mixture, step_size, noise):
    return call_text("langevin_step", x, f"score of {common.describe(mixture)}", step_size, noise)


def student_step(student, x, mixture, step_size, noise):
    call = step_call(x, mixture, step_size, noise)
    value = student.langevin_step(x, common.score_callable(mixture), step_size, noise)
    assert_shape(value, np.shape(x), call=call)
    assert_finite(value, call=call)
    return value, call


@prop(points=1)
@given(args=step_arguments())
def langevin_step_has_the_shape_of_x(student, args):
    """The new state has the shape (..., d) of x and is finite."""
    student_step(student, *args)


@prop(points=3)
@given(args=step_arguments())
def langevin_step_is_exact_for_the_given_noise(student, args):
    """For the noise passed in, the new state is exactly x + h score(x) + sqrt(2h) noise (Gaussian-mixture scores)."""
    value, call = student_step(student, *args)
    expected, tolerance = expected_and_tolerance(*args)
    assert_close(value, expected, rtol=0, atol=tolerance, what="x + h score(x) + sqrt(2h) noise", call=call)


SAMPLES = 200


def exact_moment_samples(rng, n, d, variance, against=None):
    """(n, d) samples whose every column has empirical mean exactly 0 and empirical variance (1/n sum x^2) exactly
    ``variance``; with ``against`` (n, d), every column is also exactly orthogonal to that column of ``against``.
    Then one linear Langevin step moves the empirical moments exactly as it moves the distribution's."""
    raw = rng.standard_normal((n, d))
    raw -= raw.mean(0)
    if against is not None:
        centred = against - against.mean(0)
        raw -= centred * (raw * centred).sum(0) / (centred**2).sum(0)
        raw -= raw.mean(0)
    return raw * np.sqrt(variance / (raw**2).mean(0))


@st.composite
def gaussian_steps(draw, min_ratio=1e-3):
    """(mean (d,), tau^2, h, v, seed): a target N(mean, tau^2 I), a step size h = ratio tau^2 with ratio in
    [min_ratio, 1] (so that a = 1 - h / tau^2 is in [0, 1)), and a start variance v."""
    d = draw(st.integers(1, 3))
    target_variance = draw(reals(0.3, 3.0))
    step_size = draw(reals(min_ratio, 1.0)) * target_variance
    return (draw(arrays((d,), -2.0, 2.0)), target_variance, step_size, draw(reals(0.05, 5.0)) * target_variance,
            draw(st.integers(0, 2**32 - 1)))


def empirical_moments(x, mean):
    """Per column: the empirical mean, and the empirical variance about ``mean`` (1/n sum (x - mean)^2)."""
    return x.mean(0), ((x - mean) ** 2).mean(0)


@prop(points=2, max_examples=25)
@given(case=gaussian_steps())
def langevin_step_maps_gaussians_as_the_discretisation_predicts(student, case):
    """For the target N(m, tau^2), one step maps N(m, v) to N(m, (1 - h / tau^2)^2 v + 2h): nearly invariant for small h."""
    mean, target_variance, step_size, variance, seed = case
    rng = np.random.default_rng(seed)
    d = len(mean)
    x = mean + exact_moment_samples(rng, SAMPLES, d, variance)
    noise = exact_moment_samples(rng, SAMPLES, d, 1.0, against=x)
    target = (np.ones(1), mean[None, :], np.array([target_variance]))
    value, call = student_step(student, x, target, step_size, noise)
    a = 1 - step_size / target_variance
    predicted = a**2 * variance + 2 * step_size
    note(f"samples of N(m, {variance:.6g}) with exact empirical moments; noise with exact moments, orthogonal to x")
    got_mean, got_variance = empirical_moments(value, mean)
    scale = np.abs(mean) + np.sqrt(predicted)
    assert_close(got_mean, mean, rtol=0, atol=ZERO_TOL + 1e-5 * scale, what="the empirical mean after one step",
                 call=call)
    assert_close(got_variance, np.full(d, predicted), rtol=REL_TOL, atol=ZERO_TOL,
                 what=f"the empirical variance after one step from variance {variance:.6g} (predicted "
                      f"(1 - h/tau^2)^2 v + 2h = {predicted:.6g})", call=call)


STEPS = 40


@prop(points=2, max_examples=10)
@given(case=gaussian_steps(min_ratio=0.1))
def langevin_step_converges_to_the_predicted_stationary_variance(student, case):
    """Repeated steps on the target N(m, tau^2) drive the variance to the fixed point tau^2 / (1 - h / (2 tau^2))."""
    mean, target_variance, step_size, variance, seed = case
    rng = np.random.default_rng(seed)
    d = len(mean)
    target = (np.ones(1), mean[None, :], np.array([target_variance]))
    a = 1 - step_size / target_variance
    stationary = 2 * step_size / (1 - a**2)
    x = mean + exact_moment_samples(rng, SAMPLES, d, variance)
    for _ in range(STEPS):
        noise = exact_moment_samples(rng, SAMPLES, d, 1.0, against=x)
        x, call = student_step(student, x, target, step_size, noise)
    # The variance obeys v_k+1 - v* = a^2 (v_k - v*) exactly: after 40 steps with a <= 0.9 it is within 2e-4 of v*.
    predicted = stationary + a ** (2 * STEPS) * (variance - stationary)
    got_mean, got_variance = empirical_moments(x, mean)
    scale = np.abs(mean) + np.sqrt(predicted)
    call = f"{STEPS} steps of {call}"
    assert_close(got_mean, mean, rtol=0, atol=ZERO_TOL + 1e-5 * scale, what="the empirical mean after the steps",
                 call=call)
    assert_close(got_variance, np.full(d, predicted), rtol=REL_TOL, atol=ZERO_TOL,
                 what=f"the empirical variance after {STEPS} steps from variance {variance:.6g} (stationary "
                      f"variance of the discretisation {stationary:.6g})", call=call)


@prop(points=2)
@given(args=step_arguments())
def langevin_step_matches_reference(student, reference, args):
    """The new state agrees with the reference solution to float32 precision."""
    x, mixture, step_size, noise = args
    _, tolerance = expected_and_tolerance(*args)
    score = common.score_callable(mixture)
    assert_close(student.langevin_step(x, score, step_size, noise), reference.langevin_step(x, score, step_size, noise),
                 rtol=0, atol=tolerance, call=step_call(*args))
