"""Properties of e_step(X, weights, means, variances) -> responsibilities p(z = j | x_i), (n, d) -> (n, k)."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)
cases, far_points, mixtures, posterior = common.cases, common.far_points, common.mixtures, common.posterior

# float32 implementations are right: the log-joint of points among the components carries an absolute
# error of up to ~5e-4 in float32, which moves a responsibility by at most ~1.3e-4. (Far from the means a
# float32 log-joint is off by tens, so there only what does not hinge on near-ties is compared.)
SUM_TOL = 1e-5
RESPONSIBILITY_TOL = 5e-4


def responsibilities(student, X, mixture):
    call = call_text("e_step", X, *mixture)
    resp = student.e_step(X, *mixture)
    assert_shape(resp, (X.shape[0], len(mixture[0])), call=call)
    assert_finite(resp, call=call)
    return resp, call


@prop(points=2)
@given(case=cases(far=True))
def e_step_returns_a_probability_vector_per_row(student, case):
    """Every row of the (n, k) result is a probability vector (>= 0, summing to 1), also far from every mean."""
    X, mixture = case
    resp, call = responsibilities(student, X, mixture)
    assert_all(resp >= 0, "responsibilities must be >= 0", resp=resp, call=call)
    assert_close(resp.sum(-1), np.ones(len(X)), rtol=0, atol=SUM_TOL, what="the sum of each row", call=call)


@st.composite
def coinciding_components(draw):
    """(X, mixture) whose k >= 2 components share one mean and one variance but have different weights."""
    k = draw(st.integers(2, common.COMPONENTS[1]))
    d = draw(st.integers(*common.DIMENSIONS))
    raw = draw(arrays((k,), 0.05, 1.0))
    mean = draw(arrays((1, d), *common.MEANS))
    mixture = (raw / raw.sum(), np.repeat(mean, k, axis=0), np.full(k, draw(reals(*common.VARIANCES))))
    return draw(cases(mixture=st.just(mixture)))


@prop(points=2)
@given(case=coinciding_components())
def e_step_returns_the_weights_when_components_coincide(student, case):
    """When all components share one mean and variance, every row of responsibilities equals the weights."""
    X, mixture = case
    resp, call = responsibilities(student, X, mixture)
    assert_close(resp, np.broadcast_to(mixture[0], resp.shape), rtol=0, atol=SUM_TOL, what="responsibilities",
                 call=call)


@prop(points=3)
@given(case=cases())
def e_step_follows_bayes_rule(student, case):
    """r[i, j] = w_j N(x_i; mu_j, var_j I) / sum_l w_l N(x_i; mu_l, var_l I): the posterior of the component."""
    X, mixture = case
    resp, call = responsibilities(student, X, mixture)
    assert_close(resp, posterior(X, mixture), rtol=0, atol=RESPONSIBILITY_TOL, what="p(z = j | x_i)", call=call)


@st.composite
def distinct_variances(draw):
    """(X far from every mean, mixture, widest): the widest component is at least 1.5 times as wide (in
    variance) as any other."""
    weights, means, variances = draw(mixtures())
    widest = int(np.argmax(variances))
    others = np.delete(variances, widest)
    variances = variances.copy()
    if len(others):
        variances[widest] = max(variances[widest], 1.5 * others.max())
    mixture = (weights, means, variances)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return far_points(rng, mixture, draw(st.integers(*common.ROWS))), mixture, widest


@prop(points=1)
@given(case=distinct_variances())
def e_step_favours_the_widest_component_far_from_every_mean(student, case):
    """Far from every mean the tails decide: the component with the largest variance takes responsibility ~1."""
    X, mixture, widest = case
    resp, call = responsibilities(student, X, mixture)
    assert_all(resp[:, widest] >= 1 - SUM_TOL,
               f"far from every mean, component {widest} (the widest) must take responsibility 1",
               responsibility=resp[:, widest], call=call)


@prop(points=2)
@given(case=cases())
def e_step_matches_reference(student, reference, case):
    """The responsibilities agree with the reference solution."""
    X, mixture = case
    resp, call = responsibilities(student, X, mixture)
    assert_close(resp, reference.e_step(X, *mixture), rtol=0, atol=RESPONSIBILITY_TOL, call=call)
