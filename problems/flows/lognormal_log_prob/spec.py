"""Properties of lognormal_log_prob(x, mu, sigma) = log N(log x; mu, sigma^2) - log x for x > 0, broadcasting."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, broadcastable_shapes, reals

LOG_X = (-7.0, 7.0)  # x from 1e-3 to 1e3
MEANS = (-3.0, 3.0)
SIGMAS = (0.2, 3.0)
LOG_2PI = np.log(2 * np.pi)
# float32 implementations are right: each term of the log-density is off by about 1e-7 of its size.
EPS = 1e-5


def normal_log_prob_of_log(log_x, mu, sigma):
    """log N(log x; mu, sigma^2) and the sizes of its terms (for a float32-aware tolerance)."""
    standardised = (log_x - mu) / sigma
    return -0.5 * standardised**2 - np.log(sigma) - 0.5 * LOG_2PI, 1 + standardised**2 + abs(np.log(sigma))


def tolerance(log_x, mu, sigma):
    _, size = normal_log_prob_of_log(log_x, mu, sigma)
    return EPS * (size + np.abs(log_x))


@st.composite
def cases(draw):
    """(x, mu, sigma): x and mu of broadcastable shapes, x log-uniform in [1e-3, 1e3], sigma a float."""
    shapes = draw(broadcastable_shapes(2, max_dims=3))
    log_x = draw(arrays(shapes.input_shapes[0], *LOG_X))
    return np.exp(log_x), draw(arrays(shapes.input_shapes[1], *MEANS)), draw(reals(*SIGMAS)), shapes.result_shape


@prop(points=1)
@given(case=cases())
def lognormal_log_prob_broadcasts(student, case):
    """The log-density has the broadcast shape of x and mu."""
    x, mu, sigma, shape = case
    assert_shape(student.lognormal_log_prob(x, mu, sigma), shape, call=call_text("lognormal_log_prob", x, mu, sigma))


@prop(points=3)
@given(case=cases())
def lognormal_log_prob_is_the_normal_density_of_log_x_with_its_jacobian(student, case):
    """log p(x) = log N(log x; mu, sigma^2) + log|d log x / dx| = log N(log x; mu, sigma^2) - log x."""
    x, mu, sigma, _ = case
    log_x = np.log(x)
    expected = normal_log_prob_of_log(log_x, mu, sigma)[0] - log_x
    assert_close(student.lognormal_log_prob(x, mu, sigma), expected, rtol=0, atol=tolerance(log_x, mu, sigma),
                 what="log p(x)", call=call_text("lognormal_log_prob", x, mu, sigma))


@prop(points=2, max_examples=25)
@given(mu=reals(*MEANS), sigma=reals(*SIGMAS))
def lognormal_log_prob_integrates_to_one(student, mu, sigma):
    """The density integrates to 1 over x > 0 (trapezoid rule in u = log x over mu +- 10 sigma)."""
    log_x = np.linspace(mu - 10 * sigma, mu + 10 * sigma, 2001)
    log_p = student.lognormal_log_prob(np.exp(log_x), np.asarray(mu), sigma)
    call = call_text("lognormal_log_prob", np.exp(log_x), mu, sigma)
    assert_finite(log_p, call=call, what="log p(x)")
    # p(x) dx = p(e^u) e^u du; the grid is fine enough for the quadrature error to be far below 1e-6.
    integrand = np.exp(log_p + log_x)
    mass = float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(log_x)))
    assert_close(mass, 1.0, rtol=0, atol=1e-4, what="the integral of p(x) over x > 0", call=call)


@prop(points=2)
@given(case=cases(), log_c=st.one_of(reals(-3.0, -0.5), reals(0.5, 3.0)))
def lognormal_log_prob_transforms_under_rescaling(student, case, log_c):
    """c X ~ LogNormal(mu + log c, sigma^2), so log p(c x; mu + log c) = log p(x; mu) - log c."""
    x, mu, sigma, _ = case
    scaled = student.lognormal_log_prob(np.exp(log_c) * x, mu + log_c, sigma)
    original = student.lognormal_log_prob(x, mu, sigma)
    call = call_text("lognormal_log_prob", np.exp(log_c) * x, mu + log_c, sigma)
    assert_finite(original, call=call_text("lognormal_log_prob", x, mu, sigma))
    tol = 2 * tolerance(np.log(x), mu, sigma) + EPS * abs(log_c)
    assert_close(scaled, original - log_c, rtol=0, atol=tol, what="log p(c x; mu + log c, sigma)", call=call)


@prop(points=2)
@given(case=cases())
def lognormal_log_prob_matches_reference(student, reference, case):
    """The log-density agrees with the reference solution to float32 precision."""
    x, mu, sigma, _ = case
    assert_close(student.lognormal_log_prob(x, mu, sigma), reference.lognormal_log_prob(x, mu, sigma), rtol=0,
                 atol=tolerance(np.log(x), mu, sigma), call=call_text("lognormal_log_prob", x, mu, sigma))
