"""Example submission for ebm.py: log_partition_iw has the mistake `missing_log_n`; the other function is correct."""

import numpy as np
import torch


def log_partition_elbo(log_p_tilde, log_q):
    """The average log-weight, in float32, as a numpy array."""
    log_weights = (log_p_tilde - log_q).float()
    return (log_weights.sum(dim=-1) / log_weights.shape[-1]).cpu().numpy()


def log_partition_iw(log_p_tilde, log_q):
    """Shifted log-sum-exp, without dividing by N."""
    log_weights = (log_p_tilde - log_q).float()
    top = log_weights.max(dim=-1, keepdim=True).values
    return top.squeeze(-1) + torch.log(torch.exp(log_weights - top).sum(dim=-1))
