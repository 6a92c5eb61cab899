"""Video → 3D pose (eai_llm.video, motion.read_video) on a real video, the sample from the sports2d wheel cut
short, and everywhere a motion file goes: the pipeline, predict.py, the endpoint handler and video_folder.py."""

import base64
import json
import sys

import numpy as np
import pytest
from motion_files import ffmpeg, sample_video_cut, script, upper_body_layout
from tiny_models import load_exported_handler, save_tiny_run

import predict
from eai_llm import video
from eai_llm.corpus import load_corpus
from eai_llm.hub import export
from eai_llm.joint_layout import map_positions
from eai_llm.layouts import MEDIAPIPE_LANDMARKS, get_layout
from eai_llm.motion import MotionFileError, read_motion, read_video
from eai_llm.pipeline_eai import MAX_VIDEO_BYTES


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The sample video's first 2 s (a poor first detection, then one person walking), and half a second of it."""
    folder = tmp_path_factory.mktemp("video")
    return sample_video_cut(folder / "walk.mp4", 0, 2), sample_video_cut(folder / "short.mp4", 0.5, 0.5)


@pytest.fixture(scope="module")
def walk(clips):
    return read_video(clips[0])


def bone(motion, a, b):
    index = motion.layout.index
    return np.linalg.norm(motion.positions[:, index(a)] - motion.positions[:, index(b)], axis=-1)


def test_a_video_becomes_a_mediapipe33_motion_in_metres_with_y_up(walk):
    assert walk.layout.name == "mediapipe33" and walk.layout.num_joints == 36 and walk.fps == 30.0
    assert 50 <= len(walk.positions) <= 60  # the poor first detection is cut off
    for a, b, low, high in [("left_shoulder", "left_elbow", 0.18, 0.35), ("right_hip", "right_knee", 0.3, 0.5),
                            ("left_knee", "left_ankle", 0.3, 0.5)]:
        quartiles = np.percentile(bone(walk, a, b), [25, 50, 75])
        assert low < quartiles[1] < high, (a, b, quartiles)
        assert quartiles[2] - quartiles[0] < 0.2 * quartiles[1], (a, b, quartiles)  # one body, stable over time
    y = walk.positions[..., 1]
    index = walk.layout.index
    ankles = np.minimum(y[:, index("left_ankle")], y[:, index("right_ankle")])
    assert ((y[:, index("head")] > y[:, index("pelvis")]) & (y[:, index("pelvis")] > ankles)).all()  # +Y is up
    assert 1.0 < np.median(y[:, index("head")] - ankles) < 1.9  # head (between the ears) above the ankles
    for name, (a, b) in {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder")}.items():
        np.testing.assert_allclose(walk.positions[:, index(name)],
                                   walk.positions[:, [index(a), index(b)]].mean(axis=1), atol=1e-5)


def test_the_body_is_where_the_picture_shows_it(clips, walk):
    pelvis = walk.positions[:, walk.layout.index("pelvis")]
    assert np.all(pelvis[:, 2] < -2.0)  # metres in front of the camera, which looks along -Z
    pose = video.run_pose(clips[0])  # MediaPipe's own image landmarks, pixels
    hips = pose["image"][:, [MEDIAPIPE_LANDMARKS.index("left_hip"), MEDIAPIPE_LANDMARKS.index("right_hip")]].mean(axis=1)
    last = 30  # the clip's last second: one person, tracked to the end of the clip
    assert np.isfinite(hips[-last:]).all()
    width, height = float(pose["width"]), float(pose["height"])
    focal = width / 2 / np.tan(np.radians(video.FIELD_OF_VIEW_DEG) / 2)
    x, y, z = pelvis[:, 0], -pelvis[:, 1], -pelvis[:, 2]  # back to the camera's axes: x right, y down, z forward
    projected = np.stack([focal * x / z + width / 2, focal * y / z + height / 2], axis=1)[-last:]
    assert np.median(np.linalg.norm(projected - hips[-last:], axis=1)) < 0.01 * width  # the pelvis projects onto the hips


def test_hip_position_recovers_a_known_camera_translation():
    rng = np.random.default_rng(0)
    world = rng.normal(0, 0.3, (4, 33, 3))
    world -= world[:, [23, 24]].mean(axis=1, keepdims=True)  # hip-centred, as MediaPipe gives them
    truth = np.array([[0.5, -0.2, 8.0], [-1.0, 0.3, 10.0], [0.0, 0.0, 6.0], [2.0, 1.0, 12.0]])
    width, height = 1280.0, 720.0
    focal = width / 2 / np.tan(np.radians(video.FIELD_OF_VIEW_DEG) / 2)
    camera = world + truth[:, None]
    image = focal * camera[..., :2] / camera[..., 2:] + (width / 2, height / 2)  # a pinhole camera
    image[3, 2:] = np.nan  # frame 3: two landmarks in the picture, too few to fit
    hips = video._hip_position(world, image, width, height)
    np.testing.assert_allclose(hips[:3], truth[:3], rtol=0.03, atol=0.05)
    assert np.isnan(hips[3]).all()


def test_tracks_break_where_the_tracker_jumps_to_someone_else_and_the_longest_is_kept():
    frames = 40
    image = np.zeros((frames, 33, 2))
    image[:, [11, 12], 1] = 100.0  # shoulders 100 px above the hips
    image[:, :, 0] = np.arange(frames)[:, None] * 2.0  # one person walking right, 2 px a frame
    image[25:, :, 0] += 600.0  # from frame 25 the tracker follows someone 600 px away
    person = np.ones(frames, bool)
    person[10:12] = False  # a short loss: the same track
    assert video._tracks(image, person, max_gap=2) == [(0, 24), (25, 39)]  # 2 frames missing: repaired, one track
    assert video._tracks(image, person, max_gap=1) == [(0, 9), (12, 24), (25, 39)]


def test_low_pass_keeps_movement_and_removes_jitter_without_lag():
    fps, t = 30.0, np.arange(300) / 30.0
    movement, jitter = np.sin(2 * np.pi * 1.0 * t), 0.3 * np.sin(2 * np.pi * 12.0 * t)
    signal = np.broadcast_to((movement + jitter)[:, None, None], (300, 2, 3)).copy()
    filtered = video.low_pass(signal, fps)[:, 0, 0]
    middle = slice(30, -30)
    assert np.abs(filtered[middle] - movement[middle]).max() < 0.05  # jitter gone, movement kept, in phase
    assert video.low_pass(signal, 10.0) is signal  # 10 fps cannot carry a 6 Hz cut-off: left as it is


def test_a_video_with_nobody_in_it_is_an_error_naming_the_file(tmp_path):
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=320x240:d=1:r=25", "-c:v", "libx264", tmp_path / "empty.mp4")
    with pytest.raises(MotionFileError, match=r"empty.mp4: field 'person' is not found in any of its 25 frames"):
        read_video(tmp_path / "empty.mp4")


@pytest.mark.parametrize("faststart, message", [
    (False, "field 'video' OpenCV cannot open it"),  # the index (moov) at the end is lost
    (True, r"field 'frames' decode to \d+ of the 60 its container states"),  # the index first: frames are lost
])
def test_a_truncated_video_is_an_error_naming_the_file(clips, tmp_path, faststart, message):
    whole = tmp_path / "whole.mp4"
    ffmpeg("-i", clips[0], "-c", "copy", *(["-movflags", "+faststart"] if faststart else []), whole)
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) // 2])
    with pytest.raises(MotionFileError, match=rf"cut.mp4: {message}"):
        read_video(tmp_path / "cut.mp4")


def test_unsupported_files_are_refused_with_what_is_expected(tmp_path):
    (tmp_path / "clip.mkv").write_bytes(b"\x1a\x45\xdf\xa3")
    with pytest.raises(MotionFileError, match=r"clip.mkv: field 'format' cannot be told from the suffix '.mkv'.*'.mp4'"):
        read_motion(tmp_path / "clip.mkv")
    (tmp_path / "notes.mp4").write_text("not a video\n")
    with pytest.raises(MotionFileError, match="notes.mp4: field 'video' OpenCV cannot open it .* expected a video file"):
        read_video(tmp_path / "notes.mp4")


def test_a_video_over_the_frame_limit_is_refused_before_pose_work(clips):
    with pytest.raises(video.PoseError, match="field 'frames' states 60 frames, more than 10, expected at most 10"):
        video.estimate_pose(clips[0], 0.5, max_frames=10)


def test_a_video_with_the_legs_out_of_the_picture_names_them(clips, tmp_path):
    ffmpeg("-i", clips[0], "-vf", "crop=iw:ih/3:0:0", "-c:v", "libx264", tmp_path / "legs-cut.mp4")  # the top third
    with pytest.raises(MotionFileError, match=r"legs-cut.mp4: field 'body' has landmarks outside the picture in most "
                                              r"of the person's frames: \[.*'left_ankle', 'right_ankle'.*\], expected "
                                              r"the whole body in view"):
        read_video(tmp_path / "legs-cut.mp4")


def test_a_pose_python_without_mediapipe_is_named(clips, monkeypatch):
    monkeypatch.setenv(video.POSE_PYTHON_VARIABLE, sys.executable)  # this Python: numpy 2, no mediapipe
    with pytest.raises(MotionFileError, match=r"walk.mp4: field 'pose environment' .*python\S* cannot import "
                                              r"\w+, expected a Python with mediapipe==0.10.21"):
        read_video(clips[0])


def test_without_a_pose_environment_the_message_says_how_to_get_one(clips, monkeypatch):
    monkeypatch.setenv(video.POSE_PYTHON_VARIABLE, "/nonexistent/python")
    with pytest.raises(MotionFileError, match="walk.mp4: field 'pose environment' EAI_POSE_PYTHON=/nonexistent/python "
                                              "is not an executable file, expected .*make pose-env"):
        read_video(clips[0])
    monkeypatch.delenv(video.POSE_PYTHON_VARIABLE)
    with pytest.raises(MotionFileError, match="field 'pose environment' is missing .* expected `make pose-env`"):
        read_video(clips[0])  # this Python has no mediapipe (it has numpy 2)


def test_a_mediapipe33_motion_maps_onto_a_layout_by_canonical_names(walk):
    kinect = get_layout("kinect_v2")
    positions, placed = map_positions(walk.positions, walk.layout, kinect)
    assert sorted(placed) == ["HandTipLeft", "HandTipRight", "SpineMid", "SpineShoulder"]
    source, target = walk.layout.index, kinect.index
    np.testing.assert_array_equal(positions[:, target("ElbowLeft")], walk.positions[:, source("left_elbow")])
    np.testing.assert_array_equal(positions[:, target("Head")], walk.positions[:, source("head")])
    shoulders = walk.positions[:, [source("left_shoulder"), source("right_shoulder")]].mean(axis=1)
    np.testing.assert_allclose(positions[:, target("SpineShoulder")], shoulders, atol=1e-6)  # between its neighbours
    np.testing.assert_allclose(positions[:, target("SpineMid")],  # between the placed SpineShoulder and the pelvis
                               (shoulders + walk.positions[:, source("pelvis")]) / 2, atol=1e-6)
    np.testing.assert_array_equal(positions[:, target("HandTipLeft")], walk.positions[:, source("left_index")])


def test_map_positions_refuses_a_layout_with_nothing_in_common():
    lone = get_layout("kdae24")
    other = type(lone)(name="other", joint_names=["a", "b"], parents=[-1, 0], canonical=["", ""],
                       body_parts=["torso", "torso"])
    with pytest.raises(ValueError, match="layout 'other' shares no joint with layout 'kdae24'"):
        map_positions(np.zeros((2, 2, 3)), other, lone)


def test_map_positions_names_the_limbs_a_layout_lacks():
    with pytest.raises(ValueError, match=r"layout 'upper_body' lacks the joints \['r_hip', 'r_knee', 'r_ankle', 'l_hip', "
                                         r"'l_knee', 'l_ankle'\] of layout 'kdae24'"):
        map_positions(np.zeros((2, 17, 3)), upper_body_layout(), get_layout("kdae24"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video-model")
    model_dir, _ = save_tiny_run(folder)
    return model_dir, export(model_dir, folder / "export")


def test_predict_explains_a_video(exported, clips, capsys):
    predict.main(["--model", str(exported[0]), str(clips[0])])
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] in answer["scores"] and abs(sum(answer["scores"].values()) - 1) < 1e-4
    assert "SpineMid" in answer["placed_joints"] or "L3" in answer["placed_joints"]  # a video has no spine joints
    assert isinstance(answer["explanation"], str) and "claims" in answer["evidence"]


def test_the_endpoint_takes_a_video_as_base64_within_its_limit(exported, clips):
    handler = load_exported_handler(exported[1])
    assert (exported[1] / "pose_worker.py").is_file()
    request = {"video": base64.b64encode(clips[1].read_bytes()).decode(), "container": "mp4"}
    answer = handler({"inputs": request, "parameters": {"max_new_tokens": 4}})
    assert answer.get("label") in answer.get("scores", ()), answer
    huge = handler({"inputs": {"video": "A" * (MAX_VIDEO_BYTES * 4 // 3 + 8), "container": "mp4"}})
    assert huge["status"] == 400 and "expected at most 67108864 (MAX_VIDEO_BYTES)" in huge["error"]
    for inputs, message in [({"video": "not base64!", "container": "mp4"}, "field 'video' is not base64"),
                            ({"video": request["video"], "container": "mkv"}, "field 'container' is 'mkv', expected one of"),
                            ({"video": request["video"][:800], "container": "mp4"}, "request video: field 'video'")]:
        answer = handler({"inputs": inputs})
        assert answer["status"] == 400 and message in answer["error"] and "/tmp" not in answer["error"], answer


def test_video_folder_converts_labelled_videos_into_a_mediapipe33_corpus(clips, tmp_path):
    inputs = tmp_path / "videos"
    inputs.mkdir()
    for label in ("happy", "sad"):
        for take in range(2):
            (inputs / f"walk_{label}_{take}.mp4").write_bytes(clips[1].read_bytes())
    script("video_folder").main(["--input-dir", str(inputs), "--label-regex",
                                 r"(?P<action>[a-z]+)_(?P<label>[a-z]+)_\d+\.mp4", "--test-fraction", "0.5",
                                 "--output-dir", str(tmp_path / "corpus")])
    corpus = load_corpus(tmp_path / "corpus")
    rows = [row for split in corpus.values() for row in split]
    names = corpus["train"].features["label"].names
    assert sorted(names[row["label"]] for row in rows) == ["happy", "happy", "sad", "sad"]
    assert {row["layout"] for row in rows} == {"mediapipe33"} and {row["action"] for row in rows} == {"walk"}
    assert {row["num_joints"] for row in rows} == {len(MEDIAPIPE_LANDMARKS) + 3}
