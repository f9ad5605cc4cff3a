"""Known mistakes in kl_diag_normal_std, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("logvar_as_variance", title="logvar treated as a variance",
         explanation="logvar is used where the variance belongs (var = logvar instead of exp(logvar)), so the "
                     "result is wrong for every logvar != 1 and undefined (NaN) for negative logvar.",
         hint="logvar can be negative while a variance cannot: which quantity is logvar, and which is the variance?")
def kl_diag_normal_std(mu, logvar):
    var = logvar
    return 0.5 * (var + mu**2 - 1 - torch.log(var)).sum(-1)


@mistake("mean_over_dimensions", title="Mean over dimensions instead of sum",
         explanation="The per-coordinate KLs are averaged over the last dimension instead of summed, so the "
                     "result is k times too small for k coordinates.",
         hint="For independent coordinates, how does the KL of the joint distribution relate to the KLs of "
              "the coordinates?")
def kl_diag_normal_std(mu, logvar):  # noqa: F811
    return 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).mean(-1)


@mistake("missing_half", title="Missing factor 1/2",
         explanation="The sum of exp(logvar) + mu^2 - 1 - logvar is not halved, so the KL is twice too large.",
         hint="Compare with the univariate KL(N(mu, sigma^2) || N(0, 1)) for one coordinate with mu = 1, sigma = 1.")
def kl_diag_normal_std(mu, logvar):  # noqa: F811
    return (torch.exp(logvar) + mu**2 - 1 - logvar).sum(-1)

# mu != 0 and logvar of both signs, k > 1: every mistake and the reference disagree.
PROBES = [
    probe(np.array([0.5, -1.0, 2.0]), np.array([0.3, -0.5, 1.2])),
    probe(np.array([[1.5, 0.2], [-0.7, 0.0]]), np.array([[0.8, -1.1], [0.4, 2.0]])),
]
