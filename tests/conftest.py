"""Shared fixtures of the engine's tests: one worker zygote for the whole session, helpers to write
tiny student modules, and checks that no process outlives the test that started it."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from grader.sandbox import Limits, Zygote
from grader.values import StudentModule
from grader.zygote import descendants, process_table

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
FIXTURE_BANK = FIXTURES / "bank"
FIXTURE_REFERENCE = FIXTURES / "reference"
FIXTURE_SUBMISSIONS = FIXTURES / "submissions"
SCHEMA_PATH = TESTS.parent / "grader" / "schemas" / "report.schema.json"


# Tests that overload the machine on purpose (busy processes on every core) would starve the tests that
# pytest-xdist runs beside them, whose small CPU budgets have wall-clock backstops only 5x longer: such a test
# holds this lock exclusively, every other test holds it shared.
MACHINE_LOCK = Path(tempfile.gettempdir()) / f"dgm-grader-tests-{os.getuid()}.lock"


@pytest.fixture(autouse=True)
def _machine_share(request):
    exclusive = request.node.get_closest_marker("overloads_machine") is not None
    with open(MACHINE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def tree_of(pid: int) -> set[int]:
    """Every live (or zombie) descendant of ``pid``."""
    return descendants({pid}, process_table())


def exists(pid: int) -> bool:
    """Whether ``pid`` names a process at all, zombies included (a zombie still holds its /proc entry)."""
    return os.path.exists(f"/proc/{pid}")


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(interval)


def assert_gone(pids, timeout: float = 5.0) -> None:
    """Every pid in ``pids`` has disappeared (killed and reaped), after a short grace period."""
    pids = {int(p) for p in pids}
    assert pids, "no pid was recorded: the test did not exercise what it means to"
    wait_until(lambda: not any(exists(p) for p in pids), timeout)
    alive = sorted(p for p in pids if exists(p))
    assert alive == [], f"processes left behind: {alive}"


def assert_no_workers(zygote: Zygote, timeout: float = 5.0) -> None:
    """The zygote has no child left: every worker and everything it started is gone."""
    wait_until(lambda: not tree_of(zygote.pid), timeout)
    assert tree_of(zygote.pid) == set(), "the zygote still has descendants"


def read_pids(text: str) -> set[int]:
    """Pids a spawning submission printed as ``spawned PID`` lines (workers cannot write files
    outside their scratch directory, which is gone after grading, so they report on stdout)."""
    return {int(match) for match in re.findall(r"^spawned (\d+)$", text, flags=re.MULTILINE)}


@pytest.fixture(scope="session")
def zygote():
    """One preloaded zygote for the session (starting one costs about 1.5 s)."""
    started = Zygote().start()
    try:
        yield started
    finally:
        pid = started.pid
        started.close()
        # Closing the control socket makes the zygote kill every worker and exit.
        assert wait_until(lambda: not exists(pid) or _is_zombie(pid), 10.0)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


@pytest.fixture
def write_module(tmp_path):
    """Write a student module (dedented source) into a fresh submission directory; returns the dir."""

    def write(source: str, name: str = "student") -> Path:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return tmp_path

    return write


@pytest.fixture
def make_student(zygote, write_module):
    """Build a loaded :class:`StudentModule` from source; closes it and checks that nothing is left."""
    made: list[StudentModule] = []

    def make(source: str, attributes=(), *, limits: Limits | None = None, load: bool = True,
             name: str = "student") -> StudentModule:
        folder = write_module(source, name)
        module = StudentModule(zygote, str(folder), name, list(attributes), "cpu", limits or Limits())
        made.append(module)
        if load:
            module.load()
        return module

    yield make
    for module in made:
        module.close()
    assert_no_workers(zygote)
