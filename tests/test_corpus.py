from collections import Counter

import numpy as np
import pytest
from datasets import load_from_disk

from eai_llm.corpus import (
    ClipSource,
    build_corpus,
    check_label,
    clip_positions,
    clip_row,
    convert_files,
    load_corpus,
    read_labels_csv,
    save_corpus,
    sources_from_labels_csv,
    split_indices,
)
from eai_llm.layouts import LAYOUTS, get_layout, layout_from_hierarchy
from eai_llm.motion import Motion, MotionFileError


def metadata(n_corpora=2, n_labels=3, n_actors=5, per_cell=4):
    corpus, label, actor = [], [], []
    for c in range(n_corpora):
        for y in range(n_labels):
            for a in range(n_actors):
                for _ in range(per_cell):
                    corpus.append(f"c{c}"), label.append(y), actor.append(f"c{c}a{a}")
    return corpus, label, actor


def test_random_split_is_a_seeded_stratified_four_to_one_partition():
    corpus, label, actor = metadata()
    train, test = split_indices(corpus, label, actor, "random", 0.2, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(corpus)))
    assert len(test) == 0.2 * len(corpus)
    cells = Counter((corpus[i], label[i]) for i in test)
    assert set(cells.values()) == {4}  # every corpus x label cell of 20 clips gives 4 to test
    again, _ = split_indices(corpus, label, actor, "random", 0.2, seed=0)
    other, _ = split_indices(corpus, label, actor, "random", 0.2, seed=1)
    np.testing.assert_array_equal(train, again)
    assert set(train.tolist()) != set(other.tolist())


def test_actor_split_holds_out_whole_actors_per_corpus():
    corpus, label, actor = metadata()
    train, test = split_indices(corpus, label, actor, "actor", 0.2, seed=0)
    train_actors, test_actors = {actor[i] for i in train}, {actor[i] for i in test}
    assert not train_actors & test_actors
    for name in ("c0", "c1"):
        assert any(a.startswith(name) for a in test_actors) and any(a.startswith(name) for a in train_actors)
    with pytest.raises(ValueError, match="at least two actors"):
        split_indices(["c"] * 4, [0, 1, 0, 1], ["solo"] * 4, "actor", 0.2, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_actor_split_stops_at_the_actor_count_nearest_the_target(seed):
    # 11 actors of 10 clips, target 0.2 * 110 = 22 clips: 2 actors (20) are nearer than 3 (30).
    actor = [f"a{a}" for a in range(11) for _ in range(10)]
    _, test = split_indices(["c"] * 110, [0] * 110, actor, "actor", 0.2, seed)
    assert len(test) == 20 and len({actor[i] for i in test}) == 2
    # 2 actors of 10, target 4: the first actor still goes to test, the other stays for training.
    train, test = split_indices(["c"] * 20, [0] * 20, actor[:20], "actor", 0.2, seed)
    assert len(train) == len(test) == 10


def clip(frames, layout, seed):
    joints = get_layout(layout).num_joints
    return np.random.default_rng(seed).normal(size=(frames, joints, 3)).astype(np.float32)


def rows_function(clips):
    def rows():
        for i, (positions, layout) in enumerate(clips):
            yield clip_row(positions, fps=30.0, layout=layout, label=["anger", "joy"][i % 2], corpus="toy",
                           actor=f"a{i % 3}", action="walk", description="" if i % 2 else f"clip {i}")
    return rows


def test_corpus_round_trip_keeps_clips_layouts_and_labels(tmp_path):
    custom = layout_from_hierarchy("test_corpus_bvh", ["Hips", "Spine", "Head"], [-1, 0, 1])
    LAYOUTS[custom.name] = custom
    clips = [(clip(30 + i, "kinect_v2", i), "kinect_v2") for i in range(6)] + \
            [(clip(12, "test_corpus_bvh", 9), "test_corpus_bvh") for _ in range(4)]
    corpus = build_corpus(rows_function(clips), ["joy", "anger"], seed=0)
    save_corpus(corpus, [get_layout("kinect_v2"), custom], tmp_path / "out")
    del LAYOUTS[custom.name]  # a fresh process knows only the built-in layouts

    loaded = load_corpus(tmp_path / "out")
    assert get_layout("test_corpus_bvh") == custom
    assert sorted(loaded) == ["test", "train"] and len(loaded["train"]) + len(loaded["test"]) == 10
    assert loaded["train"].features["label"].names == ["anger", "joy"]
    assert load_from_disk(str(tmp_path / "out"))["train"].num_rows == loaded["train"].num_rows
    by_length = {positions.shape[0]: positions for positions, layout in clips if layout == "kinect_v2"}
    for row in loaded["train"].with_format("numpy"):
        positions = clip_positions(row)
        assert positions.dtype == np.float32 and positions.shape[2] == 3
        assert positions.shape[1] == get_layout(str(row["layout"])).num_joints
        if row["layout"] == "kinect_v2":
            np.testing.assert_array_equal(positions, by_length[positions.shape[0]])
    del LAYOUTS[custom.name]


def test_building_twice_gives_identical_corpora():
    clips = [(clip(20, "kdae24", i), "kdae24") for i in range(8)]
    first = build_corpus(rows_function(clips), ["anger", "joy"], seed=3)
    second = build_corpus(rows_function(clips), ["anger", "joy"], seed=3)
    for split in ("train", "test"):
        assert first[split].data.table.equals(second[split].data.table)


def conversion_args(output_dir, skip_bad=False, input_dir="inputs"):
    return {"output_dir": output_dir, "input_dir": input_dir, "skip_bad": skip_bad}


def fake_reader(bad_names):
    def read(path):
        if path.name in bad_names:
            raise MotionFileError(f"{path}: field 'Frames' says 100, expected 100 motion rows, found 40")
        return Motion(clip(20, "kdae24", len(path.name)), 30.0, get_layout("kdae24"), str(path))
    return read


def test_a_bad_file_stops_the_conversion_and_leaves_the_previous_output_intact(tmp_path):
    sources = [ClipSource(tmp_path / f"{name}.bvh", "joy", actor=name) for name in ("a", "b", "c")]
    out = tmp_path / "out"
    convert_files(sources, fake_reader(set()), "toy", ["joy"], **conversion_args(out, skip_bad=False))
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(MotionFileError, match=r"b.bvh: field 'Frames'"):
        convert_files(sources, fake_reader({"b.bvh"}), "toy", ["joy"], **conversion_args(out, skip_bad=False))
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left behind


def test_skip_bad_skips_and_reports_the_bad_files(tmp_path):
    sources = [ClipSource(tmp_path / f"{name}.bvh", "joy", actor=name) for name in ("a", "b", "c", "d", "e")]
    report = convert_files(sources, fake_reader({"b.bvh", "d.bvh"}), "toy", ["joy"],
                           **conversion_args(tmp_path / "out", skip_bad=True))
    corpus = report.corpus
    assert len(corpus["train"]) + len(corpus["test"]) == 3
    assert sorted(list(corpus["train"]["actor"]) + list(corpus["test"]["actor"])) == ["a", "c", "e"]
    assert [message.split(":")[0].endswith(name) for message, name in zip(report.skipped, ("b.bvh", "d.bvh"))] == [True] * 2
    summary = report.summary()
    assert "skipped 2 bad file(s)" in summary and "b.bvh: field 'Frames'" in summary and "wrote " in summary


def test_an_existing_folder_that_is_not_a_corpus_is_never_replaced(tmp_path):
    corpus = build_corpus(rows_function([(clip(20, "kdae24", i), "kdae24") for i in range(8)]), ["anger", "joy"])
    kept = tmp_path / "mine"
    kept.mkdir()
    (kept / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match=r"mine: exists and was not written by this project"):
        save_corpus(corpus, [get_layout("kdae24")], kept)
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    save_corpus(corpus, [get_layout("kdae24")], empty)
    save_corpus(corpus, [get_layout("kdae24")], empty)  # a previous corpus is replaced
    assert len(load_corpus(empty)["train"]) == len(corpus["train"])
    (empty / "my_notes.txt").write_text("mine")  # a file a user put beside the corpus
    with pytest.raises(FileExistsError, match=r"holds files this project did not write, or changed since \(my_notes.txt\)"):
        save_corpus(corpus, [get_layout("kdae24")], empty)
    assert (empty / "my_notes.txt").read_text() == "mine" and load_corpus(empty)


@pytest.mark.parametrize("output", [".", "..", "sub"])
def test_a_conversion_refuses_to_write_over_its_input(tmp_path, output):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.bvh").write_text("HIERARCHY")
    (tmp_path / "dataset_dict.json").write_text("{}")  # the parent even looks like a corpus
    (tmp_path / "layouts.json").write_text("[]")
    sources = [ClipSource(inputs / f"{name}.bvh", "joy", actor=name) for name in "abcde"]
    args = conversion_args(inputs / output, input_dir=inputs)
    if output == "sub":  # a folder inside the input folder is fine
        convert_files(sources, fake_reader(set()), "toy", ["joy"], **args)
        assert load_corpus(inputs / "sub")
    else:
        with pytest.raises(ValueError, match=r"--output-dir .*: is --input-dir .*in or a folder above it"):
            convert_files(sources, fake_reader(set()), "toy", ["joy"], **args)
    assert (inputs / "a.bvh").read_text() == "HIERARCHY"


def test_one_layout_name_for_two_skeletons_stops_the_conversion_or_skips_the_odd_files(tmp_path):
    five = layout_from_hierarchy("test_mine", ["Hips", "Spine", "Head", "LeftUpLeg", "RightUpLeg"], [-1, 0, 1, 0, 0])
    four = layout_from_hierarchy("test_mine", ["Hips", "Spine", "Head", "LeftUpLeg"], [-1, 0, 1, 0])

    def read(path):
        layout = five if path.name < "e" else four
        return Motion(np.zeros((3, layout.num_joints, 3), np.float32), 30.0, layout, str(path))

    sources = [ClipSource(tmp_path / f"{name}.bvh", "joy", actor=name) for name in "abcdef"]
    with pytest.raises(ValueError, match=r"e.bvh: field 'layout' is 'test_mine' with 4 joints, but the layout "
                                         r"'test_mine' read from .*a.bvh \(5 joints\) differs in \['joint_names', "
                                         r"'parents', 'canonical', 'body_parts'\]"):
        convert_files(sources, read, "toy", ["joy"], **conversion_args(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    report = convert_files(sources, read, "toy", ["joy"], **conversion_args(tmp_path / "skipped", skip_bad=True))
    assert [message.split(":")[0].rsplit("/", 1)[1] for message in report.skipped] == ["e.bvh", "f.bvh"]
    assert "skipped 2 bad file(s)" in report.summary() and len(report.corpus["train"]) + len(report.corpus["test"]) == 4
    not_kdae = layout_from_hierarchy("kdae24", four.joint_names, four.parents)
    with pytest.raises(ValueError, match=r"a.bvh: field 'layout' is 'kdae24' with 4 joints, but the layout "
                                         r"'kdae24' in the registry \(24 joints\)"):
        convert_files(sources, lambda path: Motion(np.zeros((3, 4, 3), np.float32), 30.0, not_kdae, str(path)),
                      "toy", ["joy"], **conversion_args(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_an_empty_conversion_is_an_error():
    with pytest.raises(ValueError, match="no clips to write"):
        build_corpus(lambda: iter(()), ["joy"])


def test_labels_are_checked_against_the_corpus_label_set_with_synonyms():
    mapping = {"happy": "happiness", "joy": "happiness"}
    assert check_label("HAPPY", ["happiness", "anger"], "f.bvh", mapping) == "happiness"
    assert check_label(" Anger ", ["happiness", "anger"], "f.bvh") == "anger"
    with pytest.raises(ValueError, match=r"f.bvh: field 'label' is 'pride', expected one of \['anger', 'happiness'\]"):
        check_label("pride", ["happiness", "anger"], "f.bvh")


def test_labels_csv_errors_name_the_file_and_line(tmp_path):
    good = tmp_path / "labels.csv"
    good.write_text("file,label,actor\na.bvh,Joy,A1\nsub/b.bvh,anger,A2\n")
    assert read_labels_csv(good)["sub/b.bvh"] == {"label": "anger", "actor": "A2", "action": "", "description": ""}
    no_label = tmp_path / "no_label.csv"
    no_label.write_text("file,emotion\na.bvh,joy\n")
    with pytest.raises(ValueError, match="no_label.csv: header is"):
        read_labels_csv(no_label)
    empty = tmp_path / "empty.csv"
    empty.write_text("file,label\na.bvh,\n")
    with pytest.raises(ValueError, match="empty.csv: line 2"):
        read_labels_csv(empty)
    twice = tmp_path / "twice.csv"
    twice.write_text("file,label\na.bvh,joy\nb.bvh,anger\na.bvh,fear\n")
    with pytest.raises(ValueError, match=r"twice.csv: line 4: field 'file' is 'a.bvh' again \(first on line 2\)"):
        read_labels_csv(twice)


def test_a_bare_file_name_in_the_labels_csv_must_name_one_file(tmp_path):
    files = [tmp_path / "A1" / "take1.txt", tmp_path / "A2" / "take1.txt", tmp_path / "A2" / "take2.txt"]
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\nA1/take1.txt,joy\nA2/take1.txt,anger\ntake2.txt,fear\n")
    sources = sources_from_labels_csv(tmp_path, files, csv, None)
    assert [(s.path.relative_to(tmp_path).as_posix(), s.label) for s in sources] == [
        ("A1/take1.txt", "joy"), ("A2/take1.txt", "anger"), ("A2/take2.txt", "fear")]
    csv.write_text("file,label\ntake1.txt,joy\ntake2.txt,fear\n")
    with pytest.raises(ValueError, match=r"labels.csv: field 'file' is 'take1.txt', which names 2 files in .*; "
                                         r"expected the path relative to .*, e.g. 'A1/take1.txt'"):
        sources_from_labels_csv(tmp_path, files, csv, None)


def test_too_few_clips_for_a_test_part_is_an_error():
    clips = [(clip(20, "kdae24", i), "kdae24") for i in range(2)]
    with pytest.raises(ValueError, match="2 clips give an empty test part with --test-fraction 0.2"):
        build_corpus(rows_function(clips), ["anger", "joy"])
