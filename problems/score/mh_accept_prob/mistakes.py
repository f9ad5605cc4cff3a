"""Known mistakes in mh_accept_prob, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("no_min", title="The ratio is not capped at 1",
         explanation="The result is exp(log_p_proposal - log_p_current) = p(proposal) / p(current), which exceeds 1 "
                     "(and overflows to inf) when the proposal is more likely: an acceptance probability is "
                     "min(1, ratio).",
         hint="What does your function return when the proposal is twice as likely as the current state?")
def mh_accept_prob(log_p_current, log_p_proposal):
    return torch.exp(log_p_proposal - log_p_current)


@mistake("arguments_swapped", title="Ratio inverted: p(current) / p(proposal)",
         explanation="The result is min(1, p(current) / p(proposal)): moves to less likely states are always "
                     "accepted and moves to more likely ones often rejected, so the chain drifts away from the modes.",
         hint="Should a proposal that is more likely than the current state always be accepted, or rarely?")
def mh_accept_prob(log_p_current, log_p_proposal):  # noqa: F811
    return torch.clamp(torch.exp(log_p_current - log_p_proposal), max=1.0)


@mistake("ratio_of_densities", title="Densities exponentiated before dividing",
         explanation="The result is min(1, exp(log_p_proposal) / exp(log_p_current)): for log-densities below "
                     "about -745 both exponentials underflow to 0 (0 / 0 = NaN), above about 709 both overflow "
                     "(inf / inf = NaN). Subtract the log-densities first, then exponentiate.",
         hint="Evaluate your function at log_p_current = -1000, log_p_proposal = -1001: what should it return?")
def mh_accept_prob(log_p_current, log_p_proposal):  # noqa: F811
    return torch.clamp(torch.exp(log_p_proposal) / torch.exp(log_p_current), max=1.0)


# Designed inputs: proposals both more and less likely than the current state, broadcasting, and log-densities
# of magnitude 1000 where exponentials under- and overflow.
PROBES = [
    probe(np.array([-1.0, -3.0, 2.0]), np.array([[-2.5, -1.0, 2.5]])),
    probe(np.array([-1000.0, 1000.0]), np.array([-1001.5, 998.0])),
]
