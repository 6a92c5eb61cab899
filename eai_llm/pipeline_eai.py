"""The ``skeleton-emotion`` pipeline: one motion clip → ``{"label", "scores", "explanation"}``.

Published models carry it as remote code, so with only transformers installed::

    from transformers import pipeline
    explain = pipeline("skeleton-emotion", model="user/eai-llm", trust_remote_code=True)
    explain("clip.bvh")   # {"label": "sadness", "scores": {...}, "explanation": "..."}
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from transformers import Pipeline

from .inference import explain
from .motion import read_for_layouts


class SkeletonEmotionPipeline(Pipeline):
    """Recognise the emotion of a motion clip and explain it.

    Inputs (one per call): a motion file path (``.bvh``, ``.mvnx``, ``.npy``/``.npz`` with ``layout=``),
    BVH text, or a dict ``{"positions": (T, J, 3) nested lists in metres with +Y up, "layout": name}``.
    The clip's skeleton must have the joints of a layout the model was trained on (matched by name; BVH
    End Sites count as joints, extra joints are dropped).
    Parameters: ``max_new_tokens`` (explanation length), ``layout`` (for ``.npy``/``.npz`` files).
    """

    _load_processor = True
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False

    def _sanitize_parameters(self, max_new_tokens: int | None = None, layout: str | None = None, **kwargs):
        preprocess = {"layout": layout} if layout else {}
        forward = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
        return preprocess, forward, {}

    def preprocess(self, inputs, layout: str | None = None) -> dict:
        layouts = self.processor.feature_extractor.layouts
        if isinstance(inputs, dict):
            if "positions" not in inputs or "layout" not in inputs:
                raise ValueError(f"input dict has keys {sorted(inputs)}, expected 'positions' (T, J, 3) and 'layout'")
            names = [entry["name"] for entry in layouts]
            if inputs["layout"] not in names:
                raise ValueError(f"field 'layout' is {inputs['layout']!r}, expected one of this model's layouts {names}")
            return {"positions": np.asarray(inputs["positions"], dtype=np.float32), "layout": inputs["layout"]}
        if isinstance(inputs, str) and inputs.lstrip().startswith("HIERARCHY"):
            motion = _read_bvh_text(inputs, layouts)
        elif isinstance(inputs, (str, os.PathLike)):
            motion = read_for_layouts(inputs, layouts, **({"layout": layout} if layout else {}))
        else:
            raise ValueError(f"input is a {type(inputs).__name__}, expected a motion file path, BVH text or a dict "
                             "with 'positions' and 'layout'")
        return {"positions": motion.positions, "layout": motion.layout.name}

    def _forward(self, model_inputs: dict, max_new_tokens: int = 96) -> dict:
        return explain(self.model, self.processor, model_inputs["positions"], model_inputs["layout"], max_new_tokens)

    def postprocess(self, model_outputs: dict) -> dict:
        return model_outputs


def _read_bvh_text(text: str, layouts: list[dict]):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "input.bvh")
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return read_for_layouts(path, layouts)
