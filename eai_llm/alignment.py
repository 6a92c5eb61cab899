"""Stage 1: skeleton–language alignment of the skeleton encoder (paper §3.4, eqs. 3–6).

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

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .corpus import clip_positions
from .labels import label_prompt, merged_label
from .modeling_eai import EAISkeletonEncoder
from .processing_eai import SkeletonProcessor

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

    def forward(self, skeleton_values, joint_mask, frame_mask, layout_ids, labels, corpus_ids) -> dict:
        out = self.encoder(skeleton_values, joint_mask, frame_mask, layout_ids)
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
    """Corpus rows (numpy format) → a processed batch with merged ``labels`` and ``corpus_ids``."""

    def __init__(self, processor: SkeletonProcessor, vocabulary: LabelVocabulary, label_names: list[str]):
        self.processor, self.vocabulary = processor, vocabulary
        self.row_label_ids = [vocabulary.id_of(name) for name in label_names]  # dataset label id -> vocab id

    def __call__(self, rows: list[dict]) -> dict:
        batch = self.processor([clip_positions(row) for row in rows], [str(row["layout"]) for row in rows],
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


@torch.no_grad()
def predict(encoder: EAISkeletonEncoder, collator: SkeletonCollator, split, batch_size: int = 64) -> dict:
    """Masked argmax of the classification head over a corpus split.

    Returns ``{"labels": (N,), "predictions": (N,), "corpora": list of N names}`` (vocabulary ids)."""
    encoder.eval()
    device = encoder.device
    labels, predictions, corpora = [], [], []
    rows = split.with_format("numpy")
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        items = [{key: chunk[key][i] for key in chunk} for i in range(len(chunk["label"]))]
        batch = collator(items)
        logits = encoder(**{k: batch[k].to(device) for k in SkeletonProcessor.model_input_names}).logits
        allowed = collator.vocabulary.corpus_label_mask.to(device)[batch["corpus_ids"].to(device)]
        predictions.append(mask_to_corpus(logits, allowed).argmax(-1).cpu())
        labels.append(batch["labels"])
        corpora += [str(item["corpus"]) for item in items]
    return {"labels": torch.cat(labels).numpy(), "predictions": torch.cat(predictions).numpy(), "corpora": corpora}


def accuracy_by_corpus(result: dict) -> dict[str, float]:
    """Accuracy per corpus and ``"overall"`` from :func:`predict`'s result."""
    correct = result["labels"] == result["predictions"]
    corpora = np.asarray(result["corpora"])
    scores = {corpus: float(correct[corpora == corpus].mean()) for corpus in sorted(set(result["corpora"]))}
    scores["overall"] = float(correct.mean())
    return scores
