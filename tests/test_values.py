"""The grader-side conversions around a call: what a spec sends, and what comes back."""

import numpy as np
import pytest
import torch

from grader.values import StudentError, _to_wire, plain


def test_numpy_scalars_travel_as_arrays_and_python_numbers_stay_numbers():
    # Arithmetic on 0-d arrays yields numpy scalars: they are array data and must reach the student
    # as tensors, while Python floats are hyper-parameters (sigma, step_size) and stay floats.
    assert isinstance(_to_wire(np.float64(1.5)), np.ndarray) and _to_wire(np.float64(1.5)).shape == ()
    assert type(_to_wire(1.5)) is float and type(_to_wire(3)) is int
    assert isinstance(_to_wire(torch.ones(2)), np.ndarray)
    assert isinstance(_to_wire((np.float32(1), [np.int64(2)]))[1][0], np.ndarray)


def test_results_become_float64_int64_or_bool_arrays():
    assert plain(np.ones(2, dtype=np.float32)).dtype == np.float64
    assert plain(np.ones(2, dtype=np.int8)).dtype == np.int64
    assert plain(np.ones(2, dtype=bool)).dtype == np.bool_
    assert plain(2.5).dtype == np.float64 and plain(2.5).shape == ()
    assert plain(True).dtype == np.bool_
    assert [a.dtype for a in plain((np.ones(1, np.float16), 3))] == [np.float64, np.float64]
    assert plain(None) is None


def test_a_string_result_cannot_be_graded():
    with pytest.raises(StudentError, match="type str"):
        plain("0.5")


def test_unsigned_integers_beyond_int64_are_refused_not_wrapped():
    with pytest.raises(StudentError, match="too large"):
        plain(np.array([2**63], dtype=np.uint64))
    assert plain(np.array([7], dtype=np.uint64)).tolist() == [7]


def test_gaussian_mixture_callables_match_scipy_and_autograd_and_stay_finite_far_away():
    from scipy.stats import multivariate_normal

    from grader.harness import CALLABLES

    weights, variances = torch.tensor([0.2, 0.8], dtype=torch.float64), torch.tensor([0.5, 2.0], dtype=torch.float64)
    means = torch.tensor([[1.0, -1.0], [-0.5, 2.0]], dtype=torch.float64)
    log_prob = CALLABLES["gaussian_mixture_log_prob"](weights=weights, means=means, variances=variances)
    score = CALLABLES["gaussian_mixture_score"](weights=weights, means=means, variances=variances)
    x = torch.tensor([[0.3, 0.4], [2.0, -1.5], [-1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    density = sum(float(w) * multivariate_normal(m.numpy(), float(v) * np.eye(2)).pdf(x.detach().numpy())
                  for w, m, v in zip(weights, means, variances))
    np.testing.assert_allclose(log_prob(x).detach().numpy(), np.log(density), rtol=1e-12)
    (gradient,) = torch.autograd.grad(log_prob(x).sum(), x)
    np.testing.assert_allclose(score(x).detach().numpy(), gradient.numpy(), rtol=1e-10)
    far = torch.tensor([[300.0, -400.0]], dtype=torch.float64)  # every component density underflows here
    assert torch.isfinite(log_prob(far)).all() and torch.isfinite(score(far)).all()
    # Far away the narrow component is negligible: the score is the wide component's, (mean_1 - x) / var_1.
    np.testing.assert_allclose(score(far).numpy(), ((means[1] - far) / variances[1]).numpy(), rtol=1e-12)
