"""Benchmark: worker start latency from the zygote vs a fresh interpreter importing torch, and the
wall time of grading the reference on the divergences problems.

    python bench/worker_start.py [--forks 50] [--fresh 5] [--out bench/results/worker_start.json]

Reports medians and the ratio measured in one run (the machines are shared and noisy: compare
ratios, not absolute numbers across runs).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.bank import load_bank, select  # noqa: E402
from grader.report import write_atomic  # noqa: E402
from grader.runner import grade, versions  # noqa: E402
from grader.sandbox import Limits, Worker, Zygote  # noqa: E402


def fork_latencies(zygote: Zygote, submission: Path, count: int) -> list[float]:
    """Time from asking for a worker to its first answer (fork + handshake), in seconds."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        worker = Worker(zygote, str(submission), "cpu", Limits())
        worker.request("ping", {})
        samples.append(time.perf_counter() - started)
        worker.close()
    return samples


def fresh_interpreter_latencies(count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, scipy.stats, torch"], check=True)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forks", type=int, default=50)
    parser.add_argument("--fresh", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "worker_start.json")
    args = parser.parse_args()

    load_before = __import__("os").getloadavg()
    started = time.perf_counter()
    zygote = Zygote().start()
    zygote_start = time.perf_counter() - started
    try:
        forks = fork_latencies(zygote, ROOT / "reference", args.forks)
        fresh = fresh_interpreter_latencies(args.fresh)
        problems = select(load_bank(), ["divergences"])
        started = time.perf_counter()
        result = grade(ROOT / "reference", problems, reference_dir=ROOT / "reference", zygote=zygote)
        grading = time.perf_counter() - started
    finally:
        zygote.close()

    fork_median, fresh_median = statistics.median(forks), statistics.median(fresh)
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": __import__("os").cpu_count()},
        "versions": versions(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in __import__("os").getloadavg()],
        "zygote_start_s": round(zygote_start, 4),
        "worker_start_from_zygote_s": {"median": round(fork_median, 5), "p90": round(sorted(forks)[int(0.9 * len(forks))], 5),
                                       "samples": len(forks)},
        "fresh_interpreter_importing_torch_s": {"median": round(fresh_median, 4), "samples": len(fresh)},
        "fresh_over_zygote_ratio": round(fresh_median / fork_median, 1),
        "grade_reference_divergences": {"wall_s": round(grading, 3), "score": result.score,
                                        "max_score": result.max_score, "problems": len(problems),
                                        "per_problem_property_s": {
                                            p.id: round(sum(q.duration_s for q in p.properties), 3)
                                            for p in result.problems}},
    }
    write_atomic(args.out, json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
