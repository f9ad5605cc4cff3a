"""Diagnosis of a problem whose student defines a class: catalogued mistakes that are classes, probed by
scenario probes that construct the object, re-draw its parameters and compare architecture-free answers;
trusted code constructs in-process exactly as a worker does."""

from __future__ import annotations

import textwrap

import numpy as np

from grader.bank import load_problem
from grader.diagnosis import NO_MATCH, diagnose, trusted_answer

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
    assert diagnose(_problem(tmp_path), broken).message == NO_MATCH
