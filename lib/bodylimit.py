"""A request-size limit at the ASGI edge, before Django reads a byte of the body.

Django's ASGI handler spools the whole body to a temporary file before any middleware or view runs, so a size
check there comes after the disk is full. This checks Content-Length first (413 at once, body unread) and
counts the bytes of a body without one, cutting the request off when it runs past the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.urls import reverse

# Views that take recordings: MIMIC_UPLOAD_MAX_BYTES plus this much for the rest of the form.
FORM_SLACK_BYTES = 1024 * 1024
UPLOAD_VIEWS = ("reports:upload", "reports:pilot")


def limit_for(path: str) -> int:
    uploads = {reverse(name) for name in UPLOAD_VIEWS}
    if path in uploads:
        return settings.MIMIC_UPLOAD_MAX_BYTES + FORM_SLACK_BYTES
    return settings.MIMIC_REQUEST_MAX_BYTES


class RequestSizeLimit:
    def __init__(self, application: Callable) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.application(scope, receive, send)
        limit = limit_for(scope.get("path", ""))
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        try:
            declared = int(length) if length is not None else None
        except ValueError:
            declared = -1
        if declared is not None and not 0 <= declared <= limit:
            return await _refuse(send, limit)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Past the limit without a Content-Length: the app sees the client go (RequestAborted).
                    return {"type": "http.disconnect"}
            return message

        return await self.application(scope, counted_receive, send)


async def _refuse(send, limit: int) -> None:
    body = f"Request body too large: the limit is {limit // (1024 * 1024)} MB.\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_daphne_limit() -> None:
    """The same limit inside daphne, which (through Twisted) spools a whole body before the app is called: a
    declared length over the limit is answered 413 and the connection closed as soon as the headers are in; a
    body without a declared length is cut off once past the limit."""
    from daphne.http_protocol import WebRequest

    if getattr(WebRequest, "_mimic_limited", False):
        return
    original_got_length, original_chunk = WebRequest.gotLength, WebRequest.handleContentChunk

    def gotLength(self, length):  # noqa: N802 - Twisted's name
        path = self.channel._path.split(b"?", 1)[0].decode("latin-1")
        self._mimic_limit = limit_for(path)
        self._mimic_seen = 0
        if length is not None and length > self._mimic_limit:
            body = f"Request body too large: the limit is {self._mimic_limit // (1024 * 1024)} MB.\n".encode()
            self.channel.transport.write(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            self.channel.transport.loseConnection()
            self._mimic_refused = True
        return original_got_length(self, length)

    def handleContentChunk(self, data):  # noqa: N802
        if getattr(self, "_mimic_refused", False):
            return None
        self._mimic_seen = getattr(self, "_mimic_seen", 0) + len(data)
        if self._mimic_seen > getattr(self, "_mimic_limit", settings.MIMIC_REQUEST_MAX_BYTES):
            self._mimic_refused = True
            self.channel.transport.loseConnection()
            return None
        return original_chunk(self, data)

    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
    WebRequest._mimic_limited = True
