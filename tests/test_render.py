"""Drawing clips: real-time frame counts in GIF and MP4, the figure inside the picture for every built-in
layout, clips with repaired or missing joints, side by side clips, bounded output for long clips, and
predict.py --render."""

import io
import json

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image
from eai_llm.joint_layout import joint_mapping
from eai_llm.layouts import get_layout
from eai_llm.motion import repair_missing
from eai_llm.render import (MAX_OUTPUT_FRAMES, PANEL_PIXELS, StickFigure, animation, filmstrip, output_frames,
                            render)
from eai_llm.synthetic import generate_clips

BONE = np.array([0x1F, 0x3B, 0x73])  # the bones' colour


def _walk() -> StickFigure:
    """A synthetic walk of 61 frames at 30 fps: 2 s."""
    clip = generate_clips("egbm", 1, seed=0, actions=["walk"])[0]
    return StickFigure(clip.positions[:61], list(get_layout(clip.layout).parents), clip.fps, "walk")


def _clip_of(layout: str) -> np.ndarray:
    """A synthetic walk in a built-in layout (``xsens_mvn23``: the ``xsens_mvn28`` one's joints by name)."""
    corpus = {"xsens_mvn28": "emilya", "xsens_mvn23": "emilya", "kdae24": "kdae", "kinect_v2": "egbm"}[layout]
    clip = generate_clips(corpus, 1, seed=0, actions=["walk"])[0]
    return clip.positions[:, joint_mapping(get_layout(clip.layout), get_layout(layout))]


def _figure_pixels(image: np.ndarray) -> np.ndarray:
    """``(N, 2)`` row and column of the pixels drawn in the bones' colour."""
    return np.argwhere(np.abs(image[..., :3].astype(int) - BONE).sum(-1) < 60)


def test_a_gif_plays_in_real_time_at_25_frames_per_second():
    figure = _walk()
    assert figure.fps == 30 and len(figure.positions) == 61
    gif = animation(figure, "gif")
    frames = imageio.mimread(io.BytesIO(gif), format="GIF")
    assert len(frames) == 51 and Image.open(io.BytesIO(gif)).info["duration"] == 40  # 2 s at 25 frames/s
    assert frames[0].shape[0] == PANEL_PIXELS


def test_an_mp4_has_the_same_frames_without_a_system_ffmpeg(tmp_path):
    (tmp_path / "walk.mp4").write_bytes(render(_walk(), tmp_path / "walk.mp4"))
    with imageio.get_reader(tmp_path / "walk.mp4", format="FFMPEG") as reader:
        assert reader.count_frames() == 51 and reader.get_meta_data()["fps"] == 25


@pytest.mark.parametrize("name", ["xsens_mvn28", "xsens_mvn23", "kdae24", "kinect_v2"])
def test_every_built_in_layout_is_drawn_whole_inside_the_picture(name):
    image = imageio.imread(io.BytesIO(filmstrip(StickFigure(_clip_of(name), list(get_layout(name).parents), 30.0), 3)))
    width = image.shape[1] // 3  # each key frame a panel as wide as the walk needs
    assert image.shape[0] == PANEL_PIXELS and PANEL_PIXELS <= width <= 2 * PANEL_PIXELS and width % 16 == 0
    for panel in np.split(image, 3, axis=1):
        drawn = _figure_pixels(panel)
        assert len(drawn) > 200  # the figure is there
        (top, left), (bottom, right) = drawn.min(axis=0), drawn.max(axis=0)
        assert top > 5 and left > 5 and bottom < PANEL_PIXELS - 5 and right < width - 5  # and inside
        assert bottom - top > PANEL_PIXELS / 4  # at a size that can be seen


def test_a_clip_with_repaired_and_missing_joints_draws_every_frame():
    figure = _walk()
    gappy = figure.positions.copy()
    gappy[10:14, 5] = np.nan  # a short gap, repaired as the readers repair it
    repaired = repair_missing(gappy, figure.fps, "walk")
    assert np.isfinite(repaired).all()
    gappy[20:25, 3] = np.nan  # and a joint left missing: drawn without it
    for positions in (repaired, gappy):
        frames = imageio.mimread(io.BytesIO(animation(StickFigure(positions, figure.parents, figure.fps), "gif")))
        assert len(frames) == 51 and all(len(_figure_pixels(frame)) > 200 for frame in frames)


def test_clips_side_by_side_share_one_clock_and_joint_weights_colour_the_joints():
    figure = _walk()
    short = StickFigure(figure.positions[:31], figure.parents, figure.fps, "short",
                        joint_weights=np.eye(len(figure.parents))[3])  # one joint weighs, the others nothing
    rate, frames = output_frames([figure, short])
    assert rate == 25 and frames.shape == (51, 2)
    assert frames[-1].tolist() == [60, 30] and frames[25].tolist() == [30, 30]  # the short clip holds its last frame
    pictures = imageio.mimread(io.BytesIO(animation([figure, short], "gif")))
    assert pictures[0].shape[0] == PANEL_PIXELS
    right = pictures[0][:, pictures[0].shape[1] // 2:, :3].astype(int)
    dark = (np.abs(right - [103, 0, 13]).sum(-1) < 60).sum()  # the weighing joint, dark red
    pale = (np.abs(right - [252, 187, 161]).sum(-1) < 60).sum()  # the others, pale
    assert 5 < dark < pale


def test_a_long_clip_is_drawn_in_at_most_max_output_frames_still_in_real_time():
    positions = np.zeros((120 * 600 + 1, 2, 3))  # 10 minutes at 120 fps
    positions[:, 1, 1] = 1
    rate, frames = output_frames([StickFigure(positions, [-1, 0], 120.0)])
    assert len(frames) == MAX_OUTPUT_FRAMES and frames[-1, 0] == len(positions) - 1
    assert rate == pytest.approx((MAX_OUTPUT_FRAMES - 1) / 600)


def test_bad_figures_and_formats_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="field 'parents' has 2 entries"):
        StickFigure(np.zeros((3, 3, 3)), [-1, 0], 30.0)
    with pytest.raises(ValueError, match="field 'positions' has no finite value"):
        StickFigure(np.full((3, 2, 3), np.nan), [-1, 0], 30.0)
    with pytest.raises(ValueError, match="field 'joint_weights'"):
        StickFigure(np.zeros((3, 2, 3)), [-1, 0], 30.0, joint_weights=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"clip.avi: a drawing is a file ending in one of"):
        render(StickFigure(np.zeros((3, 2, 3)), [-1, 0], 30.0), "clip.avi")
    with pytest.raises(ValueError, match="field 'fps' is True"):
        StickFigure(np.zeros((3, 2, 3)), [-1, 0], True)


def test_predict_render_writes_the_animation_beside_the_json(tmp_path, capsys):
    import predict as predict_command
    from tiny_models import save_tiny_run

    model_dir, clip = save_tiny_run(tmp_path)
    predict_command.main(["--model", str(model_dir), "--render", str(tmp_path / "clip.gif"), str(clip)])
    result = json.loads(capsys.readouterr().out)
    assert imageio.mimread(tmp_path / "clip.gif") and set(result) >= {"label", "scores", "explanation", "joint_weights"}
    weights = list(result["joint_weights"].values())
    assert sum(weights) == pytest.approx(1) and max(weights) > 2 * min(weights)  # joints differ
    with pytest.raises(SystemExit, match="clip.avi: a drawing is a file ending in one of"):
        predict_command.main(["--model", str(model_dir), "--render", "clip.avi", str(clip)])
