"""Known mistakes in radial_flow_inverse, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("wrong_root", title="Wrong root of the radial equation",
         explanation="r solves r^2 + (alpha + beta - s) r - alpha s = 0 (s = ||y - z0||), whose roots have product "
                     "-alpha s <= 0: the minus root taken here is negative, not a distance.",
         hint="r = ||z - z0|| must be >= 0: which of the two roots is?")
def radial_flow_inverse(y, z0, alpha, beta):
    diff = y - z0
    s = torch.linalg.vector_norm(diff, dim=-1)
    b = alpha + beta - s
    r = (-b - torch.sqrt(b * b + 4 * alpha * s)) / 2
    return z0 + ((alpha + r) / (alpha + beta + r))[..., None] * diff


@mistake("h_at_the_output_radius", title="h evaluated at ||y - z0|| instead of r",
         explanation="z - z0 = (y - z0) / (1 + beta h(s)) with s = ||y - z0||: the scaling depends on the unknown "
                     "radius r = ||z - z0||, which differs from s unless beta = 0.",
         hint="Take norms of y - z0 = (1 + beta h(r)) (z - z0): which equation does r satisfy?")
def radial_flow_inverse(y, z0, alpha, beta):  # noqa: F811
    diff = y - z0
    s = torch.linalg.vector_norm(diff, dim=-1)
    return z0 + (1 / (1 + beta / (alpha + s)))[..., None] * diff


@mistake("shift_subtracted_at_y", title="The shift subtracted at y",
         explanation="z = y - beta h(s) (y - z0) undoes the move as if it were evaluated at y: a single "
                     "fixed-point step, not the inverse.",
         hint="Check radial_flow(your z) against y for beta = 2: do they agree?")
def radial_flow_inverse(y, z0, alpha, beta):  # noqa: F811
    diff = y - z0
    s = torch.linalg.vector_norm(diff, dim=-1)
    return y - (beta / (alpha + s))[..., None] * diff


# Designed inputs: D = 3, z0 != 0, rows at several radii, beta < 0 and beta > 0.
PROBES = [
    probe(np.array([[1.0, 0.5, -0.3], [-0.5, 2.0, 1.0]]), np.array([0.2, -0.1, 0.4]), 1.3, -0.9),
    probe(np.array([[0.7, 0.1], [-2.0, 1.5], [3.0, -0.4]]), np.array([0.5, -0.5]), 0.5, 2.0),
]
