import os
import sys
from pathlib import Path

# Tests never reach the Hub: without this, Hub look-ups hang ~47 s before failing.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# As `make test` has it: video reading runs MediaPipe in the pose environment that `make pose-env` builds.
os.environ.setdefault("EAI_POSE_PYTHON", str(Path(__file__).resolve().parents[1] / ".venv-pose" / "bin" / "python"))
# As `python dataset_scripts/<name>.py` has it: the converters import their shared converter_cli module.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dataset_scripts"))
