"""Properties of dirac_gan_jacobian(gamma): the (3, 3) Jacobian of the Dirac GAN field at (0, 0, 0).

It is compared with the closed form [[-gamma, 0, -1/2], [0, -1/2, 0], [1/2, 0, 0]] (rows: v_psi0, v_psi1, v_theta;
columns: psi0, psi1, theta), and with central finite differences of the student's own dirac_gan_field, computed in
the grader from the field's returned values.
"""

import numpy as np

from grader.spec import (StudentError, assert_all, assert_close, assert_finite, assert_shape, call_text, given,
                         note, prop, st, unit_helpers)

common = unit_helpers(__file__)

# float32 implementations are right: the entries are exact binary fractions or -gamma.
ATOL = 1e-6
RTOL = 1e-6
# Central differences with step 1e-3: the field is linear in psi0 and theta along the axes, and
# sigmoid(-h) - sigmoid(h) = -h/2 + h^3/24 - ... in psi1, so the truncation error is h^2 / 24 = 4e-8; a float32
# field's rounding (~6e-8 on sigmoid(0) = 1/2) becomes 6e-8 / (2 h) = 3e-5. Catalogued mistakes are off by >= 0.1.
STEP = 1e-3
FD_ATOL = 2e-4
FD_RTOL = 1e-4


def jacobian(student, gamma):
    call = call_text("dirac_gan_jacobian", gamma)
    J = student.dirac_gan_jacobian(gamma)
    assert_shape(J, (3, 3), call=call)
    assert_finite(J, call=call)
    return J, call


def field_finite_differences(student, gamma):
    """Column j: (v(h e_j) - v(-h e_j)) / (2 h), from the student's field at 0-d points."""
    columns = []
    for j in range(3):
        values = []
        for sign in (1.0, -1.0):
            point = [np.asarray(0.0)] * 3
            point[j] = np.asarray(sign * STEP)
            result = student.dirac_gan_field(*point, gamma=gamma)
            if not (isinstance(result, tuple) and len(result) == 3):
                raise StudentError("dirac_gan_field did not return a tuple of three components")
            values.append(np.array([_scalar(v) for v in result]))
        columns.append((values[0] - values[1]) / (2 * STEP))
    return np.stack(columns, axis=1)


def _scalar(value) -> float:
    """One component of the field at a 0-d point, as a float."""
    array = np.asarray(value) if isinstance(value, np.ndarray) else None
    if array is None or array.size != 1 or array.dtype.kind not in "fiub":
        raise StudentError("dirac_gan_field did not return one number per component at a 0-d point")
    return float(array.reshape(()))


def close(a, b, rtol, atol):
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


@prop(points=1, max_examples=20)
@given(gamma=common.penalties(0.0, 10.0))
def dirac_gan_jacobian_is_a_3x3_matrix(student, gamma):
    """The result is a finite (3, 3) matrix: rows (v_psi0, v_psi1, v_theta), columns (psi0, psi1, theta)."""
    jacobian(student, gamma)


@prop(points=4)
@given(gamma=st.one_of(st.just(0.0), common.penalties(0.0, 10.0)))
def dirac_gan_jacobian_matches_the_closed_form(student, gamma):
    """J = [[-gamma, 0, -1/2], [0, -1/2, 0], [1/2, 0, 0]]: row i holds the derivatives of the i-th component."""
    J, call = jacobian(student, gamma)
    assert_close(J, common.jacobian(gamma), rtol=RTOL, atol=ATOL, what="the Jacobian", call=call)


@prop(points=3, max_examples=20)
@given(gamma=st.one_of(st.just(0.0), common.penalties()))
def dirac_gan_jacobian_matches_finite_differences_of_your_field(student, gamma):
    """J is the derivative at (0, 0, 0) of your own dirac_gan_field (central differences), or of the correct field."""
    J, call = jacobian(student, gamma)
    exact = common.jacobian(gamma)
    try:
        differences = field_finite_differences(student, gamma)
    except StudentError as error:  # a field that cannot be evaluated costs points in its own problem
        note(f"your dirac_gan_field could not be evaluated ({error}); comparing with the correct field only")
        differences = None
    if differences is not None:
        note(f"finite differences of your field:\n{np.round(differences, 6)}")
        if not np.isfinite(differences).all():
            differences = None
    consistent = differences is not None and close(J, differences, FD_RTOL, FD_ATOL)
    # A field that is itself wrong is charged to dirac_gan_field: the correct Jacobian passes here too.
    correct = close(J, exact, FD_RTOL, FD_ATOL)
    shown = "unavailable" if differences is None else np.array2string(differences, precision=4, separator=", ")
    assert_all(consistent or correct,
               f"the Jacobian {np.array2string(J, precision=4, separator=', ')} is neither the derivative of your "
               f"dirac_gan_field at (0, 0, 0) (central differences with step {STEP:g}: {shown}) nor that of the "
               f"correct field ({np.array2string(exact, precision=4, separator=', ')}); entry [i, j] is "
               f"d v_i / d x_j", call=call)


@prop(points=2)
@given(gamma=st.one_of(st.just(0.0), common.penalties(0.0, 10.0)))
def dirac_gan_jacobian_matches_reference(student, reference, gamma):
    """J agrees with the reference solution."""
    J, call = jacobian(student, gamma)
    assert_close(J, reference.dirac_gan_jacobian(gamma), rtol=RTOL, atol=ATOL, what="the Jacobian", call=call)
