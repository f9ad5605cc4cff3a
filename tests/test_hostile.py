"""The hostile-submission corpus: submissions that try to earn points they do not deserve, to break
the grader, or to harm what lies around it, graded end to end by ``grade()`` on the toy fixture bank.

Every hostile ``toy.py`` has a correct ``square`` and a hostile ``double`` that answers 2 x only if
its attack worked (it uses the stolen reference, or answers once it has seen the secret, reached the
listener, written outside its sandbox...); otherwise it raises, saying what stopped each attempt.
Each run must give:

- the right score: 0 on ``toy.double`` (or the exact statuses expected), 3/3 on ``toy.square``
  (no collateral loss);
- a report that validates against ``grader/schemas/report.schema.json``;
- a bounded wall time;
- no process left: no worker under the zygote, every pid a submission printed as ``spawned PID``
  gone, the zygote itself untouched (same pid, alive);
- nothing changed outside the scratch area: the fixture bank, the reference, the other fixture
  submissions, the grader's code, the original submission and the test's canary files keep their
  bytes, modes, owners, times and extended attributes; no marker in /tmp or /dev/shm; no signal
  reached the grader; the grader's own rlimits and priority are as they were.

Attacks are bounded so that a failed defence harms nothing outside the test's temporary
directories: they overwrite only canaries under ``tmp_path``, create only uniquely named markers
that the test deletes, open the files they would tamper with for appending without writing a byte,
change other processes' limits and priorities only to the values they already have, and never send
a real signal to anything but the grader (which has a handler) and the zygote; pid -1 only ever gets
the harmless signal 0.

The attacks of the "readable" families are also run at the ``minimal`` level (no Landlock, no
seccomp, no namespaces) where they must succeed: that proves each attack really is one, and that the
checks of this file would notice it working.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from grader.bank import load_bank
from grader.isolation import landlock_abi, seccomp_available
from grader.report import to_json, write_json
from grader.runner import IsolationTooWeak, grade, hidden_paths
from grader.sandbox import PACKAGE_ROOT, Limits, Zygote

from conftest import (FIXTURE_BANK, FIXTURE_REFERENCE, FIXTURES, SCHEMA_PATH, assert_gone, assert_no_workers,
                      exists, read_pids, tree_of, wait_until)

BANK = load_bank(FIXTURE_BANK)
SCHEMA = json.loads(SCHEMA_PATH.read_text())
REFERENCE_FILE = FIXTURE_REFERENCE / "toy.py"
SPEC_FILE = FIXTURE_BANK / "toy" / "double" / "spec.py"
GRADER_CODE = Path(PACKAGE_ROOT) / "grader"
GRADER_PID = os.getpid()
SECRET_NAME = "GRADER_TEST_SECRET"
SECRET = f"hostile-secret-{uuid.uuid4().hex}"
TOKEN = uuid.uuid4().hex  # unique per session: markers, abstract socket names
TMP_MARKER = Path(f"/tmp/hostile-marker-{TOKEN}")
SHM_MARKER = Path(f"/dev/shm/hostile-marker-{TOKEN}")
WALL_LIMIT_S = 60
HARDENED = ("strong", "standard")

SQUARE_PASSED = {"squares_elementwise": "passed", "square_is_nonnegative": "passed"}
DOUBLE_NAMES = ("doubles_small_values", "doubles_large_values", "double_matches_reference")
SPAWNING = Limits(allow_subprocesses=True)


# --- what this kernel supports ---------------------------------------------------------------------


def _user_namespaces_work() -> bool:
    probe = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
             "sys.exit(0 if libc.unshare(0x10000000) == 0 else 1)")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60).returncode == 0


HAS_LANDLOCK_AND_SECCOMP = landlock_abi() > 0 and seccomp_available()
needs_standard = pytest.mark.skipif(not HAS_LANDLOCK_AND_SECCOMP,
                                    reason="the kernel lacks Landlock or libseccomp is missing: no 'standard' level")


# --- hostile sources --------------------------------------------------------------------------------

PRELUDE = '''
import ctypes
import errno
import os
import signal
import socket
import sys

import numpy as np
import torch

_blocked = []
_outcome = None


def _try(what, action, note=True):
    """One attempt: its result, or None with a note of what stopped it."""
    try:
        result = action()
        if result and note:
            print(f"attempt worked: {what}", flush=True)
        return result
    except BaseException as error:  # noqa: BLE001 - anything that stops the attempt
        if note:
            _blocked.append(f"{what}: {type(error).__name__}: {error}")
        return None


def _oserror():
    number = ctypes.get_errno()
    return OSError(number, os.strerror(number))


def _pytest_pids():
    """Processes other than this one whose command line mentions pytest (found as any user could)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            command = _try("cmdline", lambda: open(f"/proc/{entry}/cmdline", "rb").read(), note=False) or b""
            if b"pytest" in command:
                pids.append(int(entry))
    return pids


_NUMBERS = {"x86_64": {"socket": 41, "kill": 62}, "aarch64": {"socket": 198, "kill": 129}}


def _raw(name, *args):
    """A system call made directly, each argument a full 64-bit register: the kernel reads an int
    argument from the low 32 bits only, a filter that compares all 64 may be fooled."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(_NUMBERS[os.uname().machine][name]), *map(ctypes.c_long, args))
    if result < 0:
        raise _oserror()
    return result


def _run_attack_once():
    global _outcome
    if _outcome is None:
        _outcome = _attack()
    return _outcome


def double(x):
    stolen = _run_attack_once()
    if callable(stolen):
        return stolen(x)
    if stolen:
        return 2 * x
    raise RuntimeError("attack blocked: " + "; ".join(_blocked))


def square(x):
    return x * x
'''


def hostile(body: str, **constants) -> str:
    """A toy.py: the constants the attacker knows, the common prelude, then the attack."""
    header = "".join(f"{name} = {value!r}\n" for name, value in constants.items())
    return header + PRELUDE + textwrap.dedent(body)


def known_paths(**extra) -> dict:
    return {"REFERENCE": str(REFERENCE_FILE), "SPEC": str(SPEC_FILE), "BANK_DIR": str(FIXTURE_BANK),
            "GRADER_PID": GRADER_PID, "GRADER_CWD": os.getcwd(), **extra}


READ_REFERENCE = '''
def _exec_text(text):
    namespace = {}
    exec(compile(text, "stolen", "exec"), namespace)
    return namespace["double"]


def _attack():
    paths = [REFERENCE, f"/proc/{GRADER_PID}/root{REFERENCE}", f"/proc/{os.getppid()}/root{REFERENCE}",
             f"/proc/{GRADER_PID}/cwd/" + os.path.relpath(REFERENCE, GRADER_CWD)]
    for path in paths:
        text = _try(f"open({path})", lambda: open(path).read())
        if text:
            return _exec_text(text)
    fds = _try(f"list /proc/{GRADER_PID}/fd", lambda: os.listdir(f"/proc/{GRADER_PID}/fd")) or []
    for fd in fds:
        text = _try("read the grader's open files", lambda: open(f"/proc/{GRADER_PID}/fd/{fd}").read(), note=False)
        if text and "def double" in text:
            return _exec_text(text)
    return False
'''

IMPORT_REFERENCE = '''
import importlib.machinery
import importlib.util


def _attack():
    def by_spec():
        spec = importlib.util.spec_from_file_location("stolen_reference", REFERENCE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.double

    def by_loader():
        return importlib.machinery.SourceFileLoader("stolen_again", REFERENCE).load_module().double

    def by_path():
        sys.path.insert(0, os.path.dirname(REFERENCE))
        try:
            spec = importlib.machinery.PathFinder.find_spec("toy", [os.path.dirname(REFERENCE)])
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.double
        finally:
            sys.path.remove(os.path.dirname(REFERENCE))

    for what, how in (("spec_from_file_location(reference)", by_spec), ("SourceFileLoader(reference)", by_loader),
                      ("PathFinder in the reference's folder", by_path)):
        stolen = _try(what, how)
        if stolen is not None:
            return stolen
    return False
'''

READ_SPEC = '''
def _attack():
    text = _try("open(spec)", lambda: open(SPEC).read())
    listing = _try("listdir(bank)", lambda: os.listdir(BANK_DIR))
    compiled = _try("open(spec's byte code)", lambda: os.listdir(os.path.join(os.path.dirname(SPEC), "__pycache__")))
    return bool(text and "doubles_large_values" in text) or bool(listing) or bool(compiled)
'''

ENVIRON = '''
def _attack():
    found = False
    targets = {str(GRADER_PID), str(HOLDER_PID), str(os.getppid())}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or entry == str(os.getpid()):
            continue
        data = _try(f"read /proc/{entry}/environ", lambda: open(f"/proc/{entry}/environ", "rb").read(),
                    note=entry in targets)
        if data and (SECRET_NAME + "=").encode() in data:
            found = True
    return found
'''

MEMORY = '''
class _iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


def _attack():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.process_vm_readv.restype = ctypes.c_ssize_t

    def vm_readv(pid):
        buffer = ctypes.create_string_buffer(64)
        local = _iovec(ctypes.cast(buffer, ctypes.c_void_p), 64)
        remote = _iovec(0x10000, 64)
        if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) < 0:
            error = _oserror()
            if error.errno not in (errno.EFAULT, errno.EIO):  # EFAULT: allowed in, but nothing mapped there
                raise error
        return True

    def ptrace_attach():
        if libc.ptrace(16, GRADER_PID, None, None) != 0:  # PTRACE_ATTACH
            raise _oserror()
        libc.ptrace(17, GRADER_PID, None, None)  # PTRACE_DETACH
        return True

    def open_mem():
        with open(f"/proc/{GRADER_PID}/mem", "rb"):
            return True

    def read_maps():
        with open(f"/proc/{GRADER_PID}/maps") as stream:
            return bool(stream.read(100))

    results = [_try("process_vm_readv(grader)", lambda: vm_readv(GRADER_PID)),
               _try("ptrace(ATTACH, grader)", ptrace_attach),
               _try(f"open /proc/{GRADER_PID}/mem", open_mem), _try(f"read /proc/{GRADER_PID}/maps", read_maps)]
    for pid in _pytest_pids():  # whatever else looks like the grader
        results.append(_try(f"process_vm_readv({pid})", lambda: vm_readv(pid), note=False))
        results.append(_try(f"open /proc/{pid}/mem", lambda: open(f"/proc/{pid}/mem", "rb").close() or True,
                            note=False))
    return any(results)
'''

NETWORK = '''
def _attack():
    def tcp(host):
        connection = socket.create_connection((host, TCP_PORT), timeout=0.3)
        connection.sendall(b"stolen")
        connection.close()
        return True

    def udp():
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(b"stolen", ("127.0.0.1", UDP_PORT))
        return True

    def unix(address):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(0.3)
        connection.connect(address)
        connection.sendall(b"stolen")
        connection.close()
        return True

    def raw():
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        return True

    def masked(family, kind):  # socket((1 << 32) | family, ...)
        return socket.socket(fileno=_raw("socket", (1 << 32) | family, kind, 0))

    def udp_masked():
        masked(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"stolen", ("127.0.0.1", UDP_PORT))
        return True

    def tcp_masked():
        connection = masked(socket.AF_INET, socket.SOCK_STREAM)
        connection.settimeout(0.3)
        connection.connect(("127.0.0.1", TCP_PORT))
        connection.sendall(b"stolen")
        return True

    def unix_masked():
        connection = masked(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(0.3)
        connection.connect(UNIX_PATH)
        connection.sendall(b"stolen")
        return True

    results = [_try("TCP to 127.0.0.1", lambda: tcp("127.0.0.1")), _try("TCP to ::1", lambda: tcp("::1")),
               _try("UDP to 127.0.0.1", udp), _try("abstract Unix socket", lambda: unix("\\0" + ABSTRACT_NAME)),
               _try("Unix socket file", lambda: unix(UNIX_PATH)), _try("packet socket", raw),
               _try("UDP, family with high bits", udp_masked), _try("TCP, family with high bits", tcp_masked),
               _try("Unix socket file, family with high bits", unix_masked)]
    return any(results)
'''

WRITE_OUTSIDE = '''
import stat


def _attack():
    def overwrite(path):
        with open(path, "w") as stream:
            stream.write("owned")
        return True

    def create(path):
        with open(path, "x") as stream:
            stream.write("owned")
        return True

    def open_for_append(path):  # the tampering of real files is only attempted: no byte is written
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        return True

    def chmod(path):
        os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | 0o777)
        return True

    def touch(path):
        os.utime(path, (0, 0))
        return True

    def tag(path):
        os.setxattr(path, "user.owned", b"1")
        return True

    attempts = [("overwrite the canary", lambda: overwrite(CANARY)),
                ("create a file next to the canary", lambda: create(CANARY + ".new")),
                ("chmod the canary", lambda: chmod(CANARY)), ("utime the canary", lambda: touch(CANARY)),
                ("setxattr the canary", lambda: tag(CANARY)),
                ("create a /tmp marker", lambda: create(TMP_MARKER)),
                ("create a /dev/shm marker", lambda: create(SHM_MARKER)),
                ("open the reference for writing", lambda: open_for_append(REFERENCE)),
                ("open the spec for writing", lambda: open_for_append(SPEC)),
                ("open the grader's code for writing", lambda: open_for_append(GRADER_FILE)),
                ("open the original submission for writing", lambda: open_for_append(ORIGINAL)),
                ("open ~/.bashrc for writing", lambda: open_for_append(os.path.expanduser("~/.bashrc")))]
    return any([_try(what, action) for what, action in attempts])
'''

SIGNALS = '''
import fcntl
import signal


def _attack():
    libc = ctypes.CDLL(None, use_errno=True)

    def kill(pid, number):
        os.kill(pid, number)
        return True

    def pidfd_signal(pid):
        fd = libc.syscall(434, pid, 0)  # pidfd_open
        if fd < 0:
            raise _oserror()
        try:
            if libc.syscall(424, fd, 0, None, 0) != 0:  # pidfd_send_signal(fd, 0): a probe
                raise _oserror()
        finally:
            os.close(fd)
        return True

    def tgkill(pid):
        if libc.syscall(234, pid, pid, 0) != 0:  # tgkill(pid, pid, 0): a probe
            raise _oserror()
        return True

    def sigio(pid):  # the sender cannot tell whether it worked: the grader's handler can
        read_end, write_end = os.pipe()
        fcntl.fcntl(read_end, fcntl.F_SETOWN, pid)
        fcntl.fcntl(read_end, 10, signal.SIGUSR1)  # F_SETSIG
        fcntl.fcntl(read_end, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
        os.write(write_end, b"x")
        return False

    attempts = [("SIGUSR1 to the grader", lambda: kill(GRADER_PID, signal.SIGUSR1)),
                ("SIGUSR1 to the zygote", lambda: kill(os.getppid(), signal.SIGUSR1)),
                ("kill(-1, 0)", lambda: kill(-1, 0)),
                ("kill(-1, 0) sign-extended", lambda: _raw("kill", -1, 0) == 0),
                ("killpg(grader's group, 0)", lambda: os.killpg(os.getpgid(GRADER_PID), 0) or True),
                ("pidfd_send_signal(grader, 0)", lambda: pidfd_signal(GRADER_PID)),
                ("tgkill(grader, 0)", lambda: tgkill(GRADER_PID)),
                ("SIGIO to the grader", lambda: sigio(GRADER_PID))]
    attempts += [(f"signal 0 to pytest {pid}", lambda pid=pid: kill(pid, 0)) for pid in _pytest_pids()]
    return any([_try(what, action) for what, action in attempts])
'''

OTHER_PROCESSES = '''
import resource


def _attack():
    libc = ctypes.CDLL(None, use_errno=True)

    def prlimit():  # set the grader's core-size limit to the value it has: proves it could set RLIMIT_CPU
        current = resource.prlimit(GRADER_PID, resource.RLIMIT_CORE)
        resource.prlimit(GRADER_PID, resource.RLIMIT_CORE, current)
        return True

    def renice():
        os.setpriority(os.PRIO_PROCESS, GRADER_PID, os.getpriority(os.PRIO_PROCESS, GRADER_PID))
        return True

    def affinity():
        os.sched_setaffinity(GRADER_PID, os.sched_getaffinity(GRADER_PID))
        return True

    def scheduler():
        os.sched_setscheduler(GRADER_PID, os.sched_getscheduler(GRADER_PID), os.sched_getparam(GRADER_PID))
        return True

    def io_priority():
        current = libc.syscall(252, 1, GRADER_PID)  # ioprio_get(IOPRIO_WHO_PROCESS, grader)
        if current < 0 or libc.syscall(251, 1, GRADER_PID, current) != 0:  # ioprio_set, same value
            raise _oserror()
        return True

    attempts = [("prlimit(grader)", prlimit), ("setpriority(grader)", renice),
                ("sched_setaffinity(grader)", affinity), ("sched_setscheduler(grader)", scheduler),
                ("ioprio_set(grader)", io_priority)]
    return any([_try(what, action) for what, action in attempts])
'''

DEVICES = '''
def _read(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _attack():
    typed = _try("read the grader's terminal", lambda: _read(TERMINAL))
    stolen = bool(typed and KEYSTROKES.encode() in typed)
    for path in ("/dev/vcs", "/dev/vcsa", "/dev/kmsg", "/dev/mem", "/dev/port"):
        if os.path.exists(path):
            stolen |= bool(_try(f"read {path}", lambda: _read(path)))
    for name in _try("list /sys/block", lambda: os.listdir("/sys/block")) or []:
        if os.path.exists(f"/dev/{name}"):
            stolen |= bool(_try(f"read /dev/{name}", lambda: _read(f"/dev/{name}")))
    return stolen
'''


# --- what a run must leave untouched ------------------------------------------------------------------


def _xattrs(path: Path) -> tuple:
    try:
        return tuple(sorted(os.listxattr(path, follow_symlinks=False)))
    except OSError:
        return ()


def snapshot(*roots) -> dict:
    """Bytes, type, mode, owner, modification time and extended attributes of every file under
    ``roots`` (directories: type, mode, owner and extended attributes; byte-code caches left out)."""
    state = {}
    for root in map(Path, roots):
        if not os.path.lexists(root):
            state[str(root)] = None
            continue
        paths = [root] + (sorted(root.rglob("*")) if root.is_dir() and not root.is_symlink() else [])
        for path in paths:
            if "__pycache__" in path.parts:
                continue
            info = path.lstat()
            entry = [stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, _xattrs(path)]
            if stat.S_ISREG(info.st_mode):
                entry += [info.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()]
            elif stat.S_ISLNK(info.st_mode):
                entry += [os.readlink(path)]
            state[str(path)] = tuple(entry)
    return state


def assert_unchanged(before: dict, after: dict) -> None:
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == [], f"changed outside the scratch area: {changed}"


def grader_state() -> dict:
    """What another process could change about the grader without signalling it."""
    limits = {name: resource.getrlimit(getattr(resource, name))
              for name in ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_AS", "RLIMIT_CORE")}
    return {"limits": limits, "nice": os.getpriority(os.PRIO_PROCESS, 0),
            "affinity": os.sched_getaffinity(0), "scheduler": os.sched_getscheduler(0)}


def validate(report: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(report)


def problem(result, problem_id):
    [found] = [p for p in result.problems if p.id == problem_id]
    return found


def statuses(entry) -> dict:
    return {q.name: q.status for q in entry.properties}


def earned(entry) -> float:
    """The points a problem (or a whole run) gives before any are withheld for review: most of these
    submissions use ctypes for their system calls, which is flagged as tampering (tests/test_tamper.py)."""
    return sum(p.withheld_score if p.status == "review" else p.score for p in getattr(entry, "problems", [entry]))


def messages(entry) -> str:
    return "\n".join(q.message for q in entry.properties)


# --- module fixtures: the secret, the signal trap, the zygotes -------------------------------------------


RECEIVED_SIGNALS: list[int] = []


@pytest.fixture(scope="module", autouse=True)
def signal_trap():
    """The grader notices any SIGUSR1 (a failed defence would deliver one; nothing else sends it)."""
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: RECEIVED_SIGNALS.append(number))
    try:
        yield RECEIVED_SIGNALS
    finally:
        signal.signal(signal.SIGUSR1, previous)


@pytest.fixture(scope="module", autouse=True)
def markers_cleaned():
    yield
    for marker in (TMP_MARKER, SHM_MARKER):
        marker.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def secret_holder():
    """The grader's environment holds a secret (set before any zygote starts); ``os.environ``
    changes do not show in /proc/PID/environ, so a process started with that environment (as the
    ``grade`` command line would be) holds it there too."""
    saved = os.environ.get(SECRET_NAME)
    os.environ[SECRET_NAME] = SECRET
    holder = subprocess.Popen(["sleep", "600"], env=dict(os.environ))
    try:
        def holds_the_secret() -> bool:  # the attack is possible at all (once sleep has started)
            with open(f"/proc/{holder.pid}/environ", "rb") as stream:
                return f"{SECRET_NAME}={SECRET}".encode() in stream.read()

        assert wait_until(holds_the_secret, 10.0)
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
        if saved is None:
            os.environ.pop(SECRET_NAME, None)
        else:
            os.environ[SECRET_NAME] = saved


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    """Where the hostile submissions (and bank copies) live: hidden from workers at the strong level
    like the bank and the reference (grade's own zygote hides the submission it grades)."""
    return tmp_path_factory.mktemp("hostile")


def _start(layers, hide=()):
    return Zygote(hide=hide, layers=layers).start()


def _stop(started: Zygote) -> None:
    pid = started.pid
    started.close()
    assert wait_until(lambda: not exists(pid), 10.0), "the zygote did not exit"


@pytest.fixture(scope="module")
def zygotes(secret_holder, arena):
    """One zygote per level, started lazily and shared by the module (each start costs ~1.5 s)."""
    started: dict[str, Zygote] = {}
    specs = {"strong": (("namespaces", "landlock", "seccomp"), [FIXTURE_BANK, FIXTURE_REFERENCE, arena]),
             "standard": (("landlock", "seccomp"), []),
             "minimal": ((), [])}

    def get(level: str) -> Zygote:
        if level not in started:
            layers, hide = specs[level]
            started[level] = _start(layers, hide)
            if level == "strong" and started[level].level != "strong":
                pytest.skip(f"this kernel does not reach the strong level: {started[level].warnings}")
            if level == "standard" and not HAS_LANDLOCK_AND_SECCOMP:
                pytest.skip("the kernel lacks Landlock or libseccomp is missing")
        return started[level]

    yield get
    for each in started.values():
        _stop(each)


# --- grading a hostile submission and checking every invariant -------------------------------------------


_counter = iter(range(10**6))


def write_submission(folder: Path, source: str, extra: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "toy.py").write_text(source)
    for name, text in (extra or {}).items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


@dataclass
class Graded:
    result: object
    report: dict
    elapsed: float

    @property
    def double(self):
        return problem(self.result, "toy.double")

    @property
    def square(self):
        return problem(self.result, "toy.square")

    @property
    def output(self) -> str:
        return "".join(p.output for p in self.result.problems)


def run(submission: Path, zygote: Zygote | None, *, bank=BANK, reference=FIXTURE_REFERENCE, limits=None,
        watch=(), unchanged=True, square_unaffected=True) -> Graded:
    """grade() one submission and check the invariants every hostile run must keep."""
    watched = (FIXTURES, GRADER_CODE, submission, *watch)
    before, state = snapshot(*watched), grader_state()
    pid = zygote.pid if zygote is not None else None
    started = time.monotonic()
    result = grade(submission, bank, reference_dir=reference, zygote=zygote, limits=limits)
    elapsed = time.monotonic() - started
    graded = Graded(result, to_json(result), elapsed)
    validate(graded.report)
    assert elapsed < WALL_LIMIT_S, f"grading took {elapsed:.1f} s"
    if zygote is not None:
        assert_no_workers(zygote)
        if zygote.level != "minimal":  # nothing could kill or replace the zygote
            assert zygote.pid == pid and zygote.alive()
    spawned = read_pids(graded.output)
    if spawned:
        assert_gone(spawned)
    if unchanged:
        assert_unchanged(before, snapshot(*watched))
        assert not TMP_MARKER.exists() and not SHM_MARKER.exists()
        assert RECEIVED_SIGNALS == [], "a signal from a worker reached the grader"
        assert grader_state() == state
    if square_unaffected:
        assert statuses(graded.square) == SQUARE_PASSED, messages(graded.square)
        # Most of these submissions use ctypes (for their system calls), which is also flagged
        # "tampering suspected" (tests/test_tamper.py): the square's points are then withheld, not lost.
        assert (earned(graded.square), graded.square.max_score) == (3.0, 3.0)
    return graded


def assert_cheat_blocked(graded: Graded, *fragments: str) -> None:
    """toy.double earned nothing, every property failed on the attack's own report of what stopped
    it (not on a crash), and each fragment names a defence that was seen to act."""
    double = graded.double
    assert (double.score, double.max_score) == (0.0, 3.0), messages(double)
    assert statuses(double) == dict.fromkeys(DOUBLE_NAMES, "failed"), messages(double)
    text = messages(double)
    assert "attack blocked" in text, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text}"
    assert earned(graded.result) == 3.0


def assert_cheat_worked(graded: Graded) -> None:
    """The control: without kernel layers the attack earns the points, so the checks above can see it."""
    assert statuses(graded.double) == dict.fromkeys(DOUBLE_NAMES, "passed"), messages(graded.double)
    assert earned(graded.result) == 6.0


# --- 1-6: reading what must stay hidden, reaching out, writing, signalling ---------------------------------


@pytest.fixture
def listeners(tmp_path):
    """A TCP and a UDP port on 127.0.0.1, an abstract and a file-system Unix socket, all owned by the
    test; afterwards, whether anything reached them."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    abstract_name = f"hostile-{TOKEN}-{next(_counter)}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind("\0" + abstract_name)
    abstract.listen()
    unix_path = str(tmp_path / "s.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(unix_path)
    unix.listen()
    for each in (tcp, udp, abstract, unix):
        each.setblocking(False)
    constants = {"TCP_PORT": tcp.getsockname()[1], "UDP_PORT": udp.getsockname()[1],
                 "ABSTRACT_NAME": abstract_name, "UNIX_PATH": unix_path}

    def reached() -> list[str]:
        hits = []
        for name, server in (("tcp", tcp), ("abstract", abstract), ("unix", unix)):
            try:
                connection, _ = server.accept()
                connection.close()
                hits.append(name)
            except BlockingIOError:
                pass
        try:
            udp.recv(100)
            hits.append("udp")
        except BlockingIOError:
            pass
        return hits

    yield constants, reached
    for each in (tcp, udp, abstract, unix):
        each.close()


@pytest.fixture
def terminal():
    """A pseudo-terminal of the grader's user with keystrokes waiting to be read."""
    try:
        master, slave = os.openpty()
    except OSError:
        yield None
        return
    keystrokes = f"hunter2-{uuid.uuid4().hex}"
    os.write(master, (keystrokes + "\n").encode())
    try:
        yield os.ttyname(slave), keystrokes
    finally:
        os.close(master)
        os.close(slave)


def _attack_source(attack: str, tmp_path: Path, secret_holder: int, listeners, terminal) -> tuple[str, dict]:
    """The source of one attack and, where it has one, the canary it aims at."""
    canary = tmp_path / "canary.txt"
    if attack == "read_reference":
        return hostile(READ_REFERENCE, **known_paths()), {}
    if attack == "import_reference":
        return hostile(IMPORT_REFERENCE, **known_paths()), {}
    if attack == "read_spec":
        return hostile(READ_SPEC, **known_paths()), {}
    if attack == "environ":
        return hostile(ENVIRON, **known_paths(SECRET_NAME=SECRET_NAME, HOLDER_PID=secret_holder)), {}
    if attack == "memory":
        return hostile(MEMORY, **known_paths()), {}
    if attack == "network":
        return hostile(NETWORK, **known_paths(**listeners[0])), {}
    if attack == "write":
        canary.write_text("original canary\n")
        return hostile(WRITE_OUTSIDE, **known_paths(CANARY=str(canary), TMP_MARKER=str(TMP_MARKER),
                                                    SHM_MARKER=str(SHM_MARKER),
                                                    GRADER_FILE=str(GRADER_CODE / "plugin.py"),
                                                    ORIGINAL="<set below>")), {"canary": canary}
    if attack == "devices":
        if terminal is None:
            pytest.skip("no pseudo-terminal can be opened here")
        name, keystrokes = terminal
        return hostile(DEVICES, **known_paths(TERMINAL=name, KEYSTROKES=keystrokes)), {}
    if attack == "signals":
        return hostile(SIGNALS, **known_paths()), {}
    if attack == "other_processes":
        return hostile(OTHER_PROCESSES, **known_paths()), {}
    raise AssertionError(attack)


# What each hardened level must be seen doing (a fragment of the attack's report of what stopped it).
DEFENCES = {
    ("read_reference", "strong"): ["No such file or directory"],  # covered by an empty mount
    ("read_reference", "standard"): ["Permission denied"],  # Landlock
    ("import_reference", "strong"): ["No such file or directory"],
    ("import_reference", "standard"): ["Permission denied"],
    ("read_spec", "strong"): ["open(spec): FileNotFoundError"],
    ("read_spec", "standard"): ["open(spec): PermissionError"],
    ("environ", None): ["/environ: PermissionError"],
    ("memory", None): ["process_vm_readv(grader): PermissionError", "ptrace(ATTACH, grader): PermissionError",
                       "/mem: PermissionError", "/maps: PermissionError"],
    ("network", None): ["TCP to 127.0.0.1: OSError: [Errno 97]", "UDP to 127.0.0.1: OSError: [Errno 97]",
                        "packet socket: OSError: [Errno 97]", "abstract Unix socket: OSError: [Errno 97]",
                        "Unix socket file: OSError: [Errno 97]", "UDP, family with high bits: OSError: [Errno 97]",
                        "Unix socket file, family with high bits: OSError: [Errno 97]",
                        "TCP, family with high bits: OSError: [Errno 97]"],
    ("write", None): ["overwrite the canary: PermissionError", "create a /tmp marker: PermissionError",
                      "chmod the canary: PermissionError", "utime the canary: PermissionError",
                      "setxattr the canary: PermissionError",
                      "open the reference for writing", "open the grader's code for writing: PermissionError"],
    ("devices", None): ["read the grader's terminal: PermissionError"],
    ("signals", None): ["SIGUSR1 to the grader: PermissionError", "SIGUSR1 to the zygote: PermissionError",
                        "kill(-1, 0): PermissionError", "kill(-1, 0) sign-extended: PermissionError",
                        "pidfd_send_signal(grader, 0): PermissionError",
                        "tgkill(grader, 0): PermissionError"],
    ("other_processes", None): ["prlimit(grader): PermissionError", "setpriority(grader): PermissionError",
                                "sched_setaffinity(grader): PermissionError",
                                "sched_setscheduler(grader): PermissionError", "ioprio_set(grader): PermissionError"],
}

ATTACKS = ["read_reference", "import_reference", "read_spec", "environ", "memory", "network", "write", "devices",
           "signals", "other_processes"]
# Attacks that must work at the minimal level (same user, no kernel layer): the controls.
CONTROLLED = ["read_reference", "import_reference", "read_spec", "environ", "network", "write", "devices",
              "other_processes"]


@pytest.mark.parametrize("level", HARDENED)
@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_earns_nothing_and_changes_nothing(attack, level, zygotes, arena, tmp_path, secret_holder, listeners,
                                                  terminal):
    if level == "standard" and not HAS_LANDLOCK_AND_SECCOMP:
        pytest.skip("the kernel lacks Landlock or libseccomp is missing")
    if attack == "signals" and landlock_abi() < 6:
        pytest.skip("needs Landlock signal scoping (ABI 6, Linux 6.12)")
    zygote = zygotes(level)
    source, targets = _attack_source(attack, tmp_path, secret_holder, listeners, terminal)
    submission = arena / f"{attack}-{level}"
    source = source.replace("'<set below>'", repr(str(submission / "toy.py")))
    write_submission(submission, source)
    graded = run(submission, zygote, watch=[tmp_path])
    fragments = DEFENCES.get((attack, level)) or DEFENCES.get((attack, None), [])
    assert_cheat_blocked(graded, *fragments)
    assert listeners[1]() == []
    if "canary" in targets:
        assert targets["canary"].read_text() == "original canary\n"
    assert graded.report["isolation"] == level


@pytest.mark.parametrize("attack", CONTROLLED)
def test_without_kernel_layers_the_attack_works(attack, zygotes, arena, tmp_path, secret_holder, listeners,
                                                terminal):
    # The control for the test above: at the minimal level the same submission earns the points.
    zygote = zygotes("minimal")
    source, targets = _attack_source(attack, tmp_path, secret_holder, listeners, terminal)
    submission = arena / f"{attack}-minimal"
    source = source.replace("'<set below>'", repr(str(submission / "toy.py")))
    write_submission(submission, source)
    try:
        graded = run(submission, zygote, watch=[tmp_path], unchanged=False)
    finally:
        TMP_MARKER.unlink(missing_ok=True)
        SHM_MARKER.unlink(missing_ok=True)
    assert graded.report["isolation"] == "minimal"
    assert_cheat_worked(graded)
    if attack == "network":
        assert "tcp" in listeners[1]()
    if attack == "write":
        assert targets["canary"].read_text() == "owned"


SECCOMP_ALONE = '''
def _attack():
    def masked_socket(family, kind):
        return socket.socket(fileno=_raw("socket", (1 << 32) | family, kind, 0))

    def udp():
        masked_socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"stolen", ("127.0.0.1", UDP_PORT))
        return True

    attempts = [("kill(-1, 0)", lambda: os.kill(-1, 0) or True),
                ("kill(-1, 0) sign-extended", lambda: _raw("kill", -1, 0) == 0),
                ("kill(-1, 0) zero-extended", lambda: _raw("kill", 0xFFFFFFFF, 0) == 0),
                ("UDP, family with high bits", udp),
                ("Unix socket, family with high bits",
                 lambda: bool(masked_socket(socket.AF_UNIX, socket.SOCK_STREAM))),
                ("fork", lambda: os.fork() == 0 and os._exit(0) or True)]
    return any([_try(what, action) for what, action in attempts])
'''


@pytest.mark.skipif(not seccomp_available(), reason="libseccomp is missing")
def test_seccomp_alone_stops_kill_everyone_sockets_and_fork(listeners, arena):
    # Landlock before ABI 6 (Linux < 6.12, e.g. Ubuntu 24.04's 6.8) does not scope signals, and never
    # covers UDP: there, only the seccomp filter stops kill(-1, ...) and internet sockets, whatever
    # the upper half of the registers holds. Signal 0 only: harmless if the filter failed.
    constants, reached = listeners
    submission = write_submission(arena / "seccomp-alone", hostile(SECCOMP_ALONE, **known_paths(**constants)))
    zygote = _start(("seccomp",))
    try:
        assert zygote.isolation.get("seccomp") and not zygote.isolation.get("landlock")
        graded = run(submission, zygote)
    finally:
        _stop(zygote)
    assert_cheat_blocked(graded, "kill(-1, 0): PermissionError", "kill(-1, 0) sign-extended: PermissionError",
                         "kill(-1, 0) zero-extended: PermissionError",
                         "UDP, family with high bits: OSError: [Errno 97]",
                         "Unix socket, family with high bits: OSError: [Errno 97]", "fork: PermissionError")
    assert reached() == []


# --- 7: objects that lie ------------------------------------------------------------------------------------

LIARS = {
    "tensor_subclass_eq_and_torch_function": '''
        import torch

        class Liar(torch.Tensor):
            """Zeros that claim to equal anything, through every comparison torch offers."""

            def __eq__(self, other):
                return torch.ones(self.shape, dtype=torch.bool)

            def __ne__(self, other):
                return torch.zeros(self.shape, dtype=torch.bool)

            def __array__(self, dtype=None, copy=None):
                import numpy
                return numpy.full(tuple(self.shape), 2.0)  # not what the tensor holds

            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                name = getattr(func, "__name__", "")
                if name in ("eq", "allclose", "isclose", "equal", "__eq__"):
                    return True
                if name in ("sub", "__sub__", "abs", "__abs__"):
                    return torch.zeros(1)
                return super().__torch_function__(func, types, args, kwargs or {})

        def double(x):
            return torch.zeros_like(x).as_subclass(Liar)

        def square(x):
            return x * x
    ''',
    "torch_function_forges_conversion": '''
        import numpy as np
        import torch

        class Everything:
            def __eq__(self, other):
                return True
            def __float__(self):
                return 0.0

        class Forger(torch.Tensor):
            """Whatever the harness converts it with, it hands over an object array of liars."""

            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                if getattr(func, "__name__", "") in ("numpy", "detach", "cpu", "to", "__array__"):
                    return np.array([Everything()] * 2, dtype=object)
                return super().__torch_function__(func, types, args, kwargs or {})

        def double(x):
            return torch.zeros_like(x).as_subclass(Forger)

        def square(x):
            return x * x
    ''',
    "ndarray_subclass_eq": '''
        import numpy as np

        class Agreeable(np.ndarray):
            def __eq__(self, other):
                return np.ones(self.shape, dtype=bool)
            def __sub__(self, other):
                return np.zeros(self.shape)
            def __abs__(self):
                return np.zeros(self.shape)

        def double(x):
            return np.zeros(tuple(x.shape)).view(Agreeable)

        def square(x):
            return x * x
    ''',
    "object_eq_true": '''
        class Anything:
            def __eq__(self, other):
                return True
            def __array__(self, dtype=None, copy=None):
                raise TypeError("no")
            def __float__(self):
                return 0.0

        def double(x):
            return Anything()

        def square(x):
            return x * x
    ''',
    "nan": '''
        import torch

        def double(x):
            return torch.full_like(x, float("nan"))

        def square(x):
            return x * x
    ''',
    "infinity": '''
        import torch

        def double(x):
            return torch.full_like(x, float("inf")) * torch.sign(x)

        def square(x):
            return x * x
    ''',
    "list_of_floats": '''
        def double(x):
            return [float("nan")] * len(x)

        def square(x):
            return x * x
    ''',
}


@pytest.mark.parametrize("name", sorted(LIARS))
def test_lying_objects_earn_nothing(name, zygotes, arena):
    submission = write_submission(arena / f"liar-{name}", textwrap.dedent(LIARS[name]))
    graded = run(submission, zygotes("strong"))
    double = graded.double
    assert (double.score, double.max_score) == (0.0, 3.0), messages(double)
    assert set(statuses(double).values()) == {"failed"}, messages(double)
    assert earned(graded.result) == 3.0


# --- 8: shadowing modules ---------------------------------------------------------------------------------

SHADOWS = ("numpy", "torch", "hypothesis", "pytest", "grader", "sitecustomize", "usercustomize", "conftest",
           "_pytest", "pluggy", "json", "importlib", "protocol", "harness", "worker", "spec", "plugin")


def test_shadowing_modules_are_never_imported(zygotes, arena, tmp_path):
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    shadow = (
        "import os\n"
        "try:\n"
        f"    open(os.path.join({str(marker_dir)!r}, __name__), 'w').close()\n"
        "except OSError:\n"
        "    pass\n"
        "raise ImportError('a shadowing module was imported: ' + __name__)\n"
    )
    correct = (
        "import numpy as np\n"
        "import torch\n\n\n"
        "def double(x):\n"
        "    return x + x\n\n\n"
        "def square(x):\n"
        "    return torch.from_numpy(np.square(x.numpy()))\n"
    )
    submission = write_submission(arena / "shadowing", correct, {f"{name}.py": shadow for name in SHADOWS})
    (submission / "grader").mkdir()  # a package of the grader's name, too
    (submission / "grader" / "__init__.py").write_text(shadow)
    graded = run(submission, zygotes("strong"), watch=[tmp_path])
    assert statuses(graded.double) == dict.fromkeys(DOUBLE_NAMES, "passed"), messages(graded.double)
    assert earned(graded.result) == graded.result.max_score == 6.0
    assert list(marker_dir.iterdir()) == []  # neither the grader nor a worker imported any of them


# --- 9: conftest tricks ---------------------------------------------------------------------------------------

CONFTEST = '''
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None


def pytest_collection_modifyitems(items):
    for item in items:
        item.obj = lambda *args, **kwargs: None


@pytest.fixture(autouse=True)
def everything_passes():
    yield
'''

CONFTEST_TOY = '''
import os

import torch

# Plant pytest configuration everywhere the grader's pytest run might look.
PLANTS = {
    os.path.join(BANK_COPY, "conftest.py"): CONFTEST,
    os.path.join(BANK_COPY, "toy", "conftest.py"): CONFTEST,
    os.path.join(BANK_COPY, "toy", "double", "conftest.py"): CONFTEST,
    os.path.join(BANK_COPY, "pytest.ini"): "[pytest]\\naddopts = -p no:grader\\n",
    os.path.join(os.getcwd(), "conftest.py"): CONFTEST,
    os.path.join(os.getcwd(), "sitecustomize.py"): "raise SystemExit(0)\\n",
}
for path, text in PLANTS.items():
    try:
        with open(path, "w") as stream:
            stream.write(text)
        print("planted", path)
    except OSError as error:
        print("could not plant", path, type(error).__name__)


def double(x):
    return torch.zeros_like(x)


def square(x):
    return x * x
'''


def test_conftest_tricks_change_nothing(zygotes, arena):
    bank_copy = arena / "conftest-bank"
    shutil.copytree(FIXTURE_BANK, bank_copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = f"BANK_COPY = {str(bank_copy)!r}\nCONFTEST = {CONFTEST!r}\n" + textwrap.dedent(CONFTEST_TOY)
    submission = write_submission(arena / "conftest", source,
                                  {"conftest.py": CONFTEST, "pytest.ini": "[pytest]\naddopts = -p conftest\n",
                                   "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-p conftest'\n"})
    graded = run(submission, zygotes("strong"), bank=load_bank(bank_copy), watch=[bank_copy])
    assert statuses(graded.double) == dict.fromkeys(DOUBLE_NAMES, "failed"), messages(graded.double)
    assert graded.double.score == 0.0 and earned(graded.result) == 3.0
    assert "could not plant " + str(bank_copy / "conftest.py") in graded.output
    # the worker's own scratch directory is writable: planting there works, and changes nothing
    assert "planted " in graded.output and "conftest.py" in graded.output
    assert sorted(p.name for p in bank_copy.rglob("conftest.py")) == []


# --- 10-11: exits, signals to itself, hangs, bombs -------------------------------------------------------------

MISBEHAVIOURS = {
    # name: (body of double, expected status of every double property, fragment of its message)
    "os_exit_0": ("os._exit(0)", "error", "exited with status 0"),
    "sys_exit_0": ("sys.exit(0)", "failed", "SystemExit"),
    "keyboard_interrupt": ("raise KeyboardInterrupt", "failed", "KeyboardInterrupt"),
    "sigkill_self": ("os.kill(os.getpid(), signal.SIGKILL)", "error", "killed by signal SIGKILL"),
    "abort": ("os.abort()", "error", "killed by signal SIGABRT"),
    "segfault": ("ctypes.string_at(0)", "error", "killed by signal SIGSEGV"),
    "ignore_sigterm_and_hang": ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                "    while True:\n"
                                "        pass", "timeout", "no answer within the 1 s CPU budget"),
    # a sleep uses no CPU: the call's wall-clock backstop (5x its 1 s CPU budget) ends it
    "sleep_forever": ("time.sleep(10_000)", "timeout", "the wall-clock backstop of 5 s ended the call"),
    "memory_bomb": ("hoard = bytearray(16 << 30)", "failed", "MemoryError"),
    "gradual_memory_bomb": ("hoard = []\n"
                            "    while True:\n"
                            "        hoard.append(np.empty(1 << 27))", "failed", "MemoryError"),
    "fork_bomb": ("for _ in range(64):\n"
                  "        if os.fork() == 0:\n"  # a failed defence: the child leaves at once
                  "            os._exit(0)\n"
                  "    return 2 * x", "failed", "PermissionError"),
    "thread_and_fork": ("import threading\n"
                        "    threading.Thread(target=lambda: os.fork() == 0 and os._exit(0)).start()\n"
                        "    return 2 * x if os.fork() else os._exit(0)", "failed", "PermissionError"),
    "output_flood": ("for _ in range(2_000):\n"
                     "        print('flood ' * 100)\n"
                     "        sys.stderr.write('flood ' * 100 + '\\n')\n"
                     "    return torch.zeros_like(x)", "failed", "is 0, but should be"),
    "recursion": ("def down(n):\n"
                  "        return down(n + 1) + 1\n"
                  "    return down(0)", "failed", "RecursionError"),
    "disk_bomb": ("print('scratch', os.getcwd())\n"
                  "    with open('hoard.bin', 'wb') as stream:\n"
                  "        stream.write(b'x' * (100 << 20))\n"
                  "    return 2 * x", "failed", "File too large"),
}


def misbehaving(body: str) -> str:
    return ("import ctypes\nimport os\nimport signal\nimport sys\nimport time\n\nimport numpy as np\nimport torch\n\n\n"
            f"def double(x):\n    {body}\n\n\ndef square(x):\n    return x * x\n")


@pytest.mark.parametrize("name", sorted(MISBEHAVIOURS))
def test_exits_hangs_and_bombs_cost_only_their_own_problem(name, zygotes, arena):
    body, status, fragment = MISBEHAVIOURS[name]
    submission = write_submission(arena / f"misbehaving-{name}", misbehaving(body))
    graded = run(submission, zygotes("strong"))
    double = graded.double
    assert statuses(double) == dict.fromkeys(DOUBLE_NAMES, status), messages(double)
    assert all(fragment in q.message for q in double.properties), messages(double)
    assert double.score == 0.0 and earned(graded.result) == 3.0
    if status == "timeout":  # one 1 s CPU budget (or 5 s backstop) per property, not the 10 s default's
        assert graded.elapsed < (30 if name == "sleep_forever" else 20)
    if name == "output_flood":
        kept = double.output.split("\n[... ")[0]
        assert len(kept) <= 2048 and "more bytes of output dropped]" in double.output
        assert all(len(p["output"]) <= 16 * 1024 for p in graded.report["problems"])
    if name == "disk_bomb":
        scratch = [line.split(" ", 1)[1] for line in graded.output.splitlines() if line.startswith("scratch ")]
        assert scratch and not any(os.path.exists(path) for path in scratch)


# --- 12: processes left behind ----------------------------------------------------------------------------------

SPAWNER = '''
import os
import subprocess
import time

import torch

_spawned = []


def _spawn():
    if _spawned:
        return
    child = subprocess.Popen(["sleep", "1000"], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _spawned.append(child.pid)
    print(f"spawned {child.pid}", flush=True)
    middle = os.fork()
    if middle == 0:
        os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(1000)
        print(f"spawned {grandchild}", flush=True)
        os._exit(0)
    os.waitpid(middle, 0)


def double(x):
    _spawn()  # the right answer only once a process is running
    return 2 * x


def square(x):
    return x * x
'''


@pytest.mark.parametrize("allowed", [False, True], ids=["denied", "allowed"])
def test_processes_are_denied_or_do_not_outlive_the_run(allowed, zygotes, arena):
    zygote = zygotes("strong")
    submission = write_submission(arena / f"spawner-{allowed}", SPAWNER)
    graded = run(submission, zygote, limits=SPAWNING if allowed else None)
    if not allowed:
        assert statuses(graded.double) == dict.fromkeys(DOUBLE_NAMES, "failed")
        assert all("PermissionError" in q.message for q in graded.double.properties), messages(graded.double)
        assert read_pids(graded.output) == set()
    else:
        assert earned(graded.double) == 3.0  # the problem allows processes: no cheat, but nothing may stay
        pids = read_pids(graded.output)
        assert len(pids) >= 2
        assert_gone(pids)
    assert tree_of(zygote.pid) == set()


# --- 13: staging refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["link_to_reference", "link_to_outside_dir", "fifo", "link_to_the_bank_spec"])
def test_unstageable_submissions_are_refused_without_crashing(kind, zygotes, arena, tmp_path):
    submission = write_submission(arena / f"refused-{kind}", "def double(x):\n    return 2 * x\n\n\n"
                                                              "def square(x):\n    return x * x\n")
    if kind == "link_to_reference":
        (submission / "helper.py").symlink_to(REFERENCE_FILE)
    elif kind == "link_to_the_bank_spec":
        (submission / "spec.py").symlink_to(SPEC_FILE)
    elif kind == "link_to_outside_dir":
        (submission / "reference").symlink_to(FIXTURE_REFERENCE, target_is_directory=True)
    else:
        os.mkfifo(submission / "pipe")
    graded = run(submission, zygotes("strong"), square_unaffected=False)
    assert graded.result.score == 0.0 and graded.result.max_score == 6.0
    for entry in graded.result.problems:
        assert entry.status == "error" and "refused" in entry.message, entry.message
        assert all(q.status == "error" and "refused" in q.message for q in entry.properties)


# --- 14: sabotage of another submission in the same batch -------------------------------------------------------

SABOTEUR = '''
import stat


def _attack():
    victim = os.path.join(VICTIM, "toy.py")
    copied = _try("read the victim's toy.py", lambda: open(victim).read())
    if copied:  # plagiarism: the victim's correct double
        namespace = {}
        exec(copied, namespace)
        return namespace["double"]

    def overwrite(path, text):
        with open(path, "w") as stream:
            stream.write(text)
        return True

    sabotage = "def double(x):\\n    return 0 * x\\n\\n\\ndef square(x):\\n    return 0 * x\\n"
    scratch_link = os.path.join(os.getcwd(), "victim-link.py")
    attempts = [
        ("overwrite the victim's toy.py", lambda: overwrite(victim, sabotage)),
        ("plant sitecustomize.py", lambda: overwrite(os.path.join(VICTIM, "sitecustomize.py"), "raise SystemExit\\n")),
        ("plant numpy.py", lambda: overwrite(os.path.join(VICTIM, "numpy.py"), "raise ImportError\\n")),
        ("delete the victim's toy.py", lambda: os.unlink(victim) or True),
        ("rename the victim's toy.py", lambda: os.rename(victim, victim + ".bak") or True),
        ("hard-link it into the scratch area", lambda: os.link(victim, scratch_link) or True),
        ("chmod it unreadable", lambda: os.chmod(victim, 0) or True),
        ("chown it", lambda: os.chown(victim, os.getuid(), os.getgid()) or True),
        ("backdate it", lambda: os.utime(victim, (0, 0)) or True),
        ("tag it", lambda: os.setxattr(victim, "user.owned", b"1") or True),
        ("symlink into the victim", lambda: os.symlink("/etc/passwd", os.path.join(VICTIM, "evil.py")) or True),
    ]
    return any([_try(what, action) for what, action in attempts])
'''

VICTIM = '''import torch


def double(x):
    return x + x


def square(x):
    return torch.square(x)
'''


def test_a_saboteur_cannot_touch_another_submission_of_its_batch(zygotes, tmp_path):
    batch = tmp_path / "batch"
    victim = write_submission(batch / "victim", VICTIM)
    attacker = write_submission(batch / "attacker", hostile(SABOTEUR, VICTIM=str(victim)))
    before = snapshot(victim)
    # the attacker is graded as the command line grades it: its own zygote, which hides the bank, the
    # reference and the attacker's own folder (not its sibling: Landlock alone guards the victim)
    graded = run(attacker, None, watch=[victim])
    assert_cheat_blocked(graded, "read the victim's toy.py: PermissionError", "chmod it unreadable: PermissionError",
                         "backdate it: PermissionError", "tag it: PermissionError",
                         "hard-link it into the scratch area")
    assert graded.report["isolation"] == zygotes("strong").level
    assert_unchanged(before, snapshot(victim))
    assert sorted(p.name for p in victim.iterdir()) == ["toy.py"]
    result = run(victim, zygotes("strong"))
    assert earned(result.result) == result.result.max_score == 6.0


# --- 15: the report ---------------------------------------------------------------------------------------------

REPORT_FORGER = '''
import json


def _attack():
    forged = {"score": 6.0, "max_score": 6.0, "percent": 100.0, "problems": []}

    def forge(path):
        with open(path, "w") as stream:
            json.dump(forged, stream)
        return True

    def replace_with_link(path):
        os.symlink(CANARY, path + ".tmp")
        os.replace(path + ".tmp", path)
        return True

    attempts = [("overwrite the report", lambda: forge(REPORT)),
                ("plant the atomic writer's temporary file", lambda: forge(os.path.join(os.path.dirname(REPORT),
                                                                                       ".report.json.forged"))),
                ("swap the report for a symlink", lambda: replace_with_link(REPORT))]
    return any([_try(what, action) for what, action in attempts])
'''


def test_the_report_is_the_graders(zygotes, arena, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    report_path = reports / "report.json"
    report_path.write_text('{"old": "report"}\n')
    canary = tmp_path / "canary.txt"
    canary.write_text("original canary\n")
    submission = write_submission(arena / "report-forger",
                                  hostile(REPORT_FORGER, REPORT=str(report_path), CANARY=str(canary)))
    graded = run(submission, zygotes("strong"), watch=[reports, canary])
    assert_cheat_blocked(graded, "overwrite the report: PermissionError")
    write_json(graded.result, report_path)
    written = json.loads(report_path.read_text())
    validate(written)
    assert (written["score"], written["max_score"]) == (graded.result.score, 6.0)
    assert [(p["id"], p["score"]) for p in written["problems"]] == [(p.id, p.score) for p in graded.result.problems]
    assert [(p.id, earned(p)) for p in graded.result.problems] == [("toy.double", 0.0), ("toy.square", 3.0)]
    assert written == json.loads(json.dumps(graded.report))
    assert sorted(p.name for p in reports.iterdir()) == ["report.json"]
    assert canary.read_text() == "original canary\n"


# --- 16: the level reached, and refusing to grade below the one required -------------------------------------


def test_this_machine_reaches_the_strongest_level_its_kernel_supports(tmp_path):
    if not HAS_LANDLOCK_AND_SECCOMP:
        pytest.skip("the kernel lacks Landlock or libseccomp is missing")
    if not _user_namespaces_work():
        pytest.skip("unprivileged user namespaces are not available here: 'standard' is the strongest level")
    submission = write_submission(tmp_path / "own-zygote", hostile(READ_REFERENCE, **known_paths()))
    assert str(submission.resolve()) in hidden_paths(submission, BANK, FIXTURE_REFERENCE)
    graded = run(submission, None)  # grade() starts, and hides what it must from, its own zygote
    report = graded.report
    assert report["isolation"] == "strong"
    assert {"landlock", "seccomp", "namespaces"} <= set(report["isolation_layers"])
    assert report["isolation_warnings"] == []
    assert_cheat_blocked(graded, "No such file or directory")


@needs_standard
def test_without_user_namespaces_landlock_and_seccomp_still_apply(zygotes):
    standard = zygotes("standard")
    assert standard.level == "standard"
    assert {"landlock", "seccomp"} <= set(standard.applied_layers)
    assert "namespaces" not in standard.applied_layers
    assert any("namespaces" in warning for warning in standard.warnings)
    # attacks 1, 3, 4 and 5 at this level: test_attack_earns_nothing_and_changes_nothing[...-standard]


def test_no_kernel_layer_is_the_minimal_level(zygotes):
    minimal = zygotes("minimal")
    assert minimal.level == "minimal"
    assert not {"landlock", "seccomp", "namespaces"} & set(minimal.applied_layers)


@needs_standard
def test_requiring_a_level_above_the_one_reached_refuses_to_grade(zygotes, arena):
    submission = write_submission(arena / "requires-strong", VICTIM)
    with pytest.raises(IsolationTooWeak, match=r"isolation level 'standard' reached, 'strong' required"):
        grade(submission, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygotes("standard"),
              require_isolation="strong")
    with pytest.raises(IsolationTooWeak, match=r"isolation level 'minimal' reached, 'standard' required"):
        grade(submission, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygotes("minimal"),
              require_isolation="standard")
    assert_no_workers(zygotes("standard"))


@needs_standard
def test_the_command_line_refuses_to_grade_below_the_required_level(tmp_path):
    submission = write_submission(tmp_path / "cli", VICTIM)
    env = {**os.environ, "GRADE_BANK": str(FIXTURE_BANK), "GRADE_REFERENCE": str(FIXTURE_REFERENCE),
           "GRADE_ISOLATION_LAYERS": "landlock,seccomp"}
    env.pop("GRADE_DEBUG", None)
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "grader", "run", str(submission), "--require-isolation", "strong",
                           "--json", str(report)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("grade: error: isolation level 'standard' reached, 'strong' required ("), lines[0]
    assert "Traceback" not in done.stderr and not report.exists()
