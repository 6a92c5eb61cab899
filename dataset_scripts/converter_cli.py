"""Command-line glue shared by the converters in this folder: their common options, the call of
:func:`eai_llm.corpus.convert_files` with them, and clean error exits. The conversion itself is a
library call (``eai_llm.corpus``); this module only turns options into its arguments.
"""

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from eai_llm.corpus import ClipSource, ConversionReport, check_label, convert_files, sources_from_labels_csv
from eai_llm.motion import Motion


def parse_label_map(text: str | None) -> dict[str, str]:
    """``"happy=happiness,joy=happiness"`` → ``{"happy": "happiness", "joy": "happiness"}``."""
    mapping = {}
    for pair in filter(None, (p.strip() for p in (text or "").split(","))):
        source, sep, target = pair.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"--label-map: {pair!r} is not of the form name=label")
        mapping[source.strip().lower()] = target.strip().lower()
    return mapping


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """The options every converter in dataset_scripts/ shares."""
    parser.add_argument("--output-dir", required=True,
                        help="folder to write the DatasetDict to: a new or empty folder, or a corpus to replace")
    parser.add_argument("--split", choices=["random", "actor"], default="random",
                        help="random: the paper's seeded 4:1 split, stratified by corpus and label; "
                             "actor: whole actors held out (cross-actor)")
    parser.add_argument("--test-fraction", type=_fraction, default=0.2, help="share of clips in the test part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="also push the corpus to this Hub dataset repo")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: make the repo private")


def _fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (exclusive)")
    return value


def add_converter_args(parser: argparse.ArgumentParser) -> None:
    """The options of the converters that read motion files (all but the synthetic corpus)."""
    parser.add_argument("--input-dir", required=True, type=Path)
    parser.add_argument("--skip-bad", action="store_true",
                        help="skip files that cannot be read (and report them) instead of stopping")
    parser.add_argument("--label-map", default="",
                        help="label synonyms, e.g. 'happy=happiness,joy=happiness' (case-insensitive)")
    parser.add_argument("--describe", choices=["kinematics"],
                        help="kinematics: describe every clip without an annotated description from its measured "
                             "movement descriptors relative to the corpus's training clips (never naming the label), "
                             "so that stage 2 learns to explain")
    add_output_args(parser)


def add_label_args(parser: argparse.ArgumentParser) -> None:
    """Where the labels of a folder of files come from: a CSV or a regex on the file names."""
    labels_from = parser.add_mutually_exclusive_group(required=True)
    labels_from.add_argument("--labels-csv", help="CSV with header file,label[,actor,action,description]")
    labels_from.add_argument("--label-regex", help="regex on file names with a named group 'label'")
    parser.add_argument("--labels", default="", help="comma-separated allowed labels (default: all found)")


def sources_from_args(files: list[Path], args: argparse.Namespace) -> tuple[list[ClipSource], list[str]]:
    """The clips of ``files`` labelled as :func:`add_label_args`'s options say, and the label set."""
    label_map = parse_label_map(args.label_map)
    allowed = [label.strip().lower() for label in args.labels.split(",") if label.strip()]
    if args.labels_csv:
        sources = sources_from_labels_csv(args.input_dir, files, args.labels_csv, allowed or None, label_map)
    else:
        sources = sources_from_regex(files, args.label_regex, allowed or None, label_map)
    return sources, allowed or sorted({source.label for source in sources})


def sources_from_regex(files, pattern: str, allowed, label_map) -> list[ClipSource]:
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"--label-regex {pattern!r} is not a valid regular expression ({error})") from None
    if "label" not in regex.groupindex:
        raise ValueError(f"--label-regex {pattern!r} has no named group 'label', e.g. (?P<label>[a-z]+)")
    sources = []
    for path in files:
        match = regex.fullmatch(path.name)
        if match is None:
            raise ValueError(f"{path}: file name does not match --label-regex {pattern!r}")
        fields = match.groupdict()
        sources.append(ClipSource(path, check_label(fields["label"], allowed, str(path), label_map),
                                  fields.get("actor") or "", fields.get("action") or ""))
    return sources


def run_script(main: Callable[[], object]) -> None:
    """Run a dataset script's ``main()`` as a command: a ValueError or OSError (MotionFileError
    included) is printed as ``error: <message>`` on stderr, without a traceback, and exits with
    status 2, as argparse does for bad options."""
    try:
        main()
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def convert_from_args(sources: list[ClipSource], read: Callable[[Path], Motion], corpus_name: str,
                      label_names: Iterable[str], args: argparse.Namespace) -> ConversionReport:
    """:func:`~eai_llm.corpus.convert_files` with the options of :func:`add_converter_args`; prints its summary."""
    report = convert_files(sources, read, corpus_name, label_names, args.output_dir, input_dir=args.input_dir,
                           split=args.split, test_fraction=args.test_fraction, seed=args.seed,
                           skip_bad=args.skip_bad, describe=args.describe or "", push_to_hub=args.push_to_hub,
                           private=args.private)
    print(report.summary())
    return report
