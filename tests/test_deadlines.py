"""Deadlines that do not depend on the machine's load: a call's, a property's and a problem's budgets
count the worker's CPU seconds (read by the grader from /proc, never reported by the worker), and a
wall-clock backstop several times longer ends what uses no CPU. A busy machine must not change a
grade: a call that computes within its budget answers however long it waits for a core.

The plain infinite loop (ended at the CPU budget) and sleep (ended by the backstop) are in
test_sandbox.py; the load's CPU budget too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest

from grader import protocol
from grader.bank import REPO_ROOT, load_bank, select
from grader.runner import grade
from grader.sandbox import Limits, WorkerLost
from grader.values import Unavailable

BURNING = """
import os
import threading
import time


def burn(seconds):
    # CPU seconds of this process, not wall-clock ones: the same work however busy the machine is
    started = time.process_time()
    while time.process_time() - started < seconds:
        pass
    return 1.0


def nap(seconds):
    time.sleep(seconds)
    return 1.0


def spin():
    while True:
        pass


def spin_in_thread():
    worker = threading.Thread(target=spin, daemon=True)
    worker.start()
    worker.join()


def spin_in_child():
    child = os.fork()
    if child == 0:
        spin()
    os.waitpid(child, 0)
"""

ONE_S = Limits(call_timeout_s=1.0, load_timeout_s=10.0)


@contextmanager
def busy_cores(count: int = 8):
    """``count`` processes spinning on the machine's cores (2 here), killed however the block ends.

    Each in a session of its own, as other users' jobs or other graders' workers are: with the
    kernel's autogroup scheduling, processes sharing one session also share one session's share of
    the CPU, and 8 spinners started from the test's own session would slow a worker down no more
    than one."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
                for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


# --- one call ---------------------------------------------------------------------------------------


@pytest.mark.overloads_machine
def test_overloaded_call_that_computes_within_its_cpu_budget_answers(make_student):
    # 0.3 s of CPU under a 0.5 s CPU budget; the backstop (20x) is out of the way.
    student = make_student(BURNING, limits=Limits(call_timeout_s=0.5, load_timeout_s=10.0, wall_backstop_factor=20.0))
    with busy_cores(8):
        started = time.monotonic()
        assert student.burn(0.3) == 1.0
        waited, charged = time.monotonic() - started, student._worker.call_cpu_s
        # The same work under a wall-clock deadline of the budget's size (what every deadline used
        # to be) is killed: it waits for a core far longer than it computes.
        worker = student._worker
        with pytest.raises(WorkerLost) as lost:
            worker.request("call", {"name": "burn", "args": (0.3,), "kwargs": {}}, timeout=0.5, backstop=0.5)
    assert waited > 0.5, f"8 busy processes did not slow the call down ({waited:.2f} s)"
    assert 0.29 <= charged < 0.5, charged
    assert lost.value.kind == "timeout"
    assert re.fullmatch(r"the wall-clock backstop of 0\.5 s ended the call \(the worker got 0\.\d\d s of CPU in "
                        r"0\.5 s, \d+% of a core: is the machine overloaded\?\); the worker was killed",
                        lost.value.detail), lost.value.detail


def test_cpu_of_every_thread_counts(make_student):
    # The call itself only waits (join); a thread it started computes.
    student = make_student(BURNING, limits=ONE_S)
    started = time.monotonic()
    with pytest.raises(WorkerLost) as lost:
        student.spin_in_thread()
    assert lost.value.kind == "timeout"
    assert lost.value.detail.startswith("no answer within the 1 s CPU budget"), lost.value.detail
    assert time.monotonic() - started < 5  # the CPU budget, not the 5 s backstop


def test_cpu_of_a_process_the_worker_started_counts(make_student, zygote):
    # The worker waits for its child (no CPU of its own); the child computes. Found by scanning /proc.
    student = make_student(BURNING, limits=replace(ONE_S, allow_subprocesses=True))
    started = time.monotonic()
    with pytest.raises(WorkerLost) as lost:
        student.spin_in_child()
    assert lost.value.kind == "timeout"
    assert lost.value.detail.startswith("no answer within the 1 s CPU budget"), lost.value.detail
    assert time.monotonic() - started < 5


def test_a_prompt_answer_is_charged_its_cpu(make_student):
    student = make_student(BURNING, limits=ONE_S)
    student.burn(0.2)
    assert 0.19 <= student._worker.call_cpu_s < 0.5, student._worker.call_cpu_s
    student.nap(0.2)
    assert student._worker.call_cpu_s < 0.05, student._worker.call_cpu_s


# --- a property's and a problem's budgets ------------------------------------------------------------


def test_property_budget_sums_the_cpu_of_its_calls_not_the_graders_time(make_student):
    student = make_student(BURNING, limits=ONE_S)
    student.start_property(0.5)
    assert student.burn(0.3) == 1.0
    time.sleep(0.6)  # the grader's own work between calls (its wall-clock backstop here is 2.5 s)
    assert student.burn(0.1) == 1.0  # 0.4 s of CPU so far: the 0.6 s the grader took cost nothing
    with pytest.raises(WorkerLost) as lost:
        student.burn(0.3)  # 0.1 s of the property's budget left
    assert lost.value.kind == "timeout"
    assert re.fullmatch(r"the property's CPU budget of 0\.5 s ran out during the call \(its calls used 0\.\d\d s "
                        r"of CPU\); the worker was killed", lost.value.detail), lost.value.detail
    with pytest.raises(WorkerLost) as lost:
        student.burn(0.01)
    assert re.fullmatch(r"the property used up its CPU budget of 0\.5 s \(its calls used 0\.\d\d s of CPU\)",
                        lost.value.detail), lost.value.detail
    student.start_property(0.5)  # the next property starts afresh
    assert student.burn(0.01) == 1.0


def test_property_wall_clock_backstop_ends_calls_that_sleep(make_student):
    student = make_student(BURNING, limits=ONE_S)  # each call's own backstop: 5 s
    student.start_property(0.2)  # backstop 5 x 0.2 = 1 s
    started = time.monotonic()
    with pytest.raises(WorkerLost) as lost:
        for _ in range(5):
            student.nap(0.3)
    assert 1.0 <= time.monotonic() - started < 3
    assert re.fullmatch(r"the property's wall-clock backstop of 1 s ended the call \(its calls used only 0\.0\d s "
                        r"of CPU: were they sleeping or waiting\?\); the worker was killed",
                        lost.value.detail), lost.value.detail
    with pytest.raises(WorkerLost, match=r"^the property ran past its wall-clock backstop of 1 s \(its calls used "
                                         r"only 0\.0\d s of CPU: were they sleeping or waiting\?\)$"):
        student.nap(0.0)


def test_problem_budget_sums_the_cpu_of_every_call_and_worker(make_student):
    student = make_student(BURNING, limits=replace(ONE_S, problem_budget_s=0.5))
    assert student.burn(0.3) == 1.0
    with pytest.raises(WorkerLost) as lost:
        student.burn(0.3)
    assert re.fullmatch(r"the problem's CPU budget of 0\.5 s ran out during the call \(its calls used 0\.\d\d s "
                        r"of CPU\); the worker was killed", lost.value.detail), lost.value.detail
    with pytest.raises(WorkerLost, match=r"^the problem used up its CPU budget of 0\.5 s"):
        student.start_property(60.0)  # a new property does not refill the problem's budget
        student.burn(0.01)


def test_an_import_that_sleeps_ends_at_the_load_backstop(make_student):
    started = time.monotonic()
    with pytest.raises(Unavailable) as unavailable:
        make_student("import time\n\ntime.sleep(100)\n", ["f"],
                     limits=Limits(load_timeout_s=0.5, wall_backstop_factor=2.0))
    assert re.fullmatch(r"importing student\.py failed: the wall-clock backstop of 1 s ended the call \(the worker "
                        r"used only 0\.0\d s of CPU: was it sleeping or waiting\?\); the worker was killed",
                        str(unavailable.value)), str(unavailable.value)
    assert 1.0 <= time.monotonic() - started < 3


# --- the reader's poll hook ----------------------------------------------------------------------------


def test_the_poll_runs_while_bytes_trickle_in_and_can_abandon_the_read():
    # A peer that sends a frame one byte at a time never lets select time out: the poll still runs.
    read_fd, write_fd = os.pipe()
    stop = threading.Event()

    def trickle():
        os.write(write_fd, (1 << 16).to_bytes(4, "little"))  # a 64 KiB header, never finished
        while not stop.wait(0.01):
            os.write(write_fd, b" ")

    class Enough(Exception):
        pass

    polls: list[float] = []

    def poll():
        polls.append(time.monotonic())
        if len(polls) == 4:
            raise Enough

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(Enough):
            protocol.FrameReader(read_fd).read(deadline=started + 10, poll=poll, poll_interval_s=0.05)
        assert 0.15 <= time.monotonic() - started < 2
        assert np.all(np.diff(polls) >= 0.045)
    finally:
        stop.set()
        thread.join(timeout=5)
        os.close(read_fd)
        os.close(write_fd)


# --- the real bank ---------------------------------------------------------------------------------------


@pytest.mark.overloads_machine
def test_reference_keeps_full_marks_for_fit_exclusive_gaussian_on_a_busy_machine(zygote):
    # The bank's slowest problem (multi-start optimisations in the worker and in the grader), graded
    # with the bank's own limits while 8 processes spin on the cores.
    problems = select(load_bank(), ["vi.fit_exclusive_gaussian"])
    reference = REPO_ROOT / "reference"
    with busy_cores(8):
        result = grade(reference, problems, reference_dir=reference, zygote=zygote, seed=1)
    [problem] = result.problems
    assert problem.score == problem.max_score == 10, [
        (q.name, q.status, q.message) for q in problem.properties if q.status != "passed"]
