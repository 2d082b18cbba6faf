"""The officials' HTTP and WebSocket API (API.md): parse, authenticate, call the service.

Thin by design: every rule lives in ``domain``, every change goes through ``service``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, WebSocket, get, post, websocket
from litestar.exceptions import HTTPException, WebSocketDisconnect
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.params import FromPath, FromQuery, JSONBody

from hotline.api import errors as api_errors
from hotline.domain.compact import Compact, Official
from hotline.errors import AuthError, HotlineError, Invalid, NotFound
from hotline.service.auth import AuthService, Session
from hotline.service.hotline import HotlineService
from hotline.web.console import console_routes

log = logging.getLogger("hotline.api")


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    handle: str
    password: str


class SendRequest(msgspec.Struct, forbid_unknown_fields=True):
    precedence: str
    body: str
    classification: str | None = None
    rel_to: list[str] | None = None
    template: str | None = None


@dataclass
class ApiDeps:
    """What the API needs; ``bootstrap`` fills it."""

    compact: Compact
    nation: str
    auth: AuthService
    hotline: HotlineService
    max_body_bytes: int = 64 * 1024
    #: Extra route handlers contributed by other capabilities (federation status, ...).
    extra_routes: list[Any] = field(default_factory=list)
    #: The signed Merkle tree head of the node's log (``GET /api/v1/ledger/head``).
    ledger_head: Callable[[], dict[str, Any]] | None = None
    #: Returns a JSON-able health payload.
    health: Callable[[], dict[str, Any]] = lambda: {}


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def create_app(deps: ApiDeps) -> Litestar:
    auth, svc = deps.auth, deps.hotline

    def session(request: Request[Any, Any, Any]) -> Session:
        return auth.authenticate(_bearer(request))

    @post("/api/v1/login", status_code=200, tags=["auth"])
    async def login(data: JSONBody[LoginRequest]) -> dict[str, Any]:
        """Exchange a handle and password for a bearer token (expires; revocable)."""
        if auth.is_service_account(data.handle):  # ``<nation>.sensors``: no layer
            token, ss = await auth.login_service(data.handle, data.password)
            a = ss.account
            return {
                "token": token,
                "official": a.handle,
                "nation": a.nation,
                "layer": None,
                "service": a.kind,
                "expires_at": ss.expires_at,
            }
        token, s = await auth.login(data.handle, data.password)
        return {
            "token": token,
            "official": s.official.handle,
            "nation": s.official.nation,
            "layer": s.official.layer.value,
            "expires_at": s.expires_at,
        }

    @post("/api/v1/logout", status_code=204, tags=["auth"])
    async def logout(request: Request[Any, Any, Any]) -> None:
        """Revoke the token of this request."""
        await auth.revoke(session(request))

    @get("/api/v1/me", tags=["auth"])
    async def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
        o = session(request).official
        return {
            "official": o.handle,
            "nation": o.nation,
            "layer": o.layer.value,
            "name": o.name,
            "title": o.title,
            "clearance": o.clearance.value,
            "timezone": o.timezone,
        }

    @get("/api/v1/channels", tags=["hotline"])
    async def channels(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
        """Channels this official belongs to (its layer, its nation a member)."""
        return svc.channels(session(request).official)

    @post("/api/v1/channels/{channel:str}/messages", status_code=201, tags=["hotline"])
    async def send(
        request: Request[Any, Any, Any], channel: FromPath[str], data: JSONBody[SendRequest]
    ) -> dict[str, Any]:
        """Send a message; the 201 is returned only once it is durable (fsync)."""
        return await _send(svc, session(request).official, channel, data)

    @get("/api/v1/channels/{channel:str}/messages", tags=["hotline"])
    async def history(
        request: Request[Any, Any, Any],
        channel: FromPath[str],
        after: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> list[dict[str, Any]]:
        """History of the channel, oldest first."""
        if not 1 <= limit <= 1000:
            raise Invalid(f"limit {limit} is out of range 1..1000", code="bad_limit")
        return svc.history(session(request).official, channel, after, limit)

    @get("/api/v1/inbox", tags=["hotline"])
    async def inbox(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
        """Messages awaiting this nation's acknowledgment: FLASH first, then oldest first."""
        return svc.inbox(session(request).official)

    @get("/api/v1/messages/{message_id:str}", tags=["hotline"])
    async def message(request: Request[Any, Any, Any], message_id: FromPath[str]) -> dict[str, Any]:
        """A message with per-nation receipts and escalation state; marks it read."""
        return await svc.read(session(request).official, message_id)

    @post("/api/v1/messages/{message_id:str}/read", status_code=200, tags=["hotline"])
    async def read(request: Request[Any, Any, Any], message_id: FromPath[str]) -> dict[str, Any]:
        return await svc.read(session(request).official, message_id)

    @post("/api/v1/messages/{message_id:str}/ack", status_code=200, tags=["hotline"])
    async def ack(request: Request[Any, Any, Any], message_id: FromPath[str]) -> dict[str, Any]:
        """Acknowledge the message for the official's nation."""
        return await svc.acknowledge(session(request).official, message_id)

    @websocket("/api/v1/stream")
    async def stream(socket: WebSocket[Any, Any, Any]) -> None:
        """Live events, most urgent first: message, receipt, escalation, ..."""
        token = socket.query_params.get("token") or _bearer(socket)  # type: ignore[arg-type]
        await socket.accept()
        try:
            s = auth.authenticate(token)
        except HotlineError as exc:  # bad token (401) or a service account (403)
            await socket.send_json(api_errors.body(exc.code, exc.message) | {"type": "error"})
            await socket.close(code=4401 if isinstance(exc, AuthError) else 4403, reason=exc.code)
            return
        await _serve_stream(socket, svc, s)

    @get("/api/v1/ledger/head", tags=["record"])
    async def ledger_head(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """The node's signed Merkle tree head over every event it holds (RFC 9162)."""
        session(request)
        if deps.ledger_head is None:
            raise NotFound("this node keeps no ledger", code="no_ledger")
        return deps.ledger_head()

    @get("/healthz", tags=["node"])
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "nation": deps.nation, "compact": deps.compact.id, **deps.health()}

    @get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request[Any, Any, Any]) -> Response[Any]:
        return Response(request.app.openapi_schema.to_schema(), media_type="application/json")

    return Litestar(
        route_handlers=[
            login,
            logout,
            me,
            channels,
            send,
            history,
            inbox,
            message,
            read,
            ack,
            stream,
            ledger_head,
            healthz,
            openapi,
            *deps.extra_routes,
            *console_routes(),
        ],
        exception_handlers={
            HotlineError: api_errors.hotline_error,
            HTTPException: api_errors.http_error,
        },
        request_max_body_size=deps.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="hotline node",
            version="1",
            description=f"{deps.nation} node of the {deps.compact.title}",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        logging_config=None,
    )


# ---- the hot route without Litestar's per-request machinery ---------------------------------

_SEND_PREFIX = "/api/v1/channels/"
_SEND_SUFFIX = "/messages"
_RAW_SEND = "hotline.raw_send"
_send_decoder = msgspec.json.Decoder(SendRequest)
_response_encoder = msgspec.json.Encoder()
_JSON_HEADERS = [(b"content-type", b"application/json")]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def with_fast_send(app: Litestar, deps: ApiDeps) -> ASGIApp:
    """``app`` with ``POST /api/v1/channels/{channel}/messages`` served directly on its happy path.

    Profiling showed Litestar's request machinery (routing, kwargs model, signature model,
    response objects) costing about as much CPU as the send itself (``docs/performance.md``).
    Here the route parses, authenticates and calls the same ``HotlineService.send``; anything
    off the happy path (a bad token, body or size, a route mismatch) is replayed to Litestar,
    so every refusal keeps exactly Litestar's status and error body, and the route stays in
    the OpenAPI document.
    """
    auth, svc, max_body = deps.auth, deps.hotline, deps.max_body_bytes

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[_RAW_SEND] = send  # the stream's frames skip Litestar's send wrappers
            return await app(scope, receive, send)
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(_SEND_PREFIX)
            or not path.endswith(_SEND_SUFFIX)
        ):
            return await app(scope, receive, send)
        channel = path[len(_SEND_PREFIX) : -len(_SEND_SUFFIX)]
        if not channel or "/" in channel:
            return await app(scope, receive, send)
        token: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                text = value.decode("latin-1")
                if text[:7].lower() == "bearer ":
                    token = text[7:].strip()
            elif name == b"content-length" and (not value.isdigit() or int(value) > max_body):
                return await app(scope, receive, send)
        read: list[Any] = []
        size = 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                return await app(scope, _replay(read, receive), send)
            size += len(message.get("body", b""))
            if size > max_body:
                return await app(scope, _replay(read, receive), send)
            if not message.get("more_body", False):
                break
        raw = b"".join(m.get("body", b"") for m in read)
        try:
            session = auth.authenticate(token)
            data = _send_decoder.decode(raw)
        except (HotlineError, msgspec.DecodeError, msgspec.ValidationError):
            return await app(scope, _replay(read, receive), send)
        try:
            view = await _send(svc, session.official, channel, data)
            status, out = 201, _response_encoder.encode(view)
        except HotlineError as exc:
            status = api_errors.status_of(exc)
            out = _response_encoder.encode(api_errors.body(exc.code, exc.message))
        except Exception:
            log.exception("send failed")
            status = 500
            out = _response_encoder.encode(
                api_errors.body("internal", "internal error; the node logged it")
            )
        start = {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(out)).encode())],
        }
        body = {"type": "http.response.body", "body": out}
        cycle: Any = getattr(send, "__self__", None)
        real = getattr(cycle, "transport", None) if type(cycle).__name__ in _CORKABLE else None
        if real is None:
            await send(start)
            await send(body)
            return
        cork = _Cork(real)
        cycle.transport = cork
        try:
            await send(start)
            await send(body)
        finally:
            cycle.transport = real
            cork.flush()

    return asgi


#: The server's response cycles known to write a response's head and body to
#: ``self.transport`` in two calls (uvicorn's httptools and h11 HTTP/1.1 protocols): two
#: ``send`` system calls and two TCP segments per response. Any other server is sent to plainly.
_CORKABLE = frozenset({"RequestResponseCycle"})
#: The server's WebSocket protocols known to write each frame to ``self.transport`` (uvicorn's
#: websockets-sansio implementation, the one the node runs).
_CORKABLE_WS = frozenset({"WebSocketsSansIOProtocol"})


class _Cork:
    """Stands in for a response cycle's transport while one response is sent, so that its head
    and body leave in ONE write (1-5 % more messages per second: docs/performance.md).
    Anything else is the real transport's, reached after a flush; ``close`` (a ``Connection:
    close`` request) flushes first."""

    __slots__ = ("_parts", "_real")

    def __init__(self, real: Any) -> None:
        self._real = real
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._parts.append(data)

    def writelines(self, data: Any) -> None:
        self._parts.extend(data)

    def flush(self) -> None:
        if self._parts:
            data = b"".join(self._parts)
            self._parts.clear()
            self._real.write(data)

    def close(self) -> None:
        self.flush()
        self._real.close()

    def __getattr__(self, name: str) -> Any:
        # Any other use of the transport (a pause, a write-like call this class does not know)
        # sees the bytes written so far go out first: nothing overtakes them on the wire.
        self.flush()
        return getattr(self._real, name)


async def _send(
    svc: HotlineService, official: Official, channel: str, data: SendRequest
) -> dict[str, Any]:
    """One send, from the Litestar route or the fast path alike."""
    return await svc.send(
        official,
        channel,
        precedence=data.precedence,
        body=data.body,
        classification=data.classification,
        rel_to=data.rel_to,
        template=data.template,
    )


def _replay(read: list[Any], receive: Any) -> Any:
    """A ``receive`` that hands back the messages already read, then the live ones."""
    pending = list(read)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _serve_stream(socket: WebSocket[Any, Any, Any], svc: HotlineService, s: Session) -> None:
    sub = svc.bus.subscribe(s.official)
    hello = {"type": "hello", "official": s.official.handle, "nation": s.official.nation}
    try:
        await socket.send_json(hello)
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(_pump(socket, sub))
            tg.create_task(_listen(socket, sender))
    except* (WebSocketDisconnect, OSError):  # OSError: uvicorn's ClientDisconnected
        pass
    finally:
        svc.bus.unsubscribe(sub)


async def _pump(socket: WebSocket[Any, Any, Any], sub: Any) -> None:
    # The server's own ``send`` when ``with_fast_send`` serves the app: two wrappers (Litestar's
    # connection-state check and its exception middleware's) per frame were ~4 % of a busy
    # node's CPU. The connection-state check is kept here.
    raw: Callable[[Any], Awaitable[None]] | None = socket.scope.get(_RAW_SEND)  # type: ignore[assignment]
    # A batch of frames (a peer's batch applied at once: its messages and their receipts)
    # leaves in ONE write when the server's protocol writes each frame to ``self.transport``.
    proto: Any = getattr(raw, "__self__", None)
    corkable = type(proto).__name__ in _CORKABLE_WS
    while True:
        frames = await sub.next_batch()
        if not frames:  # overflowed: the client is not reading
            await socket.close(code=4008, reason="stream overflow: reconnect and catch up")
            return
        if raw is None:
            for frame in frames:
                await socket.send_data(frame.decode(), mode="text")
            continue
        if socket.connection_state == "disconnect":
            raise WebSocketDisconnect(detail="the client has gone")
        if not corkable or len(frames) == 1:
            for frame in frames:
                await raw({"type": "websocket.send", "text": frame.decode()})
            continue
        real = proto.transport
        cork = _Cork(real)
        proto.transport = cork
        try:
            for frame in frames:
                await raw({"type": "websocket.send", "text": frame.decode()})
        finally:
            proto.transport = real
            cork.flush()


async def _listen(socket: WebSocket[Any, Any, Any], sender: asyncio.Task[None]) -> None:
    """Answer pings; any other frame gets a specific error and changes nothing."""
    while True:
        try:
            raw = await socket.receive_data(mode="text")
        except WebSocketDisconnect:
            sender.cancel()
            return
        try:
            frame = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            await socket.send_json(
                api_errors.body("malformed_json", "frame is not valid JSON") | {"type": "error"}
            )
            continue
        if isinstance(frame, dict) and frame.get("type") == "ping":
            await socket.send_json({"type": "pong"})
        else:
            await socket.send_json(
                api_errors.body("unknown_frame", 'the stream accepts only {"type": "ping"} frames')
                | {"type": "error"}
            )
