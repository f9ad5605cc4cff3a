"""The sandbox against tiny hostile student modules: every way a worker can misbehave (exit, hang,
segfault, flood, leak processes, raise, return ungradable objects) costs the call, never the grader,
and leaves no process behind; the harness (callables, generators, modules, gradients) works."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.sandbox import Limits, Worker, WorkerLost, Zygote
from grader.spec import generator, harness_callable
from grader.values import StudentError, StudentModule, Unavailable

from conftest import assert_gone, assert_no_workers, read_pids, tree_of, wait_until

FAST = Limits(call_timeout_s=1.0, load_timeout_s=10.0)
# Its hanging case sleeps: a short backstop keeps it quick.
SPAWNING = Limits(call_timeout_s=1.0, load_timeout_s=10.0, allow_subprocesses=True, wall_backstop_factor=2.0)


def worker_pid(student: StudentModule) -> int:
    return student._worker.pid


# --- normal calls ---------------------------------------------------------------------------------

PLAIN = """
import numpy as np
import torch

def f32(x):
    return (2 * x).to(torch.float32)

def ints(n):
    return torch.arange(n)

def flags(x):
    return x > 0

def pair(x):
    return x + 1, (x * 2).to(torch.float16)

def number():
    return 1.25

def integer():
    return 7

def nothing():
    return None

def numpy_array():
    return np.arange(3, dtype=np.uint8)

def bf16(x):
    return x.to(torch.bfloat16)

def keywords(x, *, scale=1.0):
    return x * scale

def argument_types(*args, **kwargs):
    return float(all(isinstance(a, torch.Tensor) and a.dtype == torch.float64 for a in args)
                 and isinstance(kwargs["n"], int) and kwargs["s"] == "text")
"""


def test_normal_calls_return_plain_float64_numpy(make_student):
    student = make_student(PLAIN)
    x = np.array([-1.0, 0.5, 2.0])
    out = student.f32(x)
    assert type(out) is np.ndarray and out.dtype == np.float64
    np.testing.assert_array_equal(out, 2 * x)
    ints = student.ints(4)
    assert ints.dtype == np.int64 and ints.tolist() == [0, 1, 2, 3]
    flags = student.flags(x)
    assert flags.dtype == np.bool_ and flags.tolist() == [False, True, True]
    a, b = student.pair(x)
    assert a.dtype == b.dtype == np.float64
    np.testing.assert_array_equal(a, x + 1)
    np.testing.assert_array_equal(b, 2 * x)
    number = student.number()
    assert isinstance(number, np.ndarray) and number.dtype == np.float64 and number.shape == () and number == 1.25
    assert student.integer() == 7
    assert student.nothing() is None
    assert student.numpy_array().dtype == np.int64
    assert student.bf16(np.array([1.0, 0.5])).dtype == np.float64
    np.testing.assert_array_equal(student.keywords(x, scale=3.0), 3 * x)
    # arrays arrive as float64 tensors, plain values as they are
    assert student.argument_types(x, np.zeros(2), n=3, s="text") == 1.0
    assert student.callable_calls() == []


def test_same_worker_serves_consecutive_calls(make_student):
    student = make_student(PLAIN)
    pid = worker_pid(student)
    for n in range(5):
        assert student.ints(n).tolist() == list(range(n))
    assert worker_pid(student) == pid


# --- a worker that dies, hangs or floods ------------------------------------------------------------

HOSTILE = """
import ctypes
import os
import sys
import time
import torch

def fine(x):
    return x * 2

def exit_now(code):
    os._exit(code)

def spin():
    while True:
        pass

def sleep_forever():
    time.sleep(10_000)

def segfault():
    return ctypes.string_at(0)

def kill_self():
    import signal
    os.kill(os.getpid(), signal.SIGKILL)

def print_forever():
    while True:
        print("flood " * 100)

def huge_write(n):
    sys.stdout.write("y" * n)
    sys.stderr.write("z" * n)
    sys.stdout.flush()
    return torch.ones(1)

def huge_reply(n):
    return torch.zeros(n)
"""


def test_exit_mid_call_is_a_crash_and_a_fresh_worker_serves_next(make_student):
    student = make_student(HOSTILE, limits=FAST)
    first = worker_pid(student)
    with pytest.raises(WorkerLost) as lost:
        student.exit_now(3)
    assert lost.value.kind == "crash"
    assert "exited with status 3" in lost.value.detail
    assert student._worker is None or not student._worker.alive
    np.testing.assert_array_equal(student.fine(np.ones(2)), [2.0, 2.0])
    assert worker_pid(student) != first


def test_exit_with_status_zero_is_still_a_crash(make_student):
    student = make_student(HOSTILE, limits=FAST)
    with pytest.raises(WorkerLost) as lost:
        student.exit_now(0)
    assert lost.value.kind == "crash" and "exited with status 0" in lost.value.detail


def test_infinite_loop_ends_at_the_cpu_budget_and_a_sleep_at_the_wall_clock_backstop(make_student):
    spinning = make_student(HOSTILE, limits=FAST)
    started = time.monotonic()
    with pytest.raises(WorkerLost) as lost:
        spinning.spin()
    assert lost.value.kind == "timeout"
    assert re.fullmatch(r"no answer within the 1 s CPU budget \(the worker used 1\.\d s of CPU\); "
                        r"the worker was killed", lost.value.detail), lost.value.detail
    assert 0.9 <= time.monotonic() - started < 5  # the CPU budget, well before the 5 s backstop
    np.testing.assert_array_equal(spinning.fine(np.ones(1)), [2.0])
    # A sleep uses no CPU: only the backstop (here 2x the call's budget, for speed) ends it.
    sleeping = make_student(HOSTILE, limits=Limits(call_timeout_s=1.0, load_timeout_s=10.0, wall_backstop_factor=2.0))
    started = time.monotonic()
    with pytest.raises(WorkerLost) as lost:
        sleeping.sleep_forever()
    assert lost.value.kind == "timeout"
    assert re.fullmatch(r"the wall-clock backstop of 2 s ended the call \(the worker used only 0\.0\d s of CPU: "
                        r"was it sleeping or waiting\?\); the worker was killed", lost.value.detail), lost.value.detail
    assert 2.0 <= time.monotonic() - started < 5


def test_segfault_is_a_crash_with_its_signal(make_student):
    student = make_student(HOSTILE, limits=FAST)
    with pytest.raises(WorkerLost) as lost:
        student.segfault()
    assert lost.value.kind == "crash"
    assert "SIGSEGV" in lost.value.detail
    with pytest.raises(WorkerLost) as lost:
        student.kill_self()
    assert lost.value.kind == "crash" and "SIGKILL" in lost.value.detail
    np.testing.assert_array_equal(student.fine(np.ones(1)), [2.0])


def test_output_flood_is_capped_and_bounded_in_time(zygote, write_module):
    folder = write_module(HOSTILE)
    limits = Limits(call_timeout_s=1.0, output_bytes=4096)
    worker = Worker(zygote, str(folder), "cpu", limits)
    try:
        assert worker.request("load", {"module": "student", "attributes": ["print_forever"]}).meta["ok"]
        started = time.monotonic()
        with pytest.raises(WorkerLost) as lost:
            worker.request("call", {"name": "print_forever", "args": (), "kwargs": {}})
        assert lost.value.kind == "timeout"
        assert time.monotonic() - started < 10
    finally:
        worker.close()
    assert len(worker.output.kept) == 4096
    assert worker.output.dropped > 0
    text = worker.captured_output()
    assert text.startswith("flood flood")
    assert f"[... {worker.output.dropped} more bytes of output dropped]" in text
    assert len(text) < 4096 + 100
    assert_no_workers(zygote)


def test_huge_single_write_is_capped_and_the_call_still_answers(make_student):
    limits = Limits(call_timeout_s=20.0, output_bytes=10_000)
    student = make_student(HOSTILE, limits=limits)
    started = time.monotonic()
    np.testing.assert_array_equal(student.huge_write(20_000_000), [1.0])
    assert time.monotonic() - started < 15
    student.close()
    [text] = student.outputs
    kept, _, note = text.partition("\n[... ")
    assert len(kept) == 10_000 and set(kept) == {"y"}
    assert note == f"{2 * 20_000_000 - 10_000} more bytes of output dropped]"


def test_oversized_reply_kills_the_worker(make_student):
    limits = Limits(call_timeout_s=10.0, max_frame_bytes=1 << 20)
    student = make_student(HOSTILE, limits=limits)
    assert student.huge_reply(1000).shape == (1000,)
    first = worker_pid(student)
    started = time.monotonic()
    with pytest.raises(WorkerLost) as lost:
        student.huge_reply(1_000_000)  # 4 MB of float32, above the 1 MiB cap
    assert lost.value.kind == "protocol"
    assert "exceeds" in lost.value.detail
    assert time.monotonic() - started < 10
    assert student.huge_reply(10).shape == (10,)
    assert worker_pid(student) != first


def test_calls_after_a_loss_on_a_closed_worker_raise(zygote, write_module):
    folder = write_module(HOSTILE)
    worker = Worker(zygote, str(folder), "cpu", FAST)
    worker.request("load", {"module": "student", "attributes": []})
    with pytest.raises(WorkerLost):
        worker.request("call", {"name": "exit_now", "args": (5,), "kwargs": {}})
    assert not worker.alive
    assert worker.close()["code"] == 5  # idempotent, and remembers how it ended
    with pytest.raises(WorkerLost, match="gone"):
        worker.request("call", {"name": "fine", "args": (np.ones(1),), "kwargs": {}})


# --- processes the student starts -------------------------------------------------------------------

SPAWNER = """
import os
import subprocess
import sys
import time

def record(pid):
    print(f"spawned {pid}", flush=True)

def spawn(then):
    child = subprocess.Popen(["sleep", "1000"], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    record(child.pid)
    # a classic daemon: fork, new session, fork again, the middle process exits at once
    reader, writer = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            os.close(reader)
            os.write(writer, b"ok")
            while True:
                time.sleep(1000)
        record(grandchild)
        os._exit(0)
    os.waitpid(middle, 0)
    os.close(writer)
    os.read(reader, 2)  # the grandchild is running
    if then == "exit":
        os._exit(1)
    if then == "hang":
        while True:
            time.sleep(1)
    return 1.0
"""


@pytest.mark.parametrize("then", ["return", "exit", "hang"])
def test_detached_descendants_die_with_the_worker(make_student, zygote, then):
    student = make_student(SPAWNER, limits=SPAWNING)
    if then == "return":
        assert student.spawn(then) == 1.0
        deadline = time.monotonic() + 5
        while len(read_pids(student._worker.captured_output())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the drain thread reads the worker's output concurrently
        pids = read_pids(student._worker.captured_output())
        assert len(pids) == 2
        assert all(os.path.exists(f"/proc/{p}") for p in pids)  # alive while the worker lives
        student.close()
    else:
        started = time.monotonic()
        with pytest.raises(WorkerLost) as lost:
            student.spawn(then)
        elapsed = time.monotonic() - started
        assert elapsed < 10
        if then == "hang":
            assert lost.value.kind == "timeout"
        else:
            # the daemon still holds the socket, so the connection never ends; the grader's CPU poll
            # sees the worker gone (a zombie) before the 2 s backstop, and reports the crash it was
            assert lost.value.kind == "crash"
            assert "exited with status 1" in lost.value.detail
            assert elapsed < 2.0
        student.close()
        pids = read_pids("".join(student.outputs))
        assert len(pids) == 2
    assert_gone(pids)
    assert_no_workers(zygote)


def test_creating_processes_is_denied_unless_the_problem_allows_it(make_student, zygote):
    if not zygote.isolation.get("seccomp"):
        pytest.skip("seccomp is not available here")
    student = make_student(SPAWNER, limits=FAST)
    with pytest.raises(StudentError, match="PermissionError"):
        student.spawn("return")
    assert read_pids("".join(student.outputs)) == set()


# --- exceptions -------------------------------------------------------------------------------------

RAISING = """
import sys

class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no printing for you")

class WeirdName(Exception):
    pass

def value_error():
    raise ValueError("sigma must be positive")

def system_exit():
    sys.exit(4)

def keyboard_interrupt():
    raise KeyboardInterrupt

def unprintable():
    raise Unprintable()

def nested():
    def inner():
        return 1 / 0
    return inner()

def recursion():
    return recursion()

def fine():
    return 1.0
"""


@pytest.mark.parametrize("name,expected", [
    ("value_error", "value_error raised ValueError: sigma must be positive"),
    ("system_exit", "system_exit raised SystemExit: 4"),
    ("keyboard_interrupt", "keyboard_interrupt raised KeyboardInterrupt"),
    ("unprintable", "unprintable raised Unprintable: <unprintable: RuntimeError while formatting>"),
    ("nested", "nested raised ZeroDivisionError: division by zero"),
    ("recursion", "recursion raised RecursionError"),
])
def test_exceptions_become_errors_and_the_worker_survives(make_student, name, expected):
    student = make_student(RAISING)
    pid = worker_pid(student)
    with pytest.raises(StudentError) as error:
        getattr(student, name)()
    assert str(error.value).startswith(expected)
    assert student.fine() == 1.0
    assert worker_pid(student) == pid


def test_tracebacks_show_only_student_frames(make_student):
    student = make_student(RAISING)
    with pytest.raises(StudentError) as error:
        student.nested()
    text = str(error.value)
    assert "student.py" in text and "inner" in text
    assert "worker.py" not in text and "harness.py" not in text  # the engine's frames are not shown


def test_unknown_function_and_dunder_access_are_refused(make_student):
    student = make_student(RAISING)
    with pytest.raises(StudentError, match="no_such_function"):
        student.no_such_function()
    with pytest.raises(StudentError, match="dunder"):
        student.call("__class__")
    assert student.fine() == 1.0


# --- values that cannot be graded -------------------------------------------------------------------

UNGRADABLE = """
import numpy as np
import torch

class Evil(torch.Tensor):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __bool__(self):
        return True

class Sneaky(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return object()

class Raising(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("gotcha")

class Anything:
    def __eq__(self, other):
        return True

def object_array():
    return np.array([Anything(), 1], dtype=object)

def complex_tensor():
    return torch.ones(3, dtype=torch.complex64)

def a_dict():
    return {"value": torch.ones(2)}

def an_object():
    return Anything()

def a_string():
    return "42"

def evil_tensor():
    return torch.tensor([1.0, 2.0]).as_subclass(Evil)

def sneaky_tensor():
    return torch.tensor([1.0, 2.0]).as_subclass(Sneaky)

def raising_tensor():
    return torch.tensor([1.0]).as_subclass(Raising)

def tuple_with_object():
    return torch.ones(1), Anything()

def fine():
    return 1.0
"""


@pytest.mark.parametrize("name,expected", [
    ("object_array", "cannot be graded: object arrays cannot be graded"),
    ("complex_tensor", "cannot be graded: complex tensors cannot be graded"),
    ("an_object", "cannot be graded: values of type Anything cannot cross the boundary"),
    ("tuple_with_object", "cannot be graded: values of type Anything cannot cross the boundary"),
    ("sneaky_tensor", "returned a value that cannot be graded"),
    ("raising_tensor", "cannot be graded: gotcha"),
    ("a_dict", "returned a value of type dict, expected a tensor, array or number"),
    ("a_string", "returned a value of type str, expected a tensor, array or number"),
])
def test_ungradable_values_are_refused(make_student, name, expected):
    student = make_student(UNGRADABLE)
    pid = worker_pid(student)
    with pytest.raises(StudentError) as error:
        getattr(student, name)()
    assert str(error.value).startswith(name)
    assert expected in str(error.value)
    assert student.fine() == 1.0
    assert worker_pid(student) == pid


def test_tensor_subclass_comes_back_as_plain_numbers(make_student):
    student = make_student(UNGRADABLE)
    out = student.evil_tensor()
    assert type(out) is np.ndarray and out.dtype == np.float64
    assert out.tolist() == [1.0, 2.0]
    assert not (out == np.array([5.0, 5.0])).any()  # no student __eq__ reached the grader


# --- loading --------------------------------------------------------------------------------------


def test_missing_module_is_unavailable(make_student):
    student = make_student("x = 1\n", ["f"], name="other", load=False)
    student._module = "student"
    with pytest.raises(Unavailable, match=r"the submission has no student\.py"):
        student.load()


def test_module_raising_on_import_is_unavailable(make_student):
    source = "import torch\nraise RuntimeError('broken on purpose')\n"
    with pytest.raises(Unavailable, match=r"importing student\.py raised RuntimeError: broken on purpose"):
        make_student(source, ["f"])


@pytest.mark.parametrize("source,expected", [
    ("def f(:\n", r"importing student\.py raised SyntaxError"),
    ("import no_such_package_anywhere\n", r"raised ModuleNotFoundError: No module named 'no_such_package_anywhere'"),
    ("import sys\nsys.exit(2)\n", r"raised SystemExit: 2"),
    ("import os\nos._exit(9)\n", r"importing student\.py failed: .*exited with status 9"),
])
def test_import_failures_of_every_kind_are_unavailable(make_student, source, expected):
    with pytest.raises(Unavailable, match=expected):
        make_student(source, ["f"])


def test_import_that_hangs_is_unavailable_after_the_load_deadline(make_student):
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"importing student\.py failed: no answer within the 1 s CPU budget"):
        make_student("while True:\n    pass\n", ["f"], limits=Limits(load_timeout_s=1.0))
    assert time.monotonic() - started < 10


def test_missing_attribute_is_unavailable(make_student):
    with pytest.raises(Unavailable, match=r"student\.py does not define g, h"):
        make_student("def f(x):\n    return x\n", ["f", "g", "h"])


@pytest.mark.parametrize("name", ["numpy", "torch", "grader"])
def test_module_named_like_a_preloaded_package_is_not_mistaken_for_the_submission(make_student, name):
    # the worker already imported these: the student's file of the same name is not what loads, and
    # the engine must say so rather than grade the real package (or its own code)
    with pytest.raises(Unavailable, match=rf"{name} did not resolve to the submission's {name}\.py"):
        make_student("def f(x):\n    return x\n", ["f"], name=name)


# --- the worker's environment -----------------------------------------------------------------------

ENVIRONMENT = """
import os
import torch

def has(name):
    return name in os.environ

def threads():
    return torch.get_num_threads(), int(os.environ.get("OMP_NUM_THREADS", "0"))

def limit(name):
    import resource
    return resource.getrlimit(getattr(resource, name))[0]
"""


def test_grader_secrets_are_not_visible_to_the_worker(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    (tmp_path / "student.py").write_text(ENVIRONMENT)
    with Zygote() as own:
        student = StudentModule(own, str(tmp_path), "student", ["has"], "cpu", Limits())
        try:
            student.load()
            assert bool(student.has("SECRET_TOKEN")) is False
            assert bool(student.has("PATH")) is True
        finally:
            student.close()


def test_worker_runs_single_threaded_under_rlimits(make_student):
    limits = Limits(memory_bytes=3 << 30, open_files=100, cpu_seconds=123)
    student = make_student(ENVIRONMENT, limits=limits)
    torch_threads, omp = student.threads()
    assert int(torch_threads) == 1 and int(omp) == 1
    assert int(student.limit("RLIMIT_AS")) == 3 << 30
    assert int(student.limit("RLIMIT_NOFILE")) == 100
    assert int(student.limit("RLIMIT_CPU")) == 123
    assert int(student.limit("RLIMIT_CORE")) == 0


def test_worker_writes_no_bytecode_into_the_submission(make_student):
    student = make_student(PLAIN)
    assert student.number() == 1.25
    assert not (Path(student._submission) / "__pycache__").exists()


def test_rlimits_per_device():
    limits = Limits()
    assert limits.rlimits("cpu")["RLIMIT_AS"] == limits.memory_bytes
    assert "RLIMIT_AS" not in limits.rlimits("cuda")
    for device in ("cpu", "cuda"):
        assert {"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"} <= set(limits.rlimits(device))


# --- the harness ------------------------------------------------------------------------------------

HARNESS = """
import torch
from torch import nn

def integrate(field, x, n):
    dt = 1.0 / n
    for i in range(n):
        x = x + dt * field(x, i * dt)
    return x

def call_twice(f, g, x):
    return f(x, 0.0) + g(x) + f(x, 1.0)

def draw(g, n):
    assert isinstance(g, torch.Generator), type(g)
    return torch.randn(n, generator=g, dtype=torch.float64)

def square_sum(x, w):
    return (w * x ** 2).sum(-1)

def detached(x):
    return (x ** 2).detach()

def as_float(x):
    return float((x ** 2).sum())

class Affine(nn.Module):
    def __init__(self, d, *, bias=True):
        super().__init__()
        self.linear = nn.Linear(d, 1, bias=bias)

    def forward(self, x):
        return self.linear(x).squeeze(-1)

    def is_float64(self):
        return self.linear.weight.dtype == torch.float64

    def name(self):
        return "affine"

class NoParameters(nn.Module):
    def forward(self, x):
        return x
"""


def test_harness_callable_counts_calls(make_student):
    student = make_student(HARNESS)
    A, b = np.array([[0.0, 1.0], [-1.0, 0.0]]), np.array([0.5, 0.0])
    field = harness_callable("linear_field", A=A, b=b)
    x = np.ones((3, 2))
    for n in (1, 7):
        out = student.integrate(field, x, n)
        assert student.callable_calls() == [n]
        expected = x.copy()
        for _ in range(n):
            expected = expected + (expected @ A.T + b) / n
        np.testing.assert_allclose(out, expected, rtol=1e-12)
    score = harness_callable("gaussian_score", mean=np.zeros(2), var=2.0)
    student.call_twice(field, score, x)
    assert student.callable_calls() == [2, 1]  # one count per callable, in argument order


def test_unknown_harness_callable_is_a_bad_request(make_student):
    student = make_student(HARNESS)
    with pytest.raises(StudentError, match="unknown harness callable 'eval'"):
        student.integrate(harness_callable("eval", code="1"), np.ones(2), 1)


def test_generator_arrives_as_a_seeded_torch_generator(make_student):
    student = make_student(HARNESS)
    out = student.draw(generator(1234), 5)
    expected = torch.randn(5, generator=torch.Generator().manual_seed(1234), dtype=torch.float64).numpy()
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(student.draw(generator(1234), 5), out)
    assert not np.array_equal(student.draw(generator(1235), 5), out)


def test_constructed_module_lives_in_the_worker(make_student):
    student = make_student(HARNESS)
    module = student.construct("Affine", 3)
    assert bool(module.is_float64())  # moved to float64 on construction
    with pytest.raises(StudentError, match="Affine.name returned a value of type str"):
        module.name()
    assert module.redraw_parameters(seed=7, std=0.5) == 4
    g = torch.Generator().manual_seed(7)
    weight = torch.randn((1, 3), generator=g, dtype=torch.float64) * 0.5
    bias = torch.randn((1,), generator=g, dtype=torch.float64) * 0.5
    x = np.random.default_rng(0).standard_normal((5, 3))
    out = module.forward(x)
    assert out.dtype == np.float64 and out.shape == (5,)
    np.testing.assert_allclose(out, (torch.from_numpy(x) @ weight.T + bias).squeeze(-1).numpy(), rtol=1e-12)
    # a second object gets its own handle
    other = student.construct("Affine", 2, bias=False)
    assert other.redraw_parameters(seed=1) == 2
    assert module.forward(x).shape == (5,)
    with pytest.raises(StudentError, match="no registered parameters"):
        student.construct("NoParameters").redraw_parameters(seed=0)


def test_gradient_requests(make_student):
    student = make_student(HARNESS)
    x = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])
    w = np.array([1.0, 2.0, 3.0])
    value, (gx,) = student.grad("square_sum", x, w, wrt=[0])
    np.testing.assert_allclose(value, (w * x**2).sum(-1))
    np.testing.assert_allclose(gx, 2 * w * x)
    value, (gx, gw) = student.grad("square_sum", x, w, wrt=[0, 1], cotangent=np.array([1.0, -1.0]))
    np.testing.assert_allclose(gw, x[0] ** 2 - x[1] ** 2)
    np.testing.assert_allclose(gx, 2 * w * x * np.array([[1.0], [-1.0]]))


@pytest.mark.parametrize("name", ["detached", "as_float"])
def test_detached_output_cannot_be_differentiated(make_student, name):
    student = make_student(HARNESS)
    with pytest.raises(StudentError, match="autograd graph"):
        student.grad(name, np.ones(3), wrt=[0])
    assert student.square_sum(np.ones(2), np.ones(2)) == 2.0


def test_gradient_with_respect_to_a_missing_argument_is_a_bad_request(make_student):
    student = make_student(HARNESS)
    with pytest.raises(StudentError, match="no argument 5"):
        student.grad("square_sum", np.ones(3), np.ones(3), wrt=[5])


# --- the zygote -----------------------------------------------------------------------------------------


def test_a_killed_zygote_is_restarted_and_stays_in_step(tmp_path):
    (tmp_path / "student.py").write_text(HOSTILE)
    with Zygote() as own:
        first_zygote = own.pid
        os.kill(first_zygote, signal.SIGKILL)
        assert wait_until(lambda: not own.alive(), 10)
        student = StudentModule(own, str(tmp_path), "student", ["fine"], "cpu", FAST)
        try:
            student.load()
            np.testing.assert_array_equal(student.fine(np.ones(1)), [2.0])
            # the replies belong to the requests: the worker is a child of the new zygote, not the zygote
            assert own.pid not in (None, first_zygote)
            assert worker_pid(student) != own.pid
            assert worker_pid(student) in tree_of(own.pid)
            with pytest.raises(WorkerLost) as lost:
                student.exit_now(6)
            assert "exited with status 6" in lost.value.detail
            np.testing.assert_array_equal(student.fine(np.ones(1)), [2.0])
        finally:
            student.close()
        assert tree_of(own.pid) == set()


def test_each_answer_says_how_long_the_students_code_ran(zygote, write_module):
    # The benchmarks split a round trip into the student's own computation and the protocol's cost.
    folder = write_module("""
        import time

        def slow(x):
            time.sleep(0.05)
            return x

        def quick(x):
            return x
    """)
    worker = Worker(zygote, str(folder), "cpu", Limits())
    try:
        assert worker.request("load", {"module": "student", "attributes": ["slow", "quick"]}).meta["ok"]
        began = time.perf_counter()
        slow = worker.request("call", {"name": "slow", "args": (np.ones(3),), "kwargs": {}}).meta
        round_trip = time.perf_counter() - began
        quick = worker.request("call", {"name": "quick", "args": (np.ones(3),), "kwargs": {}}).meta
        assert 0.05 <= slow["compute_s"] <= round_trip
        assert 0 <= quick["compute_s"] < 0.05
    finally:
        worker.close()
