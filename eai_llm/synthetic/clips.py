"""Synthetic clips: which clips a corpus gets (labels, actors, actions, latents), their rendering and
description, and the latent oracle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..corpus import clip_row
from .actions import ACTIONS, render
from .descriptions import describe
from .qualities import CORPUS_ID, Actor, actors, get_corpus, sample_latents


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
        action: action template name (:data:`~eai_llm.synthetic.actions.ACTIONS`).
        description: text written from the latents, or ``""``.
        latents: ``(K,)`` float32 movement qualities, order of :data:`~eai_llm.synthetic.qualities.LATENT_NAMES`.
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
                        actor=self.actor, action=self.action, description=self.description,
                        description_source="annotated" if self.description else "")


@dataclass
class _Spec:
    """What one clip will be, before rendering; ``latents`` ``(K,)`` float64."""

    index: int
    label: str
    actor: Actor
    action: str
    latents: np.ndarray
    described: bool


def _specs(corpus: str, num_clips: int, seed: int, labels: Sequence[str] | None = None,
           actions: Sequence[str] | None = None) -> list[_Spec]:
    """Labels, actors, actions and latents of the clips: cheap, no rendering."""
    spec = get_corpus(corpus)
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
    rng = np.random.default_rng([seed, CORPUS_ID[corpus], 104729])
    cast = actors(corpus, num_clips, seed)
    label_of = rng.permutation(np.resize(np.arange(len(labels)), num_clips))  # balanced
    actor_of = rng.permutation(np.resize(np.arange(len(cast)), num_clips))
    n_described = round(spec.description_fraction * num_clips)
    described = np.zeros(num_clips, dtype=bool)
    described[rng.permutation(num_clips)[:n_described]] = True
    specs = []
    for i in range(num_clips):
        clip_rng = np.random.default_rng([seed, CORPUS_ID[corpus], i, 1])
        action = actions[int(clip_rng.integers(len(actions)))]
        actor = cast[actor_of[i]]
        label = labels[label_of[i]]
        specs.append(_Spec(i, label, actor, action, sample_latents(label, actor, spec.spread, clip_rng),
                           bool(described[i])))
    return specs


def generate_clips(corpus: str, num_clips: int, seed: int = 0, *, labels: Sequence[str] | None = None,
                   actions: Sequence[str] | None = None, describe_all: bool = False) -> list[SyntheticClip]:
    """Render ``num_clips`` clips of a synthetic corpus (``"emilya"``, ``"kdae"`` or ``"egbm"``).

    Emotions are balanced (round-robin over a seeded permutation), actors too; actions are drawn at
    random. ``labels`` / ``actions`` restrict the emotions / action templates drawn from (for
    experiments). The corpus's ``description_fraction`` of the clips are described, as the paper's
    annotators described a few hundred; ``describe_all`` describes every clip (the same texts for those). The same arguments give identical clips, byte for byte.

    Returns:
        ``num_clips`` :class:`SyntheticClip`, positions ``(T, J, 3)`` float32 with ``T`` about 2-4 s
        at the corpus frame rate and ``J`` the joints of the corpus layout.
    """
    spec = get_corpus(corpus)
    clips = []
    for s in _specs(corpus, num_clips, seed, labels, actions):
        render_rng = np.random.default_rng([seed, CORPUS_ID[corpus], s.index, 2])
        positions = render(spec, s.action, s.latents, s.actor, render_rng)
        description = ""
        if s.described or describe_all:
            text_rng = np.random.default_rng([seed, CORPUS_ID[corpus], s.index, 3])
            description = describe(corpus, s.action, s.latents, text_rng)
        clips.append(SyntheticClip(positions, spec.fps, spec.layout, s.label, corpus, s.actor.name, s.action,
                                   description, s.latents.astype(np.float32)))
    return clips


def oracle_accuracy(train_clips: Sequence[SyntheticClip], test_clips: Sequence[SyntheticClip]) -> float:
    """Accuracy of the latent oracle: a logistic regression on the standardised latent vectors ``(K,)``
    of ``train_clips``, scored on ``test_clips`` (use clips of one corpus). It knows the qualities the
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
