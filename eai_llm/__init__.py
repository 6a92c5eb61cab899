"""EAI-LLM: emotion recognition and explanation from 3D full-body skeleton motion with an LLM.

Data path: motion file (``motion``) → corpus row (``corpus``, ``dataset_scripts/``) →
``SkeletonProcessor`` tensors (``processing_eai``). Joint layouts live in ``layouts``.
"""
