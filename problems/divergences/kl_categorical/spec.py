"""Properties of kl_categorical(p, q) = sum_i p_i log(p_i / q_i) over the last dimension, (..., k) -> (...)."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import probability_vectors, reals

CATEGORIES = (2, 6)
BATCHES = ((), (2,), (2, 3))
# float32 implementations are right: allow their rounding (about 1e-7 relative) with a margin.
ZERO_TOL = 1e-5
REL_TOL = 1e-4


@st.composite
def distribution_pairs(draw, q_has_zeros=True):
    """(p, q) of a shared shape (*batch, k); p may have exact zeros, q too unless ``q_has_zeros`` is False."""
    k = draw(st.integers(*CATEGORIES))
    batch = draw(st.sampled_from(BATCHES))
    p = draw(probability_vectors(k, batch=batch))
    q = draw(probability_vectors(k, batch=batch, allow_zeros=q_has_zeros))
    return p, q


def kl_on_the_support(p, q):
    """sum over p_i > 0 of p_i log(p_i / q_i) for q > 0 wherever p > 0, computed in the grader."""
    positive = p > 0
    return np.where(positive, p * np.log(np.where(positive, p, 1.0) / np.where(positive, q, 1.0)), 0.0).sum(-1)


@prop(points=2)
@given(case=distribution_pairs(q_has_zeros=False))
def kl_categorical_satisfies_gibbs_inequality(student, case):
    """For q > 0, KL(p || q) is finite, >= 0, 0 for p = q, and at least ||p - q||_1^2 / 2 (Pinsker)."""
    p, q = case
    call = call_text("kl_categorical", p, q)
    kl = student.kl_categorical(p, q)
    assert_finite(kl, call=call)
    assert_all(kl >= -ZERO_TOL, "KL must be >= 0", kl=kl, call=call)
    pinsker = np.abs(p - q).sum(-1) ** 2 / 2
    assert_all(kl >= pinsker - ZERO_TOL, "KL(p || q) must be at least ||p - q||_1^2 / 2 (Pinsker's inequality)",
               kl=kl, bound=pinsker, call=call)
    same = student.kl_categorical(p, p)
    assert_close(same, np.zeros(p.shape[:-1]), rtol=0, atol=ZERO_TOL, what="KL(p || p)",
                 call=call_text("kl_categorical", p, p))


@st.composite
def mixtures(draw):
    """Two pairs (p1, q1), (p2, q2) of one shape, q's without zeros, and a mixing weight in [0, 1]."""
    p1, q1 = draw(distribution_pairs(q_has_zeros=False))
    p2 = draw(probability_vectors(p1.shape[-1], batch=p1.shape[:-1]))
    q2 = draw(probability_vectors(p1.shape[-1], batch=p1.shape[:-1], allow_zeros=False))
    return (p1, q1), (p2, q2), draw(reals(0.0, 1.0))


@prop(points=2)
@given(case=mixtures())
def kl_categorical_is_jointly_convex(student, case):
    """KL(l p1 + (1-l) p2 || l q1 + (1-l) q2) <= l KL(p1 || q1) + (1-l) KL(p2 || q2) for l in [0, 1]."""
    (p1, q1), (p2, q2), weight = case
    p, q = weight * p1 + (1 - weight) * p2, weight * q1 + (1 - weight) * q2
    kls = []
    for pair in ((p1, q1), (p2, q2), (p, q)):  # every q > 0, so every KL is finite
        kls.append(student.kl_categorical(*pair))
        assert_finite(kls[-1], call=call_text("kl_categorical", *pair))
    bound = weight * kls[0] + (1 - weight) * kls[1]
    mixed = kls[2]
    call = f"{call_text('kl_categorical', p, q)} with l = {weight:.6g}"
    assert_all(mixed <= bound + REL_TOL * np.abs(bound) + ZERO_TOL,
               "KL of the mixtures must not exceed the mixture of the KLs (joint convexity)",
               kl_of_mixtures=mixed, mixture_of_kls=bound, call=call)


@st.composite
def pairs_and_merges(draw):
    """(p, q, i, j): a pair with zeros in both (so infinite KLs occur too) and two categories i < j."""
    p, q = draw(distribution_pairs())
    k = p.shape[-1]
    i = draw(st.integers(0, k - 2))
    return p, q, i, draw(st.integers(i + 1, k - 1))


def merge(probabilities, i, j):
    """Categories i and j merged into one (at position i)."""
    merged = probabilities.copy()
    merged[..., i] += merged[..., j]
    return np.delete(merged, j, axis=-1)


@prop(points=2)
@given(case=pairs_and_merges())
def kl_categorical_never_increases_when_categories_merge(student, case):
    """Merging two categories in both p and q never increases the KL (data-processing inequality)."""
    p, q, i, j = case
    kl = student.kl_categorical(p, q)
    merged_p, merged_q = merge(p, i, j), merge(q, i, j)
    merged = student.kl_categorical(merged_p, merged_q)
    assert_all(merged <= kl + REL_TOL * np.abs(kl) + ZERO_TOL,
               f"merging categories {i} and {j} must not increase the KL", kl=kl, kl_after_merging=merged,
               call=f"{call_text('kl_categorical', p, q)} vs {call_text('kl_categorical', merged_p, merged_q)}")


@st.composite
def mismatched_supports(draw):
    """(p, q) where, in every row, q puts zero mass on some category that p gives positive mass."""
    p, q = draw(distribution_pairs())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows_p, rows_q = p.reshape(-1, p.shape[-1]), q.reshape(-1, q.shape[-1]).copy()
    for row_p, row_q in zip(rows_p, rows_q):
        j = rng.choice(np.flatnonzero(row_p > 0))
        row_q[j] = 0.0
        if row_q.sum() == 0:
            row_q[(j + 1) % len(row_q)] = 1.0
        row_q /= row_q.sum()
    return p, rows_q.reshape(q.shape)


@prop(points=1)
@given(case=mismatched_supports())
def kl_categorical_is_infinite_on_support_mismatch(student, case):
    """KL(p || q) is +inf as soon as some category has p_i > 0 but q_i = 0."""
    p, q = case
    kl = student.kl_categorical(p, q)
    assert_all(np.isposinf(kl), "KL must be +inf where p_i > 0 = q_i", kl=kl, call=call_text("kl_categorical", p, q))


@st.composite
def pairs_with_zeros_in_p(draw):
    """(p, q) with q > 0 and at least one zero entry in every row of p."""
    p, q = draw(distribution_pairs(q_has_zeros=False))
    zero = draw(st.integers(1, p.shape[-1] - 1))  # probability_vectors keeps entry 0 positive
    p = p.copy()
    p[..., zero] = 0.0
    return p / p.sum(-1, keepdims=True), q


@prop(points=1)
@given(case=pairs_with_zeros_in_p())
def kl_categorical_ignores_zero_probability_categories(student, case):
    """Categories with p_i = 0 contribute 0 log(0 / q_i) = 0: the KL stays finite (no NaN) and exact."""
    p, q = case
    call = call_text("kl_categorical", p, q)
    kl = student.kl_categorical(p, q)
    assert_finite(kl, call=call)
    assert_close(kl, kl_on_the_support(p, q), rtol=REL_TOL, atol=ZERO_TOL, call=call)


@st.composite
def uniform_pairs(draw):
    """(k, m): p uniform on the first m of k categories, q uniform on all k; KL(p || q) = log(k / m)."""
    k = draw(st.integers(*CATEGORIES))
    return k, draw(st.integers(1, k))


@prop(points=1)
@given(case=uniform_pairs())
def kl_categorical_is_measured_in_nats(student, case):
    """The KL uses natural logarithms: KL([1, 0] || [1/2, 1/2]) = log 2 nats (not 1 bit)."""
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    assert_close(student.kl_categorical(p, q), np.log(2.0), rtol=REL_TOL, atol=ZERO_TOL,
                 call=call_text("kl_categorical", p, q))
    k, m = case
    p, q = np.where(np.arange(k) < m, 1.0 / m, 0.0), np.full(k, 1.0 / k)
    assert_close(student.kl_categorical(p, q), np.log(k / m), rtol=REL_TOL, atol=ZERO_TOL,
                 call=call_text("kl_categorical", p, q))


@prop(points=1)
@given(case=distribution_pairs())
def kl_categorical_matches_reference(student, reference, case):
    """The KL has shape (...) and agrees with the reference solution, +inf included, on every row."""
    p, q = case
    call = call_text("kl_categorical", p, q)
    kl = student.kl_categorical(p, q)
    assert_shape(kl, p.shape[:-1], call=call)
    assert_close(kl, reference.kl_categorical(p, q), rtol=REL_TOL, atol=ZERO_TOL, call=call)
