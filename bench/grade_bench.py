"""Benchmark: grading the reference on the whole bank, through workers and in-process (trusted mode).

    python bench/grade_bench.py [--problem ID ...] [--repeat 1] [--out bench/results/grade_bench.json]

Measures, on a snapshot of the bank (edits in the working tree mid-run change nothing):

- the wall time of ``grade`` on the reference with a cold zygote (as ``grade run`` does), the JSON
  report included, and each problem's share;
- the same specs with the "student" (the reference) served in the grader process
  (:mod:`grader.inprocess`): the through-the-worker / in-process wall-time ratio is the protocol's
  overhead (fork, confinement, framing, serialising every call);
- the share of the worker run's wall time spent outside the properties' own computation, two ways:
  against their in-process durations (a second run, so load changes between the runs count), and
  measured directly within the cold run (each call's round trip replaced by the time the student's
  code ran, which the worker reports): zygote start, worker start, protocol, reporting;
- the median latency of one small call through a worker and in-process;
- with CUDA present, the same through workers with ``--device cuda``: the ratio to the CPU and
  whether every property's status is identical; without it, why that part was skipped.

The machines are shared and noisy: the load average before and after is recorded; compare the
ratios measured within one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchutil import machine_fields, write_results  # noqa: E402
from grader.bank import load_bank, select  # noqa: E402
from grader.inprocess import trusted_in_process  # noqa: E402
from grader.report import write_json  # noqa: E402
from grader.runner import grade  # noqa: E402
from grader.sandbox import Zygote  # noqa: E402


def statuses(result) -> dict[str, str]:
    return {f"{p.id}::{q.name}": q.status for p in result.problems for q in p.properties}


def timed(problems, reference: Path, scratch: Path, *, device: str = "cpu", in_process: bool = False,
          zygote: Zygote | None = None) -> tuple[float, object]:
    """Wall time of one grading of the reference plus writing its JSON report."""
    started = time.perf_counter()
    if in_process:
        with trusted_in_process():
            result = grade(reference, problems, device=device, reference_dir=reference, zygote=zygote)
    else:
        result = grade(reference, problems, device=device, reference_dir=reference, zygote=zygote)
    write_json(result, scratch / "report.json")
    return time.perf_counter() - started, result


def call_latency(zygote: Zygote, reference: Path, count: int) -> dict:
    """Median seconds of one small call (kl_normal on four scalars) through a worker and in-process:
    the per-call price every property pays for each call it makes."""
    import statistics

    from grader.sandbox import Limits
    from grader.values import StudentModule

    timings = {}
    for mode in ("worker", "in_process"):
        with trusted_in_process() if mode == "in_process" else _nothing():
            module = StudentModule(zygote, str(reference), "divergences", ["kl_normal"], "cpu", Limits())
            module.load()
            samples = []
            try:
                for _ in range(count):
                    started = time.perf_counter()
                    module.kl_normal(0.5, 1.5, -0.3, 0.8)
                    samples.append(time.perf_counter() - started)
            finally:
                module.close()
        timings[mode] = statistics.median(samples)
    return {"calls": count, "worker_median_us": round(timings["worker"] * 1e6, 1),
            "in_process_median_us": round(timings["in_process"] * 1e6, 1),
            "ratio": round(timings["worker"] / timings["in_process"], 2)}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class WorkerTimes:
    """Within the block, every worker's start and every request's round trip are timed, with the time
    the student's code itself ran (``compute_s``, which the worker reports with each answer)."""

    def __init__(self):
        self.starts_s = self.round_trips_s = self.compute_s = 0.0
        self.starts = self.requests = 0

    def __enter__(self):
        from grader.sandbox import Worker

        self.saved = Worker.__init__, Worker.request
        start, request = self.saved
        times = self

        def timed_start(worker, *args, **kwargs):
            began = time.perf_counter()
            try:
                return start(worker, *args, **kwargs)
            finally:
                times.starts_s += time.perf_counter() - began
                times.starts += 1

        def timed_request(worker, *args, **kwargs):
            began = time.perf_counter()
            reply = request(worker, *args, **kwargs)
            times.round_trips_s += time.perf_counter() - began
            times.requests += 1
            times.compute_s += float(reply.meta.get("compute_s", 0.0))
            return reply

        Worker.__init__, Worker.request = timed_start, timed_request
        return self

    def __exit__(self, *exc):
        from grader.sandbox import Worker

        Worker.__init__, Worker.request = self.saved
        return False


def direct_share(wall_s: float, result, times: WorkerTimes) -> dict:
    """The overhead measured within one run through workers: the properties' own computation is their
    measured time with every worker start and round trip (all inside property time) replaced by the
    time the student's code ran; everything else of the wall time (zygote start, worker starts,
    protocol, killing workers, pytest, the report) is overhead."""
    own = property_seconds(result) - times.starts_s - times.round_trips_s + times.compute_s
    return {"share": round((wall_s - own) / wall_s, 3), "own_computation_s": round(own, 2),
            "worker_starts": times.starts, "worker_starts_s": round(times.starts_s, 2),
            "requests": times.requests, "round_trips_s": round(times.round_trips_s, 2),
            "student_code_s": round(times.compute_s, 2),
            "protocol_s": round(times.round_trips_s - times.compute_s, 2)}


def property_seconds(result) -> float:
    return sum(q.duration_s for p in result.problems for q in p.properties)


def cuda_part(problems, reference: Path, scratch: Path, cpu_wall: float, cpu_result) -> dict:
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} but no usable GPU"
        return {"ran": False, "reason": f"torch.cuda.is_available() is False on this machine "
                                        f"(torch {torch.__version__}, {build})"}
    wall, result = timed(problems, reference, scratch, device="cuda")
    cpu, gpu = statuses(cpu_result), statuses(result)
    return {"ran": True, "device_name": torch.cuda.get_device_name(0), "wall_s": round(wall, 2),
            "cuda_over_cpu": round(wall / cpu_wall, 3), "identical_statuses": cpu == gpu,
            "differing": sorted(k for k in cpu if cpu[k] != gpu.get(k)),
            "score": result.score, "max_score": result.max_score}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", action="append", dest="problems", help="module or problem id (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions of each mode (the minimum is kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "grade_bench.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as in a worker: the in-process side must not get more cores than a worker
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as scratch:
        scratch = Path(scratch)
        bank, reference = scratch / "problems", scratch / "reference"
        shutil.copytree(ROOT / "problems", bank, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "reference", reference, ignore=shutil.ignore_patterns("__pycache__"))
        problems = select(load_bank(bank), args.problems)
        cold, warm, local = [], [], []
        for _ in range(args.repeat):
            with WorkerTimes() as times:
                cold.append(timed(problems, reference, scratch))  # starts its own zygote, as `grade run` does
            cold[-1] = (*cold[-1], times)
            with Zygote() as zygote:  # grade() needs one; the in-process run forks nothing from it
                zygote.wait_ready()
                warm.append(timed(problems, reference, scratch, zygote=zygote))
                local.append(timed(problems, reference, scratch, in_process=True, zygote=zygote))
                latency = call_latency(zygote, reference, 300)
        (cold_s, cold_result, cold_times), (warm_s, warm_result), (local_s, local_result) = (
            min(r, key=lambda x: x[0]) for r in (cold, warm, local))
        cuda = cuda_part(problems, reference, scratch, warm_s, warm_result)
    own = property_seconds(local_result)
    document = {
        "benchmark": "grade_bench",
        "problems": len(problems),
        "properties": sum(len(p.properties) for p in cold_result.problems),
        "repeat": args.repeat,
        "reference_score": [cold_result.score, cold_result.max_score],
        "full_marks_every_mode": all(r.score == r.max_score for r in (cold_result, warm_result, local_result)),
        "identical_statuses_in_process": statuses(local_result) == statuses(warm_result),
        "cold_zygote_wall_s": round(cold_s, 2),
        "warm_zygote_wall_s": round(warm_s, 2),
        "in_process_wall_s": round(local_s, 2),
        "worker_over_in_process": round(warm_s / local_s, 3),
        "cold_worker_over_in_process": round(cold_s / local_s, 3),
        "one_call": latency,
        "property_seconds_through_workers": round(property_seconds(cold_result), 2),
        "property_seconds_in_process": round(own, 2),
        "share_outside_properties_own_computation": round((cold_s - own) / cold_s, 3),
        "share_outside_measured_directly": direct_share(cold_s, cold_result, cold_times),
        "per_problem_s": {p.id: round(sum(q.duration_s for q in p.properties), 3) for p in cold_result.problems},
        "cuda": cuda,
        **machine_fields(load_before),
    }
    write_results(args.out, document, quiet=("per_problem_s",))


if __name__ == "__main__":
    main()
