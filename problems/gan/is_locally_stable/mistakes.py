"""Known mistakes in is_locally_stable, each a drop-in replacement with the same signature."""

import torch

from grader.bank import mistake, probe


@mistake("non_strict", title="Non-strict inequality",
         explanation="The answer is True for gamma = 0, where the eigenvalues +-i/2 have real part exactly 0: "
                     "Re(lambda) <= 0 was tested instead of Re(lambda) < 0. Without a penalty the simultaneous "
                     "gradient dynamics circle the equilibrium forever; they never converge to it.",
         hint="Sketch the trajectories of d(psi0, theta)/dt = (-theta / 2, psi0 / 2): do they approach (0, 0)?")
def is_locally_stable(gamma):
    return bool(gamma >= 0)


@mistake("requires_real_eigenvalues", title="Oscillation mistaken for instability",
         explanation="The answer is True only for gamma >= 1, where the eigenvalues are real: complex eigenvalues with "
                     "negative real parts (0 < gamma < 1) spiral into the equilibrium, which is stable too.",
         hint="For 0 < gamma < 1 the eigenvalues are (-gamma +- i sqrt(1 - gamma^2)) / 2: what is their real part?")
def is_locally_stable(gamma):  # noqa: F811
    return bool(gamma > 0 and gamma * gamma - 1 >= 0)


@mistake("discrete_time_criterion", title="Discrete-time criterion |lambda| < 1 used",
         explanation="The eigenvalues were required to lie inside the unit circle, the criterion for iterating a map "
                     "x <- J x, not for the flow dx/dt = J x, which needs Re(lambda) < 0. This calls gamma = 0 and "
                     "negative gammas stable and large gammas unstable.",
         hint="The solution of dx/dt = lambda x is exp(lambda t) x(0): when does it shrink to 0?")
def is_locally_stable(gamma):  # noqa: F811
    jacobian = torch.tensor([[-gamma, 0.0, -0.5], [0.0, -0.5, 0.0], [0.5, 0.0, 0.0]], dtype=torch.float64)
    return bool(torch.linalg.eigvals(jacobian).abs().max() < 1)


# Designed inputs: gamma = 0 (the strict inequality), 0.5 (complex stable eigenvalues), 2 (real ones, one outside
# the unit circle) and -0.5 (unstable, inside the unit circle). Answers: reference F T T F, non_strict T T T F,
# requires_real_eigenvalues F F T F, discrete_time_criterion T T F T.
PROBES = [probe(0.0), probe(0.5), probe(2.0), probe(-0.5)]
