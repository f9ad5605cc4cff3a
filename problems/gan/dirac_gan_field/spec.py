"""Properties of dirac_gan_field(psi0, psi1, theta, gamma=0.0) -> (v_psi0, v_psi1, v_theta), broadcasting.

The exact field is computed in the grader from L's gradient (problems/gan/common.py): each part of the field (the
critic's ascent, the generator's descent, the penalty) has its own property, so feedback says which part is off.
"""

import numpy as np

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st, unit_helpers
from grader.strategies import arrays, broadcastable_shapes

common = unit_helpers(__file__)

PARAMETERS = (-4.0, 4.0)
# float32 implementations are right: sigmoids carry ~6e-8 relative error, multiplied by |theta| <= 4 and
# differenced (psi1's component), so a few 1e-7 absolute; allow ten times that.
ATOL = 2e-6
RTOL = 1e-5
NAMES = ("v_psi0", "v_psi1", "v_theta")


@st.composite
def points(draw, max_dims=2):
    """Broadcastable (psi0, psi1, theta) and their broadcast shape."""
    shapes = draw(broadcastable_shapes(3, max_dims=max_dims))
    args = tuple(draw(arrays(shape, *PARAMETERS)) for shape in shapes.input_shapes)
    return args, shapes.result_shape


def field(student, args, gamma=None):
    """The student's field as three float64 arrays of the broadcast shape, with the call's text."""
    kwargs = {} if gamma is None else {"gamma": gamma}
    call = call_text("dirac_gan_field", *args, **kwargs)
    result = student.dirac_gan_field(*args, **kwargs)
    if not (isinstance(result, tuple) and len(result) == 3):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else f"a single {type(result).__name__}"
        raise AssertionError(f"the result should be a tuple (v_psi0, v_psi1, v_theta), but is {got} [{call}]")
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    for name, part in zip(NAMES, result):
        assert_shape(part, shape, call=call, what=name)
        assert_finite(part, call=call, what=name)
    return result, call


@prop(points=1)
@given(case=points(max_dims=3), gamma=common.penalties(0.0, 5.0))
def dirac_gan_field_broadcasts(student, case, gamma):
    """Each of v_psi0, v_psi1, v_theta has the broadcast shape of psi0, psi1 and theta."""
    args, _ = case
    field(student, args, gamma)


@prop(points=1, max_examples=20)
@given(shape=st.sampled_from(((), (3,), (2, 2))), gamma=common.penalties(0.0, 5.0))
def dirac_gan_field_vanishes_at_the_equilibrium(student, shape, gamma):
    """(psi, theta) = (0, 0, 0) is an equilibrium: the field is zero there, for any gamma."""
    zero = np.zeros(shape)
    result, call = field(student, (zero, zero, zero), gamma)
    for name, part in zip(NAMES, result):
        assert_close(part, zero, rtol=0.0, atol=ATOL, what=name, call=call)


@prop(points=2)
@given(case=points())
def dirac_gan_critic_ascends_the_objective(student, case):
    """Without penalty (gamma omitted), (v_psi0, v_psi1) = grad_psi L: the critic moves uphill on L."""
    args, _ = case
    result, call = field(student, args)
    gradient = common.objective_gradient(*args)
    meanings = ("v_psi0 (dL/dpsi0 = -theta sigmoid(C(theta)))",
                "v_psi1 (dL/dpsi1 = sigmoid(-psi1) - sigmoid(C(theta)))")
    for meaning, part, expected in zip(meanings, result[:2], gradient[:2]):
        assert_close(part, np.broadcast_to(expected, part.shape), rtol=RTOL, atol=ATOL, what=meaning, call=call)


@prop(points=2)
@given(case=points(), gamma=common.penalties(0.0, 5.0))
def dirac_gan_generator_descends_the_objective(student, case, gamma):
    """v_theta = -dL/dtheta = psi0 sigmoid(C(theta)): the generator moves downhill on L, whatever the penalty."""
    args, _ = case
    result, call = field(student, args, gamma)
    expected = -common.objective_gradient(*args)[2]
    assert_close(result[2], np.broadcast_to(expected, result[2].shape), rtol=RTOL, atol=ATOL,
                 what="v_theta", call=call)


@prop(points=2)
@given(case=points(), gamma=common.penalties())
def dirac_gan_penalty_pulls_psi0_towards_zero(student, case, gamma):
    """The penalty adds -(gamma / 2) dR1/dpsi = (-gamma psi0, 0) to the critic's field and nothing to v_theta."""
    args, _ = case
    penalised, call = field(student, args, gamma)
    free, _ = field(student, args, 0.0)
    psi0 = np.broadcast_to(args[0], penalised[0].shape)
    expected = (-gamma * psi0, np.zeros_like(psi0), np.zeros_like(psi0))
    for name, with_penalty, without, change in zip(NAMES, penalised, free, expected):
        assert_close(with_penalty - without, change, rtol=RTOL, atol=2 * ATOL,
                     what=f"{name}(gamma = {gamma:.6g}) - {name}(gamma = 0)", call=call)


@prop(points=2)
@given(case=points(), gamma=common.penalties(0.0, 5.0))
def dirac_gan_field_matches_reference(student, reference, case, gamma):
    """(v_psi0, v_psi1, v_theta) agree with the reference solution to float32 precision."""
    args, _ = case
    result, call = field(student, args, gamma)
    expected = reference.dirac_gan_field(*args, gamma=gamma)
    for name, part, want in zip(NAMES, result, expected):
        assert_close(part, want, rtol=RTOL, atol=ATOL, what=name, call=call)
