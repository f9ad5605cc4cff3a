"""Where a grading's inputs come from: keys that no earlier run reveals, and that staff can replay.

A property's examples (Hypothesis' seed, the ``rng`` fixture, every noise seed Hypothesis draws) are a
function of one :class:`InputKey` and of the property's name, nothing else: not of which other
problems or properties run, nor in what order (see :func:`pin_hypothesis`).

- A graded run (``grade run``, ``batch``, ``ci``, Gradescope) keys its inputs with the sha256 of the
  submission as graded (the staged copy) and, where staff configured one, a course secret. Any edit of
  the submission (a lookup table of answers harvested from an earlier run's output, say) changes every
  input; without the secret nobody can compute the inputs of a submission in advance.
- ``grade check`` uses a public stream that depends on the seed only, so that a student's
  counterexample stays put while they debug; it is never the graded stream.

The report records the stream, the seed, the submission's hash and the secret's fingerprint (an HMAC
that identifies which secret was used and reveals nothing of it): with the same bytes and the same
secret, ``grade run`` reproduces a graded report exactly. See docs/inputs.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

STREAMS = ("graded", "check")
_DOMAIN = "dgm-grader/inputs/1"
MIN_SECRET_BYTES = 16
SECRET_ENV = "GRADE_SECRET"
SECRET_FILE_ENV = "GRADE_SECRET_FILE"


class SecretError(Exception):
    """A secret that cannot be used (missing file, too short): a usage error."""


@dataclass(frozen=True)
class InputKey:
    stream: str
    seed: int
    content: str | None = None  # sha256 of the staged submission (graded stream only)
    secret: bytes | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.stream not in STREAMS:
            raise ValueError(f"unknown input stream {self.stream!r}")
        if self.stream == "check" and (self.content is not None or self.secret is not None):
            raise ValueError("the check stream is public: it takes neither a content hash nor a secret")

    def seed_for(self, *parts: str) -> int:
        """A 64-bit seed for one consumer of randomness (a property, its rng fixture)."""
        message = "\0".join([_DOMAIN, self.stream, str(self.seed), self.content or "", *parts]).encode()
        return int.from_bytes(hmac.new(self.secret or b"", message, hashlib.sha256).digest()[:8], "big")

    @property
    def fingerprint(self) -> str | None:
        return fingerprint(self.secret) if self.secret is not None else None

    def describe(self) -> dict:
        """What a report records: enough for staff to replay it, nothing a student could use."""
        return {"stream": self.stream, "seed": self.seed, "submission_sha256": self.content,
                "secret_fingerprint": self.fingerprint}


def fingerprint(secret: bytes) -> str:
    return hmac.new(secret, b"dgm-grader/fingerprint", hashlib.sha256).hexdigest()[:16]


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_hash(root: Path, skipped_dirs=frozenset()) -> str:
    """sha256 over a directory's entries as grading sees them: relative paths, file bytes, link
    targets (links are not followed) and special files by type; ``skipped_dirs`` are left out."""
    digest = hashlib.sha256()
    root = os.path.realpath(root)
    for directory, subdirs, names in os.walk(root, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if d not in skipped_dirs)
        for name in sorted(names) + [d for d in subdirs if os.path.islink(os.path.join(directory, d))]:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                entry = f"link\0{relative}\0{os.readlink(path)}"
            elif stat.S_ISREG(info.st_mode):
                entry = f"file\0{relative}\0{file_hash(Path(path))}"
            else:
                entry = f"special\0{relative}\0{stat.S_IFMT(info.st_mode)}"
            digest.update(entry.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def read_secret(path: str | os.PathLike | None = None, *, environ=None) -> bytes | None:
    """The course secret: from ``path``, else from $GRADE_SECRET_FILE, else $GRADE_SECRET (a CI secret),
    else None. Surrounding whitespace is ignored; fewer than 16 bytes is refused."""
    environ = os.environ if environ is None else environ
    origin = None
    if path is None and environ.get(SECRET_FILE_ENV):
        path = environ[SECRET_FILE_ENV]
    if path is not None:
        origin = str(path)
        try:
            value = Path(path).read_bytes()
        except OSError as error:
            raise SecretError(f"cannot read the secret file {path}: {error.strerror or error}") from None
    elif environ.get(SECRET_ENV):
        origin, value = f"${SECRET_ENV}", environ[SECRET_ENV].encode()
    else:
        return None
    value = value.strip()
    if len(value) < MIN_SECRET_BYTES:
        raise SecretError(f"the secret from {origin} is too short ({len(value)} bytes; at least "
                          f"{MIN_SECRET_BYTES}): make one with `grade secret FILE`")
    return value


def new_secret() -> str:
    return secrets.token_hex(32)


def pin_hypothesis() -> None:
    """Make Hypothesis' examples independent of what else this process imported.

    Hypothesis (>= 6.131) mixes into generation literal constants it collects from every "local" module
    in ``sys.modules``: the specs of the other problems of the run, the reference, the grader itself when
    installed in editable mode, a test suite's own modules. The inputs of a property then depended on the
    selection and on the process's history. Only Hypothesis' fixed global constants remain.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the mechanism has nothing to pin
        return
    if getattr(providers, "_grader_pinned", False):
        return
    if not hasattr(providers, "_get_local_constants"):
        raise RuntimeError("this Hypothesis version changed how it collects local constants: "
                           "grader.keys.pin_hypothesis must be updated (see pyproject.toml's pin)")
    empty = providers.Constants()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    providers._grader_pinned = True
