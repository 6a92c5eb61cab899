"""Throughput of the data path: Arrow corpus → (T, J, 3) clips → SkeletonProcessor tensors.

    python benchmarks/processor.py --corpus outputs/demo/corpus

Prints one processed mixed-layout batch (shapes, masks), then clips per second for reading rows
from the corpus and for the processor at several batch sizes, without and with the movement
descriptors and facing of the shipped configs (mean of --repeats passes over the training split,
after one warm-up pass).
"""

import argparse
import time

import numpy as np

from eai_llm.corpus import clip_positions, load_corpus
from eai_llm.descriptors import DESCRIPTORS
from eai_llm.layouts import get_layout
from eai_llm.processing_eai import SkeletonProcessor


def batches(rows, batch_size):
    for start in range(0, len(rows), batch_size):
        yield rows[start:start + batch_size]


def clips_per_second(step, items, repeats):
    step(items)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        step(items)
    return repeats * len(items) / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a folder written by dataset_scripts/")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-frames", type=int, default=64)
    args = parser.parse_args(argv)

    train = load_corpus(args.corpus)["train"].with_format("numpy")
    layout_names = sorted({str(name) for name in train["layout"]})
    layouts_used = [get_layout(name) for name in layout_names]  # load_corpus registered the corpus's layouts
    plain = SkeletonProcessor(layouts=layouts_used, num_frames=args.num_frames)
    processor = SkeletonProcessor(layouts=layouts_used, num_frames=args.num_frames, descriptors=list(DESCRIPTORS),
                                  face_forward=True)

    def read_rows(indices):
        rows = train[indices]
        return [clip_positions({"positions": p, "num_joints": j}) for p, j in zip(rows["positions"], rows["num_joints"])]

    indices = list(range(len(train)))
    clips = read_rows(indices)
    layouts = [str(name) for name in train["layout"]]
    rates = [float(rate) for rate in train["fps"]]
    frames = np.array([len(c) for c in clips])
    print(f"corpus {args.corpus}: {len(clips)} training clips, layouts {layout_names}, "
          f"frames per clip {frames.min()}-{frames.max()} (median {int(np.median(frames))})")

    # One mixed batch: the first clip of each layout.
    firsts = [layouts.index(name) for name in layout_names]
    sample = processor([clips[i] for i in firsts], [layouts[i] for i in firsts], [rates[i] for i in firsts],
                       return_tensors="pt")
    print("one batch, one clip per layout:")
    for key, value in sample.items():
        print(f"  {key:16s} {tuple(value.shape)} {value.dtype}")
    print(f"  joints per clip {sample['joint_mask'].sum(1).tolist()}, real frames per clip "
          f"{sample['frame_mask'].sum(1).tolist()}, padded joints all zero: "
          f"{bool((sample['skeleton_values'] * (1 - sample['joint_mask'][:, None, None, :])).abs().sum() == 0)}")

    print(f"\nthroughput on this machine (clips/s, mean of {args.repeats} passes over {len(clips)} clips):")
    for batch_size in (16, 64):
        read = clips_per_second(lambda ids: [read_rows(b) for b in batches(ids, batch_size)], indices, args.repeats)
        items = list(zip(clips, layouts, rates))

        def process(items, processor):
            for chunk in batches(items, batch_size):
                processor([c for c, _, _ in chunk], [l for _, l, _ in chunk], [r for _, _, r in chunk],
                          return_tensors="pt")

        bare = clips_per_second(lambda items: process(items, plain), items, args.repeats)
        full = clips_per_second(lambda items: process(items, processor), items, args.repeats)
        print(f"  batch {batch_size:3d}: read from Arrow {read:8.0f}   SkeletonProcessor {bare:8.0f}   "
              f"with descriptors and facing {full:8.0f}")


if __name__ == "__main__":
    main()
