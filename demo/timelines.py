"""Synthetic but realistic call timelines for the demo data (no real faces involved)."""

from __future__ import annotations

import numpy as np

from engine.labels import EXPRESSIONS

# Typical mood mixtures of a banking conversation; each call drifts between a few of them.
MOODS: dict[str, dict[str, float]] = {
    "calm": {"neutral": 0.8, "happy": 0.14, "surprise": 0.04, "sad": 0.01, "contempt": 0.01},
    "pleased": {"neutral": 0.45, "happy": 0.48, "surprise": 0.07},
    "worried": {"neutral": 0.45, "sad": 0.25, "fear": 0.15, "surprise": 0.1, "happy": 0.05},
    "annoyed": {"neutral": 0.35, "angry": 0.3, "disgust": 0.1, "contempt": 0.15, "sad": 0.1},
}


def synthetic_timeline(
    rng: np.random.Generator, minutes: float, fps: float = 2.0, temper: float = 0.3
) -> tuple[list[int], list[bool], list[list[float] | None]]:
    """Per-frame (t_ms, face_found, probs) for a call of ``minutes``; ``temper`` raises negative moods."""
    n = int(minutes * 60 * fps)
    step_ms = int(1000 / fps)
    weights = np.array([1.0, 1.0, temper * 2, temper * 1.5])
    names = list(MOODS)
    t_ms: list[int] = []
    found: list[bool] = []
    probs: list[list[float] | None] = []
    mood = "calm"
    shown = "neutral"  # an expression holds for a few seconds, as faces do
    look_away = 0
    for i in range(n):
        if rng.random() < 1 / (fps * 40):  # a mood lasts ~40 s on average
            mood = names[rng.choice(len(names), p=weights / weights.sum())]
        if rng.random() < 1 / (fps * 6):  # an expression lasts ~6 s
            mix = np.array([MOODS[mood].get(name, 0.0) for name in EXPRESSIONS])
            shown = EXPRESSIONS[rng.choice(len(EXPRESSIONS), p=mix / mix.sum())]
        if look_away == 0 and rng.random() < 0.01:
            look_away = int(rng.integers(2, 12))
        t_ms.append(i * step_ms + int(rng.integers(-40, 40)) if i else 0)
        if look_away:
            look_away -= 1
            found.append(False)
            probs.append(None)
            continue
        alpha = np.full(len(EXPRESSIONS), 0.4)
        alpha[EXPRESSIONS.index(shown)] += 6.0
        alpha[EXPRESSIONS.index("neutral")] += 1.0
        sample = rng.dirichlet(alpha)
        found.append(True)
        probs.append([round(float(x), 4) for x in sample])
    return t_ms, found, probs
