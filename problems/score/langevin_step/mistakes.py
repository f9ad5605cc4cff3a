"""Known mistakes in langevin_step, each a drop-in replacement with the same signature."""

import math

import numpy as np

from grader.bank import mistake, probe
from grader.spec import harness_callable


@mistake("sqrt_step_noise", title="Noise scaled by sqrt(step_size) instead of sqrt(2 step_size)",
         explanation="The noise term is sqrt(h) noise: with drift h score(x) the chain then samples from p^2 "
                     "(half the target's variance: the stationary variance of N(0, 1) becomes 1 / (2 - h) instead "
                     "of 2 / (2 - h)). The Langevin diffusion dx = grad log p dt + sqrt(2) dW needs sqrt(2h).",
         hint="Run many steps on the target N(0, 1) (score -x) with h = 0.01: what variance do your samples reach?")
def langevin_step(x, score, step_size, noise):
    return x + step_size * score(x) + math.sqrt(step_size) * noise


@mistake("noise_not_square_rooted", title="Noise scaled by 2 step_size instead of sqrt(2 step_size)",
         explanation="The noise term is 2h noise: its variance 4h^2 vanishes faster than the drift's pull, so for "
                     "small steps the chain collapses onto the mode instead of sampling the target.",
         hint="The noise's variance over one step must be 2h: what standard deviation is that?")
def langevin_step(x, score, step_size, noise):  # noqa: F811
    return x + step_size * score(x) + 2 * step_size * noise


@mistake("score_subtracted", title="Score subtracted instead of added",
         explanation="The drift is -h score(x), a step down the log-density (as in gradient descent on an energy "
                     "E = -log p, but with the score instead of grad E): the chain is pushed away from the modes "
                     "and diverges.",
         hint="The score grad log p points towards higher density: which way should x move?")
def langevin_step(x, score, step_size, noise):  # noqa: F811
    return x - step_size * score(x) + math.sqrt(2 * step_size) * noise


@mistake("half_step_drift", title="Drift h/2 score(x) with noise sqrt(h) (the other step-size convention)",
         explanation="The step x + (h/2) score(x) + sqrt(h) noise is Langevin dynamics with step h/2 (the "
                     "convention of Welling & Teh): it samples the same target, but it is not the step asked for, "
                     "x + h score(x) + sqrt(2h) noise.",
         hint="Compare your drift and noise coefficients with the statement: h score(x) and sqrt(2h) noise.")
def langevin_step(x, score, step_size, noise):  # noqa: F811
    return x + step_size / 2 * score(x) + math.sqrt(step_size) * noise


# Designed inputs: d = 2, h = 0.3 (so h, h/2, sqrt(h), sqrt(2h) and 2h all differ), a Gaussian target with mean != 0
# and variance != 1, and a two-component mixture whose score is not linear.
_X = np.array([[0.4, -1.3], [2.1, 0.7], [-0.8, 1.5]])
_NOISE = np.array([[0.6, -0.2], [-1.1, 0.9], [0.3, 1.4]])
PROBES = [
    probe(_X, harness_callable("gaussian_score", mean=np.array([0.5, -1.0]), var=0.8), 0.3, _NOISE),
    probe(_X, harness_callable("gaussian_mixture_score", weights=np.array([0.3, 0.7]),
                               means=np.array([[1.0, 1.0], [-1.5, 0.5]]), variances=np.array([0.5, 1.7])), 0.05, _NOISE),
]
