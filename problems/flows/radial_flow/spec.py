"""Properties of radial_flow(z, z0, alpha, beta) -> (y, log|det dy/dz|) over the admissible range beta >= -alpha."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers

common = unit_helpers(__file__)


def _radial_flow(student, z, z0, alpha, beta):
    call = call_text("radial_flow", z, z0, alpha, beta)
    y, log_det = common.pair(student.radial_flow(z, z0, alpha, beta), "(y, log_det)", call)
    return y, log_det, call


@st.composite
def cases(draw, batch=common.batch_shapes, radii=(1e-3, 10.0), boundary=None):
    d = draw(common.dimensions)
    z, z0 = draw(common.points_around(d, draw(batch), radii))
    return (z, z0, *draw(common.radial_parameters(boundary)))


@prop(points=1)
@given(case=cases())
def radial_flow_returns_one_log_det_per_row(student, case):
    """y has the shape of z (..., D) and log_det the shape (...) of its rows."""
    z, z0, alpha, beta = case
    y, log_det, call = _radial_flow(student, z, z0, alpha, beta)
    assert_shape(y, z.shape, call=call, what="y")
    assert_shape(log_det, z.shape[:-1], call=call, what="log_det")


@prop(points=2)
@given(case=cases())
def radial_flow_moves_each_point_along_its_ray(student, case):
    """y = z + beta (z - z0) / (alpha + ||z - z0||), row by row, including beta = -alpha and z close to z0."""
    z, z0, alpha, beta = case
    y, _, call = _radial_flow(student, z, z0, alpha, beta)
    expected, _ = common.radial_forward(z, z0, alpha, beta)
    assert_close(y, expected, rtol=0, atol=common.flow_tolerance(z, z0, alpha, beta)[..., None], what="y", call=call)


def _finite_difference_log_det(student, z, z0, alpha, beta, step):
    """log|det| of the central-difference Jacobian of the student's own y, one row at a time."""
    d = z.shape[-1]
    offsets = step * np.concatenate([np.eye(d), -np.eye(d)])  # (2 d, d)
    y, _, call = _radial_flow(student, z[:, None, :] + offsets, z0, alpha, beta)
    assert_shape(y, (len(z), 2 * d, d), call=call, what="y")
    assert_finite(y, call=call, what="y")
    jacobian = (y[:, :d, :] - y[:, d:, :]).transpose(0, 2, 1) / (2 * step)
    return np.linalg.slogdet(jacobian)[1]


@prop(points=3, max_examples=30)
@given(case=cases(batch=st.sampled_from(((1,), (3,))), radii=(0.3, 5.0)))
def radial_flow_log_det_matches_finite_differences(student, case):
    """log_det equals log|det| of the Jacobian of your y, estimated by central differences."""
    z, z0, alpha, beta = case
    _, log_det, call = _radial_flow(student, z, z0, alpha, beta)
    step = 1e-3
    numerical = _finite_difference_log_det(student, z, z0, alpha, beta, step)
    tangential, radial = common.radial_terms(np.linalg.norm(z - z0, axis=-1), alpha, beta)
    # central differences: truncation error and float32 rounding (1e-7 |y| / step) both stay below this.
    tol = 5e-3 * z.shape[-1] * (1 / tangential + 1 / radial)
    assert_close(log_det, numerical, rtol=0, atol=tol, what="log_det (vs finite differences)", call=call)


@prop(points=2)
@given(case=cases(radii=(1e-3, 1.0), boundary=True))
def radial_flow_log_det_is_accurate_near_the_centre_on_the_boundary(student, case):
    """For beta = -alpha, log_det = (D - 1) log(r / (alpha + r)) + log(r (r + 2 alpha) / (alpha + r)^2) near z0."""
    z, z0, alpha, beta = case
    _, log_det, call = _radial_flow(student, z, z0, alpha, beta)
    _, expected = common.radial_forward(z, z0, alpha, beta)
    assert_finite(log_det, call=call, what="log_det")
    assert_close(log_det, expected, rtol=0, atol=common.log_det_tolerance(z, z0, alpha, beta), what="log_det",
                 call=call)


@prop(points=2)
@given(case=cases())
def radial_flow_matches_reference(student, reference, case):
    """y and log_det agree with the reference solution to float32 precision."""
    z, z0, alpha, beta = case
    y, log_det, call = _radial_flow(student, z, z0, alpha, beta)
    expected_y, expected_log_det = reference.radial_flow(z, z0, alpha, beta)
    assert_close(y, expected_y, rtol=0, atol=common.flow_tolerance(z, z0, alpha, beta)[..., None], what="y",
                 call=call)
    assert_close(log_det, expected_log_det, rtol=0, atol=common.log_det_tolerance(z, z0, alpha, beta),
                 what="log_det", call=call)
