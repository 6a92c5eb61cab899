"""Stage 2: instruction tuning of the LLM on skeleton tokens (paper §3.3, §4.2), with the HF Trainer.

The stage-1 encoder is frozen; a fresh linear projector and LoRA adapters (peft; the projector as
``modules_to_save``) are trained with AdamW on the description and recognition prompts in the
configured order; checkpoints every ``save_steps`` (resumable). At the end the adapter is saved, merged
into a fresh copy of the base model on the main process, and the whole model is written with its
processor as ``<output_dir>/model``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
import yaml
from datasets import ClassLabel, Dataset, Features, Value
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from transformers import TrainingArguments, set_seed

from .corpus import clip_positions, load_corpora, population_records
from .folders import check_replaceable, write_file, write_folder
from .logging_trainer import AccuracyLoggingTrainer, answer_token_accuracy
from .language_models import add_skeleton_token, load_language_model
from .modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder
from .processing_eai import EAIProcessor, SkeletonProcessor
from .run_config import LLMSettings, TrainConfig, process_state

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
                               completions=answers, return_tensors="pt", fps=[float(row["fps"]) for row in rows])
        return dict(batch)


def instruction_examples(split, settings: LLMSettings, seed: int) -> Dataset:
    """The stage-2 training examples in training order: every described clip ``description_epochs``
    times and every clip ``recognition_epochs`` times, each task shuffled, then concatenated by
    ``order`` (D→R, R→D) or shuffled together (mixed)."""
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
    if not (Path(encoder_dir) / "model.safetensors").is_file():
        raise FileNotFoundError(f"llm.encoder: {encoder_dir} holds no model.safetensors, expected a stage-1 encoder "
                                "folder (train.py --stage align writes <output_dir>/encoder)")
    dtype = getattr(torch, settings.dtype) if settings.dtype else None
    language_model, tokenizer = load_language_model(settings.language_model, dtype=dtype)
    skeleton_id = add_skeleton_token(language_model, tokenizer)
    encoder = EAISkeletonEncoder.from_pretrained(encoder_dir, dtype=dtype, use_safetensors=True)
    model = EAILlamaForCausalLM.from_parts(language_model, encoder, skeleton_id,  # EAIConfig refuses a non-Llama LLM
                                           settings.token_granularity)
    if dtype is not None:
        model.projector.to(dtype)
    processor = EAIProcessor(SkeletonProcessor.from_pretrained(encoder_dir), tokenizer, model.config)
    return model, processor


def last_complete_checkpoint(folder: Path) -> Path:
    """The newest ``checkpoint-<step>`` in ``folder`` that a killed save did not leave half-written (its
    ``trainer_state.json`` parses and every ``*.safetensors`` file opens); the ones skipped are printed. A
    ``ValueError`` when there is none, so that ``--resume`` never silently starts over."""
    def step(path: Path) -> int:
        return int(path.name.rpartition("-")[2]) if path.name.rpartition("-")[2].isdigit() else -1

    for candidate in sorted(folder.glob("checkpoint-*"), key=step, reverse=True):
        problem = _checkpoint_problem(candidate)
        if problem is None:
            print(f"--resume: continuing from {candidate}", flush=True)
            return candidate
        print(f"--resume: skipping {candidate}: {problem}", flush=True)
    raise ValueError(f"--resume: no complete checkpoint in {folder}, expected a checkpoint-<step> folder written by an "
                     "earlier stage-2 run of this output_dir; run without --resume to start over")


def _checkpoint_problem(checkpoint: Path) -> str | None:
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError) as error:
        return f"trainer_state.json is missing or unreadable ({error})"
    weights = sorted(checkpoint.glob("*.safetensors"))
    if not weights:
        return "it holds no .safetensors weights"
    for file in weights:
        try:
            with safe_open(str(file), "pt"):
                pass
        except Exception as error:  # safetensors raises its own SafetensorError for truncated files
            return f"{file.name} is unreadable ({error})"
    return None


def train_llm(config: TrainConfig, corpus=None, resume: bool = False, callbacks: list | None = None) -> Path:
    """Stage 2 on the train split. Writes ``<output_dir>/model`` (LoRA merged: ``from_pretrained``-ready,
    with the processor; written atomically), ``<output_dir>/adapter`` (LoRA +
    projector, peft format), ``train-config.yaml`` and ``log-llm.json``; checkpoints go to
    ``<output_dir>/checkpoints-llm``, which a run without ``resume`` starts empty; ``resume`` continues from
    :func:`last_complete_checkpoint`. ``callbacks``: Trainer callbacks. Returns the model folder."""
    settings, output_dir, state = config.llm, Path(config.output_dir), process_state()
    checkpoints, adapter_dir, model_dir = output_dir / "checkpoints-llm", output_dir / "adapter", output_dir / "model"
    for folder in (adapter_dir, model_dir):  # refused now, not after hours of training
        check_replaceable(folder)
    resume_from = last_complete_checkpoint(checkpoints) if resume else None
    corpus = corpus if corpus is not None else load_corpora(config.corpus_folders)
    set_seed(config.seed)
    with process_state().main_process_first():  # the offline default LLM is converted once, by the main process
        model, processor = build_model(settings, settings.encoder or output_dir / "encoder")
    model.skeleton_encoder.requires_grad_(False)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=settings.lora_target_modules, modules_to_save=["projector"])
    peft_model = get_peft_model(model, lora)
    train = corpus["train"]
    examples = instruction_examples(train, settings, config.seed)
    populations = population_records(train)  # the reference of the evidence, saved with the model; measured
    # before training, by every process, so that no process waits at a barrier while the main one measures
    if not resume and state.is_main_process:  # an older run's checkpoints must not be resumed by a later --resume
        for stale in checkpoints.glob("checkpoint-*"):
            shutil.rmtree(stale)
    state.wait_for_everyone()
    args = TrainingArguments(
        output_dir=str(checkpoints), per_device_train_batch_size=settings.batch_size,
        num_train_epochs=1, learning_rate=settings.learning_rate, warmup_steps=settings.warmup_ratio,
        lr_scheduler_type="cosine", train_sampling_strategy="sequential", save_strategy="steps",
        save_steps=settings.save_steps, save_total_limit=1, report_to="none", remove_unused_columns=False,
        logging_steps=5, seed=config.seed, bf16=settings.dtype == "bfloat16",
        ddp_find_unused_parameters=False,  # the frozen encoder has no trainable parameter to wait for
        use_cpu=not torch.cuda.is_available(),
        dataloader_pin_memory=torch.cuda.is_available())
    trainer = AccuracyLoggingTrainer(model=peft_model, args=args, train_dataset=examples,
                                     data_collator=InstructionCollator(processor, train), callbacks=callbacks,
                                     accuracy=answer_token_accuracy)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    unsaved = output_dir / ".adapter-unsaved"
    if state.is_main_process:
        shutil.rmtree(unsaved, ignore_errors=True)  # left by a run killed while saving
    state.wait_for_everyone()
    trainer.save_model(str(unsaved))  # every process: gathers sharded weights (FSDP, ZeRO-3)
    state.wait_for_everyone()
    if state.is_main_process:
        write_folder(adapter_dir, lambda folder: [shutil.copy2(file, folder) for file in unsaved.iterdir()
                                                  if file.name != "training_args.bin"])  # a pickle: never published
        shutil.rmtree(unsaved)
        base, _ = build_model(settings, settings.encoder or output_dir / "encoder")  # merge on a fresh base model,
        merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()  # whatever the training sharding was
        merged.config.descriptor_populations = populations

        def write(folder: Path):
            merged.save_pretrained(folder)
            processor.save_pretrained(folder)

        write_folder(model_dir, write)
        write_file(output_dir / "train-config.yaml", yaml.safe_dump(config.model_dump(), sort_keys=False))
        write_file(output_dir / "log-llm.json", json.dumps(trainer.state.log_history, indent=2))
    state.wait_for_everyone()
    return model_dir
