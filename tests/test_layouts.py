import numpy as np
import pytest

from eai_llm.joint_layout import JointLayout, joint_mapping
from eai_llm.layouts import LAYOUTS, get_layout, guess_canonical, layout_from_hierarchy, register_layout


@pytest.mark.parametrize("name, joints", [("xsens_mvn28", 28), ("xsens_mvn23", 23), ("kdae24", 24), ("kinect_v2", 25),
                                         ("mediapipe33", 36)])
def test_builtin_layouts_are_trees_of_the_documented_size(name, joints):
    layout = get_layout(name)
    assert layout.num_joints == joints
    assert len(layout.edges) == joints - 1
    adjacency = layout.adjacency()
    assert adjacency.shape == (joints, joints)
    np.testing.assert_array_equal(adjacency, adjacency.T)
    assert adjacency.sum() == 2 * (joints - 1)
    assert set(layout.body_parts) == {"torso", "head", "left_arm", "right_arm", "left_leg", "right_leg"}


def test_kinect_v2_follows_the_sdk_joint_type_order():
    # Values of the Kinect for Windows SDK 2.0 JointType enum.
    kinect = get_layout("kinect_v2")
    sdk = {"SpineBase": 0, "SpineMid": 1, "Neck": 2, "Head": 3, "ShoulderLeft": 4, "HandLeft": 7,
           "ShoulderRight": 8, "HandRight": 11, "HipLeft": 12, "FootLeft": 15, "HipRight": 16, "FootRight": 19,
           "SpineShoulder": 20, "HandTipLeft": 21, "ThumbLeft": 22, "HandTipRight": 23, "ThumbRight": 24}
    for joint, index in sdk.items():
        assert kinect.index(joint) == index
    # Bones as the SDK's BodyBasics sample draws them: the thumb hangs from the wrist, the tip from the hand.
    parent = {name: kinect.joint_names[p] for name, p in zip(kinect.joint_names, kinect.parents) if p >= 0}
    assert parent["Neck"] == "SpineShoulder"
    for side in ("Left", "Right"):
        assert parent[f"Thumb{side}"] == f"Wrist{side}" and parent[f"HandTip{side}"] == f"Hand{side}"


def test_joint_mapping_matches_joints_by_meaning_across_layouts():
    kinect, xsens = get_layout("kinect_v2"), get_layout("xsens_mvn28")
    mapping = joint_mapping(kinect, xsens)
    assert mapping.shape == (28,)
    pairs = {"Pelvis": "SpineBase", "LeftForeArm": "ElbowLeft", "RightHand": "WristRight",
             "LeftLowerLeg": "KneeLeft", "Head": "Head", "T8": "SpineShoulder", "RightHandEnd": "HandTipRight"}
    for xsens_joint, kinect_joint in pairs.items():
        assert mapping[xsens.index(xsens_joint)] == kinect.index(kinect_joint)
    assert mapping[xsens.index("L3")] == -1  # no Kinect counterpart
    # Re-expressing a Kinect motion in Xsens order moves the elbow's trajectory to Xsens' elbow slot.
    motion = np.random.default_rng(0).normal(size=(5, 25, 3))
    mapped = motion[:, np.where(mapping >= 0, mapping, 0)]
    np.testing.assert_array_equal(mapped[:, xsens.index("LeftForeArm")], motion[:, kinect.index("ElbowLeft")])


@pytest.mark.parametrize("name, canonical, part", [
    ("UpperArm_L", "l_shoulder", "left_arm"), ("LowerArm_R", "r_elbow", "right_arm"), ("Toes_R", "r_toe", "right_leg"),
    ("mixamorig:LeftForeArm", "l_elbow", "left_arm"), ("RightUpLeg", "r_hip", "right_leg"),
    ("LeftShoulder", "l_clavicle", "left_arm"), ("Hips", "pelvis", "torso"), ("Head", "head", "head"),
    ("LeftFoot", "l_ankle", "left_leg"), ("Chest", "spine_upper", "torso"),
])
def test_canonical_names_are_guessed_from_common_bvh_naming_schemes(name, canonical, part):
    assert guess_canonical(name) == (canonical, part)


def test_layout_from_hierarchy_keeps_a_guessed_canonical_name_once():
    layout = layout_from_hierarchy("test_spine_chain", ["Hips", "Spine", "Spine1", "Neck", "Head"], [-1, 0, 1, 2, 3])
    assert layout.canonical == ("pelvis", "spine_lower", "", "neck", "head")


def test_dict_round_trip_and_registry_rules():
    layout = layout_from_hierarchy("test_round_trip", ["Hips", "LeftUpLeg", "RightUpLeg"], [-1, 0, 0])
    assert JointLayout.from_dict(layout.to_dict()) == layout
    register_layout(layout)
    register_layout(JointLayout.from_dict(layout.to_dict()))  # the same definition again is fine
    other = layout_from_hierarchy("test_round_trip", ["Hips", "LeftUpLeg"], [-1, 0])
    with pytest.raises(ValueError, match="layout 'test_round_trip': a different layout is already registered"):
        register_layout(other)
    del LAYOUTS["test_round_trip"]


def test_unknown_layout_names_the_registered_ones():
    with pytest.raises(KeyError, match="unknown joint layout 'kinect_v3'.*kinect_v2"):
        get_layout("kinect_v3")


@pytest.mark.parametrize("parents, message", [
    ([-1, -1, 0], "exactly one root"),
    ([-1, 2, 1], "cycle"),
    ([-1, 0, 7], "expected -1 or 0..2"),
    ([-1, 0], "'parents' has 2 entries, expected one per joint"),
])
def test_malformed_layouts_are_rejected_with_the_field_named(parents, message):
    with pytest.raises(ValueError, match=message):
        JointLayout("bad", ["a", "b", "c"], parents, ["", "", ""], ["torso"] * 3)


def test_layout_dict_with_missing_fields_is_rejected():
    data = get_layout("kdae24").to_dict()
    del data["parents"]
    with pytest.raises(ValueError, match="expected"):
        JointLayout.from_dict(data)


def test_mirror_order_swaps_left_and_right_partners_and_refuses_an_unpaired_sided_joint():
    kinect = get_layout("kinect_v2")
    order = kinect.mirror_order()
    for name, partner in (("l_wrist", "r_wrist"), ("r_ankle", "l_ankle"), ("head", "head"), ("pelvis", "pelvis")):
        assert order[kinect.canonical.index(name)] == kinect.canonical.index(partner)
    assert sorted(order) == list(range(kinect.num_joints))
    one_hand = JointLayout("test_one_hand", ("Hips", "Chest", "HandL"), (-1, 0, 1), ("pelvis", "spine_upper", "l_wrist"),
                           ("torso", "torso", "left_arm"))
    assert one_hand.mirror_order() is None  # l_wrist without r_wrist
    finger = JointLayout("test_finger", ("Hips", "HandL", "HandR", "FingerL"), (-1, 0, 0, 1),
                         ("pelvis", "l_wrist", "r_wrist", ""), ("torso", "left_arm", "right_arm", "left_arm"))
    assert finger.mirror_order() is None  # a left-arm joint without a canonical name: its partner is unknown
    spine = JointLayout("test_spine", ("Hips", "Spine2", "HandL", "HandR"), (-1, 0, 1, 1),
                        ("pelvis", "", "l_wrist", "r_wrist"), ("torso", "torso", "left_arm", "right_arm"))
    assert spine.mirror_order() == [0, 1, 3, 2]  # an unnamed torso joint stays where it is
