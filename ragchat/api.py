"""HTTP routes over one QA service: a JSON API and an OpenAI-compatible chat endpoint. RagErrors → HTTP status.

    POST /api/ask               {"question", "history"?, "mode"?, "top_k"?} → the Answer JSON (schema.answer_json)
    POST /api/search            {"question", "top_k"?} → {"question", "hits": [...]}
    GET  /api/documents         the indexed documents
    GET  /api/documents/{name}  one indexed document's text (the text citations' start/end index into)
    POST /v1/chat/completions   OpenAI-compatible, stream or not; the reply carries `citations`
    GET  /v1/models             ragchat (the server's default mode), ragchat-extractive, ragchat-local, ragchat-openai
    GET  /healthz               liveness and what is loaded; never needs a key

Every error is JSON in OpenAI's shape, {"error": {"message", "type", "code"}}, with a message meant for the
person calling. When Settings.api_key is set, /api/* and /v1/* need `Authorization: Bearer <key>`.
The app holds no global state: everything hangs off the QA and Settings passed to create_api().
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from typing import Any, Iterator, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from .errors import (
    ConfigError,
    DocumentNotFoundError,
    IndexBusyError,
    IndexMissingError,
    ModelError,
    QuestionError,
    QuestionTooLongError,
    RagError,
)
from .qa import QA
from .schema import answer_json, citation_json, hit_json
from .settings import Settings
from .types import Answer

log = logging.getLogger(__name__)

MAX_TOP_K = 50
MODEL_PREFIX = "ragchat"
PROTECTED_PREFIXES = ("/api/", "/v1/")

# Most specific first: QuestionTooLongError is a QuestionError.
_STATUS: tuple[tuple[type[RagError], int, str], ...] = (
    (QuestionTooLongError, 413, "question_too_long"),
    (QuestionError, 422, "invalid_question"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (IndexBusyError, 503, "index_busy"),
    (IndexMissingError, 503, "index_missing"),
    (ModelError, 503, "model_unavailable"),
    (ConfigError, 500, "config_error"),
    (RagError, 500, "ragchat_error"),
)


class ApiError(Exception):
    """An HTTP error raised by a route: status, machine-readable code and a message for the caller."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def error_body(status: int, message: str, code: str) -> dict:
    if status == 401:
        kind = "authentication_error"
    elif status < 500:
        kind = "invalid_request_error"
    else:
        kind = "server_error"
    return {"error": {"message": message, "type": kind, "code": code}}


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code), status_code=status, headers=headers)


def rag_error_status(error: RagError) -> tuple[int, str]:
    for kind, status, code in _STATUS:
        if isinstance(error, kind):
            return status, code
    return 500, "ragchat_error"


# --- request bodies ----------------------------------------------------------------------------------


class Message(BaseModel):
    """A chat message; content is a string or OpenAI content parts ([{"type": "text", "text": ...}])."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(p.get("text", "") for p in parts if p.get("type") == "text" and isinstance(p.get("text"), str))


class AskRequest(BaseModel):
    question: str
    history: list[Message] = Field(default_factory=list)
    mode: str | None = None
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K)


class SearchRequest(BaseModel):
    question: str
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K)
    k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="alias of top_k (the CLI's -k)")


class ChatRequest(BaseModel):
    """OpenAI's chat.completions body. Sampling fields (temperature, max_tokens, ...) are accepted and ignored:
    answers are composed from cited evidence, not sampled freely."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_PREFIX
    messages: list[Message]
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K)


# --- the app -----------------------------------------------------------------------------------------


def create_api(qa: QA, settings: Settings) -> FastAPI:
    """The JSON + OpenAI-compatible routes over `qa`. The Gradio UI is mounted beside them by app.py."""
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
    if settings.api_key:
        app.add_middleware(BearerAuth, key=settings.api_key)
    _install_error_handlers(app)
    # Which generators are installed does not change while the server runs; looking it up costs ~ms per request.
    modes = qa.available_modes()
    model_ids = [MODEL_PREFIX] + [f"{MODEL_PREFIX}-{mode}" for mode in modes]

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict:
        store = qa.retriever.store
        return {"status": "ok", "documents": len(store.documents), "chunks": len(store), "modes": modes}

    @app.post("/api/ask", tags=["api"])
    def ask(body: AskRequest) -> JSONResponse:
        answer = qa.ask(body.question, _history(body.history), mode=body.mode, top_k=body.top_k)
        return JSONResponse(answer_json(answer))

    @app.post("/api/search", tags=["api"])
    def search(body: SearchRequest) -> dict:
        hits = qa.search(body.question, body.top_k or body.k)
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
        _mode_of(model_ids, model)
        return _model_card(model)

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat_completions(body: ChatRequest):
        mode = _mode_of(model_ids, body.model)
        question, history = _split_messages(body.messages)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not body.stream:
            answer = qa.ask(question, history, mode=mode, top_k=body.top_k)
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
        stream = qa.ask_stream(question, history, mode=mode, top_k=body.top_k)
        # The first step runs before any byte is sent, so a bad question is still a 422/413, not a broken stream.
        first = next(stream)
        return StreamingResponse(
            _sse(first, stream, completion_id, created, body.model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app


class BearerAuth:
    """ASGI middleware: /api/* and /v1/* need `Authorization: Bearer <key>`. It runs before routing and body
    parsing, so an unauthenticated caller learns nothing (not even whether its JSON was valid)."""

    def __init__(self, app, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and _protected(scope["path"]) and not self._authorised(scope):
            response = error_response(
                401,
                "missing or wrong API key: send the header `Authorization: Bearer <RAGCHAT_API_KEY>`",
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)
        return False


def _protected(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIXES) or path.rstrip("/") in ("/api", "/v1")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.message, e.code, e.headers)

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, e: RagError) -> JSONResponse:
        status, code = rag_error_status(e)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, e)
        return error_response(status, str(e), code)

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


def _mode_of(ids: list[str], model: str) -> str | None:
    """"ragchat" → None (the server's default mode, RAGCHAT_MODE); "ragchat-<mode>" → that mode."""
    if model not in ids:
        raise ApiError(404, f"the model {model!r} does not exist: use one of {', '.join(ids)} (GET /v1/models)",
                       "model_not_found")
    return None if model == MODEL_PREFIX else model.removeprefix(MODEL_PREFIX + "-")


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


def _sse(first: str | Answer, rest: Iterator[str | Answer], cid: str, created: int, model: str) -> Iterator[str]:
    def chunk(delta: dict, finish: Literal["stop"] | None = None, **extra: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    item: str | Answer | None = first
    try:
        while item is not None:
            if isinstance(item, Answer):
                # `answer` is the verified text the citation numbers refer to; it equals the streamed text
                # unless verification dropped dangling markers or fell back to the extractive text.
                yield chunk({}, "stop", citations=[citation_json(c) for c in item.citations],
                            ragchat={**_extras(item), "answer": item.answer})
                break
            if item:
                yield chunk({"content": item})
            item = next(rest, None)
    except RagError as e:
        status, code = rag_error_status(e)
        yield f"data: {json.dumps(error_body(status, str(e), code))}\n\n"
    except Exception:
        log.exception("unexpected error while streaming a chat completion")
        body = error_body(500, "internal error: the server log has the details", "internal_error")
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
