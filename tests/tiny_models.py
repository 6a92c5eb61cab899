"""Tiny random models, a word-level tokenizer and a small synthetic corpus for the stage-2 tests."""

from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from eai_llm.claims import ALL_CORPORA, LEVELS
from eai_llm.configuration_eai import EAIConfig, EAISkeletonConfig
from eai_llm.descriptors import DESCRIPTORS as ALL_DESCRIPTORS
from eai_llm.corpus import build_corpus, save_corpus
from eai_llm.labels import ADJECTIVES
from eai_llm.layouts import get_layout
from eai_llm.modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder
from eai_llm.processing_eai import (
    DESCRIPTION_QUESTION,
    RECOGNITION_QUESTION,
    SKELETON_TOKEN,
    EAIProcessor,
    SkeletonProcessor,
)
from eai_llm.synthetic import generate_clips

LAYOUTS = [get_layout(name).to_dict() for name in ("xsens_mvn28", "kdae24")]  # 28 and 24 joints: kdae24 clips
# have four padded joints
NUM_FRAMES = 8
LABELS = ["anger", "happiness", "sadness"]
DESCRIPTORS = {"root_speed": (0.8, 0.5), "head_pitch": (10.0, 15.0), "tremor": (0.01, 0.02)}  # name: (mean, sd)
CHATML = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
          "{% if add_generation_prompt %}<|assistant|> {% endif %}")


def tiny_tokenizer(chat_template: str | None = CHATML, skeleton: bool = True) -> PreTrainedTokenizerFast:
    """A word-level tokenizer knowing the prompts' and answers' words (``<skeleton>`` added if ``skeleton``)."""
    words = set()
    texts = [RECOGNITION_QUESTION, DESCRIPTION_QUESTION, "This is a an person . happiness joy walks slowly fast"]
    texts += list(ADJECTIVES) + list(ADJECTIVES.values())
    for text in texts:
        words |= {word for word, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text)}
    specials = ["<pad>", "<eos>", "<unk>", "<|user|>", "<|assistant|>", "<|end|>"]
    vocab = {word: i for i, word in enumerate(specials + sorted(words - {"<skeleton>"}))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>",
                                        unk_token="<unk>")
    tokenizer.add_tokens(["<|user|>", "<|assistant|>", "<|end|>"] + [SKELETON_TOKEN] * skeleton, special_tokens=True)
    tokenizer.chat_template = chat_template
    return tokenizer


def tiny_encoder(seed: int = 0, descriptors: bool = False) -> EAISkeletonEncoder:
    """With ``descriptors``: the :data:`DESCRIPTORS` fused into the semantic token, as trained runs have."""
    torch.manual_seed(seed)
    fused = DESCRIPTORS if descriptors else {}
    return EAISkeletonEncoder(EAISkeletonConfig(
        layouts=LAYOUTS, num_frames=NUM_FRAMES, block_channels=[8, 8], block_strides=[2, 2], token_dim=16,
        id2label=dict(enumerate(LABELS)), corpus_labels={"emilya": LABELS, "kdae": LABELS},
        descriptor_names=list(fused), descriptor_mean=[m for m, _ in fused.values()],
        descriptor_scale=[s for _, s in fused.values()])).eval()


def tiny_language_model(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        intermediate_size=64, vocab_size=vocab_size, tie_word_embeddings=True,
                                        pad_token_id=0, eos_token_id=1, bos_token_id=None))


def tiny_model_and_processor(granularity: str = "all", chat_template: str | None = CHATML, descriptors: bool = False):
    """With ``descriptors``, the encoder fuses :data:`DESCRIPTORS` and the processor faces clips forward."""
    tokenizer = tiny_tokenizer(chat_template)
    encoder = tiny_encoder(descriptors=descriptors)
    model = EAILlamaForCausalLM.from_parts(tiny_language_model(len(tokenizer)), encoder,
                                           tokenizer.convert_tokens_to_ids(SKELETON_TOKEN), granularity).eval()
    skeleton = SkeletonProcessor(LAYOUTS, num_frames=NUM_FRAMES, descriptors=encoder.config.descriptor_names,
                                 face_forward=descriptors)
    return model, EAIProcessor(skeleton, tokenizer, model.config)


def tiny_config(granularity: str = "all") -> EAIConfig:
    tokenizer = tiny_tokenizer()
    return EAIConfig(text_config=tiny_language_model(len(tokenizer)).config.to_dict(),
                     skeleton_config=tiny_encoder().config.to_dict(), token_granularity=granularity,
                     skeleton_token_id=tokenizer.convert_tokens_to_ids(SKELETON_TOKEN))


def write_tiny_parts(folder: Path) -> tuple[Path, Path]:
    """A tiny LLM folder (weights + tokenizer without ``<skeleton>``, as a published LLM) and a stage-1
    encoder folder (weights + SkeletonProcessor)."""
    llm_dir, encoder_dir = folder / "llm", folder / "encoder"
    tokenizer = tiny_tokenizer(skeleton=False)
    tiny_language_model(len(tokenizer)).save_pretrained(llm_dir)
    tokenizer.save_pretrained(llm_dir)
    tiny_encoder().save_pretrained(encoder_dir)
    SkeletonProcessor(LAYOUTS, num_frames=NUM_FRAMES).save_pretrained(encoder_dir)
    return llm_dir, encoder_dir


def write_tiny_corpus(folder: Path, clips_per_corpus: int = 12) -> Path:
    """Emilya- and KDAE-like synthetic clips with three labels (some with descriptions), as a corpus
    folder. Uses the synthetic corpora's layouts (xsens_mvn28 and kdae24)."""
    rows = []
    for seed, corpus in enumerate(("emilya", "kdae")):
        labels = ["joy", "anger", "sadness"] if corpus == "emilya" else ["happiness", "anger", "sadness"]
        rows += [clip.to_row() for clip in generate_clips(corpus, clips_per_corpus, seed=seed, labels=labels)]
    names = sorted({row["label"] for row in rows})
    save_corpus(build_corpus(lambda: iter(rows), names, seed=0), [get_layout(n) for n in ("xsens_mvn28", "kdae24")],
                folder)
    return folder


def tiny_populations() -> dict:
    """``EAIConfig.descriptor_populations`` for the tiny models' two corpora: every descriptor uniform
    on [0, 10] (a still clip is at the bottom of each)."""
    ramp = {name: np.linspace(0.0, 10.0, len(LEVELS)).tolist() for name in ALL_DESCRIPTORS}
    records = {"emilya": ["xsens_mvn28"], "kdae": ["kdae24"], ALL_CORPORA: ["kdae24", "xsens_mvn28"]}
    return {name: {"layouts": layouts, "quantiles": ramp} for name, layouts in records.items()}


def save_tiny_run(folder: Path) -> tuple[Path, Path]:
    """A tiny model saved as train.py saves it (``<folder>/run/model``, descriptors fused, descriptor
    populations kept) and a kdae24 BVH clip beside it."""
    from motion_files import layout_bvh

    model, processor = tiny_model_and_processor("all", descriptors=True)
    model.config.descriptor_populations = tiny_populations()
    model.save_pretrained(folder / "run" / "model")
    processor.save_pretrained(folder / "run" / "model")
    layout_bvh(folder / "clip.bvh", get_layout("kdae24"))
    return folder / "run" / "model", folder / "clip.bvh"


def load_exported_handler(folder: Path):
    """The exported ``handler.py``'s ``EndpointHandler``, as an endpoint loads it (the pipeline from the
    folder's remote code)."""
    import sys

    sys.path.insert(0, str(folder))
    try:
        import handler
        return handler.EndpointHandler(str(folder))
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("handler", None)

