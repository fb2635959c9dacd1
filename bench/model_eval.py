"""The out-of-domain evaluation of the expression model: one table over several dev sets, every time.

Dev sets (none of them trained on):
- FER+ valid: majority-labelled FER2013 web faces (the model's own domain);
- muxfe dev: the person-disjoint dev part of ``muxfe`` (in-the-wild press and film faces of people the
  training run never saw; split by ``training.data.muxfe_dev_mask``, fixed seed);
- CREMA-D: the six clips of actor 1001 through the whole live path (each frame scaled to 320x240, JPEG q80,
  decoded, detected, tracked, cropped, classified), scored per frame and per clip (the clip's dominant
  valence against the acted one).

Beside each set: an "always negative" baseline, since a model that leans negative wins on sets without
neutral faces. Several models (``--model``, the shipped one first by default) and decision rules
(``--search``: prior corrections, engine.decision) are scored in the same run on the same crops, so their
differences are not the machine's.

    python bench/model_eval.py [--model A.onnx --model B.onnx] [--search] [--smoothing] [--json]
    python bench/model_eval.py --model NEW.onnx --search --write-rule   # store the chosen rule in NEW's JSON

Selection: the rule with the highest weighted mean F1(negative), 0.4 FER+ valid + 0.4 muxfe dev + 0.2 CREMA-D
frames, among rules that keep FER+ valid F1(negative) within 0.005 of the baseline (the first ``--model``, the
model shipped before, under argmax) and do not raise the share of neutral FER+ faces read as negative by more
than 2 points over it: no new lean towards negative on neutral faces.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import numpy as np  # noqa: E402
import simplejpeg  # noqa: E402

from engine.analytics import summarize  # noqa: E402
from engine.decision import DecisionRule, load_rule, metrics_path  # noqa: E402
from engine.frames import decode_jpeg  # noqa: E402
from engine.inference import DEFAULT_CLASSIFIER_PATH, Engine, grey_to_input  # noqa: E402
from engine.labels import EXPRESSIONS, NEGATIVE_INDEX, canonical, valence_of  # noqa: E402
from engine.metrics import evaluate  # noqa: E402
from engine.mirror import MIRROR_MARGIN  # noqa: E402
from training.data import load_muxfe, load_split, majority_labels, muxfe_dev_mask, soft_labels  # noqa: E402

CLIP_FPS = 10  # between the live rates (2-6 fps) and the clips' 30: a 2 s clip gives about 20 frames
SEARCH_TAU = (0.0, 0.25, 0.5, 0.75, 1.0)
SEARCH_NEG_BIAS = (-0.5, -0.35, -0.25, -0.15, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25)
WEIGHTS = {"ferplus_valid": 0.4, "muxfe_dev": 0.4, "cremad_frames": 0.2}
NEUTRAL = EXPRESSIONS.index("neutral")


def shared_data() -> Path:
    return Path(os.environ.get("MIMIC_SHARED_DATA", ROOT.parent / "shared" / "data"))


@dataclass
class Clip:
    name: str
    label: int  # acted expression
    t_ms: list[int]
    found: np.ndarray  # frame has a classifiable face
    crops: np.ndarray  # [n_found, 48, 48] float32, in memory only


def ferplus_valid() -> tuple[np.ndarray, np.ndarray]:
    images, votes = load_split(shared_data() / "ferplus", "valid")
    labels = majority_labels(votes)
    keep = labels >= 0
    return images[keep], labels[keep]


def training_prior() -> np.ndarray:
    _, votes = load_split(shared_data() / "ferplus", "train")
    soft, keep = soft_labels(votes)
    return soft[keep].mean(axis=0)


def muxfe_dev() -> tuple[np.ndarray, np.ndarray]:
    images, labels, person = load_muxfe(shared_data() / "muxfe")
    keep = muxfe_dev_mask(person) & (labels >= 0)
    return images[keep], labels[keep]


def cremad_clips(engine: Engine, fps: float = CLIP_FPS) -> list[Clip]:
    """Every clip through the live path at ``fps``; only the crops are kept, in memory."""
    import csv

    folder = shared_data() / "cremad"
    with open(folder / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    clips = []
    for row in rows:
        t_ms, found, crops = [], [], []
        engine.tracks.clear()
        with av.open(str(folder / row["file"])) as container:
            next_ms = 0.0
            for frame in container.decode(video=0):
                t = float(frame.time) * 1000.0
                if t + 0.5 < next_ms:
                    continue
                next_ms += 1000.0 / fps
                small = frame.to_ndarray(format="rgb24", width=320, height=240)
                rgb = decode_jpeg(simplejpeg.encode_jpeg(np.ascontiguousarray(small), quality=80))
                result, crop = engine.locate_in_stream(row["file"], rgb)  # tracked as live: region checks
                t_ms.append(int(round(t)))
                found.append(crop is not None)
                if crop is not None:
                    crops.append(crop)
        clips.append(
            Clip(
                name=row["file"].split("_")[2],
                label=EXPRESSIONS.index(canonical(row["acted_label"])),
                t_ms=t_ms,
                found=np.asarray(found),
                crops=np.stack(crops) if crops else np.zeros((0, 48, 48), np.float32),
            )
        )
    return clips


def causal_mean(probs: np.ndarray, window: int) -> np.ndarray:
    """Mean of each frame's probabilities with the ``window - 1`` frames before it (the live smoother)."""
    if window <= 1:
        return probs
    csum = np.cumsum(np.vstack([np.zeros((1, probs.shape[1])), probs]), axis=0)
    idx = np.arange(len(probs))
    start = np.maximum(idx - window + 1, 0)
    return (csum[idx + 1] - csum[start]) / (idx + 1 - start)[:, None]


def always_negative_f1(labels: np.ndarray) -> float:
    prevalence = float(np.isin(labels, NEGATIVE_INDEX).mean())
    return 2 * prevalence / (1 + prevalence) if prevalence else 0.0


def neutral_to_negative(labels: np.ndarray, pred: np.ndarray) -> float:
    neutral = labels == NEUTRAL
    return float(np.isin(pred[neutral], NEGATIVE_INDEX).mean()) if neutral.any() else 0.0


def synthetic_sequences(images: np.ndarray, labels: np.ndarray, seed: int = 5, runs: int = 600):
    """One long synthetic "call": runs of 4-12 frames (2-6 s at 2 fps) of one face each, every frame with
    webcam jitter (a shift of up to 2 px, brightness, sensor noise, JPEG 50-90). Smoothing averages out the
    jitter but lags at each change of face, so this measures both sides. Returns classifier input
    [N,1,48,48] and per-frame labels."""
    rng = np.random.default_rng(seed)
    frames, y = [], []
    for k in rng.choice(len(images), runs, replace=False):
        for _ in range(int(rng.integers(4, 13))):
            img = np.roll(images[k].astype(np.float32), tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
            img = img * rng.uniform(0.9, 1.1) + rng.normal(0, 5, img.shape)
            data = simplejpeg.encode_jpeg(
                np.clip(img, 0, 255).astype(np.uint8)[:, :, None], quality=int(rng.integers(50, 91)), colorspace="GRAY"
            )
            frames.append(simplejpeg.decode_jpeg(data, colorspace="GRAY")[:, :, 0])
            y.append(labels[k])
    return grey_to_input(np.stack(frames)), np.asarray(y)


class Scorer:
    """Raw softmax of one model on every dev set, computed once; rules are applied on top."""

    def __init__(self, path: Path, sets: dict, clips: list[Clip], engine: Engine | None = None) -> None:
        """``engine``: the one whose classifier is scored; default: the graph's own output for every face
        (each face mirrored, argmax), which rules are then applied to."""
        self.path = path
        engine = engine or Engine(classifier_path=path, decision_rule=DecisionRule(), mirror_margin=None)
        self.engine = engine
        self.raw = {name: engine.classify_raw(grey_to_input(images)) for name, (images, _) in sets.items()}
        self.labels = {name: labels for name, (_, labels) in sets.items()}
        self.clips = clips
        self.clip_raw = [engine.classify_raw(c.crops[:, None]) if len(c.crops) else np.zeros((0, 8)) for c in clips]

    def score(self, rule: DecisionRule, window: int = 1) -> dict:
        out = {}
        for name, raw in self.raw.items():
            pred = rule.apply(raw).argmax(axis=1)
            m = evaluate(self.labels[name], pred)
            m["neutral_read_negative"] = neutral_to_negative(self.labels[name], pred)
            out[name] = m
        y_frames, p_frames, clip_rows = [], [], []
        for clip, raw in zip(self.clips, self.clip_raw, strict=True):
            probs = causal_mean(rule.apply(raw).astype(np.float64), window)
            pred = np.full(len(clip.found), -1)
            pred[clip.found] = probs.argmax(axis=1)
            y_frames.append(np.full(len(clip.found), clip.label))
            p_frames.append(pred)
            full = [None] * len(clip.found)
            for i, row in zip(np.flatnonzero(clip.found), probs, strict=True):
                full[i] = row.tolist()
            shares = summarize(clip.t_ms, clip.found, full, max_gap_ms=2000)["valence_pct"]
            dominant = max(shares, key=shares.get) if any(shares.values()) else None
            clip_rows.append(
                {
                    "clip": clip.name,
                    "acted": valence_of(EXPRESSIONS[clip.label]),
                    "dominant": dominant,
                    "negative_pct": round(shares.get("negative", 0.0), 1),
                    "frames": int(len(clip.found)),
                    "faces": int(clip.found.sum()),
                }
            )
        y, p = np.concatenate(y_frames), np.concatenate(p_frames)
        out["cremad_frames"] = evaluate(y, p)
        out["cremad_frames"]["neutral_read_negative"] = neutral_to_negative(y, p)
        negative_clips = [r for r in clip_rows if r["acted"] == "negative"]
        out["cremad_clips"] = {
            "negative_clips_read_negative": sum(r["dominant"] == "negative" for r in negative_clips),
            "negative_clips": len(negative_clips),
            "other_clips_right": sum(r["dominant"] == r["acted"] for r in clip_rows if r["acted"] != "negative"),
            "other_clips": sum(r["acted"] != "negative" for r in clip_rows),
            "clips": clip_rows,
        }
        out["objective"] = sum(w * out[name]["f1_negative"] for name, w in WEIGHTS.items())
        return out


def mirror_check(
    path: Path, sets: dict, clips: list[Clip], full: Scorer, rule: DecisionRule, margin: float = MIRROR_MARGIN
) -> dict:
    """The shipped rule on the classifier as the engine runs it (the mirror pass only on faces undecided by
    ``margin``, engine.mirror) against the same rule on the full graph: F1 per set, how often a label differs."""
    engine = Engine(classifier_path=path, decision_rule=rule, mirror_margin=margin)
    adaptive = Scorer(path, sets, clips, engine=engine)
    result = adaptive.score(rule)
    pairs = [(adaptive.raw[name], full.raw[name]) for name in full.raw]
    pairs += list(zip(adaptive.clip_raw, full.clip_raw, strict=True))
    same = diff = faces = 0
    for a_raw, b_raw in pairs:
        a, b = rule.apply(a_raw), rule.apply(b_raw)
        same += int((a.argmax(axis=1) == b.argmax(axis=1)).sum())
        faces += len(a)
        diff = max(diff, float(np.abs(a - b).max()) if len(a) else 0.0)
    classifier = engine.classifier
    result["mirror"] = {
        "adaptive": classifier.adaptive,
        "margin": classifier.margin,
        "faces": faces,
        "mirrored_pct": 100.0 * classifier.faces_mirrored / max(classifier.faces_seen, 1),
        "same_label_pct": 100.0 * same / max(faces, 1),
        "max_prob_diff": diff,
    }
    return result


def search(scorer: Scorer, prior: np.ndarray, base: dict) -> tuple[DecisionRule, list[dict]]:
    """``base``: the baseline's scores (the model shipped before, argmax), which every rule is held against."""
    rows = []
    for tau in SEARCH_TAU:
        for neg in SEARCH_NEG_BIAS:
            rule = DecisionRule.prior_correction(prior, tau, neg)
            result = scorer.score(rule)
            allowed = (
                result["ferplus_valid"]["f1_negative"] >= base["ferplus_valid"]["f1_negative"] - 0.005
                and result["ferplus_valid"]["neutral_read_negative"]
                <= base["ferplus_valid"]["neutral_read_negative"] + 0.02
            )
            rows.append({"rule": rule, "result": result, "allowed": allowed})
    best = max((r for r in rows if r["allowed"]), key=lambda r: r["result"]["objective"])
    return best["rule"], rows


def table(entries: list[tuple[str, dict]], baselines: dict[str, float]) -> str:
    head = (
        "| model · rule | set | F1(neg) | P(neg) | R(neg) | accuracy | neutral→neg | always-neg F1 |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    lines = [head]
    for title, result in entries:
        for name in ("ferplus_valid", "muxfe_dev", "cremad_frames"):
            m = result[name]
            lines.append(
                f"| {title} | {name} (n {m['n']}) | {m['f1_negative']:.3f} | {m['precision_negative']:.3f} | "
                f"{m['recall_negative']:.3f} | {m['accuracy']:.3f} | {m['neutral_read_negative']:.3f} | "
                f"{baselines[name]:.3f} |"
            )
        c = result["cremad_clips"]
        per_clip = ", ".join(f"{r['clip']} {r['dominant']} ({r['negative_pct']:.0f} % neg)" for r in c["clips"])
        lines.append(
            f"| {title} | cremad clips | {c['negative_clips_read_negative']} of {c['negative_clips']} negative "
            f"clips negative; {c['other_clips_right']} of {c['other_clips']} others right | {per_clip} | | | | |"
        )
    return "\n".join(lines)


def confusion_text(m: dict) -> str:
    heads = [n[:5] for n in EXPRESSIONS] + ["none"]
    rows = [" " * 9 + "".join(f"{h:>7}" for h in heads)]
    for name, row in zip(EXPRESSIONS, m["confusion"], strict=True):
        rows.append(f"{name:<9}" + "".join(f"{v:>7d}" for v in row))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="classifier ONNX (repeatable; default: the shipped one)")
    parser.add_argument("--search", action="store_true", help="search prior-correction rules per model")
    parser.add_argument("--smoothing", action="store_true", help="frame-level F1 with causal windows 1, 3, 5")
    parser.add_argument("--write-rule", action="store_true", help="write the chosen rule into the LAST model's JSON")
    parser.add_argument("--confusion", action="store_true", help="print the confusion matrices")
    parser.add_argument(
        "--mirror-margin", type=float, action="append", help="also check this mirror margin (repeatable)"
    )
    parser.add_argument("--json", help="write the whole result to this file")
    args = parser.parse_args(argv)
    models = [Path(m) for m in (args.model or [str(DEFAULT_CLASSIFIER_PATH)])]

    sets = {"ferplus_valid": ferplus_valid(), "muxfe_dev": muxfe_dev()}
    clips = cremad_clips(Engine(classifier_path=models[0]))
    baselines = {name: always_negative_f1(labels) for name, (_, labels) in sets.items()}
    clip_labels = np.concatenate([np.full(len(c.found), c.label) for c in clips])
    baselines["cremad_frames"] = always_negative_f1(clip_labels)
    prior = training_prior()

    entries, report = [], {"models": {}, "baselines": baselines, "prior": prior.round(4).tolist()}
    chosen = None
    baseline = None
    for path in models:
        scorer = Scorer(path, sets, clips)
        shipped = load_rule(path)
        model_report = {"argmax": scorer.score(DecisionRule())}
        baseline = baseline or model_report["argmax"]
        entries.append((f"{path.parent.name}/{path.name} · argmax", model_report["argmax"]))
        if not shipped.is_identity:
            model_report["shipped_rule"] = scorer.score(shipped) | {"rule": shipped.as_dict()}
            entries.append((f"{path.parent.name}/{path.name} · {shipped.name}", model_report["shipped_rule"]))
            model_report["as_run"] = mirror_check(path, sets, clips, scorer, shipped)
            entries.append((f"{path.parent.name}/{path.name} · as the engine runs it", model_report["as_run"]))
            model_report["mirror_margins"] = {
                str(m): mirror_check(path, sets, clips, scorer, shipped, m) for m in args.mirror_margin or ()
            }
        if args.search:
            chosen, rows = search(scorer, prior, baseline)
            model_report["search"] = [
                {
                    "rule": r["rule"].as_dict(),
                    "allowed": r["allowed"],
                    "objective": round(r["result"]["objective"], 4),
                    **{n: round(r["result"][n]["f1_negative"], 4) for n in WEIGHTS},
                    "neg_clips": r["result"]["cremad_clips"]["negative_clips_read_negative"],
                    "fer_neutral_read_negative": round(r["result"]["ferplus_valid"]["neutral_read_negative"], 4),
                }
                for r in rows
            ]
            model_report["chosen"] = scorer.score(chosen) | {"rule": chosen.as_dict()}
            entries.append((f"{path.parent.name}/{path.name} · {chosen.name}", model_report["chosen"]))
        if args.smoothing:
            rule = chosen or shipped
            engine = Engine(classifier_path=path, decision_rule=rule)
            model_report["smoothing"] = {}
            synthetic = {name: synthetic_sequences(images, labels) for name, (images, labels) in sets.items()}
            probs = {name: engine.classify(x).astype(np.float64) for name, (x, _) in synthetic.items()}
            for k in (1, 3, 5):
                scored = scorer.score(rule, window=k)
                row = {
                    "cremad_frames_f1": round(scored["cremad_frames"]["f1_negative"], 4),
                    "negative_clips": scored["cremad_clips"]["negative_clips_read_negative"],
                }
                for name, (_, y) in synthetic.items():
                    pred = causal_mean(probs[name], k).argmax(axis=1)
                    row[f"synthetic_{name}_f1"] = round(evaluate(y, pred)["f1_negative"], 4)
                model_report["smoothing"][str(k)] = row
        report["models"][str(path)] = model_report

    print(table(entries, baselines))
    if args.search:
        print("\nrule search (last model): tau, negative bias -> objective, F1 per set, negative clips")
        for r in report["models"][str(models[-1])]["search"]:
            print(
                f"  {r['rule']['name']:<45} {'ok ' if r['allowed'] else 'out'} {r['objective']:.4f} "
                f"fer {r['ferplus_valid']:.3f} mux {r['muxfe_dev']:.3f} crema {r['cremad_frames']:.3f} "
                f"clips {r['neg_clips']}/4 fer neutral->neg {r['fer_neutral_read_negative']:.3f}"
            )
    for path, model_report in report["models"].items():
        if "as_run" in model_report:
            check = model_report["as_run"]["mirror"]
            print(
                f"\nas the engine runs it ({path}): mirror pass on {check['mirrored_pct']:.1f} % of faces "
                f"(margin {check['margin']}); label as the full graph's on {check['same_label_pct']:.2f} % "
                f"({check['faces']} faces), probabilities within {check['max_prob_diff']:.3f}"
            )
        for margin, result in model_report.get("mirror_margins", {}).items():
            check = result["mirror"]
            print(
                f"  margin {margin}: mirror pass on {check['mirrored_pct']:.1f} %, same label "
                f"{check['same_label_pct']:.2f} %, F1(neg) fer {result['ferplus_valid']['f1_negative']:.3f} "
                f"mux {result['muxfe_dev']['f1_negative']:.3f} crema {result['cremad_frames']['f1_negative']:.3f}"
            )
    if args.smoothing:
        for path, model_report in report["models"].items():
            print(f"\nsmoothing ({path}): {model_report['smoothing']}")
    if args.confusion:
        for title, result in entries:
            for name in ("ferplus_valid", "muxfe_dev", "cremad_frames"):
                print(f"\n{title} · {name}\n{confusion_text(result[name])}")
    if args.write_rule and chosen is not None:
        path = metrics_path(models[-1])
        data = json.loads(path.read_text())
        data["decision_rule"] = chosen.as_dict()
        data["negative_rule"] = f"predicted negative = argmax class after the decision rule ({chosen.name})"
        path.write_text(json.dumps(data, indent=2) + "\n")
        print(f"\nwrote the decision rule into {path}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")
    return report


if __name__ == "__main__":
    main()
