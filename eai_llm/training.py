"""Training configuration (YAML) and stage 1 (skeleton–language alignment) with the HF Trainer.

The Trainer runs stage 1 as it runs stage 2: accelerate underneath (one GPU, several with
``accelerate launch``, or the CPU), progress and logging for free. The optimizer and schedule are
the paper's: SGD with momentum, linear warm-up, ×0.1 steps. The encoder is saved with
``save_pretrained`` at the end (no intermediate checkpoints of the training wrapper).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from accelerate import PartialState
from datasets import DatasetDict, concatenate_datasets
from transformers import Trainer, TrainingArguments, set_seed

from .alignment import (LabelVocabulary, SkeletonCollator, SkeletonTextAlignment, accuracy_by_corpus, predict,
                        warmup_step_decay)
from .configuration_eai import EAISkeletonConfig
from .corpus import load_corpus
from .modeling_eai import EAISkeletonEncoder
from .processing_eai import SkeletonProcessor
from .text_encoders import load_text_encoder


@dataclass
class TextEncoderSettings:
    backend: str = "minilm"  # "minilm" (offline default) or "open_clip" (the paper: ViT-L-14, openai)
    name: str | None = None
    pretrained: str | None = None


@dataclass
class AlignSettings:
    loss: str = "st"  # "ce" (CTR-GCN baseline), "se" (eq. 6) or "st" (eq. 5)
    joint: bool = True  # one encoder over all corpora (UST) or one per corpus
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0004
    warmup_epochs: int = 5
    decay_epochs: list[int] = field(default_factory=lambda: [20, 26])
    temperature: float = 0.07
    learn_temperature: bool = True
    max_grad_norm: float = 1.0  # ours (the Trainer's default); the paper gives none, 0 disables clipping


@dataclass
class TrainConfig:
    corpus: str | list[str]  # one corpus folder, or several to train on together (e.g. Emilya, KDAE, EGBM)
    output_dir: str
    seed: int = 0
    corpora: list[str] | None = None  # train on these corpora of the corpus only
    num_frames: int = 64
    encoder: dict = field(default_factory=dict)  # EAISkeletonConfig fields (block_channels, ...)
    text_encoder: TextEncoderSettings = field(default_factory=TextEncoderSettings)
    align: AlignSettings = field(default_factory=AlignSettings)


def _build(cls, data: dict, where: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}, expected some of {sorted(known)}")
    values = {}
    for key, value in data.items():
        nested = {"text_encoder": TextEncoderSettings, "align": AlignSettings}.get(key) if cls is TrainConfig else None
        values[key] = _build(nested, value or {}, f"{where}.{key}") if nested else value
    try:
        return cls(**values)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from None


def load_config(path: str | Path, **overrides) -> TrainConfig:
    """Read a YAML training config; ``overrides`` replace top-level keys (e.g. ``output_dir``)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return _build(TrainConfig, data, str(path))


def train_alignment(config: TrainConfig, corpus=None) -> tuple[EAISkeletonEncoder, dict]:
    """Stage 1 on ``config.corpus`` (or an already loaded ``corpus``). Joint training writes
    ``<output_dir>/encoder`` (encoder + processor, ``from_pretrained``-ready) and ``metrics.json``;
    separate training writes ``<output_dir>/encoder-<corpus>`` per corpus. Returns the (last) encoder
    and the test accuracy per corpus."""
    corpus = corpus if corpus is not None else load_corpora(config.corpus)
    if config.corpora:
        missing = sorted(set(config.corpora) - set(corpus["train"]["corpus"]))
        if missing:
            raise ValueError(f"corpora {missing} are not in {config.corpus}")
        corpus = corpus.filter(lambda c: c in config.corpora, input_columns="corpus")
    output_dir = Path(config.output_dir)
    text_encoder = load_text_encoder(**dataclasses.asdict(config.text_encoder))  # once, for every encoder
    if config.align.joint:
        encoder, metrics = _train_one(config, corpus, text_encoder, output_dir / "encoder")
    else:
        metrics = {}
        speeds = []
        for name in sorted(set(corpus["train"]["corpus"])):
            part = corpus.filter(lambda c: c == name, input_columns="corpus")
            encoder, scores = _train_one(config, part, text_encoder, output_dir / f"encoder-{name}")
            metrics[name] = scores[name]
            speeds.append(scores["train_clips_per_second"])
        metrics["overall"] = _weighted_overall(metrics, corpus["test"]["corpus"])
        metrics["train_clips_per_second"] = sum(speeds) / len(speeds)
    metrics = {"loss": config.align.loss, "joint": config.align.joint, "accuracy": metrics}
    if PartialState().is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics-align.json").write_text(json.dumps(metrics, indent=2))
    return encoder, metrics


def load_corpora(paths: str | list[str]) -> DatasetDict:
    """One corpus folder, or several concatenated with their labels re-encoded over the union of
    their label names (each corpus keeps its own spellings; training merges synonyms)."""
    parts = [load_corpus(path) for path in ([paths] if isinstance(paths, str) else paths)]
    if len(parts) == 1:
        return parts[0]
    names = sorted(set().union(*(part["train"].features["label"].names for part in parts)))
    aligned = [part.align_labels_with_mapping({n: i for i, n in enumerate(names)}, "label") for part in parts]
    return DatasetDict({split: concatenate_datasets([part[split] for part in aligned]) for split in ("train", "test")})


def _weighted_overall(scores: dict[str, float], test_corpora) -> float:
    counts = {name: list(test_corpora).count(name) for name in scores}
    return sum(scores[n] * counts[n] for n in scores) / sum(counts.values())


def _train_one(config: TrainConfig, corpus, text_encoder, save_dir: Path) -> tuple[EAISkeletonEncoder, dict]:
    set_seed(config.seed)
    train, test = corpus["train"], corpus["test"]
    vocabulary = LabelVocabulary.from_split(train)
    layouts = sorted(set(train["layout"]) | set(test["layout"]))
    processor = SkeletonProcessor(layouts=layouts, num_frames=config.num_frames)
    text_features = text_encoder(vocabulary.prompts())
    encoder = EAISkeletonEncoder(EAISkeletonConfig(
        layouts=processor.layouts, num_frames=config.num_frames, token_dim=text_features.shape[1],
        id2label=dict(enumerate(vocabulary.labels)), corpus_labels=vocabulary.corpus_labels, **config.encoder))
    align = config.align
    module = SkeletonTextAlignment(encoder, text_features, vocabulary.corpus_label_mask, align.loss,
                                   align.temperature, align.learn_temperature)
    collator = SkeletonCollator(processor, vocabulary, train.features["label"].names)

    args = TrainingArguments(
        output_dir=str(save_dir), per_device_train_batch_size=align.batch_size,
        num_train_epochs=align.epochs, save_strategy="no", report_to="none", remove_unused_columns=False,
        dataloader_pin_memory=torch.cuda.is_available(), logging_steps=10, seed=config.seed,
        max_grad_norm=align.max_grad_norm,
        disable_tqdm=False)
    steps_per_epoch = math.ceil(len(train) / (align.batch_size * args.world_size))
    optimizer = torch.optim.SGD(module.parameters(), lr=align.learning_rate, momentum=align.momentum,
                                nesterov=True, weight_decay=align.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_step_decay(
        align.warmup_epochs * steps_per_epoch, [e * steps_per_epoch for e in align.decay_epochs]))
    trainer = Trainer(model=module, args=args, train_dataset=train.with_format("numpy"), data_collator=collator,
                      optimizers=(optimizer, schedule))
    speed = trainer.train().metrics["train_samples_per_second"]

    scores = accuracy_by_corpus(predict(encoder, collator, test))
    scores["train_clips_per_second"] = speed
    if trainer.is_world_process_zero():
        encoder.save_pretrained(save_dir)
        processor.save_pretrained(save_dir)
        (save_dir / "metrics.json").write_text(json.dumps(scores, indent=2))
    return encoder, scores
