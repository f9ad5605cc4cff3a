"""Known mistakes in em, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("history_missing_initial", title="History missing the initial log-likelihood",
         explanation="The log-likelihood is recorded only after each iteration, so loglik has n_iter entries and "
                     "lacks loglik[0], the value at the initial parameters.",
         hint="loglik must have n_iter + 1 entries: which one is missing when you run 0 iterations?")
def em(X, weights, means, variances, n_iter):
    d = X.shape[-1]
    history = []
    for _ in range(n_iter):
        squared = ((X[:, None, :] - means) ** 2).sum(-1)
        resp = torch.softmax(torch.log(weights) - 0.5 * squared / variances
                             - 0.5 * d * torch.log(2 * math.pi * variances), dim=-1)
        counts = resp.sum(0)
        weights = counts / len(X)
        means = resp.T @ X / counts[:, None]
        variances = (resp * ((X[:, None, :] - means) ** 2).sum(-1)).sum(0) / (d * counts)
        squared = ((X[:, None, :] - means) ** 2).sum(-1)
        history.append(torch.logsumexp(torch.log(weights) - 0.5 * squared / variances
                                       - 0.5 * d * torch.log(2 * math.pi * variances), dim=-1).sum())
    return weights, means, variances, torch.stack(history)


@mistake("history_missing_final", title="History missing the final log-likelihood",
         explanation="The log-likelihood is recorded in each E-step, before the parameters are updated, so loglik "
                     "has n_iter entries and lacks the value at the returned parameters.",
         hint="loglik[n_iter] is the log-likelihood of the parameters you return: where is it computed?")
def em(X, weights, means, variances, n_iter):  # noqa: F811
    d = X.shape[-1]
    history = []
    for _ in range(n_iter):
        squared = ((X[:, None, :] - means) ** 2).sum(-1)
        log_joint = torch.log(weights) - 0.5 * squared / variances - 0.5 * d * torch.log(2 * math.pi * variances)
        history.append(torch.logsumexp(log_joint, dim=-1).sum())
        resp = torch.softmax(log_joint, dim=-1)
        counts = resp.sum(0)
        weights = counts / len(X)
        means = resp.T @ X / counts[:, None]
        variances = (resp * ((X[:, None, :] - means) ** 2).sum(-1)).sum(0) / (d * counts)
    return weights, means, variances, torch.stack(history)


@mistake("variance_uses_old_means", title="Variances computed around the old means",
         explanation="In the M-step the squared deviations are taken from the previous means instead of the "
                     "updated ones, so the variances do not maximise the ELBO (they are too large).",
         hint="In the M-step, which means must the variance update use so that the ELBO's gradient in the "
              "variances vanishes at the returned parameters?")
def em(X, weights, means, variances, n_iter):  # noqa: F811
    d = X.shape[-1]

    def log_joint(weights, means, variances):
        squared = ((X[:, None, :] - means) ** 2).sum(-1)
        return torch.log(weights) - 0.5 * squared / variances - 0.5 * d * torch.log(2 * math.pi * variances)

    history = [torch.logsumexp(log_joint(weights, means, variances), dim=-1).sum()]
    for _ in range(n_iter):
        resp = torch.softmax(log_joint(weights, means, variances), dim=-1)
        counts = resp.sum(0)
        variances = (resp * ((X[:, None, :] - means) ** 2).sum(-1)).sum(0) / (d * counts)
        weights = counts / len(X)
        means = resp.T @ X / counts[:, None]
        history.append(torch.logsumexp(log_joint(weights, means, variances), dim=-1).sum())
    return weights, means, variances, torch.stack(history)


@mistake("mean_not_total_loglik", title="Mean instead of total log-likelihood",
         explanation="The history holds the average log-likelihood per point, (1/n) sum_i log p(x_i | theta), "
                     "instead of the total sum_i log p(x_i | theta).",
         hint="Compare loglik[0] with the sum over rows of gmm_log_likelihood at the initial parameters.")
def em(X, weights, means, variances, n_iter):  # noqa: F811
    d = X.shape[-1]

    def log_joint(weights, means, variances):
        squared = ((X[:, None, :] - means) ** 2).sum(-1)
        return torch.log(weights) - 0.5 * squared / variances - 0.5 * d * torch.log(2 * math.pi * variances)

    history = [torch.logsumexp(log_joint(weights, means, variances), dim=-1).mean()]
    for _ in range(n_iter):
        resp = torch.softmax(log_joint(weights, means, variances), dim=-1)
        counts = resp.sum(0)
        weights = counts / len(X)
        means = resp.T @ X / counts[:, None]
        variances = (resp * ((X[:, None, :] - means) ** 2).sum(-1)).sum(0) / (d * counts)
        history.append(torch.logsumexp(log_joint(weights, means, variances), dim=-1).mean())
    return weights, means, variances, torch.stack(history)


@mistake("responsibilities_computed_once", title="E-step done only once",
         explanation="The responsibilities are computed once, before the loop, and every iteration repeats the "
                     "same M-step: after the first iteration the parameters stop changing.",
         hint="Each EM iteration is an E-step followed by an M-step: are the responsibilities recomputed from "
              "the current parameters in every iteration?")
def em(X, weights, means, variances, n_iter):  # noqa: F811
    d = X.shape[-1]

    def log_joint(weights, means, variances):
        squared = ((X[:, None, :] - means) ** 2).sum(-1)
        return torch.log(weights) - 0.5 * squared / variances - 0.5 * d * torch.log(2 * math.pi * variances)

    history = [torch.logsumexp(log_joint(weights, means, variances), dim=-1).sum()]
    resp = torch.softmax(log_joint(weights, means, variances), dim=-1)
    for _ in range(n_iter):
        counts = resp.sum(0)
        weights = counts / len(X)
        means = resp.T @ X / counts[:, None]
        variances = (resp * ((X[:, None, :] - means) ** 2).sum(-1)).sum(0) / (d * counts)
        history.append(torch.logsumexp(log_joint(weights, means, variances), dim=-1).sum())
    return weights, means, variances, torch.stack(history)


# Designed inputs: two clusters in d = 2, a k = 2 start with unequal weights and variances != 1, n_iter = 3 > 1.
_X = np.array([[0.0, 0.5], [0.8, -0.2], [-0.5, 0.3], [0.3, 1.0], [4.0, 3.5], [5.0, 4.2], [4.6, 3.0], [3.8, 4.4]])
PROBES = [
    probe(_X, np.array([0.3, 0.7]), np.array([[1.0, 1.0], [3.0, 2.5]]), np.array([2.0, 0.5]), 3),
    probe(_X[:6], np.array([0.6, 0.4]), np.array([[0.0, 0.0], [2.0, 2.0]]), np.array([1.5, 3.0]), 2),
]
