"""Forward kinematics and rotation matrices: the one implementation the BVH reader
(:mod:`eai_llm.motion`) and the synthetic body model (:mod:`eai_llm.synthetic`) share.

A skeleton is a tree given by ``parents`` (``-1`` for the root; a parent may come after its child,
as in Kinect's joint order). Each joint has a local translation (its offset from the parent, in the
parent's frame; the root's is its world position) and a local rotation; world positions follow by
composing them from the root outwards, all frames at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def axis_rotation(axis: str, radians: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` about ``axis`` (``"x"``, ``"y"`` or ``"z"``) by ``radians (...)``
    (right-handed: a positive angle turns the next axis towards the one after it)."""
    radians = np.asarray(radians, dtype=np.float64)
    i = "xyz".index(axis.lower())
    j, k = (i + 1) % 3, (i + 2) % 3
    cos, sin = np.cos(radians), np.sin(radians)
    rotation = np.zeros(radians.shape + (3, 3))
    rotation[..., i, i] = 1.0
    rotation[..., j, j] = rotation[..., k, k] = cos
    rotation[..., j, k], rotation[..., k, j] = -sin, sin
    return rotation


def topological_order(parents: Sequence[int]) -> list[int]:
    """Joint indices ordered so that every parent comes before its children (by depth, then index)."""
    depth = []
    for j in range(len(parents)):
        d, k = 0, j
        while parents[k] >= 0:
            k, d = parents[k], d + 1
        depth.append(d)
    return sorted(range(len(parents)), key=lambda j: (depth[j], j))


def forward_kinematics(parents: Sequence[int], translations: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """World joint positions from local translations and rotations.

    Args:
        parents: ``J`` parent indices, ``-1`` for the root.
        translations: ``(T, J, 3)`` or ``(J, 3)`` (the same every frame) local translations.
        rotations: ``(T, J, 3, 3)`` local rotations.

    Returns:
        ``(T, J, 3)`` float64 positions: ``p_j = p_parent + R_parent @ t_j`` with the world rotation
        ``R_j = R_parent @ r_j``; bone lengths are those of the translations in every frame.
    """
    frames, count = rotations.shape[:2]
    translations = np.broadcast_to(translations, (frames, count, 3))
    world_position = np.empty((frames, count, 3))
    world_rotation = np.empty((frames, count, 3, 3))
    for j in topological_order(parents):
        parent = parents[j]
        if parent < 0:
            world_position[:, j], world_rotation[:, j] = translations[:, j], rotations[:, j]
        else:
            world_position[:, j] = world_position[:, parent] + np.einsum(
                "tij,tj->ti", world_rotation[:, parent], translations[:, j])
            world_rotation[:, j] = world_rotation[:, parent] @ rotations[:, j]
    return world_position
