"""The Gradescope bundle: its layout, and its ``run_autograder`` run against a fake ``/autograder``
tree holding a correct, a buggy and a hostile submission, each writing a valid results.json with
the expected scores; a grader that cannot isolate the student refuses rather than grades."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.bank import REPO_ROOT
from grader.cli import EXIT_OK, EXIT_USAGE, main
from grader.gradescope import TORCH_CPU_INDEX, default_torch_version, submission_root
from grader.keys import fingerprint

SUBMISSIONS = REPO_ROOT / "submissions"
GRADESCOPE_SCHEMA = REPO_ROOT / "grader" / "schemas" / "gradescope.schema.json"


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """Two units of the real bank (the bundle takes one): independent of problems other work adds."""
    bank = tmp_path_factory.mktemp("bank")
    for unit in ("divergences", "logistic"):
        shutil.copytree(REPO_ROOT / "problems" / unit, bank / unit, ignore=shutil.ignore_patterns("__pycache__"))
    return bank


@pytest.fixture(scope="module")
def bundle(bank, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADE_BANK", str(bank))
        patch.setenv("GRADE_REFERENCE", str(REPO_ROOT / "reference"))
        assert main(["gradescope", "build", "--out", str(out), "--problem", "divergences"]) == EXIT_OK
    return out


def autograder_tree(bundle: Path, root: Path, submission: Path | None, *, nested: str | None = None) -> Path:
    """A fake /autograder: source/ (the unzipped bundle, as Gradescope lays it out), submission/,
    results/."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):  # zipfile does not restore modes
        (root / "source" / script).chmod(0o755)
    upload = root / "submission"
    if submission is None:
        upload.mkdir()
    else:
        shutil.copytree(submission, upload / nested if nested else upload,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (root / "results").mkdir()
    return root


def run_autograder(root: Path, *args: str, layers: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADE_")}
    env.update(AUTOGRADER_ROOT=str(root), GRADE_PYTHON=sys.executable)
    if layers is not None:
        env["GRADE_ISOLATION_LAYERS"] = layers
    return subprocess.run([str(root / "source" / "run_autograder"), *args], capture_output=True, text=True,
                          env=env, cwd=root / "submission", timeout=300)


def read_results(root: Path) -> dict:
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.Draft202012Validator(json.loads(GRADESCOPE_SCHEMA.read_text())).validate(results)
    # Gradescope's contract, whatever the schema file says: a score, and tests with scores and names
    assert isinstance(results["score"], (int, float))
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output"} <= test.keys()
        assert 0 <= test["score"] <= test["max_score"]
    assert sum(t["score"] for t in results["tests"]) == pytest.approx(results["score"])
    return results


def scores_by_problem(results: dict) -> dict[str, tuple[float, float]]:
    totals: dict[str, tuple[float, float]] = {}
    for test in results["tests"]:
        problem = test["name"].split(":")[0]
        score, maximum = totals.get(problem, (0.0, 0.0))
        totals[problem] = (score + test["score"], maximum + test["max_score"])
    return totals


# --- the bundle --------------------------------------------------------------------------------------


def test_bundle_holds_scripts_grader_and_only_the_selected_bank(bundle, bank, tmp_path):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        config = json.loads(archive.read("grade-config.json"))
        setup = archive.read("setup.sh").decode()
        secret = archive.read("grade-secret.txt").strip()
    assert {"setup.sh", "run_autograder", "grade-config.json", "grader-src/pyproject.toml",
            "grader-src/grader/cli.py", "grader-src/grader/gradescope.py", "bank/reference/divergences.py",
            "bank/problems/divergences/kl_normal/spec.py", "bank/problems/divergences/kl_mvn/mistakes.py"} <= set(names)
    assert not [n for n in names if "logistic" in n], "an unselected unit was bundled"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert [n for n in names if n.startswith("bank/reference/")] == ["bank/reference/divergences.py"]
    assert stat.S_IMODE(modes["run_autograder"]) == stat.S_IMODE(modes["setup.sh"]) == 0o755
    assert config == {"problems": ["divergences.kl_normal", "divergences.kl_mvn", "divergences.kl_diag_normal_std",
                                   "divergences.kl_categorical"],
                      "seed": 0, "device": "cpu", "require_isolation": "standard", "torch": default_torch_version(),
                      "secret_fingerprint": fingerprint(secret)}
    # a new random grading secret when none was given (students never see the bundle)
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert f'--index-url {TORCH_CPU_INDEX} "torch=={default_torch_version()}"' in setup
    for script in ("setup.sh", "run_autograder"):
        tree = tmp_path / script
        with zipfile.ZipFile(bundle) as archive:
            tree.write_bytes(archive.read(script))
        checked = subprocess.run(["bash", "-n", str(tree)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


def test_bundle_is_reproducible(bundle, bank, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADE_BANK", str(bank))
    monkeypatch.setenv("GRADE_REFERENCE", str(REPO_ROOT / "reference"))
    again = tmp_path / "again.zip"
    # with the same grading secret, the same bytes (the first build drew a new one)
    with zipfile.ZipFile(bundle) as archive:
        (tmp_path / "secret").write_bytes(archive.read("grade-secret.txt"))
    assert main(["gradescope", "build", "--out", str(again), "--problem", "divergences",
                 "--secret-file", str(tmp_path / "secret")]) == EXIT_OK
    assert again.read_bytes() == bundle.read_bytes()


def test_build_usage_errors(bank, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADE_BANK", str(bank))
    monkeypatch.setenv("GRADE_REFERENCE", str(REPO_ROOT / "reference"))
    assert main(["gradescope", "build", "--out", str(tmp_path)]) == EXIT_USAGE
    assert capsys.readouterr().err == f"grade: error: --out: {tmp_path} is a directory\n"
    assert main(["gradescope", "build", "--out", str(tmp_path / "a.zip"), "--problem", "nope"]) == EXIT_USAGE
    assert capsys.readouterr().err == "grade: error: unknown problem 'nope' (see `grade list`)\n"
    monkeypatch.setenv("GRADE_REFERENCE", str(tmp_path))
    assert main(["gradescope", "build", "--out", str(tmp_path / "a.zip"), "--problem", "logistic"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("grade: error: no reference for logistic: ") and len(err.splitlines()) == 1
    assert not (tmp_path / "a.zip").exists()
    assert main(["gradescope"]) == EXIT_USAGE
    assert "STEP" in capsys.readouterr().err


# --- run_autograder on a fake /autograder ------------------------------------------------------------


def test_run_autograder_gives_a_correct_submission_full_marks(bundle, tmp_path):
    root = autograder_tree(bundle, tmp_path / "autograder", SUBMISSIONS / "correct_divergences")
    completed = run_autograder(root)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    results = read_results(root)
    assert results["score"] == 40
    assert scores_by_problem(results) == {p: (10.0, 10.0) for p in (
        "divergences.kl_normal", "divergences.kl_mvn", "divergences.kl_diag_normal_std", "divergences.kl_categorical")}
    assert all(t["status"] == "passed" for t in results["tests"])
    assert "Total: 40/40" in completed.stdout  # the staff's view of the run (stdout)


def test_run_autograder_grades_a_buggy_submission_found_in_a_folder(bundle, tmp_path):
    # uploads made from a zip or a repository often put the modules one folder down
    root = autograder_tree(bundle, tmp_path / "autograder", SUBMISSIONS / "kl_normal-direction_swapped",
                           nested="hw1-alice")
    completed = run_autograder(root)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    results = read_results(root)
    assert results["score"] == 36
    assert scores_by_problem(results)["divergences.kl_normal"] == (6.0, 10.0)
    failed = sorted(t["name"] for t in results["tests"] if t["status"] == "failed")
    assert failed == ["divergences.kl_normal: kl_agrees_with_monte_carlo_estimate",
                      "divergences.kl_normal: kl_matches_reference"]
    assert "Graded the modules found in hw1-alice/ of the submission." in completed.stdout


@pytest.fixture(scope="module")
def minimal_bundle(bank, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "minimal.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADE_BANK", str(bank))
        patch.setenv("GRADE_REFERENCE", str(REPO_ROOT / "reference"))
        assert main(["gradescope", "build", "--out", str(out), "--problem", "divergences.kl_normal",
                     "--require-isolation", "minimal"]) == EXIT_OK
    return out


@pytest.mark.parametrize("level", ["standard", "minimal"])
def test_run_autograder_keeps_the_reference_and_results_out_of_reach(bundle, minimal_bundle, tmp_path, level):
    """At the level the bundle requires (standard: Landlock and seccomp, as in a container without
    user namespaces), a submission can neither read the reference nor write the results. At the
    minimal level it can: the reason the bundle requires standard unless told otherwise."""
    root = tmp_path / "autograder"
    targets = {"read": [root / "source" / "bank" / "reference" / "divergences.py",
                        root / "source" / "bank" / "problems" / "divergences" / "kl_normal" / "spec.py"],
               "write": [root / "results" / "results.json", root / "source" / "grader-src" / "grader" / "report.py"]}
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "divergences.py").write_text(f'''\
import torch

READ = {[str(p) for p in targets["read"]]!r}
WRITE = {[str(p) for p in targets["write"]]!r}


def reached():
    for path in READ:
        try:
            open(path).read()
            return True
        except OSError:
            pass
    for path in WRITE:
        try:
            with open(path, "w") as stream:
                stream.write('{{"score": 1000, "tests": []}}')
            return True
        except OSError:
            pass
    return False


def kl_normal(mu_q, sigma_q, mu_p, sigma_p):
    if reached():
        return torch.full(torch.broadcast_shapes(mu_q.shape, sigma_q.shape, mu_p.shape, sigma_p.shape), float("nan"))
    ratio = sigma_q / sigma_p
    return -torch.log(ratio) + 0.5 * (ratio**2 + ((mu_q - mu_p) / sigma_p) ** 2) - 0.5
''')
    if level == "minimal":
        autograder_tree(minimal_bundle, root, hostile)
        completed = run_autograder(root, layers="")
        assert completed.returncode == 0, completed.stderr + completed.stdout
        results = read_results(root)
        assert scores_by_problem(results)["divergences.kl_normal"][0] < 10  # it read the reference
        return
    autograder_tree(bundle, root, hostile)
    completed = run_autograder(root, layers="landlock,seccomp")
    assert completed.returncode == 0, completed.stderr + completed.stdout
    results = read_results(root)
    assert scores_by_problem(results)["divergences.kl_normal"] == (10.0, 10.0), \
        "the submission reached the reference or the results"
    assert results["score"] == 10  # the other three functions are missing
    assert "isolation standard" in results["output"]


def test_run_autograder_refuses_below_the_required_level(bundle, tmp_path):
    root = autograder_tree(bundle, tmp_path / "autograder", SUBMISSIONS / "correct_divergences")
    completed = run_autograder(root, layers="")
    assert completed.returncode == EXIT_USAGE
    assert completed.stderr.splitlines() == [
        "grade: error: isolation level 'minimal' reached, 'standard' required (the namespaces layer is disabled "
        "(GRADE_ISOLATION_LAYERS); the landlock layer is disabled (GRADE_ISOLATION_LAYERS); the seccomp layer is "
        "disabled (GRADE_ISOLATION_LAYERS))"]
    assert not (root / "results" / "results.json").exists()  # Gradescope shows "failed to grade", not a 0


def test_run_autograder_check_loads_the_bank(bundle, tmp_path):
    root = autograder_tree(bundle, tmp_path / "autograder", None)
    completed = run_autograder(root, "--check")
    assert completed.returncode == 0, completed.stderr
    first = completed.stdout.splitlines()[0]
    assert first.startswith("4 problems, ") and "isolation here: " in first and first.endswith("(required: standard)")


def test_run_autograder_never_imports_from_the_submission(bundle, tmp_path):
    """A student's ``grader`` package next to the working directory must not replace the grader."""
    student = tmp_path / "student"
    shutil.copytree(SUBMISSIONS / "correct_divergences", student, ignore=shutil.ignore_patterns("__pycache__"))
    (student / "grader").mkdir()
    (student / "grader" / "__init__.py").write_text("raise SystemExit('the student replaced the grader')\n")
    root = autograder_tree(bundle, tmp_path / "autograder", student)
    completed = run_autograder(root, "--check")
    assert completed.returncode == 0, completed.stderr
    assert "replaced" not in completed.stdout + completed.stderr


# --- where the modules are in an upload --------------------------------------------------------------


def test_submission_root(tmp_path):
    upload = tmp_path / "upload"
    (upload / "__MACOSX" / "hw").mkdir(parents=True)
    (upload / "__MACOSX" / "hw" / "divergences.py").write_text("")
    (upload / "hw" / "old").mkdir(parents=True)
    (upload / "hw" / "old" / "divergences.py").write_text("")
    (upload / "hw" / "divergences.py").write_text("")
    (upload / "hw" / "vae.py").write_text("")
    assert submission_root(upload, {"divergences", "vae"}) == upload / "hw"
    assert submission_root(upload, {"divergences"}) == upload / "hw"  # the shallowest of equals
    (upload / "vae.py").write_text("")
    assert submission_root(upload, {"divergences", "vae"}) == upload  # modules at the top: the upload itself
    assert submission_root(tmp_path / "empty", {"vae"}) == tmp_path / "empty"
