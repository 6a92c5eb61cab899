"""Write the synthetic default corpus: emotional full-body motion rendered by eai_llm.synthetic.

Renders the requested synthetic corpora (emilya: Xsens MVN 28 joints at 120 Hz, 8 emotions;
kdae: 24 joints at 125 Hz, 7 emotions; egbm: Kinect V2 25 joints at 30 Hz, 7 emotions), about 25 %
of emilya and kdae clips with a description (--describe all: every clip), and writes them as ONE train/test DatasetDict in the
corpus schema of eai_llm.corpus (column ``corpus`` tells them apart; ``label`` is a ClassLabel over
the union of their labels), with layouts.json beside it.

Then it prints clips per corpus and split, the layouts, clips with descriptions, the generation
time, and the oracle accuracy per corpus: a logistic regression on the clips' latent movement
qualities, fitted on the train part and scored on the test part that were written; it is also
saved as ``oracle.json`` beside the corpus.

Example (from the repository root)::

    python dataset_scripts/synthetic.py --output-dir /tmp/eai-synthetic
    python dataset_scripts/synthetic.py --output-dir /tmp/tiny --scale 0.1 --corpora emilya egbm --split actor
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
from datasets import Dataset

from eai_llm.claims import QUALITIES
from eai_llm.corpus import build_corpus, check_output_dir, describe_kinematics, save_corpus
from eai_llm.evaluation import LATENTS_FILE
from eai_llm.layouts import get_layout
from eai_llm.synthetic import SYNTHETIC_CORPORA, SyntheticClip, default_num_clips, generate_clips, oracle_accuracy
from eai_llm.synthetic.descriptions import latent_quantiles
from eai_llm.synthetic.qualities import LATENT_NAMES

from converter_cli import add_output_args, run_script


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="size factor: 1.0 gives about 700 / 120 / 56 clips for emilya / kdae / egbm "
                             "(never fewer than one clip per emotion)")
    parser.add_argument("--corpora", nargs="+", choices=list(SYNTHETIC_CORPORA), default=list(SYNTHETIC_CORPORA),
                        help="which synthetic corpora to render (default: all three)")
    parser.add_argument("--describe", choices=["annotated", "all", "kinematics"], default="annotated",
                        help="annotated: about 25 %% of emilya and kdae clips described by the generator from their "
                             "latents (paper-like); all: every clip described so; kinematics: the annotated ones, "
                             "and every other clip described from its measured movement descriptors")
    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error(f"--scale is {args.scale}, expected > 0")
    args.corpora = list(dict.fromkeys(args.corpora))  # drop repeats, keep order
    return args


def written_clips(split: Dataset, clips: list[SyntheticClip]) -> list[SyntheticClip]:
    """The clips that are the rows of a written ``split``, in its order, found by their positions."""
    by_positions = {clip.positions.tobytes(): clip for clip in clips}
    found = []
    for batch in split.select_columns(["positions"]).with_format("numpy").iter(batch_size=256):
        found += [by_positions[np.asarray(positions, dtype=np.float32).tobytes()] for positions in batch["positions"]]
    return found


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_output_dir(args.output_dir)
    started = time.perf_counter()
    clips: list[SyntheticClip] = []
    for name in args.corpora:
        clips += generate_clips(name, default_num_clips(name, args.scale), seed=args.seed,
                                describe_all=args.describe == "all")
    generation_s = time.perf_counter() - started

    label_names = sorted({label for name in args.corpora for label in SYNTHETIC_CORPORA[name].labels})
    corpus = build_corpus(lambda: (clip.to_row() for clip in clips), label_names, split=args.split,
                          test_fraction=args.test_fraction, seed=args.seed)
    if args.describe == "kinematics":
        corpus = describe_kinematics(corpus, args.seed)
    parts = {split: written_clips(corpus[split], clips) for split in ("train", "test")}
    oracles = {}
    for name in args.corpora:
        train, test = ([c for c in parts[split] if c.corpus == name] for split in ("train", "test"))
        try:
            oracles[name] = oracle_accuracy(train, test)
        except ValueError:  # too few clips for a test part
            pass
    layouts = [get_layout(SYNTHETIC_CORPORA[name].layout) for name in args.corpora]
    qualities = [name for name in LATENT_NAMES if name in QUALITIES]
    columns = [LATENT_NAMES.index(name) for name in qualities]
    latents = {"names": qualities} | {split: [latent_quantiles(c.corpus, c.latents)[columns].tolist() for c in written]
                                      for split, written in parts.items()}
    # The ceiling beside the corpus, for benchmarks that report accuracy against it, and the latents that eval.py
    # checks explanations against.
    save_corpus(corpus, layouts, args.output_dir, push_to_hub=args.push_to_hub, private=args.private,
                extra_files={"oracle.json": json.dumps(oracles, indent=2), LATENTS_FILE: json.dumps(latents)})
    total_s = time.perf_counter() - started

    print(f"synthetic corpus written to {args.output_dir} (split {args.split}, seed {args.seed}, "
          f"scale {args.scale})")
    print(f"{'corpus':8s} {'layout':12s} {'fps':>5s} {'train':>6s} {'test':>5s} {'actors':>6s} "
          f"{'described':>9s} {'oracle':>7s}")
    described = Counter(name for split in corpus.values() for name, text in zip(split["corpus"], split["description"])
                        if text)
    for name in args.corpora:
        train, test = ([c for c in parts[split] if c.corpus == name] for split in ("train", "test"))
        oracle = f"{oracles[name]:7.3f}" if name in oracles else f"{'n/a':>7s}"
        spec = SYNTHETIC_CORPORA[name]
        rendered = [c for c in clips if c.corpus == name]
        print(f"{name:8s} {spec.layout:12s} {spec.fps:5.0f} {len(train):6d} {len(test):5d} "
              f"{len({c.actor for c in rendered}):6d} {described[name]:9d} {oracle}")
    actions = Counter(c.action for c in clips)
    print(f"total {len(clips)} clips ({len(parts['train'])} train, {len(parts['test'])} test); "
          f"actions {dict(sorted(actions.items()))}")
    print(f"labels (ClassLabel): {label_names}")
    print(f"generation {generation_s:.1f} s, total with writing {total_s:.1f} s")

if __name__ == "__main__":
    run_script(main)
