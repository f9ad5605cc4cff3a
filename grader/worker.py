"""The worker: the only process that imports and runs student code.

It answers requests from the grader over one socket, one frame per request and one per reply. Any
exception the student's code raises (``SystemExit`` and ``KeyboardInterrupt`` included) becomes an
error reply; anything worse (a segfault, ``os._exit``, a hang) is the grader's to notice and punish by
killing the process tree.

Imported by the zygote before any fork: standard library, numpy, torch, and the grader's protocol,
harness and tamper modules only.

It does not trust the interpreter it shares with the student's module. What it calls on the grader's
behalf is bound below, at import time, before any student code exists; the tamper monitor
(:mod:`grader.tamper`) is installed before the student's import, and every reply is preceded by a
checkpoint, at which the monitor compares what the grader relies on with its snapshot and writes its
findings to a channel of its own.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback

import numpy as np
import torch

from grader import protocol, tamper
from grader.harness import CountingCallable, Harness, HarnessError, NotDifferentiable

MAX_TEXT = 4000

# Bound before the student's import: rebinding Harness.gradients, protocol.send_frame or sys.audit
# from the student's module changes nothing the worker calls (and the monitor reports it).
_audit, _import_module, _EVENT = sys.audit, importlib.import_module, tamper.EVENT
_send_frame, _message_with_value = protocol.send_frame, protocol.message_with_value
_gradients, _to_student, _to_plain, _resolve = Harness.gradients, Harness.to_student, Harness.to_plain, Harness.resolve
_store, _redraw, _callable_calls = Harness.store, Harness.redraw_parameters, Harness.callable_calls


def safe_text(produce, limit: int = MAX_TEXT) -> str:
    """Text from student-controlled objects, whose ``__str__`` may raise or return anything."""
    try:
        text = produce()
        if not isinstance(text, str):
            text = "<non-string text>"
    except BaseException as error:  # noqa: BLE001 - student code may raise anything
        text = f"<unprintable: {type(error).__name__} while formatting>"
    return text if len(text) <= limit else text[:limit] + " ...[truncated]"


def describe_exception(error: BaseException, submission_dir: str) -> dict:
    kind = safe_text(lambda: type(error).__name__, 200)
    # Paths inside the scratch copy are shown relative to the submission, so that reports do not
    # depend on where the copy was made.
    prefix = submission_dir + os.sep
    message = safe_text(lambda: str(error)).replace(prefix, "")

    def student_frames():
        frames = traceback.extract_tb(error.__traceback__)
        mine = [f for f in frames if f.filename.startswith(prefix)]
        return "".join(traceback.format_list(mine[-8:])).replace(prefix, "")

    return {"ok": False, "kind": "exception", "type": kind, "message": message,
            "traceback": safe_text(student_frames)}


class Worker:
    # The monitor's seal (grader.tamper.install), held only here: it lets the worker's checkpoints be
    # told from forged ones. None where no monitor runs (the in-process stand-in of grader.inprocess).
    seal = None
    activity = "the start of the worker"

    def __init__(self, fd: int, submission_dir: str, device: str, max_frame_bytes: int):
        self.fd = fd
        self.submission_dir = os.path.realpath(submission_dir)
        self.reader = protocol.FrameReader(fd, max_frame_bytes)
        self.harness = Harness(device)
        self.module = None

    def begin(self, activity: str) -> None:
        """Tell the monitor what runs now (``the call of kl_normal``): its findings say when."""
        self.activity = activity
        if self.seal is not None:
            _audit(_EVENT, "context", self.seal, activity)

    def checkpoint(self) -> None:
        """Before each reply: the monitor compares its snapshot and writes the checkpoint record the
        grader expects with every reply. A failure here only costs that record (a finding itself)."""
        if self.seal is not None:
            try:
                _audit(_EVENT, "checkpoint", self.seal, self.activity)
            except BaseException:  # noqa: BLE001 - e.g. an audit hook of the student's raising
                pass

    def reply(self, message: dict, value_key: str | None = None, value=None):
        try:
            if value_key is None:
                self.checkpoint()
                _send_frame(self.fd, message)
                return
            message, blobs = _message_with_value(message, value_key, value, convert=_to_plain)
        except protocol.ProtocolError as error:
            message, blobs = {"ok": False, "kind": "bad_value", "message": str(error)}, []
        except BaseException as error:  # noqa: BLE001 - converting a student object ran student code
            message, blobs = describe_exception(error, self.submission_dir), []
            message["kind"] = "bad_value"
        self.checkpoint()
        _send_frame(self.fd, message, blobs)

    def serve(self):
        while True:
            try:
                header, arrays = self.reader.read()
            except protocol.PeerClosed:
                return
            request = protocol.decode_value(header.get("request"), arrays)
            op = header.get("op")
            handler = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
            if handler is None:
                self.reply({"ok": False, "kind": "bad_request", "message": f"unknown op {op!r}"})
                continue
            handler(request or {})

    # --- operations ---------------------------------------------------------------------------

    def op_ping(self, request):
        self.reply({"ok": True, "pid": os.getpid()})

    def op_load(self, request):
        """Import the student's module and check that the named attributes exist."""
        name = request["module"]
        self.begin(f"the import of {name}.py")
        path = os.path.join(self.submission_dir, name + ".py")
        package = os.path.join(self.submission_dir, name, "__init__.py")
        if not (os.path.isfile(path) or os.path.isfile(package)):
            self.reply({"ok": False, "kind": "missing_module",
                        "message": f"the submission has no {name}.py"})
            return
        if name.split(".")[0] in tamper.UNLISTED:
            # The monitor took these out of sys.modules (grader.tamper.UNLISTED), but the worker runs
            # them: a student's file of that name is not the submission's module.
            self.reply({"ok": False, "kind": "missing_module",
                        "message": f"{name} did not resolve to the submission's {name}.py"})
            return
        if self.submission_dir not in sys.path:
            sys.path.insert(0, self.submission_dir)
        try:
            self.module = _import_module(name)
        except BaseException as error:  # noqa: BLE001 - an import may raise anything, SystemExit included
            message = describe_exception(error, self.submission_dir)
            message["kind"] = "import_error"
            self.reply(message)
            return
        origin = os.path.realpath(getattr(self.module, "__file__", "") or "")
        if not origin.startswith(self.submission_dir + os.sep):
            self.reply({"ok": False, "kind": "missing_module",
                        "message": f"{name} did not resolve to the submission's {name}.py"})
            return
        missing = [a for a in request.get("attributes", ()) if not hasattr(self.module, a)]
        if missing:
            self.reply({"ok": False, "kind": "missing_attribute",
                        "message": f"{name}.py does not define {', '.join(missing)}"})
            return
        self.reply({"ok": True})

    def _target(self, request):
        if "handle" in request:
            obj = _resolve(self.harness, "handle", {"id": request["handle"]})
        else:
            obj = self.module
        for part in request["name"].split("."):
            if part.startswith("__"):
                raise HarnessError(f"cannot call dunder attribute {part!r}")
            obj = getattr(obj, part)
        return obj

    def op_call(self, request):
        """Call a function of the module (or a method of a handle); optionally differentiate."""
        self.begin(f"the call of {_plain_name(request.get('name'))}")
        self.harness.callables = []
        try:
            target = self._target(request)
            args = list(_to_student(self.harness, request.get("args", ())))
            kwargs = dict(_to_student(self.harness, request.get("kwargs", {})))
        except (HarnessError, AttributeError) as error:
            self.reply({"ok": False, "kind": "bad_request", "message": safe_text(lambda: str(error))})
            return
        grad = request.get("grad")
        started = time.perf_counter()
        try:
            if grad is None:
                value = target(*args, **kwargs)
            else:
                cotangent = grad.get("cotangent")
                cotangent = None if cotangent is None else _to_student(self.harness, cotangent)
                value, grads = _gradients(
                    self.harness, args, kwargs, target, list(grad.get("wrt", ())), grad.get("output"), cotangent)
                value = (value, grads)
        except NotDifferentiable as error:
            self.reply({"ok": False, "kind": "not_differentiable", "message": str(error)})
            return
        except HarnessError as error:
            self.reply({"ok": False, "kind": "bad_request", "message": str(error)})
            return
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            self.reply(describe_exception(error, self.submission_dir))
            return
        # How long the student's code ran (the rest of the round trip is the protocol's): for benchmarks.
        # On a GPU its kernels may still be running: wait for them (copying the answer back would).
        if self.harness.device.type == "cuda":
            torch.cuda.synchronize(self.harness.device)
        compute_s = round(time.perf_counter() - started, 7)
        self.reply({"ok": True, "callable_calls": _callable_calls(self.harness), "compute_s": compute_s},
                   "value", value)

    def op_construct(self, request):
        """Instantiate a class of the module, move it to the device in float64, keep it as a handle."""
        self.begin(f"the construction of {_plain_name(request.get('name'))}")
        try:
            cls = self._target(request)
            args = _to_student(self.harness, request.get("args", ()))
            kwargs = _to_student(self.harness, request.get("kwargs", {}))
        except (HarnessError, AttributeError) as error:
            self.reply({"ok": False, "kind": "bad_request", "message": safe_text(lambda: str(error))})
            return
        try:
            obj = cls(*args, **kwargs)
            if isinstance(obj, torch.nn.Module):
                obj = obj.to(self.harness.device, torch.float64)
        except BaseException as error:  # noqa: BLE001
            self.reply(describe_exception(error, self.submission_dir))
            return
        self.reply({"ok": True, "handle": _store(self.harness, obj)})

    def op_redraw(self, request):
        self.begin("the re-draw of a module's parameters")
        try:
            count = _redraw(self.harness, request["handle"], request["seed"], request["std"])
        except HarnessError as error:
            self.reply({"ok": False, "kind": "bad_request", "message": str(error)})
            return
        except BaseException as error:  # noqa: BLE001 - parameters() is student code
            self.reply(describe_exception(error, self.submission_dir))
            return
        self.reply({"ok": True, "count": count})


def _plain_name(name) -> str:
    """A requested name as the monitor's findings show it (the grader sends plain strings)."""
    return name if isinstance(name, str) and len(name) <= 200 else "a function"


def serve(fd: int, submission_dir: str, device: str, max_frame_bytes: int, monitor_fd: int | None = None) -> None:
    """Entry point in the forked child; never returns normally to the zygote's code. ``monitor_fd``:
    the write end of the tamper monitor's channel, installed before any request is read (so before
    the student's import)."""
    torch.set_num_threads(1)
    np.seterr(all="ignore")
    worker = Worker(fd, submission_dir, device, max_frame_bytes)
    if monitor_fd is not None:
        worker.seal = tamper.install(monitor_fd, submission_dir, evaluation_code=CountingCallable.__call__.__code__)
    worker.serve()
