"""Reference solutions for sampling.py (see PROBLEMS.md): sampling a Gaussian mixture and a kernel density
estimate with an explicit torch.Generator, and the inverse-CDF map from N(0, 1) to Exponential(rate)."""

import torch


def sample_gmm(weights, means, variances, n, generator):
    """n draws from sum_j weights_j N(means_j, variances_j I): a component per draw, then Gaussian noise.

    weights (k,), means (k, d), variances (k,) (spherical, as in gmm.py); all randomness from ``generator``.
    """
    component = torch.multinomial(weights, n, replacement=True, generator=generator)
    noise = torch.randn((n, means.shape[-1]), generator=generator, dtype=means.dtype, device=means.device)
    return means[component] + torch.sqrt(variances[component])[:, None] * noise


def sample_kde(data, sigma, n, generator):
    """n draws from (1/m) sum_i N(data_i, sigma^2 I): a uniformly chosen row plus N(0, sigma^2 I) noise."""
    rows = torch.randint(0, data.shape[0], (n,), generator=generator, device=data.device)
    noise = torch.randn((n, data.shape[-1]), generator=generator, dtype=data.dtype, device=data.device)
    return data[rows] + sigma * noise


def normal_to_exponential(z, rate):
    """F^{-1}(Phi(z)) = -log(1 - Phi(z)) / rate for Exponential(rate), elementwise.

    1 - Phi(z) = Phi(-z), and log Phi is evaluated directly (log_ndtr) rather than as the log of Phi: for
    z = 30 the survival probability 5e-198 is far below 1 - Phi(z)'s rounding (1e-16), and for z = -30 the
    answer -log(1 - 5e-198) = 5e-198 keeps its relative accuracy.
    """
    return -torch.special.log_ndtr(-z) / rate
