"""Descriptions of synthetic clips: one to three sentences written from a clip's latents compared
with its corpus population (never from its label)."""

from __future__ import annotations

import functools

import numpy as np

from ..claims import ACTIONS, QUALITIES, write_description
from .qualities import CORPUS_ID, EMOTION_QUALITIES, HIGH, LATENT_NAMES, LOW, SPREAD, actors, get_corpus


@functools.cache
def _population(corpus: str) -> np.ndarray:
    """Sorted latents ``(N, K)``, each column on its own, of a large seeded sample of the corpus (all
    emotions, all actors)."""
    spec = get_corpus(corpus)
    n = 4000
    rng = np.random.default_rng([20240601, CORPUS_ID[corpus]])
    cast = actors(corpus, n, seed=20240601)
    means = np.array([EMOTION_QUALITIES[label] for label in spec.labels])[rng.integers(len(spec.labels), size=n)]
    style = np.stack([a.style for a in cast])[rng.integers(len(cast), size=n)]
    latents = np.clip(means + rng.normal(0.0, SPREAD * spec.spread, size=(n, len(LATENT_NAMES))) + style, LOW, HIGH)
    return np.sort(latents, axis=0)


def latent_quantiles(corpus: str, latents: np.ndarray) -> np.ndarray:
    """Where each latent of ``latents`` ``(K,)`` falls in the corpus population, as quantiles in
    [0, 1] ``(K,)``. Descriptions call a quality high above 0.75 and low below 0.25."""
    population = _population(corpus)
    n = population.shape[0]
    return np.array([np.searchsorted(column, value) / n for column, value in zip(population.T, latents)])


# Besides being in the top / bottom quarter of the population, a quality must pass these absolute
# bounds (low below the first, high above the second) to be named, so that "slow" is slow.
_ABSOLUTE = {"tempo": (0.9, 1.15), "amplitude": (0.85, 1.15), "head_pitch": (-3.0, 15.0),
             "trunk_lean": (-3.0, 6.0), "slump": (-0.2, 0.3), "arm_swing": (0.75, 1.25),
             "jerkiness": (0.15, 0.45), "tremor": (-1.0, 0.9), "hesitation": (0.1, 0.3)}
# Actions where both arms move freely, so that arm swing is visible (elsewhere the arms have a task).
_FREE_ARMS = ("walk", "gesture", "sit_down")


def describe(corpus: str, action: str, latents: np.ndarray, rng: np.random.Generator) -> str:
    """A one-to-three-sentence description of a clip from its latents ``(K,)``: qualities in the top
    or bottom quarter of the corpus population are named (the most extreme first, up to four), in the
    vocabulary of :mod:`eai_llm.claims`, with wording chosen by ``rng``. The emotion is never named. A
    latent and the descriptor that measures it (``QUALITIES[name].descriptor``) rise together; head_pitch
    is high when the head is lowered."""
    latents = np.asarray(latents, dtype=float)
    quantiles = latent_quantiles(corpus, latents)
    notable = []
    for name, value, quantile in zip(LATENT_NAMES, latents, quantiles):
        low_max, high_min = _ABSOLUTE[name]
        high = quantile > 0.75 and value > high_min
        low = quantile < 0.25 and value < low_max
        if (high or low) and (name != "arm_swing" or action in _FREE_ARMS):
            if QUALITIES[name].high if high else QUALITIES[name].low:
                notable.append((abs(quantile - 0.5) + rng.uniform(0, 0.05), name, +1 if high else -1))
    notable.sort(key=lambda item: item[0], reverse=True)
    notable = notable[: int(rng.integers(2, 5))]
    return write_description(ACTIONS[action][0], [(name, direction) for _, name, direction in notable], rng)
