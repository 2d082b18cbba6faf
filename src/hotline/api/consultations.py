"""HTTP routes of the commitment to consult, the obligations engine and the cadence (API.md).

Thin: parse, authenticate, call ``ConsultationService``; errors map to HTTP status in
``api/errors.py`` (``invalid`` 422, ``forbidden`` 403, ``not_found`` 404,
``illegal_transition`` / ``conflict`` 409).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from hotline.domain.compact import Official
from hotline.errors import Invalid
from hotline.service.auth import AuthService
from hotline.service.consultation import ConsultationService


class InvokeRequest(msgspec.Struct, forbid_unknown_fields=True):
    subject: str
    layer: str
    severity: str
    threatened: list[str]
    information: str = ""
    #: Default: every party of the compact (at least two, including the invoker's nation).
    parties: list[str] | None = None


class PositionRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: str


class PhaseRequest(msgspec.Struct, forbid_unknown_fields=True):
    phase: str


class StatementRequest(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    #: Amend this statement (a new version); omitted: a new statement.
    statement_id: str | None = None
    #: The version the amendment was written against (409 if no longer current).
    amends: int | None = None


class ApproveRequest(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    text_hash: str


class HeldRequest(msgspec.Struct, forbid_unknown_fields=True):
    meeting_id: str
    #: ISO 8601 (``2024-07-28T09:00:00Z``; no zone = UTC) or epoch seconds; default: now.
    at: str | float | None = None


def parse_time(value: str | float | None, field: str = "at") -> float | None:
    if value is None or isinstance(value, float | int):
        return None if value is None else float(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"{field}: {value!r} is not an ISO 8601 time (e.g. 2024-07-28T09:00:00Z) "
            "or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def consultation_routes(auth: AuthService, svc: ConsultationService) -> list[Any]:
    """The route handlers; ``bootstrap`` appends them to the node's ``extra_routes``."""

    def official(request: Request[Any, Any, Any]) -> Official:
        return auth.authenticate(_bearer(request)).official

    @post("/api/v1/consultations", status_code=201, tags=["consultation"])
    async def consultation_invoke(
        request: Request[Any, Any, Any], data: JSONBody[InvokeRequest]
    ) -> dict[str, Any]:
        """Invoke the commitment to consult: a FLASH notice on the consultation's channel, and
        per party the obligations, deadlines and state."""
        return await svc.invoke(
            official(request),
            subject=data.subject,
            layer=data.layer,
            severity=data.severity,
            threatened=data.threatened,
            information=data.information,
            parties=data.parties or (),
        )

    @get("/api/v1/consultations", tags=["consultation"])
    async def consultation_list(
        request: Request[Any, Any, Any],
        phase: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> list[dict[str, Any]]:
        """Consultations this node holds, most recent first (``phase``: a phase or ``open``)."""
        return svc.list_consultations(official(request), phase=phase, limit=limit)

    @get("/api/v1/consultations/{consultation_id:str}", tags=["consultation"])
    async def consultation_get(
        request: Request[Any, Any, Any], consultation_id: FromPath[str]
    ) -> dict[str, Any]:
        """One consultation with its timeline and per-party response-time metrics."""
        return svc.get(official(request), consultation_id)

    @post("/api/v1/consultations/{consultation_id:str}/ack", status_code=200, tags=["consultation"])
    async def consultation_ack(
        request: Request[Any, Any, Any], consultation_id: FromPath[str]
    ) -> dict[str, Any]:
        """Acknowledge for one's nation (any official, the ops centre included)."""
        return await svc.acknowledge(official(request), consultation_id)

    @post(
        "/api/v1/consultations/{consultation_id:str}/convene",
        status_code=200,
        tags=["consultation"],
    )
    async def consultation_convene(
        request: Request[Any, Any, Any], consultation_id: FromPath[str]
    ) -> dict[str, Any]:
        """One's nation joins the consultation (implies acknowledgment)."""
        return await svc.convene(official(request), consultation_id)

    @post(
        "/api/v1/consultations/{consultation_id:str}/position",
        status_code=200,
        tags=["consultation"],
    )
    async def consultation_position(
        request: Request[Any, Any, Any],
        consultation_id: FromPath[str],
        data: JSONBody[PositionRequest],
    ) -> dict[str, Any]:
        """Give one's nation's position."""
        return await svc.give_position(official(request), consultation_id, data.text)

    @post(
        "/api/v1/consultations/{consultation_id:str}/phase", status_code=200, tags=["consultation"]
    )
    async def consultation_phase(
        request: Request[Any, Any, Any],
        consultation_id: FromPath[str],
        data: JSONBody[PhaseRequest],
    ) -> dict[str, Any]:
        """Move forward: share_information -> align_messaging -> coordinate_response -> closed."""
        return await svc.change_phase(official(request), consultation_id, data.phase)

    @post(
        "/api/v1/consultations/{consultation_id:str}/statements",
        status_code=201,
        tags=["consultation"],
    )
    async def consultation_draft(
        request: Request[Any, Any, Any],
        consultation_id: FromPath[str],
        data: JSONBody[StatementRequest],
    ) -> dict[str, Any]:
        """Draft a joint statement, or amend one (new version; earlier approvals are void)."""
        return await svc.draft(
            official(request),
            consultation_id,
            data.text,
            statement_id=data.statement_id,
            amends=data.amends,
        )

    @post(
        "/api/v1/consultations/{consultation_id:str}/statements/{statement_id:str}/approve",
        status_code=200,
        tags=["consultation"],
    )
    async def consultation_approve(
        request: Request[Any, Any, Any],
        consultation_id: FromPath[str],
        statement_id: FromPath[str],
        data: JSONBody[ApproveRequest],
    ) -> dict[str, Any]:
        """Approve exactly ``version`` / ``text_hash``; signed by this nation's node."""
        return await svc.approve(
            official(request),
            consultation_id,
            statement_id,
            version=data.version,
            text_hash=data.text_hash,
        )

    @get("/api/v1/obligations", tags=["consultation"])
    async def obligations(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Per party ``defend`` / ``consult`` / ``threatened`` / ``none`` with the treaties;
        ``?threatened=JPN,KOR`` or ``?threatened=JPN&threatened=KOR``."""
        official(request)
        return svc.obligations(request.query_params.getall("threatened", []))

    @get("/api/v1/cadence", tags=["cadence"])
    async def cadence(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """The compact's meetings and exercises: last held, next due, overdue warnings."""
        official(request)
        return svc.cadence()

    @post("/api/v1/cadence/held", status_code=201, tags=["cadence"])
    async def cadence_held(
        request: Request[Any, Any, Any], data: JSONBody[HeldRequest]
    ) -> dict[str, Any]:
        """Record a meeting or exercise as held (federated to every party)."""
        return await svc.record_held(official(request), data.meeting_id, parse_time(data.at))

    return [
        consultation_invoke,
        consultation_list,
        consultation_get,
        consultation_ack,
        consultation_convene,
        consultation_position,
        consultation_phase,
        consultation_draft,
        consultation_approve,
        obligations,
        cadence,
        cadence_held,
    ]
