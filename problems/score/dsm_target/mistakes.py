"""Known mistakes in dsm_target, each a drop-in replacement with the same signature."""

import numpy as np

from grader.bank import mistake, probe


@mistake("sigma_for_variance", title="Divided by sigma instead of sigma^2",
         explanation="The target is -(x_noisy - x_clean) / sigma, but the gradient of "
                     "-|x_noisy - x_clean|^2 / (2 sigma^2) is -(x_noisy - x_clean) / sigma^2: sigma is the noise's "
                     "standard deviation, sigma^2 its variance.",
         hint="Write log N(x; mu, sigma^2) out in one dimension and differentiate it with respect to x.")
def dsm_target(x_noisy, x_clean, sigma):
    return -(x_noisy - x_clean) / sigma


@mistake("sign_flipped", title="Sign of the target flipped",
         explanation="The target is (x_noisy - x_clean) / sigma^2, which points from the clean point to the noisy "
                     "one: the score of N(x_clean, sigma^2 I) points back towards x_clean.",
         hint="Where does the density N(x; x_clean, sigma^2 I) increase, seen from a point x != x_clean?")
def dsm_target(x_noisy, x_clean, sigma):  # noqa: F811
    return (x_noisy - x_clean) / sigma**2


@mistake("noise_instead_of_score", title="The noise eps returned instead of the score",
         explanation="The target is (x_noisy - x_clean) / sigma = eps, the noise that was added (the target of a "
                     "DDPM eps-prediction network). The score of the perturbation kernel is -eps / sigma.",
         hint="With x_noisy = x_clean + sigma eps, express grad log N(x_noisy; x_clean, sigma^2 I) in terms of eps.")
def dsm_target(x_noisy, x_clean, sigma):  # noqa: F811
    return (x_noisy - x_clean) / sigma


# Designed inputs: sigma != 1 (0.5 and 2.5), nonzero differences of both signs, broadcasting.
PROBES = [
    probe(np.array([[0.3, -1.2], [2.0, 0.5]]), np.array([1.0, -0.4]), 0.5),
    probe(np.array([1.7, -0.6, 0.0]), np.array([-0.3, 0.9, 2.2]), 2.5),
]
