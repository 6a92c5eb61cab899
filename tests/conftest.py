import os

# Tests never reach the Hub: without this, Hub look-ups hang ~47 s before failing.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
