"""Description metrics (paper §4.1: ROUGE, BLEU, METEOR) as ``evaluate`` modules that run offline.

``evaluate.load("rouge")`` and friends fetch their scripts from the Hub, and NLTK's METEOR downloads
WordNet; neither works without a network. These modules compute the same scores with the
libraries those scripts wrap (``rouge-score``, ``sacrebleu``, NLTK) and read WordNet from the Debian
packages ``wordnet-base`` and ``wordnet-sense-index`` (``/usr/share/wordnet``)::

    rouge = Rouge(); rouge.compute(predictions=[...], references=[...])  # {"rouge1", "rougeL"}
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import datasets
import evaluate
from huggingface_hub import constants

from .folders import write_folder

WORDNET_DIR = Path("/usr/share/wordnet")
_FEATURES = datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")})


def _info(description: str) -> evaluate.MetricInfo:
    return evaluate.MetricInfo(description=description, citation="", features=_FEATURES)


class Rouge(evaluate.Metric):
    """ROUGE-1 and ROUGE-L F-measures (Porter stemming), averaged over pairs, in [0, 1]."""

    def _info(self):
        return _info(self.__doc__)

    def _compute(self, predictions, references):
        from rouge_score import rouge_scorer

        scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
        scores = [scorer.score(ref, pred) for pred, ref in zip(predictions, references)]
        return {key: sum(s[key].fmeasure for s in scores) / len(scores) for key in ("rouge1", "rougeL")}


class Bleu(evaluate.Metric):
    """Corpus BLEU-4 (sacrebleu, 13a tokenisation), in [0, 100]."""

    def _info(self):
        return _info(self.__doc__)

    def _compute(self, predictions, references):
        import sacrebleu

        return {"bleu": sacrebleu.corpus_bleu(list(predictions), [list(references)]).score}


class Meteor(evaluate.Metric):
    """METEOR (NLTK: exact, Porter-stem and WordNet-synonym matches), averaged over pairs, in [0, 1]."""

    def _info(self):
        return _info(self.__doc__)

    def _compute(self, predictions, references):
        from nltk.translate.meteor_score import meteor_score

        wordnet = load_wordnet()
        scores = [meteor_score([ref.lower().split()], pred.lower().split(), wordnet=wordnet)
                  for pred, ref in zip(predictions, references)]
        return {"meteor": sum(scores) / len(scores)}


@functools.cache
def load_wordnet():
    """NLTK's WordNet over Debian's ``wordnet-base`` and ``wordnet-sense-index`` files, copied once to
    ``$HF_HOME/eai_llm/nltk_data/corpora/wordnet`` (NLTK reads corpora only from its data path) with the
    ``lexnames`` file NLTK wants and Debian does not ship (lexicographer file names, which METEOR never
    reads: they get numbered names)."""
    import nltk

    if not (WORDNET_DIR / "index.sense").is_file():
        raise FileNotFoundError(f"METEOR needs WordNet in {WORDNET_DIR}: apt-get install wordnet-base "
                                "wordnet-sense-index")
    data_path = Path(constants.HF_HOME) / "eai_llm" / "nltk_data"
    root = data_path / "corpora" / "wordnet"
    if not (root / "lexnames").is_file():
        def write(staging: Path):
            shutil.copytree(WORDNET_DIR, staging, ignore=shutil.ignore_patterns("bin", "wnres", "pixmaps"),
                            dirs_exist_ok=True)
            numbers = {int(line.split()[1]) for part in ("noun", "verb", "adj", "adv")
                       for line in (staging / f"data.{part}").open() if line[:1].isdigit()}
            (staging / "lexnames").write_text("".join(f"{n:02d}\tlexfile.{n:02d}\t0\n"
                                                      for n in range(max(numbers) + 1)))

        write_folder(root, write)
    if str(data_path) not in nltk.data.path:
        nltk.data.path.append(str(data_path))
    from nltk.corpus import wordnet

    wordnet.ensure_loaded()
    return wordnet
