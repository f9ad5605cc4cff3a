"""The wire format between the grader and a worker: plain data only.

A frame is ``u32 header length | header (UTF-8 JSON) | blob 0 | blob 1 | ...``. The header holds a
message and a list of blob lengths; each blob is one ``.npy`` array. Values are encoded as a small
tagged tree (``{"t": "array", "i": 0}``, ``{"t": "tuple", "items": [...]}``...). Arrays are read with
``allow_pickle=False`` after their dtype has been checked against a whitelist, so nothing a worker
sends can run code or smuggle an object into the grader process.

This module is imported by the worker too: it must not import anything beyond the standard library
and numpy.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import select
import struct
import time

import numpy as np

# Limits on what a frame may contain. The worker's side is hostile: every limit is checked before
# the memory it would cost is allocated.
MAX_HEADER_BYTES = 1 << 20
DEFAULT_MAX_FRAME_BYTES = 64 << 20
MAX_BLOBS = 1024
MAX_DEPTH = 16
MAX_ITEMS = 4096
MAX_STR = 64 << 10
MAX_NDIM = 8

ALLOWED_DTYPES = frozenset(
    np.dtype(name)
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64",
    )
)
_LENGTH = struct.Struct(">I")
_SLICE = 1 << 16  # bytes asked for by each read of a frame


class ProtocolError(Exception):
    """A frame or value that breaks the protocol: malformed, oversized, or of a forbidden type."""


class PeerClosed(ProtocolError):
    """The other end closed the connection before a whole frame arrived."""


class FrameTimeout(ProtocolError):
    """No complete frame arrived before the deadline."""


# --- values <-> tagged tree -------------------------------------------------------------------


_MAGIC = b"\x93NUMPY\x01\x00"  # .npy format version 1.0, the only one written or read
_HEADER_LENGTH = struct.Struct("<H")
_ARRAY_ALIGN = 64  # numpy pads magic + length + header to a multiple of this
_CACHED_HEADER_BYTES = 256
_DESCRS = {dtype.str: dtype for dtype in ALLOWED_DTYPES}
# The one header layout numpy's own writer produces (and this module writes), nothing looser: the
# header is never evaluated, only matched, so a hostile one cannot cost more than a regex match.
_NPY_HEADER = re.compile(
    r"\{'descr': (?P<descr>.*?), 'fortran_order': (?P<fortran>True|False), "
    r"'shape': \((?P<shape>[0-9, ]*)\), \} *\n",
    re.DOTALL,
)
_DESCR_LITERAL = re.compile(r"'([<>|=][a-zA-Z][0-9]*)'")
_KIND_NAMES = {"O": "object", "V": "structured", "U": "str", "S": "bytes", "c": "complex",
               "M": "datetime64", "m": "timedelta64"}


def encode_array_bytes(array: np.ndarray) -> bytes:
    """One array as ``.npy`` (version 1.0, C order): byte for byte what ``np.save`` writes."""
    array = np.asarray(array)
    if array.dtype not in ALLOWED_DTYPES:
        raise ProtocolError(f"arrays of dtype {array.dtype} cannot cross the boundary")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (array.dtype.str, array.shape)
    padding = _ARRAY_ALIGN - (len(_MAGIC) + _HEADER_LENGTH.size + len(header) + 1) % _ARRAY_ALIGN
    header = (header + " " * (padding % _ARRAY_ALIGN) + "\n").encode("latin1")
    return b"".join([_MAGIC, _HEADER_LENGTH.pack(len(header)), header,
                     np.ascontiguousarray(array).tobytes()])


def decode_array_bytes(blob: bytes) -> np.ndarray:
    """Parse one ``.npy`` blob, refusing pickles, object dtypes and inconsistent sizes.

    The header must have numpy's exact layout with a whitelisted ``descr``: it is matched, never
    evaluated, and the payload's size is checked against the shape before anything is allocated.
    """
    if len(blob) < len(_MAGIC) + _HEADER_LENGTH.size or blob[:6] != _MAGIC[:6]:
        raise ProtocolError("malformed .npy blob: no .npy magic")
    if blob[6:8] != _MAGIC[6:8]:
        raise ProtocolError(f"unsupported .npy version {tuple(blob[6:8])}")
    (length,) = _HEADER_LENGTH.unpack_from(blob, len(_MAGIC))
    start = len(_MAGIC) + _HEADER_LENGTH.size
    if start + length > len(blob):
        raise ProtocolError("malformed .npy header: shorter than announced")
    header = bytes(blob[start:start + length])
    # numpy's (and our) headers are padded to 118 bytes or so; a longer one is parsed but not cached,
    # so that a hostile worker cannot fill the cache with large keys.
    parse = _parse_npy_header if length <= _CACHED_HEADER_BYTES else _parse_npy_header.__wrapped__
    dtype, shape, order = parse(header)
    count = math.prod(shape)
    payload = memoryview(blob)[start + length:]
    if count * dtype.itemsize != len(payload):
        raise ProtocolError(
            f"array of shape {shape} and dtype {dtype} needs {count * dtype.itemsize} bytes, "
            f"frame holds {len(payload)}"
        )
    flat = np.frombuffer(payload, dtype=dtype, count=count).copy()
    return flat.reshape(shape, order=order)


@functools.lru_cache(maxsize=512)
def _parse_npy_header(header: bytes) -> tuple[np.dtype, tuple[int, ...], str]:
    """``(dtype, shape, order)`` of a header; the same few headers recur in every call, hence the
    cache (a refused header raises, and exceptions are not cached)."""
    match = _NPY_HEADER.fullmatch(header.decode("latin1"))
    if match is None:
        raise ProtocolError("malformed .npy header")
    descr = _DESCR_LITERAL.fullmatch(match["descr"])
    dtype = _DESCRS.get(descr[1]) if descr else None
    if dtype is None:
        kind = descr[1][1] if descr else "V"
        name = _KIND_NAMES.get(kind, descr[1] if descr else "structured")
        raise ProtocolError(f"arrays of dtype {name} are not accepted")
    return dtype, _parse_shape(match["shape"]), "F" if match["fortran"] == "True" else "C"


def _parse_shape(text: str) -> tuple[int, ...]:
    """``()``, ``(3,)`` or ``(2, 3)``'s inside, as numpy writes it; anything else is refused."""
    parts = [p.strip() for p in text.split(",")]
    if parts and parts[-1] == "":
        parts.pop()
    if len(parts) > MAX_NDIM or not all(p.isascii() and p.isdigit() and len(p) <= 19 for p in parts):
        raise ProtocolError(f"array shape ({text}) is not accepted")
    shape = tuple(int(p) for p in parts)
    if repr(shape)[1:-1] != text:
        raise ProtocolError(f"array shape ({text}) is not accepted")
    return shape


def encode_value(value, blobs: list[bytes], *, depth: int = 0, convert=None):
    """Encode a plain value (None, bool, int, float, str, array, tuple/list, dict of str) as a tree.

    ``convert`` maps values this function does not know (a tensor on the worker side) to ones it does.
    """
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if convert is not None:
        value = convert(value)
    if value is None:
        return {"t": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if not -(2**63) <= value < 2**63:
            raise ProtocolError("integer out of the 64-bit range")
        return {"t": "int", "v": value}
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isfinite(value):
            return {"t": "float", "v": value}  # JSON writes the shortest repr, which reads back exactly
        # JSON has no NaN or infinity, and the grader must see them: those travel as 0-d arrays.
        blobs.append(encode_array_bytes(np.asarray(value, dtype=np.float64)))
        return {"t": "float", "i": len(blobs) - 1}
    if isinstance(value, str):
        if len(value) > MAX_STR:
            raise ProtocolError("string too long")
        return {"t": "str", "v": value}
    if isinstance(value, np.ndarray):
        blobs.append(encode_array_bytes(value))
        return {"t": "array", "i": len(blobs) - 1}
    if isinstance(value, (tuple, list)):
        if len(value) > MAX_ITEMS:
            raise ProtocolError("sequence too long")
        return {"t": "tuple", "items": [encode_value(v, blobs, depth=depth + 1, convert=convert) for v in value]}
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS or not all(isinstance(k, str) for k in value):
            raise ProtocolError("only dicts with string keys can cross the boundary")
        return {
            "t": "dict",
            "items": [[k, encode_value(v, blobs, depth=depth + 1, convert=convert)] for k, v in value.items()],
        }
    raise ProtocolError(f"values of type {type(value).__name__} cannot cross the boundary")


def decode_value(node, arrays: list[np.ndarray], *, depth: int = 0):
    """Rebuild a value from its tree; the inverse of :func:`encode_value` for plain data."""
    if depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise ProtocolError("malformed value node")
    tag = node["t"]
    if tag == "none":
        return None
    if tag == "bool":
        return _typed(node.get("v"), bool)
    if tag == "int":
        value = node.get("v")
        if type(value) is not int or not -(2**63) <= value < 2**63:
            raise ProtocolError("malformed int node")
        return value
    if tag == "str":
        value = _typed(node.get("v"), str)
        if len(value) > MAX_STR:
            raise ProtocolError("string too long")
        return value
    if tag == "float" and "v" in node:
        return _typed(node["v"], float)
    if tag in ("array", "float"):
        index = node.get("i")
        if type(index) is not int or not 0 <= index < len(arrays):
            raise ProtocolError("array reference out of range")
        array = arrays[index]
        if tag == "float":
            if array.shape != () or array.dtype != np.float64:
                raise ProtocolError("malformed float node")
            return float(array)
        return array
    if tag == "tuple":
        items = _typed(node.get("items"), list)
        if len(items) > MAX_ITEMS:
            raise ProtocolError("sequence too long")
        return tuple(decode_value(v, arrays, depth=depth + 1) for v in items)
    if tag == "dict":
        items = _typed(node.get("items"), list)
        if len(items) > MAX_ITEMS:
            raise ProtocolError("dict too long")
        out = {}
        for pair in items:
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
                raise ProtocolError("malformed dict item")
            out[pair[0]] = decode_value(pair[1], arrays, depth=depth + 1)
        return out
    raise ProtocolError(f"unknown value tag {tag!r}")


def _typed(value, kind):
    if type(value) is not kind:
        raise ProtocolError(f"malformed node: expected {kind.__name__}")
    return value


# --- frames -----------------------------------------------------------------------------------


def pack_frame(message: dict, blobs: list[bytes] = ()) -> bytes:
    header = dict(message)
    header["blobs"] = [len(b) for b in blobs]
    raw = _JSON_ENCODER.encode(header).encode()
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError("frame header too large")
    return b"".join([_LENGTH.pack(len(raw)), raw, *blobs])


def _refuse_constant(name):
    raise ProtocolError(f"non-standard JSON constant {name}")


# Built once: json.dumps and json.loads with options build a new coder on every call.
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_JSON_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def unpack_header(raw: bytes) -> dict:
    try:
        header = _JSON_DECODER.decode(bytes(raw).decode("utf-8"))
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"malformed frame header: {type(error).__name__}") from None
    if not isinstance(header, dict):
        raise ProtocolError("frame header is not an object")
    lengths = header.get("blobs")
    if not isinstance(lengths, list) or len(lengths) > MAX_BLOBS or not all(type(n) is int and n >= 0 for n in lengths):
        raise ProtocolError("malformed blob list")
    return header


def send_frame(fd: int, message: dict, blobs: list[bytes] = ()) -> None:
    data = memoryview(pack_frame(message, blobs))
    while data:
        written = os.write(fd, data)
        data = data[written:]


class FrameReader:
    """Reads frames from a file descriptor with a deadline and a size cap.

    Blocking reads are done in small slices through ``select`` so that a peer that stops mid-frame
    cannot hold the grader past its deadline. A ``poll`` callback, if given, runs about every
    ``poll_interval_s`` while a frame is awaited (whether bytes trickle in or not); whatever it raises
    abandons the read. The grader checks a worker's CPU time there.
    """

    def __init__(self, fd: int, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        self.fd = fd
        self.max_frame_bytes = max_frame_bytes
        # Bytes read past the end of the last frame: a small frame usually arrives in one read, so
        # each read asks for a whole slice and keeps what belongs to the next frame.
        self._buffer = bytearray()
        self._poll_interval_s, self._next_poll = 0.05, 0.0

    def _read_exact(self, count: int, deadline: float | None, poll=None) -> bytearray:
        buffer = self._buffer
        while len(buffer) < count:
            if deadline is not None or poll is not None:
                self._wait_readable(deadline, poll)
            chunk = os.read(self.fd, min(max(count - len(buffer), _SLICE), 1 << 20))
            if not chunk:
                raise PeerClosed("connection closed")
            buffer += chunk
        data = buffer[:count]
        del buffer[:count]
        return data

    def _wait_readable(self, deadline: float | None, poll) -> None:
        while True:
            now = time.monotonic()
            if poll is not None and now >= self._next_poll:
                poll()
                now = time.monotonic()
                self._next_poll = now + self._poll_interval_s
            waits = [t - now for t in (deadline, self._next_poll if poll is not None else None) if t is not None]
            if deadline is not None and deadline <= now:
                raise FrameTimeout("no reply before the deadline")
            ready, _, _ = select.select([self.fd], [], [], max(min(waits), 0.0) if waits else None)
            if ready:
                return

    def read(self, deadline: float | None = None, *, poll=None,
             poll_interval_s: float = 0.05) -> tuple[dict, list[np.ndarray]]:
        """Return ``(header, arrays)``; the header's value nodes still need :func:`decode_value`.

        ``poll`` first runs ``poll_interval_s`` after the call (a prompt answer never pays for it)."""
        self._poll_interval_s = poll_interval_s
        self._next_poll = time.monotonic() + poll_interval_s
        (length,) = _LENGTH.unpack(self._read_exact(_LENGTH.size, deadline, poll))
        if length > MAX_HEADER_BYTES:
            raise ProtocolError(f"frame header of {length} bytes exceeds the {MAX_HEADER_BYTES}-byte cap")
        header = unpack_header(self._read_exact(length, deadline, poll))
        total = length + sum(header["blobs"])
        if total > self.max_frame_bytes:
            raise ProtocolError(f"frame of {total} bytes exceeds the {self.max_frame_bytes}-byte cap")
        payload = memoryview(self._read_exact(total - length, deadline, poll))
        arrays, offset = [], 0
        for size in header["blobs"]:
            arrays.append(decode_array_bytes(payload[offset:offset + size]))
            offset += size
        return header, arrays


def message_with_value(message: dict, key: str, value, *, convert=None) -> tuple[dict, list[bytes]]:
    """Attach an encoded value to a message; returns the message and its blobs."""
    blobs: list[bytes] = []
    message = dict(message)
    message[key] = encode_value(value, blobs, convert=convert)
    return message, blobs


__all__ = [
    "ALLOWED_DTYPES", "FrameReader", "FrameTimeout", "PeerClosed", "ProtocolError",
    "decode_array_bytes", "decode_value", "encode_array_bytes", "encode_value",
    "message_with_value", "pack_frame", "send_frame", "unpack_header",
]
