"""The trusted in-process mode (protocol-overhead benchmark): the same specs give the same results as
through workers, no worker is forked, and grading goes back to workers after the block."""

from __future__ import annotations

from grader.bank import load_bank
from grader.inprocess import InProcessWorker, trusted_in_process
from grader.runner import grade
from grader.sandbox import Worker
from grader.values import StudentModule

from conftest import FIXTURE_BANK, FIXTURE_REFERENCE, FIXTURE_SUBMISSIONS, tree_of

BANK = load_bank(FIXTURE_BANK)


def _statuses(result):
    return [(p.id, q.name, q.status) for p in result.problems for q in p.properties]


def test_in_process_grading_agrees_with_workers(zygote):
    scores = {}
    for name in ("correct", "buggy", "no_square"):
        through_workers = grade(FIXTURE_SUBMISSIONS / name, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote)
        forks = []
        with trusted_in_process():
            assert StudentModule.worker_class is InProcessWorker
            in_process = grade(FIXTURE_SUBMISSIONS / name, BANK, reference_dir=FIXTURE_REFERENCE, zygote=zygote,
                               on_property=lambda *_: forks.append(len(tree_of(zygote.pid))))
        assert _statuses(in_process) == _statuses(through_workers), name
        assert in_process.score == through_workers.score
        scores[name] = (in_process.score, in_process.max_score)
        assert forks and set(forks) == {0}, "a worker was forked in-process"
    assert StudentModule.worker_class is Worker
    # a wrong square, and a missing one, lose points in-process too: the mode does not pass everything
    assert scores["correct"][0] == scores["correct"][1]
    assert scores["buggy"][0] < scores["buggy"][1] and scores["no_square"][0] < scores["no_square"][1]
