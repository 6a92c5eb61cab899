"""Stage 2: instruction tuning of the LLM on skeleton tokens (paper §3.3, §4.2), with the HF Trainer.

The stage-1 encoder is frozen. Before training, the action readout is fitted on the encoder's semantic
tokens (:func:`fit_action_readout`) and the projector is started in closed form
(:func:`initialise_projector`); then the projector and LoRA adapters (peft; the projector and the frozen
readout as ``modules_to_save``, so the adapter holds them) are trained with AdamW on the description and
recognition prompts in the configured order; checkpoints every ``save_steps`` (resumable). At the end the
adapter is saved, merged
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

from .corpus import clip_positions, load_corpora, population_records, split_descriptors
from .descriptors import DESCRIPTORS
from .folders import check_replaceable, write_file, write_folder
from .inference import description_prompts
from .logging_trainer import AccuracyLoggingTrainer, answer_token_accuracy
from .labels import label_word
from .language_models import add_skeleton_token, load_language_model
from .modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder
from .processing_eai import EAIProcessor, SkeletonProcessor
from .run_config import LLMSettings, TrainConfig, process_state

TASKS = ("description", "recognition")  # the ``task`` ClassLabel of the stage-2 examples


class InstructionCollator:
    """Examples ``{"row": index into split, "task": index into TASKS}`` → a training batch of
    :class:`EAIProcessor` (prompts, answers as labels, clips). ``description_prompts``: each row's
    description prompt (:func:`eai_llm.inference.description_prompts`)."""

    def __init__(self, processor: EAIProcessor, split, description_prompts: list[str]):
        self.processor, self.split = processor, split.with_format("numpy")
        self.label_names = split.features["label"].names
        self.description_prompts = description_prompts

    def __call__(self, examples: list[dict]) -> dict:
        rows = [self.split[int(example["row"])] for example in examples]
        prompts, answers = [], []
        for example, row in zip(examples, rows):
            label = self.label_names[int(row["label"])]
            if TASKS[int(example["task"])] == "description":
                prompts.append(self.description_prompts[int(example["row"])])
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


def build_model(settings: LLMSettings, encoder_dir: str | Path,
                **config_fields) -> tuple[EAILlamaForCausalLM, EAIProcessor]:
    """The stage-2 starting point: the pretrained LLM with ``<skeleton>`` added to its vocabulary, the
    stage-1 encoder and SkeletonProcessor from ``encoder_dir``, and a fresh projector (and action readout);
    ``config_fields``: further :class:`~eai_llm.configuration_eai.EAIConfig` fields."""
    if not (Path(encoder_dir) / "model.safetensors").is_file():
        raise FileNotFoundError(f"llm.encoder: {encoder_dir} holds no model.safetensors, expected a stage-1 encoder "
                                "folder (train.py --stage align writes <output_dir>/encoder)")
    dtype = getattr(torch, settings.dtype) if settings.dtype else None
    language_model, tokenizer = load_language_model(settings.language_model, dtype=dtype)
    skeleton_id = add_skeleton_token(language_model, tokenizer)
    encoder = EAISkeletonEncoder.from_pretrained(encoder_dir, dtype=dtype, use_safetensors=True)
    model = EAILlamaForCausalLM.from_parts(language_model, encoder, skeleton_id,  # EAIConfig refuses a non-Llama LLM
                                           settings.token_granularity, **config_fields)
    if dtype is not None:
        model.projector.to(dtype)
    processor = EAIProcessor(SkeletonProcessor.from_pretrained(encoder_dir), tokenizer, model.config)
    return model, processor


def recorded_actions(split) -> list[str]:
    """The actions the clips of ``split`` record, sorted: the action readout's names; empty when fewer than
    two (nothing to tell apart)."""
    actions = sorted({str(a) for a in split["action"] if a})
    return actions if len(actions) >= 2 else []


@torch.no_grad()
def semantic_tokens(model: EAILlamaForCausalLM, processor: EAIProcessor, split, batch_size: int = 64) -> np.ndarray:
    """The frozen encoder's semantic token ``z_g`` of every clip of ``split``: ``(N, D)`` float64."""
    rows = split.select_columns(["positions", "num_joints", "layout", "fps"]).with_format("numpy")
    encoder, tokens = model.skeleton_encoder.eval(), []
    for start in range(0, len(rows), batch_size):
        items = [rows[i] for i in range(start, min(start + batch_size, len(rows)))]
        batch = processor.feature_extractor([clip_positions(r) for r in items], [str(r["layout"]) for r in items],
                                            [float(r["fps"]) for r in items], return_tensors="pt")
        inputs = {key: batch[key].to(model.device) for key in SkeletonProcessor.model_input_names}
        inputs["skeleton_values"] = inputs["skeleton_values"].to(model.projector.weight.dtype)  # bf16 runs
        tokens.append(encoder(**inputs).semantic_token.float().cpu().numpy())
    return np.concatenate(tokens).astype(np.float64)


def _standardised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x - mean) / scale`` column-wise, with the mean and scale (1 where a column is constant)."""
    mean, scale = x.mean(0), np.where(x.std(0) > 1e-8, x.std(0), 1.0)
    return (x - mean) / scale, mean, scale


@torch.no_grad()
def _set_linear(layer: torch.nn.Linear, weight: np.ndarray, bias: np.ndarray, mean: np.ndarray, scale: np.ndarray):
    """``layer`` set to a map fitted on standardised inputs (:func:`_standardised`), the standardisation folded in."""
    weight = weight / scale
    layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
    layer.bias.copy_(torch.as_tensor(bias - weight @ mean, dtype=layer.bias.dtype))


def initialise_projector(model: EAILlamaForCausalLM, processor: EAIProcessor, split, tokens: np.ndarray):
    """Start the projector ``D → H`` where the LLM already reads the skeleton token as the clip's label: the
    ridge regression (scikit-learn, ``alpha = 1`` on standardised ``tokens``, the clips' ``z_g`` ``(N, D)``)
    of each clip's target, the LLM's input embedding of its label's word in the recognition answer
    (:func:`~eai_llm.labels.label_word`; mean over its sub-word tokens), folded into the projector's
    ``Linear``. Stage 1 aligned ``z_g`` with the label's text in the text encoder's space; this carries that
    alignment into the LLM's, the job LLaVA's first stage (the projector trained alone) does, here in
    closed form. Only for a model that reads the semantic token alone (``token_granularity: semantic``):
    spatial and temporal tokens have statistics of their own, so the projector they share starts fresh."""
    from sklearn.linear_model import Ridge  # training only

    embeddings = model.get_input_embeddings().weight
    names = split.features["label"].names
    word_vectors = {}
    for name in names:
        ids = processor.tokenizer(" " + label_word(name), add_special_tokens=False)["input_ids"]
        word_vectors[name] = embeddings[ids].detach().float().mean(0).cpu().numpy()
    targets = np.stack([word_vectors[names[i]] for i in split["label"]])
    x, mean, scale = _standardised(tokens)
    fit = Ridge(alpha=1.0).fit(x, targets)
    _set_linear(model.projector, fit.coef_, fit.intercept_, mean, scale)


def fit_action_readout(model: EAILlamaForCausalLM, split, tokens: np.ndarray):
    """Fit ``model.action_readout`` on ``split``: a multinomial logistic regression (scikit-learn, L2 with
    ``C = 1`` on standardised features) of each clip's recorded action from its semantic token ``z_g`` in
    ``tokens`` ``(N, D)``, over the clips that record one, folded into the readout's ``Linear``. A linear
    probe on ``z_g`` finds the action where the LLM, trained for a few hundred LoRA steps, does not
    (docs/results.md)."""
    from sklearn.linear_model import LogisticRegression  # training only: the readout that travels is a Linear

    names = model.config.action_names
    keep = [i for i, action in enumerate(split["action"]) if str(action) in names]
    x, mean, scale = _standardised(tokens[keep])
    y = np.array([names.index(str(split["action"][i])) for i in keep])
    fit = LogisticRegression(max_iter=2000).fit(x, y)
    weight = np.zeros((len(names), x.shape[1]))
    bias = np.zeros(len(names))
    if len(fit.classes_) == 2:  # scikit-learn keeps one row for two classes: the logit of the second
        weight[fit.classes_[1]], bias[fit.classes_[1]] = fit.coef_[0], fit.intercept_[0]
    else:
        weight[fit.classes_], bias[fit.classes_] = fit.coef_, fit.intercept_
    _set_linear(model.action_readout, weight, bias, mean, scale)
    model.action_readout.requires_grad_(False)


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
    train = corpus["train"]
    values = split_descriptors(train)  # measured before training, by every process, so that no process
    # waits at a barrier while the main one measures
    fields = {"descriptor_populations": population_records(train, values),  # the evidence's reference
              "action_names": recorded_actions(train), "grounded_descriptions": settings.grounded_descriptions}
    encoder_dir = settings.encoder or output_dir / "encoder"
    with process_state().main_process_first():  # the offline default LLM is converted once, by the main process
        model, processor = build_model(settings, encoder_dir, **fields)
    model.skeleton_encoder.requires_grad_(False)
    reads_semantic_only = settings.token_granularity == "semantic"
    tokens = semantic_tokens(model, processor, train) if reads_semantic_only or model.action_readout else None
    if reads_semantic_only:
        initialise_projector(model, processor, train, tokens)
    saved = ["projector"]
    if model.action_readout is not None:
        fit_action_readout(model, train, tokens)
        saved.append("action_readout")  # saved with the adapter; frozen below
    prompts = description_prompts(model, processor, [train.features["label"].names[i] for i in train["label"]],
                                  [dict(zip(DESCRIPTORS, row)) for row in values], [str(c) for c in train["corpus"]],
                                  [str(a) for a in train["action"]])  # the recorded action (teacher forcing)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=settings.lora_target_modules, modules_to_save=saved)
    peft_model = get_peft_model(model, lora)
    for name, parameter in peft_model.named_parameters():
        if "action_readout" in name:
            parameter.requires_grad_(False)  # fitted, not trained
    examples = instruction_examples(train, settings, config.seed)
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
                                     data_collator=InstructionCollator(processor, train, prompts), callbacks=callbacks,
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
        base, _ = build_model(settings, encoder_dir, **fields)  # merge on a fresh base model,
        merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()  # whatever the training sharding was

        def write(folder: Path):
            merged.save_pretrained(folder)
            processor.save_pretrained(folder)

        write_folder(model_dir, write)
        write_file(output_dir / "train-config.yaml", yaml.safe_dump(config.model_dump(), sort_keys=False))
        write_file(output_dir / "log-llm.json", json.dumps(trainer.state.log_history, indent=2))
    state.wait_for_everyone()
    return model_dir
