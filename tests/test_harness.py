"""The harness callables a student receives (velocity fields, scores, log-densities) accept a point of any
floating dtype, on any device: they compute in float64 on the point's device and answer in its dtype, so a
float32 student gets the float64 answer rounded once (docs/bank.md, "Harness callables")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grader.harness import CALLABLES
from grader.spec import harness_callable

F64 = torch.float64
FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _t(values):
    return torch.tensor(values, dtype=F64)


# Every callable of the library with parameters as a spec passes them (tensors, or Python floats), and the
# extra arguments after the point x (a velocity field's time t).
PARAMETERS = {
    "linear_field": (dict(A=_t([[0.2, -1.0], [0.7, -0.3]]), b=_t([0.5, -0.25])), (0.3,)),
    "time_linear_field": (dict(a=_t([0.5, -0.8]), c=_t([1.5, 2.0])), (0.3,)),
    "gaussian_score": (dict(mean=_t([0.5, -1.0]), var=0.8), ()),
    "gaussian_log_prob": (dict(mean=_t([0.5, -1.0]), var=2.0), ()),
    "gaussian_mixture_log_prob": (dict(weights=_t([0.3, 0.7]), means=_t([[1.0, -1.0], [-0.5, 2.0]]),
                                       variances=_t([0.5, 2.0])), ()),
    "gaussian_mixture_score": (dict(weights=_t([0.3, 0.7]), means=_t([[1.0, -1.0], [-0.5, 2.0]]),
                                    variances=_t([0.5, 2.0])), ()),
}
X = _t([[0.3, 0.4], [2.0, -1.5], [-1.0, 0.0], [1.25, 3.5]])


def _build(name, device="cpu"):
    params, extra = PARAMETERS[name]
    moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in params.items()}
    return CALLABLES[name](**moved), extra


def test_every_callable_of_the_library_is_covered():
    assert set(PARAMETERS) == set(CALLABLES)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_a_callable_answers_in_the_points_dtype_the_float64_value_rounded_once(name, dtype, device):
    function, extra = _build(name, device)
    x = X.to(device=device, dtype=dtype)
    answer = function(x, *extra)
    assert answer.dtype == dtype and answer.device == x.device
    # The float64 answer at the very point the student passed (its own rounding of x), rounded once.
    exact = function(x.to(F64), *extra)
    assert exact.dtype == F64
    torch.testing.assert_close(answer, exact.to(dtype), rtol=0, atol=0)
    # and that is the float64 answer at the float64 point, up to the rounding of x amplified by the
    # callables' (moderate) conditioning here: a float32 point is answered to float32 precision.
    if dtype == torch.float32:
        np.testing.assert_allclose(answer.double().cpu().numpy(), function(X.to(device), *extra).cpu().numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_a_float32_point_keeps_its_autograd_graph_through_the_callable(name):
    function, extra = _build(name)
    x = X.to(torch.float32).requires_grad_(True)
    (gradient,) = torch.autograd.grad(function(x, *extra).sum(), x)
    x64 = X.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(function(x64, *extra).sum(), x64)
    assert gradient.dtype == torch.float32
    np.testing.assert_allclose(gradient.double().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_a_callable_follows_the_point_to_another_device_than_its_parameters(name):
    # The parameters live on the grading device; the student may move x elsewhere (to the CPU from a GPU,
    # or here to the meta device, which runs on any machine): the callable computes where x is.
    function, extra = _build(name)
    answer = function(X.to(device="meta", dtype=torch.float32), *extra)
    assert answer.device.type == "meta" and answer.dtype == torch.float32
    assert answer.shape == function(X, *extra).shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (runs on GPU machines)")
@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_a_callable_built_on_cuda_answers_a_cpu_point_on_the_cpu(name):
    function, extra = _build(name, "cuda")
    answer = function(X.to(torch.float32), *extra)
    assert answer.device.type == "cpu" and answer.dtype == torch.float32
    expected = _build(name)[0](X.to(torch.float32), *extra)
    torch.testing.assert_close(answer, expected, rtol=1e-6, atol=1e-7)


def test_integer_and_numpy_points_are_answered_in_float64():
    function, extra = _build("gaussian_score")
    assert function(torch.tensor([[1, 2]]), *extra).dtype == F64
    assert function(np.array([[1.0, 2.0]], dtype=np.float32), *extra).dtype == F64


def test_a_time_given_as_a_float32_tensor_leaves_the_answer_in_the_points_dtype():
    function, _ = _build("time_linear_field")
    for t in (0.3, torch.tensor(0.3, dtype=torch.float32), torch.full((4, 1), 0.3, dtype=torch.float32)):
        assert function(X, t).dtype == F64
        assert function(X.to(torch.float32), t).dtype == torch.float32


FLOAT32_STUDENT = """
import torch

def euler(velocity, x0, n_steps):
    x = x0.to(torch.float32)
    h = 1.0 / n_steps
    for k in range(n_steps):
        t = torch.full((x.shape[0], 1), k * h, dtype=torch.float32)
        x = x + h * velocity(x, t)
    return x

def score_at(score, x):
    return score(x.to(torch.float32))
"""


def test_a_float32_student_integrates_a_grader_field_and_the_calls_are_still_counted(make_student):
    # Before the callables followed the point's dtype, x @ A.T with a float64 A raised
    # "expected m1 and m2 to have the same dtype" inside the grader's own field.
    student = make_student(FLOAT32_STUDENT)
    A, b = np.array([[0.2, -1.0], [0.7, -0.3]]), np.array([0.5, -0.25])
    x0 = np.array([[1.0, 0.5], [-0.3, 2.0]])
    out = student.euler(harness_callable("linear_field", A=A, b=b), x0, 8)
    assert student.callable_calls() == [8]
    expected = x0.copy()
    for _ in range(8):
        expected = expected + (expected @ A.T + b) / 8
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(out, out.astype(np.float32))  # computed in float32 (the grader reads float64)
    score = student.score_at(harness_callable("gaussian_score", mean=np.zeros(2), var=2.0), x0)
    assert student.callable_calls() == [1]
    np.testing.assert_allclose(score, -x0 / 2.0, rtol=1e-6)
