"""Properties of AffineCoupling(dim, mask, hidden=32): forward/inverse with log-determinants, tested after the
grader re-draws every registered parameter (so the layer is not the identity). The student's networks are their
own, so every property is stated through the layer's own outputs: no comparison with the reference's values."""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, given, prop, st, unit_helpers
from grader.strategies import arrays

common = unit_helpers(__file__)

# The grader moves the layer to float64, but it may compute in float32 (casting its input and parameters, as the
# contract allows), so every tolerance allows float32 rounding: 2^-24 relative per operation (common.FLOAT32), a
# handful of operations per output, amplified where a map amplifies it (see each property). TOL = 16 * 2^-24 =
# 9.5e-7 is the relative allowance of an output whose float32 error is at most a few 2^-24 of the terms it is
# made of; the catalogued mistakes are off by O(0.1) (t (1 - exp(-s)), 2 sum(s), s of the masked coordinates).
TOL = common.COUPLING_TOL


@st.composite
def layers(draw):
    """(d, mask, seed, x): 2 <= d <= 5, a mask with both 0s and 1s, a seed for the re-draw, x (n, d)."""
    d = draw(st.integers(2, 5))
    kept = draw(st.integers(1, d - 1))
    order = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(d)
    mask = np.zeros(d)
    mask[order[:kept]] = 1.0
    return d, mask, draw(st.integers(0, 2**31 - 1)), draw(arrays((draw(st.integers(1, 4)), d), -2.0, 2.0))


@prop(points=1, max_examples=20)
@given(case=layers())
def coupling_passes_masked_coordinates_through(student, case):
    """Coordinates with mask 1 leave forward (and inverse) unchanged: y*m = x*m."""
    d, mask, seed, x = case
    layer = common.coupling(student, d, mask, seed)
    kept = mask == 1
    for method in ("forward", "inverse"):
        out, _, call = common.coupling_call(layer, method, x)
        # The masked outputs are x rounded to the layer's dtype: at most half an ulp, 2^-24 |x| in float32 (measured:
        # 0.48 of this 2 * 2^-24 |x|).
        assert_close(out[:, kept], x[:, kept], rtol=0, atol=1e-12 + 2 * common.FLOAT32 * np.abs(x[:, kept]),
                     what=f"the masked coordinates of the {method} output", call=call)


@prop(points=2, max_examples=20)
@given(case=layers())
def coupling_inverse_undoes_forward(student, case):
    """inverse(forward(x)) = x, and forward(inverse(y)) = y."""
    d, mask, seed, x = case
    layer = common.coupling(student, d, mask, seed)
    y, _, call = common.coupling_call(layer, "forward", x)
    assert_finite(y, call=call, what="y")
    # In float32, inverse(forward(x)) is off by about 7 * 2^-24 |x| (the rounding of x, x exp(s), exp(s) exp(-s),
    # y - t) plus 2^-24 |y| / exp(s) (the rounding of y, amplified by dx/dy = exp(-s)); forward(inverse(y)) by
    # 2^-24 (2 |y| + 5 exp(s) |x|) likewise. exp(s) is measured on the layer (common.free_scales). Measured on 300
    # re-drawn layers: a float32 layer uses at most 0.094 of TOL times these, inverse_order_swapped 3600 or more.
    scale = common.free_scales(layer, mask, x, np.random.default_rng(seed))
    back, _, call = common.coupling_call(layer, "inverse", y)
    assert_close(back, x, rtol=0, atol=TOL * (1 + np.abs(x) + np.abs(y) / scale), what="inverse(forward(x))",
                 call=call)
    given_y = x  # any point is some y: the layer is a bijection of R^d (with the masked coordinates of x: same s)
    x_of_y, _, call = common.coupling_call(layer, "inverse", given_y)
    assert_finite(x_of_y, call=call, what="x")
    again, _, call = common.coupling_call(layer, "forward", x_of_y)
    assert_close(again, given_y, rtol=0, atol=TOL * (1 + scale * np.abs(x_of_y) + np.abs(given_y)),
                 what="forward(inverse(y))", call=call)


def _log_det_matches_jacobian(student, case, method):
    d, mask, seed, x = case
    layer = common.coupling(student, d, mask, seed)
    _, log_det, call = common.coupling_call(layer, method, x)
    numerical, rounding = common.finite_difference_log_det(layer, method, x)
    assert_finite(log_det, call=call, what="log_det")
    # 1e-6 relative for float64 layers; float32 ones carry `rounding` (see common.finite_difference_log_det: a
    # worst-case sum, up to 6e-4 per row at step 1e-2): allow twice it. Measured on 300 re-drawn layers: a float32
    # layer uses at most 0.14 of this, log_det_includes_masked exceeds it by 4.7 times or more, log_det_sign by 280.
    assert_close(log_det, numerical, rtol=0, atol=1e-6 * (1 + np.abs(numerical)) + 2 * rounding,
                 what=f"the log_det of {method} (vs log|det| of its finite-difference Jacobian)", call=call)


@prop(points=2, max_examples=20)
@given(case=layers())
def coupling_log_det_matches_the_jacobian(student, case):
    """forward's log_det equals log|det dy/dx| of your y, estimated by central differences."""
    _log_det_matches_jacobian(student, case, "forward")


@prop(points=1, max_examples=20)
@given(case=layers())
def coupling_inverse_log_det_matches_the_jacobian(student, case):
    """inverse's log_det equals log|det dx/dy| of your x, estimated by central differences."""
    _log_det_matches_jacobian(student, case, "inverse")


@prop(points=1, max_examples=20)
@given(case=layers())
def coupling_log_dets_cancel(student, case):
    """log|det dy/dx| at x plus log|det dx/dy| at y = forward(x) is 0."""
    d, mask, seed, x = case
    layer = common.coupling(student, d, mask, seed)
    y, forward_log_det, _ = common.coupling_call(layer, "forward", x)
    _, inverse_log_det, call = common.coupling_call(layer, "inverse", y)
    # Both are sums of the same s(m x) (the masked coordinates pass through exactly, also in float32): they cancel
    # exactly when s is recomputed identically, and to a few 2^-24 of their size when it is recomputed otherwise.
    assert_close(forward_log_det + inverse_log_det, np.zeros(len(x)), rtol=0,
                 atol=TOL * (1 + np.abs(forward_log_det)), what="the sum of the two log-dets", call=call)


@prop(points=2, max_examples=20)
@given(case=layers(), moves=st.integers(0, 2**32 - 1))
def coupling_conditioner_reads_only_masked_coordinates(student, case, moves):
    """Moving only the free coordinates (mask 0) scales each move by the same exp(s(m*x)): s and t read m*x only."""
    d, mask, seed, x = case
    layer = common.coupling(student, d, mask, seed)
    rng = np.random.default_rng(moves)
    (first, second), masked_change, size, call = common.free_slopes(
        layer, x, [common.free_directions(rng, mask, len(x)) for _ in range(2)])
    # Each slope is a difference of outputs of `size` (rounding included, see common.free_slopes) over a move of at
    # least 0.3; two slopes are compared. A float32 layer uses at most 0.035 of this (300 re-drawn layers).
    tol = TOL * (1 + size) / 0.3
    assert_close(masked_change, np.zeros_like(x), rtol=0, atol=tol, what="the change of the masked outputs",
                 call=call)
    assert_close(second, first, rtol=0, atol=tol, what="the slope y(x + move) - y(x) / move of a second move",
                 call=call)
    assert_all((first > 0) | (mask == 1), "the free coordinates must be scaled by exp(s) > 0", slopes=first,
               call=call)


@prop(points=1, max_examples=10)
@given(case=layers())
def coupling_is_determined_by_its_registered_parameters(student, case):
    """Re-drawing the registered parameters changes y; the same re-draw gives the same y (no hidden state)."""
    d, mask, seed, x = case
    layer = common.coupling(student, d, mask, seed, hidden=16)
    first, _, call = common.coupling_call(layer, "forward", x)
    layer.redraw_parameters(seed, common.COUPLING_STD)
    again, _, _ = common.coupling_call(layer, "forward", x)
    assert_close(again, first, rtol=0, atol=TOL * (1 + np.abs(first)), what="y after the same re-draw", call=call)
    layer.redraw_parameters(seed + 1, common.COUPLING_STD)
    other, _, _ = common.coupling_call(layer, "forward", x)
    assert_all(np.abs(other - first).max() > 1e-6, "y must change when the parameters are re-drawn (are s and t "
               "built from registered nn.Parameters?)", y=first, y_after_redraw=other, call=call)
