"""Properties of reparameterize(mu, logvar, eps) = mu + exp(logvar / 2) * eps, broadcasting, differentiable."""

import numpy as np

from grader.spec import assert_close, assert_shape, call_text, given, prop, st
from grader.strategies import arrays, broadcastable_shapes

MEANS = (-5.0, 5.0)
LOGVARS = (-4.0, 4.0)
NOISES = (-3.0, 3.0)
# float32 implementations are right: allow their rounding (about 1e-7 relative) with a margin.
ZERO_TOL = 1e-5
REL_TOL = 1e-4


@st.composite
def broadcast_arguments(draw):
    """Broadcastable (mu, logvar, eps) and their broadcast shape."""
    shapes = draw(broadcastable_shapes(3, max_dims=3))
    mu = draw(arrays(shapes.input_shapes[0], *MEANS))
    logvar = draw(arrays(shapes.input_shapes[1], *LOGVARS))
    eps = draw(arrays(shapes.input_shapes[2], *NOISES))
    return (mu, logvar, eps), shapes.result_shape


@st.composite
def same_shape_arguments(draw):
    """(mu, logvar, eps, cotangent) of one shape (..., k) with k >= 1."""
    shape = draw(st.sampled_from(((3,), (2, 3), (4, 1), (2, 2, 2))))
    return (draw(arrays(shape, *MEANS)), draw(arrays(shape, *LOGVARS)), draw(arrays(shape, *NOISES)),
            draw(arrays(shape, -2.0, 2.0)))


@prop(points=1)
@given(case=broadcast_arguments())
def reparameterize_broadcasts_over_its_arguments(student, case):
    """z has the broadcast shape of mu, logvar and eps."""
    args, shape = case
    assert_shape(student.reparameterize(*args), shape, call=call_text("reparameterize", *args))


@prop(points=2)
@given(case=broadcast_arguments())
def reparameterize_is_exact_for_the_given_noise(student, case):
    """z equals mu + exp(logvar / 2) * eps for the eps passed in (no noise of your own)."""
    (mu, logvar, eps), _ = case
    expected = mu + np.exp(logvar / 2) * eps
    assert_close(student.reparameterize(mu, logvar, eps), expected, rtol=REL_TOL, atol=ZERO_TOL,
                 call=call_text("reparameterize", mu, logvar, eps))


@prop(points=2)
@given(case=same_shape_arguments())
def reparameterize_scales_the_noise_by_the_standard_deviation(student, case):
    """eps = 0 gives mu, and each unit of eps moves z by one standard deviation sqrt(exp(logvar))."""
    mu, logvar, _, _ = case
    zero, one = np.zeros_like(mu), np.ones_like(mu)
    at_zero = student.reparameterize(mu, logvar, zero)
    assert_close(at_zero, mu, rtol=REL_TOL, atol=ZERO_TOL, what="z for eps = 0",
                 call=call_text("reparameterize", mu, logvar, zero))
    at_one = student.reparameterize(mu, logvar, one)
    assert_close(at_one - at_zero, np.sqrt(np.exp(logvar)), rtol=REL_TOL, atol=ZERO_TOL,
                 what="z(eps = 1) - z(eps = 0), the standard deviation",
                 call=call_text("reparameterize", mu, logvar, one))


def _gradient(student, mu, logvar, eps, cotangent, index, name):
    """The gradient of sum(cotangent * z) w.r.t. argument ``index``, or a clear failure."""
    _, grads = student.grad("reparameterize", mu, logvar, eps, wrt=[index], cotangent=cotangent)
    if grads[0] is None:
        raise AssertionError(f"z does not depend on {name} in the autograd graph, so no gradient flows back "
                             f"to {name} [{call_text('reparameterize', mu, logvar, eps)}]")
    return grads[0]


@prop(points=2)
@given(case=same_shape_arguments())
def reparameterize_gradient_wrt_mu_is_one(student, case):
    """dz/dmu = 1: the gradient flows back to mu unchanged (autograd through your function)."""
    mu, logvar, eps, cotangent = case
    gradient = _gradient(student, mu, logvar, eps, cotangent, 0, "mu")
    assert_close(gradient, cotangent, rtol=REL_TOL, atol=ZERO_TOL, what="the gradient w.r.t. mu of sum(c * z)",
                 call=call_text("reparameterize", mu, logvar, eps))


@prop(points=2)
@given(case=same_shape_arguments())
def reparameterize_gradient_wrt_logvar_is_half_the_scaled_noise(student, case):
    """dz/dlogvar = exp(logvar / 2) * eps / 2 (autograd through your function)."""
    mu, logvar, eps, cotangent = case
    gradient = _gradient(student, mu, logvar, eps, cotangent, 1, "logvar")
    assert_close(gradient, cotangent * np.exp(logvar / 2) * eps / 2, rtol=REL_TOL, atol=ZERO_TOL,
                 what="the gradient w.r.t. logvar of sum(c * z)", call=call_text("reparameterize", mu, logvar, eps))


@prop(points=1)
@given(case=broadcast_arguments())
def reparameterize_matches_reference(student, reference, case):
    """z agrees with the reference solution to float32 precision."""
    args, _ = case
    assert_close(student.reparameterize(*args), reference.reparameterize(*args), rtol=REL_TOL, atol=ZERO_TOL,
                 call=call_text("reparameterize", *args))
