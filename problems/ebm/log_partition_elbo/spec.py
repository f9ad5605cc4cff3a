"""Properties of log_partition_elbo(log_p_tilde, log_q) = (1/N) sum_i [log p~(x_i) - log q(x_i)] over the last
dimension: a Monte Carlo estimate of a lower bound on log Z."""

import numpy as np

from grader.spec import (assert_all, assert_close, assert_finite, assert_shape, call_text, given, prop, st,
                         unit_helpers)
from grader.strategies import reals

common = unit_helpers(__file__)
log_values, proportional_log_values, log_mean_exp = common.log_values, common.proportional_log_values, common.log_mean_exp
gaussian_models, gaussian_log_values, kl_q_p, tolerance = (common.gaussian_models, common.gaussian_log_values,
                                                         common.kl_q_p, common.tolerance)


def describe(log_p_tilde, log_q):
    return call_text("log_partition_elbo", log_p_tilde, log_q)


@prop(points=1)
@given(args=log_values())
def log_partition_elbo_has_the_batch_shape(student, args):
    """The estimate has the batch shape (...): the N samples along the last dimension are averaged."""
    assert_shape(student.log_partition_elbo(*args), args[0].shape[:-1], call=describe(*args))


@prop(points=2)
@given(case=proportional_log_values())
def log_partition_elbo_equals_log_z_when_q_is_proportional_to_p_tilde(student, case):
    """When log p~ = log q + log Z at every sample (q = p~ / Z), the estimate is exactly log Z."""
    log_p_tilde, log_q, log_z = case
    call = describe(log_p_tilde, log_q) + f" with log Z = {log_z:.6g}"
    value = student.log_partition_elbo(log_p_tilde, log_q)
    assert_finite(value, call=call)
    assert_close(value, np.full(log_q.shape[:-1], log_z), rtol=0, atol=tolerance(log_p_tilde, log_q),
                 what="the estimate", call=call)


@prop(points=1)
@given(args=log_values(), shift=reals(-20.0, 20.0))
def log_partition_elbo_shifts_with_log_p_tilde(student, args, shift):
    """Scaling p~ by e^c (adding c to every log p~) adds c to the estimate: log(e^c Z) = c + log Z."""
    log_p_tilde, log_q = args
    call = describe(log_p_tilde + shift, log_q) + f" vs shift {shift:.6g}"
    value, shifted = student.log_partition_elbo(log_p_tilde, log_q), student.log_partition_elbo(log_p_tilde + shift, log_q)
    assert_close(shifted - value, np.full(log_q.shape[:-1], shift), rtol=0,
                 atol=2 * tolerance(log_p_tilde + shift, log_q), what="the change of the estimate", call=call)


@prop(points=1)
@given(args=log_values(samples=(2, 8)))
def log_partition_elbo_is_at_most_the_importance_weighted_estimate(student, args):
    """On the same samples, the estimate is at most log (1/N) sum_i p~(x_i) / q(x_i) (Jensen's inequality)."""
    value = student.log_partition_elbo(*args)
    call = describe(*args)
    assert_finite(value, call=call)
    bound = log_mean_exp(args[0] - args[1])
    assert_all(value <= bound + tolerance(*args), "the ELBO estimate must be <= log-mean-exp of the log-weights",
               elbo=value, log_mean_exp=bound, call=call)


@prop(points=1)
@given(args=log_values(samples=(2, 8)), seed=st.integers(0, 2**32 - 1))
def log_partition_elbo_does_not_depend_on_the_order_of_samples(student, args, seed):
    """Permuting the N samples (the same permutation for log p~ and log q) leaves the estimate unchanged."""
    log_p_tilde, log_q = args
    order = np.random.default_rng(seed).permutation(log_q.shape[-1])
    value = student.log_partition_elbo(log_p_tilde, log_q)
    assert_close(student.log_partition_elbo(log_p_tilde[..., order], log_q[..., order]), value, rtol=0,
                 atol=tolerance(*args), what="the estimate on permuted samples", call=describe(*args))


# A stochastic assertion: N_ESTIMATES independent estimates of N_SAMPLES samples each; their average must be
# E_q[log p~ - log q] = log Z - KL(q || p) within Z_TWO_SIDED standard errors (estimated from the returned values: a
# t-statistic with 999 degrees of freedom, two-sided tail 2.2e-9 at 6; the log-weights are quadratics of Gaussian
# draws, whose mild skewness at most doubles that). The catalogued mistakes are off by log Z or (N - 1) times the
# mean, at least 20 standard errors here.
N_ESTIMATES = 1000
N_SAMPLES = 10
Z_TWO_SIDED = 6.0
MAX_EXAMPLES = 5


@prop(points=2, max_examples=MAX_EXAMPLES, false_failure=MAX_EXAMPLES * 2 * 2.2e-9)
@given(model=gaussian_models())
def log_partition_elbo_averages_to_log_z_minus_kl(student, model):
    """Over x ~ q the estimate averages to log Z - KL(q || p) <= log Z: a lower bound (6 standard errors)."""
    log_p_tilde, log_q = gaussian_log_values(model, (N_ESTIMATES, N_SAMPLES))
    call = describe(log_p_tilde, log_q) + f": {N_ESTIMATES} estimates of {N_SAMPLES} samples"
    values = student.log_partition_elbo(log_p_tilde, log_q)
    assert_shape(values, (N_ESTIMATES,), call=call)
    assert_finite(values, call=call)
    expected = model[0] - kl_q_p(model)
    average, standard_error = values.mean(), values.std(ddof=1) / np.sqrt(N_ESTIMATES)
    # Where q = p every estimate is log Z exactly, the standard error is 0, and only rounding is left:
    # a float32 implementation's rounding (the same allowance as the comparison with the reference).
    assert_all(abs(average - expected) <= Z_TWO_SIDED * standard_error + tolerance(log_p_tilde, log_q),
               f"the average estimate must be log Z - KL(q || p) within {Z_TWO_SIDED:g} standard errors",
               average=average, log_z_minus_kl=expected, log_z=model[0], standard_error=standard_error, call=call)


@prop(points=2)
@given(args=log_values())
def log_partition_elbo_matches_reference(student, reference, args):
    """The estimate agrees with the reference solution to float32 precision."""
    assert_close(student.log_partition_elbo(*args), reference.log_partition_elbo(*args), rtol=0,
                 atol=tolerance(*args), call=describe(*args))
