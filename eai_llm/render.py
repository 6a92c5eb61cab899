"""Drawing motion: a clip as an animated stick figure (GIF or MP4), a filmstrip of key frames (PNG), and
several clips side by side.

Each clip gets one fixed camera for the whole animation: an orthographic view from the front left and a
little above, fitted to every frame of the clip (the figure never leaves the picture), with a floor grid
at the clip's lowest point. Bones join each joint to its parent in the layout, so any layout draws.
Playback is in real time: every clip is sampled at the same output rate, at most :data:`MAX_OUTPUT_FPS`
(GIF players show nothing faster) and lowered for long clips so that an animation has at most
:data:`MAX_OUTPUT_FRAMES` frames divided by the number of clips side by side: time and memory stay bounded
for any clip (a GIF is held as 1 byte per pixel until it is encoded: at most about 150 MB). A clip that ends
before the others holds its last frame. Joints may be coloured by a per-joint weight (:attr:`StickFigure.joint_weights`).

The functions return the encoded file as bytes (the report embeds them, the app serves them, callers
write them with their own atomic writer). Encoders come in wheels: Pillow (matplotlib's dependency) for
GIF and PNG, imageio-ffmpeg's ffmpeg binary for MP4 (streamed frame by frame), so no system ffmpeg is
needed. Figures are drawn with matplotlib's object API (no pyplot state), so requests may draw at once. This module imports
nothing of the project, so that ``publish.py`` ships it as is beside ``app.py`` in an exported Space.
"""

from __future__ import annotations

import io
import math
import numbers
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_OUTPUT_FPS = 25.0
MAX_OUTPUT_FRAMES = 750  # 30 s at 25 frames/s for one clip; longer clips are shown at a lower frame rate
MAX_FIGURES = 8  # clips side by side in one animation
PANEL_PIXELS = 320  # each clip's square panel (a multiple of 16, as H.264 wants)
FORMATS = ("gif", "mp4")
SUFFIXES = (".gif", ".mp4", ".png")  # what :func:`render` writes: animations, or a filmstrip
_AZIMUTH, _ELEVATION = math.radians(30), math.radians(15)  # the camera: front left, a little above
_AXES_HEIGHT = 0.93  # of a panel; the title takes the rest


@dataclass
class StickFigure:
    """One clip to draw.

    Args:
        positions: ``(T, J, 3)`` metres, +Y up; NaN joints are left out of their frame.
        parents: ``J`` parent indices, ``-1`` for the root; a bone joins each joint to its parent.
        fps: frames per second of the clip.
        title: drawn above the clip (e.g. its label).
        joint_weights: ``(J,)`` non-negative weights that colour the joints from pale to dark red, scaled
            by their maximum (e.g. each joint's share of the input gradient of the predicted label); None:
            every joint the same colour.
    """

    positions: np.ndarray
    parents: list[int]
    fps: float
    title: str = ""
    joint_weights: np.ndarray | None = None

    def __post_init__(self):
        self.positions = np.asarray(self.positions, dtype=np.float64)
        if self.positions.ndim != 3 or self.positions.shape[2] != 3 or len(self.positions) == 0:
            raise ValueError(f"StickFigure {self.title!r}: field 'positions' has shape {self.positions.shape}, "
                             "expected (frames >= 1, joints, 3)")
        joints = self.positions.shape[1]
        if len(self.parents) != joints or any(not -1 <= p < joints for p in self.parents):
            raise ValueError(f"StickFigure {self.title!r}: field 'parents' has {len(self.parents)} entries, expected "
                             f"one parent index (-1 or 0..{joints - 1}) per joint ({joints})")
        if isinstance(self.fps, bool) or not (isinstance(self.fps, numbers.Real) and 0 < self.fps < math.inf):
            raise ValueError(f"StickFigure {self.title!r}: field 'fps' is {self.fps!r}, expected a positive number")
        if not np.isfinite(self.positions).any():
            raise ValueError(f"StickFigure {self.title!r}: field 'positions' has no finite value, nothing to draw")
        if self.joint_weights is not None:
            self.joint_weights = np.asarray(self.joint_weights, dtype=np.float64)
            if self.joint_weights.shape != (joints,) or not (np.isfinite(self.joint_weights)
                                                              & (self.joint_weights >= 0)).all():
                raise ValueError(f"StickFigure {self.title!r}: field 'joint_weights' has shape "
                                 f"{self.joint_weights.shape}, expected ({joints},) finite non-negative numbers")

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last."""
        return (len(self.positions) - 1) / self.fps


def explained_figure(positions: np.ndarray, parents: list[int], fps: float, result: dict) -> StickFigure:
    """The figure of a clip ``(T, J, 3)`` that the ``skeleton-emotion`` pipeline explained (``result``: its
    ``label``, ``scores`` and, when asked for, ``joint_weights`` in joint order): titled with the label and its
    probability, joints coloured by the weights."""
    weights = result.get("joint_weights")
    return StickFigure(positions, parents, fps, f"{result['label']} ({result['scores'][result['label']]:.0%})",
                       None if weights is None else np.array(list(weights.values())))


def check_suffix(path: str | Path) -> str:
    """The drawing a file name asks for (its suffix, lower case), or a ``ValueError`` naming it."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: a drawing is a file ending in one of {SUFFIXES}, not {suffix or 'no suffix'!r}")
    return suffix


def render(figures: StickFigure | list[StickFigure], path: str | Path) -> bytes:
    """The clips as the file ``path`` names (:func:`check_suffix`; nothing is written): ``.gif`` or ``.mp4``
    an :func:`animation`, ``.png`` a :func:`filmstrip`."""
    suffix = check_suffix(path)
    return filmstrip(figures) if suffix == ".png" else animation(figures, suffix[1:])


def output_frames(figures: list[StickFigure]) -> tuple[float, np.ndarray]:
    """The output frame rate and, per output frame, the frame of each clip: ``(rate, (N, len(figures)))``,
    real-time sampling at ``min(MAX_OUTPUT_FPS, fastest clip)``, lowered to keep ``N <= MAX_OUTPUT_FRAMES //
    len(figures)``; a clip that has ended holds its last frame."""
    duration = max(figure.duration for figure in figures)
    rate, most = min(MAX_OUTPUT_FPS, max(figure.fps for figure in figures)), MAX_OUTPUT_FRAMES // len(figures)
    if duration * rate + 1 > most:
        rate = (most - 1) / duration
    times = np.arange(int(math.floor(duration * rate + 1e-9)) + 1) / rate
    frames = [np.minimum(np.rint(times * figure.fps).astype(np.int64), len(figure.positions) - 1) for figure in figures]
    return rate, np.stack(frames, axis=1)


def animation(figures: StickFigure | list[StickFigure], format: str = "gif", progress: bool | None = None) -> bytes:
    """The clips side by side as an animated ``format`` (``"gif"``, looping, or ``"mp4"``, H.264), as bytes;
    ``progress``: a tqdm bar over the frames (None: for animations of more than 100 frames)."""
    from tqdm.auto import tqdm

    figures = _as_list(figures)
    if format not in FORMATS:
        raise ValueError(f"animation format is {format!r}, expected one of {FORMATS}")
    rate, frames = output_frames(figures)
    canvas = _Canvas(figures)
    pictures = (canvas.draw(frames[k], k / rate) for k in tqdm(range(len(frames)), desc="rendering frames",
                unit="frame", disable=len(frames) <= 100 if progress is None else not progress))
    return _gif(pictures, rate) if format == "gif" else _mp4(pictures, rate)


def _gif(pictures, rate: float) -> bytes:
    """RGB frames → a looping GIF. Written with Pillow directly: imageio's writer keeps every frame as RGB
    until it closes; here each frame is held as a 1-byte palette image, every frame mapped to the 64-colour
    palette of the first (it has every colour the drawing uses; 20 times faster than a palette per frame)."""
    from PIL import Image

    pictures = iter(pictures)
    first = Image.fromarray(next(pictures)).quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    frames = [first] + [Image.fromarray(picture).quantize(palette=first, dither=Image.Dither.NONE)
                        for picture in pictures]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / rate), loop=0)
    return buffer.getvalue()


def _mp4(pictures, rate: float) -> bytes:
    """RGB frames → H.264 MP4, streamed to ffmpeg (imageio-ffmpeg's binary), which writes a file."""
    import imageio.v2 as imageio

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "animation.mp4"
        with imageio.get_writer(path, mode="I", fps=rate, codec="libx264", pixelformat="yuv420p",
                                macro_block_size=16) as writer:
            for picture in pictures:
                writer.append_data(picture)
        return path.read_bytes()


def filmstrip(figures: StickFigure | list[StickFigure], num_frames: int = 6) -> bytes:
    """A still PNG: ``num_frames`` key frames evenly spaced in time, left to right, one row per clip."""
    from PIL import Image

    figures = _as_list(figures)
    if not 1 <= num_frames <= 24:
        raise ValueError(f"filmstrip: num_frames is {num_frames}, expected 1 to 24")
    duration = max(figure.duration for figure in figures)
    times = np.linspace(0, duration, num_frames)
    rows = []
    for figure in figures:
        canvas = _Canvas([figure])
        frames = np.minimum(np.rint(times * figure.fps).astype(np.int64), len(figure.positions) - 1)
        rows.append(np.concatenate([canvas.draw(frames[k:k + 1], times[k]) for k in range(num_frames)], axis=1))
    width = max(row.shape[1] for row in rows)  # rows of narrower clips padded with white
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate(rows, axis=0)).save(buffer, format="PNG")
    return buffer.getvalue()


def _as_list(figures) -> list[StickFigure]:
    figures = [figures] if isinstance(figures, StickFigure) else list(figures)
    if not 1 <= len(figures) <= MAX_FIGURES:
        raise ValueError(f"{len(figures)} clips to draw, expected 1 to {MAX_FIGURES} side by side")
    return figures


def _view(figure: StickFigure) -> tuple[tuple, tuple, float, list[np.ndarray]]:
    """The fixed camera of a clip: screen x and y limits that hold every frame and the floor under its whole
    path, the panel's width:height (1 to 2), and the floor grid's lines ``(2, 2)`` on screen, at the clip's
    lowest point, every 0.25 m or more."""
    points = figure.positions.reshape(-1, 3)
    points = points[np.isfinite(points).all(axis=1)]
    low, high = points.min(axis=0) - 0.3, points.max(axis=0) + 0.3
    floor = low[1] + 0.3
    step = max(0.25, round(max(high[0] - low[0], high[2] - low[2]) / 8 * 4) / 4)
    lines = [np.array([[x, floor, low[2]], [x, floor, high[2]]]) for x in np.arange(low[0], high[0] + 1e-9, step)]
    lines += [np.array([[low[0], floor, z], [high[0], floor, z]]) for z in np.arange(low[2], high[2] + 1e-9, step)]
    screen = _project(np.concatenate([points, *lines]))
    lower, upper = screen.min(axis=0), screen.max(axis=0)
    centre, half = (lower + upper) / 2, (upper - lower) / 2 * 1.06
    aspect = float(np.clip(half[0] / max(half[1], 1e-6), 1, 2))
    ratio = aspect / _AXES_HEIGHT  # the axes' width:height in pixels, under the title
    half = np.maximum(half, [half[1] * ratio, half[0] / ratio])  # equal scale on both axes
    return ((centre[0] - half[0], centre[0] + half[0]), (centre[1] - half[1], centre[1] + half[1]), aspect,
            [_project(line) for line in lines])


def _project(points: np.ndarray) -> np.ndarray:
    """``(..., 3)`` points → ``(..., 2)`` screen coordinates of the fixed orthographic camera."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    right = x * math.cos(_AZIMUTH) - z * math.sin(_AZIMUTH)
    depth = x * math.sin(_AZIMUTH) + z * math.cos(_AZIMUTH)
    return np.stack([right, y * math.cos(_ELEVATION) - depth * math.sin(_ELEVATION)], axis=-1)


class _Canvas:
    """A matplotlib figure with one panel per clip, :data:`PANEL_PIXELS` high and as wide as the clip's path
    needs (1 to 2 times its height, in multiples of 16 pixels); ``draw`` poses every clip and returns the RGB
    image ``(PANEL_PIXELS, total width, 3)`` uint8."""

    def __init__(self, figures: list[StickFigure]):
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        self.figures = figures
        views = [_view(figure) for figure in figures]
        widths = [16 * round(PANEL_PIXELS * aspect / 16) for _, _, aspect, _ in views]
        dpi = 80
        self.figure = Figure(figsize=(sum(widths) / dpi, PANEL_PIXELS / dpi), dpi=dpi)
        FigureCanvasAgg(self.figure)
        axes = self.figure.subplots(1, len(figures), squeeze=False, gridspec_kw={"width_ratios": widths})
        self.figure.subplots_adjust(0, 0, 1, _AXES_HEIGHT, wspace=0)
        self.bones, self.joints, self.clocks = [], [], []
        for axis, figure, (x_limits, y_limits, _, floor) in zip(axes[0], figures, views):
            axis.set_axis_off()
            axis.set_title(figure.title[:60], fontsize=9)
            for line in floor:
                axis.plot(*line.T, color="#cccccc", lw=0.8)
            axis.set_xlim(*x_limits)
            axis.set_ylim(*y_limits)
            bones = [(j, p) for j, p in enumerate(figure.parents) if p >= 0]
            self.bones.append((np.array([j for j, _ in bones], dtype=np.int64),
                               np.array([p for _, p in bones], dtype=np.int64),
                               axis.add_collection(LineCollection([], colors="#1f3b73", linewidths=2))))
            weights = figure.joint_weights
            colours = ("#1f3b73" if weights is None else
                       colormaps["Reds"](0.25 + 0.75 * weights / max(weights.max(), 1e-12)))
            self.joints.append(axis.scatter(*_project(figure.positions[0]).T, s=14 if weights is None else 30,
                                            c=colours, zorder=3))
            self.clocks.append(axis.text(0.02, 0.02, "", transform=axis.transAxes, fontsize=8, color="#555555"))

    def draw(self, frames: np.ndarray, time: float) -> np.ndarray:
        """Pose clip ``i`` at its frame ``frames[i]`` (the clock shows ``time`` seconds); the RGB image."""
        for figure, frame, (child, parent, lines), joints, clock in zip(self.figures, frames, self.bones,
                                                                        self.joints, self.clocks):
            screen = _project(figure.positions[frame])
            lines.set_segments(np.stack([screen[child], screen[parent]], axis=1))
            joints.set_offsets(screen)
            clock.set_text(f"{time:.2f} s")
        self.figure.canvas.draw()
        return np.asarray(self.figure.canvas.buffer_rgba())[..., :3].copy()
