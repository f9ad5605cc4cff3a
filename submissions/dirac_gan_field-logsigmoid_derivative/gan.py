"""gan.py with one catalogued mistake: d/du log sigmoid(u) taken as sigmoid(u)."""

import numpy as np
import torch


def dirac_gan_field(psi0, psi1, theta, gamma=0.0):
    """Simultaneous gradient play on the Dirac GAN."""
    critic_fake = psi0 * theta + psi1
    d_real = torch.sigmoid(psi1)  # d/du log sigmoid(u) at u = C(0)
    d_fake = torch.sigmoid(-critic_fake)  # d/du log sigmoid(u) at u = -C(theta)
    v_psi0 = -theta * d_fake - gamma * psi0
    v_psi1 = d_real - d_fake
    v_theta = psi0 * d_fake
    return torch.broadcast_tensors(v_psi0, v_psi1, v_theta)


def dirac_gan_jacobian(gamma):
    """Rows (v_psi0, v_psi1, v_theta), columns (psi0, psi1, theta), at the origin where sigmoid = 1/2."""
    return np.array([[-gamma, 0.0, -0.5],
                     [0.0, -0.5, 0.0],
                     [0.5, 0.0, 0.0]])


def is_locally_stable(gamma):
    """-1/2 for psi1; the (psi0, theta) block has determinant 1/4 > 0, so both real parts are < 0 iff trace < 0."""
    trace, determinant = -gamma, 0.25
    return trace < 0 and determinant > 0
