"""Explain the emotion of one motion file with a trained EAI-LLM model.

    python predict.py --model outputs/demo/model clip.bvh

Reads BVH, Kinect V2 text, Xsens MVNX/CSV, .npy/.npz or a video (see eai_llm.motion), ranks the model's
labels by the LLM's likelihood and asks it for the reasons, then checks each claim of the reasons
against the clip's measured movement descriptors. Prints JSON:
{"label": ..., "scores": {label: probability}, "action": {action: probability}, "explanation": ...,
 "evidence": {"population": training corpus, "population_action": action or null, "claims": [{"quality",
              "direction", "descriptor", "value", "unit", "percentile", "verdict"}, ...],
              "action": {"named", "read", "verdict"}}}, and "placed_joints" for a clip of another
skeleton or a video, read onto the model's skeleton by canonical joint names: the joints placed from their
neighbours, not measured.

``--render clip.gif`` (or ``.mp4``, or ``.png`` for a filmstrip of key frames) also draws the clip as a stick
figure, its joints coloured by how much each drives the predicted label (eai_llm.render).

The motion file is read (and checked) before the model is loaded, so a bad file fails in a moment;
every failure, from loading, reading or explaining, is a one-line ``predict.py: ...`` message.
"""

import argparse
import json
import sys

from accelerate import PartialState

from eai_llm.folders import write_file
from eai_llm.inference import explain, load_trained
from eai_llm.motion import read_for_layouts
from eai_llm.processing_eai import SkeletonProcessor
from eai_llm.render import check_suffix, explained_figure, render


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder written by train.py (<output_dir>/model)")
    parser.add_argument("--format", help="reader for .txt/.csv files: kinect_v2 or xsens_csv (else by suffix)")
    parser.add_argument("--layout", help="joint layout of a .npy/.npz file")
    parser.add_argument("--fps", type=float, help="frame rate of a .npy/.npz or Kinect text file")
    parser.add_argument("--render", metavar="FILE", help="also draw the clip: .gif or .mp4 (animation), .png (filmstrip)")
    parser.add_argument("motion_file")
    args = parser.parse_args(argv)
    options = {key: value for key, value in (("layout", args.layout), ("fps", args.fps)) if value is not None}
    try:
        layouts = SkeletonProcessor.from_pretrained(args.model).layouts  # to read the file before loading the model
        motion = read_for_layouts(args.motion_file, layouts, args.format, **options)
        if args.render:
            check_suffix(args.render)  # before the model is loaded
        model, processor = load_trained(args.model, PartialState().device)
        result = explain(model, processor, motion.positions, motion.layout.name, motion.fps,
                         joint_weights=bool(args.render))
        if motion.placed:  # read onto the model's skeleton by canonical names (another skeleton, a video)
            result["placed_joints"] = list(motion.placed)
        if args.render:
            figure = explained_figure(motion.positions, list(motion.layout.parents), motion.fps, result)
            write_file(args.render, render(figure, args.render))
            print(f"drawn: {args.render}", file=sys.stderr)
    except (OSError, ValueError) as error:  # the message names the file, the field and what was expected
        raise SystemExit(f"predict.py: {error}") from None
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
