"""Known mistakes in predict_proba, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("hard_labels", title="Hard 0/1 labels returned",
         explanation="The scores are thresholded at 0 (or the probabilities at 1/2), so the result is a 0/1 "
                     "prediction instead of the probability p(Y=1 | x).",
         hint="What does your function return for a point with score x.w + b = 0.5? The probability there is "
              "sigmoid(0.5) = 0.62.")
def predict_proba(w, b, X):
    return (X @ w + b > 0).to(X.dtype)


@mistake("complement", title="Probability of the other class",
         explanation="The result is p(Y=0 | x) = sigmoid(-(x.w + b)) = 1 - p(Y=1 | x): the sign of the score "
                     "is flipped.",
         hint="For a point with a large positive score x.w + b, should p(Y=1 | x) be close to 0 or to 1?")
def predict_proba(w, b, X):  # noqa: F811
    return 1 / (1 + torch.exp(X @ w + b))


@mistake("intercept_ignored", title="Intercept ignored",
         explanation="The probability is computed as sigmoid(x.w), without the intercept b.",
         hint="Take x = 0: what must p(Y=1 | x) be for an intercept b = 2?")
def predict_proba(w, b, X):  # noqa: F811
    return torch.sigmoid(X @ w)


@mistake("overflow_nan", title="exp(z) / (1 + exp(z)) overflows",
         explanation="The probability is computed as exp(z) / (1 + exp(z)); for large scores z exp(z) overflows "
                     "to inf and the ratio inf / inf is NaN.",
         hint="Evaluate your formula at a score of 1000 in floating point: which intermediate value overflows? "
              "An algebraically equal form does not.")
def predict_proba(w, b, X):  # noqa: F811
    z = torch.exp(X @ w + b)
    return z / (1 + z)


# Designed inputs: d = 2, b != 0, moderate scores on both sides of 0 and one score beyond exp's range.
PROBES = [
    probe(np.array([1.5, -0.5]), np.asarray(0.75), np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -0.2], [2.0, 1.0]])),
    probe(np.array([2.0, 1.0]), np.asarray(-1.5), np.array([[400.0, 5.0], [-0.5, 1.0], [0.25, 0.5]])),
]
