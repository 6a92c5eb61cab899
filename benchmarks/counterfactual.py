"""Counterfactual edits: does the explanation follow the motion? Each test clip is edited in one quality
at a time (eai_llm.edits: slower, wider, head lowered, trembling, with pauses) and explained before and
after, with the description prompt of its true label, so that only the motion differs. For a grounded
model (``grounded_descriptions``) the prompt's read action and measured qualities come from the edited
clip, as at inference, so ``followed`` there also counts the LLM copying a quality its prompt states.

    python benchmarks/counterfactual.py --model outputs/demo/model --corpus outputs/demo/corpus --clips 40

Per edit it prints, over the clips the edit applies to:

- ``measured``: share of clips whose edited descriptor moved the edit's way (a check of the edit);
- ``followed``: of the clips whose explanation did not already claim the edited quality in the edit's
  direction, the share whose explanation's stance on it (+1 claims it high, -1 low, 0 neither or both)
  moved the edit's way; ``opposite``: of all clips, the share whose stance moved the other way;
- ``toward``: share whose label probabilities (recognition by scoring) moved toward the labels whose
  training clips have more of the quality in the edit's direction: sum over the clip's corpus's labels
  of (change in probability) x (label's mean training percentile of the descriptor - 0.5) x direction > 0.

Beside the model, from the same clips and edits: ``kinematic`` (eai_llm.claims.describe_measured with
one seed per clip: a describer that reads the measurement, the reference a reading model should
approach) and ``per_label`` (the clip-blind baseline: one text per label, so it never follows).
"""

import argparse
from collections import defaultdict

import numpy as np

from eai_llm.claims import QUALITIES, describe_measured, parse_claims, reference_population
from eai_llm.corpus import clip_positions, load_corpora, population_records, split_descriptors
from eai_llm.descriptors import DESCRIPTORS, MIN_FPS, describe_motion
from eai_llm.edits import EDITS
from eai_llm.evaluation import clip_blind_explanations
from eai_llm.inference import (DEFAULT_MAX_NEW_TOKENS, description_prompts, generate_answers, label_probabilities,
                               likeliest_actions, load_trained, read_actions)
from eai_llm.labels import merged_label
from eai_llm.layouts import get_layout

AMOUNTS = {"time_stretch": 1.6, "scale_amplitude": 1.4, "pitch_head": 25.0, "add_tremor": 0.015,
           "insert_pauses": 3}  # clear but plausible changes
QUALITY_OF = {quality.descriptor: name for name, quality in QUALITIES.items()}


def stance(text: str, quality: str) -> int:
    """+1 when ``text`` claims ``quality`` high, -1 low, 0 neither or both."""
    directions = {d for q, d in parse_claims(text) if q == quality}
    return next(iter(directions)) if len(directions) == 1 else 0


def share(flags: list) -> str:
    """The share of true flags, or n/a for none."""
    return f"{np.mean(flags):.3f}" if flags else "n/a"


def label_profiles(train, values: np.ndarray, populations: dict) -> dict[str, dict[str, np.ndarray]]:
    """Per corpus and label, the mean percentile ``(K,)`` of each descriptor of ``train``'s clips (``values``
    ``(N, K)``) among their reference populations (``populations``: :func:`eai_llm.corpus.population_records`
    of ``train``; NaN where none measured)."""
    names = train.features["label"].names
    percentiles = defaultdict(lambda: defaultdict(list))
    for row, corpus, label, action in zip(values, train["corpus"], train["label"], train["action"]):
        population = reference_population(populations, corpus, action)[0]
        percentiles[corpus][merged_label(names[label])].append(
            [population.percentile(d, v) for d, v in zip(DESCRIPTORS, row)])
    return {corpus: {label: np.nanmean(np.array(rows), axis=0) for label, rows in by_label.items()}
            for corpus, by_label in percentiles.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True, nargs="+")
    parser.add_argument("--clips", type=int, default=40, help="test clips, taken evenly over the test split")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    args = parser.parse_args(argv)
    corpus = load_corpora(args.corpus[0] if len(args.corpus) == 1 else args.corpus)
    train, test = corpus["train"], corpus["test"]
    model, processor = load_trained(args.model)
    values = split_descriptors(train)
    populations = population_records(train, values)
    profiles = label_profiles(train, values, populations)
    names = test.features["label"].names
    meta = test.select_columns(["fps", "layout", "label", "corpus", "action"])[:]
    usable = [i for i, fps in enumerate(meta["fps"]) if fps >= MIN_FPS]
    chosen = [usable[int(k)] for k in np.linspace(0, len(usable) - 1, min(args.clips, len(usable)))]

    variants = []  # (clip index, edit name or None, positions, fps)
    skipped = defaultdict(int)
    rows = test.with_format("numpy")
    for i in chosen:
        positions, fps, layout = clip_positions(rows[i]), float(meta["fps"][i]), get_layout(meta["layout"][i])
        variants.append((i, None, positions, fps))
        for name, edit in EDITS.items():
            try:
                variants.append((i, name, *edit.function(positions, fps, layout, AMOUNTS[name])))
            except ValueError:  # a clip too short for the edit, or a layout without its joints
                skipped[name] += 1
    layouts = [meta["layout"][i] for i, *_ in variants]
    truth = [merged_label(names[meta["label"][i]]) for i, *_ in variants]
    corpora = [meta["corpus"][i] for i, *_ in variants]
    clips, rates = [v[2] for v in variants], [v[3] for v in variants]
    print(f"{len(chosen)} clips, {len(variants)} variants; skipped per edit {dict(skipped)}", flush=True)

    measured = [describe_motion(c, r, get_layout(layout)) for c, r, layout in zip(clips, rates, layouts)]
    read = read_actions(model, processor, clips, layouts, rates, args.batch_size)
    prompts = description_prompts(model, processor, truth, measured, corpora, likeliest_actions(read, len(clips)))
    texts = {"eai_llm": generate_answers(model, processor, prompts, clips, layouts, args.max_new_tokens,
                                         args.batch_size, fps=rates)}
    texts["kinematic"] = [describe_measured(m, reference_population(populations, c, meta["action"][i])[0],
                                            meta["action"][i],
                                            np.random.default_rng(i))
                          for m, c, (i, *_) in zip(measured, corpora, variants)]
    texts["per_label"] = clip_blind_explanations(train, truth)["per_label"]
    probabilities = label_probabilities(model, processor, clips, layouts, rates, corpora, args.batch_size)

    original = {v[0]: k for k, v in enumerate(variants) if v[1] is None}
    results = defaultdict(lambda: defaultdict(list))
    for k, (i, name, *_) in enumerate(variants):
        if name is None:
            continue
        edit, base = EDITS[name], original[i]
        descriptor, quality = edit.descriptor, QUALITY_OF[edit.descriptor]
        before, after = measured[base].get(descriptor, np.nan), measured[k].get(descriptor, np.nan)
        results[name]["measured"].append(edit.direction * (after - before) > 0)
        for system, generated in texts.items():
            before_stance = stance(generated[base], quality)
            change = stance(generated[k], quality) - before_stance
            if before_stance != edit.direction:
                results[name][f"{system}_followed"].append(edit.direction * change > 0)
            results[name][f"{system}_opposite"].append(edit.direction * change < 0)
        column = list(DESCRIPTORS).index(descriptor)
        profile = profiles.get(corpora[k], {})
        shift = sum((probabilities[k][label] - probabilities[base][label]) * (profile[label][column] - 0.5)
                    for label in probabilities[k] if label in profile and np.isfinite(profile[label][column]))
        results[name]["toward"].append(edit.direction * shift > 0)

    columns = ["measured", *(f"{s}_{kind}" for s in texts for kind in ("followed", "opposite")), "toward"]
    print(f"{'edit':16s}{'clips':>6s}" + "".join(f"{c:>19s}" for c in columns))
    for name, edit in EDITS.items():
        row = results[name]
        print(f"{name:16s}{len(row['measured']):6d}" + "".join(f"{share(row[c]):>19s}" for c in columns))
    everything = {c: [x for name in EDITS for x in results[name][c]] for c in columns}
    print(f"{'all':16s}{sum(len(results[n]['measured']) for n in EDITS):6d}"
          + "".join(f"{share(everything[c]):>19s}" for c in columns))


if __name__ == "__main__":
    main()
