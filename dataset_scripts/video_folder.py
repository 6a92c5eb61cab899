"""Convert a folder of videos plus labels into an EAI-LLM corpus (a datasets.DatasetDict), through 3D pose
estimated with MediaPipe (eai_llm.motion.read_video; needs the pose environment, `make pose-env`).

Every .mp4/.avi/.mov/.webm under --input-dir (recursively) becomes one clip of the `mediapipe33` layout, at
its container's frame rate. Labels come either from a CSV (--labels-csv, header
file,label[,actor,action,description]; 'file' is the path relative to the input folder or the bare file
name) or from the file names (--label-regex, a Python regex matched against the file name, with a named
group 'label' and optionally 'actor' and 'action'). Synonyms are merged with --label-map; --labels fixes
the allowed label set (default: every label found). A video in which nobody is found, or that cannot be
decoded, stops the conversion with its name (or is reported and skipped with --skip-bad).

Example, videos named like walk_happy_03.mp4:
  EAI_POSE_PYTHON=.venv-pose/bin/python python dataset_scripts/video_folder.py --input-dir my_videos \\
      --label-regex '(?P<action>[a-z]+)_(?P<label>[a-z]+)_\\d+\\.mp4' --output-dir data_cache/my_videos
"""

import argparse

from eai_llm.corpus import input_files
from eai_llm.motion import read_video
from eai_llm.video import VIDEO_SUFFIXES

from converter_cli import add_converter_args, add_label_args, convert_from_args, run_script, sources_from_args


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_converter_args(parser)
    add_label_args(parser)
    parser.add_argument("--corpus", help="corpus name stored in each row (default: the input folder's name)")
    args = parser.parse_args(argv)

    files = input_files(args.input_dir, VIDEO_SUFFIXES)
    sources, label_names = sources_from_args(files, args)
    convert_from_args(sources, read_video, args.corpus or args.input_dir.resolve().name, label_names, args)


if __name__ == "__main__":
    run_script(main)
