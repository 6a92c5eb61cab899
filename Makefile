# The two quick-start commands: `make demo` (main job, offline default) and `make test`.
# Both build .venv from scratch on a fresh machine (about 3 minutes, torch included).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
DEMO_DIR := outputs/demo

.PHONY: demo test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) dataset_scripts/synthetic.py --output-dir $(DEMO_DIR)/corpus
	$(PY) train.py --config configs/demo.yaml --output-dir $(DEMO_DIR)

test: $(VENV)/.installed
	$(PY) -m pytest
