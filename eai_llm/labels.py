"""Emotion label vocabulary: synonyms merged across corpora, adjective forms, and label prompts.

Corpora name the same emotion differently (Emilya's *joy*, KDAE's *happiness*). Joint training
and the LLM use one merged vocabulary: :func:`merged_label` maps every known spelling to its
canonical label; unknown labels (e.g. the Bandai-Namco styles) stay as they are.
"""

from __future__ import annotations

# The label sets of the paper's corpora (§4.1), lower-case.
CORPUS_LABELS = {
    "emilya": ("anger", "anxiety", "fear", "joy", "neutral", "panic", "sadness", "shame"),
    "kdae": ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"),
    "egbm": ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"),
}

# spelling -> canonical label
SYNONYMS = {
    "joy": "happiness", "happy": "happiness", "joyful": "happiness",
    "angry": "anger", "anxious": "anxiety", "disgusted": "disgust", "afraid": "fear", "fearful": "fear",
    "scared": "fear", "panicked": "panic", "sad": "sadness", "ashamed": "shame", "surprised": "surprise",
}

# canonical label -> the adjective used in "This is a/an [adjective] person."
ADJECTIVES = {
    "anger": "angry", "anxiety": "anxious", "disgust": "disgusted", "fear": "fearful", "happiness": "happy",
    "neutral": "neutral", "panic": "panicked", "sadness": "sad", "shame": "ashamed", "surprise": "surprised",
}


def merged_label(label: str) -> str:
    """The canonical label of ``label`` (lower-cased), e.g. ``"Joy"`` → ``"happiness"``."""
    value = label.strip().lower()
    return SYNONYMS.get(value, value)


def label_word(label: str) -> str:
    """The word the label sentence names ``label`` by: its adjective (``"anger"`` → ``"angry"``), else itself."""
    return ADJECTIVES.get(merged_label(label), merged_label(label))


def label_prompt(label: str) -> str:
    """The paper's label sentence, with the right article: ``"anger"`` → ``"This is an angry person."``."""
    word = label_word(label)
    article = "an" if word[0] in "aeiou" else "a"
    return f"This is {article} {word} person."
