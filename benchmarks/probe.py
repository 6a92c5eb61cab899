"""Is the action in the tokens the LLM reads? A linear probe (scikit-learn logistic regression on
standardised features, fitted on the train split, scored on the test split) predicts each clip's
recorded action from a stage-1 encoder's semantic token, from its temporal tokens (mean over steps)
and from the clip's movement descriptors alone, beside the majority action of the train split.

    python benchmarks/probe.py --encoder outputs/demo/encoder --corpus outputs/demo/corpus
"""

import argparse
from collections import Counter

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eai_llm.corpus import clip_positions, load_corpora
from eai_llm.modeling_eai import EAISkeletonEncoder
from eai_llm.processing_eai import SkeletonProcessor


@torch.no_grad()
def features(encoder, processor, split, batch_size: int = 64) -> dict[str, np.ndarray]:
    """``{"semantic token": (N, D), "temporal tokens (mean)": (N, D), "descriptors": (N, K)}`` of ``split``
    (absent descriptors as 0, the standardised mean after scaling)."""
    rows = split.with_format("numpy")
    parts = {"semantic token": [], "temporal tokens (mean)": [], "descriptors": []}
    for start in range(0, len(rows), batch_size):
        items = [rows[i] for i in range(start, min(start + batch_size, len(rows)))]
        batch = processor([clip_positions(r) for r in items], [str(r["layout"]) for r in items],
                          [float(r["fps"]) for r in items], return_tensors="pt")
        encoded = encoder(**{key: batch[key] for key in processor.model_input_names})
        parts["semantic token"].append(encoded.semantic_token.numpy())
        parts["temporal tokens (mean)"].append(encoded.temporal_tokens.mean(1).numpy())
        parts["descriptors"].append(np.nan_to_num(batch["motion_descriptors"].numpy()))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", required=True, help="a stage-1 encoder folder (<output_dir>/encoder)")
    parser.add_argument("--corpus", required=True, nargs="+")
    args = parser.parse_args(argv)
    corpus = load_corpora(args.corpus[0] if len(args.corpus) == 1 else args.corpus)
    encoder = EAISkeletonEncoder.from_pretrained(args.encoder).eval()
    processor = SkeletonProcessor.from_pretrained(args.encoder)
    train, test = corpus["train"], corpus["test"]
    y_train, y_test = np.array(train["action"]), np.array(test["action"])
    if not all(y_train) or not all(y_test):
        raise SystemExit("probe.py: some clips record no action (column 'action'), expected every clip to have one")
    x_train, x_test = features(encoder, processor, train), features(encoder, processor, test)
    majority = Counter(y_train.tolist()).most_common(1)[0][0]
    print(f"action of {len(y_test)} test clips, {len(set(y_train))} actions")
    print(f"{'majority action of train':28s} {np.mean(y_test == majority):.3f}")
    for name in x_train:
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train[name], y_train)
        print(f"{name:28s} {np.mean(probe.predict(x_test[name]) == y_test):.3f}")


if __name__ == "__main__":
    main()
