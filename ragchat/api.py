"""HTTP routes over one QA service: a JSON API and an OpenAI-compatible chat endpoint. RagErrors → HTTP status.

    POST /api/ask               {"question", "history"?, "mode"?, "top_k"?, "documents"?} → the Answer JSON
                                (schema.answer_json); "documents": [names] searches only those
    POST /api/search            {"question", "top_k"?} → {"question", "hits": [...]}
    GET  /api/documents         the indexed documents
    GET  /api/documents/{name}  one indexed document's text (the text citations' start/end index into)
    POST /v1/chat/completions   OpenAI-compatible, stream or not; the reply carries `citations`
    GET  /v1/models             ragchat (the server's default mode), ragchat-extractive, ragchat-local, ragchat-openai
    GET  /healthz               liveness and what is loaded; never needs a key

Every error is JSON in OpenAI's shape, {"error": {"message", "type", "code"}}, with a message meant for the
person calling: unknown routes 404, wrong methods 405, bodies that are not UTF-8 JSON of sane depth 422 (guard.py),
bodies over RAGCHAT_MAX_BODY_BYTES 413 while they are still arriving. Types are strict: "3" is not an integer.
Credentials (RAGCHAT_API_KEY, RAGCHAT_UI_AUTH) are checked by auth.AuthMiddleware in front of every route.
Model-backed modes run in budget.Lanes shared with the chat; extractive answers and /healthz never wait for them.
The app holds no global state: everything hangs off the QA and Settings passed to create_api().
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from typing import Any, AsyncIterator, Callable, Iterator, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from .auth import AuthMiddleware, Gate
from .budget import Lane, Lanes, allowed_modes, check_mode, check_top_k
from .errors import (
    BusyError,
    ConfigError,
    DocumentNotFoundError,
    IndexBusyError,
    IndexMissingError,
    ModelError,
    ModeNotAllowedError,
    QuestionError,
    QuestionTooLongError,
    RagError,
    StoreUnavailableError,
)
from .guard import BodyLimit, JsonGuard, UploadErrors, error_body
from .qa import QA
from .schema import answer_json, citation_json, hit_json
from .settings import MODES, Settings
from .types import Answer

log = logging.getLogger(__name__)

MODEL_PREFIX = "ragchat"
UPLOAD_PATH = "/gradio_api/upload"  # the chat's upload route: the one place a body may be files
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# Most specific first: QuestionTooLongError is a QuestionError.
_STATUS: tuple[tuple[type[RagError], int, str], ...] = (
    (QuestionTooLongError, 413, "question_too_long"),
    (QuestionError, 422, "invalid_question"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (IndexBusyError, 503, "index_busy"),
    (IndexMissingError, 503, "index_missing"),
    (StoreUnavailableError, 503, "store_unavailable"),  # Milvus down or restarting: retry later
    (BusyError, 503, "busy"),
    (ModeNotAllowedError, 403, "mode_not_allowed"),
    (ModelError, 503, "model_unavailable"),
    (ConfigError, 500, "config_error"),
    (RagError, 500, "ragchat_error"),
)


class ApiError(Exception):
    """An HTTP error raised by a route: status, machine-readable code and a message for the caller."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code), status_code=status, headers=headers)


def rag_error_status(error: RagError) -> tuple[int, str]:
    for kind, status, code in _STATUS:
        if isinstance(error, kind):
            return status, code
    return 500, "ragchat_error"


# --- request bodies ----------------------------------------------------------------------------------


# strict: "3" is not an integer and 3 is not a string; a caller learns of its mistake instead of a guess.
class Message(BaseModel):
    """A chat message; content is a string or OpenAI content parts ([{"type": "text", "text": ...}])."""

    model_config = ConfigDict(extra="allow", strict=True)
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(p.get("text", "") for p in parts if p.get("type") == "text" and isinstance(p.get("text"), str))


class AskRequest(BaseModel):
    model_config = ConfigDict(strict=True)
    question: str
    history: list[Message] = Field(default_factory=list)
    mode: str | None = None
    top_k: int | None = Field(None, description="1 to RAGCHAT_MAX_TOP_K (50)")
    documents: list[str] | None = Field(None, max_length=1000,
                                        description="search only these documents (names from /api/documents)")


class SearchRequest(BaseModel):
    model_config = ConfigDict(strict=True)
    question: str
    top_k: int | None = Field(None, description="1 to RAGCHAT_MAX_TOP_K (50)")
    k: int | None = Field(None, description="alias of top_k (the CLI's -k)")


class ChatRequest(BaseModel):
    """OpenAI's chat.completions body. Sampling fields (temperature, max_tokens, ...) are accepted and ignored:
    answers are composed from cited evidence, not sampled freely."""

    model_config = ConfigDict(extra="allow", strict=True)
    model: str = MODEL_PREFIX
    messages: list[Message]
    stream: bool = False
    top_k: int | None = Field(None, description="1 to RAGCHAT_MAX_TOP_K (50)")
    documents: list[str] | None = Field(None, max_length=1000,
                                        description="search only these documents (names from /api/documents)")


# --- the app -----------------------------------------------------------------------------------------


def create_api(qa: QA, settings: Settings, lanes: Lanes | None = None) -> FastAPI:
    """The JSON + OpenAI-compatible routes over `qa`, behind the server's credentials and budgets. The Gradio UI
    is mounted beside them by app.py, which passes the same `lanes` to it."""
    app = FastAPI(
        title="ragchat",
        description="Answers from a folder of documents, every claim cited to an exact passage.",
        version="0.1.0",
        # Swagger UI and ReDoc load their scripts from a CDN, which an offline machine cannot reach: serve the
        # schema only.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    lanes = lanes or Lanes(settings)
    app.state.lanes = lanes
    # Added innermost first: AuthMiddleware runs first, so a caller without a credential never gets its body read.
    app.add_middleware(UploadErrors, path=UPLOAD_PATH)
    app.add_middleware(JsonGuard)
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, limits={UPLOAD_PATH: settings.max_upload_bytes})
    app.add_middleware(AuthMiddleware, gate=Gate(settings))
    _install_error_handlers(app)
    # Which generators are installed does not change while the server runs; looking it up costs ~ms per request.
    available = qa.available_modes()
    modes = allowed_modes(settings, available)
    model_ids = [MODEL_PREFIX] + [f"{MODEL_PREFIX}-{mode}" for mode in modes]

    def admitted(mode: str | None) -> tuple[str | None, Lane | None]:
        """The mode to pass to qa (None: the server's own) and the lane its work must run in."""
        resolved = check_mode(mode, settings, available)
        return mode, lanes.for_mode(resolved)

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict:
        # async: answered on the event loop, so it never waits for a worker thread, however busy they are.
        store = qa.retriever.store
        return {"status": "ok", "documents": len(store.documents), "chunks": len(store), "modes": modes}

    @app.post("/api/ask", tags=["api"])
    async def ask(body: AskRequest) -> JSONResponse:
        mode, lane = admitted(body.mode)
        top_k = check_top_k(body.top_k, settings)
        answer = await _run(lane, lambda: qa.ask(body.question, _history(body.history), mode=mode, top_k=top_k,
                                                        sources=body.documents))
        return JSONResponse(answer_json(answer))

    @app.post("/api/search", tags=["api"])
    def search(body: SearchRequest) -> dict:
        hits = qa.search(body.question, check_top_k(body.top_k if body.top_k is not None else body.k, settings))
        return {"question": body.question, "hits": [hit_json(h) for h in hits]}

    @app.get("/api/documents", tags=["api"])
    def documents() -> dict:
        docs = qa.retriever.store.documents
        return {"documents": [{"source": d.source, "chars": len(d.text), "sha256": d.sha256}
                              for _, d in sorted(docs.items())]}

    @app.get("/api/documents/{name:path}", tags=["api"])
    def document(name: str) -> dict:
        # Only names in the index resolve: this is a dictionary lookup, never a path on disk, so "../x",
        # absolute paths and files that are in seeds/ but not indexed all end here as 404.
        doc = qa.document(name)
        if doc is None:
            raise DocumentNotFoundError(f"no indexed document is named {name!r}: GET /api/documents lists them")
        return {"source": doc.source, "text": doc.text, "chars": len(doc.text), "sha256": doc.sha256,
                "pages": [list(p) for p in doc.pages]}

    @app.get("/v1/models", tags=["openai"])
    def models() -> dict:
        return {"object": "list", "data": [_model_card(m) for m in model_ids]}

    @app.get("/v1/models/{model}", tags=["openai"])
    def model(model: str) -> dict:
        _mode_of(model_ids, model, listed_only=True)
        return _model_card(model)

    @app.post("/v1/chat/completions", tags=["openai"])
    async def chat_completions(body: ChatRequest):
        mode, lane = admitted(_mode_of(model_ids, body.model))
        top_k = check_top_k(body.top_k, settings)
        question, history = _split_messages(body.messages)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not body.stream:
            answer = await _run(lane, lambda: qa.ask(question, history, mode=mode, top_k=top_k,
                                                        sources=body.documents))
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                             "finish_reason": "stop", "logprobs": None}],
                "citations": [citation_json(c) for c in answer.citations],
                "ragchat": _extras(answer),
            }
        make = lambda: qa.ask_stream(question, history, mode=mode, top_k=top_k, sources=body.documents)  # noqa: E731
        if lane is None:
            stream = make()
            # The first step runs before any byte is sent, so a bad question is still a 422/413, not a broken stream.
            first = await anyio.to_thread.run_sync(next, stream)
            events: Any = _sse(first, stream, completion_id, created, body.model)
        else:
            items = _stream_in_lane(lane, make)
            first = await anext(items)
            events = _sse_async(first, items, completion_id, created, body.model)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # Last: any other path under /api and /v1 is a 404 or 405 in the error shape, not the chat's HTML 404.
    @app.api_route("/api/{rest:path}", methods=_METHODS, include_in_schema=False)
    @app.api_route("/v1/{rest:path}", methods=_METHODS, include_in_schema=False)
    async def unmatched(request: Request, rest: str):
        path = request.url.path
        allowed = sorted({m for r in app.routes if isinstance(r, Route) and r.endpoint is not unmatched
                          and r.path_regex.match(path) for m in (r.methods or ())})
        if allowed:
            raise ApiError(405, f"{request.method} is not allowed on {path}: use {', '.join(allowed)}",
                           "method_not_allowed", headers={"Allow": ", ".join(allowed)})
        raise ApiError(404, f"there is no route {path}: the routes are listed in /api/openapi.json", "not_found")

    return app


async def _run(lane: Lane | None, job: Callable[[], Any]) -> Any:
    """Run blocking work: extractive on anyio's shared threads, model work in its lane (admitted first, so a full
    lane is a 503 at once)."""
    if lane is None:
        return await anyio.to_thread.run_sync(job)
    release = lane.admit()
    abandoned = threading.Event()

    def in_lane() -> Any:
        # The place is given back by the thread, when it is done, never by a request that gave up waiting:
        # otherwise callers that hang up at once would leave threads queued beyond the lane's bound.
        try:
            with lane.slot():
                return None if abandoned.is_set() else job()
        finally:
            release()

    try:
        return await _in_thread(in_lane)
    except asyncio.CancelledError:
        abandoned.set()  # the caller left: skip the work if it has not started
        raise


async def _in_thread(job: Callable[[], Any]) -> Any:
    """`job` on a thread of its own (bounded by the lane's admissions), awaited without holding a pool thread."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()

    def run() -> None:
        try:
            result = job()
        except BaseException as e:  # handed to the awaiting request, which turns it into a response
            loop.call_soon_threadsafe(_settle, done, None, e)
        else:
            loop.call_soon_threadsafe(_settle, done, result, None)

    threading.Thread(target=run, daemon=True, name="ragchat-lane").start()
    return await asyncio.shield(done)


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_END = object()


async def _stream_in_lane(lane: Lane, make: Callable[[], Iterator]) -> AsyncIterator:
    """The items of `make()`, produced in the lane on a thread of their own. If the reader goes away the producer
    stops at its next item, so a dropped stream gives its place back."""
    release = lane.admit()
    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            with lane.slot():
                for item in make():
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(items.put_nowait, item)
        except BaseException as e:
            loop.call_soon_threadsafe(items.put_nowait, e)
        finally:
            release()
            loop.call_soon_threadsafe(items.put_nowait, _END)

    threading.Thread(target=produce, daemon=True, name="ragchat-lane-stream").start()
    try:
        while (item := await items.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.message, e.code, e.headers)

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, e: RagError) -> JSONResponse:
        status, code = rag_error_status(e)
        if status >= 500 and not isinstance(e, BusyError):
            log.error("%s %s: %s", request.method, request.url.path, e)
        headers = {"Retry-After": str(e.retry_after)} if isinstance(e, BusyError) else None
        return error_response(status, str(e), code, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "bad_request")
        return error_response(e.status_code, f"{e.detail}: see /api/openapi.json for the routes and bodies", code,
                              dict(e.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(e), "invalid_request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_response(500, "internal error: the server log has the details", "internal_error")


def _validation_message(e: RequestValidationError) -> str:
    problems = []
    for err in e.errors():
        if err.get("type") == "json_invalid":
            why = err.get("ctx", {}).get("error", "parse error")
            return f"the request body is not valid JSON ({why}): send a JSON object"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems)


def _history(messages: list[Message]) -> list[dict]:
    return [{"role": m.role, "content": m.text()} for m in messages]


def _split_messages(messages: list[Message]) -> tuple[str, list[dict]]:
    """The last user message is the question; the messages before it are the conversation."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            return messages[i].text(), _history(messages[:i])
    raise QuestionError("messages has no user message: the last message with role \"user\" is the question")


def _mode_of(ids: list[str], model: str, listed_only: bool = False) -> str | None:
    """"ragchat" → None (the server's default mode, RAGCHAT_MODE); "ragchat-<mode>" → that mode. A mode this
    server does not offer is returned anyway unless `listed_only`: budget.check_mode refuses it with a 403."""
    mode = model.removeprefix(MODEL_PREFIX + "-")
    if model not in ids and (listed_only or not model.startswith(MODEL_PREFIX + "-") or mode not in MODES):
        raise ApiError(404, f"the model {model!r} does not exist: use one of {', '.join(ids)} (GET /v1/models)",
                       "model_not_found")
    return None if model == MODEL_PREFIX else mode


def _model_card(model: str) -> dict:
    return {"id": model, "object": "model", "created": 0, "owned_by": "ragchat"}


def _extras(answer: Answer) -> dict:
    """What an OpenAI client has no field for: whether the documents answered, what could not be verified."""
    return {
        "answerable": answer.answerable,
        "mode": answer.mode,
        "unverified": list(answer.unverified),
        "warnings": list(answer.warnings),
        "standalone_question": answer.standalone_question,
    }


class _Events:
    """Server-sent events of one chat completion: a role chunk, content chunks, a final chunk with the citations."""

    def __init__(self, cid: str, created: int, model: str) -> None:
        self.cid, self.created, self.model = cid, created, model

    def chunk(self, delta: dict, finish: Literal["stop"] | None = None, **extra: Any) -> str:
        body = {"id": self.cid, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def item(self, item: str | Answer) -> str | None:
        if isinstance(item, Answer):
            # `answer` is the verified text the citation numbers refer to; it equals the streamed text
            # unless verification dropped dangling markers or fell back to the extractive text.
            return self.chunk({}, "stop", citations=[citation_json(c) for c in item.citations],
                              ragchat={**_extras(item), "answer": item.answer})
        return self.chunk({"content": item}) if item else None

    @staticmethod
    def error(e: BaseException) -> str:
        if isinstance(e, RagError):
            status, code = rag_error_status(e)
            body = error_body(status, str(e), code)
        else:
            log.error("unexpected error while streaming a chat completion", exc_info=e)
            body = error_body(500, "internal error: the server log has the details", "internal_error")
        return f"data: {json.dumps(body)}\n\n"


def _sse(first: str | Answer, rest: Iterator[str | Answer], cid: str, created: int, model: str) -> Iterator[str]:
    events = _Events(cid, created, model)
    yield events.chunk({"role": "assistant", "content": ""})
    item: str | Answer | None = first
    try:
        while item is not None:
            if (text := events.item(item)) is not None:
                yield text
            if isinstance(item, Answer):
                break
            item = next(rest, None)
    except Exception as e:
        yield events.error(e)
    yield "data: [DONE]\n\n"


async def _sse_async(
    first: str | Answer, rest: AsyncIterator, cid: str, created: int, model: str
) -> AsyncIterator[str]:
    events = _Events(cid, created, model)
    yield events.chunk({"role": "assistant", "content": ""})
    item: str | Answer | None = first
    try:
        while item is not None:
            if (text := events.item(item)) is not None:
                yield text
            if isinstance(item, Answer):
                break
            item = await anext(rest, None)
    except Exception as e:
        yield events.error(e)
    finally:
        await rest.aclose()  # the producer stops and gives its lane place back, even if the reader left
    yield "data: [DONE]\n\n"
