"""The emotion engine: JPEG or RGB frame in, the client's expression out.

decode (engine.frames) -> detect faces (engine.detector) -> pick the
client's face (tracking the previous box) -> crop it like FER2013 (square,
grey, 48x48, [0, 1]) -> classify (ONNX, 8 probabilities in EXPRESSIONS order; the mirror pass only where
the first pass is undecided, engine.mirror).

Both ONNX sessions are single-threaded and created lazily on first use; workers
scale by processes. The engine keeps no frame: it writes nothing to disk, logs no
pixels and returns only numbers. It knows nothing of Django: paths and limits are
passed in (the portal builds its engine from settings in calls.scoring).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from engine.decision import DecisionRule, load_rule
from engine.detector import DEFAULT_PATH as DEFAULT_DETECTOR_PATH
from engine.detector import Face, FaceDetector, iou, single_thread_session
from engine.frames import MAX_BYTES, BadFrame, decode_jpeg
from engine.labels import (
    BLURRED,
    EXPRESSIONS,
    FACE_TOO_SMALL,
    MULTIPLE_FACES,
    NO_FACE,
    POOR_VIEW_FLAGS,
    TOO_DARK,
    TURNED,
    valence_of,
)
from engine.mirror import MIRROR_MARGIN, MirroredClassifier
from engine.tracking import TRACK_IOU, Tracks, select_face

__all__ = ["BadFrame", "Engine", "FrameResult", "crop_face", "select_face", "DEFAULT_CLASSIFIER_PATH"]

DEFAULT_CLASSIFIER_PATH = Path(__file__).resolve().parent / "weights" / "expression.onnx"
INPUT_SIZE = 48


MIN_FACE_PX = 40  # below this the 48x48 crop is mostly upsampling blur
DARK_LUMA = 40.0  # mean luma (0..255) of the face crop, or of the frame when no face is found
# Sharpness of the 48x48 crop: variance of its Laplacian over the variance of its pixels. Real faces score
# >= 0.078 (99.5 % of muxfe dev, 0.17 of FER+ valid, 0.37 of the CREMA-D webcam-like frames); a Gaussian blur of
# 1.5 px at 48 px (5 px on a 160 px face) brings 95 % of them under 0.06 (docs/model-card.md, "Honest uncertainty").
MIN_SHARPNESS = 0.06
MAX_ROLL_DEG = 30.0  # eye line tilt; training covered +-15 degrees
MAX_YAW_RATIO = 0.6  # nose off the eyes' midpoint, in inter-eye distances: about 40 degrees of head turn
# Coarse-to-fine detection: a frame is first detected on a half-size copy (160 px long side, network ~1.1 ms
# against ~3.8 ms at 320 px); that answer is kept only when the client's face is at least this large in the
# detector's 320 px input (so >= MIN_FACE_PX in the half-size copy), else the frame is detected again at full
# size. A tracked face smaller than this skips the coarse pass. Measured in docs/benchmarks.md "Inference".
FAST_DETECT_MIN_FACE = 2 * MIN_FACE_PX
# Region check of a tracked frame: detect only in the square of REGION_CONTEXT x the previous box's longer side
# around it, scaled to REGION_INPUT px (the face is then about 40 px, where RetinaFace is sure of a real face;
# 0.6 ms of network against 3.3 ms for the half-size pass on the benchmark machine). The answer stands when the
# face found there continues the previous box and lies inside the square; otherwise the frame is detected whole.
# A wider square (2x) tolerates more movement but shrinks the face to 32 px, where tight synthetic crops were
# missed: 9 % kept against 43 % at 1.5x on bench/pipeline_eval.py's pasted faces, 100 % of CREMA-D frames for
# both (docs/benchmarks.md, "Issue 19").
REGION_CONTEXT = 1.5
REGION_INPUT = 64

# FER2013 framing (tuned by bench/pipeline_eval.py --tune on a slice of FER+ train): a square of
# CROP_SCALE x the detector box's longer side, its centre CROP_CENTER x box height below the box centre.
CROP_SCALE = 1.0
CROP_CENTER = 0.0


@dataclass
class FrameResult:
    face_found: bool
    probs: list[float] | None
    label: str | None
    valence: str | None
    flags: list[str] = field(default_factory=list)
    box: tuple[int, int, int, int] | None = None

    @property
    def poor_view(self) -> bool:
        """A face was found but could not be read reliably (too small, dark, blurred or turned away)."""
        return not self.face_found and bool(POOR_VIEW_FLAGS.intersection(self.flags))

    def as_dict(self) -> dict:
        data = asdict(self)
        data["box"] = list(self.box) if self.box is not None else None
        return data


def crop_square(face: Face, scale: float = CROP_SCALE, center: float = CROP_CENTER) -> tuple[float, float, float]:
    """(cx, cy, side) of the FER-like square for a detected face: ``scale`` x the box's longer side, centred on
    the box shifted down by ``center`` x its height. (Framing from the eye/mouth landmarks matched the FER
    squares worse: mean IoU 0.73 against 0.79, see docs/model-card.md.)"""
    x1, y1, x2, y2 = face.box
    return (x1 + x2) / 2, (y1 + y2) / 2 + center * (y2 - y1), scale * max(x2 - x1, y2 - y1)


def crop_face(rgb: np.ndarray, face: Face, scale: float = CROP_SCALE, center: float = CROP_CENTER) -> np.ndarray:
    """Grey 48x48 float32 crop in [0, 1], framed like FER2013; edges are replicated outside the frame."""
    cx, cy, side = crop_square(face, scale, center)
    half = side / 2
    x1, y1 = int(round(cx - half)), int(round(cy - half))
    x2, y2 = x1 + max(int(round(side)), 1), y1 + max(int(round(side)), 1)
    height, width = rgb.shape[:2]
    pad = max(0, -x1, -y1, x2 - width, y2 - height)
    region = rgb[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    if pad:
        region = np.pad(
            region,
            ((max(0, -y1), max(0, y2 - height)), (max(0, -x1), max(0, x2 - width)), (0, 0)),
            mode="edge",
        )
    grey = Image.fromarray(np.ascontiguousarray(region)).convert("L")
    small = grey.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


def grey_to_input(images: np.ndarray) -> np.ndarray:
    """uint8 grey face crops [N, H, W] (any size) -> classifier input [N, 1, 48, 48] float32 in [0, 1]."""
    images = np.asarray(images)
    if images.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        images = np.stack(
            [
                np.asarray(Image.fromarray(im).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR))
                for im in images
            ]
        )
    return (images.astype(np.float32) / 255.0)[:, None]


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian over the variance of the pixels: contrast-free, low for a blurred face."""
    c = np.asarray(crop, dtype=np.float32)
    lap = c[1:-1, :-2] + c[1:-1, 2:] + c[:-2, 1:-1] + c[2:, 1:-1] - 4 * c[1:-1, 1:-1]
    return float(lap.var() / max(float(c.var()), 1e-6))


def head_pose(face: Face) -> tuple[float, float]:
    """(roll in degrees, yaw ratio) from the five landmarks: the eye line's tilt, and how far the nose sits
    from the eyes' midpoint in inter-eye distances (0 for a frontal face)."""
    right_eye, left_eye, nose = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    dx, dy = float(left_eye[0] - right_eye[0]), float(left_eye[1] - right_eye[1])
    eye_distance = max(float(np.hypot(dx, dy)), 1e-6)
    roll = float(np.degrees(np.arctan2(dy, abs(dx)))) if dx else 90.0
    # project the nose's offset on the eye line, so a tilted frontal face is not read as turned
    mid = (right_eye + left_eye) / 2
    along = ((nose[0] - mid[0]) * dx + (nose[1] - mid[1]) * dy) / eye_distance
    return roll, float(abs(along) / eye_distance)


def _box_ints(box: tuple[float, ...]) -> tuple[int, int, int, int]:
    return tuple(int(round(v)) for v in box)  # type: ignore[return-value]


def _luma(rgb: np.ndarray) -> float:
    # Subsampled: the mean of every 4th pixel is plenty for a brightness check.
    sample = rgb[::4, ::4].astype(np.float32)
    return float((sample @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean())


class Engine:
    def __init__(
        self,
        detector_path: str | Path | None = None,
        classifier_path: str | Path | None = None,
        *,
        coarse_fresh: bool = True,
        max_frame_bytes: int = MAX_BYTES,
        max_streams: int = 2000,
        decision_rule: DecisionRule | None = None,
        track_region: bool = True,
        mirror_margin: float | None = MIRROR_MARGIN,
    ) -> None:
        """``coarse_fresh=False`` detects frames without a previous box at full size only: the baseline that
        bench/inference.py and bench/pipeline_eval.py measure coarse-to-fine detection against.
        ``max_streams`` bounds the streams whose face is tracked between frames (``analyze``).
        ``decision_rule`` defaults to the rule shipped in the classifier's metrics JSON (engine.decision).
        ``track_region=False`` detects every frame of a stream whole, without the region check near its previous
        box: the baseline that bench/inference.py and bench/model_eval.py measure the region check against.
        ``mirror_margin``: the classifier's mirror pass runs only on faces whose first pass is less decisive
        than this (engine.mirror); None mirrors every face, as the shipped graph does on its own."""
        self.coarse_fresh = coarse_fresh
        self.track_region = track_region
        self.mirror_margin = mirror_margin
        self.max_frame_bytes = max_frame_bytes
        self.detector_path = Path(detector_path or DEFAULT_DETECTOR_PATH)
        self.classifier_path = Path(classifier_path or DEFAULT_CLASSIFIER_PATH)
        self.decision_rule = decision_rule if decision_rule is not None else load_rule(self.classifier_path)
        self.tracks = Tracks(max_streams)
        self._lock = threading.Lock()
        self._detector: FaceDetector | None = None
        self._classifier: MirroredClassifier | None = None

    # Lazy sessions: importing the module (e.g. in Django startup) costs nothing.
    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    self._detector = FaceDetector(self.detector_path)
        return self._detector

    @property
    def classifier(self) -> MirroredClassifier:
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    if not self.classifier_path.exists():
                        raise FileNotFoundError(f"classifier model not found: {self.classifier_path}")
                    self._classifier = MirroredClassifier(
                        str(self.classifier_path), single_thread_session, self.decision_rule.apply, self.mirror_margin
                    )
        return self._classifier

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """Classifier input [N, 1, 48, 48] float32 in [0, 1] -> probabilities [N, 8] (EXPRESSIONS order) under
        the model's decision rule: what the label, the valence, the alert and the reports all read."""
        return self.decision_rule.apply(self.classify_raw(batch))

    def classify_raw(self, batch: np.ndarray) -> np.ndarray:
        """The network's own softmax, before the decision rule (for choosing a rule)."""
        return self.classifier(batch)

    def detect(self, rgb: np.ndarray, prev_box: tuple | None = None) -> list[Face]:
        """Faces in the frame, coarse to fine: a half-size pass first, full size only when it is not conclusive."""
        detector = self.detector
        longest = max(rgb.shape[:2])
        half = detector.max_side // 2
        if detector.max_side and longest > half:
            # A face this large in the frame is >= FAST_DETECT_MIN_FACE / 2 px in the half-size copy.
            min_face = FAST_DETECT_MIN_FACE / 2 * longest / half
            if prev_box is None:
                try_coarse = self.coarse_fresh
            else:
                try_coarse = max(prev_box[2] - prev_box[0], prev_box[3] - prev_box[1]) >= min_face
            if try_coarse:
                faces = detector.detect(rgb, max_side=half)
                client = select_face(faces, prev_box)
                # Nothing, or only a small face: the full-size pass sees small faces better (and may find the
                # client the coarse pass missed), so it decides.
                if client is not None and client.size >= min_face:
                    return faces
        return detector.detect(rgb)

    def detect_near(self, rgb: np.ndarray, prev_box: tuple) -> list[Face] | None:
        """The region check of a tracked frame: the faces near ``prev_box`` when the client's face is found
        there, continuing it and inside the searched square; None when the frame must be detected whole."""
        if max(prev_box[2] - prev_box[0], prev_box[3] - prev_box[1]) < MIN_FACE_PX:
            return None  # a small face is best seen by the whole-frame pass
        faces, (left, top, right, bottom) = self.detector.detect_region(rgb, prev_box, REGION_CONTEXT, REGION_INPUT)
        client = select_face(faces, prev_box)
        if client is None or float(iou(prev_box, np.array([client.box]))[0]) < TRACK_IOU:
            return None
        x1, y1, x2, y2 = client.box
        if x1 < left or y1 < top or x2 > right or y2 > bottom:
            return None  # cut by the square's edge: the face moved out of it
        return faces

    def analyze(self, stream_id: str, jpeg: bytes) -> FrameResult:
        """Analyse the next JPEG frame of a stream (a call), tracking its face from the stream's previous
        frame; raises BadFrame for anything that is not a sane JPEG."""
        (result,) = self.analyze_many([(stream_id, jpeg)])
        if isinstance(result, BadFrame):
            raise result
        return result

    def analyze_many(self, frames: list[tuple[str, bytes]]) -> list[FrameResult | BadFrame]:
        """``analyze`` for a batch of (stream id, JPEG) in stream order: each frame's face is tracked from the
        previous frame of its stream, and every face of the batch is classified in one ONNX run. A frame that
        is not a sane JPEG comes back as its BadFrame, in its place; the others are analysed."""
        located: list[tuple[FrameResult, np.ndarray | None]] = []
        answers: list[FrameResult | BadFrame | None] = []
        for stream_id, jpeg in frames:
            try:
                rgb = decode_jpeg(jpeg, self.max_frame_bytes)
            except BadFrame as exc:
                answers.append(exc)
                continue
            located.append(self.locate_in_stream(stream_id, rgb))
            answers.append(None)
        classified = iter(self.classify_located(located))
        return [next(classified) if answer is None else answer for answer in answers]

    def locate_in_stream(self, stream_id: str, rgb: np.ndarray) -> tuple[FrameResult, np.ndarray | None]:
        """``locate`` for the next frame of a stream: tracked from the stream's previous face (a region check
        when that face is recent), and remembered for the stream's next frame."""
        region_box = self.tracks.region_box(stream_id) if self.track_region else None
        faces = self.detect_near(rgb, region_box) if region_box is not None else None
        result, crop = self.locate(rgb, self.tracks.get(stream_id), faces=faces)
        self.tracks.remember(stream_id, result.box, by_region=faces is not None)
        return result, crop

    def analyze_jpeg(self, data: bytes, prev_box: tuple | None = None, *, near: bool = False) -> FrameResult:
        """Analyse one untrusted JPEG frame; raises BadFrame for anything that is not a sane JPEG."""
        return self.analyze_rgb(decode_jpeg(data, self.max_frame_bytes), prev_box=prev_box, near=near)

    def analyze_rgb(self, image: np.ndarray, prev_box: tuple | None = None, *, near: bool = False) -> FrameResult:
        """Analyse one RGB uint8 frame [H, W, 3]. ``prev_box`` (x1, y1, x2, y2) keeps the same client tracked;
        ``near``: try the region check around it first (as a stream's recent box gets)."""
        faces = self.detect_near(image, prev_box) if near and prev_box is not None and self.track_region else None
        return self.classify_located([self.locate(image, prev_box, faces=faces)])[0]

    def locate(
        self, image: np.ndarray, prev_box: tuple | None = None, *, faces: list[Face] | None = None
    ) -> tuple[FrameResult, np.ndarray | None]:
        """The detection half of a frame's analysis: its result without probabilities, and the face crop to
        classify (None when there is nothing to classify). Batches finish with ``classify_located``; the
        result's box is known here, so the next frame of the same call can be tracked before classification.
        ``faces``: already detected (a region check), else the frame is detected whole.
        """
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise BadFrame("bad_array", f"expected uint8 [H, W, 3], got {getattr(image, 'shape', None)}")
        if min(image.shape[:2]) < 1:
            raise BadFrame("zero_size")
        if faces is None:
            faces = self.detect(image, prev_box)
        face = select_face(faces, prev_box)
        if face is None:
            flags = [NO_FACE]
            if _luma(image) < DARK_LUMA:
                flags.append(TOO_DARK)
            return FrameResult(False, None, None, None, flags, None), None
        flags = [MULTIPLE_FACES] if len(faces) > 1 else []
        box = _box_ints(face.box)
        crop = crop_face(image, face)
        if face.size < MIN_FACE_PX:
            flags.append(FACE_TOO_SMALL)
        if float(crop.mean()) * 255.0 < DARK_LUMA:
            flags.append(TOO_DARK)
        elif sharpness(crop) < MIN_SHARPNESS:
            flags.append(BLURRED)
        roll, yaw = head_pose(face)
        if abs(roll) > MAX_ROLL_DEG or yaw > MAX_YAW_RATIO:
            flags.append(TURNED)
        if POOR_VIEW_FLAGS.intersection(flags):
            # A face is there but too poor to read: reported (with its box, for tracking) but not classified,
            # so it carries no label and the call's analytics count it as "poor view", never as a guess.
            return FrameResult(False, None, None, None, flags, box), None
        return FrameResult(True, None, None, None, flags, box), crop

    def classify_located(self, located: list[tuple[FrameResult, np.ndarray | None]]) -> list[FrameResult]:
        """Finish ``locate`` results: every face crop of the batch goes through the classifier in one run."""
        crops = [crop for _, crop in located if crop is not None]
        probs = iter(self.classify(np.stack(crops)[:, None]) if crops else ())
        results = []
        for result, crop in located:
            if crop is not None:
                p = next(probs)
                result.label = EXPRESSIONS[int(np.argmax(p))]
                result.probs = [round(float(x), 5) for x in p]
                result.valence = valence_of(result.label)
            results.append(result)
        return results
