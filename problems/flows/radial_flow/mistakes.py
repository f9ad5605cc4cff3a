"""Known mistakes in radial_flow, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("log_det_missing_power", title="log-det missing the (D - 1) power",
         explanation="log_det is log(1 + beta h) + log(1 + beta h + beta h' r): the factor 1 + beta h is an "
                     "eigenvalue of the Jacobian D - 1 times (every direction orthogonal to z - z0), not once.",
         hint="det((1 + beta h) I + beta h' r u u^T) by the matrix determinant lemma: which power of 1 + beta h?")
def radial_flow(z, z0, alpha, beta):
    diff = z - z0
    r = torch.linalg.vector_norm(diff, dim=-1)
    h = 1 / (alpha + r)
    y = z + (beta * h)[..., None] * diff
    return y, torch.log(1 + beta * h) + torch.log(1 + beta * h - beta * h * h * r)


@mistake("radial_term_missing", title="The radial direction treated like the others",
         explanation="log_det is D log(1 + beta h): the derivative of h(r) along the radial direction "
                     "(the term beta h'(r) r) was left out, as if h were a constant.",
         hint="h depends on z through r: differentiate beta h(r) (z - z0) with the product rule.")
def radial_flow(z, z0, alpha, beta):  # noqa: F811
    diff = z - z0
    r = torch.linalg.vector_norm(diff, dim=-1)
    h = 1 / (alpha + r)
    return z + (beta * h)[..., None] * diff, z.shape[-1] * torch.log(1 + beta * h)


@mistake("norm_over_whole_batch", title="One norm over the whole batch",
         explanation="r is the norm of all of z - z0 at once (torch.norm without dim), not one norm per row, so "
                     "each point's move depends on the other points of the batch.",
         hint="With a batch of two points, does moving the second point change y for the first?")
def radial_flow(z, z0, alpha, beta):  # noqa: F811
    diff = z - z0
    r = torch.norm(diff)
    h = 1 / (alpha + r)
    log_det = (z.shape[-1] - 1) * torch.log(1 + beta * h) + torch.log(1 + beta * h - beta * h * h * r)
    return z + beta * h * diff, log_det.expand(z.shape[:-1])


# Designed inputs: D = 3 (and D = 1, where the power vanishes), batches of several rows at different radii,
# z0 != 0, beta on both sides of 0.
PROBES = [
    probe(np.array([[1.0, 0.5, -0.3], [-0.5, 2.0, 1.0]]), np.array([0.2, -0.1, 0.4]), 1.3, -0.9),
    probe(np.array([[0.7], [-2.0], [3.0]]), np.array([0.5]), 0.5, 2.0),
]
