"""The joint layout: what a capture system records, as data (no registry, no I/O).

A :class:`JointLayout` says which joints a skeleton has, in which order, how they connect (parents,
for the GCN graph), which body part each belongs to, and which *canonical* body joint each one is
(``"l_elbow"``, ``"pelvis"``...), so that one layout can be mapped onto another by meaning rather than
by spelling (:func:`joint_mapping`). ``up_axis`` and ``units`` record the convention of the source
files (their up axis and length unit); positions in the library are always metres, +Y up.

Models carry their layouts as ``JointLayout.to_dict()`` dicts in their config and processor files and
rebuild them with :meth:`JointLayout.from_dict`; the named built-in layouts and the guessing of
canonical names from BVH joint names live in the data layer (:mod:`eai_llm.layouts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BODY_PARTS = ("torso", "head", "left_arm", "right_arm", "left_leg", "right_leg")

# Canonical body joints: the shared vocabulary that maps layouts onto each other.
CANONICAL_JOINTS = (
    "pelvis", "spine_lower", "spine_middle", "spine_upper", "neck", "head", "head_top", "l_eye", "r_eye",
    "l_ear", "r_ear",
    "l_clavicle", "l_shoulder", "l_elbow", "l_wrist", "l_hand", "l_hand_tip", "l_thumb", "l_pinky",
    "r_clavicle", "r_shoulder", "r_elbow", "r_wrist", "r_hand", "r_hand_tip", "r_thumb", "r_pinky",
    "l_hip", "l_knee", "l_ankle", "l_heel", "l_toe", "l_toe_tip",
    "r_hip", "r_knee", "r_ankle", "r_heel", "r_toe", "r_toe_tip",
)


@dataclass
class JointLayout:
    """A named skeleton.

    Args:
        name: registry key, e.g. ``"kinect_v2"``.
        joint_names: ``J`` joint names in the order the positions ``(T, J, 3)`` use.
        parents: ``J`` parent indices, ``-1`` for the root (exactly one).
        canonical: ``J`` canonical joint names from :data:`CANONICAL_JOINTS`, or ``""`` where a
            joint has no counterpart in other systems (e.g. Xsens ``L3``).
        body_parts: ``J`` body-part names from :data:`BODY_PARTS`.
        up_axis: up axis of the source files, ``"y"`` or ``"z"`` (see the module docstring).
        units: length unit of the source files, ``"m"``, ``"cm"`` or ``"mm"``.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    canonical: tuple[str, ...]
    body_parts: tuple[str, ...]
    up_axis: str = "y"
    units: str = "m"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self.joint_names = tuple(self.joint_names)
        self.parents = tuple(int(p) for p in self.parents)
        self.canonical = tuple(self.canonical)
        self.body_parts = tuple(self.body_parts)
        where = f"layout {self.name!r}"
        n = len(self.joint_names)
        for field_name in ("parents", "canonical", "body_parts"):
            if len(getattr(self, field_name)) != n:
                raise ValueError(f"{where}: field '{field_name}' has {len(getattr(self, field_name))} "
                                 f"entries, expected one per joint ({n})")
        if len(set(self.joint_names)) != n:
            raise ValueError(f"{where}: field 'joint_names' has duplicates")
        if [p for p in self.parents if p == -1] != [-1]:
            raise ValueError(f"{where}: field 'parents' must hold exactly one root (-1)")
        for j, p in enumerate(self.parents):
            if not -1 <= p < n or p == j:
                raise ValueError(f"{where}: field 'parents' has {p} at joint {j}, expected -1 or 0..{n - 1}")
        for j in range(n):  # every joint must reach the root: no cycles
            steps, k = 0, j
            while self.parents[k] != -1 and steps <= n:
                k, steps = self.parents[k], steps + 1
            if steps > n:
                raise ValueError(f"{where}: field 'parents' has a cycle through joint {self.joint_names[j]!r}")
        bad = sorted({c for c in self.canonical if c and c not in CANONICAL_JOINTS})
        if bad:
            raise ValueError(f"{where}: field 'canonical' has unknown names {bad}")
        used = [c for c in self.canonical if c]
        if len(used) != len(set(used)):
            raise ValueError(f"{where}: field 'canonical' names a canonical joint twice")
        bad = sorted(set(self.body_parts) - set(BODY_PARTS))
        if bad:
            raise ValueError(f"{where}: field 'body_parts' has unknown parts {bad}, expected {BODY_PARTS}")
        if self.up_axis not in ("y", "z"):
            raise ValueError(f"{where}: field 'up_axis' is {self.up_axis!r}, expected 'y' or 'z'")
        if self.units not in UNIT_SCALE:
            raise ValueError(f"{where}: field 'units' is {self.units!r}, expected one of {list(UNIT_SCALE)}")
        self._index = {name: i for i, name in enumerate(self.joint_names)}

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def root_index(self) -> int:
        return self.parents.index(-1)

    @property
    def edges(self) -> list[tuple[int, int]]:
        """``(child, parent)`` index pairs, one per bone."""
        return [(j, p) for j, p in enumerate(self.parents) if p >= 0]

    def index(self, joint_name: str) -> int:
        if joint_name not in self._index:
            raise KeyError(f"layout {self.name!r} has no joint {joint_name!r}; joints: {list(self.joint_names)}")
        return self._index[joint_name]

    @property
    def canonical_index(self) -> dict[str, int]:
        """``{canonical name: joint index}`` for the joints that have a canonical name."""
        return {name: j for j, name in enumerate(self.canonical) if name}

    def mirror_order(self) -> list[int] | None:
        """Joint order of the mirror image: every ``l_*`` joint's index swapped with its canonical ``r_*``
        partner's. ``None`` when the layout cannot be mirrored: a sided joint without its partner, or a
        joint of a left or right body part without a canonical name (its partner is unknown)."""
        index = self.canonical_index
        order = []
        for j, (name, part) in enumerate(zip(self.canonical, self.body_parts)):
            if name[:2] in ("l_", "r_"):
                partner = index.get({"l_": "r_", "r_": "l_"}[name[:2]] + name[2:])
                if partner is None:
                    return None
                order.append(partner)
            elif name or part in ("torso", "head"):
                order.append(j)
            else:
                return None
        return order

    def adjacency(self) -> np.ndarray:
        """Symmetric bone adjacency without self loops, ``(J, J)`` float32."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for child, parent in self.edges:
            a[child, parent] = a[parent, child] = 1.0
        return a

    def differing_fields(self, other: JointLayout) -> list[str]:
        """The names of the fields (name excepted) in which ``other`` differs from this layout."""
        return [f for f in ("joint_names", "parents", "canonical", "body_parts", "up_axis", "units")
                if getattr(self, f) != getattr(other, f)]

    def to_dict(self) -> dict:
        return {"name": self.name, "joint_names": list(self.joint_names), "parents": list(self.parents),
                "canonical": list(self.canonical), "body_parts": list(self.body_parts),
                "up_axis": self.up_axis, "units": self.units}

    @classmethod
    def from_dict(cls, data: dict) -> JointLayout:
        expected = {"name", "joint_names", "parents", "canonical", "body_parts", "up_axis", "units"}
        if set(data) != expected:
            raise ValueError(f"layout dict has fields {sorted(data)}, expected {sorted(expected)}")
        return cls(**data)


UNIT_SCALE = {"m": 1.0, "cm": 0.01, "mm": 0.001}


def joint_mapping(source: JointLayout, target: JointLayout) -> np.ndarray:
    """For each joint of ``target``, the index of the ``source`` joint with the same canonical
    name (or, failing that, the same joint name), else ``-1``. Shape ``(J_target,)`` int64.

    ``positions[:, joint_mapping(src, dst)]`` (after masking ``-1``) re-expresses a motion
    recorded with ``src`` in ``dst``'s joint order, for cross-corpus work.
    """
    by_canonical = source.canonical_index
    mapping = []
    for name, canon in zip(target.joint_names, target.canonical):
        if canon and canon in by_canonical:
            mapping.append(by_canonical[canon])
        else:
            mapping.append(source._index.get(name, -1))
    return np.asarray(mapping, dtype=np.int64)


# The joints a motion must bring to be mapped onto another layout by canonical names: the limbs and the pelvis,
# where the target has them (placing these from neighbours would invent the movement itself).
CORE_JOINTS = ("pelvis", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
               "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle")


def map_positions(positions: np.ndarray, source: JointLayout, target: JointLayout) -> tuple[np.ndarray, list[str]]:
    """``positions (T, J_source, 3)`` re-expressed in ``target``'s joints ``(T, J_target, 3)``: each target joint
    takes its :func:`joint_mapping` counterpart; one the source lacks is placed at the mean of its bone
    neighbours in ``target`` (parent and children) already placed, the joint with the most placed neighbours
    first, until every joint is placed. So a spine joint between a mapped pelvis and neck lands between them,
    and a hand tip beyond a mapped wrist lands on the wrist (a bone of length 0).

    Returns the positions and the names of the target joints placed from neighbours. Raises ``ValueError``
    naming the :data:`CORE_JOINTS` of ``target`` that ``source`` lacks, or when no joint maps at all.
    """
    mapping = joint_mapping(source, target)
    if (mapping < 0).all():
        raise ValueError(f"layout {source.name!r} shares no joint with layout {target.name!r}, by canonical name or "
                         "by joint name, expected some to map onto it")
    lacking = [name for name, j in zip(target.canonical, mapping) if name in CORE_JOINTS and j < 0]
    if lacking:
        raise ValueError(f"layout {source.name!r} lacks the joints {lacking} of layout {target.name!r}, expected "
                         f"every one of its {[c for c in target.canonical if c in CORE_JOINTS]} to map onto it")
    mapped = np.zeros((len(positions), target.num_joints, 3), dtype=positions.dtype)
    mapped[:, mapping >= 0] = positions[:, mapping[mapping >= 0]]
    placed = mapping >= 0
    neighbours = [[p for p in (target.parents[j],) if p >= 0] + [c for c, p in enumerate(target.parents) if p == j]
                  for j in range(target.num_joints)]
    while not placed.all():
        counts = [sum(placed[n] for n in neighbours[j]) if not placed[j] else -1 for j in range(target.num_joints)]
        j = int(np.argmax(counts))  # a tree with one placed joint always has an unplaced joint next to a placed one
        mapped[:, j] = mapped[:, [n for n in neighbours[j] if placed[n]]].mean(axis=1)
        placed[j] = True
    return mapped, [target.joint_names[j] for j in np.flatnonzero(mapping < 0)]
