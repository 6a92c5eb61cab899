"""The built-in joint layouts and the layout registry: the data layer's names for skeletons.

Readers and converters (:mod:`eai_llm.motion`, :mod:`eai_llm.corpus`, ``dataset_scripts/``) name
layouts; a corpus records the layouts it uses in its ``layouts.json`` and :func:`~eai_llm.corpus.load_corpus`
registers them. Models never look names up here: their config and processor files carry the full
layout definitions (:class:`~eai_llm.joint_layout.JointLayout`).

The readers of the fixed formats (Kinect V2, Xsens MVNX and CSV) take the source's up axis and units
from their registered layout; a layout built from a BVH hierarchy (:func:`layout_from_hierarchy`,
canonical names guessed from the joint names) records the up axis and units its first file was read with.

Built-in layouts:

- ``xsens_mvn28``: Xsens MVN as exported for Emilya (23 segments + 5 end points = 28 joints).
- ``xsens_mvn23``: the 23 Xsens MVN segment origins alone (MVN Analyze CSV export, MVNX without points).
- ``kdae24``: KDAE's Perception Neuron skeleton without the hands (72 nodes minus 48 hand nodes).
- ``kinect_v2``: Microsoft Kinect V2, 25 joints in the SDK's ``JointType`` order.
- ``mediapipe33``: MediaPipe Pose's 33 landmarks in its order (what :func:`~eai_llm.motion.read_video` reads
  from a video), then three midpoints it lacks (:data:`MEDIAPIPE_MIDPOINTS`): pelvis, neck and head, the
  root and trunk that a skeleton tree, the mapping onto other layouts and the movement descriptors need.
"""

from __future__ import annotations

import re

from .joint_layout import JointLayout


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


# MediaPipe Pose landmarks in its order; "left" is the person's left.
MEDIAPIPE_LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index")
# The joints mediapipe33 adds after the landmarks, each the midpoint of two landmarks.
MEDIAPIPE_MIDPOINTS = {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder"),
                       "head": ("left_ear", "right_ear")}


def _mediapipe33() -> JointLayout:
    rows = [("pelvis", None, "pelvis", "torso"), ("neck", "pelvis", "neck", "head"), ("head", "neck", "head", "head")]
    rows += [(name, "head", "", "head") for name in ("nose", "mouth_left", "mouth_right")]
    for side, word in (("l", "left"), ("r", "right")):
        arm, leg = f"{word}_arm", f"{word}_leg"
        rows += [(f"{word}_eye", "nose", f"{side}_eye", "head"), (f"{word}_eye_inner", "nose", "", "head"),
                 (f"{word}_eye_outer", "nose", "", "head"), (f"{word}_ear", "head", f"{side}_ear", "head")]
        rows += [(f"{word}_shoulder", "neck", f"{side}_shoulder", arm),
                 (f"{word}_elbow", f"{word}_shoulder", f"{side}_elbow", arm),
                 (f"{word}_wrist", f"{word}_elbow", f"{side}_wrist", arm),
                 (f"{word}_pinky", f"{word}_wrist", f"{side}_pinky", arm),
                 (f"{word}_index", f"{word}_wrist", f"{side}_hand", arm),  # the index knuckle, at the hand's end
                 (f"{word}_thumb", f"{word}_wrist", f"{side}_thumb", arm),
                 (f"{word}_hip", "pelvis", f"{side}_hip", leg), (f"{word}_knee", f"{word}_hip", f"{side}_knee", leg),
                 (f"{word}_ankle", f"{word}_knee", f"{side}_ankle", leg),
                 (f"{word}_heel", f"{word}_ankle", f"{side}_heel", leg),
                 (f"{word}_foot_index", f"{word}_ankle", f"{side}_toe", leg)]
    by_name = {row[0]: row for row in rows}
    ordered = [by_name[name] for name in (*MEDIAPIPE_LANDMARKS, *MEDIAPIPE_MIDPOINTS)]
    return _build("mediapipe33", ordered, up_axis="y", units="m")


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


for _layout in (_xsens_mvn28(), _xsens_mvn23(), _kdae24(), _kinect_v2(), _mediapipe33()):
    register_layout(_layout)
