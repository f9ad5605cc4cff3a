"""Shared by the gan problems' specs: the Dirac GAN in closed form, computed in the grader in float64.

Data p_D = delta_0, generator p_theta = delta_theta, critic C(x) = psi0 x + psi1,
L = log sigmoid(C(0)) + log sigmoid(-C(theta)), R1 = E_{p_D} |dC/dx|^2 = psi0^2.
"""

import numpy as np
from scipy.special import expit, log_expit

from grader.spec import st
from grader.strategies import reals

PENALTIES = (0.1, 5.0)


def objective(psi0, psi1, theta):
    """L(psi, theta), computed with log-sigmoids (finite for any argument)."""
    return log_expit(psi1) + log_expit(-(psi0 * theta + psi1))


def objective_gradient(psi0, psi1, theta):
    """(dL/dpsi0, dL/dpsi1, dL/dtheta), using d/du log sigmoid(u) = sigmoid(-u)."""
    s = expit(psi0 * theta + psi1)
    return -theta * s, expit(-psi1) - s, -psi0 * s


def field(psi0, psi1, theta, gamma):
    """The exact field: v_psi = grad_psi L - (gamma / 2) grad_psi R1, v_theta = -grad_theta L."""
    g0, g1, gt = objective_gradient(psi0, psi1, theta)
    return g0 - gamma * psi0, g1, -gt


def jacobian(gamma):
    """The exact Jacobian of the field at (0, 0, 0), rows (v_psi0, v_psi1, v_theta), columns (psi0, psi1, theta)."""
    return np.array([[-gamma, 0.0, -0.5], [0.0, -0.5, 0.0], [0.5, 0.0, 0.0]])


def penalties(low=PENALTIES[0], high=PENALTIES[1]):
    """gamma > 0 (a Python float)."""
    return reals(low, high)


@st.composite
def log_uniform(draw, low, high):
    """A Python float in [low, high], log-uniform."""
    return float(np.exp(draw(reals(np.log(low), np.log(high)))))
