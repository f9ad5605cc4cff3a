"""gan.py with one catalogued mistake: the Jacobian transposed (rows are the variables)."""

import numpy as np
import torch


def dirac_gan_field(psi0, psi1, theta, gamma=0.0):
    """Simultaneous gradient play on L - (gamma / 2) psi0^2 (critic) and L (generator)."""
    fake = torch.special.expit(psi0 * theta + psi1)  # d/du log sigmoid(-u) = -sigmoid(u)
    real = torch.special.expit(-psi1)  # d/du log sigmoid(u) = sigmoid(-u)
    v_psi0 = -theta * fake - gamma * psi0
    v_psi1 = real - fake
    v_theta = psi0 * fake
    return torch.broadcast_tensors(v_psi0, v_psi1, v_theta)


def dirac_gan_jacobian(gamma):
    """Rows (v_psi0, v_psi1, v_theta), columns (psi0, psi1, theta), at the origin where sigmoid = 1/2."""
    return np.array([[-gamma, 0.0, -0.5], [0.0, -0.5, 0.0], [0.5, 0.0, 0.0]]).T


def is_locally_stable(gamma):
    """-1/2 for psi1; the (psi0, theta) block has determinant 1/4 > 0, so both real parts are < 0 iff trace < 0."""
    trace, determinant = -gamma, 0.25
    return trace < 0 and determinant > 0
