"""Known mistakes in gaussian_log_prob, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("missing_log_2pi", title="Missing the log(2 pi) constant",
         explanation="The normalising constant -1/2 log(2 pi) per coordinate is dropped, so the result is "
                     "d/2 log(2 pi) = 0.92 d nats too high and exp of it does not integrate to 1.",
         hint="Integrate exp(your log-density) numerically in one dimension: what do you get?")
def gaussian_log_prob(x, mean, var):
    return -0.5 * ((x - mean) ** 2 / var + torch.log(var)).sum(-1)


@mistake("std_for_variance", title="var used as a standard deviation",
         explanation="var is treated as sigma instead of sigma^2: the quadratic term divides by 2 var^2 and the "
                     "normaliser uses log(var) in place of log(var) / 2, which is the density of N(mean, var^2).",
         hint="Take var = 4 in one dimension: what should the spread of the density be, 2 or 4?")
def gaussian_log_prob(x, mean, var):  # noqa: F811
    sigma = var
    return (-0.5 * ((x - mean) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(-1)


@mistake("log_var_not_halved", title="Normaliser uses log(var) instead of log(var) / 2",
         explanation="The log-determinant term is -log(var) per coordinate instead of -log(var) / 2 (that is "
                     "-log(sigma)), so the density is not normalised whenever var != 1.",
         hint="The normalising constant of N(mean, var) is 1 / sqrt(2 pi var): what is its logarithm?")
def gaussian_log_prob(x, mean, var):  # noqa: F811
    return (-0.5 * (x - mean) ** 2 / var - torch.log(var) - 0.5 * math.log(2 * math.pi)).sum(-1)


@mistake("log_of_density", title="Logarithm of the density (underflow)",
         explanation="The density is computed first and its logarithm taken afterwards; far from the mean the "
                     "density underflows to 0 and the log-density becomes -inf.",
         hint="Evaluate your function 100 standard deviations away from the mean: is the answer finite?")
def gaussian_log_prob(x, mean, var):  # noqa: F811
    density = torch.exp(-0.5 * (x - mean) ** 2 / var) / torch.sqrt(2 * math.pi * var)
    return torch.log(density).sum(-1)


# Designed inputs: d > 1, mean != 0, variances on both sides of 1; the last one lies 60 standard
# deviations from the mean, where the density underflows.
PROBES = [
    probe(np.array([[0.7, -1.3, 2.4], [1.5, 0.0, -0.6]]), np.array([0.5, -1.0, 1.0]), np.array([0.3, 2.5, 4.0])),
    probe(np.array([1.1, 2.9]), np.array([-0.4, 3.3]), np.array([1.7, 0.6])),
    probe(np.array([60.0, -30.0]), np.array([0.0, 0.5]), np.array([1.0, 0.25])),
]
