"""Meta-tests of the spec helpers: assertion messages, NaN handling, shared strategies, unit helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from grader.spec import assert_all, assert_close, assert_finite, assert_shape, call_text, unit_helpers
from grader.strategies import probability_vectors, spd_matrices


def test_assert_close_message_says_observed_expected_and_call():
    with pytest.raises(AssertionError) as failure:
        assert_close(np.array([1.0, 2.5]), np.array([1.0, 2.0]), call="f(1)")
    message = str(failure.value)
    assert message.startswith("the result at index (1,) is 2.5, but should be 2 (")
    assert message.endswith("[f(1)]") and "1 of 2 entries off" in message


def test_assert_close_refuses_nan_and_wrong_shapes():
    with pytest.raises(AssertionError, match="is nan, but should be 0"):
        assert_close(np.nan, 0.0)
    with pytest.raises(AssertionError, match=r"has shape \(1,\), but should have shape \(\)"):
        assert_close(np.array([0.0]), 0.0)
    assert_close(np.inf, np.inf)  # the same infinity is the right answer where one is expected
    with pytest.raises(AssertionError):
        assert_close(-np.inf, np.inf)


def test_assert_close_accepts_per_entry_tolerances():
    assert_close(np.array([1.0, 2.0]), np.array([1.5, 2.0]), rtol=0, atol=np.array([0.6, 1e-9]))
    with pytest.raises(AssertionError, match=r"tolerance 0\.1; 1 of 2 entries off"):
        assert_close(np.array([1.0, 2.5]), np.array([1.0, 2.0]), rtol=np.array([0.0, 0.0]), atol=np.array([0.2, 0.1]))


def test_assert_all_is_false_on_nan():
    kl = np.array([0.1, np.nan])
    with pytest.raises(AssertionError, match="KL must be >= 0; observed kl = "):
        assert_all(kl >= 0, "KL must be >= 0", kl=kl)


def test_assert_finite_and_shape():
    with pytest.raises(AssertionError, match=r"contains inf/nan \(2 of 3 entries\), but should be finite \[g\(\)\]"):
        assert_finite(np.array([1.0, np.inf, np.nan]), call="g()")
    with pytest.raises(AssertionError, match=r"has shape \(2,\), but should have shape \(3,\)"):
        assert_shape(np.zeros(2), (3,))


def test_call_text_is_short():
    assert call_text("kl_normal", np.asarray(0.5), 2, sigma=np.ones(2)) == "kl_normal(0.5, 2, sigma=[1., 1.])"
    assert call_text("f", np.zeros((4, 5))) == "f(<float64 array of shape (4, 5)>)"


@settings(max_examples=30, deadline=None)
@given(matrix=spd_matrices(3, batch=(2,), max_condition=50.0))
def test_spd_matrices_are_symmetric_positive_definite_and_conditioned(matrix):
    assert matrix.shape == (2, 3, 3)
    np.testing.assert_allclose(matrix, np.swapaxes(matrix, -1, -2))
    eigenvalues = np.linalg.eigvalsh(matrix)
    assert (eigenvalues > 0).all()
    assert (eigenvalues.max(-1) / eigenvalues.min(-1) <= 50.0 * (1 + 1e-9)).all()


@settings(max_examples=30, deadline=None)
@given(p=probability_vectors(4, batch=(3,)))
def test_probability_vectors_lie_on_the_simplex(p):
    np.testing.assert_allclose(p.sum(-1), 1.0)
    assert (p >= 0).all() and (p[..., 0] > 0).all()


def test_unit_helpers_load_the_units_common_module(tmp_path):
    (tmp_path / "unit" / "problem").mkdir(parents=True)
    (tmp_path / "unit" / "common.py").write_text("VALUE = 42\n")
    spec_file = tmp_path / "unit" / "problem" / "spec.py"
    common = unit_helpers(str(spec_file))
    assert common.VALUE == 42
    assert unit_helpers(str(spec_file)) is common  # loaded once
