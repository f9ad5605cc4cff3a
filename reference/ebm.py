"""Reference solutions for ebm.py (see PROBLEMS.md).

Inputs are log p~(x_i) and log q(x_i) for samples x_i ~ q, shape (..., N): the samples lie along the last dimension.
"""

import math

import torch


def log_partition_elbo(log_p_tilde, log_q):
    """(1/N) sum_i [log p~(x_i) - log q(x_i)]: an unbiased estimate of log Z - KL(q || p) <= log Z."""
    return (log_p_tilde - log_q).mean(-1)


def log_partition_iw(log_p_tilde, log_q):
    """log (1/N) sum_i p~(x_i) / q(x_i) by log-sum-exp (finite for log-weights of any magnitude); its exponential
    is an unbiased estimate of Z."""
    return torch.logsumexp(log_p_tilde - log_q, dim=-1) - math.log(log_q.shape[-1])
