"""EAI-LLM web demo (Gradio): upload a motion file or pick a bundled sample, and see the clip drawn as a
stick figure, the label probabilities, the explanation and the evidence for each of its claims.

    python app.py --model outputs/demo/hub   # an export of publish.py, a train.py model folder or a Hub id
    python app.py                            # inside an exported folder (a Hugging Face Space): that folder

publish.py copies this file into every export with ``render.py`` and a ``requirements.txt`` that has
Gradio, so the exported folder is a ready Space; there the model loads as remote code, without this project.
Bundled samples are the ``.npz`` clips in the model folder's ``samples/`` (publish.py writes synthetic ones).
Errors are shown as messages in the page; an upload over ``MAX_UPLOAD_BYTES`` is refused with its size. The
files it takes, their options and the readers' size limit are the pipeline's own (``pipeline_eai.py``).
"""

import argparse
import base64
import html
import os
import sys
from pathlib import Path

import gradio as gr
from transformers import pipeline

HERE = Path(__file__).resolve().parent
try:  # the project installed: its modules (importing eai_llm registers the skeleton-emotion pipeline)
    from eai_llm.claims import NO_CLAIM, VERDICT_MARKS, evidence_line
    from eai_llm.render import animation, explained_figure
except ModuleNotFoundError as missing:  # an exported Space: the same modules lie beside this file as remote code
    if missing.name != "eai_llm":
        raise
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    NO_CLAIM, VERDICT_MARKS, evidence_line, animation, explained_figure = (
        get_class_from_dynamic_module(name, str(HERE)) for name in
        ("claims.NO_CLAIM", "claims.VERDICT_MARKS", "claims.evidence_line", "render.animation",
         "render.explained_figure"))

MAX_UPLOAD_BYTES = 50 * 2**20  # what the demo explains; a larger file is refused with its size


def load_pipeline(model: str):
    """The ``skeleton-emotion`` pipeline of a model folder or Hub id; a folder without a model or a processor
    is a ``ValueError`` naming it."""
    folder = Path(model)
    if folder.is_dir():
        missing = [name for name in ("config.json", "processor_config.json") if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{model}: no {' or '.join(missing)}, expected a model folder with its processor "
                             "(train.py's <output_dir>/model, or publish.py's export)")
    return pipeline("skeleton-emotion", model=model, trust_remote_code=True)


def pipeline_module(explainer):
    """The module of the pipeline's class (this project's, or the model folder's remote code): its file
    suffixes, their options, the readers' formats and limits."""
    return sys.modules[type(explainer).__module__]


def explain_file(explainer, path: str | None, reader: str | None = None, fps: float | None = None,
                 layout: str | None = None) -> tuple[str, str, dict]:
    """One uploaded file (with the options its kind takes: ``reader`` and ``fps`` for ``.txt``/``.csv``,
    ``fps`` and ``layout`` for ``.npy``/``.npz``) → (the animation, the explanation with its evidence, both as
    HTML with every model or file text escaped; ``{label: probability}``). Every failure is a ``gr.Error``
    whose message the page shows."""
    if not path:
        raise gr.Error("no file: upload a motion file or pick a sample")
    name, size = Path(path).name, os.path.getsize(path)
    if size > MAX_UPLOAD_BYTES:
        raise gr.Error(f"{name} is {size / 2**20:.1f} MiB, larger than this demo's limit of "
                       f"{MAX_UPLOAD_BYTES / 2**20:.0f} MiB")
    takes = pipeline_module(explainer).FILE_PARAMETERS.get(Path(path).suffix.lower(), ())
    options = {option: value for option, value in (("format", reader), ("fps", fps), ("layout", layout))
               if value and option in takes}
    try:
        clip = explainer.preprocess(path, return_joint_weights=True, **options)  # read, checked, the model's layout
        result = explainer.postprocess(explainer.forward(clip))
        layouts = {layout["name"]: layout for layout in explainer.processor.feature_extractor.layouts}
        figure = explained_figure(clip["positions"], layouts[clip["layout"]]["parents"], clip["fps"], result)
        gif = base64.b64encode(animation(figure, "gif")).decode()
    except (OSError, ValueError, RuntimeError) as error:  # the readers' and the pipeline's messages name the field
        raise gr.Error(str(error).replace(str(Path(path).parent) + os.sep, "")) from None
    e = html.escape  # the explanation is model output and is shown as text, never as Markdown or HTML
    claims = result.get("evidence", {}).get("claims")
    text = f"<p><b>{e(result['label'])}</b>: {e(result['explanation'])}</p>"
    if claims is None:
        text += "<p><i>This model was saved without descriptor statistics: its claims cannot be checked.</i></p>"
    else:
        items = [f"<li>{VERDICT_MARKS[claim['verdict']]} {e(evidence_line(claim))}</li>" for claim in claims]
        among = result["evidence"]["population"] + (f", action {result['evidence']['population_action']}"
                                                      if result["evidence"].get("population_action") else "")
        if "action" in result["evidence"]:
            action = result["evidence"]["action"]
            items.append(f"<li>{VERDICT_MARKS[action['verdict']]} action {e(str(action['named']))}: read as "
                         f"{e(action['read'])}, {action['verdict']}</li>")
        text += (f"<p>Evidence (percentiles among the training clips of {e(among)}):</p>"
                 f"<ul>{''.join(items) or f'<li>{NO_CLAIM}</li>'}</ul>")
    if result.get("placed_joints"):
        text += (f"<p><small>Read as {e(clip['layout'])}; placed from their neighbours, not measured: "
                 f"{e(', '.join(result['placed_joints']))}.</small></p>")
    image = (f"<img src='data:image/gif;base64,{gif}' alt='{e(name)}' style='max-width:100%'>"
             "<p><small>Joints coloured by how much each drives the predicted label.</small></p>")
    return image, text, result["scores"]


def build_demo(explainer, samples: list[str]) -> gr.Blocks:
    """The page: a file input with the samples as examples, the Explain button and the three outputs."""
    with gr.Blocks(title="EAI-LLM: emotion from body motion") as demo:
        gr.Markdown("# EAI-LLM: emotion from body motion\nUpload a motion file (BVH, Xsens MVNX or CSV, Kinect V2 "
                    "text, or NumPy: `.npz` with `positions`, `fps` and `layout`) or pick a sample, then press "
                    "**Explain**.")
        layouts = [layout["name"] for layout in explainer.processor.feature_extractor.layouts]
        module = pipeline_module(explainer)
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="motion file", file_types=list(module.FILE_SUFFIXES), type="filepath")
                with gr.Accordion("options for .txt, .csv and .npy files", open=False) as options:
                    reader = gr.Dropdown(list(module.TEXT_FORMATS), value=None, label="reader of a .txt/.csv file")
                    fps = gr.Number(value=None, label="frames per second (files without it)")
                    layout = gr.Dropdown(layouts, value=None, label="layout of a .npy file")
                button = gr.Button("Explain", variant="primary")
                if samples:
                    gr.Examples([[sample] for sample in samples], inputs=[upload], label="samples (synthetic)")
            with gr.Column():
                motion = gr.HTML(label="motion")
                probabilities = gr.Label(label="label probabilities")
        explanation = gr.HTML(elem_id="explanation")
        upload.change(lambda path: gr.Accordion(open=bool(path) and bool(module.FILE_PARAMETERS.get(
            Path(path).suffix.lower()))), inputs=[upload], outputs=[options])  # opened for a file that takes options
        button.click(lambda *inputs: explain_file(explainer, *inputs), inputs=[upload, reader, fps, layout],
                     outputs=[motion, explanation, probabilities], api_name="explain")
    return demo


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(HERE), help="model folder or Hub id (default: this file's folder)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    try:
        explainer = load_pipeline(args.model)
    except (OSError, ValueError) as error:
        raise SystemExit(f"app.py: {error}") from None
    samples = sorted(str(path) for path in (Path(args.model) / "samples").glob("*.npz"))
    build_demo(explainer, samples).launch(server_name=args.host, server_port=args.port,
                                          max_file_size=pipeline_module(explainer).MAX_FILE_BYTES,  # the readers' limit
                                          allowed_paths=[str(Path(args.model) / "samples")])


if __name__ == "__main__":
    main()
