"""EAI-LLM: emotion recognition and explanation from 3D full-body skeleton motion with an LLM.

Data path: motion file (``motion``) → corpus row (``corpus``, ``dataset_scripts/``) →
``SkeletonProcessor`` tensors and ``EAIProcessor`` prompts (``processing_eai``) →
``EAILlamaForCausalLM`` (``modeling_eai``): skeleton encoder → projector → Llama → text.
Joint layouts live in ``layouts``.

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
