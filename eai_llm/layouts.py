"""Joint layouts as data: one registry of named skeletons.

A :class:`JointLayout` says which joints a capture system records, in which order, how they
connect (parents, for the GCN graph), which body part each belongs to, and which *canonical*
body joint each one is (``"l_elbow"``, ``"pelvis"``...), so that one layout can be mapped onto
another by meaning rather than by spelling (:func:`joint_mapping`).

``up_axis`` and ``units`` record the convention of the capture system's *source* files (their up
axis and length unit), for provenance; positions in the library are always metres, +Y up. The readers
of the fixed formats (Kinect V2, Xsens MVNX and CSV in :mod:`eai_llm.motion`) take them from their
registered layout to convert; a layout built from a BVH hierarchy records the up axis and units its
first file was read with.

Built-in layouts:

- ``xsens_mvn28``: Xsens MVN as exported for Emilya (23 segments + 5 end points = 28 joints).
- ``xsens_mvn23``: the 23 Xsens MVN segment origins alone (MVN Analyze CSV export, MVNX without points).
- ``kdae24``: KDAE's Perception Neuron skeleton without the hands (72 nodes minus 48 hand nodes).
- ``kinect_v2``: Microsoft Kinect V2, 25 joints in the SDK's ``JointType`` order.

A layout read from any BVH hierarchy is built with :func:`layout_from_hierarchy`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

BODY_PARTS = ("torso", "head", "left_arm", "right_arm", "left_leg", "right_leg")

# Canonical body joints: the shared vocabulary that maps layouts onto each other.
CANONICAL_JOINTS = (
    "pelvis", "spine_lower", "spine_middle", "spine_upper", "neck", "head", "head_top",
    "l_clavicle", "l_shoulder", "l_elbow", "l_wrist", "l_hand", "l_hand_tip", "l_thumb",
    "r_clavicle", "r_shoulder", "r_elbow", "r_wrist", "r_hand", "r_hand_tip", "r_thumb",
    "l_hip", "l_knee", "l_ankle", "l_toe", "l_toe_tip",
    "r_hip", "r_knee", "r_ankle", "r_toe", "r_toe_tip",
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


def _build(name: str, rows: list[tuple[str, str | None, str, str]], up_axis: str, units: str) -> JointLayout:
    """Build a layout from ``(joint, parent joint, canonical, body part)`` rows."""
    names = [r[0] for r in rows]
    return JointLayout(name=name, joint_names=names, parents=[names.index(r[1]) if r[1] else -1 for r in rows],
                       canonical=[r[2] for r in rows], body_parts=[r[3] for r in rows],
                       up_axis=up_axis, units=units)


def _limb_rows(side: str, prefix: str, names: list[str], canonical: list[str], part: str, parent: str):
    rows, previous = [], parent
    for joint, canon in zip(names, canonical):
        rows.append((prefix + joint, previous, f"{side}_{canon}" if canon else "", part))
        previous = prefix + joint
    return rows


def _xsens_mvn28() -> JointLayout:
    rows = [("Pelvis", None, "pelvis", "torso"), ("L5", "Pelvis", "spine_lower", "torso"),
            ("L3", "L5", "", "torso"), ("T12", "L3", "spine_middle", "torso"),
            ("T8", "T12", "spine_upper", "torso"), ("Neck", "T8", "neck", "head"),
            ("Head", "Neck", "head", "head"), ("HeadEnd", "Head", "head_top", "head")]
    # MVN segment order: right arm, left arm, right leg, left leg.
    for side, word in (("r", "Right"), ("l", "Left")):
        rows += _limb_rows(side, word, ["Shoulder", "UpperArm", "ForeArm", "Hand", "HandEnd"],
                           ["clavicle", "shoulder", "elbow", "wrist", "hand_tip"],
                           "right_arm" if side == "r" else "left_arm", "T8")
    for side, word in (("r", "Right"), ("l", "Left")):
        rows += _limb_rows(side, word, ["UpperLeg", "LowerLeg", "Foot", "Toe", "ToeEnd"],
                           ["hip", "knee", "ankle", "toe", "toe_tip"],
                           "right_leg" if side == "r" else "left_leg", "Pelvis")
    return _build("xsens_mvn28", rows, up_axis="z", units="m")


def _xsens_mvn23() -> JointLayout:
    full = _xsens_mvn28()
    keep = [j for j, name in enumerate(full.joint_names) if not name.endswith("End")]
    return JointLayout(name="xsens_mvn23", joint_names=[full.joint_names[j] for j in keep],
                       parents=[keep.index(full.parents[j]) if full.parents[j] >= 0 else -1 for j in keep],
                       canonical=[full.canonical[j] for j in keep], body_parts=[full.body_parts[j] for j in keep],
                       up_axis=full.up_axis, units=full.units)


def _kdae24() -> JointLayout:
    rows = [("Hips", None, "pelvis", "torso")]
    for side, word in (("r", "Right"), ("l", "Left")):
        leg = "right_leg" if side == "r" else "left_leg"
        rows += _limb_rows(side, word, ["UpLeg", "Leg", "Foot", "FootEnd"], ["hip", "knee", "ankle", "toe"],
                           leg, "Hips")
    rows += [("Spine", "Hips", "spine_lower", "torso"), ("Spine1", "Spine", "spine_middle", "torso"),
             ("Spine2", "Spine1", "", "torso"), ("Spine3", "Spine2", "spine_upper", "torso"),
             ("Neck", "Spine3", "neck", "head"), ("Head", "Neck", "head", "head"),
             ("HeadEnd", "Head", "head_top", "head")]
    for side, word in (("r", "Right"), ("l", "Left")):
        arm = "right_arm" if side == "r" else "left_arm"
        rows += _limb_rows(side, word, ["Shoulder", "Arm", "ForeArm", "Hand"],
                           ["clavicle", "shoulder", "elbow", "wrist"], arm, "Spine3")
    return _build("kdae24", rows, up_axis="y", units="cm")


def _kinect_v2() -> JointLayout:
    # Kinect SDK 2.0 JointType order; indices are the SDK's enum values.
    rows = [("SpineBase", None, "pelvis", "torso"), ("SpineMid", "SpineBase", "spine_middle", "torso"),
            ("Neck", "SpineShoulder", "neck", "head"), ("Head", "Neck", "head", "head")]
    for side, word in (("l", "Left"), ("r", "Right")):
        arm = "left_arm" if side == "l" else "right_arm"
        rows += [(f"Shoulder{word}", "SpineShoulder", f"{side}_shoulder", arm),
                 (f"Elbow{word}", f"Shoulder{word}", f"{side}_elbow", arm),
                 (f"Wrist{word}", f"Elbow{word}", f"{side}_wrist", arm),
                 (f"Hand{word}", f"Wrist{word}", f"{side}_hand", arm)]
    for side, word in (("l", "Left"), ("r", "Right")):
        leg = "left_leg" if side == "l" else "right_leg"
        rows += [(f"Hip{word}", "SpineBase", f"{side}_hip", leg), (f"Knee{word}", f"Hip{word}", f"{side}_knee", leg),
                 (f"Ankle{word}", f"Knee{word}", f"{side}_ankle", leg), (f"Foot{word}", f"Ankle{word}", f"{side}_toe", leg)]
    rows.append(("SpineShoulder", "SpineMid", "spine_upper", "torso"))
    for side, word in (("l", "Left"), ("r", "Right")):
        arm = "left_arm" if side == "l" else "right_arm"
        # Bones as the SDK's BodyBasics sample draws them: HandTip from Hand, Thumb from Wrist.
        rows += [(f"HandTip{word}", f"Hand{word}", f"{side}_hand_tip", arm),
                 (f"Thumb{word}", f"Wrist{word}", f"{side}_thumb", arm)]
    return _build("kinect_v2", rows, up_axis="y", units="m")


LAYOUTS: dict[str, JointLayout] = {}


def register_layout(layout: JointLayout) -> JointLayout:
    """Add ``layout`` to the registry. Registering the same definition twice is a no-op; a different
    definition under a taken name raises ``ValueError``."""
    known = LAYOUTS.get(layout.name)
    if known is not None and known != layout:
        raise ValueError(f"layout {layout.name!r}: a different layout is already registered under this name "
                         f"(differing in {known.differing_fields(layout)}), expected the same definition or "
                         "another name")
    LAYOUTS[layout.name] = layout
    return layout


def get_layout(name: str) -> JointLayout:
    if name not in LAYOUTS:
        raise KeyError(f"unknown joint layout {name!r}; registered layouts: {sorted(LAYOUTS)}")
    return LAYOUTS[name]


def joint_mapping(source: JointLayout, target: JointLayout) -> np.ndarray:
    """For each joint of ``target``, the index of the ``source`` joint with the same canonical
    name (or, failing that, the same joint name), else ``-1``. Shape ``(J_target,)`` int64.

    ``positions[:, joint_mapping(src, dst)]`` (after masking ``-1``) re-expresses a motion
    recorded with ``src`` in ``dst``'s joint order, for cross-corpus work.
    """
    by_canonical = {c: i for i, c in enumerate(source.canonical) if c}
    mapping = []
    for name, canon in zip(target.joint_names, target.canonical):
        if canon and canon in by_canonical:
            mapping.append(by_canonical[canon])
        else:
            mapping.append(source._index.get(name, -1))
    return np.asarray(mapping, dtype=np.int64)


_SIDE_PATTERNS = (("l", re.compile(r"(^|[^a-z])(l|left)([^a-z]|$)|^left|left$|^l(?=[A-Z])")),
                  ("r", re.compile(r"(^|[^a-z])(r|right)([^a-z]|$)|^right|right$|^r(?=[A-Z])")))
# (keywords that must all appear in the lower-cased name, canonical stem); first match wins.
_NAME_RULES = (
    (("end",), None), (("toe",), "toe"), (("thumb",), "thumb"), (("tip",), "hand_tip"),
    (("forearm",), "elbow"), (("lowerarm",), "elbow"), (("elbow",), "elbow"),
    (("upperarm",), "shoulder"), (("shoulder",), "clavicle"), (("clavicle",), "clavicle"), (("collar",), "clavicle"),
    (("wrist",), "wrist"), (("hand",), "wrist"), (("arm",), "shoulder"),
    (("upleg",), "hip"), (("upperleg",), "hip"), (("thigh",), "hip"), (("hip",), "hip"),
    (("lowerleg",), "knee"), (("knee",), "knee"), (("shin",), "knee"), (("calf",), "knee"), (("leg",), "knee"),
    (("ankle",), "ankle"), (("foot",), "ankle"),
)


def guess_canonical(joint_name: str) -> tuple[str, str]:
    """Guess ``(canonical name or "", body part)`` from a joint name such as ``"LeftForeArm"``,
    ``"UpperArm_L"`` or ``"mixamorig:RightUpLeg"``. Used for layouts read from BVH files."""
    raw = joint_name.split(":")[-1]
    low = raw.lower().replace("_", "").replace(" ", "")
    side = next((s for s, pattern in _SIDE_PATTERNS if pattern.search(raw.replace("_", " ").lower())
                 or pattern.search(raw)), "")
    if side:
        for keywords, stem in _NAME_RULES:
            if all(k in low for k in keywords):
                if stem is None:
                    break
                is_leg = stem in ("hip", "knee", "ankle", "toe")
                part = ("left_" if side == "l" else "right_") + ("leg" if is_leg else "arm")
                return f"{side}_{stem}", part
        return "", ("left_" if side == "l" else "right_") + ("leg" if "leg" in low or "foot" in low else "arm")
    if low.endswith("end") or "end" in low:
        return ("head_top", "head") if "head" in low else ("", "torso")
    for word, canon, part in (("hips", "pelvis", "torso"), ("pelvis", "pelvis", "torso"), ("root", "", "torso"),
                              ("neck", "neck", "head"), ("head", "head", "head"), ("chest", "spine_upper", "torso"),
                              ("spine", "spine_lower", "torso")):
        if word in low:
            return canon, part
    return "", "torso"


def layout_from_hierarchy(name: str, joint_names: list[str], parents: list[int], up_axis: str = "y",
                          units: str = "cm") -> JointLayout:
    """A layout for a skeleton read from a file (e.g. a BVH hierarchy): canonical names and body parts
    are guessed from the joint names; a canonical name guessed twice is kept for the first joint only
    (e.g. ``Spine`` → ``spine_lower``, ``Spine1`` gets none)."""
    guesses = [guess_canonical(j) for j in joint_names]
    seen, canonical = set(), []
    for canon, _ in guesses:
        canonical.append(canon if canon and canon not in seen else "")
        seen.add(canon)
    return JointLayout(name=name, joint_names=joint_names, parents=parents, canonical=canonical,
                       body_parts=[part for _, part in guesses], up_axis=up_axis, units=units)


for _layout in (_xsens_mvn28(), _xsens_mvn23(), _kdae24(), _kinect_v2()):
    register_layout(_layout)
