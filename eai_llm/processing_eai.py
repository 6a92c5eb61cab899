"""Processors: motion clips → padded skeleton tensors (``SkeletonProcessor``), and clips + prompts →
LLM inputs (``EAIProcessor``).

``SkeletonProcessor`` is to skeleton clips what a tokenizer is to text: it turns a batch of clips
of any length, frame rate and joint layout into fixed-size, padded arrays with masks:

    skeleton_values  (B, 3, T, V_max) float32   xyz channels first, as graph convolutions want
    joint_mask       (B, V_max)       int64     1 for the clip's joints, 0 for padding
    frame_mask       (B, T)           int64     1 for frames made from the clip, 0 for padding
    layout_ids       (B,)             int64     index of the clip's layout in ``processor.layouts``
    motion_descriptors (B, K)         float32   the clip's movement descriptors (``descriptors``, K of
                                                them, K = 0 without), NaN where one cannot be computed

Steps, per clip ``(T_in, J, 3)`` at ``fps``:

0. Describe: the movement descriptors named by ``descriptors`` (:mod:`eai_llm.descriptors`), from the
   clip as it is, at its own frame rate, before anything below changes it; NaN for one the layout's
   joints or the clip's length do not allow, and for all of them below ``descriptors.MIN_FPS``.
1. Resample: a clip longer than ``num_frames`` is downsampled to ``T = num_frames`` frames by linear
   interpolation over the whole clip (the first and last frames are kept); a shorter clip keeps its
   ``T_in`` frames. These are the clip's *real* frames.
2. Normalise the real frames: centre on the root joint of the first frame (translation over time is
   kept: walking speed carries emotion), with ``face_forward`` turn the clip about the up axis so
   that the body faces +Z at its first frame (facing ``up x (right hip - left hip)``; a layout
   without both hips is not turned), and divide by the
   body's size, the median over the real frames of the largest joint-to-root distance. Centring,
   turning and scaling commute with linear interpolation, so doing them after resampling changes
   only where the size is measured.
3. Pad: after the last real frame, by repeating the real frames from the start (the paper's and
   CTR-GCN's choice, ``frame_padding="repeat"``) or with zeros (``frame_padding="zero"``); either way
   ``frame_mask`` marks the padded frames 0. Joints are padded to ``V_max`` with exact zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from transformers import AutoTokenizer, BatchFeature, ProcessorMixin
from transformers.feature_extraction_utils import FeatureExtractionMixin

from .claims import action_words
from .configuration_eai import EAIConfig, layout_definition, temporal_token_mask
from .descriptors import DESCRIPTORS, FACING_JOINTS, describe_motion, facing
from .joint_layout import JointLayout
from .labels import label_prompt, merged_label


class SkeletonProcessor(FeatureExtractionMixin):
    """Feature extractor for 3D skeleton clips (see module docstring for the outputs).

    Args:
        layouts: the joint layouts this processor (and the model after it) accepts, as ``JointLayout``
            objects or their ``to_dict()`` dicts. Their full definitions are saved with the processor,
            so a layout read from a user's BVH files travels with a published model and nothing is
            looked up by name.
        num_frames: frames per clip after resampling (the paper: 64).
        max_joints: ``V_max``; defaults to the largest layout.
        frame_padding: ``"repeat"`` or ``"zero"``, how clips shorter than ``num_frames`` are padded.
        descriptors: names of the movement descriptors to compute per clip (``motion_descriptors``;
            keys of :data:`eai_llm.descriptors.DESCRIPTORS`); they need each clip's ``fps``.
        face_forward: turn each clip to face +Z at its first frame (module docstring, step 2).
    """

    model_input_names = ["skeleton_values", "joint_mask", "frame_mask", "layout_ids", "motion_descriptors"]

    def __init__(self, layouts: Sequence[dict | JointLayout] = (), num_frames: int = 64,
                 max_joints: int | None = None, frame_padding: str = "repeat", descriptors: Sequence[str] = (),
                 face_forward: bool = False, **kwargs):
        super().__init__(**kwargs)
        resolved = [JointLayout.from_dict(layout_definition(layout, "SkeletonProcessor")) for layout in layouts]
        if not resolved:
            raise ValueError("SkeletonProcessor: field 'layouts' is empty, expected at least one layout")
        widest = max(layout.num_joints for layout in resolved)
        if max_joints is not None and max_joints < widest:
            raise ValueError(f"SkeletonProcessor: field 'max_joints' is {max_joints}, expected at least "
                             f"{widest} (the largest layout)")
        if num_frames < 2:
            raise ValueError(f"SkeletonProcessor: field 'num_frames' is {num_frames}, expected at least 2")
        if frame_padding not in ("repeat", "zero"):
            raise ValueError(f"SkeletonProcessor: field 'frame_padding' is {frame_padding!r}, "
                             "expected 'repeat' or 'zero'")
        unknown = [name for name in descriptors if name not in DESCRIPTORS]
        if unknown:
            raise ValueError(f"SkeletonProcessor: field 'descriptors' has unknown names {unknown}, expected some of "
                             f"{list(DESCRIPTORS)}")
        self.layouts = [layout.to_dict() for layout in resolved]
        self.num_frames = num_frames
        self.max_joints = max_joints or widest
        self.frame_padding = frame_padding
        self.descriptors = list(descriptors)
        self.face_forward = bool(face_forward)
        self._layout_by_name = {layout.name: (i, layout) for i, layout in enumerate(resolved)}

    @property
    def layout_names(self) -> list[str]:
        return [layout["name"] for layout in self.layouts]

    def to_dict(self) -> dict:
        output = super().to_dict()
        output.pop("_layout_by_name")
        return output

    def __call__(self, positions: np.ndarray | Sequence[np.ndarray], layouts: str | Sequence[str],
                 fps: float | Sequence[float] | None = None, return_tensors: str | None = None) -> BatchFeature:
        """Process one clip ``(T_in, J, 3)`` or a list of clips with their layout names and frame rates
        (one value for all, or one per clip; ``fps`` may be left out when the processor computes no
        descriptors). Positions are metres, +Y up, finite (the readers in ``eai_llm.motion`` repair
        missing frames). ``return_tensors``: ``"pt"``, ``"np"`` or None (numpy)."""
        clips = [positions] if isinstance(positions, np.ndarray) and positions.ndim == 3 else list(positions)
        names = self._per_clip(layouts, len(clips), "layouts", "layout names")
        if fps is None and self.descriptors:
            raise ValueError(f"SkeletonProcessor: no 'fps' given, expected each clip's frame rate: this processor "
                             f"computes movement descriptors (field 'descriptors': {self.descriptors})")
        rates = self._per_clip(fps, len(clips), "fps", "frame rates")
        if not clips:
            raise ValueError("SkeletonProcessor: empty batch, expected at least one clip")
        batch, t_out, v_max = len(clips), self.num_frames, self.max_joints
        values = np.zeros((batch, 3, t_out, v_max), dtype=np.float32)
        joint_mask = np.zeros((batch, v_max), dtype=np.int64)
        frame_mask = np.zeros((batch, t_out), dtype=np.int64)
        layout_ids = np.zeros(batch, dtype=np.int64)
        descriptors = np.full((batch, len(self.descriptors)), np.nan, dtype=np.float32)
        for b, (clip, name, rate) in enumerate(zip(clips, names, rates)):
            layout_id, layout = self._lookup(name, b)
            clip = self._check(np.asarray(clip, dtype=np.float32), layout, b)
            descriptors[b] = self._describe(clip, rate, layout, b)
            real = self._normalise(self._downsample(clip), layout)
            n_real, joints = real.shape[:2]
            values[b, :, :n_real, :joints] = real.transpose(2, 0, 1)
            if self.frame_padding == "repeat" and n_real < t_out:
                values[b, :, n_real:, :joints] = real[np.arange(n_real, t_out) % n_real].transpose(2, 0, 1)
            joint_mask[b, :joints] = 1
            frame_mask[b, :n_real] = 1
            layout_ids[b] = layout_id
        data = {"skeleton_values": values, "joint_mask": joint_mask, "frame_mask": frame_mask,
                "layout_ids": layout_ids, "motion_descriptors": descriptors}
        return BatchFeature(data=data, tensor_type=return_tensors)

    @staticmethod
    def _per_clip(value, count: int, field: str, what: str) -> list:
        """One ``value`` for every clip, or a list of one per clip (``None`` stays ``None`` for each)."""
        if value is None or isinstance(value, (str, int, float, np.number)):
            return [value] * count
        values = list(value)
        if len(values) != count:
            raise ValueError(f"SkeletonProcessor: {count} clips but {len(values)} {what} (field {field!r}), "
                             "expected one per clip or a single one")
        return values

    def _describe(self, clip: np.ndarray, fps: float | None, layout: JointLayout, b: int) -> np.ndarray:
        """``(K,)`` the clip's descriptors (module docstring, step 0)."""
        if not self.descriptors:
            return np.zeros(0, dtype=np.float32)
        if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not 0 < float(fps) < np.inf:
            raise ValueError(f"clip {b}: field 'fps' is {fps!r}, expected a positive number of frames per second")
        values = describe_motion(clip, float(fps), layout)
        return np.array([values.get(name, np.nan) for name in self.descriptors], dtype=np.float32)

    def _lookup(self, name: str, b: int) -> tuple[int, JointLayout]:
        if name not in self._layout_by_name:
            raise ValueError(f"clip {b}: field 'layout' is {name!r}, expected one of this processor's "
                             f"layouts {self.layout_names}")
        return self._layout_by_name[name]

    @staticmethod
    def _check(clip: np.ndarray, layout: JointLayout, b: int) -> np.ndarray:
        if clip.ndim != 3 or clip.shape[2] != 3:
            raise ValueError(f"clip {b}: field 'positions' has shape {clip.shape}, expected (T, J, 3)")
        if clip.shape[1] != layout.num_joints:
            raise ValueError(f"clip {b}: field 'positions' has {clip.shape[1]} joints, expected "
                             f"{layout.num_joints} for layout {layout.name!r}")
        if clip.shape[0] < 2:
            raise ValueError(f"clip {b}: field 'positions' has {clip.shape[0]} frames, expected at least 2")
        if not np.isfinite(clip).all():
            frames = np.flatnonzero(~np.isfinite(clip).all(axis=(1, 2)))
            raise ValueError(f"clip {b}: field 'positions' has NaN/inf in frames {frames[:10].tolist()}, "
                             "expected finite values (read files with eai_llm.motion, which repairs gaps)")
        return clip

    def _downsample(self, clip: np.ndarray) -> np.ndarray:
        """``(T_in, J, 3)`` → the real frames ``(min(T_in, num_frames), J, 3)``: linearly interpolated at
        ``num_frames`` evenly spaced times over the clip when it is longer, else the clip itself."""
        t_in, t_out = clip.shape[0], self.num_frames
        if t_in <= t_out:
            return clip
        where = np.linspace(0.0, t_in - 1, t_out)
        low = where.astype(np.int64)
        weight = (where - low).astype(np.float32)[:, None, None]
        before = clip[low]
        return before + weight * (clip[np.minimum(low + 1, t_in - 1)] - before)

    def _normalise(self, frames: np.ndarray, layout: JointLayout) -> np.ndarray:
        """``(T, J, 3)`` centred on the root of the first frame, turned to face +Z (with ``face_forward``) and
        divided by the median over frames of the largest joint-to-root distance."""
        root = layout.root_index
        from_root = frames - frames[:, root:root + 1]
        size = np.median(np.sqrt((from_root * from_root).sum(axis=-1).max(axis=1)))
        centred = (frames - frames[0, root]) / max(float(size), 1e-6)
        return centred @ self._facing_turn(frames[0], layout).T if self.face_forward else centred

    @staticmethod
    def _facing_turn(frame: np.ndarray, layout: JointLayout) -> np.ndarray:
        """``(3, 3)`` rotation about +Y that turns the body's facing (:func:`eai_llm.descriptors.facing`) in
        ``frame`` ``(J, 3)`` to +Z; the identity when the layout lacks the hips or they coincide."""
        if not set(FACING_JOINTS) <= set(layout.canonical):
            return np.eye(3, dtype=np.float32)
        f = facing(frame[None].astype(np.float64), layout)[0]
        if not np.isfinite(f).all():
            return np.eye(3, dtype=np.float32)
        cos, sin = f[2], f[0]  # f = (sin a, 0, cos a): turn by -a
        return np.array([[cos, 0.0, -sin], [0.0, 1.0, 0.0], [sin, 0.0, cos]], dtype=np.float32)


SKELETON_TOKEN = "<skeleton>"
# The paper's two prompts (§3.3); "<Skeleton>" and "</Skeleton>" are plain text around the placeholder.
RECOGNITION_QUESTION = "<Skeleton> <skeleton> </Skeleton> Can you tell me the emotion of this person?"
DESCRIPTION_QUESTION = ("<Skeleton> <skeleton> </Skeleton> {reading}The emotion of this person is {label}, "
                        "please tell me some reasons for it.")


class EAIProcessor(ProcessorMixin):
    r"""Clips and prompts → inputs of :class:`~eai_llm.modeling_eai.EAILlamaForCausalLM` (as
    ``LlavaProcessor`` is to images): a :class:`SkeletonProcessor` and the LLM's tokenizer.

    Each prompt holds one ``<skeleton>`` placeholder, which is expanded to ``N`` placeholder ids, one per
    skeleton token the model's config lists (``EAIConfig.skeleton_token_parts``: semantic, spatial,
    temporal, by ``token_granularity``; the model checks the count). The attention mask is 0 at
    placeholders of padded joints and padded temporal steps (UST, eq. 1), so padding never takes part
    in attention, in the first forward or in generation after it.

    Outputs of ``__call__`` (``B`` prompts, ``L`` padded length)::

        input_ids       (B, L)  int64   prompt ids (+ completion ids when ``completions`` are given)
        attention_mask  (B, L)  int64   0 for padding and padded skeleton tokens
        labels          (B, L)  int64   completion ids, -100 elsewhere (only with ``completions``)
        skeleton_values, joint_mask, frame_mask, layout_ids   from SkeletonProcessor (only with clips)

    Args:
        feature_extractor: the :class:`SkeletonProcessor`.
        tokenizer: the LLM's tokenizer, with ``<skeleton>`` in its vocabulary as a special token.
        model_config: the :class:`~eai_llm.configuration_eai.EAIConfig` of the model these inputs are for:
            the skeleton-token layout comes from it (:meth:`from_pretrained` reads it from the model's
            ``config.json`` in the same folder), and its ``skeleton_token_id`` must be the tokenizer's.
        chat_template: the chat template; defaults to the tokenizer's. Without one, prompts use the
            paper's ``#Human: ... #Assistant:`` form.
    """

    def __init__(self, feature_extractor: SkeletonProcessor | None = None, tokenizer=None,
                 model_config: EAIConfig | None = None, chat_template: str | None = None, **kwargs):
        if not isinstance(model_config, EAIConfig):
            raise ValueError(f"EAIProcessor: field 'model_config' is a {type(model_config).__name__}, expected the "
                             "model's EAIConfig (EAIProcessor.from_pretrained reads it from the model folder)")
        ids = tokenizer.convert_tokens_to_ids([SKELETON_TOKEN])
        if ids[0] is None or ids[0] == tokenizer.unk_token_id or tokenizer.tokenize(SKELETON_TOKEN) != [SKELETON_TOKEN]:
            raise ValueError(f"EAIProcessor: the tokenizer has no {SKELETON_TOKEN!r} token, expected it added as a "
                             f"special token (tokenizer.add_tokens([{SKELETON_TOKEN!r}], special_tokens=True))")
        if ids[0] != model_config.skeleton_token_id:
            raise ValueError(f"EAIProcessor: the tokenizer's {SKELETON_TOKEN!r} id is {ids[0]}, but the model config's "
                             f"field 'skeleton_token_id' is {model_config.skeleton_token_id}; expected the tokenizer "
                             "the model was trained with")
        skeleton = model_config.skeleton_config
        if (feature_extractor.num_frames, feature_extractor.max_joints) != (skeleton.num_frames, skeleton.max_joints):
            raise ValueError(f"EAIProcessor: the skeleton processor makes {feature_extractor.num_frames} frames x "
                             f"{feature_extractor.max_joints} joints, expected the encoder's {skeleton.num_frames} x "
                             f"{skeleton.max_joints} (fields 'num_frames', 'max_joints')")
        if feature_extractor.descriptors != skeleton.descriptor_names:
            raise ValueError(f"EAIProcessor: the skeleton processor computes descriptors {feature_extractor.descriptors}, "
                             f"expected the encoder's {skeleton.descriptor_names} (fields 'descriptors', "
                             "'descriptor_names')")
        self.skeleton_token_id = ids[0]
        self.skeleton_token_parts = model_config.skeleton_token_parts
        self.num_temporal_tokens = skeleton.num_temporal_tokens
        super().__init__(feature_extractor, tokenizer, chat_template=chat_template or tokenizer.chat_template, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> EAIProcessor:
        """Load the skeleton processor, the tokenizer and the model's config from one model folder or Hub repo."""
        folder = Path(pretrained_model_name_or_path)
        if folder.is_dir() and not (folder / "processor_config.json").is_file():
            raise OSError(f"{folder}: no processor_config.json, expected the processor files that "
                          "EAIProcessor.save_pretrained writes beside the model (train.py and publish.py do)")
        skeleton = SkeletonProcessor.from_pretrained(pretrained_model_name_or_path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
        return cls(skeleton, tokenizer, EAIConfig.from_pretrained(pretrained_model_name_or_path, **kwargs))

    @property
    def pad_token_id(self) -> int:
        """The tokenizer's padding id, or its end-of-sequence id when it has none (LLaMA's tokenizer)."""
        tokenizer = self.tokenizer
        return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    @property
    def num_skeleton_tokens(self) -> int:
        """``N``, the placeholder ids per clip (the model config's ``num_skeleton_tokens``)."""
        return sum(count for _, count in self.skeleton_token_parts)

    def recognition_prompt(self) -> str:
        """The paper's recognition prompt, rendered for the LLM."""
        return self.render_prompt(RECOGNITION_QUESTION)

    def description_prompt(self, label: str, action: str | None = None,
                           qualities: Sequence[tuple[str, int]] | None = None) -> str:
        """The paper's description prompt for ``label`` (its merged name, e.g. ``"happiness"``). A grounded
        model's prompt (``EAIConfig.grounded_descriptions``) also states what was read from the clip, before
        the question: its ``action`` (e.g. ``"sit_down"``: ``"Action: sit down."``; None: left out) and its
        notable measured ``qualities`` ``[(quality, direction)]``, most notable first
        (``"Measured: tempo high, head pitch low."``; ``[]``: ``"Measured: nothing notable."``; None: the
        paper's prompt)."""
        reading = "" if action is None else f"Action: {action_words(action)}. "
        if qualities is not None:
            said = ", ".join(f"{name.replace('_', ' ')} {'high' if direction > 0 else 'low'}"
                             for name, direction in qualities)
            reading += f"Measured: {said or 'nothing notable'}. "
        return self.render_prompt(DESCRIPTION_QUESTION.format(reading=reading, label=merged_label(label)))

    def label_only_prompt(self, label: str) -> str:
        """The description prompt's words without the skeleton: what a bare LLM is asked for the clip-blind
        baseline of the explanations."""
        question = DESCRIPTION_QUESTION.replace("<Skeleton> <skeleton> </Skeleton> ", "")
        return self.render_prompt(question.format(reading="", label=merged_label(label)))

    @staticmethod
    def recognition_answer(label: str) -> str:
        """The recognition target: ``"This is a/an [adjective] person."``."""
        return label_prompt(label)

    def render_prompt(self, question: str) -> str:
        """A user turn and the start of the assistant's: the chat template, or ``#Human: … #Assistant:``."""
        if not self.chat_template:
            return f"#Human: {question} #Assistant:"
        return self.tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                                  add_generation_prompt=True, chat_template=self.chat_template)

    def render_completion(self, answer: str) -> str:
        """The assistant's answer as the template closes it (end-of-turn token included)."""
        if not self.chat_template:
            return f" {answer}{self.tokenizer.eos_token}"
        prompt = self.render_prompt("x")
        full = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": "x"}, {"role": "assistant", "content": answer}], tokenize=False,
            chat_template=self.chat_template)
        if not full.startswith(prompt):
            raise ValueError("EAIProcessor: the chat template does not render a conversation as the prompt followed by "
                             "the answer, expected a template where it does (or pass chat_template)")
        return full[len(prompt):]

    def __call__(self, text: str | list[str], positions=None, layouts: str | Sequence[str] | None = None,
                 fps: float | Sequence[float] | None = None, completions: list[str] | None = None,
                 padding_side: str | None = None, return_tensors: str | None = "pt") -> BatchFeature:
        """Tokenize rendered prompts (each with one ``<skeleton>``, or none for text-only prompts when no
        clips are given) and process their clips (``positions``/``layouts``/``fps`` as for SkeletonProcessor).
        ``completions``: the answers to train on (rendered with :meth:`render_completion` here); they set
        ``labels``. Padding is on the right with completions (training) and on the left without
        (generation), unless ``padding_side`` says otherwise."""
        prompts = [text] if isinstance(text, str) else list(text)
        if not prompts:
            raise ValueError("EAIProcessor: field 'text' is empty, expected at least one prompt")
        if completions is not None and len(completions) != len(prompts):
            raise ValueError(f"EAIProcessor: {len(prompts)} prompts but {len(completions)} completions, "
                             "expected one completion per prompt")
        expected = 0 if positions is None else 1
        for i, prompt in enumerate(prompts):
            if prompt.count(SKELETON_TOKEN) != expected:
                raise ValueError(f"EAIProcessor: prompt {i} holds {prompt.count(SKELETON_TOKEN)} {SKELETON_TOKEN!r} "
                                 f"placeholders, expected {expected} ({'one clip per prompt' if expected else 'no clips given'})")
        data = {}
        if positions is not None:
            data.update(self.feature_extractor(positions, layouts, fps))
            if len(data["layout_ids"]) != len(prompts):
                raise ValueError(f"EAIProcessor: {len(prompts)} prompts but {len(data['layout_ids'])} clips, "
                                 "expected one clip per prompt")
        expanded = [p.replace(SKELETON_TOKEN, SKELETON_TOKEN * self.num_skeleton_tokens) for p in prompts]
        add_special = not self.chat_template  # a chat template writes its own BOS where it wants one
        sequences = self.tokenizer(expanded, add_special_tokens=add_special)["input_ids"]
        targets = [[-100] * len(ids) for ids in sequences]
        if completions is not None:
            answers = self.tokenizer([self.render_completion(c) for c in completions], add_special_tokens=False)
            sequences = [ids + answer for ids, answer in zip(sequences, answers["input_ids"])]
            targets = [target + answer for target, answer in zip(targets, answers["input_ids"])]
        data.update(self._pad(sequences, targets, padding_side or ("right" if completions is not None else "left")))
        if positions is not None:
            self._mask_padded_skeleton_tokens(data)
        if completions is None:
            data.pop("labels")
        return BatchFeature(data=data, tensor_type=return_tensors)

    def skeleton_token_mask(self, joint_mask: np.ndarray, frame_mask: np.ndarray) -> np.ndarray:
        """``(B, V)``, ``(B, T)`` → ``(B, N)``: 1 for skeleton tokens made from real joints or frames, in the
        order of ``skeleton_token_parts``."""
        masks = {"semantic": np.ones((joint_mask.shape[0], 1), dtype=np.int64), "spatial": joint_mask,
                 "temporal": temporal_token_mask(frame_mask, self.num_temporal_tokens)}
        return np.concatenate([masks[part] for part, _ in self.skeleton_token_parts], axis=1).astype(np.int64)

    def _pad(self, sequences: list[list[int]], targets: list[list[int]], side: str) -> dict:
        if side not in ("left", "right"):
            raise ValueError(f"EAIProcessor: field 'padding_side' is {side!r}, expected 'left' or 'right'")
        pad_id = self.pad_token_id
        length = max(len(ids) for ids in sequences)
        input_ids = np.full((len(sequences), length), pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(sequences), length), dtype=np.int64)
        labels = np.full((len(sequences), length), -100, dtype=np.int64)
        for b, (ids, target) in enumerate(zip(sequences, targets)):
            where = slice(length - len(ids), length) if side == "left" else slice(0, len(ids))
            input_ids[b, where], attention_mask[b, where], labels[b, where] = ids, 1, target
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    def _mask_padded_skeleton_tokens(self, data: dict):
        placeholders = data["input_ids"] == self.skeleton_token_id
        data["attention_mask"][placeholders] = self.skeleton_token_mask(data["joint_mask"], data["frame_mask"]).ravel()
