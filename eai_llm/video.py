"""3D pose from an ordinary video: MediaPipe Pose in its own Python environment, then metres, +Y up, with
the body's path through the scene, jitter filtered.

:func:`estimate_pose` is the video half of :func:`eai_llm.motion.read_video`, which turns its result into a
:class:`~eai_llm.motion.Motion` of the ``mediapipe33`` layout. Steps, for ``T`` frames:

1. MediaPipe Pose (``pose_worker.py``, run as a subprocess in the pose Python of :func:`pose_python`) gives
   per frame the 33 world landmarks, hip-centred in metres with the camera's axes, their visibility, and the
   same landmarks in the image. Its tracker follows one person: the most confident in the first frame with
   anyone in it, followed from frame to frame (``pose_worker.py`` says more); when it loses them, it takes
   whoever is most confident next. So with several people in view, the person kept is the one followed
   for the longest unbroken track (:func:`_tracks`: a jump of the hips by more than a torso length or of
   the torso's size by more than a quarter between frames, or no one for longer than the readers repair,
   breaks a track), and the clip is cut to that track.
2. Missing samples, for the readers' repair policy (:func:`eai_llm.motion.repair_missing`: short gaps
   interpolated, a clip with long or many gaps refused): every landmark of a frame in which fewer than half
   of them reach :data:`MIN_VISIBILITY` (nobody, or a poor detection), and a landmark outside the image,
   where MediaPipe extrapolates with nothing to see. A landmark in the image but hidden (the far arm of a
   person seen side-on) keeps MediaPipe's estimate, which it infers from the rest of the body: on the
   sample video that arm's visibility stays below 0.5 for up to 1.5 s at a time (``benchmarks/video.py``),
   three times the longest gap the repair policy fills, so making it missing would refuse such videos. A
   video in which nobody is found, or with a landmark outside the picture in most frames (feet cut off,
   say), is an error.
3. Where the body is: world landmarks have their origin between the hips in every frame, so walking and
   sway would be lost. Per frame, a weak-perspective camera ``image = s * world_xy + c`` is fitted by least
   squares to the landmarks in the image (not missing); with a pinhole of :data:`FIELD_OF_VIEW_DEG`
   horizontal field of view (focal length ``f = width / 2 / tan(fov / 2)`` pixels) the hips are at depth
   ``z = f / s`` and at ``((c - centre) z / f, z)`` in the camera. The path along the image is as good as the
   landmarks; its depth scales with the assumed field of view (a wider lens puts the person nearer and
   shrinks depth motion); the up axis is the camera's, so a tilted camera tilts the body.
4. Axes: the camera's x right, y down, z forward become the library's +Y up by a 180° turn about x,
   ``(x, y, z) -> (x, -y, -z)`` (a proper rotation): the person faces +Z when facing the camera.
5. The ``mediapipe33`` layout's three midpoints (pelvis, neck, head: :data:`~eai_llm.layouts.MEDIAPIPE_MIDPOINTS`)
   are appended after the 33 landmarks.

:func:`low_pass` then filters the repaired clip (``read_video`` calls it): a 2nd-order Butterworth low-pass
at :data:`CUTOFF_HZ`, run forward and backward (``scipy.signal.sosfiltfilt``), so without lag or phase shift.
6 Hz is the usual cut-off for human movement kinematics (Winter, *Biomechanics and Motor Control of Human
Movement*): MediaPipe's frame-to-frame jitter lies above it, voluntary movement below; tremor above 6 Hz
cannot be read from video this way. MediaPipe's own smoothing (a causal filter, which lags) is off.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

from .layouts import MEDIAPIPE_LANDMARKS, MEDIAPIPE_MIDPOINTS
from .pose_worker import NO_POSE_PACKAGES, POSE_PACKAGES, TOO_MANY_FRAMES

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".webm")
MAX_VIDEO_FRAMES = 18_000  # 10 min at 30 fps: 10 min of pose work at the 30 frames/s measured on 2 idle cores
MIN_POSE_FPS = 2.0  # the slowest pose work allowed for: past max_frames / MIN_POSE_FPS + 60 s it is stopped
MIN_VISIBILITY = 0.5  # MediaPipe's own default threshold for drawing a landmark
FIELD_OF_VIEW_DEG = 60.0  # horizontal: a phone's or webcam's main camera is about 60-70 degrees
CUTOFF_HZ = 6.0
POSE_PYTHON_VARIABLE = "EAI_POSE_PYTHON"
WORKER = Path(__file__).with_name("pose_worker.py")  # imported above, so remote code carries it


class PoseError(ValueError):
    """A video the pose step cannot use: ``field``, what was ``found`` and what was ``expected`` (the
    readers' message parts, :func:`eai_llm.motion.read_video` adds the file)."""

    def __init__(self, field: str, found: str, expected: str):
        super().__init__(f"field '{field}' {found}, expected {expected}")
        self.field, self.found, self.expected = field, found, expected


def pose_python() -> str:
    """The Python that runs MediaPipe: the one named by the ``EAI_POSE_PYTHON`` environment variable, else
    this one if it can import ``mediapipe``; otherwise :class:`PoseError` says how to get one."""
    named = os.environ.get(POSE_PYTHON_VARIABLE)
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            raise PoseError("pose environment", f"{POSE_PYTHON_VARIABLE}={named} is not an executable file",
                            f"the python of an environment with {POSE_PACKAGES} (make pose-env)")
        return named
    if importlib.util.find_spec("mediapipe") is not None:
        return sys.executable
    raise PoseError("pose environment", f"is missing (mediapipe cannot be imported and {POSE_PYTHON_VARIABLE} is "
                    f"not set)", f"`make pose-env` and {POSE_PYTHON_VARIABLE}=.venv-pose/bin/python, or {POSE_PACKAGES} "
                    "installed in this Python")


def run_pose(path, max_frames: int = MAX_VIDEO_FRAMES) -> dict[str, np.ndarray]:
    """Run ``pose_worker.py`` on the video ``path``: its arrays (``world``, ``visibility``, ``image``, ``fps``,
    ``width``, ``height``, ``stated_frames``). A progress bar over frames goes to stderr."""
    python, limit = pose_python(), 60 + max_frames / MIN_POSE_FPS
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "pose.npz"
        try:
            done = subprocess.run([python, str(WORKER), str(path), str(output), str(max_frames)],
                                  stdout=subprocess.PIPE, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise PoseError("video", f"took over {limit:.0f} s of pose work", f"at most {max_frames} frames at "
                            f"{MIN_POSE_FPS:g} frames/s or faster") from None
        except OSError as error:
            raise PoseError("pose environment", f"{python} could not be started ({error.strerror or error})",
                            f"a Python with {POSE_PACKAGES}") from None
        reason = (done.stdout.strip().splitlines() or [f"the pose step failed (exit status {done.returncode})"])[-1]
        if done.returncode == TOO_MANY_FRAMES:
            raise PoseError("frames", reason, f"at most {max_frames} frames (MAX_VIDEO_FRAMES)")
        if done.returncode == NO_POSE_PACKAGES:
            raise PoseError("pose environment", reason, f"a Python with {POSE_PACKAGES} (make pose-env)")
        if done.returncode != 0 or not output.is_file():
            raise PoseError("video", reason, "a video file OpenCV can decode (H.264, VP8/VP9, MJPEG...)")
        with np.load(output) as arrays:
            return dict(arrays)


def estimate_pose(path, max_gap_seconds: float, max_frames: int = MAX_VIDEO_FRAMES) -> tuple[np.ndarray, float]:
    """The video ``path`` → ``(positions (T, 36, 3) float64, fps)``: the ``mediapipe33`` layout's joints in
    metres, +Y up, NaN where missing (module docstring, steps 1-5); ``max_gap_seconds`` without anyone in view
    breaks a track (the readers' longest repaired gap)."""
    pose = run_pose(path, max_frames)
    world, image, fps = pose["world"].astype(np.float64), pose["image"].astype(np.float64), float(pose["fps"])
    decoded, stated = len(world), int(pose["stated_frames"])
    if stated and decoded < stated - max(2, stated // 100):  # a container's count may be off by a frame or 1 %
        raise PoseError("frames", f"decode to {decoded} of the {stated} its container states", "a complete video "
                        "(the file looks truncated)")
    visible = pose["visibility"] >= MIN_VISIBILITY
    person = visible.mean(axis=1) >= 0.5  # a frame with the person in it: at least half of the landmarks seen
    if not person.any():
        raise PoseError("person", f"is not found in any of its {decoded} frames", "a video in which MediaPipe "
                        "finds a person")
    tracks = _tracks(pose["image"], person, math.floor(max_gap_seconds * fps))  # frames, as repair_missing counts
    first, last = max(tracks, key=lambda track: track[1] - track[0])
    world, image, person = (a[first:last + 1] for a in (world, image, person))
    width, height = float(pose["width"]), float(pose["height"])
    with np.errstate(invalid="ignore"):
        inside = ((image >= 0) & (image <= (width, height))).all(axis=2)
    outside = np.flatnonzero((~inside[person]).mean(axis=0) > 0.5)
    if len(outside):
        raise PoseError("body", f"has landmarks outside the picture in most of the person's frames: "
                        f"{[MEDIAPIPE_LANDMARKS[j] for j in outside]}", "the whole body in view")
    seen = inside & person[:, None]
    world[~seen], image[~seen] = np.nan, np.nan
    camera = world + _hip_position(world, image, width, height)[:, None]
    camera = camera * np.array([1.0, -1.0, -1.0])
    names = list(MEDIAPIPE_LANDMARKS)
    midpoints = [camera[:, [names.index(a), names.index(b)]].mean(axis=1) for a, b in MEDIAPIPE_MIDPOINTS.values()]
    return np.concatenate([camera, np.stack(midpoints, axis=1)], axis=1), fps


def _tracks(image: np.ndarray, person: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """``(first, last)`` frame of each unbroken track of one person, from ``image (T, 33, 2)`` pixels and
    ``person (T,)`` (frames with someone in them). A track breaks where, from one person frame to the next, the
    point between the hips moves more than one torso length (shoulders' midpoint to hips' midpoint) or the
    torso's length in the image changes by more than a quarter (the tracker jumped to someone else, or its
    first, coarse detection of a person is being refined), or after more than ``max_gap`` frames without
    anyone."""
    names = list(MEDIAPIPE_LANDMARKS)
    hips = image[:, [names.index("left_hip"), names.index("right_hip")]].mean(axis=1)
    torso = np.linalg.norm(image[:, [names.index("left_shoulder"), names.index("right_shoulder")]].mean(axis=1) - hips,
                           axis=-1)
    frames = np.flatnonzero(person)
    breaks = [k for k in range(1, len(frames))
              if frames[k] - frames[k - 1] - 1 > max_gap
              or not np.linalg.norm(hips[frames[k]] - hips[frames[k - 1]]) <= torso[frames[k - 1]]
              or not 0.8 <= torso[frames[k]] / torso[frames[k - 1]] <= 1.25]
    starts, ends = [0, *breaks], [*breaks, len(frames)]
    return [(int(frames[a]), int(frames[b - 1])) for a, b in zip(starts, ends)]


def _hip_position(world: np.ndarray, image: np.ndarray, width: float, height: float) -> np.ndarray:
    """``(T, 3)`` the point between the hips in camera coordinates (x right, y down, z forward, metres) from the
    weak-perspective fit of module docstring step 3; NaN in frames with fewer than 3 landmarks in the image."""
    focal = width / 2 / np.tan(np.radians(FIELD_OF_VIEW_DEG) / 2)
    seen = np.isfinite(world).all(axis=2) & np.isfinite(image).all(axis=2)  # (T, 33)
    xy, uv = np.where(seen[..., None], world[..., :2], np.nan), np.where(seen[..., None], image, np.nan)
    enough = seen.sum(axis=1) >= 3
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the nanmeans of frames with nothing seen: NaN, as wanted
        xy_mean, uv_mean = np.nanmean(xy, axis=1, keepdims=True), np.nanmean(uv, axis=1, keepdims=True)
        # least squares of u = s x + cx, v = s y + cy, one s for both axes: the covariance over the variance
        scale = (np.nansum((xy - xy_mean) * (uv - uv_mean), axis=(1, 2))
                 / np.nansum((xy - xy_mean) ** 2, axis=(1, 2)))
    centre = uv_mean[:, 0] - scale[:, None] * xy_mean[:, 0]  # (T, 2): where the world origin (the hips) is imaged
    depth = np.where(enough & (scale > 0), focal / scale, np.nan)
    return np.column_stack([(centre - (width / 2, height / 2)) * (depth / focal)[:, None], depth])


def low_pass(positions: np.ndarray, fps: float) -> np.ndarray:
    """``(T, J, 3)`` filtered along time at :data:`CUTOFF_HZ` without lag (module docstring); unchanged when
    the frame rate cannot carry the cut-off (``fps <= 2 * CUTOFF_HZ``) or the clip is too short to filter."""
    if fps <= 2 * CUTOFF_HZ or len(positions) < 4:
        return positions
    sos = butter(2, CUTOFF_HZ, fs=fps, output="sos")
    return sosfiltfilt(sos, positions, axis=0, padlen=min(len(positions) - 1, 3 * (2 * len(sos) + 1))).astype(
        positions.dtype)
