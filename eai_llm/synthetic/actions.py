"""Action templates and the rendering of a synthetic clip.

A template writes joint-angle control signals over a time-warped progress variable; the clip's
latents set the warp (tempo, pauses, sudden accelerations), the ranges (amplitude, arm swing), the
posture (head, trunk, shoulders) and add tremor. :func:`render` turns the controls into local joint
rotations of the actor's rig, poses it by forward kinematics and places it on the floor.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from ..kinematics import axis_rotation, forward_kinematics
from .body import REST, Rig, children, get_rig, rest_offsets
from .qualities import (AMPLITUDE, ARM_SWING, HEAD_PITCH, HESITATION, JERKINESS, SLUMP, TEMPO, TREMOR, TRUNK_LEAN,
                        Actor, SyntheticCorpus)


class Controls(dict):
    """Named control signals ``(T,)`` in radians, zero until written."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames

    def __missing__(self, key):
        value = np.zeros(self.frames)
        self[key] = value
        return value


def _keys(s: np.ndarray, times: Sequence[float], values: Sequence[float]) -> np.ndarray:
    """Eased (smoothstep) interpolation of keyframes ``values`` at ``times`` over progress ``s``."""
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    i = np.clip(np.searchsorted(times, s, side="right") - 1, 0, len(times) - 2)
    u = np.clip((s - times[i]) / (times[i + 1] - times[i]), 0.0, 1.0)
    return values[i] + (values[i + 1] - values[i]) * u * u * (3.0 - 2.0 * u)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """``x`` ``(T,)`` smoothed by a Hann window ``width`` samples wide (unchanged for ``width <= 1``)."""
    if width <= 1:
        return x
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= kernel.sum()
    pad = np.pad(x, (width, width), mode="edge")
    return np.convolve(pad, kernel, mode="same")[width:-width]


# Nominal length (progress units = seconds at tempo 1) of the scripted actions.
_SCRIPT_LENGTH = {"sit_down": 2.6, "knock": 2.4, "lift": 2.8, "throw": 2.2}


def _duration(action: str, latents: np.ndarray, rng: np.random.Generator) -> float:
    """Clip length in seconds (2-4.5): a scripted action's nominal length at the clip's tempo and
    hesitation plus some rest, or a random stretch of a cyclic one."""
    if action in _SCRIPT_LENGTH:
        d = _SCRIPT_LENGTH[action] / latents[TEMPO] * (1.0 + 0.5 * latents[HESITATION]) + rng.uniform(0.3, 0.8)
    else:
        d = rng.uniform(2.2, 3.6) * (1.0 + 0.25 * latents[HESITATION])
    return float(np.clip(d, 2.0, 4.5))


_PAUSE_MIN = 0.12  # below this hesitation, no pauses at all


def _progress(t: np.ndarray, fps: float, latents: np.ndarray, start: float, rng: np.random.Generator):
    """Time-warped action progress ``s(t)`` ``(T,)`` in nominal seconds: the tempo sets its rate,
    jerkiness adds sudden bursts, hesitation inserts pauses; it stays at 0 before ``start`` seconds."""
    tempo, jerk, hesitation = latents[TEMPO], latents[JERKINESS], latents[HESITATION]
    duration = t[-1] + 1.0 / fps
    rate = np.ones_like(t)
    # Sudden accelerations: short bursts with sharp edges, then renormalised to the mean tempo.
    n_bursts = rng.poisson(3.0 * jerk * duration)
    for _ in range(n_bursts):
        centre, width = rng.uniform(0, duration), rng.uniform(0.06, 0.16)
        rate += jerk * rng.uniform(1.0, 2.5) * (np.abs(t - centre) < width / 2)
    if jerk < 0.3:  # smooth movers ease in and out
        rate = _smooth(rate, int(0.2 * fps))
    rate /= rate.mean()
    # Hesitations: pauses where progress nearly stops, while the action is under way; at least one
    # from a hesitation of 0.3 on, none below _PAUSE_MIN.
    moving = np.ones_like(t)
    n_pauses = 0
    if hesitation >= _PAUSE_MIN:
        n_pauses = max(int(hesitation >= 0.3), int(0.8 * hesitation * duration + rng.uniform()))
    for _ in range(n_pauses):
        centre, length = rng.uniform(0.12, 0.7) * duration, rng.uniform(0.3, 0.45) + 0.5 * hesitation
        x = np.clip(1.0 - np.abs(t - centre) / (length / 2), 0.0, 1.0)
        moving = np.minimum(moving, 1.0 - 0.95 * np.minimum(1.0, 2.5 * x))
    rate = tempo * rate * moving * (t >= start)
    s = np.cumsum(rate) / fps
    return s - s[0]


def _tremor(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A unit-amplitude 5-9 Hz tremor signal ``(T,)`` with a slowly varying envelope."""
    f1, f2 = rng.uniform(5.0, 9.0, size=2)
    p = rng.uniform(0, 2 * np.pi, size=3)
    envelope = 0.7 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + p[2])
    return envelope * (np.sin(2 * np.pi * f1 * t + p[0]) + 0.5 * np.sin(2 * np.pi * f2 * t + p[1])) / 1.5


def _twitches(t: np.ndarray, fps: float, jerk: float, rng: np.random.Generator) -> np.ndarray:
    """Sudden shifts ``(T,)`` (50 ms rise) that relax over about 0.3 s; unit scale, times ``jerk``."""
    out = np.zeros_like(t)
    for _ in range(rng.poisson(1.6 * jerk * (t[-1] + 1.0 / fps))):
        t0 = rng.uniform(0, t[-1])
        dt = t - t0
        rise = np.clip(dt / 0.05, 0.0, 1.0)
        out += rng.normal() * rise * np.exp(-np.clip(dt - 0.05, 0.0, None) / 0.3)
    return jerk * out


# ---------------------------------------------------------------------------------------------
# Action templates: each adds its control signals to ``c`` from the progress ``s`` ``(T,)`` and the
# latents ``(K,)``; the walking ones return the distance walked ``(T,)`` for a 1.75 m body.
# ---------------------------------------------------------------------------------------------

def _walk(c: Controls, s, latents, rng, carry: bool = False):
    amp, swing = latents[AMPLITUDE], latents[ARM_SWING]
    w = 2 * np.pi * (0.9 * s + rng.uniform(0, 1))
    stride_amp = amp ** 0.8
    for side, phase in (("l", 0.0), ("r", np.pi)):
        wp = w + phase
        c[f"hip_flex_{side}"] += 0.10 + 0.36 * stride_amp * np.sin(wp)
        c[f"knee_{side}"] += 0.10 + 0.85 * stride_amp * np.clip(np.cos(wp + 0.3), 0, None) ** 2
        c[f"ankle_{side}"] += 0.12 * stride_amp * np.cos(wp)
        if carry:
            c[f"sh_flex_{side}"] += 0.55 - 0.05 * swing * np.sin(wp)
            c[f"elbow_{side}"] += 1.35
            c[f"sh_twist_{side}"] += 0.35
            c[f"sh_abd_{side}"] += 0.05
        else:
            c[f"sh_flex_{side}"] += -0.38 * swing * amp ** 0.5 * np.sin(wp)
            c[f"elbow_{side}"] += 0.25 + 0.25 * swing * (0.5 - 0.5 * np.sin(wp))
            c[f"sh_abd_{side}"] += 0.08
    c["pelvis_twist"] += 0.08 * amp * np.sin(w)
    c["pelvis_roll"] += 0.04 * np.sin(2 * w)
    c["spine_twist"] += -0.10 * amp * np.sin(w)
    return 0.9 * s * 1.45 * stride_amp  # metres walked: cycles x stride (scaled later by height)


def _gesture(c: Controls, s, latents, rng):
    amp, swing = latents[AMPLITUDE], latents[ARM_SWING]
    w = 2 * np.pi * 0.55 * s
    envelope = _keys(s, [0.0, 0.5], [0.0, 1.0])
    reach = amp * (0.4 + 0.6 * swing)
    for side in ("l", "r"):
        p1, p2, p3 = rng.uniform(0, 2 * np.pi, size=3)
        k = rng.uniform(0.8, 1.2, size=3)
        c[f"sh_flex_{side}"] += envelope * (0.2 + 0.6 * k[0] * reach * (0.5 - 0.5 * np.cos(w + p1)))
        c[f"sh_abd_{side}"] += envelope * (0.1 + 0.45 * k[1] * reach * (0.5 - 0.5 * np.cos(w + p2)))
        c[f"elbow_{side}"] += 0.3 + envelope * 0.7 * k[2] * (0.5 + 0.5 * np.sin(2 * w + p3))
        c[f"wrist_flex_{side}"] += 0.2 * envelope * np.sin(2 * w + p1)
        c[f"hip_abd_{side}"] += 0.03 * np.sin(0.5 * w + p2)
    c["spine_twist"] += 0.12 * amp * envelope * np.sin(0.5 * w + rng.uniform(0, 2 * np.pi))
    c["spine_side"] += 0.05 * amp * envelope * np.sin(0.5 * w)
    c["head_yaw"] += 0.15 * envelope * np.sin(0.5 * w + rng.uniform(0, 2 * np.pi))


def _sit_down(c: Controls, s, latents, rng):
    amp, swing = latents[AMPLITUDE], latents[ARM_SWING]
    a = 0.7 + 0.3 * amp
    times = [0.0, 0.4, 1.0, 1.8, 2.4, 2.6]
    c["spine_flex"] += _keys(s, times, [0, 0, 0.45 * a, 0.35 * a, 0.05, 0.05])
    c["pelvis_pitch"] += _keys(s, times, [0, 0, 0.30 * a, 0.25 * a, -0.05, -0.05])
    for side in ("l", "r"):
        hip = _keys(s, times, [0, 0, 0.35, 1.45, 1.50, 1.50])
        knee = _keys(s, times, [0, 0, 0.55, 1.55, 1.55, 1.55])
        c[f"hip_flex_{side}"] += hip
        c[f"knee_{side}"] += knee
        c[f"ankle_{side}"] += knee - hip
        c[f"sh_flex_{side}"] += _keys(s, times, [0, 0, 0.15 + 0.35 * swing, 0.4, 0.3, 0.3])
        c[f"elbow_{side}"] += _keys(s, times, [0.1, 0.1, 0.4, 0.8, 0.9, 0.9])


def _knock(c: Controls, s, latents, rng):
    amp, swing = latents[AMPLITUDE], latents[ARM_SWING]
    knocks = int(rng.integers(3, 5))
    start, end = 0.9, 0.9 + knocks / 2.4
    times = [0.0, 0.3, start, end, end + 0.7]
    c["sh_flex_r"] += _keys(s, times, [0, 0, 1.15 * (0.85 + 0.15 * amp), 1.15 * (0.85 + 0.15 * amp), 0])
    c["sh_abd_r"] += _keys(s, times, [0.05, 0.05, 0.15, 0.15, 0.05])
    active = (s > start) & (s < end)
    pulse = np.where(active, (0.5 - 0.5 * np.cos(2 * np.pi * 2.4 * (s - start))) ** 2, 0.0)
    c["elbow_r"] += _keys(s, times, [0.1, 0.1, 1.45, 1.45, 0.1]) - 0.35 * amp * pulse
    c["wrist_flex_r"] += -0.3 * amp * pulse
    c["spine_flex"] += _keys(s, times, [0, 0, 0.06, 0.06, 0])
    c["sh_flex_l"] += 0.08 * swing * np.sin(2 * np.pi * 0.7 * s)
    c["elbow_l"] += 0.15 + 0.1 * swing * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * s))


def _lift(c: Controls, s, latents, rng):
    amp = latents[AMPLITUDE]
    a = 0.75 + 0.25 * amp
    times = [0.0, 0.3, 1.2, 1.5, 2.4, 2.8]
    c["pelvis_pitch"] += _keys(s, times, [0, 0, 0.35 * a, 0.35 * a, 0.02, 0])
    c["spine_flex"] += _keys(s, times, [0, 0, 0.55 * a, 0.55 * a, 0.05, 0])
    c["neck_flex"] += _keys(s, times, [0, 0, -0.2, -0.2, 0, 0])
    for side in ("l", "r"):
        hip = _keys(s, times, [0, 0, 0.95 + 0.2 * amp, 0.95 + 0.2 * amp, 0.05, 0])
        knee = _keys(s, times, [0, 0, 1.4, 1.4, 0.05, 0])
        c[f"hip_flex_{side}"] += hip
        c[f"knee_{side}"] += knee
        c[f"ankle_{side}"] += knee - hip
        c[f"sh_flex_{side}"] += _keys(s, times, [0, 0, 0.6, 0.6, 0.45, 0.45])
        c[f"elbow_{side}"] += _keys(s, times, [0.1, 0.1, 0.2, 0.25, 1.35, 1.35])
        c[f"sh_twist_{side}"] += _keys(s, times, [0, 0, 0.2, 0.3, 0.4, 0.4])


def _throw(c: Controls, s, latents, rng):
    amp, swing = latents[AMPLITUDE], latents[ARM_SWING]
    a = 0.75 + 0.25 * amp
    times = [0.0, 0.3, 0.9, 1.1, 1.6, 2.2]
    c["sh_flex_r"] += _keys(s, times, [0.3, 0.3, 2.2 * a, 1.2 * a, 0.6, 0.1])
    c["sh_abd_r"] += _keys(s, times, [0.1, 0.1, 0.6, 0.4, -0.1, 0.1])
    c["sh_twist_r"] += _keys(s, times, [0, 0, -0.6, 0.3, 0.3, 0])
    c["elbow_r"] += _keys(s, times, [1.2, 1.2, 1.7, 0.2, 0.5, 0.2])
    c["spine_twist"] += _keys(s, times, [0, 0, -0.45 * a, 0.35 * a, 0.4 * a, 0])
    c["spine_flex"] += _keys(s, times, [0, 0, -0.12 * a, 0.30 * a, 0.35 * a, 0.05])
    c["sh_flex_l"] += _keys(s, times, [0, 0, 0.5 + 0.4 * a * swing, 0.2, 0.1, 0])
    c["elbow_l"] += _keys(s, times, [0.1, 0.1, 0.5, 0.9, 0.6, 0.1])
    c["hip_flex_l"] += _keys(s, times, [0, 0, 0.35, 0.35, 0.2, 0])
    c["knee_l"] += _keys(s, times, [0, 0, 0.30, 0.25, 0.15, 0])
    c["ankle_l"] += _keys(s, times, [0, 0, -0.05, -0.1, -0.05, 0])
    c["hip_flex_r"] += _keys(s, times, [0, 0, -0.15, -0.2, -0.05, 0])


_TEMPLATES = {
    "walk": _walk, "carry_walk": functools.partial(_walk, carry=True), "sit_down": _sit_down,
    "knock": _knock, "lift": _lift, "throw": _throw, "gesture": _gesture,
}
#: Action templates: Emilya's daily actions plus free gesturing.
ACTIONS = tuple(_TEMPLATES)
_MOVING = ("walk", "carry_walk")

# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

# Tremor gains (radians per degree of the tremor latent) and twitch gains (radians per unit).
_TREMOR_GAIN = {"wrist_flex": 2.4, "elbow": 1.5, "sh_flex": 0.9, "sh_abd": 0.6, "neck_flex": 0.5,
                "head_yaw": 0.5, "knee": 0.35, "spine_side": 0.2}
_TWITCH_GAIN = {"sh_flex": 0.30, "sh_abd": 0.20, "elbow": 0.35, "head_yaw": 0.25, "head_flex": 0.12,
                "spine_twist": 0.12, "spine_flex": 0.08}
_SIDED = ("wrist_flex", "elbow", "sh_flex", "sh_abd", "knee")


def render(corpus: SyntheticCorpus, action: str, latents: np.ndarray, actor: Actor,
           rng: np.random.Generator) -> np.ndarray:
    """Positions ``(T, J, 3)`` float32 (metres, +Y up, joints of ``corpus.layout``) of ``actor``
    performing ``action`` (:data:`ACTIONS`) with the movement qualities ``latents`` ``(K,)``."""
    rig = get_rig(corpus.layout)
    fps = corpus.fps
    frames = round(_duration(action, latents, rng) * fps)
    t = np.arange(frames) / fps
    start = rng.uniform(0.1, 0.4) if action in _SCRIPT_LENGTH else 0.0
    s = _progress(t, fps, latents, start, rng)
    c = Controls(frames)
    walked = _TEMPLATES[action](c, s, latents, rng)

    # Emotion: posture overlays.
    head, lean = math.radians(latents[HEAD_PITCH]), math.radians(latents[TRUNK_LEAN])
    slump, amp = latents[SLUMP], latents[AMPLITUDE]
    c["neck_flex"] += 0.45 * head + 0.12 * slump
    c["head_flex"] += 0.55 * head
    c["pelvis_pitch"] += 0.35 * lean
    c["spine_flex"] += 0.65 * lean
    c["upper_flex"] += 0.30 * slump
    for side in ("l", "r"):
        c[f"clav_prot_{side}"] += 0.25 * slump
        c[f"clav_elev_{side}"] += -0.08 * slump
        c[f"sh_abd_{side}"] += 0.12 * (amp - 1.0)
    # Emotion: tremor, twitches; and the idle sway every living body has.
    tremor = math.radians(latents[TREMOR])
    for name, gain in _TREMOR_GAIN.items():
        for key in ((f"{name}_l", f"{name}_r") if name in _SIDED else (name,)):
            c[key] += gain * tremor * _tremor(t, rng)
    for name, gain in _TWITCH_GAIN.items():
        for key in ((f"{name}_l", f"{name}_r") if name in _SIDED else (name,)):
            c[key] += gain * _twitches(t, fps, latents[JERKINESS], rng)
    c["spine_side"] += 0.02 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi))
    c["head_yaw"] += 0.05 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 2 * np.pi))
    c["pelvis_roll"] += 0.012 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi))

    if corpus.camera:
        yaw = np.pi + rng.uniform(-0.5, 0.5)
    else:
        yaw = rng.uniform(-np.pi, np.pi)
    offsets = rest_offsets(rig, actor)
    local = _local_rotations(rig, c, yaw, offsets, rng if corpus.camera else None)
    pos = forward_kinematics(rig.layout.parents, offsets, local)  # root at the origin: offsets[root] is 0

    # Place the body: soles on the floor, feet planted (in place) or walking along the heading.
    rest_height = {j: REST[rig.roles[j][0]][1] * actor.height for j in rig.feet}
    lift = np.max(np.stack([rest_height[j] - pos[:, j, 1] for j in rig.feet]), axis=0)
    shift = np.zeros((frames, 3))
    shift[:, 1] = lift
    if action in _MOVING:
        distance = walked * actor.height / 1.75
        shift[:, 0] = np.sin(yaw) * distance
        shift[:, 2] = np.cos(yaw) * distance
    else:
        ankles = [j for j in rig.feet if rig.roles[j][0] == "ankle"] or rig.feet
        planted = pos[:, ankles][:, :, [0, 2]].mean(axis=1)
        shift[:, [0, 2]] = planted[0] - planted
    shift[:, [0, 2]] -= (shift[0, [0, 2]] + shift[-1, [0, 2]]) / 2  # centre the path on the stage
    if corpus.camera:
        shift += (rng.uniform(-0.4, 0.4), -rng.uniform(0.7, 1.0), rng.uniform(2.6, 3.4))
        shift += rng.normal(0.0, _JITTER_ROOT_M, size=shift.shape)  # sensor jitter of the whole skeleton
    else:
        shift[:, [0, 2]] += rng.uniform(-0.5, 0.5, size=2)
    return (pos + shift[:, None, :]).astype(np.float32)


# Kinect-like jitter as joint-angle noise on distal joints: about this many metres at the child.
_JITTER_M = {"neck": 0.005, "head": 0.006, "shoulder": 0.005, "elbow": 0.006, "wrist": 0.004, "hand": 0.006,
             "hip": 0.004, "knee": 0.006, "ankle": 0.008}
_JITTER_ROOT_M = 0.005  # per axis, the whole skeleton


def _local_rotations(rig: Rig, c: Controls, yaw: float, offsets: np.ndarray,
                     jitter_rng: np.random.Generator | None) -> np.ndarray:
    """Local joint rotations ``(T, J, 3, 3)`` from the control signals: ``Rz @ Rx @ Ry`` per joint
    (side bend / abduction, flexion, twist), the heading and pelvis at the root; with ``jitter_rng``,
    Kinect-like angle noise on distal joints. ``offsets`` ``(J, 3)`` are the rig's bone offsets."""
    T, n = c.frames, rig.layout.num_joints
    ax, ay, az = np.zeros((T, n)), np.zeros((T, n)), np.zeros((T, n))
    n_spine = max(1, len(rig.spine))
    top = rig.spine[-1] if rig.spine else -1
    has_hand = any(role == "hand" for role, _ in rig.roles)
    for j, (role, sg) in enumerate(rig.roles):
        side = "l" if sg > 0 else "r"
        if role == "spine" and j in rig.spine:
            ax[:, j] = c["spine_flex"] / n_spine + (c["upper_flex"] if j == top else 0.0)
            az[:, j] = c["spine_side"] / n_spine
            ay[:, j] = c["spine_twist"] / n_spine
        elif role == "neck":
            ax[:, j] = c["neck_flex"]
            ay[:, j] = 0.4 * c["head_yaw"]
        elif role == "head":
            ax[:, j] = c["head_flex"]
            ay[:, j] = 0.6 * c["head_yaw"]
        elif role == "clavicle":
            az[:, j] = sg * c[f"clav_elev_{side}"]
            ay[:, j] = -sg * c[f"clav_prot_{side}"]
        elif role == "shoulder":
            az[:, j] = sg * c[f"sh_abd_{side}"]
            ax[:, j] = -c[f"sh_flex_{side}"]
            ay[:, j] = sg * c[f"sh_twist_{side}"]
        elif role == "elbow":
            ax[:, j] = -c[f"elbow_{side}"]
        elif role == "wrist":
            ax[:, j] = c[f"wrist_flex_{side}"] * (0.5 if has_hand else 1.0)
        elif role == "hand":
            ax[:, j] = 0.5 * c[f"wrist_flex_{side}"]
        elif role == "hip":
            az[:, j] = sg * c[f"hip_abd_{side}"]
            ax[:, j] = -c[f"hip_flex_{side}"]
        elif role == "knee":
            ax[:, j] = c[f"knee_{side}"]
        elif role == "ankle":
            ax[:, j] = -c[f"ankle_{side}"]
    if jitter_rng is not None:
        for j, (role, _) in enumerate(rig.roles):
            bone = max((np.linalg.norm(offsets[k]) for k in children(rig.layout, j)), default=0.0)
            if role in _JITTER_M and bone > 0:
                sigma = min(0.15, _JITTER_M[role] / bone)
                ax[:, j] += jitter_rng.normal(0.0, sigma, T)
                az[:, j] += jitter_rng.normal(0.0, sigma, T)
    local = axis_rotation("z", az) @ axis_rotation("x", ax) @ axis_rotation("y", ay)
    pelvis = (axis_rotation("x", c["pelvis_pitch"]) @ axis_rotation("z", c["pelvis_roll"])
              @ axis_rotation("y", c["pelvis_twist"]))
    local[:, rig.root] = axis_rotation("y", np.full(T, yaw)) @ pelvis
    pelvis_inv = np.swapaxes(pelvis, -1, -2)
    for j, (role, _) in enumerate(rig.roles):
        if role == "hip" and rig.layout.parents[j] == rig.root:
            local[:, j] = pelvis_inv @ local[:, j]
    return local
