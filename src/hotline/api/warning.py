"""Routes of missile-warning data sharing (API.md): reports in, tracks and alerts out.

``POST /api/v1/reports`` is for the nation's sensors service account only (``<nation>.sensors``);
``GET /api/v1/tracks`` for it and for every official cleared for the warning data.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromQuery

from hotline.domain.reports import MAX_REPORTS_PER_REQUEST, ReportIn
from hotline.errors import BadRequest, Forbidden, NotCleared
from hotline.service.auth import AuthService, Principal, ServiceSession
from hotline.service.warning import WarningService
from hotline.service.warning_views import sensor_view

#: Largest body of ``POST /api/v1/reports`` (bytes): room for the most reports in one request.
MAX_REPORTS_BODY_BYTES = 4 * 1024 * 1024

_decoder = msgspec.json.Decoder(list[ReportIn] | ReportIn)


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def decode_reports(body: bytes) -> tuple[list[ReportIn], bool]:
    """The reports of a request body and whether it was one object; BadRequest naming the
    field (``$[3].lat``) on malformed JSON or a wrong type."""
    try:
        decoded = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        code = "unknown_field" if "unknown field" in str(exc) else "invalid_field"
        if "missing required field" in str(exc):
            code = "missing_field"
        raise BadRequest(f"body: {exc}", code=code) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", code="malformed_json") from None
    if isinstance(decoded, list):
        return decoded, False
    return [decoded], True


def warning_routes(auth: AuthService, svc: WarningService) -> list[Any]:
    classification = svc.sharing.classification

    def principal(request: Request[Any, Any, Any]) -> Principal:
        return auth.authenticate_principal(_bearer(request))

    def reader(request: Request[Any, Any, Any]) -> Principal:
        """An official cleared for the warning data, or a service account that reads tracks."""
        p = principal(request)
        if isinstance(p, ServiceSession):
            if not p.account.may("tracks:read"):
                raise Forbidden(f"{p.account.handle} may not read tracks")
        elif p.official.clearance.level < classification.level:
            raise NotCleared(
                f"{p.official.handle} is cleared to {p.official.clearance.value}; warning data "
                f"is {classification.value}"
            )
        return p

    @post(
        "/api/v1/reports",
        status_code=201,
        tags=["warning"],
        request_max_body_size=MAX_REPORTS_BODY_BYTES,
    )
    async def post_reports(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Sensor reports of the caller's nation: ``{uid, sensor, time, lat, lon, hae, ce, le}``
        or a list of them (Cursor-on-Target point semantics, API.md). 201 once durable;
        422 naming the report and field if any is invalid (then nothing is stored)."""
        p = principal(request)
        if not isinstance(p, ServiceSession) or not p.account.may("reports:post"):
            who = p.official.handle if not isinstance(p, ServiceSession) else p.account.handle
            raise Forbidden(
                f"{who} may not post reports: only the nation's sensors account "
                f"({svc.nation.lower()}.sensors) may",
                code="not_a_sensor_feed",
            )
        items, single = decode_reports(await request.body())
        return await svc.submit(items, single=single)

    @get("/api/v1/tracks", tags=["warning"])
    async def tracks(
        request: Request[Any, Any, Any],
        picture: FromQuery[str | None] = None,
        ended: FromQuery[bool] = False,
    ) -> list[dict[str, Any]]:
        """Fused tracks: ``{id, phase, lat, lon, hae, velocity, sources, impact}`` (API.md);
        ``picture`` = ``coalition`` (the track authority's, default when the compact names one)
        or ``local`` (this node's own fusion); ``ended`` adds merged and dropped tracks."""
        reader(request)
        return svc.tracks(picture, live_only=not ended)

    @get("/api/v1/alerts", tags=["warning"])
    async def alerts(
        request: Request[Any, Any, Any], closed: FromQuery[bool] = False
    ) -> list[dict[str, Any]]:
        """Automatic missile warnings (open ones; ``closed=true`` adds the closed)."""
        reader(request)
        return svc.alerts(open_only=not closed)

    @get("/api/v1/sensors", tags=["warning"])
    async def sensors(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
        """The sensors the compact lists, every party's (their sites are in the compact)."""
        reader(request)
        return [sensor_view(s) for s in svc.sharing.sensors]

    @get("/api/v1/warning/status", tags=["warning"])
    async def status(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """This node's sharing rules and fusion counters."""
        reader(request)
        return svc.status() | {"max_reports_per_request": MAX_REPORTS_PER_REQUEST}

    return [post_reports, tracks, alerts, sensors, status]
