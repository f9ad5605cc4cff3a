"""Staging a submission: a fresh copy in the run's scratch area, refusing what could reach outside.

Workers only ever see the copy. Symbolic links that point outside the submission, special files
(devices, FIFOs, sockets), and submissions too large or with too many files are refused with a
message that says which entry and why; links inside the submission are copied as the files they
point to. Byte-code caches are not copied.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

MAX_FILES = 2000
MAX_BYTES = 64 << 20
SKIPPED_DIRS = {"__pycache__", ".git", ".hypothesis", ".pytest_cache"}


class SubmissionRefused(Exception):
    """The submission cannot be graded as it is; the message says which entry and why."""


def stage(source: Path, destination: Path, *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> Path:
    """Copy ``source`` into ``destination`` (created) and return it."""
    source = Path(source)
    root = os.path.realpath(source)
    destination.mkdir(parents=True)
    files = size = 0
    for directory, subdirs, names in os.walk(root, followlinks=False):
        relative_dir = os.path.relpath(directory, root)
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in sorted(subdirs):
            path = os.path.join(directory, name)
            if os.path.islink(path):
                _refuse_link(path, root, source, is_dir=True)
            (destination / relative_dir / name).mkdir()
        for name in sorted(names):
            path = os.path.join(directory, name)
            shown = os.path.join(relative_dir, name) if relative_dir != "." else name
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                _refuse_link(path, root, source, is_dir=False)
                info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                raise SubmissionRefused(f"{shown} is not a regular file (device, FIFO or socket): refused")
            files += 1
            size += info.st_size
            if files > max_files:
                raise SubmissionRefused(f"more than {max_files} files: refused")
            if size > max_bytes:
                raise SubmissionRefused(f"larger than {max_bytes >> 20} MiB: refused")
            shutil.copyfile(path, destination / relative_dir / name, follow_symlinks=True)
    return destination


def _refuse_link(path: str, root: str, source: Path, *, is_dir: bool) -> None:
    target = os.path.realpath(path)
    shown = os.path.relpath(path, root)
    if not (target == root or target.startswith(root + os.sep)) or not os.path.exists(target):
        raise SubmissionRefused(
            f"{shown} is a symbolic link to {os.readlink(path)}, outside the submission: refused")
    if is_dir:
        raise SubmissionRefused(f"{shown} is a symbolic link to a directory: refused")
