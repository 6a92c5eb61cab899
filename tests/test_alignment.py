import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from eai_llm.alignment import (LabelVocabulary, SkeletonCollator, SkeletonTextAlignment, contrastive_kl_loss,
                               masked_mean, stage_one_schedule, train_alignment, warmup_step_decay)
from eai_llm.configuration_eai import EAISkeletonConfig
from eai_llm.corpus import build_corpus, clip_positions, load_corpora, save_corpus
from eai_llm.descriptors import DESCRIPTORS, descriptor_matrix
from eai_llm.labels import label_prompt, merged_label
from eai_llm.layouts import get_layout
from eai_llm.modeling_eai import EAISkeletonEncoder
from eai_llm.processing_eai import SkeletonProcessor
from eai_llm.run_config import AlignSettings, EncoderSettings, TrainConfig, load_config
from eai_llm.synthetic import generate_clips
from eai_llm.text_encoders import load_text_encoder


def test_contrastive_loss_with_one_positive_each_matches_a_hand_computed_value():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = contrastive_kl_loss(features, features, torch.tensor([0, 1]), torch.tensor(1.0))
    # logits [[1, 0], [0, 1]], targets the identity: KL = -log(e / (e + 1)) in both directions
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_contrastive_loss_with_a_shared_label_uses_a_multi_positive_target():
    skeleton = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # cosine similarity ignores the length
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # both samples have label 0, so the same text
    loss = contrastive_kl_loss(skeleton, text, torch.tensor([0, 0]), torch.tensor(1.0))
    # s2t logits [[1, 1], [0, 0]]: softmax rows are [.5, .5] = target, KL 0.
    # t2s logits [[1, 0], [1, 0]]: rows p = [e, 1] / (e + 1) against target [.5, .5].
    p = math.e / (math.e + 1)
    t2s = 0.5 * math.log(0.5 / p) + 0.5 * math.log(0.5 / (1 - p))
    assert loss.item() == pytest.approx(t2s / 2, rel=1e-6)


def test_masked_mean_ignores_padding():
    tokens = torch.tensor([[[1.0, 1.0], [3.0, 5.0], [100.0, 100.0]]])
    assert masked_mean(tokens, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


def test_label_vocabulary_merges_synonyms_and_masks_each_corpus_to_its_labels():
    vocabulary = LabelVocabulary(["joy", "happiness", "anger", "shame", "disgust"],
                                 {"emilya": ["joy", "anger", "shame"], "kdae": ["happiness", "anger", "disgust"]})
    assert vocabulary.labels == ["anger", "disgust", "happiness", "shame"]
    assert vocabulary.id_of("Joy") == vocabulary.id_of("happiness") == 2
    assert vocabulary.corpus_label_mask.tolist() == [[True, False, True, True], [True, True, True, False]]
    with pytest.raises(ValueError, match="label 'pride' is not in the model's label vocabulary"):
        vocabulary.id_of("pride")
    with pytest.raises(ValueError, match="corpus 'egbm' was not seen in training"):
        vocabulary.corpus_id_of("egbm")


def test_label_prompts_use_the_right_article():
    assert label_prompt("anger") == "This is an angry person."
    assert label_prompt("Joy") == "This is a happy person."
    assert label_prompt("shame") == "This is an ashamed person."
    assert label_prompt("elderly") == "This is an elderly person."
    assert label_prompt("youthful") == "This is a youthful person."
    assert merged_label("Sad") == "sadness"


def test_warmup_then_step_decay():
    multiplier = warmup_step_decay(warmup_steps=4, decay_steps=[10, 20])
    assert [multiplier(s) for s in (0, 3, 4, 9, 10, 19, 20)] == pytest.approx([0.25, 1, 1, 1, 0.1, 0.1, 0.01])


def test_the_stage_one_schedule_counts_optimizer_steps_with_a_floor():
    align = AlignSettings(epochs=30, batch_size=32, warmup_epochs=5, decay_epochs=[20, 26], min_steps=600)
    assert stage_one_schedule(align, 701, 1) == (660, 110, [440, 572])  # 22 steps an epoch: above the floor
    assert stage_one_schedule(align, 66, 1) == (600, 100, [400, 520])  # 3 steps an epoch: 90, stretched to 600
    assert stage_one_schedule(align, 701, 2) == (600, 100, [400, 520])  # 11 steps an epoch on 2 processes
    align.min_steps = 0
    assert stage_one_schedule(align, 66, 1) == (90, 15, [60, 78])


BUILT_IN = [get_layout(name) for name in ("xsens_mvn28", "kdae24", "kinect_v2")]


def three_corpus_rows(n=6, seed=0):
    rows = []
    for corpus in ("emilya", "kdae", "egbm"):
        rows += [clip.to_row() for clip in generate_clips(corpus, n, seed=seed)]
    return rows


def alignment_module(loss, vocabulary, token_dim=8):
    torch.manual_seed(0)
    encoder = EAISkeletonEncoder(EAISkeletonConfig(
        layouts=BUILT_IN, num_frames=16, block_channels=[8, 8], block_strides=[2, 2],
        token_dim=token_dim, id2label=dict(enumerate(vocabulary.labels))))
    text = torch.nn.functional.normalize(torch.randn(len(vocabulary.labels), token_dim), dim=-1)
    return SkeletonTextAlignment(encoder, text, vocabulary.corpus_label_mask, loss=loss)


def test_a_joint_training_batch_over_three_layouts_trains_every_loss():
    rows = three_corpus_rows()
    names = sorted({r["label"] for r in rows})
    vocabulary = LabelVocabulary(names, {c: [r["label"] for r in rows if r["corpus"] == c] for c in ("emilya", "kdae", "egbm")})
    collator = SkeletonCollator(SkeletonProcessor(BUILT_IN, num_frames=16), vocabulary, names)
    batch = collator([dict(r, label=names.index(r["label"])) for r in rows])
    assert set(batch["layout_ids"].tolist()) == {0, 1, 2}
    for loss in ("ce", "se", "st"):
        module = alignment_module(loss, vocabulary)
        out = module(**batch)
        out["loss"].backward()
        assert torch.isfinite(out["loss"])
        grad = module.encoder.blocks[0].graph.value.weight.grad
        assert grad is not None and grad.abs().sum() > 0
        # a sample's logits outside its corpus's labels are masked away and never predicted
        allowed = vocabulary.corpus_label_mask[batch["corpus_ids"]]
        assert torch.all(out["logits"][~allowed] < -1e30)
        assert allowed[torch.arange(len(allowed)), out["logits"].argmax(-1)].all()
        # only the losses that use a token family train its head and the temperature
        heads = {name: getattr(module.encoder, f"{name}_head").weight.grad for name in ("semantic", "spatial", "temporal")}
        used = {"ce": {"semantic"}, "se": {"semantic"}, "st": {"semantic", "spatial", "temporal"}}[loss]
        for name, head_grad in heads.items():
            assert (head_grad is not None and head_grad.abs().sum() > 0) == (name in used), (loss, name)
        assert (module.logit_scale.grad is not None) == (loss != "ce")


def test_a_fixed_temperature_is_not_trained():
    rows = three_corpus_rows(n=3)
    names = sorted({r["label"] for r in rows})
    vocabulary = LabelVocabulary(names, {c: [r["label"] for r in rows if r["corpus"] == c] for c in ("emilya", "kdae", "egbm")})
    batch = SkeletonCollator(SkeletonProcessor(BUILT_IN, num_frames=16), vocabulary, names)(
        [dict(r, label=names.index(r["label"])) for r in rows])
    torch.manual_seed(0)
    encoder = alignment_module("se", vocabulary).encoder
    module = SkeletonTextAlignment(encoder, torch.randn(len(vocabulary.labels), 8), vocabulary.corpus_label_mask,
                                   loss="se", temperature=0.1, learn_temperature=False)
    module(**batch)["loss"].backward()
    assert module.logit_scale.grad is None and module.logit_scale.item() == pytest.approx(math.log(10))


def test_minilm_text_encoder_gives_distinct_unit_vectors_offline():
    encoder = load_text_encoder("minilm")
    features = encoder([label_prompt(label) for label in ("anger", "happiness", "sadness")])
    assert features.shape == (3, 384)
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(3))
    similarity = features @ features.T
    assert similarity[0, 1] < 0.99 and similarity[1, 2] < 0.99


def test_text_encoder_errors_say_what_to_do(tmp_path):
    with pytest.raises(OSError, match="could not be loaded offline"):
        load_text_encoder("minilm", name=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="expected 'minilm' or 'open_clip'"):
        load_text_encoder("bert")


@pytest.mark.parametrize("text, message", [
    ("align:\n  lr: 0.1\n", r"bad.yaml: key 'align.lr': Extra inputs are not permitted"),
    ("llm:\n  batch_size: eight\n", r"bad.yaml: key 'llm.batch_size': Input should be a valid integer.*'eight'"),
    ("llm:\n  recognition_epochs: one\n", r"key 'llm.recognition_epochs': Input should be a valid integer"),
    ("llm: 5\n", r"key 'llm': Input should be a valid dictionary"),
    ("llm:\n  order: both\n", r"key 'llm.order': Input should be 'description_first', 'recognition_first' or 'mixed'"),
    ("align:\n  epochs: 0\n", r"key 'align.epochs': Input should be greater than or equal to 1"),
    ("encoder:\n  width: 3\n", r"key 'encoder.width': Extra inputs are not permitted"),
    ("encoder:\n  block_channels: 5\n", r"key 'encoder.block_channels': Input should be a valid list"),
    ("encoder:\n  dropout: high\n", r"key 'encoder.dropout': Input should be a valid number"),
    ("align: [1\n", r"bad.yaml: not valid YAML"),
])
def test_config_errors_name_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text("corpus: c\noutput_dir: o\n" + text)
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_a_config_without_corpus_names_the_missing_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("output_dir: o\n")
    with pytest.raises(ValueError, match="bad.yaml: key 'corpus' is missing"):
        load_config(path)


def test_stage_one_trains_saves_and_reports_per_corpus(tmp_path):
    rows = three_corpus_rows(n=10, seed=1)
    names = sorted({r["label"] for r in rows})
    corpus = build_corpus(lambda: iter(rows), names, seed=0)
    save_corpus(corpus, [get_layout(n) for n in ("xsens_mvn28", "kdae24", "kinect_v2")], tmp_path / "corpus")
    config = TrainConfig(corpus=str(tmp_path / "corpus"), output_dir=str(tmp_path / "out"), num_frames=16,
                         encoder=EncoderSettings(block_channels=[8, 8], block_strides=[2, 2]),
                         align=AlignSettings(loss="st", epochs=1, batch_size=8, warmup_epochs=1, decay_epochs=[]))
    encoder, metrics = train_alignment(config)
    assert set(metrics["accuracy"]) == {"emilya", "kdae", "egbm", "overall", "train_clips_per_second"}
    assert all(0.0 <= metrics["accuracy"][k] <= 1.0 for k in ("emilya", "kdae", "egbm", "overall"))
    saved = tmp_path / "out" / "encoder"
    assert sorted(p.name for p in saved.iterdir()) == [".eai-llm-manifest.json", "config.json", "metrics.json",
                                                      "model.safetensors", "preprocessor_config.json"]
    loaded = EAISkeletonEncoder.from_pretrained(saved)
    processor = SkeletonProcessor.from_pretrained(saved)
    assert loaded.config.token_dim == 384 and set(loaded.config.corpus_labels) == {"emilya", "kdae", "egbm"}
    assert "happiness" in loaded.config.corpus_labels["emilya"]  # Emilya's joy, merged
    assert metrics["optimizer_steps"] == {"encoder": 3}  # 24 training clips in batches of 8, one epoch
    assert json.loads((tmp_path / "out" / "log-align.json").read_text())["encoder"][-1]["step"] == 3
    train = corpus["train"].with_format("numpy")  # the fused descriptors are standardised by the training clips
    values = descriptor_matrix([clip_positions(r) for r in train], [float(r["fps"]) for r in train],
                               [get_layout(str(r["layout"])) for r in train])
    assert loaded.config.descriptor_names == processor.descriptors == list(DESCRIPTORS) and processor.face_forward
    np.testing.assert_allclose(loaded.config.descriptor_mean, np.nanmean(values, axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loaded.config.descriptor_scale, np.nanstd(values, axis=0), rtol=1e-3, atol=1e-6)
    saved_metrics = json.loads((saved / "metrics.json").read_text())
    test = corpus["test"].with_format("numpy")
    batch = processor([np.asarray(r["positions"]).reshape(-1, r["num_joints"], 3) for r in test],
                      [str(r["layout"]) for r in test], [float(r["fps"]) for r in test], return_tensors="pt")
    loaded.eval()
    with torch.no_grad():
        logits = loaded(**batch).logits
    labels = [loaded.config.id2label[i] for i in range(logits.shape[1])]
    correct = []
    for row, scores in zip(test, logits):  # recounted by hand: argmax over the labels of the clip's corpus
        allowed = [i for i, label in enumerate(labels) if label in loaded.config.corpus_labels[str(row["corpus"])]]
        predicted = labels[max(allowed, key=lambda i: scores[i])]
        correct.append(predicted == merged_label(names[int(row["label"])]))
    assert saved_metrics["overall"] == pytest.approx(np.mean(correct))
    batch = processor([np.asarray(rows[0]["positions"]).reshape(-1, rows[0]["num_joints"], 3)], [rows[0]["layout"]],
                      rows[0]["fps"], return_tensors="pt")
    loaded.eval()
    encoder.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, encoder(**batch).logits)

    config.align.joint, config.align.min_steps = False, 4  # 8 clips per corpus: one step an epoch, stretched to 4
    _, separate = train_alignment(config)
    assert separate["optimizer_steps"] == {"encoder-emilya": 4, "encoder-kdae": 4, "encoder-egbm": 4}
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"encoder-emilya", "encoder-kdae", "encoder-egbm"}
    assert set(separate["accuracy"]) == {"emilya", "kdae", "egbm", "overall", "train_clips_per_second"}


def tiny_clip_config(folder):
    """Register a tiny random CLIP architecture with open_clip (the real ViT-L-14 is 430M parameters)."""
    import open_clip

    (folder / "eai-tiny-clip.json").write_text(json.dumps({
        "embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}))
    open_clip.add_model_config(folder)
    return "eai-tiny-clip"


def test_open_clip_text_encoder_embeds_prompts_and_explains_a_missing_checkpoint(tmp_path):
    name = tiny_clip_config(tmp_path)
    torch.manual_seed(0)
    encoder = load_text_encoder("open_clip", name=name, pretrained=None)
    features = encoder([label_prompt("anger"), label_prompt("fear")])
    assert features.shape == (2, 16) and encoder.dim == 16
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(2))
    with pytest.raises(OSError, match="pass a local checkpoint path"):
        load_text_encoder("open_clip", name=name, pretrained=str(tmp_path / "missing.pt"))


def test_several_corpus_folders_load_as_one_with_a_union_label_set(tmp_path):
    for corpus, seed in (("emilya", 0), ("kdae", 1)):
        rows = [clip.to_row() for clip in generate_clips(corpus, 16, seed=seed)]
        names = sorted({r["label"] for r in rows})
        save_corpus(build_corpus(lambda rows=rows: iter(rows), names), [get_layout(rows[0]["layout"])],
                    tmp_path / corpus)
    merged = load_corpora([str(tmp_path / "emilya"), str(tmp_path / "kdae")])
    names = merged["train"].features["label"].names
    assert "joy" in names and "happiness" in names and "disgust" in names and "shame" in names
    for split in ("train", "test"):
        for row in merged[split].select_columns(["corpus", "label"]):
            label = names[row["label"]]
            expected = {"emilya": {"anger", "anxiety", "fear", "joy", "neutral", "panic", "sadness", "shame"},
                        "kdae": {"anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"}}
            assert label in expected[row["corpus"]]


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")))
def test_shipped_configs_load(path):
    config = load_config(path)
    assert config.align.loss in ("ce", "se", "st") and config.num_frames == 64
    names = list(DESCRIPTORS) if config.encoder.descriptors else []  # as stage 1 builds the encoder config
    EAISkeletonConfig(**config.encoder.fields(), descriptor_names=names, descriptor_mean=[0.0] * len(names),
                      descriptor_scale=[1.0] * len(names))  # encoder fields are valid


def test_train_command_reports_bad_configs_and_a_missing_encoder_without_a_traceback(tmp_path):
    import train as train_command

    bad = tmp_path / "bad.yaml"
    bad.write_text("corpus: c\noutput_dir: o\nllm:\n  batch_size: eight\n")
    with pytest.raises(SystemExit, match=r"train.py: .*bad.yaml: key 'llm.batch_size'"):
        train_command.main(["--config", str(bad)])
    bad.write_text(f"corpus: {tmp_path / 'nowhere'}\noutput_dir: o\n")
    with pytest.raises(SystemExit, match=r"train.py: .*bad.yaml: key 'corpus' names .*nowhere.*which do not exist"):
        train_command.main(["--config", str(bad)])
    rows = three_corpus_rows(n=3)
    save_corpus(build_corpus(lambda: iter(rows), sorted({r["label"] for r in rows})), BUILT_IN, tmp_path / "corpus")
    bad.write_text(f"corpus: {tmp_path / 'corpus'}\noutput_dir: {tmp_path / 'out'}\n"
                   f"llm:\n  encoder: {tmp_path / 'no-encoder'}\n")
    with pytest.raises(SystemExit, match=r"train.py: llm.encoder: .*no-encoder holds no model.safetensors"):
        train_command.main(["--config", str(bad), "--stage", "llm"])


def test_the_training_collator_mirrors_about_half_the_clips_and_the_evaluation_collator_none():
    rows = [clip.to_row() for clip in generate_clips("egbm", 1, seed=0)] * 40
    vocabulary = LabelVocabulary(["anger"], {"egbm": ["anger"]})
    names = ["anger"]
    for row in rows:
        row["label"] = 0
    processor = SkeletonProcessor(BUILT_IN, num_frames=16)
    layout = get_layout("kinect_v2")
    clip = clip_positions(rows[0])
    swapped = [layout.joint_names.index(n.replace("Left", "_").replace("Right", "Left").replace("_", "Right"))
               for n in layout.joint_names]  # Kinect names: ShoulderLeft <-> ShoulderRight
    mirror = clip[:, swapped] * np.float32([-1, 1, 1])  # x negated, left and right swapped
    as_is, mirrored = (processor(c, "kinect_v2", return_tensors="pt")["skeleton_values"][0] for c in (clip, mirror))
    values = SkeletonCollator(processor, vocabulary, names, mirror_seed=0)(rows)["skeleton_values"]
    flipped = [bool(torch.allclose(v, mirrored)) for v in values]
    assert all(f or torch.allclose(v, as_is) for f, v in zip(flipped, values)) and 10 < sum(flipped) < 30
    assert all(torch.allclose(v, as_is) for v in SkeletonCollator(processor, vocabulary, names)(rows)["skeleton_values"])
