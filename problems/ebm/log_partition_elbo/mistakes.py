"""Known mistakes in log_partition_elbo, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("sign_flipped", title="Sign flipped (log q - log p~)",
         explanation="The mean of log q - log p~ is returned: that estimates KL(q || p) - log Z, minus the bound.",
         hint="The ELBO is E_q[log p~(x) - log q(x)]: which log-density carries the plus sign?")
def log_partition_elbo(log_p_tilde, log_q):
    return (log_q - log_p_tilde).mean(-1)


@mistake("sum_not_mean", title="Sum over the samples instead of the mean",
         explanation="The N log-weights are summed, not averaged, so the estimate grows with N (it is N times "
                     "the ELBO estimate).",
         hint="With N identical samples the estimate must equal the single-sample value: does it?")
def log_partition_elbo(log_p_tilde, log_q):  # noqa: F811
    return (log_p_tilde - log_q).sum(-1)


@mistake("wrong_axis", title="Mean over the first dimension instead of the last",
         explanation="The samples lie along the LAST dimension of (..., N); averaging over the first one mixes "
                     "independent problems of the batch and returns the wrong shape.",
         hint="log_p_tilde has shape (..., N): along which dimension are the samples?")
def log_partition_elbo(log_p_tilde, log_q):  # noqa: F811
    return (log_p_tilde - log_q).mean(0)


# Designed inputs: a batch of 2 with N = 3 samples (batch and sample dimensions differ), log Z estimates away
# from 0 and of either sign.
PROBES = [
    probe(np.array([[1.5, -0.3, 2.2], [-4.0, -2.5, -3.1]]), np.array([[-0.8, -1.6, 0.4], [-1.2, 0.3, -0.9]])),
    probe(np.array([[3.0, 2.1, 4.4, 0.9], [0.5, 1.7, -0.6, 2.8], [-2.0, 1.1, 0.2, -0.4]]),
          np.array([[-1.0, -0.2, -2.5, 0.3], [-1.4, -0.7, -0.1, -3.0], [0.6, -1.9, -0.8, -1.1]])),
]
