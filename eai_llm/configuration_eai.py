"""Configurations of EAI-LLM models (transformers ``PreTrainedConfig`` dataclasses)."""

from __future__ import annotations

import math

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .claims import ALL_CORPORA, Population
from .joint_layout import JointLayout


@strict
class EAISkeletonConfig(PreTrainedConfig):
    r"""Configuration of :class:`~eai_llm.modeling_eai.EAISkeletonEncoder`, the CTR-GCN-like skeleton
    encoder with multi-granularity token heads.

    Args:
        layouts: the joint layouts the encoder accepts, as ``JointLayout.to_dict()`` dicts (or
            ``JointLayout`` objects, stored as dicts): the full definitions travel with the model, so it
            never looks a name up. Layout id ``i`` of a batch is ``layouts[i]``. Use the same list as the
            ``SkeletonProcessor`` (the data layer, ``eai_llm.layouts``, has the built-in ones).
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
        descriptor_names: the movement descriptors fused into the semantic token (the processor's
            ``descriptors``, in its order; empty: none).
        descriptor_mean / descriptor_scale: per descriptor, the training corpus's mean and standard
            deviation; the encoder standardises with them, and an absent (NaN) value becomes the mean.
        graph_dropout: with descriptors, the probability in training that a clip's semantic token gets no
            graph term (its descriptors alone), so that the head cannot lean on the graph features only.
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
    descriptor_names: list[str] | tuple[str, ...] = ()
    descriptor_mean: list[float] | tuple[float, ...] = ()
    descriptor_scale: list[float] | tuple[float, ...] = ()
    graph_dropout: float = 0.0

    def __post_init__(self, **kwargs):
        self.layouts = [layout_definition(layout, "EAISkeletonConfig") for layout in self.layouts or []]
        self.block_channels, self.block_strides = list(self.block_channels), list(self.block_strides)
        self.descriptor_names = list(self.descriptor_names)
        self.descriptor_mean = [float(v) for v in self.descriptor_mean]
        self.descriptor_scale = [float(v) for v in self.descriptor_scale]
        super().__post_init__(**kwargs)
        count = len(self.descriptor_names)
        if len(self.descriptor_mean) != count or len(self.descriptor_scale) != count:
            raise ValueError(f"EAISkeletonConfig: 'descriptor_mean' ({len(self.descriptor_mean)}) and "
                             f"'descriptor_scale' ({len(self.descriptor_scale)}) need one value per name of "
                             f"'descriptor_names' ({count})")
        if not all(math.isfinite(m) for m in self.descriptor_mean) or not all(
                math.isfinite(s) and s > 0 for s in self.descriptor_scale):
            raise ValueError("EAISkeletonConfig: 'descriptor_mean' must be finite and 'descriptor_scale' finite and "
                             "positive")
        if not 0 <= self.graph_dropout < 1 or (self.graph_dropout and not count):
            raise ValueError(f"EAISkeletonConfig: 'graph_dropout' is {self.graph_dropout}, expected 0 <= p < 1, and 0 "
                             "without 'descriptor_names'")
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
        """``V_max``: the joint count of the widest layout (0 without layouts)."""
        return max((len(layout["joint_names"]) for layout in self.layouts), default=0)

    @property
    def num_temporal_tokens(self) -> int:
        """``T' = num_frames / prod(block_strides)``."""
        return self.num_frames // math.prod(self.block_strides)


def layout_definition(layout, owner: str) -> dict:
    """A layout as a validated ``JointLayout.to_dict()`` dict; a bare name is an error, since a model must
    carry the full definition of every skeleton it accepts."""
    if isinstance(layout, JointLayout):
        return layout.to_dict()
    if not isinstance(layout, dict):
        raise ValueError(f"{owner}: field 'layouts' holds {layout!r}, expected layout definitions "
                         "(JointLayout.to_dict() dicts; the built-in ones are in eai_llm.layouts)")
    return JointLayout.from_dict(layout).to_dict()


TOKEN_GRANULARITIES = {  # which skeleton tokens the LLM sees, in this order (paper §3.1, Table 3)
    "semantic": ("semantic",),
    "spatiotemporal": ("spatial", "temporal"),
    "all": ("semantic", "spatial", "temporal"),
}


def skeleton_token_parts(granularity: str, max_joints: int, num_temporal_tokens: int) -> list[tuple[str, int]]:
    """The skeleton tokens of one clip, in the order the LLM reads them: ``(part, count)`` pairs from
    ``("semantic", 1)``, ``("spatial", V_max)`` (one per joint), ``("temporal", T')`` (one per step),
    selected by ``granularity``. The encoder's tokens, the processor's attention mask over the
    placeholders and the placeholder count all follow this list."""
    if granularity not in TOKEN_GRANULARITIES:
        raise ValueError(f"field 'token_granularity' is {granularity!r}, expected one of {list(TOKEN_GRANULARITIES)}")
    counts = {"semantic": 1, "spatial": max_joints, "temporal": num_temporal_tokens}
    return [(part, counts[part]) for part in TOKEN_GRANULARITIES[granularity]]


def temporal_token_mask(frame_mask, num_temporal_tokens: int):
    """``(B, T)`` frame mask (numpy array or torch tensor) → ``(B, T')`` bool: a temporal token is real when
    any of the ``T / T'`` frames it pools is (UST, eq. 1, ``M_t``)."""
    return frame_mask.reshape(frame_mask.shape[0], num_temporal_tokens, -1).any(-1)


@strict
class EAIConfig(PreTrainedConfig):
    r"""Configuration of :class:`~eai_llm.modeling_eai.EAILlamaForCausalLM`: a skeleton encoder, a linear
    projector and a Llama-family causal LM (as ``LlavaConfig`` nests its vision and text configs).

    Args:
        text_config: the LLM's config (``LlamaConfig`` or its dict; ``model_type`` must be ``"llama"``).
        skeleton_config: the stage-1 encoder's :class:`EAISkeletonConfig` (or its dict); its ``id2label``
            and ``corpus_labels`` are the model's label vocabulary.
        token_granularity: which skeleton tokens the LLM sees (paper §3.1, Table 3): ``"semantic"`` (the
            global token ``z_g``, 1 token), ``"spatiotemporal"`` (``V_max`` joint tokens then ``T'``
            temporal tokens) or ``"all"`` (semantic, then spatial, then temporal).
        skeleton_token_id: id of the ``<skeleton>`` placeholder token in the LLM's vocabulary; the
            processor writes it ``num_skeleton_tokens`` times per clip.
        descriptor_populations: where the training clips' movement descriptors lie, per training corpus
            (``{corpus: {"layouts": [name, ...], "quantiles": {descriptor: 101 quantiles}, "actions": {action:
            {descriptor: 101 quantiles}}}}``, with ``"*"`` for all of them;
            :func:`eai_llm.corpus.population_records`): the reference that the evidence
            beside an explanation reads a clip's measurements against. ``None`` in a model saved before it
            was kept (its explanations then come without evidence).
        action_names: the actions the action readout names, in its output order (the training clips'
            recorded actions); empty when the training corpus records fewer than two.
        grounded_descriptions: the description prompt carries what was read from the clip beside its
            skeleton tokens: the action readout's action and the clip's notable measured qualities
            (:meth:`~eai_llm.processing_eai.EAIProcessor.description_prompt`); needs ``descriptor_populations``.
            ``False`` in a model saved before it existed.
    """

    model_type = "eai_llm"
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama"),
        "skeleton_config": SubConfigSpec(config_class=EAISkeletonConfig),
    }

    text_config: dict | PreTrainedConfig | None = None
    skeleton_config: dict | PreTrainedConfig | None = None
    token_granularity: str = "all"
    skeleton_token_id: int = 0
    descriptor_populations: dict | None = None
    action_names: list[str] | None = None
    grounded_descriptions: bool = False
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.text_config.model_type != "llama":
            raise ValueError(f"EAIConfig: 'text_config' is a {self.text_config.model_type!r} model, expected a "
                             "Llama-family LLM (model_type 'llama': LLaMA, Llama 2/3, Vicuna, SmolLM2, ...)")
        self.skeleton_token_parts  # validates token_granularity
        if not 0 <= self.skeleton_token_id < self.text_config.vocab_size:
            raise ValueError(f"EAIConfig: 'skeleton_token_id' is {self.skeleton_token_id}, expected an id in the "
                             f"LLM's vocabulary [0, {self.text_config.vocab_size})")
        self.tie_word_embeddings = self.tie_word_embeddings or self.text_config.tie_word_embeddings
        for name, record in (self.descriptor_populations or {}).items():
            try:
                if not isinstance(record, dict) or not isinstance(record.get("layouts"), list) or not isinstance(
                        record.get("quantiles"), dict):
                    raise ValueError("expected {'layouts': [name, ...], 'quantiles': {descriptor: quantiles}}")
                Population(record["quantiles"])
                for action, quantiles in record.get("actions", {}).items():
                    Population(quantiles)
            except (ValueError, TypeError, AttributeError) as error:
                raise ValueError(f"EAIConfig: field 'descriptor_populations' entry {name!r}: {error}") from None
        if self.descriptor_populations is not None and ALL_CORPORA not in self.descriptor_populations:
            raise ValueError(f"EAIConfig: field 'descriptor_populations' has no {ALL_CORPORA!r} entry (all training "
                             "clips), expected one")
        self.action_names = list(self.action_names or [])
        if len(set(self.action_names)) != len(self.action_names) or not all(self.action_names):
            raise ValueError(f"EAIConfig: field 'action_names' is {self.action_names}, expected distinct non-empty "
                             "names")
        if self.grounded_descriptions and self.descriptor_populations is None:
            raise ValueError("EAIConfig: field 'grounded_descriptions' is true but 'descriptor_populations' is None, "
                             "expected the training clips' descriptor populations that the prompt reads a clip against")

    @classmethod
    def from_dict(cls, config_dict: dict, **kwargs) -> "EAIConfig":
        """As ``PreTrainedConfig.from_dict``, but a config of another model type (a stage-1 encoder, a bare
        LLM) is an error instead of a warning and a default-sized model."""
        model_type = config_dict.get("model_type")
        if model_type is not None and model_type != cls.model_type:
            raise ValueError(f"EAIConfig: field 'model_type' is {model_type!r}, expected {cls.model_type!r} (a folder "
                             "written by train.py stage 2, <output_dir>/model)")
        return super().from_dict(config_dict, **kwargs)

    @property
    def skeleton_token_parts(self) -> list[tuple[str, int]]:
        """The skeleton tokens per clip, in order (:func:`skeleton_token_parts`)."""
        skeleton = self.skeleton_config
        try:
            return skeleton_token_parts(self.token_granularity, skeleton.max_joints, skeleton.num_temporal_tokens)
        except ValueError as error:
            raise ValueError(f"EAIConfig: {error}") from None

    @property
    def num_skeleton_tokens(self) -> int:
        """Skeleton tokens per clip ``N``: 1, ``V_max + T'`` or ``1 + V_max + T'``."""
        return sum(count for _, count in self.skeleton_token_parts)

    @property
    def labels(self) -> list[str]:
        """The label vocabulary (merged across corpora), in head order."""
        id2label = self.skeleton_config.id2label
        return [id2label[i] for i in sorted(id2label)]
