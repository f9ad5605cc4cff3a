"""The grader's side of the trust boundary: the zygote client and worker handles.

The grader process never imports student code. It asks the zygote to fork a worker per problem,
talks to it with :mod:`grader.protocol` under a per-call CPU budget (with a wall-clock backstop),
drains its output into a capped
buffer, and kills its whole process tree when it misbehaves or is done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import protocol
from grader.isolation import LEVELS, level_of  # noqa: F401  (LEVELS re-exported for the CLI)
from grader.tamper import Finding, MonitorChannel
from grader.zygote import all_stat_fields, descendants

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
# Environment a worker may see: nothing of the grader's secrets, only what Python and torch need.
PASSED_VARIABLES = ("PATH", "LANG", "LC_ALL", "HOME", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")

ALL_LAYERS = ("namespaces", "landlock", "seccomp")
MINIMAL_LAYERS = ("process", "session", "rlimits", "threads-pinned", "tree-kill", "clean-environment")

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker. Problems may override them (a training loop needs more time).

    The time budgets (a call's, the load's, a property's, the problem's) count the worker's CPU
    seconds, so that a busy machine does not change a grade; each also has a wall-clock backstop
    ``wall_backstop_factor`` times larger, for a call that uses no CPU (a sleep, a blocking read)."""

    call_timeout_s: float = 10.0
    load_timeout_s: float = 30.0
    # At 5x a call still answers when it gets a fifth of a core (8 busy processes on 2 cores).
    wall_backstop_factor: float = 5.0
    memory_bytes: int = 4 * GIB
    cpu_seconds: int = 300
    file_size_bytes: int = 64 * MIB
    open_files: int = 256
    output_bytes: int = 64 * 1024
    max_frame_bytes: int = protocol.DEFAULT_MAX_FRAME_BYTES
    allow_subprocesses: bool = False
    problem_budget_s: float = 300.0

    def rlimits(self, device: str) -> dict[str, int]:
        limits = {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": self.file_size_bytes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }
        # CUDA reserves tens of GiB of virtual address space: an address-space cap would break it.
        if device == "cpu":
            limits["RLIMIT_AS"] = self.memory_bytes
        return limits


def configured_layers() -> tuple[str, ...]:
    """The kernel layers to try: all of them unless ``GRADE_ISOLATION_LAYERS`` names a subset."""
    setting = os.environ.get("GRADE_ISOLATION_LAYERS")
    if setting is None:
        return ALL_LAYERS
    names = tuple(name.strip() for name in setting.split(",") if name.strip())
    unknown = set(names) - set(ALL_LAYERS)
    if unknown:
        raise ValueError(f"GRADE_ISOLATION_LAYERS: unknown layer {sorted(unknown)[0]!r} "
                         f"(choose from {', '.join(ALL_LAYERS)})")
    return names


class WorkerLost(BaseException):
    """The worker died or hung during a call. A ``BaseException`` so Hypothesis does not shrink it:
    each retry would cost a fresh worker (or a whole deadline)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind  # "timeout", "crash" or "protocol"
        self.detail = detail


class ZygoteError(RuntimeError):
    """The zygote could not be started or stopped answering."""


class Zygote:
    """A preloaded interpreter that forks workers on request."""

    def __init__(self, start_timeout_s: float = 120.0, *, hide=(), layers=None):
        """``hide``: directories (the reference, the specs, other submissions) covered by empty
        mounts in the workers' private namespace; ``layers``: the kernel layers to try (default: all,
        or the comma-separated names in ``GRADE_ISOLATION_LAYERS``, e.g. ``landlock,seccomp`` to
        reproduce a CI runner without user namespaces)."""
        self.start_timeout_s = start_timeout_s
        self.hide = [str(Path(p).resolve()) for p in hide]
        self.layers = tuple(configured_layers() if layers is None else layers)
        self.process = None
        self.control = None
        self.pid = None
        self.isolation: dict = {}
        self._lock = threading.Lock()

    @property
    def level(self) -> str:
        return level_of(self.isolation)

    @property
    def applied_layers(self) -> list[str]:
        """The layers every worker of this zygote runs under, weakest first."""
        names = list(MINIMAL_LAYERS)
        names += [name for name in ("landlock", "seccomp", "namespaces") if self.isolation.get(name)]
        return names

    @property
    def warnings(self) -> list[str]:
        return list(self.isolation.get("warnings", []))

    def start(self) -> "Zygote":
        return self.launch().wait_ready()

    def launch(self) -> "Zygote":
        """Start the zygote's interpreter without waiting for its imports (see :meth:`wait_ready`)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: os.environ[k] for k in PASSED_VARIABLES if k in os.environ}
        env.update({k: "1" for k in THREAD_VARIABLES})
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        bootstrap = (
            "import sys; sys.path.insert(0, sys.argv[2]); "
            "from grader.zygote import main; main()"
        )
        # -B: -I ignores PYTHONDONTWRITEBYTECODE, and workers must not write __pycache__ into submissions
        config = json.dumps({"hide": self.hide, "layers": list(self.layers)})
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", bootstrap, str(theirs.fileno()), PACKAGE_ROOT, config],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/", close_fds=True,
        )
        theirs.close()
        self.control = ours
        return self

    def wait_ready(self) -> "Zygote":
        """Wait until the zygote has imported its libraries and can fork (idempotent)."""
        if self.pid is not None:
            return self
        self.control.settimeout(self.start_timeout_s)
        try:
            hello = self._receive()
        except (OSError, ValueError) as error:
            stderr = self._stderr_tail()
            self.close()
            raise ZygoteError(f"the worker zygote failed to start: {error}; {stderr}") from None
        self.pid = hello["pid"]
        self.isolation = hello.get("isolation", {})
        self.control.settimeout(60.0)
        return self

    def _stderr_tail(self) -> str:
        try:
            self.process.wait(timeout=5)
            return self.process.stderr.read().decode(errors="replace")[-2000:]
        except Exception:  # noqa: BLE001 - best effort diagnostics
            return ""

    def _receive(self) -> dict:
        data = self.control.recv(1 << 16)
        if not data:
            raise ZygoteError("the worker zygote closed its control socket")
        return json.loads(data)

    def _request(self, message: dict, fds: list[int] = ()) -> dict:
        with self._lock:
            if self.control is None:
                raise ZygoteError("the worker zygote is not running")
            try:
                socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
                return self._receive()
            except (OSError, ValueError) as error:
                raise ZygoteError(f"the worker zygote stopped answering: {error}") from None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def fork(self, conn_fd: int, output_fd: int, submission: str, device: str, limits: Limits,
             scratch: str | None, *, monitor_fd: int) -> int:
        if not self.alive():
            # A worker may kill its parent; the next problem must not pay for it.
            self.close()
            self.start()
        reply = self._request(
            {"op": "fork", "submission": submission, "device": device,
             "limits": limits.rlimits(device), "max_frame_bytes": limits.max_frame_bytes,
             "scratch": scratch, "allow_subprocesses": limits.allow_subprocesses},
            [conn_fd, output_fd, monitor_fd],
        )
        return int(reply["pid"])

    def kill(self, pid: int) -> dict:
        return self._request({"op": "kill", "pid": pid})

    def close(self) -> None:
        self.pid = None  # a restarted zygote must say hello again before it is asked anything
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None

    def __enter__(self):
        return self.start() if self.process is None else self

    def __exit__(self, *exc):
        self.close()


class OutputDrain(threading.Thread):
    """Reads a worker's stdout/stderr to the end, keeping at most ``cap`` bytes."""

    def __init__(self, fd: int, cap: int):
        super().__init__(daemon=True)
        self.fd, self.cap = fd, cap
        self.kept = bytearray()
        self.dropped = 0

    def run(self):
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                room = self.cap - len(self.kept)
                self.kept += chunk[:max(room, 0)]
                self.dropped += max(len(chunk) - max(room, 0), 0)
        finally:
            os.close(self.fd)

    def text(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output dropped]"
        return text


@dataclass
class Reply:
    value: object
    meta: dict = field(default_factory=dict)


CPU_POLL_S = 0.05  # how often the grader reads a waiting worker's CPU time: the most a budget overshoots
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds (user + system, every thread) used by a worker, and by the processes it started,
    since the meter was made; read by the grader from /proc. The worker runs student code: nothing
    it says about itself is believed.

    The worker's own ``stat`` stays open for the meter's life: one ``pread`` per reading (a few
    microseconds), and a reused pid can never be read by mistake (the file fails once the worker is
    reaped). Each descendant counts its own time once, from the meter's start (or its birth, if
    later) to its last reading, which it keeps when it is gone. Descendants are looked for (one scan
    of /proc) only where the worker can create processes, and only while a call waits (a quick call
    never pays for a scan). Not counted: a process born and gone between two readings, and one that
    left the worker's tree (a double fork re-parents it to the zygote, where nothing says whose it
    is); the wall-clock backstop, their own RLIMIT_CPU and the tree kill still bound them.
    """

    def __init__(self, pid: int, *, tree: bool):
        self._fd: int | None = None
        self.pid, self.tree = pid, tree
        self.started_ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS_PER_S)
        self.worker_gone = False
        self.total_s = 0.0  # as of the last reading
        self._worker_first: int | None = None  # the worker's ticks at the start, and at the last reading
        self._worker_last = 0
        self._start: dict[tuple[int, int], int] = {}  # a descendant's (pid, start time) -> ticks before
        self._last: dict[tuple[int, int], int] = {}
        try:
            self._fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self.worker_gone = True
        self.used()

    def used(self, *, scan: bool = False) -> float:
        """CPU seconds used since the start; ``scan`` also looks for the worker's descendants."""
        self._read_worker()
        if scan and self.tree:
            fields = all_stat_fields()
            for pid in descendants({self.pid}, {p: int(f[1]) for p, f in fields.items()}):
                self._note(pid, fields[pid])
        ticks = sum(last - self._start[key] for key, last in self._last.items())
        if self._worker_first is not None:
            ticks += self._worker_last - self._worker_first
        self.total_s = ticks / _TICKS_PER_S
        return self.total_s

    def _read_worker(self) -> None:
        if self._fd is None:
            return
        try:
            fields = os.pread(self._fd, 4096, 0).rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            fields = None
        if fields is not None:
            ticks = int(fields[11]) + int(fields[12])  # utime + stime: the whole thread group's
            if self._worker_first is None:
                self._worker_first = ticks
            self._worker_last = max(self._worker_last, ticks)
        if fields is None or fields[0] in (b"Z", b"X"):
            self.worker_gone = True  # exited: a zombie until the zygote reaps it, then unreadable
            self.close()

    def _note(self, pid: int, fields: list[bytes]) -> None:
        key = (pid, int(fields[19]))
        ticks = int(fields[11]) + int(fields[12])
        if key not in self._start:
            # Born since the meter started: all of its time counts. Seen late: from now on.
            self._start[key] = 0 if key[1] >= self.started_ticks else ticks
        self._last[key] = max(self._last.get(key, 0), ticks)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    __del__ = close  # a worker's meter goes with the worker; an int fd leaves no warning behind


class _CallCut(Exception):
    """Raised from the reader's poll to stop waiting: the call spent its CPU budget ("cpu") or the
    worker ended while a process it started still holds the socket ("gone")."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def cpu_text(seconds: float) -> str:
    return f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2f}"


# Below this share of one core over a backstop's span the worker was idle (asleep, blocked), not starved.
IDLE_SHARE = 0.05


def idle_or_starved(used_s: float, wall_s: float, *, who: str = "the worker", was: str = "was it") -> str:
    """Why a backstop was reached, judged by the CPU its calls got in the meantime."""
    if used_s < IDLE_SHARE * wall_s:
        return f"{who} used only {cpu_text(used_s)} s of CPU: {was} sleeping or waiting?"
    return f"{who} got {cpu_text(used_s)} s of CPU in {wall_s:g} s, {used_s / wall_s:.0%} of a core: " \
           "is the machine overloaded?"


def _cut_short(why: str, budget_s: float, backstop_s: float, used_s: float) -> str:
    """What ended a call, in the report's words: its CPU budget, or the wall-clock backstop."""
    if why == "cpu":
        return f"no answer within the {budget_s:g} s CPU budget (the worker used {cpu_text(used_s)} s of CPU); " \
               "the worker was killed"
    return f"the wall-clock backstop of {backstop_s:g} s ended the call ({idle_or_starved(used_s, backstop_s)}); " \
           "the worker was killed"


class _CountingReader(protocol.FrameReader):
    """Counts the frames read whole (each reply must come with one checkpoint of the tamper
    monitor's), and reads the monitor's channel after each, so that it never fills."""

    frames = 0

    def __init__(self, fd: int, max_frame_bytes: int, monitor: MonitorChannel):
        super().__init__(fd, max_frame_bytes)
        self.monitor = monitor

    def read(self, *args, **kwargs):
        frame = super().read(*args, **kwargs)
        self.frames += 1
        self.monitor.poll()
        return frame


class Worker:
    """One forked worker serving one submission; dies with its whole process tree on ``close``."""

    def __init__(self, zygote: Zygote, submission: str, device: str, limits: Limits,
                 scratch: str | None = None):
        self.zygote, self.limits = zygote, limits
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_out, write_out = os.pipe()
        read_monitor, write_monitor = os.pipe()  # the tamper monitor's channel (grader.tamper)
        try:
            self.pid = zygote.fork(theirs.fileno(), write_out, submission, device, limits, scratch,
                                   monitor_fd=write_monitor)
        except BaseException:
            os.close(read_monitor)
            raise
        finally:
            theirs.close()
            os.close(write_out)
            os.close(write_monitor)
        self.sock = ours
        self.monitor = MonitorChannel(read_monitor)
        self.reader = _CountingReader(ours.fileno(), limits.max_frame_bytes, self.monitor)
        self.output = OutputDrain(read_out, limits.output_bytes)
        self.output.start()
        self.exit_status: dict | None = None

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    # What the last call cost, for the property's and the problem's budgets: CPU seconds of the
    # worker's tree, and what ended it if it was cut short ("cpu" or "wall").
    call_cpu_s: float = 0.0
    call_ended_by: str | None = None
    _meter: CpuMeter | None = None  # made at the first request, when the worker starts waiting for it

    def request(self, op: str, request: dict, timeout: float | None = None,
                backstop: float | None = None) -> Reply:
        """Send one request and wait for its reply; raises :class:`WorkerLost` on any failure.

        ``timeout`` is the call's CPU budget: CPU seconds of the worker (and of the processes it
        started), read by the grader from /proc every :data:`CPU_POLL_S` while it waits. ``backstop``
        is the wall-clock limit that ends the call anyway (by default ``timeout`` times
        ``limits.wall_backstop_factor``). A call is charged the CPU the worker used since the last
        call's answer: whatever a student's thread does in between is the student's too."""
        self.call_cpu_s, self.call_ended_by = 0.0, None
        if not self.alive:
            raise WorkerLost("crash", f"the worker is gone ({self.exit_status['status']})")
        timeout = self.limits.call_timeout_s if timeout is None else timeout
        backstop = timeout * self.limits.wall_backstop_factor if backstop is None else backstop
        message, blobs = protocol.message_with_value({"op": op}, "request", request)
        if self._meter is None:
            # Without seccomp's fork ban a worker may start processes whatever the problem allows.
            self._meter = CpuMeter(self.pid, tree=self.limits.allow_subprocesses
                                   or not self.zygote.isolation.get("seccomp"))
        meter, before = self._meter, self._meter.total_s

        def check() -> None:
            self.call_cpu_s = meter.used(scan=True) - before
            if meter.worker_gone:
                raise _CallCut("gone")
            if self.call_cpu_s > timeout:
                raise _CallCut("cpu")

        try:
            protocol.send_frame(self.sock.fileno(), message, blobs)
            header, arrays = self.reader.read(deadline=time.monotonic() + backstop, poll=check,
                                              poll_interval_s=CPU_POLL_S)
            self.call_cpu_s = meter.used() - before
        except (_CallCut, protocol.FrameTimeout) as cut:
            why = cut.why if isinstance(cut, _CallCut) else "wall"
            status = self._end_call(before)
            if status.get("code") is not None or why == "gone":
                # It ended by itself (our kill would show as a signal), but a process it started
                # still held the socket open, so the end of the connection never came.
                raise WorkerLost("crash", f"the worker died during the call ({status['status']})") from None
            self.call_ended_by = why
            raise WorkerLost("timeout", _cut_short(why, timeout, backstop, self.call_cpu_s)) from None
        except (protocol.PeerClosed, BrokenPipeError, ConnectionResetError):
            status = self._end_call(before)
            raise WorkerLost("crash", f"the worker died during the call ({status['status']})") from None
        except protocol.ProtocolError as error:
            self._end_call(before)
            raise WorkerLost("protocol", f"the worker sent a malformed reply ({error}); it was killed") from None
        try:
            value = protocol.decode_value(header["value"], arrays) if "value" in header else None
        except protocol.ProtocolError as error:
            self.close()
            raise WorkerLost("protocol", f"the worker sent a malformed reply ({error}); it was killed") from None
        meta = {k: v for k, v in header.items() if k not in ("value", "blobs")}
        return Reply(value, meta)

    def _end_call(self, before: float) -> dict:
        """Charge the failed call's CPU (read before the kill, while the tree is still there), then
        kill the tree; returns how the worker ended."""
        self.call_cpu_s = self._meter.used(scan=True) - before
        self._meter.close()
        return self.close()

    def close(self) -> dict:
        """Kill the worker's process tree (idempotent) and return how it ended."""
        if self.exit_status is None:
            try:
                self.exit_status = self.zygote.kill(self.pid)
            except ZygoteError as error:
                self.exit_status = {"status": f"unknown ({error})", "code": None, "signal": None}
            self.sock.close()
            self.output.join(timeout=5)
            self.monitor.finish()
        return self.exit_status

    def tampering(self) -> list[Finding]:
        """What the tamper monitor found in this worker, judged once it is gone (after :meth:`close`):
        its findings, and a channel that fell silent while the worker still replied."""
        return self.monitor.results(self.reader.frames)

    def captured_output(self) -> str:
        return self.output.text()
