"""Reference solutions for gmm.py (see PROBLEMS.md): spherical Gaussian mixtures and EM.

theta = (weights (k,), means (k, d), variances (k,)): component j is N(means[j], variances[j] I_d).
"""

import math

import torch


def _log_joint(X, weights, means, variances):
    """log w_j + log N(x_i; mu_j, var_j I) for every row i and component j: (..., n, k).

    Squared distances are formed from differences (not |x|^2 - 2 x.mu + |mu|^2), which keeps them
    accurate far from the means.
    """
    d = X.shape[-1]
    squared = ((X[..., :, None, :] - means) ** 2).sum(-1)
    return torch.log(weights) - 0.5 * (squared / variances + d * torch.log(2 * math.pi * variances))


def gmm_log_likelihood(X, weights, means, variances):
    """log p(x_i | theta) = logsumexp_j (log w_j + log N(x_i; mu_j, var_j I)) per row: (n,)."""
    return torch.logsumexp(_log_joint(X, weights, means, variances), dim=-1)


def e_step(X, weights, means, variances):
    """Responsibilities p(z = j | x_i, theta): a softmax over components of the log-joint, (n, k)."""
    return torch.softmax(_log_joint(X, weights, means, variances), dim=-1)


def _m_step(X, resp):
    d = X.shape[-1]
    counts = resp.sum(-2)
    weights = counts / resp.shape[-2]
    means = (resp.transpose(-1, -2) @ X) / counts[..., None]
    squared = ((X[..., :, None, :] - means[..., None, :, :]) ** 2).sum(-1)
    variances = (resp * squared).sum(-2) / (d * counts)
    return weights, means, variances


def m_step(X, resp):
    """The theta maximising ELBO(Q; theta) = sum_ij r_ij [log w_j + log N(x_i; mu_j, var_j I)] + H(Q)."""
    return _m_step(X, resp)


def em(X, weights, means, variances, n_iter):
    """n_iter EM iterations from theta; loglik[i] is the total log-likelihood after i iterations."""
    history = [torch.logsumexp(_log_joint(X, weights, means, variances), dim=-1).sum(-1)]
    for _ in range(n_iter):
        resp = torch.softmax(_log_joint(X, weights, means, variances), dim=-1)
        weights, means, variances = _m_step(X, resp)
        history.append(torch.logsumexp(_log_joint(X, weights, means, variances), dim=-1).sum(-1))
    return weights, means, variances, torch.stack(history)
