"""Full-path accuracy: does detect -> crop -> classify on video frames agree with classifying FER crops directly?

FER+ faces (48x48) are upscaled to 120-160 px, pasted at random places on
varied synthetic backgrounds in 320x240 frames, encoded as an H.264 video (one
face per frame, 10 fps) and run through ``engine.video.analyze_video``.
Predictions are compared with the FER+ majority labels:

- crops-direct: the classifier on the original 48x48 crops (the classifier's own accuracy);
- frames-direct: the engine on the raw RGB frames (detection + cropping, no codec);
- frames-tracked: the same frames as the next frame of a live stream: the previous frame's box is the engine's
  own box for the face, moved by up to 15 % of its size and scaled by up to +-10 %, so the region check near it
  (engine.inference.REGION_CONTEXT) decides, and the whole frame only on a miss;
- full-path: analyze_video on the encoded video (what an uploaded recording gets).

``--tune`` searches the crop framing (CROP_SCALE, CROP_CENTER) on a slice of the
FER+ *train* split, scoring by the IoU of the engine's square with the pasted
FER square and, when the classifier is present, by F1(negative).

    python bench/pipeline_eval.py [--limit N] [--json]
    python bench/pipeline_eval.py --tune [--limit 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from engine import inference  # noqa: E402
from engine.inference import Engine, crop_face, crop_square, grey_to_input, select_face  # noqa: E402
from engine.labels import EXPRESSIONS  # noqa: E402
from engine.metrics import evaluate  # noqa: E402
from engine.video import analyze_video  # noqa: E402
from training.data import load_split, majority_labels  # noqa: E402

FRAME_W, FRAME_H = 320, 240
VIDEO_FPS = 10


def shared_data() -> Path:
    return Path(os.environ.get("MIMIC_SHARED_DATA", ROOT.parent / "shared" / "data"))


def labelled(split: str, limit: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images, votes = load_split(shared_data() / "ferplus", split)
    labels = majority_labels(votes)
    keep = np.flatnonzero(labels >= 0)
    if limit and limit < len(keep):
        keep = np.sort(np.random.default_rng(seed).choice(keep, limit, replace=False))
    return images[keep], labels[keep]


def background(rng: np.random.Generator) -> np.ndarray:
    """A varied background: a smooth random colour field, sometimes with flat 'furniture' blocks, plus noise."""
    coarse = rng.integers(0, 256, (rng.integers(2, 6), rng.integers(2, 6), 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((FRAME_W, FRAME_H), Image.Resampling.BICUBIC), dtype=np.int16)
    for _ in range(rng.integers(0, 4)):
        x, y = rng.integers(0, FRAME_W - 20), rng.integers(0, FRAME_H - 20)
        field[y : y + rng.integers(20, 120), x : x + rng.integers(20, 160)] = rng.integers(0, 256, 3)
    field += rng.normal(0, rng.uniform(2, 10), field.shape).astype(np.int16)
    return np.clip(field, 0, 255).astype(np.uint8)


def paste_frames(images: np.ndarray, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """One frame per face; returns frames and the pasted squares (x1, y1, x2, y2)."""
    rng = np.random.default_rng(seed)
    frames, rects = [], []
    for face in images:
        frame = background(rng)
        side = int(rng.integers(120, 161))
        x, y = int(rng.integers(0, FRAME_W - side + 1)), int(rng.integers(0, FRAME_H - side + 1))
        big = np.asarray(Image.fromarray(face).resize((side, side), Image.Resampling.BICUBIC))
        frame[y : y + side, x : x + side] = big[:, :, None]
        frames.append(frame)
        rects.append((x, y, x + side, y + side))
    return frames, np.asarray(rects, dtype=np.float64)


def encode_video(frames: list[np.ndarray], path: Path) -> None:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = FRAME_W, FRAME_H, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def predictions(probs: np.ndarray) -> np.ndarray:
    return probs.argmax(axis=1)


def square_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2, y2 = np.minimum(a[:, 2], b[:, 2]), np.minimum(a[:, 3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def tune(engine: Engine, limit: int, seed: int, use_classifier: bool) -> dict:
    images, labels = labelled("train", limit, seed)
    frames, rects = paste_frames(images, seed + 1)
    faces = [select_face(engine.detect(frame)) for frame in frames]
    found = np.array([f is not None for f in faces])
    print(f"tuning on {len(images)} FER+ train faces; detected {found.mean():.1%}", file=sys.stderr)
    rows = []
    for scale in np.arange(0.85, 1.201, 0.025):
        for center in np.arange(-0.1, 0.101, 0.025):
            squares = []
            for face in faces:
                if face is None:
                    squares.append((0, 0, 0, 0))
                    continue
                cx, cy, side = crop_square(face, scale, center)
                squares.append((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
            ious = square_iou(np.asarray(squares, dtype=np.float64), rects)[found]
            row = {"scale": round(float(scale), 3), "center": round(float(center), 3), "iou": float(ious.mean())}
            rows.append(row)
    rows.sort(key=lambda r: -r["iou"])
    if use_classifier:
        # Re-score the best geometric candidates by what matters: agreement of the negative class.
        for row in rows[:12]:
            crops = np.stack(
                [
                    crop_face(frame, face, row["scale"], row["center"])
                    if face is not None
                    else np.zeros((48, 48), np.float32)
                    for frame, face in zip(frames, faces, strict=True)
                ]
            )
            pred = np.where(found, predictions(engine.classify(crops[:, None])), -1)
            metrics = evaluate(labels, pred)
            row["f1_negative"] = metrics["f1_negative"]
            row["accuracy"] = metrics["accuracy"]
    print(f"{'scale':>6} {'center':>7} {'IoU':>6} {'F1neg':>6} {'acc':>6}")
    for row in rows[:12]:
        print(
            f"{row['scale']:>6.3f} {row['center']:>7.3f} {row['iou']:>6.3f} "
            f"{row.get('f1_negative', float('nan')):>6.3f} {row.get('accuracy', float('nan')):>6.3f}"
        )
    current = next(
        r
        for r in rows
        if abs(r["scale"] - inference.CROP_SCALE) < 1e-3 and abs(r["center"] - inference.CROP_CENTER) < 1e-3
    )
    print(f"current CROP_SCALE={inference.CROP_SCALE} CROP_CENTER={inference.CROP_CENTER}: {current}")
    return {"best": rows[0], "current": current, "detected": float(found.mean())}


def run_eval(engine: Engine, limit: int | None, seed: int) -> dict:
    images, labels = labelled("valid", limit, seed)
    frames, rects = paste_frames(images, seed + 1)
    result: dict = {"n": int(len(images))}

    direct = predictions(engine.classify(grey_to_input(images)))
    result["crops_direct"] = evaluate(labels, direct)

    started = time.perf_counter()
    raw = [engine.analyze_rgb(frame) for frame in frames]
    result["frames_direct"] = evaluate(labels, np.array([EXPRESSIONS.index(r.label) if r.label else -1 for r in raw]))
    result["frames_direct"]["face_found_pct"] = 100.0 * np.mean([r.face_found for r in raw])
    result["frames_direct"]["ms_per_frame"] = 1000 * (time.perf_counter() - started) / len(frames)

    rng = np.random.default_rng(seed + 2)
    tracked, kept = [], 0
    for frame, first in zip(frames, raw, strict=True):
        if first.box is None:
            tracked.append(first)
            continue
        x1, y1, x2, y2 = first.box
        size = max(x2 - x1, y2 - y1) * rng.uniform(0.9, 1.1)
        cx, cy = (x1 + x2) / 2 + rng.uniform(-0.15, 0.15) * size, (y1 + y2) / 2 + rng.uniform(-0.15, 0.15) * size
        prev_box = (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)
        kept += engine.detect_near(frame, prev_box) is not None
        tracked.append(engine.analyze_rgb(frame, prev_box=prev_box, near=True))
    result["frames_tracked"] = evaluate(
        labels, np.array([EXPRESSIONS.index(r.label) if r.label else -1 for r in tracked])
    )
    result["frames_tracked"]["face_found_pct"] = 100.0 * np.mean([r.face_found for r in tracked])
    result["frames_tracked"]["region_kept_pct"] = 100.0 * kept / max(sum(r.box is not None for r in raw), 1)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pasted.mp4"
        encode_video(frames, path)
        analysis = analyze_video(path, fps=VIDEO_FPS, engine=engine)
    timeline = analysis["timeline"]
    if len(timeline) != len(frames):
        raise SystemExit(f"sampled {len(timeline)} frames out of {len(frames)}: timestamps are off")
    full = np.array([EXPRESSIONS.index(row["label"]) if row["label"] else -1 for row in timeline])
    result["full_path"] = evaluate(labels, full)
    result["full_path"]["face_found_pct"] = 100.0 * np.mean([row["face_found"] for row in timeline])
    result["full_path"]["agreement_with_crops_direct"] = float(np.mean(full == direct))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="number of labelled faces (default: all valid)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tune", action="store_true", help="search the crop framing on a FER+ train slice")
    parser.add_argument("--classifier", default=None, help="classifier ONNX (default: engine/weights/expression.onnx)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engine = Engine(classifier_path=args.classifier)
    if args.tune:
        out = tune(engine, args.limit or 1000, args.seed, engine.classifier_path.exists())
        if args.json:
            print(json.dumps(out))
        return
    out = run_eval(engine, args.limit, args.seed)
    print(f"{out['n']} FER+ valid faces with a majority label, pasted into {FRAME_W}x{FRAME_H} frames")
    print(f"{'path':<14} {'face %':>7} {'accuracy':>9} {'P(neg)':>7} {'R(neg)':>7} {'F1(neg)':>8}")
    for key in ("crops_direct", "frames_direct", "frames_tracked", "full_path"):
        m = out[key]
        face = f"{m['face_found_pct']:.1f}" if "face_found_pct" in m else "-"
        print(
            f"{key:<14} {face:>7} {m['accuracy']:>9.3f} {m['precision_negative']:>7.3f} "
            f"{m['recall_negative']:>7.3f} {m['f1_negative']:>8.3f}"
        )
    print(f"frames-tracked: the region check kept {out['frames_tracked']['region_kept_pct']:.1f} % of the frames")
    print(f"full-path label agreement with crops-direct: {out['full_path']['agreement_with_crops_direct']:.3f}")
    if args.json:
        slim = {
            key: {k: v for k, v in out[key].items() if k not in ("per_class", "confusion")}
            for key in ("crops_direct", "frames_direct", "frames_tracked", "full_path")
        }
        print(json.dumps({"n": out["n"], **slim}))


if __name__ == "__main__":
    main()
