"""The ``skeleton-emotion`` pipeline: one motion clip → ``{"label", "scores", "action", "explanation", "evidence"}``
(action: the action readout's probabilities, for a model trained on clips that record actions; evidence:
each claim of the explanation with its measurement, :func:`eai_llm.inference.evidence`).

Published models carry it as remote code, so with only transformers installed::

    from transformers import pipeline
    explain = pipeline("skeleton-emotion", model="user/eai-llm", trust_remote_code=True)
    explain("clip.bvh")   # {"label": "sadness", "scores": {...}, "action": {...}, "explanation": "...", ...}
    explain("clip.npy", fps=30, layout="kdae24")

Inputs, one clip a call (a non-empty list of clips gives a list of results):

- a string starting with ``HIERARCHY`` (leading whitespace allowed), or ``{"bvh": text}``: BVH text;
- ``{"positions": (T, J, 3) nested lists or array, metres, +Y up, "layout": name, "fps": number}``
  (``fps`` may be left out only for a model that computes no movement descriptors);
- ``{"video": the file's bytes (or base64 text of them), "container": "mp4", "avi", "mov" or "webm"}``: a video,
  read as :func:`~eai_llm.motion.read_video` does (3D pose by MediaPipe, which needs a pose Python:
  :func:`eai_llm.video.pose_python`), mapped onto the model's layouts by canonical joint names;
- any other string, or an ``os.PathLike``: the path of a local ``.bvh``, ``.mvnx``, ``.npy``, ``.npz``,
  ``.txt`` (Kinect V2), ``.csv`` (Xsens) or video (``.mp4``, ``.avi``, ``.mov``, ``.webm``) file, read with
  :func:`~eai_llm.motion.read_for_layouts`. The pipeline reads any file its caller names,
  so it is for local use: the Inference Endpoints handler (``endpoint_handler.py``) checks requests with
  ``read_files=False``, which refuses paths and reads nothing from the server.

A clip read onto one of the model's layouts by canonical joint names (another skeleton, a video) also gets
``"placed_joints"``: the joints of that layout placed from their neighbours, not measured.

Parameters: ``max_new_tokens`` (explanation length, default 96); ``return_joint_weights`` (a bool: also
``"joint_weights": {joint name: weight}``, how much each joint drives the label, for drawing; one backward
pass); for ``.txt``/``.csv`` files, ``format`` (required: ``kinect_v2`` or ``xsens_csv``) and ``fps``; for
``.npy``/``.npz`` files only,
``fps`` (frames per second; a ``.npz`` may hold it) and ``layout`` (one of the model's layout names).

Limits, checked by :meth:`SkeletonEmotionPipeline.check_request` before any file is read or any model
work is done (a request over them is a ``ValueError`` naming the field and the limit):

- BVH text: at most ``MAX_FILE_BYTES`` (256 MiB) in UTF-8; it must start with ``HIERARCHY``.
- video: at most ``MAX_VIDEO_BYTES`` (64 MiB, measured on the base64 text before decoding); when read, at
  most ``MAX_VIDEO_FRAMES`` (18 000) frames (:mod:`~eai_llm.video`).
- positions: finite numbers forming a ``(T, J, 3)`` array with ``2 <= T <= MAX_FRAMES`` (200 000),
  ``J <= MAX_JOINTS`` (512) and equal to the layout's joint count, every ``|value| <= MAX_ABS_POSITION_M``
  (1000 m); ``layout`` one of the model's layout names.
- ``max_new_tokens``: an integer (not a bool) from 1 to ``MAX_NEW_TOKENS`` (512).
- ``fps`` (parameter or field): a number (not a bool) with ``0 < fps <= MAX_FPS`` (1000).

Files (and BVH text, which is read through a temporary file) are held to the same limits by the readers
of :mod:`~eai_llm.motion`. Messages name BVH text as ``request BVH``, never by its temporary file.
"""

from __future__ import annotations

import base64
import binascii
import numbers
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from transformers import Pipeline

from .inference import DEFAULT_MAX_NEW_TOKENS, explain
from .joint_layout import JointLayout
from .motion import (MAX_FILE_BYTES, MAX_FPS, MAX_FRAMES, TEXT_FORMATS, MotionFileError, check_positions,
                     read_for_layouts)
from .video import VIDEO_SUFFIXES

MAX_NEW_TOKENS = 512
MAX_VIDEO_BYTES = 64 * 2**20  # a video request, decoded: about a minute of 1080p phone video
FILE_PARAMETERS = {".bvh": (), ".mvnx": (), ".npy": ("fps", "layout"), ".npz": ("fps", "layout"),
                   ".txt": ("format", "fps"), ".csv": ("format", "fps"),
                   **{suffix: () for suffix in VIDEO_SUFFIXES}}  # the files read, and what each takes
FILE_SUFFIXES = tuple(FILE_PARAMETERS)
PARAMETERS = ("max_new_tokens", "fps", "layout", "format", "return_joint_weights")
POSITIONS = "(frames, joints, 3) nested lists of numbers"


class SkeletonEmotionPipeline(Pipeline):
    """Recognise the emotion of a motion clip and explain it (inputs, parameters and limits: see the
    module docstring). The clip's skeleton is read as one the model was trained on: by joint name (BVH End
    Sites count as joints, extra joints are dropped), else by canonical name with the limbs and pelvis
    required (:func:`~eai_llm.motion.to_known_layout`)."""

    _load_processor = True
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False

    def __call__(self, inputs, **parameters):
        """One clip → one result dict; a non-empty list of clips → a list of them."""
        if isinstance(inputs, (list, tuple)) and not inputs:
            raise ValueError("input is an empty list, expected a clip or a non-empty list of clips")
        return super().__call__(inputs, **parameters)

    def check_request(self, inputs, parameters: dict | None = None, read_files: bool = True) -> tuple:
        """Check one clip and its parameters against the module docstring's rules and limits, before any
        file is read or model work is done: the one check of a request, run by ``preprocess`` and, with
        ``read_files=False``, by the endpoint handler.

        Args:
            inputs: one clip, as the module docstring lists.
            parameters: the call's parameters (None: none).
            read_files: whether a path may be given (False in the endpoint handler: BVH text and
                positions only).

        Returns:
            ``(clip, parameters)``: the clip as ``{"bvh": text}``, ``{"video": bytes, "container": suffix}``,
            ``{"positions": float32 (T, J, 3), "layout": name[, "fps": rate]}`` or a ``Path``, and the checked
            parameters.

        Raises:
            ValueError: naming the field or parameter, what it is and what was expected.
        """
        layouts = {layout["name"]: JointLayout.from_dict(layout) for layout in self.processor.feature_extractor.layouts}
        parameters = _checked_parameters({} if parameters is None else parameters, layouts)
        clip = _checked_clip(inputs, layouts, read_files, bool(self.processor.feature_extractor.descriptors))
        takes = FILE_PARAMETERS[clip.suffix.lower()] if isinstance(clip, Path) else ()
        for name in ("fps", "layout", "format"):
            if name in parameters and name not in takes:
                files = "/".join(suffix for suffix, names in FILE_PARAMETERS.items() if name in names)
                raise ValueError(f"parameter {name!r} applies to {files} files only, and the input is {_kind(clip)}")
        if "format" in takes and "format" not in parameters:
            raise ValueError(f"input {clip.name}: parameter 'format' is missing, expected one of {list(TEXT_FORMATS)} "
                             f"(the reader of a {clip.suffix} file)")
        return clip, parameters

    def _sanitize_parameters(self, **parameters):
        return parameters, {}, {}  # all checked together with the input, in preprocess

    def preprocess(self, inputs, **parameters) -> dict:
        """Check and read one clip: ``{"positions": (T, J, 3) in the model's layout, "layout": its name, "fps",
        "placed_joints" (for a file or request text read onto that layout by canonical names), "max_new_tokens",
        "joint_weights"}`` (what ``forward`` takes; the web demo draws these positions)."""
        clip, parameters = self.check_request(inputs, parameters)
        layouts = self.processor.feature_extractor.layouts
        if isinstance(clip, Path):
            options = {name: parameters[name] for name in ("fps", "layout") if name in parameters}
            clip = _read_clip(read_for_layouts(clip, layouts, parameters.get("format"), **options))
        elif "bvh" in clip or "video" in clip:
            data, suffix = ((clip["bvh"].encode("utf-8", "replace"), ".bvh") if "bvh" in clip
                            else (clip["video"], clip["container"]))
            clip = _read_clip(_read_request_file(data, suffix, layouts))
        return {**clip, "max_new_tokens": parameters.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS),
                "joint_weights": parameters.get("return_joint_weights", False)}

    def _forward(self, model_inputs: dict) -> dict:
        result = explain(self.model, self.processor, model_inputs["positions"], model_inputs["layout"],
                         model_inputs.get("fps"), model_inputs["max_new_tokens"], model_inputs["joint_weights"])
        return result | ({"placed_joints": model_inputs["placed_joints"]} if model_inputs.get("placed_joints") else {})

    def postprocess(self, model_outputs: dict) -> dict:
        return model_outputs


def _checked_parameters(parameters, layouts: dict[str, JointLayout]) -> dict:
    if not isinstance(parameters, dict):
        raise ValueError(f"'parameters' is {_shown(parameters)}, expected an object with some of {list(PARAMETERS)}")
    unknown = sorted(map(str, set(parameters) - set(PARAMETERS)))
    if unknown:
        raise ValueError(f"'parameters' has {unknown}, expected only some of {list(PARAMETERS)}")
    checked = {}
    if "max_new_tokens" in parameters:
        value = parameters["max_new_tokens"]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= MAX_NEW_TOKENS:
            raise ValueError(f"parameter 'max_new_tokens' is {_shown(value)}, expected an integer from 1 to "
                             f"{MAX_NEW_TOKENS}")
        checked["max_new_tokens"] = int(value)
    if "return_joint_weights" in parameters:
        if not isinstance(parameters["return_joint_weights"], bool):
            raise ValueError(f"parameter 'return_joint_weights' is {_shown(parameters['return_joint_weights'])}, "
                             "expected true or false")
        checked["return_joint_weights"] = parameters["return_joint_weights"]
    if "fps" in parameters:
        checked["fps"] = _checked_fps(parameters["fps"], "parameter 'fps'")
    if "layout" in parameters:
        checked["layout"] = _checked_layout(parameters["layout"], layouts, "parameter 'layout'")
    if "format" in parameters:
        if parameters["format"] not in TEXT_FORMATS:
            raise ValueError(f"parameter 'format' is {_shown(parameters['format'])}, expected one of {list(TEXT_FORMATS)}")
        checked["format"] = parameters["format"]
    return checked


def _checked_clip(inputs, layouts: dict[str, JointLayout], read_files: bool, needs_fps: bool):
    """``inputs`` → ``{"bvh": text}``, ``{"positions": array, "layout": name[, "fps": rate]}`` or a ``Path``;
    ``needs_fps``: the model computes movement descriptors, so positions need their frame rate."""
    if isinstance(inputs, str) and _is_bvh(inputs):
        return {"bvh": _checked_bvh(inputs, "input")}
    if isinstance(inputs, dict):
        if set(inputs) == {"bvh"}:
            return {"bvh": _checked_bvh(inputs["bvh"], "field 'bvh'")}
        if set(inputs) == {"video", "container"}:
            return _checked_video(inputs["video"], inputs["container"])
        if {"positions", "layout"} <= set(inputs) <= {"positions", "layout", "fps"}:
            layout = _checked_layout(inputs["layout"], layouts, "field 'layout'")
            clip = {"positions": _checked_positions(inputs["positions"], layouts[layout]), "layout": layout}
            if needs_fps and "fps" not in inputs:
                raise ValueError("field 'fps' is missing, expected the clip's frames per second (this model "
                                 "computes movement descriptors)")
            return clip | ({"fps": _checked_fps(inputs["fps"], "field 'fps'")} if "fps" in inputs else {})
        raise ValueError(f"input has keys {sorted(map(str, inputs))}, expected 'bvh' (BVH text), 'video' (base64) "
                         f"and 'container', or 'positions' {POSITIONS}, 'layout' and 'fps'")
    if read_files and isinstance(inputs, (str, os.PathLike)):
        path = Path(inputs)
        if path.suffix.lower() not in FILE_SUFFIXES:
            raise ValueError(f"input {_shown(str(inputs))} is neither BVH text (starting with HIERARCHY) nor the path "
                             f"of a {', '.join(FILE_SUFFIXES)} file")
        return path
    expected = ("BVH text (starting with HIERARCHY), {'bvh': text}, {'video': base64, 'container': 'mp4'} or "
                "{'positions': ..., 'layout': name}")
    if isinstance(inputs, str):  # and read_files is False
        raise ValueError(f"input is a string that does not start with HIERARCHY, expected {expected} (no file is "
                         "read here)")
    raise ValueError(f"input is {_shown(inputs)}, expected {expected}{' or a file path' if read_files else ''}")


def _checked_fps(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= MAX_FPS:
        raise ValueError(f"{name} is {_shown(value)}, expected a number of frames per second above 0 and at most "
                         f"{MAX_FPS:g}")
    return float(value)


def _is_bvh(text: str) -> bool:
    return re.match(r"\s*HIERARCHY\b", text) is not None


def _checked_bvh(text, name: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{name} is {_shown(text)}, expected the text of a BVH file")
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise ValueError(f"{name} has more than {MAX_FILE_BYTES} bytes of BVH text, expected at most that "
                         "(MAX_FILE_BYTES)")
    if not _is_bvh(text):
        raise ValueError(f"{name} does not start with HIERARCHY, expected the text of a BVH file (a path is not read)")
    return text


def _checked_video(video, container) -> dict:
    """``{"video": bytes, or base64 text of them (JSON; line breaks allowed), "container": "mp4"...}`` → ``{"video": bytes, "container":
    ".mp4"...}``, at most :data:`MAX_VIDEO_BYTES`, measured before base64 is decoded."""
    suffixes = [suffix.lstrip(".") for suffix in VIDEO_SUFFIXES]
    if not isinstance(container, str) or container.lower().lstrip(".") not in suffixes:
        raise ValueError(f"field 'container' is {_shown(container)}, expected one of {suffixes}")
    if not isinstance(video, (str, bytes)):
        raise ValueError(f"field 'video' is {_shown(video)}, expected the video file's bytes, or base64 text of them")
    size = len(video) if isinstance(video, bytes) else len(video) * 3 // 4
    if size > MAX_VIDEO_BYTES:
        raise ValueError(f"field 'video' holds about {size} bytes, expected at most {MAX_VIDEO_BYTES} (MAX_VIDEO_BYTES)")
    try:
        data = video if isinstance(video, bytes) else base64.b64decode("".join(video.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("field 'video' is not base64 text (A-Z, a-z, 0-9, +, / and = padding)") from None
    return {"video": data, "container": "." + container.lower().lstrip(".")}


def _checked_layout(layout, layouts: dict[str, JointLayout], name: str) -> str:
    if not isinstance(layout, str) or layout not in layouts:
        raise ValueError(f"{name} is {_shown(layout)}, expected one of this model's layouts {list(layouts)}")
    return layout


def _checked_positions(positions, layout: JointLayout) -> np.ndarray:
    """Request positions → a float32 ``(T, J, 3)`` array: bounded before conversion, then the readers' own
    numeric check (:func:`~eai_llm.motion.check_positions`), and finite (a request has no frame rate to
    repair gaps with)."""
    if isinstance(positions, list):  # a JSON list is measured before it is converted
        _check_frames(len(positions))
    try:
        array = np.asarray(positions)
    except (ValueError, TypeError, OverflowError):  # ragged, or an integer beyond float range
        raise ValueError(f"field 'positions' is not {POSITIONS} (a ragged list, or a value that is not a "
                         "number in float range)") from None
    if array.dtype == object:  # what numpy makes of null, or of an integer beyond float range
        raise ValueError(f"field 'positions' is not {POSITIONS} (a value that is not a number: null, or an "
                         "integer beyond float range)")
    if array.ndim == 3:
        _check_frames(array.shape[0])
    array = check_positions(array, layout, "request")
    missing = ~np.isfinite(array).all(axis=(1, 2))
    if missing.any():
        raise ValueError(f"field 'positions' has NaN (or null) in frames {np.flatnonzero(missing)[:10].tolist()}, "
                         "expected finite numbers")
    return array.astype(np.float32)


def _check_frames(frames: int):
    if not 2 <= frames <= MAX_FRAMES:
        raise ValueError(f"field 'positions' has {frames} frames, expected 2 to {MAX_FRAMES} (MAX_FRAMES)")


def _kind(clip) -> str:
    if isinstance(clip, Path):
        return f"a {clip.suffix.lower()} file"
    return "BVH text" if "bvh" in clip else "a video" if "video" in clip else "positions"


def _shown(value) -> str:
    """``value`` for a message: a short repr of a scalar, else its type (never the whole of a large value)."""
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def _read_clip(motion) -> dict:
    """A :class:`~eai_llm.motion.Motion` read for the model → what ``forward`` takes."""
    return {"positions": motion.positions, "layout": motion.layout.name, "fps": motion.fps,
            "placed_joints": list(motion.placed)}


def _read_request_file(data: bytes, suffix: str, layouts: list[dict]):
    """Read BVH text or video bytes through a temporary ``request<suffix>`` file; messages name it ``request BVH``
    or ``request video``, never the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"request{suffix}")
        Path(path).write_bytes(data)
        try:
            return read_for_layouts(path, layouts)
        except ValueError as error:  # MotionFileError and any other reader message
            name = "request BVH" if suffix == ".bvh" else "request video"
            raise MotionFileError(str(error).replace(path, name)) from None
