"""Benchmark: wall time of `grade batch` on a class of example submissions with -j 1 and -j 2 (and
optionally the Dask executor), and whether every submission got the same score each way.

    python bench/batch_throughput.py [--problem divergences] [--jobs 1 2] [--dask] [--out bench/results/batch_throughput.json]

The class is every example submission of the chosen module (correct and buggy) plus a hostile one
that floods its output and exits its worker on every call. The machines are shared and noisy: compare the speed-up measured within
one run, not absolute times across runs; the load average at the start is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.bank import load_bank, select  # noqa: E402
from grader.batch import run_batch  # noqa: E402
from grader.gradebook import open_gradebook  # noqa: E402
from grader.report import write_atomic  # noqa: E402
from grader.runner import versions  # noqa: E402

HOSTILE = "def {name}(*args, **kwargs):\n    print('x' * 100000)\n    import os\n    os._exit(0)\n"


def make_class(directory: Path, module: str, problems) -> list[str]:
    """Copies of the example submissions that define ``module``, and one that kills its worker in each function."""
    names = []
    for folder in sorted((ROOT / "submissions").iterdir()):
        if (folder / f"{module}.py").is_file():
            shutil.copytree(folder, directory / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
            names.append(folder.name)
    hostile = directory / "zz_hostile_exit"
    hostile.mkdir()
    (hostile / f"{module}.py").write_text("".join(HOSTILE.format(name=p.name) for p in problems))
    return names + [hostile.name]


def timed_batch(directory: Path, problems, db: Path, jobs: int, executor: str, bank: Path,
                reference: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    with open_gradebook(db) as gradebook:
        result = run_batch(directory, problems, gradebook, jobs=jobs, executor=executor, reference_dir=reference,
                           bank_dir=bank)
        scores = {g.name: g.score for g in gradebook.latest()}
    elapsed = time.perf_counter() - started
    if result.errored:
        raise SystemExit(f"{len(result.errored)} submissions not graded: {result.errored[0].error}")
    return elapsed, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="divergences", help="module (or problem id) to grade")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dask", action="store_true", help="also time the Dask executor at the largest -j")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "batch_throughput.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        # A snapshot of the bank and the reference: an edit in the working tree mid-run would change
        # the bank version under the batch (Dask workers refuse to grade with another version).
        bank, reference = Path(scratch) / "problems", Path(scratch) / "reference"
        shutil.copytree(ROOT / "problems", bank, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "reference", reference, ignore=shutil.ignore_patterns("__pycache__"))
        os.environ.update(GRADE_BANK=str(bank), GRADE_REFERENCE=str(reference))
        problems = select(load_bank(bank), [args.problem])
        directory = Path(scratch) / "class"
        directory.mkdir()
        names = make_class(directory, problems[0].module, problems)
        plan = [("local", jobs) for jobs in args.jobs] + ([("dask", max(args.jobs))] if args.dask else [])
        for executor, jobs in plan:
            elapsed, scores = timed_batch(directory, problems, Path(scratch) / f"{executor}-{jobs}.sqlite", jobs,
                                          executor, bank, reference)
            runs.append({"executor": executor, "jobs": jobs, "wall_s": round(elapsed, 2), "scores": scores})
            print(f"{executor} -j {jobs}: {len(names)} submissions in {elapsed:.1f} s", flush=True)
    baseline = runs[0]["wall_s"]
    document = {
        "benchmark": "batch_throughput",
        "problems": [p.id for p in problems],
        "submissions": len(names),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "runs": [{k: v for k, v in run.items() if k != "scores"} | {"speedup_vs_first": round(baseline / run["wall_s"], 2)}
                 for run in runs],
        "identical_scores": all(run["scores"] == runs[0]["scores"] for run in runs),
        "platform": platform.platform(),
        "versions": versions(),
    }
    write_atomic(args.out, json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: document[k] for k in ("runs", "identical_scores", "load_average_before")}, indent=2))


if __name__ == "__main__":
    main()
