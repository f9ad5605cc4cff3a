"""Example submission for ebm.py: log_partition_iw has the mistake `wrong_axis`; the other function is correct."""

import numpy as np
import torch


def log_partition_elbo(log_p_tilde, log_q):
    """The average log-weight, in float32, as a numpy array."""
    log_weights = (log_p_tilde - log_q).float()
    return (log_weights.sum(dim=-1) / log_weights.shape[-1]).cpu().numpy()


def log_partition_iw(log_p_tilde, log_q):
    """log-mean-exp over the first dimension."""
    log_weights = log_p_tilde - log_q
    return torch.logsumexp(log_weights, dim=0) - np.log(log_weights.shape[0])
