"""Motion readers: FK, unit/axis conversion, format variants, missing-data policy, errors.

Every fixture is written into ``tmp_path`` by the test that uses it.
"""

import dataclasses
import io
import json
import os
import re
import threading
import time
import warnings
import zipfile

import bvhio
import numpy as np
import pytest
from motion_files import ROT6, flat_bvh_text, layout_bvh, mvnx_motion, mvnx_text, write_bvh

import eai_llm.motion as motion_module
from eai_llm.layouts import LAYOUTS, get_layout
from eai_llm.motion import (
    MAX_FRAMES,
    MAX_JOINTS,
    MotionFileError,
    read_array,
    read_bvh,
    read_kinect_v2,
    read_motion,
    read_mvnx,
    read_xsens_csv,
    repair_missing,
    select_joints,
)

# --------------------------------------------------------------------------------------------- BVH

def test_bvh_forward_kinematics_by_hand(tmp_path):
    # Root "A" (6 channels), child "B" 10 cm along X (3 channels), End Site 5 cm along B's Y.
    joints = [("A", None, (0, 0, 0), ROT6), ("B", "A", (10, 0, 0), ("Zrotation", "Xrotation", "Yrotation")),
              ("BEnd", "B", (0, 5, 0), None)]
    frames = [[0, 0, 0, 90, 0, 0, 0, 90, 0],  # A: Rz 90; B: Rx 90
              [5, 0, 0, 0, 0, 0, 0, 0, 0]]  # A moved 5 cm along X, no rotation
    motion = read_bvh(write_bvh(tmp_path / "hand.bvh", joints, frames), units="cm", end_sites=True)
    assert motion.layout.joint_names == ("A", "B", "BEnd") and motion.layout.parents == (-1, 0, 1)
    assert motion.positions.dtype == np.float32 and motion.fps == 30.0
    # Frame 0: Rz90 turns (10,0,0) into (0,10,0); the end (0,5,0) goes through Rx90 -> (0,0,5), then Rz90 keeps it.
    np.testing.assert_allclose(motion.positions[0], [[0, 0, 0], [0, 0.1, 0], [0, 0.1, 0.05]], atol=1e-6)
    np.testing.assert_allclose(motion.positions[1], [[0.05, 0, 0], [0.15, 0, 0], [0.15, 0.05, 0]], atol=1e-6)


def random_skeleton(rng, frames=12):
    """A 3-level branching skeleton mixing 6-channel and 3-channel joints and rotation orders, with
    random angles; 6-channel position values equal the offsets, as real exports write them."""
    orders = [("Zrotation", "Xrotation", "Yrotation"), ("Xrotation", "Yrotation", "Zrotation"),
              ("Yrotation", "Zrotation", "Xrotation")]
    spec = [("Hips", None), ("Spine", "Hips"), ("Neck", "Spine"), ("Head", "Neck"), ("LArm", "Spine"),
            ("LHand", "LArm"), ("RLeg", "Hips"), ("RFoot", "RLeg")]
    joints, columns = [], []
    for j, (name, parent) in enumerate(spec):
        offset = rng.uniform(-20, 20, 3)
        six = j % 2 == 0
        channels = (("Xposition", "Yposition", "Zposition") if six else ()) + orders[j % 3]
        joints.append((name, parent, tuple(np.round(offset, 4)), channels))
        position = np.tile(np.round(offset, 4), (frames, 1)) if six else np.empty((frames, 0))
        if parent is None:
            position = rng.uniform(-100, 100, (frames, 3))
        columns += [position, rng.uniform(-180, 180, (frames, 3))]
    joints += [("HeadEnd", "Head", (0, 7, 0), None), ("LHandEnd", "LHand", (3, 0, 0), None),
               ("RFootEnd", "RFoot", (0, 0, 4), None)]
    return joints, np.concatenate(columns, axis=1)


def test_bvh_matches_bvhio_and_keeps_bone_lengths(tmp_path):
    joints, frames = random_skeleton(np.random.default_rng(0))
    path = write_bvh(tmp_path / "random.bvh", joints, frames)
    motion = read_bvh(path, units="cm")
    root = bvhio.readAsHierarchy(str(path))
    reference = []
    for frame in range(len(frames)):
        root.loadPose(frame, recursive=True)
        reference.append([list(joint.PositionWorld) for joint, _, _ in root.layout()])
    np.testing.assert_allclose(motion.positions, np.asarray(reference) * 0.01, atol=1e-5)
    bones = [(c, p) for c, p in motion.layout.edges]
    lengths = np.linalg.norm(motion.positions[:, [c for c, _ in bones]] - motion.positions[:, [p for _, p in bones]],
                             axis=-1)
    assert lengths.std(axis=0).max() < 1e-6
    offsets = {name: np.linalg.norm(offset) * 0.01 for name, _, offset, _ in joints}
    np.testing.assert_allclose(lengths[0], [offsets[motion.layout.joint_names[c]] for c, _ in bones], rtol=1e-5)


def test_bvh_end_sites_follow_parent_rotation(tmp_path):
    joints, frames = random_skeleton(np.random.default_rng(1), frames=4)
    path = write_bvh(tmp_path / "ends.bvh", joints, frames)
    motion = read_bvh(path, units="cm", end_sites=True)
    names = motion.layout.joint_names
    assert names[:5] == ("Hips", "Spine", "Neck", "Head", "HeadEnd")
    assert {"HeadEnd", "LHandEnd", "RFootEnd"} <= set(names)
    for end, parent, length in (("HeadEnd", "Head", 0.07), ("LHandEnd", "LHand", 0.03), ("RFootEnd", "RFoot", 0.04)):
        assert motion.layout.parents[names.index(end)] == names.index(parent)
        gap = np.linalg.norm(motion.positions[:, names.index(end)] - motion.positions[:, names.index(parent)], axis=-1)
        np.testing.assert_allclose(gap, length, atol=1e-6)
    without = read_bvh(path, units="cm")
    assert without.layout.num_joints == len(names) - 3
    np.testing.assert_allclose(without.positions, motion.positions[:, [names.index(n) for n in without.layout.joint_names]])


def human_bvh(tmp_path, name, up="y", scale=1.0):
    """A standing 'human' 170 units tall along ``up``: pelvis at 90, head joint at 170, foot at 0."""
    def along(height, side=0.0):
        return (side, height, 0.0) if up == "y" else (side, 0.0, height)
    joints = [("Hips", None, along(90), ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")),
              ("Head", "Hips", along(80), ("Zrotation", "Xrotation", "Yrotation")),
              ("LeftLeg", "Hips", along(-90, 10), ("Zrotation", "Xrotation", "Yrotation"))]
    root = np.array([*along(90, 0), 0, 0, 0]) + np.array([0, 20, 0, 0, 0, 0]) * (up == "z")
    frames = np.tile(np.concatenate([root, np.zeros(6)]), (3, 1)) * np.r_[[scale] * 3, [1] * 9]
    joints = [(n, p, tuple(np.multiply(o, scale)), c) for n, p, o, c in joints]
    return write_bvh(tmp_path / name, joints, frames)


@pytest.mark.parametrize("scale, units", [(0.01, "m"), (1.0, "cm"), (10.0, "mm")])
def test_bvh_auto_units_from_body_height(tmp_path, scale, units):
    motion = read_bvh(human_bvh(tmp_path, f"human_{units}.bvh", scale=scale))
    assert motion.layout.units == units
    np.testing.assert_allclose(motion.positions[0, :, 1], [0.9, 1.7, 0.0], atol=1e-6)


def test_bvh_z_up_becomes_y_up_with_a_proper_rotation(tmp_path):
    motion = read_bvh(human_bvh(tmp_path, "zup.bvh", up="z"), up_axis="z")
    assert motion.layout.up_axis == "z" and motion.layout.units == "cm"
    # File (x, y, z) -> (x, z, -y): the root at (0, 20, 90) cm lands at (0, 0.9, -0.2) m.
    np.testing.assert_allclose(motion.positions[0], [[0, 0.9, -0.2], [0, 1.7, -0.2], [0.1, 0, -0.2]], atol=1e-6)


def test_bvh_placeholder_root_dropped(tmp_path):
    joints = [("joint_Root", None, (0, 0, 0), ROT6), ("Hips", "joint_Root", (0, 90, 0), ROT6),
              ("Spine", "Hips", (0, 20, 0), ROT6), ("Head", "Spine", (0, 60, 0), ROT6)]
    frames = np.zeros((3, 24))
    frames[:, 6:9] = [[0, 90, 0], [5, 90, 0], [10, 91, 0]]
    frames[:, 12:15] = [0, 20, 0]
    frames[:, 18:21] = [0, 60, 0]
    motion = read_bvh(write_bvh(tmp_path / "bandai.bvh", joints, frames))
    assert motion.layout.joint_names == ("Hips", "Spine", "Head") and motion.layout.parents == (-1, 0, 1)
    assert motion.layout.name.startswith("bvh_") and len(motion.layout.name) == 12
    np.testing.assert_allclose(motion.positions[:, 0], [[0, 0.9, 0], [0.05, 0.9, 0], [0.1, 0.91, 0]], atol=1e-6)
    frames[1, 0] = 10.0  # the root node carries root motion: still a placeholder, one skeleton for both files
    moving = read_bvh(write_bvh(tmp_path / "moving_root.bvh", joints, frames))
    assert moving.layout == motion.layout
    np.testing.assert_allclose(moving.positions[1, 0], [0.15, 0.9, 0], atol=1e-6)  # its motion is kept
    named = [("Hips", None, (0, 0, 0), ROT6)] + [(n, "Hips" if p == "joint_Root" else p, o, c)
                                              for n, p, o, c in joints[2:]]
    kept = read_bvh(write_bvh(tmp_path / "hips_root.bvh", named, frames[:, [0, 1, 2, 3, 4, 5] + list(range(12, 24))]),
                    layout_name="mine")
    assert kept.layout.joint_names == ("Hips", "Spine", "Head")  # a moving body joint with one child is kept


def test_bvh_reuses_registered_layout_and_selects_joints(tmp_path):
    kdae = get_layout("kdae24")
    same = read_bvh(layout_bvh(tmp_path / "layout.bvh", kdae), end_sites=True)
    assert same.layout is kdae
    fingers = [("RightHandThumb1", "RightHand"), ("RightHandThumb2", "RightHandThumb1"),
               ("RightHandThumb2End", "RightHandThumb2")]
    full = read_bvh(layout_bvh(tmp_path / "layout.bvh", kdae, fingers), end_sites=True)
    assert full.layout.name.startswith("bvh_") and full.layout.num_joints == 27
    picked = select_joints(full, "kdae24")
    assert picked.layout is kdae and picked.positions.shape == (3, 24, 3)
    np.testing.assert_allclose(picked.positions, same.positions, atol=1e-6)
    without_ends = read_bvh(layout_bvh(tmp_path / "layout.bvh", kdae, fingers))
    with pytest.raises(MotionFileError, match=r"layout\.bvh: field 'joints' lacks \['RightFootEnd', "
                                              r"'LeftFootEnd', 'HeadEnd'\]"):
        select_joints(without_ends, kdae)


def test_bvh_fps_from_frame_time(tmp_path):
    joints = [("A", None, (0, 0, 0), ROT6), ("B", "A", (0, 10, 0), ROT6)]
    frames = np.tile([1, 2, 3, 0, 0, 0, 0, 10, 0, 0, 0, 0], (2, 1))
    assert read_bvh(write_bvh(tmp_path / "a.bvh", joints, frames, frame_time=0.0333333)).fps == 30.0
    assert read_bvh(write_bvh(tmp_path / "b.bvh", joints, frames, frame_time=1 / 29.97)).fps == pytest.approx(29.97)


def small_bvh_text(tmp_path):
    joints = [("A", None, (0, 0, 0), ROT6), ("B", "A", (0, 10, 0), ("Zrotation", "Xrotation", "Yrotation"))]
    return write_bvh(tmp_path / "ok.bvh", joints, np.tile(np.arange(9.0), (4, 1))).read_text()


@pytest.mark.parametrize("edit, field", [
    (lambda t: t[:t.rindex("\n", 0, -1) + 1], "Frames"),  # last frame row missing
    (lambda t: t[:t.rindex(" ")] + "\n", "MOTION"),  # last row one value short
    (lambda t: t.replace("Frame Time: 0.0333333", "Frame Time: fast"), "Frame Time"),
    (lambda t: t.replace("Frame Time: 0.0333333", "Frame Time: 0"), "Frame Time"),
    (lambda t: t[:t.index("Frames:")] + "Frames: 0\nFrame Time: 0.0333333\n", "Frames"),
    (lambda t: t[:t.index("MOTION")], "MOTION"),
    (lambda t: t[:t.index("JOINT B") + 12], "MOTION"),  # hierarchy cut short, no MOTION
    (lambda t: t.replace("}\nMOTION", "MOTION"), "HIERARCHY"),  # unclosed root block
    (lambda t: t.replace("Xrotation", "Wrotation", 1), "CHANNELS"),
    (lambda t: "Time,x,y,z\n0,1,2,3\n", "HIERARCHY"),
    (lambda t: "", "HIERARCHY"),
])
def test_bvh_bad_files_raise_naming_file_and_field(tmp_path, edit, field):
    path = tmp_path / "bad.bvh"
    path.write_text(edit(small_bvh_text(tmp_path)))
    with pytest.raises(MotionFileError, match=rf"bad\.bvh: field '{field}'"):
        read_bvh(path)


def test_bvh_joint_named_twice_names_the_file(tmp_path):
    joints = [("A", None, (0, 0, 0), ROT6), ("B", "A", (0, 10, 0), ROT6), ("B", "A", (0, -10, 0), ROT6)]
    path = write_bvh(tmp_path / "twice.bvh", joints, np.zeros((2, 18)))
    with pytest.raises(MotionFileError, match=r"twice\.bvh: field 'HIERARCHY' names joints \['B'\] more than once"):
        read_bvh(path)


def test_bvh_windows_line_endings(tmp_path):
    text = small_bvh_text(tmp_path)
    crlf = tmp_path / "crlf.bvh"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    np.testing.assert_array_equal(read_bvh(crlf).positions, read_bvh(tmp_path / "ok.bvh").positions)


def test_bvh_missing_file(tmp_path):
    with pytest.raises(MotionFileError, match=r"nope\.bvh: field 'file' could not be read"):
        read_bvh(tmp_path / "nope.bvh")


# ------------------------------------------------------------------------------------------ Kinect

def kinect_frames(frames=6):
    """``(T, 25, 3)`` positions in metres that move linearly over time."""
    base = np.random.default_rng(3).uniform(-1, 1, (25, 3))
    return base + 0.01 * np.arange(frames)[:, None, None]


def test_kinect_75_columns_with_header(tmp_path):
    xyz = kinect_frames()
    header = ",".join(f"{j}_{a}" for j in get_layout("kinect_v2").joint_names for a in "xyz")
    lines = [header] + [",".join(f"{v:.6f}" for v in frame.ravel()) for frame in xyz]
    path = tmp_path / "k75.csv"
    path.write_text("\n".join(lines) + "\n")
    motion = read_kinect_v2(path, fps=15)
    assert motion.layout.name == "kinect_v2" and motion.fps == 15
    np.testing.assert_allclose(motion.positions, xyz, atol=1e-6)


@pytest.mark.parametrize("scale, separator", [(1000.0, ";"), (1.0, " ")])
def test_kinect_76_columns_timestamp_sets_fps(tmp_path, scale, separator):
    xyz = kinect_frames()
    stamps = (12.5 + np.arange(len(xyz)) / 30.0) * scale  # milliseconds, then seconds
    lines = [separator.join([f"{t:.6f}", *(f"{v:.6f}" for v in frame.ravel())]) for t, frame in zip(stamps, xyz)]
    path = tmp_path / "k76.txt"
    path.write_text("\n".join(lines))
    motion = read_kinect_v2(path)
    assert motion.fps == pytest.approx(30.0, rel=1e-4)
    np.testing.assert_allclose(motion.positions, xyz, atol=1e-6)


def test_kinect_100_columns_untracked_joints_interpolated(tmp_path):
    xyz = kinect_frames()
    state = np.full((len(xyz), 25, 1), 2.0)
    state[2:4, 7] = 0  # HandLeft not tracked in frames 2-3
    state[0, 3] = 0  # Head not tracked in frame 0
    state[1, 5] = 1  # inferred: kept
    values = np.concatenate([xyz, state], axis=-1)
    values[2:4, 7, :3] = 0.0  # what the SDK writes for untracked joints
    path = tmp_path / "k100.txt"
    path.write_text("\n".join(" ".join(f"{v:.6f}" for v in frame.ravel()) for frame in values))
    motion = read_kinect_v2(path)
    np.testing.assert_allclose(motion.positions[1:], xyz[1:], atol=1e-6)  # linear motion: interpolation is exact
    np.testing.assert_allclose(motion.positions[0, 3], xyz[1, 3], atol=1e-6)  # start edge: nearest valid frame


def test_kinect_timestamps_in_other_units_rejected(tmp_path):
    xyz = kinect_frames()
    ticks = np.arange(len(xyz)) * 333333.0  # 100-ns ticks: neither seconds nor milliseconds
    path = tmp_path / "k76.txt"
    path.write_text("\n".join(",".join(map(str, [t, *frame.ravel()])) for t, frame in zip(ticks, xyz)))
    with pytest.raises(MotionFileError, match=r"k76\.txt: field 'timestamp' steps by a median of 333333"):
        read_kinect_v2(path)


def test_kinect_units_and_up_axis_come_from_the_registered_layout(tmp_path, monkeypatch):
    xyz = kinect_frames()
    path = tmp_path / "k75.txt"
    path.write_text("\n".join(" ".join(f"{v:.6f}" for v in frame.ravel()) for frame in xyz))
    monkeypatch.setitem(LAYOUTS, "kinect_v2", dataclasses.replace(get_layout("kinect_v2"), units="cm", up_axis="z"))
    np.testing.assert_allclose(read_kinect_v2(path).positions, z_up_to_y_up(xyz * 0.01), atol=1e-6)


def test_kinect_bad_column_count(tmp_path):
    path = tmp_path / "k.txt"
    path.write_text("\n".join(" ".join(["0.5"] * 74) for _ in range(3)))
    with pytest.raises(MotionFileError, match=r"k\.txt: field 'columns' has 74 values on line 1, expected 75"):
        read_kinect_v2(path)


# ------------------------------------------------------------------------------------------- Xsens

def z_up_to_y_up(xyz):
    return np.stack([xyz[..., 0], xyz[..., 2], -xyz[..., 1]], axis=-1)


def test_mvnx_with_points_gives_mvn28(tmp_path):
    positions, quaternions = mvnx_motion()
    path = tmp_path / "take.mvnx"
    path.write_text(mvnx_text(positions, quaternions))
    motion = read_mvnx(path)
    layout = get_layout("xsens_mvn28")
    assert motion.layout is layout and motion.fps == 60 and motion.positions.shape == (3, 28, 3)
    seg = get_layout("xsens_mvn23").joint_names
    body = [layout.joint_names.index(s) for s in seg]
    np.testing.assert_allclose(motion.positions[:, body], z_up_to_y_up(positions), atol=1e-6)
    head, head_end = seg.index("Head"), layout.joint_names.index("HeadEnd")
    # pos_b (0.1, 0, 0): unrotated in frames 0 and 2, turned to (0, 0.1, 0) in frame 1 (Z up), then Y up.
    turned = positions[:, head] + np.array([[0.1, 0, 0], [0, 0.1, 0], [0.1, 0, 0]])
    np.testing.assert_allclose(motion.positions[:, head_end], z_up_to_y_up(turned), atol=1e-6)


def test_mvnx_without_points_gives_mvn23(tmp_path):
    positions, quaternions = mvnx_motion()
    path = tmp_path / "take.mvnx"
    path.write_text(mvnx_text(positions, quaternions, points=False))
    motion = read_mvnx(path)
    assert motion.layout.name == "xsens_mvn23"
    np.testing.assert_allclose(motion.positions, z_up_to_y_up(positions), atol=1e-6)


def test_mvnx_bad_segments_and_xml(tmp_path):
    positions, quaternions = mvnx_motion()
    labels = list(get_layout("xsens_mvn23").joint_names)
    labels[0] = "Hips"
    path = tmp_path / "take.mvnx"
    path.write_text(mvnx_text(positions, quaternions, labels=labels))
    with pytest.raises(MotionFileError, match=r"take\.mvnx: field 'segment' lacks MVN segments \['Pelvis'\]"):
        read_mvnx(path)
    path.write_text(mvnx_text(positions, quaternions)[:-40])
    with pytest.raises(MotionFileError, match=r"take\.mvnx: field 'xml' is not well-formed"):
        read_mvnx(path)


def test_mvnx_with_an_unknown_encoding(tmp_path):
    path = tmp_path / "take.mvnx"
    path.write_text(mvnx_text(*mvnx_motion()).replace("encoding='UTF-8'", "encoding='klingon'"))
    with pytest.raises(MotionFileError, match=r"take\.mvnx: field 'xml' is not well-formed \(unknown encoding"):
        read_mvnx(path)


def test_mvnx_value_that_is_not_a_number_names_the_file_and_field(tmp_path):
    positions, quaternions = mvnx_motion()
    path = tmp_path / "take.mvnx"
    path.write_text(re.sub(r"<position>[^ <]+", "<position>n/a", mvnx_text(positions, quaternions)))
    with pytest.raises(MotionFileError, match=r"take\.mvnx: field 'position' has a value that is not a number"):
        read_mvnx(path)


def test_mvnx_orientations_are_read_only_for_end_points(tmp_path):
    positions, quaternions = mvnx_motion()
    path = tmp_path / "take.mvnx"
    path.write_text(re.sub(r"<orientation>[^ <]+", "<orientation>bad", mvnx_text(positions, quaternions, points=False)))
    np.testing.assert_allclose(read_mvnx(path).positions, z_up_to_y_up(positions), atol=1e-6)


def test_xsens_csv(tmp_path):
    positions = np.random.default_rng(5).uniform(-1, 1, (4, 23, 3)).round(5)
    segments = list(get_layout("xsens_mvn23").joint_names)
    order = segments[::-1]  # columns by name, not position
    header = "Frame," + ",".join(f"{s} {a}" for s in order for a in "xyz")
    rows = [f"{t}," + ",".join(f"{positions[t, segments.index(s), i]}" for s in order for i in range(3))
            for t in range(4)]
    path = tmp_path / "Segment Position.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    motion = read_xsens_csv(path, fps=240)
    assert motion.layout.name == "xsens_mvn23" and motion.fps == 240
    np.testing.assert_allclose(motion.positions, z_up_to_y_up(positions), atol=1e-6)
    with pytest.raises(MotionFileError, match=r"field 'fps' is missing .*expected the fps argument"):
        read_xsens_csv(path)
    path.write_text(header.replace("Pelvis", "Hips") + "\n" + rows[0] + "\n")
    with pytest.raises(MotionFileError, match=r"field 'header' lacks MVN segments \['Pelvis'\]"):
        read_xsens_csv(path, fps=60)


# ------------------------------------------------------------------------------------------ arrays

def test_npy_and_npz(tmp_path):
    positions = np.random.default_rng(6).uniform(-100, 100, (5, 25, 3))
    np.save(tmp_path / "clip.npy", positions)
    motion = read_array(tmp_path / "clip.npy", layout="kinect_v2", fps=30, units="cm", up_axis="z")
    np.testing.assert_allclose(motion.positions, z_up_to_y_up(positions * 0.01), atol=1e-6)
    with pytest.raises(MotionFileError, match=r"clip\.npy: field 'layout' is missing"):
        read_array(tmp_path / "clip.npy", fps=30)
    with pytest.raises(MotionFileError, match=r"clip\.npy: field 'fps' is missing"):
        read_array(tmp_path / "clip.npy", layout="kinect_v2")

    np.savez(tmp_path / "clip.npz", positions=positions, fps=25.0, layout="kinect_v2")
    motion = read_motion(tmp_path / "clip.npz")
    assert motion.fps == 25.0 and motion.layout.name == "kinect_v2"
    np.testing.assert_allclose(motion.positions, positions, rtol=1e-6)
    assert read_motion(tmp_path / "clip.npz", fps=50).fps == 50

    custom = get_layout("kinect_v2").to_dict() | {"name": "my_kinect"}
    np.savez(tmp_path / "custom.npz", positions=positions, fps=25.0, layout=json.dumps(custom))
    assert read_array(tmp_path / "custom.npz").layout.name == "my_kinect"


@pytest.mark.parametrize("layout, found", [
    ("{not json", "is not a valid layout definition"),
    (json.dumps({"name": "x", "joint_names": ["a"]}), r"is not a valid layout definition \(layout dict has fields"),
    (json.dumps(get_layout("kinect_v2").to_dict() | {"name": "my_kinect", "parents": [0] * 25}),
     r"is not a valid layout definition \(layout 'my_kinect': field 'parents' must hold exactly one root"),
])
def test_npz_with_a_bad_layout_entry_names_the_file(tmp_path, layout, found):
    np.savez(tmp_path / "clip.npz", positions=np.zeros((5, 25, 3)), fps=25.0, layout=layout)
    with pytest.raises(MotionFileError, match=rf"clip\.npz: field 'layout' {found}"):
        read_array(tmp_path / "clip.npz")


def test_wrong_joint_count_and_unknown_layout(tmp_path):
    np.save(tmp_path / "clip.npy", np.zeros((5, 24, 3)))
    with pytest.raises(MotionFileError, match=r"clip\.npy: field 'positions' has 24 joints, expected 25 for "
                                              r"layout 'kinect_v2'"):
        read_array(tmp_path / "clip.npy", layout="kinect_v2", fps=30)
    with pytest.raises(MotionFileError, match=r"field 'layout' is 'kinect_v3', expected one of the registered "
                                              r"layouts \[.*'kinect_v2'"):
        read_array(tmp_path / "clip.npy", layout="kinect_v3", fps=30)


def test_read_motion_dispatch(tmp_path):
    path = tmp_path / "ok.bvh"
    path.write_text(small_bvh_text(tmp_path))
    assert read_motion(path, units="cm").layout.joint_names == ("A", "B")
    with pytest.raises(MotionFileError, match=r"take\.csv: field 'format' cannot be told from the suffix '\.csv', "
                                              r"expected format= one of"):
        read_motion(tmp_path / "take.csv")
    with pytest.raises(MotionFileError, match=r"field 'format' is 'c3d', expected one of \['array', 'bvh'"):
        read_motion(path, format="c3d")


# ------------------------------------------------------------------------------------ missing data

def test_repair_interpolates_short_gaps():
    positions = np.arange(20 * 2 * 3, dtype=np.float64).reshape(20, 2, 3) ** 1.5
    holed = positions.copy()
    holed[3:6, 1, 0] = np.nan  # interior gap of 3 frames at 10 fps (0.3 s)
    holed[0:2, 0, 2] = np.nan  # start edge
    holed[19, 0, 1] = np.nan  # end edge
    repaired = repair_missing(holed, fps=10, source="clip")
    assert repaired.dtype == np.float32 and np.isfinite(repaired).all()
    a, b = positions[2, 1, 0], positions[6, 1, 0]
    np.testing.assert_allclose(repaired[3:6, 1, 0], [a + (b - a) * k / 4 for k in (1, 2, 3)], rtol=1e-6)
    np.testing.assert_allclose(repaired[0:2, 0, 2], positions[2, 0, 2], rtol=1e-6)
    np.testing.assert_allclose(repaired[19, 0, 1], positions[18, 0, 1], rtol=1e-6)
    untouched = np.isfinite(holed)
    np.testing.assert_allclose(repaired[untouched], positions[untouched], rtol=1e-6)


def test_repair_rejects_long_gaps_and_mostly_missing():
    positions = np.ones((40, 3, 3))
    positions[10:17, 2] = np.nan  # 7 frames at 10 fps = 0.7 s > 0.5 s
    with pytest.raises(MotionFileError, match=r"clip: field 'positions' has missing values in frames 10-16 "
                                              r"\(joints \[2\]\), expected gaps of at most 0.5 s \(5 frames"):
        repair_missing(positions, fps=10, source="clip")
    positions = np.ones((10, 3, 3))
    positions[::2, 0, 0] = np.nan
    positions[1, 1, 1] = np.nan
    with pytest.raises(MotionFileError, match=r"field 'positions' has missing values in 6 of 10 frames"):
        repair_missing(positions, fps=30, source="clip")


@pytest.mark.parametrize("fps, max_gap_seconds, allowed", [(10, 0.5, 5), (100, 0.29, 29)])
def test_repair_gap_limit_is_inclusive(fps, max_gap_seconds, allowed):
    positions = np.tile(np.arange(80.0)[:, None, None], (1, 2, 3))  # linear in time: repairs are exact
    holed = positions.copy()
    holed[10:10 + allowed, 1] = np.nan
    np.testing.assert_allclose(repair_missing(holed, fps, "clip", max_gap_seconds), positions)
    holed[10 + allowed, 1] = np.nan
    with pytest.raises(MotionFileError, match=rf"clip: field 'positions' has missing values in frames "
                                              rf"10-{10 + allowed} .*\({allowed} frames at {fps} fps\)"):
        repair_missing(holed, fps, "clip", max_gap_seconds)


@pytest.mark.parametrize("frames, text", [(0, "0 frames"), (1, "1 frame")])
def test_repair_rejects_too_short_clips(frames, text):
    with pytest.raises(MotionFileError, match=rf"clip: field 'frames' has {text}, expected at least 2"):
        repair_missing(np.zeros((frames, 3, 3)), fps=30, source="clip")


# ------------------------------------------------------------------- failing well on any input
# Regression tests of the probe's defect classes; tests/test_reader_properties.py holds the properties.

def three_joint_bvh(path, frames=20, edits=()):
    """A root with a chain of two joints and ``frames`` frames of smooth motion, ``values (T, 12)``
    edited by ``edits``: ``(rows, column, value)``."""
    joints = [("A", None, (0, 0, 0), ROT6), ("B", "A", (0, 10, 0), ("Zrotation", "Xrotation", "Yrotation")),
              ("C", "B", (0, 10, 0), ("Zrotation", "Xrotation", "Yrotation"))]
    t = np.arange(frames, dtype=np.float64)[:, None]
    values = np.hstack([t, 90 + 0 * t, 0 * t, np.tile(2 * t, (1, 9))])
    for rows, column, value in edits:
        values[rows, column] = value
    return write_bvh(path, joints, values)


def test_bvh_nan_in_a_few_frames_of_one_channel_is_repaired(tmp_path):
    clean = read_bvh(three_joint_bvh(tmp_path / "clean.bvh"), units="cm").positions
    holed = read_bvh(three_joint_bvh(tmp_path / "nan.bvh", edits=[(slice(5, 8), 6, np.nan)]),  # B's Zrotation
                     units="cm").positions  # C is missing in frames 5-7
    assert np.isfinite(holed).all()
    untouched = np.r_[0:5, 8:20]
    np.testing.assert_allclose(holed[untouched], clean[untouched], atol=1e-6)
    np.testing.assert_allclose(holed[5:8, :2], clean[5:8, :2], atol=1e-6)  # A and B do not depend on B's rotation
    expected = clean[4, 2] + (clean[8, 2] - clean[4, 2]) * np.array([1, 2, 3])[:, None] / 4
    np.testing.assert_allclose(holed[5:8, 2], expected, atol=1e-6)


@pytest.mark.parametrize("order", ["F", "view"])
def test_repair_works_on_any_memory_layout(tmp_path, order):
    positions = np.tile(np.arange(30.0)[:, None, None], (1, 25, 6))
    holed = positions.copy()
    holed[10:13, 4, 1] = np.nan
    holed = np.asfortranarray(holed[:, :, :3]) if order == "F" else holed[:, :, ::2]
    np.testing.assert_allclose(repair_missing(holed, 30, "clip"), positions[:, :, :3])
    np.save(tmp_path / "clip.npy", holed)
    np.testing.assert_allclose(read_array(tmp_path / "clip.npy", layout="kinect_v2", fps=30).positions,
                               positions[:, :, :3])


def test_bvh_huge_or_infinite_values_are_refused(tmp_path):
    def root_y(value):  # the root's Yposition in frames 3-4
        return [(slice(3, 5), 1, value)]
    with pytest.raises(MotionFileError, match=r"big\.bvh: field 'MOTION' has a translation of 1e\+39 .*"
                                              r"MAX_ABS_POSITION_M"):
        read_bvh(three_joint_bvh(tmp_path / "big.bvh", edits=root_y(1e39)), units="cm")
    with pytest.raises(MotionFileError, match=r"far\.bvh: field 'positions' has \[0\.03, 5000\.0, 0\.0\] m at "
                                              r"frame 3, joint 'A' \(in 2 of 20 frames\), expected finite "
                                              r"coordinates within 1000 m"):
        read_bvh(three_joint_bvh(tmp_path / "far.bvh", edits=root_y(5e5)), units="cm")  # 5 km
    with pytest.raises(MotionFileError, match=r"inf\.bvh: field 'MOTION' has inf at index \(3, 1\), expected finite "
                                              r"numbers \('nan' marks a missing sample\)"):
        read_bvh(three_joint_bvh(tmp_path / "inf.bvh", edits=root_y(np.inf)))
    path = tmp_path / "offset.bvh"
    path.write_text(small_bvh_text(tmp_path).replace("OFFSET 0 10 0", "OFFSET 0 inf 0"))
    with pytest.raises(MotionFileError, match=r"offset\.bvh: field 'OFFSET' is 'inf', expected a finite number"):
        read_bvh(path)


@pytest.mark.parametrize("value", [1e30, -1e37, 1e39, np.inf, -np.inf])
def test_arrays_beyond_the_position_limit_are_refused_not_overflowed(tmp_path, value):
    positions = np.zeros((4, 25, 3))
    positions[2, 3, 1] = value
    np.save(tmp_path / "clip.npy", positions)
    with pytest.raises(MotionFileError, match=r"clip\.npy: field 'positions' has \[0\.0, -?(inf|1e\+\d\d), 0\.0\] "
                                              r"m at frame 2, joint 'Head' \(in 1 of 4 frames\), expected finite "
                                              r"coordinates within 1000 m of the origin \(MAX_ABS_POSITION_M"):
        read_array(tmp_path / "clip.npy", layout="kinect_v2", fps=30)


def test_signalling_nan_in_an_array_is_a_missing_sample(tmp_path):
    positions = np.zeros((6, 25, 3), np.float32)
    positions.view(np.uint32)[2, 3, 1] = 0x7F800001  # a signalling NaN, as raw bytes can hold
    np.save(tmp_path / "clip.npy", positions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was: RuntimeWarning "invalid value encountered in multiply"
        repaired = read_array(tmp_path / "clip.npy", layout="kinect_v2", fps=30, units="mm").positions
    np.testing.assert_array_equal(repaired, 0)


@pytest.mark.parametrize("dtype", [complex, bool, "U4"])
def test_arrays_of_other_than_real_numbers_are_refused(tmp_path, dtype):
    np.save(tmp_path / "clip.npy", np.ones((4, 25, 3), dtype=dtype))
    with pytest.raises(MotionFileError, match=r"clip\.npy: field 'positions' has dtype \S+, expected real numbers"):
        read_array(tmp_path / "clip.npy", layout="kinect_v2", fps=30)


@pytest.mark.parametrize("value", [np.inf, 1e39])
def test_repair_refuses_infinite_and_float32_overflowing_values(value):
    positions = np.zeros((10, 2, 3))
    positions[4, 1, 2] = value
    with pytest.raises(MotionFileError, match=r"clip: field 'positions' has values that are infinite or beyond "
                                              r"float32 \(1, first in frame 4\), expected finite values \(NaN marks"):
        repair_missing(positions, 30, "clip")


def test_mvnx_orientation_that_is_not_a_unit_quaternion(tmp_path):
    positions, quaternions = mvnx_motion()
    quaternions[2, 5] = [1e30, 0, 0, 0]
    path = tmp_path / "take.mvnx"
    path.write_text(mvnx_text(positions, quaternions))
    with pytest.raises(MotionFileError, match=r"take\.mvnx: field 'orientation' of normal frame 2, segment 'Neck' is "
                                              r"\[1e\+30, 0\.0, 0\.0, 0\.0\], expected a unit quaternion"):
        read_mvnx(path)


def test_bvh_flat_hierarchy_of_40000_joints_is_refused_quickly(tmp_path):
    path = tmp_path / "flat.bvh"
    path.write_text(flat_bvh_text(40_000))
    start = time.perf_counter()
    with pytest.raises(MotionFileError, match=r"flat\.bvh: field 'HIERARCHY' has 513 joints, expected at most 512 "
                                              r"joints \(MAX_JOINTS\)"):
        read_bvh(path)
    assert time.perf_counter() - start < 5  # was 20 s: a quadratic duplicate check


def test_bvh_frame_count_beyond_the_limit_is_refused_before_the_rows(tmp_path):
    path = tmp_path / "long.bvh"
    path.write_text(small_bvh_text(tmp_path).replace("Frames: 4", f"Frames: {MAX_FRAMES + 1}"))
    with pytest.raises(MotionFileError, match=rf"long\.bvh: field 'Frames' has {MAX_FRAMES + 1} frames, expected at "
                                              rf"most {MAX_FRAMES} frames \(MAX_FRAMES\)"):
        read_bvh(path)


def every_format(tmp_path, frames=4):
    """One valid file per reader: ``(path, read_motion arguments)``."""
    bvh = three_joint_bvh(tmp_path / "clip.bvh", frames=frames)
    kinect = tmp_path / "clip_kinect.txt"
    kinect.write_text("\n".join(" ".join(["0.5"] * 75) for _ in range(frames)))
    mvnx = tmp_path / "clip.mvnx"
    mvnx.write_text(mvnx_text(*mvnx_motion(frames)))
    csv = tmp_path / "clip.csv"
    header = "Frame," + ",".join(f"{s} {a}" for s in get_layout("xsens_mvn23").joint_names for a in "xyz")
    csv.write_text("\n".join([header, *(f"{t}," + ",".join(["0.5"] * 69) for t in range(frames))]))
    np.save(tmp_path / "clip.npy", np.zeros((frames, 25, 3)))
    np.savez(tmp_path / "clip.npz", positions=np.zeros((frames, 25, 3)), fps=30.0, layout="kinect_v2")
    return [(bvh, {}), (kinect, {"format": "kinect_v2"}), (mvnx, {}), (csv, {"format": "xsens_csv", "fps": 60}),
            (tmp_path / "clip.npy", {"layout": "kinect_v2", "fps": 30}), (tmp_path / "clip.npz", {})]


def test_every_reader_enforces_the_file_and_frame_limits(tmp_path, monkeypatch):
    files = every_format(tmp_path)
    for path, kwargs in files:
        assert read_motion(path, **kwargs).positions.shape[0] == 4
    monkeypatch.setattr(motion_module, "MAX_FRAMES", 3)
    for path, kwargs in files:
        with pytest.raises(MotionFileError, match=rf"{re.escape(path.name)}: field '\w+( Frames)?' has 4 frames, "
                                                  r"expected at most 3 frames \(MAX_FRAMES\)"):
            read_motion(path, **kwargs)
    monkeypatch.setattr(motion_module, "MAX_FILE_BYTES", 100)
    for path, kwargs in files:
        with pytest.raises(MotionFileError, match=rf"{re.escape(path.name)}: field 'file' has \d+ bytes, expected at "
                                                  r"most 100 bytes \(MAX_FILE_BYTES\)"):
            read_motion(path, **kwargs)


def npy_header_only(shape):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("shape, limit", [((MAX_FRAMES + 1, 25, 3), "MAX_FRAMES"),
                                          ((4, MAX_JOINTS + 1, 3), "MAX_JOINTS"),
                                          ((10**12, 25, 3), "MAX_FILE_BYTES")])
def test_npy_and_npz_headers_are_checked_before_loading(tmp_path, shape, limit):
    (tmp_path / "clip.npy").write_bytes(npy_header_only(shape))  # no data: loading it would fail otherwise
    with zipfile.ZipFile(tmp_path / "clip.npz", "w") as archive:
        archive.writestr("positions.npy", npy_header_only(shape))
    for name in ("clip.npy", "clip.npz"):
        with pytest.raises(MotionFileError, match=rf"{name}: field 'positions' .*\({limit}\)"):
            read_array(tmp_path / name, layout="kinect_v2", fps=30)


def test_npz_member_that_decompresses_beyond_the_limit(tmp_path, monkeypatch):
    np.savez_compressed(tmp_path / "bomb.npz", positions=np.zeros((4, 25, 3)), fps=30.0, layout=np.zeros(10**6, "U1"))
    assert (tmp_path / "bomb.npz").stat().st_size < 20_000
    monkeypatch.setattr(motion_module, "MAX_FILE_BYTES", 1_000_000)
    with pytest.raises(MotionFileError, match=r"bomb\.npz: field 'layout' holds 4000000 bytes of data, expected at "
                                              r"most 1000000 bytes \(MAX_FILE_BYTES\)"):
        read_array(tmp_path / "bomb.npz")


def test_npz_layout_with_too_many_joints(tmp_path):
    layout = get_layout("kinect_v2").to_dict() | {"joint_names": [f"j{j}" for j in range(MAX_JOINTS + 1)]}
    np.savez(tmp_path / "clip.npz", positions=np.zeros((4, 25, 3)), fps=30.0, layout=json.dumps(layout))
    with pytest.raises(MotionFileError, match=rf"clip\.npz: field 'layout' has {MAX_JOINTS + 1} joints.*MAX_JOINTS"):
        read_array(tmp_path / "clip.npz")


def test_bvh_channel_count_out_of_range(tmp_path):
    path = tmp_path / "bad.bvh"
    path.write_text(small_bvh_text(tmp_path).replace("CHANNELS 3", "CHANNELS 100000000"))
    with pytest.raises(MotionFileError, match=r"bad\.bvh: field 'CHANNELS' of joint 'B' is 100000000, expected 0 to 6"):
        read_bvh(path)


def read_in_thread(path, kwargs):
    """read_motion in a daemon thread: ``(finished within 5 s, exception or None)``."""
    outcome = []

    def run():
        try:
            read_motion(path, **kwargs)
            outcome.append(None)
        except Exception as e:  # noqa: BLE001 - the test looks at it
            outcome.append(e)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    return bool(outcome), outcome[0] if outcome else None


def test_every_reader_refuses_fifos_directories_and_missing_files(tmp_path):
    for path, kwargs in every_format(tmp_path):
        fifo = tmp_path / "fifo" / path.name
        fifo.parent.mkdir(exist_ok=True)
        os.mkfifo(fifo)
        (tmp_path / "dir" / path.name).mkdir(parents=True)
        for odd, found in ((fifo, "is not a regular file"), (tmp_path / "dir" / path.name, "is not a regular file"),
                           (tmp_path / "missing" / path.name, "could not be read")):
            finished, error = read_in_thread(odd, kwargs)
            assert finished, f"{odd} hung the reader"
            assert isinstance(error, MotionFileError) and str(error).startswith(f"{odd}: field 'file' {found}"), error


def test_kinect_bytes_that_are_not_utf8_are_an_error_naming_the_line(tmp_path):
    row = " ".join(["0.5"] * 75).encode()
    path = tmp_path / "k.txt"
    path.write_bytes(b"\xff" + row + b"\n" + row + b"\n" + row)  # was: line 1 dropped as a "header"
    with pytest.raises(MotionFileError, match=r"k\.txt: field 'encoding' has a byte that is not UTF-8 on line 1 "
                                              r"\(byte 0\), expected a UTF-8 Kinect file"):
        read_kinect_v2(path)
    path.write_bytes(row + b"\n" + row + b"\n0.5 \xe9" + row)
    with pytest.raises(MotionFileError, match=r"field 'encoding' has a byte that is not UTF-8 on line 3"):
        read_kinect_v2(path)
    path.write_bytes(b"\xef\xbb\xbf" + row + b"\n" + row)  # a byte-order mark is not a header
    assert read_kinect_v2(path).positions.shape == (2, 25, 3)


def test_bvh_joint_names_in_a_legacy_encoding_are_read_as_latin1(tmp_path):
    path = tmp_path / "legacy.bvh"
    write_bvh(path, [("Hips", None, (0, 0, 0), ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation",
                                                "Yrotation")),
                     ("Kopf", "Hips", (0, 10, 0), ("Zrotation", "Xrotation", "Yrotation"))],
              np.arange(27, dtype=float).reshape(3, 9))  # a moving root: not a placeholder
    path.write_bytes(path.read_bytes().replace(b"Kopf", "K\u00f6pf".encode("cp1252")))  # not UTF-8
    assert read_bvh(path, units="cm").layout.joint_names == ("Hips", "K\u00f6pf")


def test_a_bvh_with_too_many_joint_frames_is_refused_before_its_rows_are_parsed(tmp_path, monkeypatch):
    import eai_llm.motion as motion

    monkeypatch.setattr(motion, "MAX_JOINT_FRAMES", 5)
    path = tmp_path / "long.bvh"
    write_bvh(path, [("Hips", None, (0, 0, 0), ("Xposition", "Yposition", "Zposition")),
                     ("Head", "Hips", (0, 10, 0), ("Zrotation", "Xrotation", "Yrotation"))], np.zeros((3, 6)))
    with pytest.raises(MotionFileError, match=r"long\.bvh: field 'Frames' has 6 joint-frames, expected at most 5 "
                                              r"joint-frames \(MAX_JOINT_FRAMES\)"):
        read_bvh(path, units="cm")


def test_an_npz_naming_a_model_layout_that_is_not_registered_is_read_for_that_model(tmp_path):
    from eai_llm.layouts import layout_from_hierarchy
    from eai_llm.motion import read_for_layouts

    custom = layout_from_hierarchy("studio_rig_3", ["Hips", "Spine", "Head"], [-1, 0, 1])
    path = tmp_path / "clip.npz"
    np.savez(path, positions=np.zeros((5, 3, 3), np.float32), fps=np.float32(30), layout="studio_rig_3")
    with pytest.raises(MotionFileError, match="one of the registered layouts"):
        read_motion(path)  # the registry does not know it
    motion = read_for_layouts(path, [custom.to_dict()])  # the model brings its definition
    assert motion.layout == custom and motion.positions.shape == (5, 3, 3)
