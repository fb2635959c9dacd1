"""Face detection with RetinaFace-mobilenet0.25 (ONNX, run by onnxruntime on one thread).

The network outputs, for every prior box of three feature levels (strides 8, 16,
32; two square anchor sizes per level), a box offset, a face score and five
landmark offsets (eyes, nose, mouth corners). Priors, decoding, thresholding and
NMS are done here in vectorised numpy (see Deng et al., RetinaFace, CVPR 2020,
and biubug6/Pytorch_Retinaface for the encoding with variances 0.1 and 0.2).
Model licence: engine/weights/retinaface_mnet025.NOTICE.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

DEFAULT_PATH = Path(__file__).resolve().parent / "weights" / "retinaface_mnet025.onnx"
STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCE_CENTER = 0.1
VARIANCE_SIZE = 0.2
# Caffe-style BGR means the network was trained with.
BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in input pixels
    score: float
    landmarks: np.ndarray  # [5, 2]: right eye, left eye, nose, right mouth corner, left mouth corner

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def size(self) -> float:
        return max(self.width, self.height)

    def scaled(self, factor: float) -> Face:
        return Face(tuple(v * factor for v in self.box), self.score, self.landmarks * factor)


def single_thread_session(model: str | Path | bytes) -> ort.InferenceSession:
    """An ONNX Runtime CPU session that uses exactly one core (workers scale by processes); ``model`` is a
    path or a serialised graph."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = True
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=16)
def prior_boxes(height: int, width: int) -> np.ndarray:
    """Prior boxes [P, 4] as (cx, cy, w, h) in pixels, in the network's output order."""
    levels = []
    for stride, sizes in zip(STRIDES, ANCHOR_SIZES, strict=True):
        rows, cols = -(-height // stride), -(-width // stride)
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij")
        centers = np.repeat(np.stack([cx.ravel(), cy.ravel()], axis=1), len(sizes), axis=0)
        wh = np.tile(np.repeat(np.asarray(sizes, dtype=np.float64), 2).reshape(-1, 2), (rows * cols, 1))
        levels.append(np.hstack([centers, wh]))
    priors = np.concatenate(levels).astype(np.float32)
    priors.setflags(write=False)
    return priors


def iou(box: np.ndarray | tuple, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x1, y1, x2, y2) box with each row of ``boxes``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou(boxes[best], boxes[rest]) <= threshold]
    return np.asarray(keep, dtype=np.int64)


class FaceDetector:
    def __init__(
        self,
        path: str | Path = DEFAULT_PATH,
        *,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.4,
        max_side: int = 320,
    ) -> None:
        """``max_side``: frames with a longer side are downscaled before detection (the client sits close
        to the camera; 320 px keeps faces of 40 px at 640x480 detectable and costs a quarter of the time)."""
        self.session = single_thread_session(path)
        self.input_name = self.session.get_inputs()[0].name
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side

    def detect(self, rgb: np.ndarray, max_side: int | None = None) -> list[Face]:
        """Faces in an RGB uint8 image [H, W, 3], best score first, in the image's pixel coordinates.

        ``max_side`` overrides the detector's downscaling limit for this call (0: full size)."""
        height, width = rgb.shape[:2]
        limit = self.max_side if max_side is None else max_side
        factor = 1.0
        if limit and max(height, width) > limit:
            factor = max(height, width) / limit
            rgb = resize_rgb(rgb, max(round(width / factor), 1), max(round(height / factor), 1))
        faces = self._detect(rgb)
        return [face.scaled(factor) for face in faces] if factor != 1.0 else faces

    def detect_region(self, rgb: np.ndarray, box: tuple, context: float, side: int) -> tuple[list[Face], tuple]:
        """Faces in the square of ``context`` x the box's longer side around ``box``, detected at ``side`` x
        ``side`` px, in the frame's coordinates; and the searched part of the frame (x1, y1, x2, y2). Outside the
        frame the square is the network's mean colour. At 64 px the network costs about a fifth of the
        half-size pass; the input's shape never changes, so ONNX Runtime and the priors are reused."""
        x1, y1, x2, y2 = box
        extent = max(context * max(x2 - x1, y2 - y1), 1.0)
        square_left, square_top = (x1 + x2 - extent) / 2, (y1 + y2 - extent) / 2
        height, width = rgb.shape[:2]
        left, top = max(int(round(square_left)), 0), max(int(round(square_top)), 0)
        right = min(int(round(square_left + extent)), width)
        bottom = min(int(round(square_top + extent)), height)
        scale = side / extent
        size = (min(round((right - left) * scale), side), min(round((bottom - top) * scale), side))
        if size[0] < 8 or size[1] < 8:
            return [], (left, top, right, bottom)
        region = Image.fromarray(np.ascontiguousarray(rgb[top:bottom, left:right]))
        # Box (area) averaging when shrinking, as the whole-frame passes do: cheaper than bilinear, no aliasing.
        resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
        canvas = np.empty((side, side, 3), dtype=np.uint8)
        canvas[:] = BGR_MEAN[::-1].astype(np.uint8)
        at_x = min(max(int(round((left - square_left) * scale)), 0), side - size[0])
        at_y = min(max(int(round((top - square_top) * scale)), 0), side - size[1])
        canvas[at_y : at_y + size[1], at_x : at_x + size[0]] = np.asarray(region.resize(size, resample))
        fx, fy = (right - left) / size[0], (bottom - top) / size[1]
        offset = np.array([left - at_x * fx, top - at_y * fy])
        faces = [
            Face(
                (face.box[0] * fx + offset[0], face.box[1] * fy + offset[1], face.box[2] * fx + offset[0],
                 face.box[3] * fy + offset[1]),
                face.score,
                face.landmarks * np.array([fx, fy]) + offset,
            )
            for face in self._detect(canvas)
        ]  # fmt: skip
        return faces, (left, top, right, bottom)

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        height, width = rgb.shape[:2]
        # RGB -> BGR planes minus the mean, written straight into the NCHW input.
        blob = np.empty((1, 3, height, width), dtype=np.float32)
        for plane, channel in enumerate((2, 1, 0)):
            np.subtract(rgb[:, :, channel], BGR_MEAN[plane], out=blob[0, plane], dtype=np.float32)
        loc, conf, landmarks = self.session.run(None, {self.input_name: blob})
        scores = conf[0, :, 1]
        hit = np.flatnonzero(scores > self.score_threshold)
        if hit.size == 0:
            return []
        priors = prior_boxes(height, width)[hit]
        loc = loc[0, hit]
        centers = priors[:, :2] + loc[:, :2] * VARIANCE_CENTER * priors[:, 2:]
        sizes = priors[:, 2:] * np.exp(loc[:, 2:] * VARIANCE_SIZE)
        boxes = np.hstack([centers - sizes / 2, centers + sizes / 2])
        points = priors[:, None, :2] + landmarks[0, hit].reshape(-1, 5, 2) * VARIANCE_CENTER * priors[:, None, 2:]
        keep = nms(boxes, scores[hit], self.nms_threshold)
        return [
            Face(tuple(float(v) for v in boxes[i]), float(scores[hit][i]), points[i].astype(np.float64)) for i in keep
        ]


def resize_rgb(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Downscale for detection: Pillow's box reduce for whole factors (0.5 ms at 640x480), else bilinear."""

    h, w = rgb.shape[:2]
    image = Image.fromarray(rgb)
    factor = w // width
    if factor > 1 and w == factor * width and h == factor * height:
        return np.asarray(image.reduce(factor))
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
