"""gmm.py computed in float32: a correct implementation computing in float32 that should get full credit.

Every tensor argument is cast to float32 on arrival and all the arithmetic stays in float32; every function
returns float32 tensors. The log-joint log w_j + log N(x_i; mu_j, var_j I) is formed from the differences
x_i - mu_j; the log-likelihood is its logsumexp over the components and the responsibilities its softmax (both
shift by the row's largest term). The M-step is the weighted closed form written with einsum (variances from the
squared distances to the new means), and EM reuses each E-step's logsumexp as the log-likelihood of the
parameters it started from, computing only the last one separately.
"""

import math

import torch


def _as_f32(*tensors):
    return [t.to(torch.float32) for t in tensors]


def _log_joint(X, weights, means, variances):
    # (n, k) matrix of log w_j + log N(x_i; mu_j, var_j I)
    d = X.shape[1]
    diff = X.unsqueeze(1) - means.unsqueeze(0)
    sq_dist = torch.einsum("nkd,nkd->nk", diff, diff)
    return torch.log(weights) - 0.5 * d * torch.log(2 * math.pi * variances) - sq_dist / (2 * variances)


def _normalise(log_joint):
    # log p(x_i) and p(z = j | x_i), both shifted by the row maximum so that far-away points do not underflow.
    # (exp(log_joint - logsumexp) would not do in float32: far away the logsumexp is ~ -1e7, rounded to ~1, and
    # the rows would no longer sum to 1.)
    return torch.logsumexp(log_joint, dim=1), torch.softmax(log_joint, dim=1)


def gmm_log_likelihood(X, weights, means, variances):
    X, weights, means, variances = _as_f32(X, weights, means, variances)
    log_px, _ = _normalise(_log_joint(X, weights, means, variances))
    return log_px


def e_step(X, weights, means, variances):
    X, weights, means, variances = _as_f32(X, weights, means, variances)
    _, resp = _normalise(_log_joint(X, weights, means, variances))
    return resp


def m_step(X, resp):
    X, resp = _as_f32(X, resp)
    n, d = X.shape
    Nk = torch.einsum("nk->k", resp)  # effective number of points per component
    means = torch.einsum("nk,nd->kd", resp, X) / Nk.unsqueeze(1)
    diff = X.unsqueeze(1) - means.unsqueeze(0)
    variances = torch.einsum("nk,nkd,nkd->k", resp, diff, diff) / (d * Nk)
    return Nk / n, means, variances


def em(X, weights, means, variances, n_iter):
    X, weights, means, variances = _as_f32(X, weights, means, variances)
    history = []
    for _ in range(n_iter):
        log_px, resp = _normalise(_log_joint(X, weights, means, variances))
        history.append(log_px.sum())  # log-likelihood of the parameters this iteration starts from
        weights, means, variances = m_step(X, resp)
    history.append(gmm_log_likelihood(X, weights, means, variances).sum())
    return weights, means, variances, torch.stack(history)
