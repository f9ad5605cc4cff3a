"""Properties of kl_diag_normal_std(mu, logvar) = KL(N(mu, diag(exp(logvar))) || N(0, I)), (..., k) -> (...)."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, reals

BATCHES = ((), (2,), (2, 3))
MEANS = (-5.0, 5.0)
LOGVARS = (-5.0, 5.0)
# float32 implementations are right: allow their rounding (about 1e-7 relative) with a margin.
ZERO_TOL = 1e-5
REL_TOL = 1e-4


@st.composite
def encoder_outputs(draw, min_k=1, max_k=5):
    """(mu, logvar), both of shape (*batch, k), as a VAE encoder would produce them."""
    k = draw(st.integers(min_k, max_k))
    batch = draw(st.sampled_from(BATCHES))
    mu = draw(arrays((*batch, k), *MEANS))
    logvar = draw(arrays((*batch, k), *LOGVARS))
    return mu, logvar


@prop(points=1)
@given(case=encoder_outputs())
def kl_diag_normal_std_has_the_batch_shape(student, case):
    """The result has shape (...): the last dimension k is summed away."""
    mu, logvar = case
    kl = student.kl_diag_normal_std(mu, logvar)
    assert_shape(kl, mu.shape[:-1], call=call_text("kl_diag_normal_std", mu, logvar))


@prop(points=2)
@given(case=encoder_outputs())
def kl_diag_normal_std_is_nonnegative(student, case):
    """The KL is finite and never negative for any mean and log-variance."""
    mu, logvar = case
    kl = student.kl_diag_normal_std(mu, logvar)
    call = call_text("kl_diag_normal_std", mu, logvar)
    assert_finite(kl, call=call)
    assert_all(kl >= -ZERO_TOL, "KL must be >= 0", kl=kl, call=call)


@st.composite
def one_coordinate(draw):
    """(k, i): a dimension k and one of its coordinates i."""
    k = draw(st.integers(1, 5))
    return k, draw(st.integers(0, k - 1))


@prop(points=1)
@given(where=one_coordinate(), shift=reals(0.5, 3.0), log_stretch=reals(0.5, 2.0))
def kl_diag_normal_std_is_zero_only_at_the_standard_normal(student, where, shift, log_stretch):
    """The KL is 0 at mu = 0, logvar = 0, and positive as soon as one mean or one log-variance moves."""
    k, coordinate = where
    zero = np.zeros(k)
    kl = student.kl_diag_normal_std(zero, zero)
    assert_close(kl, 0.0, rtol=0, atol=ZERO_TOL, what="KL(N(0, I) || N(0, I))",
                 call=call_text("kl_diag_normal_std", zero, zero))
    moved = np.where(np.arange(k) == coordinate, shift, 0.0)
    kl = student.kl_diag_normal_std(moved, zero)
    assert_close(kl, shift**2 / 2, rtol=REL_TOL, atol=ZERO_TOL, what="KL with one mean moved",
                 call=call_text("kl_diag_normal_std", moved, zero))
    for sign in (1.0, -1.0):
        logvar = np.where(np.arange(k) == coordinate, sign * log_stretch, 0.0)
        kl = student.kl_diag_normal_std(zero, logvar)
        assert_all(kl > 1e-3, "KL must be > 0 when one variance differs from 1", kl=kl,
                   call=call_text("kl_diag_normal_std", zero, logvar))


@st.composite
def split_encoder_outputs(draw):
    """(mu, logvar, cut) with k >= 2 and 1 <= cut < k: where to split the last dimension in two."""
    mu, logvar = draw(encoder_outputs(min_k=2))
    return mu, logvar, draw(st.integers(1, mu.shape[-1] - 1))


@prop(points=2)
@given(case=split_encoder_outputs())
def kl_diag_normal_std_is_additive_over_dimensions(student, case):
    """Splitting the k coordinates into two groups, the KL of the whole is the sum of the KLs of the groups."""
    mu, logvar, cut = case
    whole = student.kl_diag_normal_std(mu, logvar)
    first = student.kl_diag_normal_std(mu[..., :cut], logvar[..., :cut])
    second = student.kl_diag_normal_std(mu[..., cut:], logvar[..., cut:])
    assert_close(whole, first + second, rtol=REL_TOL, atol=ZERO_TOL, what="KL of all coordinates",
                 call=f"{call_text('kl_diag_normal_std', mu, logvar)} vs coordinates [:{cut}] and [{cut}:]")


def _gradient(student, mu, logvar, index, name):
    """The gradient of sum(kl_diag_normal_std(mu, logvar)) w.r.t. argument ``index``, or a clear failure."""
    _, grads = student.grad("kl_diag_normal_std", mu, logvar, wrt=[index])
    if grads[0] is None:
        raise AssertionError(f"the result does not depend on {name} in the autograd graph, so no gradient "
                             f"flows back to {name} [{call_text('kl_diag_normal_std', mu, logvar)}]")
    return grads[0]


@prop(points=2)
@given(case=encoder_outputs())
def kl_diag_normal_std_gradient_wrt_mu_is_mu(student, case):
    """The gradient of the KL with respect to mu is mu itself (autograd through your function)."""
    mu, logvar = case
    gradient = _gradient(student, mu, logvar, 0, "mu")
    assert_close(gradient, mu, rtol=REL_TOL, atol=ZERO_TOL, what="d KL / d mu",
                 call=call_text("kl_diag_normal_std", mu, logvar))


@prop(points=1)
@given(case=encoder_outputs())
def kl_diag_normal_std_gradient_wrt_logvar_is_half_variance_minus_one(student, case):
    """The gradient of the KL with respect to logvar is (exp(logvar) - 1) / 2 (autograd through your function)."""
    mu, logvar = case
    gradient = _gradient(student, mu, logvar, 1, "logvar")
    assert_close(gradient, (np.exp(logvar) - 1) / 2, rtol=REL_TOL, atol=ZERO_TOL, what="d KL / d logvar",
                 call=call_text("kl_diag_normal_std", mu, logvar))


@prop(points=1)
@given(case=encoder_outputs())
def kl_diag_normal_std_matches_reference(student, reference, case):
    """The KL agrees with the reference solution to float32 precision."""
    mu, logvar = case
    assert_close(student.kl_diag_normal_std(mu, logvar), reference.kl_diag_normal_std(mu, logvar),
                 rtol=REL_TOL, atol=ZERO_TOL, call=call_text("kl_diag_normal_std", mu, logvar))
