"""`accelerate launch` with two processes on the CPU (gloo): both stages of train.py on tiny configs."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import yaml
from tiny_models import write_tiny_corpus, write_tiny_parts

from eai_llm.corpus import load_corpus
from eai_llm.modeling_eai import EAILlamaForCausalLM

ROOT = Path(__file__).resolve().parents[1]


def test_two_process_launch_trains_both_stages_and_writes_each_output_once(tmp_path):
    llm_dir, _ = write_tiny_parts(tmp_path)
    corpus_dir = write_tiny_corpus(tmp_path / "corpus", clips_per_corpus=8)
    out = tmp_path / "out"
    config = {
        "corpus": str(corpus_dir), "output_dir": str(out), "num_frames": 8,
        "encoder": {"block_channels": [8, 8], "block_strides": [2, 2]},
        "align": {"loss": "ce", "epochs": 1, "batch_size": 4, "warmup_epochs": 1, "decay_epochs": []},
        "llm": {"language_model": str(llm_dir), "token_granularity": "semantic", "description_epochs": 1,
                "recognition_epochs": 1, "batch_size": 2, "learning_rate": 1e-3, "lora_r": 4, "lora_alpha": 8,
                "save_steps": 2},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    environment = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
         str(ROOT / "configs" / "accelerate" / "cpu-2proc.yaml"), str(ROOT / "train.py"),
         "--config", str(tmp_path / "config.yaml"), "--stage", "all"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-12000:]
    assert "process 1/2 finished" in output and "process 2/2 finished" in output, output[-3000:]
    assert output.count("stage 2 model written to") == 1  # the main process reports (and writes) once

    steps = json.loads((out / "log-llm.json").read_text())[-1]["step"]
    train = load_corpus(corpus_dir)["train"]
    examples = len(train) + sum(bool(text) for text in train["description"])
    assert steps == math.ceil(examples / (2 * 2))  # 2 processes × batch 2: each process saw half of the data
    checkpoints = sorted(path.name for path in (out / "checkpoints-llm").iterdir())
    assert checkpoints == [f"checkpoint-{steps}"]  # save_total_limit 1: the last one, written once
    assert not list(out.glob("**/*.partial-*"))
    model = EAILlamaForCausalLM.from_pretrained(out / "model")
    assert model.config.token_granularity == "semantic"
    assert (out / "encoder" / "metrics.json").is_file() and (out / "adapter" / "adapter_config.json").is_file()
