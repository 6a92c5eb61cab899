"""Synthetic emotional full-body motion: the embedded default corpus of EAI-LLM.

The demo, the tests and the benchmarks need skeleton clips with emotion labels and, for a part of
them, free-text descriptions, without the licensed corpora of the paper (§4.1). This package renders
such clips from a kinematic body model, for three corpora that copy the heterogeneity of the
paper's: ``emilya`` (Xsens MVN, 28 joints, 120 Hz, 8 emotions, daily actions), ``kdae``
(Perception Neuron, 24 joints, 125 Hz, 7 emotions) and ``egbm`` (Kinect V2, 25 joints, 30 Hz,
7 emotions, camera coordinates and sensor jitter).

How a clip is made
------------------
1. **Actor.** Each corpus has actors (11 / 22 / 16 as in the paper); an actor has a body (height,
   leg / arm / trunk / shoulder proportions) and a personal style: small offsets of the movement
   qualities below (habitual tempo, posture...).
2. **Qualities.** Each emotion is a normal distribution (mean, spread) over a latent vector of
   movement qualities the literature links to emotion (:data:`LATENT_NAMES`): tempo, amplitude
   (expansiveness), head pitch, trunk lean, slump, arm swing, jerkiness, tremor and hesitation.
   The distributions overlap, so some clips are genuinely ambiguous. A clip's latents are one
   draw from its emotion's distribution plus its actor's style.
3. **Action.** A parametric template (gait cycle, sitting down, knocking, lifting, throwing,
   carrying, gesturing) gives joint-rotation trajectories over a time-warped progress variable;
   the latents set the warp (tempo, pauses, sudden accelerations), the ranges (amplitude, arm
   swing), the posture (head, trunk, shoulders) and add tremor.
4. **Forward kinematics.** A per-layout rest pose built from the actor's body gives fixed bone
   offsets; rotating them joint by joint gives positions ``(T, J, 3)`` in metres, +Y up, whose bone
   lengths are constant over the clip. Feet are kept on the floor and, for actions in place,
   planted; Kinect-like jitter (EGBM) is added as small joint-angle noise, so bones keep their
   length there too.
5. **Description.** A part of the clips gets a one-to-three-sentence description written from
   that clip's latents compared with the corpus population (never from its label).

The generator knows every clip's latents, so :func:`oracle_accuracy` measures how separable the
emotions are at best (a logistic regression on the latents), the ceiling a model can approach.

Example::

    from eai_llm.synthetic import generate_clips, oracle_accuracy
    clips = generate_clips("emilya", 64, seed=0)
    clips[0].positions.shape      # (T, 28, 3) float32
    clips[0].to_row()             # a row of the corpus schema (eai_llm.corpus)

Modules: :mod:`~eai_llm.synthetic.qualities` (the latents, the emotions, the corpora and their
actors), :mod:`~eai_llm.synthetic.body` (rig and rest pose per layout),
:mod:`~eai_llm.synthetic.actions` (action templates and rendering),
:mod:`~eai_llm.synthetic.descriptions` and :mod:`~eai_llm.synthetic.clips` (which clips a corpus
gets, :func:`generate_clips`, :func:`oracle_accuracy`).
"""

from .actions import ACTIONS
from .clips import SyntheticClip, generate_clips, oracle_accuracy
from .descriptions import describe, latent_quantiles
from .qualities import EMOTION_QUALITIES, LATENT_NAMES, SYNTHETIC_CORPORA, SyntheticCorpus, default_num_clips

__all__ = [
    "ACTIONS", "EMOTION_QUALITIES", "LATENT_NAMES", "SYNTHETIC_CORPORA", "SyntheticClip", "SyntheticCorpus",
    "default_num_clips", "describe", "generate_clips", "latent_quantiles", "oracle_accuracy",
]
