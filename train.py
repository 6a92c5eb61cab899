"""Train EAI-LLM.

    accelerate launch train.py --config configs/demo.yaml --stage all   # or: python train.py ...
    python train.py --config configs/demo.yaml --stage align --loss ce   # the CTR-GCN baseline

Stage ``align`` (stage 1): the skeleton encoder with skeleton–language alignment (paper §3.4),
saved with ``save_pretrained`` to ``<output_dir>/encoder`` (joint training) or
``<output_dir>/encoder-<corpus>`` (separate training), with its SkeletonProcessor and the test
accuracy of its classification head per corpus (``metrics.json``); ``log-align.json`` holds its loss and
training accuracy against step.

Stage ``llm`` (stage 2): the encoder frozen, a linear projector and LoRA adapters trained on the
description and recognition prompts (paper §3.3) in the configured order; writes
``<output_dir>/model`` (LoRA merged; ``EAILlamaForCausalLM.from_pretrained`` and
``EAIProcessor.from_pretrained`` load it), ``<output_dir>/adapter`` (LoRA + projector, peft),
``train-config.yaml`` and ``log-llm.json`` (loss and answer-token accuracy against step). ``--stage llm --resume`` continues from the last
checkpoint in ``<output_dir>/checkpoints-llm`` (without it, stage 2 starts over).

Stage ``all``: stage 1 (joint), then stage 2 on its encoder.
"""

import argparse
import json

from eai_llm.alignment import train_alignment
from eai_llm.instruction_tuning import train_llm
from eai_llm.run_config import check_corpora_exist, load_config, process_state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML config, e.g. configs/demo.yaml")
    parser.add_argument("--stage", choices=["align", "llm", "all"], default="all")
    parser.add_argument("--output-dir", help="overrides output_dir of the config")
    parser.add_argument("--corpus", help="overrides corpus of the config (a folder written by dataset_scripts/)")
    parser.add_argument("--loss", choices=["ce", "se", "st"], help="overrides align.loss")
    parser.add_argument("--separate", action="store_true", help="stage 1: one encoder per corpus instead of joint")
    parser.add_argument("--resume", action="store_true", help="stage 2: continue from the last checkpoint")
    args = parser.parse_args(argv)
    if args.resume and args.stage != "llm":
        parser.error("--resume continues stage 2 from its last checkpoint: use it with --stage llm")
    try:
        config = load_config(args.config, output_dir=args.output_dir, corpus=args.corpus)
        check_corpora_exist(config, args.corpus and "--corpus" or args.config)
    except (OSError, ValueError) as error:  # the message names the file and the key
        raise SystemExit(f"train.py: {error}") from None
    state = process_state()
    if args.loss:
        config.align.loss = args.loss
    if args.separate:
        if args.stage != "align":
            parser.error("--separate trains one encoder per corpus: only with --stage align")
        config.align.joint = False
    try:  # a bad corpus, encoder folder or setting is reported by its message (file, field, expected), not a traceback
        if args.stage in ("align", "all"):
            _, metrics = train_alignment(config)
            if state.is_main_process:
                print(json.dumps(metrics, indent=2))
                print(f"stage 1 encoder(s) and metrics written under {config.output_dir}")
        if args.stage in ("llm", "all"):
            model_dir = train_llm(config, resume=args.resume)
            if state.is_main_process:
                print(f"stage 2 model written to {model_dir} (evaluate: python eval.py --model {model_dir} --corpus ...)")
    except (OSError, ValueError) as error:
        raise SystemExit(f"train.py: {error}") from None
    print(f"process {state.process_index + 1}/{state.num_processes} finished")


if __name__ == "__main__":
    main()
