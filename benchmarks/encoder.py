"""Stage-1 accuracy of the skeleton encoder's semantic head, beside the CE baseline and the oracle.

    python benchmarks/encoder.py --config configs/demo.yaml
    python benchmarks/encoder.py --config configs/demo.yaml --real ../shared/data/bandai-namco-ds2-subset

Synthetic corpus (``corpus`` of the config; written by dataset_scripts/synthetic.py, whose
``oracle.json`` gives the generator's ceiling): trains L_ce (the CTR-GCN baseline: the same encoder,
cross-entropy and an FC head), L_se and L_st, each jointly over all corpora (UST) and separately per
corpus, and prints test accuracy per corpus and the training throughput.

``--real DIR``: the Bandai-Namco style subset (real mocap, 7 styles, 10 actions), converted with
the same code as dataset_scripts/bvh_folder.py; style recognition with L_ce and L_st under two
protocols: 5-fold cross-validation stratified by style, and 5 folds that each hold out 2 whole
actions. Chance is 1/7.
"""

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from datasets import DatasetDict, concatenate_datasets

from eai_llm.corpus import load_corpus
from eai_llm.alignment import train_alignment
from eai_llm.run_config import load_config

BANDAI_REGEX = r"dataset-2_(?P<action>.+)_(?P<label>[a-z]+)_\d+\.bvh"


def run(config, corpus, loss, joint, output_dir):
    config = copy.deepcopy(config)
    config.align.loss, config.align.joint, config.output_dir = loss, joint, str(output_dir)
    return train_alignment(config, corpus)[1]["accuracy"]


def synthetic_table(config, workdir: Path):
    corpus = load_corpus(config.corpus)
    oracle_file = Path(config.corpus) / "oracle.json"
    oracle = json.loads(oracle_file.read_text()) if oracle_file.is_file() else {}
    names = sorted(set(corpus["test"]["corpus"]))
    rows = []
    for joint in (True, False):
        for loss in ("ce", "se", "st"):
            scores = run(config, corpus, loss, joint, workdir / f"{loss}-{'joint' if joint else 'separate'}")
            rows.append((("L_ce (CTR-GCN baseline)" if loss == "ce" else f"L_{loss}"),
                         "joint" if joint else "separate", scores))
            print_table(names, rows, oracle)  # as results come in
    return rows


def print_table(names, rows, oracle):
    header = f"{'loss':26s} {'training':9s} " + " ".join(f"{n:>8s}" for n in names) + f" {'overall':>8s} {'clips/s':>8s}"
    print("\n" + header)
    for loss, training, scores in rows:
        print(f"{loss:26s} {training:9s} " + " ".join(f"{scores[n]:8.3f}" for n in names)
              + f" {scores['overall']:8.3f} {scores['train_clips_per_second']:8.1f}")
    if oracle:
        print(f"{'oracle (latents)':26s} {'':9s} " + " ".join(f"{oracle.get(n, float('nan')):8.3f}" for n in names))


def bandai_folds(full, by_action: bool, seed: int = 0):
    """5 (train, test) index pairs: stratified by label, or holding out 2 whole actions per fold."""
    rng = np.random.default_rng(seed)
    labels, actions = np.asarray(full["label"]), np.asarray(full["action"])
    fold = np.empty(len(full), dtype=int)
    if by_action:
        names = rng.permutation(sorted(set(actions)))
        for i, name in enumerate(names):
            fold[actions == name] = i % 5
    else:
        for value in np.unique(labels):
            rows = rng.permutation(np.flatnonzero(labels == value))
            fold[rows] = np.arange(len(rows)) % 5
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)]


def convert_bandai(real_dir: Path, output_dir: Path) -> Path:
    """The Bandai-Namco subset (BVH, style in the file name) → a corpus folder, with dataset_scripts/bvh_folder.py."""
    data = real_dir / "data" if (real_dir / "data").is_dir() else real_dir
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "dataset_scripts" / "bvh_folder.py"),
                    "--input-dir", str(data), "--label-regex", BANDAI_REGEX, "--corpus", "bandai",
                    "--layout-name", "bandai21", "--output-dir", str(output_dir)], check=True)
    return output_dir


def real_table(config, real_dir: Path, workdir: Path):
    written = load_corpus(convert_bandai(real_dir, workdir / "bandai"))
    full = concatenate_datasets([written["train"], written["test"]])
    for protocol, by_action in (("5-fold, stratified by style", False), ("5-fold, 2 whole actions held out", True)):
        print(f"\nBandai-Namco styles ({len(full)} clips), {protocol}; chance {1 / 7:.3f}")
        for loss in ("ce", "st"):
            accuracies = []
            for k, (train, test) in enumerate(bandai_folds(full, by_action)):
                corpus = DatasetDict(train=full.select(train), test=full.select(test))
                accuracies.append(run(config, corpus, loss, True, workdir / f"bandai-{loss}-{by_action}-{k}")["overall"])
            name = "L_ce (CTR-GCN baseline)" if loss == "ce" else f"L_{loss}"
            print(f"  {name:26s} accuracy {np.mean(accuracies):.3f} ± {np.std(accuracies):.3f}  "
                  f"folds {[round(a, 3) for a in accuracies]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--real", type=Path, help="folder of the Bandai-Namco subset (BVH + licence)")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the --real benchmark")
    parser.add_argument("--epochs", type=int, help="train this many epochs (warm-up and decay epochs scaled)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.epochs:
        ratio = args.epochs / config.align.epochs
        config.align.epochs = args.epochs
        config.align.warmup_epochs = max(1, round(config.align.warmup_epochs * ratio))
        config.align.decay_epochs = [round(e * ratio) for e in config.align.decay_epochs]
    print(f"stage-1 settings: {config.align}")
    with tempfile.TemporaryDirectory(prefix="eai-bench-") as workdir:
        if not args.skip_synthetic:
            synthetic_table(config, Path(workdir))
        if args.real:
            real_table(config, args.real, Path(workdir))


if __name__ == "__main__":
    main()
