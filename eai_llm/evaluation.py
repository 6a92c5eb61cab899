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
from pathlib import Path

import numpy as np

from .corpus import clip_positions
from .folders import write_folder
from .inference import DEFAULT_MAX_NEW_TOKENS, generate_answers, score_answers
from .labels import ADJECTIVES, SYNONYMS, merged_label
from .text_metrics import Bleu, Meteor, Rouge

ERROR = "Error"


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


def evaluate_split(model, processor, split, modes: tuple[str, ...] = ("generate", "score"),
                   batch_size: int = 16, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> dict:
    """Recognition (in each of ``modes``) and description metrics on a corpus split. Returns
    ``{"metrics": {...}, "samples": [...], "confusion": {mode: (labels, matrix)}}``."""
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
        corpus_labels = model.config.skeleton_config.corpus_labels or {}
        predicted = [None] * len(clips)
        for corpus in sorted(set(corpora)):
            candidates = corpus_labels.get(corpus, labels)
            where = [i for i, c in enumerate(corpora) if c == corpus]
            scores = score_answers(model, processor, [clips[i] for i in where], [layouts[i] for i in where],
                                   [processor.recognition_answer(label) for label in candidates], batch_size,
                                   fps=[rates[i] for i in where])
            for i, best in zip(where, scores.argmax(1)):
                predicted[i] = candidates[best]
        predictions["score"] = predicted
    for mode, predicted in predictions.items():
        metrics[f"recognition_{mode}"] = recognition_metrics(truth, predicted, corpora)
        confusion[mode] = confusion_matrix(truth, predicted, labels)

    descriptions = split["description"]
    described = [i for i, text in enumerate(descriptions) if text]
    samples = []
    if described:
        prompts = [processor.description_prompt(truth[i]) for i in described]
        generated = generate_answers(model, processor, prompts, [clips[i] for i in described],
                                     [layouts[i] for i in described], max_new_tokens, batch_size,
                                     fps=[rates[i] for i in described])
        references = [descriptions[i] for i in described]
        metrics["description"] = description_metrics(generated, references)
        samples = [{"corpus": corpora[i], "label": truth[i], "generated": g, "reference": r}
                   for i, g, r in zip(described, generated, references)]
    if "generate" in predictions:
        metrics["recognition_answers"] = [{"corpus": c, "label": t, "answer": a}
                                          for c, t, a in list(zip(corpora, truth, answers))[:10]]
    return {"metrics": metrics, "samples": samples, "confusion": confusion}


def accuracy_by_corpus(truth: list[str], predicted: list[str], corpora: list[str]) -> dict[str, float]:
    """Accuracy per corpus and ``"overall"`` (over all clips, so a corpus weighs by its clip count); an
    ``Error`` prediction counts as wrong. The one rule for accuracy, in stage 1 and in evaluation."""
    truth, predicted, corpora = np.asarray(truth), np.asarray(predicted), np.asarray(corpora)
    correct = truth == predicted
    scores = {c: float(correct[corpora == c].mean()) for c in sorted(set(corpora.tolist()))}
    scores["overall"] = float(correct.mean())
    return scores


def recognition_metrics(truth: list[str], predicted: list[str], corpora: list[str]) -> dict:
    """Accuracy per corpus and overall (:func:`accuracy_by_corpus`), the ``Error`` rate, the clip count."""
    return {"accuracy": accuracy_by_corpus(truth, predicted, corpora),
            "error_rate": float(np.mean(np.asarray(predicted) == ERROR)), "num_clips": len(truth)}


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


def write_report(result: dict, output_dir: str | Path, title: str) -> Path:
    """``metrics.json``, ``confusion-<mode>.png`` and ``report.md`` (metrics and sample explanations), written
    as one folder ``output_dir`` atomically (:func:`~eai_llm.folders.write_folder`). Returns the report's path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    metrics = result["metrics"]

    def write(folder: Path):
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
        lines = [f"# {title}", "", "## Metrics", "", *metric_lines(metrics), ""]
        for mode, (columns, matrix) in result["confusion"].items():
            figure, axis = plt.subplots(figsize=(1 + 0.6 * len(columns), 1 + 0.6 * len(matrix)))
            axis.imshow(matrix, cmap="Blues")
            axis.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
            axis.set_yticks(range(len(matrix)), columns[:-1])
            for (i, j), count in np.ndenumerate(matrix):
                axis.text(j, i, str(count), ha="center", va="center", fontsize=8)
            axis.set_xlabel("predicted")
            axis.set_ylabel("true")
            axis.set_title(f"recognition ({mode})")
            figure.tight_layout()
            figure.savefig(folder / f"confusion-{mode}.png", dpi=120)
            plt.close(figure)
            lines.append(f"Confusion matrix ({mode}): `confusion-{mode}.png`.")
        if result["samples"]:
            lines += ["", "## Sample explanations", ""]
            for sample in result["samples"][:5]:
                lines += [f"- **{sample['label']}** ({sample['corpus']})", f"  - generated: {sample['generated']}",
                          f"  - reference: {sample['reference']}"]
        (folder / "report.md").write_text("\n".join(lines) + "\n")

    return write_folder(output_dir, write) / "report.md"
