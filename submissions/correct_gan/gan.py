"""A correct gan.py written differently from the reference: the field by autograd of the penalised objective (in
float32), the Jacobian by autograd of that field, and stability from the Jacobian's eigenvalues."""

import numpy as np
import torch
import torch.nn.functional as F


def _objective(psi0, psi1, theta):
    """L = log sigmoid(C(0)) + log sigmoid(-C(theta)) for the critic C(x) = psi0 x + psi1."""
    return F.logsigmoid(psi1) + F.logsigmoid(-(psi0 * theta + psi1))


def dirac_gan_field(psi0, psi1, theta, gamma=0.0):
    """Gradients of L - (gamma / 2) psi0^2 (critic, ascending) and of -L (generator), by autograd in float32."""
    shape = torch.broadcast_shapes(psi0.shape, psi1.shape, theta.shape)
    variables = [torch.as_tensor(v).float().expand(shape).clone().requires_grad_(True) for v in (psi0, psi1, theta)]
    with torch.enable_grad():
        objective = _objective(*variables)
        penalty = 0.5 * gamma * variables[0] ** 2  # R1 = E_{p_D} |dC/dx|^2 = psi0^2 for each element
        g0, g1 = torch.autograd.grad((objective - penalty).sum(), variables[:2], create_graph=True)
        (gt,) = torch.autograd.grad(objective.sum(), variables[2], create_graph=True)
    return g0, g1, -gt


def dirac_gan_jacobian(gamma):
    """torch.autograd.functional.jacobian of the field at the origin, as a numpy array."""
    def stacked(x):
        return torch.stack(dirac_gan_field(x[0], x[1], x[2], gamma))

    return torch.autograd.functional.jacobian(stacked, torch.zeros(3)).double().numpy()


def is_locally_stable(gamma):
    """Strictly negative real parts of all eigenvalues (numpy's eigenvalues at gamma = 0 have real part +-0)."""
    eigenvalues = np.linalg.eigvals(np.array(dirac_gan_jacobian(gamma), dtype=np.float64))
    return bool(np.all(eigenvalues.real < 0))
