"""EAI-LLM: emotion recognition and explanation from 3D full-body skeleton motion with an LLM.

The data path, one module a step:

    motion file ──motion.read_motion──▶ Motion (T, J, 3) metres, +Y up, with its JointLayout
    corpus rows (corpus, dataset_scripts/) ── the same clips as a datasets.DatasetDict
    SkeletonProcessor / EAIProcessor (processing_eai) ──▶ padded skeleton tensors, prompts with
        one <skeleton> placeholder id per skeleton token, UST attention mask
    EAILlamaForCausalLM (modeling_eai): skeleton encoder ──▶ tokens ──projector──▶ Llama ──▶ text
    inference.explain ──▶ {"label", "scores", "explanation", "evidence"} ──render──▶ a stick-figure GIF/MP4

Training: ``alignment`` (stage 1), ``instruction_tuning`` (stage 2), configured by ``run_config``.
The model files (``configuration_eai``, ``modeling_eai``, ``processing_eai`` and ``joint_layout``) build
everything from what a saved folder holds; named layouts (``layouts``) belong to the readers and converters.

Importing the package registers the classes with the transformers Auto classes (``AutoConfig``,
``AutoModelForCausalLM``, ``AutoModel``, ``AutoProcessor``) and the ``skeleton-emotion`` pipeline, and
marks the model, its config and processor for remote code: every ``save_pretrained`` writes
``auto_map`` and copies the modules, so saved folders load with ``trust_remote_code=True`` where this
package is not installed.
"""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoProcessor
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_eai import EAIConfig, EAISkeletonConfig
from .modeling_eai import EAILlamaForCausalLM, EAISkeletonEncoder
from .pipeline_eai import SkeletonEmotionPipeline
from .processing_eai import EAIProcessor, SkeletonProcessor

AutoConfig.register(EAIConfig.model_type, EAIConfig)
AutoConfig.register(EAISkeletonConfig.model_type, EAISkeletonConfig)
AutoModelForCausalLM.register(EAIConfig, EAILlamaForCausalLM)
AutoModel.register(EAIConfig, EAILlamaForCausalLM)
AutoModel.register(EAISkeletonConfig, EAISkeletonEncoder)
AutoProcessor.register(EAIConfig, EAIProcessor)
PIPELINE_REGISTRY.register_pipeline("skeleton-emotion", pipeline_class=SkeletonEmotionPipeline,
                                    pt_model=AutoModelForCausalLM)

EAIConfig.register_for_auto_class()
EAILlamaForCausalLM.register_for_auto_class("AutoModelForCausalLM")
EAIProcessor.register_for_auto_class()

__all__ = ["EAIConfig", "EAILlamaForCausalLM", "EAIProcessor", "EAISkeletonConfig", "EAISkeletonEncoder",
           "SkeletonEmotionPipeline", "SkeletonProcessor"]
