"""sampling.py with one catalogued mistake: the noise scaled by sigma^2."""

import math

import torch


def sample_gmm(weights, means, variances, n, generator):
    """Component by inverting the weights' CDF at a uniform draw; noise drawn in float32."""
    cumulative = torch.cumsum(weights / weights.sum(), dim=0)
    u = torch.rand(n, generator=generator, dtype=weights.dtype, device=weights.device)
    component = torch.searchsorted(cumulative, u, right=True).clamp(max=weights.shape[0] - 1)
    noise = torch.randn((n, means.shape[1]), generator=generator, dtype=torch.float32, device=means.device)
    scale = variances.float().sqrt()[component].unsqueeze(1)
    return means.float()[component] + scale * noise


def sample_kde(data, sigma, n, generator):
    """A uniformly chosen row plus kernel noise."""
    rows = torch.randint(0, data.shape[0], (n,), generator=generator, device=data.device)
    noise = torch.randn((n, data.shape[1]), generator=generator, dtype=data.dtype, device=data.device)
    return data[rows] + (sigma * sigma) * noise


def normal_to_exponential(z, rate):
    """-log(1 - Phi(z)) / rate with 1 - Phi(z) = erfc(z / sqrt 2) / 2: log of erfc for z >= 0 (no rounding to
    0), log1p of -Phi(z) for z < 0 (no rounding to 1)."""
    upper = -(torch.log(torch.erfc(z / math.sqrt(2))) - math.log(2))
    lower = -torch.log1p(-0.5 * torch.erfc(-z / math.sqrt(2)))
    return torch.where(z >= 0, upper, lower) / rate
