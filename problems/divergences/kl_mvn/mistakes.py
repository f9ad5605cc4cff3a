"""Known mistakes in kl_mvn, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("missing_minus_d", title="Missing the -d term",
         explanation="The dimension d is not subtracted, so the result is KL + d/2: even KL(N0 || N0) is d/2 "
                     "instead of 0.",
         hint="Evaluate your formula with mu0 = mu1 and cov0 = cov1: what must KL be, and what is left over?")
def kl_mvn(mu0, cov0, mu1, cov1):
    inv1 = torch.linalg.inv(cov1)
    diff = (mu1 - mu0).unsqueeze(-1)
    trace = torch.diagonal(inv1 @ cov0, dim1=-2, dim2=-1).sum(-1)
    maha = (diff.transpose(-1, -2) @ inv1 @ diff)[..., 0, 0]
    return 0.5 * (trace + maha + torch.logdet(cov1) - torch.logdet(cov0))


@mistake("trace_inverted", title="Trace term uses inv(cov0) @ cov1",
         explanation="The trace term is tr(cov0^-1 cov1) instead of tr(cov1^-1 cov0): the covariances are "
                     "exchanged in the trace only, so the KL is wrong (and can be negative) whenever cov0 != cov1.",
         hint="Take cov0 = c * cov1 for a scalar c and diagonal covariances: every term must reduce to its "
              "counterpart in the univariate KL.")
def kl_mvn(mu0, cov0, mu1, cov1):  # noqa: F811
    d = mu0.shape[-1]
    inv1 = torch.linalg.inv(cov1)
    diff = (mu1 - mu0).unsqueeze(-1)
    trace = torch.diagonal(torch.linalg.inv(cov0) @ cov1, dim1=-2, dim2=-1).sum(-1)
    maha = (diff.transpose(-1, -2) @ inv1 @ diff)[..., 0, 0]
    return 0.5 * (trace + maha - d + torch.logdet(cov1) - torch.logdet(cov0))


@mistake("direction_swapped", title="KL direction swapped",
         explanation="The result equals KL(N1 || N0): the roles of the two Gaussians were exchanged.",
         hint="KL(N0 || N1) is an expectation under N0: compare each term with the univariate "
              "KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)) for d = 1.")
def kl_mvn(mu0, cov0, mu1, cov1):  # noqa: F811
    d = mu0.shape[-1]
    inv0 = torch.linalg.inv(cov0)
    diff = (mu0 - mu1).unsqueeze(-1)
    trace = torch.diagonal(inv0 @ cov1, dim1=-2, dim2=-1).sum(-1)
    maha = (diff.transpose(-1, -2) @ inv0 @ diff)[..., 0, 0]
    return 0.5 * (trace + maha - d + torch.logdet(cov0) - torch.logdet(cov1))

# d = 2 and 3, full covariances, different means: every mistake and the reference disagree.
PROBES = [
    probe(np.array([0.5, -1.0]), np.array([[2.0, 0.6], [0.6, 1.0]]),
          np.array([-0.2, 0.3]), np.array([[0.8, -0.2], [-0.2, 1.5]])),
    probe(np.array([1.0, 0.0, -0.5]), np.array([[1.5, 0.3, 0.1], [0.3, 0.7, -0.2], [0.1, -0.2, 2.2]]),
          np.array([0.0, 0.4, 0.2]), np.array([[0.9, 0.0, 0.2], [0.0, 1.8, 0.3], [0.2, 0.3, 0.6]])),
]
