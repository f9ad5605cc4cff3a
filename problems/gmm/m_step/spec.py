"""Properties of m_step(X, resp) -> (weights (k,), means (k, d), variances (k,)): the maximiser of ELBO(resp; theta)."""

import numpy as np

from grader.spec import (assert_all, assert_close, assert_finite, assert_shape, call_text, given, note, prop, st,
                         unit_helpers)
from grader.strategies import reals

common = unit_helpers(__file__)

ROWS = (20, 60)
# float32 implementations are right: their parameters are accurate to about 1e-6 relative.
REL_TOL = 1e-4
# Perturbation steps: small enough that the ELBO, concave in (log-weights, means, log-variances), decreases
# by well over float32's rounding at the maximiser, large enough to climb out of a wrong answer.
STEP = 0.05


@st.composite
def data_and_responsibilities(draw):
    """(X (n, d), resp (n, k)): points around k random centres and soft responsibilities (rows on the simplex,
    some entries exactly 0), every component with a total responsibility of at least 1."""
    k = draw(st.integers(*common.COMPONENTS))
    d = draw(st.integers(*common.DIMENSIONS))
    n = draw(st.integers(*ROWS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    centres = rng.uniform(-5, 5, (k, d))
    spread = draw(reals(0.2, 3.0))
    X = centres[rng.integers(k, size=n)] + spread * rng.standard_normal((n, d))
    resp = rng.dirichlet(np.full(k, draw(reals(0.2, 3.0))), size=n)
    resp[rng.uniform(size=(n, k)) < 0.1] = 0.0
    resp[resp.sum(1) == 0] = 1.0
    resp /= resp.sum(1, keepdims=True)
    if resp.sum(0).min() < 1.0:
        resp = 0.5 * resp + 0.5 / k
    return X, resp


def parameters(student, X, resp):
    """The student's (weights, means, variances), checked for shapes and finiteness."""
    call = call_text("m_step", X, resp)
    result = student.m_step(X, resp)
    if not (isinstance(result, tuple) and len(result) == 3):
        found = (f"a tuple of {len(result)} values" if isinstance(result, tuple)
                 else f"an array of shape {np.shape(result)}")
        raise AssertionError(f"m_step returned {found}, but should return a tuple (weights, means, variances) [{call}]")
    weights, means, variances = result
    k, d = resp.shape[1], X.shape[1]
    for value, shape, name in ((weights, (k,), "weights"), (means, (k, d), "means"), (variances, (k,), "variances")):
        assert_shape(value, shape, what=name, call=call)
        assert_finite(value, what=name, call=call)
    return (weights, means, variances), call


def elbo(X, resp, theta):
    """sum_ij r_ij [log w_j + log N(x_i; mu_j, var_j I)] (the entropy of Q is left out: it does not depend on theta)."""
    return float(np.where(resp > 0, resp * common.log_joint(X, theta), 0.0).sum())


def assert_stationary(X, resp, theta, call):
    """The ELBO's gradient vanishes at theta: in the means, in the variances, and in the weights (on the simplex)."""
    weights, means, variances = theta
    counts = resp.sum(0)
    d = X.shape[1]
    # dELBO/dmu_j = sum_i r_ij (x_i - mu_j) / var_j; scaled by var_j / N_j it is a displacement.
    displacement = (resp.T @ X - counts[:, None] * means) / counts[:, None]
    scale = 1.0 + np.abs(X).max()
    assert_all(np.abs(displacement) <= REL_TOL * scale,
               "the ELBO's gradient with respect to the means must vanish: sum_i r_ij (x_i - mu_j) = 0",
               scaled_gradient=displacement, call=call)
    # dELBO/dvar_j = sum_i r_ij (|x_i - mu_j|^2 / (2 var_j^2) - d / (2 var_j)); zero where this ratio is 1.
    squared = ((X[:, None, :] - means) ** 2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (resp * squared).sum(0) / (d * counts * variances)
    assert_all(np.abs(ratio - 1) <= REL_TOL,
               "the ELBO's gradient with respect to the variances must vanish: "
               "sum_i r_ij |x_i - mu_j|^2 / (d var_j sum_i r_ij) = 1", ratio=ratio, call=call)
    # On the simplex, the gradient N_j / w_j must be the same for every j (a Lagrange multiplier, = n).
    with np.errstate(divide="ignore", invalid="ignore"):
        multiplier = counts / (len(X) * weights)
    assert_all(np.abs(multiplier - 1) <= REL_TOL,
               "the ELBO's gradient with respect to the weights, N_j / w_j with N_j = sum_i r_ij, must be the same "
               "(= n) for every component", ratio_to_n=multiplier, call=call)


@prop(points=2)
@given(case=data_and_responsibilities())
def m_step_returns_weights_on_the_simplex_and_positive_variances(student, case):
    """The result is (weights (k,), means (k, d), variances (k,)) with weights >= 0 summing to 1 and variances > 0."""
    X, resp = case
    (weights, _, variances), call = parameters(student, X, resp)
    assert_all(weights >= 0, "weights must be >= 0", weights=weights, call=call)
    assert_close(weights.sum(), 1.0, rtol=0, atol=1e-5, what="the sum of the weights", call=call)
    assert_all(variances > 0, "variances must be > 0", variances=variances, call=call)


@prop(points=2)
@given(case=data_and_responsibilities())
def m_step_is_a_stationary_point_of_the_elbo(student, case):
    """The ELBO's gradient in the means, the variances and (on the simplex) the weights vanishes at the result."""
    X, resp = case
    theta, call = parameters(student, X, resp)
    assert_stationary(X, resp, theta, call)


def perturbations(theta, X):
    """theta moved by +-STEP along each coordinate of (log-weights, means / data scale, log-variances)."""
    weights, means, variances = theta
    scale = X.std() + 1e-3
    for sign in (1.0, -1.0):
        for j in range(len(weights)):
            tilted = weights * np.exp(sign * STEP * (np.arange(len(weights)) == j))
            if len(weights) > 1:
                yield f"weight {j} {'up' if sign > 0 else 'down'}", (tilted / tilted.sum(), means, variances)
            yield (f"variance {j} {'up' if sign > 0 else 'down'}",
                   (weights, means, variances * np.exp(sign * STEP * (np.arange(len(weights)) == j))))
            for c in range(means.shape[1]):
                moved = means.copy()
                moved[j, c] += sign * STEP * scale
                yield f"mean {j}, coordinate {c} {'up' if sign > 0 else 'down'}", (weights, moved, variances)


@prop(points=2)
@given(case=data_and_responsibilities())
def m_step_beats_perturbations_of_its_answer(student, case):
    """No small change of a weight, a mean coordinate or a variance increases ELBO(Q; theta): it is a maximiser."""
    X, resp = case
    theta, call = parameters(student, X, resp)
    assert_all(theta[0] > 0, "weights must be > 0 for the ELBO to be finite", weights=theta[0], call=call)
    assert_all(theta[2] > 0, "variances must be > 0 for the ELBO to be finite", variances=theta[2], call=call)
    best = elbo(X, resp, theta)
    for name, moved in perturbations(theta, X):
        value = elbo(X, resp, moved)
        assert_all(value <= best + 1e-9 * abs(best) + 1e-9,
                   f"moving {name} increases ELBO(Q; theta) from {best:.10g} to {value:.10g}: the returned theta "
                   f"is not its maximiser", call=call)


@st.composite
def hard_assignments(draw):
    """(X, resp): k clusters of 3 to 15 points each, one-hot responsibilities (rows in random order)."""
    k = draw(st.integers(*common.COMPONENTS))
    d = draw(st.integers(*common.DIMENSIONS))
    sizes = draw(st.lists(st.integers(3, 15), min_size=k, max_size=k))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = rng.permutation(np.repeat(np.arange(k), sizes))
    spreads = rng.uniform(0.2, 3.0, k)
    X = rng.uniform(-5, 5, (k, d))[labels] + spreads[labels, None] * rng.standard_normal((len(labels), d))
    return X, np.eye(k)[labels]


@prop(points=2)
@given(case=hard_assignments())
def m_step_with_one_hot_responsibilities_is_per_cluster_maximum_likelihood(student, case):
    """With one-hot responsibilities each component is its cluster's maximum-likelihood fit (variance over n_j d)."""
    X, resp = case
    (weights, means, variances), call = parameters(student, X, resp)
    labels = resp.argmax(1)
    k, d = resp.shape[1], X.shape[1]
    clusters = [X[labels == j] for j in range(k)]
    note(f"cluster sizes {[len(c) for c in clusters]}")
    assert_close(weights, [len(c) / len(X) for c in clusters], rtol=REL_TOL, atol=1e-6, what="weights", call=call)
    assert_close(means, [c.mean(0) for c in clusters], rtol=REL_TOL, atol=REL_TOL, what="means", call=call)
    assert_close(variances, [c.var(0).mean() for c in clusters], rtol=REL_TOL, atol=1e-6, what="variances",
                 call=call)


@prop(points=2)
@given(case=data_and_responsibilities())
def m_step_matches_reference(student, reference, case):
    """The weights, means and variances agree with the reference solution."""
    X, resp = case
    theta, call = parameters(student, X, resp)
    for value, expected, name in zip(theta, reference.m_step(X, resp), ("weights", "means", "variances")):
        assert_close(value, expected, rtol=REL_TOL, atol=1e-6, what=name, call=call)
