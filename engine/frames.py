"""Safe JPEG decoding of untrusted client frames.

Frames arrive from browsers over a WebSocket, so every check that can be done on
the header runs before any pixel is decoded: size in bytes, JPEG magic, declared
dimensions, colour space and the number of scans (a progressive JPEG with
thousands of scans is a CPU bomb even when it is small). Decoding is done by
libjpeg-turbo through simplejpeg (about 2x faster than Pillow here, see
docs/benchmarks.md). Nothing is ever written anywhere: bytes in, array out.
"""

from __future__ import annotations

import numpy as np
import simplejpeg

# The default size limit; the portal passes its MIMIC_FRAME_MAX_BYTES setting instead.
MAX_BYTES = 256 * 1024
MAX_SIDE = 1280
# Browsers' canvas.toBlob() writes baseline JPEGs (one scan); libjpeg's own
# progressive encoder writes about ten. More than this is an attack, not a frame.
MAX_SCANS = 32
JPEG_MAGIC = b"\xff\xd8\xff"
SOS_MARKER = b"\xff\xda"
_SUPPORTED_COLORSPACES = frozenset({"YCbCr", "Gray", "RGB"})


class BadFrame(ValueError):
    """A frame that cannot be analysed. ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def jpeg_size(data: bytes, max_bytes: int = MAX_BYTES) -> tuple[int, int, str]:
    """(width, height, colorspace) from the header alone, after the cheap checks; raises BadFrame."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BadFrame("not_bytes", type(data).__name__)
    size = len(data)
    if size == 0:
        raise BadFrame("empty")
    if size > max_bytes:
        raise BadFrame("too_many_bytes", f"{size} > {max_bytes}")
    if bytes(data[:3]) != JPEG_MAGIC:
        raise BadFrame("not_jpeg")
    try:
        height, width, colorspace, _subsampling = simplejpeg.decode_jpeg_header(data)
    except Exception as exc:  # noqa: BLE001 - any decoder complaint means the same to the caller
        raise BadFrame("corrupt", str(exc)) from None
    if width <= 0 or height <= 0:
        raise BadFrame("zero_size")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise BadFrame("too_large", f"{width}x{height} > {MAX_SIDE}x{MAX_SIDE}")
    if colorspace not in _SUPPORTED_COLORSPACES:
        raise BadFrame("unsupported_colorspace", colorspace)
    return width, height, colorspace


def decode_jpeg(data: bytes, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Decode an untrusted JPEG into an RGB uint8 array [H, W, 3]; any problem raises BadFrame."""
    width, height, _colorspace = jpeg_size(data, max_bytes)
    if bytes(data).count(SOS_MARKER) > MAX_SCANS:
        raise BadFrame("too_many_scans")
    try:
        # strict=True turns libjpeg warnings (truncated data, corrupt Huffman codes) into errors.
        image = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except Exception as exc:  # noqa: BLE001
        raise BadFrame("corrupt", str(exc)) from None
    if image.shape != (height, width, 3):
        raise BadFrame("corrupt", f"decoded shape {image.shape} differs from header {width}x{height}")
    return image
