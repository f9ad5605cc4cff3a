"""The diagnosis: a problem whose student defines a class (catalogued mistakes that are classes, probed by
scenario probes that construct the object, re-draw its parameters and compare architecture-free answers;
trusted code constructs in-process exactly as a worker does), and a diagnosis that is never confidently wrong:
a structural failure (None, a wrong shape, a dict, an exception, a timeout, a crash) names no mistake and says
what was observed, in a toy problem and in one problem of every module of the bank."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from grader.bank import REPO_ROOT, load_bank, load_problem, select
from grader.diagnosis import NO_MATCH, diagnose, failure_of, structure, trusted_answer
from grader.formats.common import diagnosis_lines
from grader.report import to_html, to_markdown
from grader.runner import grade
from grader.sandbox import Limits

SCALER = """
import torch


class Scaler(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.zeros(dim))
        self.shift = torch.nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return x * torch.exp(self.log_scale) + self.shift, self.log_scale.sum().expand(x.shape[:-1])
"""

# Another architecture: one parameter tensor holding both, so re-drawn values differ from SCALER's.
OTHER_ARCHITECTURE = """
import torch


class Scaler(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.packed = torch.nn.Parameter(torch.zeros(2, dim))

    def forward(self, x):
        log_scale, shift = self.packed
        return x * torch.exp(log_scale) + shift, log_scale.sum().expand(x.shape[:-1])
"""

MISTAKES = '''
import numpy as np
import torch

from grader.bank import mistake, probe_scenario


@mistake("log_det_sign", title="Log-det sign", explanation="-sum(log_scale).", hint="dy/dx = exp(log_scale).")
class Scaler(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.zeros(dim))
        self.shift = torch.nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return x * torch.exp(self.log_scale) + self.shift, -self.log_scale.sum().expand(x.shape[:-1])


@mistake("log_det_doubled", title="Log-det doubled", explanation="2 sum(log_scale).", hint="dy/dx = exp(log_scale).")
class Scaler(torch.nn.Module):  # a second class of the same name: its own source must be dropped in
    def __init__(self, dim):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.zeros(dim))
        self.shift = torch.nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return x * torch.exp(self.log_scale) + self.shift, 2 * self.log_scale.sum().expand(x.shape[:-1])


def log_det_ratio(module):
    """The returned log-det over the log-det of the finite-difference Jacobian: 1 whatever the layout."""
    layer = module.construct("Scaler", 3)
    layer.redraw_parameters(seed=5)
    x = np.array([[0.3, -1.0, 2.0]])
    _, log_det = layer.forward(x)
    h = 1e-6
    slopes = [(layer.forward(x + h * e)[0] - layer.forward(x - h * e)[0])[0, i] / (2 * h)
              for i, e in enumerate(np.eye(3))]
    return np.round(log_det / np.log(np.abs(slopes)).sum(), 3)


PROBES = [probe_scenario(log_det_ratio)]
'''


def _problem(tmp_path):
    folder = tmp_path / "bank" / "toy" / "Scaler"
    folder.mkdir(parents=True)
    (folder / "problem.toml").write_text(textwrap.dedent("""
        id = "toy.Scaler"
        title = "A scaling layer"
        points = 1
        source = "test"
        statement = "Scaler(dim): y = x exp(log_scale) + shift."
    """))
    (folder / "spec.py").write_text("")
    (folder / "mistakes.py").write_text(MISTAKES)
    return load_problem(folder)


def test_a_class_mistake_is_dropped_in_as_its_own_class_source(tmp_path):
    sign, doubled = _problem(tmp_path).mistakes()
    source = sign.source()
    assert source.startswith("class Scaler(torch.nn.Module):\n") and "@mistake" not in source
    assert "-self.log_scale.sum()" in source and "2 * self" not in source
    assert "2 * self.log_scale.sum()" in doubled.source() and "-self" not in doubled.source()


def test_trusted_code_constructs_and_redraws_in_process_as_a_worker_does(tmp_path, make_student):
    problem = _problem(tmp_path)
    namespace = {}
    exec(compile(SCALER, "scaler", "exec"), namespace)
    [scenario] = problem.probes()
    np.testing.assert_array_equal(trusted_answer(problem, namespace["Scaler"], scenario), [1.0])
    student = make_student(SCALER, ["Scaler"])
    np.testing.assert_array_equal(scenario.scenario(student), [1.0])
    from grader.values import ReferenceModule

    local = ReferenceModule(type("m", (), {"Scaler": namespace["Scaler"]})).construct("Scaler", 3)
    remote = student.construct("Scaler", 3)
    assert local.redraw_parameters(seed=2, std=0.3) == remote.redraw_parameters(seed=2, std=0.3) == 6
    x = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    for mine, theirs in zip(local.forward(x), remote.forward(x)):
        assert mine.dtype == np.float64
        np.testing.assert_array_equal(mine, theirs)


def test_a_scenario_probe_names_a_class_mistake_whatever_the_architecture(tmp_path, make_student):
    problem = _problem(tmp_path)
    buggy = make_student(OTHER_ARCHITECTURE.replace("log_scale.sum().expand", "-log_scale.sum().expand"),
                         ["Scaler"])
    diagnosis = diagnose(problem, buggy)
    assert [m.id for m in diagnosis.mistakes] == ["log_det_sign"] and diagnosis.probes == 1
    assert diagnose(problem, make_student(OTHER_ARCHITECTURE, ["Scaler"], name="other")).message == NO_MATCH


def test_a_scenario_that_chokes_on_the_students_answers_counts_as_raised(tmp_path, make_student):
    broken = make_student(SCALER.replace("return x * torch.exp", "return 'no', x * torch.exp"), ["Scaler"])
    diagnosis = diagnose(_problem(tmp_path), broken)
    assert diagnosis.mistakes == []
    assert diagnosis.message == ("your answer cannot be graded, so no known mistake is named: the diagnostic scenario "
                                 "log_det_ratio failed: Scaler.forward returned a value of type str, expected a "
                                 "tensor, array or number")


# --- a diagnosis that is never confidently wrong: a toy problem ---------------------------------------------------

# double(x) = 2 x. Its only catalogued mistake is named by a property (no probe names it), as a sampler's are: it
# must be named when that property fails on answers of the right structure, and never otherwise.
TOY_SPEC = '''
import numpy as np

from grader.spec import assert_close, assert_shape, given, prop
from grader.strategies import arrays

HIDDEN_X = np.array([7.654321, -7.654321])


@prop(points=1, max_examples=5)
@given(x=arrays((3,), -2.0, 2.0))
def double_has_the_shape_of_x(student, x):
    """double(x) has the shape of x."""
    assert_shape(student.double(x), x.shape)


@prop(points=1, max_examples=5)
@given(x=arrays((3,), -2.0, 2.0))
def double_is_odd(student, x):
    """double(-x) is -double(x)."""
    assert_close(student.double(-x), -student.double(x))


@prop(points=1, max_examples=5)
@given(x=arrays((3,), -2.0, 2.0))
def double_matches_reference(student, reference, x):
    """double agrees with the reference solution."""
    assert_close(student.double(x), reference.double(x))


@prop(points=1, hidden=True)
def double_on_a_hidden_input(student):
    """A hidden check."""
    assert_close(student.double(HIDDEN_X), 2 * HIDDEN_X)
'''

TOY_MISTAKES = '''
import numpy as np

from grader.bank import mistake, probe


@mistake("offset", title="Offset added", explanation="The result is 2 x + 1/2.", hint="What is double(0)?",
         named_by="double_is_odd")
def double(x):
    return 2 * x + 0.5


PROBES = [probe(np.array([1.0, -2.0, 0.5]))]
'''


@pytest.fixture
def toy(tmp_path, zygote):
    """A function grading the body of ``double(x)`` in a ``toy.py`` on the toy problem (with its reference, or
    as a self-check)."""
    folder = tmp_path / "bank" / "toy" / "double"
    folder.mkdir(parents=True)
    (folder / "problem.toml").write_text('id = "toy.double"\ntitle = "Double"\npoints = 4\nsource = "test"\n'
                                         'statement = "double(x) = 2 x."\n')
    (folder / "spec.py").write_text(TOY_SPEC)
    (folder / "mistakes.py").write_text(TOY_MISTAKES)
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "toy.py").write_text("def double(x):\n    return 2 * x\n")
    problem = load_problem(folder)

    def run(body: str, *, reference: bool = True, limits: Limits | None = None):
        submission = tmp_path / f"submission_{len(list(tmp_path.glob('submission_*')))}"
        submission.mkdir()
        (submission / "toy.py").write_text("import os\n\n\ndef double(x):\n" + textwrap.indent(body, "    ") + "\n")
        return grade(submission, [problem], reference_dir=tmp_path / "reference" if reference else None,
                     zygote=zygote, limits=limits)

    return run


def _named(result) -> list[str]:
    return [m["id"] for m in (result.problems[0].diagnosis or {"mistakes": []})["mistakes"]]


def test_a_named_by_mistake_is_named_when_its_property_fails_on_answers_of_the_right_structure(toy):
    result = toy("return 2 * x + 0.5")
    assert _named(result) == ["offset"]
    assert result.problems[0].diagnosis["message"] == "the property designed to detect it failed: “Offset added”"


STRUCTURAL = {
    "returns None": ("x = 2 * x", "your answer has the wrong structure, so no known mistake is named: "
                                  "double(%s) returned None, but should return shape (3,)"),
    "raises": ("raise ValueError('shapes do not match')",
               "your code raised an exception, so no known mistake is named: double(%s) raised ValueError: shapes "
               "do not match"),
    "one entry short": ("return 2 * x[:-1] + 0.5", "your answer has the wrong structure, so no known mistake is "
                                                   "named: double(%s) returned shape (2,), but should return shape (3,)"),
    "returns a dict": ("return {'double': 2 * x + 0.5}",
                       "your answer cannot be graded, so no known mistake is named: double(%s) returned a value of "
                       "type dict, expected a tensor, array or number"),
    "returns a tuple": ("return 2 * x + 0.5, x", "your answer has the wrong structure, so no known mistake is named: "
                                                 "double(%s) returned a tuple of 2 (shape (3,), shape (3,)), but "
                                                 "should return shape (3,)"),
}


@pytest.mark.parametrize("case", STRUCTURAL, ids=str)
def test_a_structural_failure_names_no_mistake_and_says_what_was_observed(toy, case):
    body, expected = STRUCTURAL[case]
    result = toy(body)
    diagnosis = result.problems[0].diagnosis
    assert "double_is_odd" in [q.name for q in result.problems[0].properties if q.status == "failed"]
    assert diagnosis["mistakes"] == []
    # the call is the first failed property's shrunk example: Hypothesis' minimal input, three zeros
    assert diagnosis["message"] == expected % "[0., 0., 0.]"


def test_a_timeout_or_a_crash_names_no_mistake(toy):
    # 0.5 s of CPU per call: the busy loop costs its property and the probe that diagnoses it half a second each
    result = toy("while True:\n    pass", limits=Limits(call_timeout_s=0.5))
    diagnosis = result.problems[0].diagnosis
    assert {q.status for q in result.problems[0].properties} == {"timeout"} and diagnosis["mistakes"] == []
    assert diagnosis["message"].startswith("your code ran out of time, so no known mistake is named: "
                                           "double_has_the_shape_of_x: ")
    result = toy("os._exit(3)")
    diagnosis = result.problems[0].diagnosis
    assert {q.status for q in result.problems[0].properties} == {"error"} and diagnosis["mistakes"] == []
    assert diagnosis["message"].startswith("a property could not be completed, so no known mistake is named: "
                                           "double_has_the_shape_of_x: the worker died")
    # the offset alone would be named; a worker dying on the probe's input makes it unknown
    result = toy("if x.shape == (3,) and float(x[0]) == 1.0 and float(x[1]) == -2.0:\n    os._exit(3)\n"
                 "return 2 * x + 0.5")
    diagnosis = result.problems[0].diagnosis
    assert "double_is_odd" in [q.name for q in result.problems[0].properties if q.status == "failed"]
    assert diagnosis["mistakes"] == [] and diagnosis["example"]["student"].startswith("failed: the worker died")
    assert diagnosis["message"].startswith("the worker running your code died, so no known mistake is named: "
                                           "double([ 1. , -2. , 0.5]) failed: the worker died")


def test_without_the_reference_a_wrong_shape_still_names_no_mistake(toy):
    # A self-check knows no expected structure; the mistake's own answers on the probes have another shape.
    result = toy("return 2 * x[:-1] + 0.5", reference=False)
    assert result.mode == "check" and _named(result) == []
    assert result.problems[0].diagnosis["message"] == NO_MATCH
    result = toy("return None", reference=False)
    assert _named(result) == [] and result.problems[0].diagnosis["message"].endswith("double([0., 0., 0.]) returned None")


def test_a_structural_failure_in_a_hidden_check_shows_none_of_its_inputs(toy):
    result = toy("if (abs(x) > 7).any():\n    raise ValueError(f'cannot double {x}')\nreturn 2 * x + 0.5")
    failing = {q.name for q in result.problems[0].properties if q.status == "failed"}
    assert failing == {"double_is_odd", "double_matches_reference", "double_on_a_hidden_input"}
    diagnosis = result.problems[0].diagnosis
    assert diagnosis["mistakes"] == []
    assert diagnosis["message"] == ("your code raised an exception, so no known mistake is named: it happened on a "
                                    "hidden check, whose inputs are not shown")
    assert "7.65" not in to_markdown(result) and "7.65" not in to_html(result)


def test_the_designed_input_reads_naturally_when_the_code_raised(toy):
    raised = toy("raise ValueError('shapes do not match')")
    example = raised.problems[0].diagnosis["example"]
    assert example == {"call": "double([ 1. , -2. ,  0.5])", "student": "raised ValueError: shapes do not match",
                       "expected": "[ 2., -4.,  1.]"}
    assert diagnosis_lines(raised.problems[0].diagnosis)[-1] == (
        "On a designed input: double([ 1. , -2. ,  0.5]) raised ValueError: shapes do not match; expected [ 2., -4.,  1.]")
    assert ("On a designed input, <code>double([ 1. , -2. ,  0.5])</code> raised ValueError: shapes do not match; "
            "expected <code>[ 2., -4.,  1.]</code>.") in to_html(raised)
    wrong = toy("return 2 * x + 0.5")
    assert diagnosis_lines(wrong.problems[0].diagnosis)[-1] == (
        "On a designed input: double([ 1. , -2. ,  0.5]) returned [ 2.5, -3.5,  1.5]; expected [ 2., -4.,  1.]")
    assert ("On a designed input, <code>double([ 1. , -2. ,  0.5])</code> returned <code>[ 2.5, -3.5,  1.5]</code>; "
            "expected <code>[ 2., -4.,  1.]</code>.") in to_html(wrong)
    dictionary = toy("return {'double': 2 * x}")
    assert "double([ 1. , -2. ,  0.5]) returned a value of type dict, expected a tensor, array or number; expected" \
        in diagnosis_lines(dictionary.problems[0].diagnosis)[-1]


def test_failures_are_worded_from_the_student_errors_text():
    failed = failure_of("kl_normal raised ValueError: shapes do not match\n  File \"divergences.py\", line 3", "kl_normal")
    assert (failed.text, failed.exception) == ("raised ValueError: shapes do not match", "ValueError")
    failed = failure_of("kl_normal returned a value of type dict, expected a tensor, array or number", "kl_normal")
    assert (failed.text, failed.exception) == ("returned a value of type dict, expected a tensor, array or number", None)
    assert failure_of("kl_normal raised ValueError: ", "kl_normal").text == "raised ValueError"
    assert failure_of("kl_normal: not connected to the graph", "kl_normal").text == "failed: not connected to the graph"
    failed = failure_of("Scaler.forward raised KeyError: 'x'")  # a scenario: the text names what it called
    assert (failed.text, failed.exception) == ("failed: Scaler.forward raised KeyError: 'x'", "KeyError")
    assert [structure(v) for v in (None, np.zeros(()), np.zeros((3, 2)), (np.zeros(2), None))] == [
        "None", "a single number (shape ())", "shape (3, 2)", "a tuple of 2 (shape (2,), None)"]


# --- the same, in one problem of every module of the bank -----------------------------------------------------------

BANK = load_bank()
REFERENCE = REPO_ROOT / "reference"
# One cheap problem per module, preferring those whose mistakes are named by a property (samplers): there a
# structural failure used to be named after the property's mistake.
FAMILY = {
    "diffusion": "diffusion.q_sample",
    "divergences": "divergences.kl_normal",
    "ebm": "ebm.log_partition_elbo",
    "flow_matching": "flow_matching.conditional_velocity",
    "flows": "flows.lognormal_log_prob",
    "gan": "gan.dirac_gan_jacobian",
    "gmm": "gmm.e_step",
    "logistic": "logistic.sample_labels",
    "sampling": "sampling.sample_gmm",
    "score": "score.metropolis_hastings",
    "vae": "vae.reparameterize",  # its dict case is the real bug that was named "detached"
    "vi": "vi.cavi_gaussian",
}
BREAK = '''

def _one_row_short(value):
    """The answer one row short (a number or a single row: flattened and repeated)."""
    if isinstance(value, (tuple, list)):
        return (_one_row_short(value[0]), *value[1:])
    if value.ndim == 0 or value.shape[0] == 1:
        return value.reshape(-1).repeat(2)
    return value[:-1]


_reference_{name} = {name}


def {name}(*args, **kwargs):
    {body}
'''
FAMILY_CASES = {
    "returns None": ("return None", r"returned None, but should return "),
    "raises": ("raise RuntimeError('broken on purpose')", r"raised RuntimeError: broken on purpose"),
    "wrong shape": ("return _one_row_short(_reference_{name}(*args, **kwargs))",
                    r"returned (shape \(.*\)|a tuple of .*), but should return "),
    "returns a dict": ("return {{'answer': _reference_{name}(*args, **kwargs)}}", r"returned a value of type dict"),
}


def test_the_family_covers_every_module_of_the_bank():
    assert set(FAMILY) == {problem.module for problem in BANK}


def _grade_broken(tmp_path, zygote, problem, source: str):
    """Grade the reference module with ``source`` appended (it redefines the problem's function)."""
    (tmp_path / f"{problem.module}.py").write_text((REFERENCE / f"{problem.module}.py").read_text() + source)
    return grade(tmp_path, [problem], reference_dir=REFERENCE, zygote=zygote).problems[0]


@pytest.mark.parametrize("case", FAMILY_CASES, ids=str)
@pytest.mark.parametrize("module", FAMILY, ids=str)
def test_a_structural_failure_names_no_mistake_in_every_module(tmp_path, zygote, module, case):
    [problem] = select(BANK, [FAMILY[module]])
    body, observed = FAMILY_CASES[case]
    result = _grade_broken(tmp_path, zygote, problem, BREAK.format(name=problem.name, body=body.format(name=problem.name)))
    assert result.score < result.max_score and result.diagnosis is not None
    assert result.diagnosis["mistakes"] == [], result.diagnosis["message"]
    assert "so no known mistake is named" in result.diagnosis["message"]
    assert re.search(observed, result.diagnosis["message"]), result.diagnosis["message"]


# Bugs found in the wild that used to get a confidently wrong name.
REAL_BUGS = {
    # counts rounded per component: 3999 rows for n = 4000 ("weights ignored, variance as std, generator ignored")
    "sampling.sample_gmm": ('''
def sample_gmm(weights, means, variances, n, generator):
    counts = torch.round(weights * n).long()
    draws = [means[j] + torch.sqrt(variances[j]) * torch.randn((int(count), means.shape[-1]), generator=generator,
                                                               dtype=means.dtype, device=means.device)
             for j, count in enumerate(counts)]
    return torch.cat(draws)
''', r"sample_gmm\(.*\) returned shape \((\d+), \d+\), but should return shape \((?!\1\b)\d+, \d+\)"),
    # a bandwidth from the data's covariance: LinAlgError on degenerate data ("no kernel noise")
    "sampling.sample_kde": ('''
_correct_sample_kde = sample_kde


def sample_kde(data, sigma, n, generator):
    import numpy

    centred = (data - data.mean(0)).detach().cpu().numpy()
    numpy.linalg.cholesky(centred.T @ centred / data.shape[0])
    return _correct_sample_kde(data, sigma, n, generator)
''', r"sample_kde\(.*\) raised LinAlgError: "),
    # only the accepted proposals are kept ("every proposal accepted")
    "score.metropolis_hastings": ('''
def metropolis_hastings(log_prob, x0, n_steps, proposal_std, generator):
    x, log_p, states = x0, log_prob(x0), []
    for _ in range(n_steps):
        proposal = x + proposal_std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        log_p_proposal = log_prob(proposal)
        uniform = torch.rand(x.shape[:1], generator=generator, dtype=x.dtype, device=x.device)
        accept = torch.log(uniform) < log_p_proposal - log_p
        x = torch.where(accept.unsqueeze(-1), proposal, x)
        log_p = torch.where(accept, log_p_proposal, log_p)
        states.append(proposal[accept])
    return torch.cat(states)
''', r"metropolis_hastings\(.*\) returned shape \(\d+, \d+\), but should return shape \(\d+, \d+, \d+\)"),
    # the return statement forgotten: four messages, none of which said "returned None"
    "vae.elbo": ('''
_correct_elbo = elbo


def elbo(*args, **kwargs):
    value = _correct_elbo(*args, **kwargs)
''', r"elbo\(.*\) returned None, but should return shape"),
}


@pytest.mark.parametrize("problem_id", REAL_BUGS, ids=str)
def test_real_bugs_with_a_structural_failure_name_no_mistake(tmp_path, zygote, problem_id):
    [problem] = select(BANK, [problem_id])
    source, observed = REAL_BUGS[problem_id]
    result = _grade_broken(tmp_path, zygote, problem, "\n\n" + source)
    assert result.score < result.max_score
    assert result.diagnosis["mistakes"] == [], result.diagnosis["message"]
    assert re.search(observed, result.diagnosis["message"]), result.diagnosis["message"]
