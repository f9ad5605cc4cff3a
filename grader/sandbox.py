"""The grader's side of the trust boundary: the zygote client and worker handles.

The grader process never imports student code. It asks the zygote to fork a worker per problem,
talks to it with :mod:`grader.protocol` under a per-call deadline, drains its output into a capped
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
    """Resource limits of one worker. Problems may override them (a training loop needs more time)."""

    call_timeout_s: float = 10.0
    load_timeout_s: float = 30.0
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
             scratch: str | None) -> int:
        if not self.alive():
            # A worker may kill its parent; the next problem must not pay for it.
            self.close()
            self.start()
        reply = self._request(
            {"op": "fork", "submission": submission, "device": device,
             "limits": limits.rlimits(device), "max_frame_bytes": limits.max_frame_bytes,
             "scratch": scratch, "allow_subprocesses": limits.allow_subprocesses},
            [conn_fd, output_fd],
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


class Worker:
    """One forked worker serving one submission; dies with its whole process tree on ``close``."""

    def __init__(self, zygote: Zygote, submission: str, device: str, limits: Limits,
                 scratch: str | None = None):
        self.zygote, self.limits = zygote, limits
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_out, write_out = os.pipe()
        try:
            self.pid = zygote.fork(theirs.fileno(), write_out, submission, device, limits, scratch)
        finally:
            theirs.close()
            os.close(write_out)
        self.sock = ours
        self.reader = protocol.FrameReader(ours.fileno(), limits.max_frame_bytes)
        self.output = OutputDrain(read_out, limits.output_bytes)
        self.output.start()
        self.exit_status: dict | None = None

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    def request(self, op: str, request: dict, timeout: float | None = None) -> Reply:
        """Send one request and wait for its reply; raises :class:`WorkerLost` on any failure."""
        if not self.alive:
            raise WorkerLost("crash", f"the worker is gone ({self.exit_status['status']})")
        timeout = self.limits.call_timeout_s if timeout is None else timeout
        message, blobs = protocol.message_with_value({"op": op}, "request", request)
        try:
            protocol.send_frame(self.sock.fileno(), message, blobs)
            header, arrays = self.reader.read(deadline=time.monotonic() + timeout)
        except protocol.FrameTimeout:
            status = self.close()
            if status.get("code") is not None:
                # It exited by itself (our kill would show as a signal), but a process it started
                # still held the socket open, so the end of the connection never came.
                raise WorkerLost("crash", f"the worker died during the call ({status['status']})") from None
            raise WorkerLost("timeout", f"no answer within the {timeout:g} s deadline; the worker was killed") from None
        except (protocol.PeerClosed, BrokenPipeError, ConnectionResetError):
            status = self.close()
            raise WorkerLost("crash", f"the worker died during the call ({status['status']})") from None
        except protocol.ProtocolError as error:
            self.close()
            raise WorkerLost("protocol", f"the worker sent a malformed reply ({error}); it was killed") from None
        try:
            value = protocol.decode_value(header["value"], arrays) if "value" in header else None
        except protocol.ProtocolError as error:
            self.close()
            raise WorkerLost("protocol", f"the worker sent a malformed reply ({error}); it was killed") from None
        meta = {k: v for k, v in header.items() if k not in ("value", "blobs")}
        return Reply(value, meta)

    def close(self) -> dict:
        """Kill the worker's process tree (idempotent) and return how it ended."""
        if self.exit_status is None:
            try:
                self.exit_status = self.zygote.kill(self.pid)
            except ZygoteError as error:
                self.exit_status = {"status": f"unknown ({error})", "code": None, "signal": None}
            self.sock.close()
            self.output.join(timeout=5)
        return self.exit_status

    def captured_output(self) -> str:
        return self.output.text()
