"""EAI-LLM models.

``EAISkeletonEncoder``: a CTR-GCN-like network (channel-wise topology refinement graph convolutions
+ multi-scale temporal convolutions) over padded skeleton batches of several joint layouts at once,
with the paper's multi-granularity skeleton tokenizer (MGST, §3.1) and unified-skeleton-token masks
(UST, §3.2, eq. 1)::

    skeleton_values (B, 3, T, V) + velocity (B, 3, T, V)  ──blocks──▶  F (B, C, T', V)
        semantic token  z_g = Linear(masked mean of F over T', V)            (B, D)
        spatial tokens  z_s = 1x1 conv(masked mean of F over T')              (B, V, D), mask (B, V)
        temporal tokens z_t = 1x1 conv(masked mean of F over V)               (B, T', D), mask (B, T')
        logits          = Linear(dropout(z_g))                                (B, num_labels)

Every layout has its own graph (padded to ``V = max_joints``); padded joints get no edges, their
features are kept at zero after every block and they never enter a pooled value, so in eval mode a
real clip's tokens do not depend on how wide the batch is padded. Two limits, by design of the
CTR-GCN blocks: in training mode BatchNorm statistics include padded joints; and padded *frames*
are data to the temporal convolutions and the topology refinement (as in CTR-GCN's repeat
padding) — the frame mask keeps them out of pooling and of the temporal-token mask only.

With linear (1x1) token heads, pooling the spatial or temporal tokens (as L_st does, see
``alignment.py``) equals a linear map of the pooled block output, the same feature ``z_g`` sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .configuration_eai import EAISkeletonConfig
from .layouts import JointLayout


def layout_graphs(layouts: list[JointLayout], max_joints: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Graph subsets and joint-pair masks for each layout, padded to ``max_joints``.

    Returns:
        adjacency ``(L, 3, V, V)``: subset 0 the identity, 1 messages from the parent, 2 from the
            children (row-normalised: a joint averages its neighbours); zero rows/columns for padding.
        pair_mask ``(L, V, V)``: 1 where both joints exist in the layout.
    """
    adjacency = torch.zeros(len(layouts), 3, max_joints, max_joints)
    pair_mask = torch.zeros(len(layouts), max_joints, max_joints)
    for i, layout in enumerate(layouts):
        n = layout.num_joints
        adjacency[i, 0, :n, :n] = torch.eye(n)
        for child, parent in layout.edges:
            adjacency[i, 1, child, parent] = 1.0
            adjacency[i, 2, parent, child] = 1.0
        pair_mask[i, :n, :n] = 1.0
    adjacency[:, 2] /= adjacency[:, 2].sum(-1, keepdim=True).clamp(min=1)
    return adjacency, pair_mask


class TopologyRefinementGraphConv(nn.Module):
    """CTR-GC: per subset ``k``, a learned per-layout adjacency plus a channel-wise refinement
    ``tanh(φ(x)_u - ψ(x)_v)`` computed from the sample, aggregating ``(B, C_in, T, V) → (B, C_out, T, V)``."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: torch.Tensor, pair_mask: torch.Tensor,
                 reduction: int):
        super().__init__()
        self.subsets, self.out_channels = adjacency.shape[1], out_channels
        self.relation_channels = max(in_channels // reduction, 4)
        subsets, relation = self.subsets, self.relation_channels
        self.register_buffer("initial_adjacency", adjacency.clone())
        self.register_buffer("pair_mask", pair_mask.clone())
        self.adjacency = nn.Parameter(adjacency.clone())  # (L, K, V, V), learned per layout
        # The K subsets run as one convolution each, their channels stacked (grouped for refine).
        self.query = nn.Conv2d(in_channels, subsets * relation, 1)
        self.key = nn.Conv2d(in_channels, subsets * relation, 1)
        self.refine = nn.Conv2d(subsets * relation, subsets * out_channels, 1, groups=subsets)
        self.value = nn.Conv2d(in_channels, subsets * out_channels, 1)
        self.alpha = nn.Parameter(torch.zeros(1))
        self.norm = nn.BatchNorm2d(out_channels)
        self.residual = (nn.Identity() if in_channels == out_channels else
                         nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)))

    def forward(self, x: torch.Tensor, layout_ids: torch.Tensor) -> torch.Tensor:
        batch, _, frames, joints = x.shape
        k, r, c = self.subsets, self.relation_channels, self.out_channels
        query = self.query(x).mean(2).view(batch, k * r, joints, 1)
        key = self.key(x).mean(2).view(batch, k * r, 1, joints)
        refined = self.refine(torch.tanh(query - key)).view(batch, k, c, joints, joints)  # (B, K, C, V, V)
        graph = (self.adjacency[layout_ids].unsqueeze(2) + self.alpha * refined) * self.pair_mask[layout_ids][:, None, None]
        value = self.value(x).view(batch, k, c, frames, joints)
        out = (value @ graph.transpose(-1, -2)).sum(1)  # sum_k sum_v graph[u, v] value[t, v] -> (B, C, T, V)
        return torch.relu(self.norm(out) + self.residual(x))


class MultiScaleTemporalConv(nn.Module):
    """Four temporal branches (kernel ``k`` with dilation 1 and 2, max-pool, 1x1), concatenated:
    ``(B, C_in, T, V) → (B, C_out, T / stride, V)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        branch = out_channels // 4

        def entry():
            return [nn.Conv2d(in_channels, branch, 1), nn.BatchNorm2d(branch), nn.ReLU()]

        self.branches = nn.ModuleList(
            [nn.Sequential(*entry(), nn.Conv2d(branch, branch, (kernel_size, 1), (stride, 1),
                                               ((kernel_size - 1) * d // 2, 0), (d, 1)), nn.BatchNorm2d(branch))
             for d in (1, 2)]
            + [nn.Sequential(*entry(), nn.MaxPool2d((3, 1), (stride, 1), (1, 0)), nn.BatchNorm2d(branch)),
               nn.Sequential(nn.Conv2d(in_channels, branch, 1, (stride, 1)), nn.BatchNorm2d(branch))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class SkeletonBlock(nn.Module):
    """Graph convolution, then temporal convolution, with a residual path; padded joints reset to 0."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, config: EAISkeletonConfig,
                 adjacency: torch.Tensor, pair_mask: torch.Tensor):
        super().__init__()
        self.graph = TopologyRefinementGraphConv(in_channels, out_channels, adjacency, pair_mask,
                                                 config.relation_reduction)
        self.temporal = MultiScaleTemporalConv(out_channels, out_channels, config.temporal_kernel_size, stride)
        if in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor, layout_ids: torch.Tensor, joint_mask: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.temporal(self.graph(x, layout_ids)) + self.residual(x))
        return y * joint_mask[:, None, None, :]


@dataclass
class EAISkeletonEncoderOutput(ModelOutput):
    """Skeleton tokens and their UST masks.

    Args:
        semantic_token: ``(B, D)`` global token ``z_g``.
        spatial_tokens: ``(B, V, D)`` one token per joint ``z_s`` (zero for padded joints).
        temporal_tokens: ``(B, T', D)`` one token per temporal step ``z_t`` (zero for padded steps).
        spatial_mask: ``(B, V)`` 1 for real joints (eq. 1, ``M_s``).
        temporal_mask: ``(B, T')`` 1 for steps made from real frames (eq. 1, ``M_t``).
        logits: ``(B, num_labels)`` classification head on ``z_g``.
    """

    semantic_token: torch.Tensor | None = None
    spatial_tokens: torch.Tensor | None = None
    temporal_tokens: torch.Tensor | None = None
    spatial_mask: torch.Tensor | None = None
    temporal_mask: torch.Tensor | None = None
    logits: torch.Tensor | None = None


class EAIPreTrainedModel(PreTrainedModel):
    config_class = EAISkeletonConfig
    base_model_prefix = "eai"
    main_input_name = "skeleton_values"

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, (nn.Conv2d, nn.Conv1d)):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, TopologyRefinementGraphConv):
            module.adjacency.copy_(module.initial_adjacency)
            nn.init.zeros_(module.alpha)


class EAISkeletonEncoder(EAIPreTrainedModel):
    """CTR-GCN-like skeleton encoder with MGST heads (see module docstring)."""

    def __init__(self, config: EAISkeletonConfig):
        super().__init__(config)
        layouts = [JointLayout.from_dict(layout) for layout in config.layouts]
        adjacency, pair_mask = layout_graphs(layouts, config.max_joints)
        self.input_norm = nn.BatchNorm2d(6)
        channels = [6] + list(config.block_channels)
        self.blocks = nn.ModuleList(
            SkeletonBlock(channels[i], channels[i + 1], stride, config, adjacency, pair_mask)
            for i, stride in enumerate(config.block_strides))
        width, dim = channels[-1], config.token_dim
        self.semantic_head = nn.Linear(width, dim)
        self.spatial_head = nn.Conv1d(width, dim, 1)
        self.temporal_head = nn.Conv1d(width, dim, 1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(dim, len(config.id2label))
        self.post_init()

    def forward(self, skeleton_values: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor,
                layout_ids: torch.Tensor) -> EAISkeletonEncoderOutput:
        """
        Args:
            skeleton_values: ``(B, 3, T, V)`` from ``SkeletonProcessor``.
            joint_mask: ``(B, V)``; frame_mask: ``(B, T)``; layout_ids: ``(B,)`` indices into ``config.layouts``.
        """
        self._check_inputs(skeleton_values, joint_mask, frame_mask, layout_ids)
        joint_mask = joint_mask.to(skeleton_values.dtype)
        x = self.input_norm(self.with_velocity(skeleton_values, frame_mask)) * joint_mask[:, None, None, :]
        for block in self.blocks:
            x = block(x, layout_ids, joint_mask)  # (B, C, T', V)
        steps = x.shape[2]
        temporal_mask = frame_mask.to(x.dtype).view(x.shape[0], steps, -1).amax(-1)  # (B, T')

        both = temporal_mask[:, None, :, None] * joint_mask[:, None, None, :]  # (B, 1, T', V)
        pooled = (x * both).sum((2, 3)) / both.sum((2, 3))  # (B, C)
        over_time = (x * temporal_mask[:, None, :, None]).sum(2) / temporal_mask.sum(1)[:, None, None]  # (B, C, V)
        over_joints = (x * joint_mask[:, None, None, :]).sum(3) / joint_mask.sum(1)[:, None, None]  # (B, C, T')

        semantic = self.semantic_head(pooled)
        spatial = self.spatial_head(over_time).transpose(1, 2) * joint_mask[..., None]
        temporal = self.temporal_head(over_joints).transpose(1, 2) * temporal_mask[..., None]
        return EAISkeletonEncoderOutput(
            semantic_token=semantic, spatial_tokens=spatial, temporal_tokens=temporal,
            spatial_mask=joint_mask.long(), temporal_mask=temporal_mask.long(),
            logits=self.classifier(self.dropout(semantic)))

    @staticmethod
    def with_velocity(skeleton_values: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, V)`` positions → ``(B, 6, T, V)`` positions and frame-to-frame velocity (the
        "joint motion" stream of CTR-GCN, as input channels). Velocity is zero where either frame is
        padding, so a repeated or zero-padded tail adds no jump."""
        step = skeleton_values[:, :, 1:] - skeleton_values[:, :, :-1]
        both_real = (frame_mask[:, 1:] * frame_mask[:, :-1]).to(step.dtype)[:, None, :, None]
        velocity = torch.nn.functional.pad(step * both_real, (0, 0, 0, 1))
        return torch.cat([skeleton_values, velocity], dim=1)

    def _check_inputs(self, skeleton_values, joint_mask, frame_mask, layout_ids):
        config = self.config
        expected = (3, config.num_frames, config.max_joints)
        if skeleton_values.ndim != 4 or tuple(skeleton_values.shape[1:]) != expected:
            raise ValueError(f"skeleton_values has shape {tuple(skeleton_values.shape)}, expected (B, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}) for this encoder (num_frames, max_joints)")
        if int(layout_ids.min()) < 0 or int(layout_ids.max()) >= len(config.layouts):
            raise ValueError(f"layout_ids has {layout_ids.tolist()}, expected indices into the encoder's "
                             f"{len(config.layouts)} layouts {[layout['name'] for layout in config.layouts]}")
        empty = ((joint_mask.sum(1) == 0) | (frame_mask.sum(1) == 0)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f"samples {empty} have an all-zero joint_mask or frame_mask, expected at least one "
                             "real joint and frame per sample")
