"""EAI-LLM models.

``EAISkeletonEncoder``: a CTR-GCN-like network (channel-wise topology refinement graph convolutions
+ multi-scale temporal convolutions) over padded skeleton batches of several joint layouts at once,
with the paper's multi-granularity skeleton tokenizer (MGST, §3.1) and unified-skeleton-token masks
(UST, §3.2, eq. 1)::

    skeleton_values (B, 3, T, V) + velocity (B, 3, T, V)  ──blocks──▶  F (B, C, T', V)
        semantic token  z_g = Linear(masked mean of F over T', V)            (B, D)
                              + Linear(standardised motion_descriptors (B, K))   (when K > 0; in
                                training the graph term is dropped per clip with p = graph_dropout)
        spatial tokens  z_s = 1x1 conv(masked mean of F over T')              (B, V, D), mask (B, V)
        temporal tokens z_t = 1x1 conv(masked mean of F over V)               (B, T', D), mask (B, T')
        logits          = Linear(dropout(z_g))                                (B, num_labels)

Every layout has its own graph (padded to ``V = max_joints``); padded joints get no edges, their
features are kept at zero after every block and they never enter a pooled value, so in eval mode a
real clip's tokens do not depend on how wide the batch is padded. Two limits, by design of the
CTR-GCN blocks: in training mode BatchNorm statistics include padded joints; and padded *frames*
are data to the temporal convolutions and the topology refinement (as in CTR-GCN's repeat
padding) — the frame mask keeps them out of pooling and of the temporal-token mask only.

The descriptor term fuses the clip's interpretable movement descriptors (speed, jerk, expansiveness,
head height, pauses, ...: :mod:`eai_llm.descriptors`, computed by the processor at the clip's own
frame rate) into the token the classifier and the LLM read. The graph network sees a clip resampled to
``T`` frames, centred and scaled, so absolute tempo and body-size-relative speed reach it only
indirectly; the descriptors carry them, and on small real corpora they generalise across actions where
the learned features do not (docs/results.md).

With linear (1x1) token heads, pooling the spatial or temporal tokens (as L_st does, see
``alignment.py``) equals a linear map of the pooled block output, the same feature ``z_g`` sees.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModelForCausalLM, GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils import ModelOutput

from .configuration_eai import EAIConfig, EAISkeletonConfig, temporal_token_mask
from .joint_layout import JointLayout


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


class EAISkeletonPreTrainedModel(PreTrainedModel):
    """Base class of the skeleton encoder: its config class and weight initialisation."""

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


class EAISkeletonEncoder(EAISkeletonPreTrainedModel):
    """CTR-GCN-like skeleton encoder with MGST heads (see module docstring)."""

    def __init__(self, config: EAISkeletonConfig):
        super().__init__(config)
        if not config.layouts:
            raise ValueError("EAISkeletonConfig: field 'layouts' is empty, expected the definitions of the joint "
                             "layouts the encoder accepts (JointLayout.to_dict() dicts)")
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
        self.descriptor_head = nn.Linear(len(config.descriptor_names), dim) if config.descriptor_names else None
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(dim, len(config.id2label))
        self.post_init()

    def forward(self, skeleton_values: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor,
                layout_ids: torch.Tensor, motion_descriptors: torch.Tensor | None = None) -> EAISkeletonEncoderOutput:
        """
        Args:
            skeleton_values: ``(B, 3, T, V)`` from ``SkeletonProcessor``.
            joint_mask: ``(B, V)``; frame_mask: ``(B, T)``; layout_ids: ``(B,)`` indices into ``config.layouts``.
            motion_descriptors: ``(B, K)`` raw descriptor values in ``config.descriptor_names`` order, NaN
                where absent; needed when ``K > 0``.
        """
        self._check_inputs(skeleton_values, joint_mask, frame_mask, layout_ids, motion_descriptors)
        joint_mask = joint_mask.to(skeleton_values.dtype)
        x = self.input_norm(self.with_velocity(skeleton_values, frame_mask)) * joint_mask[:, None, None, :]
        for block in self.blocks:
            x = block(x, layout_ids, joint_mask)  # (B, C, T', V)
        temporal_mask = temporal_token_mask(frame_mask, x.shape[2]).to(x.dtype)  # (B, T')

        both = temporal_mask[:, None, :, None] * joint_mask[:, None, None, :]  # (B, 1, T', V)
        pooled = (x * both).sum((2, 3)) / both.sum((2, 3))  # (B, C)
        over_time = (x * temporal_mask[:, None, :, None]).sum(2) / temporal_mask.sum(1)[:, None, None]  # (B, C, V)
        over_joints = (x * joint_mask[:, None, None, :]).sum(3) / joint_mask.sum(1)[:, None, None]  # (B, C, T')

        semantic = self.semantic_head(pooled)
        if self.descriptor_head is not None and self.training and self.config.graph_dropout > 0:
            semantic = semantic * (torch.rand_like(semantic[:, :1]) >= self.config.graph_dropout)
        if self.descriptor_head is not None:
            # in float32 whatever the model's dtype (bf16 would round a value and its mean alike); the
            # statistics live in the config (readable, set once at training), not in the weights file
            mean, scale = (torch.tensor(values, device=pooled.device) for values in (self.config.descriptor_mean,
                                                                                    self.config.descriptor_scale))
            standardised = ((motion_descriptors.float() - mean) / scale).nan_to_num(0.0)  # absent: the mean
            semantic = semantic + self.descriptor_head(standardised.to(self.descriptor_head.weight.dtype))
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

    def _check_inputs(self, skeleton_values, joint_mask, frame_mask, layout_ids, motion_descriptors):
        config = self.config
        count = len(config.descriptor_names)
        if count and (motion_descriptors is None or tuple(motion_descriptors.shape) != (len(layout_ids), count)):
            found = "none" if motion_descriptors is None else f"shape {tuple(motion_descriptors.shape)}"
            raise ValueError(f"motion_descriptors: {found}, expected (B, {count}) values of {config.descriptor_names} "
                             "(SkeletonProcessor with the same 'descriptors')")
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


@dataclass
class EAICausalLMOutputWithPast(CausalLMOutputWithPast):
    r"""Outputs of :class:`EAILlamaForCausalLM`: those of a causal LM, plus

    Args:
        skeleton_tokens: ``(B, N, H)`` the projected skeleton tokens written into the input embeddings
            (only when ``skeleton_values`` were given).
    """

    skeleton_tokens: torch.Tensor | None = None


class EAIPreTrainedModel(PreTrainedModel):
    """Base class of EAI-LLM (skeleton encoder + projector + LLM), as ``LlavaPreTrainedModel`` is to LLaVA.
    The encoder and the LLM initialise their own weights; this class initialises the projector."""

    config_class = EAIConfig
    base_model_prefix = ""
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _no_split_modules = ["SkeletonBlock"]

    @torch.no_grad()
    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


class EAILlamaForCausalLM(EAIPreTrainedModel, GenerationMixin):
    r"""EAI-LLM (paper §3.3): the skeleton encoder, one linear projector ``D → H`` and a Llama-family
    causal LM. The prompt holds ``N = config.num_skeleton_tokens`` ``<skeleton>`` placeholder ids per clip
    (written by :class:`~eai_llm.processing_eai.EAIProcessor`); their input embeddings are replaced by the
    clip's projected skeleton tokens, in the order of ``config.skeleton_token_parts`` (semantic, spatial
    ``V_max`` joints, temporal ``T'`` steps, as ``token_granularity`` selects them). Padded joints and steps keep their places but
    the processor's ``attention_mask`` hides them (UST, eq. 1).

    The **action readout** (``config.action_names`` non-empty) is a linear map of the semantic token ``z_g``
    to the training corpus's actions, fitted on the frozen encoder's tokens before stage 2
    (:func:`eai_llm.instruction_tuning.fit_action_readout`); :meth:`read_actions` applies it.

    Training choices live outside this class: ``train.py`` freezes the encoder and adds LoRA. One
    behaviour follows from freezing: while the encoder has no trainable parameter, ``train()`` keeps it
    in eval mode, so its BatchNorm statistics and dropout stay those of stage 1.

    ``skeleton_encoder`` and ``language_model`` may be passed already built (pretrained), as
    :meth:`from_parts` does; otherwise they are built from ``config``.
    """

    _skeleton_inputs = ("skeleton_values", "joint_mask", "frame_mask", "layout_ids", "motion_descriptors")

    def __init__(self, config: EAIConfig, skeleton_encoder: EAISkeletonEncoder | None = None,
                 language_model: PreTrainedModel | None = None):
        super().__init__(config)
        self.skeleton_encoder = skeleton_encoder or EAISkeletonEncoder(config.skeleton_config)
        self.projector = nn.Linear(config.skeleton_config.token_dim, config.text_config.hidden_size)
        self.language_model = language_model or AutoModelForCausalLM.from_config(config.text_config)
        self.action_readout = (nn.Linear(config.skeleton_config.token_dim, len(config.action_names))
                               if config.action_names else None)
        self.post_init()

    @classmethod
    def from_parts(cls, language_model: PreTrainedModel, skeleton_encoder: EAISkeletonEncoder,
                   skeleton_token_id: int, token_granularity: str = "all", **config_fields) -> EAILlamaForCausalLM:
        """Assemble a model for stage 2 from a pretrained Llama-family LLM whose vocabulary already has the
        ``<skeleton>`` token, a stage-1 encoder and a freshly initialised projector (and action readout);
        ``config_fields``: further :class:`EAIConfig` fields."""
        attention = language_model.config._attn_implementation
        config = EAIConfig(text_config=language_model.config, skeleton_config=skeleton_encoder.config,
                           token_granularity=token_granularity, skeleton_token_id=skeleton_token_id, **config_fields)
        config._attn_implementation = attention  # nesting the text config reset it; this sets it on all configs
        config.auto_map = {"AutoModel": "modeling_eai.EAILlamaForCausalLM"}  # save_pretrained adds AutoConfig and
        # AutoModelForCausalLM (registered when eai_llm is imported)
        model = cls(config, skeleton_encoder=skeleton_encoder, language_model=language_model)
        model.generation_config = copy.deepcopy(language_model.generation_config)
        model.generation_config.suppress_tokens = [skeleton_token_id]  # a generated placeholder would have no skeleton
        return model

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module):
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module):
        self.language_model.set_output_embeddings(value)

    def train(self, mode: bool = True):
        super().train(mode)
        if not any(p.requires_grad for p in self.skeleton_encoder.parameters()):
            self.skeleton_encoder.eval()
        return self

    def get_skeleton_tokens(self, skeleton_values: torch.Tensor, joint_mask: torch.Tensor,
                            frame_mask: torch.Tensor, layout_ids: torch.Tensor,
                            motion_descriptors: torch.Tensor | None = None) -> torch.Tensor:
        """Skeleton inputs (see :class:`EAISkeletonEncoder`) → projected tokens ``(B, N, H)``."""
        encoded = self.skeleton_encoder(skeleton_values.to(self.projector.weight.dtype), joint_mask, frame_mask,
                                        layout_ids, motion_descriptors)
        tokens = {"semantic": encoded.semantic_token[:, None], "spatial": encoded.spatial_tokens,
                  "temporal": encoded.temporal_tokens}
        return self.projector(torch.cat([tokens[part] for part, _ in self.config.skeleton_token_parts], dim=1))

    def read_actions(self, skeleton_values: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor,
                     layout_ids: torch.Tensor, motion_descriptors: torch.Tensor | None = None) -> torch.Tensor:
        """Skeleton inputs (see :class:`EAISkeletonEncoder`) → action readout logits ``(B, A)`` over
        ``config.action_names``; a ``ValueError`` for a model without a readout."""
        if self.action_readout is None:
            raise ValueError("EAILlamaForCausalLM: this model has no action readout (config.action_names is empty: "
                             "its training corpus recorded fewer than two actions)")
        encoded = self.skeleton_encoder(skeleton_values.to(self.projector.weight.dtype), joint_mask, frame_mask,
                                        layout_ids, motion_descriptors)
        return self.action_readout(encoded.semantic_token.to(self.action_readout.weight.dtype))

    def forward(self, input_ids: torch.LongTensor | None = None, skeleton_values: torch.Tensor | None = None,
                joint_mask: torch.Tensor | None = None, frame_mask: torch.Tensor | None = None,
                layout_ids: torch.Tensor | None = None, motion_descriptors: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                position_ids: torch.LongTensor | None = None, cache=None, inputs_embeds: torch.Tensor | None = None,
                labels: torch.LongTensor | None = None, use_cache: bool | None = None,
                logits_to_keep: int | torch.Tensor = 0, **kwargs) -> EAICausalLMOutputWithPast:
        r"""
        Args:
            input_ids: ``(B, L)`` prompt ids with ``N`` ``<skeleton>`` ids per clip (from ``EAIProcessor``).
            skeleton_values, joint_mask, frame_mask, layout_ids, motion_descriptors: ``(B, 3, T, V)``,
                ``(B, V)``, ``(B, T)``, ``(B,)``, ``(B, K)`` from the processor; needed whenever ``input_ids`` hold placeholders (the first
                generation step; later steps read the skeleton from the cache).
            attention_mask: ``(B, L)`` 1 for tokens to attend to; 0 for padding and padded skeleton tokens.
            labels: ``(B, L)`` target ids, -100 where no loss is taken; forced to -100 on placeholders.
            position_ids: default, as ``generate`` makes them: a token's position counts only the tokens the
                attention mask keeps before it, so training, scoring and generation agree.
            cache, use_cache, logits_to_keep: as for the LLM.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("EAILlamaForCausalLM: pass exactly one of input_ids and inputs_embeds")
        skeleton_tokens = None
        if input_ids is not None:
            placeholders = input_ids == self.config.skeleton_token_id
            inputs_embeds = self.get_input_embeddings()(input_ids)
            if skeleton_values is not None:
                skeleton_tokens = self.get_skeleton_tokens(skeleton_values, joint_mask, frame_mask, layout_ids,
                                                           motion_descriptors)
                self._check_placeholders(placeholders, skeleton_tokens.shape[:2])
                inputs_embeds = inputs_embeds.masked_scatter(placeholders[..., None],
                                                             skeleton_tokens.to(inputs_embeds.dtype))
                if labels is not None:
                    labels = labels.masked_fill(placeholders, -100)
            elif placeholders.any():
                raise ValueError(f"EAILlamaForCausalLM: input_ids hold {int(placeholders.sum())} <skeleton> "
                                 "placeholders but no skeleton_values were given")
        elif skeleton_values is not None:
            raise ValueError("EAILlamaForCausalLM: skeleton_values need input_ids to locate the <skeleton> "
                             "placeholders (inputs_embeds were given)")
        if position_ids is None and attention_mask is not None and attention_mask.ndim == 2:
            # as generate() counts them: masked tokens (padding, padded skeleton tokens) take no position
            position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
            position_ids = position_ids[:, -inputs_embeds.shape[1]:]
        outputs = self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                      position_ids=position_ids, cache=cache, labels=labels, use_cache=use_cache,
                                      logits_to_keep=logits_to_keep, **kwargs)
        return EAICausalLMOutputWithPast(loss=outputs.loss, logits=outputs.logits, cache=outputs.cache,
                                         hidden_states=outputs.hidden_states, attentions=outputs.attentions,
                                         skeleton_tokens=skeleton_tokens)

    def _check_placeholders(self, placeholders: torch.Tensor, tokens_shape: torch.Size):
        clips, per_clip = tokens_shape
        if placeholders.shape[0] != clips:
            raise ValueError(f"EAILlamaForCausalLM: {placeholders.shape[0]} prompts but {clips} skeleton clips, "
                             "expected one clip per prompt")
        counts = placeholders.sum(1)
        if bool((counts != per_clip).any()):
            raise ValueError(f"EAILlamaForCausalLM: prompts hold {counts.tolist()} <skeleton> placeholder tokens, "
                             f"expected {per_clip} each (token_granularity {self.config.token_granularity!r}); "
                             "build inputs with EAIProcessor, which expands one '<skeleton>' per prompt")

    def prepare_inputs_for_generation(self, *args, is_first_iteration: bool | None = False, **kwargs):
        """Skeleton inputs go to the first forward only; later steps read them from the KV cache (or, without
        a cache, every step recomputes the whole prompt and needs them again)."""
        skeleton = {key: kwargs.pop(key, None) for key in self._skeleton_inputs}
        inputs = super().prepare_inputs_for_generation(*args, is_first_iteration=is_first_iteration, **kwargs)
        if is_first_iteration or not kwargs.get("use_cache", True):
            inputs.update(skeleton)
        return inputs
