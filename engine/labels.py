"""Expression classes and the valence mapping, shared by the engine, reports and tests.

The order is the classifier's output order (FER+ order, without unknown/NF).
"""

from __future__ import annotations

EXPRESSIONS: tuple[str, ...] = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")

NEGATIVE: frozenset[str] = frozenset({"angry", "disgust", "fear", "sad", "contempt"})
POSITIVE: frozenset[str] = frozenset({"happy"})
VALENCES: tuple[str, ...] = ("positive", "neutral", "negative")

# Accepted spellings in labelled data sets (FER+ uses the nouns).
ALIASES: dict[str, str] = {
    "happiness": "happy",
    "sadness": "sad",
    "anger": "angry",
    "surprised": "surprise",
    "fearful": "fear",
    "disgusted": "disgust",
    "neu": "neutral",
    "hap": "happy",
    "sad": "sad",
    "ang": "angry",
    "dis": "disgust",
    "fea": "fear",
}


def canonical(label: str) -> str:
    name = label.strip().lower()
    name = ALIASES.get(name, name)
    if name not in EXPRESSIONS:
        raise ValueError(f"unknown expression label {label!r}; expected one of {', '.join(EXPRESSIONS)}")
    return name


def valence_of(label: str) -> str:
    """Negative: angry, disgust, fear, sad, contempt. Positive: happy. Surprise and neutral: neutral."""
    if label in NEGATIVE:
        return "negative"
    if label in POSITIVE:
        return "positive"
    return "neutral"


def label_of(probs) -> str | None:
    """The expression with the highest probability (the first on a tie); None without probabilities."""
    if probs is None or len(probs) == 0:
        return None
    return EXPRESSIONS[max(range(len(probs)), key=probs.__getitem__)]


# Frame flags set by the engine (also the reasons a frame has no reading).
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
FACE_TOO_SMALL = "face_too_small"
TOO_DARK = "too_dark"
BLURRED = "blurred"
TURNED = "turned_away"
# A face is there but too poor to read: no label, not in the report's shares, reported as "poor view".
POOR_VIEW_FLAGS: frozenset[str] = frozenset({FACE_TOO_SMALL, TOO_DARK, BLURRED, TURNED})

NEGATIVE_INDEX: tuple[int, ...] = tuple(i for i, name in enumerate(EXPRESSIONS) if name in NEGATIVE)
VALENCE_BY_INDEX: tuple[str, ...] = tuple(valence_of(name) for name in EXPRESSIONS)
