"""Properties of ddpm_kl_term(x0, x0_hat, t, betas) = 1/2 (SNR(t-1) - SNR(t)) ||x0 - x0_hat||^2 over the last dim, t >= 2."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, reals

common = unit_helpers(__file__)
schedules, alpha_bars = common.schedules, common.alpha_bars

BATCHES = ((), (2,), (2, 3))
DATA = (-3.0, 3.0)
# float32 implementations are right: on top of 1e-4 relative, tolerances grow with the rounding of the SNRs in
# float32 (see `rtol`); the catalogued mistakes are off by at least a factor 3/2 at early steps.
REL_TOL = 1e-4
ZERO_TOL = 1e-6


def snrs(betas):
    """SNR(t) = abar_t / (1 - abar_t) for t = 1..T (index t - 1)."""
    abar = np.cumprod(1 - betas)
    return abar / (1 - abar)


def rounding(t, betas):
    """Absolute float32 rounding of SNR(t-1) - SNR(t): 1 - abar_t computed from a rounded abar_t is off by
    common.noise_rounding relative, and SNR(t) = abar_t / (1 - abar_t) by the same fraction; allow four times it."""
    snr = snrs(betas)
    return 4 * (snr[t - 2] * common.noise_rounding(betas, t - 1) + snr[t - 1] * common.noise_rounding(betas, t))


def rtol(t, betas):
    """Relative tolerance of the KL at step t: REL_TOL plus the rounding relative to SNR(t-1) - SNR(t)."""
    snr = snrs(betas)
    return REL_TOL + rounding(t, betas) / (snr[t - 2] - snr[t - 1])


@st.composite
def kl_arguments(draw, min_d=1):
    """(x0, x0_hat, t, betas) with shape (*batch, d) and t anywhere in 2..T, ends included."""
    betas = draw(schedules())
    d = draw(st.integers(min_d, 4))
    batch = draw(st.sampled_from(BATCHES))
    t = draw(st.integers(2, len(betas)))
    return draw(arrays((*batch, d), *DATA)), draw(arrays((*batch, d), *DATA)), t, betas


@prop(points=1)
@given(args=kl_arguments())
def ddpm_kl_term_has_the_batch_shape(student, args):
    """The KL has the batch shape (...): the last dimension is summed away."""
    assert_shape(student.ddpm_kl_term(*args), args[0].shape[:-1], call=call_text("ddpm_kl_term", *args))


@prop(points=1)
@given(args=kl_arguments())
def ddpm_kl_term_is_nonnegative_and_zero_iff_the_prediction_is_exact(student, args):
    """The KL is >= 0, exactly 0 when x0_hat = x0, and > 0 when they differ."""
    x0, x0_hat, t, betas = args
    call = call_text("ddpm_kl_term", x0, x0_hat, t, betas)
    kl = student.ddpm_kl_term(x0, x0_hat, t, betas)
    assert_finite(kl, call=call)
    assert_all(kl >= 0, "the KL must be >= 0", kl=kl, call=call)
    same = student.ddpm_kl_term(x0, x0, t, betas)
    assert_close(same, np.zeros(x0.shape[:-1]), rtol=0, atol=ZERO_TOL, what="the KL for x0_hat = x0",
                 call=call_text("ddpm_kl_term", x0, x0, t, betas))
    moved = x0 + 1.0
    kl = student.ddpm_kl_term(x0, moved, t, betas)
    assert_all(kl > 0, "the KL must be > 0 for x0_hat != x0", kl=kl, call=call_text("ddpm_kl_term", x0, moved, t, betas))


@st.composite
def kl_arguments_and_x_t(draw):
    """(x0, x0_hat, t, betas, x_t) with an arbitrary x_t (the KL does not depend on it)."""
    x0, x0_hat, t, betas = draw(kl_arguments())
    return x0, x0_hat, t, betas, draw(arrays(x0.shape, -5.0, 5.0))


def log_ratio_terms(x0, x0_hat, t, betas, x_t):
    """The two Gaussians N(mean(x0), var I) and N(mean(x0_hat), var I) of the posterior, computed in the grader."""
    abar = np.concatenate([[1.0], np.cumprod(1 - betas)])
    beta = betas[t - 1]
    var = beta * (1 - abar[t - 1]) / (1 - abar[t])
    coef_x0 = np.sqrt(abar[t - 1]) * beta / (1 - abar[t])
    coef_xt = np.sqrt(1 - beta) * (1 - abar[t - 1]) / (1 - abar[t])
    return coef_x0 * x0 + coef_xt * x_t, coef_x0 * x0_hat + coef_xt * x_t, var


@prop(points=3)
@given(case=kl_arguments_and_x_t())
def ddpm_kl_term_equals_the_kl_between_the_two_gaussians(student, case):
    """The result is KL(N(mu(x_t, x0), var I) || N(mu(x_t, x0_hat), var I)) with the forward-process posterior mu and var."""
    x0, x0_hat, t, betas, x_t = case
    mean_q, mean_p, var = log_ratio_terms(x0, x0_hat, t, betas, x_t)
    expected = ((mean_q - mean_p) ** 2).sum(-1) / (2 * var)
    assert_close(student.ddpm_kl_term(x0, x0_hat, t, betas), expected, rtol=rtol(t, betas), atol=ZERO_TOL,
                 what="the KL", call=call_text("ddpm_kl_term", x0, x0_hat, t, betas))


@st.composite
def whole_schedules(draw):
    """(x0, x0_hat, betas): one pair of points with ||x0 - x0_hat||^2 = 2, and a schedule."""
    betas = draw(schedules(max_steps=30))
    d = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x0 = rng.uniform(*DATA, size=d)
    direction = rng.standard_normal(d)
    return x0, x0 + np.sqrt(2) * direction / np.linalg.norm(direction), betas


@prop(points=2)
@given(case=whole_schedules())
def ddpm_kl_term_weights_telescope_to_the_snr_difference(student, case):
    """For ||x0 - x0_hat||^2 = 2 the KLs of t = 2..T add up to SNR(1) - SNR(T), SNR(t) = abar_t / (1 - abar_t)."""
    x0, x0_hat, betas = case
    T = len(betas)
    kls = np.array([student.ddpm_kl_term(x0, x0_hat, t, betas) for t in range(2, T + 1)])
    assert_finite(kls, call=call_text("ddpm_kl_term", x0, x0_hat, "t", betas) + f" for t = 2..{T}")
    snr = snrs(betas)
    slack = sum(REL_TOL * (snr[t - 2] - snr[t - 1]) + rounding(t, betas) for t in range(2, T + 1))
    assert_close(kls.sum(), snr[0] - snr[-1], rtol=0, atol=slack + ZERO_TOL, what=f"the sum of the KLs over t = 2..{T}",
                 call=call_text("ddpm_kl_term", x0, x0_hat, "t", betas) + f" for t = 2..{T}")


@st.composite
def split_arguments(draw):
    """(x0, x0_hat, t, betas, cut, factor) with d >= 2, 1 <= cut < d, and a scale factor."""
    x0, x0_hat, t, betas = draw(kl_arguments(min_d=2))
    return x0, x0_hat, t, betas, draw(st.integers(1, x0.shape[-1] - 1)), draw(reals(0.25, 4.0))


@prop(points=1)
@given(case=split_arguments())
def ddpm_kl_term_is_additive_over_dimensions_and_quadratic_in_the_error(student, case):
    """The KL sums over coordinates, and scaling the error x0_hat - x0 by c scales it by c^2."""
    x0, x0_hat, t, betas, cut, factor = case
    whole = student.ddpm_kl_term(x0, x0_hat, t, betas)
    parts = (student.ddpm_kl_term(x0[..., :cut], x0_hat[..., :cut], t, betas)
             + student.ddpm_kl_term(x0[..., cut:], x0_hat[..., cut:], t, betas))
    assert_close(whole, parts, rtol=rtol(t, betas), atol=ZERO_TOL, what="the KL of all coordinates",
                 call=f"{call_text('ddpm_kl_term', x0, x0_hat, t, betas)} vs coordinates [:{cut}] and [{cut}:]")
    scaled_hat = x0 + factor * (x0_hat - x0)
    scaled = student.ddpm_kl_term(x0, scaled_hat, t, betas)
    assert_close(scaled, factor**2 * whole, rtol=rtol(t, betas), atol=ZERO_TOL, what=f"the KL with the error scaled by {factor:.4g}",
                 call=call_text("ddpm_kl_term", x0, scaled_hat, t, betas))


@prop(points=2)
@given(args=kl_arguments())
def ddpm_kl_term_matches_reference(student, reference, args):
    """The KL agrees with the reference solution to float32 precision."""
    assert_close(student.ddpm_kl_term(*args), reference.ddpm_kl_term(*args), rtol=rtol(*args[2:]), atol=ZERO_TOL,
                 call=call_text("ddpm_kl_term", *args))
