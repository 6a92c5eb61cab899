"""Export a trained model as a self-contained Hub folder, and publish it.

``export`` writes, from a ``train.py`` model folder: the weights, ``config.json`` with ``auto_map``
(``AutoConfig``, ``AutoModelForCausalLM``, ``AutoModel``) and ``custom_pipelines``
(``skeleton-emotion``), the processor with its ``auto_map`` (``AutoProcessor``), the remote code
(``configuration_eai.py``, ``modeling_eai.py``, ``processing_eai.py``, ``pipeline_eai.py`` and the
modules they import, relative imports only), ``handler.py`` (Inference Endpoints), ``requirements.txt``
and a model card ``README.md`` built from the run's config and measured metrics.
It is also a ready Hugging Face Space: ``app.py`` (the Gradio web demo, from the project's root), ``render.py``
and ``samples/`` (synthetic clips of the model's layouts to try it on), with Gradio in ``requirements.txt``
and the Space's ``sdk``/``app_file`` keys in the card's metadata. ``push`` uploads such a folder with
``huggingface_hub``.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import numpy as np

import huggingface_hub
import yaml
from huggingface_hub import HfApi

from .evaluation import metric_lines
from .folders import MANIFEST, check_replaceable, write_folder
from .language_models import OFFLINE_DEFAULT
from .inference import load_trained
from .modeling_eai import EAILlamaForCausalLM
from .pipeline_eai import SkeletonEmotionPipeline
from .processing_eai import DESCRIPTION_QUESTION, RECOGNITION_QUESTION

SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
APP_FILE = Path(__file__).resolve().parents[1] / "app.py"  # the web demo, at the root of the source checkout
SAMPLES_PER_CORPUS = 3
PAPER = "Understanding Emotional Body Expressions via Large Language Models (Lu et al., EAI-LLM)"


def export(model_dir: str | Path, export_dir: str | Path) -> Path:
    """Write the Hub folder for ``model_dir`` (``<output_dir>/model`` of a run) to ``export_dir`` atomically
    (:func:`~eai_llm.folders.write_folder`: a folder this project did not write is never replaced)."""
    model_dir, export_dir = Path(model_dir), Path(export_dir)
    check_replaceable(export_dir)  # before the model is loaded
    if not APP_FILE.is_file():
        raise FileNotFoundError(f"{APP_FILE}: missing; export from a source checkout of EAI-LLM (pip install -e .), "
                                "which has the web demo app.py")
    model, processor = load_trained(model_dir)

    def write(folder: Path):
        SkeletonEmotionPipeline(model=model, processor=processor).save_pretrained(folder)
        processor.save_pretrained(folder)
        shutil.copyfile(Path(__file__).with_name("endpoint_handler.py"), folder / "handler.py")
        shutil.copyfile(APP_FILE, folder / "app.py")
        shutil.copyfile(Path(__file__).with_name("render.py"), folder / "render.py")
        write_samples(folder / "samples", [layout["name"] for layout in processor.feature_extractor.layouts])
        (folder / "requirements.txt").write_text(_requirements())
        (folder / "README.md").write_text(model_card(model, model_dir.parent))

    return write_folder(export_dir, write)


def write_samples(folder: Path, layouts: list[str]):
    """``SAMPLES_PER_CORPUS`` synthetic clips of each synthetic corpus whose layout is one of ``layouts`` (none
    for a model of other layouts), as ``.npz`` files (``positions``, ``fps``, ``layout``) named
    ``<corpus>-<index>-<label>-<action>.npz``: the web demo's samples."""
    from .synthetic import generate_clips
    from .synthetic.qualities import SYNTHETIC_CORPORA

    for corpus, spec in SYNTHETIC_CORPORA.items():
        if spec.layout in layouts:
            folder.mkdir(exist_ok=True)
            for index, clip in enumerate(generate_clips(corpus, SAMPLES_PER_CORPUS, seed=0)):
                np.savez(folder / f"{corpus}-{index}-{clip.label}-{clip.action}.npz", positions=clip.positions,
                         fps=np.float64(clip.fps), layout=np.str_(clip.layout))


def _requirements() -> str:
    """The export's requirements: the versions of transformers, torch and numpy it was written with, and the
    web demo's packages as this project pins them (its ``app`` extra) or requires them."""
    import numpy
    import scipy
    import torch
    import transformers

    project = _project_pins()
    demo = [f"{name}{project.get(name, '')}" for name in ("gradio", "matplotlib", "imageio", "imageio-ffmpeg", "tqdm")]
    return "\n".join([f"transformers=={transformers.__version__}", f"torch>={torch.__version__.split('+')[0]}",
                      f"numpy>={numpy.__version__}", f"scipy>={scipy.__version__}", *demo]) + "\n"


def _project_pins() -> dict[str, str]:
    """This project's requirement specifiers by package name (pyproject.toml, extras included, as installed)."""
    from packaging.requirements import Requirement

    try:
        requirements = importlib.metadata.requires("eai-llm") or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError("eai-llm is not installed, so its pinned requirements are unknown: run pip install -e . "
                           "in the source checkout") from None
    return {requirement.name: str(requirement.specifier) for requirement in map(Requirement, requirements)}


def model_card(model: EAILlamaForCausalLM, run_dir: Path) -> str:
    """The README of a published model: YAML metadata (library, pipeline tag, base model, datasets,
    metrics) and how to call it, what it was trained on and measured at, the prompts, the limits."""
    config_file, eval_file = run_dir / "train-config.yaml", run_dir / "eval" / "metrics.json"
    train_config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
    metrics = json.loads(eval_file.read_text()) if eval_file.is_file() else {}
    base = train_config.get("llm", {}).get("language_model") or model.config.text_config.name_or_path or "unknown"
    base = SMOLLM2_HUB_ID if base == OFFLINE_DEFAULT else base
    corpora = sorted(model.config.skeleton_config.corpus_labels or {})
    metadata = {
        "library_name": "transformers", "pipeline_tag": "other", "license": "apache-2.0", "base_model": base,
        "datasets": corpora, "metrics": ["accuracy", "rouge", "bleu", "meteor"],
        "tags": ["eai-llm", "skeleton", "motion-capture", "emotion-recognition", "custom_code"],
        "sdk": "gradio", "sdk_version": _project_pins()["gradio"].removeprefix("=="),
        "app_file": "app.py",  # the folder is also a Space: the web demo
    }
    lines = ["---", yaml.safe_dump(metadata, sort_keys=False).strip(), "---", "",
             "# EAI-LLM: emotion recognition and explanation from 3D skeleton motion", "",
             f"An implementation of *{PAPER}*: a skeleton encoder turns a 3D full-body motion clip into tokens "
             f"that a Llama-family LLM (`{base}`, LoRA merged) reads with a prompt; it names the emotion and "
             "explains it.", "",
             f"Labels: {', '.join(model.config.labels)}. Layouts (skeletons) it accepts: "
             f"{', '.join(layout['name'] for layout in model.config.skeleton_config.layouts)}. Skeleton tokens: "
             f"`{model.config.token_granularity}` ({model.config.num_skeleton_tokens} per clip)." +
             (f" Actions it reads (and names in its explanations): {', '.join(model.config.action_names)}."
              if model.config.action_names else ""), "",
             "## How to use", "", "```python",
             "from transformers import AutoModelForCausalLM, AutoProcessor, pipeline",
             "", 'explain = pipeline("skeleton-emotion", model="<this repo>", trust_remote_code=True)',
             'explain("clip.bvh")  # {"label", "scores", "action", "explanation", "evidence"}',
             "",
             'model = AutoModelForCausalLM.from_pretrained("<this repo>", trust_remote_code=True)',
             'processor = AutoProcessor.from_pretrained("<this repo>", trust_remote_code=True)',
             "inputs = processor(processor.recognition_prompt(), positions, layout, fps=fps)  # (T, J, 3), metres, +Y up",
             "answer = processor.batch_decode(model.generate(**inputs, max_new_tokens=24)[:, inputs['input_ids'].shape[1]:])",
             "```", "",
             "Inference Endpoints: `handler.py` takes `{\"inputs\": {\"bvh\": \"HIERARCHY ...\"}}` or "
             "`{\"inputs\": {\"positions\": [...], \"layout\": \"...\", \"fps\": 30}}` and returns `{\"label\", \"scores\", "
             "\"explanation\", \"evidence\"}`.", "",
             "Videos (`.mp4`, `.avi`, `.mov`, `.webm`, or `{\"inputs\": {\"video\": base64, \"container\": \"mp4\"}}`) are "
             "read through MediaPipe Pose, which needs `mediapipe==0.10.21` (and so `numpy<2`) in this Python or in "
             "a Python named by `EAI_POSE_PYTHON` (`video.py`).", "",
             "## Prompts (the paper's)", "", f"- recognition: `{RECOGNITION_QUESTION}` → \"This is a/an [adjective] person.\"",
             f"- description: `{DESCRIPTION_QUESTION}`", "",
             "`<skeleton>` is expanded to the clip's skeleton tokens by the processor; the chat template of the "
             "base model wraps the question.", "", "## Training", ""]
    if train_config:
        lines += ["```yaml", yaml.safe_dump({k: train_config[k] for k in ("corpus", "encoder", "align", "llm")
                                              if k in train_config}, sort_keys=False).strip(), "```", ""]
    lines += ["## Measured at training time (test split)", "",
              *(metric_lines(metrics) or ["- not evaluated (run eval.py before exporting to record metrics here)"])]
    lines += ["", "## Limitations", "",
              "- Trained on the corpora above only; other skeletons must be converted to one of the layouts, and "
              "emotions outside the label set cannot be named.",
              "- Explanations are generated text: they can describe movements the clip does not have "
              "(the paper's hallucination caveat).",
              "- Emotion from body motion is ambiguous and culture-dependent; do not use the output to make "
              "decisions about people.", ""]
    return "\n".join(lines)


def push(export_dir: str | Path, repo_id: str, private: bool = False, revision: str | None = None,
         token: str | None = None, space: bool = False) -> str:
    """Upload an exported folder to the Hub (creating the repo, and the branch ``revision``): a model repo, or
    with ``space`` a Gradio Space (the web demo, which loads the model from the Space's own files). Returns
    the commit URL. Raises ``RuntimeError`` with the reason when offline or without a token."""
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise RuntimeError(f"cannot push to {repo_id}: HF_HUB_OFFLINE is set (the Hub is not reachable); the "
                           f"folder to upload is ready at {export_dir}")
    api = HfApi(token=token)
    try:
        api.whoami()
    except huggingface_hub.errors.LocalTokenNotFoundError:
        raise RuntimeError(f"cannot push to {repo_id}: no Hub token; run `hf auth login` or set HF_TOKEN") from None
    except OSError as error:  # requests/httpx connection failures derive from OSError
        raise RuntimeError(f"cannot push to {repo_id}: the Hub is not reachable ({error})") from None
    repo_type = "space" if space else "model"
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type,
                    **({"space_sdk": "gradio"} if space else {}))
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type=repo_type)
    commit = api.upload_folder(folder_path=str(export_dir), repo_id=repo_id, revision=revision, repo_type=repo_type,
                               commit_message="Upload EAI-LLM model", ignore_patterns=[MANIFEST])
    return commit.commit_url
