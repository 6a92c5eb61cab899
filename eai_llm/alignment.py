"""Stage 1: skeleton–language alignment of the skeleton encoder (paper §3.4, eqs. 3–6), trained with the
HF Trainer (SGD with momentum, linear warm-up, ×0.1 steps, as the paper) and saved with ``save_pretrained``.

``L_ce``  cross-entropy of the classification head on the semantic token (the CTR-GCN baseline)
``L_se = L_ce + L_con(z_g, z_text)``                                   (eq. 6)
``L_st = L_ce + ½ (L_con(pool(z_s), z_text) + L_con(pool(z_t), z_text))``  (eq. 5)

As DESIGN.md reads eq. 5, the spatial and temporal tokens are pooled (masked mean) to one vector each
before the contrastive loss. The token heads are 1x1 convolutions, so each pooled vector is a linear
map of the same pooled feature ``z_g`` is made from: L_st aligns two more linear views of it and
pushes no single token towards the text. A per-token variant is left for later.

``L_con`` is the symmetric KL contrastive loss with a multi-positive target (eq. 4): within a batch,
every skeleton whose label equals a text's label is a positive for it. ``z_text`` comes from a frozen
text encoder over "This is a/an [label] person." and is computed once per label. When several
corpora train together (the UST setting), the logits of labels a sample's corpus does not have are
masked out of its cross-entropy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import TrainingArguments, set_seed
from transformers.utils import logging

from .configuration_eai import EAISkeletonConfig
from .corpus import clip_positions, load_corpora
from .descriptors import DESCRIPTORS
from .evaluation import accuracy_by_corpus
from .folders import check_replaceable, write_file, write_folder
from .joint_layout import JointLayout
from .labels import label_prompt, merged_label
from .layouts import get_layout
from .logging_trainer import AccuracyLoggingTrainer, label_accuracy
from .modeling_eai import EAISkeletonEncoder
from .processing_eai import SkeletonProcessor
from .run_config import AlignSettings, TrainConfig, process_state
from .text_encoders import load_text_encoder

logger = logging.get_logger(__name__)

LOSSES = ("ce", "se", "st")


def contrastive_kl_loss(skeleton: torch.Tensor, text: torch.Tensor, labels: torch.Tensor,
                        logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric KL contrastive loss with multi-positive targets (eq. 3–4).

    Args:
        skeleton: ``(B, D)`` skeleton features; text: ``(B, D)`` the text feature of each sample's label;
        labels: ``(B,)`` label ids; logit_scale: ``1 / τ``.

    Returns:
        ``½ (KL(ŷ ‖ p_s2t) + KL(ŷ ‖ p_t2s))`` averaged over the batch, where ``ŷ_ij ∝ [y_i = y_j]``.
    """
    logits = logit_scale * F.normalize(skeleton, dim=-1) @ F.normalize(text, dim=-1).T  # (B, B)
    target = (labels[:, None] == labels[None, :]).to(logits.dtype)
    target = target / target.sum(1, keepdim=True)
    skeleton_to_text = F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")
    text_to_skeleton = F.kl_div(F.log_softmax(logits.T, dim=1), target, reduction="batchmean")
    return (skeleton_to_text + text_to_skeleton) / 2


def mask_to_corpus(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` logits with the labels a sample's corpus lacks (``allowed`` False) set to the lowest value."""
    return logits.masked_fill(~allowed, torch.finfo(logits.dtype).min)


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, N, D)`` tokens, ``(B, N)`` mask → ``(B, D)`` mean over the real tokens."""
    mask = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * mask).sum(1) / mask.sum(1)


class SkeletonTextAlignment(nn.Module):
    """The stage-1 training module: the encoder, the frozen label text features, the temperature and
    the per-corpus label masks. ``forward`` returns ``{"loss", "logits"}`` for the Trainer.

    Args:
        encoder: the skeleton encoder being trained (its ``config.id2label`` is the label vocabulary).
        text_features: ``(num_labels, D)`` text features of the label prompts.
        corpus_label_mask: ``(num_corpora, num_labels)`` bool, the labels each corpus has.
        loss: ``"ce"``, ``"se"`` or ``"st"`` (module docstring).
        temperature: initial ``τ``; learn_temperature: whether ``τ`` is trained.
    """

    def __init__(self, encoder: EAISkeletonEncoder, text_features: torch.Tensor, corpus_label_mask: torch.Tensor,
                 loss: str = "st", temperature: float = 0.07, learn_temperature: bool = True):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"align.loss is {loss!r}, expected one of {LOSSES}")
        self.encoder, self.loss = encoder, loss
        self.register_buffer("text_features", text_features)
        self.register_buffer("corpus_label_mask", corpus_label_mask)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)), requires_grad=learn_temperature)

    def forward(self, skeleton_values, joint_mask, frame_mask, layout_ids, motion_descriptors, labels,
                corpus_ids) -> dict:
        out = self.encoder(skeleton_values, joint_mask, frame_mask, layout_ids, motion_descriptors)
        logits = mask_to_corpus(out.logits, self.corpus_label_mask[corpus_ids])
        loss = F.cross_entropy(logits, labels)
        scale = self.logit_scale.exp().clamp(max=100)
        text = self.text_features[labels]
        if self.loss == "se":
            loss = loss + contrastive_kl_loss(out.semantic_token, text, labels, scale)
        elif self.loss == "st":
            spatial = masked_mean(out.spatial_tokens, out.spatial_mask)
            temporal = masked_mean(out.temporal_tokens, out.temporal_mask)
            loss = loss + (contrastive_kl_loss(spatial, text, labels, scale)
                           + contrastive_kl_loss(temporal, text, labels, scale)) / 2
        return {"loss": loss, "logits": logits}


class LabelVocabulary:
    """The merged label vocabulary of a corpus and the labels each of its corpora has.

    Built from a corpus split's ``label`` ClassLabel names and ``corpus`` column; every label is
    mapped to its merged form (``joy`` → ``happiness``).
    """

    def __init__(self, label_names: list[str], corpus_labels: dict[str, list[str]]):
        self.labels = sorted({merged_label(n) for n in label_names})
        self.corpora = sorted(corpus_labels)
        self.label_ids = {label: i for i, label in enumerate(self.labels)}
        self.corpus_labels = {c: sorted({merged_label(label) for label in corpus_labels[c]}) for c in self.corpora}
        mask = torch.zeros(len(self.corpora), len(self.labels), dtype=torch.bool)
        for c, corpus in enumerate(self.corpora):
            for label in self.corpus_labels[corpus]:
                mask[c, self.label_ids[label]] = True
        self.corpus_label_mask = mask

    @classmethod
    def from_split(cls, split) -> "LabelVocabulary":
        names = split.features["label"].names
        meta = split.select_columns(["corpus", "label"])[:]
        corpus_labels: dict[str, set] = {}
        for corpus, label in zip(meta["corpus"], meta["label"]):
            corpus_labels.setdefault(corpus, set()).add(names[label])
        return cls(names, {c: sorted(labels) for c, labels in corpus_labels.items()})

    def id_of(self, label: str) -> int:
        merged = merged_label(label)
        if merged not in self.label_ids:
            raise ValueError(f"label {label!r} is not in the model's label vocabulary {self.labels}")
        return self.label_ids[merged]

    def corpus_id_of(self, corpus: str) -> int:
        if corpus not in self.corpora:
            raise ValueError(f"corpus {corpus!r} was not seen in training; the model knows {self.corpora}")
        return self.corpora.index(corpus)

    def prompts(self) -> list[str]:
        return [label_prompt(label) for label in self.labels]


class SkeletonCollator:
    """Corpus rows (numpy format) → a processed batch with merged ``labels`` and ``corpus_ids``.

    With ``mirror_seed`` (training only), each clip of a layout that can be mirrored
    (:meth:`~eai_llm.joint_layout.JointLayout.mirror_order`) is, with probability 1/2, replaced by its
    mirror image: x negated and left and right joints swapped, before the processor (so its descriptors
    are those of the mirrored clip). A style or an emotion does not change in the mirror."""

    def __init__(self, processor: SkeletonProcessor, vocabulary: LabelVocabulary, label_names: list[str],
                 mirror_seed: int | None = None):
        self.processor, self.vocabulary = processor, vocabulary
        self.row_label_ids = [vocabulary.id_of(name) for name in label_names]  # dataset label id -> vocab id
        self.mirror_rng = None if mirror_seed is None else np.random.default_rng(mirror_seed)
        self.mirror_orders = {layout["name"]: JointLayout.from_dict(layout).mirror_order()
                              for layout in processor.layouts}
        never = [name for name, order in self.mirror_orders.items() if order is None]
        if mirror_seed is not None and never:
            logger.warning("layouts %s have a sided joint without a canonical partner: their clips are not mirrored",
                           never)

    def _mirrored(self, clip: np.ndarray, layout: str) -> np.ndarray:
        """``(T, J, 3)`` ``clip``, or with probability 1/2 its mirror image (class docstring)."""
        order = self.mirror_orders[layout]
        if self.mirror_rng is None or order is None or self.mirror_rng.random() < 0.5:
            return clip
        return clip[:, order] * np.array([-1.0, 1.0, 1.0], dtype=clip.dtype)

    def __call__(self, rows: list[dict]) -> dict:
        batch = self.processor([self._mirrored(clip_positions(row), str(row["layout"])) for row in rows],
                               [str(row["layout"]) for row in rows], [float(row["fps"]) for row in rows],
                               return_tensors="pt")
        batch["labels"] = torch.tensor([self.row_label_ids[int(row["label"])] for row in rows])
        batch["corpus_ids"] = torch.tensor([self.vocabulary.corpus_id_of(str(row["corpus"])) for row in rows])
        return dict(batch)


def warmup_step_decay(warmup_steps: int, decay_steps: list[int], factor: float = 0.1):
    """LR multiplier per optimizer step: linear warm-up, then ×``factor`` at each of ``decay_steps``."""
    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return factor ** sum(step >= s for s in decay_steps)
    return multiplier


def _row_batches(split, batch_size: int):
    """``split``'s rows in numpy format, as lists of up to ``batch_size`` row dicts."""
    rows = split.with_format("numpy")
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        yield [{key: chunk[key][i] for key in chunk} for i in range(len(next(iter(chunk.values()))))]


def stage_one_schedule(align: AlignSettings, train_clips: int, processes: int) -> tuple[int, int, list[int]]:
    """``(optimizer steps, warm-up steps, decay steps)`` of stage 1: ``align.epochs`` epochs of
    ``train_clips`` clips in batches of ``align.batch_size`` per process, stretched to at least
    ``align.min_steps`` steps, the warm-up and decay epochs stretched alike."""
    steps = max(align.epochs * math.ceil(train_clips / (align.batch_size * processes)), align.min_steps)
    per_epoch = steps / align.epochs
    return steps, round(align.warmup_epochs * per_epoch), [round(e * per_epoch) for e in align.decay_epochs]


def descriptor_statistics(processor: SkeletonProcessor, split, batch_size: int = 256) -> tuple[list, list]:
    """Mean and standard deviation over ``split``'s clips of each of the processor's descriptors (absent
    values left out); a descriptor no clip has, or one without spread, gets mean 0 and scale 1."""
    chunks = [np.zeros((0, len(processor.descriptors)))]
    for items in _row_batches(split.select_columns(["positions", "num_joints", "layout", "fps"]), batch_size):
        chunks.append(processor([clip_positions(item) for item in items], [str(item["layout"]) for item in items],
                                [float(item["fps"]) for item in items])["motion_descriptors"])
    values = np.concatenate(chunks).astype(np.float64)  # (N, K)
    seen = np.isfinite(values).any(axis=0)
    mean = np.where(seen, np.nanmean(np.where(seen, values, 0.0), axis=0), 0.0)
    scale = np.where(seen, np.nanstd(np.where(seen, values, 0.0), axis=0), 1.0)
    return mean.tolist(), np.where(scale > 1e-8, scale, 1.0).tolist()


@torch.no_grad()
def predict(encoder: EAISkeletonEncoder, collator: SkeletonCollator, split, batch_size: int = 64) -> dict:
    """Masked argmax of the classification head over a corpus split.

    Returns ``{"labels": [N], "predictions": [N], "corpora": [N]}``: merged label names and corpus names."""
    encoder.eval()
    device = encoder.device
    labels, predictions, corpora = [], [], []
    for items in _row_batches(split, batch_size):
        batch = collator(items)
        logits = encoder(**{k: batch[k].to(device) for k in SkeletonProcessor.model_input_names}).logits
        allowed = collator.vocabulary.corpus_label_mask.to(device)[batch["corpus_ids"].to(device)]
        predictions += mask_to_corpus(logits, allowed).argmax(-1).cpu().tolist()
        labels += batch["labels"].tolist()
        corpora += [str(item["corpus"]) for item in items]
    names = collator.vocabulary.labels
    return {"labels": [names[i] for i in labels], "predictions": [names[i] for i in predictions], "corpora": corpora}


def train_alignment(config: TrainConfig, corpus=None) -> tuple[EAISkeletonEncoder, dict]:
    """Stage 1 on ``config.corpus`` (or an already loaded ``corpus``). Joint training writes
    ``<output_dir>/encoder`` (encoder + processor + ``metrics.json``, ``from_pretrained``-ready); separate
    training writes ``<output_dir>/encoder-<corpus>`` per corpus; both write ``metrics-align.json`` and
    ``log-align.json`` (each encoder's Trainer log history: loss and training accuracy against step).
    Returns the (last) encoder and the metrics (test accuracy per corpus and overall)."""
    corpus = corpus if corpus is not None else load_corpora(config.corpus_folders)
    if config.corpora:
        missing = sorted(set(config.corpora) - set(corpus["train"]["corpus"]))
        if missing:
            raise ValueError(f"corpora {missing} are not in {config.corpus}")
        corpus = corpus.filter(lambda c: c in config.corpora, input_columns="corpus")
    output_dir = Path(config.output_dir)
    text_encoder = load_text_encoder(**config.text_encoder.model_dump())  # once, for every encoder
    names = sorted(set(corpus["train"]["corpus"]))
    parts = {"encoder": corpus} if config.align.joint else {
        f"encoder-{name}": corpus.filter(lambda c, name=name: c == name, input_columns="corpus") for name in names}
    results, speeds, steps, logs = {"labels": [], "predictions": [], "corpora": []}, [], {}, {}
    for folder, part in parts.items():
        encoder, result, speed, logs[folder] = _train_one(config, part, text_encoder, output_dir / folder)
        steps[folder] = logs[folder][-1]["step"]
        for key in results:
            results[key] += result[key]
        speeds.append(speed)
    accuracy = accuracy_by_corpus(results["labels"], results["predictions"], results["corpora"])
    metrics = {"loss": config.align.loss, "joint": config.align.joint, "optimizer_steps": steps,
               "accuracy": {**accuracy, "train_clips_per_second": sum(speeds) / len(speeds)}}
    if process_state().is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_file(output_dir / "metrics-align.json", json.dumps(metrics, indent=2))
        write_file(output_dir / "log-align.json", json.dumps(logs, indent=2))
    process_state().wait_for_everyone()  # stage 2 reads the encoder the main process wrote
    return encoder, metrics


def _train_one(config: TrainConfig, corpus, text_encoder, save_dir: Path) -> tuple[EAISkeletonEncoder, dict, float,
                                                                                   list[dict]]:
    """Train one encoder on ``corpus["train"]``, save it (with its processor and test accuracy) to
    ``save_dir``; returns the encoder, its test predictions (:func:`predict`), clips/s in training and the
    Trainer's log history (loss and accuracy every 10 steps; its last entry has the optimizer steps taken)."""
    check_replaceable(save_dir)  # refused now, not after the training
    set_seed(config.seed)
    train, test = corpus["train"], corpus["test"]
    vocabulary = LabelVocabulary.from_split(train)
    layouts = [get_layout(name) for name in sorted(set(train["layout"]) | set(test["layout"]))]
    processor = SkeletonProcessor(layouts=layouts, num_frames=config.num_frames,
                                  descriptors=list(DESCRIPTORS) if config.encoder.descriptors else [],
                                  face_forward=config.encoder.face_forward)
    mean, scale = descriptor_statistics(processor, train)
    text_features = text_encoder(vocabulary.prompts())
    encoder = EAISkeletonEncoder(EAISkeletonConfig(
        layouts=processor.layouts, num_frames=config.num_frames, token_dim=text_features.shape[1],
        id2label=dict(enumerate(vocabulary.labels)), corpus_labels=vocabulary.corpus_labels,
        descriptor_names=processor.descriptors, descriptor_mean=mean, descriptor_scale=scale,
        **config.encoder.fields()))
    align = config.align
    module = SkeletonTextAlignment(encoder, text_features, vocabulary.corpus_label_mask, align.loss,
                                   align.temperature, align.learn_temperature)
    collator = SkeletonCollator(processor, vocabulary, train.features["label"].names)
    training_collator = SkeletonCollator(processor, vocabulary, train.features["label"].names,
                                         mirror_seed=config.seed + process_state().process_index if align.mirror
                                         else None)  # each process its own draws

    steps, warmup_steps, decay_steps = stage_one_schedule(align, len(train), process_state().num_processes)
    args = TrainingArguments(
        output_dir=str(save_dir.with_name(f"checkpoints-{save_dir.name}")), per_device_train_batch_size=align.batch_size,
        max_steps=steps, save_strategy="no", report_to="none", remove_unused_columns=False,
        dataloader_pin_memory=torch.cuda.is_available(), logging_steps=10, seed=config.seed,
        max_grad_norm=align.max_grad_norm, ddp_find_unused_parameters=align.loss != "st",  # ce/se skip token heads
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=False)
    optimizer = torch.optim.SGD(module.parameters(), lr=align.learning_rate, momentum=align.momentum,
                                nesterov=True, weight_decay=align.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_step_decay(warmup_steps, decay_steps))
    trainer = AccuracyLoggingTrainer(model=module, args=args, train_dataset=train.with_format("numpy"),
                                     data_collator=training_collator, optimizers=(optimizer, schedule),
                                     accuracy=label_accuracy)
    trained = trainer.train()
    speed = trained.metrics["train_samples_per_second"]

    result = predict(encoder, collator, test)
    if trainer.is_world_process_zero():
        scores = accuracy_by_corpus(result["labels"], result["predictions"], result["corpora"])

        def write(folder: Path):
            encoder.save_pretrained(folder)
            processor.save_pretrained(folder)
            (folder / "metrics.json").write_text(json.dumps({**scores, "train_clips_per_second": speed}, indent=2))

        write_folder(save_dir, write)
    return encoder, result, speed, trainer.state.log_history
