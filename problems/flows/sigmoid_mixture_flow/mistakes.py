"""Known mistakes in sigmoid_mixture_flow, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe


@mistake("missing_chain_rule_a", title="Chain-rule factor a_i missing",
         explanation="dy/dz uses sum_i w_i sigmoid'(a_i z + b_i) without the inner derivative a_i of "
                     "a_i z + b_i: the derivative is right only when every a_i = 1.",
         hint="d/dz sigmoid(a z + b) = ? Apply the chain rule to the inner affine map.")
def sigmoid_mixture_flow(z, w, a, b):
    logits = a * z[..., None] + b
    log_s = torch.logsumexp(torch.log(w) + torch.nn.functional.logsigmoid(logits), dim=-1)
    log_one_minus_s = torch.logsumexp(torch.log(w) + torch.nn.functional.logsigmoid(-logits), dim=-1)
    sig = torch.sigmoid(logits)
    slope = (w * sig * (1 - sig)).sum(-1) / torch.exp(log_s + log_one_minus_s)
    return log_s - log_one_minus_s, slope


@mistake("logit_derivative_missing", title="Derivative of the logit missing",
         explanation="dy/dz is returned as dS/dz = sum_i w_i a_i sigmoid'(a_i z + b_i), the derivative of the "
                     "mixture S, without the factor 1 / (S (1 - S)) from differentiating logit(S).",
         hint="y = logit(S(z)): apply the chain rule through the outer logit too. What is d logit(S) / dS?")
def sigmoid_mixture_flow(z, w, a, b):  # noqa: F811
    logits = a * z[..., None] + b
    log_s = torch.logsumexp(torch.log(w) + torch.nn.functional.logsigmoid(logits), dim=-1)
    log_one_minus_s = torch.logsumexp(torch.log(w) + torch.nn.functional.logsigmoid(-logits), dim=-1)
    sig = torch.sigmoid(logits)
    return log_s - log_one_minus_s, (w * a * sig * (1 - sig)).sum(-1)


@mistake("naive_logit", title="Naive logit: infinite in the tails",
         explanation="S = sum_i w_i sigmoid(.) is formed first and y = log(S / (1 - S)): in the tails S rounds to "
                     "exactly 0 or 1 and y and dy/dz become infinite or NaN, although both are finite there.",
         hint="Evaluate your function at z = 40: which intermediate rounds to 1? log S and log(1 - S) can each be "
              "computed as a log-sum-exp of log-sigmoids.")
def sigmoid_mixture_flow(z, w, a, b):  # noqa: F811
    sig = torch.sigmoid(a * z[..., None] + b)
    s = (w * sig).sum(-1)
    return torch.log(s / (1 - s)), (w * a * sig * (1 - sig)).sum(-1) / (s * (1 - s))


# Designed inputs: two components with a_i != 1 and moderate z, and a second probe deep in both tails.
PROBES = [
    probe(np.array([-1.5, 0.3, 2.0]), np.array([0.3, 0.7]), np.array([0.5, 2.5]), np.array([1.0, -0.5])),
    probe(np.array([-60.0, 0.5, 60.0]), np.array([0.6, 0.4]), np.array([1.5, 0.8]), np.array([0.0, 1.0])),
]
