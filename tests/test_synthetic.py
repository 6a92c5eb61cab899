"""The synthetic default corpus (eai_llm/synthetic.py) and its CLI (dataset_scripts/synthetic.py)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from datasets import load_from_disk

from eai_llm.claims import QUALITIES
from eai_llm.corpus import clip_positions, load_corpus
from eai_llm.evaluation import latent_faithfulness, read_latents
from eai_llm.labels import CORPUS_LABELS
from eai_llm.layouts import get_layout
from eai_llm.synthetic import LATENT_NAMES, generate_clips, oracle_accuracy, qualities

REPO = Path(__file__).resolve().parents[1]
# What each synthetic corpus must mimic (paper §4.1): layout, frame rate.
EXPECTED = {"emilya": ("xsens_mvn28", 120.0), "kdae": ("kdae24", 125.0), "egbm": ("kinect_v2", 30.0)}
ADJECTIVES = ("angry", "anxious", "fearful", "afraid", "joyful", "happy", "panicked", "panicky", "sad ",
              "ashamed", "disgusted", "surprised")
LATENT = {name: k for k, name in enumerate(LATENT_NAMES)}


def joint(layout_name: str, canonical: str) -> int:
    return get_layout(layout_name).canonical.index(canonical)


def bone_lengths(positions: np.ndarray, layout_name: str) -> np.ndarray:
    """``(T, bones)`` lengths in float64."""
    p = positions.astype(np.float64)
    edges = get_layout(layout_name).edges
    return np.stack([np.linalg.norm(p[:, c] - p[:, q], axis=-1) for c, q in edges], axis=1)


@pytest.fixture(scope="module")
def emilya_sample():
    return generate_clips("emilya", 160, seed=11)


@pytest.mark.parametrize("corpus", list(EXPECTED))
def test_bone_lengths_constant_within_each_clip(corpus):
    clips = generate_clips(corpus, 10, seed=0)
    assert len({c.action for c in clips}) > 1, "the sample should cover more than one action"
    for clip in clips:
        lengths = bone_lengths(clip.positions, clip.layout)
        assert lengths.min() > 0.01, "degenerate bone"
        drift = (lengths.max(axis=0) - lengths.min(axis=0)).max()
        assert drift < 2e-5, f"{corpus} {clip.action}: a bone changes length by {drift:.2e} m"


def test_every_action_keeps_bone_lengths_and_feet_on_the_floor():
    for action in ("walk", "carry_walk", "sit_down", "knock", "lift", "throw", "gesture"):
        (clip,) = generate_clips("emilya", 1, seed=2, actions=[action])
        lengths = bone_lengths(clip.positions, clip.layout)
        assert (lengths.max(axis=0) - lengths.min(axis=0)).max() < 2e-5, action
        feet = [joint("xsens_mvn28", f"{s}_{k}") for s in "lr" for k in ("ankle", "toe", "toe_tip")]
        lowest = clip.positions[:, feet, 1].min(axis=1)  # joint centres: a little above the sole
        assert lowest.min() > -1e-3, f"{action}: a foot goes {-lowest.min():.3f} m through the floor (y=0)"
        assert lowest.max() < 0.1, f"{action}: both feet leave the floor by {lowest.max():.3f} m"


def test_same_body_per_actor_different_between_actors():
    clips = generate_clips("kdae", 30, seed=1)
    rest = {}
    for clip in clips:
        lengths = bone_lengths(clip.positions[:1], clip.layout)[0]
        if clip.actor in rest:
            np.testing.assert_allclose(lengths, rest[clip.actor], atol=2e-5)
        rest[clip.actor] = lengths
    assert len(rest) >= 2
    bodies = np.stack(list(rest.values()))
    assert np.ptp(bodies.sum(axis=1)) > 0.02, "actors should differ in size"


def test_deterministic_and_seed_dependent():
    a = generate_clips("emilya", 6, seed=5)
    b = generate_clips("emilya", 6, seed=5)
    c = generate_clips("emilya", 6, seed=6)
    for x, y in zip(a, b):
        assert x.positions.tobytes() == y.positions.tobytes()
        assert (x.label, x.actor, x.action, x.description, x.fps, x.layout) == \
               (y.label, y.actor, y.action, y.description, y.fps, y.layout)
        assert x.latents.tobytes() == y.latents.tobytes()
    assert any(x.positions.shape != z.positions.shape or not np.array_equal(x.positions, z.positions)
               for x, z in zip(a, c))
    # Kinect jitter is seeded too.
    e1, e2 = generate_clips("egbm", 3, seed=0), generate_clips("egbm", 3, seed=0)
    assert all(x.positions.tobytes() == y.positions.tobytes() for x, y in zip(e1, e2))


@pytest.mark.parametrize("corpus", list(EXPECTED))
def test_clip_fields_shapes_and_labels(corpus):
    layout_name, fps = EXPECTED[corpus]
    clips = generate_clips(corpus, 14, seed=3)
    assert len(clips) == 14
    labels = [c.label for c in clips]
    assert set(labels) == set(CORPUS_LABELS[corpus]), "14 clips should cover all 7 or 8 emotions"
    for clip in clips:
        p = clip.positions
        assert p.dtype == np.float32 and p.ndim == 3
        assert p.shape[1:] == (get_layout(layout_name).num_joints, 3)
        assert np.isfinite(p).all()
        assert clip.layout == layout_name and clip.fps == fps and clip.corpus == corpus
        assert 1.5 <= len(p) / fps <= 5.0, f"clip of {len(p) / fps:.2f} s"
        assert clip.actor.startswith(corpus)
        assert clip.latents.shape == (len(LATENT_NAMES),) and clip.latents.dtype == np.float32
        row = clip.to_row()
        assert row["label"] == clip.label and row["corpus"] == corpus
        np.testing.assert_array_equal(clip_positions(row), p)


def test_named_latent_indices_follow_latent_names():
    # qualities.TEMPO, .AMPLITUDE, ...: the index of each quality of LATENT_NAMES, by its upper-case name.
    assert [getattr(qualities, name.upper()) for name in LATENT_NAMES] == list(range(len(LATENT_NAMES)))
    for table in (qualities.LOW, qualities.HIGH, qualities.SPREAD, qualities.STYLE_SPREAD):
        assert table.shape == (len(LATENT_NAMES),)
    assert (qualities.LOW < qualities.HIGH).all()
    assert all(len(means) == len(LATENT_NAMES) for means in qualities.EMOTION_QUALITIES.values())


@pytest.mark.parametrize("corpus", list(EXPECTED))
def test_metric_body_height_and_y_up(corpus):
    layout_name = EXPECTED[corpus][0]
    layout = get_layout(layout_name)
    # Upright emotion and an action in place, so the first frames are a standing pose.
    clips = generate_clips(corpus, 6, seed=4, labels=["neutral"], actions=["gesture" if corpus != "emilya" else "knock"])
    has_crown = "head_top" in layout.canonical
    top = joint(layout_name, "head_top" if has_crown else "head")
    feet = [j for j, c in enumerate(layout.canonical) if c[2:] in ("ankle", "toe", "toe_tip") and c[:2] in ("l_", "r_")]
    low, high = (1.4, 2.0) if has_crown else (1.2, 1.85)  # Kinect's Head is the centre of the head
    for clip in clips:
        p = clip.positions
        assert (p[:, top, 1] > p[:, feet, 1].max(axis=1) + 1.0).all(), "+Y must be up"
        standing = (p[:10, top, 1] - p[:10, feet, 1].min(axis=1)).max()
        assert low <= standing <= high, f"standing height {standing:.2f} m"


def mean_speed(clip) -> float:
    """Mean joint speed in m/s, root motion included."""
    return float(np.linalg.norm(np.diff(clip.positions, axis=0), axis=-1).mean() * clip.fps)


def head_uprightness(clip) -> float:
    """Mean vertical component of the unit vector neck → top of the head (1 = upright)."""
    layout = get_layout(clip.layout)
    top = layout.canonical.index("head_top" if "head_top" in layout.canonical else "head")
    v = clip.positions[:, top] - clip.positions[:, layout.canonical.index("neck")]
    return float((v[:, 1] / np.linalg.norm(v, axis=-1)).mean())


def wrist_tremor(clip) -> float:
    """RMS of the wrists' motion (relative to the pelvis) above ~4 Hz, metres."""
    layout = get_layout(clip.layout)
    pelvis = clip.positions[:, layout.canonical.index("pelvis")].astype(np.float64)
    total = 0.0
    width = max(3, round(clip.fps / 8))
    kernel = np.ones(width) / width
    for side in "lr":
        x = clip.positions[:, layout.canonical.index(f"{side}_wrist")] - pelvis
        smooth = np.stack([np.convolve(x[:, d], kernel, mode="same") for d in range(3)], axis=1)
        total += np.sqrt(((x - smooth)[width:-width] ** 2).sum(axis=1).mean())
    return total / 2


@pytest.mark.parametrize("corpus,actions", [("emilya", ["walk"]), ("emilya", ["knock", "sit_down"]),
                                            ("kdae", ["gesture"]), ("egbm", ["walk"])])
def test_emotion_moves_kinematics_the_expected_way(corpus, actions):
    joy = "joy" if corpus == "emilya" else "happiness"
    clips = generate_clips(corpus, 36, seed=7, labels=["anger", "sadness", joy], actions=actions)
    by = {label: [c for c in clips if c.label == label] for label in ("anger", "sadness", joy)}
    assert all(len(v) == 12 for v in by.values())
    speed = {k: np.mean([mean_speed(c) for c in v]) for k, v in by.items()}
    assert speed["anger"] > 1.2 * speed["sadness"], speed
    assert speed[joy] > speed["sadness"], speed
    upright = {k: np.mean([head_uprightness(c) for c in v]) for k, v in by.items()}
    assert upright[joy] > upright["sadness"] + 0.05, upright


def test_tempo_latent_sets_the_pace_of_the_action():
    """A knock: the hand reaches the door sooner when the clip's tempo is higher."""
    clips = generate_clips("emilya", 24, seed=12, actions=["knock"])
    wrist = joint("xsens_mvn28", "r_wrist")
    reach_s = []
    for clip in clips:
        y = clip.positions[:, wrist, 1]
        reach_s.append(np.argmax(y > y[0] + 0.8 * (y.max() - y[0])) / clip.fps)
    slowness = 1.0 / np.array([c.latents[LATENT["tempo"]] for c in clips])
    assert np.corrcoef(slowness, reach_s)[0, 1] > 0.6


def test_fear_trembles_more_than_joy():
    clips = generate_clips("emilya", 24, seed=8, labels=["fear", "joy"], actions=["knock", "lift"])
    tremor = {k: np.mean([wrist_tremor(c) for c in clips if c.label == k]) for k in ("fear", "joy")}
    assert tremor["fear"] > 1.5 * tremor["joy"], tremor


def test_descriptions_follow_the_latents_not_the_labels(emilya_sample):
    clips = emilya_sample + generate_clips("kdae", 60, seed=11)
    described = [c for c in clips if c.description]
    for corpus, n in (("emilya", 160), ("kdae", 60)):
        count = sum(c.corpus == corpus for c in described)
        assert abs(count - 0.25 * n) <= 1, f"{corpus}: {count} of {n} clips described"
    # Word families and the latent they must come from, compared with the sample median.
    checks = [
        (r"\bslow", "tempo", -1), (r"sluggish", "tempo", -1),
        (r"brisk|quickly|rapidly|fast pace|hastily", "tempo", +1),
        (r"head is bowed|head hangs low|head is lowered|at the floor", "head_pitch", +1),
        (r"head is held high|chin is raised|head is tilted up", "head_pitch", -1),
        (r"trembl|tremor|shake", "tremor", +1),
        (r"jerky|sudden|choppy", "jerkiness", +1),
        (r"smooth|fluid", "jerkiness", -1),
        (r"slumped|shoulders droop|hunched", "slump", +1),
        (r"leans forward|pitched forward|tilts forward", "trunk_lean", +1),
        (r"leans back|held back|tilts backward", "trunk_lean", -1),
        (r"small, restrained|contracted, minimal|movements small", "amplitude", -1),
        (r"wide, expansive|large, sweeping|broad, space-filling", "amplitude", +1),
        (r"pauses|hesitantly", "hesitation", +1),
    ]
    hits = {pattern: 0 for pattern, _, _ in checks}
    for corpus in ("emilya", "kdae"):
        population = np.stack([c.latents for c in clips if c.corpus == corpus])
        median = np.median(population, axis=0)
        for clip in (c for c in described if c.corpus == corpus):
            text = clip.description.lower()
            for pattern, name, sign in checks:
                if re.search(pattern, text):
                    hits[pattern] += 1
                    value, mid = clip.latents[LATENT[name]], median[LATENT[name]]
                    assert (value - mid) * sign > 0, f"{clip.description!r}: {name}={value:.2f}, median {mid:.2f}"
    for pattern in (r"\bslow", r"brisk|quickly|rapidly|fast pace|hastily", r"trembl|tremor|shake",
                    r"head is bowed|head hangs low|head is lowered|at the floor"):
        assert hits[pattern] > 0, f"no description used {pattern!r}; the check would be vacuous"
    for clip in described:
        text = clip.description.lower()
        assert 1 <= text.count(".") <= 3
        assert clip.label not in text and not any(word in text + " " for word in ADJECTIVES), clip.description
        assert not any(label in text for label in CORPUS_LABELS[clip.corpus]), clip.description
    action_words = {"walk": "walk", "carry_walk": "carr", "sit_down": "chair", "knock": "knock", "lift": "lift|pick",
                    "throw": "throw", "gesture": "gestur|arms about"}
    for clip in described:
        assert re.search(action_words[clip.action], clip.description), (clip.action, clip.description)
    # Varied wording: not one template.
    assert len({c.description.split(" ")[1] for c in described}) >= 3  # subjects
    assert len({c.description for c in described}) == len(described)


def test_no_descriptions_for_egbm():
    assert not any(c.description for c in generate_clips("egbm", 20, seed=0))


def test_oracle_is_well_above_chance_but_not_perfect():
    clips = generate_clips("egbm", 280, seed=9)
    accuracy = oracle_accuracy(clips[:200], clips[200:])
    chance = 1 / len(CORPUS_LABELS["egbm"])
    assert 4 * chance < accuracy < 1.0, accuracy
    with pytest.raises(ValueError):
        oracle_accuracy(clips[:200], [])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="shame"):
        generate_clips("kdae", 3, labels=["shame"])
    with pytest.raises(ValueError, match="dance"):
        generate_clips("emilya", 3, actions=["dance"])
    with pytest.raises(KeyError, match="emilya"):
        generate_clips("cmu", 3)


def load_cli():
    spec = importlib.util.spec_from_file_location("synthetic_cli", REPO / "dataset_scripts" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_one_corpus_with_three_layouts(tmp_path, capsys):
    cli = load_cli()
    out = tmp_path / "synthetic"
    cli.main(["--output-dir", str(out), "--scale", "0.1", "--seed", "1"])
    printed = capsys.readouterr().out
    # corpus, layout, fps, train, test, actors, described, oracle: the 4:1 split of 70 / 12 / 7 clips
    for name, train, test in (("emilya", 56, 14), ("kdae", 10, 2), ("egbm", 6, 1)):
        assert re.search(rf"^{name} +{EXPECTED[name][0]} +{EXPECTED[name][1]:.0f} +{train} +{test} ", printed, re.MULTILINE)

    raw = load_from_disk(str(out))
    assert set(raw) == {"train", "test"}
    corpus = load_corpus(out)
    layouts = {d["name"] for d in json.loads((out / "layouts.json").read_text())}
    assert layouts == {v[0] for v in EXPECTED.values()}
    names = corpus["train"].features["label"].names
    assert names == sorted(set(CORPUS_LABELS["emilya"]) | set(CORPUS_LABELS["kdae"]))
    rows = [row for split in ("train", "test") for row in corpus[split]]
    assert {r["corpus"] for r in rows} == set(EXPECTED)
    assert len(rows) == 70 + 12 + 7  # 0.1 x (700, 120, 56), at least one clip per emotion
    for r in rows:
        layout_name, fps = EXPECTED[r["corpus"]]
        assert r["layout"] == layout_name and r["fps"] == pytest.approx(fps)
        assert names[r["label"]] in CORPUS_LABELS[r["corpus"]]
        assert clip_positions(r).shape[1:] == (get_layout(layout_name).num_joints, 3)
    assert any(r["description"] for r in rows if r["corpus"] == "emilya")
    assert not any(r["description"] for r in rows if r["corpus"] == "egbm")
    assert Counter(corpus["test"]["corpus"]) == {"emilya": 14, "kdae": 2, "egbm": 1}
    assert set(json.loads((out / "oracle.json").read_text())) == {"emilya", "kdae", "egbm"}
    for split in ("train", "test"):  # the generating latents, per clip in split order, that eval.py reads
        latents = read_latents(out, split, len(corpus[split]))
        assert set(latents["names"]) == set(QUALITIES) and latents["quantiles"].shape == (len(corpus[split]), 9)
        assert ((latents["quantiles"] >= 0) & (latents["quantiles"] <= 1)).all()
        described = [text for text in corpus[split]["description"] if text]
        reference = latent_faithfulness({}, corpus[split]["description"], latents, corpus[split]["action"])["reference"]
        assert reference["claim_precision"] == 1 and reference["num_texts"] == len(described)  # written from them
    with pytest.raises(ValueError, match="latents.json: field 'test' has latents of shape"):
        read_latents(out, "test", len(corpus["test"]) + 1)  # a file that does not fit the split
    cli.main(["--output-dir", str(out), "--scale", "0.1", "--seed", "2"])  # a corpus it wrote is replaced
    assert load_corpus(out)["train"]["actor"] != corpus["train"]["actor"]


def test_cli_actor_split_holds_out_whole_actors(tmp_path, capsys):
    cli = load_cli()
    out = tmp_path / "by_actor"
    cli.main(["--output-dir", str(out), "--scale", "0.12", "--corpora", "emilya", "egbm", "--split", "actor"])
    corpus = load_corpus(out)
    assert {r for r in corpus["train"]["corpus"]} == {"emilya", "egbm"}
    train = set(zip(corpus["train"]["corpus"], corpus["train"]["actor"]))
    test = set(zip(corpus["test"]["corpus"], corpus["test"]["actor"]))
    assert test and not train & test
    assert "kdae" not in capsys.readouterr().out


@pytest.mark.parametrize("fraction", ["0", "1", "1.5", "half"])
def test_cli_refuses_a_test_fraction_outside_zero_to_one(tmp_path, capsys, fraction):
    with pytest.raises(SystemExit) as exit_info:
        load_cli().main(["--output-dir", str(tmp_path / "out"), "--test-fraction", fraction])
    assert exit_info.value.code == 2 and "--test-fraction" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
