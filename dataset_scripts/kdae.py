"""Convert KDAE (Kinematic Dataset of Actors Expressing Emotions, Zhang et al. 2020, PhysioNet)
into an EAI-LLM corpus (a datasets.DatasetDict).

Expected input, as PhysioNet distributes it: BVH/<actor>/<file>.bvh (give the BVH folder as
--input-dir; files are found recursively). File names encode the clip, e.g. F01A0V1.bvh:
  F01  gender (F/M) and actor number  -> column 'actor'
  A    emotion code: A anger, D disgust, F fear, H happiness, N neutral, SA sadness, SU surprise
  0    scenario number                 -> column 'action' ("scenario0")
  V1   version (take)
The recordings (Perception Neuron, 72 nodes) keep their 24 body joints, layout 'kdae24': hand
joints are dropped, the End Sites of head and feet are kept. Units are detected once, from the body
height in the first file read (the release is in centimetres), and used for every file; BVH is Y-up.
"""

import argparse
import re

from eai_llm.corpus import ClipSource, bvh_reader, check_label, input_files
from eai_llm.labels import CORPUS_LABELS
from eai_llm.layouts import get_layout
from eai_llm.motion import select_joints

from converter_cli import add_converter_args, convert_from_args, parse_label_map, run_script

EMOTION_CODES = {"A": "anger", "D": "disgust", "F": "fear", "H": "happiness", "N": "neutral", "SA": "sadness",
                 "SU": "surprise"}
FILE_NAME = re.compile(r"(?P<actor>[FM]\d+)(?P<code>SA|SU|[ADFHN])(?P<scenario>\d+)V(?P<version>\d+)\.bvh",
                       re.IGNORECASE)


def kdae_source(path, label_map) -> ClipSource:
    match = FILE_NAME.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path}: file name does not follow KDAE's <F|M><actor><emotion code><scenario>"
                         "V<version>.bvh, e.g. F01A0V1.bvh")
    label = EMOTION_CODES[match["code"].upper()]
    return ClipSource(path, check_label(label, CORPUS_LABELS["kdae"], str(path), label_map),
                      actor=match["actor"].upper(), action=f"scenario{match['scenario']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_converter_args(parser)
    args = parser.parse_args(argv)
    label_map = parse_label_map(args.label_map)
    sources = [kdae_source(path, label_map) for path in input_files(args.input_dir, [".bvh"])]
    layout = get_layout("kdae24")
    read_full = bvh_reader(end_sites=True)

    def read(path):
        return select_joints(read_full(path), layout)

    convert_from_args(sources, read, "kdae", CORPUS_LABELS["kdae"], args)


if __name__ == "__main__":
    run_script(main)
