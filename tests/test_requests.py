"""Request checking (pipeline_eai.check_request) in the skeleton-emotion pipeline, the Inference Endpoints
handler and predict.py: limits, clean messages instead of tracebacks, files and fps, and a property test
of the handler on generated payloads."""

import json
import math
import sys
import tempfile
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import LABELS, LAYOUTS, load_exported_handler, save_tiny_run

import eai_llm.pipeline_eai as pipeline_module
from eai_llm.hub import export
from eai_llm.modeling_eai import EAILlamaForCausalLM
from eai_llm.motion import MAX_FILE_BYTES, MAX_FRAMES, MAX_JOINTS, read_for_layouts
from eai_llm.pipeline_eai import SkeletonEmotionPipeline
from eai_llm.processing_eai import EAIProcessor

JOINTS = 24  # kdae24, the layout of the test clip


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny model saved as train.py saves it, its export and a kdae24 BVH clip."""
    folder = tmp_path_factory.mktemp("requests")
    model_dir, clip = save_tiny_run(folder)
    return model_dir, export(model_dir, folder / "export"), clip


@pytest.fixture(scope="module")
def pipe(exported):
    model_dir, _, _ = exported
    return SkeletonEmotionPipeline(model=EAILlamaForCausalLM.from_pretrained(model_dir).eval(),
                                   processor=EAIProcessor.from_pretrained(model_dir))


@pytest.fixture(scope="module")
def handler(exported):
    """The exported handler.py, as an endpoint loads it (the pipeline from the folder's remote code)."""
    _, folder, _ = exported
    return load_exported_handler(folder)


@pytest.fixture(scope="module")
def positions(exported):
    """The test clip's kdae24 positions (T, 24, 3)."""
    return read_for_layouts(exported[2], LAYOUTS).positions


@pytest.fixture
def no_model_work(monkeypatch, handler):
    """Fail any call that reaches the model, in the local and the handler's (remote code) pipeline."""
    def explain(*args, **kwargs):
        raise AssertionError("the request reached the model")

    monkeypatch.setattr(pipeline_module, "explain", explain)
    monkeypatch.setattr(sys.modules[type(handler.pipeline).__module__], "explain", explain)


def assert_refused(response, *words):
    assert set(response) == {"error", "status"} and response["status"] == 400, response
    assert isinstance(response["error"], str) and all(word in response["error"] for word in words), response


def assert_answer(response):
    assert set(response) == {"label", "scores", "explanation", "evidence"}, response
    assert response["label"] in LABELS and sorted(response["scores"]) == sorted(LABELS)
    assert all(math.isfinite(p) for p in response["scores"].values()) and isinstance(response["explanation"], str)


# ------------------------------------------------------------------------------- 1. limits, parameters

def test_too_many_frames_is_refused_at_once_without_converting_the_request(handler, no_model_work):
    frame = [[0.0, 0.0, 0.0]] * JOINTS
    for frames in (MAX_FRAMES + 1, 10**6):  # the probe's 10^6 frames took 19 s and 734 MB, then answered 200
        start = time.perf_counter()
        response = handler({"inputs": {"positions": [frame] * frames, "layout": "kdae24"}})
        assert time.perf_counter() - start < 1
        assert_refused(response, "'positions'", f"{frames} frames", str(MAX_FRAMES))
    assert_refused(handler({"inputs": {"positions": [frame], "layout": "kdae24"}}), "1 frames", "2 to")


def test_max_frames_is_accepted(handler, positions):
    rows = positions.tolist()
    frames = [rows[t % len(rows)] for t in range(MAX_FRAMES)]  # shared rows: a cheap list to build
    assert_answer(handler({"inputs": {"positions": frames, "layout": "kdae24", "fps": 30},
                           "parameters": {"max_new_tokens": 1}}))


def test_too_many_joints_and_the_wrong_joint_count_are_refused(handler, no_model_work):
    too_many = [[[0.0, 0.0, 0.0]] * (MAX_JOINTS + 1)] * 2
    assert_refused(handler({"inputs": {"positions": too_many, "layout": "kdae24"}}), f"at most {MAX_JOINTS}")
    assert_refused(handler({"inputs": {"positions": [[[0.0] * 3] * 28] * 4, "layout": "kdae24"}}),
                   "28 joints", "expected 24")


def test_bvh_text_over_the_byte_limit_is_refused_before_it_is_read(handler, pipe, monkeypatch, no_model_work):
    start = time.perf_counter()
    assert_refused(handler({"inputs": {"bvh": "HIERARCHY" + " " * MAX_FILE_BYTES}}), "'bvh'", str(MAX_FILE_BYTES))
    assert time.perf_counter() - start < 5
    monkeypatch.setattr(pipeline_module, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ValueError, match="more than 1000 bytes"):  # bytes, not characters: "é" is 2 bytes
        pipe("HIERARCHY " + "é" * 600)
    with pytest.raises(ValueError, match="request BVH"):  # 610 bytes: past the limit check, refused by the reader
        pipe("HIERARCHY " + "e" * 600)


@pytest.mark.parametrize("value", [0, -1, 513, 10**6, 10**400, 3.0, True, False, "3", None, [3], float("nan")])
def test_max_new_tokens_must_be_an_integer_from_1_to_512_checked_before_the_model(value, handler, pipe, exported,
                                                                                  no_model_work):
    text = exported[2].read_text()
    assert_refused(handler({"inputs": {"bvh": text}, "parameters": {"max_new_tokens": value}}),
                   "'max_new_tokens'", "1 to 512")
    with pytest.raises(ValueError, match="'max_new_tokens' .* expected an integer from 1 to 512"):
        pipe(text, max_new_tokens=value)


def test_positions_must_be_finite_numbers_within_range(handler, positions, no_model_work):
    def request(value):
        frames = positions.tolist()
        frames[1][2][0] = value
        return {"inputs": {"positions": frames, "layout": "kdae24"}}

    assert_refused(handler(request(1001.0)), "[1001.0, ", "at frame 1", "within 1000 m")
    assert_refused(handler(request(float("inf"))), "[inf, ", "at frame 1", "within 1000 m")
    assert_refused(handler(request(float("nan"))), "NaN", "frames [1]", "finite")
    assert_refused(handler(request(None)), "not a number")
    assert_refused(handler(request("x")), "real numbers")  # a string among the numbers: not cast
    assert_refused(handler(request([1.0, 2.0])), "not (frames, joints, 3)")
    assert_refused(handler({"inputs": {"positions": positions.tolist(), "layout": "kinect_v3"}}), "kinect_v3",
                   "this model's layouts")


def test_joint_weights_come_by_joint_name_only_when_asked_for(pipe, exported):
    from eai_llm.layouts import get_layout

    clip = str(exported[2])
    weights = pipe(clip, return_joint_weights=True, max_new_tokens=2)["joint_weights"]
    assert list(weights) == list(get_layout("kdae24").joint_names) and sum(weights.values()) == pytest.approx(1)
    assert "joint_weights" not in pipe(clip, max_new_tokens=2)
    with pytest.raises(ValueError, match="parameter 'return_joint_weights' is 'yes', expected true or false"):
        pipe(clip, return_joint_weights="yes")


def test_unknown_and_misplaced_parameters_are_refused(handler, pipe, exported, no_model_work):
    text = exported[2].read_text()
    assert_refused(handler({"inputs": {"bvh": text}, "parameters": {"temperature": 0.5}}), "temperature")
    assert_refused(handler({"inputs": {"bvh": text}, "parameters": [1]}), "'parameters' is a list")
    for name, value in (("fps", 30), ("layout", "kdae24")):
        assert_refused(handler({"inputs": {"bvh": text}, "parameters": {name: value}}), f"'{name}'", ".npy/.npz")
        with pytest.raises(ValueError, match=f"'{name}' applies to .* files only, and the input is a .bvh file"):
            pipe(str(exported[2]), **{name: value})


# --------------------------------------------------------------------------- 2. messages, not tracebacks

def test_an_integer_beyond_float_range_is_a_message_not_an_overflow_error(handler, pipe, no_model_work):
    request = {"positions": [[[10**400, 0, 0]] * JOINTS] * 3, "layout": "kdae24"}
    assert_refused(handler({"inputs": request}), "'positions'", "float range")
    with pytest.raises(ValueError, match="float range"):
        pipe(request)
    with pytest.raises(ValueError, match="'fps' is an integer of 1329 bits"):
        pipe("clip.npy", fps=10**400)


def test_an_empty_list_is_a_message_and_a_list_of_clips_a_batch(pipe, exported):
    with pytest.raises(ValueError, match="empty list"):
        pipe([])
    answers = pipe([str(exported[2]), exported[2].read_text()], max_new_tokens=2)
    assert len(answers) == 2 and answers[0] == answers[1]


def test_predict_guards_the_explanation_too(exported, monkeypatch):
    import predict

    def explain(*args, **kwargs):
        raise ValueError("clip 0: field 'positions' is bad")

    monkeypatch.setattr(predict, "explain", explain)
    with pytest.raises(SystemExit, match="predict.py: clip 0: field 'positions' is bad"):
        predict.main(["--model", str(exported[0]), str(exported[2])])


# ------------------------------------------------------------------- 3. files, fps, paths in messages

def test_pipeline_reads_npy_and_npz_with_fps_and_layout(pipe, positions, tmp_path):
    expected = pipe({"positions": positions.tolist(), "layout": "kdae24", "fps": 30}, max_new_tokens=3)
    with pytest.raises(ValueError, match="field 'fps' is missing, expected the clip's frames per second"):
        pipe({"positions": positions.tolist(), "layout": "kdae24"})  # this model computes movement descriptors
    np.save(tmp_path / "clip.npy", positions)
    assert pipe(str(tmp_path / "clip.npy"), fps=30, layout="kdae24", max_new_tokens=3) == expected
    np.savez(tmp_path / "clip.npz", positions=positions, fps=30)
    assert pipe(tmp_path / "clip.npz", layout="kdae24", max_new_tokens=3) == expected
    with pytest.raises(ValueError, match="'fps' is missing"):
        pipe(str(tmp_path / "clip.npy"), layout="kdae24")
    with pytest.raises(ValueError, match="neither BVH text .* nor the path of a .bvh, .mvnx, .npy, .npz, .txt, .csv"):
        pipe(str(tmp_path / "clip.json"))
    kinect = np.random.default_rng(3).uniform(-1, 1, (6, 75))  # a Kinect V2 text file: 25 joints x 3 per line
    (tmp_path / "clip.txt").write_text("\n".join(" ".join(f"{v:.5f}" for v in row) for row in kinect) + "\n")
    with pytest.raises(ValueError, match=r"clip.txt: parameter 'format' is missing, expected one of \['kinect_v2', "):
        pipe(str(tmp_path / "clip.txt"))
    with pytest.raises(ValueError, match="parameter 'format' is 'kinect', expected one of"):
        pipe(str(tmp_path / "clip.txt"), format="kinect")
    mapped = pipe(str(tmp_path / "clip.txt"), format="kinect_v2", fps=30, max_new_tokens=3)  # a skeleton the model
    assert mapped["label"] in expected["scores"] and mapped["placed_joints"]  # was not trained on, read onto one of its
    assert "placed_joints" not in expected  # a clip of the model's own skeleton: every joint measured
    with pytest.raises(ValueError, match="parameter 'layout' is 'kinect_v2', expected one of this model's layouts"):
        pipe(str(tmp_path / "clip.npy"), fps=30, layout="kinect_v2")
    for fps in (0, -1, float("nan"), float("inf"), 1001, True, "30"):
        with pytest.raises(ValueError, match="parameter 'fps' .* expected a number of frames per second"):
            pipe(str(tmp_path / "clip.npy"), fps=fps, layout="kdae24")


def test_the_handler_reads_no_server_file_and_echoes_none(handler, tmp_path, no_model_work):
    secret = tmp_path / "secret.bvh"
    secret.write_text("TOP-SECRET line one\n")
    for request in ({"inputs": str(secret)}, {"inputs": {"bvh": str(secret)}},
                    {"inputs": {"positions": str(secret), "layout": "kdae24"}}, {"bvh": str(secret)}):
        response = handler(request)
        assert_refused(response)
        assert "TOP-SECRET" not in response["error"], (request, response)
    assert_refused(handler({"inputs": str(secret)}), "no file is read")


def test_messages_name_request_bvh_not_a_server_temp_path(handler, pipe, exported):
    truncated = exported[2].read_text()[:400]
    for error in (handler({"inputs": {"bvh": truncated}})["error"], handler({"inputs": truncated})["error"]):
        assert error.startswith("request BVH: ") and tempfile.gettempdir() not in error, error
    with pytest.raises(ValueError, match="^request BVH: ") as caught:
        pipe(truncated)
    assert tempfile.gettempdir() not in str(caught.value)


# ---------------------------------------------------------------------------------------- 4. predict.py

def test_predict_reads_the_motion_file_before_loading_the_model(exported, tmp_path, monkeypatch):
    import predict

    def load_trained(*args, **kwargs):
        raise AssertionError("the model was loaded before the motion file was read")

    monkeypatch.setattr(predict, "load_trained", load_trained)
    with pytest.raises(SystemExit, match="predict.py: .*missing.bvh"):
        predict.main(["--model", str(exported[0]), str(tmp_path / "missing.bvh")])
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT Hips\n")
    with pytest.raises(SystemExit, match="predict.py: .*bad.bvh"):
        predict.main(["--model", str(exported[0]), str(tmp_path / "bad.bvh")])


def test_predict_prints_the_explanation_of_a_file(exported, capsys):
    import predict

    predict.main(["--model", str(exported[0]), str(exported[2])])
    assert_answer(json.loads(capsys.readouterr().out))


# ------------------------------------------------------------------------------------ 5. property test

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([10**400, -10**400, 2**64, 0.0]),
                   st.floats(), st.text(max_size=12))
JSON_LIKE = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=20)


def nested(depth: int) -> list | float:
    value = 1.0
    for _ in range(depth):
        value = [value]
    return value


NESTED = st.integers(0, 80).map(nested)


def with_value(rows: list, edit) -> list:
    """``rows`` (T, J, 3) with the coordinate at flat index ``edit[0]`` (modulo the size) set to ``edit[1]``."""
    if edit is not None:
        t, rest = divmod(edit[0] % (len(rows) * len(rows[0]) * 3), len(rows[0]) * 3)
        rows[t][rest // 3][rest % 3] = edit[1]
    return rows


CLIP_SHAPES = st.tuples(st.sampled_from([("kdae24", 24), ("xsens_mvn28", 28)]), st.integers(2, 5))
PLAUSIBLE_CLIPS = CLIP_SHAPES.flatmap(lambda shape: st.fixed_dictionaries({
    "positions": st.builds(with_value, st.lists(st.lists(st.lists(st.floats(-2, 2), min_size=3, max_size=3),
                                                         min_size=shape[0][1], max_size=shape[0][1]),
                                                min_size=shape[1], max_size=shape[1]),
                           st.none() | st.tuples(st.integers(0, 10**6), LEAVES)),
    "layout": st.just(shape[0][0])}, optional={"fps": st.one_of(st.sampled_from([30, 120.0, 24.0]), LEAVES)}))
POSITIONS = st.one_of(
    st.tuples(st.integers(0, 3), st.sampled_from([0, 1, 3, 24])).flatmap(lambda shape: st.lists(
        st.lists(st.lists(LEAVES, min_size=3, max_size=3), min_size=shape[1], max_size=shape[1]),
        min_size=shape[0], max_size=shape[0])),
    st.sampled_from([MAX_FRAMES + 1, 10**6]).map(lambda frames: [[[0.0, 0.0, 0.0]] * JOINTS] * frames),
    NESTED, JSON_LIKE)
LAYOUT = st.one_of(st.sampled_from(["kdae24", "xsens_mvn28", "kinect_v2", ""]), LEAVES)
CLIPS = st.one_of(PLAUSIBLE_CLIPS, PLAUSIBLE_CLIPS, st.fixed_dictionaries({"positions": POSITIONS, "layout": LAYOUT}))
VALID_PARAMETERS = st.fixed_dictionaries({"max_new_tokens": st.integers(1, 3)})  # a few tokens: not the default 96
MAX_NEW_TOKENS = st.one_of(st.integers(-2, 3), st.sampled_from([0, 513, 10**6, 10**400, True, 2.0, "2"]), LEAVES)
PARAMETERS = st.one_of(
    VALID_PARAMETERS, VALID_PARAMETERS, VALID_PARAMETERS,
    st.fixed_dictionaries({"max_new_tokens": MAX_NEW_TOKENS}, optional={"fps": LEAVES, "layout": LAYOUT}),
    st.builds(lambda tokens, other: {"max_new_tokens": tokens, "other": other}, MAX_NEW_TOKENS, JSON_LIKE))


def payloads(bvh: str):
    """Requests: anything JSON-like, then ever more plausible ones around ``bvh``, a valid clip's text."""
    cut = st.integers(0, len(bvh))
    texts = st.one_of(st.just(bvh), cut.map(lambda n: bvh[:n]), st.text(max_size=30).map("HIERARCHY ".__add__),
                      st.tuples(cut, st.text(max_size=8)).map(lambda edit: bvh[:edit[0]] + edit[1] + bvh[edit[0]:]),
                      LEAVES)
    return st.one_of(
        JSON_LIKE,
        st.fixed_dictionaries({"inputs": JSON_LIKE}, optional={"parameters": JSON_LIKE}),
        st.fixed_dictionaries({"inputs": CLIPS, "parameters": PARAMETERS}),
        st.fixed_dictionaries({"inputs": st.fixed_dictionaries({"bvh": texts}), "parameters": PARAMETERS}),
        st.builds(lambda text, parameters: {"inputs": text, "parameters": parameters}, texts, PARAMETERS))


@settings(max_examples=60, deadline=5000, database=None)
@given(data=st.data())
def test_the_handler_answers_every_payload_with_a_result_or_a_400(handler, exported, data):
    response = handler(data.draw(payloads(exported[2].read_text()), label="payload"))
    assert isinstance(response, dict)
    if "error" in response:
        assert_refused(response)
    else:
        assert_answer(response)
