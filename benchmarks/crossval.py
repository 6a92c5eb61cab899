"""Cross-validated recognition accuracy on any corpus: the stage-1 encoder (CE and the configured
alignment loss), a movement-descriptor baseline and, with ``--llm``, EAI-LLM in scoring mode.

What it measures: test accuracy per fold, and its mean ± sd over the folds, of

- ``L_ce``: the stage-1 encoder trained with cross-entropy only (``align.loss: ce``, the CTR-GCN baseline);
- ``L_<loss>``: the same encoder trained with the config's ``align.loss`` (e.g. ``st``, eq. 5);
- descriptors + logistic regression: the clip's movement descriptors (:mod:`eai_llm.descriptors`;
  NaN imputed with the training mean, then standardised), no learned motion features;
- ``--llm``: EAI-LLM recognition by scoring each label's answer (stage 2 on that fold's
  ``L_<loss>`` encoder, recognition only when the corpus has no descriptions);
- the majority class of the fold's training part; chance (1 / labels) and the pooled majority-class
  rate are printed above the table.

Protocol: the train and test splits of the corpus folders are pooled and cut into K folds, each
tested once by every method trained on the other K-1 (the same folds for all methods, one run).
Without ``--group``: ``StratifiedKFold`` by (corpus, label), shuffled with ``--seed``. With
``--group action`` or ``actor``: ``StratifiedGroupKFold``, so that each value of that column (per
corpus) lies in one fold only: recognition of actions or actors never seen in training. Refused
when a clip lacks that column, when it has fewer distinct values than folds, and when a fold's
training part lacks a label its test part has. Labels are merged across corpora
(:func:`eai_llm.labels.merged_label`) and every method chooses among its clip's corpus's labels only.
Every clip of ``--corpus`` is used (the config's ``corpus`` and ``corpora`` are ignored). Training
uses the config's ``seed``; ``--seed`` only shuffles the folds. sd is the population sd (``np.std``),
as benchmarks/encoder.py prints it.

Time: on 2 CPU cores, one stage-1 training on 336 Bandai clips takes about 50 s at 220 steps
(``--epochs 20`` with ``align.min_steps: 0``) and about 2 min at the demo config's 600-step floor
(two per fold; the descriptors of all 420 clips take under 1 s); ``--llm`` adds stage 2 and scoring
per fold.

    .venv/bin/python dataset_scripts/bvh_folder.py --input-dir ../shared/data/bandai-namco-ds2-subset/data \\
        --label-regex 'dataset-2_(?P<action>.+)_(?P<label>[a-z]+)_\\d+\\.bvh' --corpus bandai \\
        --layout-name bandai21 --output-dir /tmp/xval/bandai
    .venv/bin/python benchmarks/crossval.py --corpus /tmp/xval/bandai --epochs 20
    .venv/bin/python benchmarks/crossval.py --corpus /tmp/xval/bandai --epochs 20 --group action
    .venv/bin/python benchmarks/crossval.py --corpus /tmp/xval/bandai --llm --output xval-llm.json

Any corpus folder written by dataset_scripts/ works, several at once too; this replaces the
Bandai-only ``--real`` protocols of benchmarks/encoder.py and benchmarks/llm.py (a hard-coded file
name regex, corpus name and 7-style chance).
"""

import argparse
import copy
import gc
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from datasets import DatasetDict, concatenate_datasets
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eai_llm.alignment import train_alignment
from eai_llm.corpus import load_corpora, split_descriptors
from eai_llm.labels import merged_label
from eai_llm.run_config import load_config

SEPARATOR = "\x1f"  # joins corpus and label (or group) names into one key
DESCRIPTOR_METHOD = "descriptors + logistic regression"


class Refused(SystemExit):
    """A protocol this corpus cannot support; the message says why."""

    def __init__(self, message: str):
        super().__init__(f"crossval: {message}")


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", required=True, metavar="DIR", help="corpus folders (dataset_scripts/)")
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--group", choices=("action", "actor"), help="hold out whole values of this column")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="shuffles the folds")
    parser.add_argument("--epochs", type=int, help="stage-1 epochs (warm-up and decay epochs scaled; the config's "
                        "align.min_steps floor still applies)")
    parser.add_argument("--llm", action="store_true", help="also EAI-LLM recognition, scoring mode (slow)")
    parser.add_argument("--output", type=Path, help="write the results here as JSON")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error(f"--folds is {args.folds}, expected at least 2")
    return args


def scaled_config(config, epochs: int | None):
    """A copy of ``config`` with ``align.epochs = epochs`` and warm-up and decay epochs scaled alike."""
    config = copy.deepcopy(config)
    if epochs:
        ratio = epochs / config.align.epochs
        config.align.epochs = epochs
        config.align.warmup_epochs = max(1, round(config.align.warmup_epochs * ratio))
        config.align.decay_epochs = [round(e * ratio) for e in config.align.decay_epochs]
    return config


def pooled_corpus(folders: list[str]):
    """The train and test splits of ``folders`` as one Dataset (layouts registered)."""
    corpus = load_corpora(folders)
    return concatenate_datasets([corpus["train"], corpus["test"]])


def clip_labels(full) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` merged label names and ``(N,)`` corpus names of the clips."""
    names = full.features["label"].names
    return np.array([merged_label(names[i]) for i in full["label"]]), np.array(full["corpus"])


def joined(*columns) -> np.ndarray:
    """``(N,)`` keys joining the columns row by row, e.g. (corpus, label)."""
    return np.array([SEPARATOR.join(map(str, parts)) for parts in zip(*columns)])


def make_folds(full, labels, corpora, folds: int, group: str | None, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` (train, test) index pairs (module docstring), checked: each test label is trained on."""
    strata = joined(corpora, labels)
    if group is None:
        splitter, groups = StratifiedKFold(folds, shuffle=True, random_state=seed), None
    else:
        values = np.array(full[group])
        if (values == "").any():
            raise Refused(f"--group {group}: field {group!r} is empty in {int((values == '').sum())} of "
                          f"{len(values)} clips, expected a value for every clip")
        distinct = sorted(set(values.tolist()))
        if len(distinct) < folds:
            raise Refused(f"--group {group}: field {group!r} has {len(distinct)} distinct value(s) {distinct[:10]}, "
                          f"fewer than --folds {folds}")
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        groups = joined(corpora, values)
    try:
        pairs = list(splitter.split(np.zeros(len(strata)), strata, groups))
    except ValueError as error:
        raise Refused(f"cannot make {folds} folds: {error}") from None
    for k, (train, test) in enumerate(pairs, start=1):
        if len(test) == 0:
            raise Refused(f"fold {k} has no test clip; use fewer --folds")
        unseen = sorted(set(strata[test]) - set(strata[train]))
        if unseen:
            named = ", ".join("{1!r} (corpus {0!r})".format(*s.split(SEPARATOR)) for s in unseen)
            raise Refused(f"fold {k}: its training part has no clip of label {named}, which its test part has; "
                          "use fewer --folds" + (f" or another --group than {group!r}" if group else ""))
    return pairs


def encoder_accuracy(config, corpus: DatasetDict, loss: str, output_dir: Path) -> float:
    """Stage-1 test accuracy (overall) of the encoder trained with ``loss`` into ``output_dir``/encoder."""
    config = copy.deepcopy(config)
    config.align.loss, config.align.joint, config.output_dir = loss, True, str(output_dir)
    return train_alignment(config, corpus=corpus)[1]["accuracy"]["overall"]


def corpus_choice(scores: np.ndarray, classes: np.ndarray, train_labels, train_corpora, corpora) -> np.ndarray:
    """Per clip, the best-scoring class among the labels its corpus has in training."""
    has = {c: set(train_labels[train_corpora == c]) for c in set(corpora)}
    allowed = np.array([[label in has[c] for label in classes] for c in corpora])
    return classes[np.where(allowed, scores, -np.inf).argmax(axis=1)]


def descriptor_accuracy(features, labels, corpora, train, test) -> float:
    """Accuracy of SimpleImputer + StandardScaler + LogisticRegression on the descriptors."""
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(features[train], labels[train])
    predicted = corpus_choice(model.predict_proba(features[test]), model.classes_, labels[train],
                              corpora[train], corpora[test])
    return float((predicted == labels[test]).mean())


def majority_accuracy(labels, corpora, train, test) -> float:
    """Accuracy of always answering the training part's most frequent label of the clip's corpus."""
    top = {c: Counter(labels[train][corpora[train] == c]).most_common(1)[0][0] for c in set(corpora[test])}
    return float(np.mean([top[c] == label for c, label in zip(corpora[test], labels[test])]))


def llm_accuracy(config, corpus: DatasetDict, fold_dir: Path) -> float:
    """EAI-LLM scoring accuracy: stage 2 on ``fold_dir``/encoder, evaluated on the fold's test part.
    Stage 2 is imported here, so runs without ``--llm`` do not load it."""
    from eai_llm.evaluation import evaluate_split
    from eai_llm.inference import load_trained
    from eai_llm.instruction_tuning import train_llm

    config = copy.deepcopy(config)
    config.output_dir, config.llm.encoder = str(fold_dir), str(fold_dir / "encoder")
    if not any(corpus["train"]["description"]):
        config.llm.description_epochs = 0
    model, processor = load_trained(train_llm(config, corpus=corpus))
    metrics = evaluate_split(model, processor, corpus["test"], corpus["train"], modes=("score",), explain=False)["metrics"]
    del model
    gc.collect()
    return metrics["recognition_score"]["accuracy"]["overall"]


def method_list(loss: str, llm: bool) -> list[tuple[str, str]]:
    """``(row name, kind)`` of each method, in table order; ``kind`` is a loss, "descriptors", "llm" or
    "majority". The LLM comes after the ``loss`` encoder it builds on."""
    methods = [("L_ce (CTR-GCN baseline)", "ce")] + ([(f"L_{loss} (config)", loss)] if loss != "ce" else [])
    methods.append((DESCRIPTOR_METHOD, "descriptors"))
    if llm:
        methods.append((f"EAI-LLM, scoring (L_{loss} encoder)", "llm"))
    return methods + [("majority class of training part", "majority")]


def summary(scores: list[float]) -> dict:
    """Per-fold scores with their mean and population sd."""
    return {"folds": scores, "mean": float(np.mean(scores)), "sd": float(np.std(scores))}


def print_table(results: dict, folds: int):
    """Methods by folds, then mean ± sd."""
    width = max(len(name) for name in results) + 2
    print(f"\n{'method':{width}s}" + "".join(f"{'fold ' + str(k):>9s}" for k in range(1, folds + 1))
          + f"{'mean ± sd':>16s}")
    for name, result in results.items():
        print(f"{name:{width}s}" + "".join(f"{s:9.3f}" for s in result["folds"])
              + f"{result['mean']:10.3f} ± {result['sd']:.3f}")


def fold_score(kind: str, config, full, labels, corpora, features, train, test, fold_dir: Path) -> float:
    """Test accuracy of one method (``kind``, :func:`method_list`) on one fold."""
    if kind in ("ce", "se", "st"):
        corpus = DatasetDict(train=full.select(train), test=full.select(test))
        return encoder_accuracy(config, corpus, kind, fold_dir / kind)
    if kind == "descriptors":
        return descriptor_accuracy(features, labels, corpora, train, test)
    if kind == "llm":
        corpus = DatasetDict(train=full.select(train), test=full.select(test))
        return llm_accuracy(config, corpus, fold_dir / config.align.loss)
    return majority_accuracy(labels, corpora, train, test)


def run_folds(config, methods, full, labels, corpora, pairs, workdir: Path) -> tuple[dict, dict]:
    """Every method on every fold: ``{name: [accuracy per fold]}`` and ``{name: seconds in all}``."""
    scores, seconds = {name: [] for name, _ in methods}, {name: 0.0 for name, _ in methods}
    start = time.perf_counter()
    features = split_descriptors(full)  # per clip, so once for all folds
    seconds[DESCRIPTOR_METHOD] += time.perf_counter() - start
    for k, (train, test) in enumerate(pairs, start=1):
        for name, kind in methods:
            start = time.perf_counter()
            score = fold_score(kind, config, full, labels, corpora, features, train, test, workdir / f"fold-{k}")
            seconds[name] += time.perf_counter() - start
            scores[name].append(score)
            print(f"fold {k}/{len(pairs)} ({len(train)} train, {len(test)} test): {name} {score:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return scores, seconds


def write_report(path: Path, args, config, full, pairs, chance: float, majority: float, results: dict, wall: float):
    """The settings, fold sizes and results as JSON."""
    report = {"corpus": list(args.corpus), "config": args.config, "group": args.group, "folds": args.folds,
              "seed": args.seed, "epochs": config.align.epochs, "min_steps": config.align.min_steps, "clips": len(full), "chance": chance,
              "majority_class": majority, "fold_sizes": [[len(a), len(b)] for a, b in pairs],
              "results": results, "wall_seconds": wall}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"written: {path}")


def main(argv=None):
    """Run every method on the same folds, print the table and write the JSON."""
    args = parse_args(argv)
    started = time.perf_counter()
    full = pooled_corpus(args.corpus)
    labels, corpora = clip_labels(full)
    pairs = make_folds(full, labels, corpora, args.folds, args.group, args.seed)
    chance = 1 / len(set(labels))
    majority = Counter(labels).most_common(1)[0][1] / len(labels)
    protocol = f"{args.folds} folds, " + (f"whole {args.group}s held out" if args.group else "stratified by label")
    print(f"{len(full)} clips, {len(set(labels))} labels, corpora {dict(Counter(corpora.tolist()))}; {protocol}; "
          f"chance {chance:.3f}, majority class {majority:.3f}", flush=True)

    with tempfile.TemporaryDirectory(prefix="eai-crossval-") as workdir:
        config = scaled_config(load_config(args.config, output_dir=workdir), args.epochs)
        config.corpus, config.corpora = list(args.corpus), None
        methods = method_list(config.align.loss, args.llm)
        scores, seconds = run_folds(config, methods, full, labels, corpora, pairs, Path(workdir))

    results = {name: {**summary(values), "seconds": seconds[name]} for name, values in scores.items()}
    print(f"\n{protocol}; {len(full)} clips; chance {chance:.3f}, majority class {majority:.3f}; "
          f"stage-1 epochs {config.align.epochs}, at least {config.align.min_steps} steps")
    print_table(results, args.folds)
    wall = time.perf_counter() - started
    print(f"\nwall time {wall:.0f} s")
    if args.output:
        write_report(args.output, args, config, full, pairs, chance, majority, results, wall)


if __name__ == "__main__":
    main()
