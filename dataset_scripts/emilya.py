"""Convert Emilya (EMotional body expression In daILY Actions, Fourati & Pelachaud 2016) into an
EAI-LLM corpus (a datasets.DatasetDict).

Emilya is distributed on request and its exact file layout is not public. This script assumes
what the corpus documents: Xsens MVN recordings (120 Hz) of 11 actors, 8 emotions (anger, anxiety,
fear, joy, neutral, panic, sadness, shame), 7 daily actions. It reads every recording under
--input-dir in one Xsens export format (--format):
  mvnx       MVN XML (segment positions, Z-up metres); layout 'xsens_mvn28' when the file defines
             the head, hand and toe end points, else 'xsens_mvn23'
  xsens_csv  MVN Analyze "Segment Position" CSV export; layout 'xsens_mvn23'; needs --fps
  bvh        MVN BVH export; layout read from the BVH hierarchy; units detected once, from the body
             height in the first file read, and used for every file
and takes labels from --labels-csv (header file,label[,actor,action,description]; 'file' is the
path relative to --input-dir or the bare file name). Labels must be Emilya's 8 (case-insensitive;
map other spellings with --label-map, e.g. 'happiness=joy').
"""

import argparse
from pathlib import Path

from eai_llm.corpus import bvh_reader, input_files, sources_from_labels_csv
from eai_llm.labels import CORPUS_LABELS
from eai_llm.motion import read_mvnx, read_xsens_csv

from converter_cli import add_converter_args, convert_from_args, parse_label_map, run_script

SUFFIXES = {"mvnx": ".mvnx", "xsens_csv": ".csv", "bvh": ".bvh"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_converter_args(parser)
    parser.add_argument("--labels-csv", required=True, type=Path)
    parser.add_argument("--format", choices=sorted(SUFFIXES), default="mvnx")
    parser.add_argument("--fps", type=float, help="frame rate; needed with --format xsens_csv (Emilya: 120)")
    args = parser.parse_args(argv)
    if args.format == "xsens_csv" and args.fps is None:
        parser.error("--format xsens_csv needs --fps (the CSV export has no frame rate)")
    files = input_files(args.input_dir, [SUFFIXES[args.format]], exclude=args.labels_csv)
    sources = sources_from_labels_csv(args.input_dir, files, args.labels_csv, CORPUS_LABELS["emilya"],
                                      parse_label_map(args.label_map))
    read = {"mvnx": read_mvnx, "xsens_csv": lambda path: read_xsens_csv(path, fps=args.fps),
            "bvh": bvh_reader()}[args.format]
    convert_from_args(sources, read, "emilya", CORPUS_LABELS["emilya"], args)


if __name__ == "__main__":
    run_script(main)
