"""Export a trained EAI-LLM model as a self-contained Hub folder and (optionally) push it.

    python publish.py --model outputs/demo/model --export-dir outputs/demo/hub
    python publish.py --model outputs/demo/model --export-dir outputs/demo/hub --repo-id you/eai-llm --private

The folder loads without this project installed: AutoModelForCausalLM / AutoProcessor /
pipeline("skeleton-emotion") with trust_remote_code=True, handler.py for Inference Endpoints, and app.py
(the Gradio web demo): the folder is also a ready Space (--space pushes it as one).
It has a model card (README.md) built from the run's train-config.yaml and eval/metrics.json.
Pushing needs a Hub token (`hf auth login` or HF_TOKEN) and the network.
"""

import argparse

from eai_llm.hub import export, push


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder written by train.py (<output_dir>/model)")
    parser.add_argument("--export-dir", required=True, help="where to write the Hub folder (an export written here before is replaced; any other folder is refused)")
    parser.add_argument("--repo-id", help="push to this Hub repo (user/name) after exporting")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", help="push to this branch (created if missing)")
    parser.add_argument("--space", action="store_true", help="push as a Gradio Space (the web demo) instead of a model repo")
    args = parser.parse_args(argv)
    try:
        folder = export(args.model, args.export_dir)
        print(f"exported: {folder}")
        if args.repo_id:
            print(f"pushed: {push(folder, args.repo_id, args.private, args.revision, space=args.space)}")
    except (OSError, ValueError, RuntimeError) as error:  # a bad model folder, no network, no token
        raise SystemExit(f"publish.py: {error}") from None


if __name__ == "__main__":
    main()
