"""The wire format: every plain value survives a round trip through a real pipe, and everything that
is not plain data (pickles, objects, zip archives, odd dtypes, oversized or malformed frames) is
refused with a ProtocolError before it can cost memory or run code."""

from __future__ import annotations

import io
import json
import math
import os
import struct
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader import protocol
from grader.protocol import (
    ALLOWED_DTYPES, MAX_BLOBS, MAX_DEPTH, MAX_HEADER_BYTES, FrameReader, FrameTimeout, PeerClosed,
    ProtocolError, decode_array_bytes, decode_value, encode_array_bytes, encode_value, message_with_value,
    pack_frame, unpack_header,
)

WHITELIST = sorted(ALLOWED_DTYPES, key=str)


# --- helpers ------------------------------------------------------------------------------------


def send_bytes(data: bytes, *, close: bool = True) -> tuple[int, int | None, threading.Thread]:
    """A pipe whose write end receives ``data`` from a thread (frames can exceed the pipe buffer).
    Returns (read fd, write fd or None when closed after writing, writer thread)."""
    read_fd, write_fd = os.pipe()

    def writer():
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(write_fd, view):]
        except OSError:  # the reader refused the frame and closed its end
            pass
        finally:
            if close:
                os.close(write_fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return read_fd, (None if close else write_fd), thread


def read_frame(data: bytes, *, max_frame_bytes: int = protocol.DEFAULT_MAX_FRAME_BYTES, timeout: float = 10.0):
    read_fd, _, thread = send_bytes(data)
    try:
        return FrameReader(read_fd, max_frame_bytes).read(deadline=time.monotonic() + timeout)
    finally:
        os.close(read_fd)
        thread.join(timeout=10)


def roundtrip(value):
    message, blobs = message_with_value({"op": "test"}, "value", value)
    header, arrays = read_frame(pack_frame(message, blobs))
    assert header["op"] == "test"
    return decode_value(header["value"], arrays)


def raw_frame(header: dict | bytes, blobs: list[bytes] = ()) -> bytes:
    """A frame built by hand, bypassing pack_frame's own checks (a hostile peer's frame)."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack(">I", len(raw)) + raw + b"".join(blobs)


def npy_bytes(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, **kwargs)
    return buffer.getvalue()


def array_frame(blob: bytes) -> bytes:
    return raw_frame({"value": {"t": "array", "i": 0}, "blobs": [len(blob)]}, [blob])


def assert_same_array(got, expected):
    assert isinstance(got, np.ndarray) and type(got) is np.ndarray
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    assert np.array_equal(got, expected, equal_nan=expected.dtype.kind == "f")
    if expected.dtype.kind == "f":
        # -0.0 and +0.0 compare equal: check the sign bits too
        assert np.array_equal(np.signbit(got), np.signbit(expected))
    assert got.flags.writeable  # a private copy, not a read-only view of the frame's bytes


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, True, False, 0, 1, -1, 2**63 - 1, -(2**63), "", "ascii",
                                   "unicode: é ∑ 🙂", "x" * 1000])
def test_scalars_round_trip(value):
    out = roundtrip(value)
    assert out == value and type(out) is type(value)


@pytest.mark.parametrize("value", [0.0, 1.5, -2.25, 1e-300, 5e-324, 1.7976931348623157e308, math.pi,
                                   float("inf"), float("-inf")])
def test_floats_round_trip_exactly(value):
    out = roundtrip(value)
    assert type(out) is float and out == value


def test_finite_floats_travel_inline_and_the_others_as_blobs():
    message, blobs = message_with_value({}, "value", (1.5, float("nan"), -0.0))
    nodes = message["value"]["items"]
    assert nodes[0] == {"t": "float", "v": 1.5} and nodes[2]["t"] == "float" and "v" in nodes[2]
    assert nodes[1] == {"t": "float", "i": 0} and len(blobs) == 1


def test_nan_and_negative_zero_round_trip():
    nan = roundtrip(float("nan"))
    assert type(nan) is float and math.isnan(nan)
    zero = roundtrip(-0.0)
    assert zero == 0.0 and math.copysign(1.0, zero) == -1.0


def test_numpy_scalars_become_python_values():
    assert roundtrip(np.float32(1.5)) == 1.5 and type(roundtrip(np.float32(1.5))) is float
    assert roundtrip(np.int16(-7)) == -7 and type(roundtrip(np.int16(-7))) is int
    assert roundtrip(np.bool_(True)) is True


@pytest.mark.parametrize("dtype", WHITELIST, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3), (1, 2, 1, 2, 1, 2, 1, 2)],
                         ids=lambda s: "x".join(map(str, s)) or "0d")
def test_arrays_of_every_whitelisted_dtype_round_trip(dtype, shape):
    rng = np.random.default_rng(0)
    if dtype.kind == "b":
        array = rng.integers(0, 2, size=shape).astype(dtype)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    else:
        array = rng.standard_normal(shape).astype(dtype)
        if array.size >= 3:
            flat = array.reshape(-1)
            flat[:3] = [np.nan, -0.0, np.inf]
    assert_same_array(roundtrip(array), array)


def test_extreme_values_round_trip():
    for dtype in (np.float16, np.float32, np.float64):
        info = np.finfo(dtype)
        array = np.array([info.max, info.min, info.tiny, info.smallest_subnormal, -0.0, np.nan, -np.inf],
                         dtype=dtype)
        assert_same_array(roundtrip(array), array)


def test_non_contiguous_and_fortran_arrays_round_trip():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    for array in (base.T, base[:, ::2], np.asfortranarray(base), base[::-1]):
        out = roundtrip(array)
        assert_same_array(out, np.ascontiguousarray(array))


def test_nested_containers_round_trip():
    value = {
        "a": (1, 2.5, None, "s"),
        "b": [np.arange(3, dtype=np.int32), (np.zeros((0, 2)), {"c": True})],
        "empty": {},
        "nothing": (),
    }
    out = roundtrip(value)
    assert set(out) == {"a", "b", "empty", "nothing"}
    assert out["a"] == (1, 2.5, None, "s")
    assert isinstance(out["b"], tuple) and len(out["b"]) == 2  # lists travel as tuples
    assert_same_array(out["b"][0], np.arange(3, dtype=np.int32))
    assert_same_array(out["b"][1][0], np.zeros((0, 2)))
    assert out["b"][1][1] == {"c": True}
    assert out["empty"] == {} and out["nothing"] == ()


def test_many_blobs_in_one_frame_round_trip():
    arrays = tuple(np.full(i % 5, i, dtype=np.int64) for i in range(200))
    out = roundtrip(arrays)
    for got, expected in zip(out, arrays, strict=True):
        assert_same_array(got, expected)


def test_nesting_up_to_the_limit_round_trips():
    value = 1
    for _ in range(MAX_DEPTH):
        value = (value,)
    assert roundtrip(value) == value


def test_large_array_round_trips_through_the_pipe():
    array = np.random.default_rng(1).standard_normal((512, 1024))  # 4 MiB: many pipe buffers
    assert_same_array(roundtrip(array), array)


@settings(max_examples=60, database=None, deadline=None)
@given(hnp.arrays(st.sampled_from(WHITELIST), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)))
def test_arbitrary_whitelisted_arrays_round_trip(array):
    assert_same_array(roundtrip(array), array)


def test_several_frames_in_sequence_on_one_pipe():
    frames = b"".join(pack_frame(*message_with_value({"n": i}, "value", (i, np.arange(i)))) for i in range(5))
    read_fd, _, thread = send_bytes(frames)
    reader = FrameReader(read_fd)
    try:
        for i in range(5):
            header, arrays = reader.read(deadline=time.monotonic() + 10)
            assert header["n"] == i
            number, array = decode_value(header["value"], arrays)
            assert number == i and array.tolist() == list(range(i))
        with pytest.raises(PeerClosed):
            reader.read(deadline=time.monotonic() + 10)
    finally:
        os.close(read_fd)
        thread.join(timeout=10)


# --- values that may not be sent ------------------------------------------------------------------


class Opaque:
    pass


@pytest.mark.parametrize("value", [
    Opaque(), {1: "int key"}, 2**63, -(2**63) - 1, "x" * (protocol.MAX_STR + 1), b"bytes", {1.5},
    np.array([object()], dtype=object), np.zeros(2, dtype=np.complex128), np.array(["a"]),
    np.zeros(2, dtype="datetime64[s]"), np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), np.complex64(1j),
    tuple(range(protocol.MAX_ITEMS + 1)),
], ids=lambda v: type(v).__name__ + (f"[{v.dtype}]" if isinstance(v, np.ndarray) else ""))
def test_values_that_are_not_plain_data_cannot_be_encoded(value):
    with pytest.raises(ProtocolError):
        encode_value(value, [])


def test_too_deep_values_cannot_be_encoded():
    value = 1
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(ProtocolError, match="nested too deeply"):
        encode_value(value, [])


# --- hostile arrays -------------------------------------------------------------------------------


class Detonator:
    """Unpickling this creates a directory: proof that a pickle was (or was not) executed."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_pickled_object_array_is_refused_and_never_unpickled(tmp_path):
    marker = str(tmp_path / "unpickled")
    payload = np.array([Detonator(marker), 1, "two"], dtype=object)
    blob = npy_bytes(payload, allow_pickle=True)
    with pytest.raises(ProtocolError, match="object"):
        decode_array_bytes(blob)
    with pytest.raises(ProtocolError):
        read_frame(array_frame(blob))
    assert not os.path.exists(marker)
    # the same blob loaded the unsafe way would have run the pickle: the marker proves the test works
    np.load(io.BytesIO(blob), allow_pickle=True)
    assert os.path.exists(marker)


def test_object_dtype_with_empty_payload_is_refused():
    blob = npy_bytes(np.zeros(0, dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError):
        decode_array_bytes(blob)


def test_npz_archive_is_refused():
    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(3), b=np.ones(2))
    blob = buffer.getvalue()
    assert blob[:2] == b"PK"
    with pytest.raises(ProtocolError):
        decode_array_bytes(blob)
    with pytest.raises(ProtocolError):
        read_frame(array_frame(blob))


@pytest.mark.parametrize("array", [
    np.zeros(3, dtype=np.complex128), np.zeros(3, dtype=np.complex64),
    np.zeros(3, dtype="datetime64[ns]"), np.zeros(3, dtype="timedelta64[s]"),
    np.zeros(3, dtype=[("x", "<f8"), ("y", "<i4")]), np.array(["abc", "de"]), np.array([b"abc"]),
    np.zeros(3, dtype=np.void(4).dtype), np.zeros(2, dtype=np.longdouble),
], ids=lambda a: str(a.dtype))
def test_forbidden_dtypes_are_refused(array):
    with pytest.raises(ProtocolError):
        encode_array_bytes(array)
    blob = npy_bytes(array)
    with pytest.raises(ProtocolError, match="not accepted"):
        decode_array_bytes(blob)
    with pytest.raises(ProtocolError):
        read_frame(array_frame(blob))


@pytest.mark.parametrize("change", [-1, 1, -8, 64])
def test_payload_length_must_match_the_shape(change):
    blob = npy_bytes(np.arange(10, dtype=np.float64))
    blob = blob[:change] if change < 0 else blob + b"\0" * change
    with pytest.raises(ProtocolError, match="needs 80 bytes"):
        decode_array_bytes(blob)
    with pytest.raises(ProtocolError):
        read_frame(array_frame(blob))


def test_huge_declared_shape_is_refused_without_allocating():
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 8), }"
    header = header + " " * (63 - len(header) % 64) + "\n"
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 16
    with pytest.raises(ProtocolError):
        decode_array_bytes(blob)


def test_too_many_dimensions_are_refused():
    blob = npy_bytes(np.zeros((1,) * (protocol.MAX_NDIM + 1)))
    with pytest.raises(ProtocolError, match="shape"):
        decode_array_bytes(blob)
    assert decode_array_bytes(npy_bytes(np.zeros((1,) * protocol.MAX_NDIM))).ndim == protocol.MAX_NDIM


@settings(max_examples=60, database=None, deadline=None)
@given(hnp.arrays(st.sampled_from(WHITELIST), hnp.array_shapes(min_dims=0, max_dims=8, min_side=0, max_side=3)))
def test_encoded_arrays_are_exactly_what_numpy_saves(array):
    # The fast writer produces np.save's bytes, so any .npy tool reads a captured frame.
    assert encode_array_bytes(array) == npy_bytes(array)
    assert_same_array(np.load(io.BytesIO(encode_array_bytes(array)), allow_pickle=False), array)


def test_fortran_ordered_npy_from_numpy_is_read():
    array = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    assert_same_array(decode_array_bytes(npy_bytes(array)), np.ascontiguousarray(array))


def npy_with_header(header: str, payload: bytes = b"\0" * 24) -> bytes:
    raw = header.encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw + payload


@pytest.mark.parametrize("header", [
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }" + " " * 300 + "\n",  # long, uncached
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n",
])
def test_numpy_layout_headers_of_any_padding_are_read(header):
    assert decode_array_bytes(npy_with_header(header)).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("header", [
    "{'shape': (3,), 'fortran_order': False, 'descr': '<f8', }\n",  # numpy's reader accepts; ours not
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3 ,), }\n",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (+3,), }\n",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,,), }\n",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (03,), }\n",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3), }\n",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (\u0663,), }\n".encode().decode("latin1"),  # Arabic 3
    "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }\n",
    "{'descr': \"<f8\", 'fortran_order': False, 'shape': (3,), }\n",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1, }\n",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",  # no newline
    "{'descr': '<f8', 'fortran_order': False, 'shape': (%s,), }\n" % ("9" * 5000),
], ids=range(12))
def test_headers_outside_numpys_exact_layout_are_refused(header):
    with pytest.raises(ProtocolError):
        decode_array_bytes(npy_with_header(header))


def test_big_endian_arrays_do_not_cross():
    array = np.arange(3, dtype=">f8")
    with pytest.raises(ProtocolError):
        encode_array_bytes(array)
    with pytest.raises(ProtocolError, match="not accepted"):
        decode_array_bytes(npy_bytes(array))


@pytest.mark.parametrize("blob", [b"", b"garbage", b"\x93NUMPY\x09\x00" + b"\0" * 20,
                                  b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}    \n"])
def test_malformed_npy_is_refused(blob):
    with pytest.raises(ProtocolError):
        decode_array_bytes(blob)


# --- hostile frames -------------------------------------------------------------------------------


def test_oversized_header_is_refused_before_reading_it():
    data = struct.pack(">I", MAX_HEADER_BYTES + 1)  # and nothing else: a read would hang
    read_fd, write_fd, thread = send_bytes(data, close=False)
    try:
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="header") as caught:
            FrameReader(read_fd).read(deadline=time.monotonic() + 5)
        assert type(caught.value) is ProtocolError
        assert time.monotonic() - started < 4
    finally:
        thread.join(timeout=10)
        os.close(write_fd)
        os.close(read_fd)


def test_pack_frame_refuses_an_oversized_header():
    with pytest.raises(ProtocolError, match="too large"):
        pack_frame({"padding": "x" * MAX_HEADER_BYTES})


def test_oversized_frame_is_refused_before_reading_its_payload():
    # The header announces a 1 GiB blob that is never sent: refusing must not wait for it.
    data = raw_frame({"value": {"t": "array", "i": 0}, "blobs": [1 << 30]})
    read_fd, write_fd, thread = send_bytes(data, close=False)
    try:
        started = time.monotonic()
        with pytest.raises(ProtocolError, match="exceeds") as caught:
            FrameReader(read_fd, max_frame_bytes=1 << 20).read(deadline=time.monotonic() + 5)
        assert type(caught.value) is ProtocolError  # not a FrameTimeout: it never tried to read
        assert time.monotonic() - started < 4
    finally:
        thread.join(timeout=10)
        os.close(write_fd)
        os.close(read_fd)


def test_frame_cap_counts_every_blob():
    blobs = [npy_bytes(np.zeros(1000)) for _ in range(3)]  # 3 x ~8 KiB
    data = raw_frame({"blobs": [len(b) for b in blobs]}, blobs)
    with pytest.raises(ProtocolError, match="exceeds"):
        read_frame(data, max_frame_bytes=20_000)
    header, arrays = read_frame(data, max_frame_bytes=40_000)
    assert len(arrays) == 3


@pytest.mark.parametrize("raw", [b'{"blobs": [], "x": NaN}', b'{"blobs": [], "x": Infinity}',
                                 b'{"blobs": [], "x": -Infinity}'])
def test_json_nan_constants_are_refused(raw):
    with pytest.raises(ProtocolError, match="constant"):
        unpack_header(raw)
    with pytest.raises(ProtocolError):
        read_frame(raw_frame(raw))


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"3", b"null", b"true"])
def test_header_must_be_an_object(raw):
    with pytest.raises(ProtocolError, match="not an object"):
        unpack_header(raw)
    with pytest.raises(ProtocolError):
        read_frame(raw_frame(raw))


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe{}", b"", b"{'blobs': []}", b"[" * 100_000 + b"]" * 100_000])
def test_malformed_json_is_refused(raw):
    with pytest.raises(ProtocolError):
        unpack_header(raw)


@pytest.mark.parametrize("blobs", [None, "0", {}, [-1], [1.5], [True], ["8"], [0] * (MAX_BLOBS + 1)],
                         ids=["missing", "string", "object", "negative", "float", "bool", "numeric-string",
                              "too-many"])
def test_bad_blob_lists_are_refused(blobs):
    header = {} if blobs is None else {"blobs": blobs}
    raw = json.dumps(header).encode()
    with pytest.raises(ProtocolError, match="blob list"):
        unpack_header(raw)
    with pytest.raises(ProtocolError):
        read_frame(raw_frame(raw))


@pytest.mark.parametrize("node", [
    {"t": "pickle", "v": "gASV"}, {"t": "object"}, {"t": "array", "i": 1}, {"t": "array", "i": -1},
    {"t": "array", "i": "0"}, {"t": "float", "i": 0}, {"t": "int", "v": 1.5}, {"t": "int", "v": True},
    {"t": "int", "v": 2**64}, {"t": "bool", "v": 1}, {"t": "str", "v": 3}, {"t": "tuple", "items": {}},
    {"t": "dict", "items": [["k"]]}, {"t": "dict", "items": [[1, {"t": "none"}]]}, {"v": 1}, {"t": 3}, [],
    "none", None, {"t": "tuple", "items": [{"t": "none"}] * (protocol.MAX_ITEMS + 1)},
    {"t": "str", "v": "x" * (protocol.MAX_STR + 1)}, {"t": "float", "v": 1}, {"t": "float", "v": "1.5"},
    {"t": "float", "v": None}, {"t": "float", "v": True},
], ids=repr)
def test_malformed_value_nodes_are_refused(node):
    arrays = [np.zeros(3)]  # one array, not 0-d: a float node pointing at it is malformed
    with pytest.raises(ProtocolError):
        decode_value(node, arrays)


def test_unknown_value_tag_is_refused_in_a_frame():
    data = raw_frame({"value": {"t": "pickle", "v": "gASVAAAA"}, "blobs": []})
    header, arrays = read_frame(data)
    with pytest.raises(ProtocolError, match="unknown value tag"):
        decode_value(header["value"], arrays)


def test_excessive_nesting_is_refused():
    node = {"t": "none"}
    for _ in range(MAX_DEPTH + 4):
        node = {"t": "tuple", "items": [node]}
    with pytest.raises(ProtocolError, match="nested too deeply"):
        decode_value(node, [])


def test_half_a_frame_times_out():
    frame = pack_frame(*message_with_value({"op": "x"}, "value", np.arange(100.0)))
    for cut in (2, 6, len(frame) - 10):  # inside the length, the header, the blob
        read_fd, write_fd, thread = send_bytes(frame[:cut], close=False)
        try:
            started = time.monotonic()
            with pytest.raises(FrameTimeout):
                FrameReader(read_fd).read(deadline=time.monotonic() + 0.3)
            assert time.monotonic() - started < 5
        finally:
            thread.join(timeout=10)
            os.close(write_fd)
            os.close(read_fd)


def test_expired_deadline_times_out_at_once():
    read_fd, write_fd = os.pipe()
    try:
        with pytest.raises(FrameTimeout):
            FrameReader(read_fd).read(deadline=time.monotonic() - 1)
    finally:
        os.close(read_fd)
        os.close(write_fd)


@pytest.mark.parametrize("cut", [0, 3, 10, -5])
def test_end_of_file_is_peer_closed(cut):
    frame = pack_frame(*message_with_value({"op": "x"}, "value", np.arange(10.0)))
    with pytest.raises(PeerClosed):
        read_frame(frame[:cut])


def test_peer_closed_and_timeout_are_protocol_errors():
    # the sandbox relies on this ordering of its except clauses
    assert issubclass(PeerClosed, ProtocolError) and issubclass(FrameTimeout, ProtocolError)
