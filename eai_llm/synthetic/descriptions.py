"""Descriptions of synthetic clips: one to three sentences written from a clip's latents compared
with its corpus population (never from its label)."""

from __future__ import annotations

import functools

import numpy as np

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
    quantiles = latent_quantiles(corpus, latents)
    notable = []
    for name, value, quantile in zip(LATENT_NAMES, latents, quantiles):
        low_max, high_min = _ABSOLUTE[name]
        high = quantile > 0.75 and value > high_min
        low = quantile < 0.25 and value < low_max
        if (high or low) and (name != "arm_swing" or action in _FREE_ARMS):
            options = _phrases(name, high)
            if options:
                notable.append((abs(quantile - 0.5) + rng.uniform(0, 0.05), name, options))
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
    """Clauses joined into one: ``"a, b and c"``."""
    if len(clauses) == 1:
        return clauses[0]
    return ", ".join(clauses[:-1]) + " and " + clauses[-1]
