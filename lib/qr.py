"""QR codes drawn on the server (no CDN, no script): data in, SVG out."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> bytes:
    """An SVG QR code of ``data``, black on a white square (readable on any page background)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10, border=4)
    return image.to_string()


def qr_data_uri(data: str) -> str:
    """The QR code as a data: URI for <img src>: the page's CSP allows data: images, not inline styles."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(data)).decode("ascii")
