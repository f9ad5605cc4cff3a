"""The zygote: a fresh interpreter that imports numpy, scipy and torch once, then forks workers.

Started by the grader (``python -I -m grader.zygote FD``) with thread counts pinned to 1 in its
environment. It never runs a torch computation and never initialises CUDA, so its children can.
It holds no spec, reference or grader state: a worker forked from it inherits nothing to read.

Control messages arrive on a Unix socket as one JSON object per datagram-sized message, with file
descriptors attached (SCM_RIGHTS) for ``fork``:

- ``{"op": "fork", "submission": DIR, "device": "cpu", "limits": {...}}`` + fds [conn, output, monitor]
  -> ``{"pid": N}`` (monitor: the write end of the tamper monitor's channel, see grader.tamper)
- ``{"op": "kill", "pid": N}`` -> ``{"status": "exited with status 0" | "killed by signal SIGSEGV",
  "code": int|None, "signal": int|None}``: kills the worker's whole process tree and reaps it.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import socket
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc = None


def prctl(option: int, value: int) -> bool:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def preload() -> None:
    """Import the heavy libraries once; forked workers then start in milliseconds."""
    import numpy  # noqa: F401
    import scipy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import scipy.special  # noqa: F401
    import scipy.stats  # noqa: F401
    import torch  # noqa: F401

    import glob  # noqa: F401

    import grader.isolation  # noqa: F401
    import grader.worker  # noqa: F401  (and through it the protocol and the harness)


def describe_status(status: int) -> dict:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return {"status": f"killed by signal {name}", "code": None, "signal": number}
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return {"status": f"exited with status {code}", "code": code, "signal": None}


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def all_stat_fields() -> dict[int, list[bytes]]:
    """pid -> :func:`stat_fields` for every process we can see."""
    fields = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := stat_fields(int(entry))) is not None:
            fields[int(entry)] = found
    return fields


def process_table() -> dict[int, int]:
    """pid -> parent pid for every process we can see."""
    return {pid: int(fields[1]) for pid, fields in all_stat_fields().items() if len(fields) > 1}


def descendants(roots: set[int], table: dict[int, int]) -> set[int]:
    found, frontier = set(), set(roots)
    while frontier:
        children = {pid for pid, parent in table.items() if parent in frontier and pid not in found}
        found |= children
        frontier = children
    return found


class Zygote:
    def __init__(self, control: socket.socket, isolation: dict | None = None):
        self.control = control
        self.isolation = isolation or {}
        self.workers: set[int] = set()
        self.statuses: dict[int, int] = {}

    def reap(self, block_for: int | None = None) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block_for in self.workers else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.statuses[pid] = status
            self.workers.discard(pid)
            if pid == block_for:
                block_for = None

    def strays(self) -> set[int]:
        """Our own children that are not live workers: orphans re-parented to us (we are a subreaper)."""
        table = process_table()
        me = os.getpid()
        return {pid for pid, parent in table.items() if parent == me and pid not in self.workers}

    def kill_tree(self, pid: int) -> dict:
        """SIGKILL a worker, its process group and every descendant, until none is left."""
        for _ in range(200):
            table = process_table()
            tree = descendants({pid}, table) | ({pid} if pid in table else set())
            tree |= {p for p, parent in table.items() if parent == os.getpid() and p not in self.workers}
            tree |= descendants(tree, table)
            for victim in tree:
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.reap(block_for=pid if pid in self.workers else None)
            if not tree:
                break
            time.sleep(0.001)
        status = self.statuses.pop(pid, None)
        if status is None:
            return {"status": "already reaped", "code": None, "signal": None}
        return describe_status(status)

    def fork(self, request: dict, fds: list[int]) -> dict:
        conn_fd, output_fd, monitor_fd = fds
        pid = os.fork()
        if pid == 0:  # the worker
            code = 70
            try:
                request["isolation"] = self.isolation
                become_worker(self.control, conn_fd, output_fd, request, monitor_fd)
                code = 0
            except BaseException:  # noqa: BLE001 - a harness failure: leave a trace in the output
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(conn_fd)
        os.close(output_fd)
        os.close(monitor_fd)  # else the grader would never see the channel's end
        self.workers.add(pid)
        return {"pid": pid}

    def serve(self) -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 16, 4)
            except (ConnectionResetError, OSError):
                data, fds = b"", []
            if not data:
                break
            request = json.loads(data)
            if request["op"] == "fork":
                reply = self.fork(request, fds)
            elif request["op"] == "kill":
                reply = self.kill_tree(int(request["pid"]))
            else:
                reply = {"error": f"unknown op {request['op']!r}"}
            self.reap()
            self.control.sendall(json.dumps(reply).encode() + b"\n")
        for pid in list(self.workers):
            self.kill_tree(pid)
        for pid in self.strays():
            self.kill_tree(pid)


def become_worker(control: socket.socket, conn_fd: int, output_fd: int, request: dict, monitor_fd: int) -> None:
    control.close()
    os.setsid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(devnull)
    os.close(output_fd)
    for name, value in request.get("limits", {}).items():
        limit = getattr(resource, name, None)
        if limit is not None and value is not None:
            resource.setrlimit(limit, (int(value), int(value)))
    scratch = request.get("scratch")
    if scratch:
        os.chdir(scratch)
        os.environ["TMPDIR"] = scratch
    confine(request.get("isolation", {}), [scratch] if scratch else [], request["device"],
            readable=[request["submission"]], allow_subprocesses=bool(request.get("allow_subprocesses")))
    _drop_native_handles()
    from grader import worker

    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    worker.serve(conn_fd, request["submission"], request["device"], int(request["max_frame_bytes"]), monitor_fd)


def _drop_native_handles() -> None:
    """In a worker, once confined: this module's handles to libc and ctypes are not needed any more,
    and a student's code that reached this module (through ``__main__``) could call through them."""
    global _libc, ctypes
    _libc = ctypes = None


def confine(isolation: dict, writable: list[str], device: str, readable: list[str] = (),
            allow_subprocesses: bool = False) -> None:
    """Apply the kernel layers the zygote found working; a layer that fails now stops the worker
    (fail closed) rather than letting it serve with less isolation than the report claims."""
    from grader import isolation as layers

    if not (isolation.get("landlock") or isolation.get("seccomp")):
        return
    try:
        if isolation.get("landlock"):
            devices = ["/dev/null", "/dev/zero", "/dev/full"]
            if device == "cuda":
                import glob

                devices += glob.glob("/dev/nvidia*") + glob.glob("/dev/dri/*")
            layers.apply_landlock(list(isolation["read_paths"]) + list(readable), list(writable) + devices,
                                  int(isolation["landlock"]))
        if isolation.get("seccomp"):
            # Unix sockets stay available where they may be needed: to processes a problem allows
            # (multiprocessing), and to CUDA (which looks for its MPS daemon).
            layers.apply_seccomp(allow_subprocesses=allow_subprocesses,
                                 allow_unix_sockets=allow_subprocesses or device == "cuda")
        layers.drop_capabilities()
    except layers.IsolationError as error:
        os.write(2, f"grader: could not isolate the worker: {error}\n".encode())
        os._exit(72)


def probe_layers(config: dict) -> dict:
    """Which kernel layers work here: try them in a throwaway child, exactly as a worker would."""
    from grader import isolation as layers

    wanted = set(config.get("layers", ("namespaces", "landlock", "seccomp")))
    found = {"namespaces": bool(config.get("namespaces_entered")), "landlock": 0, "seccomp": False,
             "read_paths": layers.default_read_paths(), "warnings": list(config.get("warnings", []))}
    candidates = {"landlock": layers.landlock_abi() if "landlock" in wanted else 0,
                  "seccomp": "seccomp" in wanted and layers.seccomp_available()}
    for name in ("namespaces", "landlock", "seccomp"):
        if name not in wanted:
            found["warnings"].append(f"the {name} layer is disabled (GRADE_ISOLATION_LAYERS)")
    if "landlock" in wanted and not candidates["landlock"]:
        found["warnings"].append("Landlock is not available: workers can read any file the grader can")
    if "seccomp" in wanted and not candidates["seccomp"]:
        found["warnings"].append("seccomp is not available: workers may open network sockets and trace processes")
    for name, value in candidates.items():
        if not value:
            continue
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                confine({**found, name: value}, ["/tmp"], "cpu")
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            found[name] = value
        else:
            found["warnings"].append(f"{name} is present but could not be applied")
    return found


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    config = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "namespaces" in config.get("layers", ("namespaces",)):
        # Before any import that could start a thread: unshare(CLONE_NEWUSER) needs a single thread.
        from grader import isolation

        try:
            isolation.enter_private_namespaces(config.get("hide", []))
            config["namespaces_entered"] = True
        except (isolation.IsolationError, OSError) as error:
            config.setdefault("warnings", []).append(
                f"private namespaces are not available ({error}): the reference and the specs are hidden "
                "from workers by Landlock alone")
    preload()
    isolation_found = probe_layers(config)
    control.sendall(json.dumps({"ready": True, "pid": os.getpid(), "isolation": isolation_found}).encode() + b"\n")
    Zygote(control, isolation_found).serve()
    # Skip interpreter finalisation (tearing torch down takes longer than the whole fork service).
    os._exit(0)


if __name__ == "__main__":
    main()
