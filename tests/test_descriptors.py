"""Movement descriptors (eai_llm/descriptors.py) on synthetic clips: each follows the latent quality
it describes, none changes under a translation, a turn about the vertical, a change of body size or
(within stated tolerances) of frame rate, and bad input leaves descriptors out or is refused."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from eai_llm.descriptors import DESCRIPTORS, describe_motion, descriptor_matrix, missing_joints
from eai_llm.joint_layout import CANONICAL_JOINTS, JointLayout
from eai_llm.layouts import get_layout
from eai_llm.synthetic import LATENT_NAMES, generate_clips
from eai_llm.synthetic.actions import render
from eai_llm.synthetic.qualities import EMOTION_QUALITIES, Actor, get_corpus

ACTOR = Actor("sweep", 1.75, np.ones(4), np.zeros(len(LATENT_NAMES)))
SETTINGS = (("emilya", "walk"), ("kdae", "gesture"), ("egbm", "walk"))  # three layouts, 120 / 125 / 30 fps
SEEDS = 3  # renders averaged per sweep point (pauses, bursts and twitches are random)
MIN_SPEARMAN = 0.8
# (descriptor, latent it follows, sweep range of the latent, direction)
SWEEPS = (
    ("root_speed", "tempo", (0.5, 1.9), +1),
    ("extremity_speed", "tempo", (0.5, 1.9), +1),
    ("extremity_acceleration", "tempo", (0.5, 1.9), +1),
    ("extremity_jerk", "jerkiness", (0.0, 1.0), +1),
    ("expansiveness", "amplitude", (0.5, 1.7), +1),
    ("expansiveness_change", "amplitude", (0.5, 1.7), +1),
    ("head_height", "trunk_lean", (0.0, 30.0), -1),
    ("head_pitch", "head_pitch", (-30.0, 55.0), +1),
    ("trunk_lean", "trunk_lean", (-20.0, 30.0), +1),
    ("slump", "slump", (-1.0, 1.0), +1),
    ("arm_swing", "arm_swing", (0.1, 2.2), +1),
    ("tremor", "tremor", (0.0, 4.0), +1),
    ("pauses", "hesitation", (0.0, 1.0), +1),
    ("periodicity", "hesitation", (0.0, 1.0), -1),
)
# 120 fps vs every 4th frame (30 fps): (relative, absolute) tolerance per descriptor; the others agree
# within 3 % + 0.01 (degrees for angles). pauses and periodicity step with a threshold or a peak's
# choice, so 90 % of clips must agree there.
RATE_TOLERANCE = {"extremity_acceleration": (0.1, 0.0), "extremity_jerk": (0.2, 0.0), "tremor": (0.25, 0.01),
                  "root_speed": (0.03, 0.005), "pauses": (0.0, 0.05), "periodicity": (0.0, 0.1)}
STEPPED = ("pauses", "periodicity")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Rank correlation of two ``(N,)`` arrays without ties."""
    return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])


@functools.cache
def sweep(corpus: str, action: str, latent: str, low: float, high: float) -> dict[str, np.ndarray]:
    """Per descriptor, its ``(7,)`` means over :data:`SEEDS` renders at 7 values of ``latent`` from
    ``low`` to ``high``, the other latents held at neutral."""
    spec = get_corpus(corpus)
    means = []
    for value in np.linspace(low, high, 7):
        latents = np.array(EMOTION_QUALITIES["neutral"], dtype=float)
        latents[LATENT_NAMES.index(latent)] = value
        rows = [describe_motion(render(spec, action, latents, ACTOR, np.random.default_rng(seed)), spec.fps,
                                get_layout(spec.layout)) for seed in range(SEEDS)]
        means.append({n: np.mean([row[n] for row in rows]) for n in rows[0]})
    return {n: np.array([m[n] for m in means]) for n in means[0]}


@pytest.mark.parametrize("corpus,action", SETTINGS)
@pytest.mark.parametrize("name,latent,bounds,direction", SWEEPS, ids=[s[0] for s in SWEEPS])
def test_descriptor_follows_its_latent(corpus, action, name, latent, bounds, direction):
    values = sweep(corpus, action, latent, *bounds)[name]
    rho = direction * spearman(np.arange(len(values)), values)
    assert rho > MIN_SPEARMAN, f"{name} over a {latent} sweep ({corpus} {action}): {values.round(4)}, rho {rho:+.2f}"


def test_every_descriptor_is_registered_with_unit_formula_and_canonical_joints():
    assert 12 <= len(DESCRIPTORS) <= 16
    for name, d in DESCRIPTORS.items():
        assert d.name == name and d.unit and len(d.description) > 30
        assert set(d.needs) <= set(CANONICAL_JOINTS), name
    assert set(DESCRIPTORS) == {s[0] for s in SWEEPS} | {"arm_symmetry"}


def test_arm_symmetry_separates_two_arm_from_one_arm_actions():
    walks = generate_clips("emilya", 6, seed=1, actions=["walk"])
    knocks = generate_clips("emilya", 6, seed=1, actions=["knock"])
    walk = [describe_motion(c.positions, c.fps, get_layout(c.layout))["arm_symmetry"] for c in walks]
    knock = [describe_motion(c.positions, c.fps, get_layout(c.layout))["arm_symmetry"] for c in knocks]
    assert min(walk) > 0.8 and min(walk) > max(knock), (walk, knock)


@pytest.fixture(scope="module")
def clips():
    return generate_clips("emilya", 12, seed=3) + generate_clips("egbm", 4, seed=3)


def turned(positions: np.ndarray, angle: float, shift, scale: float = 1.0) -> np.ndarray:
    """``positions`` ``(T, J, 3)`` in float64, turned by ``angle`` radians about +Y, scaled, then shifted."""
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return scale * positions.astype(np.float64) @ rotation.T + np.asarray(shift)


@pytest.mark.parametrize("angle,shift,scale", [(0.0, (3.0, 0.4, -2.0), 1.0), (2.1, (0.0, 0.0, 0.0), 1.0),
                                               (-0.7, (-1.0, 0.2, 5.0), 1.0), (0.0, (0.0, 0.0, 0.0), 1.3)],
                         ids=["translated", "turned", "turned-and-translated", "scaled"])
def test_descriptors_do_not_change_with_place_heading_or_body_size(clips, angle, shift, scale):
    for clip in clips:
        before = describe_motion(clip.positions, clip.fps, get_layout(clip.layout))
        after = describe_motion(turned(clip.positions, angle, shift, scale), clip.fps, get_layout(clip.layout))
        assert after.keys() == before.keys() == DESCRIPTORS.keys()
        for name, value in before.items():
            assert after[name] == pytest.approx(value, rel=1e-6, abs=1e-9), f"{name}, {clip.action}"


def test_descriptors_agree_across_frame_rates(clips):
    fine = [c for c in clips if c.fps == 120.0]
    at_120 = descriptor_matrix([c.positions for c in fine], [c.fps for c in fine], [get_layout(c.layout) for c in fine])
    at_30 = descriptor_matrix([c.positions[::4] for c in fine], [c.fps / 4 for c in fine], [get_layout(c.layout) for c in fine])
    for k, name in enumerate(DESCRIPTORS):
        rel, atol = RATE_TOLERANCE.get(name, (0.03, 0.01))
        agree = np.abs(at_30[:, k] - at_120[:, k]) <= rel * np.abs(at_120[:, k]) + atol
        share = 0.9 if name in STEPPED else 1.0
        assert agree.mean() >= share, f"{name}: 120 fps {at_120[:, k].round(4)} vs 30 fps {at_30[:, k].round(4)}"


def without(layout: JointLayout, canonical: set[str]) -> JointLayout:
    """``layout`` with the canonical names ``canonical`` blanked (the joints stay, unnamed)."""
    return JointLayout(f"{layout.name}_without", layout.joint_names, layout.parents,
                       ["" if c in canonical else c for c in layout.canonical], layout.body_parts)


def test_a_layout_without_a_descriptors_joints_leaves_it_out_and_asking_for_it_names_them(clips):
    clip = clips[0]
    layout = without(get_layout(clip.layout), {"head", "spine_upper"})
    lacking = missing_joints(layout)
    assert lacking["head_pitch"] == ("head",) and lacking["slump"] == ("spine_upper",)
    assert "head" in lacking["root_speed"]  # the body height needs the head
    values = describe_motion(clip.positions, clip.fps, layout)
    assert values.keys() == DESCRIPTORS.keys() - lacking.keys()
    assert values == describe_motion(clip.positions, clip.fps, get_layout(clip.layout), names=list(values))
    with pytest.raises(ValueError, match=r"'trunk_lean' needs canonical joints \['spine_upper'\]"):
        describe_motion(clip.positions, clip.fps, layout, names=["trunk_lean", "arm_swing"])
    matrix = descriptor_matrix([clip.positions, clip.positions], [clip.fps] * 2, [layout, get_layout(clip.layout)])
    absent = [k for k, name in enumerate(DESCRIPTORS) if name in lacking]
    assert np.isnan(matrix[0, absent]).all() and not np.isnan(np.delete(matrix, absent, axis=1)).any()
    assert not np.isnan(matrix[1]).any()


def test_a_three_frame_clip_keeps_only_the_postural_descriptors(clips):
    clip = clips[0]
    values = describe_motion(clip.positions[:3], clip.fps, get_layout(clip.layout))
    assert values.keys() == {n for n, d in DESCRIPTORS.items() if d.min_seconds == 0}
    assert all(np.isfinite(v) for v in values.values())
    with pytest.raises(ValueError, match=r"'tremor' needs a clip of at least 1.0 s"):
        describe_motion(clip.positions[:3], clip.fps, get_layout(clip.layout), names=["tremor"])


def test_bad_input_is_refused(clips):
    clip = clips[0]
    holed = clip.positions.copy()
    holed[5, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        describe_motion(holed, clip.fps, get_layout(clip.layout))
    with pytest.raises(ValueError, match="NaN"):
        descriptor_matrix([clip.positions, holed], [clip.fps] * 2, [get_layout(clip.layout)] * 2)
    with pytest.raises(ValueError, match="shape"):
        describe_motion(clip.positions[:, :-1], clip.fps, get_layout(clip.layout))
    assert describe_motion(clip.positions, 10.0, get_layout(clip.layout)) == {}  # below MIN_FPS: none computable
    with pytest.raises(ValueError, match="fps is 10, expected at least 24"):
        describe_motion(clip.positions, 10.0, get_layout(clip.layout), names=["head_pitch"])
    with pytest.raises(ValueError, match="fps is 0.0, expected a positive number"):
        describe_motion(clip.positions, 0.0, get_layout(clip.layout))
    with pytest.raises(ValueError, match="unknown descriptors"):
        describe_motion(clip.positions, clip.fps, get_layout(clip.layout), names=["speed"])
    with pytest.raises(ValueError, match="one of each per clip"):
        descriptor_matrix([clip.positions], [clip.fps] * 2, [get_layout(clip.layout)])
