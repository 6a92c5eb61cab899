"""Evaluate a trained EAI-LLM model on a corpus split (paper §4.1).

    python eval.py --model outputs/demo/model --corpus outputs/demo/corpus

Recognition accuracy per corpus and overall, read from generated answers (the paper's protocol:
synonyms and word forms count, no label or several labels = Error) and from the LLM's likelihood of
each label's answer (``score``); a confusion matrix per mode. Every clip is explained (the description
prompt with its true label): ROUGE-1/ROUGE-L, BLEU and METEOR against the described clips' references,
and the faithfulness of the claims the explanations make, checked against each clip's measured movement
descriptors (claim precision and recall, contradictions, action accuracy, distinct explanations), beside
the clip-blind baselines (a constant description, the label's most frequent training description, and
with --bare-llm the bare LLM given the label only) and the kinematic template (the clip's notable measured
qualities and recorded action, written without an LLM), and the action readout's accuracy. Writes metrics.json, explanations.json, confusion-*.png,
training-curves.png (from the run's Trainer logs beside the model folder), report.md and report.html (a
self-contained page with a gallery of animated test clips, their label probabilities and evidence).
"""

import argparse
import json
from pathlib import Path

import torch
from accelerate import PartialState

from eai_llm.corpus import load_corpora
from eai_llm.evaluation import evaluate_split, read_latents
from eai_llm.folders import check_replaceable
from eai_llm.inference import DEFAULT_MAX_NEW_TOKENS, load_trained
from eai_llm.language_models import load_language_model
from eai_llm.report import write_report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder written by train.py (<output_dir>/model)")
    parser.add_argument("--corpus", required=True, nargs="+", help="corpus folder(s) written by dataset_scripts/")
    parser.add_argument("--split", default="test")
    parser.add_argument("--output-dir", help="where to write the report (default: <model>/../eval)")
    parser.add_argument("--modes", nargs="+", choices=["generate", "score"], default=["generate", "score"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS, help="length limit of generated descriptions")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--bare-llm", metavar="NAME_OR_PATH",
                        help="also explain with this language model given the label only (a clip-blind baseline), "
                             "e.g. the LLM the model was trained from: smollm2-135m-instruct-offline")
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir or Path(args.model).parent / "eval")
    try:
        check_replaceable(output_dir)  # refused before the evaluation, not after it
        corpus = load_corpora(args.corpus[0] if len(args.corpus) == 1 else args.corpus)
        if args.split not in corpus:
            raise ValueError(f"{args.corpus}: no split {args.split!r}, expected one of {sorted(corpus)}")
        device, dtype = PartialState().device, getattr(torch, args.dtype)
        model, processor = load_trained(args.model, device, dtype)
        bare_llm = load_language_model(args.bare_llm, dtype)[0].to(device).eval() if args.bare_llm else None
        latents = (read_latents(args.corpus[0], args.split, len(corpus[args.split])) if len(args.corpus) == 1
                   else None)  # synthetic corpora only
        result = evaluate_split(model, processor, corpus[args.split], corpus["train"], tuple(args.modes),
                                args.batch_size, args.max_new_tokens, bare_llm, latents=latents)
        report = write_report(result, output_dir, f"EAI-LLM evaluation: {args.model} on {', '.join(args.corpus)} "
                                                  f"({args.split})", run_dir=Path(args.model).parent)
    except (OSError, ValueError) as error:  # the message names the file or field and what was expected
        raise SystemExit(f"eval.py: {error}") from None
    summary = {key: value for key, value in result["metrics"].items() if key != "recognition_answers"}
    print(json.dumps(summary, indent=2))
    print(f"model: {args.model}\nreport: {report}\nmetrics: {output_dir / 'metrics.json'}")


if __name__ == "__main__":
    main()
