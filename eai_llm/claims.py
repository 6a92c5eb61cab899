"""Claims an explanation makes about a motion, in one vocabulary: written into descriptions, read back
from any text, and checked against the clip's measured movement descriptors.

A **claim** is a movement quality with a direction, ``("tempo", +1)`` for "briskly", or the action the
explanation names. Each quality of :data:`QUALITIES` is measured by one descriptor of
:mod:`eai_llm.descriptors`, and its direction is relative: +1 says the descriptor is high *for its corpus*.
The clip's **percentile** ``p`` in a reference population (:class:`Population`: the training clips of its
corpus) decides:

- a claim of direction +1 is *supported* when ``p >= 0.5`` (-1: ``p <= 0.5``), *contradicted* when the
  clip is notable the other way (``p <= 0.25``; -1: ``p >= 0.75``), otherwise unsupported;
- a quality is *notable* for a clip when ``p >= 0.75`` (high) or ``p <= 0.25`` (low), the same quarter the
  synthetic generator names from its latents;
- a claim whose descriptor the clip does not have (missing joints, clip too short) is *unchecked*.

Parsing (:func:`parse_claims`) matches the phrases of :data:`QUALITIES` and a few common variants, most
specific first (``"without pausing"`` before ``"pause"``); it does not read negation beyond those phrases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .descriptors import DESCRIPTORS

NOTABLE = 0.25  # a quality is notable below this percentile or above 1 - this
MIN_ACTION_CLIPS = 20  # an action's own population of a descriptor needs this many measured training clips
LEVELS = np.linspace(0.0, 1.0, 101)  # the quantiles a Population keeps per descriptor
ALL_CORPORA = "*"  # the population of all of a split's corpora together, the reference when no one corpus fits


class Quality(NamedTuple):
    """A movement quality: the ``descriptor`` that measures it, the phrases that say it is ``high`` or
    ``low`` (a description continues its first sentence with a ``manner`` phrase; ``posture`` and ``quality``
    phrases are clauses of later sentences), and the regexes that read a claim of each direction (the
    phrases themselves are always read)."""

    descriptor: str
    kind: str
    high: tuple[str, ...]
    low: tuple[str, ...]
    high_words: str = ""
    low_words: str = ""


QUALITIES: dict[str, Quality] = {
    "tempo": Quality("extremity_speed", "manner",
                     ("briskly", "quickly", "rapidly", "at a fast pace", "hastily"),
                     ("slowly", "sluggishly", "at a slow pace", "slowly and heavily"),
                     r"brisk(ly)?|quick(ly)?|rapid(ly)?|fast|hast(y|ily)|hurried(ly)?|swift(ly)?",
                     r"slow(ly)?|sluggish(ly)?|leisurely|unhurried"),
    "amplitude": Quality("expansiveness", "manner",
                         ("with wide, expansive movements", "with large, sweeping motions",
                          "with broad, space-filling movements"),
                         ("with small, restrained movements", "with contracted, minimal movements",
                          "keeping the movements small and close to the body"),
                         r"expansive(ly)?|sweeping|wide (movements|motions|gestures)|broad",
                         r"restrained|contracted|minimal|small (movements|motions|gestures)|close to the body"),
    "arm_swing": Quality("arm_swing", "manner",
                         ("with the arms swinging freely", "with lively, energetic arm movements",
                          "swinging the arms vigorously"),
                         ("with the arms held stiffly close to the body", "with barely any arm movement",
                          "keeping the arms still"),
                         r"arms? swing(ing)?|swing(s|ing)? the arms|energetic arm",
                         r"arms? (are |is )?held stiffly|barely any arm|arms? (are |held )?still|stiff arms"),
    "head_pitch": Quality("head_pitch", "posture",
                          ("the head is bowed", "the head hangs low", "the gaze is directed at the floor",
                           "the head is lowered"),
                          ("the head is held high", "the chin is raised", "the head is tilted up"),
                          r"head (is )?(bowed|lowered|hangs|hanging|down|drops)|looks? (down|at the floor)"
                          r"|gaze (is )?(directed )?(down|at the floor)",
                          r"head (is )?(held )?(high|raised|up|tilted up)|chin (is )?(raised|up)|looks? up"),
    "trunk_lean": Quality("trunk_lean", "posture",
                          ("the trunk leans forward", "the upper body is pitched forward", "the torso tilts forward"),
                          ("the trunk leans back", "the upper body is held back", "the torso tilts backward"),
                          r"(leans?|leaning|tilts?|tilted|pitched|bent|bends) forward",
                          r"(leans?|leaning|tilts?|tilted|held|bent) back(ward|wards)?"),
    "slump": Quality("slump", "posture",
                     ("the shoulders are slumped", "the back is rounded and the shoulders droop",
                      "the posture is hunched"),
                     ("the chest is upright and open", "the posture is erect with the shoulders back",
                      "the chest is lifted"),
                     r"slump(ed|s|ing)?|hunch(ed|es|ing)?|droop(s|ing)?|rounded back|back is rounded",
                     r"upright|erect|chest (is )?(lifted|open|out)|shoulders back"),
    "jerkiness": Quality("extremity_jerk", "quality",
                         ("the movements are abrupt and jerky", "the motion is punctuated by sudden, sharp accelerations",
                          "the motion is choppy, with sudden bursts"),
                         ("the motion is smooth", "the movements flow smoothly", "the motion is fluid and even"),
                         r"jerk(y|ily|s)?|abrupt(ly)?|choppy|sudden|sharp accelerations",
                         r"smooth(ly)?|fluid(ly)?|flow(s|ing)? smoothly"),
    "tremor": Quality("tremor", "quality",
                      ("the body trembles", "a visible tremor runs through the hands and head",
                       "the limbs shake slightly"),
                      (),
                      r"trembl(e|es|ing)|tremor|shak(e|es|ing|y)|quiver(s|ing)?|shiver(s|ing)?",
                      r"without (trembling|a tremor|shaking)|steady hands"),
    "hesitation": Quality("pauses", "quality",
                          ("the movement stops and starts hesitantly", "there are noticeable pauses",
                           "the action is interrupted by hesitant pauses"),
                          ("the action is carried out without pausing", "the movement proceeds without hesitation"),
                          r"hesitat(e|es|ing|ion|ant|antly)|paus(e|es|ing)|stops and starts|interrupted",
                          r"without (pausing|pauses|hesitation|hesitating|interruption)|continuous(ly)?"
                          r"|uninterrupted"),
}

#: Verb phrases for the actions the synthetic corpus and corpora like Emilya record, and the regex that
#: reads each back; other actions are written and read by their own words (:func:`action_phrases`).
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "walk": (("walks", "walks across the room", "walks forward"), r"walk(s|ing)?"),
    "carry_walk": (("walks while carrying an object in both hands", "carries an object in both hands while walking"),
                   r"carr(y|ies|ying)"),
    "sit_down": (("sits down on a chair", "lowers themselves onto a chair", "takes a seat on a chair"),
                 r"sits?|sitting|seat|onto a chair"),
    "knock": (("knocks on a door", "raises a hand and knocks on a door", "knocks several times on a door"),
              r"knock(s|ing)?"),
    "lift": (("bends down to lift an object from the floor", "picks up an object from the floor",
              "lifts an object off the floor"), r"lift(s|ing)?|picks? up"),
    "throw": (("throws an object", "winds up and throws an object", "throws an object forward"), r"throw(s|ing)?"),
    "gesture": (("stands in place and gestures", "gestures while standing in place",
                 "stands and moves the arms about"), r"gestur(e|es|ing)|moves the arms about"),
}
SUBJECTS = ("The person", "The actor", "The figure", "This person")


def action_words(action: str) -> str:
    """``"raise-up-both-hands"`` → ``"raise up both hands"``."""
    return " ".join(re.findall(r"[a-z0-9]+", action.lower()))


def action_phrases(action: str) -> tuple[tuple[str, ...], str]:
    """The verb phrases that say ``action`` and the regex that reads it back: from :data:`ACTIONS`, or for
    another action its own words (``performs the "raise up both hands" movement``)."""
    if action in ACTIONS:
        return ACTIONS[action]
    words = action_words(action)
    return (f'performs the "{words}" movement', f'carries out the "{words}" movement'), re.escape(words)


def _quality_patterns() -> list[tuple[str, int, re.Pattern]]:
    """``(quality, direction, regex)`` for every quality, the phrases first (longest first), then the
    variants, the low ones before the high ones (the low ones hold the negations)."""
    phrases, variants = [], []
    for name, quality in QUALITIES.items():
        for direction, texts in ((+1, quality.high), (-1, quality.low)):
            phrases += [(len(text), name, direction, re.escape(text)) for text in texts]
        variants += [(name, -1, quality.low_words), (name, +1, quality.high_words)]
    ordered = [(n, d, p) for _, n, d, p in sorted(phrases, key=lambda item: -item[0])]
    ordered += [(n, -1, p) for n, d, p in variants if d == -1 and p] + [(n, +1, p) for n, d, p in variants if d == 1 and p]
    return [(name, direction, re.compile(rf"\b(?:{pattern})\b")) for name, direction, pattern in ordered]


_PATTERNS = _quality_patterns()


def parse_claims(text: str) -> list[tuple[str, int]]:
    """The quality claims ``[(quality, direction)]`` of ``text``, each once, in order of first mention. Each
    match is blanked before the next pattern runs, so one phrase is one claim. A quality said in both
    directions gives both claims (a self-contradiction, :func:`check_claims`)."""
    text = " " + text.lower() + " "
    found: list[tuple[int, str, int]] = []
    for name, direction, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append((match.start(), name, direction))
        text = pattern.sub(lambda m: " " * len(m.group()), text)
    claims = []
    for _, name, direction in sorted(found):
        if (name, direction) not in claims:
            claims.append((name, direction))
    return claims


def parse_action(text: str, actions: Sequence[str]) -> str | None:
    """The one action of ``actions`` that ``text`` names (the longest match wins: "carries ... while walking"
    is ``carry_walk``, not ``walk``), or ``None`` when it names none or several equally."""
    text = text.lower()
    best, length, tied = None, 0, False
    for action in actions:
        for match in re.finditer(rf"\b(?:{action_phrases(action)[1]})\b", text):
            span = len(match.group())
            if action == "walk" and "carry_walk" in actions and re.search(ACTIONS["carry_walk"][1], text):
                continue  # "walks while carrying" names carry_walk
            if span > length:
                best, length, tied = action, span, False
            elif span == length and action != best:
                tied = True
    return None if tied else best


class Population:
    """Where a clip's descriptor values fall among a reference population of clips: per descriptor the
    quantiles at :data:`LEVELS` ``(101,)``. A descriptor no clip had is absent.

    Kept as quantiles rather than the clips' values so that it is small (it is saved with a model) and the
    same rule reads it everywhere."""

    def __init__(self, quantiles: Mapping[str, Sequence[float]]):
        self.quantiles = {name: np.asarray(q, dtype=np.float64) for name, q in quantiles.items()}
        for name, q in self.quantiles.items():
            if q.shape != LEVELS.shape or not np.isfinite(q).all() or np.any(np.diff(q) < 0):
                raise ValueError(f"Population: descriptor {name!r} has {q.shape[0]} quantiles, expected "
                                 f"{len(LEVELS)} finite non-decreasing values")

    @classmethod
    def from_values(cls, values: np.ndarray, names: Sequence[str]) -> "Population":
        """From a clips-by-descriptors matrix ``(N, K)`` (NaN where a clip lacks a descriptor)."""
        values = np.asarray(values, dtype=np.float64)
        quantiles = {}
        for k, name in enumerate(names):
            column = values[:, k][np.isfinite(values[:, k])]
            if len(column):
                quantiles[name] = np.quantile(column, LEVELS)
        return cls(quantiles)

    def to_dict(self) -> dict[str, list[float]]:
        """``{descriptor: 101 quantiles}``, 7 significant digits (the precision a saved config needs)."""
        return {name: [float(f"{v:.7g}") for v in q] for name, q in self.quantiles.items()}

    def percentile(self, name: str, value: float) -> float:
        """The share of the population below ``value``, ties counted half (NaN when the value or the
        descriptor's population is missing)."""
        if name not in self.quantiles or not np.isfinite(value):
            return float("nan")
        q = self.quantiles[name]
        below, up_to = np.searchsorted(q, value, "left"), np.searchsorted(q, value, "right")
        return float((below + up_to) / 2 / len(q))


def corpus_for_layout(populations: Mapping[str, Mapping], layout: str) -> str:
    """The corpus whose population a clip of ``layout`` is read against at inference, where its corpus is
    not known: the one training corpus whose clips have that layout, else all of them (:data:`ALL_CORPORA`).
    ``populations``: as :func:`reference_population` takes them."""
    fits = [name for name, record in populations.items() if name != ALL_CORPORA and layout in record["layouts"]]
    return fits[0] if len(fits) == 1 else ALL_CORPORA


def reference_population(populations: Mapping[str, Mapping], corpus: str,
                         action: str | None = None) -> tuple[Population, str | None]:
    """The one rule for what a clip is compared with: the training clips of its corpus (all of them,
    :data:`ALL_CORPORA`, for a corpus the populations lack) that perform its ``action``, where the corpus
    kept a population for that action, else all of the corpus's clips; per descriptor, since an action's
    population keeps only the descriptors measured on at least :data:`MIN_ACTION_CLIPS` of its clips. So
    "slowly" means slow for a walk, not slow beside the corpus's throws.

    Args:
        populations: ``{corpus: {"layouts": [name, ...], "quantiles": {descriptor: quantiles},
            "actions": {action: {descriptor: quantiles}}}}``, as :func:`eai_llm.corpus.population_records`
            writes them (``EAIConfig.descriptor_populations``).
        corpus: the clip's corpus; action: its action (recorded, or the action readout's), None if unknown.

    Returns:
        ``(Population, the action whose population it is or None)``.
    """
    record = populations.get(corpus, populations[ALL_CORPORA])
    own = record.get("actions", {}).get(action)
    if own is None:
        return Population(record["quantiles"]), None
    return Population({**record["quantiles"], **own}), action


def notable_qualities(values: Mapping[str, float], population: Population) -> list[tuple[str, int, float]]:
    """The clip's notable qualities ``[(quality, direction, percentile)]``, most extreme first, among those
    with a phrase for their direction (tremor has no "low" phrase)."""
    notable = []
    for name, quality in QUALITIES.items():
        p = population.percentile(quality.descriptor, values.get(quality.descriptor, float("nan")))
        direction = +1 if p >= 1 - NOTABLE else -1 if p <= NOTABLE else 0
        if direction and (quality.high if direction > 0 else quality.low):
            notable.append((name, direction, p))
    return sorted(notable, key=lambda item: -abs(item[2] - 0.5))


def check_claims(claims: Sequence[tuple[str, int]], values: Mapping[str, float],
                 population: Population) -> list[dict]:
    """Each claim with its evidence: ``{"quality", "direction", "descriptor", "value", "unit", "percentile",
    "verdict"}``, verdict one of ``"supported"``, ``"unsupported"``, ``"contradicted"`` (the clip is notable
    the other way, or the explanation also claims the opposite) or ``"unchecked"`` (no measurement, or no
    population for it). A value or percentile that does not exist is None, so that the evidence is plain
    JSON."""
    said = set(claims)
    evidence = []
    for name, direction in claims:
        descriptor = QUALITIES[name].descriptor
        value = float(values.get(descriptor, float("nan")))
        p = population.percentile(descriptor, value)
        if (name, -direction) in said:
            verdict = "contradicted"
        elif not np.isfinite(p):
            verdict = "unchecked"
        elif direction * (p - 0.5) >= 0:
            verdict = "supported"
        elif abs(p - 0.5) >= 0.5 - NOTABLE:
            verdict = "contradicted"
        else:
            verdict = "unsupported"
        evidence.append({"quality": name, "direction": direction, "descriptor": descriptor,
                         "value": value if np.isfinite(value) else None, "unit": DESCRIPTORS[descriptor].unit,
                         "percentile": p if np.isfinite(p) else None, "verdict": verdict})
    return evidence


def write_description(action_phrases: Sequence[str], notable: Sequence[tuple[str, int]],
                      rng: np.random.Generator) -> str:
    """One to three sentences: ``"<subject> <action phrase> <manner>. <posture clauses>. <quality clauses>."``
    from ``notable`` qualities ``(quality, direction)`` (most important first), the action phrase and every
    wording chosen by ``rng`` among the options. With no notable quality it says the motion is ordinary."""
    manner, posture, quality = [], [], []
    for name, direction in notable:
        options = QUALITIES[name].high if direction > 0 else QUALITIES[name].low
        text = str(options[int(rng.integers(len(options)))])
        {"manner": manner, "posture": posture, "quality": quality}[QUALITIES[name].kind].append((name, text))
    subject = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    action_phrase = action_phrases[int(rng.integers(len(action_phrases)))]
    manner.sort(key=lambda item: item[0] != "tempo")  # the adverb of tempo comes first
    if not notable:
        manner = [("tempo", ("at an ordinary pace", "at a moderate, steady pace")[int(rng.integers(2))])]
        posture = [("", ("the posture is relaxed and balanced", "the body is held in an easy, ordinary posture")
                    [int(rng.integers(2))])]
    first = f"{subject} {action_phrase}"
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
        sentences.append(clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1])
    if len(sentences) == 3 and rng.random() < 0.3:  # sometimes two clauses share a sentence
        sentences = [sentences[0], sentences[1] + "; " + sentences[2][0].lower() + sentences[2][1:]]
    return " ".join(s[0].upper() + s[1:] + "." for s in sentences)


def describe_measured(values: Mapping[str, float], population: Population, action: str,
                      rng: np.random.Generator, max_qualities: int = 4) -> str:
    """A description of a clip from its measured descriptors ``values`` relative to ``population``: its
    two to ``max_qualities`` most notable qualities (fewer when it has fewer), the recorded ``action``
    (``""``: "moves"). Never names an emotion."""
    notable = notable_qualities(values, population)[:int(rng.integers(2, max_qualities + 1))]
    phrases = action_phrases(action)[0] if action else ("moves",)
    return write_description(phrases, [(n, d) for n, d, _ in notable], rng)


VERDICT_MARKS = {"supported": "✓", "contradicted": "✗", "unsupported": "○", "unchecked": "?"}
NO_CLAIM = "no claim the project can check"  # shown for a text without one


def evidence_line(evidence: dict) -> str:
    """``"tempo high: extremity_speed 0.412 (percentile 0.81), supported"``: one checked claim as text (the
    report and the web demo print it, after its :data:`VERDICT_MARKS` mark)."""
    measured = ("not measured" if evidence["value"] is None else
                f"{evidence['descriptor']} {evidence['value']:.3g} {evidence['unit']} " +
                ("(no training population)" if evidence["percentile"] is None else
                 f"(percentile {evidence['percentile']:.2f})"))
    return f"{evidence['quality']} {'high' if evidence['direction'] > 0 else 'low'}: {measured}, {evidence['verdict']}"
