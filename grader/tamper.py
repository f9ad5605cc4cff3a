"""Tampering: what a student's module does to the grader's own code in the worker, noticed and reported.

The harness runs in the worker, in the same interpreter as the student's module, so the module can
reach it: rebind ``grader.harness.Harness.gradients``, reset a callable's count, replace
``torch.autograd.grad``, walk ``gc`` or the frames to the harness's objects, write memory through
``ctypes``. Three lines of defence (docs/isolation.md, "Tampering inside the worker"):

- What the harness and the worker call is bound when the zygote imports them, before any student
  code exists, so rebinding a name afterwards changes nothing they call.
- :func:`install`, called in the worker before the student's import, takes a snapshot of the
  identities of what the grader relies on (the namespaces of ``grader.*`` and their classes, the
  torch, numpy and standard-library functions the harness and the protocol call), and adds an audit
  hook (``sys.addaudithook``: it cannot be removed from Python) that notices ``ctypes``, ``gc``
  walks, frame access, tracing, code replacement and look-alike code. After the import and after
  every call, the worker's checkpoint compares the snapshot. Findings are written at once to a pipe
  of their own (the monitor's channel), with a raw ``os.write`` bound before the import: a finding
  has left the process before the student's code runs again.
- :func:`scan_submission`, in the grader process, reads the staged submission's source (``ast``,
  never executed) for imports of ``grader`` or ``ctypes``, ``gc`` walks, frame access and
  assignments to attributes of torch, numpy or grader. Obfuscated forms (``getattr`` with strings,
  ``__import__``) escape it; the runtime checks do not depend on it.

The grader reads the channel (:class:`MonitorChannel`) and trusts none of what the worker's replies
say about it: each reply must be matched by one checkpoint record carrying the secret the monitor
sent before the student's import, so a channel that was closed, redirected or written to by
something else is itself a finding. Evaluations of the harness's callables are counted by the hook,
whose state no Python name reaches.

This module is imported by the worker (through the harness, in the zygote) and by the grader: it
imports only the standard library.
"""

from __future__ import annotations

import ast
import itertools
import json
import operator
import os
import select
import sys
import sysconfig
import threading
import time
import types
from dataclasses import dataclass
from pathlib import Path

EVENT = "grader.tamper"  # the audit event through which the worker, the harness and the hook talk
GRADER_DIR = os.path.dirname(os.path.realpath(__file__)) + os.sep
MAX_FINDINGS = 64  # per worker: beyond it one line says that more were dropped
MAX_RECORD = 1000  # characters of a finding's text (a record is also cut to one atomic pipe write)

# --- what the grader relies on in the worker ------------------------------------------------------
# Compared after the import and after every call (about 800 identities: tens of microseconds). The
# grader's own modules that serve requests (all of their namespaces, classes and module-level dicts)
# are found by themselves; the zygote's and the isolation layers' are done before the import, and
# this module's hook uses none of its names once installed.
GRADER_MODULES_DONE = ("grader.zygote", "grader.isolation", "grader.tamper")
# Whole namespaces: every entry's identity, and no entry added (a global added to a module shadows
# the builtin of that name), except a submodule imported since. Of the builtins, those that the
# code of every watched namespace names (isinstance, len, tuple...).
WATCHED_MODULES = ("json.encoder", "torch.autograd", "torch.autograd.graph", "torch.autograd.variable",
                   "torch.autograd.grad_mode")
# Classes whose methods the harness calls, or a submission would patch (with the mutable classes of
# their MRO).
WATCHED_CLASSES = ("torch.Tensor", "torch.nn.Module", "torch.nn.Parameter", "torch.enable_grad", "torch.no_grad",
                   "json.JSONEncoder")
# Single entries of namespaces too large to compare whole at every call.
WATCHED_NAMES = {
    "torch": ("Tensor", "from_numpy", "as_tensor", "enable_grad", "no_grad", "ones_like", "randn", "Generator",
              "device", "float16", "float32", "float64", "bfloat16", "autograd", "nn", "cuda", "log", "logsumexp",
              "softmax", "set_num_threads", "is_tensor", "tensor"),
    "torch.cuda": ("synchronize",),
    "numpy": ("ndarray", "generic", "bool_", "integer", "floating", "float64", "int64", "dtype", "asarray", "array",
              "ascontiguousarray", "frombuffer", "seterr", "iinfo", "exp", "log", "sum"),
    "os": ("write", "read", "fstat", "getpid", "path", "sep"),
    "math": ("isfinite", "prod", "pi"),
    "time": ("perf_counter", "monotonic"),
    "sys": ("audit", "modules"),
}
# Modules taken out of sys.modules before the student's import: importing them again raises the
# audit "import" event (a cached import raises none), and what the student gets is a fresh copy,
# not the one the worker runs.
UNLISTED = ("grader", "ctypes", "_ctypes")

_WATCHED_EVENTS = frozenset((
    EVENT, "sys._getframe", "sys._current_frames", "sys._getframemodulename", "sys.settrace", "sys.setprofile",
    "sys.addaudithook", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "object.__getattr__",
    "object.__setattr__", "object.__delattr__", "compile", "code.__new__", "marshal.loads", "import", "open",
    "ctypes.addressof", "ctypes.call_function", "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.create_string_buffer",
    "ctypes.create_unicode_buffer", "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.get_errno",
    "ctypes.get_last_error", "ctypes.set_errno", "ctypes.set_exception", "ctypes.string_at", "ctypes.wstring_at",
))
# Attributes whose reading is audited and hands out a frame (from which f_back reaches every caller).
_FRAME_GATES = frozenset(("tb_frame", "gi_frame", "cr_frame", "ag_frame"))
# Standard-library functions that hand frames to their caller. Other standard-library code that
# looks at frames on a caller's behalf (logging, warnings, namedtuple, traceback's formatting) is
# not counted against the student: it returns text or names, not frames.
_FRAME_HELPERS = frozenset((
    ("inspect.py", "currentframe"), ("inspect.py", "stack"), ("inspect.py", "trace"),
    ("inspect.py", "getouterframes"), ("inspect.py", "getinnerframes"), ("traceback.py", "walk_stack"),
    ("traceback.py", "walk_tb"), ("__init__.py", "<lambda>"),  # logging.currentframe
))
# Standard-library entry points of an import (importlib.import_module), besides the frozen machinery.
_IMPORTING = frozenset((("__init__.py", "import_module"), ("__init__.py", "reload")))
# Attribute writes that change what a function or class does, when done to the grader's, torch's
# or numpy's own (the audit hook sees these; plain attribute assignments it does not).
_CODE_ATTRIBUTES = frozenset(("__code__", "__defaults__", "__kwdefaults__", "__class__", "__bases__", "__dict__"))
_PROTECTED_PACKAGES = ("grader", "torch", "numpy", "scipy")


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = set()
    for key in ("stdlib", "platstdlib"):
        for path in (paths[key], os.path.realpath(paths[key])):
            found.add(path.rstrip(os.sep) + os.sep)
    return tuple(sorted(found))


def _library_markers() -> tuple[str, ...]:
    return (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


# --- the worker's side: snapshot, audit hook, checkpoints -----------------------------------------


def _resolve(dotted: str):
    """The object named ``dotted`` among the loaded modules, or None (nothing is imported here)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None:
            value = module
            for part in parts[cut:]:
                value = getattr(value, part, None)
                if value is None:
                    return None
            return value
    return None


def _is_mutable_class(value) -> bool:
    return isinstance(value, type) and not value.__flags__ & (1 << 8)  # Py_TPFLAGS_IMMUTABLETYPE


def watched_namespaces() -> tuple[list, list]:
    """What :func:`install` snapshots: ``(label, mapping, tolerant)`` for namespaces compared whole
    (``tolerant``: a submodule may appear in it), ``(label, mapping, key)`` for single entries."""
    wholes, singles, seen = [], [], set()

    def whole(label: str, owner, mapping, tolerant: bool) -> None:
        if id(owner) not in seen:
            seen.add(id(owner))
            wholes.append((label, mapping, tolerant))

    for name, module in sorted(sys.modules.items()):
        if module is None or not (name == "grader" or name.startswith("grader.")) or name in GRADER_MODULES_DONE:
            continue
        whole(name, module, vars(module), False)
        for key, value in list(vars(module).items()):
            if key.startswith("__"):
                continue
            if isinstance(value, type) and vars(value).get("__module__") == name:
                whole(f"{name}.{key}", value, vars(value), False)
            elif type(value) is dict:
                whole(f"{name}.{key}", value, value, False)
    for name in WATCHED_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            whole(name, module, vars(module), True)
    for dotted in WATCHED_CLASSES:
        cls = _resolve(dotted)
        for base in getattr(cls, "__mro__", ()):
            if _is_mutable_class(base):
                label = dotted if base is cls else f"{base.__module__}.{base.__qualname__}"
                whole(label, base, vars(base), False)
    names = dict(WATCHED_NAMES, builtins=sorted(_names_used(mapping for _, mapping, _ in wholes)))
    for owner, keys in names.items():
        module = sys.modules.get(owner)
        if module is None:
            continue
        for key in keys:
            if key in vars(module):
                singles.append((f"{owner}.{key}", vars(module), key))
    return wholes, singles


def _names_used(namespaces) -> set[str]:
    """The builtins that the functions found in ``namespaces`` name (their code's global names)."""
    builtins, found, codes = vars(sys.modules["builtins"]), set(), []
    for mapping in namespaces:
        for value in list(mapping.values()):
            function = getattr(value, "__func__", value)  # staticmethod, classmethod
            for candidate in (function, getattr(value, "fget", None), getattr(value, "fset", None)):
                code = getattr(candidate, "__code__", None)
                if isinstance(code, types.CodeType):
                    codes.append(code)
    while codes:
        code = codes.pop()
        found.update(name for name in code.co_names if name in builtins)
        codes += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return found


def install(fd: int, submission_dir: str, *, evaluation_code) -> object:
    """Start the monitor in this worker, before the student's import; returns the seal the worker
    passes with its checkpoints (which no student code can produce without gc or frames).

    ``fd``: the write end of the monitor's channel; ``evaluation_code``: the code of the harness's
    counting ``__call__``, the only code allowed to report an evaluation."""
    wholes, singles = watched_namespaces()
    seal = object()
    secret = os.urandom(16).hex()
    hook = _monitor(fd, os.path.realpath(submission_dir) + os.sep, secret, seal, wholes, singles, evaluation_code)
    os.write(fd, f"{secret} hello {json.dumps(secret)}\n".encode())
    sys.addaudithook(hook)
    for name in list(sys.modules):
        if any(name == top or name.startswith(top + ".") for top in UNLISTED):
            del sys.modules[name]
    return seal


def _monitor(fd, submission, secret, seal, wholes, singles, evaluation_code):
    """The audit hook. Everything it uses is bound here, as a closure variable: a builtin, a module
    attribute or a constant of this module that the student rebinds later changes nothing it does,
    and no name outside reaches it (audit hooks cannot be listed). It never calls student code: it
    looks only at identities, exact strings and ints, so no ``__eq__``, ``__hash__``, ``__repr__`` or
    property of the student's runs here (a str subclass is not a string to it)."""
    _type, _str, _tuple, _list, _len, _all, _map, _zip, _dict = \
        type, str, tuple, list, len, all, map, zip, dict
    _is, _write, _fstat, _getframe, _ident = operator.is_, os.write, os.fstat, sys._getframe, threading.get_ident
    _startswith, _endswith, _contains, _rfind = str.startswith, str.endswith, str.__contains__, str.rfind
    # One line of ASCII whatever the text holds: _json's C encoder, bound now (json.loads reads it back).
    _quoted = json.encoder.encode_basestring_ascii
    _issubclass, _type_type, _module_type, _function_type = issubclass, type, types.ModuleType, types.FunctionType
    _BaseException, _OSError = BaseException, OSError
    _class_module, _class_qualname = type.__dict__["__module__"].__get__, type.__dict__["__qualname__"].__get__
    _function_module = types.FunctionType.__dict__["__module__"].__get__
    _function_qualname = types.FunctionType.__dict__["__qualname__"].__get__
    _builtin_names = frozenset(vars(sys.modules["builtins"]))
    watched, gates, helpers, code_attributes = _WATCHED_EVENTS, _FRAME_GATES, _FRAME_HELPERS, _CODE_ATTRIBUTES
    packages, unlisted, event_name, sep, importing = _PROTECTED_PACKAGES, UNLISTED, EVENT, os.sep, _IMPORTING
    max_findings, max_record, pipe_buf = MAX_FINDINGS, MAX_RECORD, 4000
    stdlib, library, grader_dir = _stdlib_dirs(), _library_markers(), GRADER_DIR
    identity = _fstat(fd)
    channel = (identity.st_dev, identity.st_ino)
    _chain, _values, _get = itertools.chain.from_iterable, operator.methodcaller("values"), dict.get
    # The snapshot: [label, mapping, keys, values, tolerant] per whole namespace, [label, mapping,
    # key, value] per single entry, and the same flattened for one pass in C at each checkpoint.
    namespaces = [[label, mapping, _tuple(mapping.keys()), _tuple(mapping.values()), tolerant]
                  for label, mapping, tolerant in wholes]
    entries = [[label, mapping, key, mapping.get(key)] for label, mapping, key in singles]
    flat = {}

    def flatten():
        mappings = _tuple(namespace[1] for namespace in namespaces)
        flat.update(mappings=mappings, lengths=_tuple(_map(_len, mappings)),
                    values=_tuple(_chain(_map(_values, mappings))),
                    owners=_tuple(entry[1] for entry in entries), names=_tuple(entry[2] for entry in entries),
                    entries=_tuple(entry[3] for entry in entries))

    flatten()
    context = ["the start of the worker"]
    busy = set()
    reported, imported = [], []
    state = {"broken": False, "dropped": False, "checkpoints": 0}
    evaluated = []  # [callable, count] for the current call, found by identity (no hashing)

    def emit(kind, text):
        line = (secret + " " + kind + " " + _quoted(text) + "\n").encode()
        while _len(line) > pipe_buf and text:  # text full of escapes: keep the record one atomic write
            text = text[:_len(text) // 2]
            line = (secret + " " + kind + " " + _quoted(text) + "\n").encode()
        try:
            now = _fstat(fd)
            if (now.st_dev, now.st_ino) != channel:
                state["broken"] = True  # redirected: what is written now would be lost; say so once it is back
                return
            if state["broken"]:
                state["broken"] = False
                _write(fd, (secret + " lost " + _quoted("") + "\n").encode())
            _write(fd, line)  # one record is one write of at most PIPE_BUF bytes: atomic
        except _OSError:
            state["broken"] = True

    def finding(what, where):
        what, where = what[:max_record], where[:max_record // 2]
        key = (what, where)
        if key in reported:
            return
        if _len(reported) >= max_findings:
            if not state["dropped"]:
                state["dropped"] = True
                emit("finding", "more findings were left out\n")
            return
        reported.append(key)
        emit("finding", what + "\n" + where)

    def kind_of(filename):
        if _type(filename) is not _str:
            return "student"  # only code made by hand has such a name
        if _startswith(filename, submission):
            return "student"
        if _startswith(filename, grader_dir):
            return "grader"
        if _startswith(filename, "<frozen "):
            return "stdlib"
        if _startswith(filename, "<"):
            return "dynamic"  # exec'd or generated code speaks for whoever ran it
        for marker in library:
            if _contains(filename, marker):
                return "library"
        if _startswith(filename, stdlib):
            return "stdlib"
        return "library"

    def origin(frame):
        """(who, entry, frame): who caused an event (the first frame outward that is neither the
        standard library nor generated code: "student", "grader", "library" or "none"), the
        standard-library function it called to do so (file name, function name) or None, and that frame."""
        entry = None
        while frame is not None:
            code = frame.f_code
            who = kind_of(code.co_filename)
            if who == "stdlib":
                name, function = code.co_filename, code.co_name
                entry = (name[_rfind(name, sep) + 1:], function) if _type(function) is _str else ("?", "?")
            elif who != "dynamic":
                return who, entry, frame
            frame = frame.f_back
        return "none", entry, None

    def located(frame):
        """When (the current context) and where (the nearest frame of the student's, outward)."""
        where = "during " + context[0]
        while frame is not None:
            filename = frame.f_code.co_filename
            if _type(filename) is _str and _startswith(filename, submission):
                return where + " (" + filename[_len(submission):] + ", line " + _str(frame.f_lineno) + ")"
            frame = frame.f_back
        return where

    def module_of(target):
        kind = _type(target)
        if kind is _function_type:
            module = _function_module(target)
        elif _issubclass(kind, _type_type):
            module = _class_module(target)
        else:
            return None
        return module if _type(module) is _str else None

    def protected(target):
        """Whether ``target`` is the grader's, torch's or numpy's own function or class, or an
        instance of one of the grader's classes (a harness callable)."""
        module = module_of(target)
        if module is None:
            kind = _type(target)
            module = _class_module(kind) if _issubclass(_type(kind), _type_type) else None
            return _type(module) is _str and (module == "grader" or _startswith(module, "grader."))
        for package in packages:
            if module == package or _startswith(module, package + "."):
                return True
        return False

    def name_of(target):
        kind = _type(target)
        module = module_of(target)
        if module is not None:
            qualname = _function_qualname(target) if kind is _function_type else _class_qualname(target)
            return module + "." + qualname if _type(qualname) is _str else module
        qualname = _class_qualname(kind)
        return "a " + (qualname if _type(qualname) is _str else "harness object")

    def unchanged():
        """The fast path, in C: as many entries as before, and the same objects in the same order.
        (Names are compared when that fails: an entry renamed without changing either is the last
        one of its namespace given a new name and kept object, which breaks rather than forges.)"""
        mappings = flat["mappings"]
        return _tuple(_map(_len, mappings)) == flat["lengths"] \
            and _all(_map(_is, _chain(_map(_values, mappings)), flat["values"])) \
            and _all(_map(_is, _map(_get, flat["owners"], flat["names"]), flat["entries"]))

    def compare():
        """Report every entry that differs from the snapshot, then adopt the current state."""
        if unchanged():
            return
        for namespace in namespaces:
            label, mapping, keys, values, tolerant = namespace
            if _len(mapping) == _len(keys) and _all(_map(_is, mapping.values(), values)) \
                    and _all(_map(_is, mapping.keys(), keys)):
                continue
            current_keys, current_values = _tuple(mapping.keys()), _tuple(mapping.values())
            namespace[2], namespace[3] = current_keys, current_values
            if not _all(_type(key) is _str for key in current_keys):
                finding("put an attribute whose name is not a plain string into " + label, "after " + context[0])
                continue
            before, now = _dict(_zip(keys, values)), _dict(_zip(current_keys, current_values))
            for key, value in before.items():
                if key not in now:
                    finding("removed " + label + "." + key, "after " + context[0])
                elif now[key] is not value:
                    finding("replaced " + label + "." + key, "after " + context[0])
            for key, value in now.items():
                if key in before or (tolerant and _type(value) is _module_type and key not in _builtin_names):
                    continue  # tolerated: a submodule imported since (torch.autograd.forward_ad...)
                finding("added " + label + "." + key, "after " + context[0])
        for entry in entries:
            label, mapping, key, value = entry
            current = mapping.get(key)
            if current is not value:
                finding("replaced " + label, "after " + context[0])
                entry[3] = current
        flatten()

    def ours(args):
        kind = args[0] if _len(args) else None
        if _type(kind) is not _str:
            return
        if kind == "evaluated":
            caller = _getframe(2)  # 0: this function, 1: the hook, 2: whoever raised the event
            if caller is None or caller.f_code is not evaluation_code:
                finding("raised the monitor's evaluation event outside a harness callable", located(caller))
                return
            target = args[1]
            for pair in evaluated:
                if pair[0] is target:
                    pair[1] += 1
                    return
            evaluated.append([target, 1])
        elif kind == "counts":
            if _len(args) < 3 or _type(args[1]) is not _tuple or _type(args[2]) is not _list or not args[2]:
                return
            counts = []
            for target in args[1]:
                count = 0
                for pair in evaluated:
                    if pair[0] is target:
                        count = pair[1]
                counts.append(count)
            args[2][0] = counts
        elif kind == "finding":
            if _len(args) > 1 and _type(args[1]) is _str:
                finding(args[1], located(_getframe(2)))
        elif kind in ("context", "checkpoint"):
            if _len(args) < 3 or args[1] is not seal or _type(args[2]) is not _str:
                finding("raised the monitor's own event (a forged checkpoint?)", located(_getframe(2)))
                return
            if kind == "context":
                context[0] = args[2]
                del evaluated[:]
            else:
                compare()
                state["checkpoints"] += 1
                emit("checkpoint", _str(state["checkpoints"]))

    def judged(event, args):
        """(what was found, the frame that caused it) for an event of the student's, else None."""
        if event == "object.__getattr__":
            if _len(args) < 2 or _type(args[1]) is not _str or args[1] not in gates:
                return None
            who, entry, frame = origin(_getframe(2))
            if who == "student" and (entry is None or entry in helpers):
                return "read " + args[1] + " (frame access)", frame
            return None
        if event in ("object.__setattr__", "object.__delattr__"):
            if _len(args) < 2 or _type(args[1]) is not _str or args[1] not in code_attributes or not protected(args[0]):
                return None
            who, entry, frame = origin(_getframe(2))
            if who in ("student", "none"):
                verb = "replaced " if event == "object.__setattr__" else "deleted "
                return verb + args[1] + " of " + name_of(args[0]), frame
            return None
        who, entry, frame = origin(_getframe(2))
        name = args[0] if _len(args) else None
        if event in ("sys._getframe", "sys._getframemodulename"):
            if who == "student" and (entry is None or entry in helpers):
                through = " (through " + entry[0] + ": " + entry[1] + ")" if entry is not None else ""
                return "called " + event + through + " (frame access)", frame
            return None
        if event in ("compile", "code.__new__"):
            # An import compiles a module under its own file's name: only code the student makes
            # by hand (compile, CodeType.replace) under a file name not theirs passes for another's.
            filename = args[1] if _len(args) > 1 else None
            if who == "student" and _type(filename) is _str and _startswith(filename, sep) \
                    and not _startswith(filename, submission) and (entry is None or entry not in importing) \
                    and not (entry is not None and _startswith(entry[0], "<frozen importlib")):
                return "made code that claims to come from " + filename, frame
            return None
        if event == "import":
            if who == "student" and _type(name) is _str:
                for top in unlisted:
                    if name == top or _startswith(name, top + "."):
                        for earlier in imported:
                            if _startswith(earlier, name + "."):
                                return None  # its parent package, imported along with it
                        imported.append(name)
                        return "imported " + name, frame
            return None
        if event == "open":
            if who == "student" and _type(name) is _str and _startswith(name, "/proc/") and _endswith(name, "/mem"):
                return "opened " + name + " (memory access)", frame
            return None
        if who == "student" or (who == "none" and event in ("sys.settrace", "sys.setprofile", "sys.addaudithook")):
            if _startswith(event, "gc."):
                return "used " + event + " (walking the garbage collector)", frame
            if _startswith(event, "ctypes."):
                return "used ctypes (" + event + ")", frame
            if event == "sys.addaudithook":
                return "installed an audit hook", frame
            if event == "marshal.loads":
                return "loaded code with marshal.loads", frame
            if event in ("sys.settrace", "sys.setprofile"):
                return "installed a trace function (" + event + ")", frame
            return "called " + event + " (frame access)", frame
        return None

    def hook(event, args):
        if event not in watched:
            return
        me = _ident()
        if me in busy:
            return  # an event raised by the hook's own frame reads
        busy.add(me)
        try:
            if event == event_name:
                ours(args)
                return
            found = judged(event, args)
            if found is not None:
                finding(found[0], located(found[1]))
        except _BaseException:
            pass  # the monitor must never break the code it watches; a missing checkpoint is a finding itself
        finally:
            busy.discard(me)

    return hook


# --- the grader's side: reading the channel ---------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing found: what (``replaced grader.harness.Harness.gradients``), where (``after the
    call of kl_diag_normal_std``), and by what (``monitor``: the worker's; ``scan``: the source's)."""

    what: str
    where: str
    by: str = "monitor"

    def to_dict(self) -> dict:
        return {"what": self.what, "where": self.where, "by": self.by}


MAX_LINE_BYTES = 16 << 10  # longer than any record the monitor writes
MAX_KEPT = 2 * MAX_FINDINGS


class MonitorChannel:
    """The grader's end of a worker's monitor channel: the secret (first record), the checkpoints
    and the findings. A record without the secret, or malformed, came from something else.

    Read without a thread of its own: after each reply (:meth:`poll`, which never waits: what the
    monitor wrote before the reply is there by then) and to its end once the worker is gone
    (:meth:`finish`). A thread woken by every checkpoint cost each call a context switch."""

    def __init__(self, fd: int):
        self.fd = fd
        os.set_blocking(fd, False)
        self.secret: str | None = None
        self.checkpoints = 0
        self.findings: list[Finding] = []
        self.foreign = False  # something else wrote to the channel
        self.lost = False  # the monitor found its channel redirected: findings may be missing
        self.closed_early = False  # the channel ended while the worker still answered
        self._ended = False
        self._pending = b""

    def poll(self) -> None:
        """Read what the channel holds now; an end seen here came while the worker was alive."""
        self._read(wait_s=None)
        if self._ended:
            self.closed_early = True

    def finish(self, timeout_s: float = 5.0) -> None:
        """Read to the end (the worker's tree is gone, so the end comes at once) and close our end."""
        if self.fd is None:
            return
        self._read(wait_s=timeout_s)
        if self._pending:
            self.foreign = True
        os.close(self.fd)
        self.fd = None

    def _read(self, wait_s: float | None) -> None:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while not self._ended and self.fd is not None:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                if deadline is None or not select.select([self.fd], [], [], max(deadline - time.monotonic(), 0))[0]:
                    return
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self._ended = True
                return
            self._pending += chunk
            *lines, self._pending = self._pending.split(b"\n")
            for line in lines:
                self._record(line)
            if len(self._pending) > MAX_LINE_BYTES:
                self.foreign, self._pending = True, b""

    def _record(self, line: bytes) -> None:
        if len(line) > MAX_LINE_BYTES:
            self.foreign = True
            return
        try:
            # json, not ast.literal_eval: in CPython 3.11 ast conversions in two threads at once (this
            # one and pytest's assertion rewriting) break each other ("recursion depth mismatch").
            secret, kind, payload = line.decode("utf-8").split(" ", 2)
            text = json.loads(payload)
        except (UnicodeDecodeError, ValueError, MemoryError, RecursionError):
            self.foreign = True
            return
        if self.secret is None and kind == "hello" and text == secret:
            self.secret = secret
            return
        if secret != self.secret or type(text) is not str:
            self.foreign = True
            return
        if kind == "checkpoint":
            self.checkpoints += 1
        elif kind == "finding":
            what, _, where = text.partition("\n")
            self._add(Finding(what, where))
        elif kind == "lost" and text == "":
            self.lost = True
        else:
            self.foreign = True

    def _add(self, found: Finding) -> None:
        if found not in self.findings and len(self.findings) < MAX_KEPT:
            self.findings.append(found)

    def results(self, replies: int) -> list[Finding]:
        """What was found, once the worker is gone (after :meth:`finish`): the monitor's findings,
        and what the channel itself shows, given how many replies the worker sent."""
        found = list(self.findings)
        if self.foreign:
            found.append(Finding("something other than the monitor wrote to the monitor's channel", ""))
        if self.lost:
            found.append(Finding("the monitor's channel was closed or redirected while the worker ran", ""))
        if self.closed_early:
            found.append(Finding("the monitor's channel was closed while the worker was alive", ""))
        if replies and self.secret is None:
            found.append(Finding("the monitor's channel was closed before the monitor started", ""))
        elif replies > self.checkpoints:
            found.append(Finding(
                "the monitor's channel was closed or its checkpoints suppressed while the worker was alive",
                f"{replies - self.checkpoints} of {replies} replies came without the monitor's checkpoint"))
        return found


# --- the grader's side: the static scan ---------------------------------------------------------------

MAX_SCANNED_BYTES = 2 << 20
_IMPORTED = {"ctypes": "imports ctypes", "_ctypes": "imports ctypes", "grader": "imports the grader's own modules"}
_GC_WALKS = frozenset(("get_objects", "get_referrers", "get_referents"))
_FRAME_CALLS = {
    ("sys", "_getframe"): "walks the frames (sys._getframe)",
    ("sys", "_current_frames"): "walks the frames (sys._current_frames)",
    ("sys", "settrace"): "installs a trace function (sys.settrace)",
    ("sys", "setprofile"): "installs a profile function (sys.setprofile)",
    ("sys", "addaudithook"): "installs an audit hook",
    ("threading", "settrace"): "installs a trace function (threading.settrace)",
    ("inspect", "currentframe"): "walks the frames (inspect.currentframe)",
    ("inspect", "stack"): "walks the frames (inspect.stack)",
    ("inspect", "trace"): "walks the frames (inspect.trace)",
    ("inspect", "getouterframes"): "walks the frames (inspect.getouterframes)",
    ("traceback", "walk_stack"): "walks the frames (traceback.walk_stack)",
    ("traceback", "walk_tb"): "walks the frames (traceback.walk_tb)",
}
_INTERNALS = frozenset(("f_back", "f_locals", "f_globals", "tb_frame", "gi_frame", "cr_frame", "ag_frame",
                        "cell_contents", "__closure__", "__globals__"))
_PATCHABLE = ("torch", "numpy", "scipy", "grader")
# Settings students legitimately assign (torch.backends.cudnn.deterministic = True): not patches.
_SETTINGS = ("torch.backends.",)


def _module_files(root: Path, module: str) -> list[Path]:
    single, package = root / f"{module}.py", root / module
    if single.is_file():
        return [single]
    if (package / "__init__.py").is_file():
        return sorted(p for p in package.rglob("*.py") if p.is_file())
    return []


def scan_submission(root: Path, modules: list[str]) -> dict[str, list[Finding]]:
    """What the source of each of ``modules`` (and of the submission's modules they import) shows,
    per module: read with ``ast``, never executed."""
    root = Path(root)
    cache: dict[Path, tuple[list[Finding], set[str]]] = {}
    result = {}
    for module in modules:
        found, seen, queue = [], set(), [module]
        while queue:
            name = queue.pop()
            if name in seen:
                continue
            seen.add(name)
            for path in _module_files(root, name):
                if path not in cache:
                    cache[path] = _scan_file(path, root)
                findings, imports = cache[path]
                found += [f for f in findings if f not in found]
                queue += sorted(imports - seen)
        result[module] = found
    return result


def _scan_file(path: Path, root: Path) -> tuple[list[Finding], set[str]]:
    try:
        if path.stat().st_size > MAX_SCANNED_BYTES:
            return [], set()
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return [], set()  # an import that fails says so by itself
    scanner = _Scanner(path.relative_to(root).as_posix())
    try:
        scanner.visit(tree)
    except RecursionError:
        pass
    local = {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    return scanner.findings, {name for name in scanner.imports if name in local}


class _Scanner(ast.NodeVisitor):
    def __init__(self, filename: str):
        self.filename = filename
        self.findings: list[Finding] = []
        self.imports: set[str] = set()
        self.aliases: dict[str, str] = {}  # local name -> the dotted module or attribute it stands for

    def found(self, node: ast.AST, what: str) -> None:
        finding = Finding(what, f"{self.filename}, line {getattr(node, 'lineno', '?')}", "scan")
        if finding not in self.findings:
            self.findings.append(finding)

    def imported(self, node: ast.AST, dotted: str) -> None:
        top = dotted.split(".")[0]
        self.imports.add(top)
        if top in _IMPORTED:
            self.found(node, _IMPORTED[top] if top != "grader" else f"imports {dotted}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imported(node, alias.name)
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else local
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.imported(node, node.module)
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                if node.module == "gc" and alias.name in _GC_WALKS:
                    self.found(node, f"walks the garbage collector (gc.{alias.name})")
                if (node.module, alias.name) in _FRAME_CALLS:
                    self.found(node, _FRAME_CALLS[(node.module, alias.name)])
        self.generic_visit(node)

    def dotted(self, node: ast.AST) -> str | None:
        """``torch.autograd.grad`` for that expression, through the module's import aliases."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(self.aliases.get(node.id, node.id))
        return ".".join(reversed(parts))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if name is not None:
            head, _, attr = name.rpartition(".")
            if head == "gc" and attr in _GC_WALKS:
                self.found(node, f"walks the garbage collector (gc.{attr})")
            if (head, attr) in _FRAME_CALLS:
                self.found(node, _FRAME_CALLS[(head, attr)])
        if node.attr in _INTERNALS:
            self.found(node, f"reads .{node.attr} (frame or closure internals)")
        self.generic_visit(node)

    def patched(self, node: ast.AST, target: ast.AST, verb: str) -> None:
        if isinstance(target, ast.Subscript) and isinstance(target.ctx, (ast.Store, ast.Del)):
            target = target.value  # torch.__dict__["grad"] = ...: what is patched is torch's
            verb = verb if verb == "deletes" else "assigns into"
        elif not (isinstance(target, ast.Attribute) and isinstance(target.ctx, (ast.Store, ast.Del))):
            return
        name = self.dotted(target) if isinstance(target, ast.Attribute) else None
        if name is None or "." not in name:
            return
        if name.split(".")[0] in _PATCHABLE and not name.startswith(_SETTINGS):
            self.found(node, f"{verb} {name}")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            for element in ast.walk(target):
                self.patched(node, element, "assigns")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.patched(node, node.target, "assigns")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.patched(node, node.target, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.patched(node, target, "deletes")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = self.dotted(node.func)
        if function in ("setattr", "delattr", "builtins.setattr", "builtins.delattr") and node.args:
            name = self.dotted(node.args[0])
            if name is not None and name.split(".")[0] in _PATCHABLE and not name.startswith(_SETTINGS):
                self.found(node, f"{'sets' if 'set' in function else 'deletes'} an attribute of {name}")
        if function in ("__import__", "importlib.import_module") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self.imported(node, first.value)
        self.generic_visit(node)


__all__ = ["EVENT", "Finding", "MonitorChannel", "install", "scan_submission", "watched_namespaces"]
