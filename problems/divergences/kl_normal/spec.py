"""Properties of kl_normal(mu_q, sigma_q, mu_p, sigma_p) = KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2))."""

import numpy as np

from grader.spec import FLOAT32_HALF_ULP, assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, broadcastable_shapes, reals

MEANS = (-10.0, 10.0)
SIGMAS = (0.1, 10.0)
# float32 implementations are right: allow their rounding (about 1e-7 relative) with a margin.
ZERO_TOL = 1e-5
REL_TOL = 1e-4


def mean_rounding(mu_q, mu_p, sigma_p):
    """What float32's rounding of the means alone moves the KL by, elementwise.

    Each mean is rounded by up to 2^-24 |mu|, an absolute error that is large against sigma_p where the means are
    large and sigma_p small, and dKL/dmu_q = -dKL/dmu_p = (mu_q - mu_p) / sigma_p^2: the KL moves by up to
    |mu_q - mu_p| (|mu_q| + |mu_p|) / sigma_p^2 * 2^-24, not relative to the KL (the roundings of the sigmas, of
    the subtraction and of the divisions are, and REL_TOL covers them). Under x -> 0.2 x + 10, means near 5 go to 11
    while sigma = 0.1 goes to 0.02: |mu| / sigma = 550, and a float32 KL of 0.1 is off by up to 1.1 times
    REL_TOL |KL| + ZERO_TOL (measured on 1e7 such maps); with this term added, at most 0.31 of the tolerance.
    """
    return np.abs(mu_q - mu_p) * (np.abs(mu_q) + np.abs(mu_p)) / sigma_p**2 * FLOAT32_HALF_ULP


@st.composite
def gaussian_pairs(draw):
    """Broadcastable arrays (mu_q, sigma_q, mu_p, sigma_p) and their broadcast shape."""
    shapes = draw(broadcastable_shapes(4))
    mu_q = draw(arrays(shapes.input_shapes[0], *MEANS))
    sigma_q = draw(arrays(shapes.input_shapes[1], *SIGMAS))
    mu_p = draw(arrays(shapes.input_shapes[2], *MEANS))
    sigma_p = draw(arrays(shapes.input_shapes[3], *SIGMAS))
    return (mu_q, sigma_q, mu_p, sigma_p), shapes.result_shape


def exact_kl(mu_q, sigma_q, mu_p, sigma_p):
    """Closed form, computed in the grader for Monte Carlo comparisons' sanity only."""
    return np.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5


@prop(points=1)
@given(gaussian_pairs())
def kl_broadcasts_over_its_arguments(student, case):
    """The result has the broadcast shape of the four arguments, one KL per element."""
    args, shape = case
    kl = student.kl_normal(*args)
    assert_shape(kl, shape, call=call_text("kl_normal", *args))


@prop(points=2)
@given(gaussian_pairs())
def kl_is_nonnegative(student, case):
    """KL(q || p) is never negative (Gibbs' inequality) and always finite for sigma > 0."""
    args, _ = case
    kl = student.kl_normal(*args)
    call = call_text("kl_normal", *args)
    assert_finite(kl, call=call)
    assert_all(kl >= -ZERO_TOL, "KL must be >= 0", kl=kl, call=call)


@prop(points=1)
@given(mu=reals(*MEANS), sigma=reals(*SIGMAS), shift=reals(0.5, 5.0), stretch=reals(1.5, 4.0))
def kl_is_zero_iff_distributions_coincide(student, mu, sigma, shift, stretch):
    """KL(q || p) is 0 when q = p, and strictly positive when the mean or the scale differs."""
    mu, sigma = np.asarray(mu), np.asarray(sigma)  # array arguments arrive as tensors
    same = student.kl_normal(mu, sigma, mu, sigma)
    assert_close(same, 0.0, atol=ZERO_TOL, rtol=0, what="KL(q || q)",
                 call=call_text("kl_normal", mu, sigma, mu, sigma))
    moved = student.kl_normal(mu + shift * sigma, sigma, mu, sigma)
    assert_close(moved, shift**2 / 2, rtol=REL_TOL, atol=ZERO_TOL, what="KL between shifted copies",
                 call=call_text("kl_normal", mu + shift * sigma, sigma, mu, sigma))
    scaled = student.kl_normal(mu, sigma * stretch, mu, sigma)
    assert_all(scaled > 1e-3, "KL between Gaussians of different scales must be > 0", kl=scaled,
               call=call_text("kl_normal", mu, sigma * stretch, mu, sigma))


@prop(points=1)
@given(mu_q=reals(*MEANS), mu_p=reals(*MEANS), sigma_q=reals(0.2, 5.0), ratio=reals(1.5, 4.0))
def kl_is_not_symmetric(student, mu_q, mu_p, sigma_q, ratio):
    """KL is not symmetric: KL(q || p) differs from KL(p || q) when the scales differ."""
    mu_q, mu_p, sigma_q, sigma_p = map(np.asarray, (mu_q, mu_p, sigma_q, sigma_q * ratio))
    forward = student.kl_normal(mu_q, sigma_q, mu_p, sigma_p)
    backward = student.kl_normal(mu_p, sigma_p, mu_q, sigma_q)
    gap = abs(exact_kl(mu_q, sigma_q, mu_p, sigma_p) - exact_kl(mu_p, sigma_p, mu_q, sigma_q))
    assert_all(np.abs(forward - backward) > 0.5 * gap,
               "KL(q || p) and KL(p || q) must differ for Gaussians of different scales",
               forward=forward, backward=backward,
               call=f"{call_text('kl_normal', mu_q, sigma_q, mu_p, sigma_p)} vs its swap")


@prop(points=1)
@given(case=gaussian_pairs(), a=reals(-5.0, 5.0).filter(lambda a: abs(a) > 0.2), b=reals(-10.0, 10.0))
def kl_is_invariant_under_affine_maps(student, case, a, b):
    """Applying the same map x -> a x + b to both distributions leaves the KL unchanged."""
    (mu_q, sigma_q, mu_p, sigma_p), _ = case
    mapped = (a * mu_q + b, abs(a) * sigma_q, a * mu_p + b, abs(a) * sigma_p)
    before = student.kl_normal(mu_q, sigma_q, mu_p, sigma_p)
    after = student.kl_normal(*mapped)
    # Both KLs carry the rounding of their own means (see mean_rounding); allow twice each.
    slack = 2 * (mean_rounding(mu_q, mu_p, sigma_p) + mean_rounding(mapped[0], mapped[2], mapped[3]))
    assert_close(after, before, rtol=REL_TOL, atol=ZERO_TOL + np.broadcast_to(slack, np.shape(before)),
                 what="KL after the affine map",
                 call=f"kl_normal after x -> {a:.4g} x + {b:.4g}")


# A stochastic assertion: the Monte Carlo mean of log q - log p has a known standard error. The
# bound of 6 standard errors makes a false failure less likely than 2e-9 per example.
MC_SAMPLES = 200_000
MC_Z = 6.0


@prop(points=2, max_examples=10, false_failure=10 * 2e-9)
@given(mu_q=reals(-3.0, 3.0), sigma_q=reals(0.3, 3.0), mu_p=reals(-3.0, 3.0), sigma_p=reals(0.3, 3.0),
       seed=st.integers(0, 2**32 - 1))
def kl_agrees_with_monte_carlo_estimate(student, mu_q, sigma_q, mu_p, sigma_p, seed):
    """KL(q || p) agrees with a Monte Carlo estimate of E_q[log q(x) - log p(x)]."""
    x = mu_q + sigma_q * np.random.default_rng(seed).standard_normal(MC_SAMPLES)
    log_ratio = (np.log(sigma_p / sigma_q) - 0.5 * ((x - mu_q) / sigma_q) ** 2
                 + 0.5 * ((x - mu_p) / sigma_p) ** 2)
    estimate = log_ratio.mean()
    stderr = log_ratio.std(ddof=1) / np.sqrt(MC_SAMPLES)
    kl = student.kl_normal(*map(np.asarray, (mu_q, sigma_q, mu_p, sigma_p)))
    assert_close(kl, estimate, rtol=0.0, atol=MC_Z * stderr + 1e-6, what="KL",
                 call=call_text("kl_normal", mu_q, sigma_q, mu_p, sigma_p) + f" vs Monte Carlo with {MC_SAMPLES} samples")


@prop(points=2)
@given(gaussian_pairs())
def kl_matches_reference(student, reference, case):
    """KL agrees with the reference solution to float32 precision on every element."""
    args, _ = case
    assert_close(student.kl_normal(*args), reference.kl_normal(*args), rtol=REL_TOL, atol=ZERO_TOL,
                 call=call_text("kl_normal", *args))
