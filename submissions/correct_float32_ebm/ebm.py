"""ebm.py computed in float32: a correct implementation computing in float32 that should get full credit.

Both arguments are cast to float32 on arrival, all arithmetic stays in float32 and both functions return float32
tensors: the ELBO is torch.mean of the log-weights over the last dimension, the importance-weighted estimate
torch.logsumexp of the log-weights minus log N.
"""

import math

import torch


def log_partition_elbo(log_p_tilde, log_q):
    log_w = log_p_tilde.to(torch.float32) - log_q.to(torch.float32)
    return torch.mean(log_w, dim=-1)


def log_partition_iw(log_p_tilde, log_q):
    log_w = log_p_tilde.to(torch.float32) - log_q.to(torch.float32)
    n = log_w.shape[-1]
    return torch.logsumexp(log_w, dim=-1) - math.log(n)
