"""Known mistakes in dirac_gan_jacobian, each a drop-in replacement with the same signature."""

import torch

from grader.bank import mistake, probe


@mistake("transposed", title="Jacobian transposed",
         explanation="Entry [i, j] holds d v_j / d x_i instead of d v_i / d x_j: the rows are the variables and the "
                     "columns the field's components. The eigenvalues are the same, but the linearised dynamics "
                     "dx/dt = J x are not.",
         hint="Which entry says how v_theta changes when psi0 moves: [2, 0] or [0, 2]?")
def dirac_gan_jacobian(gamma):
    return torch.tensor([[-gamma, 0.0, 0.5], [0.0, -0.5, 0.0], [-0.5, 0.0, 0.0]], dtype=torch.float64)


@mistake("penalty_ignored", title="Gradient penalty ignored",
         explanation="d v_psi0 / d psi0 is 0 instead of -gamma: the penalty's contribution -(gamma / 2) dR1/dpsi0 = "
                     "-gamma psi0 to the critic's field was left out.",
         hint="How does the penalty term of v_psi0 change when psi0 moves?")
def dirac_gan_jacobian(gamma):  # noqa: F811
    return torch.tensor([[0.0, 0.0, -0.5], [0.0, -0.5, 0.0], [0.5, 0.0, 0.0]], dtype=torch.float64)


@mistake("penalty_not_halved", title="Penalty gradient not halved",
         explanation="d v_psi0 / d psi0 is -2 gamma instead of -gamma: the derivative of (gamma / 2) psi0^2 is "
                     "gamma psi0.",
         hint="Differentiate the penalty term (gamma / 2) R1 = (gamma / 2) psi0^2 twice with respect to psi0.")
def dirac_gan_jacobian(gamma):  # noqa: F811
    return torch.tensor([[-2 * gamma, 0.0, -0.5], [0.0, -0.5, 0.0], [0.5, 0.0, 0.0]], dtype=torch.float64)


@mistake("generator_ascends", title="Generator ascends the objective",
         explanation="d v_theta / d psi0 is -1/2 instead of 1/2: the Jacobian of a field in which the generator "
                     "climbs L (v_theta = +dL/dtheta) instead of descending it.",
         hint="v_theta = -dL/dtheta = psi0 sigmoid(psi0 theta + psi1): what is its derivative in psi0 at 0?")
def dirac_gan_jacobian(gamma):  # noqa: F811
    return torch.tensor([[-gamma, 0.0, -0.5], [0.0, -0.5, 0.0], [-0.5, 0.0, 0.0]], dtype=torch.float64)


# Designed inputs: gamma != 0, 1/2, 1 (so that -gamma, -2 gamma and 0 differ from each other and from +-1/2).
PROBES = [probe(0.7), probe(1.9)]
