"""Properties of predict_proba(w, b, X) = sigmoid(X w + b), w (d,), b (), X (n, d) -> (n,)."""

import numpy as np
from scipy.special import expit

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, reals

DIMENSIONS = (1, 4)
ROWS = (1, 12)
# float32 implementations are right: sigmoid in float32 is accurate to about 1e-7 relative.
PROBABILITY_TOL = 1e-6
REL_TOL = 1e-5
# Log-odds are checked where |score| <= 8, so that 1 - p >= 3e-4 keeps float32's log(1 - p) within 1e-3.
MODERATE_SCORE = 8.0
LOG_ODDS_TOL = 1e-3


@st.composite
def models(draw, weights=(-3.0, 3.0), intercepts=(-3.0, 3.0), features=(-3.0, 3.0)):
    """(w, b, X): a logistic model (w (d,), b a 0-d array) and n points X (n, d)."""
    d = draw(st.integers(*DIMENSIONS))
    n = draw(st.integers(*ROWS))
    w = draw(arrays((d,), *weights))
    b = np.asarray(draw(reals(*intercepts)))
    X = draw(arrays((n, d), *features))
    return w, b, X


def probabilities(student, w, b, X):
    """The student's probabilities, checked to be (n,) and finite."""
    call = call_text("predict_proba", w, b, X)
    p = student.predict_proba(w, b, X)
    assert_shape(p, X.shape[:1], call=call)
    assert_finite(p, call=call)
    return p, call


@prop(points=1)
@given(case=models())
def predict_proba_returns_one_probability_per_row(student, case):
    """The result has shape (n,), one probability in [0, 1] per row of X."""
    w, b, X = case
    p, call = probabilities(student, w, b, X)
    assert_all((p >= 0) & (p <= 1), "probabilities must lie in [0, 1]", p=p, call=call)


@prop(points=3)
@given(case=models())
def predict_proba_is_the_sigmoid_of_the_linear_score(student, case):
    """p(Y=1 | x) = 1 / (1 + exp(-(x.w + b))): a probability, not a 0/1 label."""
    w, b, X = case
    p, call = probabilities(student, w, b, X)
    assert_close(p, expit(X @ w + b), rtol=REL_TOL, atol=PROBABILITY_TOL, what="p(Y=1 | x)", call=call)


@prop(points=2)
@given(case=models(weights=(-2.0, 2.0), intercepts=(-2.0, 2.0), features=(-1.5, 1.5)))
def predict_proba_log_odds_are_linear_in_x(student, case):
    """log(p / (1 - p)) = x.w + b: the log-odds are the linear score (checked where |x.w + b| <= 8)."""
    w, b, X = case
    p, call = probabilities(student, w, b, X)
    moderate = np.abs(X @ w + b) <= MODERATE_SCORE
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds = np.log(p[moderate]) - np.log1p(-p[moderate])
    assert_finite(log_odds, call=call, what="log(p / (1 - p))")
    assert_close(log_odds, (X @ w + b)[moderate], rtol=0, atol=LOG_ODDS_TOL, what="log(p / (1 - p))", call=call)


@prop(points=1)
@given(case=models())
def predict_proba_of_the_opposite_model_is_the_complement(student, case):
    """Negating w and b swaps the classes: predict_proba(-w, -b, X) = 1 - predict_proba(w, b, X)."""
    w, b, X = case
    p, _ = probabilities(student, w, b, X)
    q, call = probabilities(student, -w, -b, X)
    assert_close(p + q, np.ones_like(p), rtol=0, atol=2 * PROBABILITY_TOL, what="p(w, b) + p(-w, -b)", call=call)
    assert_close(p, expit(X @ w + b), rtol=REL_TOL, atol=PROBABILITY_TOL, what="p(Y=1 | x)", call=call)


@prop(points=2)
@given(case=models(), magnitude=reals(400.0, 1000.0))
def predict_proba_stays_finite_for_extreme_scores(student, case, magnitude):
    """For scores x.w + b as large as +-2000 the probabilities stay finite: 1 for large positive, 0 for negative."""
    w, b, X = case
    if np.linalg.norm(w) < 0.1:
        w = w + 0.5  # a direction in which the points can be moved
    # Move each point along w so that its score becomes +-magnitude * (1 + i / n), alternating in sign.
    n = len(X)
    targets = magnitude * (1.0 + np.arange(n) / n) * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X = X + ((targets - (X @ w + b)) / (w @ w))[:, None] * w
    p, call = probabilities(student, w, b, X)
    assert_close(p, expit(X @ w + b), rtol=REL_TOL, atol=PROBABILITY_TOL, what="p(Y=1 | x)", call=call)


@prop(points=1)
@given(case=models())
def predict_proba_matches_reference(student, reference, case):
    """The probabilities agree with the reference solution to float32 precision."""
    w, b, X = case
    p, call = probabilities(student, w, b, X)
    assert_close(p, reference.predict_proba(w, b, X), rtol=REL_TOL, atol=PROBABILITY_TOL, call=call)
