"""Reference solutions for vi.py (see PROBLEMS.md).

p is a 1-D Gaussian mixture sum_k w_k N(m_k, s_k^2) given by (weights, means, stds); q = N(mu, sigma^2).
"""

import math

import numpy as np
import torch
from scipy.optimize import minimize


def fit_inclusive_gaussian(weights, means, stds):
    """argmin KL(p || q) = moment matching: the mixture's mean and its total variance, i.e. the mean of the
    within-component variances plus the variance of the component means."""
    mu = (weights * means).sum()
    variance = (weights * (stds**2 + (means - mu) ** 2)).sum()
    return mu, variance.sqrt()


# Trapezoid rule in eps = (x - mu) / sigma on [-10, 10]: the integrand phi(eps) log p(mu + sigma eps) is analytic,
# so the rule converges geometrically; 4001 nodes resolve components 1/50 as wide as q.
_EPS = np.linspace(-10.0, 10.0, 4001)
_PHI = np.exp(-0.5 * _EPS**2)
_PHI /= _PHI.sum()
_FAR = 30.0


def _kl_and_gradient(theta, log_w, means, stds):
    """KL(N(mu, sigma^2) || p) up to a constant, and its gradient in theta = (mu, log sigma)."""
    mu, log_sigma = theta
    if not (abs(log_sigma) <= _FAR and abs(mu) <= math.exp(_FAR)):
        # A line search's trial step may land absurdly far (exp would overflow): report a value no start can
        # beat, so that the search steps back.
        return 1e12, np.array([0.0, 1.0 if log_sigma > 0 else -1.0])
    sigma = math.exp(log_sigma)
    x = mu + sigma * _EPS
    # Components along the first axis: reductions over them then run along contiguous rows.
    terms = (log_w - np.log(stds))[:, None] - 0.5 * ((x - means[:, None]) / stds[:, None]) ** 2
    top = terms.max(0)
    log_p = top + np.log(np.exp(terms - top).sum(0))
    resp = np.exp(terms - log_p)
    slope = (resp * (means[:, None] - x) / stds[:, None] ** 2).sum(0)  # d log p / dx
    kl = -(_PHI @ log_p) - log_sigma
    return kl, np.array([-(_PHI @ slope), -sigma * (_PHI @ (slope * _EPS)) - 1.0])


def fit_exclusive_gaussian(weights, means, stds):
    """The global minimiser of KL(q || p) = E_q[log q - log p].

    KL(q || p) has a local minimum at every mode (or group of neighbouring modes) that q can cover, so one local
    search is not enough: BFGS starts from the moment-matched fit of every run of components adjacent in mean
    (each component alone, each pair of neighbours, ..., the whole mixture) and the best local minimum wins.
    """
    w, m, s = (t.detach().cpu().double().numpy() for t in (weights, means, stds))
    log_w, order = np.log(w), np.argsort(m)
    best = None
    for first in range(len(m)):
        for last in range(first + 1, len(m) + 1):
            group = order[first:last]
            mu, sigma = fit_inclusive_gaussian(*(torch.from_numpy(a[group]) for a in (w / w[group].sum(), m, s)))
            result = minimize(_kl_and_gradient, np.array([float(mu), math.log(float(sigma))]),
                              args=(log_w, m, s), jac=True, method="BFGS",
                              options={"gtol": 1e-10, "maxiter": 1000})
            if best is None or result.fun < best.fun:
                best = result
    return float(best.x[0]), math.exp(best.x[1])


def cavi_gaussian(mu, precision, m_init, n_iter):
    """Mean-field CAVI for N(mu, inv(precision)) in 2-D: q_j = N(m_j, 1 / precision_jj), with the Gauss-Seidel
    updates m_j = mu_j - precision_jk (m_k - mu_k) / precision_jj, coordinate 0 first, then coordinate 1 using
    the new m_0. Returns every iterate (means[0] = m_init) and the (fixed) variances."""
    means = [m_init.clone()]
    m = m_init.clone()
    for _ in range(n_iter):
        m = m.clone()
        m[0] = mu[0] - precision[0, 1] * (m[1] - mu[1]) / precision[0, 0]
        m[1] = mu[1] - precision[1, 0] * (m[0] - mu[0]) / precision[1, 1]
        means.append(m)
    return torch.stack(means), 1.0 / torch.diagonal(precision)
