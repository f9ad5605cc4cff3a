"""Example submission for ebm.py: log_partition_elbo has the mistake `wrong_axis`; the other function is correct."""

import numpy as np
import torch


def log_partition_elbo(log_p_tilde, log_q):
    """The log-weights averaged over the first dimension."""
    return (log_p_tilde - log_q).mean(dim=0)


def log_partition_iw(log_p_tilde, log_q):
    """log-mean-exp by hand: shift by the largest log-weight before exponentiating, in float32."""
    log_weights = (log_p_tilde - log_q).float()
    top = log_weights.max(dim=-1, keepdim=True).values
    return (top.squeeze(-1) + torch.log(torch.exp(log_weights - top).mean(dim=-1))).double()
