"""Otter-Grader tests of kl_categorical: fixed cases and randomised ones."""
OK_FORMAT = False

import numpy as np
import torch
from otter.test_files import test_case

name = "kl_categorical"
points = 4


@test_case(points=1)
def test_zero_for_identical(kl_categorical):
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    assert abs(float(kl_categorical(p, p))) < 1e-6


@test_case(points=1)
def test_zero_probabilities(kl_categorical):
    p = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64)
    q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    kl = float(kl_categorical(p, q))
    assert np.isfinite(kl) and np.isclose(kl, 0.5 * np.log(2), rtol=1e-4)


@test_case(points=2)
def test_random_cases(kl_categorical):
    rng = np.random.default_rng(0)
    for _ in range(50):
        k = int(rng.integers(2, 7))
        p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
        kl = float(kl_categorical(torch.tensor(p), torch.tensor(q)))
        assert np.isclose(kl, float(np.sum(p * np.log(p / q))), rtol=1e-4, atol=1e-6)
