"""Example submission for vi.py: fit_inclusive_gaussian has the mistake `heaviest_component`; the other functions are correct."""

import numpy as np
import torch


def fit_inclusive_gaussian(weights, means, stds):
    """The component with the largest weight."""
    k = int(weights.argmax())
    return float(means[k]), float(stds[k])


# Trapezoid nodes in standard units eps = (x - mu) / sigma, with the standard normal weights.
EPS = torch.linspace(-9.0, 9.0, 3001, dtype=torch.float64)
PHI = torch.softmax(-0.5 * EPS**2, dim=0)


def _kl(theta, weights, means, stds):
    """KL(q || p) up to a constant for theta = (mu, log sigma), differentiable by autograd."""
    x = theta[0] + torch.exp(theta[1]) * EPS
    components = torch.distributions.Normal(means[:, None], stds[:, None])
    log_p = torch.logsumexp(torch.log(weights)[:, None] + components.log_prob(x), dim=0)
    return -(PHI * log_p).sum() - theta[1]


def _newton(theta, weights, means, stds, steps=200):
    """Newton on (mu, log sigma) with Levenberg-Marquardt damping: the Hessian is shifted to be positive definite,
    the damping grows while a step fails to lower the objective and shrinks after each success, until the
    gradient vanishes (a plain damped Newton stalls on the flat saddles between modes)."""
    objective = lambda t: _kl(t, weights, means, stds)  # noqa: E731
    value, damping, identity = objective(theta), 1e-3, torch.eye(2, dtype=theta.dtype)
    for _ in range(steps):
        with torch.enable_grad():
            gradient = torch.autograd.functional.jacobian(objective, theta)
            hessian = torch.autograd.functional.hessian(objective, theta)
        if gradient.abs().max() < 1e-10:
            break
        shift = max(0.0, -float(torch.linalg.eigvalsh(hessian).min()))
        while damping < 1e12:
            candidate = theta - torch.linalg.solve(hessian + (shift + damping) * identity, gradient)
            new_value = objective(candidate)
            if new_value <= value:
                break
            damping *= 10
        else:
            break
        theta, value, damping = candidate, new_value, max(damping / 10, 1e-12)
    return theta, value


def fit_exclusive_gaussian(weights, means, stds):
    """Newton from every component, from the moment-matched fit and from the best points of a coarse grid."""
    weights, means, stds = (t.detach().to("cpu", torch.float64) for t in (weights, means, stds))
    mu, sigma = (float(v) for v in fit_inclusive_gaussian(weights, means, stds))
    starts = [(float(m), float(s)) for m, s in zip(means, stds)] + [(mu, sigma)]
    grid = [(a, b) for a in np.linspace(float(means.min()), float(means.max()), 15)
            for b in np.geomspace(float(stds.min()), sigma, 6)]
    coarse = sorted(grid, key=lambda t: float(_kl(torch.tensor([t[0], np.log(t[1])]), weights, means, stds)))
    starts += coarse[:1]
    best = min((_newton(torch.tensor([m, np.log(s)], dtype=torch.float64), weights, means, stds)
                for m, s in starts), key=lambda result: float(result[1]))
    theta = best[0]
    return float(theta[0]), float(torch.exp(theta[1]))


def cavi_gaussian(mu, precision, m_init, n_iter):
    """Gauss-Seidel sweeps on Python floats; numpy results."""
    (a, b), (c, d) = precision.tolist()
    mu0, mu1 = mu.tolist()
    m0, m1 = m_init.tolist()
    history = [(m0, m1)]
    for _ in range(n_iter):
        m0 = mu0 - b / a * (m1 - mu1)
        m1 = mu1 - c / d * (m0 - mu0)
        history.append((m0, m1))
    return np.array(history), np.array([1 / a, 1 / d])
