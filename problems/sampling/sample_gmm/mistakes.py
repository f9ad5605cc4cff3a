"""Known mistakes in sample_gmm, each a drop-in replacement with the same signature.

Draws are random, so no probe can reproduce a student's sampler draw for draw unless it consumes the generator
exactly as the mistake does: every mistake here is named by the property designed to detect it, and each of those
properties is failed by its own mistake only (the moments of a component do not depend on how often it is drawn,
and the frequencies not on the noise).
"""

import numpy as np
import torch

from grader.bank import mistake, probe
from grader.spec import generator


@mistake("weights_ignored", title="Mixture weights ignored",
         explanation="Components are chosen uniformly at random (each with probability 1/k) instead of with "
                     "probability weights[j], so the draws follow the equally weighted mixture.",
         hint="With weights (0.9, 0.1), what fraction of 1000 draws should come from the first component?",
         named_by="sample_gmm_component_frequencies_match_the_weights")
def sample_gmm(weights, means, variances, n, generator):
    component = torch.randint(0, weights.shape[0], (n,), generator=generator, device=means.device)
    noise = torch.randn((n, means.shape[-1]), generator=generator, dtype=means.dtype, device=means.device)
    return means[component] + torch.sqrt(variances[component])[:, None] * noise


@mistake("variance_as_std", title="Variance used as the standard deviation",
         explanation="The noise is scaled by variances[j] instead of its square root, so component j has "
                     "variance variances[j]^2: too wide where variances > 1, too narrow where variances < 1.",
         hint="randn gives noise with variance 1: by what must you multiply it to get variance v?",
         named_by="sample_gmm_components_have_their_means_and_variances")
def sample_gmm(weights, means, variances, n, generator):  # noqa: F811
    component = torch.multinomial(weights, n, replacement=True, generator=generator)
    noise = torch.randn((n, means.shape[-1]), generator=generator, dtype=means.dtype, device=means.device)
    return means[component] + variances[component][:, None] * noise


@mistake("ignores_generator", title="Randomness not drawn from the generator",
         explanation="The random numbers come from torch's global random state instead of the generator argument, "
                     "so the same generator seed does not give the same draws and nobody can reproduce them.",
         hint="Which argument of torch.multinomial and torch.randn decides where the random numbers come from?",
         named_by="sample_gmm_draws_its_randomness_from_the_generator")
def sample_gmm(weights, means, variances, n, generator):  # noqa: F811
    component = torch.multinomial(weights, n, replacement=True)
    noise = torch.randn((n, means.shape[-1]), dtype=means.dtype, device=means.device)
    return means[component] + torch.sqrt(variances[component])[:, None] * noise


# Designed inputs (the diagnosis needs the student's answers on some): unequal weights, variances on both sides
# of 1, d = 2. No probe-named mistake exists for this sampler, see above.
PROBES = [
    probe(np.array([0.7, 0.2, 0.1]), np.array([[-4.0, 1.0], [0.0, 3.0], [5.0, -2.0]]), np.array([0.25, 1.0, 4.0]),
          20, generator(5)),
]
