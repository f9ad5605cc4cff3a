"""Known mistakes in log_partition_iw, each a drop-in replacement with the same signature."""

import math

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("naive_exp", title="Naive log(mean(exp(.)))",
         explanation="The weights are exponentiated before averaging: for log-weights below about -745 every exp "
                     "underflows to 0 and the estimate becomes -inf; above about 709 it overflows to +inf.",
         hint="Try log-weights around -1e4 or +1e4: can exp represent them? Subtract the largest one first.")
def log_partition_iw(log_p_tilde, log_q):
    return torch.log(torch.exp(log_p_tilde - log_q).mean(-1))


@mistake("missing_log_n", title="Missing the -log N",
         explanation="log sum_i w_i is returned instead of log (1/N) sum_i w_i, so the estimate is log N too high.",
         hint="With N identical weights equal to Z, the estimate must be log Z: is it?")
def log_partition_iw(log_p_tilde, log_q):  # noqa: F811
    return torch.logsumexp(log_p_tilde - log_q, dim=-1)


@mistake("elbo_instead", title="Mean of the log-weights (the ELBO) returned",
         explanation="The log-weights are averaged, so the result is the ELBO estimate, below the importance-"
                     "weighted one: exp of it is biased low for Z.",
         hint="Which comes first: averaging the weights p~ / q, or taking their logarithm?")
def log_partition_iw(log_p_tilde, log_q):  # noqa: F811
    return (log_p_tilde - log_q).mean(-1)


@mistake("wrong_axis", title="Log-sum-exp over the first dimension instead of the last",
         explanation="The samples lie along the LAST dimension of (..., N); combining along the first one mixes "
                     "independent problems of the batch and returns the wrong shape.",
         hint="log_p_tilde has shape (..., N): along which dimension are the samples?")
def log_partition_iw(log_p_tilde, log_q):  # noqa: F811
    return torch.logsumexp(log_p_tilde - log_q, dim=0) - math.log(log_q.shape[0])


# Designed inputs: a batch of 2 with N = 3 samples (batch and sample dimensions differ) and unequal log-weights; the
# second has log-weights around -1e4, where exp underflows.
_LOG_P = np.array([[1.5, -0.3, 2.2], [-4.0, -2.5, -3.1]])
_LOG_Q = np.array([[-0.8, -1.6, 0.4], [-1.2, 0.3, -0.9]])
PROBES = [
    probe(_LOG_P, _LOG_Q),
    probe(_LOG_P - 1e4, _LOG_Q),
]
