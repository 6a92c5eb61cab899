"""The run configuration of ``train.py``: one YAML file, validated by pydantic models.

pydantic, not a hand-written loader or ``HfArgumentParser``: the settings nest (``align``, ``llm``, ...),
which ``HfArgumentParser`` does not support, and pydantic reports every unknown key, wrong type and
out-of-range value with its full path (``llm.batch_size``), which :func:`load_config` prefixes with the
file. One set of defaults, here: the paper's value where the paper gives one, ours (marked) where it
does not; ``configs/paper-joint.yaml`` spells the paper's setting out and ``configs/demo.yaml`` sizes a
run for 2 CPU cores. The encoder's architecture defaults are those of
:class:`~eai_llm.configuration_eai.EAISkeletonConfig` (the paper's CTR-GCN widths).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import yaml
from accelerate import PartialState
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .language_models import OFFLINE_DEFAULT

class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EncoderSettings(Settings):
    """Architecture of the skeleton encoder; a key left out keeps the default of
    :class:`~eai_llm.configuration_eai.EAISkeletonConfig` (the paper's CTR-GCN widths), which also checks
    how the values fit together."""

    block_channels: list[int] | None = None
    block_strides: list[int] | None = None
    temporal_kernel_size: int | None = None
    relation_reduction: int | None = None
    dropout: float | None = Field(None, ge=0, lt=1)
    graph_dropout: float | None = Field(None, ge=0, lt=1)  # ours: see EAISkeletonConfig
    # ours: fuse every movement descriptor (eai_llm.descriptors) into the semantic token
    descriptors: bool = True
    face_forward: bool = True  # ours: the processor turns each clip to face +Z at its first frame

    def fields(self) -> dict:
        """The architecture keys that were given, as ``EAISkeletonConfig`` arguments."""
        return self.model_dump(exclude_none=True, exclude={"descriptors", "face_forward"})


class TextEncoderSettings(Settings):
    backend: Literal["minilm", "open_clip"] = "minilm"  # ours: the offline default (paper: open_clip ViT-L-14)
    name: str | None = None
    pretrained: str | None = None


class AlignSettings(Settings):
    """Stage 1 (paper §4.2 and appendix B)."""

    loss: Literal["ce", "se", "st"] = "st"  # "ce" (CTR-GCN baseline), "se" (eq. 6) or "st" (eq. 5)
    joint: bool = True  # one encoder over all corpora (UST) or one per corpus
    epochs: int = Field(200, ge=1)  # paper
    # ours: at least this many optimizer steps, the epochs (and warm-up and decay points) stretched alike,
    # so that a corpus of a few hundred clips trains as long as the schedule was meant to
    min_steps: int = Field(0, ge=0)
    mirror: bool = False  # ours: mirror each training clip with probability 1/2 (alignment.SkeletonCollator)
    batch_size: int = Field(64, ge=1)  # paper
    learning_rate: float = Field(0.1, gt=0)  # paper
    momentum: float = Field(0.9, ge=0, lt=1)  # CTR-GCN's (the paper gives none)
    weight_decay: float = Field(0.0004, ge=0)  # CTR-GCN's (the paper gives none)
    warmup_epochs: int = Field(5, ge=0)  # paper
    decay_epochs: list[int] = [100, 150, 175]  # paper: ×0.1 at each
    temperature: float = Field(0.07, gt=0)  # ours (CLIP's initial value)
    learn_temperature: bool = True  # ours
    max_grad_norm: float = Field(1.0, ge=0)  # ours (the Trainer's default); 0 disables clipping


class LLMSettings(Settings):
    """Stage 2 (paper §3.3, §4.2)."""

    language_model: str = OFFLINE_DEFAULT  # ours, offline (paper: LLaMA-7B, e.g. meta-llama/Llama-2-7b-hf)
    encoder: str | None = None  # stage-1 encoder folder; default <output_dir>/encoder
    token_granularity: Literal["semantic", "spatiotemporal", "all"] = "all"  # paper: MGST (Table 3)
    # ours: one model that both recognises and describes; the paper's D→R ("description_first") left
    # every description replaced by the recognition answer in our runs (docs/results.md)
    order: Literal["description_first", "recognition_first", "mixed"] = "mixed"
    # ours: the description prompt also states the clip's action (the action readout) and its notable measured
    # qualities, so that the explanation says what was read from the clip (false: the paper's prompt)
    grounded_descriptions: bool = True
    description_epochs: int = Field(2, ge=0)  # ours (the paper gives steps: 10,000 at batch 16)
    recognition_epochs: int = Field(1, ge=0)  # ours (the paper gives steps: 800,000 at batch 64)
    batch_size: int = Field(8, ge=1)  # ours (paper: 16 for D, 64 for R)
    learning_rate: float = Field(1e-5, gt=0)  # paper
    warmup_ratio: float = Field(0.03, ge=0, lt=1)  # ours
    lora_r: int = Field(64, ge=1)  # paper
    lora_alpha: int = Field(16, ge=1)  # paper
    lora_dropout: float = Field(0.05, ge=0, lt=1)  # paper
    lora_target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                      "down_proj"]  # ours
    save_steps: int = Field(500, ge=1)  # ours: checkpoint interval (resume with train.py --resume)
    dtype: Literal["bfloat16"] | None = None  # "bfloat16" on GPUs; None keeps float32


class TrainConfig(Settings):
    corpus: str | list[str]  # one corpus folder, or several to train on together (e.g. Emilya, KDAE, EGBM)
    output_dir: str
    seed: int = 0
    corpora: list[str] | None = None  # train on these corpora of the corpus only
    num_frames: int = Field(64, ge=2)  # paper
    encoder: EncoderSettings = EncoderSettings()
    text_encoder: TextEncoderSettings = TextEncoderSettings()
    align: AlignSettings = AlignSettings()
    llm: LLMSettings = LLMSettings()

    @property
    def corpus_folders(self) -> list[str]:
        return [self.corpus] if isinstance(self.corpus, str) else list(self.corpus)


def load_config(path: str | Path, **overrides) -> TrainConfig:
    """Read and validate a YAML run configuration; ``overrides`` replace top-level keys (e.g. ``output_dir``).
    Every problem (YAML syntax, unknown key, wrong type or value) is a ``ValueError`` that names the file
    and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror or error})") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ValueError(f"{path}: holds a {type(data).__name__}, expected a mapping of settings")
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"key '{'.'.join(map(str, e['loc']))}': {e['msg']} (found {e['input']!r})"
                             if e["type"] != "missing" else f"key '{'.'.join(map(str, e['loc']))}' is missing"
                             for e in error.errors())
        raise ValueError(f"{path}: {problems}") from None
    return config


def check_corpora_exist(config: TrainConfig, source: str | Path) -> None:
    """Raise a ``ValueError`` naming ``source`` (the config file) and the key when a corpus folder is missing."""
    missing = [folder for folder in config.corpus_folders if not Path(folder).is_dir()]
    if missing:
        raise ValueError(f"{source}: key 'corpus' names {missing}, which do not exist; expected corpus folders "
                         "written by dataset_scripts/")


def process_state() -> PartialState:
    """This process's accelerate state. Without CUDA, processes started by ``accelerate launch`` (or
    torchrun) train together on the CPU over gloo; a single process runs as usual."""
    return PartialState(cpu=not torch.cuda.is_available())
