"""Properties of original_space_log_likelihood(ll', scale, dim) = ll' + dim * log|scale|."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, reals

LOG_2PI = np.log(2 * np.pi)
# float32 implementations are right: allow their rounding of ll' and of the correction, with a margin.
EPS = 1e-5

positive_scales = st.one_of(reals(1e-3, 0.8), reals(1.25, 1e3))
scales = st.one_of(positive_scales, positive_scales.map(lambda s: -s))


def tolerance(ll, scale, dim):
    return EPS * (1 + np.abs(ll) + dim * abs(np.log(abs(scale))))


@st.composite
def log_likelihoods(draw):
    """ll' of a shape with 0 to 3 dimensions, values in [-1e4, 1e3]."""
    shape = draw(st.sampled_from(((), (1,), (5,), (2, 3), (2, 1, 2))))
    return draw(arrays(shape, -1e4, 1e3))


def gaussian_log_prob(x, mean, var):
    """log N(x; mean, var I), summed over the last dimension."""
    return -0.5 * (((x - mean) ** 2) / var + np.log(var) + LOG_2PI).sum(-1)


@prop(points=1)
@given(ll=log_likelihoods(), scale=scales, dim=st.integers(1, 3072))
def original_space_log_likelihood_keeps_the_shape(student, ll, scale, dim):
    """The result has one value per data point: the shape of ll_transformed."""
    assert_shape(student.original_space_log_likelihood(ll, scale, dim), ll.shape,
                 call=call_text("original_space_log_likelihood", ll, scale, dim))


@prop(points=3)
@given(dim=st.integers(1, 8), scale=scales, shift=reals(-3.0, 3.0), mean=reals(-2.0, 2.0), var=reals(0.1, 4.0),
       seed=st.integers(0, 2**32 - 1))
def original_space_log_likelihood_is_the_change_of_variables(student, dim, scale, shift, mean, var, seed):
    """For Gaussian data x ~ N(m, v I), x' ~ N(scale m + shift, scale^2 v I): the answer is log N(x; m, v I)."""
    x = mean + np.sqrt(var) * np.random.default_rng(seed).standard_normal((6, dim))
    ll_transformed = gaussian_log_prob(scale * x + shift, scale * mean + shift, scale**2 * var)
    expected = gaussian_log_prob(x, mean, var)
    call = call_text("original_space_log_likelihood", ll_transformed, scale, dim)
    assert_close(student.original_space_log_likelihood(ll_transformed, scale, dim), expected, rtol=0,
                 atol=tolerance(ll_transformed, scale, dim), what="log p(x)", call=call)


@prop(points=2)
@given(dim=st.sampled_from((1, 3, 784, 3072)), rows=st.integers(1, 4))
def original_space_log_likelihood_of_uniform_pixels(student, dim, rows):
    """Dequantised pixels uniform on [0, 256)^dim mapped by x / 128 - 1 to [-1, 1)^dim: ll' = -dim log 2 gives
    log p(x) = -dim log 256."""
    ll_transformed = np.full(rows, -dim * np.log(2.0))
    expected = np.full(rows, -dim * np.log(256.0))
    assert_close(student.original_space_log_likelihood(ll_transformed, 1 / 128, dim), expected, rtol=0,
                 atol=tolerance(expected, 1 / 128, dim), what="log p(x)",
                 call=call_text("original_space_log_likelihood", ll_transformed, 1 / 128, dim))


@prop(points=1)
@given(ll=log_likelihoods(), first=scales, second=scales, dim=st.integers(1, 100))
def original_space_log_likelihood_composes(student, ll, first, second, dim):
    """Undoing x'' = b (a x + c) + e in two steps (scale b, then scale a) equals one step with scale a b."""
    call = call_text("original_space_log_likelihood", ll, second, dim)
    middle = student.original_space_log_likelihood(ll, second, dim)
    assert_finite(middle, call=call)
    two_steps = student.original_space_log_likelihood(middle, first, dim)
    one_step = student.original_space_log_likelihood(ll, first * second, dim)
    tol = tolerance(ll, first, dim) + tolerance(ll, second, dim)
    assert_close(two_steps, one_step, rtol=0, atol=tol, what="the two-step answer", call=call)


@prop(points=1)
@given(ll=log_likelihoods(), scale=positive_scales, dim=st.integers(1, 100))
def original_space_log_likelihood_of_a_reflection(student, ll, scale, dim):
    """A negative scale (x' = -s x + shift) changes volumes by |scale|^dim: the same answer as for +s."""
    call = call_text("original_space_log_likelihood", ll, -scale, dim)
    reflected = student.original_space_log_likelihood(ll, -scale, dim)
    assert_finite(reflected, call=call)
    assert_close(reflected, student.original_space_log_likelihood(ll, scale, dim), rtol=0,
                 atol=2 * tolerance(ll, scale, dim), what="log p(x) for the negative scale", call=call)


@prop(points=2)
@given(ll=log_likelihoods(), scale=scales, dim=st.integers(1, 3072))
def original_space_log_likelihood_matches_reference(student, reference, ll, scale, dim):
    """The log-likelihood agrees with the reference solution to float32 precision."""
    assert_close(student.original_space_log_likelihood(ll, scale, dim),
                 reference.original_space_log_likelihood(ll, scale, dim), rtol=0, atol=tolerance(ll, scale, dim),
                 call=call_text("original_space_log_likelihood", ll, scale, dim))
