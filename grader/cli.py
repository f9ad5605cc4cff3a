"""``grade``: the command line.

    grade run SUBMISSION [--problem ID ...] [--device auto|cpu|cuda] [--seed N] [--fail-under PCT]
              [--json FILE] [--gradescope FILE] [--junit FILE] [--markdown FILE] [--html FILE] [--show-hidden]
              [--require-isolation minimal|standard|strong]
    grade check SUBMISSION [--problem ID ...] [--device ...] [--seed N] [--json FILE] ... [--html FILE]
    grade list [--json]

Exit status: 0 when grading completed (whatever the score), 1 when the score is below --fail-under,
2 for usage errors (one line on stderr, no traceback), 3 for an internal error of the grader, 130 when
interrupted (Ctrl-C) and 143 when terminated (SIGTERM); both of those remove the scratch copies first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_BELOW_THRESHOLD, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in how grade was invoked: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UsageError(message)


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fail-under expects a percentage, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"--fail-under expects a percentage in [0, 100], got {text}")
    return value


def _add_submission_options(parser, verb: str) -> None:
    """What run, check and ci share: the submission, the problems, the device and the seed."""
    parser.add_argument("submission", metavar="SUBMISSION", help="directory holding the student's modules")
    parser.add_argument("--problem", action="append", metavar="ID", dest="problems",
                        help=f"{verb} only this problem (module.name) or module; repeatable")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the student's code runs (auto: CUDA when available)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the property-based inputs (default 0)")


def _add_secret_option(parser) -> None:
    parser.add_argument("--secret-file", metavar="FILE", type=Path,
                        help="the course's grading secret (default: $GRADE_SECRET_FILE, else $GRADE_SECRET): "
                             "keys the inputs together with the submission's hash; see docs/inputs.md")


def read_secret(args) -> bytes | None:
    """The grading secret of a graded command, or None; a missing or short one is a usage error."""
    from grader.keys import SecretError
    from grader.keys import read_secret as read

    try:
        return read(getattr(args, "secret_file", None))
    except SecretError as error:
        raise UsageError(str(error)) from None


def command_secret(args) -> int:
    """Write a new random grading secret to FILE (owner-only permissions; never overwrites)."""
    from grader.keys import fingerprint, new_secret

    value = new_secret()
    try:
        descriptor = os.open(args.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{args.file} exists: a secret is never overwritten (remove it first)") from None
    except OSError as error:
        raise UsageError(f"cannot create {args.file}: {error.strerror}") from None
    with os.fdopen(descriptor, "w") as stream:
        stream.write(value + "\n")
    print(f"Wrote a new grading secret to {args.file} (fingerprint {fingerprint(value.encode())}). Keep it out of "
          "anything students can read; pass it with --secret-file or $GRADE_SECRET.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grade", description="Grade deep-generative-models coursework against the problem bank.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser("run", help="grade one submission (a directory of Python modules)")
    _add_submission_options(run, "grade")
    _add_report_options(run)
    run.add_argument("--show-hidden", action="store_true",
                     help="staff only: show hidden properties' inputs and messages in every report")
    run.add_argument("--fail-under", metavar="PCT", type=_percent,
                     help="exit with status 1 when the score is below PCT percent")
    run.add_argument("--require-isolation", choices=("minimal", "standard", "strong"),
                     help="refuse to grade (exit 2) unless workers reach this isolation level")
    _add_secret_option(run)

    check = commands.add_parser("check", help="self-check a submission without the reference solution "
                                              "(reference-free properties only)")
    _add_submission_options(check, "check")
    _add_report_options(check)
    check.set_defaults(handler=command_check, show_hidden=False, fail_under=None, require_isolation=None)

    listing = commands.add_parser("list", help="list the problems of the bank")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=command_list)
    run.set_defaults(handler=command_run)
    # Further commands: add a sub-parser here with set_defaults(handler=...), logic in its own module.

    audit = commands.add_parser("audit", help="staff: measure the bank's false failures and missed mistakes "
                                              "(reference and correct examples under N seeds, every mistake)")
    audit.add_argument("--problem", action="append", metavar="ID", dest="problems",
                       help="audit only this problem (module.name) or module; repeatable")
    audit.add_argument("--seeds", type=int, default=10, metavar="N",
                       help="seeds for the reference and each correct example (default 10)")
    audit.add_argument("--mistake-seeds", type=int, default=1, metavar="N",
                       help="seeds for each catalogued mistake (default 1)")
    audit.add_argument("--submissions", metavar="DIR", type=Path,
                       help="the example submissions (correct_<module>, <problem>-<mistake>; default ./submissions "
                            "of the grader's checkout)")
    audit.add_argument("--json", metavar="FILE", type=Path, help="write the audit as JSON to FILE")
    audit.add_argument("-j", "--jobs", type=int, default=1, help="gradings in parallel, one zygote each (default 1)")
    audit.set_defaults(handler=_lazy("grader.audit"))

    batch = commands.add_parser("batch", help="grade every submission (sub-directory or .zip) of a directory")
    batch.add_argument("directory", metavar="DIR", help="directory holding one sub-directory or .zip per submission")
    batch.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                       help="submissions graded in parallel (default: one per core)")
    batch.add_argument("--db", metavar="FILE", type=Path, default=Path("gradebook.sqlite"),
                       help="the SQLite gradebook (default ./gradebook.sqlite); already graded submissions are skipped")
    batch.add_argument("--csv", metavar="FILE", type=Path, help="also write the batch's grades as CSV to FILE")
    batch.add_argument("--html", metavar="FILE", type=Path,
                       help="the HTML summary page (default: next to the gradebook, <db>-summary.html)")
    batch.add_argument("--problem", action="append", metavar="ID", dest="problems",
                       help="grade only this problem (module.name) or module; repeatable")
    batch.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="local grading processes, or tasks on a Dask cluster")
    batch.add_argument("--scheduler", metavar="ADDR",
                       help="Dask scheduler address (tcp://host:8786); a local cluster when omitted")
    batch.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="where the student's code runs (auto: CUDA when available)")
    batch.add_argument("--seed", type=int, default=0, help="seed of the property-based inputs (default 0)")
    batch.add_argument("--timeout", metavar="S", type=float, default=3600.0,
                       help="seconds one submission may take before its grading process is killed (default 3600)")
    batch.add_argument("--require-isolation", choices=("minimal", "standard", "strong"),
                       help="refuse to grade (exit 2) unless workers reach this isolation level")
    _add_secret_option(batch)
    batch.set_defaults(handler=_lazy("grader.batch"))

    export = commands.add_parser("export", help="export a gradebook (csv, gradescope, canvas) or per-submission reports")
    export.add_argument("--db", metavar="FILE", type=Path, default=Path("gradebook.sqlite"),
                        help="the SQLite gradebook (default ./gradebook.sqlite)")
    export.add_argument("--format", choices=("csv", "gradescope", "canvas"), help="the grade sheet's format")
    export.add_argument("--output", "-o", metavar="FILE", type=Path, help="write the sheet to FILE (default: stdout)")
    export.add_argument("--roster", metavar="FILE", type=Path,
                        help="CSV of the students (Canvas or Gradescope export) to match submission names against")
    export.add_argument("--assignment", metavar="NAME", default="Autograder",
                        help="Canvas assignment column, e.g. 'HW1 (1234)' with its Canvas id (default: Autograder)")
    export.add_argument("--reports", metavar="DIR", type=Path, help="write a report folder per submission under DIR")
    export.set_defaults(handler=_lazy("grader.export"))

    ci = commands.add_parser("ci", help="grade in CI: GitHub step summary, annotations, report files, exit status")
    _add_submission_options(ci, "grade")
    ci.add_argument("--fail-under", metavar="PCT", type=_percent,
                    help="exit with status 1 when the score is below PCT percent")
    ci.add_argument("--require-isolation", choices=("minimal", "standard", "strong"),
                    help="refuse to grade (exit 2) unless workers reach this isolation level")
    _add_secret_option(ci)
    ci.add_argument("--report-dir", metavar="DIR", type=Path,
                    help="where report.json, junit.xml and summary.md go (default: $RUNNER_TEMP/grade-report "
                         "on GitHub Actions, else ./grade-report)")
    for kind, what in (("json", "JSON report"), ("junit", "JUnit XML report"), ("markdown", "Markdown summary")):
        ci.add_argument(f"--{kind}", metavar="FILE", type=Path, help=f"write the {what} to FILE instead")
    ci.set_defaults(handler=_lazy("grader.ci", "command_ci"))

    secret = commands.add_parser("secret", help="staff: write a new random grading secret to FILE")
    secret.add_argument("file", metavar="FILE", type=Path, help="where to write it (must not exist)")
    secret.set_defaults(handler=command_secret)

    gradescope = commands.add_parser("gradescope", help="build a Gradescope autograder, or run one")
    steps = gradescope.add_subparsers(dest="gradescope_command", metavar="STEP", parser_class=_Parser, required=True)
    build = steps.add_parser("build", help="write an autograder bundle (setup.sh, run_autograder, the bank)")
    build.add_argument("--out", metavar="ZIP", type=Path, required=True, help="where to write the bundle")
    build.add_argument("--problem", action="append", metavar="ID", dest="problems",
                       help="bundle only this problem (module.name) or module; repeatable (default: the whole bank)")
    build.add_argument("--seed", type=int, default=0, help="seed of the property-based inputs (default 0)")
    build.add_argument("--require-isolation", choices=("minimal", "standard", "strong"), default="standard",
                       help="refuse to grade below this isolation level on Gradescope (default: standard)")
    build.add_argument("--secret-file", metavar="FILE", type=Path,
                       help="the course's grading secret, copied into the bundle (which students never see); "
                            "default: $GRADE_SECRET_FILE, else $GRADE_SECRET, else a new random one")
    build.add_argument("--torch", metavar="VERSION",
                       help="torch version setup.sh installs from the CPU wheel index (default: this one's)")
    build.set_defaults(handler=_lazy("grader.gradescope", "command_build"))
    autograde = steps.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json (run_autograder)")
    autograde.add_argument("--root", metavar="DIR", type=Path,
                           help="the autograder tree (default: $AUTOGRADER_ROOT, else /autograder)")
    autograde.add_argument("--source", metavar="DIR", type=Path, help="the unzipped bundle (default: ROOT/source)")
    autograde.add_argument("--check", action="store_true",
                           help="only check that the bank loads and print the isolation level (setup.sh)")
    autograde.set_defaults(handler=_lazy("grader.gradescope", "command_run"))
    return parser


def _lazy(module: str, name: str = "command"):
    """A sub-command whose logic lives in its own module, imported only when that command runs (so
    ``grade list`` never imports Dask)."""

    def handler(args) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(args)

    return handler


def resolve_device(requested: str) -> str:
    """``auto`` picks CUDA when present; asking for CUDA without it is a usage error. Only asks torch
    whether CUDA exists: no context is created in the grader, and workers initialise CUDA themselves."""
    if requested == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, but no usable GPU"
        raise UsageError(f"--device cuda: CUDA is not available on this machine (torch {torch.__version__}, {build})")
    return "cuda" if available else "cpu"


def command_list(args) -> int:
    from grader.bank import load_bank
    from grader.runner import collect_properties

    problems = load_bank()
    rows = []
    for problem in problems:
        properties = collect_properties(problem)
        rows.append({"id": problem.id, "title": problem.title, "points": problem.points,
                     "properties": len(properties),
                     "reference_free": sum(not p.needs_reference for p in properties),
                     "source": problem.source})
    if args.json:
        print(json.dumps({"problems": rows}, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Problem bank", title_justify="left")
    for column, justify in (("Problem", "left"), ("Title", "left"), ("Points", "right"), ("Properties", "right")):
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(row["id"], row["title"], f"{row['points']:g}", str(row["properties"]))
    Console().print(table)
    return EXIT_OK


REPORT_FORMATS = (("json", "the JSON report"), ("gradescope", "Gradescope's results.json"),
                  ("junit", "a JUnit XML report"), ("markdown", "a Markdown summary (PR comment, step summary)"),
                  ("html", "a self-contained HTML page for the student"))


def _add_report_options(parser) -> None:
    for name, what in REPORT_FORMATS:
        parser.add_argument(f"--{name}", metavar="FILE", type=Path, help=f"write {what} to FILE")


def _check_report_paths(args) -> None:
    for name, _ in REPORT_FORMATS:
        path = getattr(args, name, None)
        if path is not None and (path.is_dir() or not path.resolve().parent.is_dir()):
            raise UsageError(f"--{name}: cannot write a report to {path}")


def command_check(args) -> int:
    """``grade run`` without the reference: what students can run before handing in."""
    args.self_check = True
    return command_run(args)


def submission_dir(text: str) -> Path:
    """The submission argument of run, check and ci: an existing directory, or a usage error."""
    submission = Path(text)
    if not submission.exists():
        raise UsageError(f"submission not found: {submission}")
    if not submission.is_dir():
        raise UsageError(f"submission must be a directory of Python modules: {submission}")
    return submission


def launch_grading(args, submission: Path, *, self_check: bool = False):
    """Select the problems, find the reference (never for a self-check, nor where it is not installed:
    a course's student copy of the bank), fail fast on an impossible device, and launch the zygote
    with everything the worker must not see hidden. Returns (problems, reference, zygote); the caller
    closes the zygote. The zygote boots (imports torch) while the caller goes on."""
    from grader.bank import default_reference_dir, load_bank, select

    problems = select(load_bank(), args.problems)
    reference = None if self_check else default_reference_dir()
    if reference is not None and not reference.is_dir():
        reference = None
    if args.device == "cuda":
        resolve_device("cuda")  # before booting anything
    return problems, reference, launch_zygote(submission, problems, reference)


def launch_zygote(submission: Path, problems, reference: Path | None):
    """A zygote at the configured isolation layers (GRADE_ISOLATION_LAYERS) that hides the bank, the
    reference and the original submission from workers; a bad layer list is a usage error."""
    from grader.runner import hidden_paths
    from grader.sandbox import Zygote, configured_layers

    try:
        layers = configured_layers()
    except ValueError as error:
        raise UsageError(str(error)) from None
    return Zygote(hide=hidden_paths(submission, problems, reference), layers=layers).launch()


def command_run(args) -> int:
    submission = submission_dir(args.submission)
    _check_report_paths(args)
    # a self-check draws from the public stream: it takes no secret
    args.secret = None if getattr(args, "self_check", False) else read_secret(args)
    problems, reference, zygote = launch_grading(args, submission, self_check=getattr(args, "self_check", False))
    try:
        return _run(args, submission, problems, reference, zygote)
    finally:
        zygote.close()


def _run(args, submission, problems, reference, zygote) -> int:
    from rich.console import Console

    from grader.report import render, write_reports
    from grader.runner import grade

    device = resolve_device(args.device)

    console = Console(file=sys.stdout)  # bound now: pytest swaps sys.stdout while properties run
    status = console.status("starting the worker zygote...") if console.is_terminal else None

    order = {problem.id: number for number, problem in enumerate(problems, 1)}

    def progress(problem, info, outcome):
        if status is not None:
            status.update(f"problem {order.get(problem.id, '?')}/{len(problems)}: {problem.id}, "
                          f"{info.name} {outcome.status}")

    if status is not None:
        status.start()
    try:
        result = grade(submission, problems, device=device, seed=args.seed,
                       reference_dir=reference, zygote=zygote,
                       on_property=progress, require_isolation=args.require_isolation, secret=args.secret)
    finally:
        if status is not None:
            status.stop()
    render(result, console, show_hidden=args.show_hidden)
    write_reports(result, show_hidden=args.show_hidden,
                  **{name: getattr(args, name) for name, _ in REPORT_FORMATS})
    if args.fail_under is not None and result.percent < args.fail_under:
        console.print(f"Score {result.percent:.1f}% is below --fail-under {args.fail_under:g}%.")
        return EXIT_BELOW_THRESHOLD
    return EXIT_OK


class _TerminateUnwinds:
    """While a command runs, SIGTERM raises KeyboardInterrupt where the command is, so that it
    unwinds exactly as Ctrl-C does (scratch copies removed, batch processes killed, open gradebook
    transactions rolled back); ``received`` tells the two apart afterwards. Installed in the main
    thread only (elsewhere, as for a library caller in a thread, the handler is left as it is)."""

    def __enter__(self):
        import signal
        import threading

        self.previous, self.received = None, False
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = True
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def main(argv: list[str] | None = None) -> int:
    from grader.bank import BankError
    from grader.runner import IsolationTooWeak
    from grader.scratch import sweep_stale

    parser = build_parser()
    terminate = _TerminateUnwinds()
    try:
        with terminate:
            args = parser.parse_args(argv)
            if args.command is None:
                raise UsageError("a command is required (see grade --help)")
            sweep_stale()  # what an earlier grade, killed outright, could not remove
            return args.handler(args)
    except (UsageError, BankError, IsolationTooWeak) as error:
        print(f"grade: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if terminate.received:
            print("grade: terminated", file=sys.stderr)
            return 143
        print("grade: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the grader's own bug: say so in one line, keep the trace
        if os.environ.get("GRADE_DEBUG"):
            raise
        print(f"grade: internal error: {type(error).__name__}: {error} (set GRADE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
