"""The benchmark scripts run and write what docs/benchmarks.md reads from them (smallest settings:
these are smoke tests of the scripts, not measurements)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_script(script: str, *args: str, timeout: float = 300) -> None:
    completed = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                               capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_call_latency_writes_every_cell(tmp_path):
    out = tmp_path / "call_latency.json"
    run_script("call_latency.py", "--calls", "3", "--out", str(out))
    document = json.loads(out.read_text())
    gaps = {f"{gap:g}ms" for gap in document["gaps_ms"]}
    assert set(document["ping_pong_us"]) == gaps
    for mode in ("worker_us", "in_process_us"):
        assert set(document[mode]) == {"4 scalars", "4 arrays of 64"}
        for cells in document[mode].values():
            assert set(cells) == gaps
            assert all(0 < value < 1e6 for value in cells.values())


def test_grade_bench_on_one_problem(tmp_path):
    out = tmp_path / "grade_bench.json"
    run_script("grade_bench.py", "--problem", "divergences.kl_normal", "--out", str(out))
    document = json.loads(out.read_text())
    assert document["problems"] == 1
    assert document["full_marks_every_mode"] is True
    assert document["identical_statuses_in_process"] is True
    assert document["worker_over_in_process"] > 0
    assert 0 <= document["share_outside_properties_own_computation"] < 1
    direct = document["share_outside_measured_directly"]
    assert 0 <= direct["share"] < 1 and direct["worker_starts"] >= 1 and direct["requests"] > 100
    assert 0 < direct["student_code_s"] < direct["round_trips_s"]
    assert document["cuda"]["ran"] in (True, False)
