"""Properties of radial_flow_inverse(y, z0, alpha, beta): the exact inverse of the radial flow for beta >= -alpha."""

import numpy as np

from grader.spec import assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers

common = unit_helpers(__file__)


@st.composite
def cases(draw, boundary=None):
    """(z, z0, alpha, beta) with z at distances 1e-3 to 10 from z0."""
    d = draw(common.dimensions)
    z, z0 = draw(common.points_around(d, draw(common.batch_shapes)))
    return (z, z0, *draw(common.radial_parameters(boundary)))


def _inverse(student, y, z0, alpha, beta):
    call = call_text("radial_flow_inverse", y, z0, alpha, beta)
    z = student.radial_flow_inverse(y, z0, alpha, beta)
    assert_shape(z, y.shape, call=call, what="z")
    return z, call


@prop(points=1)
@given(case=cases())
def radial_flow_inverse_keeps_the_shape(student, case):
    """z has the shape (..., D) of y."""
    z, z0, alpha, beta = case
    _inverse(student, common.radial_forward(z, z0, alpha, beta)[0], z0, alpha, beta)


@prop(points=4)
@given(case=cases())
def radial_flow_inverse_undoes_radial_flow(student, case):
    """radial_flow_inverse(radial_flow(z)) = z for every beta >= -alpha, the boundary and z close to z0 included."""
    z, z0, alpha, beta = case
    y, _ = common.radial_forward(z, z0, alpha, beta)
    recovered, call = _inverse(student, y, z0, alpha, beta)
    assert_finite(recovered, call=call, what="z")
    assert_close(recovered, z, rtol=0, atol=common.inverse_tolerance(z, z0, alpha, beta)[..., None],
                 what="the recovered z", call=call)


@prop(points=2)
@given(case=cases())
def radial_flow_is_undone_by_radial_flow_inverse(student, case):
    """radial_flow(radial_flow_inverse(y)) = y: your z maps back onto the y you were given."""
    y, z0, alpha, beta = case  # a point y anywhere around z0: every y has exactly one preimage
    z, call = _inverse(student, y, z0, alpha, beta)
    assert_finite(z, call=call, what="z")
    mapped, _ = common.radial_forward(z, z0, alpha, beta)
    tol = common.inverse_tolerance(z, z0, alpha, beta) * (1 + abs(beta) / alpha)
    assert_close(mapped, y, rtol=0, atol=tol[..., None], what="radial_flow(z)", call=call)


@prop(points=1)
@given(d=common.dimensions, z0=st.integers(0, 2**32 - 1), parameters=common.radial_parameters(boundary=False))
def radial_flow_inverse_fixes_the_centre(student, d, z0, parameters):
    """For beta > -alpha the centre is a fixed point: radial_flow_inverse(z0) = z0 (r = 0 is the root)."""
    alpha, beta = parameters
    centre = np.random.default_rng(z0).uniform(-2.0, 2.0, size=d)
    y = np.broadcast_to(centre, (2, d)).copy()
    z, call = _inverse(student, y, centre, alpha, beta)
    assert_close(z, y, rtol=0, atol=common.EPS * (1 + np.abs(centre).sum()), what="z", call=call)


@prop(points=2)
@given(case=cases())
def radial_flow_inverse_matches_reference(student, reference, case):
    """z agrees with the reference solution to float32 precision."""
    z, z0, alpha, beta = case
    y, _ = common.radial_forward(z, z0, alpha, beta)
    recovered, call = _inverse(student, y, z0, alpha, beta)
    assert_close(recovered, reference.radial_flow_inverse(y, z0, alpha, beta), rtol=0,
                 atol=common.inverse_tolerance(z, z0, alpha, beta)[..., None], what="z", call=call)
