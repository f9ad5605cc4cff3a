"""Properties of fit_logistic(X, y) -> (w, b): maximum-likelihood logistic regression, X (n, d), y (n,) in {0, 1}."""

import numpy as np
from scipy.special import expit

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, note, prop, st
from grader.strategies import reals

DIMENSIONS = (1, 4)
ROWS = (50, 200)
# The statement promises this tolerance on the gradient of the mean log-likelihood; a converged float32
# implementation reaches about 1e-7, the catalogued mistakes are off by more than 1e-3.
GRADIENT_TOL = 1e-4
# Fitted probabilities of two fits that both meet GRADIENT_TOL differ by at most about
# GRADIENT_TOL / (smallest Hessian eigenvalue, above 0.01 for these data) ~ 1e-2; converged ones by ~1e-6.
PROBABILITY_TOL = 2e-3


def features(rng, n, d):
    """(n, d) features: shifted, rotated and scaled Gaussians (condition number of the map at most 3)."""
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    mixing = rotation * np.exp(rng.uniform(np.log(0.5), np.log(1.5), d))
    return rng.uniform(-0.5, 0.5, d) + rng.standard_normal((n, d)) @ mixing.T


def labels_and_anchors(rng, X, scores):
    """Labels y ~ Bernoulli(sigmoid(scores)); then d + 1 rows, affinely independent, are repeated with the
    opposite label, which makes the data non-separable (a finite maximiser exists) whatever the draw."""
    y = (rng.uniform(size=len(X)) < expit(scores)).astype(np.float64)
    anchors = rng.choice(len(X), size=X.shape[1] + 1, replace=False)
    return np.concatenate([X, X[anchors]]), np.concatenate([y, 1.0 - y[anchors]])


@st.composite
def data_sets(draw):
    """(X, y): n rows of d generic (full-rank) features and labels from a logistic model with an intercept."""
    d = draw(st.integers(*DIMENSIONS))
    n = draw(st.integers(*ROWS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = features(rng, n, d)
    w_true = 1.5 * rng.standard_normal(d) / np.sqrt(d)
    b_true = draw(reals(-1.0, 1.0))
    return labels_and_anchors(rng, X, X @ w_true + b_true)


COLLINEAR_KINDS = ("duplicated column", "constant column", "sum of two columns")


@st.composite
def collinear_data_sets(draw):
    """(X, y, kind): features with one column that is a linear combination of the others or of the intercept."""
    kind = draw(st.sampled_from(COLLINEAR_KINDS))
    d = draw(st.integers(2 if kind == "sum of two columns" else 1, 3))
    n = draw(st.integers(*ROWS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = features(rng, n, d)
    X, y = labels_and_anchors(rng, base, base @ (1.5 * rng.standard_normal(d) / np.sqrt(d)) + rng.uniform(-1, 1))
    scale = draw(reals(0.5, 2.0))
    if kind == "duplicated column":
        extra = scale * X[:, :1]
    elif kind == "constant column":
        extra = np.full((len(X), 1), scale)
    else:
        extra = X[:, :1] + scale * X[:, 1:2]
    position = draw(st.integers(0, d))
    return np.insert(X, [position], extra, axis=1), y, kind


def fit(student, X, y):
    """The student's (w, b) as a (d,) array and a float, with clear messages for malformed results."""
    call = call_text("fit_logistic", X, y)
    result = student.fit_logistic(X, y)
    if not (isinstance(result, tuple) and len(result) == 2):
        shape = (f"a tuple of {len(result)} values" if isinstance(result, tuple)
                 else f"an array of shape {np.shape(result)}")
        raise AssertionError(f"fit_logistic returned {shape}, but should return a tuple (w, b) [{call}]")
    w, b = result
    assert_shape(w, (X.shape[1],), what="w", call=call)
    if np.size(b) != 1 or np.ndim(b) > 1:
        raise AssertionError(f"b has shape {np.shape(b)}, but should be a scalar (shape ()) [{call}]")
    assert_finite(w, what="w", call=call)
    assert_finite(b, what="b", call=call)
    return w, float(np.reshape(b, ()))


def log_likelihood_gradient(X, y, w, b):
    """The gradient of (1/n) sum_i log p(y_i | x_i) with respect to (w, b): (d + 1,)."""
    residual = y - expit(X @ w + b)
    return np.append(X.T @ residual, residual.sum()) / len(y)


def assert_first_order_optimal(X, y, w, b, call):
    gradient = log_likelihood_gradient(X, y, w, b)
    note(f"w = {w}, b = {b}, gradient of the mean log-likelihood (w then b) = {gradient}")
    worst = int(np.argmax(np.abs(gradient)))
    name = "b" if worst == X.shape[1] else f"w[{worst}]"
    assert_all(np.abs(gradient) <= GRADIENT_TOL,
               f"the gradient of the mean log-likelihood at the returned (w, b) is {gradient[worst]:.3g} with "
               f"respect to {name}, but must be below {GRADIENT_TOL:g} in absolute value at a maximiser",
               gradient=gradient, call=call)


@prop(points=1, max_examples=20)
@given(case=data_sets())
def fit_logistic_returns_weights_and_an_intercept(student, case):
    """fit_logistic returns a tuple (w, b) of a finite (d,) weight vector and a finite scalar intercept."""
    X, y = case
    fit(student, X, y)


@prop(points=3, max_examples=30)
@given(case=data_sets())
def fit_logistic_satisfies_first_order_optimality(student, case):
    """At the returned (w, b) the gradient of the mean log-likelihood vanishes (below 1e-4 in every coordinate)."""
    X, y = case
    w, b = fit(student, X, y)
    assert_first_order_optimal(X, y, w, b, call_text("fit_logistic", X, y))


@prop(points=2, max_examples=20)
@given(case=collinear_data_sets())
def fit_logistic_reaches_a_maximiser_with_collinear_features(student, case):
    """With collinear columns (duplicated, constant, or sums of others) any maximiser counts, but it must be one."""
    X, y, kind = case
    note(f"collinear features: {kind}")
    w, b = fit(student, X, y)
    assert_first_order_optimal(X, y, w, b, f"{call_text('fit_logistic', X, y)} with a {kind}")


SIZES = (20, 200, 2000)


@prop(points=1, max_examples=10)
@given(fraction=reals(0.05, 0.95), seed=st.integers(0, 2**32 - 1))
def fit_logistic_recovers_the_label_fraction_for_a_constant_feature(student, fraction, seed):
    """With x = (1) in every row, sigmoid(w + b) equals the fraction of ones, which tends to p as n grows."""
    rng = np.random.default_rng(seed)
    for n in SIZES:
        ones = min(max(int(round(fraction * n)), 1), n - 1)  # both labels occur: not separable
        y = rng.permutation(np.arange(n) < ones).astype(np.float64)
        X = np.ones((n, 1))
        call = call_text("fit_logistic", X, y)
        w, b = fit(student, X, y)
        fitted = expit(w[0] + b)
        assert_close(fitted, ones / n, rtol=0, atol=GRADIENT_TOL + 1e-9, what="p(Y=1 | X=(1))",
                     call=f"{call} with {ones} ones in {n} rows")
        assert_all(abs(fitted - fraction) <= 0.5 / n + GRADIENT_TOL + 1e-9,
                   f"p(Y=1 | X=(1)) must tend to p = {fraction:.6g} as n grows (within 1/(2n) for n = {n})",
                   fitted=fitted, call=call)


@prop(points=1, max_examples=10)
@given(case=data_sets(), seed=st.integers(0, 2**32 - 1))
def fit_logistic_is_invariant_to_permuting_and_duplicating_rows(student, case, seed):
    """Shuffling the rows, or fitting the data set repeated twice, gives the same fitted probabilities."""
    X, y = case
    w, b = fit(student, X, y)
    fitted = expit(X @ w + b)
    order = np.random.default_rng(seed).permutation(len(y))
    variants = {"rows permuted": (X[order], y[order]), "data set duplicated": (np.tile(X, (2, 1)), np.tile(y, 2))}
    for name, (X_variant, y_variant) in variants.items():
        w_variant, b_variant = fit(student, X_variant, y_variant)
        assert_close(expit(X @ w_variant + b_variant), fitted, rtol=0, atol=PROBABILITY_TOL,
                     what=f"fitted p(Y=1 | x) with the {name}",
                     call=f"{call_text('fit_logistic', X, y)} vs the same data with the {name}")


@prop(points=2, max_examples=20)
@given(case=data_sets(), seed=st.integers(0, 2**32 - 1))
def fit_logistic_matches_reference(student, reference, case, seed):
    """The fitted probabilities agree with the reference's, on the training rows and on new points."""
    X, y = case
    w, b = fit(student, X, y)
    w_ref, b_ref = reference.fit_logistic(X, y)
    points = np.concatenate([X, X.mean(0) + 2 * X.std(0) * np.random.default_rng(seed).standard_normal(X.shape)])
    assert_close(expit(points @ w + b), expit(points @ w_ref + b_ref), rtol=0, atol=PROBABILITY_TOL,
                 what="fitted p(Y=1 | x)", call=call_text("fit_logistic", X, y))
