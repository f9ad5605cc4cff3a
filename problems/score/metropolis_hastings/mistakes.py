"""Known mistakes in metropolis_hastings, each a drop-in replacement with the same signature.

Probes can name a sampler's mistake only when it draws its random numbers in the reference's order (per step:
the proposal noise, then one uniform per chain); the others are named by the property designed to detect them.
"""

import numpy as np
import torch

from grader.bank import mistake, probe
from grader.spec import generator, harness_callable


@mistake("every_proposal_accepted", title="Every proposal accepted",
         explanation="The chain moves to every proposal, x <- x + proposal_std * eps, without the accept/reject "
                     "test: that is a Gaussian random walk, whose variance grows by proposal_std^2 at every step "
                     "and which ignores the target entirely.",
         hint="Start 1000 chains at exact samples of N(0, 1) and run 50 steps: does the variance stay 1?",
         named_by="metropolis_hastings_rejects_some_proposals")
def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):
    x = x0
    states = []
    for _ in range(n_steps):
        x = x + proposal_std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        states.append(x)
    return torch.stack(states)


@mistake("stale_current_log_prob", title="Proposals compared with the initial state",
         explanation="log p of the current state is computed once, for x0, and never updated when a proposal is "
                     "accepted: every later proposal is compared with p(x0) instead of p(current state). The kernel "
                     "no longer satisfies detailed balance, and the chains spread wider than the target.",
         hint="After a chain accepts a proposal, which log-density should the next proposal be compared with?")
def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):  # noqa: F811
    x = x0
    log_p = log_prob(x)
    states = []
    for _ in range(n_steps):
        proposal = x + proposal_std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        log_p_proposal = log_prob(proposal)
        uniform = torch.rand(x.shape[:1], generator=generator, dtype=x.dtype, device=x.device)
        accept = torch.log(uniform) < log_p_proposal - log_p
        x = torch.where(accept.unsqueeze(-1), proposal, x)
        states.append(x)
    return torch.stack(states)


@mistake("ratio_inverted", title="Acceptance ratio inverted: p(current) / p(proposal)",
         explanation="A proposal is accepted when u < p(x) / p(y): moves to less likely states are always accepted "
                     "and moves towards the modes mostly rejected, so the chains drift away from the target.",
         hint="Should a proposal that is more likely than the current state always be accepted, or rarely?")
def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):  # noqa: F811
    x = x0
    log_p = log_prob(x)
    states = []
    for _ in range(n_steps):
        proposal = x + proposal_std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        log_p_proposal = log_prob(proposal)
        uniform = torch.rand(x.shape[:1], generator=generator, dtype=x.dtype, device=x.device)
        accept = torch.log(uniform) < log_p - log_p_proposal
        x = torch.where(accept.unsqueeze(-1), proposal, x)
        log_p = torch.where(accept, log_p_proposal, log_p)
        states.append(x)
    return torch.stack(states)


@mistake("ignores_generator", title="Randomness not drawn from the generator",
         explanation="The proposals or the uniforms come from torch's global random state instead of the generator "
                     "argument, so the same generator seed does not give the same chain and the grader (or a "
                     "student's experiment) cannot reproduce it.",
         hint="Which argument of torch.randn and torch.rand decides where the random numbers come from?",
         named_by="metropolis_hastings_draws_its_randomness_from_the_generator")
def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):  # noqa: F811
    x = x0
    log_p = log_prob(x)
    states = []
    for _ in range(n_steps):
        proposal = x + proposal_std * torch.randn(x.shape, dtype=x.dtype, device=x.device)
        log_p_proposal = log_prob(proposal)
        uniform = torch.rand(x.shape[:1], dtype=x.dtype, device=x.device)
        accept = torch.log(uniform) < log_p_proposal - log_p
        x = torch.where(accept.unsqueeze(-1), proposal, x)
        log_p = torch.where(accept, log_p_proposal, log_p)
        states.append(x)
    return torch.stack(states)


# Designed inputs: 16 chains in d = 2 for 30 steps on a two-component mixture and on a Gaussian with mean != 0 and
# variance != 1, proposals near the optimal scale: chains accept and reject often enough that comparing with the
# wrong state or inverting the ratio changes some decision.
_X0 = np.random.default_rng(3).normal(size=(16, 2))
PROBES = [
    probe(harness_callable("gaussian_mixture_log_prob", weights=np.array([0.4, 0.6]),
                           means=np.array([[1.0, -0.5], [-1.0, 1.0]]), variances=np.array([0.6, 1.4])),
          _X0, 30, 1.5, generator(5)),
    probe(harness_callable("gaussian_log_prob", mean=np.array([0.5, -1.0]), var=2.0), _X0 + 1.0, 30, 2.0,
          generator(6)),
]
