"""Per-frame cost of the emotion engine on one core: JPEG decode, face detection, classification, total.

Real faces: CREMA-D frames (480x360 source) scaled to 320x240 and 640x480 and
JPEG-encoded at q80, as the browser sends them. Medians over --runs rounds,
cycling through the frames; in every round each stage runs once on the same
frame, so a busy neighbour on the shared VM slows all stages alike.

Paths: "fresh" = no previous box (first frame, or the track was lost);
"tracked" = the previous sampled frame's box of the same clip is given, as in a
steady live stream. "new" is the engine as shipped: coarse-to-fine detection (a
half-size pass first, full size only when it finds no face >= 80 px) and, on a
tracked frame, the region check (detection in a 64 px square around the previous
box only, the whole frame on a miss), and the classifier's mirror pass only on
faces the first pass leaves undecided (engine.mirror). "old" is the baseline
measured in the same run: Engine(track_region=False, mirror_margin=None), the
engine before both, which detects tracked frames whole (coarse-to-fine) and
mirrors every face. "No face" frames (synthetic
backgrounds) are the coarse-to-fine worst case: both passes run. The Pillow
decoder and the detector alone at full size are the other baselines (ratio
total / detector-only).

    python bench/inference.py [--runs 300] [--cpu 1] [--json]
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

from engine.detector import iou  # noqa: E402
from engine.frames import decode_jpeg  # noqa: E402
from engine.inference import Engine, crop_face, select_face  # noqa: E402

SIZES = ((320, 240), (640, 480))
CLIPS = ("1001_DFA_HAP_XX.flv", "1001_DFA_NEU_XX.flv", "1001_DFA_ANG_XX.flv")


def shared_data() -> Path:
    return Path(os.environ.get("MIMIC_SHARED_DATA", ROOT.parent / "shared" / "data"))


def source_frames(every: int = 6) -> list[tuple[int, np.ndarray]]:
    """(clip number, RGB frame) for every ``every``-th frame of the clips (every 6th of 30 fps: 5 fps)."""
    frames = []
    for clip, name in enumerate(CLIPS):
        with av.open(str(shared_data() / "cremad" / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % every == 0:
                    frames.append((clip, frame.to_ndarray(format="rgb24")))
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


def no_face_frames(size: tuple[int, int], count: int = 8) -> list[np.ndarray]:
    """Frames without a face: smooth random colour fields with noise (what an empty chair looks like to the net)."""
    rng = np.random.default_rng(11)
    frames = []
    for _ in range(count):
        coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC), dtype=np.int16)
        frames.append(np.clip(field + rng.normal(0, 6, field.shape), 0, 255).astype(np.uint8))
    return frames


def detector_passes(engine: Engine, rgb: np.ndarray, prev_box: tuple | None = None) -> int:
    """How many times the detector network runs for this frame (1: the coarse pass was conclusive)."""
    detector = engine.detector
    real = detector.detect
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    detector.detect = counting
    try:
        engine.detect(rgb, prev_box)
    finally:
        del detector.detect
    return len(calls)


def measure(new: Engine, old: Engine, frames: list[tuple[int, np.ndarray]], size: tuple[int, int], runs: int) -> dict:
    rgbs = [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for _, f in frames]
    jpegs = [simplejpeg.encode_jpeg(f, quality=80) for f in rgbs]
    faces = [select_face(old.detector.detect(f)) for f in rgbs]
    if any(face is None for face in faces):
        raise SystemExit(f"the detector missed a face at {size}")
    own = [tuple(int(v) for v in face.box) for face in faces]
    # A tracked frame knows the box of the frame before it in the same clip (its own at the clip's start).
    boxes = [own[i - 1] if i and frames[i - 1][0] == frames[i][0] else own[i] for i in range(len(frames))]
    empty = [simplejpeg.encode_jpeg(f, quality=80) for f in no_face_frames(size)]
    if any(new.analyze_jpeg(j).face_found for j in empty):
        raise SystemExit(f"a face was found in a no-face frame at {size}")
    items = [
        (rgb, face, jpeg, box, empty[i % len(empty)])
        for i, (rgb, face, jpeg, box) in enumerate(zip(rgbs, faces, jpegs, boxes, strict=True))
    ]
    stages = {
        "decode_ms": lambda p: decode_jpeg(p[2]),
        "decode_pillow_ms": lambda p: pillow_decode(p[2]),
        "detect_full_ms": lambda p: new.detector.detect(p[0]),
        "detect_ms": lambda p: new.detect(p[0]),
        "detect_tracked_ms": lambda p: old.detect(p[0], p[3]),
        "detect_region_ms": lambda p: new.detect_near(p[0], p[3]) or new.detect(p[0], p[3]),
        "classify_ms": lambda p: new.classify(crop_face(p[0], p[1])[None, None]),
        "classify_old_ms": lambda p: old.classify(crop_face(p[0], p[1])[None, None]),
        "total_old_ms": lambda p: old.analyze_jpeg(p[2]),
        "total_ms": lambda p: new.analyze_jpeg(p[2]),
        "total_tracked_old_ms": lambda p: old.analyze_jpeg(p[2], prev_box=p[3]),
        "total_tracked_ms": lambda p: new.analyze_jpeg(p[2], prev_box=p[3], near=True),
        "total_no_face_old_ms": lambda p: old.analyze_jpeg(p[4]),
        "total_no_face_ms": lambda p: new.analyze_jpeg(p[4]),
    }
    row = interleaved_medians(stages, items, runs)
    # How many of these faces the engine mirrored (the counts span this size's rounds of every stage).
    row["mirrored_pct"] = 100.0 * new.classifier.faces_mirrored / max(new.classifier.faces_seen, 1)
    new.classifier.faces_seen = new.classifier.faces_mirrored = 0
    row["jpeg_bytes"] = int(statistics.median(len(j) for j in jpegs))
    row["face_px"] = int(statistics.median(face.size for face in faces))
    # How often one (coarse) detector pass was enough on these frames; the rest paid for both passes.
    row["coarse_kept_pct"] = 100.0 * float(np.mean([detector_passes(new, f) == 1 for f in rgbs]))
    # How often the region check found the client (the rest went on to whole-frame detection).
    row["region_kept_pct"] = 100.0 * float(
        np.mean([new.detect_near(f, b) is not None for f, b in zip(rgbs, boxes, strict=False)])
    )
    whole = [select_face(new.detect(f)) for f in rgbs]
    near = [select_face(new.detect_near(f, b) or new.detect(f, b), b) for f, b in zip(rgbs, boxes, strict=False)]
    row["region_iou_median"] = float(
        np.median([iou(a.box, np.array([b.box]))[0] for a, b in zip(whole, near, strict=False)])
    )
    for path in ("", "_tracked", "_no_face"):
        row[f"fps_per_core{path}"] = 1000.0 / row[f"total{path}_ms"]
        row[f"fps_per_core{path}_old"] = 1000.0 / row[f"total{path}_old_ms"]
    row["speedup_fresh"] = row["total_old_ms"] / row["total_ms"]
    row["speedup_tracked"] = row["total_tracked_old_ms"] / row["total_tracked_ms"]
    row["total_over_detect"] = row["total_ms"] / row["detect_full_ms"]
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core (like taskset -c)")
    parser.add_argument("--classifier", default=None, help="classifier ONNX (default: engine/weights/expression.onnx)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    new = Engine(classifier_path=args.classifier)
    old = Engine(classifier_path=args.classifier, track_region=False, mirror_margin=None)
    frames = source_frames()
    load_before = os.getloadavg()
    results = {f"{w}x{h}": measure(new, old, frames, (w, h), args.runs) for w, h in SIZES}
    load_after = os.getloadavg()

    cores = sorted(os.sched_getaffinity(0))
    print(f"emotion engine, one thread per session, cores allowed {cores}; medians of {args.runs} interleaved rounds")
    print(f"over {len(frames)} CREMA-D frames; classifier: {new.classifier_path}")
    print(
        f"load average (1/5/15 min) before {'/'.join(f'{v:.2f}' for v in load_before)}, "
        f"after {'/'.join(f'{v:.2f}' for v in load_after)} on {os.cpu_count()} CPUs"
    )
    keys = [
        ("jpeg_bytes", "JPEG size, bytes (q80)", "{:.0f}"),
        ("face_px", "face size, px", "{:.0f}"),
        ("coarse_kept_pct", "coarse pass enough, % frames", "{:.0f}"),
        ("region_kept_pct", "region check enough, % tracked", "{:.0f}"),
        ("region_iou_median", "region box IoU with whole-frame", "{:.2f}"),
        ("decode_ms", "decode, simplejpeg (ms)", "{:.2f}"),
        ("decode_pillow_ms", "decode, Pillow (ms) [baseline]", "{:.2f}"),
        ("detect_full_ms", "detect, full size (ms) [baseline]", "{:.2f}"),
        ("detect_ms", "detect, fresh (ms)", "{:.2f}"),
        ("detect_tracked_ms", "detect, tracked, old (ms)", "{:.2f}"),
        ("detect_region_ms", "detect, tracked, region (ms)", "{:.2f}"),
        ("classify_old_ms", "crop + classify, old (ms)", "{:.2f}"),
        ("classify_ms", "crop + classify (ms)", "{:.2f}"),
        ("mirrored_pct", "mirror pass, % faces", "{:.0f}"),
        ("total_old_ms", "total, fresh, old (ms)", "{:.2f}"),
        ("total_ms", "total, fresh, new (ms)", "{:.2f}"),
        ("total_tracked_old_ms", "total, tracked, old (ms)", "{:.2f}"),
        ("total_tracked_ms", "total, tracked, new (ms)", "{:.2f}"),
        ("total_no_face_old_ms", "total, no face, old (ms)", "{:.2f}"),
        ("total_no_face_ms", "total, no face, new (ms)", "{:.2f}"),
        ("fps_per_core_old", "frames/s/core, fresh, old", "{:.0f}"),
        ("fps_per_core", "frames/s/core, fresh, new", "{:.0f}"),
        ("fps_per_core_tracked_old", "frames/s/core, tracked, old", "{:.0f}"),
        ("fps_per_core_tracked", "frames/s/core, tracked, new", "{:.0f}"),
        ("fps_per_core_no_face", "frames/s/core, no face, new", "{:.0f}"),
        ("speedup_fresh", "old / new, fresh", "{:.2f}"),
        ("speedup_tracked", "old / new, tracked", "{:.2f}"),
        ("total_over_detect", "total fresh / full-size detector", "{:.2f}"),
    ]
    print(f"{'':<34}" + "".join(f"{name:>12}" for name in results))
    for key, title, fmt in keys:
        print(f"{title:<34}" + "".join(f"{fmt.format(r[key]):>12}" for r in results.values()))
    if args.json:
        print(json.dumps({name: {k: round(v, 3) for k, v in row.items()} for name, row in results.items()}))


if __name__ == "__main__":
    main()
