"""Convert EGBM (Emotional Gestures and Body Movements corpus, Sapiński et al. 2019) into an
EAI-LLM corpus (a datasets.DatasetDict).

EGBM is distributed on request and its exact file layout is not public. This script assumes what
the corpus documents: Kinect V2 skeletons (25 joints, 30 Hz) of 16 actors, 7 emotions (anger,
disgust, fear, happiness, neutral, sadness, surprise). It reads every *.txt / *.csv file under
--input-dir as Kinect V2 skeleton text (one frame per line; 75 numbers = x y z of the 25 joints
in the SDK's JointType order, or 76 with a leading timestamp, or 100 with a tracking state after
each joint; camera space, metres, Y up; layout 'kinect_v2') and takes labels from --labels-csv
(header file,label[,actor,action,description]; 'file' is the path relative to --input-dir or the
bare file name). Labels must be EGBM's 7 (case-insensitive; map other spellings, e.g. Polish
names, with --label-map).
"""

import argparse
from pathlib import Path

from eai_llm.corpus import input_files, sources_from_labels_csv
from eai_llm.labels import CORPUS_LABELS
from eai_llm.motion import read_kinect_v2

from converter_cli import add_converter_args, convert_from_args, parse_label_map, run_script


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_converter_args(parser)
    parser.add_argument("--labels-csv", required=True, type=Path)
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate when the files carry no timestamps")
    args = parser.parse_args(argv)
    files = input_files(args.input_dir, [".txt", ".csv"], exclude=args.labels_csv)
    sources = sources_from_labels_csv(args.input_dir, files, args.labels_csv, CORPUS_LABELS["egbm"],
                                      parse_label_map(args.label_map))

    def read(path):
        return read_kinect_v2(path, fps=args.fps)

    convert_from_args(sources, read, "egbm", CORPUS_LABELS["egbm"], args)


if __name__ == "__main__":
    run_script(main)
