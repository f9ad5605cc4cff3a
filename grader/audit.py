"""``grade audit``: measure the bank's two error rates before an assignment is released.

A grader is only as good as its false failures (a correct submission losing points) and its misses
(a wrong one keeping full points). The audit grades, for the selected problems:

- the reference and each ``submissions/correct_<module>`` folder under N seeds: any lost point is a
  false failure;
- every catalogued mistake, dropped into a copy of the reference module (a later definition of the
  same name replaces the reference's), under ``mistake_seeds`` seeds: it must lose points, and the
  diagnosis must name it; which properties caught it is recorded (the mutation score);
- every buggy example ``submissions/<problem>-<mistake>`` on its whole module: it must lose points on
  its own problem only, and be named there;

and it times each property (on the reference runs) and sums the declared ``false_failure``
probabilities of the properties against the bank's budget (``FALSE_FAILURE_BUDGET``, the design
notes' 1e-3 per full grading of a correct submission).

Jobs are independent gradings; with ``jobs > 1`` they run in that many processes, each with its own
worker zygote.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader.bank import Problem, load_bank, select
from grader.scratch import ScratchDirectory

FALSE_FAILURE_BUDGET = 1e-3  # per full grading of a correct submission (see docs/audit.md)
AUDIT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Job:
    """One grading: what to grade (a folder, or a mistake substituted into the reference) on which problems."""

    kind: str  # "reference", "correct", "mistake" or "example"
    label: str  # the submission's name in the report
    problems: tuple[str, ...]
    seed: int = 0
    folder: str | None = None  # reference, correct and example jobs
    target: str | None = None  # the problem a mistake or example belongs to
    mistake: str | None = None


@dataclass
class AuditResult:
    problems: list[str]
    seeds: int
    mistake_seeds: int
    jobs: int
    runs: list[dict] = field(default_factory=list)
    duration_s: float = 0.0
    declared: dict[str, dict[str, float]] = field(default_factory=dict)  # problem -> property -> false_failure
    known_mistakes: dict[str, list[str]] = field(default_factory=dict)
    property_names: dict[str, list[str]] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)  # example folders naming no known problem or mistake


# --- planning ------------------------------------------------------------------------------------


def plan(problems: list[Problem], bank: list[Problem], *, reference_dir: Path, submissions_dir: Path | None,
         seeds: int, mistake_seeds: int) -> tuple[list[Job], list[str]]:
    """Every grading the audit needs, and the example folders that name nothing in the bank."""
    ids = tuple(p.id for p in problems)
    jobs = [Job("reference", "reference", ids, seed, folder=str(reference_dir)) for seed in range(seeds)]
    orphans: list[str] = []
    folders = sorted(p for p in submissions_dir.iterdir() if p.is_dir()) if submissions_dir else []
    for folder in folders:
        if folder.name.startswith("correct_"):
            wanted = _module_problems(problems, folder)
            jobs += [Job("correct", folder.name, wanted, seed, folder=str(folder)) for seed in range(seeds) if wanted]
    for problem in problems:
        for mistake in problem.mistakes():
            jobs += [Job("mistake", f"{problem.id}:{mistake.id}", (problem.id,), seed, target=problem.id,
                         mistake=mistake.id) for seed in range(mistake_seeds)]
    by_name = {p.name: p for p in bank}
    selected = set(ids)
    for folder in folders:
        if "-" not in folder.name:
            continue
        name, mistake_id = folder.name.split("-", 1)
        problem = by_name.get(name)
        if problem is None or mistake_id not in {m.id for m in problem.mistakes()}:
            orphans.append(folder.name)
        elif problem.id in selected:
            jobs.append(Job("example", folder.name, _module_problems(problems, folder), 0, folder=str(folder),
                            target=problem.id, mistake=mistake_id))
    return jobs, orphans


def _module_problems(problems: list[Problem], folder: Path) -> tuple[str, ...]:
    """The selected problems of the modules a submission folder holds (its whole modules)."""
    modules = {path.stem for path in folder.glob("*.py")}
    return tuple(p.id for p in problems if p.module in modules)


# --- running -------------------------------------------------------------------------------------

_state: dict = {}  # per process: the bank, the reference, one zygote


def _init(bank_dir: str, reference_dir: str, zygote=None) -> None:
    from multiprocessing import util

    from grader.sandbox import Zygote

    if zygote is None:
        zygote = Zygote().start()
        util.Finalize(None, zygote.close, exitpriority=10)  # closed when a pool process exits
    _state.update(bank={p.id: p for p in load_bank(Path(bank_dir))}, reference=Path(reference_dir),
                  zygote=zygote)


def run_job(job: Job) -> dict:
    """Grade one job with this process's zygote; a grader error is recorded, never raised."""
    from grader.runner import grade

    problems = [_state["bank"][pid] for pid in job.problems]
    started = time.perf_counter()
    scratch = None
    try:
        folder = Path(job.folder) if job.folder else None
        if job.kind == "mistake":
            scratch = ScratchDirectory("grade-audit-")
            folder = _with_mistake(_state["reference"], _state["bank"][job.target], job.mistake, Path(scratch.name))
        result = grade(folder, problems, reference_dir=_state["reference"], zygote=_state["zygote"], seed=job.seed)
    except Exception as error:  # noqa: BLE001 - one broken grading must not hide the rest of the audit
        return {"job": job, "error": f"{type(error).__name__}: {error}", "problems": [],
                "duration_s": round(time.perf_counter() - started, 3)}
    finally:
        if scratch is not None:
            scratch.cleanup()
    return {"job": job, "error": None, "duration_s": result.duration_s,
            "problems": [{"id": p.id, "score": p.score, "max_score": p.max_score, "status": p.status,
                          "message": p.message,
                          "named": [m["id"] for m in (p.diagnosis or {"mistakes": []})["mistakes"]],
                          "properties": [{"name": q.name, "status": q.status, "message": q.message,
                                          "duration_s": q.duration_s} for q in p.properties]}
                         for p in result.problems]}


def _with_mistake(reference: Path, problem: Problem, mistake_id: str, into: Path) -> Path:
    """A copy of the reference whose problem function is the catalogued mistake's implementation."""
    [mistake] = [m for m in problem.mistakes() if m.id == mistake_id]
    for module in reference.glob("*.py"):
        shutil.copy(module, into / module.name)
    target = into / f"{problem.module}.py"
    target.write_text(target.read_text() + "\n\nimport math\nimport torch\n\n" + mistake.source())
    return into


def audit(problem_ids: list[str] | None = None, *, bank_dir: Path, reference_dir: Path,
          submissions_dir: Path | None, seeds: int = 1, mistake_seeds: int = 1, jobs: int = 1,
          on_done=None, zygote=None) -> AuditResult:
    """Run every grading of the audit (see the module docstring) and collect the raw runs.

    ``zygote``: a started zygote to reuse when ``jobs`` is 1 (left open); otherwise each process
    starts its own."""
    from grader.runner import collect_properties

    started = time.perf_counter()
    bank = load_bank(bank_dir)
    problems = select(bank, problem_ids)
    planned, orphans = plan(problems, bank, reference_dir=reference_dir, submissions_dir=submissions_dir,
                            seeds=seeds, mistake_seeds=mistake_seeds)
    result = AuditResult(problems=[p.id for p in problems], seeds=seeds, mistake_seeds=mistake_seeds, jobs=jobs,
                         orphans=orphans)
    for problem in problems:
        infos = collect_properties(problem)
        result.declared[problem.id] = {i.name: i.false_failure for i in infos}
        result.property_names[problem.id] = [i.name for i in infos]
        result.known_mistakes[problem.id] = [m.id for m in problem.mistakes()]
    # the slowest kinds first, so that parallel processes finish together
    planned.sort(key=lambda job: -len(job.problems))
    if jobs <= 1:
        from grader.sandbox import Zygote

        own = zygote is None
        _init(str(bank_dir), str(reference_dir), zygote or Zygote().start())
        try:
            for job in planned:
                result.runs.append(run_job(job))
                if on_done:
                    on_done(len(result.runs), len(planned), job)
        finally:
            used = _state.pop("zygote")
            if own:
                used.close()
    else:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init,
                                 initargs=(str(bank_dir), str(reference_dir))) as pool:
            for run in pool.map(run_job, planned, chunksize=1):
                result.runs.append(run)
                if on_done:
                    on_done(len(result.runs), len(planned), run["job"])
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


# --- summarising ---------------------------------------------------------------------------------


def summarise(result: AuditResult) -> dict:
    """The audit's findings as plain data (the JSON report); ``ok`` is False when the bank must not ship."""
    problems = {pid: {"properties": {name: {"declared_false_failure": result.declared[pid][name],
                                            "false_failures": 0, "catches": 0, "durations": []}
                                     for name in result.property_names[pid]},
                      "correct_runs": 0, "false_failures": 0, "mistakes": {}, "examples": {}}
                for pid in result.problems}
    false_failures, errors = [], []
    for run in result.runs:
        job: Job = run["job"]
        if run["error"]:
            errors.append({"kind": job.kind, "submission": job.label, "seed": job.seed, "error": run["error"]})
            continue
        if job.kind in ("reference", "correct"):
            _correct_run(run, problems, false_failures)
        elif job.kind == "mistake":
            _mistake_run(run, problems[job.target])
        else:
            _example_run(run, problems[job.target])
    rows, survivors, unnamed, misbehaving = {}, [], [], []
    total_declared = 0.0
    for pid, data in problems.items():
        mistakes = data["mistakes"]
        for mid in result.known_mistakes[pid]:
            mistakes.setdefault(mid, {"runs": 0, "caught": 0, "named": 0, "caught_by": {}})
        for mid, m in mistakes.items():
            m["detection_rate"] = m["caught"] / m["runs"] if m["runs"] else None
            if m["runs"] and m["caught"] < m["runs"]:
                survivors.append({"problem": pid, "mistake": mid, "caught": m["caught"], "runs": m["runs"]})
            if m["caught"] and m["named"] < m["caught"]:
                unnamed.append({"problem": pid, "mistake": mid, "named": m["named"], "caught": m["caught"]})
        for name, e in data["examples"].items():
            if not e["ok"]:
                misbehaving.append({"problem": pid, "submission": name, **e})
        caught = sum(1 for m in mistakes.values() if m["runs"] and m["caught"] == m["runs"])
        declared = sum(p["declared_false_failure"] for p in data["properties"].values())
        total_declared += declared
        properties = {}
        for name, p in data["properties"].items():
            durations = p.pop("durations")
            properties[name] = {**p, "mean_s": round(sum(durations) / len(durations), 4) if durations else None,
                                "max_s": round(max(durations), 4) if durations else None}
        rows[pid] = {
            "correct_runs": data["correct_runs"], "false_failures": data["false_failures"],
            "mistakes": len(mistakes), "mistakes_caught": caught,
            "mutation_score": caught / len(mistakes) if mistakes else None,
            "never_catching": [n for n, p in properties.items() if p["catches"] == 0],
            "declared_false_failure": declared, "properties": properties,
            "mistake_results": mistakes, "examples": data["examples"],
        }
    uncatalogued = [pid for pid, row in rows.items() if row["mistakes"] == 0]
    ok = not (false_failures or errors or survivors or unnamed or misbehaving or result.orphans or uncatalogued
              or total_declared > FALSE_FAILURE_BUDGET)
    return {
        "schema_version": AUDIT_SCHEMA_VERSION, "ok": ok, "seeds": result.seeds,
        "mistake_seeds": result.mistake_seeds, "jobs": result.jobs, "duration_s": result.duration_s,
        "gradings": len(result.runs),
        "budget": {"false_failure_budget": FALSE_FAILURE_BUDGET, "declared_total": total_declared,
                   "within": total_declared <= FALSE_FAILURE_BUDGET},
        "false_failures": false_failures, "surviving_mistakes": survivors, "unnamed_mistakes": unnamed,
        "misbehaving_examples": misbehaving, "orphan_examples": result.orphans, "uncatalogued": uncatalogued,
        "errors": errors,
        "problems": rows,
    }


def _correct_run(run: dict, problems: dict, false_failures: list) -> None:
    job: Job = run["job"]
    for p in run["problems"]:
        data = problems[p["id"]]
        data["correct_runs"] += 1
        lost = [q for q in p["properties"] if q["status"] != "passed"]
        if lost or p["named"]:
            data["false_failures"] += 1
        for q in p["properties"]:
            prop = data["properties"].get(q["name"])
            if prop is None:
                continue
            if job.kind == "reference":
                prop["durations"].append(q["duration_s"])
            if q["status"] != "passed":
                prop["false_failures"] += 1
                false_failures.append({"submission": job.label, "seed": job.seed, "problem": p["id"],
                                       "property": q["name"], "status": q["status"], "message": q["message"]})


def _mistake_run(run: dict, data: dict) -> None:
    job: Job = run["job"]
    m = data["mistakes"].setdefault(job.mistake, {"runs": 0, "caught": 0, "named": 0, "caught_by": {}})
    m["runs"] += 1
    [p] = run["problems"]
    failing = [q["name"] for q in p["properties"] if q["status"] != "passed"]
    if p["score"] < p["max_score"]:
        m["caught"] += 1
        m["named"] += p["named"] == [job.mistake]
    for name in failing:
        m["caught_by"][name] = m["caught_by"].get(name, 0) + 1
        if name in data["properties"]:
            data["properties"][name]["catches"] += 1


def _example_run(run: dict, data: dict) -> None:
    job: Job = run["job"]
    losing = [p["id"] for p in run["problems"] if p["score"] < p["max_score"]]
    own = next((p for p in run["problems"] if p["id"] == job.target), None)
    if own is None:  # the folder does not hold its problem's module
        data["examples"][job.label] = {"losing": losing, "named": [], "caught_by": [], "ok": False}
        return
    failing = [q["name"] for q in own["properties"] if q["status"] != "passed"]
    for name in failing:
        if name in data["properties"]:
            data["properties"][name]["catches"] += 1
    data["examples"][job.label] = {"losing": losing, "named": own["named"], "caught_by": failing,
                                   "ok": losing == [job.target] and own["named"] == [job.mistake]}


# --- reporting -----------------------------------------------------------------------------------


def render(summary: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"Audit: {summary['seeds']} seed(s) for correct submissions, "
                        f"{summary['mistake_seeds']} per mistake, {summary['gradings']} gradings in "
                        f"{summary['duration_s']:.1f} s", title_justify="left")
    for column, justify in (("Problem", "left"), ("Correct runs", "right"), ("False failures", "right"),
                            ("Mistakes caught", "right"), ("Idle props", "right"), ("Declared FF", "right"),
                            ("Time/run", "right")):
        table.add_column(column, justify=justify, overflow="fold")
    for pid, row in summary["problems"].items():
        per_run = sum(p["mean_s"] or 0.0 for p in row["properties"].values())
        caught = f"{row['mistakes_caught']}/{row['mistakes']}"
        table.add_row(pid, str(row["correct_runs"]),
                      _red(str(row["false_failures"]), row["false_failures"] > 0),
                      _red(caught, row["mistakes_caught"] < row["mistakes"] or row["mistakes"] == 0),
                      str(len(row["never_catching"])), f"{row['declared_false_failure']:.2g}",
                      f"{per_run:.2f} s")
    console.print(table)
    for pid, row in summary["problems"].items():
        if row["never_catching"]:
            console.print(f"{pid}: properties that caught no catalogued mistake: {', '.join(row['never_catching'])}")
    budget = summary["budget"]
    console.print(f"False-failure budget: declared {budget['declared_total']:.3g} per full grading of a correct "
                  f"submission, budget {budget['false_failure_budget']:g} "
                  f"({'within' if budget['within'] else '[red]over[/red]'}).")
    for item in summary["false_failures"][:20]:
        console.print(f"[red]false failure[/red]: {item['submission']} seed {item['seed']}: {item['problem']} "
                      f"{item['property']} {item['status']}: {item['message'][:200]}", markup=True)
    for item in summary["surviving_mistakes"]:
        console.print(f"[red]mistake survives[/red]: {item['problem']} {item['mistake']} "
                      f"(caught in {item['caught']} of {item['runs']} runs)")
    for item in summary["unnamed_mistakes"]:
        console.print(f"[red]not named by the diagnosis[/red]: {item['problem']} {item['mistake']} "
                      f"(named in {item['named']} of {item['caught']} caught runs)")
    for item in summary["misbehaving_examples"]:
        console.print(f"[red]example[/red] {item['submission']}: loses points on {item['losing'] or 'nothing'}, "
                      f"named {item['named'] or 'nothing'} (expected {item['problem']} only)")
    for name in summary["orphan_examples"]:
        console.print(f"[red]example[/red] {name}: names no problem and catalogued mistake of the bank")
    for pid in summary["uncatalogued"]:
        console.print(f"[red]no catalogued mistake[/red]: {pid} (its detection rate cannot be measured)")
    for item in summary["errors"]:
        console.print(f"[red]grading error[/red]: {item['submission']} seed {item['seed']}: {item['error']}")
    console.print("[green]Audit passed.[/green]" if summary["ok"] else "[red]Audit failed.[/red]")


def _red(text: str, bad: bool) -> str:
    return f"[red]{text}[/red]" if bad else text


def command(args) -> int:
    """``grade audit``: exit 0 when the bank is fit to ship, 1 when it is not."""
    import sys

    from rich.console import Console

    from grader.bank import REPO_ROOT, default_bank_dir, default_reference_dir
    from grader.cli import UsageError
    from grader.report import write_atomic

    if args.seeds < 1 or args.mistake_seeds < 1:
        raise UsageError("--seeds and --mistake-seeds must be at least 1")
    if args.jobs < 1:
        raise UsageError("-j must be at least 1")
    reference = default_reference_dir()
    if not reference.is_dir():
        raise UsageError(f"the audit needs the reference solution, not found at {reference} (set GRADE_REFERENCE)")
    submissions = args.submissions if args.submissions is not None else REPO_ROOT / "submissions"
    if args.submissions is not None and not submissions.is_dir():
        raise UsageError(f"--submissions: not a directory: {submissions}")
    if args.json is not None and (args.json.is_dir() or not args.json.resolve().parent.is_dir()):
        raise UsageError(f"--json: cannot write a report to {args.json}")
    console = Console(file=sys.stdout)
    status = console.status("auditing...") if console.is_terminal else None

    def progress(done, total, job):
        if status is not None:
            status.update(f"{done}/{total} gradings: {job.kind} {job.label} seed {job.seed}")

    if status is not None:
        status.start()
    try:
        result = audit(args.problems, bank_dir=default_bank_dir(), reference_dir=reference,
                       submissions_dir=submissions if submissions.is_dir() else None, seeds=args.seeds,
                       mistake_seeds=args.mistake_seeds, jobs=args.jobs, on_done=progress)
    finally:
        if status is not None:
            status.stop()
    summary = summarise(result)
    render(summary, console)
    if args.json is not None:
        write_atomic(args.json, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return 0 if summary["ok"] else 1
