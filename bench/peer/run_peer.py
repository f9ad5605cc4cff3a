"""Peer benchmark: the same small assignment (three KL problems, fixed and randomised cases) graded
by Otter-Grader without containers (``otter run``) and by ``grade run``, per submission.

    python bench/peer/run_peer.py --otter-venv /tmp/otter-venv [--out bench/results/peer_otter.json]

Otter-Grader is installed in its own virtual environment (its pins clash with the grader's); that
environment sees this project's torch through a ``.pth`` file the script writes into it. ``otter run``
executes a ``.py`` submission in a Jupyter kernel, so that environment needs ipykernel and a
``python3`` kernel spec::

    python -m venv /tmp/otter-venv && /tmp/otter-venv/bin/pip install otter-grader ipykernel
    /tmp/otter-venv/bin/python -m ipykernel install --sys-prefix
 Each
submission is graded by a fresh command of each tool, as a student's would be: ``otter run -a
autograder.zip divergences.py`` against ``grade run FOLDER --problem ...`` (cold zygote included).
The Otter tests are in ``bench/peer/tests`` (exception-based test files). Where Otter cannot be
installed or run, the results file says exactly why and nothing is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEER = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from grader.report import write_atomic  # noqa: E402
from grader.runner import versions  # noqa: E402

PROBLEMS = ("divergences.kl_normal", "divergences.kl_categorical", "divergences.kl_diag_normal_std")
SUBMISSIONS = ("correct_divergences", "kl_normal-missing_half", "kl_categorical-nan_for_zeros",
               "kl_diag_normal_std-mean_over_dimensions", "kl_normal-sigma_for_variance")


def otter_version(venv: Path) -> str | None:
    otter = venv / "bin" / "otter"
    if not otter.exists():
        return None
    done = subprocess.run([str(otter), "--version"], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return None
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "Otter-Grader version" in line]
    return lines[0].split(":", 1)[1].strip() if lines else "unknown"


def expose_torch(venv: Path) -> None:
    """Let Otter's interpreter import this project's torch and numpy (after its own packages)."""
    ours = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    theirs = next(Path(venv, "lib").glob("python3*/site-packages"))
    (theirs / "zz_grader_site.pth").write_text(str(ours) + "\n")


def timed(argv: list[str], cwd: Path, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--otter-venv", type=Path, default=Path("/tmp/otter-venv"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "peer_otter.json")
    args = parser.parse_args()
    document = {"benchmark": "peer_otter", "problems": list(PROBLEMS), "submissions": list(SUBMISSIONS),
                "cpu_count": os.cpu_count(), "load_average_before": [round(x, 2) for x in os.getloadavg()],
                "platform": platform.platform(), "versions": versions()}
    version = otter_version(args.otter_venv)
    if version is None:
        document.update(ran=False, reason=f"otter-grader is not installed in {args.otter_venv} "
                                          f"(pip install otter-grader there first)")
        write_atomic(args.out, json.dumps(document, indent=2) + "\n")
        print(document["reason"])
        return
    document["otter_version"] = version
    expose_torch(args.otter_venv)
    otter = str(args.otter_venv / "bin" / "otter")
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as scratch:
        scratch = Path(scratch)
        shutil.copytree(PEER / "tests", scratch / "tests")
        build_s, built = timed([otter, "generate", "-t", "tests", "-o", "autograder.zip"], scratch)
        zipped = scratch / "autograder.zip"
        if built.returncode != 0 or not zipped.exists():
            document.update(ran=False, reason=f"otter generate failed (exit {built.returncode}): "
                                              f"{(built.stderr or built.stdout).strip()[-1500:]}")
            write_atomic(args.out, json.dumps(document, indent=2) + "\n")
            print(document["reason"])
            return
        document["otter_generate_s"] = round(build_s, 2)
        rows = []
        for name in SUBMISSIONS:
            folder = scratch / "subs" / name
            shutil.copytree(ROOT / "submissions" / name, folder, ignore=shutil.ignore_patterns("__pycache__"))
            out = scratch / "out" / name
            out.mkdir(parents=True)
            otter_s, ran = timed([otter, "run", "-a", str(zipped), "-o", str(out), str(folder / "divergences.py")],
                                 scratch)
            otter_score = None
            results = out / "results.json"
            if results.exists():
                data = json.loads(results.read_text())
                tests = data.get("tests", [])
                otter_score = [round(sum(t.get("score") or 0 for t in tests), 4),
                               round(sum(t.get("max_score") or 0 for t in tests), 4)]
            report = scratch / f"{name}.json"
            problem_args = [a for p in PROBLEMS for a in ("--problem", p)]
            env = {k: v for k, v in os.environ.items() if not k.startswith("GRADE_")}
            grade_s, graded = timed([sys.executable, "-m", "grader", "run", str(folder), *problem_args,
                                     "--device", "cpu", "--json", str(report)], ROOT, env)
            ours = json.loads(report.read_text()) if report.exists() else None
            rows.append({
                "submission": name, "otter_s": round(otter_s, 2), "otter_exit": ran.returncode,
                "otter_score": otter_score,
                "otter_error": None if results.exists() else (ran.stderr or ran.stdout).strip()[-800:],
                "grade_s": round(grade_s, 2), "grade_exit": graded.returncode,
                "grade_score": [ours["score"], ours["max_score"]] if ours else None,
                "grade_over_otter": round(grade_s / otter_s, 2),
            })
            print(json.dumps(rows[-1]), flush=True)
    ran = all(r["otter_score"] is not None for r in rows)
    document.update(ran=ran, runs=rows, median_grade_s=round(statistics.median(r["grade_s"] for r in rows), 2),
                    load_average_after=[round(x, 2) for x in os.getloadavg()])
    if ran:
        document["median_otter_s"] = round(statistics.median(r["otter_s"] for r in rows), 2)
        document["median_grade_over_otter"] = round(document["median_grade_s"] / document["median_otter_s"], 2)
    else:
        document["reason"] = "otter run produced no results.json for some submission (see runs[].otter_error)"
        for row in rows:
            row.pop("grade_over_otter")
    write_atomic(args.out, json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: v for k, v in document.items() if k not in ("runs", "versions")}, indent=2))


if __name__ == "__main__":
    main()
