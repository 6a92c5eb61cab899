"""Faithfulness of texts that need no model: the clip-blind baselines and a corpus's own reference
descriptions, checked against the test clips' measured descriptors (eai_llm.claims), the same metrics
eval.py reports beside the model.

    python benchmarks/faithfulness.py --corpus outputs/demo/corpus
"""

import argparse

from eai_llm.corpus import load_corpora
from eai_llm.evaluation import clip_blind_explanations, faithfulness_by_system
from eai_llm.labels import merged_label

COLUMNS = ("claim_precision", "claim_recall", "contradiction_rate", "action_accuracy", "distinct", "num_texts")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, nargs="+")
    args = parser.parse_args(argv)
    corpus = load_corpora(args.corpus[0] if len(args.corpus) == 1 else args.corpus)
    train, test = corpus["train"], corpus["test"]
    names = test.features["label"].names
    truth = [merged_label(names[i]) for i in test["label"]]
    rows = faithfulness_by_system(clip_blind_explanations(train, truth), test, train)[0]
    print(f"{'texts':12s}" + "".join(f"{c:>20s}" for c in COLUMNS))
    for name, metrics in rows.items():
        print(f"{name:12s}" + "".join(f"{'n/a':>20s}" if metrics[c] is None else f"{metrics[c]:20.3f}"
                                      for c in COLUMNS))


if __name__ == "__main__":
    main()
