"""Inference Endpoints custom handler, copied as ``handler.py`` into every exported model folder.

It needs only what the endpoint has (transformers, torch, numpy): the model folder's remote code does
the rest. Request JSON (``inputs`` may also be the top level)::

    {"inputs": {"bvh": "HIERARCHY ..."}}
    {"inputs": {"positions": [[[x, y, z], ...], ...], "layout": "kinect_v2"}}   # (T, J, 3), metres, +Y up
    {"inputs": ..., "parameters": {"max_new_tokens": 64}}

Response: ``{"label": ..., "scores": {label: probability}, "explanation": ...}``, or for a bad request
``{"error": message, "status": 400}`` (no traceback).
"""

from typing import Any

from transformers import pipeline


class EndpointHandler:
    def __init__(self, path: str = ""):
        self.pipeline = pipeline("skeleton-emotion", model=path or ".", trust_remote_code=True)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        inputs = data.get("inputs", data) if isinstance(data, dict) else data
        parameters = data.get("parameters", {}) if isinstance(data, dict) else {}
        if not isinstance(inputs, dict):
            return _bad_request(f"'inputs' is a {type(inputs).__name__}, expected an object with 'bvh' "
                                "(BVH text) or 'positions' and 'layout'")
        if "bvh" in inputs:
            clip = inputs["bvh"]
            if not isinstance(clip, str) or not clip.lstrip().startswith("HIERARCHY"):
                return _bad_request("field 'bvh' must be the text of a BVH file, starting with HIERARCHY")
        elif "positions" in inputs and "layout" in inputs:
            clip = {"positions": inputs["positions"], "layout": inputs["layout"]}
        else:
            return _bad_request(f"'inputs' has keys {sorted(inputs)}, expected 'bvh', or 'positions' and 'layout'")
        unknown = sorted(set(parameters) - {"max_new_tokens"}) if isinstance(parameters, dict) else ["<not an object>"]
        if unknown:
            return _bad_request(f"'parameters' has {unknown}, expected only 'max_new_tokens'")
        try:
            return self.pipeline(clip, **parameters)
        except (ValueError, TypeError, KeyError) as error:
            return _bad_request(str(error))


def _bad_request(message: str) -> dict[str, Any]:
    return {"error": message, "status": 400}
