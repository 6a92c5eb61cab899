"""Convert Emilya (EMotional body expression In daILY Actions, Fourati & Pelachaud 2016) into an
EAI-LLM corpus (a datasets.DatasetDict).

Emilya is distributed on request and its exact file layout is not public. This script assumes
what the corpus documents: Xsens MVN recordings (120 Hz) of 11 actors, 8 emotions (anger, anxiety,
fear, joy, neutral, panic, sadness, shame), 7 daily actions. It reads every recording under
--input-dir in one Xsens export format (--format):
  mvnx       MVN XML (segment positions, Z-up metres); layout 'xsens_mvn28' when the file defines
             the head, hand and toe end points, else 'xsens_mvn23'
  xsens_csv  MVN Analyze "Segment Position" CSV export; layout 'xsens_mvn23'; needs --fps
  bvh        MVN BVH export; layout read from the BVH hierarchy
and takes labels from --labels-csv (header file,label[,actor,action,description]; 'file' is the
path relative to --input-dir or the bare file name). Labels must be Emilya's 8 (case-insensitive;
map other spellings with --label-map, e.g. 'happiness=joy').
"""

import argparse
import sys
from pathlib import Path

from eai_llm.corpus import CORPUS_LABELS, add_converter_args, convert_files, parse_label_map, sources_from_labels_csv
from eai_llm.motion import read_motion

SUFFIXES = {"mvnx": {".mvnx"}, "xsens_csv": {".csv"}, "bvh": {".bvh"}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_converter_args(parser)
    parser.add_argument("--labels-csv", required=True, type=Path)
    parser.add_argument("--format", choices=sorted(SUFFIXES), default="mvnx")
    parser.add_argument("--fps", type=float, help="frame rate; needed with --format xsens_csv (Emilya: 120)")
    args = parser.parse_args(argv)
    if args.format == "xsens_csv" and args.fps is None:
        parser.error("--format xsens_csv needs --fps (the CSV export has no frame rate)")
    files = sorted(p for p in args.input_dir.rglob("*") if p.suffix.lower() in SUFFIXES[args.format]
                   and p.resolve() != args.labels_csv.resolve())
    if not files:
        parser.error(f"--input-dir {args.input_dir}: no {'/'.join(SUFFIXES[args.format])} files found")
    sources = sources_from_labels_csv(args.input_dir, files, args.labels_csv, CORPUS_LABELS["emilya"],
                                      parse_label_map(args.label_map))
    options = {"fps": args.fps} if args.format == "xsens_csv" else {}

    def read(path):
        return read_motion(path, format=args.format, **options)

    convert_files(sources, read, "emilya", CORPUS_LABELS["emilya"], args)


if __name__ == "__main__":
    sys.exit(main())
