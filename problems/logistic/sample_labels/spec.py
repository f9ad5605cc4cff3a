"""Properties of sample_labels(w, b, X, generator): y_i ~ Bernoulli(sigmoid(x_i.w + b)) independently, (n,)."""

import numpy as np
from scipy.special import expit, logit
from scipy.stats import binomtest

from grader.spec import assert_all, assert_shape, call_text, generator, given, note, prop, st
from grader.strategies import arrays, reals

DIMENSIONS = (1, 3)
GROUPS = 4
GROUP_SIZE = 2000
# Each group's count of ones is Binomial(GROUP_SIZE, p_g) for a correct sampler. A two-sided exact binomial
# test at level 2.5e-7 per group (4 groups, Bonferroni) bounds the false-failure probability of one
# evaluation by 1e-6; with max_examples = 10 that is at most 1e-5 per grading. Group probabilities stay
# at least 0.1 away from 0, 1/2 and 1, so every catalogued mistake is off by more than 18 standard errors.
GROUP_LEVEL = 2.5e-7
# With |score| >= 200, p(Y=1) is 1 or below 1e-86: a label on the wrong side needs a uniform draw of exactly
# 0 (chance 2^-24 per row in float32, 2^-53 in float64), so 8 rows fail falsely with probability < 5e-7.
EXTREME_SCORE = 200.0
EXTREME_ROWS = 8


@st.composite
def models(draw):
    """(w, b): a logistic model with ||w|| >= 0.5 (so that points can be placed at any score)."""
    d = draw(st.integers(*DIMENSIONS))
    w = draw(arrays((d,), -2.0, 2.0))
    if np.linalg.norm(w) < 0.5:
        w = w + np.where(w >= 0, 0.5, -0.5)
    return w, np.asarray(draw(reals(-2.0, 2.0)))


def points_with_scores(w, b, scores, rng):
    """Rows x with x.w + b = scores: random points moved along w onto the wanted scores."""
    X = rng.uniform(-2.0, 2.0, (len(scores), len(w)))
    return X + ((scores - (X @ w + b)) / (w @ w))[:, None] * w


def labels(student, w, b, X, seed):
    """The student's labels, checked to be (n,) and in {0, 1}."""
    call = call_text("sample_labels", w, b, X, f"generator({seed})")
    y = student.sample_labels(w, b, X, generator(seed))
    assert_shape(y, X.shape[:1], call=call)
    assert_all((y == 0) | (y == 1), "every label must be 0 or 1", y=y, call=call)
    return np.asarray(y, dtype=np.float64), call


@st.composite
def group_probabilities(draw):
    """GROUPS probabilities in [0.1, 0.4] or [0.6, 0.9]: away from 1/2 (so flipped labels show) and from 0, 1."""
    values = draw(st.lists(reals(0.1, 0.4), min_size=GROUPS, max_size=GROUPS))
    sides = draw(st.lists(st.booleans(), min_size=GROUPS, max_size=GROUPS))
    return np.array([1.0 - v if side else v for v, side in zip(values, sides)])


@prop(points=2, max_examples=20)
@given(model=models(), n=st.integers(1, 50), seed=st.integers(0, 2**32 - 1), placement=st.integers(0, 2**32 - 1))
def sample_labels_returns_one_binary_label_per_row(student, model, n, seed, placement):
    """The result has shape (n,): one label, 0 or 1, per row of X."""
    w, b = model
    rng = np.random.default_rng(placement)
    X = points_with_scores(w, b, rng.uniform(-4.0, 4.0, n), rng)
    labels(student, w, b, X, seed)


@prop(points=1, max_examples=10, false_failure=10 * 5e-7)
@given(model=models(), seed=st.integers(0, 2**32 - 1), placement=st.integers(0, 2**32 - 1))
def sample_labels_is_certain_where_the_probability_is_zero_or_one(student, model, seed, placement):
    """Rows with a huge positive score always get label 1, rows with a huge negative score label 0."""
    w, b = model
    signs = np.where(np.arange(EXTREME_ROWS) % 2 == 0, 1.0, -1.0)
    rng = np.random.default_rng(placement)
    X = points_with_scores(w, b, signs * EXTREME_SCORE * rng.uniform(1.0, 2.0, EXTREME_ROWS), rng)
    y, call = labels(student, w, b, X, seed)
    assert_all(y == (signs > 0), "labels must be 1 where p(Y=1|x) = 1 and 0 where p(Y=1|x) = 0",
               y=y, p=expit(X @ w + b), call=call)


@prop(points=5, max_examples=10, false_failure=10 * GROUPS * GROUP_LEVEL)
@given(model=models(), probabilities=group_probabilities(), seed=st.integers(0, 2**32 - 1),
       placement=st.integers(0, 2**32 - 1))
def sample_labels_frequencies_match_predict_proba(student, model, probabilities, seed, placement):
    """Among many rows with the same p(Y=1|x), the fraction of ones matches p (exact binomial test)."""
    w, b = model
    rng = np.random.default_rng(placement)
    # GROUPS distinct points, each repeated GROUP_SIZE times, rows shuffled.
    points = points_with_scores(w, b, logit(probabilities), rng)
    group = rng.permutation(np.repeat(np.arange(GROUPS), GROUP_SIZE))
    X = points[group]
    p = expit(X @ w + b)
    y, call = labels(student, w, b, X, seed)
    for g in range(GROUPS):
        rows = group == g
        ones, expected = int(y[rows].sum()), float(p[rows].mean())
        test = binomtest(ones, GROUP_SIZE, expected)
        note(f"group {g}: {ones} ones in {GROUP_SIZE} rows with p = {expected:.6g}, p-value {test.pvalue:.3g}")
        assert_all(test.pvalue >= GROUP_LEVEL,
                   f"{ones} ones among {GROUP_SIZE} rows with p(Y=1|x) = {expected:.4g} is too unlikely for "
                   f"independent Bernoulli labels (binomial test p-value {test.pvalue:.2g} < {GROUP_LEVEL:g}; "
                   f"expected about {expected * GROUP_SIZE:.0f} +- "
                   f"{np.sqrt(GROUP_SIZE * expected * (1 - expected)):.0f})",
                   call=call)


REPRODUCIBILITY_ROWS = 500


@prop(points=2, max_examples=10)
@given(model=models(), seed=st.integers(0, 2**32 - 2), placement=st.integers(0, 2**32 - 1))
def sample_labels_draws_its_randomness_from_the_generator(student, model, seed, placement):
    """Generators seeded alike give the same labels, and differently seeded ones different labels."""
    w, b = model
    rng = np.random.default_rng(placement)
    # Scores in [-1.4, 1.4]: every p in [0.2, 0.8], so two independent draws of 500 labels coincide with
    # probability below 0.68^500 < 1e-80.
    X = points_with_scores(w, b, rng.uniform(-1.4, 1.4, REPRODUCIBILITY_ROWS), rng)
    first, call = labels(student, w, b, X, seed)
    again, _ = labels(student, w, b, X, seed)
    assert_all(first == again, "two calls with generators seeded alike must return the same labels "
               "(draw every random number from the generator argument)",
               differing_rows=int((first != again).sum()), call=call)
    other, _ = labels(student, w, b, X, seed + 1)
    assert_all((first != other).any(), "generators seeded differently must give different labels",
               call=f"{call} vs generator({seed + 1})")
