"""Otter-Grader tests of kl_normal: fixed cases and randomised ones (the peer benchmark's assignment)."""
OK_FORMAT = False

import numpy as np
import torch
from otter.test_files import test_case

name = "kl_normal"
points = 4


def _closed_form(mu_q, s_q, mu_p, s_p):
    return np.log(s_p / s_q) + (s_q**2 + (mu_q - mu_p) ** 2) / (2 * s_p**2) - 0.5


@test_case(points=1)
def test_zero_for_identical(kl_normal):
    kl = kl_normal(torch.tensor(0.3), torch.tensor(1.7), torch.tensor(0.3), torch.tensor(1.7))
    assert abs(float(kl)) < 1e-6


@test_case(points=1)
def test_fixed_value(kl_normal):
    kl = float(kl_normal(torch.tensor(1.0), torch.tensor(2.0), torch.tensor(0.0), torch.tensor(1.0)))
    assert np.isclose(kl, _closed_form(1.0, 2.0, 0.0, 1.0), rtol=1e-4)


@test_case(points=2)
def test_random_cases(kl_normal):
    rng = np.random.default_rng(0)
    for _ in range(50):
        mu_q, mu_p = rng.uniform(-10, 10, 2)
        s_q, s_p = rng.uniform(0.1, 10, 2)
        kl = float(kl_normal(*(torch.tensor(v, dtype=torch.float64) for v in (mu_q, s_q, mu_p, s_p))))
        assert kl >= 0 and np.isclose(kl, _closed_form(mu_q, s_q, mu_p, s_p), rtol=1e-4, atol=1e-5)
