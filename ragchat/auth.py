"""One auth story for the whole server: the JSON API, the OpenAI routes, the chat page and Gradio's own routes.

Once any credential is configured (RAGCHAT_API_KEY or RAGCHAT_UI_AUTH) every route needs one, except /healthz
and the login page itself. Accepted anywhere:
- `Authorization: Bearer <RAGCHAT_API_KEY>` (scripts, the openai client);
- `Authorization: Basic` with a RAGCHAT_UI_AUTH user (scripts, when only UI users are configured);
- the session cookie that POST /login sets, for the key itself (any user name) or a RAGCHAT_UI_AUTH user
  (browsers, and gradio_client's `auth=(user, password)`).
The check is an ASGI middleware in front of everything, so Gradio's queue, upload and file routes are covered by
the same rule as ours, whatever routes a Gradio upgrade adds: it denies by default.

Wrong credentials are rate-limited per client address (LOGIN_ATTEMPTS per LOGIN_WINDOW_S, then 429 with
Retry-After), on /login and on Bearer/Basic headers alike, so neither is a password oracle. Behind a reverse proxy
every client has the proxy's address: the limit then applies to all of them together (X-Forwarded-For is not
trusted, since any client can send it).

With no credential at all the server is open; app.main() refuses to start it on a non-loopback address unless
RAGCHAT_ALLOW_OPEN=1 (check_exposure).
"""

from __future__ import annotations

import base64
import hmac
import html
import json
import secrets
import threading
import time
from collections import OrderedDict, deque
from urllib.parse import parse_qs, urlsplit

from .errors import ConfigError
from .guard import error_body
from .settings import Settings

COOKIE = "ragchat_session"
SESSION_S = 12 * 3600
MAX_SESSIONS = 10_000  # oldest dropped beyond this: a flood of logins cannot grow memory without bound
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW_S = 60.0
MAX_TRACKED_CLIENTS = 10_000
MAX_LOGIN_BODY = 4096
LOOPBACK = ("127.", "localhost", "::1")
OPEN_PATHS = ("/healthz", "/login", "/login/", "/logout")


def is_loopback(host: str) -> bool:
    return host.startswith(LOOPBACK[0]) or host in LOOPBACK[1:] or host == "[::1]"


def check_exposure(settings: Settings) -> None:
    """Refuse to serve an open knowledge base beyond this machine unless the operator said so."""
    if settings.api_key or settings.ui_auth or settings.allow_open or is_loopback(settings.host):
        return
    raise ConfigError(
        f"refusing to listen on {settings.host} with no credential: anyone who can reach it could read every "
        "document and add files. Set RAGCHAT_API_KEY (and/or RAGCHAT_UI_AUTH=user:password), or RAGCHAT_ALLOW_OPEN=1 "
        "if an open server is what you want"
    )


class Gate:
    """The credentials of one app, its login sessions and its failure counts. No global state: one per app."""

    def __init__(self, settings: Settings) -> None:
        self.key = settings.api_key.encode() if settings.api_key else None
        self.users: dict[str, bytes] = {}
        if settings.ui_auth:
            user, _, password = settings.ui_auth.partition(":")
            self.users[user] = password.encode()
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()  # token → (user, expires)
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # client → monotonic times of failures
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.key is not None or bool(self.users)

    # --- credentials ---------------------------------------------------------------------------------

    def password_ok(self, user: str, password: str) -> str | None:
        """The user a login is for, or None. The API key is accepted as a password under any user name."""
        given = password.encode("utf-8", "surrogatepass")
        if self.key is not None and hmac.compare_digest(given, self.key):
            return user or "api-key"
        expected = self.users.get(user)
        # compare_digest against a dummy when the user is unknown, so the time taken does not say which users exist
        ok = hmac.compare_digest(given, expected if expected is not None else b"\0" * 32)
        return user if ok and expected is not None else None

    def header_verdict(self, headers: dict[bytes, bytes]) -> bool | None:
        """True: a valid credential header; False: one was sent and is wrong; None: none was sent."""
        value = headers.get(b"authorization")
        if value is None:
            return None
        scheme, _, token = value.partition(b" ")
        scheme, token = scheme.lower(), token.strip()
        if scheme == b"bearer":
            return self.key is not None and hmac.compare_digest(token, self.key)
        if scheme == b"basic":
            try:
                user, _, password = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
            except ValueError:
                return False
            return self.password_ok(user, password) is not None
        return False

    def session_user(self, headers: dict[bytes, bytes]) -> str | None:
        token = _cookie(headers.get(b"cookie", b""), COOKIE)
        if not token:
            return None
        with self._lock:
            found = self._sessions.get(token)
            if found is None:
                return None
            user, expires = found
            if expires < time.monotonic():
                del self._sessions[token]
                return None
            return user

    def new_session(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[token] = (user, time.monotonic() + SESSION_S)
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return token

    def end_session(self, headers: dict[bytes, bytes]) -> None:
        token = _cookie(headers.get(b"cookie", b""), COOKIE)
        with self._lock:
            self._sessions.pop(token or "", None)

    # --- rate limit ----------------------------------------------------------------------------------

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try a credential again; 0 when it may now."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(client)
            if not times:
                return 0
            while times and times[0] <= now - LOGIN_WINDOW_S:
                times.popleft()
            if len(times) < LOGIN_ATTEMPTS:
                return 0
            return max(1, int(times[0] + LOGIN_WINDOW_S - now + 0.999))

    def failed(self, client: str) -> None:
        with self._lock:
            times = self._failures.setdefault(client, deque(maxlen=LOGIN_ATTEMPTS))
            times.append(time.monotonic())
            self._failures.move_to_end(client)
            while len(self._failures) > MAX_TRACKED_CLIENTS:
                self._failures.popitem(last=False)


class AuthMiddleware:
    """ASGI: every request needs a credential when the Gate has any; /healthz and the login page never do."""

    def __init__(self, app, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.gate.enabled:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = dict(scope.get("headers", ()))
        client = (scope.get("client") or ("unknown", 0))[0]
        if scope["type"] == "http" and path in ("/login", "/login/"):
            await self._login(scope, receive, send, headers, client)
            return
        if scope["type"] == "http" and path == "/logout":
            self.gate.end_session(headers)
            await _send(send, 303, b"", [(b"location", b"/login"), (b"set-cookie", _clear_cookie())])
            return
        if path == "/healthz":
            await self.app(scope, receive, send)
            return
        verdict = self.gate.header_verdict(headers)
        if verdict is not None:
            # While a client is locked out even a right header is refused: otherwise guessing would go on at full
            # speed, a 200 among the 429s giving the answer away. (A session cookie is no guess: it passes.)
            wait = self.gate.retry_after(client)
            if not wait and verdict is False:
                self.gate.failed(client)
            if wait or verdict is False:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                elif wait:
                    await _too_many(send, wait)
                else:
                    await _unauthorised(scope, send, "wrong API key or password in the Authorization header")
                return
        if verdict is True or self.gate.session_user(headers) is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        elif scope["method"] == "GET" and b"text/html" in headers.get(b"accept", b"") and not _is_api(path):
            # A browser opening the chat: to the login page, and back here afterwards.
            await _send(send, 303, b"", [(b"location", b"/login?next=" + _safe_next(path).encode())])
        else:
            await _unauthorised(scope, send, "missing API key or login")

    async def _login(self, scope, receive, send, headers, client: str) -> None:
        if scope["method"] in ("GET", "HEAD"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            page = login_page(_safe_next(query.get("next", ["/"])[0]), bool(self.gate.users), error="")
            await _send(send, 200, page.encode(), [(b"content-type", b"text/html; charset=utf-8")])
            return
        if scope["method"] != "POST":
            await _send(send, 405, b"", [(b"allow", b"GET, POST")])
            return
        wait = self.gate.retry_after(client)
        if wait:  # checked before the body is read: a locked-out client cannot even have its guess compared
            await _too_many(send, wait)
            return
        body = await _read_body(receive, MAX_LOGIN_BODY)
        form = parse_qs(body.decode("utf-8", "replace")) if body is not None else {}
        user = form.get("username", [""])[0]
        password = form.get("password", [""])[0]
        target = _safe_next(form.get("next", ["/"])[0])
        browser = b"text/html" in headers.get(b"accept", b"")
        who = self.gate.password_ok(user, password) if password else None
        if who is None:
            self.gate.failed(client)
            if browser:
                page = login_page(target, bool(self.gate.users), error="Wrong user name or password.")
                await _send(send, 401, page.encode(), [(b"content-type", b"text/html; charset=utf-8")])
            else:
                await _unauthorised(scope, send, "wrong user name or password")
            return
        cookie = _session_cookie(self.gate.new_session(who))
        if browser:
            await _send(send, 303, b"", [(b"location", target.encode()), (b"set-cookie", cookie)])
        else:  # gradio_client's auth=(user, password) expects 200 and keeps the cookie
            await _send(send, 200, b'{"success": true}', [(b"content-type", b"application/json"),
                                                          (b"set-cookie", cookie)])


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/v1/")) or path in ("/api", "/v1")


def _safe_next(target: str) -> str:
    """Only a path on this server: `//evil.example` or `https://…` would make the login an open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cookie(header: bytes, name: str) -> str | None:
    for part in header.decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _session_cookie(token: str) -> bytes:
    # HttpOnly: page scripts cannot read it; SameSite=Lax: another site's form cannot post with it (CSRF).
    return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_S}".encode()


def _clear_cookie() -> bytes:
    return f"{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0".encode()


async def _read_body(receive, limit: int) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            return body


async def _send(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_json(status: int, message: str, code: str) -> bytes:
    return json.dumps(error_body(status, message, code)).encode()


async def _unauthorised(scope, send, why: str) -> None:
    message = (f"{why}: send the API key as `Authorization: Bearer <RAGCHAT_API_KEY>`, HTTP Basic with a "
               "RAGCHAT_UI_AUTH user, or sign in at /login")
    await _send(send, 401, error_json(401, message, "invalid_api_key"),
                [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")])


async def _too_many(send, wait: int) -> None:
    message = f"too many wrong credentials from this address: try again in {wait} s"
    await _send(send, 429, error_json(429, message, "too_many_attempts"),
                [(b"content-type", b"application/json"), (b"retry-after", str(wait).encode())])


def login_page(target: str, users: bool, error: str) -> str:
    label = "User name" if users else "User name (any)"
    secret = "Password" if users else "API key"
    note = f'<p class="err">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ragchat: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f6f7fb;display:flex;justify-content:center;
padding-top:12vh;margin:0}}form{{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:24px 28px;
width:320px}}h1{{font-size:1.3rem;margin:0 0 4px}}p{{color:#475569;font-size:.9rem;margin:0 0 16px}}
label{{display:block;font-size:.85rem;margin:10px 0 4px}}input{{width:100%;box-sizing:border-box;padding:8px;
border:1px solid #cbd5e1;border-radius:8px}}button{{margin-top:16px;width:100%;padding:9px;border:0;
border-radius:8px;background:#4f46e5;color:#fff;font-weight:600}}.err{{color:#991b1b}}</style></head>
<body><form method="post" action="/login"><h1>◆ ragchat</h1><p>Sign in to ask the documents.</p>{note}
<input type="hidden" name="next" value="{html.escape(target, quote=True)}">
<label for="u">{label}</label><input id="u" name="username" autocomplete="username">
<label for="p">{secret}</label><input id="p" name="password" type="password" autocomplete="current-password"
required autofocus><button type="submit">Sign in</button></form></body></html>"""
