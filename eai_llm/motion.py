"""Motion readers: every capture format becomes one :class:`Motion` in the library's convention.

Convention: ``positions`` is ``(T, J, 3)`` float32 in **metres** with **+Y up**. Each reader brings
its format there once, here: units are scaled with :data:`~eai_llm.layouts.UNIT_SCALE`, and a Z-up
source is turned +Y up by a -90° rotation about X, ``(x, y, z) -> (x, z, -y)``, a proper rotation
that keeps handedness. The fixed-format readers (Kinect V2, MVNX, Xsens CSV) take the source's up
axis and units from their registered layout's ``up_axis`` and ``units``; BVH and array readers take
them as arguments.

Numbers: NaN (``nan`` in text, an untracked Kinect joint) marks a missing sample, repaired or rejected
by :func:`repair_missing`, which every reader applies. ±inf is not "missing" but out of range, refused
like any coordinate beyond :data:`MAX_ABS_POSITION_M` metres; complex and non-numeric arrays are
refused. These checks run in float64, before the float32 cast (:func:`_finish`, every reader's last
step). Text must be UTF-8 (a leading byte-order mark is dropped); an undecodable byte is an error
naming its line, never a silently replaced character or a dropped "header" (BVH alone falls back to
Latin-1, for joint names that older tools write in a legacy encoding).

Limits: only regular files are read (a FIFO, device or directory is refused before it is opened), of
at most :data:`MAX_FILE_BYTES`, with at most :data:`MAX_FRAMES` frames, :data:`MAX_JOINTS` joints
(BVH End Sites count as joints) and :data:`MAX_JOINT_FRAMES` joints times frames; each is checked before the work it bounds, and parsing is linear in
the file size.

Formats:

- BVH (:func:`read_bvh`): hierarchy and motion are parsed and forward kinematics is run here, in
  numpy over all frames at once. bvhio 1.5.4 is the reference the tests check this against; it is not
  used for reading because it never returns on a truncated or empty file (its line reader loops at
  end of file), cannot tell a missing End Site from its ``(0, 1, 0)`` default, and runs its
  kinematics one frame and one joint at a time in Python.
- Kinect V2 skeleton text (:func:`read_kinect_v2`), Xsens MVNX XML (:func:`read_mvnx`), Xsens MVN
  Analyze "Segment Position" CSV (:func:`read_xsens_csv`), numpy arrays (:func:`read_array`).
- Video (:func:`read_video`): 3D pose estimated with MediaPipe (:mod:`eai_llm.video`), run in a pose Python
  of its own, so the pose models' ``numpy<2`` never meets this environment.

:func:`read_motion` dispatches by format name or file suffix. All file problems raise
:class:`MotionFileError` as ``"<file>: field '<field>' <what was found>, expected <what>"``.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import math
import os
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .joint_layout import UNIT_SCALE, JointLayout, joint_mapping, map_positions
from .kinematics import axis_rotation, forward_kinematics
from .layouts import LAYOUTS, get_layout, layout_from_hierarchy
from .video import VIDEO_SUFFIXES, PoseError, estimate_pose, low_pass


# What a reader accepts at most (docs/design.md, "Limits and guarantees"): a larger input is refused with a
# MotionFileError before it is parsed or held in memory, so time and memory stay bounded.
MAX_FILE_BYTES = 256 * 2**20  # 256 MiB of text or array data
MAX_FRAMES = 200_000  # about 28 min at 120 fps
MAX_JOINTS = 512
MAX_JOINT_FRAMES = 10_000_000  # joints x frames: bounds the work of forward kinematics and the memory of a clip
MAX_FPS = 1_000.0  # frames per second
MAX_ABS_POSITION_M = 1_000.0  # a joint this far from the origin (in metres) is a unit or data error
MAX_GAP_SECONDS = 0.5  # the longest run of missing samples repair_missing fills


@dataclass
class Motion:
    """One clip.

    Args:
        positions: ``(T, J, 3)`` float32 joint positions, metres, +Y up.
        fps: frames per second.
        layout: the skeleton; ``layout.joint_names[j]`` is joint ``j`` of ``positions``.
        source: the file the clip was read from (for messages).
        placed: joints of ``layout`` placed from their neighbours, not measured: a clip of another skeleton
            read as this one (:func:`to_known_layout`).
    """

    positions: np.ndarray
    fps: float
    layout: JointLayout
    source: str
    placed: tuple[str, ...] = ()


class MotionFileError(ValueError):
    """A motion file, or a reader argument about it, that cannot be used as it is."""


def _error(source, field: str, found: str, expected: str) -> MotionFileError:
    return MotionFileError(f"{source}: field '{field}' {found}, expected {expected}")


def _check_count(source, field: str, count: int, what: str):
    """Refuse more than :data:`MAX_FRAMES` (``what="frames"``), :data:`MAX_JOINTS` (``"joints"``) or
    :data:`MAX_JOINT_FRAMES` (``"joint-frames"``, joints times frames)."""
    limit, name = {"frames": (MAX_FRAMES, "MAX_FRAMES"), "joints": (MAX_JOINTS, "MAX_JOINTS"),
                   "joint-frames": (MAX_JOINT_FRAMES, "MAX_JOINT_FRAMES")}[what]
    if count > limit:
        raise _error(source, field, f"has {count} {what}", f"at most {limit} {what} ({name})")


def _check_file(info: os.stat_result, path, what: str):
    if not stat.S_ISREG(info.st_mode):
        raise _error(path, "file", "is not a regular file (a directory, FIFO, socket or device)", f"a {what} file")
    if info.st_size > MAX_FILE_BYTES:
        raise _error(path, "file", f"has {info.st_size} bytes", f"at most {MAX_FILE_BYTES} bytes (MAX_FILE_BYTES)")


# Non-blocking: opening a FIFO (swapped in after the check) returns at once; binary: no newline translation.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _read_bytes(path, what: str) -> bytes:
    """The bytes of ``path``, the one way every reader opens its file: a missing or unreadable file, or
    anything but a regular file of at most :data:`MAX_FILE_BYTES`, raises :class:`MotionFileError`.
    The file is checked before it is opened (opening a FIFO blocks; opening a device can act on it),
    then again once open, so a file swapped in between is caught too."""
    try:
        _check_file(os.stat(path), path, what)
        with open(os.open(path, _OPEN_FLAGS), "rb") as file:
            info = os.fstat(file.fileno())
            _check_file(info, path, what)
            return file.read(info.st_size)
    except OSError as e:
        raise _error(path, "file", f"could not be read ({e.strerror or e})", f"a readable {what} file") from e


def _read_text(path, what: str, fallback: str | None = None) -> str:
    """The file as UTF-8 text, a leading byte-order mark dropped. A byte that is not UTF-8 is an error
    naming its line (replaced, it would turn a value into a non-number or a first line into a header),
    unless a ``fallback`` encoding is given: BVH files from older tools write joint names in a legacy
    encoding (Shift-JIS, cp1252), and Latin-1 keeps such names distinct while numbers stay ASCII."""
    data = _read_bytes(path, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if fallback:
            return data.decode(fallback)
        line = data.count(b"\n", 0, e.start) + 1
        raise _error(path, "encoding", f"has a byte that is not UTF-8 on line {line} (byte {e.start})",
                     f"a UTF-8 {what} file") from None


def _number(token, source, field: str, cast=float):
    """One number of a header or attribute (a count, a rate, an offset); it must be finite."""
    try:
        value = cast(token)
    except (ValueError, TypeError):
        raise _error(source, field, f"has {token!r}", "a number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _error(source, field, f"is {token!r}", "a finite number")
    return value


def _numbers(values, source, field: str) -> np.ndarray:
    """Text values (nested lists or a flat list of number strings) → a float64 array; the one "not a
    number" check of every text reader. NaN is kept (a missing sample); ±inf is refused."""
    try:
        values = np.array(values, dtype=np.float64)
    except ValueError as e:
        raise _error(source, field, f"has a value that is not a number ({e})", "numbers only") from None
    infinite = np.argwhere(np.isinf(values))
    if len(infinite):
        raise _error(source, field, f"has {values[tuple(infinite[0])]} at index {tuple(infinite[0].tolist())}",
                     "finite numbers ('nan' marks a missing sample)")
    return values


def _resolve_layout(layout, source) -> JointLayout:
    """``layout`` as a :class:`JointLayout`: given as one, as a registered name, or as the JSON of
    :meth:`JointLayout.to_dict` (how a ``.npz`` can carry an unregistered layout)."""
    if isinstance(layout, JointLayout):
        return layout
    if layout is None:
        raise _error(source, "layout", "is missing", "a layout argument (or a 'layout' entry in a .npz)")
    if layout.lstrip().startswith("{"):
        try:
            data = json.loads(layout)
            names = data.get("joint_names")
            if isinstance(names, (list, str, dict)):  # before JointLayout's checks, which take joints² steps
                _check_count(source, "layout", len(names), "joints")
            return JointLayout.from_dict(data)
        except MotionFileError:
            raise
        except (ValueError, TypeError, RecursionError) as e:  # JSONDecodeError is a ValueError
            raise _error(source, "layout", f"is not a valid layout definition ({e})",
                         "the JSON of JointLayout.to_dict()") from None
    try:
        return get_layout(layout)
    except KeyError:
        raise _error(source, "layout", f"is {layout!r}", f"one of the registered layouts {sorted(LAYOUTS)}") from None


_UP_INDEX = {"y": 1, "z": 2}


def _check_up_axis(up_axis: str):
    if up_axis not in _UP_INDEX:
        raise ValueError(f"up_axis is {up_axis!r}, expected 'y' or 'z'")


def _to_library_frame(positions: np.ndarray, up_axis: str, units: str) -> np.ndarray:
    """``(T, J, 3)`` in ``units`` with ``up_axis`` up -> metres, +Y up."""
    if units not in UNIT_SCALE:
        raise ValueError(f"units is {units!r}, expected one of {list(UNIT_SCALE)}")
    _check_up_axis(up_axis)
    positions = positions * UNIT_SCALE[units]
    if up_axis == "z":
        positions = np.stack([positions[..., 0], positions[..., 2], -positions[..., 1]], axis=-1)
    return positions


def check_positions(positions, layout: JointLayout, source, up_axis: str = "y", units: str = "m") -> np.ndarray:
    """The one numeric check of joint positions, for every reader and for request positions:
    ``positions (T, J, 3)`` in ``units`` with ``up_axis`` up → float64 metres, +Y up.

    ``positions`` must hold real numbers: an integer or float array (complex, boolean, string and object
    arrays are refused, not cast), ``J`` the layout's joints (at most :data:`MAX_JOINTS`), at most
    :data:`MAX_FRAMES` frames. NaN marks a missing sample (kept, for :func:`repair_missing`); ±inf and any
    coordinate beyond :data:`MAX_ABS_POSITION_M` metres are refused. The checks run in float64, so
    nothing overflows unnoticed in a later float32 cast.
    """
    positions = np.asarray(positions)
    if positions.dtype.kind not in "iuf":
        raise _error(source, "positions", f"has dtype {positions.dtype}", "real numbers (an integer or float array)")
    if positions.ndim != 3 or positions.shape[2] != 3:
        raise _error(source, "positions", f"has shape {positions.shape}", "(frames, joints, 3)")
    _check_count(source, "positions", positions.shape[0], "frames")
    _check_count(source, "positions", positions.shape[1], "joints")
    if positions.shape[1] != layout.num_joints:
        raise _error(source, "positions", f"has {positions.shape[1]} joints",
                     f"{layout.num_joints} for layout {layout.name!r}")
    with np.errstate(invalid="ignore"):  # a signalling NaN (raw .npy bytes) becomes a quiet one: still missing
        positions = _to_library_frame(positions.astype(np.float64), up_axis, units)
    far = (np.abs(positions) > MAX_ABS_POSITION_M).any(axis=2)  # NaN compares False: missing, not far
    if far.any():
        t, j = np.argwhere(far)[0]
        raise _error(source, "positions", f"has {positions[t, j].tolist()} m at frame {t}, joint "
                     f"{layout.joint_names[j]!r} (in {int(far.any(axis=1).sum())} of {len(far)} frames)",
                     f"finite coordinates within {MAX_ABS_POSITION_M:g} m of the origin (MAX_ABS_POSITION_M; "
                     "NaN marks a missing sample)")
    return positions


def _finish(positions, fps, layout: JointLayout, source, up_axis: str, units: str) -> Motion:
    """The last step of every reader: :func:`check_positions`, the frame rate checked, missing samples
    repaired → a :class:`Motion` in metres, +Y up, float32."""
    positions = check_positions(positions, layout, source, up_axis, units)
    fps = float(fps)
    if not 0 < fps <= MAX_FPS:  # NaN fails too
        raise _error(source, "fps", f"is {fps:g}", f"frames per second above 0 and at most {MAX_FPS:g} (MAX_FPS)")
    positions = repair_missing(positions, fps, source)
    return Motion(positions=positions, fps=fps, layout=layout, source=str(source))


def repair_missing(positions: np.ndarray, fps: float, source, max_gap_seconds: float = MAX_GAP_SECONDS,
                   max_missing_fraction: float = 0.5) -> np.ndarray:
    """Fill short gaps of missing (NaN) samples; reject clips that are too short or too gappy.

    Each joint coordinate is linearly interpolated across a run of missing frames from the valid frames
    on either side; a run at the start or end takes the nearest valid frame. A run longer than
    ``max_gap_seconds`` (``floor(max_gap_seconds * fps)`` frames), a coordinate missing in every frame,
    or more than ``max_missing_fraction`` of frames with any missing value raises
    :class:`MotionFileError` naming the frames. ±inf is out of range, not missing: it is refused, as
    is a finite value that float32 cannot hold.

    Args:
        positions: ``(T, J, 3)`` joint positions (any memory layout).
        fps: frames per second, to turn ``max_gap_seconds`` into frames.
        source: file name for messages.

    Returns:
        ``(T, J, 3)`` float32, a repaired copy.
    """
    positions = np.array(positions, dtype=np.float64, order="C")  # C order: `flat` is a view, repairs land here
    frames = positions.shape[0]
    if frames < 2:
        raise _error(source, "frames", f"has {frames} frame{'' if frames == 1 else 's'}", "at least 2")
    flat = positions.reshape(frames, -1)
    huge = np.abs(flat) > np.finfo(np.float32).max
    if huge.any():
        raise _error(source, "positions", f"has values that are infinite or beyond float32 ({int(huge.sum())}, "
                     f"first in frame {np.argwhere(huge)[0, 0]})", "finite values (NaN marks a missing sample)")
    missing = np.isnan(flat)
    if not missing.any():
        return positions.astype(np.float32)
    bad_frames = int(missing.any(axis=1).sum())
    if bad_frames > max_missing_fraction * frames:
        raise _error(source, "positions", f"has missing values in {bad_frames} of {frames} frames",
                     f"at most {max_missing_fraction:.0%} of frames")
    t = np.arange(frames)[:, None]
    prev = np.maximum.accumulate(np.where(missing, -1, t), axis=0)  # last valid frame <= t, or -1
    next_ = np.minimum.accumulate(np.where(missing, frames, t)[::-1], axis=0)[::-1]  # first valid >= t, or T
    gap = next_ - prev - 1
    max_gap = int(np.floor(max_gap_seconds * fps + 1e-9))
    too_long = missing & ((gap > max_gap) | (gap >= frames))
    if too_long.any():
        runs = np.unique(np.stack([prev + 1, next_ - 1], axis=-1)[too_long], axis=0)
        joints = np.unique(np.nonzero(too_long)[1] // 3)
        shown = ", ".join(f"{a}-{b}" for a, b in runs[:5]) + (", ..." if len(runs) > 5 else "")
        raise _error(source, "positions", f"has missing values in frames {shown} (joints {joints.tolist()})",
                     f"gaps of at most {max_gap_seconds} s ({max_gap} frames at {fps:g} fps)")
    rows, cols = np.nonzero(missing)
    lo, hi = prev[rows, cols], next_[rows, cols]
    lo, hi = np.where(lo >= 0, lo, hi), np.where(hi < frames, hi, lo)
    weight = (rows - lo) / np.maximum(hi - lo, 1)
    flat[rows, cols] = flat[lo, cols] + weight * (flat[hi, cols] - flat[lo, cols])
    return positions.astype(np.float32)


# ---------------------------------------------------------------------------------------------- BVH

_CHANNELS = {f"{axis}{kind}" for axis in "XYZ" for kind in ("position", "rotation")}


def _parse_hierarchy(header: str, source):
    """Joints of a BVH ``HIERARCHY`` in file order (depth first), End Sites included as joints
    named ``<parent>End`` without channels; more than :data:`MAX_JOINTS` of them (End Sites included)
    are refused as soon as they are counted.

    Returns:
        ``(names, parents, offsets (N, 3), channels, is_end)``.
    """
    names, parents, offsets, channels, is_end, stack = [], [], [], [], [], []
    tokens = iter(header.split()[1:])

    def expect(word: str):
        token = next(tokens)
        if token != word:
            raise _error(source, "HIERARCHY", f"has {token!r} after joint {names[-1] if names else 'ROOT'!r}",
                         repr(word))

    try:
        for word in tokens:
            if word == "}" and stack:
                stack.pop()
                continue
            first = not names
            if word not in ("ROOT", "JOINT", "End") or (word == "ROOT") != first or (not first and not stack):
                raise _error(source, "HIERARCHY", f"has {word!r} where a joint definition starts",
                             "one ROOT, then JOINT, 'End Site' or '}' (one skeleton per file)")
            name = next(tokens)
            if word == "End":
                name = names[stack[-1]] + "End"
            expect("{")
            expect("OFFSET")
            offset = [_number(next(tokens), source, "OFFSET") for _ in range(3)]
            chans = ()
            if word == "End":
                expect("}")
            else:
                expect("CHANNELS")
                count = _number(next(tokens), source, "CHANNELS", int)
                if not 0 <= count <= len(_CHANNELS):
                    raise _error(source, "CHANNELS", f"of joint {name!r} is {count}", f"0 to {len(_CHANNELS)} channels")
                chans = tuple([next(tokens) for _ in range(count)])
                if set(chans) - _CHANNELS:
                    raise _error(source, "CHANNELS", f"of joint {name!r} has {sorted(set(chans) - _CHANNELS)}",
                                 f"channels from {sorted(_CHANNELS)}")
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append(offset)
            channels.append(chans)
            is_end.append(word == "End")
            _check_count(source, "HIERARCHY", len(names), "joints")
            if word != "End":
                stack.append(len(names) - 1)
    except StopIteration:
        raise _error(source, "HIERARCHY", "ends inside a joint definition", "balanced '{' '}' blocks") from None
    if stack or not names:
        raise _error(source, "HIERARCHY", "has unclosed joint blocks" if stack else "has no joints",
                     "a complete ROOT joint block before MOTION")
    repeated = sorted(name for name, n in Counter(names).items() if n > 1)
    if repeated:
        raise _error(source, "HIERARCHY", f"names joints {repeated} more than once (End Sites count as "
                     "<parent>End)", "unique joint names")
    return names, parents, np.asarray(offsets, dtype=np.float64), channels, np.asarray(is_end)


def _parse_bvh_motion(body: str, num_channels: int, num_joints: int, source) -> tuple[np.ndarray, float]:
    """The ``MOTION`` section after its keyword line -> ``(frames (T, C) float64, fps)``; the ``Frames``
    count is checked against :data:`MAX_FRAMES`, :data:`MAX_JOINT_FRAMES` and the rows before any row is split."""
    lines = [line for line in body.splitlines() if line.strip()]
    match = re.fullmatch(r"\s*Frames:\s*(\S+)\s*", lines[0]) if lines else None
    if match is None:
        raise _error(source, "Frames", f"line is {lines[0].strip()!r}" if lines else "is missing",
                     "'Frames: <count>' after MOTION")
    count = _number(match.group(1), source, "Frames", int)
    if count < 2:
        raise _error(source, "Frames", f"is {count}", "at least 2 frames")
    _check_count(source, "Frames", count, "frames")
    _check_count(source, "Frames", count * num_joints, "joint-frames")
    match = re.fullmatch(r"\s*Frame\s+Time:\s*(\S+)\s*", lines[1]) if len(lines) > 1 else None
    if match is None:
        raise _error(source, "Frame Time", f"line is {lines[1].strip()!r}" if len(lines) > 1 else "is missing",
                     "'Frame Time: <seconds>' after Frames")
    frame_time = _number(match.group(1), source, "Frame Time")
    if frame_time <= 0:
        raise _error(source, "Frame Time", f"is {match.group(1)}", "a positive number of seconds")
    if len(lines) - 2 != count:
        raise _error(source, "Frames", f"is {count} but the MOTION section has {len(lines) - 2} frame rows",
                     f"{count} rows (truncated or padded file?)")
    rows = [line.split() for line in lines[2:]]
    wrong = next((r for r, row in enumerate(rows) if len(row) != num_channels), None)
    if wrong is not None:
        raise _error(source, "MOTION", f"row {wrong} has {len(rows[wrong])} values",
                     f"{num_channels}, one per channel of the hierarchy")
    values = _numbers(rows, source, "MOTION").reshape(count, num_channels)
    fps = 1.0 / frame_time
    # Frame Time is written with few digits (0.0333333): snap 1 / Frame Time to an integer within 0.01 %.
    return values, float(round(fps)) if abs(fps - round(fps)) < 1e-4 * fps else fps


def _forward_kinematics(parents: list[int], offsets: np.ndarray, channels: list[tuple[str, ...]],
                        values: np.ndarray) -> np.ndarray:
    """World positions of BVH joints ``(T, N, 3)`` from motion ``values (T, C)``.

    BVH semantics: a joint's local translation is its OFFSET, with any position channel *replacing*
    that component (as bvhio and Blender read it); its local rotation is the product of its rotation
    channels in the listed order (intrinsic Euler angles in degrees, ``R = R_1 @ R_2 @ R_3``).
    """
    frames, count = len(values), len(parents)
    translations = np.repeat(offsets[None], frames, axis=0)
    rotations = np.broadcast_to(np.eye(3), (frames, count, 3, 3)).copy()
    column = 0
    for j in range(count):
        for channel in channels[j]:
            axis = channel[0].lower()
            if channel.endswith("position"):
                translations[:, j, "xyz".index(axis)] = values[:, column]
            else:
                rotations[:, j] = rotations[:, j] @ axis_rotation(axis, np.radians(values[:, column]))
            column += 1
    return forward_kinematics(parents, translations, rotations)


def _guess_units(world: np.ndarray, up_axis: str, source) -> str:
    """Units from the body height: the extent along ``up_axis`` of ``world (T, J, 3)`` (file units) in
    its first frame without missing values; metres below 3, centimetres below 300, else millimetres."""
    _check_up_axis(up_axis)
    complete = ~np.isnan(world).any(axis=(1, 2))
    if not complete.any():
        raise _error(source, "MOTION", "has missing values in every frame",
                     "one complete frame to guess the units from (or pass units)")
    height = float(np.ptp(world[np.argmax(complete), :, _UP_INDEX[up_axis]]))
    return "m" if height < 3 else "cm" if height < 300 else "mm"


def guess_bvh_units(path, up_axis: str = "y", end_sites: bool = False) -> str:
    """The units ``read_bvh(path, units="auto")`` uses: ``"m"``, ``"cm"`` or ``"mm"`` from the body
    height (the extent along ``up_axis`` of the joints read, in the first frame without missing
    values). To read a corpus in one unit, guess once and pass the result to :func:`read_bvh` for
    every file."""
    return _guess_units(_bvh_joints(path, end_sites)[2], up_axis, path)


def _layout_for(names: list[str], parents: list[int], layout_name: str | None, up_axis: str,
                units: str) -> JointLayout:
    """A registered layout with exactly these joint names and parents, else one built from them."""
    for layout in LAYOUTS.values():
        if list(layout.joint_names) == names and list(layout.parents) == parents:
            return layout
    digest = hashlib.sha1(json.dumps([names, parents]).encode()).hexdigest()[:8]
    return layout_from_hierarchy(layout_name or f"bvh_{digest}", names, parents, up_axis=up_axis, units=units)


def read_bvh(path, up_axis: str = "y", units: str = "auto", layout_name: str | None = None,
             end_sites: bool = False) -> Motion:
    """Read a BVH file into joint positions by forward kinematics.

    Args:
        path: ``.bvh`` file.
        up_axis: the file's up axis, ``"y"`` (BVH convention) or ``"z"``.
        units: ``"m"``, ``"cm"``, ``"mm"``, or ``"auto"``: from the body height along ``up_axis`` in
            the first frame without missing values (over the returned joints): metres if < 3,
            centimetres if < 300, else millimetres. A clip that starts lying down is misread; pass
            the units then, or guess them once per corpus with :func:`guess_bvh_units`.
        layout_name: name for the layout built from the hierarchy when no registered layout has the
            same joint names and parents; default ``"bvh_"`` + 8 hex digits of a hash of them. The
            built layout is not registered (see :func:`~eai_llm.layouts.register_layout`).
        end_sites: also return each ``End Site`` as a joint named ``<parent>End`` (e.g. ``HeadEnd``),
            placed after its parent in file order.

    A root with a single child joint is a placeholder and is dropped, its child becoming the root, when it
    stays at the origin in every frame (Bandai-Namco's ``joint_Root``) or when its name says it is a node
    above the body that carries the root motion (``Root``, ``joint_Root``, ``Reference``, ``Bip01``). Its motion is kept: the child's
    positions are world positions. So files of one hierarchy read as one skeleton whether or not their
    root node moves.

    ``nan`` in a channel marks a missing sample: the joints it moves are missing in that frame, for
    :func:`repair_missing`. An OFFSET or position channel beyond :data:`MAX_ABS_POSITION_M` in the
    smallest unit (mm) is out of range whatever the units, and refused before forward kinematics.

    Returns:
        :class:`Motion` with ``positions (T, J, 3)`` in metres, +Y up.
    """
    names, parents, world, fps = _bvh_joints(path, end_sites)
    if units == "auto":
        units = _guess_units(world, up_axis, path)
    layout = _layout_for(names, parents, layout_name, up_axis, units)
    return _finish(world, fps, layout, path, up_axis=up_axis, units=units)


# Frames x joints per forward-kinematics batch: its (frames, joints, 3, 3) arrays take ~13 MB (measured
# faster than larger batches, and memory stays that of the output).
_FK_BATCH = 2**16
# A translation beyond this (in file units) is out of range in every unit: MAX_ABS_POSITION_M in mm.
_MAX_BVH_TRANSLATION = MAX_ABS_POSITION_M / min(UNIT_SCALE.values())


# Names of a node above the body that carries the root motion (Bandai-Namco's joint_Root, Reference, Bip01).
_ROOT_NODE = re.compile(r"(^|[_\s])(root|reference|armature|world|origin)$|^bip0*1$", re.IGNORECASE)


def _bvh_joints(path, end_sites: bool) -> tuple[list[str], list[int], np.ndarray, float]:
    """Parse a BVH file and run forward kinematics: ``(names, parents, world (T, J, 3) float64 in the
    file's units and axes, fps)``, placeholder root dropped, End Sites kept if ``end_sites``."""
    text = _read_text(path, "BVH", fallback="latin-1")
    first = text.split(maxsplit=1)[:1]
    if first != ["HIERARCHY"]:
        raise _error(path, "HIERARCHY", f"is missing (the file starts with {first[0][:20]!r})" if first
                     else "is missing (the file is empty)", "a BVH file starting with HIERARCHY")
    motion = re.search(r"^[ \t]*MOTION[ \t\r]*$", text, flags=re.MULTILINE)
    if motion is None:
        raise _error(path, "MOTION", "is missing", "a MOTION section after the hierarchy")
    names, parents, offsets, channels, is_end = _parse_hierarchy(text[:motion.start()], path)
    values, fps = _parse_bvh_motion(text[motion.end():], sum(map(len, channels)), len(names), path)
    is_position = np.array([channel.endswith("position") for chans in channels for channel in chans], dtype=bool)
    for field, translations in (("OFFSET", offsets), ("MOTION", values[:, is_position])):
        far = np.abs(translations) > _MAX_BVH_TRANSLATION  # NaN compares False: a missing sample
        if far.any():  # refused here, forward kinematics cannot overflow: |world| <= MAX_JOINTS * bound
            raise _error(path, field, f"has a translation of {translations[far][0]:g} (file units)",
                         f"at most {_MAX_BVH_TRANSLATION:g} either way, MAX_ABS_POSITION_M in mm")
    step = max(1, _FK_BATCH // len(parents))
    world = np.concatenate([_forward_kinematics(parents, offsets, channels, values[start:start + step])
                            for start in range(0, len(values), step)])

    keep = ~is_end | end_sites
    single_child = (np.asarray(parents)[~is_end] == 0).sum() == 1
    if single_child and (np.abs(world[:, 0]).max() <= 1e-6 or _ROOT_NODE.search(names[0].split(":")[-1])):
        keep[0] = False
        keep &= ~(is_end & (np.asarray(parents) == 0))
    new_index = np.cumsum(keep) - 1
    kept = np.flatnonzero(keep)
    names = [names[j] for j in kept]
    parents = [int(new_index[parents[j]]) if parents[j] >= 0 and keep[parents[j]] else -1 for j in kept]
    return names, parents, world[:, kept], fps


def select_joints(motion: Motion, layout: JointLayout | str) -> Motion:
    """Pick and reorder the joints of ``layout`` (a layout or registered name) by joint name from a
    motion holding a superset of them, e.g. KDAE's full BVH read with ``end_sites=True`` -> ``kdae24``.

    Returns:
        :class:`Motion` with ``positions (T, layout.num_joints, 3)``.
    """
    layout = _resolve_layout(layout, motion.source)
    have = {name: j for j, name in enumerate(motion.layout.joint_names)}
    missing = [name for name in layout.joint_names if name not in have]
    if missing:
        raise _error(motion.source, "joints", f"lacks {missing} (layout {motion.layout.name!r})",
                     f"every joint of layout {layout.name!r}")
    index = [have[name] for name in layout.joint_names]
    return Motion(positions=motion.positions[:, index], fps=motion.fps, layout=layout, source=motion.source)


def to_known_layout(motion: Motion, layouts: list[JointLayout | dict | str]) -> Motion:
    """The motion in one of ``layouts`` (layouts, their dicts or registered names): how a model takes a file of
    any skeleton.

    The first layout whose joints the motion has, by name (extra joints dropped, e.g. a BVH read with
    ``end_sites=True`` → ``kdae24``); else the layout onto which the most joints map by canonical name
    (:func:`~eai_llm.joint_layout.map_positions`: joints it lacks are placed from their neighbours and listed
    in ``placed``), e.g. a video's ``mediapipe33`` → ``kinect_v2``. A motion lacking the limbs or pelvis of
    every layout is an error."""
    have = set(motion.layout.joint_names)
    resolved = [JointLayout.from_dict(layout) if isinstance(layout, dict) else _resolve_layout(layout, motion.source)
                for layout in layouts]
    for layout in resolved:
        if set(layout.joint_names) <= have:
            return select_joints(motion, layout)
    problems = []
    for layout in sorted(resolved, key=lambda known: -int((joint_mapping(motion.layout, known) >= 0).sum())):
        try:
            positions, placed = map_positions(motion.positions, motion.layout, layout)
        except ValueError as error:
            problems.append(str(error))
            continue
        return Motion(positions=positions, fps=motion.fps, layout=layout, source=motion.source, placed=tuple(placed))
    raise _error(motion.source, "joints", f"of layout {motion.layout.name!r} match no known layout by name, and "
                 f"by canonical name: {'; '.join(problems)}", f"the joints of one of {[k.name for k in resolved]}")


def read_for_layouts(path, layouts: list[JointLayout | dict | str], format: str | None = None, **kwargs) -> Motion:
    """Read a motion file (as :func:`read_motion`) for a model that knows ``layouts``: BVH End Sites are
    read as joints (a layout may have them, e.g. ``kdae24``), then :func:`to_known_layout`."""
    if (format or Path(path).suffix.lower().lstrip(".")) == "bvh":
        kwargs["end_sites"] = True
    elif (format or _SUFFIX_FORMATS.get(Path(path).suffix.lower())) == "array":  # names: the model's, not the registry's
        kwargs["known_layouts"] = [JointLayout.from_dict(_as_dict(layout)) for layout in layouts]
    return to_known_layout(read_motion(path, format, **kwargs), layouts)


def _as_dict(layout: JointLayout | dict | str) -> dict:
    return layout if isinstance(layout, dict) else _resolve_layout(layout, "layouts").to_dict()


# ------------------------------------------------------------------------------------------ Kinect

_KINECT_JOINTS = 25


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_kinect_v2(path, fps: float = 30.0) -> Motion:
    """Read a Kinect V2 skeleton text/CSV file (camera space; up axis and units of the registered
    ``kinect_v2``: +Y up, metres).

    The EGBM export is not public, so these layouts are accepted: one frame per line, values separated
    by commas, semicolons and/or whitespace, an optional header line (any first line that does not
    start with a number; text is UTF-8, as for every reader), and every line holding one of

    - 75 numbers: ``x y z`` for the 25 joints in SDK ``JointType`` order;
    - 76 numbers: a timestamp, then the 75. The timestamp is in seconds if the median frame step is
      below 1, else in milliseconds, and sets the fps (the ``fps`` argument is then ignored);
    - 100 numbers: ``x y z state`` per joint; state 0 (not tracked) makes the joint missing, to be
      interpolated by :func:`repair_missing`; 1 (inferred) and 2 (tracked) are kept.

    Frames are taken as evenly spaced; dropped frames are not re-timed.
    """
    lines = [(number, line.strip(" \t,;")) for number, line in enumerate(_read_text(path, "Kinect").splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line]
    if lines and not _is_number(re.split(r"[,;\s]+", lines[0][1], maxsplit=1)[0]):
        lines = lines[1:]  # header line
    _check_count(path, "frames", len(lines), "frames")
    rows = [(number, re.split(r"[,;\s]+", line)) for number, line in lines]
    if not rows:
        raise _error(path, "frames", "has 0 frames", "at least 2")
    width = len(rows[0][1])
    if width not in (3 * _KINECT_JOINTS, 3 * _KINECT_JOINTS + 1, 4 * _KINECT_JOINTS):
        raise _error(path, "columns", f"has {width} values on line {rows[0][0]}",
                     "75 (x y z per joint), 76 (timestamp + 75) or 100 (x y z state per joint)")
    for number, tokens in rows:
        if len(tokens) != width:
            raise _error(path, "columns", f"has {len(tokens)} values on line {number}", f"{width} like the first line")
    values = _numbers([tokens for _, tokens in rows], path, "values")
    if width == 4 * _KINECT_JOINTS:
        values = values.reshape(len(rows), _KINECT_JOINTS, 4)
        positions = np.where(values[..., 3:] == 0, np.nan, values[..., :3])
    else:
        if width == 3 * _KINECT_JOINTS + 1:
            step = np.diff(values[:, 0])
            if not (step > 0).all():  # a NaN timestamp too
                line = rows[int(np.argmax(~(step > 0))) + 1][0]
                raise _error(path, "timestamp", f"does not increase at line {line}", "increasing timestamps")
            median = float(np.median(step)) if len(step) else 1.0 / fps
            fps = 1.0 / median if median < 1 else 1000.0 / median
            if not 1 <= fps <= MAX_FPS:
                raise _error(path, "timestamp", f"steps by a median of {median:g} (read as {fps:g} fps)",
                             "seconds or milliseconds giving 1-1000 fps")
            values = values[:, 1:]
        positions = values.reshape(len(rows), _KINECT_JOINTS, 3)
    layout = get_layout("kinect_v2")
    return _finish(positions, fps, layout, path, layout.up_axis, layout.units)


# ------------------------------------------------------------------------------------------- Xsens

# MVNX segment points used as the xsens_mvn28 end points, by segment.
MVNX_END_POINTS = {"Head": "pTopOfHead", "RightHand": "pRightTopOfHand", "LeftHand": "pLeftTopOfHand",
                   "RightToe": "pRightToe", "LeftToe": "pLeftToe"}


def _segment_index(labels: list[str], source, field: str) -> list[int]:
    """Index into ``labels`` of each ``xsens_mvn23`` segment; extra labels (props) are ignored."""
    segments = get_layout("xsens_mvn23").joint_names
    missing = [s for s in segments if s not in labels]
    if missing:
        raise _error(source, field, f"lacks MVN segments {missing} (found {labels})",
                     f"the 23 MVN segments {list(segments)}")
    return [labels.index(s) for s in segments]


def _quaternion_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` given as ``w x y z``."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def read_mvnx(path) -> Motion:
    """Read an Xsens MVNX file (XML; up axis and units of the registered ``xsens_mvn23``: Z up, metres).

    Reads ``subject@frameRate``, ``subject/segments/segment@label`` and, for each
    ``subject/frames/frame[@type="normal"]``, ``position`` (``x y z`` per segment) and ``orientation``
    (``w x y z`` per segment) in segment order. The XML namespace (``http://www.xsens.com/mvn/mvnx``)
    is not required. The 23 MVN segments must all be present (others, e.g. props, are ignored).

    When the segments define the points of :data:`MVNX_END_POINTS` (``points/point@label`` with a
    body-frame ``pos_b``), the end points are ``position + R(orientation) @ pos_b`` and the layout is
    ``xsens_mvn28``; otherwise ``xsens_mvn23`` (and ``orientation`` is not read).
    """
    try:
        root = ET.fromstring(_read_bytes(path, "MVNX"))
    except (ET.ParseError, LookupError) as e:  # LookupError: an unknown encoding in the XML declaration
        raise _error(path, "xml", f"is not well-formed ({e})", "an MVNX XML file") from None
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    subject = root.find("subject")
    if root.tag != "mvnx" or subject is None:
        raise _error(path, "mvnx", f"root is <{root.tag}>" + ("" if subject is not None else " without <subject>"),
                     "<mvnx> holding a <subject>")
    rate = subject.get("frameRate")
    if rate is None:
        raise _error(path, "frameRate", "is missing on <subject>", "the capture frame rate")
    fps = _number(rate, path, "frameRate")
    segments = subject.findall("segments/segment")
    labels = [segment.get("label") for segment in segments]
    _check_count(path, "segment", len(labels), "joints")
    index = _segment_index(labels, path, "segment")
    frames = [frame for frame in subject.findall("frames/frame") if frame.get("type") == "normal"]
    _check_count(path, "frame", len(frames), "frames")

    def per_frame(tag: str, size: int) -> np.ndarray:
        texts = [frame.findtext(tag, default="") for frame in frames]
        widths = [len(text.split()) for text in texts]
        if any(w != size * len(labels) for w in widths):
            bad = next(i for i, w in enumerate(widths) if w != size * len(labels))
            raise _error(path, tag, f"of normal frame {bad} has {widths[bad]} values",
                         f"{size} per segment ({size * len(labels)})")
        values = _numbers(" ".join(texts).split(), path, tag)
        return values.reshape(len(frames), len(labels), size)[:, index]

    positions = per_frame("position", 3)
    ends = {}
    for segment in segments:
        point = MVNX_END_POINTS.get(segment.get("label"))
        pos_b = segment.findtext(f"points/point[@label='{point}']/pos_b") if point else None
        if pos_b is not None:
            ends[segment.get("label")] = [_number(v, path, "pos_b") for v in pos_b.split()]
    mvn23 = get_layout("xsens_mvn23")
    if len(ends) < len(MVNX_END_POINTS):
        return _finish(positions, fps, mvn23, path, mvn23.up_axis, mvn23.units)
    orientations = per_frame("orientation", 4)
    # Clipped so that a huge component cannot overflow (it still shows as norm > 1.01); NaN (missing) passes.
    off_unit = np.argwhere(np.abs(np.linalg.norm(orientations.clip(-2, 2), axis=-1) - 1) > 0.01)
    if len(off_unit):
        t, j = off_unit[0]
        raise _error(path, "orientation", f"of normal frame {t}, segment {mvn23.joint_names[j]!r} is "
                     f"{orientations[t, j].tolist()}", "a unit quaternion (w x y z, norm 1 ± 0.01)")
    layout = get_layout("xsens_mvn28")
    columns = []
    for name in layout.joint_names:
        segment = name.removesuffix("End")
        j = mvn23.joint_names.index(segment)
        offset = _quaternion_rotate(orientations[:, j], np.asarray(ends[segment])) if name != segment else 0.0
        columns.append(positions[:, j] + offset)
    return _finish(np.stack(columns, axis=1), fps, layout, path, layout.up_axis, layout.units)


def read_xsens_csv(path, fps: float | None = None) -> Motion:
    """Read an MVN Analyze "Segment Position" CSV export as ``xsens_mvn23`` (up axis and units of that
    registered layout: Z up, metres).

    Header ``Frame,Pelvis x,Pelvis y,Pelvis z,L5 x,...`` (comma, semicolon or tab separated); columns
    are matched by name, so order and extra columns do not matter. The export holds frame numbers
    only, so ``fps`` (the MVN session's frame rate) is required.
    """
    if fps is None:
        raise _error(path, "fps", "is missing (the CSV holds frame numbers, not times)",
                     "the fps argument (the MVN session's frame rate, e.g. 60 or 240)")
    lines = [line for line in _read_text(path, "Xsens CSV").splitlines() if line.strip()]
    if not lines:
        raise _error(path, "header", "is missing (the file is empty)", "'Frame,Pelvis x,Pelvis y,...'")
    delimiter = max(",;\t", key=lines[0].count)
    header = [name.strip() for name in lines[0].split(delimiter)]
    columns = {name: c for c, name in enumerate(header)}
    labels = list(dict.fromkeys(name[:-2] for name in header if name[-2:] in (" x", " y", " z")))
    index = _segment_index(labels, path, "header")
    segments = [labels[i] for i in index]
    absent = [f"{s} {a}" for s in segments for a in "xyz" if f"{s} {a}" not in columns]
    if absent:
        raise _error(path, "header", f"lacks columns {absent}", "x, y and z columns for every segment")
    _check_count(path, "frames", len(lines) - 1, "frames")
    rows = [line.split(delimiter) for line in lines[1:]]
    bad = next((r for r, row in enumerate(rows) if len(row) != len(header)), None)
    if bad is not None:
        raise _error(path, "columns", f"has {len(rows[bad])} values on data row {bad}", f"{len(header)} like the header")
    values = _numbers(rows, path, "values").reshape(len(rows), len(header))
    order = [columns[f"{s} {a}"] for s in segments for a in "xyz"]
    layout = get_layout("xsens_mvn23")
    return _finish(values[:, order].reshape(len(rows), len(segments), 3), fps, layout, path, layout.up_axis,
                   layout.units)


# ------------------------------------------------------------------------------------------- arrays

_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_NPZ_ENTRIES = ("positions", "fps", "layout")


def _load_npy(file, source, field: str) -> np.ndarray:
    """One ``.npy`` stream (seekable), its header checked before any data is allocated: at most
    :data:`MAX_FILE_BYTES` of data (as a ``.npy`` file; a ``.npz`` member may be compressed) and, for
    ``positions``, at most :data:`MAX_FRAMES` frames and :data:`MAX_JOINTS` joints."""
    version = np.lib.format.read_magic(file)
    if version not in _NPY_HEADERS:
        raise _error(source, field, f"is in .npy format version {version[0]}.{version[1]}", "version 1.0 or 2.0")
    shape, _, dtype = _NPY_HEADERS[version](file)
    size = math.prod(shape) * dtype.itemsize
    if size > MAX_FILE_BYTES:
        raise _error(source, field, f"holds {size} bytes of data", f"at most {MAX_FILE_BYTES} bytes (MAX_FILE_BYTES)")
    if field == "positions":
        frames, joints = (tuple(shape) + (0, 0))[:2]
        _check_count(source, field, frames, "frames")
        _check_count(source, field, joints, "joints")
        _check_count(source, field, frames * joints, "joint-frames")
    file.seek(0)
    return np.lib.format.read_array(file, allow_pickle=False)


def read_array(path, layout: JointLayout | str | None = None, fps: float | None = None, units: str = "m",
               up_axis: str = "y", known_layouts: Sequence[JointLayout] = ()) -> Motion:
    """Read positions saved with numpy.

    ``.npy``: a ``(T, J, 3)`` array; ``layout`` and ``fps`` are required. ``.npz``: entry
    ``positions`` ``(T, J, 3)``, optional ``fps`` (scalar) and ``layout`` (a name, or the JSON of
    :meth:`JointLayout.to_dict`); arguments override entries, other entries are not read. A layout name
    is looked up in ``known_layouts`` (a model's own layouts), then in the registry.
    ``units`` and ``up_axis`` describe the stored array. Each array's header is checked against the
    limits before its data is read.
    """
    data = _read_bytes(path, "numpy array")
    try:
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip archive: .npz, as np.load tells it
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = set(archive.namelist())
                entries = {name: _load_npy(archive.open(f"{name}.npy"), path, name)
                           for name in _NPZ_ENTRIES if f"{name}.npy" in members}
        else:
            entries = {"positions": _load_npy(io.BytesIO(data), path, "positions")}
    except MotionFileError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy's header parser and zipfile raise a dozen types on bad input
        # (ValueError, TypeError, tokenize.TokenError, zlib.error, lzma.LZMAError, NotImplementedError, ...)
        raise _error(path, "file", f"could not be read as a numpy array ({e})", "a .npy or .npz file") from None
    if "positions" not in entries:
        raise _error(path, "positions", "is missing", "a 'positions' entry (positions.npy in the .npz)")
    positions = entries["positions"]
    if fps is None and "fps" in entries:
        fps = _number(entries["fps"], path, "fps")
    if layout is None and "layout" in entries:
        layout = str(entries["layout"])
    if fps is None:
        raise _error(path, "fps", "is missing", "an fps argument (or an 'fps' entry in a .npz)")
    named = {known.name: known for known in known_layouts}
    layout = named.get(layout, layout) if isinstance(layout, str) else layout
    return _finish(positions, fps, _resolve_layout(layout, path), path, up_axis=up_axis, units=units)


# -------------------------------------------------------------------------------------------- video


def read_video(path) -> Motion:
    """Read the 3D pose of one person in a video (``.mp4``, ``.avi``, ``.mov``, ``.webm``) as ``mediapipe33``:
    MediaPipe Pose world landmarks with the body's path through the scene, in metres, +Y up, at the container's
    frame rate (:func:`eai_llm.video.estimate_pose` has the steps and what each assumes). Landmarks MediaPipe
    sees poorly are missing samples for :func:`repair_missing`; the repaired clip is then filtered for jitter
    (:func:`eai_llm.video.low_pass`). Needs a Python with ``mediapipe==0.10.21`` (:func:`eai_llm.video.pose_python`).
    A video of more than :data:`eai_llm.video.MAX_VIDEO_FRAMES` frames, one OpenCV cannot decode, a truncated
    one and one in which nobody is found are errors naming the file."""
    try:
        _check_file(os.stat(path), path, "video")
    except OSError as e:
        raise _error(path, "file", f"could not be read ({e.strerror or e})", "a readable video file") from e
    try:
        positions, fps = estimate_pose(path, MAX_GAP_SECONDS)
    except PoseError as e:
        raise _error(path, e.field, e.found, e.expected) from None
    motion = _finish(positions, fps, get_layout("mediapipe33"), path, up_axis="y", units="m")
    motion.positions = low_pass(motion.positions, motion.fps)
    return motion


# ----------------------------------------------------------------------------------------- dispatch

READERS = {"bvh": read_bvh, "kinect_v2": read_kinect_v2, "mvnx": read_mvnx, "xsens_csv": read_xsens_csv,
           "array": read_array, "video": read_video}
_SUFFIX_FORMATS = {".bvh": "bvh", ".mvnx": "mvnx", ".npy": "array", ".npz": "array",
                   **{suffix: "video" for suffix in VIDEO_SUFFIXES}}
TEXT_FORMATS = ("kinect_v2", "xsens_csv")  # the readers of .txt/.csv files, which the suffix cannot tell apart


def read_motion(path, format: str | None = None, **kwargs) -> Motion:
    """Read any supported file: ``format`` is one of :data:`READERS` (``"bvh"``, ``"kinect_v2"``,
    ``"mvnx"``, ``"xsens_csv"``, ``"array"``, ``"video"``), or ``None`` to go by the suffix (``.bvh``, ``.mvnx``,
    ``.npy``, ``.npz``, the video suffixes; ``.txt``/``.csv`` are ambiguous and need ``format``). ``kwargs`` go
    to the reader.
    """
    if format is None:
        suffix = Path(path).suffix.lower()
        if suffix not in _SUFFIX_FORMATS:
            raise _error(path, "format", f"cannot be told from the suffix {suffix!r}",
                         f"format= one of {sorted(READERS)} (suffixes known: {sorted(_SUFFIX_FORMATS)})")
        format = _SUFFIX_FORMATS[suffix]
    if format not in READERS:
        raise _error(path, "format", f"is {format!r}", f"one of {sorted(READERS)}")
    takes = set(inspect.signature(READERS[format]).parameters) - {"path"}
    unknown = sorted(set(kwargs) - takes)
    if unknown:  # e.g. --fps for a BVH file, whose frame time is in the file
        raise _error(path, "options", f"include {unknown}, which a {format} file does not take",
                     f"only {sorted(takes)}")
    return READERS[format](path, **kwargs)
