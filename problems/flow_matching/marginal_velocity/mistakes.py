"""Known mistakes in marginal_velocity, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("unscaled_means", title="Weights use N(x; x_i, .) instead of N(x; t x_i, .)",
         explanation="The posterior weights of the data points compare x with the data points themselves, but "
                     "under p_t(x | x1) = N(t x1, (1 - t)^2 I) the mean of x_t is t x1: the path's shrinkage "
                     "towards the origin is forgotten in the weights.",
         hint="Where is x_t centred when x1 = data_i? Compare your field at t = 0 with mean(data) - x.")
def marginal_velocity(x, t, data):
    residuals = x.unsqueeze(-2) - data
    weights = torch.softmax(-0.5 * (residuals**2).sum(-1) / (1 - t) ** 2, dim=-1)
    return (weights.unsqueeze(-1) * (data - x.unsqueeze(-2))).sum(-2) / (1 - t)


@mistake("naive_softmax", title="Weights computed with a naive softmax",
         explanation="The Gaussian weights exp(logit_i) / sum_j exp(logit_j) are computed without subtracting the "
                     "largest logit: far from the data, or for t close to 1, every exp underflows to 0 and the "
                     "result is 0 / 0 = NaN.",
         hint="Evaluate your field at |x| = 50, or at t = 0.999: what are the exp(logit_i) in floating point?")
def marginal_velocity(x, t, data):  # noqa: F811
    residuals = x.unsqueeze(-2) - t * data
    unnormalised = torch.exp(-0.5 * (residuals**2).sum(-1) / (1 - t) ** 2)
    weights = unnormalised / unnormalised.sum(-1, keepdim=True)
    return (weights.unsqueeze(-1) * (data - x.unsqueeze(-2))).sum(-2) / (1 - t)


@mistake("std_for_variance", title="The weights divide by 1 - t instead of (1 - t)^2",
         explanation="The Gaussian log-likelihood of p_t(x | x_i) is -|x - t x_i|^2 / (2 (1 - t)^2): its variance "
                     "is (1 - t)^2, but the weights were computed with the standard deviation 1 - t in its place.",
         hint="What is the variance of x_t = (1 - t) x0 + t x1 given x1, for x0 ~ N(0, I)?")
def marginal_velocity(x, t, data):  # noqa: F811
    residuals = x.unsqueeze(-2) - t * data
    weights = torch.softmax(-0.5 * (residuals**2).sum(-1) / (1 - t), dim=-1)
    return (weights.unsqueeze(-1) * (data - x.unsqueeze(-2))).sum(-2) / (1 - t)


@mistake("uniform_weights", title="The conditional velocities averaged with equal weights",
         explanation="The field is the plain average over the data points of (x_i - x) / (1 - t), as if x1 were "
                     "independent of x_t: the expectation must use the posterior p(x1 = x_i | x_t = x), which "
                     "favours the data points whose path passes near x.",
         hint="The marginal velocity is E[u_t(x | x1) | x_t = x]: given x_t = x, is every x_i equally likely?")
def marginal_velocity(x, t, data):  # noqa: F811
    return (data - x.unsqueeze(-2)).mean(-2) / (1 - t)


_DATA = np.array([[1.0, -0.5], [-1.5, 1.0], [0.5, 1.5]])

# Designed inputs: d = 2, three data points, t = 0.4 and 0.7 (so t, (1 - t) and (1 - t)^2 all differ and the
# weights are far from uniform or one-hot); the last point is 60 away from the data, where the weights underflow.
PROBES = [
    probe(np.array([[0.3, 0.4], [-0.6, 0.5]]), 0.4, _DATA),
    probe(np.array([0.2, 0.3]), 0.7, _DATA),
    probe(np.array([[60.0, -20.0]]), 0.3, _DATA),
]
