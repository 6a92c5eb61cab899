"""EAIConfig, EAIProcessor and EAILlamaForCausalLM on tiny random models (a ModelTester-style suite)."""

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from tiny_models import (
    LAYOUTS,
    NUM_FRAMES,
    tiny_config,
    tiny_encoder,
    tiny_model_and_processor,
    tiny_tokenizer,
)

from eai_llm.configuration_eai import EAIConfig
from eai_llm.modeling_eai import EAILlamaForCausalLM
from eai_llm.processing_eai import SKELETON_TOKEN, EAIProcessor, SkeletonProcessor

rng = np.random.default_rng(0)
CLIPS = [rng.normal(size=(5, 28, 3)).astype(np.float32), rng.normal(size=(20, 24, 3)).astype(np.float32)]
CLIP_LAYOUTS = ["xsens_mvn28", "kdae24"]  # clip 0: 5 of 8 frames real; clip 1: 24 of 28 joints real


def training_batch(processor):
    return processor([processor.recognition_prompt(), processor.description_prompt("joy")], CLIPS, CLIP_LAYOUTS,
                     completions=[processor.recognition_answer("joy"), "walks slowly"])


# --- EAIConfig -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("granularity, expected", [("semantic", 1), ("spatiotemporal", 28 + 2), ("all", 1 + 28 + 2)])
def test_config_counts_skeleton_tokens_by_granularity(granularity, expected):
    config = tiny_config(granularity)  # V_max 28 joints, T' = 8 frames / stride 4 = 2 steps
    assert config.num_skeleton_tokens == expected
    assert config.labels == ["anger", "happiness", "sadness"]


def test_config_coerces_dicts_and_survives_a_save_load_round_trip(tmp_path):
    config = tiny_config("spatiotemporal")
    assert type(config.text_config).__name__ == "LlamaConfig"
    assert type(config.skeleton_config).__name__ == "EAISkeletonConfig"
    config.save_pretrained(tmp_path)
    loaded = EAIConfig.from_pretrained(tmp_path)
    assert loaded.token_granularity == "spatiotemporal"
    assert loaded.skeleton_token_id == config.skeleton_token_id
    assert loaded.skeleton_config.layouts == config.skeleton_config.layouts
    assert loaded.text_config.hidden_size == 32


@pytest.mark.parametrize("change, message", [
    ({"token_granularity": "joint"}, "'token_granularity' is 'joint'"),
    ({"skeleton_token_id": 10_000}, "'skeleton_token_id' is 10000"),
    ({"text_config": {"model_type": "gpt2"}}, "expected a Llama-family LLM"),
])
def test_config_rejects_bad_values(change, message):
    values = tiny_config().to_dict()
    values.update(change)
    with pytest.raises(ValueError, match=message):
        EAIConfig(**{k: v for k, v in values.items() if k not in ("model_type", "transformers_version")})


# --- EAIProcessor --------------------------------------------------------------------------------------


@pytest.mark.parametrize("granularity", ["semantic", "spatiotemporal", "all"])
def test_processor_expands_each_placeholder_to_the_models_token_count(granularity):
    model, processor = tiny_model_and_processor(granularity)
    batch = training_batch(processor)
    counts = (batch["input_ids"] == model.config.skeleton_token_id).sum(1)
    assert counts.tolist() == [model.config.num_skeleton_tokens] * 2 == [processor.num_skeleton_tokens] * 2


def test_processor_attention_mask_hides_exactly_the_padded_skeleton_tokens_the_encoder_masks():
    model, processor = tiny_model_and_processor("all")
    batch = training_batch(processor)
    placeholders = batch["input_ids"] == model.config.skeleton_token_id
    in_prompt = batch["attention_mask"][placeholders].view(2, -1)
    encoded = model.skeleton_encoder(batch["skeleton_values"], batch["joint_mask"], batch["frame_mask"],
                                     batch["layout_ids"])
    expected = torch.cat([torch.ones(2, 1, dtype=torch.long), encoded.spatial_mask, encoded.temporal_mask], 1)
    assert torch.equal(in_prompt, expected)
    assert in_prompt[0, 1:29].sum() == 28 and in_prompt[1, 1:29].sum() == 24  # joints
    assert in_prompt[0, 29:].tolist() == [1, 1] and in_prompt[1, 29:].tolist() == [1, 1]
    short = processor([processor.recognition_prompt()], [CLIPS[0][:3]], ["xsens_mvn28"])  # 3 of 8 frames: step 2 padded
    assert short["attention_mask"][short["input_ids"] == model.config.skeleton_token_id][-2:].tolist() == [1, 0]


def test_processor_labels_only_the_answer_and_pads_right_for_training_and_left_for_generation():
    _, processor = tiny_model_and_processor("semantic")
    tokenizer = processor.tokenizer
    batch = training_batch(processor)
    for b, answer in enumerate([processor.recognition_answer("joy"), "walks slowly"]):
        target = batch["labels"][b][batch["labels"][b] != -100].tolist()
        assert target == tokenizer(processor.render_completion(answer), add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(target).startswith(answer.split()[0])
    assert batch["attention_mask"][:, 0].tolist() == [1, 1]  # right padding: every row starts with a real token
    generation = processor([processor.recognition_prompt(), processor.description_prompt("anger")], CLIPS, CLIP_LAYOUTS)
    assert "labels" not in generation
    assert generation["attention_mask"][:, -1].tolist() == [1, 1]  # left padding: every row ends with a real token
    assert generation["attention_mask"][0, 0] == 0  # the recognition prompt is the shorter one


def test_processor_renders_the_papers_prompts_with_and_without_a_chat_template():
    _, chat = tiny_model_and_processor(chat_template=None)
    assert chat.recognition_prompt() == ("#Human: <Skeleton> <skeleton> </Skeleton> Can you tell me the emotion of "
                                         "this person? #Assistant:")
    assert chat.render_completion("This is a happy person.") == " This is a happy person.<eos>"
    assert "The emotion of this person is happiness, please" in chat.description_prompt("joy")
    _, templated = tiny_model_and_processor()
    assert templated.recognition_prompt().startswith("<|user|> <Skeleton> <skeleton>")
    assert templated.recognition_prompt().endswith("<|assistant|> ")
    assert templated.render_completion("walks") == "walks <|end|> "


@pytest.mark.parametrize("prompts, clips, message", [
    (["no placeholder"], CLIPS[:1], "prompt 0 holds 0 '<skeleton>' placeholders, expected 1"),
    (["<skeleton> <skeleton> twice"], CLIPS[:1], "prompt 0 holds 2 '<skeleton>' placeholders, expected 1"),
    (["<skeleton> one"], None, "prompt 0 holds 1 '<skeleton>' placeholders, expected 0"),
    (["<skeleton> a", "<skeleton> b"], CLIPS[:1], "2 prompts but 1 clips"),
])
def test_processor_rejects_prompts_that_do_not_match_the_clips(prompts, clips, message):
    _, processor = tiny_model_and_processor()
    with pytest.raises(ValueError, match=message):
        processor(prompts, clips, "xsens_mvn28" if clips is not None else None)


def test_processor_needs_the_skeleton_token_in_the_tokenizer():
    with pytest.raises(ValueError, match="the tokenizer has no '<skeleton>' token"):
        EAIProcessor(SkeletonProcessor(LAYOUTS, num_frames=NUM_FRAMES), tiny_tokenizer(skeleton=False),
                     tiny_config())


def test_processor_refuses_a_model_config_with_another_skeleton_token_id():
    config = tiny_config()
    config.skeleton_token_id -= 1
    with pytest.raises(ValueError, match="field 'skeleton_token_id'"):
        EAIProcessor(SkeletonProcessor(LAYOUTS, num_frames=NUM_FRAMES), tiny_tokenizer(), config)


def test_processor_refuses_descriptors_other_than_the_encoders():
    with pytest.raises(ValueError, match=r"computes descriptors \['tremor'\], expected the encoder's \[\]"):
        EAIProcessor(SkeletonProcessor(LAYOUTS, num_frames=NUM_FRAMES, descriptors=["tremor"]), tiny_tokenizer(),
                     tiny_config())


def test_the_llm_reads_the_fused_descriptors_through_the_skeleton_tokens():
    model, processor = tiny_model_and_processor("semantic", descriptors=True)
    clips = [np.cumsum(rng.normal(scale=0.01, size=(90, 24, 3)), axis=0).astype(np.float32)] * 2  # 3 s at 30 fps
    batch = processor([processor.recognition_prompt()] * 2, clips, "kdae24", fps=[30.0, 60.0])
    assert batch["motion_descriptors"].shape == (2, 3)
    with torch.no_grad():
        logits = model(**batch).logits
    assert not torch.allclose(logits[0], logits[1])  # the same frames twice as fast: other descriptors, other tokens
    with pytest.raises(ValueError, match="motion_descriptors: none"):
        model(**{key: value for key, value in batch.items() if key != "motion_descriptors"})


def test_processor_save_load_round_trip_takes_the_token_layout_from_the_model_config(tmp_path):
    model, processor = tiny_model_and_processor("spatiotemporal")
    model.config.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert "token_granularity" not in (tmp_path / "processor_config.json").read_text()  # one source: config.json
    loaded = EAIProcessor.from_pretrained(tmp_path)
    assert loaded.skeleton_token_parts == [("spatial", 28), ("temporal", 2)]
    expected, actual = training_batch(processor), training_batch(loaded)
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[key], actual[key]) for key in expected)


# --- EAILlamaForCausalLM -------------------------------------------------------------------------------


def test_forward_gives_a_loss_over_the_answers_and_logits_for_every_position():
    model, processor = tiny_model_and_processor()
    batch = training_batch(processor)
    output = model(**batch)
    assert output.logits.shape == (*batch["input_ids"].shape, len(processor.tokenizer))
    assert output.skeleton_tokens.shape == (2, model.config.num_skeleton_tokens, 32)
    assert torch.isfinite(output.loss)
    unlabelled = model(**{k: v for k, v in batch.items() if k != "labels"})
    assert unlabelled.loss is None
    assert torch.allclose(unlabelled.logits, output.logits)


def test_skeleton_tokens_replace_the_placeholder_embeddings():
    model, processor = tiny_model_and_processor()
    batch = training_batch(processor)
    other = dict(batch, skeleton_values=batch["skeleton_values"] * 2)
    changed = (model(**batch).logits - model(**other).logits).abs().amax(-1)  # (B, L)
    first = (batch["input_ids"][0] == model.config.skeleton_token_id).nonzero()[0, 0]
    assert changed[0, :first].max() == 0  # causal: nothing before the skeleton changes
    assert changed[0, first:].max() > 0


def test_padded_skeleton_tokens_take_no_part_in_attention():
    model, processor = tiny_model_and_processor()
    batch = training_batch(processor)
    hidden = batch["attention_mask"] == 0
    reference = model(**batch).logits
    original = model.get_skeleton_tokens

    def noisy(*args):
        tokens = original(*args)
        padded = hidden[batch["input_ids"] == model.config.skeleton_token_id].view(tokens.shape[:2])
        return tokens + 100 * padded[..., None] * torch.randn_like(tokens)

    model.get_skeleton_tokens = noisy
    perturbed = model(**batch).logits
    assert hidden.sum() > 0
    assert torch.allclose(perturbed[~hidden], reference[~hidden], atol=1e-5)


def test_lora_training_updates_only_the_adapters_and_the_projector():
    model, processor = tiny_model_and_processor()
    model.skeleton_encoder.requires_grad_(False)
    lora = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            modules_to_save=["projector"]))
    lora.train()
    assert not model.skeleton_encoder.training  # a frozen encoder keeps its BatchNorm statistics
    lora(**training_batch(processor)).loss.backward()
    with_grad = {name for name, p in lora.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert with_grad and all("lora_" in name or "projector" in name for name in with_grad)
    assert any("projector" in name for name in with_grad)
    assert all(p.grad is None for p in model.skeleton_encoder.parameters())
    assert all(p.grad is None for name, p in lora.named_parameters() if "embed_tokens" in name or "lm_head" in name)


def test_generation_with_and_without_cache_gives_the_same_tokens():
    model, processor = tiny_model_and_processor()
    batch = processor([processor.recognition_prompt(), processor.description_prompt("anger")], CLIPS, CLIP_LAYOUTS)
    cached = model.generate(**batch, max_new_tokens=6, do_sample=False)
    uncached = model.generate(**batch, max_new_tokens=6, do_sample=False, use_cache=False)
    assert cached.shape == (2, batch["input_ids"].shape[1] + 6)
    assert torch.equal(cached, uncached)


def test_save_load_round_trip_gives_the_same_logits(tmp_path):
    model, processor = tiny_model_and_processor("spatiotemporal")
    batch = training_batch(processor)
    model.save_pretrained(tmp_path)
    loaded = EAILlamaForCausalLM.from_pretrained(tmp_path).eval()
    assert loaded.config.token_granularity == "spatiotemporal"
    assert torch.equal(loaded(**batch).logits, model(**batch).logits)


def test_placeholder_count_mismatch_is_a_clear_error():
    model, _ = tiny_model_and_processor("all")
    _, semantic = tiny_model_and_processor("semantic")  # writes 1 placeholder where the model wants 31
    with pytest.raises(ValueError, match=r"prompts hold \[1, 1\] <skeleton> placeholder tokens, expected 31 each"):
        model(**training_batch(semantic))


def test_skeleton_batch_size_must_match_the_prompts():
    model, processor = tiny_model_and_processor()
    batch = training_batch(processor)
    one_clip = {k: batch[k][:1] for k in ("skeleton_values", "joint_mask", "frame_mask", "layout_ids")}
    with pytest.raises(ValueError, match="2 prompts but 1 skeleton clips"):
        model(**dict(batch, **one_clip))


def test_placeholders_without_skeleton_inputs_are_an_error():
    model, processor = tiny_model_and_processor()
    batch = training_batch(processor)
    with pytest.raises(ValueError, match="input_ids hold 62 <skeleton> placeholders but no skeleton_values"):
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])


def test_from_parts_keeps_the_pretrained_weights_and_adds_a_fresh_projector():
    tokenizer = tiny_tokenizer()
    from tiny_models import tiny_language_model
    language_model, encoder = tiny_language_model(len(tokenizer), seed=3), tiny_encoder(seed=4)
    weights = {k: v.clone() for k, v in language_model.state_dict().items()}
    encoder_weights = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = EAILlamaForCausalLM.from_parts(language_model, encoder, tokenizer.convert_tokens_to_ids(SKELETON_TOKEN))
    assert all(torch.equal(model.language_model.state_dict()[k], v) for k, v in weights.items())
    assert all(torch.equal(model.skeleton_encoder.state_dict()[k], v) for k, v in encoder_weights.items())
    assert model.projector.in_features == 16 and model.projector.out_features == 32
    assert model.config.text_config._attn_implementation == "sdpa"


def test_the_model_runs_in_bfloat16_with_float32_skeleton_inputs():
    model, processor = tiny_model_and_processor()
    model = model.to(torch.bfloat16)
    batch = training_batch(processor)  # skeleton_values float32, as the processor writes them
    output = model(**batch)
    assert output.logits.dtype == torch.bfloat16 and torch.isfinite(output.loss)
    prompts = processor([processor.recognition_prompt(), processor.description_prompt("anger")], CLIPS, CLIP_LAYOUTS)
    assert model.generate(**prompts, max_new_tokens=3, do_sample=False).shape[1] == prompts["input_ids"].shape[1] + 3


def test_forward_and_the_first_generation_step_see_the_same_positions_around_masked_skeleton_tokens():
    model, processor = tiny_model_and_processor("all")
    batch = processor([processor.recognition_prompt(), processor.description_prompt("anger")], CLIPS, CLIP_LAYOUTS)
    assert (batch["attention_mask"] == 0).any()  # padding and padded joints leave holes
    generated = model.generate(**batch, max_new_tokens=1, do_sample=False, output_logits=True,
                               return_dict_in_generate=True)
    assert torch.allclose(generated.logits[0], model(**batch).logits[:, -1], atol=1e-5)


def test_the_placeholder_is_never_generated_and_embeddings_can_be_resized():
    model, processor = tiny_model_and_processor()
    assert model.generation_config.suppress_tokens == [model.config.skeleton_token_id]
    size = len(processor.tokenizer)
    model.resize_token_embeddings(size + 8)
    assert model.get_input_embeddings().weight.shape[0] == model.get_output_embeddings().weight.shape[0] == size + 8
    assert model(**training_batch(processor)).logits.shape[-1] == size + 8
