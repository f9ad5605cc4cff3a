"""A correct implementation of gan.py computing in float32 throughout: the Dirac GAN field from the hand-derived
gradients of L = log sigmoid(C(0)) + log sigmoid(-C(theta)) (using d/du log sigmoid(u) = 1 - sigmoid(u)) with
every tensor argument cast to float32, the Jacobian from sigmoid(0) and sigmoid'(0) as a float32 tensor, and the
stability test by the Routh-Hurwitz conditions on that float32 Jacobian (trace < 0 and determinant > 0 of the
(psi0, theta) block, and a negative psi1 entry) rather than by an eigenvalue solver. It shows that float32
arithmetic gets full credit on the bank's well-conditioned inputs."""

import torch

F32 = torch.float32


def dirac_gan_field(psi0, psi1, theta, gamma=0.0):
    """(v_psi0, v_psi1, v_theta): the critic ascends L - (gamma / 2) psi0^2, the generator descends L."""
    psi0, psi1, theta = (torch.as_tensor(v).to(F32) for v in (psi0, psi1, theta))
    psi0, psi1, theta = torch.broadcast_tensors(psi0, psi1, theta)
    fake_score = torch.sigmoid(psi0 * theta + psi1)  # sigmoid(C(theta))
    real_score = torch.sigmoid(psi1)  # sigmoid(C(0))
    # L = log sigmoid(psi1) + log sigmoid(-(psi0 theta + psi1))
    dL_dpsi0 = -theta * fake_score
    dL_dpsi1 = (1.0 - real_score) - fake_score
    dL_dtheta = -psi0 * fake_score
    # R1 = psi0^2, so (gamma / 2) dR1/dpsi0 = gamma psi0
    return dL_dpsi0 - gamma * psi0, dL_dpsi1, -dL_dtheta


def dirac_gan_jacobian(gamma):
    """Derivatives of the field at (0, 0, 0), where sigmoid(0) = 1/2 and sigmoid'(0) = 1/4, in float32."""
    zero = torch.zeros((), dtype=F32)
    s0 = torch.sigmoid(zero)
    ds0 = s0 * (1.0 - s0)
    g = torch.tensor(gamma, dtype=F32)
    jac = torch.zeros(3, 3, dtype=F32)
    jac[0, 0] = -g  # d(-theta s - gamma psi0)/dpsi0 at theta = 0
    jac[0, 2] = -s0  # d(-theta s)/dtheta
    jac[1, 1] = -ds0 - ds0  # d(1 - sigmoid(psi1) - sigmoid(psi1))/dpsi1 at theta = 0
    jac[2, 0] = s0  # d(psi0 s)/dpsi0
    return jac


def is_locally_stable(gamma):
    """Routh-Hurwitz: psi1 decouples with eigenvalue J[1, 1]; the (psi0, theta) block [[a, b], [c, d]] has both
    eigenvalues in the open left half-plane exactly when its trace is negative and its determinant positive."""
    jac = dirac_gan_jacobian(gamma)
    block = jac[[0, 2]][:, [0, 2]]
    trace = block[0, 0] + block[1, 1]
    det = block[0, 0] * block[1, 1] - block[0, 1] * block[1, 0]
    return bool((jac[1, 1] < 0) and (trace < 0) and (det > 0))
