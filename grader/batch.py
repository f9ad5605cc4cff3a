"""Grading a whole class: ``grade batch DIR``.

Every sub-directory or ``.zip`` of DIR is one submission. The trusted batch process finds them,
hashes them, skips those the gradebook already holds under the same key, and hands the rest to an
executor:

- ``local`` (default): ``-j N`` long-lived grading processes, each holding its own preloaded zygote
  and grading one submission after another (torch is imported once per process, not once per
  submission). A grading process that dies or outlives its time costs the submission it was
  grading (recorded as an error, retried by the next batch) and is replaced; nothing else is lost.
- ``dask``: each submission is one task on a Dask distributed cluster (``--scheduler ADDR``, or a
  ``LocalCluster`` of ``-j`` single-threaded worker processes). The task receives the submission's
  bytes, grades it with its own zygote on the worker machine and returns the JSON report.

Either way only plain data (the JSON report) comes back, and only this process writes the
gradebook, one transaction per submission.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import selectors
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader import keys
from grader.gradebook import under_review
from grader.keys import file_hash
from grader.scratch import ScratchDirectory, sweep_stale
from grader.submission import MAX_BYTES, MAX_FILES, SKIPPED_DIRS, SubmissionRefused

# A grading process that outlives this (per submission) is killed; the bank's own budgets (300 s
# per problem by default) normally end a hostile submission long before.
DEFAULT_SUBMISSION_TIMEOUT_S = 3600.0
# A zip whose entries expand more than this many times over their compressed size is a bomb.
MAX_COMPRESSION_RATIO = 200
STARTUP_FAILURES_ALLOWED = 3
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS")


class BatchError(Exception):
    """The batch cannot run as asked (an empty directory, two submissions with the same name...)."""


# --- what a batch grades ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One entry of the batch directory."""

    name: str
    path: Path
    kind: str  # "dir" or "zip"
    content_hash: str


def discover(directory: Path) -> list[Submission]:
    """The submissions of ``directory``: its sub-directories and ``.zip`` files (hidden entries and
    other files are ignored), sorted by name. A zip's name is its file name without ``.zip``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BatchError(f"batch directory not found: {directory}" if not directory.exists()
                         else f"batch directory must be a directory of submissions: {directory}")
    found: dict[str, Submission] = {}
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            submission = Submission(entry.name, entry, "dir", tree_hash(entry))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            submission = Submission(entry.name[:-4], entry, "zip", file_hash(entry))
        else:
            continue
        if submission.name in found:
            raise BatchError(f"two submissions are named {submission.name!r}: "
                             f"{found[submission.name].path.name} and {entry.name}")
        found[submission.name] = submission
    return [found[name] for name in sorted(found)]


def tree_hash(root: Path) -> str:
    """sha256 over a submission folder as grading sees it (byte-code caches are left out)."""
    return keys.tree_hash(root, SKIPPED_DIRS)


def bank_version(bank_dir: Path, reference_dir: Path | None) -> str:
    """sha256 over every file of the problem bank and of the reference solutions (byte-code caches
    left out): a change to a spec, a mistake catalogue, a limit or the reference is a new version."""
    digest = hashlib.sha256()
    for label, root in (("bank", bank_dir), ("reference", reference_dir)):
        if root is None or not Path(root).is_dir():
            digest.update(f"{label}\0absent\n".encode())
            continue
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            if any(part in SKIPPED_DIRS for part in relative.parts) or path.suffix == ".pyc":
                continue
            digest.update(f"{label}\0{relative.as_posix()}\0{file_hash(path)}\n".encode())
    return digest.hexdigest()


# --- zip submissions ---------------------------------------------------------------------------------


def safe_extract(archive, destination: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> Path:
    """Extract a zip (a path or bytes) into ``destination`` (created), refusing absolute paths,
    ``..``, links and special files, encrypted entries, duplicates, too many files, too many bytes
    and bombs (counted on the bytes actually inflated, not the sizes the archive claims). A zip
    whose entries all sit in one top-level folder is extracted without that folder."""
    source = io.BytesIO(archive) if isinstance(archive, (bytes, bytearray)) else archive
    try:
        bundle = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise SubmissionRefused(f"not a readable zip archive ({error}): refused") from None
    with bundle:
        entries = _checked_entries(bundle, max_files)
        prefix = _common_folder([name for name, _ in entries])
        destination.mkdir(parents=True)
        total = 0
        for name, info in entries:
            relative = name[len(prefix):]
            if not relative:
                continue
            target = destination.joinpath(*relative.rstrip("/").split("/"))
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            remaining = max_bytes - total
            ratio_cap = max(info.compress_size, 1) * MAX_COMPRESSION_RATIO + (1 << 16)
            written = _inflate(bundle, info, target, min(remaining, ratio_cap))
            if written > remaining:
                raise SubmissionRefused(f"larger than {_size(max_bytes)} once extracted: refused")
            if written > ratio_cap:
                raise SubmissionRefused(f"{name} expands more than {MAX_COMPRESSION_RATIO} times "
                                        "(a zip bomb): refused")
            total += written
    return destination


def _checked_entries(bundle: zipfile.ZipFile, max_files: int) -> list[tuple[str, zipfile.ZipInfo]]:
    entries, seen = [], set()
    for info in bundle.infolist():
        name = info.filename
        parts = name.rstrip("/").split("/")
        if name.startswith("__MACOSX/") or any(p in SKIPPED_DIRS for p in parts):
            continue
        if not name or name.startswith("/") or "\\" in name or "\0" in name or (len(name) > 1 and name[1] == ":"):
            raise SubmissionRefused(f"{name!r} is an absolute or non-portable path: refused")
        if any(p in ("", ".", "..") for p in parts):
            raise SubmissionRefused(f"{name!r} leaves the submission (.. or empty path parts): refused")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise SubmissionRefused(f"{name} is a symbolic link: refused")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise SubmissionRefused(f"{name} is not a regular file: refused")
        if info.flag_bits & 0x1:
            raise SubmissionRefused(f"{name} is encrypted: refused")
        if name.rstrip("/") in seen:
            raise SubmissionRefused(f"{name} appears twice in the archive: refused")
        seen.add(name.rstrip("/"))
        entries.append((name, info))
        if sum(not i.is_dir() for _, i in entries) > max_files:
            raise SubmissionRefused(f"more than {max_files} files: refused")
    return entries


def _common_folder(names: list[str]) -> str:
    """``"alice/"`` when every entry lies inside the folder ``alice``, else ``""``."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names if name.rstrip("/") != next(iter(tops))):
        top = next(iter(tops))
        if any(name.startswith(top + "/") and name != top + "/" for name in names):
            return top + "/"
    return ""


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count >> 10} KiB"


def _inflate(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limit: int) -> int:
    """Write the entry's bytes to ``target``, at most ``limit`` + 1 of them (one past the limit
    says that it was crossed, whatever size the archive claims); the count written."""
    written = 0
    try:
        with bundle.open(info) as source, open(target, "xb") as sink:
            while written <= limit:
                chunk = source.read(min(1 << 16, limit + 1 - written))
                if not chunk:
                    break
                sink.write(chunk)
                written += len(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as error:
        raise SubmissionRefused(f"{info.filename} cannot be extracted ({error}): refused") from None
    return written


# --- grading one submission (in a grading process or a Dask task) ----------------------------------


def grade_task(task: dict, problems, *, reference_dir, seed: int, device: str, zygote=None, scratch_root=None,
               limits=None, secret: bytes | None = None) -> dict:
    """Grade one submission described by ``task`` and return its JSON report (plain data).

    ``task["kind"]``: ``dir`` (``path`` to a directory), ``zip`` (``path`` to an archive),
    ``zipdata`` (the archive's ``data``), ``tree`` (``files``: relative path -> bytes) or
    ``refused`` (``reason``). ``task["source"]`` is what the report names as the submission."""
    from grader.report import to_json
    from grader.runner import _refused, collect_properties, grade, hidden_paths
    from grader.sandbox import Zygote

    with ScratchDirectory("grade-batch-task-", dir=scratch_root) as scratch:
        folder, refusal = _materialize(task, Path(scratch) / "submission")
        own = zygote is None
        if own:
            hide = hidden_paths(folder or Path(scratch), problems, reference_dir) + [scratch]
            zygote = Zygote(hide=sorted(set(hide))).launch()
        try:
            if refusal is None:
                result = grade(folder, problems, device=device, seed=seed, reference_dir=reference_dir,
                               zygote=zygote, limits=limits, secret=secret)
            else:
                started = time.perf_counter()
                infos = {p.id: collect_properties(p) for p in problems}
                zygote.wait_ready()
                extra = {"reference_dir": reference_dir} if "reference_dir" in inspect.signature(_refused).parameters else {}
                result = _refused(folder or Path(scratch), problems, infos, refusal, seed, device, zygote,
                                  zygote.warnings, started, **extra)
        finally:
            if own:
                zygote.close()
    # The gradebook is for staff: hidden properties are stored whole (exports to students redact them).
    report = to_json(result, show_hidden=True) if "show_hidden" in inspect.signature(to_json).parameters \
        else to_json(result)
    report["submission"] = task["source"]
    return report


def _materialize(task: dict, folder: Path) -> tuple[Path | None, str | None]:
    """The directory to grade for ``task``, or the reason it is refused."""
    kind = task["kind"]
    try:
        if kind == "dir":
            return Path(task["path"]), None
        if kind == "zip":
            return safe_extract(Path(task["path"]), folder), None
        if kind == "zipdata":
            return safe_extract(task["data"], folder), None
        if kind == "tree":
            return _write_tree(task["files"], folder), None
        if kind == "refused":
            return None, task["reason"]
    except SubmissionRefused as refusal:
        return None, str(refusal)
    raise ValueError(f"unknown task kind {kind!r}")


def _write_tree(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for relative, data in sorted(files.items()):
        parts = relative.split("/")
        if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise SubmissionRefused(f"{relative!r} is not a relative path inside the submission: refused")
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def read_tree(path: Path) -> dict:
    """A directory submission as a task that carries its bytes (for a worker on another machine):
    staged with the engine's rules first, so a refused submission travels as its refusal."""
    from grader.submission import stage

    with ScratchDirectory("grade-batch-read-") as scratch:
        try:
            staged = stage(path, Path(scratch) / "copy")
        except SubmissionRefused as refusal:
            return {"kind": "refused", "reason": str(refusal)}
        files = {p.relative_to(staged).as_posix(): p.read_bytes() for p in sorted(staged.rglob("*")) if p.is_file()}
    return {"kind": "tree", "files": files}


# --- the local executor: long-lived grading processes -------------------------------------------------


def _pin_threads() -> None:
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = "1"


def serve() -> None:
    """Body of a grading process: ``python -c ... serve RESULT_FD CONFIG``. Reads one task (JSON)
    per line on stdin, answers one JSON line per task on RESULT_FD; exits at end of input. Dies with
    the batch process (``PR_SET_PDEATHSIG``), and its zygote dies with it."""
    from grader.zygote import PR_SET_PDEATHSIG, prctl

    result_fd, config = int(sys.argv[1]), json.loads(sys.argv[2])
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != config["parent"]:
        os._exit(1)  # the batch died before we could ask to die with it
    _pin_threads()
    channel = os.fdopen(result_fd, "w", encoding="utf-8", buffering=1)

    import torch

    torch.set_num_threads(1)
    from grader.bank import load_bank, select
    from grader.sandbox import Limits, Zygote

    problems = select(load_bank(Path(config["bank"])), config["problems"])
    reference = Path(config["reference"]) if config["reference"] else None
    zygote = Zygote(hide=config["hide"]).start()
    channel.write(json.dumps({"hello": {"pid": os.getpid(), "isolation": zygote.level,
                                        "warnings": zygote.warnings}}) + "\n")
    bank_dir = Path(config["bank"])
    try:
        for line in sys.stdin:
            task = json.loads(line)
            try:
                report = grade_task(task, problems, reference_dir=reference, seed=config["seed"],
                                    device=config["device"], zygote=zygote, scratch_root=config["scratch"],
                                    limits=Limits(), secret=_secret_of(config))
                # Specs are imported afresh for each submission: a bank edited mid-batch must not
                # be recorded under the version the batch started with.
                found = bank_version(bank_dir, reference)
                if found != config["bank_version"]:
                    raise BatchError(f"the problem bank or the reference changed during the batch (version "
                                     f"{found[:12]}, the batch started with {config['bank_version'][:12]})")
                answer = {"report": report}
            except Exception as error:  # noqa: BLE001 - the grader's own failure on this submission
                answer = {"error": f"{type(error).__name__}: {error}"}
            channel.write(json.dumps(answer, allow_nan=False) + "\n")
    finally:
        zygote.close()
    os._exit(0)  # skip tearing torch down


_BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from grader.batch import serve; serve()"


@dataclass
class Outcome:
    """What became of one submission: its JSON report, or why the grader could not grade it."""

    submission: Submission
    report: dict | None = None
    error: str | None = None


class _GradingProcess:
    def __init__(self, number: int, config: dict, log_dir: Path):
        from grader.sandbox import PACKAGE_ROOT

        self.number = number
        self.log_path = log_dir / f"grading-process-{number}.log"
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env.update({variable: "1" for variable in _THREAD_VARIABLES})
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, PACKAGE_ROOT, str(write_fd), json.dumps(config)],
                stdin=subprocess.PIPE, stdout=log, stderr=log, pass_fds=[write_fd], env=env, close_fds=True)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.fd = read_fd
        self.buffer = b""
        self.hello: dict | None = None
        self.task: Submission | None = None
        self.deadline = float("inf")
        self.timed_out = False

    def send(self, submission: Submission, task: dict, timeout_s: float) -> bool:
        self.task, self.deadline, self.timed_out = submission, time.monotonic() + timeout_s, False
        try:
            self.process.stdin.write((json.dumps(task) + "\n").encode())
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def read_messages(self) -> tuple[list[dict], bool]:
        """Messages received so far, and whether the process closed its end (it died or exited)."""
        closed = False
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                closed = True
                break
            self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()], closed

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def end(self) -> str:
        """Reap the process; how it ended, with the tail of its log."""
        self.kill()
        code = self.process.wait()
        os.close(self.fd)
        if self.process.stdin:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        tail = _tail(self.log_path)
        return how + (f"; its last output: {tail}" if tail else "")


def _tail(path: Path, limit: int = 600) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return " | ".join(text[-limit:].splitlines()[-6:])


class LocalExecutor:
    """``jobs`` grading processes on this machine, each with its own zygote."""

    name = "local"

    def __init__(self, jobs: int, *, problems, bank_dir: Path, reference_dir, seed: int, device: str,
                 hide: list[str], bank_version: str, timeout_s: float = DEFAULT_SUBMISSION_TIMEOUT_S,
                 require_isolation=None, secret: bytes | None = None):
        self.jobs, self.problems, self.bank_dir, self.reference_dir = jobs, problems, bank_dir, reference_dir
        self.secret = secret
        self.bank_version = bank_version
        self.seed, self.device, self.hide, self.timeout_s = seed, device, hide, timeout_s
        self.require_isolation = require_isolation
        self.isolation: dict | None = None

    def run(self, submissions: list[Submission], on_outcome) -> None:
        if not submissions:
            return
        with ScratchDirectory("grade-batch-") as scratch:
            scratch = Path(scratch)
            (scratch / "tasks").mkdir()
            config = {"parent": os.getpid(), "bank": str(self.bank_dir), "problems": [p.id for p in self.problems],
                      "reference": str(self.reference_dir) if self.reference_dir else None, "seed": self.seed,
                      # to the grading processes over their stdin pipe, never their command line or environment
                      "secret": None if self.secret is None else self.secret.hex(),
                      "device": self.device, "scratch": str(scratch / "tasks"), "bank_version": self.bank_version,
                      "hide": sorted(set(self.hide) | {str(scratch)})}
            self._loop(list(submissions), on_outcome, config, scratch)

    def _loop(self, pending: list[Submission], on_outcome, config: dict, scratch: Path) -> None:
        selector = selectors.DefaultSelector()
        processes: list[_GradingProcess] = []
        started, failures = 0, 0

        def spawn():
            nonlocal started
            started += 1
            process = _GradingProcess(started, config, scratch)
            processes.append(process)
            selector.register(process.fd, selectors.EVENT_READ, process)

        def retire(process: _GradingProcess, reason: str | None):
            nonlocal failures
            selector.unregister(process.fd)
            processes.remove(process)
            how = process.end()
            if process.task is not None:
                message = reason or f"the grading process died ({how})"
                on_outcome(Outcome(process.task, error=message))
            if process.hello is None:
                failures += 1
                if failures >= STARTUP_FAILURES_ALLOWED:
                    raise RuntimeError(f"grading processes fail to start ({how})")

        try:
            for _ in range(min(self.jobs, len(pending))):
                spawn()
            while processes:
                for process in list(processes):
                    if process.hello is not None and process.task is None:
                        if not pending:
                            retire(process, None)
                            continue
                        submission = pending.pop(0)
                        if not process.send(submission, self._task(submission), self.timeout_s):
                            # it died between tasks: the submission goes back, untouched
                            process.task = None
                            pending.insert(0, submission)
                            retire(process, None)
                            spawn()
                for process in processes:
                    if process.task is not None and time.monotonic() > process.deadline and not process.timed_out:
                        process.timed_out = True
                        process.kill()
                wait = min([p.deadline - time.monotonic() for p in processes if p.task is not None] + [1.0])
                for key, _ in selector.select(timeout=max(wait, 0.01)):
                    process = key.data
                    messages, closed = process.read_messages()
                    for message in messages:
                        self._handle(process, message, on_outcome)
                    if closed:
                        reason = (f"grading took longer than {self.timeout_s:g} s; its grading process was killed"
                                  if process.timed_out else None)
                        retire(process, reason)
                        if pending and len(processes) < self.jobs:
                            spawn()
        finally:
            for process in processes:
                process.kill()
                process.end()
            selector.close()
            # Grading processes killed mid-grading (a timeout, an interrupted batch) could not remove their
            # scratch copies, which live outside this batch's own directory (workers must not see that one).
            sweep_stale()

    def _handle(self, process: _GradingProcess, message: dict, on_outcome) -> None:
        if "hello" in message:
            process.hello = message["hello"]
            if self.isolation is None:
                self.isolation = process.hello
                self._check_isolation()
            return
        submission, process.task, process.deadline = process.task, None, float("inf")
        if "report" in message:
            on_outcome(Outcome(submission, report=message["report"]))
        else:
            on_outcome(Outcome(submission, error=message.get("error", "malformed answer from a grading process")))

    def _check_isolation(self) -> None:
        from grader.isolation import LEVELS
        from grader.runner import IsolationTooWeak

        level = self.isolation["isolation"]
        if self.require_isolation and LEVELS.index(level) < LEVELS.index(self.require_isolation):
            raise IsolationTooWeak(f"isolation level {level!r} reached, {self.require_isolation!r} required "
                                   f"({'; '.join(self.isolation['warnings']) or 'see docs/isolation.md'})")

    @staticmethod
    def _task(submission: Submission) -> dict:
        return {"kind": submission.kind, "path": str(submission.path), "source": str(submission.path)}


# --- the Dask executor ---------------------------------------------------------------------------------

_task_lock = threading.Lock()


def grade_remote(task: dict, settings: dict) -> dict:
    """A Dask task: grade one submission on this worker with its own zygote; the JSON report.

    The worker grades with its own bank (``GRADE_BANK`` or the installed one), which must be the
    version the batch was started with: a mismatch would record grades of another bank."""
    from grader.bank import default_reference_dir, load_bank, select

    with _task_lock:  # one pytest run per process at a time (a worker may have several threads)
        bank = Path(settings["bank"]) if settings.get("bank") and Path(settings["bank"]).is_dir() else None
        problems = select(load_bank(bank), settings["problems"])
        bank_dir = problems[0].folder.parent.parent if problems else bank
        reference = settings.get("reference")
        reference = Path(reference) if reference and Path(reference).is_dir() else default_reference_dir()
        reference = reference if reference.is_dir() else None
        found = bank_version(bank_dir, reference)
        if found != settings["bank_version"]:
            raise BatchError(f"the worker's problem bank is version {found[:12]}, the batch's {settings['bank_version'][:12]} "
                             "(install the same bank and reference on every worker)")
        _pin_threads()
        report = grade_task(task, problems, reference_dir=reference, seed=settings["seed"], device=settings["device"],
                            secret=_secret_of(settings))
        if bank_version(bank_dir, reference) != found:
            raise BatchError("the worker's problem bank or reference changed while it graded")
        return report


class DaskExecutor:
    """Each submission is one task on a Dask cluster; ``scheduler`` None starts a LocalCluster."""

    name = "dask"

    def __init__(self, jobs: int, *, scheduler: str | None, problems, bank_dir: Path, reference_dir, seed: int,
                 device: str, bank_version: str, secret: bytes | None = None):
        self.jobs, self.scheduler, self.problems = jobs, scheduler, problems
        # Paths on this machine: a worker elsewhere without them uses its own installed bank and
        # reference (and must have the same version).
        self.settings = {"problems": [p.id for p in problems], "seed": seed, "device": device,
                         "bank_version": bank_version, "bank": str(bank_dir),
                         "reference": str(reference_dir) if reference_dir else None,
                         # travels with each task to the cluster's workers (the staff's own machines)
                         "secret": None if secret is None else secret.hex()}
        self.isolation: dict | None = None

    def run(self, submissions: list[Submission], on_outcome) -> None:
        if not submissions:
            return
        import logging

        from distributed import Client, LocalCluster, as_completed

        cluster = None
        if self.scheduler is None:
            cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            try:
                client = Client(self.scheduler, timeout=30)
            except OSError as error:
                raise BatchError(f"cannot reach the Dask scheduler at {self.scheduler}: {error}") from None
        try:
            futures = {}
            for submission in submissions:
                task = read_tree(submission.path) if submission.kind == "dir" else {
                    "kind": "zipdata", "data": submission.path.read_bytes()}
                task["source"] = str(submission.path)
                future = client.submit(grade_remote, task, self.settings, pure=False, retries=0,
                                       key=f"grade-{submission.content_hash[:16]}-{len(futures)}")
                futures[future] = submission
            for future in as_completed(futures):
                submission = futures[future]
                try:
                    report = future.result()
                except Exception as error:  # noqa: BLE001 - a task's failure costs its submission only
                    on_outcome(Outcome(submission, error=f"{type(error).__name__}: {error}"))
                    continue
                if self.isolation is None:
                    self.isolation = {"isolation": report["isolation"], "warnings": report["isolation_warnings"]}
                on_outcome(Outcome(submission, report=report))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


# --- the batch ---------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    run_id: int
    submissions: list[Submission]
    skipped: list[Submission] = field(default_factory=list)
    graded: list[Outcome] = field(default_factory=list)
    errored: list[Outcome] = field(default_factory=list)
    duration_s: float = 0.0
    bank_version: str = ""
    isolation: dict | None = None


def extra_hidden(paths) -> list[str]:
    """Directories to cover in the workers' namespace besides the engine's own list (the batch
    directory, the gradebook's), less any that hold what the zygote needs to run."""
    from grader.sandbox import PACKAGE_ROOT

    needed = [os.path.realpath(p) for p in (PACKAGE_ROOT, sys.prefix, sys.base_prefix, sys.exec_prefix,
                                            tempfile.gettempdir(), os.path.expanduser("~"))]
    found = []
    for path in paths:
        real = os.path.realpath(path)
        if os.path.isdir(real) and real != "/" and not any(n == real or n.startswith(real.rstrip("/") + "/")
                                                          for n in needed):
            found.append(real)
    return found


def _secret_of(config: dict) -> bytes | None:
    return None if config.get("secret") is None else bytes.fromhex(config["secret"])


def batch_selection(problems, secret: bytes | None) -> str:
    """The gradebook's ``selection`` key: the graded problems, and the secret's fingerprint when one keys
    the inputs (a grading under another secret drew other inputs, so it is not interchangeable)."""
    from grader.keys import fingerprint

    ids = [p.id for p in problems]
    return json.dumps(ids if secret is None else {"problems": ids, "secret_fingerprint": fingerprint(secret)})


def run_batch(directory: Path, problems, gradebook, *, jobs: int = 1, executor: str = "local",
              scheduler: str | None = None, seed: int = 0, device: str = "cpu", reference_dir=None,
              bank_dir: Path | None = None, timeout_s: float = DEFAULT_SUBMISSION_TIMEOUT_S,
              require_isolation: str | None = None, on_start=None, on_outcome=None,
              secret: bytes | None = None) -> BatchResult:
    """Grade every submission of ``directory`` not yet in ``gradebook`` (a :class:`Gradebook`) and
    record each result as it arrives. ``on_start(to_grade, skipped)`` and ``on_outcome(outcome)``
    report progress."""
    from grader.bank import default_bank_dir
    from grader.gradebook import GradingKey
    from grader.runner import hidden_paths

    started = time.monotonic()
    bank_dir = Path(bank_dir or (problems[0].folder.parent.parent if problems else default_bank_dir()))
    submissions = discover(directory)
    version = bank_version(bank_dir, reference_dir)
    selection = batch_selection(problems, secret)

    def key(submission: Submission) -> GradingKey:
        return GradingKey(submission.name, submission.content_hash, version, seed, grader.__version__, selection)

    done = gradebook.graded_keys()
    skipped = [s for s in submissions if key(s).as_tuple() in done]
    to_grade = [s for s in submissions if key(s).as_tuple() not in done]
    run_id = gradebook.start_run(directory=str(Path(directory).resolve()), executor=executor, jobs=jobs, seed=seed,
                                 device=device, bank_version=version, grader_version=grader.__version__,
                                 selection=selection)
    result = BatchResult(run_id=run_id, submissions=submissions, skipped=skipped, bank_version=version)
    if on_start is not None:
        on_start(to_grade, skipped)

    def record(outcome: Outcome) -> None:
        if outcome.report is not None:
            gradebook.record(run_id, key(outcome.submission), str(outcome.submission.path), outcome.report)
            result.graded.append(outcome)
        else:
            gradebook.record_error(run_id, key(outcome.submission), str(outcome.submission.path), outcome.error)
            result.errored.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    if executor == "dask":
        runner = DaskExecutor(jobs, scheduler=scheduler, problems=problems, bank_dir=bank_dir,
                              reference_dir=reference_dir, seed=seed, device=device, bank_version=version,
                              secret=secret)
    else:
        hide = hidden_paths(Path(directory), problems, reference_dir)
        hide += extra_hidden([Path(directory), Path(gradebook.path).resolve().parent])
        runner = LocalExecutor(jobs, problems=problems, bank_dir=bank_dir, reference_dir=reference_dir, seed=seed,
                               device=device, hide=sorted(set(hide)), bank_version=version, timeout_s=timeout_s,
                               require_isolation=require_isolation, secret=secret)
    try:
        runner.run(to_grade, record)
    finally:
        gradebook.finish_run(run_id, submissions=len(submissions), graded=len(result.graded), skipped=len(skipped),
                             errored=len(result.errored))
    result.isolation = runner.isolation
    result.duration_s = round(time.monotonic() - started, 3)
    return result


# --- the command ------------------------------------------------------------------------------------


def _progress(console):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task):
            elapsed = task.elapsed or 0.0
            return Text(f"{60 * task.completed / elapsed:.1f}/min" if elapsed > 0 and task.completed else "-/min")

    return Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)


def outcome_line(outcome: Outcome, done: int, total: int) -> str:
    width = len(str(total))
    head = f"[{done:>{width}}/{total}] {outcome.submission.name}"
    if outcome.report is None:
        return f"{head}: not graded: {outcome.error}"
    report = outcome.report
    line = (f"{head}: {report['score']:g}/{report['max_score']:g} ({report['percent']:.1f}%) "
            f"in {report['duration_s']:.1f} s")
    reviewed = under_review(report)
    if reviewed:
        line += f"; tampering suspected, withheld for review: {', '.join(reviewed)}"
    return line


def command(args) -> int:
    """``grade batch``: grade DIR, record into the gradebook, summarise; exit 1 when some
    submission could not be graded (the next run retries it)."""
    from rich.console import Console

    from grader.bank import default_reference_dir, load_bank, select
    from grader.cli import EXIT_OK, UsageError, read_secret, resolve_device
    from grader.export import write_export
    from grader.gradebook import GradebookError, GradingKey, open_gradebook
    from grader.report import write_atomic
    from grader.summary import render_summary, summarize, summary_html

    secret = read_secret(args)
    if args.jobs < 1:
        raise UsageError(f"-j/--jobs must be at least 1, got {args.jobs}")
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler needs --executor dask")
    for option, path in (("--db", args.db), ("--csv", args.csv), ("--html", args.html)):
        if path is not None and (path.is_dir() or not path.resolve().parent.is_dir()):
            raise UsageError(f"{option}: cannot write to {path}")
    try:
        submissions = discover(Path(args.directory))
    except BatchError as error:
        raise UsageError(str(error)) from None
    problems = select(load_bank(), args.problems)
    reference = default_reference_dir()
    reference = reference if reference.is_dir() else None
    device = resolve_device(args.device)
    html_path = args.html or args.db.with_name(args.db.stem + "-summary.html")
    console = Console(file=sys.stdout)
    try:
        gradebook = open_gradebook(args.db)
    except GradebookError as error:
        raise UsageError(str(error)) from None
    progress = _progress(console) if console.is_terminal else None
    state = {"done": 0, "total": 0, "task": None}

    def on_start(to_grade, skipped):
        state["total"] = len(to_grade)
        console.print(f"Batch {args.directory}: {len(submissions)} submission{'s' * (len(submissions) != 1)}, "
                      f"{len(skipped)} already graded (skipped), {len(to_grade)} to grade with "
                      f"{args.executor} -j {args.jobs}", soft_wrap=True)
        if progress is not None:
            progress.start()
            state["task"] = progress.add_task("grading", total=len(to_grade))

    def on_outcome(outcome):
        state["done"] += 1
        line = outcome_line(outcome, state["done"], state["total"])
        if progress is not None:
            progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            progress.advance(state["task"])
            if state["done"] == state["total"]:
                progress.stop()  # the rate and ETA of a finished batch would keep decaying
        else:
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    try:
        result = run_batch(Path(args.directory), problems, gradebook, jobs=args.jobs, executor=args.executor,
                           scheduler=args.scheduler, seed=args.seed, device=device, reference_dir=reference,
                           timeout_s=args.timeout, require_isolation=args.require_isolation,
                           on_start=on_start, on_outcome=on_outcome, secret=secret)
    except BatchError as error:
        raise UsageError(str(error)) from None
    finally:
        if progress is not None:
            progress.stop()
    try:
        selection = batch_selection(problems, secret)
        gradings = [gradebook.grading_for(GradingKey(s.name, s.content_hash, result.bank_version, args.seed,
                                                     grader.__version__, selection)) for s in submissions]
        gradings = [g for g in gradings if g is not None]
        summary = summarize(gradings)
        console.print()
        render_summary(summary, console)
        write_atomic(html_path, summary_html(summary, f"Batch summary: {Path(args.directory).resolve().name}"))
        if args.csv is not None:
            write_export(gradebook, "csv", args.csv, gradings=gradings)
    finally:
        gradebook.close()
    isolation = result.isolation or {}
    console.print(f"Graded {len(result.graded)}, skipped {len(result.skipped)}, not graded {len(result.errored)} "
                  f"in {result.duration_s:.1f} s; isolation {isolation.get('isolation', 'n/a')}, "
                  f"bank {result.bank_version[:12]}, seed {args.seed}", soft_wrap=True)
    console.print(f"Gradebook: {args.db}   Summary page: {html_path}"
                  + (f"   CSV: {args.csv}" if args.csv is not None else ""), soft_wrap=True)
    return 1 if result.errored else EXIT_OK
