"""Untrusted JPEG frames: every bad input becomes one BadFrame, never a crash."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine.frames import MAX_BYTES, MAX_SIDE, decode_jpeg
from engine.inference import BadFrame
from tests.support.engine import frame, jpeg


def patch_sof(data: bytes, height: int, width: int) -> bytes:
    """Rewrite the dimensions in the SOF0 header (baseline JPEG), leaving the compressed data as is."""
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def reason_of(data) -> str:
    with pytest.raises(BadFrame) as info:
        decode_jpeg(data)
    return info.value.reason


def test_it_decodes_a_real_frame_to_rgb() -> None:
    image = decode_jpeg(frame("HAP"))
    assert image.dtype == np.uint8
    assert image.shape == (360, 480, 3)
    assert 40 < image.mean() < 220


def test_it_decodes_a_grey_jpeg_to_rgb() -> None:
    out = io.BytesIO()
    Image.fromarray(decode_jpeg(frame())[:, :, 1]).save(out, "JPEG")
    image = decode_jpeg(out.getvalue())
    assert image.shape == (360, 480, 3)
    assert np.array_equal(image[:, :, 0], image[:, :, 2])


def test_bad_frame_is_a_value_error_with_a_reason() -> None:
    error = BadFrame("not_jpeg")
    assert isinstance(error, ValueError)
    assert error.reason == "not_jpeg"


def test_it_rejects_empty_frame() -> None:
    assert reason_of(b"") == "empty"


def test_it_rejects_non_bytes() -> None:
    assert reason_of("\xff\xd8\xff") == "not_bytes"


def test_it_rejects_non_jpeg() -> None:
    png = io.BytesIO()
    Image.new("RGB", (32, 32)).save(png, "PNG")
    assert reason_of(png.getvalue()) == "not_jpeg"
    assert reason_of(b"GIF89a" + b"\0" * 100) == "not_jpeg"


def test_it_rejects_jpeg_magic_followed_by_garbage() -> None:
    assert reason_of(b"\xff\xd8\xff" + b"\x00garbage" * 20) == "corrupt"


def test_it_rejects_truncated_frame() -> None:
    data = frame()
    assert reason_of(data[: len(data) // 2]) == "corrupt"
    assert reason_of(data[:200]) == "corrupt"


def test_it_rejects_cmyk_frame() -> None:
    out = io.BytesIO()
    Image.fromarray(decode_jpeg(frame())).convert("CMYK").save(out, "JPEG")
    assert reason_of(out.getvalue()) == "unsupported_colorspace"


def test_it_rejects_oversized_dimensions() -> None:
    wide = jpeg(np.zeros((64, MAX_SIDE + 8, 3), np.uint8))
    assert len(wide) < MAX_BYTES
    assert reason_of(wide) == "too_large"
    tall = jpeg(np.zeros((MAX_SIDE + 8, 64, 3), np.uint8))
    assert reason_of(tall) == "too_large"


def test_it_accepts_the_largest_allowed_dimensions() -> None:
    assert decode_jpeg(jpeg(np.full((MAX_SIDE, MAX_SIDE, 3), 128, np.uint8))).shape == (MAX_SIDE, MAX_SIDE, 3)


def test_it_rejects_frame_over_256_kib() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (700, 700, 3), dtype=np.uint8)
    data = jpeg(noise, quality=95)
    assert len(data) > MAX_BYTES
    assert reason_of(data) == "too_many_bytes"


def test_it_rejects_decompression_bomb_before_decoding() -> None:
    # A 2 KB file whose header claims 60000x60000 pixels (10 GB of RGB).
    bomb = patch_sof(jpeg(np.zeros((16, 16, 3), np.uint8)), 60000, 60000)
    assert len(bomb) < 4096
    assert reason_of(bomb) == "too_large"


def test_it_rejects_header_claiming_more_pixels_than_the_data_holds() -> None:
    lie = patch_sof(jpeg(np.zeros((16, 16, 3), np.uint8)), 1200, 1200)
    assert reason_of(lie) == "corrupt"


def test_it_rejects_zero_size_header() -> None:
    assert reason_of(patch_sof(frame(), 0, 480)) in {"zero_size", "corrupt"}


def test_it_rejects_too_many_scans() -> None:
    assert reason_of(frame() + b"\xff\xda\x00\x02" * 40) == "too_many_scans"


@given(st.binary(max_size=4096))
@settings(max_examples=300, deadline=None)
def test_fuzz_any_bytes_give_bad_frame_or_an_image(data: bytes) -> None:
    try:
        image = decode_jpeg(data)
    except BadFrame:
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


@given(
    st.lists(st.tuples(st.integers(0, 22_000), st.integers(0, 255)), min_size=1, max_size=20), st.integers(3, 23_000)
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_corrupted_real_frames_give_bad_frame_or_an_image(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(frame("NEU")[:cut])
    for position, value in flips:
        if position < len(data):
            data[position] = value
    try:
        image = decode_jpeg(bytes(data))
    except BadFrame:
        return
    assert image.dtype == np.uint8 and image.shape[2] == 3
