"""Reference solutions for gan.py (see PROBLEMS.md): the Dirac GAN's gradient field, its Jacobian at the
equilibrium and the local stability of simultaneous gradient play.

Data p_D = delta_0, generator p_theta = delta_theta, critic C(x) = psi0 x + psi1,
L = log sigmoid(C(0)) + log sigmoid(-C(theta)), gradient penalty R1 = E_{p_D} |dC/dx|^2 = psi0^2.
"""

import torch


def dirac_gan_field(psi0, psi1, theta, gamma=0.0):
    """(v_psi0, v_psi1, v_theta): the critic ascends L - (gamma / 2) R1, the generator descends L.

    With d/du log sigmoid(u) = sigmoid(-u) and s = sigmoid(C(theta)) = sigmoid(psi0 theta + psi1):
    dL/dpsi0 = -theta s, dL/dpsi1 = sigmoid(-psi1) - s, dL/dtheta = -psi0 s, and (gamma / 2) dR1/dpsi0 = gamma psi0.
    """
    psi0, psi1, theta = torch.broadcast_tensors(psi0, psi1, theta)
    s = torch.sigmoid(psi0 * theta + psi1)
    return -theta * s - gamma * psi0, torch.sigmoid(-psi1) - s, psi0 * s


def dirac_gan_jacobian(gamma):
    """d(v_psi0, v_psi1, v_theta) / d(psi0, psi1, theta) at (0, 0, 0), where sigmoid = 1/2 and sigmoid' = 1/4."""
    return torch.tensor([[-gamma, 0.0, -0.5],
                         [0.0, -0.5, 0.0],
                         [0.5, 0.0, 0.0]], dtype=torch.float64)


def is_locally_stable(gamma):
    """All eigenvalues of the Jacobian have strictly negative real part.

    The Jacobian is block diagonal: -1/2 for psi1, and [[-gamma, -1/2], [1/2, 0]] for (psi0, theta), whose
    eigenvalues (-gamma +- sqrt(gamma^2 - 1)) / 2 have product 1/4 > 0 and sum -gamma: both real parts are negative
    exactly when gamma > 0. At gamma = 0 they are +-i/2, on the imaginary axis: not asymptotically stable.
    """
    return bool(gamma > 0)
