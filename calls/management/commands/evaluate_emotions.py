"""Evaluate the expression classifier on labelled face crops (no detection: the images are already faces)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, UnidentifiedImageError

from calls.scoring import get_engine
from engine.inference import grey_to_input
from engine.labels import EXPRESSIONS, canonical
from engine.metrics import evaluate, format_report

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
BATCH = 256


def _labels_to_indices(labels: list[str]) -> np.ndarray:
    try:
        return np.array([EXPRESSIONS.index(canonical(str(label))) for label in labels], dtype=np.int64)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _grey48(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3:
        image = np.asarray(Image.fromarray(image.astype(np.uint8)).convert("L"))
    if image.shape != (48, 48):
        image = np.asarray(Image.fromarray(image).resize((48, 48), Image.Resampling.BILINEAR))
    return image


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data or "labels" not in data:
                raise CommandError(f"{path}: an .npz with 'images' and 'labels' arrays is expected")
            images, labels = np.asarray(data["images"]), np.asarray(data["labels"])
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CommandError(f"{path}: not a readable .npz file ({exc})") from None
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
        raise CommandError(f"{path}: 'images' must be uint8 [N,H,W] or [N,H,W,3], got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise CommandError(f"{path}: 'labels' must be a 1-D array with one label per image")
    if len(images) == 0:
        raise CommandError(f"{path}: no images")
    y = _labels_to_indices([str(label) for label in labels])
    return np.stack([_grey48(im) for im in images]), y


def load_folder(path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, names = [], []
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        label = canonical_or_error(folder.name)
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as im:
                    images.append(_grey48(np.asarray(im.convert("L"))))
            except (UnidentifiedImageError, OSError) as exc:
                raise CommandError(f"{file}: not a readable image ({exc})") from None
            names.append(label)
    if not images:
        raise CommandError(f"{path}: no images found (expected one subfolder per class)")
    return np.stack(images), _labels_to_indices(names)


def canonical_or_error(name: str) -> str:
    try:
        return canonical(name)
    except ValueError as exc:
        raise CommandError(f"folder {name!r}: {exc}") from None


class Command(BaseCommand):
    help = (
        "Evaluate the expression classifier on labelled face crops: an .npz with 'images' and 'labels', "
        "or a folder with one subfolder per class. Prints per-class metrics, the confusion matrix and the "
        "negative-class precision/recall/F1."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help=".npz file or folder of class subfolders")
        parser.add_argument("--json", action="store_true", help="end with one JSON line of the metrics")

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        images, y_true = load_folder(path) if path.is_dir() else load_npz(path)
        engine = get_engine()
        if not engine.classifier_path.exists():
            raise CommandError(f"classifier model not found: {engine.classifier_path}")
        probs = np.concatenate(
            [engine.classify(grey_to_input(images[i : i + BATCH])) for i in range(0, len(images), BATCH)]
        )
        metrics = evaluate(y_true, probs.argmax(axis=1))
        self.stdout.write(f"{path}: {metrics['n']} faces, classifier {engine.classifier_path.name}\n")
        self.stdout.write(format_report(metrics))
        if options["json"]:
            self.stdout.write(json.dumps(metrics))
