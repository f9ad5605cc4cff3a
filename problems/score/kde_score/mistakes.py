"""Known mistakes in kde_score, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("sign_flipped", title="Sign of the score flipped",
         explanation="The result is sum_i w_i (x - data_i) / sigma^2, which points away from the data: that is the "
                     "gradient of -log q (an energy), not of log q.",
         hint="For a single data point, log q(x) = -|x - data_0|^2 / (2 sigma^2) + const: differentiate it by hand.")
def kde_score(x, data, sigma):
    offsets = x.unsqueeze(-2) - data
    weights = torch.softmax(-0.5 * (offsets**2).sum(-1) / sigma**2, dim=-1)
    return (weights.unsqueeze(-1) * offsets).sum(-2) / sigma**2


@mistake("naive_softmax", title="Weights computed with a naive softmax",
         explanation="The kernel weights exp(logit_i) / sum_j exp(logit_j) are computed without subtracting the "
                     "largest logit: more than about 40 sigma away from every data point each exp underflows to 0 "
                     "and the score is 0 / 0 = NaN.",
         hint="Evaluate your function at |x - data_i| = 50 sigma: what are the kernel values in floating point?")
def kde_score(x, data, sigma):  # noqa: F811
    offsets = data - x.unsqueeze(-2)
    kernels = torch.exp(-0.5 * (offsets**2).sum(-1) / sigma**2)
    weights = kernels / kernels.sum(-1, keepdim=True)
    return (weights.unsqueeze(-1) * offsets).sum(-2) / sigma**2


@mistake("sigma_for_variance", title="Divided by sigma instead of sigma^2",
         explanation="The pull of each data point is (data_i - x) / sigma, but the gradient of "
                     "-|x - data_i|^2 / (2 sigma^2) is (data_i - x) / sigma^2: sigma is the standard deviation of "
                     "the kernel, sigma^2 its variance.",
         hint="Check your answer for a single data point against the score of N(data_0, sigma^2 I) with sigma = 2.")
def kde_score(x, data, sigma):  # noqa: F811
    offsets = data - x.unsqueeze(-2)
    weights = torch.softmax(-0.5 * (offsets**2).sum(-1) / sigma**2, dim=-1)
    return (weights.unsqueeze(-1) * offsets).sum(-2) / sigma


@mistake("uniform_weights", title="Data points weighted equally",
         explanation="Every data point pulls with weight 1/m, giving (mean(data) - x) / sigma^2: the score of q is "
                     "a posterior-weighted average, in which the kernels close to x dominate.",
         hint="grad log sum_i k_i(x) = sum_i grad k_i(x) / sum_j k_j(x): which weights does that put on the "
              "individual Gaussian scores?")
def kde_score(x, data, sigma):  # noqa: F811
    return (data.mean(0) - x) / sigma**2


_DATA = np.array([[1.0, -0.5], [-1.5, 2.0], [0.5, 1.5]])

# Designed inputs: d = 2, three data points, sigma != 1 and a few kernels of comparable weight at the first
# points, so that the sign, the power of sigma and the weights all matter; the last point is 90 sigma away from the
# data, where every kernel value underflows.
PROBES = [
    probe(np.array([[0.3, 0.8], [-1.2, 1.1]]), _DATA, 0.7),
    probe(np.array([0.9, -0.2]), _DATA, 1.6),
    probe(np.array([[60.0, -20.0]]), _DATA, 0.7),
]
