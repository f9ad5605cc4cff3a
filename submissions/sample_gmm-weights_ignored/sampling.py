"""sampling.py with one catalogued mistake: components chosen uniformly, the weights ignored."""

import math

import torch


def sample_gmm(weights, means, variances, n, generator):
    """Pick a component for each draw, then add Gaussian noise."""
    k, d = means.shape
    component = torch.randint(k, (n,), generator=generator, device=means.device)
    noise = torch.randn((n, d), generator=generator, dtype=means.dtype, device=means.device)
    return means[component] + variances[component].sqrt()[:, None] * noise


def sample_kde(data, sigma, n, generator):
    """Rows by torch.multinomial on equal weights, noise by torch.normal with standard deviation sigma."""
    m, d = data.shape
    rows = torch.multinomial(torch.ones(m, device=data.device), n, replacement=True, generator=generator)
    noise = torch.normal(0.0, sigma, size=(n, d), generator=generator, dtype=data.dtype, device=data.device)
    return data[rows] + noise


def normal_to_exponential(z, rate):
    """-log(1 - Phi(z)) / rate with 1 - Phi(z) = erfc(z / sqrt 2) / 2: log of erfc for z >= 0 (no rounding to
    0), log1p of -Phi(z) for z < 0 (no rounding to 1)."""
    upper = -(torch.log(torch.erfc(z / math.sqrt(2))) - math.log(2))
    lower = -torch.log1p(-0.5 * torch.erfc(-z / math.sqrt(2)))
    return torch.where(z >= 0, upper, lower) / rate
