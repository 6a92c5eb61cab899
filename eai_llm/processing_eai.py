"""Processors: motion clips → padded skeleton tensors (and, later, prompts → token ids).

``SkeletonProcessor`` is to skeleton clips what a tokenizer is to text: it turns a batch of clips
of any length, frame rate and joint layout into fixed-size, padded arrays with masks:

    skeleton_values  (B, 3, T, V_max) float32   xyz channels first, as graph convolutions want
    joint_mask       (B, V_max)       int64     1 for the clip's joints, 0 for padding
    frame_mask       (B, T)           int64     1 for frames made from the clip, 0 for padding
    layout_ids       (B,)             int64     index of the clip's layout in ``processor.layouts``

Steps, per clip ``(T_in, J, 3)``:

1. Resample: a clip longer than ``num_frames`` is downsampled to ``T = num_frames`` frames by linear
   interpolation over the whole clip (the first and last frames are kept); a shorter clip keeps its
   ``T_in`` frames. These are the clip's *real* frames.
2. Normalise the real frames: centre on the root joint of the first frame (translation over time is
   kept: walking speed carries emotion) and divide by the body's size, the median over the real
   frames of the largest joint-to-root distance. Centring and scaling commute with linear
   interpolation, so doing them after resampling changes only where the size is measured.
3. Pad: after the last real frame, by repeating the real frames from the start (the paper's and
   CTR-GCN's choice, ``frame_padding="repeat"``) or with zeros (``frame_padding="zero"``); either way
   ``frame_mask`` marks the padded frames 0. Joints are padded to ``V_max`` with exact zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from transformers import BatchFeature
from transformers.feature_extraction_utils import FeatureExtractionMixin

from .layouts import JointLayout, get_layout, register_layout

DEFAULT_LAYOUTS = ("xsens_mvn28", "kdae24", "kinect_v2")


class SkeletonProcessor(FeatureExtractionMixin):
    """Feature extractor for 3D skeleton clips (see module docstring for the outputs).

    Args:
        layouts: the joint layouts this processor (and the model after it) accepts: registered names
            or layout dicts (``JointLayout.to_dict()``). Their full definitions are saved with the
            processor, so a layout read from a user's BVH files travels with a published model.
        num_frames: frames per clip after resampling (the paper: 64).
        max_joints: ``V_max``; defaults to the largest layout.
        frame_padding: ``"repeat"`` or ``"zero"``, how clips shorter than ``num_frames`` are padded.
    """

    model_input_names = ["skeleton_values", "joint_mask", "frame_mask", "layout_ids"]

    def __init__(self, layouts: Sequence[str | dict] = DEFAULT_LAYOUTS, num_frames: int = 64,
                 max_joints: int | None = None, frame_padding: str = "repeat", **kwargs):
        super().__init__(**kwargs)
        resolved = [register_layout(JointLayout.from_dict(l)) if isinstance(l, dict) else get_layout(l)
                    for l in layouts]
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
        self.layouts = [layout.to_dict() for layout in resolved]
        self.num_frames = num_frames
        self.max_joints = max_joints or widest
        self.frame_padding = frame_padding
        self._layout_by_name = {layout.name: (i, layout) for i, layout in enumerate(resolved)}

    @property
    def layout_names(self) -> list[str]:
        return [layout["name"] for layout in self.layouts]

    def to_dict(self) -> dict:
        output = super().to_dict()
        output.pop("_layout_by_name")
        return output

    def __call__(self, positions: np.ndarray | Sequence[np.ndarray], layouts: str | Sequence[str],
                 return_tensors: str | None = None) -> BatchFeature:
        """Process one clip ``(T_in, J, 3)`` or a list of clips with their layout names (one name for
        all, or one per clip). Positions are metres, +Y up, finite (the readers in
        ``eai_llm.motion`` repair missing frames). ``return_tensors``: ``"pt"``, ``"np"`` or None
        (numpy)."""
        clips = [positions] if isinstance(positions, np.ndarray) and positions.ndim == 3 else list(positions)
        names = [layouts] * len(clips) if isinstance(layouts, str) else list(layouts)
        if len(names) != len(clips):
            raise ValueError(f"SkeletonProcessor: {len(clips)} clips but {len(names)} layout names, "
                             "expected one name per clip or a single name")
        if not clips:
            raise ValueError("SkeletonProcessor: empty batch, expected at least one clip")
        batch, t_out, v_max = len(clips), self.num_frames, self.max_joints
        values = np.zeros((batch, 3, t_out, v_max), dtype=np.float32)
        joint_mask = np.zeros((batch, v_max), dtype=np.int64)
        frame_mask = np.zeros((batch, t_out), dtype=np.int64)
        layout_ids = np.zeros(batch, dtype=np.int64)
        for b, (clip, name) in enumerate(zip(clips, names)):
            layout_id, layout = self._lookup(name, b)
            real = self._downsample(self._check(np.asarray(clip, dtype=np.float32), layout, b))
            real = self._normalise(real, layout.root_index)
            n_real, joints = real.shape[:2]
            values[b, :, :n_real, :joints] = real.transpose(2, 0, 1)
            if self.frame_padding == "repeat" and n_real < t_out:
                values[b, :, n_real:, :joints] = real[np.arange(n_real, t_out) % n_real].transpose(2, 0, 1)
            joint_mask[b, :joints] = 1
            frame_mask[b, :n_real] = 1
            layout_ids[b] = layout_id
        data = {"skeleton_values": values, "joint_mask": joint_mask, "frame_mask": frame_mask,
                "layout_ids": layout_ids}
        return BatchFeature(data=data, tensor_type=return_tensors)

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

    @staticmethod
    def _normalise(frames: np.ndarray, root: int) -> np.ndarray:
        """``(T, J, 3)`` centred on the root of the first frame and divided by the median over frames of
        the largest joint-to-root distance."""
        from_root = frames - frames[:, root:root + 1]
        size = np.median(np.sqrt((from_root * from_root).sum(axis=-1).max(axis=1)))
        return (frames - frames[0, root]) / max(float(size), 1e-6)
