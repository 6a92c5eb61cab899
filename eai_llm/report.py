"""The evaluation report: one folder with ``metrics.json``, ``explanations.json`` (every clip's explanation
with its evidence), ``confusion-<mode>.png`` (row-normalised), ``training-curves.png``, ``report.md`` and
``report.html``, a self-contained page (every image and animation embedded, it opens from disk) with the
metrics, per-class scores, confusion matrices, the training curves of both stages and a gallery of test
clips: the animated clip, its true and predicted label, the label probabilities, the explanation and each
claim's evidence.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from .claims import NO_CLAIM, VERDICT_MARKS, evidence_line
from .evaluation import metric_lines
from .folders import write_folder
from .render import animation

STAGES = {"log-align.json": "stage 1 (alignment)", "log-llm.json": "stage 2 (LoRA)"}


def write_report(result: dict, output_dir: str | Path, title: str, run_dir: str | Path | None = None) -> Path:
    """Write the report folder ``output_dir`` atomically (:func:`~eai_llm.folders.write_folder`) from an
    :func:`~eai_llm.evaluation.evaluate_split` ``result``; ``run_dir``: the training run's folder (the model
    folder's parent), whose Trainer logs give the training curves (none drawn where they are missing).
    Returns the path of ``report.md``."""
    metrics = result["metrics"]
    logs = read_training_logs(run_dir) if run_dir is not None else {}
    images = {f"confusion-{mode}.png": confusion_png(mode, *matrix) for mode, matrix in result["confusion"].items()}
    if logs:
        images["training-curves.png"] = training_curves_png(logs)
    lines = [f"# {title}", "", "## Metrics", "", *metric_lines(metrics), "", *per_class_table(metrics), ""]
    lines += [f"![{name}]({name})" for name in images]
    explained = ["", "## Sample explanations (the clips of report.html's gallery)", "",
                 "Each claim with the measured descriptor and its percentile among the corpus's training clips.", ""]
    for sample in (result["samples"][item["index"]] for item in result["gallery"]):  # the clips report.html shows
        explained += [f"- **{sample['label']}** ({sample['corpus']}{', ' + sample['action'] if sample['action'] else ''})",
                      f"  - explanation: {sample['generated']}", *(f"  - {evidence_line(e)}" for e in sample["evidence"])]
        if sample["reference"]:
            explained.append(f"  - reference: {sample['reference']}")
    page = report_html(title, lines, images, result["samples"], result["gallery"])

    def write(folder: Path):
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (folder / "explanations.json").write_text(json.dumps(result["samples"], indent=1))
        for name, data in images.items():
            (folder / name).write_bytes(data)
        (folder / "report.md").write_text("\n".join(lines + (explained if result["samples"] else [])) + "\n")
        (folder / "report.html").write_text(page)

    return write_folder(output_dir, write) / "report.md"


def read_training_logs(run_dir: str | Path) -> dict[str, list[dict]]:
    """The Trainer log histories of a run folder: ``{stage and encoder: [log entries]}`` from
    ``log-align.json`` (``{encoder folder: history}``) and ``log-llm.json`` (a history); missing files are
    left out, an unreadable one is a ``ValueError`` naming it."""
    logs = {}
    for name, stage in STAGES.items():
        path = Path(run_dir) / name
        if not path.is_file():
            continue
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: unreadable Trainer log ({error}), expected the JSON train.py writes") from None
        histories = stored if isinstance(stored, dict) else {"": stored}
        for encoder, history in histories.items():
            if not isinstance(history, list) or not all(isinstance(entry, dict) for entry in history):
                raise ValueError(f"{path}: field {encoder or 'log'!r} is not a list of log entries")
            if any("loss" in entry for entry in history):  # a run shorter than one logging interval has none
                logs[f"{stage} {encoder}".strip()] = history
    return logs


def per_class_table(metrics: dict) -> list[str]:
    """A Markdown table per recognition mode: each true label's precision, recall, F1 and clip count."""
    lines = []
    for mode in ("generate", "score"):
        per_class = metrics.get(f"recognition_{mode}", {}).get("per_class")
        if per_class:
            lines += [f"Per class ({mode}):", "", "| label | precision | recall | F1 | clips |", "| --- | --- | --- | --- | --- |",
                      *(f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['clips']} |"
                        for label, s in per_class.items()), ""]
    return lines


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def _png(figure) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    _pyplot().close(figure)
    return buffer.getvalue()


def confusion_png(mode: str, columns: list[str], matrix: np.ndarray) -> bytes:
    """The confusion matrix ``(L, L + 1)`` (rows true labels, columns predicted labels then ``Error``) as a
    PNG, each row normalised to the share of its clips, with the counts in brackets."""
    plt = _pyplot()
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(1.5 + 0.75 * len(columns), 1.2 + 0.6 * len(matrix)))
    axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    axis.set_yticks(range(len(matrix)), columns[:-1])
    for (i, j), count in np.ndenumerate(matrix):
        axis.text(j, i, f"{rates[i, j]:.2f}\n({count})", ha="center", va="center", fontsize=7,
                  color="white" if rates[i, j] > 0.6 else "black")
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(f"recognition ({mode}), share of each true label's clips")
    return _png(figure)


def training_curves_png(logs: dict[str, list[dict]]) -> bytes:
    """One panel per training stage: the training loss (left axis) and accuracy (right axis: stage 1 the
    classification head's, stage 2 the answer tokens') against the optimizer step."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(logs), figsize=(5 * len(logs), 3.4), squeeze=False)
    for axis, (stage, history) in zip(axes[0], logs.items()):
        logged = [entry for entry in history if "loss" in entry and "step" in entry]
        axis.plot([e["step"] for e in logged], [e["loss"] for e in logged], color="tab:blue", label="loss")
        axis.set_xlabel("step")
        axis.set_ylabel("loss", color="tab:blue")
        axis.set_title(stage)
        accurate = [entry for entry in logged if "accuracy" in entry]
        if accurate:
            twin = axis.twinx()
            twin.plot([e["step"] for e in accurate], [e["accuracy"] for e in accurate], color="tab:orange")
            twin.set_ylim(0, 1)
            twin.set_ylabel("training accuracy", color="tab:orange")
    return _png(figure)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;display:block;overflow-x:auto}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}
img{max-width:100%}.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:1em}
.clip{border:1px solid #ddd;border-radius:6px;padding:.6em}.bar{display:flex;align-items:center;font-size:85%}
.bar .name{width:7em}.bar .track{flex:1;background:#eee;height:.8em;margin:0 .4em}
.bar .fill{background:#4a78c2;height:100%}.supported{color:#17803d}.contradicted{color:#c0262d}
.unsupported{color:#b86e00}.unchecked{color:#777}.evidence{font-size:85%;padding-left:1.2em}"""


def report_html(title: str, lines: list[str], images: dict[str, bytes], samples: list[dict],
                gallery: list[dict]) -> str:
    """The self-contained page: the Markdown ``lines`` rendered (markdown-it), their images (``![name](name)``)
    embedded from ``images``, then a card per ``gallery`` clip (its ``figure`` as an animated GIF and its
    sample)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render("\n".join(lines))
    for name, data in images.items():
        body = body.replace(f'src="{name}"', f'src="{_data_uri(data, "image/png")}"')
    cards = [_card(samples[item["index"]], animation(item["figure"], "gif")) for item in gallery]
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}"
            + (f"<h2>Test clips</h2><p>Joints coloured by how much each drives the predicted label (input "
               f"gradient); the explanation is asked with the true label, as in the paper.</p>"
               f"<div class=gallery>{''.join(cards)}</div>" if cards else "") + "</body></html>\n")


def _data_uri(data: bytes, kind: str) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _card(sample: dict, gif: bytes) -> str:
    """One gallery clip: animation, labels, probability bars, explanation with its evidence, reference."""
    e = html.escape
    predicted = ", ".join(f"{e(label)} ({mode})" for mode, label in sample.get("predicted", {}).items())
    bars = "".join(f"<div class=bar><span class=name>{e(label)}</span><span class=track><span class=fill "
                   f"style='display:block;width:{100 * p:.1f}%'></span></span>{p:.2f}</div>"
                   for label, p in sorted(sample.get("scores", {}).items(), key=lambda item: -item[1]))
    evidence = "".join(f"<li class={item['verdict']}>{VERDICT_MARKS[item['verdict']]} {e(evidence_line(item))}</li>"
                       for item in sample["evidence"])
    return (f"<div class=clip><img src='{_data_uri(gif, 'image/gif')}' alt='test clip'>"
            f"<p><b>true</b> {e(sample['label'])} · <b>predicted</b> {predicted or 'n/a'}"
            f"{' · ' + e(sample['action']) if sample['action'] else ''}</p>{bars}"
            f"<p class=explanation>{e(sample['generated'])}</p>"
            f"<ul class=evidence>{evidence or f'<li class=unchecked>{NO_CLAIM}</li>'}</ul>"
            + (f"<p><small>reference: {e(sample['reference'])}</small></p>" if sample["reference"] else "") + "</div>")
