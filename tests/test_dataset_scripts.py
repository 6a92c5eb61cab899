"""The converters in dataset_scripts/, run in-process through their main(argv) on files written here."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from motion_files import ROT6, SCRIPTS, layout_bvh, mvnx_motion, mvnx_text, script, write_bvh

from eai_llm.corpus import clip_positions, load_corpus
from eai_llm.layouts import get_layout, layout_from_hierarchy
from eai_llm.motion import MotionFileError, read_bvh



SMALL_BODY = layout_from_hierarchy("test_small_body", ["Hips", "Spine", "Head", "LeftUpLeg", "RightUpLeg"],
                                   [-1, 0, 1, 0, 0])


def bvh_folder_files(folder, styles=("happy", "sad"), takes=3):
    folder.mkdir(parents=True, exist_ok=True)
    for s, style in enumerate(styles):
        for take in range(takes):
            layout_bvh(folder / f"walk_{style}_{take:03d}.bvh", SMALL_BODY, seed=10 * s + take)
    return folder


def all_rows(corpus):
    return [row for split in ("train", "test") for row in corpus[split].with_format("numpy")]


def test_bvh_folder_with_a_label_regex(tmp_path, capsys):
    inputs = bvh_folder_files(tmp_path / "in")
    out = tmp_path / "out"
    script("bvh_folder").main(["--input-dir", str(inputs), "--label-regex", r"(?P<action>[a-z]+)_(?P<label>[a-z]+)_\d+\.bvh",
                               "--label-map", "happy=joy", "--corpus", "mine", "--layout-name", "small5",
                               "--output-dir", str(out)])
    corpus = load_corpus(out)
    assert corpus["train"].features["label"].names == ["joy", "sad"]
    rows = all_rows(corpus)
    assert len(rows) == 6 and {str(r["corpus"]) for r in rows} == {"mine"} and {str(r["action"]) for r in rows} == {"walk"}
    assert {str(r["layout"]) for r in rows} == {"small5"} and get_layout("small5").joint_names == SMALL_BODY.joint_names
    expected = read_bvh(inputs / "walk_sad_001.bvh").positions
    assert any(np.array_equal(clip_positions(r), expected) for r in rows)
    assert "wrote" in capsys.readouterr().out


def test_bvh_folder_converts_identically_twice(tmp_path):
    inputs = bvh_folder_files(tmp_path / "in")
    args = ["--input-dir", str(inputs), "--label-regex", r"walk_(?P<label>[a-z]+)_\d+\.bvh"]
    script("bvh_folder").main(args + ["--output-dir", str(tmp_path / "a")])
    script("bvh_folder").main(args + ["--output-dir", str(tmp_path / "b")])
    for part in ("train/data-00000-of-00001.arrow", "test/data-00000-of-00001.arrow", "layouts.json"):
        assert (tmp_path / "a" / part).read_bytes() == (tmp_path / "b" / part).read_bytes()


def test_bvh_folder_with_a_labels_csv_and_a_fixed_label_set(tmp_path):
    inputs = bvh_folder_files(tmp_path / "in", styles=("x",), takes=4)
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label,actor,description\n" + "".join(
        f"walk_x_{i:03d}.bvh,{'Anger' if i % 2 else 'fear'},A{i % 2},arms swing {i}\n" for i in range(4)))
    out = tmp_path / "out"
    script("bvh_folder").main(["--input-dir", str(inputs), "--labels-csv", str(csv), "--labels", "anger,fear,joy",
                               "--split", "actor", "--output-dir", str(out)])
    corpus = load_corpus(out)
    assert corpus["train"].features["label"].names == ["anger", "fear", "joy"]
    assert not set(corpus["train"]["actor"]) & set(corpus["test"]["actor"])
    assert sorted(str(r["description"]) for r in all_rows(corpus)) == [f"arms swing {i}" for i in range(4)]

    csv.write_text("file,label\n" + "".join(f"walk_x_{i:03d}.bvh,pride\n" for i in range(4)))
    with pytest.raises(ValueError, match=r"field 'label' is 'pride', expected one of \['anger', 'fear', 'joy'\]"):
        script("bvh_folder").main(["--input-dir", str(inputs), "--labels-csv", str(csv), "--labels", "anger,fear,joy",
                                   "--output-dir", str(tmp_path / "bad")])
    csv.write_text("file,label\nwalk_x_000.bvh,anger\n")
    with pytest.raises(ValueError, match=r"walk_x_001.bvh: no row for this file"):
        script("bvh_folder").main(["--input-dir", str(inputs), "--labels-csv", str(csv),
                                   "--output-dir", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()


def test_bvh_folder_stops_on_a_truncated_file_unless_told_to_skip_it(tmp_path, capsys):
    inputs = bvh_folder_files(tmp_path / "in")
    broken = inputs / "walk_sad_001.bvh"
    broken.write_text(broken.read_text().rsplit("\n", 2)[0] + "\n")  # drop the last motion row
    args = ["--input-dir", str(inputs), "--label-regex", r"walk_(?P<label>[a-z]+)_\d+\.bvh"]
    with pytest.raises(MotionFileError, match=r"walk_sad_001.bvh: field 'Frames'"):
        script("bvh_folder").main(args + ["--output-dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
    script("bvh_folder").main(args + ["--skip-bad", "--output-dir", str(tmp_path / "out")])
    assert len(all_rows(load_corpus(tmp_path / "out"))) == 5
    assert "skipped 1 bad file(s)" in capsys.readouterr().out


def test_a_script_run_as_a_command_reports_bad_input_without_a_traceback(tmp_path):
    inputs = bvh_folder_files(tmp_path / "in")
    run = subprocess.run([sys.executable, str(SCRIPTS / "bvh_folder.py"), "--input-dir", str(inputs),
                          "--label-regex", r"walk_(?P<label>[a-z]+)_\d+\.bvh", "--output-dir", str(inputs)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: --output-dir {inputs}: is --input-dir {inputs} or a folder above it")
    assert "Traceback" not in run.stderr
    assert len(list(inputs.glob("*.bvh"))) == 6


def test_bvh_folder_refuses_one_layout_name_for_two_skeletons(tmp_path):
    # Joint names of no registered layout: a BVH matching a registered layout takes that layout's name.
    five = layout_from_hierarchy("test_five", ["Hips", "Chest", "Head", "LeftThigh", "RightThigh"], [-1, 0, 1, 0, 0])
    four = layout_from_hierarchy("test_four", five.joint_names[:4], five.parents[:4])
    inputs = tmp_path / "in"
    inputs.mkdir()
    for take in range(3):
        layout_bvh(inputs / f"walk_happy_{take:03d}.bvh", five, seed=take)
    layout_bvh(inputs / "walk_sad_009.bvh", four)
    args = ["--input-dir", str(inputs), "--label-regex", r"walk_(?P<label>[a-z]+)_\d+\.bvh"]
    with pytest.raises(ValueError, match=r"walk_sad_009.bvh: field 'layout' is 'mine' with 4 joints, but the layout "
                                         r"'mine' read from .*walk_happy_000.bvh \(5 joints\)"):
        script("bvh_folder").main(args + ["--layout-name", "mine", "--output-dir", str(tmp_path / "out")])
    (inputs / "walk_sad_009.bvh").unlink()
    with pytest.raises(ValueError, match=r"walk_happy_000.bvh: field 'layout' is 'kdae24' with 5 joints, but the "
                                         r"layout 'kdae24' in the registry \(24 joints\)"):
        script("bvh_folder").main(args + ["--layout-name", "kdae24", "--output-dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def three_joint_bvh(path, root_z_rotation):
    """A pelvis 1 m up with a 0.8 m trunk-and-head bone and a leg to the floor, in millimetres; the root
    turned ``root_z_rotation`` degrees about Z (90: lying on its side, 0.1 m tall). Joint names unlike
    other tests': the layout the conversion registers must not match their files."""
    joints = [("Waist", None, (0, 0, 0), ROT6), ("Crown", "Waist", (0, 800, 0), ("Zrotation", "Xrotation", "Yrotation")),
              ("LeftShin", "Waist", (100, -1000, 0), ("Zrotation", "Xrotation", "Yrotation"))]
    return write_bvh(path, joints, np.tile([0, 1000, 0, root_z_rotation, 0, 0] + [0] * 6, (3, 1)))


def test_bvh_folder_detects_units_once_from_the_first_file(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    three_joint_bvh(inputs / "a_stand_000.bvh", 0)
    three_joint_bvh(inputs / "b_lie_000.bvh", 90)  # 100 mm tall: alone, it would be read as centimetres
    for take in (1, 2, 3):
        three_joint_bvh(inputs / f"a_stand_{take:03d}.bvh", 0)
    out = tmp_path / "out"
    script("bvh_folder").main(["--input-dir", str(inputs), "--label-regex", r"[ab]_(?P<label>[a-z]+)_\d+\.bvh",
                               "--output-dir", str(out)])
    assert f"--units auto: mm, from the body height in {inputs / 'a_stand_000.bvh'}" in capsys.readouterr().out
    lying = [r for r in all_rows(load_corpus(out)) if clip_positions(r)[0, :, 1].max() < 1.5]
    assert len(lying) == 1
    np.testing.assert_allclose(clip_positions(lying[0])[0], [[0, 1, 0], [-0.8, 1, 0], [1, 1.1, 0]], atol=1e-6)


def test_bvh_folder_rejects_names_the_regex_does_not_match(tmp_path):
    inputs = bvh_folder_files(tmp_path / "in")
    with pytest.raises(ValueError, match=r"walk_happy_000.bvh: file name does not match --label-regex"):
        script("bvh_folder").main(["--input-dir", str(inputs), "--label-regex", r"run_(?P<label>[a-z]+)_\d+\.bvh",
                                   "--output-dir", str(tmp_path / "out")])
    with pytest.raises(ValueError, match="no named group 'label'"):
        script("bvh_folder").main(["--input-dir", str(inputs), "--label-regex", r"walk_([a-z]+)_\d+\.bvh",
                                   "--output-dir", str(tmp_path / "out")])


def test_kdae_reads_physionet_names_and_keeps_the_24_body_joints(tmp_path):
    kdae = get_layout("kdae24")
    fingers = [("RightHandThumb1", "RightHand"), ("RightHandThumb1End", "RightHandThumb1"),
               ("LeftHandIndex1", "LeftHand"), ("LeftHandIndex1End", "LeftHandIndex1")]
    names = {"F01": ["F01A0V1", "F01SA1V1", "F01SU2V2", "F01H0V1"], "M02": ["M02D1V1", "M02N0V1", "M02F3V1", "M02A1V2"]}
    for actor, files in names.items():
        (tmp_path / "BVH" / actor).mkdir(parents=True)
        for i, name in enumerate(files):
            layout_bvh(tmp_path / "BVH" / actor / f"{name}.bvh", kdae, fingers, seed=i)
    out = tmp_path / "out"
    script("kdae").main(["--input-dir", str(tmp_path / "BVH"), "--output-dir", str(out)])
    rows = {(str(r["actor"]), str(r["action"])): r for r in all_rows(load_corpus(out))}
    names_of = load_corpus(out)["train"].features["label"].names
    assert names_of == ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    assert names_of[rows[("F01", "scenario1")]["label"]] == "sadness"
    assert names_of[rows[("F01", "scenario2")]["label"]] == "surprise"
    assert names_of[rows[("M02", "scenario3")]["label"]] == "fear"
    assert all(str(r["layout"]) == "kdae24" and clip_positions(r).shape[1:] == (24, 3) for r in rows.values())

    layout_bvh(tmp_path / "BVH" / "M02" / "M02X1V1.bvh", kdae)
    with pytest.raises(ValueError, match=r"M02X1V1.bvh: file name does not follow KDAE's"):
        script("kdae").main(["--input-dir", str(tmp_path / "BVH"), "--output-dir", str(tmp_path / "bad")])


def kinect_file(path, seed, columns=75):
    """40 frames of 25 joints moving linearly; 76 columns: a leading timestamp in ms at 15 fps; 100: a
    tracking state (2, tracked) after each joint. Returns the positions ``(40, 25, 3)``."""
    rng = np.random.default_rng(seed)
    frames = rng.uniform(-1, 1, (1, 25, 3)) + 0.01 * np.arange(40)[:, None, None]
    values = frames.reshape(40, 75)
    if columns == 76:
        values = np.concatenate([1000 / 15 * np.arange(40)[:, None], values], axis=1)
    if columns == 100:
        values = np.concatenate([frames, np.full((40, 25, 1), 2.0)], axis=-1).reshape(40, 100)
    path.write_text("\n".join(" ".join(f"{v:.5f}" for v in row) for row in values))
    return frames


def test_egbm_reads_kinect_text_with_a_labels_csv(tmp_path):
    inputs = tmp_path / "egbm"
    inputs.mkdir()
    labels = ["happiness", "sadness", "anger", "surprise"]
    for i, label in enumerate(labels):
        kinect_file(inputs / f"clip{i}.txt", seed=i)
    (inputs / "labels.csv").write_text("file,label,actor\n" + "".join(
        f"clip{i}.txt,{label},actor{i % 2}\n" for i, label in enumerate(labels)))
    out = tmp_path / "out"
    script("egbm").main(["--input-dir", str(inputs), "--labels-csv", str(inputs / "labels.csv"), "--output-dir", str(out)])
    rows = all_rows(load_corpus(out))
    assert len(rows) == 4 and all(str(r["layout"]) == "kinect_v2" and float(r["fps"]) == 30.0 for r in rows)

    (inputs / "labels.csv").write_text("file,label\n" + "".join(f"clip{i}.txt,shame\n" for i in range(4)))
    with pytest.raises(ValueError, match=r"field 'label' is 'shame', expected one of \['anger', 'disgust'"):
        script("egbm").main(["--input-dir", str(inputs), "--labels-csv", str(inputs / "labels.csv"),
                             "--output-dir", str(tmp_path / "bad")])


@pytest.mark.parametrize("columns, fps", [(76, 15.0), (100, 30.0)])
def test_egbm_reads_kinect_files_with_timestamps_or_tracking_states(tmp_path, columns, fps):
    inputs = tmp_path / "egbm"
    inputs.mkdir()
    positions = [kinect_file(inputs / f"clip{i}.csv", seed=i, columns=columns) for i in range(5)]
    (tmp_path / "labels.csv").write_text("file,label,actor\n" + "".join(f"clip{i}.csv,anger,actor{i}\n" for i in range(5)))
    out = tmp_path / "out"
    script("egbm").main(["--input-dir", str(inputs), "--labels-csv", str(tmp_path / "labels.csv"),
                         "--output-dir", str(out)])
    rows = {str(r["actor"]): r for r in all_rows(load_corpus(out))}
    assert len(rows) == 5 and all(float(r["fps"]) == pytest.approx(fps) for r in rows.values())
    for i, expected in enumerate(positions):
        np.testing.assert_allclose(clip_positions(rows[f"actor{i}"]), expected, atol=1e-5)


def test_emilya_reads_mvnx_with_a_labels_csv(tmp_path):
    inputs = tmp_path / "emilya"
    inputs.mkdir()
    positions, quaternions = mvnx_motion(frames=4)
    labels = ["joy", "shame", "panic", "anxiety"]
    for i in range(4):
        (inputs / f"take{i}.mvnx").write_text(mvnx_text(positions + i, quaternions, rate=120))
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label,actor,action\n" + "".join(
        f"take{i}.mvnx,{label},A{i},Walk\n" for i, label in enumerate(labels)))
    out = tmp_path / "out"
    script("emilya").main(["--input-dir", str(inputs), "--labels-csv", str(csv), "--output-dir", str(out)])
    rows = all_rows(load_corpus(out))
    assert {str(r["layout"]) for r in rows} == {"xsens_mvn28"} and {float(r["fps"]) for r in rows} == {120.0}
    assert load_corpus(out)["train"].features["label"].names == sorted(
        ["anger", "anxiety", "fear", "joy", "neutral", "panic", "sadness", "shame"])


def test_emilya_reads_xsens_csv_exports_at_the_given_fps(tmp_path):
    inputs = tmp_path / "emilya"
    inputs.mkdir()
    segments = get_layout("xsens_mvn23").joint_names
    header = "Frame," + ",".join(f"{s} {a}" for s in segments for a in "xyz")
    for i in range(5):
        values = np.random.default_rng(i).uniform(-1, 1, (6, 69)).round(4)
        (inputs / f"take{i}.csv").write_text("\n".join([header, *(f"{t}," + ",".join(map(str, row))
                                                                   for t, row in enumerate(values))]) + "\n")
    (inputs / "labels.csv").write_text("file,label,actor\n" + "".join(f"take{i}.csv,shame,A{i}\n" for i in range(5)))
    args = ["--input-dir", str(inputs), "--labels-csv", str(inputs / "labels.csv"), "--format", "xsens_csv"]
    with pytest.raises(SystemExit):
        script("emilya").main(args + ["--output-dir", str(tmp_path / "out")])  # no --fps
    script("emilya").main(args + ["--fps", "120", "--output-dir", str(tmp_path / "out")])
    rows = all_rows(load_corpus(tmp_path / "out"))
    assert len(rows) == 5 and {str(r["layout"]) for r in rows} == {"xsens_mvn23"}
    assert {float(r["fps"]) for r in rows} == {120.0}


def test_emilya_reads_mvn_bvh_exports(tmp_path):
    inputs = tmp_path / "emilya"
    inputs.mkdir()
    for i in range(5):
        layout_bvh(inputs / f"take{i}.bvh", get_layout("xsens_mvn28"), seed=i)
    (tmp_path / "labels.csv").write_text("file,label,actor\n" + "".join(f"take{i}.bvh,panic,A{i}\n" for i in range(5)))
    out = tmp_path / "out"
    script("emilya").main(["--input-dir", str(inputs), "--labels-csv", str(tmp_path / "labels.csv"),
                           "--format", "bvh", "--output-dir", str(out)])
    rows = {str(r["actor"]): r for r in all_rows(load_corpus(out))}
    assert {str(r["layout"]) for r in rows.values()} == {"xsens_mvn23"}  # MVN segments; End Sites dropped
    expected = read_bvh(inputs / "take3.bvh", units="cm").positions
    np.testing.assert_allclose(clip_positions(rows["A3"]), expected, atol=1e-6)


def test_label_map_option_parses_synonyms_and_names_a_bad_pair():
    from converter_cli import parse_label_map

    assert parse_label_map("Happy=happiness, joy=happiness") == {"happy": "happiness", "joy": "happiness"}
    with pytest.raises(ValueError, match="not of the form name=label"):
        parse_label_map("happy:happiness")


def test_an_invalid_label_regex_is_a_message(tmp_path):
    inputs = bvh_folder_files(tmp_path / "in")
    with pytest.raises(ValueError, match=r"--label-regex '\(\?P<label>\[a-z' is not a valid regular expression"):
        script("bvh_folder").main(["--input-dir", str(inputs), "--label-regex", "(?P<label>[a-z",
                                   "--output-dir", str(tmp_path / "out")])


def test_a_converter_killed_at_random_points_leaves_the_old_corpus_or_the_new_one(tmp_path):
    import random
    import signal
    import time

    inputs = bvh_folder_files(tmp_path / "in", takes=6)
    out = tmp_path / "out"

    def command(seed):
        return [sys.executable, str(SCRIPTS / "bvh_folder.py"), "--input-dir", str(inputs), "--label-regex",
                r"walk_(?P<label>[a-z]+)_\d+\.bvh", "--seed", str(seed), "--output-dir", str(out)]

    def signature():  # which clips the test part holds: differs between the two seeds' splits
        return sorted(round(float(np.asarray(row["positions"])[0, 0]), 6) for row in load_corpus(out)["test"])

    versions = []
    for seed in (0, 1):  # two different corpora (another split), so a mix of them would show
        subprocess.run(command(seed), check=True, capture_output=True)
        versions.append(signature())
    assert versions[0] != versions[1]
    rng = random.Random(1)
    for attempt in range(3):
        process = subprocess.Popen(command(attempt % 2), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not list(tmp_path.glob(".out.partial-*")) and process.poll() is None and time.time() < deadline:
            time.sleep(0.01)  # kill while the new corpus is being written or swapped in
        time.sleep(rng.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert signature() in versions  # a whole corpus, old or new, never a mix
    subprocess.run(command(0), check=True, capture_output=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # the killed runs left nothing behind
