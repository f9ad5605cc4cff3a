"""Otter-Grader tests of kl_diag_normal_std: fixed cases and randomised ones."""
OK_FORMAT = False

import numpy as np
import torch
from otter.test_files import test_case

name = "kl_diag_normal_std"
points = 4


def _closed_form(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu**2 - 1 - logvar, axis=-1)


@test_case(points=1)
def test_zero_at_standard_normal(kl_diag_normal_std):
    kl = kl_diag_normal_std(torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
    assert abs(float(kl)) < 1e-6


@test_case(points=1)
def test_fixed_value(kl_diag_normal_std):
    mu, logvar = np.array([1.0, -2.0]), np.array([0.5, -1.0])
    kl = float(kl_diag_normal_std(torch.tensor(mu), torch.tensor(logvar)))
    assert np.isclose(kl, _closed_form(mu, logvar), rtol=1e-4)


@test_case(points=2)
def test_random_cases(kl_diag_normal_std):
    rng = np.random.default_rng(0)
    for _ in range(50):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5)))
        mu, logvar = rng.uniform(-5, 5, shape), rng.uniform(-5, 5, shape)
        kl = kl_diag_normal_std(torch.tensor(mu), torch.tensor(logvar)).numpy()
        assert np.allclose(kl, _closed_form(mu, logvar), rtol=1e-4, atol=1e-5)
