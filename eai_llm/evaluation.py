"""Evaluation of a stage-2 model (paper §4.1) and single-clip explanation.

Two ways to read the recognition answer:

- ``generate`` (the paper's protocol): greedy answer to the recognition prompt; the label is parsed
  from the text, synonyms and word forms count (``joy``, ``joyful``, ``happy`` are *happiness*); a
  text with no label or several different labels is an ``Error``.
- ``score``: the LLM's log-likelihood of each candidate answer ``"This is a/an [label] person."``
  given the clip, over the labels of the clip's corpus; the best one is the prediction (never an
  ``Error``), and a softmax over the candidates gives scores.

Descriptions are generated from the description prompt with the true label, as in the paper, and
compared with the reference descriptions (ROUGE-1/ROUGE-L, BLEU, METEOR; :mod:`eai_llm.text_metrics`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .claims import (LEVELS, QUALITIES, Population, check_claims, describe_measured, notable_qualities,
                     parse_action, parse_claims, reference_population)
from .corpus import clip_positions, population_records, split_descriptors
from .descriptors import DESCRIPTORS
from .inference import (DEFAULT_MAX_NEW_TOKENS, description_prompts, generate_answers, joint_saliency,
                        label_probabilities, likeliest_actions, read_actions)
from .labels import ADJECTIVES, SYNONYMS, merged_label
from .render import StickFigure
from .text_metrics import Bleu, Meteor, Rouge

ERROR = "Error"
GALLERY_CLIPS = 8  # test clips drawn in report.html


def label_forms(label: str) -> set[str]:
    """Words that name ``label``: its merged name, adjective and synonyms (``happiness``: happiness, happy,
    joy, joyful)."""
    canonical = merged_label(label)
    forms = {canonical, ADJECTIVES.get(canonical, canonical)}
    return forms | {word for word, target in SYNONYMS.items() if target == canonical}


def parse_label(text: str, labels: list[str]) -> str:
    """The one label of ``labels`` that ``text`` names, else ``ERROR`` (none, or several different ones)."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    found = {merged_label(label) for label in labels if label_forms(label) & words}
    return found.pop() if len(found) == 1 else ERROR


def evaluate_split(model, processor, split, train, modes: tuple[str, ...] = ("generate", "score"),
                   batch_size: int = 16, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, bare_llm=None,
                   explain: bool = True, latents: dict | None = None) -> dict:
    """Recognition (in each of ``modes``), explanations and their faithfulness on a corpus ``split``, with the
    clip-blind baselines (:func:`clip_blind_explanations` from the ``train`` split; ``bare_llm``: a language
    model asked with the label only). Every clip is explained (the description prompt with its true label);
    text metrics compare the described ones with their references (``explain=False``: recognition only);
    ``latents``: the synthetic generator's latents of ``split`` (:func:`read_latents`), to check the claims
    against them too. Returns ``{"metrics": {...}, "samples": [...], "confusion": {mode: (labels, matrix)},
    "gallery": [...]}``: per clip a sample (its explanation with evidence, its prediction per mode and, with
    ``score``, its label probabilities), and the :func:`gallery` of clips to draw."""
    if len(split) == 0:
        raise ValueError("evaluate_split: the split is empty, expected at least one clip")
    labels = model.config.labels
    names = split.features["label"].names
    unknown = sorted({merged_label(n) for n in names} - set(labels))
    if unknown:
        raise ValueError(f"the split's labels {unknown} are not in the model's label vocabulary {labels}; evaluate on "
                         "a corpus with the label set the model was trained on")
    rows = split.with_format("numpy")
    clips = [clip_positions(rows[i]) for i in range(len(rows))]
    layouts = [str(layout) for layout in split["layout"]]
    rates = [float(f) for f in split["fps"]]
    truth = [merged_label(names[i]) for i in split["label"]]
    corpora = [str(c) for c in split["corpus"]]
    metrics, confusion, predictions = {}, {}, {}
    if "generate" in modes:
        answers = generate_answers(model, processor, [processor.recognition_prompt()] * len(clips), clips, layouts,
                                   max_new_tokens=24, batch_size=batch_size, fps=rates)
        predictions["generate"] = [parse_label(a, labels) for a in answers]
    if "score" in modes:
        probabilities = label_probabilities(model, processor, clips, layouts, rates, corpora, batch_size)
        predictions["score"] = [max(p, key=p.get) for p in probabilities]
    for mode, predicted in predictions.items():
        metrics[f"recognition_{mode}"] = recognition_metrics(truth, predicted, corpora)
        confusion[mode] = confusion_matrix(truth, predicted, labels)

    samples = []
    if explain:
        explained, samples = explanation_metrics(model, processor, split, train, (clips, layouts, rates), truth,
                                                 batch_size, max_new_tokens, bare_llm, latents)
        metrics.update(explained)
        for i, sample in enumerate(samples):
            sample["predicted"] = {mode: predicted[i] for mode, predicted in predictions.items()}
            if "score" in predictions:
                sample["scores"] = probabilities[i]
    if "generate" in predictions:
        metrics["recognition_answers"] = [{"corpus": c, "label": t, "answer": a}
                                          for c, t, a in list(zip(corpora, truth, answers))[:10]]
    shown = gallery(model, processor, (clips, layouts, rates), truth, predictions) if samples else []
    return {"metrics": metrics, "samples": samples, "confusion": confusion, "gallery": shown}


def gallery(model, processor, inputs: tuple[list, list, list], truth: list[str],
            predictions: dict[str, list[str]]) -> list[dict]:
    """The clips the report shows: the first clip of each true label, then the next ones, ``GALLERY_CLIPS`` in all;
    ``[{"index": clip index in the split, "figure": StickFigure}]``, titled true → predicted label (by scoring
    where it ran) and joints coloured by the :func:`~eai_llm.inference.joint_saliency` of the prediction."""
    clips, layouts, rates = inputs
    firsts = [truth.index(label) for label in dict.fromkeys(truth)]
    order = firsts + sorted(set(range(len(truth))) - set(firsts))
    predicted = predictions.get("score") or predictions.get("generate") or truth
    parents = {layout["name"]: layout["parents"] for layout in processor.feature_extractor.layouts}
    shown = []
    for i in order[:GALLERY_CLIPS]:
        weights = (None if predicted[i] == ERROR else
                   joint_saliency(model, processor, clips[i], layouts[i], rates[i], predicted[i]))
        shown.append({"index": i, "figure": StickFigure(clips[i], parents[layouts[i]], rates[i],
                                                        f"{truth[i]} → {predicted[i]}", weights)})
    return shown


def explanation_metrics(model, processor, split, train, inputs: tuple[list, list, list], truth: list[str],
                        batch_size: int, max_new_tokens: int, bare_llm=None,
                        latents: dict | None = None) -> tuple[dict, list[dict]]:
    """The explanations part of :func:`evaluate_split` (``inputs``: the split's clips, layout names and frame
    rates): ``({"faithfulness": per system, "faithfulness_latents": the same against ``latents`` (when given),
    "description": text metrics of the model, "description_baselines": per other system}, one sample per
    clip with its explanation's evidence)``. Beside the model: the clip-blind baselines
    (:func:`clip_blind_explanations`, ``bare_llm``) and ``"kinematic"``, the template that writes the clip's
    notable measured qualities and its recorded action without an LLM (:func:`~eai_llm.claims.describe_measured`,
    the writer of ``--describe kinematics`` references; an oracle, precise by construction, that shows what
    the LLM's wording adds or loses against the references)."""
    clips, layouts, rates = inputs
    values, clip_populations = measured_against_corpus(split, train)  # what the claims are checked against
    actions, corpora = [str(a) for a in split["action"]], [str(c) for c in split["corpus"]]
    read = read_actions(model, processor, clips, layouts, rates, batch_size)
    read_action = likeliest_actions(read, len(clips))
    prompts = description_prompts(model, processor, truth, [dict(zip(DESCRIPTORS, row)) for row in values],
                                  corpora, read_action)  # as at inference: the read action, never the recorded
    explanations = generate_answers(model, processor, prompts, clips, layouts, max_new_tokens, batch_size, fps=rates)
    texts = {"eai_llm": explanations, **clip_blind_explanations(train, truth),
             "kinematic": [describe_measured(dict(zip(DESCRIPTORS, row)), population, action, np.random.default_rng(i))
                           for i, (row, population, action) in enumerate(zip(values, clip_populations, actions))]}
    if bare_llm is not None:
        texts["bare_llm"] = generate_answers(bare_llm, processor, [processor.label_only_prompt(t) for t in truth],
                                             max_new_tokens=max_new_tokens, batch_size=batch_size)
    metrics = {"faithfulness": _per_system(texts, split["description"], values, clip_populations, actions)}
    recorded = [i for i, a in enumerate(actions) if a]
    if read is not None and recorded:
        metrics["action_readout_accuracy"] = float(np.mean([read_action[i] == actions[i] for i in recorded]))
    descriptions = split["description"]
    if latents is not None:
        metrics["faithfulness_latents"] = latent_faithfulness(texts, descriptions, latents, actions)
    described = [i for i, text in enumerate(descriptions) if text]
    if described:
        references = [descriptions[i] for i in described]
        metrics["description"] = description_metrics([explanations[i] for i in described], references)
        metrics["description_baselines"] = {name: description_metrics([generated[i] for i in described], references)
                                            for name, generated in texts.items() if name != "eai_llm"}
    samples = []
    for i, text in enumerate(explanations):
        samples.append({"corpus": corpora[i], "label": truth[i], "action": actions[i], "read_action": read_action[i],
                        "generated": text,
                        "reference": descriptions[i],
                        "evidence": check_claims(parse_claims(text), dict(zip(DESCRIPTORS, values[i])),
                                                 clip_populations[i])})
    return metrics, samples


def faithfulness_by_system(texts: dict[str, list[str]], split, train) -> tuple[dict, np.ndarray, list]:
    """:func:`faithfulness_metrics` of each system's ``texts`` (one per clip of ``split``), and as ``"reference"``
    of ``split``'s own descriptions on its described clips, each clip read against its reference population
    in ``train`` (:func:`measured_against_corpus`). Returns ``(metrics per system, descriptors
    (N, K) of split, each clip's Population)``."""
    values, clip_populations = measured_against_corpus(split, train)
    actions = [str(a) for a in split["action"]]
    metrics = _per_system(texts, split["description"], values, clip_populations, actions)
    return metrics, values, clip_populations


def measured_against_corpus(split, train) -> tuple[np.ndarray, list[Population]]:
    """The descriptors ``(N, K)`` of ``split``'s clips and each clip's reference population among ``train``'s
    clips (:func:`~eai_llm.claims.reference_population` of its corpus and recorded action)."""
    populations = population_records(train)
    return split_descriptors(split), [reference_population(populations, str(c), str(a))[0]
                                      for c, a in zip(split["corpus"], split["action"])]


def _per_system(texts: dict[str, list[str]], descriptions: list[str], values: np.ndarray, populations: list,
                actions: list[str]) -> dict:
    """:func:`faithfulness_metrics` of each system's texts, and as ``"reference"`` of the split's own
    ``descriptions`` on its described clips."""
    metrics = {name: faithfulness_metrics(generated, values, populations, actions) for name, generated in texts.items()}
    described = [i for i, text in enumerate(descriptions) if text]
    if described:
        metrics["reference"] = faithfulness_metrics([descriptions[i] for i in described], values[described],
                                                    [populations[i] for i in described],
                                                    [actions[i] for i in described])
    return metrics


LATENTS_FILE = "latents.json"  # beside a synthetic corpus: per split, each clip's generating latents as quantiles


def read_latents(corpus_dir: str | Path, split: str, num_clips: int) -> dict | None:
    """The generating latents of ``split`` (``num_clips`` clips) of a synthetic corpus folder (``LATENTS_FILE``,
    written by ``dataset_scripts/synthetic.py``): ``{"names": quality names, "quantiles": (N, Q)}``, each latent's
    quantile in its corpus's population; None for a corpus without them (every real one). A file that does not
    fit the split is a ``ValueError`` naming it."""
    path = Path(corpus_dir) / LATENTS_FILE
    if not path.is_file():
        return None
    stored = json.loads(path.read_text())
    quantiles = np.asarray(stored.get(split, []), dtype=np.float64)
    names = stored.get("names", [])
    if quantiles.shape != (num_clips, len(names)) or not set(names) <= set(QUALITIES):
        raise ValueError(f"{path}: field {split!r} has latents of shape {quantiles.shape} for qualities {names}, "
                         f"expected ({num_clips}, {len(names)}): one row per clip of the split, qualities of "
                         "eai_llm.claims.QUALITIES")
    return {"names": names, "quantiles": quantiles}


def latent_faithfulness(texts: dict[str, list[str]], descriptions: list[str], latents: dict,
                        actions: list[str]) -> dict:
    """:func:`faithfulness_metrics` of each system's ``texts`` (and of the split's own ``descriptions``, as
    ``"reference"``, on its described clips) against the clips' generating latents instead of their
    measurements: a latent's quantile is read as the percentile of the quality's descriptor (a uniform
    population), so the same rules decide support, contradiction and what is notable."""
    quantiles = latents["quantiles"]
    values = np.full((len(quantiles), len(DESCRIPTORS)), np.nan)
    for column, name in enumerate(latents["names"]):
        values[:, list(DESCRIPTORS).index(QUALITIES[name].descriptor)] = quantiles[:, column]
    uniform = Population({name: LEVELS for name in DESCRIPTORS})
    return _per_system(texts, descriptions, values, [uniform] * len(values), actions)


def clip_blind_explanations(train, truth: list[str]) -> dict[str, list[str]]:
    """Explanations that never look at the clip, for clips of true labels ``truth``: ``"constant"`` (the most
    frequent description of the ``train`` split) and ``"per_label"`` (the most frequent training description
    of the clip's label, else the constant). Empty texts when ``train`` has no description."""
    names = train.features["label"].names
    by_label: dict[str, Counter] = {}
    for label, text in zip(train["label"], train["description"]):
        if text:
            by_label.setdefault(merged_label(names[label]), Counter())[text] += 1
    overall = sum(by_label.values(), Counter())
    constant = overall.most_common(1)[0][0] if overall else ""
    per_label = {label: counts.most_common(1)[0][0] for label, counts in by_label.items()}
    return {"constant": [constant] * len(truth), "per_label": [per_label.get(t, constant) for t in truth]}


def faithfulness_metrics(texts: list[str], values: np.ndarray, populations: list, actions: list[str]) -> dict:
    """Whether explanations ``texts`` (one per clip) say what the clips' measured descriptors ``values``
    ``(N, K)`` (columns :data:`~eai_llm.descriptors.DESCRIPTORS`) show, each read against its clip's
    :class:`~eai_llm.claims.Population` in ``populations`` (:mod:`eai_llm.claims`):

    - ``claim_precision``: supported claims / claims with a measurement;
    - ``claim_recall``: notable qualities of the clips claimed in their direction / notable qualities;
    - ``contradiction_rate``: claims opposite to the measurement or to another claim of the same text / claims;
    - ``self_contradictory``: share of texts that say a quality both ways;
    - ``action_accuracy``: share of the clips with a recorded action whose text names it, and no other of
      the split's actions (``None`` when no clip records one);
    - ``distinct``: distinct texts / texts; ``no_claim``: texts without a parsable quality claim;
      ``claims_per_text``; ``unchecked``: claims of qualities the clip has no measurement of.
    """
    verdicts, notable_total, notable_said, self_contradictory, no_claim, actions_right = Counter(), 0, 0, 0, 0, 0
    known_actions = sorted({a for a in actions if a})
    for text, row, population, action in zip(texts, values, populations, actions):
        measured = dict(zip(DESCRIPTORS, row))
        claims = parse_claims(text)
        evidence = check_claims(claims, measured, population)
        verdicts.update(e["verdict"] for e in evidence)
        self_contradictory += any((q, -d) in claims for q, d in claims)
        no_claim += not claims
        notable = notable_qualities(measured, population)
        notable_total += len(notable)
        notable_said += sum((q, d) in claims for q, d, _ in notable)
        actions_right += bool(action) and parse_action(text, known_actions) == action
    checked = verdicts["supported"] + verdicts["unsupported"] + verdicts["contradicted"]
    claims_total = checked + verdicts["unchecked"]
    n = len(texts)
    with_action = sum(bool(a) for a in actions)
    return {"claim_precision": verdicts["supported"] / checked if checked else None,
            "claim_recall": notable_said / notable_total if notable_total else None,
            "contradiction_rate": verdicts["contradicted"] / claims_total if claims_total else None,
            "self_contradictory": self_contradictory / n if n else None,
            "action_accuracy": actions_right / with_action if with_action else None,
            "distinct": len(set(texts)) / n if n else None,
            "no_claim": no_claim / n if n else None,
            "claims_per_text": claims_total / n if n else None,
            "unchecked": verdicts["unchecked"], "num_texts": n}


def accuracy_by_corpus(truth: list[str], predicted: list[str], corpora: list[str]) -> dict[str, float]:
    """Accuracy per corpus and ``"overall"`` (over all clips, so a corpus weighs by its clip count); an
    ``Error`` prediction counts as wrong. The one rule for accuracy, in stage 1 and in evaluation."""
    truth, predicted, corpora = np.asarray(truth), np.asarray(predicted), np.asarray(corpora)
    correct = truth == predicted
    scores = {c: float(correct[corpora == c].mean()) for c in sorted(set(corpora.tolist()))}
    scores["overall"] = float(correct.mean())
    return scores


def recognition_metrics(truth: list[str], predicted: list[str], corpora: list[str]) -> dict:
    """Accuracy per corpus and overall (:func:`accuracy_by_corpus`), the ``Error`` rate, the clip count, and
    ``per_class``: per true label its precision, recall (the label's accuracy), F1 and clip count (scikit-learn;
    0 where a label is never predicted)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    per_class = {label: {"precision": float(p), "recall": float(r), "f1": float(f), "clips": int(n)}
                 for label, p, r, f, n in zip(labels, precision, recall, f1, support)}
    return {"accuracy": accuracy_by_corpus(truth, predicted, corpora),
            "error_rate": float(np.mean(np.asarray(predicted) == ERROR)), "num_clips": len(truth),
            "per_class": per_class}


def metric_lines(metrics: dict) -> list[str]:
    """One Markdown line per measured task, as the report and the model card print them."""
    lines = []
    for mode in ("generate", "score"):
        if f"recognition_{mode}" in metrics:
            scores = metrics[f"recognition_{mode}"]
            per_corpus = ", ".join(f"{c} {a:.3f}" for c, a in scores["accuracy"].items() if c != "overall")
            lines.append(f"- recognition ({mode}): accuracy {scores['accuracy']['overall']:.3f} ({per_corpus}); "
                         f"Error rate {scores['error_rate']:.3f}; {scores['num_clips']} clips")
    if "description" in metrics:
        d = metrics["description"]
        lines.append(f"- description: ROUGE-1 {d['rouge1']:.3f}, ROUGE-L {d['rougeL']:.3f}, BLEU {d['bleu']:.2f}, "
                     f"METEOR {d['meteor']:.3f}; {d['num_clips']} described clips")
    if "faithfulness" in metrics:
        lines += ["", *explanation_table(metrics)]
    if "faithfulness_latents" in metrics:
        lines += ["", "The same claims against the clips' generating latents (synthetic corpus):", "",
                  *explanation_table(metrics, "faithfulness_latents")]
    return lines


SYSTEMS = {"eai_llm": "EAI-LLM", "constant": "constant description (clip-blind)",
           "per_label": "most frequent description of the label (clip-blind)",
           "bare_llm": "bare LLM, label only (clip-blind)", "reference": "reference descriptions"}
_FAITHFULNESS_COLUMNS = ("claim_precision", "claim_recall", "contradiction_rate", "self_contradictory",
                         "action_accuracy", "distinct", "no_claim")


def explanation_table(metrics: dict, key: str = "faithfulness") -> list[str]:
    """A Markdown table of the explanations: per system (:data:`SYSTEMS`), the text metrics on the described
    clips and the faithfulness metrics ``metrics[key]`` (:func:`faithfulness_metrics`) on every clip (the
    references: on the described ones)."""
    text = {"eai_llm": metrics.get("description"), **metrics.get("description_baselines", {})} \
        if key == "faithfulness" else {}
    header = ["explanations", "ROUGE-1", "ROUGE-L", "BLEU", "METEOR", *_FAITHFULNESS_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, faithful in metrics[key].items():
        scores = text.get(name) or {}
        cells = [f"{scores[k]:.3f}" if k in scores else "" for k in ("rouge1", "rougeL")]
        cells += [f"{scores['bleu']:.2f}" if "bleu" in scores else "", f"{scores['meteor']:.3f}" if scores else ""]
        cells += ["n/a" if faithful[k] is None else f"{faithful[k]:.3f}" for k in _FAITHFULNESS_COLUMNS]
        lines.append(f"| {SYSTEMS.get(name, name)} | " + " | ".join(cells) + " |")
    return lines


def description_metrics(generated: list[str], references: list[str]) -> dict:
    """ROUGE-1, ROUGE-L, METEOR (0–1) and BLEU (0–100) of generated descriptions against references."""
    scores = Rouge().compute(predictions=generated, references=references)
    scores.update(Bleu().compute(predictions=generated, references=references))
    scores.update(Meteor().compute(predictions=generated, references=references))
    return {**{key: float(value) for key, value in scores.items()}, "num_clips": len(generated)}


def confusion_matrix(truth: list[str], predicted: list[str], labels: list[str]) -> tuple[list[str], np.ndarray]:
    """Counts ``(L, L + 1)``: rows true labels, columns predicted labels then ``Error``."""
    columns = list(labels) + [ERROR]
    matrix = np.zeros((len(labels), len(columns)), dtype=np.int64)
    for t, p in zip(truth, predicted):
        matrix[labels.index(t), columns.index(p)] += 1
    return columns, matrix
