"""Publishing: the exported folder, remote code in a fresh process without this project, the
skeleton-emotion pipeline, the Inference Endpoints handler and pushing without the Hub."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import constants
from tiny_models import (LABELS, LAYOUTS, NUM_FRAMES, load_exported_handler, save_tiny_run, tiny_language_model,
                         tiny_tokenizer)

from eai_llm.configuration_eai import EAIConfig, EAISkeletonConfig
from eai_llm.folders import MANIFEST
from eai_llm.hub import export, push
from eai_llm.inference import evidence, explain
from eai_llm.joint_layout import JointLayout
from eai_llm.layouts import layout_from_hierarchy
from eai_llm.modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder
from eai_llm.motion import read_bvh, to_known_layout
from eai_llm.processing_eai import SKELETON_TOKEN, EAIProcessor, SkeletonProcessor
from eai_llm.pipeline_eai import SkeletonEmotionPipeline

REMOTE_CODE = {"configuration_eai.py", "modeling_eai.py", "processing_eai.py", "pipeline_eai.py", "joint_layout.py",
               "labels.py", "motion.py", "inference.py", "kinematics.py", "layouts.py", "descriptors.py", "claims.py"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny model saved as train.py saves it (with an eval report beside it), and its export."""
    folder = tmp_path_factory.mktemp("hub")
    model_dir, clip = save_tiny_run(folder)
    (folder / "run" / "eval").mkdir()
    (folder / "run" / "eval" / "metrics.json").write_text(json.dumps(
        {"recognition_score": {"accuracy": {"emilya": 0.5, "overall": 0.5}, "error_rate": 0.0, "num_clips": 4}}))
    return model_dir, export(model_dir, folder / "export"), clip


def test_export_writes_remote_code_auto_maps_a_handler_and_a_model_card(exported):
    _, folder, _ = exported
    files = {path.name for path in folder.iterdir()}
    assert REMOTE_CODE | {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json",
                          "handler.py", "requirements.txt", "README.md"} <= files
    assert not any(name.startswith(("training", "evaluation", "hub", "corpus", "text_")) for name in files)
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {"AutoConfig": "configuration_eai.EAIConfig",
                                  "AutoModelForCausalLM": "modeling_eai.EAILlamaForCausalLM",
                                  "AutoModel": "modeling_eai.EAILlamaForCausalLM"}
    assert config["custom_pipelines"]["skeleton-emotion"]["impl"] == "pipeline_eai.SkeletonEmotionPipeline"
    processor_config = json.loads((folder / "processor_config.json").read_text())
    assert processor_config["auto_map"] == {"AutoProcessor": "processing_eai.EAIProcessor"}
    card = (folder / "README.md").read_text()
    metadata = card.split("---")[1]
    assert "library_name: transformers" in metadata and "pipeline_tag:" in metadata and "base_model:" in metadata
    assert "recognition (score): accuracy 0.500" in card
    for module in REMOTE_CODE:  # relative imports only among the copied modules
        source = (folder / module).read_text()
        assert "from eai_llm" not in source and "import eai_llm" not in source


EVIDENCE_TEXT = "The person walks slowly, trembling, with the head bowed."
FRESH_PROCESS = r"""
import importlib, importlib.util, json, sys
sys.path.append(sys.argv[1])  # site-packages without processing .pth files: no editable install of eai_llm
assert importlib.util.find_spec("eai_llm") is None, "eai_llm must not be importable here"
import numpy as np, torch
from transformers import AutoModel, AutoModelForCausalLM, AutoProcessor, pipeline
folder, clip_file, out, EVIDENCE_TEXT = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
assert type(AutoModel.from_pretrained(folder, trust_remote_code=True)).__name__ == "EAILlamaForCausalLM"
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
clips = np.load(out + "/clips.npz")
batch = processor([processor.recognition_prompt(), processor.description_prompt("anger")],
                  [clips["a"], clips["b"]], ["xsens_mvn28", "kdae24"], fps=[120.0, 30.0])
with torch.no_grad():
    logits = model(**batch).logits
tokens = model.generate(**batch, max_new_tokens=4, do_sample=False)
explainer = pipeline("skeleton-emotion", model=folder, trust_remote_code=True)
result = explainer(clip_file, max_new_tokens=4)
remote = importlib.import_module(type(explainer).__module__.rsplit(".", 1)[0] + ".inference")  # the copied module
kdae24 = remote.JointLayout.from_dict(next(l for l in processor.feature_extractor.layouts if l["name"] == "kdae24"))
evidence = [remote.evidence(EVIDENCE_TEXT, clips["b"], kdae24, fps, model.config.descriptor_populations)
            for fps in (30.0, None)]
np.savez(out + "/remote.npz", logits=logits.numpy(), tokens=tokens.numpy())
json.dump({"types": [type(model).__name__, type(processor).__name__, type(explainer).__name__], "pipeline": result,
           "evidence": evidence}, open(out + "/remote.json", "w"), allow_nan=False)
"""


def test_exported_folder_loads_in_a_fresh_process_without_this_project_and_matches(exported, tmp_path):
    model_dir, folder, clip_file = exported
    rng = np.random.default_rng(0)
    clips = {"a": rng.normal(size=(10, 28, 3)).astype(np.float32), "b": rng.normal(size=(40, 24, 3)).astype(np.float32)}
    np.savez(tmp_path / "clips.npz", **clips)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    completed = subprocess.run([sys.executable, "-S", "-c", FRESH_PROCESS, sysconfig.get_paths()["purelib"],
                                str(folder), str(clip_file), str(tmp_path), EVIDENCE_TEXT], cwd=tmp_path, env=environment,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    remote = json.loads((tmp_path / "remote.json").read_text())
    assert remote["types"] == ["EAILlamaForCausalLM", "EAIProcessor", "SkeletonEmotionPipeline"]

    model, processor = EAILlamaForCausalLM.from_pretrained(model_dir).eval(), EAIProcessor.from_pretrained(model_dir)
    batch = processor([processor.recognition_prompt(), processor.description_prompt("anger")],
                      [clips["a"], clips["b"]], ["xsens_mvn28", "kdae24"], fps=[120.0, 30.0])
    arrays = np.load(tmp_path / "remote.npz")
    with torch.no_grad():
        np.testing.assert_allclose(arrays["logits"], model(**batch).logits.numpy(), atol=1e-5)
    np.testing.assert_array_equal(arrays["tokens"], model.generate(**batch, max_new_tokens=4, do_sample=False).numpy())
    motion = to_known_layout(read_bvh(clip_file, end_sites=True), processor.feature_extractor.layouts)
    local = explain(model, processor, motion.positions, motion.layout.name, motion.fps, max_new_tokens=4)
    assert remote["pipeline"]["label"] == local["label"]
    assert remote["pipeline"]["scores"] == pytest.approx(local["scores"], abs=1e-5)
    assert remote["pipeline"]["explanation"] == local["explanation"]
    assert remote["pipeline"]["evidence"] == local["evidence"]  # the descriptor populations travel in config.json
    assert remote["pipeline"]["evidence"]["population"] == "kdae"  # the training corpus of the clip's layout
    layout = JointLayout.from_dict(next(l for l in LAYOUTS if l["name"] == "kdae24"))
    measured, unmeasured = remote["evidence"]  # the remote code's evidence for a text with claims, fps 30 and none
    assert measured == evidence(EVIDENCE_TEXT, clips["b"], layout, 30.0, model.config.descriptor_populations)
    assert sorted(c["quality"] for c in measured["claims"]) == ["head_pitch", "tempo", "tremor"]
    assert all(c["verdict"] != "unchecked" and c["value"] is not None for c in measured["claims"])
    assert [(c["verdict"], c["value"], c["percentile"]) for c in unmeasured["claims"]] == [("unchecked", None, None)] * 3


MODEL_FILES = r"""
import sys
sys.path.insert(0, sys.argv[2])
from model_files.modeling_eai import EAILlamaForCausalLM  # the package holds no layouts.py: no registry to reach
from model_files.processing_eai import EAIProcessor
model = EAILlamaForCausalLM.from_pretrained(sys.argv[1]).eval()
processor = EAIProcessor.from_pretrained(sys.argv[1])
clip = __import__("numpy").random.default_rng(0).normal(size=(40, 24, 3)).astype("float32")
batch = processor(processor.recognition_prompt(), clip, "kdae24", fps=30.0)
print(tuple(model(**batch).logits.shape))
"""


def test_the_model_files_load_and_run_without_the_layout_registry(exported, tmp_path):
    model_dir, _, _ = exported
    package = tmp_path / "model_files"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("configuration_eai.py", "modeling_eai.py", "processing_eai.py", "joint_layout.py", "labels.py",
                 "descriptors.py", "claims.py"):
        shutil.copyfile(Path(__file__).resolve().parents[1] / "eai_llm" / name, package / name)
    completed = subprocess.run([sys.executable, "-c", MODEL_FILES, str(model_dir), str(tmp_path)], capture_output=True,
                               text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert re.search(r"\(1, \d+, \d+\)$", completed.stdout.strip()), completed.stdout[-500:]  # (B, L, vocab) logits


TWO_MODELS = r"""
import importlib.util, json, sys
sys.path.append(sys.argv[1])
assert importlib.util.find_spec("eai_llm") is None, "eai_llm must not be importable here"
import numpy as np, torch
from transformers import AutoModelForCausalLM, AutoProcessor
answers = {}
for folder, joints in ((sys.argv[2], 5), (sys.argv[3], 4)):
    model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    clip = np.random.default_rng(joints).normal(size=(12, joints, 3)).astype(np.float32)
    batch = processor(processor.recognition_prompt(), clip, "shared_name")
    with torch.no_grad():
        answers[joints] = [bool(torch.isfinite(model(**batch).logits).all()), batch["joint_mask"].sum().item()]
    try:
        processor(processor.recognition_prompt(), np.zeros((12, 9 - joints, 3), np.float32), "shared_name")
        answers[f"other {joints}"] = "accepted"
    except ValueError as error:
        answers[f"other {joints}"] = str(error)
json.dump(answers, open(sys.argv[4], "w"))
"""


def save_tiny_model_with_one_layout(layout, folder):
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    encoder = EAISkeletonEncoder(EAISkeletonConfig(
        layouts=[layout], num_frames=NUM_FRAMES, block_channels=[8, 8], block_strides=[2, 2], token_dim=16,
        id2label=dict(enumerate(LABELS)), corpus_labels={"toy": LABELS})).eval()
    model = EAILlamaForCausalLM.from_parts(tiny_language_model(len(tokenizer)), encoder,
                                           tokenizer.convert_tokens_to_ids(SKELETON_TOKEN))
    model.save_pretrained(folder)
    EAIProcessor(SkeletonProcessor([layout], num_frames=NUM_FRAMES), tokenizer, model.config).save_pretrained(folder)


def test_two_exported_models_whose_layouts_share_a_name_both_work_in_one_process(tmp_path):
    five = layout_from_hierarchy("shared_name", ["Hips", "Spine", "Head", "LeftUpLeg", "RightUpLeg"], [-1, 0, 1, 0, 0])
    four = layout_from_hierarchy("shared_name", ["Hips", "Spine", "Head", "LeftUpLeg"], [-1, 0, 1, 0])
    exports = []
    for name, layout in (("five", five), ("four", four)):
        save_tiny_model_with_one_layout(layout, tmp_path / name / "model")
        exports.append(export(tmp_path / name / "model", tmp_path / f"export_{name}"))
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    completed = subprocess.run([sys.executable, "-S", "-c", TWO_MODELS, sysconfig.get_paths()["purelib"],
                                *map(str, exports), str(tmp_path / "answers.json")], cwd=tmp_path, env=environment,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    answers = json.loads((tmp_path / "answers.json").read_text())
    assert answers["5"] == [True, 5] and answers["4"] == [True, 4]
    assert "has 4 joints, expected 5 for layout 'shared_name'" in answers["other 5"]
    assert "has 5 joints, expected 4 for layout 'shared_name'" in answers["other 4"]


def test_pipeline_takes_a_file_bvh_text_or_positions(exported):
    model_dir, _, clip_file = exported
    model, processor = EAILlamaForCausalLM.from_pretrained(model_dir).eval(), EAIProcessor.from_pretrained(model_dir)
    pipe = SkeletonEmotionPipeline(model=model, processor=processor)
    from_file = pipe(str(clip_file), max_new_tokens=3)
    assert from_file["label"] in model.config.labels and sorted(from_file["scores"]) == sorted(model.config.labels)
    assert pipe(clip_file.read_text(), max_new_tokens=3) == from_file
    motion = to_known_layout(read_bvh(clip_file, end_sites=True), LAYOUTS)
    as_lists = {"positions": motion.positions.tolist(), "layout": "kdae24", "fps": motion.fps}
    assert pipe(as_lists, max_new_tokens=3)["label"] == from_file["label"]


def test_endpoint_handler_answers_and_returns_errors_not_tracebacks(exported):
    _, folder, clip_file = exported
    handler = load_exported_handler(folder)
    answer = handler({"inputs": {"bvh": clip_file.read_text()}, "parameters": {"max_new_tokens": 3}})
    assert set(answer) == {"label", "scores", "explanation", "evidence"}
    json.dumps(answer, allow_nan=False)  # a JSON response: unmeasured values are null, not NaN
    bad_requests = [
        {"inputs": {"positions": np.zeros((10, 5, 3)).tolist(), "layout": "kdae24"}},  # wrong joint count
        {"inputs": {"positions": np.zeros((10, 24)).tolist(), "layout": "kdae24"}},  # wrong shape
        {"inputs": {"positions": np.zeros((10, 25, 3)).tolist(), "layout": "kinect_v3"}},  # unknown layout
        {"inputs": {"bvh": "HIERARCHY\nROOT Hips"}},  # truncated BVH
        {"inputs": {"bvh": str(clip_file)}},  # a path on the server is not read
        {"inputs": {"bvh": clip_file.read_text()}, "parameters": {"layout": "kdae24"}},
        {"inputs": {"video": "clip.mp4"}},
        {"inputs": "clip.bvh"},
    ]
    for request in bad_requests:
        response = handler(request)
        assert response["status"] == 400 and isinstance(response["error"], str), (request, response)
    assert "kinect_v3" in handler(bad_requests[2])["error"]


def test_loading_a_folder_of_another_model_type_is_a_clear_error(tmp_path):
    from tiny_models import tiny_encoder
    tiny_encoder().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'model_type' is 'eai_skeleton_encoder', expected 'eai_llm'"):
        EAILlamaForCausalLM.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'model_type' is 'eai_skeleton_encoder'"):
        EAIConfig.from_pretrained(tmp_path)


def test_a_model_folder_without_its_processor_files_is_a_clear_error(exported, tmp_path):
    model_dir, _, _ = exported
    for path in model_dir.iterdir():
        if path.name in ("config.json", "model.safetensors"):
            (tmp_path / path.name).write_bytes(path.read_bytes())
    with pytest.raises(OSError, match="no processor_config.json"):
        EAIProcessor.from_pretrained(tmp_path)


def test_push_fails_clearly_when_offline_or_without_a_token(exported, monkeypatch, tmp_path):
    _, folder, _ = exported
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE is set"):
        push(folder, "someone/eai-llm")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    with pytest.raises(RuntimeError, match="no Hub token"):
        push(folder, "someone/eai-llm", private=True, revision="v1")


def test_push_creates_a_model_repo_or_a_gradio_space_and_uploads_the_export(exported, monkeypatch):
    import eai_llm.hub

    calls = []

    class RecordingApi:  # the Hub's client, as far as push uses it
        def __init__(self, token=None):
            pass

        def whoami(self):
            return {"name": "someone"}

        def __getattr__(self, name):
            return lambda *args, **kwargs: calls.append((name, args, kwargs)) or type("Commit", (), {"commit_url": "url"})

    _, folder, _ = exported
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(eai_llm.hub, "HfApi", RecordingApi)
    assert push(folder, "someone/eai-llm", revision="v1") == "url"
    assert push(folder, "someone/eai-llm-demo", space=True) == "url"
    (create, model_args, model), (branch, _, branch_kwargs), (upload, _, upload_kwargs) = calls[:3]
    assert (create, upload, model["repo_type"], upload_kwargs["repo_type"]) == ("create_repo", "upload_folder", "model", "model")
    assert branch == "create_branch" and branch_kwargs["branch"] == "v1" and upload_kwargs["revision"] == "v1"
    assert upload_kwargs["folder_path"] == str(folder) and MANIFEST in upload_kwargs["ignore_patterns"]
    (_, _, space), (_, _, space_upload) = calls[3:]
    assert space["repo_type"] == space_upload["repo_type"] == "space" and space["space_sdk"] == "gradio"


def test_with_eai_llm_imported_the_auto_classes_load_its_own_classes_without_remote_code(exported):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoProcessor

    model_dir, _, _ = exported
    assert type(AutoConfig.from_pretrained(model_dir)) is EAIConfig
    assert type(AutoModelForCausalLM.from_pretrained(model_dir)) is EAILlamaForCausalLM
    assert type(AutoProcessor.from_pretrained(model_dir)) is EAIProcessor


def test_publish_command_exports_then_stops_with_a_message_when_offline(exported, tmp_path):
    import publish

    model_dir, _, _ = exported
    with pytest.raises(SystemExit, match="HF_HUB_OFFLINE is set"):
        publish.main(["--model", str(model_dir), "--export-dir", str(tmp_path / "hub"), "--repo-id", "someone/x"])
    assert (tmp_path / "hub" / "handler.py").is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["hub"]


def test_publish_never_deletes_a_folder_it_did_not_write(exported, tmp_path):
    import publish

    model_dir, _, _ = exported
    target = tmp_path / "mine"
    (target / "sub").mkdir(parents=True)
    (target / "important.txt").write_text("keep")
    with pytest.raises(SystemExit, match="mine: exists and was not written by this project"):
        publish.main(["--model", str(model_dir), "--export-dir", str(target)])
    assert (target / "important.txt").read_text() == "keep" and (target / "sub").is_dir()
    publish.main(["--model", str(model_dir), "--export-dir", str(tmp_path / "hub")])
    (tmp_path / "hub" / "notes.md").write_text("mine too")  # a file added to an export
    with pytest.raises(SystemExit, match=r"holds files this project did not write, or changed since \(notes.md\)"):
        publish.main(["--model", str(model_dir), "--export-dir", str(tmp_path / "hub")])
    assert (tmp_path / "hub" / "notes.md").read_text() == "mine too"


def test_an_export_killed_at_random_points_leaves_the_old_export_or_the_new_one(exported, tmp_path):
    import random
    import signal
    import time

    model_dir, _, _ = exported
    target = tmp_path / "hub"
    command = [sys.executable, str(Path(__file__).resolve().parents[1] / "publish.py"), "--model", str(model_dir),
               "--export-dir", str(target)]
    subprocess.run(command, check=True, capture_output=True)
    files = sorted(p.name for p in target.iterdir())
    rng = random.Random(2)
    for _ in range(3):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 12.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert sorted(p.name for p in target.iterdir()) == files  # a whole export, old or new
        EAIConfig.from_pretrained(target)
    subprocess.run(command, check=True, capture_output=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub"]  # killed runs left nothing behind
