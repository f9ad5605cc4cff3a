"""Scratch copies of submissions never outlive the grader: Ctrl-C and SIGTERM unwind and remove them,
and after a SIGKILL the next ``grade`` command removes them, and nothing else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from grader import scratch
from grader.scratch import MARKER, ScratchDirectory, sweep_stale

from conftest import FIXTURE_BANK, FIXTURE_REFERENCE


def owner(**changes) -> dict:
    me = {"pid": os.getpid(), "start_time": scratch._start_time(os.getpid()), "pid_namespace": scratch._pid_namespace()}
    return {**me, **changes}


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def make(root, name, marker=None, raw: str | None = None):
    path = root / name
    path.mkdir()
    (path / "submission").mkdir()
    (path / "submission" / "student.py").write_text("x = 1\n")
    if raw is not None:
        (path / MARKER).write_text(raw)
    elif marker is not None:
        (path / MARKER).write_text(json.dumps(marker))
    return path


def test_only_directories_of_dead_owners_are_removed(tmp_path):
    dead = make(tmp_path, "grade-scratch-dead", owner(pid=dead_pid(), start_time=1))
    reused = make(tmp_path, "grade-batch-reused", owner(start_time=owner()["start_time"] + 1))  # our PID, not us
    live = make(tmp_path, "grade-scratch-live", owner())
    unmarked = make(tmp_path, "grade-scratch-unmarked")
    garbage = make(tmp_path, "grade-audit-garbage", raw="{not json")
    wrong_types = make(tmp_path, "grade-audit-types", owner(pid="1", start_time=None))
    other_namespace = make(tmp_path, "grade-scratch-elsewhere", owner(pid=dead_pid(), pid_namespace=12345))
    not_ours = make(tmp_path, "pytest-of-someone", owner(pid=dead_pid(), start_time=1))

    removed = sweep_stale(tmp_path)

    assert sorted(removed) == sorted([dead, reused])
    assert not dead.exists() and not reused.exists()
    for kept in (live, unmarked, garbage, wrong_types, other_namespace, not_ours):
        assert (kept / "submission" / "student.py").exists(), kept


def test_symbolic_links_and_files_are_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = make(elsewhere, "grade-scratch-precious", owner(pid=dead_pid(), start_time=1))
    (tmp_path / "grade-scratch-link").symlink_to(target, target_is_directory=True)
    (tmp_path / "grade-scratch-file").write_text(json.dumps(owner(pid=dead_pid())))
    inner = make(tmp_path, "grade-scratch-inner-link", raw="")
    (inner / MARKER).unlink()
    (inner / MARKER).symlink_to(target / MARKER)

    assert sweep_stale(tmp_path) == []
    assert (target / "submission" / "student.py").exists()
    assert (tmp_path / "grade-scratch-file").exists() and (inner / "submission").exists()


def test_scratch_directory_is_marked_as_ours_and_removed_on_exit(tmp_path):
    with ScratchDirectory("grade-scratch-", dir=tmp_path) as name:
        marker = json.loads((tmp_path / os.path.basename(name) / MARKER).read_text())
        assert marker == owner()
        assert sweep_stale(tmp_path) == []  # alive: kept
    assert list(tmp_path.iterdir()) == []


def test_a_missing_temporary_directory_sweeps_nothing(tmp_path):
    assert sweep_stale(tmp_path / "absent") == []


# --- through the command line ----------------------------------------------------------------------


def start_grading(tmp_path) -> subprocess.Popen:
    """``grade run`` on a submission whose import sleeps a minute (it uses no CPU, so only the load's
    150 s wall-clock backstop could end it sooner), with its own temporary directory; returns once its
    scratch copy exists, well inside the grading."""
    submission = tmp_path / "sleepy"
    submission.mkdir()
    (submission / "toy.py").write_text("import time\n\ntime.sleep(60)\n\n\ndef double(x):\n    return 2 * x\n")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary), "GRADE_BANK": str(FIXTURE_BANK),
           "GRADE_REFERENCE": str(FIXTURE_REFERENCE)}
    env.pop("GRADE_DEBUG", None)
    # A process started with SIGINT ignored keeps it ignored, as POSIX asks of background jobs (a CI
    # job launched with `&` runs this test so): give the command the disposition a terminal gives.
    process = subprocess.Popen([sys.executable, "-m", "grader", "run", str(submission)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not list(temporary.glob("grade-scratch-*/work")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no scratch directory appeared"
        time.sleep(0.05)
    time.sleep(0.5)  # inside the grading proper: importing the module, for the next minute
    return process


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"),
                                                (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_unwind_and_remove_the_scratch_copy(tmp_path, signum, code, word):
    process = start_grading(tmp_path)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert err.strip() == f"grade: {word}"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_after_a_sigkill_the_next_command_removes_the_copy(tmp_path):
    process = start_grading(tmp_path)
    process.kill()
    process.communicate(timeout=60)
    [left] = (tmp_path / "tmp").glob("grade-scratch-*")
    assert (left / "submission" / "toy.py").exists()  # a student's code, left behind in /tmp
    listed = subprocess.run([sys.executable, "-m", "grader", "list"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TMPDIR": str(tmp_path / "tmp"), "GRADE_BANK": str(FIXTURE_BANK)})
    assert listed.returncode == 0, listed.stderr
    assert not left.exists()
