"""The body model of the synthetic clips: a layout prepared for rendering (:class:`Rig`) and an
actor's rest pose in it (:func:`rest_offsets`), posed with :func:`eai_llm.kinematics.forward_kinematics`."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..kinematics import forward_kinematics, topological_order
from ..layouts import JointLayout, get_layout
from .qualities import Actor

# Rest (arms-down) position of each canonical joint in units of body height; X = the body's left,
# Y = up, Z = forward; right-side joints mirror X. After Winter's anthropometric proportions.
REST = {
    "pelvis": (0.0, 0.530, 0.0), "spine_lower": (0.0, 0.575, -0.010), "spine_middle": (0.0, 0.655, -0.015),
    "spine_upper": (0.0, 0.735, -0.010), "neck": (0.0, 0.835, -0.005), "head": (0.0, 0.885, 0.010),
    "head_top": (0.0, 1.0, 0.0),
    "clavicle": (0.025, 0.805, 0.0), "shoulder": (0.125, 0.815, -0.010), "elbow": (0.140, 0.630, -0.020),
    "wrist": (0.145, 0.485, 0.0), "hand": (0.145, 0.445, 0.005), "hand_tip": (0.145, 0.380, 0.010),
    "thumb": (0.130, 0.430, 0.030),
    "hip": (0.055, 0.500, 0.0), "knee": (0.060, 0.285, 0.010), "ankle": (0.065, 0.040, -0.005),
    "toe": (0.070, 0.012, 0.100), "toe_tip": (0.070, 0.008, 0.135),
}
# Joints whose canonical meaning sits elsewhere in a given capture system.
_REST_OVERRIDES = {"kinect_v2": {"SpineShoulder": (0.0, 0.800, -0.010), "SpineMid": (0.0, 0.660, -0.015)}}
_FOOT = ("ankle", "toe", "toe_tip")


@dataclass
class Rig:
    """A layout prepared for rendering: roles, traversal order, and which joints are feet.

    Attributes:
        layout: the joint layout.
        order: joint indices, every parent before its children.
        roles: per joint ``(role, side)``: the canonical name without its side prefix (``"root"``,
            ``"spine"``, ``"knee"``...; ``""`` for joints without one) and the side sign, +1 left,
            -1 right, 0 on the midline.
        spine: spine joints with children, root to top.
        feet: the ankle and toe joints.
        root: index of the root joint.
    """

    layout: JointLayout
    order: list[int]
    roles: list[tuple[str, int]]
    spine: list[int]
    feet: list[int]
    root: int


def _stem(canonical: str) -> tuple[str, int]:
    """A canonical name without its ``l_`` / ``r_`` prefix, and the side sign (+1, -1 or 0)."""
    if canonical[:2] in ("l_", "r_"):
        return canonical[2:], (1 if canonical[0] == "l" else -1)
    return canonical, 0


def children(layout: JointLayout, j: int) -> list[int]:
    """Indices of the joints whose parent is ``j``."""
    return [k for k, p in enumerate(layout.parents) if p == j]


@functools.cache
def get_rig(layout_name: str) -> Rig:
    """The :class:`Rig` of a registered layout (cached); ``ValueError`` if it has no foot joints."""
    layout = get_layout(layout_name)
    order = topological_order(layout.parents)
    roles = []
    for canon, part in zip(layout.canonical, layout.body_parts):
        stem, side = _stem(canon)
        if stem == "pelvis":
            roles.append(("root", 0))
        elif stem.startswith("spine") or (not stem and part == "torso"):
            roles.append(("spine", 0))
        elif stem:
            roles.append((stem, side))
        else:
            roles.append(("", side))
    spine = [j for j in order if roles[j][0] == "spine" and children(layout, j)]
    feet = [j for j, (role, _) in enumerate(roles) if role in _FOOT]
    if not feet:
        raise ValueError(f"layout {layout_name!r}: no foot joints (canonical ankle/toe); cannot render")
    return Rig(layout, order, roles, spine, feet, layout.root_index)


def rest_offsets(rig: Rig, actor: Actor) -> np.ndarray:
    """Bone offsets ``(J, 3)`` (child minus parent in the rest pose; zero for the root) for ``actor``,
    scaled so that the standing height (head top over the soles) is the actor's height.

    As the translations of :func:`~eai_llm.kinematics.forward_kinematics` they put the root at the origin.
    """
    layout = rig.layout
    n = layout.num_joints
    pos = np.full((n, 3), np.nan)
    overrides = _REST_OVERRIDES.get(layout.name, {})
    for j, canon in enumerate(layout.canonical):
        stem, side = _stem(canon)
        if layout.joint_names[j] in overrides:
            pos[j] = overrides[layout.joint_names[j]]
        elif stem in REST:
            x, y, z = REST[stem]
            pos[j] = (x if side >= 0 else -x, y, z)
    for j in rig.order:  # joints without a canonical position: between parent and child
        if np.isnan(pos[j, 0]):
            parent = layout.parents[j]
            known = [k for k in children(layout, j) if not np.isnan(pos[k, 0])]
            base = pos[parent] if parent >= 0 else np.zeros(3)
            pos[j] = (base + pos[known[0]]) / 2 if known else base + (0.0, 0.04, 0.0)
    offsets = np.zeros((n, 3))
    leg, arm, trunk, width = actor.proportions
    for j in range(n):
        parent = layout.parents[j]
        if parent < 0:
            continue
        offsets[j] = pos[j] - pos[parent]
        role = rig.roles[j][0]
        part = layout.body_parts[j]
        if role in ("hip", "clavicle", "shoulder"):
            offsets[j][0] *= width
        elif part.endswith("leg"):
            offsets[j] *= leg
        elif part.endswith("arm"):
            offsets[j] *= arm
        else:
            offsets[j] *= trunk
    rest = forward_kinematics(layout.parents, offsets, np.broadcast_to(np.eye(3), (1, n, 3, 3)))[0]
    top = int(np.argmax(rest[:, 1]))
    sole = min(rest[j, 1] - REST[rig.roles[j][0]][1] for j in rig.feet)
    # The top joint may sit below the crown (Kinect's Head): extend by its nominal share of height.
    fraction = REST.get(rig.roles[top][0], (0.0, 1.0))[1]
    return offsets * (actor.height * fraction / (rest[top, 1] - sole))
