"""Properties of exact_posterior(x, W, b, s) = (mean (..., k), cov (..., k, k)) of p(z | x) in the model
z ~ N(0, I_k), x | z ~ N(W z + b, s^2 I_d)."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays

common = unit_helpers(__file__)

BATCHES = ((), (2,), (2, 3))
DATA = (-5.0, 5.0)
# float32 implementations are right: the posterior precision has condition number up to about 500, so a
# float32 inverse loses about 500 * 6e-8 relative; the catalogued mistakes are off by more than 0.01.
ZERO_TOL = 1e-4
REL_TOL = 1e-4


@st.composite
def posterior_arguments(draw, orthogonal=False):
    """(x, W, b, s) with x of shape (*batch, d)."""
    W, b, s = draw(common.models(orthogonal))
    batch = draw(st.sampled_from(BATCHES))
    return draw(arrays((*batch, W.shape[0]), *DATA)), W, b, s


def _posterior(student, x, W, b, s):
    """The student's (mean, cov), shape-checked, with cov broadcast to (..., k, k)."""
    call = call_text("exact_posterior", x, W, b, s)
    result = student.exact_posterior(x, W, b, s)
    if not isinstance(result, tuple) or len(result) != 2:
        raise AssertionError(f"exact_posterior must return a tuple (mean, cov), but returned "
                             f"{type(result).__name__} [{call}]")
    mean, cov = result
    batch, k = x.shape[:-1], W.shape[1]
    assert_shape(mean, (*batch, k), call=call, what="the mean")
    if np.shape(cov) != (k, k):
        assert_shape(cov, (*batch, k, k), call=call, what="the covariance")
    assert_finite(mean, call=call, what="the mean")
    assert_finite(cov, call=call, what="the covariance")
    return mean, np.broadcast_to(cov, (*batch, k, k)), call


@prop(points=1)
@given(args=posterior_arguments())
def exact_posterior_returns_a_mean_and_a_covariance_of_the_right_shapes(student, args):
    """The result is a tuple (mean, cov): mean of shape (..., k), cov of shape (..., k, k) (or (k, k))."""
    _posterior(student, *args)


@st.composite
def posterior_arguments_and_offsets(draw):
    """(x, W, b, s, offsets): offsets (5, *batch, k) place five latent points in the posterior's typical set."""
    x, W, b, s = draw(posterior_arguments())
    return x, W, b, s, draw(arrays((5, *x.shape[:-1], W.shape[1]), -3.0, 3.0))


@prop(points=3)
@given(args=posterior_arguments_and_offsets())
def exact_posterior_density_is_proportional_to_the_joint(student, args):
    """log N(z; mean, cov) - log p(x | z) - log p(z) is the same for every z: the density is p(x, z) / p(x)."""
    x, W, b, s, offsets = args
    mean, cov, call = _posterior(student, x, W, b, s)
    k = W.shape[1]
    true_mean, true_cov = common.posterior(x, W, b, s)
    z = true_mean + offsets @ np.linalg.cholesky(true_cov).T  # (5, *batch, k)
    try:
        chol = np.linalg.cholesky((cov + np.swapaxes(cov, -1, -2)) / 2)
    except np.linalg.LinAlgError:
        raise AssertionError(f"the covariance is not positive definite, so N(mean, cov) is not a density [{call}]") from None
    white = np.linalg.solve(chol, (z - mean)[..., None])[..., 0]
    log_q = -0.5 * (white**2).sum(-1) - np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1) - k * common.LOG_2PI / 2
    log_joint = common.log_joint(x, W, b, s, z)
    gap = log_q - log_joint  # must equal -log p(x) for every z
    assert_close(gap - gap[0], np.zeros_like(gap), rtol=0, atol=1e-3,
                 what="log N(z; mean, cov) - log p(x, z), relative to its value at the first z",
                 call=call + f" at z = {np.array2string(z[:, (0,) * (z.ndim - 2)], precision=3)}...")


@prop(points=1)
@given(args=posterior_arguments())
def exact_posterior_covariance_is_symmetric_positive_definite_and_below_the_prior(student, args):
    """cov is symmetric with eigenvalues in (0, 1]: observing x never increases the uncertainty about z."""
    _, cov, call = _posterior(student, *args)
    assert_close(cov, np.swapaxes(cov, -1, -2), rtol=0, atol=ZERO_TOL, what="cov - cov^T", call=call)
    eigenvalues = np.linalg.eigvalsh((cov + np.swapaxes(cov, -1, -2)) / 2)
    assert_all(eigenvalues > 0, "the covariance must be positive definite", eigenvalues=eigenvalues, call=call)
    assert_all(eigenvalues <= 1 + ZERO_TOL, "the posterior covariance must be below the prior's, I (eigenvalues <= 1)",
               eigenvalues=eigenvalues, call=call)


@prop(points=2)
@given(args=posterior_arguments())
def exact_posterior_mean_maximises_the_joint(student, args):
    """The mean is the mode of p(x | z) p(z): the gradient W^T (x - W mean - b) / s^2 - mean vanishes there."""
    x, W, b, s = args
    mean, _, call = _posterior(student, x, W, b, s)
    gradient = ((x - mean @ W.T - b) / s**2) @ W - mean
    scale = np.abs((x - b) @ W / s**2).max(initial=1.0)
    assert_close(gradient, np.zeros_like(gradient), rtol=0, atol=ZERO_TOL * scale,
                 what="the gradient of log p(x, z) at z = mean", call=call)


@prop(points=1)
@given(args=posterior_arguments(orthogonal=True))
def exact_posterior_is_diagonal_for_orthogonal_columns(student, args):
    """If W = U diag(c) with orthonormal U, then cov = diag(s^2 / (s^2 + c^2)) and mean = c U^T (x - b) / (s^2 + c^2)."""
    x, W, b, s = args
    mean, cov, call = _posterior(student, x, W, b, s)
    scales = np.linalg.norm(W, axis=0)
    variances = s**2 / (s**2 + scales**2)
    assert_close(cov, np.broadcast_to(np.diag(variances), cov.shape), rtol=REL_TOL, atol=ZERO_TOL,
                 what="the covariance", call=call)
    assert_close(mean, (x - b) @ W / (s**2 + scales**2), rtol=REL_TOL, atol=ZERO_TOL, what="the mean", call=call)


@prop(points=2)
@given(args=posterior_arguments())
def exact_posterior_matches_reference(student, reference, args):
    """The mean and the covariance agree with the reference solution to float32 precision."""
    mean, cov, call = _posterior(student, *args)
    expected_mean, expected_cov = reference.exact_posterior(*args)
    assert_close(mean, expected_mean, rtol=REL_TOL, atol=ZERO_TOL, what="the mean", call=call)
    assert_close(cov, expected_cov, rtol=REL_TOL, atol=ZERO_TOL, what="the covariance", call=call)
