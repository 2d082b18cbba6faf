"""The one table from hotline error classes to HTTP status, and the error body of API.md."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from hotline import errors as e

STATUS: list[tuple[type[e.HotlineError], int]] = [
    (e.TooLarge, 413),
    (e.BadRequest, 400),
    (e.InputError, 422),
    (e.AuthError, 401),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.WorkflowError, 409),
    (e.ConfigError, 500),
    (e.StoreError, 500),
    (e.FederationError, 502),
]


def status_of(exc: e.HotlineError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def hotline_error(_: Request[Any, Any, Any], exc: e.HotlineError) -> Response[Any]:
    return Response(body(exc.code, exc.message), status_code=status_of(exc))


def _validation_code(message: str) -> str:
    if "unknown field" in message:
        return "unknown_field"
    if "missing required field" in message:
        return "missing_field"
    if message.startswith("Expected"):
        return "wrong_type"
    return "invalid_field"


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own refusals (validation, size, routing) in the API.md error shape."""
    status = exc.status_code
    if isinstance(exc, ValidationException):
        problems = exc.extra if isinstance(exc.extra, list) else []
        if problems:
            first = problems[0]
            msg = str(first.get("message", "invalid"))
            key = first.get("key")
            if key == "data" and msg.strip("'") == "data":  # no body at all
                return Response(
                    body("malformed_json", "body is empty: send a JSON object"), status_code=400
                )
            where = f"field '{key}'" if key and key != "data" else "body"
            text = "; ".join(
                f"{p.get('key')}: {p.get('message')}"
                if p.get("key") not in (None, "data")
                else str(p.get("message"))
                for p in problems
            )
            return Response(body(_validation_code(msg), f"{where}: {text}"), status_code=400)
        return Response(body("bad_request", str(exc.detail)), status_code=400)
    if status == 413:
        return Response(
            body(
                "too_large",
                f"request body over the node's limit ({request.app.request_max_body_size} bytes)",
            ),
            status_code=413,
        )
    if isinstance(exc, NotFoundException):
        return Response(
            body("not_found", f"no route {request.method} {request.url.path}"), status_code=404
        )
    if isinstance(exc, ClientException) and status == 400:
        return Response(
            body("malformed_json", f"body is not valid JSON: {exc.detail}"), status_code=400
        )
    if status == 405:
        return Response(body("method_not_allowed", str(exc.detail)), status_code=405)
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        return Response(body("internal", "internal error; the node logged it"), status_code=status)
    return Response(body("bad_request", str(exc.detail)), status_code=status)
