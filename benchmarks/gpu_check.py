"""GPU check: both training stages at the paper's sizes, for a few dozen steps on synthetic batches.

On one CUDA device (a lent NVIDIA H200; well under 10 minutes for the whole run), through accelerate:

1. stage 1: the skeleton encoder at the paper's CTR-GCN widths (``EAISkeletonConfig`` defaults, 64 frames,
   token width 768 as CLIP ViT-L/14's), batch 64 per process, the L_st objective (eq. 5), SGD;
2. stage 2: ``EAILlamaForCausalLM`` around a randomly initialised ``LlamaForCausalLM`` of Llama-2-7B's shape
   and of SmolLM2-135M's shape, the frozen encoder, LoRA r 64 (alpha 16, dropout 0.05, all seven linear maps
   of each decoder layer, projector trained) in bf16, AdamW; batch 4 per process (paper-joint.yaml) of
   256 tokens, 45 of them ``<skeleton>`` placeholders (1 semantic + 28 joints + 16 steps);

and prints, per part: clips/s or tokens/s (all processes together, after 3 untimed warm-up steps), peak GPU
memory (``torch.cuda.max_memory_allocated``), the parameter dtypes and the dtype the layers compute in (read
by a forward hook), accelerate's distributed type and the class the prepared model ended up as. On CUDA,
stage 2 must compute in bf16, else the script exits with status 1. Nothing is downloaded: the clips, the
label text features and the token ids are random; no tokenizer, text encoder or corpus is loaded. The data
layer's built-in layouts give the skeletons (Emilya's xsens_mvn28, KDAE's kdae24, EGBM's kinect_v2).

Commands (from the repository root; ``--steps`` timed steps, ``--part stage1|stage2|all``,
``--shapes 7b,smollm2``)::

    accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 1 benchmarks/gpu_check.py
    accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 1 benchmarks/gpu_check.py

Both YAML files work with ``--num_processes 1`` on one GPU (it overrides their 4), with these caveats:

- DDP: with one process accelerate reports MULTI_GPU but wraps nothing in DDP (``Accelerator.multi_device``
  needs more than one process; on the CPU, MULTI_CPU wraps even one), so the run measures the bare model
  under accelerate's bf16 autocast; the summary names the class each model was prepared as.
- FSDP (FSDP2, bf16), three adjustments the script makes, each because accelerate 1.15 or ``fully_shard``
  refuses the encoder otherwise: it turns off ``fsdp_cpu_ram_efficient_loading`` (accelerate then loads
  the full state dict as if every entry were a sharded parameter, and the encoder's BatchNorm statistics
  and graph buffers are plain tensors); it shards stage 1 per ``SkeletonBlock`` (fsdp.yaml names
  ``LlamaDecoderLayer``, which the encoder lacks) and keeps stage 1's parameters in float32 under autocast,
  as DDP does (FSDP's bf16 parameter cast leaves BatchNorm's float32 running statistics, which
  ``batch_norm`` refuses); and its temperature parameter has shape ``(1,)`` (``fully_shard`` refuses
  scalar parameters).

On the device machine (the ``device`` tool's ``run``; eai_llm is not installed there, hence PYTHONPATH),
``timeout_s`` 600::

    set -o pipefail; export PYTHONPATH=$PWD PYTHONUNBUFFERED=1;
    python3 -c "import torch, transformers, peft, accelerate; print(torch.__version__, transformers.__version__,
        peft.__version__, accelerate.__version__)";
    for c in ddp fsdp; do python3 -m accelerate.commands.launch --config_file configs/accelerate/$c.yaml
        --num_processes 1 benchmarks/gpu_check.py 2>&1 | tee $OUT/gpu_check-$c.log || exit; done

(one line there). The model files are written against transformers 5.24 (pyproject.toml); if the machine's
older transformers refuses them at import, carry the pinned transformers and peft as wheels
(/work/.library/device/README.md, Notes).

CPU smoke run (tiny widths, a 2-layer LLM, float32 on the CPU, 3 timed steps; under a minute on 2 cores)::

    python benchmarks/gpu_check.py --tiny
    accelerate launch --config_file configs/accelerate/cpu-2proc.yaml benchmarks/gpu_check.py --tiny

Without CUDA and without ``--tiny`` the script stops at once. Not a test dependency: nothing imports it.

It imports only the model files and the datasets-free data modules (``layouts``, ``labels``): the GPU
machine has no ``datasets`` package, which ``eai_llm.alignment`` and ``eai_llm.instruction_tuning`` import
(through ``eai_llm.corpus``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from peft import LoraConfig, get_peft_model
from torch import nn
from torch.nn import functional as F
from transformers import AutoModelForCausalLM, LlamaConfig, set_seed

from eai_llm.configuration_eai import EAISkeletonConfig, temporal_token_mask
from eai_llm.labels import CORPUS_LABELS, merged_label
from eai_llm.layouts import get_layout
from eai_llm.modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder

LAYOUT_NAMES = ("xsens_mvn28", "kdae24", "kinect_v2")  # Emilya, KDAE, EGBM: V_max = 28
LABELS = sorted({merged_label(label) for labels in CORPUS_LABELS.values() for label in labels})
WARMUP_STEPS = 3

LLM_SHAPES = {  # random LlamaForCausalLM of these shapes
    "7b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
               intermediate_size=11008, vocab_size=32000, tie_word_embeddings=False),  # Llama-2-7B
    "smollm2": dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True),  # SmolLM2-135M
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=128, vocab_size=512, tie_word_embeddings=False),
}
PAPER = dict(encoder={}, num_frames=64, clip_batch=64, lora_r=64, token_dim=768)  # EAISkeletonConfig defaults
TINY = dict(encoder=dict(block_channels=[8, 8, 16, 16], block_strides=[1, 2, 1, 2]), num_frames=16,
            clip_batch=8, lora_r=8, token_dim=32)
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]  # run_config's


def skeleton_batch(layouts: list, batch_size: int, num_frames: int, device) -> dict:
    """Random clips padded as ``SkeletonProcessor`` pads them: ``skeleton_values`` ``(B, 3, T, V)`` float32
    (zero at padded joints), ``joint_mask`` ``(B, V)`` and ``frame_mask`` ``(B, T)`` int64 (between T/4 and T
    real frames), ``layout_ids`` ``(B,)`` int64."""
    joints = torch.tensor([layout.num_joints for layout in layouts], device=device)
    layout_ids = torch.randint(len(layouts), (batch_size,), device=device)
    joint_mask = (torch.arange(int(joints.max()), device=device) < joints[layout_ids][:, None]).long()
    real_frames = torch.randint(num_frames // 4, num_frames + 1, (batch_size, 1), device=device)
    frame_mask = (torch.arange(num_frames, device=device) < real_frames).long()
    values = torch.randn(batch_size, 3, num_frames, joint_mask.shape[1], device=device) * joint_mask[:, None, None]
    return {"skeleton_values": values, "joint_mask": joint_mask, "frame_mask": frame_mask, "layout_ids": layout_ids}


def build_encoder(sizes: dict) -> EAISkeletonEncoder:
    return EAISkeletonEncoder(EAISkeletonConfig(
        layouts=[get_layout(name) for name in LAYOUT_NAMES], num_frames=sizes["num_frames"],
        token_dim=sizes["token_dim"], id2label=dict(enumerate(LABELS)), **sizes["encoder"]))


def contrastive_kl_loss(features: torch.Tensor, text: torch.Tensor, labels: torch.Tensor,
                        scale: torch.Tensor) -> torch.Tensor:
    """Eqs. 3-4: ``(B, D)`` features, ``(B, D)`` text features of their labels, ``(B,)`` labels → the symmetric
    KL between the softmaxed similarities and the multi-positive target (same label = positive), in float32."""
    logits = scale * F.normalize(features.float(), dim=-1) @ F.normalize(text.float(), dim=-1).T  # (B, B)
    target = (labels[:, None] == labels[None, :]).float()
    target = target / target.sum(1, keepdim=True)
    return (F.kl_div(F.log_softmax(logits, 1), target, reduction="batchmean")
            + F.kl_div(F.log_softmax(logits.T, 1), target, reduction="batchmean")) / 2


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, N, D)`` tokens, ``(B, N)`` mask → ``(B, D)``."""
    mask = mask.to(tokens.dtype)[..., None]
    return (tokens * mask).sum(1) / mask.sum(1)


class AlignmentObjective(nn.Module):
    """Stage 1's L_st (eq. 5) around the encoder: cross-entropy of the head plus the contrastive loss of the
    pooled spatial and of the pooled temporal tokens against the label's text feature. The library's own
    module, ``eai_llm.alignment.SkeletonTextAlignment``, cannot be imported on the GPU machine (its module
    imports ``datasets``), so these lines restate it, without the per-corpus masking of the logits.

    Args:
        encoder: the encoder trained.
        text_features: ``(num_labels, D)``, one per label (random here: no text encoder is loaded).
    """

    def __init__(self, encoder: EAISkeletonEncoder, text_features: torch.Tensor):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("text_features", text_features)
        self.logit_scale = nn.Parameter(torch.full((1,), math.log(1 / 0.07)))  # (1,): fully_shard refuses scalars

    def forward(self, skeleton_values, joint_mask, frame_mask, layout_ids, labels) -> torch.Tensor:
        out = self.encoder(skeleton_values, joint_mask, frame_mask, layout_ids)
        scale, text = self.logit_scale.exp().clamp(max=100), self.text_features[labels]
        spatial = contrastive_kl_loss(masked_mean(out.spatial_tokens, out.spatial_mask), text, labels, scale)
        temporal = contrastive_kl_loss(masked_mean(out.temporal_tokens, out.temporal_mask), text, labels, scale)
        return F.cross_entropy(out.logits.float(), labels) + (spatial + temporal) / 2


def shard_per(accelerator: Accelerator, layer_class: str):
    """Under FSDP, make ``layer_class`` the unit ``fully_shard`` wraps (fsdp.yaml names ``LlamaDecoderLayer``,
    which the encoder lacks), and load no full state dict (see the module docstring); a no-op otherwise."""
    if accelerator.distributed_type == DistributedType.FSDP:
        plugin = accelerator.state.fsdp_plugin
        plugin.transformer_cls_names_to_wrap = [layer_class]
        if plugin.cpu_ram_efficient_loading:
            accelerator.print("fsdp: cpu_ram_efficient_loading turned off (accelerate loads the full state dict "
                              "assuming no buffers; the encoder has BatchNorm and graph buffers)")
            plugin.cpu_ram_efficient_loading = False


def prepare_in_float32(accelerator: Accelerator, model: nn.Module, optimizer) -> tuple:
    """``accelerator.prepare``, except that FSDP keeps the parameters in float32, as DDP does: bf16 then comes
    from ``accelerator.autocast()`` alone. FSDP's own bf16 cast would turn the BatchNorm weights to bf16 and
    leave their float32 running statistics, a mix that ``batch_norm`` refuses."""
    plugin = accelerator.state.fsdp_plugin if accelerator.distributed_type == DistributedType.FSDP else None
    if plugin is None:
        return accelerator.prepare(model, optimizer)
    policy, plugin.mixed_precision_policy = plugin.mixed_precision_policy, None
    try:
        return accelerator.prepare(model, optimizer)
    finally:
        plugin.mixed_precision_policy = policy


def stage2_dtype(device: torch.device) -> torch.dtype:
    """The dtype stage 2 loads the LLM and the encoder in: bf16 on GPUs (paper-joint.yaml's ``llm.dtype``),
    float32 on the CPU (smoke runs)."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def record_output_dtype(module: nn.Module, seen: dict, key: str):
    """Write the dtype of ``module``'s output into ``seen[key]`` at every forward."""
    module.register_forward_hook(lambda _module, _inputs, output: seen.__setitem__(key, output.dtype))


def dtype_counts(model: nn.Module, trainable: bool) -> dict:
    """``{dtype name: parameter count}`` of the trainable or of the frozen parameters."""
    counts = {}
    for p in model.parameters():
        if p.requires_grad == trainable:
            name = str(p.dtype).removeprefix("torch.")
            counts[name] = counts.get(name, 0) + p.numel()
    return counts


def timed_training(accelerator: Accelerator, step, steps: int) -> float:
    """Run ``step()`` ``WARMUP_STEPS`` times untimed, then ``steps`` times; the seconds of the timed steps."""
    for _ in range(WARMUP_STEPS):
        step()
    synchronize(accelerator)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(accelerator)
    return time.perf_counter() - start


def synchronize(accelerator: Accelerator):
    if accelerator.device.type == "cuda":
        torch.cuda.synchronize(accelerator.device)
    accelerator.wait_for_everyone()


def reset_peak_memory(accelerator: Accelerator):
    if accelerator.device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(accelerator.device)


def peak_memory(accelerator: Accelerator) -> str:
    if accelerator.device.type != "cuda":
        return "n/a (CPU)"
    return f"{torch.cuda.max_memory_allocated(accelerator.device) / 2**30:.2f} GiB"


def stage1(accelerator: Accelerator, sizes: dict, steps: int) -> dict:
    """Train the encoder with L_st; returns the printed measurements."""
    reset_peak_memory(accelerator)
    device, batch_size = accelerator.device, sizes["clip_batch"]
    encoder = build_encoder(sizes)
    objective = AlignmentObjective(encoder, torch.randn(len(LABELS), sizes["token_dim"])).to(device)
    seen = {}
    record_output_dtype(next(m for m in encoder.modules() if isinstance(m, nn.Conv2d)), seen, "conv")
    optimizer = torch.optim.SGD(objective.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=4e-4)
    shard_per(accelerator, "SkeletonBlock")
    model, optimizer = prepare_in_float32(accelerator, objective, optimizer)
    layouts = [get_layout(name) for name in LAYOUT_NAMES]
    batches = itertools.cycle([{**skeleton_batch(layouts, batch_size, sizes["num_frames"], device),
                                "labels": torch.randint(len(LABELS), (batch_size,), device=device)}
                               for _ in range(4)])
    model.train()

    def step():
        with accelerator.autocast():  # under FSDP the only source of bf16 (prepare_in_float32)
            loss = model(**next(batches))
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    seconds = timed_training(accelerator, step, steps)
    result = {"part": "stage1 encoder", "wrapped as": type(model).__name__,
              "parameters": f"{sum(p.numel() for p in encoder.parameters()) / 1e6:.2f} M",
              "speed": f"{steps * batch_size * accelerator.num_processes / seconds:.1f} clips/s",
              "step": f"{1000 * seconds / steps:.1f} ms", "peak memory": peak_memory(accelerator),
              "trainable parameter dtypes": dtype_counts(model, trainable=True),
              "computes in": str(seen["conv"]).removeprefix("torch.")}  # the first convolution's output
    accelerator.free_memory()
    return result


def llm_batch(config, batch_size: int, seq_len: int, sizes: dict, device) -> dict:
    """Tokenizer-free stage-2 batch, laid out as ``EAIProcessor`` lays a prompt out: ``input_ids`` ``(B, L)``
    random text ids with ``N`` ``<skeleton>`` ids (``config.skeleton_token_id``) after 4 text ids;
    ``attention_mask`` ``(B, L)``, 0 at the placeholders of padded joints and steps (UST); ``labels`` ``(B, L)``
    the last half of the text after the placeholders (the answer), -100 elsewhere; and the clips."""
    clips = skeleton_batch([get_layout(name) for name in LAYOUT_NAMES], batch_size, sizes["num_frames"], device)
    parts = config.skeleton_token_parts
    n_tokens, prefix = sum(count for _, count in parts), 4
    if seq_len < prefix + n_tokens + 2:
        raise SystemExit(f"--seq-len {seq_len} is too short for {n_tokens} skeleton tokens, expected at least "
                         f"{prefix + n_tokens + 2}")
    input_ids = torch.randint(config.skeleton_token_id, (batch_size, seq_len), device=device)  # ids below it
    input_ids[:, prefix:prefix + n_tokens] = config.skeleton_token_id
    masks = {"semantic": torch.ones_like(clips["joint_mask"][:, :1]), "spatial": clips["joint_mask"],
             "temporal": temporal_token_mask(clips["frame_mask"], config.skeleton_config.num_temporal_tokens).long()}
    attention_mask = torch.ones_like(input_ids)
    attention_mask[:, prefix:prefix + n_tokens] = torch.cat([masks[part] for part, _ in parts], dim=1)
    answer_start = seq_len - (seq_len - prefix - n_tokens) // 2
    labels = input_ids.masked_fill(torch.arange(seq_len, device=device) < answer_start, -100)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, **clips}


def stage2(accelerator: Accelerator, shape: str, sizes: dict, args) -> dict:
    """LoRA training of EAI-LLM around a random LLM of ``LLM_SHAPES[shape]``; returns the printed measurements."""
    reset_peak_memory(accelerator)
    device = accelerator.device
    dtype = stage2_dtype(device)
    text_config = LlamaConfig(**LLM_SHAPES[shape])
    with torch.device(device):  # initialise the weights where they will live (7B on a CPU takes minutes)
        language_model = AutoModelForCausalLM.from_config(text_config, dtype=dtype)
    skeleton_token_id = text_config.vocab_size - 1  # the last id stands for <skeleton>: no tokenizer here
    model = EAILlamaForCausalLM.from_parts(language_model, build_encoder(sizes).to(device, dtype), skeleton_token_id)
    model.projector.to(device, dtype)
    model.skeleton_encoder.requires_grad_(False)
    seen = {}
    record_output_dtype(language_model.model.layers[0].mlp, seen, "decoder MLP")
    lora = LoraConfig(r=sizes["lora_r"], lora_alpha=16, lora_dropout=0.05, target_modules=LORA_TARGETS,
                      modules_to_save=["projector"])
    peft_model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-5)
    shard_per(accelerator, "LlamaDecoderLayer")
    prepared, optimizer = accelerator.prepare(peft_model, optimizer)
    batches = itertools.cycle([llm_batch(model.config, args.llm_batch_size, args.seq_len, sizes, device)
                               for _ in range(4)])
    prepared.train()

    def step():
        accelerator.backward(prepared(**next(batches)).loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    seconds = timed_training(accelerator, step, args.steps)
    tokens = args.steps * args.llm_batch_size * args.seq_len * accelerator.num_processes
    result = {"part": f"stage2 {shape}", "wrapped as": type(prepared).__name__,
              "parameters": f"{sum(p.numel() for p in language_model.parameters()) / 1e6:.1f} M (LLM)",
              "speed": f"{tokens / seconds:.0f} tokens/s", "step": f"{1000 * seconds / args.steps:.1f} ms",
              "peak memory": peak_memory(accelerator),
              "frozen parameter dtypes": dtype_counts(prepared, trainable=False),
              "trainable parameter dtypes": dtype_counts(prepared, trainable=True),
              "computes in": str(seen["decoder MLP"]).removeprefix("torch."),  # decoder layer 0's MLP output
              "attention": language_model.config._attn_implementation}
    accelerator.free_memory()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per part (default 30; 3 with --tiny)")
    parser.add_argument("--part", choices=["stage1", "stage2", "all"], default="all")
    parser.add_argument("--shapes", default=None, help=f"stage-2 LLM shapes, from {sorted(LLM_SHAPES)} (default "
                                                       "7b,smollm2; tiny with --tiny)")
    parser.add_argument("--llm-batch-size", type=int, default=4, help="stage-2 prompts per process")
    parser.add_argument("--seq-len", type=int, default=None, help="stage-2 tokens per prompt (default 256; 64 with "
                                                                  "--tiny)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke run: tiny encoder widths and LLM, 3 steps, float32 on CPU")
    args = parser.parse_args()
    if not args.tiny and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --tiny for a CPU smoke run")
    args.steps = args.steps or (3 if args.tiny else 30)
    args.seq_len = args.seq_len or (64 if args.tiny else 256)
    shapes = (args.shapes or ("tiny" if args.tiny else "7b,smollm2")).split(",")
    unknown = sorted(set(shapes) - set(LLM_SHAPES))
    if unknown:
        sys.exit(f"--shapes: unknown {unknown}, expected names from {sorted(LLM_SHAPES)}")
    sizes = TINY if args.tiny else PAPER

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    set_seed(0)
    device_name = torch.cuda.get_device_name(accelerator.device) if accelerator.device.type == "cuda" else "CPU"
    accelerator.print(f"accelerate: distributed type {accelerator.distributed_type.value}, "
                      f"{accelerator.num_processes} process(es), mixed precision {accelerator.mixed_precision}, "
                      f"device {accelerator.device} ({device_name}); torch {torch.__version__}")
    if accelerator.distributed_type == DistributedType.MULTI_GPU and accelerator.num_processes == 1:
        accelerator.print("ddp: one process, so accelerate wraps nothing in DDP (it needs at least two)")
    results = []
    if args.part in ("stage1", "all"):
        results.append(stage1(accelerator, sizes, args.steps))
        accelerator.print(results[-1])
    if args.part in ("stage2", "all"):
        for shape in shapes:
            results.append(stage2(accelerator, shape, sizes, args))
            accelerator.print(results[-1])

    accelerator.print("\nsummary:")
    for result in results:
        accelerator.print(f"  {result['part']:<16} {result['speed']:>20}  peak {result['peak memory']:>10}  "
                          f"computes in {result['computes in']:<8}  as {result['wrapped as']}")
    if accelerator.device.type == "cuda" and args.part != "stage1":
        not_bf16 = [r["part"] for r in results if r["part"].startswith("stage2") and r["computes in"] != "bfloat16"]
        if not_bf16:
            accelerator.print(f"FAILED bf16 check: {not_bf16} did not compute in bf16")
            sys.exit(1)
        accelerator.print("bf16 check: passed (stage 2 computed in bf16)")
    accelerator.end_training()


if __name__ == "__main__":
    main()
