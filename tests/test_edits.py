"""Counterfactual edits (eai_llm/edits.py) on synthetic clips at 120 and 30 fps: each moves its descriptor
the stated way by a clear margin and leaves chosen unrelated descriptors within stated tolerances; the
input is never modified; bad input is refused with a message naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from test_descriptors import without

from eai_llm.descriptors import DESCRIPTORS, describe_motion
from eai_llm.edits import EDITS, add_tremor, insert_pauses, pitch_head, scale_amplitude, time_stretch
from eai_llm.layouts import get_layout
from eai_llm.synthetic import generate_clips

POSTURE = ("head_pitch", "trunk_lean", "slump")  # degrees
# Amounts the table-driven tests use: each a clear but plausible change.
AMOUNTS = {"time_stretch": 1.5, "scale_amplitude": 1.4, "pitch_head": 20.0, "add_tremor": 0.015, "insert_pauses": 2}
EXACT = (1e-9, 1e-6)  # (relative, absolute): for descriptors whose joints an edit does not move at all


@pytest.fixture(scope="module")
def clips():
    """Four clips: travelling and in place, slow and fast, smooth and jerky, Xsens at 120 fps and Kinect
    (with sensor jitter) at 30 fps."""
    settings = (("emilya", "walk", "sadness"), ("emilya", "knock", "anger"), ("egbm", "walk", "happiness"),
                ("egbm", "gesture", "fear"))
    return [generate_clips(corpus, 1, seed=1, actions=[action], labels=[label])[0]
            for corpus, action, label in settings]


def descriptors_before_and_after(clip, edit, *args) -> tuple[dict, dict]:
    """Descriptors of ``clip`` and of ``edit(clip, *args)``."""
    layout = get_layout(clip.layout)
    positions, fps = edit(clip.positions, clip.fps, layout, *args)
    return describe_motion(clip.positions, clip.fps, layout), describe_motion(positions, fps, layout)


def assert_kept(before: dict, after: dict, tolerances: dict, where: str):
    """Each descriptor of ``tolerances`` ``{name: (relative, absolute)}`` agrees before and after."""
    for name, (rel, atol) in tolerances.items():
        assert after[name] == pytest.approx(before[name], rel=rel, abs=atol), f"{name} changed, {where}"


def test_the_table_names_descriptors_and_directions_that_hold(clips):
    assert set(EDITS) == set(AMOUNTS)
    for name, (edit, descriptor, direction) in EDITS.items():
        assert descriptor in DESCRIPTORS and direction in (-1, 1)
        for clip in clips:
            before, after = descriptors_before_and_after(clip, edit, AMOUNTS[name])
            assert direction * (after[descriptor] - before[descriptor]) > 0, f"{name} on {clip.action} at {clip.fps}"


@pytest.mark.parametrize("name", list(EDITS))
def test_edits_keep_the_input_and_return_finite_positions_of_the_expected_shape(clips, name):
    clip = clips[0]
    original = clip.positions.copy()
    positions, fps = EDITS[name].function(clip.positions, clip.fps, get_layout(clip.layout), AMOUNTS[name])
    frames = len(original)
    expected = {"time_stretch": round(frames * 1.5), "insert_pauses": frames + 2 * round(0.75 * clip.fps)}
    assert positions.shape == (expected.get(name, frames),) + original.shape[1:]
    assert fps == clip.fps and np.isfinite(positions).all()
    assert np.array_equal(clip.positions, original)


def test_time_stretch_changes_the_tempo_and_keeps_the_poses(clips):
    # Resampling by interpolation between neighbouring frames only averages close poses, so means over
    # frames of angles and distances stay: within 0.2 degrees (measured up to 0.05) and 1 % for
    # expansiveness (measured 0.3 %). arm_swing is a spread over frames, and averaging neighbouring frames
    # of the 30 fps clips averages their sensor jitter too: within 0.002 body heights (measured 0.0007).
    kept = {name: (0.0, 0.2) for name in POSTURE} | {"expansiveness": (0.01, 0.0), "arm_swing": (0.0, 0.002)}
    for clip in clips:
        before, slower = descriptors_before_and_after(clip, time_stretch, 1.5)
        _, faster = descriptors_before_and_after(clip, time_stretch, 0.7)
        where = f"{clip.action} at {clip.fps} fps"
        # Ideally speeds scale by 1 / factor (0.67 at 1.5, 1.43 at 0.7), accelerations by 1 / factor**2
        # (0.44). The descriptors' derivative window (+-0.2 s) smooths out what is faster than it (tremor,
        # twitches, Kinect jitter), and that part slows less: measured speed x0.67-0.80 and x1.15-1.41,
        # acceleration x0.54-0.76. Required: at least 15 % slower, 10 % faster.
        assert slower["extremity_speed"] < 0.85 * before["extremity_speed"], where
        assert slower["extremity_acceleration"] < 0.85 * before["extremity_acceleration"], where
        assert faster["extremity_speed"] > 1.1 * before["extremity_speed"], where
        assert_kept(before, slower, kept, where)
        assert_kept(before, faster, kept, where)


def test_scale_amplitude_widens_the_movement_and_keeps_torso_root_and_floor(clips):
    for clip in clips:
        layout = get_layout(clip.layout)
        wider, _ = scale_amplitude(clip.positions, clip.fps, layout, 1.4)
        before, after = descriptors_before_and_after(clip, scale_amplitude, 1.4)
        _, smaller = descriptors_before_and_after(clip, scale_amplitude, 0.7)
        where = f"{clip.action} at {clip.fps} fps"
        # Limb ends reach 1.4 (0.7) times as far from the pelvis; only the longer (shorter) leg bones,
        # which raise (lower) the body height H by a few percent, take some of that back.
        assert after["expansiveness"] > 1.3 * before["expansiveness"], where
        assert smaller["expansiveness"] < 0.75 * before["expansiveness"], where
        # Torso and head are not moved and the facing direction keeps its heading: the angles are exact.
        # root_speed and head_height are in body heights, which change with the leg bones: measured up
        # to 3.4 %, allowed 5 %.
        assert_kept(before, after, {name: EXACT for name in POSTURE}
                    | {"root_speed": (0.05, 0.0), "head_height": (0.05, 0.0)}, where)
        root = layout.root_index
        assert np.array_equal(wider[:, root], clip.positions[:, root].astype(np.float64))
        assert (wider[:, :, 1] >= clip.positions[:, :, 1].min(axis=1, keepdims=True)).all()


def test_pitch_head_turns_the_head_by_the_angle_and_nothing_else(clips):
    # Only the head and the joints below it move, about the neck, keeping the neck-head distance that
    # enters the body height: every descriptor that does not read the head is unchanged to rounding.
    kept = {name: EXACT for name in ("root_speed", "trunk_lean", "slump", "expansiveness", "arm_swing", "tremor")}
    for clip in clips:
        for degrees in (20.0, -20.0):
            before, after = descriptors_before_and_after(clip, pitch_head, degrees)
            where = f"{degrees} degrees, {clip.action} at {clip.fps} fps"
            assert after["head_pitch"] - before["head_pitch"] == pytest.approx(degrees, abs=1e-6), where
            assert_kept(before, after, kept, where)


def test_add_tremor_makes_the_wrists_tremble_and_keeps_posture_and_reach(clips):
    # The oscillation is vertical and only on the wrists and hands, which the body height does not use:
    # horizontal reach, arm swing, travel and posture are unchanged to rounding.
    kept = {name: EXACT for name in POSTURE + ("expansiveness", "arm_swing", "root_speed")}
    for clip in clips:
        before, after = descriptors_before_and_after(clip, add_tremor, 0.015, 8.0)
        where = f"{clip.action} at {clip.fps} fps"
        # A 1.5 cm, 8 Hz tremor alone reads about 0.3 H/s; it adds in quadrature to the 0.1-0.4 H/s these
        # clips already read (motion harmonics, Kinect jitter), so at least +0.05 H/s (measured +0.10 to +0.26).
        assert after["tremor"] > before["tremor"] + 0.05, where
        assert_kept(before, after, kept, where)


def test_insert_pauses_adds_still_frames_and_keeps_posture(clips):
    # A hold gives one pose the weight of 0.75 s of the clip, so the means over frames of the posture
    # angles move by that share of the pose's distance from the mean: measured up to 0.7 degrees and
    # 3.1 % for expansiveness here (1.9 degrees and 3.3 % on other clips), allowed 3 degrees and 5 %.
    kept = {name: (0.0, 3.0) for name in POSTURE} | {"expansiveness": (0.05, 0.0)}
    for clip in clips:
        before, after = descriptors_before_and_after(clip, insert_pauses, 2, 0.75)
        where = f"{clip.action} at {clip.fps} fps"
        # Two 0.75 s holds in a 2-4.5 s clip: about 0.7 s of still frames (measured +0.25 to +0.40).
        assert after["pauses"] > before["pauses"] + 0.15, where
        assert_kept(before, after, kept, where)


def bad_calls(clip):
    """``(call, pattern the ValueError message must match)`` for bad input to the edits."""
    x, fps, layout = clip.positions, clip.fps, get_layout(clip.layout)
    holed = x.copy()
    holed[3, 2, 1] = np.nan
    headless = without(layout, {"head"})
    handless = without(layout, {"l_wrist"})
    return [
        (lambda: time_stretch(holed, fps, layout, 1.5), "positions hold 1 NaN"),
        (lambda: time_stretch(x[:, :-1], fps, layout, 1.5), "positions have shape"),
        (lambda: time_stretch(x, float("nan"), layout, 1.5), "fps is nan"),
        (lambda: time_stretch(x, 0.0, layout, 1.5), "fps is 0.0"),
        (lambda: time_stretch(x, fps, layout, 0.0), "factor is 0.0"),
        (lambda: time_stretch(x, fps, layout, -2.0), "factor is -2.0"),
        (lambda: time_stretch(x, fps, layout, float("inf")), "factor is inf"),
        (lambda: time_stretch(x, fps, layout, 1e6), "factor is 1000000.0, which makes"),
        (lambda: time_stretch(x[:1], fps, layout, 1.5), "positions have 1 frames"),
        (lambda: scale_amplitude(x, fps, layout, 0.0), "factor is 0.0"),
        (lambda: scale_amplitude(x, fps, layout, float("nan")), "factor is nan"),
        (lambda: pitch_head(x, fps, layout, 0.0), "degrees is 0.0"),
        (lambda: pitch_head(x, fps, layout, 120.0), "degrees is 120.0"),
        (lambda: pitch_head(x, fps, layout, float("nan")), "degrees is nan"),
        (lambda: pitch_head(x, fps, headless, 20.0), rf"layout '{headless.name}' lacks .* \['head'\]"),
        (lambda: pitch_head(np.zeros_like(x), fps, layout, 20.0), "positions have frames where l_hip and r_hip"),
        (lambda: add_tremor(x, fps, layout, 0.0), "amplitude_m is 0.0"),
        (lambda: add_tremor(x, fps, layout, float("inf")), "amplitude_m is inf"),
        (lambda: add_tremor(x, fps, layout, 0.01, 2.0), "hz is 2.0"),
        (lambda: add_tremor(x, 15.0, layout, 0.01, 8.0), "fps is 15.0, expected above 16.0"),
        (lambda: add_tremor(x[:3], fps, layout, 0.01, 4.0), "positions have 3 frames"),
        (lambda: add_tremor(x, fps, handless, 0.01), rf"layout '{handless.name}' lacks .* \['l_wrist'\]"),
        (lambda: insert_pauses(x, fps, layout, 0), "count is 0"),
        (lambda: insert_pauses(x, fps, layout, 1.5), "count is 1.5"),
        (lambda: insert_pauses(x, fps, layout, float("nan")), "count is nan"),
        (lambda: insert_pauses(x[:2], fps, layout, 3), "count is 3, expected at most 1"),
        (lambda: insert_pauses(x, fps, layout, 1, 0.0), "seconds is 0.0"),
        (lambda: insert_pauses(x, fps, layout, 1, 1e-4), "seconds is 0.0001, expected at least one frame"),
    ]


def test_bad_input_is_refused_naming_the_argument(clips):
    for call, pattern in bad_calls(clips[0]):
        with pytest.raises(ValueError, match=pattern):
            call()
