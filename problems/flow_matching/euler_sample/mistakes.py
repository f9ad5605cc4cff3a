"""Known mistakes in euler_sample, each a drop-in replacement with the same signature."""

import numpy as np
import torch

from grader.bank import mistake, probe
from grader.spec import harness_callable


@mistake("one_step_short", title="One Euler step short",
         explanation="The loop runs n_steps - 1 times, so the result is x at t = 1 - h, not at t = 1.",
         hint="Count the steps: from t_0 = 0 to t = 1 with step h = 1 / n_steps, how many are there?")
def euler_sample(velocity, x0, n_steps):
    h = 1.0 / n_steps
    x = x0
    for i in range(n_steps - 1):
        x = x + h * velocity(x, i * h)
    return x


@mistake("time_at_step_end", title="Velocity evaluated at the end of each step",
         explanation="Step i evaluates velocity(x, (i + 1) h), the time at the end of the step: explicit Euler "
                     "uses the velocity at the current point and the current time t_i = i h, so the first step "
                     "must use t = 0.",
         hint="Which time goes with the point x_i you are stepping from?")
def euler_sample(velocity, x0, n_steps):  # noqa: F811
    h = 1.0 / n_steps
    x = x0
    for i in range(n_steps):
        x = x + h * velocity(x, (i + 1) * h)
    return x


@mistake("step_index_as_time", title="Step index passed as the time",
         explanation="velocity(x, i) receives the step index i instead of the time t_i = i h in [0, 1): a "
                     "time-dependent field is evaluated far outside the interval it was trained on.",
         hint="The field is defined for t in [0, 1]: what time does step i correspond to?")
def euler_sample(velocity, x0, n_steps):  # noqa: F811
    h = 1.0 / n_steps
    x = x0
    for i in range(n_steps):
        x = x + h * velocity(x, float(i))
    return x


@mistake("trajectory_returned", title="The whole trajectory returned",
         explanation="The result stacks all n_steps + 1 states x_0, ..., x_n; only the final state x_n at t = 1 "
                     "is asked for, shaped like x0.",
         hint="Compare the shape of your result with x0.shape.")
def euler_sample(velocity, x0, n_steps):  # noqa: F811
    h = 1.0 / n_steps
    states = [x0]
    for i in range(n_steps):
        states.append(states[-1] + h * velocity(states[-1], i * h))
    return torch.stack(states)


# Designed inputs: a time-dependent field with c != 0 (so the evaluation times matter) over 4 steps from a batch
# of two points in d = 2, and a non-symmetric linear field over 3 steps.
PROBES = [
    probe(harness_callable("time_linear_field", a=np.array([0.5, -0.8]), c=np.array([1.5, 2.0])),
          np.array([[0.3, -1.0], [1.2, 0.4]]), 4),
    probe(harness_callable("linear_field", A=np.array([[0.2, -1.0], [0.7, -0.3]]), b=np.array([0.5, -0.25])),
          np.array([1.0, 2.0]), 3),
]
