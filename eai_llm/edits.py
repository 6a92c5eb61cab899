"""Counterfactual edits of a clip: each changes one movement quality, so a benchmark can check that a
model's explanation follows the motion (slower motion should be explained as slower, a lowered head
as a lowered head...).

Every edit is a function ``edit(positions, fps, layout, amount, ...) -> (positions, fps)``:
``positions`` ``(T, J, 3)`` metres, +Y up (as the readers of :mod:`eai_llm.motion` return them),
``layout`` the clip's :class:`~eai_llm.joint_layout.JointLayout` (joints are found through its
canonical names), ``amount`` the size of the change. It returns new float64 positions ``(T', J, 3)``
(``T' = T`` except for the edits that change the length) and the frame rate, which no edit changes
but which is returned so that any edit's result can be passed on as a clip. The input is never
modified. :data:`EDITS` lists, per edit, the descriptor of :mod:`eai_llm.descriptors` it moves and
in which direction.

Bad input raises ``ValueError`` naming the argument: positions of the wrong shape or with NaN or
infinite values, a non-finite or non-positive frame rate, an amount out of its range, a clip too
short for the edit, or a layout without the canonical joints the edit needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from .descriptors import FACING_JOINTS, TREMOR_BAND_HZ, WRISTS, facing
from .joint_layout import JointLayout
from .kinematics import topological_order
from .motion import MAX_FRAMES

LIMB_PARTS = ("left_arm", "right_arm", "left_leg", "right_leg")
ARM_PARTS = ("left_arm", "right_arm")
MAX_HEAD_PITCH_DEG = 90.0  # a larger turn of the head about the neck is no posture a body can take


def _checked(positions, fps: float, layout: JointLayout, edit: str, needs: Sequence[str] = ()) -> np.ndarray:
    """A float64 copy ``(T, J, 3)`` of ``positions`` after checking them, ``fps`` and that ``layout``
    has the canonical joints ``needs`` that ``edit`` uses."""
    x = np.array(positions, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (layout.num_joints, 3) or len(x) == 0:
        raise ValueError(f"positions have shape {x.shape}, expected (T >= 1, {layout.num_joints}, 3) "
                         f"for layout {layout.name!r}")
    bad = int(x.size - np.isfinite(x).sum())
    if bad:
        raise ValueError(f"positions hold {bad} NaN or infinite values, expected finite metres")
    _positive("fps", fps)
    missing = [name for name in needs if name not in layout.canonical_index]
    if missing:
        raise ValueError(f"layout {layout.name!r} lacks the canonical joints {missing} that {edit} needs")
    return x


def _positive(name: str, value: float) -> float:
    """``value`` as a float; ``ValueError`` naming argument ``name`` unless it is finite and > 0."""
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} is {value}, expected a finite number > 0")
    return value


def _check_length(frames: int, name: str, value: float):
    """``ValueError`` naming argument ``name`` (of value ``value``) if the result would have more than
    :data:`~eai_llm.motion.MAX_FRAMES` frames."""
    if frames > MAX_FRAMES:
        raise ValueError(f"{name} is {value}, which makes {frames} frames, expected at most {MAX_FRAMES}")


def _subtree(layout: JointLayout, joint: int) -> np.ndarray:
    """``(J,)`` bool: ``joint`` and every joint below it in ``layout``'s tree."""
    inside = np.zeros(layout.num_joints, dtype=bool)
    inside[joint] = True
    for j in topological_order(layout.parents):  # parents before children
        parent = layout.parents[j]
        if parent >= 0 and inside[parent]:
            inside[j] = True
    return inside


def time_stretch(positions, fps: float, layout: JointLayout, factor: float) -> tuple[np.ndarray, float]:
    """Play the clip ``factor`` times slower (``factor < 1``: faster), at the same frame rate.

    The ``T' = round(T factor)`` output frames sample the input at the evenly spaced times
    ``s_i = i (T - 1) / (T' - 1)`` (in input frames, so the first and last poses are kept), by linear
    interpolation: ``x'_i = (1 - w_i) x_k + w_i x_{k+1}``, ``k = floor(s_i)``, ``w_i = s_i - k``.
    Velocities scale by about ``1 / factor``, accelerations by ``1 / factor**2``; the poses, and so
    the postural descriptors, stay.

    Args:
        positions: ``(T, J, 3)`` metres, ``T >= 2``.
        fps: frame rate (unchanged).
        layout: the clip's layout (any).
        factor: > 0, with ``round(T factor) >= 2``.

    Returns:
        positions ``(T', J, 3)`` float64 and ``fps``.
    """
    x = _checked(positions, fps, layout, "time_stretch")
    factor = _positive("factor", factor)
    frames = round(len(x) * factor)
    if len(x) < 2 or frames < 2:
        raise ValueError(f"positions have {len(x)} frames and factor is {factor}, giving {frames}; "
                         "expected at least 2 frames before and after the stretch")
    _check_length(frames, "factor", factor)
    s = np.linspace(0.0, len(x) - 1, frames)
    k = np.minimum(s.astype(np.int64), len(x) - 2)
    w = (s - k)[:, None, None]
    return (1.0 - w) * x[k] + w * x[k + 1], fps


def scale_amplitude(positions, fps: float, layout: JointLayout, factor: float) -> tuple[np.ndarray, float]:
    """Make the limbs' movements ``factor`` times wider and higher (``factor > 1``: more expansive).

    With ``c_t`` the body centre (the pelvis, else the layout's root) and ``d_tj = x_tj - c_t``, for
    every joint ``j`` of the arms and legs (by the layout's body parts):

    - horizontally, ``d'_tj = factor d_tj`` (x and z): limb ends reach ``factor`` times farther
      from the body's vertical axis;
    - vertically, arm joints only: ``y'_tj = y_tj + (factor - 1) (d_tj,y - min_t d_tj,y)``: the arms
      are raised ``factor`` times as far above their lowest height relative to the centre. The legs'
      heights are kept, so the feet stay on the floor as they were;
    - no joint ends lower than the lowest joint of its frame was (an arm reaching down cannot go
      through the floor).

    The torso and head are untouched, so the root trajectory, the facing direction and the trunk and
    head angles stay; bone lengths of the limbs change with ``factor`` (the edit changes a quality,
    not the skeleton's motion model).

    Args:
        positions: ``(T, J, 3)`` metres.
        fps: frame rate (unchanged).
        layout: the clip's layout (any; joints with no arm or leg body part stay).
        factor: > 0.

    Returns:
        positions ``(T, J, 3)`` float64 and ``fps``.
    """
    x = _checked(positions, fps, layout, "scale_amplitude")
    factor = _positive("factor", factor)
    parts = np.array(layout.body_parts)
    limbs, arms = np.isin(parts, LIMB_PARTS), np.isin(parts, ARM_PARTS)
    limbs[layout.root_index] = arms[layout.root_index] = False
    centre = x[:, [layout.canonical_index.get("pelvis", layout.root_index)]]  # (T, 1, 3)
    offset = x - centre  # (T, J, 3)
    floor = x[:, :, 1].min(axis=1, keepdims=True)  # (T, 1)
    x[:, limbs, ::2] = centre[:, :, ::2] + factor * offset[:, limbs, ::2]
    raised = offset[:, arms, 1] - offset[:, arms, 1].min(axis=0)  # (T, arm joints)
    x[:, arms, 1] += (factor - 1.0) * raised
    x[:, :, 1] = np.maximum(x[:, :, 1], floor)
    return x, fps


def pitch_head(positions, fps: float, layout: JointLayout, degrees: float) -> tuple[np.ndarray, float]:
    """Turn the head ``degrees`` forward-down about the neck (negative: backward-up).

    In each frame ``t``, the head joint and every joint below it in the layout's tree are rotated
    about the neck ``n_t`` by ``theta = radians(degrees)`` about the horizontal axis
    ``a_t = up x f_t`` (the body's left; ``f_t`` the facing direction of
    :func:`eai_llm.descriptors.facing`), Rodrigues' formula on ``d = x_tj - n_t``:
    ``d' = d cos(theta) + (a_t x d) sin(theta) + a_t (a_t . d)(1 - cos(theta))``. This turns ``up``
    towards ``f_t``, so the sagittal angle of neck->head, the ``head_pitch`` descriptor, grows by
    exactly ``degrees`` in every frame (while it stays within +-180); the neck-head distance,
    and every other joint, stay.

    Args:
        positions: ``(T, J, 3)`` metres; the hips must not coincide in any frame.
        fps: frame rate (unchanged).
        layout: needs the canonical joints ``neck``, ``head``, ``l_hip`` and ``r_hip``.
        degrees: nonzero, at most :data:`MAX_HEAD_PITCH_DEG` in magnitude.

    Returns:
        positions ``(T, J, 3)`` float64 and ``fps``.
    """
    x = _checked(positions, fps, layout, "pitch_head", ("neck", "head") + FACING_JOINTS)
    degrees = float(degrees)
    if not math.isfinite(degrees) or degrees == 0 or abs(degrees) > MAX_HEAD_PITCH_DEG:
        raise ValueError(f"degrees is {degrees}, expected a nonzero number from {-MAX_HEAD_PITCH_DEG} "
                         f"to {MAX_HEAD_PITCH_DEG}")
    forward = facing(x, layout)  # (T, 3)
    if not np.isfinite(forward).all():
        raise ValueError("positions have frames where l_hip and r_hip coincide, expected distinct hips "
                         "(they give the facing direction the head is pitched along)")
    index = layout.canonical_index
    axis = np.cross([0.0, 1.0, 0.0], forward)[:, None]  # (T, 1, 3)
    neck = x[:, [index["neck"]]]  # (T, 1, 3)
    head = _subtree(layout, index["head"])
    d = x[:, head] - neck  # (T, K, 3)
    theta = math.radians(degrees)
    along = np.sum(axis * d, axis=-1, keepdims=True)
    cos, sin = math.cos(theta), math.sin(theta)
    x[:, head] = neck + d * cos + np.cross(axis, d) * sin + axis * along * (1.0 - cos)
    return x, fps


def add_tremor(positions, fps: float, layout: JointLayout, amplitude_m: float,
               hz: float = 8.0) -> tuple[np.ndarray, float]:
    """Make the hands tremble: a vertical sinusoid at ``hz`` on the wrists and every joint below them.

    ``y'_tj = y_tj + amplitude_m sin(2 pi hz t / fps)`` for ``j`` in the wrists' subtrees, frame
    ``t = 0 .. T-1``. The motion is vertical, so the horizontal descriptors (expansiveness, arm swing)
    and the posture angles stay; the ``tremor`` descriptor (wrist speed band-passed to
    :data:`~eai_llm.descriptors.TREMOR_BAND_HZ`) grows by about
    ``sqrt(2)/2 * 2 pi hz amplitude_m / H`` for a clip without tremor (``H`` the body height).

    Args:
        positions: ``(T, J, 3)`` metres, at least one tremor period long (``T >= fps / hz``).
        fps: frame rate (unchanged), above ``2 hz`` (the Nyquist rate of the tremor).
        layout: needs the canonical joints ``l_wrist`` and ``r_wrist``.
        amplitude_m: peak displacement in metres, > 0.
        hz: frequency within :data:`~eai_llm.descriptors.TREMOR_BAND_HZ`.

    Returns:
        positions ``(T, J, 3)`` float64 and ``fps``.
    """
    x = _checked(positions, fps, layout, "add_tremor", WRISTS)
    amplitude = _positive("amplitude_m", amplitude_m)
    hz = float(hz)
    low, high = TREMOR_BAND_HZ
    if not low <= hz <= high:
        raise ValueError(f"hz is {hz}, expected a frequency in the tremor band {low}-{high} Hz")
    if fps <= 2 * hz:
        raise ValueError(f"fps is {fps}, expected above {2 * hz} (twice hz = {hz}, the Nyquist rate)")
    if len(x) < fps / hz:
        raise ValueError(f"positions have {len(x)} frames, expected at least one tremor period "
                         f"({fps / hz:.3g} frames at {hz} Hz and {fps} fps)")
    index = layout.canonical_index
    hands = _subtree(layout, index["l_wrist"]) | _subtree(layout, index["r_wrist"])
    x[:, hands, 1] += amplitude * np.sin(2 * np.pi * hz * np.arange(len(x)) / fps)[:, None]
    return x, fps


def insert_pauses(positions, fps: float, layout: JointLayout, count: int,
                  seconds: float = 0.75) -> tuple[np.ndarray, float]:
    """Insert ``count`` holds of ``seconds`` each at evenly spaced points of the clip.

    Frame ``k_i = round(i T / (count + 1))``, ``i = 1 .. count``, is repeated ``round(seconds fps)``
    more times, so the body stands still there; the clip grows to
    ``T' = T + count round(seconds fps)`` frames. The still frames raise the ``pauses`` descriptor
    (a hold shorter than the descriptor's 0.4 s derivative window adds few still frames; the default
    0.75 s adds about 0.35 s of them per hold).

    Args:
        positions: ``(T, J, 3)`` metres, ``T >= count + 1`` (distinct points).
        fps: frame rate (unchanged).
        layout: the clip's layout (any).
        count: whole number >= 1.
        seconds: > 0, at least one frame.

    Returns:
        positions ``(T', J, 3)`` float64 and ``fps``.
    """
    x = _checked(positions, fps, layout, "insert_pauses")
    if isinstance(count, bool) or not float(count).is_integer() or count < 1:
        raise ValueError(f"count is {count}, expected a whole number >= 1")
    count = int(count)
    seconds = _positive("seconds", seconds)
    hold = round(seconds * fps)
    if hold < 1:
        raise ValueError(f"seconds is {seconds}, expected at least one frame ({1 / fps:.3g} s at {fps} fps)")
    if len(x) < count + 1:
        raise ValueError(f"count is {count}, expected at most {len(x) - 1} for positions of {len(x)} frames")
    _check_length(len(x) + count * hold, "seconds", seconds)
    at = np.round(np.arange(1, count + 1) * len(x) / (count + 1)).astype(np.int64)
    repeats = np.ones(len(x), dtype=np.int64)
    repeats[at] += hold
    return np.repeat(x, repeats, axis=0), fps


class Edit(NamedTuple):
    """One edit: its ``function``, the ``descriptor`` it moves and the ``direction`` it moves it in
    (+1: a larger amount raises the descriptor, -1: lowers it)."""

    function: Callable[..., tuple[np.ndarray, float]]
    descriptor: str
    direction: int


#: The edits by name.
EDITS: dict[str, Edit] = {
    "time_stretch": Edit(time_stretch, "extremity_speed", -1),
    "scale_amplitude": Edit(scale_amplitude, "expansiveness", +1),
    "pitch_head": Edit(pitch_head, "head_pitch", +1),
    "add_tremor": Edit(add_tremor, "tremor", +1),
    "insert_pauses": Edit(insert_pauses, "pauses", +1),
}
