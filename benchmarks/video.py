"""Video, measured: pose-extraction speed, end-to-end seconds of ``predict.py`` on a video, and whether the label
and the explanation hold still across overlapping windows of the same clip.

    EAI_POSE_PYTHON=.venv-pose/bin/python python benchmarks/video.py --model outputs/demo/model

The video defaults to the sample from the sports2d wheel (eai_llm.sample_video). Prints:

1. pose: frames decoded and MediaPipe frames per second (``eai_llm.video.run_pose``: process start and model
   load included), and the seconds of the whole ``read_for_layouts`` (pose, tracks, repair, filter, mapping),
   with the frames kept and the joints placed; the landmarks hidden longest (below visibility 0.5, in frames
   with someone in them); the median and quartiles of four bone lengths over the clip;
2. ``predict.py`` on the video, in a fresh process: wall seconds (Python start, model load, pose, scoring,
   generation, evidence);
3. windows of ``--window`` seconds every ``--hop`` seconds over the clip read once: per window its label, the
   label's probability, the explanation's claims and how many the measurements support; then the share of
   windows that agree with the whole clip's label, beside the agreement two windows would reach by chance
   with the same label frequencies (the sum of squared frequencies); the mean Jaccard overlap of the claims
   of consecutive windows; and the share of all claims that the window's own measurements support (a text
   that ignores the clip would be perfectly stable, so stability is read beside it).
"""

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from accelerate import PartialState

from eai_llm.claims import parse_claims
from eai_llm.inference import explain, load_trained
from eai_llm.layouts import MEDIAPIPE_LANDMARKS
from eai_llm.motion import read_for_layouts
from eai_llm.processing_eai import SkeletonProcessor
from eai_llm.sample_video import sample_video
from eai_llm.video import MIN_VISIBILITY, run_pose

ROOT = Path(__file__).resolve().parents[1]


BONES = [("l_shoulder", "l_elbow"), ("r_shoulder", "r_elbow"), ("l_hip", "l_knee"), ("l_knee", "l_ankle")]


def longest_run(flags: np.ndarray) -> int:
    """The longest run of True in ``flags (T,)``."""
    best = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        best = max(best, current)
    return best


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder written by train.py")
    parser.add_argument("--video", type=Path, help="default: the sample video, fetched into outputs/cache")
    parser.add_argument("--window", type=float, default=2.0, help="window length, seconds")
    parser.add_argument("--hop", type=float, default=0.5, help="window step, seconds")
    args = parser.parse_args(argv)
    video = args.video or sample_video(ROOT / "outputs" / "cache")

    start = time.perf_counter()
    pose = run_pose(video)
    pose_seconds, frames = time.perf_counter() - start, len(pose["world"])
    start = time.perf_counter()
    motion = read_for_layouts(video, SkeletonProcessor.from_pretrained(args.model).layouts)
    read_seconds = time.perf_counter() - start
    print(f"pose: {frames} frames in {pose_seconds:.1f} s = {frames / pose_seconds:.1f} frames/s; "
          f"read_for_layouts {read_seconds:.1f} s -> {len(motion.positions)} frames of {motion.layout.name}, "
          f"placed from neighbours: {list(motion.placed)}")
    hidden = pose["visibility"][pose["visibility"].max(axis=1) > 0] < MIN_VISIBILITY  # frames with someone
    runs = {name: longest_run(hidden[:, j]) / float(pose["fps"]) for j, name in enumerate(MEDIAPIPE_LANDMARKS)}
    print("longest run below visibility 0.5, s: " + ", ".join(
        f"{name} {seconds:.1f}" for name, seconds in sorted(runs.items(), key=lambda item: -item[1])[:4]))
    index = motion.layout.canonical_index
    for a, b in BONES:
        length = np.linalg.norm(motion.positions[:, index[a]] - motion.positions[:, index[b]], axis=-1)
        low, median, high = np.percentile(length, [25, 50, 75])
        print(f"bone {a}-{b}: median {median:.3f} m, quartiles {low:.3f}-{high:.3f} m")

    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "predict.py"), "--model", args.model, str(video)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"predict.py {video.name}: {time.perf_counter() - start:.1f} s end to end")

    model, processor = load_trained(args.model, PartialState().device)
    whole = explain(model, processor, motion.positions, motion.layout.name, motion.fps)
    size, step = round(args.window * motion.fps), round(args.hop * motion.fps)
    rows = []
    for first in range(0, len(motion.positions) - size + 1, step):
        result = explain(model, processor, motion.positions[first:first + size], motion.layout.name, motion.fps)
        verdicts = Counter(claim["verdict"] for claim in result.get("evidence", {}).get("claims", []))
        rows.append((first / motion.fps, result["label"], result["scores"][result["label"]],
                     set(parse_claims(result["explanation"])), verdicts["supported"], result["explanation"]))
    print(f"\nwhole clip ({len(motion.positions) / motion.fps:.1f} s): {whole['label']} "
          f"({whole['scores'][whole['label']]:.2f}): {whole['explanation']!r}")
    print(f"\n{'start s':>7}  {'label':<12} {'p':>5}  {'claims':>6}  {'supported':>9}  explanation")
    for start_s, label, p, claims, supported, text in rows:
        print(f"{start_s:7.1f}  {label:<12} {p:5.2f}  {len(claims):6d}  {supported:9d}  {text[:90]!r}")
    labels = Counter(row[1] for row in rows)
    chance = sum((count / len(rows)) ** 2 for count in labels.values())
    agree = sum(row[1] == whole["label"] for row in rows) / len(rows)
    consecutive = np.mean([jaccard(a[3], b[3]) for a, b in zip(rows, rows[1:])])
    claims = sum(len(row[3]) for row in rows)
    supported = sum(row[4] for row in rows) / claims if claims else float("nan")
    print(f"\n{len(rows)} windows of {args.window:g} s every {args.hop:g} s: labels {dict(labels)}")
    print(f"  windows with the whole clip's label: {agree:.2f} (chance agreement at these label frequencies: "
          f"{chance:.2f})")
    print(f"  claims, Jaccard overlap of consecutive windows: {consecutive:.2f}; supported by the window's own "
          f"measurements: {supported:.2f} of {claims}")


if __name__ == "__main__":
    main()
