"""Known mistakes in dirac_gan_field, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("penalty_ignored", title="Gradient penalty ignored",
         explanation="gamma has no effect: v_psi0 lacks the penalty term -(gamma / 2) dR1/dpsi0 = -gamma psi0, so "
                     "the field is the unregularised one, whose dynamics circle the equilibrium forever.",
         hint="R1 = E_{p_D} |dC/dx|^2 = psi0^2: what is its gradient with respect to psi0, and where does it enter?")
def dirac_gan_field(psi0, psi1, theta, gamma=0.0):
    s = torch.sigmoid(psi0 * theta + psi1)
    return -theta * s, torch.sigmoid(-psi1) - s, psi0 * s


@mistake("generator_ascends", title="Generator ascends the objective",
         explanation="v_theta = +dL/dtheta = -psi0 sigmoid(C(theta)): the generator climbs L like the critic instead "
                     "of descending it, so both players cooperate instead of playing the minimax game.",
         hint="The generator minimises L: its velocity is minus its gradient. What is dL/dtheta?")
def dirac_gan_field(psi0, psi1, theta, gamma=0.0):  # noqa: F811
    s = torch.sigmoid(psi0 * theta + psi1)
    return -theta * s - gamma * psi0, torch.sigmoid(-psi1) - s, -psi0 * s


@mistake("penalty_not_halved", title="Penalty gradient not halved",
         explanation="v_psi0 subtracts gamma dR1/dpsi0 = 2 gamma psi0 instead of (gamma / 2) dR1/dpsi0 = gamma psi0: "
                     "the penalty is applied with twice its weight.",
         hint="The penalised objective is L - (gamma / 2) R1 with R1 = psi0^2: differentiate (gamma / 2) psi0^2.")
def dirac_gan_field(psi0, psi1, theta, gamma=0.0):  # noqa: F811
    s = torch.sigmoid(psi0 * theta + psi1)
    return -theta * s - 2 * gamma * psi0, torch.sigmoid(-psi1) - s, psi0 * s


@mistake("logsigmoid_derivative", title="d/du log sigmoid(u) taken as sigmoid(u)",
         explanation="The derivative of log sigmoid(u) is sigmoid(-u) = 1 - sigmoid(u), not sigmoid(u): every "
                     "gradient uses sigmoid of the wrong sign (sigmoid(psi1) and sigmoid(-C(theta))). The field still "
                     "vanishes at the equilibrium, where sigmoid(0) = 1/2, but is wrong everywhere else.",
         hint="Differentiate log(1 / (1 + exp(-u))) and compare with sigmoid(u) at u = 3.")
def dirac_gan_field(psi0, psi1, theta, gamma=0.0):  # noqa: F811
    s = torch.sigmoid(-(psi0 * theta + psi1))
    return -theta * s - gamma * psi0, torch.sigmoid(psi1) - s, psi0 * s


# Designed inputs: psi0, psi1, theta away from 0 and from each other, gamma != 0, 1, 1/2; one 0-d call and one
# broadcasting call (psi1 a scalar, theta a column).
PROBES = [
    probe(np.asarray(0.8), np.asarray(-0.3), np.asarray(1.2), gamma=0.7),
    probe(np.array([-1.5, 0.4, 2.0]), np.asarray(0.6), np.array([[0.9], [-1.1]]), gamma=1.7),
]
