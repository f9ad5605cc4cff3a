"""Gradescope: ``grade gradescope build`` makes an autograder bundle, ``grade gradescope run`` is what
the bundle's ``run_autograder`` runs for every submission.

The bundle (a zip whose root becomes ``/autograder/source`` on Gradescope)::

    setup.sh              installs Python, torch (CPU wheels), the grader and its dependencies
    run_autograder        grades /autograder/submission, writes /autograder/results/results.json
    grade-config.json     the problems, seed, device, required isolation level, the secret's fingerprint
    grade-secret.txt      the course's grading secret (keys every submission's inputs; grader.keys)
    grader-src/           the grader's source (pyproject.toml, README.md, grader/)
    bank/problems/        the selected problems (and their units' shared helpers)
    bank/reference/       the reference modules of the selected problems' units

The reference and the specs sit in the same container as the student's code, so the bundle
refuses to grade below the ``standard`` isolation level unless built with another
``--require-isolation``: at ``standard`` Landlock keeps workers from reading anything but the
system's and Python's directories and the staged submission (docs/gradescope.md).
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import zipfile
from pathlib import Path

from grader.bank import REPO_ROOT, Problem

CONFIG_NAME = "grade-config.json"
SECRET_NAME = "grade-secret.txt"  # the course secret keying graded inputs (grader.keys)
GRADER_DIR = "grader-src"
# Directories of a Gradescope upload that never hold the student's modules.
_IGNORED_DIRS = {"__MACOSX", "__pycache__", ".git", ".hypothesis", ".pytest_cache", "node_modules"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same inputs give the same bundle, byte for byte
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def default_root() -> Path:
    return Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder")


def default_torch_version() -> str:
    """The torch the bank was validated with here, without a local build tag (``2.13.0+cpu``)."""
    import torch

    return torch.__version__.split("+")[0]


# --- scripts --------------------------------------------------------------------------------------

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu base image).
set -euxo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip libseccomp2 ca-certificates

python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir --upgrade pip
# torch from PyTorch's CPU wheel index: the default PyPI build pulls several GB of CUDA libraries,
# and Gradescope's autograders have no GPU.
/autograder/venv/bin/pip install --no-cache-dir --index-url {index} "torch=={torch}"
/autograder/venv/bin/pip install --no-cache-dir "./{grader_dir}"

# Fail the build now, not at the first submission: the bank loads, and say which isolation level
# this machine reaches (the image is built where it runs, but check a test submission's output too).
GRADE_PYTHON=/autograder/venv/bin/python ./run_autograder --check
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this (copied to /autograder/run_autograder) for every submission.
# AUTOGRADER_ROOT and GRADE_PYTHON exist so that a test can run it against a fake /autograder tree.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
source_dir="${{GRADE_AUTOGRADER_SOURCE:-$root/source}}"
python="${{GRADE_PYTHON:-/autograder/venv/bin/python}}"
# Never start Python in the submission's directory: a student's grader/ or json.py must not shadow
# the grader's modules. -I: no current directory, PYTHONPATH or user site on sys.path.
cd "$source_dir"
exec "$python" -I -c 'import sys; sys.path.insert(0, sys.argv[1]); from grader.cli import main; sys.exit(main(sys.argv[2:]))' \\
    "$source_dir/{grader_dir}" gradescope run --root "$root" --source "$source_dir" "$@"
"""


# --- building the bundle --------------------------------------------------------------------------


def _tree_files(folder: Path, prefix: str) -> list[tuple[str, Path]]:
    """Regular files under ``folder`` (no caches, no links), as (name in the zip, path)."""
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in _IGNORED_DIRS for part in relative.parts) or path.suffix in _EXCLUDED_SUFFIXES:
            continue
        if path.is_symlink():
            raise ValueError(f"{path}: symbolic links are not bundled")
        if path.is_file():
            files.append((f"{prefix}/{relative.as_posix()}", path))
    return files


def bundle_files(problems: list[Problem], bank_dir: Path, reference_dir: Path) -> list[tuple[str, Path]]:
    """Everything copied into the bundle: the grader's source, the selected problems with their
    units' shared files (``common.py``), and the reference modules of those units."""
    package = REPO_ROOT / "grader"
    files = _tree_files(package, f"{GRADER_DIR}/grader")
    files += [(f"{GRADER_DIR}/{name}", REPO_ROOT / name) for name in ("pyproject.toml", "README.md")]
    modules = sorted({p.module for p in problems})
    for module in modules:
        unit = bank_dir / module
        files += [(f"bank/problems/{module}/{path.name}", path) for path in sorted(unit.iterdir())
                  if path.is_file() and path.suffix not in _EXCLUDED_SUFFIXES]
        reference = reference_dir / f"{module}.py"
        if not reference.is_file():
            raise FileNotFoundError(f"no reference for {module}: {reference} not found (set GRADE_REFERENCE); "
                                    "a bundle without it would skip the properties that need it")
        files.append((f"bank/reference/{module}.py", reference))
    for problem in problems:
        files += _tree_files(problem.folder, f"bank/problems/{problem.module}/{problem.name}")
    return files


def build(out: Path, problems: list[Problem], bank_dir: Path, reference_dir: Path, *, seed: int = 0,
          require_isolation: str = "standard", torch_version: str | None = None, secret: bytes | None = None) -> dict:
    """Write the bundle to ``out`` (atomically) and return its configuration. The bundle carries the
    grading secret (``secret``, or a new random one) in SECRET_NAME: students see results, never the
    bundle, so they cannot compute a submission's inputs; staff keep the bundle to reproduce grades."""
    from grader.keys import fingerprint, new_secret

    torch_version = torch_version or default_torch_version()
    secret = secret if secret is not None else new_secret().encode()
    config = {"problems": [p.id for p in problems], "seed": seed, "device": "cpu",
              "require_isolation": require_isolation, "torch": torch_version,
              "secret_fingerprint": fingerprint(secret)}
    scripts = {"setup.sh": SETUP_SH.format(index=TORCH_CPU_INDEX, torch=torch_version, grader_dir=GRADER_DIR),
               "run_autograder": RUN_AUTOGRADER.format(grader_dir=GRADER_DIR)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in scripts.items():
            _add(archive, name, text.encode(), executable=True)
        _add(archive, CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode())
        _add(archive, SECRET_NAME, secret + b"\n")
        for name, path in bundle_files(problems, bank_dir, reference_dir):
            _add(archive, name, path.read_bytes())
    from grader.report import write_atomic

    write_atomic(Path(out), buffer.getvalue())
    return config


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


# --- running on Gradescope ------------------------------------------------------------------------


def submission_root(upload: Path, modules: set[str], max_depth: int = 3) -> Path:
    """Where the student's modules are in an upload: the upload itself, or the folder a zip or a
    GitHub repository put them in (the one holding most of the expected modules, shallowest first)."""

    def count(folder: Path) -> int:
        return sum((folder / f"{m}.py").is_file() or (folder / m / "__init__.py").is_file() for m in modules)

    if count(upload) or not upload.is_dir():
        return upload
    best, best_key = upload, (0, 0, "")
    for directory, subdirs, _ in os.walk(upload, followlinks=False):
        depth = len(Path(directory).relative_to(upload).parts)
        subdirs[:] = sorted(d for d in subdirs if d not in _IGNORED_DIRS and not d.startswith(".")
                            and not os.path.islink(os.path.join(directory, d)))
        if depth >= max_depth:
            subdirs[:] = []
        found = count(Path(directory))
        key = (found, -depth, directory)
        if found and (key[0], key[1]) > (best_key[0], best_key[1]):
            best, best_key = Path(directory), key
    return best


def load_config(source: Path) -> dict:
    from grader.bank import BankError

    try:
        return json.loads((source / CONFIG_NAME).read_text())
    except (OSError, ValueError) as error:
        raise BankError(f"{source / CONFIG_NAME}: {error} (is --source the unzipped bundle?)") from None


def bundle_secret(source: Path) -> bytes | None:
    """The bundle's grading secret (None for a bundle built before secrets existed)."""
    from grader.bank import BankError
    from grader.keys import SecretError, read_secret

    if not (source / SECRET_NAME).exists():
        return None
    try:
        return read_secret(source / SECRET_NAME, environ={})
    except SecretError as error:
        raise BankError(str(error)) from None


def command_build(args) -> int:
    from grader.bank import default_bank_dir, default_reference_dir, load_bank, select
    from grader.cli import EXIT_OK, UsageError

    if args.out.is_dir():
        raise UsageError(f"--out: {args.out} is a directory")
    bank_dir = default_bank_dir()
    problems = select(load_bank(bank_dir), args.problems)
    if not problems:
        raise UsageError("the bank has no problems to bundle")
    from grader.cli import read_secret

    secret = read_secret(args)
    try:
        config = build(args.out, problems, bank_dir, default_reference_dir(), seed=args.seed,
                       require_isolation=args.require_isolation, torch_version=args.torch, secret=secret)
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(f"Wrote {args.out}: {len(problems)} problems ({', '.join(config['problems'])}), seed {config['seed']}, "
          f"torch {config['torch']} (CPU), isolation required: {config['require_isolation']}")
    print(f"Grading secret: {'the given one' if secret is not None else 'a new random one'} (fingerprint "
          f"{config['secret_fingerprint']}); keep the bundle to reproduce grades.")
    return EXIT_OK


def command_run(args) -> int:
    """Grade ``ROOT/submission`` with the bundle in ``SOURCE``; write ``ROOT/results/results.json``.

    A student's mistakes are grades; the grader's own failures (a bank that does not load, an
    isolation level below the required one) exit non-zero without results, so that Gradescope shows
    the submission as failed to grade (which the staff can regrade) rather than a wrong score."""
    from rich.console import Console

    from grader.bank import load_bank, select
    from grader.cli import EXIT_OK, UsageError, launch_zygote
    from grader.report import render, to_gradescope, write_atomic
    from grader.runner import grade

    root = Path(args.root) if args.root is not None else default_root()
    source = Path(args.source) if args.source is not None else root / "source"
    config = load_config(source)
    bank_dir, reference = source / "bank" / "problems", source / "bank" / "reference"
    problems = select(load_bank(bank_dir), config["problems"])
    if args.check:
        return _check(problems, config)
    upload = root / "submission"
    if not upload.is_dir():
        raise UsageError(f"no submission at {upload}")
    submission = submission_root(upload, {p.module for p in problems})
    secret = bundle_secret(source)
    zygote = launch_zygote(submission, problems, reference)
    try:
        result = grade(submission, problems, device=config.get("device", "cpu"), seed=int(config.get("seed", 0)),
                       reference_dir=reference, zygote=zygote, require_isolation=config.get("require_isolation"),
                       secret=secret)
    finally:
        zygote.close()
    write_atomic(root / "results" / "results.json", json.dumps(to_gradescope(result), indent=2) + "\n")
    if submission != upload:
        print(f"Graded the modules found in {submission.relative_to(upload)}/ of the submission.")
    render(result, Console(file=sys.stdout, width=120))
    return EXIT_OK


def _check(problems: list[Problem], config: dict) -> int:
    """``run_autograder --check`` (from setup.sh): the bank loads and a zygote starts; print the level."""
    from grader.cli import EXIT_OK
    from grader.isolation import LEVELS
    from grader.runner import collect_properties
    from grader.sandbox import Zygote

    properties = sum(len(collect_properties(p)) for p in problems)
    zygote = Zygote().start()
    try:
        level, warnings = zygote.level, zygote.warnings
    finally:
        zygote.close()
    print(f"{len(problems)} problems, {properties} properties; isolation here: {level} "
          f"(required: {config.get('require_isolation') or 'none'})")
    for warning in warnings:
        print(f"  isolation warning: {warning}")
    required = config.get("require_isolation")
    if required and LEVELS.index(level) < LEVELS.index(required):
        # A warning, not a failure: the image may be built where the kernel allows less than where
        # it runs. Every submission graded below the level is refused (and says so).
        print(f"WARNING: submissions will be refused unless they run where {required!r} is reached")
    return EXIT_OK

