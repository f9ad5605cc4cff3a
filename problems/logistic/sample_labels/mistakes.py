"""Known mistakes in sample_labels, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe
from grader.spec import generator


@mistake("thresholding", title="Thresholding instead of sampling",
         explanation="Each label is the most likely class (1 where p(Y=1|x) > 1/2) instead of a random draw "
                     "from Bernoulli(p): rows with p = 0.3 should get label 1 about 30% of the time, not never.",
         hint="Sample 1000 labels for one point with p(Y=1|x) = 0.3: what fraction of ones do you get?")
def sample_labels(w, b, X, generator):
    return (torch.sigmoid(X @ w + b) > 0.5).to(X.dtype)


@mistake("complement", title="Labels drawn with probability 1 - p",
         explanation="A label is set to 1 when the uniform draw exceeds p (u > p), which happens with "
                     "probability 1 - p: the classes are swapped.",
         hint="For u uniform on [0, 1), what is the probability of u > p, and of u < p?")
def sample_labels(w, b, X, generator):  # noqa: F811
    p = torch.sigmoid(X @ w + b)
    u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
    return (u > p).to(p.dtype)


@mistake("one_uniform_for_all_rows", title="One random number shared by all rows",
         explanation="A single uniform draw is compared with every row's probability, so the labels of "
                     "different rows are perfectly dependent: rows with the same p all get the same label.",
         hint="How many random numbers does your function draw for n rows? Each label needs its own.")
def sample_labels(w, b, X, generator):  # noqa: F811
    p = torch.sigmoid(X @ w + b)
    u = torch.rand(1, generator=generator, dtype=p.dtype, device=p.device)
    return (u < p).to(p.dtype)



@mistake("ignores_generator", title="Randomness not drawn from the generator",
         explanation="The uniform numbers come from torch's global random state instead of the generator "
                     "argument, so the same generator seed does not give the same labels and the grader "
                     "(or a student's experiment) cannot reproduce the samples.",
         hint="Which argument of torch.rand decides where the random numbers come from?",
         named_by="sample_labels_draws_its_randomness_from_the_generator")
def sample_labels(w, b, X, generator):  # noqa: F811
    p = torch.sigmoid(X @ w + b)
    u = torch.rand(p.shape, dtype=p.dtype, device=p.device)
    return (u < p).to(p.dtype)

# Designed inputs: d = 2, b != 0, two points repeated so that label frequencies can be compared:
# p(Y=1|x) = sigmoid(-1) = 0.27 and sigmoid(1.9) = 0.87 in the first model, sigmoid(-0.75) = 0.32 and
# sigmoid(0.75) = 0.68 in the second. The first model is probed with two seeds: thresholding answers the same
# for both, a single shared uniform draw (usually) not, and correct samplers differ row by row.
_FIRST = (np.array([1.0, 2.0]), np.asarray(0.5), np.tile(np.array([[-1.0, -0.25], [1.0, 0.2]]), (400, 1)))
PROBES = [
    probe(*_FIRST, generator(7)),
    probe(*_FIRST, generator(8)),
    probe(np.array([1.5, -1.0]), np.asarray(0.5), np.tile(np.array([[-0.5, 0.5], [1.0, 1.25]]), (400, 1)),
          generator(11)),
]
