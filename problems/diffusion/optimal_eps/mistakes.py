"""Known mistakes in optimal_eps, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("x0_instead_of_eps", title="E[x0 | x_t] returned instead of E[eps | x_t]",
         explanation="The posterior-weighted average of the data points, E[x0 | x_t = x], is returned: that is "
                     "the optimal x0-prediction, not the noise. The two are related by "
                     "x = sqrt(abar_t) E[x0 | x] + sqrt(1 - abar_t) E[eps | x].",
         hint="When abar_t is close to 0, x_t is almost pure noise: what should E[eps | x_t = x] be close to?")
def optimal_eps(x, t, data, betas):
    abar = torch.prod(1 - betas[:t])
    diff = x.unsqueeze(-2) - torch.sqrt(abar) * data
    weights = torch.softmax(-0.5 * (diff**2).sum(-1) / (1 - abar), dim=-1)
    return weights @ data


@mistake("naive_softmax", title="Weights computed with a naive softmax",
         explanation="The Gaussian weights exp(logit_i) / sum_j exp(logit_j) are computed without subtracting the "
                     "largest logit: far from the data (or at small noise levels) every exp underflows to 0 and the "
                     "result is 0 / 0 = NaN.",
         hint="Evaluate your function at |x| = 50: what are the exp(logit_i) in floating point?")
def optimal_eps(x, t, data, betas):  # noqa: F811
    abar = torch.prod(1 - betas[:t])
    noises = (x.unsqueeze(-2) - torch.sqrt(abar) * data) / torch.sqrt(1 - abar)
    unnormalised = torch.exp(-0.5 * (noises**2).sum(-1))
    weights = unnormalised / unnormalised.sum(-1, keepdim=True)
    return (weights.unsqueeze(-1) * noises).sum(-2)


@mistake("unscaled_means", title="Weights use N(x; x0_i, .) instead of N(x; sqrt(abar_t) x0_i, .)",
         explanation="The posterior weights of the data points compare x with the data points themselves, but "
                     "under q(x_t | x0) the mean of x_t is sqrt(abar_t) x0: the signal's shrinkage is forgotten in "
                     "the weights.",
         hint="What is the mean of x_t given x0 = data_i?")
def optimal_eps(x, t, data, betas):  # noqa: F811
    abar = torch.prod(1 - betas[:t])
    weights = torch.softmax(-0.5 * ((x.unsqueeze(-2) - data) ** 2).sum(-1) / (1 - abar), dim=-1)
    x0_hat = weights @ data
    return (x - torch.sqrt(abar) * x0_hat) / torch.sqrt(1 - abar)


_DATA = np.array([[1.0, -0.5], [-1.5, 2.0], [0.5, 1.5]])
_BETAS = np.linspace(0.05, 0.4, 6)

# Designed inputs: d = 2, three data points, abar_t well inside (0, 1) so that the weights, the shrinkage and
# eps vs x0 all matter; the last point is 60 away from the data, where the weights underflow.
PROBES = [
    probe(np.array([[0.3, 0.8], [-1.2, 1.1]]), 3, _DATA, _BETAS),
    probe(np.array([0.9, -0.2]), 5, _DATA, _BETAS),
    probe(np.array([[60.0, -20.0]]), 2, _DATA, _BETAS),
]
