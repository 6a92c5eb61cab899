"""MediaPipe Pose over every frame of a video, as a script run in the pose environment:

    python pose_worker.py VIDEO OUT.npz MAX_FRAMES

It imports only numpy, OpenCV, MediaPipe and tqdm, never this project: ``mediapipe==0.10.21``, the last
release that ships its pose models, needs ``numpy<2`` and ``protobuf<5``, so it usually lives in a Python
environment of its own (``make pose-env``) and :mod:`eai_llm.video` runs this file there as a subprocess.
:mod:`eai_llm.video` also imports it (for its exit statuses), so a published model's remote code carries it;
the pose packages are imported in :func:`main` only.

Writes ``OUT.npz`` with, for ``T`` decoded frames:

    world       (T, 33, 3) float32  MediaPipe's world landmarks: metres, origin between the hips, axes of the
                                    camera (x right, y down, z away from the camera); NaN where no person
    visibility  (T, 33)    float32  MediaPipe's visibility per landmark, 0 where no person
    image       (T, 33, 2) float32  the same landmarks in the image, in pixels (x right, y down); NaN where
                                    no person
    fps, width, height, stated_frames   the container's frame rate, frame size and stated frame count (0
                                    when it states none)

A video OpenCV cannot open, with no frame, no frame rate or frames over ``MAX_PIXELS`` is a one-line message
on stdout and exit status ``UNUSABLE``; more than ``MAX_FRAMES`` frames (as the container states them, or as
they decode) is ``TOO_MANY_FRAMES``; a Python without the pose packages is ``NO_POSE_PACKAGES``.

MediaPipe's legacy ``solutions.pose`` follows one person: its detector takes the most confident person in the
first frame where it finds one, and landmarks of the previous frame then give the next frame's region, until
tracking is lost and the detector runs again. Its own landmark smoothing is off (``smooth_landmarks=False``):
it is a causal filter that lags; :mod:`eai_llm.video` filters the whole clip without lag instead.
"""

import os
import sys

LANDMARKS = 33  # = len(eai_llm.layouts.MEDIAPIPE_LANDMARKS), which this script cannot import
MAX_PIXELS = 7680 * 4320  # an 8K frame: a larger one would take the worker's memory, not give a better pose
POSE_PACKAGES = "mediapipe==0.10.21 (which needs numpy<2 and protobuf<5) and tqdm"
UNUSABLE, TOO_MANY_FRAMES, NO_POSE_PACKAGES = 2, 3, 4  # exit statuses; the message is the last line on stdout


def fail(message: str, status: int = UNUSABLE):
    print(message)  # stdout: the caller reads the last line; stderr carries the progress bar
    raise SystemExit(status)


def main(video: str, output: str, max_frames: int):
    # MediaPipe's C++ logs (absl, TensorFlow Lite) write to file descriptor 2 from its first import, with no
    # switch to turn them off: they go to /dev/null, and the progress bar to a copy of the real stderr.
    progress_stream = os.fdopen(os.dup(2), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    try:  # the pose environment's packages; this module is imported, not run, where they are absent
        import cv2
        import mediapipe as mp
        import numpy as np
        from tqdm import tqdm
    except ImportError as error:
        fail(f"{sys.executable} cannot import {error.name}", NO_POSE_PACKAGES)
    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        fail("OpenCV cannot open it (not a video, an unsupported codec, or a truncated file)")
    fps = capture.get(cv2.CAP_PROP_FPS)
    stated = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if not fps > 0:
        fail(f"the container states no frame rate (read {fps})")
    if width * height > MAX_PIXELS:
        fail(f"has frames of {width}x{height} pixels, more than {MAX_PIXELS} (MAX_PIXELS, 8K)")
    if stated > max_frames:
        fail(f"states {stated} frames, more than {max_frames}", TOO_MANY_FRAMES)
    world, visibility, image = [], [], []
    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=False)
    with pose, tqdm(total=stated or None, unit="frame", desc="pose", file=progress_stream,
                    disable=stated and stated < 100) as progress:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if len(world) == max_frames:
                fail(f"has more than {max_frames} frames", TOO_MANY_FRAMES)
            found = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if found.pose_world_landmarks is None:
                world.append(np.full((LANDMARKS, 3), np.nan))
                visibility.append(np.zeros(LANDMARKS))
                image.append(np.full((LANDMARKS, 2), np.nan))
            else:
                world.append([(p.x, p.y, p.z) for p in found.pose_world_landmarks.landmark])
                visibility.append([p.visibility for p in found.pose_world_landmarks.landmark])
                image.append([(p.x * width, p.y * height) for p in found.pose_landmarks.landmark])
            progress.update()
    capture.release()
    if not world:
        fail("no frame could be decoded (an unsupported codec, or a truncated file)")
    np.savez(output, world=np.asarray(world, np.float32), visibility=np.asarray(visibility, np.float32),
             image=np.asarray(image, np.float32), fps=np.float64(fps), width=np.int64(width),
             height=np.int64(height), stated_frames=np.int64(stated))


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    except Exception as error:  # noqa: BLE001 - stderr is closed (see main): the reason goes to the caller
        fail(f"the pose step failed ({type(error).__name__}: {error})")
