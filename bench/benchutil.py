"""What every benchmark's results file ends with, and how it is written (imported by the scripts in
this folder, which run with it on their path)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from grader.report import write_atomic
from grader.runner import versions


def machine_fields(load_before: tuple[float, ...]) -> dict:
    """The machine, the versions and the load average before (given) and now."""
    return {
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "versions": versions(),
    }


def write_results(out: Path, document: dict, *, quiet: tuple[str, ...] = ()) -> None:
    """Write ``document`` atomically to ``out`` and print it, less the versions and ``quiet`` keys."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: v for k, v in document.items() if k not in ("versions", *quiet)}, indent=2))
