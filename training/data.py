"""FER+ data helpers (pure numpy; importable without torch).

Vote columns in the FER+ ``votes`` arrays are, in order::

    neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF

The model uses only the first eight (emotion) classes, in that order:
``neutral, happy, surprise, sad, angry, disgust, fear, contempt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")
NUM_CLASSES = len(CLASSES)
# Valence mapping: sad, angry, disgust, fear, contempt are "negative".
NEGATIVE_CLASSES = (3, 4, 5, 6, 7)
POSITIVE_CLASSES = (1,)
NEUTRAL_CLASSES = (0, 2)


def _drop_single_votes(votes: np.ndarray) -> np.ndarray:
    v = np.asarray(votes).astype(np.int64)
    if v.ndim != 2 or v.shape[1] < NUM_CLASSES:
        raise ValueError(f"votes must be [N, >=8], got {v.shape}")
    v = v.copy()
    v[v == 1] = 0
    return v


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """FER+ majority label per image.

    Single votes are dropped (a count of 1 becomes 0); the label is the class
    holding strictly more than 50 % of the remaining votes (all columns,
    including ``unknown`` and ``NF`` when present). If that class is one of the
    eight emotions its index 0..7 is returned, otherwise (no majority, or the
    majority is unknown/NF) -1.

    Returns an int64 array of shape [N].
    """
    v = _drop_single_votes(votes)
    total = v.sum(axis=1)
    top = v.argmax(axis=1)
    top_count = v[np.arange(len(v)), top]
    ok = (total > 0) & (2 * top_count > total) & (top < NUM_CLASSES)
    return np.where(ok, top, -1).astype(np.int64)


def soft_labels(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised vote distributions over the eight emotion classes.

    Single votes are dropped first. Returns ``(probs, keep)`` where ``keep`` is
    a bool mask of images that still have at least one emotion vote and
    ``probs`` (float32 [N, 8]) is zero on rows where ``keep`` is False.
    """
    v = _drop_single_votes(votes)[:, :NUM_CLASSES].astype(np.float64)
    total = v.sum(axis=1, keepdims=True)
    keep = total[:, 0] > 0
    probs = np.where(keep[:, None], v / np.maximum(total, 1.0), 0.0).astype(np.float32)
    return probs, keep


def is_negative(labels: np.ndarray) -> np.ndarray:
    """True where a class index (0..7) is in the negative-valence set."""
    return np.isin(np.asarray(labels), NEGATIVE_CLASSES)


PACKED_NAME = "ferplus_packed.npz"


def _med_predict(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """LOCO-I / JPEG-LS median edge detector (int16 in, int16 out)."""
    mx = np.maximum(a, b)
    mn = np.minimum(a, b)
    return np.where(c >= mx, mn, np.where(c <= mn, mx, a + b - c))


def med_encode(images: np.ndarray) -> np.ndarray:
    """Lossless residuals (uint8, mod 256) of uint8 [N,H,W] images under the MED predictor."""
    x = images.astype(np.int16)
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    c = np.zeros_like(x)
    a[:, :, 1:] = x[:, :, :-1]
    b[:, 1:, :] = x[:, :-1, :]
    c[:, 1:, 1:] = x[:, :-1, :-1]
    return (x - _med_predict(a, b, c)).astype(np.uint8)


def med_decode(res: np.ndarray) -> np.ndarray:
    """Inverse of :func:`med_encode` (vectorised over images, sequential over pixels)."""
    n, h, w = res.shape
    r = res.astype(np.int16)
    x = np.zeros((n, h + 1, w + 1), np.int16)  # one zero row/column of padding
    for i in range(h):
        for j in range(w):
            p = _med_predict(x[:, i + 1, j], x[:, i, j + 1], x[:, i, j])
            x[:, i + 1, j + 1] = (p + r[:, i, j]) & 0xFF
    return x[:, 1:, 1:].astype(np.uint8)


def _unpack(z, split: str) -> tuple[np.ndarray, np.ndarray]:
    import lzma

    shape = tuple(int(s) for s in z[f"{split}_shape"])
    res = np.frombuffer(lzma.decompress(z[f"{split}_images_medlzma"].tobytes()), np.uint8).reshape(shape)
    return med_decode(res), np.asarray(z[f"{split}_votes"], np.uint8)


def load_split(data_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load ``images`` (uint8 [N,48,48]) and ``votes`` (uint8 [N,10]) of a split.

    ``data_dir`` may hold the original ``train.npz`` / ``valid.npz`` or the
    single packed file ``ferplus_packed.npz`` written by ``pack.py``
    (lossless: MED-predictor residuals compressed with lzma).
    """
    d = Path(data_dir)
    f = d / f"{split}.npz"
    if f.exists():
        with np.load(f) as z:
            return np.ascontiguousarray(z["images"], dtype=np.uint8), np.asarray(z["votes"], dtype=np.uint8)
    packed = d / PACKED_NAME
    if packed.exists():
        with np.load(packed) as z:
            return _unpack(z, split)
    raise FileNotFoundError(f"neither {f} nor {packed} found")


# --------------------------------------------------------------------------- muxfe (in-the-wild faces)
MUXFE_FILE = "muxfe_dev.npz"
# Fixed person-disjoint split of the developer pack: the training run and every evaluation use the same one.
MUXFE_SPLIT_SEED = 2026
MUXFE_DEV_FRACTION = 0.3


def load_muxfe(data_dir: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``images`` uint8 [N,48,48], ``labels`` int [N] (index into CLASSES, -1 if unknown), ``person`` str [N]."""
    with np.load(Path(data_dir) / MUXFE_FILE) as z:
        images = np.ascontiguousarray(z["images"], dtype=np.uint8)
        names = [str(s) for s in z["labels"]]
        person = np.asarray(z["person"]).astype(str)
    index = {name: k for k, name in enumerate(CLASSES)}
    labels = np.asarray([index.get(name, -1) for name in names], dtype=np.int64)
    return images, labels, person


def muxfe_dev_mask(
    person: np.ndarray, fraction: float = MUXFE_DEV_FRACTION, seed: int = MUXFE_SPLIT_SEED
) -> np.ndarray:
    """True for the faces of the person-disjoint dev part (never trained on); no person is on both sides."""
    persons = np.unique(person)
    chosen = np.random.default_rng(seed).permutation(len(persons))[: int(round(fraction * len(persons)))]
    return np.isin(person, persons[chosen])
