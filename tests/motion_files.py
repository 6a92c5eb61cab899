"""Motion files written by tests into ``tmp_path``: BVH and MVNX documents with known content."""

import importlib.util
import subprocess
import zlib
from pathlib import Path

import numpy as np

from eai_llm.joint_layout import JointLayout
from eai_llm.layouts import get_layout
from eai_llm.motion import MVNX_END_POINTS

SCRIPTS = Path(__file__).resolve().parents[1] / "dataset_scripts"

ROT6 = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")


def write_bvh(path, joints, frames, frame_time=1 / 30):
    """Write a BVH file.

    ``joints``: ``(name, parent name or None, offset, channels)`` in depth-first order; ``channels``
    ``None`` makes the entry an End Site of its parent. ``frames``: ``(T, C)`` motion values.
    """
    children = {}
    for joint in joints:
        children.setdefault(joint[1], []).append(joint)

    def block(joint, depth):
        name, parent, offset, channels = joint
        pad = "\t" * depth
        head = "End Site" if channels is None else f"{'ROOT' if parent is None else 'JOINT'} {name}"
        lines = [pad + head, pad + "{", f"{pad}\tOFFSET {offset[0]} {offset[1]} {offset[2]}"]
        if channels is not None:
            lines.append(f"{pad}\tCHANNELS {len(channels)} {' '.join(channels)}")
            for child in children.get(name, []):
                lines += block(child, depth + 1)
        return lines + [pad + "}"]

    rows = [" ".join(f"{v:.6f}" for v in row) for row in np.atleast_2d(frames)]
    text = "\n".join(["HIERARCHY", *block(children[None][0], 0), "MOTION", f"Frames: {len(rows)}",
                      f"Frame Time: {frame_time:.7f}", *rows]) + "\n"
    path.write_text(text)
    return path


def flat_bvh_text(joints, channels="3"):
    """A BVH document whose root has ``joints`` child joints, each declaring ``CHANNELS <channels>``
    (three rotations follow), and two frames of three values (the root's rotations)."""
    block = "JOINT j{}\n{{\nOFFSET 0 0 0\nCHANNELS " + channels + " Xrotation Yrotation Zrotation\n}}\n"
    return ("HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Zrotation\n"
            + "".join(block.format(j) for j in range(joints)) + "}\nMOTION\nFrames: 2\nFrame Time: 0.1\n0 0 0\n0 0 0\n")


def layout_bvh(path, layout, extra=(), seed=0):
    """A BVH whose hierarchy is ``layout`` (joints named ``*End`` written as End Sites) plus ``extra``
    ``(name, parent)`` joints; root 6 channels, others 3; random offsets and rotations seeded by joint
    name and ``seed``, so a joint moves the same with or without the extra joints."""
    rows = [(n, layout.joint_names[p] if p >= 0 else None) for n, p in zip(layout.joint_names, layout.parents)]
    rows += list(extra)
    order = []

    def visit(name):
        order.append(next(r for r in rows if r[0] == name))
        for row in rows:
            if row[1] == name:
                visit(row[0])

    visit(rows[0][0])
    joints, columns = [], []
    for name, parent in order:
        if name.endswith("End"):
            joints.append((name, parent, (0, 8, 0), None))
            continue
        rng = np.random.default_rng(zlib.crc32(name.encode()) + seed)
        channels = ROT6 if parent is None else ("Zrotation", "Xrotation", "Yrotation")
        joints.append((name, parent, (0, 90, 0) if parent is None else tuple(rng.uniform(-15, 15, 3).round(3)), channels))
        columns.append(rng.uniform(-20, 20, (3, len(channels))))
    return write_bvh(path, joints, np.concatenate(columns, axis=1))


def mvnx_text(positions, quaternions, points=True, labels=None, rate=60):
    """An MVNX document for ``positions (T, 23, 3)`` and ``quaternions (T, 23, 4)`` (w x y z)."""
    labels = labels or get_layout("xsens_mvn23").joint_names
    segments = []
    for i, label in enumerate(labels):
        point = MVNX_END_POINTS.get(label) if points else None
        body = (f"<points><point label='{point}'><pos_b>0.1 0 0</pos_b></point>"
                f"<point label='pOther'><pos_b>9 9 9</pos_b></point></points>") if point else ""
        segments.append(f"<segment label='{label}' id='{i + 1}'>{body}</segment>")
    frames = ["<frame time='0' index='-1' type='identity'><position>1 2 3</position></frame>"]
    for t, (pos, quat) in enumerate(zip(positions, quaternions)):
        frames.append(f"<frame time='{t}' index='{t}' type='normal'>"
                      f"<orientation>{' '.join(map(str, quat.ravel()))}</orientation>"
                      f"<position>{' '.join(map(str, pos.ravel()))}</position></frame>")
    return (f"<?xml version='1.0' encoding='UTF-8'?><mvnx version='4' xmlns='http://www.xsens.com/mvn/mvnx'>"
            f"<subject label='s' frameRate='{rate}' segmentCount='{len(labels)}'><segments>{''.join(segments)}"
            f"</segments><frames segmentCount='{len(labels)}'>{''.join(frames)}</frames></subject></mvnx>")


def mvnx_motion(frames=3):
    positions = np.random.default_rng(4).uniform(-1, 1, (frames, 23, 3)).round(4)
    quaternions = np.tile([1.0, 0, 0, 0], (frames, 23, 1))
    half = np.sqrt(0.5)
    quaternions[1] = [half, 0, 0, half]  # frame 1: every segment turned 90° about Z
    return positions, quaternions


def upper_body_layout():
    """Kinect V2 without its legs: a skeleton that no model of another layout can take (it lacks the hips,
    knees and ankles)."""
    kinect = get_layout("kinect_v2")
    keep = [j for j, part in enumerate(kinect.body_parts) if not part.endswith("_leg")]
    return JointLayout(name="upper_body", joint_names=[kinect.joint_names[j] for j in keep],
                       parents=[keep.index(kinect.parents[j]) if kinect.parents[j] >= 0 else -1 for j in keep],
                       canonical=[kinect.canonical[j] for j in keep], body_parts=[kinect.body_parts[j] for j in keep])


def script(name):
    """The converter ``dataset_scripts/<name>.py`` as a module (its ``main(argv)`` runs it in-process)."""
    spec = importlib.util.spec_from_file_location(f"dataset_scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ffmpeg(*arguments):
    """Run imageio-ffmpeg's ffmpeg binary (no system ffmpeg needed)."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, arguments)],
                   check=True)


def sample_video_cut(path, start: float, seconds: float):
    """``seconds`` of the sample video (eai_llm.sample_video, cached in the ignored ``outputs/cache``) from
    ``start``, H.264 with its index first, written to ``path``."""
    from eai_llm.sample_video import sample_video

    source = sample_video(Path(__file__).resolve().parents[1] / "outputs" / "cache")
    ffmpeg("-ss", start, "-i", source, "-t", seconds, "-an", "-c:v", "libx264", "-movflags", "+faststart", path)
    return path
