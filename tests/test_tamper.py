"""A worker the grader does not trust after the student's import (issue 14): each way of reaching into the
grader from the student's module gains nothing and is flagged "tampering suspected", and correct code
that merely uses torch.autograd, inspect or torch.func is not.

The attacks run against a test-only bank (tests/fixtures/tamper: guard.kl takes gradients through the
harness, guard.euler counts a harness callable's evaluations); most run through a StudentModule (one
worker, a few calls), a few through grade() to check the score and the reports."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from rich.console import Console

from grader.bank import load_bank, select
from grader.export import to_canvas_csv, to_csv, to_gradescope_csv
from grader.formats.common import visible
from grader.gradebook import GradingKey, open_gradebook
from grader.report import render, to_gradescope, to_html, to_json, to_junit, to_markdown
from grader.runner import grade
from grader.sandbox import Limits, Worker
from grader.spec import harness_callable
from grader.summary import render_summary, summarize, summary_html
from grader.tamper import Finding, MonitorChannel, scan_submission
from grader.values import StudentError, StudentModule

from conftest import FIXTURES, SCHEMA_PATH, assert_no_workers

TAMPER = FIXTURES / "tamper"
BANK = load_bank(TAMPER / "bank")
REFERENCE = TAMPER / "reference"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
MU, LOGVAR = np.array([0.5, -1.0, 2.0]), np.array([0.1, -0.3, 0.7])
A, B, X0 = np.array([[0.2, -1.0], [0.7, -0.3]]), np.array([0.5, -0.25]), np.array([1.0, -0.5])

NUMPY_KL = '''
import numpy as np
import torch

def kl(mu, logvar):
    m, lv = mu.detach().numpy(), logvar.detach().numpy()
    return torch.tensor(0.5 * (np.exp(lv) + m**2 - 1 - lv).sum(-1))

def _forged(*args):
    """What an attacker returns for d kl / d mu and d kl / d logvar, computed by hand."""
    args = [a for a in args if isinstance(a, list)][0]
    mu, logvar = args[:2]
    return kl(mu, logvar), (mu.clone(), (torch.exp(logvar) - 1) / 2)
'''

TWICE_PER_STEP = '''
def euler(velocity, x0, n_steps):
    x, h = x0, 1.0 / n_steps
    for i in range(n_steps):
        velocity(x, i * h)  # wasted
        x = x + h * velocity(x, i * h)
    {hide}
    return x
'''


def findings(module) -> list[str]:
    """What the monitor found in every worker the module had (read once they are gone)."""
    module.close()
    return [found.what for found in module.tampering]


def gradient_call(module):
    return module.grad("kl", MU, LOGVAR, wrt=[0])


def field():
    return harness_callable("linear_field", A=A, b=B)


# --- (a) forged gradients through the harness -----------------------------------------------------


@pytest.mark.parametrize("reach", [
    "for obj in gc.get_objects():\n"
    "    if isinstance(obj, type) and obj.__name__ == 'Harness' and obj.__module__ == 'grader.harness':\n"
    "        obj.gradients = lambda self, *rest: _forged(*rest)",
    # the same, obfuscated: no name of gc, get_objects or gradients in the source
    "walk = getattr(__import__('g' + 'c'), 'get_' + 'objects')\n"
    "for obj in walk():\n"
    "    if isinstance(obj, type) and getattr(obj, '__name__', '') == 'Har' + 'ness':\n"
    "        setattr(obj, 'grad' + 'ients', lambda self, *rest: _forged(*rest))",
], ids=["gc", "obfuscated"])
def test_replacing_harness_gradients_gains_nothing_and_is_flagged(make_student, reach):
    module = make_student(NUMPY_KL + "import gc\n" + reach, ["kl"])
    with pytest.raises(StudentError, match="not connected to the inputs' autograd graph"):
        gradient_call(module)  # the worker calls the gradients it bound before the import
    found = findings(module)
    assert "replaced grader.harness.Harness.gradients" in found
    assert "used gc.get_objects (walking the garbage collector)" in found


def test_replacing_the_workers_own_reference_is_flagged_before_the_reply(make_student):
    # The one rebinding that takes effect: the worker's module-level reference. The checkpoint
    # before the reply notices it, so the forged gradients arrive with a finding that withholds them.
    module = make_student(NUMPY_KL + textwrap.dedent('''
        import gc
        for namespace in gc.get_objects():
            if isinstance(namespace, dict) and "_gradients" in namespace and "_send_frame" in namespace:
                namespace["_gradients"] = _forged
        '''), ["kl"])
    _, grads = gradient_call(module)
    np.testing.assert_allclose(grads[0], MU)
    assert "replaced grader.worker._gradients" in findings(module)


# --- (b) counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("hide,expected", [
    ("try:\n        velocity.calls = n_steps\n    except AttributeError:\n        pass",
     "tried to set the evaluation count of a harness callable"),
    ("type(velocity)._calls.__set__(velocity, n_steps)", "changed the evaluation count of a harness callable"),
    ("__import__('sys').audit('grader.tamper', 'evaluated', velocity)",
     "raised the monitor's evaluation event outside a harness callable"),
], ids=["assign", "slot", "forged-event"])
def test_a_callables_count_cannot_be_reset_and_trying_is_flagged(make_student, hide, expected):
    module = make_student(TWICE_PER_STEP.format(hide=hide), ["euler"])
    module.euler(field(), X0, 3)
    assert module.callable_calls() == [6]  # what the monitor counted: two evaluations per step
    assert expected in findings(module)


def test_replacing_the_counting_call_is_flagged_and_counts_nothing(make_student):
    source = TWICE_PER_STEP.format(hide="") + textwrap.dedent('''
        import gc
        for obj in gc.get_objects():
            if isinstance(obj, type) and obj.__name__ == "CountingCallable":
                obj.__call__ = lambda self, *args: self.function(*args)
        ''')
    module = make_student(source, ["euler"])
    module.euler(field(), X0, 3)
    assert module.callable_calls() == [0]  # uncounted, and so the property fails
    assert "replaced grader.harness.CountingCallable.__call__" in findings(module)


# --- (c) torch functions the harness calls ------------------------------------------------------


@pytest.mark.parametrize("patch,expected,error", [
    ("torch.autograd.grad = lambda *a, **k: (torch.ones(3),)", "replaced torch.autograd.grad", "not connected"),
    ("setattr(getattr(torch, 'auto' + 'grad'), 'gr' + 'ad', lambda *a, **k: (torch.ones(3),))",
     "replaced torch.autograd.grad", "not connected"),
    ("torch.Tensor.detach = lambda self: torch._C.TensorBase.detach(self)", "replaced torch.Tensor.detach",
     "not connected"),
    # a method of a class the harness bound: the class is the same object, so this one takes effect
    ("torch.enable_grad.__enter__ = lambda self: None", "replaced torch.enable_grad.__enter__",
     "has no attribute 'prev'"),
], ids=["autograd.grad", "obfuscated", "Tensor.detach", "enable_grad"])
def test_replacing_a_torch_function_gains_nothing_and_is_flagged(make_student, patch, expected, error):
    module = make_student(NUMPY_KL + patch, ["kl"])
    with pytest.raises(StudentError, match=error):
        gradient_call(module)
    assert expected in findings(module)


# --- (d) gc walks, (e) frames, (f) ctypes -------------------------------------------------------


@pytest.mark.parametrize("during_call,expected", [
    ("gc.get_referrers(velocity)", "used gc.get_referrers (walking the garbage collector)"),
    ("getattr(gc, 'get_' + 'referents')(velocity)", "used gc.get_referents (walking the garbage collector)"),
    ("sys._getframe(1).f_back.f_locals", "called sys._getframe (frame access)"),
    ("getattr(sys, '_get' + 'frame')(0)", "called sys._getframe (frame access)"),
    ("inspect.stack()", "called sys._getframe (through inspect.py: stack) (frame access)"),
    ("inspect.currentframe().f_back", "called sys._getframe (through inspect.py: currentframe) (frame access)"),
    ("sys._current_frames()", "called sys._current_frames (frame access)"),
    ("sys.settrace(lambda *a: None); sys.settrace(None)", "installed a trace function (sys.settrace)"),
    ("ctypes.c_long.from_address(id(velocity))", "used ctypes (ctypes.cdata)"),
    ("getattr(__import__('ct' + 'ypes'), 'string_' + 'at')(id(velocity), 8)", "used ctypes (ctypes.string_at)"),
], ids=["gc.get_referrers", "gc.obfuscated", "_getframe", "_getframe.obfuscated", "inspect.stack",
        "inspect.currentframe", "_current_frames", "settrace", "ctypes", "ctypes.obfuscated"])
def test_walking_gc_or_frames_or_using_ctypes_during_a_call_is_flagged_where_it_happened(
        make_student, during_call, expected):
    source = "import ctypes, gc, inspect, sys\n" + TWICE_PER_STEP.format(hide=during_call)
    module = make_student(source, ["euler"])
    module.euler(field(), X0, 2)
    module.close()
    where = {found.what: found.where for found in module.tampering}
    assert expected in where, sorted(where)
    assert where[expected].startswith("during the call of euler (student.py, line ")


def test_a_frame_reached_through_a_traceback_is_flagged(make_student):
    module = make_student('''
        import torch

        def kl(mu, logvar):
            try:
                raise ValueError
            except ValueError as error:
                caller = error.__traceback__.tb_frame.f_back  # the harness's frame
            return 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(-1)
        ''', ["kl"])
    gradient_call(module)
    assert "read tb_frame (frame access)" in findings(module)


def test_importing_ctypes_or_the_grader_is_flagged_even_through___import__(make_student, tmp_path):
    module = make_student('''
        name = "ct" + "ypes"
        native = __import__(name)
        try:
            __import__("gra" + "der.harness")  # a fresh copy, or refused: never the worker's own
        except Exception:
            pass

        def kl(mu, logvar):
            return (mu * 0).sum()
        ''', ["kl"])
    found = findings(module)
    assert "imported ctypes" in found and "imported grader.harness" in found


# --- the monitor's channel --------------------------------------------------------------------------

CHANNEL = '''
import os, stat

def channel():
    return [fd for fd in range(3, 256) if _is_pipe(fd)]

def _is_pipe(fd):
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False

def kl(mu, logvar):
    return (mu * 0).sum()
'''


@pytest.mark.parametrize("act,expected", [
    ("for fd in channel():\n    os.close(fd)",
     "the monitor's channel was closed or its checkpoints suppressed while the worker was alive"),
    ("for fd in channel():\n    os.write(fd, b'checkpoint 1\\n')",
     "something other than the monitor wrote to the monitor's channel"),
    ("__import__('sys').audit('grader.tamper', 'checkpoint', object(), 'the call of kl')",
     "raised the monitor's own event (a forged checkpoint?)"),
], ids=["closed", "written", "forged-checkpoint"])
def test_silencing_or_forging_the_monitors_channel_is_itself_a_finding(make_student, act, expected):
    module = make_student(CHANNEL + act, ["kl"])
    module.kl(MU, LOGVAR)
    assert expected in findings(module)


def test_a_redirected_channel_says_findings_were_lost(make_student):
    # The limit of an in-process monitor: a finding made while its channel points elsewhere is lost.
    # That the channel was redirected is not: the next record says so.
    module = make_student(CHANNEL + textwrap.dedent('''
        import gc
        [fd] = channel()
        saved, null = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        gc.get_objects()
        os.dup2(saved, fd)
        '''), ["kl"])
    module.kl(MU, LOGVAR)
    found = findings(module)
    assert "the monitor's channel was closed or redirected while the worker ran" in found
    assert "used gc.get_objects (walking the garbage collector)" not in found


def test_the_channel_reader_refuses_what_the_monitor_did_not_write(tmp_path):
    import os

    read, write = os.pipe()
    channel = MonitorChannel(read)
    os.write(write, b's1 hello "s1"\ns1 checkpoint "1"\ns1 finding "used gc.get_objects\\nduring x"\n'
                    b's2 checkpoint "2"\n')
    channel.poll()
    os.close(write)
    channel.finish()
    assert channel.results(2) == [
        Finding("used gc.get_objects", "during x"),
        Finding("something other than the monitor wrote to the monitor's channel", ""),
        Finding("the monitor's channel was closed or its checkpoints suppressed while the worker was alive",
                "1 of 2 replies came without the monitor's checkpoint")]


# --- correct code is not flagged ----------------------------------------------------------------------


def test_torch_func_autograd_functional_and_lazy_torch_imports_are_not_flagged(zygote, write_module, tmp_path):
    # torch.func's first transform imports a good part of torch (a few seconds): once, here. It needs
    # a temporary directory, which a grading's worker has in its scratch area.
    source = textwrap.dedent('''
        import inspect
        import torch
        import torch.autograd.forward_ad
        from torch.func import grad, vmap

        def _one(mu, logvar):
            return 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum()

        def kl(mu, logvar):
            inspect.signature(_one)
            torch.autograd.functional.jacobian(lambda m: _one(m, logvar.detach()), mu.detach())
            grad(_one)(mu.detach(), logvar.detach())
            return vmap(_one)(mu.unsqueeze(0), logvar.unsqueeze(0))[0]
        ''')
    (tmp_path / "scratch").mkdir()
    module = StudentModule(zygote, str(write_module(source)), "student", ["kl"], "cpu", Limits(),
                           str(tmp_path / "scratch"))
    try:
        module.load()
        _, grads = gradient_call(module)
    finally:
        module.close()
    np.testing.assert_allclose(grads[0], MU)
    assert findings(module) == []
    assert_no_workers(zygote)


@pytest.fixture(scope="module")
def graded(zygote, tmp_path_factory):
    """grade() of a submission of the tamper bank, by fixture name or from source, computed once."""
    cache = {}

    def run(name: str, source: str | None = None):
        if name not in cache:
            folder = TAMPER / "submissions" / name
            if source is not None:
                folder = tmp_path_factory.mktemp(name)
                (folder / "guard.py").write_text(textwrap.dedent(source))
            result = grade(folder, BANK, reference_dir=REFERENCE, zygote=zygote)
            assert_no_workers(zygote)
            jsonschema.Draft202012Validator(SCHEMA).validate(to_json(result, show_hidden=True))
            jsonschema.Draft202012Validator(SCHEMA).validate(to_json(result))
            cache[name] = result
        return cache[name]

    return run


def problem_of(result, problem_id: str):
    [found] = [p for p in result.problems if p.id == problem_id]
    return found


def test_a_correct_submission_using_autograd_inspect_logging_and_tracebacks_is_not_flagged(graded):
    result = graded("correct")
    assert [(p.status, p.score, p.tampering, p.withheld_score) for p in result.problems] == [
        ("passed", 3.0, [], None), ("passed", 2.0, [], None)]


GC_ATTACK = (TAMPER / "submissions" / "numpy_kl" / "guard.py").read_text() + textwrap.dedent('''

    import gc

    def _forged(self, args, kwargs, call, wrt, output_index, cotangent):
        mu, logvar = args[:2]
        grads = {0: mu.clone(), 1: (torch.exp(logvar) - 1) / 2}
        return call(*args, **kwargs), tuple(grads[i] for i in wrt)

    for obj in gc.get_objects():
        if isinstance(obj, type) and obj.__name__ == "Harness":
            obj.gradients = _forged
    ''')


def test_the_issues_attack_scores_nothing_and_its_withheld_score_is_what_the_code_earns(graded):
    plain, attacked = graded("numpy_kl"), graded("gc_attack", GC_ATTACK)
    kl, plain_kl = problem_of(attacked, "guard.kl"), problem_of(plain, "guard.kl")
    assert (plain_kl.status, plain_kl.score) == ("partial", 1.0)  # the gradients fail without the attack
    assert (kl.status, kl.score, kl.withheld_score) == ("review", 0.0, 1.0)  # and with it: nothing gained
    assert kl.message == "tampering suspected: the score is withheld for review by the course staff (3 findings below)"
    assert {(f["what"], f["by"]) for f in kl.tampering} == {
        ("used gc.get_objects (walking the garbage collector)", "monitor"),
        ("replaced grader.harness.Harness.gradients", "monitor"),
        ("walks the garbage collector (gc.get_objects)", "scan")}
    assert all(p.score == 0 for p in kl.properties)
    # every problem whose worker imported the module is flagged, each on its own findings
    euler = problem_of(attacked, "guard.euler")
    assert (euler.status, euler.score, euler.withheld_score) == ("review", 0.0, 1.0)
    assert attacked.score == 0


def test_the_reports_say_what_was_found_and_keep_the_withheld_score_for_staff(graded):
    result = graded("gc_attack", GC_ATTACK)
    student, staff = to_json(result), to_json(result, show_hidden=True)
    [kl] = [p for p in student["problems"] if p["id"] == "guard.kl"]
    assert kl["status"] == "review" and kl["score"] == 0 and kl["withheld_score"] is None
    assert [p["withheld_score"] for p in staff["problems"]] == [1.0, 1.0]
    where = "after the import of guard.py"
    assert {"what": "replaced grader.harness.Harness.gradients", "where": where, "by": "monitor"} in kl["tampering"]
    finding = f"replaced grader.harness.Harness.gradients, {where}"
    console = Console(file=io.StringIO(), width=200)
    render(result, console)
    terminal = console.file.getvalue()
    assert "review" in terminal and f"Found by the monitor: {finding}" in terminal
    assert "Tampering suspected in 2 problems (guard.kl, guard.euler): scored 0 until the course staff review them." \
        in terminal
    assert "🔍 review" in to_markdown(result) and finding in to_markdown(result)
    page = to_html(result, show_hidden=True)
    assert "Tampering suspected:" in page and "Score before withholding: 1/3" in page
    assert "Score before withholding" not in to_html(result)
    junit = to_junit(result)
    assert 'type="review"' in junit and "score withheld for review: tampering suspected" in junit
    gradescope = to_gradescope(result)
    kl_tests = [t for t in gradescope["tests"] if t["name"].startswith("guard.kl:")]
    assert all(t["status"] == "failed" and t["score"] == 0 and finding in t["output"] for t in kl_tests)
    assert "Tampering suspected" in gradescope["output"]


def test_the_gradebook_and_its_exports_mark_the_submission_for_review(graded, tmp_path):
    report = to_json(graded("gc_attack", GC_ATTACK), show_hidden=True)
    honest = to_json(graded("correct"), show_hidden=True)
    with open_gradebook(tmp_path / "gb.sqlite") as book:
        run = book.start_run(directory="/class", executor="local", jobs=1, seed=0, device="cpu",
                             bank_version="b", grader_version="g", selection="[]")
        for name, document in (("mallory", report), ("alice", honest)):
            book.record(run, GradingKey(name, name, "b", 0, "g", "[]"), f"/class/{name}", document)
        rows = book.db.execute("SELECT problem_id, status, score FROM problem_results"
                               " WHERE status = 'review'").fetchall()
        gradings = book.latest()
    assert sorted(rows) == [("guard.euler", "review", 0.0), ("guard.kl", "review", 0.0)]
    assert [g.under_review for g in gradings] == [[], ["guard.kl", "guard.euler"]]
    table = {row[0]: row for row in csv.reader(io.StringIO(to_csv(gradings)))}
    assert table["submission"][-2:] == ["review", "error"] and table["mallory"][-2] == "guard.kl guard.euler"
    sheet = {row[0]: row for row in csv.reader(io.StringIO(to_gradescope_csv(gradings)))}
    assert sheet["mallory"][3:8] == ["", "5", "Review", "", ""] and sheet["alice"][3:6] == ["5", "5", "Graded"]
    canvas = {row[0]: row for row in csv.reader(io.StringIO(to_canvas_csv(gradings)))}
    assert canvas["mallory"][-1] == "" and canvas["alice"][-1] == "5"
    summary = summarize(gradings)
    assert summary.review == [("mallory", ["guard.kl", "guard.euler"])]
    console = Console(file=io.StringIO(), width=200)
    render_summary(summary, console)
    assert "mallory: guard.kl, guard.euler" in console.file.getvalue()
    assert "under review for tampering" in summary_html(summary)


def test_a_batch_names_the_submission_under_review_as_it_finishes(graded):
    from grader.batch import Outcome, Submission, outcome_line

    report = to_json(graded("gc_attack", GC_ATTACK), show_hidden=True)
    line = outcome_line(Outcome(Submission("mallory", Path("/class/mallory"), "dir", "h"), report=report), 1, 1)
    assert line.startswith("[1/1] mallory: 0/5 (0.0%) in ")
    assert line.endswith("; tampering suspected, withheld for review: guard.kl, guard.euler")


def test_tampering_during_an_import_that_then_fails_is_still_reported(graded):
    result = graded("tamper_then_raise", "import gc\ngc.get_objects()\nraise RuntimeError('no module today')\n")
    for entry in result.problems:
        assert (entry.status, entry.score, entry.withheld_score) == ("review", 0.0, 0.0)
        assert [f["what"] for f in entry.tampering if f["by"] == "monitor"] == [
            "used gc.get_objects (walking the garbage collector)"]
        assert all(q.status == "error" and "no module today" in q.message for q in entry.properties)


def test_a_student_sees_the_findings_but_not_the_withheld_score(graded):
    result = graded("gc_attack", GC_ATTACK)
    shown = visible(result)
    assert all(p.withheld_score is None and p.tampering for p in shown.problems)
    assert [p.withheld_score for p in visible(result, show_hidden=True).problems] == [1.0, 1.0]


# --- the reference of the real bank ---------------------------------------------------------------------


def test_the_reference_is_not_flagged_on_real_problems_with_gradients_and_callables(zygote):
    from grader.bank import default_bank_dir, default_reference_dir

    problems = select(load_bank(default_bank_dir()), ["divergences.kl_diag_normal_std", "score.langevin_step"])
    result = grade(default_reference_dir(), problems, reference_dir=default_reference_dir(), zygote=zygote)
    assert [(p.id, p.status, p.tampering) for p in result.problems] == [
        ("divergences.kl_diag_normal_std", "passed", []), ("score.langevin_step", "passed", [])]


# --- the static scan (grader process, source only) --------------------------------------------------------


def scanned(tmp_path: Path, source: str, name: str = "student", **others: str) -> list[tuple[str, str]]:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    for other, text in others.items():
        (tmp_path / f"{other}.py").write_text(textwrap.dedent(text))
    return [(found.what, found.where) for found in scan_submission(tmp_path, [name])[name]]


def test_the_scan_finds_imports_walks_and_patches(tmp_path):
    assert scanned(tmp_path, '''
        import ctypes
        import gc as collector
        import numpy as np
        import sys
        import torch
        from grader import harness
        from torch import nn

        torch.autograd.grad = None
        np.sum = len
        nn.Module.forward = None
        setattr(torch.Tensor, "detach", None)
        torch.__dict__["grad"] = None
        collector.get_objects()
        frame = sys._getframe(1).f_back
        torch.backends.cudnn.deterministic = True  # a setting, not a patch
        ''') == [
        ("imports ctypes", "student.py, line 2"),
        ("imports grader", "student.py, line 7"),
        ("assigns torch.autograd.grad", "student.py, line 10"),
        ("assigns numpy.sum", "student.py, line 11"),
        ("assigns torch.nn.Module.forward", "student.py, line 12"),
        ("sets an attribute of torch.Tensor", "student.py, line 13"),
        ("assigns into torch.__dict__", "student.py, line 14"),
        ("walks the garbage collector (gc.get_objects)", "student.py, line 15"),
        ("reads .f_back (frame or closure internals)", "student.py, line 16"),
        ("walks the frames (sys._getframe)", "student.py, line 16"),
    ]


def test_the_scan_follows_the_submissions_own_imports_and_passes_ordinary_code(tmp_path):
    assert scanned(tmp_path, '''
        import inspect
        import torch
        import torch.autograd
        from torch.func import grad, vmap
        import helpers

        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = torch.nn.Parameter(torch.ones(1))
        ''', helpers='''
        import gc
        gc.collect()
        walk = gc.get_referrers
        ''') == [("walks the garbage collector (gc.get_referrers)", "helpers.py, line 4")]
    (tmp_path / "helpers.py").write_text("import gc\ngc.collect()\n")
    assert scanned(tmp_path, "import inspect\nimport helpers\ninspect.signature(len)\n") == []


def test_the_scan_never_runs_the_code_and_survives_what_does_not_parse(tmp_path):
    marker = tmp_path / "ran"
    assert scanned(tmp_path, f"open({str(marker)!r}, 'w').write('x')\nimport ctypes\n") == [
        ("imports ctypes", "student.py, line 2")]
    assert not marker.exists()
    assert scanned(tmp_path, "def broken(:\n") == []
    assert scan_submission(tmp_path, ["absent"]) == {"absent": []}


def test_every_reply_of_a_worker_comes_with_a_checkpoint_of_its_monitor(zygote, write_module):
    worker = Worker(zygote, str(write_module("def kl(mu, logvar):\n    return mu\n")), "cpu", Limits())
    for _ in range(3):
        assert worker.request("ping", {}).meta["ok"]
    worker.close()
    assert (worker.monitor.secret is not None, worker.monitor.checkpoints, worker.reader.frames) == (True, 3, 3)
    assert worker.tampering() == []
    assert_no_workers(zygote)
