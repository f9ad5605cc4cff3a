"""Trusted code only: run a "student" module inside the grader process instead of a worker.

The protocol-overhead benchmark grades the reference twice, through forked workers and in-process,
with the same specs, conversions and harness: the ratio is what the worker (fork, confinement,
framing and serialising every call) costs. Nothing here confines anything, so ``grade run`` never
uses it; only :func:`trusted_in_process`, which a benchmark enters around its own ``grade`` call, does.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from grader import worker as worker_module
from grader.sandbox import Reply
from grader.values import StudentModule, _map_plain


class _LocalServer(worker_module.Worker):
    """The worker's own request handlers, answering in memory instead of over a socket."""

    def __init__(self, submission_dir: str, device: str):
        self.fd = None
        self.reader = None
        self.submission_dir = os.path.realpath(submission_dir)
        self.harness = worker_module.Harness(device)
        self.module = None
        self.last: Reply | None = None

    def reply(self, message: dict, value_key: str | None = None, value=None):
        if value_key is not None:
            try:
                value = _map_plain(self.harness.to_plain, value)
            except BaseException as error:  # noqa: BLE001 - as the worker: converting ran the module's code
                message, value = worker_module.describe_exception(error, self.submission_dir), None
                message["kind"] = "bad_value"
        self.last = Reply(value if value_key is not None else None, dict(message))

    def op_load(self, request):
        # Each grading stages the submission in a fresh directory: import this copy, not a cached one,
        # and leave the grader's import path as it was.
        sys.modules.pop(request["module"], None)
        try:
            super().op_load(request)
        finally:
            while self.submission_dir in sys.path:
                sys.path.remove(self.submission_dir)


class InProcessWorker:
    """:class:`grader.sandbox.Worker`'s interface, served in the calling process (no limits, no deadline)."""

    def __init__(self, zygote, submission: str, device: str, limits, scratch: str | None = None):
        self.server = _LocalServer(submission, device)
        self.exit_status: dict | None = None

    @property
    def alive(self) -> bool:
        return self.exit_status is None

    def request(self, op: str, request: dict, timeout: float | None = None,
                backstop: float | None = None) -> Reply:
        handler = getattr(self.server, f"op_{op}", None)
        if handler is None:
            return Reply(None, {"ok": False, "kind": "bad_request", "message": f"unknown op {op!r}"})
        handler(request or {})
        return self.server.last

    def close(self) -> dict:
        if self.exit_status is None:
            self.exit_status = {"status": "closed", "code": 0, "signal": None}
        return self.exit_status

    def captured_output(self) -> str:
        return ""


@contextmanager
def trusted_in_process():
    """Within the block, student modules run in this process: for trusted code (the reference) only."""
    saved = StudentModule.__dict__["worker_class"]
    StudentModule.worker_class = InProcessWorker
    try:
        yield
    finally:
        StudentModule.worker_class = saved
