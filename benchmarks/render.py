"""How long drawing takes: GIF, MP4 and filmstrip of synthetic clips of each synthetic corpus (its layout
and frame rate), and with --model the cost of the joint weights (one backward pass) beside explain().

    python benchmarks/render.py --model outputs/demo/model

Prints, per clip, its length, the animation's frames, seconds to encode, frames per second and size, then
the explain() seconds without and with joint weights (medians of --repeats runs, alternating).
"""

import argparse
import statistics
import time

import torch

from eai_llm.inference import explain, load_trained
from eai_llm.layouts import get_layout
from eai_llm.render import StickFigure, animation, filmstrip, output_frames
from eai_llm.synthetic import generate_clips
from eai_llm.synthetic.qualities import SYNTHETIC_CORPORA


def _seconds(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model folder: also time explain() with and without joint weights")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    clips = {corpus: generate_clips(corpus, 1, seed=0, actions=["walk"])[0] for corpus in SYNTHETIC_CORPORA}
    print("| clip | seconds of motion | output frames | GIF s | GIF frames/s | GIF KB | MP4 s | MP4 KB | filmstrip s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for corpus, clip in clips.items():
        figure = StickFigure(clip.positions, list(get_layout(clip.layout).parents), clip.fps, corpus)
        frames = len(output_frames([figure])[1])
        gif_s, gif = _seconds(lambda: animation(figure, "gif", progress=False))
        mp4_s, mp4 = _seconds(lambda: animation(figure, "mp4", progress=False))
        strip_s, _ = _seconds(lambda: filmstrip(figure))
        print(f"| {corpus} ({clip.layout}, {clip.fps:g} fps) | {figure.duration:.2f} | {frames} | {gif_s:.2f} | "
              f"{frames / gif_s:.0f} | {len(gif) / 1024:.0f} | {mp4_s:.2f} | {len(mp4) / 1024:.0f} | {strip_s:.2f} |")
    if args.model:
        model, processor = load_trained(args.model)
        layouts = {layout["name"] for layout in processor.feature_extractor.layouts}
        clip = next(c for c in clips.values() if c.layout in layouts)
        plain, weighted = [], []
        for _ in range(args.repeats):
            plain.append(_seconds(lambda: explain(model, processor, clip.positions, clip.layout, clip.fps))[0])
            weighted.append(_seconds(lambda: explain(model, processor, clip.positions, clip.layout, clip.fps,
                                                     joint_weights=True))[0])
        print(f"\nexplain() on a {clip.corpus} clip, {args.model}: {statistics.median(plain):.2f} s, with joint "
              f"weights {statistics.median(weighted):.2f} s (medians of {args.repeats})")


if __name__ == "__main__":
    main()
