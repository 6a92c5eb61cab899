"""Stage-2 training, evaluation, metrics and the explain entry point, on tiny models."""

import copy
import html
import json
import re

import numpy as np
import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file
from transformers import TrainerCallback, set_seed
from tiny_models import (
    tiny_config,
    tiny_model_and_processor,
    tiny_populations,
    write_tiny_corpus,
    write_tiny_parts,
)

from eai_llm.claims import ALL_CORPORA, evidence_line
from eai_llm.configuration_eai import EAIConfig
from eai_llm.corpus import clip_positions, load_corpus
from eai_llm.descriptors import DESCRIPTORS
from eai_llm.evaluation import (ERROR, evaluate_split, latent_faithfulness, parse_label,
                                recognition_metrics)
from eai_llm.inference import description_prompts, evidence, explain, load_trained, read_actions, score_answers
from eai_llm.instruction_tuning import (InstructionCollator, build_model, initialise_projector, instruction_examples,
                                      semantic_tokens, train_llm)
from eai_llm.modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder
from eai_llm.layouts import get_layout
from eai_llm.logging_trainer import answer_token_accuracy, label_accuracy
from eai_llm.processing_eai import EAIProcessor
from eai_llm.report import write_report
from eai_llm.synthetic import generate_clips
from eai_llm.text_metrics import Bleu, Meteor, Rouge
from eai_llm.run_config import LLMSettings, TrainConfig

rng = np.random.default_rng(1)
CLIPS = [rng.normal(size=(12, 28, 3)).astype(np.float32), rng.normal(size=(30, 24, 3)).astype(np.float32)]
CLIP_LAYOUTS = ["xsens_mvn28", "kdae24"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny stage-2 run (D→R, checkpoints every 2 steps) on a tiny synthetic corpus."""
    folder = tmp_path_factory.mktemp("stage2")
    llm_dir, encoder_dir = write_tiny_parts(folder)
    corpus_dir = write_tiny_corpus(folder / "corpus")
    config = TrainConfig(corpus=str(corpus_dir), output_dir=str(folder / "out"), llm=LLMSettings(
        language_model=str(llm_dir), encoder=str(encoder_dir), token_granularity="all", description_epochs=1,
        recognition_epochs=1, batch_size=4, learning_rate=1e-3, lora_r=4, lora_alpha=8, save_steps=2))
    model_dir = train_llm(config)
    return config, model_dir, corpus_dir


# --- parsing and metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("This is a happy person.", "happiness"),
    ("The person shows joy.", "happiness"),  # a synonym counts
    ("She looks joyful and happy.", "happiness"),  # two forms of one label are one label
    ("This is an ANGRY person!", "anger"),
    ("The person is happy, or maybe sad.", ERROR),  # two labels
    ("The person walks to the door.", ERROR),  # none
    ("The person looks unhappy.", ERROR),  # a word that contains a label is not the label
])
def test_labels_are_parsed_as_the_paper_counts_them(text, expected):
    assert parse_label(text, ["anger", "happiness", "sadness"]) == expected


def test_text_metrics_are_perfect_on_identical_texts_and_low_on_unrelated_ones():
    same = ["the person walks slowly with the head down", "arms are raised quickly above the head"]
    other = ["a cat sleeps", "green bottles"]
    assert Rouge().compute(predictions=same, references=same) == {"rouge1": pytest.approx(1), "rougeL": pytest.approx(1)}
    assert Bleu().compute(predictions=same, references=same)["bleu"] == pytest.approx(100)
    assert Meteor().compute(predictions=same, references=same)["meteor"] > 0.99
    assert Rouge().compute(predictions=other, references=same)["rouge1"] == 0
    assert Bleu().compute(predictions=other, references=same)["bleu"] < 1
    assert Meteor().compute(predictions=other, references=same)["meteor"] < 0.1


def test_meteor_counts_wordnet_synonyms():
    reference = ["the man drives a car"]  # NLTK looks synonyms up after Porter stemming: car/auto stem to themselves
    synonym = Meteor().compute(predictions=["the man drives a auto"], references=reference)["meteor"]
    unrelated = Meteor().compute(predictions=["the man drives a tree"], references=reference)["meteor"]
    assert synonym > unrelated + 0.1


# --- scoring -------------------------------------------------------------------------------------------


def test_scoring_with_a_shared_prompt_cache_equals_scoring_each_full_sequence():
    model, processor = tiny_model_and_processor("all")
    answers = [processor.recognition_answer(label) for label in ("anger", "happiness", "sadness")]
    fast = score_answers(model, processor, CLIPS, CLIP_LAYOUTS, answers)
    for b in range(2):
        for k, answer in enumerate(answers):
            batch = processor([processor.recognition_prompt()], CLIPS[b:b + 1], CLIP_LAYOUTS[b:b + 1],
                              completions=[answer])
            logits = model(**batch).logits[0, :-1].log_softmax(-1)
            targets = batch["labels"][0, 1:]
            mask = targets != -100
            full = logits[mask].gather(-1, targets[mask][:, None]).sum()
            assert fast[b, k] == pytest.approx(full.item(), abs=1e-4)


# --- stage-2 training ----------------------------------------------------------------------------------


def test_instruction_examples_follow_the_task_order():
    split = Dataset.from_dict({"description": ["walks", "", "sits", ""], "label": [0, 1, 0, 1]})
    def tasks(examples):
        return examples.features["task"].int2str(examples["task"])

    first = instruction_examples(split, LLMSettings(order="description_first", description_epochs=2), seed=0)
    assert tasks(first) == ["description"] * 4 + ["recognition"] * 4
    assert sorted(first["row"][:4]) == [0, 0, 2, 2] and sorted(first["row"][4:]) == [0, 1, 2, 3]
    last = instruction_examples(split, LLMSettings(order="recognition_first", description_epochs=1), seed=0)
    assert tasks(last) == ["recognition"] * 4 + ["description"] * 2
    mixed = tasks(instruction_examples(split, LLMSettings(order="mixed", description_epochs=3, recognition_epochs=2),
                                       seed=0))
    assert sorted(mixed) == ["description"] * 6 + ["recognition"] * 8
    assert mixed != sorted(mixed) and mixed != sorted(mixed, reverse=True)


def test_instruction_examples_reject_bad_settings():
    split = Dataset.from_dict({"description": ["", ""], "label": [0, 1]})
    with pytest.raises(ValueError, match="no training clip has a description"):
        instruction_examples(split, LLMSettings(description_epochs=1), seed=0)
    with pytest.raises(ValueError, match="order"):
        LLMSettings(order="both", description_epochs=0)
    with pytest.raises(ValueError, match="no training examples"):
        instruction_examples(split, LLMSettings(description_epochs=0, recognition_epochs=0), seed=0)


def test_stage2_writes_a_loadable_merged_model_an_adapter_and_logs(trained):
    _, model_dir, _ = trained
    out = model_dir.parent
    model = EAILlamaForCausalLM.from_pretrained(model_dir)
    processor = EAIProcessor.from_pretrained(model_dir)
    assert not any("lora" in name for name, _ in model.named_parameters())  # merged
    assert (out / "adapter" / "adapter_config.json").is_file()
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["modules_to_save"] == ["projector", "action_readout"]
    assert not [p for folder in (out / "adapter", model_dir) for p in folder.iterdir() if p.suffix in (".bin", ".pt")]
    assert (out / "train-config.yaml").is_file()
    logged = [entry for entry in json.loads((out / "log-llm.json").read_text()) if "loss" in entry]
    assert logged and all(0 <= entry["accuracy"] <= 1 for entry in logged)  # the report's training curves
    assert [part for part, _ in processor.skeleton_token_parts] == ["semantic", "spatial", "temporal"]  # "all"
    assert model.config.num_skeleton_tokens == processor.num_skeleton_tokens
    batch = processor([processor.recognition_prompt()], CLIPS[:1], CLIP_LAYOUTS[:1])
    assert model.generate(**batch, max_new_tokens=3, do_sample=False).shape[1] == batch["input_ids"].shape[1] + 3


def test_stage2_trains_only_lora_and_the_projector_and_the_model_holds_them(trained):
    config, model_dir, _ = trained
    adapter = load_file(model_dir.parent / "adapter" / "adapter_model.safetensors")
    assert adapter and all(any(part in key for part in ("lora_", "projector", "action_readout"))
                           for key in adapter)  # no encoder, no base weight
    merged = EAILlamaForCausalLM.from_pretrained(model_dir)
    trained_projector = next(value for key, value in adapter.items() if key.endswith("projector.weight"))
    assert torch.equal(merged.projector.weight, trained_projector)
    readout = next(value for key, value in adapter.items() if key.endswith("action_readout.weight"))
    assert torch.equal(merged.action_readout.weight, readout)  # the fitted readout travels in the adapter too
    set_seed(config.seed)
    fresh, _ = build_model(config.llm, config.llm.encoder)  # what training started from
    assert not torch.allclose(fresh.projector.weight, trained_projector)
    encoder = EAISkeletonEncoder.from_pretrained(config.llm.encoder)
    assert all(torch.equal(merged.skeleton_encoder.state_dict()[k], v) for k, v in encoder.state_dict().items())


def test_stage2_resumes_an_interrupted_run_from_its_checkpoint(trained, tmp_path, monkeypatch):
    config = copy.deepcopy(trained[0])
    config.output_dir = str(tmp_path / "out")

    class StopAtStep2(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                control.should_save = control.should_training_stop = True

    with pytest.raises(ValueError, match="--resume: no complete checkpoint in .*checkpoints-llm"):
        train_llm(config, resume=True)  # nothing to resume: refused, not silently started over
    train_llm(config, callbacks=[StopAtStep2()])
    checkpoints = tmp_path / "out" / "checkpoints-llm"
    assert [p.name for p in checkpoints.iterdir()] == ["checkpoint-2"]
    half = checkpoints / "checkpoint-3"  # a newer save killed half-way: truncated weights, no trainer_state.json
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes((checkpoints / "checkpoint-2" / "adapter_model.safetensors")
                                                     .read_bytes()[:100])
    batches = []
    original = InstructionCollator.__call__
    monkeypatch.setattr(InstructionCollator, "__call__", lambda self, examples: batches.append(1) or original(self, examples))
    train_llm(config, resume=True)  # falls back to checkpoint-2
    total = json.loads((tmp_path / "out" / "log-llm.json").read_text())[-1]["step"]
    assert total > 2 and len(batches) == total - 2  # only the steps after the checkpoint ran
    train_llm(config)  # without resume: starts over, all steps
    assert len(batches) == (total - 2) + total


def test_training_accuracy_counts_answer_tokens_after_the_shift_and_labels_per_clip():
    logits = torch.zeros(1, 4, 5)
    logits[0, 0, 2] = logits[0, 1, 3] = logits[0, 2, 1] = 1  # predicts tokens 2, 3, 1 for positions 1, 2, 3
    labels = torch.tensor([[-100, 2, 4, 1]])  # the prompt token is not counted; 2 and 1 right, 4 wrong
    assert answer_token_accuracy({"logits": logits}, {"labels": labels}) == (2, 3)
    assert label_accuracy({"logits": torch.tensor([[0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])},
                          {"labels": torch.tensor([1, 1, 1])}) == (2, 3)


# --- evaluation ----------------------------------------------------------------------------------------


def test_evaluation_reports_accuracy_per_corpus_errors_descriptions_and_a_confusion_matrix(trained, tmp_path):
    _, model_dir, corpus_dir = trained
    model, processor = load_trained(model_dir)
    corpus = load_corpus(corpus_dir)
    test = corpus["test"]
    result = evaluate_split(model, processor, test, corpus["train"], max_new_tokens=8)
    metrics = result["metrics"]
    for mode in ("generate", "score"):
        scores = metrics[f"recognition_{mode}"]
        assert set(scores["accuracy"]) == set(test["corpus"]) | {"overall"}
        assert 0 <= scores["accuracy"]["overall"] <= 1 and scores["num_clips"] == len(test)
        columns, matrix = result["confusion"][mode]
        assert columns == ["anger", "happiness", "sadness", ERROR] and matrix.sum() == len(test)
    assert metrics["recognition_score"]["error_rate"] == 0  # scoring always picks a label
    assert any(test["description"])  # the tiny corpus has described test clips
    assert set(metrics["description"]) == {"rouge1", "rougeL", "bleu", "meteor", "num_clips"}
    # every clip explained; the clip-blind baselines beside the model on every metric
    assert set(metrics["faithfulness"]) == {"eai_llm", "constant", "per_label", "kinematic", "reference"}
    assert metrics["faithfulness"]["eai_llm"]["num_texts"] == len(test) == len(result["samples"])
    assert metrics["faithfulness"]["constant"]["distinct"] == 1 / len(test)
    assert metrics["faithfulness"]["kinematic"]["claim_precision"] == 1  # the template says what was measured
    assert set(metrics["description_baselines"]) == {"constant", "per_label", "kinematic"}
    assert 0 <= metrics["action_readout_accuracy"] <= 1  # the tiny corpus records actions
    run = tmp_path / "run"
    run.mkdir()
    (run / "log-align.json").write_text(json.dumps({"encoder": [{"loss": 2.0, "accuracy": 0.3, "step": 10},
                                                                {"loss": 1.0, "accuracy": 0.6, "step": 20}]}))
    (run / "log-llm.json").write_text(json.dumps([{"loss": 3.0, "accuracy": 0.2, "step": 5}, {"train_loss": 3.0, "step": 5}]))
    report = write_report(result, tmp_path / "eval", "tiny", run_dir=run)
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["recognition_score"]["num_clips"] == len(test)
    assert {"confusion-generate.png", "confusion-score.png", "training-curves.png", "report.html"} <= {
        path.name for path in report.parent.iterdir()}
    assert "recognition (score): accuracy" in report.read_text()
    page = (tmp_path / "eval" / "report.html").read_text()
    assert re.findall(r"src=['\"]([^'\"]{0,30})", page) and all(  # self-contained: every image embedded
        source.startswith(("data:image/png;base64,", "data:image/gif;base64,"))
        for source in re.findall(r"src=['\"]([^'\"]{0,30})", page))
    assert page.count("data:image/gif;base64,") == len(result["gallery"]) == min(8, len(test))
    first = result["samples"][result["gallery"][0]["index"]]
    assert html.escape(first["generated"]) in page and "Per class (score)" in page and "<table>" in page


def test_recognition_metrics_count_precision_and_recall_per_true_label():
    scores = recognition_metrics(["anger", "anger", "sadness", "sadness"], ["anger", "sadness", "sadness", ERROR],
                                 ["a"] * 4)
    assert scores["per_class"]["anger"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "clips": 2}
    assert scores["per_class"]["sadness"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "clips": 2}
    assert scores["accuracy"]["overall"] == 0.5


def test_evaluation_rejects_an_empty_split_and_labels_the_model_never_saw(trained):
    _, model_dir, corpus_dir = trained
    model, processor = load_trained(model_dir)
    test = load_corpus(corpus_dir)["test"]
    with pytest.raises(ValueError, match="the split is empty"):
        evaluate_split(model, processor, test.select([]), test)
    renamed = test.cast_column("label", test.features["label"].__class__(names=["anger", "pride", "sadness"]))
    with pytest.raises(ValueError, match=r"labels \['pride'\] are not in the model's label vocabulary"):
        evaluate_split(model, processor, renamed, test)


def test_load_trained_rejects_folders_of_another_model_type(trained, tmp_path):
    config, _, _ = trained
    with pytest.raises(ValueError, match="field 'model_type' is 'eai_skeleton_encoder', expected 'eai_llm'"):
        load_trained(config.llm.encoder)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_trained(tmp_path)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((trained[1] / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        load_trained(pickled)


def test_explain_returns_a_label_its_probabilities_and_an_explanation(trained):
    _, model_dir, _ = trained
    model, processor = load_trained(model_dir)
    result = explain(model, processor, CLIPS[1], "kdae24", max_new_tokens=5)
    assert result["label"] in model.config.labels
    assert sorted(result["scores"]) == sorted(model.config.labels)
    assert sum(result["scores"].values()) == pytest.approx(1)
    assert max(result["scores"], key=result["scores"].get) == result["label"]
    assert isinstance(result["explanation"], str)


def test_evidence_checks_each_claim_of_an_explanation_against_the_measured_clip():
    still = generate_clips("kdae", 1, seed=0)[0].positions[:1].repeat(60, axis=0)  # 2 s without motion, 30 fps
    layout, populations = get_layout("kdae24"), tiny_populations()  # every descriptor uniform on [0, 10]
    slow = evidence("The person walks slowly.", still, layout, 30.0, populations)
    assert slow["population"] == "kdae"
    assert len(slow["claims"]) == 1
    claim = slow["claims"][0]
    assert (claim["quality"], claim["direction"], claim["descriptor"]) == ("tempo", -1, "extremity_speed")
    assert claim["value"] == pytest.approx(0.0, abs=1e-9) and claim["unit"] == DESCRIPTORS["extremity_speed"].unit
    assert claim["percentile"] < 0.02 and claim["verdict"] == "supported"
    assert evidence("The person walks briskly.", still, layout, 30.0, populations)["claims"][0]["verdict"] == "contradicted"
    unmeasured = evidence("The person walks slowly.", still, layout, None, populations)["claims"][0]
    assert (unmeasured["verdict"], unmeasured["value"], unmeasured["percentile"]) == ("unchecked", None, None)
    assert evidence("This is an angry person.", still, layout, 30.0, populations)["claims"] == []
    without_tempo = {name: record | {"quantiles": {k: v for k, v in record["quantiles"].items() if k != "extremity_speed"}}
                     for name, record in populations.items()}  # e.g. every training clip too short to measure it
    claim = evidence("The person walks slowly.", still, layout, 30.0, without_tempo)["claims"][0]
    assert (claim["verdict"], claim["percentile"]) == ("unchecked", None) and claim["value"] is not None
    assert evidence_line(claim).endswith("(no training population), unchecked")  # as report.md prints it


def test_the_action_readout_is_saved_with_the_model_and_reads_back_the_training_clips_actions(trained):
    _, model_dir, corpus_dir = trained
    model, processor = load_trained(model_dir)
    train = load_corpus(corpus_dir)["train"]
    assert model.config.action_names == sorted(set(train["action"]))
    rows = train.with_format("numpy")
    read = read_actions(model, processor, [clip_positions(rows[i]) for i in range(len(rows))], list(train["layout"]),
                        [float(f) for f in train["fps"]])
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    batch = processor.feature_extractor([clip_positions(rows[i]) for i in range(len(rows))], list(train["layout"]),
                                        [float(f) for f in train["fps"]], return_tensors="pt")
    with torch.no_grad():
        tokens = model.skeleton_encoder(**{k: batch[k] for k in processor.feature_extractor.model_input_names})
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    expected = probe.fit(tokens.semantic_token.double().numpy(), train["action"]).predict_proba(
        tokens.semantic_token.double().numpy())  # the probe the readout is, fitted here on the saved encoder's tokens
    assert list(probe.classes_) == model.config.action_names
    np.testing.assert_allclose([[r[a] for a in model.config.action_names] for r in read], expected, atol=1e-3)


def test_a_grounded_description_prompt_states_the_read_action_and_the_notable_measured_qualities():
    model, processor = tiny_model_and_processor("semantic")
    model.config.descriptor_populations = tiny_populations()  # every descriptor uniform on [0, 10]
    model.config.action_names, model.config.grounded_descriptions = ["sit_down", "walk"], True
    measured = {name: 5.0 for name in DESCRIPTORS} | {"extremity_speed": 9.95, "head_pitch": 0.2}  # fast; head up
    fast, ordinary, unmeasured, unknown = description_prompts(
        model, processor, ["anger"] * 4, [measured, {name: 5.0 for name in DESCRIPTORS}, {"extremity_speed": np.nan},
                                          measured], ["kdae"] * 4, ["sit_down", "walk", None, "throw"])
    assert ("</Skeleton> Action: sit down. Measured: tempo high, head pitch low. The emotion of this person is anger, "
            "please") in fast  # the most notable first
    assert "</Skeleton> Action: walk. Measured: nothing notable. The emotion of this person is anger" in ordinary
    assert "</Skeleton> The emotion of this person is anger" in unmeasured  # nothing measured: nothing said
    assert "</Skeleton> Measured: tempo high" in unknown  # an action the readout cannot name is not said
    model.config.grounded_descriptions = False
    assert description_prompts(model, processor, ["anger"], [measured], ["kdae"], ["sit_down"]) == [
        processor.description_prompt("anger")]  # the paper's prompt
    assert "Action" not in processor.description_prompt("anger")
    assert "Measured" not in processor.description_prompt("anger")
    with pytest.raises(ValueError, match="'grounded_descriptions' is true but 'descriptor_populations' is None"):
        EAIConfig(**{**tiny_config().to_dict(), "grounded_descriptions": True})
    with pytest.raises(ValueError, match="'action_names' is \\['walk', 'walk'\\], expected distinct"):
        EAIConfig(**{**tiny_config().to_dict(), "action_names": ["walk", "walk"]})


def test_evidence_checks_the_action_an_explanation_names_against_the_action_readout():
    clip = generate_clips("kdae", 1, seed=0)[0].positions
    layout, populations, names = get_layout("kdae24"), tiny_populations(), ["knock", "sit_down", "walk"]
    said = evidence("The person sits down on a chair slowly.", clip, layout, 30.0, populations, "sit_down", names)
    assert said["action"] == {"named": "sit_down", "read": "sit_down", "verdict": "supported"}
    assert evidence("The person walks.", clip, layout, 30.0, populations, "sit_down", names)["action"]["verdict"] == \
        "contradicted"
    assert evidence("The person moves.", clip, layout, 30.0, populations, "sit_down", names)["action"] == {
        "named": None, "read": "sit_down", "verdict": "unchecked"}
    assert "action" not in evidence("The person walks.", clip, layout, 30.0, populations)  # a model without a readout
    assert said["population_action"] is None  # no population of sit-downs: all the kdae clips
    ramp = populations["kdae"]["quantiles"]
    sitting = populations | {"kdae": populations["kdae"] | {"actions": {"sit_down": {k: [v / 100 for v in q] for k, q
                                                                                     in ramp.items()}}}}
    among = evidence("The person sits down on a chair slowly.", clip, layout, 30.0, sitting, "sit_down", names)
    assert among["population_action"] == "sit_down"  # the read action's own clips, a hundred times slower here
    assert among["claims"][0]["percentile"] > evidence("The person sits down on a chair slowly.", clip, layout, 30.0,
                                                       populations, "sit_down", names)["claims"][0]["percentile"]


def test_claims_are_also_checked_against_generating_latents():
    texts = {"model": ["The person walks slowly.", "The person walks briskly.", "The person walks."]}
    latents = {"names": ["tempo"], "quantiles": np.array([[0.1], [0.1], [0.9]])}  # slow, slow, fast
    metrics = latent_faithfulness(texts, ["The person walks slowly.", "", ""], latents, ["walk"] * 3)
    assert metrics["model"]["claim_precision"] == pytest.approx(0.5)  # "slowly" of a slow clip; "briskly" is not
    assert metrics["model"]["contradiction_rate"] == pytest.approx(0.5)  # "briskly" of a clip in the slowest quarter
    assert metrics["model"]["claim_recall"] == pytest.approx(1 / 3)  # three notable clips, one said right
    assert metrics["reference"]["num_texts"] == 1 and metrics["reference"]["claim_precision"] == 1


def test_a_model_saved_without_descriptor_populations_explains_without_evidence_and_warns():
    model, processor = tiny_model_and_processor("semantic")
    assert model.config.descriptor_populations is None  # as a folder saved before they were kept
    with pytest.warns(UserWarning, match="without evidence"):
        result = explain(model, processor, CLIPS[1], "kdae24", max_new_tokens=2)
    assert set(result) == {"label", "scores", "explanation"}
    with pytest.raises(ValueError, match="'descriptor_populations' entry 'kdae'"):
        EAIConfig(**{**tiny_config().to_dict(), "descriptor_populations": {
            "kdae": {"layouts": ["kdae24"], "quantiles": {"tempo": [1.0, 0.0]}}, ALL_CORPORA: {"layouts": [], "quantiles": {}}}})


def test_eval_and_predict_commands_write_a_report_and_explain_a_file(trained, tmp_path, capsys):
    import eval as eval_command
    import predict as predict_command
    from motion_files import layout_bvh, upper_body_layout

    from eai_llm.layouts import get_layout

    _, model_dir, corpus_dir = trained
    eval_command.main(["--model", str(model_dir), "--corpus", str(corpus_dir), "--output-dir", str(tmp_path / "eval"),
                       "--modes", "score", "--max-new-tokens", "4"])
    printed = capsys.readouterr().out
    assert f"report: {tmp_path / 'eval' / 'report.md'}" in printed
    assert "recognition_score" in json.loads((tmp_path / "eval" / "metrics.json").read_text())
    layout_bvh(tmp_path / "clip.bvh", get_layout("kdae24"))  # End Sites included: the kdae24 joints
    predict_command.main(["--model", str(model_dir), str(tmp_path / "clip.bvh")])
    answer = json.loads(capsys.readouterr().out)
    assert set(answer) == {"label", "scores", "action", "explanation", "evidence"}
    assert answer["label"] in answer["scores"]
    assert answer["evidence"]["population"] == "kdae"  # train.py kept the training corpus's descriptor populations
    assert list(answer["action"]) == sorted(set(load_corpus(corpus_dir)["train"]["action"]))  # the readout's
    assert answer["evidence"]["action"]["read"] == max(answer["action"], key=answer["action"].get)
    layout_bvh(tmp_path / "other.bvh", upper_body_layout())
    with pytest.raises(SystemExit, match=r"other.bvh: field 'joints' .* lacks the joints \[.*'l_hip'.* expected the "
                                         r"joints of one of \['xsens_mvn28', 'kdae24'\]"):
        predict_command.main(["--model", str(model_dir), str(tmp_path / "other.bvh")])


def test_scoring_and_generation_work_with_a_tokenizer_without_a_pad_token():
    model, processor = tiny_model_and_processor("semantic")
    processor.tokenizer.pad_token = None  # as LLaMA's tokenizer
    assert processor.pad_token_id == processor.tokenizer.eos_token_id
    answers = [processor.recognition_answer(label) for label in ("anger", "sadness")]
    assert score_answers(model, processor, CLIPS, CLIP_LAYOUTS, answers).shape == (2, 2)
    assert explain(model, processor, CLIPS[0], CLIP_LAYOUTS[0], max_new_tokens=2)["label"] in model.config.labels


def test_training_killed_while_saving_leaves_whole_old_or_new_encoder_and_model_folders(trained, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import yaml

    config, _, _ = trained
    out = tmp_path / "out"
    data = config.model_dump()
    data.update(output_dir=str(out), num_frames=8, encoder={"block_channels": [8, 8], "block_strides": [2, 2]},
                align={"epochs": 1, "batch_size": 8, "warmup_epochs": 0, "decay_epochs": []})
    data["llm"]["encoder"] = None  # stage 2 reads <out>/encoder
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(data))
    command = [sys.executable, str(Path(__file__).resolve().parents[1] / "train.py"), "--config",
               str(tmp_path / "tiny.yaml"), "--stage", "all"]
    subprocess.run(command, check=True, capture_output=True)  # the old encoder and model
    for folder in ("encoder", "model"):  # kill while this folder is being written or swapped in
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not list(out.glob(f".{folder}.partial-*")) and process.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL  # killed mid-run, not after it finished
        EAISkeletonEncoder.from_pretrained(out / "encoder")  # whole: loads
        model, _ = load_trained(out / "model")
        assert model.config.num_skeleton_tokens > 0
    subprocess.run(command, check=True, capture_output=True)
    assert not [p.name for p in out.iterdir() if ".partial-" in p.name]  # the killed runs' leftovers are gone


def test_the_projector_starts_as_the_regression_of_each_training_clips_label_word_embedding(tmp_path):
    corpus = load_corpus(write_tiny_corpus(tmp_path / "corpus"))
    train = corpus["train"]
    model, processor = tiny_model_and_processor("semantic")
    tokens = semantic_tokens(model, processor, train)
    initialise_projector(model, processor, train, tokens)
    names = train.features["label"].names
    embeddings = model.get_input_embeddings().weight.detach().double()
    words = {"anger": "angry", "happiness": "happy", "joy": "happy", "sadness": "sad"}  # the answers' adjectives
    targets = {name: embeddings[processor.tokenizer(" " + words[name], add_special_tokens=False)["input_ids"]].mean(0)
               for name in names}
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    wanted = torch.stack([targets[names[i]] for i in train["label"]]).numpy()  # each clip's label word
    expected = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(tokens, wanted).predict(tokens)
    with torch.no_grad():
        projected = model.projector(torch.as_tensor(tokens, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(projected, expected, atol=1e-4)
    assert np.mean((projected - wanted) ** 2) < np.mean((wanted - wanted.mean(0)) ** 2)  # nearer than their mean
