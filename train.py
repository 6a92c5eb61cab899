"""Train EAI-LLM.

    accelerate launch train.py --config configs/demo.yaml            # or: python train.py ...
    python train.py --config configs/demo.yaml --loss ce              # the CTR-GCN baseline

Stage ``align`` (stage 1): the skeleton encoder with skeleton–language alignment (paper §3.4),
saved with ``save_pretrained`` to ``<output_dir>/encoder`` (joint training) or
``<output_dir>/encoder-<corpus>`` (separate training), with its SkeletonProcessor and test
accuracy of its classification head per corpus (``metrics.json``).
"""

import argparse
import json

from eai_llm.training import load_config, train_alignment


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="YAML config, e.g. configs/demo.yaml")
    parser.add_argument("--stage", choices=["align"], default="align")
    parser.add_argument("--output-dir", help="overrides output_dir of the config")
    parser.add_argument("--corpus", help="overrides corpus of the config (a folder written by dataset_scripts/)")
    parser.add_argument("--loss", choices=["ce", "se", "st"], help="overrides align.loss")
    parser.add_argument("--separate", action="store_true", help="one encoder per corpus instead of joint training")
    args = parser.parse_args(argv)
    config = load_config(args.config, output_dir=args.output_dir, corpus=args.corpus)
    if args.loss:
        config.align.loss = args.loss
    if args.separate:
        config.align.joint = False
    _, metrics = train_alignment(config)
    print(json.dumps(metrics, indent=2))
    print(f"stage 1 encoder(s) and metrics written under {config.output_dir}")


if __name__ == "__main__":
    main()
