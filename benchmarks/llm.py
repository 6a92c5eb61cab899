"""Stage 2 (EAI-LLM) against its baselines, its cost and its latency.

    python benchmarks/llm.py --config configs/demo.yaml --run-dir outputs/demo     # reuses `make demo`
    python benchmarks/llm.py --config configs/demo.yaml --skip-synthetic --real ../shared/data/bandai-namco-ds2-subset

For the corpus of the config (trained with ``train.py --stage all`` into ``--run-dir`` unless a model
is already there, and evaluated unless eval.py's ``eval/metrics.json`` is there), prints and writes
``<run-dir>/benchmark-llm.json``:

- recognition accuracy of the LLM, generation (parsed, Error counted wrong) and scoring modes, beside
  the stage-1 encoder's own head and the CE baseline (the same encoder trained with cross-entropy only);
- description ROUGE-1/ROUGE-L/BLEU/METEOR beside a baseline that gets the label but no skeleton tokens:
  the bare LLM's background knowledge alone (as the paper's GPT-4 row);
- training overhead of the skeleton path: forward+backward time of a LoRA step of EAILlamaForCausalLM
  against the bare LLM with the same LoRA on the same token count (placeholders swapped for text ids);
- inference latency per clip at batch 1: recognition by generation, and ``explain`` (scoring + a
  generated explanation).

``--real DIR``: the Bandai-Namco style subset (real BVH, a 21-joint skeleton the code has never seen,
7 styles, no descriptions), converted with dataset_scripts/bvh_folder.py, through the same pipeline.
"""

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch
from encoder import convert_bandai  # benchmarks/encoder.py, beside this script
from peft import LoraConfig, get_peft_model

from eai_llm.alignment import train_alignment
from eai_llm.corpus import clip_positions, load_corpora
from eai_llm.evaluation import evaluate_split
from eai_llm.inference import explain, generate_answers, load_trained
from eai_llm.instruction_tuning import InstructionCollator, instruction_examples, train_llm
from eai_llm.language_models import load_language_model
from eai_llm.run_config import load_config


def trained_run(config) -> Path:
    """Stage 1 and stage 2 into ``config.output_dir`` unless their outputs are there already."""
    out = Path(config.output_dir)
    if not (out / "encoder" / "config.json").is_file():
        train_alignment(config)
    if not (out / "model" / "config.json").is_file():
        train_llm(config)
    return out


def ce_baseline(config) -> dict:
    config = copy.deepcopy(config)
    config.align.loss, config.output_dir = "ce", str(Path(config.output_dir) / "ce-baseline")
    metrics_file = Path(config.output_dir) / "encoder" / "metrics.json"
    if not metrics_file.is_file():
        train_alignment(config)
    return json.loads(metrics_file.read_text())


def step_time(model, batch, repeats: int = 3) -> float:
    """Median seconds of a forward + backward pass."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        model(**batch).loss.backward()
        model.zero_grad(set_to_none=True)
        if i:  # the first pass warms up
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_overhead(config, model, language_model, processor, train) -> dict:
    """Step time of EAILlamaForCausalLM + LoRA over the bare LLM + the same LoRA, same batch of token ids."""
    settings = config.llm
    lora = dict(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                target_modules=settings.lora_target_modules)
    recognition = copy.deepcopy(settings)
    recognition.description_epochs, recognition.recognition_epochs = 0, 1
    examples = instruction_examples(train, recognition, config.seed).select(range(settings.batch_size))
    batch = InstructionCollator(processor, train)([examples[i] for i in range(len(examples))])
    model.skeleton_encoder.requires_grad_(False)
    eai = get_peft_model(model, LoraConfig(**lora, modules_to_save=["projector"])).train()
    eai_seconds = step_time(eai, batch)
    bare = get_peft_model(language_model, LoraConfig(**lora)).train()
    text_only = batch["input_ids"].masked_fill(batch["input_ids"] == model.config.skeleton_token_id,
                                               processor.tokenizer.eos_token_id)
    bare_seconds = step_time(bare, {"input_ids": text_only, "attention_mask": batch["attention_mask"],
                                    "labels": batch["labels"]})
    return {"batch_size": settings.batch_size, "tokens_per_sample": int(batch["input_ids"].shape[1]),
            "eai_step_seconds": eai_seconds, "bare_llm_step_seconds": bare_seconds,
            "ratio": eai_seconds / bare_seconds}


def latency(model, processor, test, clips: int) -> dict:
    rows = test.with_format("numpy")
    recognise, explained = [], []
    for i in range(min(clips, len(test))):
        positions, layout, fps = clip_positions(rows[i]), str(rows[i]["layout"]), float(rows[i]["fps"])
        start = time.perf_counter()
        generate_answers(model, processor, [processor.recognition_prompt()], [positions], [layout], max_new_tokens=24,
                         fps=[fps])
        recognise.append(time.perf_counter() - start)
        start = time.perf_counter()
        explain(model, processor, positions, layout, fps)
        explained.append(time.perf_counter() - start)
    return {"clips": len(recognise), "recognise_generate_seconds": statistics.mean(recognise),
            "explain_seconds": statistics.mean(explained)}


def benchmark(config, latency_clips: int) -> dict:
    out = trained_run(config)
    corpus = load_corpora(config.corpus)
    test, train = corpus["test"], corpus["train"]
    model, processor = load_trained(out / "model")
    language_model, _ = load_language_model(config.llm.language_model)  # the bare LLM, for the baselines
    eval_file = out / "eval" / "metrics.json"  # written by eval.py (make demo); else evaluated here
    evaluation = (json.loads(eval_file.read_text()) if eval_file.is_file()
                  else evaluate_split(model, processor, test, train, bare_llm=language_model)["metrics"])
    result = {
        "stage1_head": json.loads((out / "encoder" / "metrics.json").read_text()),
        "ce_baseline": ce_baseline(config),
        "llm_generate": evaluation["recognition_generate"],
        "llm_score": evaluation["recognition_score"],
    }
    if "description" in evaluation:
        result["description"] = evaluation["description"]
        result["description_no_skeleton"] = evaluation["description_baselines"].get("bare_llm")
    result["latency"] = latency(model, processor, test, latency_clips)
    result["training_overhead"] = training_overhead(config, model, language_model, processor, train)
    return result


def print_result(name: str, result: dict):
    corpora = [c for c in result["llm_generate"]["accuracy"] if c != "overall"] + ["overall"]
    print(f"\n== {name}: recognition accuracy (test split) ==")
    print(f"{'':34s}" + "".join(f"{c:>9s}" for c in corpora) + f"{'Error':>9s}")
    rows = [("stage-1 head (L_st encoder)", result["stage1_head"], None),
            ("CE baseline (CTR-GCN-style)", result["ce_baseline"], None),
            ("EAI-LLM, generation (parsed)", result["llm_generate"]["accuracy"], result["llm_generate"]["error_rate"]),
            ("EAI-LLM, scoring", result["llm_score"]["accuracy"], result["llm_score"]["error_rate"])]
    for label, scores, errors in rows:
        print(f"{label:34s}" + "".join(f"{scores.get(c, float('nan')):9.3f}" for c in corpora)
              + (f"{errors:9.3f}" if errors is not None else ""))
    if "description" in result:
        print(f"\n== {name}: descriptions ({result['description']['num_clips']:.0f} described test clips) ==")
        for label, key in (("EAI-LLM (skeleton tokens + label)", "description"),
                           ("bare LLM, label only (no skeleton)", "description_no_skeleton")):
            d = result[key]
            if d is None:
                continue
            print(f"{label:36s} ROUGE-1 {d['rouge1']:.3f}  ROUGE-L {d['rougeL']:.3f}  BLEU {d['bleu']:6.2f}  "
                  f"METEOR {d['meteor']:.3f}")
    o, lat = result["training_overhead"], result["latency"]
    print(f"\ntraining step (batch {o['batch_size']}, {o['tokens_per_sample']} tokens): EAI-LLM "
          f"{o['eai_step_seconds']:.2f} s, bare LLM {o['bare_llm_step_seconds']:.2f} s, ratio {o['ratio']:.3f}")
    print(f"latency per clip (batch 1, {lat['clips']} clips): recognise by generation "
          f"{lat['recognise_generate_seconds']:.2f} s, explain (score + explanation) {lat['explain_seconds']:.2f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--run-dir", type=Path, default=Path("outputs/bench-llm"),
                        help="trained run to reuse, or where to train (outputs/demo after `make demo`)")
    parser.add_argument("--real", type=Path, help="folder of the Bandai-Namco subset (BVH + licence)")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the --real benchmark")
    parser.add_argument("--latency-clips", type=int, default=5)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    results = {}
    if not args.skip_synthetic:
        config = load_config(args.config, output_dir=str(args.run_dir))
        results["synthetic"] = benchmark(config, args.latency_clips)
        print_result("synthetic corpus", results["synthetic"])
    if args.real:
        config = load_config(args.config, output_dir=str(args.run_dir / "bandai"))
        corpus_dir = args.run_dir / "bandai-corpus"
        config.corpus = str(corpus_dir if (corpus_dir / "layouts.json").is_file() else convert_bandai(args.real, corpus_dir))
        config.llm.description_epochs = 0  # the subset has style labels only
        results["bandai"] = benchmark(config, args.latency_clips)
        print_result("Bandai-Namco styles (real mocap)", results["bandai"])
    args.run_dir.mkdir(parents=True, exist_ok=True)
    (args.run_dir / "benchmark-llm.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {args.run_dir / 'benchmark-llm.json'}")


if __name__ == "__main__":
    main()
