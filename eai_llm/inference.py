"""Inference with a trained EAILlamaForCausalLM: loading a model folder, batched greedy answers, label
scoring by likelihood, and the explanation of one clip. Needs only torch, numpy and transformers, so
it travels with a published model (the ``skeleton-emotion`` pipeline uses it).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from .claims import (check_claims, corpus_for_layout, notable_qualities, parse_action, parse_claims,
                     reference_population)
from .descriptors import describe_motion
from .joint_layout import JointLayout
from .modeling_eai import EAILlamaForCausalLM
from .processing_eai import EAIProcessor, SkeletonProcessor

DEFAULT_MAX_NEW_TOKENS = 96  # the length limit of a generated explanation, wherever one is generated


def load_trained(path: str | Path, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> tuple[EAILlamaForCausalLM, EAIProcessor]:
    """A model folder (``<output_dir>/model`` of ``train.py``, an export of ``publish.py``) or Hub repo →
    the model in eval mode on ``device`` and its processor. Weights are read from safetensors only; a folder
    of another model type (a stage-1 encoder, a bare LLM) is a ``ValueError`` naming the folder."""
    folder = Path(path)
    if folder.is_dir() and not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{path}: no config.json, expected a model folder written by train.py (<output_dir>/model)")
    if folder.is_dir() and not any(folder.glob("model*.safetensors")):
        raise FileNotFoundError(f"{path}: no model.safetensors, expected the weights as safetensors (pickled .bin "
                                "weights are never loaded)")
    try:
        model = EAILlamaForCausalLM.from_pretrained(path, dtype=dtype, use_safetensors=True)
    except ValueError as error:  # EAIConfig refuses another model_type, naming the field
        raise ValueError(f"{path}: {error}") from None
    return model.to(device or "cpu").eval(), EAIProcessor.from_pretrained(path)


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


@torch.no_grad()
def generate_answers(model, processor, prompts: list[str], clips: list[np.ndarray] | None = None,
                     layouts: list[str] | None = None, max_new_tokens: int = 32, batch_size: int = 16,
                     fps: list[float] | None = None) -> list[str]:
    """Greedy answers to rendered ``prompts`` (with one clip each, its layout name and frame rate, or
    text-only when ``clips`` is None)."""
    model.eval()
    answers = []
    for chunk in _batches(list(range(len(prompts))), batch_size):
        with_clips = clips is not None
        batch = processor([prompts[i] for i in chunk], [clips[i] for i in chunk] if with_clips else None,
                          [layouts[i] for i in chunk] if with_clips else None,
                          fps=[fps[i] for i in chunk] if with_clips and fps is not None else None).to(model.device)
        output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=processor.pad_token_id)
        answers += [text.strip() for text in processor.batch_decode(output[:, batch["input_ids"].shape[1]:],
                                                                    skip_special_tokens=True)]
    return answers


@torch.no_grad()
def score_answers(model, processor, clips: list[np.ndarray], layouts: list[str], answers: list[str],
                  batch_size: int = 16, fps: list[float] | None = None) -> np.ndarray:
    """Log-likelihood ``(B, K)`` of each of the ``K`` candidate ``answers`` to the recognition prompt, for
    each clip (with its layout name and frame rate). The prompt runs once per clip; its KV cache is copied
    for the ``K`` candidates."""
    model.eval()
    tokenizer = processor.tokenizer
    completions = tokenizer([processor.render_completion(a) for a in answers], add_special_tokens=False)["input_ids"]
    width = max(len(ids) for ids in completions)
    candidate_ids = torch.full((len(answers), width), processor.pad_token_id, dtype=torch.long)
    candidate_mask = torch.zeros((len(answers), width), dtype=torch.long)
    for k, ids in enumerate(completions):
        candidate_ids[k, :len(ids)], candidate_mask[k, :len(ids)] = torch.tensor(ids), 1
    scores = []
    for chunk in _batches(list(range(len(clips))), batch_size):
        batch = processor([processor.recognition_prompt()] * len(chunk), [clips[i] for i in chunk],
                          [layouts[i] for i in chunk],
                          fps=[fps[i] for i in chunk] if fps is not None else None).to(model.device)
        prompt = model(**batch, use_cache=True, logits_to_keep=1)
        first = prompt.logits[:, -1].float().log_softmax(-1)[:, candidate_ids[:, 0]]  # (b, K)
        cache = prompt.cache
        cache.batch_repeat_interleave(len(answers))
        ids = candidate_ids.repeat(len(chunk), 1).to(model.device)
        mask = candidate_mask.repeat(len(chunk), 1).to(model.device)
        attention = torch.cat([batch["attention_mask"].repeat_interleave(len(answers), 0), mask], dim=1)
        rest = model(input_ids=ids, attention_mask=attention, cache=cache).logits.float().log_softmax(-1)
        next_token = rest[:, :-1].gather(-1, ids[:, 1:, None])[..., 0] * mask[:, 1:]  # (b*K, width-1)
        scores.append((first.reshape(-1) + next_token.sum(-1)).view(len(chunk), len(answers)).float().cpu())
    return torch.cat(scores).numpy()


def label_probabilities(model, processor, clips: list[np.ndarray], layouts: list[str],
                        fps: list[float] | None = None, corpora: list[str] | None = None,
                        batch_size: int = 16) -> list[dict[str, float]]:
    """Recognition by scoring: per clip, ``{label: probability}``, a softmax over the likelihoods of the
    candidate labels' answers (:func:`score_answers`). The candidates are the labels of the clip's corpus
    (``corpora``, as the model's ``corpus_labels`` list them), or all the model's labels where the corpus is
    not given or not known to the model."""
    corpus_labels = model.config.skeleton_config.corpus_labels or {}
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in range(len(clips)):
        candidates = corpus_labels.get(corpora[i], model.config.labels) if corpora else model.config.labels
        groups.setdefault(tuple(candidates), []).append(i)
    probabilities = [{}] * len(clips)
    for candidates, where in groups.items():
        loglik = score_answers(model, processor, [clips[i] for i in where], [layouts[i] for i in where],
                               [processor.recognition_answer(label) for label in candidates], batch_size,
                               fps=None if fps is None else [fps[i] for i in where])
        p = np.exp(loglik - loglik.max(axis=1, keepdims=True))
        for i, row in zip(where, p / p.sum(axis=1, keepdims=True)):
            probabilities[i] = dict(zip(candidates, row.tolist()))
    return probabilities


@torch.no_grad()
def read_actions(model, processor, clips: list[np.ndarray], layouts: list[str], fps: list[float] | None = None,
                 batch_size: int = 16) -> list[dict[str, float]] | None:
    """The action readout of each clip (with its layout name and frame rate): ``{action: probability}``, a
    softmax over ``model.config.action_names``; None for a model without a readout."""
    if model.action_readout is None:
        return None
    model.eval()
    read = []
    for chunk in _batches(list(range(len(clips))), batch_size):
        batch = processor.feature_extractor([clips[i] for i in chunk], [layouts[i] for i in chunk],
                                            None if fps is None else [fps[i] for i in chunk], return_tensors="pt")
        logits = model.read_actions(**{key: batch[key].to(model.device) for key in SkeletonProcessor.model_input_names})
        for row in logits.float().softmax(-1).cpu().tolist():
            read.append(dict(zip(model.config.action_names, row)))
    return read


def likeliest_actions(read: list[dict[str, float]] | None, count: int) -> list[str | None]:
    """The most probable action of each of ``count`` clips from :func:`read_actions` (all None without a
    readout)."""
    return [None] * count if read is None else [max(r, key=r.get) for r in read]


def description_prompts(model, processor, labels: list[str], measured: list[dict[str, float]],
                        corpora: list[str | None], actions: list[str | None]) -> list[str]:
    """The description prompt of each clip, for ``labels``. For a grounded model
    (``config.grounded_descriptions``) it states the clip's action (``actions``: the readout's, or the
    recorded one in training; said when it is one of ``config.action_names``) and the notable qualities
    (:func:`~eai_llm.claims.notable_qualities`) of its ``measured`` descriptors ``{name: value}`` (NaN where
    absent; none said when nothing was measured), read against the model's saved population of its corpus
    (``corpora``: its corpus, or :func:`~eai_llm.claims.corpus_for_layout` where it is not known) and that
    action (:func:`~eai_llm.claims.reference_population`); otherwise it is the paper's prompt. The one rule
    for what a description prompt tells the LLM."""
    if not model.config.grounded_descriptions:
        return [processor.description_prompt(label) for label in labels]
    prompts = []
    for label, values, corpus, action in zip(labels, measured, corpora, actions):
        stated = action if action in model.config.action_names else None
        qualities = None
        if any(np.isfinite(v) for v in values.values()):
            population = reference_population(model.config.descriptor_populations, corpus, stated)[0]
            qualities = [(q, d) for q, d, _ in notable_qualities(values, population)]
        prompts.append(processor.description_prompt(label, stated, qualities))
    return prompts


def measure(positions: np.ndarray, layout: JointLayout, fps: float | None) -> dict[str, float]:
    """The clip's movement descriptors ``{name: value}`` (:func:`~eai_llm.descriptors.describe_motion`); empty
    without ``fps`` or for a clip the descriptors cannot read, whose claims then stay unchecked."""
    try:
        return describe_motion(positions, fps, layout) if fps is not None else {}
    except ValueError:
        return {}


def explain(model, processor, positions: np.ndarray, layout: str, fps: float | None = None,
            max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, joint_weights: bool = False) -> dict:
    """One clip ``(T, J, 3)`` at ``fps`` → ``{"label", "scores", "explanation", "evidence"}``: the label
    ranked first by the LLM's likelihood over the model's labels (scores: softmax over them), then the
    description prompt with that label (:func:`description_prompts`), then the :func:`evidence` for the
    explanation's claims (left out, with a warning, for a model saved without descriptor populations). A model
    with an action readout adds ``"action": {action: probability}``. ``joint_weights``: also
    ``"joint_weights": {joint name: weight}``, the :func:`joint_saliency` of the label (one backward pass)."""
    rates = None if fps is None else [fps]
    scores = label_probabilities(model, processor, [positions], [layout], rates)[0]
    label = max(scores, key=scores.get)
    layouts = {definition["name"]: definition for definition in processor.feature_extractor.layouts}
    joints = JointLayout.from_dict(layouts[layout])
    populations = model.config.descriptor_populations
    measured = measure(positions, joints, fps)
    actions = read_actions(model, processor, [positions], [layout], rates)
    action = likeliest_actions(actions, 1)[0]
    corpus = None if populations is None else corpus_for_layout(populations, layout)
    prompt = description_prompts(model, processor, [label], [measured], [corpus], [action])[0]
    explanation = generate_answers(model, processor, [prompt], [positions], [layout], max_new_tokens, fps=rates)[0]
    result = {"label": label, "scores": scores, "explanation": explanation}
    if actions is not None:
        result["action"] = actions[0]
    if joint_weights:
        weights = joint_saliency(model, processor, positions, layout, fps, label)
        result["joint_weights"] = dict(zip(layouts[layout]["joint_names"], weights.tolist()))
    if populations is None:
        warnings.warn(f"{model.config.name_or_path or 'this model'}: no descriptor populations in its config (saved "
                      "before train.py kept them), so the explanation comes without evidence; retrain stage 2 to get it")
        return result
    return result | {"evidence": evidence(explanation, positions, joints, fps, populations, action,
                                          model.config.action_names)}


def evidence(explanation: str, positions: np.ndarray, layout: JointLayout, fps: float | None,
             populations: dict, action: str | None = None, action_names: list[str] | None = None) -> dict:
    """The claims of ``explanation`` checked against the clip's measured movement descriptors
    (:mod:`eai_llm.claims`), and the action it names against the action readout's.

    Args:
        explanation: the generated text.
        positions: ``(T, J, 3)`` the clip, metres, +Y up.
        layout: its layout; fps: its frame rate (None: nothing can be measured, every claim unchecked).
        populations: the model's ``config.descriptor_populations``.
        action: the action readout's action for the clip (None: the model has no readout);
        action_names: the readout's actions, the ones an explanation is read for.

    Returns:
        ``{"population": corpus, "claims": [{"quality", "direction", "descriptor", "value", "unit",
        "percentile", "verdict"}, ...]}``: the training corpus whose clips the percentiles are among, and per
        claim its verdict (``supported``, ``unsupported``, ``contradicted`` or ``unchecked``); a value or
        percentile that could not be measured is None. A text with no claim has an empty list.
        ``"population_action"``: the action whose training clips the percentiles are among where the
        populations keep one for ``action`` (:func:`~eai_llm.claims.reference_population`; a descriptor too
        few of them measured is read among the whole corpus), else None. With
        ``action``, also ``"action": {"named", "read", "verdict"}``: the action the text names (None: none
        of ``action_names``), the readout's, and ``supported`` (the same), ``contradicted`` (another) or
        ``unchecked`` (none named). The action is checked against a model's reading, not a measurement.
    """
    name = corpus_for_layout(populations, layout.name)
    population, among = reference_population(populations, name, action)
    result = {"population": name, "population_action": among,
              "claims": check_claims(parse_claims(explanation), measure(positions, layout, fps), population)}
    if action is not None:
        named = parse_action(explanation, action_names or [action])
        verdict = "unchecked" if named is None else "supported" if named == action else "contradicted"
        result["action"] = {"named": named, "read": action, "verdict": verdict}
    return result


def joint_saliency(model, processor, positions: np.ndarray, layout: str, fps: float | None, label: str) -> np.ndarray:
    """How much each joint of a clip ``(T, J, 3)`` drives the LLM toward ``label``: the gradient of the
    loss of ``label``'s recognition answer (minus its mean log-likelihood, the quantity :func:`score_answers`
    ranks labels by) with respect to the encoder's input ``skeleton_values`` ``(1, 3, frames, V_max)``, its
    absolute value summed over coordinates and frames, over the clip's ``J`` joints, normalised to sum to 1:
    ``(J,)``. The movement descriptors, computed from the positions outside the graph, are held fixed."""
    model.eval()
    batch = processor([processor.recognition_prompt()], [positions], [layout], fps=None if fps is None else [fps],
                      completions=[processor.recognition_answer(label)]).to(model.device)
    values = batch["skeleton_values"].detach().requires_grad_()
    with torch.enable_grad():  # also inside a pipeline's no_grad
        loss = model(**{**batch, "skeleton_values": values}).loss
        (gradient,) = torch.autograd.grad(loss, values)
    weights = gradient[0].abs().sum(dim=(0, 1))[:positions.shape[1]].double().cpu().numpy()
    if not weights.sum() > 0:
        raise RuntimeError(f"joint_saliency: the answer's likelihood does not depend on the clip's joints (gradient "
                           f"{weights.sum()}), expected a model whose skeleton tokens reach the LLM")
    return weights / weights.sum()
