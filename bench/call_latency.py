"""Benchmark: what one call through a worker costs, and how much of it is the machine's, not ours.

    python bench/call_latency.py [--calls 300] [--out bench/results/call_latency.json]

A property makes its calls between stretches of the grader's own work (Hypothesis drawing the next
example, the reference's answer, the comparison), so the worker has usually slept for a millisecond or
more when a request arrives. This script times, after a busy gap of 0, 1, 3 and 10 ms in the grader:

- a bare ping-pong of 100 bytes between two Python processes over a socket pair: the operating
  system's (and, on a virtual machine, the hypervisor's) price of waking a sleeping process twice;
- one small call (``kl_normal`` on four scalars) and one with four 64-element arrays, through a real
  confined worker forked from the zygote (the protocol, both sides' Python, the worker's torch);
- the same calls in-process (:mod:`grader.inprocess`, trusted code only).

Medians of ``--calls`` calls per cell. The growth with the gap of the ping-pong and of the worker
call, against a flat in-process line, is what no encoding can remove: only fewer round trips can.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchutil import machine_fields, write_results  # noqa: E402
from grader.inprocess import trusted_in_process  # noqa: E402
from grader.sandbox import Limits, Zygote  # noqa: E402
from grader.values import StudentModule  # noqa: E402

GAPS_S = (0.0, 0.001, 0.003, 0.01)


def busy(seconds: float) -> None:
    """The grader's own work between two calls, as a spin (a sleep would idle this CPU too)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def median_us(call, gap: float, count: int) -> float:
    samples = []
    for _ in range(count):
        busy(gap)
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1e6, 1)


def ping_pong(count: int) -> dict[str, float]:
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # echo until the other end closes
        ours.close()
        while True:
            data = os.read(theirs.fileno(), 65536)
            if not data:
                os._exit(0)
            os.write(theirs.fileno(), data)
    theirs.close()

    def one():
        os.write(ours.fileno(), b"x" * 100)
        select.select([ours.fileno()], [], [], 10)
        os.read(ours.fileno(), 65536)

    try:
        return {f"{gap * 1e3:g}ms": median_us(one, gap, count) for gap in GAPS_S}
    finally:
        ours.close()
        os.waitpid(pid, 0)


def module_calls(module: StudentModule, count: int) -> dict[str, dict[str, float]]:
    arrays = (np.full(64, 0.5), np.full(64, 1.5), np.zeros(64), np.ones(64))
    cases = {"4 scalars": lambda: module.kl_normal(0.5, 1.5, -0.3, 0.8),
             "4 arrays of 64": lambda: module.kl_normal(*arrays)}
    return {label: {f"{gap * 1e3:g}ms": median_us(call, gap, count) for gap in GAPS_S}
            for label, call in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per cell (the median is kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "call_latency.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as in a worker
    load_before = os.getloadavg()
    reference = str(ROOT / "reference")
    results = {"ping_pong_us": ping_pong(args.calls)}
    with Zygote() as zygote:
        zygote.wait_ready()
        module = StudentModule(zygote, reference, "divergences", ["kl_normal"], "cpu", Limits())
        module.load()
        try:
            results["worker_us"] = module_calls(module, args.calls)
        finally:
            module.close()
    with trusted_in_process():
        module = StudentModule(None, reference, "divergences", ["kl_normal"], "cpu", Limits())
        module.load()
        results["in_process_us"] = module_calls(module, args.calls)
    document = {
        "benchmark": "call_latency",
        "calls_per_cell": args.calls,
        "gaps_ms": [gap * 1e3 for gap in GAPS_S],
        **results,
        **machine_fields(load_before),
    }
    write_results(args.out, document)


if __name__ == "__main__":
    main()
