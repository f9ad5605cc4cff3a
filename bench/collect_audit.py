"""Collect per-module ``grade audit --json`` files into ``bench/results/audit.json`` and print a
Markdown summary (the table in docs/audit.md).

    for m in divergences logistic; do uptime > $m.load; grade audit --problem $m --seeds 3 --json $m.json; \\
        uptime >> $m.load; done
    python bench/collect_audit.py DIR [--out bench/results/audit.json]

DIR holds ``<module>.json`` and, optionally, ``<module>.load`` (two ``uptime`` lines: before, after).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.report import write_atomic  # noqa: E402
from grader.runner import versions  # noqa: E402

_LOAD = re.compile(r"load average: ([\d.]+), ([\d.]+), ([\d.]+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "audit.json")
    args = parser.parse_args()
    modules = {}
    for path in sorted(args.directory.glob("*.json")):
        summary = json.loads(path.read_text())
        load = args.directory / f"{path.stem}.load"
        loads = [[float(x) for x in m.groups()] for m in _LOAD.finditer(load.read_text())] if load.exists() else []
        modules[path.stem] = {"load_average_before": loads[0] if loads else None,
                              "load_average_after": loads[1] if len(loads) > 1 else None, "audit": summary}
    document = {"benchmark": "audit", "modules": modules, "platform": platform.platform(), "versions": versions(),
                "ok": all(m["audit"]["ok"] for m in modules.values())}
    write_atomic(args.out, json.dumps(document, indent=2) + "\n")
    print("| module | seeds | gradings | wall | correct gradings (problem x seed) | false failures | mistakes caught | examples "
          "named, own problem only | properties that caught nothing | declared false failure |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, entry in modules.items():
        audit = entry["audit"]
        rows = audit["problems"].values()
        examples = [e for r in rows for e in r["examples"].values()]
        idle = sum(len(r["never_catching"]) for r in rows)
        properties = sum(len(r["properties"]) for r in rows)
        print(f"| {name} | {audit['seeds']} | {audit['gradings']} | {audit['duration_s'] / 60:.1f} min | "
              f"{sum(r['correct_runs'] for r in rows)} | {len(audit['false_failures'])} | "
              f"{sum(r['mistakes_caught'] for r in rows)}/{sum(r['mistakes'] for r in rows)} | "
              f"{sum(e['ok'] for e in examples)}/{len(examples)} | {idle} of {properties} | "
              f"{audit['budget']['declared_total']:.3g} |")


if __name__ == "__main__":
    main()
