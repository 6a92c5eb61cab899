"""Training configuration (YAML), stage 1 (skeleton–language alignment) and stage 2 (LoRA on the
LLM), both with the HF Trainer: accelerate underneath (one GPU, several with ``accelerate launch``,
or the CPU), progress and logging for free.

Stage 1: SGD with momentum, linear warm-up, ×0.1 steps (the paper's); the encoder is saved with
``save_pretrained`` at the end. Stage 2: the encoder frozen, a fresh projector and LoRA adapters
trained with AdamW on the description and recognition prompts in the configured order; checkpoints
every ``save_steps`` (resumable), then LoRA merged and the whole model saved with its processor.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from accelerate import PartialState
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, concatenate_datasets
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import Trainer, TrainingArguments, set_seed

from .alignment import (
    LabelVocabulary,
    SkeletonCollator,
    SkeletonTextAlignment,
    accuracy_by_corpus,
    predict,
    warmup_step_decay,
)
from .configuration_eai import EAISkeletonConfig
from .corpus import clip_positions, load_corpus
from .language_models import OFFLINE_DEFAULT, load_language_model
from .modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder
from .processing_eai import SKELETON_TOKEN, EAIProcessor, SkeletonProcessor
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
class LLMSettings:
    language_model: str = OFFLINE_DEFAULT  # or a Llama-family Hub id / folder (paper: LLaMA-7B)
    encoder: str | None = None  # stage-1 encoder folder; default <output_dir>/encoder
    token_granularity: str = "all"  # "semantic", "spatiotemporal" or "all" (Table 3)
    order: str = "description_first"  # "description_first" (D→R), "recognition_first" (R→D) or "mixed"
    description_epochs: int = 2
    recognition_epochs: int = 1
    batch_size: int = 8
    learning_rate: float = 1e-5  # paper
    warmup_ratio: float = 0.03  # ours
    lora_r: int = 64  # paper
    lora_alpha: int = 16  # paper
    lora_dropout: float = 0.05  # paper
    lora_target_modules: list[str] = field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])  # ours
    save_steps: int = 500  # checkpoint interval (resume with train.py --resume)
    dtype: str | None = None  # "bfloat16" on GPUs; None keeps float32


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
    llm: LLMSettings = field(default_factory=LLMSettings)


def process_state() -> PartialState:
    """This process's accelerate state. Without CUDA, processes started by ``accelerate launch`` (or
    torchrun) train together on the CPU over gloo; a single process runs as usual."""
    return PartialState(cpu=not torch.cuda.is_available())


def _build(cls, data: dict, where: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}, expected some of {sorted(known)}")
    values = {}
    for key, value in data.items():
        nested = {"text_encoder": TextEncoderSettings, "align": AlignSettings, "llm": LLMSettings}.get(key) if cls is TrainConfig else None
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
    if process_state().is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics-align.json").write_text(json.dumps(metrics, indent=2))
    process_state().wait_for_everyone()  # stage 2 reads the encoder the main process wrote
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
        max_grad_norm=align.max_grad_norm, ddp_find_unused_parameters=align.loss != "st",  # ce/se skip token heads
        use_cpu=not torch.cuda.is_available(),
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


TASK_ORDERS = ("description_first", "recognition_first", "mixed")
TASKS = ("description", "recognition")  # the ``task`` ClassLabel of the stage-2 examples


class InstructionCollator:
    """Examples ``{"row": index into split, "task": index into TASKS}`` → a training batch of
    :class:`EAIProcessor` (prompts, answers as labels, clips)."""

    def __init__(self, processor: EAIProcessor, split):
        self.processor, self.split = processor, split.with_format("numpy")
        self.label_names = split.features["label"].names

    def __call__(self, examples: list[dict]) -> dict:
        rows = [self.split[int(example["row"])] for example in examples]
        prompts, answers = [], []
        for example, row in zip(examples, rows):
            label = self.label_names[int(row["label"])]
            if TASKS[int(example["task"])] == "description":
                prompts.append(self.processor.description_prompt(label))
                answers.append(str(row["description"]))
            else:
                prompts.append(self.processor.recognition_prompt())
                answers.append(self.processor.recognition_answer(label))
        batch = self.processor(prompts, [clip_positions(row) for row in rows], [str(row["layout"]) for row in rows],
                               completions=answers, return_tensors="pt")
        return dict(batch)


def instruction_examples(split, settings: LLMSettings, seed: int) -> Dataset:
    """The stage-2 training examples in training order: every described clip ``description_epochs``
    times and every clip ``recognition_epochs`` times, each task shuffled, then concatenated by
    ``order`` (D→R, R→D) or shuffled together (mixed)."""
    if settings.order not in TASK_ORDERS:
        raise ValueError(f"llm.order is {settings.order!r}, expected one of {list(TASK_ORDERS)}")
    rng = np.random.default_rng(seed)
    described = [i for i, text in enumerate(split["description"]) if text]
    if settings.description_epochs and not described:
        raise ValueError("llm.description_epochs > 0 but no training clip has a description; set it to 0 or use a "
                         "corpus with descriptions")
    tasks = {"description": np.tile(described, settings.description_epochs),
             "recognition": np.tile(np.arange(len(split)), settings.recognition_epochs)}
    tasks = {name: rng.permutation(rows) for name, rows in tasks.items()}
    names = ["recognition", "description"] if settings.order == "recognition_first" else ["description", "recognition"]
    rows = np.concatenate([tasks[n] for n in names]).astype(np.int64)
    task_ids = np.repeat([TASKS.index(n) for n in names], [len(tasks[n]) for n in names]).astype(np.int8)
    if settings.order == "mixed":
        order = rng.permutation(len(rows))
        rows, task_ids = rows[order], task_ids[order]
    if not len(rows):
        raise ValueError("stage 2 has no training examples: description_epochs and recognition_epochs are both 0")
    features = Features({"row": Value("int64"), "task": ClassLabel(names=list(TASKS))})
    return Dataset.from_dict({"row": rows, "task": task_ids}, features=features)


def build_model(settings: LLMSettings, encoder_dir: str | Path) -> tuple[EAILlamaForCausalLM, EAIProcessor]:
    """The stage-2 starting point: the pretrained LLM with ``<skeleton>`` added to its vocabulary, the
    stage-1 encoder and SkeletonProcessor from ``encoder_dir``, and a fresh projector."""
    dtype = getattr(torch, settings.dtype) if settings.dtype else None
    language_model, tokenizer = load_language_model(settings.language_model, dtype=dtype)
    if language_model.config.model_type != "llama":
        raise ValueError(f"llm.language_model {settings.language_model!r} is a {language_model.config.model_type!r} "
                         "model, expected a Llama-family LLM (model_type 'llama')")
    if tokenizer.add_tokens([SKELETON_TOKEN], special_tokens=True):
        language_model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    skeleton_id = tokenizer.convert_tokens_to_ids(SKELETON_TOKEN)
    with torch.no_grad():  # the placeholder's rows: the mean, the same in every build (the input row is never
        for matrix in (language_model.get_input_embeddings().weight, language_model.get_output_embeddings().weight):
            matrix[skeleton_id] = matrix.mean(0)  # read; generation suppresses the output row)
    encoder = EAISkeletonEncoder.from_pretrained(encoder_dir, dtype=dtype)
    model = EAILlamaForCausalLM.from_parts(language_model, encoder, skeleton_id, settings.token_granularity)
    if dtype is not None:
        model.projector.to(dtype)
    processor = EAIProcessor(SkeletonProcessor.from_pretrained(encoder_dir), tokenizer,
                             num_temporal_tokens=encoder.config.num_temporal_tokens,
                             token_granularity=settings.token_granularity)
    return model, processor


def train_llm(config: TrainConfig, corpus=None, resume: bool = False, callbacks: list | None = None) -> Path:
    """Stage 2 on the train split. Writes ``<output_dir>/model`` (LoRA merged: ``from_pretrained``-ready,
    with the processor; written to a temporary folder and renamed), ``<output_dir>/adapter`` (LoRA +
    projector, peft format), ``train-config.yaml`` and ``log-llm.json``; checkpoints go to
    ``<output_dir>/checkpoints-llm``, which a run without ``resume`` starts empty. ``callbacks``: Trainer
    callbacks. Returns the model folder."""
    settings, output_dir = config.llm, Path(config.output_dir)
    checkpoints = output_dir / "checkpoints-llm"
    if not resume and process_state().is_main_process:
        shutil.rmtree(checkpoints, ignore_errors=True)  # a stale checkpoint of an older run must not be resumed
    corpus = corpus if corpus is not None else load_corpora(config.corpus)
    set_seed(config.seed)
    with process_state().main_process_first():  # the offline default LLM is converted once, by the main process
        model, processor = build_model(settings, settings.encoder or output_dir / "encoder")
    model.skeleton_encoder.requires_grad_(False)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=settings.lora_target_modules, modules_to_save=["projector"])
    peft_model = get_peft_model(model, lora)
    train = corpus["train"]
    examples = instruction_examples(train, settings, config.seed)
    args = TrainingArguments(
        output_dir=str(checkpoints), per_device_train_batch_size=settings.batch_size,
        num_train_epochs=1, learning_rate=settings.learning_rate, warmup_steps=settings.warmup_ratio,
        lr_scheduler_type="cosine", train_sampling_strategy="sequential", save_strategy="steps",
        save_steps=settings.save_steps, save_total_limit=1, report_to="none", remove_unused_columns=False,
        logging_steps=5, seed=config.seed, bf16=settings.dtype == "bfloat16",
        ddp_find_unused_parameters=False,  # the frozen encoder has no trainable parameter to wait for
        use_cpu=not torch.cuda.is_available(),
        dataloader_pin_memory=torch.cuda.is_available())
    trainer = Trainer(model=peft_model, args=args, train_dataset=examples,
                      data_collator=InstructionCollator(processor, train), callbacks=callbacks)
    has_checkpoint = resume and any(Path(args.output_dir).glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if has_checkpoint else None)

    trainer.save_model(str(output_dir / "adapter"))  # every process: gathers sharded weights (FSDP, ZeRO-3)
    state, model_dir = process_state(), output_dir / "model"
    state.wait_for_everyone()
    if state.is_main_process:  # merge on a fresh copy of the base model, whatever the training sharding was
        base, _ = build_model(settings, settings.encoder or output_dir / "encoder")
        merged = PeftModel.from_pretrained(base, output_dir / "adapter").merge_and_unload()
        partial = model_dir.with_name(f"model.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        merged.save_pretrained(partial)
        processor.save_pretrained(partial)
        shutil.rmtree(model_dir, ignore_errors=True)
        partial.replace(model_dir)
        (output_dir / "train-config.yaml").write_text(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))
        (output_dir / "log-llm.json").write_text(json.dumps(trainer.state.log_history, indent=2))
    state.wait_for_everyone()
    return model_dir
