"""Properties of exact_log_marginal(x, W, b, s) = log N(x; b, W W^T + s^2 I), (..., d) -> (...)."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)
log_evidence = common.log_evidence

BATCHES = ((), (2,), (2, 3))
DATA = (-5.0, 5.0)
# float32 implementations are right: a Cholesky solve with condition number up to 1e3 loses about
# 1e3 * 6e-8 relative; the catalogued mistakes are off by more than 0.05.
ZERO_TOL = 1e-3
REL_TOL = 1e-4


def models(d=None):
    """(W, b, s) with W (d, k) a scaled standard-normal matrix, s in [0.5, 2]."""
    return common.models(noise=(0.5, 2.0), scale=(0.3, 1.5), d=d)


@st.composite
def marginal_arguments(draw):
    """(x, W, b, s) with x of shape (*batch, d)."""
    W, b, s = draw(models())
    batch = draw(st.sampled_from(BATCHES))
    return draw(arrays((*batch, W.shape[0]), *DATA)), W, b, s


@prop(points=1)
@given(args=marginal_arguments())
def exact_log_marginal_has_the_batch_shape(student, args):
    """log p(x) has the batch shape (...) of x: one value per data point."""
    assert_shape(student.exact_log_marginal(*args), args[0].shape[:-1], call=call_text("exact_log_marginal", *args))


@prop(points=3, max_examples=20)
@given(model=models(d=2))
def exact_log_marginal_is_a_normalised_density_with_covariance_W_W_T_plus_s2_I(student, model):
    """In d = 2, exp(log p(x)) integrates to 1 with mean b and covariance W W^T + s^2 I (quadrature on a grid)."""
    W, b, s = model
    # Keep the condition number of the covariance below 100, so that the grid has at most 300 x 300 points.
    shrink = min(1.0, np.sqrt(99 * s**2 / max(np.linalg.eigvalsh(W @ W.T)[-1], 1e-300)))
    W = W * shrink
    cov = W @ W.T + s**2 * np.eye(2)
    eigenvalues = np.linalg.eigvalsh(cov)
    # A grid step of 0.6 sqrt(smallest eigenvalue) makes the Riemann sum exact to about exp(-2 pi^2 / 0.36)
    # (Poisson summation); +-9 standard deviations of the widest direction hold all but 1e-17 of the mass.
    step = 0.6 * np.sqrt(eigenvalues[0])
    half_width = 9 * np.sqrt(eigenvalues[-1])
    axis = np.arange(-half_width, half_width + step, step)
    grid = np.stack(np.meshgrid(b[0] + axis, b[1] + axis, indexing="ij"), axis=-1).reshape(-1, 2)
    call = call_text("exact_log_marginal", grid, W, b, s) + " on a quadrature grid"
    log_density = student.exact_log_marginal(grid, W, b, s)
    assert_shape(log_density, (len(grid),), call=call)
    assert_finite(log_density, call=call)
    weights = np.exp(log_density) * step**2
    assert_close(weights.sum(), 1.0, rtol=0, atol=REL_TOL, what="the integral of p(x)", call=call)
    mean = weights @ grid
    assert_close(mean, b, rtol=0, atol=REL_TOL * np.sqrt(eigenvalues[-1]), what="the mean of p(x)", call=call)
    centred = grid - b
    covariance = (centred * weights[:, None]).T @ centred
    assert_close(covariance, cov, rtol=0, atol=REL_TOL * eigenvalues[-1], what="the covariance of p(x)", call=call)


@st.composite
def marginal_arguments_and_latents(draw):
    """(x, W, b, s, z) with z of shape (*batch, k): arbitrary latent points."""
    x, W, b, s = draw(marginal_arguments())
    return x, W, b, s, draw(arrays((*x.shape[:-1], W.shape[1]), -3.0, 3.0))


@prop(points=2)
@given(args=marginal_arguments_and_latents())
def exact_log_marginal_satisfies_bayes_rule(student, args):
    """log p(x) = log p(x | z) + log p(z) - log p(z | x) at any z (the posterior computed in the grader)."""
    x, W, b, s, z = args
    k = W.shape[1]
    precision = np.eye(k) + W.T @ W / s**2
    mean = np.linalg.solve(precision, ((x - b) @ W / s**2)[..., None])[..., 0]
    offset = z - mean
    log_posterior = (-0.5 * np.einsum("...i,ij,...j->...", offset, precision, offset)
                     + 0.5 * np.linalg.slogdet(precision)[1] - k * common.LOG_2PI / 2)
    call = call_text("exact_log_marginal", x, W, b, s)
    assert_close(student.exact_log_marginal(x, W, b, s), common.log_joint(x, W, b, s, z) - log_posterior,
                 rtol=REL_TOL, atol=ZERO_TOL, what="log p(x)", call=call + f" at z = {np.array2string(z, precision=3)}")


@prop(points=1)
@given(args=marginal_arguments(), seed=st.integers(0, 2**32 - 1))
def exact_log_marginal_is_invariant_to_rotations_of_the_latent_space(student, args, seed):
    """Rotating the latent space (W -> W R, R orthogonal) does not change p(x): only W W^T matters."""
    x, W, b, s = args
    rotation, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((W.shape[1], W.shape[1])))
    before = student.exact_log_marginal(x, W, b, s)
    after = student.exact_log_marginal(x, W @ rotation, b, s)
    assert_close(after, before, rtol=REL_TOL, atol=ZERO_TOL, what="log p(x) after W -> W R",
                 call=call_text("exact_log_marginal", x, W @ rotation, b, s))


HIGH_DIMENSION = 200


@st.composite
def high_dimensional_arguments(draw):
    """(x, W, b, s) with d = 200, k = 2, s in [0.01, 0.05]: det(W W^T + s^2 I) < 1e-500 underflows float64;
    x a typical point of the model."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    W = draw(reals(0.05, 0.2)) * rng.standard_normal((HIGH_DIMENSION, 2))
    b = rng.uniform(-1.0, 1.0, HIGH_DIMENSION)
    s = draw(reals(0.01, 0.05))
    batch = draw(st.sampled_from(((), (3,))))
    z = rng.standard_normal((*batch, 2))
    x = z @ W.T + b + s * rng.standard_normal((*batch, HIGH_DIMENSION))
    return x, W, b, s


@prop(points=1, max_examples=5)
@given(args=high_dimensional_arguments())
def exact_log_marginal_is_finite_in_high_dimension(student, args):
    """With d = 200 and a small s the determinant underflows, but log p(x) stays finite and exact (no log(det))."""
    call = call_text("exact_log_marginal", *args)
    value = student.exact_log_marginal(*args)
    assert_finite(value, call=call)
    assert_close(value, log_evidence(*args), rtol=REL_TOL, atol=ZERO_TOL, what="log p(x)", call=call)


@prop(points=2)
@given(args=marginal_arguments())
def exact_log_marginal_matches_reference(student, reference, args):
    """log p(x) agrees with the reference solution to float32 precision."""
    assert_close(student.exact_log_marginal(*args), reference.exact_log_marginal(*args), rtol=REL_TOL,
                 atol=ZERO_TOL, call=call_text("exact_log_marginal", *args))
