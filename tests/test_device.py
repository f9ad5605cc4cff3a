"""Device selection: auto/cpu/cuda resolution, the usage error without CUDA, and (where a GPU
exists) identical results on CUDA and CPU."""

from __future__ import annotations

import pytest
import torch

from grader.bank import REPO_ROOT, load_bank, select
from grader.cli import UsageError, resolve_device
from grader.runner import grade
from grader.sandbox import Limits


def test_cpu_is_always_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("cpu") == "cpu"


def test_auto_uses_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"


def test_auto_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"


def test_cuda_without_cuda_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="CUDA is not available on this machine"):
        resolve_device("cuda")


def test_cuda_workers_have_no_address_space_cap():
    # CUDA reserves far more virtual memory than any sane RLIMIT_AS; the CPU worker keeps its cap.
    assert "RLIMIT_AS" in Limits().rlimits("cpu")
    assert "RLIMIT_AS" not in Limits().rlimits("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (runs on GPU machines)")
def test_reference_grades_identically_on_cuda_and_cpu():
    problems = select(load_bank(), ["divergences"])
    reference = REPO_ROOT / "reference"
    on_cpu = grade(reference, problems, device="cpu", reference_dir=reference)
    on_cuda = grade(reference, problems, device="cuda", reference_dir=reference)
    assert on_cuda.device == "cuda"
    summary = lambda result: [(q.name, q.status, q.score) for p in result.problems for q in p.properties]  # noqa: E731
    assert summary(on_cuda) == summary(on_cpu)
    assert on_cuda.score == on_cuda.max_score
