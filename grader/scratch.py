"""Scratch directories that do not outlive a killed grader.

Every ``grade`` command stages copies of submissions (a whole class, for ``grade batch``) under the
temporary directory. A normal exit, an exception, Ctrl-C and SIGTERM remove them (the CLI turns
SIGTERM into the same unwinding as Ctrl-C). SIGKILL, an out-of-memory kill or a power cut cannot be
caught: for those, each scratch directory holds a small marker naming the process that owns it, and
:func:`sweep_stale` (run by every ``grade`` command as it starts) removes the directories whose
owner is gone. It only ever removes a directory that

- sits directly in the temporary directory with one of this module's prefixes, is a real directory
  (not a symbolic link) and belongs to the current user;
- holds a well-formed marker written in the same PID namespace (a PID means nothing across two);
- names a process that no longer exists, or whose start time differs (its PID was reused).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

MARKER = ".grader-owner"
PREFIXES = ("grade-scratch-", "grade-batch-", "grade-audit-")


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22), or None
    when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _pid_namespace() -> int | None:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


def _owner() -> dict:
    return {"pid": os.getpid(), "start_time": _start_time(os.getpid()), "pid_namespace": _pid_namespace()}


def _alive(owner: dict) -> bool:
    pid = owner["pid"]
    if owner["start_time"] is None:  # no /proc where it was written: all we can ask is whether the PID exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return _start_time(pid) == owner["start_time"]


class ScratchDirectory(tempfile.TemporaryDirectory):
    """:class:`tempfile.TemporaryDirectory` plus the marker that lets a later command remove it if
    this process is killed before it can."""

    def __init__(self, prefix: str, dir: str | os.PathLike | None = None):  # noqa: A002 - tempfile's name
        super().__init__(prefix=prefix, dir=dir)
        marker = Path(self.name) / MARKER
        marker.write_text(json.dumps(_owner()))


def _stale(path: Path, uid: int, namespace: int | None) -> bool:
    try:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            return False
        marker = path / MARKER
        if marker.is_symlink():
            return False
        owner = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(owner, dict) or type(owner.get("pid")) is not int or owner["pid"] <= 0:
        return False
    if owner.get("pid_namespace") != namespace or not isinstance(owner.get("start_time"), (int, type(None))):
        return False
    return not _alive(owner)


def sweep_stale(directory: str | os.PathLike | None = None) -> list[Path]:
    """Remove the scratch directories left by ``grade`` processes that were killed; return them."""
    root = Path(directory if directory is not None else tempfile.gettempdir())
    uid, namespace = os.getuid(), _pid_namespace()
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for path in entries:
        if path.name.startswith(PREFIXES) and _stale(path, uid, namespace):
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
    return removed
