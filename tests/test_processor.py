import json

import numpy as np
import pytest
import torch

from eai_llm.layouts import LAYOUTS, get_layout, layout_from_hierarchy
from eai_llm.processing_eai import SkeletonProcessor


BUILT_IN = [get_layout(name) for name in ("xsens_mvn28", "kdae24", "kinect_v2")]


def walking_clip(frames: int, layout: str, seed: int = 0) -> np.ndarray:
    """A body-sized random pose drifting forward at 1 m/s, ``(frames, J, 3)``, 30 fps."""
    joints = get_layout(layout).num_joints
    rng = np.random.default_rng(seed)
    pose = rng.normal(scale=0.4, size=(1, joints, 3))
    wobble = rng.normal(scale=0.02, size=(frames, joints, 3))
    drift = np.zeros((frames, 1, 3))
    drift[:, 0, 2] = np.arange(frames) / 30.0
    return (pose + wobble + drift + [0.0, 1.0, 0.0]).astype(np.float32)


def normalised(frames: np.ndarray, layout: str) -> np.ndarray:
    """The processor's documented normalisation of a clip's real (already resampled) frames, written out
    independently: centred on the first frame's root, divided by the median largest joint-to-root distance."""
    root = get_layout(layout).root_index
    centred = frames - frames[0, root]
    size = np.median(np.linalg.norm(centred - centred[:, root:root + 1], axis=-1).max(axis=1))
    return centred / size


def test_mixed_layout_batch_shapes_masks_and_exact_zero_padding():
    processor = SkeletonProcessor(BUILT_IN, num_frames=64)
    clips = [walking_clip(120, "xsens_mvn28"), walking_clip(40, "kinect_v2"), walking_clip(64, "kdae24")]
    out = processor(clips, ["xsens_mvn28", "kinect_v2", "kdae24"], return_tensors="pt")
    assert out["skeleton_values"].shape == (3, 3, 64, 28) and out["skeleton_values"].dtype == torch.float32
    assert out["joint_mask"].tolist() == [[1] * 28, [1] * 25 + [0] * 3, [1] * 24 + [0] * 4]
    assert out["frame_mask"].sum(1).tolist() == [64, 40, 64]
    assert out["layout_ids"].tolist() == [processor.layout_names.index(n) for n in ("xsens_mvn28", "kinect_v2", "kdae24")]
    assert torch.all(out["skeleton_values"][1, :, :, 25:] == 0)
    assert torch.all(out["skeleton_values"][2, :, :, 24:] == 0)
    assert torch.isfinite(out["skeleton_values"]).all()


def test_a_clip_gets_the_same_values_alone_and_inside_a_wider_batch():
    processor = SkeletonProcessor(BUILT_IN)
    clip = walking_clip(50, "kinect_v2", seed=3)
    alone = processor(clip, "kinect_v2")["skeleton_values"]
    batched = processor([walking_clip(200, "xsens_mvn28"), clip], ["xsens_mvn28", "kinect_v2"])["skeleton_values"]
    np.testing.assert_array_equal(alone[0], batched[1])


def test_root_centred_scale_normalised_and_invariant_to_placement_and_body_size():
    processor = SkeletonProcessor(BUILT_IN, num_frames=64)
    clip = walking_clip(64, "kdae24")
    out = processor(clip, "kdae24", return_tensors="np")["skeleton_values"][0, :, :, :24]  # (3, T, J)
    np.testing.assert_allclose(out.transpose(1, 2, 0), normalised(clip, "kdae24"), rtol=1e-5, atol=1e-6)
    root = get_layout("kdae24").root_index
    np.testing.assert_array_equal(out[:, 0, root], 0.0)
    moved_and_bigger = 1.3 * clip + np.float32([5.0, 0.2, -3.0])
    other = processor(moved_and_bigger, "kdae24", return_tensors="np")["skeleton_values"][0, :, :, :24]
    np.testing.assert_allclose(other, out, atol=1e-5)
    # forward drift over time survives centring: walking speed carries emotion
    assert out[2, -1, root] > out[2, 0, root] + 0.5


def test_long_clips_are_downsampled_by_linear_interpolation_over_the_whole_clip():
    processor = SkeletonProcessor(BUILT_IN, num_frames=64)
    frames = 127  # maps output frame k to input frame 2k exactly
    clip = walking_clip(frames, "kinect_v2")
    out = processor(clip, "kinect_v2", return_tensors="np")["skeleton_values"][0, :, :, :25].transpose(1, 2, 0)
    np.testing.assert_allclose(out, normalised(clip[::2], "kinect_v2"), rtol=1e-5, atol=1e-6)
    # in between input frames the value is the linear blend of its two neighbours, then normalised
    uneven = walking_clip(100, "kinect_v2")
    out = processor(uneven, "kinect_v2", return_tensors="np")["skeleton_values"][0, :, :, :25].transpose(1, 2, 0)
    times = np.arange(64) * 99 / 63
    resampled = np.stack([[np.interp(times, np.arange(100), uneven[:, j, d]) for d in range(3)]
                          for j in range(25)]).transpose(2, 0, 1)
    np.testing.assert_allclose(out, normalised(resampled, "kinect_v2"), rtol=1e-4, atol=1e-5)


def test_short_clips_are_padded_by_repeating_the_clip_or_with_zeros():
    clip = walking_clip(20, "kinect_v2")
    reference = normalised(clip, "kinect_v2")
    repeat = SkeletonProcessor(BUILT_IN, num_frames=64)(clip, "kinect_v2", return_tensors="np")
    values = repeat["skeleton_values"][0].transpose(1, 2, 0)[:, :25]
    np.testing.assert_allclose(values[:20], reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(values[20:40], values[:20])
    np.testing.assert_array_equal(values[60:], values[:4])
    assert repeat["frame_mask"][0].tolist() == [1] * 20 + [0] * 44

    zero = SkeletonProcessor(BUILT_IN, num_frames=64, frame_padding="zero")(clip, "kinect_v2", return_tensors="np")
    np.testing.assert_array_equal(zero["skeleton_values"][0][:, 20:], 0.0)
    assert zero["frame_mask"][0].tolist() == [1] * 20 + [0] * 44


def test_save_and_load_carries_custom_layouts_without_the_registry(tmp_path):
    layout = layout_from_hierarchy("test_processor_bvh", ["Hips", "Spine", "Head", "LeftUpLeg"], [-1, 0, 1, 0])
    processor = SkeletonProcessor(layouts=[layout.to_dict(), get_layout("kinect_v2")], num_frames=32)
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["layouts"][0]["joint_names"] == ["Hips", "Spine", "Head", "LeftUpLeg"]
    registry = dict(LAYOUTS)
    loaded = SkeletonProcessor.from_pretrained(tmp_path)
    assert LAYOUTS == registry and "test_processor_bvh" not in LAYOUTS  # loading registers nothing
    assert loaded.layout_names == ["test_processor_bvh", "kinect_v2"]
    assert loaded.num_frames == 32 and loaded.max_joints == 25
    clip = np.random.default_rng(0).normal(size=(40, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(clip, "test_processor_bvh")["skeleton_values"],
                                  processor(clip, "test_processor_bvh")["skeleton_values"])


def test_two_processors_whose_layouts_share_a_name_each_keep_their_own(tmp_path):
    three = layout_from_hierarchy("shared_name", ["Hips", "Spine", "Head"], [-1, 0, 1])
    two = layout_from_hierarchy("shared_name", ["Hips", "LeftUpLeg"], [-1, 0])
    SkeletonProcessor(layouts=[three]).save_pretrained(tmp_path / "a")
    SkeletonProcessor(layouts=[two]).save_pretrained(tmp_path / "b")
    a, b = SkeletonProcessor.from_pretrained(tmp_path / "a"), SkeletonProcessor.from_pretrained(tmp_path / "b")
    assert a(np.ones((5, 3, 3), np.float32), "shared_name")["joint_mask"].tolist() == [[1, 1, 1]]
    assert b(np.ones((5, 2, 3), np.float32), "shared_name")["joint_mask"].tolist() == [[1, 1]]


def test_a_layout_name_alone_is_refused():
    with pytest.raises(ValueError, match="field 'layouts' holds 'kinect_v2', expected layout definitions"):
        SkeletonProcessor(["kinect_v2"])


@pytest.mark.parametrize("clip, layout, message", [
    (np.zeros((10, 25, 3), np.float32), "kinect_v3", "field 'layout' is 'kinect_v3', expected one of"),
    (np.zeros((10, 24, 3), np.float32), "kinect_v2", "has 24 joints, expected 25 for layout 'kinect_v2'"),
    (np.zeros((1, 25, 3), np.float32), "kinect_v2", "has 1 frames, expected at least 2"),
    (np.zeros((0, 25, 3), np.float32), "kinect_v2", "has 0 frames, expected at least 2"),
    (np.zeros((10, 25, 2), np.float32), "kinect_v2", r"expected \(T, J, 3\)"),
])
def test_bad_clips_are_rejected_with_the_clip_and_field_named(clip, layout, message):
    with pytest.raises(ValueError, match=message):
        SkeletonProcessor(BUILT_IN)([walking_clip(10, "kinect_v2"), clip], ["kinect_v2", layout])


def test_nan_frames_are_named():
    clip = walking_clip(10, "kinect_v2")
    clip[[3, 7], 5] = np.nan
    with pytest.raises(ValueError, match=r"clip 0: field 'positions' has NaN/inf in frames \[3, 7\]"):
        SkeletonProcessor(BUILT_IN)(clip, "kinect_v2")


def test_batch_and_configuration_errors():
    processor = SkeletonProcessor(BUILT_IN)
    clips = [walking_clip(10, "kinect_v2")] * 2
    with pytest.raises(ValueError, match="2 clips but 3 layout names"):
        processor(clips, ["kinect_v2"] * 3)
    with pytest.raises(ValueError, match="empty batch"):
        processor([], [])
    with pytest.raises(ValueError, match="'max_joints' is 20, expected at least 28"):
        SkeletonProcessor(BUILT_IN, max_joints=20)
    with pytest.raises(ValueError, match="'frame_padding' is 'mirror'"):
        SkeletonProcessor(BUILT_IN, frame_padding="mirror")


def turned(clip: np.ndarray, degrees: float) -> np.ndarray:
    """``clip`` rotated about the vertical (+Y) by ``degrees``."""
    a = np.radians(degrees)
    rotation = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    return (clip @ rotation.T).astype(np.float32)


def test_face_forward_turns_every_clip_to_face_plus_z_at_its_first_frame():
    processor = SkeletonProcessor(BUILT_IN, num_frames=32, face_forward=True)
    layout = get_layout("kinect_v2")
    r_hip, l_hip = layout.canonical.index("r_hip"), layout.canonical.index("l_hip")
    clip = walking_clip(32, "kinect_v2", seed=4)
    out = processor(clip, "kinect_v2", return_tensors="np")["skeleton_values"][0, :, :, :25]  # (3, T, J)
    across = out[:, 0, r_hip] - out[:, 0, l_hip]  # right minus left hip; facing +Z puts the right hip at -X
    assert abs(across[2]) < 1e-5 and across[0] < 0
    for degrees in (35.0, 180.0, -100.0):
        np.testing.assert_allclose(processor(turned(clip, degrees), "kinect_v2", return_tensors="np")[
            "skeleton_values"][0, :, :, :25], out, atol=1e-5)
    unturned = SkeletonProcessor(BUILT_IN, num_frames=32)(turned(clip, 35.0), "kinect_v2")["skeleton_values"]
    assert np.abs(unturned[0, :, :, :25] - out).max() > 0.1  # off by default: the clip keeps its heading
    hipless = layout_from_hierarchy("test_hipless", ["Chest", "Neck", "Head"], [-1, 0, 1])
    three = turned(walking_clip(32, "kinect_v2")[:, :3], 35.0)
    np.testing.assert_array_equal(  # no hips, no facing: the clip is not turned
        SkeletonProcessor([hipless], num_frames=32, face_forward=True)(three, "test_hipless")["skeleton_values"],
        SkeletonProcessor([hipless], num_frames=32)(three, "test_hipless")["skeleton_values"])


def test_movement_descriptors_come_per_clip_at_each_clips_frame_rate():
    names = ["root_speed", "trunk_lean", "tremor"]
    spineless = get_layout("kinect_v2").to_dict()
    spineless["name"], spineless["canonical"] = "test_spineless", [
        "" if name == "spine_upper" else name for name in spineless["canonical"]]  # trunk_lean needs spine_upper
    processor = SkeletonProcessor([*BUILT_IN, spineless], num_frames=16, descriptors=names)
    clip = walking_clip(90, "kinect_v2")  # 3 s at 30 fps
    out = processor([clip, clip, clip, clip[:21], clip], ["kinect_v2", "kinect_v2", "test_spineless", "kinect_v2",
                    "kinect_v2"], [30.0, 60.0, 30.0, 30.0, 15.0], return_tensors="pt")
    values = out["motion_descriptors"].numpy()
    assert values.shape == (5, 3) and values.dtype == np.float32
    speed, lean, tremor = range(3)
    assert np.isfinite(values[0]).all()
    assert values[1, speed] == pytest.approx(2 * values[0, speed], rel=0.01)  # the same frames in half the time
    assert np.isnan(values[2, lean]) and values[2, speed] == values[0, speed]  # the layout lacks spine_upper
    assert np.isnan(values[3, tremor]) and np.isfinite(values[3, speed])  # 0.7 s: tremor needs 1 s, speed 0.5 s
    assert np.isnan(values[4]).all()  # 15 fps: below descriptors.MIN_FPS, every descriptor absent
    assert processor(clip, "kinect_v2", 30)["motion_descriptors"].shape == (1, 3)  # one rate for all clips
    assert SkeletonProcessor(BUILT_IN)(clip, "kinect_v2")["motion_descriptors"].shape == (1, 0)  # none asked for


@pytest.mark.parametrize("fps, message", [
    (None, "no 'fps' given, expected each clip's frame rate"),
    ([30.0], r"2 clips but 1 frame rates \(field 'fps'\)"),
    ([30.0, 0.0], "clip 1: field 'fps' is 0.0, expected a positive number"),
    ([30.0, "30"], "clip 1: field 'fps' is '30', expected a positive number"),
])
def test_descriptors_need_one_frame_rate_per_clip(fps, message):
    processor = SkeletonProcessor(BUILT_IN, descriptors=["root_speed"])
    with pytest.raises(ValueError, match=message):
        processor([walking_clip(40, "kinect_v2")] * 2, "kinect_v2", fps)


def test_unknown_descriptor_names_are_refused_and_known_ones_saved(tmp_path):
    with pytest.raises(ValueError, match=r"field 'descriptors' has unknown names \['grace'\]"):
        SkeletonProcessor(BUILT_IN, descriptors=["root_speed", "grace"])
    SkeletonProcessor(BUILT_IN, descriptors=["tremor", "pauses"], face_forward=True).save_pretrained(tmp_path)
    loaded = SkeletonProcessor.from_pretrained(tmp_path)
    assert loaded.descriptors == ["tremor", "pauses"] and loaded.face_forward
