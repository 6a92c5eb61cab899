"""The latent movement qualities of a synthetic clip, the emotions as distributions over them, the
synthetic corpora and their actors.

A clip's latent vector ``(K,)`` holds one value per quality of :data:`LATENT_NAMES`, in that order;
code reads it through the named indices (``latents[TEMPO]``), never through bare positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..labels import CORPUS_LABELS

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
#: Index of each quality in a latent vector (the upper-case name of its :data:`LATENT_NAMES` entry).
TEMPO, AMPLITUDE, HEAD_PITCH, TRUNK_LEAN, SLUMP, ARM_SWING, JERKINESS, TREMOR, HESITATION = range(len(LATENT_NAMES))

# Per quality: the range clip latents are clipped to, the spread (standard deviation) within an
# emotion before the corpus factor, and the spread of the actors' personal style offsets.
_QUALITY_RANGES = {
    #              low    high   spread  style
    "tempo":      (0.4,   2.0,   0.20,   0.07),
    "amplitude":  (0.4,   1.8,   0.20,   0.06),
    "head_pitch": (-30.0, 55.0,  10.5,   3.0),
    "trunk_lean": (-20.0, 30.0,  7.5,    2.5),
    "slump":      (-1.0,  1.0,   0.30,   0.10),
    "arm_swing":  (0.05,  2.2,   0.33,   0.10),
    "jerkiness":  (0.0,   1.0,   0.18,   0.03),
    "tremor":     (0.0,   4.0,   0.52,   0.10),
    "hesitation": (0.0,   1.0,   0.15,   0.04),
}
#: ``(K,)`` arrays over :data:`LATENT_NAMES`: lower and upper bound of the latents, within-emotion
#: spread, actor style spread.
LOW, HIGH, SPREAD, STYLE_SPREAD = (np.array(column) for column in zip(*(_QUALITY_RANGES[name]
                                                                         for name in LATENT_NAMES)))

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

# ---------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticCorpus:
    """What one synthetic corpus mimics.

    Args:
        layout: layout registry name.
        fps: frame rate.
        labels: emotion label names (:data:`eai_llm.labels.CORPUS_LABELS`).
        paper_actors: actors of the real corpus in the paper (§4.1).
        default_clips: clips at ``scale=1`` (see :func:`default_num_clips`).
        actions: the action templates the corpus uses (:data:`eai_llm.synthetic.actions.ACTIONS`).
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
#: Number of each corpus in the seeds of its random generators.
CORPUS_ID = {name: i for i, name in enumerate(SYNTHETIC_CORPORA)}


def get_corpus(name: str) -> SyntheticCorpus:
    """The :class:`SyntheticCorpus` called ``name``; ``KeyError`` naming the known ones otherwise."""
    if name not in SYNTHETIC_CORPORA:
        raise KeyError(f"unknown synthetic corpus {name!r}; expected one of {list(SYNTHETIC_CORPORA)}")
    return SYNTHETIC_CORPORA[name]


def default_num_clips(corpus: str, scale: float = 1.0) -> int:
    """Clips of ``corpus`` at ``scale``: 700 / 120 / 56 at ``scale=1`` (the paper's 8206 : 1402 : 560
    scaled down, EGBM raised to 8 clips per emotion), never fewer than one per emotion."""
    spec = get_corpus(corpus)
    return max(len(spec.labels), round(spec.default_clips * scale))


# ---------------------------------------------------------------------------------------------
# Actors and the latents of a clip
# ---------------------------------------------------------------------------------------------


@dataclass
class Actor:
    """One performer of a synthetic corpus.

    Attributes:
        name: actor id, e.g. ``"emilya-03"``.
        height: standing height in metres.
        proportions: ``(4,)`` leg, arm, trunk and shoulder-width factors (1 = average body).
        style: ``(K,)`` additive offsets of the latents (habitual tempo, posture...).
    """

    name: str
    height: float
    proportions: np.ndarray
    style: np.ndarray


def actors(corpus: str, num_clips: int, seed: int) -> list[Actor]:
    """The actors of ``num_clips`` clips of ``corpus``: the paper's count, but at most one per three
    clips and at least two; the same arguments give the same actors."""
    spec = get_corpus(corpus)
    count = max(2, min(spec.paper_actors, num_clips // 3))
    rng = np.random.default_rng([seed, CORPUS_ID[corpus], 7919])
    cast = []
    for k in range(count):
        height = float(np.clip(rng.normal(1.72, 0.085), 1.52, 1.95))
        proportions = np.clip(rng.normal(1.0, [0.03, 0.03, 0.03, 0.05]), 0.9, 1.1)
        style = rng.normal(0.0, STYLE_SPREAD)
        cast.append(Actor(f"{corpus}-{k + 1:02d}", height, proportions, style))
    return cast


def sample_latents(label: str, actor: Actor, spread: float, rng: np.random.Generator) -> np.ndarray:
    """One clip's latents ``(K,)`` float64: a draw from the emotion's distribution (its spread times
    ``spread``) plus the actor's style, clipped to :data:`LOW` .. :data:`HIGH`."""
    mean = np.asarray(EMOTION_QUALITIES[label])
    z = mean + rng.normal(0.0, SPREAD * spread) + actor.style
    return np.clip(z, LOW, HIGH)
