"""Properties of kl_mvn(mu0, cov0, mu1, cov1) = KL(N(mu0, cov0) || N(mu1, cov1)), mu (..., d), cov (..., d, d)."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, reals, spd_matrices

DIMENSIONS = (1, 4)
BATCHES = ((), (2,), (2, 3))
MEANS = (-5.0, 5.0)
VARIANCES = (0.1, 10.0)
MAX_CONDITION = 100.0
# float32 implementations are right: a solve or an inverse of a matrix of condition number 100 loses
# about 100 * 6e-8 relative, so allow 1e-4 both relative and absolute (measured float32 errors stay
# below 6% of that; the catalogued mistakes are off by more than 0.05).
ZERO_TOL = 1e-4
REL_TOL = 1e-4


@st.composite
def gaussian_pairs(draw, max_condition=MAX_CONDITION):
    """(mu0, cov0, mu1, cov1) with a shared batch shape and full (non-diagonal) SPD covariances."""
    d = draw(st.integers(*DIMENSIONS))
    batch = draw(st.sampled_from(BATCHES))
    mu0 = draw(arrays((*batch, d), *MEANS))
    mu1 = draw(arrays((*batch, d), *MEANS))
    cov0 = draw(spd_matrices(d, batch=batch, max_condition=max_condition))
    cov1 = draw(spd_matrices(d, batch=batch, max_condition=max_condition))
    return (mu0, cov0, mu1, cov1), batch


@st.composite
def invertible_maps(draw, d):
    """(A, b): A = U diag(s) V^T with random orthogonal U, V (reflections included) and singular
    values s in [0.5, 2], so that cond(A) <= 4; b a shift."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    singular_values = np.exp(rng.uniform(np.log(0.5), np.log(2.0), size=d))
    u, _ = np.linalg.qr(rng.standard_normal((d, d)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    shift = draw(arrays((d,), *MEANS))
    return (u * singular_values) @ v.T, shift


def symmetric(matrix):
    """The symmetric part: A cov A^T is symmetric only up to rounding, and a covariance must be exactly so."""
    return (matrix + np.swapaxes(matrix, -1, -2)) / 2


def univariate_kl(mu0, var0, mu1, var1):
    """Closed-form KL(N(mu0, var0) || N(mu1, var1)), elementwise, computed in the grader."""
    return 0.5 * (var0 / var1 + (mu1 - mu0) ** 2 / var1 - 1 + np.log(var1 / var0))


@prop(points=1)
@given(case=gaussian_pairs())
def kl_mvn_has_the_batch_shape(student, case):
    """The result has the batch shape (...) of the arguments: one KL per pair of Gaussians."""
    args, batch = case
    kl = student.kl_mvn(*args)
    assert_shape(kl, batch, call=call_text("kl_mvn", *args))


@prop(points=2)
@given(case=gaussian_pairs())
def kl_mvn_is_nonnegative(student, case):
    """KL(N0 || N1) is finite and never negative (Gibbs' inequality) for SPD covariances."""
    args, _ = case
    kl = student.kl_mvn(*args)
    call = call_text("kl_mvn", *args)
    assert_finite(kl, call=call)
    assert_all(kl >= -ZERO_TOL, "KL must be >= 0", kl=kl, call=call)


@prop(points=1)
@given(case=gaussian_pairs(), direction_seed=st.integers(0, 2**32 - 1), shift=reals(0.5, 3.0),
       stretch=reals(1.5, 4.0))
def kl_mvn_is_zero_iff_distributions_coincide(student, case, direction_seed, shift, stretch):
    """KL(N0 || N1) is 0 when the Gaussians are equal, and positive when the mean or the covariance differs."""
    (mu, cov, _, _), batch = case
    same = student.kl_mvn(mu, cov, mu, cov)
    assert_close(same, np.zeros(batch), rtol=0, atol=ZERO_TOL, what="KL(N0 || N0)",
                 call=call_text("kl_mvn", mu, cov, mu, cov))
    # Move the mean by `shift` Mahalanobis units: the KL is then exactly shift^2 / 2.
    direction = np.random.default_rng(direction_seed).standard_normal(mu.shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    moved = mu + shift * (np.linalg.cholesky(cov) @ direction[..., None])[..., 0]
    kl = student.kl_mvn(moved, cov, mu, cov)
    assert_close(kl, np.full(batch, shift**2 / 2), rtol=REL_TOL, atol=ZERO_TOL, what="KL between shifted copies",
                 call=call_text("kl_mvn", moved, cov, mu, cov))
    kl = student.kl_mvn(mu, stretch * cov, mu, cov)
    assert_all(kl > 1e-3, "KL between Gaussians with different covariances must be > 0", kl=kl,
               call=call_text("kl_mvn", mu, stretch * cov, mu, cov))


@st.composite
def diagonal_pairs(draw):
    """(mu0, var0, mu1, var1): means and the diagonals of two diagonal covariances, shape (*batch, d)."""
    d = draw(st.integers(*DIMENSIONS))
    batch = draw(st.sampled_from(BATCHES))
    mu0, mu1 = (draw(arrays((*batch, d), *MEANS)) for _ in range(2))
    var0, var1 = (draw(arrays((*batch, d), *VARIANCES)) for _ in range(2))
    return mu0, var0, mu1, var1


@prop(points=2)
@given(case=diagonal_pairs())
def kl_mvn_is_sum_of_univariate_kls_for_diagonal_covariances(student, case):
    """For diagonal covariances the KL is the sum of the univariate KLs of the coordinates."""
    mu0, var0, mu1, var1 = case
    cov0, cov1 = var0[..., None] * np.eye(var0.shape[-1]), var1[..., None] * np.eye(var1.shape[-1])
    expected = univariate_kl(mu0, var0, mu1, var1).sum(-1)
    assert_close(student.kl_mvn(mu0, cov0, mu1, cov1), expected, rtol=REL_TOL, atol=ZERO_TOL,
                 what="KL for diagonal covariances", call=call_text("kl_mvn", mu0, cov0, mu1, cov1))


@st.composite
def gaussian_pairs_and_maps(draw):
    """A pair of Gaussians and an invertible affine map (A, b) of their dimension."""
    # Condition numbers 20 (covariances) and 4 (map) keep the mapped covariances below 20 * 16 = 320.
    args, batch = draw(gaussian_pairs(max_condition=20.0))
    return args, draw(invertible_maps(args[0].shape[-1]))


@prop(points=2)
@given(case=gaussian_pairs_and_maps())
def kl_mvn_is_invariant_under_affine_maps(student, case):
    """Applying the same invertible map x -> A x + b to both Gaussians leaves the KL unchanged."""
    (mu0, cov0, mu1, cov1), (a, b) = case
    before = student.kl_mvn(mu0, cov0, mu1, cov1)
    mapped = (mu0 @ a.T + b, symmetric(a @ cov0 @ a.T), mu1 @ a.T + b, symmetric(a @ cov1 @ a.T))
    after = student.kl_mvn(*mapped)
    assert_finite(after, call=call_text("kl_mvn", *mapped), what="KL after the affine map")
    assert_close(after, before, rtol=REL_TOL, atol=ZERO_TOL, what="KL after the affine map",
                 call=f"kl_mvn after x -> A x + b with A = {np.array2string(a, precision=3)}")


@prop(points=2)
@given(case=gaussian_pairs())
def kl_mvn_matches_reference(student, reference, case):
    """For full (non-diagonal) covariances the KL is finite and agrees with the reference solution."""
    args, _ = case
    call = call_text("kl_mvn", *args)
    kl = student.kl_mvn(*args)
    assert_finite(kl, call=call)
    assert_close(kl, reference.kl_mvn(*args), rtol=REL_TOL, atol=ZERO_TOL, call=call)
