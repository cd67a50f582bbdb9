"""ASGI middlewares that bound what a request may cost before any route sees it, and the one error shape.

- BodyLimit: a request body is counted while it is read (Content-Length checked up front, chunked bodies counted
  message by message) and refused with 413 the moment it passes the limit, so nothing buffers more than the limit.
  FastAPI reads a body whole before validating it: a 500 MB body grew the server by 1.55 GB before this.
- JsonGuard: on /api and /v1, a body must be UTF-8 JSON of sane depth with no lone surrogates ("\\ud800" parses
  in Python but cannot be encoded again, which failed deep inside with a 500). Each is a 422 in the error shape.

Errors are {"error": {"message", "type", "code"}} (OpenAI's shape) everywhere, with a message naming the fix.
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32  # our bodies nest 4 deep (messages → content parts → part); 100k-deep JSON was a 400 before


def error_body(status: int, message: str, code: str) -> dict:
    if status == 401:
        kind = "authentication_error"
    elif status == 429:
        kind = "rate_limit_error"
    elif status < 500:
        kind = "invalid_request_error"
    else:
        kind = "server_error"
    return {"error": {"message": message, "type": kind, "code": code}}


async def send_error(send, status: int, message: str, code: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error_body(status, message, code)).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over a size, counting as they arrive. `limits` maps a path prefix to its own limit
    (the chat's upload route takes files); every other path gets `default`."""

    def __init__(self, app, default: int, limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.limits = limits or {}

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits.items():
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        headers = dict(scope.get("headers", ()))
        # Closing the connection stops a client from streaming the rest; httpx, curl and browsers still read the 413.
        close = [(b"connection", b"close")]
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await send_error(send, 400, "the Content-Length header is not a number: send a valid one",
                                 "invalid_content_length", close)
                return
            if declared > limit:
                await send_error(send, 413, _too_large(declared, limit), "body_too_large", close)
                return

        received = 0
        refused = False
        started = False

        async def counted_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await send_error(send, 413, _too_large(received, limit), "body_too_large", close)
                    # The route sees a client that went away; whatever it answers is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)


def _too_large(size: int, limit: int) -> str:
    return (f"the request body is larger than this server accepts ({size:,} bytes so far, limit {limit:,}): send "
            "less (RAGCHAT_MAX_BODY_BYTES and RAGCHAT_MAX_UPLOAD_BYTES on the server set the limits)")


class JsonGuard:
    """On the JSON routes (`prefixes`), check the body is UTF-8 JSON of sane depth with valid Unicode strings
    before FastAPI parses it, then hand the same bytes on. Runs inside BodyLimit, so the body is already bounded."""

    def __init__(self, app, prefixes: tuple[str, ...] = ("/api/", "/v1/")) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH")
                or not scope.get("path", "").startswith(self.prefixes)):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left (or BodyLimit refused): nothing to check
                await self.app(scope, _replay([], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        problem = json_problem(body) if body.strip() else None
        if problem is not None:
            await send_error(send, 422, *problem)
            return
        await self.app(scope, _replay([body], receive), send)


def json_problem(body: bytes) -> tuple[str, str] | None:
    """(message, code) of what is wrong with a JSON body, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return (f"the request body is not UTF-8 (bad byte at position {e.start}): send JSON encoded as UTF-8",
                "invalid_encoding")
    try:
        value = json.loads(text)
    except RecursionError:
        return _too_deep(), "json_too_deep"
    except ValueError as e:
        return f"the request body is not valid JSON ({e}): send a JSON object", "invalid_json"
    return _walk(value)


def _walk(value: Any) -> tuple[str, str] | None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _too_deep(), "json_too_deep"
        if isinstance(item, str):
            if _has_surrogate(item):
                return ("the request body has a lone surrogate (such as \\ud800) in a string, which is not text: "
                        "send valid Unicode", "invalid_unicode")
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_deep() -> str:
    return f"the request body nests deeper than {MAX_JSON_DEPTH} levels: send the documented shape"


def _replay(chunks: list[bytes], receive):
    """A `receive` that hands the app the body already read, then passes on what the client does next
    (a disconnect, which StreamingResponse listens for)."""
    pending = list(chunks)

    async def replay():
        if pending:
            return {"type": "http.request", "body": pending.pop(0), "more_body": False}
        return await receive()

    return replay


class UploadErrors:
    """The chat's upload route answered 500 (a TypeError inside Gradio) to a multipart part with an empty file
    name, which Starlette reads as a form field instead of a file. A 5xx there becomes a 400 naming the fix."""

    def __init__(self, app, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        replaced = False

        async def watched_send(message):
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] >= 500:
                replaced = True
                await send_error(send, 400, "the upload could not be read: send each file as multipart/form-data "
                                 "field `files` with a file name", "invalid_upload")
            elif not replaced:
                await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:
            if not replaced:
                raise
            log.warning("an upload could not be read", exc_info=True)
