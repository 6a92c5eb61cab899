"""Property tests of the motion readers on malformed and extreme input: every call either returns a
:class:`Motion` whose positions are finite float32 within ``MAX_ABS_POSITION_M``, shape ``(T, J, 3)``
with ``T >= 2``, or raises :class:`MotionFileError`: never another exception, a warning or a hang
(each example has a 2 s deadline).

Inputs: valid files of every format, truncated at random positions (at every position for small
ones), random bytes, random byte edits (also inside .npy headers), numbers replaced by extreme
magnitudes (1e30 to 1.7e308, ±inf, nan), NaN runs of random length (a run short enough must be
repaired, not refused), and huge declared frame, joint and array sizes.
"""

import io
import math
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from motion_files import ROT6, flat_bvh_text, mvnx_text, write_bvh

from eai_llm.layouts import get_layout
from eai_llm.motion import (
    MAX_ABS_POSITION_M,
    MAX_FILE_BYTES,
    MAX_FRAMES,
    MAX_JOINTS,
    Motion,
    MotionFileError,
    read_motion,
)

SETTINGS = settings(max_examples=100, deadline=2000, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FPS = 30
FRAMES = 20  # at 30 fps a run of up to 15 missing frames (0.5 s) is repaired
EXTREMES = [1e30, -1e30, 1e37, 1e39, -1e39, 1.7e308, -1.7e308, math.inf, -math.inf, math.nan]
SEGMENTS = get_layout("xsens_mvn23").joint_names
BVH_JOINTS = [("A", None, (0, 0, 0), ROT6), ("B", "A", (0, 10, 0), ("Zrotation", "Xrotation", "Yrotation")),
              ("C", "B", (0, 10, 0), ("Zrotation", "Xrotation", "Yrotation")), ("CEnd", "C", (0, 5, 0), None)]


# Each format: a (T, C) matrix of numbers -> the bytes of a file; the matrix a valid file is made of.

def bvh_bytes(values, path):
    return write_bvh(path, BVH_JOINTS, values).read_bytes()


def kinect_bytes(values, path):
    return "\n".join(" ".join(map(repr, row)) for row in values.tolist()).encode()


def csv_bytes(values, path):
    header = "Frame," + ",".join(f"{s} {a}" for s in SEGMENTS for a in "xyz")
    return "\n".join([header, *(f"{t}," + ",".join(map(repr, row)) for t, row in enumerate(values.tolist()))]).encode()


def mvnx_bytes(values, path):
    """``values``: positions (69 columns), then quaternions (92 columns)."""
    positions, quaternions = values[:, :69], values[:, 69:]
    return mvnx_text(positions.reshape(len(values), 23, 3), quaternions.reshape(len(values), 23, 4)).encode()


def npy_bytes(values, path):
    buffer = io.BytesIO()
    np.save(buffer, values.reshape(len(values), 25, 3))
    return buffer.getvalue()


def npz_bytes(values, path):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, positions=values.reshape(len(values), 25, 3), fps=float(FPS), layout="kinect_v2")
    return buffer.getvalue()


rng = np.random.default_rng(0)
bvh_values = np.concatenate([rng.uniform(-50, 50, (FRAMES, 3)), rng.uniform(-90, 90, (FRAMES, 9))], axis=1).round(3)
quaternions = rng.normal(size=(FRAMES, 23, 4))
quaternions = (quaternions / np.linalg.norm(quaternions, axis=-1, keepdims=True)).reshape(FRAMES, 92)
kinect = rng.uniform(-2, 2, (FRAMES, 25, 3)).round(4)
kinect_76 = np.concatenate([1000 * np.arange(FRAMES)[:, None] / FPS, kinect.reshape(FRAMES, 75)], axis=1)
states = rng.integers(1, 3, (FRAMES, 25, 1))  # inferred or tracked
kinect_100 = np.concatenate([kinect, states], axis=-1).reshape(FRAMES, 100)
FORMATS = {  # name: (file suffix, read_motion arguments, to bytes, valid matrix)
    "bvh": (".bvh", {}, bvh_bytes, bvh_values),
    "kinect_v2": (".txt", {"format": "kinect_v2", "fps": FPS}, kinect_bytes, kinect.reshape(FRAMES, 75)),
    "kinect_76": (".txt", {"format": "kinect_v2"}, kinect_bytes, kinect_76),
    "kinect_100": (".txt", {"format": "kinect_v2", "fps": FPS}, kinect_bytes, kinect_100),
    "xsens_csv": (".csv", {"format": "xsens_csv", "fps": FPS}, csv_bytes, rng.uniform(-2, 2, (FRAMES, 69)).round(4)),
    "mvnx": (".mvnx", {}, mvnx_bytes, np.concatenate([rng.uniform(-2, 2, (FRAMES, 69)).round(4), quaternions], axis=1)),
    "npy": (".npy", {"layout": "kinect_v2", "fps": FPS}, npy_bytes, rng.uniform(-2, 2, (FRAMES, 75))),
    "npz": (".npz", {}, npz_bytes, rng.uniform(-2, 2, (FRAMES, 75))),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("reader_properties")


def read(folder, name, data: bytes):
    """Write ``data`` as a ``name`` file and read it: the Motion, or None if MotionFileError was raised;
    any other exception, or a warning, fails the test."""
    suffix, kwargs, _, _ = FORMATS[name]
    path = folder / f"clip{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            motion = read_motion(path, **kwargs)
        except MotionFileError as e:
            assert str(e).startswith(f"{path}: field '"), e
            return None
    assert isinstance(motion, Motion)
    positions = motion.positions
    assert positions.dtype == np.float32 and positions.ndim == 3 and positions.shape[2] == 3
    assert positions.shape[0] >= 2 and positions.shape[1] == motion.layout.num_joints
    assert np.isfinite(positions).all() and np.abs(positions).max() <= MAX_ABS_POSITION_M
    return motion


def valid_bytes(folder, name):
    _, _, to_bytes, values = FORMATS[name]
    return to_bytes(values, folder / "written")


NAMES = st.sampled_from(sorted(FORMATS))


def test_valid_files_are_read(folder):
    for name in FORMATS:
        assert read(folder, name, valid_bytes(folder, name)).positions.shape[0] == FRAMES


@pytest.mark.parametrize("name", ["bvh", "npy"])
def test_truncated_at_every_position(folder, name):
    data = valid_bytes(folder, name)
    for end in range(0, len(data), max(1, len(data) // 400)):
        read(folder, name, data[:end])


@SETTINGS
@given(name=NAMES, cut=st.floats(0, 1))
def test_truncated_at_random_positions(folder, name, cut):
    data = valid_bytes(folder, name)
    read(folder, name, data[:int(cut * len(data))])


@SETTINGS
@given(name=NAMES, data=st.one_of(st.binary(max_size=3000), st.text(max_size=3000).map(str.encode)))
def test_random_bytes(folder, name, data):
    read(folder, name, data)


@SETTINGS
@given(name=NAMES, edits=st.lists(st.tuples(st.floats(0, 1), st.binary(max_size=8)), min_size=1, max_size=6))
def test_random_byte_edits(folder, name, edits):
    data = bytearray(valid_bytes(folder, name))
    for where, replacement in edits:
        at = int(where * len(data))
        data[at:at + len(replacement)] = replacement
    read(folder, name, bytes(data))


HEADER_BYTES = st.lists(st.sampled_from(list(b"(){}[]'\"\\:,<>|fiucOSU0123456789 \n.eE-+_TrueFalsNone")), min_size=1,
                        max_size=3).map(bytes) | st.binary(min_size=1, max_size=3)


@SETTINGS
@given(zipped=st.booleans(), edits=st.lists(st.tuples(st.floats(0, 1), HEADER_BYTES), min_size=1, max_size=4))
def test_npy_header_edits(folder, zipped, edits):
    """Edits in the .npy header dict (numpy parses it with ast and tokenize, which raise their own errors)."""
    data = bytearray(valid_bytes(folder, "npy"))
    for where, replacement in edits:
        at = 10 + int(where * 70)  # the dict starts after the 10-byte preamble
        data[at:at + len(replacement)] = replacement
    if zipped:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:  # stored, not compressed: the edits stay edits
            archive.writestr("positions.npy", bytes(data))
            for name, value in (("fps", np.float64(FPS)), ("layout", np.array("kinect_v2"))):
                with archive.open(f"{name}.npy", "w") as member:
                    np.save(member, value)
        data = buffer.getvalue()
    read(folder, "npz" if zipped else "npy", bytes(data))


VALUES = st.one_of(st.sampled_from(EXTREMES), st.floats(allow_nan=True, allow_infinity=True))


@SETTINGS
@given(name=NAMES, edits=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), VALUES), min_size=1, max_size=5))
def test_extreme_numbers(folder, name, edits):
    _, _, to_bytes, values = FORMATS[name]
    values = values.copy()
    for row, column, value in edits:
        values[int(row * (FRAMES - 1)), int(column * (values.shape[1] - 1))] = value
    read(folder, name, to_bytes(values, folder / "written"))


@SETTINGS
@given(name=NAMES, column=st.floats(0, 1), start=st.integers(0, FRAMES - 1), length=st.integers(1, FRAMES))
def test_nan_runs(folder, name, column, start, length):
    _, _, to_bytes, values = FORMATS[name]
    values = values.copy()
    column = int(column * (values.shape[1] - 1))
    if name == "kinect_100":  # a joint not tracked (state 0)
        values[start:start + length, column // 4 * 4 + 3] = 0
    else:
        values[start:start + length, column] = np.nan
    missing = len(values[start:start + length])
    motion = read(folder, name, to_bytes(values, folder / "written"))
    timestamp = name == "kinect_76" and column == 0  # a time, not a sample: refused
    if missing <= min(FPS // 2, FRAMES // 2) and not timestamp:  # a short gap in few frames: repaired
        assert motion is not None


@SETTINGS
@given(frames=st.one_of(st.integers(MAX_FRAMES + 1, 10**30).map(str), st.just("9" * 5000)))
def test_bvh_huge_frame_count(folder, frames):
    text = valid_bytes(folder, "bvh").decode()
    text = text.replace(f"Frames: {FRAMES}", f"Frames: {frames}")
    with pytest.raises(MotionFileError, match=r"field 'Frames' (has \d+ frames, expected at most \d+ frames "
                                              r"\(MAX_FRAMES\)|has '\d+')"):
        read_motion(_write(folder, "clip.bvh", text.encode()))


@SETTINGS
@given(joints=st.integers(MAX_JOINTS, 40_000), channels=st.sampled_from(["3", "7", "-1", "100000000000"]))
def test_bvh_huge_hierarchy(folder, joints, channels):
    field = "HIERARCHY' has \\d+ joints, expected at most \\d+ joints \\(MAX_JOINTS" if channels == "3" else "CHANNELS"
    with pytest.raises(MotionFileError, match=rf"field '{field}"):
        read_motion(_write(folder, "clip.bvh", flat_bvh_text(joints, channels).encode()))


def _write(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    return path


def npy_header(shape, descr="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


SHAPES = st.tuples(st.integers(0, 10**12), st.integers(0, 10**6), st.integers(0, 4))


@SETTINGS
@given(shape=SHAPES, zipped=st.booleans())
def test_array_huge_declared_shape(folder, shape, zipped):
    """A header that declares more than the limits (and holds no data) is refused from the header alone."""
    data = npy_header(shape)
    if zipped:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("positions.npy", data)
        data = buffer.getvalue()
    frames, joints, _ = shape
    beyond = math.prod(shape) * 8 > MAX_FILE_BYTES or frames > MAX_FRAMES or joints > MAX_JOINTS
    with pytest.raises(MotionFileError, match=r"MAX_FILE_BYTES|MAX_FRAMES|MAX_JOINTS" if beyond else None):
        read_motion(_write(folder, "clip.npz" if zipped else "clip.npy", data), layout="kinect_v2", fps=FPS)
