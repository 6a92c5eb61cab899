"""Configurations of EAI-LLM models (transformers ``PreTrainedConfig`` dataclasses)."""

from __future__ import annotations

import math

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .layouts import JointLayout, get_layout


@strict
class EAISkeletonConfig(PreTrainedConfig):
    r"""Configuration of :class:`~eai_llm.modeling_eai.EAISkeletonEncoder`, the CTR-GCN-like skeleton
    encoder with multi-granularity token heads.

    Args:
        layouts: joint layouts the encoder accepts, as registered names or ``JointLayout.to_dict()``
            dicts (stored as dicts); layout id ``i`` of a batch is ``layouts[i]``. Use the same list as
            the ``SkeletonProcessor``.
        num_frames: frames per clip ``T`` (the processor's ``num_frames``).
        block_channels: output channels of each graph-convolution block; the paper's CTR-GCN uses
            ``[64, 64, 64, 64, 128, 128, 128, 256, 256, 256]``.
        block_strides: temporal stride of each block; their product divides ``num_frames`` and gives
            ``T' = num_frames / prod(block_strides)`` temporal tokens.
        temporal_kernel_size: kernel of the multi-scale temporal convolutions (dilations 1 and 2).
        relation_reduction: channel reduction of the channel-wise topology refinement.
        token_dim: ``D``, the width of the skeleton tokens: the text encoder's width (384 for MiniLM,
            768 for CLIP ViT-L/14).
        dropout: dropout before the classification head.
        id2label / label2id: the label vocabulary of the classification head (merged across corpora).
        corpus_labels: the labels each training corpus has (``{corpus: [label, ...]}``), for masking the
            logits of a sample to its corpus's labels.
    """

    model_type = "eai_skeleton_encoder"

    layouts: list | None = None
    num_frames: int = 64
    block_channels: list[int] | tuple[int, ...] = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
    block_strides: list[int] | tuple[int, ...] = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
    temporal_kernel_size: int = 5
    relation_reduction: int = 8
    token_dim: int = 768
    dropout: float = 0.0
    corpus_labels: dict | None = None

    def __post_init__(self, **kwargs):
        self.layouts = [dict(layout) if isinstance(layout, dict) else get_layout(layout).to_dict()
                        for layout in (self.layouts or ["xsens_mvn28", "kdae24", "kinect_v2"])]
        self.block_channels, self.block_strides = list(self.block_channels), list(self.block_strides)
        super().__post_init__(**kwargs)
        for layout in self.layouts:
            JointLayout.from_dict(layout)  # validates
        if not self.block_channels or len(self.block_channels) != len(self.block_strides):
            raise ValueError(f"EAISkeletonConfig: 'block_channels' ({len(self.block_channels)}) and "
                             f"'block_strides' ({len(self.block_strides)}) need the same non-zero length")
        stride = math.prod(self.block_strides)
        if self.num_frames % stride:
            raise ValueError(f"EAISkeletonConfig: 'num_frames' {self.num_frames} is not divisible by the product "
                             f"of 'block_strides' {self.block_strides} ({stride})")
        if any(c <= 0 or c % 4 for c in self.block_channels):
            raise ValueError(f"EAISkeletonConfig: 'block_channels' {self.block_channels} must be multiples of 4 "
                             "(four temporal branches)")
        if self.temporal_kernel_size < 1 or self.temporal_kernel_size % 2 == 0:
            raise ValueError(f"EAISkeletonConfig: 'temporal_kernel_size' is {self.temporal_kernel_size}, expected an "
                             "odd number (the temporal convolutions keep the frame count)")
        if self.token_dim < 1:
            raise ValueError(f"EAISkeletonConfig: 'token_dim' is {self.token_dim}, expected a positive width")

    @property
    def max_joints(self) -> int:
        return max(len(layout["joint_names"]) for layout in self.layouts)

    @property
    def num_temporal_tokens(self) -> int:
        return self.num_frames // math.prod(self.block_strides)
