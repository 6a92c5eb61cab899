"""Inference Endpoints custom handler, copied as ``handler.py`` into every exported model folder.

It needs only what the endpoint has (transformers, torch, numpy): the model folder's remote code does
the rest. Request JSON (``inputs`` may also be the top level; other top-level keys, such as the
Inference API's ``options``, are ignored)::

    {"inputs": {"bvh": "HIERARCHY ..."}}
    {"inputs": {"positions": [[[x, y, z], ...], ...], "layout": "kinect_v2", "fps": 30}}   # (T, J, 3), metres, +Y up
    {"inputs": {"video": "<base64 of the file>", "container": "mp4"}}
    {"inputs": ..., "parameters": {"max_new_tokens": 64}}

Only BVH text, video bytes and positions are taken: no file on the server is ever read (a string that is not
BVH text is refused, not opened as a path). A video (at most 64 MiB decoded, ``MAX_VIDEO_BYTES``) needs
MediaPipe on the endpoint: ``mediapipe==0.10.21`` installed beside the model (it needs ``numpy<2``) or a pose
Python named by ``EAI_POSE_PYTHON`` (``video.py``); without one, a video request is a 400 saying so. Every request is checked by the pipeline's ``check_request``
(rules and limits in ``pipeline_eai.py``: BVH text at most 256 MiB, 2 to 200 000 frames, at most 512
joints and the layout's joint count, finite positions within 1000 m, ``fps`` above 0 and at most 1000
(required with positions for a model that computes movement descriptors), ``max_new_tokens`` an integer
from 1 to 512) before any model work.

Response: ``{"label": ..., "scores": {label: probability}, "action": {action: probability} (a model trained
on clips that record actions), "explanation": ..., "evidence": {"population":
corpus, "population_action": action or null, "claims": [{"quality", "direction", "descriptor", "value", "unit",
"percentile", "verdict"}], "action": {"named", "read", "verdict"}}}``
(evidence left out for a model saved without descriptor populations), or for a bad request
``{"error": message, "status": 400}``: the message names the field and what was expected, never a
traceback or a server path. Every bad input, an over-limit one included, is a 400 (the server in front
of the handler may itself answer 413 for a body over its own size limit).
"""

from typing import Any

from transformers import pipeline


class EndpointHandler:
    def __init__(self, path: str = ""):
        self.pipeline = pipeline("skeleton-emotion", model=path or ".", trust_remote_code=True)

    def __call__(self, data: Any) -> dict[str, Any]:
        body = data if isinstance(data, dict) else {"inputs": data}
        inputs = body["inputs"] if "inputs" in body else {k: v for k, v in body.items()
                                                           if k not in ("parameters", "options")}
        try:
            clip, parameters = self.pipeline.check_request(inputs, body.get("parameters"), read_files=False)
            return self.pipeline(clip, **parameters)
        except ValueError as error:  # a motion.MotionFileError is a ValueError too; the message names the field
            return {"error": str(error), "status": 400}
