"""Synthetic emotional full-body motion: the embedded default corpus of EAI-LLM.

The demo, the tests and the benchmarks need skeleton clips with emotion labels and, for a part of
them, free-text descriptions, without the licensed corpora of the paper (§4.1). This module renders
such clips from a kinematic body model, for three corpora that copy the heterogeneity of the
paper's: ``emilya`` (Xsens MVN, 28 joints, 120 Hz, 8 emotions, daily actions), ``kdae``
(Perception Neuron, 24 joints, 125 Hz, 7 emotions) and ``egbm`` (Kinect V2, 25 joints, 30 Hz,
7 emotions, camera coordinates and sensor jitter).

How a clip is made
------------------
1. **Actor.** Each corpus has actors (11 / 22 / 16 as in the paper); an actor has a body (height,
   leg / arm / trunk / shoulder proportions) and a personal style: small offsets of the movement
   qualities below (habitual tempo, posture...).
2. **Qualities.** Each emotion is a normal distribution (mean, spread) over a latent vector of
   movement qualities the literature links to emotion (:data:`LATENT_NAMES`): tempo, amplitude
   (expansiveness), head pitch, trunk lean, slump, arm swing, jerkiness, tremor and hesitation.
   The distributions overlap, so some clips are genuinely ambiguous. A clip's latents are one
   draw from its emotion's distribution plus its actor's style.
3. **Action.** A parametric template (gait cycle, sitting down, knocking, lifting, throwing,
   carrying, gesturing) gives joint-rotation trajectories over a time-warped progress variable;
   the latents set the warp (tempo, pauses, sudden accelerations), the ranges (amplitude, arm
   swing), the posture (head, trunk, shoulders) and add tremor.
4. **Forward kinematics.** A per-layout rest pose built from the actor's body gives fixed bone
   offsets; rotating them joint by joint gives positions ``(T, J, 3)`` in metres, +Y up, whose bone
   lengths are constant over the clip. Feet are kept on the floor and, for actions in place,
   planted; Kinect-like jitter (EGBM) is added as small joint-angle noise, so bones keep their
   length there too.
5. **Description.** A part of the clips gets a one-to-three-sentence description written from
   that clip's latents compared with the corpus population (never from its label).

The generator knows every clip's latents, so :func:`oracle_accuracy` measures how separable the
emotions are at best (a logistic regression on the latents), the ceiling a model can approach.

Example::

    from eai_llm.synthetic import generate_clips, oracle_accuracy
    clips = generate_clips("emilya", 64, seed=0)
    clips[0].positions.shape      # (T, 28, 3) float32
    clips[0].to_row()             # a row of the corpus schema (eai_llm.corpus)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .corpus import CORPUS_LABELS, clip_row
from .layouts import JointLayout, get_layout

# ---------------------------------------------------------------------------------------------
# Movement qualities (the latent vector) and the emotions as distributions over them
# ---------------------------------------------------------------------------------------------

#: The latent movement qualities of a clip, in this order, with their units.
LATENT_NAMES = (
    "tempo",       # speed multiplier of the action (1 = ordinary)
    "amplitude",   # range / expansiveness multiplier (1 = ordinary)
    "head_pitch",  # degrees, + = head lowered, - = raised
    "trunk_lean",  # degrees, + = trunk leans forward, - = backward
    "slump",       # -1 (chest open, shoulders back) .. +1 (rounded back, drooping shoulders)
    "arm_swing",   # multiplier of free arm movement (1 = ordinary)
    "jerkiness",   # 0 (smooth) .. 1 (sudden accelerations and twitches)
    "tremor",      # degrees of 5-9 Hz trembling at the joints
    "hesitation",  # 0 (continuous) .. 1 (frequent, long pauses)
)
_K = len(LATENT_NAMES)
_LOW = np.array([0.4, 0.4, -30.0, -20.0, -1.0, 0.05, 0.0, 0.0, 0.0])
_HIGH = np.array([2.0, 1.8, 55.0, 30.0, 1.0, 2.2, 1.0, 4.0, 1.0])

#: Mean latent vector of each emotion (order of :data:`LATENT_NAMES`), after Wallbott (1998),
#: Gross, Crane & Fredrickson (2012), Fourati & Pelachaud (2016): anger is fast, forward-leaning
#: and jerky; joy fast, expansive, head up; sadness slow, small, head down, slumped; shame like
#: sadness with the head lower and more hesitation; fear withdrawn (leaning back), trembling and
#: hesitant; anxiety fidgety with some tremor; panic very fast, jerky and trembling; disgust
#: withdrawn and restrained; surprise sudden, expansive, head up, leaning back.
EMOTION_QUALITIES: dict[str, tuple[float, ...]] = {
    #             tempo  ampl  head  lean  slump swing jerk  trem  hesit
    "neutral":   (1.00, 1.00, 4.0, 2.0, 0.00, 1.00, 0.12, 0.25, 0.12),
    "joy":       (1.30, 1.35, -10.0, -2.0, -0.55, 1.50, 0.15, 0.20, 0.05),
    "anger":     (1.42, 1.30, 4.0, 12.0, -0.30, 1.35, 0.75, 0.30, 0.06),
    "sadness":   (0.62, 0.68, 27.0, 7.0, 0.65, 0.50, 0.06, 0.30, 0.35),
    "shame":     (0.78, 0.64, 38.0, 10.0, 0.50, 0.60, 0.15, 0.50, 0.50),
    "fear":      (0.95, 0.70, 13.0, -9.0, 0.40, 0.60, 0.45, 2.20, 0.55),
    "anxiety":   (1.08, 0.82, 12.0, 3.0, 0.25, 0.85, 0.35, 1.30, 0.32),
    "panic":     (1.65, 1.15, 2.0, 5.0, 0.10, 1.55, 0.85, 1.60, 0.15),
    "disgust":   (0.90, 0.78, 8.0, -10.0, 0.15, 0.70, 0.42, 0.30, 0.30),
    "surprise":  (1.15, 1.40, -12.0, -8.0, -0.40, 1.30, 0.70, 0.60, 0.42),
}
EMOTION_QUALITIES["happiness"] = EMOTION_QUALITIES["joy"]  # KDAE's and EGBM's name for Emilya's joy
# Spread (standard deviation) of each quality within an emotion, before the corpus factor.
_SPREAD = np.array([0.20, 0.20, 10.5, 7.5, 0.30, 0.33, 0.18, 0.52, 0.15])
# Spread of the actors' personal style offsets.
_STYLE_SPREAD = np.array([0.07, 0.06, 3.0, 2.5, 0.10, 0.10, 0.03, 0.10, 0.04])

# ---------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------

#: Action templates: Emilya's daily actions plus free gesturing.
ACTIONS = ("walk", "carry_walk", "sit_down", "knock", "lift", "throw", "gesture")


@dataclass(frozen=True)
class SyntheticCorpus:
    """What one synthetic corpus mimics.

    Args:
        layout: layout registry name.
        fps: frame rate.
        labels: emotion label names (:data:`eai_llm.corpus.CORPUS_LABELS`).
        paper_actors: actors of the real corpus in the paper (§4.1).
        default_clips: clips at ``scale=1`` (see :func:`default_num_clips`).
        actions: the action templates the corpus uses.
        description_fraction: share of clips that get a description.
        spread: factor on the within-emotion spread of the qualities (tunes the oracle accuracy).
        camera: ``True`` for camera coordinates (actor in front of a sensor, floor below 0, jitter).
    """

    layout: str
    fps: float
    labels: tuple[str, ...]
    paper_actors: int
    default_clips: int
    actions: tuple[str, ...]
    description_fraction: float
    spread: float
    camera: bool = False


SYNTHETIC_CORPORA: dict[str, SyntheticCorpus] = {
    "emilya": SyntheticCorpus("xsens_mvn28", 120.0, CORPUS_LABELS["emilya"], 11, 700,
                              ("walk", "carry_walk", "sit_down", "knock", "lift", "throw"), 0.25, 0.95),
    "kdae": SyntheticCorpus("kdae24", 125.0, CORPUS_LABELS["kdae"], 22, 120,
                            ("walk", "gesture"), 0.25, 1.1),
    "egbm": SyntheticCorpus("kinect_v2", 30.0, CORPUS_LABELS["egbm"], 16, 56,
                            ("gesture", "walk"), 0.0, 1.1, camera=True),
}
_CORPUS_ID = {name: i for i, name in enumerate(SYNTHETIC_CORPORA)}


def default_num_clips(corpus: str, scale: float = 1.0) -> int:
    """Clips of ``corpus`` at ``scale``: 700 / 120 / 56 at ``scale=1`` (the paper's 8206 : 1402 : 560
    scaled down, EGBM raised to 8 clips per emotion), never fewer than one per emotion."""
    spec = _corpus(corpus)
    return max(len(spec.labels), round(spec.default_clips * scale))


def _corpus(name: str) -> SyntheticCorpus:
    if name not in SYNTHETIC_CORPORA:
        raise KeyError(f"unknown synthetic corpus {name!r}; expected one of {list(SYNTHETIC_CORPORA)}")
    return SYNTHETIC_CORPORA[name]


# ---------------------------------------------------------------------------------------------
# Clips
# ---------------------------------------------------------------------------------------------

@dataclass
class SyntheticClip:
    """One rendered clip.

    Attributes:
        positions: ``(T, J, 3)`` float32, metres, +Y up, ``J`` = joints of ``layout``.
        fps: frame rate.
        layout: layout registry name.
        label: emotion label.
        corpus: synthetic corpus name.
        actor: actor id, e.g. ``"emilya-03"``.
        action: action template name (:data:`ACTIONS`).
        description: text written from the latents, or ``""``.
        latents: ``(K,)`` float32 movement qualities, order of :data:`LATENT_NAMES`.
    """

    positions: np.ndarray
    fps: float
    layout: str
    label: str
    corpus: str
    actor: str
    action: str
    description: str
    latents: np.ndarray

    def to_row(self) -> dict:
        """The clip as a row of the corpus schema (:func:`eai_llm.corpus.clip_row`)."""
        return clip_row(self.positions, fps=self.fps, layout=self.layout, label=self.label, corpus=self.corpus,
                        actor=self.actor, action=self.action, description=self.description)


@dataclass
class _Actor:
    name: str
    height: float
    proportions: np.ndarray  # leg, arm, trunk, shoulder-width factors
    style: np.ndarray        # (K,) additive offsets of the latents


@dataclass
class _Spec:
    index: int
    label: str
    actor: _Actor
    action: str
    latents: np.ndarray      # (K,) float64
    described: bool


def _actors(corpus: str, num_clips: int, seed: int) -> list[_Actor]:
    spec = _corpus(corpus)
    count = max(2, min(spec.paper_actors, num_clips // 3))
    rng = np.random.default_rng([seed, _CORPUS_ID[corpus], 7919])
    actors = []
    for k in range(count):
        height = float(np.clip(rng.normal(1.72, 0.085), 1.52, 1.95))
        proportions = np.clip(rng.normal(1.0, [0.03, 0.03, 0.03, 0.05]), 0.9, 1.1)
        style = rng.normal(0.0, _STYLE_SPREAD)
        actors.append(_Actor(f"{corpus}-{k + 1:02d}", height, proportions, style))
    return actors


def _sample_latents(label: str, actor: _Actor, spread: float, rng: np.random.Generator) -> np.ndarray:
    mean = np.asarray(EMOTION_QUALITIES[label])
    z = mean + rng.normal(0.0, _SPREAD * spread) + actor.style
    return np.clip(z, _LOW, _HIGH)


def _specs(corpus: str, num_clips: int, seed: int, labels: Sequence[str] | None = None,
           actions: Sequence[str] | None = None) -> list[_Spec]:
    """Labels, actors, actions and latents of the clips: cheap, no rendering."""
    spec = _corpus(corpus)
    labels = tuple(spec.labels if labels is None else labels)
    actions = tuple(spec.actions if actions is None else actions)
    bad = [x for x in labels if x not in spec.labels]
    if bad:
        raise ValueError(f"corpus {corpus!r} has no labels {bad}; expected a subset of {list(spec.labels)}")
    bad = [x for x in actions if x not in ACTIONS]
    if bad:
        raise ValueError(f"unknown actions {bad}; expected a subset of {list(ACTIONS)}")
    if num_clips < 0:
        raise ValueError(f"num_clips is {num_clips}, expected >= 0")
    if not labels or not actions:
        raise ValueError("labels and actions must not be empty")
    rng = np.random.default_rng([seed, _CORPUS_ID[corpus], 104729])
    actors = _actors(corpus, num_clips, seed)
    label_of = rng.permutation(np.resize(np.arange(len(labels)), num_clips))  # balanced
    actor_of = rng.permutation(np.resize(np.arange(len(actors)), num_clips))
    n_described = round(spec.description_fraction * num_clips)
    described = np.zeros(num_clips, dtype=bool)
    described[rng.permutation(num_clips)[:n_described]] = True
    specs = []
    for i in range(num_clips):
        clip_rng = np.random.default_rng([seed, _CORPUS_ID[corpus], i, 1])
        action = actions[int(clip_rng.integers(len(actions)))]
        actor = actors[actor_of[i]]
        label = labels[label_of[i]]
        specs.append(_Spec(i, label, actor, action, _sample_latents(label, actor, spec.spread, clip_rng),
                           bool(described[i])))
    return specs


def generate_clips(corpus: str, num_clips: int, seed: int = 0, *, labels: Sequence[str] | None = None,
                   actions: Sequence[str] | None = None) -> list[SyntheticClip]:
    """Render ``num_clips`` clips of a synthetic corpus (``"emilya"``, ``"kdae"`` or ``"egbm"``).

    Emotions are balanced (round-robin over a seeded permutation), actors too; actions are drawn at
    random. ``labels`` / ``actions`` restrict the emotions / action templates drawn from (for
    experiments). The same arguments give identical clips, byte for byte.

    Returns:
        ``num_clips`` :class:`SyntheticClip`, positions ``(T, J, 3)`` float32 with ``T`` about 2-4 s
        at the corpus frame rate and ``J`` the joints of the corpus layout.
    """
    spec = _corpus(corpus)
    layout = get_layout(spec.layout)
    clips = []
    for s in _specs(corpus, num_clips, seed, labels, actions):
        render_rng = np.random.default_rng([seed, _CORPUS_ID[corpus], s.index, 2])
        positions = _render(layout, spec, s, render_rng)
        description = ""
        if s.described:
            text_rng = np.random.default_rng([seed, _CORPUS_ID[corpus], s.index, 3])
            description = describe(corpus, s.action, s.latents, text_rng)
        clips.append(SyntheticClip(positions, spec.fps, spec.layout, s.label, corpus, s.actor.name, s.action,
                                   description, s.latents.astype(np.float32)))
    return clips


def oracle_accuracy(train_clips: Sequence[SyntheticClip], test_clips: Sequence[SyntheticClip]) -> float:
    """Accuracy of the latent oracle: a logistic regression on the standardised latent vectors of
    ``train_clips``, scored on ``test_clips`` (use clips of one corpus). It knows the qualities the
    motion was rendered from, so it is the ceiling a model reading the motion can approach."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not test_clips:
        raise ValueError("oracle_accuracy: no test clips")
    y_train = [c.label for c in train_clips]
    if len(set(y_train)) < 2:
        raise ValueError(f"oracle_accuracy: training clips need at least two labels, got {sorted(set(y_train))}")
    x_train = np.stack([c.latents for c in train_clips]).astype(np.float64)
    x_test = np.stack([c.latents for c in test_clips]).astype(np.float64)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    model.fit(x_train, y_train)
    return float(model.score(x_test, [c.label for c in test_clips]))


# ---------------------------------------------------------------------------------------------
# Body model: rest pose per layout and forward kinematics
# ---------------------------------------------------------------------------------------------

# Rest (arms-down) position of each canonical joint in units of body height; X = the body's left,
# Y = up, Z = forward; right-side joints mirror X. After Winter's anthropometric proportions.
_REST = {
    "pelvis": (0.0, 0.530, 0.0), "spine_lower": (0.0, 0.575, -0.010), "spine_middle": (0.0, 0.655, -0.015),
    "spine_upper": (0.0, 0.735, -0.010), "neck": (0.0, 0.835, -0.005), "head": (0.0, 0.885, 0.010),
    "head_top": (0.0, 1.0, 0.0),
    "clavicle": (0.025, 0.805, 0.0), "shoulder": (0.125, 0.815, -0.010), "elbow": (0.140, 0.630, -0.020),
    "wrist": (0.145, 0.485, 0.0), "hand": (0.145, 0.445, 0.005), "hand_tip": (0.145, 0.380, 0.010),
    "thumb": (0.130, 0.430, 0.030),
    "hip": (0.055, 0.500, 0.0), "knee": (0.060, 0.285, 0.010), "ankle": (0.065, 0.040, -0.005),
    "toe": (0.070, 0.012, 0.100), "toe_tip": (0.070, 0.008, 0.135),
}
# Joints whose canonical meaning sits elsewhere in a given capture system.
_REST_OVERRIDES = {"kinect_v2": {"SpineShoulder": (0.0, 0.800, -0.010), "SpineMid": (0.0, 0.660, -0.015)}}
_FOOT = ("ankle", "toe", "toe_tip")


@dataclass
class _Rig:
    """A layout prepared for rendering: roles, traversal order, and which joints are feet."""

    layout: JointLayout
    order: list[int]
    roles: list[tuple[str, int]]  # (role, side sign +1 left / -1 right / 0)
    spine: list[int]              # spine joints, root to top
    feet: list[int]
    root: int
    has_children: frozenset[int]


def _stem(canonical: str) -> tuple[str, int]:
    if canonical[:2] in ("l_", "r_"):
        return canonical[2:], (1 if canonical[0] == "l" else -1)
    return canonical, 0


@functools.cache
def _rig(layout_name: str) -> _Rig:
    layout = get_layout(layout_name)
    depth = []
    for j in range(layout.num_joints):
        d, k = 0, j
        while layout.parents[k] >= 0:
            k, d = layout.parents[k], d + 1
        depth.append(d)
    order = sorted(range(layout.num_joints), key=lambda j: (depth[j], j))
    roles = []
    for j, (canon, part) in enumerate(zip(layout.canonical, layout.body_parts)):
        stem, side = _stem(canon)
        if stem == "pelvis":
            roles.append(("root", 0))
        elif stem.startswith("spine") or (not stem and part == "torso"):
            roles.append(("spine", 0))
        elif stem:
            roles.append((stem, side))
        else:
            roles.append(("", side))
    spine = sorted((j for j, (role, _) in enumerate(roles) if role == "spine" and _children(layout, j)),
                   key=lambda j: depth[j])
    feet = [j for j, (role, _) in enumerate(roles) if role in _FOOT]
    if not feet:
        raise ValueError(f"layout {layout_name!r}: no foot joints (canonical ankle/toe); cannot render")
    return _Rig(layout, order, roles, spine, feet, layout.root_index, frozenset(p for p in layout.parents if p >= 0))


def _children(layout: JointLayout, j: int) -> list[int]:
    return [k for k, p in enumerate(layout.parents) if p == j]


def _rest_offsets(rig: _Rig, actor: _Actor) -> np.ndarray:
    """Bone offsets ``(J, 3)`` (child minus parent in the rest pose) for ``actor``, scaled so that the
    standing height (head top over the soles) is the actor's height."""
    layout = rig.layout
    n = layout.num_joints
    pos = np.full((n, 3), np.nan)
    overrides = _REST_OVERRIDES.get(layout.name, {})
    for j, canon in enumerate(layout.canonical):
        stem, side = _stem(canon)
        if layout.joint_names[j] in overrides:
            pos[j] = overrides[layout.joint_names[j]]
        elif stem in _REST:
            x, y, z = _REST[stem]
            pos[j] = (x if side >= 0 else -x, y, z)
    for j in rig.order:  # joints without a canonical position: between parent and child
        if np.isnan(pos[j, 0]):
            parent = layout.parents[j]
            known = [k for k in _children(layout, j) if not np.isnan(pos[k, 0])]
            base = pos[parent] if parent >= 0 else np.zeros(3)
            pos[j] = (base + pos[known[0]]) / 2 if known else base + (0.0, 0.04, 0.0)
    offsets = np.zeros((n, 3))
    leg, arm, trunk, width = actor.proportions
    for j in range(n):
        parent = layout.parents[j]
        if parent < 0:
            continue
        offsets[j] = pos[j] - pos[parent]
        role, side = rig.roles[j]
        part = layout.body_parts[j]
        if role in ("hip", "clavicle", "shoulder"):
            offsets[j][0] *= width
        elif part.endswith("leg"):
            offsets[j] *= leg
        elif part.endswith("arm"):
            offsets[j] *= arm
        else:
            offsets[j] *= trunk
    rest = _fk(offsets, rig, np.broadcast_to(np.eye(3), (1, n, 3, 3)))[0]
    top = int(np.argmax(rest[:, 1]))
    sole = min(rest[j, 1] - _REST[rig.roles[j][0]][1] for j in rig.feet)
    # The top joint may sit below the crown (Kinect's Head): extend by its nominal share of height.
    fraction = _REST.get(rig.roles[top][0], (0.0, 1.0))[1]
    return offsets * (actor.height * fraction / (rest[top, 1] - sole))


def _fk(offsets: np.ndarray, rig: _Rig, local: np.ndarray) -> np.ndarray:
    """Forward kinematics: bone offsets ``(J, 3)`` and local rotations ``(T, J, 3, 3)`` → positions
    ``(T, J, 3)`` with the root at the origin. A bone keeps the length of its offset in every frame."""
    T, n = local.shape[:2]
    glob = np.empty((T, n, 3, 3))
    pos = np.empty((T, n, 3))
    parents = rig.layout.parents
    for j in rig.order:
        p = parents[j]
        if p < 0:
            glob[:, j] = local[:, j]
            pos[:, j] = 0.0
        else:
            pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
            if j in rig.has_children:
                glob[:, j] = glob[:, p] @ local[:, j]
    return pos


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` about ``axis`` by ``angle`` ``(...)`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    if axis == "x":
        rows = ((o, z, z), (z, c, -s), (z, s, c))
    elif axis == "y":
        rows = ((c, z, s), (z, o, z), (-s, z, c))
    else:
        rows = ((c, -s, z), (s, c, z), (z, z, o))
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _euler_zxy(az: np.ndarray, ax: np.ndarray, ay: np.ndarray) -> np.ndarray:
    """``Rz(az) @ Rx(ax) @ Ry(ay)`` in closed form, ``(..., 3, 3)``."""
    cz, sz, cx, sx, cy, sy = np.cos(az), np.sin(az), np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay)
    return np.stack([cz * cy - sz * sx * sy, -sz * cx, cz * sy + sz * sx * cy,
                     sz * cy + cz * sx * sy, cz * cx, sz * sy - cz * sx * cy,
                     -cx * sy, sx, cx * cy], axis=-1).reshape(*az.shape, 3, 3)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

class _Controls(dict):
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
    if width <= 1:
        return x
    kernel = np.hanning(width + 2)[1:-1]
    kernel /= kernel.sum()
    pad = np.pad(x, (width, width), mode="edge")
    return np.convolve(pad, kernel, mode="same")[width:-width]


# Nominal length (progress units = seconds at tempo 1) of the scripted actions.
_SCRIPT_LENGTH = {"sit_down": 2.6, "knock": 2.4, "lift": 2.8, "throw": 2.2}


def _duration(action: str, q: np.ndarray, rng: np.random.Generator) -> float:
    if action in _SCRIPT_LENGTH:
        d = _SCRIPT_LENGTH[action] / q[0] * (1.0 + 0.5 * q[8]) + rng.uniform(0.3, 0.8)
    else:
        d = rng.uniform(2.2, 3.6) * (1.0 + 0.25 * q[8])
    return float(np.clip(d, 2.0, 4.5))


_PAUSE_MIN = 0.12  # below this hesitation, no pauses at all


def _progress(t: np.ndarray, fps: float, q: np.ndarray, start: float, rng: np.random.Generator):
    """Time-warped action progress ``s(t)`` ``(T,)`` in nominal seconds: the tempo sets its rate,
    jerkiness adds sudden bursts, hesitation inserts pauses."""
    tempo, jerk, hesitation = q[0], q[6], q[8]
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
    """A unit-amplitude 5-9 Hz tremor signal with a slowly varying envelope."""
    f1, f2 = rng.uniform(5.0, 9.0, size=2)
    p = rng.uniform(0, 2 * np.pi, size=3)
    envelope = 0.7 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + p[2])
    return envelope * (np.sin(2 * np.pi * f1 * t + p[0]) + 0.5 * np.sin(2 * np.pi * f2 * t + p[1])) / 1.5


def _twitches(t: np.ndarray, fps: float, jerk: float, rng: np.random.Generator) -> np.ndarray:
    """Sudden shifts (50 ms rise) that relax over about 0.3 s; unit scale, times ``jerk``."""
    out = np.zeros_like(t)
    for _ in range(rng.poisson(1.6 * jerk * (t[-1] + 1.0 / fps))):
        t0 = rng.uniform(0, t[-1])
        dt = t - t0
        rise = np.clip(dt / 0.05, 0.0, 1.0)
        out += rng.normal() * rise * np.exp(-np.clip(dt - 0.05, 0.0, None) / 0.3)
    return jerk * out


def _walk(c: _Controls, s, q, rng, carry: bool = False):
    amp, swing = q[1], q[5]
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


def _gesture(c: _Controls, s, q, rng):
    amp, swing = q[1], q[5]
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


def _sit_down(c: _Controls, s, q, rng):
    amp, swing = q[1], q[5]
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


def _knock(c: _Controls, s, q, rng):
    amp, swing = q[1], q[5]
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


def _lift(c: _Controls, s, q, rng):
    amp = q[1]
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


def _throw(c: _Controls, s, q, rng):
    amp, swing = q[1], q[5]
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
_MOVING = ("walk", "carry_walk")

# Tremor gains (radians per degree of the tremor latent) and twitch gains (radians per unit).
_TREMOR_GAIN = {"wrist_flex": 2.4, "elbow": 1.5, "sh_flex": 0.9, "sh_abd": 0.6, "neck_flex": 0.5,
                "head_yaw": 0.5, "knee": 0.35, "spine_side": 0.2}
_TWITCH_GAIN = {"sh_flex": 0.30, "sh_abd": 0.20, "elbow": 0.35, "head_yaw": 0.25, "head_flex": 0.12,
                "spine_twist": 0.12, "spine_flex": 0.08}
_SIDED = ("wrist_flex", "elbow", "sh_flex", "sh_abd", "knee")


def _render(layout: JointLayout, corpus: SyntheticCorpus, spec: _Spec, rng: np.random.Generator) -> np.ndarray:
    """Positions ``(T, J, 3)`` float32 of one clip."""
    rig = _rig(layout.name)
    q = spec.latents
    fps = corpus.fps
    frames = round(_duration(spec.action, q, rng) * fps)
    t = np.arange(frames) / fps
    start = rng.uniform(0.1, 0.4) if spec.action in _SCRIPT_LENGTH else 0.0
    s = _progress(t, fps, q, start, rng)
    c = _Controls(frames)
    walked = _TEMPLATES[spec.action](c, s, q, rng)

    # Emotion: posture overlays.
    head, lean, slump, amp = math.radians(q[2]), math.radians(q[3]), q[4], q[1]
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
    tremor = math.radians(q[7])
    for name, gain in _TREMOR_GAIN.items():
        for key in ((f"{name}_l", f"{name}_r") if name in _SIDED else (name,)):
            c[key] += gain * tremor * _tremor(t, rng)
    for name, gain in _TWITCH_GAIN.items():
        for key in ((f"{name}_l", f"{name}_r") if name in _SIDED else (name,)):
            c[key] += gain * _twitches(t, fps, q[6], rng)
    c["spine_side"] += 0.02 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 2 * np.pi))
    c["head_yaw"] += 0.05 * np.sin(2 * np.pi * 0.13 * t + rng.uniform(0, 2 * np.pi))
    c["pelvis_roll"] += 0.012 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 2 * np.pi))

    if corpus.camera:
        yaw = np.pi + rng.uniform(-0.5, 0.5)
    else:
        yaw = rng.uniform(-np.pi, np.pi)
    offsets = _rest_offsets(rig, spec.actor)
    local = _local_rotations(rig, c, yaw, offsets, rng if corpus.camera else None)
    pos = _fk(offsets, rig, local)

    # Place the body: soles on the floor, feet planted (in place) or walking along the heading.
    rest_height = {j: _REST[rig.roles[j][0]][1] * spec.actor.height for j in rig.feet}
    lift = np.max(np.stack([rest_height[j] - pos[:, j, 1] for j in rig.feet]), axis=0)
    shift = np.zeros((frames, 3))
    shift[:, 1] = lift
    if spec.action in _MOVING:
        distance = walked * spec.actor.height / 1.75
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


def _local_rotations(rig: _Rig, c: _Controls, yaw: float, offsets: np.ndarray,
                     jitter_rng: np.random.Generator | None) -> np.ndarray:
    """Local joint rotations ``(T, J, 3, 3)`` from the control signals."""
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
            bone = max((np.linalg.norm(offsets[k]) for k in _children(rig.layout, j)), default=0.0)
            if role in _JITTER_M and bone > 0:
                sigma = min(0.15, _JITTER_M[role] / bone)
                ax[:, j] += jitter_rng.normal(0.0, sigma, T)
                az[:, j] += jitter_rng.normal(0.0, sigma, T)
    local = _euler_zxy(az, ax, ay)
    pelvis = _rot("x", c["pelvis_pitch"]) @ _rot("z", c["pelvis_roll"]) @ _rot("y", c["pelvis_twist"])
    local[:, rig.root] = _rot("y", np.full(T, yaw)) @ pelvis
    pelvis_inv = np.swapaxes(pelvis, -1, -2)
    for j, (role, _) in enumerate(rig.roles):
        if role == "hip" and rig.layout.parents[j] == rig.root:
            local[:, j] = pelvis_inv @ local[:, j]
    return local


# ---------------------------------------------------------------------------------------------
# Descriptions
# ---------------------------------------------------------------------------------------------

@functools.cache
def _population(corpus: str) -> np.ndarray:
    """Sorted latents ``(N, K)`` of a large seeded sample of the corpus (all emotions, all actors)."""
    spec = _corpus(corpus)
    n = 4000
    rng = np.random.default_rng([20240601, _CORPUS_ID[corpus]])
    actors = _actors(corpus, n, seed=20240601)
    means = np.array([EMOTION_QUALITIES[label] for label in spec.labels])[rng.integers(len(spec.labels), size=n)]
    style = np.stack([a.style for a in actors])[rng.integers(len(actors), size=n)]
    latents = np.clip(means + rng.normal(0.0, _SPREAD * spec.spread, size=(n, _K)) + style, _LOW, _HIGH)
    return np.sort(latents, axis=0)


def latent_quantiles(corpus: str, latents: np.ndarray) -> np.ndarray:
    """Where each latent of ``latents`` ``(K,)`` falls in the corpus population, as quantiles in
    [0, 1] ``(K,)``. Descriptions call a quality high above 0.75 and low below 0.25."""
    population = _population(corpus)
    n = population.shape[0]
    return np.array([np.searchsorted(population[:, k], latents[k]) / n for k in range(_K)])


_SUBJECTS = ("The person", "The actor", "The figure", "This person")
_ACTION_PHRASES = {
    "walk": ("walks", "walks across the room", "walks forward"),
    "carry_walk": ("walks while carrying an object in both hands", "carries an object in both hands while walking"),
    "sit_down": ("sits down on a chair", "lowers themselves onto a chair", "takes a seat on a chair"),
    "knock": ("knocks on a door", "raises a hand and knocks on a door", "knocks several times on a door"),
    "lift": ("bends down to lift an object from the floor", "picks up an object from the floor",
             "lifts an object off the floor"),
    "throw": ("throws an object", "winds up and throws an object", "throws an object forward"),
    "gesture": ("stands in place and gestures", "gestures while standing in place",
                "stands and moves the arms about"),
}
# (quality, high phrases, low phrases). Manner phrases continue the first sentence; posture and
# quality phrases are clauses joined into the following sentences.
_MANNER = {
    "tempo": (("briskly", "quickly", "rapidly", "at a fast pace", "hastily"),
              ("slowly", "sluggishly", "at a slow pace", "slowly and heavily")),
    "amplitude": (("with wide, expansive movements", "with large, sweeping motions", "with broad, space-filling movements"),
                  ("with small, restrained movements", "with contracted, minimal movements",
                   "keeping the movements small and close to the body")),
    "arm_swing": (("with the arms swinging freely", "with lively, energetic arm movements", "swinging the arms vigorously"),
                  ("with the arms held stiffly close to the body", "with barely any arm movement", "keeping the arms still")),
}
_POSTURE = {
    "head_pitch": (("the head is held high", "the chin is raised", "the head is tilted up"),
                   ("the head is bowed", "the head hangs low", "the gaze is directed at the floor", "the head is lowered")),
    "trunk_lean": (("the trunk leans forward", "the upper body is pitched forward", "the torso tilts forward"),
                   ("the trunk leans back", "the upper body is held back", "the torso tilts backward")),
    "slump": (("the shoulders are slumped", "the back is rounded and the shoulders droop", "the posture is hunched"),
              ("the chest is upright and open", "the posture is erect with the shoulders back", "the chest is lifted")),
}
_QUALITY = {
    "jerkiness": (("the movements are abrupt and jerky", "the motion is punctuated by sudden, sharp accelerations",
                   "the motion is choppy, with sudden bursts"),
                  ("the motion is smooth", "the movements flow smoothly", "the motion is fluid and even")),
    "tremor": (("the body trembles", "a visible tremor runs through the hands and head", "the limbs shake slightly"), ()),
    "hesitation": (("the movement stops and starts hesitantly", "there are noticeable pauses",
                    "the action is interrupted by hesitant pauses"),
                   ("the action is carried out without pausing", "the movement proceeds without hesitation")),
}
# Besides being in the top / bottom quarter of the population, a quality must pass these absolute
# bounds (low below the first, high above the second) to be named, so that "slow" is slow.
_ABSOLUTE = {"tempo": (0.9, 1.15), "amplitude": (0.85, 1.15), "head_pitch": (-3.0, 15.0),
             "trunk_lean": (-3.0, 6.0), "slump": (-0.2, 0.3), "arm_swing": (0.75, 1.25),
             "jerkiness": (0.15, 0.45), "tremor": (-1.0, 0.9), "hesitation": (0.1, 0.3)}
# Actions where both arms move freely, so that arm swing is visible (elsewhere the arms have a task).
_FREE_ARMS = ("walk", "gesture", "sit_down")


def _phrases(name: str, high: bool) -> tuple[str, ...]:
    """The phrases for a quality whose latent is high (or low); head_pitch is high when lowered."""
    bank = next(b for b in (_MANNER, _POSTURE, _QUALITY) if name in b)
    first_is_high = name != "head_pitch"
    return bank[name][0] if high == first_is_high else bank[name][1]


def describe(corpus: str, action: str, latents: np.ndarray, rng: np.random.Generator) -> str:
    """A one-to-three-sentence description of a clip from its latents ``(K,)``: qualities in the top
    or bottom quarter of the corpus population are named (the most extreme first, up to four), with
    wording chosen by ``rng``. The emotion is never named."""
    latents = np.asarray(latents, dtype=float)
    u = latent_quantiles(corpus, latents)
    notable = []
    for k, name in enumerate(LATENT_NAMES):
        low_max, high_min = _ABSOLUTE[name]
        high = u[k] > 0.75 and latents[k] > high_min
        low = u[k] < 0.25 and latents[k] < low_max
        if (high or low) and (name != "arm_swing" or action in _FREE_ARMS):
            options = _phrases(name, high)
            if options:
                notable.append((abs(u[k] - 0.5) + rng.uniform(0, 0.05), name, options))
    notable.sort(key=lambda item: item[0], reverse=True)
    notable = notable[: int(rng.integers(2, 5))]

    manner, posture, quality = [], [], []
    for _, name, options in notable:
        text = str(options[int(rng.integers(len(options)))])
        (manner if name in _MANNER else posture if name in _POSTURE else quality).append((name, text))
    subject = _SUBJECTS[int(rng.integers(len(_SUBJECTS)))]
    verb = _ACTION_PHRASES[action][int(rng.integers(len(_ACTION_PHRASES[action])))]
    manner.sort(key=lambda item: item[0] != "tempo")  # the adverb of tempo comes first
    if not notable:
        manner = [("tempo", ("at an ordinary pace", "at a moderate, steady pace")[int(rng.integers(2))])]
        posture = [("", ("the posture is relaxed and balanced", "the body is held in an easy, ordinary posture")
                    [int(rng.integers(2))])]
    first = f"{subject} {verb}"
    with_phrase = False
    for name, text in manner:
        if text.startswith("with"):
            first += (" and " if with_phrase else " ") + text
            with_phrase = True
        elif name == "tempo":
            first += " " + text
        else:  # a participle phrase: "keeping the arms still"
            first += ", " + text
    sentences = [first]
    rest = [[text for _, text in group] for group in (posture, quality) if group]
    if rng.random() < 0.5:
        rest.reverse()
    for clauses in rest:
        sentences.append(_join(clauses))
    if len(sentences) == 3 and rng.random() < 0.3:  # sometimes two clauses share a sentence
        sentences = [sentences[0], sentences[1] + "; " + sentences[2][0].lower() + sentences[2][1:]]
    return " ".join(s[0].upper() + s[1:] + "." for s in sentences)


def _join(clauses: list[str]) -> str:
    if len(clauses) == 1:
        return clauses[0]
    return ", ".join(clauses[:-1]) + " and " + clauses[-1]
