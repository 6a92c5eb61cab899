"""Interpretable movement descriptors: per-clip quantities from Laban Movement Analysis and the
body-emotion literature (speed, Effort, Shape, posture, tremor, pauses, symmetry, periodicity).

Each descriptor reads positions ``(T, J, 3)`` (metres, +Y up, as every reader of
:mod:`eai_llm.motion` returns them) through the layout's *canonical* joint names, so it works for
any layout that has the joints it needs (:attr:`Descriptor.needs`). :func:`describe_motion` gives
the computable ones, :func:`descriptor_matrix` a clips-by-descriptors table for classifiers.

Conventions shared by the formulas (the one-line formula of each descriptor is its
:attr:`Descriptor.description`, listed in :data:`DESCRIPTORS`):

- **Body height H** (:data:`SIZE_JOINTS`): the medians over frames of the bone lengths
  ankle-knee, knee-hip (mean of both legs), pelvis-neck and neck-head, summed and divided by
  0.815, their share of stature in Winter's anthropometric proportions. It does not depend on
  posture (sitting, bowing), so heights and speeds "in body heights" compare bodies of any size.
- **Facing direction f** (:data:`FACING_JOINTS`): per frame, the horizontal unit vector
  ``up x (r_hip - l_hip)``; forward/back quantities are measured along it.
- **Derivatives** (velocity v, acceleration a, jerk j): a weighted local cubic fit over +-0.2 s
  (Gaussian weights, sd 0.1 s) around each frame, evaluated at its centre, for the frames where the
  window fits. The window is in seconds, so values agree across frame rates, and the fit is exact
  for cubic motion, so a constant offset or velocity never leaks into a higher derivative.
- **Extremities**: wrists, ankles and head; **limb ends**: wrists and ankles.
- **Angles** are signed in the sagittal plane: ``atan2(d . f, d_y)`` of a segment ``d``, degrees,
  positive when the segment's top is forward of its bottom.

Short clips: a descriptor has a minimum clip length (:attr:`Descriptor.min_seconds`: 0.5 s for the
derivative ones, 1 s for variations and the tremor spectrum, 2 s for periodicity); shorter clips do
not get it. A clip below :data:`MIN_FPS` gets no descriptor at all (the tremor band reaches 12 Hz):
:func:`describe_motion` is the one place that rule is applied. Positions with NaN or infinite values are
refused (the readers repair gaps before this step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import NamedTuple

import numpy as np

from .joint_layout import JointLayout

MIN_FPS = 24.0
SIZE_JOINTS = ("l_ankle", "l_knee", "l_hip", "r_ankle", "r_knee", "r_hip", "pelvis", "neck", "head")
FACING_JOINTS = ("l_hip", "r_hip")
EXTREMITIES = ("l_wrist", "r_wrist", "l_ankle", "r_ankle", "head")
LIMB_ENDS = ("l_wrist", "r_wrist", "l_ankle", "r_ankle")
WRISTS = ("l_wrist", "r_wrist")
STATURE_SHARE = 0.815  # (ankle-knee + knee-hip + pelvis-neck + neck-head) / stature, Winter's proportions
HALF_WINDOW_S = 0.2  # derivative fit: +- this many seconds
STILL_SPEED = 0.1  # body heights/s: below this at every joint, the body is still
TREMOR_BAND_HZ = (4.0, 12.0)
REPETITION_LAGS_S = (0.2, 1.0)  # periods searched for periodicity: 1 to 5 Hz
DERIVATIVE_S, CYCLE_S, REPETITION_S = 0.5, 1.0, 2.0  # minimum clip lengths


def facing(positions: np.ndarray, layout: JointLayout) -> np.ndarray:
    """``(T, 3)`` the body's horizontal unit facing direction ``f = up x (r_hip - l_hip)`` in each frame of
    ``positions`` ``(T, J, 3)`` (NaN where the hips coincide); ``layout`` must have both hips
    (:data:`FACING_JOINTS`)."""
    index = layout.canonical_index
    right = positions[:, index["r_hip"]] - positions[:, index["l_hip"]]
    f = np.stack([right[:, 2], np.zeros(len(right)), -right[:, 0]], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return f / np.linalg.norm(f, axis=-1, keepdims=True)


class Descriptor(NamedTuple):
    """One descriptor: ``name``, ``unit``, ``description`` (its formula), ``needs`` (canonical
    joints) and ``min_seconds`` (the shortest clip that gets it)."""

    name: str
    unit: str
    description: str
    needs: tuple[str, ...]
    min_seconds: float


#: The descriptors by name, in a fixed order (the columns of :func:`descriptor_matrix`).
DESCRIPTORS: dict[str, Descriptor] = {}
_FUNCTIONS: dict[str, Callable[[_Clip], float]] = {}


def _derivative_kernels(fps: float) -> np.ndarray:
    """``(3, L)`` kernels, ``L = 2 round(0.2 fps) + 1``: the velocity, acceleration and jerk at the
    centre of a Gaussian-weighted least-squares cubic through ``L`` consecutive samples."""
    r = round(HALF_WINDOW_S * fps)
    u = np.arange(-r, r + 1) / fps
    w = np.exp(-0.5 * (u / (HALF_WINDOW_S / 2)) ** 2)
    a = np.vander(u, 4, increasing=True)
    coefficients = np.linalg.solve(a.T @ (w[:, None] * a), a.T * w)
    return coefficients[1:] * np.array([1.0, 2.0, 6.0])[:, None]


def _sagittal_angle(d: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Degrees ``(T,)`` of segments ``d`` ``(T, 3)`` from the vertical, + = top forward along
    ``forward`` ``(T, 3)``."""
    return np.degrees(np.arctan2(np.sum(d * forward, axis=-1), d[:, 1]))


class _Clip:
    """A validated clip with the quantities the descriptors share, computed on first use."""

    def __init__(self, positions: np.ndarray, fps: float, layout: JointLayout):
        self.layout = layout
        positions = np.asarray(positions)
        if positions.ndim != 3 or positions.shape[1:] != (self.layout.num_joints, 3) or len(positions) == 0:
            raise ValueError(f"positions have shape {positions.shape}, expected (T >= 1, "
                             f"{self.layout.num_joints}, 3) for layout {self.layout.name!r}")
        bad = int(np.size(positions) - np.isfinite(positions).sum())
        if bad:
            raise ValueError(f"positions hold {bad} NaN or infinite values; repair them first "
                             "(eai_llm.motion.repair_missing)")
        if not math.isfinite(fps) or fps <= 0:
            raise ValueError(f"fps is {fps}, expected a positive number of frames per second")
        self.x = positions.astype(np.float64)
        self.fps = float(fps)
        self.seconds = len(positions) / self.fps
        self.index = self.layout.canonical_index

    def at(self, names: Sequence[str], array: np.ndarray | None = None) -> np.ndarray:
        """``(T, len(names), 3)``: the joints ``names`` of ``array`` (default: the positions)."""
        return (self.x if array is None else array)[:, [self.index[n] for n in names]]

    def length(self, a: str, b: str) -> float:
        """Median over frames of the distance between joints ``a`` and ``b``."""
        return float(np.median(np.linalg.norm(self.at([a]) - self.at([b]), axis=-1)))

    @cached_property
    def height(self) -> float:
        """Body height H in metres (the module docstring)."""
        legs = sum(self.length(f"{s}_ankle", f"{s}_knee") + self.length(f"{s}_knee", f"{s}_hip") for s in "lr")
        h = (legs / 2 + self.length("pelvis", "neck") + self.length("neck", "head")) / STATURE_SHARE
        if h < 1e-3:
            raise ValueError(f"the skeleton has no size (body height {h:.2g} m)")
        return h

    @cached_property
    def forward(self) -> np.ndarray:
        """``(T, 3)`` horizontal unit facing direction (:func:`facing`)."""
        return facing(self.x, self.layout)

    @cached_property
    def derivatives(self) -> np.ndarray:
        """``(3, T', J, 3)``: velocity, acceleration and jerk of every joint, for the ``T' = T - L + 1``
        frames where the fit window fits."""
        kernels = _derivative_kernels(self.fps)
        flat = self.x.reshape(len(self.x), -1)
        windows = np.lib.stride_tricks.sliding_window_view(flat, kernels.shape[1], axis=0)
        return np.einsum("tcl,kl->ktc", windows, kernels).reshape(3, -1, *self.x.shape[1:])

    def speed(self, names: Sequence[str], order: int = 1, relative_to: str | None = None) -> np.ndarray:
        """``(T', len(names))`` magnitudes of the ``order``-th derivative of joints ``names``, in body
        heights per second**order, optionally of their position relative to joint ``relative_to``."""
        d = self.at(names, self.derivatives[order - 1])
        if relative_to is not None:
            d = d - self.at([relative_to], self.derivatives[order - 1])
        return np.linalg.norm(d, axis=-1) / self.height

    @cached_property
    def spread(self) -> np.ndarray:
        """``(T,)`` mean horizontal distance of the limb ends from the pelvis's vertical axis, in H."""
        d = self.at(LIMB_ENDS) - self.at(["pelvis"])
        return np.linalg.norm(d[..., [0, 2]], axis=-1).mean(axis=1) / self.height


def _descriptor(unit: str, needs: tuple[str, ...], min_seconds: float = 0.0):
    """Register the decorated ``function(clip) -> float`` as a descriptor; its docstring, on one line,
    is the formula."""
    def register(function: Callable[[_Clip], float]) -> Callable[[_Clip], float]:
        name = function.__name__
        formula = " ".join(function.__doc__.split())
        DESCRIPTORS[name] = Descriptor(name, unit, formula, tuple(dict.fromkeys(needs)), min_seconds)
        _FUNCTIONS[name] = function
        return function
    return register


@_descriptor("body heights/s", ("pelvis",) + SIZE_JOINTS, DERIVATIVE_S)
def root_speed(c: _Clip) -> float:
    """Mean over frames of the pelvis's horizontal speed |(v_x, v_z)| / H: how fast the body travels."""
    v = c.at(["pelvis"], c.derivatives[0])[:, 0]
    return np.linalg.norm(v[:, [0, 2]], axis=-1).mean() / c.height


@_descriptor("body heights/s", EXTREMITIES + SIZE_JOINTS, DERIVATIVE_S)
def extremity_speed(c: _Clip) -> float:
    """Mean over frames and extremities of |v| / H (Effort: time, sudden vs sustained)."""
    return c.speed(EXTREMITIES).mean()


@_descriptor("body heights/s^2", EXTREMITIES + SIZE_JOINTS, DERIVATIVE_S)
def extremity_acceleration(c: _Clip) -> float:
    """Mean over frames and extremities of |a| / H (Effort: weight, strong vs light)."""
    return c.speed(EXTREMITIES, order=2).mean()


@_descriptor("body heights/s^3", EXTREMITIES + SIZE_JOINTS, DERIVATIVE_S)
def extremity_jerk(c: _Clip) -> float:
    """Mean over frames and extremities of |j| / H (Effort: flow, bound/jerky vs free/smooth)."""
    return c.speed(EXTREMITIES, order=3).mean()


@_descriptor("body heights", LIMB_ENDS + SIZE_JOINTS)
def expansiveness(c: _Clip) -> float:
    """Mean over frames and limb ends of the horizontal distance from the pelvis's vertical axis / H
    (Shape)."""
    return c.spread.mean()


@_descriptor("body heights", LIMB_ENDS + SIZE_JOINTS, CYCLE_S)
def expansiveness_change(c: _Clip) -> float:
    """Standard deviation over frames of the per-frame expansiveness: how much the body opens and
    closes (Shape flow)."""
    return c.spread.std()


@_descriptor("body heights", ("head",) + SIZE_JOINTS)
def head_height(c: _Clip) -> float:
    """Mean over frames of the head's height above the frame's lowest joint / H (about 0.9 standing
    upright)."""
    return ((c.at(["head"])[:, 0, 1] - c.x[:, :, 1].min(axis=1)) / c.height).mean()


@_descriptor("deg", ("neck", "head") + FACING_JOINTS)
def head_pitch(c: _Clip) -> float:
    """Mean over frames of the sagittal angle of neck->head from the vertical, + = head lowered forward."""
    return _sagittal_angle(c.at(["head"])[:, 0] - c.at(["neck"])[:, 0], c.forward).mean()


@_descriptor("deg", ("pelvis", "spine_upper") + FACING_JOINTS)
def trunk_lean(c: _Clip) -> float:
    """Mean over frames of the sagittal angle of pelvis->spine_upper from the vertical, + = leaning forward."""
    return _sagittal_angle(c.at(["spine_upper"])[:, 0] - c.at(["pelvis"])[:, 0], c.forward).mean()


@_descriptor("deg", ("pelvis", "spine_upper", "neck") + FACING_JOINTS)
def slump(c: _Clip) -> float:
    """Mean over frames of the sagittal angle of spine_upper->neck minus that of pelvis->spine_upper:
    rounding of the upper back, + = hunched."""
    lower = c.at(["spine_upper"])[:, 0] - c.at(["pelvis"])[:, 0]
    upper = c.at(["neck"])[:, 0] - c.at(["spine_upper"])[:, 0]
    return (_sagittal_angle(upper, c.forward) - _sagittal_angle(lower, c.forward)).mean()


@_descriptor("body heights", WRISTS + ("pelvis",) + FACING_JOINTS + SIZE_JOINTS, CYCLE_S)
def arm_swing(c: _Clip) -> float:
    """Mean over the wrists of the standard deviation over frames of (wrist - pelvis) . f / H:
    forward-back arm excursion."""
    d = c.at(WRISTS) - c.at(["pelvis"])
    return (np.sum(d * c.forward[:, None], axis=-1).std(axis=0) / c.height).mean()


@_descriptor("body heights/s", WRISTS + ("pelvis",) + SIZE_JOINTS, CYCLE_S)
def tremor(c: _Clip) -> float:
    """Mean over the wrists of the median over frames of the speed of wrist - pelvis band-passed to
    4-12 Hz (spectrum of the linearly detrended clip) / H: sustained trembling, not single twitches."""
    d = c.at(WRISTS) - c.at(["pelvis"])
    t = np.arange(len(d)) - (len(d) - 1) / 2
    d = d - d.mean(axis=0) - t[:, None, None] * (np.tensordot(t, d, axes=1) / np.dot(t, t))
    f = np.fft.rfftfreq(len(d), 1.0 / c.fps)
    band = (f >= TREMOR_BAND_HZ[0]) & (f <= TREMOR_BAND_HZ[1])
    spectrum = np.fft.rfft(d, axis=0) * (2j * np.pi * f * band)[:, None, None]
    v = np.fft.irfft(spectrum, n=len(d), axis=0)
    return (np.median(np.linalg.norm(v, axis=-1), axis=0) / c.height).mean()


@_descriptor("ratio", SIZE_JOINTS, DERIVATIVE_S)
def pauses(c: _Clip) -> float:
    """Share of frames in which every joint (all of the layout's) moves slower than 0.1 H/s:
    stillness, hesitation."""
    speed = np.linalg.norm(c.derivatives[0], axis=-1) / c.height
    return (speed.max(axis=1) < STILL_SPEED).mean()


@_descriptor("ratio", WRISTS + ("pelvis",) + SIZE_JOINTS, DERIVATIVE_S)
def arm_symmetry(c: _Clip) -> float:
    """min / max of the two wrists' mean speed relative to the pelvis: 1 = both arms move as much,
    0 = one arm only."""
    s = c.speed(WRISTS, relative_to="pelvis").mean(axis=0)
    return s.min() / max(s.max(), 1e-12)


@_descriptor("ratio", EXTREMITIES + SIZE_JOINTS, REPETITION_S)
def periodicity(c: _Clip) -> float:
    """Highest local peak over lags 0.2-1 s of the correlation of the mean extremity speed (mean
    removed) with itself shifted by the lag: 1 = a steady rhythm (gait), 0 = none; a pause breaks it."""
    s = c.speed(EXTREMITIES).mean(axis=1)
    s = s - s.mean()
    low, high = (round(seconds * c.fps) for seconds in REPETITION_LAGS_S)
    r = np.array([np.dot(s[:-k], s[k:]) / (np.linalg.norm(s[:-k]) * np.linalg.norm(s[k:]) + 1e-12)
                  for k in range(low - 1, high + 2)])
    peaks = (r[1:-1] > r[:-2]) & (r[1:-1] >= r[2:])
    return float(np.max(r[1:-1], initial=0.0, where=peaks))


def missing_joints(layout: JointLayout, names: Sequence[str] | None = None) -> dict[str, tuple[str, ...]]:
    """For each descriptor of ``names`` (default: all) that ``layout`` cannot have, the canonical
    joints it lacks; descriptors it can have are left out. ``ValueError`` for unknown names."""
    have = set(layout.canonical)
    lacking = {n: tuple(j for j in DESCRIPTORS[n].needs if j not in have) for n in _known(names)}
    return {n: joints for n, joints in lacking.items() if joints}


def _known(names: Sequence[str] | None) -> list[str]:
    """``names`` (default: all descriptors) as a list; ``ValueError`` naming any unknown one."""
    names = list(DESCRIPTORS) if names is None else list(names)
    unknown = [n for n in names if n not in DESCRIPTORS]
    if unknown:
        raise ValueError(f"unknown descriptors {unknown}; expected some of {list(DESCRIPTORS)}")
    return names


def describe_motion(positions: np.ndarray, fps: float, layout: JointLayout,
                    names: Sequence[str] | None = None) -> dict[str, float]:
    """Descriptor values of one clip, ``{name: value}`` in the units of :data:`DESCRIPTORS`.

    Args:
        positions: ``(T, J, 3)`` joint positions, metres, +Y up, no NaN (else ``ValueError``).
        fps: frame rate, positive; below :data:`MIN_FPS` no descriptor can be computed.
        layout: the clip's :class:`~eai_llm.joint_layout.JointLayout`.
        names: the descriptors wanted. ``None``: every descriptor the layout's joints, the clip's
            length and its frame rate allow (the others are absent from the result). Given: all of them,
            or a ``ValueError`` listing, per descriptor, the canonical joints missing from the layout or
            the clip length it needs, or naming the frame rate.
    """
    clip = _Clip(positions, fps, layout)
    wanted = _known(names)
    if clip.fps < MIN_FPS:
        if names is not None:
            raise ValueError(f"cannot compute descriptors: fps is {clip.fps:g}, expected at least {MIN_FPS:g}")
        return {}
    lacking = missing_joints(clip.layout, wanted)
    short = [n for n in wanted if n not in lacking and clip.seconds < DESCRIPTORS[n].min_seconds]
    if names is not None and (lacking or short):
        problems = [f"{n!r} needs canonical joints {list(j)} missing from layout {clip.layout.name!r}"
                    for n, j in lacking.items()]
        problems += [f"{n!r} needs a clip of at least {DESCRIPTORS[n].min_seconds} s, got {clip.seconds:.3g} s"
                     for n in short]
        raise ValueError("cannot compute descriptors: " + "; ".join(problems))
    return {n: float(_FUNCTIONS[n](clip)) for n in wanted if n not in lacking and n not in short}


def descriptor_matrix(positions: Sequence[np.ndarray], fps: Sequence[float], layouts: Sequence[JointLayout],
                      names: Sequence[str] | None = None) -> np.ndarray:
    """Descriptors of ``N`` clips as a ``(N, K)`` float64 matrix, columns ``names`` (default: all of
    :data:`DESCRIPTORS`, in its order); NaN where a clip cannot have a descriptor (its layout lacks
    the joints, the clip is too short or below :data:`MIN_FPS`), for a model to impute. ``positions``, ``fps`` and
    ``layouts`` hold one entry per clip; a clip with NaN positions raises ``ValueError``."""
    names = _known(names)
    if not len(positions) == len(fps) == len(layouts):
        raise ValueError(f"got {len(positions)} clips, {len(fps)} frame rates and {len(layouts)} layouts, "
                         "expected one of each per clip")
    rows = [describe_motion(p, r, layout) for p, r, layout in zip(positions, fps, layouts)]
    matrix = np.array([[row.get(n, np.nan) for n in names] for row in rows], dtype=np.float64)
    return matrix.reshape(len(rows), len(names))
