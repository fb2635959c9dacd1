"""Per-frame cost of the emotion engine on one core: JPEG decode, face detection, classification, total.

Real faces: CREMA-D frames (480x360 source) scaled to 320x240 and 640x480 and
JPEG-encoded at quality 80, as the browser sends them. Medians over --runs
calls, cycling through the frames. Two totals: a cold frame (no previous box:
full detection) and a tracked frame (the previous box is known, as in a live
call, which lets a large face be detected on a half-size copy).
The baseline measured in the same run is Pillow's JPEG decoder and the detector
alone (ratio total / detector-only).

    python bench/inference.py [--runs 300] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402
import simplejpeg  # noqa: E402
from PIL import Image  # noqa: E402

from emotions.frames import decode_jpeg  # noqa: E402
from emotions.inference import Engine, crop_face, select_face  # noqa: E402

SIZES = ((320, 240), (640, 480))
CLIPS = ("1001_DFA_HAP_XX.flv", "1001_DFA_NEU_XX.flv", "1001_DFA_ANG_XX.flv")


def shared_data() -> Path:
    return Path(os.environ.get("MIMIC_SHARED_DATA", ROOT.parent / "shared" / "data"))


def source_frames(every: int = 6) -> list[np.ndarray]:
    frames = []
    for name in CLIPS:
        with av.open(str(shared_data() / "cremad" / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % every == 0:
                    frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def interleaved_medians(stages: dict, items: list, runs: int) -> dict[str, float]:
    """Median ms per stage; the stages run one after another on the same item in every round, so a noisy
    neighbour on the VM slows all of them alike instead of skewing one."""
    for item in items[:5]:  # warm-up
        for fn in stages.values():
            fn(item)
    times: dict[str, list[float]] = {name: [] for name in stages}
    for i in range(runs):
        item = items[i % len(items)]
        for name, fn in stages.items():
            started = time.perf_counter()
            fn(item)
            times[name].append(time.perf_counter() - started)
    return {name: 1000.0 * statistics.median(values) for name, values in times.items()}


def pillow_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def measure(engine: Engine, frames: list[np.ndarray], size: tuple[int, int], runs: int) -> dict:
    rgbs = [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames]
    jpegs = [simplejpeg.encode_jpeg(f, quality=80) for f in rgbs]
    faces = [select_face(engine.detect(f)) for f in rgbs]
    if any(face is None for face in faces):
        raise SystemExit(f"the detector missed a face at {size}")
    boxes = [tuple(int(v) for v in face.box) for face in faces]
    pairs = list(zip(rgbs, faces, jpegs, boxes, strict=True))
    stages = {
        "decode_ms": lambda p: decode_jpeg(p[2]),
        "decode_pillow_ms": lambda p: pillow_decode(p[2]),
        "detect_ms": lambda p: engine.detect(p[0]),
        "detect_tracked_ms": lambda p: engine.detect(p[0], p[3]),
        "classify_ms": lambda p: engine.classify(crop_face(p[0], p[1])[None, None]),
        "total_ms": lambda p: engine.analyze_jpeg(p[2]),
        "total_tracked_ms": lambda p: engine.analyze_jpeg(p[2], prev_box=p[3]),
    }
    row = interleaved_medians(stages, pairs, runs)
    row["jpeg_bytes"] = int(statistics.median(len(j) for j in jpegs))
    row["face_px"] = int(statistics.median(face.size for face in faces))
    row["fps_per_core"] = 1000.0 / row["total_ms"]
    row["fps_per_core_tracked"] = 1000.0 / row["total_tracked_ms"]
    row["total_over_detect"] = row["total_ms"] / row["detect_ms"]
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--classifier", default=None, help="classifier ONNX (default: emotions/models/expression.onnx)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engine = Engine(classifier_path=args.classifier)
    frames = source_frames()
    results = {f"{w}x{h}": measure(engine, frames, (w, h), args.runs) for w, h in SIZES}

    print(f"emotion engine, one core, medians of {args.runs} runs over {len(frames)} CREMA-D frames")
    print(f"classifier: {engine.classifier_path}")
    keys = [
        ("jpeg_bytes", "JPEG size, bytes (q80)", "{:.0f}"),
        ("face_px", "face size, px", "{:.0f}"),
        ("decode_ms", "decode, simplejpeg (ms)", "{:.2f}"),
        ("decode_pillow_ms", "decode, Pillow (ms) [baseline]", "{:.2f}"),
        ("detect_ms", "detect (ms)", "{:.2f}"),
        ("detect_tracked_ms", "detect, tracked (ms)", "{:.2f}"),
        ("classify_ms", "crop + classify (ms)", "{:.2f}"),
        ("total_ms", "total, cold frame (ms)", "{:.2f}"),
        ("total_tracked_ms", "total, tracked frame (ms)", "{:.2f}"),
        ("fps_per_core", "frames/s per core, cold", "{:.0f}"),
        ("fps_per_core_tracked", "frames/s per core, tracked", "{:.0f}"),
        ("total_over_detect", "total / detector-only", "{:.2f}"),
    ]
    print(f"{'':<32}" + "".join(f"{name:>12}" for name in results))
    for key, title, fmt in keys:
        print(f"{title:<32}" + "".join(f"{fmt.format(r[key]):>12}" for r in results.values()))
    if args.json:
        print(json.dumps({name: {k: round(v, 3) for k, v in row.items()} for name, row in results.items()}))


if __name__ == "__main__":
    main()
